/*
 * A bot's WebSocket, between the bot and its socket.  Reading unwraps in
 * place: in stream mode the payloads of data frames are moved to the
 * front of the bytes read, over the heads between them, so that the
 * framed bot parses one contiguous run per read, and only a head cut by
 * the read (or a control frame) is kept for the next; in message mode a
 * message in one frame (what chatd always sends) is handed over where it
 * lies, and a fragmented one is gathered in place once it is whole.
 * Writing masks with one key per connection, eight bytes at a time; in
 * stream mode a write's bytes are masked where they lie in the bot's
 * buffer and go out behind a head, as one frame.
 */
#include "swarm/wsconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WSCONN_CTL_MAX (2 * (HWIRE_WS_HEAD_MAX + HWIRE_WS_CONTROL_MAX)) /* a pong and a close */
#define WSCONN_NO_CODE 1005 /* a close frame without a code (RFC 6455 7.4.1) */

struct wsconn {
	uint8_t mode;   /* enum wsconn_mode */
	uint8_t open;   /* the 101 has been read */
	uint8_t in_msg; /* stream mode: a fragmented binary message is open */
	uint8_t mask[4];
	char key[HWIRE_WS_KEY_LEN + 1];
	uint16_t close_code;
	/* The answer to the upgrade while it arrives, and a refusal's. */
	char *answer;
	size_t answer_len;
	int status;
	size_t body_off, body_len;
	/* Reading, stream mode. */
	uint64_t rx_left; /* payload bytes of the data frame being read */
	uint8_t keep[WSCONN_KEEP_MAX];
	size_t keep_len;
	/* Writing, stream mode: the frame under way. */
	uint8_t hdr[HWIRE_WS_HEAD_MAX];
	uint8_t hdr_len, hdr_off;
	size_t tx_left; /* its payload bytes not yet written, at the front of the caller's */
	size_t iov_ctl; /* bytes of ctl in the last wsconn_iov() */
	/* Control frames owed, masked. */
	uint8_t ctl[WSCONN_CTL_MAX];
	size_t ctl_len, ctl_off;
};

static struct wsconn_stats stats;

/* calloc(), or the end of the run: the swarm has no memory to spare. */
static void *
wsconn_alloc(size_t n)
{
	void *p = calloc(1, n);

	if (p == NULL) {
		fputs("chatd-swarm: out of memory\n", stderr);
		exit(2);
	}
	return p;
}

struct wsconn *
wsconn_new(enum wsconn_mode mode)
{
	struct wsconn *w = wsconn_alloc(sizeof(*w));

	w->mode = (uint8_t)mode;
	return w;
}

void
wsconn_free(struct wsconn *w)
{
	if (w) {
		free(w->answer);
		free(w);
	}
}

void
wsconn_reset(struct wsconn *w, const uint8_t rnd[20])
{
	uint8_t mode = w->mode;

	free(w->answer);
	memset(w, 0, sizeof(*w));
	w->mode = mode;
	hwire_ws_key(rnd, w->key);
	memcpy(w->mask, rnd + 16, 4);
}

size_t
wsconn_request(const struct wsconn *w, const char *host, char *out)
{
	int n = snprintf(out, WSCONN_REQUEST_MAX,
	                 "GET /ws HTTP/1.1\r\nHost: %.200s\r\nUpgrade: websocket\r\n"
	                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
	                 host, w->key, w->mode == WSCONN_STREAM ? "chatd.framed" : "chatd.json");

	return n > 0 && n < WSCONN_REQUEST_MAX ? (size_t)n : 0;
}

/* Does the header value v[0, n) equal s, ignoring case? */
static int
value_is(const char *v, size_t n, const char *s)
{
	return v != NULL && n == strlen(s) && strncasecmp(v, s, n) == 0;
}

/* Does the 101's head h[0, size) accept our key and name our subprotocol? */
static int
accepted(const struct wsconn *w, const char *h, size_t size)
{
	char want[HWIRE_WS_ACCEPT_LEN + 1];
	const char *v;
	size_t n;

	if (hwire_ws_accept(w->key, strlen(w->key), want) < 0)
		return 0;
	v = hwire_header(h, size, "sec-websocket-accept", &n);
	if (v == NULL || n != HWIRE_WS_ACCEPT_LEN || memcmp(v, want, n) != 0)
		return 0;
	v = hwire_header(h, size, "sec-websocket-protocol", &n);
	if (!value_is(v, n, w->mode == WSCONN_STREAM ? "chatd.framed" : "chatd.json"))
		return 0;
	v = hwire_header(h, size, "upgrade", &n);
	if (!value_is(v, n, "websocket"))
		return 0;
	v = hwire_header(h, size, "connection", &n);
	return value_is(v, n, "upgrade");
}

enum wsconn_status
wsconn_handshake(struct wsconn *w, const uint8_t *p, size_t n, size_t *used)
{
	size_t had = w->answer_len,
	       take = n < WSCONN_ANSWER_MAX - had ? n : WSCONN_ANSWER_MAX - had;
	struct hwire_head hd;

	*used = 0;
	if (w->open || w->status)
		return WSCONN_BAD; /* answered already */
	if (w->answer == NULL)
		w->answer = wsconn_alloc(WSCONN_ANSWER_MAX);
	memcpy(w->answer + had, p, take);
	w->answer_len += take;
	switch (hwire_head(w->answer, w->answer_len, &hd)) {
	case HWIRE_MORE:
		*used = take;
		return w->answer_len < WSCONN_ANSWER_MAX ? WSCONN_MORE : WSCONN_BAD;
	case HWIRE_BAD:
		return WSCONN_BAD;
	default:
		break;
	}
	if (hd.status != 101) {
		/* A refusal says why in a body of its Content-Length. */
		size_t body = hd.length > 0 ? (size_t)hd.length : 0;

		if (body > WSCONN_ANSWER_MAX - hd.size)
			return WSCONN_BAD;
		*used = take;
		if (w->answer_len - hd.size < body)
			return WSCONN_MORE;
		w->status = hd.status;
		w->body_off = hd.size;
		w->body_len = body;
		stats.refusals++;
		return WSCONN_REFUSED;
	}
	/* A 101 has no body: what follows its head is frames. */
	if (hd.length > 0 || hd.size <= had || !accepted(w, w->answer, hd.size))
		return WSCONN_BAD;
	*used = hd.size - had;
	free(w->answer);
	w->answer = NULL;
	w->answer_len = 0;
	w->open = 1;
	stats.handshakes++;
	return WSCONN_OK;
}

int
wsconn_open(const struct wsconn *w)
{
	return w->open;
}

void
wsconn_refusal(const struct wsconn *w, int *status, const char **body, size_t *len)
{
	*status = w->status;
	*body = w->answer ? w->answer + w->body_off : "";
	*len = w->answer ? w->body_len : 0;
}

/* Owe the server a control frame (a pong, a close's echo).  When two are
 * owed already the new one is left out: a pong answers only the latest
 * ping anyway (RFC 6455 5.5.3). */
static void
ctl_put(struct wsconn *w, uint8_t opcode, const uint8_t *p, size_t n)
{
	size_t h;

	if (w->ctl_len + HWIRE_WS_HEAD_MAX + n > sizeof(w->ctl))
		return;
	h = hwire_ws_put_head(w->ctl + w->ctl_len, opcode, 1, n, w->mask);
	hwire_ws_mask(w->ctl + w->ctl_len + h, p, n, w->mask);
	w->ctl_len += h + n;
}

/* A control frame f, its payload p: a ping is answered, a close echoed. */
static enum wsconn_status
control(struct wsconn *w, const struct hwire_ws *f, const uint8_t *p)
{
	if (f->opcode == HWIRE_WS_PING) {
		stats.pings++;
		ctl_put(w, HWIRE_WS_PONG, p, (size_t)f->len);
		return WSCONN_OK;
	}
	if (f->opcode == HWIRE_WS_PONG)
		return WSCONN_OK; /* not asked for: ignored */
	stats.closes++;
	if (f->len == 1)
		return WSCONN_BAD; /* a code is two bytes */
	w->close_code = f->len ? (uint16_t)(p[0] << 8 | p[1]) : WSCONN_NO_CODE;
	ctl_put(w, HWIRE_WS_CLOSE, p, f->len ? 2 : 0);
	return WSCONN_CLOSED;
}

uint8_t *
wsconn_restore(struct wsconn *w, uint8_t *at)
{
	at -= w->keep_len;
	memcpy(at, w->keep, w->keep_len);
	w->keep_len = 0;
	return at;
}

enum wsconn_status
wsconn_unwrap(struct wsconn *w, uint8_t *p, size_t n, size_t *out)
{
	enum wsconn_status s;
	struct hwire_ws f;
	size_t i = 0, o = 0;

	*out = 0;
	while (i < n) {
		if (w->rx_left) {
			/* The payload of the frame under way: to the front. */
			size_t k = w->rx_left < n - i ? (size_t)w->rx_left : n - i;

			if (o != i)
				memmove(p + o, p + i, k);
			o += k;
			i += k;
			w->rx_left -= k;
			continue;
		}
		switch (hwire_ws_head(p + i, n - i, WSCONN_STREAM_MAX, &f)) {
		case HWIRE_MORE:
			goto cut;
		case HWIRE_BAD:
			*out = o;
			return WSCONN_BAD;
		default:
			break;
		}
		if (f.opcode >= HWIRE_WS_CLOSE) {
			if (n - i - f.size < f.len)
				goto cut;
			s = control(w, &f, p + i + f.size);
			i += f.size + (size_t)f.len;
			if (s != WSCONN_OK) {
				*out = o;
				return s;
			}
			continue;
		}
		/* A binary message, or the next fragment of the one open. */
		if (f.opcode == HWIRE_WS_TEXT || (f.opcode == HWIRE_WS_CONT) != w->in_msg) {
			*out = o;
			return WSCONN_BAD;
		}
		w->in_msg = !f.fin;
		w->rx_left = f.len;
		i += f.size;
		stats.frames_in++;
	}
cut:
	/* A head, or a control frame, cut by the read: shorter than
	 * WSCONN_KEEP_MAX, as hwire_ws_head() bounds both. */
	w->keep_len = n - i;
	if (w->keep_len)
		memcpy(w->keep, p + i, w->keep_len);
	*out = o;
	return WSCONN_OK;
}

int
wsconn_iov(struct wsconn *w, uint8_t *p, size_t n, struct iovec iov[3])
{
	int cnt = 0;

	w->iov_ctl = 0;
	if (w->tx_left == 0 && w->hdr_off == w->hdr_len) {
		/* Between frames: control frames first, then a new frame. */
		if (w->ctl_off < w->ctl_len) {
			w->iov_ctl = w->ctl_len - w->ctl_off;
			iov[cnt].iov_base = w->ctl + w->ctl_off;
			iov[cnt++].iov_len = w->iov_ctl;
		}
		if (n > 0) {
			w->hdr_len =
			        (uint8_t)hwire_ws_put_head(w->hdr, HWIRE_WS_BINARY, 1, n, w->mask);
			w->hdr_off = 0;
			hwire_ws_mask(p, p, n, w->mask);
			w->tx_left = n;
			stats.frames_out++;
		}
	}
	if (w->hdr_off < w->hdr_len) {
		iov[cnt].iov_base = w->hdr + w->hdr_off;
		iov[cnt++].iov_len = (size_t)(w->hdr_len - w->hdr_off);
	}
	if (w->tx_left) {
		iov[cnt].iov_base = p;
		iov[cnt++].iov_len = w->tx_left;
	}
	return cnt;
}

size_t
wsconn_wrote(struct wsconn *w, size_t k)
{
	size_t c = k < w->iov_ctl ? k : w->iov_ctl, h, d;

	w->ctl_off += c;
	k -= c;
	w->iov_ctl = 0;
	if (w->ctl_off == w->ctl_len)
		w->ctl_off = w->ctl_len = 0;
	h = k < (size_t)(w->hdr_len - w->hdr_off) ? k : (size_t)(w->hdr_len - w->hdr_off);
	w->hdr_off = (uint8_t)(w->hdr_off + h);
	k -= h;
	d = k < w->tx_left ? k : w->tx_left;
	w->tx_left -= d;
	return d;
}

int
wsconn_pending(const struct wsconn *w)
{
	return w->ctl_off < w->ctl_len || w->hdr_off < w->hdr_len || w->tx_left > 0;
}

/* A fragmented text message from p[i]: once all of it is in p[0, n) (and
 * within bounds), its payloads gathered in place from p[i]. */
static enum wsconn_status
gather(struct wsconn *w, uint8_t *p, size_t n, size_t i, uint8_t **msg, size_t *len, size_t *used)
{
	enum wsconn_status s;
	struct hwire_ws f;
	size_t j, total = 0, frames = 0, at = 0;

	/* First look: nothing is touched, so that a call with more bytes can
	 * look again. */
	for (j = i;;) {
		switch (hwire_ws_head(p + j, n - j, WSCONN_MESSAGE_MAX, &f)) {
		case HWIRE_MORE:
			return WSCONN_MORE;
		case HWIRE_BAD:
			return WSCONN_BAD;
		default:
			break;
		}
		/* Control frames between the fragments count too: they are
		 * buffered with them. */
		if (++frames > (size_t)2 * WSCONN_FRAGMENTS_MAX)
			return WSCONN_BAD;
		if (f.opcode < HWIRE_WS_CLOSE) {
			if ((j == i) != (f.opcode == HWIRE_WS_TEXT) || f.opcode == HWIRE_WS_BINARY)
				return WSCONN_BAD;
			total += (size_t)f.len;
			if (total > WSCONN_MESSAGE_MAX)
				return WSCONN_BAD;
		}
		if (n - j - f.size < f.len)
			return WSCONN_MORE;
		j += f.size + (size_t)f.len;
		if (f.opcode < HWIRE_WS_CLOSE && f.fin)
			break;
	}
	/* Then gather: each payload moves back over the heads before it, never
	 * past its own end, so the frames after it are intact when read. */
	for (j = i;;) {
		const uint8_t *pl;

		(void)hwire_ws_head(p + j, n - j, WSCONN_MESSAGE_MAX, &f);
		pl = p + j + f.size;
		if (f.opcode >= HWIRE_WS_CLOSE) {
			if ((s = control(w, &f, pl)) != WSCONN_OK) {
				*used = j + f.size + (size_t)f.len;
				return s;
			}
		} else {
			memmove(p + i + at, pl, (size_t)f.len);
			at += (size_t)f.len;
			stats.frames_in++;
		}
		j += f.size + (size_t)f.len;
		if (f.opcode < HWIRE_WS_CLOSE && f.fin)
			break;
	}
	*msg = p + i;
	*len = at;
	*used = j;
	return WSCONN_OK;
}

enum wsconn_status
wsconn_next(struct wsconn *w, uint8_t *p, size_t n, uint8_t **msg, size_t *len, size_t *used)
{
	enum wsconn_status s;
	struct hwire_ws f;
	size_t i = 0;

	*used = 0;
	for (;;) {
		if (i == n)
			return WSCONN_MORE; /* nothing to read (p may even be NULL) */
		switch (hwire_ws_head(p + i, n - i, WSCONN_MESSAGE_MAX, &f)) {
		case HWIRE_MORE:
			return WSCONN_MORE;
		case HWIRE_BAD:
			return WSCONN_BAD;
		default:
			break;
		}
		if (f.opcode >= HWIRE_WS_CLOSE) {
			if (n - i - f.size < f.len)
				return WSCONN_MORE;
			s = control(w, &f, p + i + f.size);
			i += f.size + (size_t)f.len;
			*used = i;
			if (s != WSCONN_OK)
				return s;
			continue;
		}
		if (f.opcode != HWIRE_WS_TEXT)
			return WSCONN_BAD; /* binary, or a fragment of no message */
		if (!f.fin)
			return gather(w, p, n, i, msg, len, used);
		if (n - i - f.size < f.len)
			return WSCONN_MORE;
		stats.frames_in++;
		*msg = p + i + f.size;
		*len = (size_t)f.len;
		*used = i + f.size + (size_t)f.len;
		return WSCONN_OK;
	}
}

size_t
wsconn_frame(struct wsconn *w, uint8_t opcode, const void *p, size_t n, uint8_t *out)
{
	size_t h = hwire_ws_put_head(out, opcode, 1, n, w->mask);

	hwire_ws_mask(out + h, p, n, w->mask);
	stats.frames_out++;
	return h + n;
}

const uint8_t *
wsconn_ctl(const struct wsconn *w, size_t *n)
{
	*n = w->ctl_len - w->ctl_off;
	return w->ctl + w->ctl_off;
}

void
wsconn_ctl_taken(struct wsconn *w)
{
	w->ctl_len = w->ctl_off = 0;
}

uint16_t
wsconn_close_code(const struct wsconn *w)
{
	return w->close_code;
}

const struct wsconn_stats *
wsconn_stats(void)
{
	return &stats;
}
