/*
 * The web client (src/web), built into chatd and served at / (see
 * docs/websocket.md and the README).  web_assets.c is generated at build
 * time from the files by src/web/embed.cmake.
 */
#ifndef CHATD_PROTO_HTTP_WEB_H
#define CHATD_PROTO_HTTP_WEB_H

#include <stddef.h>

struct hconn;

struct web_asset {
	const char *path; /* "/" for index.html */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
	const char *etag; /* quoted */
};

extern const struct web_asset web_assets[];
extern const size_t web_nassets;

/* GET or HEAD of an asset's path: 200, or 304 when If-None-Match names its
 * ETag. */
void web_serve(struct hconn *h, const char *path);

#endif
