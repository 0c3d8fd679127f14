/*
 * The framed front end (docs/protocol.md): decodes client frames into core
 * commands through a table of handlers, one per frame type, and renders
 * the core's events and the completions of its commands as frames.  It is
 * a translator only: every decision about rooms, names and history is the
 * core's, and the core's vocabulary is mapped to the wire's here.
 */
#include "proto/framed/framed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatd/wire.h"
#include "core/core.h"
#include "core/valid.h"
#include "net/conn.h"
#include "proto/framed/detect.h"
#include "util/arena.h"
#include "util/config.h"
#include "util/log.h"
#include "util/slab.h"

/* Largest fixed-size reply (everything but lists and messages). */
#define FRAMED_REPLY_MAX (WIRE_HEADER_LEN + 512)

/* The wire's bounds are the core's and the options' (equal by design, so
 * each check compares a value with itself). */
// NOLINTBEGIN(misc-redundant-expression)
_Static_assert(WIRE_NICK_MAX == CORE_NICK_MAX, "nick bound");
_Static_assert(WIRE_ROOM_MAX == CORE_ROOM_MAX, "room bound");
_Static_assert(WIRE_SUMMARY_MAX == CORE_SUMMARY_MAX, "summary bound");
_Static_assert(WIRE_TEXT_MAX_HARD == CORE_TEXT_MAX, "text bound");
_Static_assert(WIRE_TOPIC_MAX == CORE_TOPIC_MAX, "topic bound");
_Static_assert(1 + 1 + WIRE_ROOM_MAX + 1 + WIRE_NICK_MAX + 8 + 2 + WIRE_TOPIC_MAX <= 512,
               "a ROOM_TOPIC fits a fixed-size reply");
_Static_assert(WIRE_FRAME_MAX_HARD == CHATD_FRAME_MAX_HARD, "frame bound");
_Static_assert(4 + 1 + WIRE_ROOM_MAX + 2 == CHATD_FRAME_SAY_OVERHEAD, "SAY overhead");
// NOLINTEND(misc-redundant-expression)

/* --- the core's vocabulary on the wire --- */

uint16_t
framed_error_of(int err)
{
	static const uint16_t codes[CORE_E_COUNT] = {
	        [CORE_E_NOT_REGISTERED] = WIRE_E_NOT_REGISTERED,
	        [CORE_E_ALREADY_REGISTERED] = WIRE_E_ALREADY_REGISTERED,
	        [CORE_E_NICK_INVALID] = WIRE_E_NICK_INVALID,
	        [CORE_E_NICK_TAKEN] = WIRE_E_NICK_TAKEN,
	        [CORE_E_ROOM_INVALID] = WIRE_E_ROOM_INVALID,
	        [CORE_E_TEXT_INVALID] = WIRE_E_TEXT_INVALID,
	        [CORE_E_TEXT_TOO_LONG] = WIRE_E_TEXT_TOO_LONG,
	        [CORE_E_NOT_IN_ROOM] = WIRE_E_NOT_IN_ROOM,
	        [CORE_E_ALREADY_IN_ROOM] = WIRE_E_ALREADY_IN_ROOM,
	        [CORE_E_NO_SUCH_ROOM] = WIRE_E_NO_SUCH_ROOM,
	        [CORE_E_NO_SUCH_USER] = WIRE_E_NO_SUCH_USER,
	        [CORE_E_TOO_MANY_ROOMS] = WIRE_E_TOO_MANY_ROOMS,
	        [CORE_E_ROOM_FULL] = WIRE_E_ROOM_FULL,
	        [CORE_E_ROOM_LIMIT] = WIRE_E_ROOM_LIMIT,
	        [CORE_E_STORE] = WIRE_E_STORE_UNAVAILABLE,
	        [CORE_E_CLUSTER] = WIRE_E_CLUSTER_UNAVAILABLE,
	};

	return err > 0 && err < CORE_E_COUNT ? codes[err] : WIRE_E_MALFORMED;
}

static uint8_t
wire_reason_of(int reason)
{
	static const uint8_t reasons[REASON_COUNT] = {
	        [REASON_NONE] = WIRE_R_NONE,
	        [REASON_CLOSED] = WIRE_R_CLOSED,
	        [REASON_RESET] = WIRE_R_RESET,
	        [REASON_PING_TIMEOUT] = WIRE_R_PING_TIMEOUT,
	        [REASON_SLOW_CONSUMER] = WIRE_R_SLOW_CONSUMER,
	        [REASON_PROTOCOL_ERROR] = WIRE_R_PROTOCOL_ERROR,
	        [REASON_SHUTDOWN] = WIRE_R_SHUTDOWN,
	        [REASON_HANDSHAKE_TIMEOUT] = WIRE_R_HANDSHAKE_TIMEOUT,
	        [REASON_TIMEOUT] = WIRE_R_TIMEOUT,
	        [REASON_NODE_LOST] = WIRE_R_NODE_LOST,
	};

	return reason >= 0 && reason < REASON_COUNT ? reasons[reason] : WIRE_R_NONE;
}

static uint8_t
wire_kind_of(int kind)
{
	switch (kind) {
	case PRES_JOIN:
		return WIRE_P_JOIN;
	case PRES_PART:
		return WIRE_P_PART;
	case PRES_QUIT:
		return WIRE_P_QUIT;
	case PRES_NICK:
		return WIRE_P_NICK;
	default:
		return WIRE_P_DROP;
	}
}

static uint8_t
wire_hist_flags_of(uint8_t flags)
{
	return (uint8_t)(((flags & CORE_HIST_TRUNCATED) ? WIRE_HIST_TRUNCATED : 0) |
	                 ((flags & CORE_HIST_EPOCH_CHANGED) ? WIRE_HIST_EPOCH_CHANGED : 0));
}

/* --- replies --- */

/* Append one reply frame built by the caller's writer calls: reserve,
 * encode into the connection's private block, commit. */
struct reply {
	struct conn *c;
	struct wire_writer w;
};

static struct wire_writer *
reply_begin(struct reply *r, struct conn *c, size_t max)
{
	r->c = c;
	wire_writer_init(&r->w, conn_reserve(c, max), max);
	return &r->w;
}

static void
reply_end(struct reply *r)
{
	/* Replies are sized by construction; an overflow is our bug. */
	if (r->w.err) {
		log_err("conn %s: reply did not fit its reservation", conn_peer(r->c));
		abort();
	}
	conn_commit(r->c, r->w.len);
}

static void
send_error(struct conn *c, uint16_t code, uint8_t type, uint32_t ref, const char *detail)
{
	char text[256];
	struct reply r;
	int n;

	if (detail && *detail)
		n = snprintf(text, sizeof(text), "%s: %s", wire_error_name(code), detail);
	else
		n = snprintf(text, sizeof(text), "%s", wire_error_name(code));
	if (n < 0 || (size_t)n >= sizeof(text))
		n = (int)strlen(text);
	wire_enc_error(reply_begin(&r, c, WIRE_HEADER_LEN + 9 + sizeof(text)), code, type, ref,
	               text, (size_t)n);
	reply_end(&r);
}

/* A refusal by the core, answering a request of type (ref: a SAY's or
 * MSG's); a limit's refusal says which limit and its value. */
static void
send_refusal(struct conn *c, int err, uint8_t type, uint32_t ref)
{
	char detail[96];

	send_error(c, framed_error_of(err), type, ref,
	           core_limit_text(conn_core(c), err, detail, sizeof(detail)));
}

/* A 1xx error: say why, then close once it is flushed. */
static void
fatal_error(struct conn *c, uint16_t code, uint8_t type, const char *detail)
{
	log_notice("conn %s: closing: %s%s%s", conn_peer(c), wire_error_name(code),
	           detail ? ": " : "", detail ? detail : "");
	send_error(c, code, type, 0, detail);
	conn_close_after_flush(c,
	                       code == WIRE_E_HANDSHAKE_TIMEOUT ? REASON_HANDSHAKE_TIMEOUT
	                                                        : REASON_PROTOCOL_ERROR,
	                       CHATD_DRAIN_TIMEOUT);
}

static void
framed_refuse(struct conn *c, enum conn_refusal why, const char *text)
{
	fatal_error(c, why == REFUSE_HANDSHAKE ? WIRE_E_HANDSHAKE_TIMEOUT : WIRE_E_SERVER_FULL, 0,
	            text);
}

/* Its rule on a shared port: the preface, or a framed client gone wrong. */
static enum detect
framed_detect(const uint8_t *p, size_t len, size_t *used)
{
	switch (preface_check(p, len)) {
	case PREFACE_MORE:
		return DETECT_MORE;
	case PREFACE_OK:
		*used = WIRE_PREFACE_LEN;
		return DETECT_MINE;
	case PREFACE_NONE:
		return DETECT_NOT;
	default:
		return DETECT_BROKEN;
	}
}

/* The client opened wrongly: 101 for another version, 100 for anything
 * else (a frame without preface, or text on a framed listener). */
static void
framed_broken(struct conn *c, const uint8_t *p, size_t len)
{
	if (preface_check(p, len) == PREFACE_BAD_VERSION)
		fatal_error(c, WIRE_E_BAD_VERSION, 0, "this server speaks version 1");
	else
		fatal_error(c, WIRE_E_BAD_PREFACE, 0,
		            "expected the 8-byte preface 89 43 48 41 54 44 00 01");
}

/* --- rendering the core's events --- */

/* Live renderings go back to back into the arena (see util/arena.h);
 * history renderings stay on the message for later joiners, so each gets
 * a block of its own rather than pinning an arena block. */
static struct arena arena;

static struct slice
render_message(const struct msg *m, int history)
{
	size_t size =
	        WIRE_HEADER_LEN + 1 + 1 + m->room_len + 1 + m->from_len + 8 + 8 + 2 + m->text_len;
	uint8_t flags =
	        (uint8_t)((history ? WIRE_MSG_HISTORY : 0) | (m->direct ? WIRE_MSG_DIRECT : 0));
	struct wire_writer w;
	struct blk *b = NULL;

	if (history) {
		b = blk_new(size);
		wire_writer_init(&w, b->data, size);
	} else {
		wire_writer_init(&w, arena_reserve(&arena, size), size);
	}
	wire_enc_message(&w, flags, m->room, m->room_len, m->from, m->from_len, m->seq, m->time_ms,
	                 m->text, m->text_len);
	if (b == NULL)
		return arena_commit(&arena, w.len);
	b->len = (uint32_t)w.len;
	return (struct slice){b, 0, b->len};
}

/* A large room's summary: one SUMMARY frame. */
static struct slice
render_summary(const struct pres *p)
{
	size_t size = WIRE_HEADER_LEN + 1 + 1 + p->room_len + 12 + 8 + 2, i;
	struct wire_list_writer lw;
	struct wire_writer w;

	for (i = 0; i < p->nitems; i++)
		size += 4 + p->items[i]->nick_len + p->items[i]->new_nick_len;
	wire_writer_init(&w, arena_reserve(&arena, size), size);
	wire_summary_begin(&w, &lw, p->room, p->room_len, p->members, p->joins, p->leaves,
	                   p->time_ms);
	for (i = 0; i < p->nitems; i++) {
		const struct pres *e = p->items[i];

		wire_summary_add(&w, &lw, wire_kind_of(e->kind), wire_reason_of(e->reason), e->nick,
		                 e->nick_len, e->new_nick, e->new_nick_len);
	}
	wire_list_end(&w, &lw, p->omitted ? WIRE_SUMMARY_OMITTED : 0);
	return arena_commit(&arena, w.len);
}

/* A topic set: one ROOM_TOPIC frame. */
static struct slice
render_topic(const struct pres *p)
{
	size_t size = WIRE_HEADER_LEN + 1 + 2 + p->room_len + p->nick_len + 8 + 2 + p->text_len;
	struct wire_writer w;

	wire_writer_init(&w, arena_reserve(&arena, size), size);
	wire_enc_room_topic(&w, 0, p->room, p->room_len, p->nick, p->nick_len, p->time_ms, p->text,
	                    p->text_len);
	return arena_commit(&arena, w.len);
}

static struct slice
render_presence(const struct pres *p)
{
	size_t size = WIRE_HEADER_LEN + 2 + 3 + p->room_len + p->nick_len + p->new_nick_len + 8;
	struct wire_writer w;

	if (p->kind == PRES_SUMMARY)
		return render_summary(p);
	if (p->kind == PRES_TOPIC)
		return render_topic(p);
	/* The words of a PART or QUIT follow in a REASON frame, which a client
	 * of before it skips (4.2). */
	if (p->text_len)
		size += WIRE_HEADER_LEN + 1 + 2 + p->room_len + p->nick_len + 2 + p->text_len;
	wire_writer_init(&w, arena_reserve(&arena, size), size);
	wire_enc_presence(&w, wire_kind_of(p->kind), wire_reason_of(p->reason), p->room,
	                  p->room_len, p->nick, p->nick_len, p->new_nick, p->new_nick_len,
	                  p->time_ms);
	if (p->text_len)
		wire_enc_reason(&w, wire_kind_of(p->kind), p->room, p->room_len, p->nick,
		                p->nick_len, p->text, p->text_len);
	return arena_commit(&arena, w.len);
}

static void
framed_cleanup(void)
{
	arena_release(&arena);
}

static void
on_message(void *ctx, struct msg *m)
{
	struct conn *c = ctx;

	conn_send(c, msg_wire(m, framed_frontend.slot, 0, render_message));
}

static void
on_presence(void *ctx, struct pres *p)
{
	struct conn *c = ctx;

	conn_send(c, pres_wire(p, framed_frontend.slot, render_presence));
}

/* --- long answers: LIST, USERS, WHO, a page per part --- */

struct listing {
	uint8_t type;                /* WIRE_LIST, WIRE_USERS or WIRE_WHO */
	uint8_t started;             /* a page was sent: resume after key / serial */
	char key[CORE_ROOM_MAX + 1]; /* the last room or nick given; WHO: the room */
	uint32_t serial;             /* WHO: the join serial of the last member given */
};

/* One NAMES frame of the given nicks. */
static void
send_names(struct conn *c, const char *room, size_t rn, struct session *const *v, size_t n,
           uint8_t flags)
{
	struct wire_list_writer lw;
	struct wire_writer *w;
	struct reply r;
	size_t k, size = WIRE_HEADER_LEN + 4 + 1 + rn;

	/* Reserve what this chunk needs, not what 64 of the longest nicks
	 * would: every joiner gets one, and idle memory counts. */
	for (k = 0; k < n; k++)
		size += 1 + session_nick_len(v[k]);
	w = reply_begin(&r, c, size);
	wire_names_begin(w, &lw, room, rn);
	for (k = 0; k < n; k++)
		wire_names_add(w, &lw, session_nick(v[k]), session_nick_len(v[k]));
	wire_list_end(w, &lw, flags);
	reply_end(&r);
}

/* One ROOMS frame. */
static void
send_rooms(struct conn *c, struct room *const *v, size_t n, uint8_t flags)
{
	struct wire_list_writer lw;
	struct wire_writer *w;
	struct reply r;
	size_t k;

	w = reply_begin(&r, c,
	                WIRE_HEADER_LEN + 3 + (size_t)WIRE_LIST_CHUNK * (1 + WIRE_ROOM_MAX + 4));
	wire_rooms_begin(w, &lw);
	for (k = 0; k < n; k++)
		wire_rooms_add(w, &lw, room_name(v[k]), room_name_len(v[k]),
		               room_member_count(v[k]));
	wire_list_end(w, &lw, flags);
	reply_end(&r);
}

static void
framed_end(struct conn *c)
{
	slab_free(c->fe_state, sizeof(struct listing));
	c->fe_state = NULL;
}

/*
 * The next page of c's listing: one frame of up to WIRE_LIST_CHUNK entries,
 * resumed from the last key (or member serial) given, so that a listing
 * spread over many loop turns names everyone present throughout exactly
 * once.  Returns nonzero while more remains.
 */
static int
framed_more(struct conn *c)
{
	struct listing *l = c->fe_state;
	struct core *core = conn_core(c);
	const char *after = l->started ? l->key : NULL;
	/* One more than a frame holds, to tell the last page. */
	struct session *sv[WIRE_LIST_CHUNK + 1];
	struct room *rv[WIRE_LIST_CHUNK + 1];
	size_t n, give;

	switch (l->type) {
	case WIRE_LIST:
		n = core_rooms_after(core, after, rv, WIRE_LIST_CHUNK + 1);
		give = n > WIRE_LIST_CHUNK ? WIRE_LIST_CHUNK : n;
		send_rooms(c, rv, give, n > give ? 0 : WIRE_LIST_LAST);
		if (give)
			snprintf(l->key, sizeof(l->key), "%s", room_key(rv[give - 1]));
		break;
	case WIRE_USERS:
		n = core_users_after(core, after, sv, WIRE_LIST_CHUNK + 1);
		give = n > WIRE_LIST_CHUNK ? WIRE_LIST_CHUNK : n;
		send_names(c, "", 0, sv, give, n > give ? 0 : WIRE_LIST_LAST);
		if (give)
			snprintf(l->key, sizeof(l->key), "%s", session_key(sv[give - 1]));
		break;
	default: {
		/* WHO: the room may have emptied since the last page. */
		struct room *r = core_room_find(core, l->key, strlen(l->key));

		n = give =
		        r ? room_members_after(r, l->serial, sv, WIRE_LIST_CHUNK, &l->serial) : 0;
		if (r && give == WIRE_LIST_CHUNK && l->serial < room_last_serial(r))
			n++; /* more to come */
		send_names(c, r ? room_name(r) : l->key, r ? room_name_len(r) : strlen(l->key), sv,
		           give, n > give ? 0 : WIRE_LIST_LAST);
		break;
	}
	}
	l->started = 1;
	if (n > give)
		return 1;
	framed_end(c);
	return 0;
}

/* Start a listing: its first page now, the rest as c reads (conn_produce). */
static void
listing_start(struct conn *c, uint8_t type, const char *room, size_t rn)
{
	struct listing *l = slab_zalloc(sizeof(*l));

	l->type = type;
	if (rn)
		memcpy(l->key, room, rn);
	c->fe_state = l;
	if (framed_more(c))
		conn_produce(c);
}

/* --- completions of the core's commands --- */

static void
send_welcome(struct conn *c)
{
	const struct config *cfg = conn_config(c);
	struct wire_msg m;
	struct reply r;

	memset(&m, 0, sizeof(m));
	m.u.welcome.version = WIRE_VERSION;
	m.u.welcome.nick.p = session_nick(c->sess);
	m.u.welcome.nick.len = (uint16_t)session_nick_len(c->sess);
	m.u.welcome.server.p = cfg->server_name;
	m.u.welcome.server.len = (uint16_t)strlen(cfg->server_name);
	m.u.welcome.max_frame = cfg->max_frame;
	m.u.welcome.max_text = (uint16_t)cfg->max_text;
	m.u.welcome.max_nick = WIRE_NICK_MAX;
	m.u.welcome.max_room = WIRE_ROOM_MAX;
	m.u.welcome.flood_rate = cfg->flood_rate;
	m.u.welcome.flood_burst = cfg->flood_burst;
	m.u.welcome.max_queue = cfg->max_queue;
	m.u.welcome.history_len = (uint16_t)cfg->history;
	m.u.welcome.max_rooms = (uint16_t)cfg->max_rooms;
	m.u.welcome.ping_interval_ms = (uint32_t)(cfg->ping_interval * 1000);
	m.u.welcome.ping_timeout_ms = (uint32_t)(cfg->ping_timeout * 1000);
	wire_enc_welcome(reply_begin(&r, c, FRAMED_REPLY_MAX), &m);
	reply_end(&r);
}

/* JOINED, the names (a big room's in part), the topic, the history,
 * HISTORY_END. */
static void
send_joined(struct conn *c, const struct core_joined *j)
{
	const char *name = room_name(j->room);
	size_t nlen = room_name_len(j->room), given = 0, n, tn;
	struct session *v[WIRE_LIST_CHUNK];
	const char *topic, *by;
	uint64_t ms;
	uint32_t serial = 0;
	struct reply r;
	unsigned i;

	wire_enc_joined(reply_begin(&r, c, FRAMED_REPLY_MAX), name, nlen, j->epoch, j->last_seq,
	                j->members);
	reply_end(&r);
	/* A big room's members are named in part: the first ones to join,
	 * flagged PARTIAL; WHO names them all, a page at a time. */
	do {
		n = room_members_after(j->room, serial, v, WIRE_LIST_CHUNK, &serial);
		given += n;
		send_names(c, name, nlen, v, n,
		           given == j->members        ? WIRE_LIST_LAST
		           : given >= CORE_JOIN_NAMES ? WIRE_LIST_LAST | WIRE_LIST_PARTIAL
		                                      : 0);
	} while (given < j->members && given < CORE_JOIN_NAMES);
	/* The room's topic, when it has one, before its history. */
	topic = room_topic(j->room, &tn, &by, &ms);
	if (tn) {
		wire_enc_room_topic(reply_begin(&r, c, FRAMED_REPLY_MAX), WIRE_TOPIC_CURRENT, name,
		                    nlen, by, strlen(by), ms, topic, tn);
		reply_end(&r);
	}
	for (i = 0; i < j->hist_count; i++)
		conn_send(c,
		          msg_wire(core_joined_msg(j, i), framed_frontend.slot, 1, render_message));
	wire_enc_history_end(reply_begin(&r, c, FRAMED_REPLY_MAX), name, nlen, j->epoch,
	                     j->last_seq, (uint16_t)j->hist_count, wire_hist_flags_of(j->flags));
	reply_end(&r);
	log_debug("conn %s: %s joined %s", conn_peer(c), session_nick(c->sess), name);
}

static void
send_ack(struct conn *c, uint32_t ref, const struct core_ack *ack)
{
	struct reply r;

	wire_enc_ack(reply_begin(&r, c, FRAMED_REPLY_MAX), ref, ack->seq, ack->time_ms);
	reply_end(&r);
}

/* The type of the request each command answers. */
static const uint8_t request_of[] = {
        [CMD_HELLO] = WIRE_HELLO, [CMD_NICK] = WIRE_NICK, [CMD_JOIN] = WIRE_JOIN,
        [CMD_PART] = WIRE_PART,   [CMD_SAY] = WIRE_SAY,   [CMD_DIRECT] = WIRE_MSG,
        [CMD_TOPIC] = WIRE_TOPIC,
};

/* A command completed: answer the request (tag: a SAY's or MSG's ref). */
static void
on_done(void *ctx, const struct core_reply *r)
{
	struct conn *c = ctx;
	uint32_t ref = (uint32_t)r->tag;

	if (r->err) {
		send_refusal(c, r->err, request_of[r->cmd], ref);
		return;
	}
	switch (r->cmd) {
	case CMD_HELLO:
		log_info("conn %s: registered as %s", conn_peer(c), session_nick(c->sess));
		send_welcome(c);
		break;
	case CMD_JOIN:
		send_joined(c, &r->joined);
		break;
	case CMD_SAY:
	case CMD_DIRECT:
		send_ack(c, ref, &r->ack);
		break;
	default:
		break; /* NICK and PART are confirmed by their PRESENCE, TOPIC by ROOM_TOPIC */
	}
}

static const struct sink framed_sink = {on_message, on_presence, on_done, conn_busy};

/* --- requests: one handler per client frame type --- */

static void
send_ping(struct conn *c, uint8_t type, uint64_t token)
{
	struct reply r;

	wire_enc_ping(reply_begin(&r, c, FRAMED_REPLY_MAX), type, token);
	reply_end(&r);
}

static void
framed_bye(struct conn *c, uint8_t reason)
{
	uint8_t wr = wire_reason_of(reason);
	const char *text = wr == WIRE_R_NONE ? "bye" : wire_reason_name(wr);
	struct reply r;

	wire_enc_bye(reply_begin(&r, c, FRAMED_REPLY_MAX), wr, text, strlen(text));
	reply_end(&r);
}

static void
do_hello(struct conn *c, const struct wire_msg *m)
{
	core_hello(conn_core(c), c->sess, m->u.hello.nick.p, m->u.hello.nick.len, 0);
}

static void
do_nick(struct conn *c, const struct wire_msg *m)
{
	core_nick(conn_core(c), c->sess, m->u.hello.nick.p, m->u.hello.nick.len, 0);
}

static void
do_join(struct conn *c, const struct wire_msg *m)
{
	core_join(conn_core(c), c->sess, m->u.join.room.p, m->u.join.room.len, m->u.join.epoch,
	          m->u.join.since, 0);
}

static void
do_part(struct conn *c, const struct wire_msg *m)
{
	core_part(conn_core(c), c->sess, m->u.room.room.p, m->u.room.room.len, "", 0, 0);
}

static void
do_say(struct conn *c, const struct wire_msg *m)
{
	core_say(conn_core(c), c->sess, m->u.say.target.p, m->u.say.target.len, m->u.say.text.p,
	         m->u.say.text.len, m->u.say.ref);
}

static void
do_msg(struct conn *c, const struct wire_msg *m)
{
	core_direct(conn_core(c), c->sess, m->u.say.target.p, m->u.say.target.len, m->u.say.text.p,
	            m->u.say.text.len, m->u.say.ref);
}

static void
do_topic(struct conn *c, const struct wire_msg *m)
{
	core_topic(conn_core(c), c->sess, m->u.topic.room.p, m->u.topic.room.len, m->u.topic.text.p,
	           m->u.topic.text.len, 0);
}

static void
do_list(struct conn *c, const struct wire_msg *m)
{
	listing_start(c, m->type, "", 0);
}

static void
do_who(struct conn *c, const struct wire_msg *m)
{
	struct room *room = core_room_find(conn_core(c), m->u.room.room.p, m->u.room.room.len);

	if (!valid_room(m->u.room.room.p, m->u.room.room.len))
		send_error(c, WIRE_E_ROOM_INVALID, WIRE_WHO, 0, NULL);
	else if (room == NULL)
		send_error(c, WIRE_E_NO_SUCH_ROOM, WIRE_WHO, 0, NULL);
	else
		listing_start(c, WIRE_WHO, room_name(room), room_name_len(room));
}

_Static_assert(WIRE_HISTORY_MAX <= CORE_PAGE_MAX, "a HISTORY page fits the core's");

/* A page of older history: MESSAGE frames flagged HISTORY, oldest first,
 * then HISTORY_END with MORE when older ones remain. */
static void
do_history(struct conn *c, const struct wire_msg *m)
{
	const struct wire_str *name = &m->u.history.room;
	unsigned limit = m->u.history.limit, i;
	struct msg *page[CORE_PAGE_MAX];
	struct core *core = conn_core(c);
	struct reply rep;
	struct room *r;
	int n, more;

	if (!valid_room(name->p, name->len)) {
		send_error(c, WIRE_E_ROOM_INVALID, WIRE_HISTORY, 0, NULL);
		return;
	}
	r = core_room_lookup(core, name->p, name->len);
	if (r == NULL || !room_has_member(r, c->sess)) {
		send_error(c, WIRE_E_NOT_IN_ROOM, WIRE_HISTORY, 0, NULL);
		return;
	}
	if (limit == 0 || limit > WIRE_HISTORY_MAX)
		limit = WIRE_HISTORY_MAX;
	if ((n = core_history_before(core, r, m->u.history.before, limit, page, &more)) < 0) {
		send_error(c, WIRE_E_STORE_UNAVAILABLE, WIRE_HISTORY, 0, NULL);
		return;
	}
	for (i = 0; i < (unsigned)n; i++) {
		conn_send(c, msg_wire(page[i], framed_frontend.slot, 1, render_message));
		msg_unref(page[i]);
	}
	wire_enc_history_end(reply_begin(&rep, c, FRAMED_REPLY_MAX), room_name(r), room_name_len(r),
	                     room_epoch(r), room_last_seq(r), (uint16_t)n,
	                     more ? WIRE_HIST_MORE : 0);
	reply_end(&rep);
}

static void
do_ping(struct conn *c, const struct wire_msg *m)
{
	send_ping(c, WIRE_PONG, m->u.ping.token);
}

static void
do_pong(struct conn *c, const struct wire_msg *m)
{
	(void)c;
	(void)m; /* its arrival already counted as life */
}

static void
do_quit(struct conn *c, const struct wire_msg *m)
{
	(void)m;
	framed_bye(c, REASON_NONE);
	conn_close_after_flush(c, REASON_NONE, CHATD_DRAIN_TIMEOUT);
}

/* The client frames, by type: what handles each, and whether it may come
 * before HELLO (docs/protocol.md 4.2). */
struct command {
	void (*run)(struct conn *c, const struct wire_msg *m);
	uint8_t before_hello;
};

static const struct command commands[] = {
        [WIRE_HELLO] = {do_hello, 1},     [WIRE_JOIN] = {do_join, 0},   [WIRE_PART] = {do_part, 0},
        [WIRE_SAY] = {do_say, 0},         [WIRE_MSG] = {do_msg, 0},     [WIRE_NICK] = {do_nick, 0},
        [WIRE_LIST] = {do_list, 0},       [WIRE_WHO] = {do_who, 0},     [WIRE_USERS] = {do_list, 0},
        [WIRE_PING] = {do_ping, 1},       [WIRE_PONG] = {do_pong, 1},   [WIRE_QUIT] = {do_quit, 1},
        [WIRE_HISTORY] = {do_history, 0}, [WIRE_TOPIC] = {do_topic, 0},
};

/* Act on one decoded client frame. */
static void
dispatch(struct conn *c, const struct wire_msg *m)
{
	const struct command *cmd = &commands[m->type];

	if (!cmd->before_hello && !session_registered(c->sess)) {
		uint32_t ref = m->type == WIRE_SAY || m->type == WIRE_MSG ? m->u.say.ref : 0;

		send_error(c, WIRE_E_NOT_REGISTERED, m->type, ref, "say HELLO first");
		return;
	}
	cmd->run(c, m);
}

static size_t
framed_input(struct conn *c, const uint8_t *p, size_t len)
{
	uint32_t max_frame = conn_config(c)->max_frame;
	size_t off = 0;

	while (conn_ready(c)) {
		struct wire_frame f;
		struct wire_msg m;
		char detail[96];
		size_t used;
		int rc;

		switch (wire_frame_next(p + off, len - off, max_frame, &f, &used)) {
		case WIRE_NEED_MORE:
			return off;
		case WIRE_TOO_LARGE:
			snprintf(detail, sizeof(detail), "the limit is %u bytes", max_frame);
			fatal_error(c, WIRE_E_FRAME_TOO_LARGE, 0, detail);
			return len;
		case WIRE_OK:
			break;
		}
		if (!conn_spend(c))
			return off;
		off += used;
		rc = wire_decode(f.type, f.payload, f.len, &m);
		if (rc == -2) {
			snprintf(detail, sizeof(detail), "0x%02x", f.type);
			send_error(c, WIRE_E_UNKNOWN_TYPE, f.type, 0, detail);
		} else if (rc < 0) {
			snprintf(detail, sizeof(detail), "%s payload of %u bytes",
			         wire_type_name(f.type), f.len);
			fatal_error(c, WIRE_E_MALFORMED, f.type, detail);
		} else if (f.type >= sizeof(commands) / sizeof(commands[0]) ||
		           commands[f.type].run == NULL) {
			/* A server-to-client frame: the peer has the roles confused. */
			fatal_error(c, WIRE_E_MALFORMED, f.type, "a server frame sent by a client");
		} else {
			dispatch(c, &m);
		}
	}
	/* Closing: the rest is dropped; a long answer begun: the rest waits. */
	return c->state == CONN_OPEN ? off : len;
}

static size_t
framed_input_max(const struct config *cfg)
{
	return cfg->max_frame + WIRE_HEADER_LEN;
}

static void
framed_start(struct conn *c)
{
	c->sess = core_session_new(conn_core(c), &framed_sink, c);
}

static void
framed_idle(struct conn *c)
{
	static uint64_t token;

	send_ping(c, WIRE_PING, ++token);
}

struct frontend framed_frontend = {
        .name = "framed",
        .detect = framed_detect,
        .input_max = framed_input_max,
        .start = framed_start,
        .input = framed_input,
        .idle = framed_idle,
        .bye = framed_bye,
        .refuse = framed_refuse,
        .broken = framed_broken,
        .end = framed_end,
        .more = framed_more,
        .cleanup = framed_cleanup,
};
