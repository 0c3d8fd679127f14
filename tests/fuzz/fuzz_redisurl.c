/*
 * Fuzz target: the --cluster URL parser (src/cluster/url.c).  The input
 * is one URL (cut at a NUL, as a C string from the command line or the
 * config file would be).
 *
 * Invariants: a refusal gives a reason, NUL-terminated and within its
 * buffer; an accepted URL has a host, a port from 1 to 65535 and a
 * database within bounds, shows no password in its shown form, and
 * reads back the same when rebuilt from its fields (user and password
 * percent-encoded byte by byte): the parser and the fields agree.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/url.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Append s percent-encoded, every byte, to out at *o. */
static void
encode(char *out, size_t *o, size_t cap, const char *s)
{
	for (; *s; s++) {
		FUZZ_CHECK(*o + 3 < cap);
		*o += (size_t)snprintf(out + *o, cap - *o, "%%%02X", (unsigned char)*s);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[REDIS_URL_MAX + 64],
	        again[4 * (REDIS_URL_USER_MAX + REDIS_URL_PASSWORD_MAX) + 512];
	struct redis_url url, back;
	char err[256];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1, o = 0;
	int v6;

	memcpy(text, data, n);
	text[n] = '\0';
	memset(err, 0x55, sizeof(err));
	if (redis_url_parse(text, &url, err, sizeof(err)) < 0) {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(url.host[0] != '\0');
	FUZZ_CHECK(url.port >= 1);
	FUZZ_CHECK(url.db <= REDIS_URL_DB_MAX);
	FUZZ_CHECK(!url.has_db || strchr(text + 8, '/') != NULL);
	FUZZ_CHECK(!url.has_user || url.has_password);
	FUZZ_CHECK(url.has_password == (url.password[0] != '\0'));
	FUZZ_CHECK(strncmp(url.shown, "redis://", 8) == 0);
	if (url.has_password)
		FUZZ_CHECK(strstr(url.shown, ":***@") != NULL);
	for (const char *p = url.password; *p; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	/* Rebuilt from the fields, it parses to the same fields. */
	v6 = strchr(url.host, ':') != NULL;
	o = (size_t)snprintf(again, sizeof(again), "redis://");
	if (url.has_password) {
		encode(again, &o, sizeof(again), url.user);
		again[o++] = ':';
		encode(again, &o, sizeof(again), url.password);
		again[o++] = '@';
	}
	o += (size_t)snprintf(again + o, sizeof(again) - o, "%s%s%s:%u", v6 ? "[" : "", url.host,
	                      v6 ? "]" : "", url.port);
	if (url.has_db)
		o += (size_t)snprintf(again + o, sizeof(again) - o, "/%u", url.db);
	FUZZ_CHECK(o < sizeof(again));
	if (o <= REDIS_URL_MAX) {
		FUZZ_CHECK(redis_url_parse(again, &back, err, sizeof(err)) == 0);
		FUZZ_CHECK(strcmp(back.host, url.host) == 0 && back.port == url.port);
		FUZZ_CHECK(back.has_db == url.has_db && back.db == url.db);
		FUZZ_CHECK(back.has_user == url.has_user && strcmp(back.user, url.user) == 0);
		FUZZ_CHECK(strcmp(back.password, url.password) == 0);
		FUZZ_CHECK(strcmp(back.shown, url.shown) == 0);
	}
	return 0;
}
