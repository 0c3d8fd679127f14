/*
 * Fuzz target: the text protocol's line reader (line_next, line_command),
 * run as text_input() and conn.c's keep() run it: lines are taken until
 * LINE_MORE, the unused tail is held and the next read appended.  The
 * input is what a telnet or nc client sends, telnet commands included.
 * Each input is read with three bounds (tiny, small and the server's
 * default max_text + 64), each both whole and in reads of pseudo-random
 * sizes seeded from the input.
 *
 * Invariants: *used never passes the bytes given; a produced line is at
 * most the bound and holds no CR, LF or IAC (0xff) byte; every result but
 * LINE_MORE consumes at least a byte; waiting for more consumes at most
 * the LF or NUL completing a CR, and what is held back then is within the
 * bound (the input buffer stays bounded); line_command's pieces lie inside
 * the line; and the split into reads does not change the lines, unless a
 * line is overlong or padded with telnet commands past the bound (then
 * the reader may judge it on its raw length before its end is in: see
 * line.c), cases the comparison leaves out.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util/defaults.h"
#include "proto/text/line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* text.c's bound: max_text plus room for "/msg NICK ". */
#define SERVER_LINE_MAX (CHATD_DEFAULT_MAX_TEXT + 64)

/* Results remembered per feed for comparing whole and split reading. */
#define MAX_EVENTS 2048

struct event {
	enum line_result r;
	size_t off; /* where the line's text starts in text[] */
	size_t len; /* its cleaned length (LINE_OK only) */
};

struct trace {
	struct event ev[MAX_EVENTS];
	size_t n;
	char text[1 << 16]; /* every LINE_OK line, back to back */
	size_t text_len;
	int overflow; /* too many events or too much text to compare */
};

static struct trace t_whole, t_split;
/* The line buffer, of exactly the reader's bound, so that a write past
 * the bound is caught. */
static char *out;

static void
check_command(const char *line, size_t n)
{
	const char *cmd = NULL, *rest = NULL;
	size_t cn = 0, rn = 0;

	if (!line_command(line, n, &cmd, &cn, &rest, &rn)) {
		FUZZ_CHECK(n < 2 || line[0] != '/' || line[1] == '/' || line[1] == ' ');
		return;
	}
	FUZZ_CHECK(n >= 2 && line[0] == '/');
	FUZZ_CHECK(cmd == line + 1 && cn >= 1 && cn <= n - 1);
	FUZZ_CHECK(memchr(cmd, ' ', cn) == NULL);
	FUZZ_CHECK(rest >= cmd + cn && rest + rn == line + n);
	FUZZ_CHECK(rn == 0 || rest[0] != ' ');
}

static void
record(struct trace *t, enum line_result r, const char *line, size_t len)
{
	/* An overlong line is reported once; whether the reader then skips
	 * its tail in a separate step depends on the split. */
	if (r == LINE_SKIPPED || r == LINE_MORE)
		return;
	if (t->n == MAX_EVENTS || t->text_len + len > sizeof(t->text)) {
		t->overflow = 1;
		return;
	}
	t->ev[t->n].r = r;
	t->ev[t->n].off = t->text_len;
	t->ev[t->n].len = r == LINE_OK ? len : 0;
	if (r == LINE_OK && len) {
		memcpy(t->text + t->text_len, line, len);
		t->text_len += len;
	}
	t->n++;
}

/* Take lines from buf[0, len) until LINE_MORE; returns the bytes used. */
static size_t
take_lines(struct line_reader *lr, struct trace *t, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		size_t used = (size_t)-1, outlen = (size_t)-1;
		enum line_result r;

		r = line_next(lr, buf + off, len - off, &used, out, &outlen);
		FUZZ_CHECK(used <= len - off);
		switch (r) {
		case LINE_OK:
			FUZZ_CHECK(used >= 1);
			FUZZ_CHECK(outlen <= lr->max);
			FUZZ_CHECK(memchr(out, '\r', outlen) == NULL);
			FUZZ_CHECK(memchr(out, '\n', outlen) == NULL);
			FUZZ_CHECK(memchr(out, 0xff, outlen) == NULL);
			check_command(out, outlen);
			record(t, r, out, outlen);
			break;
		case LINE_TOO_LONG:
			FUZZ_CHECK(used >= 1);
			FUZZ_CHECK(used > lr->max || lr->discarding == 0);
			record(t, r, NULL, 0);
			break;
		case LINE_SKIPPED:
			FUZZ_CHECK(used >= 1);
			FUZZ_CHECK(!lr->discarding);
			break;
		case LINE_MORE:
			if (lr->discarding) {
				/* Skipping an overlong line takes all there is. */
				FUZZ_CHECK(used == len - off);
			} else {
				/* At most the LF or NUL after a CR that ended
				 * the previous line; the rest is kept, and it is
				 * not more than a line may be. */
				FUZZ_CHECK(used <= 1);
				FUZZ_CHECK(len - off - used <= lr->max);
			}
			return off + used;
		default:
			FUZZ_CHECK(!"line_next returned something else");
		}
		off += used;
	}
	return off;
}

static void
reader_init(struct line_reader *lr, size_t max)
{
	/* Zeroed first, as text.c's calloc does: line_reader_init() leaves
	 * after_cr alone. */
	memset(lr, 0, sizeof(*lr));
	line_reader_init(lr, max);
	free(out);
	out = malloc(max);
	FUZZ_CHECK(out != NULL);
}

static void
trace_init(struct trace *t)
{
	t->n = 0;
	t->text_len = 0;
	t->overflow = 0;
}

/* The whole input in one read (libFuzzer's buffer is exactly its size,
 * so a read past it is caught). */
static void
feed_whole(struct trace *t, size_t max, const uint8_t *data, size_t size)
{
	struct line_reader lr;

	reader_init(&lr, max);
	trace_init(t);
	(void)take_lines(&lr, t, data, size);
}

static void
feed_split(struct trace *t, size_t max, const uint8_t *data, size_t size, uint64_t seed)
{
	struct line_reader lr;
	struct held h = {NULL, 0};
	size_t at = 0;

	reader_init(&lr, max);
	trace_init(t);
	while (at < size) {
		size_t k = next_read(&seed, 12, size - at);

		held_add(&h, data + at, k);
		at += k;
		held_drop(&h, take_lines(&lr, t, h.p, h.n));
	}
	free(h.p);
}

/* An upper bound on the raw length of the input's lines, ends excluded. */
static size_t
longest_raw_line(const uint8_t *data, size_t size)
{
	size_t i, cur = 0, best = 0;

	for (i = 0; i < size; i++) {
		if (data[i] == '\n' || data[i] == '\r') {
			cur = 0;
			continue;
		}
		cur++;
		if (cur > best)
			best = cur;
	}
	return best;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t bounds[] = {4, 64, SERVER_LINE_MAX};
	uint64_t seed = 0xcbf29ce484222325ull;
	int has_iac = memchr(data, 0xff, size) != NULL;
	size_t longest = longest_raw_line(data, size);
	size_t b, i;

	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ull;
	seed |= 1;
	for (b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
		feed_whole(&t_whole, bounds[b], data, size);
		feed_split(&t_split, bounds[b], data, size, seed + b);
		if (t_whole.overflow || t_split.overflow)
			continue;
		if (has_iac && longest > bounds[b])
			continue;
		FUZZ_CHECK(t_whole.n == t_split.n);
		FUZZ_CHECK(t_whole.text_len == t_split.text_len);
		for (i = 0; i < t_whole.n; i++) {
			FUZZ_CHECK(t_whole.ev[i].r == t_split.ev[i].r);
			FUZZ_CHECK(t_whole.ev[i].len == t_split.ev[i].len);
		}
		FUZZ_CHECK(memcmp(t_whole.text, t_split.text, t_whole.text_len) == 0);
	}
	free(out);
	out = NULL;
	return 0;
}
