/*
 * Unit tests of the chat core over a durable store (core_set_store): room
 * messages go into it and direct ones do not, rooms come back from it
 * after a restart with their name, epoch and sequence, a join with an old
 * cursor replays what it missed from it, paging back and reading forward
 * reach past the ring into it, and a store that cannot write or read is
 * refused as CORE_E_STORE; a room's topic is kept with it and comes back.
 *
 * The store is a fake held in memory (not src/store/): per room key a
 * list of (epoch, seq, time, sender, text) and the room's name, epoch and
 * last seq, with switches that make its room_load, range or writable
 * fail.  Sinks record what each client receives, copied at once; the
 * fixture ends every session and frees the core and the fake, so the
 * sanitizer build also proves nothing leaks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/history.h"
#include "core/msg.h"
#include "util/defaults.h"

#define T0        1732440000000ULL /* the fixture's clock at start, unix ms */
#define SEED      1000u            /* the fixture's first room epoch */
#define SEED2     5000u            /* the first room epoch after a "restart" */
#define STORED_EP 77u              /* the epoch of rooms put into the fake directly */
#define RING      10u              /* the rings' size */
#define LINGER    3600000u         /* the room linger, ms */
#define MAXCL     8                /* clients per test */
#define MAXEV     1024             /* message deliveries recorded per test */
#define MAXREPLAY (2 * CHATD_REPLAY_MAX + 4 * RING) /* replayed messages recorded */
#define FS_ROOMS  8                                 /* rooms the fake store holds */
#define FS_TEXT   64                                /* bytes of a text the fake keeps */

/* --- the fake store --- */

/* One stored message. */
struct fmsg {
	uint64_t epoch;
	uint64_t seq;
	uint64_t time_ms;
	uint64_t order; /* when it reached the store, counted over all rooms */
	char from[CORE_NICK_MAX + 1];
	char text[FS_TEXT];
};

/* One stored room, by its folded key. */
struct froom {
	char key[CORE_ROOM_MAX + 1];
	char name[CORE_ROOM_MAX + 1]; /* as its creator spelled it */
	uint8_t name_len;
	uint64_t epoch;
	uint64_t seq; /* the last seq stored */
	char topic[CORE_TOPIC_MAX];
	uint16_t topic_len;
	char topic_by[CORE_NICK_MAX + 1];
	uint64_t topic_ms;
	unsigned topics; /* topic writes taken */
	struct fmsg *msgs;
	size_t n, cap;
};

struct fstore {
	struct froom rooms[FS_ROOMS];
	int nrooms;
	uint64_t orders; /* messages taken so far */
	int fail_load;   /* room_load answers -1 */
	int fail_range;  /* range answers -1 */
	int unwritable;  /* writable answers 0 */
	unsigned loads;  /* calls of room_load */
	unsigned ranges; /* calls of range */
};

/* The stored room of key[0, n), or NULL. */
static struct froom *
fs_find(struct fstore *fs, const char *key, size_t n)
{
	int i;

	for (i = 0; i < fs->nrooms; i++)
		if (strlen(fs->rooms[i].key) == n && memcmp(fs->rooms[i].key, key, n) == 0)
			return &fs->rooms[i];
	return NULL;
}

/* The stored room of that name, created (empty) when absent. */
static struct froom *
fs_room(struct fstore *fs, const char *name, size_t n)
{
	char key[CORE_ROOM_MAX + 1];
	struct froom *r;
	size_t i;

	assert_true(n <= CORE_ROOM_MAX);
	for (i = 0; i < n; i++)
		key[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
	key[n] = '\0';
	if ((r = fs_find(fs, key, n)) != NULL)
		return r;
	assert_true(fs->nrooms < FS_ROOMS);
	r = &fs->rooms[fs->nrooms++];
	memset(r, 0, sizeof(*r));
	memcpy(r->key, key, n + 1);
	memcpy(r->name, name, n);
	r->name_len = (uint8_t)n;
	return r;
}

/* Append a message to a stored room. */
static void
fs_append(struct fstore *fs, struct froom *r, uint64_t epoch, uint64_t seq, uint64_t time_ms,
          const char *from, const char *text, size_t tn)
{
	struct fmsg *fm;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->msgs = realloc(r->msgs, r->cap * sizeof(*r->msgs));
		assert_non_null(r->msgs);
	}
	fm = &r->msgs[r->n++];
	memset(fm, 0, sizeof(*fm));
	fm->epoch = epoch;
	fm->seq = seq;
	fm->time_ms = time_ms;
	fm->order = ++fs->orders;
	snprintf(fm->from, sizeof(fm->from), "%s", from);
	assert_true(tn < sizeof(fm->text));
	memcpy(fm->text, text, tn);
	r->epoch = epoch;
	r->seq = seq;
}

/* Put messages first..last of room name, epoch epoch, into the store
 * directly, as a previous run would have: from "alice", text "m<seq>". */
static void
fs_add(struct fstore *fs, const char *name, uint64_t epoch, uint64_t first, uint64_t last)
{
	struct froom *r = fs_room(fs, name, strlen(name));
	char text[32];
	uint64_t s;

	for (s = first; s <= last; s++) {
		int tn = snprintf(text, sizeof(text), "m%llu", (unsigned long long)s);

		fs_append(fs, r, epoch, s, T0 - 100000 + s, "alice", text, (size_t)tn);
	}
}

/* Forget the k oldest messages of the room of folded key (retention). */
static void
fs_drop_oldest(struct fstore *fs, const char *key, size_t k)
{
	struct froom *r = fs_find(fs, key, strlen(key));

	assert_non_null(r);
	assert_true(k <= r->n);
	memmove(r->msgs, r->msgs + k, (r->n - k) * sizeof(*r->msgs));
	r->n -= k;
}

/* Forget every stored room. */
static void
fs_free(struct fstore *fs)
{
	int i;

	for (i = 0; i < fs->nrooms; i++)
		free(fs->rooms[i].msgs);
	memset(fs, 0, sizeof(*fs));
}

/* Messages held, all rooms. */
static size_t
fs_total(const struct fstore *fs)
{
	size_t n = 0;
	int i;

	for (i = 0; i < fs->nrooms; i++)
		n += fs->rooms[i].n;
	return n;
}

/* The hook room_load: 1 with *out filled, 0 when absent, -1 when failing. */
static int
fs_room_load(void *arg, const char *key, size_t n, struct core_stored_room *out)
{
	struct fstore *fs = arg;
	const struct froom *r;

	fs->loads++;
	if (fs->fail_load)
		return -1;
	if ((r = fs_find(fs, key, n)) == NULL)
		return 0;
	memset(out, 0, sizeof(*out));
	memcpy(out->name, r->name, r->name_len);
	out->name_len = r->name_len;
	out->epoch = r->epoch;
	out->seq = r->seq;
	memcpy(out->topic, r->topic, r->topic_len);
	out->topic_len = r->topic_len;
	memcpy(out->topic_by, r->topic_by, sizeof(r->topic_by));
	out->topic_by_len = (uint8_t)strlen(r->topic_by);
	out->topic_ms = r->topic_ms;
	return 1;
}

/* Whether fm is of epoch with after < seq < before. */
static int
fs_match(const struct fmsg *fm, uint64_t epoch, uint64_t after, uint64_t before)
{
	return fm->epoch == epoch && fm->seq > after && fm->seq < before;
}

/* The hook range: the newest max messages of that epoch with after < seq
 * < before, oldest first, each a new message with one reference. */
static int
fs_range(void *arg, const char *key, size_t n, uint64_t epoch, uint64_t after, uint64_t before,
         struct msg **out, unsigned max, int oldest)
{
	struct fstore *fs = arg;
	const struct froom *r;
	unsigned got = 0, k = 0;
	size_t i;

	fs->ranges++;
	if (fs->fail_range)
		return -1;
	if ((r = fs_find(fs, key, n)) == NULL)
		return 0;
	/* The oldest max: from the start; else back from the newest until
	 * max match, i stopping at the oldest of them. */
	if (oldest)
		for (i = 0; i < r->n && got < max; i++)
			got += fs_match(&r->msgs[i], epoch, after, before);
	else
		for (i = r->n; i > 0 && got < max;)
			if (fs_match(&r->msgs[--i], epoch, after, before))
				got++;
	if (oldest)
		i = 0;
	for (; i < r->n && k < got; i++) {
		const struct fmsg *fm = &r->msgs[i];
		struct msg *m;

		if (!fs_match(fm, epoch, after, before))
			continue;
		m = msg_new(r->name, r->name_len, fm->from, strlen(fm->from), fm->text,
		            strlen(fm->text), fm->seq, fm->time_ms, 0);
		m->epoch = fm->epoch;
		out[k++] = m;
	}
	assert_int_equal(k, got);
	return (int)got;
}

/* The hook message: keep a copy of m under r's key. */
static void
fs_message(void *arg, const struct room *room, struct msg *m)
{
	struct fstore *fs = arg;
	struct froom *r;

	assert_false(m->direct);
	assert_int_equal(m->room_len, room_name_len(room));
	assert_memory_equal(m->room, room_name(room), m->room_len);
	assert_int_equal(m->epoch, room_epoch(room));
	assert_int_equal(m->seq, room_last_seq(room));
	r = fs_room(fs, room_name(room), room_name_len(room));
	/* The core hands the store its folded key: the fake files by it. */
	assert_string_equal(r->key, room_key(room));
	fs_append(fs, r, m->epoch, m->seq, m->time_ms, m->from, m->text, m->text_len);
}

/* The hook topic: the room's topic as it is now, with its row. */
static void
fs_topic(void *arg, const struct room *room)
{
	struct fstore *fs = arg;
	struct froom *r = fs_room(fs, room_name(room), room_name_len(room));
	const char *by, *text;
	uint64_t ms;
	size_t n;

	text = room_topic(room, &n, &by, &ms);
	r->epoch = room_epoch(room);
	memcpy(r->topic, text, n);
	r->topic_len = (uint16_t)n;
	snprintf(r->topic_by, sizeof(r->topic_by), "%s", by);
	r->topic_ms = ms;
	r->topics++;
}

/* The hook writable. */
static int
fs_writable(void *arg)
{
	const struct fstore *fs = arg;

	return !fs->unwritable;
}

/* --- the recorder --- */

/* One message delivered to one client. */
struct ev {
	int who;
	int direct;
	uint64_t seq;
	char room[CORE_ROOM_MAX + 1];
	char text[FS_TEXT];
};

static struct ev evs[MAXEV];
static int nev;

/* One message of the last join's replay, copied in done(): the ones from
 * the store are borrowed only for the callback. */
struct rp {
	uint64_t seq;
	uint64_t epoch;
	uint64_t time_ms;
	char room[CORE_ROOM_MAX + 1];
	char from[CORE_NICK_MAX + 1];
	char text[FS_TEXT];
};

static struct rp replay[MAXREPLAY];
static unsigned nreplay;

/* The last completion any session received. */
static struct core_reply done;

struct client {
	int id;
	struct session *s; /* NULL once ended */
};

/* Log a copy of m for the client ctx. */
static void
record_message(void *ctx, struct msg *m)
{
	struct ev *e;

	assert_true(nev < MAXEV);
	e = &evs[nev++];
	memset(e, 0, sizeof(*e));
	e->who = ((struct client *)ctx)->id;
	e->direct = m->direct;
	e->seq = m->seq;
	snprintf(e->room, sizeof(e->room), "%s", m->room);
	snprintf(e->text, sizeof(e->text), "%s", m->text);
}

/* Presence is not what these tests look at. */
static void
record_presence(void *ctx, struct pres *p)
{
	(void)ctx;
	(void)p;
}

/* Keep the completion, and a join's replay copied while it is lent. */
static void
record_done(void *ctx, const struct core_reply *r)
{
	unsigned i;

	(void)ctx;
	done = *r;
	if (r->cmd != CMD_JOIN || r->err != 0)
		return;
	nreplay = 0;
	assert_true(r->joined.hist_count <= MAXREPLAY);
	for (i = 0; i < r->joined.hist_count; i++) {
		const struct msg *m = core_joined_msg(&r->joined, i);
		struct rp *p = &replay[nreplay++];

		assert_non_null(m);
		assert_true(m->refs >= 1);
		p->seq = m->seq;
		p->epoch = m->epoch;
		p->time_ms = m->time_ms;
		snprintf(p->room, sizeof(p->room), "%s", m->room);
		snprintf(p->from, sizeof(p->from), "%s", m->from);
		snprintf(p->text, sizeof(p->text), "%s", m->text);
	}
}

static const struct sink recorder = {record_message, record_presence, record_done, NULL};

/* --- the fixture --- */

static const struct core_limits limits = {
        .history_len = RING,
        .room_linger_ms = LINGER,
        .room_linger_solo_ms = UINT64_MAX,
        .max_text = 4096,
        .max_rooms = 64,
        .max_members = 0,
};

struct fx {
	struct core *c;
	struct client cl[MAXCL];
	struct fstore fs;
	struct core_store hooks;
};

/* A core with the fixture's limits and clock, over the fake store or none. */
static struct core *
new_core(struct fx *f, uint64_t seed, int with_store)
{
	struct core *c = core_new(&limits, seed);

	core_set_time(c, T0);
	if (with_store)
		core_set_store(c, &f->hooks);
	return c;
}

/* A fixture whose core has the fake store under it, or none. */
static int
setup_with(void **state, int with_store)
{
	struct fx *f = calloc(1, sizeof(*f));
	int i;

	if (f == NULL)
		return -1;
	f->hooks = (struct core_store){.room_load = fs_room_load,
	                               .range = fs_range,
	                               .message = fs_message,
	                               .topic = fs_topic,
	                               .writable = fs_writable,
	                               .arg = &f->fs};
	f->c = new_core(f, SEED, with_store);
	for (i = 0; i < MAXCL; i++)
		f->cl[i].id = i;
	nev = 0;
	nreplay = 0;
	memset(&done, 0, sizeof(done));
	*state = f;
	return 0;
}

/* A fresh core over an empty fake store. */
static int
setup(void **state)
{
	return setup_with(state, 1);
}

/* A fresh core without a store. */
static int
setup_nostore(void **state)
{
	return setup_with(state, 0);
}

/* End every session still open. */
static void
end_all(struct fx *f)
{
	int i;

	for (i = 0; i < MAXCL; i++)
		if (f->cl[i].s) {
			core_session_end(f->c, f->cl[i].s, 0, 0);
			f->cl[i].s = NULL;
		}
}

/* End every session, free the core and the fake store. */
static int
teardown(void **state)
{
	struct fx *f = *state;

	end_all(f);
	core_free(f->c);
	fs_free(&f->fs);
	free(f);
	return 0;
}

/* A "restart": every session gone and the core freed; a new core, with a
 * new epoch seed, over the same store contents. */
static void
restart(struct fx *f)
{
	end_all(f);
	core_free(f->c);
	f->c = new_core(f, SEED2, 1);
	nev = 0;
}

/* Client i, registered as nick. */
static struct session *
user(struct fx *f, int i, const char *nick)
{
	assert_null(f->cl[i].s);
	f->cl[i].s = core_session_new(f->c, &recorder, &f->cl[i]);
	assert_non_null(f->cl[i].s);
	core_hello(f->c, f->cl[i].s, nick, strlen(nick), 0);
	assert_int_equal(done.err, 0);
	return f->cl[i].s;
}

/* Client i joins room with the cursor (epoch, since); returns the result. */
static int
join_cursor(struct fx *f, int i, const char *room, uint64_t epoch, uint64_t since,
            struct core_joined *out)
{
	memset(&done, 0, sizeof(done));
	nreplay = 0;
	core_join(f->c, f->cl[i].s, room, strlen(room), epoch, since, 0);
	assert_int_equal(done.cmd, CMD_JOIN);
	*out = done.joined; /* zeroed by a refusal */
	return done.err;
}

/* Client i joins room with no cursor, which must succeed. */
static struct core_joined
join(struct fx *f, int i, const char *room)
{
	struct core_joined j;

	assert_int_equal(join_cursor(f, i, room, 0, 0, &j), 0);
	return j;
}

/* Client i says text in room; returns the result, *ack the ack. */
static int
say_ack(struct fx *f, int i, const char *room, const char *text, struct core_ack *ack)
{
	memset(&done, 0, sizeof(done));
	core_say(f->c, f->cl[i].s, room, strlen(room), text, strlen(text), 0);
	assert_int_equal(done.cmd, CMD_SAY);
	*ack = done.ack;
	return done.err;
}

/* Client i says text in room, which must succeed; returns the seq. */
static uint64_t
say(struct fx *f, int i, const char *room, const char *text)
{
	struct core_ack ack;

	assert_int_equal(say_ack(f, i, room, text, &ack), 0);
	return ack.seq;
}

/* Client i says "m<seq>" n times in room, the seqs following from the
 * room's last one. */
static void
say_n(struct fx *f, int i, const char *room, unsigned n)
{
	struct room *r = core_room_find(f->c, room, strlen(room));
	char text[32];
	unsigned k;

	assert_non_null(r);
	for (k = 0; k < n; k++) {
		uint64_t next = room_last_seq(r) + 1;

		snprintf(text, sizeof(text), "m%llu", (unsigned long long)next);
		assert_int_equal(say(f, i, room, text), next);
	}
}

/* Message deliveries to who. */
static int
count_msgs(int who)
{
	int i, n = 0;

	for (i = 0; i < nev; i++)
		if (evs[i].who == who)
			n++;
	return n;
}

/* Whether text is "m<seq>". */
static void
assert_text_of(const char *text, uint64_t seq)
{
	char want[32];

	snprintf(want, sizeof(want), "m%llu", (unsigned long long)seq);
	assert_string_equal(text, want);
}

/* The recorded replay is exactly seqs first..last of epoch, "m<seq>". */
static void
assert_replay(uint64_t first, uint64_t last, uint64_t epoch)
{
	unsigned i;

	assert_int_equal(nreplay, last - first + 1);
	for (i = 0; i < nreplay; i++) {
		assert_int_equal(replay[i].seq, first + i);
		assert_int_equal(replay[i].epoch, epoch);
		assert_text_of(replay[i].text, first + i);
	}
}

/* v[0, n) are seqs first, first + 1, ... of epoch, "m<seq>", each with a
 * reference of the caller's: checked and released. */
static void
assert_run(struct msg **v, int n, uint64_t first, uint64_t epoch)
{
	int i;

	assert_true(n >= 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(v[i]->seq, first + (uint64_t)i);
		assert_int_equal(v[i]->epoch, epoch);
		assert_false(v[i]->direct);
		assert_text_of(v[i]->text, first + (uint64_t)i);
		assert_true(v[i]->refs >= 1);
	}
	for (i = 0; i < n; i++)
		msg_unref(v[i]);
}

/* The ring of r holds exactly seqs first..last, each with one reference. */
static void
assert_ring(const struct room *r, uint64_t first, uint64_t last)
{
	const struct history *h = room_history(r);
	unsigned i;

	assert_int_equal(history_len(h), last - first + 1);
	for (i = 0; i < history_len(h); i++) {
		assert_int_equal(history_at(h, i)->seq, first + i);
		assert_int_equal(history_at(h, i)->epoch, room_epoch(r));
		assert_int_equal(history_at(h, i)->refs, 1);
		assert_text_of(history_at(h, i)->text, first + i);
	}
}

/* --- 1. what goes into the store --- */

static void
room_messages_reach_the_store_in_order_with_key_epoch_seq_time_sender_text(void **state)
{
	struct fx *f = *state;
	struct core_joined lobby, den;
	const struct froom *r;

	user(f, 0, "alice");
	user(f, 1, "Bob");
	lobby = join(f, 0, "Lobby");
	join(f, 1, "lobby");
	den = join(f, 0, "Den");
	join(f, 1, "DEN");
	assert_int_not_equal(lobby.epoch, den.epoch);

	core_set_time(f->c, T0 + 1);
	assert_int_equal(say(f, 0, "lobby", "one"), 1);
	core_set_time(f->c, T0 + 2);
	assert_int_equal(say(f, 1, "Den", "two"), 1);
	core_set_time(f->c, T0 + 3);
	assert_int_equal(say(f, 1, "LOBBY", "three"), 2);

	assert_int_equal(f->fs.nrooms, 2);
	assert_int_equal(fs_total(&f->fs), 3);
	r = fs_find(&f->fs, "lobby", 5);
	assert_non_null(r);
	assert_string_equal(r->name, "Lobby");
	assert_int_equal(r->epoch, lobby.epoch);
	assert_int_equal(r->seq, 2);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->msgs[0].order, 1);
	assert_int_equal(r->msgs[0].epoch, lobby.epoch);
	assert_int_equal(r->msgs[0].seq, 1);
	assert_int_equal(r->msgs[0].time_ms, T0 + 1);
	assert_string_equal(r->msgs[0].from, "alice");
	assert_string_equal(r->msgs[0].text, "one");
	assert_int_equal(r->msgs[1].order, 3);
	assert_int_equal(r->msgs[1].epoch, lobby.epoch);
	assert_int_equal(r->msgs[1].seq, 2);
	assert_int_equal(r->msgs[1].time_ms, T0 + 3);
	assert_string_equal(r->msgs[1].from, "Bob");
	assert_string_equal(r->msgs[1].text, "three");

	r = fs_find(&f->fs, "den", 3);
	assert_non_null(r);
	assert_string_equal(r->name, "Den");
	assert_int_equal(r->epoch, den.epoch);
	assert_int_equal(r->seq, 1);
	assert_int_equal(r->n, 1);
	assert_int_equal(r->msgs[0].order, 2);
	assert_int_equal(r->msgs[0].epoch, den.epoch);
	assert_int_equal(r->msgs[0].seq, 1);
	assert_int_equal(r->msgs[0].time_ms, T0 + 2);
	assert_string_equal(r->msgs[0].from, "Bob");
	assert_string_equal(r->msgs[0].text, "two");

	/* A direct message is delivered and not stored. */
	nev = 0;
	core_direct(f->c, f->cl[0].s, "bob", 3, "psst", 4, 0);
	assert_int_equal(done.cmd, CMD_DIRECT);
	assert_int_equal(done.err, 0);
	assert_int_equal(count_msgs(1), 1);
	assert_true(evs[0].direct);
	assert_string_equal(evs[0].text, "psst");
	assert_int_equal(f->fs.nrooms, 2);
	assert_int_equal(fs_total(&f->fs), 3);
	assert_int_equal(f->fs.orders, 3);
	/* So is one to oneself. */
	core_direct(f->c, f->cl[0].s, "ALICE", 5, "note", 4, 0);
	assert_int_equal(done.err, 0);
	assert_int_equal(fs_total(&f->fs), 3);
}

/* --- 2. a restart --- */

static void
restart_brings_a_room_back_with_name_epoch_seq_and_newest_ring(void **state)
{
	struct fx *f = *state;
	struct core_joined j, j2;
	const struct froom *st;
	unsigned loads;
	uint64_t epoch;

	user(f, 0, "alice");
	j = join(f, 0, "Lobby");
	epoch = j.epoch;
	assert_int_equal(epoch, SEED);
	say_n(f, 0, "Lobby", 25);
	assert_int_equal(fs_total(&f->fs), 25);

	restart(f);
	assert_null(core_room_lookup(f->c, "lobby", 5));
	loads = f->fs.loads;

	user(f, 1, "bob");
	j = join(f, 1, "LOBBY");
	assert_int_equal(f->fs.loads, loads + 1);
	/* Named as its creator spelled it, in the completion and the room. */
	assert_int_equal(done.arg_len, 5);
	assert_memory_equal(done.arg, "Lobby", 5);
	assert_string_equal(room_name(j.room), "Lobby");
	assert_int_equal(j.epoch, epoch);
	assert_int_equal(room_epoch(j.room), epoch);
	assert_int_equal(j.last_seq, 25);
	assert_int_equal(room_last_seq(j.room), 25);
	assert_int_equal(j.members, 1);
	assert_int_equal(j.flags, 0);
	/* The ring holds the newest RING, contiguous; a join without a
	 * cursor replays them. */
	assert_ring(j.room, 25 - RING + 1, 25);
	assert_replay(25 - RING + 1, 25, epoch);
	assert_string_equal(replay[0].room, "Lobby");
	assert_string_equal(replay[0].from, "alice");

	/* A second joiner finds the room in memory: no second load. */
	user(f, 2, "carol");
	j2 = join(f, 2, "lobby");
	assert_ptr_equal(j2.room, j.room);
	assert_int_equal(j2.members, 2);
	assert_int_equal(f->fs.loads, loads + 1);

	/* New messages continue the sequence, in the same epoch, and are
	 * stored after the old ones. */
	assert_int_equal(say(f, 2, "Lobby", "m26"), 26);
	assert_int_equal(say(f, 1, "lobby", "m27"), 27);
	st = fs_find(&f->fs, "lobby", 5);
	assert_non_null(st);
	assert_int_equal(st->n, 27);
	assert_int_equal(st->seq, 27);
	assert_int_equal(st->epoch, epoch);
	assert_int_equal(st->msgs[25].seq, 26);
	assert_int_equal(st->msgs[25].epoch, epoch);
	assert_string_equal(st->msgs[25].from, "carol");
	assert_int_equal(st->msgs[26].seq, 27);
	assert_ring(j.room, 27 - RING + 1, 27);
	/* Bob heard carol's message with its seq. */
	assert_int_equal(count_msgs(1), 1);
	assert_int_equal(evs[0].seq, 26);

	/* A room the store does not have is new, with an epoch of this run. */
	j2 = join(f, 2, "Fresh");
	assert_int_equal(j2.epoch, SEED2);
	assert_int_equal(j2.last_seq, 0);
	assert_int_equal(nreplay, 0);
}

static void
restart_brings_a_room_back_with_its_topic_and_a_down_store_refuses_one(void **state)
{
	struct fx *f = *state;
	const struct froom *st;
	struct core_joined j;
	const char *text, *by;
	uint64_t ms;
	size_t n;

	user(f, 0, "alice");
	join(f, 0, "Lobby");
	core_topic(f->c, f->cl[0].s, "lobby", 5, "plans for friday", 16, 7);
	assert_int_equal(done.cmd, CMD_TOPIC);
	assert_int_equal(done.err, 0);
	assert_int_equal(done.tag, 7);
	st = fs_find(&f->fs, "lobby", 5);
	assert_non_null(st);
	assert_int_equal(st->topics, 1);
	assert_memory_equal(st->topic, "plans for friday", 16);
	assert_string_equal(st->topic_by, "alice");

	/* A store that refuses messages refuses a topic too, and the room's
	 * topic stays what was stored. */
	f->fs.unwritable = 1;
	core_topic(f->c, f->cl[0].s, "lobby", 5, "lost", 4, 0);
	assert_int_equal(done.err, CORE_E_STORE);
	assert_int_equal(st->topics, 1);
	f->fs.unwritable = 0;

	restart(f);
	user(f, 1, "bob");
	j = join(f, 1, "LOBBY");
	text = room_topic(j.room, &n, &by, &ms);
	assert_int_equal(n, 16);
	assert_memory_equal(text, "plans for friday", 16);
	assert_string_equal(by, "alice");
	assert_int_equal(ms, T0);

	/* A room with no message yet is stored for its topic alone, and
	 * comes back with it and its epoch. */
	join(f, 1, "quiet");
	core_topic(f->c, f->cl[1].s, "quiet", 5, "shh", 3, 0);
	assert_int_equal(done.err, 0);
	restart(f);
	user(f, 2, "carol");
	j = join(f, 2, "quiet");
	assert_int_equal(j.epoch, SEED2);
	text = room_topic(j.room, &n, &by, NULL);
	assert_int_equal(n, 3);
	assert_memory_equal(text, "shh", 3);
	assert_string_equal(by, "bob");
	/* Cleared, and stored cleared. */
	core_topic(f->c, f->cl[2].s, "quiet", 5, "", 0, 0);
	assert_int_equal(done.err, 0);
	st = fs_find(&f->fs, "quiet", 5);
	assert_int_equal(st->topic_len, 0);
	room_topic(j.room, &n, &by, &ms);
	assert_int_equal(n, 0);
	assert_string_equal(by, "");
	assert_int_equal(ms, 0);
}

/* --- 3. joins with an old cursor --- */

static void
join_with_cursor_older_than_ring_replays_all_missed_from_store_then_ring(void **state)
{
	struct fx *f = *state;
	struct core_joined j;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, 60);
	user(f, 0, "alice");
	assert_int_equal(join_cursor(f, 0, "lobby", STORED_EP, 20, &j), 0);
	assert_int_equal(j.epoch, STORED_EP);
	assert_int_equal(j.last_seq, 60);
	assert_int_equal(j.flags, 0);
	assert_int_equal(j.hist_count, 40);
	assert_int_equal(j.nolder, 30); /* 21..50 from the store */
	assert_replay(21, 60, STORED_EP);
	assert_string_equal(replay[0].room, "Lobby");
	assert_string_equal(replay[0].from, "alice");
	assert_int_equal(replay[0].time_ms, T0 - 100000 + 21);
	assert_ring(j.room, 51, 60);

	/* Just before the ring: the store gives one. */
	user(f, 1, "bob");
	assert_int_equal(join_cursor(f, 1, "lobby", STORED_EP, 49, &j), 0);
	assert_int_equal(j.flags, 0);
	assert_replay(50, 60, STORED_EP);

	/* Within the ring: no store needed. */
	user(f, 2, "carol");
	f->fs.fail_range = 1;
	assert_int_equal(join_cursor(f, 2, "lobby", STORED_EP, 55, &j), 0);
	assert_int_equal(j.flags, 0);
	assert_int_equal(j.nolder, 0);
	assert_replay(56, 60, STORED_EP);
}

static void
join_with_cursor_replay_max_back_replays_all_of_it(void **state)
{
	struct fx *f = *state;
	uint64_t last = CHATD_REPLAY_MAX + 100, since = last - CHATD_REPLAY_MAX;
	struct core_joined j;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, last);
	user(f, 0, "alice");
	assert_int_equal(join_cursor(f, 0, "Lobby", STORED_EP, since, &j), 0);
	assert_int_equal(j.flags, 0);
	assert_int_equal(j.hist_count, CHATD_REPLAY_MAX);
	assert_replay(since + 1, last, STORED_EP);
}

/* docs/protocol.md 11.5: "the replay holds every message after since, up
 * to 1,000 (the newest 1,000 and TRUNCATED when more were missed".  Two
 * cursors: far back, and a few more than CHATD_REPLAY_MAX back but fewer
 * than it plus the ring; both replays are checked before either fails. */
static void
join_with_cursor_more_than_replay_max_back_is_truncated_to_the_newest(void **state)
{
	struct fx *f = *state;
	uint64_t last = CHATD_REPLAY_MAX + 100;
	uint64_t since[2] = {10, last - CHATD_REPLAY_MAX - RING / 2};
	char why[2][160];
	struct core_joined j;
	int i, bad = 0;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, last);
	for (i = 0; i < 2; i++) {
		why[i][0] = '\0';
		user(f, i, i ? "bob" : "alice");
		assert_int_equal(join_cursor(f, i, "Lobby", STORED_EP, since[i], &j), 0);
		assert_int_equal(j.last_seq, last);
		assert_true(nreplay > 0);
		if (j.flags != CORE_HIST_TRUNCATED || nreplay != CHATD_REPLAY_MAX ||
		    replay[0].seq != last - CHATD_REPLAY_MAX + 1) {
			snprintf(why[i], sizeof(why[i]),
			         "cursor %llu of %llu: replay of %u, seqs %llu..%llu, flags %u; ",
			         (unsigned long long)since[i], (unsigned long long)last, nreplay,
			         (unsigned long long)replay[0].seq,
			         (unsigned long long)replay[nreplay - 1].seq, j.flags);
			bad = 1;
			continue;
		}
		assert_replay(last - CHATD_REPLAY_MAX + 1, last, STORED_EP);
	}
	if (bad)
		fail_msg("%s%swanted the newest %u (%llu..%llu), flags TRUNCATED", why[0], why[1],
		         CHATD_REPLAY_MAX, (unsigned long long)(last - CHATD_REPLAY_MAX + 1),
		         (unsigned long long)last);
}

static void
join_with_store_range_failing_replays_only_the_ring_truncated(void **state)
{
	struct fx *f = *state;
	struct core_joined j;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, 60);
	user(f, 0, "alice");
	user(f, 1, "bob");
	join(f, 0, "Lobby"); /* brings it back, ring filled */
	f->fs.fail_range = 1;
	assert_int_equal(join_cursor(f, 1, "Lobby", STORED_EP, 20, &j), 0);
	assert_int_equal(j.flags, CORE_HIST_TRUNCATED);
	assert_int_equal(j.nolder, 0);
	assert_int_equal(j.hist_count, RING);
	assert_replay(51, 60, STORED_EP);
	assert_ring(j.room, 51, 60);
}

static void
join_with_cursor_before_what_the_store_kept_is_truncated(void **state)
{
	struct fx *f = *state;
	struct core_joined j;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, 60);
	fs_drop_oldest(&f->fs, "lobby", 20); /* 21..60 kept */
	user(f, 0, "alice");
	assert_int_equal(join_cursor(f, 0, "Lobby", STORED_EP, 5, &j), 0);
	assert_int_equal(j.flags, CORE_HIST_TRUNCATED);
	assert_replay(21, 60, STORED_EP);
}

/* --- 4. paging back --- */

static void
history_before_pages_back_through_ring_and_store_to_seq_1(void **state)
{
	struct fx *f = *state;
	struct msg *v[CORE_PAGE_MAX];
	uint64_t before = 0, want_last = 35;
	struct core_joined j;
	unsigned ranges;
	int n, more = -1, pages = 0;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, 35);
	user(f, 0, "alice");
	j = join(f, 0, "Lobby");
	assert_ring(j.room, 26, 35);

	/* Within the ring: the store is not asked. */
	ranges = f->fs.ranges;
	n = core_history_before(f->c, j.room, 0, 5, v, &more);
	assert_int_equal(n, 5);
	assert_int_equal(more, 1);
	assert_run(v, n, 31, STORED_EP);
	assert_int_equal(f->fs.ranges, ranges);

	/* Pages of 8 from the newest: 28..35, 20..27 (ring and store),
	 * 12..19, 4..11, 1..3. */
	do {
		uint64_t first = want_last > 8 ? want_last - 7 : 1;

		n = core_history_before(f->c, j.room, before, 8, v, &more);
		assert_int_equal(n, want_last - first + 1);
		assert_int_equal(more, first > 1);
		assert_run(v, n, first, STORED_EP);
		before = first;
		want_last = first - 1;
		pages++;
	} while (more);
	assert_int_equal(pages, 5);
	assert_int_equal(before, 1);

	/* From the ring's oldest: all from the store. */
	n = core_history_before(f->c, j.room, 26, 5, v, &more);
	assert_int_equal(n, 5);
	assert_int_equal(more, 1);
	assert_run(v, n, 21, STORED_EP);

	/* The ring's references are as they were. */
	assert_ring(j.room, 26, 35);
}

static void
history_before_clamps_limit_and_takes_before_beyond_last_seq_and_1(void **state)
{
	struct fx *f = *state;
	struct msg *v[CORE_PAGE_MAX];
	struct core_joined j;
	int n, more = -1;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, 150);
	user(f, 0, "alice");
	j = join(f, 0, "Lobby");

	n = core_history_before(f->c, j.room, 0, 1000, v, &more);
	assert_int_equal(n, CORE_PAGE_MAX);
	assert_int_equal(more, 1);
	assert_run(v, n, 150 - CORE_PAGE_MAX + 1, STORED_EP);

	n = core_history_before(f->c, j.room, 100000, 3, v, &more);
	assert_int_equal(n, 3);
	assert_int_equal(more, 1);
	assert_run(v, n, 148, STORED_EP);

	n = core_history_before(f->c, j.room, 151, 3, v, &more);
	assert_int_equal(n, 3);
	assert_run(v, n, 148, STORED_EP);

	more = -1;
	n = core_history_before(f->c, j.room, 1, 10, v, &more);
	assert_int_equal(n, 0);
	assert_int_equal(more, 0);

	n = core_history_before(f->c, j.room, 2, 10, v, &more);
	assert_int_equal(n, 1);
	assert_int_equal(more, 0);
	assert_run(v, n, 1, STORED_EP);

	/* Exactly what is left: no more. */
	n = core_history_before(f->c, j.room, 11, 10, v, &more);
	assert_int_equal(n, 10);
	assert_int_equal(more, 0);
	assert_run(v, n, 1, STORED_EP);
	assert_ring(j.room, 141, 150);
}

static void
history_before_without_store_stops_at_the_ring(void **state)
{
	struct fx *f = *state;
	struct msg *v[CORE_PAGE_MAX];
	struct core_joined j;
	int n, more = -1;

	user(f, 0, "alice");
	j = join(f, 0, "Lobby");
	say_n(f, 0, "Lobby", 25);
	assert_ring(j.room, 16, 25);

	n = core_history_before(f->c, j.room, 0, 8, v, &more);
	assert_int_equal(n, 8);
	assert_int_equal(more, 1);
	assert_run(v, n, 18, SEED);

	n = core_history_before(f->c, j.room, 18, 8, v, &more);
	assert_int_equal(n, 2);
	assert_int_equal(more, 0);
	assert_run(v, n, 16, SEED);

	more = -1;
	n = core_history_before(f->c, j.room, 16, 8, v, &more);
	assert_int_equal(n, 0);
	assert_int_equal(more, 0);

	n = core_history_before(f->c, j.room, 0, RING, v, &more);
	assert_int_equal(n, RING);
	assert_int_equal(more, 0);
	assert_run(v, n, 16, SEED);
	assert_ring(j.room, 16, 25);
	assert_int_equal(f->fs.ranges, 0);
	assert_int_equal(fs_total(&f->fs), 0);
}

static void
history_before_store_failure_returns_minus_1_and_leaks_nothing(void **state)
{
	struct fx *f = *state;
	struct msg *v[CORE_PAGE_MAX];
	struct core_joined j;
	int n, more = 0;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, 35);
	user(f, 0, "alice");
	j = join(f, 0, "Lobby");
	f->fs.fail_range = 1;

	n = core_history_before(f->c, j.room, 0, 20, v, &more);
	assert_int_equal(n, -1);
	/* The ring messages it had taken are given back. */
	assert_ring(j.room, 26, 35);

	n = core_history_before(f->c, j.room, 26, 5, v, &more);
	assert_int_equal(n, -1);

	/* What the ring holds is served all the same. */
	n = core_history_before(f->c, j.room, 0, 4, v, &more);
	assert_int_equal(n, 4);
	assert_int_equal(more, 1);
	assert_run(v, n, 32, STORED_EP);

	f->fs.fail_range = 0;
	n = core_history_before(f->c, j.room, 0, 20, v, &more);
	assert_int_equal(n, 20);
	assert_int_equal(more, 1);
	assert_run(v, n, 16, STORED_EP);
	assert_ring(j.room, 26, 35);
}

/* --- 5. reading forward --- */

static void
history_after_old_cursor_reads_the_oldest_from_store_then_ring(void **state)
{
	struct fx *f = *state;
	struct msg *v[CORE_PAGE_MAX];
	struct core_joined j;
	int n, truncated = -1;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, 60);
	user(f, 0, "alice");
	j = join(f, 0, "Lobby");
	assert_ring(j.room, 51, 60);

	n = core_history_after(f->c, j.room, 5, 10, v, &truncated);
	assert_int_equal(n, 10);
	assert_int_equal(truncated, 0);
	assert_run(v, n, 6, STORED_EP);

	/* Across the boundary: 46..50 from the store, 51..55 from the ring. */
	truncated = -1;
	n = core_history_after(f->c, j.room, 45, 10, v, &truncated);
	assert_int_equal(n, 10);
	assert_int_equal(truncated, 0);
	assert_run(v, n, 46, STORED_EP);

	truncated = -1;
	n = core_history_after(f->c, j.room, 0, 100, v, &truncated);
	assert_int_equal(n, 60);
	assert_int_equal(truncated, 0);
	assert_run(v, n, 1, STORED_EP);

	truncated = -1;
	n = core_history_after(f->c, j.room, 55, 10, v, &truncated);
	assert_int_equal(n, 5);
	assert_int_equal(truncated, 0);
	assert_run(v, n, 56, STORED_EP);

	truncated = -1;
	n = core_history_after(f->c, j.room, 60, 10, v, &truncated);
	assert_int_equal(n, 0);
	assert_int_equal(truncated, 0);

	/* A store failure is told, when the store is needed. */
	f->fs.fail_range = 1;
	n = core_history_after(f->c, j.room, 5, 10, v, &truncated);
	assert_int_equal(n, -1);
	assert_ring(j.room, 51, 60);
}

/* The store kept 21..60 of 1..60: reading after 5 gives the oldest kept,
 * 21..30, and says some after 5 are gone. */
static void
history_after_with_gap_in_store_gives_the_oldest_kept_truncated(void **state)
{
	struct fx *f = *state;
	struct msg *v[CORE_PAGE_MAX];
	struct core_joined j;
	int n, truncated = -1;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, 60);
	user(f, 0, "alice");
	j = join(f, 0, "Lobby");
	fs_drop_oldest(&f->fs, "lobby", 20);

	n = core_history_after(f->c, j.room, 5, 10, v, &truncated);
	assert_int_equal(truncated, 1);
	assert_true(n > 0);
	if (v[0]->seq != 21) {
		uint64_t first = v[0]->seq, last = v[n - 1]->seq;

		assert_run(v, n, first, STORED_EP);
		fail_msg("after 5 with the store holding 21..60: got %d messages, seqs %llu..%llu, "
		         "not 21..30",
		         n, (unsigned long long)first, (unsigned long long)last);
	}
	assert_int_equal(n, 10);
	assert_run(v, n, 21, STORED_EP);
}

/* The store kept 9..60 of 1..60: reading 10 after 5 gives 9..18. */
static void
history_after_with_partial_gap_gives_limit_messages_truncated(void **state)
{
	struct fx *f = *state;
	struct msg *v[CORE_PAGE_MAX];
	struct core_joined j;
	int n, truncated = -1;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, 60);
	user(f, 0, "alice");
	j = join(f, 0, "Lobby");
	fs_drop_oldest(&f->fs, "lobby", 8);

	n = core_history_after(f->c, j.room, 5, 10, v, &truncated);
	assert_int_equal(truncated, 1);
	assert_true(n > 0);
	assert_int_equal(v[0]->seq, 9);
	if (n != 10) {
		uint64_t last = v[n - 1]->seq;

		assert_run(v, n, 9, STORED_EP);
		fail_msg("after 5 with the store holding 9..60, limit 10: got %d messages, "
		         "seqs 9..%llu, not 9..18",
		         n, (unsigned long long)last);
	}
	assert_run(v, n, 9, STORED_EP);
}

static void
history_after_within_what_the_store_kept_is_not_truncated(void **state)
{
	struct fx *f = *state;
	struct msg *v[CORE_PAGE_MAX];
	struct core_joined j;
	int n, truncated = -1;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, 60);
	user(f, 0, "alice");
	j = join(f, 0, "Lobby");
	fs_drop_oldest(&f->fs, "lobby", 20);

	n = core_history_after(f->c, j.room, 20, 10, v, &truncated);
	assert_int_equal(n, 10);
	assert_int_equal(truncated, 0);
	assert_run(v, n, 21, STORED_EP);
}

/* --- 6. a store that cannot write or read --- */

static void
say_when_store_not_writable_is_store_error_and_nothing_happens(void **state)
{
	struct fx *f = *state;
	struct core_joined j;
	struct core_ack ack;
	uint64_t count;

	user(f, 0, "alice");
	user(f, 1, "bob");
	j = join(f, 0, "Lobby");
	join(f, 1, "Lobby");
	assert_int_equal(say(f, 0, "Lobby", "m1"), 1);
	assert_int_equal(count_msgs(1), 1);
	count = core_message_count(f->c);

	f->fs.unwritable = 1;
	ack.seq = 99;
	assert_int_equal(say_ack(f, 0, "Lobby", "lost", &ack), CORE_E_STORE);
	assert_int_equal(ack.seq, 0);
	assert_null(done.msg);
	assert_int_equal(count_msgs(1), 1);
	assert_int_equal(count_msgs(0), 0);
	assert_int_equal(fs_total(&f->fs), 1);
	assert_int_equal(room_last_seq(j.room), 1);
	assert_int_equal(core_message_count(f->c), count);
	assert_ring(j.room, 1, 1);

	/* Direct messages are not stored: they go through. */
	core_direct(f->c, f->cl[0].s, "bob", 3, "psst", 4, 0);
	assert_int_equal(done.err, 0);
	assert_int_equal(count_msgs(1), 2);

	/* Writable again: the sequence goes on without a gap. */
	f->fs.unwritable = 0;
	assert_int_equal(say(f, 1, "Lobby", "m2"), 2);
	assert_int_equal(count_msgs(0), 1);
	assert_int_equal(fs_total(&f->fs), 2);
	assert_int_equal(fs_find(&f->fs, "lobby", 5)->msgs[1].seq, 2);
	assert_ring(j.room, 1, 2);
}

static void
join_of_room_store_cannot_read_is_store_error_and_creates_no_room(void **state)
{
	struct fx *f = *state;
	struct core_joined j;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, 30);
	user(f, 0, "alice");

	f->fs.fail_load = 1;
	assert_int_equal(join_cursor(f, 0, "Lobby", 0, 0, &j), CORE_E_STORE);
	assert_null(j.room);
	assert_null(core_room_lookup(f->c, "Lobby", 5));
	assert_int_equal(core_room_total(f->c), 0);
	assert_int_equal(session_room_count(f->cl[0].s), 0);
	/* Nor a room it may not have: it cannot tell. */
	assert_int_equal(join_cursor(f, 0, "Elsewhere", 0, 0, &j), CORE_E_STORE);
	assert_int_equal(core_room_total(f->c), 0);

	/* Its messages cannot be read: the same. */
	f->fs.fail_load = 0;
	f->fs.fail_range = 1;
	assert_int_equal(join_cursor(f, 0, "Lobby", 0, 0, &j), CORE_E_STORE);
	assert_null(core_room_lookup(f->c, "Lobby", 5));
	assert_int_equal(core_room_total(f->c), 0);
	assert_int_equal(session_room_count(f->cl[0].s), 0);

	/* Back: the stored room. */
	f->fs.fail_range = 0;
	assert_int_equal(join_cursor(f, 0, "lobby", 0, 0, &j), 0);
	assert_int_equal(j.epoch, STORED_EP);
	assert_int_equal(j.last_seq, 30);
	assert_string_equal(room_name(j.room), "Lobby");
	assert_ring(j.room, 21, 30);
	assert_int_equal(core_room_total(f->c), 1);
}

static void
room_open_reads_a_stored_room_back_as_lingering(void **state)
{
	struct fx *f = *state;
	struct core_joined j;
	unsigned loads;
	struct room *r;
	int err = -1;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, 30);
	fs_add(&f->fs, "Other", STORED_EP + 1, 1, 3);

	r = core_room_open(f->c, "LOBBY", 5, &err);
	assert_non_null(r);
	assert_int_equal(err, 0);
	assert_string_equal(room_name(r), "Lobby");
	assert_int_equal(room_epoch(r), STORED_EP);
	assert_int_equal(room_last_seq(r), 30);
	assert_int_equal(room_member_count(r), 0);
	assert_ring(r, 21, 30);
	/* Lingering: looked up, not listed. */
	assert_null(core_room_find(f->c, "Lobby", 5));
	assert_ptr_equal(core_room_lookup(f->c, "lobby", 5), r);
	assert_int_equal(core_room_count(f->c), 0);
	assert_int_equal(core_room_total(f->c), 1);
	loads = f->fs.loads;

	/* Again: the room in memory, not read twice. */
	err = -1;
	assert_ptr_equal(core_room_open(f->c, "Lobby", 5, &err), r);
	assert_int_equal(err, 0);
	assert_int_equal(f->fs.loads, loads);

	/* Unknown: none, and no error. */
	err = -1;
	assert_null(core_room_open(f->c, "Nowhere", 7, &err));
	assert_int_equal(err, 0);
	assert_int_equal(core_room_total(f->c), 1);

	/* The store cannot tell. */
	f->fs.fail_load = 1;
	err = 0;
	assert_null(core_room_open(f->c, "Other", 5, &err));
	assert_int_equal(err, CORE_E_STORE);
	assert_null(core_room_lookup(f->c, "Other", 5));
	/* A room in memory needs no store. */
	err = -1;
	assert_ptr_equal(core_room_open(f->c, "lobby", 5, &err), r);
	assert_int_equal(err, 0);
	f->fs.fail_load = 0;

	/* Its messages cannot be read. */
	f->fs.fail_range = 1;
	err = 0;
	assert_null(core_room_open(f->c, "Other", 5, &err));
	assert_int_equal(err, CORE_E_STORE);
	assert_null(core_room_lookup(f->c, "Other", 5));
	assert_int_equal(core_room_total(f->c), 1);
	f->fs.fail_range = 0;

	/* A join makes the opened room active, as it was. */
	user(f, 0, "alice");
	loads = f->fs.loads;
	j = join(f, 0, "Lobby");
	assert_ptr_equal(j.room, r);
	assert_int_equal(j.epoch, STORED_EP);
	assert_int_equal(j.last_seq, 30);
	assert_ptr_equal(core_room_find(f->c, "lobby", 5), r);
	assert_int_equal(core_room_count(f->c), 1);
	assert_int_equal(say(f, 0, "Lobby", "m31"), 31);
	assert_int_equal(f->fs.loads, loads);
}

static void
room_open_without_store_is_none(void **state)
{
	struct fx *f = *state;
	int err = -1;

	fs_add(&f->fs, "Lobby", STORED_EP, 1, 30);
	assert_null(core_room_open(f->c, "Lobby", 5, &err));
	assert_int_equal(err, 0);
	assert_int_equal(f->fs.loads, 0);
	assert_int_equal(core_room_total(f->c), 0);
}

int
main(void)
{
#define T(name)  cmocka_unit_test_setup_teardown(name, setup, teardown)
#define TN(name) cmocka_unit_test_setup_teardown(name, setup_nostore, teardown)
	const struct CMUnitTest tests[] = {
	        T(room_messages_reach_the_store_in_order_with_key_epoch_seq_time_sender_text),
	        T(restart_brings_a_room_back_with_name_epoch_seq_and_newest_ring),
	        T(restart_brings_a_room_back_with_its_topic_and_a_down_store_refuses_one),
	        T(join_with_cursor_older_than_ring_replays_all_missed_from_store_then_ring),
	        T(join_with_cursor_replay_max_back_replays_all_of_it),
	        T(join_with_cursor_more_than_replay_max_back_is_truncated_to_the_newest),
	        T(join_with_store_range_failing_replays_only_the_ring_truncated),
	        T(join_with_cursor_before_what_the_store_kept_is_truncated),
	        T(history_before_pages_back_through_ring_and_store_to_seq_1),
	        T(history_before_clamps_limit_and_takes_before_beyond_last_seq_and_1),
	        TN(history_before_without_store_stops_at_the_ring),
	        T(history_before_store_failure_returns_minus_1_and_leaks_nothing),
	        T(history_after_old_cursor_reads_the_oldest_from_store_then_ring),
	        T(history_after_with_gap_in_store_gives_the_oldest_kept_truncated),
	        T(history_after_with_partial_gap_gives_limit_messages_truncated),
	        T(history_after_within_what_the_store_kept_is_not_truncated),
	        T(say_when_store_not_writable_is_store_error_and_nothing_happens),
	        T(join_of_room_store_cannot_read_is_store_error_and_creates_no_room),
	        T(room_open_reads_a_stored_room_back_as_lingering),
	        TN(room_open_without_store_is_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
