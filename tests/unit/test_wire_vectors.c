/*
 * Unit tests of the framed-protocol codec (src/proto/framed/wire.c) against the test
 * vectors of docs/protocol.md.  Each vector is built with its wire_enc_*
 * call, decoded back field by field, and looked up verbatim in the
 * document, whose path is argv[1]: the codec and the document cannot
 * drift apart.  The rest covers what a vector cannot show: incremental
 * decoding over arbitrary partial reads, oversized lengths, exact payload
 * layouts, unknown types, writer bounds and the list walkers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatd/wire.h"

#define EPOCH       1732439912345ULL /* E in docs/protocol.md */
#define TIME        1732440000123ULL /* T in docs/protocol.md */
#define MAX_PAYLOAD 8192u            /* the default max_frame */

/* A wire_str initializer from a string literal. */
#define S(lit)                                                                                     \
	{                                                                                          \
		lit, (uint16_t)(sizeof(lit) - 1)                                                   \
	}

/* The entries of a ROOMS, NAMES or SUMMARY vector. */
struct vec_list {
	uint16_t count;
	struct wire_str name[3];
	uint32_t members[3]; /* ROOMS only */
	uint8_t kind[3];     /* SUMMARY only, as the next two */
	uint8_t reason[3];
	struct wire_str renamed[3];
};

/* One documented vector: its name, its bytes, and the values it holds.
 * m.type 0 marks the preface, which is not a frame. */
struct vector {
	const char *name;
	const char *hex;
	struct wire_msg m;
	struct vec_list list;
};

/* Not const: each entry is handed to its own test as cmocka state. */
static struct vector vectors[] = {
        {.name = "preface", .hex = "89 43 48 41 54 44 00 01", .m = {.type = 0}},

        /* Client frames. */
        {.name = "hello",
         .hex = "00 00 00 06 01 05 61 6c 69 63 65",
         .m = {.type = WIRE_HELLO, .u.hello = {S("alice")}}},
        {.name = "join",
         .hex = "00 00 00 16 02 05 6c 6f 62 62 79 00 00 00 00 00 "
                "00 00 00 00 00 00 00 00 00 00 00",
         .m = {.type = WIRE_JOIN, .u.join = {S("lobby"), 0, 0}}},
        {.name = "join_cursor",
         .hex = "00 00 00 16 02 05 6c 6f 62 62 79 00 00 01 93 5d "
                "77 2f 99 00 00 00 00 00 00 00 78",
         .m = {.type = WIRE_JOIN, .u.join = {S("lobby"), EPOCH, 120}}},
        {.name = "part",
         .hex = "00 00 00 06 03 05 6c 6f 62 62 79",
         .m = {.type = WIRE_PART, .u.room = {S("lobby")}}},
        {.name = "say",
         .hex = "00 00 00 18 04 00 00 00 01 05 6c 6f 62 62 79 00 "
                "0c 68 65 6c 6c 6f 2c 20 77 6f 72 6c 64",
         .m = {.type = WIRE_SAY, .u.say = {1, S("lobby"), S("hello, world")}}},
        {.name = "msg",
         .hex = "00 00 00 10 05 00 00 00 02 03 62 6f 62 00 06 68 69 20 62 6f 62",
         .m = {.type = WIRE_MSG, .u.say = {2, S("bob"), S("hi bob")}}},
        {.name = "nick",
         .hex = "00 00 00 08 06 07 61 6c 69 63 65 5f 32",
         .m = {.type = WIRE_NICK, .u.hello = {S("alice_2")}}},
        {.name = "list", .hex = "00 00 00 00 07", .m = {.type = WIRE_LIST}},
        {.name = "who",
         .hex = "00 00 00 06 08 05 6c 6f 62 62 79",
         .m = {.type = WIRE_WHO, .u.room = {S("lobby")}}},
        {.name = "users", .hex = "00 00 00 00 09", .m = {.type = WIRE_USERS}},
        {.name = "history",
         .hex = "00 00 00 10 0d 05 6c 6f 62 62 79 00 00 00 00 00 00 00 47 00 32",
         .m = {.type = WIRE_HISTORY, .u.history = {S("lobby"), 71, 50}}},
        {.name = "ping",
         .hex = "00 00 00 08 0a 01 02 03 04 05 06 07 08",
         .m = {.type = WIRE_PING, .u.ping = {0x0102030405060708ULL}}},
        {.name = "pong",
         .hex = "00 00 00 08 0b 01 02 03 04 05 06 07 08",
         .m = {.type = WIRE_PONG, .u.ping = {0x0102030405060708ULL}}},
        {.name = "quit", .hex = "00 00 00 00 0c", .m = {.type = WIRE_QUIT}},
        {.name = "topic",
         .hex = "00 00 00 18 0e 05 6c 6f 62 62 79 00 10 70 6c 61 "
                "6e 73 20 66 6f 72 20 66 72 69 64 61 79",
         .m = {.type = WIRE_TOPIC, .u.topic = {S("lobby"), S("plans for friday")}}},
        {.name = "topic_clear",
         .hex = "00 00 00 08 0e 05 6c 6f 62 62 79 00 00",
         .m = {.type = WIRE_TOPIC, .u.topic = {S("lobby"), S("")}}},

        /* Server frames. */
        {.name = "welcome",
         .hex = "00 00 00 34 41 01 05 61 6c 69 63 65 0c 63 68 61 "
                "74 2e 65 78 61 6d 70 6c 65 00 00 20 00 10 00 20 "
                "40 00 00 00 14 00 00 00 28 00 10 00 00 00 32 00 "
                "40 00 00 75 30 00 00 75 30",
         .m = {.type = WIRE_WELCOME,
               .u.welcome = {.version = 1,
                             .nick = S("alice"),
                             .server = S("chat.example"),
                             .max_frame = 8192,
                             .max_text = 4096,
                             .max_nick = 32,
                             .max_room = 64,
                             .flood_rate = 20,
                             .flood_burst = 40,
                             .max_queue = 1048576,
                             .history_len = 50,
                             .max_rooms = 64,
                             .ping_interval_ms = 30000,
                             .ping_timeout_ms = 30000}}},
        {.name = "joined",
         .hex = "00 00 00 1a 42 05 6c 6f 62 62 79 00 00 01 93 5d "
                "77 2f 99 00 00 00 00 00 00 00 78 00 00 00 03",
         .m = {.type = WIRE_JOINED, .u.joined = {S("lobby"), EPOCH, 120, 3}}},
        {.name = "history_end",
         .hex = "00 00 00 19 43 05 6c 6f 62 62 79 00 00 01 93 5d "
                "77 2f 99 00 00 00 00 00 00 00 78 00 32 00",
         .m = {.type = WIRE_HISTORY_END, .u.history_end = {S("lobby"), EPOCH, 120, 50, 0}}},
        {.name = "history_end_stale",
         .hex = "00 00 00 19 43 05 6c 6f 62 62 79 00 00 01 93 5d "
                "77 2f 99 00 00 00 00 00 00 00 78 00 32 03",
         .m = {.type = WIRE_HISTORY_END,
               .u.history_end = {S("lobby"), EPOCH, 120, 50,
                                 WIRE_HIST_TRUNCATED | WIRE_HIST_EPOCH_CHANGED}}},
        {.name = "history_end_more",
         .hex = "00 00 00 19 43 05 6c 6f 62 62 79 00 00 01 93 5d "
                "77 2f 99 00 00 00 00 00 00 00 78 00 32 04",
         .m = {.type = WIRE_HISTORY_END,
               .u.history_end = {S("lobby"), EPOCH, 120, 50, WIRE_HIST_MORE}}},
        {.name = "message",
         .hex = "00 00 00 23 44 00 05 6c 6f 62 62 79 03 62 6f 62 "
                "00 00 00 00 00 00 00 79 00 00 01 93 5d 78 86 7b "
                "00 06 68 69 20 61 6c 6c",
         .m = {.type = WIRE_MESSAGE,
               .u.message = {0, S("lobby"), S("bob"), 121, TIME, S("hi all")}}},
        {.name = "message_history",
         .hex = "00 00 00 25 44 01 05 6c 6f 62 62 79 05 63 61 72 "
                "6f 6c 00 00 00 00 00 00 00 47 00 00 01 93 5d 78 "
                "5e f0 00 06 68 c3 a9 6c 6c 6f",
         .m = {.type = WIRE_MESSAGE,
               .u.message = {WIRE_MSG_HISTORY, S("lobby"), S("carol"), 71, 1732439990000ULL,
                             S("h\xc3\xa9llo")}}},
        {.name = "message_direct",
         .hex = "00 00 00 20 44 02 00 03 62 6f 62 00 00 00 00 00 "
                "00 00 00 00 00 01 93 5d 78 86 7b 00 08 68 69 20 "
                "61 6c 69 63 65",
         .m = {.type = WIRE_MESSAGE,
               .u.message = {WIRE_MSG_DIRECT, S(""), S("bob"), 0, TIME, S("hi alice")}}},
        {.name = "presence_join",
         .hex = "00 00 00 17 45 01 00 05 6c 6f 62 62 79 05 63 61 "
                "72 6f 6c 00 00 00 01 93 5d 78 86 7b",
         .m = {.type = WIRE_PRESENCE,
               .u.presence = {WIRE_P_JOIN, WIRE_R_NONE, S("lobby"), S("carol"), S(""), TIME}}},
        {.name = "presence_part",
         .hex = "00 00 00 17 45 02 00 05 6c 6f 62 62 79 05 63 61 "
                "72 6f 6c 00 00 00 01 93 5d 78 86 7b",
         .m = {.type = WIRE_PRESENCE,
               .u.presence = {WIRE_P_PART, WIRE_R_NONE, S("lobby"), S("carol"), S(""), TIME}}},
        {.name = "presence_quit",
         .hex = "00 00 00 17 45 03 00 05 6c 6f 62 62 79 05 63 61 "
                "72 6f 6c 00 00 00 01 93 5d 78 86 7b",
         .m = {.type = WIRE_PRESENCE,
               .u.presence = {WIRE_P_QUIT, WIRE_R_NONE, S("lobby"), S("carol"), S(""), TIME}}},
        {.name = "presence_nick",
         .hex = "00 00 00 19 45 04 00 00 05 61 6c 69 63 65 07 61 "
                "6c 69 63 65 5f 32 00 00 01 93 5d 78 86 7b",
         .m = {.type = WIRE_PRESENCE,
               .u.presence = {WIRE_P_NICK, WIRE_R_NONE, S(""), S("alice"), S("alice_2"), TIME}}},
        {.name = "presence_drop",
         .hex = "00 00 00 16 45 05 03 05 6c 6f 62 62 79 04 64 61 "
                "76 65 00 00 00 01 93 5d 78 86 7b",
         .m = {.type = WIRE_PRESENCE,
               .u.presence = {WIRE_P_DROP, WIRE_R_PING_TIMEOUT, S("lobby"), S("dave"), S(""),
                              TIME}}},
        {.name = "rooms",
         .hex = "00 00 00 15 46 01 00 02 03 64 65 76 00 00 00 01 "
                "05 6c 6f 62 62 79 00 00 00 03",
         .m = {.type = WIRE_ROOMS, .u.rooms = {.flags = WIRE_LIST_LAST}},
         .list = {2, {S("dev"), S("lobby")}, {1, 3}}},
        {.name = "rooms_empty",
         .hex = "00 00 00 03 46 01 00 00",
         .m = {.type = WIRE_ROOMS, .u.rooms = {.flags = WIRE_LIST_LAST}},
         .list = {0, {S("")}, {0}}},
        {.name = "names",
         .hex = "00 00 00 19 47 01 05 6c 6f 62 62 79 00 03 03 62 "
                "6f 62 05 63 61 72 6f 6c 05 61 6c 69 63 65",
         .m = {.type = WIRE_NAMES, .u.names = {.flags = WIRE_LIST_LAST, .room = S("lobby")}},
         .list = {3, {S("bob"), S("carol"), S("alice")}, {0}}},
        {.name = "names_users",
         .hex = "00 00 00 14 47 01 00 00 03 05 61 6c 69 63 65 03 "
                "62 6f 62 05 63 61 72 6f 6c",
         .m = {.type = WIRE_NAMES, .u.names = {.flags = WIRE_LIST_LAST, .room = S("")}},
         .list = {3, {S("alice"), S("bob"), S("carol")}, {0}}},
        {.name = "names_partial",
         .hex = "00 00 00 11 47 03 05 6c 6f 62 62 79 00 02 03 61 6e 6e 03 62 6f 62",
         .m = {.type = WIRE_NAMES,
               .u.names = {.flags = WIRE_LIST_LAST | WIRE_LIST_PARTIAL, .room = S("lobby")}},
         .list = {2, {S("ann"), S("bob")}, {0}}},
        {.name = "summary",
         .hex = "00 00 00 38 4b 00 05 6c 6f 62 62 79 00 00 04 b0 "
                "00 00 00 01 00 00 00 01 00 00 01 93 5d 78 86 7b "
                "00 03 01 00 03 65 76 65 00 05 03 04 64 61 76 65 "
                "00 04 00 03 62 6f 62 05 62 6f 62 62 79",
         .m = {.type = WIRE_SUMMARY,
               .u.summary = {.flags = 0,
                             .room = S("lobby"),
                             .members = 1200,
                             .joins = 1,
                             .leaves = 1,
                             .time_ms = TIME}},
         .list = {3,
                  {S("eve"), S("dave"), S("bob")},
                  {0},
                  {WIRE_P_JOIN, WIRE_P_DROP, WIRE_P_NICK},
                  {0, WIRE_R_PING_TIMEOUT, 0},
                  {S(""), S(""), S("bobby")}}},
        {.name = "summary_omitted",
         .hex = "00 00 00 1d 4b 01 05 6c 6f 62 62 79 00 00 03 e8 "
                "00 00 00 46 00 00 00 02 00 00 01 93 5d 78 86 7b 00 00",
         .m = {.type = WIRE_SUMMARY,
               .u.summary = {.flags = WIRE_SUMMARY_OMITTED,
                             .room = S("lobby"),
                             .members = 1000,
                             .joins = 70,
                             .leaves = 2,
                             .time_ms = TIME}},
         .list = {0, {S("")}, {0}}},
        {.name = "reason",
         .hex = "00 00 00 1b 4c 02 05 6c 6f 62 62 79 05 63 61 72 "
                "6f 6c 00 0c 67 6f 6e 65 20 66 69 73 68 69 6e 67",
         .m = {.type = WIRE_REASON,
               .u.reason = {WIRE_P_PART, S("lobby"), S("carol"), S("gone fishing")}}},
        {.name = "reason_quit",
         .hex = "00 00 00 1a 4c 03 05 6c 6f 62 62 79 05 63 61 72 "
                "6f 6c 00 0b 62 79 65 20 c3 a0 20 74 6f 75 73",
         .m = {.type = WIRE_REASON,
               .u.reason = {WIRE_P_QUIT, S("lobby"), S("carol"), S("bye \xc3\xa0 tous")}}},
        {.name = "ack",
         .hex = "00 00 00 14 48 00 00 00 01 00 00 00 00 00 00 00 "
                "79 00 00 01 93 5d 78 86 7b",
         .m = {.type = WIRE_ACK, .u.ack = {1, 121, TIME}}},
        {.name = "ack_direct",
         .hex = "00 00 00 14 48 00 00 00 02 00 00 00 00 00 00 00 "
                "00 00 00 01 93 5d 78 86 7b",
         .m = {.type = WIRE_ACK, .u.ack = {2, 0, TIME}}},
        {.name = "error",
         .hex = "00 00 00 15 49 00 d3 05 00 00 00 02 00 0c 6e 6f "
                "20 73 75 63 68 20 75 73 65 72",
         .m = {.type = WIRE_ERROR,
               .u.error = {WIRE_E_NO_SUCH_USER, WIRE_MSG, 2, S("no such user")}}},
        {.name = "error_fatal",
         .hex = "00 00 00 31 49 00 66 00 00 00 00 00 00 28 66 72 "
                "61 6d 65 20 74 6f 6f 20 6c 61 72 67 65 3a 20 74 "
                "68 65 20 6c 69 6d 69 74 20 69 73 20 38 31 39 32 "
                "20 62 79 74 65 73",
         .m = {.type = WIRE_ERROR,
               .u.error = {WIRE_E_FRAME_TOO_LARGE, 0, 0,
                           S("frame too large: the limit is 8192 bytes")}}},
        {.name = "room_topic",
         .hex = "00 00 00 25 4d 00 05 6c 6f 62 62 79 03 62 6f 62 "
                "00 00 01 93 5d 78 86 7b 00 10 70 6c 61 6e 73 20 "
                "66 6f 72 20 66 72 69 64 61 79",
         .m = {.type = WIRE_ROOM_TOPIC,
               .u.room_topic = {0, S("lobby"), S("bob"), TIME, S("plans for friday")}}},
        {.name = "room_topic_current",
         .hex = "00 00 00 25 4d 01 05 6c 6f 62 62 79 03 62 6f 62 "
                "00 00 01 93 5d 78 86 7b 00 10 70 6c 61 6e 73 20 "
                "66 6f 72 20 66 72 69 64 61 79",
         .m = {.type = WIRE_ROOM_TOPIC,
               .u.room_topic = {WIRE_TOPIC_CURRENT, S("lobby"), S("bob"), TIME,
                                S("plans for friday")}}},
        {.name = "room_topic_cleared",
         .hex = "00 00 00 15 4d 00 05 6c 6f 62 62 79 03 62 6f 62 "
                "00 00 01 93 5d 78 86 7b 00 00",
         .m = {.type = WIRE_ROOM_TOPIC, .u.room_topic = {0, S("lobby"), S("bob"), TIME, S("")}}},
        {.name = "bye",
         .hex = "00 00 00 06 4a 00 00 03 62 79 65",
         .m = {.type = WIRE_BYE, .u.bye = {WIRE_R_NONE, S("bye")}}},
        {.name = "bye_shutdown",
         .hex = "00 00 00 12 4a 06 00 0f 73 65 72 76 65 72 20 73 68 75 74 64 6f 77 6e",
         .m = {.type = WIRE_BYE, .u.bye = {WIRE_R_SHUTDOWN, S("server shutdown")}}},
};

#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

/* Every frame type of version 1. */
static const uint8_t known_types[] = {
        WIRE_HELLO,   WIRE_JOIN,       WIRE_PART,   WIRE_SAY,         WIRE_MSG,     WIRE_NICK,
        WIRE_LIST,    WIRE_WHO,        WIRE_USERS,  WIRE_PING,        WIRE_PONG,    WIRE_QUIT,
        WIRE_HISTORY, WIRE_WELCOME,    WIRE_JOINED, WIRE_HISTORY_END, WIRE_MESSAGE, WIRE_PRESENCE,
        WIRE_ROOMS,   WIRE_NAMES,      WIRE_ACK,    WIRE_ERROR,       WIRE_BYE,     WIRE_SUMMARY,
        WIRE_TOPIC,   WIRE_ROOM_TOPIC, WIRE_REASON,
};

/* docs/protocol.md, read once by main(). */
static char *doc;

/* Is t one of the frame types of version 1? */
static int
is_known_type(unsigned t)
{
	size_t i;

	for (i = 0; i < sizeof(known_types); i++)
		if (known_types[i] == t)
			return 1;
	return 0;
}

/* Parse the strict vector form (lowercase hex pairs, single spaces) into
 * out; returns the byte count.  Any other form fails the test. */
static size_t
from_hex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	const char *p = hex;
	static const char digits[] = "0123456789abcdef";

	for (;;) {
		const char *hi = p[0] ? strchr(digits, p[0]) : NULL;
		const char *lo = hi && p[1] ? strchr(digits, p[1]) : NULL;

		assert_non_null(hi);
		assert_non_null(lo);
		assert_true(n < cap);
		out[n++] = (uint8_t)((hi - digits) << 4 | (lo - digits));
		p += 2;
		if (*p == '\0')
			return n;
		assert_int_equal(*p, ' ');
		p++;
	}
}

/* Format bytes the way the vectors are written. */
static void
to_hex(const uint8_t *b, size_t n, char *out, size_t cap)
{
	static const char digits[] = "0123456789abcdef";
	size_t i, o = 0;

	assert_true(cap >= 3 * n + 1);
	for (i = 0; i < n; i++) {
		if (i)
			out[o++] = ' ';
		out[o++] = digits[b[i] >> 4];
		out[o++] = digits[b[i] & 0x0f];
	}
	out[o] = '\0';
}

/* Append the frame (or preface) that v documents to w, with the matching
 * wire_enc_* call and the documented values. */
static void
encode(struct wire_writer *w, const struct vector *v)
{
	const struct wire_msg *m = &v->m;
	struct wire_list_writer lw;
	uint16_t i;

	switch (m->type) {
	case 0:
		wire_put_bytes(w, WIRE_PREFACE, WIRE_PREFACE_LEN);
		break;
	case WIRE_HELLO:
		wire_enc_hello(w, m->u.hello.nick.p, m->u.hello.nick.len);
		break;
	case WIRE_NICK:
		wire_enc_nick(w, m->u.hello.nick.p, m->u.hello.nick.len);
		break;
	case WIRE_JOIN:
		wire_enc_join(w, m->u.join.room.p, m->u.join.room.len, m->u.join.epoch,
		              m->u.join.since);
		break;
	case WIRE_PART:
		wire_enc_part(w, m->u.room.room.p, m->u.room.room.len);
		break;
	case WIRE_WHO:
		wire_enc_who(w, m->u.room.room.p, m->u.room.room.len);
		break;
	case WIRE_TOPIC:
		wire_enc_topic(w, m->u.topic.room.p, m->u.topic.room.len, m->u.topic.text.p,
		               m->u.topic.text.len);
		break;
	case WIRE_ROOM_TOPIC:
		wire_enc_room_topic(w, m->u.room_topic.flags, m->u.room_topic.room.p,
		                    m->u.room_topic.room.len, m->u.room_topic.nick.p,
		                    m->u.room_topic.nick.len, m->u.room_topic.time_ms,
		                    m->u.room_topic.text.p, m->u.room_topic.text.len);
		break;
	case WIRE_HISTORY:
		wire_enc_history(w, m->u.history.room.p, m->u.history.room.len, m->u.history.before,
		                 m->u.history.limit);
		break;
	case WIRE_SAY:
		wire_enc_say(w, m->u.say.ref, m->u.say.target.p, m->u.say.target.len,
		             m->u.say.text.p, m->u.say.text.len);
		break;
	case WIRE_MSG:
		wire_enc_msg(w, m->u.say.ref, m->u.say.target.p, m->u.say.target.len,
		             m->u.say.text.p, m->u.say.text.len);
		break;
	case WIRE_LIST:
	case WIRE_USERS:
	case WIRE_QUIT:
		wire_enc_empty(w, m->type);
		break;
	case WIRE_PING:
	case WIRE_PONG:
		wire_enc_ping(w, m->type, m->u.ping.token);
		break;
	case WIRE_WELCOME:
		wire_enc_welcome(w, m);
		break;
	case WIRE_JOINED:
		wire_enc_joined(w, m->u.joined.room.p, m->u.joined.room.len, m->u.joined.epoch,
		                m->u.joined.last_seq, m->u.joined.members);
		break;
	case WIRE_HISTORY_END:
		wire_enc_history_end(w, m->u.history_end.room.p, m->u.history_end.room.len,
		                     m->u.history_end.epoch, m->u.history_end.last_seq,
		                     m->u.history_end.count, m->u.history_end.flags);
		break;
	case WIRE_MESSAGE:
		wire_enc_message(w, m->u.message.flags, m->u.message.room.p, m->u.message.room.len,
		                 m->u.message.from.p, m->u.message.from.len, m->u.message.seq,
		                 m->u.message.time_ms, m->u.message.text.p, m->u.message.text.len);
		break;
	case WIRE_PRESENCE:
		wire_enc_presence(w, m->u.presence.kind, m->u.presence.reason, m->u.presence.room.p,
		                  m->u.presence.room.len, m->u.presence.nick.p,
		                  m->u.presence.nick.len, m->u.presence.new_nick.p,
		                  m->u.presence.new_nick.len, m->u.presence.time_ms);
		break;
	case WIRE_REASON:
		wire_enc_reason(w, m->u.reason.kind, m->u.reason.room.p, m->u.reason.room.len,
		                m->u.reason.nick.p, m->u.reason.nick.len, m->u.reason.text.p,
		                m->u.reason.text.len);
		break;
	case WIRE_ROOMS:
		wire_rooms_begin(w, &lw);
		for (i = 0; i < v->list.count; i++)
			wire_rooms_add(w, &lw, v->list.name[i].p, v->list.name[i].len,
			               v->list.members[i]);
		wire_list_end(w, &lw, m->u.rooms.flags);
		break;
	case WIRE_NAMES:
		wire_names_begin(w, &lw, m->u.names.room.p, m->u.names.room.len);
		for (i = 0; i < v->list.count; i++)
			wire_names_add(w, &lw, v->list.name[i].p, v->list.name[i].len);
		wire_list_end(w, &lw, m->u.names.flags);
		break;
	case WIRE_ACK:
		wire_enc_ack(w, m->u.ack.ref, m->u.ack.seq, m->u.ack.time_ms);
		break;
	case WIRE_ERROR:
		wire_enc_error(w, m->u.error.code, m->u.error.type, m->u.error.ref,
		               m->u.error.text.p, m->u.error.text.len);
		break;
	case WIRE_BYE:
		wire_enc_bye(w, m->u.bye.reason, m->u.bye.text.p, m->u.bye.text.len);
		break;
	case WIRE_SUMMARY:
		wire_summary_begin(w, &lw, m->u.summary.room.p, m->u.summary.room.len,
		                   m->u.summary.members, m->u.summary.joins, m->u.summary.leaves,
		                   m->u.summary.time_ms);
		for (i = 0; i < v->list.count; i++)
			wire_summary_add(w, &lw, v->list.kind[i], v->list.reason[i],
			                 v->list.name[i].p, v->list.name[i].len,
			                 v->list.renamed[i].p, v->list.renamed[i].len);
		wire_list_end(w, &lw, m->u.summary.flags);
		break;
	default:
		fail_msg("vector %s: no encoder for type 0x%02x", v->name, m->type);
	}
}

/* Assert that a decoded string holds exactly the expected bytes. */
static void
assert_str(struct wire_str got, struct wire_str want)
{
	assert_int_equal(got.len, want.len);
	assert_non_null(got.p);
	assert_memory_equal(got.p, want.p, want.len);
}

/* Assert that a decoded list holds exactly the entries of want. */
static void
assert_list(struct wire_list l, uint8_t type, const struct vec_list *want)
{
	struct wire_str s, renamed;
	uint32_t members;
	uint8_t kind, reason;
	uint16_t i;

	assert_int_equal(l.count, want->count);
	for (i = 0; i < want->count; i++) {
		if (type == WIRE_ROOMS) {
			assert_int_equal(wire_list_next_room(&l, &s, &members), 1);
			assert_int_equal(members, want->members[i]);
		} else if (type == WIRE_SUMMARY) {
			assert_int_equal(wire_list_next_event(&l, &kind, &reason, &s, &renamed), 1);
			assert_int_equal(kind, want->kind[i]);
			assert_int_equal(reason, want->reason[i]);
			assert_str(renamed, want->renamed[i]);
		} else {
			assert_int_equal(wire_list_next_name(&l, &s), 1);
		}
		assert_str(s, want->name[i]);
	}
	if (type == WIRE_ROOMS)
		assert_int_equal(wire_list_next_room(&l, &s, &members), 0);
	else if (type == WIRE_SUMMARY)
		assert_int_equal(wire_list_next_event(&l, &kind, &reason, &s, &renamed), 0);
	else
		assert_int_equal(wire_list_next_name(&l, &s), 0);
}

/* Assert that d, decoded from v's bytes, holds every documented value. */
static void
assert_decoded(const struct vector *v, const struct wire_msg *d)
{
	const struct wire_msg *m = &v->m;

	assert_int_equal(d->type, m->type);
	switch (m->type) {
	case WIRE_HELLO:
	case WIRE_NICK:
		assert_str(d->u.hello.nick, m->u.hello.nick);
		break;
	case WIRE_JOIN:
		assert_str(d->u.join.room, m->u.join.room);
		assert_int_equal(d->u.join.epoch, m->u.join.epoch);
		assert_int_equal(d->u.join.since, m->u.join.since);
		break;
	case WIRE_PART:
	case WIRE_WHO:
		assert_str(d->u.room.room, m->u.room.room);
		break;
	case WIRE_TOPIC:
		assert_str(d->u.topic.room, m->u.topic.room);
		assert_str(d->u.topic.text, m->u.topic.text);
		break;
	case WIRE_ROOM_TOPIC:
		assert_int_equal(d->u.room_topic.flags, m->u.room_topic.flags);
		assert_str(d->u.room_topic.room, m->u.room_topic.room);
		assert_str(d->u.room_topic.nick, m->u.room_topic.nick);
		assert_int_equal(d->u.room_topic.time_ms, m->u.room_topic.time_ms);
		assert_str(d->u.room_topic.text, m->u.room_topic.text);
		break;
	case WIRE_HISTORY:
		assert_str(d->u.history.room, m->u.history.room);
		assert_int_equal(d->u.history.before, m->u.history.before);
		assert_int_equal(d->u.history.limit, m->u.history.limit);
		break;
	case WIRE_SAY:
	case WIRE_MSG:
		assert_int_equal(d->u.say.ref, m->u.say.ref);
		assert_str(d->u.say.target, m->u.say.target);
		assert_str(d->u.say.text, m->u.say.text);
		break;
	case WIRE_LIST:
	case WIRE_USERS:
	case WIRE_QUIT:
		break;
	case WIRE_PING:
	case WIRE_PONG:
		assert_int_equal(d->u.ping.token, m->u.ping.token);
		break;
	case WIRE_WELCOME:
		assert_int_equal(d->u.welcome.version, m->u.welcome.version);
		assert_str(d->u.welcome.nick, m->u.welcome.nick);
		assert_str(d->u.welcome.server, m->u.welcome.server);
		assert_int_equal(d->u.welcome.max_frame, m->u.welcome.max_frame);
		assert_int_equal(d->u.welcome.max_text, m->u.welcome.max_text);
		assert_int_equal(d->u.welcome.max_nick, m->u.welcome.max_nick);
		assert_int_equal(d->u.welcome.max_room, m->u.welcome.max_room);
		assert_int_equal(d->u.welcome.flood_rate, m->u.welcome.flood_rate);
		assert_int_equal(d->u.welcome.flood_burst, m->u.welcome.flood_burst);
		assert_int_equal(d->u.welcome.max_queue, m->u.welcome.max_queue);
		assert_int_equal(d->u.welcome.history_len, m->u.welcome.history_len);
		assert_int_equal(d->u.welcome.max_rooms, m->u.welcome.max_rooms);
		assert_int_equal(d->u.welcome.ping_interval_ms, m->u.welcome.ping_interval_ms);
		assert_int_equal(d->u.welcome.ping_timeout_ms, m->u.welcome.ping_timeout_ms);
		break;
	case WIRE_JOINED:
		assert_str(d->u.joined.room, m->u.joined.room);
		assert_int_equal(d->u.joined.epoch, m->u.joined.epoch);
		assert_int_equal(d->u.joined.last_seq, m->u.joined.last_seq);
		assert_int_equal(d->u.joined.members, m->u.joined.members);
		break;
	case WIRE_HISTORY_END:
		assert_str(d->u.history_end.room, m->u.history_end.room);
		assert_int_equal(d->u.history_end.epoch, m->u.history_end.epoch);
		assert_int_equal(d->u.history_end.last_seq, m->u.history_end.last_seq);
		assert_int_equal(d->u.history_end.count, m->u.history_end.count);
		assert_int_equal(d->u.history_end.flags, m->u.history_end.flags);
		break;
	case WIRE_MESSAGE:
		assert_int_equal(d->u.message.flags, m->u.message.flags);
		assert_str(d->u.message.room, m->u.message.room);
		assert_str(d->u.message.from, m->u.message.from);
		assert_int_equal(d->u.message.seq, m->u.message.seq);
		assert_int_equal(d->u.message.time_ms, m->u.message.time_ms);
		assert_str(d->u.message.text, m->u.message.text);
		break;
	case WIRE_PRESENCE:
		assert_int_equal(d->u.presence.kind, m->u.presence.kind);
		assert_int_equal(d->u.presence.reason, m->u.presence.reason);
		assert_str(d->u.presence.room, m->u.presence.room);
		assert_str(d->u.presence.nick, m->u.presence.nick);
		assert_str(d->u.presence.new_nick, m->u.presence.new_nick);
		assert_int_equal(d->u.presence.time_ms, m->u.presence.time_ms);
		break;
	case WIRE_REASON:
		assert_int_equal(d->u.reason.kind, m->u.reason.kind);
		assert_str(d->u.reason.room, m->u.reason.room);
		assert_str(d->u.reason.nick, m->u.reason.nick);
		assert_str(d->u.reason.text, m->u.reason.text);
		break;
	case WIRE_ROOMS:
		assert_int_equal(d->u.rooms.flags, m->u.rooms.flags);
		assert_list(d->u.rooms.list, WIRE_ROOMS, &v->list);
		break;
	case WIRE_NAMES:
		assert_int_equal(d->u.names.flags, m->u.names.flags);
		assert_str(d->u.names.room, m->u.names.room);
		assert_list(d->u.names.list, WIRE_NAMES, &v->list);
		break;
	case WIRE_ACK:
		assert_int_equal(d->u.ack.ref, m->u.ack.ref);
		assert_int_equal(d->u.ack.seq, m->u.ack.seq);
		assert_int_equal(d->u.ack.time_ms, m->u.ack.time_ms);
		break;
	case WIRE_ERROR:
		assert_int_equal(d->u.error.code, m->u.error.code);
		assert_int_equal(d->u.error.type, m->u.error.type);
		assert_int_equal(d->u.error.ref, m->u.error.ref);
		assert_str(d->u.error.text, m->u.error.text);
		break;
	case WIRE_BYE:
		assert_int_equal(d->u.bye.reason, m->u.bye.reason);
		assert_str(d->u.bye.text, m->u.bye.text);
		break;
	case WIRE_SUMMARY:
		assert_int_equal(d->u.summary.flags, m->u.summary.flags);
		assert_str(d->u.summary.room, m->u.summary.room);
		assert_int_equal(d->u.summary.members, m->u.summary.members);
		assert_int_equal(d->u.summary.joins, m->u.summary.joins);
		assert_int_equal(d->u.summary.leaves, m->u.summary.leaves);
		assert_int_equal(d->u.summary.time_ms, m->u.summary.time_ms);
		assert_list(d->u.summary.list, WIRE_SUMMARY, &v->list);
		break;
	default:
		fail_msg("vector %s: no checker for type 0x%02x", v->name, m->type);
	}
}

/* Does the document hold this exact text as a whole line? */
static int
doc_has_line(const char *line)
{
	size_t n = strlen(line);
	const char *p = doc;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == doc || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return 1;
		p++;
	}
	return 0;
}

/* The vector line exactly as docs/protocol.md must carry it. */
static void
vector_line(const struct vector *v, char *out, size_t cap)
{
	int n = snprintf(out, cap, "vector %s: %s", v->name, v->hex);

	assert_true(n > 0 && (size_t)n < cap);
}

/*
 * One vector, three ways: (a) the encoder, fed the documented values,
 * produces the documented bytes; (b) the decoder, fed the bytes, yields
 * the documented values; (c) docs/protocol.md carries the line verbatim.
 */
static void
vector_matches_codec_and_doc(void **state)
{
	const struct vector *v = *state;
	uint8_t want[512], buf[512];
	char hex[3 * sizeof(buf) + 1], line[2048];
	struct wire_writer w;
	struct wire_frame f;
	struct wire_msg d;
	size_t n, used;

	n = from_hex(v->hex, want, sizeof(want));

	/* (a) */
	wire_writer_init(&w, buf, sizeof(buf));
	encode(&w, v);
	assert_int_equal(w.err, 0);
	to_hex(buf, w.len, hex, sizeof(hex));
	assert_string_equal(hex, v->hex);
	assert_int_equal(w.len, n);

	/* (b) */
	if (v->m.type == 0) {
		assert_memory_equal(want, WIRE_PREFACE, WIRE_PREFACE_LEN);
		assert_int_equal(n, WIRE_PREFACE_LEN);
		assert_int_equal(want[WIRE_PREFACE_LEN - 1], WIRE_VERSION);
		assert_int_equal(wire_preface_prefix(want, n), 1);
	} else {
		assert_int_equal(wire_frame_next(want, n, MAX_PAYLOAD, &f, &used), WIRE_OK);
		assert_int_equal(used, n);
		assert_int_equal(f.type, v->m.type);
		assert_int_equal(f.len, n - WIRE_HEADER_LEN);
		assert_ptr_equal(f.payload, want + WIRE_HEADER_LEN);
		assert_int_equal(wire_decode(f.type, f.payload, f.len, &d), 0);
		assert_decoded(v, &d);
	}

	/* (c) */
	vector_line(v, line, sizeof(line));
	if (!doc_has_line(line))
		fail_msg("docs/protocol.md lacks the line \"%s\"", line);
}

/* Every vector line in the document is one this test checks, so the
 * document cannot carry a stale vector either. */
static void
protocol_md_has_no_unchecked_vector(void **state)
{
	const char *p = doc;
	char line[2048];
	size_t i;

	(void)state;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len >= 7 && strncmp(p, "vector ", 7) == 0) {
			int found = 0;

			for (i = 0; i < NVECTORS && !found; i++) {
				vector_line(&vectors[i], line, sizeof(line));
				found = strlen(line) == len && strncmp(line, p, len) == 0;
			}
			if (!found)
				fail_msg("docs/protocol.md has an unchecked vector: %.*s", (int)len,
				         p);
		}
		p += len + (eol != NULL);
	}
}

/* The vectors cover every frame type of version 1, and have unique names. */
static void
every_frame_type_has_a_vector(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(known_types); i++) {
		int found = 0;

		for (j = 0; j < NVECTORS; j++)
			found |= vectors[j].m.type == known_types[i];
		if (!found)
			fail_msg("no vector for type 0x%02x", known_types[i]);
	}
	for (i = 0; i < NVECTORS; i++)
		for (j = i + 1; j < NVECTORS; j++)
			assert_string_not_equal(vectors[i].name, vectors[j].name);
}

/* Every prefix of the preface, whatever the version byte, may be one;
 * a wrong byte anywhere in the first seven rules it out. */
static void
preface_prefix_rejects_any_wrong_fixed_byte(void **state)
{
	uint8_t p[WIRE_PREFACE_LEN];
	size_t len, i;

	(void)state;
	memcpy(p, WIRE_PREFACE, sizeof(p)); /* without the literal's NUL */
	for (len = 0; len <= WIRE_PREFACE_LEN; len++)
		assert_int_equal(wire_preface_prefix(p, len), 1);
	p[WIRE_PREFACE_LEN - 1] = 2;
	assert_int_equal(wire_preface_prefix(p, WIRE_PREFACE_LEN), 1);
	for (i = 0; i < WIRE_PREFACE_LEN - 1; i++) {
		memcpy(p, WIRE_PREFACE, sizeof(p));
		p[i] ^= 0x20;
		for (len = i + 1; len <= WIRE_PREFACE_LEN; len++)
			assert_int_equal(wire_preface_prefix(p, len), 0);
	}
	/* A frame sent without the preface starts with 00. */
	assert_int_equal(wire_preface_prefix((const uint8_t *)"\x00\x00\x00\x06\x01", 5), 0);
	assert_int_equal(wire_preface_prefix((const uint8_t *)"GET / HTTP/1.1", 14), 0);
}

/* A receiver that appends each read to a buffer and takes every whole
 * frame out of it, checking each against the next expected vector. */
struct rx {
	uint8_t buf[4096];
	size_t fill;
	size_t next; /* index into frames[] of the frame expected next */
};

/* The frame vectors concatenated: the stream the receivers read. */
static uint8_t stream[4096];
static size_t stream_len;
static const struct vector *frames[NVECTORS];
static size_t frame_off[NVECTORS + 1];
static size_t nframes;

/* Build the stream of every frame vector, once. */
static void
build_stream(void)
{
	size_t i;

	if (nframes)
		return;
	for (i = 0; i < NVECTORS; i++) {
		if (vectors[i].m.type == 0)
			continue;
		frames[nframes] = &vectors[i];
		frame_off[nframes] = stream_len;
		stream_len +=
		        from_hex(vectors[i].hex, stream + stream_len, sizeof(stream) - stream_len);
		nframes++;
	}
	frame_off[nframes] = stream_len;
}

/* Take every whole frame out of r, checking each. */
static void
rx_drain(struct rx *r)
{
	struct wire_frame f;
	struct wire_msg d;
	size_t used, want;
	enum wire_status st;

	for (;;) {
		st = wire_frame_next(r->buf, r->fill, MAX_PAYLOAD, &f, &used);
		assert_int_not_equal(st, WIRE_TOO_LARGE);
		if (st == WIRE_NEED_MORE) {
			/* Not waiting for more than a whole frame's worth. */
			if (r->next < nframes)
				assert_true(r->fill < frame_off[r->next + 1] - frame_off[r->next]);
			return;
		}
		assert_true(r->next < nframes);
		want = frame_off[r->next + 1] - frame_off[r->next];
		assert_int_equal(used, want);
		assert_memory_equal(r->buf, stream + frame_off[r->next], want);
		assert_int_equal(wire_decode(f.type, f.payload, f.len, &d), 0);
		assert_decoded(frames[r->next], &d);
		r->next++;
		memmove(r->buf, r->buf + used, r->fill - used);
		r->fill -= used;
	}
}

/* Feed n bytes to r as one read. */
static void
rx_feed(struct rx *r, const uint8_t *p, size_t n)
{
	assert_true(r->fill + n <= sizeof(r->buf));
	memcpy(r->buf + r->fill, p, n);
	r->fill += n;
	rx_drain(r);
}

/* Split the stream in two reads at every possible point: every frame
 * comes out once, whole and in order, whatever the split. */
static void
frame_next_decodes_every_split_of_a_multi_frame_buffer(void **state)
{
	static struct rx r;
	size_t s;

	(void)state;
	build_stream();
	for (s = 0; s <= stream_len; s++) {
		memset(&r, 0, sizeof(r));
		rx_feed(&r, stream, s);
		rx_feed(&r, stream + s, stream_len - s);
		assert_int_equal(r.next, nframes);
		assert_int_equal(r.fill, 0);
	}
}

/* One byte per read, and then reads of pseudo-random sizes. */
static void
frame_next_decodes_arbitrary_partial_reads(void **state)
{
	static struct rx r;
	uint32_t seed = 12345;
	size_t off, n;
	int round;

	(void)state;
	build_stream();
	memset(&r, 0, sizeof(r));
	for (off = 0; off < stream_len; off++)
		rx_feed(&r, stream + off, 1);
	assert_int_equal(r.next, nframes);
	assert_int_equal(r.fill, 0);

	for (round = 0; round < 200; round++) {
		memset(&r, 0, sizeof(r));
		for (off = 0; off < stream_len; off += n) {
			seed = seed * 1103515245u + 12345u;
			n = (seed >> 16) % 40;
			if (n > stream_len - off)
				n = stream_len - off;
			rx_feed(&r, stream + off, n);
		}
		assert_int_equal(r.next, nframes);
		assert_int_equal(r.fill, 0);
	}
}

/* An oversized length is refused as soon as its 4 bytes are in, before
 * the type byte or any of the body: nothing of it is ever buffered. */
static void
frame_too_large_rejected_before_body(void **state)
{
	static const uint8_t heads[][4] = {
	        {0x00, 0x00, 0x20, 0x01}, /* max_frame + 1 */
	        {0x00, 0x10, 0x00, 0x01}, /* WIRE_FRAME_MAX_HARD + 1 */
	        {0x80, 0x00, 0x00, 0x00},
	        {0xff, 0xff, 0xff, 0xff},
	};
	struct wire_frame f;
	size_t i, used;
	uint8_t *p;

	(void)state;
	for (i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		/* Exactly 4 bytes on the heap: a read past them trips ASan. */
		p = malloc(4);
		assert_non_null(p);
		memcpy(p, heads[i], 4);
		assert_int_equal(wire_frame_next(p, 4, MAX_PAYLOAD, &f, &used), WIRE_TOO_LARGE);
		free(p);
	}
	p = malloc(4);
	assert_non_null(p);
	memcpy(p, heads[1], 4);
	assert_int_equal(wire_frame_next(p, 4, WIRE_FRAME_MAX_HARD, &f, &used), WIRE_TOO_LARGE);
	free(p);
}

/* Fewer than 4 bytes never decide anything; a length at the maximum is
 * accepted and waits for its whole body. */
static void
frame_at_max_payload_waits_for_whole_body(void **state)
{
	static uint8_t buf[WIRE_HEADER_LEN + MAX_PAYLOAD];
	struct wire_frame f;
	size_t n, used;

	(void)state;
	memset(buf, 0, sizeof(buf));
	buf[0] = 0xff;
	for (n = 0; n < 4; n++)
		assert_int_equal(wire_frame_next(buf, n, MAX_PAYLOAD, &f, &used), WIRE_NEED_MORE);

	buf[0] = 0x00;
	buf[2] = 0x20; /* 8192 */
	buf[4] = WIRE_SAY;
	for (n = 0; n < sizeof(buf); n += (n < 16 ? 1 : 997))
		assert_int_equal(wire_frame_next(buf, n, MAX_PAYLOAD, &f, &used), WIRE_NEED_MORE);
	assert_int_equal(wire_frame_next(buf, sizeof(buf) - 1, MAX_PAYLOAD, &f, &used),
	                 WIRE_NEED_MORE);
	assert_int_equal(wire_frame_next(buf, sizeof(buf), MAX_PAYLOAD, &f, &used), WIRE_OK);
	assert_int_equal(f.len, MAX_PAYLOAD);
	assert_int_equal(f.type, WIRE_SAY);
	assert_int_equal(used, sizeof(buf));

	/* An empty payload: the header alone is the frame, 4 bytes are not. */
	memcpy(buf, "\x00\x00\x00\x00\x07", 5);
	assert_int_equal(wire_frame_next(buf, 4, MAX_PAYLOAD, &f, &used), WIRE_NEED_MORE);
	assert_int_equal(wire_frame_next(buf, 5, MAX_PAYLOAD, &f, &used), WIRE_OK);
	assert_int_equal(f.len, 0);
	assert_int_equal(used, 5);
}

/* Decode a heap copy of exactly len bytes, so that any read past the
 * payload trips ASan. */
static int
decode_copy(uint8_t type, const uint8_t *payload, size_t len, struct wire_msg *d)
{
	uint8_t *p = malloc(len ? len : 1);
	int rc;

	assert_non_null(p);
	if (len)
		memcpy(p, payload, len);
	rc = wire_decode(type, p, len, d);
	free(p);
	return rc;
}

/* Every proper prefix of every vector's payload is malformed. */
static void
decode_rejects_truncated_payload_for_every_type(void **state)
{
	uint8_t b[512];
	struct wire_msg d;
	size_t i, n, cut;

	(void)state;
	for (i = 0; i < NVECTORS; i++) {
		if (vectors[i].m.type == 0)
			continue;
		n = from_hex(vectors[i].hex, b, sizeof(b)) - WIRE_HEADER_LEN;
		assert_int_equal(decode_copy(b[4], b + WIRE_HEADER_LEN, n, &d), 0);
		for (cut = 0; cut < n; cut++)
			if (decode_copy(b[4], b + WIRE_HEADER_LEN, cut, &d) != -1)
				fail_msg("vector %s cut to %zu bytes not rejected", vectors[i].name,
				         cut);
	}
}

/* Every vector's payload with one more byte is malformed, whatever the
 * byte. */
static void
decode_rejects_trailing_byte_for_every_type(void **state)
{
	uint8_t b[512];
	struct wire_msg d;
	size_t i, n;
	static const uint8_t extra[] = {0x00, 0x01, 0xff};
	size_t e;

	(void)state;
	for (i = 0; i < NVECTORS; i++) {
		if (vectors[i].m.type == 0)
			continue;
		n = from_hex(vectors[i].hex, b, sizeof(b)) - WIRE_HEADER_LEN;
		for (e = 0; e < sizeof(extra); e++) {
			b[WIRE_HEADER_LEN + n] = extra[e];
			if (decode_copy(b[4], b + WIRE_HEADER_LEN, n + 1, &d) != -1)
				fail_msg("vector %s with trailing 0x%02x not rejected",
				         vectors[i].name, extra[e]);
		}
	}
}

/* A list whose count disagrees with its entries is malformed. */
static void
decode_rejects_list_count_mismatch(void **state)
{
	struct wire_msg d;

	(void)state;
	/* ROOMS: count 2, one entry. */
	assert_int_equal(decode_copy(WIRE_ROOMS,
	                             (const uint8_t *)"\x01\x00\x02\x03"
	                                              "dev\x00\x00\x00\x01",
	                             11, &d),
	                 -1);
	/* ROOMS: count 0, one entry. */
	assert_int_equal(decode_copy(WIRE_ROOMS,
	                             (const uint8_t *)"\x01\x00\x00\x03"
	                                              "dev\x00\x00\x00\x01",
	                             11, &d),
	                 -1);
	/* ROOMS: entry without its member count. */
	assert_int_equal(decode_copy(WIRE_ROOMS,
	                             (const uint8_t *)"\x01\x00\x01\x03"
	                                              "dev",
	                             7, &d),
	                 -1);
	/* NAMES: count 2, one nick. */
	assert_int_equal(decode_copy(WIRE_NAMES,
	                             (const uint8_t *)"\x01\x00\x00\x02\x03"
	                                              "bob",
	                             8, &d),
	                 -1);
	/* NAMES: a nick running past the end. */
	assert_int_equal(decode_copy(WIRE_NAMES,
	                             (const uint8_t *)"\x01\x00\x00\x01\x05"
	                                              "bob",
	                             8, &d),
	                 -1);
}

/* A type outside the table is unknown (-2) whatever its payload; a known
 * type never is. */
static void
decode_unknown_type_returns_minus_two(void **state)
{
	static const uint8_t junk[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	struct wire_msg d;
	unsigned t;

	(void)state;
	for (t = 0; t <= 0xff; t++) {
		if (is_known_type(t)) {
			assert_int_not_equal(decode_copy((uint8_t)t, junk, 0, &d), -2);
			assert_int_not_equal(decode_copy((uint8_t)t, junk, sizeof(junk), &d), -2);
			continue;
		}
		assert_int_equal(decode_copy((uint8_t)t, junk, 0, &d), -2);
		assert_int_equal(decode_copy((uint8_t)t, junk, sizeof(junk), &d), -2);
	}
}

#define CANARY     0xa5
#define CANARY_LEN 32

/* A writer too small for a frame fails it and writes nothing past its
 * capacity; one exactly large enough succeeds. */
static void
writer_overflow_sets_err_without_writing_past_cap(void **state)
{
	uint8_t want[512];
	struct wire_writer w;
	size_t i, n, cap, k;
	uint8_t *buf;

	(void)state;
	for (i = 0; i < NVECTORS; i++) {
		n = from_hex(vectors[i].hex, want, sizeof(want));
		for (cap = 0; cap <= n; cap++) {
			buf = malloc(cap + CANARY_LEN);
			assert_non_null(buf);
			memset(buf, CANARY, cap + CANARY_LEN);
			wire_writer_init(&w, buf, cap);
			encode(&w, &vectors[i]);
			if (cap < n) {
				if (!w.err)
					fail_msg("vector %s in %zu bytes: no err", vectors[i].name,
					         cap);
			} else {
				assert_int_equal(w.err, 0);
				assert_int_equal(w.len, n);
				assert_memory_equal(buf, want, n);
			}
			assert_true(w.len <= cap);
			for (k = cap; k < cap + CANARY_LEN; k++)
				if (buf[k] != CANARY)
					fail_msg("vector %s in %zu bytes: byte %zu written",
					         vectors[i].name, cap, k);
			free(buf);
		}
	}
}

/* A str8 longer than 255 bytes cannot be encoded: err, and the error
 * sticks for every later put. */
static void
str8_over_255_sets_err(void **state)
{
	static char s[300];
	uint8_t buf[1024];
	struct wire_writer w;

	(void)state;
	memset(s, 'a', sizeof(s));

	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_str8(&w, s, 255);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, 256);
	assert_int_equal(buf[0], 0xff);

	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_str8(&w, s, 256);
	assert_int_not_equal(w.err, 0);
	wire_put_u8(&w, 1);
	assert_int_not_equal(w.err, 0);

	/* Through the frame encoders too. */
	wire_writer_init(&w, buf, sizeof(buf));
	wire_enc_hello(&w, s, 256);
	assert_int_not_equal(w.err, 0);
	wire_writer_init(&w, buf, sizeof(buf));
	wire_enc_join(&w, s, 300, 0, 0);
	assert_int_not_equal(w.err, 0);
}

/* A str16 longer than 65535 bytes cannot be encoded. */
static void
str16_over_65535_sets_err(void **state)
{
	size_t cap = 70000;
	char *s = malloc(cap);
	uint8_t *buf = malloc(cap + 16);
	struct wire_writer w;

	(void)state;
	assert_non_null(s);
	assert_non_null(buf);
	memset(s, 'a', cap);

	wire_writer_init(&w, buf, cap + 16);
	wire_put_str16(&w, s, 65535);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, 65537);

	wire_writer_init(&w, buf, cap + 16);
	wire_enc_say(&w, 1, "r", 1, s, 65536);
	assert_int_not_equal(w.err, 0);
	free(s);
	free(buf);
}

/* Room name i of a generated list: short, or of the full 64 bytes. */
static size_t
gen_name(char *out, size_t i, int longest, size_t maxlen)
{
	size_t n = (size_t)snprintf(out, maxlen + 1, "n%02zu", i);

	if (longest) {
		memset(out + n, 'x', maxlen - n);
		n = maxlen;
	}
	return n;
}

/* Build a ROOMS or NAMES frame of count generated entries, decode it and
 * walk it: every entry comes back, in order, and the walk ends. */
static void
check_list_walk(uint8_t type, size_t count, int longest)
{
	static uint8_t buf[WIRE_HEADER_LEN + MAX_PAYLOAD];
	size_t maxlen = type == WIRE_ROOMS ? WIRE_ROOM_MAX : WIRE_NICK_MAX;
	char name[80];
	struct wire_writer w;
	struct wire_list_writer lw;
	struct wire_frame f;
	struct wire_msg d;
	struct wire_list l;
	struct wire_str s;
	uint32_t members;
	size_t i, n, used;

	wire_writer_init(&w, buf, sizeof(buf));
	if (type == WIRE_ROOMS)
		wire_rooms_begin(&w, &lw);
	else
		wire_names_begin(&w, &lw, "lobby", 5);
	for (i = 0; i < count; i++) {
		n = gen_name(name, i, longest, maxlen);
		if (type == WIRE_ROOMS)
			wire_rooms_add(&w, &lw, name, n, (uint32_t)(i * 1000003u));
		else
			wire_names_add(&w, &lw, name, n);
	}
	wire_list_end(&w, &lw, WIRE_LIST_LAST);
	assert_int_equal(w.err, 0);

	/* A full chunk of the longest names fits the default max_frame. */
	assert_int_equal(wire_frame_next(buf, w.len, MAX_PAYLOAD, &f, &used), WIRE_OK);
	assert_int_equal(used, w.len);
	assert_int_equal(f.type, type);
	assert_int_equal(wire_decode(f.type, f.payload, f.len, &d), 0);
	if (type == WIRE_ROOMS) {
		assert_int_equal(d.u.rooms.flags, WIRE_LIST_LAST);
		l = d.u.rooms.list;
	} else {
		assert_int_equal(d.u.names.flags, WIRE_LIST_LAST);
		assert_int_equal(d.u.names.room.len, 5);
		assert_memory_equal(d.u.names.room.p, "lobby", 5);
		l = d.u.names.list;
	}
	assert_int_equal(l.count, count);
	for (i = 0; i < count; i++) {
		n = gen_name(name, i, longest, maxlen);
		if (type == WIRE_ROOMS) {
			assert_int_equal(wire_list_next_room(&l, &s, &members), 1);
			assert_int_equal(members, i * 1000003u);
		} else {
			assert_int_equal(wire_list_next_name(&l, &s), 1);
		}
		assert_int_equal(s.len, n);
		assert_memory_equal(s.p, name, n);
	}
	for (i = 0; i < 2; i++) {
		if (type == WIRE_ROOMS)
			assert_int_equal(wire_list_next_room(&l, &s, &members), 0);
		else
			assert_int_equal(wire_list_next_name(&l, &s), 0);
	}
}

/* ROOMS lists of 0, 1 and 64 entries (a full chunk), short and longest
 * names. */
static void
rooms_list_walks_0_1_and_64_entries(void **state)
{
	(void)state;
	check_list_walk(WIRE_ROOMS, 0, 0);
	check_list_walk(WIRE_ROOMS, 1, 0);
	check_list_walk(WIRE_ROOMS, 1, 1);
	check_list_walk(WIRE_ROOMS, WIRE_LIST_CHUNK, 0);
	check_list_walk(WIRE_ROOMS, WIRE_LIST_CHUNK, 1);
}

/* NAMES lists of 0, 1 and 64 entries (a full chunk), short and longest
 * nicks. */
static void
names_list_walks_0_1_and_64_entries(void **state)
{
	(void)state;
	check_list_walk(WIRE_NAMES, 0, 0);
	check_list_walk(WIRE_NAMES, 1, 0);
	check_list_walk(WIRE_NAMES, 1, 1);
	check_list_walk(WIRE_NAMES, WIRE_LIST_CHUNK, 0);
	check_list_walk(WIRE_NAMES, WIRE_LIST_CHUNK, 1);
}

/* 1xx codes close the connection, 2xx codes do not. */
static void
error_codes_1xx_are_fatal_2xx_are_not(void **state)
{
	static const uint16_t fatal[] = {
	        WIRE_E_BAD_PREFACE, WIRE_E_BAD_VERSION,       WIRE_E_FRAME_TOO_LARGE,
	        WIRE_E_MALFORMED,   WIRE_E_HANDSHAKE_TIMEOUT, WIRE_E_SERVER_FULL,
	};
	static const uint16_t refusal[] = {
	        WIRE_E_UNKNOWN_TYPE,    WIRE_E_NOT_REGISTERED, WIRE_E_ALREADY_REGISTERED,
	        WIRE_E_NICK_INVALID,    WIRE_E_NICK_TAKEN,     WIRE_E_ROOM_INVALID,
	        WIRE_E_TEXT_INVALID,    WIRE_E_TEXT_TOO_LONG,  WIRE_E_NOT_IN_ROOM,
	        WIRE_E_ALREADY_IN_ROOM, WIRE_E_NO_SUCH_ROOM,   WIRE_E_NO_SUCH_USER,
	        WIRE_E_TOO_MANY_ROOMS,  WIRE_E_ROOM_FULL,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		assert_true(WIRE_ERROR_IS_FATAL(fatal[i]));
	for (i = 0; i < sizeof(refusal) / sizeof(refusal[0]); i++)
		assert_false(WIRE_ERROR_IS_FATAL(refusal[i]));
}

/* Read a whole file into a NUL-terminated heap buffer. */
static char *
read_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *s = NULL;
	size_t n = 0, cap = 0, got;

	if (!fp)
		return NULL;
	do {
		if (cap - n < 4096) {
			char *t = realloc(s, cap + 65536);

			if (!t) {
				free(s);
				fclose(fp);
				return NULL;
			}
			s = t;
			cap += 65536;
		}
		got = fread(s + n, 1, cap - n - 1, fp);
		n += got;
	} while (got > 0);
	fclose(fp);
	s[n] = '\0';
	return s;
}

int
main(int argc, char **argv)
{
	static const struct CMUnitTest fixed[] = {
	        cmocka_unit_test(protocol_md_has_no_unchecked_vector),
	        cmocka_unit_test(every_frame_type_has_a_vector),
	        cmocka_unit_test(preface_prefix_rejects_any_wrong_fixed_byte),
	        cmocka_unit_test(frame_next_decodes_every_split_of_a_multi_frame_buffer),
	        cmocka_unit_test(frame_next_decodes_arbitrary_partial_reads),
	        cmocka_unit_test(frame_too_large_rejected_before_body),
	        cmocka_unit_test(frame_at_max_payload_waits_for_whole_body),
	        cmocka_unit_test(decode_rejects_truncated_payload_for_every_type),
	        cmocka_unit_test(decode_rejects_trailing_byte_for_every_type),
	        cmocka_unit_test(decode_rejects_list_count_mismatch),
	        cmocka_unit_test(decode_unknown_type_returns_minus_two),
	        cmocka_unit_test(writer_overflow_sets_err_without_writing_past_cap),
	        cmocka_unit_test(str8_over_255_sets_err),
	        cmocka_unit_test(str16_over_65535_sets_err),
	        cmocka_unit_test(rooms_list_walks_0_1_and_64_entries),
	        cmocka_unit_test(names_list_walks_0_1_and_64_entries),
	        cmocka_unit_test(error_codes_1xx_are_fatal_2xx_are_not),
	};
	enum { NFIXED = sizeof(fixed) / sizeof(fixed[0]) };
	static struct CMUnitTest tests[NVECTORS + NFIXED];
	static char names[NVECTORS][64];
	size_t i, n = 0;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s docs/protocol.md\n", argv[0]);
		return 2;
	}
	doc = read_file(argv[1]);
	if (!doc) {
		perror(argv[1]);
		return 2;
	}
	/* One test per vector, named for it. */
	for (i = 0; i < NVECTORS; i++) {
		snprintf(names[i], sizeof(names[i]), "vector_%s_matches_codec_and_doc",
		         vectors[i].name);
		tests[n].name = names[i];
		tests[n].test_func = vector_matches_codec_and_doc;
		tests[n].setup_func = NULL;
		tests[n].teardown_func = NULL;
		tests[n].initial_state = &vectors[i];
		n++;
	}
	for (i = 0; i < NFIXED; i++)
		tests[n++] = fixed[i];
	rc = _cmocka_run_group_tests("wire_vectors", tests, n, NULL, NULL);
	free(doc);
	return rc;
}
