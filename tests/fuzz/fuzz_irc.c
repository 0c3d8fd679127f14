/*
 * Fuzz target: the IRC front end's line reader and message parser
 * (src/proto/irc/ircmsg.c), run as irc_input() runs them: lines are taken
 * until IRC_LINE_MORE, the unused tail is held and the next read appended;
 * each line is parsed, its comma lists split, and the opening rule of
 * detection is asked about the first bytes.  The input is read with two
 * bounds (tiny, and the server's 510), each both whole and in reads of
 * pseudo-random sizes seeded from the input.
 *
 * Invariants: *used never passes the bytes given; a line lies inside the
 * bytes given, is within the bound, is not empty and holds no CR or LF;
 * every result but IRC_LINE_MORE consumes at least a byte; what waits for
 * more is within the bound (the input buffer stays bounded); a parsed
 * message's command and parameters lie inside the line, the command and
 * middle parameters hold no space, and there are at most IRC_PARAMS_MAX
 * parameters; list items lie inside their list and hold no comma; a
 * parameter read as a CHATHISTORY reference or a number is either
 * refused or sane, and a tag's value lies inside the tags; the
 * opening rule answers the same for any split of the same first bytes
 * once it has said yes or no; and the split into reads does not change
 * the lines.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto/irc/ircmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 4096

struct trace {
	enum irc_line ev[MAX_EVENTS];
	size_t len[MAX_EVENTS];
	size_t n;
	uint8_t text[1 << 16]; /* every line, back to back */
	size_t text_len;
	int overflow;
};

static struct trace t_whole, t_split;

static int
inside(const char *p, size_t n, const char *base, size_t bn)
{
	return p >= base && p + n <= base + bn;
}

static void
check_list(const char *s, size_t n)
{
	const char *item = NULL;
	size_t in = 0, total = 0, items = 0;
	const char *base = s;
	size_t bn = n;

	while (irc_list_next(&s, &n, &item, &in)) {
		FUZZ_CHECK(inside(item, in, base, bn));
		FUZZ_CHECK(memchr(item, ',', in) == NULL);
		total += in;
		FUZZ_CHECK(++items <= bn + 1);
	}
	FUZZ_CHECK(total <= bn);
}

/* A CHATHISTORY reference: parsed or refused, never half; a msgid's seq
 * is never 0 and a timestamp is not before 1970 nor past 9999. */
static void
check_ref(const char *s, size_t n)
{
	struct irc_ref ref;
	uint64_t v;

	if (irc_ref_parse(s, n, &ref) == 0) {
		FUZZ_CHECK(ref.kind == IRC_REF_STAR || ref.kind == IRC_REF_MSGID ||
		           ref.kind == IRC_REF_TIME);
		if (ref.kind == IRC_REF_MSGID)
			FUZZ_CHECK(ref.seq > 0);
		if (ref.kind == IRC_REF_TIME)
			FUZZ_CHECK(ref.time_ms < 253402300800000ull + 1000);
	}
	if (irc_number(s, n, &v) == 0)
		FUZZ_CHECK(n >= 1 && n <= 20 && s[0] >= '0' && s[0] <= '9');
}

/* A tag's value lies inside the tags and after its key and '='. */
static void
check_tag(const char *tags, size_t n)
{
	static const char *const keys[] = {"label", "msgid", "time", "+draft/reply"};
	size_t i, vn = (size_t)-1;
	const char *v = NULL;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (irc_tag_get(tags, n, keys[i], &v, &vn)) {
			FUZZ_CHECK(inside(v, vn, tags, n));
			FUZZ_CHECK(vn == 0 || (v > tags && v[-1] == '='));
			FUZZ_CHECK(memchr(v, ';', vn) == NULL);
		}
}

static void
check_parse(const char *line, size_t n)
{
	struct irc_msg m;
	unsigned i;
	int fits = irc_line_fits(line, n, IRC_LINE_MAX, IRC_TAGS_MAX);

	/* The bounds: 510 bytes without tags, and 8191 of tags besides. */
	FUZZ_CHECK(fits == 0 || fits == 1);
	if (n == 0 || line[0] != '@')
		FUZZ_CHECK(fits == (n <= IRC_LINE_MAX - 2));
	if (fits)
		FUZZ_CHECK(n <= IRC_TAGS_MAX + IRC_LINE_MAX - 2);
	if (irc_parse(line, n, &m) < 0)
		return;
	if (fits && m.tags && line[0] == '@')
		FUZZ_CHECK(m.tags_len + 1 <= IRC_TAGS_MAX);
	FUZZ_CHECK(m.cmd_len > 0 && inside(m.cmd, m.cmd_len, line, n));
	FUZZ_CHECK(memchr(m.cmd, ' ', m.cmd_len) == NULL);
	FUZZ_CHECK(m.tags == NULL || inside(m.tags, m.tags_len, line, n));
	FUZZ_CHECK(m.source == NULL || inside(m.source, m.source_len, line, n));
	FUZZ_CHECK(m.nparams <= IRC_PARAMS_MAX);
	for (i = 0; i < m.nparams; i++) {
		const struct irc_param *p = &m.params[i];

		FUZZ_CHECK(inside(p->p, p->n, line, n));
		FUZZ_CHECK(p->p >= m.cmd + m.cmd_len);
		if (i > 0)
			FUZZ_CHECK(p->p >= m.params[i - 1].p + m.params[i - 1].n);
		/* Only the last may hold spaces (the trailing one). */
		if (i + 1 < m.nparams)
			FUZZ_CHECK(p->n > 0 && memchr(p->p, ' ', p->n) == NULL);
		check_list(p->p, p->n);
		check_ref(p->p, p->n);
	}
	if (m.tags)
		check_tag(m.tags, m.tags_len);
	(void)irc_cmd_is(&m, "PRIVMSG");
}

static void
record(struct trace *t, enum irc_line r, const uint8_t *line, size_t len)
{
	if (r == IRC_LINE_SKIPPED || r == IRC_LINE_MORE)
		return;
	if (t->n == MAX_EVENTS || t->text_len + len > sizeof(t->text)) {
		t->overflow = 1;
		return;
	}
	t->ev[t->n] = r;
	t->len[t->n] = r == IRC_LINE_OK ? len : 0;
	if (r == IRC_LINE_OK) {
		memcpy(t->text + t->text_len, line, len);
		t->text_len += len;
	}
	t->n++;
}

/* Take lines from buf[0, len) until IRC_LINE_MORE; returns the bytes used. */
static size_t
take_lines(struct irc_reader *rd, struct trace *t, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		size_t used = (size_t)-1, at = (size_t)-1, n = (size_t)-1;
		enum irc_line r = irc_line_next(rd, buf + off, len - off, &used, &at, &n);

		FUZZ_CHECK(used <= len - off);
		switch (r) {
		case IRC_LINE_OK:
			FUZZ_CHECK(used >= 1);
			FUZZ_CHECK(n >= 1 && n <= rd->max);
			FUZZ_CHECK(at + n < used);
			FUZZ_CHECK(memchr(buf + off + at, '\r', n) == NULL);
			FUZZ_CHECK(memchr(buf + off + at, '\n', n) == NULL);
			check_parse((const char *)buf + off + at, n);
			record(t, r, buf + off + at, n);
			break;
		case IRC_LINE_TOO_LONG:
			FUZZ_CHECK(used >= 1);
			record(t, r, NULL, 0);
			break;
		case IRC_LINE_SKIPPED:
			FUZZ_CHECK(used >= 1 && !rd->discarding);
			break;
		case IRC_LINE_MORE:
			if (rd->discarding)
				FUZZ_CHECK(used == len - off);
			else
				FUZZ_CHECK(len - off - used <= rd->max);
			return off + used;
		default:
			FUZZ_CHECK(!"irc_line_next returned something else");
		}
		off += used;
	}
	return off;
}

static void
trace_init(struct trace *t)
{
	t->n = 0;
	t->text_len = 0;
	t->overflow = 0;
}

static void
feed_whole(struct trace *t, size_t max, const uint8_t *data, size_t size)
{
	struct irc_reader rd;

	irc_reader_init(&rd, max);
	trace_init(t);
	(void)take_lines(&rd, t, data, size);
}

static void
feed_split(struct trace *t, size_t max, const uint8_t *data, size_t size, uint64_t seed)
{
	struct irc_reader rd;
	struct held h = {NULL, 0};
	size_t at = 0;

	irc_reader_init(&rd, max);
	trace_init(t);
	while (at < size) {
		size_t k = next_read(&seed, 12, size - at);

		held_add(&h, data + at, k);
		at += k;
		held_drop(&h, take_lines(&rd, t, h.p, h.n));
	}
	free(h.p);
}

/* Once the rule has decided on a prefix, longer prefixes agree. */
static void
check_opening(const uint8_t *data, size_t size)
{
	int first = -1;
	size_t i;

	for (i = 0; i <= size && i <= 8; i++) {
		int r = irc_opening(data, i);

		FUZZ_CHECK(r >= -1 && r <= 1);
		if (first != -1)
			FUZZ_CHECK(r == first);
		else if (r != -1)
			first = r;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A tiny bound, IRC's own, and the reader irc.c uses (tags besides). */
	static const size_t bounds[] = {8, IRC_LINE_MAX - 2, IRC_TAGS_MAX + IRC_LINE_MAX - 2};
	uint64_t seed = 0xcbf29ce484222325ull;
	size_t b, i;

	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ull;
	seed |= 1;
	check_opening(data, size);
	for (b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
		feed_whole(&t_whole, bounds[b], data, size);
		feed_split(&t_split, bounds[b], data, size, seed + b);
		if (t_whole.overflow || t_split.overflow)
			continue;
		FUZZ_CHECK(t_whole.n == t_split.n);
		FUZZ_CHECK(t_whole.text_len == t_split.text_len);
		for (i = 0; i < t_whole.n; i++) {
			FUZZ_CHECK(t_whole.ev[i] == t_split.ev[i]);
			FUZZ_CHECK(t_whole.len[i] == t_split.len[i]);
		}
		FUZZ_CHECK(memcmp(t_whole.text, t_split.text, t_whole.text_len) == 0);
	}
	return 0;
}
