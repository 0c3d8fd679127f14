/*
 * Sessions: a name in the nick index and the tree of users, the rooms it
 * is in, and the commands that concern the user rather than one room:
 * registering, renaming, direct messages, leaving the server.
 */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "core/valid.h"
#include "util/slab.h"

static int
user_cmp(const struct session *a, const struct session *b)
{
	return strcmp(a->key, b->key);
}

RB_GENERATE(user_tree, session, tlink, user_cmp)

struct session *
core_session_new(struct core *c, const struct sink *sink, void *ctx)
{
	struct session *s = slab_zalloc(sizeof(*s));

	s->sink = sink;
	s->ctx = ctx;
	s->id = ++c->next_sid;
	TAILQ_INIT(&s->ops);
	return s;
}

/* s leaving room r (a QUIT with the words s gave, or a drop). */
static struct pres *
pres_of(struct core *c, uint8_t kind, uint8_t reason, const struct room *r, const struct session *s)
{
	int quit = kind == PRES_QUIT && s->quit;

	return core_stamp(c, pres_leave(kind, reason, r->name, r->name_len, s->nick, s->nick_len,
	                                quit ? s->quit : "", quit ? s->quit_len : 0, c->now_ms));
}

size_t
core_reason_fit(const char *text, size_t n)
{
	if (!valid_utf8(text, n))
		return 0; /* dropped whole, even when the bad bytes lie past the cut */
	if (n > CORE_REASON_MAX) {
		/* Cut between characters, never inside one. */
		n = CORE_REASON_MAX;
		while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
			n--;
	}
	return n;
}

void
core_quit_reason(struct session *s, const char *text, size_t n)
{
	n = core_reason_fit(text, n);
	slab_free(s->quit, s->quit_len);
	s->quit = NULL;
	s->quit_len = (uint8_t)n;
	if (n) {
		s->quit = slab_alloc(n);
		memcpy(s->quit, text, n);
	}
}

void
core_session_end(struct core *c, struct session *s, uint8_t kind, uint8_t reason)
{
	bp_session_end(c, s);
	while (s->nrooms) {
		struct room *r = s->rooms[s->nrooms - 1];

		member_remove(c, r, s);
		if (kind && r->nmembers) {
			struct pres *p = pres_of(c, kind, reason, r, s);

			room_tell(c, r, p, NULL);
			pres_unref(p);
		}
	}
	if (s->registered) {
		if (c->has_bp && !s->ghost) {
			/* Ended unannounced (kind 0: the server stops) with a reason:
			 * the other nodes announce it as a drop. */
			int quit = kind == PRES_QUIT || (kind == 0 && reason == REASON_NONE);

			bp_present(c, s, quit ? PRES_QUIT : PRES_DROP, quit ? REASON_NONE : reason,
			           NULL, quit ? s->quit : NULL, quit ? s->quit_len : 0);
			c->bp.release(c->bp.arg, s->key, s->nick_len);
		}
		hmap_del(&c->nicks, s->key, s->nick_len);
		RB_REMOVE(user_tree, &c->users, s);
	}
	if (s->ghost)
		c->ghosts--;
	slab_free(s->rooms, s->caprooms * sizeof(*s->rooms));
	slab_free(s->quit, s->quit_len);
	slab_free(s, sizeof(*s));
}

/* Check nick as a new name for s: 0 if s may take it.  A ghost's nick is
 * the cluster's to give: the claim asks it (the ghost may be gone). */
static int
nick_check(struct core *c, const struct session *s, const char *nick, size_t n)
{
	char key[CORE_NICK_MAX + 1];
	struct session *owner;

	if (!valid_nick(nick, n))
		return CORE_E_NICK_INVALID;
	valid_fold(key, nick, n);
	owner = hmap_get(&c->nicks, key, n);
	if (owner && owner != s && !owner->ghost)
		return CORE_E_NICK_TAKEN;
	return 0;
}

void
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

/* Claim nick (checked here) across the cluster before s takes it. */
static void
claim(struct core *c, struct session *s, enum core_cmd cmd, const char *nick, size_t n,
      uint64_t tag)
{
	char key[CORE_NICK_MAX + 1];
	struct core_bp_op *op;

	/* The folded name rides as the op's text: the key it is claimed by. */
	valid_fold(key, nick, n);
	op = op_new(s, cmd, nick, n, key, n, tag);
	op->state = BP_SENT;
	op_sent(s, op, c->bp.claim(c->bp.arg, key, n, op), nick, n);
}

void
core_hello(struct core *c, struct session *s, const char *nick, size_t n, uint64_t tag)
{
	struct core_reply r;

	if (bp_defer(c, s, CMD_HELLO, nick, n, NULL, 0, 0, 0, tag))
		return;
	reply_init(&r, CMD_HELLO, tag, nick, n);
	if (s->registered)
		r.err = CORE_E_ALREADY_REGISTERED;
	else if ((r.err = nick_check(c, s, nick, n)) == 0 && c->has_bp) {
		claim(c, s, CMD_HELLO, nick, n, tag);
		return;
	} else if (r.err == 0) {
		nick_set(c, s, nick, n);
	}
	session_done(s, &r);
}

/* Tell the user of its new name, and once each user sharing a room with
 * it (a large room hears of it in its summary). */
static void
nick_announce(struct core *c, struct session *s, struct pres *p)
{
	uint32_t i, j;

	s->mark = ++c->mark;
	s->sink->presence(s->ctx, p);
	for (i = 0; i < s->nrooms; i++) {
		struct room *r = s->rooms[i];

		if (room_batched(c, r)) {
			room_batch_add(c, r, p);
			continue;
		}
		for (j = 0; j < r->nmembers; j++) {
			struct session *m = r->members[j];

			if (m->mark != c->mark) {
				m->mark = c->mark;
				m->sink->presence(m->ctx, p);
			}
		}
		c->work += r->nmembers;
	}
}

void
nick_rename(struct core *c, struct session *s, const char *nick, size_t n)
{
	char old[CORE_NICK_MAX + 1], was[CORE_NICK_MAX + 1];
	size_t on = s->nick_len;
	struct pres *p;

	/* Renamed to its own name: nothing to announce. */
	if (n == s->nick_len && memcmp(nick, s->nick, n) == 0)
		return;
	memcpy(old, s->key, on);
	memcpy(was, s->nick, on);
	p = core_stamp(c, pres_new(PRES_NICK, REASON_NONE, "", 0, s->nick, s->nick_len, nick, n,
	                           c->now_ms));
	nick_set(c, s, nick, n);
	nick_announce(c, s, p);
	pres_unref(p);
	bp_present(c, s, PRES_NICK, REASON_NONE, NULL, was, on);
	/* The old name goes back to the cluster, unless only its case changed. */
	if (c->has_bp && !s->ghost && (on != s->nick_len || memcmp(old, s->key, on) != 0))
		c->bp.release(c->bp.arg, old, on);
}

void
core_nick(struct core *c, struct session *s, const char *nick, size_t n, uint64_t tag)
{
	struct core_reply r;

	if (bp_defer(c, s, CMD_NICK, nick, n, NULL, 0, 0, 0, tag))
		return;
	reply_init(&r, CMD_NICK, tag, nick, n);
	if (!s->registered)
		r.err = CORE_E_NOT_REGISTERED;
	else if ((r.err = nick_check(c, s, nick, n)) == 0 && c->has_bp &&
	         (n != s->nick_len || memcmp(nick, s->nick, n) != 0)) {
		claim(c, s, CMD_NICK, nick, n, tag);
		return;
	} else if (r.err == 0) {
		nick_rename(c, s, nick, n);
	}
	session_done(s, &r);
}

void
core_bp_claimed(struct core *c, struct core_bp_op *op, int rc)
{
	struct session *s = op->s;
	struct core_reply r;

	if (s == NULL) { /* the session ended meanwhile */
		if (rc == 1)
			c->bp.release(c->bp.arg, op->text, op->tn);
		op_free(op);
		return;
	}
	reply_init(&r, op->cmd, op->tag, op->name, op->n);
	if (rc < 0)
		r.err = CORE_E_CLUSTER;
	else if (rc == 0)
		r.err = CORE_E_NICK_TAKEN;
	/* Another session here may have taken it meanwhile (the claim
	 * answered "ours" to both: it is the node's). */
	else if ((r.err = nick_check(c, s, op->name, op->n)) == 0 && op->cmd == CMD_HELLO) {
		ghost_evict(c, op->name, op->n);
		nick_set(c, s, op->name, op->n);
		bp_present(c, s, 0, REASON_NONE, NULL, NULL, 0);
	} else if (r.err == 0) {
		ghost_evict(c, op->name, op->n);
		nick_rename(c, s, op->name, op->n);
	}
	session_done(s, &r);
	op_done(c, op);
	bp_drains_run(c);
}

/* Text a message may carry: 0, or why not. */
int
core_text_check(const struct core *c, const char *text, size_t n)
{
	if (n > c->lim.max_text)
		return CORE_E_TEXT_TOO_LONG;
	if (n == 0 || !valid_utf8(text, n))
		return CORE_E_TEXT_INVALID;
	return 0;
}

/* Through the nick index, which holds registered sessions only. */
struct session *
core_user_find(const struct core *c, const char *nick, size_t n)
{
	char key[CORE_NICK_MAX + 1];

	if (!valid_nick(nick, n))
		return NULL;
	valid_fold(key, nick, n);
	return hmap_get(&c->nicks, key, n);
}

static void
direct_remote(struct core *c, struct session *s, const char *nick, size_t n, const char *text,
              size_t tn, uint64_t tag)
{
	struct core_bp_op *op = op_new(s, CMD_DIRECT, nick, n, text, tn, tag);

	op->state = BP_SENT;
	op_sent(s, op, c->bp.direct(c->bp.arg, s, nick, n, text, tn, op), nick, n);
}

void
core_bp_directed(struct core *c, struct core_bp_op *op, int rc, uint64_t time_ms)
{
	struct session *s = op->s;
	struct core_reply r;

	if (s == NULL) {
		op_free(op);
		return;
	}
	reply_init(&r, CMD_DIRECT, op->tag, op->name, op->n);
	r.err = rc < 0 ? CORE_E_CLUSTER : rc == 0 ? CORE_E_NO_SUCH_USER : 0;
	if (r.err == 0) {
		r.msg = msg_new("", 0, s->nick, s->nick_len, op->text, op->tn, 0, time_ms, 1);
		r.msg->id = core_event_id(c);
		c->messages++;
		r.ack.time_ms = time_ms;
	}
	session_done(s, &r);
	if (r.msg)
		msg_unref(r.msg);
	op_done(c, op);
	bp_drains_run(c);
}

void
core_bp_inbox(struct core *c, const char *to, size_t tn, const char *from, size_t fn,
              const char *text, size_t xn, uint64_t time_ms)
{
	struct session *s = core_user_find(c, to, tn);
	struct msg *m;

	if (s == NULL || s->ghost || fn > CORE_NICK_MAX || xn > CORE_TEXT_MAX)
		return; /* gone since the sender's node looked */
	m = msg_new("", 0, from, fn, text, xn, 0, time_ms, 1);
	m->id = core_event_id(c);
	c->messages++;
	s->sink->message(s->ctx, m);
	c->work++;
	msg_unref(m);
}

void
core_direct(struct core *c, struct session *s, const char *nick, size_t n, const char *text,
            size_t tn, uint64_t tag)
{
	struct session *to = NULL;
	struct core_reply r;

	if (bp_defer(c, s, CMD_DIRECT, nick, n, text, tn, 0, 0, tag))
		return;
	reply_init(&r, CMD_DIRECT, tag, nick, n);
	if (!s->registered)
		r.err = CORE_E_NOT_REGISTERED;
	else if ((to = core_user_find(c, nick, n)) == NULL && !(c->has_bp && valid_nick(nick, n)))
		r.err = CORE_E_NO_SUCH_USER;
	else
		r.err = core_text_check(c, text, tn);
	if (r.err) {
		session_done(s, &r);
		return;
	}
	if (to == NULL || to->ghost) { /* perhaps on another node */
		direct_remote(c, s, nick, n, text, tn, tag);
		return;
	}
	r.msg = msg_new("", 0, s->nick, s->nick_len, text, tn, 0, c->now_ms, 1);
	r.msg->id = core_event_id(c);
	c->messages++;
	to->sink->message(to->ctx, r.msg);
	c->work++;
	r.ack.seq = 0;
	r.ack.time_ms = r.msg->time_ms;
	session_done(s, &r);
	msg_unref(r.msg);
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

uint64_t
session_id(const struct session *s)
{
	return s->id;
}

int
session_registered(const struct session *s)
{
	return s->registered;
}

void *
session_ctx(const struct session *s, const struct sink *sink)
{
	return s->sink == sink ? s->ctx : NULL;
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
session_key(const struct session *s)
{
	return s->key;
}
