/*
 * What chatd-swarm's core (swarm.c) offers its transports.  The core owns
 * the bots: their nicks, memberships, sequence checks, the direct-message
 * table, the counters and the run's phases.  A transport only carries a
 * bot's requests to the server and hands back, through these functions,
 * what the server said, in the order it said it, so that every transport
 * is checked by the same code.  The framed transport is part of swarm.c
 * (it is the benchmark reference), over TCP or over a WebSocket
 * (wsconn.c); the others are rows of struct swarm_transport below: HTTP
 * (httpbot.c) and chatd.json (wsjbot.c), each of which sees a bot only as
 * a pointer to give back.
 *
 * A bot's rooms are named by their index k in the bot's memberships, the
 * one the core gave with the request.
 */
#ifndef CHATD_SWARM_H
#define CHATD_SWARM_H

#include <stddef.h>
#include <stdint.h>

struct bot;

#define SWARM_MSG_HISTORY 0x01 /* replayed at a join, not live */
#define SWARM_MSG_DIRECT  0x02

/* A message as a transport received it. */
struct swarm_msg {
	uint8_t flags;
	const char *room; /* room messages: the room's name */
	size_t room_len;
	const char *from;
	size_t from_len;
	const char *text;
	size_t text_len;
	uint64_t seq; /* room messages */
};

/*
 * A transport as the core drives it: a row of functions, each given the
 * bot's state that create() made (t).  The core calls connect() when the
 * bot is to sign in, and the transport answers through the functions
 * further down (swarm_registered(), swarm_connect_failed(), ...).
 */
struct swarm_transport {
	const char *name; /* --transport's word */
	/* Its bots read their own room messages back, whose order is then
	 * checked there rather than at the acknowledgement (HTTP). */
	uint8_t reads_own;
	/* Descriptors a bot of nrooms rooms may hold at once. */
	unsigned (*fds)(unsigned nrooms);
	void *(*create)(struct bot *b, unsigned nrooms, const unsigned *rooms);
	void (*destroy)(void *t);
	/* Sign in as nick: swarm_registered() or swarm_connect_failed(). */
	void (*connect)(void *t, const char *nick);
	/* Whether it is connected or connecting. */
	int (*up)(const void *t);
	/* Close everything, abruptly (an RST) when reset; no callback. */
	void (*close)(void *t, int reset);
	/* Join room k, with a cursor when have (epoch and seq: the last seen). */
	void (*join)(void *t, unsigned k, int have, uint64_t epoch, uint64_t seq);
	void (*part)(void *t, unsigned k);
	void (*say)(void *t, unsigned k, uint32_t ref, const char *text, size_t n);
	void (*direct)(void *t, const char *nick, uint32_t ref, const char *text, size_t n);
	/* Churn of its own (1 if done); NULL: the core drops the connection
	 * and reconnects with cursors, as for a framed bot. */
	int (*churn)(void *t);
	/* Ask for a sign that all sent to it before has arrived
	 * (swarm_barrier_done()); 0 when it cannot. */
	int (*barrier)(void *t);
	/* After the run, end a session that outlives its connection (1 if
	 * one is being ended), and how many are not done; NULL: none does. */
	int (*end)(void *t);
	unsigned (*ending)(void);
	/* Write what its bots queued; before the loop sleeps. */
	void (*flush)(void);
};

/* Random bytes from the swarm's seeded generator (WebSocket keys, masks). */
void swarm_random(uint8_t *out, size_t n);
/* A socket of b's to its server (the --server entry it was given),
 * bound to its source address, its connect() begun (non-blocking); -1
 * on failure. */
int swarm_dial(const struct bot *b);
/* b's server as --server spelled it ("HOST:PORT"), for a Host header. */
const char *swarm_host(const struct bot *b);
/* b has a session and can receive: join its rooms. */
void swarm_registered(struct bot *b);
/* Check a message b received (ns: the time it was read). */
void swarm_deliver(struct bot *b, const struct swarm_msg *m, uint64_t now_ns);
/* The join of room k is complete: epoch and last sequence at the join,
 * and the WIRE_HIST_* flags of the history replayed before this call. */
void swarm_joined(struct bot *b, unsigned k, uint64_t epoch, uint64_t last, uint8_t flags);
/* The server said that room k's numbers up to upto are gone for b. */
void swarm_skip(struct bot *b, unsigned k, uint64_t upto);
/* b is out of room k (its part is confirmed). */
void swarm_parted(struct bot *b, unsigned k);
/* The request ref was accepted; seq: a room message's sequence number. */
void swarm_ack(struct bot *b, uint32_t ref, uint64_t seq);
/* The request ref went with its connection, unanswered. */
void swarm_unacked(struct bot *b, uint32_t ref);
/* The server refused a request: ref (0: not a message), the framed type
 * it stands for (WIRE_HELLO, WIRE_JOIN, ...; 0: none), the error code (a WIRE_E_*
 * code, or an HTTP status without one) and its text. */
void swarm_refused(struct bot *b, uint32_t ref, uint8_t type, uint16_t code, const char *text,
                   size_t len);
/* The nick b registers under next, after its nick was taken. */
const char *swarm_renick(struct bot *b);
/* A presence event of the server's (WIRE_P_*, WIRE_R_*): drops count. */
void swarm_presence(uint8_t kind, uint8_t reason, const char *nick, size_t len);
/* b's barrier came back: everything sent to it before has arrived. */
void swarm_barrier_done(struct bot *b);
/* Has b seen the last acknowledged message of each of its rooms? */
int swarm_caught_up(const struct bot *b);
/* b cannot go on (its session is gone, or an answer was malformed). */
void swarm_lost(struct bot *b, uint8_t reason);
/* b's first connection failed: retry as the framed bots do. */
void swarm_connect_failed(struct bot *b);
/* Whether transports should still reconnect (the run is not over). */
int swarm_active(void);
/* Count a malformed answer, or an event of a kind this swarm does not
 * know (skipped). */
void swarm_malformed(void);
void swarm_unknown(void);

#endif
