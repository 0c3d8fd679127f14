/*
 * Unit tests of what chatd-swarm reads from chatd's HTTP port and writes
 * back on a WebSocket (src/swarm/hwire.c), and of the WebSocket layer
 * above it (src/swarm/wsconn.c): response heads, event blocks, header
 * lookup, frame heads, masking, the handshake's key and accept; then the
 * layer's handshake check, its unwrapping of a stream cut anywhere, its
 * messages, control frames and bounds, and its writing through short
 * writes.  Every reader must say "more" for every cut of what it would
 * accept whole, and refuse what chatd never sends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/hwire.h"
#include "swarm/wsconn.h"

/* Bytes of a literal into a buffer, without its NUL: these are wire
 * bytes, not strings. */
static void
put(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
}

/* ---- response heads ---- */

static const char chatd_answer[] = "HTTP/1.1 201 Created\r\n"
                                   "Server: chatd\r\n"
                                   "Content-Type: application/json\r\n"
                                   "Content-Length: 16\r\n"
                                   "\r\n"
                                   "{\"token\":\"abcd\"}";

static void
head_reads_status_length_and_size_of_a_chatd_answer(void **state)
{
	struct hwire_head h;
	size_t head = strlen(chatd_answer) - 16;

	(void)state;
	assert_int_equal(hwire_head(chatd_answer, strlen(chatd_answer), &h), HWIRE_OK);
	assert_int_equal(h.status, 201);
	assert_int_equal(h.length, 16);
	assert_int_equal(h.close, 0);
	assert_int_equal(h.stream, 0);
	assert_int_equal(h.size, head);
}

static void
head_says_more_for_every_cut_before_its_blank_line(void **state)
{
	struct hwire_head h;
	size_t head = strlen(chatd_answer) - 16, k;

	(void)state;
	for (k = 0; k < head; k++)
		assert_int_equal(hwire_head(chatd_answer, k, &h), HWIRE_MORE);
	for (k = head; k <= strlen(chatd_answer); k++) {
		assert_int_equal(hwire_head(chatd_answer, k, &h), HWIRE_OK);
		assert_int_equal(h.size, head);
	}
}

static void
head_reads_close_stream_and_no_length(void **state)
{
	static const char a[] = "HTTP/1.1 200 OK\r\nconnection: CLOSE\r\n"
	                        "Content-Type: text/event-stream; charset=utf-8\r\n\r\n";
	static const char b[] = "HTTP/1.1 204\r\n\r\n";
	struct hwire_head h;

	(void)state;
	assert_int_equal(hwire_head(a, strlen(a), &h), HWIRE_OK);
	assert_int_equal(h.close, 1);
	assert_int_equal(h.stream, 1);
	assert_int_equal(h.length, -1);
	assert_int_equal(hwire_head(b, strlen(b), &h), HWIRE_OK);
	assert_int_equal(h.status, 204);
}

static void
head_refuses_what_chatd_never_sends(void **state)
{
	static const char *const bad[] = {
	        "HTTP/1.0 200 OK\r\n\r\n",
	        "http/1.1 200 OK\r\n\r\n",
	        "HTTP/1.1 600 No\r\n\r\n",
	        "HTTP/1.1 20 OK\r\n\r\n",
	        "HTTP/1.1 200OK\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
	        "HTTP/1.1 200 OK\r\n: no name\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
	        "HTTP/1.1 200 OK\r\nA: \x01\r\n\r\n",
	        "GET / HTTP/1.1\r\n\r\n",
	};
	struct hwire_head h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hwire_head(bad[i], strlen(bad[i]), &h), HWIRE_BAD);
	/* What is not a response is refused at its first wrong byte. */
	assert_int_equal(hwire_head("X", 1, &h), HWIRE_BAD);
	assert_int_equal(hwire_head("HTTP/2", 6, &h), HWIRE_BAD);
}

static void
head_gives_up_at_its_bound(void **state)
{
	char *p = malloc(HWIRE_HEAD_MAX + 1);
	struct hwire_head h;

	(void)state;
	assert_non_null(p);
	memset(p, 'a', HWIRE_HEAD_MAX + 1);
	put(p, "HTTP/1.1 200 OK\r\nX: ", 20);
	assert_int_equal(hwire_head(p, HWIRE_HEAD_MAX - 1, &h), HWIRE_MORE);
	assert_int_equal(hwire_head(p, HWIRE_HEAD_MAX, &h), HWIRE_BAD);
	/* A head that ends just past the bound is not looked for there. */
	put(p + HWIRE_HEAD_MAX - 3, "\r\n\r\n", 4);
	assert_int_equal(hwire_head(p, HWIRE_HEAD_MAX + 1, &h), HWIRE_BAD);
	free(p);
}

/* ---- header lookup ---- */

static const char upgrade_answer[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                     "Server: chatd\r\n"
                                     "Upgrade: websocket\r\n"
                                     "Connection: Upgrade\r\n"
                                     "Sec-WebSocket-Accept:   s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\n"
                                     "Sec-WebSocket-Protocol: chatd.json\r\n"
                                     "X-Twice: 1\r\n"
                                     "x-twice: 2\r\n"
                                     "\r\n";

static void
header_finds_a_value_by_name_in_any_case_without_blanks(void **state)
{
	const char *v;
	size_t n;

	(void)state;
	v = hwire_header(upgrade_answer, strlen(upgrade_answer), "sec-websocket-accept", &n);
	assert_non_null(v);
	assert_int_equal(n, 28);
	assert_memory_equal(v, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28);
	v = hwire_header(upgrade_answer, strlen(upgrade_answer), "UPGRADE", &n);
	assert_non_null(v);
	assert_int_equal(n, 9);
	assert_memory_equal(v, "websocket", 9);
}

static void
header_is_null_when_absent_repeated_or_only_a_prefix(void **state)
{
	size_t n = 99;

	(void)state;
	assert_null(hwire_header(upgrade_answer, strlen(upgrade_answer), "x-twice", &n));
	assert_null(hwire_header(upgrade_answer, strlen(upgrade_answer), "content-length", &n));
	assert_int_equal(n, 0);
	assert_null(hwire_header(upgrade_answer, strlen(upgrade_answer), "sec-websocket", &n));
	assert_null(hwire_header(upgrade_answer, strlen(upgrade_answer), "upgrad", &n));
	/* The status line is not a header. */
	assert_null(hwire_header(upgrade_answer, strlen(upgrade_answer), "HTTP/1.1 101", &n));
}

/* ---- event blocks ---- */

static void
event_reads_id_name_and_data_and_says_more_for_every_cut(void **state)
{
	static const char b[] = "id: 42\nevent: message\ndata: {\"a\":1}\n\nid: 43\n";
	struct hwire_event e;
	size_t whole = 37, k;

	(void)state;
	assert_int_equal(hwire_event(b, strlen(b), &e), HWIRE_OK);
	assert_int_equal(e.has_id, 1);
	assert_int_equal(e.id, 42);
	assert_int_equal(e.name_len, 7);
	assert_memory_equal(e.name, "message", 7);
	assert_int_equal(e.data_len, 7);
	assert_memory_equal(e.data, "{\"a\":1}", 7);
	assert_int_equal(e.size, whole);
	assert_int_equal(e.comment, 0);
	for (k = 0; k < whole; k++)
		assert_int_equal(hwire_event(b, k, &e), HWIRE_MORE);
}

static void
event_reads_crlf_comments_and_the_default_name(void **state)
{
	static const char a[] = ": keep-alive\r\n\r\n";
	static const char b[] = "data: x\r\n\r\n";
	struct hwire_event e;

	(void)state;
	assert_int_equal(hwire_event(a, strlen(a), &e), HWIRE_OK);
	assert_int_equal(e.comment, 1);
	assert_int_equal(e.size, strlen(a));
	assert_int_equal(hwire_event(b, strlen(b), &e), HWIRE_OK);
	assert_int_equal(e.name_len, 7);
	assert_memory_equal(e.name, "message", 7);
	assert_int_equal(e.has_id, 0);
	assert_int_equal(e.data_len, 1);
}

static void
event_refuses_what_chatd_never_sends(void **state)
{
	static const char *const bad[] = {
	        "\n",
	        "id: 1\n\n",
	        "retry: 5\ndata: x\n\n",
	        "data: a\ndata: b\n\n",
	        "id: 1x\ndata: a\n\n",
	        "id: \ndata: a\n\n",
	        "id: 1\nid: 2\ndata: a\n\n",
	        "id: 12345678901234567890\ndata: a\n\n",
	        "event: a\nevent: b\ndata: x\n\n",
	        "data: a\rb\n\n",
	};
	struct hwire_event e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hwire_event(bad[i], strlen(bad[i]), &e), HWIRE_BAD);
}

static void
event_gives_up_at_its_bound(void **state)
{
	char *p = malloc(HWIRE_EVENT_MAX);
	struct hwire_event e;

	(void)state;
	assert_non_null(p);
	memset(p, 'x', HWIRE_EVENT_MAX);
	put(p, "data: ", 6);
	assert_int_equal(hwire_event(p, HWIRE_EVENT_MAX - 1, &e), HWIRE_MORE);
	assert_int_equal(hwire_event(p, HWIRE_EVENT_MAX, &e), HWIRE_BAD);
	free(p);
}

/* ---- WebSocket frame heads ---- */

static void
ws_head_reads_each_length_form_and_says_more_for_every_cut(void **state)
{
	static const struct {
		uint64_t len;
		size_t size;
		uint8_t fin, opcode;
		uint8_t b[10];
	} ok[] = {
	        {0, 2, 1, HWIRE_WS_BINARY, {0x82, 0x00}},
	        {125, 2, 0, HWIRE_WS_TEXT, {0x01, 0x7d}},
	        {126, 4, 1, HWIRE_WS_CONT, {0x80, 0x7e, 0x00, 0x7e}},
	        {65535, 4, 1, HWIRE_WS_BINARY, {0x82, 0x7e, 0xff, 0xff}},
	        {65536, 10, 1, HWIRE_WS_BINARY, {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}},
	        {125, 2, 1, HWIRE_WS_PING, {0x89, 0x7d}},
	        {0, 2, 1, HWIRE_WS_PONG, {0x8a, 0x00}},
	        {2, 2, 1, HWIRE_WS_CLOSE, {0x88, 0x02}},
	};
	struct hwire_ws f;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		for (k = 0; k < ok[i].size; k++)
			assert_int_equal(hwire_ws_head(ok[i].b, k, UINT64_MAX, &f), HWIRE_MORE);
		assert_int_equal(hwire_ws_head(ok[i].b, ok[i].size, UINT64_MAX, &f), HWIRE_OK);
		assert_int_equal(f.size, ok[i].size);
		assert_int_equal(f.len, ok[i].len);
		assert_int_equal(f.fin, ok[i].fin);
		assert_int_equal(f.opcode, ok[i].opcode);
	}
}

static void
ws_head_refuses_what_chatd_never_sends(void **state)
{
	static const uint8_t bad[][10] = {
	        {0x82, 0x81},                               /* masked */
	        {0xc2, 0x00},                               /* RSV1 */
	        {0xa2, 0x00},                               /* RSV2 */
	        {0x92, 0x00},                               /* RSV3 */
	        {0x83, 0x00},                               /* opcode 3 */
	        {0x8b, 0x00},                               /* opcode 0xb */
	        {0x09, 0x00},                               /* a fragmented ping */
	        {0x89, 0x7e},                               /* a ping over 125 bytes */
	        {0x88, 0x7f},                               /* a close over 125 bytes */
	        {0x82, 0x7e, 0x00, 0x7d},                   /* 125 in the 16-bit form */
	        {0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, /* 65535 in the 64-bit form */
	        {0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0},    /* the top bit of 64 */
	};
	struct hwire_ws f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hwire_ws_head(bad[i], 10, UINT64_MAX, &f), HWIRE_BAD);
}

static void
ws_head_refuses_a_length_over_max_before_its_payload(void **state)
{
	static const uint8_t b[] = {0x81, 0x7e, 0x01, 0x00};
	struct hwire_ws f;

	(void)state;
	assert_int_equal(hwire_ws_head(b, 4, 256, &f), HWIRE_OK);
	assert_int_equal(hwire_ws_head(b, 4, 255, &f), HWIRE_BAD);
}

/* A client frame read back as a server would: head, key, unmasked payload. */
static size_t
client_frame_read(const uint8_t *p, uint8_t *opcode, int *fin, uint8_t *payload)
{
	uint64_t len = p[1] & 0x7f;
	size_t at = 2, i;
	const uint8_t *key;

	assert_true(p[1] & 0x80); /* masked */
	if (len == 126) {
		len = (uint64_t)p[2] << 8 | p[3];
		at = 4;
	} else if (len == 127) {
		for (len = 0, i = 0; i < 8; i++)
			len = len << 8 | p[2 + i];
		at = 10;
	}
	key = p + at;
	at += 4;
	for (i = 0; i < len; i++)
		payload[i] = p[at + i] ^ key[i & 3];
	*opcode = p[0] & 0x0f;
	*fin = p[0] >> 7;
	return (size_t)len;
}

static void
ws_put_head_and_mask_make_the_rfc_6455_example(void **state)
{
	/* RFC 6455 5.7: a masked "Hello". */
	static const uint8_t want[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
	                               0x7f, 0x9f, 0x4d, 0x51, 0x58};
	static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
	uint8_t out[32];
	size_t h;

	(void)state;
	h = hwire_ws_put_head(out, HWIRE_WS_TEXT, 1, 5, key);
	assert_int_equal(h, 6);
	hwire_ws_mask(out + h, (const uint8_t *)"Hello", 5, key);
	assert_memory_equal(out, want, sizeof(want));
}

static void
ws_put_head_writes_each_length_form_read_back(void **state)
{
	static const uint64_t lens[] = {0, 1, 125, 126, 65535, 65536, 70000};
	static const uint8_t key[4] = {1, 2, 3, 4};
	uint8_t *frame = malloc(70000 + HWIRE_WS_HEAD_MAX), *payload = malloc(70000),
	        *back = malloc(70000);
	size_t i, k, h;

	(void)state;
	assert_non_null(frame);
	assert_non_null(payload);
	assert_non_null(back);
	for (k = 0; k < 70000; k++)
		payload[k] = (uint8_t)(k * 7 + 3);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t op;
		int fin;

		h = hwire_ws_put_head(frame, HWIRE_WS_BINARY, (int)(i & 1), lens[i], key);
		assert_int_equal(h, lens[i] < 126 ? 6 : lens[i] < 65536 ? 8 : 14);
		hwire_ws_mask(frame + h, payload, (size_t)lens[i], key);
		assert_int_equal(client_frame_read(frame, &op, &fin, back), lens[i]);
		assert_int_equal(op, HWIRE_WS_BINARY);
		assert_int_equal(fin, (int)(i & 1));
		if (lens[i])
			assert_memory_equal(back, payload, (size_t)lens[i]);
	}
	free(frame);
	free(payload);
	free(back);
}

static void
ws_mask_equals_the_bytewise_xor_at_every_length_and_alignment(void **state)
{
	static const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
	uint8_t src[64], dst[64], same[64];
	size_t off, n, i;

	(void)state;
	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 37 + 11);
	for (off = 0; off < 8; off++)
		for (n = 0; n + off <= 40; n++) {
			memset(dst, 0x55, sizeof(dst));
			hwire_ws_mask(dst + off, src + off, n, key);
			for (i = 0; i < n; i++)
				assert_int_equal(dst[off + i], src[off + i] ^ key[i & 3]);
			assert_int_equal(dst[off + n], 0x55); /* nothing past n */
			/* In place, and twice is the identity. */
			memcpy(same, src, sizeof(src));
			hwire_ws_mask(same + off, same + off, n, key);
			if (n)
				assert_memory_equal(same + off, dst + off, n);
			hwire_ws_mask(same + off, same + off, n, key);
			assert_memory_equal(same, src, sizeof(src));
		}
}

static void
ws_key_and_accept_make_the_rfc_6455_example(void **state)
{
	char key[HWIRE_WS_KEY_LEN + 1], accept[HWIRE_WS_ACCEPT_LEN + 1];

	(void)state;
	hwire_ws_key((const uint8_t *)"the sample nonce", key);
	assert_string_equal(key, "dGhlIHNhbXBsZSBub25jZQ==");
	assert_int_equal(hwire_ws_accept(key, strlen(key), accept), 0);
	assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* ---- the WebSocket layer (wsconn.c) ---- */

/* A connection with the RFC's sample nonce as its key and a zero mask. */
static struct wsconn *
sample_conn(enum wsconn_mode mode)
{
	uint8_t rnd[20];
	struct wsconn *w = wsconn_new(mode);

	put(rnd, "the sample nonce", 16);
	memset(rnd + 16, 0, 4);
	wsconn_reset(w, rnd);
	return w;
}

/* The 101 chatd answers the sample key with, for a subprotocol. */
static size_t
sample_101(char *out, size_t cap, const char *protocol, const char *accept)
{
	int n = snprintf(out, cap,
	                 "HTTP/1.1 101 Switching Protocols\r\nServer: chatd\r\n"
	                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	                 "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
	                 accept, protocol);

	assert_true(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

static void
wsconn_request_offers_its_key_and_subprotocol(void **state)
{
	struct wsconn *w = sample_conn(WSCONN_MESSAGES);
	char req[WSCONN_REQUEST_MAX];
	size_t n = wsconn_request(w, "127.0.0.1:7000", req);

	(void)state;
	assert_true(n > 0 && n < sizeof(req));
	req[n] = '\0';
	assert_non_null(strstr(req, "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:7000\r\n"));
	assert_non_null(strstr(req, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
	assert_non_null(strstr(req, "\r\nSec-WebSocket-Version: 13\r\n"));
	assert_non_null(strstr(req, "\r\nSec-WebSocket-Protocol: chatd.json\r\n"));
	assert_non_null(strstr(req, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"));
	assert_int_equal(strcmp(req + n - 4, "\r\n\r\n"), 0);
	wsconn_free(w);
}

static void
wsconn_handshake_accepts_the_101_read_in_any_pieces(void **state)
{
	char a[512];
	size_t n = sample_101(a, sizeof(a), "chatd.framed", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), cut,
	       used;

	(void)state;
	put(a + n, "\x82\x01x", 3); /* a frame right behind it */
	for (cut = 1; cut < n; cut += 7) {
		struct wsconn *w = sample_conn(WSCONN_STREAM);

		assert_int_equal(wsconn_handshake(w, (uint8_t *)a, cut, &used), WSCONN_MORE);
		assert_int_equal(used, cut);
		assert_int_equal(wsconn_open(w), 0);
		assert_int_equal(wsconn_handshake(w, (uint8_t *)a + cut, n + 3 - cut, &used),
		                 WSCONN_OK);
		assert_int_equal(used, n - cut); /* the frame is not the head's */
		assert_int_equal(wsconn_open(w), 1);
		wsconn_free(w);
	}
}

static void
wsconn_handshake_refuses_a_wrong_accept_protocol_or_upgrade(void **state)
{
	static const char *const bad[] = {
	        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
	        "Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOO=\r\n"
	        "Sec-WebSocket-Protocol: chatd.framed\r\n\r\n",
	        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
	        "Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	        "Sec-WebSocket-Protocol: chatd.json\r\n\r\n",
	        "HTTP/1.1 101 Switching Protocols\r\nConnection: "
	        "Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	        "Sec-WebSocket-Protocol: chatd.framed\r\n\r\n",
	        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
	        "keep-alive\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	        "Sec-WebSocket-Protocol: chatd.framed\r\n\r\n",
	        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
	        "Upgrade\r\nSec-WebSocket-Protocol: chatd.framed\r\n\r\n",
	        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
	        "Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	        "Sec-WebSocket-Protocol: chatd.framed\r\nContent-Length: 3\r\n\r\n",
	        "HTTP/1.0 101 Switching Protocols\r\n\r\n",
	};
	size_t i, used;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wsconn *w = sample_conn(WSCONN_STREAM);

		assert_int_equal(
		        wsconn_handshake(w, (const uint8_t *)bad[i], strlen(bad[i]), &used),
		        WSCONN_BAD);
		wsconn_free(w);
	}
}

static void
wsconn_handshake_reads_a_refusal_and_its_body(void **state)
{
	static const char a[] = "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
	                        "Content-Length: 12\r\n\r\n{\"error\":{}}";
	struct wsconn *w = sample_conn(WSCONN_MESSAGES);
	const char *body;
	size_t len, used, n = strlen(a);
	int status;

	(void)state;
	assert_int_equal(wsconn_handshake(w, (const uint8_t *)a, n - 1, &used), WSCONN_MORE);
	assert_int_equal(wsconn_handshake(w, (const uint8_t *)a + n - 1, 1, &used), WSCONN_REFUSED);
	wsconn_refusal(w, &status, &body, &len);
	assert_int_equal(status, 403);
	assert_int_equal(len, 12);
	assert_memory_equal(body, "{\"error\":{}}", 12);
	assert_int_equal(wsconn_open(w), 0);
	wsconn_free(w);
}

static void
wsconn_handshake_gives_up_at_its_bound(void **state)
{
	char *a = malloc(WSCONN_ANSWER_MAX + 10);
	struct wsconn *w = sample_conn(WSCONN_STREAM);
	size_t used;

	(void)state;
	assert_non_null(a);
	memset(a, 'a', WSCONN_ANSWER_MAX + 10);
	put(a, "HTTP/1.1 101 X\r\nA: ", 19);
	assert_int_equal(wsconn_handshake(w, (uint8_t *)a, WSCONN_ANSWER_MAX + 10, &used),
	                 WSCONN_BAD);
	wsconn_free(w);
	free(a);
}

/* An open connection of the sample, in mode. */
static struct wsconn *
open_conn(enum wsconn_mode mode)
{
	struct wsconn *w = sample_conn(mode);
	char a[512];
	size_t n = sample_101(a, sizeof(a), mode == WSCONN_STREAM ? "chatd.framed" : "chatd.json",
	                      "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
	       used;

	assert_int_equal(wsconn_handshake(w, (uint8_t *)a, n, &used), WSCONN_OK);
	return w;
}

/* A server frame (unmasked) at out: its size. */
static size_t
server_frame(uint8_t *out, uint8_t b0, const void *payload, size_t n)
{
	size_t h = 2;

	out[0] = b0;
	if (n < 126) {
		out[1] = (uint8_t)n;
	} else {
		assert_true(n <= 0xffff);
		out[1] = 126;
		out[2] = (uint8_t)(n >> 8);
		out[3] = (uint8_t)n;
		h = 4;
	}
	memcpy(out + h, payload, n);
	return h + n;
}

/* Unwrap s[0, n) through w, read in pieces of at most step bytes, into
 * out; the last status. */
static enum wsconn_status
unwrap_in_pieces(struct wsconn *w, const uint8_t *s, size_t n, size_t step, uint8_t *out,
                 size_t *outlen)
{
	uint8_t buf[WSCONN_KEEP_MAX + 4096];
	enum wsconn_status r = WSCONN_OK;
	size_t at = 0;

	*outlen = 0;
	while (at < n && r == WSCONN_OK) {
		size_t k = n - at < step ? n - at : step, got;
		uint8_t *p;

		memcpy(buf + WSCONN_KEEP_MAX, s + at, k);
		p = wsconn_restore(w, buf + WSCONN_KEEP_MAX);
		r = wsconn_unwrap(w, p, k + (size_t)(buf + WSCONN_KEEP_MAX - p), &got);
		memcpy(out + *outlen, p, got);
		*outlen += got;
		at += k;
	}
	return r;
}

static void
wsconn_unwrap_gives_the_same_stream_for_every_read_size(void **state)
{
	static const char big[300] = "0123456789";
	uint8_t s[1024], out[1024];
	size_t n = 0, step, got;
	char want[1024];
	size_t wn = 0;

	(void)state;
	/* Fragments, a ping between them, an empty frame, a 16-bit length. */
	n += server_frame(s + n, 0x02, "abc", 3);
	n += server_frame(s + n, 0x89, "hi", 2);
	n += server_frame(s + n, 0x00, "", 0);
	n += server_frame(s + n, 0x80, "de", 2);
	n += server_frame(s + n, 0x82, big, sizeof(big));
	n += server_frame(s + n, 0x8a, "", 0);
	n += server_frame(s + n, 0x82, "z", 1);
	put(want + wn, "abcde", 5);
	wn += 5;
	memcpy(want + wn, big, sizeof(big));
	wn += sizeof(big);
	want[wn++] = 'z';
	for (step = 1; step <= n; step++) {
		struct wsconn *w = open_conn(WSCONN_STREAM);
		size_t pending;

		assert_int_equal(unwrap_in_pieces(w, s, n, step, out, &got), WSCONN_OK);
		assert_int_equal(got, wn);
		assert_memory_equal(out, want, wn);
		/* The ping is answered: a masked pong of its payload. */
		(void)wsconn_ctl(w, &pending);
		assert_int_equal(pending, 2 + 4 + 2);
		assert_true(wsconn_pending(w));
		wsconn_free(w);
	}
}

static void
wsconn_unwrap_refuses_text_and_fragments_out_of_order(void **state)
{
	static const uint8_t bad[][2] = {
	        {0x81, 0x00}, /* text on chatd.framed */
	        {0x80, 0x00}, /* a continuation of nothing */
	};
	uint8_t s[16];
	size_t i, got;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wsconn *w = open_conn(WSCONN_STREAM);

		put(s, "\x82\x01x", 3);
		memcpy(s + 3, bad[i], 2);
		assert_int_equal(wsconn_unwrap(w, s, 5, &got), WSCONN_BAD);
		assert_int_equal(got, 1); /* what came before is kept */
		wsconn_free(w);
	}
	{
		/* A new message inside a fragmented one. */
		struct wsconn *w = open_conn(WSCONN_STREAM);

		put(s, "\x02\x01x\x82\x01y", 6);
		assert_int_equal(wsconn_unwrap(w, s, 6, &got), WSCONN_BAD);
		wsconn_free(w);
	}
}

static void
wsconn_unwrap_stops_at_a_close_and_echoes_its_code(void **state)
{
	struct wsconn *w = open_conn(WSCONN_STREAM);
	uint8_t s[32], back[8];
	const uint8_t *ctl;
	size_t n = 0, got, pending;
	uint8_t op;
	int fin;

	(void)state;
	n += server_frame(s + n, 0x82, "ab", 2);
	n += server_frame(s + n, 0x88, "\x03\xe9gone", 6);
	n += server_frame(s + n, 0x82, "cd", 2);
	assert_int_equal(wsconn_unwrap(w, s, n, &got), WSCONN_CLOSED);
	assert_int_equal(got, 2);
	assert_memory_equal(s, "ab", 2);
	assert_int_equal(wsconn_close_code(w), 1001);
	ctl = wsconn_ctl(w, &pending);
	assert_int_equal(pending, 2 + 4 + 2);
	assert_int_equal(client_frame_read(ctl, &op, &fin, back), 2);
	assert_int_equal(op, HWIRE_WS_CLOSE);
	assert_memory_equal(back, "\x03\xe9", 2);
	wsconn_free(w);
}

static void
wsconn_next_hands_over_messages_and_gathers_fragments(void **state)
{
	struct wsconn *w = open_conn(WSCONN_MESSAGES);
	uint8_t s[256], *msg;
	size_t n = 0, k, len, used, off = 0, pending;

	(void)state;
	n += server_frame(s + n, 0x81, "{\"a\":1}", 7);
	n += server_frame(s + n, 0x01, "{\"b\"", 4);
	n += server_frame(s + n, 0x89, "p", 1);
	n += server_frame(s + n, 0x00, ":", 1);
	n += server_frame(s + n, 0x80, "2}", 2);
	n += server_frame(s + n, 0x81, "{}", 2);
	/* Every cut of the fragmented message is "more", and touches nothing. */
	for (k = 9; k < 9 + 6 + 3 + 3 + 4; k++) {
		uint8_t copy[256];

		memcpy(copy, s, n);
		assert_int_equal(wsconn_next(w, copy + 9, k - 9, &msg, &len, &used), WSCONN_MORE);
		assert_memory_equal(copy, s, n);
	}
	assert_int_equal(wsconn_next(w, s, n, &msg, &len, &used), WSCONN_OK);
	assert_int_equal(len, 7);
	assert_memory_equal(msg, "{\"a\":1}", 7);
	off += used;
	assert_int_equal(wsconn_next(w, s + off, n - off, &msg, &len, &used), WSCONN_OK);
	assert_int_equal(len, 7);
	assert_memory_equal(msg, "{\"b\":2}", 7);
	(void)wsconn_ctl(w, &pending);
	assert_int_equal(pending, 2 + 4 + 1); /* the ping between, answered */
	wsconn_ctl_taken(w);
	off += used;
	assert_int_equal(wsconn_next(w, s + off, n - off, &msg, &len, &used), WSCONN_OK);
	assert_int_equal(len, 2);
	off += used;
	assert_int_equal(off, n);
	assert_int_equal(wsconn_next(w, s + off, 0, &msg, &len, &used), WSCONN_MORE);
	wsconn_free(w);
}

static void
wsconn_next_refuses_binary_and_too_big_at_once(void **state)
{
	uint8_t s[16], *msg;
	size_t len, used;
	struct wsconn *w = open_conn(WSCONN_MESSAGES);

	(void)state;
	put(s, "\x82\x01x", 3);
	assert_int_equal(wsconn_next(w, s, 3, &msg, &len, &used), WSCONN_BAD);
	wsconn_free(w);
	/* A head naming more than WSCONN_MESSAGE_MAX: no need to wait. */
	w = open_conn(WSCONN_MESSAGES);
	put(s, "\x81\x7f\x00\x00\x00\x00\x00\x10\x00\x01", 10);
	assert_int_equal(wsconn_next(w, s, 10, &msg, &len, &used), WSCONN_BAD);
	wsconn_free(w);
	/* Fragments adding up to more. */
	w = open_conn(WSCONN_MESSAGES);
	put(s, "\x01\x7f\x00\x00\x00\x00\x00\x10\x00\x00", 10);
	put(s + 10, "\x80\x01", 2);
	{
		uint8_t *big = calloc(1, WSCONN_MESSAGE_MAX + 16);

		assert_non_null(big);
		memcpy(big, s, 10);
		put(big + 10 + WSCONN_MESSAGE_MAX, "\x80\x01x", 3);
		assert_int_equal(
		        wsconn_next(w, big, 10 + WSCONN_MESSAGE_MAX + 3, &msg, &len, &used),
		        WSCONN_BAD);
		free(big);
	}
	wsconn_free(w);
}

/* Write p[0, n) through w's iovecs in writes of at most step bytes,
 * appending what goes to the wire to wire; the bytes of p that went. */
static size_t
write_in_pieces(struct wsconn *w, uint8_t *p, size_t n, size_t step, uint8_t *wire, size_t *wlen)
{
	size_t sent = 0;

	for (;;) {
		struct iovec iov[3];
		int cnt = wsconn_iov(w, p + sent, n - sent, iov), i;
		size_t room = step, wrote = 0;

		if (cnt == 0)
			return sent;
		for (i = 0; i < cnt && room; i++) {
			size_t k = iov[i].iov_len < room ? iov[i].iov_len : room;

			memcpy(wire + *wlen, iov[i].iov_base, k);
			*wlen += k;
			wrote += k;
			room -= k;
		}
		sent += wsconn_wrote(w, wrote);
	}
}

static void
wsconn_iov_writes_one_masked_frame_through_short_writes(void **state)
{
	uint8_t data[300], copy[300], wire[400], back[300];
	size_t step, i;

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13);
	for (step = 1; step < 320; step += 17) {
		struct wsconn *w = open_conn(WSCONN_STREAM);
		size_t wlen = 0, sent;
		uint8_t op;
		int fin;

		memcpy(copy, data, sizeof(data));
		sent = write_in_pieces(w, copy, sizeof(copy), step, wire, &wlen);
		assert_int_equal(sent, sizeof(data));
		assert_int_equal(wlen, sizeof(data) + 8);
		assert_int_equal(client_frame_read(wire, &op, &fin, back), sizeof(data));
		assert_int_equal(op, HWIRE_WS_BINARY);
		assert_int_equal(fin, 1);
		assert_memory_equal(back, data, sizeof(data));
		assert_false(wsconn_pending(w));
		wsconn_free(w);
	}
}

static void
wsconn_iov_sends_a_pong_between_frames_never_inside_one(void **state)
{
	struct wsconn *w = open_conn(WSCONN_STREAM);
	uint8_t data[8] = "abcdefgh", wire[64], in[8], back[16];
	struct iovec iov[3];
	size_t got, wlen = 0, at;
	uint8_t op;
	int fin, cnt;

	(void)state;
	/* A frame begins, half of it is written, then a ping comes. */
	cnt = wsconn_iov(w, data, sizeof(data), iov);
	assert_int_equal(cnt, 2);
	memcpy(wire, iov[0].iov_base, iov[0].iov_len);
	wlen = iov[0].iov_len;
	assert_int_equal(wsconn_wrote(w, iov[0].iov_len), 0);
	server_frame(in, 0x89, "pi", 2);
	assert_int_equal(wsconn_unwrap(w, in, 4, &got), WSCONN_OK);
	/* The frame is finished first; the pong follows. */
	assert_int_equal(write_in_pieces(w, data, sizeof(data), 64, wire, &wlen), sizeof(data));
	at = client_frame_read(wire, &op, &fin, back);
	assert_int_equal(at, 8);
	assert_int_equal(op, HWIRE_WS_BINARY);
	assert_memory_equal(back, "abcdefgh", 8);
	assert_int_equal(client_frame_read(wire + 14, &op, &fin, back), 2);
	assert_int_equal(op, HWIRE_WS_PONG);
	assert_memory_equal(back, "pi", 2);
	assert_int_equal(wlen, 14 + 8);
	wsconn_free(w);
}

static void
wsconn_frame_masks_a_whole_message(void **state)
{
	struct wsconn *w = sample_conn(WSCONN_MESSAGES);
	uint8_t out[64], back[64];
	size_t n;
	uint8_t op;
	int fin;

	(void)state;
	n = wsconn_frame(w, HWIRE_WS_TEXT, "{\"type\":\"quit\"}", 15, out);
	assert_int_equal(n, 6 + 15);
	assert_int_equal(client_frame_read(out, &op, &fin, back), 15);
	assert_int_equal(op, HWIRE_WS_TEXT);
	assert_memory_equal(back, "{\"type\":\"quit\"}", 15);
	wsconn_free(w);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(head_reads_status_length_and_size_of_a_chatd_answer),
	        cmocka_unit_test(head_says_more_for_every_cut_before_its_blank_line),
	        cmocka_unit_test(head_reads_close_stream_and_no_length),
	        cmocka_unit_test(head_refuses_what_chatd_never_sends),
	        cmocka_unit_test(head_gives_up_at_its_bound),
	        cmocka_unit_test(header_finds_a_value_by_name_in_any_case_without_blanks),
	        cmocka_unit_test(header_is_null_when_absent_repeated_or_only_a_prefix),
	        cmocka_unit_test(event_reads_id_name_and_data_and_says_more_for_every_cut),
	        cmocka_unit_test(event_reads_crlf_comments_and_the_default_name),
	        cmocka_unit_test(event_refuses_what_chatd_never_sends),
	        cmocka_unit_test(event_gives_up_at_its_bound),
	        cmocka_unit_test(ws_head_reads_each_length_form_and_says_more_for_every_cut),
	        cmocka_unit_test(ws_head_refuses_what_chatd_never_sends),
	        cmocka_unit_test(ws_head_refuses_a_length_over_max_before_its_payload),
	        cmocka_unit_test(ws_put_head_and_mask_make_the_rfc_6455_example),
	        cmocka_unit_test(ws_put_head_writes_each_length_form_read_back),
	        cmocka_unit_test(ws_mask_equals_the_bytewise_xor_at_every_length_and_alignment),
	        cmocka_unit_test(ws_key_and_accept_make_the_rfc_6455_example),
	        cmocka_unit_test(wsconn_request_offers_its_key_and_subprotocol),
	        cmocka_unit_test(wsconn_handshake_accepts_the_101_read_in_any_pieces),
	        cmocka_unit_test(wsconn_handshake_refuses_a_wrong_accept_protocol_or_upgrade),
	        cmocka_unit_test(wsconn_handshake_reads_a_refusal_and_its_body),
	        cmocka_unit_test(wsconn_handshake_gives_up_at_its_bound),
	        cmocka_unit_test(wsconn_unwrap_gives_the_same_stream_for_every_read_size),
	        cmocka_unit_test(wsconn_unwrap_refuses_text_and_fragments_out_of_order),
	        cmocka_unit_test(wsconn_unwrap_stops_at_a_close_and_echoes_its_code),
	        cmocka_unit_test(wsconn_next_hands_over_messages_and_gathers_fragments),
	        cmocka_unit_test(wsconn_next_refuses_binary_and_too_big_at_once),
	        cmocka_unit_test(wsconn_iov_writes_one_masked_frame_through_short_writes),
	        cmocka_unit_test(wsconn_iov_sends_a_pong_between_frames_never_inside_one),
	        cmocka_unit_test(wsconn_frame_masks_a_whole_message),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
