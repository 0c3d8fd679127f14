/*
 * The framed protocol codec: frame splitting, payload decoding and frame
 * encoding.  Pure: no syscalls, no allocation, every read checked against
 * the end of its buffer and every write against the writer's capacity.
 */
#include "chatd/wire.h"

#include <string.h>

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

enum wire_status
wire_frame_next(const uint8_t *buf, size_t len, uint32_t max_payload, struct wire_frame *f,
                size_t *used)
{
	uint32_t plen;

	if (len < 4)
		return WIRE_NEED_MORE;
	/* The length is judged as soon as its four bytes are here, so an
	 * oversized frame is refused before any of its body is waited for. */
	plen = get32(buf);
	if (plen > max_payload)
		return WIRE_TOO_LARGE;
	if (len < WIRE_HEADER_LEN || len - WIRE_HEADER_LEN < plen)
		return WIRE_NEED_MORE;
	f->len = plen;
	f->type = buf[4];
	f->payload = buf + WIRE_HEADER_LEN;
	*used = WIRE_HEADER_LEN + (size_t)plen;
	return WIRE_OK;
}

int
wire_preface_prefix(const uint8_t *buf, size_t len)
{
	/* The last preface byte is the version, which any value may take. */
	size_t fixed = WIRE_PREFACE_LEN - 1;

	if (len == 0)
		return 1;
	return memcmp(buf, WIRE_PREFACE, len < fixed ? len : fixed) == 0;
}

/* A bounds-checked cursor over a payload; a failed read sets err and
 * every later read fails too, so decoders check once at the end. */
struct reader {
	const uint8_t *p;
	const uint8_t *end;
	int err;
};

static const uint8_t *
take(struct reader *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->err || (size_t)(r->end - r->p) < n) {
		r->err = 1;
		return NULL;
	}
	r->p += n;
	return p;
}

static uint8_t
rd8(struct reader *r)
{
	const uint8_t *p = take(r, 1);

	return p ? p[0] : 0;
}

static uint16_t
rd16(struct reader *r)
{
	const uint8_t *p = take(r, 2);

	return p ? get16(p) : 0;
}

static uint32_t
rd32(struct reader *r)
{
	const uint8_t *p = take(r, 4);

	return p ? get32(p) : 0;
}

static uint64_t
rd64(struct reader *r)
{
	const uint8_t *p = take(r, 8);

	return p ? get64(p) : 0;
}

static struct wire_str
rdstr(struct reader *r, int wide)
{
	struct wire_str s = {"", 0};
	size_t n = wide ? rd16(r) : rd8(r);
	const uint8_t *p = take(r, n);

	if (p) {
		s.p = (const char *)p;
		s.len = (uint16_t)n;
	}
	return s;
}

/* Validate a list of count entries, each a str8 optionally followed by a
 * u32, and remember where it lies. */
static struct wire_list
rdlist(struct reader *r, int with_u32)
{
	struct wire_list l;
	uint16_t i;

	l.count = rd16(r);
	l.p = r->p;
	for (i = 0; i < l.count && !r->err; i++) {
		(void)rdstr(r, 0);
		if (with_u32)
			(void)rd32(r);
	}
	l.end = r->p;
	return l;
}

/* A SUMMARY's events, checked as rdlist() checks entries. */
static struct wire_list
rdevents(struct reader *r)
{
	struct wire_list l;
	uint16_t i;

	l.count = rd16(r);
	l.p = r->p;
	for (i = 0; i < l.count && !r->err; i++) {
		(void)rd16(r); /* kind, reason */
		(void)rdstr(r, 0);
		(void)rdstr(r, 0);
	}
	l.end = r->p;
	return l;
}

int
wire_decode(uint8_t type, const uint8_t *payload, size_t len, struct wire_msg *m)
{
	struct reader r;

	/* An empty payload may come as NULL; arithmetic on NULL is undefined. */
	if (payload == NULL)
		payload = (const uint8_t *)"";
	r.p = payload;
	r.end = payload + len;
	r.err = 0;
	memset(m, 0, sizeof(*m));
	m->type = type;
	switch (type) {
	case WIRE_HELLO:
	case WIRE_NICK:
		m->u.hello.nick = rdstr(&r, 0);
		break;
	case WIRE_JOIN:
		m->u.join.room = rdstr(&r, 0);
		m->u.join.epoch = rd64(&r);
		m->u.join.since = rd64(&r);
		break;
	case WIRE_PART:
	case WIRE_WHO:
		m->u.room.room = rdstr(&r, 0);
		break;
	case WIRE_HISTORY:
		m->u.history.room = rdstr(&r, 0);
		m->u.history.before = rd64(&r);
		m->u.history.limit = rd16(&r);
		break;
	case WIRE_SAY:
	case WIRE_MSG:
		m->u.say.ref = rd32(&r);
		m->u.say.target = rdstr(&r, 0);
		m->u.say.text = rdstr(&r, 1);
		break;
	case WIRE_TOPIC:
		m->u.topic.room = rdstr(&r, 0);
		m->u.topic.text = rdstr(&r, 1);
		break;
	case WIRE_LIST:
	case WIRE_USERS:
	case WIRE_QUIT:
		break;
	case WIRE_PING:
	case WIRE_PONG:
		m->u.ping.token = rd64(&r);
		break;
	case WIRE_WELCOME:
		m->u.welcome.version = rd8(&r);
		m->u.welcome.nick = rdstr(&r, 0);
		m->u.welcome.server = rdstr(&r, 0);
		m->u.welcome.max_frame = rd32(&r);
		m->u.welcome.max_text = rd16(&r);
		m->u.welcome.max_nick = rd8(&r);
		m->u.welcome.max_room = rd8(&r);
		m->u.welcome.flood_rate = rd32(&r);
		m->u.welcome.flood_burst = rd32(&r);
		m->u.welcome.max_queue = rd32(&r);
		m->u.welcome.history_len = rd16(&r);
		m->u.welcome.max_rooms = rd16(&r);
		m->u.welcome.ping_interval_ms = rd32(&r);
		m->u.welcome.ping_timeout_ms = rd32(&r);
		break;
	case WIRE_JOINED:
		m->u.joined.room = rdstr(&r, 0);
		m->u.joined.epoch = rd64(&r);
		m->u.joined.last_seq = rd64(&r);
		m->u.joined.members = rd32(&r);
		break;
	case WIRE_HISTORY_END:
		m->u.history_end.room = rdstr(&r, 0);
		m->u.history_end.epoch = rd64(&r);
		m->u.history_end.last_seq = rd64(&r);
		m->u.history_end.count = rd16(&r);
		m->u.history_end.flags = rd8(&r);
		break;
	case WIRE_MESSAGE:
		m->u.message.flags = rd8(&r);
		m->u.message.room = rdstr(&r, 0);
		m->u.message.from = rdstr(&r, 0);
		m->u.message.seq = rd64(&r);
		m->u.message.time_ms = rd64(&r);
		m->u.message.text = rdstr(&r, 1);
		break;
	case WIRE_PRESENCE:
		m->u.presence.kind = rd8(&r);
		m->u.presence.reason = rd8(&r);
		m->u.presence.room = rdstr(&r, 0);
		m->u.presence.nick = rdstr(&r, 0);
		m->u.presence.new_nick = rdstr(&r, 0);
		m->u.presence.time_ms = rd64(&r);
		break;
	case WIRE_REASON:
		m->u.reason.kind = rd8(&r);
		m->u.reason.room = rdstr(&r, 0);
		m->u.reason.nick = rdstr(&r, 0);
		m->u.reason.text = rdstr(&r, 1);
		break;
	case WIRE_ROOMS:
		m->u.rooms.flags = rd8(&r);
		m->u.rooms.list = rdlist(&r, 1);
		break;
	case WIRE_NAMES:
		m->u.names.flags = rd8(&r);
		m->u.names.room = rdstr(&r, 0);
		m->u.names.list = rdlist(&r, 0);
		break;
	case WIRE_SUMMARY:
		m->u.summary.flags = rd8(&r);
		m->u.summary.room = rdstr(&r, 0);
		m->u.summary.members = rd32(&r);
		m->u.summary.joins = rd32(&r);
		m->u.summary.leaves = rd32(&r);
		m->u.summary.time_ms = rd64(&r);
		m->u.summary.list = rdevents(&r);
		break;
	case WIRE_ROOM_TOPIC:
		m->u.room_topic.flags = rd8(&r);
		m->u.room_topic.room = rdstr(&r, 0);
		m->u.room_topic.nick = rdstr(&r, 0);
		m->u.room_topic.time_ms = rd64(&r);
		m->u.room_topic.text = rdstr(&r, 1);
		break;
	case WIRE_ACK:
		m->u.ack.ref = rd32(&r);
		m->u.ack.seq = rd64(&r);
		m->u.ack.time_ms = rd64(&r);
		break;
	case WIRE_ERROR:
		m->u.error.code = rd16(&r);
		m->u.error.type = rd8(&r);
		m->u.error.ref = rd32(&r);
		m->u.error.text = rdstr(&r, 1);
		break;
	case WIRE_BYE:
		m->u.bye.reason = rd8(&r);
		m->u.bye.text = rdstr(&r, 1);
		break;
	default:
		return -2;
	}
	/* Version 1 layouts are exact: a short field or a trailing byte
	 * means the peer and we disagree about the frame. */
	if (r.err || r.p != r.end)
		return -1;
	return 0;
}

int
wire_list_next_room(struct wire_list *l, struct wire_str *name, uint32_t *members)
{
	struct reader r = {l->p, l->end, 0};

	if (l->p >= l->end)
		return 0;
	*name = rdstr(&r, 0);
	*members = rd32(&r);
	if (r.err)
		return 0;
	l->p = r.p;
	return 1;
}

int
wire_list_next_name(struct wire_list *l, struct wire_str *nick)
{
	struct reader r = {l->p, l->end, 0};

	if (l->p >= l->end)
		return 0;
	*nick = rdstr(&r, 0);
	if (r.err)
		return 0;
	l->p = r.p;
	return 1;
}

int
wire_list_next_event(struct wire_list *l, uint8_t *kind, uint8_t *reason, struct wire_str *nick,
                     struct wire_str *new_nick)
{
	struct reader r = {l->p, l->end, 0};

	if (l->p >= l->end)
		return 0;
	*kind = rd8(&r);
	*reason = rd8(&r);
	*nick = rdstr(&r, 0);
	*new_nick = rdstr(&r, 0);
	if (r.err)
		return 0;
	l->p = r.p;
	return 1;
}

void
wire_writer_init(struct wire_writer *w, void *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->frame = 0;
	w->err = 0;
}

/* Reserve n bytes at the end of w, or fail the writer. */
static uint8_t *
reserve(struct wire_writer *w, size_t n)
{
	uint8_t *p;

	if (w->err || w->cap - w->len < n || w->buf == NULL) {
		w->err = n > 0 || w->buf == NULL ? 1 : w->err;
		return NULL;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
wire_put_u8(struct wire_writer *w, uint8_t v)
{
	uint8_t *p = reserve(w, 1);

	if (p)
		p[0] = v;
}

void
wire_put_u16(struct wire_writer *w, uint16_t v)
{
	uint8_t *p = reserve(w, 2);

	if (p)
		put16(p, v);
}

void
wire_put_u32(struct wire_writer *w, uint32_t v)
{
	uint8_t *p = reserve(w, 4);

	if (p)
		put32(p, v);
}

void
wire_put_u64(struct wire_writer *w, uint64_t v)
{
	uint8_t *p = reserve(w, 8);

	if (p) {
		put32(p, (uint32_t)(v >> 32));
		put32(p + 4, (uint32_t)v);
	}
}

void
wire_put_bytes(struct wire_writer *w, const void *src, size_t n)
{
	uint8_t *p = reserve(w, n);

	if (p && n)
		memcpy(p, src, n);
}

void
wire_put_str8(struct wire_writer *w, const char *s, size_t n)
{
	if (n > UINT8_MAX) {
		w->err = 1;
		return;
	}
	wire_put_u8(w, (uint8_t)n);
	wire_put_bytes(w, s, n);
}

void
wire_put_str16(struct wire_writer *w, const char *s, size_t n)
{
	if (n > UINT16_MAX) {
		w->err = 1;
		return;
	}
	wire_put_u16(w, (uint16_t)n);
	wire_put_bytes(w, s, n);
}

void
wire_begin(struct wire_writer *w, uint8_t type)
{
	w->frame = w->len;
	wire_put_u32(w, 0);
	wire_put_u8(w, type);
}

void
wire_end(struct wire_writer *w)
{
	if (w->err)
		return;
	put32(w->buf + w->frame, (uint32_t)(w->len - w->frame - WIRE_HEADER_LEN));
}

/* HELLO, NICK, PART and WHO share a layout: one str8. */
static void
enc_name(struct wire_writer *w, uint8_t type, const char *s, size_t n)
{
	wire_begin(w, type);
	wire_put_str8(w, s, n);
	wire_end(w);
}

void
wire_enc_hello(struct wire_writer *w, const char *nick, size_t n)
{
	enc_name(w, WIRE_HELLO, nick, n);
}

void
wire_enc_nick(struct wire_writer *w, const char *nick, size_t n)
{
	enc_name(w, WIRE_NICK, nick, n);
}

void
wire_enc_join(struct wire_writer *w, const char *room, size_t n, uint64_t epoch, uint64_t since)
{
	wire_begin(w, WIRE_JOIN);
	wire_put_str8(w, room, n);
	wire_put_u64(w, epoch);
	wire_put_u64(w, since);
	wire_end(w);
}

void
wire_enc_part(struct wire_writer *w, const char *room, size_t n)
{
	enc_name(w, WIRE_PART, room, n);
}

void
wire_enc_history(struct wire_writer *w, const char *room, size_t n, uint64_t before, uint16_t limit)
{
	wire_begin(w, WIRE_HISTORY);
	wire_put_str8(w, room, n);
	wire_put_u64(w, before);
	wire_put_u16(w, limit);
	wire_end(w);
}

void
wire_enc_who(struct wire_writer *w, const char *room, size_t n)
{
	enc_name(w, WIRE_WHO, room, n);
}

/* SAY and MSG share a layout: ref, target, text. */
static void
enc_text(struct wire_writer *w, uint8_t type, uint32_t ref, const char *target, size_t n,
         const char *text, size_t tn)
{
	wire_begin(w, type);
	wire_put_u32(w, ref);
	wire_put_str8(w, target, n);
	wire_put_str16(w, text, tn);
	wire_end(w);
}

void
wire_enc_say(struct wire_writer *w, uint32_t ref, const char *room, size_t rn, const char *text,
             size_t tn)
{
	enc_text(w, WIRE_SAY, ref, room, rn, text, tn);
}

void
wire_enc_msg(struct wire_writer *w, uint32_t ref, const char *nick, size_t nn, const char *text,
             size_t tn)
{
	enc_text(w, WIRE_MSG, ref, nick, nn, text, tn);
}

void
wire_enc_topic(struct wire_writer *w, const char *room, size_t rn, const char *text, size_t tn)
{
	wire_begin(w, WIRE_TOPIC);
	wire_put_str8(w, room, rn);
	wire_put_str16(w, text, tn);
	wire_end(w);
}

void
wire_enc_empty(struct wire_writer *w, uint8_t type)
{
	wire_begin(w, type);
	wire_end(w);
}

void
wire_enc_ping(struct wire_writer *w, uint8_t type, uint64_t token)
{
	wire_begin(w, type);
	wire_put_u64(w, token);
	wire_end(w);
}

void
wire_enc_welcome(struct wire_writer *w, const struct wire_msg *m)
{
	wire_begin(w, WIRE_WELCOME);
	wire_put_u8(w, m->u.welcome.version);
	wire_put_str8(w, m->u.welcome.nick.p, m->u.welcome.nick.len);
	wire_put_str8(w, m->u.welcome.server.p, m->u.welcome.server.len);
	wire_put_u32(w, m->u.welcome.max_frame);
	wire_put_u16(w, m->u.welcome.max_text);
	wire_put_u8(w, m->u.welcome.max_nick);
	wire_put_u8(w, m->u.welcome.max_room);
	wire_put_u32(w, m->u.welcome.flood_rate);
	wire_put_u32(w, m->u.welcome.flood_burst);
	wire_put_u32(w, m->u.welcome.max_queue);
	wire_put_u16(w, m->u.welcome.history_len);
	wire_put_u16(w, m->u.welcome.max_rooms);
	wire_put_u32(w, m->u.welcome.ping_interval_ms);
	wire_put_u32(w, m->u.welcome.ping_timeout_ms);
	wire_end(w);
}

void
wire_enc_joined(struct wire_writer *w, const char *room, size_t n, uint64_t epoch,
                uint64_t last_seq, uint32_t members)
{
	wire_begin(w, WIRE_JOINED);
	wire_put_str8(w, room, n);
	wire_put_u64(w, epoch);
	wire_put_u64(w, last_seq);
	wire_put_u32(w, members);
	wire_end(w);
}

void
wire_enc_history_end(struct wire_writer *w, const char *room, size_t n, uint64_t epoch,
                     uint64_t last_seq, uint16_t count, uint8_t flags)
{
	wire_begin(w, WIRE_HISTORY_END);
	wire_put_str8(w, room, n);
	wire_put_u64(w, epoch);
	wire_put_u64(w, last_seq);
	wire_put_u16(w, count);
	wire_put_u8(w, flags);
	wire_end(w);
}

void
wire_enc_message(struct wire_writer *w, uint8_t flags, const char *room, size_t rn,
                 const char *from, size_t fn, uint64_t seq, uint64_t time_ms, const char *text,
                 size_t tn)
{
	wire_begin(w, WIRE_MESSAGE);
	wire_put_u8(w, flags);
	wire_put_str8(w, room, rn);
	wire_put_str8(w, from, fn);
	wire_put_u64(w, seq);
	wire_put_u64(w, time_ms);
	wire_put_str16(w, text, tn);
	wire_end(w);
}

void
wire_enc_presence(struct wire_writer *w, uint8_t kind, uint8_t reason, const char *room, size_t rn,
                  const char *nick, size_t nn, const char *new_nick, size_t nnn, uint64_t time_ms)
{
	wire_begin(w, WIRE_PRESENCE);
	wire_put_u8(w, kind);
	wire_put_u8(w, reason);
	wire_put_str8(w, room, rn);
	wire_put_str8(w, nick, nn);
	wire_put_str8(w, new_nick, nnn);
	wire_put_u64(w, time_ms);
	wire_end(w);
}

void
wire_enc_reason(struct wire_writer *w, uint8_t kind, const char *room, size_t rn, const char *nick,
                size_t nn, const char *text, size_t tn)
{
	wire_begin(w, WIRE_REASON);
	wire_put_u8(w, kind);
	wire_put_str8(w, room, rn);
	wire_put_str8(w, nick, nn);
	wire_put_str16(w, text, tn);
	wire_end(w);
}

void
wire_enc_room_topic(struct wire_writer *w, uint8_t flags, const char *room, size_t rn,
                    const char *nick, size_t nn, uint64_t time_ms, const char *text, size_t tn)
{
	wire_begin(w, WIRE_ROOM_TOPIC);
	wire_put_u8(w, flags);
	wire_put_str8(w, room, rn);
	wire_put_str8(w, nick, nn);
	wire_put_u64(w, time_ms);
	wire_put_str16(w, text, tn);
	wire_end(w);
}

void
wire_enc_ack(struct wire_writer *w, uint32_t ref, uint64_t seq, uint64_t time_ms)
{
	wire_begin(w, WIRE_ACK);
	wire_put_u32(w, ref);
	wire_put_u64(w, seq);
	wire_put_u64(w, time_ms);
	wire_end(w);
}

void
wire_enc_error(struct wire_writer *w, uint16_t code, uint8_t type, uint32_t ref, const char *text,
               size_t n)
{
	wire_begin(w, WIRE_ERROR);
	wire_put_u16(w, code);
	wire_put_u8(w, type);
	wire_put_u32(w, ref);
	wire_put_str16(w, text, n);
	wire_end(w);
}

void
wire_enc_bye(struct wire_writer *w, uint8_t reason, const char *text, size_t n)
{
	wire_begin(w, WIRE_BYE);
	wire_put_u8(w, reason);
	wire_put_str16(w, text, n);
	wire_end(w);
}

/* Open a list frame: flags placeholder, the given prefix, count placeholder. */
static void
list_begin(struct wire_writer *w, struct wire_list_writer *lw, uint8_t type)
{
	wire_begin(w, type);
	lw->flags_at = w->len;
	wire_put_u8(w, 0);
	lw->count = 0;
}

void
wire_rooms_begin(struct wire_writer *w, struct wire_list_writer *lw)
{
	list_begin(w, lw, WIRE_ROOMS);
	lw->count_at = w->len;
	wire_put_u16(w, 0);
}

void
wire_rooms_add(struct wire_writer *w, struct wire_list_writer *lw, const char *name, size_t n,
               uint32_t members)
{
	wire_put_str8(w, name, n);
	wire_put_u32(w, members);
	lw->count++;
}

void
wire_names_begin(struct wire_writer *w, struct wire_list_writer *lw, const char *room, size_t n)
{
	list_begin(w, lw, WIRE_NAMES);
	wire_put_str8(w, room, n);
	lw->count_at = w->len;
	wire_put_u16(w, 0);
}

void
wire_names_add(struct wire_writer *w, struct wire_list_writer *lw, const char *nick, size_t n)
{
	wire_put_str8(w, nick, n);
	lw->count++;
}

void
wire_summary_begin(struct wire_writer *w, struct wire_list_writer *lw, const char *room, size_t n,
                   uint32_t members, uint32_t joins, uint32_t leaves, uint64_t time_ms)
{
	list_begin(w, lw, WIRE_SUMMARY);
	wire_put_str8(w, room, n);
	wire_put_u32(w, members);
	wire_put_u32(w, joins);
	wire_put_u32(w, leaves);
	wire_put_u64(w, time_ms);
	lw->count_at = w->len;
	wire_put_u16(w, 0);
}

void
wire_summary_add(struct wire_writer *w, struct wire_list_writer *lw, uint8_t kind, uint8_t reason,
                 const char *nick, size_t nn, const char *new_nick, size_t nnn)
{
	wire_put_u8(w, kind);
	wire_put_u8(w, reason);
	wire_put_str8(w, nick, nn);
	wire_put_str8(w, new_nick, nnn);
	lw->count++;
}

void
wire_list_end(struct wire_writer *w, struct wire_list_writer *lw, uint8_t flags)
{
	if (w->err)
		return;
	w->buf[lw->flags_at] = flags;
	put16(w->buf + lw->count_at, lw->count);
	wire_end(w);
}

const char *
wire_type_name(uint8_t type)
{
	switch (type) {
	case WIRE_HELLO:
		return "HELLO";
	case WIRE_JOIN:
		return "JOIN";
	case WIRE_PART:
		return "PART";
	case WIRE_SAY:
		return "SAY";
	case WIRE_MSG:
		return "MSG";
	case WIRE_NICK:
		return "NICK";
	case WIRE_LIST:
		return "LIST";
	case WIRE_WHO:
		return "WHO";
	case WIRE_HISTORY:
		return "HISTORY";
	case WIRE_USERS:
		return "USERS";
	case WIRE_PING:
		return "PING";
	case WIRE_PONG:
		return "PONG";
	case WIRE_QUIT:
		return "QUIT";
	case WIRE_TOPIC:
		return "TOPIC";
	case WIRE_ROOM_TOPIC:
		return "ROOM_TOPIC";
	case WIRE_WELCOME:
		return "WELCOME";
	case WIRE_JOINED:
		return "JOINED";
	case WIRE_HISTORY_END:
		return "HISTORY_END";
	case WIRE_MESSAGE:
		return "MESSAGE";
	case WIRE_PRESENCE:
		return "PRESENCE";
	case WIRE_REASON:
		return "REASON";
	case WIRE_ROOMS:
		return "ROOMS";
	case WIRE_NAMES:
		return "NAMES";
	case WIRE_ACK:
		return "ACK";
	case WIRE_ERROR:
		return "ERROR";
	case WIRE_BYE:
		return "BYE";
	case WIRE_SUMMARY:
		return "SUMMARY";
	default:
		return "unknown";
	}
}

const char *
wire_error_name(uint16_t code)
{
	switch (code) {
	case WIRE_E_BAD_PREFACE:
		return "bad preface";
	case WIRE_E_BAD_VERSION:
		return "unsupported protocol version";
	case WIRE_E_FRAME_TOO_LARGE:
		return "frame too large";
	case WIRE_E_MALFORMED:
		return "malformed frame";
	case WIRE_E_HANDSHAKE_TIMEOUT:
		return "handshake timeout";
	case WIRE_E_SERVER_FULL:
		return "server full";
	case WIRE_E_UNKNOWN_TYPE:
		return "unknown frame type";
	case WIRE_E_NOT_REGISTERED:
		return "not registered";
	case WIRE_E_ALREADY_REGISTERED:
		return "already registered";
	case WIRE_E_NICK_INVALID:
		return "invalid nickname";
	case WIRE_E_NICK_TAKEN:
		return "nickname taken";
	case WIRE_E_ROOM_INVALID:
		return "invalid room name";
	case WIRE_E_TEXT_INVALID:
		return "invalid text";
	case WIRE_E_TEXT_TOO_LONG:
		return "text too long";
	case WIRE_E_NOT_IN_ROOM:
		return "not in room";
	case WIRE_E_ALREADY_IN_ROOM:
		return "already in room";
	case WIRE_E_NO_SUCH_ROOM:
		return "no such room";
	case WIRE_E_NO_SUCH_USER:
		return "no such user";
	case WIRE_E_TOO_MANY_ROOMS:
		return "too many rooms";
	case WIRE_E_ROOM_FULL:
		return "room full";
	case WIRE_E_ROOM_LIMIT:
		return "too many rooms on the server";
	case WIRE_E_STORE_UNAVAILABLE:
		return "history store unavailable";
	case WIRE_E_CLUSTER_UNAVAILABLE:
		return "cluster unavailable";
	default:
		return "unknown error";
	}
}

const char *
wire_reason_name(uint8_t reason)
{
	switch (reason) {
	case WIRE_R_NONE:
		return "none";
	case WIRE_R_CLOSED:
		return "connection closed";
	case WIRE_R_RESET:
		return "connection reset";
	case WIRE_R_PING_TIMEOUT:
		return "ping timeout";
	case WIRE_R_SLOW_CONSUMER:
		return "slow consumer";
	case WIRE_R_PROTOCOL_ERROR:
		return "protocol error";
	case WIRE_R_SHUTDOWN:
		return "server shutdown";
	case WIRE_R_HANDSHAKE_TIMEOUT:
		return "handshake timeout";
	case WIRE_R_TIMEOUT:
		return "timeout";
	case WIRE_R_NODE_LOST:
		return "node lost";
	default:
		return "unknown";
	}
}
