/*
 * What every fuzz target shares: the invariant check, a deterministic
 * generator for read sizes, and the buffer that holds a parser's unused
 * tail between reads, sized exactly so that a read past it is caught.
 */
#ifndef CHATD_FUZZ_H
#define CHATD_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* xorshift64*, seeded from the input, for read sizes and choices. */
static inline uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* A read of random size, 1 to 2^(bits-1) bytes, at most left. */
static inline size_t
next_read(uint64_t *seed, unsigned bits, size_t left)
{
	size_t k = 1 + (size_t)(next_rand(seed) % ((size_t)1 << (next_rand(seed) % bits)));

	return k < left ? k : left;
}

/* Bytes a parser has not used yet, in an allocation of exactly their size. */
struct held {
	uint8_t *p;
	size_t n;
};

/* Append a read of k bytes. */
static inline void
held_add(struct held *h, const uint8_t *data, size_t k)
{
	uint8_t *nb;

	if (k == 0) /* nothing to add, and malloc(0) may give NULL */
		return;
	nb = malloc(h->n + k);
	FUZZ_CHECK(nb != NULL);
	if (h->n)
		memcpy(nb, h->p, h->n);
	memcpy(nb + h->n, data, k);
	free(h->p);
	h->p = nb;
	h->n += k;
}

/* Forget the first used bytes, keeping the rest exactly sized. */
static inline void
held_drop(struct held *h, size_t used)
{
	uint8_t *nb = NULL;

	FUZZ_CHECK(used <= h->n);
	h->n -= used;
	if (h->n) {
		nb = malloc(h->n);
		FUZZ_CHECK(nb != NULL);
		memcpy(nb, h->p + used, h->n);
	}
	free(h->p);
	h->p = nb;
}

#endif
