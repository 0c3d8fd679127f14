/*
 * A hash map from short strings to pointers: open addressing with linear
 * probing and backward-shift deletion, so lookups stay short without
 * tombstones.  Keys are not copied: each key must live as long as its
 * entry (the registry keys rooms and sessions by their own folded names).
 */
#ifndef CHATD_HMAP_H
#define CHATD_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_ent {
	const char *key; /* NULL: empty slot */
	uint32_t hash;
	uint32_t klen;
	void *val;
};

struct hmap {
	struct hmap_ent *tab;
	size_t cap; /* a power of two, or 0 before the first insert */
	size_t len;
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

#endif
