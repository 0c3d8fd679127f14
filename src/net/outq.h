/*
 * A connection's output queue: a ring of slices of shared blocks.  A slice
 * that begins where the tail slice ends, in the same block, extends the
 * tail instead of taking a new entry, so a burst of messages rendered back
 * to back into an arena becomes one iovec.  A connection's own small
 * replies are written into a private block at the tail, so an ACK costs a
 * memcpy, not an allocation.
 *
 * The queue counts two things: the bytes it still has to send, which the
 * slow-consumer bound is measured on, and the memory it pins, every
 * block's whole capacity once per entry.  A reader that stops reading while
 * it gets one small frame per shared block would otherwise keep every
 * block alive for a few bytes of its allowance; outq_compact() copies such
 * slices out into private blocks, and from then until the queue empties new
 * ones are copied as they come, so that what a stalled queue pins stays
 * close to what it has to send.
 */
#ifndef CHATD_OUTQ_H
#define CHATD_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/blk.h"

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
	uint8_t copying;  /* compacted: wasteful slices are copied, not referenced */
	struct blk *priv; /* the private block at the tail, if any */
	uint32_t bytes;   /* unsent bytes */
	uint32_t pushed;  /* bytes ever queued, modulo 2^32: marks in the stream */
	uint32_t pinned;  /* capacity of the blocks the entries hold, once per entry */
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
/* Copy the slices that pin much more than they send (under half of their
 * block) into private blocks, and copy such slices from now until the
 * queue empties.  O(bytes queued). */
void outq_compact(struct outq *q);

#endif
