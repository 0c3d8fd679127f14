/*
 * The IRC front end: irssi, WeeChat or ii chat with everyone else.  Lines
 * in (ircmsg.c splits and parses them), core commands out, through a table
 * of IRC commands; core events and completions in, IRC lines out.  A
 * channel #name is the room "name"; chatd's nicknames and room names are
 * stricter than IRC's, and what is not one of them is refused with the
 * numeric a client expects (docs/irc.md).  Like the text front end, it
 * decides nothing about rooms or names itself.  Queries (NAMES, WHO,
 * WHOIS, LIST, ISON, USERHOST, LUSERS) read the core's rooms and users;
 * what only IRC has (AWAY, the IRCv3 capabilities a client enabled) is
 * kept here.
 */
#include "proto/irc/irc.h"

#include <stdarg.h>
#include <stdio.h>
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

/* Bytes of a line's content, its CR LF excluded. */
#define IRC_CONTENT_MAX (IRC_LINE_MAX - 2)
/* The host part of every user's prefix: chatd does not show addresses. */
#define IRC_HOST "chatd"
/* Bytes of nicks in one 353 (RPL_NAMREPLY) line. */
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
/* Bytes of "@batch=REF;time=YYYY-MM-DDThh:mm:ss.sssZ " before a line. */
#define IRC_TAG_PREFIX_MAX 64
/* A tag bit of core commands: the command was a NOTICE, which is never
 * answered with an error (RFC 2812 3.3.2). */
#define IRC_TAG_NOTICE 1u

struct irc {
	struct irc_reader rd;
	char nick[CORE_NICK_MAX + 1]; /* asked for before registration */
	uint8_t nick_len;
	uint8_t user;   /* USER was given */
	uint8_t capneg; /* CAP negotiation under way: registration waits for CAP END */
	uint8_t caps;   /* the IRCv3 capabilities enabled, CAP_* bits */
	/* The last QUIT shown: a user who quits is announced in each room
	 * shared with this client, and IRC shows a quit once. */
	char quit_nick[CORE_NICK_MAX + 1];
	uint64_t quit_time;
	struct irc_away *away; /* set while the user is away (AWAY), else NULL */
};

/* An away user: its session and message, on the list of away users that
 * WHO, WHOIS, USERHOST and a PRIVMSG to it look up (only IRC users can be
 * away: chatd's other front ends have no such state). */
struct irc_away {
	struct irc_away *next;
	const struct session *sess;
	char text[IRC_AWAY_MAX + 1];
};

static struct irc_away *away_list;

/* The IRCv3 capabilities chatd offers (CAP LS), as bits of irc.caps. */
enum {
	CAP_SERVER_TIME = 1u << 0,
	CAP_MESSAGE_TAGS = 1u << 1,
	CAP_ECHO = 1u << 2,
	CAP_MULTI_PREFIX = 1u << 3,
	CAP_USERHOST_NAMES = 1u << 4,
	CAP_NOTIFY = 1u << 5,
	CAP_BATCH = 1u << 6,
};

static const struct cap {
	const char *name;
	uint8_t bit;
} caps[] = {
        {"batch", CAP_BATCH},
        {"cap-notify", CAP_NOTIFY},
        {"echo-message", CAP_ECHO},
        {"message-tags", CAP_MESSAGE_TAGS},
        {"multi-prefix", CAP_MULTI_PREFIX},
        {"server-time", CAP_SERVER_TIME},
        {"userhost-in-names", CAP_USERHOST_NAMES},
};

#define NCAPS (sizeof(caps) / sizeof(caps[0]))

/* The server's name as IRC shows it (a prefix must be one word), and
 * when the server began, for 003. */
static char server[64] = "chatd";
static char created[64] = "at start-up";

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

/* Queue one line: printf-style, cut to IRC_CONTENT_MAX, then CR LF. */
static void send_line(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
send_line(struct conn *c, const char *fmt, ...)
{
	char tmp[IRC_LINE_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > IRC_CONTENT_MAX)
		n = IRC_CONTENT_MAX;
	/* A line end, not a string end: the bytes go out as counted. */
	memcpy(tmp + n, "\r\n", 2); /* NOLINT(bugprone-not-null-terminated-result) */
	memcpy(conn_reserve(c, (size_t)n + 2), tmp, (size_t)n + 2);
	conn_commit(c, (size_t)n + 2);
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
	char text[IRC_LINE_MAX];
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

/*
 * Lines carrying text: head, a piece of text, tail, CR LF, as many lines
 * as the text needs to keep each within IRC_LINE_MAX (pieces are cut
 * between UTF-8 sequences).  CR, LF and NUL, which would end or cut an IRC
 * line, become spaces.  Writes into out[0, cap) and returns the length.
 */
static size_t
text_lines(char *out, size_t cap, const char *head, size_t hn, const char *text, size_t tn,
           const char *tail)
{
	size_t tl = strlen(tail), len = 0, room, at = 0;

	if (hn + tl + 2 + 8 > IRC_LINE_MAX)
		hn = IRC_LINE_MAX - tl - 2 - 8; /* cannot happen with chatd's names */
	room = IRC_CONTENT_MAX - hn - tl;
	do {
		size_t k = tn - at > room ? room : tn - at, i;

		/* Do not cut a UTF-8 sequence. */
		if (at + k < tn)
			while (k > 1 && ((unsigned char)text[at + k] & 0xc0) == 0x80)
				k--;
		if (len + hn + k + tl + 2 > cap)
			break;
		memcpy(out + len, head, hn);
		len += hn;
		for (i = 0; i < k; i++) {
			char ch = text[at + i];

			out[len++] = ch == '\r' || ch == '\n' || ch == '\0' ? ' ' : ch;
		}
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
 * text each. */
static char render_buf[(CORE_TEXT_MAX / 256 + 2) * IRC_LINE_MAX];

static struct slice
to_slice(const char *s, size_t n, int own_block)
{
	return arena_copy(&arena, s, n, own_block);
}

/* Lines carrying m's text from its sender to target (a #channel or a
 * nick), an action as a CTCP ACTION. */
static size_t
privmsg_lines(char *out, size_t cap, const struct msg *m, const char *verb, const char *target,
              size_t tn)
{
	char head[IRC_LINE_MAX];
	int action = is_action(m->text, m->text_len);
	int hn = snprintf(head, sizeof(head), ":%s!%s@%s %s %.*s :%s", m->from, m->from, IRC_HOST,
	                  verb, (int)tn, target, action ? "\001ACTION " : "");

	if (action)
		return text_lines(out, cap, head, (size_t)hn, m->text + 4, m->text_len - 4, "\001");
	return text_lines(out, cap, head, (size_t)hn, m->text, m->text_len, "");
}

/* History is told by the server, as notices to the channel that show the
 * time and say "history", so that no client takes it for new talk. */
static size_t
history_lines(char *out, size_t cap, const struct msg *m)
{
	char head[IRC_LINE_MAX], when[32];
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
		n = snprintf(out, cap, ":%s!%s@%s PART #%s\r\n", p->nick, p->nick, IRC_HOST,
		             p->room);
		break;
	case PRES_NICK:
		n = snprintf(out, cap, ":%s!%s@%s NICK :%s\r\n", p->nick, p->nick, IRC_HOST,
		             p->new_nick);
		break;
	case PRES_QUIT:
	case PRES_DROP:
		n = snprintf(out, cap, ":%s!%s@%s QUIT :%s\r\n", p->nick, p->nick, IRC_HOST,
		             quit_reason(why, sizeof(why), p->kind, p->reason));
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

/*
 * Queue the lines out[0, n), each with the tags a client that enabled
 * server-time wants: "@time=..." (ISO 8601 UTC, milliseconds), and
 * "batch=ref" inside a batch (ref NULL: none).
 */
static void
send_tagged(struct conn *c, uint64_t time_ms, const char *ref, const char *out, size_t n)
{
	char tags[IRC_TAG_PREFIX_MAX], when[32];
	time_t t = (time_t)(time_ms / 1000);
	struct tm tm;
	size_t at = 0;
	int tn;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	tn = snprintf(tags, sizeof(tags), "@%s%s%stime=%s.%03uZ ", ref ? "batch=" : "",
	              ref ? ref : "", ref ? ";" : "", when, (unsigned)(time_ms % 1000));
	if (tn < 0 || (size_t)tn >= sizeof(tags))
		return;
	while (at < n) {
		const char *end = memchr(out + at, '\n', n - at);
		size_t ln = end ? (size_t)(end - (out + at)) + 1 : n - at;
		uint8_t *w = conn_reserve(c, (size_t)tn + ln);

		memcpy(w, tags, (size_t)tn);
		memcpy(w + tn, out + at, ln);
		conn_commit(c, (size_t)tn + ln);
		at += ln;
	}
}

/* Queue lines rendered for this client alone, tagged when it wants. */
static void
send_own(struct conn *c, uint64_t time_ms, const char *out, size_t n)
{
	const struct irc *st = c->fe_state;

	if (st->caps & CAP_SERVER_TIME) {
		send_tagged(c, time_ms, NULL, out, n);
		return;
	}
	memcpy(conn_reserve(c, n), out, n);
	conn_commit(c, n);
}

static void
on_message(void *ctx, struct msg *m)
{
	struct conn *c = ctx;
	const struct irc *st = c->fe_state;
	char target[CORE_ROOM_MAX + 2];
	size_t n;

	if (m->direct) {
		/* A direct message has one reader: rendered for it alone. */
		n = privmsg_lines(render_buf, sizeof(render_buf), m, "PRIVMSG",
		                  session_nick(c->sess), session_nick_len(c->sess));
	} else if (st->caps & CAP_SERVER_TIME) {
		/* Tagged with its time: this client's own rendering. */
		int tn = snprintf(target, sizeof(target), "#%s", m->room);

		n = privmsg_lines(render_buf, sizeof(render_buf), m, "PRIVMSG", target, (size_t)tn);
	} else {
		conn_send(c, msg_wire(m, irc_frontend.slot, 0, render_message));
		return;
	}
	send_own(c, m->time_ms, render_buf, n);
}

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
	if (st->caps & CAP_SERVER_TIME) {
		send_tagged(c, p->time_ms, NULL, render_buf, presence_lines(p));
		return;
	}
	conn_send(c, pres_wire(p, irc_frontend.slot, render_presence));
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
		if (r->cmd == CMD_PART)
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
	        "CASEMAPPING=ascii CHANTYPES=#%s NICKLEN=%u CHANNELLEN=%u NETWORK=%s "
	        "TARGMAX=PRIVMSG:%u,NOTICE:%u,JOIN:,PART:,NAMES:,LIST:,WHOIS:1,ISON:,"
	        "USERHOST:%u MAXTARGETS=%u UTF8ONLY :are supported by this server",
	        chanlimit, CORE_NICK_MAX, CORE_ROOM_MAX + 1, server, IRC_TARGETS_MAX,
	        IRC_TARGETS_MAX, IRC_USERHOST_MAX, IRC_TARGETS_MAX);
	/* No channel operators or voice: PREFIX is empty; +n and +t are the
	 * only channel modes, always set. */
	numeric(c, 5,
	        "PREFIX= CHANMODES=,,,nt AWAYLEN=%u MODES=0 SAFELIST ELIST= "
	        "LINELEN=%u MAXLIST= :are supported by this server",
	        IRC_AWAY_MAX, IRC_LINE_MAX);
}

/* The counts of users and channels (251-255, RFC 2812 5.1). */
static void
lusers(struct conn *c)
{
	const struct core *core = conn_core(c);
	size_t users = core_user_count(core);

	numeric(c, 251, ":There are %zu users and 0 invisible on 1 servers", users);
	numeric(c, 252, "0 :operator(s) online");
	numeric(c, 254, "%zu :channels formed", core_room_count(core));
	numeric(c, 255, ":I have %zu clients and 0 servers", users);
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

static void
words_add(struct conn *c, struct words *w, const char *s, size_t n)
{
	if (n + 1 > IRC_NAMES_WIDTH)
		return;
	if (w->len && w->len + n + 1 > IRC_NAMES_WIDTH)
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

/* The away message of s, or NULL when it is not away. */
static const char *
away_of(const struct session *s)
{
	const struct irc_away *a;

	for (a = away_list; a; a = a->next)
		if (a->sess == s)
			return a->text;
	return NULL;
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

		send_tagged(c, m->time_ms, ref, render_buf, n);
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
	send_own(c, r->msg->time_ms, render_buf, n);
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
		conn_send(c, msg_wire(core_joined_msg(j, i), irc_frontend.slot, 1, render_message));
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

static const struct sink irc_sink = {on_message, on_presence, on_done};

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
	st->caps = (uint8_t)((st->caps | on) & ~off);
	return 0;
}

static void
cmd_cap(struct conn *c, const struct irc_msg *m)
{
	struct irc *st = c->fe_state;
	char word[80], list[IRC_LINE_MAX];
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
		          cap_names(list, sizeof(list), 0xff));
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

			core_part(conn_core(c), c->sess, room_name(r), room_name_len(r), 0);
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
	size_t n, in, rn;
	const char *list = param(m, 0, &n), *item, *room;

	if (n == 0) {
		need_more(c, m);
		return;
	}
	/* The reason is not carried: chatd's rooms have no part messages. */
	while (irc_list_next(&list, &n, &item, &in))
		if ((room = channel_room(c, item, in, &rn)) != NULL)
			core_part(conn_core(c), c->sess, room, rn, 0);
}

/* PRIVMSG and NOTICE: to channels (#room) and nicks (direct messages). */
static void
send_text(struct conn *c, const struct irc_msg *m, uint64_t tag)
{
	char action[IRC_LINE_MAX];
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
	numeric(c, 322, "#%s %u :", room_name(r), room_member_count(r));
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

/* Back from away: off the away list. */
static void
away_clear(struct irc *st)
{
	struct irc_away **p = &away_list;

	if (st->away == NULL)
		return;
	while (*p != st->away)
		p = &(*p)->next;
	*p = st->away->next;
	slab_free(st->away, sizeof(*st->away));
	st->away = NULL;
}

static void
cmd_away(struct conn *c, const struct irc_msg *m)
{
	struct irc *st = c->fe_state;
	size_t n;
	const char *text = param(m, 0, &n);

	if (n == 0) {
		away_clear(st);
		numeric(c, 305, ":You are no longer marked as being away");
		return;
	}
	if (st->away == NULL) {
		st->away = slab_zalloc(sizeof(*st->away));
		st->away->sess = c->sess;
		st->away->next = away_list;
		away_list = st->away;
	}
	if (n > IRC_AWAY_MAX)
		n = IRC_AWAY_MAX;
	memcpy(st->away->text, text, n);
	st->away->text[n] = '\0';
	numeric(c, 306, ":You have been marked as being away");
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

	/* The reason is not carried to the rooms: they hear "Quit". */
	send_line(c, "ERROR :Closing Link: %s (Quit: %.*s)", me(c), (int)n, reason);
	conn_close_after_flush(c, REASON_NONE, CHATD_DRAIN_TIMEOUT);
}

/* The IRC commands: name, handler, and whether it needs registration. */
struct command {
	const char *name;
	void (*run)(struct conn *c, const struct irc_msg *m);
	int registered;
};

static const struct command commands[] = {
        {"PRIVMSG", cmd_privmsg, 1},   {"NOTICE", cmd_notice, 1}, {"PING", cmd_ping, 0},
        {"PONG", cmd_pong, 0},         {"JOIN", cmd_join, 1},     {"PART", cmd_part, 1},
        {"NICK", cmd_nick, 0},         {"CAP", cmd_cap, 0},       {"USER", cmd_user, 0},
        {"PASS", cmd_pass, 0},         {"QUIT", cmd_quit, 0},     {"NAMES", cmd_names, 1},
        {"WHO", cmd_who, 1},           {"WHOIS", cmd_whois, 1},   {"LIST", cmd_list, 1},
        {"MODE", cmd_mode, 1},         {"AWAY", cmd_away, 1},     {"ISON", cmd_ison, 1},
        {"USERHOST", cmd_userhost, 1}, {"MOTD", cmd_motd, 1},     {"LUSERS", cmd_lusers, 1},
        {"VERSION", cmd_version, 1},   {"TIME", cmd_time, 1},     {"TAGMSG", cmd_tagmsg, 1},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
handle_line(struct conn *c, const char *line, size_t n)
{
	struct irc_msg m;
	char word[80];
	size_t i;

	if (irc_parse(line, n, &m) < 0)
		return; /* nothing but spaces, tags or a source */
	for (i = 0; i < NCOMMANDS; i++) {
		if (!irc_cmd_is(&m, commands[i].name))
			continue;
		if (commands[i].registered && !session_registered(c->sess))
			numeric(c, 451, ":You have not registered");
		else
			commands[i].run(c, &m);
		return;
	}
	quote(word, sizeof(word), m.cmd, m.cmd_len);
	if (session_registered(c->sess))
		numeric(c, 421, "%s :Unknown command", word);
	else
		numeric(c, 451, ":You have not registered");
}

static size_t
irc_input_max(const struct config *cfg)
{
	(void)cfg;
	return IRC_TAGS_MAX + IRC_LINE_MAX;
}

static void
too_long(struct conn *c)
{
	numeric(c, 417,
	        ":Input line was too long (at most %d bytes with its CR LF, and %d of tags)",
	        IRC_LINE_MAX, IRC_TAGS_MAX);
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
			if (irc_line_fits((const char *)p + off + at, n))
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
	irc_reader_init(&st->rd, IRC_TAGS_MAX + IRC_CONTENT_MAX);
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
	away_clear(st);
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
