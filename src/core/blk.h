/*
 * Reference-counted byte blocks, the memory of the output path.  A message
 * rendered for one wire format is one slice of a block, shared by every
 * recipient's queue; live renderings are appended back to back in an
 * arena, so that a burst of messages to one room lies contiguous in memory
 * and each recipient can send it with one iovec.  A connection's own small
 * replies go to a private block of its own.
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

/* A byte range of a block; whoever holds a slice holds a reference. */
struct slice {
	struct blk *b;
	uint32_t off;
	uint32_t len;
};

/* Renderings packed into shared blocks of BLK_ARENA_BLOCK bytes. */
#define BLK_ARENA_BLOCK 65536
struct arena {
	struct blk *cur; /* the block being filled; the arena holds a reference */
	struct blk *big; /* a large rendering's own block, between reserve and commit */
};

/* Room for up to max bytes at the end of the arena; write there, then
 * arena_commit() what was used, which returns it as a slice holding its own
 * reference.  A rendering larger than a quarter block gets a block of its
 * own, so that big messages do not waste arena space. */
uint8_t *arena_reserve(struct arena *a, size_t max);
struct slice arena_commit(struct arena *a, size_t used);
/* Drop the arena's block (at exit). */
void arena_release(struct arena *a);

#endif
