/*
 * IRC lines and messages (see ircmsg.h).
 */
#include "proto/irc/ircmsg.h"

#include <string.h>
#include <strings.h>

void
irc_reader_init(struct irc_reader *r, size_t max)
{
	r->max = max;
	r->discarding = 0;
}

/* Index of the first CR or LF in p[from, len), or len. */
static size_t
line_end(const uint8_t *p, size_t from, size_t len)
{
	size_t i;

	for (i = from; i < len; i++)
		if (p[i] == '\r' || p[i] == '\n')
			return i;
	return len;
}

enum irc_line
irc_line_next(struct irc_reader *r, const uint8_t *p, size_t len, size_t *used, size_t *off,
              size_t *n)
{
	size_t i = 0, e;

	if (r->discarding) {
		e = line_end(p, 0, len);
		if (e == len) {
			*used = len;
			return IRC_LINE_MORE;
		}
		r->discarding = 0;
		*used = e + 1;
		return IRC_LINE_SKIPPED;
	}
	/* Line ends with nothing between them: the LF of a CR LF, empty lines. */
	while (i < len && (p[i] == '\r' || p[i] == '\n'))
		i++;
	e = line_end(p, i, len);
	if (e == len) {
		/* Without its end a line may already be known too long. */
		if (len - i > r->max) {
			r->discarding = 1;
			*used = len;
			return IRC_LINE_TOO_LONG;
		}
		*used = i;
		return IRC_LINE_MORE;
	}
	*used = e + 1;
	if (e - i > r->max)
		return IRC_LINE_TOO_LONG;
	*off = i;
	*n = e - i;
	return IRC_LINE_OK;
}

/* Skip spaces from i. */
static size_t
skip_spaces(const char *s, size_t i, size_t n)
{
	while (i < n && s[i] == ' ')
		i++;
	return i;
}

/* The end of the word starting at i. */
static size_t
word_end(const char *s, size_t i, size_t n)
{
	while (i < n && s[i] != ' ')
		i++;
	return i;
}

int
irc_line_fits(const char *line, size_t n, size_t line_max, size_t tags_max)
{
	size_t tags = 0;

	if (n > 0 && line[0] == '@') {
		tags = word_end(line, 0, n);
		if (tags < n)
			tags++; /* the space that ends them */
		if (tags > tags_max)
			return 0;
	}
	return n - tags <= line_max - 2;
}

int
irc_parse(const char *line, size_t n, struct irc_msg *m)
{
	size_t i = skip_spaces(line, 0, n), e;

	memset(m, 0, sizeof(*m));
	if (i < n && line[i] == '@') {
		e = word_end(line, i, n);
		m->tags = line + i + 1;
		m->tags_len = e - i - 1;
		i = skip_spaces(line, e, n);
	}
	if (i < n && line[i] == ':') {
		e = word_end(line, i, n);
		m->source = line + i + 1;
		m->source_len = e - i - 1;
		i = skip_spaces(line, e, n);
	}
	e = word_end(line, i, n);
	if (e == i)
		return -1;
	m->cmd = line + i;
	m->cmd_len = e - i;
	for (i = skip_spaces(line, e, n); i < n; i = skip_spaces(line, e, n)) {
		struct irc_param *pa = &m->params[m->nparams++];

		/* The trailing parameter, and the last one, run to the end. */
		if (line[i] == ':' || m->nparams == IRC_PARAMS_MAX) {
			if (line[i] == ':')
				i++;
			pa->p = line + i;
			pa->n = n - i;
			break;
		}
		e = word_end(line, i, n);
		pa->p = line + i;
		pa->n = e - i;
	}
	return 0;
}

int
irc_cmd_is(const struct irc_msg *m, const char *name)
{
	return strlen(name) == m->cmd_len && strncasecmp(m->cmd, name, m->cmd_len) == 0;
}

int
irc_list_next(const char **s, size_t *n, const char **item, size_t *in)
{
	const char *comma;

	if (*s == NULL || *n == 0)
		return 0;
	comma = memchr(*s, ',', *n);
	*item = *s;
	if (comma == NULL) {
		*in = *n;
		*s += *n;
		*n = 0;
	} else {
		*in = (size_t)(comma - *s);
		*n -= *in + 1;
		*s = comma + 1;
	}
	return 1;
}

int
irc_opening(const uint8_t *p, size_t len)
{
	static const char *const words[] = {"CAP ", "NICK ", "USER ", "PASS "};
	int maybe = 0;
	size_t w;

	for (w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		size_t wl = strlen(words[w]), k = len < wl ? len : wl, i;

		for (i = 0; i < k; i++) {
			uint8_t ch =
			        p[i] >= 'a' && p[i] <= 'z' ? (uint8_t)(p[i] - 'a' + 'A') : p[i];

			if (ch != (uint8_t)words[w][i])
				break;
		}
		if (i < k)
			continue;
		if (len >= wl)
			return 1;
		maybe = 1;
	}
	return maybe ? -1 : 0;
}

int
irc_tag_get(const char *tags, size_t n, const char *key, const char **v, size_t *vn)
{
	size_t kn = strlen(key), i = 0;

	while (i < n) {
		const char *semi = memchr(tags + i, ';', n - i);
		size_t e = semi ? (size_t)(semi - tags) : n;

		if (e - i >= kn && memcmp(tags + i, key, kn) == 0 &&
		    (e - i == kn || tags[i + kn] == '=')) {
			*v = tags + i + kn + (e - i > kn);
			*vn = e - i > kn ? e - i - kn - 1 : 0;
			return 1;
		}
		i = e + 1;
	}
	return 0;
}

int
irc_number(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 20)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';

		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

/* Days from 1970-01-01 to the date y-m-d of the proleptic Gregorian
 * calendar (Howard Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The n digits at s as a number, or -1 when one is not a digit. */
static int
digits_at(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "YYYY-MM-DDThh:mm:ss[.sss]Z" as unix ms: 0, or -1. */
static int
timestamp_parse(const char *s, size_t n, uint64_t *ms)
{
	static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, frac = 0;
	int64_t days;

	if ((n != 20 && n != 24) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[n - 1] != 'Z')
		return -1;
	y = digits_at(s, 4);
	mo = digits_at(s + 5, 2);
	d = digits_at(s + 8, 2);
	h = digits_at(s + 11, 2);
	mi = digits_at(s + 14, 2);
	sec = digits_at(s + 17, 2);
	if (n == 24 && (s[19] != '.' || (frac = digits_at(s + 20, 3)) < 0))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || h < 0 ||
	    mi > 59 || mi < 0 || sec > 60 || sec < 0)
		return -1;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	days = days_from_civil(y, (unsigned)mo, (unsigned)d);
	*ms = ((uint64_t)days * 86400 + (uint64_t)h * 3600 + (uint64_t)mi * 60 + (uint64_t)sec) *
	              1000 +
	      (uint64_t)frac;
	return 0;
}

int
irc_ref_parse(const char *s, size_t n, struct irc_ref *ref)
{
	memset(ref, 0, sizeof(*ref));
	if (n == 1 && s[0] == '*') {
		ref->kind = IRC_REF_STAR;
		return 0;
	}
	if (n > 6 && strncasecmp(s, "msgid=", 6) == 0) {
		const char *dash = memchr(s + 6, '-', n - 6);

		if (dash == NULL || irc_number(s + 6, (size_t)(dash - s - 6), &ref->epoch) < 0 ||
		    irc_number(dash + 1, (size_t)(s + n - dash - 1), &ref->seq) < 0 ||
		    ref->seq == 0)
			return -1;
		ref->kind = IRC_REF_MSGID;
		return 0;
	}
	if (n > 10 && strncasecmp(s, "timestamp=", 10) == 0 &&
	    timestamp_parse(s + 10, n - 10, &ref->time_ms) == 0) {
		ref->kind = IRC_REF_TIME;
		return 0;
	}
	return -1;
}
