/*
 * chatd-swarm's chatd.json transport (docs/websocket.md section 4): a bot
 * on one WebSocket whose messages are JSON objects, one per text message,
 * checked exactly as a framed bot is: its one connection delivers in
 * order, its acknowledgements included, and its session ends with the
 * connection, so that churn drops the connection and the reconnect joins
 * with cursors.
 */
#ifndef CHATD_WSJBOT_H
#define CHATD_WSJBOT_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "swarm/swarm.h"

/* Counters of every chatd.json bot, for the report. */
struct wsjbot_stats {
	uint64_t requests;        /* JSON messages written */
	uint64_t messages;        /* JSON messages read */
	uint64_t fallback_parses; /* beyond the fast scanner, read by jansson */
};

/* Once, before any bot: the loop, and a read buffer shared with the
 * other bots.  Each bot's server and Host header are its own
 * (swarm_dial(), swarm_host()). */
void wsjbot_setup(struct ev_loop *loop, uint8_t *scratch, size_t scratch_len);
/* At exit, after the last bot is destroyed. */
void wsjbot_teardown(void);
const struct wsjbot_stats *wsjbot_stats(void);

/* The transport (swarm.h): its barrier is a ping whose pong comes back
 * behind everything sent to the bot before. */
extern const struct swarm_transport wsjbot_transport;

#endif
