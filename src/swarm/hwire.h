/*
 * The HTTP that chatd-swarm reads from chatd, strictly: a response head
 * (status line and headers, of which it needs Content-Length, Connection
 * and Content-Type, and any other by name), the event blocks of a
 * Server-Sent Events stream as chatd writes them (docs/http.md section 7),
 * and, after an upgrade to WebSocket (docs/websocket.md), the heads of the
 * server's frames; and what the swarm writes back on a WebSocket: its
 * key, masked frame heads and masked payloads.  Pure: bytes in, a result
 * out, every read checked against the end and every size against its
 * bound before the caller waits for more.
 */
#ifndef CHATD_HWIRE_H
#define CHATD_HWIRE_H

#include <stddef.h>
#include <stdint.h>

#define HWIRE_HEAD_MAX  16384  /* bytes of a response head */
#define HWIRE_EVENT_MAX 262144 /* bytes of one event block (a large room's summary) */

#define HWIRE_WS_HEAD_MAX    14  /* bytes of a frame head: 64-bit length and mask */
#define HWIRE_WS_CONTROL_MAX 125 /* payload bytes of a control frame (RFC 6455 5.5) */
#define HWIRE_WS_KEY_LEN     24  /* Sec-WebSocket-Key: 16 bytes in base64 */
#define HWIRE_WS_ACCEPT_LEN  28  /* Sec-WebSocket-Accept: a SHA-1 in base64 */

/* WebSocket opcodes (RFC 6455 5.2). */
enum hwire_ws_op {
	HWIRE_WS_CONT = 0x0,
	HWIRE_WS_TEXT = 0x1,
	HWIRE_WS_BINARY = 0x2,
	HWIRE_WS_CLOSE = 0x8,
	HWIRE_WS_PING = 0x9,
	HWIRE_WS_PONG = 0xa,
};

enum hwire_result {
	HWIRE_MORE, /* incomplete: read more */
	HWIRE_OK,
	HWIRE_BAD, /* malformed, or over its bound */
};

/* A response head. */
struct hwire_head {
	int status;
	int64_t length; /* Content-Length; -1 when absent */
	uint8_t close;  /* Connection: close */
	uint8_t stream; /* Content-Type: text/event-stream */
	size_t size;    /* bytes of the head, its blank line included */
};

/* One event block: its fields, and its size with the blank line. */
struct hwire_event {
	uint64_t id;
	uint8_t has_id;
	uint8_t comment; /* only comment lines (": keep-alive") */
	const char *name;
	size_t name_len;
	const char *data;
	size_t data_len;
	size_t size;
};

/* Read an "HTTP/1.1 NNN reason" head with its headers from p[0, n).  A
 * response chatd would not send (another version, Transfer-Encoding, a
 * header line without a colon, a Content-Length that is not a number or
 * is given twice) is HWIRE_BAD. */
enum hwire_result hwire_head(const char *p, size_t n, struct hwire_head *h);

/* Read one event block from p[0, n): lines "id: N", "event: NAME", one
 * "data: ..." and comments ": ...", ended by an empty line ("\n" or
 * "\r\n").  A block with an unknown field, two data lines, an id that is
 * not a number, or no data (comments apart) is HWIRE_BAD. */
enum hwire_result hwire_event(const char *p, size_t n, struct hwire_event *e);

/* The value of the header name (any case) in the head p[0, size) that
 * hwire_head() read, without the blanks around it, and its length in
 * *len; NULL when the head has no such header, or has it twice. */
const char *hwire_header(const char *p, size_t size, const char *name, size_t *len);

/* The head of a WebSocket frame. */
struct hwire_ws {
	uint8_t fin;
	uint8_t opcode; /* enum hwire_ws_op */
	uint8_t size;   /* bytes of the head */
	uint64_t len;   /* bytes of the payload after it */
};

/* Read the head of a server's frame from p[0, n), HWIRE_MORE until it is
 * whole.  HWIRE_BAD for what chatd never sends: a masked frame, an RSV
 * bit, an unknown opcode, a control frame fragmented or longer than
 * HWIRE_WS_CONTROL_MAX, a length not in its shortest form, or a payload
 * longer than max (known from the head: the caller need not wait for it). */
enum hwire_result hwire_ws_head(const uint8_t *p, size_t n, uint64_t max, struct hwire_ws *f);
/* Write the head of a client's frame, masked with key, into out
 * (HWIRE_WS_HEAD_MAX bytes at least); its size. */
size_t hwire_ws_put_head(uint8_t *out, uint8_t opcode, int fin, uint64_t len, const uint8_t key[4]);
/* Mask src[0, n), a payload from its first byte, with key into dst (src
 * itself, or a buffer that does not overlap it): eight bytes at a time. */
void hwire_ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4]);
/* The Sec-WebSocket-Key for 16 bytes of nonce: HWIRE_WS_KEY_LEN
 * characters and a NUL into out. */
void hwire_ws_key(const uint8_t nonce[16], char out[HWIRE_WS_KEY_LEN + 1]);
/* The Sec-WebSocket-Accept a server answers key[0, n) with,
 * base64(SHA-1(key + the RFC's GUID)): HWIRE_WS_ACCEPT_LEN characters
 * and a NUL into out; -1 when libcrypto fails. */
int hwire_ws_accept(const char *key, size_t n, char out[HWIRE_WS_ACCEPT_LEN + 1]);

#endif
