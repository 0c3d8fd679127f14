/*
 * Hex digits, for the percent-decoding of URLs (HTTP paths and queries,
 * redis:// addresses).
 */
#ifndef CHATD_HEX_H
#define CHATD_HEX_H

/* The value of hex digit c, or -1 when it is none. */
static inline int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
