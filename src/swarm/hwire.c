/*
 * Response heads, event blocks and WebSocket frame heads.  Heads and
 * blocks are searched for their end with memchr() or memmem() rather than
 * byte by byte, since an event stream to a thousand readers is the
 * swarm's busiest input, and every reader gives up at its bound instead of
 * waiting for more.  Masking goes eight bytes at a time: a WebSocket
 * sender masks every byte it sends.
 */
#include "swarm/hwire.h"

#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#define HWIRE_LENGTH_MAX ((int64_t)1 << 40) /* a Content-Length beyond any answer */

/* Is c a character of an HTTP token (RFC 9110 tchar)? */
static int
tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Does the header name [p, p + n) equal name, ignoring case? */
static int
named(const char *p, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* One header line [p, p + n), without its CRLF, into h; -1 if malformed. */
static int
header_line(const char *p, size_t n, struct hwire_head *h, int *have_length)
{
	const char *colon = memchr(p, ':', n), *v, *end = p + n;
	size_t name_len, vlen, i;

	if (colon == NULL || colon == p)
		return -1;
	name_len = (size_t)(colon - p);
	for (i = 0; i < name_len; i++)
		if (!tchar((unsigned char)p[i]))
			return -1;
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	vlen = (size_t)(end - v);
	for (i = 0; i < vlen; i++)
		if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
			return -1;
	if (named(p, name_len, "content-length")) {
		int64_t x = 0;

		if (*have_length || vlen == 0)
			return -1;
		for (i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9' || x > HWIRE_LENGTH_MAX)
				return -1;
			x = x * 10 + (v[i] - '0');
		}
		*have_length = 1;
		h->length = x;
	} else if (named(p, name_len, "connection")) {
		h->close = vlen == 5 && strncasecmp(v, "close", 5) == 0;
	} else if (named(p, name_len, "content-type")) {
		h->stream = vlen >= 17 && strncasecmp(v, "text/event-stream", 17) == 0;
	} else if (named(p, name_len, "transfer-encoding")) {
		return -1; /* chatd sends lengths; a chunked answer is not its own */
	}
	return 0;
}

enum hwire_result
hwire_head(const char *p, size_t n, struct hwire_head *h)
{
	static const char version[] = "HTTP/1.1 ";
	size_t look = n < HWIRE_HEAD_MAX ? n : HWIRE_HEAD_MAX, i, line_end;
	const char *end;
	int have_length = 0;

	/* What is not a response is refused at once, not after 16 KiB. */
	if (memcmp(p, version, n < 9 ? n : 9) != 0)
		return HWIRE_BAD;
	end = memmem(p, look, "\r\n\r\n", 4);
	if (end == NULL)
		return n >= HWIRE_HEAD_MAX ? HWIRE_BAD : HWIRE_MORE;
	memset(h, 0, sizeof(*h));
	h->length = -1;
	h->size = (size_t)(end - p) + 4;
	/* The status line: three digits, then a space and a reason, or not. */
	line_end = (size_t)((const char *)memmem(p, h->size, "\r\n", 2) - p);
	if (line_end < 12 || p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9' || (line_end > 12 && p[12] != ' '))
		return HWIRE_BAD;
	h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	for (i = 12; i < line_end; i++)
		if ((unsigned char)p[i] < 0x20 && p[i] != '\t')
			return HWIRE_BAD;
	/* Each header line, up to the blank one. */
	for (i = line_end + 2; i < h->size - 2;) {
		const char *crlf = memmem(p + i, h->size - i, "\r\n", 2);
		size_t len = (size_t)(crlf - (p + i));

		if (memchr(p + i, '\n', len) != NULL || memchr(p + i, '\r', len) != NULL)
			return HWIRE_BAD; /* a bare CR or LF inside a line */
		if (header_line(p + i, len, h, &have_length) < 0)
			return HWIRE_BAD;
		i += len + 2;
	}
	return HWIRE_OK;
}

/* One field line [p, p + n) of an event block into e; -1 if malformed. */
static int
event_line(const char *p, size_t n, struct hwire_event *e, int *have_data, int *have_name)
{
	const char *colon = memchr(p, ':', n), *v;
	size_t name_len = colon ? (size_t)(colon - p) : n, vlen, i;

	v = colon ? colon + 1 : p + n;
	if (v < p + n && *v == ' ')
		v++;
	vlen = (size_t)(p + n - v);
	if (name_len == 2 && memcmp(p, "id", 2) == 0) {
		uint64_t x = 0;

		if (e->has_id || vlen == 0 || vlen > 19)
			return -1;
		for (i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9')
				return -1;
			x = x * 10 + (uint64_t)(v[i] - '0');
		}
		e->id = x;
		e->has_id = 1;
	} else if (name_len == 5 && memcmp(p, "event", 5) == 0) {
		if (*have_name)
			return -1;
		*have_name = 1;
		e->name = v;
		e->name_len = vlen;
	} else if (name_len == 4 && memcmp(p, "data", 4) == 0) {
		if (*have_data)
			return -1; /* chatd sends one data line an event */
		*have_data = 1;
		e->data = v;
		e->data_len = vlen;
	} else {
		return -1;
	}
	return 0;
}

enum hwire_result
hwire_event(const char *p, size_t n, struct hwire_event *e)
{
	size_t look = n < HWIRE_EVENT_MAX ? n : HWIRE_EVENT_MAX, i = 0;
	int have_data = 0, have_name = 0, fields = 0, comments = 0;

	memset(e, 0, sizeof(*e));
	e->name = "message"; /* the SSE default, for a block without "event:" */
	e->name_len = 7;
	for (;;) {
		const char *nl = memchr(p + i, '\n', look - i);
		size_t len;

		if (nl == NULL)
			return n >= HWIRE_EVENT_MAX ? HWIRE_BAD : HWIRE_MORE;
		len = (size_t)(nl - (p + i));
		if (len && p[i + len - 1] == '\r')
			len--;
		if (memchr(p + i, '\r', len) != NULL)
			return HWIRE_BAD;
		if (len == 0) {
			i = (size_t)(nl - p) + 1;
			break;
		}
		if (p[i] == ':')
			comments++;
		else if (event_line(p + i, len, e, &have_data, &have_name) < 0)
			return HWIRE_BAD;
		else
			fields++;
		i = (size_t)(nl - p) + 1;
	}
	if (fields == 0 && comments == 0)
		return HWIRE_BAD; /* an empty block: chatd never sends one */
	if (fields && !have_data)
		return HWIRE_BAD;
	e->comment = fields == 0;
	e->size = i;
	return HWIRE_OK;
}

const char *
hwire_header(const char *p, size_t size, const char *name, size_t *len)
{
	size_t want = strlen(name), i;
	const char *found = NULL, *eol;

	*len = 0;
	if (size < 4 || (eol = memmem(p, size, "\r\n", 2)) == NULL)
		return NULL;
	/* Each line after the status line, up to the blank one; hwire_head()
	 * has checked that each has a colon and no bare CR or LF. */
	for (i = (size_t)(eol - p) + 2; i + 2 < size;) {
		const char *line = p + i, *v, *end;
		size_t n;

		if ((eol = memmem(line, size - i, "\r\n", 2)) == NULL)
			return NULL;
		n = (size_t)(eol - line);
		i += n + 2;
		if (n <= want || line[want] != ':' || strncasecmp(line, name, want) != 0)
			continue;
		if (found)
			return NULL; /* twice: which one holds? */
		for (v = line + want + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (end = eol; end > v && (end[-1] == ' ' || end[-1] == '\t'); end--)
			;
		found = v;
		*len = (size_t)(end - v);
	}
	if (found == NULL)
		*len = 0;
	return found;
}

enum hwire_result
hwire_ws_head(const uint8_t *p, size_t n, uint64_t max, struct hwire_ws *f)
{
	uint64_t len;
	size_t i;

	if (n < 2)
		return HWIRE_MORE;
	f->fin = p[0] >> 7;
	f->opcode = p[0] & 0x0f;
	if ((p[0] & 0x70) || (p[1] & 0x80))
		return HWIRE_BAD; /* an RSV bit (no extension was agreed), or masked */
	switch (f->opcode) {
	case HWIRE_WS_CONT:
	case HWIRE_WS_TEXT:
	case HWIRE_WS_BINARY:
		break;
	case HWIRE_WS_CLOSE:
	case HWIRE_WS_PING:
	case HWIRE_WS_PONG:
		if (!f->fin || (p[1] & 0x7f) > HWIRE_WS_CONTROL_MAX)
			return HWIRE_BAD;
		break;
	default:
		return HWIRE_BAD;
	}
	len = p[1] & 0x7f;
	f->size = 2;
	if (len == 126) {
		if (n < 4)
			return HWIRE_MORE;
		len = (uint64_t)p[2] << 8 | p[3];
		f->size = 4;
		if (len < 126)
			return HWIRE_BAD; /* not the shortest form */
	} else if (len == 127) {
		if (n < 10)
			return HWIRE_MORE;
		for (len = 0, i = 2; i < 10; i++)
			len = len << 8 | p[i];
		f->size = 10;
		if (len <= 0xffff || (len >> 63))
			return HWIRE_BAD;
	}
	if (len > max)
		return HWIRE_BAD;
	f->len = len;
	return HWIRE_OK;
}

size_t
hwire_ws_put_head(uint8_t *out, uint8_t opcode, int fin, uint64_t len, const uint8_t key[4])
{
	size_t n = 2, i;

	out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (len < 126) {
		out[1] = (uint8_t)(0x80 | len);
	} else if (len <= 0xffff) {
		out[1] = 0x80 | 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		n = 4;
	} else {
		out[1] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	memcpy(out + n, key, 4);
	return n + 4;
}

void
hwire_ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4])
{
	uint8_t k8[8];
	uint64_t k, x;
	size_t i = 0;

	/* The key repeats every four bytes: as a word of two copies, in
	 * memory order, it masks eight bytes whatever the byte order. */
	memcpy(k8, key, 4);
	memcpy(k8 + 4, key, 4);
	memcpy(&k, k8, 8);
	for (; i + 8 <= n; i += 8) {
		memcpy(&x, src + i, 8);
		x ^= k;
		memcpy(dst + i, &x, 8);
	}
	for (; i < n; i++)
		dst[i] = src[i] ^ key[i & 3];
}

void
hwire_ws_key(const uint8_t nonce[16], char out[HWIRE_WS_KEY_LEN + 1])
{
	EVP_EncodeBlock((unsigned char *)out, nonce, 16);
}

int
hwire_ws_accept(const char *key, size_t n, char out[HWIRE_WS_ACCEPT_LEN + 1])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
	         EVP_DigestUpdate(ctx, key, n) == 1 &&
	         EVP_DigestUpdate(ctx, guid, sizeof(guid) - 1) == 1 &&
	         EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20;

	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	return 0;
}
