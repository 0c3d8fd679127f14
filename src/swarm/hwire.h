/*
 * The HTTP that chatd-swarm reads from chatd, strictly: a response head
 * (status line and headers, of which it needs Content-Length, Connection
 * and Content-Type) and the event blocks of a Server-Sent Events stream
 * as chatd writes them (docs/http.md section 7).  Pure: bytes in, a result
 * out, every read checked against the end and every size against its
 * bound before the caller waits for more.
 */
#ifndef CHATD_HWIRE_H
#define CHATD_HWIRE_H

#include <stddef.h>
#include <stdint.h>

#define HWIRE_HEAD_MAX  16384  /* bytes of a response head */
#define HWIRE_EVENT_MAX 262144 /* bytes of one event block (a large room's summary) */

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

#endif
