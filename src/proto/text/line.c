/*
 * Text-protocol line reader.  Telnet negotiation is passive: the server
 * never asks for options, so the client's offers are simply dropped, and
 * a telnet client stays in its default line mode with local echo.
 */
#include "proto/text/line.h"

#include <string.h>

void
line_reader_init(struct line_reader *lr, size_t max)
{
	lr->max = max;
	lr->discarding = 0;
	lr->in_sb = 0;
	lr->after_cr = 0;
}

/* Copy raw[0, n) to out without telnet commands, writing at most cap
 * bytes; returns the cleaned length, which exceeds cap when the line is
 * too long.  A command cut off at the end of the line is dropped whole. */
static size_t
clean(struct line_reader *lr, const uint8_t *raw, size_t n, char *out, size_t cap)
{
	size_t i = 0, k = 0;

	while (i < n) {
		uint8_t c = raw[i];

		if (lr->in_sb) {
			/* Subnegotiation runs to IAC SE. */
			if (c == LINE_IAC && i + 1 < n && raw[i + 1] == LINE_SE) {
				lr->in_sb = 0;
				i += 2;
			} else {
				i++;
			}
			continue;
		}
		if (c != LINE_IAC) {
			if (k < cap)
				out[k] = (char)c;
			k++;
			i++;
			continue;
		}
		c = i + 1 < n ? raw[i + 1] : 0;
		if (c >= LINE_WILL && c <= LINE_DONT) {
			i += 3; /* IAC WILL/WONT/DO/DONT option */
		} else if (c == LINE_SB) {
			lr->in_sb = 1;
			i += 2;
		} else {
			i += 2; /* IAC IAC, IAC NOP, IAC AYT, ...: nothing to show */
		}
	}
	return k;
}

/* The first line end in p[0, len): LF or CR, or NULL. */
static const uint8_t *
line_end(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] == '\n' || p[i] == '\r')
			return p + i;
	return NULL;
}

/* Bytes of the line end at e (CRLF and CR NUL are one end); a CR at the
 * very end of the input leaves its partner to the next call. */
static size_t
end_len(struct line_reader *lr, const uint8_t *e, const uint8_t *end)
{
	if (*e == '\n')
		return 1;
	if (e + 1 == end) {
		lr->after_cr = 1;
		return 1;
	}
	return e[1] == '\n' || e[1] == 0 ? 2 : 1;
}

enum line_result
line_next(struct line_reader *lr, const uint8_t *p, size_t len, size_t *used, char *out,
          size_t *outlen)
{
	const uint8_t *e;
	size_t n, skip = 0;

	if (lr->after_cr && len > 0) {
		lr->after_cr = 0;
		if (p[0] == '\n' || p[0] == 0)
			skip = 1;
	}
	p += skip;
	len -= skip;
	e = line_end(p, len);
	if (lr->discarding) {
		if (e == NULL) {
			*used = skip + len;
			return LINE_MORE;
		}
		lr->discarding = 0;
		*used = skip + (size_t)(e - p) + end_len(lr, e, p + len);
		return LINE_SKIPPED;
	}
	if (e == NULL) {
		/* Without its end a line may already be known too long.  (A
		 * line padded with telnet commands is judged on its raw length
		 * here; people's clients send a few at most.) */
		if (len > lr->max) {
			lr->discarding = 1;
			*used = skip + len;
			return LINE_TOO_LONG;
		}
		*used = skip;
		return LINE_MORE;
	}
	n = (size_t)(e - p);
	*used = skip + n + end_len(lr, e, p + len);
	*outlen = clean(lr, p, n, out, lr->max);
	if (*outlen > lr->max)
		return LINE_TOO_LONG;
	return LINE_OK;
}

int
line_command(const char *line, size_t n, const char **cmd, size_t *cn, const char **rest,
             size_t *rn)
{
	size_t i = 1;

	if (n < 2 || line[0] != '/' || line[1] == '/' || line[1] == ' ')
		return 0;
	while (i < n && line[i] != ' ')
		i++;
	*cmd = line + 1;
	*cn = i - 1;
	while (i < n && line[i] == ' ')
		i++;
	*rest = line + i;
	*rn = n - i;
	return 1;
}
