/*
 * A hash map from short strings to pointers: open addressing with linear
 * probing and backward-shift deletion, so lookups stay short without
 * tombstones.  Keys are not copied: each key must live as long as its
 * entry (the registry keys rooms and sessions by their own folded names).
 *
 * Keys are chosen by clients, so the hash is keyed (SipHash-1-3) with a
 * secret the clients do not know: each table gets its own key,
 * derived from a per-process random key, and no entry ever sits more than
 * HMAP_PROBE_MAX slots past its home slot (an insert that would put it
 * further re-keys the table, or grows it).  The process key is drawn
 * lazily, from getrandom(2), the first time a table needs a key;
 * hmap_seed() sets it instead, for tests that want repeatable tables.
 */
#ifndef CHATD_HMAP_H
#define CHATD_HMAP_H

#include <stddef.h>
#include <stdint.h>

/* The longest distance, in slots, between an entry and its home slot.  At
 * a load of 1/2 with random homes, one table of 2^16 entries in six has
 * an entry past 32, and simulated tables of up to 2^21 had none past 64:
 * at 64 a re-key means rare bad luck or an attack, not everyday load. */
#define HMAP_PROBE_MAX 64

struct hmap_ent {
	const char *key; /* NULL: empty slot */
	uint32_t hash;   /* low 32 bits of the key's hash under the table key */
	uint32_t klen;
	void *val;
};

struct hmap {
	struct hmap_ent *tab;
	size_t cap; /* a power of two, or 0 before the first insert */
	size_t len;
	uint64_t k0, k1; /* SipHash key: drawn at the first insert and on a re-key */
};

void hmap_init(struct hmap *m);
void hmap_free(struct hmap *m);
void *hmap_get(const struct hmap *m, const char *key, size_t n);
/* Insert or replace; key must stay valid while the entry exists. */
void hmap_put(struct hmap *m, const char *key, size_t n, void *val);
/* Remove the entry and return its value, or NULL when absent. */
void *hmap_del(struct hmap *m, const char *key, size_t n);
/* Iterate: start with *pos = 0; returns the next value or NULL at the end.
 * The map must not change during an iteration. */
void *hmap_next(const struct hmap *m, size_t *pos);

/* The longest distance of an entry from its home slot (0: every entry is
 * at home); never more than HMAP_PROBE_MAX.  O(capacity), for tests. */
size_t hmap_max_probe(const struct hmap *m);

/* Set the process key (16 bytes, k0 then k1 little-endian, as SipHash
 * reads its key) and restart the per-table key sequence, so that the
 * tables made from now on get the same keys on every run.  For tests;
 * without it the process key is random.  Tables that already have a key
 * keep it. */
void hmap_seed(const uint8_t key[16]);

/* SipHash-c-d of msg[0, n) under key, 64-bit output: the map hashes with
 * c = 1, d = 3 and derives table keys with c = 2, d = 4.  Exposed for the
 * known-answer tests. */
uint64_t hmap_siphash(const uint8_t key[16], const void *msg, size_t n, unsigned c_rounds,
                      unsigned d_rounds);

#endif
