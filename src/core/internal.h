/*
 * The core's own shapes, shared by its files and by nothing else: the
 * registry (core.c), rooms (room.c) and sessions (session.c).  Everything
 * here runs on the loop's one thread; delivery goes through each session's
 * sink, which queues without calling back, so rooms never change while
 * they are being iterated.
 */
#ifndef CHATD_CORE_INTERNAL_H
#define CHATD_CORE_INTERNAL_H

#include <bsd/sys/tree.h>
#include <stdint.h>
#include <sys/queue.h>

#include "core/core.h"
#include "util/hmap.h"

/* A command waiting on the backplane (bp.c), or queued behind one. */
enum bp_op_state {
	BP_QUEUED,  /* not run yet: an earlier command of its session waits */
	BP_SENT,    /* a publish in flight */
	BP_WAITING, /* on its room: a join for the room's state, a say for delivery */
	BP_LOST,    /* a say whose link dropped before the answer: on c->lost */
	BP_OLDER,   /* a join waiting for the messages before the ring (range) */
};

struct core_bp_op {
	TAILQ_ENTRY(core_bp_op) slink; /* in its session's queue, in command order */
	TAILQ_ENTRY(core_bp_op) rlink; /* in its room's waiters (BP_WAITING) */
	struct session *s;             /* NULL once the session has ended */
	struct room *room;             /* waited on (BP_WAITING) */
	uint8_t cmd;                   /* enum core_cmd */
	uint8_t state;                 /* enum bp_op_state */
	uint8_t n;
	char name[CORE_ROOM_MAX + 1]; /* the room or nick it names, as given */
	char *text;                   /* its text or reason (tn bytes, malloc), or NULL */
	size_t tn;
	uint64_t epoch, since; /* a join's cursor */
	uint64_t tag;
	uint64_t seq, time_ms; /* a say's place, once published */
};

TAILQ_HEAD(bp_ops, core_bp_op);

/* Where a room stands with the backplane. */
enum bp_room_state {
	BP_ROOM_IDLE,    /* not followed (no backplane, or never joined here) */
	BP_ROOM_OPENING, /* follow() asked, its state not come yet */
	BP_ROOM_OPEN,    /* followed: its messages come in order */
};

struct session {
	char nick[CORE_NICK_MAX + 1]; /* as the user spelled it */
	char key[CORE_NICK_MAX + 1];  /* folded, the nick index's key */
	uint8_t nick_len;
	uint8_t registered;
	uint32_t nrooms;
	uint32_t caprooms;
	uint32_t mark; /* dedupes deliveries of one event across rooms */
	struct room **rooms;
	char *quit; /* the words its QUIT will carry (quit_len bytes), or NULL */
	uint8_t quit_len;
	const struct sink *sink;
	void *ctx;
	uint64_t id;             /* unique per process, never 0 */
	RB_ENTRY(session) tlink; /* in the users tree, while registered */
	struct bp_ops ops;       /* waiting on the backplane, or queued (bp.c) */
	uint8_t replaying;       /* running its queued commands */
	uint8_t draining;        /* on the core's drains list */
	uint8_t ghost;           /* a user of another node: ctx is its owner */
	LIST_ENTRY(session) dlink;
};

struct batch;

struct room {
	char name[CORE_ROOM_MAX + 1]; /* as its creator spelled it */
	char key[CORE_ROOM_MAX + 1];
	uint8_t name_len;
	uint32_t nmembers;
	uint32_t capmembers;
	uint32_t next_serial;     /* the serial the next member gets */
	struct session **members; /* in join order */
	uint32_t *serials;        /* members[i] was the serials[i]-th to join */
	struct history hist;
	uint64_t epoch;
	uint64_t seq;            /* last sequence number given out */
	uint64_t linger_until;   /* while empty: when it is freed */
	TAILQ_ENTRY(room) llink; /* its linger list, ordered by linger_until */
	uint64_t first_sid;      /* the first session that joined it */
	uint8_t shared;          /* a second session has joined it since */
	uint8_t llist;  /* which linger list it is on (enum linger_kind; LINGER_KINDS: none) */
	uint8_t bucket; /* size class of its history, 0 for none */
	LIST_ENTRY(room) blink; /* the rooms of its size class */
	RB_ENTRY(room) tlink;   /* in the tree of rooms with members */
	struct batch *batch;    /* presence events for its next summary, or NULL */
	char *topic;            /* topic_len bytes and a NUL (slab), or NULL: none */
	uint16_t topic_len;
	uint8_t topic_by_len;
	char topic_by[CORE_NICK_MAX + 1]; /* the nick that set it */
	uint64_t topic_ms;                /* when */
	uint8_t bp_state;                 /* enum bp_room_state */
	struct bp_ops waiters;            /* its joins and says waiting (bp.c) */
};

/* The presence events of a large room since its last summary. */
struct batch {
	LIST_ENTRY(batch) link;
	struct room *room;
	uint32_t joins;
	uint32_t leaves;
	uint16_t n;
	uint8_t omitted; /* more than CORE_SUMMARY_MAX events */
	struct pres *items[CORE_SUMMARY_MAX];
};

/* Empty rooms wait on one of two lists, each in the order they are due,
 * since each list's rooms wait for the same time. */
enum linger_kind {
	LINGER_SHARED, /* --room-linger */
	LINGER_SOLO,   /* --room-linger-solo: only one session ever used it */
	LINGER_KINDS,
};

TAILQ_HEAD(linger_list, room); /* due first at the head */

/* Size classes of history rings: class k > 0 holds the rooms whose
 * history takes [2^(k-1), 2^k) bytes, so the largest are found at once. */
#define CORE_BUCKETS 33

LIST_HEAD(room_list, room);
RB_HEAD(room_tree, room);
RB_HEAD(user_tree, session);
LIST_HEAD(batch_list, batch);
RB_PROTOTYPE(room_tree, room, tlink, room_cmp)
RB_PROTOTYPE(user_tree, session, tlink, user_cmp)

struct core {
	struct core_limits lim;
	struct room_tree active;   /* rooms with members, by folded name: LIST pages */
	struct user_tree users;    /* registered sessions, by folded nick: USERS pages */
	struct batch_list batches; /* rooms with a summary to deliver */
	struct hmap rooms;         /* folded name -> room, active and lingering */
	struct hmap nicks;         /* folded nick -> registered session */
	size_t active_rooms;
	uint64_t next_epoch;
	uint64_t last_event; /* the event id given out last */
	uint64_t messages;   /* messages accepted */
	struct core_tap taps[CORE_TAPS];
	unsigned ntaps;
	uint64_t next_sid;
	uint64_t now_ms;
	uint32_t mark;
	uint64_t work; /* deliveries made (core_work()) */
	struct linger_list linger[LINGER_KINDS];
	size_t hist_bytes;                      /* msg_size() of every ring's messages */
	struct room_list buckets[CORE_BUCKETS]; /* rooms by the size of their history */
	struct core_store store;                /* valid when has_store */
	int has_store;
	struct msg **older;       /* a join's replay from the store (CHATD_REPLAY_MAX) */
	struct core_backplane bp; /* valid when has_bp */
	int has_bp;
	/* Sessions whose queued commands may run again (bp.c): run once the
	 * backplane's call is over, never while a room is being walked. */
	LIST_HEAD(, session) drains;
	struct bp_ops lost; /* says whose outcome the next catch-up tells (BP_LOST) */
	size_t ghosts;      /* registered sessions that are other nodes' users */
};

/* core.c: linger, and the history budget. */
void linger_start(struct core *c, struct room *r);
void linger_unlink(struct core *c, struct room *r);
struct room *linger_first(const struct core *c);
void linger_free(struct core *c, struct room *r);
/* r's history changed from before bytes: count the difference. */
void hist_changed(struct core *c, struct room *r, uint32_t before);
/* Keep the history within its budget; keep, the room just written to,
 * keeps at least its newest message. */
void budget_enforce(struct core *c, const struct room *keep);

/* room.c */
/* The room of that name (validated, folded into key), active or
 * lingering, or NULL; *err says why when the name is invalid. */
struct room *room_lookup(const struct core *c, const char *name, size_t n, char *key, int *err);
void room_free(struct core *c, struct room *r);
/* Take s out of r (which it is in); r starts its linger if it empties. */
void member_remove(struct core *c, struct room *r, struct session *s);
/* Tell r's members (but skip) of p: at once, or in a summary. */
void room_tell(struct core *c, struct room *r, struct pres *p, const struct session *skip);
/* r is large enough for its presence to go by summaries. */
int room_batched(const struct core *c, const struct room *r);
/* Keep p for r's next summary. */
void room_batch_add(struct core *c, struct room *r, struct pres *p);

/* Keep m in r's ring, within the room's and the server's budgets. */
void hist_push(struct core *c, struct room *r, struct msg *m);
/* Deliver m, a message of r, to its members but the session whose id is
 * skip (its sender; 0: none), to the store and the taps, and keep it in the ring.
 * Returns the member skipped, or NULL (the sender is no longer in r). */
struct session *room_deliver(struct core *c, struct room *r, struct msg *m, uint64_t skip);
/* The part of a join after its checks, once the room can take it;
 * older[0, nolder), if any (the caller's array, its references taken
 * over), are the messages before the ring that the cursor needs. */
void join_finish(struct core *c, struct session *s, struct room *r, uint64_t epoch, uint64_t since,
                 uint64_t tag, struct msg **older, unsigned nolder);
int join_check(struct core *c, const struct session *s, const struct room *r);

/* bp.c: the backplane's side of the core. */
/* A command of s given while earlier ones wait: queue it (1) or not (0). */
int bp_defer(struct core *c, struct session *s, enum core_cmd cmd, const char *name, size_t n,
             const char *text, size_t tn, uint64_t epoch, uint64_t since, uint64_t tag);
/* Run a say through the backplane. */
void bp_say(struct core *c, struct session *s, struct room *r, const char *text, size_t tn,
            uint64_t tag);
/* A join of r, which is not open yet: wait for its state. */
void bp_join(struct core *c, struct session *s, struct room *r, uint64_t epoch, uint64_t since,
             uint64_t tag);
/* A join of r, open: at once, or (1) after the messages its cursor needs
 * from before the ring have come. */
int bp_join_older(struct core *c, struct session *s, struct room *r, uint64_t epoch, uint64_t since,
                  uint64_t tag);
/* The pieces bp.c's callers share: a command that waits, queued first in
 * its session (op_wait), and done (op_done: the next ones run). */
struct core_bp_op *op_new(struct session *s, enum core_cmd cmd, const char *name, size_t n,
                          const char *text, size_t tn, uint64_t tag);
void op_free(struct core_bp_op *op);
void op_wait(struct session *s, struct core_bp_op *op);
/* op was handed to the backplane, which said rc: 0, it waits (op_wait);
 * else it is refused at once with CORE_E_CLUSTER, naming arg[0, n). */
void op_sent(struct session *s, struct core_bp_op *op, int rc, const char *arg, size_t n);
void op_done(struct core *c, struct core_bp_op *op);
/* Run the queued commands that completions let go (the end of each call
 * from the backplane). */
void bp_drains_run(struct core *c);
/* s ends: forget its commands. */
void bp_session_end(struct core *c, struct session *s);
/* r is being freed: its waiters fail. */
void bp_room_free(struct core *c, struct room *r);

/* Tell the backplane what s, a user of this node, did (a no-op without
 * one, or for a ghost): text[0, tn) is the words it left with, or for a
 * rename (PRES_NICK) its old nick. */
void bp_present(struct core *c, const struct session *s, uint8_t kind, uint8_t reason,
                const struct room *r, const char *text, size_t tn);

/* room.c: s leaves r with the words reason[0, rn) (fitted), announced. */
void member_part(struct core *c, struct room *r, struct session *s, const char *reason, size_t rn);
/* Put s into r, and announce it to the others (join_finish's first half). */
void member_join(struct core *c, struct room *r, struct session *s);
int room_is_member(const struct session *s, const struct room *r);
/* Whether a command cmd waits on r (a join keeps r meanwhile, on no
 * linger list). */
int room_waits(const struct room *r, enum core_cmd cmd);
/* r's members of this node (not ghosts). */
uint32_t room_locals(const struct room *r);
/* The seq of r's ring's first message (r's next one when it is empty). */
uint64_t room_ring_first(const struct room *r);
struct room *room_get(struct core *c, const char *name, size_t n, const char *key, int stored_only,
                      int *err);

/* session.c: text a message may carry: 0, or why not. */
int core_text_check(const struct core *c, const char *text, size_t n);
/* The bytes of text[0, n) a part or quit reason keeps (see core.h). */
size_t core_reason_fit(const char *text, size_t n);
/* Give s (registered or not) the checked nick[0, n), in the index. */
void nick_set(struct core *c, struct session *s, const char *nick, size_t n);
/* s, registered, takes the checked nick: announced to it and its rooms. */
void nick_rename(struct core *c, struct session *s, const char *nick, size_t n);

/* ghost.c: a ghost holding nick here is of a user whose leaving has not
 * come yet (the cluster gave the nick away): it quits now.  1 when no
 * session here holds nick now, 0 when one of this node's does. */
int ghost_evict(struct core *c, const char *nick, size_t n);

/* A reply for cmd with tag, naming arg[0, n). */
void reply_init(struct core_reply *r, enum core_cmd cmd, uint64_t tag, const char *arg, size_t n);

/* Complete a command of s. */
static inline void
session_done(struct session *s, const struct core_reply *r)
{
	s->sink->done(s->ctx, r);
}

/* The next event id: one counter orders messages and presence alike. */
static inline uint64_t
core_event_id(struct core *c)
{
	return ++c->last_event;
}

/* Give a new presence event its id. */
static inline struct pres *
core_stamp(struct core *c, struct pres *p)
{
	p->id = core_event_id(c);
	return p;
}

#endif
