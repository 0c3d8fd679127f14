/*
 * The routes of the HTTP API (docs/http.md section 5): a table of method,
 * path pattern, handler and what the handler needs (a session, a JSON
 * body), then one function per route.  Commands go to the core and come
 * back through api_done(); reads look at the core directly.  Names in
 * paths are [A-Za-z0-9_.-] once valid, so they need no escaping in JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/valid.h"
#include "net/conn.h"
#include "proto/http/http.h"
#include "proto/http/web.h"
#include "util/config.h"

#define LIST_DEFAULT 100
#define LIST_MAX     1000

/* What a handler is given. */
struct call {
	struct hconn *h;
	struct hsess *hs;                /* NULL: a public read without a token */
	char arg[CORE_ROOM_MAX * 4 + 1]; /* the {room} or {nick} of the path, decoded */
	size_t arg_len;
	json_t *body; /* a JSON object, for routes that take one */
};

typedef void handler(struct call *k);

enum {
	R_SESSION = 1, /* a token is needed */
	R_PUBLIC = 2,  /* a token is needed unless public read is on */
	R_BODY = 4,    /* a JSON object body is needed */
};

struct route {
	const char *method;
	const char *pattern; /* '*' is one path segment, handed over as arg */
	handler *fn;
	unsigned flags;
};

static handler session_create, session_delete, rooms_list, room_info, room_topic_set, room_join,
        room_leave, room_members, room_read, room_say, user_direct, users_list, me, me_rooms,
        me_events, events_stream, healthz, metrics, websocket, web_index, web_js, web_css;

static const struct route routes[] = {
        {"POST", "/api/v1/session", session_create, R_BODY},
        {"DELETE", "/api/v1/session", session_delete, R_SESSION},
        {"GET", "/api/v1/rooms", rooms_list, R_PUBLIC},
        {"GET", "/api/v1/rooms/*", room_info, R_PUBLIC},
        {"POST", "/api/v1/rooms/*/topic", room_topic_set, R_SESSION | R_BODY},
        {"POST", "/api/v1/rooms/*/join", room_join, R_SESSION},
        {"POST", "/api/v1/rooms/*/leave", room_leave, R_SESSION},
        {"GET", "/api/v1/rooms/*/members", room_members, R_PUBLIC},
        {"GET", "/api/v1/rooms/*/messages", room_read, R_PUBLIC},
        {"POST", "/api/v1/rooms/*/messages", room_say, R_SESSION | R_BODY},
        {"GET", "/api/v1/users", users_list, R_SESSION},
        {"POST", "/api/v1/users/*/messages", user_direct, R_SESSION | R_BODY},
        {"GET", "/api/v1/me", me, R_SESSION},
        {"GET", "/api/v1/me/rooms", me_rooms, R_SESSION},
        {"GET", "/api/v1/me/events", me_events, R_SESSION},
        {"GET", "/api/v1/events", events_stream, R_SESSION},
        {"GET", "/ws", websocket, 0},
        {"GET", "/", web_index, 0},
        {"GET", "/chat.js", web_js, 0},
        {"GET", "/chat.css", web_css, 0},
        {"GET", "/healthz", healthz, 0},
        {"GET", "/metrics", metrics, 0},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* --- the core's vocabulary in HTTP --- */

int
api_error_of(int err, const char **code)
{
	static const struct {
		int status;
		const char *code;
	} map[CORE_E_COUNT] = {
	        [CORE_E_NOT_REGISTERED] = {400, "not_registered"},
	        [CORE_E_ALREADY_REGISTERED] = {400, "already_registered"},
	        [CORE_E_NICK_INVALID] = {400, "nick_invalid"},
	        [CORE_E_NICK_TAKEN] = {409, "nick_taken"},
	        [CORE_E_ROOM_INVALID] = {400, "room_invalid"},
	        [CORE_E_TEXT_INVALID] = {400, "text_invalid"},
	        [CORE_E_TEXT_TOO_LONG] = {400, "text_too_long"},
	        [CORE_E_NOT_IN_ROOM] = {403, "not_in_room"},
	        [CORE_E_ALREADY_IN_ROOM] = {409, "already_in_room"},
	        [CORE_E_NO_SUCH_ROOM] = {404, "no_such_room"},
	        [CORE_E_NO_SUCH_USER] = {404, "no_such_user"},
	        [CORE_E_TOO_MANY_ROOMS] = {403, "too_many_rooms"},
	        [CORE_E_ROOM_FULL] = {403, "room_full"},
	        [CORE_E_ROOM_LIMIT] = {503, "room_limit"},
	        [CORE_E_STORE] = {503, "store_unavailable"},
	        [CORE_E_CLUSTER] = {503, "cluster_unavailable"},
	};
	int ok = err > 0 && err < CORE_E_COUNT;

	*code = ok ? map[err].code : "bad_request";
	return ok ? map[err].status : 400;
}

void
api_error_text(struct core *core, const struct core_reply *r, char *out, size_t n)
{
	char limit[160];
	const char *why = core_limit_text(core, r->err, limit, sizeof(limit));

	if (why)
		snprintf(out, n, "%s: %s", core_err_name(r->err), why);
	else if (r->arg_len)
		snprintf(out, n, "%s: %.*s", core_err_name(r->err), (int)r->arg_len, r->arg);
	else
		snprintf(out, n, "%s", core_err_name(r->err));
}

/* A refusal of the core's that names a room, as a whole answer (503s
 * carry Retry-After). */
static void
room_error(struct hconn *h, int err, const char *room, size_t n)
{
	const char *code;
	int status = api_error_of(err, &code);

	if (status == 503)
		http_extra("Retry-After: 5\r\n");
	http_error(h, status, code, "%s: %.*s", core_err_name(err), (int)n, room);
	http_end(h);
}

static void
core_error(struct hconn *h, const struct core_reply *r)
{
	const char *code;
	int status = api_error_of(r->err, &code);
	char text[256];

	if (status == 503)
		http_extra("Retry-After: 5\r\n");
	api_error_text(conn_core(h->c), r, text, sizeof(text));
	http_error(h, status, code, "%s", text);
}

static void
cursor_text(char *out, size_t n, uint64_t epoch, uint64_t seq)
{
	snprintf(out, n, "%llu-%llu", (unsigned long long)epoch, (unsigned long long)seq);
}

/* --- query values --- */

/* A number query parameter: def when absent, -1 (answered 400) when bad. */
static int
query_num(struct call *k, const char *name, double lo, double hi, double def, double *out)
{
	char buf[32], *end;
	int n = http_query(k->h, name, buf, sizeof(buf));

	*out = def;
	if (n == -1)
		return 0;
	errno = 0;
	*out = n >= 0 ? strtod(buf, &end) : 0;
	if (n <= 0 || *end != '\0' || errno || !(*out >= lo)) {
		http_error(k->h, 400, "bad_request", "%s: not a number from %g", name, lo);
		http_end(k->h);
		return -1;
	}
	if (*out > hi)
		*out = hi;
	return 0;
}

static int
query_limit(struct call *k, size_t *limit)
{
	double d;

	if (query_num(k, "limit", 1, LIST_MAX, LIST_DEFAULT, &d) < 0)
		return -1;
	*limit = (size_t)d;
	return 0;
}

/* A cursor EPOCH-SEQ: 1 given, 0 absent, -1 bad (answered). */
static int
query_cursor(struct call *k, uint64_t *epoch, uint64_t *seq)
{
	char buf[48], *end;
	int n = http_query(k->h, "after", buf, sizeof(buf));
	unsigned long long e, s;

	if (n == -1)
		return 0;
	errno = 0;
	e = n > 0 ? strtoull(buf, &end, 10) : 0;
	if (n <= 0 || buf[0] == '-' || *end != '-' || errno)
		goto bad;
	s = strtoull(end + 1, &end, 10);
	if (*end != '\0' || errno || end[-1] == '-')
		goto bad;
	*epoch = e;
	*seq = s;
	return 1;
bad:
	http_error(k->h, 400, "bad_request", "after: not a cursor EPOCH-SEQ");
	http_end(k->h);
	return -1;
}

/* A text field of the body, or NULL (answered 400). */
static const char *
body_string(struct call *k, const char *field, size_t *n)
{
	json_t *v = json_object_get(k->body, field);

	if (!json_is_string(v)) {
		http_error(k->h, 400, "bad_json", "the body needs \"%s\": a string", field);
		http_end(k->h);
		return NULL;
	}
	*n = json_string_length(v);
	return json_string_value(v);
}

/* --- sessions --- */

static void
session_create(struct call *k)
{
	size_t n;
	const char *nick = body_string(k, "nick", &n);

	if (nick)
		hsess_create(k->h, nick, n);
}

static void
session_delete(struct call *k)
{
	hsess_end(k->hs);
	http_reply(k->h, 204, NULL, NULL, NULL, 0);
	http_end(k->h);
}

static void
created(struct hconn *h)
{
	const struct config *cfg = conn_config(h->c);
	const char *token = hsess_token(h->hs);
	char cookie[128];

	snprintf(cookie, sizeof(cookie),
	         "Set-Cookie: chatd_token=%s; HttpOnly; SameSite=Strict; Path=/\r\n", token);
	http_extra(cookie);
	http_reply_json(h, 201,
	                json_pack("{s:s, s:s, s:{s:I, s:I, s:I, s:f, s:f, s:I, s:I}}", "token",
	                          token, "nick", session_nick(hsess_core(h->hs)), "limits",
	                          "max_text", (json_int_t)cfg->max_text, "max_rooms",
	                          (json_int_t)cfg->max_rooms, "history_len",
	                          (json_int_t)cfg->history, "session_timeout",
	                          cfg->http_session_timeout, "max_wait", cfg->http_max_wait,
	                          "mailbox", (json_int_t)cfg->http_mailbox, "mailbox_bytes",
	                          (json_int_t)cfg->http_mailbox_bytes));
}

void
api_done(struct hconn *h, const struct core_reply *r)
{
	const struct room *room;
	char cursor[48];

	if (r->err) {
		core_error(h, r);
		http_end(h);
		return;
	}
	switch (r->cmd) {
	case CMD_HELLO:
		created(h);
		break;
	case CMD_JOIN:
		cursor_text(cursor, sizeof(cursor), r->joined.epoch, r->joined.last_seq);
		http_reply_json(h, 200,
		                json_pack("{s:s, s:I, s:I, s:s, s:I, s:o}", "room",
		                          room_name(r->joined.room), "epoch",
		                          (json_int_t)r->joined.epoch, "last_seq",
		                          (json_int_t)r->joined.last_seq, "cursor", cursor,
		                          "members", (json_int_t)r->joined.members, "topic",
		                          render_topic_object(r->joined.room)));
		break;
	case CMD_TOPIC:
		room = core_room_lookup(conn_core(h->c), r->arg, r->arg_len);
		http_reply_json(h, 200,
		                json_pack("{s:s#, s:o}", "room", r->arg, (int)r->arg_len, "topic",
		                          room ? render_topic_object(room) : json_null()));
		break;
	case CMD_SAY:
		cursor_text(cursor, sizeof(cursor), r->msg->epoch, r->ack.seq);
		http_reply_json(h, 201,
		                json_pack("{s:I, s:I, s:s, s:I}", "seq", (json_int_t)r->ack.seq,
		                          "time", (json_int_t)r->ack.time_ms, "cursor", cursor,
		                          "id", (json_int_t)r->msg->id));
		break;
	case CMD_DIRECT:
		http_reply_json(h, 201,
		                json_pack("{s:I, s:I}", "time", (json_int_t)r->ack.time_ms, "id",
		                          (json_int_t)r->msg->id));
		break;
	default: /* CMD_PART */
		http_reply(h, 204, NULL, NULL, NULL, 0);
		break;
	}
	http_end(h);
}

/* --- rooms --- */

static void
room_command(struct call *k, int cmd)
{
	struct core *core = conn_core(k->h->c);
	struct session *s = hsess_core(k->hs);
	size_t tn = 0;
	const char *text = NULL;

	if (cmd == CMD_SAY || cmd == CMD_DIRECT || cmd == CMD_TOPIC)
		if ((text = body_string(k, "text", &tn)) == NULL)
			return;
	hsess_begin(k->hs, k->h);
	switch (cmd) {
	case CMD_JOIN:
		core_join(core, s, k->arg, k->arg_len, 0, 0, k->h->serial);
		break;
	case CMD_PART:
		core_part(core, s, k->arg, k->arg_len, "", 0, k->h->serial);
		break;
	case CMD_SAY:
		core_say(core, s, k->arg, k->arg_len, text, tn, k->h->serial);
		break;
	case CMD_TOPIC:
		core_topic(core, s, k->arg, k->arg_len, text, tn, k->h->serial);
		break;
	default:
		core_direct(core, s, k->arg, k->arg_len, text, tn, k->h->serial);
		break;
	}
	hsess_finish(k->hs, k->h);
}

static void
room_join(struct call *k)
{
	room_command(k, CMD_JOIN);
}

static void
room_leave(struct call *k)
{
	room_command(k, CMD_PART);
}

static void
room_say(struct call *k)
{
	room_command(k, CMD_SAY);
}

static void
user_direct(struct call *k)
{
	room_command(k, CMD_DIRECT);
}

static void
room_topic_set(struct call *k)
{
	room_command(k, CMD_TOPIC);
}

/* The folded form of an "after" name for a listing ("" when absent). */
static int
query_after_name(struct call *k, char *key, size_t cap)
{
	char name[CORE_ROOM_MAX + 1];
	int n = http_query(k->h, "after", name, sizeof(name));

	key[0] = '\0';
	if (n == -1)
		return 0;
	if (n < 0 || (size_t)n >= cap) {
		http_error(k->h, 400, "bad_request", "after: not a name");
		http_end(k->h);
		return -1;
	}
	valid_fold(key, name, (size_t)n);
	return 1;
}

/* A page of rooms or of users, in name order. */
static void
names_page(struct call *k, int users)
{
	struct session *sess[LIST_MAX];
	struct room *rooms[LIST_MAX];
	char key[CORE_ROOM_MAX + 1];
	struct core *core = conn_core(k->h->c);
	json_t *list = json_array(), *next = json_null();
	size_t limit, n, i;
	int given;

	if (query_limit(k, &limit) < 0 || (given = query_after_name(k, key, sizeof(key))) < 0) {
		json_decref(list);
		return;
	}
	n = users ? core_users_after(core, given ? key : NULL, sess, limit)
	          : core_rooms_after(core, given ? key : NULL, rooms, limit);
	for (i = 0; i < n; i++)
		json_array_append_new(list,
		                      users ? json_string(session_nick(sess[i]))
		                            : json_pack("{s:s, s:I}", "name", room_name(rooms[i]),
		                                        "members",
		                                        (json_int_t)room_member_count(rooms[i])));
	if (n == limit) {
		json_decref(next);
		next = json_string(users ? session_nick(sess[n - 1]) : room_name(rooms[n - 1]));
	}
	http_reply_json(k->h, 200,
	                json_pack("{s:o, s:o}", users ? "users" : "rooms", list, "next", next));
	http_end(k->h);
}

static void
rooms_list(struct call *k)
{
	names_page(k, 0);
}

static void
users_list(struct call *k)
{
	names_page(k, 1);
}

/* The room named by the path, or NULL (answered). */
static struct room *
path_room(struct call *k)
{
	struct room *r;
	int err;

	if (!valid_room(k->arg, k->arg_len)) {
		http_error(k->h, 400, "room_invalid", "invalid room name: %.*s", (int)k->arg_len,
		           k->arg);
		http_end(k->h);
		return NULL;
	}
	/* A room only the store has (after a restart, or lingered out) is
	 * read back: its history is there to be read. */
	r = core_room_open(conn_core(k->h->c), k->arg, k->arg_len, &err);
	if (r == NULL && err) {
		room_error(k->h, err, k->arg, k->arg_len);
	} else if (r == NULL) {
		http_error(k->h, 404, "no_such_room", "no such room: %.*s", (int)k->arg_len,
		           k->arg);
		http_end(k->h);
	}
	return r;
}

static void
room_members(struct call *k)
{
	struct session *out[LIST_MAX];
	json_t *list = json_array();
	uint32_t last = 0;
	struct room *r;
	size_t limit, n, i;
	double after;

	if (query_limit(k, &limit) < 0 || query_num(k, "after", 0, 4294967295.0, 0, &after) < 0 ||
	    (r = path_room(k)) == NULL) {
		json_decref(list);
		return;
	}
	if (room_member_count(r) == 0) {
		json_decref(list);
		http_error(k->h, 404, "no_such_room", "no one is in %s", room_name(r));
		http_end(k->h);
		return;
	}
	n = room_members_after(r, (uint32_t)after, out, limit, &last);
	for (i = 0; i < n; i++)
		json_array_append_new(list, json_string(session_nick(out[i])));
	http_reply_json(k->h, 200,
	                json_pack("{s:s, s:o, s:I, s:o}", "room", room_name(r), "members", list,
	                          "count", (json_int_t)room_member_count(r), "next",
	                          n == limit ? json_integer(last) : json_null()));
	http_end(k->h);
}

/* One room: its members, its position and its topic. */
static void
room_info(struct call *k)
{
	struct room *r = path_room(k);
	char cursor[48];

	if (r == NULL)
		return;
	cursor_text(cursor, sizeof(cursor), room_epoch(r), room_last_seq(r));
	http_reply_json(k->h, 200,
	                json_pack("{s:s, s:I, s:I, s:I, s:s, s:o}", "name", room_name(r), "members",
	                          (json_int_t)room_member_count(r), "epoch",
	                          (json_int_t)room_epoch(r), "last_seq",
	                          (json_int_t)room_last_seq(r), "cursor", cursor, "topic",
	                          render_topic_object(r)));
	http_end(k->h);
}

/* Rooms of a session, each with its position now. */
static json_t *
rooms_of(const struct hsess *hs)
{
	const struct session *s = hsess_core(hs);
	json_t *list = json_array();
	unsigned i;

	for (i = 0; i < session_room_count(s); i++) {
		const struct room *r = session_room(s, i);
		char cursor[48];

		cursor_text(cursor, sizeof(cursor), room_epoch(r), room_last_seq(r));
		json_array_append_new(list, json_pack("{s:s, s:I, s:s}", "name", room_name(r),
		                                      "members", (json_int_t)room_member_count(r),
		                                      "cursor", cursor));
	}
	return list;
}

static void
me(struct call *k)
{
	http_reply_json(k->h, 200,
	                json_pack("{s:s, s:o}", "nick", session_nick(hsess_core(k->hs)), "rooms",
	                          rooms_of(k->hs)));
	http_end(k->h);
}

static void
me_rooms(struct call *k)
{
	http_reply_json(k->h, 200, json_pack("{s:o}", "rooms", rooms_of(k->hs)));
	http_end(k->h);
}

/* --- reading a room, at once or after a wait --- */

/* Slices to send, each holding a reference, and their total length. */
struct parts {
	struct slice *v;
	size_t n;
	size_t bytes;
};

static void
parts_add(struct parts *p, struct slice s)
{
	p->v[p->n++] = (struct slice){blk_ref(s.b), s.off, s.len};
	p->bytes += s.len;
}

/* Send "<open><part>,<part>...<close>" as the body of a JSON answer. */
static void
send_parts(struct hconn *h, const char *open, struct parts *p, const char *close)
{
	size_t i, len = strlen(open) + p->bytes + (p->n ? p->n - 1 : 0) + strlen(close);

	http_begin(h, 200, "application/json", NULL, len);
	http_write(h, open, strlen(open));
	for (i = 0; i < p->n; i++) {
		if (i)
			http_write(h, ",", 1);
		http_send(h, p->v[i]);
		blk_unref(p->v[i].b);
	}
	http_write(h, close, strlen(close));
	free(p->v);
	http_end(h);
}

/*
 * What a read of room r after (epoch, seq) gives: the index of the first
 * message and how many, with the flags of protocol.md 11.3.  No cursor
 * (have == 0): the last limit messages.
 */
static void
room_window(struct room *r, int have, uint64_t epoch, uint64_t seq, size_t limit, unsigned *from,
            unsigned *count, int *truncated, int *changed)
{
	const struct history *hist = room_history(r);
	unsigned len = history_len(hist);

	*truncated = *changed = 0;
	if (!have) {
		*from = len > limit ? len - (unsigned)limit : 0;
	} else if ((epoch == room_epoch(r) || epoch == 0) && seq <= room_last_seq(r)) {
		*from = history_after(hist, seq);
		*truncated = *from < len && history_at(hist, *from)->seq > seq + 1;
	} else {
		*from = 0;
		*truncated = *changed = 1;
	}
	*count = len - *from;
	if (*count > limit)
		*count = (unsigned)limit;
}

/* A cursor the ring no longer reaches: from the store and the ring, the
 * oldest limit messages after it. */
static void
answer_older(struct hconn *h, struct room *r, uint64_t seq, size_t limit)
{
	struct msg **v = malloc(limit * sizeof(*v));
	struct parts p = {NULL, 0, 0};
	char open[160], close[160], next[48];
	int n, truncated, i;

	if (v == NULL || (p.v = malloc((limit ? limit : 1) * sizeof(*p.v))) == NULL)
		abort();
	if ((n = core_history_after(conn_core(h->c), r, seq, (unsigned)limit, v, &truncated)) < 0) {
		free(v);
		free(p.v);
		room_error(h, CORE_E_STORE, room_name(r), room_name_len(r));
		return;
	}
	cursor_text(next, sizeof(next), room_epoch(r), n ? v[n - 1]->seq : seq);
	for (i = 0; i < n; i++) {
		parts_add(&p, render_json(render_msg(v[i], 1), v[i]->id, render_msg_event(v[i])));
		msg_unref(v[i]);
	}
	free(v);
	snprintf(open, sizeof(open), "{\"room\":\"%s\",\"messages\":[", room_name(r));
	snprintf(close, sizeof(close),
	         "],\"next\":\"%s\",\"truncated\":%s,\"epoch_changed\":false}", next,
	         truncated ? "true" : "false");
	send_parts(h, open, &p, close);
}

static void
answer_room(struct hconn *h, struct room *r, const char *name, int have, uint64_t epoch,
            uint64_t seq, size_t limit)
{
	char open[160], close[160], next[48];
	unsigned from = 0, count = 0, i;
	int truncated = 0, changed = 0;
	struct parts p = {NULL, 0, 0};

	if (r)
		room_window(r, have, epoch, seq, limit, &from, &count, &truncated, &changed);
	if (truncated && !changed) {
		/* Older than the ring: the store may have them. */
		answer_older(h, r, seq, limit);
		return;
	}
	p.v = malloc((count ? count : 1) * sizeof(*p.v));
	if (p.v == NULL)
		abort();
	for (i = 0; i < count; i++) {
		struct msg *m = history_at(room_history(r), from + i);

		parts_add(&p, render_json(render_msg(m, 1), m->id, render_msg_event(m)));
	}
	if (count) {
		struct msg *m = history_at(room_history(r), from + count - 1);

		cursor_text(next, sizeof(next), m->epoch, m->seq);
	} else if (have && !changed) {
		cursor_text(next, sizeof(next), epoch ? epoch : room_epoch(r), seq);
	} else if (r) {
		cursor_text(next, sizeof(next), room_epoch(r), room_last_seq(r));
	} else {
		cursor_text(next, sizeof(next), epoch, seq);
	}
	snprintf(open, sizeof(open), "{\"room\":\"%s\",\"messages\":[", r ? room_name(r) : name);
	snprintf(close, sizeof(close), "],\"next\":\"%s\",\"truncated\":%s,\"epoch_changed\":%s}",
	         next, truncated ? "true" : "false", changed ? "true" : "false");
	send_parts(h, open, &p, close);
}

/* Paging back: the newest limit messages before seq before (0: the
 * newest), oldest first; "more" says whether older ones remain, and
 * "before" is what to ask for next. */
static void
answer_before(struct hconn *h, struct room *r, uint64_t before, unsigned limit)
{
	struct msg *page[CORE_PAGE_MAX];
	struct parts p = {NULL, 0, 0};
	char open[160], close[160];
	uint64_t next;
	int n, more, i;

	if ((n = core_history_before(conn_core(h->c), r, before, limit, page, &more)) < 0) {
		room_error(h, CORE_E_STORE, room_name(r), room_name_len(r));
		return;
	}
	next = n ? page[0]->seq : before ? before : room_last_seq(r) + 1;
	p.v = malloc((n ? (size_t)n : 1) * sizeof(*p.v));
	if (p.v == NULL)
		abort();
	for (i = 0; i < n; i++) {
		parts_add(&p, render_json(render_msg(page[i], 1), page[i]->id,
		                          render_msg_event(page[i])));
		msg_unref(page[i]);
	}
	snprintf(open, sizeof(open), "{\"room\":\"%s\",\"messages\":[", room_name(r));
	snprintf(close, sizeof(close),
	         "],\"epoch\":%llu,\"last_seq\":%llu,\"more\":%s,\"before\":%llu}",
	         (unsigned long long)room_epoch(r), (unsigned long long)room_last_seq(r),
	         more ? "true" : "false", (unsigned long long)next);
	send_parts(h, open, &p, close);
}

static int
public_read(const struct hconn *h)
{
	const char *v = conn_config(h->c)->http_public_read;

	return strcmp(v, "yes") == 0 || (strcmp(v, "auto") == 0 && h->loopback);
}

static void
room_read(struct call *k)
{
	uint64_t epoch = 0, seq = 0;
	unsigned from, count;
	int have, truncated, changed;
	struct room *r;
	size_t limit;
	double wait, lim, before;

	if ((have = query_cursor(k, &epoch, &seq)) < 0 ||
	    query_num(k, "wait", 0, conn_config(k->h->c)->http_max_wait, 0, &wait) < 0 ||
	    query_num(k, "limit", 1, LIST_MAX, CHATD_MAX_HISTORY, &lim) < 0 ||
	    query_num(k, "before", 0, 9007199254740991.0, -1, &before) < 0 ||
	    (r = path_room(k)) == NULL)
		return;
	limit = (size_t)lim;
	if (k->hs && !public_read(k->h) && !room_has_member(r, hsess_core(k->hs))) {
		http_error(k->h, 403, "not_in_room", "not in room: %s", room_name(r));
		http_end(k->h);
		return;
	}
	if (before >= 0) {
		if (have) {
			http_error(k->h, 400, "bad_request", "after and before: one or the other");
			http_end(k->h);
			return;
		}
		answer_before(k->h, r, (uint64_t)before,
		              limit < CORE_PAGE_MAX ? (unsigned)limit : CORE_PAGE_MAX);
		return;
	}
	room_window(r, have, epoch, seq, limit, &from, &count, &truncated, &changed);
	if (count == 0 && wait > 0) {
		struct hconn *h = k->h;

		h->wroom_len = (uint8_t)k->arg_len;
		valid_fold(h->wroom, k->arg, k->arg_len);
		h->wepoch = have ? epoch : room_epoch(r);
		h->wseq = have ? seq : room_last_seq(r);
		h->wlimit = (uint16_t)limit;
		hsess_wait_room(h, k->hs);
		http_hold(h, wait);
		return;
	}
	answer_room(k->h, r, k->arg, have, epoch, seq, limit);
}

/* --- the mailbox --- */

static void
answer_events(struct hconn *h, struct hsess *hs, uint64_t after)
{
	const struct config *cfg = conn_config(h->c);
	struct hevent *ev = malloc(cfg->http_mailbox * sizeof(*ev));
	struct parts p = {NULL, 0, 0};
	uint64_t dropped, next = after;
	char close[96];
	size_t n, i;

	if (ev == NULL)
		abort();
	n = hsess_events(hs, after, ev, cfg->http_mailbox, &dropped);
	p.v = malloc((n ? n : 1) * sizeof(*p.v));
	if (p.v == NULL)
		abort();
	for (i = 0; i < n; i++) {
		if (ev[i].m)
			parts_add(&p, render_json(render_msg(ev[i].m, 0), ev[i].id,
			                          render_msg_event(ev[i].m)));
		else
			parts_add(&p, render_json(render_pres(ev[i].p), ev[i].id, "presence"));
		next = ev[i].id;
	}
	free(ev);
	snprintf(close, sizeof(close), "],\"next\":%llu,\"dropped\":%llu}",
	         (unsigned long long)next, (unsigned long long)dropped);
	send_parts(h, "{\"events\":[", &p, close);
}

static void
me_events(struct call *k)
{
	struct hevent one;
	uint64_t dropped;
	double after, wait;

	if (query_num(k, "after", 0, 9007199254740991.0, 0, &after) < 0 ||
	    query_num(k, "wait", 0, conn_config(k->h->c)->http_max_wait, 0, &wait) < 0)
		return;
	if (wait > 0 && hsess_events(k->hs, (uint64_t)after, &one, 1, &dropped) == 0 &&
	    dropped == 0) {
		k->h->wafter = (uint64_t)after;
		hsess_wait_events(k->hs, k->h);
		http_hold(k->h, wait);
		return;
	}
	answer_events(k->h, k->hs, (uint64_t)after);
}

void
api_wake(struct hconn *h)
{
	struct hsess *hs = h->hs;
	uint8_t wait = h->wait;

	hsess_unwait(h);
	if (wait == HW_EVENTS) {
		answer_events(h, hs, h->wafter);
	} else {
		struct room *r = core_room_lookup(conn_core(h->c), h->wroom, h->wroom_len);

		answer_room(h, r, h->wroom, 1, h->wepoch, h->wseq, h->wlimit);
	}
}

void
api_expire(struct hconn *h)
{
	api_wake(h);
}

/* --- the event stream --- */

struct sse_part {
	uint64_t id;
	struct slice s;
};

static int
by_id(const void *a, const void *b)
{
	uint64_t x = ((const struct sse_part *)a)->id, y = ((const struct sse_part *)b)->id;

	return x < y ? -1 : x > y;
}

/*
 * Resuming a stream is a long answer (conn_produce): each part sends, in
 * id order, what the session's rooms and mailbox hold newer than the last
 * id sent, until the queue holds its share, so that a resume of many
 * rooms' history neither overruns max-queue nor holds the loop.  Live
 * events wait meanwhile (they are in the rings and the mailbox, where the
 * next part finds them); the part that finds nothing left ends the resume,
 * and the stream goes live with no gap.  The first part says overflow
 * when something newer than the reader's id is gone.
 */
int
api_more(struct hconn *h)
{
	const struct config *cfg = conn_config(h->c);
	struct hsess *hs = h->hs;
	const struct session *s;
	size_t cap, n = 0, i, k, budget;
	struct hevent *ev;
	struct sse_part *v;
	uint64_t dropped;
	json_t *gone = json_array();
	unsigned r;

	if (hs == NULL) {
		json_decref(gone);
		return 0;
	}
	s = hsess_core(hs);
	cap = cfg->http_mailbox;
	for (r = 0; r < session_room_count(s); r++)
		cap += history_len(room_history(session_room(s, r)));
	v = malloc(cap * sizeof(*v));
	ev = malloc(cfg->http_mailbox * sizeof(*ev));
	if (v == NULL || ev == NULL)
		abort();
	for (r = 0; r < session_room_count(s); r++) {
		const struct room *room = session_room(s, r);
		const struct history *hist = room_history(room);

		if (hist->gone_id > h->sent_id)
			json_array_append_new(gone, json_string(room_name(room)));
		for (i = history_len(hist);
		     i > 0 && history_at(hist, (unsigned)i - 1)->id > h->sent_id; i--)
			;
		for (; i < history_len(hist); i++) {
			struct msg *m = history_at(hist, (unsigned)i);
			struct slice sl = render_msg(m, 1);

			v[n++] = (struct sse_part){m->id, {blk_ref(sl.b), sl.off, sl.len}};
		}
	}
	k = hsess_events(hs, h->sent_id, ev, cfg->http_mailbox, &dropped);
	for (i = 0; i < k; i++) {
		struct slice sl = ev[i].m ? render_msg(ev[i].m, 0) : render_pres(ev[i].p);

		v[n++] = (struct sse_part){ev[i].id, {blk_ref(sl.b), sl.off, sl.len}};
	}
	free(ev);
	qsort(v, n, sizeof(*v), by_id);
	if (h->first_part && (dropped || json_array_size(gone))) {
		json_t *o = json_pack("{s:I, s:O}", "dropped", (json_int_t)dropped, "rooms", gone);
		char *data = json_dumps(o, JSON_COMPACT);

		http_write(h, "event: overflow\ndata: ", 22);
		http_write(h, data, strlen(data));
		http_write(h, "\n\n", 2);
		free(data);
		json_decref(o);
	}
	json_decref(gone);
	h->first_part = 0;
	budget = cfg->max_queue / 2 < CHATD_PRODUCE_LOW ? cfg->max_queue / 2 : CHATD_PRODUCE_LOW;
	for (i = 0; i < n; i++) {
		if (i > 0 && h->c->out.bytes >= budget)
			break;
		http_send(h, v[i].s);
		h->sent_id = v[i].id;
	}
	k = i;
	for (i = 0; i < n; i++)
		blk_unref(v[i].s.b);
	free(v);
	if (k < n)
		return 1;
	h->resuming = 0;
	return 0;
}

static void
events_stream(struct call *k)
{
	char buf[32], *end;
	const char *v;
	size_t n = 0;
	unsigned long long after = 0;
	int have = 0;

	if ((v = http_header(k->h, HH_LAST_EVENT_ID, &n)) != NULL && n && n < sizeof(buf)) {
		memcpy(buf, v, n);
		buf[n] = '\0';
		have = 1;
	} else if (http_query(k->h, "after", buf, sizeof(buf)) > 0) {
		have = 1;
	}
	if (have) {
		errno = 0;
		after = strtoull(buf, &end, 10);
		if (*end != '\0' || errno || buf[0] == '-') {
			http_error(k->h, 400, "bad_request", "Last-Event-ID: not an event id");
			http_end(k->h);
			return;
		}
	}
	http_begin(k->h, 200, "text/event-stream", "Cache-Control: no-cache\r\n", (size_t)-1);
	if (k->h->head) {
		/* A HEAD gets the head and no stream: the session's stream,
		 * if one is open, stays, and the connection reads on. */
		http_end(k->h);
		return;
	}
	hsess_set_stream(k->hs, k->h);
	http_stream(k->h);
	if (have) {
		k->h->sent_id = after;
		k->h->resuming = 1;
		k->h->first_part = 1;
		conn_produce(k->h->c);
	}
}

/* --- the rest --- */

/* The web client, built in (web.c). */
static void
web_index(struct call *k)
{
	web_serve(k->h, "/");
}

static void
web_js(struct call *k)
{
	web_serve(k->h, "/chat.js");
}

static void
web_css(struct call *k)
{
	web_serve(k->h, "/chat.css");
}

static void
websocket(struct call *k)
{
	http_websocket(k->h);
}

static void
healthz(struct call *k)
{
	http_reply(k->h, 200, "text/plain; charset=utf-8", NULL, "ok\n", 3);
	http_end(k->h);
}

static void
metrics(struct call *k)
{
	metrics_answer(k->h);
	http_end(k->h);
}

/* --- dispatch --- */

/* Does path match pattern?  The '*' segment goes to arg. */
static int
match(const char *pattern, const char *path, size_t n, const char **arg, size_t *arg_len)
{
	const char *p = path, *end = path + n;

	*arg = NULL;
	*arg_len = 0;
	while (*pattern) {
		if (*pattern == '*') {
			const char *seg = p;

			while (p < end && *p != '/')
				p++;
			if (p == seg)
				return 0;
			*arg = seg;
			*arg_len = (size_t)(p - seg);
			pattern++;
			continue;
		}
		if (p == end || *p != *pattern)
			return 0;
		p++;
		pattern++;
	}
	return p == end;
}

static int
takes_body(const struct hconn *h)
{
	size_t n;
	const char *ct = http_header(h, HH_CONTENT_TYPE, &n);

	if (ct == NULL || n < 16 || strncasecmp(ct, "application/json", 16) != 0)
		return 0;
	return n == 16 || ct[16] == ';' || ct[16] == ' ';
}

void
api_dispatch(struct hconn *h, const char *path, size_t n)
{
	const char *method = http_method_str((enum http_method)h->method), *arg;
	const struct route *hit = NULL;
	char allow[96] = "";
	size_t alen = 0;
	struct call k;
	size_t i, arg_len = 0, blen;
	const char *body;
	int get_like = h->method == HTTP_HEAD;

	memset(&k, 0, sizeof(k));
	k.h = h;
	for (i = 0; i < NROUTES; i++) {
		const char *a;
		size_t al;

		if (!match(routes[i].pattern, path, n, &a, &al))
			continue;
		if (strcmp(routes[i].method, method) == 0 ||
		    (get_like && strcmp(routes[i].method, "GET") == 0)) {
			hit = &routes[i];
			arg = a;
			arg_len = al;
		}
		alen += (size_t)snprintf(allow + alen, sizeof(allow) - alen, "%s%s",
		                         alen ? ", " : "", routes[i].method);
		if (alen >= sizeof(allow))
			alen = sizeof(allow) - 1;
	}
	if (hit == NULL && allow[0] == '\0') {
		http_error(h, 404, "not_found", "no such route: %s %.*s", method, (int)n, path);
		http_end(h);
		return;
	}
	if (hit == NULL && h->method == HTTP_OPTIONS) {
		char extra[256];

		snprintf(extra, sizeof(extra), "Allow: %s, OPTIONS\r\n%s", allow,
		         h->origin[0] || h->cors_any
		                 ? "Access-Control-Allow-Methods: GET, POST, DELETE, OPTIONS\r\n"
		                   "Access-Control-Allow-Headers: Authorization, Content-Type, "
		                   "Last-Event-ID\r\nAccess-Control-Max-Age: 600\r\n"
		                 : "");
		http_reply(h, 204, NULL, extra, NULL, 0);
		http_end(h);
		return;
	}
	if (hit == NULL) {
		char extra[128];

		snprintf(extra, sizeof(extra), "Allow: %s, OPTIONS\r\n", allow);
		http_extra(extra);
		http_error(h, 405, "method_not_allowed", "%s is not allowed here (Allow: %s)",
		           method, allow);
		http_end(h);
		return;
	}
	if (arg_len) {
		int d = http_unescape(arg, arg_len, k.arg, sizeof(k.arg), 0);

		if (d < 0) {
			http_error(h, 400, "bad_request",
			           "a path segment is badly percent-encoded");
			http_end(h);
			return;
		}
		k.arg_len = (size_t)d;
	}
	if ((hit->flags & R_SESSION) || ((hit->flags & R_PUBLIC) && !public_read(h)) ||
	    http_header(h, HH_AUTHORIZATION, &blen) || http_header(h, HH_COOKIE, &blen)) {
		k.hs = hsess_of(h);
		if (k.hs == NULL &&
		    ((hit->flags & R_SESSION) || ((hit->flags & R_PUBLIC) && !public_read(h)))) {
			http_extra("WWW-Authenticate: Bearer\r\n");
			http_reply_json(
			        h, 401,
			        json_pack("{s:{s:s, s:s}}", "error", "code", "unauthorized",
			                  "message",
			                  "a session token is needed (POST /api/v1/session)"));
			http_end(h);
			return;
		}
	}
	if (hit->flags & R_BODY) {
		json_error_t err;

		body = http_body(h, &blen);
		if (body == NULL && !h->req.has_length) {
			h->keep_alive = 0; /* what follows may be a body: it cannot be read */
			http_error(h, 411, "length_required", "a body needs a Content-Length");
			http_end(h);
			return;
		}
		if (!takes_body(h)) {
			http_error(h, 415, "unsupported_media_type",
			           "the body must be application/json");
			http_end(h);
			return;
		}
		/* A NUL in a string is the core's to refuse, in its words. */
		k.body = json_loadb(body ? body : "", blen, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
		                    &err);
		if (k.body == NULL || !json_is_object(k.body)) {
			http_error(h, 400, "bad_json", "the body is not a JSON object: %s",
			           k.body ? "another JSON value" : err.text);
			json_decref(k.body);
			http_end(h);
			return;
		}
	}
	hit->fn(&k);
	json_decref(k.body);
}
