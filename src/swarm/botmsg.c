/*
 * Swarm payloads.  Decoding is on the swarm's hot path (millions of
 * deliveries a second): fixed offsets, no allocation, eight digits per
 * step, every digit checked.
 */
#include "swarm/botmsg.h"

#include <string.h>

static const char hexdig[] = "0123456789abcdef";

static void
put_hex(char *out, uint64_t v, int digits)
{
	int i;

	for (i = digits - 1; i >= 0; i--) {
		out[i] = hexdig[v & 15];
		v >>= 4;
	}
}

void
botmsg_encode(char *out, size_t size, const struct botmsg *m)
{
	if (size < BOTMSG_MIN)
		size = BOTMSG_MIN;
	out[0] = '~';
	put_hex(out + 1, m->sender, 8);
	put_hex(out + 9, m->target, 8);
	put_hex(out + 17, m->seq, 16);
	put_hex(out + 33, m->time_ns, 16);
	memset(out + BOTMSG_MIN, '.', size - BOTMSG_MIN);
}

/*
 * Eight lowercase hex digits to their value, or -1, all eight at once:
 * each byte's low nibble is its value for '0'-'9' and its value minus 9
 * for 'a'-'f' (bit 0x40 set), and the high nibbles and ranges are checked
 * lane by lane without letting a lane carry into the next.
 */
static int64_t
hex8(const char *p)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t x, letter, lmask, v, ge10, ge16, bad;

	memcpy(&x, p, 8);
	letter = (x >> 6) & ones; /* 1 in each lane holding a letter */
	lmask = letter * 0xff;
	if ((x & 0xf0f0f0f0f0f0f0f0ull) != 0x30 * ones + letter * 0x30)
		return -1; /* high nibble neither 3 (digit) nor 6 (letter) */
	v = (x & 0x0f * ones) + letter * 9;
	ge10 = (v + 0x06 * ones) & (0x10 * ones); /* lane value >= 10 */
	ge16 = (v + 0x70 * ones) & (0x80 * ones); /* lane value >= 16 */
	bad = (ge10 & ~lmask) | (~ge10 & lmask & (0x10 * ones)) | (ge16 & lmask);
	if (bad)
		return -1;
	/* Gather the nibbles, first character most significant. */
	v = (v * 0x10 + (v >> 8)) & 0x00ff00ff00ff00ffull;
	v = (v * 0x100 + (v >> 16)) & 0x0000ffff0000ffffull;
	v = (v * 0x10000 + (v >> 32)) & 0xffffffffull;
	return (int64_t)v;
}

int
botmsg_decode(const char *p, size_t n, struct botmsg *m)
{
	int64_t a, b, s1, s2, t1, t2;

	if (n < BOTMSG_MIN || p[0] != '~')
		return -1;
	a = hex8(p + 1);
	b = hex8(p + 9);
	s1 = hex8(p + 17);
	s2 = hex8(p + 25);
	t1 = hex8(p + 33);
	t2 = hex8(p + 41);
	if ((a | b | s1 | s2 | t1 | t2) < 0)
		return -1;
	m->sender = (uint32_t)a;
	m->target = (uint32_t)b;
	m->seq = (uint64_t)s1 << 32 | (uint64_t)s2;
	m->time_ns = (uint64_t)t1 << 32 | (uint64_t)t2;
	return 0;
}
