/*
 * Unit tests of the output queue (src/net/outq.c) and of the arena that packs
 * renderings into shared blocks (src/core/blk.c): slices of shared blocks queued
 * by reference and private replies written at the tail come out in the
 * order they were queued, however the writes split them; a slice that
 * continues the tail entry in the same block extends it (one iovec for a
 * burst), and nothing else does; the byte count stays exact; and every
 * block reference is released once sent or cleared, which blk_bytes_live()
 * makes observable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include "util/arena.h"
#include "util/blk.h"
#include "util/defaults.h"
#include "net/outq.h"

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

/* The whole of block b as a slice. */
static struct slice
whole(struct blk *b)
{
	return (struct slice){b, 0, b->len};
}

/* Bytes [off, off + len) of block b as a slice. */
static struct slice
part(struct blk *b, uint32_t off, uint32_t len)
{
	assert_true(off + len <= b->len);
	return (struct slice){b, off, len};
}

/* Queue s as a shared block, dropping the caller's reference. */
static void
push_str(struct outq *q, const char *s)
{
	struct blk *b = shared(s);

	outq_push(q, whole(b));
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
	outq_push(&q, whole(b));
	assert_int_equal(b->refs, 2);
	outq_push(&q, whole(b)); /* the same slice twice: two references */
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
	outq_push(&q, whole(a));
	outq_push(&q, whole(b));
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
		outq_push(&q, whole(b));
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

static void
outq_consume_between_reserve_and_commit_keeps_the_reserved_block(void **state)
{
	size_t base = blk_bytes_live();
	struct outq q;
	uint8_t *p;

	(void)state;
	outq_init(&q);
	push_str(&q, "abc");
	p = outq_reserve(&q, 10);
	/* Everything queued so far is sent while the reply is being written:
	 * the reserved, still empty, private block must stay. */
	outq_consume(&q, 3);
	assert_non_null(q.priv);
	assert_int_equal(q.n, 1);
	outq_commit(&q, put(p, "hi"));
	assert_pending(&q, "hi");
	outq_consume(&q, 2);
	assert_null(q.v);
	assert_int_equal(blk_bytes_live(), base);
}

/* ---- coalescing ---- */

/* The number of iovecs outq_iov() describes for everything pending. */
static int
iov_count(const struct outq *q)
{
	struct iovec iov[64];

	return outq_iov(q, iov, 64, SIZE_MAX);
}

static void
outq_coalesces_adjacent_slices_of_one_block_into_one_iovec(void **state)
{
	size_t base = blk_bytes_live();
	struct blk *b = shared("abcdefghij");
	struct iovec iov[4];
	struct outq q;

	(void)state;
	outq_init(&q);
	outq_push(&q, part(b, 0, 3));
	outq_push(&q, part(b, 3, 4));
	outq_push(&q, part(b, 7, 3));
	assert_int_equal(q.n, 1);
	assert_int_equal(b->refs, 2); /* the caller's and one for the entry */
	assert_int_equal(q.bytes, 10);
	assert_int_equal(outq_iov(&q, iov, 4, SIZE_MAX), 1);
	assert_ptr_equal(iov[0].iov_base, b->data);
	assert_int_equal(iov[0].iov_len, 10);
	assert_pending(&q, "abcdefghij");
	outq_consume(&q, 10);
	assert_int_equal(b->refs, 1);
	assert_null(q.v);
	blk_unref(b);
	assert_int_equal(blk_bytes_live(), base);
}

static void
outq_does_not_coalesce_slices_of_different_blocks(void **state)
{
	size_t base = blk_bytes_live();
	struct blk *a = shared("aaaaaa"), *b = shared("bbbbbb");
	struct outq q;

	(void)state;
	outq_init(&q);
	/* b's slice starts at the offset where a's ends: still another block. */
	outq_push(&q, part(a, 0, 3));
	outq_push(&q, part(b, 3, 3));
	assert_int_equal(q.n, 2);
	assert_int_equal(iov_count(&q), 2);
	assert_int_equal(a->refs, 2);
	assert_int_equal(b->refs, 2);
	assert_pending(&q, "aaabbb");
	outq_consume(&q, 6);
	assert_int_equal(a->refs, 1);
	assert_int_equal(b->refs, 1);
	blk_unref(a);
	blk_unref(b);
	assert_int_equal(blk_bytes_live(), base);
}

static void
outq_does_not_coalesce_non_adjacent_ranges_of_one_block(void **state)
{
	size_t base = blk_bytes_live();
	struct blk *b = shared("0123456789");
	struct outq q;

	(void)state;
	outq_init(&q);
	outq_push(&q, part(b, 0, 3)); /* "012" */
	outq_push(&q, part(b, 4, 2)); /* a gap: "45" */
	assert_int_equal(q.n, 2);
	outq_push(&q, part(b, 4, 2)); /* the same range again */
	assert_int_equal(q.n, 3);
	outq_push(&q, part(b, 2, 4)); /* overlapping the tail's end */
	assert_int_equal(q.n, 4);
	outq_push(&q, part(b, 0, 2)); /* before the tail */
	assert_int_equal(q.n, 5);
	outq_push(&q, part(b, 2, 1)); /* adjacent to that: coalesced */
	assert_int_equal(q.n, 5);
	assert_int_equal(b->refs, 6);
	assert_int_equal(iov_count(&q), 5);
	assert_pending(&q, "01245452345012"); /* 012 45 45 2345 012 */
	outq_consume(&q, 4);
	assert_int_equal(b->refs, 5);
	assert_pending(&q, "5452345012"); /* 5 45 2345 012 */
	outq_clear(&q);
	assert_int_equal(b->refs, 1);
	blk_unref(b);
	assert_int_equal(blk_bytes_live(), base);
}

static void
outq_does_not_coalesce_across_an_entry_of_another_block(void **state)
{
	size_t base = blk_bytes_live();
	struct blk *a = shared("AAAAAA"), *b = shared("bb");
	struct outq q;

	(void)state;
	outq_init(&q);
	outq_push(&q, part(a, 0, 3));
	outq_push(&q, whole(b));
	outq_push(&q, part(a, 3, 3)); /* continues a's first entry, but b is the tail */
	assert_int_equal(q.n, 3);
	assert_int_equal(a->refs, 3);
	assert_pending(&q, "AAAbbAAA");
	outq_consume(&q, 8);
	assert_int_equal(a->refs, 1);
	assert_int_equal(b->refs, 1);
	blk_unref(a);
	blk_unref(b);
	assert_int_equal(blk_bytes_live(), base);
}

static void
outq_coalesced_run_accounts_bytes_and_references_through_consume(void **state)
{
	size_t base = blk_bytes_live(), total = 0;
	struct arena ar = {NULL, NULL};
	struct slice s[50];
	struct outq q;
	struct blk *b;
	int i;

	(void)state;
	outq_init(&q);
	for (i = 0; i < 50; i++) {
		size_t n = 1 + (size_t)i % 7;

		memset(arena_reserve(&ar, n), 'a' + i % 26, n);
		s[i] = arena_commit(&ar, n);
		outq_push(&q, s[i]);
		total += n;
		assert_int_equal(q.bytes, total);
	}
	b = s[0].b;
	assert_int_equal(q.n, 1);
	assert_int_equal(iov_count(&q), 1);
	/* The arena, each slice, and the one queue entry. */
	assert_int_equal(b->refs, 1 + 50 + 1);
	/* The renderers' slices go (msg_drop_live), the arena lets go. */
	for (i = 0; i < 50; i++)
		blk_unref(s[i].b);
	arena_release(&ar);
	assert_int_equal(b->refs, 1);
	assert_true(blk_bytes_live() > base); /* the queue keeps the block */
	outq_consume(&q, total - 1);
	assert_int_equal(q.bytes, 1);
	assert_int_equal(b->refs, 1);
	outq_consume(&q, 1);
	assert_int_equal(q.bytes, 0);
	assert_null(q.v);
	assert_int_equal(blk_bytes_live(), base);
}

static void
outq_coalesced_run_accounts_bytes_and_references_through_clear(void **state)
{
	size_t base = blk_bytes_live();
	struct arena ar = {NULL, NULL};
	struct outq q1, q2;
	struct slice s;
	struct blk *b = NULL;
	int i;

	(void)state;
	/* One burst fanned out to two queues: one entry each. */
	outq_init(&q1);
	outq_init(&q2);
	for (i = 0; i < 20; i++) {
		memset(arena_reserve(&ar, 10), 'x', 10);
		s = arena_commit(&ar, 10);
		b = s.b;
		outq_push(&q1, s);
		outq_push(&q2, s);
		blk_unref(s.b);
	}
	assert_int_equal(q1.n, 1);
	assert_int_equal(q2.n, 1);
	assert_int_equal(q1.bytes, 200);
	assert_int_equal(q2.bytes, 200);
	assert_int_equal(b->refs, 3); /* the arena and two entries */
	arena_release(&ar);
	outq_consume(&q1, 55); /* mid-entry */
	assert_int_equal(q1.bytes, 145);
	outq_clear(&q1);
	assert_int_equal(q1.bytes, 0);
	assert_int_equal(b->refs, 1);
	outq_clear(&q2);
	assert_int_equal(blk_bytes_live(), base);
}

static void
outq_partial_consume_inside_coalesced_entry(void **state)
{
	static const char *const parts[] = {"alpha", "-", "beta", "", "gamma", "delta!"};
	enum { NPARTS = sizeof(parts) / sizeof(parts[0]) };
	size_t base = blk_bytes_live();
	size_t chunk;

	(void)state;
	/* Every write size: bytes whole and in order, the count exact, the
	 * entry's single reference released only at its very end. */
	for (chunk = 1; chunk <= 25; chunk++) {
		char want[64] = "", now[64];
		struct blk *b = blk_new(64);
		size_t sent = 0, total;
		struct outq q;
		int i;

		outq_init(&q);
		for (i = 0; i < NPARTS; i++) {
			uint32_t off = b->len, n = (uint32_t)put(b->data + off, parts[i]);

			b->len += n;
			outq_push(&q, part(b, off, n));
			cat(want, sizeof(want), parts[i]);
		}
		total = strlen(want);
		assert_int_equal(q.n, 1);
		assert_int_equal(b->refs, 2);
		while (q.bytes) {
			size_t have = pending(&q, now, sizeof(now) - 1);
			size_t n = have < chunk ? have : chunk;

			assert_int_equal(iov_count(&q), 1);
			assert_int_equal(have, total - sent);
			assert_memory_equal(now, want + sent, have);
			sent += n;
			outq_consume(&q, n);
			assert_int_equal(q.bytes, total - sent);
			assert_int_equal(b->refs, sent < total ? 2 : 1);
		}
		assert_null(q.v);
		blk_unref(b);
		assert_int_equal(blk_bytes_live(), base);
	}
}

static void
outq_coalesces_onto_partly_sent_tail_entry(void **state)
{
	size_t base = blk_bytes_live();
	struct blk *b = shared("abcdefgh");
	struct outq q;

	(void)state;
	outq_init(&q);
	outq_push(&q, part(b, 0, 5));
	outq_consume(&q, 3);
	outq_push(&q, part(b, 5, 3));
	assert_int_equal(q.n, 1);
	assert_int_equal(b->refs, 2);
	assert_pending(&q, "defgh");
	outq_consume(&q, 5);
	assert_int_equal(b->refs, 1);
	blk_unref(b);
	assert_int_equal(blk_bytes_live(), base);
}

static void
outq_slice_after_fully_sent_entry_takes_a_new_reference(void **state)
{
	size_t base = blk_bytes_live();
	struct blk *b = shared("abcdef");
	struct outq q;

	(void)state;
	outq_init(&q);
	outq_push(&q, part(b, 0, 3));
	outq_consume(&q, 3); /* the entry and its reference are gone */
	assert_int_equal(b->refs, 1);
	assert_null(q.v);
	outq_push(&q, part(b, 3, 3));
	assert_int_equal(q.n, 1);
	assert_int_equal(b->refs, 2);
	assert_pending(&q, "def");
	outq_consume(&q, 3);
	assert_int_equal(b->refs, 1);
	blk_unref(b);
	assert_int_equal(blk_bytes_live(), base);
}

static void
outq_private_reply_after_coalesced_run_then_more_slices(void **state)
{
	size_t base = blk_bytes_live();
	struct blk *b = shared("<1><2><3><4><5><6>");
	struct iovec iov[8];
	struct outq q;
	int n;

	(void)state;
	outq_init(&q);
	outq_push(&q, part(b, 0, 3));
	outq_push(&q, part(b, 3, 3));
	reply_str(&q, "r1");
	reply_str(&q, "r2"); /* same private block, same entry */
	assert_int_equal(q.n, 2);
	/* The slice continues the run, but the private block is the tail. */
	outq_push(&q, part(b, 6, 3));
	outq_push(&q, part(b, 9, 3));
	assert_int_equal(q.n, 3);
	assert_null(q.priv);
	reply_str(&q, "r3"); /* a fresh private block after the push */
	assert_int_equal(q.n, 4);
	outq_push(&q, part(b, 12, 3));
	outq_push(&q, part(b, 15, 3));
	assert_int_equal(q.n, 5);
	assert_int_equal(b->refs, 1 + 3);
	n = outq_iov(&q, iov, 8, SIZE_MAX);
	assert_int_equal(n, 5);
	assert_int_equal(iov[0].iov_len, 6);
	assert_memory_equal(iov[0].iov_base, "<1><2>", 6);
	assert_int_equal(iov[1].iov_len, 4);
	assert_memory_equal(iov[1].iov_base, "r1r2", 4);
	assert_int_equal(iov[2].iov_len, 6);
	assert_memory_equal(iov[2].iov_base, "<3><4>", 6);
	assert_int_equal(iov[3].iov_len, 2);
	assert_memory_equal(iov[3].iov_base, "r3", 2);
	assert_int_equal(iov[4].iov_len, 6);
	assert_memory_equal(iov[4].iov_base, "<5><6>", 6);
	assert_pending(&q, "<1><2>r1r2<3><4>r3<5><6>");
	/* Send into the middle of the private entry, then reply again: the
	 * new private block's entry keeps its end in sync. */
	outq_consume(&q, 7);
	assert_int_equal(b->refs, 3);
	reply_str(&q, "r4");
	reply_str(&q, "r5");
	assert_int_equal(q.n, 5); /* the first entry is gone, r4r5 added one */
	assert_pending(&q, "1r2<3><4>r3<5><6>r4r5");
	outq_consume(&q, q.bytes);
	assert_null(q.v);
	assert_null(q.priv);
	assert_int_equal(b->refs, 1);
	blk_unref(b);
	assert_int_equal(blk_bytes_live(), base);
}

static void
outq_iov_max_bytes_cuts_inside_coalesced_entry(void **state)
{
	struct blk *b = shared("0123456789");
	struct iovec iov[4];
	struct outq q;

	(void)state;
	outq_init(&q);
	outq_push(&q, part(b, 0, 4));
	outq_push(&q, part(b, 4, 6));
	assert_int_equal(outq_iov(&q, iov, 4, 7), 1);
	assert_int_equal(iov[0].iov_len, 7);
	outq_consume(&q, 7);
	assert_int_equal(outq_iov(&q, iov, 4, 7), 1);
	assert_int_equal(iov[0].iov_len, 3);
	assert_memory_equal(iov[0].iov_base, "789", 3);
	outq_clear(&q);
	blk_unref(b);
}

static void
outq_burst_from_arena_is_one_iovec_per_arena_block(void **state)
{
	enum { N = 400, LEN = 500 };
	size_t base = blk_bytes_live();
	struct arena ar = {NULL, NULL};
	struct blk *blocks[N];
	struct outq q;
	int i, nblocks = 0;

	(void)state;
	outq_init(&q);
	/* 200 000 bytes: more than three arena blocks. */
	for (i = 0; i < N; i++) {
		struct slice s;

		memset(arena_reserve(&ar, LEN), '0' + i % 10, LEN);
		s = arena_commit(&ar, LEN);
		if (nblocks == 0 || blocks[nblocks - 1] != s.b)
			blocks[nblocks++] = s.b;
		outq_push(&q, s);
		blk_unref(s.b);
	}
	assert_true(nblocks >= 4);
	assert_int_equal(q.n, nblocks);
	assert_int_equal(iov_count(&q), nblocks);
	assert_int_equal(q.bytes, (size_t)N * LEN);
	arena_release(&ar);
	outq_consume(&q, q.bytes);
	assert_null(q.v);
	assert_int_equal(blk_bytes_live(), base);
}

/* ---- the arena ---- */

/* Commit small renderings (a quarter block at most, so that they stay in
 * the arena's block) until the current block has exactly left bytes free;
 * the slices are dropped, as after a fan-out. */
static void
fill_to(struct arena *ar, uint32_t left)
{
	while (ar->cur == NULL || ar->cur->cap - ar->cur->len > left) {
		uint32_t n = BLK_ARENA_BLOCK / 4;
		struct slice s;

		if (ar->cur && ar->cur->cap - ar->cur->len - left < n)
			n = ar->cur->cap - ar->cur->len - left;
		arena_reserve(ar, n);
		s = arena_commit(ar, n);
		blk_unref(s.b);
	}
	assert_int_equal(ar->cur->cap - ar->cur->len, left);
}

static void
arena_consecutive_commits_are_adjacent_slices_of_one_block(void **state)
{
	size_t base = blk_bytes_live();
	struct arena ar = {NULL, NULL};
	struct slice s[10];
	uint8_t *p;
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		p = arena_reserve(&ar, 100);
		memset(p, 'a' + i, 10 + (size_t)i);
		s[i] = arena_commit(&ar, 10 + (size_t)i); /* less than reserved */
		assert_ptr_equal(s[i].b->data + s[i].off, p);
		assert_int_equal(s[i].len, 10 + i);
		if (i) {
			assert_ptr_equal(s[i].b, s[0].b);
			assert_int_equal(s[i].off, s[i - 1].off + s[i - 1].len);
		}
	}
	assert_int_equal(s[0].off, 0);
	assert_int_equal(s[0].b->cap, BLK_ARENA_BLOCK);
	assert_int_equal(s[0].b->len, s[9].off + s[9].len);
	assert_int_equal(s[0].b->refs, 1 + 10); /* the arena and each slice */
	for (i = 0; i < 10; i++) {
		assert_int_equal(s[0].b->data[s[i].off], 'a' + i);
		blk_unref(s[i].b);
	}
	arena_release(&ar);
	assert_int_equal(blk_bytes_live(), base);
}

static void
arena_reserve_without_commit_offers_the_same_space_again(void **state)
{
	size_t base = blk_bytes_live();
	struct arena ar = {NULL, NULL};
	struct slice s;
	uint8_t *p;

	(void)state;
	p = arena_reserve(&ar, 50);
	assert_ptr_equal(arena_reserve(&ar, 80), p);
	s = arena_commit(&ar, 5);
	assert_ptr_equal(arena_reserve(&ar, 50), p + 5);
	blk_unref(s.b);
	arena_release(&ar);
	assert_int_equal(blk_bytes_live(), base);
}

static void
arena_large_rendering_on_fresh_arena_gets_a_block_of_its_size(void **state)
{
	enum { BIG = BLK_ARENA_BLOCK / 4 + 1 };
	size_t base = blk_bytes_live();
	struct arena ar = {NULL, NULL};
	struct slice big, small;

	(void)state;
	memset(arena_reserve(&ar, BIG), 'B', BIG);
	big = arena_commit(&ar, BIG);
	assert_int_equal(big.off, 0);
	assert_int_equal(big.len, BIG);
	assert_int_equal(big.b->cap, BIG); /* not a whole arena block */
	assert_int_equal(big.b->refs, 1);  /* full: the arena let it go */
	assert_null(ar.cur);
	memset(arena_reserve(&ar, 10), 's', 10);
	small = arena_commit(&ar, 10);
	assert_ptr_not_equal(small.b, big.b);
	assert_int_equal(small.b->cap, BLK_ARENA_BLOCK);
	blk_unref(big.b);
	blk_unref(small.b);
	arena_release(&ar);
	assert_int_equal(blk_bytes_live(), base);
}

static void
arena_large_rendering_gets_its_own_block_even_when_the_current_block_has_room(void **state)
{
	enum { BIG = BLK_ARENA_BLOCK / 4 + 1 };
	size_t base = blk_bytes_live();
	struct arena ar = {NULL, NULL};
	struct slice a, big, c;

	(void)state;
	/* blk.h: "A rendering larger than a quarter block gets a block of its
	 * own, so that big messages do not waste arena space." */
	memset(arena_reserve(&ar, 10), 'a', 10);
	a = arena_commit(&ar, 10);
	memset(arena_reserve(&ar, BIG), 'B', BIG);
	big = arena_commit(&ar, BIG);
	memset(arena_reserve(&ar, 10), 'c', 10);
	c = arena_commit(&ar, 10);
	blk_unref(a.b);
	blk_unref(big.b);
	blk_unref(c.b);
	arena_release(&ar);
	assert_int_equal(blk_bytes_live(), base);
	/* Asserted after the releases, so that a failure leaks nothing (the
	 * pointers are only compared). */
	if (big.b == a.b)
		fail_msg("a %d-byte rendering went into the current arena block at offset %u",
		         (int)BIG, (unsigned)big.off);
	/* The small renderings around it stay back to back. */
	assert_ptr_equal(c.b, a.b);
	assert_int_equal(c.off, a.off + a.len);
}

static void
arena_large_rendering_that_does_not_fit_keeps_the_current_block(void **state)
{
	enum { LEFT = 20000, BIG = 30000 };
	size_t base = blk_bytes_live();
	struct arena ar = {NULL, NULL};
	struct slice a, big, c;

	(void)state;
	/* LEFT bytes left in the current block: not enough for BIG, plenty
	 * for the small renderings after it. */
	fill_to(&ar, LEFT + 10);
	memset(arena_reserve(&ar, 10), 'a', 10);
	a = arena_commit(&ar, 10);
	memset(arena_reserve(&ar, BIG), 'B', BIG);
	big = arena_commit(&ar, BIG);
	memset(arena_reserve(&ar, 10), 'c', 10);
	c = arena_commit(&ar, 10);
	blk_unref(a.b);
	blk_unref(big.b);
	blk_unref(c.b);
	arena_release(&ar);
	assert_int_equal(blk_bytes_live(), base);
	assert_ptr_not_equal(big.b, a.b);
	if (c.b != a.b)
		fail_msg("after a %d-byte rendering the arena dropped its block with %d bytes free",
		         (int)BIG, (int)LEFT);
	assert_int_equal(c.off, a.off + a.len);
}

static void
arena_releases_a_full_block_once_committed_past(void **state)
{
	size_t base = blk_bytes_live();
	struct arena ar = {NULL, NULL};
	struct slice s1, s2, s3, s4;
	struct blk *b;

	(void)state;
	/* Leave exactly 256 bytes: the arena keeps the block. */
	arena_reserve(&ar, 10);
	s1 = arena_commit(&ar, 10);
	b = s1.b;
	assert_int_equal(b->cap, BLK_ARENA_BLOCK);
	fill_to(&ar, 256);
	assert_ptr_equal(ar.cur, b);
	assert_int_equal(b->refs, 2); /* the arena and s1 */
	/* Commit one byte past: 255 left, too little, the arena lets go. */
	arena_reserve(&ar, 1);
	s2 = arena_commit(&ar, 1);
	assert_ptr_equal(s2.b, b);
	assert_int_equal(s2.off, BLK_ARENA_BLOCK - 256);
	assert_null(ar.cur);
	assert_int_equal(b->refs, 2); /* the two slices only */
	/* The block lives on for its readers. */
	assert_int_equal(blk_bytes_live(), base + BLK_ARENA_BLOCK);
	b->data[s2.off] = 'z'; /* still writable memory (ASan would object) */
	assert_int_equal(b->data[s2.off], 'z');
	/* The next rendering goes to a new block. */
	arena_reserve(&ar, 1);
	s3 = arena_commit(&ar, 1);
	assert_ptr_not_equal(s3.b, b);
	assert_int_equal(s3.off, 0);
	blk_unref(s1.b);
	assert_int_equal(b->refs, 1);
	blk_unref(s2.b); /* the last reference: freed */
	assert_int_equal(blk_bytes_live(), base + BLK_ARENA_BLOCK);
	/* A reservation that does not fit also moves on, releasing the old
	 * block to the slices that still hold it. */
	fill_to(&ar, 999);
	assert_ptr_equal(ar.cur, s3.b);
	arena_reserve(&ar, 10);
	s4 = arena_commit(&ar, 10);
	assert_ptr_equal(s4.b, s3.b);
	assert_int_equal(s3.b->refs, 3);
	arena_reserve(&ar, 1000); /* 989 left */
	assert_ptr_not_equal(ar.cur, s3.b);
	assert_int_equal(s3.b->refs, 2);
	blk_unref(s3.b);
	blk_unref(s4.b);
	arena_release(&ar);
	assert_int_equal(blk_bytes_live(), base);
}

static void
arena_release_drops_the_arenas_reference_and_can_be_repeated(void **state)
{
	size_t base = blk_bytes_live();
	struct arena ar = {NULL, NULL};
	struct slice s;

	(void)state;
	arena_release(&ar); /* nothing yet */
	arena_reserve(&ar, 3);
	assert_int_equal(blk_bytes_live(), base + BLK_ARENA_BLOCK);
	arena_release(&ar); /* reserved, nothing committed: freed */
	assert_null(ar.cur);
	assert_int_equal(blk_bytes_live(), base);
	memcpy(arena_reserve(&ar, 3), "abc", 3);
	s = arena_commit(&ar, 3);
	arena_release(&ar);
	arena_release(&ar);
	assert_null(ar.cur);
	assert_int_equal(s.b->refs, 1);
	assert_memory_equal(s.b->data + s.off, "abc", 3);
	blk_unref(s.b);
	assert_int_equal(blk_bytes_live(), base);
	/* The arena works again after a release. */
	arena_reserve(&ar, 3);
	s = arena_commit(&ar, 3);
	assert_int_equal(s.off, 0);
	blk_unref(s.b);
	arena_release(&ar);
	assert_int_equal(blk_bytes_live(), base);
}

/* --- what a queue pins --- */

/* A 64 KiB block, as an arena's, holding s at offset off. */
static struct blk *
big_block(uint32_t off, const char *s)
{
	struct blk *b = blk_new(BLK_ARENA_BLOCK);

	b->len = off + (uint32_t)put(b->data + off, s);
	return b;
}

static void
outq_pinned_counts_each_entrys_whole_block(void **state)
{
	struct outq q;
	struct blk *a = big_block(100, "ab"), *b = big_block(0, "cd");

	(void)state;
	outq_init(&q);
	outq_push(&q, part(a, 100, 1));
	outq_push(&q, part(a, 101, 1)); /* extends the entry: no more pinned */
	assert_int_equal(q.pinned, BLK_ARENA_BLOCK);
	outq_push(&q, whole(b));
	assert_int_equal(q.pinned, 2 * BLK_ARENA_BLOCK);
	reply_str(&q, "!");
	assert_int_equal(q.pinned, 2 * BLK_ARENA_BLOCK + CHATD_REPLY_BLOCK);
	assert_pending(&q, "abcd!");
	outq_consume(&q, 2);
	assert_int_equal(q.pinned, BLK_ARENA_BLOCK + CHATD_REPLY_BLOCK);
	outq_consume(&q, 3);
	assert_int_equal(q.pinned, 0);
	blk_unref(a);
	blk_unref(b);
}

static void
outq_compact_copies_wasteful_slices_and_keeps_order(void **state)
{
	size_t base = blk_bytes_live();
	struct blk *blocks[40], *whole_blk = shared("WHOLE");
	char want[512] = "";
	struct outq q;
	uint32_t pushed;
	int i;

	(void)state;
	outq_init(&q);
	/* A stalled reader that got one small frame per shared block. */
	for (i = 0; i < 40; i++) {
		char text[16];

		snprintf(text, sizeof(text), "f%02d;", i);
		blocks[i] = big_block(1000, text);
		outq_push(&q, part(blocks[i], 1000, 4));
		cat(want, sizeof(want), text);
		if (i == 20) {
			outq_push(&q, whole(whole_blk)); /* not wasteful: kept */
			cat(want, sizeof(want), "WHOLE");
		}
	}
	reply_str(&q, "ack");
	cat(want, sizeof(want), "ack");
	assert_true(q.pinned >= 40 * BLK_ARENA_BLOCK);
	pushed = q.pushed;
	assert_int_equal(pushed, strlen(want));
	outq_compact(&q);
	assert_true(q.copying);
	assert_pending(&q, want);
	/* The count of bytes ever queued is where output that waits for the
	 * store is marked: compacting does not move it (it once started
	 * again at 0, and let such output go). */
	assert_int_equal(q.pushed, pushed);
	/* The shared blocks are no longer held by the queue. */
	for (i = 0; i < 40; i++)
		assert_int_equal(blocks[i]->refs, 1);
	assert_int_equal(whole_blk->refs, 2);
	assert_true(q.pinned < 4 * CHATD_COPY_BLOCK);
	/* From now on wasteful slices are copied as they come. */
	outq_push(&q, part(blocks[0], 1000, 4));
	assert_int_equal(blocks[0]->refs, 1);
	cat(want, sizeof(want), "f00;");
	assert_pending(&q, want);
	assert_true(q.pinned < 4 * CHATD_COPY_BLOCK);
	/* Replies still go to the private tail. */
	reply_str(&q, "ok");
	cat(want, sizeof(want), "ok");
	assert_pending(&q, want);
	for (i = 0; i < 40; i++)
		blk_unref(blocks[i]);
	blk_unref(whole_blk);
	outq_consume(&q, q.bytes);
	assert_int_equal(q.pinned, 0);
	assert_false(q.copying); /* drained: references again */
	assert_int_equal(blk_bytes_live(), base);
}

static void
outq_drained_queue_references_shared_blocks_again(void **state)
{
	struct blk *a = big_block(0, "xy");
	struct outq q;

	(void)state;
	outq_init(&q);
	outq_push(&q, part(a, 0, 1));
	outq_compact(&q);
	outq_consume(&q, 1);
	outq_push(&q, part(a, 1, 1));
	assert_int_equal(a->refs, 2); /* by reference, not copied */
	assert_int_equal(q.pinned, BLK_ARENA_BLOCK);
	outq_clear(&q);
	assert_int_equal(a->refs, 1);
	blk_unref(a);
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
	        cmocka_unit_test(outq_consume_between_reserve_and_commit_keeps_the_reserved_block),
	        cmocka_unit_test(outq_coalesces_adjacent_slices_of_one_block_into_one_iovec),
	        cmocka_unit_test(outq_does_not_coalesce_slices_of_different_blocks),
	        cmocka_unit_test(outq_does_not_coalesce_non_adjacent_ranges_of_one_block),
	        cmocka_unit_test(outq_does_not_coalesce_across_an_entry_of_another_block),
	        cmocka_unit_test(outq_coalesced_run_accounts_bytes_and_references_through_consume),
	        cmocka_unit_test(outq_coalesced_run_accounts_bytes_and_references_through_clear),
	        cmocka_unit_test(outq_partial_consume_inside_coalesced_entry),
	        cmocka_unit_test(outq_coalesces_onto_partly_sent_tail_entry),
	        cmocka_unit_test(outq_slice_after_fully_sent_entry_takes_a_new_reference),
	        cmocka_unit_test(outq_private_reply_after_coalesced_run_then_more_slices),
	        cmocka_unit_test(outq_iov_max_bytes_cuts_inside_coalesced_entry),
	        cmocka_unit_test(outq_burst_from_arena_is_one_iovec_per_arena_block),
	        cmocka_unit_test(arena_consecutive_commits_are_adjacent_slices_of_one_block),
	        cmocka_unit_test(arena_reserve_without_commit_offers_the_same_space_again),
	        cmocka_unit_test(arena_large_rendering_on_fresh_arena_gets_a_block_of_its_size),
	        cmocka_unit_test(
	                arena_large_rendering_gets_its_own_block_even_when_the_current_block_has_room),
	        cmocka_unit_test(arena_large_rendering_that_does_not_fit_keeps_the_current_block),
	        cmocka_unit_test(arena_releases_a_full_block_once_committed_past),
	        cmocka_unit_test(arena_release_drops_the_arenas_reference_and_can_be_repeated),
	        cmocka_unit_test(outq_pinned_counts_each_entrys_whole_block),
	        cmocka_unit_test(outq_compact_copies_wasteful_slices_and_keeps_order),
	        cmocka_unit_test(outq_drained_queue_references_shared_blocks_again),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
