/*
 * Reference-counted byte blocks, with a count of the bytes they hold so
 * that memory growth is observable.
 */
#include "blk.h"

#include <stdlib.h>

#include "log.h"

static size_t live_bytes;

struct blk *
blk_new(size_t cap)
{
	struct blk *b = malloc(sizeof(*b) + cap);

	if (b == NULL)
		fatal("out of memory (block of %zu bytes)", cap);
	b->refs = 1;
	b->len = 0;
	b->cap = (uint32_t)cap;
	live_bytes += cap;
	return b;
}

void
blk_unref(struct blk *b)
{
	if (--b->refs == 0) {
		live_bytes -= b->cap;
		free(b);
	}
}

size_t
blk_bytes_live(void)
{
	return live_bytes;
}
