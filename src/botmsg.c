/*
 * Swarm payloads.  Decoding is on the swarm's hot path (millions of
 * deliveries a second): fixed offsets, no allocation, every digit checked.
 */
#include "botmsg.h"

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

/* Eight lowercase hex digits to their value, or -1. */
static int64_t
hex8(const char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++) {
		unsigned b = (unsigned char)p[i];

		if (b - '0' < 10)
			v = v << 4 | (b - '0');
		else if (b - 'a' < 6)
			v = v << 4 | (b - 'a' + 10);
		else
			return -1;
	}
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
