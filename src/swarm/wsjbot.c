/*
 * chatd.json bots.  A bot connects, upgrades to WebSocket with the
 * subprotocol chatd.json, says hello and, once welcomed, joins its rooms
 * (with "cursor" after a churn), says with a "ref" and sends direct
 * messages with msg.  What comes back, in the order chatd sent it, goes to
 * the core: a join's "joined", its history (messages with "history"),
 * "history_end"; acks; live messages and direct ones; presence; errors.
 *
 * Reading is strict, as for the other transports: a malformed object
 * counts and ends the bot (swarm_lost()).  A room message is scanned in
 * chatd's layout (jscan_exact()), an ack in its own, any other object
 * within the scanner's subset by jscan_object(), and only the rest (a
 * welcome's nested limits, a join's names, an escape) by jansson.
 * Requests are framed as they are queued; the server's pings are answered
 * in the output queue, between whole messages.
 */
#include "swarm/wsjbot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chatd/wire.h"
#include "swarm/jevent.h"
#include "swarm/jscan.h"
#include "swarm/wsconn.h"

#define WJ_IN_MIN   ((size_t)16 * 1024) /* a bot's buffer at first, and kept free for a read */
#define WJ_IN_MAX   (WSCONN_MESSAGE_MAX + WJ_IN_MIN) /* bytes a bot holds for one message */
#define WJ_NICK_MAX 24
#define WJ_REQ_MAX  256 /* a request's bytes besides its escaped text */
#define WJ_BARRIER  "swarm-barrier"
#define WJ_SAY_ACK  5 /* an ack of a say: type, time, ref, seq, cursor */
#define WJ_MSG_ACK  3 /* an ack of a msg: type, time, ref */

enum wj_state {
	WJ_CLOSED,
	WJ_CONNECTING,
	WJ_UPGRADING, /* the upgrade request sent, its answer awaited */
	WJ_HELLO,     /* hello sent */
	WJ_UP,        /* welcomed */
};

struct wjbot {
	ev_io io; /* first: io_cb() finds the bot from it */
	struct bot *b;
	struct wsconn *ws;
	int fd;
	uint8_t state;
	uint8_t want_write;
	uint8_t dirty;
	uint8_t bye;  /* the server's bye: its reason + 1; 0 before one */
	uint32_t gen; /* connections made: bytes of an older one are not read */
	char nick[WJ_NICK_MAX];
	unsigned nrooms;
	unsigned *rooms; /* the room numbers of its memberships */
	uint8_t *out;    /* whole frames, masked, not yet written */
	size_t outlen, outcap;
	uint8_t *in; /* bytes read and not yet used */
	size_t inlen, incap;
	struct wjbot *next_dirty;
};

static struct {
	struct ev_loop *loop;
	uint8_t *scratch;
	size_t scratch_len;
	char *text; /* a request's JSON, before it is framed */
	size_t text_cap;
	struct wjbot *dirty;
	struct wsjbot_stats st;
} J;

/* The fields of an answer (anything but an event), acks' first. */
enum {
	RF_TYPE,
	RF_TIME,
	RF_REF,
	RF_SEQ,
	RF_CURSOR,
	RF_ROOM,
	RF_EPOCH,
	RF_LAST_SEQ,
	RF_TRUNCATED,
	RF_EPOCH_CHANGED,
	RF_CODE,
	RF_MESSAGE,
	RF_REQUEST,
	RF_DATA,
	RF_NICK,
	RF_REASON,
	RF_N
};

/* realloc(), or the end of the run: the swarm has no memory to spare. */
static void *
wj_alloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL) {
		fputs("chatd-swarm: out of memory\n", stderr);
		exit(2);
	}
	return p;
}

/* CLOCK_MONOTONIC in ns, the clock of the payloads' send times. */
static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- writing ---- */

/* Watch w for reading, and for writing while it connects or has bytes. */
static void
wj_arm(struct wjbot *w)
{
	int want = w->state == WJ_CONNECTING || w->outlen > 0;

	if (want == w->want_write)
		return;
	w->want_write = (uint8_t)want;
	ev_io_stop(J.loop, &w->io);
	ev_io_set(&w->io, w->fd, EV_READ | (want ? EV_WRITE : 0));
	ev_io_start(J.loop, &w->io);
}

/* Write w before the loop sleeps. */
static void
wj_mark(struct wjbot *w)
{
	if (!w->dirty) {
		w->dirty = 1;
		w->next_dirty = J.dirty;
		J.dirty = w;
	}
}

/* Room for n more bytes of output. */
static uint8_t *
wj_reserve(struct wjbot *w, size_t n)
{
	if (w->outcap - w->outlen < n) {
		size_t cap = w->outcap ? w->outcap * 2 : 4096;

		while (cap - w->outlen < n)
			cap *= 2;
		w->out = wj_alloc(w->out, cap);
		w->outcap = cap;
	}
	return w->out + w->outlen;
}

/* J.text, with room for n bytes. */
static char *
wj_text(size_t n)
{
	if (J.text_cap < n) {
		J.text_cap = n > 4096 ? n : 4096;
		J.text = wj_alloc(J.text, J.text_cap);
	}
	return J.text;
}

/* Queue J.text[0, n) as one text message. */
static void
wj_send(struct wjbot *w, size_t n)
{
	uint8_t *p = wj_reserve(w, n + HWIRE_WS_HEAD_MAX);

	w->outlen += wsconn_frame(w->ws, HWIRE_WS_TEXT, J.text, n, p);
	J.st.requests++;
	wj_mark(w);
}

/* Queue a request made by printf, then a JSON string of text (escaped)
 * and the closing `"}` when text is not NULL. */
static void wj_request(struct wjbot *w, const char *text, size_t tn, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void
wj_request(struct wjbot *w, const char *text, size_t tn, const char *fmt, ...)
{
	size_t cap = WJ_REQ_MAX + (text ? jevent_escaped_len(text, tn) : 0), n;
	char *p = wj_text(cap);
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(p, WJ_REQ_MAX, fmt, ap);
	va_end(ap);
	if (k < 0 || k >= WJ_REQ_MAX - 2)
		abort(); /* WJ_REQ_MAX bounds every request this file makes */
	n = (size_t)k;
	if (text) {
		n += jevent_escape(p + n, text, tn);
		p[n++] = '"';
		p[n++] = '}';
	}
	wj_send(w, n);
}

/* Take the control frames the server is owed (pongs, a close's echo) into
 * the output, between whole messages. */
static void
wj_take_ctl(struct wjbot *w)
{
	size_t n;
	const uint8_t *c = wsconn_ctl(w->ws, &n);

	if (n) {
		memcpy(wj_reserve(w, n), c, n);
		w->outlen += n;
		wsconn_ctl_taken(w->ws);
		wj_mark(w);
	}
}

/* Write what w has queued, as much as the socket takes. */
static void
wj_flush(struct wjbot *w)
{
	ssize_t n;

	if (w->fd < 0 || w->state == WJ_CONNECTING)
		return;
	if (w->outlen) {
		n = write(w->fd, w->out, w->outlen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				swarm_lost(w->b, WIRE_R_RESET);
				return;
			}
			n = 0;
		}
		memmove(w->out, w->out + n, w->outlen - (size_t)n);
		w->outlen -= (size_t)n;
	}
	wj_arm(w);
}

/* Write what the bots queued; before the loop sleeps. */
static void
wsjbot_flush(void)
{
	while (J.dirty) {
		struct wjbot *w = J.dirty;

		J.dirty = w->next_dirty;
		w->dirty = 0;
		wj_flush(w);
	}
}

/* ---- reading ---- */

/* The member index of the room named [p, p + n), or -1. */
static int
wj_room(const struct wjbot *w, const char *p, size_t n)
{
	unsigned v = 0, k;
	size_t i;

	if (n < 2 || n > 11 || p[0] != 'r')
		return -1;
	for (i = 1; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	for (k = 0; k < w->nrooms; k++)
		if (w->rooms[k] == v)
			return (int)k;
	return -1;
}

/* Is [p, p + n) w's own nick? */
static int
wj_is_me(const struct wjbot *w, const char *p, size_t n)
{
	return n == strlen(w->nick) && memcmp(p, w->nick, n) == 0;
}

/* Malformed input: counted, and the bot goes. */
static void
wj_malformed(struct wjbot *w)
{
	swarm_malformed();
	swarm_lost(w->b, WIRE_R_PROTOCOL_ERROR);
}

/* An event: a message, a direct message, presence, a summary. */
static void
wj_event(struct wjbot *w, const char *p, size_t n, uint64_t now)
{
	struct jevent ev;
	struct swarm_msg m;
	int k;

	if (jevent_parse(p, n, 1, &ev, &J.st.fallback_parses) < 0) {
		json_decref(ev.root);
		wj_malformed(w);
		return;
	}
	switch (ev.type) {
	case JEV_MESSAGE:
	case JEV_DIRECT:
		m = (struct swarm_msg){
		        (uint8_t)((ev.history ? SWARM_MSG_HISTORY : 0) |
		                  (ev.type == JEV_DIRECT ? SWARM_MSG_DIRECT : 0)),
		        ev.room,
		        ev.room_len,
		        ev.from,
		        ev.from_len,
		        ev.text,
		        ev.text_len,
		        ev.seq,
		};
		swarm_deliver(w->b, &m, now);
		break;
	case JEV_PRESENCE:
		if (ev.kind == WIRE_P_DROP)
			swarm_presence(WIRE_P_DROP, ev.reason, ev.nick, ev.nick_len);
		/* Its own part, in order with the room's messages, confirms it. */
		if (ev.kind == WIRE_P_PART && wj_is_me(w, ev.nick, ev.nick_len) &&
		    (k = wj_room(w, ev.room, ev.room_len)) >= 0)
			swarm_parted(w->b, (unsigned)k);
		break;
	case JEV_SUMMARY:
		jevent_summary_drops(&ev);
		break;
	default:
		swarm_unknown(); /* a later server's event: skipped */
		break;
	}
	json_decref(ev.root);
}

/* The framed request type an error answers, by its "request". */
static uint8_t
wj_request_type(const struct jscan_field *f)
{
	static const struct {
		const char *name;
		uint8_t type;
	} map[] = {
	        {"hello", WIRE_HELLO}, {"join", WIRE_JOIN}, {"part", WIRE_PART},
	        {"say", WIRE_SAY},     {"msg", WIRE_MSG},   {"nick", WIRE_NICK},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (jevent_str_is(f, map[i].name))
			return map[i].type;
	return 0;
}

/* An error: counted by the core, and the request it refused settled; a
 * hello refused for a nick still held (an older connection's, not yet
 * gone) goes again under the next one. */
static void
wj_error(struct wjbot *w, const struct jscan_field *f)
{
	uint8_t type = wj_request_type(&f[RF_REQUEST]);
	uint16_t code;

	if (f[RF_CODE].type != JSCAN_STR || f[RF_MESSAGE].type != JSCAN_STR ||
	    (f[RF_REF].type != JSCAN_INT && f[RF_REF].type != JSCAN_ABSENT) ||
	    f[RF_REF].i > UINT32_MAX) {
		wj_malformed(w);
		return;
	}
	/* Codes of the socket's own (bad_json, ...) have no framed one. */
	code = jevent_error_code(f[RF_CODE].s, f[RF_CODE].n, 400);
	swarm_refused(w->b, f[RF_REF].type == JSCAN_INT ? (uint32_t)f[RF_REF].i : 0, type, code,
	              f[RF_MESSAGE].s, f[RF_MESSAGE].n);
	if (type == WIRE_HELLO && code == WIRE_E_NICK_TAKEN && w->state == WJ_HELLO) {
		snprintf(w->nick, sizeof(w->nick), "%s", swarm_renick(w->b));
		wj_request(w, NULL, 0, "{\"type\":\"hello\",\"nick\":\"%s\"}", w->nick);
	}
}

/* A join's end: what it replayed is checked by the core. */
static void
wj_history_end(struct wjbot *w, const struct jscan_field *f)
{
	int k = f[RF_ROOM].type == JSCAN_STR ? wj_room(w, f[RF_ROOM].s, f[RF_ROOM].n) : -1;
	uint8_t flags = 0;

	if (k < 0 || f[RF_EPOCH].type != JSCAN_INT || f[RF_LAST_SEQ].type != JSCAN_INT ||
	    !jevent_is_bool(&f[RF_TRUNCATED]) || !jevent_is_bool(&f[RF_EPOCH_CHANGED])) {
		wj_malformed(w);
		return;
	}
	if (f[RF_TRUNCATED].type == JSCAN_TRUE)
		flags |= WIRE_HIST_TRUNCATED;
	if (f[RF_EPOCH_CHANGED].type == JSCAN_TRUE)
		flags |= WIRE_HIST_EPOCH_CHANGED;
	swarm_joined(w->b, (unsigned)k, f[RF_EPOCH].i, f[RF_LAST_SEQ].i, flags);
}

/* Is f the word s, as a JSON string's bytes? */
static int
is(const struct jscan_field *f, const char *s)
{
	return jevent_str_is(f, s);
}

/* Any object but an event: an answer to a request, or the server's word. */
static void
wj_answer(struct wjbot *w, const char *p, size_t n, uint64_t now)
{
	struct jscan_field f[RF_N] = {
	        JSCAN_FIELD("type"),          JSCAN_FIELD("time"),     JSCAN_FIELD("ref"),
	        JSCAN_FIELD("seq"),           JSCAN_FIELD("cursor"),   JSCAN_FIELD("room"),
	        JSCAN_FIELD("epoch"),         JSCAN_FIELD("last_seq"), JSCAN_FIELD("truncated"),
	        JSCAN_FIELD("epoch_changed"), JSCAN_FIELD("code"),     JSCAN_FIELD("message"),
	        JSCAN_FIELD("request"),       JSCAN_FIELD("data"),     JSCAN_FIELD("nick"),
	        JSCAN_FIELD("reason"),
	};
	json_t *root = NULL;
	size_t i;

	/* An ack's layout first (a say's, then a msg's), then any object. */
	if (jscan_exact(p, n, f, WJ_SAY_ACK) != JSCAN_OK) {
		if (jscan_exact(p, n, f, WJ_MSG_ACK) == JSCAN_OK) {
			for (i = WJ_MSG_ACK; i < RF_N; i++)
				f[i].type = JSCAN_ABSENT;
		} else if (jevent_object(p, n, f, RF_N, &root, &J.st.fallback_parses) < 0) {
			wj_malformed(w);
			return;
		}
	}
	if (f[RF_TYPE].type != JSCAN_STR) {
		json_decref(root);
		wj_malformed(w);
		return;
	}
	if (is(&f[RF_TYPE], "ack")) {
		if (f[RF_REF].type != JSCAN_INT || f[RF_REF].i > UINT32_MAX ||
		    (f[RF_SEQ].type != JSCAN_INT && f[RF_SEQ].type != JSCAN_ABSENT))
			wj_malformed(w);
		else
			swarm_ack(w->b, (uint32_t)f[RF_REF].i,
			          f[RF_SEQ].type == JSCAN_INT ? f[RF_SEQ].i : 0);
	} else if (is(&f[RF_TYPE], "error")) {
		wj_error(w, f);
	} else if (is(&f[RF_TYPE], "history_end")) {
		wj_history_end(w, f);
	} else if (is(&f[RF_TYPE], "joined")) {
		/* The core learns the room's position from history_end. */
		if (f[RF_ROOM].type != JSCAN_STR || wj_room(w, f[RF_ROOM].s, f[RF_ROOM].n) < 0)
			wj_malformed(w);
	} else if (is(&f[RF_TYPE], "welcome")) {
		if (w->state != WJ_HELLO || !is(&f[RF_NICK], w->nick)) {
			wj_malformed(w);
		} else {
			w->state = WJ_UP;
			swarm_registered(w->b);
		}
	} else if (is(&f[RF_TYPE], "pong")) {
		if (is(&f[RF_DATA], WJ_BARRIER))
			swarm_barrier_done(w->b);
	} else if (is(&f[RF_TYPE], "bye")) {
		uint8_t r = jevent_reason(&f[RF_REASON]);

		w->bye = (uint8_t)((r == WIRE_R_NONE ? WIRE_R_CLOSED : r) + 1);
	} else if (is(&f[RF_TYPE], "message") || is(&f[RF_TYPE], "direct") ||
	           is(&f[RF_TYPE], "summary") || is(&f[RF_TYPE], "join") ||
	           is(&f[RF_TYPE], "part") || is(&f[RF_TYPE], "quit") || is(&f[RF_TYPE], "nick") ||
	           is(&f[RF_TYPE], "drop")) {
		wj_event(w, p, n, now); /* an event whose keys came in another order */
	} else {
		swarm_unknown();
	}
	json_decref(root);
}

/* One JSON message: an event (chatd writes its "id" first), or the rest. */
static void
wj_object(struct wjbot *w, const char *p, size_t n, uint64_t now)
{
	J.st.messages++;
	if (n > 6 && memcmp(p, "{\"id\":", 6) == 0)
		wj_event(w, p, n, now);
	else
		wj_answer(w, p, n, now);
}

/* The upgrade was refused: the core counts why, and the bot goes. */
static void
wj_refused(struct wjbot *w)
{
	const char *body;
	size_t len;
	int status;

	wsconn_refusal(w->ws, &status, &body, &len);
	if (jevent_refusal(w->b, 0, WIRE_HELLO, status, body, len) < 0)
		swarm_malformed();
	swarm_lost(w->b, WIRE_R_CLOSED);
}

/* The server closed the WebSocket: echo its close (best effort, the
 * socket is about to go), and the bot is gone for the reason its bye
 * gave. */
static void
wj_closed(struct wjbot *w)
{
	uint8_t reason = w->bye ? (uint8_t)(w->bye - 1) : WIRE_R_CLOSED;

	wj_take_ctl(w);
	if (w->outlen)
		(void)!write(w->fd, w->out, w->outlen);
	swarm_lost(w->b, reason);
}

/* Act on p[0, len) read from w (p is the shared buffer or w's own), and
 * keep what is left for the next read. */
static void
wj_input(struct wjbot *w, uint8_t *p, size_t len, uint64_t now)
{
	uint32_t gen = w->gen;
	size_t off = 0, used = 0, mlen;
	enum wsconn_status s;
	uint8_t *msg;

	if (w->state == WJ_UPGRADING) {
		s = wsconn_handshake(w->ws, p, len, &used);
		if (s == WSCONN_MORE) {
			w->inlen = 0; /* wsconn keeps the answer */
			return;
		}
		if (s == WSCONN_REFUSED) {
			wj_refused(w);
			return;
		}
		if (s != WSCONN_OK) {
			wj_malformed(w);
			return;
		}
		w->state = WJ_HELLO;
		wj_request(w, NULL, 0, "{\"type\":\"hello\",\"nick\":\"%s\"}", w->nick);
		off = used;
	}
	while (off < len) {
		s = wsconn_next(w->ws, p + off, len - off, &msg, &mlen, &used);
		off += used;
		wj_take_ctl(w);
		if (s == WSCONN_MORE)
			break;
		if (s == WSCONN_BAD) {
			wj_malformed(w);
			return;
		}
		if (s == WSCONN_CLOSED) {
			wj_closed(w);
			return;
		}
		wj_object(w, (const char *)msg, mlen, now);
		if (w->fd < 0 || w->gen != gen)
			return; /* closed: these bytes are no longer wanted */
	}
	if (off == len) {
		w->inlen = 0;
		return;
	}
	if (p != w->in) {
		if (w->incap < len - off) {
			w->incap = len - off > WJ_IN_MIN ? len - off : WJ_IN_MIN;
			w->in = wj_alloc(w->in, w->incap);
		}
		memcpy(w->in, p + off, len - off);
	} else if (off) {
		memmove(w->in, w->in + off, len - off);
	}
	w->inlen = len - off;
}

/* Read what w's socket holds: into the shared buffer, or after what w
 * kept. */
static void
wj_read(struct wjbot *w)
{
	ssize_t n;

	if (w->inlen) {
		if (w->incap - w->inlen < WJ_IN_MIN) {
			if (w->incap >= WJ_IN_MAX) {
				wj_malformed(w); /* a message beyond any chatd sends */
				return;
			}
			w->incap *= 2;
			w->in = wj_alloc(w->in, w->incap);
		}
		n = read(w->fd, w->in + w->inlen, w->incap - w->inlen);
	} else {
		n = read(w->fd, J.scratch, J.scratch_len);
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			swarm_lost(w->b, errno == ECONNRESET ? WIRE_R_RESET : WIRE_R_CLOSED);
		return;
	}
	if (n == 0) {
		swarm_lost(w->b, w->bye ? (uint8_t)(w->bye - 1) : WIRE_R_CLOSED);
		return;
	}
	if (w->inlen)
		wj_input(w, w->in, w->inlen + (size_t)n, now_ns());
	else
		wj_input(w, J.scratch, (size_t)n, now_ns());
}

/* w's socket: connected, readable or writable. */
static void
io_cb(struct ev_loop *l, ev_io *io, int revents)
{
	struct wjbot *w = (struct wjbot *)(void *)io;

	(void)l;
	if (w->state == WJ_CONNECTING && (revents & EV_WRITE)) {
		int err = 0;
		socklen_t el = sizeof(err);
		size_t n;

		if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			swarm_connect_failed(w->b);
			return;
		}
		w->state = WJ_UPGRADING;
		n = wsconn_request(w->ws, swarm_host(w->b),
		                   (char *)wj_reserve(w, WSCONN_REQUEST_MAX));
		if (n == 0)
			abort(); /* the host is bounded: the request always fits */
		w->outlen += n;
		wj_flush(w);
		return;
	}
	if (revents & EV_READ)
		wj_read(w);
	if (w->fd >= 0 && (revents & EV_WRITE))
		wj_flush(w);
}

/* ---- the transport ---- */

/* One connection, whatever its rooms. */
static unsigned
wsjbot_fds(unsigned nrooms)
{
	(void)nrooms;
	return 1;
}

/* A chatd.json bot for b, in the nrooms rooms rooms[] (their numbers). */
static void *
wsjbot_create(struct bot *b, unsigned nrooms, const unsigned *rooms)
{
	struct wjbot *w = wj_alloc(NULL, sizeof(*w));

	memset(w, 0, sizeof(*w));
	w->b = b;
	w->fd = -1;
	w->ws = wsconn_new(WSCONN_MESSAGES);
	w->nrooms = nrooms;
	w->rooms = wj_alloc(NULL, (nrooms ? nrooms : 1) * sizeof(*w->rooms));
	memcpy(w->rooms, rooms, nrooms * sizeof(*w->rooms));
	return w;
}

/* Close w's connection (with an RST when reset, as churn does). */
static void
wsjbot_close(void *t, int reset)
{
	struct wjbot *w = t;

	if (w->fd >= 0) {
		if (reset) {
			struct linger lg = {1, 0};

			(void)setsockopt(w->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		ev_io_stop(J.loop, &w->io);
		close(w->fd);
		w->fd = -1;
	}
	w->state = WJ_CLOSED;
	w->want_write = 0;
	w->inlen = 0;
	w->outlen = 0;
	w->bye = 0;
}

static void
wsjbot_destroy(void *t)
{
	struct wjbot *w = t;

	wsjbot_close(w, 0);
	wsconn_free(w->ws);
	free(w->rooms);
	free(w->out);
	free(w->in);
	free(w);
}

/* Connect and upgrade; hello once the 101 is read. */
static void
wsjbot_connect(void *t, const char *nick)
{
	struct wjbot *w = t;
	uint8_t rnd[20];
	int fd;

	snprintf(w->nick, sizeof(w->nick), "%s", nick);
	w->state = WJ_CONNECTING;
	if ((fd = swarm_dial(w->b)) < 0) {
		swarm_connect_failed(w->b);
		return;
	}
	swarm_random(rnd, sizeof(rnd));
	wsconn_reset(w->ws, rnd);
	w->fd = fd;
	w->gen++;
	w->inlen = w->outlen = 0;
	w->bye = 0;
	/* Writable means connected; wj_arm() drops EV_WRITE once it is. */
	w->want_write = 1;
	ev_io_init(&w->io, io_cb, fd, EV_READ | EV_WRITE);
	ev_io_start(J.loop, &w->io);
}

static int
wsjbot_up(const void *t)
{
	const struct wjbot *w = t;

	return w->state != WJ_CLOSED;
}

/* Join room k, with "cursor" when have. */
static void
wsjbot_join(void *t, unsigned k, int have, uint64_t epoch, uint64_t seq)
{
	struct wjbot *w = t;

	if (have)
		wj_request(w, NULL, 0,
		           "{\"type\":\"join\",\"room\":\"r%u\",\"cursor\":\"%llu-%llu\"}",
		           w->rooms[k], (unsigned long long)epoch, (unsigned long long)seq);
	else
		wj_request(w, NULL, 0, "{\"type\":\"join\",\"room\":\"r%u\"}", w->rooms[k]);
}

static void
wsjbot_part(void *t, unsigned k)
{
	struct wjbot *w = t;

	wj_request(w, NULL, 0, "{\"type\":\"part\",\"room\":\"r%u\"}", w->rooms[k]);
}

static void
wsjbot_say(void *t, unsigned k, uint32_t ref, const char *text, size_t n)
{
	struct wjbot *w = t;

	wj_request(w, text, n, "{\"type\":\"say\",\"room\":\"r%u\",\"ref\":%u,\"text\":\"",
	           w->rooms[k], ref);
}

static void
wsjbot_direct(void *t, const char *nick, uint32_t ref, const char *text, size_t n)
{
	struct wjbot *w = t;

	wj_request(w, text, n, "{\"type\":\"msg\",\"nick\":\"%.32s\",\"ref\":%u,\"text\":\"", nick,
	           ref);
}

/* A ping: chatd answers in order, so its pong follows all sent before. */
static int
wsjbot_barrier(void *t)
{
	struct wjbot *w = t;

	if (w->state != WJ_UP)
		return 0;
	wj_request(w, NULL, 0, "{\"type\":\"ping\",\"data\":\"%s\"}", WJ_BARRIER);
	return 1;
}

void
wsjbot_setup(struct ev_loop *loop, uint8_t *scratch, size_t scratch_len)
{
	J.loop = loop;
	J.scratch = scratch;
	J.scratch_len = scratch_len;
}

void
wsjbot_teardown(void)
{
	free(J.text);
	J.text = NULL;
	J.text_cap = 0;
}

const struct wsjbot_stats *
wsjbot_stats(void)
{
	return &J.st;
}

const struct swarm_transport wsjbot_transport = {
        .name = "ws-json",
        .reads_own = 0,
        .fds = wsjbot_fds,
        .create = wsjbot_create,
        .destroy = wsjbot_destroy,
        .connect = wsjbot_connect,
        .up = wsjbot_up,
        .close = wsjbot_close,
        .join = wsjbot_join,
        .part = wsjbot_part,
        .say = wsjbot_say,
        .direct = wsjbot_direct,
        .churn = NULL,
        .barrier = wsjbot_barrier,
        .end = NULL,
        .ending = NULL,
        .flush = wsjbot_flush,
};
