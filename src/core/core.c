/*
 * The chat core: the registry of rooms and sessions and the commands on
 * them.  Everything here runs on the loop's one thread and finishes
 * before returning; delivery goes through each session's sink, which
 * queues without calling back, so rooms never change while they are
 * being iterated.
 */
#include "core/core.h"

#include <bsd/sys/tree.h>
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatd/wire.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/slab.h"
#include "core/valid.h"

struct session {
	char nick[WIRE_NICK_MAX + 1]; /* as the user spelled it */
	char key[WIRE_NICK_MAX + 1];  /* folded, the nick index's key */
	uint8_t nick_len;
	uint8_t registered;
	uint32_t nrooms;
	uint32_t caprooms;
	struct room **rooms;
	const struct sink *sink;
	void *ctx;
	uint64_t id;             /* unique per process, never 0 */
	uint32_t mark;           /* dedupes deliveries of one event across rooms */
	RB_ENTRY(session) tlink; /* in the users tree, while registered */
};

struct batch;

struct room {
	char name[WIRE_ROOM_MAX + 1]; /* as its creator spelled it */
	char key[WIRE_ROOM_MAX + 1];
	uint8_t name_len;
	uint32_t nmembers;
	uint32_t capmembers;
	struct session **members; /* in join order */
	uint32_t *serials;        /* members[i] was the serials[i]-th to join */
	uint32_t next_serial;
	struct history hist;
	uint64_t epoch;
	uint64_t seq;          /* last sequence number given out */
	uint64_t linger_until; /* while empty: when it is freed */
	struct room *lprev;    /* linger list, ordered by linger_until */
	struct room *lnext;
	uint64_t first_sid; /* the first session that joined it */
	uint8_t shared;     /* a second session has joined it since */
	uint8_t llist;      /* which linger list it is on (enum linger_kind) */
	uint8_t bucket;     /* size class of its history, 0 for none */
	struct room *bprev; /* rooms of the same size class */
	struct room *bnext;
	RB_ENTRY(room) tlink; /* in the tree of rooms with members */
	struct batch *batch;  /* presence events for its next summary, or NULL */
};

/* The presence events of a large room since its last summary. */
struct batch {
	LIST_ENTRY(batch) link;
	struct room *room;
	uint32_t joins;
	uint32_t leaves;
	uint16_t n;
	uint8_t omitted; /* more than WIRE_SUMMARY_MAX events */
	struct pres *items[WIRE_SUMMARY_MAX];
};

/* Empty rooms wait on one of two lists, each in the order they are due,
 * since each list's rooms wait for the same time. */
enum linger_kind {
	LINGER_SHARED, /* --room-linger */
	LINGER_SOLO,   /* --room-linger-solo: only one session ever used it */
	LINGER_KINDS,
};

struct linger_list {
	struct room *head; /* due first */
	struct room *tail;
};

/* Size classes of history rings: class k > 0 holds the rooms whose
 * history takes [2^(k-1), 2^k) bytes, so the largest are found at once. */
#define CORE_BUCKETS 33

RB_HEAD(room_tree, room);
LIST_HEAD(batch_list, batch);
RB_HEAD(user_tree, session);

struct core {
	struct core_limits lim;
	struct room_tree active;   /* rooms with members, by folded name: LIST pages */
	struct user_tree users;    /* registered sessions, by folded nick: USERS pages */
	struct batch_list batches; /* rooms with a summary to deliver */
	struct hmap rooms;         /* folded name -> room, active and lingering */
	struct hmap nicks;         /* folded nick -> registered session */
	size_t active_rooms;
	uint64_t next_epoch;
	uint64_t next_sid;
	uint64_t now_ms;
	uint32_t mark;
	struct linger_list linger[LINGER_KINDS];
	size_t hist_bytes;                  /* msg_size() of every ring's messages */
	struct room *buckets[CORE_BUCKETS]; /* rooms by the size of their history */
};

static int
room_cmp(const struct room *a, const struct room *b)
{
	return strcmp(a->key, b->key);
}

static int
user_cmp(const struct session *a, const struct session *b)
{
	return strcmp(a->key, b->key);
}

/* RB_GENERATE_STATIC spells "unused" as __unused, which libbsd leaves
 * undefined on Linux; the same with the attribute written out. */
#define CORE_TREE_ATTR static __attribute__((unused))
RB_GENERATE_INTERNAL(room_tree, room, tlink, room_cmp, CORE_TREE_ATTR)
RB_GENERATE_INTERNAL(user_tree, session, tlink, user_cmp, CORE_TREE_ATTR)

struct core *
core_new(const struct core_limits *lim, uint64_t epoch_seed)
{
	struct core *c = calloc(1, sizeof(*c));

	if (c == NULL)
		fatal("out of memory (core)");
	c->lim = *lim;
	hmap_init(&c->rooms);
	hmap_init(&c->nicks);
	RB_INIT(&c->active);
	RB_INIT(&c->users);
	LIST_INIT(&c->batches);
	/* Epoch 0 means "no cursor" on the wire, so it is never given out. */
	c->next_epoch = epoch_seed ? epoch_seed : 1;
	return c;
}

/* The size class of a history of n bytes. */
static uint8_t
bucket_of(uint32_t n)
{
	return n ? (uint8_t)(32 - __builtin_clz(n)) : 0;
}

/* Put r in the size class its history now has. */
static void
rebucket(struct core *c, struct room *r)
{
	uint8_t b = bucket_of(r->hist.bytes);

	if (b == r->bucket)
		return;
	if (r->bucket) {
		if (r->bprev)
			r->bprev->bnext = r->bnext;
		else
			c->buckets[r->bucket] = r->bnext;
		if (r->bnext)
			r->bnext->bprev = r->bprev;
	}
	r->bucket = b;
	r->bprev = NULL;
	r->bnext = NULL;
	if (b) {
		r->bnext = c->buckets[b];
		if (r->bnext)
			r->bnext->bprev = r;
		c->buckets[b] = r;
	}
}

/* r's history changed from before bytes: count the difference. */
static void
hist_changed(struct core *c, struct room *r, uint32_t before)
{
	c->hist_bytes = c->hist_bytes - before + r->hist.bytes;
	rebucket(c, r);
}

/* Forget a batch, delivered or not. */
static void
batch_free(struct batch *b)
{
	uint16_t i;

	LIST_REMOVE(b, link);
	b->room->batch = NULL;
	for (i = 0; i < b->n; i++)
		pres_unref(b->items[i]);
	slab_free(b, sizeof(*b));
}

static void
room_free(struct core *c, struct room *r)
{
	uint32_t before = r->hist.bytes;

	if (r->batch)
		batch_free(r->batch);
	history_clear(&r->hist);
	hist_changed(c, r, before);
	slab_free(r->members, r->capmembers * sizeof(*r->members));
	slab_free(r->serials, r->capmembers * sizeof(*r->serials));
	slab_free(r, sizeof(*r));
}

void
core_free(struct core *c)
{
	size_t pos = 0;
	struct room *r;

	while ((r = hmap_next(&c->rooms, &pos)) != NULL)
		room_free(c, r);
	hmap_free(&c->rooms);
	hmap_free(&c->nicks);
	free(c);
}

void
core_set_limits(struct core *c, const struct core_limits *lim)
{
	size_t pos = 0;
	struct room *r;

	/* Every room follows a new history length at once, so that what
	 * WELCOME announces holds for every room a client may join. */
	if (lim->history_len != c->lim.history_len)
		while ((r = hmap_next(&c->rooms, &pos)) != NULL) {
			uint32_t before = r->hist.bytes;

			history_resize(&r->hist, lim->history_len);
			hist_changed(c, r, before);
		}
	c->lim = *lim;
	core_history_budget(c);
}

void
core_set_time(struct core *c, uint64_t now_ms)
{
	c->now_ms = now_ms;
}

struct session *
core_session_new(struct core *c, const struct sink *sink, void *ctx)
{
	struct session *s = slab_zalloc(sizeof(*s));

	s->sink = sink;
	s->ctx = ctx;
	s->id = ++c->next_sid;
	return s;
}

/* Deliver p to every member of r except skip. */
static void
announce(struct room *r, struct pres *p, const struct session *skip)
{
	uint32_t i;

	for (i = 0; i < r->nmembers; i++) {
		struct session *m = r->members[i];

		if (m != skip)
			m->sink->presence(m->ctx, p);
	}
}

/* Whether r is large enough for its presence to go by summaries. */
static int
batched(const struct core *c, const struct room *r)
{
	return c->lim.presence_batch && r->nmembers > c->lim.presence_batch;
}

/* Keep p for r's next summary. */
static void
batch_add(struct core *c, struct room *r, struct pres *p)
{
	struct batch *b = r->batch;

	if (b == NULL) {
		b = r->batch = slab_zalloc(sizeof(*b));
		b->room = r;
		LIST_INSERT_HEAD(&c->batches, b, link);
	}
	if (p->kind == WIRE_P_JOIN)
		b->joins++;
	else if (p->kind != WIRE_P_NICK)
		b->leaves++;
	if (b->n < WIRE_SUMMARY_MAX)
		b->items[b->n++] = pres_ref(p);
	else
		b->omitted = 1;
}

/* Tell r's members (but skip) of p: each at once, or in the next summary
 * when the room is large, since n joins to a room of n would otherwise be
 * n * n deliveries. */
static void
room_tell(struct core *c, struct room *r, struct pres *p, const struct session *skip)
{
	if (batched(c, r))
		batch_add(c, r, p);
	else
		announce(r, p, skip);
}

void
core_presence_flush(struct core *c)
{
	struct batch *b;

	while ((b = LIST_FIRST(&c->batches)) != NULL) {
		struct room *r = b->room;

		if (r->nmembers) {
			struct pres *p =
			        pres_summary(r->name, r->name_len, r->nmembers, b->joins, b->leaves,
			                     b->items, b->n, b->omitted, c->now_ms);

			b->n = 0; /* the summary holds the references now */
			announce(r, p, NULL);
			pres_unref(p);
		}
		batch_free(b);
	}
}

int
core_presence_pending(const struct core *c)
{
	return !LIST_EMPTY(&c->batches);
}

static void
linger_unlink(struct core *c, struct room *r)
{
	struct linger_list *l = &c->linger[r->llist];

	if (r->lprev)
		r->lprev->lnext = r->lnext;
	else
		l->head = r->lnext;
	if (r->lnext)
		r->lnext->lprev = r->lprev;
	else
		l->tail = r->lprev;
	r->lprev = r->lnext = NULL;
}

/* Start an empty room's linger, keeping its list sorted; the linger time
 * rarely changes, so the right place is almost always the tail.  A room
 * only one session ever joined waits the shorter solo time: rooms made and
 * left by one connection are what a flood of rooms is made of. */
static void
linger_start(struct core *c, struct room *r)
{
	enum linger_kind k = r->shared ? LINGER_SHARED : LINGER_SOLO;
	uint64_t wait = c->lim.room_linger_ms;
	struct linger_list *l = &c->linger[k];
	struct room *after = l->tail;

	if (k == LINGER_SOLO && c->lim.room_linger_solo_ms < wait)
		wait = c->lim.room_linger_solo_ms;
	r->llist = (uint8_t)k;
	r->linger_until = c->now_ms + wait;
	while (after && after->linger_until > r->linger_until)
		after = after->lprev;
	r->lprev = after;
	r->lnext = after ? after->lnext : l->head;
	if (r->lnext)
		r->lnext->lprev = r;
	else
		l->tail = r;
	if (after)
		after->lnext = r;
	else
		l->head = r;
}

/* The lingering room due soonest, or NULL. */
static struct room *
linger_first(const struct core *c)
{
	struct room *a = c->linger[LINGER_SHARED].head, *b = c->linger[LINGER_SOLO].head;

	if (a == NULL || (b && b->linger_until < a->linger_until))
		return b;
	return a;
}

/* Forget a lingering room and its history. */
static void
linger_free(struct core *c, struct room *r)
{
	linger_unlink(c, r);
	hmap_del(&c->rooms, r->key, r->name_len);
	room_free(c, r);
}

/* Take s out of r (which it is in) and free r's slot in s. */
static void
member_remove(struct core *c, struct room *r, struct session *s)
{
	uint32_t i;
	uint32_t j;

	for (i = 0; i < r->nmembers && r->members[i] != s; i++)
		;
	memmove(&r->members[i], &r->members[i + 1], (r->nmembers - i - 1) * sizeof(*r->members));
	memmove(&r->serials[i], &r->serials[i + 1], (r->nmembers - i - 1) * sizeof(*r->serials));
	r->nmembers--;
	for (j = 0; j < s->nrooms && s->rooms[j] != r; j++)
		;
	memmove(&s->rooms[j], &s->rooms[j + 1], (size_t)(s->nrooms - j - 1) * sizeof(*s->rooms));
	s->nrooms--;
	if (r->nmembers == 0) {
		c->active_rooms--;
		RB_REMOVE(room_tree, &c->active, r);
		/* An empty room holds no member array: idle rooms cost little. */
		slab_free(r->members, r->capmembers * sizeof(*r->members));
		slab_free(r->serials, r->capmembers * sizeof(*r->serials));
		r->members = NULL;
		r->serials = NULL;
		r->capmembers = 0;
		linger_start(c, r);
	}
}

static struct pres *
pres_for(struct core *c, uint8_t kind, uint8_t reason, const struct room *r,
         const struct session *s)
{
	return pres_new(kind, reason, r ? r->name : "", r ? r->name_len : 0, s->nick, s->nick_len,
	                "", 0, c->now_ms);
}

void
core_session_end(struct core *c, struct session *s, uint8_t kind, uint8_t reason)
{
	while (s->nrooms) {
		struct room *r = s->rooms[s->nrooms - 1];

		member_remove(c, r, s);
		if (kind && r->nmembers) {
			struct pres *p = pres_for(c, kind, reason, r, s);

			room_tell(c, r, p, NULL);
			pres_unref(p);
		}
	}
	if (s->registered) {
		hmap_del(&c->nicks, s->key, s->nick_len);
		RB_REMOVE(user_tree, &c->users, s);
	}
	slab_free(s->rooms, s->caprooms * sizeof(*s->rooms));
	slab_free(s, sizeof(*s));
}

/* Check nick as a new name for s: 0 if s may take it. */
static int
nick_check(struct core *c, const struct session *s, const char *nick, size_t n, char *key)
{
	struct session *owner;

	if (!valid_nick(nick, n))
		return WIRE_E_NICK_INVALID;
	valid_fold(key, nick, n);
	owner = hmap_get(&c->nicks, key, n);
	if (owner && owner != s)
		return WIRE_E_NICK_TAKEN;
	return 0;
}

static void
nick_set(struct core *c, struct session *s, const char *nick, size_t n)
{
	if (s->registered) {
		hmap_del(&c->nicks, s->key, s->nick_len);
		RB_REMOVE(user_tree, &c->users, s);
	}
	memcpy(s->nick, nick, n);
	s->nick[n] = '\0';
	valid_fold(s->key, nick, n);
	s->nick_len = (uint8_t)n;
	s->registered = 1;
	hmap_put(&c->nicks, s->key, n, s);
	RB_INSERT(user_tree, &c->users, s);
}

int
core_hello(struct core *c, struct session *s, const char *nick, size_t n)
{
	char key[WIRE_NICK_MAX + 1];
	int err;

	if (s->registered)
		return WIRE_E_ALREADY_REGISTERED;
	if ((err = nick_check(c, s, nick, n, key)) != 0)
		return err;
	nick_set(c, s, nick, n);
	return 0;
}

int
core_nick(struct core *c, struct session *s, const char *nick, size_t n)
{
	char key[WIRE_NICK_MAX + 1];
	struct pres *p;
	uint32_t i;
	uint32_t j;
	int err;

	if (!s->registered)
		return WIRE_E_NOT_REGISTERED;
	if ((err = nick_check(c, s, nick, n, key)) != 0)
		return err;
	if (n == s->nick_len && memcmp(nick, s->nick, n) == 0)
		return 0; /* already so named: nothing to announce */
	p = pres_new(WIRE_P_NICK, WIRE_R_NONE, "", 0, s->nick, s->nick_len, nick, n, c->now_ms);
	nick_set(c, s, nick, n);
	/* Once to the user, and once to each user sharing any room. */
	s->mark = ++c->mark;
	s->sink->presence(s->ctx, p);
	for (i = 0; i < s->nrooms; i++) {
		struct room *r = s->rooms[i];

		if (batched(c, r)) {
			batch_add(c, r, p);
			continue;
		}
		for (j = 0; j < r->nmembers; j++) {
			struct session *m = r->members[j];

			if (m->mark != c->mark) {
				m->mark = c->mark;
				m->sink->presence(m->ctx, p);
			}
		}
	}
	pres_unref(p);
	return 0;
}

/* The room named by folded key, creating it when absent. */
static struct room *
room_get(struct core *c, const char *name, size_t n, const char *key)
{
	struct room *r = hmap_get(&c->rooms, key, n);

	if (r)
		return r;
	r = slab_zalloc(sizeof(*r));
	memcpy(r->name, name, n);
	memcpy(r->key, key, n + 1);
	r->name_len = (uint8_t)n;
	r->epoch = c->next_epoch++;
	history_init(&r->hist, c->lim.history_len);
	hmap_put(&c->rooms, r->key, n, r);
	/* Until its first member arrives a new room counts as lingering, so
	 * that the empty-room invariant (lingering iff no members) holds. */
	linger_start(c, r);
	return r;
}

static int
is_member(const struct session *s, const struct room *r)
{
	uint32_t i;

	for (i = 0; i < s->nrooms; i++)
		if (s->rooms[i] == r)
			return 1;
	return 0;
}

/*
 * Keep the history within its byte budget: past it, forget lingering rooms
 * (the one due soonest first), then the oldest message of the room with
 * the largest history, again and again, until an eighth of the budget is
 * free, so that the work is paid once for many pushes.  keep, the room
 * just written to, keeps at least its newest message.
 */
static void
budget_enforce(struct core *c, const struct room *keep)
{
	size_t limit = c->lim.history_bytes, low, rooms = 0, msgs = 0;
	struct room *r;
	int b = CORE_BUCKETS - 1;

	if (limit == 0 || core_history_bytes(c) <= limit)
		return;
	low = limit - limit / 8;
	while (core_history_bytes(c) > low && (r = linger_first(c)) != NULL) {
		linger_free(c, r);
		rooms++;
	}
	while (b > 0 && core_history_bytes(c) > low) {
		uint32_t before;

		for (r = c->buckets[b]; r && r == keep && history_len(&r->hist) <= 1; r = r->bnext)
			;
		if (r == NULL) {
			b--;
			continue;
		}
		before = r->hist.bytes;
		history_drop_oldest(&r->hist);
		hist_changed(c, r, before);
		msgs++;
	}
	log_notice("history over its budget of %zu bytes: forgot %zu lingering room%s and %zu "
	           "message%s of the largest rooms",
	           limit, rooms, rooms == 1 ? "" : "s", msgs, msgs == 1 ? "" : "s");
}

/* Store m in r's history, within the room's and the server's budgets. */
static void
hist_push(struct core *c, struct room *r, struct msg *m)
{
	uint32_t before = r->hist.bytes;

	history_push(&r->hist, m);
	while (c->lim.room_history_bytes && r->hist.bytes > c->lim.room_history_bytes &&
	       history_len(&r->hist) > 1)
		history_drop_oldest(&r->hist);
	hist_changed(c, r, before);
	budget_enforce(c, r);
}

/* Compute which part of r's history a join with this cursor replays. */
static void
replay_range(const struct room *r, uint64_t epoch, uint64_t since, struct core_joined *out)
{
	unsigned len = history_len(&r->hist);

	out->hist_from = 0;
	out->flags = 0;
	/* A cursor beyond the room's last message cannot be of this room's
	 * sequence (forged, corrupt, or from an incarnation the server no
	 * longer has): the client is told to start over, as for an epoch. */
	if (epoch != 0 && (epoch != r->epoch || since > r->seq)) {
		out->flags = WIRE_HIST_TRUNCATED | WIRE_HIST_EPOCH_CHANGED;
	} else if (epoch != 0) {
		out->hist_from = history_after(&r->hist, since);
		/* Something after the cursor fell out of the ring: the first
		 * message we can give is not since + 1. */
		if (since < r->seq &&
		    (len == 0 || history_at(&r->hist, out->hist_from)->seq > since + 1))
			out->flags = WIRE_HIST_TRUNCATED;
	}
	out->hist_count = len - out->hist_from;
}

int
core_join(struct core *c, struct session *s, const char *name, size_t n, uint64_t epoch,
          uint64_t since, struct core_joined *out)
{
	char key[WIRE_ROOM_MAX + 1];
	struct room *r;
	struct pres *p;

	if (!s->registered)
		return WIRE_E_NOT_REGISTERED;
	if (!valid_room(name, n))
		return WIRE_E_ROOM_INVALID;
	valid_fold(key, name, n);
	r = hmap_get(&c->rooms, key, n);
	if (r && is_member(s, r))
		return WIRE_E_ALREADY_IN_ROOM;
	if (c->lim.max_rooms && s->nrooms >= c->lim.max_rooms)
		return WIRE_E_TOO_MANY_ROOMS;
	if (r && c->lim.max_members && r->nmembers >= c->lim.max_members)
		return WIRE_E_ROOM_FULL;
	if (r == NULL && c->lim.max_rooms_total && c->rooms.len >= c->lim.max_rooms_total) {
		/* Make room by forgetting the oldest empty room's history; refuse
		 * only when every room has members. */
		struct room *old = linger_first(c);

		if (old == NULL)
			return WIRE_E_ROOM_LIMIT;
		log_info("room %s freed early: the server holds %u rooms", old->name,
		         c->lim.max_rooms_total);
		linger_free(c, old);
	}
	r = room_get(c, name, n, key);

	if (r->nmembers == 0) {
		linger_unlink(c, r);
		c->active_rooms++;
		RB_INSERT(room_tree, &c->active, r);
	}
	if (r->nmembers == r->capmembers) {
		uint32_t cap = r->capmembers ? r->capmembers * 2 : 4;

		r->members = slab_realloc(r->members, r->capmembers * sizeof(*r->members),
		                          cap * sizeof(*r->members));
		r->serials = slab_realloc(r->serials, r->capmembers * sizeof(*r->serials),
		                          cap * sizeof(*r->serials));
		r->capmembers = cap;
	}
	r->serials[r->nmembers] = ++r->next_serial;
	if (s->nrooms == s->caprooms) {
		uint32_t cap = s->caprooms ? s->caprooms * 2 : 2;

		s->rooms = slab_realloc(s->rooms, s->caprooms * sizeof(*s->rooms),
		                        cap * sizeof(*s->rooms));
		s->caprooms = cap;
	}
	r->members[r->nmembers++] = s;
	s->rooms[s->nrooms++] = r;
	if (r->first_sid == 0)
		r->first_sid = s->id;
	else if (r->first_sid != s->id)
		r->shared = 1;

	p = pres_for(c, WIRE_P_JOIN, WIRE_R_NONE, r, s);
	room_tell(c, r, p, s);
	pres_unref(p);

	out->room = r;
	out->epoch = r->epoch;
	out->last_seq = r->seq;
	out->members = r->nmembers;
	replay_range(r, epoch, since, out);
	return 0;
}

/* The room s names, if s is in it; else the error explaining why not. */
static int
member_room(struct core *c, const struct session *s, const char *name, size_t n, struct room **out)
{
	char key[WIRE_ROOM_MAX + 1];
	struct room *r;

	if (!s->registered)
		return WIRE_E_NOT_REGISTERED;
	if (!valid_room(name, n))
		return WIRE_E_ROOM_INVALID;
	valid_fold(key, name, n);
	r = hmap_get(&c->rooms, key, n);
	if (r == NULL || !is_member(s, r))
		return WIRE_E_NOT_IN_ROOM;
	*out = r;
	return 0;
}

int
core_part(struct core *c, struct session *s, const char *name, size_t n)
{
	struct room *r = NULL;
	struct pres *p;
	int err;

	if ((err = member_room(c, s, name, n, &r)) != 0)
		return err;
	/* The leaver is told too, at once: it is the confirmation of the part. */
	p = pres_for(c, WIRE_P_PART, WIRE_R_NONE, r, s);
	if (batched(c, r)) {
		s->sink->presence(s->ctx, p);
		batch_add(c, r, p);
	} else {
		announce(r, p, NULL);
	}
	pres_unref(p);
	member_remove(c, r, s);
	return 0;
}

static int
text_check(const struct core *c, const char *text, size_t n)
{
	if (n > c->lim.max_text)
		return WIRE_E_TEXT_TOO_LONG;
	if (n == 0 || !valid_utf8(text, n))
		return WIRE_E_TEXT_INVALID;
	return 0;
}

int
core_say(struct core *c, struct session *s, const char *name, size_t n, const char *text, size_t tn,
         struct core_ack *ack)
{
	struct room *r = NULL;
	struct msg *m;
	uint32_t i;
	int err;

	if ((err = member_room(c, s, name, n, &r)) != 0)
		return err;
	if ((err = text_check(c, text, tn)) != 0)
		return err;
	m = msg_new(r->name, r->name_len, s->nick, s->nick_len, text, tn, ++r->seq, c->now_ms, 0);
	hist_push(c, r, m);
	for (i = 0; i < r->nmembers; i++) {
		struct session *to = r->members[i];

		if (to != s)
			to->sink->message(to->ctx, m);
	}
	msg_drop_live(m);
	ack->seq = m->seq;
	ack->time_ms = m->time_ms;
	msg_unref(m);
	return 0;
}

int
core_direct(struct core *c, struct session *s, const char *nick, size_t n, const char *text,
            size_t tn, struct core_ack *ack)
{
	char key[WIRE_NICK_MAX + 1];
	struct session *to;
	struct msg *m;
	int err;

	if (!s->registered)
		return WIRE_E_NOT_REGISTERED;
	if (n == 0 || n > WIRE_NICK_MAX)
		return WIRE_E_NO_SUCH_USER;
	valid_fold(key, nick, n);
	if ((to = hmap_get(&c->nicks, key, n)) == NULL)
		return WIRE_E_NO_SUCH_USER;
	if ((err = text_check(c, text, tn)) != 0)
		return err;
	m = msg_new("", 0, s->nick, s->nick_len, text, tn, 0, c->now_ms, 1);
	to->sink->message(to->ctx, m);
	ack->seq = 0;
	ack->time_ms = m->time_ms;
	msg_unref(m);
	return 0;
}

struct room *
core_room_find(const struct core *c, const char *name, size_t n)
{
	char key[WIRE_ROOM_MAX + 1];
	struct room *r;

	if (!valid_room(name, n))
		return NULL;
	valid_fold(key, name, n);
	r = hmap_get(&c->rooms, key, n);
	return r && r->nmembers ? r : NULL;
}

size_t
core_rooms_after(struct core *c, const char *key, struct room **out, size_t max)
{
	struct room probe, *r;
	size_t n = 0;

	if (key == NULL) {
		r = RB_MIN(room_tree, &c->active);
	} else {
		snprintf(probe.key, sizeof(probe.key), "%s", key);
		r = RB_NFIND(room_tree, &c->active, &probe);
		if (r && strcmp(r->key, key) == 0)
			r = RB_NEXT(room_tree, &c->active, r);
	}
	for (; r && n < max; r = RB_NEXT(room_tree, &c->active, r))
		out[n++] = r;
	return n;
}

size_t
core_users_after(struct core *c, const char *key, struct session **out, size_t max)
{
	struct session probe, *s;
	size_t n = 0;

	if (key == NULL) {
		s = RB_MIN(user_tree, &c->users);
	} else {
		snprintf(probe.key, sizeof(probe.key), "%s", key);
		s = RB_NFIND(user_tree, &c->users, &probe);
		if (s && strcmp(s->key, key) == 0)
			s = RB_NEXT(user_tree, &c->users, s);
	}
	for (; s && n < max; s = RB_NEXT(user_tree, &c->users, s))
		out[n++] = s;
	return n;
}

size_t
core_room_count(const struct core *c)
{
	return c->active_rooms;
}

size_t
core_room_total(const struct core *c)
{
	return c->rooms.len;
}

size_t
core_user_count(const struct core *c)
{
	return c->nicks.len;
}

size_t
core_history_bytes(const struct core *c)
{
	return c->hist_bytes + msg_history_render_bytes();
}

void
core_history_budget(struct core *c)
{
	budget_enforce(c, NULL);
}

uint64_t
core_expire(struct core *c)
{
	struct room *r;

	while ((r = linger_first(c)) != NULL && r->linger_until <= c->now_ms) {
		log_debug("room %s freed after its linger", r->name);
		linger_free(c, r);
	}
	return r ? r->linger_until - c->now_ms : 0;
}

const char *
session_nick(const struct session *s)
{
	return s->nick;
}

size_t
session_nick_len(const struct session *s)
{
	return s->nick_len;
}

int
session_registered(const struct session *s)
{
	return s->registered;
}

unsigned
session_room_count(const struct session *s)
{
	return s->nrooms;
}

struct room *
session_room(const struct session *s, unsigned i)
{
	return s->rooms[i];
}

const char *
room_name(const struct room *r)
{
	return r->name;
}

size_t
room_name_len(const struct room *r)
{
	return r->name_len;
}

uint32_t
room_member_count(const struct room *r)
{
	return r->nmembers;
}

struct session *
room_member(const struct room *r, uint32_t i)
{
	return r->members[i];
}

size_t
room_members_after(const struct room *r, uint32_t serial, struct session **out, size_t max,
                   uint32_t *last)
{
	uint32_t lo = 0, hi = r->nmembers;
	size_t n = 0;

	/* Serials grow along the array: the first one past serial is found by
	 * bisection, whoever has left since. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (r->serials[mid] <= serial)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < r->nmembers && n < max; lo++) {
		out[n++] = r->members[lo];
		*last = r->serials[lo];
	}
	return n;
}

uint32_t
room_last_serial(const struct room *r)
{
	return r->nmembers ? r->serials[r->nmembers - 1] : 0;
}

const char *
room_key(const struct room *r)
{
	return r->key;
}

const char *
session_key(const struct session *s)
{
	return s->key;
}

const struct history *
room_history(const struct room *r)
{
	return &r->hist;
}
