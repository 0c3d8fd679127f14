/*
 * Unit tests of the swarm's latency histogram (src/swarm/latency.c): log-linear
 * buckets whose bounds round-trip through latency_index(), whose width is at
 * most 1/32 of their lower bound above 32, so that quantiles of known
 * distributions come out within about 3%; min and max are exact, an empty
 * histogram answers 0, merging equals recording both, and values beyond
 * the bucketed range land in the last bucket without losing the exact max.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "swarm/latency.h"

/* A histogram is about 9 KiB: keep them off the test's stack. */
static struct latency h1, h2, h3;

/* |got - want| <= want * tol */
static void
assert_near(uint64_t got, uint64_t want, double tol, const char *what)
{
	double d = (double)got - (double)want;

	if (d < 0)
		d = -d;
	if (d > (double)want * tol)
		fail_msg("%s: got %llu, want %llu within %.1f%%", what, (unsigned long long)got,
		         (unsigned long long)want, tol * 100);
}

static void
hist_index_and_bucket_low_round_trip_for_every_bucket(void **state)
{
	unsigned i;

	(void)state;
	assert_int_equal(latency_bucket_low(0), 0);
	for (i = 0; i < LATENCY_BUCKETS; i++) {
		uint64_t lo = latency_bucket_low(i);

		assert_int_equal(latency_index(lo), i);
		if (i + 1 < LATENCY_BUCKETS) {
			uint64_t next = latency_bucket_low(i + 1);

			/* Buckets tile the line: increasing, contiguous. */
			assert_true(next > lo);
			assert_int_equal(latency_index(next - 1), i);
			assert_int_equal(latency_index(next), i + 1);
			/* And a value in the middle. */
			assert_int_equal(latency_index(lo + (next - lo) / 2), i);
		}
	}
}

static void
hist_small_values_have_a_bucket_each(void **state)
{
	uint64_t v;

	(void)state;
	for (v = 0; v < 2 * (uint64_t)LATENCY_SUB; v++) {
		assert_int_equal(latency_index(v), v);
		assert_int_equal(latency_bucket_low((unsigned)v), v);
	}
}

static void
hist_relative_bucket_width_is_at_most_1_32_above_32(void **state)
{
	unsigned i;

	(void)state;
	for (i = 0; i + 1 < LATENCY_BUCKETS; i++) {
		uint64_t lo = latency_bucket_low(i), width = latency_bucket_low(i + 1) - lo;

		if (lo < 32) {
			assert_int_equal(width, 1);
			continue;
		}
		/* width / lo <= 1/32 */
		if (width * 32 > lo)
			fail_msg("bucket %u [%llu, +%llu) is wider than 1/32", i,
			         (unsigned long long)lo, (unsigned long long)width);
	}
}

static void
hist_index_is_monotonic_across_powers_of_two(void **state)
{
	unsigned e;

	(void)state;
	for (e = 1; e < 64; e++) {
		uint64_t p = (uint64_t)1 << e;

		assert_true(latency_index(p - 1) <= latency_index(p));
		assert_true(latency_index(p) <= latency_index(p + 1));
		assert_true(latency_index(p) < LATENCY_BUCKETS);
	}
	assert_true(latency_index(UINT64_MAX) < LATENCY_BUCKETS);
}

static void
hist_empty_histogram(void **state)
{
	struct latency *h = &h1;

	(void)state;
	latency_init(h);
	assert_int_equal(h->count, 0);
	assert_int_equal(h->sum, 0);
	assert_int_equal(latency_quantile(h, 0), 0);
	assert_int_equal(latency_quantile(h, 0.5), 0);
	assert_int_equal(latency_quantile(h, 0.99), 0);
	assert_int_equal(latency_quantile(h, 1), 0);
	/* Merging an empty histogram changes nothing. */
	latency_init(&h2);
	latency_record(&h2, 7);
	memcpy(&h3, &h2, sizeof(h3));
	latency_merge(&h2, h);
	assert_memory_equal(&h2, &h3, sizeof(h3));
	/* Merging into an empty one copies. */
	latency_merge(h, &h2);
	assert_memory_equal(h, &h2, sizeof(h2));
}

static void
hist_single_value_is_every_quantile(void **state)
{
	static const uint64_t values[] = {0, 1, 31, 32, 33, 1000, 123456789, (uint64_t)1 << 40};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
		latency_init(&h1);
		latency_record(&h1, values[k]);
		assert_int_equal(h1.count, 1);
		assert_int_equal(h1.min, values[k]);
		assert_int_equal(h1.max, values[k]);
		assert_int_equal(latency_quantile(&h1, 0), values[k]);
		assert_int_equal(latency_quantile(&h1, 0.5), values[k]);
		assert_int_equal(latency_quantile(&h1, 0.999), values[k]);
		assert_int_equal(latency_quantile(&h1, 1), values[k]);
	}
}

static void
hist_min_max_and_sum_are_exact(void **state)
{
	uint64_t x = 12345, sum = 0, mn = UINT64_MAX, mx = 0;
	int i;

	(void)state;
	latency_init(&h1);
	for (i = 0; i < 10000; i++) {
		uint64_t v;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		v = 1000 + (x >> 33) % 987654321;
		latency_record(&h1, v);
		sum += v;
		if (v < mn)
			mn = v;
		if (v > mx)
			mx = v;
	}
	assert_int_equal(h1.count, 10000);
	assert_int_equal(h1.sum, sum);
	assert_int_equal(h1.min, mn);
	assert_int_equal(h1.max, mx);
	assert_int_equal(latency_quantile(&h1, 0), mn);
	assert_int_equal(latency_quantile(&h1, 1), mx);
	/* Quantiles never leave [min, max]. */
	assert_true(latency_quantile(&h1, 0.0001) >= mn);
	assert_true(latency_quantile(&h1, 0.9999) <= mx);
}

static void
hist_quantiles_of_uniform_1_to_100000_within_3_2_percent(void **state)
{
	uint64_t v;

	(void)state;
	latency_init(&h1);
	for (v = 1; v <= 100000; v++)
		latency_record(&h1, v);
	assert_near(latency_quantile(&h1, 0.5), 50000, 0.032, "p50");
	assert_near(latency_quantile(&h1, 0.9), 90000, 0.032, "p90");
	assert_near(latency_quantile(&h1, 0.99), 99000, 0.032, "p99");
	assert_near(latency_quantile(&h1, 0.999), 99900, 0.032, "p99.9");
	assert_near(latency_quantile(&h1, 0.01), 1000, 0.032, "p1");
	assert_int_equal(latency_quantile(&h1, 0), 1);
	assert_int_equal(latency_quantile(&h1, 1), 100000);
	/* The same values in another order give the same histogram. */
	latency_init(&h2);
	for (v = 100000; v >= 1; v--)
		latency_record(&h2, v);
	assert_memory_equal(&h1, &h2, sizeof(h1));
}

static void
hist_quantiles_of_a_bimodal_distribution(void **state)
{
	int i;

	(void)state;
	/* 90% at 1 ms, 10% at 250 ms (in ns): p50 and p90 on the first mode,
	 * p95 and p99 on the second. */
	latency_init(&h1);
	for (i = 0; i < 9000; i++)
		latency_record(&h1, 1000000);
	for (i = 0; i < 1000; i++)
		latency_record(&h1, 250000000);
	assert_near(latency_quantile(&h1, 0.5), 1000000, 0.032, "p50");
	assert_near(latency_quantile(&h1, 0.89), 1000000, 0.032, "p89");
	assert_near(latency_quantile(&h1, 0.95), 250000000, 0.032, "p95");
	assert_near(latency_quantile(&h1, 0.99), 250000000, 0.032, "p99");
	assert_int_equal(latency_quantile(&h1, 1), 250000000);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void
hist_quantiles_of_exponential_values_within_3_2_percent(void **state)
{
	enum { N = 20000 };
	static uint64_t v[N];
	uint64_t x = 99;
	double qs[] = {0.1, 0.5, 0.75, 0.9, 0.99, 0.999};
	size_t i, k;

	(void)state;
	/* Values spread over many powers of two (geometric from 50 to ~10^10),
	 * compared with the exact order statistic at the same rank. */
	latency_init(&h1);
	for (i = 0; i < N; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		v[i] = (uint64_t)50 << ((x >> 40) % 28);
		v[i] += (x >> 20) % v[i];
		latency_record(&h1, v[i]);
	}
	qsort(v, N, sizeof(v[0]), cmp_u64);
	for (k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		size_t rank = (size_t)(qs[k] * N);

		assert_near(latency_quantile(&h1, qs[k]), v[rank], 0.032, "quantile");
	}
}

static void
hist_merge_equals_recording_both(void **state)
{
	uint64_t x = 7;
	int i;

	(void)state;
	latency_init(&h1);
	latency_init(&h2);
	latency_init(&h3);
	for (i = 0; i < 50000; i++) {
		uint64_t v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = x >> (x % 64); /* every magnitude, huge ones included */
		latency_record(i % 3 ? &h1 : &h2, v);
		latency_record(&h3, v);
	}
	latency_merge(&h1, &h2);
	assert_int_equal(h1.count, h3.count);
	assert_int_equal(h1.sum, h3.sum);
	assert_int_equal(h1.min, h3.min);
	assert_int_equal(h1.max, h3.max);
	assert_memory_equal(h1.bucket, h3.bucket, sizeof(h1.bucket));
	assert_int_equal(latency_quantile(&h1, 0.5), latency_quantile(&h3, 0.5));
	assert_int_equal(latency_quantile(&h1, 0.99), latency_quantile(&h3, 0.99));
}

static void
hist_merge_takes_the_smaller_min_and_larger_max(void **state)
{
	(void)state;
	latency_init(&h1);
	latency_init(&h2);
	latency_record(&h1, 500);
	latency_record(&h1, 600);
	latency_record(&h2, 100);
	latency_record(&h2, 900);
	latency_merge(&h1, &h2);
	assert_int_equal(h1.min, 100);
	assert_int_equal(h1.max, 900);
	assert_int_equal(h1.count, 4);
	assert_int_equal(h1.sum, 2100);
	latency_init(&h2);
	latency_record(&h2, 550);
	latency_merge(&h1, &h2); /* inside: neither changes */
	assert_int_equal(h1.min, 100);
	assert_int_equal(h1.max, 900);
}

static void
hist_values_beyond_the_range_land_in_the_last_bucket_and_max_stays_exact(void **state)
{
	static const uint64_t huge[] = {
	        (uint64_t)1 << 41, ((uint64_t)1 << 41) + 12345,
	        (uint64_t)1 << 50, ((uint64_t)1 << 63) + 1,
	        UINT64_MAX,
	};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(huge) / sizeof(huge[0]); k++)
		assert_int_equal(latency_index(huge[k]), LATENCY_BUCKETS - 1);
	/* The last bucketed power of two is still resolved to 1/32. */
	assert_true(latency_index((uint64_t)1 << LATENCY_MAX_EXP) < LATENCY_BUCKETS - 1);
	for (k = 0; k < sizeof(huge) / sizeof(huge[0]); k++) {
		latency_init(&h1);
		latency_record(&h1, 1000);
		latency_record(&h1, huge[k]);
		assert_int_equal(h1.bucket[LATENCY_BUCKETS - 1], 1);
		assert_int_equal(h1.max, huge[k]);
		assert_int_equal(latency_quantile(&h1, 1), huge[k]);
		/* The top quantile is clamped to the exact max, never beyond. */
		assert_true(latency_quantile(&h1, 0.99) <= huge[k]);
		assert_true(latency_quantile(&h1, 0.99) >= latency_bucket_low(LATENCY_BUCKETS - 1));
		assert_int_equal(latency_quantile(&h1, 0.01), 1000);
	}
}

static void
hist_values_just_above_2_40_are_bucketed_within_1_32(void **state)
{
	/* hist.h: "Values up to 2^40 ns are bucketed; larger ones land in the
	 * last bucket."  The group of 2^40 reaches to 2^41 - 1 with full
	 * resolution, which is more than promised: check the resolution. */
	uint64_t v;

	(void)state;
	for (v = (uint64_t)1 << 40; v < (uint64_t)1 << 41; v += ((uint64_t)1 << 40) / 97) {
		unsigned i = latency_index(v);

		assert_true(latency_bucket_low(i) <= v);
		assert_true(i + 1 == LATENCY_BUCKETS || latency_bucket_low(i + 1) > v);
		assert_true(v - latency_bucket_low(i) <= v / 32);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(hist_index_and_bucket_low_round_trip_for_every_bucket),
	        cmocka_unit_test(hist_small_values_have_a_bucket_each),
	        cmocka_unit_test(hist_relative_bucket_width_is_at_most_1_32_above_32),
	        cmocka_unit_test(hist_index_is_monotonic_across_powers_of_two),
	        cmocka_unit_test(hist_empty_histogram),
	        cmocka_unit_test(hist_single_value_is_every_quantile),
	        cmocka_unit_test(hist_min_max_and_sum_are_exact),
	        cmocka_unit_test(hist_quantiles_of_uniform_1_to_100000_within_3_2_percent),
	        cmocka_unit_test(hist_quantiles_of_a_bimodal_distribution),
	        cmocka_unit_test(hist_quantiles_of_exponential_values_within_3_2_percent),
	        cmocka_unit_test(hist_merge_equals_recording_both),
	        cmocka_unit_test(hist_merge_takes_the_smaller_min_and_larger_max),
	        cmocka_unit_test(
	                hist_values_beyond_the_range_land_in_the_last_bucket_and_max_stays_exact),
	        cmocka_unit_test(hist_values_just_above_2_40_are_bucketed_within_1_32),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
