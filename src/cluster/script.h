/*
 * The backplane's operations on Redis, each one atomic on its shard:
 * the room publish step (a Lua script: next sequence number, append to
 * the room's capped stream, publish to the other nodes), the nick lease
 * (claim, renew and release, the last two only by the holder) and the
 * node heartbeat.  Scripts run by EVALSHA and fall back to EVAL when
 * Redis answers NOSCRIPT (its script cache is empty after a restart or a
 * SCRIPT FLUSH).  docs/cluster.md gives the keys and the timings.
 */
#ifndef CHATD_CLUSTER_SCRIPT_H
#define CHATD_CLUSTER_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

struct redis_link;
struct redisReply;

#define SCRIPT_STREAM_MAX 10000u /* entries a room's stream keeps, about (MAXLEN ~) */
/* ms a nick claim lasts unless renewed (every third of it): the nicks of
 * a node that died are free again within this. */
#define SCRIPT_NICK_LEASE 10000u
/* ms a node's heartbeat lasts, renewed every SCRIPT_NODE_BEAT_MS: a node
 * that stops is taken for lost within TTL + BEAT. */
#define SCRIPT_NODE_TTL     6000u
#define SCRIPT_NODE_BEAT_MS 2000u
#define SCRIPT_PAYLOAD_MAX  (128u + 64u + 65535u) /* a published message, at most */

/* A room message as the publish step returns it and the channel carries it. */
struct script_msg {
	uint64_t seq;
	uint64_t time_ms; /* Redis's clock (TIME), unix ms */
	uint64_t epoch;
	const char *from; /* not NUL-terminated; points into the reply or payload */
	size_t from_len;
	const char *text;
	size_t text_len;
	uint64_t origin; /* the incarnation of the node that sent it (0: unknown) */
	uint64_t sid;    /* its session there */
};

/* A room's state as the state script gives it: messages oldest first,
 * pointing into the reply (valid during the callback). */
struct script_state {
	uint64_t seq;
	uint64_t epoch;
	unsigned count;
	struct script_msg *msgs;
};

/* The publish step's completion: 0 with m filled (its from and text are
 * the caller's, given back), -1 with why (Redis refused: nothing written),
 * or -2 (the link dropped before the reply: Redis may have run it). */
typedef void script_publish_fn(int rc, const struct script_msg *m, const char *why, void *arg);
/* The state step's completion: 0 with st, or -1 with why. */
typedef void script_state_fn(int rc, const struct script_state *st, const char *why, void *arg);
/* A direct message's completion: 1 delivered to the inbox of the node
 * holding the nick, 0 no node holds it, -1 failed (why); time_ms: Redis's. */
typedef void script_direct_fn(int rc, uint64_t time_ms, const char *why, void *arg);
/* A direct message as an inbox channel carries it, "TIME FROMLEN TOLEN
 * FROM TO TEXT"; the strings point into the payload. */
struct script_direct {
	uint64_t time_ms;
	const char *from, *to, *text;
	size_t from_len, to_len, text_len;
};
#define SCRIPT_RENEW_BATCH 500 /* nicks one renew call extends, at most */
/* A nick or heartbeat operation's completion: 1 done, 0 not (the nick is
 * another node's), -1 failed (why). */
typedef void script_done_fn(int rc, const char *why, void *arg);

/* Send SCRIPT LOAD for every script (from a redis_ready_fn, so that they
 * are cached before the first EVALSHA). */
void script_load_all(struct redis_link *l);

/*
 * The publish step on folded room name[0, n) of the room's shard: INCR
 * its sequence, XADD {seq, time, from, text, epoch} to its stream with ID
 * SEQ-0 (MAXLEN ~ stream_max), PUBLISH the payload on its channel.  The
 * room's epoch is set to epoch the first time and kept after that; the
 * one in force comes back.  0 when sent, -1 when the link is not up (the
 * caller says "cluster unavailable").  The script copies its arguments.
 */
int script_publish(struct redis_link *l, const char *room, size_t n, uint64_t epoch,
                   const char *from, size_t from_len, const char *text, size_t text_len,
                   unsigned stream_max, uint64_t origin, uint64_t sid, script_publish_fn *cb,
                   void *arg);
/*
 * A room's state on its shard: its seq and epoch (set to epoch when it
 * has none yet), and messages of its stream, oldest first: the newest
 * count (newest), else the first count with seq > after.
 */
int script_state(struct redis_link *l, const char *room, size_t n, uint64_t epoch, int newest,
                 uint64_t after, unsigned count, script_state_fn *cb, void *arg);

/* The newest count messages of a room's stream with after < seq < before,
 * oldest first, as a state (its epoch: the room's, or 0 when it has none):
 * what a join's cursor needs from before the ring. */
int script_range(struct redis_link *l, const char *room, size_t n, uint64_t after, uint64_t before,
                 unsigned count, script_state_fn *cb, void *arg);

/* SET the nick's key to node with a lease of lease_ms, if no one holds it
 * or node does (a node restarted under its name takes back its users'
 * nicks; two sessions of one node are told apart by the node itself):
 * 1 claimed, 0 held by another node. */
int script_nick_claim(struct redis_link *l, const char *nick, size_t n, const char *node,
                      unsigned lease_ms, script_done_fn *cb, void *arg);
/* Extend the lease only if node still holds it (a compare-and-PEXPIRE). */
int script_nick_renew(struct redis_link *l, const char *nick, size_t n, const char *node,
                      unsigned lease_ms, script_done_fn *cb, void *arg);
/* Release the nick only if node holds it (a compare-and-DEL). */
int script_nick_release(struct redis_link *l, const char *nick, size_t n, const char *node,
                        script_done_fn *cb, void *arg);
/* Extend by lease_ms each of the n nicks that node holds (one call for
 * up to SCRIPT_RENEW_BATCH of them); done hears how many (rc > 0). */
int script_nick_renew_many(struct redis_link *l, const char *const *nicks, const size_t *lens,
                           unsigned n, const char *node, unsigned lease_ms, script_done_fn *cb,
                           void *arg);
/* Send a direct message to the node holding nick to (on its inbox
 * channel, inbox followed by the node's name). */
int script_direct(struct redis_link *l, const char *to, size_t to_len, const char *inbox,
                  const char *from, size_t from_len, const char *text, size_t text_len,
                  script_direct_fn *cb, void *arg);
/* Parse an inbox payload; 0 or -1. */
int script_inbox_parse(const char *p, size_t n, struct script_direct *d);

/*
 * Presence: each node's users and their rooms in a hash of the node's
 * (nick -> room names, space-separated; "@inc" the incarnation that
 * wrote it, "@v" its version), on the nick shard, and every change
 * published on SCRIPT_PRES_CHANNEL as "NODE INC VERSION EVENT" (see
 * struct script_pres), so that a node that read a hash knows which of
 * the changes it hears the hash already held.  Nodes are in
 * SCRIPT_NODES_KEY while their heartbeat (SHARD_NODE) lasts.
 */
#define SCRIPT_PRES_CHANNEL "chatd:presence"
#define SCRIPT_NODES_KEY    "chatd:nodes"
#define SCRIPT_PRES_OPS     6 /* the words of two changes to a hash */
/* A raw reply: r NULL with why when there is none. */
typedef void script_reply_fn(const struct redisReply *r, const char *why, void *arg);
/* A change of node's presence: body is the event; ops[0, nops) are
 * triplets, "S" field value to set, "D" field "" to delete.  done hears 1,
 * or 0 when the hash is not incarnation inc's (write it again whole). */
int script_pres_event(struct redis_link *l, const char *node, const char *inc, const char *body,
                      size_t blen, const char *const *ops, const size_t *oplen, unsigned nops,
                      script_done_fn *cb, void *arg);
/* Write node's hash whole (kv[0, nkv): field, value, ...) at version 1,
 * beat, and publish R: the others read it. */
int script_pres_reset(struct redis_link *l, const char *node, const char *inc, unsigned ttl_ms,
                      const char *const *kv, const size_t *kvlen, unsigned nkv, script_done_fn *cb,
                      void *arg);
/* The heartbeat, for ttl_ms: done hears 1, or 0 when node's hash is not
 * inc's (it was taken for lost: write it again whole). */
int script_node_beat(struct redis_link *l, const char *node, const char *inc, unsigned ttl_ms,
                     script_done_fn *cb, void *arg);
/* The nodes alive, {name, incarnation, ...}; those whose heartbeat ran
 * out are taken for lost on the way (their hashes deleted, L published for
 * each; their nicks go with their leases). */
int script_nodes_check(struct redis_link *l, script_reply_fn *cb, void *arg);
/* node's hash (HGETALL). */
int script_pres_read(struct redis_link *l, const char *node, script_reply_fn *cb, void *arg);
/* A node stopping: its hash, heartbeat and place go; B is published. */
int script_node_bye(struct redis_link *l, const char *node, const char *inc, script_done_fn *cb,
                    void *arg);

/* A presence event: "NODE INC VERSION K ...", K one of
 *   H NICK              registered       J NICK ROOM   joined
 *   P NICK ROOM TEXT    parted           N NICK NEW    renamed
 *   Q NICK REASON TEXT  left the server (REASON 0: quit, else a drop's)
 *   R  read its hash    B  stopped       L  lost (its heartbeat ran out)
 * (TEXT, after one space, runs to the end and may be empty). */
struct script_pres {
	const char *node, *nick, *arg, *text;
	size_t node_len, nick_len, arg_len, text_len;
	uint64_t inc, version, reason;
	char kind;
};
/* Parse a presence event; 0 with e pointing into p, or -1. */
int script_pres_parse(const char *p, size_t n, struct script_pres *e);

/* Parse a payload from a room channel, "SEQ TIME EPOCH ORIGIN SID FROMLEN
 * FROM TEXT"
 * (the numbers decimal, one space after each field but the last two);
 * 0 with m pointing into p, or -1. */
int script_payload_parse(const char *p, size_t n, struct script_msg *m);

#endif
