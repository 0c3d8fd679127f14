/*
 * The output queue.  The ring is freed whenever it empties, so an idle
 * connection holds no output memory at all.
 */
#include "outq.h"

#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "log.h"

void
outq_init(struct outq *q)
{
	memset(q, 0, sizeof(*q));
}

void
outq_clear(struct outq *q)
{
	uint32_t i;

	for (i = 0; i < q->n; i++)
		blk_unref(q->v[(q->head + i) % q->cap].b);
	free(q->v);
	outq_init(q);
}

/* Append an entry for b, whose reference the ring now owns. */
static void
append(struct outq *q, struct blk *b)
{
	if (q->n == q->cap) {
		uint32_t cap = q->cap ? q->cap * 2 : 8, i;
		struct outq_ent *v = malloc(cap * sizeof(*v));

		if (v == NULL)
			fatal("out of memory (output queue of %u)", cap);
		for (i = 0; i < q->n; i++)
			v[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = v;
		q->cap = cap;
		q->head = 0;
	}
	q->v[(q->head + q->n) % q->cap] = (struct outq_ent){b, 0};
	q->n++;
}

void
outq_push(struct outq *q, struct blk *b)
{
	append(q, blk_ref(b));
	q->bytes += b->len;
	q->priv = NULL;
}

uint8_t *
outq_reserve(struct outq *q, size_t max)
{
	struct blk *b = q->priv;

	if (b == NULL || b->cap - b->len < max) {
		b = blk_new(max > CHATD_REPLY_BLOCK ? max : CHATD_REPLY_BLOCK);
		append(q, b);
		q->priv = b;
	}
	return b->data + b->len;
}

void
outq_commit(struct outq *q, size_t used)
{
	q->priv->len += (uint32_t)used;
	q->bytes += used;
}

int
outq_iov(const struct outq *q, struct iovec *iov, int max_iov, size_t max_bytes)
{
	size_t total = 0;
	uint32_t i;
	int k = 0;

	for (i = 0; i < q->n && k < max_iov && total < max_bytes; i++) {
		const struct outq_ent *e = &q->v[(q->head + i) % q->cap];
		size_t len = e->b->len - e->off;

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
	q->bytes -= n;
	while (q->n) {
		struct outq_ent *e = &q->v[q->head];
		size_t len = e->b->len - e->off;

		if (n < len || (len == 0 && e->b == q->priv)) {
			e->off += (uint32_t)n;
			return;
		}
		n -= len;
		if (e->b == q->priv)
			q->priv = NULL;
		blk_unref(e->b);
		q->head = (q->head + 1) % q->cap;
		q->n--;
	}
	free(q->v);
	q->v = NULL;
	q->cap = 0;
	q->head = 0;
}
