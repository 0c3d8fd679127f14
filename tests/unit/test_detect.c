/*
 * Unit tests of protocol detection (src/proto/framed/detect.c).  A connection's first
 * bytes arrive in reads of any size; the server re-runs detection on the
 * growing prefix after each read, so every split of the preface across
 * two and three reads must give "more" until the last byte and then the
 * same verdict as the whole preface in one piece.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "chatd/wire.h"
#include "proto/framed/detect.h"

static const uint8_t preface[WIRE_PREFACE_LEN] = {0x89, 'C', 'H', 'A', 'T', 'D', 0x00, 0x01};

#define DETECT(lit) preface_check((const uint8_t *)(lit), sizeof(lit) - 1)

/* Detection after each read when the bytes b[0, len) arrive in reads
 * ending at cut[0] < cut[1] < ... < len: every intermediate verdict must
 * be MORE, and the final one is returned. */
static enum preface
feed(const uint8_t *b, size_t len, const size_t *cut, int ncut)
{
	uint8_t acc[64];
	size_t have = 0;
	int i;

	assert_true(len <= sizeof(acc));
	for (i = 0; i <= ncut; i++) {
		size_t end = i < ncut ? cut[i] : len;
		enum preface r;

		memcpy(acc + have, b + have, end - have);
		have = end;
		r = preface_check(acc, have);
		if (i < ncut && r != PREFACE_MORE)
			fail_msg("after %zu of %zu bytes: verdict %d, want MORE", have, len,
			         (int)r);
		if (i == ncut)
			return r;
	}
	return PREFACE_MORE;
}

static void
detect_preface_constant_matches_the_wire_header(void **state)
{
	(void)state;
	assert_int_equal(WIRE_PREFACE_LEN, 8);
	assert_memory_equal(preface, WIRE_PREFACE, WIRE_PREFACE_LEN);
	assert_int_equal(preface[7], WIRE_VERSION);
}

static void
detect_full_preface_in_one_read_is_framed(void **state)
{
	(void)state;
	assert_int_equal(preface_check(preface, sizeof(preface)), PREFACE_OK);
}

static void
detect_preface_followed_by_frames_is_framed(void **state)
{
	/* HELLO "alice" in the same packet. */
	static const uint8_t hello[] = {0, 0, 0, 6, WIRE_HELLO, 5, 'a', 'l', 'i', 'c', 'e'};
	uint8_t b[WIRE_PREFACE_LEN + sizeof(hello)];

	(void)state;
	memcpy(b, preface, WIRE_PREFACE_LEN);
	memcpy(b + WIRE_PREFACE_LEN, hello, sizeof(hello));
	assert_int_equal(preface_check(b, sizeof(b)), PREFACE_OK);
}

static void
detect_every_proper_prefix_of_preface_is_more(void **state)
{
	size_t len;

	(void)state;
	for (len = 1; len < WIRE_PREFACE_LEN; len++)
		assert_int_equal(preface_check(preface, len), PREFACE_MORE);
}

static void
detect_preface_split_across_two_reads_at_every_position(void **state)
{
	size_t cut;

	(void)state;
	for (cut = 1; cut < WIRE_PREFACE_LEN; cut++)
		assert_int_equal(feed(preface, sizeof(preface), &cut, 1), PREFACE_OK);
}

static void
detect_preface_split_across_three_reads_at_every_position(void **state)
{
	size_t cut[2];

	(void)state;
	for (cut[0] = 1; cut[0] < WIRE_PREFACE_LEN; cut[0]++)
		for (cut[1] = cut[0] + 1; cut[1] < WIRE_PREFACE_LEN; cut[1]++)
			assert_int_equal(feed(preface, sizeof(preface), cut, 2), PREFACE_OK);
}

static void
detect_preface_byte_by_byte_is_framed(void **state)
{
	size_t cut[WIRE_PREFACE_LEN - 1];
	int i;

	(void)state;
	for (i = 0; i < WIRE_PREFACE_LEN - 1; i++)
		cut[i] = (size_t)i + 1;
	assert_int_equal(feed(preface, sizeof(preface), cut, WIRE_PREFACE_LEN - 1), PREFACE_OK);
}

static void
detect_bad_version_byte_is_bad_version(void **state)
{
	static const uint8_t versions[] = {0x00, 0x02, 0x03, 0x7f, 0x80, 0xff};
	uint8_t b[WIRE_PREFACE_LEN];
	size_t i, cut;

	(void)state;
	memcpy(b, preface, sizeof(b));
	for (i = 0; i < sizeof(versions); i++) {
		b[7] = versions[i];
		assert_int_equal(preface_check(b, sizeof(b)), PREFACE_BAD_VERSION);
		/* Undecided until the version byte itself arrives. */
		for (cut = 1; cut < WIRE_PREFACE_LEN; cut++)
			assert_int_equal(feed(b, sizeof(b), &cut, 1), PREFACE_BAD_VERSION);
	}
}

static void
detect_first_byte_zero_is_bad_preface(void **state)
{
	(void)state;
	/* A frame header sent without the preface: HELLO "alice". */
	assert_int_equal(DETECT("\x00\x00\x00\x06\x01\x05"
	                        "alice"),
	                 PREFACE_BAD);
	/* Decided from the first byte alone. */
	assert_int_equal(DETECT("\x00"), PREFACE_BAD);
}

static void
detect_0x89_followed_by_wrong_byte_is_bad_preface(void **state)
{
	(void)state;
	assert_int_equal(DETECT("\x89X"), PREFACE_BAD);
	assert_int_equal(DETECT("\x89\x00"), PREFACE_BAD);
	assert_int_equal(DETECT("\x89"
	                        "c"),
	                 PREFACE_BAD); /* case matters */
	assert_int_equal(DETECT("\x89"
	                        "CHATD\x01\x01"),
	                 PREFACE_BAD);
}

static void
detect_any_wrong_fixed_byte_is_bad_preface_as_soon_as_it_arrives(void **state)
{
	uint8_t b[WIRE_PREFACE_LEN];
	size_t pos, len;
	unsigned v;

	(void)state;
	/* Every wrong value at every fixed position after the first. */
	for (pos = 1; pos < WIRE_PREFACE_LEN - 1; pos++)
		for (v = 0; v < 256; v++) {
			if (v == preface[pos])
				continue;
			memcpy(b, preface, sizeof(b));
			b[pos] = (uint8_t)v;
			for (len = 1; len <= WIRE_PREFACE_LEN; len++)
				assert_int_equal(preface_check(b, len),
				                 len <= pos ? PREFACE_MORE : PREFACE_BAD);
		}
}

static void
detect_text_line_is_text(void **state)
{
	(void)state;
	assert_int_equal(DETECT("hello\r\n"), PREFACE_NONE);
	assert_int_equal(DETECT("NICK alice\r\n"), PREFACE_NONE);
	assert_int_equal(DETECT("h"), PREFACE_NONE); /* one byte suffices */
	assert_int_equal(DETECT("\r\n"), PREFACE_NONE);
}

static void
detect_telnet_negotiation_is_text(void **state)
{
	(void)state;
	/* IAC DO SUPPRESS-GO-AHEAD, IAC WILL TERMINAL-TYPE */
	assert_int_equal(DETECT("\xff\xfd\x03\xff\xfb\x18"), PREFACE_NONE);
	assert_int_equal(DETECT("\xff"), PREFACE_NONE);
}

static void
detect_utf8_text_is_text(void **state)
{
	(void)state;
	assert_int_equal(DETECT("\xc3\xa9t\xc3\xa9\n"), PREFACE_NONE);
	assert_int_equal(DETECT("\xe2\x82\xac"), PREFACE_NONE);
}

static void
detect_every_first_byte_other_than_0x00_and_0x89_is_text(void **state)
{
	unsigned v;

	(void)state;
	for (v = 0; v < 256; v++) {
		uint8_t b = (uint8_t)v;
		enum preface r = preface_check(&b, 1);

		if (v == 0x00)
			assert_int_equal(r, PREFACE_BAD);
		else if (v == 0x89)
			assert_int_equal(r, PREFACE_MORE);
		else
			assert_int_equal(r, PREFACE_NONE);
	}
}

static void
detect_empty_input_is_more(void **state)
{
	(void)state;
	assert_int_equal(preface_check(NULL, 0), PREFACE_MORE);
	assert_int_equal(preface_check(preface, 0), PREFACE_MORE);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(detect_preface_constant_matches_the_wire_header),
	        cmocka_unit_test(detect_full_preface_in_one_read_is_framed),
	        cmocka_unit_test(detect_preface_followed_by_frames_is_framed),
	        cmocka_unit_test(detect_every_proper_prefix_of_preface_is_more),
	        cmocka_unit_test(detect_preface_split_across_two_reads_at_every_position),
	        cmocka_unit_test(detect_preface_split_across_three_reads_at_every_position),
	        cmocka_unit_test(detect_preface_byte_by_byte_is_framed),
	        cmocka_unit_test(detect_bad_version_byte_is_bad_version),
	        cmocka_unit_test(detect_first_byte_zero_is_bad_preface),
	        cmocka_unit_test(detect_0x89_followed_by_wrong_byte_is_bad_preface),
	        cmocka_unit_test(detect_any_wrong_fixed_byte_is_bad_preface_as_soon_as_it_arrives),
	        cmocka_unit_test(detect_text_line_is_text),
	        cmocka_unit_test(detect_telnet_negotiation_is_text),
	        cmocka_unit_test(detect_utf8_text_is_text),
	        cmocka_unit_test(detect_every_first_byte_other_than_0x00_and_0x89_is_text),
	        cmocka_unit_test(detect_empty_input_is_more),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
