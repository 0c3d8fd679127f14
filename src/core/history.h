/*
 * A room's history: a ring of its last N messages, oldest first.  The ring
 * holds one reference on each message it stores.
 */
#ifndef CHATD_HISTORY_H
#define CHATD_HISTORY_H

#include <stdint.h>

#include "core/msg.h"

struct history {
	struct msg **slot; /* allocated on the first push */
	uint16_t cap;
	uint16_t len;
	uint16_t head;  /* index of the oldest message */
	uint32_t bytes; /* msg_size() of the messages held */
	/* The event id of the newest message the ring has let go (0: none):
	 * a reader resuming from an event id below it has missed some. */
	uint64_t gone_id;
};

void history_init(struct history *h, unsigned cap);
/* Release every message and the ring itself. */
void history_clear(struct history *h);
/* Change the ring's size to cap, keeping the newest messages that fit. */
void history_resize(struct history *h, unsigned cap);
/* Append m (taking a reference), evicting the oldest when full. */
void history_push(struct history *h, struct msg *m);
static inline unsigned
history_len(const struct history *h)
{
	return h->len;
}
/* Forget the oldest message held, if any. */
void history_drop_oldest(struct history *h);
/* The i-th message, 0 being the oldest held. */
struct msg *history_at(const struct history *h, unsigned i);
/*
 * Index of the first held message with seq > since, or history_len() when
 * none is newer.  Sequence numbers in the ring are contiguous, so this is
 * arithmetic, not a search.
 */
unsigned history_after(const struct history *h, uint64_t since);

#endif
