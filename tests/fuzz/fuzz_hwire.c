/*
 * Fuzz target: what chatd-swarm reads from chatd's HTTP port
 * (src/swarm/hwire.c) and the WebSocket layer above it
 * (src/swarm/wsconn.c).  The input is bytes as a server might send them;
 * every reader gets all of it:
 *
 *   - hwire_head() and hwire_header(): a response head;
 *   - hwire_event(): an event block of a Server-Sent Events stream;
 *   - hwire_ws_head(): the heads of a run of WebSocket frames, against a
 *     plain reading of RFC 6455 5.2;
 *   - wsconn_handshake(): the answer to an upgrade;
 *   - wsconn_unwrap() (chatd.framed) and wsconn_next() (chatd.json): the
 *     frames after it, whole and in reads of pseudo-random sizes (seeded
 *     from the input), each read in a block of exactly its size.
 *
 * Invariants: what is read lies inside the bytes given; a head or block
 * read whole is "more" at every shorter cut, and reads the same from its
 * own bytes; Content-Length is found by name exactly when the head has
 * it; a frame head agrees with the plain reading; every split of a stream
 * unwraps to the same payload and messages, and stops the same way; a
 * handshake answer read in pieces ends as when read whole; masking twice
 * gives the bytes back, and a mask is the bytewise XOR.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "swarm/hwire.h"
#include "swarm/wsconn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSGS 256 /* messages compared between passes */

/* A copy of p[0, n) in a block of exactly n bytes (one, for n == 0). */
static uint8_t *
exact_copy(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);

	FUZZ_CHECK(c != NULL);
	if (n)
		memcpy(c, p, n);
	return c;
}

/* Does [q, q + qn) lie inside [p, p + n)? */
static int
inside(const void *q, size_t qn, const void *p, size_t n)
{
	const uint8_t *a = q, *b = p;

	return a >= b && qn <= n && (size_t)(a - b) <= n - qn;
}

/* ---- heads, headers, event blocks ---- */

static void
check_head(const uint8_t *data, size_t size)
{
	struct hwire_head h, again;
	enum hwire_result r = hwire_head((const char *)data, size, &h);
	const char *v;
	size_t k, vn;

	if (r == HWIRE_MORE) {
		FUZZ_CHECK(size < HWIRE_HEAD_MAX);
		FUZZ_CHECK(memmem(data, size, "\r\n\r\n", 4) == NULL);
		return;
	}
	if (r != HWIRE_OK)
		return;
	FUZZ_CHECK(h.size >= 16 && h.size <= size && h.size <= HWIRE_HEAD_MAX);
	FUZZ_CHECK(memcmp(data + h.size - 4, "\r\n\r\n", 4) == 0);
	FUZZ_CHECK(memmem(data, h.size, "\r\n\r\n", 4) == data + h.size - 4); /* the first */
	FUZZ_CHECK(h.status >= 100 && h.status <= 599);
	/* Every shorter cut waits; the head alone reads the same. */
	for (k = 0; k <= h.size; k += 1 + k / 4) {
		uint8_t *c = exact_copy(data, k);

		r = hwire_head((const char *)c, k, &again);
		FUZZ_CHECK(k < h.size ? r == HWIRE_MORE : r == HWIRE_OK);
		free(c);
	}
	{
		uint8_t *c = exact_copy(data, h.size);

		FUZZ_CHECK(hwire_head((const char *)c, h.size, &again) == HWIRE_OK);
		FUZZ_CHECK(again.status == h.status && again.length == h.length &&
		           again.close == h.close && again.stream == h.stream &&
		           again.size == h.size);
		/* Content-Length by name: there exactly when the head has it,
		 * and its digits are the length. */
		v = hwire_header((const char *)c, h.size, "Content-Length", &vn);
		FUZZ_CHECK((v != NULL) == (h.length >= 0));
		if (v) {
			int64_t x = 0;

			FUZZ_CHECK(inside(v, vn, c, h.size));
			for (k = 0; k < vn; k++)
				x = x * 10 + (v[k] - '0');
			FUZZ_CHECK(x == h.length);
		}
		v = hwire_header((const char *)c, h.size, "sec-websocket-accept", &vn);
		if (v) {
			FUZZ_CHECK(inside(v, vn, c, h.size));
			FUZZ_CHECK(memchr(v, '\r', vn) == NULL && memchr(v, '\n', vn) == NULL);
		}
		free(c);
	}
}

static void
check_event(const uint8_t *data, size_t size)
{
	struct hwire_event e;
	enum hwire_result r = hwire_event((const char *)data, size, &e);
	size_t k;

	if (r == HWIRE_MORE) {
		FUZZ_CHECK(size < HWIRE_EVENT_MAX);
		return;
	}
	if (r != HWIRE_OK)
		return;
	FUZZ_CHECK(e.size >= 2 && e.size <= size && e.size <= HWIRE_EVENT_MAX);
	FUZZ_CHECK(data[e.size - 1] == '\n');
	FUZZ_CHECK(data[e.size - 2] == '\n' ||
	           (e.size >= 3 && data[e.size - 2] == '\r' && data[e.size - 3] == '\n'));
	if (!e.comment) {
		FUZZ_CHECK(inside(e.data, e.data_len, data, e.size));
		/* The name is the block's, or the default "message". */
		FUZZ_CHECK(inside(e.name, e.name_len, data, e.size) ||
		           (e.name_len == 7 && memcmp(e.name, "message", 7) == 0));
	}
	for (k = 0; k < e.size; k += 1 + k / 4) {
		uint8_t *c = exact_copy(data, k);
		struct hwire_event again;

		FUZZ_CHECK(hwire_event((const char *)c, k, &again) == HWIRE_MORE);
		free(c);
	}
}

/* ---- WebSocket frame heads ---- */

/* RFC 6455 5.2 read plainly: 1 and the head, 0 for more, -1 for what
 * hwire refuses. */
static int
plain_ws_head(const uint8_t *p, size_t n, uint64_t max, struct hwire_ws *f)
{
	uint64_t len;
	size_t need, i;
	uint8_t op;

	if (n < 2)
		return 0;
	op = p[0] & 0x0f;
	if ((p[0] & 0x70) != 0 || (p[1] & 0x80) != 0)
		return -1;
	if (!(op == 0 || op == 1 || op == 2 || op == 8 || op == 9 || op == 10))
		return -1;
	if (op >= 8 && (!(p[0] & 0x80) || (p[1] & 0x7f) > 125))
		return -1;
	len = p[1] & 0x7f;
	need = len == 126 ? 4 : len == 127 ? 10 : 2;
	if (n < need)
		return 0;
	if (need == 4) {
		len = (uint64_t)p[2] * 256 + p[3];
		if (len < 126)
			return -1;
	} else if (need == 10) {
		len = 0;
		for (i = 0; i < 8; i++)
			len = len * 256 + p[2 + i];
		if (len < 65536 || len > INT64_MAX)
			return -1;
	}
	if (len > max)
		return -1;
	f->fin = p[0] >> 7;
	f->opcode = op;
	f->size = (uint8_t)need;
	f->len = len;
	return 1;
}

static void
check_ws_heads(const uint8_t *data, size_t size)
{
	size_t i = 0;

	while (i < size) {
		struct hwire_ws f, g;
		uint64_t max = i & 1 ? 1000 : UINT64_MAX; /* a bound met, and none */
		/* A head is 10 bytes at most: no more is copied, so that a run
		 * of many small frames costs no more than its bytes. */
		size_t look = size - i < 10 ? size - i : 10;
		uint8_t *c = exact_copy(data + i, look);
		enum hwire_result r = hwire_ws_head(c, look, max, &f);
		int plain = plain_ws_head(c, look, max, &g);

		free(c);
		FUZZ_CHECK(plain == (r == HWIRE_OK ? 1 : r == HWIRE_MORE ? 0 : -1));
		if (r != HWIRE_OK)
			return;
		FUZZ_CHECK(f.fin == g.fin && f.opcode == g.opcode && f.size == g.size &&
		           f.len == g.len);
		if (f.len > size - i - f.size)
			return;
		i += f.size + (size_t)f.len;
	}
}

static void
check_mask(const uint8_t *data, size_t size)
{
	uint8_t key[4] = {0x5a, 0xa5, 0x3c, 0xc3}, *a, *b;
	size_t i;

	if (size >= 4)
		memcpy(key, data, 4);
	a = exact_copy(data, size);
	b = exact_copy(data, size);
	hwire_ws_mask(a, data, size, key);
	for (i = 0; i < size; i++)
		FUZZ_CHECK(a[i] == (data[i] ^ key[i & 3]));
	hwire_ws_mask(b, b, size, key);
	FUZZ_CHECK(size == 0 || memcmp(a, b, size) == 0);
	hwire_ws_mask(a, a, size, key);
	FUZZ_CHECK(size == 0 || memcmp(a, data, size) == 0);
	free(a);
	free(b);
}

/* ---- the WebSocket layer ---- */

/* A connection with a key and mask of zeros, open unless asked. */
static struct wsconn *
conn(enum wsconn_mode mode, int open)
{
	static const uint8_t zeros[20];
	struct wsconn *w = wsconn_new(mode);
	char a[512], accept[HWIRE_WS_ACCEPT_LEN + 1], key[HWIRE_WS_KEY_LEN + 1];
	size_t used;
	int n;

	wsconn_reset(w, zeros);
	if (!open)
		return w;
	hwire_ws_key(zeros, key);
	FUZZ_CHECK(hwire_ws_accept(key, strlen(key), accept) == 0);
	n = snprintf(a, sizeof(a),
	             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	             "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
	             "Sec-WebSocket-Protocol: %s\r\n\r\n",
	             accept, mode == WSCONN_STREAM ? "chatd.framed" : "chatd.json");
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(a));
	FUZZ_CHECK(wsconn_handshake(w, (const uint8_t *)a, (size_t)n, &used) == WSCONN_OK);
	FUZZ_CHECK(used == (size_t)n);
	return w;
}

/* The stream unwrapped in reads of up to 2^(bits-1) bytes (bits 0: whole):
 * its payload appended to out (size bytes at most), the last status. */
static enum wsconn_status
unwrap_pass(const uint8_t *data, size_t size, unsigned bits, uint64_t seed, uint8_t *out,
            size_t *outlen)
{
	struct wsconn *w = conn(WSCONN_STREAM, 1);
	enum wsconn_status r = WSCONN_OK;
	size_t at = 0;

	*outlen = 0;
	while (at < size && r == WSCONN_OK) {
		size_t k = bits ? next_read(&seed, bits, size - at) : size - at, got;
		uint8_t *buf = malloc(WSCONN_KEEP_MAX + k), *p;

		FUZZ_CHECK(buf != NULL);
		memcpy(buf + WSCONN_KEEP_MAX, data + at, k);
		p = wsconn_restore(w, buf + WSCONN_KEEP_MAX);
		FUZZ_CHECK(p >= buf);
		r = wsconn_unwrap(w, p, k + (size_t)(buf + WSCONN_KEEP_MAX - p), &got);
		FUZZ_CHECK(got <= k + (size_t)(buf + WSCONN_KEEP_MAX - p));
		FUZZ_CHECK(*outlen + got <= size);
		memcpy(out + *outlen, p, got);
		*outlen += got;
		at += k;
		free(buf);
	}
	wsconn_free(w);
	return r;
}

static void
check_unwrap(const uint8_t *data, size_t size, uint64_t seed)
{
	uint8_t *whole = malloc(size + 1), *split = malloc(size + 1);
	size_t wn, sn;
	enum wsconn_status rw, rs;
	unsigned bits;

	FUZZ_CHECK(whole != NULL && split != NULL);
	rw = unwrap_pass(data, size, 0, seed, whole, &wn);
	for (bits = 1; bits <= 9; bits += 4) {
		rs = unwrap_pass(data, size, bits, seed + bits, split, &sn);
		FUZZ_CHECK(rs == rw);
		FUZZ_CHECK(sn == wn);
		FUZZ_CHECK(wn == 0 || memcmp(whole, split, wn) == 0);
	}
	free(whole);
	free(split);
}

/* The messages of a pass: their lengths and a hash of their bytes. */
struct msgs {
	size_t n;
	size_t len[MAX_MSGS];
	uint64_t hash[MAX_MSGS];
	enum wsconn_status end;
};

static uint64_t
fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* The messages read from data, in reads of up to 2^(bits-1) bytes (bits
 * 0: whole), kept between reads as wsjbot.c keeps them. */
static void
messages_pass(const uint8_t *data, size_t size, unsigned bits, uint64_t seed, struct msgs *m)
{
	struct wsconn *w = conn(WSCONN_MESSAGES, 1);
	struct held h = {NULL, 0};
	size_t at = 0;

	m->n = 0;
	m->end = WSCONN_MORE;
	while (at < size) {
		size_t k = bits ? next_read(&seed, bits, size - at) : size - at;

		held_add(&h, data + at, k);
		at += k;
		for (;;) {
			uint8_t *msg;
			size_t len, used;
			enum wsconn_status r = wsconn_next(w, h.p, h.n, &msg, &len, &used);

			FUZZ_CHECK(used <= h.n);
			if (r == WSCONN_OK) {
				FUZZ_CHECK(inside(msg, len, h.p, used));
				FUZZ_CHECK(len <= WSCONN_MESSAGE_MAX);
				if (m->n < MAX_MSGS) {
					m->len[m->n] = len;
					m->hash[m->n] = fnv(msg, len);
				}
				m->n++;
			}
			held_drop(&h, used);
			if (r == WSCONN_MORE)
				break;
			if (r != WSCONN_OK) {
				m->end = r;
				goto done;
			}
		}
	}
done:
	free(h.p);
	wsconn_free(w);
}

static void
check_messages(const uint8_t *data, size_t size, uint64_t seed)
{
	static struct msgs whole, split;
	size_t i;

	messages_pass(data, size, 0, seed, &whole);
	messages_pass(data, size, 7, seed, &split);
	FUZZ_CHECK(whole.end == split.end);
	FUZZ_CHECK(whole.n == split.n);
	for (i = 0; i < whole.n && i < MAX_MSGS; i++)
		FUZZ_CHECK(whole.len[i] == split.len[i] && whole.hash[i] == split.hash[i]);
}

/* The upgrade's answer, whole and in pieces: the same end. */
static void
check_handshake(const uint8_t *data, size_t size, uint64_t seed)
{
	struct wsconn *a = conn(WSCONN_STREAM, 0), *b = conn(WSCONN_STREAM, 0);
	enum wsconn_status ra, rb = WSCONN_MORE;
	size_t used, total = 0, at = 0;

	ra = wsconn_handshake(a, data, size, &used);
	FUZZ_CHECK(used <= size);
	while (at < size && rb == WSCONN_MORE) {
		size_t k = next_read(&seed, 8, size - at), u;
		uint8_t *c = exact_copy(data + at, k);

		rb = wsconn_handshake(b, c, k, &u);
		FUZZ_CHECK(u <= k);
		total += u;
		at += k;
		free(c);
	}
	FUZZ_CHECK(ra == rb);
	if (ra == WSCONN_OK) {
		FUZZ_CHECK(total == used);
		FUZZ_CHECK(wsconn_open(a) && wsconn_open(b));
	}
	if (ra == WSCONN_REFUSED) {
		const char *ba, *bb;
		size_t la, lb;
		int sa, sb;

		wsconn_refusal(a, &sa, &ba, &la);
		wsconn_refusal(b, &sb, &bb, &lb);
		FUZZ_CHECK(sa == sb && sa != 101 && la == lb && memcmp(ba, bb, la) == 0);
	}
	wsconn_free(a);
	wsconn_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull ^ size;
	size_t i;

	for (i = 0; i < size && i < 16; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ull;
	seed |= 1;
	check_head(data, size);
	check_event(data, size);
	check_ws_heads(data, size);
	check_mask(data, size);
	check_handshake(data, size, seed);
	check_unwrap(data, size, seed);
	check_messages(data, size, seed);
	return 0;
}
