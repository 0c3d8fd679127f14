/*
 * The chat core: sessions, rooms, membership, the nick index, history and
 * the commands that act on them.  It knows nothing of sockets or wire
 * bytes, and speaks its own vocabulary (core/vocab.h), which each front end
 * maps to its wire.
 *
 * The asynchronous edge.  A command is accepted when it is called and
 * completed through its session's sink: sink->done() receives the outcome
 * with the tag the caller gave (a request's reference, say).  The core
 * held in memory completes every command before the call returns, so
 * today this costs one indirect call; a store or a backplane that sits
 * between "accepted" and "delivered" completes later, and the front ends,
 * written against completions, do not change.  Completions of one
 * session come in the order its commands were given.  A session that ends
 * is sent no completion after core_session_end().
 */
#ifndef CHATD_CORE_H
#define CHATD_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/history.h"
#include "core/msg.h"
#include "core/pres.h"
#include "core/vocab.h"

struct core;
struct room;
struct session;

/* Budgets the core enforces; zero means "no limit" where noted. */
struct core_limits {
	unsigned history_len;     /* ring size of every room; a change resizes them all */
	uint64_t room_linger_ms;  /* how long an empty room keeps its history */
	unsigned max_text;        /* bytes of message text */
	unsigned max_rooms;       /* rooms one session may be in (0: no limit) */
	unsigned max_members;     /* members one room may have (0: no limit) */
	unsigned max_rooms_total; /* rooms, active and lingering (0: no limit) */
	/* Bytes of every room's history, messages and their renderings (0: no
	 * limit); past it, lingering rooms go first, then the largest rings
	 * lose their oldest messages. */
	size_t history_bytes;
	uint32_t room_history_bytes;  /* bytes of one room's messages (0: no limit) */
	uint64_t room_linger_solo_ms; /* linger of a room only one session ever joined */
	/* Rooms with more members than this hear of joins, parts, quits, drops
	 * and nick changes in a summary once a second (core_presence_flush),
	 * not one event each (0: never). */
	unsigned presence_batch;
};

/* The commands, as a completion names them. */
enum core_cmd {
	CMD_HELLO,
	CMD_NICK,
	CMD_JOIN,
	CMD_PART,
	CMD_SAY,
	CMD_DIRECT,
	CMD_TOPIC,
};

/* What a successful join gives the joiner's front end: the replay is
 * hist_count messages, core_joined_msg(j, 0) to (j, hist_count - 1). */
struct core_joined {
	struct room *room;
	uint64_t epoch;
	uint64_t last_seq;
	uint32_t members;
	unsigned hist_from;  /* first history index to replay */
	unsigned hist_count; /* how many to replay, the older ones included */
	uint8_t flags;       /* CORE_HIST_* */
	/* Messages from the store that precede the ring's part of the replay
	 * (a cursor older than the ring), borrowed for the completion. */
	struct msg **older;
	unsigned nolder;
};

/* The i-th message of a join's replay, oldest first. */
struct msg *core_joined_msg(const struct core_joined *j, unsigned i);

/* What a sender learns of its accepted message. */
struct core_ack {
	uint64_t seq; /* 0 for direct messages */
	uint64_t time_ms;
};

/* The outcome of a command, handed to sink->done(). */
struct core_reply {
	uint8_t cmd;  /* enum core_cmd */
	int err;      /* CORE_OK or an enum core_err */
	uint64_t tag; /* as the caller gave it */
	/* What the command named (nick, room), as given, for the words of an
	 * error; a room that exists is named as its creator spelled it. */
	char arg[CORE_ROOM_MAX + 1];
	uint8_t arg_len;
	struct core_ack ack;       /* CMD_SAY, CMD_DIRECT */
	struct msg *msg;           /* CMD_SAY, CMD_DIRECT: the message, borrowed */
	struct core_joined joined; /* CMD_JOIN */
};

/*
 * How the core reaches one session: its events (messages, presence) and
 * the completions of its commands.  Called from inside core commands,
 * possibly while the core iterates a room: a sink must not call back into
 * the core, and must not free its session.
 */
struct sink {
	void (*message)(void *ctx, struct msg *m);
	void (*presence)(void *ctx, struct pres *p);
	void (*done)(void *ctx, const struct core_reply *r);
	/* Optional: on 1, a command of the session waits on the backplane and
	 * the ones given meanwhile are queued (the front end should stop
	 * reading its client); on 0, all are done. */
	void (*busy)(void *ctx, int on);
};

/*
 * An observer of every room message, called once the message has its
 * place in the room's sequence and before its members hear it: a long
 * poll waiting on a room, later a store or a backplane.  Like a sink, it
 * must not call back into the core.
 */
#define CORE_TAPS 4
struct core_tap {
	void (*message)(void *arg, struct room *r, struct msg *m);
	void *arg;
};
void core_add_tap(struct core *c, const struct core_tap *t);

/* A room as a store holds it. */
struct core_stored_room {
	char name[CORE_ROOM_MAX + 1]; /* as its creator spelled it */
	uint8_t name_len;
	uint64_t epoch;
	uint64_t seq; /* the last sequence number it gave out */
	/* Its topic (topic_len 0: none), who set it and when (unix ms). */
	char topic[CORE_TOPIC_MAX];
	uint16_t topic_len;
	char topic_by[CORE_NICK_MAX + 1];
	uint8_t topic_by_len;
	uint64_t topic_ms;
};

/*
 * A durable store under the core (store/store.h builds one): rooms come
 * back from it after a restart, and every room message goes into it.  The
 * core calls it from inside commands; like a sink, it must not call back
 * into the core.  Without one, the rings are all the history there is.
 */
struct core_store {
	/* The room of folded key: 1 with *out filled, 0 when the store has
	 * none, -1 when it cannot tell now. */
	int (*room_load)(void *arg, const char *key, size_t n, struct core_stored_room *out);
	/* The newest max messages of that room and epoch with after < seq <
	 * before (with oldest set: the oldest max), oldest first, into out
	 * (a reference each, the caller's); returns how many, or -1. */
	int (*range)(void *arg, const char *key, size_t n, uint64_t epoch, uint64_t after,
	             uint64_t before, struct msg **out, unsigned max, int oldest);
	/* Keep m, a message of r, in the transaction of this loop turn. */
	void (*message)(void *arg, const struct room *r, struct msg *m);
	/* Keep r's topic (room_topic()) in the transaction of this loop turn,
	 * ordered with its messages. */
	void (*topic)(void *arg, const struct room *r);
	/* Whether it takes messages now (a failed write makes it refuse them
	 * until it has written again). */
	int (*writable)(void *arg);
	void *arg;
};
/* Put store under the core (before any room exists); NULL: none. */
void core_set_store(struct core *c, const struct core_store *store);

/*
 * A backplane under the core (cluster/node.c builds one): several chatd
 * processes share their rooms through it.  With one, a room's messages
 * are numbered by the backplane, not the core.  core_say hands a message
 * over (publish) and completes when it comes back numbered
 * (core_bp_published) and the room has delivered up to it; every room
 * message, this node's own included, reaches the members through
 * core_bp_message in sequence order.  A room is followed from its first
 * join on: follow() asks for its state, which core_bp_state() gives (and
 * gives again after a reconnect or a gap, to catch up); the join waits
 * for it.  Like a store, it must not call back into the core from a hook.
 */
struct core_bp_op; /* a command waiting on the backplane, the core's */
struct core_bp_msg {
	uint64_t seq;
	uint64_t time_ms;
	uint64_t epoch;
	const char *from;
	size_t from_len;
	const char *text;
	size_t text_len;
	uint64_t sid; /* the sending session, when this node sent it; else 0 */
};
/* What a user of this node did, as the backplane's present() hears it. */
struct core_bp_presence {
	uint8_t kind;            /* PRES_JOIN, _PART, _QUIT, _DROP, _NICK; 0: s registered */
	uint8_t reason;          /* DROP: why (enum core_reason) */
	const struct room *room; /* JOIN, PART */
	const char *old;         /* NICK: the name s had */
	size_t old_len;
	const char *text; /* PART, QUIT: the words s left with */
	size_t text_len;
};
struct core_backplane {
	/* Number, keep and publish text from s in r: 0 when sent, and
	 * core_bp_published(op) follows exactly once; -1 when r's shard
	 * cannot be reached now. */
	int (*publish)(void *arg, const struct room *r, const struct session *s, const char *text,
	               size_t tn, struct core_bp_op *op);
	/* Follow r (its folded name: room_key()): 0, and core_bp_state()
	 * or core_bp_failed() follows; -1 when r's shard is down.  The
	 * backplane asks for the state again by itself when it reconnects,
	 * and when core_bp_message() or core_bp_state() says so. */
	int (*follow)(void *arg, const struct room *r);
	/* Claim nick[0, n) across the cluster: 0, and core_bp_claimed(op)
	 * follows; -1 when it cannot be asked now. */
	int (*claim)(void *arg, const char *nick, size_t n, struct core_bp_op *op);
	/* Let nick go: its session ended or took another. */
	void (*release)(void *arg, const char *nick, size_t n);
	/* Send a direct message from s to nick, whom no session here holds:
	 * 0, and core_bp_directed(op) follows; -1 when it cannot be sent. */
	int (*direct)(void *arg, const struct session *s, const char *nick, size_t n,
	              const char *text, size_t tn, struct core_bp_op *op);
	/* Optional: the newest max messages of r (open) with after < seq <
	 * before, for a join whose cursor is older than the ring: 0, and
	 * core_bp_ranged(op) follows exactly once; -1 when it cannot be asked. */
	int (*range)(void *arg, const struct room *r, uint64_t after, uint64_t before, unsigned max,
	             struct core_bp_op *op);
	/* Optional: r, followed, is being freed (its linger ran out): stop
	 * following it.  A join later follows it again. */
	void (*unfollow)(void *arg, const struct room *r);
	/* Optional: what this node's users do, for the other nodes to show
	 * (their /who, NAMES and /users).  Called after the core has acted;
	 * s is as it is now (its new nick, its rooms); never for a ghost. */
	void (*present)(void *arg, const struct session *s, const struct core_bp_presence *e);
	void *arg;
};
/* Put bp under the core, before any room exists (a store and a backplane
 * do not go together). */
void core_set_backplane(struct core *c, const struct core_backplane *bp);
/* The outcome of a publish: err 0 and m numbered, or CORE_E_CLUSTER. */
void core_bp_published(struct core *c, struct core_bp_op *op, int err, uint64_t seq,
                       uint64_t time_ms, uint64_t epoch);
/* The link dropped after op's publish was sent: Redis may or may not
 * have run it.  The room's next catch-up tells: the message is there
 * (its ACK goes) or not (CORE_E_CLUSTER); CORE_BP_LOST_MS at most. */
#define CORE_BP_LOST_MS 5000
void core_bp_publish_lost(struct core *c, struct core_bp_op *op);
/* Once a second: says lost longer than CORE_BP_LOST_MS are refused. */
void core_bp_expire(struct core *c);
/* A message of the room of folded key[0, n) came.  Returns 1 when it
 * comes after a gap (or from another epoch): it was not delivered, and
 * the backplane should refresh the room's state. */
int core_bp_message(struct core *c, const char *key, size_t n, const struct core_bp_msg *m);
/*
 * The state of that room: its epoch, last seq, and messages msgs[0,
 * count), oldest first: its newest for a room opening, those after
 * `after` (what core_bp_after() gave when it was asked) for one open.  An
 * opening room opens (its joins go on); an open one delivers what it
 * missed.  Returns 1 when the backplane should ask again (more to catch
 * up, or the room starts over).
 */
int core_bp_state(struct core *c, const char *key, size_t n, uint64_t epoch, uint64_t seq,
                  uint64_t after, const struct core_bp_msg *msgs, unsigned count);
/* Where the state of that room is wanted from: *want 1 for a room
 * opening (its newest messages), 2 for one open (those after the seq
 * returned, from its first when 0), 0 when the core does not follow it. */
uint64_t core_bp_after(const struct core *c, const char *key, size_t n, int *want);
/* The outcome of a range: msgs[0, count), oldest first (count 0 when it
 * failed: the join goes on without them, its replay truncated). */
void core_bp_ranged(struct core *c, struct core_bp_op *op, const struct core_bp_msg *msgs,
                    unsigned count);
/* The room's state could not be had: its waiting joins fail. */
void core_bp_failed(struct core *c, const char *key, size_t n);
/* A claim's outcome: 1 the nick is this node's, 0 another node holds
 * it, -1 it could not be asked. */
void core_bp_claimed(struct core *c, struct core_bp_op *op, int rc);
/* A direct message's outcome: 1 sent (at time_ms), 0 no node holds the
 * nick, -1 not sent. */
void core_bp_directed(struct core *c, struct core_bp_op *op, int rc, uint64_t time_ms);
/* A direct message from another node for the user with nick to. */
void core_bp_inbox(struct core *c, const char *to, size_t tn, const char *from, size_t fn,
                   const char *text, size_t xn, uint64_t time_ms);
/*
 * Ghosts: the users of other nodes, as sessions of this core that no
 * connection serves, so that /who, NAMES, member counts, join replies
 * and /users name them like anyone (the model of IRC's server-to-server
 * links).  The backplane makes them from what the other nodes publish
 * (present() there); their joins, parts, renames and ends are announced
 * to this node's members as any user's, and they send nothing here (their
 * messages come numbered through their rooms).  A ghost ends with
 * core_session_end().  owner, never NULL, is the backplane's (its node).
 */
/* A ghost with nick, registered here: NULL when a session here holds the
 * nick, or it is not a nick. */
struct session *core_ghost_new(struct core *c, void *owner, const char *nick, size_t n);
/* The ghost joins, parts (with the words it left with) or takes another
 * nick: 0, or -1 when it cannot (a name not valid, a room it is in or
 * not in, a nick a session here holds). */
int core_ghost_join(struct core *c, struct session *g, const char *room, size_t n);
int core_ghost_part(struct core *c, struct session *g, const char *room, size_t n,
                    const char *reason, size_t rn);
int core_ghost_rename(struct core *c, struct session *g, const char *nick, size_t n);
/* Ghosts registered (core_user_count() counts them too). */
size_t core_ghost_count(const struct core *c);
/* The owner of ghost s; NULL when s is a session of this node. */
void *core_ghost_owner(const struct session *s);

/* Rooms followed (for refreshing them all when a shard comes back). */
struct room *core_bp_room_next(const struct core *c, size_t *pos);

/* epoch_seed: the first room epoch; later rooms count up from it.  A value
 * derived from the start time makes epochs differ across restarts. */
struct core *core_new(const struct core_limits *lim, uint64_t epoch_seed);
/* Free the core and every room; all sessions must have ended. */
void core_free(struct core *c);
void core_set_limits(struct core *c, const struct core_limits *lim);
/* Set the clock used for message times and room linger (unix ms). */
void core_set_time(struct core *c, uint64_t now_ms);

struct session *core_session_new(struct core *c, const struct sink *sink, void *ctx);
/*
 * End a session: leave every room, announcing kind (PRES_QUIT, or
 * PRES_DROP with reason) to the rooms unless kind is 0, release the nick
 * and free the session.
 */
void core_session_end(struct core *c, struct session *s, uint8_t kind, uint8_t reason);
/* The words s's QUIT will carry to its rooms when its session ends with
 * PRES_QUIT (checked and cut as a part's reason; n 0: none). */
void core_quit_reason(struct session *s, const char *text, size_t n);

/* The commands; each completes through s's sink with tag (see above). */
void core_hello(struct core *c, struct session *s, const char *nick, size_t n, uint64_t tag);
void core_nick(struct core *c, struct session *s, const char *nick, size_t n, uint64_t tag);
void core_join(struct core *c, struct session *s, const char *room, size_t n, uint64_t epoch,
               uint64_t since, uint64_t tag);
/* Leave a room; reason[0, rn), the words the user leaves with (rn 0:
 * none), is carried to the members with the PART.  A reason is text like
 * a message's (UTF-8 without NUL; what is not is dropped, and the part
 * goes on without it), cut to CORE_REASON_MAX bytes between characters. */
void core_part(struct core *c, struct session *s, const char *room, size_t n, const char *reason,
               size_t rn, uint64_t tag);
void core_say(struct core *c, struct session *s, const char *room, size_t n, const char *text,
              size_t tn, uint64_t tag);
void core_direct(struct core *c, struct session *s, const char *nick, size_t n, const char *text,
                 size_t tn, uint64_t tag);
/*
 * Set the topic of a room s is in to text[0, tn) (tn 0: clear it).  A
 * topic is one line of UTF-8 (valid_line(): no control characters but
 * IRC's formatting codes) of at
 * most CORE_TOPIC_MAX bytes; refused with CORE_E_NOT_IN_ROOM,
 * CORE_E_TEXT_INVALID, CORE_E_TEXT_TOO_LONG, or CORE_E_STORE while the
 * store refuses messages (a topic is kept with the room, as durable as
 * its messages).  Every member, s included, hears a PRES_TOPIC event
 * (nick: the setter, text: the topic) at once, whatever the room's size,
 * before s's completion.
 */
void core_topic(struct core *c, struct session *s, const char *room, size_t n, const char *text,
                size_t tn, uint64_t tag);

/* A room with at least one member, or NULL. */
struct room *core_room_find(const struct core *c, const char *name, size_t n);
/* A room with members or lingering with its history, or NULL. */
struct room *core_room_lookup(const struct core *c, const char *name, size_t n);
/* As core_room_lookup, and a room only the store has is read back (as a
 * lingering room), for a reader that is not a member: NULL with *err 0
 * when there is none, CORE_E_STORE or CORE_E_ROOM_LIMIT when it cannot be
 * had now. */
struct room *core_room_open(struct core *c, const char *name, size_t n, int *err);
/* r's topic: its bytes (*n 0 and "" when it has none), and who set it
 * (NUL-terminated; "" when none) and when (unix ms; 0 when none); setter
 * and time_ms may be NULL.  Valid until r's topic changes: a join's
 * completion reads it from j->room to show the joiner the topic. */
const char *room_topic(const struct room *r, size_t *n, const char **setter, uint64_t *time_ms);
/* The room's current epoch and last sequence number. */
uint64_t room_epoch(const struct room *r);
uint64_t room_last_seq(const struct room *r);
/* Whether s is a member of r. */
int room_has_member(const struct room *r, const struct session *s);
/*
 * Paging back: the newest limit messages of r with seq < before (0: all
 * of them), oldest first, into out (a reference each, the caller's): from
 * the ring, then from the store for what is older.  *more says whether
 * older ones remain.  Returns how many, or -1 when the store cannot say.
 */
#define CORE_PAGE_MAX 100
int core_history_before(struct core *c, const struct room *r, uint64_t before, unsigned limit,
                        struct msg **out, int *more);
/* Reading forward: the oldest limit messages of r with seq > after,
 * oldest first, into out (a reference each), from the store where the
 * ring has let them go; *truncated says whether some after it are gone
 * for good.  Returns how many, or -1 when the store cannot say. */
int core_history_after(struct core *c, const struct room *r, uint64_t after, unsigned limit,
                       struct msg **out, int *truncated);
/* Messages accepted, room and direct. */
uint64_t core_message_count(const struct core *c);
/* Listings a page at a time: up to max rooms with members / registered
 * sessions whose folded name sorts after key (NULL: from the first), in
 * that order; returns how many.  A listing resumed from the last key it
 * gave names everyone present throughout exactly once. */
size_t core_rooms_after(struct core *c, const char *key, struct room **out, size_t max);
size_t core_users_after(struct core *c, const char *key, struct session **out, size_t max);
/* The registered session with that nick (any case), or NULL. */
struct session *core_user_find(const struct core *c, const char *nick, size_t n);
size_t core_room_count(const struct core *c); /* active rooms */
size_t core_room_total(const struct core *c); /* active and lingering rooms */
size_t core_user_count(const struct core *c); /* registered sessions */
/* Bytes of history held (messages and their renderings). */
size_t core_history_bytes(const struct core *c);
/* Keep history within its budget: called after anything that may have
 * grown it (a join's replay renders), and by the core itself on a push. */
void core_history_budget(struct core *c);
/* Deliver the summaries of the large rooms' presence events gathered since
 * the last call; the server calls it once a second while
 * core_presence_pending() says there are any. */
void core_presence_flush(struct core *c);
int core_presence_pending(const struct core *c);
/* Free rooms whose linger has passed; returns ms until the next one is
 * due, or 0 when no room is lingering. */
uint64_t core_expire(struct core *c);
/* Deliveries made so far (messages and events to members, history
 * messages replayed): the work commands caused, which the connection
 * layer bounds per client and loop turn. */
uint64_t core_work(const struct core *c);
/* The limit behind a refusal in words, "the limit is 64 rooms
 * (max-rooms)", into buf; NULL when err is not a limit's refusal. */
const char *core_limit_text(const struct core *c, int err, char *buf, size_t n);

const char *session_nick(const struct session *s);
size_t session_nick_len(const struct session *s);
int session_registered(const struct session *s);
/* A number for s, unique in this process and never 0. */
uint64_t session_id(const struct session *s);
/* The ctx s was made with (core_session_new) when its sink is sink, else
 * NULL: how a front end finds its own connection behind a member, and
 * knows a member it does not serve from one it does. */
void *session_ctx(const struct session *s, const struct sink *sink);
/* The rooms s is in, in the order it joined them. */
unsigned session_room_count(const struct session *s);
struct room *session_room(const struct session *s, unsigned i);
/* The folded nick a users listing pages by. */
const char *session_key(const struct session *s);

const char *room_name(const struct room *r);
size_t room_name_len(const struct room *r);
uint32_t room_member_count(const struct room *r);
struct session *room_member(const struct room *r, uint32_t i);
const struct history *room_history(const struct room *r);
/* The folded name a rooms listing pages by. */
const char *room_key(const struct room *r);
/* Up to max members of r who joined after the serial-th join (0: from the
 * first), in join order; *last gets the serial of the last one given, to
 * resume from.  Members present throughout are each given exactly once. */
size_t room_members_after(const struct room *r, uint32_t serial, struct session **out, size_t max,
                          uint32_t *last);
/* The serial of the newest member (0 when empty). */
uint32_t room_last_serial(const struct room *r);

#endif
