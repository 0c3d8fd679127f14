/*
 * A client connection: its socket (through a transport) and watchers, its
 * input buffer, its output queue, its liveness and flood-control state,
 * its front end and its session.  Front ends see a connection through
 * these functions and the fields marked as theirs.
 *
 * Lifetime: conn_close() may be called at any time, from any callback,
 * including from inside a fan-out; it only marks the connection and puts
 * it on the reap list.  The teardown (leaving rooms, announcing the drop,
 * closing the socket, freeing) runs before the loop sleeps, when no
 * callback is using the connection.
 */
#ifndef CHATD_CONN_H
#define CHATD_CONN_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "core/vocab.h"
#include "net/frontend.h"
#include "net/outq.h"
#include "util/blk.h"

struct config;
struct core;
struct ipcount;
struct session;
struct transport;

LIST_HEAD(conn_list, conn);

/* Buckets of the loop-turn histogram, in seconds (upper bounds). */
#define CONN_TURN_BUCKETS 12
extern const double conn_turn_bounds[CONN_TURN_BUCKETS];

/* What the connection layer counts, for /metrics. */
struct conn_stats {
	uint64_t accepted;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t drops[REASON_COUNT];            /* connections ended, by enum core_reason */
	uint64_t refusals[REFUSE_HANDSHAKE + 1]; /* by enum conn_refusal */
	uint64_t turns[CONN_TURN_BUCKETS + 1];   /* loop turns by time worked; last: more */
	double turn_sum;                         /* seconds worked, all turns */
};

/*
 * Every connection and the lists the loop works through on each turn: the
 * connections to flush, those whose input waits for the next turn, those
 * to tear down.  The server owns one and runs conn_reap_all(),
 * conn_flush_all() and conn_backlog_run() from its watchers.
 */
struct conn_set {
	struct ev_loop *loop;
	const struct config *cfg; /* the server's, replaced in place on reload */
	struct core *core;
	struct conn_list all;
	size_t n;
	struct conn_list pending; /* output to flush this turn */
	struct conn_list gated;   /* output waiting for the store's commit */
	struct conn_list backlog; /* input held over to the next turn */
	SLIST_HEAD(, conn) reap;  /* closed, to be torn down this turn */
	uint8_t *scratch;         /* CHATD_READ_CHUNK bytes, shared by every read */
	size_t max_conns;         /* the effective limit: max-conns, or what descriptors allow */
	uint64_t turn_work;       /* core_work() when the connection at work began its turn */
	struct conn_stats stats;
};

/* The states a connection moves through; conn_set_state() is the only
 * place that changes them. */
enum conn_state {
	CONN_DETECT,   /* waiting for the first bytes to pick a protocol */
	CONN_OPEN,     /* speaking its protocol */
	CONN_DRAINING, /* closed for input, flushing its last output */
	CONN_CLOSED,   /* waiting to be torn down */
};

struct conn {
	ev_io io;       /* EV_READ while reading, EV_WRITE while output waits */
	ev_timer timer; /* liveness, flood resume, drain deadline */
	struct conn_set *set;
	const struct frontend *fe;
	const struct transport *tp;
	struct session *sess;          /* the front end's: its session in the core */
	void *fe_state;                /* the front end's own per-connection state */
	void *tp_state;                /* the transport's, when it is not plain TCP */
	LIST_ENTRY(conn) link;         /* every connection */
	LIST_ENTRY(conn) pending_link; /* the flush list */
	LIST_ENTRY(conn) gated_link;   /* the gated list */
	LIST_ENTRY(conn) backlog_link; /* the backlog */
	SLIST_ENTRY(conn) reap_link;   /* the reap list */
	uint8_t *in;                   /* partial input, allocated only while needed */
	uint32_t inlen;
	uint32_t incap; /* bytes allocated at in (a reload may change the bound) */
	int fd;
	uint8_t state;        /* enum conn_state */
	uint8_t reason;       /* enum core_reason, once closing */
	uint8_t announce;     /* tell the rooms when tearing down */
	uint8_t pending;      /* on the flush list */
	uint8_t reaping;      /* on the reap list */
	uint8_t pinged;       /* a ping is out since the last input */
	uint8_t throttled;    /* reading stopped by flood control */
	uint8_t yielded;      /* its turn's share of work is spent: on the backlog */
	uint8_t producing;    /* a long answer is being produced: input waits for its end */
	uint8_t writing;      /* EV_WRITE armed */
	uint8_t pinned;       /* 0, or 1 + the id of the front end its listener is pinned to */
	uint8_t refusal;      /* enum conn_refusal: to be turned away once its protocol is known */
	uint16_t turn_frames; /* requests handled in this loop turn */
	uint16_t port;        /* the client's port; here, it fills a hole */
	uint8_t paused;       /* the front end waits for an event: input waits for it */
	uint8_t upgrading;    /* conn_switch() is at work */
	struct outq out;
	/* Output may leave up to the mark open (in out.pushed's count); the
	 * bytes after it wait for the store: up to fmark[i] for the commit of
	 * batch fneed[i].  Two batches at most are ever unfinished. */
	uint32_t open;
	uint32_t fneed[2];
	uint32_t fmark[2];
	uint8_t nfence;
	uint8_t gated;       /* on the gated list */
	double created;      /* ev_now() at accept */
	double last_rx;      /* ev_now() of the last input */
	struct ipcount *ipc; /* connections from this client's address, and the address */
	double tokens;       /* flood-control bucket */
	double tok_time;     /* when tokens were last refilled */
	double deadline;     /* draining: when to give up flushing */
};

/* Adopt an accepted, non-blocking socket, from the address counted in
 * ipc, of a listener pinned to front end pinned (NULL: the protocol is
 * detected); a refusal other than REFUSE_NONE turns the client away in its
 * own protocol as soon as that is known. */
struct conn *conn_new(struct conn_set *set, int fd, uint16_t port, const struct frontend *pinned,
                      struct ipcount *ipc, enum conn_refusal refusal);

void conn_set_state(struct conn *c, enum conn_state st);

/* Upgrade: from now on c's bytes cross transport tp (state st), and the
 * front end fe serves it; what is already queued goes out as it is.  With
 * opening, fe's rule must see its opening in the new transport's bytes
 * first (a framed preface), within the handshake timeout; otherwise fe
 * starts at once.  The front end that calls this is ended (its end()) at
 * once, so it must not touch its state afterwards. */
void conn_switch(struct conn *c, const struct transport *tp, void *st, const struct frontend *fe,
                 int opening);

/* What a front end may use: the core, the configuration in force. */
struct core *conn_core(const struct conn *c);
const struct config *conn_config(const struct conn *c);
/* The peer's address:port, for log lines (a buffer reused per call). */
const char *conn_peer(const struct conn *c);
/* Ask the transport to watch for a vanished peer (see transport.h). */
void conn_keepalive(struct conn *c, double idle, double timeout);

/* Queue a slice of a shared block for sending; may mark c as a slow
 * consumer. */
void conn_send(struct conn *c, struct slice s);
/* A browser at c's address is loading a page: its silent connections are
 * not greeted as people for a while (CHATD_PRECONNECT_WINDOW). */
void conn_expect_preconnects(struct conn *c);
/* Write soon: the transport has bytes of its own to write. */
void conn_want_write(struct conn *c);
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
	return c->state == CONN_OPEN && !c->producing && !c->paused;
}

/* The front end waits for an event before it can take c's next request
 * (an HTTP long poll): stop reading until conn_unpause().  Unpausing is
 * safe from inside a sink: held input is handled on the next turn. */
void conn_pause(struct conn *c);
/* A sink's busy hook (core.h) for a session whose ctx is its connection:
 * while a command waits on the backplane, the client is not read. */
void conn_busy(void *conn, int on);
void conn_unpause(struct conn *c);
/* The address the client connected to is a loopback one. */
int conn_local_is_loopback(const struct conn *c);
/* The client's address, as text. */
const char *conn_ip(const struct conn *c);
/* Count a loop turn that worked for the given seconds. */
void conn_count_turn(struct conn_set *set, double seconds);

/* Close at once, dropping unsent output (reason: enum core_reason). */
void conn_close(struct conn *c, uint8_t reason);
/* Stop reading, flush what is queued (bounded by a deadline), then close. */
void conn_close_after_flush(struct conn *c, uint8_t reason, double timeout);

/* Output takes used bytes: past --max-queue-total, drop the connections
 * with the largest queues as slow consumers. */
void conn_output_budget(struct conn_set *set, size_t used);

/* Called by the server before the loop sleeps. */
void conn_reap_all(struct conn_set *set);
/* Flush every connection with output this turn.  The store's batches are
 * numbered: done is the newest committed, need the one this turn's
 * output waits for (need == done: nothing waits).  Output that must wait
 * stays queued, and the connection on the gated list. */
void conn_flush_all(struct conn_set *set, uint32_t need, uint32_t done);
/* Batch done is committed: the output that waited for it is put on the
 * flush list. */
void conn_release(struct conn_set *set, uint32_t done);
/* Called by the server once per loop turn: give each connection that
 * yielded its turn another share of its held input.  Returns whether any
 * is still waiting, so that the loop does not sleep on them. */
int conn_backlog_run(struct conn_set *set);

#endif
