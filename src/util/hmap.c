/*
 * String-keyed hash map: linear probing, load factor at most 1/2, keyed
 * SipHash-1-3 so that clients cannot choose names that collide.
 *
 * Two defences against hash flooding.  The hash is keyed with a secret:
 * every table draws its own key, derived from a random process key and a
 * counter, so that no one can compute a collision set offline.  And
 * no entry is ever allowed more than HMAP_PROBE_MAX slots from its home:
 * an insert that would go further re-keys the table and rebuilds it, and
 * if a fresh key at that size fails too, doubles it.  Lookups and deletes
 * can then stop after HMAP_PROBE_MAX + 1 slots whatever the table holds,
 * so each operation is bounded even if the key leaked.
 *
 * This file draws the process key itself (getrandom(2)) on first use, so
 * that no caller can forget to, and no table ever hashes with a known key.
 */
#include "util/hmap.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/slab.h"

#define HMAP_CAP_MIN 16 /* slots of a table's first allocation */

/* The process key, from which every table key is derived. */
static uint8_t hmap_proc_key[16];
static int hmap_seeded;
/* Table keys drawn so far: the derivation's input, so that no two tables
 * (nor two keys of one table) are the same. */
static uint64_t hmap_tables;

/* Load 8 bytes little-endian, as SipHash reads its words. */
static uint64_t
hmap_le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

/* x rotated left by b bits, 0 < b < 64. */
static uint64_t
hmap_rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

/* One SipRound: the ARX network of the SipHash paper over v[0..3]. */
static void
hmap_sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = hmap_rotl(v[1], 13);
	v[1] ^= v[0];
	v[0] = hmap_rotl(v[0], 32);
	v[2] += v[3];
	v[3] = hmap_rotl(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = hmap_rotl(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = hmap_rotl(v[1], 17);
	v[1] ^= v[2];
	v[2] = hmap_rotl(v[2], 32);
}

/* SipHash-c-d of msg[0, n) under the key (k0, k1): c rounds per 8-byte
 * word, d rounds to finish.  The one implementation behind both variants
 * in use, so that the 2-4 known answers check the 1-3 code too. */
static uint64_t
hmap_sip(uint64_t k0, uint64_t k1, const uint8_t *msg, size_t n, unsigned c, unsigned d)
{
	/* "somepseudorandomlygeneratedbytes", xored with the key. */
	uint64_t v[4] = {k0 ^ 0x736f6d6570736575u, k1 ^ 0x646f72616e646f6du,
	                 k0 ^ 0x6c7967656e657261u, k1 ^ 0x7465646279746573u};
	uint64_t m;
	size_t i, left = n & 7;
	unsigned r;

	for (i = 0; i + 8 <= n; i += 8) {
		m = hmap_le64(msg + i);
		v[3] ^= m;
		for (r = 0; r < c; r++)
			hmap_sip_round(v);
		v[0] ^= m;
	}
	/* The last word: the 0..7 bytes left, and the length mod 256 in its
	 * top byte, so that messages differing only in trailing zeros differ. */
	m = (uint64_t)(n & 0xff) << 56;
	while (left > 0) {
		left--;
		m |= (uint64_t)msg[i + left] << (8 * left);
	}
	v[3] ^= m;
	for (r = 0; r < c; r++)
		hmap_sip_round(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (r = 0; r < d; r++)
		hmap_sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t
hmap_siphash(const uint8_t key[16], const void *msg, size_t n, unsigned c_rounds, unsigned d_rounds)
{
	return hmap_sip(hmap_le64(key), hmap_le64(key + 8), msg, n, c_rounds, d_rounds);
}

void
hmap_seed(const uint8_t key[16])
{
	memcpy(hmap_proc_key, key, sizeof(hmap_proc_key));
	hmap_seeded = 1;
	hmap_tables = 0;
}

/* Fill key from /dev/urandom; 0 on success, -1 (errno set) on failure. */
static int
hmap_read_urandom(uint8_t *key, size_t n)
{
	size_t got = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (got < n) {
		ssize_t r = read(fd, key + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int saved = r < 0 ? errno : EIO;

			close(fd);
			errno = saved;
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	return 0;
}

/* Draw the process key.  GRND_NONBLOCK: the loop must not stall on a
 * kernel whose pool is not ready yet; /dev/urandom then serves without
 * waiting.  The clock and pid are a last resort that an attacker could
 * guess, hence the warning. */
static void
hmap_seed_random(void)
{
	uint8_t key[16];
	ssize_t r;

	do
		r = getrandom(key, sizeof(key), GRND_NONBLOCK);
	while (r < 0 && errno == EINTR);
	if (r != (ssize_t)sizeof(key)) {
		int gerr = r < 0 ? errno : EIO;

		if (hmap_read_urandom(key, sizeof(key)) == 0) {
			log_info("hmap: getrandom: %s; hash key from /dev/urandom", strerror(gerr));
		} else {
			int uerr = errno;
			struct timespec rt, mt;
			uint64_t w[2];

			log_warn("hmap: getrandom: %s; /dev/urandom: %s; hash key from the clock "
			         "and pid, which can be guessed",
			         strerror(gerr), strerror(uerr));
			clock_gettime(CLOCK_REALTIME, &rt);
			clock_gettime(CLOCK_MONOTONIC, &mt);
			w[0] = ((uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec) ^
			       (uint64_t)getpid() << 40;
			w[1] = ((uint64_t)mt.tv_sec * 1000000000u + (uint64_t)mt.tv_nsec) ^
			       (uint64_t)(uintptr_t)&key; /* what ASLR adds */
			memcpy(key, w, sizeof(key));
		}
	}
	hmap_seed(key);
}

/* Give m a key of its own: k0 and k1 are SipHash-2-4 (the full-strength
 * variant, as this is rare) under the process key of the table counter
 * followed by a label byte, 0 or 1. */
static void
hmap_new_key(struct hmap *m)
{
	uint8_t msg[9];
	int i;

	if (!hmap_seeded)
		hmap_seed_random();
	for (i = 0; i < 8; i++)
		msg[i] = (uint8_t)(hmap_tables >> (8 * i));
	hmap_tables++;
	msg[8] = 0;
	m->k0 = hmap_siphash(hmap_proc_key, msg, sizeof(msg), 2, 4);
	msg[8] = 1;
	m->k1 = hmap_siphash(hmap_proc_key, msg, sizeof(msg), 2, 4);
}

/* The stored part of key's hash under m's key: the low 32 bits pick the
 * home slot (tables stay far below 2^32 slots) and screen out most
 * mismatches before memcmp, and keep an entry at 24 bytes. */
static uint32_t
hmap_hash(const struct hmap *m, const char *key, size_t n)
{
	return (uint32_t)hmap_sip(m->k0, m->k1, (const uint8_t *)key, n, 1, 3);
}

void
hmap_init(struct hmap *m)
{
	m->tab = NULL;
	m->cap = 0;
	m->len = 0;
	m->k0 = 0;
	m->k1 = 0;
}

void
hmap_free(struct hmap *m)
{
	slab_free(m->tab, m->cap * sizeof(*m->tab));
	hmap_init(m);
}

/* The entry for key, or NULL.  No entry lies more than HMAP_PROBE_MAX past
 * its home, so the search stops there even inside a longer run. */
static struct hmap_ent *
hmap_find(const struct hmap *m, const char *key, size_t n, uint32_t h)
{
	size_t mask = m->cap - 1, i = h & mask, d;

	for (d = 0; d <= HMAP_PROBE_MAX; d++, i = (i + 1) & mask) {
		struct hmap_ent *e = &m->tab[i];

		if (e->key == NULL)
			return NULL;
		if (e->hash == h && e->klen == n && memcmp(e->key, key, n) == 0)
			return e;
	}
	return NULL;
}

void *
hmap_get(const struct hmap *m, const char *key, size_t n)
{
	struct hmap_ent *e;

	if (m->cap == 0)
		return NULL;
	e = hmap_find(m, key, n, hmap_hash(m, key, n));
	return e ? e->val : NULL;
}

/* Put ent in the first free slot from its home; returns how far past home
 * that is, which the caller checks against HMAP_PROBE_MAX.  The load is
 * below 1, so a free slot exists. */
static size_t
hmap_place(struct hmap *m, struct hmap_ent ent)
{
	size_t mask = m->cap - 1, i = ent.hash & mask, d = 0;

	while (m->tab[i].key != NULL) {
		i = (i + 1) & mask;
		d++;
	}
	m->tab[i] = ent;
	return d;
}

/*
 * Move every entry into a new table of cap slots, keeping the stored
 * hashes, or, with rekey, under a fresh key.  An entry that lands more
 * than HMAP_PROBE_MAX past its home sends the build back to the start
 * with a fresh key, and when a fresh key at this size fails as well, with
 * twice the slots: a third key would face the odds the second did, while
 * a lower load makes long runs exponentially rarer.  over is the distance that made the caller ask
 * for a re-key (0 for a plain resize); one notice reports the episode.  Returns how many keys were
 * drawn, so the caller knows whether to rehash.
 */
static unsigned
hmap_rebuild(struct hmap *m, size_t cap, int rekey, size_t over)
{
	struct hmap_ent *old = m->tab;
	size_t oldcap = m->cap, i;
	unsigned keys = 0;

	for (;;) {
		size_t d = 0;

		if (rekey) {
			hmap_new_key(m);
			keys++;
		}
		m->cap = cap;
		m->tab = slab_zalloc(cap * sizeof(*m->tab));
		for (i = 0; i < oldcap && d <= HMAP_PROBE_MAX; i++) {
			struct hmap_ent e = old[i];

			if (e.key == NULL)
				continue;
			if (rekey)
				e.hash = hmap_hash(m, e.key, e.klen);
			d = hmap_place(m, e);
		}
		if (d <= HMAP_PROBE_MAX)
			break;
		if (d > over)
			over = d;
		slab_free(m->tab, cap * sizeof(*m->tab));
		if (rekey)
			cap *= 2;
		rekey = 1;
	}
	slab_free(old, oldcap * sizeof(*old));
	if (over > HMAP_PROBE_MAX)
		log_notice("hmap: an entry fell %zu slots from its home (at most %d) in a table "
		           "of %zu: drew %u new key(s), %zu slots now",
		           over, HMAP_PROBE_MAX, m->len, keys, m->cap);
	return keys;
}

void
hmap_put(struct hmap *m, const char *key, size_t n, void *val)
{
	struct hmap_ent ent;
	uint32_t h;
	size_t d;

	if (m->cap == 0) {
		hmap_rebuild(m, HMAP_CAP_MIN, 1, 0);
		h = hmap_hash(m, key, n);
	} else {
		struct hmap_ent *e;

		h = hmap_hash(m, key, n);
		if ((e = hmap_find(m, key, n, h)) != NULL) {
			e->key = key;
			e->val = val;
			return;
		}
		if ((m->len + 1) * 2 > m->cap && hmap_rebuild(m, m->cap * 2, 0, 0) > 0)
			h = hmap_hash(m, key, n);
	}
	ent.key = key;
	ent.hash = h;
	ent.klen = (uint32_t)n;
	ent.val = val;
	d = hmap_place(m, ent);
	m->len++;
	if (d > HMAP_PROBE_MAX)
		hmap_rebuild(m, m->cap, 1, d);
}

void *
hmap_del(struct hmap *m, const char *key, size_t n)
{
	struct hmap_ent *e;
	size_t mask = m->cap - 1, i, j;
	void *val;

	if (m->cap == 0 || (e = hmap_find(m, key, n, hmap_hash(m, key, n))) == NULL)
		return NULL;
	val = e->val;
	i = (size_t)(e - m->tab);
	/* Backward shift: pull later members of the probe run into the hole
	 * whenever the hole lies on their path from their home slot.  Past
	 * HMAP_PROBE_MAX slots from the hole no entry can have it on its
	 * path, so the scan ends there even inside a longer run. */
	for (j = (i + 1) & mask; m->tab[j].key != NULL && ((j - i) & mask) <= HMAP_PROBE_MAX;
	     j = (j + 1) & mask) {
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
	if (m->cap > HMAP_CAP_MIN && m->len * 8 < m->cap)
		hmap_rebuild(m, m->cap / 2, 0, 0);
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

size_t
hmap_max_probe(const struct hmap *m)
{
	size_t mask = m->cap - 1, i, d, worst = 0;

	for (i = 0; i < m->cap; i++) {
		if (m->tab[i].key == NULL)
			continue;
		d = (i - (m->tab[i].hash & mask)) & mask;
		if (d > worst)
			worst = d;
	}
	return worst;
}
