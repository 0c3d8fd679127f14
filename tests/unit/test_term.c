/*
 * Unit tests of terminal rendering (src/proto/text/term.c).  Other users' text must
 * never carry a control character, an escape sequence, a line break, a
 * bidirectional override or a byte that is not UTF-8 to a person's
 * terminal; ordinary text of any script must pass intact.  The line
 * formats are checked byte for byte, the clock over time zones and
 * midnight, and a small output buffer must truncate without overflowing
 * and still end the line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "chatd/wire.h"
#include "core/msg.h"
#include "proto/text/term.h"

#define FFFD "\xef\xbf\xbd"

/* 1732440000123 ms is 2024-11-24 09:20:00.123 UTC. */
#define T ((uint64_t)1732440000123u)

/* --- helpers --- */

/* term_safe of s[0, n) into a fresh buffer; returns the length. */
static size_t
safe(const char *s, size_t n, char *out, size_t cap)
{
	struct term_buf b;

	term_init(&b, out, cap);
	term_safe(&b, s, n);
	return b.len;
}

static void
assert_safe_is(const char *in, size_t n, const char *want, size_t wn)
{
	char out[1024];
	size_t len = safe(in, n, out, sizeof(out));

	if (len != wn || memcmp(out, want, wn) != 0)
		fail_msg("term_safe gave %zu bytes \"%.*s\", want %zu bytes \"%.*s\"", len,
		         (int)len, out, wn, (int)wn, want);
}

#define SAFE_IS(in, want) assert_safe_is(in, sizeof(in) - 1, want, sizeof(want) - 1)

/* A strict UTF-8 decoder of our own, to check what reaches a terminal:
 * returns the sequence length and the code point, 0 if not well-formed. */
static size_t
utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t need, k;
	uint32_t v, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		need = 1, v = s[0] & 0x1fu, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		need = 2, v = s[0] & 0x0fu, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		need = 3, v = s[0] & 0x07u, min = 0x10000;
	else
		return 0;
	if (n < need + 1)
		return 0;
	for (k = 1; k <= need; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[k] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return need + 1;
}

static int
forbidden(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e ||
	       cp == 0x200f || cp == 0x061c;
}

/* The offset of the first thing in s[0, n) a terminal must not get (a
 * byte that is not UTF-8, or a control, bidi control, ESC, CR or LF),
 * or n when there is none. */
static size_t
first_unsafe(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t k = utf8_next(p + i, n - i, &cp);

		if (k == 0 || forbidden(cp))
			return i;
		i += k;
	}
	return n;
}

static void
assert_terminal_safe(const char *s, size_t n)
{
	size_t i = first_unsafe(s, n);

	if (i < n)
		fail_msg("byte %zu (0x%02x) of \"%.*s\" is not safe for a terminal", i,
		         (unsigned char)s[i], (int)n, s);
}

/* A whole rendered line: safe text, then exactly one CRLF at its end. */
static void
assert_one_line(const char *s, size_t n)
{
	assert_true(n >= 2);
	assert_memory_equal(s + n - 2, "\r\n", 2);
	assert_terminal_safe(s, n - 2);
}

/* --- term_safe --- */

/* The C0 bytes that start an mIRC formatting code (term_format_len). */
static int
is_format_byte(unsigned c)
{
	return c == 0x02 || c == 0x03 || c == 0x04 || c == 0x0f || c == 0x11 || c == 0x16 ||
	       c == 0x1d || c == 0x1e || c == 0x1f;
}

static void
c0_controls_become_replacement_and_tab_a_space(void **state)
{
	unsigned c;

	(void)state;
	for (c = 0; c < 0x20; c++) {
		char in[3] = {'a', (char)c, 'z'};

		if (c == '\t')
			assert_safe_is(in, 3, "a z", 3);
		else if (is_format_byte(c))
			assert_safe_is(in, 3, "az", 2); /* IRC formatting: left out */
		else
			assert_safe_is(in, 3, "a" FFFD "z", 5);
	}
}

static void
assert_format_len(const char *s, size_t n, size_t want)
{
	size_t got = term_format_len(s, n);

	if (got != want)
		fail_msg("term_format_len(\"%.*s\", %zu) is %zu, want %zu", (int)n, s, n, got,
		         want);
}

#define FORMAT_LEN(lit, want) assert_format_len(lit, sizeof(lit) - 1, want)

static void
format_len_of_each_code(void **state)
{
	static const char toggles[] = {0x02, 0x0f, 0x11, 0x16, 0x1d, 0x1e, 0x1f};
	size_t i;

	(void)state;
	/* Styles and reset: the one byte, whatever follows. */
	for (i = 0; i < sizeof(toggles); i++) {
		char in[3] = {toggles[i], '1', '2'};

		assert_format_len(in, 3, 1);
		assert_format_len(in, 1, 1);
	}
	/* Not a code: text, other controls, nothing. */
	FORMAT_LEN("a\x02", 0);
	FORMAT_LEN("\x01", 0);
	FORMAT_LEN("\x1b[1m", 0);
	FORMAT_LEN("\x7f", 0);
	FORMAT_LEN("\xc2\x82", 0);
	assert_format_len("\x02", 0, 0);

	/* Colour: up to two digits of foreground, then "," and up to two of
	 * background; a comma without digits after it is text. */
	FORMAT_LEN("\x03", 1);
	FORMAT_LEN("\x03x", 1);
	FORMAT_LEN("\x03"
	           "4",
	           2);
	FORMAT_LEN("\x03"
	           "04",
	           3);
	FORMAT_LEN("\x03"
	           "045",
	           3);
	FORMAT_LEN("\x03"
	           "04,",
	           3);
	FORMAT_LEN("\x03"
	           "04,x",
	           3);
	FORMAT_LEN("\x03"
	           "04,1",
	           5);
	FORMAT_LEN("\x03"
	           "04,01",
	           6);
	FORMAT_LEN("\x03"
	           "04,012",
	           6);
	FORMAT_LEN("\x03"
	           "4,1x",
	           4);
	FORMAT_LEN("\x03,01", 1); /* no foreground: the comma is text */
	/* Cut short by n, never read past it. */
	assert_format_len("\x03"
	                  "04,01",
	                  2, 2);
	assert_format_len("\x03"
	                  "04,01",
	                  4, 3);
	assert_format_len("\x03"
	                  "04,01",
	                  5, 5);

	/* Hex colour: six hex digits, then "," and six more. */
	FORMAT_LEN("\x04", 1);
	FORMAT_LEN("\x04"
	           "10ff2",
	           1);
	FORMAT_LEN("\x04"
	           "10ff2g",
	           1);
	FORMAT_LEN("\x04"
	           "10ff20",
	           7);
	FORMAT_LEN("\x04"
	           "10FF20x",
	           7);
	FORMAT_LEN("\x04"
	           "10ff20,",
	           7);
	FORMAT_LEN("\x04"
	           "10ff20,00000",
	           7);
	FORMAT_LEN("\x04"
	           "10ff20,000000",
	           14);
	FORMAT_LEN("\x04"
	           "10ff20,000000f",
	           14);
	assert_format_len("\x04"
	                  "10ff20,000000",
	                  13, 7);
}

static void
irc_formatting_is_left_out(void **state)
{
	(void)state;
	SAFE_IS("\x02"
	        "bold\x02 \x03"
	        "04,01red\x03 plain \x04"
	        "10ff20,000000hex\x04",
	        "bold red plain hex");
	SAFE_IS("\x1ditalic\x1d \x1funder\x1f \x1estrike\x1e \x11mono\x11 \x16rev\x16\x0f.",
	        "italic under strike mono rev.");
	/* Digits that are not part of the code stay. */
	SAFE_IS("\x03"
	        "123",
	        "3");
	SAFE_IS("\x03"
	        "12,345",
	        "5");
	SAFE_IS("\x03"
	        "12,x",
	        ",x");
	SAFE_IS("\x03,12", ",12");
	SAFE_IS("\x04"
	        "abc",
	        "abc");
	SAFE_IS("\x04"
	        "abcdef0",
	        "0");
	/* Codes around multi-byte characters and other controls. */
	SAFE_IS("\x02h\xc3\xa9\x02\x1b", "h\xc3\xa9" FFFD);
	/* A code at the very end, cut short. */
	SAFE_IS("x\x03", "x");
	SAFE_IS("x\x03"
	        "04,",
	        "x,");
	SAFE_IS("x\x04"
	        "10ff",
	        "x10ff");
}

/* Every byte string renders without a formatting byte left: each code is
 * gone whole, and whatever follows it is text made safe. */
static void
formatting_bytes_never_reach_a_terminal(void **state)
{
	static const char alphabet[] = {0x02, 0x03, 0x04, 0x0f, 0x16, 0x1d,       '0',       '1',
	                                '9',  'a',  'F',  ',',  'x',  (char)0xc3, (char)0xa9};
	char in[5], out[64];
	size_t idx[5] = {0}, i, n, k;

	(void)state;
	for (;;) {
		for (i = 0; i < 5; i++)
			in[i] = alphabet[idx[i]];
		n = safe(in, 5, out, sizeof(out));
		for (k = 0; k < n; k++)
			if (is_format_byte((unsigned char)out[k]))
				fail_msg("0x%02x left in the rendering of %02x %02x %02x %02x %02x",
				         (unsigned char)out[k], (unsigned char)in[0],
				         (unsigned char)in[1], (unsigned char)in[2],
				         (unsigned char)in[3], (unsigned char)in[4]);
		assert_terminal_safe(out, n);
		for (i = 0; i < 5 && ++idx[i] == sizeof(alphabet); i++)
			idx[i] = 0;
		if (i == 5)
			break;
	}
}

static void
del_becomes_replacement(void **state)
{
	(void)state;
	SAFE_IS("a\x7fz", "a" FFFD "z");
}

static void
c1_controls_become_one_replacement_each(void **state)
{
	unsigned c;

	(void)state;
	for (c = 0x80; c <= 0x9f; c++) {
		char in[4] = {'a', (char)0xc2, (char)c, 'z'};

		assert_safe_is(in, 4, "a" FFFD "z", 5);
	}
	/* U+00A0, the first code point after C1, is ordinary text. */
	SAFE_IS("a\xc2\xa0z", "a\xc2\xa0z");
}

static void
bidi_controls_become_replacement(void **state)
{
	static const char *const bidi[] = {
	        "\xe2\x80\xaa", /* U+202A LRE */
	        "\xe2\x80\xab", /* U+202B RLE */
	        "\xe2\x80\xac", /* U+202C PDF */
	        "\xe2\x80\xad", /* U+202D LRO */
	        "\xe2\x80\xae", /* U+202E RLO */
	        "\xe2\x81\xa6", /* U+2066 LRI */
	        "\xe2\x81\xa7", /* U+2067 RLI */
	        "\xe2\x81\xa8", /* U+2068 FSI */
	        "\xe2\x81\xa9", /* U+2069 PDI */
	        "\xe2\x80\x8e", /* U+200E LRM */
	        "\xe2\x80\x8f", /* U+200F RLM */
	        "\xd8\x9c",     /* U+061C ALM */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bidi) / sizeof(bidi[0]); i++) {
		char in[8];
		size_t n = strlen(bidi[i]);

		in[0] = 'a';
		memcpy(in + 1, bidi[i], n);
		in[n + 1] = 'z';
		assert_safe_is(in, n + 2, "a" FFFD "z", 5);
	}
	/* Their neighbours pass: U+2029, U+202F, U+2065, U+206A, U+200D
	 * (the joiner emoji need), U+061B. */
	SAFE_IS("\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa\xe2\x80\x8d\xd8\x9b",
	        "\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa\xe2\x80\x8d\xd8\x9b");
}

static void
invalid_utf8_bytes_become_replacement(void **state)
{
	(void)state;
	SAFE_IS("a\x80z", "a" FFFD "z");          /* lone continuation */
	SAFE_IS("a\xffz", "a" FFFD "z");          /* never in UTF-8 */
	SAFE_IS("a\xfe\xfdz", "a" FFFD FFFD "z"); /* never in UTF-8 */
	SAFE_IS("a\xf5\x80\x80\x80z", "a" FFFD FFFD FFFD FFFD "z");
	SAFE_IS("a\xc0\xafz", "a" FFFD FFFD "z");          /* overlong '/' */
	SAFE_IS("a\xc1\xbfz", "a" FFFD FFFD "z");          /* overlong */
	SAFE_IS("a\xe0\x80\xafz", "a" FFFD FFFD FFFD "z"); /* overlong '/' */
	SAFE_IS("a\xf0\x80\x80\xafz", "a" FFFD FFFD FFFD FFFD "z");
	SAFE_IS("a\xed\xa0\x80z", "a" FFFD FFFD FFFD "z");          /* surrogate D800 */
	SAFE_IS("a\xf4\x90\x80\x80z", "a" FFFD FFFD FFFD FFFD "z"); /* above 10FFFF */
	SAFE_IS("a\xc3z", "a" FFFD "z");                            /* lead without continuation */
	SAFE_IS("a\xc3", "a" FFFD);                                 /* truncated at the end */
	SAFE_IS("a\xe6\x97", "a" FFFD FFFD);                        /* truncated at the end */
	SAFE_IS("\xe2\x82\x1b[2J", FFFD FFFD FFFD "[2J");           /* truncated, then ESC */
	/* Overlong encodings of ESC, CR and LF must not sneak through. */
	SAFE_IS("\xc0\x9b\xc0\x8d\xc0\x8a", FFFD FFFD FFFD FFFD FFFD FFFD);
}

static void
ordinary_text_passes_intact(void **state)
{
	(void)state;
	SAFE_IS("hello, world! ~{}|\\`'\"", "hello, world! ~{}|\\`'\"");
	SAFE_IS("caf\xc3\xa9 na\xc3\xafve \xc3\xa9t\xc3\xa9",
	        "caf\xc3\xa9 na\xc3\xafve \xc3\xa9t\xc3\xa9");
	SAFE_IS("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	SAFE_IS("\xf0\x9f\x98\x80 \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",
	        "\xf0\x9f\x98\x80 \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd");
	/* A family emoji: joiners and all. */
	SAFE_IS("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7",
	        "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7");
	/* Arabic and Hebrew text itself is fine; only the overrides go. */
	SAFE_IS("\xd8\xb3\xd9\x84\xd8\xa7\xd9\x85 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d",
	        "\xd8\xb3\xd9\x84\xd8\xa7\xd9\x85 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d");
	/* The largest code point and the replacement character itself. */
	SAFE_IS("\xf4\x8f\xbf\xbf" FFFD, "\xf4\x8f\xbf\xbf" FFFD);
}

static void
escape_sequences_are_neutralised(void **state)
{
	(void)state;
	SAFE_IS("\x1b[31mred\x1b[0m", FFFD "[31mred" FFFD "[0m");
	SAFE_IS("\x1b]0;pwned\x07", FFFD "]0;pwned" FFFD); /* set window title */
	SAFE_IS("\xc2\x9b"
	        "2J",
	        FFFD "2J"); /* 8-bit CSI */
	SAFE_IS("\xc2\x9d"
	        "0;x\xc2\x9c",
	        FFFD "0;x" FFFD); /* 8-bit OSC ... ST */
	SAFE_IS("\x9b"
	        "2J",
	        FFFD "2J"); /* raw C1 byte */
}

static void
line_breaks_cannot_forge_lines(void **state)
{
	(void)state;
	SAFE_IS("hi\r\n09:20 #lobby <root> give me your password",
	        "hi" FFFD FFFD "09:20 #lobby <root> give me your password");
	SAFE_IS("a\rb\nc\x0b"
	        "d\x0c"
	        "e\x85"
	        "f",
	        "a" FFFD "b" FFFD "c" FFFD "d" FFFD "e" FFFD "f");
}

static void
every_byte_string_renders_safe(void **state)
{
	/* Pseudo-random byte strings, biased towards the interesting bytes. */
	static const unsigned char pick[] = {0x00, 0x07, 0x09, 0x0a, 0x0d, 0x1b, 0x7f, 0x80,
	                                     0x9b, 0xa0, 0xbf, 0xc0, 0xc2, 0xc3, 0xd8, 0xe0,
	                                     0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x80,
	                                     0x81, 0xaa, 0xae, 0x9c, 0x8e, 'a',  ' ',  '['};
	uint32_t seed = 12345;
	int iter;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		char in[24], out[24 * 3];
		size_t n, len, i;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 16) % sizeof(in);
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (seed >> 24) & 1 ? (char)pick[(seed >> 16) % sizeof(pick)]
			                         : (char)(seed >> 16);
		}
		len = safe(in, n, out, sizeof(out));
		assert_true(len <= 3 * n);
		assert_null(memchr(out, 0x1b, len));
		assert_null(memchr(out, '\r', len));
		assert_null(memchr(out, '\n', len));
		assert_terminal_safe(out, len);
	}
}

/* --- term_clock --- */

static void
assert_clock(uint64_t ms, long off, const char *want)
{
	char out[6];

	memset(out, 'X', sizeof(out));
	term_clock(out, ms, off);
	if (strcmp(out, want) != 0)
		fail_msg("term_clock(%llu, %ld) = \"%.6s\", want \"%s\"", (unsigned long long)ms,
		         off, out, want);
}

static void
clock_in_utc_and_zones(void **state)
{
	(void)state;
	assert_clock(0, 0, "00:00");
	assert_clock(59999, 0, "00:00");
	assert_clock(60000, 0, "00:01");
	assert_clock(T, 0, "09:20");
	assert_clock(T, 3600, "10:20");        /* CET */
	assert_clock(T, 19800, "14:50");       /* India, +5:30 */
	assert_clock(T, 20700, "15:05");       /* Nepal, +5:45 */
	assert_clock(T, -18000, "04:20");      /* EST */
	assert_clock(T, -34200, "23:50");      /* Marquesas, -9:30: the day before */
	assert_clock(T, 14L * 3600, "23:20");  /* Kiribati, +14 */
	assert_clock(T, -12L * 3600, "21:20"); /* -12: the day before */
	assert_clock(86399999, 0, "23:59");
}

static void
clock_wraps_at_midnight(void **state)
{
	uint64_t t2330 = T - 9 * 3600000ull - 20 * 60000ull + 23 * 3600000ull + 30 * 60000ull;
	uint64_t t0030 = t2330 + 3600000u;

	(void)state;
	assert_clock(t2330, 0, "23:30");
	assert_clock(t2330, 1800, "00:00");
	assert_clock(t2330, 3600, "00:30");
	assert_clock(t0030, 0, "00:30");
	assert_clock(t0030, -3600, "23:30");
	assert_clock(t0030, -1800, "00:00");
	assert_clock(t0030, -1860, "23:59");
	/* Before the epoch in a zone west of UTC. */
	assert_clock(0, -18000, "19:00");
	assert_clock(0, -1, "23:59");
	assert_clock(0, -86400, "00:00");
}

/* --- term_message --- */

/* Messages and events made by a test, released by its teardown even when
 * an assertion fails half-way. */
static struct msg *made_msgs[8];
static struct pres *made_pres[8];

static struct msg *
keep_msg(struct msg *m)
{
	size_t i;

	for (i = 0; i < sizeof(made_msgs) / sizeof(made_msgs[0]); i++)
		if (made_msgs[i] == NULL)
			return made_msgs[i] = m;
	fail_msg("too many messages in one test");
	return m;
}

static struct pres *
keep_pres(struct pres *p)
{
	size_t i;

	for (i = 0; i < sizeof(made_pres) / sizeof(made_pres[0]); i++)
		if (made_pres[i] == NULL)
			return made_pres[i] = p;
	fail_msg("too many events in one test");
	return p;
}

static int
release_made(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(made_msgs) / sizeof(made_msgs[0]); i++) {
		if (made_msgs[i])
			msg_unref(made_msgs[i]);
		made_msgs[i] = NULL;
	}
	for (i = 0; i < sizeof(made_pres) / sizeof(made_pres[0]); i++) {
		if (made_pres[i])
			pres_unref(made_pres[i]);
		made_pres[i] = NULL;
	}
	return 0;
}

static void
assert_message(const struct msg *m, int history, long off, const char *want)
{
	char out[512];
	size_t n = term_message(out, sizeof(out), m, history, off);

	if (n != strlen(want) || memcmp(out, want, n) != 0)
		fail_msg("rendered \"%.*s\", want \"%s\"", (int)n, out, want);
	assert_one_line(out, n);
}

static struct msg *
room_msg(const char *text)
{
	return keep_msg(msg_new("lobby", 5, "bob", 3, text, strlen(text), 121, T, 0));
}

static struct msg *
direct_msg(const char *text)
{
	return keep_msg(msg_new("", 0, "bob", 3, text, strlen(text), 0, T, 1));
}

static void
message_live_and_history(void **state)
{
	struct msg *m = room_msg("hi all");

	(void)state;
	assert_message(m, 0, 0, "09:20 #lobby <bob> hi all\r\n");
	assert_message(m, 1, 0, "| 09:20 #lobby <bob> hi all\r\n");
	assert_message(m, 0, 3600, "10:20 #lobby <bob> hi all\r\n");
	assert_message(m, 1, -34200, "| 23:50 #lobby <bob> hi all\r\n");
}

static void
message_action(void **state)
{
	struct msg *m = room_msg("/me waves at everyone");

	(void)state;
	assert_message(m, 0, 0, "09:20 #lobby * bob waves at everyone\r\n");
	assert_message(m, 1, 0, "| 09:20 #lobby * bob waves at everyone\r\n");

	/* Not actions: "/me" without an action, and other words. */
	m = room_msg("/me ");
	assert_message(m, 0, 0, "09:20 #lobby <bob> /me \r\n");
	m = room_msg("/meh");
	assert_message(m, 0, 0, "09:20 #lobby <bob> /meh\r\n");
	m = room_msg("/ME shouts");
	assert_message(m, 0, 0, "09:20 #lobby <bob> /ME shouts\r\n");
}

static void
message_action_text_is_made_safe(void **state)
{
	struct msg *m = room_msg("/me \x1b[2J\r\nwipes your screen");

	(void)state;
	assert_message(m, 0, 0, "09:20 #lobby * bob " FFFD "[2J" FFFD FFFD "wipes your screen\r\n");
}

static void
message_direct(void **state)
{
	struct msg *m = direct_msg("hi alice");

	(void)state;
	assert_message(m, 0, 0, "09:20 *bob* hi alice\r\n");
	assert_message(m, 0, -18000, "04:20 *bob* hi alice\r\n");

	/* A direct "/me" is not an action: it is shown as it was sent. */
	m = direct_msg("/me waves");
	assert_message(m, 0, 0, "09:20 *bob* /me waves\r\n");
}

static void
message_text_is_made_safe_and_stays_one_line(void **state)
{
	struct msg *m = room_msg("ok\r\n09:20 #lobby <admin> \x1b]0;x\x07\xe2\x80\xaetxet\ttab");

	(void)state;
	assert_message(m, 0, 0,
	               "09:20 #lobby <bob> ok" FFFD FFFD "09:20 #lobby <admin> " FFFD
	               "]0;x" FFFD FFFD "txet tab\r\n");
}

static void
message_with_longest_names_and_text_fits_term_line_max(void **state)
{
	/* The bound text.c sizes its buffer with: every text byte tripled. */
	static char text[WIRE_TEXT_MAX_HARD];
	static char out[TERM_LINE_MAX(WIRE_TEXT_MAX_HARD) + 16];
	char room[WIRE_ROOM_MAX], nick[WIRE_NICK_MAX];
	struct msg *m;
	size_t n;

	(void)state;
	memset(text, 0x1b, sizeof(text));
	memset(room, 'r', sizeof(room));
	memset(nick, 'n', sizeof(nick));
	m = keep_msg(msg_new(room, sizeof(room), nick, sizeof(nick), text, sizeof(text), 1, T, 0));
	memset(out, 'C', sizeof(out));
	n = term_message(out, TERM_LINE_MAX(WIRE_TEXT_MAX_HARD), m, 1, 0);
	/* "| HH:MM #" room " <" nick "> " text CRLF, nothing cut. */
	assert_int_equal(n, 2 + 5 + 2 + sizeof(room) + 2 + sizeof(nick) + 2 + 3 * sizeof(text) + 2);
	assert_memory_equal(out + n - 2, "\r\n", 2);
	assert_memory_equal(out + n - 5, FFFD, 3);
	assert_int_equal(out[TERM_LINE_MAX(WIRE_TEXT_MAX_HARD)], 'C');
}

/* --- term_presence --- */

static void
assert_presence(uint8_t kind, uint8_t reason, const char *room, const char *nick,
                const char *new_nick, const char *want)
{
	struct pres *p = keep_pres(pres_new(kind, reason, room, strlen(room), nick, strlen(nick),
	                                    new_nick, strlen(new_nick), T));
	char out[256];
	size_t n = term_presence(out, sizeof(out), p, 0);

	if (n != strlen(want) || memcmp(out, want, n) != 0)
		fail_msg("rendered \"%.*s\", want \"%s\"", (int)n, out, want);
	assert_one_line(out, n);
}

static void
presence_kinds(void **state)
{
	(void)state;
	assert_presence(WIRE_P_JOIN, 0, "lobby", "carol", "", "09:20 * carol joined #lobby\r\n");
	assert_presence(WIRE_P_PART, 0, "lobby", "carol", "", "09:20 * carol left #lobby\r\n");
	assert_presence(WIRE_P_QUIT, 0, "lobby", "carol", "", "09:20 * carol quit (#lobby)\r\n");
	assert_presence(WIRE_P_NICK, 0, "", "alice", "alice_2",
	                "09:20 * alice is now known as alice_2\r\n");
}

static void
presence_drop_reasons(void **state)
{
	(void)state;
	assert_presence(WIRE_P_DROP, WIRE_R_CLOSED, "lobby", "dave", "",
	                "09:20 * dave dropped from #lobby: connection closed\r\n");
	assert_presence(WIRE_P_DROP, WIRE_R_RESET, "lobby", "dave", "",
	                "09:20 * dave dropped from #lobby: connection reset\r\n");
	assert_presence(WIRE_P_DROP, WIRE_R_PING_TIMEOUT, "lobby", "dave", "",
	                "09:20 * dave dropped from #lobby: ping timeout\r\n");
	assert_presence(WIRE_P_DROP, WIRE_R_SLOW_CONSUMER, "lobby", "dave", "",
	                "09:20 * dave dropped from #lobby: slow consumer\r\n");
	assert_presence(WIRE_P_DROP, WIRE_R_PROTOCOL_ERROR, "lobby", "dave", "",
	                "09:20 * dave dropped from #lobby: protocol error\r\n");
	assert_presence(WIRE_P_DROP, WIRE_R_SHUTDOWN, "lobby", "dave", "",
	                "09:20 * dave dropped from #lobby: server shutdown\r\n");
	assert_presence(WIRE_P_DROP, WIRE_R_NODE_LOST, "lobby", "dave", "",
	                "09:20 * dave dropped from #lobby: node lost\r\n");
	assert_presence(WIRE_P_DROP, 200, "lobby", "dave", "",
	                "09:20 * dave dropped from #lobby: unknown\r\n");
}

static void
assert_leave(uint8_t kind, const char *text, size_t tn, const char *want)
{
	struct pres *p = keep_pres(pres_leave(kind, 0, "lobby", 5, "carol", 5, text, tn, T));
	char out[TERM_LINE_MAX(CORE_REASON_MAX)];
	size_t n = term_presence(out, sizeof(out), p, 0);

	if (n != strlen(want) || memcmp(out, want, n) != 0)
		fail_msg("rendered \"%.*s\", want \"%s\"", (int)n, out, want);
	assert_one_line(out, n);
}

static void
presence_with_the_words_of_a_part_or_quit(void **state)
{
	static char many[300];

	(void)state;
	assert_leave(WIRE_P_PART, "gone fishing", 12,
	             "09:20 * carol left #lobby: gone fishing\r\n");
	assert_leave(WIRE_P_QUIT, "bye \xc3\xa0 tous", 11,
	             "09:20 * carol quit (#lobby): bye \xc3\xa0 tous\r\n");
	/* None given: no ": ". */
	assert_leave(WIRE_P_PART, "", 0, "09:20 * carol left #lobby\r\n");
	assert_leave(WIRE_P_QUIT, "", 0, "09:20 * carol quit (#lobby)\r\n");
	/* Filtered as any text: formatting left out, controls replaced. */
	assert_leave(WIRE_P_PART,
	             "\x02so\x02 \x03"
	             "04long\x03\r\n09:20 * x",
	             24, "09:20 * carol left #lobby: so long" FFFD FFFD "09:20 * x\r\n");
	/* pres_leave keeps CORE_REASON_MAX bytes at the most. */
	memset(many, 'w', sizeof(many));
	{
		char want[512];

		snprintf(want, sizeof(want), "09:20 * carol left #lobby: %.*s\r\n", CORE_REASON_MAX,
		         many);
		assert_leave(WIRE_P_PART, many, sizeof(many), want);
	}
}

static void
presence_uses_the_zone(void **state)
{
	struct pres *p = keep_pres(pres_new(WIRE_P_JOIN, 0, "dev", 3, "eve", 3, "", 0, T));
	char out[128];
	size_t n = term_presence(out, sizeof(out), p, -34200);

	(void)state;
	assert_int_equal(n, strlen("23:50 * eve joined #dev\r\n"));
	assert_memory_equal(out, "23:50 * eve joined #dev\r\n", n);
}

/* --- truncation --- */

#define CANARY 0xa5
#define GUARD  32

static void
check_truncated(const char *buf, size_t cap, size_t n, const char *full, size_t fulln)
{
	size_t i;

	assert_true(n <= cap);
	for (i = cap; i < cap + GUARD; i++)
		if ((unsigned char)buf[i] != CANARY)
			fail_msg("cap %zu: byte %zu past the end was written", cap, i - cap);
	if (cap >= fulln) {
		/* Room enough: the whole line. */
		assert_int_equal(n, fulln);
		assert_memory_equal(buf, full, fulln);
		return;
	}
	if (cap >= 2) {
		/* Cut short, but still a line: a prefix of it (less at most the
		 * three bytes of a character that did not fit), then CRLF. */
		assert_true(n + 3 >= cap);
		assert_memory_equal(buf + n - 2, "\r\n", 2);
		assert_memory_equal(buf, full, n - 2);
		assert_null(memchr(buf, '\n', n - 1));
		assert_null(memchr(buf, 0x1b, n));
	}
}

static void
small_caps_truncate_without_overflow(void **state)
{
	static const char text[] = "h\xc3\xa9llo \x1b[31m w\xc3\xb6rld \xf0\x9f\x98\x80 "
	                           "and a rather long tail to cut";
	struct msg *m = room_msg(text);
	struct msg *d = direct_msg(text);
	struct pres *p = keep_pres(
	        pres_new(WIRE_P_DROP, WIRE_R_PING_TIMEOUT, "lobby", 5, "carol", 5, "", 0, T));
	char full[512], buf[512 + GUARD];
	size_t fulln, cap, n;
	int h;

	(void)state;
	for (h = 0; h <= 1; h++) {
		fulln = term_message(full, sizeof(full), m, h, 0);
		for (cap = 0; cap <= fulln + 2; cap++) {
			memset(buf, CANARY, sizeof(buf));
			n = term_message(buf, cap, m, h, 0);
			check_truncated(buf, cap, n, full, fulln);
		}
	}
	fulln = term_message(full, sizeof(full), d, 0, 0);
	for (cap = 0; cap <= fulln + 2; cap++) {
		memset(buf, CANARY, sizeof(buf));
		n = term_message(buf, cap, d, 0, 0);
		check_truncated(buf, cap, n, full, fulln);
	}
	fulln = term_presence(full, sizeof(full), p, 0);
	for (cap = 0; cap <= fulln + 2; cap++) {
		memset(buf, CANARY, sizeof(buf));
		n = term_presence(buf, cap, p, 0);
		check_truncated(buf, cap, n, full, fulln);
	}
}

static void
term_buf_truncates_raw_safe_and_eol(void **state)
{
	char buf[8 + GUARD];
	struct term_buf b;
	size_t i;

	(void)state;
	memset(buf, CANARY, sizeof(buf));
	term_init(&b, buf, 8);
	term_str(&b, "0123456789");
	assert_int_equal(b.len, 8);
	term_safe(&b, "\x1b\x1b", 2);
	assert_int_equal(b.len, 8);
	term_eol(&b);
	assert_int_equal(b.len, 8);
	assert_memory_equal(buf, "012345\r\n", 8);
	for (i = 8; i < sizeof(buf); i++)
		assert_int_equal((unsigned char)buf[i], CANARY);
}

static void
truncated_line_is_still_utf8(void **state)
{
	/* A cut must not leave half a character before the CRLF: the
	 * terminal would show a stray replacement, or an old decoder could
	 * take the CR as the rest of the character. */
	static const char text[] =
	        "\xc3\xa9\xc3\xa9\xe6\x97\xa5\xe6\x97\xa5\xf0\x9f\x98\x80\x1b\x1b";
	struct msg *m = room_msg(text);
	char buf[256 + GUARD];
	size_t head = strlen("09:20 #lobby <bob> "), cap, n;

	(void)state;
	for (cap = head + 2; cap < head + 2 + 3 * sizeof(text); cap++) {
		memset(buf, CANARY, sizeof(buf));
		n = term_message(buf, cap, m, 0, 0);
		assert_true(n <= cap);
		assert_memory_equal(buf + n - 2, "\r\n", 2);
		assert_int_equal((unsigned char)buf[cap], CANARY);
		if (first_unsafe(buf, n - 2) < n - 2)
			fail_msg("cap %zu: the line is cut inside a character: byte %zu (0x%02x) "
			         "before the CRLF is not UTF-8",
			         cap, first_unsafe(buf, n - 2),
			         (unsigned char)buf[first_unsafe(buf, n - 2)]);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_teardown(c0_controls_become_replacement_and_tab_a_space,
	                                  release_made),
	        cmocka_unit_test_teardown(format_len_of_each_code, release_made),
	        cmocka_unit_test_teardown(irc_formatting_is_left_out, release_made),
	        cmocka_unit_test_teardown(formatting_bytes_never_reach_a_terminal, release_made),
	        cmocka_unit_test_teardown(del_becomes_replacement, release_made),
	        cmocka_unit_test_teardown(c1_controls_become_one_replacement_each, release_made),
	        cmocka_unit_test_teardown(bidi_controls_become_replacement, release_made),
	        cmocka_unit_test_teardown(invalid_utf8_bytes_become_replacement, release_made),
	        cmocka_unit_test_teardown(ordinary_text_passes_intact, release_made),
	        cmocka_unit_test_teardown(escape_sequences_are_neutralised, release_made),
	        cmocka_unit_test_teardown(line_breaks_cannot_forge_lines, release_made),
	        cmocka_unit_test_teardown(every_byte_string_renders_safe, release_made),
	        cmocka_unit_test_teardown(clock_in_utc_and_zones, release_made),
	        cmocka_unit_test_teardown(clock_wraps_at_midnight, release_made),
	        cmocka_unit_test_teardown(message_live_and_history, release_made),
	        cmocka_unit_test_teardown(message_action, release_made),
	        cmocka_unit_test_teardown(message_action_text_is_made_safe, release_made),
	        cmocka_unit_test_teardown(message_direct, release_made),
	        cmocka_unit_test_teardown(message_text_is_made_safe_and_stays_one_line,
	                                  release_made),
	        cmocka_unit_test_teardown(message_with_longest_names_and_text_fits_term_line_max,
	                                  release_made),
	        cmocka_unit_test_teardown(presence_kinds, release_made),
	        cmocka_unit_test_teardown(presence_drop_reasons, release_made),
	        cmocka_unit_test_teardown(presence_with_the_words_of_a_part_or_quit, release_made),
	        cmocka_unit_test_teardown(presence_uses_the_zone, release_made),
	        cmocka_unit_test_teardown(small_caps_truncate_without_overflow, release_made),
	        cmocka_unit_test_teardown(term_buf_truncates_raw_safe_and_eol, release_made),
	        cmocka_unit_test_teardown(truncated_line_is_still_utf8, release_made),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
