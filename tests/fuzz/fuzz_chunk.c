/*
 * Fuzz target: the store's chunks (src/store/chunk.c), the JSON a room's
 * messages of one commit are kept in.  A chunk is read back from a file
 * that may have been damaged or edited, so the input is used twice:
 *
 * - as a chunk body, decoded over random windows (after, before, max):
 *   whatever it holds, decoding returns 0 or -1 without a crash, and each
 *   message it gives lies in the window, within the bounds of a nick and a
 *   text, newest first, at most max of them;
 * - as messages to write (fields split at 0xff bytes, kept when they are
 *   what the core lets through: valid UTF-8 without NUL, within bounds):
 *   written with chunk_add and read back, every message comes back whole,
 *   in order, byte for byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/msg.h"
#include "core/valid.h"
#include "core/vocab.h"
#include "fuzz.h"
#include "store/chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSGS 64

static void
decode_window(const char *body, size_t len, uint64_t after, uint64_t before, unsigned max,
              int oldest)
{
	struct msg *out[MAX_MSGS];
	unsigned got = 0, i;
	int rc = chunk_decode(body, len, "r", 1, 7, after, before, out, &got, max, oldest);

	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK(got <= max);
	for (i = 0; i < got; i++) {
		FUZZ_CHECK(out[i]->seq > after && out[i]->seq < before);
		FUZZ_CHECK(out[i]->from_len <= CORE_NICK_MAX);
		FUZZ_CHECK(out[i]->text_len <= CORE_TEXT_MAX);
		FUZZ_CHECK(out[i]->epoch == 7);
		/* One after another, in the direction asked. */
		if (i > 0)
			FUZZ_CHECK(out[i]->seq ==
			           (oldest ? out[i - 1]->seq + 1 : out[i - 1]->seq - 1));
	}
	for (i = 0; i < got; i++)
		msg_unref(out[i]);
}

static int
acceptable(const uint8_t *p, size_t n, size_t max)
{
	return n > 0 && n <= max && memchr(p, 0, n) == NULL && valid_utf8((const char *)p, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg *in[MAX_MSGS], *out[MAX_MSGS];
	struct chunk_buf b = {NULL, 0, 0, 0};
	uint64_t seed = 0x9e3779b97f4a7c15ull ^ size;
	const uint8_t *p = data, *end = data + size;
	unsigned n = 0, got = 0, i;
	int k;

	for (i = 0; i < size && i < 8; i++)
		seed = seed * 131 + data[i];
	/* The input as a body, through a few windows. */
	for (k = 0; k < 4; k++) {
		uint64_t after = next_rand(&seed) % 64, span = next_rand(&seed) % 128;

		decode_window((const char *)data, size, after, after + span + 1,
		              1 + (unsigned)(next_rand(&seed) % MAX_MSGS), k & 1);
	}
	decode_window((const char *)data, size, 0, UINT64_MAX, MAX_MSGS, 0);
	decode_window((const char *)data, size, 0, UINT64_MAX, MAX_MSGS, 1);

	/* The input as messages: sender 0xff text 0xff sender 0xff text ...;
	 * read back oldest first when there is an odd number of them. */
	while (p < end && n < MAX_MSGS) {
		const uint8_t *s = p, *se = memchr(s, 0xff, (size_t)(end - s));
		const uint8_t *t, *te;

		if (se == NULL)
			break;
		t = se + 1;
		te = memchr(t, 0xff, (size_t)(end - t));
		if (te == NULL)
			te = end;
		p = te < end ? te + 1 : end;
		if (!acceptable(s, (size_t)(se - s), CORE_NICK_MAX) ||
		    !acceptable(t, (size_t)(te - t), CORE_TEXT_MAX))
			continue;
		in[n] = msg_new("r", 1, (const char *)s, (size_t)(se - s), (const char *)t,
		                (size_t)(te - t), n + 1, 1000000 + next_rand(&seed) % 1000, 0);
		n++;
	}
	chunk_begin(&b);
	for (i = 0; i < n; i++)
		chunk_add(&b, in[i]);
	chunk_end(&b);
	FUZZ_CHECK(chunk_decode(b.p, b.len, "r", 1, 7, 0, n + 1, out, &got, MAX_MSGS,
	                        (int)(n & 1)) == 0);
	FUZZ_CHECK(got == n);
	for (i = 0; i < n; i++) {
		const struct msg *a = in[i], *z = (n & 1) ? out[i] : out[n - 1 - i];

		FUZZ_CHECK(z->seq == a->seq && z->time_ms == a->time_ms);
		FUZZ_CHECK(z->from_len == a->from_len &&
		           memcmp(z->from, a->from, a->from_len) == 0);
		FUZZ_CHECK(z->text_len == a->text_len &&
		           memcmp(z->text, a->text, a->text_len) == 0);
	}
	for (i = 0; i < n; i++) {
		msg_unref(in[i]);
		msg_unref(out[i]);
	}
	chunk_free(&b);
	return 0;
}
