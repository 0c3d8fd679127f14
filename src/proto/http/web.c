/*
 * Serving the web client from memory.  Every answer carries a
 * Content-Security-Policy that allows scripts, styles and connections to
 * chatd's own origin only, so that a message's text can never run as
 * code even if it were ever inserted as HTML; the page is revalidated on
 * every load (no-cache with an ETag), so an upgraded chatd serves its own
 * client at once.
 */
#include <stdio.h>
#include <string.h>

#include "net/conn.h"
#include "proto/http/http.h"
#include "proto/http/web.h"

#define WEB_HEADERS                                                                                \
	"Cache-Control: no-cache\r\n"                                                              \
	"X-Content-Type-Options: nosniff\r\n"                                                      \
	"Referrer-Policy: no-referrer\r\n"                                                         \
	"X-Frame-Options: DENY\r\n"                                                                \
	"Content-Security-Policy: default-src 'self'; connect-src 'self' ws: wss:; "               \
	"img-src 'self' data:; style-src 'self'; script-src 'self'; base-uri 'none'; "             \
	"form-action 'none'; frame-ancestors 'none'\r\n"

void
web_serve(struct hconn *h, const char *path)
{
	const struct web_asset *a = NULL;
	const char *inm;
	char extra[sizeof(WEB_HEADERS) + 64];
	size_t i, n = 0;

	for (i = 0; i < web_nassets; i++)
		if (strcmp(web_assets[i].path, path) == 0)
			a = &web_assets[i];
	if (a == NULL) {
		http_error(h, 404, "not_found", "no such file: %s", path);
		http_end(h);
		return;
	}
	/* The browser will open more connections for the page's files and its
	 * socket, and may hold them silent a while before it uses them. */
	conn_expect_preconnects(h->c);
	snprintf(extra, sizeof(extra), "ETag: %s\r\n" WEB_HEADERS, a->etag);
	inm = http_header(h, HH_IF_NONE_MATCH, &n);
	if (inm && n == strlen(a->etag) && memcmp(inm, a->etag, n) == 0) {
		http_reply(h, 304, NULL, extra, NULL, 0);
		http_end(h);
		return;
	}
	http_reply(h, 200, a->type, extra, a->data, a->len);
	http_end(h);
}
