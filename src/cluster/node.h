/*
 * A node of a cluster: the backplane (core.h, struct core_backplane) that
 * several chatd processes share their rooms through, on one or more Redis
 * shards (docs/cluster.md).  Per shard it keeps two links, one for
 * commands (the publish and state scripts) and one for the channels of
 * the rooms this node follows.
 */
#ifndef CHATD_CLUSTER_NODE_H
#define CHATD_CLUSTER_NODE_H

#include <stdint.h>

#include "cluster/redis.h"

struct core;
struct ev_loop;
struct node;

#define NODE_SHARDS_MAX 16
/* Messages one state call brings, at most: a catch-up larger than this
 * takes several. */
#define NODE_CATCHUP_MAX 1000

/* What /metrics shows of the backplane. */
struct node_stats {
	struct redis_stats links; /* all links, summed (latency_max: the largest) */
	uint64_t published;       /* messages this node published */
	uint64_t delivered;       /* messages that came through the channels */
	uint64_t catchups;        /* state calls after a reconnect or a gap */
	unsigned shards, shards_up;
	unsigned rooms; /* rooms followed */
	unsigned peers; /* other nodes alive */
	uint64_t lost;  /* nodes taken for lost (their heartbeat ran out) */
};

/* A node on shards urls[0, n) for core, named name; history: the ring
 * size (messages a room opens with).  NULL when out of memory. */
struct node *node_new(struct ev_loop *loop, struct core *core, const struct redis_url *urls,
                      unsigned n, const char *name, unsigned history);
void node_free(struct node *nd);
/* Every link is up and this node's presence is written: it may serve. */
int node_ready(const struct node *nd);
/* The figures of this process's node (zeros, shards 0, without one). */
void node_stats(struct node_stats *out);

#endif
