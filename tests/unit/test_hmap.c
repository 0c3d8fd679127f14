/*
 * Unit tests of the string-keyed hash map (src/util/hmap.c): insert, replace,
 * lookup and delete, and a large mixed workload whose deletions exercise
 * backward-shift deletion across probe runs that wrap around the table,
 * checked against a plain array of what should be present.  Then the
 * defences against hash flooding: SipHash known answers, per-table keys,
 * the probe bound, and a set of 65,536 room names that all collide under
 * the FNV-1a hash the map used to have.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hmap.h"

#define NKEYS 10000

/* Keys live as long as their entries: a fixed table of them. */
static char keys[NKEYS][16];
static size_t klen[NKEYS];
/* Distinct values, one per key, so a lookup proves which entry it found. */
static int vals[NKEYS];

/* Fill keys[] with "k0".."k9999" and vals[] with their indexes. */
static void
make_keys(void)
{
	int i;

	for (i = 0; i < NKEYS; i++) {
		klen[i] = (size_t)snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		vals[i] = i;
	}
}

#define PUT(m, s, v) hmap_put(m, s, strlen(s), v)
#define GET(m, s)    hmap_get(m, s, strlen(s))
#define DEL(m, s)    hmap_del(m, s, strlen(s))

static void
hmap_empty_map_finds_nothing(void **state)
{
	struct hmap m;
	size_t pos = 0;

	(void)state;
	hmap_init(&m);
	assert_null(GET(&m, "a"));
	assert_null(DEL(&m, "a"));
	assert_null(hmap_next(&m, &pos));
	assert_int_equal(m.len, 0);
	hmap_free(&m);
}

static void
hmap_put_then_get_returns_value(void **state)
{
	struct hmap m;
	int a = 1, b = 2;

	(void)state;
	hmap_init(&m);
	PUT(&m, "alice", &a);
	PUT(&m, "bob", &b);
	assert_ptr_equal(GET(&m, "alice"), &a);
	assert_ptr_equal(GET(&m, "bob"), &b);
	assert_null(GET(&m, "carol"));
	assert_int_equal(m.len, 2);
	hmap_free(&m);
}

static void
hmap_get_compares_whole_key_and_length(void **state)
{
	struct hmap m;
	int a = 1;

	(void)state;
	hmap_init(&m);
	PUT(&m, "alice", &a);
	assert_null(GET(&m, "alic"));
	assert_null(GET(&m, "alicee"));
	assert_null(GET(&m, "Alice")); /* keys are exact; folding is the caller's */
	/* The length argument, not a terminator, delimits the key. */
	assert_ptr_equal(hmap_get(&m, "alice-and-more", 5), &a);
	hmap_free(&m);
}

static void
hmap_empty_key_is_a_key(void **state)
{
	struct hmap m;
	int a = 1;

	(void)state;
	hmap_init(&m);
	hmap_put(&m, "", 0, &a);
	assert_ptr_equal(hmap_get(&m, "", 0), &a);
	assert_ptr_equal(hmap_del(&m, "", 0), &a);
	assert_null(hmap_get(&m, "", 0));
	hmap_free(&m);
}

static void
hmap_put_existing_key_replaces_value_without_growing(void **state)
{
	struct hmap m;
	int a = 1, b = 2;
	char k2[] = "alice"; /* same key, different storage */

	(void)state;
	hmap_init(&m);
	PUT(&m, "alice", &a);
	PUT(&m, k2, &b);
	assert_ptr_equal(GET(&m, "alice"), &b);
	assert_int_equal(m.len, 1);
	hmap_free(&m);
}

static void
hmap_del_returns_value_and_removes_entry(void **state)
{
	struct hmap m;
	int a = 1, b = 2;

	(void)state;
	hmap_init(&m);
	PUT(&m, "alice", &a);
	PUT(&m, "bob", &b);
	assert_ptr_equal(DEL(&m, "alice"), &a);
	assert_null(GET(&m, "alice"));
	assert_ptr_equal(GET(&m, "bob"), &b);
	assert_int_equal(m.len, 1);
	assert_null(DEL(&m, "alice")); /* a second delete finds nothing */
	assert_int_equal(m.len, 1);
	hmap_free(&m);
}

static void
hmap_del_absent_key_changes_nothing(void **state)
{
	struct hmap m;
	int a = 1;

	(void)state;
	hmap_init(&m);
	PUT(&m, "alice", &a);
	assert_null(DEL(&m, "bob"));
	assert_int_equal(m.len, 1);
	assert_ptr_equal(GET(&m, "alice"), &a);
	hmap_free(&m);
}

static void
hmap_reinsert_after_delete_is_found(void **state)
{
	struct hmap m;
	int a = 1, b = 2;

	(void)state;
	hmap_init(&m);
	PUT(&m, "alice", &a);
	DEL(&m, "alice");
	PUT(&m, "alice", &b);
	assert_ptr_equal(GET(&m, "alice"), &b);
	assert_int_equal(m.len, 1);
	hmap_free(&m);
}

static void
hmap_keeps_load_factor_at_most_half(void **state)
{
	struct hmap m;
	int i;

	(void)state;
	make_keys();
	hmap_init(&m);
	for (i = 0; i < 1000; i++) {
		hmap_put(&m, keys[i], klen[i], &vals[i]);
		assert_true(m.len * 2 <= m.cap);
		assert_int_equal(m.cap & (m.cap - 1), 0); /* a power of two */
	}
	hmap_free(&m);
}

/* Every key i with present[i] is found with its value, every other is not,
 * and the count agrees. */
static void
assert_contents(const struct hmap *m, const char *present)
{
	size_t n = 0;
	int i;

	for (i = 0; i < NKEYS; i++) {
		void *v = hmap_get(m, keys[i], klen[i]);

		if (present[i]) {
			if (v != &vals[i])
				fail_msg("key %s: got %p, want %p", keys[i], v, (void *)&vals[i]);
			n++;
		} else if (v != NULL) {
			fail_msg("key %s deleted but still found", keys[i]);
		}
	}
	assert_int_equal(m->len, n);
}

static void
hmap_10000_keys_with_interleaved_deletions_all_remaining_found(void **state)
{
	static char present[NKEYS];
	struct hmap m;
	int i;

	(void)state;
	make_keys();
	memset(present, 0, sizeof(present));
	hmap_init(&m);
	/* Insert in order, deleting an older key every few inserts so that
	 * deletions land inside probe runs of every shape as the table grows. */
	for (i = 0; i < NKEYS; i++) {
		hmap_put(&m, keys[i], klen[i], &vals[i]);
		present[i] = 1;
		if (i % 3 == 2) {
			int victim = (int)(((unsigned)i * 7919u) % (unsigned)(i + 1));
			void *v = hmap_del(&m, keys[victim], klen[victim]);

			assert_ptr_equal(v, present[victim] ? &vals[victim] : NULL);
			present[victim] = 0;
		}
	}
	assert_contents(&m, present);
	/* Delete every other survivor, check, then delete the rest one by
	 * one, checking the whole map at intervals. */
	for (i = 0; i < NKEYS; i += 2)
		if (present[i]) {
			assert_ptr_equal(hmap_del(&m, keys[i], klen[i]), &vals[i]);
			present[i] = 0;
		}
	assert_contents(&m, present);
	for (i = NKEYS - 1; i >= 0; i--) {
		if (present[i]) {
			assert_ptr_equal(hmap_del(&m, keys[i], klen[i]), &vals[i]);
			present[i] = 0;
		}
		if (i % 1000 == 0)
			assert_contents(&m, present);
	}
	assert_int_equal(m.len, 0);
	hmap_free(&m);
}

static void
hmap_random_workload_matches_reference(void **state)
{
	static char present[NKEYS];
	struct hmap m;
	uint32_t rng = 12345;
	int step;

	(void)state;
	make_keys();
	memset(present, 0, sizeof(present));
	hmap_init(&m);
	/* A small key space so the same keys come and go many times. */
	for (step = 0; step < 200000; step++) {
		int k;

		rng = rng * 1103515245u + 12345u;
		k = (int)((rng >> 8) % 512);
		if ((rng >> 20) & 1) {
			hmap_put(&m, keys[k], klen[k], &vals[k]);
			present[k] = 1;
		} else {
			void *v = hmap_del(&m, keys[k], klen[k]);

			assert_ptr_equal(v, present[k] ? &vals[k] : NULL);
			present[k] = 0;
		}
		if (step % 20000 == 0)
			assert_contents(&m, present);
	}
	assert_contents(&m, present);
	hmap_free(&m);
}

/* key's stored hash in m: the low 32 bits of SipHash-1-3 under the
 * table's own key, as hmap.h describes it. */
static uint32_t
table_hash(const struct hmap *m, const char *key, size_t n)
{
	uint8_t k[16];
	int i;

	for (i = 0; i < 8; i++) {
		k[i] = (uint8_t)(m->k0 >> (8 * i));
		k[8 + i] = (uint8_t)(m->k1 >> (8 * i));
	}
	return (uint32_t)hmap_siphash(k, key, n, 1, 3);
}

/* n keys "c<i>" whose hash in m, masked by mask, is want: searched
 * for under m's key, as an attacker who knew it would, so that a test can
 * build a probe run of its choosing. */
static void
keys_homed_at(const struct hmap *m, char (*out)[16], int n, uint32_t mask, uint32_t want)
{
	int found = 0;
	unsigned i;

	for (i = 0; found < n; i++) {
		char buf[16];
		int len = snprintf(buf, sizeof(buf), "c%u", i);

		if ((table_hash(m, buf, (size_t)len) & mask) == want)
			memcpy(out[found++], buf, sizeof(buf));
	}
}

static void
hmap_delete_inside_wrapping_probe_run_keeps_others_found(void **state)
{
	static char ck[6][16];
	int v[6], i, d, dummy = 0;

	(void)state;
	for (d = 0; d < 6; d++) {
		struct hmap m;

		/* The first insert draws the table's key; the keys are chosen
		 * under it, and the table keeps its 16 slots when emptied. */
		hmap_init(&m);
		PUT(&m, "dummy", &dummy);
		DEL(&m, "dummy");
		/* Table of 16 slots (the first size): keys homed at 14 and 15
		 * form a run that wraps to slots 0, 1, ...; delete each
		 * position in turn. */
		keys_homed_at(&m, ck, 3, 15, 14);
		keys_homed_at(&m, ck + 3, 3, 15, 15);
		for (i = 0; i < 6; i++) {
			v[i] = i;
			PUT(&m, ck[i], &v[i]);
		}
		assert_int_equal(m.cap, 16);
		/* The run really wraps: slots 14, 15, 0..3 are taken. */
		assert_non_null(m.tab[14].key);
		assert_non_null(m.tab[15].key);
		assert_non_null(m.tab[3].key);
		assert_null(m.tab[4].key);
		assert_ptr_equal(DEL(&m, ck[d]), &v[d]);
		for (i = 0; i < 6; i++) {
			if (i == d)
				assert_null(GET(&m, ck[i]));
			else
				assert_ptr_equal(GET(&m, ck[i]), &v[i]);
		}
		assert_int_equal(m.len, 5);
		hmap_free(&m);
	}
}

static void
hmap_iteration_visits_every_value_once(void **state)
{
	static int seen[NKEYS];
	struct hmap m;
	size_t pos = 0, n = 0;
	void *v;
	int i;

	(void)state;
	make_keys();
	memset(seen, 0, sizeof(seen));
	hmap_init(&m);
	for (i = 0; i < 3000; i++)
		hmap_put(&m, keys[i], klen[i], &vals[i]);
	for (i = 0; i < 3000; i += 3)
		hmap_del(&m, keys[i], klen[i]);
	while ((v = hmap_next(&m, &pos)) != NULL) {
		int k = *(int *)v;

		assert_true(k >= 0 && k < 3000);
		assert_int_not_equal(k % 3, 0);
		seen[k]++;
		n++;
	}
	assert_int_equal(n, m.len);
	assert_int_equal(n, 2000);
	for (i = 0; i < 3000; i++)
		assert_int_equal(seen[i], i % 3 ? 1 : 0);
	/* At the end it keeps saying so. */
	assert_null(hmap_next(&m, &pos));
	hmap_free(&m);
}

static void
hmap_free_leaves_an_empty_reusable_map(void **state)
{
	struct hmap m;
	int a = 1;

	(void)state;
	hmap_init(&m);
	PUT(&m, "alice", &a);
	hmap_free(&m);
	assert_null(m.tab);
	assert_int_equal(m.cap, 0);
	assert_int_equal(m.len, 0);
	assert_null(GET(&m, "alice"));
	PUT(&m, "alice", &a);
	assert_ptr_equal(GET(&m, "alice"), &a);
	hmap_free(&m);
}

/* The SipHash key of the published test vectors, and their messages:
 * bytes 00, 01, 02, ... */
static const uint8_t sip_key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* Fill msg with 00, 01, ..., n - 1. */
static void
sip_message(uint8_t *msg, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		msg[i] = (uint8_t)i;
}

static void
hmap_siphash_1_3_matches_published_vectors(void **state)
{
	/* SipHash-1-3 of the 64 messages 00..(n-1), n = 0..63, under key
	 * 00..0f: the vectors of the reference implementation, as Rust's
	 * siphasher crate tests them (bytes read little-endian). */
	static const uint64_t want[64] = {
	        0xabac0158050fc4dcu, 0xc9f49bf37d57ca93u, 0x82cb9b024dc7d44du, 0x8bf80ab8e7ddf7fbu,
	        0xcf75576088d38328u, 0xdef9d52f49533b67u, 0xc50d2b50c59f22a7u, 0xd3927d989bb11140u,
	        0x369095118d299a8eu, 0x25a48eb36c063de4u, 0x79de85ee92ff097fu, 0x70c118c1f94dc352u,
	        0x78a384b157b4d9a2u, 0x306f760c1229ffa7u, 0x605aa111c0f95d34u, 0xd320d86d2a519956u,
	        0xcc4fdd1a7d908b66u, 0x9cf2689063dbd80cu, 0x8ffc389cb473e63eu, 0xf21f9de58d297d1cu,
	        0xc0dc2f46a6cce040u, 0xb992abfe2b45f844u, 0x7ffe7b9ba320872eu, 0x525a0e7fdae6c123u,
	        0xf464aeb267349c8cu, 0x45cd5928705b0979u, 0x3a3e35e3ca9913a5u, 0xa91dc74e4ade3b35u,
	        0xfb0bed02ef6cd00du, 0x88d93cb44ab1e1f4u, 0x540f11d643c5e663u, 0x2370dd1f8c21d1bcu,
	        0x81157b6c16a7b60du, 0x4d54b9e57a8ff9bfu, 0x759f12781f2a753eu, 0xcea1a3bebf186b91u,
	        0x2cf508d3ada26206u, 0xb6101c2da3c33057u, 0xb3f47496ae3a36a1u, 0x626b57547b108392u,
	        0xc1d2363299e41531u, 0x667cc1923f1ad944u, 0x65704ffec8138825u, 0x24f280d1c28949a6u,
	        0xc2ca1cedfaf8876bu, 0xc2164bfc9f042196u, 0xa16e9c9368b1d623u, 0x49fb169c8b5114fdu,
	        0x9f3143f8df074c46u, 0xc6fdaf2412cc86b3u, 0x7eaf49d10a52098fu, 0x1cf313559d292f9au,
	        0xc44a30dda2f41f12u, 0x36fae98943a71ed0u, 0x318fb34c73f0bce6u, 0xa27abf3670a7e980u,
	        0xb4bcc0db243c6d75u, 0x23f8d852fdb71513u, 0x8f035f4da67d8a08u, 0xd89cd0e5b7e8f148u,
	        0xf6f4e6bcf7a644eeu, 0xaec59ad80f1837f2u, 0xc3b2f6154b6694e0u, 0x9d199062b7bbb3a8u,
	};
	static const uint8_t zero_key[16];
	uint8_t msg[64];
	size_t n;

	(void)state;
	sip_message(msg, sizeof(msg));
	for (n = 0; n < 64; n++)
		if (hmap_siphash(sip_key, msg, n, 1, 3) != want[n])
			fail_msg("SipHash-1-3 of %zu bytes: got %016llx, want %016llx", n,
			         (unsigned long long)hmap_siphash(sip_key, msg, n, 1, 3),
			         (unsigned long long)want[n]);
	/* And the empty message under the zero key, from a second source. */
	assert_int_equal(hmap_siphash(zero_key, "", 0, 1, 3), 0xd1fba762150c532cu);
}

static void
hmap_siphash_2_4_matches_paper_vectors(void **state)
{
	uint8_t msg[64];

	(void)state;
	sip_message(msg, sizeof(msg));
	/* The SipHash paper's worked example: 15 bytes 00..0e. */
	assert_int_equal(hmap_siphash(sip_key, msg, 15, 2, 4), 0xa129ca6149be45e5u);
	/* The first and last of the reference vectors (0 and 63 bytes). */
	assert_int_equal(hmap_siphash(sip_key, msg, 0, 2, 4), 0x726fdb47dd0e0e31u);
	assert_int_equal(hmap_siphash(sip_key, msg, 63, 2, 4), 0x958a324ceb064572u);
}

static void
hmap_seed_repeats_table_keys_and_each_table_has_its_own(void **state)
{
	static const uint8_t key[16] = {0x5e, 0xed, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
	struct hmap a, b, c;
	int v = 1;

	(void)state;
	hmap_seed(key);
	hmap_init(&a);
	hmap_init(&b);
	hmap_init(&c);
	PUT(&a, "x", &v);
	PUT(&b, "x", &v);
	/* Two tables of one process do not share a key: a collision set
	 * found in one (by timing, say) is worth nothing in the next. */
	assert_true(a.k0 != b.k0 || a.k1 != b.k1);
	hmap_seed(key);
	PUT(&c, "x", &v);
	assert_int_equal(c.k0, a.k0);
	assert_int_equal(c.k1, a.k1);
	/* A table emptied by hmap_free() draws a new key when it is reused. */
	hmap_free(&c);
	PUT(&c, "x", &v);
	assert_true(c.k0 != a.k0 || c.k1 != a.k1);
	hmap_free(&a);
	hmap_free(&b);
	hmap_free(&c);
}

static void
hmap_probe_past_bound_redraws_table_key(void **state)
{
	/* HMAP_PROBE_MAX + 2 keys that share a home slot under the table's
	 * key at every size up to 4096 slots: what an attacker who had
	 * learned the key would send. */
	static char ck[HMAP_PROBE_MAX + 2][16];
	static int v[HMAP_PROBE_MAX + 2];
	struct hmap m;
	uint64_t k0, k1;
	int i, dummy = 0;

	(void)state;
	hmap_init(&m);
	PUT(&m, "dummy", &dummy);
	DEL(&m, "dummy");
	k0 = m.k0;
	k1 = m.k1;
	keys_homed_at(&m, ck, HMAP_PROBE_MAX + 2, 0xfff, table_hash(&m, "c0", 2) & 0xfff);
	/* One run of HMAP_PROBE_MAX + 1 keys, the last exactly at the bound:
	 * allowed, and the table keeps its key. */
	for (i = 0; i <= HMAP_PROBE_MAX; i++) {
		v[i] = i;
		PUT(&m, ck[i], &v[i]);
	}
	assert_int_equal(hmap_max_probe(&m), HMAP_PROBE_MAX);
	assert_int_equal(m.k0, k0);
	assert_int_equal(m.k1, k1);
	/* One more would sit past it: the table is re-keyed instead, and
	 * under the new key the set is nothing special. */
	v[i] = i;
	PUT(&m, ck[i], &v[i]);
	assert_true(m.k0 != k0 || m.k1 != k1);
	assert_true(hmap_max_probe(&m) < 16);
	assert_int_equal(m.len, HMAP_PROBE_MAX + 2);
	assert_int_equal(m.cap, 256); /* the size its load asks for, not more */
	for (i = 0; i < HMAP_PROBE_MAX + 2; i++)
		assert_ptr_equal(GET(&m, ck[i]), &v[i]);
	for (i = 0; i < HMAP_PROBE_MAX + 2; i += 2)
		assert_ptr_equal(DEL(&m, ck[i]), &v[i]);
	for (i = 0; i < HMAP_PROBE_MAX + 2; i++)
		assert_ptr_equal(GET(&m, ck[i]), i % 2 ? &v[i] : NULL);
	hmap_free(&m);
}

/*
 * The flood that hurt chatd: 64-byte room names that all share one
 * unkeyed FNV-1a 32-bit hash.  At each of 16 positions a birthday search
 * finds two 4-byte blocks that take FNV-1a from the running state to the
 * same state; a name picks one of the two at every position, so the
 * 2^16 names all end in the same state.
 */
#define FLOOD_BLOCKS 16
#define FLOOD_LEN    ((size_t)4 * FLOOD_BLOCKS)  /* WIRE_ROOM_MAX */
#define FLOOD_NAMES  ((size_t)1 << FLOOD_BLOCKS) /* 65,536 */
#define FNV_BASIS    2166136261u
#define FNV_PRIME    16777619u

/* What a room name may hold. */
static const char flood_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789_.-";
static char flood_names[FLOOD_NAMES][FLOOD_LEN];
static uint32_t flood_hash; /* the FNV-1a hash they all share */

/* FNV-1a 32-bit, continued from state h over s[0, n). */
static uint32_t
fnv1a(uint32_t h, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* Block number i: 4 characters of the alphabet, from i scrambled by a
 * multiplicative hash.  Counting in order would vary one character only,
 * and FNV-1a of blocks that differ in their last byte alone never
 * collide; the birthday bound holds for blocks that look random. */
static void
flood_block(uint32_t i, char out[4])
{
	const uint32_t base = sizeof(flood_alphabet) - 1;
	uint32_t x = i * 0x9e3779b1u;
	int k;

	x ^= x >> 16;
	for (k = 0; k < 4; k++) {
		out[k] = flood_alphabet[x % base];
		x /= base;
	}
}

/* Two different blocks a, b with fnv1a(h, a) == fnv1a(h, b), found by a
 * birthday search: about 2^16 blocks go by before two states meet.
 * Returns the state after either. */
static uint32_t
flood_collide(uint32_t h, char a[4], char b[4])
{
	enum { SEEN_BITS = 19 };
	static uint32_t seen_state[1u << SEEN_BITS];
	static uint32_t seen_block[1u << SEEN_BITS]; /* block number + 1; 0: empty */
	const uint32_t mask = (1u << SEEN_BITS) - 1;
	uint32_t i;

	memset(seen_block, 0, sizeof(seen_block));
	for (i = 0; i < (1u << (SEEN_BITS - 1)); i++) {
		uint32_t g, s;

		flood_block(i, b);
		g = fnv1a(h, b, 4);
		for (s = g & mask; seen_block[s] != 0; s = (s + 1) & mask) {
			if (seen_state[s] == g) {
				flood_block(seen_block[s] - 1, a);
				if (memcmp(a, b, 4) != 0)
					return g;
			}
		}
		seen_state[s] = g;
		seen_block[s] = i + 1;
	}
	fail_msg("no FNV-1a collision among %u blocks", i);
	return 0;
}

/* Fill flood_names[] and flood_hash, once. */
static void
make_flood_names(void)
{
	static char pair[FLOOD_BLOCKS][2][4];
	static int made;
	uint32_t h = FNV_BASIS;
	size_t k, i;

	if (made)
		return;
	for (k = 0; k < FLOOD_BLOCKS; k++)
		h = flood_collide(h, pair[k][0], pair[k][1]);
	for (i = 0; i < FLOOD_NAMES; i++)
		for (k = 0; k < FLOOD_BLOCKS; k++)
			memcpy(flood_names[i] + k * 4, pair[k][(i >> k) & 1], 4);
	flood_hash = h;
	made = 1;
}

static void
hmap_fnv1a_collision_set_really_collides(void **state)
{
	size_t i, j;

	(void)state;
	make_flood_names();
	/* The test's own premise: valid, distinct names, one FNV-1a hash. */
	for (i = 0; i < FLOOD_NAMES; i++) {
		if (fnv1a(FNV_BASIS, flood_names[i], FLOOD_LEN) != flood_hash)
			fail_msg("name %zu does not hash to %08x under FNV-1a", i, flood_hash);
		for (j = 0; j < FLOOD_LEN; j++)
			assert_non_null(memchr(flood_alphabet, flood_names[i][j],
			                       sizeof(flood_alphabet) - 1));
	}
	/* Names i and i ^ (1 << k) differ in block k, and only there: every
	 * pair of the set differs in some block. */
	for (j = 0; j < FLOOD_BLOCKS; j++)
		assert_int_not_equal(
		        memcmp(flood_names[0] + j * 4, flood_names[1u << j] + j * 4, 4), 0);
}

static void
hmap_fnv1a_collision_set_keeps_probes_short(void **state)
{
	struct hmap m;
	size_t i, sum = 0;
	uint64_t k0, k1;

	(void)state;
	make_flood_names();
	hmap_init(&m);
	hmap_put(&m, flood_names[0], FLOOD_LEN, flood_names[0]);
	k0 = m.k0;
	k1 = m.k1;
	for (i = 1; i < FLOOD_NAMES; i++)
		hmap_put(&m, flood_names[i], FLOOD_LEN, flood_names[i]);
	assert_int_equal(m.len, FLOOD_NAMES); /* all distinct */
	/* The smallest table its load allows, and no re-key was needed. */
	assert_int_equal(m.cap, 2 * FLOOD_NAMES);
	assert_int_equal(m.k0, k0);
	assert_int_equal(m.k1, k1);
	assert_true(hmap_max_probe(&m) <= HMAP_PROBE_MAX);
	/* Under FNV-1a the mean distance from home was half the set (32,768
	 * slots); at load 1/2 with random homes it is about 1/2. */
	for (i = 0; i < m.cap; i++)
		if (m.tab[i].key != NULL)
			sum += (i - (m.tab[i].hash & (m.cap - 1))) & (m.cap - 1);
	assert_true(sum < 2 * FLOOD_NAMES);
	print_message("    %zu FNV-1a-colliding names: longest probe %zu, mean %.2f slots\n",
	              FLOOD_NAMES, hmap_max_probe(&m), (double)sum / FLOOD_NAMES);
	for (i = 0; i < FLOOD_NAMES; i++)
		assert_ptr_equal(hmap_get(&m, flood_names[i], FLOOD_LEN), flood_names[i]);
	for (i = 0; i < FLOOD_NAMES; i += 2)
		assert_ptr_equal(hmap_del(&m, flood_names[i], FLOOD_LEN), flood_names[i]);
	for (i = 0; i < FLOOD_NAMES; i++)
		assert_ptr_equal(hmap_get(&m, flood_names[i], FLOOD_LEN),
		                 i % 2 ? flood_names[i] : NULL);
	for (i = 1; i < FLOOD_NAMES; i += 2)
		assert_ptr_equal(hmap_del(&m, flood_names[i], FLOOD_LEN), flood_names[i]);
	assert_int_equal(m.len, 0);
	assert_true(hmap_max_probe(&m) == 0);
	hmap_free(&m);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(hmap_empty_map_finds_nothing),
	        cmocka_unit_test(hmap_put_then_get_returns_value),
	        cmocka_unit_test(hmap_get_compares_whole_key_and_length),
	        cmocka_unit_test(hmap_empty_key_is_a_key),
	        cmocka_unit_test(hmap_put_existing_key_replaces_value_without_growing),
	        cmocka_unit_test(hmap_del_returns_value_and_removes_entry),
	        cmocka_unit_test(hmap_del_absent_key_changes_nothing),
	        cmocka_unit_test(hmap_reinsert_after_delete_is_found),
	        cmocka_unit_test(hmap_keeps_load_factor_at_most_half),
	        cmocka_unit_test(hmap_10000_keys_with_interleaved_deletions_all_remaining_found),
	        cmocka_unit_test(hmap_random_workload_matches_reference),
	        cmocka_unit_test(hmap_delete_inside_wrapping_probe_run_keeps_others_found),
	        cmocka_unit_test(hmap_iteration_visits_every_value_once),
	        cmocka_unit_test(hmap_free_leaves_an_empty_reusable_map),
	        cmocka_unit_test(hmap_siphash_1_3_matches_published_vectors),
	        cmocka_unit_test(hmap_siphash_2_4_matches_paper_vectors),
	        cmocka_unit_test(hmap_seed_repeats_table_keys_and_each_table_has_its_own),
	        cmocka_unit_test(hmap_probe_past_bound_redraws_table_key),
	        cmocka_unit_test(hmap_fnv1a_collision_set_really_collides),
	        cmocka_unit_test(hmap_fnv1a_collision_set_keeps_probes_short),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
