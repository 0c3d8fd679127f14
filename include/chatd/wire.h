/*
 * chatd framed protocol, version 1: the public wire format and its codec.
 *
 * This header is shared by the daemon, chatd-swarm, the tests and any
 * third-party C client.  It owns every byte-level constant of the framed
 * protocol and a pure codec: bytes in, result out, no syscalls, no
 * allocation.  docs/protocol.md is the normative description; the layouts
 * below follow it field for field.
 *
 * Layout: a client opens with the 8-byte preface, then both sides exchange
 * frames.  A frame is a 5-byte header (u32 payload length, big-endian, then
 * u8 type) followed by the payload.  Integers are big-endian.  A str8 is a
 * u8 length and that many bytes; a str16 is a u16 length and that many
 * bytes.  Strings are UTF-8 and carry no terminator.
 */
#ifndef CHATD_WIRE_H
#define CHATD_WIRE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The preface: 0x89 "CHATD" 0x00 then the protocol version. */
#define WIRE_VERSION 1
#define WIRE_PREFACE                                                                               \
	"\x89"                                                                                     \
	"CHATD\x00\x01"
#define WIRE_PREFACE_LEN 8

#define WIRE_HEADER_LEN 5

/* Hard limits of version 1; a server announces its own (lower or equal)
 * budgets in WELCOME.  Every list frame holds at most WIRE_LIST_CHUNK
 * entries. */
#define WIRE_FRAME_MAX_HARD 1048576u /* largest payload ever accepted */
#define WIRE_TEXT_MAX_HARD  65535u   /* str16 bound */
#define WIRE_NICK_MAX       32u      /* bytes */
#define WIRE_ROOM_MAX       64u      /* bytes */
#define WIRE_LIST_CHUNK     64u

/* Frame types.  0x01-0x3f: client to server, 0x40-0x7f: server to client;
 * PING and PONG travel both ways. */
enum wire_type {
	WIRE_HELLO = 0x01,
	WIRE_JOIN = 0x02,
	WIRE_PART = 0x03,
	WIRE_SAY = 0x04,
	WIRE_MSG = 0x05,
	WIRE_NICK = 0x06,
	WIRE_LIST = 0x07,
	WIRE_WHO = 0x08,
	WIRE_USERS = 0x09,
	WIRE_PING = 0x0a,
	WIRE_PONG = 0x0b,
	WIRE_QUIT = 0x0c,
	WIRE_HISTORY = 0x0d, /* page back through a room's history */
	WIRE_TOPIC = 0x0e,   /* set (or clear) a room's topic */

	WIRE_WELCOME = 0x41,
	WIRE_JOINED = 0x42,
	WIRE_HISTORY_END = 0x43,
	WIRE_MESSAGE = 0x44,
	WIRE_PRESENCE = 0x45,
	WIRE_ROOMS = 0x46,
	WIRE_NAMES = 0x47,
	WIRE_ACK = 0x48,
	WIRE_ERROR = 0x49,
	WIRE_BYE = 0x4a,
	WIRE_SUMMARY = 0x4b,    /* the presence events of a large room, once a second */
	WIRE_REASON = 0x4c,     /* the words a user left with, after its PRESENCE PART or QUIT */
	WIRE_ROOM_TOPIC = 0x4d, /* a room's topic: set, or as a join finds it */
};

/* Error codes.  1xx: the server closes the connection after sending the
 * ERROR frame.  2xx: the request is refused and the connection goes on. */
enum wire_error {
	WIRE_E_BAD_PREFACE = 100,
	WIRE_E_BAD_VERSION = 101,
	WIRE_E_FRAME_TOO_LARGE = 102,
	WIRE_E_MALFORMED = 103,
	WIRE_E_HANDSHAKE_TIMEOUT = 104,
	WIRE_E_SERVER_FULL = 105,

	WIRE_E_UNKNOWN_TYPE = 200,
	WIRE_E_NOT_REGISTERED = 201,
	WIRE_E_ALREADY_REGISTERED = 202,
	WIRE_E_NICK_INVALID = 203,
	WIRE_E_NICK_TAKEN = 204,
	WIRE_E_ROOM_INVALID = 205,
	WIRE_E_TEXT_INVALID = 206,
	WIRE_E_TEXT_TOO_LONG = 207,
	WIRE_E_NOT_IN_ROOM = 208,
	WIRE_E_ALREADY_IN_ROOM = 209,
	WIRE_E_NO_SUCH_ROOM = 210,
	WIRE_E_NO_SUCH_USER = 211,
	WIRE_E_TOO_MANY_ROOMS = 212,
	WIRE_E_ROOM_FULL = 213,
	WIRE_E_ROOM_LIMIT = 214,
	WIRE_E_STORE_UNAVAILABLE = 215,
	WIRE_E_CLUSTER_UNAVAILABLE = 216,
};

#define WIRE_ERROR_IS_FATAL(code) ((code) >= 100 && (code) < 200)

/* PRESENCE kinds. */
enum wire_presence {
	WIRE_P_JOIN = 1,
	WIRE_P_PART = 2,
	WIRE_P_QUIT = 3,
	WIRE_P_NICK = 4,
	WIRE_P_DROP = 5,
};

/* Why a connection ended: PRESENCE DROP and BYE reasons. */
enum wire_reason {
	WIRE_R_NONE = 0, /* not a drop (QUIT, or not applicable) */
	WIRE_R_CLOSED = 1,
	WIRE_R_RESET = 2,
	WIRE_R_PING_TIMEOUT = 3,
	WIRE_R_SLOW_CONSUMER = 4,
	WIRE_R_PROTOCOL_ERROR = 5,
	WIRE_R_SHUTDOWN = 6,
	WIRE_R_HANDSHAKE_TIMEOUT = 7,
	WIRE_R_TIMEOUT = 8,   /* a session with no connection (HTTP) went unused */
	WIRE_R_NODE_LOST = 9, /* a user of another cluster node whose node stopped answering */
};
#define WIRE_R_COUNT 10

/* MESSAGE flags. */
#define WIRE_MSG_HISTORY 0x01
#define WIRE_MSG_DIRECT  0x02
/* HISTORY_END flags. */
#define WIRE_HIST_TRUNCATED     0x01
#define WIRE_HIST_EPOCH_CHANGED 0x02
#define WIRE_HIST_MORE          0x04 /* a HISTORY answer: older messages remain */
/* Messages one HISTORY request may ask for. */
#define WIRE_HISTORY_MAX 100u
/* ROOMS and NAMES flags. */
#define WIRE_LIST_LAST    0x01
#define WIRE_LIST_PARTIAL 0x02 /* NAMES of a JOIN: the list was cut short (WHO has all) */
/* ROOM_TOPIC flags. */
#define WIRE_TOPIC_CURRENT 0x01 /* part of a JOIN answer: the topic the room has */
/* Bytes of a topic at the most. */
#define WIRE_TOPIC_MAX 390u
/* SUMMARY flags. */
#define WIRE_SUMMARY_OMITTED 0x01 /* more events happened than are listed */
/* Events listed in one SUMMARY at most. */
#define WIRE_SUMMARY_MAX 64u

/* Result of wire_frame_next(). */
enum wire_status {
	WIRE_NEED_MORE = 0,
	WIRE_OK = 1,
	WIRE_TOO_LARGE = -1,
};

/* A complete frame inside a caller's buffer. */
struct wire_frame {
	uint8_t type;
	uint32_t len;           /* payload bytes */
	const uint8_t *payload; /* points into the caller's buffer */
};

/*
 * Find the next frame in buf[0, len).  Returns WIRE_OK and fills *f and
 * *used (header plus payload) when a whole frame is present, WIRE_NEED_MORE
 * when more bytes are needed, WIRE_TOO_LARGE as soon as the header
 * announces a payload above max_payload, before any of it is buffered.
 */
enum wire_status wire_frame_next(const uint8_t *buf, size_t len, uint32_t max_payload,
                                 struct wire_frame *f, size_t *used);

/* Returns 1 if buf[0, len) agrees with the preface's first 7 (fixed) bytes
 * as far as it goes, whatever version byte follows; 0 if it cannot be a
 * preface. */
int wire_preface_prefix(const uint8_t *buf, size_t len);

/* A byte string inside a frame payload. */
struct wire_str {
	const char *p;
	uint16_t len;
};

/* A list (ROOMS or NAMES entries) validated by the decoder; walk it with
 * wire_list_next_*(). */
struct wire_list {
	uint16_t count;
	const uint8_t *p; /* first entry */
	const uint8_t *end;
};

/* A decoded frame: string fields point into the payload. */
struct wire_msg {
	uint8_t type;
	union {
		struct {
			struct wire_str nick;
		} hello; /* HELLO, NICK */
		struct {
			struct wire_str room;
			uint64_t epoch; /* 0: no cursor */
			uint64_t since;
		} join;
		struct {
			struct wire_str room;
		} room; /* PART, WHO */
		struct {
			struct wire_str room;
			uint64_t before; /* 0: from the newest */
			uint16_t limit;
		} history;
		struct {
			uint32_t ref;
			struct wire_str target; /* room (SAY) or nick (MSG) */
			struct wire_str text;
		} say; /* SAY, MSG */
		struct {
			struct wire_str room;
			struct wire_str text; /* empty: clear it */
		} topic;
		struct {
			uint8_t flags;
			struct wire_str room;
			struct wire_str nick; /* who set it; empty when it has none */
			uint64_t time_ms;     /* when; 0 when it has none */
			struct wire_str text; /* empty: it has none (cleared) */
		} room_topic;
		struct {
			uint64_t token;
		} ping; /* PING, PONG */
		struct {
			uint8_t version;
			struct wire_str nick;
			struct wire_str server;
			uint32_t max_frame;
			uint16_t max_text;
			uint8_t max_nick;
			uint8_t max_room;
			uint32_t flood_rate;  /* request frames per second, 0: off */
			uint32_t flood_burst; /* request frames */
			uint32_t max_queue;   /* bytes */
			uint16_t history_len;
			uint16_t max_rooms;
			uint32_t ping_interval_ms;
			uint32_t ping_timeout_ms;
		} welcome;
		struct {
			struct wire_str room;
			uint64_t epoch;
			uint64_t last_seq;
			uint32_t members;
		} joined;
		struct {
			struct wire_str room;
			uint64_t epoch;
			uint64_t last_seq;
			uint16_t count;
			uint8_t flags;
		} history_end;
		struct {
			uint8_t flags;
			struct wire_str room; /* empty for a direct message */
			struct wire_str from;
			uint64_t seq; /* 0 for a direct message */
			uint64_t time_ms;
			struct wire_str text;
		} message;
		struct {
			uint8_t kind;
			uint8_t reason;
			struct wire_str room; /* empty for NICK */
			struct wire_str nick;
			struct wire_str new_nick; /* NICK only */
			uint64_t time_ms;
		} presence;
		struct {
			uint8_t kind; /* WIRE_P_PART or WIRE_P_QUIT, as the PRESENCE before it */
			struct wire_str room;
			struct wire_str nick;
			struct wire_str text;
		} reason;
		struct {
			uint8_t flags;
			struct wire_list list; /* str8 name, u32 members */
		} rooms;
		struct {
			uint8_t flags;
			struct wire_str room;  /* empty: the USERS reply */
			struct wire_list list; /* str8 nick */
		} names;
		struct {
			uint32_t ref;
			uint64_t seq;
			uint64_t time_ms;
		} ack;
		struct {
			uint16_t code;
			uint8_t type; /* the request it answers, 0 if none */
			uint32_t ref;
			struct wire_str text;
		} error;
		struct {
			uint8_t reason;
			struct wire_str text;
		} bye;
		struct {
			uint8_t flags;
			struct wire_str room;
			uint32_t members; /* now */
			uint32_t joins;   /* in the period */
			uint32_t leaves;  /* PART, QUIT, DROP in the period */
			uint64_t time_ms;
			struct wire_list list; /* u8 kind, u8 reason, str8 nick, str8 new_nick */
		} summary;
	} u;
};

/*
 * Decode the payload of a frame of the given type.  Returns 0 on success,
 * -1 if the payload does not match the type's layout exactly (too short,
 * a string running past the end, trailing bytes), -2 if the type is
 * unknown.  Strings are not checked for UTF-8 here.
 */
int wire_decode(uint8_t type, const uint8_t *payload, size_t len, struct wire_msg *m);

/* Walk a ROOMS list: returns 1 and fills the entry, 0 at the end. */
int wire_list_next_room(struct wire_list *l, struct wire_str *name, uint32_t *members);
/* Walk a NAMES list: returns 1 and fills the nick, 0 at the end. */
int wire_list_next_name(struct wire_list *l, struct wire_str *nick);
/* Walk a SUMMARY list: returns 1 and fills the event, 0 at the end. */
int wire_list_next_event(struct wire_list *l, uint8_t *kind, uint8_t *reason, struct wire_str *nick,
                         struct wire_str *new_nick);

/* A bounded output buffer.  Every put checks the bound; an overflow sets
 * err and the buffer's contents are then meaningless. */
struct wire_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t frame; /* offset of the open frame's header */
	int err;
};

void wire_writer_init(struct wire_writer *w, void *buf, size_t cap);
void wire_put_u8(struct wire_writer *w, uint8_t v);
void wire_put_u16(struct wire_writer *w, uint16_t v);
void wire_put_u32(struct wire_writer *w, uint32_t v);
void wire_put_u64(struct wire_writer *w, uint64_t v);
void wire_put_bytes(struct wire_writer *w, const void *p, size_t n);
/* str8 and str16 set err when the string is longer than the prefix allows. */
void wire_put_str8(struct wire_writer *w, const char *s, size_t n);
void wire_put_str16(struct wire_writer *w, const char *s, size_t n);
/* Open a frame of the given type; wire_end() patches its length. */
void wire_begin(struct wire_writer *w, uint8_t type);
void wire_end(struct wire_writer *w);

/* Encoders for every frame: each appends one whole frame to w. */
void wire_enc_hello(struct wire_writer *w, const char *nick, size_t n);
void wire_enc_nick(struct wire_writer *w, const char *nick, size_t n);
void wire_enc_join(struct wire_writer *w, const char *room, size_t n, uint64_t epoch,
                   uint64_t since);
void wire_enc_part(struct wire_writer *w, const char *room, size_t n);
void wire_enc_history(struct wire_writer *w, const char *room, size_t n, uint64_t before,
                      uint16_t limit);
void wire_enc_who(struct wire_writer *w, const char *room, size_t n);
void wire_enc_say(struct wire_writer *w, uint32_t ref, const char *room, size_t rn,
                  const char *text, size_t tn);
void wire_enc_msg(struct wire_writer *w, uint32_t ref, const char *nick, size_t nn,
                  const char *text, size_t tn);
void wire_enc_topic(struct wire_writer *w, const char *room, size_t rn, const char *text,
                    size_t tn);
void wire_enc_empty(struct wire_writer *w, uint8_t type);                /* LIST, USERS, QUIT */
void wire_enc_ping(struct wire_writer *w, uint8_t type, uint64_t token); /* PING, PONG */

void wire_enc_welcome(struct wire_writer *w, const struct wire_msg *m);
void wire_enc_joined(struct wire_writer *w, const char *room, size_t n, uint64_t epoch,
                     uint64_t last_seq, uint32_t members);
void wire_enc_history_end(struct wire_writer *w, const char *room, size_t n, uint64_t epoch,
                          uint64_t last_seq, uint16_t count, uint8_t flags);
void wire_enc_message(struct wire_writer *w, uint8_t flags, const char *room, size_t rn,
                      const char *from, size_t fn, uint64_t seq, uint64_t time_ms, const char *text,
                      size_t tn);
void wire_enc_presence(struct wire_writer *w, uint8_t kind, uint8_t reason, const char *room,
                       size_t rn, const char *nick, size_t nn, const char *new_nick, size_t nnn,
                       uint64_t time_ms);
void wire_enc_reason(struct wire_writer *w, uint8_t kind, const char *room, size_t rn,
                     const char *nick, size_t nn, const char *text, size_t tn);
void wire_enc_room_topic(struct wire_writer *w, uint8_t flags, const char *room, size_t rn,
                         const char *nick, size_t nn, uint64_t time_ms, const char *text,
                         size_t tn);
void wire_enc_ack(struct wire_writer *w, uint32_t ref, uint64_t seq, uint64_t time_ms);
void wire_enc_error(struct wire_writer *w, uint16_t code, uint8_t type, uint32_t ref,
                    const char *text, size_t n);
void wire_enc_bye(struct wire_writer *w, uint8_t reason, const char *text, size_t n);

/* ROOMS and NAMES are built entry by entry: begin, add entries while they
 * fit, end.  The count field is patched by the end call. */
struct wire_list_writer {
	size_t flags_at; /* offset of the u8 flags */
	size_t count_at; /* offset of the u16 count */
	uint16_t count;
};
void wire_rooms_begin(struct wire_writer *w, struct wire_list_writer *lw);
void wire_rooms_add(struct wire_writer *w, struct wire_list_writer *lw, const char *name, size_t n,
                    uint32_t members);
void wire_names_begin(struct wire_writer *w, struct wire_list_writer *lw, const char *room,
                      size_t n);
void wire_names_add(struct wire_writer *w, struct wire_list_writer *lw, const char *nick, size_t n);
/* A SUMMARY frame: begin with the room and its counts, add each listed
 * event, close with wire_list_end() (flags: WIRE_SUMMARY_OMITTED). */
void wire_summary_begin(struct wire_writer *w, struct wire_list_writer *lw, const char *room,
                        size_t n, uint32_t members, uint32_t joins, uint32_t leaves,
                        uint64_t time_ms);
void wire_summary_add(struct wire_writer *w, struct wire_list_writer *lw, uint8_t kind,
                      uint8_t reason, const char *nick, size_t nn, const char *new_nick,
                      size_t nnn);
/* Close the frame, patching its count and flags (WIRE_LIST_LAST on the
 * final frame of a reply). */
void wire_list_end(struct wire_writer *w, struct wire_list_writer *lw, uint8_t flags);

/* Names for logs and tools; never NULL. */
const char *wire_type_name(uint8_t type);
const char *wire_error_name(uint16_t code);
const char *wire_reason_name(uint8_t reason);

#ifdef __cplusplus
}
#endif

#endif /* CHATD_WIRE_H */
