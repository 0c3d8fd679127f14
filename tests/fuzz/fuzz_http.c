/*
 * Fuzz target: the HTTP front end as a client meets it (docs/http.md):
 * http_parser's callbacks, the limits and keep-alive of http.c, the route
 * table of api.c, JSON bodies, sessions, long polls and event streams.
 * Each input gets a fresh server (server_new() without listeners, its
 * signal watchers stopped) in this process; its clients are socketpairs
 * handed to conn_new() as a listener pinned to HTTP hands them.  Limits
 * are small (fuzz_config() below) so that short inputs reach them.
 *
 * The input is what up to four clients send, raw bytes, cut by commands
 * "@@X" (a newline right after one is skipped):
 *
 *   @@0 .. @@3   what follows goes to client N (connected when needed,
 *                again when the server has closed it)
 *   @@c @@h      the client closes its socket; shuts down its writing
 *   @@p @@P @@a  http-public-read yes, no, auto (the clients are not on
 *                loopback, so auto is no)
 *   @@o @@O @@n  http-cors-origins: two origins, "*", none
 *   @@f @@F      the next connection is over max-conns, max-conns-per-ip
 *   @@T          timeouts armed from now on are short (handshake, the
 *                session's, long polls' http-max-wait)
 *   @@t          time passes: each connection's timer runs as if due;
 *                after @@T, 4 ms pass for real first (once an input),
 *                for the sessions' sweep
 *
 * and any other X: nothing but waiting for the server to settle, as every
 * command does first.  A part goes out in writes of sizes drawn from a
 * seed hashed from the input, the loop turning once after each.  In a
 * part, "TOKEN" stands for the token of the last session an answer
 * created and "TOKEN0".."TOKEN9" for the n-th one (32 zeros while there
 * is none), so that an input can sign in, then join, send and read.  At
 * the end the server shuts down, as at SIGTERM, and every connection must
 * be gone.
 *
 * Invariants, on everything a client receives: every answer starts
 * "HTTP/1.1 " and a status of sections 5 and 11 with its reason phrase;
 * its head has well-formed header lines and no Transfer-Encoding; an
 * answer but an event stream or a 204 has a Content-Length, and exactly
 * that many body bytes come before the next answer, none after a HEAD
 * (unless the connection closes after it); a JSON body is a JSON object
 * (strict UTF-8, no duplicate keys), and an error's is exactly
 * {"error": {"code", "message"}} with a code section 11 gives for its
 * status; 401 carries WWW-Authenticate, 405 Allow, 503 Retry-After, and
 * 408, 411, 413, 414 and 431 close the connection; an HTTP/1.0 request
 * or one saying Connection: close is answered with Connection: close
 * (but for an event stream, which ends with the connection anyway),
 * nothing follows such an answer, and the server then closes; a client
 * never gets more answers than it began requests (counted by a parser of
 * our own); an event stream is events of known names whose data lines
 * are JSON objects, in increasing id order, nothing after "bye".  A 101
 * (a WebSocket, docs/websocket.md) ends what is checked on its
 * connection.  The server never crashes (ASan, UBSan) and always settles.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <http_parser.h>
#include <jansson.h>

#include "fuzz.h"
#include "net/conn.h"
#include "net/frontend.h"
#include "net/ipcount.h"
#include "net/server.h"
#include "proto/http/http.h"
#include "proto/registry.h"
#include "util/config.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCLIENT   4
#define NTOKEN    10
#define TOKEN_LEN 32
#define MAX_REQ   64    /* requests remembered per connection */
#define QUIET     3     /* idle loop turns that mean the server has settled */
#define MAX_TURNS 20000 /* a server that has not settled by then never will */
#define HEAD_MAX  1536  /* http.c's struct hbuf */
#define READ_BITS 11    /* writes of 1 to 1024 bytes */
#define SHORT     0.002 /* the timeouts after @@T, seconds */
#define SLEEPS    1     /* @@t that sleep, per input */

/* What a client knows of a request it sent. */
struct req {
	uint8_t known; /* its headers were parsed */
	uint8_t head;  /* HEAD: no body in the answer */
	uint8_t close; /* HTTP/1.0 or Connection: close: the answer closes */
};

struct client {
	int fd;           /* our end of the socketpair, -1 when not connected */
	int wr_shut;      /* we shut down writing: the server may drop output */
	int eof;          /* the server closed */
	int last;         /* an answer said Connection: close: nothing may follow */
	int streaming;    /* the rest is an event stream */
	int upgraded;     /* the rest is another protocol (101) */
	int bye;          /* the stream said bye: nothing may follow */
	uint64_t last_id; /* the stream's last event id */
	/* What it sent, as a parser of our own reads it. */
	http_parser parser;
	int in_msg;    /* a request has begun and not ended */
	int dead;      /* the parser stopped: what follows is not counted */
	int uncounted; /* it stopped without an error: no count holds */
	unsigned nreq; /* requests begun */
	struct req req[MAX_REQ];
	/* What it received and has not checked yet. */
	uint8_t *in;
	size_t inlen, incap;
	unsigned nans; /* answers checked */
};

static struct {
	struct server *srv;
	struct client cl[NCLIENT];
	char tokens[NTOKEN][TOKEN_LEN + 1];
	unsigned ntok;
	char latest[TOKEN_LEN + 1];
	uint64_t seed;
	enum conn_refusal refuse; /* for the next connection */
	unsigned sleeps;          /* @@t that slept so far */
	int short_timeouts;       /* @@T was given */
	int trace;                /* CHATD_FUZZ_TRACE set: show what goes each way */
} F;

static http_parser_settings req_settings;
static uint8_t readbuf[65536];

/* --- the server --- */

/* The defaults, with limits small enough for short inputs to meet. */
static void
fuzz_config(struct config *cfg)
{
	config_defaults(cfg);
	cfg->nlisten = 0;    /* clients come through conn_new() */
	cfg->flood_rate = 0; /* no waits in real time */
	cfg->log_level = F.trace ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR;
	cfg->history = 8;
	cfg->max_text = 256;
	cfg->max_rooms = 3;
	cfg->max_members = 3;
	cfg->max_rooms_total = 4;
	cfg->http_max_request_line = 256;
	cfg->http_max_header_bytes = 512;
	cfg->http_max_body = 512;
	cfg->http_max_requests = 12;
	cfg->http_mailbox = 6;
	cfg->http_mailbox_bytes = 2048;
	cfg->http_max_sessions = 5;
	cfg->http_max_sessions_per_ip = 3;
}

/* A fresh server for an input: no listeners, no signal watchers. */
static void
server_up(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction saved[3];
	struct config cfg;
	size_t i;

	fuzz_config(&cfg);
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], NULL, &saved[i]);
	F.srv = server_new(&cfg, NULL);
	FUZZ_CHECK(F.srv != NULL);
	/* The process's signals stay libFuzzer's. */
	ev_signal_stop(F.srv->loop, &F.srv->sigterm);
	ev_signal_stop(F.srv->loop, &F.srv->sigint);
	ev_signal_stop(F.srv->loop, &F.srv->sighup);
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &saved[i], NULL);
}

/* Nothing is queued to flush, held over or waiting to be torn down. */
static int
quiet(void)
{
	const struct conn_set *set = &F.srv->conns;
	const struct conn *c;

	if (!LIST_EMPTY(&set->pending) || !LIST_EMPTY(&set->backlog) || !SLIST_EMPTY(&set->reap))
		return 0;
	LIST_FOREACH(c, &set->all, link)
	if (c->writing)
		return 0;
	return 1;
}

static size_t drain_all(void);

/* One loop turn, without sleeping, and read what it wrote. */
static size_t
turn(void)
{
	ev_run(F.srv->loop, EVRUN_NOWAIT);
	return drain_all();
}

/* Turn until nothing moves. */
static void
settle(void)
{
	unsigned n, idle = 0;

	for (n = 0; n < MAX_TURNS && idle < QUIET; n++) {
		if (turn() || !quiet())
			idle = 0;
		else
			idle++;
	}
	FUZZ_CHECK(idle >= QUIET);
}

/* --- what a client sends --- */

/* Our parser's callbacks: a request begins, its headers are read, it
 * ends. */
static int
req_begin(http_parser *p)
{
	struct client *cl = p->data;

	cl->in_msg = 1;
	cl->nreq++;
	return 0;
}

static int
req_headers(http_parser *p)
{
	struct client *cl = p->data;
	struct req *r = cl->nreq - 1 < MAX_REQ ? &cl->req[cl->nreq - 1] : NULL;

	if (r) {
		r->known = 1;
		r->head = p->method == HTTP_HEAD;
		/* Section 1: HTTP/1.0, or Connection: close, is answered and closed. */
		r->close = p->http_major != 1 || p->http_minor == 0 || !http_should_keep_alive(p);
	}
	return 0;
}

static int
req_complete(http_parser *p)
{
	((struct client *)p->data)->in_msg = 0;
	return 0;
}

/* Count the requests in what was sent. */
static void
count_requests(struct client *cl, const uint8_t *p, size_t n)
{
	while (n > 0 && !cl->dead) {
		size_t k = http_parser_execute(&cl->parser, &req_settings, (const char *)p, n);

		if (HTTP_PARSER_ERRNO(&cl->parser) != HPE_OK) {
			/* Bytes that are no request still earn one refusal. */
			if (!cl->in_msg)
				cl->nreq++;
			cl->dead = 1;
			return;
		}
		if (k == 0) {
			cl->dead = cl->uncounted = 1;
			return;
		}
		p += k;
		n -= k;
	}
}

/* Connect client i: the server adopts the other end as accept() would. */
static void
client_connect(unsigned i)
{
	struct client *cl = &F.cl[i];
	int sv[2];
	struct ipcount *ipc;

	memset(cl, 0, sizeof(*cl));
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	cl->fd = sv[0];
	http_parser_init(&cl->parser, HTTP_REQUEST);
	cl->parser.data = cl;
	/* Two addresses, two clients each, for the per-address limits. */
	ipc = ipcount_get(i < 2 ? "192.0.2.1" : "192.0.2.2");
	(void)conn_new(&F.srv->conns, sv[1], (uint16_t)(40000 + i), &http_frontend, ipc, F.refuse);
	F.refuse = REFUSE_NONE;
}

/* Send one write's worth, and count the requests in what went out. */
static void
client_send(struct client *cl, const uint8_t *p, size_t n)
{
	unsigned stuck = 0;

	if (F.trace)
		fprintf(stderr, "[client %d sends %zu]\n%.*s\n", (int)(cl - F.cl), n, (int)n,
		        (const char *)p);
	while (n > 0) {
		ssize_t k = send(cl->fd, p, n, MSG_NOSIGNAL);

		if (k < 0) {
			/* The server reads no more (a long poll, a full buffer)
			 * or has hung up: the rest is lost. */
			if (errno != EAGAIN || ++stuck > 8)
				return;
			(void)turn();
			continue;
		}
		count_requests(cl, p, (size_t)k);
		p += k;
		n -= (size_t)k;
		stuck = 0;
	}
}

/* p[0, n) with each TOKEN placeholder replaced; out has 7 * n bytes. */
static size_t
substitute(const uint8_t *p, size_t n, uint8_t *out)
{
	size_t i = 0, k = 0;

	while (i < n) {
		const char *tok;

		if (n - i < 5 || memcmp(p + i, "TOKEN", 5) != 0) {
			out[k++] = p[i++];
			continue;
		}
		i += 5;
		tok = F.ntok ? F.latest : NULL;
		if (i < n && p[i] >= '0' && p[i] <= '9') {
			unsigned which = (unsigned)(p[i++] - '0');

			tok = which < F.ntok ? F.tokens[which] : NULL;
		}
		if (tok)
			memcpy(out + k, tok, TOKEN_LEN);
		else
			memset(out + k, '0', TOKEN_LEN);
		k += TOKEN_LEN;
	}
	return k;
}

static void client_close(struct client *cl);

/* Send a part of the input to client i, in writes of random sizes. */
static void
send_part(unsigned i, const uint8_t *p, size_t n)
{
	struct client *cl = &F.cl[i];
	uint8_t *buf;
	size_t len, off = 0;

	if (n == 0)
		return;
	if (cl->fd >= 0 && cl->eof)
		client_close(cl);
	if (cl->fd < 0)
		client_connect(i);
	if (cl->wr_shut)
		return;
	buf = malloc(7 * n);
	FUZZ_CHECK(buf != NULL);
	len = substitute(p, n, buf);
	while (off < len) {
		size_t k = next_read(&F.seed, READ_BITS, len - off);

		client_send(cl, buf + off, k);
		off += k;
		(void)turn();
	}
	free(buf);
}

/* --- what a client receives --- */

static const struct {
	int status;
	const char *code;
} codes[] = {
        {400, "bad_request"},
        {400, "bad_json"},
        {400, "nick_invalid"},
        {400, "room_invalid"},
        {400, "text_invalid"},
        {400, "text_too_long"},
        {401, "unauthorized"},
        {403, "not_in_room"},
        {403, "too_many_rooms"},
        {403, "room_full"},
        {404, "not_found"},
        {404, "no_such_room"},
        {404, "no_such_user"},
        {405, "method_not_allowed"},
        {408, "request_timeout"},
        {409, "nick_taken"},
        {409, "already_in_room"},
        {411, "length_required"},
        {413, "body_too_large"},
        {414, "uri_too_long"},
        {415, "unsupported_media_type"},
        {429, "too_many_sessions"},
        {431, "headers_too_large"},
        {503, "server_full"},
        {503, "room_limit"},
        /* A refused WebSocket upgrade (docs/websocket.md section 1). */
        {400, "no_subprotocol"},
        {403, "origin_not_allowed"},
        {426, "websocket_version"},
};

/* Statuses docs/http.md gives: 200, 201 and 204 of section 5, and the
 * errors of section 11; and 101, a WebSocket upgrade. */
static int
documented(int status)
{
	size_t i;

	if (status == 101 || status == 200 || status == 201 || status == 204)
		return 1;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].status == status)
			return 1;
	return 0;
}

/* Section 11 gives code with status. */
static int
code_of(int status, const char *code)
{
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].status == status && strcmp(codes[i].code, code) == 0)
			return 1;
	return 0;
}

/* The head of an answer, as far as the checks need it. */
struct answer {
	int status;
	int has_len;
	size_t len;
	char ctype[64];
	int close;       /* Connection: close */
	int upgrade;     /* Connection: Upgrade */
	int retry_after; /* Retry-After: 5 */
	int www_auth;    /* WWW-Authenticate: Bearer */
	int allow;       /* Allow: naming OPTIONS */
};

/* A header name as chatd writes them: letters and dashes. */
static int
is_name(const char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') || p[i] == '-'))
			return 0;
	return 1;
}

/* One header line, p[0, n) without its CRLF. */
static void
header_line(struct answer *a, const char *p, size_t n)
{
	const char *colon = memchr(p, ':', n);
	size_t nl, vl;
	const char *v;
	char num[24];
	char *end;

	FUZZ_CHECK(colon != NULL);
	nl = (size_t)(colon - p);
	FUZZ_CHECK(is_name(p, nl));
	FUZZ_CHECK(nl + 1 < n && colon[1] == ' ');
	v = colon + 2;
	vl = n - nl - 2;
	FUZZ_CHECK(memchr(v, '\r', vl) == NULL && memchr(v, '\n', vl) == NULL);
	if (nl == 14 && strncasecmp(p, "Content-Length", nl) == 0) {
		FUZZ_CHECK(!a->has_len && vl > 0 && vl < sizeof(num));
		memcpy(num, v, vl);
		num[vl] = '\0';
		FUZZ_CHECK(num[0] >= '0' && num[0] <= '9');
		errno = 0;
		a->len = (size_t)strtoull(num, &end, 10);
		FUZZ_CHECK(*end == '\0' && errno == 0);
		a->has_len = 1;
	} else if (nl == 12 && strncasecmp(p, "Content-Type", nl) == 0) {
		FUZZ_CHECK(a->ctype[0] == '\0' && vl > 0 && vl < sizeof(a->ctype));
		memcpy(a->ctype, v, vl);
		a->ctype[vl] = '\0';
	} else if (nl == 10 && strncasecmp(p, "Connection", nl) == 0) {
		a->close = vl == 5 && memcmp(v, "close", 5) == 0;
		a->upgrade = vl == 7 && memcmp(v, "Upgrade", 7) == 0;
		FUZZ_CHECK(a->close || a->upgrade);
	} else if (nl == 11 && strncasecmp(p, "Retry-After", nl) == 0) {
		a->retry_after = vl == 1 && v[0] == '5';
	} else if (nl == 16 && strncasecmp(p, "WWW-Authenticate", nl) == 0) {
		a->www_auth = vl == 6 && memcmp(v, "Bearer", 6) == 0;
	} else if (nl == 5 && strncasecmp(p, "Allow", nl) == 0) {
		a->allow = vl >= 7 && memcmp(v + vl - 7, "OPTIONS", 7) == 0;
	} else {
		FUZZ_CHECK(!(nl == 17 && strncasecmp(p, "Transfer-Encoding", nl) == 0));
	}
}

/* The head p[0, n), its blank line included. */
static void
parse_head(const char *p, size_t n, struct answer *a)
{
	size_t i;

	memset(a, 0, sizeof(*a));
	FUZZ_CHECK(n <= HEAD_MAX);
	FUZZ_CHECK(n >= 17 && memcmp(p, "HTTP/1.1 ", 9) == 0);
	for (i = 9; i < 12; i++)
		FUZZ_CHECK(p[i] >= '0' && p[i] <= '9');
	FUZZ_CHECK(p[12] == ' ');
	a->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	FUZZ_CHECK(documented(a->status));
	i = 13;
	while (i + 2 <= n) {
		const char *eol = memmem(p + i, n - i, "\r\n", 2);
		size_t len;

		FUZZ_CHECK(eol != NULL);
		len = (size_t)(eol - (p + i));
		if (i == 13) {
			/* The reason phrase: one of http.c's, not its fallback. */
			FUZZ_CHECK(len > 0 && !(len == 7 && memcmp(p + i, "Unknown", 7) == 0));
		} else if (len == 0) {
			FUZZ_CHECK(i + 2 == n);
			return;
		} else {
			header_line(a, p + i, len);
		}
		i += len + 2;
	}
	FUZZ_CHECK(0); /* no blank line */
}

/* A session's token, from its 201: 32 hex digits. */
static void
save_token(const char *t)
{
	size_t i;

	for (i = 0; i < TOKEN_LEN; i++)
		FUZZ_CHECK((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f'));
	memcpy(F.latest, t, TOKEN_LEN + 1);
	if (F.ntok < NTOKEN)
		memcpy(F.tokens[F.ntok++], t, TOKEN_LEN + 1);
}

/* A JSON body of an answer with a status. */
static void
check_json(int status, const char *p, size_t n)
{
	json_error_t err;
	json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &err);

	if (o == NULL)
		fprintf(stderr, "answer %d: not JSON: %s: %.*s\n", status, err.text, (int)n, p);
	FUZZ_CHECK(o != NULL && json_is_object(o));
	if (status >= 400) {
		json_t *e = json_object_get(o, "error");
		json_t *code = json_object_get(e, "code");

		FUZZ_CHECK(json_object_size(o) == 1 && json_is_object(e) &&
		           json_object_size(e) == 2);
		FUZZ_CHECK(json_is_string(code) && json_is_string(json_object_get(e, "message")));
		if (!code_of(status, json_string_value(code)))
			fprintf(stderr, "answer %d: code %s is not in section 11\n", status,
			        json_string_value(code));
		FUZZ_CHECK(code_of(status, json_string_value(code)));
	} else {
		json_t *t = json_object_get(o, "token");

		FUZZ_CHECK(json_object_get(o, "error") == NULL);
		if (status == 201 && json_is_string(t) && json_string_length(t) == TOKEN_LEN)
			save_token(json_string_value(t));
	}
	json_decref(o);
}

/* One event of a stream, p[0, n) without its blank line. */
static void
stream_event(struct client *cl, const char *p, size_t n)
{
	const char *end = p + n;
	char event[16] = "";
	unsigned long long id = 0;
	int has_id = 0;
	json_t *data = NULL;

	FUZZ_CHECK(!cl->bye);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
		size_t len = (size_t)(eol - p);

		if (len >= 1 && p[0] == ':') {
			/* a comment: ": keep-alive" */
		} else if (len > 4 && memcmp(p, "id: ", 4) == 0) {
			char num[24], *stop;

			FUZZ_CHECK(!has_id && len - 4 < sizeof(num) && p[4] >= '0' && p[4] <= '9');
			memcpy(num, p + 4, len - 4);
			num[len - 4] = '\0';
			errno = 0;
			id = strtoull(num, &stop, 10);
			FUZZ_CHECK(*stop == '\0' && errno == 0);
			has_id = 1;
		} else if (len > 7 && memcmp(p, "event: ", 7) == 0) {
			FUZZ_CHECK(event[0] == '\0' && len - 7 < sizeof(event));
			memcpy(event, p + 7, len - 7);
			event[len - 7] = '\0';
		} else if (len > 6 && memcmp(p, "data: ", 6) == 0) {
			json_error_t err;

			FUZZ_CHECK(data == NULL);
			data = json_loadb(p + 6, len - 6, JSON_REJECT_DUPLICATES, &err);
			FUZZ_CHECK(data != NULL && json_is_object(data));
		} else {
			FUZZ_CHECK(0); /* no such field */
		}
		p = eol + (nl ? 1 : 0);
	}
	if (event[0] == '\0') {
		FUZZ_CHECK(data == NULL && !has_id);
		return;
	}
	FUZZ_CHECK(data != NULL);
	if (strcmp(event, "message") == 0 || strcmp(event, "direct") == 0 ||
	    strcmp(event, "presence") == 0) {
		json_t *type = json_object_get(data, "type");

		FUZZ_CHECK(has_id && id > cl->last_id);
		FUZZ_CHECK(json_integer_value(json_object_get(data, "id")) == (json_int_t)id);
		FUZZ_CHECK(json_is_string(type));
		if (strcmp(event, "presence") != 0)
			FUZZ_CHECK(strcmp(json_string_value(type), event) == 0);
		cl->last_id = id;
	} else if (strcmp(event, "overflow") == 0) {
		FUZZ_CHECK(!has_id && json_is_integer(json_object_get(data, "dropped")) &&
		           json_is_array(json_object_get(data, "rooms")));
	} else {
		FUZZ_CHECK(strcmp(event, "bye") == 0 && !has_id);
		FUZZ_CHECK(json_is_string(json_object_get(data, "reason")));
		cl->bye = 1;
	}
	json_decref(data);
}

/* Check the complete answers received; final: the client is done, and
 * nothing may be left half-received (unless it hung up first). */
static void
check_answers(struct client *cl, int final)
{
	size_t pos = 0;

	if (cl->upgraded)
		pos = cl->inlen; /* WebSocket frames: not this target's */
	while (pos < cl->inlen) {
		const char *p = (const char *)cl->in + pos;
		size_t left = cl->inlen - pos, hn, body, k;
		const char *blank;
		const struct req *r;
		struct answer a;

		if (cl->streaming) {
			blank = memmem(p, left, "\n\n", 2);
			if (blank == NULL)
				break;
			stream_event(cl, p, (size_t)(blank - p));
			pos += (size_t)(blank - p) + 2;
			continue;
		}
		FUZZ_CHECK(!cl->last); /* nothing after an answer that closes */
		if (left < 9) {
			FUZZ_CHECK(memcmp(p, "HTTP/1.1 ", left) == 0);
			break;
		}
		FUZZ_CHECK(memcmp(p, "HTTP/1.1 ", 9) == 0);
		blank = memmem(p, left, "\r\n\r\n", 4);
		if (blank == NULL) {
			FUZZ_CHECK(left < HEAD_MAX);
			break;
		}
		hn = (size_t)(blank - p) + 4;
		parse_head(p, hn, &a);
		/* An answer to each request begun, and no more; a connection
		 * that opens with a line end (our parser waits for a request
		 * line) is refused by detection: one 400, closed. */
		FUZZ_CHECK(cl->uncounted || cl->nans < cl->nreq ||
		           (cl->nreq == 0 && cl->nans == 0 && a.status == 400 && a.close));
		r = cl->nans < MAX_REQ && cl->req[cl->nans].known ? &cl->req[cl->nans] : NULL;
		if (a.status == 401)
			FUZZ_CHECK(a.www_auth);
		if (a.status == 405)
			FUZZ_CHECK(a.allow);
		if (a.status == 503)
			FUZZ_CHECK(a.retry_after);
		if (a.status == 408 || a.status == 411 || a.status == 413 || a.status == 414 ||
		    a.status == 431)
			FUZZ_CHECK(a.close);
		FUZZ_CHECK(a.upgrade == (a.status == 101));
		if (a.status == 101) {
			/* The connection speaks another protocol from here. */
			FUZZ_CHECK(!a.has_len && !a.close);
			cl->upgraded = 1;
			cl->nans++;
			pos = cl->inlen;
			break;
		}
		if (strcmp(a.ctype, "text/event-stream") == 0) {
			/* Delimited by the connection's end, whatever was asked;
			 * a HEAD's is the head alone. */
			FUZZ_CHECK(a.status == 200 && !a.has_len);
			cl->streaming = !(r && r->head);
			FUZZ_CHECK(!cl->streaming || !a.close);
			cl->last = a.close;
			cl->nans++;
			pos += hn;
			continue;
		}
		if (r && r->close)
			FUZZ_CHECK(a.close);
		if (a.status == 204) {
			FUZZ_CHECK(!a.has_len);
			body = 0;
		} else {
			FUZZ_CHECK(a.has_len);
			body = a.len;
		}
		if (a.status >= 400)
			FUZZ_CHECK(strcmp(a.ctype, "application/json") == 0);
		if (r && r->head) {
			/* No body; one that closes may send it all the same. */
			k = left - hn;
			if (a.close && k == 0 && !final && !cl->eof)
				break; /* not known yet */
			if (!a.close || k == 0)
				body = 0;
		}
		if (left - hn < body)
			break;
		if (body && strcmp(a.ctype, "application/json") == 0)
			check_json(a.status, p + hn, body);
		else if (a.status >= 200 && a.status < 300 && a.status != 204 && body)
			FUZZ_CHECK(strncmp(a.ctype, "text/", 5) == 0); /* metrics, the web client */
		cl->nans++;
		cl->last = a.close;
		pos += hn + body;
	}
	if (final && !cl->wr_shut) {
		if (pos < cl->inlen)
			fprintf(stderr, "client %d: %zu bytes left half-received\n",
			        (int)(cl - F.cl), cl->inlen - pos);
		FUZZ_CHECK(pos == cl->inlen);
	}
	if (pos) {
		memmove(cl->in, cl->in + pos, cl->inlen - pos);
		cl->inlen -= pos;
	}
}

/* Read what the server wrote to a client; the bytes read. */
static size_t
drain(struct client *cl)
{
	size_t got = 0;

	while (cl->fd >= 0 && !cl->eof) {
		ssize_t n = read(cl->fd, readbuf, sizeof(readbuf));

		if (n < 0) {
			FUZZ_CHECK(errno == EAGAIN || errno == ECONNRESET);
			if (errno == ECONNRESET)
				cl->eof = 1;
			break;
		}
		if (n == 0) {
			cl->eof = 1;
			break;
		}
		if (F.trace)
			fprintf(stderr, "[client %d receives %zd]\n%.*s\n", (int)(cl - F.cl), n,
			        (int)n, (const char *)readbuf);
		if (cl->inlen + (size_t)n > cl->incap) {
			size_t cap = cl->incap ? cl->incap : 4096;
			uint8_t *b;

			while (cap < cl->inlen + (size_t)n)
				cap *= 2;
			b = realloc(cl->in, cap);
			FUZZ_CHECK(b != NULL);
			cl->in = b;
			cl->incap = cap;
		}
		memcpy(cl->in + cl->inlen, readbuf, (size_t)n);
		cl->inlen += (size_t)n;
		got += (size_t)n;
	}
	if (got)
		check_answers(cl, 0);
	return got;
}

/* Read every client; the bytes read. */
static size_t
drain_all(void)
{
	size_t got = 0;
	unsigned i;

	for (i = 0; i < NCLIENT; i++)
		got += drain(&F.cl[i]);
	return got;
}

/* The client is done: check all it received, and hang up. */
static void
client_close(struct client *cl)
{
	if (cl->fd < 0)
		return;
	(void)drain(cl);
	check_answers(cl, 1);
	/* An answer said Connection: close: the server closed after it. */
	if (cl->last)
		FUZZ_CHECK(cl->eof);
	close(cl->fd);
	free(cl->in);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

/* --- the input --- */

/* Run every HTTP connection's timer as if its time had come: the request
 * deadline (408), the idle keep-alive close, the long poll's deadline, the
 * event stream's keep-alive comment. */
static void
expire_all(void)
{
	struct conn *c;

	LIST_FOREACH(c, &F.srv->conns.all, link)
	{
		struct hconn *h = c->fe_state;

		if (c->fe != &http_frontend || h == NULL || !ev_is_active(&h->timer))
			continue;
		ev_timer_stop(F.srv->loop, &h->timer);
		ev_feed_event(F.srv->loop, &h->timer, EV_TIMER);
	}
}

/* Set a string of the configuration in force. */
static void
set_string(char *field, size_t cap, const char *value)
{
	snprintf(field, cap, "%s", value);
}

/* Run command x after a part for client cur; the client next parts go to. */
static unsigned
command(unsigned cur, uint8_t x)
{
	struct config *cfg = &F.srv->cfg;
	struct client *cl = &F.cl[cur];

	settle();
	switch (x) {
	case '0':
	case '1':
	case '2':
	case '3':
		return (unsigned)(x - '0');
	case 'c':
		client_close(cl);
		settle();
		break;
	case 'h':
		if (cl->fd >= 0 && !cl->wr_shut) {
			(void)shutdown(cl->fd, SHUT_WR);
			cl->wr_shut = 1;
			settle();
		}
		break;
	case 'p':
		set_string(cfg->http_public_read, sizeof(cfg->http_public_read), "yes");
		break;
	case 'P':
		set_string(cfg->http_public_read, sizeof(cfg->http_public_read), "no");
		break;
	case 'a':
		set_string(cfg->http_public_read, sizeof(cfg->http_public_read), "auto");
		break;
	case 'o':
		set_string(cfg->http_cors_origins, sizeof(cfg->http_cors_origins),
		           "https://chat.example.org, http://localhost:8080");
		break;
	case 'O':
		set_string(cfg->http_cors_origins, sizeof(cfg->http_cors_origins), "*");
		break;
	case 'n':
		set_string(cfg->http_cors_origins, sizeof(cfg->http_cors_origins), "");
		break;
	case 'f':
		F.refuse = REFUSE_FULL;
		break;
	case 'F':
		F.refuse = REFUSE_PER_IP;
		break;
	case 'T':
		/* What is armed from now on expires soon: requests (408),
		 * idle connections, sessions, long polls. */
		cfg->handshake_timeout = cfg->http_session_timeout = cfg->http_max_wait = SHORT;
		F.short_timeouts = 1;
		break;
	case 't':
		/* Time passes: after @@T really, so that the sessions' sweep
		 * runs too (it costs real time: a few times an input); then
		 * every connection's deadline is taken as come. */
		if (F.short_timeouts && F.sleeps < SLEEPS) {
			F.sleeps++;
			(void)usleep((useconds_t)(2 * SHORT * 1e6));
			settle();
		}
		expire_all();
		settle();
		break;
	default:
		break;
	}
	return cur;
}

/* What outlives inputs: the registry of front ends, logging, SIGPIPE. */
static void
setup_once(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	F.trace = getenv("CHATD_FUZZ_TRACE") != NULL;
	proto_register_all();
	log_init(F.trace ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR);
	/* As main() does: a peer gone costs a write error, not the process. */
	signal(SIGPIPE, SIG_IGN);
	req_settings.on_message_begin = req_begin;
	req_settings.on_headers_complete = req_headers;
	req_settings.on_message_complete = req_complete;
}

/* Shut the server down as SIGTERM does: every connection must go. */
static void
finish(void)
{
	unsigned i;

	settle();
	for (i = 0; i < NCLIENT; i++)
		if (F.cl[i].fd >= 0 && F.cl[i].last)
			FUZZ_CHECK(F.cl[i].eof);
	server_shutdown(F.srv);
	settle();
	FUZZ_CHECK(F.srv->conns.n == 0);
	for (i = 0; i < NCLIENT; i++) {
		if (F.cl[i].fd >= 0)
			(void)drain(&F.cl[i]);
		FUZZ_CHECK(F.cl[i].fd < 0 || F.cl[i].eof);
		client_close(&F.cl[i]);
	}
	server_free(F.srv);
	F.srv = NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i = 0, start = 0;
	unsigned cur = 0;

	setup_once();
	memset(F.cl, 0, sizeof(F.cl));
	for (i = 0; i < NCLIENT; i++)
		F.cl[i].fd = -1;
	F.ntok = 0;
	F.sleeps = 0;
	F.short_timeouts = 0;
	F.refuse = REFUSE_NONE;
	F.seed = 0xcbf29ce484222325ull;
	for (i = 0; i < size; i++)
		F.seed = (F.seed ^ data[i]) * 0x100000001b3ull;
	F.seed |= 1;
	server_up();

	for (i = 0; i < size;) {
		const uint8_t *at = i + 2 < size ? memmem(data + i, size - i - 1, "@@", 2) : NULL;

		if (at == NULL)
			break;
		i = (size_t)(at - data);
		send_part(cur, data + start, i - start);
		cur = command(cur, data[i + 2]);
		i += 3;
		if (i < size && data[i] == '\n')
			i++;
		start = i;
	}
	send_part(cur, data + start, size - start);
	finish();
	return 0;
}
