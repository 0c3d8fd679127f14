/*
 * Which Redis shard holds a room, and the names of the keys and channels
 * chatd keeps there (docs/cluster.md, "Keys").  Pure: every node must
 * compute the same answers, so nothing here is keyed per process.
 */
#ifndef CHATD_CLUSTER_SHARD_H
#define CHATD_CLUSTER_SHARD_H

#include <stddef.h>
#include <stdint.h>

/* The longest key or channel name shard_key() writes, with its NUL. */
#define SHARD_KEY_MAX 192

/* The kinds of name shard_key() builds. */
enum shard_kind {
	SHARD_ROOM_SEQ,     /* string: the room's last sequence number */
	SHARD_ROOM_LOG,     /* stream: the room's capped history, entry ID SEQ-0 */
	SHARD_ROOM_EPOCH,   /* string: the room's epoch, set once */
	SHARD_ROOM_CHANNEL, /* pub/sub channel: each message, as a payload */
	SHARD_NICK,         /* string: the node that holds the nick, with a lease */
	SHARD_NODE,         /* string: a node's heartbeat, with a TTL */
	SHARD_PRES,         /* hash: a node's users and their rooms */
};

/* The 64-bit hash of a folded name that places it: SipHash-2-4 under a
 * fixed, published key (the same on every node and every run). */
uint64_t shard_hash(const char *folded, size_t n);
/* The shard in [0, nshards) of folded name folded[0, n): Lamping and
 * Veach's jump consistent hash of shard_hash(), so that adding a shard
 * moves only about 1/(N+1) of the rooms.  nshards must be at least 1. */
unsigned shard_of(const char *folded, size_t n, unsigned nshards);
/* Write the key or channel of kind for folded name[0, n) into buf (at
 * least SHARD_KEY_MAX bytes); returns its length, or -1 when name is too
 * long for it. */
int shard_key(char *buf, size_t size, enum shard_kind kind, const char *name, size_t n);

#endif
