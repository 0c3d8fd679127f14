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

struct bot;
struct hbot;

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

/* Once, before any bot: the loop, the Host header, the receive mode, and
 * a read buffer shared with the framed bots. */
void httpbot_setup(struct ev_loop *loop, const char *host, enum httpbot_mode mode, uint8_t *scratch,
                   size_t scratch_len);
/* An HTTP bot for b, in the nrooms rooms rooms[] (their numbers). */
struct hbot *httpbot_new(struct bot *b, unsigned nrooms, const unsigned *rooms);
void httpbot_free(struct hbot *h);
/* At exit, after the last httpbot_free(). */
void httpbot_teardown(void);
/* Descriptors an HTTP bot of nrooms rooms may hold at once. */
unsigned httpbot_fds(enum httpbot_mode mode, unsigned nrooms);

/* Sign in as nick (the session, then the receive side); the core hears
 * swarm_registered() or swarm_connect_failed(). */
void httpbot_connect(struct hbot *h, const char *nick);
/* Whether h has a session (being made or made). */
int httpbot_up(const struct hbot *h);
/* Close every connection and forget the session. */
void httpbot_close(struct hbot *h);
/* Join room k with a cursor (have: epoch and seq are the last seen). */
void httpbot_join(struct hbot *h, unsigned k, int have, uint64_t epoch, uint64_t seq);
void httpbot_part(struct hbot *h, unsigned k);
void httpbot_say(struct hbot *h, unsigned k, uint32_t ref, const char *text, size_t n);
void httpbot_direct(struct hbot *h, const char *nick, uint32_t ref, const char *text, size_t n);
/* Drop the receive connections and reconnect them a little later,
 * resuming where they were; 0 when h is not settled enough to. */
int httpbot_churn(struct hbot *h);
/* Send h a direct message of its own, whose arrival says that all sent to
 * it before has arrived (swarm_barrier_done()); 0 when it cannot. */
int httpbot_barrier(struct hbot *h);
/* After the run: end h's session (DELETE), as a framed bot's close does,
 * so that its nick and its address's session count are free again; 0 when
 * it has none.  httpbot_ending() counts those not yet answered. */
int httpbot_end(struct hbot *h);
unsigned httpbot_ending(void);
/* Write what the bots queued; before the loop sleeps. */
void httpbot_flush(void);
const struct httpbot_stats *httpbot_stats(void);

#endif
