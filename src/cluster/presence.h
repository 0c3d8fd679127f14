/*
 * Presence across the nodes of a cluster: who is on the other nodes and
 * in which rooms, as ghosts in this node's core (core.h), so that /who,
 * NAMES, member counts, join replies and /users name everyone; and which
 * nodes are alive.  Each node writes its own users to Redis and publishes
 * each change (script.h, "Presence"); each node beats a heartbeat, and
 * the users of a node whose heartbeat runs out are announced dropped
 * with reason "node lost" (their nicks free within their lease).  All of it lives on
 * the nick shard.  docs/cluster.md, "Presence and node failure".
 */
#ifndef CHATD_CLUSTER_PRESENCE_H
#define CHATD_CLUSTER_PRESENCE_H

#include <stdint.h>

struct core;
struct core_bp_presence;
struct ev_loop;
struct redis_link;
struct session;
struct presence;

/* Presence for node name (incarnation inc) of core, over the nick
 * shard's links; NULL when out of memory.  It starts when cmd comes up. */
struct presence *presence_new(struct ev_loop *loop, struct core *core, struct redis_link *cmd,
                              struct redis_link *sub, const char *name, uint64_t inc);
/* cmd went up (1) or down (0). */
void presence_link(struct presence *pr, int up);
/* A user of this node did something (core_backplane's present()). */
void presence_local(struct presence *pr, const struct session *s, const struct core_bp_presence *e);
/* A graceful stop: tell the others at once (before the links go). */
void presence_bye(struct presence *pr);
/* After the links are freed. */
void presence_free(struct presence *pr);
/* This node's users are written (the others know of it). */
int presence_ready(const struct presence *pr);
/* Other nodes known alive, and nodes taken for lost so far. */
unsigned presence_peers(const struct presence *pr);
uint64_t presence_lost(const struct presence *pr);

#endif
