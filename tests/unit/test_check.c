/*
 * Unit tests of the swarm's sequence checker (src/swarm/check.c): an in-order
 * stream counts only ok; a gap counts lost; a late arrival inside the
 * window turns one loss into one reordering; a repeat, or a number older
 * than the window, is a duplicate; check_sync() starts a stream with
 * everything before it taken as seen; check_skip() jumps over announced
 * numbers without counting loss; check_replayed() takes history the
 * stream already has as the same message again.  A room's record
 * (check_room) takes one message per number, and finds a sender's message
 * twice or out of order along the numbers.  Long seeded random runs are
 * compared, call by call, with a simple reference model that remembers
 * every number.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "swarm/check.h"

static void
assert_counts(const struct check_counts *c, uint64_t ok, uint64_t lost, uint64_t dup,
              uint64_t reordered, uint64_t missed)
{
	assert_int_equal(c->ok, ok);
	assert_int_equal(c->lost, lost);
	assert_int_equal(c->dup, dup);
	assert_int_equal(c->reordered, reordered);
	assert_int_equal(c->missed_announced, missed);
}

static void
check_in_order_stream_counts_only_ok(void **state)
{
	struct check_stream s;
	struct check_counts c;
	uint64_t n;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_init(&s);
	assert_int_equal(s.next, 0);
	/* The first number synchronises the stream: no loss before it. */
	for (n = 1000; n < 1000 + 10 * CHECK_WINDOW; n++)
		assert_int_equal(check_seq(&s, n, &c), CHECK_OK);
	assert_counts(&c, 10 * (uint64_t)CHECK_WINDOW, 0, 0, 0, 0);
	assert_int_equal(s.next, 1000 + 10 * CHECK_WINDOW);
}

static void
check_stream_may_start_at_zero(void **state)
{
	struct check_stream s;
	struct check_counts c;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_init(&s);
	assert_int_equal(check_seq(&s, 0, &c), CHECK_OK);
	assert_int_equal(check_seq(&s, 1, &c), CHECK_OK);
	assert_int_equal(check_seq(&s, 0, &c), CHECK_DUP);
	assert_int_equal(check_seq(&s, 3, &c), CHECK_GAP);
	assert_counts(&c, 3, 1, 1, 0, 0);
}

static void
check_gap_counts_lost(void **state)
{
	struct check_stream s;
	struct check_counts c;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_init(&s);
	assert_int_equal(check_seq(&s, 1, &c), CHECK_OK);
	assert_int_equal(check_seq(&s, 2, &c), CHECK_OK);
	assert_int_equal(check_seq(&s, 5, &c), CHECK_GAP); /* 3, 4 */
	assert_counts(&c, 3, 2, 0, 0, 0);
	assert_int_equal(check_seq(&s, 6, &c), CHECK_OK);
	/* A gap wider than the window. */
	assert_int_equal(check_seq(&s, 7 + 3 * CHECK_WINDOW, &c), CHECK_GAP);
	assert_counts(&c, 5, 2 + 3 * CHECK_WINDOW, 0, 0, 0);
	assert_int_equal(check_seq(&s, 8 + 3 * CHECK_WINDOW, &c), CHECK_OK);
	assert_int_equal(s.next, 9 + 3 * CHECK_WINDOW);
}

static void
check_late_arrival_in_window_turns_one_loss_into_one_reordering(void **state)
{
	struct check_stream s;
	struct check_counts c;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_init(&s);
	check_seq(&s, 10, &c);
	assert_int_equal(check_seq(&s, 14, &c), CHECK_GAP); /* 11, 12, 13 */
	assert_counts(&c, 2, 3, 0, 0, 0);
	assert_int_equal(check_seq(&s, 12, &c), CHECK_REORDER);
	assert_counts(&c, 3, 2, 0, 1, 0);
	assert_int_equal(check_seq(&s, 11, &c), CHECK_REORDER);
	assert_int_equal(check_seq(&s, 13, &c), CHECK_REORDER);
	assert_counts(&c, 5, 0, 0, 3, 0);
	/* Filled: a second copy is a duplicate, not another reordering. */
	assert_int_equal(check_seq(&s, 12, &c), CHECK_DUP);
	assert_counts(&c, 5, 0, 1, 3, 0);
	assert_int_equal(s.next, 15);
}

static void
check_late_arrival_at_the_window_edge_is_still_a_reordering(void **state)
{
	struct check_stream s;
	struct check_counts c;
	uint64_t next;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_init(&s);
	check_seq(&s, 100, &c);
	/* Skip 101 and 102, then run on until 101 is as far back as the
	 * window reaches, and 102 just inside. */
	for (next = 103; next < 101 + CHECK_WINDOW; next++)
		check_seq(&s, next, &c);
	assert_int_equal(s.next, 101 + CHECK_WINDOW);
	assert_int_equal(c.lost, 2);
	assert_int_equal(check_seq(&s, 101, &c), CHECK_REORDER); /* next - 101 == WINDOW */
	check_seq(&s, 101 + CHECK_WINDOW, &c);
	/* Now 102 is exactly at the edge. */
	assert_int_equal(s.next - 102, CHECK_WINDOW);
	assert_int_equal(check_seq(&s, 102, &c), CHECK_REORDER);
	assert_counts(&c, CHECK_WINDOW + 2, 0, 0, 2, 0);
}

static void
check_late_arrival_just_past_the_window_counts_dup(void **state)
{
	struct check_stream s;
	struct check_counts c;
	uint64_t next;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_init(&s);
	check_seq(&s, 100, &c);
	for (next = 102; next <= 101 + CHECK_WINDOW; next++)
		check_seq(&s, next, &c);
	assert_int_equal(s.next - 101, CHECK_WINDOW + 1);
	/* 101 was lost, and is now too old to be recognised: a duplicate,
	 * and it stays counted lost. */
	assert_int_equal(check_seq(&s, 101, &c), CHECK_DUP);
	assert_int_equal(c.lost, 1);
	assert_int_equal(c.dup, 1);
	assert_int_equal(c.reordered, 0);
}

static void
check_repeat_counts_dup(void **state)
{
	struct check_stream s;
	struct check_counts c;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_init(&s);
	assert_int_equal(check_seq(&s, 7, &c), CHECK_OK);
	assert_int_equal(check_seq(&s, 7, &c), CHECK_DUP); /* the latest, at once */
	assert_int_equal(check_seq(&s, 8, &c), CHECK_OK);
	assert_int_equal(check_seq(&s, 9, &c), CHECK_OK);
	assert_int_equal(check_seq(&s, 8, &c), CHECK_DUP); /* an earlier one */
	assert_int_equal(check_seq(&s, 7, &c), CHECK_DUP);
	assert_counts(&c, 3, 0, 3, 0, 0);
	assert_int_equal(s.next, 10);
}

static void
check_number_older_than_the_window_counts_dup(void **state)
{
	struct check_stream s;
	struct check_counts c;
	uint64_t n;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_init(&s);
	for (n = 5000; n < 5000 + 3 * CHECK_WINDOW; n++)
		check_seq(&s, n, &c);
	assert_int_equal(check_seq(&s, 5000, &c), CHECK_DUP);
	assert_int_equal(check_seq(&s, 4000, &c), CHECK_DUP); /* before the stream */
	assert_int_equal(check_seq(&s, 1, &c), CHECK_DUP);
	assert_int_equal(check_seq(&s, s.next - CHECK_WINDOW - 1, &c), CHECK_DUP);
	assert_int_equal(check_seq(&s, s.next - CHECK_WINDOW, &c), CHECK_DUP); /* seen */
	assert_counts(&c, 3 * (uint64_t)CHECK_WINDOW, 0, 5, 0, 0);
}

static void
check_sync_expects_next_and_takes_everything_before_as_seen(void **state)
{
	struct check_stream s;
	struct check_counts c;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_init(&s);
	check_sync(&s, 500);
	assert_int_equal(s.next, 500);
	/* Before next: not ours to expect, a duplicate, never a reordering. */
	assert_int_equal(check_seq(&s, 499, &c), CHECK_DUP);
	assert_int_equal(check_seq(&s, 500 - CHECK_WINDOW, &c), CHECK_DUP);
	assert_int_equal(check_seq(&s, 500, &c), CHECK_OK);
	assert_int_equal(check_seq(&s, 502, &c), CHECK_GAP);
	assert_int_equal(check_seq(&s, 501, &c), CHECK_REORDER);
	assert_counts(&c, 3, 0, 2, 1, 0);
	/* A sync before any number means a gap at the first one is loss. */
	memset(&c, 0, sizeof(c));
	check_init(&s);
	check_sync(&s, 10);
	assert_int_equal(check_seq(&s, 13, &c), CHECK_GAP);
	assert_counts(&c, 1, 3, 0, 0, 0);
}

static void
check_sync_mid_stream_restarts_the_expectation(void **state)
{
	struct check_stream s;
	struct check_counts c;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_init(&s);
	check_seq(&s, 1, &c);
	check_seq(&s, 3, &c); /* 2 lost */
	check_sync(&s, 100);  /* a rejoin: 4..99 are not expected */
	assert_int_equal(check_seq(&s, 2, &c), CHECK_DUP);
	assert_int_equal(check_seq(&s, 50, &c), CHECK_DUP);
	assert_int_equal(check_seq(&s, 100, &c), CHECK_OK);
	assert_counts(&c, 3, 1, 2, 0, 0);
}

static void
check_skip_counts_missed_announced_and_not_loss(void **state)
{
	struct check_stream s;
	struct check_counts c;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_init(&s);
	check_seq(&s, 1, &c);
	check_seq(&s, 2, &c);
	check_skip(&s, 10, &c); /* 3..10 announced missing */
	assert_counts(&c, 2, 0, 0, 0, 8);
	assert_int_equal(s.next, 11);
	assert_int_equal(check_seq(&s, 11, &c), CHECK_OK);
	assert_counts(&c, 3, 0, 0, 0, 8);
	/* A skip wider than the window. */
	check_skip(&s, 11 + 5 * CHECK_WINDOW, &c);
	assert_counts(&c, 3, 0, 0, 0, 8 + 5 * CHECK_WINDOW);
	assert_int_equal(check_seq(&s, 12 + 5 * CHECK_WINDOW, &c), CHECK_OK);
	assert_counts(&c, 4, 0, 0, 0, 8 + 5 * CHECK_WINDOW);
}

static void
check_skip_of_nothing_new_changes_nothing(void **state)
{
	struct check_stream s, before;
	struct check_counts c;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_init(&s);
	check_skip(&s, 100, &c); /* not synchronised yet: ignored */
	assert_int_equal(s.next, 0);
	check_seq(&s, 20, &c);
	before = s;
	check_skip(&s, 19, &c); /* all already behind */
	check_skip(&s, 5, &c);
	assert_memory_equal(&s, &before, sizeof(s));
	assert_counts(&c, 1, 0, 0, 0, 0);
	check_skip(&s, 21, &c); /* exactly next: one number */
	assert_counts(&c, 1, 0, 0, 0, 1);
	assert_int_equal(s.next, 22);
}

static void
check_late_copy_of_a_skipped_number_counts_dup(void **state)
{
	struct check_stream s;
	struct check_counts c;
	uint64_t n;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_init(&s);
	check_seq(&s, 1, &c);
	check_skip(&s, 10, &c);
	for (n = 2; n <= 10; n++)
		assert_int_equal(check_seq(&s, n, &c), CHECK_DUP);
	assert_counts(&c, 1, 0, 9, 0, 9);
	/* And after a skip wider than the window, too. */
	check_skip(&s, 10 + 2 * CHECK_WINDOW, &c);
	for (n = 11; n <= 10 + 2 * CHECK_WINDOW; n++)
		assert_int_equal(check_seq(&s, n, &c), CHECK_DUP);
	assert_counts(&c, 1, 0, 9 + 2 * CHECK_WINDOW, 0, 9 + 2 * CHECK_WINDOW);
	/* A gap lost before a skip stays lost, and a late copy of it that is
	 * still in the window is a reordering. */
	memset(&c, 0, sizeof(c));
	check_init(&s);
	check_seq(&s, 1, &c);
	check_seq(&s, 3, &c);   /* 2 lost */
	check_skip(&s, 20, &c); /* 4..20 announced */
	assert_counts(&c, 2, 1, 0, 0, 17);
	assert_int_equal(check_seq(&s, 2, &c), CHECK_REORDER);
	assert_int_equal(check_seq(&s, 15, &c), CHECK_DUP);
	assert_counts(&c, 3, 0, 1, 1, 17);
}

static void
check_replayed_history_already_seen_is_again_not_dup(void **state)
{
	struct check_stream s;
	struct check_counts c;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_init(&s);
	check_seq(&s, 1000, &c);
	check_seq(&s, 1001, &c);
	check_seq(&s, 1003, &c); /* 1002 lost */
	/* A rejoin's history that overlaps what the stream has: the same
	 * messages again, by room, epoch and number. */
	assert_int_equal(check_replayed(&s, 1001, &c), CHECK_AGAIN);
	assert_int_equal(check_replayed(&s, 1003, &c), CHECK_AGAIN);
	/* Older than the window: nothing to tell it by, and history: again. */
	assert_int_equal(check_replayed(&s, 1000 - CHECK_WINDOW, &c), CHECK_AGAIN);
	assert_counts(&c, 3, 1, 0, 0, 0);
	assert_int_equal(c.again, 3);
	/* What the stream lacks is checked as any number: 1002 fills the
	 * gap, 1004 and 1006 run on (1005 lost). */
	assert_int_equal(check_replayed(&s, 1002, &c), CHECK_REORDER);
	assert_int_equal(check_replayed(&s, 1004, &c), CHECK_OK);
	assert_int_equal(check_replayed(&s, 1006, &c), CHECK_GAP);
	assert_counts(&c, 6, 1, 0, 1, 0);
	/* Live, a repeat is still a duplicate. */
	assert_int_equal(check_seq(&s, 1004, &c), CHECK_DUP);
	assert_int_equal(c.dup, 1);
	assert_int_equal(c.again, 3);
	/* An unsynchronised stream takes history as check_seq() does. */
	memset(&c, 0, sizeof(c));
	check_init(&s);
	assert_int_equal(check_replayed(&s, 5, &c), CHECK_OK);
	assert_int_equal(check_replayed(&s, 5, &c), CHECK_AGAIN);
	assert_counts(&c, 1, 0, 0, 0, 0);
}

static void
check_room_same_message_at_a_number_is_ok_another_is_conflict(void **state)
{
	struct check_room r;
	uint32_t sender;
	uint64_t pseq;

	(void)state;
	check_room_init(&r);
	assert_int_equal(check_room_at(&r, 1, &sender, &pseq), 0);
	assert_int_equal(check_room_note(&r, 1, 7, 1), CHECK_OK);
	assert_int_equal(check_room_note(&r, 1, 7, 1), CHECK_OK); /* an ACK, then deliveries */
	assert_int_equal(check_room_note(&r, 1, 7, 1), CHECK_OK);
	assert_int_equal(check_room_note(&r, 1, 8, 1), CHECK_CONFLICT); /* another sender */
	assert_int_equal(check_room_note(&r, 1, 7, 2), CHECK_CONFLICT); /* another message */
	assert_int_equal(r.conflicts, 1);                               /* one number */
	/* Numbers come in any order, far apart, and grow the record. */
	assert_int_equal(check_room_note(&r, 5000, 9, 3), CHECK_OK);
	assert_int_equal(check_room_note(&r, 2, 7, 2), CHECK_OK);
	assert_int_equal(check_room_note(&r, 2, 7, 3), CHECK_CONFLICT);
	assert_int_equal(r.conflicts, 2);
	assert_int_equal(r.top, 5000);
	assert_int_equal(check_room_at(&r, 2, &sender, &pseq), 1);
	assert_int_equal(sender, 7);
	assert_int_equal(pseq, 2);
	assert_int_equal(check_room_at(&r, 3, &sender, &pseq), 0);
	assert_int_equal(check_room_at(&r, 5001, &sender, &pseq), 0);
	/* The record's first record stays after a conflict. */
	assert_int_equal(check_room_at(&r, 1, &sender, &pseq), 1);
	assert_int_equal(sender, 7);
	assert_int_equal(pseq, 1);
	/* Past what a record holds: unchecked; 0, which no message has: ignored. */
	assert_int_equal(check_room_note(&r, CHECK_ROOM_MAX + 1, 1, 1), CHECK_OK);
	assert_int_equal(check_room_note(&r, 0, 1, 1), CHECK_OK);
	assert_int_equal(r.beyond, 1);
	assert_int_equal(r.top, 5000);
	check_room_free(&r);
	assert_null(r.ent);
}

static void
check_room_new_epoch_starts_over_first_one_keeps_what_was_noted(void **state)
{
	struct check_room r;
	uint32_t sender;
	uint64_t pseq;

	(void)state;
	check_room_init(&r);
	/* A join's history is noted before its epoch is known. */
	check_room_note(&r, 1, 3, 1);
	assert_int_equal(check_room_epoch(&r, 77), 0);
	assert_int_equal(check_room_at(&r, 1, &sender, &pseq), 1);
	assert_int_equal(check_room_epoch(&r, 77), 0);
	assert_int_equal(check_room_at(&r, 1, &sender, &pseq), 1);
	/* Another epoch: the numbers mean other messages now. */
	assert_int_equal(check_room_epoch(&r, 78), 1);
	assert_int_equal(check_room_at(&r, 1, &sender, &pseq), 0);
	assert_int_equal(r.top, 0);
	assert_int_equal(check_room_note(&r, 1, 4, 1), CHECK_OK);
	check_room_free(&r);
}

static void
check_room_numbers_before_the_base_are_another_runs(void **state)
{
	struct check_room r;
	struct check_room_counts c;
	uint32_t sender;
	uint64_t pseq;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_room_init(&r);
	/* A first join's history: a run before this one, by bots of the same
	 * ids, whose messages 1 and 2 are this run's numbers too. */
	check_room_note(&r, 1, 5, 1);
	check_room_note(&r, 2, 5, 2);
	check_room_epoch(&r, 9);
	check_room_base(&r, 2);
	assert_int_equal(check_room_at(&r, 2, &sender, &pseq), 0);
	assert_int_equal(r.top, 0);
	/* This run: sender 5 from 1 again; late copies of the old ones are
	 * not recorded, and a second base changes nothing. */
	assert_int_equal(check_room_note(&r, 3, 5, 1), CHECK_OK);
	assert_int_equal(check_room_note(&r, 4, 5, 2), CHECK_OK);
	assert_int_equal(check_room_note(&r, 1, 6, 7), CHECK_OK);
	check_room_base(&r, 3);
	assert_int_equal(check_room_at(&r, 3, &sender, &pseq), 1);
	assert_int_equal(check_room_verify(&r, &c), 0);
	assert_int_equal(c.dup, 0);
	assert_int_equal(c.reordered, 0);
	assert_int_equal(c.unseen, 0);
	/* A new epoch numbers from 1 again, and takes a base of its own. */
	check_room_epoch(&r, 10);
	check_room_base(&r, 0);
	assert_int_equal(check_room_note(&r, 1, 5, 3), CHECK_OK);
	assert_int_equal(check_room_at(&r, 1, &sender, &pseq), 1);
	check_room_free(&r);
}

/* Note the messages of v (sender, pseq), at numbers 1, 2, ..., and verify. */
static struct check_room_counts
room_verify_of(const uint64_t (*v)[2], size_t n)
{
	struct check_room r;
	struct check_room_counts out;
	size_t i;

	memset(&out, 0, sizeof(out));
	check_room_init(&r);
	for (i = 0; i < n; i++)
		if (v[i][0])
			assert_int_equal(check_room_note(&r, i + 1, (uint32_t)v[i][0], v[i][1]),
			                 CHECK_OK);
	assert_int_equal(check_room_verify(&r, &out), 0);
	check_room_free(&r);
	return out;
}

static void
check_room_verify_finds_a_senders_message_twice_or_out_of_order(void **state)
{
	/* Three senders interleaved, each in order, gaps in their own numbers
	 * (messages whose ACK went with a restart and that never made it). */
	static const uint64_t clean[][2] = {{1, 1}, {2, 1}, {1, 2}, {3, 5}, {2, 4},
	                                    {1, 3}, {3, 6}, {1, 7}, {2, 5}};
	/* Sender 1's message 2 at a second number (an unacknowledged message
	 * stored twice), and a number no bot saw (sender 0: none). */
	static const uint64_t twice[][2] = {{1, 1}, {1, 2}, {2, 1}, {0, 0}, {1, 2}, {1, 3}};
	/* Sender 2's 4 after its 5; sender 1's 1 after 2, 3 and 4. */
	static const uint64_t swapped[][2] = {{2, 3}, {2, 5}, {2, 4}, {1, 2},
	                                      {1, 3}, {1, 4}, {1, 1}, {2, 6}};
	/* Both: 3 again after 4, and 2 after 4. */
	static const uint64_t both[][2] = {{1, 1}, {1, 3}, {1, 4}, {1, 3}, {1, 2}, {1, 5}};
	struct check_room_counts c;
	struct check_room empty;

	(void)state;
	c = room_verify_of(clean, sizeof(clean) / sizeof(clean[0]));
	assert_int_equal(c.dup, 0);
	assert_int_equal(c.reordered, 0);
	assert_int_equal(c.unseen, 0);
	c = room_verify_of(twice, sizeof(twice) / sizeof(twice[0]));
	assert_int_equal(c.dup, 1);
	assert_int_equal(c.reordered, 0);
	assert_int_equal(c.unseen, 1);
	c = room_verify_of(swapped, sizeof(swapped) / sizeof(swapped[0]));
	assert_int_equal(c.dup, 0);
	assert_int_equal(c.reordered, 2);
	c = room_verify_of(both, sizeof(both) / sizeof(both[0]));
	assert_int_equal(c.dup, 1);
	assert_int_equal(c.reordered, 1);
	/* A room no one saw a number of. */
	memset(&c, 0, sizeof(c));
	check_room_init(&empty);
	assert_int_equal(check_room_verify(&empty, &c), 0);
	assert_int_equal(c.unseen, 0);
}

/* ---- long random runs against a reference model ---- */

/* xorshift64*: a small seeded generator, so that a failure is repeatable. */
static uint64_t
rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, n). */
static uint64_t
below(uint64_t *x, uint64_t n)
{
	return rnd(x) % n;
}

/* The reference: every number's receipt remembered exactly, in a bitmap
 * as long as the run. */
struct model {
	uint64_t next;  /* 0: not synchronised */
	uint64_t start; /* numbers below this are taken as seen */
	uint8_t *seen;  /* by number */
	size_t cap;
	struct check_counts c;
};

static int
model_seen(const struct model *m, uint64_t seq)
{
	return seq < m->start || (seq < m->cap && m->seen[seq]);
}

static void
model_mark(struct model *m, uint64_t seq)
{
	assert_true(seq < m->cap);
	m->seen[seq] = 1;
}

static enum check_result
model_seq(struct model *m, uint64_t seq)
{
	enum check_result r = CHECK_OK;

	if (m->next == 0)
		m->next = m->start = seq;
	if (seq >= m->next) {
		if (seq > m->next) {
			m->c.lost += seq - m->next;
			r = CHECK_GAP;
		}
		model_mark(m, seq);
		m->next = seq + 1;
		m->c.ok++;
		return r;
	}
	if (m->next - seq > CHECK_WINDOW || model_seen(m, seq)) {
		m->c.dup++;
		return CHECK_DUP;
	}
	model_mark(m, seq);
	m->c.lost--;
	m->c.reordered++;
	m->c.ok++;
	return CHECK_REORDER;
}

static void
model_skip(struct model *m, uint64_t upto)
{
	uint64_t n;

	if (m->next == 0 || upto < m->next)
		return;
	m->c.missed_announced += upto + 1 - m->next;
	for (n = m->next; n <= upto; n++)
		model_mark(m, n);
	m->next = upto + 1;
}

/* What to throw at the checker: probabilities in 1/1000. */
struct mix {
	unsigned drop;  /* a number never sent */
	unsigned burst; /* a run of up to burst_len numbers dropped */
	unsigned burst_len;
	unsigned dup;  /* a number sent twice in a row */
	unsigned old;  /* a copy of an earlier number, up to 2 windows back */
	unsigned swap; /* a number held back and sent up to swap_dist later */
	unsigned swap_dist;
	unsigned skip; /* an announced skip (check_skip) */
};

enum step_kind { STEP_SEQ, STEP_SKIP };

struct step {
	uint64_t n;
	uint8_t kind;
};

/* Generate a run of about count numbers from first on. */
static struct step *
generate(uint64_t seed, uint64_t first, size_t count, const struct mix *mx, size_t *len,
         uint64_t *last)
{
	size_t cap = count * 3 + 16, k = 0, i;
	struct step *v = malloc(cap * sizeof(*v));
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1, n = first;

	assert_non_null(v);
	while (n < first + count) {
		unsigned r = (unsigned)below(&x, 1000);

		if (k + 4 > cap)
			break;
		if (r < mx->drop) {
			n++;
			continue;
		}
		r = (unsigned)below(&x, 1000);
		if (r < mx->burst) {
			n += 1 + below(&x, mx->burst_len);
			continue;
		}
		r = (unsigned)below(&x, 1000);
		if (r < mx->skip && k > 0) {
			uint64_t upto = n + below(&x, 3 * (uint64_t)CHECK_WINDOW);

			v[k++] = (struct step){upto, STEP_SKIP};
			n = upto + 1;
			continue;
		}
		v[k++] = (struct step){n, STEP_SEQ};
		if (below(&x, 1000) < mx->dup)
			v[k++] = (struct step){n, STEP_SEQ};
		if (below(&x, 1000) < mx->old && n > first) {
			uint64_t back = 1 + below(&x, 2 * (uint64_t)CHECK_WINDOW);

			v[k++] = (struct step){n > first + back ? n - back : first, STEP_SEQ};
		}
		n++;
	}
	/* Swaps: move a number later in the stream, over other numbers. */
	for (i = 0; i + 1 < k; i++) {
		if (below(&x, 1000) < mx->swap) {
			size_t j = i + 1 + (size_t)below(&x, mx->swap_dist);
			struct step t;

			if (j >= k)
				j = k - 1;
			t = v[i];
			memmove(&v[i], &v[i + 1], (j - i) * sizeof(*v));
			v[j] = t;
		}
	}
	*len = k;
	*last = n;
	return v;
}

/* Play a run through the checker and the model, comparing every result
 * and, at the end, every count. */
static void
run_against_model(uint64_t seed, uint64_t first, size_t count, const struct mix *mx, int sync,
                  struct check_counts *out)
{
	struct check_stream s;
	struct check_counts c;
	struct model m;
	struct step *v;
	uint64_t last, n = 0;
	size_t len, i;
	enum check_result want = CHECK_OK, got = CHECK_OK;

	v = generate(seed, first, count, mx, &len, &last);
	memset(&c, 0, sizeof(c));
	memset(&m, 0, sizeof(m));
	m.cap = (size_t)last + 4 * (size_t)CHECK_WINDOW;
	m.seen = calloc(m.cap, 1);
	assert_non_null(m.seen);
	check_init(&s);
	if (sync) {
		check_sync(&s, first);
		m.next = m.start = first;
	}
	for (i = 0; i < len; i++) {
		if (v[i].kind == STEP_SKIP) {
			check_skip(&s, v[i].n, &c);
			model_skip(&m, v[i].n);
		} else {
			want = model_seq(&m, v[i].n);
			got = check_seq(&s, v[i].n, &c);
			if (got != want) {
				n = v[i].n;
				break;
			}
		}
	}
	free(v);
	free(m.seen);
	if (got != want)
		fail_msg("seed %llu step %zu: seq %llu gave %d, the model %d",
		         (unsigned long long)seed, i, (unsigned long long)n, (int)got, (int)want);
	assert_int_equal(s.next, m.next);
	assert_counts(&c, m.c.ok, m.c.lost, m.c.dup, m.c.reordered, m.c.missed_announced);
	if (out)
		*out = c;
}

static void
check_long_runs_with_drops_dups_and_swaps_match_reference_model(void **state)
{
	static const struct mix mx = {
	        .drop = 20,
	        .burst = 2,
	        .burst_len = 40,
	        .dup = 20,
	        .old = 5,
	        .swap = 30,
	        .swap_dist = 40,
	};
	struct check_counts c;
	uint64_t seed;

	(void)state;
	for (seed = 1; seed <= 8; seed++) {
		run_against_model(seed, 1 + seed * 1000, 100000, &mx, 0, &c);
		/* The run exercised every kind of outcome. */
		assert_true(c.lost > 0);
		assert_true(c.dup > 0);
		assert_true(c.reordered > 0);
		assert_true(c.ok > 90000);
	}
}

static void
check_long_runs_with_wide_gaps_and_far_swaps_match_reference_model(void **state)
{
	/* Gaps and displacements around and beyond the window's width. */
	static const struct mix mx = {
	        .drop = 50,
	        .burst = 5,
	        .burst_len = 3 * CHECK_WINDOW,
	        .dup = 50,
	        .old = 30,
	        .swap = 20,
	        .swap_dist = 2 * CHECK_WINDOW,
	};
	struct check_counts c;
	uint64_t seed;

	(void)state;
	for (seed = 100; seed < 104; seed++) {
		run_against_model(seed, 1, 100000, &mx, 1, &c);
		assert_true(c.lost > 0);
		assert_true(c.dup > 0);
		assert_true(c.reordered > 0);
	}
}

static void
check_long_runs_with_announced_skips_match_reference_model(void **state)
{
	static const struct mix mx = {
	        .drop = 10,
	        .burst = 1,
	        .burst_len = 100,
	        .dup = 10,
	        .old = 10,
	        .swap = 20,
	        .swap_dist = 30,
	        .skip = 2,
	};
	struct check_counts c;
	uint64_t seed;

	(void)state;
	for (seed = 200; seed < 204; seed++) {
		run_against_model(seed, 77, 100000, &mx, seed & 1, &c);
		assert_true(c.missed_announced > 0);
		assert_true(c.reordered > 0);
	}
}

static void
check_long_clean_run_counts_only_ok(void **state)
{
	static const struct mix mx = {0};
	struct check_counts c;

	(void)state;
	run_against_model(42, 1, 100000, &mx, 0, &c);
	assert_counts(&c, 100000, 0, 0, 0, 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(check_in_order_stream_counts_only_ok),
	        cmocka_unit_test(check_stream_may_start_at_zero),
	        cmocka_unit_test(check_gap_counts_lost),
	        cmocka_unit_test(check_late_arrival_in_window_turns_one_loss_into_one_reordering),
	        cmocka_unit_test(check_late_arrival_at_the_window_edge_is_still_a_reordering),
	        cmocka_unit_test(check_late_arrival_just_past_the_window_counts_dup),
	        cmocka_unit_test(check_repeat_counts_dup),
	        cmocka_unit_test(check_number_older_than_the_window_counts_dup),
	        cmocka_unit_test(check_sync_expects_next_and_takes_everything_before_as_seen),
	        cmocka_unit_test(check_sync_mid_stream_restarts_the_expectation),
	        cmocka_unit_test(check_skip_counts_missed_announced_and_not_loss),
	        cmocka_unit_test(check_skip_of_nothing_new_changes_nothing),
	        cmocka_unit_test(check_late_copy_of_a_skipped_number_counts_dup),
	        cmocka_unit_test(check_replayed_history_already_seen_is_again_not_dup),
	        cmocka_unit_test(check_room_same_message_at_a_number_is_ok_another_is_conflict),
	        cmocka_unit_test(check_room_new_epoch_starts_over_first_one_keeps_what_was_noted),
	        cmocka_unit_test(check_room_numbers_before_the_base_are_another_runs),
	        cmocka_unit_test(check_room_verify_finds_a_senders_message_twice_or_out_of_order),
	        cmocka_unit_test(check_long_runs_with_drops_dups_and_swaps_match_reference_model),
	        cmocka_unit_test(
	                check_long_runs_with_wide_gaps_and_far_swaps_match_reference_model),
	        cmocka_unit_test(check_long_runs_with_announced_skips_match_reference_model),
	        cmocka_unit_test(check_long_clean_run_counts_only_ok),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
