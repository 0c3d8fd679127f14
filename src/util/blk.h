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

/* The size of the arenas' blocks (arena.h): the one size blocks are kept
 * spare for, since a busy fan-out frees and takes one many times a
 * second. */
#define BLK_ARENA_BLOCK 65536
#define BLK_SPARES      4 /* arena blocks kept for reuse, at most */

/* A new block with room for cap bytes and one reference; aborts the
 * process when memory is exhausted. */
struct blk *blk_new(size_t cap);
/* Give the spare blocks back (when memory is trimmed, and at exit). */
void blk_spares_release(void);

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

/* One rendering remembered for the object it was made of (a message, a
 * presence event): the render caches of core/msg.c and core/pres.c. */
struct render_memo {
	const void *obj; /* NULL: empty */
	struct slice s;  /* holds a reference while obj is set */
};

/* Forget what m remembers, releasing its reference. */
void render_memo_clear(struct render_memo *m);

#endif
