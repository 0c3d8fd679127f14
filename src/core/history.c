/*
 * The history ring.  Messages in one room's ring have contiguous sequence
 * numbers, which history_after() relies on.
 */
#include "core/history.h"

#include <stdlib.h>

#include "util/log.h"
#include "util/slab.h"

void
history_init(struct history *h, unsigned cap)
{
	h->slot = NULL;
	h->cap = (uint16_t)cap;
	h->len = 0;
	h->head = 0;
	h->bytes = 0;
}

void
history_clear(struct history *h)
{
	unsigned i;

	for (i = 0; i < h->len; i++)
		msg_unref(history_at(h, i));
	slab_free(h->slot, h->cap * sizeof(*h->slot));
	h->slot = NULL;
	h->len = 0;
	h->head = 0;
	h->bytes = 0;
}

void
history_resize(struct history *h, unsigned cap)
{
	struct msg **slot = NULL;
	unsigned keep = h->len < cap ? h->len : cap, drop = h->len - keep, i;

	if (cap == h->cap)
		return;
	for (i = 0; i < drop; i++) {
		h->bytes -= (uint32_t)msg_size(history_at(h, i));
		h->gone_id = history_at(h, i)->id;
		msg_unref(history_at(h, i));
	}
	if (keep)
		slot = slab_zalloc(cap * sizeof(*slot));
	for (i = 0; i < keep; i++)
		slot[i] = history_at(h, drop + i);
	slab_free(h->slot, h->cap * sizeof(*h->slot));
	h->slot = slot;
	h->cap = (uint16_t)cap;
	h->len = (uint16_t)keep;
	h->head = 0;
}

void
history_push(struct history *h, struct msg *m)
{
	if (h->cap == 0)
		return;
	if (h->slot == NULL) {
		h->slot = slab_zalloc(h->cap * sizeof(*h->slot));
	}
	if (h->len == h->cap)
		history_drop_oldest(h);
	h->slot[(h->head + h->len) % h->cap] = msg_ref(m);
	h->len++;
	h->bytes += (uint32_t)msg_size(m);
}

void
history_drop_oldest(struct history *h)
{
	struct msg *m;

	if (h->len == 0)
		return;
	m = h->slot[h->head];
	h->bytes -= (uint32_t)msg_size(m);
	h->head = (uint16_t)((h->head + 1) % h->cap);
	h->len--;
	h->gone_id = m->id;
	msg_unref(m);
}

struct msg *
history_at(const struct history *h, unsigned i)
{
	return h->slot[(h->head + i) % h->cap];
}

unsigned
history_after(const struct history *h, uint64_t since)
{
	uint64_t first;

	if (h->len == 0)
		return 0;
	first = history_at(h, 0)->seq;
	if (since < first)
		return 0;
	if (since - first >= h->len)
		return h->len;
	return (unsigned)(since - first + 1);
}
