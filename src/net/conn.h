/*
 * A client connection: its socket and watchers, its input buffer, its
 * output queue, its liveness and flood-control state, its front end and
 * its session.  Front ends see a connection through these functions.
 *
 * Lifetime: conn_close() may be called at any time, from any callback,
 * including from inside a fan-out; it only marks the connection and puts
 * it on the server's reap list.  The teardown (leaving rooms, announcing
 * the drop, closing the socket, freeing) runs before the loop sleeps, when
 * no callback is using the connection.
 */
#ifndef CHATD_CONN_H
#define CHATD_CONN_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "core/blk.h"
#include "net/outq.h"

struct server;
struct session;
struct conn;

/* The states a connection moves through; conn_set_state() is the only
 * place that changes them. */
enum conn_state {
	CONN_DETECT,   /* waiting for the first bytes to pick a protocol */
	CONN_OPEN,     /* speaking its protocol */
	CONN_DRAINING, /* closed for input, flushing its last output */
	CONN_CLOSED,   /* waiting to be torn down */
};

/* A protocol front end: the translator between a wire format and the
 * core.  input() consumes whole units (frames, lines) and returns how many
 * bytes it used; the rest is kept until more arrive. */
struct frontend {
	const char *name;
	size_t (*input)(struct conn *c, const uint8_t *p, size_t len);
	void (*start)(struct conn *c); /* protocol chosen */
	/* Silent too long: ping in-band.  NULL for a protocol whose peers
	 * cannot answer pings (people): TCP keepalive watches them instead. */
	void (*idle)(struct conn *c);
	void (*bye)(struct conn *c, uint8_t reason); /* queue a farewell */
	/* Turn the client away: code (a 1xx wire_error) and why, then close. */
	void (*refuse)(struct conn *c, uint16_t code, const char *why);
	void (*end)(struct conn *c); /* free the front end's state */
	/* Produce the next part of a long answer (conn_produce()); return
	 * nonzero while more remains.  Each part costs a flood token. */
	int (*more)(struct conn *c);
};

struct conn {
	ev_io io;       /* EV_READ while reading, EV_WRITE while output waits */
	ev_timer timer; /* liveness, flood resume, drain deadline */
	struct server *srv;
	const struct frontend *fe;
	struct session *sess;
	void *fe_state;    /* the front end's own per-connection state */
	struct conn *next; /* server's list of all connections */
	struct conn *prev;
	LIST_ENTRY(conn) pending_link; /* server's flush list */
	struct conn *next_reap;        /* server's reap list */
	LIST_ENTRY(conn) backlog_link; /* server's list of connections with input held over */
	uint8_t *in;                   /* partial input, allocated only while needed */
	uint32_t inlen;
	uint32_t incap; /* bytes allocated at in (a reload may change the bound) */
	int fd;
	uint8_t state;        /* enum conn_state */
	uint8_t reason;       /* enum wire_reason, once closing */
	uint8_t announce;     /* tell the rooms when tearing down */
	uint8_t pending;      /* on the flush list */
	uint8_t reaping;      /* on the reap list */
	uint8_t pinged;       /* a ping is out since the last input */
	uint8_t throttled;    /* reading stopped by flood control */
	uint8_t yielded;      /* its turn's share of work is spent: on the backlog list */
	uint8_t producing;    /* a long answer is being produced: input waits for its end */
	uint8_t writing;      /* EV_WRITE armed */
	uint8_t mode;         /* enum listen_proto of the listener that accepted it */
	uint8_t refusal;      /* enum conn_refusal: to be turned away once its protocol is known */
	uint16_t turn_frames; /* units of input handled in this loop turn */
	struct outq out;
	double created;      /* ev_now() at accept */
	double last_rx;      /* ev_now() of the last input */
	struct ipcount *ipc; /* connections from this client's address, and the address */
	uint16_t port;       /* the client's port */
	double tokens;       /* flood-control bucket */
	double tok_time;     /* when tokens were last refilled */
	double deadline;     /* draining: when to give up flushing */
};

/* Why a connection is turned away. */
enum conn_refusal {
	REFUSE_NONE,
	REFUSE_FULL,      /* max-conns reached */
	REFUSE_PER_IP,    /* max-conns-per-ip reached */
	REFUSE_HANDSHAKE, /* no name chosen within handshake-timeout */
};

/* Per-address connection counts, kept by the server. */
struct ipcount {
	char ip[48];
	unsigned n;
};

/* Adopt an accepted, non-blocking socket from a listener of the given
 * protocol (enum listen_proto), from the address counted in ipc; a
 * refusal other than REFUSE_NONE turns the client away in its own
 * protocol as soon as that is known. */
struct conn *conn_new(struct server *srv, int fd, uint16_t port, int mode, struct ipcount *ipc,
                      enum conn_refusal refusal);

void conn_set_state(struct conn *c, enum conn_state st);
static inline int
conn_is_open(const struct conn *c)
{
	return c->state == CONN_OPEN;
}

/* The peer's address:port, for log lines (a buffer reused per call). */
const char *conn_peer(const struct conn *c);

/* Queue a slice of a shared block for sending; may mark c as a slow
 * consumer. */
void conn_send(struct conn *c, struct slice s);
/* Reserve/commit private reply bytes (see outq_reserve). */
uint8_t *conn_reserve(struct conn *c, size_t max);
void conn_commit(struct conn *c, size_t used);

/* Take one flood-control token: 1 if the request may proceed now, 0 if c
 * is out of budget (c is then throttled and the caller stops reading), or
 * has handled its share of requests for this loop turn (the rest waits for
 * the next turn; the caller stops all the same). */
int conn_spend(struct conn *c);

/* The front end has begun a long answer (a listing): its further parts come
 * from fe->more(), one per flood token, while less than CHATD_PRODUCE_LOW
 * bytes wait to be sent, and c's next requests wait until it is done. */
void conn_produce(struct conn *c);
/* Whether the front end may handle another request now. */
static inline int
conn_ready(const struct conn *c)
{
	return c->state == CONN_OPEN && !c->producing;
}

/* Close at once, dropping unsent output. */
void conn_close(struct conn *c, uint8_t reason);
/* Stop reading, flush what is queued (bounded by a deadline), then close. */
void conn_close_after_flush(struct conn *c, uint8_t reason, double timeout);

/* Output takes used bytes: past --max-queue-total, drop the connections
 * with the largest queues as slow consumers. */
void conn_output_budget(struct server *srv, size_t used);

/* Called by the server before the loop sleeps. */
void conn_reap_all(struct server *srv);
void conn_flush_all(struct server *srv);
/* Called by the server once per loop turn: give each connection that
 * yielded its turn another share of its held input.  Returns whether any
 * is still waiting, so that the loop does not sleep on them. */
int conn_backlog_run(struct server *srv);

#endif
