/*
 * Unit tests of the text protocol's line reader (src/proto/text/line.c): lines end in
 * LF or CRLF, may arrive split at any byte across reads (the caller keeps
 * the bytes line_next did not use and calls again with more), telnet
 * commands are removed and never reach the line, an overlong line is
 * reported once and skipped to its end without harming the next line, and
 * line_command splits "/cmd rest".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "proto/text/line.h"

#define MAX 64 /* the reader's bound in most tests */

#define IAC  "\xff"
#define WILL "\xfb"
#define WONT "\xfc"
#define DO   "\xfd"
#define DONT "\xfe"
#define SB   "\xfa"
#define SE   "\xf0"
#define NOP  "\xf1"
#define AYT  "\xf6"

/* What one call of line_next gave: its result and, for LINE_OK and a
 * complete LINE_TOO_LONG, the cleaned line. */
struct event {
	enum line_result r;
	char line[MAX + 1];
	size_t len;
};

/* The whole history of a feed: every result other than LINE_MORE. */
struct trace {
	struct event ev[32];
	int n;
	size_t kept; /* bytes still held by the caller at the end */
};

/* The caller's loop (text_input and conn.c's keep()): append a read to
 * the held bytes, take lines until LINE_MORE, keep what was not used. */
struct feeder {
	struct line_reader lr;
	uint8_t acc[4096];
	size_t have;
	struct trace t;
};

static void
feeder_init(struct feeder *f, size_t max)
{
	memset(f, 0, sizeof(*f));
	line_reader_init(&f->lr, max);
}

static void
feed(struct feeder *f, const void *data, size_t n)
{
	assert_true(f->have + n <= sizeof(f->acc));
	memcpy(f->acc + f->have, data, n);
	f->have += n;
	for (;;) {
		char out[MAX + 1];
		size_t used = 12345, outlen = 0;
		enum line_result r;

		memset(out, 0, sizeof(out));
		r = line_next(&f->lr, f->acc, f->have, &used, out, &outlen);
		assert_true(used <= f->have);
		/* Waiting for more consumes nothing, except the LF or NUL that
		 * completes a CR which ended the previous line. */
		if (r == LINE_MORE && !f->lr.discarding)
			assert_true(used <= 1);
		memmove(f->acc, f->acc + used, f->have - used);
		f->have -= used;
		if (r == LINE_MORE)
			break;
		assert_true(f->t.n < (int)(sizeof(f->t.ev) / sizeof(f->t.ev[0])));
		f->t.ev[f->t.n].r = r;
		if (r == LINE_OK) {
			assert_true(outlen <= f->lr.max);
			memcpy(f->t.ev[f->t.n].line, out, outlen);
			f->t.ev[f->t.n].len = outlen;
		}
		f->t.n++;
		/* A result other than MORE always consumes something. */
		assert_true(used > 0);
		if (f->have == 0)
			break;
	}
	f->t.kept = f->have;
}

/* Feed b[0, len) in reads ending at cut[0] < cut[1] < ... < len. */
static struct trace
feed_cuts(const void *b, size_t len, const size_t *cut, int ncut, size_t max)
{
	static struct feeder f;
	size_t from = 0;
	int i;

	feeder_init(&f, max);
	for (i = 0; i <= ncut; i++) {
		size_t end = i < ncut ? cut[i] : len;

		feed(&f, (const uint8_t *)b + from, end - from);
		from = end;
	}
	return f.t;
}

static struct trace
feed_all(const void *b, size_t len, size_t max)
{
	return feed_cuts(b, len, NULL, 0, max);
}

#define FEED(lit) feed_all(lit, sizeof(lit) - 1, MAX)

/* Append a literal's bytes, without its NUL, at buf + n and advance n. */
#define APPEND(buf, n, lit) (memcpy((buf) + (n), lit, sizeof(lit) - 1), (n) += sizeof(lit) - 1)

static void
assert_ok_line(const struct event *e, const char *want, size_t wn)
{
	if (e->r != LINE_OK)
		fail_msg("result %d, want LINE_OK", (int)e->r);
	if (e->len != wn || memcmp(e->line, want, wn) != 0)
		fail_msg("line \"%.*s\" (%zu bytes), want \"%.*s\" (%zu bytes)", (int)e->len,
		         e->line, e->len, (int)wn, want, wn);
}

#define ASSERT_LINE(e, lit) assert_ok_line((e), lit, sizeof(lit) - 1)

static void
assert_same_trace(const struct trace *a, const struct trace *b)
{
	int i;

	assert_int_equal(a->n, b->n);
	assert_int_equal(a->kept, b->kept);
	for (i = 0; i < a->n; i++) {
		assert_int_equal(a->ev[i].r, b->ev[i].r);
		assert_int_equal(a->ev[i].len, b->ev[i].len);
		assert_memory_equal(a->ev[i].line, b->ev[i].line, a->ev[i].len);
	}
}

/* --- line endings --- */

static void
lf_ends_a_line(void **state)
{
	struct line_reader lr;
	char out[MAX];
	size_t used = 0, n = 0;

	(void)state;
	line_reader_init(&lr, MAX);
	assert_int_equal(line_next(&lr, (const uint8_t *)"hello\n", 6, &used, out, &n), LINE_OK);
	assert_int_equal(used, 6);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "hello", 5);
}

static void
crlf_ends_a_line_without_the_cr(void **state)
{
	struct line_reader lr;
	char out[MAX];
	size_t used = 0, n = 0;

	(void)state;
	line_reader_init(&lr, MAX);
	assert_int_equal(line_next(&lr, (const uint8_t *)"hello\r\n", 7, &used, out, &n), LINE_OK);
	assert_int_equal(used, 7);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "hello", 5);
}

static void
empty_lines_are_lines(void **state)
{
	struct trace t = FEED("\n\r\n");

	(void)state;
	assert_int_equal(t.n, 2);
	ASSERT_LINE(&t.ev[0], "");
	ASSERT_LINE(&t.ev[1], "");
	assert_int_equal(t.kept, 0);
}

static void
no_line_end_means_more_and_nothing_used(void **state)
{
	struct line_reader lr;
	char out[MAX];
	size_t used = 99, n = 0;

	(void)state;
	line_reader_init(&lr, MAX);
	assert_int_equal(line_next(&lr, (const uint8_t *)"hello", 5, &used, out, &n), LINE_MORE);
	assert_int_equal(used, 0);
	used = 99;
	assert_int_equal(line_next(&lr, (const uint8_t *)"", 0, &used, out, &n), LINE_MORE);
	assert_int_equal(used, 0);
}

static void
every_kind_of_line_end_ends_a_line_once(void **state)
{
	/* LF, CR LF, telnet's CR NUL (Enter in character mode) and a bare CR
	 * all end a line, and a two-byte end counts once: no CR is ever left
	 * inside a line to overwrite it on a terminal. */
	struct trace t = FEED("a\rb\r\n"
	                      "c\r\0d\n"
	                      "e\r\r\n"
	                      "f\0g\n");

	(void)state;
	assert_int_equal(t.n, 7);
	ASSERT_LINE(&t.ev[0], "a");
	ASSERT_LINE(&t.ev[1], "b");
	ASSERT_LINE(&t.ev[2], "c");
	ASSERT_LINE(&t.ev[3], "d");
	ASSERT_LINE(&t.ev[4], "e");
	ASSERT_LINE(&t.ev[5], "");
	/* A NUL not after a CR stays: the core refuses it as text. */
	ASSERT_LINE(&t.ev[6], "f\0g");
}

static void
a_cr_at_the_end_of_a_read_takes_its_lf_from_the_next(void **state)
{
	struct line_reader lr;
	char out[MAX];
	size_t used = 99, n = 0;

	(void)state;
	line_reader_init(&lr, MAX);
	assert_int_equal(line_next(&lr, (const uint8_t *)"hello\r", 6, &used, out, &n), LINE_OK);
	assert_int_equal(used, 6);
	assert_int_equal(n, 5);
	/* The LF of that CR LF arrives alone: it ends nothing more. */
	assert_int_equal(line_next(&lr, (const uint8_t *)"\nx", 2, &used, out, &n), LINE_MORE);
	assert_int_equal(used, 1);
	assert_int_equal(line_next(&lr, (const uint8_t *)"x\n", 2, &used, out, &n), LINE_OK);
	assert_int_equal(n, 1);
}

static void
several_lines_in_one_buffer(void **state)
{
	static const char in[] = "one\ntwo\r\n\nthree\r\nfour";
	struct line_reader lr;
	const uint8_t *p = (const uint8_t *)in;
	size_t len = sizeof(in) - 1, used, n;
	char out[MAX];

	(void)state;
	line_reader_init(&lr, MAX);
	assert_int_equal(line_next(&lr, p, len, &used, out, &n), LINE_OK);
	assert_int_equal(used, 4);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "one", 3);
	p += used, len -= used;
	assert_int_equal(line_next(&lr, p, len, &used, out, &n), LINE_OK);
	assert_int_equal(used, 5);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "two", 3);
	p += used, len -= used;
	assert_int_equal(line_next(&lr, p, len, &used, out, &n), LINE_OK);
	assert_int_equal(used, 1);
	assert_int_equal(n, 0);
	p += used, len -= used;
	assert_int_equal(line_next(&lr, p, len, &used, out, &n), LINE_OK);
	assert_int_equal(used, 7);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "three", 5);
	p += used, len -= used;
	assert_int_equal(line_next(&lr, p, len, &used, out, &n), LINE_MORE);
	assert_int_equal(used, 0);
	assert_int_equal(len, 4); /* "four" waits for its end */
}

/* --- every split across reads --- */

static const char split_input[] = "first line\r\n"
                                  "x" IAC WILL "\x01"
                                  "y" IAC SB "\x18\x00"
                                  "xterm" IAC SE "z\n"
                                  "\r\n"
                                  "caf\xc3\xa9 " IAC IAC "ok\r\n"
                                  "tail";

static void
split_input_whole(void **state)
{
	struct trace t = feed_all(split_input, sizeof(split_input) - 1, MAX);

	(void)state;
	assert_int_equal(t.n, 4);
	ASSERT_LINE(&t.ev[0], "first line");
	ASSERT_LINE(&t.ev[1], "xyz");
	ASSERT_LINE(&t.ev[2], "");
	ASSERT_LINE(&t.ev[3], "caf\xc3\xa9 ok");
	assert_int_equal(t.kept, 4);
}

static void
split_at_every_byte_position(void **state)
{
	size_t len = sizeof(split_input) - 1, k;
	struct trace whole = feed_all(split_input, len, MAX);

	(void)state;
	for (k = 1; k < len; k++) {
		struct trace t = feed_cuts(split_input, len, &k, 1, MAX);

		assert_same_trace(&t, &whole);
	}
}

static void
split_at_every_pair_of_positions(void **state)
{
	size_t len = sizeof(split_input) - 1, cut[2];
	struct trace whole = feed_all(split_input, len, MAX);

	(void)state;
	for (cut[0] = 1; cut[0] < len; cut[0]++)
		for (cut[1] = cut[0] + 1; cut[1] < len; cut[1]++) {
			struct trace t = feed_cuts(split_input, len, cut, 2, MAX);

			assert_same_trace(&t, &whole);
		}
}

static void
one_byte_per_read(void **state)
{
	size_t len = sizeof(split_input) - 1, cut[sizeof(split_input)], k;
	struct trace whole = feed_all(split_input, len, MAX), t;

	(void)state;
	for (k = 1; k < len; k++)
		cut[k - 1] = k;
	t = feed_cuts(split_input, len, cut, (int)len - 1, MAX);
	assert_same_trace(&t, &whole);
}

/* --- telnet --- */

static void
telnet_option_negotiation_is_removed(void **state)
{
	struct trace t = FEED(IAC WILL "\x1f"
	                               "a" IAC WONT "\x01"
	                               "b" IAC DO "\x03"
	                               "c" IAC DONT "\x18"
	                               "d\r\n");

	(void)state;
	assert_int_equal(t.n, 1);
	ASSERT_LINE(&t.ev[0], "abcd");
}

static void
telnet_negotiation_alone_is_an_empty_line(void **state)
{
	/* What a telnet client sends on connect, then Enter. */
	struct trace t = FEED(IAC DO "\x03" IAC WILL "\x18" IAC WILL "\x1f"
	                             "\r\n");

	(void)state;
	assert_int_equal(t.n, 1);
	ASSERT_LINE(&t.ev[0], "");
}

static void
telnet_subnegotiation_is_removed(void **state)
{
	/* Terminal type and window size (80 x 24) subnegotiations. */
	struct trace t =
	        FEED("a" IAC SB "\x18\x00"
	             "XTERM-256COLOR" IAC SE "b" IAC SB "\x1f\x00\x50\x00\x18" IAC SE "c\n");

	(void)state;
	assert_int_equal(t.n, 1);
	ASSERT_LINE(&t.ev[0], "abc");
}

static void
telnet_subnegotiation_may_hold_iac_iac(void **state)
{
	/* Inside SB a data byte 255 is doubled; only IAC SE ends it. */
	struct trace t = FEED("a" IAC SB "\x1f\x00" IAC IAC "\x00\x18" IAC SE "b\n");

	(void)state;
	assert_int_equal(t.n, 1);
	ASSERT_LINE(&t.ev[0], "ab");
}

static void
telnet_subnegotiation_spanning_lines_is_removed_whole(void **state)
{
	/* The SB state lasts until IAC SE, even past a line end. */
	struct trace t = FEED("a" IAC SB "\x18\x00"
	                      "vt"
	                      "\r\n"
	                      "100" IAC SE "b\n");

	(void)state;
	assert_int_equal(t.n, 2);
	ASSERT_LINE(&t.ev[0], "a");
	ASSERT_LINE(&t.ev[1], "b");
}

static void
telnet_iac_iac_nop_ayt_are_removed(void **state)
{
	/* IAC IAC is a data byte 255, never valid in UTF-8 text: dropped. */
	struct trace t = FEED("a" IAC IAC "b" IAC NOP "c" IAC AYT "d\n");

	(void)state;
	assert_int_equal(t.n, 1);
	ASSERT_LINE(&t.ev[0], "abcd");
}

static void
telnet_iac_at_the_end_of_a_line(void **state)
{
	struct trace t = FEED("abc" IAC "\r\n"
	                      "def" IAC "\n"
	                      "ghi" IAC WILL "\n"
	                      "next\n");

	(void)state;
	assert_int_equal(t.n, 4);
	ASSERT_LINE(&t.ev[0], "abc");
	ASSERT_LINE(&t.ev[1], "def");
	ASSERT_LINE(&t.ev[2], "ghi");
	ASSERT_LINE(&t.ev[3], "next");
}

static void
telnet_commands_do_not_count_towards_the_limit(void **state)
{
	/* MAX bytes of text plus telnet commands is still a line of MAX. */
	char in[MAX + 32];
	size_t n = 0;
	struct trace t;

	(void)state;
	APPEND(in, n, IAC WILL "\x1f");
	memset(in + n, 'x', MAX), n += MAX;
	APPEND(in, n, IAC NOP "\n");
	t = feed_all(in, n, MAX);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.ev[0].r, LINE_OK);
	assert_int_equal(t.ev[0].len, MAX);
}

static void
telnet_bytes_split_across_reads(void **state)
{
	/* IAC, command and option in three reads, the line end in a fourth. */
	static const char in[] = "hi" IAC WILL "\x1f"
	                         "there\r\n";
	size_t cut[] = {3, 4, 5, 11};
	struct trace t = feed_cuts(in, sizeof(in) - 1, cut, 4, MAX);

	(void)state;
	assert_int_equal(t.n, 1);
	ASSERT_LINE(&t.ev[0], "hithere");
}

/* --- overlong lines --- */

static void
exactly_max_is_ok_and_max_plus_one_is_too_long(void **state)
{
	char in[MAX + 8];
	struct trace t;

	(void)state;
	memset(in, 'x', sizeof(in));
	in[MAX] = '\n';
	t = feed_all(in, MAX + 1, MAX);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.ev[0].r, LINE_OK);
	assert_int_equal(t.ev[0].len, MAX);

	in[MAX] = '\r';
	in[MAX + 1] = '\n';
	t = feed_all(in, MAX + 2, MAX);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.ev[0].r, LINE_OK);
	assert_int_equal(t.ev[0].len, MAX);

	in[MAX] = 'x';
	in[MAX + 1] = '\n';
	t = feed_all(in, MAX + 2, MAX);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.ev[0].r, LINE_TOO_LONG);

	in[MAX + 1] = '\r';
	in[MAX + 2] = '\n';
	t = feed_all(in, MAX + 3, MAX);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.ev[0].r, LINE_TOO_LONG);
	assert_int_equal(t.kept, 0);
}

static void
exactly_max_split_before_the_lf_is_ok(void **state)
{
	/* MAX bytes and the CR may wait for the LF: they could be a line. */
	char in[MAX + 2];
	size_t cut = MAX + 1;
	struct trace t;

	(void)state;
	memset(in, 'x', MAX);
	in[MAX] = '\r';
	in[MAX + 1] = '\n';
	t = feed_cuts(in, sizeof(in), &cut, 1, MAX);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.ev[0].r, LINE_OK);
	assert_int_equal(t.ev[0].len, MAX);
}

static void
complete_overlong_line_is_reported_once_and_the_next_is_ok(void **state)
{
	char in[3 * MAX];
	size_t n = 0;
	struct trace t;

	(void)state;
	memset(in, 'x', 2 * (size_t)MAX), n = 2 * (size_t)MAX;
	APPEND(in, n, "\r\nnext\r\n");
	t = feed_all(in, n, MAX);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.ev[0].r, LINE_TOO_LONG);
	ASSERT_LINE(&t.ev[1], "next");
	assert_int_equal(t.kept, 0);
}

static void
overlong_line_without_its_end_is_skipped_to_the_lf(void **state)
{
	/* The head of a long line arrives: it is refused at once (the
	 * caller's buffer is bounded), the rest is thrown away up to the LF
	 * whatever the reads, and the next line is whole. */
	char in[5 * MAX];
	size_t n = 0, cut[3];
	struct trace t;
	struct line_reader lr;
	size_t used = 0, on = 0;
	char out[MAX];

	(void)state;
	memset(in, 'y', 4 * (size_t)MAX), n = 4 * (size_t)MAX;
	APPEND(in, n, "\r\nnext\r\n");

	line_reader_init(&lr, MAX);
	assert_int_equal(line_next(&lr, (const uint8_t *)in, MAX + 2, &used, out, &on),
	                 LINE_TOO_LONG);
	assert_int_equal(used, MAX + 2);
	assert_true(lr.discarding);
	assert_int_equal(line_next(&lr, (const uint8_t *)in + MAX + 2, MAX, &used, out, &on),
	                 LINE_MORE);
	assert_int_equal(used, MAX); /* skipped bytes are consumed */
	assert_int_equal(line_next(&lr, (const uint8_t *)in + 2 * (size_t)MAX + 2,
	                           n - 2 * (size_t)MAX - 2, &used, out, &on),
	                 LINE_SKIPPED);
	assert_int_equal(used, 2 * MAX - 2 + 2);
	assert_false(lr.discarding);

	cut[0] = MAX + 2;
	cut[1] = 2 * (size_t)MAX;
	cut[2] = 4 * MAX + 1; /* between the CR and the LF */
	t = feed_cuts(in, n, cut, 3, MAX);
	assert_int_equal(t.n, 3);
	assert_int_equal(t.ev[0].r, LINE_TOO_LONG);
	assert_int_equal(t.ev[1].r, LINE_SKIPPED);
	ASSERT_LINE(&t.ev[2], "next");
	assert_int_equal(t.kept, 0);
}

static void
overlong_line_split_anywhere_gives_one_report_and_the_next_line(void **state)
{
	char in[3 * MAX];
	size_t n = 0, k;

	(void)state;
	memset(in, 'z', 2 * (size_t)MAX), n = 2 * (size_t)MAX;
	APPEND(in, n, "\nok\n");
	for (k = 1; k < n; k++) {
		struct trace t = feed_cuts(in, n, &k, 1, MAX);
		int i, reports = 0;

		for (i = 0; i < t.n; i++)
			if (t.ev[i].r == LINE_TOO_LONG)
				reports++;
		assert_int_equal(reports, 1);
		assert_true(t.n >= 2);
		assert_int_equal(t.ev[0].r, LINE_TOO_LONG);
		ASSERT_LINE(&t.ev[t.n - 1], "ok");
		assert_int_equal(t.kept, 0);
	}
}

/* --- line_command --- */

static int
cmd(const char *s, const char **c, size_t *cn, const char **r, size_t *rn)
{
	return line_command(s, strlen(s), c, cn, r, rn);
}

static void
command_with_argument(void **state)
{
	const char *c, *r;
	size_t cn, rn;

	(void)state;
	assert_true(cmd("/join x", &c, &cn, &r, &rn));
	assert_int_equal(cn, 4);
	assert_memory_equal(c, "join", 4);
	assert_int_equal(rn, 1);
	assert_memory_equal(r, "x", 1);

	assert_true(cmd("/msg   bob  hi  there", &c, &cn, &r, &rn));
	assert_int_equal(cn, 3);
	assert_memory_equal(c, "msg", 3);
	assert_int_equal(rn, 14);
	assert_memory_equal(r, "bob  hi  there", 14);
}

static void
command_without_argument(void **state)
{
	const char *c, *r;
	size_t cn, rn;

	(void)state;
	assert_true(cmd("/who", &c, &cn, &r, &rn));
	assert_int_equal(cn, 3);
	assert_memory_equal(c, "who", 3);
	assert_int_equal(rn, 0);

	assert_true(cmd("/who   ", &c, &cn, &r, &rn));
	assert_int_equal(cn, 3);
	assert_int_equal(rn, 0);

	assert_true(cmd("/?", &c, &cn, &r, &rn));
	assert_int_equal(cn, 1);
	assert_memory_equal(c, "?", 1);
}

static void
not_commands(void **state)
{
	const char *c, *r;
	size_t cn, rn;

	(void)state;
	assert_false(cmd("//escaped", &c, &cn, &r, &rn));
	assert_false(cmd("/ spaced", &c, &cn, &r, &rn));
	assert_false(cmd("plain", &c, &cn, &r, &rn));
	assert_false(cmd("/", &c, &cn, &r, &rn));
	assert_false(cmd("", &c, &cn, &r, &rn));
	assert_false(cmd(" /join x", &c, &cn, &r, &rn));
}

static void
command_respects_the_given_length(void **state)
{
	/* The line is not NUL-terminated: only n bytes count. */
	const char *c, *r;
	size_t cn, rn;

	(void)state;
	assert_true(line_command("/join lobbyGARBAGE", 11, &c, &cn, &r, &rn));
	assert_int_equal(cn, 4);
	assert_int_equal(rn, 5);
	assert_memory_equal(r, "lobby", 5);
	assert_false(line_command("/join", 1, &c, &cn, &r, &rn));
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(lf_ends_a_line),
	        cmocka_unit_test(crlf_ends_a_line_without_the_cr),
	        cmocka_unit_test(empty_lines_are_lines),
	        cmocka_unit_test(no_line_end_means_more_and_nothing_used),
	        cmocka_unit_test(every_kind_of_line_end_ends_a_line_once),
	        cmocka_unit_test(a_cr_at_the_end_of_a_read_takes_its_lf_from_the_next),
	        cmocka_unit_test(several_lines_in_one_buffer),
	        cmocka_unit_test(split_input_whole),
	        cmocka_unit_test(split_at_every_byte_position),
	        cmocka_unit_test(split_at_every_pair_of_positions),
	        cmocka_unit_test(one_byte_per_read),
	        cmocka_unit_test(telnet_option_negotiation_is_removed),
	        cmocka_unit_test(telnet_negotiation_alone_is_an_empty_line),
	        cmocka_unit_test(telnet_subnegotiation_is_removed),
	        cmocka_unit_test(telnet_subnegotiation_may_hold_iac_iac),
	        cmocka_unit_test(telnet_subnegotiation_spanning_lines_is_removed_whole),
	        cmocka_unit_test(telnet_iac_iac_nop_ayt_are_removed),
	        cmocka_unit_test(telnet_iac_at_the_end_of_a_line),
	        cmocka_unit_test(telnet_commands_do_not_count_towards_the_limit),
	        cmocka_unit_test(telnet_bytes_split_across_reads),
	        cmocka_unit_test(exactly_max_is_ok_and_max_plus_one_is_too_long),
	        cmocka_unit_test(exactly_max_split_before_the_lf_is_ok),
	        cmocka_unit_test(complete_overlong_line_is_reported_once_and_the_next_is_ok),
	        cmocka_unit_test(overlong_line_without_its_end_is_skipped_to_the_lf),
	        cmocka_unit_test(overlong_line_split_anywhere_gives_one_report_and_the_next_line),
	        cmocka_unit_test(command_with_argument),
	        cmocka_unit_test(command_without_argument),
	        cmocka_unit_test(not_commands),
	        cmocka_unit_test(command_respects_the_given_length),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
