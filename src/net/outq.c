/*
 * The output queue.  The ring is freed whenever it empties, so an idle
 * connection holds no output memory at all.
 */
#include "net/outq.h"

#include <stdlib.h>
#include <string.h>

#include "util/defaults.h"
#include "util/log.h"
#include "util/slab.h"

void
outq_init(struct outq *q)
{
	memset(q, 0, sizeof(*q));
}

static struct outq_ent *
at(const struct outq *q, uint32_t i)
{
	return &q->v[(q->head + i) & (q->cap - 1)];
}

void
outq_clear(struct outq *q)
{
	uint32_t i;

	for (i = 0; i < q->n; i++)
		blk_unref(at(q, i)->b);
	slab_free(q->v, q->cap * sizeof(*q->v));
	outq_init(q);
}

/* Append an entry for b[off, end), whose reference the ring now owns. */
static void
append(struct outq *q, struct blk *b, uint32_t off, uint32_t end)
{
	if (q->n == q->cap) {
		/* A power of two, so that ring positions are masks. */
		uint32_t cap = q->cap ? q->cap * 2 : 8, i;
		struct outq_ent *v = slab_alloc(cap * sizeof(*v));

		for (i = 0; i < q->n; i++)
			v[i] = *at(q, i);
		slab_free(q->v, q->cap * sizeof(*q->v));
		q->v = v;
		q->cap = cap;
		q->head = 0;
	}
	*at(q, q->n) = (struct outq_ent){b, off, end};
	q->n++;
	q->pinned += b->cap;
}

/* A slice that keeps a block alive for less than half of it. */
static int
wasteful(uint32_t len, const struct blk *b)
{
	return (size_t)len * 2 < b->cap;
}

/* Room for max bytes in the private block at the tail (a new one if the
 * tail has no room); at least size bytes are allocated for a new block. */
static uint8_t *
priv_room(struct outq *q, size_t max, size_t size)
{
	struct blk *b = q->priv;

	if (b == NULL || b->cap - b->len < max) {
		if (size < max)
			size = max;
		b = blk_new(size > CHATD_REPLY_BLOCK ? size : CHATD_REPLY_BLOCK);
		append(q, b, 0, 0);
		q->priv = b;
	}
	return b->data + b->len;
}

/* Copy p[0, n) into the private tail, as queued but unsent bytes. */
static void
priv_copy(struct outq *q, const uint8_t *p, size_t n)
{
	memcpy(priv_room(q, n, CHATD_COPY_BLOCK), p, n);
	q->priv->len += (uint32_t)n;
	at(q, q->n - 1)->end = q->priv->len;
}

void
outq_push(struct outq *q, struct slice s)
{
	q->bytes += s.len;
	q->pushed += s.len;
	if (q->n) {
		struct outq_ent *t = at(q, q->n - 1);

		if (t->b == s.b && t->end == s.off) {
			t->end += s.len;
			return;
		}
	}
	if (q->copying && wasteful(s.len, s.b)) {
		priv_copy(q, s.b->data + s.off, s.len);
		return;
	}
	append(q, blk_ref(s.b), s.off, s.off + s.len);
	q->priv = NULL;
}

uint8_t *
outq_reserve(struct outq *q, size_t max)
{
	return priv_room(q, max, max);
}

void
outq_commit(struct outq *q, size_t used)
{
	q->priv->len += (uint32_t)used;
	at(q, q->n - 1)->end = q->priv->len;
	q->bytes += (uint32_t)used;
	q->pushed += (uint32_t)used;
}

int
outq_iov(const struct outq *q, struct iovec *iov, int max_iov, size_t max_bytes)
{
	size_t total = 0;
	uint32_t i;
	int k = 0;

	for (i = 0; i < q->n && k < max_iov && total < max_bytes; i++) {
		const struct outq_ent *e = at(q, i);
		size_t len = e->end - e->off;

		if (len == 0)
			continue;
		if (len > max_bytes - total)
			len = max_bytes - total;
		iov[k].iov_base = e->b->data + e->off;
		iov[k].iov_len = len;
		total += len;
		k++;
	}
	return k;
}

void
outq_consume(struct outq *q, size_t n)
{
	q->bytes -= (uint32_t)n;
	while (q->n) {
		struct outq_ent *e = at(q, 0);
		size_t len = e->end - e->off;

		if (n < len || (len == 0 && e->b == q->priv)) {
			e->off += (uint32_t)n;
			return;
		}
		n -= len;
		q->pinned -= e->b->cap;
		if (e->b == q->priv)
			q->priv = NULL;
		blk_unref(e->b);
		q->head = (q->head + 1) & (q->cap - 1);
		q->n--;
	}
	slab_free(q->v, q->cap * sizeof(*q->v));
	q->v = NULL;
	q->cap = 0;
	q->head = 0;
	q->copying = 0; /* drained: sharing blocks is safe again */
}

void
outq_compact(struct outq *q)
{
	struct outq old = *q;
	size_t waste = 0;
	uint32_t i;

	/* What the copies need, so that they land in as few blocks as can be. */
	for (i = 0; i < old.n; i++) {
		const struct outq_ent *e = at(&old, i);

		if (wasteful(e->end - e->off, e->b))
			waste += e->end - e->off;
	}
	outq_init(q);
	q->copying = 1;
	q->bytes = old.bytes;
	q->pushed = old.pushed; /* the marks in the stream stay where they were */
	for (i = 0; i < old.n; i++) {
		struct outq_ent *e = at(&old, i);
		uint32_t len = e->end - e->off;

		if (wasteful(len, e->b) && e->b != old.priv) {
			memcpy(priv_room(q, len, waste), e->b->data + e->off, len);
			q->priv->len += len;
			at(q, q->n - 1)->end = q->priv->len;
			waste -= len;
			blk_unref(e->b);
		} else {
			append(q, e->b, e->off, e->end);
			q->priv = e->b == old.priv ? e->b : NULL;
		}
	}
	slab_free(old.v, old.cap * sizeof(*old.v));
}
