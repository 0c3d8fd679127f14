/*
 * The IRC front end: irssi, WeeChat or ii chat with everyone else.  Lines
 * in (ircmsg.c splits and parses them), core commands out, through a table
 * of IRC commands; core events and completions in, IRC lines out.  A
 * channel #name is the room "name"; chatd's nicknames and room names are
 * stricter than IRC's, and what is not one of them is refused with the
 * numeric a client expects (docs/irc.md).  Like the text front end, it
 * decides nothing about rooms or names itself.  Queries (NAMES, WHO,
 * WHOIS, LIST, ISON, USERHOST, LUSERS, CHATHISTORY) read the core's rooms,
 * users and history; what only IRC has (AWAY, the IRCv3 capabilities a
 * client enabled) is kept here.
 *
 * Every line to a client leaves through put(), which adds the tags that
 * client enabled (time, msgid, batch) and, while a labeled command of it
 * runs, the labeled-response framing; a line without tags for a client
 * without a label may instead be one rendering shared by all (msg_wire).
 */
#include "proto/irc/irc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/core.h"
#include "core/valid.h"
#include "net/conn.h"
#include "proto/irc/ircmsg.h"
#include "util/arena.h"
#include "util/config.h"
#include "util/log.h"
#include "util/slab.h"

_Static_assert(CHATD_DEFAULT_IRC_LINE_MAX == IRC_LINE_MAX, "irc-line-max defaults to RFC 2812's");
_Static_assert(CHATD_DEFAULT_IRC_TAGS_MAX == IRC_TAGS_MAX, "irc-tags-max defaults to IRCv3's");
/* Room for one line of the longest irc-line-max, and its NUL. */
#define IRC_BUF (CHATD_IRC_LINE_MAX_HARD + 1)
/* The host part of every user's prefix: chatd does not show addresses. */
#define IRC_HOST "chatd"
/* Bytes of nicks in one 353 (RPL_NAMREPLY) line, at most: fewer when a
 * long server name, nick and channel leave less of the line (words_width). */
#define IRC_NAMES_WIDTH 400
/* Targets one PRIVMSG or NOTICE may name (ISUPPORT TARGMAX). */
#define IRC_TARGETS_MAX 4
/* A history line older than this shows its date, not only its time. */
#define IRC_DATE_AFTER_MS (20ull * 3600 * 1000)
/* Bytes of an AWAY message kept (ISUPPORT AWAYLEN). */
#define IRC_AWAY_MAX 200
/* Nicks one USERHOST answers for (RFC 2812 4.8). */
#define IRC_USERHOST_MAX 5
/* Lines one WHO of a mask or one LIST gives at most: a bound on the work
 * and the output of one command. */
#define IRC_LISTING_MAX 500
/* Bytes of the tags chatd puts before a line: "@label=L;batch=REF;
 * msgid=EPOCH-SEQ;time=YYYY-MM-DDThh:mm:ss.sssZ ". */
#define IRC_TAG_PREFIX_MAX 256
/* Messages one CHATHISTORY answers with at most (ISUPPORT CHATHISTORY). */
#define IRC_HISTORY_MAX CORE_PAGE_MAX
/* A tag bit of core commands: the command was a NOTICE, which is never
 * answered with an error (RFC 2812 3.3.2). */
#define IRC_TAG_NOTICE 1u

struct irc {
	struct irc_reader rd;
	char nick[CORE_NICK_MAX + 1]; /* asked for before registration */
	uint8_t nick_len;
	uint8_t user;   /* USER was given */
	uint8_t capneg; /* CAP negotiation under way: registration waits for CAP END */
	uint16_t caps;  /* the IRCv3 capabilities enabled, CAP_* bits */
	/* The last QUIT shown: a user who quits is announced in each room
	 * shared with this client, and IRC shows a quit once. */
	char quit_nick[CORE_NICK_MAX + 1];
	uint64_t quit_time;
	uint32_t told; /* the last AWAY change told to it (away-notify), once each */
	char *away;    /* the away message (AWAY), NUL-terminated, or NULL */
};

/* The IRCv3 capabilities chatd offers (CAP LS), as bits of irc.caps. */
enum {
	CAP_SERVER_TIME = 1u << 0,
	CAP_MESSAGE_TAGS = 1u << 1,
	CAP_ECHO = 1u << 2,
	CAP_MULTI_PREFIX = 1u << 3,
	CAP_USERHOST_NAMES = 1u << 4,
	CAP_NOTIFY = 1u << 5,
	CAP_BATCH = 1u << 6,
	CAP_AWAY_NOTIFY = 1u << 7,
	CAP_LABELED = 1u << 8,
	CAP_CHATHISTORY = 1u << 9,
	CAP_ALL = (1u << 10) - 1,
};

static const struct cap {
	const char *name;
	uint16_t bit;
} caps[] = {
        {"away-notify", CAP_AWAY_NOTIFY},   {"batch", CAP_BATCH},
        {"cap-notify", CAP_NOTIFY},         {"draft/chathistory", CAP_CHATHISTORY},
        {"echo-message", CAP_ECHO},         {"labeled-response", CAP_LABELED},
        {"message-tags", CAP_MESSAGE_TAGS}, {"multi-prefix", CAP_MULTI_PREFIX},
        {"server-time", CAP_SERVER_TIME},   {"userhost-in-names", CAP_USERHOST_NAMES},
};

#define NCAPS (sizeof(caps) / sizeof(caps[0]))

/* The server's name as IRC shows it (a prefix must be one word), and
 * when the server began, for 003 and the msgids of direct messages. */
static char server[64] = "chatd";
static char created[64] = "at start-up";
static uint64_t started_ms;
/* irc-line-max and irc-tags-max, as the server started with them. */
static size_t line_max = IRC_LINE_MAX;
static size_t tags_max = IRC_TAGS_MAX;

/* Set server[] from the configured name: spaces and the like become '-'. */
static void
server_from(const struct config *cfg)
{
	size_t i;

	snprintf(server, sizeof(server), "%s", cfg->server_name);
	for (i = 0; server[i]; i++)
		if (server[i] == ' ' || server[i] == ':' || server[i] == '!' || server[i] == '@')
			server[i] = '-';
	if (server[0] == '\0')
		snprintf(server, sizeof(server), "chatd");
}

/* --- writing --- */

/* Bytes of a line's content, its CR LF excluded. */
static size_t
content_max(void)
{
	return line_max - 2;
}

/* Unix ms now, for the times of what chatd says itself (AWAY). */
static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The tags a line may carry; each goes only to a client that enabled
 * what it belongs to (server-time, message-tags, batch). */
struct tags {
	uint64_t time_ms;  /* 0: none */
	const char *msgid; /* NULL: none */
	const char *batch; /* the batch the line is in, NULL: none */
};

/* A batch reference, unique while the server runs. */
static const char *
batch_ref(char *out, size_t cap)
{
	static unsigned long batches;

	snprintf(out, cap, "b%lu", ++batches);
	return out;
}

/*
 * The answer to a labeled command (IRCv3 labeled-response), while it is
 * being made: its first line is held back until it is known whether it
 * is the only one (then it carries the label) or the first of several
 * (then a labeled-response batch holds them all); a command that answers
 * nothing is answered ACK.  One command runs at a time, so one is enough.
 */
static struct {
	struct conn *c; /* the client whose labeled command runs, or NULL */
	char label[IRC_LABEL_MAX + 1];
	unsigned lines; /* lines of the answer so far */
	char ref[24];   /* the labeled-response batch, from the second line */
	char held[IRC_TAG_PREFIX_MAX + IRC_BUF];
	size_t held_tags; /* held[0, held_tags) its own tags (no '@'), then the line */
	size_t held_len;
} lab;

/* Queue "@tags[;more] line" (tags or more may be empty). */
static void
put_raw(struct conn *c, const char *more, const char *tags, size_t tn, const char *line, size_t ln)
{
	size_t mn = strlen(more), n = 0;
	uint8_t *w = conn_reserve(c, mn + tn + 3 + ln);

	if (mn || tn) {
		w[n++] = '@';
		/* Counted bytes into the queue, not a C string. */
		memcpy(w + n, more, mn); /* NOLINT(bugprone-not-null-terminated-result) */
		n += mn;
		if (mn && tn)
			w[n++] = ';';
		memcpy(w + n, tags, tn);
		n += tn;
		w[n++] = ' ';
	}
	memcpy(w + n, line, ln);
	conn_commit(c, n + ln);
}

/* A line inside c's labeled-response batch: tagged with it, unless it is
 * a line of a batch within (which names that batch alone). */
static void
put_labeled_line(struct conn *c, const char *tags, size_t tn, const char *line, size_t ln)
{
	char outer[40];
	int inner = tn >= 6 && memcmp(tags, "batch=", 6) == 0;

	snprintf(outer, sizeof(outer), "batch=%s", lab.ref);
	put_raw(c, inner ? "" : outer, tags, tn, line, ln);
}

/* One line of c's labeled answer (see lab). */
static void
put_labeled(struct conn *c, const char *tags, size_t tn, const char *line, size_t ln)
{
	if (++lab.lines == 1) {
		memcpy(lab.held, tags, tn);
		memcpy(lab.held + tn, line, ln);
		lab.held_tags = tn;
		lab.held_len = tn + ln;
		return;
	}
	if (lab.lines == 2) {
		char label[IRC_LABEL_MAX + 8], start[IRC_BUF];
		int sn;

		batch_ref(lab.ref, sizeof(lab.ref));
		snprintf(label, sizeof(label), "label=%s", lab.label);
		sn = snprintf(start, sizeof(start), ":%s BATCH +%s labeled-response\r\n", server,
		              lab.ref);
		put_raw(c, label, "", 0, start, (size_t)sn);
		put_labeled_line(c, lab.held, lab.held_tags, lab.held + lab.held_tags,
		                 lab.held_len - lab.held_tags);
	}
	put_labeled_line(c, tags, tn, line, ln);
}

/* The tags of t that c takes, "a=1;b=2" into out; returns the length. */
static size_t
tags_for(const struct conn *c, const struct tags *t, char *out, size_t cap)
{
	const struct irc *st = c->fe_state;
	size_t n = 0;
	int k;

	if (t == NULL)
		return 0;
	if (t->batch && (st->caps & CAP_BATCH) &&
	    (k = snprintf(out + n, cap - n, "batch=%s;", t->batch)) > 0)
		n += (size_t)k;
	if (t->msgid && (st->caps & CAP_MESSAGE_TAGS) &&
	    (k = snprintf(out + n, cap - n, "msgid=%s;", t->msgid)) > 0)
		n += (size_t)k;
	if (t->time_ms && (st->caps & CAP_SERVER_TIME)) {
		time_t secs = (time_t)(t->time_ms / 1000);
		struct tm tm;
		char when[32];

		if (gmtime_r(&secs, &tm) == NULL)
			memset(&tm, 0, sizeof(tm));
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		if ((k = snprintf(out + n, cap - n, "time=%s.%03uZ;", when,
		                  (unsigned)(t->time_ms % 1000))) > 0)
			n += (size_t)k;
	}
	return n ? n - 1 : 0; /* without the last ';' */
}

/*
 * Queue the lines out[0, n) (each ending in CR LF) for c, each with the
 * tags of t that c enabled, framed as its labeled answer while one is
 * being made.
 */
static void
put(struct conn *c, const struct tags *t, const char *out, size_t n)
{
	const struct irc *st = c->fe_state;
	struct tags now = {0, NULL, NULL};
	char tags[IRC_TAG_PREFIX_MAX];
	size_t tn, at = 0;

	/* What the server says itself (numerics, notices) is of now.  A
	 * connection refused before it started has no state. */
	if (t == NULL && st && (st->caps & CAP_SERVER_TIME)) {
		now.time_ms = now_ms();
		t = &now;
	}
	tn = tags_for(c, t, tags, sizeof(tags));

	if (lab.c != c && tn == 0) {
		memcpy(conn_reserve(c, n), out, n);
		conn_commit(c, n);
		return;
	}
	while (at < n) {
		const char *end = memchr(out + at, '\n', n - at);
		size_t ln = end ? (size_t)(end - (out + at)) + 1 : n - at;

		if (lab.c == c)
			put_labeled(c, tags, tn, out + at, ln);
		else
			put_raw(c, "", tags, tn, out + at, ln);
		at += ln;
	}
}

/* A rendering shared by every client of a kind (msg_wire): by reference,
 * or copied into a labeled answer. */
static void
put_shared(struct conn *c, struct slice s)
{
	if (lab.c == c)
		put(c, NULL, (const char *)s.b->data + s.off, s.len);
	else
		conn_send(c, s);
}

/* Start a labeled answer for c when it sent a label it may use (it
 * enabled labeled-response and batch), a word of 1 to 64 visible bytes. */
static void
label_begin(struct conn *c, const struct irc_msg *m)
{
	const struct irc *st = c->fe_state;
	const char *v;
	size_t vn, i;

	if ((st->caps & (CAP_LABELED | CAP_BATCH)) != (CAP_LABELED | CAP_BATCH) || !m->tags ||
	    !irc_tag_get(m->tags, m->tags_len, "label", &v, &vn) || vn == 0 || vn > IRC_LABEL_MAX)
		return;
	for (i = 0; i < vn; i++)
		if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f)
			return;
	memcpy(lab.label, v, vn);
	lab.label[vn] = '\0';
	lab.c = c;
	lab.lines = 0;
}

/* End c's labeled answer: ACK for none, the held line labeled for one,
 * the batch's end for more. */
static void
label_end(struct conn *c)
{
	char label[IRC_LABEL_MAX + 8], line[IRC_BUF];
	int n;

	if (lab.c != c)
		return;
	lab.c = NULL;
	snprintf(label, sizeof(label), "label=%s", lab.label);
	if (lab.lines == 0) {
		n = snprintf(line, sizeof(line), ":%s ACK\r\n", server);
		put_raw(c, label, "", 0, line, (size_t)n);
	} else if (lab.lines == 1) {
		put_raw(c, label, lab.held, lab.held_tags, lab.held + lab.held_tags,
		        lab.held_len - lab.held_tags);
	} else {
		n = snprintf(line, sizeof(line), ":%s BATCH -%s\r\n", server, lab.ref);
		put_raw(c, "", "", 0, line, (size_t)n);
	}
}

/* Queue one line: printf-style, cut to content_max(), then CR LF. */
static void send_line(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
send_line(struct conn *c, const char *fmt, ...)
{
	char tmp[IRC_BUF + 2];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > content_max())
		n = (int)content_max();
	/* A line end, not a string end: the bytes go out as counted. */
	memcpy(tmp + n, "\r\n", 2); /* NOLINT(bugprone-not-null-terminated-result) */
	put(c, NULL, tmp, (size_t)n + 2);
}

/* The name numerics address c by: its nick, or "*" before it has one. */
static const char *
me(const struct conn *c)
{
	return c->sess && session_registered(c->sess) ? session_nick(c->sess) : "*";
}

/* Queue ":server NNN me text". */
static void numeric(struct conn *c, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
numeric(struct conn *c, int code, const char *fmt, ...)
{
	char text[IRC_BUF];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	send_line(c, ":%s %03d %s %s", server, code, me(c), text);
}

/* A word a client sent, fit to be quoted back in a numeric: at most 64
 * bytes, controls and spaces as '?', never empty. */
static const char *
quote(char *out, size_t cap, const char *s, size_t n)
{
	size_t i;

	if (n > 64)
		n = 64;
	if (n > cap - 1)
		n = cap - 1;
	for (i = 0; i < n; i++)
		out[i] = (unsigned char)s[i] <= ' ' || s[i] == 0x7f ? '?' : s[i];
	if (n == 0)
		out[n++] = '*';
	out[n] = '\0';
	return out;
}

/* Copy text[0, n) to out as one line's worth: CR, LF and NUL, which
 * would end or cut an IRC line, become spaces. */
static void
line_safe(char *out, const char *text, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char ch = text[i];

		out[i] = ch == '\r' || ch == '\n' || ch == '\0' ? ' ' : ch;
	}
}

/*
 * Lines carrying text: head, a piece of text, tail, CR LF, as many lines
 * as the text needs to keep each within irc-line-max (pieces are cut
 * between UTF-8 sequences), through line_safe().  Writes into out[0, cap)
 * and returns the length.
 */
static size_t
text_lines(char *out, size_t cap, const char *head, size_t hn, const char *text, size_t tn,
           const char *tail)
{
	size_t tl = strlen(tail), len = 0, room, at = 0;

	if (hn + tl + 2 + 8 > line_max)
		hn = line_max - tl - 2 - 8; /* cannot happen with chatd's names */
	room = content_max() - hn - tl;
	do {
		size_t k = tn - at > room ? room : tn - at;

		/* Do not cut a UTF-8 sequence. */
		if (at + k < tn)
			while (k > 1 && ((unsigned char)text[at + k] & 0xc0) == 0x80)
				k--;
		if (len + hn + k + tl + 2 > cap)
			break;
		memcpy(out + len, head, hn);
		len += hn;
		line_safe(out + len, text + at, k);
		len += k;
		/* Counted bytes, not C strings. */
		memcpy(out + len, tail, tl); /* NOLINT(bugprone-not-null-terminated-result) */
		len += tl;
		memcpy(out + len, "\r\n", 2); /* NOLINT(bugprone-not-null-terminated-result) */
		len += 2;
		at += k;
	} while (at < tn);
	return len;
}

/* An action travels as text starting with "/me " (see text.c). */
static int
is_action(const char *text, size_t n)
{
	return n > 4 && memcmp(text, "/me ", 4) == 0;
}

/* --- rendering the core's events --- */

/* Live renderings go through the arena, history ones get blocks of their
 * own (they stay on the message: see framed.c). */
static struct arena arena;
/* A message of CORE_TEXT_MAX bytes cut into lines of at least 256 bytes of
 * text each (lines of the least irc-line-max; longer ones need fewer). */
static char render_buf[(CORE_TEXT_MAX / 256 + 2) * IRC_LINE_MAX];

static struct slice
to_slice(const char *s, size_t n, int own_block)
{
	return arena_copy(&arena, s, n, own_block);
}

/* Copy s[0, n) to p; returns the end. */
static char *
put_bytes(char *p, const char *s, size_t n)
{
	memcpy(p, s, n); /* NOLINT(bugprone-not-null-terminated-result): counted bytes */
	return p + n;
}

/* Lines carrying m's text from its sender to target (a #channel or a
 * nick), an action as a CTCP ACTION. */
static size_t
privmsg_lines(char *out, size_t cap, const struct msg *m, const char *verb, const char *target,
              size_t tn)
{
	char head[IRC_BUF], *h = head;
	int action = is_action(m->text, m->text_len);

	/* ":from!from@chatd VERB target :", put together by hand: once per
	 * message of a fan-out, where snprintf was 3 % of the time. */
	*h++ = ':';
	h = put_bytes(h, m->from, m->from_len);
	*h++ = '!';
	h = put_bytes(h, m->from, m->from_len);
	h = put_bytes(h, "@" IRC_HOST " ", sizeof(IRC_HOST) + 1);
	h = put_bytes(h, verb, strlen(verb));
	*h++ = ' ';
	h = put_bytes(h, target, tn);
	h = put_bytes(h, " :", 2);
	if (action) {
		h = put_bytes(h, "\001ACTION ", 8);
		return text_lines(out, cap, head, (size_t)(h - head), m->text + 4, m->text_len - 4,
		                  "\001");
	}
	return text_lines(out, cap, head, (size_t)(h - head), m->text, m->text_len, "");
}

/* History is told by the server, as notices to the channel that show the
 * time and say "history", so that no client takes it for new talk. */
static size_t
history_lines(char *out, size_t cap, const struct msg *m)
{
	char head[IRC_BUF], when[32];
	time_t t = (time_t)(m->time_ms / 1000);
	uint64_t now = (uint64_t)time(NULL) * 1000;
	int action = is_action(m->text, m->text_len);
	struct tm tm;
	int hn;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	strftime(when, sizeof(when),
	         now > m->time_ms + IRC_DATE_AFTER_MS ? "%Y-%m-%d %H:%M UTC" : "%H:%M UTC", &tm);
	hn = snprintf(head, sizeof(head), ":%s NOTICE #%s :[history %s] %s%s%s", server, m->room,
	              when, action ? "* " : "<", m->from, action ? " " : "> ");
	if (action)
		return text_lines(out, cap, head, (size_t)hn, m->text + 4, m->text_len - 4, "");
	return text_lines(out, cap, head, (size_t)hn, m->text, m->text_len, "");
}

static struct slice
render_message(const struct msg *m, int history)
{
	char target[CORE_ROOM_MAX + 2];
	size_t n;

	if (history) {
		n = history_lines(render_buf, sizeof(render_buf), m);
	} else {
		int tn = snprintf(target, sizeof(target), "#%s", m->room);

		n = privmsg_lines(render_buf, sizeof(render_buf), m, "PRIVMSG", target, (size_t)tn);
	}
	return to_slice(render_buf, n, history);
}

/* Why a user dropped, as the reason of its QUIT ("Ping timeout"). */
static const char *
quit_reason(char *out, size_t cap, int kind, int reason)
{
	if (kind == PRES_QUIT)
		return "Quit";
	snprintf(out, cap, "%s", core_reason_name(reason));
	if (out[0] >= 'a' && out[0] <= 'z')
		out[0] = (char)(out[0] - 'a' + 'A');
	return out;
}

/* One presence event as an IRC line into out; returns its length. */
static size_t
presence_line(char *out, size_t cap, const struct pres *p)
{
	char why[48];
	int n;

	switch (p->kind) {
	case PRES_JOIN:
		n = snprintf(out, cap, ":%s!%s@%s JOIN #%s\r\n", p->nick, p->nick, IRC_HOST,
		             p->room);
		break;
	case PRES_PART:
		n = snprintf(out, cap, ":%s!%s@%s PART #%s%s%.*s\r\n", p->nick, p->nick, IRC_HOST,
		             p->room, p->text_len ? " :" : "", (int)p->text_len, p->text);
		break;
	case PRES_NICK:
		n = snprintf(out, cap, ":%s!%s@%s NICK :%s\r\n", p->nick, p->nick, IRC_HOST,
		             p->new_nick);
		break;
	case PRES_TOPIC:
		n = snprintf(out, cap, ":%s!%s@%s TOPIC #%s :%.*s\r\n", p->nick, p->nick, IRC_HOST,
		             p->room, (int)p->text_len, p->text);
		break;
	case PRES_QUIT:
	case PRES_DROP:
		n = snprintf(out, cap, ":%s!%s@%s QUIT :%s%s%.*s\r\n", p->nick, p->nick, IRC_HOST,
		             quit_reason(why, sizeof(why), p->kind, p->reason),
		             p->text_len ? ": " : "", (int)p->text_len, p->text);
		break;
	default:
		n = 0;
		break;
	}
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* A large room's events of the last second: each listed one as its line,
 * and a notice for those not listed. */
static size_t
summary_lines(char *out, size_t cap, const struct pres *p)
{
	size_t len = 0, i;

	for (i = 0; i < p->nitems; i++)
		len += presence_line(out + len, cap - len, p->items[i]);
	if (p->omitted && cap - len > IRC_LINE_MAX) {
		int n = snprintf(out + len, cap - len,
		                 ":%s NOTICE #%s :*** and more: %u joined, %u left in the last "
		                 "second; %u members (NAMES lists them)\r\n",
		                 server, p->room, p->joins, p->leaves, p->members);

		if (n > 0 && (size_t)n < cap - len)
			len += (size_t)n;
	}
	return len;
}

/* The lines of p into render_buf; returns their length. */
static size_t
presence_lines(const struct pres *p)
{
	if (p->kind == PRES_SUMMARY)
		return summary_lines(render_buf, sizeof(render_buf), p);
	return presence_line(render_buf, sizeof(render_buf), p);
}

static struct slice
render_presence(const struct pres *p)
{
	return to_slice(render_buf, presence_lines(p), 0);
}

static void
irc_cleanup(void)
{
	arena_release(&arena);
}

/* The msgid of m (IRCv3 message-ids): "EPOCH-SEQ" for a room message,
 * which CHATHISTORY takes back as a reference; "dSTART-ID" for a direct
 * one, unique across restarts by the server's start time. */
static const char *
msgid_of(char *out, size_t cap, const struct msg *m)
{
	if (m->direct)
		snprintf(out, cap, "d%llu-%llu", (unsigned long long)started_ms,
		         (unsigned long long)m->id);
	else
		snprintf(out, cap, "%llu-%llu", (unsigned long long)m->epoch,
		         (unsigned long long)m->seq);
	return out;
}

/* Queue the lines of m rendered into out[0, n) for c alone, with m's
 * time and msgid and, inside a batch, its ref (NULL: none). */
static void
put_msg(struct conn *c, const struct msg *m, const char *batch, const char *out, size_t n)
{
	char id[48];
	struct tags t = {m->time_ms, msgid_of(id, sizeof(id), m), batch};

	put(c, &t, out, n);
}

/* Whether c takes tags on what it is sent, so that a rendering shared by
 * all cannot serve it. */
static int
wants_tags(const struct conn *c)
{
	const struct irc *st = c->fe_state;

	return lab.c == c || (st->caps & (CAP_SERVER_TIME | CAP_MESSAGE_TAGS));
}

static void
on_message(void *ctx, struct msg *m)
{
	struct conn *c = ctx;
	char target[CORE_ROOM_MAX + 2];
	size_t n;

	if (m->direct) {
		/* A direct message has one reader: rendered for it alone. */
		n = privmsg_lines(render_buf, sizeof(render_buf), m, "PRIVMSG",
		                  session_nick(c->sess), session_nick_len(c->sess));
	} else if (wants_tags(c)) {
		/* Tagged with its time and msgid: this client's own rendering. */
		int tn = snprintf(target, sizeof(target), "#%s", m->room);

		n = privmsg_lines(render_buf, sizeof(render_buf), m, "PRIVMSG", target, (size_t)tn);
	} else {
		conn_send(c, msg_wire(m, irc_frontend.slot, 0, render_message));
		return;
	}
	put_msg(c, m, NULL, render_buf, n);
}

static void away_told(struct conn *c, const struct session *s);

static void
on_presence(void *ctx, struct pres *p)
{
	struct conn *c = ctx;
	struct irc *st = c->fe_state;

	if (p->kind == PRES_QUIT || p->kind == PRES_DROP) {
		/* The same quit, heard again from another shared room. */
		if (st->quit_time == p->time_ms && strcmp(st->quit_nick, p->nick) == 0)
			return;
		snprintf(st->quit_nick, sizeof(st->quit_nick), "%s", p->nick);
		st->quit_time = p->time_ms;
	}
	if (wants_tags(c)) {
		struct tags t = {p->time_ms, NULL, NULL};

		put(c, &t, render_buf, presence_lines(p));
	} else {
		conn_send(c, pres_wire(p, irc_frontend.slot, render_presence));
	}
	/* away-notify: a joiner who is away says so after its JOIN. */
	if (p->kind == PRES_JOIN && (st->caps & CAP_AWAY_NOTIFY))
		away_told(c, core_user_find(conn_core(c), p->nick, p->nick_len));
}

/* --- completions --- */

/* The IRC command a core command came from, for FAIL replies. */
static const char *
cmd_word(int cmd)
{
	switch (cmd) {
	case CMD_HELLO:
	case CMD_NICK:
		return "NICK";
	case CMD_JOIN:
		return "JOIN";
	case CMD_PART:
		return "PART";
	case CMD_TOPIC:
		return "TOPIC";
	default:
		return "PRIVMSG";
	}
}

/* A refusal of the core as the numeric an IRC client expects. */
static void
send_error(struct conn *c, const struct core_reply *r)
{
	char arg[80], limit[96];
	const char *a = quote(arg, sizeof(arg), r->arg, r->arg_len);

	if (core_limit_text(conn_core(c), r->err, limit, sizeof(limit)) == NULL)
		snprintf(limit, sizeof(limit), "%s", core_err_name(r->err));
	switch (r->err) {
	case CORE_E_NICK_INVALID:
		numeric(c, 432,
		        "%s :Erroneous nickname (1 to %u letters, digits, _ or -, not "
		        "starting with a digit or -)",
		        a, CORE_NICK_MAX);
		break;
	case CORE_E_NICK_TAKEN:
		numeric(c, 433, "%s :Nickname is already in use", a);
		break;
	case CORE_E_ROOM_INVALID:
	case CORE_E_NO_SUCH_ROOM:
		numeric(c, 403, "#%s :No such channel", a);
		break;
	case CORE_E_NOT_IN_ROOM:
		if (r->cmd == CMD_PART || r->cmd == CMD_TOPIC)
			numeric(c, 442, "#%s :You're not on that channel", a);
		else
			numeric(c, 404, "#%s :Cannot send to channel (join it first)", a);
		break;
	case CORE_E_NO_SUCH_USER:
		numeric(c, 401, "%s :No such nick/channel", a);
		break;
	case CORE_E_TOO_MANY_ROOMS:
		numeric(c, 405, "#%s :You have joined too many channels (%s)", a, limit);
		break;
	case CORE_E_ROOM_FULL:
		numeric(c, 471, "#%s :Cannot join channel, it is full (%s)", a, limit);
		break;
	case CORE_E_ROOM_LIMIT:
		numeric(c, 403, "#%s :No such channel, and no new ones now (%s)", a, limit);
		break;
	case CORE_E_TEXT_INVALID:
		if (r->cmd == CMD_TOPIC) {
			send_line(c,
			          ":%s FAIL TOPIC INVALID_TEXT :Topic rejected: one line of UTF-8 "
			          "text, without control characters but IRC's formatting",
			          server);
			break;
		}
		send_line(c, ":%s FAIL %s INVALID_UTF8 :Message rejected: it is not UTF-8 text",
		          server, cmd_word(r->cmd));
		break;
	case CORE_E_TEXT_TOO_LONG:
		send_line(c, ":%s FAIL %s MESSAGE_TOO_LONG :Message rejected: %s", server,
		          cmd_word(r->cmd), limit);
		break;
	case CORE_E_STORE:
		send_line(c,
		          ":%s FAIL %s TEMPORARILY_UNAVAILABLE :History store unavailable, try "
		          "again later",
		          server, cmd_word(r->cmd));
		break;
	case CORE_E_CLUSTER:
		send_line(
		        c,
		        ":%s FAIL %s TEMPORARILY_UNAVAILABLE %.*s :Cluster unavailable, try again "
		        "later",
		        server, cmd_word(r->cmd), (int)r->arg_len, r->arg);
		break;
	default:
		send_line(c, ":%s FAIL %s UNKNOWN_ERROR :%s", server, cmd_word(r->cmd),
		          core_err_name(r->err));
		break;
	}
}

/* What the server supports (005 RPL_ISUPPORT), in two lines. */
static void
isupport(struct conn *c)
{
	const struct config *cfg = conn_config(c);
	char chanlimit[32] = "";

	if (cfg->max_rooms)
		snprintf(chanlimit, sizeof(chanlimit), " CHANLIMIT=#:%u", cfg->max_rooms);
	numeric(c, 5,
	        "CASEMAPPING=ascii CHANTYPES=#%s NICKLEN=%u CHANNELLEN=%u TOPICLEN=%u NETWORK=%s "
	        "TARGMAX=PRIVMSG:%u,NOTICE:%u,JOIN:,PART:,NAMES:,LIST:,WHOIS:1,ISON:,"
	        "USERHOST:%u MAXTARGETS=%u UTF8ONLY :are supported by this server",
	        chanlimit, CORE_NICK_MAX, CORE_ROOM_MAX + 1, CORE_TOPIC_MAX, server,
	        IRC_TARGETS_MAX, IRC_TARGETS_MAX, IRC_USERHOST_MAX, IRC_TARGETS_MAX);
	/* No channel operators or voice: PREFIX is empty; +n and +t are the
	 * only channel modes, always set. */
	numeric(c, 5,
	        "PREFIX= CHANMODES=,,,nt AWAYLEN=%u MODES=0 SAFELIST ELIST= "
	        "LINELEN=%zu MAXLIST= CHATHISTORY=%u MSGREFTYPES=msgid,timestamp :are "
	        "supported by this server",
	        IRC_AWAY_MAX, line_max, IRC_HISTORY_MAX);
	/* chatd's budgets, which a client (or a bot) can pace itself by: the
	 * lines a second and the burst it may send before chatd stops reading
	 * it for a while (0: no flood control), the bytes of output it may
	 * fall behind by before it is dropped as a slow consumer, the members
	 * a channel may have (0: no limit). */
	numeric(c, 5,
	        "FLOODRATE=%u FLOODBURST=%u SENDQ=%u MAXMEMBERS=%u :are supported by this "
	        "server",
	        cfg->flood_rate, cfg->flood_burst, cfg->max_queue, cfg->max_members);
}

/* The counts of users and channels (251-255, RFC 2812 5.1). */
static void
lusers(struct conn *c)
{
	const struct core *core = conn_core(c);
	size_t users = core_user_count(core), here = users - core_ghost_count(core);

	/* In a cluster, users counts everyone; the other nodes are not
	 * counted as servers (chatd's nodes are one server to a client). */
	numeric(c, 251, ":There are %zu users and 0 invisible on 1 servers", users);
	numeric(c, 252, "0 :operator(s) online");
	numeric(c, 254, "%zu :channels formed", core_room_count(core));
	numeric(c, 255, ":I have %zu clients and 0 servers", here);
}

/* Registered: the welcome burst (001-005), LUSERS and no MOTD (422). */
static void
welcome(struct conn *c)
{
	const char *nick = session_nick(c->sess);

	log_info("conn %s: registered as %s (irc)", conn_peer(c), nick);
	numeric(c, 1, ":Welcome to the %s IRC network, %s", server, nick);
	numeric(c, 2, ":Your host is %s, running version chatd-%s", server, CHATD_VERSION);
	numeric(c, 3, ":This server was created %s", created);
	numeric(c, 4, "%s chatd-%s i nt", server, CHATD_VERSION);
	isupport(c);
	lusers(c);
	numeric(c, 422, ":MOTD File is missing");
}

/*
 * A reply that lists words (nicks, channels) in as many lines of one
 * numeric as they need: "NNN me HEAD:word word ...".  words_add() queues
 * a full line as it goes, words_end() the rest; always gives one line.
 */
struct words {
	int code;
	const char *head; /* the parameters before the list, ending in ' ' */
	char line[IRC_NAMES_WIDTH];
	size_t len;
	int sent; /* lines given so far */
};

static void
words_flush(struct conn *c, struct words *w)
{
	numeric(c, w->code, "%s:%.*s", w->head, (int)w->len, w->line);
	w->len = 0;
	w->sent++;
}

/* Bytes of words that fit in one of w's lines after ":SERVER NNN me HEAD:". */
static size_t
words_width(const struct conn *c, const struct words *w)
{
	size_t used = 1 + strlen(server) + 5 + strlen(me(c)) + 1 + strlen(w->head) + 1;
	size_t room = content_max() > used ? content_max() - used : 0;

	return room < IRC_NAMES_WIDTH ? room : IRC_NAMES_WIDTH;
}

static void
words_add(struct conn *c, struct words *w, const char *s, size_t n)
{
	size_t width = words_width(c, w);

	if (n + 1 > width)
		return;
	if (w->len && w->len + n + 1 > width)
		words_flush(c, w);
	if (w->len)
		w->line[w->len++] = ' ';
	memcpy(w->line + w->len, s, n);
	w->len += n;
}

static void
words_end(struct conn *c, struct words *w)
{
	if (w->len || !w->sent)
		words_flush(c, w);
}

/* The away message of s, or NULL when it is not away (only IRC users can
 * be: chatd's other front ends have no such state). */
static const struct sink irc_sink;

static const char *
away_of(const struct session *s)
{
	const struct conn *c = s ? session_ctx(s, &irc_sink) : NULL;
	const struct irc *st = c ? c->fe_state : NULL;

	return st ? st->away : NULL;
}

/* away-notify: s's away state as an AWAY line from s to c, when s is
 * away (or, with all, also when it is back). */
static void
away_line(struct conn *c, const struct session *s, int all)
{
	const char *away = away_of(s);

	if (away)
		send_line(c, ":%s!%s@%s AWAY :%s", session_nick(s), session_nick(s), IRC_HOST,
		          away);
	else if (all)
		send_line(c, ":%s!%s@%s AWAY", session_nick(s), session_nick(s), IRC_HOST);
}

static void
away_told(struct conn *c, const struct session *s)
{
	if (s && s != c->sess)
		away_line(c, s, 0);
}

/* The members of room r as 353 lines (none for an empty room). */
static void
names_of(struct conn *c, const struct room *r)
{
	char head[CORE_ROOM_MAX + 8];
	struct words w = {.code = 353, .head = head};
	const struct irc *st = c->fe_state;
	char full[2 * CORE_NICK_MAX + 8];
	uint32_t i;

	snprintf(head, sizeof(head), "= #%s ", room_name(r));
	for (i = 0; i < room_member_count(r); i++) {
		const struct session *s = room_member(r, i);

		if (st->caps & CAP_USERHOST_NAMES) {
			int fn = snprintf(full, sizeof(full), "%s!%s@%s", session_nick(s),
			                  session_nick(s), IRC_HOST);

			words_add(c, &w, full, (size_t)fn);
		} else {
			words_add(c, &w, session_nick(s), session_nick_len(s));
		}
	}
	if (w.len)
		words_flush(c, &w);
}

/* The history of a join for a client with batch and server-time: the
 * messages as their senders' PRIVMSGs with their own times, in a
 * chathistory batch (IRCv3 batch), so that the client files them as
 * history. */
static void
history_batch(struct conn *c, const struct core_joined *j)
{
	static unsigned long batches;
	char ref[24], target[CORE_ROOM_MAX + 2];
	int tn = snprintf(target, sizeof(target), "#%s", room_name(j->room));
	unsigned i;

	snprintf(ref, sizeof(ref), "h%lu", ++batches);
	send_line(c, ":%s BATCH +%s chathistory %s", server, ref, target);
	for (i = 0; i < j->hist_count; i++) {
		const struct msg *m = core_joined_msg(j, i);
		size_t n = privmsg_lines(render_buf, sizeof(render_buf), m, "PRIVMSG", target,
		                         (size_t)tn);

		put_msg(c, m, ref, render_buf, n);
	}
	send_line(c, ":%s BATCH -%s", server, ref);
}

/* With echo-message, the sender's own message back as its members see
 * it (a NOTICE as a NOTICE). */
static void
echo(struct conn *c, const struct core_reply *r)
{
	char target[CORE_ROOM_MAX + 2];
	const char *verb = r->tag & IRC_TAG_NOTICE ? "NOTICE" : "PRIVMSG";
	int tn;
	size_t n;

	if (r->cmd == CMD_SAY)
		tn = snprintf(target, sizeof(target), "#%s", r->msg->room);
	else
		tn = snprintf(target, sizeof(target), "%.*s", (int)r->arg_len, r->arg);
	n = privmsg_lines(render_buf, sizeof(render_buf), r->msg, verb, target, (size_t)tn);
	put_msg(c, r->msg, NULL, render_buf, n);
}

/* The topic of r as 332 and 333, or 331 when it has none (with none_too;
 * a join says nothing of a room without one). */
static void
topic_of(struct conn *c, const struct room *r, int none_too)
{
	const char *setter;
	uint64_t ms;
	size_t n;
	const char *topic = room_topic(r, &n, &setter, &ms);

	if (n == 0) {
		if (none_too)
			numeric(c, 331, "#%s :No topic is set", room_name(r));
		return;
	}
	numeric(c, 332, "#%s :%.*s", room_name(r), (int)n, topic);
	numeric(c, 333, "#%s %s!%s@%s %llu", room_name(r), setter, setter, IRC_HOST,
	        (unsigned long long)(ms / 1000));
}

/* A join: the client's own JOIN, the names (353, 366), then the room's
 * history as notices between two marker notices. */
static void
joined(struct conn *c, const struct core_joined *j)
{
	const struct irc *st = c->fe_state;
	const char *room = room_name(j->room), *nick = session_nick(c->sess);
	unsigned i;

	send_line(c, ":%s!%s@%s JOIN #%s", nick, nick, IRC_HOST, room);
	topic_of(c, j->room, 0);
	names_of(c, j->room);
	numeric(c, 366, "#%s :End of /NAMES list", room);
	if (j->hist_count == 0)
		return;
	if ((st->caps & (CAP_BATCH | CAP_SERVER_TIME)) == (CAP_BATCH | CAP_SERVER_TIME)) {
		history_batch(c, j);
		return;
	}
	send_line(c, ":%s NOTICE #%s :*** history: the last %u message%s of #%s, times in UTC",
	          server, room, j->hist_count, j->hist_count == 1 ? "" : "s", room);
	for (i = 0; i < j->hist_count; i++)
		put_shared(c,
		           msg_wire(core_joined_msg(j, i), irc_frontend.slot, 1, render_message));
	send_line(c, ":%s NOTICE #%s :*** end of history, live from here", server, room);
}

static void
on_done(void *ctx, const struct core_reply *r)
{
	struct conn *c = ctx;
	struct irc *st = c->fe_state;

	if (r->err == CORE_E_ALREADY_IN_ROOM)
		return; /* IRC ignores a JOIN of a channel one is on */
	if (r->err) {
		if (r->cmd == CMD_HELLO)
			st->nick_len = 0; /* registration waits for another NICK */
		if (!(r->tag & IRC_TAG_NOTICE))
			send_error(c, r);
		return;
	}
	switch (r->cmd) {
	case CMD_HELLO:
		welcome(c);
		break;
	case CMD_JOIN:
		joined(c, &r->joined);
		break;
	case CMD_SAY:
	case CMD_DIRECT:
		if ((st->caps & CAP_ECHO) && r->msg)
			echo(c, r);
		break;
	default:
		break; /* parts and nick changes come as presence; messages need no answer */
	}
}

static const struct sink irc_sink = {on_message, on_presence, on_done, conn_busy};

/* --- the commands --- */

/* Parameter i of m, or "" with n 0. */
static const char *
param(const struct irc_msg *m, unsigned i, size_t *n)
{
	if (i >= m->nparams) {
		*n = 0;
		return "";
	}
	*n = m->params[i].n;
	return m->params[i].p;
}

static void
need_more(struct conn *c, const struct irc_msg *m)
{
	char word[80];

	numeric(c, 461, "%s :Not enough parameters", quote(word, sizeof(word), m->cmd, m->cmd_len));
}

/* Registration completes once NICK and USER are in and CAP is done. */
static void
try_register(struct conn *c)
{
	struct irc *st = c->fe_state;

	if (st->nick_len && st->user && !st->capneg && !session_registered(c->sess))
		core_hello(conn_core(c), c->sess, st->nick, st->nick_len, 0);
}

/* The names of the capabilities in bits, space-separated, into out. */
static const char *
cap_names(char *out, size_t cap, unsigned bits)
{
	size_t len = 0, i;

	out[0] = '\0';
	for (i = 0; i < NCAPS; i++) {
		int n;

		if (!(bits & caps[i].bit))
			continue;
		n = snprintf(out + len, cap - len, "%s%s", len ? " " : "", caps[i].name);
		if (n < 0 || (size_t)n >= cap - len)
			break;
		len += (size_t)n;
	}
	return out;
}

/* CAP REQ of the list req[0, n) ("a -b c"): applied whole when every
 * name is offered (0), else not at all (-1). */
static int
cap_request(struct irc *st, const char *req, size_t n)
{
	unsigned on = 0, off = 0;
	size_t i = 0;

	while (i < n) {
		size_t b, k;
		int minus;

		while (i < n && req[i] == ' ')
			i++;
		if (i == n)
			break;
		minus = req[i] == '-';
		b = i + (size_t)minus;
		for (i = b; i < n && req[i] != ' ';)
			i++;
		for (k = 0; k < NCAPS; k++)
			if (strlen(caps[k].name) == i - b &&
			    memcmp(caps[k].name, req + b, i - b) == 0)
				break;
		if (k == NCAPS)
			return -1;
		if (minus)
			off |= caps[k].bit;
		else
			on |= caps[k].bit;
	}
	if (on == 0 && off == 0)
		return -1;
	st->caps = (uint16_t)((st->caps | on) & ~off);
	return 0;
}

static void
cmd_cap(struct conn *c, const struct irc_msg *m)
{
	struct irc *st = c->fe_state;
	char word[80], list[IRC_BUF];
	size_t n;
	const char *sub = param(m, 0, &n);

	if (n == 0) {
		need_more(c, m);
		return;
	}
	if (n == 2 && strncasecmp(sub, "LS", 2) == 0) {
		if (!session_registered(c->sess))
			st->capneg = 1;
		send_line(c, ":%s CAP %s LS :%s", server, me(c),
		          cap_names(list, sizeof(list), CAP_ALL));
	} else if (n == 4 && strncasecmp(sub, "LIST", 4) == 0) {
		send_line(c, ":%s CAP %s LIST :%s", server, me(c),
		          cap_names(list, sizeof(list), st->caps));
	} else if (n == 3 && strncasecmp(sub, "REQ", 3) == 0) {
		size_t rn;
		const char *req = param(m, 1, &rn);

		if (!session_registered(c->sess))
			st->capneg = 1;
		/* All or nothing (IRCv3 capability negotiation). */
		if (cap_request(st, req, rn) == 0)
			send_line(c, ":%s CAP %s ACK :%.*s", server, me(c), (int)rn, req);
		else
			send_line(c, ":%s CAP %s NAK :%.*s", server, me(c), (int)rn, req);
	} else if (n == 3 && strncasecmp(sub, "END", 3) == 0) {
		st->capneg = 0;
		try_register(c);
	} else {
		numeric(c, 410, "%s :Invalid CAP command", quote(word, sizeof(word), sub, n));
	}
}

static void
cmd_nick(struct conn *c, const struct irc_msg *m)
{
	struct irc *st = c->fe_state;
	char word[80];
	size_t n;
	const char *nick = param(m, 0, &n);

	if (n == 0) {
		numeric(c, 431, ":No nickname given");
		return;
	}
	if (session_registered(c->sess)) {
		core_nick(conn_core(c), c->sess, nick, n, 0);
		return;
	}
	if (!valid_nick(nick, n)) {
		numeric(c, 432,
		        "%s :Erroneous nickname (1 to %u letters, digits, _ or -, not "
		        "starting with a digit or -)",
		        quote(word, sizeof(word), nick, n), CORE_NICK_MAX);
		return;
	}
	memcpy(st->nick, nick, n);
	st->nick[n] = '\0';
	st->nick_len = (uint8_t)n;
	try_register(c);
}

static void
cmd_user(struct conn *c, const struct irc_msg *m)
{
	struct irc *st = c->fe_state;

	if (session_registered(c->sess)) {
		numeric(c, 462, ":You may not reregister");
		return;
	}
	if (m->nparams < 4) {
		need_more(c, m);
		return;
	}
	st->user = 1; /* the user and real names are not kept */
	try_register(c);
}

static void
cmd_pass(struct conn *c, const struct irc_msg *m)
{
	/* Accepted and ignored until chatd has accounts. */
	if (session_registered(c->sess))
		numeric(c, 462, ":You may not reregister");
	else if (m->nparams < 1)
		need_more(c, m);
}

static void
cmd_ping(struct conn *c, const struct irc_msg *m)
{
	size_t n;
	const char *token = param(m, 0, &n);

	if (m->nparams == 0) {
		numeric(c, 409, ":No origin specified");
		return;
	}
	send_line(c, ":%s PONG %s :%.*s", server, server, (int)n, token);
}

static void
cmd_pong(struct conn *c, const struct irc_msg *m)
{
	/* Any input proves the client alive; the connection layer saw it. */
	(void)c;
	(void)m;
}

/* "#name" as the room name, or NULL (with 403 sent) when it is not one
 * of chatd's channels. */
static const char *
channel_room(struct conn *c, const char *s, size_t n, size_t *rn)
{
	char word[80];

	if (n < 2 || s[0] != '#' || !valid_room(s + 1, n - 1)) {
		numeric(c, 403,
		        "%s :No such channel (chatd's channels are # and 1 to %u letters, "
		        "digits, _, - or .)",
		        quote(word, sizeof(word), s, n), CORE_ROOM_MAX);
		return NULL;
	}
	*rn = n - 1;
	return s + 1;
}

static void
cmd_join(struct conn *c, const struct irc_msg *m)
{
	size_t n, in, rn;
	const char *list = param(m, 0, &n), *item, *room;

	if (n == 0) {
		need_more(c, m);
		return;
	}
	if (n == 1 && list[0] == '0') {
		/* JOIN 0: leave every channel, the newest first, so that the
		 * rooms before the one left keep their places. */
		unsigned i = session_room_count(c->sess);

		while (i-- > 0) {
			struct room *r = session_room(c->sess, i);

			core_part(conn_core(c), c->sess, room_name(r), room_name_len(r), "", 0, 0);
		}
		return;
	}
	while (irc_list_next(&list, &n, &item, &in))
		if ((room = channel_room(c, item, in, &rn)) != NULL)
			core_join(conn_core(c), c->sess, room, rn, 0, 0, 0);
}

static void
cmd_part(struct conn *c, const struct irc_msg *m)
{
	size_t n, in, rn, why;
	const char *list = param(m, 0, &n), *item, *room, *reason;

	if (n == 0) {
		need_more(c, m);
		return;
	}
	/* The reason goes to every member, on every front end. */
	reason = param(m, 1, &why);
	while (irc_list_next(&list, &n, &item, &in))
		if ((room = channel_room(c, item, in, &rn)) != NULL)
			core_part(conn_core(c), c->sess, room, rn, reason, why, 0);
}

/* PRIVMSG and NOTICE: to channels (#room) and nicks (direct messages). */
static void
send_text(struct conn *c, const struct irc_msg *m, uint64_t tag)
{
	char action[IRC_BUF];
	size_t n, tn, in, rn;
	const char *list = param(m, 0, &n), *text = param(m, 1, &tn), *item, *room;
	unsigned targets = 0;

	if (m->nparams == 0) {
		if (!tag)
			numeric(c, 411, ":No recipient given (PRIVMSG)");
		return;
	}
	if (tn == 0) {
		if (!tag)
			numeric(c, 412, ":No text to send");
		return;
	}
	/* A CTCP ACTION is chatd's "/me ". */
	if (tn > 8 && memcmp(text, "\001ACTION ", 8) == 0) {
		size_t an = tn - 8;

		if (text[tn - 1] == '\001')
			an--;
		memcpy(action, "/me ", 4); /* NOLINT(bugprone-not-null-terminated-result) */
		memcpy(action + 4, text + 8, an);
		text = action;
		tn = an + 4;
	}
	while (irc_list_next(&list, &n, &item, &in)) {
		if (++targets > IRC_TARGETS_MAX) {
			if (!tag)
				numeric(c, 407, "%.*s :Too many recipients (at most %u)", (int)in,
				        item, IRC_TARGETS_MAX);
			return;
		}
		if (in > 0 && item[0] == '#') {
			if ((room = channel_room(c, item, in, &rn)) != NULL)
				core_say(conn_core(c), c->sess, room, rn, text, tn, tag);
		} else {
			const struct session *to = core_user_find(conn_core(c), item, in);
			const char *away = to ? away_of(to) : NULL;

			if (away && !tag)
				numeric(c, 301, "%s :%s", session_nick(to), away);
			core_direct(conn_core(c), c->sess, item, in, text, tn, tag);
		}
	}
}

static void
cmd_privmsg(struct conn *c, const struct irc_msg *m)
{
	send_text(c, m, 0);
}

static void
cmd_notice(struct conn *c, const struct irc_msg *m)
{
	send_text(c, m, IRC_TAG_NOTICE);
}

/* --- queries --- */

/* Whether s[0, n) matches the mask p[0, pn): '*' any run, '?' any one
 * byte, letters in any case (RFC 2812 2.5). */
static int
mask_match(const char *p, size_t pn, const char *s, size_t n)
{
	size_t pi = 0, si = 0, star = (size_t)-1, back = 0;

	while (si < n) {
		if (pi < pn && p[pi] == '*') {
			star = pi++;
			back = si;
		} else if (pi < pn && (p[pi] == '?' || strncasecmp(p + pi, s + si, 1) == 0)) {
			pi++;
			si++;
		} else if (star != (size_t)-1) {
			pi = star + 1;
			si = ++back;
		} else {
			return 0;
		}
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

/* The room a "#name" names, if it has members; else NULL. */
static struct room *
channel_find(struct conn *c, const char *s, size_t n)
{
	if (n < 2 || s[0] != '#' || !valid_room(s + 1, n - 1))
		return NULL;
	return core_room_find(conn_core(c), s + 1, n - 1);
}

static void
cmd_names(struct conn *c, const struct irc_msg *m)
{
	char word[80];
	size_t n, in;
	const char *list = param(m, 0, &n), *item;
	unsigned i;

	if (n == 0) {
		/* The channels the client is on (modern.ircdocs.horse NAMES). */
		for (i = 0; i < session_room_count(c->sess); i++)
			names_of(c, session_room(c->sess, i));
		numeric(c, 366, "* :End of /NAMES list");
		return;
	}
	while (irc_list_next(&list, &n, &item, &in)) {
		const struct room *r = channel_find(c, item, in);

		if (r)
			names_of(c, r);
		numeric(c, 366, "%s :End of /NAMES list", quote(word, sizeof(word), item, in));
	}
}

/* One 352 (RPL_WHOREPLY) line for s, seen in channel chan ("*": none). */
static void
who_line(struct conn *c, const char *chan, const struct session *s)
{
	const char *nick = session_nick(s);

	numeric(c, 352, "%s %s %s %s %s %c :0 %s", chan, nick, IRC_HOST, server, nick,
	        away_of(s) ? 'G' : 'H', nick);
}

/*
 * WHO of a nick mask: a 352 for each user it matches, at most
 * IRC_LISTING_MAX, in name order.  The users are read a page at a time
 * from the mask's literal start ("fr" of "fr*"), and no further than the
 * names that start with it, so a mask costs what it can match.
 */
static void
who_mask(struct conn *c, const char *mask, size_t n)
{
	char start[CORE_NICK_MAX + 1], key[CORE_NICK_MAX + 1];
	struct session *page[64];
	const struct session *s;
	size_t lit = 0, got, i;
	unsigned given = 0;

	while (lit < n && mask[lit] != '*' && mask[lit] != '?')
		lit++;
	if (lit > CORE_NICK_MAX)
		return; /* longer than any nick */
	valid_fold(start, mask, lit);
	memcpy(key, start, lit + 1);
	/* The name that is the literal start itself, which a page skips. */
	if (lit && (s = core_user_find(conn_core(c), mask, lit)) != NULL &&
	    mask_match(mask, n, session_nick(s), session_nick_len(s))) {
		who_line(c, "*", s);
		given++;
	}
	do {
		got = core_users_after(conn_core(c), key[0] ? key : NULL, page, 64);
		for (i = 0; i < got && given < IRC_LISTING_MAX; i++) {
			s = page[i];
			if (strncmp(session_key(s), start, lit) != 0)
				return; /* past the names the mask can match */
			if (mask_match(mask, n, session_nick(s), session_nick_len(s))) {
				who_line(c, "*", s);
				given++;
			}
		}
		if (got)
			snprintf(key, sizeof(key), "%s", session_key(page[got - 1]));
	} while (got == 64 && given < IRC_LISTING_MAX);
}

static void
cmd_who(struct conn *c, const struct irc_msg *m)
{
	char word[80];
	size_t n;
	const char *mask = param(m, 0, &n);
	const struct room *r;

	quote(word, sizeof(word), mask, n);
	if (n > 0 && mask[0] == '#') {
		if ((r = channel_find(c, mask, n)) != NULL) {
			uint32_t i;

			for (i = 0; i < room_member_count(r); i++)
				who_line(c, word, room_member(r, i));
		}
	} else if (n == 0 || (n == 1 && mask[0] == '0')) {
		who_mask(c, "*", 1);
	} else {
		who_mask(c, mask, n);
	}
	numeric(c, 315, "%s :End of WHO list", word);
}

static void
cmd_whois(struct conn *c, const struct irc_msg *m)
{
	char word[80];
	size_t n;
	/* WHOIS [server] nick: the nick is the last parameter. */
	const char *nick = param(m, m->nparams > 1 ? 1 : 0, &n);
	const struct session *s;
	const char *away;

	if (n == 0) {
		numeric(c, 431, ":No nickname given");
		return;
	}
	if ((s = core_user_find(conn_core(c), nick, n)) == NULL) {
		quote(word, sizeof(word), nick, n);
		numeric(c, 401, "%s :No such nick/channel", word);
		numeric(c, 318, "%s :End of /WHOIS list", word);
		return;
	}
	nick = session_nick(s);
	numeric(c, 311, "%s %s %s * :%s", nick, nick, IRC_HOST, nick);
	if (session_room_count(s)) {
		char head[CORE_NICK_MAX + 2];
		struct words w = {.code = 319, .head = head};
		unsigned i;

		snprintf(head, sizeof(head), "%s ", nick);
		for (i = 0; i < session_room_count(s); i++) {
			const struct room *r = session_room(s, i);
			char chan[CORE_ROOM_MAX + 2];
			int cn = snprintf(chan, sizeof(chan), "#%s", room_name(r));

			words_add(c, &w, chan, (size_t)cn);
		}
		words_end(c, &w);
	}
	numeric(c, 312, "%s %s :chatd", nick, server);
	if ((away = away_of(s)) != NULL)
		numeric(c, 301, "%s :%s", nick, away);
	numeric(c, 318, "%s :End of /WHOIS list", nick);
}

/* One 322 (RPL_LIST) line: a channel, its member count, no topic. */
static void
list_line(struct conn *c, const struct room *r)
{
	size_t n;
	const char *topic = room_topic(r, &n, NULL, NULL);

	numeric(c, 322, "#%s %u :%.*s", room_name(r), room_member_count(r), (int)n, topic);
}

static void
cmd_list(struct conn *c, const struct irc_msg *m)
{
	size_t n, in;
	const char *list = param(m, 0, &n), *item;

	numeric(c, 321, "Channel :Users  Name");
	if (n > 0) {
		while (irc_list_next(&list, &n, &item, &in)) {
			const struct room *r = channel_find(c, item, in);

			if (r)
				list_line(c, r);
		}
	} else {
		struct room *page[64];
		char key[CORE_ROOM_MAX + 1] = "";
		unsigned given = 0;
		size_t got, i;

		do {
			got = core_rooms_after(conn_core(c), key[0] ? key : NULL, page, 64);
			for (i = 0; i < got && given < IRC_LISTING_MAX; i++, given++)
				list_line(c, page[i]);
			if (got)
				snprintf(key, sizeof(key), "%s", room_key(page[got - 1]));
		} while (got == 64 && given < IRC_LISTING_MAX);
	}
	numeric(c, 323, ":End of /LIST");
}

/* MODE on a channel: +nt is all there is, always set, and nobody is an
 * operator, so a change is 482 and an unknown letter 472. */
static void
channel_mode(struct conn *c, const struct irc_msg *m, const char *chan, size_t cn)
{
	char word[80];
	size_t n, i;
	const char *modes = param(m, 1, &n);
	const struct room *r = channel_find(c, chan, cn);
	int plus = 1, refused = 0;

	quote(word, sizeof(word), chan, cn);
	if (r == NULL) {
		numeric(c, 403, "%s :No such channel", word);
		return;
	}
	if (n == 0) {
		numeric(c, 324, "%s +nt", word);
		return;
	}
	for (i = 0; i < n; i++) {
		char ch = modes[i];

		if (ch == '+' || ch == '-') {
			plus = ch == '+';
		} else if (ch == 'b' && m->nparams < 3) {
			numeric(c, 368, "%s :End of channel ban list", word);
		} else if (ch == 'e' && m->nparams < 3) {
			numeric(c, 349, "%s :End of channel exception list", word);
		} else if (ch == 'I' && m->nparams < 3) {
			numeric(c, 347, "%s :End of channel invite list", word);
		} else if ((ch == 'n' || ch == 't') && plus) {
			continue; /* already set */
		} else if (ch != '\0' && strchr("beIntovklimsp", ch) != NULL) {
			if (!refused++)
				numeric(c, 482, "%s :You're not channel operator (chatd has none)",
				        word);
		} else {
			numeric(c, 472, "%c :is unknown mode char to me",
			        (unsigned char)ch > ' ' ? ch : '?');
		}
	}
}

static void
cmd_mode(struct conn *c, const struct irc_msg *m)
{
	char word[80];
	size_t n, mn, i;
	const char *target = param(m, 0, &n), *modes = param(m, 1, &mn);
	const struct session *who;

	if (n == 0) {
		need_more(c, m);
		return;
	}
	if (target[0] == '#') {
		channel_mode(c, m, target, n);
		return;
	}
	quote(word, sizeof(word), target, n);
	who = core_user_find(conn_core(c), target, n);
	if (who == NULL) {
		numeric(c, 401, "%s :No such nick/channel", word);
		return;
	}
	if (who != c->sess) {
		numeric(c, 502, ":Can't change mode for other users");
		return;
	}
	if (mn == 0) {
		numeric(c, 221, "+");
		return;
	}
	/* +i and -i are accepted and change nothing: chatd lists everyone. */
	for (i = 0; i < mn; i++)
		if (strchr("+-i", modes[i]) == NULL || modes[i] == '\0') {
			numeric(c, 501, ":Unknown MODE flag");
			return;
		}
}

/* A change of c's away state told to the clients with away-notify that
 * share a channel with it, each once. */
static void
away_notify(struct conn *c)
{
	static uint32_t changes;
	unsigned i, j;

	if (++changes == 0)
		changes = 1;
	for (i = 0; i < session_room_count(c->sess); i++) {
		const struct room *r = session_room(c->sess, i);

		for (j = 0; j < room_member_count(r); j++) {
			struct conn *o = session_ctx(room_member(r, j), &irc_sink);
			struct irc *ost = o ? o->fe_state : NULL;

			if (ost && o != c && (ost->caps & CAP_AWAY_NOTIFY) &&
			    ost->told != changes) {
				ost->told = changes;
				away_line(o, c->sess, 1);
			}
		}
	}
}

static void
cmd_away(struct conn *c, const struct irc_msg *m)
{
	struct irc *st = c->fe_state;
	size_t n;
	const char *text = param(m, 0, &n);

	if (n > IRC_AWAY_MAX) {
		/* Cut between characters, never inside one. */
		n = IRC_AWAY_MAX;
		while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
			n--;
	}
	if (!valid_utf8(text, n)) {
		send_line(c,
		          ":%s FAIL AWAY INVALID_UTF8 :Away message rejected: it is not UTF-8 text",
		          server);
		return;
	}
	if (n && st->away && strlen(st->away) == n && memcmp(st->away, text, n) == 0) {
		numeric(c, 306, ":You have been marked as being away");
		return; /* the same words again: nobody needs telling */
	}
	free(st->away);
	st->away = NULL;
	if (n == 0) {
		numeric(c, 305, ":You are no longer marked as being away");
	} else {
		st->away = strndup(text, n);
		numeric(c, 306, ":You have been marked as being away");
	}
	away_notify(c);
}

/* The nicks in every parameter of m, split at spaces, in turn. */
static int
nick_next(const struct irc_msg *m, unsigned *pi, size_t *at, const char **nick, size_t *nn)
{
	for (; *pi < m->nparams; (*pi)++, *at = 0) {
		const char *p = m->params[*pi].p;
		size_t n = m->params[*pi].n, i = *at;

		while (i < n && p[i] == ' ')
			i++;
		if (i == n)
			continue;
		*nick = p + i;
		while (i < n && p[i] != ' ')
			i++;
		*nn = (size_t)(p + i - *nick);
		*at = i;
		return 1;
	}
	return 0;
}

static void
cmd_ison(struct conn *c, const struct irc_msg *m)
{
	struct words w = {.code = 303, .head = ""};
	const char *nick;
	size_t at = 0, nn;
	unsigned pi = 0;

	if (m->nparams == 0) {
		need_more(c, m);
		return;
	}
	while (nick_next(m, &pi, &at, &nick, &nn)) {
		const struct session *s = core_user_find(conn_core(c), nick, nn);

		if (s)
			words_add(c, &w, session_nick(s), session_nick_len(s));
	}
	words_end(c, &w);
}

static void
cmd_userhost(struct conn *c, const struct irc_msg *m)
{
	struct words w = {.code = 302, .head = ""};
	const char *nick;
	size_t at = 0, nn;
	unsigned pi = 0, asked = 0;

	if (m->nparams == 0) {
		need_more(c, m);
		return;
	}
	while (asked++ < IRC_USERHOST_MAX && nick_next(m, &pi, &at, &nick, &nn)) {
		const struct session *s = core_user_find(conn_core(c), nick, nn);
		char reply[2 * CORE_NICK_MAX + 16];
		int rn;

		if (s == NULL)
			continue;
		rn = snprintf(reply, sizeof(reply), "%s=%c%s@%s", session_nick(s),
		              away_of(s) ? '-' : '+', session_nick(s), IRC_HOST);
		words_add(c, &w, reply, (size_t)rn);
	}
	words_end(c, &w);
}

/*
 * TOPIC #chan: the topic (332, 333) or 331; TOPIC #chan :text sets it
 * (empty: clears it), for any member: chatd's rooms have no operators.
 * Every member hears the TOPIC, the setter included; a topic past
 * TOPICLEN is cut between characters, as IRC servers do.
 */
static void
cmd_topic(struct conn *c, const struct irc_msg *m)
{
	size_t n, rn, tn;
	const char *chan = param(m, 0, &n), *room, *text;
	const struct room *r;
	int err = 0;

	if (n == 0) {
		need_more(c, m);
		return;
	}
	if ((room = channel_room(c, chan, n, &rn)) == NULL)
		return;
	if (m->nparams < 2) {
		if ((r = core_room_open(conn_core(c), room, rn, &err)) == NULL)
			numeric(c, 403, "#%.*s :No such channel", (int)rn, room);
		else
			topic_of(c, r, 1);
		return;
	}
	text = param(m, 1, &tn);
	if (tn > CORE_TOPIC_MAX) {
		tn = CORE_TOPIC_MAX;
		while (tn > 0 && ((unsigned char)text[tn] & 0xc0) == 0x80)
			tn--;
	}
	core_topic(conn_core(c), c->sess, room, rn, text, tn, 0);
}

/* --- CHATHISTORY (IRCv3 draft/chathistory) --- */

/* Pages of history a timestamp is looked for in, newest first: a bound on
 * the work of one reference (100 messages a page). */
#define IRC_TIME_PAGES 50

static void
history_fail(struct conn *c, const char *code, const char *sub, const char *text)
{
	send_line(c, ":%s FAIL CHATHISTORY %s %s :%s", server, code, sub, text);
}

/*
 * The bounds of time_ms in r, read back from the newest message a page at
 * a time: *hi, the first seq sent at time_ms or later, *lo, the last one
 * sent at time_ms or earlier (one past the last / 0 when there is none).
 * 0; 1 when the time lies further back than IRC_TIME_PAGES pages, where
 * the bounds are not known (never a guess); -1 when the store cannot say.
 */
static int
seq_at_time(struct core *core, const struct room *r, uint64_t time_ms, uint64_t *lo, uint64_t *hi)
{
	struct msg *page[CORE_PAGE_MAX];
	uint64_t before = 0;
	unsigned pages;
	int more = 1, found = 0;

	*hi = room_last_seq(r) + 1;
	*lo = room_last_seq(r);
	for (pages = 0; more && !found; pages++) {
		int n, i;

		if (pages == IRC_TIME_PAGES)
			return 1;
		if ((n = core_history_before(core, r, before, CORE_PAGE_MAX, page, &more)) < 0)
			return -1;
		/* Newest first; messages may share a millisecond. */
		for (i = n - 1; i >= 0 && !found; i--) {
			if (page[i]->time_ms >= time_ms)
				*hi = page[i]->seq;
			else
				found = 1; /* sent before time_ms: nothing older counts */
			if (page[i]->time_ms > time_ms)
				*lo = page[i]->seq - 1;
		}
		before = n ? page[0]->seq : 0;
		for (i = 0; i < n; i++)
			msg_unref(page[i]);
		if (n == 0)
			break;
	}
	return 0;
}

/*
 * A reference as bounds on seqs: *lo, the last seq before it (what AFTER
 * it starts past), *hi, the first at or after it (what BEFORE it stops
 * at).  A msgid of another epoch of the room (one before a restart
 * without a store) is in no history now: 1; so is a time further back
 * than chatd looks (2).  -1: the store cannot say.
 */
static int
ref_bounds(struct core *core, const struct room *r, const struct irc_ref *ref, uint64_t *lo,
           uint64_t *hi)
{
	int k;

	switch (ref->kind) {
	case IRC_REF_MSGID:
		if (ref->epoch != room_epoch(r))
			return 1;
		*lo = ref->seq; /* after a msgid: past it */
		*hi = ref->seq; /* before it: up to it */
		return 0;
	case IRC_REF_TIME:
		/* Before a time: sent earlier; after it: sent later. */
		k = seq_at_time(core, r, ref->time_ms, lo, hi);
		return k == 1 ? 2 : k;
	default: /* "*": no bound */
		*lo = 0;
		*hi = room_last_seq(r) + 1;
		return 0;
	}
}

/* Messages a CHATHISTORY asks for, oldest first, and how many. */
struct page {
	struct msg *m[2 * CORE_PAGE_MAX];
	int n;
};

/* Append to p the newest limit of r with seq < before; -1: store down. */
static int
page_before(struct core *core, const struct room *r, uint64_t before, unsigned limit,
            struct page *p)
{
	int more, n;

	if (before <= 1 || limit == 0)
		return 0;
	if ((n = core_history_before(core, r, before, limit, p->m + p->n, &more)) < 0)
		return -1;
	p->n += n;
	return 0;
}

/* Append to p the oldest limit of r with seq > after; -1: store down. */
static int
page_after(struct core *core, const struct room *r, uint64_t after, unsigned limit, struct page *p)
{
	int truncated, n;

	if (limit == 0)
		return 0;
	if ((n = core_history_after(core, r, after, limit, p->m + p->n, &truncated)) < 0)
		return -1;
	p->n += n;
	return 0;
}

/* Drop from p those with seq <= lo or >= hi. */
static void
page_keep(struct page *p, uint64_t lo, uint64_t hi)
{
	int i, k = 0;

	for (i = 0; i < p->n; i++) {
		if (p->m[i]->seq > lo && p->m[i]->seq < hi)
			p->m[k++] = p->m[i];
		else
			msg_unref(p->m[i]);
	}
	p->n = k;
}

/* The chathistory batch of p for target, releasing p's messages. */
static void
page_send(struct conn *c, const char *target, struct page *p)
{
	char ref[24];
	int i;

	batch_ref(ref, sizeof(ref));
	send_line(c, ":%s BATCH +%s chathistory %s", server, ref, target);
	for (i = 0; i < p->n; i++) {
		size_t n = privmsg_lines(render_buf, sizeof(render_buf), p->m[i], "PRIVMSG", target,
		                         strlen(target));

		put_msg(c, p->m[i], ref, render_buf, n);
		msg_unref(p->m[i]);
	}
	p->n = 0;
	send_line(c, ":%s BATCH -%s", server, ref);
}

/* Fill p for subcommand sub of room r with references a (and b for
 * BETWEEN) and limit; 0, 1 for a reference to no history (an empty
 * answer), 2 for a time further back than chatd looks, -1 when the
 * store cannot say. */
static int
history_query(struct core *core, const struct room *r, const char *sub, const struct irc_ref *a,
              const struct irc_ref *b, unsigned limit, struct page *p)
{
	uint64_t lo, hi, lo2, hi2;
	int k;

	if ((k = ref_bounds(core, r, a, &lo, &hi)) != 0)
		return k;
	if (strcasecmp(sub, "LATEST") == 0) {
		/* The newest limit, those after the reference only. */
		k = page_before(core, r, room_last_seq(r) + 1, limit, p);
		page_keep(p, a->kind == IRC_REF_STAR ? 0 : lo, UINT64_MAX);
	} else if (strcasecmp(sub, "BEFORE") == 0) {
		k = page_before(core, r, hi, limit, p);
	} else if (strcasecmp(sub, "AFTER") == 0) {
		k = page_after(core, r, lo, limit, p);
	} else if (strcasecmp(sub, "AROUND") == 0) {
		/* Half before it, the rest from it on. */
		if ((k = page_before(core, r, hi, limit / 2, p)) == 0)
			k = page_after(core, r, hi - 1, limit - (unsigned)p->n, p);
	} else {
		/* BETWEEN, counted from a: forward when a is older than b. */
		if ((k = ref_bounds(core, r, b, &lo2, &hi2)) != 0)
			return k;
		if (hi <= hi2) {
			k = page_after(core, r, lo, limit, p);
			page_keep(p, lo, hi2);
		} else {
			k = page_before(core, r, hi, limit, p);
			page_keep(p, lo2, hi);
		}
	}
	return k;
}

/* CHATHISTORY TARGETS: the channels of c with messages between two
 * times, as CHATHISTORY TARGETS lines in a batch, oldest activity first. */
static void
history_targets(struct conn *c, const struct irc_ref *a, const struct irc_ref *b, unsigned limit)
{
	struct core *core = conn_core(c);
	struct {
		const struct room *r;
		uint64_t time_ms;
	} found[CORE_PAGE_MAX], tmp;
	uint64_t from = a->time_ms < b->time_ms ? a->time_ms : b->time_ms;
	uint64_t to = a->time_ms < b->time_ms ? b->time_ms : a->time_ms;
	unsigned n = 0, i, j;
	char ref[24], when[32];

	/* The first IRC_LISTING_MAX channels at most: each may cost a read
	 * of the store, and max-rooms may be unlimited. */
	for (i = 0; i < session_room_count(c->sess) && i < IRC_LISTING_MAX && n < CORE_PAGE_MAX;
	     i++) {
		const struct room *r = session_room(c->sess, i);
		struct msg *last;
		int more;

		if (core_history_before(core, r, 0, 1, &last, &more) != 1)
			continue;
		if (last->time_ms > from && last->time_ms < to) {
			found[n].r = r;
			found[n++].time_ms = last->time_ms;
		}
		msg_unref(last);
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && found[j - 1].time_ms > found[j].time_ms; j--) {
			tmp = found[j];
			found[j] = found[j - 1];
			found[j - 1] = tmp;
		}
	batch_ref(ref, sizeof(ref));
	send_line(c, ":%s BATCH +%s draft/chathistory-targets", server, ref);
	for (i = 0; i < n && i < limit; i++) {
		time_t t = (time_t)(found[i].time_ms / 1000);
		struct tm tm;
		struct tags tg = {0, NULL, ref};
		int ln;

		if (gmtime_r(&t, &tm) == NULL)
			memset(&tm, 0, sizeof(tm));
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		ln = snprintf(render_buf, sizeof(render_buf),
		              ":%s CHATHISTORY TARGETS #%s %s.%03uZ\r\n", server,
		              room_name(found[i].r), when, (unsigned)(found[i].time_ms % 1000));
		put(c, &tg, render_buf, (size_t)ln);
	}
	send_line(c, ":%s BATCH -%s", server, ref);
}

/* Parameter i of m as a reference: 0, or -1. */
static int
ref_param(const struct irc_msg *m, unsigned i, struct irc_ref *ref)
{
	size_t n;
	const char *s = param(m, i, &n);

	return irc_ref_parse(s, n, ref);
}

/*
 * CHATHISTORY LATEST|BEFORE|AFTER|AROUND target ref limit, BETWEEN target
 * ref ref limit, TARGETS ref ref limit: a room's history by msgid or time
 * (chatd's msgids are EPOCH-SEQ), as a chathistory batch; a nick's
 * history is empty, since direct messages are not kept.
 */
static void
cmd_chathistory(struct conn *c, const struct irc_msg *m)
{
	static const char *const subs[] = {"LATEST", "BEFORE",  "AFTER",
	                                   "AROUND", "BETWEEN", "TARGETS"};
	struct page p = {.n = 0};
	struct irc_ref a, b = {0};
	char sub[16], word[80];
	const char *s, *target;
	size_t n, tn, i;
	unsigned nref;
	uint64_t limit;
	const struct room *r;
	int err = 0, k = 0;

	s = param(m, 0, &n);
	quote(sub, sizeof(sub), s, n);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcasecmp(sub, subs[i]) == 0)
			break;
	if (i == sizeof(subs) / sizeof(subs[0])) {
		history_fail(c, "INVALID_PARAMS", sub, "Unknown subcommand");
		return;
	}
	nref = strcasecmp(sub, "BETWEEN") == 0 || strcasecmp(sub, "TARGETS") == 0 ? 2 : 1;
	if (m->nparams < (strcasecmp(sub, "TARGETS") == 0 ? 4u : 3u + nref)) {
		send_line(c, ":%s FAIL CHATHISTORY NEED_MORE_PARAMS %s :Not enough parameters",
		          server, sub);
		return;
	}
	if (strcasecmp(sub, "TARGETS") == 0) {
		s = param(m, 3, &n);
		if (ref_param(m, 1, &a) < 0 || a.kind != IRC_REF_TIME || ref_param(m, 2, &b) < 0 ||
		    b.kind != IRC_REF_TIME || irc_number(s, n, &limit) < 0 || limit == 0) {
			history_fail(c, "INVALID_PARAMS", sub, "Needs two timestamps and a limit");
			return;
		}
		history_targets(c, &a, &b,
		                limit > IRC_HISTORY_MAX ? IRC_HISTORY_MAX : (unsigned)limit);
		return;
	}
	target = param(m, 1, &tn);
	s = param(m, 2 + nref, &n);
	if (ref_param(m, 2, &a) < 0 || (nref == 2 && ref_param(m, 3, &b) < 0) ||
	    ((a.kind == IRC_REF_STAR || b.kind == IRC_REF_STAR) &&
	     strcasecmp(sub, "LATEST") != 0) ||
	    irc_number(s, n, &limit) < 0 || limit == 0) {
		history_fail(c, "INVALID_PARAMS", sub,
		             "References are msgid=..., timestamp=... (or * for LATEST), then a "
		             "limit of 1 or more");
		return;
	}
	if (limit > IRC_HISTORY_MAX)
		limit = IRC_HISTORY_MAX;
	quote(word, sizeof(word), target, tn);
	if (tn == 0 || target[0] != '#') {
		/* A nick: direct messages are not kept, so there is none. */
		page_send(c, word, &p);
		return;
	}
	if (tn < 2 || !valid_room(target + 1, tn - 1)) {
		send_line(c, ":%s FAIL CHATHISTORY INVALID_TARGET %s %s :No such channel", server,
		          sub, word);
		return;
	}
	r = core_room_open(conn_core(c), target + 1, tn - 1, &err);
	if (r != NULL && (k = history_query(conn_core(c), r, sub, &a, &b, (unsigned)limit, &p)) < 0)
		err = CORE_E_STORE;
	if (k == 2) {
		while (p.n)
			msg_unref(p.m[--p.n]);
		history_fail(c, "INVALID_PARAMS", sub,
		             "That time is further back than the last 5000 messages: use a msgid");
		return;
	}
	if (err) {
		while (p.n)
			msg_unref(p.m[--p.n]);
		history_fail(c, "MESSAGE_ERROR", sub, "History store unavailable, try again later");
		return;
	}
	page_send(c, word, &p);
}

static void
cmd_tagmsg(struct conn *c, const struct irc_msg *m)
{
	/* Client tags alone (typing notices and the like): chatd's other
	 * members could not see them, so they go nowhere. */
	(void)c;
	(void)m;
}

static void
cmd_motd(struct conn *c, const struct irc_msg *m)
{
	(void)m;
	numeric(c, 422, ":MOTD File is missing");
}

static void
cmd_lusers(struct conn *c, const struct irc_msg *m)
{
	(void)m;
	lusers(c);
}

static void
cmd_version(struct conn *c, const struct irc_msg *m)
{
	(void)m;
	numeric(c, 351, "chatd-%s %s :chatd, a chat server (IRC front end)", CHATD_VERSION, server);
	isupport(c);
}

static void
cmd_time(struct conn *c, const struct irc_msg *m)
{
	char when[64];
	time_t now = time(NULL);
	struct tm tm;

	(void)m;
	if (gmtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	strftime(when, sizeof(when), "%A %B %d %Y -- %H:%M:%S +00:00", &tm);
	numeric(c, 391, "%s %lld 0 :%s", server, (long long)now, when);
}

static void
irc_bye(struct conn *c, uint8_t reason)
{
	char why[48];

	if (reason == REASON_SHUTDOWN)
		send_line(c, "ERROR :Closing Link: %s (Server shutting down)", me(c));
	else
		send_line(c, "ERROR :Closing Link: %s (%s)", me(c),
		          quit_reason(why, sizeof(why),
		                      reason == REASON_NONE ? PRES_QUIT : PRES_DROP, reason));
}

static void
cmd_quit(struct conn *c, const struct irc_msg *m)
{
	size_t n;
	const char *reason = param(m, 0, &n);

	/* The rooms hear "Quit: reason", the other front ends the reason. */
	core_quit_reason(c->sess, reason, n);
	send_line(c, "ERROR :Closing Link: %s (Quit: %.*s)", me(c), (int)n, reason);
	/* A labeled QUIT's answer is held until the label ends: queue it
	 * now, or the close would find nothing to flush and leave at once. */
	label_end(c);
	conn_close_after_flush(c, REASON_NONE, CHATD_DRAIN_TIMEOUT);
}

/* The IRC commands: name, handler, and whether it needs registration. */
struct command {
	const char *name;
	void (*run)(struct conn *c, const struct irc_msg *m);
	int registered;
};

static const struct command commands[] = {
        {"PRIVMSG", cmd_privmsg, 1},
        {"NOTICE", cmd_notice, 1},
        {"PING", cmd_ping, 0},
        {"PONG", cmd_pong, 0},
        {"JOIN", cmd_join, 1},
        {"PART", cmd_part, 1},
        {"NICK", cmd_nick, 0},
        {"CAP", cmd_cap, 0},
        {"USER", cmd_user, 0},
        {"PASS", cmd_pass, 0},
        {"QUIT", cmd_quit, 0},
        {"NAMES", cmd_names, 1},
        {"WHO", cmd_who, 1},
        {"WHOIS", cmd_whois, 1},
        {"LIST", cmd_list, 1},
        {"MODE", cmd_mode, 1},
        {"AWAY", cmd_away, 1},
        {"ISON", cmd_ison, 1},
        {"USERHOST", cmd_userhost, 1},
        {"MOTD", cmd_motd, 1},
        {"LUSERS", cmd_lusers, 1},
        {"VERSION", cmd_version, 1},
        {"TIME", cmd_time, 1},
        {"TAGMSG", cmd_tagmsg, 1},
        {"CHATHISTORY", cmd_chathistory, 1},
        {"TOPIC", cmd_topic, 1},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Run m's command, or answer that there is none. */
static void
dispatch(struct conn *c, const struct irc_msg *m)
{
	char word[80];
	size_t i;

	for (i = 0; i < NCOMMANDS; i++) {
		if (!irc_cmd_is(m, commands[i].name))
			continue;
		if (commands[i].registered && !session_registered(c->sess))
			numeric(c, 451, ":You have not registered");
		else
			commands[i].run(c, m);
		return;
	}
	quote(word, sizeof(word), m->cmd, m->cmd_len);
	if (session_registered(c->sess))
		numeric(c, 421, "%s :Unknown command", word);
	else
		numeric(c, 451, ":You have not registered");
}

static void
handle_line(struct conn *c, const char *line, size_t n)
{
	struct irc_msg m;

	if (irc_parse(line, n, &m) < 0)
		return; /* nothing but spaces, tags or a source */
	label_begin(c, &m);
	dispatch(c, &m);
	label_end(c);
}

static size_t
irc_input_max(const struct config *cfg)
{
	return (size_t)cfg->irc_tags_max + cfg->irc_line_max;
}

static void
too_long(struct conn *c)
{
	numeric(c, 417,
	        ":Input line was too long (at most %zu bytes with its CR LF, and %zu of tags)",
	        line_max, tags_max);
}

static size_t
irc_input(struct conn *c, const uint8_t *p, size_t len)
{
	struct irc *st = c->fe_state;
	size_t off = 0;

	while (conn_ready(c) && off < len) {
		size_t used, at = 0, n = 0;
		enum irc_line r;

		/* A whole line costs a token; a partial one waits for free. */
		if (!st->rd.discarding &&
		    (memchr(p + off, '\n', len - off) || memchr(p + off, '\r', len - off)) &&
		    !conn_spend(c))
			return off;
		r = irc_line_next(&st->rd, p + off, len - off, &used, &at, &n);
		switch (r) {
		case IRC_LINE_MORE:
			return off + used;
		case IRC_LINE_TOO_LONG:
			too_long(c);
			break;
		case IRC_LINE_SKIPPED:
			break;
		case IRC_LINE_OK:
			if (irc_line_fits((const char *)p + off + at, n, line_max, tags_max))
				handle_line(c, (const char *)p + off + at, n);
			else
				too_long(c);
			break;
		}
		off += used;
	}
	return off;
}

static enum detect
irc_detect(const uint8_t *p, size_t len, size_t *used)
{
	*used = 0; /* no preface: the first line is a command */
	switch (irc_opening(p, len)) {
	case 1:
		return DETECT_MINE;
	case -1:
		return DETECT_MORE;
	default:
		return DETECT_NOT;
	}
}

static void
irc_start(struct conn *c)
{
	struct irc *st = slab_zalloc(sizeof(*st));

	server_from(conn_config(c));
	irc_reader_init(&st->rd, tags_max + content_max());
	c->fe_state = st;
	c->sess = core_session_new(conn_core(c), &irc_sink, c);
}

/* Silent too long: IRC's own PING; any line back proves it alive. */
static void
irc_idle(struct conn *c)
{
	send_line(c, "PING :%s", server);
}

static void
irc_refuse(struct conn *c, enum conn_refusal why, const char *text)
{
	send_line(c, "ERROR :Closing Link: * (%s: %s)",
	          why == REFUSE_HANDSHAKE ? "Registration timeout" : "Server full", text);
	conn_close_after_flush(
	        c, why == REFUSE_HANDSHAKE ? REASON_HANDSHAKE_TIMEOUT : REASON_PROTOCOL_ERROR,
	        CHATD_DRAIN_TIMEOUT);
}

/* On a listener pinned to IRC, a first line that is no registration. */
static void
irc_broken(struct conn *c, const uint8_t *p, size_t len)
{
	(void)p;
	(void)len;
	send_line(c, "ERROR :Closing Link: * (this port speaks IRC: register with CAP, NICK, "
	             "USER or PASS)");
	conn_close_after_flush(c, REASON_PROTOCOL_ERROR, CHATD_DRAIN_TIMEOUT);
}

static void
irc_end(struct conn *c)
{
	struct irc *st = c->fe_state;

	if (st == NULL)
		return; /* refused before it started */
	free(st->away);
	slab_free(st, sizeof(*st));
	c->fe_state = NULL;
}

/* The server is up: note when, for 003. */
static void
irc_attach(struct conn_set *set)
{
	time_t now = time(NULL);
	struct tm tm;

	server_from(set->cfg);
	line_max = set->cfg->irc_line_max;
	tags_max = set->cfg->irc_tags_max;
	started_ms = now_ms();
	if (gmtime_r(&now, &tm) != NULL)
		strftime(created, sizeof(created), "%Y-%m-%d %H:%M:%S UTC", &tm);
}

struct frontend irc_frontend = {
        .name = "irc",
        .detect = irc_detect,
        .input_max = irc_input_max,
        .start = irc_start,
        .input = irc_input,
        .idle = irc_idle,
        .bye = irc_bye,
        .refuse = irc_refuse,
        .broken = irc_broken,
        .end = irc_end,
        .cleanup = irc_cleanup,
        .attach = irc_attach,
};
