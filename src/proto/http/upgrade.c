/*
 * GET /ws: the WebSocket opening handshake (RFC 6455 4.2,
 * docs/websocket.md section 1).  The checks are the server's half of the
 * RFC; the Origin rule is chatd's: a browser's page may open a socket
 * only from chatd's own origin or one that --http-cors-origins lists.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/conn.h"
#include "net/frontend.h"
#include "util/config.h"
#include "proto/http/http.h"
#include "net/ws.h"

/* The subprotocols chatd speaks. */
static const struct {
	const char *name;
	const char *frontend; /* in the registry */
	enum ws_mode mode;
} subprotocols[] = {
        {"chatd.json", "websocket-json", WS_UNITS},
        {"chatd.framed", "framed", WS_STREAM},
};

/* The next token of the comma-separated header value v[0, n) from *i:
 * its start, with its length in *tn; NULL after the last. */
static const char *
token(const char *v, size_t n, size_t *i, size_t *tn)
{
	size_t k;

	while (*i < n && (v[*i] == ' ' || v[*i] == '\t' || v[*i] == ','))
		(*i)++;
	if (*i == n)
		return NULL;
	k = *i;
	while (k < n && v[k] != ',' && v[k] != ' ' && v[k] != '\t')
		k++;
	*tn = k - *i;
	v += *i;
	*i = k;
	return v;
}

/* Whether the value v[0, n) lists token t (compared ignoring case). */
static int
lists(const char *v, size_t n, const char *t)
{
	size_t i = 0, tn = 0, want = strlen(t);
	const char *p;

	while ((p = token(v, n, &i, &tn)) != NULL)
		if (tn == want && strncasecmp(p, t, tn) == 0)
			return 1;
	return 0;
}

/* The first subprotocol of the client's offer that chatd speaks (RFC 6455
 * 4.2.2: the client lists them in its order of preference), or -1. */
static int
choose(const char *offer, size_t n)
{
	size_t i = 0, tn = 0, k;
	const char *p;

	while (offer && (p = token(offer, n, &i, &tn)) != NULL)
		for (k = 0; k < sizeof(subprotocols) / sizeof(subprotocols[0]); k++)
			if (strlen(subprotocols[k].name) == tn &&
			    strncmp(p, subprotocols[k].name, tn) == 0)
				return (int)k;
	return -1;
}

/* The page's origin is chatd's own: http:// and the Host it asked for. */
static int
same_origin(const struct hconn *h, const char *o, size_t n)
{
	size_t hn = 0;
	const char *host = http_header(h, HH_HOST, &hn);

	return host && n == 7 + hn && strncasecmp(o, "http://", 7) == 0 &&
	       strncasecmp(o + 7, host, hn) == 0;
}

void
http_websocket(struct hconn *h)
{
	const char *v, *key, *offer;
	size_t n = 0, kn = 0, on = 0;
	int i;
	char accept[29], extra[256];

	if (strcmp(conn_config(h->c)->http_websocket, "no") == 0) {
		http_error(h, 403, "websocket_disabled",
		           "WebSockets are off here (http-websocket)");
		http_end(h);
		return;
	}
	if (h->parser.http_major != 1 || h->parser.http_minor < 1 ||
	    (v = http_header(h, HH_UPGRADE, &n)) == NULL || !lists(v, n, "websocket") ||
	    (v = http_header(h, HH_CONNECTION, &n)) == NULL || !lists(v, n, "upgrade")) {
		http_error(h, 400, "bad_request",
		           "/ws is a WebSocket: an HTTP/1.1 GET with Upgrade: websocket and "
		           "Connection: Upgrade");
		http_end(h);
		return;
	}
	if ((v = http_header(h, HH_WS_VERSION, &n)) == NULL || n != 2 || memcmp(v, "13", 2) != 0) {
		http_extra("Sec-WebSocket-Version: 13\r\n");
		http_error(h, 426, "websocket_version", "chatd speaks WebSocket version 13");
		http_end(h);
		return;
	}
	if ((key = http_header(h, HH_WS_KEY, &kn)) == NULL || ws_accept_key(key, kn, accept) < 0) {
		http_error(h, 400, "bad_request", "Sec-WebSocket-Key must be 16 bytes in base64");
		http_end(h);
		return;
	}
	if ((v = http_header(h, HH_ORIGIN, &n)) != NULL && !same_origin(h, v, n) && !h->origin[0] &&
	    !h->cors_any) {
		http_error(h, 403, "origin_not_allowed",
		           "pages from %.*s may not open a WebSocket here (http-cors-origins)",
		           (int)(n < 100 ? n : 100), v);
		http_end(h);
		return;
	}
	offer = http_header(h, HH_WS_PROTOCOL, &on);
	if ((i = choose(offer, on)) < 0) {
		http_error(h, 400, "no_subprotocol",
		           "Sec-WebSocket-Protocol must offer chatd.json or chatd.framed "
		           "(docs/websocket.md)");
		http_end(h);
		return;
	}
	snprintf(extra, sizeof(extra),
	         "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
	         "Sec-WebSocket-Protocol: %s\r\n",
	         accept, subprotocols[i].name);
	http_begin(h, 101, NULL, extra, (size_t)-1);
	h->upgrade = frontend_find(subprotocols[i].frontend);
	h->upgrade_mode = (uint8_t)subprotocols[i].mode;
}
