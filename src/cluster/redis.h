/*
 * One connection to one Redis, in chatd's libev loop (hiredis's async
 * API and its libev adapter): connect without blocking, AUTH and SELECT
 * as the URL says, commands with callbacks, and reconnection with
 * exponential backoff (REDIS_BACKOFF_MIN doubling to REDIS_BACKOFF_MAX)
 * whenever the link drops.  A state callback says when the link goes up
 * or down, so that its user can refuse work while it is down.  Also the
 * blocking probe that main runs once at start-up.
 */
#ifndef CHATD_CLUSTER_REDIS_H
#define CHATD_CLUSTER_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/url.h"

struct ev_loop;
struct redisReply;
struct redis_link;

#define REDIS_BACKOFF_MIN   0.1 /* seconds before the first reconnect attempt */
#define REDIS_BACKOFF_MAX   5.0 /* the longest wait between attempts */
#define REDIS_REPLY_TIMEOUT 3.0 /* a reply this late means the link is lost */
#define REDIS_PROBE_TIMEOUT 2.0 /* the start-up probe's connect and reply limit */

enum redis_state {
	REDIS_LINK_DOWN,       /* no connection; a reconnect timer runs */
	REDIS_LINK_CONNECTING, /* TCP connect in progress */
	REDIS_LINK_HANDSHAKE,  /* connected, AUTH / SELECT / PING in flight */
	REDIS_LINK_UP,         /* commands are taken */
	REDIS_LINK_CLOSED,     /* redis_free() has begun */
};

/* What a link has done, for /metrics. */
struct redis_stats {
	uint64_t commands;    /* sent */
	uint64_t round_trips; /* replies received (errors included) */
	uint64_t failed;      /* commands whose link dropped before their reply */
	double latency_sum;   /* seconds, over round_trips */
	double latency_max;
	uint64_t connects;   /* handshakes completed */
	uint64_t reconnects; /* of those, after the link had been up before */
	uint64_t noscript;   /* EVALSHA refused with NOSCRIPT and sent again as EVAL */
};

/*
 * A command's completion.  reply is hiredis's, valid during the call
 * only; NULL when the link dropped (or was freed) before the reply came.
 * An error reply (REDIS_REPLY_ERROR) is a reply: the callee checks.
 * When the server closes the link, the NULL replies come before the state
 * callback hears "down"; when the watchdog gives up on it, after.  Either
 * way a command sent from a NULL-reply callback is refused.
 */
typedef void redis_reply_fn(struct redis_link *l, struct redisReply *reply, void *arg);
/* The link went up (up 1) or down (up 0, why says what happened). */
typedef void redis_state_fn(struct redis_link *l, int up, const char *why, void *arg);
/* Called on each (re)connect, after AUTH and SELECT and before the link
 * is up: commands sent from here (SCRIPT LOAD) are taken, and go ahead of
 * any other. */
typedef void redis_ready_fn(struct redis_link *l, void *arg);
/* A message published on a channel the link subscribed to; payload NULL:
 * the subscription is in force (Redis confirmed it, at first and after
 * each reconnect), so what was published before it must be read. */
typedef void redis_message_fn(struct redis_link *l, const char *channel, size_t clen,
                              const char *payload, size_t plen, void *arg);

/* A link to url in loop, connecting at once; NULL when out of memory.
 * state (may be NULL) hears of every change between up and down. */
struct redis_link *redis_new(struct ev_loop *loop, const struct redis_url *url,
                             redis_state_fn *state, void *arg);
/* l is for subscriptions only, from its start: the watchdog does not
 * ping it while it has none yet (a PING in flight would keep the first
 * subscription out). */
void redis_subscriber(struct redis_link *l);
/* Have ready called on each (re)connect before the link is up. */
void redis_on_ready(struct redis_link *l, redis_ready_fn *ready, void *arg);
/*
 * Close and free l.  Callbacks of commands still in flight run with a
 * NULL reply before it returns; the state callback does not run.  Not to
 * be called from inside one of l's callbacks.
 */
void redis_free(struct redis_link *l);

/*
 * Send a command (hiredis's format: %s a C string, %b a pointer and a
 * length) and have cb (may be NULL) called with its reply.  0, or -1
 * without calling cb when the link is not up (the caller says "cluster
 * unavailable").  Commands go out in order and their replies come back
 * in order.
 */
int redis_cmd(struct redis_link *l, redis_reply_fn *cb, void *arg, const char *fmt, ...);
/* The same with the arguments as argc strings of given lengths (copied). */
int redis_cmd_argv(struct redis_link *l, redis_reply_fn *cb, void *arg, int argc, const char **argv,
                   const size_t *argvlen);
/*
 * Subscribe l to channel for good: cb hears each message published there,
 * and the link subscribes again after each reconnect.  A link that
 * subscribes takes no other command (Redis's subscribed mode): use one
 * link for commands and another for messages.  0, or -1 when out of
 * memory or l already has commands.
 */
int redis_subscribe(struct redis_link *l, const char *channel, redis_message_fn *cb, void *arg);

/* Leave channel: its callback hears nothing more from here on, and the
 * link does not subscribe again after a reconnect.  Subscribing to it
 * again at once is safe (the SUBSCRIBE waits for Redis to confirm this). */
void redis_unsubscribe(struct redis_link *l, const char *channel);

enum redis_state redis_state(const struct redis_link *l);
/* Whether commands of l wait for their replies. */
int redis_busy(const struct redis_link *l);
int redis_up(const struct redis_link *l);
const struct redis_url *redis_url(const struct redis_link *l);
/* Why the link last went down or failed to come up ("" if it never did). */
const char *redis_why(const struct redis_link *l);
const struct redis_stats *redis_stats(const struct redis_link *l);
/* Count one NOSCRIPT fallback (script.c). */
void redis_count_noscript(struct redis_link *l);

/*
 * The start-up check, blocking (REDIS_PROBE_TIMEOUT per step): connect,
 * AUTH and SELECT as the URL says, and PING.  0 when a Redis answered as
 * it should, else -1 with the reason in err ("connection refused",
 * "WRONGPASS ...", "not a Redis: ...").  The server's version goes into
 * version (may be NULL) when INFO gives it.
 */
int redis_probe(const struct redis_url *url, char *version, size_t vlen, char *err, size_t errlen);

#endif
