/*
 * Reference-counted byte blocks, with a count of the bytes they hold so
 * that memory growth is observable.
 */
#include "util/blk.h"

#include <stdlib.h>

#include "util/log.h"
#include "util/slab.h"

static size_t live_bytes;
/* Arena blocks freed and kept for the next blk_new() of their size: they
 * are above the mmap threshold (CHATD_MMAP_THRESHOLD), so without this
 * each would be an mmap, its page faults and a munmap (6 % of chatd's
 * time at case 1 of the IRC benchmark). */
static struct blk *spares[BLK_SPARES];
static unsigned nspares;
/* None are kept under AddressSanitizer (see slab.h). */
#if defined(SLAB_SANITIZED)
#define BLK_KEEP 0
#else
#define BLK_KEEP BLK_SPARES
#endif

struct blk *
blk_new(size_t cap)
{
	struct blk *b = cap == BLK_ARENA_BLOCK && nspares ? spares[--nspares]
	                                                  : slab_alloc(sizeof(*b) + cap);

	b->refs = 1;
	b->len = 0;
	b->cap = (uint32_t)cap;
	live_bytes += cap;
	return b;
}

void
blk_unref(struct blk *b)
{
	if (--b->refs != 0)
		return;
	live_bytes -= b->cap;
#if BLK_KEEP > 0
	if (b->cap == BLK_ARENA_BLOCK && nspares < BLK_KEEP) {
		spares[nspares++] = b;
		return;
	}
#endif
	slab_free(b, sizeof(*b) + b->cap);
}

void
blk_spares_release(void)
{
	while (nspares)
		slab_free(spares[--nspares], sizeof(struct blk) + BLK_ARENA_BLOCK);
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
