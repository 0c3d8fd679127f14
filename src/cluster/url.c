/*
 * The --cluster URL parser (url.h).  Every refusal names the part at
 * fault in words an operator can act on; the password is never copied
 * into a message, since error lines go to the journal.
 */
#include "cluster/url.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/hex.h"

#define SCHEME "redis://"

/* Fill err from a format; always returns -1. */
static int __attribute__((format(printf, 3, 4)))
url_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Percent-decode s[0, n) into dst (room for max bytes and a NUL); 0, or
 * -1 with what is wrong in err, the part named by what. */
static int
url_decode(const char *s, size_t n, char *dst, size_t max, const char *what, char *err,
           size_t errlen)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return url_fail(err, errlen,
				                "%s: '%%' must be followed by two hex digits",
				                what);
			hi = hex_value(s[i + 1]);
			lo = hex_value(s[i + 2]);
			if (hi < 0 || lo < 0)
				return url_fail(err, errlen,
				                "%s: '%%' must be followed by two hex digits",
				                what);
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return url_fail(err, errlen, "%s: no NUL or control characters", what);
		if (o == max)
			return url_fail(err, errlen, "%s: longer than %zu bytes", what, max);
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return 0;
}

/* Whether s[0, n) is a host name or an IPv4 address: letters, digits,
 * dots, hyphens and underscores. */
static int
url_plain_host(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* Whether s[0, n) may be an IPv6 literal: hex digits, colons and dots
 * (an embedded IPv4 address), with a colon somewhere.  The resolver has
 * the last word; this keeps out what is plainly not one. */
static int
url_ipv6_host(const char *s, size_t n)
{
	size_t i;
	int colon = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == ':')
			colon = 1;
		else if (hex_value(c) < 0 && c != '.')
			return 0;
	}
	return colon;
}

/* Parse the decimal digits s[0, n) into *out, at most max; 0 or -1. */
static int
url_number(const char *s, size_t n, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* Parse "USER:PASSWORD" or ":PASSWORD", u[0, n), into out. */
static int
url_userinfo(const char *u, size_t n, struct redis_url *out, char *err, size_t errlen)
{
	const char *colon = memchr(u, ':', n);
	size_t ulen;

	if (colon == NULL)
		return url_fail(err, errlen,
		                "a user needs a password: redis://USER:PASSWORD@HOST, or "
		                "redis://:PASSWORD@HOST for a password alone");
	ulen = (size_t)(colon - u);
	if (ulen > 0) {
		if (url_decode(u, ulen, out->user, REDIS_URL_USER_MAX, "user", err, errlen) < 0)
			return -1;
		out->has_user = 1;
	}
	if (url_decode(colon + 1, n - ulen - 1, out->password, REDIS_URL_PASSWORD_MAX, "password",
	               err, errlen) < 0)
		return -1;
	if (out->password[0] == '\0')
		return url_fail(err, errlen, "empty password (leave out the '@' part for none)");
	out->has_password = 1;
	return 0;
}

/* Write out->shown: the URL rebuilt, the password hidden. */
static void
url_show(struct redis_url *out)
{
	int v6 = strchr(out->host, ':') != NULL;
	char db[16] = "";

	if (out->has_db)
		snprintf(db, sizeof(db), "/%u", out->db);
	snprintf(out->shown, sizeof(out->shown), "redis://%s%s%s%s%s:%u%s",
	         out->has_user ? out->user : "", out->has_password ? ":***@" : "", v6 ? "[" : "",
	         out->host, v6 ? "]" : "", out->port, db);
}

int
redis_url_parse(const char *text, struct redis_url *out, char *err, size_t errlen)
{
	const char *p, *end, *at, *host, *hend, *port = NULL, *slash;
	size_t len;
	unsigned long v;

	memset(out, 0, sizeof(*out));
	out->port = REDIS_URL_DEFAULT_PORT;
	len = strlen(text);
	if (len == 0)
		return url_fail(err, errlen, "empty; expected redis://HOST:PORT[/DB]");
	if (len > REDIS_URL_MAX)
		return url_fail(err, errlen, "longer than %d characters", REDIS_URL_MAX);
	if (strncmp(text, "rediss://", 9) == 0)
		return url_fail(err, errlen, "rediss:// (TLS) is not supported; use redis://");
	if (strncmp(text, SCHEME, strlen(SCHEME)) != 0)
		return url_fail(err, errlen, "must start with redis:// (redis://HOST:PORT[/DB])");
	p = text + strlen(SCHEME);
	end = text + len;
	if (strpbrk(p, "?#") != NULL)
		return url_fail(err, errlen, "no query (?) or fragment (#) is understood");
	/* The authority ends at the first '/' after the last '@' (a password
	 * may hold a '/' only percent-encoded, so the first '/' will do). */
	slash = memchr(p, '/', (size_t)(end - p));
	if (slash == NULL)
		slash = end;
	at = NULL;
	for (const char *q = p; q < slash; q++)
		if (*q == '@')
			at = q;
	if (at != NULL) {
		if (url_userinfo(p, (size_t)(at - p), out, err, errlen) < 0)
			return -1;
		host = at + 1;
	} else {
		host = p;
	}
	if (host < slash && *host == '[') {
		const char *close = memchr(host, ']', (size_t)(slash - host));

		if (close == NULL)
			return url_fail(err, errlen, "'[' of an IPv6 address without its ']'");
		if ((size_t)(close - host - 1) > REDIS_URL_HOST_MAX)
			return url_fail(err, errlen, "host longer than %d characters",
			                REDIS_URL_HOST_MAX);
		if (!url_ipv6_host(host + 1, (size_t)(close - host - 1)))
			return url_fail(err, errlen, "'%.*s' is not an IPv6 address",
			                (int)(close - host - 1), host + 1);
		memcpy(out->host, host + 1, (size_t)(close - host - 1));
		hend = close + 1;
		if (hend < slash && *hend != ':')
			return url_fail(err, errlen, "after ']' comes ':PORT' or the end");
	} else {
		hend = memchr(host, ':', (size_t)(slash - host));
		if (hend == NULL)
			hend = slash;
		else if (memchr(hend + 1, ':', (size_t)(slash - hend - 1)) != NULL)
			return url_fail(err, errlen,
			                "an IPv6 address goes in brackets: redis://[::1]:6379");
		if (hend == host)
			return url_fail(err, errlen, "no host (redis://HOST:PORT)");
		if ((size_t)(hend - host) > REDIS_URL_HOST_MAX)
			return url_fail(err, errlen, "host longer than %d characters",
			                REDIS_URL_HOST_MAX);
		if (!url_plain_host(host, (size_t)(hend - host)))
			return url_fail(err, errlen,
			                "host '%.*s' is not a name or an address (IPv6 goes in "
			                "brackets: [::1]:6379)",
			                (int)(hend - host) > 64 ? 64 : (int)(hend - host), host);
		memcpy(out->host, host, (size_t)(hend - host));
	}
	if (hend < slash) { /* ':' */
		port = hend + 1;
		if (url_number(port, (size_t)(slash - port), 65535, &v) < 0 || v == 0)
			return url_fail(err, errlen, "port '%.*s' is not a number from 1 to 65535",
			                (int)(slash - port) > 16 ? 16 : (int)(slash - port), port);
		out->port = (uint16_t)v;
	}
	if (slash < end) {
		const char *db = slash + 1;

		if (db < end) { /* "host/" alone means no database */
			if (url_number(db, (size_t)(end - db), REDIS_URL_DB_MAX, &v) < 0)
				return url_fail(err, errlen,
				                "database '%.*s' is not a number from 0 to %u",
				                (int)(end - db) > 16 ? 16 : (int)(end - db), db,
				                REDIS_URL_DB_MAX);
			out->db = (unsigned)v;
			out->has_db = 1;
		}
	}
	url_show(out);
	return 0;
}
