/*
 * Sequence checking with a sliding bitmap of recent receipts, and each
 * room's record of what its numbers stood for.
 */
#include "swarm/check.h"

#include <stdlib.h>
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

/* check.h: history at a join; what the stream has is not a duplicate. */
enum check_result
check_replayed(struct check_stream *s, uint64_t seq, struct check_counts *c)
{
	if (s->next != 0 && seq < s->next && (s->next - seq > CHECK_WINDOW || bit_get(s, seq))) {
		c->again++;
		return CHECK_AGAIN;
	}
	return check_seq(s, seq, c);
}

/* ---- a room's numbers across the bots ---- */

void
check_room_init(struct check_room *r)
{
	memset(r, 0, sizeof(*r));
}

void
check_room_free(struct check_room *r)
{
	free(r->ent);
	check_room_init(r);
}

int
check_room_epoch(struct check_room *r, uint64_t epoch)
{
	if (r->epoch == epoch)
		return 0;
	if (r->epoch == 0) {
		/* What was noted before the epoch was known is of this one. */
		r->epoch = epoch;
		return 0;
	}
	if (r->ent)
		memset(r->ent, 0, r->cap * sizeof(*r->ent));
	r->top = 0;
	r->beyond = 0;
	r->base = 0;
	r->based = 0;
	r->epoch = epoch;
	return 1;
}

void
check_room_base(struct check_room *r, uint64_t base)
{
	uint64_t n = base < r->cap ? base : r->cap;

	if (r->based)
		return;
	r->based = 1;
	r->base = base;
	if (r->ent)
		memset(r->ent, 0, n * sizeof(*r->ent));
	if (r->top <= base)
		r->top = 0;
}

int
check_room_note(struct check_room *r, uint64_t seq, uint32_t sender, uint64_t pseq)
{
	struct check_room_ent *e;

	if (seq <= r->base)
		return CHECK_OK;
	if (seq > CHECK_ROOM_MAX) {
		r->beyond++;
		return CHECK_OK;
	}
	if (seq > r->cap) {
		uint64_t cap = r->cap ? r->cap : 1024;
		struct check_room_ent *v;

		while (cap < seq)
			cap *= 2;
		if ((v = realloc(r->ent, cap * sizeof(*v))) == NULL)
			return -1;
		memset(v + r->cap, 0, (cap - r->cap) * sizeof(*v));
		r->ent = v;
		r->cap = cap;
	}
	e = &r->ent[seq - 1];
	if (!e->seen) {
		e->seen = 1;
		e->sender = sender;
		e->pseq = pseq;
		if (seq > r->top)
			r->top = seq;
		return CHECK_OK;
	}
	if (e->sender == sender && e->pseq == pseq)
		return CHECK_OK;
	if (!e->conflict) {
		e->conflict = 1;
		r->conflicts++;
	}
	return CHECK_CONFLICT;
}

int
check_room_at(const struct check_room *r, uint64_t seq, uint32_t *sender, uint64_t *pseq)
{
	const struct check_room_ent *e;

	if (seq <= r->base || seq > r->top)
		return 0;
	e = &r->ent[seq - 1];
	if (!e->seen)
		return 0;
	*sender = e->sender;
	*pseq = e->pseq;
	return 1;
}

/* A recorded number, sorted by sender and then by its pseq or number. */
struct by_sender {
	uint32_t sender;
	uint8_t again; /* the sender's pseq at an earlier number too */
	uint64_t seq;
	uint64_t pseq;
};

static int
by_pseq(const void *a, const void *b)
{
	const struct by_sender *x = a, *y = b;

	if (x->sender != y->sender)
		return x->sender < y->sender ? -1 : 1;
	if (x->pseq != y->pseq)
		return x->pseq < y->pseq ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
by_seq(const void *a, const void *b)
{
	const struct by_sender *x = a, *y = b;

	if (x->sender != y->sender)
		return x->sender < y->sender ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int
check_room_verify(const struct check_room *r, struct check_room_counts *out)
{
	struct by_sender *v;
	uint64_t seq, n = 0, i, high = 0;

	if (r->top <= r->base)
		return 0;
	if ((v = malloc((r->top - r->base) * sizeof(*v))) == NULL)
		return -1;
	for (seq = r->base + 1; seq <= r->top; seq++) {
		const struct check_room_ent *e = &r->ent[seq - 1];

		if (!e->seen) {
			out->unseen++;
			continue;
		}
		v[n++] = (struct by_sender){e->sender, 0, seq, e->pseq};
	}
	/* A sender's message at a second number is a duplicate... */
	qsort(v, (size_t)n, sizeof(*v), by_pseq);
	for (i = 1; i < n; i++) {
		if (v[i].sender == v[i - 1].sender && v[i].pseq == v[i - 1].pseq) {
			v[i].again = 1;
			out->dup++;
		}
	}
	/* ...and, the duplicates aside, one whose pseq is below that of an
	 * earlier number (high: the sender's highest so far) came after a
	 * later message of its sender: each such one counts. */
	qsort(v, (size_t)n, sizeof(*v), by_seq);
	for (i = 0; i < n; i++) {
		if (i == 0 || v[i].sender != v[i - 1].sender)
			high = 0;
		if (v[i].again)
			continue;
		if (v[i].pseq < high)
			out->reordered++;
		else
			high = v[i].pseq;
	}
	free(v);
	return 0;
}
