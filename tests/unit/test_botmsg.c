/*
 * Unit tests of the swarm payload codec (src/swarm/botmsg.c): boundary values
 * round-trip, the payload is padded with '.' to exactly the requested
 * size, anything shorter than BOTMSG_MIN is refused, and every single-byte
 * corruption of the marker or of a digit is caught, except a change to
 * another lowercase hex digit, which decodes to the value it now spells.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "swarm/botmsg.h"

#define GUARD 0x5a

static int
botmsg_equal(const struct botmsg *a, const struct botmsg *b)
{
	return a->sender == b->sender && a->target == b->target && a->seq == b->seq &&
	       a->time_ns == b->time_ns;
}

static int
is_lower_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int
hex_value(int c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* Encode m at size into buf and check the bytes around it. */
static void
encode_checked(char *buf, size_t cap, size_t size, const struct botmsg *m)
{
	size_t n = size < BOTMSG_MIN ? BOTMSG_MIN : size;

	assert_true(n < cap);
	memset(buf, GUARD, cap);
	botmsg_encode(buf, size, m);
	assert_int_equal((unsigned char)buf[n], GUARD); /* nothing past the size */
}

static void
botmsg_round_trips_boundary_values(void **state)
{
	static const uint64_t v64[] = {
	        0,         1, 0x0123456789abcdefull, 0xfedcba9876543210ull, 0x8000000000000000ull,
	        UINT64_MAX};
	static const uint32_t v32[] = {0, 1, 0x01234567u, 0x89abcdefu, 0x80000000u, UINT32_MAX};
	char buf[128];
	size_t i, j;

	(void)state;
	for (i = 0; i < 6; i++)
		for (j = 0; j < 6; j++) {
			struct botmsg in = {v32[i], v32[5 - j], v64[j], v64[5 - i]}, out;

			encode_checked(buf, sizeof(buf), BOTMSG_MIN, &in);
			memset(&out, 0xee, sizeof(out));
			assert_int_equal(botmsg_decode(buf, BOTMSG_MIN, &out), 0);
			assert_true(botmsg_equal(&in, &out));
		}
}

static void
botmsg_encodes_the_documented_layout(void **state)
{
	struct botmsg m = {0x01234567u, 0xffffffffu, 0x0123456789abcdefull, 0};
	char buf[128];

	(void)state;
	encode_checked(buf, sizeof(buf), BOTMSG_MIN, &m);
	assert_memory_equal(buf,
	                    "~"
	                    "01234567"
	                    "ffffffff"
	                    "0123456789abcdef"
	                    "0000000000000000",
	                    BOTMSG_MIN);
}

static void
botmsg_all_zero_and_all_ones_payloads(void **state)
{
	struct botmsg zero = {0, 0, 0, 0}, ones = {UINT32_MAX, UINT32_MAX, UINT64_MAX, UINT64_MAX};
	struct botmsg out;
	char buf[128];
	size_t i;

	(void)state;
	encode_checked(buf, sizeof(buf), BOTMSG_MIN, &zero);
	assert_int_equal(buf[0], '~');
	for (i = 1; i < BOTMSG_MIN; i++)
		assert_int_equal(buf[i], '0');
	assert_int_equal(botmsg_decode(buf, BOTMSG_MIN, &out), 0);
	assert_true(botmsg_equal(&zero, &out));
	encode_checked(buf, sizeof(buf), BOTMSG_MIN, &ones);
	for (i = 1; i < BOTMSG_MIN; i++)
		assert_int_equal(buf[i], 'f');
	assert_int_equal(botmsg_decode(buf, BOTMSG_MIN, &out), 0);
	assert_true(botmsg_equal(&ones, &out));
}

static void
botmsg_pads_to_the_requested_size_with_dots(void **state)
{
	struct botmsg m = {7, 9, 0x0123456789abcdefull, 123456789}, out;
	static char buf[5000];
	size_t size, i;

	(void)state;
	for (size = BOTMSG_MIN; size < 4200; size += size < 80 ? 1 : 97) {
		encode_checked(buf, sizeof(buf), size, &m);
		for (i = BOTMSG_MIN; i < size; i++)
			if (buf[i] != '.')
				fail_msg("size %zu: byte %zu is 0x%02x, not '.'", size, i,
				         (unsigned char)buf[i]);
		assert_int_equal(botmsg_decode(buf, size, &out), 0);
		assert_true(botmsg_equal(&m, &out));
	}
}

static void
botmsg_encode_below_minimum_writes_exactly_the_minimum(void **state)
{
	struct botmsg m = {1, 2, 3, 4}, out;
	char buf[128];
	size_t size;

	(void)state;
	for (size = 0; size <= BOTMSG_MIN; size++) {
		encode_checked(buf, sizeof(buf), size, &m); /* checks buf[BOTMSG_MIN] */
		assert_int_equal(botmsg_decode(buf, BOTMSG_MIN, &out), 0);
		assert_true(botmsg_equal(&m, &out));
	}
}

static void
botmsg_decode_rejects_sizes_below_minimum(void **state)
{
	struct botmsg m = {0xdeadbeefu, 42, 1000, 2000}, out;
	char buf[128];
	size_t n;

	(void)state;
	encode_checked(buf, sizeof(buf), 100, &m);
	for (n = 0; n < BOTMSG_MIN; n++)
		assert_int_equal(botmsg_decode(buf, n, &out), -1);
	assert_int_equal(botmsg_decode(buf, BOTMSG_MIN, &out), 0);
	assert_int_equal(botmsg_decode(buf, 100, &out), 0);
	assert_true(botmsg_equal(&m, &out));
}

static void
botmsg_decode_rejects_other_text(void **state)
{
	static const char *const texts[] = {
	        "hello, world: this is not a swarm payload at all....",
	        "~0123456789ABCDEF0123456789abcdef0123456789abcdef", /* uppercase */
	        "!00000000000000000000000000000000000000000000000000",
	        "~ 0000000000000000000000000000000000000000000000000",
	};
	struct botmsg out;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_true(strlen(texts[i]) >= BOTMSG_MIN);
		assert_int_equal(botmsg_decode(texts[i], strlen(texts[i]), &out), -1);
	}
}

/* The field (0 sender, 1 target, 2 seq, 3 time) a digit position belongs
 * to. */
static int
field_at(size_t pos)
{
	return pos < 9 ? 0 : pos < 17 ? 1 : pos < 33 ? 2 : 3;
}

/* The shift, within its field, of the digit at position pos. */
static unsigned
pos_shift(size_t pos, int field)
{
	static const size_t last[] = {8, 16, 32, 48}; /* position of the last digit */

	return (unsigned)(4 * (last[field] - pos));
}

/* v with its n digits from bit shift up replaced by digits. */
static uint64_t
with_digits(uint64_t v, unsigned shift, int digits, unsigned n)
{
	uint64_t mask = (((uint64_t)1 << (4 * n)) - 1) << shift;

	return (v & ~mask) | ((uint64_t)digits << shift & mask);
}

static uint64_t
field_of(const struct botmsg *m, int f)
{
	switch (f) {
	case 0:
		return m->sender;
	case 1:
		return m->target;
	case 2:
		return m->seq;
	default:
		return m->time_ns;
	}
}

static void
assert_decodes_to_spelled(const struct botmsg *m, const struct botmsg *out, size_t pos, int digit)
{
	int field = field_at(pos), f;

	/* The changed field reads as the digits now spell it... */
	assert_int_equal(field_of(out, field),
	                 with_digits(field_of(m, field), pos_shift(pos, field), digit, 1));
	/* ...and the others are untouched. */
	for (f = 0; f < 4; f++)
		if (f != field)
			assert_int_equal(field_of(out, f), field_of(m, f));
}

/* Every single-byte change at every digit position (and the marker),
 * for payloads whose digits cover all sixteen values. */
static void
check_every_corruption(const struct botmsg *m)
{
	/* bad is exactly BOTMSG_MIN bytes, so that AddressSanitizer catches
	 * a read past the payload. */
	char good[BOTMSG_MIN + 1], bad[BOTMSG_MIN];
	struct botmsg out;
	size_t pos;
	int c;

	encode_checked(good, sizeof(good), BOTMSG_MIN, m);
	for (pos = 0; pos < BOTMSG_MIN; pos++)
		for (c = 0; c < 256; c++) {
			int rc;

			if (c == (unsigned char)good[pos])
				continue;
			memcpy(bad, good, sizeof(bad));
			bad[pos] = (char)c;
			memset(&out, 0, sizeof(out));
			rc = botmsg_decode(bad, sizeof(bad), &out);
			if (pos == 0 || !is_lower_hex(c)) {
				if (rc != -1)
					fail_msg("byte %zu set to 0x%02x was accepted", pos, c);
			} else {
				if (rc != 0)
					fail_msg("byte %zu set to digit '%c' was refused", pos, c);
				assert_false(botmsg_equal(m, &out));
				assert_decodes_to_spelled(m, &out, pos, hex_value(c));
			}
		}
}

static void
botmsg_every_single_byte_corruption_is_rejected_unless_another_hex_digit(void **state)
{
	static const struct botmsg ms[] = {
	        {0x01234567u, 0x89abcdefu, 0x0123456789abcdefull, 0xfedcba9876543210ull},
	        {0, 0, 0, 0},
	        {UINT32_MAX, UINT32_MAX, UINT64_MAX, UINT64_MAX},
	        {0x9a9a9a9au, 0x0f0f0f0fu, 0xa0a0a0a0a0a0a0a0ull, 0x9f9f9f9f9f9f9f9full},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		check_every_corruption(&ms[i]);
}

static void
botmsg_two_corrupted_lanes_in_one_group_are_rejected(void **state)
{
	/* The decoder checks eight digits at once: a bad byte next to a good
	 * one, at both ends of every group of eight, must not be masked by a
	 * carry from its neighbour. */
	static const char pairs[][2] = {{'9', ':'},    {':', '9'},    {'f', 'g'},    {'g', 'f'},
	                                {'`', 'a'},    {'a', '`'},    {'/', '0'},    {'F', 'f'},
	                                {'\xff', '0'}, {'0', '\xff'}, {'\x80', 'a'}, {'\0', '0'}};
	struct botmsg m = {0x12345678u, 0x9abcdef0u, 0x0123456789abcdefull, 42}, out;
	char good[64], bad[64];
	size_t g, k, at;

	(void)state;
	encode_checked(good, sizeof(good), BOTMSG_MIN, &m);
	for (g = 1; g < BOTMSG_MIN; g += 8)
		for (at = g; at + 1 < g + 8; at++)
			for (k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
				memcpy(bad, good, sizeof(bad));
				bad[at] = pairs[k][0];
				bad[at + 1] = pairs[k][1];
				if (botmsg_decode(bad, BOTMSG_MIN, &out) != -1)
					fail_msg("bytes %zu,%zu = 0x%02x 0x%02x accepted", at,
					         at + 1, (unsigned char)pairs[k][0],
					         (unsigned char)pairs[k][1]);
			}
}

static void
botmsg_every_pair_of_adjacent_bytes_in_a_group_decodes_iff_both_are_digits(void **state)
{
	/* Every value of two neighbouring lanes of the eight-digit groups of
	 * the target and of the low half of the time, the first and the last
	 * groups the decoder reads. */
	static const size_t groups[] = {9, 41};
	static const int fields[] = {1, 3};
	struct botmsg m = {0x12345678u, 0x9abcdef0u, 0x0123456789abcdefull, 0x0f1e2d3c4b5a6978ull};
	char good[BOTMSG_MIN + 1], bad[BOTMSG_MIN];
	struct botmsg out;
	size_t g, at;
	int x, y;

	(void)state;
	encode_checked(good, sizeof(good), BOTMSG_MIN, &m);
	for (g = 0; g < 2; g++)
		for (at = groups[g]; at + 1 < groups[g] + 8; at++)
			for (x = 0; x < 256; x++)
				for (y = 0; y < 256; y++) {
					int ok = is_lower_hex(x) && is_lower_hex(y), rc;

					memcpy(bad, good, sizeof(bad));
					bad[at] = (char)x;
					bad[at + 1] = (char)y;
					rc = botmsg_decode(bad, sizeof(bad), &out);
					if (rc != (ok ? 0 : -1))
						fail_msg("bytes %zu,%zu = 0x%02x 0x%02x: %d", at,
						         at + 1, x, y, rc);
					if (ok)
						assert_int_equal(
						        field_of(&out, fields[g]),
						        with_digits(field_of(&m, fields[g]),
						                    pos_shift(at + 1, fields[g]),
						                    hex_value(x) << 4 |
						                            hex_value(y),
						                    2));
				}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(botmsg_round_trips_boundary_values),
	        cmocka_unit_test(botmsg_encodes_the_documented_layout),
	        cmocka_unit_test(botmsg_all_zero_and_all_ones_payloads),
	        cmocka_unit_test(botmsg_pads_to_the_requested_size_with_dots),
	        cmocka_unit_test(botmsg_encode_below_minimum_writes_exactly_the_minimum),
	        cmocka_unit_test(botmsg_decode_rejects_sizes_below_minimum),
	        cmocka_unit_test(botmsg_decode_rejects_other_text),
	        cmocka_unit_test(
	                botmsg_every_single_byte_corruption_is_rejected_unless_another_hex_digit),
	        cmocka_unit_test(botmsg_two_corrupted_lanes_in_one_group_are_rejected),
	        cmocka_unit_test(
	                botmsg_every_pair_of_adjacent_bytes_in_a_group_decodes_iff_both_are_digits),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
