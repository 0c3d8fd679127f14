/*
 * A latency histogram with bounded relative error: log-linear buckets, 32
 * per power of two, so any recorded value is reported within about 3%.
 * Pure and fixed-size, so that recording costs a few instructions and
 * histograms can be merged.
 */
#ifndef CHATD_LATENCY_H
#define CHATD_LATENCY_H

#include <stdint.h>

#define LATENCY_SUB_BITS 5
#define LATENCY_SUB      (1u << LATENCY_SUB_BITS)
/* Values below 2^41 ns (about 36 minutes) are bucketed at full
 * resolution; larger ones land in the last bucket and still count toward
 * max exactly. */
#define LATENCY_MAX_EXP 40
#define LATENCY_BUCKETS ((LATENCY_MAX_EXP - LATENCY_SUB_BITS + 2) * LATENCY_SUB)

struct latency {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t bucket[LATENCY_BUCKETS];
};

void latency_init(struct latency *h);
void latency_record(struct latency *h, uint64_t v);
/* Add every count of src into dst. */
void latency_merge(struct latency *dst, const struct latency *src);
/* The value at quantile q (0..1): the midpoint of the bucket holding it,
 * clamped to the exact min and max. 0 when empty. */
uint64_t latency_quantile(const struct latency *h, double q);
/* The bucket index of v, and the smallest value of a bucket (for tests). */
unsigned latency_index(uint64_t v);
uint64_t latency_bucket_low(unsigned i);

#endif
