/*
 * Fuzz target: the framed protocol's input path, as framed_input() and
 * conn.c run it.  The input is the byte stream a client sends after its
 * preface.  It is split into frames with wire_frame_next() and every frame
 * is decoded with wire_decode(), three ways:
 *
 *   - the whole stream at once, with the client limit WIRE_FRAME_MAX_HARD;
 *   - the whole stream at once, with the server's default max_frame;
 *   - in reads of pseudo-random sizes (seeded from the input), the unused
 *     tail held back and the next read appended, as conn.c's keep() does.
 *
 * Invariants: a frame lies inside the bytes given and its payload right
 * after its header; an oversized length is refused from its 4 bytes
 * alone; every split of the stream gives the same frames; a decoder
 * accepts exactly the known types, its strings and lists lie inside the
 * payload, a payload one byte shorter or longer is refused (layouts are
 * exact), and re-encoding a decoded frame with the wire_enc_* functions
 * gives back its bytes, in a buffer of exactly that size and not in one
 * byte less.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatd/wire.h"
#include "fuzz.h"
#include "util/defaults.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in release builds; invariants must not be. */

/* Frames remembered per pass, for comparing passes; beyond this only the
 * per-frame invariants are checked. */
#define MAX_SEEN 4096

struct seen {
	size_t off; /* of the header, from the start of the stream */
	uint32_t len;
	uint8_t type;
};

struct pass {
	struct seen f[MAX_SEEN];
	size_t n;      /* frames found (may exceed MAX_SEEN) */
	int too_large; /* stopped at a refused length */
	size_t end;    /* offset where the splitting stopped */
};

static struct pass whole_hard, whole_server, chunked;

/* Room for re-encoding the largest frame. */
static uint8_t out[WIRE_HEADER_LEN + WIRE_FRAME_MAX_HARD];

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The frame types of docs/protocol.md 4.2, independent of wire.c. */
static int
type_known(uint8_t t)
{
	return (t >= 0x01 && t <= 0x0e) || (t >= 0x41 && t <= 0x4d);
}

static int
str_inside(struct wire_str s, const uint8_t *payload, size_t len)
{
	const uint8_t *p = (const uint8_t *)s.p;

	return s.len == 0 || (p >= payload && p <= payload + len && s.len <= payload + len - p);
}

/* Re-encode decoded frame m into out with capacity cap; returns the
 * writer's error flag and sets *n to the bytes written. */
static int
encode(const struct wire_msg *m, size_t cap, size_t *n)
{
	struct wire_writer w;
	struct wire_list_writer lw;
	struct wire_list l;
	struct wire_str s, s2;
	uint32_t members;
	uint8_t kind, reason;

	wire_writer_init(&w, out, cap);
	switch (m->type) {
	case WIRE_HELLO:
		wire_enc_hello(&w, m->u.hello.nick.p, m->u.hello.nick.len);
		break;
	case WIRE_NICK:
		wire_enc_nick(&w, m->u.hello.nick.p, m->u.hello.nick.len);
		break;
	case WIRE_JOIN:
		wire_enc_join(&w, m->u.join.room.p, m->u.join.room.len, m->u.join.epoch,
		              m->u.join.since);
		break;
	case WIRE_PART:
		wire_enc_part(&w, m->u.room.room.p, m->u.room.room.len);
		break;
	case WIRE_WHO:
		wire_enc_who(&w, m->u.room.room.p, m->u.room.room.len);
		break;
	case WIRE_HISTORY:
		wire_enc_history(&w, m->u.history.room.p, m->u.history.room.len,
		                 m->u.history.before, m->u.history.limit);
		break;
	case WIRE_SAY:
		wire_enc_say(&w, m->u.say.ref, m->u.say.target.p, m->u.say.target.len,
		             m->u.say.text.p, m->u.say.text.len);
		break;
	case WIRE_MSG:
		wire_enc_msg(&w, m->u.say.ref, m->u.say.target.p, m->u.say.target.len,
		             m->u.say.text.p, m->u.say.text.len);
		break;
	case WIRE_TOPIC:
		wire_enc_topic(&w, m->u.topic.room.p, m->u.topic.room.len, m->u.topic.text.p,
		               m->u.topic.text.len);
		break;
	case WIRE_ROOM_TOPIC:
		wire_enc_room_topic(&w, m->u.room_topic.flags, m->u.room_topic.room.p,
		                    m->u.room_topic.room.len, m->u.room_topic.nick.p,
		                    m->u.room_topic.nick.len, m->u.room_topic.time_ms,
		                    m->u.room_topic.text.p, m->u.room_topic.text.len);
		break;
	case WIRE_LIST:
	case WIRE_USERS:
	case WIRE_QUIT:
		wire_enc_empty(&w, m->type);
		break;
	case WIRE_PING:
	case WIRE_PONG:
		wire_enc_ping(&w, m->type, m->u.ping.token);
		break;
	case WIRE_WELCOME:
		wire_enc_welcome(&w, m);
		break;
	case WIRE_JOINED:
		wire_enc_joined(&w, m->u.joined.room.p, m->u.joined.room.len, m->u.joined.epoch,
		                m->u.joined.last_seq, m->u.joined.members);
		break;
	case WIRE_HISTORY_END:
		wire_enc_history_end(&w, m->u.history_end.room.p, m->u.history_end.room.len,
		                     m->u.history_end.epoch, m->u.history_end.last_seq,
		                     m->u.history_end.count, m->u.history_end.flags);
		break;
	case WIRE_MESSAGE:
		wire_enc_message(&w, m->u.message.flags, m->u.message.room.p, m->u.message.room.len,
		                 m->u.message.from.p, m->u.message.from.len, m->u.message.seq,
		                 m->u.message.time_ms, m->u.message.text.p, m->u.message.text.len);
		break;
	case WIRE_PRESENCE:
		wire_enc_presence(&w, m->u.presence.kind, m->u.presence.reason,
		                  m->u.presence.room.p, m->u.presence.room.len,
		                  m->u.presence.nick.p, m->u.presence.nick.len,
		                  m->u.presence.new_nick.p, m->u.presence.new_nick.len,
		                  m->u.presence.time_ms);
		break;
	case WIRE_REASON:
		wire_enc_reason(&w, m->u.reason.kind, m->u.reason.room.p, m->u.reason.room.len,
		                m->u.reason.nick.p, m->u.reason.nick.len, m->u.reason.text.p,
		                m->u.reason.text.len);
		break;
	case WIRE_ROOMS:
		wire_rooms_begin(&w, &lw);
		l = m->u.rooms.list;
		while (wire_list_next_room(&l, &s, &members))
			wire_rooms_add(&w, &lw, s.p, s.len, members);
		wire_list_end(&w, &lw, m->u.rooms.flags);
		break;
	case WIRE_NAMES:
		wire_names_begin(&w, &lw, m->u.names.room.p, m->u.names.room.len);
		l = m->u.names.list;
		while (wire_list_next_name(&l, &s))
			wire_names_add(&w, &lw, s.p, s.len);
		wire_list_end(&w, &lw, m->u.names.flags);
		break;
	case WIRE_ACK:
		wire_enc_ack(&w, m->u.ack.ref, m->u.ack.seq, m->u.ack.time_ms);
		break;
	case WIRE_ERROR:
		wire_enc_error(&w, m->u.error.code, m->u.error.type, m->u.error.ref,
		               m->u.error.text.p, m->u.error.text.len);
		break;
	case WIRE_BYE:
		wire_enc_bye(&w, m->u.bye.reason, m->u.bye.text.p, m->u.bye.text.len);
		break;
	case WIRE_SUMMARY:
		wire_summary_begin(&w, &lw, m->u.summary.room.p, m->u.summary.room.len,
		                   m->u.summary.members, m->u.summary.joins, m->u.summary.leaves,
		                   m->u.summary.time_ms);
		l = m->u.summary.list;
		while (wire_list_next_event(&l, &kind, &reason, &s, &s2))
			wire_summary_add(&w, &lw, kind, reason, s.p, s.len, s2.p, s2.len);
		wire_list_end(&w, &lw, m->u.summary.flags);
		break;
	default:
		FUZZ_CHECK(!"decoded a type the encoder does not know");
	}
	*n = w.len;
	return w.err;
}

/* One entry of a list of the given type (ROOMS, NAMES, SUMMARY); its
 * strings in s and s2. */
static int
list_next(struct wire_list *l, uint8_t type, struct wire_str *s, struct wire_str *s2)
{
	uint32_t members;
	uint8_t kind, reason;

	*s2 = (struct wire_str){"", 0};
	if (type == WIRE_ROOMS)
		return wire_list_next_room(l, s, &members);
	if (type == WIRE_SUMMARY)
		return wire_list_next_event(l, &kind, &reason, s, s2);
	return wire_list_next_name(l, s);
}

/* Walk a decoded list: every entry inside the payload, count entries,
 * and the walk ends exactly at the list's end. */
static void
check_list(struct wire_list l, uint8_t type, const uint8_t *payload, size_t len)
{
	struct wire_str s, s2;
	unsigned k = 0;

	FUZZ_CHECK(l.p >= payload && l.p <= l.end && l.end <= payload + len);
	while (list_next(&l, type, &s, &s2)) {
		FUZZ_CHECK(str_inside(s, payload, len));
		FUZZ_CHECK(str_inside(s2, payload, len));
		FUZZ_CHECK(k < 65536);
		k++;
	}
	FUZZ_CHECK(k == l.count);
	FUZZ_CHECK(l.p == l.end);
}

/* Every string of a decoded frame lies inside its payload. */
static void
check_strings(const struct wire_msg *m, const uint8_t *payload, size_t len)
{
	switch (m->type) {
	case WIRE_HELLO:
	case WIRE_NICK:
		FUZZ_CHECK(str_inside(m->u.hello.nick, payload, len));
		break;
	case WIRE_JOIN:
		FUZZ_CHECK(str_inside(m->u.join.room, payload, len));
		break;
	case WIRE_PART:
	case WIRE_WHO:
		FUZZ_CHECK(str_inside(m->u.room.room, payload, len));
		break;
	case WIRE_HISTORY:
		FUZZ_CHECK(str_inside(m->u.history.room, payload, len));
		break;
	case WIRE_SAY:
	case WIRE_MSG:
		FUZZ_CHECK(str_inside(m->u.say.target, payload, len));
		FUZZ_CHECK(str_inside(m->u.say.text, payload, len));
		break;
	case WIRE_TOPIC:
		FUZZ_CHECK(str_inside(m->u.topic.room, payload, len));
		FUZZ_CHECK(str_inside(m->u.topic.text, payload, len));
		break;
	case WIRE_ROOM_TOPIC:
		FUZZ_CHECK(str_inside(m->u.room_topic.room, payload, len));
		FUZZ_CHECK(str_inside(m->u.room_topic.nick, payload, len));
		FUZZ_CHECK(str_inside(m->u.room_topic.text, payload, len));
		break;
	case WIRE_WELCOME:
		FUZZ_CHECK(str_inside(m->u.welcome.nick, payload, len));
		FUZZ_CHECK(str_inside(m->u.welcome.server, payload, len));
		break;
	case WIRE_JOINED:
		FUZZ_CHECK(str_inside(m->u.joined.room, payload, len));
		break;
	case WIRE_HISTORY_END:
		FUZZ_CHECK(str_inside(m->u.history_end.room, payload, len));
		break;
	case WIRE_MESSAGE:
		FUZZ_CHECK(str_inside(m->u.message.room, payload, len));
		FUZZ_CHECK(str_inside(m->u.message.from, payload, len));
		FUZZ_CHECK(str_inside(m->u.message.text, payload, len));
		break;
	case WIRE_PRESENCE:
		FUZZ_CHECK(str_inside(m->u.presence.room, payload, len));
		FUZZ_CHECK(str_inside(m->u.presence.nick, payload, len));
		FUZZ_CHECK(str_inside(m->u.presence.new_nick, payload, len));
		break;
	case WIRE_REASON:
		FUZZ_CHECK(str_inside(m->u.reason.room, payload, len));
		FUZZ_CHECK(str_inside(m->u.reason.nick, payload, len));
		FUZZ_CHECK(str_inside(m->u.reason.text, payload, len));
		break;
	case WIRE_ROOMS:
		check_list(m->u.rooms.list, WIRE_ROOMS, payload, len);
		break;
	case WIRE_NAMES:
		FUZZ_CHECK(str_inside(m->u.names.room, payload, len));
		check_list(m->u.names.list, WIRE_NAMES, payload, len);
		break;
	case WIRE_ERROR:
		FUZZ_CHECK(str_inside(m->u.error.text, payload, len));
		break;
	case WIRE_BYE:
		FUZZ_CHECK(str_inside(m->u.bye.text, payload, len));
		break;
	case WIRE_SUMMARY:
		FUZZ_CHECK(str_inside(m->u.summary.room, payload, len));
		check_list(m->u.summary.list, WIRE_SUMMARY, payload, len);
		break;
	default:
		break;
	}
}

/* Decode one whole frame (header at hdr) and check what came out. */
static void
check_frame(const uint8_t *hdr, const struct wire_frame *f)
{
	size_t used = WIRE_HEADER_LEN + (size_t)f->len, n;
	struct wire_msg m, m2;
	uint8_t *copy;
	int rc;

	rc = wire_decode(f->type, f->payload, f->len, &m);
	FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2);
	FUZZ_CHECK((rc == -2) == !type_known(f->type));
	FUZZ_CHECK(m.type == f->type);
	/* framed_input() names the frame in its error details. */
	FUZZ_CHECK(wire_type_name(f->type)[0] != '\0');
	if (rc != 0)
		return;
	check_strings(&m, f->payload, f->len);
	/* Clients log the codes and reasons they receive by name. */
	if (m.type == WIRE_ERROR)
		FUZZ_CHECK(wire_error_name(m.u.error.code)[0] != '\0');
	if (m.type == WIRE_PRESENCE)
		FUZZ_CHECK(wire_reason_name(m.u.presence.reason)[0] != '\0');
	if (m.type == WIRE_BYE)
		FUZZ_CHECK(wire_reason_name(m.u.bye.reason)[0] != '\0');

	/* Layouts are exact: one byte less or one byte more is malformed. */
	if (f->len > 0)
		FUZZ_CHECK(wire_decode(f->type, f->payload, f->len - 1, &m2) == -1);
	copy = malloc((size_t)f->len + 1);
	FUZZ_CHECK(copy != NULL);
	if (f->len)
		memcpy(copy, f->payload, f->len);
	copy[f->len] = 0;
	FUZZ_CHECK(wire_decode(f->type, copy, (size_t)f->len + 1, &m2) == -1);
	free(copy);

	/* Re-encoding gives the same bytes, and needs every one of them. */
	FUZZ_CHECK(encode(&m, used, &n) == 0);
	FUZZ_CHECK(n == used);
	FUZZ_CHECK(memcmp(out, hdr, used) == 0);
	FUZZ_CHECK(encode(&m, used - 1, &n) != 0);
}

static void
remember(struct pass *ps, size_t off, const struct wire_frame *f)
{
	if (ps->n < MAX_SEEN)
		ps->f[ps->n] = (struct seen){off, f->len, f->type};
	ps->n++;
}

/* Split buf[0, len) into frames with limit max; base is buf's offset in
 * the stream.  Returns the bytes used; sets ps->too_large when the next
 * header was refused. */
static size_t
split(struct pass *ps, const uint8_t *buf, size_t len, size_t base, uint32_t max, int decode)
{
	size_t off = 0;

	for (;;) {
		struct wire_frame f;
		size_t used = 0;
		size_t left = len - off;

		switch (wire_frame_next(buf + off, left, max, &f, &used)) {
		case WIRE_NEED_MORE:
			/* Only a short header or a short body waits. */
			FUZZ_CHECK(left < WIRE_HEADER_LEN ||
			           left - WIRE_HEADER_LEN < be32(buf + off));
			if (left >= 4)
				FUZZ_CHECK(be32(buf + off) <= max);
			return off;
		case WIRE_TOO_LARGE:
			/* Decided from the length bytes alone. */
			FUZZ_CHECK(left >= 4 && be32(buf + off) > max);
			FUZZ_CHECK(wire_frame_next(buf + off, 4, max, &f, &used) == WIRE_TOO_LARGE);
			ps->too_large = 1;
			return off;
		case WIRE_OK:
			break;
		default:
			FUZZ_CHECK(!"wire_frame_next returned something else");
		}
		FUZZ_CHECK(left >= WIRE_HEADER_LEN);
		FUZZ_CHECK(used == WIRE_HEADER_LEN + (size_t)f.len && used <= left);
		FUZZ_CHECK(f.len == be32(buf + off) && f.len <= max);
		FUZZ_CHECK(f.type == buf[off + 4]);
		FUZZ_CHECK(f.payload == buf + off + WIRE_HEADER_LEN);
		remember(ps, base + off, &f);
		if (decode)
			check_frame(buf + off, &f);
		off += used;
	}
}

static void
whole(struct pass *ps, const uint8_t *data, size_t size, uint32_t max, int decode)
{
	ps->n = 0;
	ps->too_large = 0;
	ps->end = split(ps, data, size, 0, max, decode);
}

/* The stream in reads: the unused tail is held in a buffer of exactly its
 * size (so that a read past it is caught) and the next read appended. */
static void
in_reads(struct pass *ps, const uint8_t *data, size_t size, uint32_t max)
{
	uint64_t seed = 0xcbf29ce484222325ull;
	struct held h = {NULL, 0};
	size_t at = 0, consumed = 0, i;

	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ull;
	seed |= 1;
	ps->n = 0;
	ps->too_large = 0;
	while (at < size && !ps->too_large) {
		size_t k = next_read(&seed, 10, size - at), used;

		held_add(&h, data + at, k);
		at += k;
		used = split(ps, h.p, h.n, consumed, max, 0);
		consumed += used;
		held_drop(&h, used);
	}
	free(h.p);
	ps->end = consumed;
}

static int
same_frames(const struct pass *a, const struct pass *b, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < MAX_SEEN; i++)
		if (a->f[i].off != b->f[i].off || a->f[i].len != b->f[i].len ||
		    a->f[i].type != b->f[i].type)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The client's limit: every frame decoded and re-encoded. */
	whole(&whole_hard, data, size, WIRE_FRAME_MAX_HARD, 1);

	/* The server's default limit: the same frames up to the first one
	 * it refuses. */
	whole(&whole_server, data, size, CHATD_DEFAULT_MAX_FRAME, 0);
	FUZZ_CHECK(whole_server.n <= whole_hard.n);
	FUZZ_CHECK(same_frames(&whole_server, &whole_hard, whole_server.n));
	if (!whole_server.too_large) {
		FUZZ_CHECK(whole_server.n == whole_hard.n);
		FUZZ_CHECK(whole_server.end == whole_hard.end);
		FUZZ_CHECK(!whole_hard.too_large);
	}

	/* Any split into reads finds the same frames and stops at the same
	 * place for the same reason. */
	in_reads(&chunked, data, size, CHATD_DEFAULT_MAX_FRAME);
	FUZZ_CHECK(chunked.n == whole_server.n);
	FUZZ_CHECK(same_frames(&chunked, &whole_server, chunked.n));
	FUZZ_CHECK(chunked.too_large == whole_server.too_large);
	FUZZ_CHECK(chunked.end == whole_server.end);
	return 0;
}
