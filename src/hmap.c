/*
 * String-keyed hash map (FNV-1a, linear probing, load factor at most 1/2).
 */
#include "hmap.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

static uint32_t
hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

void
hmap_init(struct hmap *m)
{
	m->tab = NULL;
	m->cap = 0;
	m->len = 0;
}

void
hmap_free(struct hmap *m)
{
	mem_free(m->tab, m->cap * sizeof(*m->tab));
	hmap_init(m);
}

static struct hmap_ent *
find(const struct hmap *m, const char *key, size_t n, uint32_t h)
{
	size_t mask = m->cap - 1, i;

	if (m->cap == 0)
		return NULL;
	for (i = h & mask;; i = (i + 1) & mask) {
		struct hmap_ent *e = &m->tab[i];

		if (e->key == NULL)
			return NULL;
		if (e->hash == h && e->klen == n && memcmp(e->key, key, n) == 0)
			return e;
	}
}

void *
hmap_get(const struct hmap *m, const char *key, size_t n)
{
	struct hmap_ent *e = find(m, key, n, hash(key, n));

	return e ? e->val : NULL;
}

static void
place(struct hmap *m, struct hmap_ent ent)
{
	size_t mask = m->cap - 1, i;

	for (i = ent.hash & mask; m->tab[i].key != NULL; i = (i + 1) & mask)
		;
	m->tab[i] = ent;
}

static void
resize(struct hmap *m, size_t cap)
{
	struct hmap_ent *old = m->tab;
	size_t oldcap = m->cap, i;

	m->cap = cap;
	m->tab = mem_zalloc(m->cap * sizeof(*m->tab));
	for (i = 0; i < oldcap; i++)
		if (old[i].key)
			place(m, old[i]);
	mem_free(old, oldcap * sizeof(*old));
}

void
hmap_put(struct hmap *m, const char *key, size_t n, void *val)
{
	uint32_t h = hash(key, n);
	struct hmap_ent *e = find(m, key, n, h);
	struct hmap_ent ent;

	if (e) {
		e->key = key;
		e->val = val;
		return;
	}
	if ((m->len + 1) * 2 > m->cap)
		resize(m, m->cap ? m->cap * 2 : 16);
	ent.key = key;
	ent.hash = h;
	ent.klen = (uint32_t)n;
	ent.val = val;
	place(m, ent);
	m->len++;
}

void *
hmap_del(struct hmap *m, const char *key, size_t n)
{
	struct hmap_ent *e = find(m, key, n, hash(key, n));
	size_t mask = m->cap - 1, i, j;
	void *val;

	if (e == NULL)
		return NULL;
	val = e->val;
	i = (size_t)(e - m->tab);
	/* Backward shift: pull later members of the probe run into the hole
	 * whenever the hole lies on their path from their home slot. */
	for (j = (i + 1) & mask; m->tab[j].key != NULL; j = (j + 1) & mask) {
		size_t home = m->tab[j].hash & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->tab[i] = m->tab[j];
			i = j;
		}
	}
	m->tab[i].key = NULL;
	m->len--;
	/* Give the table back as it empties: a crowd that left should not
	 * keep its index. */
	if (m->cap > 16 && m->len * 8 < m->cap)
		resize(m, m->cap / 2);
	return val;
}

void *
hmap_next(const struct hmap *m, size_t *pos)
{
	while (*pos < m->cap) {
		struct hmap_ent *e = &m->tab[(*pos)++];

		if (e->key)
			return e->val;
	}
	return NULL;
}
