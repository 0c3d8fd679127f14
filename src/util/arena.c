/*
 * The rendering arena (see arena.h).
 */
#include "util/arena.h"

#include <string.h>

uint8_t *
arena_reserve(struct arena *a, size_t max)
{
	struct blk *b = a->cur;

	if (max > BLK_ARENA_BLOCK / 4) {
		/* Its own block: the arena's block keeps its free space. */
		a->big = blk_new(max);
		return a->big->data;
	}
	if (b && b->cap - b->len >= max)
		return b->data + b->len;
	if (b)
		blk_unref(b);
	a->cur = blk_new(BLK_ARENA_BLOCK);
	return a->cur->data;
}

struct slice
arena_commit(struct arena *a, size_t used)
{
	struct slice s;

	if (a->big) {
		s.b = a->big; /* the arena's reference passes to the slice */
		s.off = 0;
		s.len = (uint32_t)used;
		a->big->len = (uint32_t)used;
		a->big = NULL;
		return s;
	}
	s.b = blk_ref(a->cur);
	s.off = a->cur->len;
	s.len = (uint32_t)used;
	a->cur->len += (uint32_t)used;
	/* A block too full for the next rendering is let go at once, so its
	 * memory goes back as soon as its readers are done with it. */
	if (a->cur->cap - a->cur->len < 256) {
		blk_unref(a->cur);
		a->cur = NULL;
	}
	return s;
}

void
arena_release(struct arena *a)
{
	if (a->cur)
		blk_unref(a->cur);
	a->cur = NULL;
}

struct slice
arena_copy(struct arena *a, const void *s, size_t n, int own_block)
{
	struct blk *b;

	if (!own_block) {
		memcpy(arena_reserve(a, n), s, n);
		return arena_commit(a, n);
	}
	b = blk_new(n);
	memcpy(b->data, s, n);
	b->len = (uint32_t)n;
	return (struct slice){b, 0, b->len};
}
