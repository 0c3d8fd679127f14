/*
 * The IRC front end: irssi, WeeChat or ii chat with everyone else.  Lines
 * in (ircmsg.c splits and parses them), core commands out, through a table
 * of IRC commands; core events and completions in, IRC lines out.  A
 * channel #name is the room "name"; chatd's nicknames and room names are
 * stricter than IRC's, and what is not one of them is refused with the
 * numeric a client expects (docs/irc.md).  Like the text front end, it
 * decides nothing about rooms or names itself.
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
/* A tag bit of core commands: the command was a NOTICE, which is never
 * answered with an error (RFC 2812 3.3.2). */
#define IRC_TAG_NOTICE 1u

struct irc {
	struct irc_reader rd;
	char nick[CORE_NICK_MAX + 1]; /* asked for before registration */
	uint8_t nick_len;
	uint8_t user;   /* USER was given */
	uint8_t capneg; /* CAP negotiation under way: registration waits for CAP END */
	/* The last QUIT shown: a user who quits is announced in each room
	 * shared with this client, and IRC shows a quit once. */
	char quit_nick[CORE_NICK_MAX + 1];
	uint64_t quit_time;
};

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
privmsg_lines(char *out, size_t cap, const struct msg *m, const char *target, size_t tn)
{
	char head[IRC_LINE_MAX];
	int action = is_action(m->text, m->text_len);
	int hn = snprintf(head, sizeof(head), ":%s!%s@%s PRIVMSG %.*s :%s", m->from, m->from,
	                  IRC_HOST, (int)tn, target, action ? "\001ACTION " : "");

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

		n = privmsg_lines(render_buf, sizeof(render_buf), m, target, (size_t)tn);
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

static struct slice
render_presence(const struct pres *p)
{
	size_t n;

	if (p->kind == PRES_SUMMARY)
		n = summary_lines(render_buf, sizeof(render_buf), p);
	else
		n = presence_line(render_buf, sizeof(render_buf), p);
	return to_slice(render_buf, n, 0);
}

static void
irc_cleanup(void)
{
	arena_release(&arena);
}

static void
on_message(void *ctx, struct msg *m)
{
	struct conn *c = ctx;
	size_t n;

	if (!m->direct) {
		conn_send(c, msg_wire(m, irc_frontend.slot, 0, render_message));
		return;
	}
	/* A direct message has one reader: rendered for it alone. */
	n = privmsg_lines(render_buf, sizeof(render_buf), m, session_nick(c->sess),
	                  session_nick_len(c->sess));
	memcpy(conn_reserve(c, n), render_buf, n);
	conn_commit(c, n);
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

/* Registered: the welcome burst (001-005) and no MOTD (422). */
static void
welcome(struct conn *c)
{
	const struct config *cfg = conn_config(c);
	const char *nick = session_nick(c->sess);
	char chanlimit[32] = "";

	log_info("conn %s: registered as %s (irc)", conn_peer(c), nick);
	numeric(c, 1, ":Welcome to the %s IRC network, %s", server, nick);
	numeric(c, 2, ":Your host is %s, running version chatd-%s", server, CHATD_VERSION);
	numeric(c, 3, ":This server was created %s", created);
	numeric(c, 4, "%s chatd-%s i nt", server, CHATD_VERSION);
	if (cfg->max_rooms)
		snprintf(chanlimit, sizeof(chanlimit), " CHANLIMIT=#:%u", cfg->max_rooms);
	numeric(c, 5,
	        "CASEMAPPING=ascii CHANTYPES=#%s NICKLEN=%u CHANNELLEN=%u NETWORK=%s "
	        "TARGMAX=PRIVMSG:%u,NOTICE:%u,JOIN:,PART: UTF8ONLY :are supported by this server",
	        chanlimit, CORE_NICK_MAX, CORE_ROOM_MAX + 1, server, IRC_TARGETS_MAX,
	        IRC_TARGETS_MAX);
	numeric(c, 422, ":MOTD File is missing");
}

/* A join: the client's own JOIN, the names (353, 366), then the room's
 * history as notices between two marker notices. */
static void
joined(struct conn *c, const struct core_joined *j)
{
	const char *room = room_name(j->room), *nick = session_nick(c->sess);
	char line[IRC_LINE_MAX];
	size_t len = 0;
	unsigned i;

	send_line(c, ":%s!%s@%s JOIN #%s", nick, nick, IRC_HOST, room);
	for (i = 0; i < room_member_count(j->room); i++) {
		struct session *s = room_member(j->room, i);
		size_t n = session_nick_len(s);

		if (len + n + 1 > IRC_NAMES_WIDTH) {
			numeric(c, 353, "= #%s :%.*s", room, (int)len, line);
			len = 0;
		}
		if (len)
			line[len++] = ' ';
		memcpy(line + len, session_nick(s), n);
		len += n;
	}
	if (len)
		numeric(c, 353, "= #%s :%.*s", room, (int)len, line);
	numeric(c, 366, "#%s :End of /NAMES list", room);
	if (j->hist_count == 0)
		return;
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

static void
cmd_cap(struct conn *c, const struct irc_msg *m)
{
	struct irc *st = c->fe_state;
	char word[80];
	size_t n;
	const char *sub = param(m, 0, &n);

	if (n == 0) {
		need_more(c, m);
		return;
	}
	/* No capability is offered yet: LS and LIST are empty, REQ is refused. */
	if (n == 2 && strncasecmp(sub, "LS", 2) == 0) {
		if (!session_registered(c->sess))
			st->capneg = 1;
		send_line(c, ":%s CAP %s LS :", server, me(c));
	} else if (n == 4 && strncasecmp(sub, "LIST", 4) == 0) {
		send_line(c, ":%s CAP %s LIST :", server, me(c));
	} else if (n == 3 && strncasecmp(sub, "REQ", 3) == 0) {
		size_t rn;
		const char *req = param(m, 1, &rn);

		if (!session_registered(c->sess))
			st->capneg = 1;
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
        {"PRIVMSG", cmd_privmsg, 1}, {"NOTICE", cmd_notice, 1}, {"PING", cmd_ping, 0},
        {"PONG", cmd_pong, 0},       {"JOIN", cmd_join, 1},     {"PART", cmd_part, 1},
        {"NICK", cmd_nick, 0},       {"CAP", cmd_cap, 0},       {"USER", cmd_user, 0},
        {"PASS", cmd_pass, 0},       {"QUIT", cmd_quit, 0},
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
	return IRC_LINE_MAX;
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
			numeric(c, 417,
			        ":Input line was too long (at most %d bytes with its CR LF)",
			        IRC_LINE_MAX);
			break;
		case IRC_LINE_SKIPPED:
			break;
		case IRC_LINE_OK:
			handle_line(c, (const char *)p + off + at, n);
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
	irc_reader_init(&st->rd, IRC_CONTENT_MAX);
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
