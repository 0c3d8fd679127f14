/*
 * HTTP bots.  Each has a session and its links (connections): the command
 * link, which carries sign-in, joins with their history reads, leaves and
 * sends, pipelined and answered in order; and its receive links, one event
 * stream or one long poll per room plus one on its mailbox.  A link owns
 * its requests: their bytes, queued, and a FIFO saying what each was, so
 * that the answer to the oldest finds its meaning.  A link carries at most
 * HB_LINK_REQUESTS requests (chatd closes a connection after its
 * http-max-requests); then, or when an answer says "Connection: close", it
 * is replaced and what it had not had answered goes again on the next.
 *
 * Reading is strict: a malformed answer or event is counted and ends the
 * bot (swarm_lost()).  Events and acknowledgements are scanned without
 * allocating (jscan.c); what the scanner leaves, jansson reads.
 *
 * Room order across links: a join answers the room's last sequence L, and
 * the history read that follows it on the command link gives what the bot
 * missed up to L; the stream brings what comes after L.  While a join's
 * history is outstanding, the stream stops at the first message of that
 * room (paused) and goes on once the history has been checked, so that
 * the core sees each room's numbers in order.  A stream resumed with
 * Last-Event-ID replays what its rooms' rings hold after that id, which
 * may include messages from before the bot's latest join (up to L): those
 * the history read has already given, and they are skipped, counted.
 */
#include "swarm/httpbot.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chatd/wire.h"
#include "swarm/hwire.h"
#include "swarm/jevent.h"
#include "swarm/jscan.h"
#include "swarm/swarm.h"

#define HB_IN_MIN        ((size_t)16 * 1024) /* a link's buffer at first, and kept free for a read */
#define HB_IN_MAX        ((size_t)64 << 20)  /* the largest answer: a poll of a deep history ring */
#define HB_LINK_REQUESTS 1000u /* requests a connection carries (chatd's http-max-requests) */
#define HB_WAIT          30    /* seconds a long poll may be held */
#define HB_RECONNECT     0.2   /* seconds before a dropped receive link comes back */
#define HB_RETRIES       3     /* attempts at a receive link before the bot gives up */
#define HB_TOKEN_MAX     64
#define HB_NICK_MAX      24
#define HB_REQ_HEAD      640 /* bytes of a request's head, at most */
#define HB_BARRIER       "swarm-barrier"

enum hlink_role {
	HL_CMD,
	HL_STREAM, /* GET /api/v1/events */
	HL_EVENTS, /* GET /api/v1/me/events?wait= */
	HL_ROOM,   /* GET /api/v1/rooms/{room}/messages?wait= */
};

enum hlink_state {
	HL_CLOSED,
	HL_CONNECTING,
	HL_OPEN,
};

/* What a request was, for its answer. */
enum hreq_kind {
	HQ_SESSION,
	HQ_JOIN,
	HQ_HISTORY,
	HQ_LEAVE,
	HQ_SAY,
	HQ_DIRECT,
	HQ_BARRIER,
	HQ_END,     /* DELETE /api/v1/session */
	HQ_RECEIVE, /* a receive link's stream or poll */
};

struct hreq {
	uint8_t kind;
	uint32_t arg; /* member index, or the core's ref of a message */
	uint32_t len; /* bytes of the request */
};

/* One connection of a bot's. */
struct hlink {
	ev_io io; /* first: link_cb() finds the link from it */
	struct hbot *h;
	int fd;
	uint8_t role;
	uint8_t state;
	uint8_t want_write;
	uint8_t streaming; /* the head of an event stream has been read */
	uint8_t paused;    /* the stream waits for a join's history */
	uint8_t dirty;
	uint8_t tries;    /* failed attempts since it last connected */
	uint32_t k;       /* HL_ROOM: the member index */
	uint32_t gen;     /* connections made: bytes of an older one are not read */
	unsigned carried; /* requests begun on this connection */
	char *out;        /* the bytes of the queued requests, oldest first */
	size_t outlen, outcap;
	size_t outsent;     /* of them, written */
	size_t begun_bytes; /* of them, those of the requests begun */
	struct hreq *q;     /* a ring: the queued requests, oldest first */
	size_t qhead, qlen, qcap;
	size_t qbegun; /* of them, those begun on this connection */
	char *in;      /* bytes read and not yet used */
	size_t inlen, incap;
	struct hlink *next_dirty;
};

/* A room of the bot's, as its HTTP side sees it. */
enum hroom_state {
	HR_OUT,
	HR_JOINING, /* join and history read outstanding */
	HR_FAILED,  /* the join was refused: its history read is ignored */
	HR_IN,
	HR_LEAVING,
};

struct hroom {
	unsigned room;
	uint8_t state;
	uint8_t overflow;            /* a resumed stream said the ring lost some of this room */
	uint64_t epoch;              /* of the latest join */
	uint64_t last;               /* the room's last sequence at that join */
	uint64_t cur_epoch, cur_seq; /* poll mode: the cursor of the next poll */
};

struct hbot {
	struct bot *b;
	char nick[HB_NICK_MAX];
	char token[HB_TOKEN_MAX + 1];
	uint8_t up;          /* a session is being made or held */
	uint8_t session;     /* it has its token */
	uint8_t registered;  /* the core was told (swarm_registered()) */
	uint8_t stream_seen; /* its stream has been open: reopen it with Last-Event-ID */
	uint8_t resumed;     /* the stream now open was resumed */
	uint8_t barrier;     /* 1: its barrier sent; 2: arrived, rooms not yet caught up */
	uint8_t recv_down;   /* churn: receive links wait for the timer */
	uint8_t ending;      /* its session's DELETE is outstanding */
	uint64_t last_id;    /* stream: newest event id read; poll: the mailbox's cursor */
	ev_timer timer;      /* receive links' reconnection */
	struct hlink cmd;
	struct hlink *recv; /* SSE: the stream; poll: the mailbox, then one per room */
	unsigned nrecv;
	struct hroom *rooms;
	unsigned nrooms;
};

static struct {
	struct ev_loop *loop;
	enum httpbot_mode mode;
	uint8_t *scratch;
	size_t scratch_len;
	struct hlink *dirty;
	unsigned ending;    /* bots whose DELETE is outstanding */
	struct jevent *evs; /* the events of the answer being read */
	size_t nevs, capevs;
	struct httpbot_stats st;
} H;

static void link_open(struct hlink *k);
static void link_broken(struct hlink *k, uint8_t reason);
static void link_next(struct hlink *k);
static void link_input(struct hlink *k, const char *p, size_t len, uint64_t now);
static void hbot_close(struct hbot *h);

/* realloc(), or the end of the run: the swarm has no memory to spare. */
static void *
hb_alloc(void *p, size_t n)
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

/* ---- links: connecting, queueing, writing ---- */

/* Watch k for what it waits for: reading unless paused, writing while
 * bytes of begun requests are unsent (or while connecting). */
static void
link_arm(struct hlink *k)
{
	int ev = (k->paused ? 0 : EV_READ) |
	         (k->state == HL_CONNECTING || k->want_write ? EV_WRITE : 0);

	ev_io_stop(H.loop, &k->io);
	ev_io_set(&k->io, k->fd, ev);
	if (ev)
		ev_io_start(H.loop, &k->io);
}

/* Write k before the loop sleeps. */
static void
link_mark(struct hlink *k)
{
	if (!k->dirty) {
		k->dirty = 1;
		k->next_dirty = H.dirty;
		H.dirty = k;
	}
}

/* Close k's connection (reset: with an RST, as churn does).  Its queue
 * stays for the next connection on the command link; a receive link's
 * one request goes with it. */
static void
link_shut(struct hlink *k, int reset)
{
	if (k->fd >= 0) {
		if (reset) {
			struct linger lg = {1, 0};

			(void)setsockopt(k->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		ev_io_stop(H.loop, &k->io);
		close(k->fd);
		k->fd = -1;
	}
	k->state = HL_CLOSED;
	k->streaming = 0;
	k->paused = 0;
	k->want_write = 0;
	k->inlen = 0;
	if (k->role != HL_CMD) {
		k->qlen = 0;
		k->outlen = 0;
	}
	k->qbegun = 0;
	k->begun_bytes = 0;
	k->outsent = 0;
}

/* The i-th oldest request queued on k. */
static struct hreq *
link_req(struct hlink *k, size_t i)
{
	return &k->q[(k->qhead + i) % k->qcap];
}

/* Room for n more bytes of requests. */
static char *
link_reserve(struct hlink *k, size_t n)
{
	if (k->outcap - k->outlen < n) {
		size_t cap = k->outcap ? k->outcap * 2 : 4096;

		while (cap - k->outlen < n)
			cap *= 2;
		k->out = hb_alloc(k->out, cap);
		k->outcap = cap;
	}
	return k->out + k->outlen;
}

/* Queue the request of len bytes just written at the end of k's bytes. */
static void
link_push(struct hlink *k, uint8_t kind, uint32_t arg, size_t len)
{
	if (k->qlen == k->qcap) {
		size_t cap = k->qcap ? k->qcap * 2 : 8, i;
		struct hreq *v = hb_alloc(NULL, cap * sizeof(*v));

		for (i = 0; i < k->qlen; i++)
			v[i] = *link_req(k, i);
		free(k->q);
		k->q = v;
		k->qcap = cap;
		k->qhead = 0;
	}
	*link_req(k, k->qlen) = (struct hreq){kind, arg, (uint32_t)len};
	k->qlen++;
	k->outlen += len;
	link_mark(k);
	if (k->state == HL_CLOSED)
		link_open(k); /* a command link opens on demand */
}

/* The oldest request, answered: forget it and its bytes. */
static struct hreq
link_pop(struct hlink *k)
{
	struct hreq r = *link_req(k, 0);
	size_t len = r.len < k->outlen ? r.len : k->outlen;

	memmove(k->out, k->out + len, k->outlen - len);
	k->outlen -= len;
	k->outsent = k->outsent > len ? k->outsent - len : 0;
	k->begun_bytes = k->begun_bytes > len ? k->begun_bytes - len : 0;
	k->qhead = (k->qhead + 1) % k->qcap;
	k->qlen--;
	if (k->qbegun)
		k->qbegun--;
	return r;
}

/*
 * Queue a request on k: method and path, the token when there is one, the
 * extra header lines (each ending CRLF, or NULL), and a JSON body
 * {"field":"text"} when field is not NULL ("Content-Length: 0" for a POST
 * without one).
 */
static void
link_request(struct hlink *k, uint8_t kind, uint32_t arg, const char *method, const char *path,
             const char *extra, const char *field, const char *text, size_t tn)
{
	struct hbot *h = k->h;
	size_t head_cap = HB_REQ_HEAD + strlen(path) + (extra ? strlen(extra) : 0), blen = 0, n;
	char length[96] = "";
	char *p;
	int w;

	if (field) {
		/* The body's length goes first: count its escapes. */
		blen = strlen(field) + 7 + jevent_escaped_len(text, tn);
		snprintf(length, sizeof(length),
		         "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
	} else if (strcmp(method, "POST") == 0) {
		snprintf(length, sizeof(length), "Content-Length: 0\r\n");
	}
	p = link_reserve(k, head_cap + blen);
	w = snprintf(p, head_cap, "%s %s HTTP/1.1\r\nHost: %s\r\n%s%s%s%s%s\r\n", method, path,
	             swarm_host(h->b), h->session ? "Authorization: Bearer " : "",
	             h->session ? h->token : "", h->session ? "\r\n" : "", extra ? extra : "",
	             length);
	if (w < 0 || (size_t)w >= head_cap)
		abort(); /* HB_REQ_HEAD bounds every head this file makes */
	n = (size_t)w;
	if (field) {
		n += (size_t)sprintf(p + n, "{\"%s\":\"", field);
		n += jevent_escape(p + n, text, tn);
		p[n++] = '"';
		p[n++] = '}';
	}
	link_push(k, kind, arg, n);
}

/* Write the requests k may begin: at most HB_LINK_REQUESTS on one
 * connection, so that chatd never closes it with requests unread. */
static void
link_flush(struct hlink *k)
{
	ssize_t n;

	if (k->fd < 0 || k->state != HL_OPEN)
		return;
	while (k->qbegun < k->qlen && k->carried < HB_LINK_REQUESTS) {
		k->begun_bytes += link_req(k, k->qbegun)->len;
		k->qbegun++;
		k->carried++;
		H.st.requests++;
	}
	if (k->outsent < k->begun_bytes) {
		n = write(k->fd, k->out + k->outsent, k->begun_bytes - k->outsent);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				link_broken(k, WIRE_R_RESET);
				return;
			}
			n = 0;
		}
		k->outsent += (size_t)n;
	}
	if ((k->outsent < k->begun_bytes) != k->want_write) {
		k->want_write = k->outsent < k->begun_bytes;
		link_arm(k);
	}
}

/* Write what the bots queued; before the loop sleeps. */
static void
httpbot_flush(void)
{
	while (H.dirty) {
		struct hlink *k = H.dirty;

		H.dirty = k->next_dirty;
		k->dirty = 0;
		link_flush(k);
	}
}

/* ---- receive links ---- */

/* The name of room k ("r12") into buf. */
static const char *
room_name(const struct hbot *h, unsigned k, char *buf, size_t n)
{
	snprintf(buf, n, "r%u", h->rooms[k].room);
	return buf;
}

/* Should receive link k be open now? */
static int
recv_wanted(const struct hlink *k)
{
	const struct hbot *h = k->h;

	if (!h->session || h->recv_down)
		return 0;
	if (k->role == HL_ROOM)
		return h->rooms[k->k].state == HR_IN;
	return 1;
}

/* The request a receive link makes when it (re)connects or after an
 * answer: its stream, or its next long poll. */
static void
recv_request(struct hlink *k)
{
	struct hbot *h = k->h;
	char path[160], extra[64], name[16];

	switch (k->role) {
	case HL_STREAM:
		/* Reopened, it resumes after the last event read (0 included:
		 * what its rooms hold is then all new to it). */
		if (h->stream_seen)
			snprintf(extra, sizeof(extra), "Last-Event-ID: %llu\r\n",
			         (unsigned long long)h->last_id);
		link_request(k, HQ_RECEIVE, 0, "GET", "/api/v1/events",
		             h->stream_seen ? extra : NULL, NULL, NULL, 0);
		h->resumed = h->stream_seen;
		break;
	case HL_EVENTS:
		snprintf(path, sizeof(path), "/api/v1/me/events?after=%llu&wait=%d",
		         (unsigned long long)h->last_id, HB_WAIT);
		link_request(k, HQ_RECEIVE, 0, "GET", path, NULL, NULL, NULL, 0);
		break;
	default: {
		const struct hroom *r = &h->rooms[k->k];

		snprintf(path, sizeof(path), "/api/v1/rooms/%s/messages?after=%llu-%llu&wait=%d",
		         room_name(h, k->k, name, sizeof(name)), (unsigned long long)r->cur_epoch,
		         (unsigned long long)r->cur_seq, HB_WAIT);
		link_request(k, HQ_RECEIVE, 0, "GET", path, NULL, NULL, NULL, 0);
		break;
	}
	}
}

/* Open every receive link that should be and is not. */
static void
recv_open(struct hbot *h)
{
	unsigned i;

	for (i = 0; i < h->nrecv && h->up; i++)
		if (h->recv[i].state == HL_CLOSED && recv_wanted(&h->recv[i]))
			link_open(&h->recv[i]);
}

/* The receive links come back after a churn drop or a failure. */
static void
timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct hbot *h = (struct hbot *)(void *)((char *)w - offsetof(struct hbot, timer));

	(void)l;
	(void)revents;
	h->recv_down = 0;
	if (swarm_active())
		recv_open(h);
}

/* (Re)start h's one timer; ev_timer_set() wants it stopped. */
static void
timer_arm(struct hbot *h, double delay)
{
	ev_timer_stop(H.loop, &h->timer);
	ev_timer_set(&h->timer, delay, 0);
	ev_timer_start(H.loop, &h->timer);
}

/* ---- answers: parsing ---- */

/* One more event in H.evs, zeroed. */
static struct jevent *
evs_add(void)
{
	if (H.nevs == H.capevs) {
		H.capevs = H.capevs ? H.capevs * 2 : 64;
		H.evs = hb_alloc(H.evs, H.capevs * sizeof(*H.evs));
	}
	memset(&H.evs[H.nevs], 0, sizeof(H.evs[0]));
	return &H.evs[H.nevs++];
}

/*
 * Read an answer object body[0, len): its fields top[0, ntop), of which
 * top[arr] is its array of events, read into H.evs.  The scanner reads it
 * when it can, jansson when it cannot (a summary, an escape): *root then
 * holds what the fields and events point into, to release whatever this
 * returns.  -1 when malformed.
 */
static int
answer_parse(const char *body, size_t len, struct jscan_field *top, size_t ntop, size_t arr,
             json_t **root)
{
	enum jscan_result r = JSCAN_NO;
	struct jscan_field f[JEV_F_N];
	size_t pos = 0, i;
	json_t *a, *v;

	*root = NULL;
	H.nevs = 0;
	if (jscan_object(body, len, top, ntop) == JSCAN_OK && top[arr].type == JSCAN_ARRAY) {
		for (;;) {
			struct jevent *ev;

			jevent_fields_init(f);
			if ((r = jscan_each(top[arr].s, top[arr].n, &pos, f, JEV_F_N)) != JSCAN_OK)
				break;
			ev = evs_add();
			if (jevent_from_fields(f, ev) < 0 || ev->type == JEV_SUMMARY) {
				r = JSCAN_NO; /* jansson says what is wrong, or reads the summary */
				break;
			}
		}
		if (r == JSCAN_END)
			return 0;
	}
	H.st.fallback_parses++;
	H.nevs = 0;
	if ((*root = jevent_parse_object(body, len)) == NULL)
		return -1;
	jevent_fields_from_json(*root, top, ntop);
	if (!json_is_array(a = json_object_get(*root, top[arr].key)))
		return -1;
	top[arr].type = JSCAN_ARRAY;
	json_array_foreach(a, i, v)
	{
		if (jevent_of_json(v, evs_add()) < 0)
			return -1;
	}
	return 0;
}

/* The member index of the room named [p, p + n), or -1. */
static int
room_index(const struct hbot *h, const char *p, size_t n)
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
	for (k = 0; k < h->nrooms; k++)
		if (h->rooms[k].room == v)
			return (int)k;
	return -1;
}

/* Is [p, p + n) h's own nick? */
static int
is_me(const struct hbot *h, const char *p, size_t n)
{
	return n == strlen(h->nick) && memcmp(p, h->nick, n) == 0;
}

/* ---- answers: acting on them ---- */

/* Release the bot: malformed input. */
static void
malformed(struct hbot *h)
{
	swarm_malformed();
	swarm_lost(h->b, WIRE_R_PROTOCOL_ERROR);
}

/*
 * An error answer to a request of the framed type it stands for: counted
 * by the core under its code and text.  Its code, or -1 when the bot is
 * gone (401: its session is no more; or the answer was not an error
 * object), in which case the caller must stop.
 */
static int
refused(struct hbot *h, uint32_t ref, uint8_t type, int status, const char *body, size_t len)
{
	int c = jevent_refusal(h->b, ref, type, status, body, len);

	if (c < 0) {
		malformed(h);
		return -1;
	}
	if (status == 401) {
		swarm_lost(h->b, WIRE_R_TIMEOUT);
		return -1;
	}
	return c;
}

/* The stream may go on: the join it waited for is done. */
static void
stream_unpause(struct hbot *h)
{
	struct hlink *k = &h->recv[0];

	if (H.mode == HTTPBOT_SSE && k->paused && k->fd >= 0) {
		k->paused = 0;
		link_arm(k);
		/* What it holds, now; the callers hold no state of the stream's. */
		if (k->inlen)
			link_input(k, k->in, k->inlen, now_ns());
	}
}

/* h's barrier is back: tell the core. */
static void
barrier_done(struct hbot *h)
{
	h->barrier = 0;
	swarm_barrier_done(h->b);
}

/* Room k is left (confirmed): the core rejoins it later. */
static void
room_left(struct hbot *h, unsigned k)
{
	h->rooms[k].state = HR_OUT;
	if (H.mode == HTTPBOT_POLL)
		link_shut(&h->recv[1 + k], 1);
	swarm_parted(h->b, k);
}

/* Hand a message to the core. */
static void
deliver(struct hbot *h, const struct jevent *ev, uint8_t flags, uint64_t now)
{
	struct swarm_msg m = {flags,        ev->room, ev->room_len, ev->from,
	                      ev->from_len, ev->text, ev->text_len, ev->seq};

	swarm_deliver(h->b, &m, now);
}

/* An event that is not a room message (a direct message, presence), from
 * a stream or the mailbox. */
static void
other_event(struct hbot *h, const struct jevent *ev, uint64_t now)
{
	int k;

	switch (ev->type) {
	case JEV_DIRECT:
		if (is_me(h, ev->from, ev->from_len) && ev->text_len == strlen(HB_BARRIER) &&
		    memcmp(ev->text, HB_BARRIER, ev->text_len) == 0) {
			if (h->barrier == 1 && H.mode == HTTPBOT_SSE)
				barrier_done(h);
			else if (h->barrier == 1)
				h->barrier = 2;
			if (h->barrier == 2 && swarm_caught_up(h->b))
				barrier_done(h);
			return;
		}
		deliver(h, ev, SWARM_MSG_DIRECT, now);
		break;
	case JEV_PRESENCE:
		if (ev->kind == WIRE_P_DROP)
			swarm_presence(WIRE_P_DROP, ev->reason, ev->nick, ev->nick_len);
		/* A stream's own part is the confirmation, in order with the
		 * room's messages (a poller has its answer to the leave). */
		if (ev->kind == WIRE_P_PART && H.mode == HTTPBOT_SSE &&
		    is_me(h, ev->nick, ev->nick_len) &&
		    (k = room_index(h, ev->room, ev->room_len)) >= 0 &&
		    h->rooms[k].state == HR_LEAVING)
			room_left(h, (unsigned)k);
		break;
	case JEV_SUMMARY:
		jevent_summary_drops(ev);
		break;
	case JEV_MESSAGE: /* not in a mailbox */
		malformed(h);
		break;
	default:
		swarm_unknown();
		break;
	}
}

/* The session's answer: sign in, then open the receive side. */
static void
session_answer(struct hbot *h, const struct hwire_head *hd, const char *body, size_t len)
{
	struct jscan_field f[] = {JSCAN_FIELD("token"), JSCAN_FIELD("nick")};
	json_t *root;
	size_t i;

	if (hd->status != 201) {
		int c = refused(h, 0, WIRE_HELLO, hd->status, body, len);

		if (c == WIRE_E_NICK_TAKEN) {
			/* An older session of this bot's may still hold it. */
			snprintf(h->nick, sizeof(h->nick), "%s", swarm_renick(h->b));
			h->session = 0;
			link_request(&h->cmd, HQ_SESSION, 0, "POST", "/api/v1/session", NULL,
			             "nick", h->nick, strlen(h->nick));
		} else if (c >= 0) {
			swarm_lost(h->b, WIRE_R_CLOSED);
		}
		return;
	}
	/* The token goes into every header: hex digits only, within bounds. */
	if (jevent_object(body, len, f, 2, &root, &H.st.fallback_parses) < 0 ||
	    f[0].type != JSCAN_STR || f[0].n == 0 || f[0].n > HB_TOKEN_MAX ||
	    !jevent_str_is(&f[1], h->nick)) {
		json_decref(root);
		malformed(h);
		return;
	}
	for (i = 0; i < f[0].n; i++)
		if (!((f[0].s[i] >= '0' && f[0].s[i] <= '9') ||
		      (f[0].s[i] >= 'a' && f[0].s[i] <= 'f')))
			break;
	if (i < f[0].n) {
		json_decref(root);
		malformed(h);
		return;
	}
	memcpy(h->token, f[0].s, f[0].n);
	h->token[f[0].n] = '\0';
	json_decref(root);
	h->session = 1;
	if (H.mode == HTTPBOT_SSE) {
		link_open(&h->recv[0]); /* registered once its stream is open */
		return;
	}
	link_open(&h->recv[0]);
	h->registered = 1;
	swarm_registered(h->b);
}

/* A join's answer: the room's position now, for its history read. */
static void
join_answer(struct hbot *h, unsigned k, const struct hwire_head *hd, const char *body, size_t len)
{
	struct jscan_field f[] = {JSCAN_FIELD("room"), JSCAN_FIELD("epoch"),
	                          JSCAN_FIELD("last_seq")};
	struct hroom *r = &h->rooms[k];
	char name[16];
	json_t *root;

	if (hd->status != 200) {
		if (refused(h, 0, WIRE_JOIN, hd->status, body, len) >= 0)
			r->state = HR_FAILED;
		return;
	}
	if (jevent_object(body, len, f, 3, &root, &H.st.fallback_parses) < 0 ||
	    !jevent_str_is(&f[0], room_name(h, k, name, sizeof(name))) || f[1].type != JSCAN_INT ||
	    f[2].type != JSCAN_INT) {
		json_decref(root);
		malformed(h);
		return;
	}
	r->epoch = f[1].i;
	r->last = f[2].i;
	json_decref(root);
}

/* The history read after a join: what the room holds up to the join's
 * last sequence is history; the rest comes by the stream or the polls. */
static void
history_answer(struct hbot *h, unsigned k, const struct hwire_head *hd, const char *body,
               size_t len, uint64_t now)
{
	struct jscan_field top[] = {JSCAN_FIELD("room"), JSCAN_FIELD("messages"),
	                            JSCAN_FIELD("truncated"), JSCAN_FIELD("epoch_changed")};
	struct hroom *r = &h->rooms[k];
	uint8_t flags = 0;
	char name[16];
	json_t *root;
	size_t i;

	if (r->state == HR_FAILED) {
		r->state = HR_OUT; /* its join was refused, and counted */
		return;
	}
	if (hd->status != 200) {
		if (refused(h, 0, WIRE_JOIN, hd->status, body, len) >= 0)
			r->state = HR_OUT;
		return;
	}
	room_name(h, k, name, sizeof(name));
	if (answer_parse(body, len, top, 4, 1, &root) < 0 || !jevent_str_is(&top[0], name) ||
	    !jevent_is_bool(&top[2]) || !jevent_is_bool(&top[3])) {
		json_decref(root);
		malformed(h);
		return;
	}
	for (i = 0; i < H.nevs; i++) {
		const struct jevent *ev = &H.evs[i];

		if (ev->type != JEV_MESSAGE || ev->epoch != r->epoch) {
			json_decref(root);
			malformed(h);
			return;
		}
		if (ev->seq <= r->last)
			deliver(h, ev, SWARM_MSG_HISTORY, now);
	}
	if (top[2].type == JSCAN_TRUE)
		flags |= WIRE_HIST_TRUNCATED;
	if (top[3].type == JSCAN_TRUE)
		flags |= WIRE_HIST_EPOCH_CHANGED;
	json_decref(root);
	r->state = HR_IN;
	r->overflow = 0;
	r->cur_epoch = r->epoch;
	r->cur_seq = r->last;
	swarm_joined(h->b, k, r->epoch, r->last, flags);
	if (H.mode == HTTPBOT_POLL)
		recv_open(h);
	else
		stream_unpause(h);
}

/* A send's answer: its sequence number is the acknowledgement. */
static void
say_answer(struct hbot *h, uint32_t ref, const struct hwire_head *hd, const char *body, size_t len)
{
	struct jscan_field f[] = {JSCAN_FIELD("seq"), JSCAN_FIELD("time"), JSCAN_FIELD("id")};
	json_t *root;

	if (hd->status != 201) {
		refused(h, ref, WIRE_SAY, hd->status, body, len);
		return;
	}
	if (jevent_object(body, len, f, 3, &root, &H.st.fallback_parses) < 0 ||
	    f[0].type != JSCAN_INT || f[1].type != JSCAN_INT || f[2].type != JSCAN_INT) {
		json_decref(root);
		malformed(h);
		return;
	}
	json_decref(root);
	swarm_ack(h->b, ref, f[0].i);
}

/* A direct message's answer (the barrier's too). */
static void
direct_answer(struct hbot *h, const struct hreq *q, const struct hwire_head *hd, const char *body,
              size_t len)
{
	struct jscan_field f[] = {JSCAN_FIELD("time"), JSCAN_FIELD("id")};
	json_t *root;

	if (hd->status != 201) {
		if (refused(h, q->kind == HQ_DIRECT ? q->arg : 0, WIRE_MSG, hd->status, body,
		            len) >= 0 &&
		    q->kind == HQ_BARRIER && h->barrier)
			barrier_done(h);
		return;
	}
	if (jevent_object(body, len, f, 2, &root, &H.st.fallback_parses) < 0 ||
	    f[0].type != JSCAN_INT || f[1].type != JSCAN_INT) {
		json_decref(root);
		malformed(h);
		return;
	}
	json_decref(root);
	if (q->kind == HQ_DIRECT)
		swarm_ack(h->b, q->arg, 0);
}

/* A command's answer, by what the command was. */
static void
cmd_answer(struct hbot *h, const struct hreq *q, const struct hwire_head *hd, const char *body,
           size_t len, uint64_t now)
{
	switch (q->kind) {
	case HQ_SESSION:
		session_answer(h, hd, body, len);
		break;
	case HQ_JOIN:
		join_answer(h, q->arg, hd, body, len);
		break;
	case HQ_HISTORY:
		history_answer(h, q->arg, hd, body, len, now);
		break;
	case HQ_LEAVE:
		if (hd->status != 204)
			refused(h, 0, WIRE_PART, hd->status, body, len);
		else if (H.mode == HTTPBOT_POLL && h->rooms[q->arg].state == HR_LEAVING)
			room_left(h, q->arg);
		break;
	case HQ_SAY:
		say_answer(h, q->arg, hd, body, len);
		break;
	case HQ_END:
		if (hd->status != 204)
			refused(h, 0, WIRE_QUIT, hd->status, body, len);
		hbot_close(h);
		break;
	default:
		direct_answer(h, q, hd, body, len);
		break;
	}
}

/* A cursor "EPOCH-SEQ" (digits only), p[0, n), into its numbers; -1 if
 * it is not one. */
static int
cursor_parse(const char *p, size_t n, uint64_t *epoch, uint64_t *seq)
{
	uint64_t *v = epoch;
	size_t digits = 0, i;

	*epoch = *seq = 0;
	for (i = 0; i < n; i++) {
		if (p[i] == '-' && v == epoch && digits) {
			v = seq;
			digits = 0;
			continue;
		}
		if (p[i] < '0' || p[i] > '9' || ++digits > 19)
			return -1;
		*v = *v * 10 + (uint64_t)(p[i] - '0');
	}
	return v == seq && digits ? 0 : -1;
}

/* A long poll's answer on a room: its messages, then the cursor on. */
static void
room_answer(struct hlink *k, const char *body, size_t len, uint64_t now)
{
	struct jscan_field top[] = {JSCAN_FIELD("room"), JSCAN_FIELD("messages"),
	                            JSCAN_FIELD("next"), JSCAN_FIELD("truncated"),
	                            JSCAN_FIELD("epoch_changed")};
	struct hbot *h = k->h;
	struct hroom *r = &h->rooms[k->k];
	uint64_t e, s;
	char name[16];
	json_t *root;
	size_t i;

	room_name(h, k->k, name, sizeof(name));
	/* epoch_changed must be false: a room with members keeps its epoch. */
	if (answer_parse(body, len, top, 5, 1, &root) < 0 || !jevent_str_is(&top[0], name) ||
	    top[2].type != JSCAN_STR || cursor_parse(top[2].s, top[2].n, &e, &s) < 0 ||
	    !jevent_is_bool(&top[3]) || top[4].type != JSCAN_FALSE) {
		json_decref(root);
		malformed(h);
		return;
	}
	H.st.polls++;
	for (i = 0; i < H.nevs; i++) {
		const struct jevent *ev = &H.evs[i];

		if (ev->type != JEV_MESSAGE || ev->epoch != r->epoch) {
			json_decref(root);
			malformed(h);
			return;
		}
		/* Fallen behind the ring: the server's word for the gap. */
		if (i == 0 && top[3].type == JSCAN_TRUE && ev->seq > 0)
			swarm_skip(h->b, k->k, ev->seq - 1);
		deliver(h, ev, 0, now);
	}
	r->cur_epoch = e;
	r->cur_seq = s;
	json_decref(root);
	if (h->barrier == 2 && swarm_caught_up(h->b))
		barrier_done(h);
}

/* A long poll's answer on the mailbox. */
static void
events_answer(struct hlink *k, const char *body, size_t len, uint64_t now)
{
	struct jscan_field top[] = {JSCAN_FIELD("events"), JSCAN_FIELD("next"),
	                            JSCAN_FIELD("dropped")};
	struct hbot *h = k->h;
	json_t *root;
	size_t i;

	if (answer_parse(body, len, top, 3, 0, &root) < 0 || top[1].type != JSCAN_INT ||
	    top[1].i < h->last_id || top[2].type != JSCAN_INT) {
		json_decref(root);
		malformed(h);
		return;
	}
	H.st.polls++;
	H.st.overflow_dropped += top[2].i;
	h->last_id = top[1].i;
	for (i = 0; i < H.nevs && h->up; i++)
		other_event(h, &H.evs[i], now);
	json_decref(root);
}

/* ---- the event stream ---- */

enum step {
	STEP_OK,
	STEP_MORE,  /* incomplete: read more */
	STEP_PAUSE, /* the stream waits for a join */
	STEP_GONE,  /* the link or the bot is gone */
};

/* An overflow event: the rooms whose ring lost some of what we missed. */
static void
overflow_event(struct hbot *h, const struct hwire_event *e)
{
	json_t *o = jevent_parse_object(e->data, e->data_len), *rooms = json_object_get(o, "rooms"),
	       *v;
	json_t *dropped = json_object_get(o, "dropped");
	size_t i;

	if (o == NULL || !json_is_array(rooms) || !json_is_integer(dropped)) {
		json_decref(o);
		malformed(h);
		return;
	}
	H.st.overflow_dropped += (uint64_t)json_integer_value(dropped);
	json_array_foreach(rooms, i, v)
	{
		int k = json_is_string(v)
		                ? room_index(h, json_string_value(v), json_string_length(v))
		                : -1;

		if (k >= 0)
			h->rooms[k].overflow = 1;
	}
	json_decref(o);
}

/* A room message on the stream.  STEP_PAUSE while its room's history is
 * outstanding. */
static enum step
stream_message(struct hbot *h, const struct jevent *ev, uint64_t now)
{
	int k = room_index(h, ev->room, ev->room_len);

	if (k >= 0) {
		struct hroom *r = &h->rooms[k];

		if (r->state == HR_JOINING)
			return STEP_PAUSE;
		if (r->state == HR_IN && ev->seq <= r->last && h->resumed) {
			H.st.resume_replays++; /* given by the history read */
			return STEP_OK;
		}
		if (r->state == HR_IN && ev->epoch != r->epoch) {
			malformed(h);
			return STEP_GONE;
		}
		if (r->overflow) {
			r->overflow = 0;
			if (ev->seq > 0)
				swarm_skip(h->b, (unsigned)k, ev->seq - 1);
		}
	}
	deliver(h, ev, 0, now);
	return STEP_OK;
}

/* Read one event block of the stream from p[0, n). */
static enum step
stream_step(struct hlink *k, const char *p, size_t n, uint64_t now, size_t *used)
{
	struct hbot *h = k->h;
	struct hwire_event e;
	enum step r = STEP_OK;
	struct jevent ev;

	ev.root = NULL;
	switch (hwire_event(p, n, &e)) {
	case HWIRE_MORE:
		return STEP_MORE;
	case HWIRE_BAD:
		malformed(h);
		return STEP_GONE;
	default:
		break;
	}
	*used = e.size;
	if (e.comment)
		return STEP_OK; /* ": keep-alive" */
	if (e.name_len == 8 && memcmp(e.name, "overflow", 8) == 0) {
		overflow_event(h, &e);
		return h->up ? STEP_OK : STEP_GONE;
	}
	if (e.name_len == 3 && memcmp(e.name, "bye", 3) == 0) {
		swarm_lost(h->b, WIRE_R_SHUTDOWN);
		return STEP_GONE;
	}
	if (!((e.name_len == 7 && memcmp(e.name, "message", 7) == 0) ||
	      (e.name_len == 6 && memcmp(e.name, "direct", 6) == 0) ||
	      (e.name_len == 8 && memcmp(e.name, "presence", 8) == 0))) {
		swarm_unknown(); /* a later server's event: skipped */
		return STEP_OK;
	}
	if (!e.has_id ||
	    jevent_parse(e.data, e.data_len, e.name_len == 7, &ev, &H.st.fallback_parses) < 0 ||
	    ev.id != e.id || (ev.type == JEV_MESSAGE) != (e.name_len == 7) ||
	    (ev.type == JEV_DIRECT) != (e.name_len == 6)) {
		json_decref(ev.root);
		malformed(h);
		return STEP_GONE;
	}
	if (ev.type == JEV_MESSAGE)
		r = stream_message(h, &ev, now);
	else
		other_event(h, &ev, now);
	json_decref(ev.root);
	if (r == STEP_PAUSE) {
		*used = 0;
		k->paused = 1;
		link_arm(k);
		return r;
	}
	if (!h->up || k->fd < 0)
		return STEP_GONE;
	H.st.events++;
	if (e.id > h->last_id)
		h->last_id = e.id;
	return STEP_OK;
}

/* ---- reading ---- */

/* Read one answer from p[0, n). */
static enum step
answer_step(struct hlink *k, const char *p, size_t n, uint64_t now, size_t *used)
{
	struct hbot *h = k->h;
	struct hwire_head hd;
	int64_t blen;
	struct hreq q;

	switch (hwire_head(p, n, &hd)) {
	case HWIRE_MORE:
		return STEP_MORE;
	case HWIRE_BAD:
		malformed(h);
		return STEP_GONE;
	default:
		break;
	}
	if (k->qbegun == 0) {
		malformed(h); /* an answer to no request */
		return STEP_GONE;
	}
	if (hd.stream) {
		if (k->role != HL_STREAM || hd.status != 200) {
			malformed(h);
			return STEP_GONE;
		}
		link_pop(k);
		*used = hd.size;
		k->streaming = 1;
		H.st.answers++;
		if (h->stream_seen)
			H.st.stream_resumes++;
		h->stream_seen = 1;
		k->tries = 0;
		if (!h->registered) {
			h->registered = 1;
			swarm_registered(h->b);
		}
		return h->up ? STEP_OK : STEP_GONE;
	}
	blen = hd.status == 204 ? 0 : hd.length;
	if (blen < 0 || (uint64_t)blen > HB_IN_MAX || hd.status < 200) {
		malformed(h);
		return STEP_GONE;
	}
	if (n - hd.size < (uint64_t)blen)
		return STEP_MORE;
	*used = hd.size + (size_t)blen;
	q = link_pop(k);
	H.st.answers++;
	if (k->role == HL_CMD) {
		cmd_answer(h, &q, &hd, p + hd.size, (size_t)blen, now);
	} else if (hd.status != 200) {
		/* A receive request refused: the bot cannot hear any more. */
		if (refused(h, 0, 0, hd.status, p + hd.size, (size_t)blen) >= 0)
			swarm_lost(h->b, WIRE_R_CLOSED);
	} else if (k->role == HL_ROOM) {
		k->tries = 0;
		room_answer(k, p + hd.size, (size_t)blen, now);
	} else if (k->role == HL_EVENTS) {
		k->tries = 0;
		events_answer(k, p + hd.size, (size_t)blen, now);
	} else {
		malformed(h);
	}
	if (!h->up || k->fd < 0)
		return STEP_GONE;
	if (hd.close || (k->carried >= HB_LINK_REQUESTS && k->qbegun == 0)) {
		/* The connection has carried its share: the next one takes the
		 * rest (chatd read none of what followed a "close"). */
		H.st.reconnects += k->role == HL_CMD;
		link_shut(k, 0);
		if (k->qlen || (k->role != HL_CMD && recv_wanted(k)))
			link_open(k);
		return STEP_GONE;
	}
	if (k->role != HL_CMD)
		link_next(k);
	return STEP_OK;
}

/* After a receive link's answer: its next poll, or close it if its room
 * has been left meanwhile. */
static void
link_next(struct hlink *k)
{
	if (recv_wanted(k))
		recv_request(k);
	else
		link_shut(k, 0);
}

/* Act on p[0, len) read from k (p is the shared buffer or k's own), and
 * keep what is left for the next read. */
static void
link_input(struct hlink *k, const char *p, size_t len, uint64_t now)
{
	uint32_t gen = k->gen;
	size_t off = 0;

	while (off < len && !k->paused) {
		size_t used = 0;
		enum step r = k->streaming ? stream_step(k, p + off, len - off, now, &used)
		                           : answer_step(k, p + off, len - off, now, &used);

		if (k->fd < 0 || k->gen != gen)
			return; /* closed or replaced: these bytes are no longer wanted */
		if (r == STEP_MORE || r == STEP_PAUSE || r == STEP_GONE)
			break;
		off += used;
	}
	if (off == len) {
		k->inlen = 0;
		return;
	}
	if (p != k->in) {
		if (k->incap < len - off) {
			k->incap = len - off > HB_IN_MIN ? len - off : HB_IN_MIN;
			k->in = hb_alloc(k->in, k->incap);
		}
		memcpy(k->in, p + off, len - off);
	} else if (off) {
		memmove(k->in, k->in + off, len - off);
	}
	k->inlen = len - off;
}

/* Read what k's socket holds: into the shared buffer, or after what k kept. */
static void
link_read(struct hlink *k)
{
	ssize_t n;

	if (k->inlen) {
		if (k->incap - k->inlen < HB_IN_MIN) {
			if (k->incap >= HB_IN_MAX + HWIRE_HEAD_MAX) {
				malformed(k->h); /* an answer beyond any chatd sends */
				return;
			}
			k->incap *= 2;
			k->in = hb_alloc(k->in, k->incap);
		}
		n = read(k->fd, k->in + k->inlen, k->incap - k->inlen);
	} else {
		n = read(k->fd, H.scratch, H.scratch_len);
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			link_broken(k, errno == ECONNRESET ? WIRE_R_RESET : WIRE_R_CLOSED);
		return;
	}
	if (n == 0) {
		link_broken(k, WIRE_R_CLOSED);
		return;
	}
	if (k->inlen)
		link_input(k, k->in, k->inlen + (size_t)n, now_ns());
	else
		link_input(k, (const char *)H.scratch, (size_t)n, now_ns());
}

/* A connection that ended unasked: a command link with requests
 * unanswered takes the bot with it; a receive link comes back. */
static void
link_broken(struct hlink *k, uint8_t reason)
{
	struct hbot *h = k->h;

	if (k->role == HL_CMD) {
		size_t i, n = k->qbegun;

		/* Sends whose answers went with it are unacknowledged, as a
		 * framed bot's at a drop; a join, a leave or the sign-in in
		 * flight leaves the bot in no known state: it goes. */
		for (i = 0; i < n; i++) {
			uint8_t kind = link_req(k, i)->kind;

			if (kind != HQ_SAY && kind != HQ_DIRECT && kind != HQ_BARRIER) {
				swarm_lost(h->b, reason);
				return;
			}
		}
		for (i = 0; i < n; i++) {
			struct hreq q = link_pop(k);

			if (q.kind == HQ_BARRIER && h->barrier)
				barrier_done(h);
			else if (q.kind != HQ_BARRIER)
				swarm_unacked(h->b, q.arg);
		}
		link_shut(k, 0); /* the server let it go (idle, or at its limit) */
		if (k->qlen)
			link_open(k);
		return;
	}
	link_shut(k, 0);
	H.st.receive_lost++;
	if (swarm_active())
		timer_arm(h, HB_RECONNECT);
}

/* A connection could not be made: before the session, the core retries
 * the whole bot; after, a few more tries, then the bot is lost. */
static void
link_failed(struct hlink *k)
{
	struct hbot *h = k->h;

	link_shut(k, 0);
	if (k->role == HL_CMD && !h->session) {
		swarm_connect_failed(h->b);
		return;
	}
	if (++k->tries < HB_RETRIES && swarm_active())
		timer_arm(h, HB_RECONNECT);
	else
		swarm_lost(h->b, WIRE_R_CLOSED);
}

/* k's socket: connected, readable or writable. */
static void
link_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct hlink *k = (struct hlink *)(void *)w;

	(void)l;
	if (k->state == HL_CONNECTING && (revents & EV_WRITE)) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			link_failed(k);
			return;
		}
		k->state = HL_OPEN;
		if (k->role != HL_CMD)
			recv_request(k);
		link_flush(k);
		link_arm(k);
		return;
	}
	if (k->fd >= 0 && (revents & EV_READ) && !k->paused)
		link_read(k);
	if (k->fd >= 0 && (revents & EV_WRITE))
		link_flush(k);
}

/* Connect k (from the bot's source address); what it has queued, or its
 * receive request, goes once it is connected. */
static void
link_open(struct hlink *k)
{
	int fd = swarm_dial(k->h->b);

	if (fd < 0) {
		link_failed(k);
		return;
	}
	k->fd = fd;
	k->gen++;
	k->state = HL_CONNECTING;
	k->carried = 0;
	k->qbegun = 0;
	k->begun_bytes = 0;
	k->outsent = 0;
	k->inlen = 0;
	k->want_write = 0;
	k->paused = 0;
	k->streaming = 0;
	if (k->role != HL_CMD) {
		k->qlen = 0;
		k->outlen = 0;
	}
	ev_io_init(&k->io, link_cb, fd, EV_READ | EV_WRITE);
	ev_io_start(H.loop, &k->io);
}

/* ---- the bot ---- */

void
httpbot_setup(struct ev_loop *loop, enum httpbot_mode mode, uint8_t *scratch, size_t scratch_len)
{
	H.loop = loop;
	H.mode = mode;
	H.scratch = scratch;
	H.scratch_len = scratch_len;
}

/* A command link and a stream, or a poll per room and one on the mailbox. */
static unsigned
httpbot_fds(unsigned nrooms)
{
	return H.mode == HTTPBOT_SSE ? 2 : 2 + nrooms;
}

/* A link of h's, closed. */
static void
link_init(struct hlink *k, struct hbot *h, uint8_t role, uint32_t idx)
{
	memset(k, 0, sizeof(*k));
	k->h = h;
	k->fd = -1;
	k->role = role;
	k->k = idx;
}

/* An HTTP bot for b, in the nrooms rooms rooms[] (their numbers). */
static void *
httpbot_create(struct bot *b, unsigned nrooms, const unsigned *rooms)
{
	struct hbot *h = hb_alloc(NULL, sizeof(*h));
	unsigned i;

	memset(h, 0, sizeof(*h));
	h->b = b;
	h->nrooms = nrooms;
	h->rooms = hb_alloc(NULL, (nrooms ? nrooms : 1) * sizeof(*h->rooms));
	memset(h->rooms, 0, (nrooms ? nrooms : 1) * sizeof(*h->rooms));
	for (i = 0; i < nrooms; i++)
		h->rooms[i].room = rooms[i];
	h->nrecv = H.mode == HTTPBOT_SSE ? 1 : 1 + nrooms;
	h->recv = hb_alloc(NULL, h->nrecv * sizeof(*h->recv));
	link_init(&h->cmd, h, HL_CMD, 0);
	link_init(&h->recv[0], h, H.mode == HTTPBOT_SSE ? HL_STREAM : HL_EVENTS, 0);
	for (i = 1; i < h->nrecv; i++)
		link_init(&h->recv[i], h, HL_ROOM, i - 1);
	ev_init(&h->timer, timer_cb);
	return h;
}

/* Close k and free its buffers. */
static void
link_free(struct hlink *k)
{
	link_shut(k, 0);
	free(k->out);
	free(k->q);
	free(k->in);
}

static void
httpbot_destroy(void *t)
{
	struct hbot *h = t;
	unsigned i;

	ev_timer_stop(H.loop, &h->timer);
	link_free(&h->cmd);
	for (i = 0; i < h->nrecv; i++)
		link_free(&h->recv[i]);
	free(h->recv);
	free(h->rooms);
	free(h);
}

/* Sign in as nick (the session, then the receive side). */
static void
httpbot_connect(void *t, const char *nick)
{
	struct hbot *h = t;

	snprintf(h->nick, sizeof(h->nick), "%s", nick);
	h->up = 1;
	link_request(&h->cmd, HQ_SESSION, 0, "POST", "/api/v1/session", NULL, "nick", h->nick,
	             strlen(h->nick));
}

/* Whether h has a session (being made or made). */
static int
httpbot_up(const void *t)
{
	const struct hbot *h = t;

	return h->up;
}

/* Close every connection and forget the session. */
static void
hbot_close(struct hbot *h)
{
	unsigned i;

	if (h->ending) {
		h->ending = 0;
		H.ending--;
	}
	h->up = 0;
	h->session = 0;
	h->registered = 0;
	h->stream_seen = 0;
	h->resumed = 0;
	h->barrier = 0;
	h->recv_down = 0;
	h->last_id = 0;
	h->token[0] = '\0';
	ev_timer_stop(H.loop, &h->timer);
	link_shut(&h->cmd, 0);
	h->cmd.qlen = 0;
	h->cmd.outlen = 0;
	h->cmd.tries = 0;
	for (i = 0; i < h->nrecv; i++) {
		link_shut(&h->recv[i], 0);
		h->recv[i].tries = 0;
	}
	for (i = 0; i < h->nrooms; i++)
		h->rooms[i].state = HR_OUT;
}

/* Join room k: the join, then its history read, with the cursor if any. */
static void
httpbot_join(void *t, unsigned k, int have, uint64_t epoch, uint64_t seq)
{
	struct hbot *h = t;
	char path[96], name[16];

	room_name(h, k, name, sizeof(name));
	h->rooms[k].state = HR_JOINING;
	snprintf(path, sizeof(path), "/api/v1/rooms/%s/join", name);
	link_request(&h->cmd, HQ_JOIN, k, "POST", path, NULL, NULL, NULL, 0);
	if (have)
		snprintf(path, sizeof(path), "/api/v1/rooms/%s/messages?after=%llu-%llu", name,
		         (unsigned long long)epoch, (unsigned long long)seq);
	else
		snprintf(path, sizeof(path), "/api/v1/rooms/%s/messages", name);
	link_request(&h->cmd, HQ_HISTORY, k, "GET", path, NULL, NULL, NULL, 0);
}

static void
httpbot_part(void *t, unsigned k)
{
	struct hbot *h = t;
	char path[96], name[16];

	h->rooms[k].state = HR_LEAVING;
	snprintf(path, sizeof(path), "/api/v1/rooms/%s/leave", room_name(h, k, name, sizeof(name)));
	link_request(&h->cmd, HQ_LEAVE, k, "POST", path, NULL, NULL, NULL, 0);
}

static void
httpbot_say(void *t, unsigned k, uint32_t ref, const char *text, size_t n)
{
	struct hbot *h = t;
	char path[96], name[16];

	snprintf(path, sizeof(path), "/api/v1/rooms/%s/messages",
	         room_name(h, k, name, sizeof(name)));
	link_request(&h->cmd, HQ_SAY, ref, "POST", path, NULL, "text", text, n);
}

static void
httpbot_direct(void *t, const char *nick, uint32_t ref, const char *text, size_t n)
{
	struct hbot *h = t;
	char path[96];

	snprintf(path, sizeof(path), "/api/v1/users/%s/messages", nick);
	link_request(&h->cmd, HQ_DIRECT, ref, "POST", path, NULL, "text", text, n);
}

/* Drop the receive connections; they come back a little later, resuming. */
static int
httpbot_churn(void *t)
{
	struct hbot *h = t;
	unsigned i;

	if (!h->registered || h->recv_down)
		return 0;
	for (i = 0; i < h->nrecv; i++) {
		if (h->recv[i].fd >= 0) {
			link_shut(&h->recv[i], 1);
			H.st.receive_drops++;
		}
	}
	h->recv_down = 1;
	timer_arm(h, HB_RECONNECT);
	return 1;
}

/* A direct message to itself, whose arrival is the barrier. */
static int
httpbot_barrier(void *t)
{
	struct hbot *h = t;
	char path[96];

	if (!h->registered)
		return 0;
	h->barrier = 1;
	snprintf(path, sizeof(path), "/api/v1/users/%s/messages", h->nick);
	link_request(&h->cmd, HQ_BARRIER, 0, "POST", path, NULL, "text", HB_BARRIER,
	             strlen(HB_BARRIER));
	return 1;
}

void
httpbot_teardown(void)
{
	free(H.evs);
	H.evs = NULL;
	H.nevs = H.capevs = 0;
}

/* End h's session (DELETE), as a framed bot's close does. */
static int
httpbot_end(void *t)
{
	struct hbot *h = t;
	unsigned i;

	if (!h->session || h->ending)
		return 0;
	h->ending = 1;
	H.ending++;
	for (i = 0; i < h->nrecv; i++)
		link_shut(&h->recv[i], 0);
	h->recv_down = 1; /* for good */
	link_request(&h->cmd, HQ_END, 0, "DELETE", "/api/v1/session", NULL, NULL, NULL, 0);
	return 1;
}

/* Bots whose DELETE is not answered yet. */
static unsigned
httpbot_ending(void)
{
	return H.ending;
}

const struct httpbot_stats *
httpbot_stats(void)
{
	return &H.st;
}

/* The transport's close: a session's connections go with it. */
static void
httpbot_close(void *t, int reset)
{
	(void)reset;
	hbot_close(t);
}

const struct swarm_transport httpbot_transport = {
        .name = "http",
        .reads_own = 1,
        .fds = httpbot_fds,
        .create = httpbot_create,
        .destroy = httpbot_destroy,
        .connect = httpbot_connect,
        .up = httpbot_up,
        .close = httpbot_close,
        .join = httpbot_join,
        .part = httpbot_part,
        .say = httpbot_say,
        .direct = httpbot_direct,
        .churn = httpbot_churn,
        .barrier = httpbot_barrier,
        .end = httpbot_end,
        .ending = httpbot_ending,
        .flush = httpbot_flush,
};
