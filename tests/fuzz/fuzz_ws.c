/*
 * Fuzz target: chatd over WebSocket (docs/websocket.md): the opening
 * handshake of upgrade.c, conn_switch() to the WebSocket transport of
 * ws.c (wslay) and the frames it reads and writes, and behind it the two
 * subprotocols, chatd.json (wsjson.c) and chatd.framed (the framed
 * protocol in binary messages).  As in fuzz_http.c, each input gets a
 * fresh server (server_new() without listeners, its signal watchers
 * stopped) in this process; its clients are socketpairs handed to
 * conn_new() as a listener pinned to HTTP hands them.
 *
 * The first byte of the input holds options (a newline after it is
 * skipped):
 *
 *   bits 0 1 2  client 0, 1, 2 speaks chatd.framed (else chatd.json)
 *   bit 3       client 0's first part goes out in the same write as its
 *               upgrade request: it gets no 101, only a hang-up
 *   bit 4       the offer names an unknown subprotocol first and the
 *               other one of chatd's last; Connection lists keep-alive too
 *   bit 5       the request has an Origin: the server's own
 *   bit 6       the server's ends of the sockets have a small send
 *               buffer: a client that does not read soon fills its queue
 *   bit 7       the server's writes are cut short at random points, as
 *               TCP may cut them (a socketpair cuts them only where its
 *               buffer is full, thousands of bytes in): writev() below
 *               stands in for libc's.  CHATD_FUZZ_WS_WHOLE_WRITES in the
 *               environment turns this off, to fuzz on past a fault that
 *               cut writes show
 *
 * A client connects when a part is first sent to it, sends a correct
 * upgrade request and must get a 101 with the Sec-WebSocket-Accept of RFC
 * 6455 4.2.2 and its subprotocol.  The rest of the input is what the
 * clients send, raw WebSocket bytes, cut by commands "@@X" (a newline
 * right after one is skipped).  A command that builds frames takes the
 * part after it, up to the next command:
 *
 *   @@0 @@1 @@2  what follows goes to client N (connected when needed,
 *                again when the server has closed it)
 *   @@x @@b      the part as one masked text / binary frame
 *   @@X @@B      the part as a text / binary message in fragments of
 *                random sizes, with a masked ping between each two
 *   @@p @@o      the part (its first 125 bytes) as a ping / a pong
 *   @@c          a close frame: the part's leading digits are its code
 *                and the rest its reason; without digits the part is the
 *                payload (its first 125 bytes)
 *   @@q @@h      the client closes its socket; shuts down its writing
 *   @@w @@r      the client stops reading (the server may drop it as a
 *                slow consumer); reads again
 *   @@t          time passes: every WebSocket connection's clock moves
 *                on by TIMEOUT (the handshake timeout, ping interval and
 *                ping timeout) and its timer runs: no hello yet, a
 *                handshake timeout; silent, a ping; silent since the
 *                @@t before, a ping timeout
 *   @@s          the server shuts down, as at SIGTERM; the rest of the
 *                input is ignored
 *
 * and any other X: nothing but waiting for the server to settle, as every
 * command does first.  What a part makes goes out in writes of sizes
 * drawn from a seed hashed from the input, the loop turning once after
 * each.
 *
 * Invariants, on everything a client receives after its 101: well-formed
 * server frames (RFC 6455 5.2): unmasked, RSV bits 0, a known opcode, the
 * length in its shortest form, control frames FIN and at most 125 bytes,
 * continuations only inside a fragmented message.  On chatd.json only
 * text messages, each valid UTF-8 and a JSON object (no duplicate keys)
 * with a "type" section 4 lists, an error's code one it names; on
 * chatd.framed only binary messages, whose payloads together are framed
 * protocol server frames (wire_decode()).  A pong carries the payload of
 * a ping the client sent, later than the last one answered: never a pong
 * that was not asked for.  A close frame is the last frame; its payload is
 * empty, or a code of section 5 (1000 1001 1002 1003 1007 1008 1009) or
 * one the client sent in a close, and a UTF-8 reason.  After a bye
 * (chatd.json) or a BYE or 1xx ERROR (chatd.framed) only the close
 * follows (and pongs still owed), with the code section 5 gives (1000
 * after a BYE, 1001 at shutdown, 1008 after a handshake timeout, 1002
 * after another 1xx); the server hangs up after its close.  Once the
 * server has settled, nothing is left half sent (no part of a frame, a
 * message or a framed frame) unless the client stopped reading (a slow
 * consumer is cut off) or shut down its end.  When the clients hang up,
 * every connection is torn down (none is left; ASan checks for leaks).
 * The server never crashes (ASan, UBSan) and always settles.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "chatd/wire.h"
#include "fuzz.h"
#include "net/conn.h"
#include "net/frontend.h"
#include "net/ipcount.h"
#include "net/server.h"
#include "net/ws.h"
#include "proto/http/http.h"
#include "proto/registry.h"
#include "util/config.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCLIENT   3
#define QUIET     3     /* idle loop turns that mean the server has settled */
#define MAX_TURNS 20000 /* a server that has not settled by then never will */
#define HEAD_MAX  1024  /* a 101 longer than this is wrong */
#define READ_BITS 11    /* writes of 1 to 1024 bytes */
#define FRAG_BITS 6     /* @@X and @@B: fragments of 1 to 32 bytes */
#define TIMEOUT   10.0  /* handshake timeout, ping interval, ping timeout (s) */
#define SMALL_BUF 4096  /* the server's send buffer with OPT_SMALL_BUF */
#define MAX_CODES 16    /* close codes a client's closes may carry, remembered */
#define CTL_MAX   125   /* a control frame's payload (RFC 6455 5.5) */
#define MAX_IOV   1024  /* slices in one writev(), at most (Linux) */

enum {
	OPT_FRAMED = 0x01, /* shifted left by the client's number */
	OPT_EAGER = 0x08,
	OPT_OFFER = 0x10,
	OPT_ORIGIN = 0x20,
	OPT_SMALL_BUF = 0x40,
	OPT_SHORT_WRITES = 0x80,
};

/* Opcodes (RFC 6455 5.2), independent of ws.h. */
enum {
	OP_CONT = 0x0,
	OP_TEXT = 0x1,
	OP_BINARY = 0x2,
	OP_CLOSE = 0x8,
	OP_PING = 0x9,
	OP_PONG = 0xa,
};

/* A growing byte buffer. */
struct buf {
	uint8_t *p;
	size_t n, cap;
};

/* A client's frames as it sent them, read without judging them: the
 * server stops at the first bad one, so a ping counted here may go
 * unanswered, but the server cannot answer one not counted. */
struct sent {
	uint8_t head[14]; /* the header of the frame being sent */
	size_t hn;        /* its bytes so far */
	size_t need;      /* its length, once known (2 before) */
	uint64_t left;    /* payload bytes still to come */
	uint64_t len;     /* the frame's payload length */
	uint8_t ctl[CTL_MAX];
};

/* A ping's payload, as the client sent it. */
struct ping {
	uint8_t n;
	uint8_t p[CTL_MAX];
};

struct client {
	int fd;             /* our end of the socketpair, -1 when not connected */
	ino_t srv_ino;      /* the server's end: finds its connection */
	int framed;         /* speaks chatd.framed, else chatd.json */
	int eager;          /* its upgrade request came with frames: no 101 */
	int upgraded;       /* the 101 came: the rest is frames */
	int eof;            /* the server hung up */
	int wr_shut;        /* we shut down writing */
	int deaf;           /* not reading now (@@w) */
	int was_deaf;       /* ... at some time: a slow consumer may be cut off */
	int closed;         /* the server's close came: nothing may follow */
	int ended;          /* a bye, BYE or 1xx ERROR came: only the close may follow */
	unsigned want;      /* its code, when known */
	char accept[29];    /* the Sec-WebSocket-Accept due */
	struct buf in;      /* received, not checked yet */
	uint8_t frag_op;    /* the opcode of a fragmented message under way, 0 if none */
	struct buf msg;     /* its payload so far */
	struct buf fstream; /* chatd.framed: the binary payloads, not yet a whole frame */
	/* What it sent. */
	struct sent tx;
	struct ping *pings; /* every ping's payload, in order */
	size_t npings, pingcap;
	size_t answered;           /* pings up to this one may no longer be answered */
	unsigned codes[MAX_CODES]; /* of its closes */
	size_t ncodes;
	int short_close; /* it sent a close without a code */
};

static struct {
	struct server *srv;
	struct client cl[NCLIENT];
	uint8_t opts;
	int first; /* client 0's first connection is yet to come */
	uint64_t seed;
	int down;         /* @@s: the server is shutting down */
	int trace;        /* CHATD_FUZZ_TRACE set: show what goes each way */
	int whole_writes; /* CHATD_FUZZ_WS_WHOLE_WRITES set: ignore OPT_SHORT_WRITES */
} F;

static uint8_t readbuf[65536];

/* --- bytes --- */

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *nb;

		while (cap < b->n + n)
			cap *= 2;
		nb = realloc(b->p, cap);
		FUZZ_CHECK(nb != NULL);
		b->p = nb;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void
buf_drop(struct buf *b, size_t used)
{
	FUZZ_CHECK(used <= b->n);
	if (used && used < b->n)
		memmove(b->p, b->p + used, b->n - used);
	b->n -= used;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Well-formed UTF-8 (RFC 3629): no overlong forms, surrogates, or code
 * points past U+10FFFF. */
static int
utf8_ok(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		size_t k, j;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1, cp = c & 0x1fu;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, cp = c & 0x0fu;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, cp = c & 0x07u;
		else
			return 0;
		if (n - i <= k)
			return 0;
		for (j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + j] & 0x3fu);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

static uint64_t
be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* --- the server --- */

/* fd is the server's end of a client's socket. */
static int
server_fd(int fd)
{
	const struct conn *c;

	LIST_FOREACH(c, &F.srv->conns.all, link)
	if (c->fd == fd)
		return 1;
	return 0;
}

/* chatd's transports write with writev(): this one stands in for libc's.
 * With OPT_SHORT_WRITES, a write of the server's to a client is cut short
 * at a random point (a byte at least), as a TCP socket may cut it. */
ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	static struct iovec v[MAX_IOV];
	size_t total = 0, keep;
	int i, k;

	if (!F.srv || !(F.opts & OPT_SHORT_WRITES) || F.whole_writes || cnt <= 0 || cnt > MAX_IOV ||
	    !server_fd(fd))
		return syscall(SYS_writev, fd, iov, cnt);
	for (i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	keep = total > 1 && next_rand(&F.seed) % 2 ? 1 + next_rand(&F.seed) % (total - 1) : total;
	for (i = k = 0; i < cnt && keep > 0; i++, k++) {
		v[k] = iov[i];
		if (v[k].iov_len > keep)
			v[k].iov_len = keep;
		keep -= v[k].iov_len;
	}
	return syscall(SYS_writev, fd, v, k);
}

/* The defaults, with limits small enough for short inputs to meet. */
static void
fuzz_config(struct config *cfg)
{
	config_defaults(cfg);
	cfg->nlisten = 0;    /* clients come through conn_new() */
	cfg->flood_rate = 0; /* no waits in real time */
	cfg->log_level = F.trace ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR;
	cfg->history = 8;
	cfg->max_text = 64; /* chatd.json's max_message: 6 * 64 + 1024 = 1408 */
	cfg->max_frame = 512;
	cfg->max_rooms = 3;
	cfg->max_members = 3;
	cfg->max_rooms_total = 4;
	cfg->max_queue = 8192;
	/* Only @@t moves time on, by this much. */
	cfg->handshake_timeout = cfg->ping_interval = cfg->ping_timeout = TIMEOUT;
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

/* The connection is a client's that does not read: its output may wait. */
static int
deaf_conn(const struct conn *c)
{
	struct stat st;
	unsigned i;

	if (fstat(c->fd, &st) != 0)
		return 0;
	for (i = 0; i < NCLIENT; i++)
		if (F.cl[i].fd >= 0 && F.cl[i].deaf && F.cl[i].srv_ino == st.st_ino)
			return 1;
	return 0;
}

/* Nothing is queued to flush, held over or waiting to be torn down, but
 * output to a client that does not read. */
static int
quiet(void)
{
	const struct conn_set *set = &F.srv->conns;
	const struct conn *c;

	if (!LIST_EMPTY(&set->pending) || !LIST_EMPTY(&set->backlog) || !SLIST_EMPTY(&set->reap))
		return 0;
	LIST_FOREACH(c, &set->all, link)
	if (c->writing && !deaf_conn(c))
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

static void settled(void);

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
	settled();
}

/* --- what a client receives --- */

/* Sec-WebSocket-Accept for a key (RFC 6455 4.2.2), computed here. */
static void
accept_for(const char *key, char out[29])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char text[64];
	unsigned mdlen = 0;
	int n = snprintf(text, sizeof(text), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);

	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(text));
	FUZZ_CHECK(EVP_Digest(text, (size_t)n, md, &mdlen, EVP_sha1(), NULL) == 1);
	FUZZ_CHECK(mdlen == 20);
	FUZZ_CHECK(EVP_EncodeBlock((unsigned char *)out, md, 20) == 28);
}

static const char *
subprotocol(const struct client *cl)
{
	return cl->framed ? "chatd.framed" : "chatd.json";
}

/* One header line of the 101, p[0, n) without its CRLF; seen counts the
 * four a 101 must have. */
static void
header_101(const struct client *cl, const char *p, size_t n, unsigned *seen)
{
	static const char *const names[] = {"Upgrade", "Connection", "Sec-WebSocket-Accept",
	                                    "Sec-WebSocket-Protocol"};
	const char *colon = memchr(p, ':', n);
	const char *want[4];
	size_t nl, i;

	want[0] = "websocket";
	want[1] = "Upgrade";
	want[2] = cl->accept;
	want[3] = subprotocol(cl);
	FUZZ_CHECK(colon != NULL && colon + 1 < p + n && colon[1] == ' ');
	nl = (size_t)(colon - p);
	FUZZ_CHECK(!(nl == 14 && strncasecmp(p, "Content-Length", nl) == 0));
	FUZZ_CHECK(!(nl == 17 && strncasecmp(p, "Transfer-Encoding", nl) == 0));
	for (i = 0; i < 4; i++) {
		if (strlen(names[i]) != nl || strncasecmp(p, names[i], nl) != 0)
			continue;
		FUZZ_CHECK(!(*seen & (1u << i)));
		FUZZ_CHECK(n - nl - 2 == strlen(want[i]) &&
		           memcmp(colon + 2, want[i], n - nl - 2) == 0);
		*seen |= 1u << i;
	}
}

/* The answer to the upgrade request: a 101 with the key and the
 * subprotocol asked for, nothing else; what follows it is frames. */
static void
check_101(struct client *cl)
{
	static const char status[] = "HTTP/1.1 101 Switching Protocols\r\n";
	const char *p = (const char *)cl->in.p;
	const char *blank = memmem(p, cl->in.n, "\r\n\r\n", 4);
	size_t i, hn;
	unsigned seen = 0;

	if (blank == NULL) {
		FUZZ_CHECK(cl->in.n < HEAD_MAX);
		return;
	}
	hn = (size_t)(blank - p) + 4;
	if (hn < sizeof(status) - 1 || memcmp(p, status, sizeof(status) - 1) != 0)
		fprintf(stderr, "not a 101:\n%.*s\n", (int)hn, p);
	FUZZ_CHECK(hn >= sizeof(status) - 1 && memcmp(p, status, sizeof(status) - 1) == 0);
	for (i = sizeof(status) - 1; i + 2 < hn;) {
		const char *eol = memmem(p + i, hn - i, "\r\n", 2);

		header_101(cl, p + i, (size_t)(eol - (p + i)), &seen);
		i = (size_t)(eol - p) + 2;
	}
	FUZZ_CHECK(seen == 15);
	buf_drop(&cl->in, hn);
	cl->upgraded = 1;
}

/* The close codes docs/websocket.md section 5 says chatd sends. */
static int
code_documented(unsigned code)
{
	return code == 1000 || code == 1001 || code == 1002 || code == 1003 || code == 1007 ||
	       code == 1008 || code == 1009;
}

/* A pong: the payload of a ping the client sent after the last one
 * answered. */
static void
check_pong(struct client *cl, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = cl->answered; i < cl->npings; i++)
		if (cl->pings[i].n == n && memcmp(cl->pings[i].p, p, n) == 0)
			break;
	if (i == cl->npings)
		fprintf(stderr,
		        "a pong of %zu bytes that no ping asked for (%zu pings, %zu past)\n", n,
		        cl->npings, cl->answered);
	FUZZ_CHECK(i < cl->npings);
	cl->answered = i + 1;
}

static void
check_close(struct client *cl, const uint8_t *p, size_t n)
{
	unsigned code;
	size_t i;
	int echo = 0;

	FUZZ_CHECK(n != 1);
	cl->closed = 1;
	if (n == 0) {
		/* Only the echo of a close without a code has none. */
		FUZZ_CHECK(cl->short_close && cl->want == 0);
		return;
	}
	code = (unsigned)be(p, 2);
	for (i = 0; i < cl->ncodes; i++)
		echo |= cl->codes[i] == code;
	if (!code_documented(code) && !echo)
		fprintf(stderr, "close code %u: not one chatd sends, nor the client's\n", code);
	FUZZ_CHECK(code_documented(code) || echo);
	if (cl->want && code != cl->want)
		fprintf(stderr, "close code %u after the end, where %u is due\n", code, cl->want);
	FUZZ_CHECK(cl->want == 0 || code == cl->want);
	FUZZ_CHECK(utf8_ok(p + 2, n - 2));
}

/* The "type" values of docs/websocket.md section 4. */
static int
type_documented(const char *t)
{
	static const char *const types[] = {
	        "welcome", "error", "joined", "message", "history_end", "ack",
	        "pong",    "bye",   "rooms",  "users",   "names",       "direct",
	        "join",    "part",  "quit",   "nick",    "drop",        "summary",
	};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(t, types[i]) == 0)
			return 1;
	return 0;
}

/* An error's code: the HTTP API's (docs/http.md section 11) and the
 * socket's own (docs/websocket.md section 4). */
static int
error_documented(const char *code)
{
	static const char *const codes[] = {
	        /* http.md section 11, as the core refuses */
	        "nick_invalid",
	        "room_invalid",
	        "text_invalid",
	        "text_too_long",
	        "not_in_room",
	        "too_many_rooms",
	        "room_full",
	        "no_such_room",
	        "no_such_user",
	        "nick_taken",
	        "already_in_room",
	        "server_full",
	        "room_limit",
	        /* the socket's own */
	        "bad_json",
	        "bad_request",
	        "unknown_type",
	        "not_registered",
	        "handshake_timeout",
	        /* a second hello's, which websocket.md section 4 does not list */
	        "already_registered",
	};
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

/* A whole text message (chatd.json). */
static void
check_json(struct client *cl, const uint8_t *p, size_t n)
{
	json_error_t err;
	json_t *o, *v;
	const char *type;

	FUZZ_CHECK(utf8_ok(p, n));
	o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	if (o == NULL)
		fprintf(stderr, "not JSON: %s: %.*s\n", err.text, (int)n, (const char *)p);
	FUZZ_CHECK(o != NULL && json_is_object(o));
	v = json_object_get(o, "type");
	FUZZ_CHECK(json_is_string(v));
	type = json_string_value(v);
	if (!type_documented(type))
		fprintf(stderr, "type %s is not in section 4\n", type);
	FUZZ_CHECK(type_documented(type));
	if (strcmp(type, "error") == 0) {
		const char *code = json_string_value(json_object_get(o, "code"));

		FUZZ_CHECK(code != NULL && json_is_string(json_object_get(o, "message")));
		if (!error_documented(code))
			fprintf(stderr, "error code %s is not documented\n", code);
		FUZZ_CHECK(error_documented(code));
		if (strcmp(code, "handshake_timeout") == 0) {
			cl->ended = 1;
			cl->want = 1008;
		}
	} else if (strcmp(type, "bye") == 0) {
		const char *reason = json_string_value(json_object_get(o, "reason"));

		FUZZ_CHECK(reason != NULL);
		cl->ended = 1;
		cl->want = strcmp(reason, "shutdown") == 0 ? 1001 : 1000;
	}
	json_decref(o);
}

/* The server frame types of docs/protocol.md 4.2, and PING and PONG. */
static int
server_type(uint8_t t)
{
	return t == WIRE_PING || t == WIRE_PONG || (t >= WIRE_WELCOME && t <= WIRE_SUMMARY);
}

/* chatd.framed: the framed frames whole in what the binary messages
 * carried so far. */
static void
check_framed(struct client *cl)
{
	size_t pos = 0;

	for (;;) {
		struct wire_frame f;
		struct wire_msg m;
		size_t used = 0;
		enum wire_status st = wire_frame_next(cl->fstream.p + pos, cl->fstream.n - pos,
		                                      WIRE_FRAME_MAX_HARD, &f, &used);

		FUZZ_CHECK(st != WIRE_TOO_LARGE);
		if (st == WIRE_NEED_MORE)
			break;
		FUZZ_CHECK(!cl->ended);
		FUZZ_CHECK(server_type(f.type));
		FUZZ_CHECK(wire_decode(f.type, f.payload, f.len, &m) == 0);
		if (f.type == WIRE_BYE) {
			cl->ended = 1;
			cl->want = m.u.bye.reason == WIRE_R_SHUTDOWN ? 1001 : 1000;
		} else if (f.type == WIRE_ERROR) {
			uint16_t code = m.u.error.code;

			FUZZ_CHECK((code >= WIRE_E_BAD_PREFACE && code <= WIRE_E_SERVER_FULL) ||
			           (code >= WIRE_E_UNKNOWN_TYPE && code <= WIRE_E_ROOM_LIMIT));
			if (WIRE_ERROR_IS_FATAL(code)) {
				cl->ended = 1;
				cl->want = code == WIRE_E_HANDSHAKE_TIMEOUT ? 1008 : 1002;
			}
		}
		pos += used;
	}
	buf_drop(&cl->fstream, pos);
}

/* A data frame's payload: the messages it ends are checked. */
static void
data_frame(struct client *cl, uint8_t op, int fin, const uint8_t *p, size_t n)
{
	if (op == OP_CONT) {
		FUZZ_CHECK(cl->frag_op != 0);
		op = cl->frag_op;
	} else {
		FUZZ_CHECK(cl->frag_op == 0);
	}
	cl->frag_op = fin ? 0 : op;
	FUZZ_CHECK(op == (cl->framed ? OP_BINARY : OP_TEXT));
	if (cl->framed) {
		buf_add(&cl->fstream, p, n);
		check_framed(cl);
		return;
	}
	FUZZ_CHECK(!cl->ended);
	buf_add(&cl->msg, p, n);
	if (fin) {
		check_json(cl, cl->msg.p, cl->msg.n);
		cl->msg.n = 0;
	}
}

static void
server_frame(struct client *cl, uint8_t op, int fin, const uint8_t *p, size_t n)
{
	if (F.trace)
		fprintf(stderr, "[client %d receives opcode %u%s, %zu bytes]\n%.*s\n",
		        (int)(cl - F.cl), op, fin ? "" : " (not FIN)", n,
		        op == OP_BINARY ? 0 : (int)n, (const char *)p);
	switch (op) {
	case OP_CONT:
	case OP_TEXT:
	case OP_BINARY:
		data_frame(cl, op, fin, p, n);
		break;
	case OP_PING:
		FUZZ_CHECK(!cl->ended);
		break;
	case OP_PONG:
		/* Between a bye and the close, a pong still owed may come. */
		check_pong(cl, p, n);
		break;
	default:
		/* A close: whatever was under way is whole first. */
		FUZZ_CHECK(cl->frag_op == 0 && cl->fstream.n == 0);
		check_close(cl, p, n);
		break;
	}
}

/* The frames whole in what the client received. */
static void
check_frames(struct client *cl)
{
	size_t pos = 0;

	while (cl->in.n - pos >= 2) {
		const uint8_t *p = cl->in.p + pos;
		size_t avail = cl->in.n - pos, hn = 2;
		uint8_t op = p[0] & 0x0f;
		int fin = (p[0] & 0x80) != 0;
		uint64_t len = p[1] & 0x7f;

		FUZZ_CHECK(!cl->closed);        /* nothing after the close */
		FUZZ_CHECK((p[0] & 0x70) == 0); /* RSV */
		FUZZ_CHECK((p[1] & 0x80) == 0); /* servers do not mask */
		FUZZ_CHECK(op <= OP_BINARY || (op >= OP_CLOSE && op <= OP_PONG));
		if (len == 126) {
			if (avail < 4)
				break;
			len = be(p + 2, 2);
			hn = 4;
			FUZZ_CHECK(len >= 126); /* the shortest form (5.2) */
		} else if (len == 127) {
			if (avail < 10)
				break;
			len = be(p + 2, 8);
			hn = 10;
			FUZZ_CHECK(len >= 65536 && len >> 63 == 0);
		}
		if (op >= OP_CLOSE)
			FUZZ_CHECK(fin && len <= CTL_MAX);
		if (avail - hn < len)
			break;
		server_frame(cl, op, fin, p + hn, (size_t)len);
		pos += hn + (size_t)len;
	}
	buf_drop(&cl->in, pos);
}

/* Read what the server wrote to a client; the bytes read. */
static size_t
drain(struct client *cl)
{
	size_t got = 0;

	while (cl->fd >= 0 && !cl->eof && !cl->deaf) {
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
		/* A client that sent frames before the 101 gets no answer. */
		FUZZ_CHECK(!cl->eager);
		buf_add(&cl->in, readbuf, (size_t)n);
		got += (size_t)n;
	}
	if (got && !cl->upgraded)
		check_101(cl);
	if (got && cl->upgraded)
		check_frames(cl);
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

/* The server has settled: all it meant to write has come to the clients
 * that read. */
static void
settled(void)
{
	unsigned i;

	for (i = 0; i < NCLIENT; i++) {
		const struct client *cl = &F.cl[i];

		/* A slow consumer is cut off wherever its output was, and so is
		 * a client that hung up its end (its EOF ends the connection). */
		int cut = cl->was_deaf || cl->wr_shut;

		if (cl->fd < 0 || cl->deaf || !cl->upgraded)
			continue;
		/* No half frame, message or framed frame. */
		if (!cut)
			FUZZ_CHECK(cl->in.n == 0 && cl->frag_op == 0 && cl->fstream.n == 0);
		/* The close follows the end; the hang-up follows the close. */
		if (cl->ended && !cut)
			FUZZ_CHECK(cl->closed);
		if (cl->closed)
			FUZZ_CHECK(cl->eof);
	}
}

/* --- what a client sends --- */

/* A size of 1 to 2^(bits-1) bytes, at most left: fuzz.h's next_read(),
 * with its two draws in a fixed order (there the compiler picks it, and
 * an input could be cut otherwise in another build). */
static size_t
chunk(unsigned bits, size_t left)
{
	uint64_t r = next_rand(&F.seed);
	size_t k = 1 + (size_t)(r % ((uint64_t)1 << (next_rand(&F.seed) % bits)));

	return k < left ? k : left;
}

/* A frame the client sent is whole: remember a ping's payload and a
 * close's code. */
static void
sent_frame(struct client *cl)
{
	const struct sent *t = &cl->tx;
	uint8_t op = t->head[0] & 0x0f;

	if (op == OP_PING && t->len <= CTL_MAX) {
		if (cl->npings == cl->pingcap) {
			size_t cap = cl->pingcap ? 2 * cl->pingcap : 16;
			struct ping *np = realloc(cl->pings, cap * sizeof(*np));

			FUZZ_CHECK(np != NULL);
			cl->pings = np;
			cl->pingcap = cap;
		}
		cl->pings[cl->npings].n = (uint8_t)t->len;
		memcpy(cl->pings[cl->npings].p, t->ctl, (size_t)t->len);
		cl->npings++;
	} else if (op == OP_CLOSE && t->len < 2) {
		cl->short_close = 1;
	} else if (op == OP_CLOSE && t->len <= CTL_MAX && cl->ncodes < MAX_CODES) {
		cl->codes[cl->ncodes++] = (unsigned)be(t->ctl, 2);
	}
}

/* One byte of what a client sent. */
static void
sent_byte(struct client *cl, uint8_t b)
{
	struct sent *t = &cl->tx;

	if (t->hn < t->need) {
		t->head[t->hn++] = b;
		if (t->hn == 2) {
			uint8_t l7 = t->head[1] & 0x7f;

			t->need = 2 + (t->head[1] & 0x80 ? 4 : 0);
			if (l7 == 126)
				t->need += 2;
			else if (l7 == 127)
				t->need += 8;
		}
		if (t->hn < t->need)
			return;
		t->len = t->head[1] & 0x7f;
		if (t->len >= 126)
			t->len = be(t->head + 2, t->len == 126 ? 2 : 8);
		t->left = t->len;
	} else {
		uint64_t i = t->len - t->left;
		const uint8_t *mask = t->head + t->need - 4;

		if ((t->head[0] & 0x0f) >= OP_CLOSE && t->len <= CTL_MAX)
			t->ctl[i] = (uint8_t)(b ^ (t->head[1] & 0x80 ? mask[i % 4] : 0));
		t->left--;
	}
	if (t->left)
		return;
	sent_frame(cl);
	t->hn = 0;
	t->need = 2;
}

/* A whole frame's payload, skipped at once. */
static void
sent(struct client *cl, const uint8_t *p, size_t n)
{
	struct sent *t = &cl->tx;

	while (n > 0) {
		uint8_t op = t->head[0] & 0x0f;

		if (t->hn == t->need && t->left > 1 && !(op >= OP_CLOSE && t->len <= CTL_MAX)) {
			size_t k = t->left - 1 < n ? (size_t)(t->left - 1) : n;

			t->left -= k;
			p += k;
			n -= k;
			continue;
		}
		sent_byte(cl, *p++);
		n--;
	}
}

/* Send n bytes, as far as the server takes them, and note them. */
static void
client_send(struct client *cl, const uint8_t *p, size_t n)
{
	unsigned stuck = 0;

	if (F.trace)
		fprintf(stderr, "[client %d sends %zu]\n", (int)(cl - F.cl), n);
	while (n > 0) {
		ssize_t k = send(cl->fd, p, n, MSG_NOSIGNAL);

		if (k < 0) {
			/* The server reads no more or has hung up: the rest
			 * is lost. */
			if (errno != EAGAIN || ++stuck > 8)
				return;
			(void)turn();
			continue;
		}
		if (cl->upgraded)
			sent(cl, p, (size_t)k);
		p += k;
		n -= (size_t)k;
		stuck = 0;
	}
}

static void client_close(struct client *cl);

/* Connect client i: the server adopts the other end as accept() would;
 * then the upgrade request, with extra bytes in the same write. */
static void
client_connect(unsigned i, const uint8_t *extra, size_t extra_len)
{
	struct client *cl = &F.cl[i];
	unsigned char raw[16];
	char key[25], req[512];
	int sv[2], len;
	struct stat st;
	size_t k;
	uint8_t *all;

	memset(cl, 0, sizeof(*cl));
	cl->tx.need = 2;
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	cl->fd = sv[0];
	if (F.opts & OPT_SMALL_BUF) {
		int small = SMALL_BUF;

		(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	}
	FUZZ_CHECK(fstat(sv[1], &st) == 0);
	cl->srv_ino = st.st_ino;
	cl->framed = (F.opts >> i) & OPT_FRAMED;
	for (k = 0; k < sizeof(raw); k++)
		raw[k] = (unsigned char)next_rand(&F.seed);
	FUZZ_CHECK(EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw)) == 24);
	accept_for(key, cl->accept);
	(void)conn_new(&F.srv->conns, sv[1], (uint16_t)(40000 + i), &http_frontend,
	               ipcount_get("192.0.2.1"), REFUSE_NONE);
	len = snprintf(req, sizeof(req),
	               "GET /ws HTTP/1.1\r\nHost: chatd.test\r\nUpgrade: websocket\r\n"
	               "Connection: %s\r\nSec-WebSocket-Key: %s\r\n"
	               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s%s%s\r\n%s\r\n",
	               F.opts & OPT_OFFER ? "keep-alive, Upgrade" : "Upgrade", key,
	               F.opts & OPT_OFFER ? "x-chat, " : "", subprotocol(cl),
	               F.opts & OPT_OFFER ? (cl->framed ? ", chatd.json" : ", chatd.framed") : "",
	               F.opts & OPT_ORIGIN ? "Origin: http://chatd.test\r\n" : "");
	FUZZ_CHECK(len > 0 && (size_t)len < sizeof(req));
	if (F.trace)
		fprintf(stderr, "[client %u upgrades]\n%s", i, req);
	all = malloc((size_t)len + extra_len);
	FUZZ_CHECK(all != NULL);
	memcpy(all, req, (size_t)len);
	if (extra_len)
		memcpy(all + len, extra, extra_len);
	cl->eager = extra_len > 0;
	client_send(cl, all, (size_t)len + extra_len);
	free(all);
	settle();
	if (cl->eager) {
		/* RFC 6455 4.1: frames wait for the 101; chatd hangs up. */
		FUZZ_CHECK(cl->eof && cl->in.n == 0);
	} else {
		FUZZ_CHECK(cl->upgraded);
	}
}

/* Send bytes to client i, in writes of random sizes. */
static void
send_bytes(unsigned i, const uint8_t *p, size_t n)
{
	struct client *cl = &F.cl[i];
	size_t off = 0;

	if (cl->fd >= 0 && (cl->eof || cl->eager))
		client_close(cl);
	if (cl->fd < 0) {
		int eager = i == 0 && F.first && (F.opts & OPT_EAGER);

		if (i == 0)
			F.first = 0;
		client_connect(i, p, eager ? n : 0);
		if (eager)
			return;
	}
	if (cl->wr_shut)
		return;
	while (off < n) {
		size_t k = chunk(READ_BITS, n - off);

		client_send(cl, p + off, k);
		off += k;
		(void)turn();
	}
}

/* A masked frame into out. */
static void
put_frame(struct buf *out, int fin, uint8_t op, const uint8_t *p, size_t n)
{
	uint8_t h[14], mask[4];
	size_t hn = 2, i;
	uint64_t r = next_rand(&F.seed);

	h[0] = (uint8_t)((fin ? 0x80 : 0) | op);
	if (n < 126) {
		h[1] = (uint8_t)(0x80 | n);
	} else if (n < 65536) {
		h[1] = 0x80 | 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hn = 4;
	} else {
		h[1] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		hn = 10;
	}
	for (i = 0; i < 4; i++)
		mask[i] = h[hn + i] = (uint8_t)(r >> (8 * i));
	buf_add(out, h, hn + 4);
	buf_add(out, p, n);
	for (i = 0; i < n; i++)
		out->p[out->n - n + i] ^= mask[i % 4];
}

/* A message in fragments of random sizes, a ping between each two. */
static void
put_fragments(struct buf *out, uint8_t op, const uint8_t *p, size_t n)
{
	size_t off = 0;
	uint8_t k = 0;

	do {
		size_t len = chunk(FRAG_BITS, n - off);
		int fin = off + len == n;

		put_frame(out, fin, off ? OP_CONT : op, p + off, len);
		off += len;
		if (!fin) {
			k++;
			put_frame(out, 1, OP_PING, &k, 1);
		}
	} while (off < n);
}

/* A close frame from "CODE reason", or the part as its payload. */
static void
put_close(struct buf *out, const uint8_t *p, size_t n)
{
	uint8_t payload[CTL_MAX];
	size_t i = 0, len;
	unsigned code = 0;

	while (i < n && i < 6 && p[i] >= '0' && p[i] <= '9')
		code = code * 10 + (unsigned)(p[i++] - '0');
	if (i == 0) {
		put_frame(out, 1, OP_CLOSE, p, n < CTL_MAX ? n : CTL_MAX);
		return;
	}
	payload[0] = (uint8_t)(code >> 8);
	payload[1] = (uint8_t)code;
	len = n - i < CTL_MAX - 2 ? n - i : CTL_MAX - 2;
	memcpy(payload + 2, p + i, len);
	put_frame(out, 1, OP_CLOSE, payload, 2 + len);
}

/* The part after command x (0: raw bytes) for client i. */
static void
send_part(unsigned i, uint8_t x, const uint8_t *p, size_t n)
{
	struct buf out = {0};

	switch (x) {
	case 'x':
		put_frame(&out, 1, OP_TEXT, p, n);
		break;
	case 'b':
		put_frame(&out, 1, OP_BINARY, p, n);
		break;
	case 'X':
		put_fragments(&out, OP_TEXT, p, n);
		break;
	case 'B':
		put_fragments(&out, OP_BINARY, p, n);
		break;
	case 'p':
		put_frame(&out, 1, OP_PING, p, n < CTL_MAX ? n : CTL_MAX);
		break;
	case 'o':
		put_frame(&out, 1, OP_PONG, p, n < CTL_MAX ? n : CTL_MAX);
		break;
	case 'c':
		put_close(&out, p, n);
		break;
	default:
		if (n)
			send_bytes(i, p, n);
		return;
	}
	send_bytes(i, out.p, out.n);
	buf_free(&out);
}

/* The client is done: check all it received, and hang up. */
static void
client_close(struct client *cl)
{
	if (cl->fd < 0)
		return;
	cl->deaf = 0;
	settle();
	if (F.trace && cl->upgraded && cl->eof && !cl->closed)
		fprintf(stderr, "[client %d: the server hung up without a close frame]\n",
		        (int)(cl - F.cl));
	close(cl->fd);
	buf_free(&cl->in);
	buf_free(&cl->msg);
	buf_free(&cl->fstream);
	free(cl->pings);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

/* --- the input --- */

/* Every WebSocket connection's clock moves on by TIMEOUT, and its timer
 * runs. */
static void
time_passes(void)
{
	struct conn *c;

	LIST_FOREACH(c, &F.srv->conns.all, link)
	{
		if (c->tp != &ws_transport || c->state > CONN_OPEN)
			continue;
		c->created -= TIMEOUT;
		c->last_rx -= TIMEOUT;
		ev_timer_stop(F.srv->loop, &c->timer);
		ev_feed_event(F.srv->loop, &c->timer, EV_TIMER);
	}
}

/* Run command x after a part for client cur; the client next parts go
 * to. */
static unsigned
command(unsigned cur, uint8_t x)
{
	struct client *cl = &F.cl[cur];

	settle();
	switch (x) {
	case '0':
	case '1':
	case '2':
		return (unsigned)(x - '0');
	case 'q':
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
	case 'w':
		if (cl->fd >= 0)
			cl->deaf = cl->was_deaf = 1;
		break;
	case 'r':
		cl->deaf = 0;
		settle();
		break;
	case 't':
		time_passes();
		settle();
		break;
	case 's':
		server_shutdown(F.srv);
		F.down = 1;
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
	char accept[29];

	if (done)
		return;
	done = 1;
	F.trace = getenv("CHATD_FUZZ_TRACE") != NULL;
	F.whole_writes = getenv("CHATD_FUZZ_WS_WHOLE_WRITES") != NULL;
	proto_register_all();
	log_init(F.trace ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR);
	/* As main() does: a peer gone costs a write error, not the process. */
	signal(SIGPIPE, SIG_IGN);
	/* The example of RFC 6455 1.3: the harness's own key arithmetic. */
	accept_for("dGhlIHNhbXBsZSBub25jZQ==", accept);
	FUZZ_CHECK(strcmp(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
}

/* Hang up every client: every connection must be torn down; then shut
 * the server down. */
static void
finish(void)
{
	unsigned i;

	for (i = 0; i < NCLIENT; i++)
		client_close(&F.cl[i]);
	settle();
	if (F.srv->conns.n)
		fprintf(stderr, "%zu connections left after every client hung up\n",
		        F.srv->conns.n);
	FUZZ_CHECK(F.srv->conns.n == 0);
	server_shutdown(F.srv);
	settle();
	server_free(F.srv);
	F.srv = NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i = 0, start;
	unsigned cur = 0;
	uint8_t kind = 0;

	setup_once();
	memset(F.cl, 0, sizeof(F.cl));
	for (i = 0; i < NCLIENT; i++)
		F.cl[i].fd = -1;
	F.opts = size ? data[0] : 0;
	F.first = 1;
	F.down = 0;
	F.seed = 0xcbf29ce484222325ull;
	for (i = 0; i < size; i++)
		F.seed = (F.seed ^ data[i]) * 0x100000001b3ull;
	F.seed |= 1;
	server_up();

	/* The options, and a newline after them. */
	start = i = size > 1 && data[1] == '\n' ? 2 : size ? 1 : 0;
	while (i < size && !F.down) {
		const uint8_t *at = i + 2 < size ? memmem(data + i, size - i - 1, "@@", 2) : NULL;

		if (at == NULL)
			break;
		i = (size_t)(at - data);
		send_part(cur, kind, data + start, i - start);
		kind = data[i + 2];
		cur = command(cur, kind);
		i += 3;
		if (i < size && data[i] == '\n')
			i++;
		start = i;
	}
	if (!F.down)
		send_part(cur, kind, data + start, size - start);
	finish();
	return 0;
}
