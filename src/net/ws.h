/*
 * WebSocket (RFC 6455, docs/websocket.md) as a transport under chatd's
 * front ends.  The HTTP front end answers the upgrade (ws_accept_key,
 * ws_upgrade); from then on the connection's bytes are WebSocket frames,
 * read and checked with wslay, and the front end behind it sees either
 *
 *   WS_STREAM  the payload of binary messages as one byte stream, for the
 *              framed protocol (chatd.framed): the transport unwraps what
 *              comes in, wraps what goes out, and answers pings and closes
 *              itself; or
 *   WS_UNITS   each data frame as a unit (ws_unit below), for a front end
 *              that renders whole frames itself (chatd.json), once per
 *              message for every reader.
 *
 * In both, the transport answers pings and closes itself, and writes the
 * close frame when the connection ends (ws_close for a code of its own).
 */
#ifndef CHATD_NET_WS_H
#define CHATD_NET_WS_H

#include <stddef.h>
#include <stdint.h>

#include "net/transport.h"

struct conn;
struct frontend;

enum ws_mode {
	WS_STREAM,
	WS_UNITS,
};

/* Opcodes (RFC 6455 5.2). */
enum {
	WS_CONT = 0x0,
	WS_TEXT = 0x1,
	WS_BINARY = 0x2,
	WS_CLOSE = 0x8,
	WS_PING = 0x9,
	WS_PONG = 0xa,
};

/* Close codes (RFC 6455 7.4.1). */
enum {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_UNSUPPORTED = 1003,
	WS_CLOSE_BAD_DATA = 1007,
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_INTERNAL = 1011,
};

/* The longest frame header chatd writes (unmasked, 64-bit length). */
#define WS_HEADER_MAX 10
/* A control frame's payload bound (RFC 6455 5.5). */
#define WS_CONTROL_MAX 125

/* In WS_UNITS mode, each frame reaches the front end as a unit: this
 * head, then the frame's payload, unmasked. */
#define WS_UNIT_HEAD 5
#define WS_UNIT_FIN  0x80 /* in the first byte, with the opcode */
/* The longest message a WS_UNITS front end takes (1009 beyond it). */
struct config;
size_t ws_message_max(const struct config *cfg);
/* The payload length of the unit at p (its head's bytes 1..4). */
uint32_t ws_unit_len(const uint8_t *p);

extern const struct transport ws_transport;

/* Sec-WebSocket-Accept for a client's key: base64(SHA-1(key + GUID)),
 * 28 characters and a NUL into out; -1 when the key is not 16 bytes in
 * base64. */
int ws_accept_key(const char *key, size_t n, char out[29]);
/* The connection's upgrade has been answered (the 101 is queued): from now
 * on its bytes are WebSocket frames, served by fe, which in WS_STREAM
 * mode first expects its opening (the framed preface).  Ends the calling
 * front end's state: see conn_switch(). */
void ws_upgrade(struct conn *c, enum ws_mode mode, const struct frontend *fe);
/* The header of an unmasked frame of len payload bytes, fin set, into
 * out; its length. */
size_t ws_header(uint8_t *out, uint8_t opcode, uint64_t len);
/* A close frame's payload: code and reason (cut to fit), into out
 * (WS_CONTROL_MAX bytes); its length. */
size_t ws_close_payload(uint8_t *out, uint16_t code, const char *reason);
/* Close with code and why (a few words), after what is queued; the
 * connection ends for reason (enum core_reason). */
void ws_close(struct conn *c, uint16_t code, const char *why, uint8_t reason);
/* The close code for a chatd drop reason (enum core_reason). */
uint16_t ws_close_code(uint8_t reason);
/* Free the pooled wslay contexts (at exit). */
void ws_cleanup(void);
/* Frames and messages in and out, refusals by close code, for /metrics. */
struct ws_stats {
	uint64_t upgrades;
	uint64_t frames_in;
	uint64_t closes[16]; /* by code - 1000, codes chatd sends */
};
extern struct ws_stats ws_stats;

#endif
