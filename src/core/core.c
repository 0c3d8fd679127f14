/*
 * The core's registry: the tables of rooms and sessions, the clock, the
 * limits, the lingering of empty rooms, the history budget over all rooms,
 * and the listings a page at a time.  Rooms (room.c) and sessions
 * (session.c) hold the commands.
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "util/log.h"
#include "util/slab.h"

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
	LIST_INIT(&c->drains);
	TAILQ_INIT(&c->lost);
	TAILQ_INIT(&c->linger[LINGER_SHARED]);
	TAILQ_INIT(&c->linger[LINGER_SOLO]);
	/* Epoch 0 means "no cursor" on every wire, so it is never given out. */
	c->next_epoch = epoch_seed ? epoch_seed : 1;
	/* Event ids start from the same clock, so that they too grow across
	 * restarts (a client's resume point is never mistaken for a new one). */
	c->last_event = c->next_epoch;
	return c;
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
	free(c->older);
	free(c);
}

void
core_add_tap(struct core *c, const struct core_tap *t)
{
	if (c->ntaps == CORE_TAPS)
		fatal("core: more than %d taps", CORE_TAPS);
	c->taps[c->ntaps++] = *t;
}

void
core_set_store(struct core *c, const struct core_store *store)
{
	c->has_store = store != NULL;
	if (store)
		c->store = *store;
}

uint64_t
core_message_count(const struct core *c)
{
	return c->messages;
}

void
core_set_limits(struct core *c, const struct core_limits *lim)
{
	size_t pos = 0;
	struct room *r;

	/* Every room follows a new history length at once, so that what a
	 * front end announces holds for every room a client may join. */
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

/* --- lingering rooms --- */

void
linger_unlink(struct core *c, struct room *r)
{
	if (r->llist == LINGER_KINDS)
		return; /* on no list */
	TAILQ_REMOVE(&c->linger[r->llist], r, llink);
	r->llist = LINGER_KINDS;
}

/* Keep its list sorted; the linger time rarely changes, so the right
 * place is almost always the tail.  A room only one session ever joined
 * waits the shorter solo time: rooms made and left by one connection are
 * what a flood of rooms is made of. */
void
linger_start(struct core *c, struct room *r)
{
	enum linger_kind k = r->shared ? LINGER_SHARED : LINGER_SOLO;
	uint64_t wait = c->lim.room_linger_ms;
	struct linger_list *l = &c->linger[k];
	struct room *after = TAILQ_LAST(l, linger_list);

	if (k == LINGER_SOLO && c->lim.room_linger_solo_ms < wait)
		wait = c->lim.room_linger_solo_ms;
	r->llist = (uint8_t)k;
	r->linger_until = c->now_ms + wait;
	while (after && after->linger_until > r->linger_until)
		after = TAILQ_PREV(after, linger_list, llink);
	if (after)
		TAILQ_INSERT_AFTER(l, after, r, llink);
	else
		TAILQ_INSERT_HEAD(l, r, llink);
}

struct room *
linger_first(const struct core *c)
{
	struct room *a = TAILQ_FIRST(&c->linger[LINGER_SHARED]);
	struct room *b = TAILQ_FIRST(&c->linger[LINGER_SOLO]);

	if (a == NULL || (b && b->linger_until < a->linger_until))
		return b;
	return a;
}

void
linger_free(struct core *c, struct room *r)
{
	linger_unlink(c, r);
	hmap_del(&c->rooms, r->key, r->name_len);
	room_free(c, r);
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

/* --- the history budget --- */

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
	if (r->bucket)
		LIST_REMOVE(r, blink);
	r->bucket = b;
	if (b)
		LIST_INSERT_HEAD(&c->buckets[b], r, blink);
}

void
hist_changed(struct core *c, struct room *r, uint32_t before)
{
	c->hist_bytes = c->hist_bytes - before + r->hist.bytes;
	rebucket(c, r);
}

/*
 * Past the budget, forget lingering rooms (the one due soonest first),
 * then the oldest message of the room with the largest history, again and
 * again, until an eighth of the budget is free, so that the work is paid
 * once for many pushes.
 */
void
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

		for (r = LIST_FIRST(&c->buckets[b]); r && r == keep && history_len(&r->hist) <= 1;
		     r = LIST_NEXT(r, blink))
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

/* --- listings and counts --- */

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

uint64_t
core_work(const struct core *c)
{
	return c->work;
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

const char *
core_limit_text(const struct core *c, int err, char *buf, size_t n)
{
	const struct core_limits *l = &c->lim;

	switch (err) {
	case CORE_E_TEXT_TOO_LONG:
		snprintf(buf, n, "the limit is %u bytes (max-text)", l->max_text);
		return buf;
	case CORE_E_TOO_MANY_ROOMS:
		snprintf(buf, n, "the limit is %u rooms (max-rooms)", l->max_rooms);
		return buf;
	case CORE_E_ROOM_FULL:
		snprintf(buf, n, "the limit is %u members (max-members)", l->max_members);
		return buf;
	case CORE_E_ROOM_LIMIT:
		snprintf(buf, n, "the limit is %u rooms (max-rooms-total)", l->max_rooms_total);
		return buf;
	default:
		return NULL;
	}
}
