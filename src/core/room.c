/*
 * Rooms: their members in join order, their history, the presence events
 * told to their members (at once, or in a summary once a room is large),
 * and the commands that act on one room: join, part, say, topic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/valid.h"
#include "util/log.h"
#include "util/slab.h"

static int
room_cmp(const struct room *a, const struct room *b)
{
	return strcmp(a->key, b->key);
}

RB_GENERATE(room_tree, room, tlink, room_cmp)

void
reply_init(struct core_reply *r, enum core_cmd cmd, uint64_t tag, const char *arg, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->cmd = (uint8_t)cmd;
	r->tag = tag;
	if (n > CORE_ROOM_MAX)
		n = CORE_ROOM_MAX;
	memcpy(r->arg, arg, n);
	r->arg_len = (uint8_t)n;
}

struct room *
room_lookup(const struct core *c, const char *name, size_t n, char *key, int *err)
{
	if (!valid_room(name, n)) {
		*err = CORE_E_ROOM_INVALID;
		return NULL;
	}
	*err = 0;
	valid_fold(key, name, n);
	return hmap_get(&c->rooms, key, n);
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

/* Give r the topic text[0, tn) (tn 0: none), set by by[0, bn) at ms. */
static void
topic_put(struct room *r, const char *text, size_t tn, const char *by, size_t bn, uint64_t ms)
{
	if (r->topic)
		slab_free(r->topic, r->topic_len + 1u);
	r->topic = NULL;
	r->topic_len = 0;
	r->topic_by_len = 0;
	r->topic_by[0] = '\0';
	r->topic_ms = 0;
	if (tn == 0)
		return;
	r->topic = slab_alloc(tn + 1);
	memcpy(r->topic, text, tn);
	r->topic[tn] = '\0';
	r->topic_len = (uint16_t)tn;
	memcpy(r->topic_by, by, bn);
	r->topic_by[bn] = '\0';
	r->topic_by_len = (uint8_t)bn;
	r->topic_ms = ms;
}

void
room_free(struct core *c, struct room *r)
{
	uint32_t before = r->hist.bytes;

	bp_room_free(c, r);
	topic_put(r, "", 0, "", 0, 0);
	if (r->batch)
		batch_free(r->batch);
	history_clear(&r->hist);
	hist_changed(c, r, before);
	slab_free(r->members, r->capmembers * sizeof(*r->members));
	slab_free(r->serials, r->capmembers * sizeof(*r->serials));
	slab_free(r, sizeof(*r));
}

uint64_t
room_ring_first(const struct room *r)
{
	return history_len(&r->hist) ? history_at(&r->hist, 0)->seq : r->seq + 1;
}

/* Fill a room just brought back from the store with its newest messages. */
static int
room_fill(struct core *c, struct room *r)
{
	unsigned want = c->lim.history_len, i;
	struct msg **got;
	int n;

	if (want == 0 || r->seq == 0)
		return 0;
	if ((got = calloc(want, sizeof(*got))) == NULL)
		return -1;
	n = c->store.range(c->store.arg, r->key, r->name_len, r->epoch, 0, r->seq + 1, got, want,
	                   0);
	for (i = 0; n > 0 && i < (unsigned)n; i++) {
		got[i]->id = core_event_id(c);
		hist_push(c, r, got[i]);
		msg_unref(got[i]);
	}
	free(got);
	return n < 0 ? -1 : 0;
}

/* The room named by folded key, creating it when absent: from the store
 * when it has the room, else new, with an epoch of its own (stored_only:
 * NULL with *err 0 instead).  NULL with *err set when the store cannot
 * say, or (stored_only) the server holds all the rooms it may and none
 * lingers; a join has checked that limit before. */
struct room *
room_get(struct core *c, const char *name, size_t n, const char *key, int stored_only, int *err)
{
	struct room *r = hmap_get(&c->rooms, key, n), *old;
	struct core_stored_room st;
	int found = 0;

	memset(&st, 0, sizeof(st));
	*err = 0;
	if (r)
		return r;
	if (c->has_store && (found = c->store.room_load(c->store.arg, key, n, &st)) < 0) {
		*err = CORE_E_STORE;
		return NULL;
	}
	if (stored_only && !found)
		return NULL;
	if (stored_only && c->lim.max_rooms_total && c->rooms.len >= c->lim.max_rooms_total) {
		if ((old = linger_first(c)) == NULL) {
			*err = CORE_E_ROOM_LIMIT;
			return NULL;
		}
		linger_free(c, old);
	}
	r = slab_zalloc(sizeof(*r));
	memcpy(r->key, key, n + 1);
	if (found) {
		memcpy(r->name, st.name, st.name_len);
		r->name_len = st.name_len;
		r->epoch = st.epoch;
		r->seq = st.seq;
		if (st.topic_len <= CORE_TOPIC_MAX && st.topic_by_len <= CORE_NICK_MAX)
			topic_put(r, st.topic, st.topic_len, st.topic_by, st.topic_by_len,
			          st.topic_ms);
	} else {
		memcpy(r->name, name, n);
		r->name_len = (uint8_t)n;
		r->epoch = c->next_epoch++;
	}
	history_init(&r->hist, c->lim.history_len);
	TAILQ_INIT(&r->waiters);
	hmap_put(&c->rooms, r->key, n, r);
	/* Until its first member arrives a new room counts as lingering, so
	 * that the empty-room invariant (lingering iff no members) holds. */
	linger_start(c, r);
	if (found && room_fill(c, r) < 0) {
		linger_free(c, r);
		*err = CORE_E_STORE;
		return NULL;
	}
	return r;
}

int
room_is_member(const struct session *s, const struct room *r)
{
	uint32_t i;

	for (i = 0; i < s->nrooms; i++)
		if (s->rooms[i] == r)
			return 1;
	return 0;
}

/* Put s into r, at the end of the join order. */
static void
member_add(struct core *c, struct room *r, struct session *s)
{
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
}

void
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
		/* A join waiting on it keeps it (bp.c lingers it after). */
		if (!room_waits(r, CMD_JOIN))
			linger_start(c, r);
	}
}

int
room_waits(const struct room *r, enum core_cmd cmd)
{
	const struct core_bp_op *op;

	TAILQ_FOREACH(op, &r->waiters, rlink)
	if (op->cmd == cmd)
		return 1;
	return 0;
}

uint32_t
room_locals(const struct room *r)
{
	uint32_t i, n = 0;

	for (i = 0; i < r->nmembers; i++)
		n += !r->members[i]->ghost;
	return n;
}

/* Deliver p to every member of r except skip. */
static void
announce(struct core *c, struct room *r, struct pres *p, const struct session *skip)
{
	uint32_t i;

	for (i = 0; i < r->nmembers; i++) {
		struct session *m = r->members[i];

		if (m != skip)
			m->sink->presence(m->ctx, p);
	}
	c->work += r->nmembers;
}

int
room_batched(const struct core *c, const struct room *r)
{
	return c->lim.presence_batch && r->nmembers > c->lim.presence_batch;
}

void
room_batch_add(struct core *c, struct room *r, struct pres *p)
{
	struct batch *b = r->batch;

	if (b == NULL) {
		b = r->batch = slab_zalloc(sizeof(*b));
		b->room = r;
		LIST_INSERT_HEAD(&c->batches, b, link);
	}
	if (p->kind == PRES_JOIN)
		b->joins++;
	else if (p->kind != PRES_NICK)
		b->leaves++;
	if (b->n < CORE_SUMMARY_MAX)
		b->items[b->n++] = pres_ref(p);
	else
		b->omitted = 1;
}

/* Each member at once, or in the next summary when the room is large,
 * since n joins to a room of n would otherwise be n * n deliveries. */
void
room_tell(struct core *c, struct room *r, struct pres *p, const struct session *skip)
{
	if (room_batched(c, r))
		room_batch_add(c, r, p);
	else
		announce(c, r, p, skip);
}

void
core_presence_flush(struct core *c)
{
	struct batch *b;

	while ((b = LIST_FIRST(&c->batches)) != NULL) {
		struct room *r = b->room;

		if (r->nmembers) {
			struct pres *p = core_stamp(
			        c, pres_summary(r->name, r->name_len, r->nmembers, b->joins,
			                        b->leaves, b->items, b->n, b->omitted, c->now_ms));

			b->n = 0; /* the summary holds the references now */
			announce(c, r, p, NULL);
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

/* Store m in r's history, within the room's and the server's budgets. */
void
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
		out->flags = CORE_HIST_TRUNCATED | CORE_HIST_EPOCH_CHANGED;
	} else if (epoch != 0) {
		out->hist_from = history_after(&r->hist, since);
		/* Something after the cursor fell out of the ring: the first
		 * message we can give is not since + 1. */
		if (since < r->seq &&
		    (len == 0 || history_at(&r->hist, out->hist_from)->seq > since + 1))
			out->flags = CORE_HIST_TRUNCATED;
	}
	out->hist_count = len - out->hist_from;
	out->older = NULL;
	out->nolder = 0;
}

/* older[0, n), fetched for this join from before the ring: replayed
 * first when they join up with the ring (which may have moved on since
 * they were asked for); else let go, and the replay stays truncated. */
static void
replay_given(const struct room *r, uint64_t since, struct msg **older, unsigned n,
             struct core_joined *out)
{
	if (out->flags == CORE_HIST_TRUNCATED && n > 0 && older[0]->seq > since &&
	    older[n - 1]->seq + 1 == room_ring_first(r)) {
		out->older = older;
		out->nolder = n;
		out->hist_count += n;
		if (older[0]->seq == since + 1)
			out->flags = 0;
		return;
	}
	while (n)
		msg_unref(older[--n]);
}

/* A cursor older than the ring: what the store has between the cursor
 * and the ring goes first, so that a client back after a restart or a
 * long absence gets exactly what it missed, CHATD_REPLAY_MAX messages in
 * all at the most (the newest; a longer ring is replayed whole). */
static void
replay_older(struct core *c, const struct room *r, uint64_t since, struct core_joined *out)
{
	uint64_t first = room_ring_first(r);
	unsigned want = out->hist_count < CHATD_REPLAY_MAX ? CHATD_REPLAY_MAX - out->hist_count : 0;
	int n;

	if (!c->has_store || out->flags != CORE_HIST_TRUNCATED || first <= since + 1 || want == 0)
		return;
	if (c->older == NULL && (c->older = calloc(CHATD_REPLAY_MAX, sizeof(*c->older))) == NULL)
		return;
	n = c->store.range(c->store.arg, r->key, r->name_len, r->epoch, since, first, c->older,
	                   want, 0);
	if (n <= 0)
		return;
	out->older = c->older;
	out->nolder = (unsigned)n;
	out->hist_count += (unsigned)n;
	if (c->older[0]->seq == since + 1 && (uint64_t)n == first - since - 1)
		out->flags = 0;
}

int
core_history_before(struct core *c, const struct room *r, uint64_t before, unsigned limit,
                    struct msg **out, int *more)
{
	struct msg *got[CORE_PAGE_MAX + 1];
	const struct history *h = &r->hist;
	unsigned want, k, n = 0, i;
	uint64_t low;

	if (limit > CORE_PAGE_MAX)
		limit = CORE_PAGE_MAX;
	if (before == 0 || before > r->seq + 1)
		before = r->seq + 1;
	/* One more than asked: whether it exists is the answer to "more". */
	want = limit + 1;
	/* The ring holds a contiguous run of seqs: those below before are its
	 * first k, of which the newest are taken, newest first. */
	k = history_after(h, before - 1);
	if (k > history_len(h))
		k = history_len(h);
	for (i = 0; i < k && n < want; i++)
		got[n++] = msg_ref(history_at(h, k - 1 - i));
	low = n ? got[n - 1]->seq : before;
	if (n < want && c->has_store && low > 1) {
		struct msg *older[CORE_PAGE_MAX + 1];
		int m = c->store.range(c->store.arg, r->key, r->name_len, r->epoch, 0, low, older,
		                       want - n, 0);

		if (m < 0) {
			while (n)
				msg_unref(got[--n]);
			return -1;
		}
		while (m > 0)
			got[n++] = older[--m];
	}
	*more = n == want;
	if (*more)
		msg_unref(got[--n]);
	for (i = 0; i < n; i++)
		out[i] = got[n - 1 - i];
	return (int)n;
}

int
core_history_after(struct core *c, const struct room *r, uint64_t after, unsigned limit,
                   struct msg **out, int *truncated)
{
	const struct history *h = &r->hist;
	uint64_t first = history_len(h) ? history_at(h, 0)->seq : r->seq + 1;
	unsigned n = 0, i;

	if (c->has_store && after + 1 < first && limit > 0) {
		/* The oldest the store keeps after the cursor, up to the ring:
		 * retention may have made a gap right after it. */
		int m = c->store.range(c->store.arg, r->key, r->name_len, r->epoch, after, first,
		                       out, limit, 1);

		if (m < 0)
			return -1;
		n = (unsigned)m;
	}
	if (n == 0 || out[n - 1]->seq + 1 >= first)
		for (i = history_after(h, n ? out[n - 1]->seq : after);
		     i < history_len(h) && n < limit; i++)
			out[n++] = msg_ref(history_at(h, i));
	*truncated = after < r->seq && (n == 0 || out[0]->seq > after + 1);
	return (int)n;
}

struct msg *
core_joined_msg(const struct core_joined *j, unsigned i)
{
	if (i < j->nolder)
		return j->older[i];
	return history_at(&j->room->hist, j->hist_from + i - j->nolder);
}

/* Whether s may join the room of that name (r, NULL when there is none
 * yet): 0, or why not.  At the server's room limit an empty room is
 * forgotten to make room for a new one. */
int
join_check(struct core *c, const struct session *s, const struct room *r)
{
	struct room *old;

	if (r && room_is_member(s, r))
		return CORE_E_ALREADY_IN_ROOM;
	if (c->lim.max_rooms && s->nrooms >= c->lim.max_rooms)
		return CORE_E_TOO_MANY_ROOMS;
	if (r && c->lim.max_members && r->nmembers >= c->lim.max_members)
		return CORE_E_ROOM_FULL;
	if (r || c->lim.max_rooms_total == 0 || c->rooms.len < c->lim.max_rooms_total)
		return 0;
	if ((old = linger_first(c)) == NULL)
		return CORE_E_ROOM_LIMIT; /* every room has members */
	log_info("room %s freed early: the server holds %u rooms", old->name,
	         c->lim.max_rooms_total);
	linger_free(c, old);
	return 0;
}

void
core_join(struct core *c, struct session *s, const char *name, size_t n, uint64_t epoch,
          uint64_t since, uint64_t tag)
{
	char key[CORE_ROOM_MAX + 1];
	struct core_reply rep;
	struct room *r = NULL;

	if (bp_defer(c, s, CMD_JOIN, name, n, NULL, 0, epoch, since, tag))
		return;
	reply_init(&rep, CMD_JOIN, tag, name, n);
	if (!s->registered)
		rep.err = CORE_E_NOT_REGISTERED;
	else if ((r = room_lookup(c, name, n, key, &rep.err)) != NULL || rep.err == 0)
		rep.err = join_check(c, s, r);
	if (rep.err) {
		session_done(s, &rep);
		return;
	}
	if ((r = room_get(c, name, n, key, 0, &rep.err)) == NULL) {
		session_done(s, &rep);
		return;
	}
	if (c->has_bp && r->bp_state != BP_ROOM_OPEN) {
		bp_join(c, s, r, epoch, since, tag);
		return;
	}
	if (c->has_bp && bp_join_older(c, s, r, epoch, since, tag))
		return;
	join_finish(c, s, r, epoch, since, tag, NULL, 0);
}

void
member_join(struct core *c, struct room *r, struct session *s)
{
	struct pres *p;

	member_add(c, r, s);
	p = core_stamp(c, pres_new(PRES_JOIN, REASON_NONE, r->name, r->name_len, s->nick,
	                           s->nick_len, "", 0, c->now_ms));
	room_tell(c, r, p, s);
	pres_unref(p);
}

/* The leaver is told too, at once: it confirms the part. */
void
member_part(struct core *c, struct room *r, struct session *s, const char *reason, size_t rn)
{
	struct pres *p = core_stamp(c, pres_leave(PRES_PART, REASON_NONE, r->name, r->name_len,
	                                          s->nick, s->nick_len, reason, rn, c->now_ms));

	if (room_batched(c, r)) {
		s->sink->presence(s->ctx, p);
		room_batch_add(c, r, p);
	} else {
		announce(c, r, p, NULL);
	}
	pres_unref(p);
	member_remove(c, r, s);
}

void
join_finish(struct core *c, struct session *s, struct room *r, uint64_t epoch, uint64_t since,
            uint64_t tag, struct msg **older, unsigned nolder)
{
	struct core_reply rep;

	member_join(c, r, s);
	bp_present(c, s, PRES_JOIN, REASON_NONE, r, NULL, 0);
	reply_init(&rep, CMD_JOIN, tag, r->name, r->name_len);
	rep.joined.room = r;
	rep.joined.epoch = r->epoch;
	rep.joined.last_seq = r->seq;
	rep.joined.members = r->nmembers;
	replay_range(r, epoch, since, &rep.joined);
	if (older)
		replay_given(r, since, older, nolder, &rep.joined);
	else
		replay_older(c, r, since, &rep.joined);
	c->work += rep.joined.hist_count + 1;
	session_done(s, &rep);
	while (rep.joined.nolder)
		msg_unref(rep.joined.older[--rep.joined.nolder]);
}

/* The room s names, if s is in it; else NULL, and *err says why not. */
static struct room *
member_room(struct core *c, const struct session *s, const char *name, size_t n, int *err)
{
	char key[CORE_ROOM_MAX + 1];
	struct room *r;

	if (!s->registered) {
		*err = CORE_E_NOT_REGISTERED;
		return NULL;
	}
	r = room_lookup(c, name, n, key, err);
	if (*err == 0 && (r == NULL || !room_is_member(s, r))) {
		*err = CORE_E_NOT_IN_ROOM;
		return NULL;
	}
	return r;
}

void
core_part(struct core *c, struct session *s, const char *name, size_t n, const char *reason,
          size_t rn, uint64_t tag)
{
	struct core_reply rep;
	struct room *r;

	if (bp_defer(c, s, CMD_PART, name, n, reason, rn, 0, 0, tag))
		return;
	reply_init(&rep, CMD_PART, tag, name, n);
	if ((r = member_room(c, s, name, n, &rep.err)) != NULL) {
		rn = core_reason_fit(reason, rn);
		member_part(c, r, s, reason, rn);
		bp_present(c, s, PRES_PART, REASON_NONE, r, reason, rn);
	}
	session_done(s, &rep);
}

struct session *
room_deliver(struct core *c, struct room *r, struct msg *m, uint64_t skip)
{
	struct session *skipped = NULL;
	uint32_t i;

	m->id = core_event_id(c);
	c->messages++;
	hist_push(c, r, m);
	if (c->has_store)
		c->store.message(c->store.arg, r, m);
	for (i = 0; i < c->ntaps; i++)
		c->taps[i].message(c->taps[i].arg, r, m);
	for (i = 0; i < r->nmembers; i++) {
		struct session *to = r->members[i];

		if (to->id != skip)
			to->sink->message(to->ctx, m);
		else
			skipped = to;
	}
	c->work += r->nmembers;
	msg_drop_live(m);
	return skipped;
}

void
core_say(struct core *c, struct session *s, const char *name, size_t n, const char *text, size_t tn,
         uint64_t tag)
{
	struct core_reply rep;
	struct room *r;
	struct msg *m;

	if (bp_defer(c, s, CMD_SAY, name, n, text, tn, 0, 0, tag))
		return;
	reply_init(&rep, CMD_SAY, tag, name, n);
	if ((r = member_room(c, s, name, n, &rep.err)) != NULL)
		rep.err = core_text_check(c, text, tn);
	if (rep.err == 0 && c->has_store && !c->store.writable(c->store.arg))
		rep.err = CORE_E_STORE;
	if (rep.err) {
		session_done(s, &rep);
		return;
	}
	if (c->has_bp) {
		bp_say(c, s, r, text, tn, tag);
		return;
	}
	m = msg_new(r->name, r->name_len, s->nick, s->nick_len, text, tn, ++r->seq, c->now_ms, 0);
	m->epoch = r->epoch;
	(void)room_deliver(c, r, m, s->id);
	rep.ack.seq = m->seq;
	rep.ack.time_ms = m->time_ms;
	rep.msg = m;
	session_done(s, &rep);
	msg_unref(m);
}

/* A topic s may set: 0, or why not. */
static int
topic_check(const char *text, size_t tn)
{
	if (tn > CORE_TOPIC_MAX)
		return CORE_E_TEXT_TOO_LONG;
	if (!valid_line(text, tn))
		return CORE_E_TEXT_INVALID;
	return 0;
}

void
core_topic(struct core *c, struct session *s, const char *name, size_t n, const char *text,
           size_t tn, uint64_t tag)
{
	struct core_reply rep;
	struct room *r;
	struct pres *p;

	if (bp_defer(c, s, CMD_TOPIC, name, n, text, tn, 0, 0, tag))
		return;
	reply_init(&rep, CMD_TOPIC, tag, name, n);
	if ((r = member_room(c, s, name, n, &rep.err)) != NULL)
		rep.err = topic_check(text, tn);
	/* Refused, as a message is, while the store is down: a topic members
	 * were shown must come back after a restart. */
	if (rep.err == 0 && c->has_store && !c->store.writable(c->store.arg))
		rep.err = CORE_E_STORE;
	if (rep.err) {
		session_done(s, &rep);
		return;
	}
	topic_put(r, text, tn, s->nick, s->nick_len, c->now_ms);
	if (c->has_store)
		c->store.topic(c->store.arg, r);
	/* Every member at once, the setter too (it confirms the change), even
	 * in a large room: a topic is not a passing event, and its changes
	 * are few. */
	p = core_stamp(c,
	               pres_topic(r->name, r->name_len, s->nick, s->nick_len, text, tn, c->now_ms));
	announce(c, r, p, NULL);
	pres_unref(p);
	reply_init(&rep, CMD_TOPIC, tag, r->name, r->name_len);
	session_done(s, &rep);
}

const char *
room_topic(const struct room *r, size_t *n, const char **setter, uint64_t *time_ms)
{
	*n = r->topic_len;
	if (setter)
		*setter = r->topic_by;
	if (time_ms)
		*time_ms = r->topic_ms;
	return r->topic ? r->topic : "";
}

struct room *
core_room_find(const struct core *c, const char *name, size_t n)
{
	char key[CORE_ROOM_MAX + 1];
	struct room *r;
	int err;

	r = room_lookup(c, name, n, key, &err);
	return r && r->nmembers ? r : NULL;
}

struct room *
core_room_lookup(const struct core *c, const char *name, size_t n)
{
	char key[CORE_ROOM_MAX + 1];
	int err;

	return room_lookup(c, name, n, key, &err);
}

struct room *
core_room_open(struct core *c, const char *name, size_t n, int *err)
{
	char key[CORE_ROOM_MAX + 1];
	struct room *r = room_lookup(c, name, n, key, err);

	if (r || *err || !c->has_store)
		return r;
	return room_get(c, name, n, key, 1, err);
}

uint64_t
room_epoch(const struct room *r)
{
	return r->epoch;
}

uint64_t
room_last_seq(const struct room *r)
{
	return r->seq;
}

int
room_has_member(const struct room *r, const struct session *s)
{
	unsigned i;

	/* A session is in few rooms: look on its side. */
	for (i = 0; i < s->nrooms; i++)
		if (s->rooms[i] == r)
			return 1;
	return 0;
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

const struct history *
room_history(const struct room *r)
{
	return &r->hist;
}

const char *
room_key(const struct room *r)
{
	return r->key;
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
