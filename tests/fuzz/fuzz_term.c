/*
 * Fuzz target: rendering untrusted text for a person's terminal
 * (term_safe, term_eol, term_message, term_presence).  The input is a
 * message text as another user sent it, any bytes at all; the rest of the
 * message (flags, time, zone, names, buffer size) is chosen from a hash of
 * the input, with names that pass valid_room()/valid_nick() as the core
 * guarantees.
 *
 * Invariants: term_safe gives exactly the filter of docs/protocol.md
 * 17.8, computed here independently from the table of well-formed UTF-8
 * sequences (Unicode, table 3-7) and the mIRC formatting codes as 17.8
 * lists them (left out whole); so its output is valid UTF-8 with no C0
 * or C1 control, DEL or bidi control, and none of the formatting bytes
 * 02 03 04 0f 11 16 1d 1e 1f.  A presence line with a part or quit
 * reason ends in ": " and the filtered reason.  A rendered line is valid UTF-8,
 * fits its buffer, ends in CRLF and holds no other control character;
 * cut short by a small buffer it is a prefix of the whole line, cut on a
 * character boundary, and loses no more than one character beyond the
 * bound.  term_message's line has the documented shape.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatd/wire.h"
#include "fuzz.h"
#include "core/msg.h"
#include "proto/text/term.h"
#include "core/valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TEXT_MAX WIRE_TEXT_MAX_HARD

/* Rendering buffers: the largest line for the largest text, and the
 * expected rendering. */
static char line[TERM_LINE_MAX(TEXT_MAX)];
static char want[TERM_LINE_MAX(TEXT_MAX)];

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 if the
 * bytes there are not one; Unicode 15, table 3-7. */
static size_t
seq_len(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint8_t b = s[0];
	uint8_t lo = 0x80, hi = 0xbf;
	size_t need, k;

	if (b <= 0x7f) {
		*cp = b;
		return 1;
	}
	if (b >= 0xc2 && b <= 0xdf)
		need = 1;
	else if (b == 0xe0)
		need = 2, lo = 0xa0;
	else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef)
		need = 2;
	else if (b == 0xed)
		need = 2, hi = 0x9f;
	else if (b == 0xf0)
		need = 3, lo = 0x90;
	else if (b >= 0xf1 && b <= 0xf3)
		need = 3;
	else if (b == 0xf4)
		need = 3, hi = 0x8f;
	else
		return 0;
	if (n < need + 1)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (k = 2; k <= need; k++)
		if (s[k] < 0x80 || s[k] > 0xbf)
			return 0;
	*cp = need == 1   ? (uint32_t)(b & 0x1f)
	      : need == 2 ? (uint32_t)(b & 0x0f)
	                  : (uint32_t)(b & 0x07);
	for (k = 1; k <= need; k++)
		*cp = *cp << 6 | (s[k] & 0x3f);
	return need + 1;
}

/* Code points 17.8 replaces (tab aside, which becomes a space). */
static int
replaced(uint32_t cp)
{
	static const uint32_t bidi[] = {0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c,
	                                0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069};
	size_t i;

	if (cp <= 0x1f || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
		return 1;
	for (i = 0; i < sizeof(bidi) / sizeof(bidi[0]); i++)
		if (cp == bidi[i])
			return 1;
	return 0;
}

/* Is c one of the digits allowed (hex: 0-9a-fA-F, else 0-9)? */
static int
is_digit(uint8_t c, int hex)
{
	if (c >= '0' && c <= '9')
		return 1;
	return hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
}

/* Bytes of the mIRC formatting code at s (n bytes left) that 17.8 leaves
 * out, 0 if none starts there. */
static size_t
format_len(const uint8_t *s, size_t n)
{
	size_t k = 1, d;

	switch (s[0]) {
	case 0x02: /* bold */
	case 0x0f: /* reset */
	case 0x11: /* monospace */
	case 0x16: /* reverse */
	case 0x1d: /* italics */
	case 0x1e: /* strikethrough */
	case 0x1f: /* underline */
		return 1;
	case 0x03: /* colour: up to two digits, then ",", up to two digits */
		for (d = 0; d < 2 && k < n && is_digit(s[k], 0); d++)
			k++;
		if (d > 0 && k + 1 < n && s[k] == ',' && is_digit(s[k + 1], 0)) {
			k += 2;
			if (k < n && is_digit(s[k], 0))
				k++;
		}
		return k;
	case 0x04: /* hex colour: six hex digits, then "," and six more */
		for (d = 0; d < 6; d++)
			if (1 + d >= n || !is_digit(s[1 + d], 1))
				return 1;
		k = 7;
		for (d = 0; d < 6; d++)
			if (k + 1 + d >= n || !is_digit(s[k + 1 + d], 1))
				return k;
		return s[k] == ',' ? k + 7 : k;
	default:
		return 0;
	}
}

/* The filter of 17.8 applied to s[0, n), appended to want at *len. */
static void
filter(const uint8_t *s, size_t n, size_t *len)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp = 0;
		size_t k = format_len(s + i, n - i);

		if (k > 0) {
			i += k;
			continue;
		}
		k = seq_len(s + i, n - i, &cp);
		if (k == 0 || (cp != '\t' && replaced(cp))) {
			want[(*len)++] = (char)0xef; /* U+FFFD */
			want[(*len)++] = (char)0xbf;
			want[(*len)++] = (char)0xbd;
		} else if (cp == '\t') {
			want[(*len)++] = ' ';
		} else {
			memcpy(want + *len, s + i, k);
			*len += k;
		}
		i += k ? k : 1;
	}
}

/* s[0, n) is valid UTF-8 with nothing 17.8 replaces and no tab. */
static int
safe_text(const char *str, size_t n)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0;

	while (i < n) {
		uint32_t cp = 0;
		size_t k = seq_len(s + i, n - i, &cp);

		if (k == 0 || cp == '\t' || replaced(cp))
			return 0;
		i += k;
	}
	return 1;
}

/* A rendered line: fits cap, ends in CRLF (when cap allows), nothing
 * unsafe before that, a character-boundary prefix of the whole line full[0,
 * fn) (its CRLF aside), no shorter than needed. */
static void
check_line(const char *p, size_t n, size_t cap, const char *full, size_t fn)
{
	size_t body;

	FUZZ_CHECK(n <= cap);
	if (cap < 2)
		return;
	FUZZ_CHECK(n >= 2 && p[n - 2] == '\r' && p[n - 1] == '\n');
	body = n - 2;
	FUZZ_CHECK(safe_text(p, body));
	if (full == NULL)
		return;
	FUZZ_CHECK(fn >= 2);
	FUZZ_CHECK(body <= fn - 2 && memcmp(p, full, body) == 0);
	if (fn <= cap)
		FUZZ_CHECK(n == fn);
	else
		FUZZ_CHECK(body + 2 + 3 >= cap);
}

/* Room and nick names the core could have accepted: validated, with the
 * longest ones allowed among them. */
static const char *const rooms[] = {
        "lobby",
        "a",
        "dev.ops-1_X",
        "R123456789012345678901234567890123456789012345678901234567890123",
};
static const char *const nicks[] = {"bob", "_", "alice_2", "N1234567890123456789012345678901"};

#define PICK(a, r) ((a)[(r) % (sizeof(a) / sizeof((a)[0]))])

static void
check_message(const uint8_t *text, size_t tn, uint64_t *seed)
{
	const char *room = PICK(rooms, next_rand(seed));
	const char *from = PICK(nicks, next_rand(seed));
	uint64_t r = next_rand(seed), time_ms = next_rand(seed);
	int direct = (int)(r & 1), history = (int)(r >> 1 & 1);
	long offset = (long)(next_rand(seed) % (2 * 50400 + 1)) - 50400;
	size_t rn = direct ? 0 : strlen(room), fn = strlen(from), n, wn = 0, cap;
	int action = !direct && tn > 4 && memcmp(text, "/me ", 4) == 0;
	long long secs;
	long day;
	struct msg *m;

	FUZZ_CHECK(valid_nick(from, fn));
	FUZZ_CHECK(direct || valid_room(room, rn));
	m = msg_new(direct ? "" : room, rn, from, fn, (const char *)text, tn, 7, time_ms, direct);

	/* The line as 17.7 describes it. */
	secs = (long long)(time_ms / 1000) + offset;
	day = (long)(((secs % 86400) + 86400) % 86400);
	wn = (size_t)snprintf(want, sizeof(want), "%s%02ld:%02ld ", history ? "| " : "", day / 3600,
	                      day / 60 % 60);
	if (direct)
		wn += (size_t)snprintf(want + wn, sizeof(want) - wn, "*%s* ", from);
	else if (action)
		wn += (size_t)snprintf(want + wn, sizeof(want) - wn, "#%s * %s ", room, from);
	else
		wn += (size_t)snprintf(want + wn, sizeof(want) - wn, "#%s <%s> ", room, from);
	filter(action ? text + 4 : text, action ? tn - 4 : tn, &wn);
	memcpy(want + wn, "\r\n", 2);
	wn += 2;

	/* With the buffer text.c gives it, the whole line. */
	n = term_message(line, TERM_LINE_MAX(tn), m, history, offset);
	FUZZ_CHECK(n == wn && memcmp(line, want, wn) == 0);
	check_line(line, n, TERM_LINE_MAX(tn), want, wn);

	/* With a short buffer, a prefix cut where a character starts. */
	cap = (size_t)(next_rand(seed) % (wn + 3));
	{
		char *small = malloc(cap ? cap : 1);

		FUZZ_CHECK(small != NULL);
		n = term_message(small, cap, m, history, offset);
		check_line(small, n, cap, want, wn);
		free(small);
	}
	msg_unref(m);
}

static void
check_presence(const uint8_t *text, size_t tn, uint64_t *seed)
{
	const char *room = PICK(rooms, next_rand(seed));
	const char *nick = PICK(nicks, next_rand(seed));
	const char *nn = PICK(nicks, next_rand(seed));
	uint8_t kind = (uint8_t)(next_rand(seed) % 7), reason = (uint8_t)(next_rand(seed) % 10);
	uint64_t time_ms = next_rand(seed);
	long offset = (long)(next_rand(seed) % (2 * 50400 + 1)) - 50400;
	int nickchange = kind == WIRE_P_NICK;
	struct pres *p;
	size_t n;

	p = pres_new(kind, reason, nickchange ? "" : room, nickchange ? 0 : strlen(room), nick,
	             strlen(nick), nickchange ? nn : "", nickchange ? strlen(nn) : 0, time_ms);
	n = term_presence(line, sizeof(line), p, offset);
	check_line(line, n, sizeof(line), NULL, 0);
	FUZZ_CHECK(n > 8 && line[2] == ':' && line[5] == ' ' && line[6] == '*');
	pres_unref(p);

	/* A part or quit with the input as its reason (the first
	 * CORE_REASON_MAX bytes, as pres_leave keeps): the line without it,
	 * then ": " and the reason filtered as any text. */
	if (tn > 0) {
		uint8_t leave = (next_rand(seed) & 1) ? PRES_PART : PRES_QUIT;
		size_t rn = tn > CORE_REASON_MAX ? CORE_REASON_MAX : tn, head, wn;

		p = pres_new(leave, 0, room, strlen(room), nick, strlen(nick), "", 0, time_ms);
		head = term_presence(want, sizeof(want), p, offset) - 2;
		pres_unref(p);
		memcpy(want + head, ": ", 2);
		wn = head + 2;
		filter(text, rn, &wn);
		memcpy(want + wn, "\r\n", 2);
		wn += 2;
		p = pres_leave(leave, 0, room, strlen(room), nick, strlen(nick), (const char *)text,
		               tn, time_ms);
		n = term_presence(line, sizeof(line), p, offset);
		pres_unref(p);
		FUZZ_CHECK(n == wn && memcmp(line, want, wn) == 0);
		check_line(line, n, sizeof(line), want, wn);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t seed = 0xcbf29ce484222325ull;
	size_t tn = size > TEXT_MAX ? TEXT_MAX : size, wn = 0, cap, i;
	struct term_buf b;
	char *buf;

	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ull;
	seed |= 1;

	/* term_safe alone, with room for the worst case (a buffer of exactly
	 * that size): the filter, and nothing else. */
	buf = malloc(3 * tn + 2);
	FUZZ_CHECK(buf != NULL);
	term_init(&b, buf, 3 * tn + 2);
	term_safe(&b, (const char *)data, tn);
	filter(data, tn, &wn);
	FUZZ_CHECK(b.len == wn && memcmp(buf, want, wn) == 0);
	FUZZ_CHECK(safe_text(buf, b.len));
	for (i = 0; i < b.len; i++)
		FUZZ_CHECK(format_len((const uint8_t *)buf + i, b.len - i) == 0);
	if (safe_text((const char *)data, tn))
		FUZZ_CHECK(b.len == tn && memcmp(buf, data, tn) == 0);
	term_eol(&b);
	FUZZ_CHECK(b.len == wn + 2);
	memcpy(want + wn, "\r\n", 2);
	wn += 2;
	free(buf);

	/* term_safe and term_eol into a short buffer, as text.c's quote()
	 * does with 127 bytes. */
	cap = (size_t)(next_rand(&seed) % (wn + 3));
	buf = malloc(cap ? cap : 1);
	FUZZ_CHECK(buf != NULL);
	term_init(&b, buf, cap);
	term_safe(&b, (const char *)data, tn);
	term_eol(&b);
	check_line(buf, b.len, cap, want, wn);
	free(buf);

	check_message(data, tn, &seed);
	check_presence(data, tn, &seed);
	return 0;
}
