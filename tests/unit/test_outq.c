/*
 * Unit tests of the output queue (src/outq.c): shared blocks queued by
 * reference and private replies written at the tail come out in the order
 * they were queued, however the writes split them; the byte count stays
 * exact; and every block reference is released once sent or cleared, which
 * blk_bytes_live() makes observable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include "blk.h"
#include "limits.h"
#include "outq.h"

/* Copy the bytes of s, without its terminator, to dst; returns the count. */
static size_t
put(uint8_t *dst, const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		dst[n] = (uint8_t)s[n];
	return n;
}

/* Append s to the string in dst[0, cap). */
static void
cat(char *dst, size_t cap, const char *s)
{
	size_t have = strlen(dst), n = strlen(s);

	assert_true(have + n < cap);
	memcpy(dst + have, s, n + 1);
}

/* A shared block holding the string s, with one (the caller's) reference. */
static struct blk *
shared(const char *s)
{
	struct blk *b = blk_new(strlen(s));

	b->len = (uint32_t)put(b->data, s);
	return b;
}

/* Queue s as a shared block, dropping the caller's reference. */
static void
push_str(struct outq *q, const char *s)
{
	struct blk *b = shared(s);

	outq_push(q, b);
	blk_unref(b);
}

/* Write s as a private reply. */
static void
reply_str(struct outq *q, const char *s)
{
	outq_commit(q, put(outq_reserve(q, strlen(s)), s));
}

/* Concatenate what outq_iov() describes (all of it) into out. */
static size_t
pending(const struct outq *q, char *out, size_t cap)
{
	struct iovec iov[64];
	size_t total = 0;
	int n, i;

	n = outq_iov(q, iov, 64, SIZE_MAX);
	for (i = 0; i < n; i++) {
		assert_true(total + iov[i].iov_len <= cap);
		memcpy(out + total, iov[i].iov_base, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	out[total] = '\0';
	return total;
}

static void
assert_pending(const struct outq *q, const char *want)
{
	char buf[8192];
	size_t n = pending(q, buf, sizeof(buf) - 1);

	assert_int_equal(n, strlen(want));
	assert_string_equal(buf, want);
	assert_int_equal(q->bytes, n);
}

static void
outq_new_queue_is_empty(void **state)
{
	struct outq q;
	struct iovec iov[4];

	(void)state;
	outq_init(&q);
	assert_int_equal(outq_iov(&q, iov, 4, SIZE_MAX), 0);
	assert_int_equal(q.bytes, 0);
	assert_null(q.v);
	outq_consume(&q, 0);
	assert_null(q.v);
	outq_clear(&q);
}

static void
outq_push_takes_its_own_reference(void **state)
{
	size_t base = blk_bytes_live();
	struct outq q;
	struct blk *b = shared("hello");

	(void)state;
	outq_init(&q);
	outq_push(&q, b);
	assert_int_equal(b->refs, 2);
	outq_push(&q, b); /* the same block twice: two references */
	assert_int_equal(b->refs, 3);
	assert_int_equal(q.bytes, 10);
	assert_pending(&q, "hellohello");
	outq_consume(&q, 10);
	assert_int_equal(b->refs, 1);
	blk_unref(b);
	assert_int_equal(blk_bytes_live(), base);
}

static void
outq_iov_describes_shared_and_private_blocks_in_order(void **state)
{
	struct outq q;
	struct iovec iov[8];
	int n;

	(void)state;
	outq_init(&q);
	push_str(&q, "<A>");
	reply_str(&q, "r1");
	push_str(&q, "<B>");
	reply_str(&q, "r2");
	reply_str(&q, "r3");
	push_str(&q, "<C>");
	n = outq_iov(&q, iov, 8, SIZE_MAX);
	/* r2 and r3 share one private block; r1 was closed by the push. */
	assert_int_equal(n, 5);
	assert_int_equal(iov[0].iov_len, 3);
	assert_memory_equal(iov[0].iov_base, "<A>", 3);
	assert_int_equal(iov[1].iov_len, 2);
	assert_memory_equal(iov[1].iov_base, "r1", 2);
	assert_int_equal(iov[2].iov_len, 3);
	assert_memory_equal(iov[2].iov_base, "<B>", 3);
	assert_int_equal(iov[3].iov_len, 4);
	assert_memory_equal(iov[3].iov_base, "r2r3", 4);
	assert_int_equal(iov[4].iov_len, 3);
	assert_memory_equal(iov[4].iov_base, "<C>", 3);
	assert_int_equal(q.bytes, 15);
	outq_clear(&q);
}

static void
outq_private_replies_share_one_block_until_a_push(void **state)
{
	struct outq q;
	uint8_t *p1, *p2;

	(void)state;
	outq_init(&q);
	p1 = outq_reserve(&q, 10);
	outq_commit(&q, put(p1, "abc"));
	p2 = outq_reserve(&q, 10);
	assert_ptr_equal(p2, p1 + 3); /* appended right after, no allocation */
	outq_commit(&q, put(p2, "de"));
	assert_int_equal(q.n, 1);
	push_str(&q, "X");
	reply_str(&q, "f");
	assert_int_equal(q.n, 3); /* a new private block after the push */
	assert_pending(&q, "abcdeXf");
	outq_clear(&q);
}

static void
outq_reserve_starts_new_block_when_private_block_is_full(void **state)
{
	struct outq q;
	uint8_t *p;

	(void)state;
	outq_init(&q);
	p = outq_reserve(&q, CHATD_REPLY_BLOCK - 5);
	memset(p, 'f', CHATD_REPLY_BLOCK - 5);
	outq_commit(&q, CHATD_REPLY_BLOCK - 5);
	/* 5 bytes left: a 6-byte reservation needs a fresh block. */
	put(outq_reserve(&q, 6), "sixsix");
	outq_commit(&q, 6);
	assert_int_equal(q.n, 2);
	assert_int_equal(q.bytes, CHATD_REPLY_BLOCK - 5 + 6);
	outq_clear(&q);
	/* But 5 bytes fit exactly in what is left. */
	outq_init(&q);
	p = outq_reserve(&q, CHATD_REPLY_BLOCK - 5);
	memset(p, 'f', CHATD_REPLY_BLOCK - 5);
	outq_commit(&q, CHATD_REPLY_BLOCK - 5);
	assert_ptr_equal(outq_reserve(&q, 5), p + CHATD_REPLY_BLOCK - 5);
	assert_int_equal(q.n, 1);
	outq_clear(&q);
}

static void
outq_reserve_larger_than_default_block(void **state)
{
	enum { BIG = CHATD_REPLY_BLOCK * 5 + 17 };
	static char big[BIG + 1];
	size_t base = blk_bytes_live();
	struct outq q;
	uint8_t *p;
	char out[BIG + 16];

	(void)state;
	memset(big, 'b', BIG);
	outq_init(&q);
	reply_str(&q, "hi");
	p = outq_reserve(&q, BIG);
	assert_non_null(q.priv);
	assert_true(q.priv->cap - q.priv->len >= BIG);
	memcpy(p, big, BIG);
	outq_commit(&q, BIG);
	reply_str(&q, "!");
	assert_int_equal(pending(&q, out, sizeof(out) - 1), BIG + 3);
	assert_memory_equal(out, "hi", 2);
	assert_memory_equal(out + 2, big, BIG);
	assert_int_equal(out[BIG + 2], '!');
	assert_int_equal(q.bytes, BIG + 3);
	outq_consume(&q, BIG + 3);
	assert_int_equal(blk_bytes_live(), base);
	assert_null(q.v);
}

static void
outq_consume_partial_across_block_boundaries(void **state)
{
	static const char *const parts[] = {"alpha", "r:ok",        "b",    "r:x",
	                                    "r:yz",  "gamma-delta", "r:end"};
	enum { NPARTS = sizeof(parts) / sizeof(parts[0]) };
	size_t base = blk_bytes_live();
	size_t chunk;

	(void)state;
	/* Every write size from 1 byte to more than everything: the bytes
	 * come out whole and in order, and the count stays exact. */
	for (chunk = 1; chunk <= 40; chunk++) {
		char want[128] = "", got[128], now[128];
		size_t sent = 0, total;
		struct outq q;
		int i;

		outq_init(&q);
		for (i = 0; i < NPARTS; i++) {
			if (strncmp(parts[i], "r:", 2) == 0)
				reply_str(&q, parts[i]);
			else
				push_str(&q, parts[i]);
			cat(want, sizeof(want), parts[i]);
		}
		total = strlen(want);
		while (q.bytes) {
			size_t have = pending(&q, now, sizeof(now) - 1);
			size_t n = have < chunk ? have : chunk;

			assert_int_equal(have, total - sent);
			assert_memory_equal(now, want + sent, have);
			memcpy(got + sent, now, n);
			sent += n;
			outq_consume(&q, n);
			assert_int_equal(q.bytes, total - sent);
		}
		assert_int_equal(sent, total);
		assert_memory_equal(got, want, total);
		assert_null(q.v);
		assert_null(q.priv);
		assert_int_equal(blk_bytes_live(), base);
	}
}

static void
outq_partial_consume_of_private_block_then_more_replies(void **state)
{
	struct outq q;

	(void)state;
	outq_init(&q);
	reply_str(&q, "hello");
	outq_consume(&q, 3);
	assert_pending(&q, "lo");
	/* The partly sent private block is still the tail: append to it. */
	reply_str(&q, "world");
	assert_int_equal(q.n, 1);
	assert_pending(&q, "loworld");
	outq_consume(&q, 7);
	assert_null(q.v);
	outq_clear(&q);
}

static void
outq_releases_shared_block_references_as_sent(void **state)
{
	size_t base = blk_bytes_live();
	struct blk *a = shared("aaaa"), *b = shared("bbbb");
	struct outq q;

	(void)state;
	outq_init(&q);
	outq_push(&q, a);
	outq_push(&q, b);
	outq_consume(&q, 3);
	assert_int_equal(a->refs, 2); /* not finished yet */
	outq_consume(&q, 1);
	assert_int_equal(a->refs, 1); /* finished: released */
	assert_int_equal(b->refs, 2);
	outq_consume(&q, 4);
	assert_int_equal(b->refs, 1);
	blk_unref(a);
	blk_unref(b);
	assert_int_equal(blk_bytes_live(), base);
}

static void
outq_frees_ring_when_empty(void **state)
{
	size_t base = blk_bytes_live();
	struct outq q;

	(void)state;
	outq_init(&q);
	push_str(&q, "abc");
	reply_str(&q, "de");
	assert_non_null(q.v);
	outq_consume(&q, 5);
	assert_null(q.v);
	assert_int_equal(q.cap, 0);
	assert_int_equal(q.n, 0);
	assert_null(q.priv);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(blk_bytes_live(), base);
	/* And the queue works again afterwards, with a fresh private block. */
	reply_str(&q, "fg");
	assert_pending(&q, "fg");
	outq_consume(&q, 2);
	assert_null(q.v);
	assert_int_equal(blk_bytes_live(), base);
}

static void
outq_grows_past_8_entries_keeping_order(void **state)
{
	char want[256] = "", name[8];
	struct outq q;
	int i;

	(void)state;
	outq_init(&q);
	/* Move the head off slot 0 first, so that growth copies a wrapped
	 * ring. */
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "<%d>", i);
		push_str(&q, name);
	}
	outq_consume(&q, 9); /* <0><1><2> */
	assert_int_equal(q.head, 3);
	for (i = 5; i < 40; i++) {
		snprintf(name, sizeof(name), i % 4 ? "<%d>" : "[%d]", i);
		if (i % 4)
			push_str(&q, name);
		else
			reply_str(&q, name);
	}
	for (i = 3; i < 40; i++) {
		snprintf(name, sizeof(name), i % 4 || i < 5 ? "<%d>" : "[%d]", i);
		cat(want, sizeof(want), name);
	}
	assert_int_equal(q.n, 37);
	assert_true(q.cap >= 37);
	assert_pending(&q, want);
	outq_consume(&q, q.bytes);
	assert_null(q.v);
}

static void
outq_ring_wraps_without_growing(void **state)
{
	char want[64] = "<9>", name[8];
	struct outq q;
	int i, round;

	(void)state;
	outq_init(&q);
	push_str(&q, "<keep>");
	/* Push one, send the one before: never more than two entries, so the
	 * head walks round the 8-entry ring several times without growth. */
	for (round = 0; round < 30; round++) {
		snprintf(name, sizeof(name), "<%d>", round % 10);
		push_str(&q, name);
		outq_consume(&q, round == 0 ? 6 : 3);
		assert_int_equal(q.cap, 8);
		assert_int_equal(q.n, 1);
	}
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "<%d>", i);
		push_str(&q, name);
		cat(want, sizeof(want), name);
	}
	assert_pending(&q, want);
	outq_clear(&q);
}

static void
outq_iov_respects_max_iov(void **state)
{
	struct outq q;
	struct iovec iov[3];
	int i;

	(void)state;
	outq_init(&q);
	for (i = 0; i < 10; i++)
		push_str(&q, "xy");
	assert_int_equal(outq_iov(&q, iov, 3, SIZE_MAX), 3);
	assert_int_equal(outq_iov(&q, iov, 1, SIZE_MAX), 1);
	outq_clear(&q);
}

static void
outq_iov_starts_at_offset_of_partly_sent_block(void **state)
{
	struct outq q;
	struct iovec iov[4];

	(void)state;
	outq_init(&q);
	push_str(&q, "abcdef");
	push_str(&q, "gh");
	outq_consume(&q, 4);
	assert_int_equal(outq_iov(&q, iov, 4, SIZE_MAX), 2);
	assert_int_equal(iov[0].iov_len, 2);
	assert_memory_equal(iov[0].iov_base, "ef", 2);
	assert_int_equal(iov[1].iov_len, 2);
	outq_clear(&q);
}

static void
outq_iov_describes_at_most_max_bytes(void **state)
{
	struct outq q;
	struct iovec iov[8];
	size_t sum;
	int n, i;

	(void)state;
	outq_init(&q);
	for (i = 0; i < 4; i++)
		push_str(&q, "0123456789"); /* 4 blocks of 10 bytes */
	/* "Describe up to max_iov blocks and max_bytes of pending output." */
	n = outq_iov(&q, iov, 8, 25);
	for (sum = 0, i = 0; i < n; i++)
		sum += iov[i].iov_len;
	outq_clear(&q); /* before asserting, so a failure leaks nothing */
	assert_true(n > 0);
	if (sum > 25)
		fail_msg("outq_iov(max_bytes 25) described %zu bytes in %d iovecs", sum, n);
}

static void
outq_iov_makes_progress_when_first_block_exceeds_max_bytes(void **state)
{
	struct outq q;
	struct iovec iov[8];
	int n;

	(void)state;
	outq_init(&q);
	push_str(&q, "0123456789");
	n = outq_iov(&q, iov, 8, 4);
	assert_int_equal(n, 1);
	assert_true(iov[0].iov_len > 0);
	outq_clear(&q);
}

static void
outq_commit_of_zero_queues_nothing_to_send(void **state)
{
	size_t base = blk_bytes_live();
	struct outq q;
	struct iovec iov[4];

	(void)state;
	outq_init(&q);
	outq_reserve(&q, 100);
	outq_commit(&q, 0);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(outq_iov(&q, iov, 4, SIZE_MAX), 0);
	/* The reserved block is reused by the next reply. */
	reply_str(&q, "ok");
	assert_int_equal(q.n, 1);
	assert_pending(&q, "ok");
	outq_consume(&q, 2);
	assert_null(q.v);
	assert_int_equal(blk_bytes_live(), base);
}

static void
outq_clear_releases_every_block(void **state)
{
	size_t base = blk_bytes_live();
	struct blk *b = shared("shared");
	struct outq q;
	int i;

	(void)state;
	outq_init(&q);
	for (i = 0; i < 20; i++) {
		outq_push(&q, b);
		reply_str(&q, "reply");
	}
	outq_consume(&q, 8); /* mid-block */
	assert_int_equal(b->refs, 20);
	outq_clear(&q);
	assert_int_equal(b->refs, 1);
	assert_null(q.v);
	assert_null(q.priv);
	assert_int_equal(q.bytes, 0);
	blk_unref(b);
	assert_int_equal(blk_bytes_live(), base);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(outq_new_queue_is_empty),
	        cmocka_unit_test(outq_push_takes_its_own_reference),
	        cmocka_unit_test(outq_iov_describes_shared_and_private_blocks_in_order),
	        cmocka_unit_test(outq_private_replies_share_one_block_until_a_push),
	        cmocka_unit_test(outq_reserve_starts_new_block_when_private_block_is_full),
	        cmocka_unit_test(outq_reserve_larger_than_default_block),
	        cmocka_unit_test(outq_consume_partial_across_block_boundaries),
	        cmocka_unit_test(outq_partial_consume_of_private_block_then_more_replies),
	        cmocka_unit_test(outq_releases_shared_block_references_as_sent),
	        cmocka_unit_test(outq_frees_ring_when_empty),
	        cmocka_unit_test(outq_grows_past_8_entries_keeping_order),
	        cmocka_unit_test(outq_ring_wraps_without_growing),
	        cmocka_unit_test(outq_iov_respects_max_iov),
	        cmocka_unit_test(outq_iov_starts_at_offset_of_partly_sent_block),
	        cmocka_unit_test(outq_iov_describes_at_most_max_bytes),
	        cmocka_unit_test(outq_iov_makes_progress_when_first_block_exceeds_max_bytes),
	        cmocka_unit_test(outq_commit_of_zero_queues_nothing_to_send),
	        cmocka_unit_test(outq_clear_releases_every_block),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
