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
irc_line_fits(const char *line, size_t n)
{
	size_t tags = 0;

	if (n > 0 && line[0] == '@') {
		tags = word_end(line, 0, n);
		if (tags < n)
			tags++; /* the space that ends them */
		if (tags > IRC_TAGS_MAX)
			return 0;
	}
	return n - tags <= IRC_LINE_MAX - 2;
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
