/*
 * A latency histogram with bounded relative error: log-linear buckets, 32
 * per power of two, so any recorded value is reported within about 3%.
 * Pure and fixed-size, so that recording costs a few instructions and
 * histograms can be merged.
 */
#ifndef CHATD_HIST_H
#define CHATD_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB      (1u << HIST_SUB_BITS)
/* Values below 2^41 ns (about 36 minutes) are bucketed at full
 * resolution; larger ones land in the last bucket and still count toward
 * max exactly. */
#define HIST_MAX_EXP 40
#define HIST_BUCKETS ((HIST_MAX_EXP - HIST_SUB_BITS + 2) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t bucket[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t v);
/* Add every count of src into dst. */
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at quantile q (0..1): the midpoint of the bucket holding it,
 * clamped to the exact min and max. 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);
/* The bucket index of v, and the smallest value of a bucket (for tests). */
unsigned hist_index(uint64_t v);
uint64_t hist_bucket_low(unsigned i);

#endif
