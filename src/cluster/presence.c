/*
 * Presence across nodes (presence.h).
 *
 * What this node tells.  Each change of its users (registered, joined,
 * parted, renamed, left) goes to its hash and the presence channel in one
 * script, which gives it the hash's next version.  When the hash may have
 * missed a change (a script not answered, the link down, or the hash taken
 * away because the node was taken for lost), the node stops sending
 * changes and writes the hash whole instead, announced with R.
 *
 * What this node hears.  Another node's users are ghosts here, owned by a
 * struct peer.  A peer is read (its hash) when it is first heard of, after
 * a gap in its versions, after R, and after this node's channel link was
 * down; changes that come while the read is in flight are held and
 * applied after it, those the hash already held (by version) skipped.  A
 * read reconciles: ghosts the hash no longer names quit, the rooms of the
 * others are made to match, with the usual announcements.
 *
 * Which nodes live.  Every SCRIPT_NODE_BEAT_MS each node beats and asks
 * which nodes live (the check script takes the ones whose heartbeat ran
 * out for lost and publishes L for them; their nicks go with their leases); a peer
 * not alive, or L, drops its ghosts with reason "node lost"; B (a node
 * stopping) drops them with "server shutdown".
 */
#include "cluster/presence.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <hiredis/hiredis.h>

#include "cluster/redis.h"
#include "cluster/script.h"
#include "core/core.h"
#include "core/valid.h"
#include "util/defaults.h"
#include "util/hmap.h"
#include "util/log.h"

/* Changes held while a peer is read, at most: past it, read again. */
#define HELD_MAX 4096
/* Sessions a walk over the users takes at a time. */
#define WALK_PAGE 256

/* A change held while its node is read: its payload. */
struct held {
	char *p;
	size_t n;
};

struct peer {
	char name[CHATD_NODE_NAME_MAX + 1];
	uint8_t n;
	uint8_t reading;   /* its hash is asked for */
	uint8_t unread;    /* to be read at the next beat (a read failed) */
	uint8_t overflow;  /* changes were not held: read again */
	double absent;     /* since when the checks have not named it (0: they do) */
	uint64_t inc;      /* its incarnation */
	uint64_t version;  /* of the last change applied */
	struct held *held; /* changes heard while reading */
	unsigned nheld;
};

struct presence {
	struct ev_loop *loop;
	struct core *core;
	struct redis_link *cmd, *sub;
	char name[CHATD_NODE_NAME_MAX + 1];
	char inc[24]; /* decimal */
	uint64_t incn;
	struct hmap peers; /* name -> struct peer */
	ev_timer beat;
	uint8_t whole;   /* the hash must be written whole */
	uint8_t writing; /* and that is in flight */
	uint8_t checking;
	uint64_t lost;
};

/* A read in flight names its peer by name: the peer may go meanwhile. */
struct read_req {
	struct presence *pr;
	char name[CHATD_NODE_NAME_MAX + 1];
};

static void peer_read(struct presence *pr, struct peer *p);
static void write_whole(struct presence *pr);

/* --- this node's users --- */

/* The rooms of s, space-separated (malloc, *len bytes), or NULL. */
static char *
rooms_of(const struct session *s, size_t *len)
{
	unsigned i, nr = session_room_count(s);
	char *buf = malloc((size_t)nr * (CORE_ROOM_MAX + 1) + 1);

	*len = 0;
	for (i = 0; buf && i < nr; i++) {
		const struct room *r = session_room(s, i);

		if (i)
			buf[(*len)++] = ' ';
		memcpy(buf + *len, room_name(r), room_name_len(r));
		*len += room_name_len(r);
	}
	return buf;
}

static void
on_written(int rc, const char *why, void *arg)
{
	struct presence *pr = arg;

	pr->writing = 0;
	if (rc != 1) {
		log_notice("cluster: presence not written: %s", why ? why : "?");
		pr->whole = 1; /* again at the next beat */
	} else if (pr->whole) {
		write_whole(pr); /* a change was refused meanwhile (it ran before) */
	}
}

/* Call fn on every user owned by p: the ghosts of that node, or (p NULL)
 * this node's own users.  fn may end the one it is given. */
static void
users_walk(struct presence *pr, const struct peer *p,
           void (*fn)(struct presence *, struct session *, void *), void *ctx)
{
	struct session *page[WALK_PAGE];
	char last[CORE_NICK_MAX + 1];
	const char *after = NULL;
	size_t got, i;

	while ((got = core_users_after(pr->core, after, page, WALK_PAGE)) > 0) {
		snprintf(last, sizeof(last), "%s", session_key(page[got - 1]));
		after = last;
		for (i = 0; i < got; i++)
			if (core_ghost_owner(page[i]) == p)
				fn(pr, page[i], ctx);
		if (got < WALK_PAGE)
			break;
	}
}

/* The hash's fields as write_whole() gathers them. */
struct whole {
	const char **kv;
	size_t *kvlen;
	char **rooms;
	size_t n, max; /* users gathered, room for */
};

static void
whole_add(struct presence *pr, struct session *s, void *ctx)
{
	struct whole *w = ctx;
	size_t len = 0;

	(void)pr;
	if (w->n == w->max)
		return; /* registered since the count: in the next change */
	w->rooms[w->n] = rooms_of(s, &len);
	w->kv[2 * w->n] = session_nick(s), w->kvlen[2 * w->n] = session_nick_len(s);
	w->kv[2 * w->n + 1] = w->rooms[w->n] ? w->rooms[w->n] : "";
	w->kvlen[2 * w->n + 1] = len;
	w->n++;
}

/* The hash whole: every registered user of this node and its rooms.
 * The changes that follow it go out as usual: the link runs them after
 * it.  While one is in flight, another waits for its answer (whole). */
static void
write_whole(struct presence *pr)
{
	struct whole w = {NULL, NULL, NULL, 0, 0};

	pr->whole = 1;
	if (pr->writing || !redis_up(pr->cmd))
		return;
	w.max = core_user_count(pr->core) - core_ghost_count(pr->core);
	w.kv = calloc(2 * w.max + 1, sizeof(*w.kv));
	w.kvlen = calloc(2 * w.max + 1, sizeof(*w.kvlen));
	w.rooms = calloc(w.max + 1, sizeof(*w.rooms));
	if (w.kv && w.kvlen && w.rooms) {
		users_walk(pr, NULL, whole_add, &w);
		if (script_pres_reset(pr->cmd, pr->name, pr->inc, SCRIPT_NODE_TTL, w.kv, w.kvlen,
		                      (unsigned)(2 * w.n), on_written, pr) == 0) {
			pr->writing = 1;
			pr->whole = 0;
		}
	}
	while (w.rooms && w.n)
		free(w.rooms[--w.n]);
	free(w.rooms);
	free(w.kv);
	free(w.kvlen);
}

static void
on_changed(int rc, const char *why, void *arg)
{
	struct presence *pr = arg;

	if (rc == 1)
		return;
	/* The hash is not this incarnation's, or may lack the change. */
	if (rc < 0)
		log_debug("cluster: presence change not written: %s", why ? why : "?");
	pr->whole = 1;
	write_whole(pr);
}

void
presence_local(struct presence *pr, const struct session *s, const struct core_bp_presence *e)
{
	char body[64 + 2 * CORE_NICK_MAX + CORE_ROOM_MAX + CORE_REASON_MAX];
	const char *ops[SCRIPT_PRES_OPS];
	size_t oplen[SCRIPT_PRES_OPS], rn = 0, bn;
	char *rooms = NULL;
	unsigned nops = 0;
	int k;

	if (pr->whole || !redis_up(pr->cmd)) {
		pr->whole = 1; /* told whole once the link is back */
		return;
	}
	switch (e->kind) {
	case 0:
		k = snprintf(body, sizeof(body), "H %s", session_nick(s));
		break;
	case PRES_JOIN:
	case PRES_PART:
		k = snprintf(body, sizeof(body), "%c %s %s%s%.*s", e->kind == PRES_JOIN ? 'J' : 'P',
		             session_nick(s), room_name(e->room), e->kind == PRES_PART ? " " : "",
		             (int)e->text_len, e->text ? e->text : "");
		break;
	case PRES_NICK:
		k = snprintf(body, sizeof(body), "N %.*s %s", (int)e->old_len, e->old,
		             session_nick(s));
		ops[nops] = "D", oplen[nops++] = 1;
		ops[nops] = e->old, oplen[nops++] = e->old_len;
		ops[nops] = "", oplen[nops++] = 0;
		break;
	default: /* QUIT, DROP */
		k = snprintf(body, sizeof(body), "Q %s %u %.*s", session_nick(s),
		             e->kind == PRES_DROP ? e->reason : 0u, (int)e->text_len,
		             e->text ? e->text : "");
		break;
	}
	if (k < 0 || (size_t)k >= sizeof(body))
		return;
	bn = (size_t)k;
	if (e->kind == PRES_QUIT || e->kind == PRES_DROP) {
		ops[nops] = "D", oplen[nops++] = 1;
		ops[nops] = session_nick(s), oplen[nops++] = session_nick_len(s);
		ops[nops] = "", oplen[nops++] = 0;
	} else {
		rooms = rooms_of(s, &rn);
		ops[nops] = "S", oplen[nops++] = 1;
		ops[nops] = session_nick(s), oplen[nops++] = session_nick_len(s);
		ops[nops] = rooms ? rooms : "", oplen[nops++] = rn;
	}
	if (script_pres_event(pr->cmd, pr->name, pr->inc, body, bn, ops, oplen, nops, on_changed,
	                      pr) < 0)
		pr->whole = 1;
	free(rooms);
}

/* --- the other nodes' users --- */

static struct peer *
peer_find(struct presence *pr, const char *name, size_t n)
{
	return hmap_get(&pr->peers, name, n);
}

static struct peer *
peer_new(struct presence *pr, const char *name, size_t n, uint64_t inc)
{
	struct peer *p;

	if (n == 0 || n > CHATD_NODE_NAME_MAX || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	memcpy(p->name, name, n);
	p->n = (uint8_t)n;
	p->inc = inc;
	hmap_put(&pr->peers, p->name, n, p);
	log_info("cluster: node %s (incarnation %016" PRIx64 ") is up", p->name, inc);
	return p;
}

static void
held_clear(struct peer *p)
{
	while (p->nheld)
		free(p->held[--p->nheld].p);
	free(p->held);
	p->held = NULL;
}

static void
ghost_drop(struct presence *pr, struct session *g, void *ctx)
{
	core_session_end(pr->core, g, PRES_DROP, *(const uint8_t *)ctx);
}

static void
ghost_end(struct presence *pr, struct session *g, void *ctx)
{
	(void)ctx;
	core_session_end(pr->core, g, 0, REASON_NONE); /* this node stops: no one to tell */
}

/* p's users are gone (reason: why); p stays when keep. */
static void
peer_gone(struct presence *pr, struct peer *p, uint8_t reason, int keep)
{
	users_walk(pr, p, ghost_drop, &reason);
	if (keep)
		return;
	log_info("cluster: node %s is %s", p->name,
	         reason == REASON_SHUTDOWN ? "stopping" : "lost: its heartbeat ran out");
	if (reason == REASON_NODE_LOST)
		pr->lost++;
	hmap_del(&pr->peers, p->name, p->n);
	held_clear(p);
	free(p);
}

/* The ghost of p with that nick, made when make and no user here holds
 * it (another node's ghost holding it is stale: that node let it go, and
 * its word of it is on the way). */
static struct session *
ghost_of(struct presence *pr, struct peer *p, const char *nick, size_t n, int make)
{
	struct session *s = core_user_find(pr->core, nick, n);

	if (s && core_ghost_owner(s) == p)
		return s;
	if (!make || (s && core_ghost_owner(s) == NULL))
		return NULL;
	return core_ghost_new(pr->core, p, nick, n);
}

/* One change of p's users, in its order. */
static void
apply(struct presence *pr, struct peer *p, const struct script_pres *e)
{
	struct session *g = ghost_of(pr, p, e->nick, e->nick_len, e->kind == 'H' || e->kind == 'J');

	if (g == NULL)
		return;
	switch (e->kind) {
	case 'J':
		(void)core_ghost_join(pr->core, g, e->arg, e->arg_len);
		break;
	case 'P':
		(void)core_ghost_part(pr->core, g, e->arg, e->arg_len, e->text, e->text_len);
		break;
	case 'N':
		/* A name a user here holds (the two claims crossed): the ghost
		 * could not be found by its changes any more, so it goes. */
		if (core_ghost_rename(pr->core, g, e->arg, e->arg_len) < 0)
			core_session_end(pr->core, g, PRES_QUIT, REASON_NONE);
		break;
	case 'Q':
		if (e->reason == 0) {
			core_quit_reason(g, e->text, e->text_len);
			core_session_end(pr->core, g, PRES_QUIT, REASON_NONE);
		} else {
			core_session_end(pr->core, g, PRES_DROP,
			                 e->reason < REASON_COUNT ? (uint8_t)e->reason
			                                          : REASON_RESET);
		}
		break;
	default:
		break;
	}
}

/* A change of p heard (not while it is read): applied, skipped (the hash
 * had it), or the cause of a read (a gap, or R). */
static void
heard(struct presence *pr, struct peer *p, const struct script_pres *e)
{
	/* R: the hash was written whole, its versions starting again. */
	if (e->kind != 'R' && e->version <= p->version)
		return;
	if (e->kind == 'R' || e->version > p->version + 1) {
		peer_read(pr, p);
		return;
	}
	apply(pr, p, e);
	p->version = e->version;
}

static void
hold(struct peer *p, const char *payload, size_t n)
{
	struct held *h;

	if (p->overflow)
		return;
	h = p->held;
	if (p->nheld % 64 == 0 && p->nheld < HELD_MAX &&
	    (h = realloc(p->held, (p->nheld + 64) * sizeof(*h))) != NULL)
		p->held = h;
	if (p->nheld >= HELD_MAX || h == NULL || (p->held[p->nheld].p = malloc(n)) == NULL) {
		p->overflow = 1; /* read again once this read is done */
		return;
	}
	memcpy(p->held[p->nheld].p, payload, n);
	p->held[p->nheld++].n = n;
}

/* The changes held while p was read, now that it has been. */
static void
held_run(struct presence *pr, struct peer *p)
{
	struct held *held = p->held;
	unsigned n = p->nheld, i;
	struct script_pres e;
	char name[CHATD_NODE_NAME_MAX + 1];
	size_t nn = p->n;

	p->held = NULL;
	p->nheld = 0;
	memcpy(name, p->name, nn);
	for (i = 0; i < n; i++) {
		/* A change may start another read: the rest wait for it. */
		if ((p = peer_find(pr, name, nn)) != NULL &&
		    script_pres_parse(held[i].p, held[i].n, &e) == 0 && e.inc == p->inc) {
			if (p->reading)
				hold(p, held[i].p, held[i].n);
			else
				heard(pr, p, &e);
		}
		free(held[i].p);
	}
	free(held);
}

/* Whether word w[0, n) is one of the space-separated words of list. */
static int
listed(const char *list, size_t ln, const char *w, size_t n)
{
	size_t i = 0, j;

	while (i < ln) {
		for (j = i; j < ln && list[j] != ' '; j++)
			;
		if (j - i == n && strncasecmp(list + i, w, n) == 0)
			return 1;
		i = j + 1;
	}
	return 0;
}

/* Make ghost g's rooms the space-separated list[0, ln). */
static void
rooms_match(struct presence *pr, struct session *g, const char *list, size_t ln)
{
	unsigned i;
	size_t j, k;

	for (i = session_room_count(g); i-- > 0;) {
		const struct room *r = session_room(g, i);

		if (!listed(list, ln, room_name(r), room_name_len(r)))
			(void)core_ghost_part(pr->core, g, room_name(r), room_name_len(r), "", 0);
	}
	for (j = 0; j < ln; j = k + 1) {
		const struct room *r;

		for (k = j; k < ln && list[k] != ' '; k++)
			;
		r = core_room_find(pr->core, list + j, k - j);
		if (k > j && (r == NULL || !room_has_member(r, g)))
			(void)core_ghost_join(pr->core, g, list + j, k - j);
	}
}

/* A reconcile's snapshot: folded nick -> its field and value. */
struct snap {
	struct hmap nicks;
	char (*keys)[CORE_NICK_MAX + 1];
};

static void
ghost_unlisted(struct presence *pr, struct session *g, void *ctx)
{
	const struct snap *sn = ctx;

	if (hmap_get(&sn->nicks, session_key(g), session_nick_len(g)) == NULL)
		core_session_end(pr->core, g, PRES_QUIT, REASON_NONE);
}

/* p's users are those of hash r (HGETALL's field, value, ...). */
static void
reconcile(struct presence *pr, struct peer *p, const redisReply *r)
{
	struct snap sn;
	size_t i, k = 0;

	hmap_init(&sn.nicks);
	if ((sn.keys = calloc(r->elements / 2 + 1, sizeof(*sn.keys))) == NULL) {
		hmap_free(&sn.nicks);
		p->unread = 1;
		return;
	}
	for (i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i];

		if (f->type != REDIS_REPLY_STRING || !valid_nick(f->str, f->len))
			continue;
		valid_fold(sn.keys[k], f->str, f->len);
		hmap_put(&sn.nicks, sn.keys[k], f->len, r->element[i + 1]);
		k++;
	}
	users_walk(pr, p, ghost_unlisted, &sn);
	for (i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];
		struct session *g;

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    !valid_nick(f->str, f->len) || (g = ghost_of(pr, p, f->str, f->len, 1)) == NULL)
			continue;
		if (session_nick_len(g) != f->len || memcmp(session_nick(g), f->str, f->len) != 0)
			(void)core_ghost_rename(pr->core, g, f->str, f->len); /* its case */
		rooms_match(pr, g, v->str, v->len);
	}
	hmap_free(&sn.nicks);
	free(sn.keys);
}

/* A hash field's value as a number, or 0. */
static uint64_t
field_u64(const redisReply *r, const char *field)
{
	size_t i;

	for (i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(r->element[i]->str, field) == 0 &&
		    r->element[i + 1]->type == REDIS_REPLY_STRING)
			return strtoull(r->element[i + 1]->str, NULL, 10);
	return 0;
}

static void
on_read(const redisReply *r, const char *why, void *arg)
{
	struct read_req *q = arg;
	struct presence *pr = q->pr;
	struct peer *p = peer_find(pr, q->name, strlen(q->name));
	uint64_t inc;

	free(q);
	if (p == NULL)
		return;
	p->reading = 0;
	/* Not read, or no hash (the node is stopping or lost, which B, L or
	 * the next check tells, or Redis lost it and the node is writing it
	 * again): its users stay, and the next change heard, or the next
	 * check, reads it again.  What was held may have been its R. */
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || (inc = field_u64(r, "@inc")) == 0) {
		if (r == NULL || r->type != REDIS_REPLY_ARRAY)
			log_notice("cluster: presence of node %s not read: %s", p->name,
			           why ? why : "?");
		held_clear(p);
		p->unread = 1;
		p->version = 0;
		return;
	}
	if (inc != p->inc) { /* restarted under its name: the old one died */
		peer_gone(pr, p, REASON_NODE_LOST, 1);
		p->inc = inc;
	}
	reconcile(pr, p, r);
	p->version = field_u64(r, "@v");
	if (p->overflow) {
		p->overflow = 0;
		held_clear(p);
		peer_read(pr, p);
		return;
	}
	held_run(pr, p);
}

static void
peer_read(struct presence *pr, struct peer *p)
{
	struct read_req *q;

	if (p->reading)
		return;
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		p->unread = 1;
		return;
	}
	q->pr = pr;
	memcpy(q->name, p->name, p->n);
	if (script_pres_read(pr->cmd, p->name, on_read, q) < 0) {
		free(q);
		p->unread = 1;
		return;
	}
	p->reading = 1;
	p->unread = 0;
}

static void
on_channel(struct redis_link *l, const char *channel, size_t clen, const char *payload, size_t plen,
           void *arg)
{
	struct presence *pr = arg;
	struct script_pres e;
	struct peer *p;
	size_t pos = 0;

	(void)l;
	(void)channel;
	(void)clen;
	if (payload == NULL) {
		/* Subscribed, at first or again: what was missed meanwhile is
		 * read. */
		while ((p = hmap_next(&pr->peers, &pos)) != NULL)
			peer_read(pr, p);
		return;
	}
	if (script_pres_parse(payload, plen, &e) < 0) {
		log_notice("cluster: a presence change of another shape");
		return;
	}
	if (e.node_len == strlen(pr->name) && memcmp(e.node, pr->name, e.node_len) == 0) {
		if (e.kind == 'L' && e.inc == pr->incn) { /* taken for lost, but alive */
			log_warn("cluster: node %s was taken for lost (no heartbeat in %u ms); "
			         "telling its users again",
			         pr->name, SCRIPT_NODE_TTL);
			pr->whole = 1;
			write_whole(pr);
		}
		return;
	}
	p = peer_find(pr, e.node, e.node_len);
	if (e.kind == 'B' || e.kind == 'L') {
		if (p && (e.inc == p->inc || e.inc == 0))
			peer_gone(pr, p, e.kind == 'B' ? REASON_SHUTDOWN : REASON_NODE_LOST, 0);
		return;
	}
	if (p == NULL && (p = peer_new(pr, e.node, e.node_len, e.inc)) == NULL)
		return;
	if (e.inc != p->inc) { /* restarted under its name: the old one died */
		peer_gone(pr, p, REASON_NODE_LOST, 1);
		held_clear(p);
		p->inc = e.inc;
		p->version = 0;
	}
	if (p->version == 0 || p->reading) {
		peer_read(pr, p);
		hold(p, payload, plen);
		return;
	}
	heard(pr, p, &e);
}

/* --- which nodes live --- */

static void
on_checked(const redisReply *r, const char *why, void *arg)
{
	struct presence *pr = arg;
	struct peer *p, *gone[64];
	size_t i, pos = 0, ngone = 0;
	struct hmap live;

	pr->checking = 0;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			log_notice("cluster: nodes not checked: %s", why ? why : "?");
		return;
	}
	hmap_init(&live);
	for (i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *n = r->element[i], *v = r->element[i + 1];
		uint64_t inc;

		if (n->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    (n->len == strlen(pr->name) && memcmp(n->str, pr->name, n->len) == 0))
			continue;
		hmap_put(&live, n->str, n->len, pr); /* any non-NULL */
		inc = strtoull(v->str, NULL, 10);
		if ((p = peer_find(pr, n->str, n->len)) == NULL &&
		    (p = peer_new(pr, n->str, n->len, inc)) == NULL)
			continue;
		/* Another incarnation: its hash says (this answer may be older
		 * than what the channel told since). */
		if (inc != p->inc || p->unread || p->version == 0)
			peer_read(pr, p);
	}
	/* A node the checks stop naming was taken for lost by a check, which
	 * published L (missed here if this node's channel link was down);
	 * or Redis lost the set, and the node names itself again at its next
	 * beat.  So it is lost once a heartbeat's time has passed unnamed. */
	while ((p = hmap_next(&pr->peers, &pos)) != NULL && ngone < 64) {
		if (hmap_get(&live, p->name, p->n) != NULL)
			p->absent = 0;
		else if (p->absent == 0)
			p->absent = ev_now(pr->loop);
		else if (ev_now(pr->loop) - p->absent > SCRIPT_NODE_TTL / 1000.0)
			gone[ngone++] = p;
	}
	hmap_free(&live);
	for (i = 0; i < ngone; i++)
		peer_gone(pr, gone[i], REASON_NODE_LOST, 0);
}

static void
on_beaten(int rc, const char *why, void *arg)
{
	struct presence *pr = arg;

	if (rc < 0)
		log_debug("cluster: heartbeat not written: %s", why ? why : "?");
	else if (rc == 0 && !pr->writing) /* the hash is gone: taken for lost */
		write_whole(pr);
}

static void
on_beat(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct presence *pr = w->data;

	(void)loop;
	(void)revents;
	if (!redis_up(pr->cmd))
		return;
	if (pr->whole)
		write_whole(pr);
	(void)script_node_beat(pr->cmd, pr->name, pr->inc, SCRIPT_NODE_TTL, on_beaten, pr);
	if (!pr->checking && script_nodes_check(pr->cmd, on_checked, pr) == 0)
		pr->checking = 1;
}

void
presence_link(struct presence *pr, int up)
{
	if (!up) {
		pr->whole = 1; /* changes may have been lost on the way */
		return;
	}
	on_beat(pr->loop, &pr->beat, 0);
}

struct presence *
presence_new(struct ev_loop *loop, struct core *core, struct redis_link *cmd,
             struct redis_link *sub, const char *name, uint64_t inc)
{
	struct presence *pr = calloc(1, sizeof(*pr));

	if (pr == NULL)
		return NULL;
	pr->loop = loop;
	pr->core = core;
	pr->cmd = cmd;
	pr->sub = sub;
	pr->incn = inc;
	pr->whole = 1;
	snprintf(pr->name, sizeof(pr->name), "%s", name);
	snprintf(pr->inc, sizeof(pr->inc), "%" PRIu64, inc);
	hmap_init(&pr->peers);
	if (redis_subscribe(sub, SCRIPT_PRES_CHANNEL, on_channel, pr) < 0) {
		hmap_free(&pr->peers);
		free(pr);
		return NULL;
	}
	ev_timer_init(&pr->beat, on_beat, SCRIPT_NODE_BEAT_MS / 1000.0,
	              SCRIPT_NODE_BEAT_MS / 1000.0);
	pr->beat.data = pr;
	ev_timer_start(loop, &pr->beat);
	return pr;
}

void
presence_bye(struct presence *pr)
{
	ev_timer_stop(pr->loop, &pr->beat);
	(void)script_node_bye(pr->cmd, pr->name, pr->inc, NULL, NULL);
}

void
presence_free(struct presence *pr)
{
	struct peer *p;
	size_t pos = 0;

	if (pr == NULL)
		return;
	ev_timer_stop(pr->loop, &pr->beat);
	while ((p = hmap_next(&pr->peers, &pos)) != NULL)
		users_walk(pr, p, ghost_end, NULL);
	pos = 0;
	while ((p = hmap_next(&pr->peers, &pos)) != NULL) {
		held_clear(p);
		free(p);
	}
	hmap_free(&pr->peers);
	free(pr);
}

int
presence_ready(const struct presence *pr)
{
	return !pr->whole && !pr->writing;
}

unsigned
presence_peers(const struct presence *pr)
{
	return pr ? (unsigned)pr->peers.len : 0;
}

uint64_t
presence_lost(const struct presence *pr)
{
	return pr ? pr->lost : 0;
}
