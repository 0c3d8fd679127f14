/*
 * HTTP sessions.  A session is named by a random token and lives across
 * requests and connections; the core sees it as one more session, whose
 * sink is here.  What reaches it:
 *
 *  - room messages: written to its event stream, if one is open (room
 *    messages are read from the rooms' rings otherwise, so they are not
 *    kept here);
 *  - direct messages and presence events: kept in its mailbox, a bounded
 *    ring read by /me/events and by a resuming stream, and written to its
 *    stream;
 *  - the completions of its commands: handed to the request that gave
 *    them.
 *
 * A session unused (no request, no long poll, no stream) for
 * http-session-timeout is dropped with reason "timeout", announced to its
 * rooms like a dropped connection.  Sessions wait on a list in order of
 * last use, so one timer serves them all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <fcntl.h>

#include "core/core.h"
#include "net/conn.h"
#include "proto/http/http.h"
#include "util/config.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/slab.h"

#define TOKEN_BYTES ((size_t)16)
#define TOKEN_HEX   ((size_t)32) /* its length as text: two hex digits a byte */

/* Sessions per client address, for http-max-sessions-per-ip. */
struct ipsess {
	char ip[48];
	unsigned n;
};

/* The mailbox: a ring of events, and the ids of those it let go. */
struct mailbox {
	struct hevent *v; /* a ring of size slots, grown by doubling up to max */
	uint32_t size;
	uint32_t max; /* events kept (http-mailbox) */
	uint32_t head;
	uint32_t n;
	size_t bytes;   /* what the held events take */
	uint64_t *gone; /* ids let go, oldest first: a ring of max */
	uint32_t ghead;
	uint32_t gn;
	uint64_t gone_total; /* events let go, all told */
	uint64_t forgot_id;  /* the newest let-go id no longer remembered */
};

struct hsess {
	char token[TOKEN_HEX + 1];
	struct session *sess;
	struct ipsess *ip;
	double last_used;
	TAILQ_ENTRY(hsess) idle_link; /* by last use, oldest first */
	struct mailbox mb;
	uint64_t last_id;          /* the newest event id it has been given */
	struct hconn *stream;      /* its event stream, or NULL */
	struct hconn_list waiters; /* its long polls, on its mailbox or a room */
	struct hconn_list await;   /* requests whose commands run (hsess_begin) */
	uint8_t failed;            /* its HELLO was refused: to be freed */
	uint8_t creating;          /* inside hsess_create(): a refusal is freed there */
	uint8_t ending;
};

TAILQ_HEAD(hsess_list, hsess);

/* Room waiters: the long polls on one room. */
struct roomwait {
	char key[CORE_ROOM_MAX + 1];
	size_t len;
	struct hconn_list list;
};

static struct {
	struct conn_set *set;
	struct hmap tokens; /* token -> session */
	struct hmap ips;    /* address -> struct ipsess */
	struct hmap rooms;  /* folded room name -> struct roomwait */
	struct hsess_list idle;
	size_t n;
	ev_timer sweep;
} S;

static void on_message(void *ctx, struct msg *m);
static void on_presence(void *ctx, struct pres *p);
static void on_done(void *ctx, const struct core_reply *r);
static void arm_sweep(void);

static const struct sink http_sink = {on_message, on_presence, on_done, NULL};

static const struct config *
cfg(void)
{
	return S.set->cfg;
}

/* --- the mailbox --- */

static size_t
event_bytes(const struct hevent *e)
{
	if (e->m)
		return msg_size(e->m);
	if (e->p)
		return sizeof(*e->p) + e->p->room_len + e->p->nick_len + e->p->new_nick_len +
		       e->p->nitems * sizeof(void *);
	return 0;
}

static void
mb_let_go(struct mailbox *mb)
{
	struct hevent *e = &mb->v[mb->head];

	mb->bytes -= event_bytes(e);
	if (mb->gone == NULL)
		mb->gone = calloc(mb->max, sizeof(*mb->gone));
	if (mb->gone) {
		if (mb->gn == mb->max) {
			mb->forgot_id = mb->gone[mb->ghead];
			mb->ghead = (mb->ghead + 1) % mb->max;
			mb->gn--;
		}
		mb->gone[(mb->ghead + mb->gn) % mb->max] = e->id;
		mb->gn++;
	}
	mb->gone_total++;
	if (e->m)
		msg_unref(e->m);
	else
		pres_unref(e->p);
	mb->head = (mb->head + 1) % mb->size;
	mb->n--;
}

/* Room for one more event.  Most sessions only ever hold a few presence
 * lines, so the ring starts small rather than at its bound. */
static void
mb_grow(struct mailbox *mb)
{
	uint32_t size = mb->size ? mb->size * 2 : 8, i;
	struct hevent *v;

	if (size > mb->max)
		size = mb->max;
	if ((v = malloc(size * sizeof(*v))) == NULL)
		fatal("out of memory (mailbox)");
	for (i = 0; i < mb->n; i++)
		v[i] = mb->v[(mb->head + i) % mb->size];
	free(mb->v);
	mb->v = v;
	mb->size = size;
	mb->head = 0;
}

static void
mb_push(struct mailbox *mb, struct hevent e)
{
	size_t max_bytes = cfg()->http_mailbox_bytes;

	if (mb->max == 0)
		mb->max = cfg()->http_mailbox;
	mb->bytes += event_bytes(&e);
	while (mb->n && (mb->n == mb->max || mb->bytes > max_bytes))
		mb_let_go(mb);
	if (mb->n == mb->size)
		mb_grow(mb);
	mb->v[(mb->head + mb->n) % mb->size] = e;
	mb->n++;
}

static void
mb_free(struct mailbox *mb)
{
	while (mb->n)
		mb_let_go(mb);
	free(mb->v);
	free(mb->gone);
	memset(mb, 0, sizeof(*mb));
}

size_t
hsess_events(const struct hsess *hs, uint64_t after, struct hevent *out, size_t max,
             uint64_t *dropped)
{
	const struct mailbox *mb = &hs->mb;
	uint64_t lost = 0;
	size_t k = 0;
	uint32_t i;

	/* Let-go ids are remembered oldest first, the last max of them; those
	 * forgotten are older still, and count only for a reader older than
	 * the newest of them (then all of them count: at most, not exactly). */
	for (i = 0; i < mb->gn; i++)
		if (mb->gone[(mb->ghead + i) % mb->max] > after)
			lost++;
	if (mb->gone_total > mb->gn && after < mb->forgot_id)
		lost += mb->gone_total - mb->gn;
	*dropped = lost;
	for (i = 0; i < mb->n && k < max; i++) {
		const struct hevent *e = &mb->v[(mb->head + i) % mb->size];

		if (e->id > after)
			out[k++] = *e;
	}
	return k;
}

uint64_t
hsess_last_id(const struct hsess *hs)
{
	return hs->last_id;
}

/* --- waiting --- */

static void touch(struct hsess *hs);

static void
wake_events(struct hsess *hs)
{
	struct hconn *h;

	struct hconn *next;

	/* api_wake() answers and unlinks the waiter, and only it. */
	for (h = LIST_FIRST(&hs->waiters); h; h = next) {
		next = LIST_NEXT(h, slink);
		if (h->wait == HW_EVENTS)
			api_wake(h);
	}
}

void
hsess_wait_events(struct hsess *hs, struct hconn *h)
{
	h->hs = hs;
	h->wait = HW_EVENTS;
	LIST_INSERT_HEAD(&hs->waiters, h, slink);
}

void
hsess_wait_room(struct hconn *h, struct hsess *hs)
{
	struct roomwait *w = hmap_get(&S.rooms, h->wroom, h->wroom_len);

	if (w == NULL) {
		w = slab_zalloc(sizeof(*w));
		memcpy(w->key, h->wroom, h->wroom_len);
		w->len = h->wroom_len;
		LIST_INIT(&w->list);
		hmap_put(&S.rooms, w->key, w->len, w);
	}
	h->wait = HW_ROOM;
	LIST_INSERT_HEAD(&w->list, h, wlink);
	/* A session's long poll is use of it, on a room as on its mailbox. */
	if (hs) {
		h->hs = hs;
		LIST_INSERT_HEAD(&hs->waiters, h, slink);
	}
}

void
hsess_unwait(struct hconn *h)
{
	/* A poll or a stream is use of its session until its very end. */
	if (h->hs && (h->wait != HW_NONE || h->hs->stream == h) && !h->hs->ending)
		touch(h->hs);
	if (h->hs && h->hs->stream == h)
		h->hs->stream = NULL;
	if (h->awaiting) {
		LIST_REMOVE(h, alink);
		h->awaiting = 0;
	}
	if (h->wait != HW_NONE) {
		if (h->hs)
			LIST_REMOVE(h, slink);
		if (h->wait == HW_ROOM) {
			LIST_REMOVE(h, wlink);
			struct roomwait *w = hmap_get(&S.rooms, h->wroom, h->wroom_len);

			if (w && LIST_EMPTY(&w->list)) {
				hmap_del(&S.rooms, w->key, w->len);
				slab_free(w, sizeof(*w));
			}
		}
	}
	h->wait = HW_NONE;
	h->hs = NULL;
}

/* A room message: wake the long polls on its room. */
static void
tap_message(void *arg, struct room *r, struct msg *m)
{
	struct roomwait *w = hmap_get(&S.rooms, room_key(r), strlen(room_key(r)));
	struct hconn *h, *next;

	(void)arg;
	(void)m;
	if (w == NULL)
		return;
	/* Answering unlinks each waiter, and may free w with the last. */
	for (h = LIST_FIRST(&w->list); h; h = next) {
		next = LIST_NEXT(h, wlink);
		if (next == NULL) {
			api_wake(h);
			break;
		}
		api_wake(h);
	}
}

void
hsess_set_stream(struct hsess *hs, struct hconn *h)
{
	struct hconn *old = hs->stream;

	if (old && old != h) {
		/* One stream a session: the newer one replaces it. */
		old->hs = NULL;
		http_close(old);
	}
	hs->stream = h;
	h->hs = hs;
}

/* --- the core's sink --- */

static void
touch(struct hsess *hs)
{
	hs->last_used = ev_now(S.set->loop);
	TAILQ_REMOVE(&S.idle, hs, idle_link);
	TAILQ_INSERT_TAIL(&S.idle, hs, idle_link);
}

/* Its stream takes events as they come (not while it resumes: the
 * resume finds them where they are kept). */
static int
live(const struct hsess *hs)
{
	return hs->stream && !hs->stream->resuming;
}

static void
on_message(void *ctx, struct msg *m)
{
	struct hsess *hs = ctx;

	if (m->direct) {
		mb_push(&hs->mb, (struct hevent){m->id, msg_ref(m), NULL});
		hs->last_id = m->id;
	}
	if (live(hs))
		http_send(hs->stream, render_msg(m, 0));
	if (m->direct)
		wake_events(hs);
}

static void
on_presence(void *ctx, struct pres *p)
{
	struct hsess *hs = ctx;

	mb_push(&hs->mb, (struct hevent){p->id, NULL, pres_ref(p)});
	hs->last_id = p->id;
	if (live(hs))
		http_send(hs->stream, render_pres(p));
	wake_events(hs);
}

/* The core completes a session's commands in order, before the command
 * returns or (waiting on the backplane) later; the requests that gave
 * them wait in hs->await and are matched by their serials, so a late
 * completion whose request has gone is dropped. */
static void
on_done(void *ctx, const struct core_reply *r)
{
	struct hsess *hs = ctx;
	struct hconn *h;

	LIST_FOREACH(h, &hs->await, alink)
	if (h->serial == r->tag)
		break;
	if (h) {
		LIST_REMOVE(h, alink);
		h->awaiting = 0;
	}

	if (r->cmd == CMD_HELLO && r->err)
		hs->failed = 1;
	if (r->cmd == CMD_SAY && r->err == 0 && live(hs))
		http_send(hs->stream, render_msg(r->msg, 0)); /* the sender's own stream hears it */
	if (h)
		api_done(h, r);
	if (r->cmd == CMD_HELLO && h)
		h->hs = NULL; /* it named the session for its answer only */
	if (r->cmd == CMD_HELLO && r->err && !hs->creating) {
		/* Refused later (a cluster's claim): freed by the sweep, not
		 * from inside the core's completion. */
		hs->last_used = 0;
		TAILQ_REMOVE(&S.idle, hs, idle_link);
		TAILQ_INSERT_HEAD(&S.idle, hs, idle_link);
		arm_sweep();
	}
}

void
hsess_begin(struct hsess *hs, struct hconn *h)
{
	LIST_INSERT_HEAD(&hs->await, h, alink);
	h->awaiting = 1;
}

int
hsess_finish(struct hsess *hs, struct hconn *h)
{
	(void)hs;
	if (h->awaiting)
		http_await(h);
	return h->awaiting;
}

/* --- the sessions --- */

static int
random_token(char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[TOKEN_BYTES];
	ssize_t got = getrandom(b, sizeof(b), 0);
	size_t i;

	if (got != (ssize_t)sizeof(b)) {
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

		got = fd >= 0 ? read(fd, b, sizeof(b)) : -1;
		if (fd >= 0)
			close(fd);
		if (got != (ssize_t)sizeof(b))
			return -1;
	}
	for (i = 0; i < sizeof(b); i++) {
		out[i * 2u] = hex[b[i] >> 4];
		out[i * 2u + 1u] = hex[b[i] & 15];
	}
	out[TOKEN_HEX] = '\0';
	return 0;
}

static void
hsess_free(struct hsess *hs, uint8_t kind, uint8_t reason)
{
	struct hconn *h;

	hs->ending = 1;
	while ((h = LIST_FIRST(&hs->waiters)) != NULL) {
		hsess_unwait(h);
		http_close(h);
	}
	if (hs->stream) {
		struct hconn *st = hs->stream;

		hsess_unwait(st);
		http_close(st);
	}
	/* A request still waiting for its command's outcome will not hear it. */
	while ((h = LIST_FIRST(&hs->await)) != NULL) {
		LIST_REMOVE(h, alink);
		h->awaiting = 0;
		h->hs = NULL;
		http_error(h, 410, "session_ended",
		           "the session ended before the command completed");
		http_end(h);
	}
	if (hs->sess)
		core_session_end(S.set->core, hs->sess, kind, reason);
	hmap_del(&S.tokens, hs->token, strlen(hs->token));
	TAILQ_REMOVE(&S.idle, hs, idle_link);
	if (hs->ip && --hs->ip->n == 0) {
		hmap_del(&S.ips, hs->ip->ip, strlen(hs->ip->ip));
		slab_free(hs->ip, sizeof(*hs->ip));
	}
	mb_free(&hs->mb);
	slab_free(hs, sizeof(*hs));
	S.n--;
}

static void
arm_sweep(void)
{
	struct hsess *hs = TAILQ_FIRST(&S.idle);
	double at;

	ev_timer_stop(S.set->loop, &S.sweep);
	if (hs == NULL)
		return;
	at = hs->last_used + cfg()->http_session_timeout - ev_now(S.set->loop);
	ev_timer_set(&S.sweep, at > 0 ? at : 0, 0);
	ev_timer_start(S.set->loop, &S.sweep);
}

static void
sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	double now = ev_now(loop), timeout = cfg()->http_session_timeout;
	struct hsess *hs;

	(void)w;
	(void)revents;
	while ((hs = TAILQ_FIRST(&S.idle)) != NULL && hs->last_used + timeout <= now) {
		if (hs->failed) { /* its HELLO was refused after the request */
			hsess_free(hs, 0, 0);
			continue;
		}
		/* Waiting and streaming are use. */
		if (hs->stream || !LIST_EMPTY(&hs->waiters)) {
			touch(hs);
			continue;
		}
		log_info("http: session %s timed out after %.1f s", session_nick(hs->sess),
		         now - hs->last_used);
		S.set->stats.drops[REASON_TIMEOUT]++;
		hsess_free(hs, PRES_DROP, REASON_TIMEOUT);
	}
	arm_sweep();
}

struct hsess *
hsess_of(struct hconn *h)
{
	char token[TOKEN_HEX + 1];
	const char *v;
	size_t n = 0;
	struct hsess *hs;

	token[0] = '\0';
	if ((v = http_header(h, HH_AUTHORIZATION, &n)) != NULL) {
		if (n > 7 && strncasecmp(v, "Bearer ", 7) == 0) {
			v += 7;
			n -= 7;
			while (n && *v == ' ') {
				v++;
				n--;
			}
			if (n == TOKEN_HEX) {
				memcpy(token, v, n);
				token[n] = '\0';
			}
		}
	} else if ((v = http_header(h, HH_COOKIE, &n)) != NULL) {
		/* "a=b; chatd_token=...; c=d" */
		const char *end = v + n, *p = v;

		while (p < end) {
			const char *semi = memchr(p, ';', (size_t)(end - p));
			const char *stop = semi ? semi : end;

			while (p < stop && *p == ' ')
				p++;
			if ((size_t)(stop - p) == 12 + TOKEN_HEX &&
			    memcmp(p, "chatd_token=", 12) == 0) {
				memcpy(token, p + 12, TOKEN_HEX);
				token[TOKEN_HEX] = '\0';
				break;
			}
			p = stop + 1;
		}
	}
	if (token[0] == '\0')
		return NULL;
	hs = hmap_get(&S.tokens, token, strlen(token));
	if (hs && !hs->ending) {
		touch(hs);
		arm_sweep();
		return hs;
	}
	return NULL;
}

struct session *
hsess_core(const struct hsess *hs)
{
	return hs->sess;
}

size_t
hsess_count(void)
{
	return S.n;
}

void
hsess_create(struct hconn *h, const char *nick, size_t n)
{
	const struct config *c = cfg();
	const char *ip = conn_ip(h->c);
	struct ipsess *is = hmap_get(&S.ips, ip, strlen(ip));
	struct hsess *hs;

	if (c->http_max_sessions && S.n >= c->http_max_sessions) {
		http_extra("Retry-After: 5\r\n");
		metrics_refusal("http-max-sessions");
		http_error(h, 503, "server_full",
		           "the server holds its limit of %u HTTP sessions (http-max-sessions)",
		           c->http_max_sessions);
		http_end(h);
		return;
	}
	if (c->http_max_sessions_per_ip && is && is->n >= c->http_max_sessions_per_ip) {
		metrics_refusal("http-max-sessions-per-ip");
		http_error(h, 429, "too_many_sessions",
		           "%u sessions from %s (http-max-sessions-per-ip)", is->n, ip);
		http_end(h);
		return;
	}
	hs = slab_zalloc(sizeof(*hs));
	if (random_token(hs->token) < 0) {
		slab_free(hs, sizeof(*hs));
		http_error(h, 503, "unavailable", "no randomness for a token");
		http_end(h);
		return;
	}
	if (is == NULL) {
		is = slab_zalloc(sizeof(*is));
		snprintf(is->ip, sizeof(is->ip), "%s", ip);
		hmap_put(&S.ips, is->ip, strlen(is->ip), is);
	}
	is->n++;
	hs->ip = is;
	LIST_INIT(&hs->waiters);
	LIST_INIT(&hs->await);
	hs->last_used = ev_now(S.set->loop);
	TAILQ_INSERT_TAIL(&S.idle, hs, idle_link);
	hmap_put(&S.tokens, hs->token, strlen(hs->token), hs);
	S.n++;
	hs->sess = core_session_new(S.set->core, &http_sink, hs);
	h->hs = hs;
	hsess_begin(hs, h);
	hs->creating = 1;
	core_hello(S.set->core, hs->sess, nick, n, h->serial);
	hs->creating = 0;
	if (hsess_finish(hs, h)) { /* a cluster claims the nick first: on_done answers */
		arm_sweep();
		return;
	}
	h->hs = NULL; /* it named the session for its answer only */
	if (hs->failed) {
		hsess_free(hs, 0, 0);
		return;
	}
	arm_sweep();
}

const char *
hsess_token(const struct hsess *hs)
{
	return hs->token;
}

void
hsess_end(struct hsess *hs)
{
	log_info("http: session %s ended", session_nick(hs->sess));
	hsess_free(hs, PRES_QUIT, REASON_NONE);
	arm_sweep();
}

void
hsess_attach(struct conn_set *set)
{
	static const struct core_tap tap = {tap_message, NULL};

	S.set = set;
	hmap_init(&S.tokens);
	hmap_init(&S.ips);
	hmap_init(&S.rooms);
	TAILQ_INIT(&S.idle);
	ev_timer_init(&S.sweep, sweep_cb, 0, 0);
	core_add_tap(set->core, &tap);
}

void
hsess_detach(void)
{
	struct hsess *hs;

	if (S.set == NULL)
		return;
	/* Everyone is leaving: no departures announced here (other nodes of a
	 * cluster announce them as the server's shutdown). */
	while ((hs = TAILQ_FIRST(&S.idle)) != NULL)
		hsess_free(hs, 0, REASON_SHUTDOWN);
	ev_timer_stop(S.set->loop, &S.sweep);
	hmap_free(&S.tokens);
	hmap_free(&S.ips);
	hmap_free(&S.rooms);
	S.set = NULL;
}
