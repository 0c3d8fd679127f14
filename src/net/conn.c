/*
 * Connections: reading into a bounded buffer, handing bytes to the front
 * end, flushing the output queue with one writev per loop turn, liveness
 * pings, flood control, and the one teardown path.
 */
#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/core.h"
#include "net/frontend.h"
#include "net/ipcount.h"
#include "net/transport.h"
#include "util/config.h"
#include "util/log.h"
#include "util/slab.h"

#define CONN_OF(ptr, member) ((struct conn *)(void *)((char *)(ptr)-offsetof(struct conn, member)))

static const char *const state_names[] = {"detect", "open", "draining", "closed"};

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void throttle(struct conn *c);
static void conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

void
conn_set_state(struct conn *c, enum conn_state st)
{
	/* States only move forward, but for one step back: an upgraded
	 * connection detects its protocol again in its new transport. */
	if (st < c->state && !(st == CONN_DETECT && c->state == CONN_OPEN && c->upgrading)) {
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
		return REASON_PING_TIMEOUT;
	default:
		return REASON_RESET;
	}
}

/* Bytes of partial input a connection may hold: the largest unit (frame,
 * line) of any front end. */
/* What a connection's partial input may hold: its front end's largest
 * unit when that is larger (a WebSocket message), else the largest any
 * front end on a listener needs. */
static size_t
in_cap(const struct conn *c)
{
	size_t all = frontend_input_max(c->set->cfg);

	if (c->fe && c->fe->upgrade_only && c->fe->input_max)
		return c->fe->input_max(c->set->cfg);
	return all;
}

/* Make the io watcher's interest match what the connection is doing:
 * read unless closing or throttled, write only while output waits. */
static void
update_events(struct conn *c)
{
	int want = 0;

	if (c->state <= CONN_OPEN && !c->throttled && !c->yielded && !c->producing && !c->paused)
		want |= EV_READ;
	if (c->writing)
		want |= EV_WRITE;
	if (want == (c->io.events & (EV_READ | EV_WRITE)) && ev_is_active(&c->io))
		return;
	ev_io_stop(c->set->loop, &c->io);
	ev_io_set(&c->io, c->fd, want);
	if (want)
		ev_io_start(c->set->loop, &c->io);
}

static void
arm_timer(struct conn *c, double at)
{
	struct ev_loop *loop = c->set->loop;
	double delay = at - ev_now(loop);

	ev_timer_stop(loop, &c->timer);
	ev_timer_set(&c->timer, delay > 0 ? delay : 0, 0);
	ev_timer_start(loop, &c->timer);
}

/* Turn c away in its protocol, saying which limit it met. */
static void
refuse(struct conn *c, enum conn_refusal why)
{
	const struct config *cfg = c->set->cfg;
	char text[160];

	switch (why) {
	case REFUSE_FULL:
		snprintf(text, sizeof(text),
		         "the server is at its limit of %zu connection%s (max-conns)",
		         c->set->max_conns, c->set->max_conns == 1 ? "" : "s");
		break;
	case REFUSE_PER_IP:
		snprintf(text, sizeof(text), "%u connection%s from %s (max-conns-per-ip)",
		         cfg->max_conns_per_ip, cfg->max_conns_per_ip == 1 ? "" : "s",
		         c->ipc ? c->ipc->ip : "this address");
		break;
	default:
		snprintf(text, sizeof(text), "no name chosen within %g s (handshake-timeout)",
		         cfg->handshake_timeout);
		break;
	}
	c->set->stats.refusals[why]++;
	if (c->fe)
		c->fe->refuse(c, why, text);
	else
		conn_close(c, REASON_HANDSHAKE_TIMEOUT);
}

/* The protocol is known: hand the connection to its front end, or turn
 * it away in that protocol if a limit said so at accept. */
/* How long a silent client waits before it is greeted as a person.  A
 * browser opens spare connections to a server it is loading a page from
 * and sends nothing on them for a while: an address that has just loaded
 * a page (conn_expect_preconnects) gets CHATD_PRECONNECT_WINDOW, so that
 * those are not taken for people. */
static double
detect_window(const struct conn *c)
{
	double w = c->set->cfg->detect_window;

	if (c->ipc && c->ipc->program_at > 0 &&
	    ev_now(c->set->loop) - c->ipc->program_at < CHATD_PRECONNECT_WINDOW)
		w = fmax(w, CHATD_PRECONNECT_WINDOW);
	return w;
}

void
conn_expect_preconnects(struct conn *c)
{
	if (c->ipc)
		c->ipc->program_at = ev_now(c->set->loop);
}

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

struct core *
conn_core(const struct conn *c)
{
	return c->set->core;
}

const struct config *
conn_config(const struct conn *c)
{
	return c->set->cfg;
}

void
conn_keepalive(struct conn *c, double idle, double timeout)
{
	if (c->tp->keepalive)
		c->tp->keepalive(c, idle, timeout);
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
conn_new(struct conn_set *set, int fd, uint16_t port, const struct frontend *pinned,
         struct ipcount *ipc, enum conn_refusal refusal)
{
	const struct config *cfg = set->cfg;
	struct conn *c = slab_zalloc(sizeof(*c));
	double now = ev_now(set->loop);

	c->set = set;
	c->tp = &tcp_transport;
	c->fd = fd;
	c->state = CONN_DETECT;
	c->pinned = pinned ? (uint8_t)(pinned->id + 1) : 0;
	c->refusal = (uint8_t)refusal;
	c->created = now;
	c->ipc = ipc;
	c->port = port;
	if (ipc)
		ipc->n++;
	c->announce = 1;
	set->stats.accepted++;
	c->last_rx = now;
	c->tokens = cfg->flood_burst;
	c->tok_time = now;
	outq_init(&c->out);
	ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
	ev_io_start(set->loop, &c->io);
	/* A detecting connection waits a moment for a program's opening
	 * before greeting a person; the liveness rules take over after that. */
	ev_timer_init(&c->timer, conn_timer_cb,
	              fmin(pinned == NULL ? cfg->detect_window : cfg->ping_interval,
	                   cfg->handshake_timeout),
	              0);
	ev_timer_start(set->loop, &c->timer);
	LIST_INSERT_HEAD(&set->all, c, link);
	set->n++;
	log_debug("conn %s: accepted (fd %d, %zu open)", conn_peer(c), fd, set->n);
	/* A listener pinned to the protocol that greets people greets at
	 * once: there is nothing to wait for. */
	if (pinned && pinned->fallback)
		choose(c, pinned);
	return c;
}

/* On the list the prepare watcher flushes, after the store's commit. */
static void
pending_insert(struct conn *c)
{
	if (c->pending)
		return;
	c->pending = 1;
	LIST_INSERT_HEAD(&c->set->pending, c, pending_link);
}

/* Output to flush this turn; a connection waiting for EV_WRITE is put on
 * the list when the socket takes bytes again. */
static void
pending_add(struct conn *c)
{
	if (!c->writing)
		pending_insert(c);
}

void
conn_want_write(struct conn *c)
{
	pending_add(c);
}

static void
pending_remove(struct conn *c)
{
	if (!c->pending)
		return;
	LIST_REMOVE(c, pending_link);
	c->pending = 0;
}

/* c's share of this loop turn begins. */
static void
turn_start(struct conn *c)
{
	c->turn_frames = 0;
	c->set->turn_work = core_work(c->set->core);
}

/* Hold c's remaining work over to the next loop turn. */
static void
backlog_add(struct conn *c)
{
	if (c->yielded)
		return;
	c->yielded = 1;
	LIST_INSERT_HEAD(&c->set->backlog, c, backlog_link);
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
	uint32_t max = c->set->cfg->max_queue;
	struct outq *q = &c->out;

	if (q->pinned > max && !q->copying) {
		outq_compact(q);
		log_debug("conn %s: output queue compacted: %u bytes to send, %u pinned",
		          conn_peer(c), q->bytes, q->pinned);
	}
	if (q->bytes > max || q->pinned > 2 * (size_t)max + CHATD_COPY_BLOCK) {
		conn_close(c, REASON_SLOW_CONSUMER);
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
conn_output_budget(struct conn_set *set, size_t used)
{
	size_t limit = set->cfg->max_queue_total, n = 0, k, dropped = 0;
	struct shed *v;
	struct conn *c;

	if (limit == 0 || used <= limit)
		return;
	v = malloc(set->n * sizeof(*v) + 1);
	if (v == NULL)
		fatal("out of memory (output budget)");
	LIST_FOREACH(c, &set->all, link)
	if (c->state <= CONN_DRAINING && c->out.pinned)
		v[n++] = (struct shed){c, c->out.pinned};
	qsort(v, n, sizeof(*v), shed_cmp);
	/* Each queue is counted as if it alone held its blocks: a shared
	 * block may outlive the drop, and the next turn looks again. */
	for (k = 0; k < n && used > limit - limit / 8; k++) {
		conn_close(v[k].c, REASON_SLOW_CONSUMER);
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
	const struct config *cfg = c->set->cfg;
	double now;

	if (c->paused)
		return 0; /* the rest waits for conn_unpause() */
	/* However many tokens it has, one connection gets a bounded share of
	 * each loop turn, so that no client holds the loop for long: its
	 * requests and the deliveries they caused (to every member of a big
	 * room, say) count. */
	if ((uint64_t)c->turn_frames * CHATD_TURN_REQUEST +
	            (core_work(c->set->core) - c->set->turn_work) >=
	    CHATD_TURN_WORK) {
		backlog_add(c);
		return 0;
	}
	c->turn_frames++;
	if (cfg->flood_rate == 0)
		return 1;
	now = ev_now(c->set->loop);
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

static int
tp_pending(const struct conn *c)
{
	return c->tp->pending && c->tp->pending(c);
}

/* Write once: as much of the queue as one writev takes, within the
 * per-turn budget so that one busy reader cannot starve the rest. */
static void
flush(struct conn *c)
{
	struct iovec iov[CHATD_WRITE_IOV];
	/* What may leave: up to the open mark, never what waits for a commit. */
	uint32_t may = c->open - (c->out.pushed - c->out.bytes);
	ssize_t n;
	int cnt;

	cnt = outq_iov(&c->out, iov, CHATD_WRITE_IOV,
	               may < CHATD_WRITE_BUDGET ? may : CHATD_WRITE_BUDGET);
	if (cnt > 0 || tp_pending(c)) {
		n = c->tp->writev(c, iov, cnt);
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
		may -= (uint32_t)n;
		c->set->stats.bytes_out += (size_t)n;
	}
	c->writing = may > 0 || tp_pending(c);
	if (c->out.bytes == 0 && !tp_pending(c) && c->state == CONN_DRAINING) {
		conn_close(c, c->reason);
		return;
	}
	/* A long answer waiting for room goes on next turn. */
	if (c->producing && c->out.bytes < CHATD_PRODUCE_LOW && !c->throttled)
		backlog_add(c);
	update_events(c);
}

static void
gated_remove(struct conn *c)
{
	if (!c->gated)
		return;
	c->gated = 0;
	LIST_REMOVE(c, gated_link);
}

/* Open what waited for batches up to done. */
static void
fences_clear(struct conn *c, uint32_t done)
{
	while (c->nfence && (int32_t)(c->fneed[0] - done) <= 0) {
		c->open = c->fmark[0];
		c->fneed[0] = c->fneed[1];
		c->fmark[0] = c->fmark[1];
		c->nfence--;
	}
}

/* The end of a turn: c's output so far waits for batch need, or may go. */
static void
fence(struct conn *c, uint32_t need, uint32_t done)
{
	fences_clear(c, done);
	if (need == done) {
		c->open = c->out.pushed;
		c->nfence = 0;
	} else if (c->open != c->out.pushed) {
		if (c->nfence == 0 || c->fneed[c->nfence - 1] != need) {
			if (c->nfence == 2)
				fatal("conn: a third batch unfinished"); /* see conn.h */
			c->fneed[c->nfence++] = need;
		}
		c->fmark[c->nfence - 1] = c->out.pushed;
	}
	if (c->nfence && !c->gated) {
		c->gated = 1;
		LIST_INSERT_HEAD(&c->set->gated, c, gated_link);
	} else if (!c->nfence) {
		gated_remove(c);
	}
}

void
conn_flush_all(struct conn_set *set, uint32_t need, uint32_t done)
{
	struct conn *c;

	while ((c = LIST_FIRST(&set->pending)) != NULL) {
		pending_remove(c);
		if (c->state != CONN_CLOSED) {
			fence(c, need, done);
			flush(c);
		}
	}
}

void
conn_release(struct conn_set *set, uint32_t done)
{
	struct conn *c, *next;

	for (c = LIST_FIRST(&set->gated); c != NULL; c = next) {
		uint32_t was = c->open;

		next = LIST_NEXT(c, gated_link);
		fences_clear(c, done);
		if (c->nfence == 0)
			gated_remove(c);
		if (c->open != was && c->state != CONN_CLOSED)
			pending_insert(c);
	}
}

/* Hand buffered bytes to the protocol; returns how many were used. */
static size_t
process(struct conn *c, const uint8_t *p, size_t len)
{
	const struct frontend *fe = NULL;
	enum detect d = DETECT_NOT;
	size_t used = 0;

	if (c->state == CONN_DETECT) {
		/* A pinned listener knows its protocol: only its rule applies,
		 * and anything but its opening is a broken one. */
		if (c->pinned) {
			fe = frontend_at((uint8_t)(c->pinned - 1));
			d = fe->detect ? fe->detect(p, len, &used) : DETECT_MINE;
			if (d == DETECT_NOT)
				d = DETECT_BROKEN;
		} else {
			d = frontend_detect(p, len, &fe, &used);
		}
		switch (d) {
		case DETECT_MORE:
			return 0;
		case DETECT_MINE:
			choose(c, fe);
			break;
		case DETECT_BROKEN:
			c->fe = fe;
			conn_set_state(c, CONN_OPEN);
			fe->broken(c, p, len);
			return len;
		case DETECT_NOT:
			log_notice("conn %s: no protocol knows its first bytes", conn_peer(c));
			conn_close(c, REASON_PROTOCOL_ERROR);
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
		size_t cap = in_cap(c);

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

/* What c may do now: the next part of its long answer, or its held input.
 * A long answer advances one part a loop turn, so that many of them take
 * turns with everyone else instead of filling one turn (2,000 clients each
 * rendering their output bound at once would hold the loop for long). */
static void
work(struct conn *c)
{
	if (c->producing && c->state == CONN_OPEN) {
		/* Wait for the client to read: flush() brings it back. */
		if (c->out.bytes >= CHATD_PRODUCE_LOW)
			return;
		if (!conn_spend(c))
			return;
		if (c->fe->more(c)) {
			backlog_add(c);
			return;
		}
		c->producing = 0;
	}
	if (c->state == CONN_OPEN && c->in && !c->throttled && !c->yielded)
		keep(c, c->in, c->inlen, process(c, c->in, c->inlen));
}

void
conn_pause(struct conn *c)
{
	c->paused = 1;
	update_events(c);
}

void
conn_unpause(struct conn *c)
{
	if (!c->paused)
		return;
	c->paused = 0;
	if (c->state != CONN_OPEN)
		return;
	/* Perhaps from inside a fan-out: what was pipelined behind the
	 * answer waits for the next turn, when the core is free. */
	if (c->in)
		backlog_add(c);
	update_events(c);
}

void
conn_busy(void *conn, int on)
{
	if (on)
		conn_pause(conn);
	else
		conn_unpause(conn);
}

int
conn_local_is_loopback(const struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getsockname(c->fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

const char *
conn_ip(const struct conn *c)
{
	return c->ipc ? c->ipc->ip : "";
}

const double conn_turn_bounds[CONN_TURN_BUCKETS] = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
};

void
conn_count_turn(struct conn_set *set, double seconds)
{
	unsigned i = 0;

	while (i < CONN_TURN_BUCKETS && seconds > conn_turn_bounds[i])
		i++;
	set->stats.turns[i]++;
	set->stats.turn_sum += seconds;
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
	double wait = (1 - c->tokens) / c->set->cfg->flood_rate;

	update_events(c);
	arm_timer(c, ev_now(c->set->loop) + wait);
}

static void
conn_read(struct conn *c)
{
	struct conn_set *set = c->set;
	uint8_t *dst;
	size_t room;
	ssize_t n;

	if (c->in) {
		dst = c->in + c->inlen;
		room = c->incap - c->inlen;
	} else {
		dst = set->scratch;
		room = CHATD_READ_CHUNK;
	}
	if (room == 0)
		return;
	n = c->tp->read(c, dst, room);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_debug("conn %s: read: %s", conn_peer(c), strerror(errno));
		/* ETIMEDOUT: TCP keepalive or the user timeout gave up on it. */
		conn_close(c, error_reason(errno));
		return;
	}
	if (n == 0) {
		conn_close(c, REASON_CLOSED);
		return;
	}
	c->last_rx = ev_now(set->loop);
	c->pinged = 0;
	set->stats.bytes_in += (size_t)n;
	turn_start(c);
	if (c->in) {
		size_t len = c->inlen + (size_t)n;

		keep(c, c->in, len, process(c, c->in, len));
	} else {
		keep(c, dst, (size_t)n, process(c, dst, (size_t)n));
	}
	if (c->tp->after_input)
		c->tp->after_input(c);
	if (c->producing)
		work(c);
	held(c);
}

static void
conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = CONN_OF(w, io);

	(void)loop;
	/* Writable again: written with everyone else's output, before the
	 * loop sleeps, after the store's commit of this turn; writing here
	 * could send an ACK of this turn before its message is stored. */
	if (revents & EV_WRITE)
		pending_insert(c);
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
	c->last_rx = ev_now(c->set->loop);
	c->pinged = 0;
	turn_start(c);
	work(c);
	held(c);
}

int
conn_backlog_run(struct conn_set *set)
{
	struct conn_list run = set->backlog;
	struct conn *c;

	/* This turn's backlog moves to a list of its own: those that yield
	 * again go on the server's list, for the next turn. */
	if ((c = LIST_FIRST(&run)) != NULL)
		c->backlog_link.le_prev = &LIST_FIRST(&run);
	LIST_INIT(&set->backlog);
	while ((c = LIST_FIRST(&run)) != NULL) {
		backlog_remove(c);
		if (c->state != CONN_OPEN)
			continue;
		turn_start(c);
		work(c);
		held(c);
	}
	return !LIST_EMPTY(&set->backlog);
}

static void
conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = CONN_OF(w, timer);
	const struct config *cfg = c->set->cfg;
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
	if (c->state == CONN_DETECT && !c->pinned && c->in == NULL &&
	    now - c->last_rx >= detect_window(c)) {
		/* After a stall this timer may run before the read of bytes
		 * that came in time: the bytes decide, not the clock. */
		conn_read(c);
		/* Still nothing said: a person at a terminal, waiting to be
		 * greeted. */
		if (c->state == CONN_DETECT && c->in == NULL && frontend_fallback())
			choose(c, frontend_fallback());
		if (c->state != CONN_OPEN && c->state != CONN_DETECT)
			return;
	}
	registered = c->sess ? session_registered(c->sess) : c->fe && c->fe->sessionless;
	if (!registered && now - c->created >= cfg->handshake_timeout) {
		/* Slots are not for holding: a client must say who it is. */
		log_notice("conn %s: no name after %.1f s", conn_peer(c), now - c->created);
		refuse(c, REFUSE_HANDSHAKE);
		return;
	}
	next = registered ? INFINITY : c->created + cfg->handshake_timeout;
	if (c->state == CONN_DETECT && !c->pinned && c->in == NULL && frontend_fallback())
		next = fmin(next, c->last_rx + detect_window(c));
	/* People cannot answer pings: TCP keepalive watches text clients. */
	if (c->fe == NULL || c->fe->idle != NULL) {
		silent = now - c->last_rx;
		if (silent >= cfg->ping_interval + cfg->ping_timeout) {
			log_notice("conn %s: no answer for %.1f s", conn_peer(c), silent);
			if (c->fe && c->state == CONN_OPEN)
				c->fe->bye(c, REASON_PING_TIMEOUT);
			conn_close_after_flush(c, REASON_PING_TIMEOUT, CHATD_DRAIN_TIMEOUT);
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
	struct ev_loop *loop = c->set->loop;

	if (c->state == CONN_CLOSED)
		return;
	if (c->state != CONN_DRAINING)
		c->reason = reason;
	conn_set_state(c, CONN_CLOSED);
	ev_io_stop(loop, &c->io);
	ev_timer_stop(loop, &c->timer);
	if (!c->reaping) {
		c->reaping = 1;
		SLIST_INSERT_HEAD(&c->set->reap, c, reap_link);
	}
}

void
conn_close_after_flush(struct conn *c, uint8_t reason, double timeout)
{
	if (c->state >= CONN_DRAINING)
		return;
	if (c->tp->closing)
		c->tp->closing(c, reason);
	if (c->out.bytes == 0 && !tp_pending(c)) {
		conn_close(c, reason);
		return;
	}
	c->reason = reason;
	conn_set_state(c, CONN_DRAINING);
	c->deadline = ev_now(c->set->loop) + timeout;
	arm_timer(c, c->deadline);
	update_events(c);
	pending_add(c);
	if (!c->reaping) {
		c->reaping = 1;
		SLIST_INSERT_HEAD(&c->set->reap, c, reap_link);
	}
}

void
conn_switch(struct conn *c, const struct transport *tp, void *st, const struct frontend *fe,
            int opening)
{
	if (c->fe && c->fe->end)
		c->fe->end(c);
	c->fe_state = NULL;
	if (c->tp->end)
		c->tp->end(c);
	c->tp = tp;
	c->tp_state = st;
	/* The handshake timeout counts from here: the client's first word in
	 * the new transport is its opening, or its hello. */
	c->created = ev_now(c->set->loop);
	arm_timer(c, c->created + fmin(c->set->cfg->handshake_timeout, c->set->cfg->ping_interval));
	if (!opening) {
		c->fe = fe;
		fe->start(c);
		return;
	}
	c->upgrading = 1;
	conn_set_state(c, CONN_DETECT);
	c->upgrading = 0;
	c->fe = NULL;
	c->pinned = (uint8_t)(fe->id + 1);
}

/* Free everything; c is closed and on no list but the connection list. */
static void
destroy(struct conn *c)
{
	struct conn_set *set = c->set;

	pending_remove(c);
	gated_remove(c);
	backlog_remove(c);
	if (c->fe && c->fe->end)
		c->fe->end(c);
	if (c->tp->end)
		c->tp->end(c);
	ipcount_release(c->ipc);
	ev_io_stop(set->loop, &c->io);
	ev_timer_stop(set->loop, &c->timer);
	close(c->fd);
	outq_clear(&c->out);
	slab_free(c->in, c->incap);
	LIST_REMOVE(c, link);
	set->n--;
	slab_free(c, sizeof(*c));
}

void
conn_reap_all(struct conn_set *set)
{
	struct conn *c;

	while ((c = SLIST_FIRST(&set->reap)) != NULL) {
		SLIST_REMOVE_HEAD(&set->reap, reap_link);
		c->reaping = 0;
		if (c->sess) {
			uint8_t kind = 0;

			if (c->announce)
				kind = c->reason == REASON_NONE ? PRES_QUIT : PRES_DROP;
			/* Leaving is routine; being dropped is worth a notice. */
			if (session_registered(c->sess))
				log_msg(c->reason == REASON_NONE || c->reason == REASON_CLOSED ||
				                        c->reason == REASON_SHUTDOWN
				                ? LOG_LEVEL_INFO
				                : LOG_LEVEL_NOTICE,
				        "conn %s: %s left: %s", conn_peer(c), session_nick(c->sess),
				        core_reason_name(c->reason));
			core_session_end(set->core, c->sess, kind, c->reason);
			c->sess = NULL;
		}
		if (c->state == CONN_CLOSED) {
			log_debug("conn %s: closed (%s)", conn_peer(c),
			          core_reason_name(c->reason));
			if (c->reason != REASON_NONE && c->reason < REASON_COUNT)
				set->stats.drops[c->reason]++;
			destroy(c);
		}
	}
}
