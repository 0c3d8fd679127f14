/*
 * The core's side of a backplane (core.h, struct core_backplane): the
 * commands that wait on it, and the rooms it numbers.
 *
 * Completions of a session come in the order its commands were given,
 * and with a backplane some of them come later than the call: a say waits
 * for its number, and a join of a room this node does not follow yet
 * waits for the room's state.  So a session keeps a queue: the command
 * that waits goes first, and the commands given meanwhile are copied in
 * behind it and run, in order, once it completes.  The front end is told
 * (sink->busy) so that it stops reading its client until the queue is
 * empty: the queue holds what one read brought, not what a client can
 * send.
 *
 * A say is acknowledged only once its room has delivered up to it, so the
 * sender sees everything before its message first, as on one node.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "util/log.h"

void
core_set_backplane(struct core *c, const struct core_backplane *bp)
{
	c->has_bp = bp != NULL;
	if (bp)
		c->bp = *bp;
	else
		memset(&c->bp, 0, sizeof(c->bp));
}

void
bp_present(struct core *c, const struct session *s, uint8_t kind, uint8_t reason,
           const struct room *r, const char *text, size_t tn)
{
	struct core_bp_presence e;

	if (!c->has_bp || c->bp.present == NULL || s->ghost)
		return;
	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.reason = reason;
	e.room = r;
	if (kind == PRES_NICK) {
		e.old = text;
		e.old_len = tn;
	} else {
		e.text = text;
		e.text_len = tn;
	}
	c->bp.present(c->bp.arg, s, &e);
}

struct core_bp_op *
op_new(struct session *s, enum core_cmd cmd, const char *name, size_t n, const char *text,
       size_t tn, uint64_t tag)
{
	struct core_bp_op *op = calloc(1, sizeof(*op));

	if (op == NULL || (tn && (op->text = malloc(tn)) == NULL))
		fatal("out of memory (backplane command)");
	op->s = s;
	op->cmd = (uint8_t)cmd;
	op->tag = tag;
	/* A name longer than any valid one keeps one byte too many: it is
	 * refused for its length when it runs, as it would have been now. */
	op->n = (uint8_t)(n > CORE_ROOM_MAX + 1 ? CORE_ROOM_MAX + 1 : n);
	memcpy(op->name, name, op->n);
	if (tn)
		memcpy(op->text, text, tn);
	op->tn = tn;
	return op;
}

void
op_free(struct core_bp_op *op)
{
	free(op->text);
	free(op);
}

static void
busy(struct session *s, int on)
{
	if (s->sink->busy)
		s->sink->busy(s->ctx, on);
}

int
bp_defer(struct core *c, struct session *s, enum core_cmd cmd, const char *name, size_t n,
         const char *text, size_t tn, uint64_t epoch, uint64_t since, uint64_t tag)
{
	struct core_bp_op *op;

	if (!c->has_bp || s->replaying || TAILQ_EMPTY(&s->ops))
		return 0;
	op = op_new(s, cmd, name, n, text, tn, tag);
	op->state = BP_QUEUED;
	op->epoch = epoch;
	op->since = since;
	TAILQ_INSERT_TAIL(&s->ops, op, slink);
	return 1;
}

/* op, the command s runs now, waits: it goes ahead of those queued. */
void
op_wait(struct session *s, struct core_bp_op *op)
{
	int idle = TAILQ_EMPTY(&s->ops);

	TAILQ_INSERT_HEAD(&s->ops, op, slink);
	if (idle)
		busy(s, 1);
}

/* Run a queued command as if it were given now. */
static void
op_run(struct core *c, struct session *s, const struct core_bp_op *op)
{
	switch (op->cmd) {
	case CMD_HELLO:
		core_hello(c, s, op->name, op->n, op->tag);
		break;
	case CMD_NICK:
		core_nick(c, s, op->name, op->n, op->tag);
		break;
	case CMD_JOIN:
		core_join(c, s, op->name, op->n, op->epoch, op->since, op->tag);
		break;
	case CMD_PART:
		core_part(c, s, op->name, op->n, op->text, op->tn, op->tag);
		break;
	case CMD_SAY:
		core_say(c, s, op->name, op->n, op->text, op->tn, op->tag);
		break;
	case CMD_DIRECT:
		core_direct(c, s, op->name, op->n, op->text, op->tn, op->tag);
		break;
	default:
		core_topic(c, s, op->name, op->n, op->text, op->tn, op->tag);
		break;
	}
}

/* The command ahead of s's queue is done: run what waited behind it,
 * until one waits in turn. */
static void
drain(struct core *c, struct session *s)
{
	struct core_bp_op *op;

	while ((op = TAILQ_FIRST(&s->ops)) != NULL && op->state == BP_QUEUED) {
		TAILQ_REMOVE(&s->ops, op, slink);
		s->replaying = 1;
		op_run(c, s, op);
		s->replaying = 0;
		op_free(op);
	}
	if (TAILQ_EMPTY(&s->ops))
		busy(s, 0);
}

/* s's queued commands may run: after the backplane's call (drains_run). */
static void
drain_later(struct core *c, struct session *s)
{
	if (s->draining)
		return;
	s->draining = 1;
	LIST_INSERT_HEAD(&c->drains, s, dlink);
}

/* The end of every call from the backplane: what completions freed runs
 * now, when no room is being walked (a queued PART and JOIN could free
 * the room a completion came from). */
void
bp_drains_run(struct core *c)
{
	struct session *s;

	while ((s = LIST_FIRST(&c->drains)) != NULL) {
		LIST_REMOVE(s, dlink);
		s->draining = 0;
		drain(c, s);
	}
}

/* op has completed: take it off its session's queue and go on. */
void
op_done(struct core *c, struct core_bp_op *op)
{
	struct session *s = op->s;

	TAILQ_REMOVE(&s->ops, op, slink);
	op_free(op);
	drain_later(c, s);
}

/* --- says --- */

void
bp_say(struct core *c, struct session *s, struct room *r, const char *text, size_t tn, uint64_t tag)
{
	struct core_bp_op *op = op_new(s, CMD_SAY, r->key, r->name_len, text, tn, tag);

	op->state = BP_SENT;
	op_sent(s, op, c->bp.publish(c->bp.arg, r, s, text, tn, op), r->name, r->name_len);
}

void
op_sent(struct session *s, struct core_bp_op *op, int rc, const char *arg, size_t n)
{
	struct core_reply rep;

	if (rc == 0) {
		op_wait(s, op);
		return;
	}
	reply_init(&rep, op->cmd, op->tag, arg, n);
	rep.err = CORE_E_CLUSTER;
	op_free(op);
	session_done(s, &rep);
}

/* Complete a say: with its message from r's ring when it is there, else
 * one made from what was sent (r NULL: the room has gone). */
static void
say_complete(struct core *c, struct core_bp_op *op, struct room *r, uint64_t epoch, int err)
{
	struct session *s = op->s;
	struct core_reply rep;
	struct msg *m = NULL;
	unsigned i;

	if (s == NULL) /* not on a room's list once its session ended */
		return;
	reply_init(&rep, CMD_SAY, op->tag, r ? r->name : op->name, r ? r->name_len : op->n);
	rep.err = err;
	if (err == 0) {
		if (r && (i = history_after(&r->hist, op->seq - 1)) < history_len(&r->hist) &&
		    history_at(&r->hist, i)->seq == op->seq &&
		    history_at(&r->hist, i)->epoch == epoch) {
			m = msg_ref(history_at(&r->hist, i));
		} else {
			m = msg_new(rep.arg, rep.arg_len, s->nick, s->nick_len, op->text, op->tn,
			            op->seq, op->time_ms, 0);
			m->epoch = epoch;
			m->id = core_event_id(c);
		}
		rep.ack.seq = op->seq;
		rep.ack.time_ms = op->time_ms;
		rep.msg = m;
	}
	session_done(s, &rep);
	if (m)
		msg_unref(m);
	if (op->state == BP_SENT) {
		/* Answered before its publish was: the op waits for that
		 * answer on its own, and the session goes on. */
		TAILQ_REMOVE(&s->ops, op, slink);
		op->s = NULL;
		drain_later(c, s);
		return;
	}
	op_done(c, op);
}

static void
published(struct core *c, struct core_bp_op *op, int err, uint64_t seq, uint64_t time_ms,
          uint64_t epoch)
{
	struct room *r;

	if (op->s == NULL) { /* its session has ended */
		op_free(op);
		return;
	}
	r = hmap_get(&c->rooms, op->name, op->n);
	op->seq = seq;
	op->time_ms = time_ms;
	op->state = BP_WAITING; /* answered: say_complete() frees it */
	if (err == 0 && r && r->bp_state != BP_ROOM_IDLE &&
	    (r->bp_state == BP_ROOM_OPENING || r->epoch != epoch || r->seq < seq)) {
		/* Not delivered here yet: the ACK waits for it. */
		op->room = r;
		op->epoch = epoch;
		TAILQ_INSERT_TAIL(&r->waiters, op, rlink);
		return;
	}
	say_complete(c, op, r, epoch, err);
}

/* The first say waiting on r that its delivery has reached, or NULL. */
static struct core_bp_op *
say_reached(const struct room *r)
{
	struct core_bp_op *op;

	/* The analyzer cannot see that TAILQ_REMOVE took a completed op off
	 * the list (its tqe_prev is the head's tqh_first). */
	TAILQ_FOREACH(op, &r->waiters, rlink)
	{
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
		if (op->cmd == CMD_SAY && op->epoch == r->epoch && op->seq <= r->seq)
			return op;
	}
	return NULL;
}

/* Refuse the says lost on r's room: its catch-up is over and did not
 * find them (r NULL: those lost longer than CORE_BP_LOST_MS). */
static void
lost_refuse(struct core *c, struct room *r)
{
	struct core_bp_op *op, *next;

	for (op = TAILQ_FIRST(&c->lost); op; op = next) {
		next = TAILQ_NEXT(op, rlink);
		if (r ? op->n != r->name_len || memcmp(op->name, r->key, op->n) != 0
		      : op->time_ms + CORE_BP_LOST_MS > c->now_ms)
			continue;
		TAILQ_REMOVE(&c->lost, op, rlink);
		say_complete(c, op, r, 0, CORE_E_CLUSTER);
		next = TAILQ_FIRST(&c->lost);
	}
}

/* A say waiting on r numbered in an epoch r is no longer in, or NULL. */
static struct core_bp_op *
say_of_other_epoch(const struct room *r)
{
	struct core_bp_op *op;

	TAILQ_FOREACH(op, &r->waiters, rlink)
	{
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): as in say_reached() */
		if (op->cmd == CMD_SAY && op->epoch != r->epoch)
			return op;
	}
	return NULL;
}

/* Complete the says of r that its delivery has reached. */
static void
says_reached(struct core *c, struct room *r)
{
	struct core_bp_op *op;

	while ((op = say_reached(r)) != NULL) {
		TAILQ_REMOVE(&r->waiters, op, rlink);
		say_complete(c, op, r, op->epoch, 0);
	}
}

/* --- delivery --- */

/*
 * A message of this node's session s (NULL: gone), just delivered: its say is
 * acknowledged now, between the message before it and the one after, as
 * on one node, even when the publish step's own answer comes later (the
 * channel and the command link are two connections).
 */
static void
said(struct core *c, struct room *r, struct session *s, const struct core_bp_msg *bm)
{
	struct core_bp_op *op;

	if (s == NULL || (op = TAILQ_FIRST(&s->ops)) == NULL || op->cmd != CMD_SAY ||
	    (op->state != BP_SENT && op->state != BP_LOST) || op->n != r->name_len ||
	    memcmp(op->name, r->key, op->n) != 0)
		return;
	if (op->state == BP_LOST) /* it went through after all */
		TAILQ_REMOVE(&c->lost, op, rlink);
	op->seq = bm->seq;
	op->time_ms = bm->time_ms;
	say_complete(c, op, r, r->epoch, 0);
}

static void
deliver(struct core *c, struct room *r, const struct core_bp_msg *bm)
{
	struct msg *m = msg_new(r->name, r->name_len, bm->from, bm->from_len, bm->text,
	                        bm->text_len, bm->seq, bm->time_ms, 0);
	uint32_t before = r->hist.bytes;
	struct session *s;

	/* Past a gap the stream could not fill (trimmed): the ring holds a
	 * contiguous run, so it starts again. */
	if (bm->seq != r->seq + 1) {
		history_clear(&r->hist);
		hist_changed(c, r, before);
	}
	m->epoch = r->epoch;
	r->seq = bm->seq;
	s = room_deliver(c, r, m, bm->sid);
	msg_unref(m);
	if (bm->sid)
		said(c, r, s, bm);
}

static int
message(struct core *c, const char *key, size_t n, const struct core_bp_msg *bm)
{
	struct room *r = hmap_get(&c->rooms, key, n);

	if (r == NULL || r->bp_state == BP_ROOM_IDLE)
		return 0;
	/* Before its state: the state may be older than this message, which
	 * is then read again after it. */
	if (r->bp_state == BP_ROOM_OPENING)
		return 1;
	if (bm->seq <= r->seq && bm->epoch == r->epoch)
		return 0;
	if (bm->epoch != r->epoch || bm->seq != r->seq + 1)
		return 1;
	deliver(c, r, bm);
	says_reached(c, r);
	return 0;
}

/* Start r over from the state given: its epoch, seq and ring. */
static void
room_reset(struct core *c, struct room *r, uint64_t epoch, uint64_t seq,
           const struct core_bp_msg *msgs, unsigned count)
{
	uint32_t before = r->hist.bytes;
	unsigned i;

	history_clear(&r->hist);
	hist_changed(c, r, before);
	r->epoch = epoch;
	for (i = 0; i < count; i++) {
		struct msg *m;

		/* The ring holds a contiguous run: keep the newest one. */
		if (history_len(&r->hist) && msgs[i].seq != r->seq + 1) {
			before = r->hist.bytes;
			history_clear(&r->hist);
			hist_changed(c, r, before);
		}
		m = msg_new(r->name, r->name_len, msgs[i].from, msgs[i].from_len, msgs[i].text,
		            msgs[i].text_len, msgs[i].seq, msgs[i].time_ms, 0);
		m->epoch = epoch;
		m->id = core_event_id(c);
		r->seq = m->seq;
		hist_push(c, r, m);
		msg_unref(m);
	}
	r->seq = seq;
}

/*
 * A join whose cursor is older than r's ring (and of its epoch) asks the
 * backplane for what the ring lacks, CHATD_REPLAY_MAX messages in all at
 * the most, as the store does on one node: op, on r's waiters, then waits
 * in state BP_OLDER.  0 when asked; -1 when there is nothing to ask for
 * or it cannot be asked (the join goes on, its replay truncated).
 */
static int
older_ask(struct core *c, struct room *r, struct core_bp_op *op)
{
	uint64_t first = room_ring_first(r);
	unsigned len = history_len(&r->hist);

	if (!c->has_bp || c->bp.range == NULL || op->epoch == 0 || op->epoch != r->epoch ||
	    op->since >= r->seq || first <= op->since + 1 || len >= CHATD_REPLAY_MAX ||
	    c->bp.range(c->bp.arg, r, op->since, r->seq + 1, CHATD_REPLAY_MAX + len, op) < 0)
		return -1;
	op->state = BP_OLDER;
	return 0;
}

int
bp_join_older(struct core *c, struct session *s, struct room *r, uint64_t epoch, uint64_t since,
              uint64_t tag)
{
	struct core_bp_op *op = op_new(s, CMD_JOIN, r->name, r->name_len, NULL, 0, tag);

	op->room = r;
	op->epoch = epoch;
	op->since = since;
	if (older_ask(c, r, op) < 0) {
		op_free(op);
		return 0;
	}
	/* A room with a join waiting on it is not forgotten meanwhile. */
	if (r->nmembers == 0)
		linger_unlink(c, r);
	TAILQ_INSERT_TAIL(&r->waiters, op, rlink);
	op_wait(s, op);
	return 1;
}

/*
 * Of msgs[0, count) (a range's answer, oldest first), the messages after
 * since that a join replays before r's ring: the run that ends where the
 * ring starts now (it may have moved on since the ask, which reached to
 * the newest), the newest CHATD_REPLAY_MAX with the ring's.  A new array
 * of *n new messages, or NULL (none, or they do not join up with the ring).
 */
static struct msg **
older_run(const struct room *r, uint64_t since, const struct core_bp_msg *msgs, unsigned count,
          unsigned *n)
{
	uint64_t first = room_ring_first(r);
	unsigned len = history_len(&r->hist), end = count, start, i;
	struct msg **older;

	*n = 0;
	while (end > 0 && (msgs[end - 1].epoch != r->epoch || msgs[end - 1].seq >= first))
		end--;
	if (end == 0 || msgs[end - 1].seq + 1 != first || len >= CHATD_REPLAY_MAX)
		return NULL;
	start = end - 1;
	while (start > 0 && end - start < CHATD_REPLAY_MAX - len &&
	       msgs[start - 1].epoch == r->epoch && msgs[start - 1].seq > since &&
	       msgs[start - 1].seq + 1 == msgs[start].seq)
		start--;
	if (msgs[start].seq <= since || (older = calloc(end - start, sizeof(*older))) == NULL)
		return NULL;
	for (i = start; i < end; i++) {
		older[*n] =
		        msg_new(r->name, r->name_len, msgs[i].from, msgs[i].from_len, msgs[i].text,
		                msgs[i].text_len, msgs[i].seq, msgs[i].time_ms, 0);
		older[(*n)++]->epoch = r->epoch;
	}
	return older;
}

void
core_bp_ranged(struct core *c, struct core_bp_op *op, const struct core_bp_msg *msgs,
               unsigned count)
{
	struct room *r = op->room;
	struct msg **older = NULL;
	struct core_reply rep;
	unsigned n = 0;
	int err;

	if (r == NULL) { /* its room went, and its session before it */
		op_free(op);
		return;
	}
	TAILQ_REMOVE(&r->waiters, op, rlink);
	if (op->s == NULL) { /* the session ended meanwhile */
		op_free(op);
	} else if ((err = join_check(c, op->s, r)) != 0) {
		reply_init(&rep, CMD_JOIN, op->tag, r->name, r->name_len);
		rep.err = err;
		session_done(op->s, &rep);
		op_done(c, op);
	} else {
		older = older_run(r, op->since, msgs, count, &n);
		join_finish(c, op->s, r, op->epoch, op->since, op->tag, n ? older : NULL, n);
		free(older);
		op_done(c, op);
	}
	if (r->nmembers == 0 && r->llist == LINGER_KINDS && TAILQ_EMPTY(&r->waiters))
		linger_start(c, r);
	bp_drains_run(c);
}

/* The joins waiting on r go on (err 0) or fail. */
static void
joins_go(struct core *c, struct room *r, int err)
{
	struct core_bp_op *op, *next;
	struct core_reply rep;
	int e;

	for (op = TAILQ_FIRST(&r->waiters); op; op = next) {
		next = TAILQ_NEXT(op, rlink);
		if (op->cmd != CMD_JOIN || op->state != BP_WAITING)
			continue;
		if ((e = err) == 0)
			e = join_check(c, op->s, r);
		if (e == 0 && older_ask(c, r, op) == 0)
			continue; /* it waits on, for what its cursor needs */
		TAILQ_REMOVE(&r->waiters, op, rlink);
		if (e == 0) {
			join_finish(c, op->s, r, op->epoch, op->since, op->tag, NULL, 0);
		} else {
			reply_init(&rep, CMD_JOIN, op->tag, r->name, r->name_len);
			rep.err = e;
			session_done(op->s, &rep);
		}
		op_done(c, op);
		next = TAILQ_FIRST(&r->waiters); /* the queue's commands may have changed it */
	}
	/* No join went through: the room lingers like any empty one. */
	if (r->nmembers == 0 && r->llist == LINGER_KINDS && TAILQ_EMPTY(&r->waiters))
		linger_start(c, r);
}

static int
state(struct core *c, const char *key, size_t n, uint64_t epoch, uint64_t seq, uint64_t after,
      const struct core_bp_msg *msgs, unsigned count)
{
	struct room *r = hmap_get(&c->rooms, key, n);
	struct core_bp_op *op;
	unsigned i;

	if (r == NULL || r->bp_state == BP_ROOM_IDLE)
		return 0;
	/* Redis lost the room (restarted without its data, flushed) when its
	 * epoch is another, or its seq is below what this node had delivered
	 * when it asked.  Not below r->seq: the channel is another connection
	 * than the one the state came on, and may have delivered past it
	 * since.  The members are caught up from the first message of the
	 * new epoch, and says of the old one not yet delivered are gone. */
	if (r->bp_state == BP_ROOM_OPEN && (epoch != r->epoch || seq < after)) {
		uint32_t before = r->hist.bytes;

		log_notice("room %s: its history in Redis starts over (epoch %llu, seq %llu)",
		           r->name, (unsigned long long)epoch, (unsigned long long)seq);
		history_clear(&r->hist);
		hist_changed(c, r, before);
		r->epoch = epoch;
		r->seq = 0;
		while ((op = say_of_other_epoch(r)) != NULL) {
			TAILQ_REMOVE(&r->waiters, op, rlink);
			say_complete(c, op, r, op->epoch, CORE_E_CLUSTER);
		}
		return 1;
	}
	if (r->bp_state == BP_ROOM_OPENING) {
		room_reset(c, r, epoch, seq, msgs, count);
		r->bp_state = BP_ROOM_OPEN;
		says_reached(c, r);
		while ((op = say_of_other_epoch(r)) != NULL) {
			TAILQ_REMOVE(&r->waiters, op, rlink);
			say_complete(c, op, r, op->epoch, CORE_E_CLUSTER);
		}
		joins_go(c, r, 0);
		lost_refuse(c, r);
		return 0;
	}
	/* Catching up: what it missed, in order, each ACK in its place. */
	for (i = 0; i < count; i++)
		if (msgs[i].seq > r->seq) {
			deliver(c, r, &msgs[i]);
			says_reached(c, r);
		}
	/* What the stream no longer holds is skipped over (the ring holds a
	 * contiguous run: it starts again). */
	if (count == 0 && seq > r->seq) {
		uint32_t before = r->hist.bytes;

		history_clear(&r->hist);
		hist_changed(c, r, before);
		r->seq = seq;
	}
	says_reached(c, r);
	if (r->seq >= seq)
		lost_refuse(c, r); /* caught up: what was lost is not there */
	return r->seq < seq;
}

uint64_t
core_bp_after(const struct core *c, const char *key, size_t n, int *want)
{
	const struct room *r = hmap_get(&c->rooms, key, n);

	*want = r == NULL || r->bp_state == BP_ROOM_IDLE ? 0
	        : r->bp_state == BP_ROOM_OPENING         ? 1
	                                                 : 2;
	return *want == 2 ? r->seq : 0;
}

static void
failed(struct core *c, const char *key, size_t n)
{
	struct room *r = hmap_get(&c->rooms, key, n);

	if (r == NULL || r->bp_state != BP_ROOM_OPENING)
		return;
	/* A room with members here stays followed: the next confirmation or
	 * reconnect asks again; only its joins fail now.  Other nodes'
	 * members do not count: the next join here follows it afresh. */
	if (room_locals(r) == 0 && !room_waits(r, CMD_SAY))
		r->bp_state = BP_ROOM_IDLE;
	joins_go(c, r, CORE_E_CLUSTER);
}

struct room *
core_bp_room_next(const struct core *c, size_t *pos)
{
	struct room *r;

	while ((r = hmap_next(&c->rooms, pos)) != NULL)
		if (r->bp_state != BP_ROOM_IDLE)
			return r;
	return NULL;
}

/* --- joins --- */

void
bp_join(struct core *c, struct session *s, struct room *r, uint64_t epoch, uint64_t since,
        uint64_t tag)
{
	struct core_bp_op *op;
	struct core_reply rep;

	if (r->bp_state == BP_ROOM_IDLE) {
		/* Opening before the hook runs: a room the node still follows
		 * is asked for at once, and only an opening room is wanted. */
		r->bp_state = BP_ROOM_OPENING;
		if (c->bp.follow(c->bp.arg, r) < 0) {
			r->bp_state = BP_ROOM_IDLE;
			reply_init(&rep, CMD_JOIN, tag, r->name, r->name_len);
			rep.err = CORE_E_CLUSTER;
			session_done(s, &rep);
			return;
		}
	}
	/* A room with joins waiting on it is not forgotten meanwhile. */
	if (r->nmembers == 0)
		linger_unlink(c, r);
	op = op_new(s, CMD_JOIN, r->name, r->name_len, NULL, 0, tag);
	op->state = BP_WAITING;
	op->room = r;
	op->epoch = epoch;
	op->since = since;
	TAILQ_INSERT_TAIL(&r->waiters, op, rlink);
	op_wait(s, op);
}

/* --- endings --- */

void
bp_session_end(struct core *c, struct session *s)
{
	struct core_bp_op *op;

	if (s->draining) {
		LIST_REMOVE(s, dlink);
		s->draining = 0;
	}
	while ((op = TAILQ_FIRST(&s->ops)) != NULL) {
		TAILQ_REMOVE(&s->ops, op, slink);
		if (op->state == BP_SENT || op->state == BP_OLDER) {
			op->s = NULL; /* core_bp_published() or _ranged() frees it */
			continue;
		}
		if (op->state == BP_WAITING)
			TAILQ_REMOVE(&op->room->waiters, op, rlink);
		else if (op->state == BP_LOST)
			TAILQ_REMOVE(&c->lost, op, rlink);
		op_free(op);
	}
}

void
bp_room_free(struct core *c, struct room *r)
{
	struct core_bp_op *op;

	/* Never with joins waiting (such a room lingers on no list), nor with
	 * says (their senders are members until they complete). */
	while ((op = TAILQ_FIRST(&r->waiters)) != NULL) {
		log_warn("room %s freed with a command waiting on it", r->name);
		TAILQ_REMOVE(&r->waiters, op, rlink);
		if (op->s == NULL) { /* its session ended: the backplane's answer frees it */
			op->room = NULL;
			continue;
		}
		TAILQ_REMOVE(&op->s->ops, op, slink);
		op_free(op);
	}
	/* Followed or not (a follow whose state failed left the room idle):
	 * the node knows. */
	if (c->has_bp && c->bp.unfollow)
		c->bp.unfollow(c->bp.arg, r);
}

/* --- the calls from the backplane: each runs what its completions let go --- */

void
core_bp_published(struct core *c, struct core_bp_op *op, int err, uint64_t seq, uint64_t time_ms,
                  uint64_t epoch)
{
	published(c, op, err, seq, time_ms, epoch);
	bp_drains_run(c);
}

int
core_bp_message(struct core *c, const char *key, size_t n, const struct core_bp_msg *m)
{
	int rc = message(c, key, n, m);

	bp_drains_run(c);
	return rc;
}

int
core_bp_state(struct core *c, const char *key, size_t n, uint64_t epoch, uint64_t seq,
              uint64_t after, const struct core_bp_msg *msgs, unsigned count)
{
	int rc = state(c, key, n, epoch, seq, after, msgs, count);

	bp_drains_run(c);
	return rc;
}

void
core_bp_failed(struct core *c, const char *key, size_t n)
{
	failed(c, key, n);
	bp_drains_run(c);
}

void
core_bp_publish_lost(struct core *c, struct core_bp_op *op)
{
	if (op->s == NULL) {
		op_free(op);
		return;
	}
	op->state = BP_LOST;
	op->time_ms = c->now_ms; /* when */
	TAILQ_INSERT_TAIL(&c->lost, op, rlink);
}

void
core_bp_expire(struct core *c)
{
	lost_refuse(c, NULL);
	bp_drains_run(c);
}
