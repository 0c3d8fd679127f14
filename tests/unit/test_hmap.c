/*
 * Unit tests of the string-keyed hash map (src/hmap.c): insert, replace,
 * lookup and delete, and a large mixed workload whose deletions exercise
 * backward-shift deletion across probe runs that wrap around the table,
 * checked against a plain array of what should be present.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"

#define NKEYS 10000

/* Keys live as long as their entries: a fixed table of them. */
static char keys[NKEYS][16];
static size_t klen[NKEYS];
/* Distinct values, one per key, so a lookup proves which entry it found. */
static int vals[NKEYS];

/* Fill keys[] with "k0".."k9999" and vals[] with their indexes. */
static void
make_keys(void)
{
	int i;

	for (i = 0; i < NKEYS; i++) {
		klen[i] = (size_t)snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		vals[i] = i;
	}
}

#define PUT(m, s, v) hmap_put(m, s, strlen(s), v)
#define GET(m, s)    hmap_get(m, s, strlen(s))
#define DEL(m, s)    hmap_del(m, s, strlen(s))

static void
hmap_empty_map_finds_nothing(void **state)
{
	struct hmap m;
	size_t pos = 0;

	(void)state;
	hmap_init(&m);
	assert_null(GET(&m, "a"));
	assert_null(DEL(&m, "a"));
	assert_null(hmap_next(&m, &pos));
	assert_int_equal(m.len, 0);
	hmap_free(&m);
}

static void
hmap_put_then_get_returns_value(void **state)
{
	struct hmap m;
	int a = 1, b = 2;

	(void)state;
	hmap_init(&m);
	PUT(&m, "alice", &a);
	PUT(&m, "bob", &b);
	assert_ptr_equal(GET(&m, "alice"), &a);
	assert_ptr_equal(GET(&m, "bob"), &b);
	assert_null(GET(&m, "carol"));
	assert_int_equal(m.len, 2);
	hmap_free(&m);
}

static void
hmap_get_compares_whole_key_and_length(void **state)
{
	struct hmap m;
	int a = 1;

	(void)state;
	hmap_init(&m);
	PUT(&m, "alice", &a);
	assert_null(GET(&m, "alic"));
	assert_null(GET(&m, "alicee"));
	assert_null(GET(&m, "Alice")); /* keys are exact; folding is the caller's */
	/* The length argument, not a terminator, delimits the key. */
	assert_ptr_equal(hmap_get(&m, "alice-and-more", 5), &a);
	hmap_free(&m);
}

static void
hmap_empty_key_is_a_key(void **state)
{
	struct hmap m;
	int a = 1;

	(void)state;
	hmap_init(&m);
	hmap_put(&m, "", 0, &a);
	assert_ptr_equal(hmap_get(&m, "", 0), &a);
	assert_ptr_equal(hmap_del(&m, "", 0), &a);
	assert_null(hmap_get(&m, "", 0));
	hmap_free(&m);
}

static void
hmap_put_existing_key_replaces_value_without_growing(void **state)
{
	struct hmap m;
	int a = 1, b = 2;
	char k2[] = "alice"; /* same key, different storage */

	(void)state;
	hmap_init(&m);
	PUT(&m, "alice", &a);
	PUT(&m, k2, &b);
	assert_ptr_equal(GET(&m, "alice"), &b);
	assert_int_equal(m.len, 1);
	hmap_free(&m);
}

static void
hmap_del_returns_value_and_removes_entry(void **state)
{
	struct hmap m;
	int a = 1, b = 2;

	(void)state;
	hmap_init(&m);
	PUT(&m, "alice", &a);
	PUT(&m, "bob", &b);
	assert_ptr_equal(DEL(&m, "alice"), &a);
	assert_null(GET(&m, "alice"));
	assert_ptr_equal(GET(&m, "bob"), &b);
	assert_int_equal(m.len, 1);
	assert_null(DEL(&m, "alice")); /* a second delete finds nothing */
	assert_int_equal(m.len, 1);
	hmap_free(&m);
}

static void
hmap_del_absent_key_changes_nothing(void **state)
{
	struct hmap m;
	int a = 1;

	(void)state;
	hmap_init(&m);
	PUT(&m, "alice", &a);
	assert_null(DEL(&m, "bob"));
	assert_int_equal(m.len, 1);
	assert_ptr_equal(GET(&m, "alice"), &a);
	hmap_free(&m);
}

static void
hmap_reinsert_after_delete_is_found(void **state)
{
	struct hmap m;
	int a = 1, b = 2;

	(void)state;
	hmap_init(&m);
	PUT(&m, "alice", &a);
	DEL(&m, "alice");
	PUT(&m, "alice", &b);
	assert_ptr_equal(GET(&m, "alice"), &b);
	assert_int_equal(m.len, 1);
	hmap_free(&m);
}

static void
hmap_keeps_load_factor_at_most_half(void **state)
{
	struct hmap m;
	int i;

	(void)state;
	make_keys();
	hmap_init(&m);
	for (i = 0; i < 1000; i++) {
		hmap_put(&m, keys[i], klen[i], &vals[i]);
		assert_true(m.len * 2 <= m.cap);
		assert_int_equal(m.cap & (m.cap - 1), 0); /* a power of two */
	}
	hmap_free(&m);
}

/* Every key i with present[i] is found with its value, every other is not,
 * and the count agrees. */
static void
assert_contents(const struct hmap *m, const char *present)
{
	size_t n = 0;
	int i;

	for (i = 0; i < NKEYS; i++) {
		void *v = hmap_get(m, keys[i], klen[i]);

		if (present[i]) {
			if (v != &vals[i])
				fail_msg("key %s: got %p, want %p", keys[i], v, (void *)&vals[i]);
			n++;
		} else if (v != NULL) {
			fail_msg("key %s deleted but still found", keys[i]);
		}
	}
	assert_int_equal(m->len, n);
}

static void
hmap_10000_keys_with_interleaved_deletions_all_remaining_found(void **state)
{
	static char present[NKEYS];
	struct hmap m;
	int i;

	(void)state;
	make_keys();
	memset(present, 0, sizeof(present));
	hmap_init(&m);
	/* Insert in order, deleting an older key every few inserts so that
	 * deletions land inside probe runs of every shape as the table grows. */
	for (i = 0; i < NKEYS; i++) {
		hmap_put(&m, keys[i], klen[i], &vals[i]);
		present[i] = 1;
		if (i % 3 == 2) {
			int victim = (int)(((unsigned)i * 7919u) % (unsigned)(i + 1));
			void *v = hmap_del(&m, keys[victim], klen[victim]);

			assert_ptr_equal(v, present[victim] ? &vals[victim] : NULL);
			present[victim] = 0;
		}
	}
	assert_contents(&m, present);
	/* Delete every other survivor, check, then delete the rest one by
	 * one, checking the whole map at intervals. */
	for (i = 0; i < NKEYS; i += 2)
		if (present[i]) {
			assert_ptr_equal(hmap_del(&m, keys[i], klen[i]), &vals[i]);
			present[i] = 0;
		}
	assert_contents(&m, present);
	for (i = NKEYS - 1; i >= 0; i--) {
		if (present[i]) {
			assert_ptr_equal(hmap_del(&m, keys[i], klen[i]), &vals[i]);
			present[i] = 0;
		}
		if (i % 1000 == 0)
			assert_contents(&m, present);
	}
	assert_int_equal(m.len, 0);
	hmap_free(&m);
}

static void
hmap_random_workload_matches_reference(void **state)
{
	static char present[NKEYS];
	struct hmap m;
	uint32_t rng = 12345;
	int step;

	(void)state;
	make_keys();
	memset(present, 0, sizeof(present));
	hmap_init(&m);
	/* A small key space so the same keys come and go many times. */
	for (step = 0; step < 200000; step++) {
		int k;

		rng = rng * 1103515245u + 12345u;
		k = (int)((rng >> 8) % 512);
		if ((rng >> 20) & 1) {
			hmap_put(&m, keys[k], klen[k], &vals[k]);
			present[k] = 1;
		} else {
			void *v = hmap_del(&m, keys[k], klen[k]);

			assert_ptr_equal(v, present[k] ? &vals[k] : NULL);
			present[k] = 0;
		}
		if (step % 20000 == 0)
			assert_contents(&m, present);
	}
	assert_contents(&m, present);
	hmap_free(&m);
}

/* n keys whose FNV-1a hash (the map's) masked by mask is want: searched
 * for, so that the test can build a probe run that wraps past the end of
 * the table. */
static void
colliding_keys(char (*out)[16], int n, uint32_t mask, uint32_t want)
{
	int found = 0;
	unsigned i;

	for (i = 0; found < n; i++) {
		uint32_t h = 2166136261u;
		char buf[16];
		int len = snprintf(buf, sizeof(buf), "c%u", i), j;

		for (j = 0; j < len; j++) {
			h ^= (unsigned char)buf[j];
			h *= 16777619u;
		}
		if ((h & mask) == want)
			memcpy(out[found++], buf, sizeof(buf));
	}
}

static void
hmap_delete_inside_wrapping_probe_run_keeps_others_found(void **state)
{
	static char ck[6][16];
	int v[6], i, d;

	(void)state;
	/* Table of 16 slots (the first size): keys homed at 14 and 15 form a
	 * run that wraps to slots 0, 1, ...; delete each position in turn. */
	colliding_keys(ck, 3, 15, 14);
	colliding_keys(ck + 3, 3, 15, 15);
	for (d = 0; d < 6; d++) {
		struct hmap m;

		hmap_init(&m);
		for (i = 0; i < 6; i++) {
			v[i] = i;
			PUT(&m, ck[i], &v[i]);
		}
		assert_int_equal(m.cap, 16);
		/* The run really wraps: slots 14, 15, 0..3 are taken. */
		assert_non_null(m.tab[14].key);
		assert_non_null(m.tab[15].key);
		assert_non_null(m.tab[3].key);
		assert_null(m.tab[4].key);
		assert_ptr_equal(DEL(&m, ck[d]), &v[d]);
		for (i = 0; i < 6; i++) {
			if (i == d)
				assert_null(GET(&m, ck[i]));
			else
				assert_ptr_equal(GET(&m, ck[i]), &v[i]);
		}
		assert_int_equal(m.len, 5);
		hmap_free(&m);
	}
}

static void
hmap_iteration_visits_every_value_once(void **state)
{
	static int seen[NKEYS];
	struct hmap m;
	size_t pos = 0, n = 0;
	void *v;
	int i;

	(void)state;
	make_keys();
	memset(seen, 0, sizeof(seen));
	hmap_init(&m);
	for (i = 0; i < 3000; i++)
		hmap_put(&m, keys[i], klen[i], &vals[i]);
	for (i = 0; i < 3000; i += 3)
		hmap_del(&m, keys[i], klen[i]);
	while ((v = hmap_next(&m, &pos)) != NULL) {
		int k = *(int *)v;

		assert_true(k >= 0 && k < 3000);
		assert_int_not_equal(k % 3, 0);
		seen[k]++;
		n++;
	}
	assert_int_equal(n, m.len);
	assert_int_equal(n, 2000);
	for (i = 0; i < 3000; i++)
		assert_int_equal(seen[i], i % 3 ? 1 : 0);
	/* At the end it keeps saying so. */
	assert_null(hmap_next(&m, &pos));
	hmap_free(&m);
}

static void
hmap_free_leaves_an_empty_reusable_map(void **state)
{
	struct hmap m;
	int a = 1;

	(void)state;
	hmap_init(&m);
	PUT(&m, "alice", &a);
	hmap_free(&m);
	assert_null(m.tab);
	assert_int_equal(m.cap, 0);
	assert_int_equal(m.len, 0);
	assert_null(GET(&m, "alice"));
	PUT(&m, "alice", &a);
	assert_ptr_equal(GET(&m, "alice"), &a);
	hmap_free(&m);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(hmap_empty_map_finds_nothing),
	        cmocka_unit_test(hmap_put_then_get_returns_value),
	        cmocka_unit_test(hmap_get_compares_whole_key_and_length),
	        cmocka_unit_test(hmap_empty_key_is_a_key),
	        cmocka_unit_test(hmap_put_existing_key_replaces_value_without_growing),
	        cmocka_unit_test(hmap_del_returns_value_and_removes_entry),
	        cmocka_unit_test(hmap_del_absent_key_changes_nothing),
	        cmocka_unit_test(hmap_reinsert_after_delete_is_found),
	        cmocka_unit_test(hmap_keeps_load_factor_at_most_half),
	        cmocka_unit_test(hmap_10000_keys_with_interleaved_deletions_all_remaining_found),
	        cmocka_unit_test(hmap_random_workload_matches_reference),
	        cmocka_unit_test(hmap_delete_inside_wrapping_probe_run_keeps_others_found),
	        cmocka_unit_test(hmap_iteration_visits_every_value_once),
	        cmocka_unit_test(hmap_free_leaves_an_empty_reusable_map),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
