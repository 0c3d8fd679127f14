/*
 * Name and UTF-8 validation.  Names are ASCII so that case-insensitive
 * comparison is simple and so that an IRC front end can carry them as
 * they are; message text is any UTF-8 without NUL.
 */
#include "core/valid.h"

#include "core/vocab.h"

size_t
valid_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t need, k;
	uint32_t v, min;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1, v = s[0] & 0x1f, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2, v = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3, v = s[0] & 0x07, min = 0x10000;
	} else {
		return 0; /* continuation byte, 0xc0/0xc1 or 0xf5.. */
	}
	if (n <= need)
		return 0;
	for (k = 1; k <= need; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[k] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return need + 1;
}

/* IRC's formatting codes (bold, colour, hex colour, reset, monospace,
 * reverse, italics, strikethrough, underline): controls that style a
 * line and cannot end or move it; terminals are given the text without
 * them (term_safe). */
static int
format_code(uint32_t cp)
{
	return cp == 0x02 || cp == 0x03 || cp == 0x04 || cp == 0x0f || cp == 0x11 || cp == 0x16 ||
	       cp == 0x1d || cp == 0x1e || cp == 0x1f;
}

/* valid_utf8(), and with line no control character either but IRC's
 * formatting codes. */
static int
utf8_scan(const char *str, size_t n, int line)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		/* ASCII is nearly all text: skip the call for it. */
		if (s[i] < 0x80 && s[i] != 0 && (!line || (s[i] >= 0x20 && s[i] != 0x7f))) {
			i++;
			continue;
		}
		k = valid_utf8_next(s + i, n - i, &cp);
		if (k == 0 || cp == 0 ||
		    (line && ((cp < 0x20 && !format_code(cp)) || (cp >= 0x7f && cp <= 0x9f))))
			return 0;
		i += k;
	}
	return 1;
}

int
valid_utf8(const char *s, size_t n)
{
	return utf8_scan(s, n, 0);
}

int
valid_line(const char *s, size_t n)
{
	return utf8_scan(s, n, 1);
}

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

int
valid_nick(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > CORE_NICK_MAX)
		return 0;
	if (!is_alpha((unsigned char)s[0]) && s[0] != '_')
		return 0;
	for (i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '-')
			return 0;
	}
	return 1;
}

int
valid_room(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > CORE_ROOM_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '-' && c != '.')
			return 0;
	}
	return 1;
}

void
valid_fold(char *dst, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	dst[n] = '\0';
}
