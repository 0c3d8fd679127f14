/*
 * The payload of a chatd-swarm message: who sent it, to which room (or
 * user), its per-sender sequence number and its send time, in printable
 * ASCII so that it is valid message text on every protocol.
 *
 *   "~" SENDER(8 hex) TARGET(8 hex) SEQ(16 hex) TIME(16 hex) then '.'
 *   padding up to the requested size.
 */
#ifndef CHATD_BOTMSG_H
#define CHATD_BOTMSG_H

#include <stddef.h>
#include <stdint.h>

#define BOTMSG_MIN 49

struct botmsg {
	uint32_t sender;  /* bot id */
	uint32_t target;  /* room index, or recipient bot id for a direct message */
	uint64_t seq;     /* per (sender, target) */
	uint64_t time_ns; /* CLOCK_MONOTONIC at send */
};

/* Write m padded to size bytes (at least BOTMSG_MIN) into out. */
void botmsg_encode(char *out, size_t size, const struct botmsg *m);
/* Parse a payload; 0 on success, -1 when it is not a swarm payload. */
int botmsg_decode(const char *p, size_t n, struct botmsg *m);

#endif
