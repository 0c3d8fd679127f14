/*
 * Unit tests of the history ring (src/core/history.c): what it keeps, in which
 * order, the references it holds on messages, and the cursor arithmetic of
 * history_after() that joins with a (epoch, since) cursor rely on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/history.h"
#include "core/msg.h"

/* A room message with sequence number seq, its text "m<seq>". */
static struct msg *
make(uint64_t seq)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "m%" PRIu64, seq);

	return msg_new("lobby", 5, "alice", 5, text, (size_t)n, seq, 1000 + seq, 0);
}

/* Push messages first..last (inclusive), keeping no reference of our own. */
static void
push_range(struct history *h, uint64_t first, uint64_t last)
{
	uint64_t s;

	for (s = first; s <= last; s++) {
		struct msg *m = make(s);

		history_push(h, m);
		msg_unref(m);
	}
}

/* The ring holds exactly seqs first..last, oldest first. */
static void
assert_holds(const struct history *h, uint64_t first, uint64_t last)
{
	unsigned i;

	assert_int_equal(history_len(h), last - first + 1);
	for (i = 0; i < history_len(h); i++) {
		char text[32];

		snprintf(text, sizeof(text), "m%" PRIu64, first + i);
		assert_int_equal(history_at(h, i)->seq, first + i);
		assert_string_equal(history_at(h, i)->text, text);
	}
}

static void
history_new_ring_is_empty(void **state)
{
	struct history h;

	(void)state;
	history_init(&h, 50);
	assert_int_equal(history_len(&h), 0);
	assert_int_equal(history_after(&h, 0), 0);
	assert_int_equal(history_after(&h, 99), 0);
	history_clear(&h);
}

static void
history_push_below_cap_keeps_all_oldest_first(void **state)
{
	struct history h;

	(void)state;
	history_init(&h, 10);
	push_range(&h, 1, 7);
	assert_holds(&h, 1, 7);
	history_clear(&h);
}

static void
history_push_to_exactly_cap_keeps_all(void **state)
{
	struct history h;

	(void)state;
	history_init(&h, 10);
	push_range(&h, 1, 10);
	assert_holds(&h, 1, 10);
	history_clear(&h);
}

static void
history_wraps_around_keeping_last_n_oldest_first(void **state)
{
	struct history h;
	uint64_t last;

	(void)state;
	history_init(&h, 10);
	/* Check after every push across several full turns of the ring. */
	for (last = 1; last <= 37; last++) {
		push_range(&h, last, last);
		assert_holds(&h, last > 10 ? last - 9 : 1, last);
	}
	history_clear(&h);
}

static void
history_keeps_last_50_of_120(void **state)
{
	struct history h;

	(void)state;
	history_init(&h, 50);
	push_range(&h, 1, 120);
	assert_holds(&h, 71, 120);
	history_clear(&h);
}

static void
history_of_cap_1_keeps_only_the_newest(void **state)
{
	struct history h;

	(void)state;
	history_init(&h, 1);
	push_range(&h, 1, 5);
	assert_holds(&h, 5, 5);
	history_clear(&h);
}

static void
history_takes_a_reference_on_push(void **state)
{
	struct history h;
	struct msg *m = make(1);

	(void)state;
	history_init(&h, 4);
	history_push(&h, m);
	assert_int_equal(m->refs, 2);
	assert_ptr_equal(history_at(&h, 0), m);
	history_clear(&h);
	assert_int_equal(m->refs, 1);
	msg_unref(m);
}

static void
history_releases_reference_on_eviction(void **state)
{
	struct history h;
	struct msg *m[6];
	int i;

	(void)state;
	history_init(&h, 3);
	for (i = 0; i < 6; i++) {
		m[i] = make((uint64_t)i + 1);
		history_push(&h, m[i]);
	}
	/* The three oldest were evicted, the three newest are still held. */
	for (i = 0; i < 3; i++)
		assert_int_equal(m[i]->refs, 1);
	for (i = 3; i < 6; i++)
		assert_int_equal(m[i]->refs, 2);
	history_clear(&h);
	for (i = 0; i < 6; i++) {
		assert_int_equal(m[i]->refs, 1);
		msg_unref(m[i]);
	}
}

static void
history_clear_releases_every_reference_and_empties_ring(void **state)
{
	struct history h;
	struct msg *m[5];
	int i;

	(void)state;
	history_init(&h, 8);
	for (i = 0; i < 5; i++) {
		m[i] = make((uint64_t)i + 1);
		history_push(&h, m[i]);
	}
	history_clear(&h);
	assert_int_equal(history_len(&h), 0);
	assert_null(h.slot);
	for (i = 0; i < 5; i++) {
		assert_int_equal(m[i]->refs, 1);
		msg_unref(m[i]);
	}
}

static void
history_is_reusable_after_clear(void **state)
{
	struct history h;

	(void)state;
	history_init(&h, 4);
	push_range(&h, 1, 9);
	history_clear(&h);
	push_range(&h, 1, 3);
	assert_holds(&h, 1, 3);
	history_clear(&h);
}

static void
history_clear_of_untouched_ring_is_harmless(void **state)
{
	struct history h;

	(void)state;
	history_init(&h, 4);
	history_clear(&h);
	history_clear(&h);
	assert_int_equal(history_len(&h), 0);
}

static void
history_of_cap_0_stores_nothing(void **state)
{
	struct history h;
	struct msg *m = make(1);

	(void)state;
	history_init(&h, 0);
	history_push(&h, m);
	assert_int_equal(history_len(&h), 0);
	assert_int_equal(m->refs, 1); /* no reference taken */
	assert_null(h.slot);
	assert_int_equal(history_after(&h, 0), 0);
	history_clear(&h);
	msg_unref(m);
}

static void
history_after_since_before_first_returns_0(void **state)
{
	struct history h;

	(void)state;
	history_init(&h, 50);
	push_range(&h, 1, 120); /* holds 71..120 */
	assert_int_equal(history_after(&h, 0), 0);
	assert_int_equal(history_after(&h, 10), 0);
	assert_int_equal(history_after(&h, 69), 0);
	/* since = first - 1: everything held is newer, nothing missing. */
	assert_int_equal(history_after(&h, 70), 0);
	history_clear(&h);
}

static void
history_after_since_inside_returns_first_newer(void **state)
{
	struct history h;
	uint64_t since;

	(void)state;
	history_init(&h, 50);
	push_range(&h, 1, 120); /* holds 71..120 */
	for (since = 71; since < 120; since++) {
		unsigned i = history_after(&h, since);

		assert_int_equal(i, since - 70);
		assert_int_equal(history_at(&h, i)->seq, since + 1);
	}
	history_clear(&h);
}

static void
history_after_since_at_last_returns_len(void **state)
{
	struct history h;

	(void)state;
	history_init(&h, 50);
	push_range(&h, 1, 120);
	assert_int_equal(history_after(&h, 120), 50);
	history_clear(&h);
}

static void
history_after_since_beyond_last_returns_len(void **state)
{
	struct history h;

	(void)state;
	history_init(&h, 50);
	push_range(&h, 1, 120);
	assert_int_equal(history_after(&h, 121), 50);
	assert_int_equal(history_after(&h, 1000000), 50);
	assert_int_equal(history_after(&h, UINT64_MAX), 50);
	history_clear(&h);
}

static void
history_after_works_on_partly_filled_ring(void **state)
{
	struct history h;

	(void)state;
	history_init(&h, 50);
	push_range(&h, 1, 7);
	assert_int_equal(history_after(&h, 0), 0);
	assert_int_equal(history_after(&h, 1), 1);
	assert_int_equal(history_after(&h, 6), 6);
	assert_int_equal(history_after(&h, 7), 7);
	assert_int_equal(history_after(&h, 8), 7);
	history_clear(&h);
}

static void
history_shrinks_to_the_newest_and_releases_the_rest(void **state)
{
	struct history h;
	struct msg *oldest = make(1);

	(void)state;
	history_init(&h, 10);
	history_push(&h, oldest);
	push_range(&h, 2, 13); /* wrapped: holds 4..13 */
	history_resize(&h, 4);
	assert_holds(&h, 10, 13);
	assert_int_equal(oldest->refs, 1);
	push_range(&h, 14, 15);
	assert_holds(&h, 12, 15);
	history_clear(&h);
	msg_unref(oldest);
}

static void
history_grows_keeping_everything_in_order(void **state)
{
	struct history h;

	(void)state;
	history_init(&h, 3);
	push_range(&h, 1, 5); /* wrapped: holds 3..5 */
	history_resize(&h, 6);
	assert_holds(&h, 3, 5);
	push_range(&h, 6, 9);
	assert_holds(&h, 4, 9);
	assert_int_equal(history_after(&h, 5), 2);
	history_clear(&h);
}

static void
history_resized_to_0_or_from_empty_holds_nothing_until_pushed(void **state)
{
	struct history h;

	(void)state;
	history_init(&h, 5);
	history_resize(&h, 2); /* never pushed */
	push_range(&h, 1, 3);
	assert_holds(&h, 2, 3);
	history_resize(&h, 0);
	assert_int_equal(history_len(&h), 0);
	push_range(&h, 4, 4);
	assert_int_equal(history_len(&h), 0);
	history_resize(&h, 2);
	push_range(&h, 5, 5);
	assert_holds(&h, 5, 5);
	history_clear(&h);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(history_new_ring_is_empty),
	        cmocka_unit_test(history_push_below_cap_keeps_all_oldest_first),
	        cmocka_unit_test(history_push_to_exactly_cap_keeps_all),
	        cmocka_unit_test(history_wraps_around_keeping_last_n_oldest_first),
	        cmocka_unit_test(history_keeps_last_50_of_120),
	        cmocka_unit_test(history_of_cap_1_keeps_only_the_newest),
	        cmocka_unit_test(history_takes_a_reference_on_push),
	        cmocka_unit_test(history_releases_reference_on_eviction),
	        cmocka_unit_test(history_clear_releases_every_reference_and_empties_ring),
	        cmocka_unit_test(history_is_reusable_after_clear),
	        cmocka_unit_test(history_clear_of_untouched_ring_is_harmless),
	        cmocka_unit_test(history_of_cap_0_stores_nothing),
	        cmocka_unit_test(history_after_since_before_first_returns_0),
	        cmocka_unit_test(history_after_since_inside_returns_first_newer),
	        cmocka_unit_test(history_after_since_at_last_returns_len),
	        cmocka_unit_test(history_after_since_beyond_last_returns_len),
	        cmocka_unit_test(history_after_works_on_partly_filled_ring),
	        cmocka_unit_test(history_shrinks_to_the_newest_and_releases_the_rest),
	        cmocka_unit_test(history_grows_keeping_everything_in_order),
	        cmocka_unit_test(history_resized_to_0_or_from_empty_holds_nothing_until_pushed),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
