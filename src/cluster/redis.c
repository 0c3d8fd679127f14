/*
 * A Redis link (redis.h): one hiredis async context at a time, driven by
 * chatd's loop through hiredis's libev adapter.  The link owns its
 * reconnect timer and a watchdog; the context comes and goes.  Requests
 * in flight form a FIFO (Redis answers in order), so the watchdog can
 * tell a link whose oldest command waits too long, which is how a
 * network cut is noticed without waiting for TCP to give up.
 */
#include "cluster/redis.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <ev.h>
#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "util/log.h"

#define REDIS_WATCHDOG_INTERVAL 1.0 /* seconds between checks of a live link */
#define REDIS_IDLE_PING         1.0 /* a command link this quiet is pinged */

/* A command in flight. */
struct redis_req {
	struct redis_req *next;
	struct redis_link *link;
	redis_reply_fn *cb;
	void *arg;
	double sent; /* monotonic seconds */
};

/* A channel the link keeps subscribed to, or leaves. */
struct redis_sub {
	struct redis_sub *next;
	struct redis_link *link;
	redis_message_fn *cb;
	void *arg;
	/* Unsubscribed on a live context: hiredis holds it until Redis
	 * confirms (or the context goes), and nothing more is delivered. */
	uint8_t leaving;
	/* Its SUBSCRIBE waits for a leaving one of the same channel: hiredis
	 * keeps one callback per channel, and the leaving one's confirmation
	 * would remove this one's. */
	uint8_t held;
	char channel[]; /* NUL-terminated */
};

struct redis_link {
	struct ev_loop *loop;
	struct redis_url url;
	redisAsyncContext *ac; /* NULL while down */
	enum redis_state state;
	ev_timer retry;    /* the next connect attempt, while down */
	ev_timer watchdog; /* while ac exists: late replies, idle pings, slow connects */
	double backoff;    /* seconds before the next attempt */
	double since;      /* monotonic time the current connect began */
	double last_sent;  /* monotonic time of the last command */
	struct redis_req *head, *tail; /* in flight, oldest first */
	struct redis_sub *subs;
	struct redis_sub *leaving; /* unsubscribed, waiting for Redis to confirm */
	redis_state_fn *on_state;
	void *state_arg;
	redis_ready_fn *on_ready;
	void *ready_arg;
	int in_ready;   /* inside on_ready: commands are taken before the link is up */
	int hs_failed;  /* a handshake command was refused */
	int been_up;    /* for counting reconnects */
	int subscriber; /* for subscriptions only: never pinged */
	char why[160];
	struct redis_stats stats;
};

static void link_connect(struct redis_link *l);

/* Monotonic seconds. */
static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The link is gone (or never came): forget the context (its owner, hiredis
 * or the caller, frees it), arm the reconnect timer, and tell the user if
 * it had been up.  Idempotent while down.
 */
static void
link_lost(struct redis_link *l, const char *why)
{
	int was_up = l->state == REDIS_LINK_UP;

	if (l->state == REDIS_LINK_CLOSED || l->state == REDIS_LINK_DOWN)
		return;
	l->ac = NULL;
	l->state = REDIS_LINK_DOWN;
	snprintf(l->why, sizeof(l->why), "%s", why);
	ev_timer_stop(l->loop, &l->watchdog);
	ev_timer_set(&l->retry, l->backoff, 0);
	ev_timer_start(l->loop, &l->retry);
	log_at(was_up ? LOG_LEVEL_WARNING : LOG_LEVEL_DEBUG, "redis %s: %s; again in %.1f s",
	       l->url.shown, why, l->backoff);
	l->backoff *= 2;
	if (l->backoff > REDIS_BACKOFF_MAX)
		l->backoff = REDIS_BACKOFF_MAX;
	if (was_up && l->on_state)
		l->on_state(l, 0, l->why, l->state_arg);
}

/* Take req out of the FIFO (it is at its head unless the link was freed
 * with requests in odd order, which hiredis does not do). */
static void
req_unlink(struct redis_link *l, struct redis_req *req)
{
	struct redis_req **pp = &l->head, *prev = NULL;

	while (*pp && *pp != req) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp == NULL)
		return;
	*pp = req->next;
	if (l->tail == req)
		l->tail = prev;
}

/* hiredis's reply callback for every request: count, unlink, call. */
static void
on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct redis_req *req = privdata;
	struct redis_link *l = req->link;

	(void)ac;
	req_unlink(l, req);
	if (r != NULL) {
		double dt = mono_now() - req->sent;

		l->stats.round_trips++;
		l->stats.latency_sum += dt;
		if (dt > l->stats.latency_max)
			l->stats.latency_max = dt;
	} else {
		l->stats.failed++;
	}
	if (req->cb)
		req->cb(l, r, req->arg);
	free(req);
}

/* A request for cb, stamped now; NULL when out of memory. */
static struct redis_req *
req_new(struct redis_link *l, redis_reply_fn *cb, void *arg)
{
	struct redis_req *req = calloc(1, sizeof(*req));

	if (req == NULL)
		return NULL;
	req->link = l;
	req->cb = cb;
	req->arg = arg;
	req->sent = l->last_sent = mono_now();
	return req;
}

/* After hiredis took req's command (rc REDIS_OK): queue it in the FIFO;
 * else free it.  0 or -1. */
static int
req_queue(struct redis_link *l, struct redis_req *req, int rc)
{
	if (rc != REDIS_OK) {
		free(req);
		return -1;
	}
	if (l->tail)
		l->tail->next = req;
	else
		l->head = req;
	l->tail = req;
	l->stats.commands++;
	return 0;
}

/* Send a command on the context, whatever the state; 0 or -1. */
static int
link_send(struct redis_link *l, redis_reply_fn *cb, void *arg, int argc, const char **argv,
          const size_t *argvlen)
{
	struct redis_req *req;

	if (l->ac == NULL || (req = req_new(l, cb, arg)) == NULL)
		return -1;
	return req_queue(l, req, redisAsyncCommandArgv(l->ac, on_reply, req, argc, argv, argvlen));
}

static int sub_send(struct redis_link *l, struct redis_sub *sub);

/* A subscription of that channel in list, or NULL. */
static struct redis_sub *
sub_find(struct redis_sub *list, const char *channel)
{
	for (; list; list = list->next)
		if (strcmp(list->channel, channel) == 0)
			return list;
	return NULL;
}

/* Hiredis lets go of leaving sub (confirmed, or its context went): free it,
 * and send a SUBSCRIBE of its channel that waited for it. */
static void
sub_left(struct redis_sub *sub)
{
	struct redis_link *l = sub->link;
	struct redis_sub **pp, *next;

	for (pp = &l->leaving; *pp && *pp != sub; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = sub->next;
	if (l->state == REDIS_LINK_UP && (next = sub_find(l->subs, sub->channel)) && next->held) {
		next->held = 0;
		(void)sub_send(l, next);
	}
	free(sub);
}

/* The message callback of every subscription. */
static void
on_message(redisAsyncContext *ac, void *r, void *privdata)
{
	struct redis_sub *sub = privdata;
	redisReply *reply = r;

	(void)ac;
	if (sub->leaving) {
		/* Hiredis calls it once more: with the confirmation, or with
		 * NULL when the context goes. */
		if (reply == NULL || (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
		                      reply->element[0]->type == REDIS_REPLY_STRING &&
		                      strcmp(reply->element[0]->str, "unsubscribe") == 0))
			sub_left(sub);
		return;
	}
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    reply->element[1]->type != REDIS_REPLY_STRING)
		return; /* the link dropped */
	sub->link->stats.round_trips++;
	if (strcmp(reply->element[0]->str, "subscribe") == 0)
		sub->cb(sub->link, reply->element[1]->str, reply->element[1]->len, NULL, 0,
		        sub->arg);
	else if (strcmp(reply->element[0]->str, "message") == 0 &&
	         reply->element[2]->type == REDIS_REPLY_STRING)
		sub->cb(sub->link, reply->element[1]->str, reply->element[1]->len,
		        reply->element[2]->str, reply->element[2]->len, sub->arg);
}

/* Send SUBSCRIBE for sub on the live context. */
static int
sub_send(struct redis_link *l, struct redis_sub *sub)
{
	if (redisAsyncCommand(l->ac, on_message, sub, "SUBSCRIBE %s", sub->channel) != REDIS_OK)
		return -1;
	l->stats.commands++;
	return 0;
}

/* The last reply of the handshake (PING): the link is up unless a step
 * before it was refused. */
static void
on_handshake_done(struct redis_link *l, struct redisReply *r, void *arg)
{
	struct redis_sub *sub;

	(void)arg;
	if (r == NULL || l->state != REDIS_LINK_HANDSHAKE)
		return;
	if (!l->hs_failed && r->type == REDIS_REPLY_ERROR) {
		snprintf(l->why, sizeof(l->why), "PING: %s", r->str);
		l->hs_failed = 1;
	}
	if (l->hs_failed) {
		log_warn("redis %s: %s", l->url.shown, l->why);
		redisAsyncDisconnect(l->ac); /* after this callback; on_disconnect follows */
		return;
	}
	l->state = REDIS_LINK_UP;
	l->backoff = REDIS_BACKOFF_MIN;
	l->stats.connects++;
	if (l->been_up)
		l->stats.reconnects++;
	l->been_up = 1;
	l->why[0] = '\0';
	for (sub = l->subs; sub; sub = sub->next) {
		sub->held = 0; /* the leaving ones went with the old context */
		(void)sub_send(l, sub);
	}
	log_info("redis %s: up", l->url.shown);
	if (l->on_state)
		l->on_state(l, 1, "", l->state_arg);
}

/* AUTH's and SELECT's replies: remember the first refusal. */
static void
on_handshake_step(struct redis_link *l, struct redisReply *r, void *arg)
{
	const char *step = arg;

	if (r != NULL && r->type == REDIS_REPLY_ERROR && !l->hs_failed) {
		snprintf(l->why, sizeof(l->why), "%s: %s", step, r->str);
		l->hs_failed = 1;
	}
}

static char step_auth[] = "AUTH", step_select[] = "SELECT";

/* TCP is up: authenticate, select, let the user prepare, then PING. */
static void
on_connect(const redisAsyncContext *cac, int status)
{
	struct redis_link *l = cac->data;
	char db[16];
	const char *argv[3];
	size_t len[3];

	if (l == NULL || l->ac != cac || l->state != REDIS_LINK_CONNECTING)
		return;
	if (status != REDIS_OK) {
		char why[160];

		snprintf(why, sizeof(why), "cannot connect: %s", cac->errstr);
		link_lost(l, why); /* hiredis frees the context after this call */
		return;
	}
	l->state = REDIS_LINK_HANDSHAKE;
	l->hs_failed = 0;
	redisEnableKeepAlive(&l->ac->c);
	if (l->url.has_password) {
		int n = 0;

		argv[n++] = "AUTH";
		if (l->url.has_user)
			argv[n++] = l->url.user;
		argv[n++] = l->url.password;
		for (int i = 0; i < n; i++)
			len[i] = strlen(argv[i]);
		(void)link_send(l, on_handshake_step, step_auth, n, argv, len);
	}
	if (l->url.has_db) {
		snprintf(db, sizeof(db), "%u", l->url.db);
		argv[0] = "SELECT";
		argv[1] = db;
		len[0] = 6;
		len[1] = strlen(db);
		(void)link_send(l, on_handshake_step, step_select, 2, argv, len);
	}
	if (l->on_ready) {
		l->in_ready = 1;
		l->on_ready(l, l->ready_arg);
		l->in_ready = 0;
	}
	argv[0] = "PING";
	len[0] = 4;
	(void)link_send(l, on_handshake_done, NULL, 1, argv, len);
}

/* The context is going away (hiredis frees it after this returns). */
static void
on_disconnect(const redisAsyncContext *cac, int status)
{
	struct redis_link *l = cac->data;
	char why[160];

	if (l == NULL || l->ac != cac)
		return; /* one the link already let go of */
	if (l->hs_failed)
		snprintf(why, sizeof(why), "%s", l->why);
	else if (status == REDIS_OK)
		snprintf(why, sizeof(why), "connection closed");
	else
		snprintf(why, sizeof(why), "connection lost: %s", cac->errstr);
	link_lost(l, why);
}

/* Drop the context from outside hiredis's callbacks: its requests fail
 * (callbacks with NULL) after the user has heard the link is down. */
static void
link_kill(struct redis_link *l, const char *why)
{
	redisAsyncContext *ac = l->ac;

	link_lost(l, why);
	if (ac)
		redisAsyncFree(ac); /* on_disconnect sees l->ac != ac */
}

/* Late replies, slow connects, and a PING on a quiet command link. */
static void
on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct redis_link *l =
	        (struct redis_link *)((char *)w - offsetof(struct redis_link, watchdog));
	double now = mono_now();
	char why[96];

	(void)loop;
	(void)revents;
	if (l->ac == NULL)
		return;
	if (l->state == REDIS_LINK_CONNECTING && now - l->since > REDIS_REPLY_TIMEOUT) {
		snprintf(why, sizeof(why), "cannot connect: no answer in %.0f s",
		         REDIS_REPLY_TIMEOUT);
		link_kill(l, why);
		return;
	}
	if (l->head && now - l->head->sent > REDIS_REPLY_TIMEOUT) {
		snprintf(why, sizeof(why), "no reply in %.0f s", REDIS_REPLY_TIMEOUT);
		link_kill(l, why);
		return;
	}
	if (l->state == REDIS_LINK_UP && l->subs == NULL && !l->subscriber && l->head == NULL &&
	    now - l->last_sent > REDIS_IDLE_PING) {
		const char *argv[] = {"PING"};
		size_t len[] = {4};

		(void)link_send(l, NULL, NULL, 1, argv, len);
	}
}

static void
on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct redis_link *l =
	        (struct redis_link *)((char *)w - offsetof(struct redis_link, retry));

	(void)loop;
	(void)revents;
	link_connect(l);
}

/* Start a connect attempt (the state is DOWN). */
static void
link_connect(struct redis_link *l)
{
	redisAsyncContext *ac;
	char why[160];

	l->state = REDIS_LINK_CONNECTING;
	l->since = mono_now();
	ac = redisAsyncConnect(l->url.host, l->url.port);
	if (ac == NULL || ac->err) {
		snprintf(why, sizeof(why), "cannot connect: %s", ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		link_lost(l, why);
		return;
	}
	ac->data = l;
	l->ac = ac;
	if (redisLibevAttach(l->loop, ac) != REDIS_OK) {
		link_kill(l, "cannot attach to the loop");
		return;
	}
	(void)redisAsyncSetConnectCallback(ac, on_connect);
	(void)redisAsyncSetDisconnectCallback(ac, on_disconnect);
	ev_timer_again(l->loop, &l->watchdog);
}

struct redis_link *
redis_new(struct ev_loop *loop, const struct redis_url *url, redis_state_fn *state, void *arg)
{
	struct redis_link *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->loop = loop;
	l->url = *url;
	l->on_state = state;
	l->state_arg = arg;
	l->backoff = REDIS_BACKOFF_MIN;
	l->state = REDIS_LINK_DOWN;
	ev_timer_init(&l->retry, on_retry, 0, 0);
	ev_timer_init(&l->watchdog, on_watchdog, REDIS_WATCHDOG_INTERVAL, REDIS_WATCHDOG_INTERVAL);
	link_connect(l);
	return l;
}

void
redis_subscriber(struct redis_link *l)
{
	l->subscriber = 1;
}

void
redis_on_ready(struct redis_link *l, redis_ready_fn *ready, void *arg)
{
	l->on_ready = ready;
	l->ready_arg = arg;
}

void
redis_free(struct redis_link *l)
{
	struct redis_sub *sub, *next;
	redisAsyncContext *ac;

	if (l == NULL)
		return;
	ac = l->ac;
	l->state = REDIS_LINK_CLOSED;
	l->ac = NULL;
	ev_timer_stop(l->loop, &l->retry);
	ev_timer_stop(l->loop, &l->watchdog);
	if (ac)
		redisAsyncFree(ac); /* callbacks in flight run with NULL */
	for (sub = l->subs; sub; sub = next) {
		next = sub->next;
		free(sub);
	}
	free(l);
}

int
redis_cmd_argv(struct redis_link *l, redis_reply_fn *cb, void *arg, int argc, const char **argv,
               const size_t *argvlen)
{
	if (l->subs != NULL || !(l->state == REDIS_LINK_UP || l->in_ready))
		return -1;
	return link_send(l, cb, arg, argc, argv, argvlen);
}

int
redis_cmd(struct redis_link *l, redis_reply_fn *cb, void *arg, const char *fmt, ...)
{
	struct redis_req *req;
	va_list ap;
	int rc;

	if (l->subs != NULL || !(l->state == REDIS_LINK_UP || l->in_ready) || l->ac == NULL ||
	    (req = req_new(l, cb, arg)) == NULL)
		return -1;
	va_start(ap, fmt);
	rc = redisvAsyncCommand(l->ac, on_reply, req, fmt, ap);
	va_end(ap);
	return req_queue(l, req, rc);
}

int
redis_subscribe(struct redis_link *l, const char *channel, redis_message_fn *cb, void *arg)
{
	size_t n = strlen(channel);
	struct redis_sub *sub;

	if (l->head != NULL && l->subs == NULL && l->state == REDIS_LINK_UP)
		return -1; /* commands in flight on what would become a subscriber */
	if ((sub = malloc(sizeof(*sub) + n + 1)) == NULL)
		return -1;
	sub->link = l;
	sub->cb = cb;
	sub->arg = arg;
	sub->leaving = 0;
	sub->held = l->state == REDIS_LINK_UP && sub_find(l->leaving, channel) != NULL;
	memcpy(sub->channel, channel, n + 1);
	sub->next = l->subs;
	l->subs = sub;
	if (l->state == REDIS_LINK_UP && !sub->held)
		(void)sub_send(l, sub);
	return 0;
}

void
redis_unsubscribe(struct redis_link *l, const char *channel)
{
	struct redis_sub **pp, *sub;

	for (pp = &l->subs; *pp && strcmp((*pp)->channel, channel) != 0; pp = &(*pp)->next)
		;
	if ((sub = *pp) == NULL)
		return;
	*pp = sub->next;
	/* Sent on this context (all are, once it is up) and not held: hiredis
	 * holds it until Redis confirms. */
	if (l->state == REDIS_LINK_UP && !sub->held &&
	    redisAsyncCommand(l->ac, NULL, NULL, "UNSUBSCRIBE %s", channel) == REDIS_OK) {
		l->stats.commands++;
		sub->leaving = 1;
		sub->next = l->leaving;
		l->leaving = sub;
		return;
	}
	free(sub);
}

int
redis_busy(const struct redis_link *l)
{
	return l->head != NULL;
}

enum redis_state
redis_state(const struct redis_link *l)
{
	return l->state;
}

int
redis_up(const struct redis_link *l)
{
	return l->state == REDIS_LINK_UP;
}

const struct redis_url *
redis_url(const struct redis_link *l)
{
	return &l->url;
}

const char *
redis_why(const struct redis_link *l)
{
	return l->why;
}

const struct redis_stats *
redis_stats(const struct redis_link *l)
{
	return &l->stats;
}

void
redis_count_noscript(struct redis_link *l)
{
	l->stats.noscript++;
}

/* Run one blocking command for the probe; the reply, or NULL with err
 * filled, step naming it. */
static redisReply *
probe_cmd(redisContext *c, const char *step, char *err, size_t errlen, int argc, const char **argv)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);

	if (r == NULL) {
		if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
			snprintf(err, errlen, "no reply to %s in %.0f s (not a Redis?)", step,
			         REDIS_PROBE_TIMEOUT);
		else if (c->err == REDIS_ERR_PROTOCOL)
			snprintf(err, errlen, "not a Redis (%s)", c->errstr);
		else
			snprintf(err, errlen, "%s: %s", step, c->errstr);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s refused: %s", step, r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

int
redis_probe(const struct redis_url *url, char *version, size_t vlen, char *err, size_t errlen)
{
	struct timeval tv = {(time_t)REDIS_PROBE_TIMEOUT, 0};
	redisContext *c = redisConnectWithTimeout(url->host, url->port, tv);
	redisReply *r;
	const char *argv[3];
	char db[16];
	int n = 0, rc = -1;

	if (version && vlen)
		version[0] = '\0';
	if (c == NULL || c->err) {
		snprintf(err, errlen, "cannot connect: %s", c ? c->errstr : "out of memory");
		redisFree(c);
		return -1;
	}
	(void)redisSetTimeout(c, tv);
	if (url->has_password) {
		argv[n++] = "AUTH";
		if (url->has_user)
			argv[n++] = url->user;
		argv[n++] = url->password;
		if ((r = probe_cmd(c, "AUTH", err, errlen, n, argv)) == NULL)
			goto out;
		freeReplyObject(r);
	}
	if (url->has_db) {
		snprintf(db, sizeof(db), "%u", url->db);
		argv[0] = "SELECT";
		argv[1] = db;
		if ((r = probe_cmd(c, "SELECT", err, errlen, 2, argv)) == NULL)
			goto out;
		freeReplyObject(r);
	}
	argv[0] = "PING";
	if ((r = probe_cmd(c, "PING", err, errlen, 1, argv)) == NULL)
		goto out;
	if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0) {
		snprintf(err, errlen, "not a Redis (PING was not answered PONG)");
		freeReplyObject(r);
		goto out;
	}
	freeReplyObject(r);
	argv[0] = "INFO";
	argv[1] = "server";
	if ((r = probe_cmd(c, "INFO", err, errlen, 2, argv)) == NULL)
		goto out;
	if (r->type == REDIS_REPLY_STRING && version && vlen) {
		const char *v = strstr(r->str, "redis_version:");

		if (v) {
			v += strlen("redis_version:");
			snprintf(version, vlen, "%.*s", (int)strcspn(v, "\r\n"), v);
		}
	}
	freeReplyObject(r);
	rc = 0;
out:
	redisFree(c);
	return rc;
}
