/*
 * Sequence checking with a sliding bitmap of recent receipts.
 */
#include "swarm/check.h"

#include <string.h>

void
check_init(struct check_stream *s)
{
	memset(s, 0, sizeof(*s));
}

static int
bit_get(const struct check_stream *s, uint64_t seq)
{
	uint64_t i = seq % CHECK_WINDOW;

	return (int)(s->seen[i / 64] >> (i % 64) & 1);
}

static void
bit_put(struct check_stream *s, uint64_t seq, int v)
{
	uint64_t i = seq % CHECK_WINDOW;

	if (v)
		s->seen[i / 64] |= 1ull << (i % 64);
	else
		s->seen[i / 64] &= ~(1ull << (i % 64));
}

void
check_sync(struct check_stream *s, uint64_t next)
{
	/* Everything before next counts as seen: it is not ours to expect. */
	memset(s->seen, 0xff, sizeof(s->seen));
	s->next = next;
}

/* Advance next to upto + 1, clearing the bits of the numbers passed over
 * (they are unseen) and keeping the window consistent. */
static void
advance(struct check_stream *s, uint64_t upto)
{
	uint64_t n;

	if (upto + 1 - s->next >= CHECK_WINDOW) {
		memset(s->seen, 0, sizeof(s->seen));
		s->next = upto + 1;
		return;
	}
	for (n = s->next; n <= upto; n++)
		bit_put(s, n, 0);
	s->next = upto + 1;
}

enum check_result
check_seq(struct check_stream *s, uint64_t seq, struct check_counts *c)
{
	enum check_result r = CHECK_OK;

	if (s->next == 0)
		check_sync(s, seq);
	if (seq >= s->next) {
		if (seq > s->next) {
			c->lost += seq - s->next;
			r = CHECK_GAP;
		}
		advance(s, seq);
		bit_put(s, seq, 1);
		c->ok++;
		return r;
	}
	if (s->next - seq > CHECK_WINDOW || bit_get(s, seq)) {
		c->dup++;
		return CHECK_DUP;
	}
	bit_put(s, seq, 1);
	c->lost--;
	c->reordered++;
	c->ok++;
	return CHECK_REORDER;
}

void
check_skip(struct check_stream *s, uint64_t upto, struct check_counts *c)
{
	uint64_t from = s->next, n;

	if (s->next == 0 || upto < s->next)
		return;
	c->missed_announced += upto + 1 - from;
	advance(s, upto);
	/* The skipped numbers were not lost: mark them seen so that a late
	 * copy counts as a duplicate, not a reordering. */
	if (upto + 1 - from > CHECK_WINDOW)
		from = upto + 1 - CHECK_WINDOW;
	for (n = from; n <= upto; n++)
		bit_put(s, n, 1);
}
