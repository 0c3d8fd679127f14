/*
 * The backplane's scripts and simple commands (script.h).  A script call
 * keeps a copy of its arguments until its reply, so that a NOSCRIPT
 * answer can be sent again as EVAL with the script's body; the SHA-1 that
 * EVALSHA names is computed here (libcrypto), the same digest Redis
 * computes on SCRIPT LOAD, so no round trip is needed to learn it.
 */
#include "cluster/script.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include "cluster/redis.h"
#include "cluster/shard.h"

/* A Lua script and its digest. */
struct script {
	const char *name;
	const char *body;
	char sha[41]; /* hex, computed on first use */
};

/*
 * The publish step.  KEYS: seq, log, epoch; ARGV: epoch candidate, from,
 * text, stream max, channel, origin ("INCARNATION SID").  XADD comes before any other write: it
 * fails (nothing written) should the stream already hold this SEQ, since a script's writes are not
 * rolled back on an error.  Numbers leave as integers through string.format('%d') (Lua's own
 * printing turns large ones into exponents); the epoch stays a string, past Lua's 2^53.
 */
static struct script publish_script = {
        "publish",
        "local seq = tonumber(redis.call('GET', KEYS[1]) or '0') + 1\n"
        "local t = redis.call('TIME')\n"
        "local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
        "local epoch = redis.call('GET', KEYS[3])\n"
        "local fresh = not epoch\n"
        "if fresh then epoch = ARGV[1] end\n"
        "local s = string.format('%d', seq)\n"
        "local m = string.format('%d', ms)\n"
        "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], s .. '-0', 'seq', s, 'time', m,\n"
        "           'from', ARGV[2], 'text', ARGV[3], 'epoch', epoch, 'origin', ARGV[6])\n"
        "redis.call('SET', KEYS[1], s)\n"
        "if fresh then redis.call('SET', KEYS[3], epoch) end\n"
        "redis.call('PUBLISH', ARGV[5], s .. ' ' .. m .. ' ' .. epoch .. ' ' .. ARGV[6] .. ' ' "
        "..\n"
        "           #ARGV[2] .. ' ' .. ARGV[2] .. ARGV[3])\n"
        "return {seq, ms, epoch}\n",
        ""};

/* Extend a nick's lease if ARGV[1] holds it.  KEYS: nick; ARGV: node, ms. */
static struct script renew_script = {"renew",
                                     "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                     "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                                     "end\n"
                                     "return 0\n",
                                     ""};

/* Delete a nick's key if ARGV[1] holds it.  KEYS: nick; ARGV: node. */
static struct script release_script = {"release",
                                       "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                       "  return redis.call('DEL', KEYS[1])\n"
                                       "end\n"
                                       "return 0\n",
                                       ""};

/*
 * A room's state: its seq, its epoch (set to the candidate when it has
 * none, so that every node opens the room in one epoch) and its messages,
 * oldest first: the newest count ('newest'), or the first count after
 * seq after, or (mode "before", which sets no epoch) the newest count with
 * after < seq < ARGV[5].  KEYS: seq, epoch, log; ARGV: candidate, after,
 * count, mode, before.
 */
static struct script state_script = {
        "state",
        "local e = redis.call('GET', KEYS[2])\n"
        "if not e and ARGV[4] == 'before' then e = '0'\n"
        "elseif not e then e = ARGV[1]; redis.call('SET', KEYS[2], e) end\n"
        "local s = redis.call('GET', KEYS[1]) or '0'\n"
        "local l\n"
        "if ARGV[4] == 'newest' then\n"
        "  l = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', ARGV[3])\n"
        "  local n = #l\n"
        "  for i = 1, math.floor(n / 2) do l[i], l[n - i + 1] = l[n - i + 1], l[i] end\n"
        "elseif ARGV[4] == 'before' then\n"
        "  l = redis.call('XREVRANGE', KEYS[3], '(' .. ARGV[5] .. '-0', '(' .. ARGV[2] .. '-0',\n"
        "                 'COUNT', ARGV[3])\n"
        "  local n = #l\n"
        "  for i = 1, math.floor(n / 2) do l[i], l[n - i + 1] = l[n - i + 1], l[i] end\n"
        "else\n"
        "  l = redis.call('XRANGE', KEYS[3], '(' .. ARGV[2] .. '-0', '+', 'COUNT', ARGV[3])\n"
        "end\n"
        "return {s, e, l}\n",
        ""};

/* Claim a nick for ARGV[1]: free, or already its own (a node restarted
 * under its name takes back what its users held).  KEYS: nick; ARGV:
 * node, ms. */
static struct script claim_script = {"claim",
                                     "local v = redis.call('GET', KEYS[1])\n"
                                     "if v and v ~= ARGV[1] then return 0 end\n"
                                     "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
                                     "return 1\n",
                                     ""};

/* Extend the leases ARGV[1] holds among KEYS by ARGV[2] ms; how many. */
static struct script renew_many_script = {"renew_many",
                                          "local n = 0\n"
                                          "for _, k in ipairs(KEYS) do\n"
                                          "  if redis.call('GET', k) == ARGV[1] then\n"
                                          "    n = n + redis.call('PEXPIRE', k, ARGV[2])\n"
                                          "  end\n"
                                          "end\n"
                                          "return n\n",
                                          ""};

/*
 * A direct message: to the inbox channel of the node holding the nick.
 * KEYS: nick; ARGV: inbox prefix, from, to, text.  Returns {receivers,
 * time}: 0 receivers when no node holds the nick (or it is gone).
 */
static struct script direct_script = {
        "direct",
        "local owner = redis.call('GET', KEYS[1])\n"
        "local t = redis.call('TIME')\n"
        "local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
        "if not owner then return {0, ms} end\n"
        "local m = string.format('%d', ms)\n"
        "local n = redis.call('PUBLISH', ARGV[1] .. owner, m .. ' ' .. #ARGV[2] .. ' ' .. "
        "#ARGV[3] .. ' ' .. ARGV[2] .. ARGV[3] .. ARGV[4])\n"
        "return {n, ms}\n",
        ""};

/*
 * Presence (docs/cluster.md, "Presence").  Each node keeps its users in a
 * hash of its own, nick -> the rooms it is in ("@inc": the incarnation
 * that wrote it, "@v": its version), and publishes each change with the
 * version it made, so that a node that reads the hash and then the
 * channel knows which changes the hash already holds.
 *
 * A change.  KEYS: the node's hash.  ARGV: node, incarnation, the event,
 * then triplets "S" field value (set) or "D" field "" (delete).  0 when
 * the hash is not this incarnation's (it was taken for lost: written
 * again whole), else the new version.
 */
static struct script pres_event_script = {
        "pres_event",
        "if redis.call('HGET', KEYS[1], '@inc') ~= ARGV[2] then return 0 end\n"
        "local v = redis.call('HINCRBY', KEYS[1], '@v', 1)\n"
        "for i = 4, #ARGV - 2, 3 do\n"
        "  if ARGV[i] == 'S' then redis.call('HSET', KEYS[1], ARGV[i + 1], ARGV[i + 2])\n"
        "  else redis.call('HDEL', KEYS[1], ARGV[i + 1]) end\n"
        "end\n"
        "redis.call('PUBLISH', '" SCRIPT_PRES_CHANNEL "', ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. "
        "string.format('%d', v) .. ' ' .. ARGV[3])\n"
        "return v\n",
        ""};

/* The hash written whole, with the heartbeat, announced as R (read it).
 * KEYS: hash, heartbeat, the nodes set.  ARGV: node, incarnation, ttl,
 * then field value pairs. */
static struct script pres_reset_script = {
        "pres_reset",
        "redis.call('DEL', KEYS[1])\n"
        "redis.call('HSET', KEYS[1], '@inc', ARGV[2], '@v', '1')\n"
        "for i = 4, #ARGV - 1, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end\n"
        "redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])\n"
        "redis.call('SADD', KEYS[3], ARGV[1])\n"
        "redis.call('PUBLISH', '" SCRIPT_PRES_CHANNEL "', ARGV[1] .. ' ' .. ARGV[2] .. ' 1 R')\n"
        "return 1\n",
        ""};

/* The heartbeat.  KEYS: heartbeat, nodes set, hash.  ARGV: node,
 * incarnation, ttl.  0 when the hash is not this incarnation's. */
static struct script beat_script = {
        "beat",
        "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
        "redis.call('SADD', KEYS[2], ARGV[1])\n"
        "if redis.call('HGET', KEYS[3], '@inc') ~= ARGV[2] then return 0 end\n"
        "return 1\n",
        ""};

/*
 * The nodes alive, as {name, incarnation, ...}; each one in the set whose
 * heartbeat ran out is taken for lost here: its hash and its place in the
 * set go, and L is published for it.  Its nicks are left to their leases
 * (10 s at most after its last renewal): a node only paused or cut off,
 * taken for lost wrongly, still holds them when it comes back, and no
 * other node's user can take one meanwhile.  KEYS: the nodes set.  ARGV:
 * the prefixes of the heartbeat and hash keys (each key is prefix, name,
 * "}").
 */
static struct script check_script = {"check",
                                     "local live = {}\n"
                                     "for _, n in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
                                     "  local inc = redis.call('GET', ARGV[1] .. n .. '}')\n"
                                     "  if inc then\n"
                                     "    live[#live + 1] = n; live[#live + 1] = inc\n"
                                     "  else\n"
                                     "    local h = ARGV[2] .. n .. '}'\n"
                                     "    local was = redis.call('HGET', h, '@inc') or '0'\n"
                                     "    redis.call('DEL', h)\n"
                                     "    redis.call('SREM', KEYS[1], n)\n"
                                     "    redis.call('PUBLISH', '" SCRIPT_PRES_CHANNEL
                                     "', n .. ' ' .. was .. ' 0 L')\n"
                                     "  end\n"
                                     "end\n"
                                     "return live\n",
                                     ""};

/* A node stopping.  KEYS: hash, heartbeat, nodes set.  ARGV: node,
 * incarnation.  What is another incarnation's (a new one under the same
 * name) stays. */
static struct script bye_script = {
        "bye",
        "if redis.call('HGET', KEYS[1], '@inc') == ARGV[2] then redis.call('DEL', KEYS[1]) end\n"
        "if redis.call('GET', KEYS[2]) == ARGV[2] then\n"
        "  redis.call('DEL', KEYS[2]); redis.call('SREM', KEYS[3], ARGV[1])\n"
        "end\n"
        "redis.call('PUBLISH', '" SCRIPT_PRES_CHANNEL "', ARGV[1] .. ' ' .. ARGV[2] .. ' 0 B')\n"
        "return 1\n",
        ""};

static struct script *const all_scripts[] = {
        &publish_script,    &renew_script,      &release_script, &state_script,
        &claim_script,      &renew_many_script, &direct_script,  &pres_event_script,
        &pres_reset_script, &beat_script,       &check_script,   &bye_script};

/* A script (or plain command) call waiting for its reply. */
struct script_call {
	struct script *script; /* NULL for a plain command */
	int argc;
	const char **argv; /* argc of them, in the same block */
	size_t *len;
	script_publish_fn *publish_cb;
	script_state_fn *state_cb;
	script_direct_fn *direct_cb;
	script_done_fn *done_cb;
	script_reply_fn *reply_cb;
	void *arg;
	int retried; /* already sent again as EVAL */
	char data[]; /* the arguments' bytes */
};

/* The script's digest, as Redis names it. */
static const char *
script_sha(struct script *s)
{
	unsigned char md[SHA_DIGEST_LENGTH];
	size_t i;

	if (s->sha[0] == '\0') {
		SHA1((const unsigned char *)s->body, strlen(s->body), md);
		for (i = 0; i < SHA_DIGEST_LENGTH; i++)
			snprintf(s->sha + 2 * i, 3, "%02x", md[i]);
	}
	return s->sha;
}

void
script_load_all(struct redis_link *l)
{
	size_t i;

	for (i = 0; i < sizeof(all_scripts) / sizeof(all_scripts[0]); i++)
		(void)redis_cmd(l, NULL, NULL, "SCRIPT LOAD %s", all_scripts[i]->body);
}

/*
 * A call of script s (NULL: the plain command in parts) with the given
 * parts copied after the EVALSHA header.  parts[0, nkeys) are keys.
 */
static struct script_call *
call_new(struct script *s, int nkeys, int nparts, const char *const *parts, const size_t *plen)
{
	struct script_call *c;
	size_t total = 0, off = 0, at;
	int i, head = s ? 3 : 0, argc = nparts + head;
	char *nk;

	for (i = 0; i < nparts; i++)
		total += plen[i];
	/* The bytes, the key count (16), then the vectors, aligned (data[]
	 * itself may not be). */
	if ((c = calloc(1, sizeof(*c) + total + 16 + sizeof(void *) +
	                           (size_t)argc * (sizeof(char *) + sizeof(size_t)))) == NULL)
		return NULL;
	at = total + 16;
	at += (sizeof(void *) - (uintptr_t)(c->data + at) % sizeof(void *)) % sizeof(void *);
	c->argv = (const char **)(void *)(c->data + at);
	c->len = (size_t *)(void *)(c->data + at + (size_t)argc * sizeof(char *));
	c->script = s;
	if (s) {
		c->argv[0] = "EVALSHA";
		c->argv[1] = script_sha(s);
		nk = c->data + total;
		snprintf(nk, 16, "%d", nkeys);
		c->argv[2] = nk;
		for (i = 0; i < 3; i++)
			c->len[i] = strlen(c->argv[i]);
	}
	for (i = 0; i < nparts; i++) {
		if (plen[i])
			memcpy(c->data + off, parts[i], plen[i]);
		c->argv[head + i] = c->data + off;
		c->len[head + i] = plen[i];
		off += plen[i];
	}
	c->argc = head + nparts;
	return c;
}

/* Finish c with reply r (NULL: the link dropped). */
static void call_done(struct script_call *c, struct redisReply *r);

/* Every call's reply: NOSCRIPT once sends the call again as EVAL. */
static void
on_call_reply(struct redis_link *l, struct redisReply *r, void *arg)
{
	struct script_call *c = arg;

	if (r != NULL && r->type == REDIS_REPLY_ERROR && c->script && !c->retried &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0) {
		c->retried = 1;
		c->argv[0] = "EVAL";
		c->len[0] = 4;
		c->argv[1] = c->script->body;
		c->len[1] = strlen(c->script->body);
		redis_count_noscript(l);
		if (redis_cmd_argv(l, on_call_reply, c, c->argc, c->argv, c->len) == 0)
			return;
		r = NULL;
	}
	call_done(c, r);
}

/* Send c, or free it; 0 or -1. */
static int
call_send(struct redis_link *l, struct script_call *c)
{
	if (c == NULL)
		return -1;
	if (redis_cmd_argv(l, on_call_reply, c, c->argc, c->argv, c->len) < 0) {
		free(c);
		return -1;
	}
	return 0;
}

/* Read an integer element, or a decimal string one, into *out; 0 or -1. */
static int
reply_u64(const struct redisReply *r, uint64_t *out)
{
	char *end;

	if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
		*out = (uint64_t)r->integer;
		return 0;
	}
	if (r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < 21) {
		*out = strtoull(r->str, &end, 10);
		return *end == '\0' ? 0 : -1;
	}
	return -1;
}

static int payload_number(const char *p, size_t n, size_t *i, uint64_t *out);

/* "INCARNATION SID" into m's origin and sid; 0 or -1. */
static int
origin_parse(const char *p, size_t n, struct script_msg *m)
{
	char buf[48];
	size_t i = 0;

	if (n + 1 >= sizeof(buf))
		return -1;
	memcpy(buf, p, n);
	buf[n] = ' '; /* payload_number wants a space after each number */
	if (payload_number(buf, n + 1, &i, &m->origin) < 0 ||
	    payload_number(buf, n + 1, &i, &m->sid) < 0) {
		m->origin = m->sid = 0;
		return -1;
	}
	return 0;
}

/* One stream entry, [ID, [field, value, ...]], into m; 0 or -1. */
static int
entry_parse(const struct redisReply *e, struct script_msg *m)
{
	const struct redisReply *f;
	size_t i;
	int have = 0;

	memset(m, 0, sizeof(*m));
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[1]->type != REDIS_REPLY_ARRAY)
		return -1;
	f = e->element[1];
	for (i = 0; i + 1 < f->elements; i += 2) {
		const struct redisReply *k = f->element[i], *v = f->element[i + 1];

		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			return -1;
		if (strcmp(k->str, "seq") == 0 && reply_u64(v, &m->seq) == 0)
			have |= 1;
		else if (strcmp(k->str, "time") == 0 && reply_u64(v, &m->time_ms) == 0)
			have |= 2;
		else if (strcmp(k->str, "epoch") == 0 && reply_u64(v, &m->epoch) == 0)
			have |= 4;
		else if (strcmp(k->str, "from") == 0)
			m->from = v->str, m->from_len = v->len, have |= 8;
		else if (strcmp(k->str, "text") == 0)
			m->text = v->str, m->text_len = v->len, have |= 16;
		else if (strcmp(k->str, "origin") == 0)
			(void)origin_parse(v->str, v->len, m); /* optional: who sent it */
	}
	return have == 31 ? 0 : -1;
}

/* The state script's answer, to c's callback. */
static void
state_done(struct script_call *c, const struct redisReply *r, const char *why)
{
	struct script_state st;
	const struct redisReply *l;
	size_t i;

	memset(&st, 0, sizeof(st));
	if (why == NULL &&
	    (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	     reply_u64(r->element[0], &st.seq) < 0 || reply_u64(r->element[1], &st.epoch) < 0 ||
	     r->element[2]->type != REDIS_REPLY_ARRAY))
		why = "redis: the state script answered something else";
	if (why == NULL) {
		l = r->element[2];
		if (l->elements && (st.msgs = calloc(l->elements, sizeof(*st.msgs))) == NULL)
			why = "out of memory";
		for (i = 0; why == NULL && i < l->elements; i++)
			if (entry_parse(l->element[i], &st.msgs[st.count++]) < 0)
				why = "redis: a stream entry of another shape";
	}
	c->state_cb(why ? -1 : 0, why ? NULL : &st, why, c->arg);
	free(st.msgs);
}

static void
call_done(struct script_call *c, struct redisReply *r)
{
	const char *why = NULL;
	char buf[160];

	if (r == NULL)
		why = "cluster unavailable";
	else if (r->type == REDIS_REPLY_ERROR) {
		snprintf(buf, sizeof(buf), "redis: %s", r->str);
		why = buf;
	}
	if (c->publish_cb) {
		struct script_msg m;
		int base = 3; /* EVALSHA sha numkeys, then 3 keys, then the args */

		memset(&m, 0, sizeof(m));
		if (why == NULL && (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
		                    reply_u64(r->element[0], &m.seq) < 0 ||
		                    reply_u64(r->element[1], &m.time_ms) < 0 ||
		                    reply_u64(r->element[2], &m.epoch) < 0))
			why = "redis: the publish script answered something else";
		if (why) {
			/* No reply: Redis may have run it (-2), unlike a refusal. */
			c->publish_cb(r == NULL ? -2 : -1, NULL, why, c->arg);
		} else {
			m.from = c->argv[base + 4];
			m.from_len = c->len[base + 4];
			m.text = c->argv[base + 5];
			m.text_len = c->len[base + 5];
			c->publish_cb(0, &m, NULL, c->arg);
		}
	} else if (c->direct_cb) {
		uint64_t n = 0, ms = 0;

		if (why == NULL &&
		    (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		     reply_u64(r->element[0], &n) < 0 || reply_u64(r->element[1], &ms) < 0))
			why = "redis: the direct script answered something else";
		c->direct_cb(why ? -1 : n > 0, ms, why, c->arg);
	} else if (c->state_cb) {
		state_done(c, r, why);
	} else if (c->reply_cb) {
		c->reply_cb(why ? NULL : r, why, c->arg);
	} else if (c->done_cb) {
		int rc = -1;

		if (why == NULL) {
			if (r->type == REDIS_REPLY_STATUS)
				rc = strcmp(r->str, "OK") == 0;
			else if (r->type == REDIS_REPLY_NIL)
				rc = 0; /* SET NX that found the key */
			else if (r->type == REDIS_REPLY_INTEGER)
				rc = r->integer > 0;
			else
				why = "redis: an unexpected reply";
		}
		c->done_cb(why ? -1 : rc, why, c->arg);
	}
	free(c);
}

int
script_publish(struct redis_link *l, const char *room, size_t n, uint64_t epoch, const char *from,
               size_t from_len, const char *text, size_t text_len, unsigned stream_max,
               uint64_t origin, uint64_t sid, script_publish_fn *cb, void *arg)
{
	char seq[SHARD_KEY_MAX], log[SHARD_KEY_MAX], ep[SHARD_KEY_MAX], ch[SHARD_KEY_MAX];
	char epoch_s[24], max_s[16], origin_s[48];
	const char *parts[9];
	size_t plen[9];
	int lens[4];
	struct script_call *c;

	if ((lens[0] = shard_key(seq, sizeof(seq), SHARD_ROOM_SEQ, room, n)) < 0 ||
	    (lens[1] = shard_key(log, sizeof(log), SHARD_ROOM_LOG, room, n)) < 0 ||
	    (lens[2] = shard_key(ep, sizeof(ep), SHARD_ROOM_EPOCH, room, n)) < 0 ||
	    (lens[3] = shard_key(ch, sizeof(ch), SHARD_ROOM_CHANNEL, room, n)) < 0)
		return -1;
	snprintf(epoch_s, sizeof(epoch_s), "%" PRIu64, epoch);
	snprintf(max_s, sizeof(max_s), "%u", stream_max);
	parts[0] = seq, plen[0] = (size_t)lens[0];
	parts[1] = log, plen[1] = (size_t)lens[1];
	parts[2] = ep, plen[2] = (size_t)lens[2];
	parts[3] = epoch_s, plen[3] = strlen(epoch_s);
	parts[4] = from, plen[4] = from_len;
	parts[5] = text, plen[5] = text_len;
	parts[6] = max_s, plen[6] = strlen(max_s);
	parts[7] = ch, plen[7] = (size_t)lens[3];
	snprintf(origin_s, sizeof(origin_s), "%" PRIu64 " %" PRIu64, origin, sid);
	parts[8] = origin_s, plen[8] = strlen(origin_s);
	if ((c = call_new(&publish_script, 3, 9, parts, plen)) == NULL)
		return -1;
	c->publish_cb = cb;
	c->arg = arg;
	return call_send(l, c);
}

/* The state script in mode ("newest", "after" or "before"). */
static int
state_call(struct redis_link *l, const char *room, size_t n, uint64_t epoch, const char *mode,
           uint64_t after, uint64_t before, unsigned count, script_state_fn *cb, void *arg)
{
	char seq[SHARD_KEY_MAX], log[SHARD_KEY_MAX], ep[SHARD_KEY_MAX];
	char epoch_s[24], after_s[24], before_s[24], count_s[16];
	const char *parts[8];
	size_t plen[8];
	int lens[3];
	struct script_call *c;

	if ((lens[0] = shard_key(seq, sizeof(seq), SHARD_ROOM_SEQ, room, n)) < 0 ||
	    (lens[1] = shard_key(ep, sizeof(ep), SHARD_ROOM_EPOCH, room, n)) < 0 ||
	    (lens[2] = shard_key(log, sizeof(log), SHARD_ROOM_LOG, room, n)) < 0)
		return -1;
	snprintf(epoch_s, sizeof(epoch_s), "%" PRIu64, epoch);
	snprintf(after_s, sizeof(after_s), "%" PRIu64, after);
	snprintf(before_s, sizeof(before_s), "%" PRIu64, before);
	snprintf(count_s, sizeof(count_s), "%u", count ? count : 1);
	parts[0] = seq, plen[0] = (size_t)lens[0];
	parts[1] = ep, plen[1] = (size_t)lens[1];
	parts[2] = log, plen[2] = (size_t)lens[2];
	parts[3] = epoch_s, plen[3] = strlen(epoch_s);
	parts[4] = after_s, plen[4] = strlen(after_s);
	parts[5] = count_s, plen[5] = strlen(count_s);
	parts[6] = mode, plen[6] = strlen(mode);
	parts[7] = before_s, plen[7] = strlen(before_s);
	if ((c = call_new(&state_script, 3, 8, parts, plen)) == NULL)
		return -1;
	c->state_cb = cb;
	c->arg = arg;
	return call_send(l, c);
}

int
script_state(struct redis_link *l, const char *room, size_t n, uint64_t epoch, int newest,
             uint64_t after, unsigned count, script_state_fn *cb, void *arg)
{
	return state_call(l, room, n, epoch, newest ? "newest" : "after", after, 0, count, cb, arg);
}

int
script_range(struct redis_link *l, const char *room, size_t n, uint64_t after, uint64_t before,
             unsigned count, script_state_fn *cb, void *arg)
{
	if (before <= after + 1)
		return -1; /* nothing between */
	return state_call(l, room, n, 0, "before", after, before, count, cb, arg);
}

/* A nick call: script s on the nick's key. */
static int
nick_call(struct redis_link *l, struct script *s, const char *nick, size_t n, const char *node,
          const char *ms, script_done_fn *cb, void *arg)
{
	char key[SHARD_KEY_MAX];
	const char *parts[6];
	size_t plen[6];
	int klen = shard_key(key, sizeof(key), SHARD_NICK, nick, n), np = 0;
	struct script_call *c;

	if (klen < 0)
		return -1;
	parts[np] = key, plen[np++] = (size_t)klen;
	parts[np] = node, plen[np++] = strlen(node);
	if (ms)
		parts[np] = ms, plen[np++] = strlen(ms);
	if ((c = call_new(s, 1, np, parts, plen)) == NULL)
		return -1;
	c->done_cb = cb;
	c->arg = arg;
	return call_send(l, c);
}

int
script_nick_claim(struct redis_link *l, const char *nick, size_t n, const char *node,
                  unsigned lease_ms, script_done_fn *cb, void *arg)
{
	char ms[16];

	snprintf(ms, sizeof(ms), "%u", lease_ms);
	return nick_call(l, &claim_script, nick, n, node, ms, cb, arg);
}

int
script_nick_renew(struct redis_link *l, const char *nick, size_t n, const char *node,
                  unsigned lease_ms, script_done_fn *cb, void *arg)
{
	char ms[16];

	snprintf(ms, sizeof(ms), "%u", lease_ms);
	return nick_call(l, &renew_script, nick, n, node, ms, cb, arg);
}

int
script_nick_release(struct redis_link *l, const char *nick, size_t n, const char *node,
                    script_done_fn *cb, void *arg)
{
	return nick_call(l, &release_script, nick, n, node, NULL, cb, arg);
}

/* Send script s (NULL: a plain command) with parts[0, np), the first
 * nkeys of them keys; done or reply hears the answer. */
static int
call_parts(struct redis_link *l, struct script *s, int nkeys, const char *const *parts,
           const size_t *plen, int np, script_done_fn *done, script_reply_fn *reply, void *arg)
{
	struct script_call *c = call_new(s, nkeys, np, parts, plen);

	if (c == NULL)
		return -1;
	c->done_cb = done;
	c->reply_cb = reply;
	c->arg = arg;
	return call_send(l, c);
}

/* A node's hash and heartbeat keys; 0 or -1. */
static int
node_keys(const char *node, char *hash, size_t *hn, char *beat, size_t *bn)
{
	int h = shard_key(hash, SHARD_KEY_MAX, SHARD_PRES, node, strlen(node));
	int b = shard_key(beat, SHARD_KEY_MAX, SHARD_NODE, node, strlen(node));

	if (h < 0 || b < 0)
		return -1;
	*hn = (size_t)h;
	*bn = (size_t)b;
	return 0;
}

#define PART(i, p, n) (parts[i] = (p), plen[i] = (n))

int
script_pres_event(struct redis_link *l, const char *node, const char *inc, const char *body,
                  size_t blen, const char *const *ops, const size_t *oplen, unsigned nops,
                  script_done_fn *cb, void *arg)
{
	char hash[SHARD_KEY_MAX], beat[SHARD_KEY_MAX];
	const char *parts[4 + SCRIPT_PRES_OPS];
	size_t plen[4 + SCRIPT_PRES_OPS], hn, bn;
	unsigned i;

	if (nops > SCRIPT_PRES_OPS || node_keys(node, hash, &hn, beat, &bn) < 0)
		return -1;
	PART(0, hash, hn);
	PART(1, node, strlen(node));
	PART(2, inc, strlen(inc));
	PART(3, body, blen);
	for (i = 0; i < nops; i++)
		PART(4 + i, ops[i], oplen[i]);
	return call_parts(l, &pres_event_script, 1, parts, plen, (int)(4 + nops), cb, NULL, arg);
}

int
script_pres_reset(struct redis_link *l, const char *node, const char *inc, unsigned ttl_ms,
                  const char *const *kv, const size_t *kvlen, unsigned nkv, script_done_fn *cb,
                  void *arg)
{
	char hash[SHARD_KEY_MAX], beat[SHARD_KEY_MAX], ms[16];
	const char **parts = calloc(nkv + 6, sizeof(*parts));
	size_t *plen = calloc(nkv + 6, sizeof(*plen)), hn, bn;
	unsigned i;
	int rc = -1;

	snprintf(ms, sizeof(ms), "%u", ttl_ms);
	if (parts && plen && node_keys(node, hash, &hn, beat, &bn) == 0) {
		PART(0, hash, hn);
		PART(1, beat, bn);
		PART(2, SCRIPT_NODES_KEY, strlen(SCRIPT_NODES_KEY));
		PART(3, node, strlen(node));
		PART(4, inc, strlen(inc));
		PART(5, ms, strlen(ms));
		for (i = 0; i < nkv; i++)
			PART(6 + i, kv[i], kvlen[i]);
		rc = call_parts(l, &pres_reset_script, 3, parts, plen, (int)(nkv + 6), cb, NULL,
		                arg);
	}
	free(parts);
	free(plen);
	return rc;
}

int
script_node_beat(struct redis_link *l, const char *node, const char *inc, unsigned ttl_ms,
                 script_done_fn *cb, void *arg)
{
	char hash[SHARD_KEY_MAX], beat[SHARD_KEY_MAX], ms[16];
	const char *parts[6];
	size_t plen[6], hn, bn;

	if (node_keys(node, hash, &hn, beat, &bn) < 0)
		return -1;
	snprintf(ms, sizeof(ms), "%u", ttl_ms);
	PART(0, beat, bn);
	PART(1, SCRIPT_NODES_KEY, strlen(SCRIPT_NODES_KEY));
	PART(2, hash, hn);
	PART(3, node, strlen(node));
	PART(4, inc, strlen(inc));
	PART(5, ms, strlen(ms));
	return call_parts(l, &beat_script, 3, parts, plen, 6, cb, NULL, arg);
}

int
script_nodes_check(struct redis_link *l, script_reply_fn *cb, void *arg)
{
	static const enum shard_kind kinds[2] = {SHARD_NODE, SHARD_PRES};
	char prefix[2][SHARD_KEY_MAX];
	const char *parts[3];
	size_t plen[3];
	int i, n;

	PART(0, SCRIPT_NODES_KEY, strlen(SCRIPT_NODES_KEY));
	for (i = 0; i < 2; i++) {
		/* The key of the empty name, less its closing brace. */
		if ((n = shard_key(prefix[i], SHARD_KEY_MAX, kinds[i], "", 0)) < 1)
			return -1;
		PART(1 + i, prefix[i], (size_t)n - 1);
	}
	return call_parts(l, &check_script, 1, parts, plen, 3, NULL, cb, arg);
}

int
script_pres_read(struct redis_link *l, const char *node, script_reply_fn *cb, void *arg)
{
	char hash[SHARD_KEY_MAX], beat[SHARD_KEY_MAX];
	const char *parts[2];
	size_t plen[2], hn, bn;

	if (node_keys(node, hash, &hn, beat, &bn) < 0)
		return -1;
	PART(0, "HGETALL", 7);
	PART(1, hash, hn);
	return call_parts(l, NULL, 0, parts, plen, 2, NULL, cb, arg);
}

int
script_node_bye(struct redis_link *l, const char *node, const char *inc, script_done_fn *cb,
                void *arg)
{
	char hash[SHARD_KEY_MAX], beat[SHARD_KEY_MAX];
	const char *parts[5];
	size_t plen[5], hn, bn;

	if (node_keys(node, hash, &hn, beat, &bn) < 0)
		return -1;
	PART(0, hash, hn);
	PART(1, beat, bn);
	PART(2, SCRIPT_NODES_KEY, strlen(SCRIPT_NODES_KEY));
	PART(3, node, strlen(node));
	PART(4, inc, strlen(inc));
	return call_parts(l, &bye_script, 3, parts, plen, 5, cb, NULL, arg);
}

#undef PART

/* A word of a presence event (printable ASCII), ending in a space (last:
 * at the end of p instead); 0 or -1. */
static int
pres_word(const char *p, size_t n, size_t *i, const char **w, size_t *wn, int last)
{
	const char *sp = memchr(p + *i, ' ', n - *i), *c;

	if (last && sp == NULL)
		sp = p + n;
	if (sp == NULL || sp == p + *i)
		return -1;
	for (c = p + *i; c < sp; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
			return -1;
	*w = p + *i;
	*wn = (size_t)(sp - (p + *i));
	*i = (size_t)(sp - p) + (sp < p + n);
	return 0;
}

int
script_pres_parse(const char *p, size_t n, struct script_pres *e)
{
	size_t i = 0, kn;
	const char *k;

	memset(e, 0, sizeof(*e));
	if (pres_word(p, n, &i, &e->node, &e->node_len, 0) < 0 ||
	    payload_number(p, n, &i, &e->inc) < 0 || payload_number(p, n, &i, &e->version) < 0 ||
	    pres_word(p, n, &i, &k, &kn, 1) < 0 || kn != 1)
		return -1;
	e->kind = k[0];
	switch (e->kind) {
	case 'R':
	case 'B':
	case 'L':
		return i == n ? 0 : -1;
	case 'H':
		return pres_word(p, n, &i, &e->nick, &e->nick_len, 1) == 0 && i == n ? 0 : -1;
	case 'J':
	case 'N':
		return pres_word(p, n, &i, &e->nick, &e->nick_len, 0) == 0 &&
		                       pres_word(p, n, &i, &e->arg, &e->arg_len, 1) == 0 && i == n
		               ? 0
		               : -1;
	case 'P':
		if (pres_word(p, n, &i, &e->nick, &e->nick_len, 0) < 0 ||
		    pres_word(p, n, &i, &e->arg, &e->arg_len, 0) < 0)
			return -1;
		break;
	case 'Q':
		if (pres_word(p, n, &i, &e->nick, &e->nick_len, 0) < 0 ||
		    payload_number(p, n, &i, &e->reason) < 0)
			return -1;
		break;
	default:
		return -1;
	}
	e->text = p + i; /* the words it left with, to the end (maybe none) */
	e->text_len = n - i;
	return 0;
}

/* Parse a decimal field ending in a space at p[*i]; 0 or -1. */
static int
payload_number(const char *p, size_t n, size_t *i, uint64_t *out)
{
	uint64_t v = 0;
	size_t start = *i;

	while (*i < n && p[*i] >= '0' && p[*i] <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(p[*i] - '0');
		(*i)++;
	}
	if (*i == start || *i - start > 20 || *i >= n || p[*i] != ' ')
		return -1;
	(*i)++;
	*out = v;
	return 0;
}

int
script_payload_parse(const char *p, size_t n, struct script_msg *m)
{
	size_t i = 0;
	uint64_t from_len;

	memset(m, 0, sizeof(*m));
	if (payload_number(p, n, &i, &m->seq) < 0 || payload_number(p, n, &i, &m->time_ms) < 0 ||
	    payload_number(p, n, &i, &m->epoch) < 0 || payload_number(p, n, &i, &m->origin) < 0 ||
	    payload_number(p, n, &i, &m->sid) < 0 || payload_number(p, n, &i, &from_len) < 0 ||
	    from_len > n - i)
		return -1;
	m->from = p + i;
	m->from_len = (size_t)from_len;
	m->text = p + i + from_len;
	m->text_len = n - i - (size_t)from_len;
	return 0;
}

int
script_nick_renew_many(struct redis_link *l, const char *const *nicks, const size_t *lens,
                       unsigned n, const char *node, unsigned lease_ms, script_done_fn *cb,
                       void *arg)
{
	char ms[16], *keys;
	const char **parts;
	size_t *plen;
	unsigned i, np = 0;
	int k, rc = -1;
	struct script_call *c = NULL;

	if (n == 0 || n > SCRIPT_RENEW_BATCH)
		return -1;
	keys = malloc((size_t)n * SHARD_KEY_MAX);
	parts = calloc(n + 2, sizeof(*parts));
	plen = calloc(n + 2, sizeof(*plen));
	if (keys && parts && plen) {
		for (i = 0; i < n; i++) {
			if ((k = shard_key(keys + (size_t)i * SHARD_KEY_MAX, SHARD_KEY_MAX,
			                   SHARD_NICK, nicks[i], lens[i])) < 0)
				break;
			parts[np] = keys + (size_t)i * SHARD_KEY_MAX, plen[np++] = (size_t)k;
		}
		snprintf(ms, sizeof(ms), "%u", lease_ms);
		parts[np] = node, plen[np++] = strlen(node);
		parts[np] = ms, plen[np++] = strlen(ms);
		if (i == n &&
		    (c = call_new(&renew_many_script, (int)n, (int)np, parts, plen)) != NULL) {
			c->done_cb = cb;
			c->arg = arg;
			rc = call_send(l, c);
		}
	}
	free(keys);
	free(parts);
	free(plen);
	return rc;
}

int
script_direct(struct redis_link *l, const char *to, size_t to_len, const char *inbox,
              const char *from, size_t from_len, const char *text, size_t text_len,
              script_direct_fn *cb, void *arg)
{
	char key[SHARD_KEY_MAX];
	const char *parts[5];
	size_t plen[5];
	int klen = shard_key(key, sizeof(key), SHARD_NICK, to, to_len);
	struct script_call *c;

	if (klen < 0)
		return -1;
	parts[0] = key, plen[0] = (size_t)klen;
	parts[1] = inbox, plen[1] = strlen(inbox);
	parts[2] = from, plen[2] = from_len;
	parts[3] = to, plen[3] = to_len;
	parts[4] = text, plen[4] = text_len;
	if ((c = call_new(&direct_script, 1, 5, parts, plen)) == NULL)
		return -1;
	c->direct_cb = cb;
	c->arg = arg;
	return call_send(l, c);
}

int
script_inbox_parse(const char *p, size_t n, struct script_direct *d)
{
	size_t i = 0;
	uint64_t from_len, to_len;

	memset(d, 0, sizeof(*d));
	if (payload_number(p, n, &i, &d->time_ms) < 0 || payload_number(p, n, &i, &from_len) < 0 ||
	    payload_number(p, n, &i, &to_len) < 0 || from_len > n - i || to_len > n - i - from_len)
		return -1;
	d->from = p + i;
	d->from_len = (size_t)from_len;
	d->to = p + i + from_len;
	d->to_len = (size_t)to_len;
	d->text = d->to + to_len;
	d->text_len = n - i - (size_t)from_len - (size_t)to_len;
	return 0;
}
