/*
 * The backplane on Redis (node.h).  A room is followed from its first
 * join on this node: its channel is subscribed, and once Redis confirms
 * the subscription its state is asked for (the state script), so that
 * nothing published between the two is missed: the state covers what came
 * before the subscription, the channel what comes after, and the core
 * drops what it has twice.  The same happens after every reconnect (the
 * link subscribes again by itself, and confirms), which is the catch-up;
 * and when a message comes after a gap (one lost while a link was down),
 * the core asks for the state after its last seq.
 */
#include "cluster/node.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <ev.h>

#include "cluster/presence.h"
#include "cluster/script.h"
#include "cluster/shard.h"
#include "core/core.h"
#include "core/valid.h"
#include "util/hmap.h"
#include "util/log.h"

struct node;

struct shard {
	struct node *node;
	struct redis_link *cmd; /* scripts */
	struct redis_link *sub; /* the channels of the rooms followed */
	unsigned index;
};

/* A room this node follows, from its first join here until the core
 * frees it (its linger ran out). */
struct follow {
	struct node *node;
	unsigned shard;
	uint8_t n;
	uint8_t subscribed; /* Redis has confirmed the subscription */
	uint8_t asking;     /* a state call is in flight */
	uint8_t again;      /* and another is wanted after it */
	uint8_t gone;       /* unfollowed while in use: its user frees it */
	uint8_t busy;       /* a callback of its runs the core (which may unfollow it) */
	double since;       /* when it was last (re)subscribed: ev_now() */
	uint64_t after;     /* the seq the state in flight was asked after */
	char key[CORE_ROOM_MAX + 1];
};

struct node {
	struct ev_loop *loop;
	struct core *core;
	struct shard shards[NODE_SHARDS_MAX];
	unsigned nshards;
	struct hmap follows; /* folded room name -> struct follow */
	unsigned history;
	uint64_t incarnation; /* random at each start: tells this node's messages */
	char name[128];
	struct core_backplane hooks;
	uint64_t published, delivered, catchups;
	uint64_t last_epoch; /* the last one offered */
	ev_timer renew;      /* the leases of this node's nicks */
	ev_timer tick;       /* once a second: says lost too long are refused */
	char inbox[160];     /* the channel of direct messages to this node's users */
	struct presence *pres;
};

/* How long a stopping node waits for Redis to answer what it sent last. */
#define NODE_FLUSH_S 1.0
/* Where nicks live: one shard, so that a nick has one place to look. */
#define NICK_SHARD 0
/* The inbox channels: this prefix and the node's name. */
#define INBOX_PREFIX "chatd:inbox:"

static void ask(struct follow *f);

/*
 * An epoch to offer for a room that Redis has none of (new, or lost with
 * Redis's data): a fresh one each time, microseconds since 1970 and a
 * counter, so that a room Redis lost starts over in another epoch than
 * the one nodes and clients knew, and cursors of the old one are told so.
 */
static uint64_t
epoch_offer(struct node *nd)
{
	struct timespec ts;
	uint64_t us;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	nd->last_epoch = us > nd->last_epoch ? us : nd->last_epoch + 1;
	return nd->last_epoch;
}

/* --- publishing --- */

/* The publish step's answer goes to the core, which owns the op; the node
 * is found through this process's one node. */
static struct node *the_node;

static void
published(int rc, const struct script_msg *m, const char *why, void *arg)
{
	struct node *nd = the_node;

	if (rc == -2) { /* the room's catch-up will tell whether it went */
		core_bp_publish_lost(nd->core, arg);
		return;
	}
	if (rc < 0) {
		log_debug("cluster: publish failed: %s", why ? why : "?");
		core_bp_published(nd->core, arg, CORE_E_CLUSTER, 0, 0, 0);
		return;
	}
	nd->published++;
	core_bp_published(nd->core, arg, 0, m->seq, m->time_ms, m->epoch);
}

static struct shard *
shard_for(struct node *nd, const char *key, size_t n)
{
	return &nd->shards[shard_of(key, n, nd->nshards)];
}

static int
node_publish(void *arg, const struct room *r, const struct session *s, const char *text, size_t tn,
             struct core_bp_op *op)
{
	struct node *nd = arg;
	const char *key = room_key(r);
	size_t n = room_name_len(r);

	return script_publish(shard_for(nd, key, n)->cmd, key, n, epoch_offer(nd), session_nick(s),
	                      session_nick_len(s), text, tn, SCRIPT_STREAM_MAX, nd->incarnation,
	                      session_id(s), published, op);
}

/* --- following rooms --- */

/* Messages of a state or range answer that chatd wrote, as the core
 * takes them, into a new array (*out, NULL when none); how many. */
static unsigned
msgs_of(const struct node *nd, const struct script_state *st, struct core_bp_msg **out)
{
	struct core_bp_msg *msgs = NULL;
	unsigned i, k;

	*out = NULL;
	if (st->count == 0 || (msgs = calloc(st->count, sizeof(*msgs))) == NULL)
		return 0;
	for (i = k = 0; i < st->count; i++) {
		/* Not one chatd wrote: left out (the core starts its ring
		 * again past the gap). */
		if (st->msgs[i].from_len > CORE_NICK_MAX || st->msgs[i].text_len > CORE_TEXT_MAX)
			continue;
		msgs[k].seq = st->msgs[i].seq;
		msgs[k].time_ms = st->msgs[i].time_ms;
		msgs[k].epoch = st->msgs[i].epoch;
		msgs[k].from = st->msgs[i].from;
		msgs[k].from_len = st->msgs[i].from_len;
		msgs[k].text = st->msgs[i].text;
		msgs[k].text_len = st->msgs[i].text_len;
		msgs[k].sid = st->msgs[i].origin == nd->incarnation ? st->msgs[i].sid : 0;
		k++;
	}
	*out = msgs;
	return k;
}

static void
on_state(int rc, const struct script_state *st, const char *why, void *arg)
{
	struct follow *f = arg;
	struct node *nd = f->node;
	struct core_bp_msg *msgs = NULL;
	unsigned k;
	int more;

	f->asking = 0;
	if (f->gone) {
		free(f);
		return;
	}
	f->busy = 1; /* the commands the core runs now may free the room */
	if (rc < 0) {
		log_notice("cluster: room %s: state not read: %s", f->key, why ? why : "?");
		f->again = 0;
		more = 0;
		core_bp_failed(nd->core, f->key, f->n);
	} else if ((k = msgs_of(nd, st, &msgs)) == 0 && st->count && msgs == NULL) {
		more = 0;
		core_bp_failed(nd->core, f->key, f->n);
	} else {
		more = core_bp_state(nd->core, f->key, f->n, st->epoch, st->seq, f->after, msgs, k);
		free(msgs);
	}
	f->busy = 0;
	if (f->gone) {
		free(f);
		return;
	}
	if (more || f->again) {
		f->again = 0;
		ask(f);
	}
}

/* Send the state call for f's room, from where the core wants it: 0
 * (sent, or not wanted, or one in flight will be followed by another),
 * or -1 when the shard's link is down. */
static int
ask_send(struct follow *f)
{
	struct node *nd = f->node;
	uint64_t after;
	int want;

	if (f->asking) {
		f->again = 1;
		return 0;
	}
	after = core_bp_after(nd->core, f->key, f->n, &want);
	if (!want)
		return 0;
	if (want == 2)
		nd->catchups++;
	if (script_state(nd->shards[f->shard].cmd, f->key, f->n, epoch_offer(nd), want == 1, after,
	                 want == 1 ? nd->history : NODE_CATCHUP_MAX, on_state, f) < 0)
		return -1;
	f->asking = 1;
	f->after = after;
	return 0;
}

/* Ask for f's room's state, outside the core's hooks: when the shard is
 * down, the joins waiting fail now; an open room is caught up when the
 * link is back. */
static void
ask(struct follow *f)
{
	if (ask_send(f) < 0)
		core_bp_failed(f->node->core, f->key, f->n);
}

static void
on_channel(struct redis_link *l, const char *channel, size_t clen, const char *payload, size_t plen,
           void *arg)
{
	struct follow *f = arg;
	struct node *nd = f->node;
	struct script_msg sm;
	struct core_bp_msg m;
	int more;

	(void)l;
	(void)channel;
	(void)clen;
	if (payload == NULL) { /* subscribed, at first or again */
		f->subscribed = 1;
		ask(f);
		return;
	}
	if (script_payload_parse(payload, plen, &sm) < 0 || sm.from_len > CORE_NICK_MAX ||
	    sm.text_len > CORE_TEXT_MAX) {
		log_notice("cluster: room %s: a message of another shape on its channel", f->key);
		return;
	}
	nd->delivered++;
	memset(&m, 0, sizeof(m));
	m.seq = sm.seq;
	m.time_ms = sm.time_ms;
	m.epoch = sm.epoch;
	m.from = sm.from;
	m.from_len = sm.from_len;
	m.text = sm.text;
	m.text_len = sm.text_len;
	m.sid = sm.origin == nd->incarnation ? sm.sid : 0;
	f->busy = 1;
	more = core_bp_message(nd->core, f->key, f->n, &m);
	f->busy = 0;
	if (f->gone) { /* the link holds it no more: unsubscribed */
		free(f);
		return;
	}
	if (more)
		ask(f);
}

static int
node_follow(void *arg, const struct room *r)
{
	struct node *nd = arg;
	const char *key = room_key(r);
	size_t n = room_name_len(r);
	struct shard *sh = shard_for(nd, key, n);
	char channel[SHARD_KEY_MAX];
	struct follow *f;

	if (!redis_up(sh->cmd) || !redis_up(sh->sub))
		return -1;
	if ((f = hmap_get(&nd->follows, key, n)) != NULL) {
		if (f->subscribed)
			return ask_send(f); /* a hook: the join is refused, not failed later */
		else
			f->since = ev_now(nd->loop); /* its confirmation asks */
		return 0;
	}
	if (shard_key(channel, sizeof(channel), SHARD_ROOM_CHANNEL, key, n) < 0 ||
	    (f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	f->node = nd;
	f->since = ev_now(nd->loop);
	f->shard = sh->index;
	f->n = (uint8_t)n;
	memcpy(f->key, key, n);
	if (redis_subscribe(sh->sub, channel, on_channel, f) < 0) {
		free(f);
		return -1;
	}
	hmap_put(&nd->follows, f->key, f->n, f);
	return 0;
}

static void
on_range(int rc, const struct script_state *st, const char *why, void *arg)
{
	struct node *nd = the_node;
	struct core_bp_msg *msgs = NULL;
	unsigned k = 0;

	if (rc < 0)
		log_notice("cluster: older messages not read: %s", why ? why : "?");
	else
		k = msgs_of(nd, st, &msgs);
	core_bp_ranged(nd->core, arg, msgs, k);
	free(msgs);
}

static int
node_range(void *arg, const struct room *r, uint64_t after, uint64_t before, unsigned max,
           struct core_bp_op *op)
{
	struct node *nd = arg;
	const char *key = room_key(r);
	size_t n = room_name_len(r);

	return script_range(shard_for(nd, key, n)->cmd, key, n, after, before, max, on_range, op);
}

static void
node_unfollow(void *arg, const struct room *r)
{
	struct node *nd = arg;
	const char *key = room_key(r);
	size_t n = room_name_len(r);
	char channel[SHARD_KEY_MAX];
	struct follow *f = hmap_del(&nd->follows, key, n);

	if (f == NULL)
		return;
	if (shard_key(channel, sizeof(channel), SHARD_ROOM_CHANNEL, key, n) >= 0)
		redis_unsubscribe(nd->shards[f->shard].sub, channel);
	if (f->asking || f->busy)
		f->gone = 1; /* freed once that is over */
	else
		free(f);
}

/* --- nicks and direct messages --- */

static void
claimed(int rc, const char *why, void *arg)
{
	if (rc < 0)
		log_notice("cluster: nick claim failed: %s", why ? why : "?");
	core_bp_claimed(the_node->core, arg, rc);
}

static int
node_claim(void *arg, const char *nick, size_t n, struct core_bp_op *op)
{
	struct node *nd = arg;

	return script_nick_claim(nd->shards[NICK_SHARD].cmd, nick, n, nd->name, SCRIPT_NICK_LEASE,
	                         claimed, op);
}

static void
node_release(void *arg, const char *nick, size_t n)
{
	struct node *nd = arg;

	/* Not sent while the shard is down: the lease runs out by itself. */
	(void)script_nick_release(nd->shards[NICK_SHARD].cmd, nick, n, nd->name, NULL, NULL);
}

static void
directed(int rc, uint64_t time_ms, const char *why, void *arg)
{
	if (rc < 0)
		log_notice("cluster: direct message failed: %s", why ? why : "?");
	core_bp_directed(the_node->core, arg, rc, time_ms);
}

static int
node_direct(void *arg, const struct session *s, const char *nick, size_t n, const char *text,
            size_t tn, struct core_bp_op *op)
{
	struct node *nd = arg;
	char key[CORE_NICK_MAX + 1];

	if (n > CORE_NICK_MAX)
		return -1;
	valid_fold(key, nick, n); /* nick keys are folded names */
	return script_direct(nd->shards[NICK_SHARD].cmd, key, n, INBOX_PREFIX, session_nick(s),
	                     session_nick_len(s), text, tn, directed, op);
}

static void
on_inbox(struct redis_link *l, const char *channel, size_t clen, const char *payload, size_t plen,
         void *arg)
{
	struct node *nd = arg;
	struct script_direct d;

	(void)l;
	(void)channel;
	(void)clen;
	if (payload == NULL)
		return;
	if (script_inbox_parse(payload, plen, &d) < 0) {
		log_notice("cluster: a message of another shape on %s", nd->inbox);
		return;
	}
	core_bp_inbox(nd->core, d.to, d.to_len, d.from, d.from_len, d.text, d.text_len, d.time_ms);
}

/* Every SCRIPT_NICK_LEASE / 3: extend the leases of this node's users, a
 * batch of them per call. */
static void
on_renew(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *nd = w->data;
	struct session *page[SCRIPT_RENEW_BATCH];
	const char *nicks[SCRIPT_RENEW_BATCH];
	size_t lens[SCRIPT_RENEW_BATCH], got, i, k;
	const char *after = NULL;
	char last[CORE_NICK_MAX + 1];

	(void)loop;
	(void)revents;
	if (!redis_up(nd->shards[NICK_SHARD].cmd))
		return;
	while ((got = core_users_after(nd->core, after, page, SCRIPT_RENEW_BATCH)) > 0) {
		for (i = k = 0; i < got; i++) {
			if (core_ghost_owner(page[i]))
				continue; /* another node's */
			nicks[k] = session_key(page[i]);
			lens[k++] = session_nick_len(page[i]);
		}
		if (k)
			(void)script_nick_renew_many(nd->shards[NICK_SHARD].cmd, nicks, lens,
			                             (unsigned)k, nd->name, SCRIPT_NICK_LEASE, NULL,
			                             NULL);
		snprintf(last, sizeof(last), "%s", session_key(page[got - 1]));
		after = last;
		if (got < SCRIPT_RENEW_BATCH)
			break;
	}
}

/* Which follows a walk acts on. */
enum pick {
	PICK_LATE,       /* not confirmed in REDIS_REPLY_TIMEOUT */
	PICK_SUBSCRIBED, /* of the shard, subscribed */
	PICK_SHARD,      /* of the shard */
};

/*
 * The keys of the follows that pick selects (of shard), copied into *out
 * (malloc; NULL when none): a walk gathers them first and then looks each
 * up again, since the commands the core runs on each call may follow or
 * unfollow rooms.  Returns how many.
 */
static size_t
follows_pick(struct node *nd, enum pick pick, unsigned shard, char (**out)[CORE_ROOM_MAX + 1])
{
	struct follow *f;
	size_t pos = 0, n = 0;

	*out = NULL;
	if (nd->follows.len == 0 || (*out = calloc(nd->follows.len, sizeof(**out))) == NULL)
		return 0;
	while ((f = hmap_next(&nd->follows, &pos)) != NULL)
		if (pick == PICK_LATE
		            ? !f->subscribed && ev_now(nd->loop) - f->since > REDIS_REPLY_TIMEOUT
		            : f->shard == shard && (pick == PICK_SHARD || f->subscribed))
			memcpy((*out)[n++], f->key, f->n + 1);
	return n;
}

static void
on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct node *nd = w->data;
	char(*keys)[CORE_ROOM_MAX + 1];
	size_t n, i;

	(void)loop;
	(void)revents;
	core_bp_expire(nd->core);
	/* A subscription Redis has not confirmed in REDIS_REPLY_TIMEOUT: the
	 * joins waiting on it fail (core_bp_failed acts on opening rooms). */
	n = follows_pick(nd, PICK_LATE, 0, &keys);
	for (i = 0; i < n; i++)
		core_bp_failed(nd->core, keys[i], strlen(keys[i]));
	free(keys);
}

/* --- presence --- */

static void
node_present(void *arg, const struct session *s, const struct core_bp_presence *e)
{
	struct node *nd = arg;

	presence_local(nd->pres, s, e);
}

/* --- links --- */

static void
on_cmd_state(struct redis_link *l, int up, const char *why, void *arg)
{
	struct shard *sh = arg;
	struct node *nd = sh->node;
	char(*keys)[CORE_ROOM_MAX + 1];
	struct follow *f;
	size_t n, i;

	(void)l;
	if (sh->index == NICK_SHARD && nd->pres)
		presence_link(nd->pres, up);
	if (!up) {
		log_warn("cluster: shard %u (%s) down: %s; its rooms refuse messages", sh->index,
		         redis_url(sh->cmd)->shown, why);
		return;
	}
	log_info("cluster: shard %u (%s) up", sh->index, redis_url(sh->cmd)->shown);
	/* Back: catch up every subscribed room of this shard. */
	n = follows_pick(nd, PICK_SUBSCRIBED, sh->index, &keys);
	for (i = 0; i < n; i++)
		if ((f = hmap_get(&nd->follows, keys[i], strlen(keys[i]))) != NULL)
			ask(f);
	free(keys);
}

static void
on_sub_state(struct redis_link *l, int up, const char *why, void *arg)
{
	struct shard *sh = arg;
	char(*keys)[CORE_ROOM_MAX + 1];
	struct follow *f;
	size_t n, i;

	(void)l;
	(void)why;
	if (up)
		return; /* each subscription confirms, and asks */
	/* Joins waiting for a subscription that will not be confirmed now
	 * fail (open rooms are caught up once it is back). */
	n = follows_pick(sh->node, PICK_SHARD, sh->index, &keys);
	for (i = 0; i < n; i++)
		if ((f = hmap_get(&sh->node->follows, keys[i], strlen(keys[i]))) != NULL)
			f->subscribed = 0;
	for (i = 0; i < n; i++)
		core_bp_failed(sh->node->core, keys[i], strlen(keys[i]));
	free(keys);
}

static void
on_ready(struct redis_link *l, void *arg)
{
	(void)arg;
	script_load_all(l);
}

struct node *
node_new(struct ev_loop *loop, struct core *core, const struct redis_url *urls, unsigned n,
         const char *name, unsigned history)
{
	struct node *nd;
	unsigned i;

	if (n == 0 || n > NODE_SHARDS_MAX || (nd = calloc(1, sizeof(*nd))) == NULL)
		return NULL;
	nd->loop = loop;
	nd->core = core;
	nd->nshards = n;
	nd->history = history ? history : 1;
	snprintf(nd->name, sizeof(nd->name), "%s", name);
	hmap_init(&nd->follows);
	while (nd->incarnation == 0)
		if (getrandom(&nd->incarnation, sizeof(nd->incarnation), 0) !=
		    sizeof(nd->incarnation))
			nd->incarnation = (uint64_t)(uintptr_t)nd ^ 0x9e3779b97f4a7c15ull;
	for (i = 0; i < n; i++) {
		struct shard *sh = &nd->shards[i];

		sh->node = nd;
		sh->index = i;
		sh->cmd = redis_new(loop, &urls[i], on_cmd_state, sh);
		sh->sub = redis_new(loop, &urls[i], on_sub_state, sh);
		if (sh->cmd == NULL || sh->sub == NULL) {
			node_free(nd);
			return NULL;
		}
		redis_on_ready(sh->cmd, on_ready, nd);
		redis_subscriber(sh->sub);
	}
	snprintf(nd->inbox, sizeof(nd->inbox), INBOX_PREFIX "%s", nd->name);
	if (redis_subscribe(nd->shards[NICK_SHARD].sub, nd->inbox, on_inbox, nd) < 0) {
		node_free(nd);
		return NULL;
	}
	if ((nd->pres = presence_new(loop, core, nd->shards[NICK_SHARD].cmd,
	                             nd->shards[NICK_SHARD].sub, nd->name, nd->incarnation)) ==
	    NULL) {
		node_free(nd);
		return NULL;
	}
	ev_timer_init(&nd->renew, on_renew, SCRIPT_NICK_LEASE / 3000.0, SCRIPT_NICK_LEASE / 3000.0);
	nd->renew.data = nd;
	ev_timer_start(loop, &nd->renew);
	ev_timer_init(&nd->tick, on_tick, 1, 1);
	nd->tick.data = nd;
	ev_timer_start(loop, &nd->tick);
	nd->hooks.publish = node_publish;
	nd->hooks.follow = node_follow;
	nd->hooks.unfollow = node_unfollow;
	nd->hooks.range = node_range;
	nd->hooks.claim = node_claim;
	nd->hooks.release = node_release;
	nd->hooks.direct = node_direct;
	nd->hooks.present = node_present;
	nd->hooks.arg = nd;
	core_set_backplane(core, &nd->hooks);
	the_node = nd;
	log_info("cluster: node %s (incarnation %016" PRIx64 ") on %u shard%s", nd->name,
	         nd->incarnation, n, n == 1 ? "" : "s");
	return nd;
}

void
node_free(struct node *nd)
{
	struct follow *f;
	size_t pos = 0;
	unsigned i;
	double deadline;
	int busy;

	if (nd == NULL)
		return;
	/* A graceful stop: the nicks its users' sessions let go as they ended
	 * are released now, not when their leases run out; the loop runs a
	 * little for the answers (NODE_FLUSH_S at most). */
	if (nd->pres)
		presence_bye(nd->pres);
	deadline = ev_time() + NODE_FLUSH_S;
	for (;;) {
		for (i = 0, busy = 0; i < nd->nshards; i++)
			busy |= redis_up(nd->shards[i].cmd) && redis_busy(nd->shards[i].cmd);
		if (!busy || ev_time() > deadline)
			break;
		ev_run(nd->loop, EVRUN_ONCE);
	}
	ev_timer_stop(nd->loop, &nd->renew);
	ev_timer_stop(nd->loop, &nd->tick);
	/* The core outlives the node, and calls none of its hooks from here
	 * on: not the callbacks in flight, which run as the links go, nor
	 * core_free() for the rooms. */
	core_set_backplane(nd->core, NULL);
	/* The links first: their callbacks in flight run now, and may name
	 * a follow. */
	for (i = 0; i < nd->nshards; i++) {
		redis_free(nd->shards[i].cmd);
		redis_free(nd->shards[i].sub);
	}
	presence_free(nd->pres);
	while ((f = hmap_next(&nd->follows, &pos)) != NULL)
		free(f);
	hmap_free(&nd->follows);
	if (the_node == nd)
		the_node = NULL;
	free(nd);
}

int
node_ready(const struct node *nd)
{
	unsigned i;

	for (i = 0; i < nd->nshards; i++)
		if (!redis_up(nd->shards[i].cmd) || !redis_up(nd->shards[i].sub))
			return 0;
	return presence_ready(nd->pres);
}

void
node_stats(struct node_stats *out)
{
	const struct node *nd = the_node;
	unsigned i, k;

	memset(out, 0, sizeof(*out));
	if (nd == NULL)
		return;
	out->published = nd->published;
	out->delivered = nd->delivered;
	out->catchups = nd->catchups;
	out->shards = nd->nshards;
	out->rooms = (unsigned)nd->follows.len;
	out->peers = presence_peers(nd->pres);
	out->lost = presence_lost(nd->pres);
	for (i = 0; i < nd->nshards; i++) {
		const struct redis_link *ls[2] = {nd->shards[i].cmd, nd->shards[i].sub};

		out->shards_up += redis_up(ls[0]) && redis_up(ls[1]);
		for (k = 0; k < 2; k++) {
			const struct redis_stats *s = redis_stats(ls[k]);

			out->links.commands += s->commands;
			out->links.round_trips += s->round_trips;
			out->links.failed += s->failed;
			out->links.latency_sum += s->latency_sum;
			if (s->latency_max > out->links.latency_max)
				out->links.latency_max = s->latency_max;
			out->links.connects += s->connects;
			out->links.reconnects += s->reconnects;
			out->links.noscript += s->noscript;
		}
	}
}
