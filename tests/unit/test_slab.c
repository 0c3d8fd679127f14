/*
 * Unit tests of chatd's allocator (src/util/slab.c): every size up to SLAB_MAX
 * gets memory of its own that holds what is written to it; a crowd of
 * objects freed in any order gives every slab back (the point of the
 * module: a server whose load has gone returns to its starting size); one
 * object coming and going does not map a slab each time; realloc keeps the
 * contents; and in passthrough mode a free with the wrong size is caught.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "util/slab.h"

static struct slab_stats
stats(void)
{
	struct slab_stats st;

	slab_stats(&st);
	return st;
}

/* Tests start and end with nothing live and no slab mapped. */
static int
slab_mode(void **state)
{
	(void)state;
	slab_set_passthrough(0);
	slab_trim();
	assert_int_equal(stats().live, 0);
	assert_int_equal(stats().slabs, 0);
	return 0;
}

static uint32_t rng = 2463534242u;

static uint32_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void
fill(uint8_t *p, size_t n, uint8_t tag)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(tag + i * 7);
}

static int
intact(const uint8_t *p, size_t n, uint8_t tag)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (uint8_t)(tag + i * 7))
			return 0;
	return 1;
}

/* For every size, three objects side by side keep their own bytes. */
static void
test_every_size_holds_its_bytes(void **state)
{
	size_t n;
	int i;

	(void)state;
	for (n = 1; n <= SLAB_MAX + 64; n++) {
		uint8_t *p[3];

		for (i = 0; i < 3; i++) {
			p[i] = slab_alloc(n);
			fill(p[i], n, (uint8_t)(n + (size_t)i));
		}
		for (i = 0; i < 3; i++) {
			assert_true(intact(p[i], n, (uint8_t)(n + (size_t)i)));
			slab_free(p[i], n);
		}
	}
	assert_int_equal(stats().live, 0);
	slab_trim();
	assert_int_equal(stats().slabs, 0);
}

static void
test_zalloc_zeroes_reused_memory(void **state)
{
	uint8_t *p = slab_alloc(200);
	size_t i;

	(void)state;
	memset(p, 0xAB, 200);
	slab_free(p, 200);
	p = slab_zalloc(200);
	for (i = 0; i < 200; i++)
		assert_int_equal(p[i], 0);
	slab_free(p, 200);
	slab_trim();
}

#define CROWD 20000

/* Objects of mixed sizes, as a crowd of connections and messages leaves
 * them, freed in random order: all memory goes back. */
static void
test_crowd_leaving_gives_every_slab_back(void **state)
{
	static uint8_t *obj[CROWD];
	static size_t size[CROWD];
	size_t i, live = 0;

	(void)state;
	for (i = 0; i < CROWD; i++) {
		size[i] = 1 + next_rand() % (i % 10 ? 400 : SLAB_MAX);
		obj[i] = slab_alloc(size[i]);
		fill(obj[i], size[i], (uint8_t)i);
		live += size[i];
	}
	assert_int_equal(stats().live, live);
	assert_true(stats().slabs > 10);
	for (i = CROWD - 1; i > 0; i--) { /* shuffle */
		size_t j = next_rand() % (i + 1), s = size[i];
		uint8_t *o = obj[i];

		size[i] = size[j], obj[i] = obj[j];
		size[j] = s, obj[j] = o;
	}
	for (i = 0; i < CROWD; i++) {
		/* Tags were given before the shuffle: recompute from content. */
		assert_true(intact(obj[i], size[i], obj[i][0]));
		slab_free(obj[i], size[i]);
	}
	assert_int_equal(stats().live, 0);
	/* At most one empty slab per class is kept until trimmed. */
	assert_true(stats().slabs == stats().spares);
	assert_true(stats().spares <= 56);
	slab_trim();
	assert_int_equal(stats().slabs, 0);
	assert_int_equal(stats().spares, 0);
}

/* A slab stays while one of its objects lives, and goes when that one is
 * freed, once another empty slab of its class is already kept. */
static void
test_slab_goes_with_its_last_object(void **state)
{
	enum { N = 64 * 1024 / 512 * 3 };
	static void *p[N];
	size_t i;

	(void)state;
	for (i = 0; i < N; i++)
		p[i] = slab_alloc(512);
	assert_int_equal(stats().slabs, 4); /* 127 slots of 512 bytes per slab */
	for (i = 1; i < N; i++)
		slab_free(p[i], 512);
	/* p[0]'s slab stays, and one empty one is kept as the spare. */
	assert_int_equal(stats().slabs, 2);
	assert_int_equal(stats().spares, 1);
	slab_free(p[0], 512);
	assert_int_equal(stats().slabs, 1);
	slab_trim();
	assert_int_equal(stats().slabs, 0);
}

/* One object coming and going reuses the kept slab, never maps anew. */
static void
test_one_object_coming_and_going_keeps_one_slab(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		void *p = slab_alloc(100);

		assert_int_equal(stats().slabs, 1);
		slab_free(p, 100);
		assert_int_equal(stats().slabs, 1);
	}
	slab_trim();
	assert_int_equal(stats().slabs, 0);
}

static void
test_realloc_keeps_contents(void **state)
{
	size_t sizes[] = {8, 16, 17, 100, 300, 5000, SLAB_MAX, SLAB_MAX + 1, 40000, 24, 3};
	size_t i, old = 8;
	uint8_t *p = slab_alloc(old);

	(void)state;
	fill(p, old, 9);
	for (i = 1; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], keep = old < n ? old : n;

		p = slab_realloc(p, old, n);
		assert_true(intact(p, keep, 9));
		fill(p, n, 9);
		old = n;
	}
	/* Within one slot size nothing moves. */
	assert_ptr_equal(slab_realloc(p, old, 1), p);
	slab_free(p, 1);
	assert_int_equal(stats().live, 0);
	slab_trim();
}

/* Frees an object with the wrong size in passthrough mode. */
static int
free_with_wrong_size(void)
{
	void *p;

	slab_set_passthrough(1);
	p = slab_alloc(100);
	slab_free(p, 100);
	p = slab_alloc(100);
	(void)close(2); /* the fatal message is expected */
	slab_free(p, 99);
	return 0;
}

/* Passthrough (sanitizer builds, valgrind): a wrong size given to
 * slab_free() stops the process instead of corrupting memory. */
static void
test_passthrough_catches_a_wrong_size(void **state)
{
	int status;

	(void)state;
	status = in_child(free_with_wrong_size);
	assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_every_size_holds_its_bytes, slab_mode),
	        cmocka_unit_test_setup(test_zalloc_zeroes_reused_memory, slab_mode),
	        cmocka_unit_test_setup(test_crowd_leaving_gives_every_slab_back, slab_mode),
	        cmocka_unit_test_setup(test_slab_goes_with_its_last_object, slab_mode),
	        cmocka_unit_test_setup(test_one_object_coming_and_going_keeps_one_slab, slab_mode),
	        cmocka_unit_test_setup(test_realloc_keeps_contents, slab_mode),
	        cmocka_unit_test_setup(test_passthrough_catches_a_wrong_size, slab_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
