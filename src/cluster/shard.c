/*
 * Room placement and key names (shard.h).  The hash must be stable across
 * nodes, versions and runs, so it is SipHash-2-4 under the fixed key
 * "chatd-cluster-v1": unlike the per-process keys of the hash maps
 * (util/hmap.c), it does not hide placement from a client, who may pick
 * room names that land on one shard; that costs no more than the same
 * traffic in one room, which the per-node budgets already bound.
 */
#include "cluster/shard.h"

#include <stdio.h>
#include <string.h>

#include "util/hmap.h"

static const uint8_t shard_hash_key[16] = {'c', 'h', 'a', 't', 'd', '-', 'c', 'l',
                                           'u', 's', 't', 'e', 'r', '-', 'v', '1'};

uint64_t
shard_hash(const char *folded, size_t n)
{
	return hmap_siphash(shard_hash_key, folded, n, 2, 4);
}

/* Jump consistent hash (Lamping, Veach, 2014, arXiv:1406.2294). */
unsigned
shard_of(const char *folded, size_t n, unsigned nshards)
{
	uint64_t key = shard_hash(folded, n);
	int64_t b = -1, j = 0;

	while (j < (int64_t)nshards) {
		b = j;
		key = key * 2862933555777941757ull + 1;
		j = (int64_t)((double)(b + 1) * ((double)(1ll << 31) / (double)((key >> 33) + 1)));
	}
	return (unsigned)b;
}

int
shard_key(char *buf, size_t size, enum shard_kind kind, const char *name, size_t n)
{
	/* The braces are a Redis Cluster hash tag: a room's keys would share
	 * a slot there too, as its script needs. */
	static const struct {
		const char *prefix, *suffix;
	} part[] = {
	        [SHARD_ROOM_SEQ] = {"chatd:room:{", "}:seq"},
	        [SHARD_ROOM_LOG] = {"chatd:room:{", "}:log"},
	        [SHARD_ROOM_EPOCH] = {"chatd:room:{", "}:epoch"},
	        [SHARD_ROOM_CHANNEL] = {"chatd:room:{", "}"},
	        [SHARD_NICK] = {"chatd:nick:{", "}"},
	        [SHARD_NODE] = {"chatd:node:{", "}"},
	        [SHARD_PRES] = {"chatd:pres:{", "}"},
	};
	int len;

	if ((unsigned)kind >= sizeof(part) / sizeof(part[0]) || n > SHARD_KEY_MAX)
		return -1;
	len = snprintf(buf, size, "%s%.*s%s", part[kind].prefix, (int)n, name, part[kind].suffix);
	if (len < 0 || (size_t)len >= size)
		return -1;
	return len;
}
