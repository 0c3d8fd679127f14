/*
 * The text front end: chat with telnet or nc.  Lines in, core commands
 * out, through a table of slash commands; core events and the completions
 * of commands in, terminal-safe lines out (rendered by term.c).  A person
 * has a current room, which plain lines go to.  Like the framed front end,
 * it decides nothing about rooms or names itself: it puts the core's
 * answers into words.
 */
#include "proto/text/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/core.h"
#include "core/valid.h"
#include "net/conn.h"
#include "proto/text/line.h"
#include "proto/text/term.h"
#include "util/arena.h"
#include "util/config.h"
#include "util/log.h"
#include "util/slab.h"

/* Room a command line needs beyond the message text ("/msg NICK "). */
#define TEXT_LINE_EXTRA 64
/* Lists are wrapped to this width, for an 80-column terminal. */
#define TEXT_WIDTH 78
/* Members named in a join's answer; /who names them all. */
#define TEXT_JOIN_NAMES 20
/* Messages one /history shows when it is not told how many. */
#define TEXT_HISTORY_PAGE 20

struct listing;

struct text {
	struct line_reader lr;
	char room[CORE_ROOM_MAX + 1]; /* the current room, "" for none */
	uint8_t room_len;
	struct listing *list; /* a long answer in progress, or NULL */
	uint64_t back;        /* /history shows what is before this seq (0: the newest) */
};

static char line_buf[CORE_TEXT_MAX + TEXT_LINE_EXTRA + 1];

/* Longest input line a text client may send, in bytes. */
static size_t
line_max(const struct config *cfg)
{
	return cfg->max_text + TEXT_LINE_EXTRA;
}

static size_t
text_input_max(const struct config *cfg)
{
	return line_max(cfg) + 2;
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
static char render_buf[TERM_LINE_MAX(CORE_TEXT_MAX)];

static struct slice
to_slice(const char *s, size_t n, int own_block)
{
	return arena_copy(&arena, s, n, own_block);
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

static void
text_cleanup(void)
{
	arena_release(&arena);
}

static void
on_message(void *ctx, struct msg *m)
{
	conn_send(ctx, msg_wire(m, text_frontend.slot, 0, render_message));
}

static void
on_presence(void *ctx, struct pres *p)
{
	conn_send(ctx, pres_wire(p, text_frontend.slot, render_presence));
}

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

/* Explain a refusal in words a person can act on; raw is what the
 * command named.  A limit's refusal names the limit (core_limit_text()). */
static void
send_error(struct conn *c, int err, const char *raw, size_t rawn)
{
	char arg[128], limit[96];
	int n = quote(arg, sizeof(arg), raw, rawn);

	if (core_limit_text(conn_core(c), err, limit, sizeof(limit)) == NULL)
		limit[0] = '\0';
	switch (err) {
	case CORE_E_NICK_INVALID:
		send_line(c,
		          "! a name is 1 to %u letters, digits, '_' or '-', starting with a "
		          "letter or '_'",
		          CORE_NICK_MAX);
		break;
	case CORE_E_NICK_TAKEN:
		send_line(c, "! the name %.*s is taken", n, arg);
		break;
	case CORE_E_ROOM_INVALID:
		send_line(c, "! a room name is 1 to %u letters, digits, '_', '-' or '.'",
		          CORE_ROOM_MAX);
		break;
	case CORE_E_NOT_IN_ROOM:
		send_line(c, "! you are not in #%.*s", n, arg);
		break;
	case CORE_E_NO_SUCH_ROOM:
		send_line(c, "! nobody is in #%.*s", n, arg);
		break;
	case CORE_E_NO_SUCH_USER:
		send_line(c, "! nobody called %.*s is online", n, arg);
		break;
	case CORE_E_TEXT_INVALID:
		send_line(c, "! that line is not UTF-8 text, or holds a NUL byte (set your "
		             "terminal to UTF-8)");
		break;
	case CORE_E_TEXT_TOO_LONG:
		send_line(c, "! that message is too long: %s", limit);
		break;
	case CORE_E_TOO_MANY_ROOMS:
		send_line(c, "! you are in too many rooms: %s", limit);
		break;
	case CORE_E_ROOM_FULL:
		send_line(c, "! #%.*s is full: %s", n, arg, limit);
		break;
	case CORE_E_ROOM_LIMIT:
		send_line(c, "! no new rooms: %s", limit);
		break;
	case CORE_E_STORE:
		send_line(c, "! history store unavailable: not taken, try again later");
		break;
	case CORE_E_CLUSTER:
		send_line(c, "! cluster unavailable: #%.*s cannot be reached now, try again later",
		          n, arg);
		break;
	default:
		send_line(c, "! %s", core_err_name(err));
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
	t->back = 0;
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

/* --- completions of the core's commands --- */

/* The topic of r in one line (a join's, or /topic's answer). */
static void
show_topic(struct conn *c, const struct room *r)
{
	const char *by, *text;
	uint64_t ms;
	size_t n;

	text = room_topic(r, &n, &by, &ms);
	n = term_topic(render_buf, sizeof(render_buf), room_name(r), room_name_len(r), text, n, by,
	               ms, utc_offset(ms));
	memcpy(conn_reserve(c, n), render_buf, n);
	conn_commit(c, n);
}

/* A join: the members (the first few), the history, then live lines. */
static void
show_joined(struct conn *c, const struct core_joined *j)
{
	struct text *t = c->fe_state;
	struct wrap w;
	char head[160];
	unsigned i;
	size_t n;

	set_room(t, room_name(j->room), room_name_len(j->room));
	snprintf(head, sizeof(head), "* joined #%s, %u member%s:", t->room, j->members,
	         j->members == 1 ? "" : "s");
	wrap_begin(&w, c, head);
	for (i = 0; i < j->members && i < TEXT_JOIN_NAMES; i++) {
		struct session *s = room_member(j->room, i);

		wrap_add(&w, session_nick(s), session_nick_len(s));
	}
	if (j->members > TEXT_JOIN_NAMES)
		wrap_add(&w, "... (/who for all)", 18);
	wrap_end(&w);
	if (room_topic(j->room, &n, NULL, NULL) && n)
		show_topic(c, j->room);
	if (j->hist_count)
		send_line(c, "* the last %u message%s of #%s:", j->hist_count,
		          j->hist_count == 1 ? "" : "s", t->room);
	for (i = 0; i < j->hist_count; i++)
		conn_send(c,
		          msg_wire(core_joined_msg(j, i), text_frontend.slot, 1, render_message));
	t->back = j->hist_count ? core_joined_msg(j, 0)->seq : j->last_seq + 1;
}

static void prompt_name(struct conn *c);

/* Registered: the greeting, and the budgets a person should know. */
static void
show_hello(struct conn *c)
{
	const struct config *cfg = conn_config(c);
	size_t rooms = core_room_count(conn_core(c));

	log_info("conn %s: registered as %s (text)", conn_peer(c), session_nick(c->sess));
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

/* A direct message was delivered: confirm it in the shape of one received. */
static void
show_sent(struct conn *c, const struct core_reply *r)
{
	char out[TERM_LINE_MAX(CORE_TEXT_MAX)];
	struct term_buf b;
	char clock[6];

	term_init(&b, out, sizeof(out));
	term_clock(clock, r->ack.time_ms, utc_offset(r->ack.time_ms));
	term_str(&b, clock);
	term_str(&b, " -> *");
	term_raw(&b, r->arg, r->arg_len);
	term_str(&b, "* ");
	term_safe(&b, r->msg->text, r->msg->text_len);
	term_eol(&b);
	memcpy(conn_reserve(c, b.len), out, b.len);
	conn_commit(c, b.len);
}

/* A command completed: put its outcome into words (tag: for a part, 1
 * when it left the current room). */
static void
on_done(void *ctx, const struct core_reply *r)
{
	struct conn *c = ctx;
	struct text *t = c->fe_state;

	if (r->cmd == CMD_JOIN && r->err == CORE_E_ALREADY_IN_ROOM) {
		struct room *room = core_room_find(conn_core(c), r->arg, r->arg_len);

		set_room(t, room_name(room), room_name_len(room));
		send_line(c, "* now talking in #%s", t->room);
		return;
	}
	if (r->cmd == CMD_TOPIC && r->err == CORE_E_TEXT_TOO_LONG) {
		send_line(c, "! a topic is at most %u bytes", CORE_TOPIC_MAX);
		return;
	}
	if (r->cmd == CMD_TOPIC && r->err == CORE_E_TEXT_INVALID) {
		send_line(c, "! a topic is one line of UTF-8 text, without control characters");
		return;
	}
	if (r->err) {
		send_error(c, r->err, r->arg, r->arg_len);
		if (r->cmd == CMD_HELLO)
			prompt_name(c);
		return;
	}
	switch (r->cmd) {
	case CMD_HELLO:
		show_hello(c);
		break;
	case CMD_JOIN:
		show_joined(c, &r->joined);
		break;
	case CMD_PART:
		if (r->tag) {
			pick_room(c);
			if (t->room_len)
				send_line(c, "* now talking in #%s", t->room);
		}
		break;
	case CMD_DIRECT:
		show_sent(c, r);
		break;
	default:
		break; /* a line said, a nick changed: the room's lines tell */
	}
}

static const struct sink text_sink = {on_message, on_presence, on_done, conn_busy};

/* A long answer in progress (/rooms, /users, /who), a page per part. */
struct listing {
	uint8_t kind;                /* LIST_ROOMS, LIST_USERS or LIST_WHO */
	uint8_t started;             /* a page was sent: resume after key / serial */
	char key[CORE_ROOM_MAX + 1]; /* the last room or nick given; /who: the room */
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
	struct core *core = conn_core(c);
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

/* --- the slash commands --- */

static void
cmd_join(struct conn *c, const char *name, size_t n)
{
	room_arg(&name, &n);
	if (n == 0) {
		send_line(c, "! usage: /join ROOM");
		return;
	}
	core_join(conn_core(c), c->sess, name, n, 0, 0, 0);
}

static void
cmd_part(struct conn *c, const char *args, size_t an)
{
	struct text *t = c->fe_state;
	const char *name, *reason;
	size_t n, rn;
	int current;

	/* "/part ROOM words": the words go to the members with the part. */
	split_word(args, an, &name, &n, &reason, &rn);
	room_or_current(t, &name, &n);
	if (n == 0) {
		send_line(c, "! you are not in a room");
		return;
	}
	current = n == t->room_len && strncasecmp(name, t->room, n) == 0;
	core_part(conn_core(c), c->sess, name, n, reason, rn, (uint64_t)current);
}

/* "/topic": the current room's topic; "/topic TEXT" sets it, "/topic
 * -delete" clears it; a first word "#room" names another room. */
static void
cmd_topic(struct conn *c, const char *args, size_t an)
{
	struct text *t = c->fe_state;
	const char *name = "", *text = args;
	size_t n = 0, tn = an;
	struct room *r;

	if (an > 0 && args[0] == '#')
		split_word(args, an, &name, &n, &text, &tn);
	room_or_current(t, &name, &n);
	if (n == 0) {
		send_line(c, "! you are not in a room: /topic #ROOM");
		return;
	}
	if (tn == 0) {
		if ((r = core_room_lookup(conn_core(c), name, n)) == NULL)
			send_error(c,
			           valid_room(name, n) ? CORE_E_NO_SUCH_ROOM : CORE_E_ROOM_INVALID,
			           name, n);
		else
			show_topic(c, r);
		return;
	}
	if (tn == 7 && memcmp(text, "-delete", 7) == 0)
		tn = 0;
	core_topic(conn_core(c), c->sess, name, n, text, tn, 0);
}

/* Plain lines: chat for the current room. */
static void
say(struct conn *c, const char *text, size_t n)
{
	struct text *t = c->fe_state;

	if (t->room_len == 0) {
		send_line(c, "! you are not in a room: /join ROOM first (/rooms lists them)");
		return;
	}
	core_say(conn_core(c), c->sess, t->room, t->room_len, text, n, 0);
}

static void
cmd_msg(struct conn *c, const char *args, size_t n)
{
	const char *nick, *text;
	size_t nn, tn;

	split_word(args, n, &nick, &nn, &text, &tn);
	if (nn == 0 || tn == 0) {
		send_line(c, "! usage: /msg NICK TEXT");
		return;
	}
	core_direct(conn_core(c), c->sess, nick, nn, text, tn, 0);
}

/* An action travels as text starting with "/me ", which every front end
 * shows as an action. */
static void
cmd_me(struct conn *c, const char *args, size_t n)
{
	char action[CORE_TEXT_MAX + 8];

	if (n == 0) {
		send_line(c, "! usage: /me ACTION");
		return;
	}
	if (n > sizeof(action) - 4)
		n = sizeof(action) - 4;
	/* Counted bytes, not a C string. */
	memcpy(action, "/me ", 4); /* NOLINT(bugprone-not-null-terminated-result) */
	memcpy(action + 4, args, n);
	say(c, action, n + 4);
}

static void
cmd_nick(struct conn *c, const char *args, size_t n)
{
	if (n == 0) {
		send_line(c, "! usage: /nick NEW");
		return;
	}
	core_nick(conn_core(c), c->sess, args, n, 0);
}

static void
cmd_rooms(struct conn *c, const char *args, size_t n)
{
	size_t rooms = core_room_count(conn_core(c));
	char head[64];

	(void)args;
	(void)n;
	if (rooms == 0) {
		send_line(c, "* no rooms yet: /join ROOM creates one");
		return;
	}
	snprintf(head, sizeof(head), "* %zu room%s:", rooms, rooms == 1 ? "" : "s");
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
		send_error(c, CORE_E_ROOM_INVALID, name, n);
		return;
	}
	if ((r = core_room_find(conn_core(c), name, n)) == NULL) {
		send_error(c, CORE_E_NO_SUCH_ROOM, name, n);
		return;
	}
	snprintf(head, sizeof(head), "* #%s, %u member%s:", room_name(r), room_member_count(r),
	         room_member_count(r) == 1 ? "" : "s");
	listing_start(c, LIST_WHO, head, room_name(r));
}

/* Further back in the current room, a page at a time: each /history
 * shows the N messages before the oldest one shown so far. */
static void
cmd_history(struct conn *c, const char *args, size_t n)
{
	struct text *t = c->fe_state;
	struct msg *page[CORE_PAGE_MAX];
	unsigned long want = TEXT_HISTORY_PAGE;
	struct room *r;
	int got, more, i;

	if (n) {
		char num[8], *end = num;

		snprintf(num, sizeof(num), "%.*s", n < sizeof(num) ? (int)n : (int)sizeof(num) - 1,
		         args);
		if (num[0] >= '0' && num[0] <= '9')
			want = strtoul(num, &end, 10);
		if (end == num || *end != '\0' || want == 0 || n >= sizeof(num)) {
			send_line(c, "! usage: /history [N], N from 1 to %u", CORE_PAGE_MAX);
			return;
		}
		if (want > CORE_PAGE_MAX)
			want = CORE_PAGE_MAX;
	}
	if (t->room_len == 0 ||
	    (r = core_room_lookup(conn_core(c), t->room, t->room_len)) == NULL ||
	    !room_has_member(r, c->sess)) {
		send_line(c, "! /history shows the current room's past: /join ROOM first");
		return;
	}
	if (t->back == 1) {
		send_line(c, "* that was the first message of #%s", t->room);
		return;
	}
	got = core_history_before(conn_core(c), r, t->back, (unsigned)want, page, &more);
	if (got < 0) {
		send_error(c, CORE_E_STORE, t->room, t->room_len);
		return;
	}
	if (got == 0) {
		send_line(c, "* nothing older of #%s is kept", t->room);
		return;
	}
	send_line(c, "* %d earlier message%s of #%s:", got, got == 1 ? "" : "s", t->room);
	t->back = page[0]->seq;
	for (i = 0; i < got; i++) {
		conn_send(c, msg_wire(page[i], text_frontend.slot, 1, render_message));
		msg_unref(page[i]);
	}
	if (more)
		send_line(c, "* (/history again for more)");
	else
		send_line(c, "* that was the %s of #%s",
		          t->back == 1 ? "first message" : "oldest kept", t->room);
}

static void
cmd_users(struct conn *c, const char *args, size_t n)
{
	size_t users = core_user_count(conn_core(c));
	char head[64];

	(void)args;
	(void)n;
	snprintf(head, sizeof(head), "* %zu user%s online:", users, users == 1 ? "" : "s");
	listing_start(c, LIST_USERS, head, "");
}

static void
text_bye(struct conn *c, uint8_t reason)
{
	if (reason == REASON_NONE)
		send_line(c, "* bye");
	else if (reason == REASON_SHUTDOWN)
		send_line(c, "* the server is shutting down; bye");
	else
		send_line(c, "* disconnected: %s", core_reason_name(reason));
}

static void
cmd_quit(struct conn *c, const char *args, size_t n)
{
	core_quit_reason(c->sess, args, n); /* the words its rooms hear */
	text_bye(c, REASON_NONE);
	conn_close_after_flush(c, REASON_NONE, CHATD_DRAIN_TIMEOUT);
}

static void cmd_help(struct conn *c, const char *args, size_t n);

/* The slash commands: name, alias, handler, and the line /help shows. */
struct command {
	const char *name;
	const char *alias; /* NULL: none */
	void (*run)(struct conn *c, const char *args, size_t n);
	const char *usage;
	const char *help;
};

static const struct command commands[] = {
        {"join", "j", cmd_join, "/join ROOM", "join a room, or make it your current room"},
        {"part", "leave", cmd_part, "/part [ROOM [WHY]]",
         "leave a room (default: the current one), saying why"},
        {"msg", "m", cmd_msg, "/msg NICK TEXT", "send a private message"},
        {"me", NULL, cmd_me, "/me ACTION", "act in the current room"},
        {"nick", NULL, cmd_nick, "/nick NEW", "change your name"},
        {"topic", NULL, cmd_topic, "/topic [TEXT]",
         "show or set the room's topic (-delete clears it)"},
        {"rooms", "list", cmd_rooms, "/rooms", "list rooms"},
        {"who", "names", cmd_who, "/who [ROOM]", "list the members of a room"},
        {"users", NULL, cmd_users, "/users", "list the users online"},
        {"history", "back", cmd_history, "/history [N]",
         "N earlier messages of the current room (default 20)"},
        {"help", "?", cmd_help, "/help", "this list"},
        {"quit", "exit", cmd_quit, "/quit [WHY]", "leave, saying why"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
cmd_help(struct conn *c, const char *args, size_t n)
{
	size_t i;

	(void)args;
	(void)n;
	send_line(c, "* plain lines go to your current room (the last one you joined)");
	for (i = 0; i < NCOMMANDS; i++)
		send_line(c, "*   %-19s%s", commands[i].usage, commands[i].help);
	send_line(c, "* a line starting with // sends one starting with /");
}

static int
is_cmd(const char *cmd, size_t n, const char *word)
{
	return word && strlen(word) == n && strncasecmp(cmd, word, n) == 0;
}

static void
command(struct conn *c, const char *cmd, size_t cn, const char *rest, size_t rn)
{
	char word[128];
	size_t i;

	while (rn > 0 && rest[rn - 1] == ' ')
		rn--;
	for (i = 0; i < NCOMMANDS; i++)
		if (is_cmd(cmd, cn, commands[i].name) || is_cmd(cmd, cn, commands[i].alias)) {
			commands[i].run(c, rest, rn);
			return;
		}
	quote(word, sizeof(word), cmd, cn);
	send_line(c, "! unknown command /%s: /help lists the commands", word);
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
	while (n > 0 && line[n - 1] == ' ')
		n--;
	while (n > 0 && line[0] == ' ')
		line++, n--;
	if (n == 0) {
		prompt_name(c);
		return;
	}
	if (is_cmd(line, n, "/quit")) {
		cmd_quit(c, "", 0);
		return;
	}
	core_hello(conn_core(c), c->sess, line, n, 0);
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
	say(c, line, n);
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

static void
text_start(struct conn *c)
{
	const struct config *cfg = conn_config(c);
	struct text *t = slab_zalloc(sizeof(*t));

	line_reader_init(&t->lr, line_max(cfg));
	c->fe_state = t;
	c->sess = core_session_new(conn_core(c), &text_sink, c);
	/* People cannot answer pings: let the kernel find vanished peers,
	 * after about the time an in-band ping would. */
	conn_keepalive(c, cfg->ping_interval, cfg->ping_timeout);
	send_line(c, "* welcome to %s. Commands start with /, and /help lists them.",
	          cfg->server_name);
	prompt_name(c);
}

static void
text_refuse(struct conn *c, enum conn_refusal why, const char *text)
{
	send_line(c, "! %s: %s; bye", why == REFUSE_HANDSHAKE ? "handshake timeout" : "server full",
	          text);
	conn_close_after_flush(
	        c, why == REFUSE_HANDSHAKE ? REASON_HANDSHAKE_TIMEOUT : REASON_PROTOCOL_ERROR,
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

/* People are the fallback: whatever no program's rule claims, and
 * whoever says nothing, is greeted as a person. */
struct frontend text_frontend = {
        .name = "text",
        .fallback = 1,
        .input_max = text_input_max,
        .start = text_start,
        .input = text_input,
        .bye = text_bye,
        .refuse = text_refuse,
        .end = text_end,
        .more = text_more,
        .cleanup = text_cleanup,
};
