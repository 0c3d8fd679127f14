/*
 * Ghosts: the users of other nodes of a cluster (core.h).  A ghost is a
 * session like any other in the nick index, the users tree and its rooms'
 * member lists, so that every listing names it without knowing of nodes;
 * what sets it apart is that nothing reads what is sent to it (its sink
 * drops everything: its own node delivers to it) and that it skips the
 * backplane's hooks (its node claims its nick, follows its rooms and
 * publishes its presence).
 */
#include "core/internal.h"
#include "core/valid.h"
#include "util/slab.h"

static void
drop_message(void *ctx, struct msg *m)
{
	(void)ctx;
	(void)m;
}

static void
drop_presence(void *ctx, struct pres *p)
{
	(void)ctx;
	(void)p;
}

static void
drop_done(void *ctx, const struct core_reply *r)
{
	(void)ctx;
	(void)r;
}

static const struct sink ghost_sink = {drop_message, drop_presence, drop_done, NULL};

int
ghost_evict(struct core *c, const char *nick, size_t n)
{
	struct session *owner = core_user_find(c, nick, n);

	if (owner == NULL)
		return 1;
	if (!owner->ghost)
		return 0;
	core_session_end(c, owner, PRES_QUIT, REASON_NONE);
	return 1;
}

/* Whether nick[0, n) may be a ghost's new name: valid, and held by no
 * session here (another ghost's, being stale, gives way). */
static int
ghost_may_take(struct core *c, const char *nick, size_t n)
{
	return valid_nick(nick, n) && ghost_evict(c, nick, n);
}

struct session *
core_ghost_new(struct core *c, void *owner, const char *nick, size_t n)
{
	struct session *g;

	if (!ghost_may_take(c, nick, n))
		return NULL;
	g = core_session_new(c, &ghost_sink, owner);
	g->ghost = 1;
	nick_set(c, g, nick, n);
	c->ghosts++;
	return g;
}

int
core_ghost_join(struct core *c, struct session *g, const char *room, size_t n)
{
	char key[CORE_ROOM_MAX + 1];
	struct room *r;
	int err;

	/* Not bound by this node's limits: the user's own node checked it. */
	if ((r = room_lookup(c, room, n, key, &err)) == NULL &&
	    (err || (r = room_get(c, room, n, key, 0, &err)) == NULL))
		return -1;
	if (room_is_member(g, r))
		return -1;
	member_join(c, r, g);
	return 0;
}

int
core_ghost_part(struct core *c, struct session *g, const char *room, size_t n, const char *reason,
                size_t rn)
{
	char key[CORE_ROOM_MAX + 1];
	struct room *r;
	int err;

	if ((r = room_lookup(c, room, n, key, &err)) == NULL || !room_is_member(g, r))
		return -1;
	member_part(c, r, g, reason, core_reason_fit(reason, rn));
	return 0;
}

int
core_ghost_rename(struct core *c, struct session *g, const char *nick, size_t n)
{
	struct session *owner = core_user_find(c, nick, n);

	/* Another case of its own name, or a name held by no one else. */
	if (owner != g && !ghost_may_take(c, nick, n))
		return -1;
	nick_rename(c, g, nick, n);
	return 0;
}

size_t
core_ghost_count(const struct core *c)
{
	return c->ghosts;
}

void *
core_ghost_owner(const struct session *s)
{
	return s->ghost ? s->ctx : NULL;
}
