/*
 * Log-linear histogram.  Values below HIST_SUB get a bucket each; above,
 * each power of two is split into HIST_SUB equal buckets, so a bucket's
 * width is at most 1/HIST_SUB of its lower bound.
 */
#include "hist.h"

#include <string.h>

void
hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned
hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	if (msb > HIST_MAX_EXP)
		return HIST_BUCKETS - 1;
	shift = msb - HIST_SUB_BITS;
	/* Group g = msb - SUB_BITS + 1 holds [2^msb, 2^(msb+1)). */
	return (shift + 1) * HIST_SUB + (unsigned)((v >> shift) & (HIST_SUB - 1));
}

uint64_t
hist_bucket_low(unsigned i)
{
	unsigned group = i / HIST_SUB, sub = i % HIST_SUB, shift;

	if (group == 0)
		return sub;
	shift = group - 1;
	return ((uint64_t)HIST_SUB + sub) << shift;
}

void
hist_record(struct hist *h, uint64_t v)
{
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->bucket[hist_index(v)]++;
}

void
hist_merge(struct hist *dst, const struct hist *src)
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
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
}

uint64_t
hist_quantile(const struct hist *h, double q)
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
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > rank)
			break;
	}
	lo = hist_bucket_low(i);
	hi = i + 1 < HIST_BUCKETS ? hist_bucket_low(i + 1) : h->max + 1;
	mid = lo + (hi - lo) / 2;
	if (mid < h->min)
		mid = h->min;
	if (mid > h->max)
		mid = h->max;
	return mid;
}
