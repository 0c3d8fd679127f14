/*
 * The client side of a WebSocket to chatd (RFC 6455, docs/websocket.md),
 * between a bot and its socket: the opening handshake (the request, and
 * the check of the 101 that answers it), the server's frames unwrapped,
 * its pings answered and its close echoed, and the bot's bytes wrapped in
 * masked frames.  It has a mode for each of chatd's subprotocols:
 *
 *   WSCONN_STREAM    chatd.framed: the payloads of binary messages are one
 *                    byte stream, their boundaries meaningless; what a bot
 *                    writes at once goes out as one binary frame.
 *   WSCONN_MESSAGES  chatd.json: one JSON object per text message, both
 *                    ways.
 *
 * No syscalls and no libev: the bot reads and writes its socket and hands
 * the bytes through here, so that the framed bot runs unchanged above it.
 */
#ifndef CHATD_WSCONN_H
#define CHATD_WSCONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "swarm/hwire.h"

#define WSCONN_REQUEST_MAX   512  /* bytes of the upgrade request */
#define WSCONN_ANSWER_MAX    4096 /* bytes of its answer: a head, and a refusal's body */
#define WSCONN_KEEP_MAX      (2 + HWIRE_WS_CONTROL_MAX) /* a head or control frame cut by a read */
#define WSCONN_MESSAGE_MAX   ((size_t)1 << 20)          /* bytes of one chatd.json message */
#define WSCONN_FRAGMENTS_MAX 256                        /* frames of one chatd.json message */
#define WSCONN_STREAM_MAX    ((uint64_t)1 << 40) /* a binary frame's length, as a sanity bound */

enum wsconn_mode {
	WSCONN_STREAM,   /* chatd.framed */
	WSCONN_MESSAGES, /* chatd.json */
};

enum wsconn_status {
	WSCONN_MORE, /* incomplete: read more */
	WSCONN_OK,
	WSCONN_CLOSED,  /* the server's close came; the echo is queued (wsconn_ctl()) */
	WSCONN_REFUSED, /* the upgrade was answered otherwise: wsconn_refusal() */
	WSCONN_BAD,     /* malformed, or what chatd does not send */
};

/* Counters of every WebSocket the swarm opened, for the report. */
struct wsconn_stats {
	uint64_t handshakes; /* upgrades answered 101 and checked */
	uint64_t refusals;   /* upgrades answered otherwise */
	uint64_t frames_in;  /* data frames read */
	uint64_t frames_out; /* data frames written */
	uint64_t pings;      /* pings read (and answered) */
	uint64_t closes;     /* close frames read */
};

struct wsconn;

/* A WebSocket of a bot's, not connected. */
struct wsconn *wsconn_new(enum wsconn_mode mode);
void wsconn_free(struct wsconn *w);
/* Begin a connection: forget the last one's state; the key is the first
 * 16 bytes of rnd, the mask the last 4. */
void wsconn_reset(struct wsconn *w, const uint8_t rnd[20]);

/* The upgrade request for GET /ws with host as its Host, into out
 * (WSCONN_REQUEST_MAX bytes at least); its length. */
size_t wsconn_request(const struct wsconn *w, const char *host, char *out);
/*
 * Read the answer to the upgrade from p[0, n), more of it on each call
 * (it is kept here up to WSCONN_ANSWER_MAX).  WSCONN_OK once the 101 has
 * been read and accepts the key and the subprotocol: *used bytes of p
 * were the head's, the rest are frames.  WSCONN_REFUSED once another
 * status and its body have come; WSCONN_BAD for anything else.
 */
enum wsconn_status wsconn_handshake(struct wsconn *w, const uint8_t *p, size_t n, size_t *used);
/* Whether the 101 has been read. */
int wsconn_open(const struct wsconn *w);
/* A refused upgrade's status and body (docs/http.md section 11). */
void wsconn_refusal(const struct wsconn *w, int *status, const char **body, size_t *len);

/*
 * Stream mode.  Bytes kept from the last read (a frame head or a control
 * frame it cut, WSCONN_KEEP_MAX at most) are put back in front of at,
 * which must have that much room before it: the start of the bytes to
 * unwrap.  wsconn_unwrap() then moves the payload of p[0, n)'s data
 * frames to its front, *out bytes, keeps what is cut, and answers pings.
 * WSCONN_BAD or WSCONN_CLOSED stop it, the payload before them in *out.
 */
uint8_t *wsconn_restore(struct wsconn *w, uint8_t *at);
enum wsconn_status wsconn_unwrap(struct wsconn *w, uint8_t *p, size_t n, size_t *out);
/*
 * Stream mode, writing: the iovecs (3 at most) of what to write next, the
 * caller's unsent bytes being p[0, n): control frames owed, then the
 * frame under way, or a new one of all n bytes (masked in place: p's
 * bytes are the caller's to drop, not to read again).  After a write of
 * k bytes of them, wsconn_wrote() says how many of p's bytes went.
 */
int wsconn_iov(struct wsconn *w, uint8_t *p, size_t n, struct iovec iov[3]);
size_t wsconn_wrote(struct wsconn *w, size_t k);
/* Whether control frames or a frame's bytes are still to be written. */
int wsconn_pending(const struct wsconn *w);

/*
 * Message mode: the next whole message in p[0, n), control frames before
 * it answered: its text as [*msg, *msg + *len) (in p; fragments are
 * gathered in place), and *used bytes of p read (also with WSCONN_MORE,
 * for the control frames read).  A message beyond WSCONN_MESSAGE_MAX or
 * WSCONN_FRAGMENTS_MAX is WSCONN_BAD as soon as its heads say so.
 */
enum wsconn_status wsconn_next(struct wsconn *w, uint8_t *p, size_t n, uint8_t **msg, size_t *len,
                               size_t *used);
/* A masked frame of the payload p[0, n) into out (n + HWIRE_WS_HEAD_MAX
 * bytes at least): its size. */
size_t wsconn_frame(struct wsconn *w, uint8_t opcode, const void *p, size_t n, uint8_t *out);

/* Control frames owed to the server (pongs, a close's echo), masked and
 * ready to write; a message-mode caller takes them whole into its output
 * and says so with wsconn_ctl_taken(). */
const uint8_t *wsconn_ctl(const struct wsconn *w, size_t *n);
void wsconn_ctl_taken(struct wsconn *w);
/* The code of the server's close frame (0 before one, 1005 without one). */
uint16_t wsconn_close_code(const struct wsconn *w);

const struct wsconn_stats *wsconn_stats(void);

#endif
