/*
 * Fuzz target: chatd-swarm's payload codec (botmsg_decode, botmsg_encode).
 * The input is a message text as the swarm receives it.  The decoder's
 * word-at-a-time hex parsing is checked against a plain reading of the
 * format in botmsg.h.
 *
 * Invariants: the decoder accepts exactly "~" and 48 lowercase hex digits
 * (then anything); what it accepts re-encodes to the same first 49 bytes,
 * and decode(encode(x)) == x, for the decoded x and for an x made from the
 * input's bytes, at the input's length when that is above the minimum.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "swarm/botmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest payload re-encoded at the input's size. */
#define ENC_MAX 65536

static char enc[ENC_MAX];

/* The format read one character at a time: 1 and the fields, or 0. */
static int
plain_decode(const uint8_t *p, size_t n, struct botmsg *m)
{
	uint64_t v[4] = {0, 0, 0, 0};
	static const int width[4] = {8, 8, 16, 16};
	size_t i = 1;
	int f, d;

	if (n < BOTMSG_MIN || p[0] != '~')
		return 0;
	for (f = 0; f < 4; f++) {
		for (d = 0; d < width[f]; d++, i++) {
			uint8_t c = p[i];

			if (c >= '0' && c <= '9')
				v[f] = v[f] << 4 | (uint64_t)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v[f] = v[f] << 4 | (uint64_t)(c - 'a' + 10);
			else
				return 0;
		}
	}
	m->sender = (uint32_t)v[0];
	m->target = (uint32_t)v[1];
	m->seq = v[2];
	m->time_ns = v[3];
	return 1;
}

static int
same(const struct botmsg *a, const struct botmsg *b)
{
	return a->sender == b->sender && a->target == b->target && a->seq == b->seq &&
	       a->time_ns == b->time_ns;
}

/* Encode m at size bytes and decode it back. */
static void
round_trip(const struct botmsg *m, size_t size)
{
	struct botmsg back;
	size_t n = size < BOTMSG_MIN ? BOTMSG_MIN : size, i;

	memset(enc, 0x55, n + 1 < ENC_MAX ? n + 1 : ENC_MAX);
	botmsg_encode(enc, size, m);
	/* Exactly max(size, BOTMSG_MIN) bytes written, padding is dots. */
	if (n < ENC_MAX)
		FUZZ_CHECK(enc[n] == 0x55);
	for (i = BOTMSG_MIN; i < n; i++)
		FUZZ_CHECK(enc[i] == '.');
	memset(&back, 0xa5, sizeof(back));
	FUZZ_CHECK(botmsg_decode(enc, n, &back) == 0);
	FUZZ_CHECK(same(&back, m));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct botmsg m, want, made;
	int rc, ok;

	memset(&m, 0, sizeof(m));
	rc = botmsg_decode((const char *)data, size, &m);
	FUZZ_CHECK(rc == 0 || rc == -1);
	ok = plain_decode(data, size, &want);
	FUZZ_CHECK((rc == 0) == ok);
	if (ok) {
		FUZZ_CHECK(same(&m, &want));
		/* Lowercase digits only, so the encoding is the input's. */
		botmsg_encode(enc, BOTMSG_MIN, &m);
		FUZZ_CHECK(memcmp(enc, data, BOTMSG_MIN) == 0);
		round_trip(&m, size < ENC_MAX - 1 ? size : ENC_MAX - 1);
	}

	/* Any values survive a round trip. */
	memset(&made, 0, sizeof(made));
	memcpy(&made, data, size < sizeof(made) ? size : sizeof(made));
	round_trip(&made, size < ENC_MAX - 1 ? size : ENC_MAX - 1);
	round_trip(&made, BOTMSG_MIN);
	return 0;
}
