/*
 * Reference-counted byte blocks: the unit of the output queue.  A message
 * rendered for one wire format is one block shared by every recipient's
 * queue; a connection's own small replies are appended to a private block
 * while it is referenced by that connection alone.
 */
#ifndef CHATD_BLK_H
#define CHATD_BLK_H

#include <stddef.h>
#include <stdint.h>

struct blk {
	uint32_t refs;
	uint32_t len; /* bytes used */
	uint32_t cap; /* bytes allocated in data[] */
	uint8_t data[];
};

/* A new block with room for cap bytes and one reference; aborts the
 * process when memory is exhausted. */
struct blk *blk_new(size_t cap);

static inline struct blk *
blk_ref(struct blk *b)
{
	b->refs++;
	return b;
}

/* Drop one reference; the last one frees the block. */
void blk_unref(struct blk *b);

/* Bytes currently held by all blocks (for tests and status). */
size_t blk_bytes_live(void);

#endif
