/*
 * Log-linear histogram.  Values below LATENCY_SUB get a bucket each; above,
 * each power of two is split into LATENCY_SUB equal buckets, so a bucket's
 * width is at most 1/LATENCY_SUB of its lower bound.
 */
#include "swarm/latency.h"

#include <string.h>

void
latency_init(struct latency *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned
latency_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < LATENCY_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	if (msb > LATENCY_MAX_EXP)
		return LATENCY_BUCKETS - 1;
	shift = msb - LATENCY_SUB_BITS;
	/* Group g = msb - SUB_BITS + 1 holds [2^msb, 2^(msb+1)). */
	return (shift + 1) * LATENCY_SUB + (unsigned)((v >> shift) & (LATENCY_SUB - 1));
}

uint64_t
latency_bucket_low(unsigned i)
{
	unsigned group = i / LATENCY_SUB, sub = i % LATENCY_SUB, shift;

	if (group == 0)
		return sub;
	shift = group - 1;
	return ((uint64_t)LATENCY_SUB + sub) << shift;
}

void
latency_record(struct latency *h, uint64_t v)
{
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->bucket[latency_index(v)]++;
}

void
latency_merge(struct latency *dst, const struct latency *src)
{
	unsigned i;

	if (src->count == 0)
		return;
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	for (i = 0; i < LATENCY_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
}

uint64_t
latency_quantile(const struct latency *h, double q)
{
	uint64_t rank, seen = 0, lo, hi, mid;
	unsigned i;

	if (h->count == 0)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	for (i = 0; i < LATENCY_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > rank)
			break;
	}
	lo = latency_bucket_low(i);
	hi = i + 1 < LATENCY_BUCKETS ? latency_bucket_low(i + 1) : h->max + 1;
	mid = lo + (hi - lo) / 2;
	if (mid < h->min)
		mid = h->min;
	if (mid > h->max)
		mid = h->max;
	return mid;
}
