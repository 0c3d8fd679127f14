/*
 * The framed front end: decodes client frames into core commands, and
 * renders core events and replies as frames.  It is a translator only;
 * every decision about rooms, names and history is the core's.
 */
#include "proto/framed/framed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatd/wire.h"
#include "net/conn.h"
#include "core/core.h"
#include "util/log.h"
#include "util/slab.h"
#include "net/server.h"
#include "core/valid.h"

/* Largest fixed-size reply (everything but lists and messages). */
#define FRAMED_REPLY_MAX (WIRE_HEADER_LEN + 512)

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

/* A refusal by a configured limit says which limit and its value; other
 * refusals need no detail. */
static const char *
limit_detail(const struct conn *c, int code, char *buf, size_t n)
{
	const struct config *cfg = &c->srv->cfg;

	switch (code) {
	case WIRE_E_TEXT_TOO_LONG:
		snprintf(buf, n, "the limit is %u bytes (max-text)", cfg->max_text);
		return buf;
	case WIRE_E_TOO_MANY_ROOMS:
		snprintf(buf, n, "the limit is %u rooms (max-rooms)", cfg->max_rooms);
		return buf;
	case WIRE_E_ROOM_FULL:
		snprintf(buf, n, "the limit is %u members (max-members)", cfg->max_members);
		return buf;
	case WIRE_E_ROOM_LIMIT:
		snprintf(buf, n, "the limit is %u rooms (max-rooms-total)", cfg->max_rooms_total);
		return buf;
	default:
		return NULL;
	}
}

/* A 1xx error: say why, then close once it is flushed. */
static void
fatal_error(struct conn *c, uint16_t code, uint8_t type, const char *detail)
{
	log_notice("conn %s: closing: %s%s%s", conn_peer(c), wire_error_name(code),
	           detail ? ": " : "", detail ? detail : "");
	send_error(c, code, type, 0, detail);
	conn_close_after_flush(c,
	                       code == WIRE_E_HANDSHAKE_TIMEOUT ? WIRE_R_HANDSHAKE_TIMEOUT
	                                                        : WIRE_R_PROTOCOL_ERROR,
	                       CHATD_DRAIN_TIMEOUT);
}

void
framed_refuse(struct conn *c, uint16_t code, const char *why)
{
	c->fe = &framed_frontend;
	if (c->state == CONN_DETECT)
		conn_set_state(c, CONN_OPEN);
	if (why == NULL)
		why = code == WIRE_E_BAD_VERSION
		              ? "this server speaks version 1"
		              : "expected the 8-byte preface 89 43 48 41 54 44 00 01";
	fatal_error(c, code, 0, why);
}

/* Live renderings go back to back into the arena (see blk.h); history
 * renderings stay cached on the message for later joiners, so each gets a
 * block of its own rather than pinning an arena block. */
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

		wire_summary_add(&w, &lw, e->kind, e->reason, e->nick, e->nick_len, e->new_nick,
		                 e->new_nick_len);
	}
	wire_list_end(&w, &lw, p->omitted ? WIRE_SUMMARY_OMITTED : 0);
	return arena_commit(&arena, w.len);
}

static struct slice
render_presence(const struct pres *p)
{
	size_t size = WIRE_HEADER_LEN + 2 + 3 + p->room_len + p->nick_len + p->new_nick_len + 8;
	struct wire_writer w;

	if (p->kind == PRES_SUMMARY)
		return render_summary(p);

	wire_writer_init(&w, arena_reserve(&arena, size), size);
	wire_enc_presence(&w, p->kind, p->reason, p->room, p->room_len, p->nick, p->nick_len,
	                  p->new_nick, p->new_nick_len, p->time_ms);
	return arena_commit(&arena, w.len);
}

void
framed_cleanup(void)
{
	arena_release(&arena);
}

static void
on_message(void *ctx, struct msg *m)
{
	struct conn *c = ctx;

	conn_send(c, msg_wire(m, MSG_FMT_FRAMED, 0, render_message));
}

static void
on_presence(void *ctx, struct pres *p)
{
	struct conn *c = ctx;

	conn_send(c, pres_wire(p, MSG_FMT_FRAMED, render_presence));
}

static const struct sink framed_sink = {on_message, on_presence};

static void framed_end(struct conn *c);

static void
send_welcome(struct conn *c)
{
	const struct config *cfg = &c->srv->cfg;
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

/* A long answer in progress: LIST, USERS or WHO, a page per part. */
struct listing {
	uint8_t type;                /* WIRE_LIST, WIRE_USERS or WIRE_WHO */
	uint8_t started;             /* a page was sent: resume after key / serial */
	char key[WIRE_ROOM_MAX + 1]; /* the last room or nick given; WHO: the room */
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
	struct core *core = c->srv->core;
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

static void
do_join(struct conn *c, const struct wire_msg *m)
{
	const struct history *h;
	struct core_joined j;
	struct reply r;
	unsigned i;
	int err;

	err = core_join(c->srv->core, c->sess, m->u.join.room.p, m->u.join.room.len,
	                m->u.join.epoch, m->u.join.since, &j);
	if (err) {
		char d[96];

		send_error(c, (uint16_t)err, WIRE_JOIN, 0, limit_detail(c, err, d, sizeof(d)));
		return;
	}
	const char *name = room_name(j.room);
	size_t nlen = room_name_len(j.room);

	wire_enc_joined(reply_begin(&r, c, FRAMED_REPLY_MAX), name, nlen, j.epoch, j.last_seq,
	                j.members);
	reply_end(&r);
	{
		/* A big room's members are named in part: the first ones to
		 * join, flagged PARTIAL; WHO names them all, a page at a time. */
		struct session *v[WIRE_LIST_CHUNK];
		uint32_t serial = 0;
		size_t given = 0, n;

		do {
			n = room_members_after(j.room, serial, v, WIRE_LIST_CHUNK, &serial);
			given += n;
			send_names(c, name, nlen, v, n,
			           given == j.members          ? WIRE_LIST_LAST
			           : given >= CHATD_JOIN_NAMES ? WIRE_LIST_LAST | WIRE_LIST_PARTIAL
			                                       : 0);
		} while (given < j.members && given < CHATD_JOIN_NAMES);
	}
	h = room_history(j.room);
	for (i = 0; i < j.hist_count; i++)
		conn_send(c, msg_wire(history_at(h, j.hist_from + i), MSG_FMT_FRAMED, 1,
		                      render_message));
	wire_enc_history_end(reply_begin(&r, c, FRAMED_REPLY_MAX), name, nlen, j.epoch, j.last_seq,
	                     (uint16_t)j.hist_count, j.flags);
	reply_end(&r);
	log_debug("conn %s: %s joined %s", conn_peer(c), session_nick(c->sess), name);
}

static void
do_who(struct conn *c, const struct wire_msg *m)
{
	struct room *room = core_room_find(c->srv->core, m->u.room.room.p, m->u.room.room.len);

	if (!valid_room(m->u.room.room.p, m->u.room.room.len)) {
		send_error(c, WIRE_E_ROOM_INVALID, WIRE_WHO, 0, NULL);
		return;
	}
	if (room == NULL) {
		send_error(c, WIRE_E_NO_SUCH_ROOM, WIRE_WHO, 0, NULL);
		return;
	}
	listing_start(c, WIRE_WHO, room_name(room), room_name_len(room));
}

static void
send_ack(struct conn *c, uint32_t ref, const struct core_ack *ack)
{
	struct reply r;

	wire_enc_ack(reply_begin(&r, c, FRAMED_REPLY_MAX), ref, ack->seq, ack->time_ms);
	reply_end(&r);
}

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
	const char *text = reason == WIRE_R_NONE ? "bye" : wire_reason_name(reason);
	struct reply r;

	wire_enc_bye(reply_begin(&r, c, FRAMED_REPLY_MAX), reason, text, strlen(text));
	reply_end(&r);
}

/* Requests allowed before HELLO. */
static int
allowed_unregistered(uint8_t type)
{
	return type == WIRE_HELLO || type == WIRE_PING || type == WIRE_PONG || type == WIRE_QUIT;
}

/* Act on one decoded client frame. */
static void
dispatch(struct conn *c, const struct wire_msg *m)
{
	struct core *core = c->srv->core;
	struct core_ack ack;
	char detail[96];
	int err;

	if (!session_registered(c->sess) && !allowed_unregistered(m->type)) {
		uint32_t ref = m->type == WIRE_SAY || m->type == WIRE_MSG ? m->u.say.ref : 0;

		send_error(c, WIRE_E_NOT_REGISTERED, m->type, ref, "say HELLO first");
		return;
	}
	switch (m->type) {
	case WIRE_HELLO:
		err = core_hello(core, c->sess, m->u.hello.nick.p, m->u.hello.nick.len);
		if (err) {
			send_error(c, (uint16_t)err, m->type, 0, NULL);
			return;
		}
		log_info("conn %s: registered as %s", conn_peer(c), session_nick(c->sess));
		send_welcome(c);
		break;
	case WIRE_NICK:
		err = core_nick(core, c->sess, m->u.hello.nick.p, m->u.hello.nick.len);
		if (err)
			send_error(c, (uint16_t)err, m->type, 0, NULL);
		break;
	case WIRE_JOIN:
		do_join(c, m);
		break;
	case WIRE_PART:
		err = core_part(core, c->sess, m->u.room.room.p, m->u.room.room.len);
		if (err)
			send_error(c, (uint16_t)err, m->type, 0, NULL);
		break;
	case WIRE_SAY:
		err = core_say(core, c->sess, m->u.say.target.p, m->u.say.target.len,
		               m->u.say.text.p, m->u.say.text.len, &ack);
		if (err)
			send_error(c, (uint16_t)err, m->type, m->u.say.ref,
			           limit_detail(c, err, detail, sizeof(detail)));
		else
			send_ack(c, m->u.say.ref, &ack);
		break;
	case WIRE_MSG:
		err = core_direct(core, c->sess, m->u.say.target.p, m->u.say.target.len,
		                  m->u.say.text.p, m->u.say.text.len, &ack);
		if (err)
			send_error(c, (uint16_t)err, m->type, m->u.say.ref,
			           limit_detail(c, err, detail, sizeof(detail)));
		else
			send_ack(c, m->u.say.ref, &ack);
		break;
	case WIRE_LIST:
	case WIRE_USERS:
		listing_start(c, m->type, "", 0);
		break;
	case WIRE_WHO:
		do_who(c, m);
		break;
	case WIRE_PING:
		send_ping(c, WIRE_PONG, m->u.ping.token);
		break;
	case WIRE_PONG:
		break; /* its arrival already counted as life */
	case WIRE_QUIT:
		framed_bye(c, WIRE_R_NONE);
		conn_close_after_flush(c, WIRE_R_NONE, CHATD_DRAIN_TIMEOUT);
		break;
	default:
		break; /* server frames never get here: framed_input refuses them */
	}
}

static size_t
framed_input(struct conn *c, const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (conn_ready(c)) {
		struct wire_frame f;
		struct wire_msg m;
		char detail[96];
		size_t used;
		int rc;

		switch (wire_frame_next(p + off, len - off, c->srv->cfg.max_frame, &f, &used)) {
		case WIRE_NEED_MORE:
			return off;
		case WIRE_TOO_LARGE:
			snprintf(detail, sizeof(detail), "the limit is %u bytes",
			         c->srv->cfg.max_frame);
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
		} else if (f.type >= 0x40) {
			/* A server-to-client frame: the peer has the roles confused. */
			fatal_error(c, WIRE_E_MALFORMED, f.type, "a server frame sent by a client");
		} else {
			dispatch(c, &m);
		}
	}
	/* Closing: the rest is dropped; a long answer begun: the rest waits. */
	return c->state == CONN_OPEN ? off : len;
}

static void
framed_end(struct conn *c)
{
	slab_free(c->fe_state, sizeof(struct listing));
	c->fe_state = NULL;
}

static void
framed_start(struct conn *c)
{
	c->sess = core_session_new(c->srv->core, &framed_sink, c);
}

static void
framed_idle(struct conn *c)
{
	send_ping(c, WIRE_PING, ++c->srv->ping_token);
}

const struct frontend framed_frontend = {
        "framed",   framed_input,  framed_start, framed_idle,
        framed_bye, framed_refuse, framed_end,   framed_more,
};
