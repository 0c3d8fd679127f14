/*
 * The HTTP/JSON front end (docs/http.md).  Its files:
 *
 *   http.c     the connection: parsing (http_parser), limits, timers,
 *              keep-alive and pipelining, responses, CORS, the route table
 *   api.c      the routes: sessions, rooms, messages, users, events
 *   hsess.c    HTTP sessions: tokens, the mailbox, the core's sink, idle
 *              timeouts, long polls and event streams waiting on them
 *   render.c   messages and events as JSON and as Server-Sent Events
 *   metrics.c  /healthz and /metrics
 *
 * An HTTP session is not a connection: it lives across requests and
 * connections, so the front end keeps it (hsess.c), and the connection
 * layer only carries requests.
 */
#ifndef CHATD_PROTO_HTTP_H
#define CHATD_PROTO_HTTP_H

#include <ev.h>
#include <http_parser.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "core/core.h"
#include "net/frontend.h"
#include "util/blk.h"

struct conn;
struct conn_set;
struct hsess;

extern struct frontend http_frontend;

/* A part of the request buffer. */
struct hstr {
	uint32_t off;
	uint32_t len;
};

/* The headers a route may look at. */
enum hhdr {
	HH_AUTHORIZATION,
	HH_COOKIE,
	HH_CONTENT_TYPE,
	HH_ORIGIN,
	HH_LAST_EVENT_ID,
	HH_HOST,
	HH_UPGRADE,
	HH_CONNECTION,
	HH_WS_KEY,
	HH_WS_VERSION,
	HH_WS_PROTOCOL,
	HH_IF_NONE_MATCH,
	HH_COUNT,
};

/* The request being read.  url, the headers chatd reads and the body
 * lie in one buffer, each contiguous, in the order they arrive. */
struct hreq {
	char *buf;
	uint32_t len;
	uint32_t cap;
	struct hstr url;
	struct hstr hdr[HH_COUNT];
	struct hstr body;
	uint32_t header_bytes; /* names and values, all headers */
	int cur;               /* the header whose value is being read, or -1 */
	char field[24];        /* its name, lower case, while it is read */
	uint8_t field_len;
	uint8_t in_value;   /* the last callback was a value */
	uint8_t has_length; /* Content-Length given, or chunked */
	uint8_t complete;   /* on_message_complete was called */
	uint8_t hdr_seen[HH_COUNT];
	int refuse;     /* a limit's status (413, 414, 431), 0 while within */
	char vtail[10]; /* the request line's last bytes: its version */
	uint8_t vlen;
	uint8_t line_done; /* the request line has ended */
};

/* What a connection is doing. */
enum hphase {
	HP_IDLE,      /* between requests (keep-alive) */
	HP_READING,   /* a request is arriving */
	HP_WAITING,   /* a long poll is held */
	HP_STREAMING, /* an event stream is open */
	HP_CLOSING,   /* the last answer is going out */
};

/* What a long poll waits for. */
enum hwait {
	HW_NONE,
	HW_ROOM,   /* a room's next message after a cursor */
	HW_EVENTS, /* the mailbox's next event after an id */
};

/* An HTTP connection: the front end's state on a struct conn. */
struct hconn {
	struct conn *c;
	http_parser parser;
	ev_timer timer; /* request deadline, keep-alive idle, long-poll deadline, stream keep-alive
	                 */
	struct hreq req;
	uint64_t serial; /* names this connection's commands to their completions */
	uint32_t nreq;   /* requests answered */
	uint8_t phase;   /* enum hphase */
	uint8_t loopback;
	uint8_t keep_alive; /* of the request being answered */
	uint8_t head;       /* it is a HEAD request: headers only */
	uint8_t method;
	/* A long poll or a stream: the session and what it waits for. */
	uint8_t wait; /* enum hwait */
	uint8_t wroom_len;
	uint16_t wlimit;
	struct hsess *hs;
	LIST_ENTRY(hconn) wlink; /* HW_ROOM: on its room's waiters */
	LIST_ENTRY(hconn) slink; /* on its session's long polls */
	LIST_ENTRY(hconn) alink; /* on its session's requests awaiting a completion */
	uint8_t awaiting;        /* it is */
	uint64_t wepoch;         /* HW_ROOM: the cursor */
	uint64_t wseq;
	uint64_t wafter;               /* HW_EVENTS: the event id */
	uint64_t sent_id;              /* a resuming stream: the last event id sent */
	uint8_t resuming;              /* a stream sending what it missed: live events wait */
	uint8_t first_part;            /* its first part, which may say overflow */
	char wroom[CORE_ROOM_MAX + 1]; /* HW_ROOM: the room's key */
	char origin[128];              /* a CORS origin allowed for this request, "" for none */
	uint8_t cors_any;              /* the origin is allowed as "*" */
	/* The request upgraded the connection to a WebSocket running this
	 * front end: once it is answered, the connection is handed over. */
	const struct frontend *upgrade;
	uint8_t upgrade_mode; /* enum ws_mode */
};

LIST_HEAD(hconn_list, hconn);

/* --- http.c: answering --- */

/* A whole answer: status, type, extra header lines (each ending CRLF, or
 * NULL), body. */
void http_reply(struct hconn *h, int status, const char *ctype, const char *extra, const void *body,
                size_t len);
/* Header lines (each ending CRLF) for the next answer's head only. */
void http_extra(const char *lines);
/* A JSON answer; takes the reference to body. */
void http_reply_json(struct hconn *h, int status, json_t *body);
/* An error answer {"error": {"code", "message"}}. */
void http_error(struct hconn *h, int status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* An answer in parts: the head (with Content-Length), then private bytes
 * and shared slices, then the end. */
void http_begin(struct hconn *h, int status, const char *ctype, const char *extra, size_t len);
void http_write(struct hconn *h, const void *p, size_t n);
void http_send(struct hconn *h, struct slice s);
/* The answer is complete: read the next request, or close. */
void http_end(struct hconn *h);
/* The value of a header (NULL when absent) and of a query parameter
 * (decoded into out; -1 when absent, -2 when it does not fit). */
const char *http_header(const struct hconn *h, enum hhdr which, size_t *len);
int http_query(const struct hconn *h, const char *name, char *out, size_t cap);
/* Percent-decode s[0, n) into out (cap bytes, NUL-terminated), '+' as a
 * space when plus; the length, or -1 when malformed or too long. */
int http_unescape(const char *s, size_t n, char *out, size_t cap, int plus);
/* The request's body (NULL, 0 when none). */
const char *http_body(const struct hconn *h, size_t *len);
/* Wait: hold the connection until http_wake() (a long poll), answering
 * empty at the deadline through route->expire. */
void http_hold(struct hconn *h, double seconds);
/* The request's command completes later (it waits on the backplane):
 * read nothing more until it is answered, with no deadline of its own. */
void http_await(struct hconn *h);
/* Stream: the connection stays open, with a comment every 15 s. */
void http_stream(struct hconn *h);
/* Close a connection after what is queued (a stream replaced, a session
 * ended). */
void http_close(struct hconn *h);

/* --- wsjson.c: chatd.json, the front end behind a WebSocket --- */

extern struct frontend json_frontend;

/* --- upgrade.c: WebSocket --- */

/* GET /ws: check the handshake and answer 101, or refuse (docs/websocket.md
 * section 1). */
void http_websocket(struct hconn *h);

/* --- api.c: the routes --- */

/* Handle a complete request: path decoded into segments. */
void api_dispatch(struct hconn *h, const char *path, size_t n);
/* The next part of a stream's resume; nonzero while more remains. */
int api_more(struct hconn *h);
/* A held long poll's deadline passed: answer it empty. */
void api_expire(struct hconn *h);
/* Something a held long poll waits for may have come: answer it if so. */
void api_wake(struct hconn *h);

/* The HTTP status and error code for a core refusal (enum core_err), and
 * its words ("NICK_TAKEN: ann"); the WebSocket JSON protocol uses the
 * same codes. */
int api_error_of(int err, const char **code);
void api_error_text(struct core *core, const struct core_reply *r, char *out, size_t n);

/* --- hsess.c: sessions --- */

struct hsess;
void hsess_attach(struct conn_set *set);
void hsess_detach(void);
/* The session a request's token names, or NULL (and touch it: used now). */
struct hsess *hsess_of(struct hconn *h);
/* Create a session for nick; answers the request itself. */
void hsess_create(struct hconn *h, const char *nick, size_t n);
/* End a session (DELETE): a quit, announced. */
void hsess_end(struct hsess *hs);
struct session *hsess_core(const struct hsess *hs);
/* Run a command for h on hs's core session; the completion comes back
 * to h through api_done() (if h is still there). */
void hsess_begin(struct hsess *hs, struct hconn *h);
/* After the command: 1 when its completion is still to come (the request
 * waits for it, http_await()). */
int hsess_finish(struct hsess *hs, struct hconn *h);
/* Long polls and streams. */
void hsess_wait_events(struct hsess *hs, struct hconn *h);
void hsess_wait_room(struct hconn *h, struct hsess *hs);
void hsess_unwait(struct hconn *h);
void hsess_set_stream(struct hsess *hs, struct hconn *h);
/* The mailbox: events with an id above after, oldest first, up to max
 * into out (references borrowed); *dropped: events above after let go. */
struct hevent {
	uint64_t id;
	struct msg *m;  /* a direct message, or NULL */
	struct pres *p; /* a presence event, or NULL */
};
size_t hsess_events(const struct hsess *hs, uint64_t after, struct hevent *out, size_t max,
                    uint64_t *dropped);
/* The newest event id the mailbox has given. */
uint64_t hsess_last_id(const struct hsess *hs);
size_t hsess_count(void);
const char *hsess_token(const struct hsess *hs);
void api_done(struct hconn *h, const struct core_reply *r);

/* --- render.c --- */

/* A message or event as an SSE event whose data line is its JSON object;
 * the JSON alone is the middle of the same slice (render_json()). */
struct slice render_msg(struct msg *m, int history);
struct slice render_pres(struct pres *p);
struct slice render_json(struct slice sse, uint64_t id, const char *event);
/* A message's and an event's JSON objects, as the HTTP API shows them
 * (docs/http.md section 4); the caller owns the reference. */
json_t *render_msg_object(const struct msg *m);
json_t *render_pres_object(const struct pres *p);
/* A room's topic as {"text", "by", "time"}, or null when it has none. */
json_t *render_topic_object(const struct room *r);
/* The JSON of o (whose reference it takes) between head and tail, once:
 * in a block of its own (own_block: history, kept on its message) or in
 * the shared arena.  A NULL head is made by head_of(out, json_length). */
struct slice render_wrap(json_t *o, const char *head, size_t hn,
                         size_t (*head_of)(uint8_t *out, size_t len), const char *tail, size_t tn,
                         int own_block);
/* The event name of a rendering. */
const char *render_msg_event(const struct msg *m);
void render_cleanup(void);
/* The framed reason words in lower case ("ping timeout"). */
const char *render_reason(int reason);

/* --- metrics.c --- */

void metrics_answer(struct hconn *h);
/* HTTP answers by status, for the metrics. */
void metrics_count_status(int status);
/* A request or session refused by a limit (its key). */
void metrics_refusal(const char *limit);

#endif
