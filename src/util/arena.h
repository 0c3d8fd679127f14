/*
 * An arena of shared blocks for renderings: live renderings are appended
 * back to back, so that a burst of messages to one room lies contiguous in
 * memory and each recipient can send it with one iovec.
 */
#ifndef CHATD_ARENA_H
#define CHATD_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "util/blk.h"

/* Renderings packed into shared blocks of BLK_ARENA_BLOCK bytes (blk.h). */
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
/* s[0, n) as a slice: copied into the arena, or into a block of its own
 * (own_block: a history line, which may outlive the arena's block by far). */
struct slice arena_copy(struct arena *a, const void *s, size_t n, int own_block);
/* Drop the arena's block (at exit). */
void arena_release(struct arena *a);

#endif
