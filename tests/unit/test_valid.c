/*
 * Unit tests of name and text validation (src/core/valid.c): the UTF-8 rules
 * every message text must pass, the nick and room grammars, and the ASCII
 * case folding that makes names compare case-insensitively.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "chatd/wire.h"
#include "core/valid.h"

/* valid_utf8() over a byte string literal, which may hold NULs. */
#define UTF8(lit) valid_utf8(lit, sizeof(lit) - 1)
#define NICK(lit) valid_nick(lit, sizeof(lit) - 1)
#define ROOM(lit) valid_room(lit, sizeof(lit) - 1)

static void
utf8_accepts_ascii(void **state)
{
	(void)state;
	assert_true(UTF8("hello, world ~!"));
	assert_true(UTF8("\x01\x7f"));
	assert_true(UTF8("a"));
}

static void
utf8_accepts_empty_string(void **state)
{
	(void)state;
	/* Emptiness is the caller's rule (TEXT_INVALID), not an encoding error. */
	assert_true(valid_utf8("", 0));
}

static void
utf8_accepts_two_byte_sequences(void **state)
{
	(void)state;
	assert_true(UTF8("\xc2\x80"));    /* U+0080, the smallest */
	assert_true(UTF8("caf\xc3\xa9")); /* U+00E9 */
	assert_true(UTF8("\xdf\xbf"));    /* U+07FF, the largest */
}

static void
utf8_accepts_three_byte_sequences(void **state)
{
	(void)state;
	assert_true(UTF8("\xe0\xa0\x80")); /* U+0800, the smallest */
	assert_true(UTF8("\xe2\x82\xac")); /* U+20AC euro sign */
	assert_true(UTF8("\xed\x9f\xbf")); /* U+D7FF, just below surrogates */
	assert_true(UTF8("\xee\x80\x80")); /* U+E000, just above surrogates */
	assert_true(UTF8("\xef\xbf\xbf")); /* U+FFFF */
}

static void
utf8_accepts_four_byte_sequences_up_to_u10ffff(void **state)
{
	(void)state;
	assert_true(UTF8("\xf0\x90\x80\x80")); /* U+10000, the smallest */
	assert_true(UTF8("\xf0\x9f\x98\x80")); /* U+1F600 emoji */
	assert_true(UTF8("\xf4\x8f\xbf\xbf")); /* U+10FFFF, the largest */
}

static void
utf8_accepts_mixed_text(void **state)
{
	(void)state;
	assert_true(UTF8("a\xc3\xa9"
	                 "b\xe2\x82\xac"
	                 "c\xf0\x9f\x98\x80"
	                 "d"));
}

static void
utf8_rejects_overlong_encodings(void **state)
{
	(void)state;
	assert_false(UTF8("\xc0\x80"));         /* NUL, two bytes */
	assert_false(UTF8("\xc0\xaf"));         /* '/', two bytes */
	assert_false(UTF8("\xc1\xbf"));         /* U+007F, two bytes */
	assert_false(UTF8("\xe0\x80\x80"));     /* NUL, three bytes */
	assert_false(UTF8("\xe0\x9f\xbf"));     /* U+07FF, three bytes */
	assert_false(UTF8("\xf0\x80\x80\x80")); /* NUL, four bytes */
	assert_false(UTF8("\xf0\x8f\xbf\xbf")); /* U+FFFF, four bytes */
}

static void
utf8_rejects_surrogates(void **state)
{
	(void)state;
	assert_false(UTF8("\xed\xa0\x80"));             /* U+D800 */
	assert_false(UTF8("\xed\xaf\xbf"));             /* U+DBFF */
	assert_false(UTF8("\xed\xb0\x80"));             /* U+DC00 */
	assert_false(UTF8("\xed\xbf\xbf"));             /* U+DFFF */
	assert_false(UTF8("\xed\xa0\xbd\xed\xb8\x80")); /* a CESU-8 pair */
}

static void
utf8_rejects_code_points_above_u10ffff(void **state)
{
	(void)state;
	assert_false(UTF8("\xf4\x90\x80\x80")); /* U+110000 */
	assert_false(UTF8("\xf4\xbf\xbf\xbf"));
}

static void
utf8_rejects_lead_bytes_f5_to_ff(void **state)
{
	unsigned c;

	(void)state;
	for (c = 0xf5; c <= 0xff; c++) {
		char s[4] = {(char)c, '\x80', '\x80', '\x80'};

		assert_false(valid_utf8(s, 1));
		assert_false(valid_utf8(s, 4));
	}
}

static void
utf8_rejects_lone_continuation_bytes(void **state)
{
	unsigned c;

	(void)state;
	for (c = 0x80; c <= 0xbf; c++) {
		char s[3] = {'a', (char)c, 'b'};

		assert_false(valid_utf8(s, 3));
		assert_false(valid_utf8(s + 1, 1));
	}
	/* One continuation too many after a complete sequence. */
	assert_false(UTF8("\xc3\xa9\xa9"));
}

static void
utf8_rejects_truncated_sequence_at_end(void **state)
{
	(void)state;
	assert_false(UTF8("abc\xc3"));
	assert_false(UTF8("abc\xe2\x82"));
	assert_false(UTF8("abc\xe2"));
	assert_false(UTF8("abc\xf0\x9f\x98"));
	assert_false(UTF8("abc\xf0\x9f"));
	assert_false(UTF8("abc\xf0"));
	/* A complete sequence cut by the length argument. */
	assert_false(valid_utf8("\xe2\x82\xac", 2));
	assert_true(valid_utf8("\xe2\x82\xac", 3));
}

static void
utf8_rejects_sequence_interrupted_by_ascii(void **state)
{
	(void)state;
	assert_false(UTF8("\xe2\x82"
	                  "a"));
	assert_false(UTF8("\xc3"
	                  "a"));
	assert_false(UTF8("\xf0\x9f\x98"
	                  "a"));
}

static void
utf8_rejects_nul_byte(void **state)
{
	(void)state;
	assert_false(UTF8("\0"));
	assert_false(UTF8("ab\0cd"));
	assert_false(UTF8("abcd\0"));
}

/* Length of the well-formed sequence at s[0, n) per Table 3-7 of the
 * Unicode Standard, or 0: an oracle written from the table, not from the
 * decoder, so the two can be compared over every short string. */
static size_t
table_seq_len(const unsigned char *s, size_t n)
{
	unsigned lo = 0x80, hi = 0xbf;
	size_t need, k;

	if (s[0] >= 0x01 && s[0] <= 0x7f)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 1;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 2;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 3;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < need + 1 || s[1] < lo || s[1] > hi)
		return 0;
	for (k = 2; k <= need; k++)
		if (s[k] < 0x80 || s[k] > 0xbf)
			return 0;
	return need + 1;
}

/* 1 if s[0, n) is a sequence of well-formed sequences per table_seq_len(). */
static int
table_valid(const unsigned char *s, size_t n)
{
	size_t i = 0, l;

	while (i < n) {
		if ((l = table_seq_len(s + i, n - i)) == 0)
			return 0;
		i += l;
	}
	return 1;
}

static void
utf8_agrees_with_unicode_table_on_every_string_of_up_to_3_bytes(void **state)
{
	unsigned char s[3];
	unsigned v;

	(void)state;
	for (v = 0; v < 0x100; v++) {
		s[0] = (unsigned char)v;
		assert_int_equal(valid_utf8((const char *)s, 1), table_valid(s, 1));
	}
	for (v = 0; v < 0x10000; v++) {
		s[0] = (unsigned char)(v >> 8);
		s[1] = (unsigned char)v;
		if (valid_utf8((const char *)s, 2) != table_valid(s, 2))
			fail_msg("disagree on %02x %02x", s[0], s[1]);
	}
	for (v = 0; v < 0x1000000; v++) {
		s[0] = (unsigned char)(v >> 16);
		s[1] = (unsigned char)(v >> 8);
		s[2] = (unsigned char)v;
		if (valid_utf8((const char *)s, 3) != table_valid(s, 3))
			fail_msg("disagree on %02x %02x %02x", s[0], s[1], s[2]);
	}
}

static void
utf8_agrees_with_unicode_table_on_four_byte_boundary_values(void **state)
{
	static const unsigned char pick[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
	                                     0xa0, 0xbf, 0xc0, 0xc2, 0xf4, 0xff};
	enum { NP = sizeof(pick) };
	unsigned char s[4];
	unsigned a, b, c, d;

	(void)state;
	for (a = 0; a < 0x100; a++)
		for (b = 0; b < NP; b++)
			for (c = 0; c < NP; c++)
				for (d = 0; d < NP; d++) {
					s[0] = (unsigned char)a;
					s[1] = pick[b];
					s[2] = pick[c];
					s[3] = pick[d];
					if (valid_utf8((const char *)s, 4) != table_valid(s, 4))
						fail_msg("disagree on %02x %02x %02x %02x", s[0],
						         s[1], s[2], s[3]);
				}
}

static void
nick_accepts_letters_digits_underscore_and_dash(void **state)
{
	(void)state;
	assert_true(NICK("a"));
	assert_true(NICK("Z"));
	assert_true(NICK("_"));
	assert_true(NICK("alice"));
	assert_true(NICK("Bob_the-2nd"));
	assert_true(NICK("_x-9"));
	assert_true(NICK("a-"));
}

static void
nick_accepts_exactly_32_bytes(void **state)
{
	char s[WIRE_NICK_MAX + 1];

	(void)state;
	memset(s, 'n', sizeof(s));
	assert_int_equal(WIRE_NICK_MAX, 32);
	assert_true(valid_nick(s, 32));
}

static void
nick_rejects_33_bytes(void **state)
{
	char s[WIRE_NICK_MAX + 1];

	(void)state;
	memset(s, 'n', sizeof(s));
	assert_false(valid_nick(s, 33));
}

static void
nick_rejects_empty(void **state)
{
	(void)state;
	assert_false(valid_nick("", 0));
}

static void
nick_rejects_leading_digit_or_dash(void **state)
{
	(void)state;
	assert_false(NICK("1abc"));
	assert_false(NICK("9"));
	assert_false(NICK("-abc"));
}

static void
nick_rejects_space_dot_and_punctuation(void **state)
{
	(void)state;
	assert_false(NICK("a b"));
	assert_false(NICK("alice "));
	assert_false(NICK(" alice"));
	assert_false(NICK("a.b"));
	assert_false(NICK("a,b"));
	assert_false(NICK("a:b"));
	assert_false(NICK("a@b"));
	assert_false(NICK("a!b"));
	assert_false(NICK("a#b"));
	assert_false(NICK("a\tb"));
	assert_false(NICK("a\nb"));
}

static void
nick_rejects_non_ascii(void **state)
{
	(void)state;
	assert_false(NICK("caf\xc3\xa9"));
	assert_false(NICK("\xc3\xa9t\xc3\xa9"));
	assert_false(NICK("a\x80"));
	assert_false(NICK("a\xff"));
}

static void
nick_rejects_nul_byte(void **state)
{
	(void)state;
	assert_false(NICK("ab\0c"));
	assert_false(NICK("\0"));
}

static void
room_accepts_letters_digits_underscore_dash_and_dot(void **state)
{
	(void)state;
	assert_true(ROOM("lobby"));
	assert_true(ROOM("a"));
	assert_true(ROOM("9"));
	assert_true(ROOM("."));
	assert_true(ROOM("-"));
	assert_true(ROOM("_"));
	assert_true(ROOM("dev.chatd-2_Test"));
	assert_true(ROOM(".hidden"));
	assert_true(ROOM("123"));
}

static void
room_accepts_exactly_64_bytes_and_rejects_65(void **state)
{
	char s[WIRE_ROOM_MAX + 1];

	(void)state;
	memset(s, 'r', sizeof(s));
	assert_int_equal(WIRE_ROOM_MAX, 64);
	assert_true(valid_room(s, 64));
	assert_false(valid_room(s, 65));
}

static void
room_rejects_empty(void **state)
{
	(void)state;
	assert_false(valid_room("", 0));
}

static void
room_rejects_space_punctuation_and_non_ascii(void **state)
{
	(void)state;
	assert_false(ROOM("a b"));
	assert_false(ROOM("#lobby"));
	assert_false(ROOM("a/b"));
	assert_false(ROOM("a,b"));
	assert_false(ROOM("a:b"));
	assert_false(ROOM("caf\xc3\xa9"));
	assert_false(ROOM("ab\0"));
}

static void
fold_lowers_ascii_letters_only(void **state)
{
	char out[64];

	(void)state;
	valid_fold(out, "AbC-XyZ_09.@[`{", 15);
	assert_string_equal(out, "abc-xyz_09.@[`{");
}

static void
fold_terminates_output_and_copies_exactly_n_bytes(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'X', sizeof(out));
	valid_fold(out, "HELLOWORLD", 5);
	assert_string_equal(out, "hello");
	assert_int_equal(out[6], 'X');
	valid_fold(out, "ignored", 0);
	assert_string_equal(out, "");
}

static void
fold_leaves_non_ascii_bytes_alone(void **state)
{
	char out[8];

	(void)state;
	valid_fold(out, "\xc3\x89Z", 3);
	assert_memory_equal(out, "\xc3\x89z", 4);
}

static void
fold_makes_case_variants_equal(void **state)
{
	char a[WIRE_NICK_MAX + 1], b[WIRE_NICK_MAX + 1];

	(void)state;
	valid_fold(a, "Alice_Z", 7);
	valid_fold(b, "aLICE_z", 7);
	assert_string_equal(a, b);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(utf8_accepts_ascii),
	        cmocka_unit_test(utf8_accepts_empty_string),
	        cmocka_unit_test(utf8_accepts_two_byte_sequences),
	        cmocka_unit_test(utf8_accepts_three_byte_sequences),
	        cmocka_unit_test(utf8_accepts_four_byte_sequences_up_to_u10ffff),
	        cmocka_unit_test(utf8_accepts_mixed_text),
	        cmocka_unit_test(utf8_rejects_overlong_encodings),
	        cmocka_unit_test(utf8_rejects_surrogates),
	        cmocka_unit_test(utf8_rejects_code_points_above_u10ffff),
	        cmocka_unit_test(utf8_rejects_lead_bytes_f5_to_ff),
	        cmocka_unit_test(utf8_rejects_lone_continuation_bytes),
	        cmocka_unit_test(utf8_rejects_truncated_sequence_at_end),
	        cmocka_unit_test(utf8_rejects_sequence_interrupted_by_ascii),
	        cmocka_unit_test(utf8_rejects_nul_byte),
	        cmocka_unit_test(utf8_agrees_with_unicode_table_on_every_string_of_up_to_3_bytes),
	        cmocka_unit_test(utf8_agrees_with_unicode_table_on_four_byte_boundary_values),
	        cmocka_unit_test(nick_accepts_letters_digits_underscore_and_dash),
	        cmocka_unit_test(nick_accepts_exactly_32_bytes),
	        cmocka_unit_test(nick_rejects_33_bytes),
	        cmocka_unit_test(nick_rejects_empty),
	        cmocka_unit_test(nick_rejects_leading_digit_or_dash),
	        cmocka_unit_test(nick_rejects_space_dot_and_punctuation),
	        cmocka_unit_test(nick_rejects_non_ascii),
	        cmocka_unit_test(nick_rejects_nul_byte),
	        cmocka_unit_test(room_accepts_letters_digits_underscore_dash_and_dot),
	        cmocka_unit_test(room_accepts_exactly_64_bytes_and_rejects_65),
	        cmocka_unit_test(room_rejects_empty),
	        cmocka_unit_test(room_rejects_space_punctuation_and_non_ascii),
	        cmocka_unit_test(fold_lowers_ascii_letters_only),
	        cmocka_unit_test(fold_terminates_output_and_copies_exactly_n_bytes),
	        cmocka_unit_test(fold_leaves_non_ascii_bytes_alone),
	        cmocka_unit_test(fold_makes_case_variants_equal),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
