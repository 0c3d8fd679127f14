/*
 * chatd.json: the framed protocol's operations and events as JSON objects,
 * one per WebSocket text message (docs/websocket.md section 4), for
 * browsers.  The transport hands each frame over as a unit (ws.h); this
 * front end reassembles fragments, answers control frames, and renders
 * whole frames: a room message's frame (header and JSON) is rendered once
 * and queued by reference to every reader, as the other front ends do.
 *
 * The JSON objects of messages and events are the HTTP API's (render.c),
 * with "history" on replayed messages, so a page reads one shape whether
 * it polls, streams or holds a socket.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/valid.h"
#include "net/conn.h"
#include "proto/http/http.h"
#include "net/ws.h"
#include "util/config.h"
#include "util/defaults.h"
#include "util/log.h"
#include "util/slab.h"

#define PAGE 64 /* names or rooms per listing message */

/* A listing in progress (rooms, users, who), a page per message. */
struct listing {
	uint8_t kind; /* 'r', 'u' or 'w' */
	uint8_t started;
	char key[CORE_ROOM_MAX + 1];
	uint32_t serial;
};

/* --- writing --- */

static size_t
text_header(uint8_t *out, size_t len)
{
	return ws_header(out, WS_TEXT, len);
}

/* A control frame, or a whole text message of private bytes. */
static void
put_frame(struct conn *c, uint8_t opcode, const void *p, size_t n)
{
	uint8_t *q = conn_reserve(c, WS_HEADER_MAX + n);
	size_t h = ws_header(q, opcode, n);

	memcpy(q + h, p, n);
	conn_commit(c, h + n);
}

/* A reply to this connection only; takes the reference to o. */
static void
reply(struct conn *c, json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	if (text == NULL)
		fatal("out of memory (json)");
	put_frame(c, WS_TEXT, text, strlen(text));
	free(text);
}

static void send_error(struct conn *c, const char *code, const char *request, json_t *ref,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* {"type": "error", "code", "message", "request", "ref"}: the HTTP API's
 * codes (docs/http.md section 11) and a few of the socket's own. */
static void
send_error(struct conn *c, const char *code, const char *request, json_t *ref, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	json_t *o;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* What the client sent may be quoted cut inside a character. */
	for (i = 0; text[i];) {
		uint32_t cp;
		size_t k = valid_utf8_next((const unsigned char *)text + i, strlen(text + i), &cp);

		if (k == 0)
			text[i] = '?', k = 1;
		i += k;
	}
	o = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", text);
	if (request)
		json_object_set_new(o, "request", json_string(request));
	if (ref)
		json_object_set(o, "ref", ref);
	reply(c, o);
}

/* Close with a code of the socket's own. */
static void
close_with(struct conn *c, uint16_t code, const char *why, uint8_t reason)
{
	log_notice("conn %s: websocket closed %u: %s", conn_peer(c), code, why);
	ws_close(c, code, why, reason);
}

/* --- rendering the core's events, once for every reader --- */

static struct slice
render_message(const struct msg *m, int history)
{
	json_t *o = render_msg_object(m);

	if (history)
		json_object_set_new(o, "history", json_true());
	return render_wrap(o, NULL, 0, text_header, "", 0, history);
}

static struct slice
render_presence(const struct pres *p)
{
	return render_wrap(render_pres_object(p), NULL, 0, text_header, "", 0, 0);
}

static void
on_message(void *ctx, struct msg *m)
{
	conn_send(ctx, msg_wire(m, json_frontend.slot, 0, render_message));
}

static void
on_presence(void *ctx, struct pres *p)
{
	conn_send(ctx, pres_wire(p, json_frontend.slot, render_presence));
}

/* --- completions --- */

static const char *const request_of[] = {
        [CMD_HELLO] = "hello", [CMD_NICK] = "nick",  [CMD_JOIN] = "join",   [CMD_PART] = "part",
        [CMD_SAY] = "say",     [CMD_DIRECT] = "msg", [CMD_TOPIC] = "topic",
};

static json_t *
cursor(uint64_t epoch, uint64_t seq)
{
	char text[48];

	snprintf(text, sizeof(text), "%llu-%llu", (unsigned long long)epoch,
	         (unsigned long long)seq);
	return json_string(text);
}

static void
send_welcome(struct conn *c)
{
	const struct config *cfg = conn_config(c);

	reply(c,
	      json_pack("{s:s, s:s%, s:s, s:{s:i, s:i, s:i, s:i, s:i, s:I, s:i, s:i, s:I, s:I, "
	                "s:I}}",
	                "type", "welcome", "nick", session_nick(c->sess), session_nick_len(c->sess),
	                "server", cfg->server_name, "limits", "max_text", cfg->max_text, "max_nick",
	                CORE_NICK_MAX, "max_room", CORE_ROOM_MAX, "max_rooms", cfg->max_rooms,
	                "history_len", cfg->history, "max_message", (json_int_t)ws_message_max(cfg),
	                "flood_rate", cfg->flood_rate, "flood_burst", cfg->flood_burst, "max_queue",
	                (json_int_t)cfg->max_queue, "ping_interval_ms",
	                (json_int_t)(cfg->ping_interval * 1000), "ping_timeout_ms",
	                (json_int_t)(cfg->ping_timeout * 1000)));
}

/* joined (with the first members and the topic), the history,
 * history_end. */
static void
send_joined(struct conn *c, const struct core_joined *j)
{
	struct session *v[PAGE];
	json_t *o, *names = json_array();
	uint32_t serial = 0;
	size_t given = 0, n, k;
	unsigned i;

	do {
		n = room_members_after(j->room, serial, v, PAGE, &serial);
		for (k = 0; k < n; k++)
			json_array_append_new(
			        names, json_stringn(session_nick(v[k]), session_nick_len(v[k])));
		given += n;
	} while (n && given < j->members && given < CORE_JOIN_NAMES);
	o = json_pack("{s:s, s:s%, s:I, s:I, s:o, s:i, s:o, s:b, s:o}", "type", "joined", "room",
	              room_name(j->room), room_name_len(j->room), "epoch", (json_int_t)j->epoch,
	              "last_seq", (json_int_t)j->last_seq, "cursor", cursor(j->epoch, j->last_seq),
	              "members", j->members, "names", names, "partial", given < j->members, "topic",
	              render_topic_object(j->room));
	reply(c, o);
	for (i = 0; i < j->hist_count; i++)
		conn_send(c,
		          msg_wire(core_joined_msg(j, i), json_frontend.slot, 1, render_message));
	reply(c, json_pack("{s:s, s:s%, s:I, s:I, s:o, s:i, s:b, s:b}", "type", "history_end",
	                   "room", room_name(j->room), room_name_len(j->room), "epoch",
	                   (json_int_t)j->epoch, "last_seq", (json_int_t)j->last_seq, "cursor",
	                   cursor(j->epoch, j->last_seq), "count", j->hist_count, "truncated",
	                   (j->flags & CORE_HIST_TRUNCATED) != 0, "epoch_changed",
	                   (j->flags & CORE_HIST_EPOCH_CHANGED) != 0));
}

/* A page of older history: messages flagged history, oldest first, then
 * history_end with "more" (docs/websocket.md). */
static void
send_page(struct conn *c, const char *name, size_t n, json_t *o)
{
	struct msg *page[CORE_PAGE_MAX];
	json_t *b = json_object_get(o, "before"), *l = json_object_get(o, "limit");
	json_int_t limit = l ? json_integer_value(l) : CORE_PAGE_MAX;
	json_int_t before = b ? json_integer_value(b) : 0;
	struct core *core = conn_core(c);
	struct room *r;
	uint64_t next;
	int got, more, i;

	if ((b && (!json_is_integer(b) || before < 0)) ||
	    (l && (!json_is_integer(l) || limit < 1))) {
		send_error(c, "bad_request", "history", NULL,
		           "before and limit are whole numbers (limit from 1)");
		return;
	}
	if (!valid_room(name, n)) {
		send_error(c, "room_invalid", "history", NULL, "%.*s", (int)n, name);
		return;
	}
	r = core_room_lookup(core, name, n);
	if (r == NULL || !room_has_member(r, c->sess)) {
		send_error(c, "not_in_room", "history", NULL, "%.*s", (int)n, name);
		return;
	}
	got = core_history_before(core, r, (uint64_t)before,
	                          limit > CORE_PAGE_MAX ? CORE_PAGE_MAX : (unsigned)limit, page,
	                          &more);
	if (got < 0) {
		send_error(c, "store_unavailable", "history", NULL, "%s",
		           core_err_name(CORE_E_STORE));
		return;
	}
	next = got ? page[0]->seq : before ? (uint64_t)before : room_last_seq(r) + 1;
	for (i = 0; i < got; i++) {
		conn_send(c, msg_wire(page[i], json_frontend.slot, 1, render_message));
		msg_unref(page[i]);
	}
	reply(c, json_pack("{s:s, s:s%, s:I, s:I, s:i, s:b, s:I}", "type", "history_end", "room",
	                   room_name(r), room_name_len(r), "epoch", (json_int_t)room_epoch(r),
	                   "last_seq", (json_int_t)room_last_seq(r), "count", got, "more", more,
	                   "before", (json_int_t)next));
}

static void
on_done(void *ctx, const struct core_reply *r)
{
	struct conn *c = ctx;
	json_t *ref = r->tag ? json_integer((json_int_t)(r->tag - 1)) : NULL;

	if (r->err) {
		const char *code;
		char text[256];

		(void)api_error_of(r->err, &code);
		api_error_text(conn_core(c), r, text, sizeof(text));
		send_error(c, code, request_of[r->cmd], ref, "%s", text);
	} else if (r->cmd == CMD_HELLO) {
		send_welcome(c);
	} else if (r->cmd == CMD_JOIN) {
		send_joined(c, &r->joined);
	} else if (r->cmd == CMD_SAY || r->cmd == CMD_DIRECT) {
		json_t *o =
		        json_pack("{s:s, s:I}", "type", "ack", "time", (json_int_t)r->ack.time_ms);

		if (ref)
			json_object_set(o, "ref", ref);
		if (r->cmd == CMD_SAY) {
			json_object_set_new(o, "seq", json_integer((json_int_t)r->ack.seq));
			json_object_set_new(o, "cursor", cursor(r->msg->epoch, r->ack.seq));
		}
		reply(c, o);
	}
	json_decref(ref);
}

static const struct sink json_sink = {on_message, on_presence, on_done, conn_busy};

/* --- listings, a page per message (conn_produce) --- */

static int
json_more(struct conn *c)
{
	struct listing *l = c->fe_state;
	struct core *core = conn_core(c);
	const char *after = l->started ? l->key : NULL;
	struct session *sv[PAGE + 1];
	struct room *rv[PAGE + 1];
	json_t *o, *a = json_array();
	size_t n, give, i;

	if (l->kind == 'r') {
		n = core_rooms_after(core, after, rv, PAGE + 1);
		give = n > PAGE ? PAGE : n;
		for (i = 0; i < give; i++)
			json_array_append_new(a, json_pack("{s:s%, s:i}", "name", room_name(rv[i]),
			                                   room_name_len(rv[i]), "members",
			                                   room_member_count(rv[i])));
		if (give)
			snprintf(l->key, sizeof(l->key), "%s", room_key(rv[give - 1]));
		o = json_pack("{s:s, s:o}", "type", "rooms", "rooms", a);
	} else if (l->kind == 'u') {
		n = core_users_after(core, after, sv, PAGE + 1);
		give = n > PAGE ? PAGE : n;
		for (i = 0; i < give; i++)
			json_array_append_new(
			        a, json_stringn(session_nick(sv[i]), session_nick_len(sv[i])));
		if (give)
			snprintf(l->key, sizeof(l->key), "%s", session_key(sv[give - 1]));
		o = json_pack("{s:s, s:o}", "type", "users", "users", a);
	} else {
		struct room *r = core_room_find(core, l->key, strlen(l->key));

		n = give = r ? room_members_after(r, l->serial, sv, PAGE, &l->serial) : 0;
		if (r && give == PAGE && l->serial < room_last_serial(r))
			n++;
		for (i = 0; i < give; i++)
			json_array_append_new(
			        a, json_stringn(session_nick(sv[i]), session_nick_len(sv[i])));
		o = json_pack("{s:s, s:s, s:o}", "type", "names", "room", r ? room_name(r) : l->key,
		              "names", a);
	}
	json_object_set_new(o, "last", json_boolean(n <= give));
	reply(c, o);
	l->started = 1;
	if (n > give)
		return 1;
	slab_free(l, sizeof(*l));
	c->fe_state = NULL;
	return 0;
}

static void
listing_start(struct conn *c, uint8_t kind, const char *room, size_t rn)
{
	struct listing *l = slab_zalloc(sizeof(*l));

	l->kind = kind;
	memcpy(l->key, room, rn);
	c->fe_state = l;
	if (json_more(c))
		conn_produce(c);
}

/* --- requests --- */

/* A string field, or NULL (with *n). */
static const char *
field(json_t *o, const char *name, size_t *n)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_string(v))
		return NULL;
	*n = json_string_length(v);
	return json_string_value(v);
}

/* The tag that carries a ref (0..2^32-1) to the completion: ref + 1. */
static int
ref_tag(struct conn *c, json_t *o, const char *type, uint64_t *tag)
{
	json_t *ref = json_object_get(o, "ref");

	*tag = 0;
	if (ref == NULL)
		return 0;
	if (!json_is_integer(ref) || json_integer_value(ref) < 0 ||
	    json_integer_value(ref) > 0xffffffffLL) {
		send_error(c, "bad_request", type, NULL, "ref must be an integer 0..4294967295");
		return -1;
	}
	*tag = (uint64_t)json_integer_value(ref) + 1;
	return 0;
}

/* Decimal digits s[0, n) into *v, below 2^53 (what JSON numbers hold
 * exactly); -1 otherwise. */
static int
decimal(const char *s, size_t n, uint64_t *v)
{
	size_t i;

	*v = 0;
	if (n == 0 || n > 16)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return *v < (1ULL << 53) ? 0 : -1;
}

/* "EPOCH-SEQ" into *epoch, *seq; 0 when absent (or null), -1 when
 * malformed. */
static int
parse_cursor(json_t *o, uint64_t *epoch, uint64_t *seq)
{
	json_t *v = json_object_get(o, "cursor");
	const char *s, *dash;
	size_t n;

	*epoch = *seq = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = json_string_length(v);
	if ((dash = memchr(s, '-', n)) == NULL)
		return -1;
	if (decimal(s, (size_t)(dash - s), epoch) < 0 ||
	    decimal(dash + 1, n - (size_t)(dash - s) - 1, seq) < 0)
		return -1;
	return 0;
}

static void
request(struct conn *c, json_t *o)
{
	size_t n = 0, tn = 0;
	const char *type = NULL, *name, *text;
	struct core *core = conn_core(c);
	uint64_t tag, epoch, seq;

	if (json_is_object(o)) {
		json_t *t = json_object_get(o, "type");

		type = json_string_value(t);
		/* A NUL inside it would make it match a shorter name. */
		if (type && strlen(type) != json_string_length(t)) {
			send_error(c, "unknown_type", NULL, NULL, "no such type");
			return;
		}
	}
	if (type == NULL) {
		send_error(c, "bad_json", NULL, NULL,
		           "a message is a JSON object with a \"type\" (docs/websocket.md)");
		return;
	}
	if (strcmp(type, "ping") == 0) {
		json_t *d = json_object_get(o, "data");
		json_t *pong = json_pack("{s:s}", "type", "pong");

		if (d)
			json_object_set(pong, "data", d);
		reply(c, pong);
		return;
	}
	if (strcmp(type, "quit") == 0) {
		reply(c, json_pack("{s:s, s:s}", "type", "bye", "reason", "quit"));
		close_with(c, WS_CLOSE_NORMAL, "quit", REASON_NONE);
		return;
	}
	if (strcmp(type, "hello") == 0) {
		if ((name = field(o, "nick", &n)) == NULL)
			goto missing;
		core_hello(core, c->sess, name, n, 0);
		return;
	}
	if (!session_registered(c->sess)) {
		json_t *ref = json_object_get(o, "ref");

		if (!json_is_integer(ref) || json_integer_value(ref) < 0 ||
		    json_integer_value(ref) > 0xffffffffLL)
			ref = NULL; /* not one a request may carry */
		send_error(c, "not_registered", type, ref, "say hello first");
		return;
	}
	if (strcmp(type, "nick") == 0) {
		if ((name = field(o, "nick", &n)) == NULL)
			goto missing;
		core_nick(core, c->sess, name, n, 0);
	} else if (strcmp(type, "join") == 0) {
		if ((name = field(o, "room", &n)) == NULL)
			goto missing;
		if (parse_cursor(o, &epoch, &seq) < 0) {
			send_error(c, "bad_request", type, NULL, "cursor must be \"EPOCH-SEQ\"");
			return;
		}
		core_join(core, c->sess, name, n, epoch, seq, 0);
	} else if (strcmp(type, "part") == 0) {
		if ((name = field(o, "room", &n)) == NULL)
			goto missing;
		core_part(core, c->sess, name, n, "", 0, 0);
	} else if (strcmp(type, "topic") == 0) {
		/* Confirmed by the topic event every member gets. */
		if ((name = field(o, "room", &n)) == NULL || (text = field(o, "text", &tn)) == NULL)
			goto missing;
		core_topic(core, c->sess, name, n, text, tn, 0);
	} else if (strcmp(type, "say") == 0 || strcmp(type, "msg") == 0) {
		int say = type[0] == 's';

		if ((name = field(o, say ? "room" : "nick", &n)) == NULL ||
		    (text = field(o, "text", &tn)) == NULL)
			goto missing;
		if (ref_tag(c, o, type, &tag) < 0)
			return;
		if (say)
			core_say(core, c->sess, name, n, text, tn, tag);
		else
			core_direct(core, c->sess, name, n, text, tn, tag);
	} else if (strcmp(type, "rooms") == 0) {
		listing_start(c, 'r', "", 0);
	} else if (strcmp(type, "users") == 0) {
		listing_start(c, 'u', "", 0);
	} else if (strcmp(type, "history") == 0) {
		if ((name = field(o, "room", &n)) == NULL)
			goto missing;
		send_page(c, name, n, o);
	} else if (strcmp(type, "who") == 0) {
		struct room *r;

		if ((name = field(o, "room", &n)) == NULL)
			goto missing;
		if (!valid_room(name, n))
			send_error(c, "room_invalid", type, NULL, "%.*s", (int)n, name);
		else if ((r = core_room_find(core, name, n)) == NULL)
			send_error(c, "no_such_room", type, NULL, "%.*s", (int)n, name);
		else
			listing_start(c, 'w', room_name(r), room_name_len(r));
	} else {
		send_error(c, "unknown_type", type, NULL, "no such type: %.60s", type);
	}
	return;
missing:
	send_error(c, "bad_json", type, NULL, "a field is missing or not a string");
}

/* One whole text message. */
static void
message(struct conn *c, const char *p, size_t n)
{
	json_error_t err;
	json_t *o;
	size_t i = 0;

	/* RFC 6455 8.1: a text message that is not UTF-8 fails the socket. */
	while (i < n) {
		uint32_t cp;
		size_t k = valid_utf8_next((const unsigned char *)p + i, n - i, &cp);

		if (k == 0) {
			close_with(c, WS_CLOSE_BAD_DATA, "invalid UTF-8", REASON_PROTOCOL_ERROR);
			return;
		}
		i += k;
	}
	o = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	if (o == NULL) {
		send_error(c, "bad_json", NULL, NULL, "not JSON: %s", err.text);
		return;
	}
	request(c, o);
	json_decref(o);
}

static size_t
json_input_max(const struct config *cfg)
{
	return ws_message_max(cfg) + (size_t)CHATD_WS_FRAGMENTS * WS_UNIT_HEAD;
}

/* Units in (data frames; the transport answers control frames): whole
 * messages are handled, one still arriving waits in the connection's
 * buffer. */
static size_t
json_input(struct conn *c, const uint8_t *p, size_t len)
{
	size_t max = ws_message_max(conn_config(c)), off = 0;

	while (conn_ready(c) && c->state == CONN_OPEN) {
		size_t q = off, total = 0, units = 0, at, k = 0;
		int whole = 0;
		char *own = NULL;
		const char *msg;

		/* Find the end of the message that starts here. */
		while (!whole && len - q >= WS_UNIT_HEAD &&
		       len - q - WS_UNIT_HEAD >= ws_unit_len(p + q)) {
			whole = (p[q] & WS_UNIT_FIN) != 0;
			total += ws_unit_len(p + q);
			units++;
			q += WS_UNIT_HEAD + ws_unit_len(p + q);
		}
		/* A fragment still arriving counts already: one that cannot fit
		 * would otherwise wait for room that never comes. */
		if (!whole && len - q >= WS_UNIT_HEAD) {
			total += ws_unit_len(p + q);
			units++;
		}
		if (total > max || units > CHATD_WS_FRAGMENTS ||
		    (!whole && len - off >= json_input_max(conn_config(c)))) {
			close_with(c, WS_CLOSE_TOO_BIG,
			           total > max ? "message too big" : "too many fragments",
			           REASON_PROTOCOL_ERROR);
			return len;
		}
		if (!whole)
			return off;
		if (!conn_spend(c))
			return off;
		if ((p[off] & 0x0f) == WS_BINARY) {
			close_with(c, WS_CLOSE_UNSUPPORTED, "binary message on chatd.json",
			           REASON_PROTOCOL_ERROR);
			return len;
		}
		msg = (const char *)p + off + WS_UNIT_HEAD;
		if (units > 1) {
			/* Fragments: their payloads gathered in one piece. */
			if ((own = malloc(total ? total : 1)) == NULL)
				fatal("out of memory (ws)");
			for (at = off; at < q; at += WS_UNIT_HEAD + ws_unit_len(p + at)) {
				memcpy(own + k, p + at + WS_UNIT_HEAD, ws_unit_len(p + at));
				k += ws_unit_len(p + at);
			}
			msg = own;
		}
		message(c, msg, total);
		free(own);
		off = q;
	}
	return c->state == CONN_OPEN ? off : len;
}

static void
json_start(struct conn *c)
{
	c->sess = core_session_new(conn_core(c), &json_sink, c);
}

/* Silent too long: a WebSocket ping, which browsers answer by themselves. */
static void
json_idle(struct conn *c)
{
	put_frame(c, WS_PING, "chatd", 5);
}

/* The last words; the transport's close frame follows (ws.c). */
static void
json_bye(struct conn *c, uint8_t reason)
{
	reply(c, json_pack("{s:s, s:s}", "type", "bye", "reason",
	                   reason == REASON_NONE ? "quit" : render_reason(reason)));
}

static void
json_refuse(struct conn *c, enum conn_refusal why, const char *text)
{
	send_error(c, why == REFUSE_HANDSHAKE ? "handshake_timeout" : "server_full", NULL, NULL,
	           "%s", text);
	close_with(c, WS_CLOSE_POLICY,
	           why == REFUSE_HANDSHAKE ? "handshake timeout" : "server full",
	           why == REFUSE_HANDSHAKE ? REASON_HANDSHAKE_TIMEOUT : REASON_PROTOCOL_ERROR);
}

static void
json_broken(struct conn *c, const uint8_t *p, size_t len)
{
	(void)p;
	(void)len;
	close_with(c, WS_CLOSE_PROTOCOL, "protocol error", REASON_PROTOCOL_ERROR);
}

static void
json_end(struct conn *c)
{
	slab_free(c->fe_state, sizeof(struct listing));
	c->fe_state = NULL;
}

struct frontend json_frontend = {
        .name = "websocket-json",
        .input_max = json_input_max,
        .start = json_start,
        .input = json_input,
        .idle = json_idle,
        .bye = json_bye,
        .refuse = json_refuse,
        .broken = json_broken,
        .end = json_end,
        .more = json_more,
        .cleanup = ws_cleanup,
        .upgrade_only = 1,
};
