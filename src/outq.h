/*
 * A connection's output queue: a ring of slices of shared blocks.  A slice
 * that begins where the tail slice ends, in the same block, extends the
 * tail instead of taking a new entry, so a burst of messages rendered back
 * to back into an arena becomes one iovec.  A connection's own small
 * replies are written into a private block at the tail, so an ACK costs a
 * memcpy, not an allocation.  The queue counts the bytes it still has to
 * send, which is what the slow-consumer bound is measured on.
 */
#ifndef CHATD_OUTQ_H
#define CHATD_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "blk.h"

struct outq_ent {
	struct blk *b; /* one reference per entry */
	uint32_t off;  /* first byte not yet sent */
	uint32_t end;  /* one past the last byte to send */
};

struct outq {
	struct outq_ent *v; /* ring of cap (a power of two) entries, while non-empty */
	uint32_t cap;
	uint32_t head;
	uint32_t n;
	struct blk *priv; /* the private block at the tail, if any */
	size_t bytes;     /* unsent bytes */
};

void outq_init(struct outq *q);
/* Release every block and the ring. */
void outq_clear(struct outq *q);
/* Queue the bytes of s (the queue takes its own reference if it needs one). */
void outq_push(struct outq *q, struct slice s);
/* Room for up to max bytes at the tail for a private reply; write there,
 * then outq_commit() the number actually used. */
uint8_t *outq_reserve(struct outq *q, size_t max);
void outq_commit(struct outq *q, size_t used);
/* Describe up to max_iov entries and max_bytes of pending output. */
int outq_iov(const struct outq *q, struct iovec *iov, int max_iov, size_t max_bytes);
/* Forget n bytes that were sent, releasing finished blocks. */
void outq_consume(struct outq *q, size_t n);

#endif
