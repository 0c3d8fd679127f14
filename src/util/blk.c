/*
 * Reference-counted byte blocks, with a count of the bytes they hold so
 * that memory growth is observable.
 */
#include "util/blk.h"

#include <stdlib.h>

#include "util/log.h"
#include "util/slab.h"

static size_t live_bytes;

struct blk *
blk_new(size_t cap)
{
	struct blk *b = slab_alloc(sizeof(*b) + cap);

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
		slab_free(b, sizeof(*b) + b->cap);
	}
}

size_t
blk_bytes_live(void)
{
	return live_bytes;
}

void
render_memo_clear(struct render_memo *m)
{
	if (m->obj) {
		blk_unref(m->s.b);
		m->obj = NULL;
	}
}
