/*
 * The text front end: chat with telnet or nc.  Lines in, core commands
 * out; core events in, terminal-safe lines out (rendered by term.c).  A
 * person has a current room, which plain lines go to; slash commands do
 * the rest.  Like the framed front end, it decides nothing about rooms or
 * names itself.
 */
#include "proto/text/text.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "chatd/wire.h"
#include "net/conn.h"
#include "core/core.h"
#include "proto/text/line.h"
#include "util/log.h"
#include "util/slab.h"
#include "net/server.h"
#include "proto/text/term.h"
#include "core/valid.h"

/* Room a command line needs beyond the message text ("/msg NICK "). */
#define TEXT_LINE_EXTRA 64
/* Lists are wrapped to this width, for an 80-column terminal. */
#define TEXT_WIDTH 78

struct listing;

struct text {
	struct line_reader lr;
	char room[WIRE_ROOM_MAX + 1]; /* the current room, "" for none */
	uint8_t room_len;
	struct listing *list; /* a long answer in progress, or NULL */
};

static char line_buf[WIRE_TEXT_MAX_HARD + TEXT_LINE_EXTRA + 1];

size_t
text_line_max(const struct config *cfg)
{
	return cfg->max_text + TEXT_LINE_EXTRA;
}

/* Seconds east of UTC at time_ms, for the clock shown on each line. */
static long
utc_offset(uint64_t time_ms)
{
	time_t t = (time_t)(time_ms / 1000);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return tm.tm_gmtoff;
}

/* Queue a server-made line: printf-style, then CRLF. */
static void send_line(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
send_line(struct conn *c, const char *fmt, ...)
{
	char tmp[512];
	uint8_t *p;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(tmp) - 3)
		n = (int)sizeof(tmp) - 3;
	/* A line end, not a string end: the bytes go out as counted. */
	memcpy(tmp + n, "\r\n", 2); /* NOLINT(bugprone-not-null-terminated-result) */
	p = conn_reserve(c, (size_t)n + 2);
	memcpy(p, tmp, (size_t)n + 2);
	conn_commit(c, (size_t)n + 2);
}

/* Queue bytes as they are (a prompt has no line end). */
static void
send_raw(struct conn *c, const char *s)
{
	size_t n = strlen(s);

	memcpy(conn_reserve(c, n), s, n);
	conn_commit(c, n);
}

/* Lines rendered for many readers go through the arena, like framed
 * ones; history lines get blocks of their own (see framed.c). */
static struct arena arena;
static char render_buf[TERM_LINE_MAX(WIRE_TEXT_MAX_HARD)];

static struct slice
to_slice(const char *s, size_t n, int own_block)
{
	struct blk *b;

	if (!own_block) {
		memcpy(arena_reserve(&arena, n), s, n);
		return arena_commit(&arena, n);
	}
	b = blk_new(n);
	memcpy(b->data, s, n);
	b->len = (uint32_t)n;
	return (struct slice){b, 0, b->len};
}

static struct slice
render_message(const struct msg *m, int history)
{
	size_t n = term_message(render_buf, sizeof(render_buf), m, history, utc_offset(m->time_ms));

	return to_slice(render_buf, n, history);
}

static struct slice
render_presence(const struct pres *p)
{
	size_t n = term_presence(render_buf, sizeof(render_buf), p, utc_offset(p->time_ms));

	return to_slice(render_buf, n, 0);
}

void
text_cleanup(void)
{
	arena_release(&arena);
}

static void
on_message(void *ctx, struct msg *m)
{
	conn_send(ctx, msg_wire(m, MSG_FMT_TEXT, 0, render_message));
}

static void
on_presence(void *ctx, struct pres *p)
{
	conn_send(ctx, pres_wire(p, MSG_FMT_TEXT, render_presence));
}

static const struct sink text_sink = {on_message, on_presence};

/* What a user typed, made safe to quote back at them (at most 40 bytes of
 * it): their own control characters must not reach their terminal either. */
static int
quote(char *out, size_t cap, const char *arg, size_t n)
{
	struct term_buf b;

	term_init(&b, out, cap - 1);
	term_safe(&b, arg, n > 40 ? 40 : n);
	out[b.len] = '\0';
	return (int)b.len;
}

/* Explain a refusal in words a person can act on. */
static void
send_error(struct conn *c, int code, const char *raw, size_t rawn)
{
	const struct config *cfg = &c->srv->cfg;
	char arg[128];
	int n = quote(arg, sizeof(arg), raw, rawn);

	switch (code) {
	case WIRE_E_NICK_INVALID:
		send_line(c,
		          "! a name is 1 to %u letters, digits, '_' or '-', starting with a "
		          "letter or '_'",
		          WIRE_NICK_MAX);
		break;
	case WIRE_E_NICK_TAKEN:
		send_line(c, "! the name %.*s is taken", n, arg);
		break;
	case WIRE_E_ROOM_INVALID:
		send_line(c, "! a room name is 1 to %u letters, digits, '_', '-' or '.'",
		          WIRE_ROOM_MAX);
		break;
	case WIRE_E_NOT_IN_ROOM:
		send_line(c, "! you are not in #%.*s", n, arg);
		break;
	case WIRE_E_NO_SUCH_ROOM:
		send_line(c, "! nobody is in #%.*s", n, arg);
		break;
	case WIRE_E_NO_SUCH_USER:
		send_line(c, "! nobody called %.*s is online", n, arg);
		break;
	case WIRE_E_TEXT_INVALID:
		send_line(c, "! that line is not UTF-8 text, or holds a NUL byte (set your "
		             "terminal to UTF-8)");
		break;
	case WIRE_E_TEXT_TOO_LONG:
		send_line(c, "! that message is too long: the limit is %u bytes", cfg->max_text);
		break;
	case WIRE_E_TOO_MANY_ROOMS:
		send_line(c, "! you are in too many rooms: the limit is %u", cfg->max_rooms);
		break;
	case WIRE_E_ROOM_FULL:
		send_line(c, "! #%.*s is full: the limit is %u members", n, arg, cfg->max_members);
		break;
	case WIRE_E_ROOM_LIMIT:
		send_line(
		        c,
		        "! no new rooms: the server is at its limit of %u rooms (max-rooms-total)",
		        cfg->max_rooms_total);
		break;
	default:
		send_line(c, "! %s", wire_error_name((uint16_t)code));
		break;
	}
}

/* Queue "prefix a b c ..." wrapped at TEXT_WIDTH; continuation lines
 * start with "*   " so that they still read as server lines. */
struct wrap {
	struct conn *c;
	char line[TEXT_WIDTH + 1];
	size_t len;
};

static void
wrap_begin(struct wrap *w, struct conn *c, const char *prefix)
{
	w->c = c;
	w->len = (size_t)snprintf(w->line, sizeof(w->line), "%s", prefix);
	if (w->len > TEXT_WIDTH)
		w->len = TEXT_WIDTH;
}

static void
wrap_add(struct wrap *w, const char *item, size_t n)
{
	static const char cont[] = "*   ";

	if (w->len + 1 + n > TEXT_WIDTH && w->len > sizeof(cont) - 1) {
		send_line(w->c, "%.*s", (int)w->len, w->line);
		memcpy(w->line, cont, sizeof(cont) - 1);
		w->len = sizeof(cont) - 1;
	} else {
		w->line[w->len++] = ' ';
	}
	if (n > TEXT_WIDTH - w->len)
		n = TEXT_WIDTH - w->len;
	memcpy(w->line + w->len, item, n);
	w->len += n;
}

static void
wrap_end(struct wrap *w)
{
	send_line(w->c, "%.*s", (int)w->len, w->line);
}

static void
set_room(struct text *t, const char *name, size_t n)
{
	memcpy(t->room, name, n);
	t->room[n] = '\0';
	t->room_len = (uint8_t)n;
}

/* Strip one leading '#': people type IRC-style names. */
static void
room_arg(const char **s, size_t *n)
{
	if (*n > 0 && (*s)[0] == '#') {
		(*s)++;
		(*n)--;
	}
}

/* The room a command names, or the current room when it names none. */
static void
room_or_current(const struct text *t, const char **s, size_t *n)
{
	room_arg(s, n);
	if (*n == 0) {
		*s = t->room;
		*n = t->room_len;
	}
}

/* The first word of s, and what follows it. */
static void
split_word(const char *s, size_t n, const char **w, size_t *wn, const char **rest, size_t *rn)
{
	size_t i = 0;

	while (i < n && s[i] != ' ')
		i++;
	*w = s;
	*wn = i;
	while (i < n && s[i] == ' ')
		i++;
	*rest = s + i;
	*rn = n - i;
}

static void
cmd_join(struct conn *c, const char *name, size_t n)
{
	struct text *t = c->fe_state;
	const struct history *h;
	struct core_joined j;
	struct wrap w;
	char head[160];
	unsigned i;
	int err;

	room_arg(&name, &n);
	if (n == 0) {
		send_line(c, "! usage: /join ROOM");
		return;
	}
	err = core_join(c->srv->core, c->sess, name, n, 0, 0, &j);
	if (err == WIRE_E_ALREADY_IN_ROOM) {
		struct room *r = core_room_find(c->srv->core, name, n);

		set_room(t, room_name(r), room_name_len(r));
		send_line(c, "* now talking in #%s", t->room);
		return;
	}
	if (err) {
		send_error(c, err, name, n);
		return;
	}
	set_room(t, room_name(j.room), room_name_len(j.room));
	snprintf(head, sizeof(head), "* joined #%s, %u member%s:", t->room, j.members,
	         j.members == 1 ? "" : "s");
	wrap_begin(&w, c, head);
	for (i = 0; i < j.members && i < 20; i++) {
		struct session *s = room_member(j.room, i);

		wrap_add(&w, session_nick(s), session_nick_len(s));
	}
	if (j.members > 20)
		wrap_add(&w, "... (/who for all)", 18);
	wrap_end(&w);
	if (j.hist_count)
		send_line(c, "* the last %u message%s of #%s:", j.hist_count,
		          j.hist_count == 1 ? "" : "s", t->room);
	h = room_history(j.room);
	for (i = 0; i < j.hist_count; i++)
		conn_send(c, msg_wire(history_at(h, j.hist_from + i), MSG_FMT_TEXT, 1,
		                      render_message));
}

/* After leaving the current room, the newest room left becomes current. */
static void
pick_room(struct conn *c)
{
	struct text *t = c->fe_state;
	unsigned n = session_room_count(c->sess);

	t->room[0] = '\0';
	t->room_len = 0;
	if (n > 0) {
		struct room *r = session_room(c->sess, n - 1);

		set_room(t, room_name(r), room_name_len(r));
	}
}

static void
cmd_part(struct conn *c, const char *name, size_t n)
{
	struct text *t = c->fe_state;
	int err, was_current;

	room_or_current(t, &name, &n);
	if (n == 0) {
		send_line(c, "! you are not in a room");
		return;
	}
	was_current = n == t->room_len && strncasecmp(name, t->room, n) == 0;
	err = core_part(c->srv->core, c->sess, name, n);
	if (err) {
		send_error(c, err, name, n);
		return;
	}
	if (was_current) {
		pick_room(c);
		if (t->room_len)
			send_line(c, "* now talking in #%s", t->room);
	}
}

static void
cmd_say(struct conn *c, const char *text, size_t n)
{
	struct text *t = c->fe_state;
	struct core_ack ack;
	int err;

	if (t->room_len == 0) {
		send_line(c, "! you are not in a room: /join ROOM first (/rooms lists them)");
		return;
	}
	err = core_say(c->srv->core, c->sess, t->room, t->room_len, text, n, &ack);
	if (err)
		send_error(c, err, t->room, t->room_len);
}

static void
cmd_msg(struct conn *c, const char *args, size_t n)
{
	const char *nick, *text;
	struct core_ack ack;
	size_t nn, tn;
	int err;

	split_word(args, n, &nick, &nn, &text, &tn);
	if (nn == 0 || tn == 0) {
		send_line(c, "! usage: /msg NICK TEXT");
		return;
	}
	err = core_direct(c->srv->core, c->sess, nick, nn, text, tn, &ack);
	if (err) {
		send_error(c, err, nick, nn);
		return;
	}
	{
		/* Confirm delivery in the same shape as a received message. */
		struct term_buf b;
		char clock[6];
		char out[TERM_LINE_MAX(WIRE_TEXT_MAX_HARD)];

		term_init(&b, out, sizeof(out));
		term_clock(clock, ack.time_ms, utc_offset(ack.time_ms));
		term_str(&b, clock);
		term_str(&b, " -> *");
		term_raw(&b, nick, nn);
		term_str(&b, "* ");
		term_safe(&b, text, tn);
		term_eol(&b);
		memcpy(conn_reserve(c, b.len), out, b.len);
		conn_commit(c, b.len);
	}
}

/* A long answer in progress (/rooms, /users, /who), a page per part. */
struct listing {
	uint8_t kind;                /* LIST_ROOMS, LIST_USERS or LIST_WHO */
	uint8_t started;             /* a page was sent: resume after key / serial */
	char key[WIRE_ROOM_MAX + 1]; /* the last room or nick given; /who: the room */
	uint32_t serial;             /* /who: the join serial of the last member given */
	struct wrap w;               /* the nick line being filled */
};

enum { LIST_ROOMS, LIST_USERS, LIST_WHO };

/* Lines per page of /rooms, nicks per page of /users and /who. */
#define TEXT_PAGE 64

/* The next page of c's listing; nonzero while more remains (see
 * framed_more() for how a page resumes). */
static int
text_more(struct conn *c)
{
	struct text *t = c->fe_state;
	struct listing *l = t->list;
	struct core *core = c->srv->core;
	const char *after = l->started ? l->key : NULL;
	struct session *sv[TEXT_PAGE + 1];
	struct room *rv[TEXT_PAGE + 1];
	size_t n, give, i;
	int more;

	l->w.c = c;
	if (l->kind == LIST_ROOMS) {
		n = core_rooms_after(core, after, rv, TEXT_PAGE + 1);
		give = n > TEXT_PAGE ? TEXT_PAGE : n;
		for (i = 0; i < give; i++)
			send_line(c, "*   #%-24s %u member%s", room_name(rv[i]),
			          room_member_count(rv[i]),
			          room_member_count(rv[i]) == 1 ? "" : "s");
		if (give)
			snprintf(l->key, sizeof(l->key), "%s", room_key(rv[give - 1]));
		more = n > give;
	} else if (l->kind == LIST_USERS) {
		n = core_users_after(core, after, sv, TEXT_PAGE + 1);
		give = n > TEXT_PAGE ? TEXT_PAGE : n;
		for (i = 0; i < give; i++)
			wrap_add(&l->w, session_nick(sv[i]), session_nick_len(sv[i]));
		if (give)
			snprintf(l->key, sizeof(l->key), "%s", session_key(sv[give - 1]));
		more = n > give;
	} else {
		/* The room may have emptied since the last page. */
		struct room *r = core_room_find(core, l->key, strlen(l->key));

		give = r ? room_members_after(r, l->serial, sv, TEXT_PAGE, &l->serial) : 0;
		for (i = 0; i < give; i++)
			wrap_add(&l->w, session_nick(sv[i]), session_nick_len(sv[i]));
		more = r && give == TEXT_PAGE && l->serial < room_last_serial(r);
	}
	l->started = 1;
	if (more)
		return 1;
	if (l->kind != LIST_ROOMS)
		wrap_end(&l->w);
	slab_free(l, sizeof(*l));
	t->list = NULL;
	return 0;
}

/* Start a listing under a header line: its first page now, the rest as c
 * reads (conn_produce). */
static void
listing_start(struct conn *c, int kind, const char *head, const char *room)
{
	struct text *t = c->fe_state;
	struct listing *l = slab_zalloc(sizeof(*l));

	l->kind = (uint8_t)kind;
	snprintf(l->key, sizeof(l->key), "%s", room);
	if (kind == LIST_ROOMS)
		send_line(c, "%s", head);
	else
		wrap_begin(&l->w, c, head);
	t->list = l;
	if (text_more(c))
		conn_produce(c);
}

static void
cmd_rooms(struct conn *c)
{
	size_t n = core_room_count(c->srv->core);
	char head[64];

	if (n == 0) {
		send_line(c, "* no rooms yet: /join ROOM creates one");
		return;
	}
	snprintf(head, sizeof(head), "* %zu room%s:", n, n == 1 ? "" : "s");
	listing_start(c, LIST_ROOMS, head, "");
}

static void
cmd_who(struct conn *c, const char *name, size_t n)
{
	struct text *t = c->fe_state;
	struct room *r;
	char head[100];

	room_or_current(t, &name, &n);
	if (n == 0) {
		send_line(c, "! usage: /who ROOM");
		return;
	}
	if (!valid_room(name, n)) {
		send_error(c, WIRE_E_ROOM_INVALID, name, n);
		return;
	}
	if ((r = core_room_find(c->srv->core, name, n)) == NULL) {
		send_error(c, WIRE_E_NO_SUCH_ROOM, name, n);
		return;
	}
	snprintf(head, sizeof(head), "* #%s, %u member%s:", room_name(r), room_member_count(r),
	         room_member_count(r) == 1 ? "" : "s");
	listing_start(c, LIST_WHO, head, room_name(r));
}

static void
cmd_users(struct conn *c)
{
	size_t n = core_user_count(c->srv->core);
	char head[64];

	snprintf(head, sizeof(head), "* %zu user%s online:", n, n == 1 ? "" : "s");
	listing_start(c, LIST_USERS, head, "");
}

static void
cmd_help(struct conn *c)
{
	send_line(c, "* plain lines go to your current room (the last one you joined)");
	send_line(c, "*   /join ROOM      join a room, or make it your current room");
	send_line(c, "*   /part [ROOM]    leave a room (default: the current one)");
	send_line(c, "*   /msg NICK TEXT  send a private message");
	send_line(c, "*   /me ACTION      act in the current room");
	send_line(c, "*   /nick NEW       change your name");
	send_line(c, "*   /rooms          list rooms");
	send_line(c, "*   /who [ROOM]     list the members of a room");
	send_line(c, "*   /users          list the users online");
	send_line(c, "*   /help           this list");
	send_line(c, "*   /quit           leave");
	send_line(c, "* a line starting with // sends one starting with /");
}

static void
text_bye(struct conn *c, uint8_t reason)
{
	if (reason == WIRE_R_NONE)
		send_line(c, "* bye");
	else if (reason == WIRE_R_SHUTDOWN)
		send_line(c, "* the server is shutting down; bye");
	else
		send_line(c, "* disconnected: %s", wire_reason_name(reason));
}

static int
is_cmd(const char *cmd, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(cmd, word, n) == 0;
}

static void
prompt_name(struct conn *c)
{
	send_raw(c, "Your name: ");
}

/* Before registration every line is a name to try. */
static void
register_line(struct conn *c, const char *line, size_t n)
{
	const struct config *cfg = &c->srv->cfg;
	size_t rooms;
	int err;

	while (n > 0 && line[n - 1] == ' ')
		n--;
	while (n > 0 && line[0] == ' ')
		line++, n--;
	if (n == 0) {
		prompt_name(c);
		return;
	}
	if (is_cmd(line, n, "/quit")) {
		text_bye(c, WIRE_R_NONE);
		conn_close_after_flush(c, WIRE_R_NONE, CHATD_DRAIN_TIMEOUT);
		return;
	}
	err = core_hello(c->srv->core, c->sess, line, n);
	if (err) {
		send_error(c, err, line, n);
		prompt_name(c);
		return;
	}
	log_info("conn %s: registered as %s (text)", conn_peer(c), session_nick(c->sess));
	rooms = core_room_count(c->srv->core);
	/* Server lines stay within 80 columns: a telnet window wraps them. */
	send_line(c, "* hello %s, %zu room%s open", session_nick(c->sess), rooms,
	          rooms == 1 ? " is" : "s are");
	send_line(c, "* /rooms lists them, /join ROOM enters one, /help lists all commands");
	if (cfg->flood_rate)
		send_line(c, "* limits: messages up to %u bytes, %u lines a second (bursts of %u)",
		          cfg->max_text, cfg->flood_rate, cfg->flood_burst);
	else
		send_line(c, "* limits: messages up to %u bytes", cfg->max_text);
}

static void
command(struct conn *c, const char *cmd, size_t cn, const char *rest, size_t rn)
{
	struct core *core = c->srv->core;
	int err;

	while (rn > 0 && rest[rn - 1] == ' ')
		rn--;
	if (is_cmd(cmd, cn, "join") || is_cmd(cmd, cn, "j")) {
		cmd_join(c, rest, rn);
	} else if (is_cmd(cmd, cn, "part") || is_cmd(cmd, cn, "leave")) {
		cmd_part(c, rest, rn);
	} else if (is_cmd(cmd, cn, "msg") || is_cmd(cmd, cn, "m")) {
		cmd_msg(c, rest, rn);
	} else if (is_cmd(cmd, cn, "me")) {
		/* An action travels as text starting with "/me ", which every
		 * front end shows as an action. */
		char action[WIRE_TEXT_MAX_HARD + 8];

		if (rn == 0) {
			send_line(c, "! usage: /me ACTION");
			return;
		}
		if (rn > sizeof(action) - 4)
			rn = sizeof(action) - 4;
		/* Counted bytes, not a C string. */
		memcpy(action, "/me ", 4); /* NOLINT(bugprone-not-null-terminated-result) */
		memcpy(action + 4, rest, rn);
		cmd_say(c, action, rn + 4);
	} else if (is_cmd(cmd, cn, "nick")) {
		if (rn == 0) {
			send_line(c, "! usage: /nick NEW");
			return;
		}
		if ((err = core_nick(core, c->sess, rest, rn)) != 0)
			send_error(c, err, rest, rn);
	} else if (is_cmd(cmd, cn, "rooms") || is_cmd(cmd, cn, "list")) {
		cmd_rooms(c);
	} else if (is_cmd(cmd, cn, "who") || is_cmd(cmd, cn, "names")) {
		cmd_who(c, rest, rn);
	} else if (is_cmd(cmd, cn, "users")) {
		cmd_users(c);
	} else if (is_cmd(cmd, cn, "help") || is_cmd(cmd, cn, "?")) {
		cmd_help(c);
	} else if (is_cmd(cmd, cn, "quit") || is_cmd(cmd, cn, "exit")) {
		text_bye(c, WIRE_R_NONE);
		conn_close_after_flush(c, WIRE_R_NONE, CHATD_DRAIN_TIMEOUT);
	} else {
		char word[128];

		quote(word, sizeof(word), cmd, cn);
		send_line(c, "! unknown command /%s: /help lists the commands", word);
	}
}

static void
handle_line(struct conn *c, const char *line, size_t n)
{
	const char *cmd, *rest;
	size_t cn, rn, blank = 0;

	if (!session_registered(c->sess)) {
		register_line(c, line, n);
		return;
	}
	while (blank < n && line[blank] == ' ')
		blank++;
	if (blank == n)
		return; /* nothing but spaces: nothing to say */
	if (line_command(line, n, &cmd, &cn, &rest, &rn)) {
		command(c, cmd, cn, rest, rn);
		return;
	}
	if (n >= 2 && line[0] == '/' && line[1] == '/') {
		line++;
		n--;
	}
	cmd_say(c, line, n);
}

static size_t
text_input(struct conn *c, const uint8_t *p, size_t len)
{
	struct text *t = c->fe_state;
	size_t off = 0;

	while (conn_ready(c) && off < len) {
		size_t used, n = 0;
		enum line_result r;

		/* A whole line costs a token; a partial one waits for free. */
		if (memchr(p + off, '\n', len - off) && !t->lr.discarding && !conn_spend(c))
			return off;
		r = line_next(&t->lr, p + off, len - off, &used, line_buf, &n);
		off += used;
		switch (r) {
		case LINE_MORE:
			return off;
		case LINE_TOO_LONG:
			send_line(c,
			          "! that line is too long: the limit is %zu bytes; it was "
			          "discarded",
			          t->lr.max);
			break;
		case LINE_SKIPPED:
			break;
		case LINE_OK:
			handle_line(c, line_buf, n);
			break;
		}
	}
	return off;
}

/* People cannot answer pings: let the kernel find vanished peers, after
 * about the same time an in-band ping would. */
static void
keepalive(struct conn *c)
{
	const struct config *cfg = &c->srv->cfg;
	int on = 1, idle = (int)cfg->ping_interval, cnt = 3;
	int intvl = (int)(cfg->ping_timeout / cnt);
	unsigned user = (unsigned)((cfg->ping_interval + cfg->ping_timeout) * 1000);

	if (idle < 1)
		idle = 1;
	if (intvl < 1)
		intvl = 1;
	(void)setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	/* Unacknowledged output also gives up after that long. */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user, sizeof(user));
}

static void
text_start(struct conn *c)
{
	struct text *t = slab_zalloc(sizeof(*t));

	line_reader_init(&t->lr, text_line_max(&c->srv->cfg));
	c->fe_state = t;
	c->sess = core_session_new(c->srv->core, &text_sink, c);
	keepalive(c);
	send_line(c, "* welcome to %s. Commands start with /, and /help lists them.",
	          c->srv->cfg.server_name);
	prompt_name(c);
}

static void
text_refuse(struct conn *c, uint16_t code, const char *why)
{
	send_line(c, "! %s: %s; bye", wire_error_name(code), why);
	conn_close_after_flush(c,
	                       code == WIRE_E_HANDSHAKE_TIMEOUT ? WIRE_R_HANDSHAKE_TIMEOUT
	                                                        : WIRE_R_PROTOCOL_ERROR,
	                       CHATD_DRAIN_TIMEOUT);
}

static void
text_end(struct conn *c)
{
	struct text *t = c->fe_state;

	if (t == NULL)
		return; /* refused before it started */
	slab_free(t->list, sizeof(*t->list));
	slab_free(t, sizeof(*t));
	c->fe_state = NULL;
}

const struct frontend text_frontend = {
        "text", text_input, text_start, NULL, text_bye, text_refuse, text_end, text_more,
};
