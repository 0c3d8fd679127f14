/*
 * The HTTP connection (docs/http.md sections 1, 2, 9, 11, 12): requests
 * are parsed by http_parser (a Debian package; docs/design.md says why)
 * into one buffer per request, checked against the limits as they
 * arrive, and handed to the route table in api.c once complete.  Answers
 * go out in order: a connection takes its next request only when the
 * last one is answered, so pipelining needs no queue of its own; a long
 * poll pauses the connection (conn_pause) until it is answered.
 *
 * One timer a connection serves every phase: the time a request may take
 * to arrive (handshake-timeout from its first byte), the time an idle
 * keep-alive connection is kept, a long poll's deadline, and the comment
 * that keeps an event stream alive through proxies.
 */
#include "proto/http/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/valid.h"
#include "net/conn.h"
#include "net/ws.h"
#include "util/config.h"
#include "util/hex.h"
#include "util/defaults.h"
#include "util/log.h"
#include "util/slab.h"

static http_parser_settings settings;
static uint64_t serials;
static const char *extra_once; /* header lines for the next answer's head */

/* --- detection --- */

static const char *const methods[] = {"GET ",  "POST ",    "PUT ",  "DELETE ",
                                      "HEAD ", "OPTIONS ", "PATCH "};

static enum detect
http_detect(const uint8_t *p, size_t len, size_t *used)
{
	enum detect d = DETECT_NOT;
	size_t i;

	*used = 0; /* no preface: every byte is the request's */
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t ml = strlen(methods[i]), n = len < ml ? len : ml;

		if (memcmp(p, methods[i], n) != 0)
			continue;
		if (len >= ml)
			return DETECT_MINE;
		d = DETECT_MORE;
	}
	return d;
}

/* --- writing --- */

static void
put(struct conn *c, const void *p, size_t n)
{
	if (n == 0)
		return;
	memcpy(conn_reserve(c, n), p, n);
	conn_commit(c, n);
}

static const char *
phrase(int status)
{
	switch (status) {
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 426:
		return "Upgrade Required";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return "Unknown";
	}
}

/* The Date header's value, made once a second. */
static const char *
date_now(void)
{
	static char text[40];
	static time_t made;
	time_t now = time(NULL);
	struct tm tm;

	if (now != made && gmtime_r(&now, &tm)) {
		strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		made = now;
	}
	return text;
}

/* A head being made; a line that does not fit is left out. */
struct hbuf {
	char p[1536];
	size_t n;
};

static void add(struct hbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add(struct hbuf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(b->p + b->n, sizeof(b->p) - b->n, fmt, ap);
	va_end(ap);
	if (k > 0 && (size_t)k < sizeof(b->p) - b->n)
		b->n += (size_t)k;
}

/* The head of an answer; len (size_t)-1: a stream, delimited by the
 * connection's end.  h may be NULL: a client turned away before it was
 * served, whose connection closes after this. */
static void
head(struct conn *c, struct hconn *h, int status, const char *ctype, const char *extra, size_t len)
{
	struct hbuf b = {{0}, 0};
	int keep = h && h->keep_alive;

	add(&b, "HTTP/1.1 %d %s\r\nServer: chatd\r\nDate: %s\r\n", status, phrase(status),
	    date_now());
	if (ctype)
		add(&b, "Content-Type: %s\r\n", ctype);
	if (len != (size_t)-1 && status != 204 && status != 304)
		add(&b, "Content-Length: %zu\r\n", len);
	if (h && h->origin[0])
		add(&b,
		    "Access-Control-Allow-Origin: %s\r\nAccess-Control-Allow-Credentials: "
		    "true\r\n",
		    h->origin);
	else if (h && h->cors_any)
		add(&b, "Access-Control-Allow-Origin: *\r\n");
	if (conn_config(c)->http_cors_origins[0])
		add(&b, "Vary: Origin\r\n");
	if (!keep && len != (size_t)-1)
		add(&b, "Connection: close\r\n");
	if (extra)
		add(&b, "%s", extra);
	if (extra_once)
		add(&b, "%s", extra_once);
	extra_once = NULL;
	add(&b, "\r\n");
	put(c, b.p, b.n);
	metrics_count_status(status);
}

void
http_extra(const char *lines)
{
	extra_once = lines;
}

void
http_begin(struct hconn *h, int status, const char *ctype, const char *extra, size_t len)
{
	head(h->c, h, status, ctype, extra, len);
}

void
http_write(struct hconn *h, const void *p, size_t n)
{
	if (!h->head)
		put(h->c, p, n);
}

void
http_send(struct hconn *h, struct slice s)
{
	if (!h->head)
		conn_send(h->c, s);
}

void
http_reply(struct hconn *h, int status, const char *ctype, const char *extra, const void *body,
           size_t len)
{
	http_begin(h, status, ctype, extra, len);
	http_write(h, body, len);
}

void
http_reply_json(struct hconn *h, int status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);

	if (text == NULL)
		fatal("out of memory (json)");
	http_reply(h, status, "application/json", NULL, text, strlen(text));
	free(text);
	json_decref(body);
}

/* The JSON of an error.  The message may quote what the client sent (a
 * path, a decoded name) or be cut inside a character: a byte that is not
 * well-formed UTF-8 becomes '?', since jansson refuses such a string (and
 * a NULL here would end the process). */
static char *
error_body(const char *code, const char *message)
{
	size_t n = strlen(message), i = 0;
	char *clean = malloc(n + 1);
	json_t *o;
	char *text;

	if (clean == NULL)
		fatal("out of memory (json)");
	memcpy(clean, message, n + 1);
	while (i < n) {
		uint32_t cp;
		size_t k = valid_utf8_next((const unsigned char *)clean + i, n - i, &cp);

		if (k == 0) {
			clean[i] = '?';
			k = 1;
		}
		i += k;
	}
	o = json_pack("{s:{s:s, s:s%}}", "error", "code", code, "message", clean, n);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	free(clean);
	if (text == NULL)
		fatal("out of memory (json)");
	return text;
}

void
http_error(struct hconn *h, int status, const char *code, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	char *text;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	text = error_body(code, message);
	http_reply(h, status, "application/json", NULL, text, strlen(text));
	free(text);
}

/* Turn a client away before or instead of serving it, then close. */
static void
turn_away(struct conn *c, int status, const char *code, const char *message, const char *extra,
          uint8_t reason)
{
	char *text = error_body(code, message);
	char lines[128];

	/* The request is not read, so its Origin is unknown: a page may read
	 * the refusal only where any origin may. */
	snprintf(lines, sizeof(lines), "%s%s", extra ? extra : "",
	         strchr(conn_config(c)->http_cors_origins, '*')
	                 ? "Access-Control-Allow-Origin: *\r\n"
	                 : "");
	head(c, NULL, status, "application/json", lines, strlen(text));
	put(c, text, strlen(text));
	free(text);
	conn_close_after_flush(c, reason, CHATD_DRAIN_TIMEOUT);
}

/* --- the request --- */

static void
req_free(struct hreq *q)
{
	free(q->buf);
	memset(q, 0, sizeof(*q));
	q->cur = -1;
}

static int
req_append(struct hreq *q, const char *p, size_t n, struct hstr *into)
{
	if (into->len == 0)
		into->off = q->len;
	if (q->len + n + 1 > q->cap) {
		size_t cap = q->cap ? q->cap : 256;
		char *b;

		while (cap < q->len + n + 1)
			cap *= 2;
		if ((b = realloc(q->buf, cap)) == NULL)
			return 1;
		q->buf = b;
		q->cap = (uint32_t)cap;
	}
	memcpy(q->buf + q->len, p, n);
	q->len += (uint32_t)n;
	q->buf[q->len] = '\0';
	into->len += (uint32_t)n;
	return 0;
}

static struct hconn *
of(http_parser *p)
{
	return p->data;
}

static int
on_begin(http_parser *p)
{
	req_free(&of(p)->req);
	return 0;
}

/* Append to a part of the request within its limit, or refuse with the
 * limit's status. */
static int
req_append_within(struct hconn *h, const char *at, size_t n, struct hstr *into, size_t max,
                  int status)
{
	if (into->len + n > max) {
		h->req.refuse = status;
		return 1;
	}
	return req_append(&h->req, at, n, into);
}

static int
on_url(http_parser *p, const char *at, size_t n)
{
	struct hconn *h = of(p);

	return req_append_within(h, at, n, &h->req.url, conn_config(h->c)->http_max_request_line,
	                         414);
}

static int
count_header(struct hconn *h, size_t n)
{
	h->req.header_bytes += (uint32_t)n;
	if (h->req.header_bytes > conn_config(h->c)->http_max_header_bytes) {
		h->req.refuse = 431;
		return 1;
	}
	return 0;
}

static int
on_field(http_parser *p, const char *at, size_t n)
{
	struct hreq *q = &of(p)->req;
	size_t i;

	if (count_header(of(p), n))
		return 1;
	if (q->in_value) {
		q->in_value = 0;
		q->cur = -1;
		q->field_len = 0;
	}
	for (i = 0; i < n; i++) {
		char ch = at[i];

		if ((size_t)q->field_len + 1 >= sizeof(q->field)) {
			q->field_len = sizeof(q->field); /* too long to be one chatd reads */
			break;
		}
		q->field[q->field_len++] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
	}
	return 0;
}

static int
header_id(const char *name, size_t n)
{
	static const char *const names[HH_COUNT] = {
	        [HH_AUTHORIZATION] = "authorization",
	        [HH_COOKIE] = "cookie",
	        [HH_CONTENT_TYPE] = "content-type",
	        [HH_ORIGIN] = "origin",
	        [HH_LAST_EVENT_ID] = "last-event-id",
	        [HH_HOST] = "host",
	        [HH_UPGRADE] = "upgrade",
	        [HH_CONNECTION] = "connection",
	        [HH_WS_KEY] = "sec-websocket-key",
	        [HH_WS_VERSION] = "sec-websocket-version",
	        [HH_WS_PROTOCOL] = "sec-websocket-protocol",
	        [HH_IF_NONE_MATCH] = "if-none-match",
	};
	int i;

	for (i = 0; i < HH_COUNT; i++)
		if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0)
			return i;
	return -1;
}

static int
on_value(http_parser *p, const char *at, size_t n)
{
	struct hreq *q = &of(p)->req;

	if (count_header(of(p), n))
		return 1;
	if (!q->in_value) {
		q->in_value = 1;
		q->cur = q->field_len < sizeof(q->field) ? header_id(q->field, q->field_len) : -1;
		if (q->cur >= 0 && q->hdr_seen[q->cur])
			q->cur = -1; /* the first one counts */
		if (q->cur >= 0)
			q->hdr_seen[q->cur] = 1;
	}
	return q->cur >= 0 ? req_append(q, at, n, &q->hdr[q->cur]) : 0;
}

static int
on_headers(http_parser *p)
{
	struct hconn *h = of(p);

	h->req.has_length = (p->flags & (F_CHUNKED | F_CONTENTLENGTH)) != 0;
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > conn_config(h->c)->http_max_body) {
		h->req.refuse = 413;
		return -1; /* an error: 1 would mean "no body" */
	}
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t n)
{
	struct hconn *h = of(p);

	return req_append_within(h, at, n, &h->req.body, conn_config(h->c)->http_max_body, 413);
}

static int
on_complete(http_parser *p)
{
	of(p)->req.complete = 1;
	/* Stop here: what follows is the next request, read once this one
	 * is answered. */
	http_parser_pause(p, 1);
	return 0;
}

const char *
http_header(const struct hconn *h, enum hhdr which, size_t *len)
{
	const struct hreq *q = &h->req;

	if (!q->hdr_seen[which])
		return NULL;
	*len = q->hdr[which].len;
	return q->buf ? q->buf + q->hdr[which].off : "";
}

const char *
http_body(const struct hconn *h, size_t *len)
{
	*len = h->req.body.len;
	return h->req.body.len ? h->req.buf + h->req.body.off : NULL;
}

int
http_unescape(const char *s, size_t n, char *out, size_t cap, int plus)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 2 >= n || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0)
				return -1;
			c = hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]);
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		if (k + 1 >= cap)
			return -1;
		out[k++] = (char)c;
	}
	out[k] = '\0';
	return (int)k;
}

int
http_query(const struct hconn *h, const char *name, char *out, size_t cap)
{
	const char *url = h->req.buf ? h->req.buf + h->req.url.off : "";
	const char *end = url + h->req.url.len, *p = memchr(url, '?', h->req.url.len);
	size_t nl = strlen(name);

	if (p == NULL)
		return -1;
	for (p++; p < end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		const char *key_end = eq ? eq : stop;

		if ((size_t)(key_end - p) == nl && memcmp(p, name, nl) == 0) {
			int n = eq ? http_unescape(eq + 1, (size_t)(stop - eq - 1), out, cap, 1)
			           : http_unescape("", 0, out, cap, 1);

			return n < 0 ? -2 : n;
		}
		p = stop + 1;
	}
	return -1;
}

/* --- the connection --- */

static void
arm(struct hconn *h, double seconds)
{
	struct ev_loop *loop = h->c->set->loop;

	ev_timer_stop(loop, &h->timer);
	ev_timer_set(&h->timer, seconds, 0);
	ev_timer_start(loop, &h->timer);
}

/* The origin of a request, if the configuration allows it. */
static void
cors(struct hconn *h)
{
	const char *list = conn_config(h->c)->http_cors_origins, *o, *p = list;
	size_t n = 0;

	h->origin[0] = '\0';
	h->cors_any = 0;
	if (list[0] == '\0' || (o = http_header(h, HH_ORIGIN, &n)) == NULL)
		return;
	while (*p) {
		size_t k;

		while (*p == ' ' || *p == ',')
			p++;
		k = strcspn(p, " ,");
		if (k == 1 && *p == '*')
			h->cors_any = 1;
		else if (k && k == n && memcmp(p, o, n) == 0 && n < sizeof(h->origin)) {
			memcpy(h->origin, o, n);
			h->origin[n] = '\0';
			return;
		}
		p += k;
	}
}

void
http_end(struct hconn *h)
{
	struct conn *c = h->c;
	int waited = h->phase == HP_WAITING;

	h->nreq++;
	h->head = 0;
	req_free(&h->req);
	ev_timer_stop(c->set->loop, &h->timer);
	if (waited)
		conn_unpause(c);
	if (!h->keep_alive) {
		h->phase = HP_CLOSING;
		conn_close_after_flush(c, REASON_NONE, CHATD_DRAIN_TIMEOUT);
		return;
	}
	h->phase = HP_IDLE;
	arm(h, conn_config(c)->handshake_timeout);
}

void
http_await(struct hconn *h)
{
	h->phase = HP_WAITING;
	conn_pause(h->c);
	ev_timer_stop(h->c->set->loop, &h->timer);
}

void
http_hold(struct hconn *h, double seconds)
{
	h->phase = HP_WAITING;
	conn_pause(h->c);
	arm(h, seconds);
}

void
http_stream(struct hconn *h)
{
	h->nreq++;
	h->phase = HP_STREAMING;
	req_free(&h->req);
	arm(h, CHATD_HTTP_SSE_KEEPALIVE);
}

void
http_close(struct hconn *h)
{
	h->phase = HP_CLOSING;
	ev_timer_stop(h->c->set->loop, &h->timer);
	conn_close_after_flush(h->c, REASON_NONE, CHATD_DRAIN_TIMEOUT);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hconn *h = w->data;

	(void)loop;
	(void)revents;
	switch (h->phase) {
	case HP_IDLE:
		conn_close(h->c, REASON_NONE); /* an idle keep-alive connection */
		break;
	case HP_READING:
		metrics_refusal("handshake-timeout");
		h->keep_alive = 0;
		http_error(h, 408, "request_timeout",
		           "the request was not complete within %g s (handshake-timeout)",
		           conn_config(h->c)->handshake_timeout);
		http_end(h);
		break;
	case HP_WAITING:
		api_expire(h);
		break;
	case HP_STREAMING:
		http_write(h, ": keep-alive\n\n", 14);
		arm(h, CHATD_HTTP_SSE_KEEPALIVE);
		break;
	default:
		break;
	}
}

/* A request the parser refused, or that broke a limit: say so, close. */
static void
refuse_request(struct hconn *h, enum http_errno err)
{
	h->keep_alive = 0;
	h->head = 0;
	switch (h->req.refuse) {
	case 413:
		metrics_refusal("http-max-body");
		http_error(h, 413, "body_too_large", "the body is over %u bytes (http-max-body)",
		           conn_config(h->c)->http_max_body);
		break;
	case 414:
		metrics_refusal("http-max-request-line");
		http_error(h, 414, "uri_too_long",
		           "the request line is over %u bytes (http-max-request-line)",
		           conn_config(h->c)->http_max_request_line);
		break;
	case 431:
		metrics_refusal("http-max-header-bytes");
		http_error(h, 431, "headers_too_large",
		           "the headers are over %u bytes (http-max-header-bytes)",
		           conn_config(h->c)->http_max_header_bytes);
		break;
	default:
		http_error(h, 400, "bad_request", "not an HTTP/1.1 request: %s",
		           http_errno_description(err));
		break;
	}
	http_end(h);
}

/* Keep the last bytes of the request line: the Debian build of
 * http_parser is lenient about the version's letters ("HTTQ/1.1"), so
 * dispatch() checks them itself. */
static void
version_tail(struct hreq *q, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && !q->line_done; i++) {
		if (p[i] == '\n') {
			q->line_done = 1;
			break;
		}
		if (q->vlen == sizeof(q->vtail)) {
			memmove(q->vtail, q->vtail + 1, sizeof(q->vtail) - 1);
			q->vlen--;
		}
		q->vtail[q->vlen++] = (char)p[i];
	}
}

/* The request line ended " HTTP/1.x" (CR optional). */
static int
version_ok(const struct hreq *q)
{
	size_t n = q->vlen;

	if (n && q->vtail[n - 1] == '\r')
		n--;
	return n >= 9 && memcmp(q->vtail + n - 9, " HTTP/1.", 8) == 0 &&
	       (q->vtail[n - 1] == '0' || q->vtail[n - 1] == '1');
}

static void
dispatch(struct hconn *h)
{
	unsigned max = conn_config(h->c)->http_max_requests;
	const char *url = h->req.buf ? h->req.buf + h->req.url.off : "";
	size_t n = h->req.url.len;
	const char *q = memchr(url, '?', n);

	h->method = (uint8_t)h->parser.method;
	h->head = h->method == HTTP_HEAD;
	h->keep_alive = (uint8_t)http_should_keep_alive(&h->parser);
	/* Section 1: an HTTP/1.0 request is answered and closed, even one
	 * that asks for keep-alive. */
	if (h->parser.http_minor == 0)
		h->keep_alive = 0;
	if (max && h->nreq + 1 >= max)
		h->keep_alive = 0;
	ev_timer_stop(h->c->set->loop, &h->timer);
	cors(h);
	if (h->parser.http_major != 1 || !version_ok(&h->req)) {
		h->head = 0;
		h->keep_alive = 0;
		http_error(h, 400, "bad_request", "HTTP/%u.%u is not spoken here: HTTP/1.1 is",
		           h->parser.http_major, h->parser.http_minor);
		http_end(h);
		return;
	}
	if (n == 0 || url[0] != '/') {
		/* The connection stays open: a HEAD's answer has no body. */
		http_error(h, 400, "bad_request", "the request target must be a path");
		http_end(h);
		return;
	}
	api_dispatch(h, url, q ? (size_t)(q - url) : n);
}

/* The 101 is queued: the connection becomes a WebSocket.  A client must
 * wait for the 101 before it sends frames (RFC 6455 4.1): bytes after the
 * request mean it did not, and it is closed. */
static void
upgrade(struct hconn *h, int more)
{
	struct conn *c = h->c;

	if (more) {
		log_info("conn %s: bytes after a WebSocket upgrade request", conn_peer(c));
		conn_close(c, REASON_PROTOCOL_ERROR);
		return;
	}
	ev_timer_stop(c->set->loop, &h->timer);
	ws_upgrade(c, (enum ws_mode)h->upgrade_mode, h->upgrade); /* ends h */
}

static size_t
http_input(struct conn *c, const uint8_t *p, size_t len)
{
	struct hconn *h = c->fe_state;
	size_t used = 0;

	while (used < len) {
		enum http_errno err;
		size_t n;

		if (h->phase == HP_STREAMING)
			return len; /* a stream's client has nothing more to say */
		if (h->phase == HP_WAITING || h->phase == HP_CLOSING || !conn_ready(c))
			return used;
		if (h->phase == HP_IDLE) {
			/* Line ends between requests are no request (RFC 9112
			 * 2.2): they start no request clock, and version_tail()
			 * must not take one for the end of the request line. */
			while (used < len && (p[used] == '\r' || p[used] == '\n'))
				used++;
			if (used == len)
				return used;
			if (!conn_spend(c))
				return used;
			h->phase = HP_READING;
			arm(h, conn_config(c)->handshake_timeout);
		}
		n = http_parser_execute(&h->parser, &settings, (const char *)p + used, len - used);
		version_tail(&h->req, p + used, n);
		used += n;
		err = HTTP_PARSER_ERRNO(&h->parser);
		if (err == HPE_PAUSED) {
			http_parser_pause(&h->parser, 0);
			dispatch(h);
			if (h->upgrade) {
				upgrade(h, used < len);
				return len;
			}
			continue;
		}
		if (err != HPE_OK) {
			refuse_request(h, err);
			return len;
		}
	}
	return used;
}

static size_t
http_input_max(const struct config *cfg)
{
	(void)cfg;
	return 0; /* it keeps its own buffer: the connection holds no partial request */
}

static void
http_start(struct conn *c)
{
	const struct config *cfg = conn_config(c);
	struct hconn *h = slab_zalloc(sizeof(*h));

	h->c = c;
	c->fe_state = h;
	http_parser_init(&h->parser, HTTP_REQUEST);
	h->parser.data = h;
	h->req.cur = -1;
	ev_timer_init(&h->timer, timer_cb, 0, 0);
	h->timer.data = h;
	h->serial = ++serials;
	h->loopback = (uint8_t)conn_local_is_loopback(c);
	h->keep_alive = 1;
	/* Streams and long polls are silent for long: let the kernel find
	 * vanished peers. */
	conn_keepalive(c, cfg->ping_interval, cfg->ping_timeout);
	h->phase = HP_IDLE;
	arm(h, cfg->handshake_timeout);
}

static void
http_bye(struct conn *c, uint8_t reason)
{
	struct hconn *h = c->fe_state;
	char line[96];

	if (h && h->phase == HP_STREAMING) {
		int n = snprintf(line, sizeof(line), "event: bye\ndata: {\"reason\":\"%s\"}\n\n",
		                 render_reason(reason));

		http_write(h, line, (size_t)n);
	}
}

static void
http_refuse(struct conn *c, enum conn_refusal why, const char *text)
{
	if (why == REFUSE_HANDSHAKE)
		turn_away(c, 408, "request_timeout", text, NULL, REASON_HANDSHAKE_TIMEOUT);
	else
		turn_away(c, 503, "server_full", text, "Retry-After: 5\r\n", REASON_PROTOCOL_ERROR);
}

static void
http_broken(struct conn *c, const uint8_t *p, size_t len)
{
	(void)p;
	(void)len;
	turn_away(c, 400, "bad_request", "this port speaks HTTP/1.1", NULL, REASON_PROTOCOL_ERROR);
}

static void
http_conn_end(struct conn *c)
{
	struct hconn *h = c->fe_state;

	if (h == NULL)
		return; /* turned away before it started */
	hsess_unwait(h);
	ev_timer_stop(c->set->loop, &h->timer);
	req_free(&h->req);
	slab_free(h, sizeof(*h));
	c->fe_state = NULL;
}

static int
http_more(struct conn *c)
{
	struct hconn *h = c->fe_state;

	return h ? api_more(h) : 0;
}

static void
http_attach(struct conn_set *set)
{
	settings.on_message_begin = on_begin;
	settings.on_url = on_url;
	settings.on_header_field = on_field;
	settings.on_header_value = on_value;
	settings.on_headers_complete = on_headers;
	settings.on_body = on_body;
	settings.on_message_complete = on_complete;
	hsess_attach(set);
}

struct frontend http_frontend = {
        .name = "http",
        .detect = http_detect,
        .input_max = http_input_max,
        .start = http_start,
        .input = http_input,
        .bye = http_bye,
        .refuse = http_refuse,
        .broken = http_broken,
        .end = http_conn_end,
        .more = http_more,
        .cleanup = render_cleanup,
        .sessionless = 1,
        .attach = http_attach,
        .detach = hsess_detach,
};
