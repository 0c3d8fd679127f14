/*
 * chatd-swarm's HTTP transport (docs/http.md): a bot with a session, one
 * keep-alive connection for its commands (sign-in, joins, leaves, sends,
 * pipelined and answered in order), and its receive connections: one
 * Server-Sent Events stream, or long polls (one per room, one for its
 * mailbox).  It turns the swarm's requests into HTTP and hands what comes
 * back to the core through swarm.h, so that HTTP bots are checked exactly
 * as framed ones are.
 */
#ifndef CHATD_HTTPBOT_H
#define CHATD_HTTPBOT_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "swarm/swarm.h"

/* How an HTTP bot receives. */
enum httpbot_mode {
	HTTPBOT_SSE,  /* GET /api/v1/events */
	HTTPBOT_POLL, /* GET .../messages?wait= per room, GET /me/events?wait= */
};

/* Counters of the whole HTTP side, for the report. */
struct httpbot_stats {
	uint64_t requests;         /* HTTP requests written */
	uint64_t answers;          /* answers read */
	uint64_t events;           /* stream events read (keep-alive comments apart) */
	uint64_t polls;            /* long-poll answers read */
	uint64_t stream_resumes;   /* streams reopened with Last-Event-ID */
	uint64_t receive_drops;    /* receive connections the swarm dropped (churn) */
	uint64_t receive_lost;     /* receive connections the server or network ended */
	uint64_t reconnects;       /* command connections replaced (Connection: close) */
	uint64_t resume_replays;   /* pre-join messages a resumed stream replayed: skipped */
	uint64_t overflow_dropped; /* events a stream or mailbox said it let go */
	uint64_t fallback_parses;  /* events beyond the fast scanner, read by jansson */
};

/* Once, before any bot: the loop, the receive mode, and a read buffer
 * shared with the framed bots.  Each bot's server and Host header are
 * its own (swarm_dial(), swarm_host()). */
void httpbot_setup(struct ev_loop *loop, enum httpbot_mode mode, uint8_t *scratch,
                   size_t scratch_len);
/* At exit, after the last bot is destroyed. */
void httpbot_teardown(void);
const struct httpbot_stats *httpbot_stats(void);

/*
 * The transport (swarm.h).  Its churn drops the receive connections and
 * reconnects them a little later, resuming where they were, the session
 * kept; its barrier is a direct message to itself; after the run it ends
 * its session (DELETE), as a framed bot's close does, so that its nick and
 * its address's session count are free again.
 */
extern const struct swarm_transport httpbot_transport;

#endif
