/*
 * The WebSocket transport (see ws.h).  Frames are read with wslay's frame
 * API, which checks their layout and unmasks them; chatd checks what RFC
 * 6455 leaves to the endpoint (masking, RSV bits, opcodes, control frame
 * sizes, the order of fragments).
 *
 * Memory.  A wslay frame context holds a 4 KiB input buffer, more than an
 * idle chatd connection's whole footprint, and it is only needed while a
 * frame is half read.  So contexts live in a small pool: a connection
 * takes one when bytes arrive and gives it back as soon as everything it
 * read was whole frames, which is nearly always; an idle WebSocket costs
 * the few bytes of struct ws.
 *
 * Output in WS_STREAM mode wraps each writev() in one binary frame: the
 * header is written in front of the queue's slices, which go out as they
 * are (fan-out stays zero-copy).  A frame cut short by the socket is
 * finished before anything else is written.
 */
#include "net/ws.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "core/vocab.h"
#include "net/conn.h"
#include "util/config.h"
#include "util/defaults.h"
#include "util/log.h"
#include "util/slab.h"

#define WS_POOL 32

/* Control frames the transport owes the peer (WS_STREAM mode). */
struct ws_ctl {
	uint8_t pong[2 + WS_CONTROL_MAX];
	uint8_t pong_len, pong_off;
	uint8_t next[2 + WS_CONTROL_MAX]; /* a newer pong, while one is half written */
	uint8_t next_len;
	uint8_t echo[2]; /* the code of the peer's close, to echo */
	uint8_t echo_len;
	uint8_t close[2 + WS_CONTROL_MAX];
	uint8_t close_len, close_off;
	uint8_t ping[WS_CONTROL_MAX]; /* a ping's payload while it arrives */
	uint8_t ping_len;
};

struct ws {
	wslay_frame_context_ptr rx; /* while a frame is half read, or NULL */
	uint64_t rx_raw;            /* bytes fed to rx since it was taken */
	uint64_t rx_done;           /* of those, bytes of whole frames */
	uint64_t rx_off;            /* payload bytes of the current frame seen */
	uint64_t tx_left;           /* payload bytes of the frame being written */
	size_t raw_left;            /* queued before the upgrade: goes out as it is */
	struct ws_ctl *ctl;
	uint8_t mode;        /* enum ws_mode */
	uint8_t rx_op;       /* the current frame's opcode */
	uint8_t in_msg;      /* a fragmented message is open */
	uint8_t closed;      /* a close frame is queued: nothing more is read or written */
	uint8_t peer_closed; /* the peer's close came: answered after its read is handled */
	uint8_t hdr[WS_HEADER_MAX];
	uint8_t hdr_len, hdr_off;
	/* A fault found after good frames in the same read: acted on once the
	 * front end has had what came before it (ws_after_input). */
	uint16_t fault_code;
	const char *fault_why;
};

struct ws_stats ws_stats;

static struct {
	wslay_frame_context_ptr pool[WS_POOL];
	unsigned n;
	/* What the context at work reads from. */
	const uint8_t *feed;
	size_t feed_len;
	/* What the header writer captures. */
	uint8_t *cap;
	size_t cap_len;
	wslay_frame_context_ptr tx;
	uint8_t raw[CHATD_READ_CHUNK];
} W;

static ssize_t
feed_recv(uint8_t *buf, size_t len, int flags, void *user)
{
	size_t k = len < W.feed_len ? len : W.feed_len;

	(void)flags;
	(void)user;
	if (k == 0)
		return -1; /* wslay: nothing more now (WSLAY_ERR_WANT_READ) */
	memcpy(buf, W.feed, k);
	W.feed += k;
	W.feed_len -= k;
	return (ssize_t)k;
}

/* The header writer: the first bytes wslay sends are the header, kept;
 * the payload that follows is the caller's to write, so it is only
 * counted. */
static ssize_t
capture_send(const uint8_t *data, size_t len, int flags, void *user)
{
	(void)flags;
	(void)user;
	if (W.cap != NULL) {
		memcpy(W.cap, data, len < WS_HEADER_MAX ? len : WS_HEADER_MAX);
		W.cap_len = len;
		W.cap = NULL;
	}
	return (ssize_t)len;
}

static int
no_mask(uint8_t *buf, size_t len, void *user)
{
	(void)user;
	memset(buf, 0, len);
	return 0;
}

static const struct wslay_frame_callbacks callbacks = {capture_send, feed_recv, no_mask};

static wslay_frame_context_ptr
ctx_take(void)
{
	wslay_frame_context_ptr x;

	if (W.n)
		return W.pool[--W.n];
	if (wslay_frame_context_init(&x, &callbacks, NULL) != 0)
		fatal("out of memory (wslay)");
	return x;
}

/* Only a context between frames, with nothing buffered, may serve another
 * connection. */
static void
ctx_give(wslay_frame_context_ptr x)
{
	if (W.n < WS_POOL)
		W.pool[W.n++] = x;
	else
		wslay_frame_context_free(x);
}

void
ws_cleanup(void)
{
	while (W.n)
		wslay_frame_context_free(W.pool[--W.n]);
	if (W.tx)
		wslay_frame_context_free(W.tx);
	W.tx = NULL;
}

size_t
ws_header(uint8_t *out, uint8_t opcode, uint64_t len)
{
	static const uint8_t none;
	struct wslay_frame_iocb io = {1, 0, opcode, len, 0, &none, (size_t)len};

	if (W.tx == NULL && wslay_frame_context_init(&W.tx, &callbacks, NULL) != 0)
		fatal("out of memory (wslay)");
	/* wslay writes the header, then asks to write the payload, which
	 * capture_send() only counts: data is never read. */
	W.cap = out;
	W.cap_len = 0;
	io.data = len ? (const uint8_t *)"" : &none;
	while (io.data_length > 0 || W.cap != NULL) {
		ssize_t r = wslay_frame_send(W.tx, &io);

		if (r < 0)
			fatal("wslay: cannot write a frame header (%zd)", r);
		if (W.cap != NULL && len == 0)
			break;
		io.data_length -= (size_t)r;
		if (io.data_length == 0)
			break;
	}
	W.cap = NULL;
	return W.cap_len;
}

size_t
ws_message_max(const struct config *cfg)
{
	/* A text escaped as \u00XX at worst, and the message's other fields. */
	return 6 * (size_t)cfg->max_text + 1024;
}

uint32_t
ws_unit_len(const uint8_t *p)
{
	uint32_t n;

	memcpy(&n, p + 1, sizeof(n));
	return n;
}

size_t
ws_close_payload(uint8_t *out, uint16_t code, const char *reason)
{
	size_t n = strlen(reason);

	if (n > WS_CONTROL_MAX - 2)
		n = WS_CONTROL_MAX - 2;
	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	for (size_t i = 0; i < n; i++) /* not a C string: no NUL */
		out[2 + i] = (uint8_t)reason[i];
	return 2 + n;
}

uint16_t
ws_close_code(uint8_t reason)
{
	switch (reason) {
	case REASON_SHUTDOWN:
		return WS_CLOSE_GOING_AWAY;
	case REASON_PROTOCOL_ERROR:
		return WS_CLOSE_PROTOCOL;
	case REASON_SLOW_CONSUMER:
	case REASON_HANDSHAKE_TIMEOUT:
		return WS_CLOSE_POLICY;
	default:
		return WS_CLOSE_NORMAL;
	}
}

int
ws_accept_key(const char *key, size_t n, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char raw[24], md[EVP_MAX_MD_SIZE];
	char buf[64];
	unsigned mdlen = 0;

	/* 16 bytes in base64: 24 characters ending "==". */
	if (n != 24 || EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18 ||
	    key[22] != '=' || key[23] != '=')
		return -1;
	memcpy(buf, key, n);
	memcpy(buf + n, guid, sizeof(guid) - 1);
	if (EVP_Digest(buf, n + sizeof(guid) - 1, md, &mdlen, EVP_sha1(), NULL) != 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	return 0;
}

static struct ws *
of(const struct conn *c)
{
	return c->tp_state;
}

static struct ws_ctl *
ctl_of(struct ws *w)
{
	if (w->ctl == NULL && (w->ctl = calloc(1, sizeof(*w->ctl))) == NULL)
		fatal("out of memory (ws)");
	return w->ctl;
}

/* Owe the peer a control frame (WS_STREAM mode). */
static void
owe(struct conn *c, uint8_t opcode, const uint8_t *p, size_t n)
{
	struct ws *w = of(c);
	struct ws_ctl *k = ctl_of(w);
	uint8_t *f = opcode == WS_PONG ? k->pong : k->close;
	size_t h = ws_header(f, opcode, n);

	if (opcode == WS_PONG && k->pong_off > 0 && k->pong_off < k->pong_len) {
		/* Half written: it is finished first, then the newer one. */
		h = ws_header(k->next, opcode, n);
		memcpy(k->next + h, p, n);
		k->next_len = (uint8_t)(h + n);
		conn_want_write(c);
		return;
	}
	memcpy(f + h, p, n);
	if (opcode == WS_PONG) {
		/* A newer ping's pong replaces an older one's not yet begun,
		 * the one waiting behind a half-written pong included. */
		k->pong_len = (uint8_t)(h + n);
		k->pong_off = 0;
		k->next_len = 0;
	} else {
		k->close_len = (uint8_t)(h + n);
		k->close_off = 0;
	}
	conn_want_write(c);
}

/* The peer broke the protocol: say why in a close frame and close. */
static void
fault_now(struct conn *c, uint16_t code, const char *why)
{
	struct ws *w = of(c);
	uint8_t p[WS_CONTROL_MAX];

	log_info("conn %s: websocket: %s", conn_peer(c), why);
	if (!w->closed) {
		owe(c, WS_CLOSE, p, ws_close_payload(p, code, why));
		w->closed = 1;
	}
	ws_stats.closes[code - 1000 < 16 ? code - 1000 : 15]++;
	conn_close_after_flush(c, code == WS_CLOSE_NORMAL ? REASON_CLOSED : REASON_PROTOCOL_ERROR,
	                       CHATD_DRAIN_TIMEOUT);
}

/* Note a fault, to be acted on once what came before it is handled. */
static void
fail(struct conn *c, uint16_t code, const char *why)
{
	struct ws *w = of(c);

	if (!w->fault_code) {
		w->fault_code = code;
		w->fault_why = why;
	}
}

static void
ws_after_input(struct conn *c)
{
	struct ws *w = of(c);

	if (w->fault_code && !w->closed) {
		fault_now(c, w->fault_code, w->fault_why);
	} else if (w->peer_closed && !w->closed) {
		/* Echo the code (RFC 6455 5.5.1), then go. */
		owe(c, WS_CLOSE, w->ctl->echo, w->ctl->echo_len);
		w->closed = 1;
		conn_close_after_flush(c, REASON_CLOSED, CHATD_DRAIN_TIMEOUT);
	}
}

/* The first chunk of a frame: is it one chatd takes? */
static int
frame_ok(struct conn *c, const struct wslay_frame_iocb *io)
{
	struct ws *w = of(c);
	int control = io->opcode >= WS_CLOSE;

	if (!io->mask)
		return fail(c, WS_CLOSE_PROTOCOL, "unmasked frame"), 0;
	if (io->rsv)
		return fail(c, WS_CLOSE_PROTOCOL, "RSV bit set"), 0;
	if (io->opcode > WS_BINARY && !(control && io->opcode <= WS_PONG))
		return fail(c, WS_CLOSE_PROTOCOL, "unknown opcode"), 0;
	if (control && (!io->fin || io->payload_length > WS_CONTROL_MAX))
		return fail(c, WS_CLOSE_PROTOCOL, "fragmented or long control frame"), 0;
	if (control)
		return 1;
	if ((io->opcode == WS_CONT) != w->in_msg)
		return fail(c, WS_CLOSE_PROTOCOL, "fragments out of order"), 0;
	if (w->mode == WS_STREAM && io->opcode == WS_TEXT)
		return fail(c, WS_CLOSE_UNSUPPORTED, "text message on a binary protocol"), 0;
	if (w->mode == WS_UNITS && io->payload_length > ws_message_max(conn_config(c)))
		return fail(c, WS_CLOSE_TOO_BIG, "message too big"), 0;
	return 1;
}

/* The raw bytes of a frame header for a payload of len. */
static uint64_t
header_bytes(uint64_t len)
{
	return 2 + 4 + (len < 126 ? 0 : len < 65536 ? 2 : 8);
}

/* A control frame is whole (WS_STREAM mode): answer it. */
static void
control(struct conn *c, uint8_t opcode)
{
	struct ws *w = of(c);
	struct ws_ctl *k = ctl_of(w);

	if (opcode == WS_PING && !w->closed) {
		owe(c, WS_PONG, k->ping, k->ping_len);
	} else if (opcode == WS_CLOSE && !w->closed) {
		/* Echoed, and the connection ended, once what came before it
		 * in the same read is handled (ws_after_input). */
		k->echo_len = k->ping_len >= 2 ? 2 : 0;
		memcpy(k->echo, k->ping, k->echo_len);
		w->peer_closed = 1;
	}
	k->ping_len = 0;
}

/* Frames in: their payload out into buf (n bytes, at least what was
 * read), as a stream or as units. */
static ssize_t
ws_read(struct conn *c, void *buf, size_t n)
{
	struct ws *w = of(c);
	uint8_t *out = buf;
	size_t used = 0;
	ssize_t k;

	if (w->closed || w->peer_closed) {
		errno = EAGAIN;
		return -1;
	}
	k = read(c->fd, W.raw, n < sizeof(W.raw) ? n : sizeof(W.raw));
	if (k <= 0)
		return k;
	/* Any byte is life (protocol.md 12), a WebSocket ping's too. */
	c->last_rx = ev_now(c->set->loop);
	c->pinged = 0;
	if (w->rx == NULL) {
		w->rx = ctx_take();
		w->rx_raw = w->rx_done = 0;
	}
	W.feed = W.raw;
	W.feed_len = (size_t)k;
	w->rx_raw += (uint64_t)k;
	while (!w->closed && !w->fault_code && !w->peer_closed) {
		struct wslay_frame_iocb io;
		ssize_t r = wslay_frame_recv(w->rx, &io);
		int first, control_frame;

		if (r == WSLAY_ERR_WANT_READ)
			break;
		if (r < 0) {
			fail(c, WS_CLOSE_PROTOCOL, "malformed frame");
			break;
		}
		first = w->rx_off == 0;
		if (first) {
			ws_stats.frames_in++;
			if (!frame_ok(c, &io))
				break;
			w->rx_op = io.opcode;
			if (io.opcode <= WS_BINARY)
				w->in_msg = !io.fin;
		}
		control_frame = io.opcode >= WS_CLOSE;
		if (control_frame) {
			struct ws_ctl *ctl = ctl_of(w); /* payload <= 125 bytes: frame_ok() */

			memcpy(ctl->ping + w->rx_off, io.data, io.data_length);
			ctl->ping_len = (uint8_t)(w->rx_off + io.data_length);
		} else if (w->mode == WS_UNITS) {
			if (first) {
				uint32_t len = (uint32_t)io.payload_length;

				out[used] = (uint8_t)(io.opcode | (io.fin ? WS_UNIT_FIN : 0));
				memcpy(out + used + 1, &len, sizeof(len));
				used += WS_UNIT_HEAD;
			}
			memcpy(out + used, io.data, io.data_length);
			used += io.data_length;
		} else {
			memcpy(out + used, io.data, io.data_length);
			used += io.data_length;
		}
		w->rx_off += io.data_length;
		if (w->rx_off == io.payload_length) {
			w->rx_done += header_bytes(io.payload_length) + io.payload_length;
			w->rx_off = 0;
			if (control_frame)
				control(c, io.opcode);
		}
	}
	/* Everything read was whole frames: the context goes back. */
	if (w->rx && w->rx_done == w->rx_raw && w->rx_off == 0) {
		ctx_give(w->rx);
		w->rx = NULL;
	}
	if (used == 0) {
		ws_after_input(c);
		errno = EAGAIN;
		return -1;
	}
	return (ssize_t)used;
}

/* Take n written bytes off what was owed, in the order it was written:
 * bytes of the queue given as they are, then control frames and the
 * header, then payload; returns the payload bytes. */
static size_t
wrote(struct ws *w, size_t n, size_t pong, size_t close, size_t hdr)
{
	struct ws_ctl *k = w->ctl;
	size_t t;

	t = n < pong ? n : pong;
	if (t) {
		k->pong_off = (uint8_t)(k->pong_off + t);
		n -= t;
	}
	if (t < pong) {
		/* The pong was cut: the frame set up behind it has not begun. */
		w->tx_left = 0;
		w->hdr_len = w->hdr_off = 0;
		return 0;
	}
	t = n < close ? n : close;
	if (t) {
		k->close_off = (uint8_t)(k->close_off + t);
		n -= t;
	}
	t = n < hdr ? n : hdr;
	w->hdr_off = (uint8_t)(w->hdr_off + t);
	n -= t;
	w->tx_left -= n;
	return n;
}

/* A control frame begun and not finished: nothing else may go out before
 * its end. */
static int
ctl_cut(const struct ws_ctl *k)
{
	return k && ((k->pong_off > 0 && k->pong_off < k->pong_len) ||
	             (k->close_off > 0 && k->close_off < k->close_len));
}

/* Slices out.  WS_UNITS: the front end's frames as they are.  WS_STREAM:
 * a frame cut short is finished first; at a frame boundary, a pong owed
 * goes first, then a new binary frame of everything given; the close
 * frame goes last, once the queue is empty. */
static ssize_t
ws_writev(struct conn *c, const struct iovec *iov, int cnt)
{
	struct ws *w = of(c);
	struct iovec v[CHATD_WRITE_IOV + 3];
	size_t total = 0, pong = 0, close = 0, hdr = 0, left;
	ssize_t r;
	int i, k = 0;

	if (w->raw_left) {
		/* The upgrade's own answer, queued before frames began. */
		for (i = 0; i < cnt && total < w->raw_left; i++) {
			v[k] = iov[i];
			if (v[k].iov_len > w->raw_left - total)
				v[k].iov_len = w->raw_left - total;
			total += v[k++].iov_len;
		}
		if ((r = writev(c->fd, v, k)) > 0)
			w->raw_left -= (size_t)r;
		return r;
	}
	if (w->ctl && w->ctl->pong_off == w->ctl->pong_len && w->ctl->next_len) {
		struct ws_ctl *kc = w->ctl;

		memcpy(kc->pong, kc->next, kc->next_len);
		kc->pong_len = kc->next_len;
		kc->pong_off = 0;
		kc->next_len = 0;
	}
	if (ctl_cut(w->ctl)) {
		/* A control frame cut short goes on alone until it ends. */
		struct ws_ctl *kc = w->ctl;
		int on_pong = kc->pong_off > 0 && kc->pong_off < kc->pong_len;
		uint8_t *at = on_pong ? kc->pong + kc->pong_off : kc->close + kc->close_off;
		size_t n = on_pong ? (size_t)(kc->pong_len - kc->pong_off)
		                   : (size_t)(kc->close_len - kc->close_off);

		if ((r = write(c->fd, at, n)) < 0)
			return r;
		if (on_pong)
			kc->pong_off = (uint8_t)(kc->pong_off + r);
		else
			kc->close_off = (uint8_t)(kc->close_off + r);
		return 0;
	}
	for (i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	/* The front end's frames are whole: control frames go between them,
	 * when the queue is empty. */
	if (w->mode == WS_UNITS && (total || w->ctl == NULL))
		return writev(c->fd, iov, cnt);
	if (w->tx_left == 0 && w->hdr_off == w->hdr_len) {
		struct ws_ctl *ctl = w->ctl;

		if (w->mode == WS_UNITS)
			total = 0; /* only control frames: see above */

		if (ctl && ctl->pong_off < ctl->pong_len) {
			pong = (size_t)(ctl->pong_len - ctl->pong_off);
			v[k++] = (struct iovec){ctl->pong + ctl->pong_off, pong};
		}
		if (total == 0 && ctl && ctl->close_off < ctl->close_len) {
			close = (size_t)(ctl->close_len - ctl->close_off);
			v[k++] = (struct iovec){ctl->close + ctl->close_off, close};
		}
		if (total) {
			w->hdr_len = (uint8_t)ws_header(w->hdr, WS_BINARY, total);
			w->hdr_off = 0;
			w->tx_left = total;
		}
	}
	if (w->hdr_off < w->hdr_len) {
		hdr = (size_t)(w->hdr_len - w->hdr_off);
		v[k++] = (struct iovec){w->hdr + w->hdr_off, hdr};
	}
	/* The payload: no more than the frame being written has left. */
	left = w->tx_left;
	for (i = 0; i < cnt && left; i++) {
		v[k] = iov[i];
		if (v[k].iov_len > left)
			v[k].iov_len = left;
		left -= v[k++].iov_len;
	}
	if (k == 0)
		return 0;
	if ((r = writev(c->fd, v, k)) < 0)
		return r;
	return (ssize_t)wrote(w, (size_t)r, pong, close, hdr);
}

static int
ws_pending(const struct conn *c)
{
	const struct ws *w = of(c);
	const struct ws_ctl *k = w->ctl;

	return w->hdr_off < w->hdr_len ||
	       (k && (k->pong_off < k->pong_len || k->next_len || k->close_off < k->close_len));
}

/* The connection closes after its output: its front end's farewell (a
 * BYE) is followed by the close frame here, with the reason's code and
 * words, unless a close with a code of its own came first (ws_close). */
static void
ws_closing(struct conn *c, uint8_t reason)
{
	struct ws *w = of(c);
	uint8_t p[WS_CONTROL_MAX];
	uint16_t code = ws_close_code(reason);

	if (w->closed)
		return;
	w->closed = 1;
	ws_stats.closes[code - 1000]++;
	owe(c, WS_CLOSE, p, ws_close_payload(p, code, core_reason_name(reason)));
}

void
ws_close(struct conn *c, uint16_t code, const char *why, uint8_t reason)
{
	struct ws *w = of(c);
	uint8_t p[WS_CONTROL_MAX];

	if (!w->closed) {
		w->closed = 1;
		ws_stats.closes[code - 1000 < 16 ? code - 1000 : 15]++;
		owe(c, WS_CLOSE, p, ws_close_payload(p, code, why));
	}
	conn_close_after_flush(c, reason, CHATD_DRAIN_TIMEOUT);
}

static void
ws_end(struct conn *c)
{
	struct ws *w = of(c);

	if (w == NULL)
		return;
	if (w->rx)
		wslay_frame_context_free(w->rx); /* mid-frame: not fit for another */
	free(w->ctl);
	slab_free(w, sizeof(*w));
	c->tp_state = NULL;
}

const struct transport ws_transport = {
        "websocket", ws_read, ws_writev, NULL, ws_pending, ws_closing, ws_end, ws_after_input,
};

void
ws_upgrade(struct conn *c, enum ws_mode mode, const struct frontend *fe)
{
	struct ws *w = slab_zalloc(sizeof(*w));

	w->mode = (uint8_t)mode;
	w->raw_left = c->out.bytes;
	ws_stats.upgrades++;
	conn_switch(c, &ws_transport, w, fe, mode == WS_STREAM);
}
