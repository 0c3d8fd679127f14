/*
 * Connections: reading into a bounded buffer, handing bytes to the front
 * end, flushing the output queue with one writev per loop turn, liveness
 * pings, flood control, and the one teardown path.
 */
#include "net/conn.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "chatd/wire.h"
#include "core/core.h"
#include "proto/framed/detect.h"
#include "proto/framed/framed.h"
#include "util/log.h"
#include "util/slab.h"
#include "net/server.h"
#include "proto/text/text.h"

#define CONN_OF(ptr, member) ((struct conn *)(void *)((char *)(ptr)-offsetof(struct conn, member)))

static const char *const state_names[] = {"detect", "open", "draining", "closed"};

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void throttle(struct conn *c);
static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

void
conn_set_state(struct conn *c, enum conn_state st)
{
	/* States only move forward. */
	if (st < c->state) {
		log_err("conn %s: illegal state change %s -> %s", conn_peer(c),
		        state_names[c->state], state_names[st]);
		abort();
	}
	log_debug("conn %s: %s -> %s", conn_peer(c), state_names[c->state], state_names[st]);
	c->state = (uint8_t)st;
}

/* Why a read or write failed, as a drop reason.  TCP gives up on a peer
 * that vanished (keepalive, TCP_USER_TIMEOUT, retransmissions) with
 * ETIMEDOUT, or with the last soft error it met on the way, such as an
 * ICMP unreachable or a failed ARP: the peer is gone either way. */
static uint8_t
error_reason(int err)
{
	switch (err) {
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
		return WIRE_R_PING_TIMEOUT;
	default:
		return WIRE_R_RESET;
	}
}

/* Bytes of partial input a connection may hold: one whole frame or one
 * whole text line, whichever is longer. */
static size_t
in_cap(const struct server *srv)
{
	size_t frame = srv->cfg.max_frame + WIRE_HEADER_LEN;
	size_t line = text_line_max(&srv->cfg) + 2;

	return frame > line ? frame : line;
}

/* Make the io watcher's interest match what the connection is doing:
 * read unless closing or throttled, write only while output waits. */
static void
update_events(struct conn *c)
{
	int want = 0;

	if (c->state <= CONN_OPEN && !c->throttled && !c->yielded && !c->producing)
		want |= EV_READ;
	if (c->writing)
		want |= EV_WRITE;
	if (want == (c->io.events & (EV_READ | EV_WRITE)) && ev_is_active(&c->io))
		return;
	ev_io_stop(c->srv->loop, &c->io);
	ev_io_set(&c->io, c->fd, want);
	if (want)
		ev_io_start(c->srv->loop, &c->io);
}

static void
arm_timer(struct conn *c, double at)
{
	struct ev_loop *loop = c->srv->loop;
	double delay = at - ev_now(loop);

	ev_timer_stop(loop, &c->timer);
	ev_timer_set(&c->timer, delay > 0 ? delay : 0, 0);
	ev_timer_start(loop, &c->timer);
}

/* Turn c away in its protocol, saying which limit it met. */
static void
refuse(struct conn *c, enum conn_refusal why)
{
	const struct config *cfg = &c->srv->cfg;
	uint16_t code = WIRE_E_SERVER_FULL;
	char text[160];

	switch (why) {
	case REFUSE_FULL:
		snprintf(text, sizeof(text),
		         "the server is at its limit of %zu connection%s (max-conns)",
		         c->srv->max_conns, c->srv->max_conns == 1 ? "" : "s");
		break;
	case REFUSE_PER_IP:
		snprintf(text, sizeof(text), "%u connection%s from %s (max-conns-per-ip)",
		         cfg->max_conns_per_ip, cfg->max_conns_per_ip == 1 ? "" : "s",
		         c->ipc ? c->ipc->ip : "this address");
		break;
	default:
		code = WIRE_E_HANDSHAKE_TIMEOUT;
		snprintf(text, sizeof(text), "no name chosen within %g s (handshake-timeout)",
		         cfg->handshake_timeout);
		break;
	}
	if (c->fe)
		c->fe->refuse(c, code, text);
	else
		conn_close(c, WIRE_R_HANDSHAKE_TIMEOUT);
}

/* The protocol is known: hand the connection to its front end, or turn
 * it away in that protocol if a limit said so at accept. */
static void
choose(struct conn *c, const struct frontend *fe)
{
	c->fe = fe;
	conn_set_state(c, CONN_OPEN);
	if (c->refusal != REFUSE_NONE) {
		refuse(c, (enum conn_refusal)c->refusal);
		return;
	}
	fe->start(c);
}

const char *
conn_peer(const struct conn *c)
{
	static char text[64];
	const char *ip = c->ipc ? c->ipc->ip : "?";

	/* The address lives in the per-address count, shared by all its
	 * connections; only the port is the connection's own. */
	snprintf(text, sizeof(text), strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, c->port);
	return text;
}

struct conn *
conn_new(struct server *srv, int fd, uint16_t port, int mode, struct ipcount *ipc,
         enum conn_refusal refusal)
{
	struct conn *c = slab_zalloc(sizeof(*c));
	double now = ev_now(srv->loop);

	c->srv = srv;
	c->fd = fd;
	c->state = CONN_DETECT;
	c->mode = (uint8_t)mode;
	c->refusal = (uint8_t)refusal;
	c->created = now;
	c->ipc = ipc;
	c->port = port;
	if (ipc)
		ipc->n++;
	c->announce = 1;
	c->last_rx = now;
	c->tokens = srv->cfg.flood_burst;
	c->tok_time = now;
	outq_init(&c->out);
	ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
	ev_io_start(srv->loop, &c->io);
	/* An auto listener waits a moment for a program's preface before
	 * greeting a person; the liveness rules take over after that. */
	ev_timer_init(&c->timer, conn_timer_cb,
	              fmin(mode == LISTEN_AUTO ? srv->cfg.detect_window : srv->cfg.ping_interval,
	                   srv->cfg.handshake_timeout),
	              0);
	ev_timer_start(srv->loop, &c->timer);
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	/* The high-water mark the housekeeping trims from: a crowd that comes
	 * and goes between two of its passes counts too. */
	if (srv->nconns + core_room_total(srv->core) > srv->trim_mark)
		srv->trim_mark = srv->nconns + core_room_total(srv->core);
	log_debug("conn %s: accepted (fd %d, %zu open)", conn_peer(c), fd, srv->nconns);
	if (mode == LISTEN_TEXT)
		choose(c, &text_frontend);
	return c;
}

static void
pending_add(struct conn *c)
{
	if (c->pending || c->writing)
		return;
	c->pending = 1;
	LIST_INSERT_HEAD(&c->srv->pending, c, pending_link);
}

static void
pending_remove(struct conn *c)
{
	if (!c->pending)
		return;
	LIST_REMOVE(c, pending_link);
	c->pending = 0;
}

/* Hold c's remaining work over to the next loop turn. */
static void
backlog_add(struct conn *c)
{
	if (c->yielded)
		return;
	c->yielded = 1;
	LIST_INSERT_HEAD(&c->srv->backlog, c, backlog_link);
	update_events(c);
}

static void
backlog_remove(struct conn *c)
{
	if (!c->yielded)
		return;
	LIST_REMOVE(c, backlog_link);
	c->yielded = 0;
}

/*
 * After output was queued: enforce the queue bound, schedule a flush.  The
 * bound is on unsent bytes; a queue that pins more than that in shared
 * blocks is compacted first, and one that still pins more than twice the
 * bound (slices kept whole pin at most twice their size) is dropped too.
 */
static void
queued(struct conn *c)
{
	uint32_t max = c->srv->cfg.max_queue;
	struct outq *q = &c->out;

	if (q->pinned > max && !q->copying) {
		outq_compact(q);
		log_debug("conn %s: output queue compacted: %u bytes to send, %u pinned",
		          conn_peer(c), q->bytes, q->pinned);
	}
	if (q->bytes > max || q->pinned > 2 * (size_t)max + CHATD_COPY_BLOCK) {
		conn_close(c, WIRE_R_SLOW_CONSUMER);
		return;
	}
	pending_add(c);
}

struct shed {
	struct conn *c;
	uint32_t pinned;
};

static int
shed_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct shed *)a)->pinned, y = ((const struct shed *)b)->pinned;

	return x < y ? 1 : x > y ? -1 : 0;
}

void
conn_output_budget(struct server *srv, size_t used)
{
	size_t limit = srv->cfg.max_queue_total, n = 0, k, dropped = 0;
	struct shed *v;
	struct conn *c;

	if (limit == 0 || used <= limit)
		return;
	v = malloc(srv->nconns * sizeof(*v) + 1);
	if (v == NULL)
		fatal("out of memory (output budget)");
	for (c = srv->conns; c; c = c->next)
		if (c->state <= CONN_DRAINING && c->out.pinned)
			v[n++] = (struct shed){c, c->out.pinned};
	qsort(v, n, sizeof(*v), shed_cmp);
	/* Each queue is counted as if it alone held its blocks: a shared
	 * block may outlive the drop, and the next turn looks again. */
	for (k = 0; k < n && used > limit - limit / 8; k++) {
		conn_close(v[k].c, WIRE_R_SLOW_CONSUMER);
		used = used > v[k].pinned ? used - v[k].pinned : 0;
		dropped++;
	}
	free(v);
	log_notice("output over its budget of %zu bytes (max-queue-total): dropped %zu "
	           "connection%s with the largest queues",
	           limit, dropped, dropped == 1 ? "" : "s");
}

void
conn_send(struct conn *c, struct slice s)
{
	if (c->state > CONN_OPEN)
		return;
	outq_push(&c->out, s);
	queued(c);
}

uint8_t *
conn_reserve(struct conn *c, size_t max)
{
	return outq_reserve(&c->out, max);
}

void
conn_commit(struct conn *c, size_t used)
{
	outq_commit(&c->out, used);
	if (c->state <= CONN_OPEN)
		queued(c);
}

int
conn_spend(struct conn *c)
{
	const struct config *cfg = &c->srv->cfg;
	double now;

	/* However many tokens it has, one connection gets a bounded share of
	 * each loop turn, so that no client holds the loop for long. */
	if (c->turn_frames >= CHATD_TURN_FRAMES) {
		backlog_add(c);
		return 0;
	}
	c->turn_frames++;
	if (cfg->flood_rate == 0)
		return 1;
	now = ev_now(c->srv->loop);
	c->tokens += (now - c->tok_time) * cfg->flood_rate;
	if (c->tokens > cfg->flood_burst)
		c->tokens = cfg->flood_burst;
	c->tok_time = now;
	if (c->tokens >= 1) {
		c->tokens -= 1;
		return 1;
	}
	c->throttled = 1;
	return 0;
}

/* Write once: as much of the queue as one writev takes, within the
 * per-turn budget so that one busy reader cannot starve the rest. */
static void
flush(struct conn *c)
{
	struct iovec iov[CHATD_WRITE_IOV];
	ssize_t n;
	int cnt;

	cnt = outq_iov(&c->out, iov, CHATD_WRITE_IOV, CHATD_WRITE_BUDGET);
	if (cnt > 0) {
		n = writev(c->fd, iov, cnt);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				log_debug("conn %s: write: %s", conn_peer(c), strerror(errno));
				/* ETIMEDOUT: keepalive or the user timeout gave up. */
				conn_close(c, error_reason(errno));
				return;
			}
			n = 0;
		}
		outq_consume(&c->out, (size_t)n);
	}
	c->writing = c->out.bytes > 0;
	if (!c->writing && c->state == CONN_DRAINING) {
		conn_close(c, c->reason);
		return;
	}
	/* A long answer waiting for room goes on next turn. */
	if (c->producing && c->out.bytes < CHATD_PRODUCE_LOW && !c->throttled)
		backlog_add(c);
	update_events(c);
}

void
conn_flush_all(struct server *srv)
{
	struct conn *c;

	while ((c = LIST_FIRST(&srv->pending)) != NULL) {
		pending_remove(c);
		if (c->state != CONN_CLOSED)
			flush(c);
	}
}

/* Hand buffered bytes to the protocol; returns how many were used. */
static size_t
process(struct conn *c, const uint8_t *p, size_t len)
{
	size_t used = 0;

	if (c->state == CONN_DETECT) {
		switch (detect_protocol(p, len)) {
		case DETECT_MORE:
			return 0;
		case DETECT_FRAMED:
			choose(c, &framed_frontend);
			used = WIRE_PREFACE_LEN;
			break;
		case DETECT_TEXT:
			if (c->mode == LISTEN_FRAMED) {
				framed_refuse(c, WIRE_E_BAD_PREFACE, NULL);
				return len;
			}
			choose(c, &text_frontend);
			break;
		case DETECT_BAD_VERSION:
			framed_refuse(c, WIRE_E_BAD_VERSION, NULL);
			return len;
		case DETECT_BAD_PREFACE:
			framed_refuse(c, WIRE_E_BAD_PREFACE, NULL);
			return len;
		}
	}
	if (c->state == CONN_OPEN && used < len)
		used += c->fe->input(c, p + used, len - used);
	return used;
}

/* Keep the unused tail of data (which may be c->in itself). */
static void
keep(struct conn *c, const uint8_t *data, size_t len, size_t used)
{
	size_t left = len - used;

	if (c->state > CONN_OPEN || left == 0) {
		slab_free(c->in, c->incap);
		c->in = NULL;
		c->inlen = 0;
		return;
	}
	if (c->in != NULL && data == c->in) {
		memmove(c->in, c->in + used, left);
	} else {
		size_t cap = in_cap(c->srv);

		/* A throttled reader may leave more than one frame behind. */
		c->incap = (uint32_t)(left > cap ? left : cap);
		c->in = slab_alloc(c->incap);
		memcpy(c->in, data + used, left);
	}
	c->inlen = (uint32_t)left;
}

/* After input was handled: if some was held back, by flood control or for
 * the next turn, stop reading until it can go on. */
static void
held(struct conn *c)
{
	if (c->state != CONN_OPEN) {
		backlog_remove(c);
		return;
	}
	if (c->throttled) {
		backlog_remove(c);
		throttle(c);
		return;
	}
	/* Read on, unless a long answer or the next turn waits. */
	update_events(c);
}

/* What c may do now: the rest of its long answer, then its held input. */
static void
work(struct conn *c)
{
	while (c->producing && c->state == CONN_OPEN) {
		/* Wait for the client to read: flush() brings it back. */
		if (c->out.bytes >= CHATD_PRODUCE_LOW)
			return;
		if (!conn_spend(c))
			return;
		if (!c->fe->more(c))
			c->producing = 0;
	}
	if (c->state == CONN_OPEN && c->in && !c->throttled && !c->yielded)
		keep(c, c->in, c->inlen, process(c, c->in, c->inlen));
}

void
conn_produce(struct conn *c)
{
	c->producing = 1;
	update_events(c);
}

/* Throttled: stop reading until a token is back. */
static void
throttle(struct conn *c)
{
	double wait = (1 - c->tokens) / c->srv->cfg.flood_rate;

	update_events(c);
	arm_timer(c, ev_now(c->srv->loop) + wait);
}

static void
conn_read(struct conn *c)
{
	struct server *srv = c->srv;
	uint8_t *dst;
	size_t room;
	ssize_t n;

	if (c->in) {
		dst = c->in + c->inlen;
		room = c->incap - c->inlen;
	} else {
		dst = srv->scratch;
		room = CHATD_READ_CHUNK;
	}
	if (room == 0)
		return;
	n = read(c->fd, dst, room);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_debug("conn %s: read: %s", conn_peer(c), strerror(errno));
		/* ETIMEDOUT: TCP keepalive or the user timeout gave up on it. */
		conn_close(c, error_reason(errno));
		return;
	}
	if (n == 0) {
		conn_close(c, WIRE_R_CLOSED);
		return;
	}
	c->last_rx = ev_now(srv->loop);
	c->pinged = 0;
	c->turn_frames = 0;
	if (c->in) {
		size_t len = c->inlen + (size_t)n;

		keep(c, c->in, len, process(c, c->in, len));
	} else {
		keep(c, dst, (size_t)n, process(c, dst, (size_t)n));
	}
	if (c->producing)
		work(c);
	held(c);
}

static void
conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = CONN_OF(w, io);

	(void)loop;
	if (revents & EV_WRITE)
		flush(c);
	if ((revents & EV_READ) && c->state <= CONN_OPEN && !c->throttled && !c->yielded)
		conn_read(c);
}

/* Flood control let go: work through what was held back, then read on.
 * The liveness clock restarts here: while the server was not reading, the
 * client's bytes (a PONG among them) waited in the socket, and a client
 * the server has stopped reading is alive by definition. */
static void
resume(struct conn *c)
{
	c->throttled = 0;
	c->last_rx = ev_now(c->srv->loop);
	c->pinged = 0;
	c->turn_frames = 0;
	work(c);
	held(c);
}

int
conn_backlog_run(struct server *srv)
{
	struct conn_list run = srv->backlog;
	struct conn *c;

	/* This turn's backlog moves to a list of its own: those that yield
	 * again go on the server's list, for the next turn. */
	if ((c = LIST_FIRST(&run)) != NULL)
		c->backlog_link.le_prev = &LIST_FIRST(&run);
	LIST_INIT(&srv->backlog);
	while ((c = LIST_FIRST(&run)) != NULL) {
		backlog_remove(c);
		if (c->state != CONN_OPEN)
			continue;
		c->turn_frames = 0;
		work(c);
		held(c);
	}
	return !LIST_EMPTY(&srv->backlog);
}

static void
conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = CONN_OF(w, timer);
	const struct config *cfg = &c->srv->cfg;
	double now = ev_now(loop), silent, next;
	int registered;

	(void)revents;
	if (c->state == CONN_DRAINING) {
		if (now >= c->deadline)
			conn_close(c, c->reason);
		else
			arm_timer(c, c->deadline);
		return;
	}
	if (c->state == CONN_CLOSED)
		return;
	if (c->throttled) {
		resume(c);
		if (c->state != CONN_OPEN && c->state != CONN_DETECT)
			return;
	}
	if (c->state == CONN_DETECT && c->mode == LISTEN_AUTO && c->in == NULL &&
	    now - c->last_rx >= cfg->detect_window) {
		/* After a stall this timer may run before the read of bytes
		 * that came in time: the bytes decide, not the clock. */
		conn_read(c);
		/* Still nothing said: a person at a terminal, waiting to be
		 * greeted. */
		if (c->state == CONN_DETECT && c->in == NULL)
			choose(c, &text_frontend);
		if (c->state != CONN_OPEN && c->state != CONN_DETECT)
			return;
	}
	registered = c->sess && session_registered(c->sess);
	if (!registered && now - c->created >= cfg->handshake_timeout) {
		/* Slots are not for holding: a client must say who it is. */
		log_notice("conn %s: no name after %.1f s", conn_peer(c), now - c->created);
		refuse(c, REFUSE_HANDSHAKE);
		return;
	}
	next = registered ? INFINITY : c->created + cfg->handshake_timeout;
	if (c->state == CONN_DETECT && c->mode == LISTEN_AUTO && c->in == NULL)
		next = fmin(next, c->last_rx + cfg->detect_window);
	/* People cannot answer pings: TCP keepalive watches text clients. */
	if (c->fe == NULL || c->fe->idle != NULL) {
		silent = now - c->last_rx;
		if (silent >= cfg->ping_interval + cfg->ping_timeout) {
			log_notice("conn %s: no answer for %.1f s", conn_peer(c), silent);
			if (c->fe && c->state == CONN_OPEN)
				c->fe->bye(c, WIRE_R_PING_TIMEOUT);
			conn_close_after_flush(c, WIRE_R_PING_TIMEOUT, CHATD_DRAIN_TIMEOUT);
			return;
		}
		if (silent >= cfg->ping_interval && !c->pinged && c->fe && c->state == CONN_OPEN) {
			c->pinged = 1;
			c->fe->idle(c);
		}
		if (c->pinged || c->last_rx + cfg->ping_interval <= now)
			next = fmin(next, c->last_rx + cfg->ping_interval + cfg->ping_timeout);
		else
			next = fmin(next, c->last_rx + cfg->ping_interval);
	}
	if (c->throttled || next == INFINITY)
		return; /* throttle() armed the timer for the resume */
	arm_timer(c, next);
}

void
conn_close(struct conn *c, uint8_t reason)
{
	struct ev_loop *loop = c->srv->loop;

	if (c->state == CONN_CLOSED)
		return;
	if (c->state != CONN_DRAINING)
		c->reason = reason;
	conn_set_state(c, CONN_CLOSED);
	ev_io_stop(loop, &c->io);
	ev_timer_stop(loop, &c->timer);
	if (!c->reaping) {
		c->reaping = 1;
		c->next_reap = c->srv->reap;
		c->srv->reap = c;
	}
}

void
conn_close_after_flush(struct conn *c, uint8_t reason, double timeout)
{
	if (c->state >= CONN_DRAINING)
		return;
	if (c->out.bytes == 0) {
		conn_close(c, reason);
		return;
	}
	c->reason = reason;
	conn_set_state(c, CONN_DRAINING);
	c->deadline = ev_now(c->srv->loop) + timeout;
	arm_timer(c, c->deadline);
	update_events(c);
	pending_add(c);
	if (!c->reaping) {
		c->reaping = 1;
		c->next_reap = c->srv->reap;
		c->srv->reap = c;
	}
}

/* Free everything; c is closed and on no list but the connection list. */
static void
destroy(struct conn *c)
{
	struct server *srv = c->srv;

	pending_remove(c);
	backlog_remove(c);
	if (c->fe && c->fe->end)
		c->fe->end(c);
	server_ip_release(srv, c->ipc);
	ev_io_stop(srv->loop, &c->io);
	ev_timer_stop(srv->loop, &c->timer);
	close(c->fd);
	outq_clear(&c->out);
	slab_free(c->in, c->incap);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	slab_free(c, sizeof(*c));
}

void
conn_reap_all(struct server *srv)
{
	struct conn *c;

	while ((c = srv->reap) != NULL) {
		srv->reap = c->next_reap;
		c->reaping = 0;
		if (c->sess) {
			uint8_t kind = 0;

			if (c->announce)
				kind = c->reason == WIRE_R_NONE ? WIRE_P_QUIT : WIRE_P_DROP;
			/* Leaving is routine; being dropped is worth a notice. */
			if (session_registered(c->sess))
				log_msg(c->reason == WIRE_R_NONE || c->reason == WIRE_R_CLOSED ||
				                        c->reason == WIRE_R_SHUTDOWN
				                ? LOG_LEVEL_INFO
				                : LOG_LEVEL_NOTICE,
				        "conn %s: %s left: %s", conn_peer(c), session_nick(c->sess),
				        c->reason == WIRE_R_NONE ? "quit"
				                                 : wire_reason_name(c->reason));
			core_session_end(srv->core, c->sess, kind, c->reason);
			c->sess = NULL;
		}
		if (c->state == CONN_CLOSED) {
			log_debug("conn %s: closed (%s)", conn_peer(c),
			          wire_reason_name(c->reason));
			destroy(c);
		}
	}
}
