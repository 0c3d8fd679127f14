/*
 * Unit tests of the chat core (src/core/): registration and the nick
 * index, rooms and membership, fan-out, per-room sequence numbers, history
 * cursors, limits, session ends, room linger, the sorted listings and room
 * topics.
 *
 * Each session's sink is a recorder: every delivery is logged as
 * (client, event kind, room, nick, seq, text), copied at once because the
 * core's objects may be freed after the call.  Tests then count and
 * inspect what each client received.  The fixture ends every session and
 * frees the core, so the sanitizer build also proves nothing leaks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "core/core.h"
#include "core/history.h"
#include "core/msg.h"

#define T0     1732440000000ULL /* the fixture's clock at start, unix ms */
#define SEED   1000u            /* the fixture's first room epoch */
#define LINGER 3600000u         /* the default room linger, ms */
#define MAXCL  16               /* clients per test */
#define MAXEV  8192             /* deliveries recorded per test */

/* One delivery to one client. */
struct ev {
	uint64_t seq;
	uint64_t time_ms;
	size_t text_len;
	int who;    /* client index */
	int kind;   /* presence: enum wire_presence; message: 1 if direct */
	int reason; /* presence drops */
	char type;  /* 'M' message, 'P' presence */
	char room[CORE_ROOM_MAX + 1];
	char nick[CORE_NICK_MAX + 1]; /* message sender or presence subject */
	char new_nick[CORE_NICK_MAX + 1];
	char text[64]; /* a prefix of the text */
};

static struct ev evs[MAXEV];
static int nev;

struct client {
	int id;
	struct session *s; /* NULL once ended */
};

struct fx {
	struct core *c;
	struct client cl[MAXCL];
};

/* The recorder's message callback: log a copy of m for the client ctx. */
static void
record_message(void *ctx, struct msg *m)
{
	struct ev *e;

	assert_true(nev < MAXEV);
	assert_true(m->refs >= 1);
	e = &evs[nev++];
	memset(e, 0, sizeof(*e));
	e->who = ((struct client *)ctx)->id;
	e->type = 'M';
	e->kind = m->direct;
	snprintf(e->room, sizeof(e->room), "%s", m->room);
	snprintf(e->nick, sizeof(e->nick), "%s", m->from);
	e->seq = m->seq;
	e->time_ms = m->time_ms;
	e->text_len = m->text_len;
	memcpy(e->text, m->text,
	       m->text_len < sizeof(e->text) - 1 ? m->text_len : sizeof(e->text) - 1);
}

/* The recorder's presence callback: log a copy of p for the client ctx. */
static void
record_presence(void *ctx, struct pres *p)
{
	struct ev *e;

	assert_true(nev < MAXEV);
	assert_true(p->refs >= 1);
	e = &evs[nev++];
	memset(e, 0, sizeof(*e));
	e->who = ((struct client *)ctx)->id;
	e->type = 'P';
	e->kind = p->kind;
	e->reason = p->reason;
	snprintf(e->room, sizeof(e->room), "%s", p->room);
	snprintf(e->nick, sizeof(e->nick), "%s", p->nick);
	snprintf(e->new_nick, sizeof(e->new_nick), "%s", p->new_nick);
	e->time_ms = p->time_ms;
	if (p->kind == PRES_TOPIC) {
		e->text_len = p->text_len;
		memcpy(e->text, p->text,
		       p->text_len < sizeof(e->text) - 1 ? p->text_len : sizeof(e->text) - 1);
	}
}

/* The last completion any session received: the in-memory core completes
 * every command before it returns. */
static struct core_reply done;

static void
record_done(void *ctx, const struct core_reply *r)
{
	(void)ctx;
	done = *r;
}

static const struct sink recorder = {record_message, record_presence, record_done, NULL};

/* The commands as the tests use them: the outcome returned. */
static int
t_hello(struct core *c, struct session *s, const char *nick, size_t n)
{
	core_hello(c, s, nick, n, 0);
	return done.err;
}

static int
t_nick(struct core *c, struct session *s, const char *nick, size_t n)
{
	core_nick(c, s, nick, n, 0);
	return done.err;
}

static int
t_join(struct core *c, struct session *s, const char *room, size_t n, uint64_t epoch,
       uint64_t since, struct core_joined *out)
{
	core_join(c, s, room, n, epoch, since, 0);
	*out = done.joined; /* zeroed by a refusal */
	return done.err;
}

static int
t_part(struct core *c, struct session *s, const char *room, size_t n)
{
	core_part(c, s, room, n, "", 0, 0);
	return done.err;
}

static int
t_say(struct core *c, struct session *s, const char *room, size_t n, const char *text, size_t tn,
      struct core_ack *ack)
{
	core_say(c, s, room, n, text, tn, 0);
	*ack = done.ack; /* zeroed by a refusal */
	return done.err;
}

static int
t_direct(struct core *c, struct session *s, const char *nick, size_t n, const char *text, size_t tn,
         struct core_ack *ack)
{
	core_direct(c, s, nick, n, text, tn, 0);
	*ack = done.ack; /* zeroed by a refusal */
	return done.err;
}

/* A sink that drops every delivery. */
static void
ignore_message(void *ctx, struct msg *m)
{
	(void)ctx;
	(void)m;
}

static void
ignore_presence(void *ctx, struct pres *p)
{
	(void)ctx;
	(void)p;
}

/* For a forked child, which must not reach cmocka's assertions. */
static const struct sink quiet = {ignore_message, ignore_presence, record_done, NULL};

static const struct core_limits default_limits = {
        .history_len = 50,
        .room_linger_ms = LINGER,
        .room_linger_solo_ms = UINT64_MAX, /* the shorter applies: not this one */
        .max_text = 4096,
        .max_rooms = 64,
        .max_members = 0,
};

/* A fresh core with the default limits, its clock at T0, no deliveries. */
static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int i;

	if (f == NULL)
		return -1;
	f->c = core_new(&default_limits, SEED);
	core_set_time(f->c, T0);
	for (i = 0; i < MAXCL; i++)
		f->cl[i].id = i;
	nev = 0;
	*state = f;
	return 0;
}

/* End every session still open and free the core. */
static int
teardown(void **state)
{
	struct fx *f = *state;
	int i;

	for (i = 0; i < MAXCL; i++)
		if (f->cl[i].s)
			core_session_end(f->c, f->cl[i].s, 0, 0);
	core_free(f->c);
	free(f);
	return 0;
}

/* A new, unregistered session for client i. */
static struct session *
sess(struct fx *f, int i)
{
	assert_null(f->cl[i].s);
	f->cl[i].s = core_session_new(f->c, &recorder, &f->cl[i]);
	assert_non_null(f->cl[i].s);
	return f->cl[i].s;
}

/* Client i, registered as nick. */
static struct session *
user(struct fx *f, int i, const char *nick)
{
	struct session *s = sess(f, i);

	assert_int_equal(t_hello(f->c, s, nick, strlen(nick)), 0);
	return s;
}

/* End client i's session, announcing kind and reason. */
static void
end(struct fx *f, int i, uint8_t kind, uint8_t reason)
{
	core_session_end(f->c, f->cl[i].s, kind, reason);
	f->cl[i].s = NULL;
}

/* Client i joins room with the cursor (epoch, since); returns the result. */
static int
join_cursor(struct fx *f, int i, const char *room, uint64_t epoch, uint64_t since,
            struct core_joined *out)
{
	return t_join(f->c, f->cl[i].s, room, strlen(room), epoch, since, out);
}

/* Client i joins room with no cursor, which must succeed. */
static struct core_joined
join(struct fx *f, int i, const char *room)
{
	struct core_joined j;

	memset(&j, 0, sizeof(j));
	assert_int_equal(join_cursor(f, i, room, 0, 0, &j), 0);
	return j;
}

/* Client i parts room; returns the result. */
static int
part(struct fx *f, int i, const char *room)
{
	return t_part(f->c, f->cl[i].s, room, strlen(room));
}

/* Client i says text[0, tn) in room; returns the result. */
static int
say_ack(struct fx *f, int i, const char *room, const char *text, size_t tn, struct core_ack *ack)
{
	return t_say(f->c, f->cl[i].s, room, strlen(room), text, tn, ack);
}

/* Client i says text in room, which must succeed; returns the seq. */
static uint64_t
say(struct fx *f, int i, const char *room, const char *text)
{
	struct core_ack ack = {0, 0};

	assert_int_equal(say_ack(f, i, room, text, strlen(text), &ack), 0);
	return ack.seq;
}

/* Client i sends text[0, tn) to nick; returns the result. */
static int
direct(struct fx *f, int i, const char *nick, const char *text, size_t tn, struct core_ack *ack)
{
	return t_direct(f->c, f->cl[i].s, nick, strlen(nick), text, tn, ack);
}

/* Client i sets the topic of room to text[0, tn); returns the result. */
static int
topic(struct fx *f, int i, const char *room, const char *text, size_t tn)
{
	memset(&done, 0, sizeof(done));
	core_topic(f->c, f->cl[i].s, room, strlen(room), text, tn, 42);
	assert_int_equal(done.cmd, CMD_TOPIC);
	assert_int_equal(done.tag, 42);
	return done.err;
}

/* Client i changes its nick to n; returns the result. */
static int
nick(struct fx *f, int i, const char *n)
{
	return t_nick(f->c, f->cl[i].s, n, strlen(n));
}

/* Deliveries of type to client who (type 0: any). */
static int
count(int who, char type)
{
	int i, n = 0;

	for (i = 0; i < nev; i++)
		if (evs[i].who == who && (type == 0 || evs[i].type == type))
			n++;
	return n;
}

/* Presence events of kind to who about nick in room. */
static int
count_pres(int who, int kind, const char *room, const char *nk)
{
	int i, n = 0;

	for (i = 0; i < nev; i++)
		if (evs[i].who == who && evs[i].type == 'P' && evs[i].kind == kind &&
		    strcmp(evs[i].room, room) == 0 && strcmp(evs[i].nick, nk) == 0)
			n++;
	return n;
}

/* The k-th delivery of type to who. */
static const struct ev *
nth(int who, char type, int k)
{
	int i, left = k;

	for (i = 0; i < nev; i++)
		if (evs[i].who == who && evs[i].type == type && left-- == 0)
			return &evs[i];
	fail_msg("client %d has no %c delivery number %d", who, type, k);
	return NULL;
}

/* The replay range of join result j holds exactly seqs first..last. */
static void
assert_replay(const struct core_joined *j, uint64_t first, uint64_t last)
{
	const struct history *h = room_history(j->room);
	unsigned i;

	assert_int_equal(j->hist_count, last >= first ? last - first + 1 : 0);
	assert_true(j->hist_from + j->hist_count <= history_len(h));
	for (i = 0; i < j->hist_count; i++)
		assert_int_equal(history_at(h, j->hist_from + i)->seq, first + i);
}

/* Post n messages "m1".."mn" from client i to room. */
static void
post_n(struct fx *f, int i, const char *room, int n)
{
	char text[16];
	int k;

	for (k = 1; k <= n; k++) {
		snprintf(text, sizeof(text), "m%d", k);
		say(f, i, room, text);
	}
}

/* --- registration --- */

static void
hello_registers_nick_as_spelled(void **state)
{
	struct fx *f = *state;
	struct session *s = sess(f, 0);

	assert_false(session_registered(s));
	assert_int_equal(t_hello(f->c, s, "Alice", 5), 0);
	assert_true(session_registered(s));
	assert_string_equal(session_nick(s), "Alice");
	assert_int_equal(session_nick_len(s), 5);
	assert_int_equal(core_user_count(f->c), 1);
	assert_int_equal(nev, 0); /* registration itself delivers nothing */
}

static void
hello_rejects_invalid_nick_and_allows_retry(void **state)
{
	static const char *const bad[] = {"",
	                                  "1abc",
	                                  "-x",
	                                  "a b",
	                                  "a.b",
	                                  "caf\xc3\xa9",
	                                  "abcdefghijklmnopqrstuvwxyz0123456"}; /* 33 */
	struct fx *f = *state;
	struct session *s = sess(f, 0);
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(t_hello(f->c, s, bad[i], strlen(bad[i])), CORE_E_NICK_INVALID);
	assert_false(session_registered(s));
	assert_int_equal(core_user_count(f->c), 0);
	/* 32 bytes is the longest allowed. */
	assert_int_equal(t_hello(f->c, s, "abcdefghijklmnopqrstuvwxyz012345", 32), 0);
	assert_true(session_registered(s));
}

static void
hello_rejects_nick_taken_case_insensitively(void **state)
{
	struct fx *f = *state;
	struct session *b;

	user(f, 0, "alice");
	b = sess(f, 1);
	assert_int_equal(t_hello(f->c, b, "ALICE", 5), CORE_E_NICK_TAKEN);
	assert_int_equal(t_hello(f->c, b, "Alice", 5), CORE_E_NICK_TAKEN);
	assert_int_equal(t_hello(f->c, b, "alice", 5), CORE_E_NICK_TAKEN);
	assert_false(session_registered(b));
	assert_int_equal(t_hello(f->c, b, "alice2", 6), 0);
	assert_int_equal(core_user_count(f->c), 2);
}

static void
hello_after_registration_is_already_registered(void **state)
{
	struct fx *f = *state;
	struct session *a = user(f, 0, "alice");

	assert_int_equal(t_hello(f->c, a, "bob", 3), CORE_E_ALREADY_REGISTERED);
	assert_int_equal(t_hello(f->c, a, "alice", 5), CORE_E_ALREADY_REGISTERED);
	assert_string_equal(session_nick(a), "alice");
	/* "bob" was not taken by the refused attempt. */
	user(f, 1, "bob");
	assert_int_equal(core_user_count(f->c), 2);
}

static void
commands_before_hello_are_not_registered(void **state)
{
	struct fx *f = *state;
	struct core_joined j;
	struct core_ack ack;

	user(f, 1, "bob");
	join(f, 1, "lobby");
	sess(f, 0);
	assert_int_equal(join_cursor(f, 0, "lobby", 0, 0, &j), CORE_E_NOT_REGISTERED);
	assert_int_equal(part(f, 0, "lobby"), CORE_E_NOT_REGISTERED);
	assert_int_equal(say_ack(f, 0, "lobby", "hi", 2, &ack), CORE_E_NOT_REGISTERED);
	assert_int_equal(direct(f, 0, "bob", "hi", 2, &ack), CORE_E_NOT_REGISTERED);
	assert_int_equal(nick(f, 0, "carol"), CORE_E_NOT_REGISTERED);
	assert_int_equal(nev, 0);
	assert_int_equal(core_user_count(f->c), 1);
}

/* --- joining --- */

static void
join_creates_room_with_creators_spelling(void **state)
{
	struct fx *f = *state;
	struct core_joined j;

	user(f, 0, "alice");
	assert_null(core_room_find(f->c, "lobby", 5));
	j = join(f, 0, "LobBy");
	assert_non_null(j.room);
	assert_string_equal(room_name(j.room), "LobBy");
	assert_int_equal(room_name_len(j.room), 5);
	assert_ptr_equal(core_room_find(f->c, "lobby", 5), j.room);
	assert_ptr_equal(core_room_find(f->c, "LOBBY", 5), j.room);
	assert_int_equal(core_room_count(f->c), 1);
	assert_int_equal(j.epoch, SEED);
	assert_int_equal(j.last_seq, 0);
	assert_int_equal(j.members, 1);
	assert_int_equal(j.hist_count, 0);
	assert_int_equal(j.flags, 0);
	assert_int_equal(room_member_count(j.room), 1);
	assert_ptr_equal(room_member(j.room, 0), f->cl[0].s);
}

static void
join_result_reports_members_epoch_and_last_seq(void **state)
{
	struct fx *f = *state;
	struct core_joined a, b, c;

	user(f, 0, "alice");
	user(f, 1, "bob");
	user(f, 2, "carol");
	a = join(f, 0, "lobby");
	post_n(f, 0, "lobby", 3);
	b = join(f, 1, "Lobby");
	c = join(f, 2, "LOBBY");
	assert_ptr_equal(b.room, a.room);
	assert_int_equal(b.epoch, a.epoch);
	assert_int_equal(b.last_seq, 3);
	assert_int_equal(b.members, 2);
	assert_int_equal(c.members, 3);
	assert_int_equal(c.last_seq, 3);
	assert_replay(&c, 1, 3);
	assert_int_equal(c.flags, 0);
	/* Members are kept in join order. */
	assert_ptr_equal(room_member(a.room, 0), f->cl[0].s);
	assert_ptr_equal(room_member(a.room, 1), f->cl[1].s);
	assert_ptr_equal(room_member(a.room, 2), f->cl[2].s);
}

static void
join_announces_presence_to_members_not_to_joiner(void **state)
{
	struct fx *f = *state;

	user(f, 0, "alice");
	user(f, 1, "bob");
	user(f, 2, "carol");
	join(f, 0, "Lobby");
	assert_int_equal(nev, 0); /* nobody else to tell */
	join(f, 1, "lobby");
	assert_int_equal(count(0, 'P'), 1);
	/* The room field keeps the creator's spelling. */
	assert_int_equal(count_pres(0, PRES_JOIN, "Lobby", "bob"), 1);
	assert_int_equal(count(1, 0), 0);
	join(f, 2, "LOBBY");
	assert_int_equal(count_pres(0, PRES_JOIN, "Lobby", "carol"), 1);
	assert_int_equal(count_pres(1, PRES_JOIN, "Lobby", "carol"), 1);
	assert_int_equal(count(2, 0), 0);
	assert_int_equal(nth(0, 'P', 0)->time_ms, T0);
	assert_int_equal(nth(0, 'P', 0)->reason, 0);
	assert_string_equal(nth(0, 'P', 0)->new_nick, "");
}

static void
join_twice_is_already_in_room(void **state)
{
	struct fx *f = *state;
	struct core_joined j;

	user(f, 0, "alice");
	user(f, 1, "bob");
	join(f, 0, "lobby");
	join(f, 1, "lobby");
	nev = 0;
	assert_int_equal(join_cursor(f, 1, "lobby", 0, 0, &j), CORE_E_ALREADY_IN_ROOM);
	assert_int_equal(join_cursor(f, 1, "LOBBY", 0, 0, &j), CORE_E_ALREADY_IN_ROOM);
	assert_int_equal(nev, 0);
	assert_int_equal(room_member_count(core_room_find(f->c, "lobby", 5)), 2);
}

static void
join_invalid_room_is_room_invalid(void **state)
{
	static const char *const bad[] = {"", "a b", "#lobby", "caf\xc3\xa9", "a/b"};
	struct fx *f = *state;
	struct core_joined j;
	char longest[CORE_ROOM_MAX + 1];
	size_t i;

	user(f, 0, "alice");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(join_cursor(f, 0, bad[i], 0, 0, &j), CORE_E_ROOM_INVALID);
	/* 64 bytes is the longest allowed. */
	memset(longest, 'r', sizeof(longest));
	assert_int_equal(t_join(f->c, f->cl[0].s, longest, 65, 0, 0, &j), CORE_E_ROOM_INVALID);
	assert_int_equal(core_room_count(f->c), 0);
	assert_int_equal(t_join(f->c, f->cl[0].s, longest, 64, 0, 0, &j), 0);
}

/* --- saying --- */

static void
say_fans_out_to_every_other_member_exactly_once(void **state)
{
	struct fx *f = *state;
	struct core_ack ack;
	int i;

	user(f, 0, "alice");
	user(f, 1, "bob");
	user(f, 2, "carol");
	user(f, 3, "dave");
	join(f, 0, "lobby");
	join(f, 1, "lobby");
	join(f, 2, "lobby");
	join(f, 3, "other");
	join(f, 1, "other"); /* bob is in both rooms: still one copy */
	core_set_time(f->c, T0 + 42);
	nev = 0;
	assert_int_equal(say_ack(f, 0, "LOBBY", "hi all", 6, &ack), 0);
	assert_int_equal(ack.seq, 1);
	assert_int_equal(ack.time_ms, T0 + 42);
	assert_int_equal(count(0, 0), 0); /* the sender is not echoed */
	assert_int_equal(count(3, 0), 0); /* another room hears nothing */
	for (i = 1; i <= 2; i++) {
		const struct ev *e = nth(i, 'M', 0);

		assert_int_equal(count(i, 0), 1);
		assert_int_equal(e->kind, 0);
		assert_string_equal(e->room, "lobby");
		assert_string_equal(e->nick, "alice");
		assert_string_equal(e->text, "hi all");
		assert_int_equal(e->seq, 1);
		assert_int_equal(e->time_ms, T0 + 42);
	}
}

static void
say_seq_increments_per_room(void **state)
{
	struct fx *f = *state;

	user(f, 0, "alice");
	user(f, 1, "bob");
	join(f, 0, "r1");
	join(f, 0, "r2");
	join(f, 1, "r1");
	join(f, 1, "r2");
	assert_int_equal(say(f, 0, "r1", "a"), 1);
	assert_int_equal(say(f, 0, "r2", "b"), 1);
	assert_int_equal(say(f, 1, "r1", "c"), 2);
	assert_int_equal(say(f, 0, "r1", "d"), 3);
	assert_int_equal(say(f, 1, "r2", "e"), 2);
	/* What bob received from r1: seq 1 and 3 (2 was his own). */
	assert_int_equal(nth(1, 'M', 0)->seq, 1);
	assert_string_equal(nth(1, 'M', 0)->room, "r1");
	assert_int_equal(nth(1, 'M', 1)->seq, 1);
	assert_string_equal(nth(1, 'M', 1)->room, "r2");
	assert_int_equal(nth(1, 'M', 2)->seq, 3);
	assert_int_equal(count(1, 'M'), 3);
}

static void
say_to_room_not_joined_is_not_in_room(void **state)
{
	struct fx *f = *state;
	struct core_ack ack;

	user(f, 0, "alice");
	user(f, 1, "bob");
	join(f, 1, "lobby");
	nev = 0;
	assert_int_equal(say_ack(f, 0, "lobby", "hi", 2, &ack), CORE_E_NOT_IN_ROOM);
	assert_int_equal(say_ack(f, 0, "nowhere", "hi", 2, &ack), CORE_E_NOT_IN_ROOM);
	assert_int_equal(say_ack(f, 0, "bad room", "hi", 2, &ack), CORE_E_ROOM_INVALID);
	assert_int_equal(nev, 0);
	assert_int_equal(say(f, 1, "lobby", "first"), 1); /* no seq was used */
}

static void
say_rejects_text_too_long(void **state)
{
	static char text[4097];
	struct fx *f = *state;
	struct core_limits lim = default_limits;
	struct core_ack ack;

	memset(text, 'x', sizeof(text));
	user(f, 0, "alice");
	user(f, 1, "bob");
	join(f, 0, "lobby");
	join(f, 1, "lobby");
	nev = 0;
	assert_int_equal(say_ack(f, 0, "lobby", text, 4097, &ack), CORE_E_TEXT_TOO_LONG);
	assert_int_equal(nev, 0);
	assert_int_equal(say_ack(f, 0, "lobby", text, 4096, &ack), 0);
	assert_int_equal(ack.seq, 1);
	assert_int_equal(nth(1, 'M', 0)->text_len, 4096);
	lim.max_text = 10;
	core_set_limits(f->c, &lim);
	assert_int_equal(say_ack(f, 0, "lobby", text, 11, &ack), CORE_E_TEXT_TOO_LONG);
	assert_int_equal(say_ack(f, 0, "lobby", text, 10, &ack), 0);
	assert_int_equal(ack.seq, 2);
}

static void
say_rejects_empty_text(void **state)
{
	struct fx *f = *state;
	struct core_ack ack;

	user(f, 0, "alice");
	user(f, 1, "bob");
	join(f, 0, "lobby");
	join(f, 1, "lobby");
	nev = 0;
	assert_int_equal(say_ack(f, 0, "lobby", "", 0, &ack), CORE_E_TEXT_INVALID);
	assert_int_equal(nev, 0);
}

static void
say_rejects_invalid_utf8_and_nul(void **state)
{
	static const char *const bad[] = {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	                                  "ab\xe2\x82", "\x80"};
	struct fx *f = *state;
	struct core_ack ack;
	size_t i;

	user(f, 0, "alice");
	user(f, 1, "bob");
	join(f, 0, "lobby");
	join(f, 1, "lobby");
	nev = 0;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(say_ack(f, 0, "lobby", bad[i], strlen(bad[i]), &ack),
		                 CORE_E_TEXT_INVALID);
	assert_int_equal(say_ack(f, 0, "lobby", "a\0b", 3, &ack), CORE_E_TEXT_INVALID);
	assert_int_equal(nev, 0);
	assert_int_equal(say(f, 0, "lobby", "caf\xc3\xa9 \xf0\x9f\x98\x80"), 1);
}

/* --- history on join --- */

/* alice in "lobby" has said m1..m120; returns the room's epoch. */
static uint64_t
room_with_120_messages(struct fx *f)
{
	struct core_joined j;

	user(f, 0, "alice");
	user(f, 1, "bob");
	j = join(f, 0, "lobby");
	post_n(f, 0, "lobby", 120);
	return j.epoch;
}

static void
join_after_120_messages_replays_last_50(void **state)
{
	struct fx *f = *state;
	struct core_joined j;

	room_with_120_messages(f);
	j = join(f, 1, "lobby");
	assert_int_equal(j.last_seq, 120);
	assert_int_equal(j.flags, 0);
	assert_int_equal(j.hist_from, 0);
	assert_replay(&j, 71, 120);
	assert_string_equal(history_at(room_history(j.room), j.hist_from)->text, "m71");
}

static void
join_with_cursor_within_ring_replays_only_newer(void **state)
{
	struct fx *f = *state;
	struct core_joined j;
	uint64_t epoch = room_with_120_messages(f);

	assert_int_equal(join_cursor(f, 1, "lobby", epoch, 100, &j), 0);
	assert_int_equal(j.flags, 0);
	assert_replay(&j, 101, 120);
}

static void
join_with_cursor_just_before_ring_is_not_truncated(void **state)
{
	struct fx *f = *state;
	struct core_joined j;
	uint64_t epoch = room_with_120_messages(f);

	/* 71 is the oldest held: a client that saw 70 misses nothing. */
	assert_int_equal(join_cursor(f, 1, "lobby", epoch, 70, &j), 0);
	assert_int_equal(j.flags, 0);
	assert_replay(&j, 71, 120);
}

static void
join_with_cursor_at_last_seq_replays_nothing(void **state)
{
	struct fx *f = *state;
	struct core_joined j;
	uint64_t epoch = room_with_120_messages(f);

	assert_int_equal(join_cursor(f, 1, "lobby", epoch, 120, &j), 0);
	assert_int_equal(j.flags, 0);
	assert_int_equal(j.hist_count, 0);
	assert_int_equal(j.last_seq, 120);
}

static void
join_with_cursor_older_than_ring_is_truncated(void **state)
{
	struct fx *f = *state;
	struct core_joined j;
	uint64_t epoch = room_with_120_messages(f);

	assert_int_equal(join_cursor(f, 1, "lobby", epoch, 69, &j), 0);
	assert_int_equal(j.flags, CORE_HIST_TRUNCATED);
	assert_replay(&j, 71, 120);
	part(f, 1, "lobby");
	assert_int_equal(join_cursor(f, 1, "lobby", epoch, 10, &j), 0);
	assert_int_equal(j.flags, CORE_HIST_TRUNCATED);
	assert_replay(&j, 71, 120);
}

static void
join_with_wrong_epoch_is_truncated_and_epoch_changed(void **state)
{
	struct fx *f = *state;
	struct core_joined j;
	uint64_t epoch = room_with_120_messages(f);

	/* Even a cursor that would be current in the right epoch. */
	assert_int_equal(join_cursor(f, 1, "lobby", epoch + 1, 120, &j), 0);
	assert_int_equal(j.flags, CORE_HIST_TRUNCATED | CORE_HIST_EPOCH_CHANGED);
	assert_int_equal(j.epoch, epoch);
	assert_replay(&j, 71, 120);
}

static void
join_with_cursor_beyond_last_seq_is_answered_as_another_epoch(void **state)
{
	struct fx *f = *state;
	struct core_joined j;
	uint64_t epoch = room_with_120_messages(f);

	/* No message 121 was ever sent: the cursor is not of this sequence. */
	assert_int_equal(join_cursor(f, 1, "lobby", epoch, 121, &j), 0);
	assert_int_equal(j.flags, CORE_HIST_TRUNCATED | CORE_HIST_EPOCH_CHANGED);
	assert_replay(&j, 71, 120);
	part(f, 1, "lobby");
	/* The last message itself is a cursor with nothing missed. */
	assert_int_equal(join_cursor(f, 1, "lobby", epoch, 120, &j), 0);
	assert_int_equal(j.flags, 0);
	assert_int_equal(j.hist_count, 0);
}

static void
join_with_cursor_and_no_history_kept_is_truncated(void **state)
{
	struct fx *f = *state;
	struct core_limits lim = default_limits;
	struct core_joined j;

	lim.history_len = 0;
	core_set_limits(f->c, &lim);
	user(f, 0, "alice");
	user(f, 1, "bob");
	j = join(f, 0, "lobby");
	post_n(f, 0, "lobby", 5);
	assert_int_equal(join_cursor(f, 1, "lobby", j.epoch, 3, &j), 0);
	assert_int_equal(j.flags, CORE_HIST_TRUNCATED);
	assert_int_equal(j.hist_count, 0);
	assert_int_equal(j.last_seq, 5);
	part(f, 1, "lobby");
	/* Caught up: nothing was missed. */
	assert_int_equal(join_cursor(f, 1, "lobby", j.epoch, 5, &j), 0);
	assert_int_equal(j.flags, 0);
}

/* --- parting --- */

static void
part_announces_to_all_members_including_leaver(void **state)
{
	struct fx *f = *state;
	int i;

	user(f, 0, "alice");
	user(f, 1, "bob");
	user(f, 2, "carol");
	user(f, 3, "dave");
	join(f, 0, "Lobby");
	join(f, 1, "lobby");
	join(f, 2, "lobby");
	join(f, 3, "other");
	nev = 0;
	assert_int_equal(part(f, 1, "LOBBY"), 0);
	for (i = 0; i <= 2; i++) {
		assert_int_equal(count(i, 0), 1);
		assert_int_equal(count_pres(i, PRES_PART, "Lobby", "bob"), 1);
	}
	assert_int_equal(count(3, 0), 0);
	assert_int_equal(room_member_count(core_room_find(f->c, "lobby", 5)), 2);
	/* bob hears nothing more from the room. */
	nev = 0;
	say(f, 0, "lobby", "bye bob");
	assert_int_equal(count(1, 0), 0);
	assert_int_equal(count(2, 'M'), 1);
}

static void
part_errors_name_the_reason(void **state)
{
	struct fx *f = *state;

	user(f, 0, "alice");
	user(f, 1, "bob");
	join(f, 1, "lobby");
	nev = 0;
	assert_int_equal(part(f, 0, "lobby"), CORE_E_NOT_IN_ROOM);
	assert_int_equal(part(f, 0, "nowhere"), CORE_E_NOT_IN_ROOM);
	assert_int_equal(part(f, 0, "no where"), CORE_E_ROOM_INVALID);
	assert_int_equal(part(f, 1, "lobby"), 0);
	assert_int_equal(part(f, 1, "lobby"), CORE_E_NOT_IN_ROOM);
	assert_int_equal(count(0, 0), 0);
	assert_int_equal(count(1, 0), 1);
}

/* --- nick changes --- */

static void
nick_change_delivered_once_per_user_sharing_two_rooms(void **state)
{
	struct fx *f = *state;
	const struct ev *e;
	int i;

	user(f, 0, "alice");
	user(f, 1, "bob");
	user(f, 2, "carol");
	user(f, 3, "dave");
	join(f, 0, "r1");
	join(f, 0, "r2");
	join(f, 1, "r1");
	join(f, 1, "r2"); /* bob shares two rooms with alice */
	join(f, 2, "r2"); /* carol shares one */
	join(f, 3, "r3"); /* dave shares none */
	core_set_time(f->c, T0 + 7);
	nev = 0;
	assert_int_equal(nick(f, 0, "Alicia"), 0);
	for (i = 0; i <= 2; i++) {
		assert_int_equal(count(i, 0), 1);
		e = nth(i, 'P', 0);
		assert_int_equal(e->kind, PRES_NICK);
		assert_string_equal(e->room, "");
		assert_string_equal(e->nick, "alice");
		assert_string_equal(e->new_nick, "Alicia");
		assert_int_equal(e->time_ms, T0 + 7);
	}
	assert_int_equal(count(3, 0), 0);
	assert_string_equal(session_nick(f->cl[0].s), "Alicia");
	/* A second change is delivered once again, not suppressed. */
	nev = 0;
	assert_int_equal(nick(f, 0, "al"), 0);
	assert_int_equal(count(0, 0) + count(1, 0) + count(2, 0) + count(3, 0), 3);
}

static void
nick_change_moves_the_nick_index(void **state)
{
	struct fx *f = *state;
	struct core_ack ack;
	struct session *c;

	user(f, 0, "alice");
	user(f, 1, "bob");
	assert_int_equal(nick(f, 0, "alicia"), 0);
	assert_int_equal(core_user_count(f->c), 2);
	/* The old nick is free, the new one taken. */
	c = sess(f, 2);
	assert_int_equal(t_hello(f->c, c, "ALICIA", 6), CORE_E_NICK_TAKEN);
	assert_int_equal(t_hello(f->c, c, "Alice", 5), 0);
	/* Direct messages follow the new name. */
	nev = 0;
	assert_int_equal(direct(f, 1, "alicia", "hi", 2, &ack), 0);
	assert_int_equal(count(0, 'M'), 1);
	assert_int_equal(count(2, 'M'), 0);
}

static void
nick_case_only_change_of_own_nick_is_allowed(void **state)
{
	struct fx *f = *state;
	struct session *b;

	user(f, 0, "alice");
	assert_int_equal(nick(f, 0, "ALICE"), 0);
	assert_string_equal(session_nick(f->cl[0].s), "ALICE");
	assert_int_equal(count_pres(0, PRES_NICK, "", "alice"), 1);
	assert_string_equal(nth(0, 'P', 0)->new_nick, "ALICE");
	assert_int_equal(core_user_count(f->c), 1);
	/* Still taken, under any spelling. */
	b = sess(f, 1);
	assert_int_equal(t_hello(f->c, b, "alice", 5), CORE_E_NICK_TAKEN);
}

static void
nick_rejects_invalid_and_taken(void **state)
{
	struct fx *f = *state;

	user(f, 0, "alice");
	user(f, 1, "bob");
	join(f, 0, "lobby");
	join(f, 1, "lobby");
	nev = 0;
	assert_int_equal(nick(f, 0, "9lives"), CORE_E_NICK_INVALID);
	assert_int_equal(nick(f, 0, ""), CORE_E_NICK_INVALID);
	assert_int_equal(nick(f, 0, "BOB"), CORE_E_NICK_TAKEN);
	assert_int_equal(nev, 0);
	assert_string_equal(session_nick(f->cl[0].s), "alice");
	assert_int_equal(core_user_count(f->c), 2);
}

static void
messages_after_nick_change_carry_the_new_nick(void **state)
{
	struct fx *f = *state;

	user(f, 0, "alice");
	user(f, 1, "bob");
	join(f, 0, "lobby");
	join(f, 1, "lobby");
	nick(f, 0, "alicia");
	nev = 0;
	say(f, 0, "lobby", "it's me");
	assert_string_equal(nth(1, 'M', 0)->nick, "alicia");
}

/* --- direct messages --- */

static void
direct_to_unknown_nick_is_no_such_user(void **state)
{
	struct fx *f = *state;
	struct core_ack ack;

	user(f, 0, "alice");
	assert_int_equal(direct(f, 0, "bob", "hi", 2, &ack), CORE_E_NO_SUCH_USER);
	assert_int_equal(direct(f, 0, "", "hi", 2, &ack), CORE_E_NO_SUCH_USER);
	assert_int_equal(direct(f, 0, "abcdefghijklmnopqrstuvwxyz0123456", "hi", 2, &ack),
	                 CORE_E_NO_SUCH_USER);
	/* An unregistered session cannot be reached either. */
	sess(f, 1);
	assert_int_equal(direct(f, 0, "bob", "hi", 2, &ack), CORE_E_NO_SUCH_USER);
	assert_int_equal(nev, 0);
}

static void
direct_delivers_to_recipient_only(void **state)
{
	struct fx *f = *state;
	struct core_ack ack;
	const struct ev *e;

	user(f, 0, "alice");
	user(f, 1, "Bob");
	user(f, 2, "carol");
	join(f, 0, "lobby");
	join(f, 1, "lobby");
	join(f, 2, "lobby");
	core_set_time(f->c, T0 + 5);
	nev = 0;
	assert_int_equal(direct(f, 0, "BOB", "psst", 4, &ack), 0);
	assert_int_equal(ack.seq, 0);
	assert_int_equal(ack.time_ms, T0 + 5);
	assert_int_equal(count(1, 0), 1);
	assert_int_equal(count(0, 0), 0);
	assert_int_equal(count(2, 0), 0);
	e = nth(1, 'M', 0);
	assert_int_equal(e->kind, 1); /* direct */
	assert_string_equal(e->room, "");
	assert_string_equal(e->nick, "alice");
	assert_int_equal(e->seq, 0);
	assert_int_equal(e->time_ms, T0 + 5);
	assert_string_equal(e->text, "psst");
	/* A direct message uses no room sequence number. */
	assert_int_equal(say(f, 0, "lobby", "x"), 1);
}

static void
direct_to_self_is_allowed(void **state)
{
	struct fx *f = *state;
	struct core_ack ack;

	user(f, 0, "alice");
	assert_int_equal(direct(f, 0, "Alice", "note", 4, &ack), 0);
	assert_int_equal(count(0, 'M'), 1);
	assert_int_equal(nth(0, 'M', 0)->kind, 1);
}

static void
direct_rejects_bad_text(void **state)
{
	static char text[4097];
	struct fx *f = *state;
	struct core_ack ack;

	memset(text, 'x', sizeof(text));
	user(f, 0, "alice");
	user(f, 1, "bob");
	assert_int_equal(direct(f, 0, "bob", "", 0, &ack), CORE_E_TEXT_INVALID);
	assert_int_equal(direct(f, 0, "bob", "\xc0\x80", 2, &ack), CORE_E_TEXT_INVALID);
	assert_int_equal(direct(f, 0, "bob", "a\0", 2, &ack), CORE_E_TEXT_INVALID);
	assert_int_equal(direct(f, 0, "bob", text, 4097, &ack), CORE_E_TEXT_TOO_LONG);
	assert_int_equal(nev, 0);
	assert_int_equal(direct(f, 0, "bob", text, 4096, &ack), 0);
}

/* --- limits --- */

static void
join_beyond_max_rooms_is_too_many_rooms(void **state)
{
	struct fx *f = *state;
	struct core_limits lim = default_limits;
	struct core_joined j;

	lim.max_rooms = 3;
	core_set_limits(f->c, &lim);
	user(f, 0, "alice");
	join(f, 0, "r1");
	join(f, 0, "r2");
	join(f, 0, "r3");
	assert_int_equal(join_cursor(f, 0, "r4", 0, 0, &j), CORE_E_TOO_MANY_ROOMS);
	assert_null(core_room_find(f->c, "r4", 2));
	assert_int_equal(core_room_count(f->c), 3);
	/* Already a member wins over the limit. */
	assert_int_equal(join_cursor(f, 0, "r3", 0, 0, &j), CORE_E_ALREADY_IN_ROOM);
	assert_int_equal(part(f, 0, "r2"), 0);
	join(f, 0, "r4");
}

static void
join_at_default_max_rooms_64(void **state)
{
	struct fx *f = *state;
	struct core_joined j;
	char name[8];
	int i;

	user(f, 0, "alice");
	for (i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		join(f, 0, name);
	}
	assert_int_equal(join_cursor(f, 0, "r64", 0, 0, &j), CORE_E_TOO_MANY_ROOMS);
	assert_int_equal(core_room_count(f->c), 64);
}

static void
join_beyond_max_members_is_room_full(void **state)
{
	struct fx *f = *state;
	struct core_limits lim = default_limits;
	struct core_joined j;

	lim.max_members = 2;
	core_set_limits(f->c, &lim);
	user(f, 0, "alice");
	user(f, 1, "bob");
	user(f, 2, "carol");
	join(f, 0, "lobby");
	join(f, 1, "lobby");
	nev = 0;
	assert_int_equal(join_cursor(f, 2, "lobby", 0, 0, &j), CORE_E_ROOM_FULL);
	assert_int_equal(nev, 0);
	assert_int_equal(room_member_count(core_room_find(f->c, "lobby", 5)), 2);
	/* Other rooms are unaffected. */
	join(f, 2, "other");
	part(f, 1, "lobby");
	j = join(f, 2, "lobby");
	assert_int_equal(j.members, 2);
}

/* One session in 33,000 rooms with no room limit; 0 when all went well. */
static int
join_many_rooms(void)
{
	struct core_limits lim = default_limits;
	struct core_joined j;
	struct core *c;
	struct session *s;
	char name[16];
	int i, rc = 0;

	lim.max_rooms = 0;
	lim.history_len = 0;
	c = core_new(&lim, SEED);
	s = core_session_new(c, &quiet, NULL);
	if (t_hello(c, s, "alice", 5) != 0)
		return 2;
	for (i = 0; i < 33000 && rc == 0; i++) {
		int n = snprintf(name, sizeof(name), "r%d", i);

		rc = t_join(c, s, name, (size_t)n, 0, 0, &j);
	}
	if (rc != 0 || core_room_count(c) != 33000)
		return 3;
	if (t_say(c, s, "r32999", 6, "hi", 2, &(struct core_ack){0, 0}) != 0)
		return 4;
	core_session_end(c, s, 0, 0);
	core_free(c);
	return 0;
}

static void
join_more_than_32768_rooms_when_room_limit_is_off(void **state)
{
	int status;

	(void)state;
	/* --max-rooms 0 means no limit (and up to 65535 is accepted): one
	 * session in more than 32768 rooms, in a child (see child.h). */
	status = in_child(join_many_rooms);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("joining 33000 rooms with max_rooms 0: child %s %d",
		         WIFEXITED(status) ? "exited" : "killed by signal",
		         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/* --- session end --- */

static void
session_end_with_drop_announces_reason_to_remaining_members(void **state)
{
	struct fx *f = *state;
	const struct ev *e;

	user(f, 0, "alice");
	user(f, 1, "bob");
	user(f, 2, "carol");
	user(f, 3, "dave");
	join(f, 0, "lobby");
	join(f, 1, "lobby");
	join(f, 2, "lobby");
	join(f, 1, "dev");
	join(f, 2, "dev");
	join(f, 3, "elsewhere");
	core_set_time(f->c, T0 + 99);
	nev = 0;
	end(f, 1, PRES_DROP, REASON_SLOW_CONSUMER);
	assert_int_equal(count(0, 0), 1);
	e = nth(0, 'P', 0);
	assert_int_equal(e->kind, PRES_DROP);
	assert_int_equal(e->reason, REASON_SLOW_CONSUMER);
	assert_string_equal(e->room, "lobby");
	assert_string_equal(e->nick, "bob");
	assert_int_equal(e->time_ms, T0 + 99);
	/* carol shares two rooms with bob: one event per room. */
	assert_int_equal(count(2, 0), 2);
	assert_int_equal(count_pres(2, PRES_DROP, "lobby", "bob"), 1);
	assert_int_equal(count_pres(2, PRES_DROP, "dev", "bob"), 1);
	assert_int_equal(count(3, 0), 0);
	assert_int_equal(room_member_count(core_room_find(f->c, "lobby", 5)), 2);
	assert_int_equal(room_member_count(core_room_find(f->c, "dev", 3)), 1);
	/* The nick is free again. */
	assert_int_equal(core_user_count(f->c), 3);
	user(f, 4, "BOB");
}

static void
session_end_with_quit_announces_quit(void **state)
{
	struct fx *f = *state;

	user(f, 0, "alice");
	user(f, 1, "bob");
	join(f, 0, "lobby");
	join(f, 1, "lobby");
	nev = 0;
	end(f, 1, PRES_QUIT, REASON_NONE);
	assert_int_equal(count(0, 0), 1);
	assert_int_equal(count_pres(0, PRES_QUIT, "lobby", "bob"), 1);
	assert_int_equal(nth(0, 'P', 0)->reason, 0);
}

static void
session_end_with_kind_0_announces_nothing(void **state)
{
	struct fx *f = *state;

	user(f, 0, "alice");
	user(f, 1, "bob");
	join(f, 0, "lobby");
	join(f, 1, "lobby");
	nev = 0;
	end(f, 1, 0, 0);
	assert_int_equal(nev, 0);
	assert_int_equal(room_member_count(core_room_find(f->c, "lobby", 5)), 1);
	assert_int_equal(core_user_count(f->c), 1);
}

static void
session_end_of_unregistered_session_is_harmless(void **state)
{
	struct fx *f = *state;

	user(f, 0, "alice");
	sess(f, 1);
	end(f, 1, PRES_DROP, REASON_CLOSED);
	assert_int_equal(core_user_count(f->c), 1);
	assert_int_equal(nev, 0);
}

/* --- linger --- */

static void
last_member_leaving_room_lingers_and_rejoin_keeps_epoch_and_history(void **state)
{
	struct fx *f = *state;
	struct core_joined j, k;
	size_t n;
	struct room *v[4];

	user(f, 0, "alice");
	j = join(f, 0, "Lobby");
	post_n(f, 0, "lobby", 3);
	assert_int_equal(part(f, 0, "lobby"), 0);
	assert_null(core_room_find(f->c, "lobby", 5));
	assert_int_equal(core_room_count(f->c), 0);
	n = core_rooms_after(f->c, NULL, v, 4);
	assert_int_equal(n, 0);
	/* Within the linger the room comes back as it was. */
	core_set_time(f->c, T0 + LINGER - 1);
	assert_int_equal(core_expire(f->c), 1);
	k = join(f, 0, "LOBBY");
	assert_ptr_equal(k.room, j.room);
	assert_int_equal(k.epoch, j.epoch);
	assert_int_equal(k.last_seq, 3);
	assert_replay(&k, 1, 3);
	assert_string_equal(room_name(k.room), "Lobby"); /* the creator's spelling */
	assert_int_equal(core_room_count(f->c), 1);
	assert_int_equal(say(f, 0, "lobby", "again"), 4);
	/* No longer lingering: its linger does not fire. */
	core_set_time(f->c, T0 + 10 * (uint64_t)LINGER);
	assert_int_equal(core_expire(f->c), 0);
	assert_ptr_equal(core_room_find(f->c, "lobby", 5), j.room);
}

static void
rejoin_with_cursor_during_linger_replays_only_newer(void **state)
{
	struct fx *f = *state;
	struct core_joined j;

	user(f, 0, "alice");
	user(f, 1, "bob");
	j = join(f, 0, "lobby");
	join(f, 1, "lobby");
	post_n(f, 0, "lobby", 5);
	end(f, 1, PRES_DROP, REASON_RESET); /* bob saw up to 5 */
	post_n(f, 0, "lobby", 2);           /* 6, 7 */
	part(f, 0, "lobby");
	core_set_time(f->c, T0 + 1000);
	core_expire(f->c);
	user(f, 1, "bob");
	assert_int_equal(join_cursor(f, 1, "lobby", j.epoch, 5, &j), 0);
	assert_int_equal(j.flags, 0);
	assert_int_equal(j.last_seq, 7);
	assert_replay(&j, 6, 7);
}

static void
room_expired_after_linger_restarts_with_new_epoch_and_seq(void **state)
{
	struct fx *f = *state;
	struct core_joined j, k;

	user(f, 0, "alice");
	j = join(f, 0, "Lobby");
	post_n(f, 0, "lobby", 3);
	part(f, 0, "lobby");
	core_set_time(f->c, T0 + LINGER);
	assert_int_equal(core_expire(f->c), 0);
	k = join(f, 0, "lobby");
	assert_int_not_equal(k.epoch, j.epoch);
	assert_int_not_equal(k.epoch, 0);
	assert_int_equal(k.last_seq, 0);
	assert_int_equal(k.hist_count, 0);
	assert_string_equal(room_name(k.room), "lobby"); /* its new creator's spelling */
	assert_int_equal(say(f, 0, "lobby", "fresh"), 1);
	/* A cursor from the old incarnation is an epoch change. */
	part(f, 0, "lobby");
	assert_int_equal(join_cursor(f, 0, "lobby", j.epoch, 3, &k), 0);
	assert_int_equal(k.flags, CORE_HIST_TRUNCATED | CORE_HIST_EPOCH_CHANGED);
	assert_replay(&k, 1, 1);
}

static void
expire_returns_ms_until_the_next_expiry(void **state)
{
	struct fx *f = *state;
	struct core_limits lim = default_limits;
	struct core_joined a, b;

	lim.room_linger_ms = 1000;
	core_set_limits(f->c, &lim);
	user(f, 0, "alice");
	assert_int_equal(core_expire(f->c), 0); /* nothing lingering */
	join(f, 0, "a");
	join(f, 0, "b");
	join(f, 0, "c");
	assert_int_equal(core_expire(f->c), 0); /* rooms with members do not linger */
	part(f, 0, "a");                        /* due at T0 + 1000 */
	core_set_time(f->c, T0 + 300);
	part(f, 0, "b"); /* due at T0 + 1300 */
	assert_int_equal(core_expire(f->c), 700);
	core_set_time(f->c, T0 + 999);
	assert_int_equal(core_expire(f->c), 1);
	core_set_time(f->c, T0 + 1000);
	assert_int_equal(core_expire(f->c), 300); /* a freed, b next */
	a = join(f, 0, "a");
	assert_int_equal(a.epoch, SEED + 3); /* a fresh incarnation */
	core_set_time(f->c, T0 + 5000);
	assert_int_equal(core_expire(f->c), 0); /* b freed, none left */
	b = join(f, 0, "b");
	assert_int_equal(b.epoch, SEED + 4);
}

static void
expire_frees_rooms_in_linger_order_whatever_the_leave_order(void **state)
{
	struct fx *f = *state;
	struct core_limits lim = default_limits;
	struct core_joined j;

	user(f, 0, "alice");
	join(f, 0, "slow");
	join(f, 0, "fast");
	lim.room_linger_ms = 5000;
	core_set_limits(f->c, &lim);
	part(f, 0, "slow"); /* due at T0 + 5000 */
	lim.room_linger_ms = 1000;
	core_set_limits(f->c, &lim);
	part(f, 0, "fast"); /* due at T0 + 1000: before "slow" */
	assert_int_equal(core_expire(f->c), 1000);
	core_set_time(f->c, T0 + 1000);
	assert_int_equal(core_expire(f->c), 4000);
	/* "fast" is gone, "slow" still lingers with its epoch. */
	j = join(f, 0, "slow");
	assert_int_equal(j.epoch, SEED);
	part(f, 0, "slow");
	j = join(f, 0, "fast");
	assert_int_equal(j.epoch, SEED + 2);
}

static void
linger_of_zero_frees_empty_room_at_next_expire(void **state)
{
	struct fx *f = *state;
	struct core_limits lim = default_limits;
	struct core_joined j;

	lim.room_linger_ms = 0;
	core_set_limits(f->c, &lim);
	user(f, 0, "alice");
	j = join(f, 0, "lobby");
	part(f, 0, "lobby");
	assert_int_equal(core_expire(f->c), 0);
	assert_int_not_equal(join(f, 0, "lobby").epoch, j.epoch);
}

static void
room_only_one_session_used_lingers_the_solo_time(void **state)
{
	struct fx *f = *state;
	struct core_limits lim = default_limits;
	struct core_joined j, k;

	lim.room_linger_ms = 10000;
	lim.room_linger_solo_ms = 1000;
	core_set_limits(f->c, &lim);
	user(f, 0, "alice");
	user(f, 1, "bob");
	j = join(f, 0, "solo");
	say(f, 0, "solo", "mine");
	join(f, 0, "shared");
	join(f, 1, "shared");
	part(f, 1, "shared");
	k = join(f, 1, "shared"); /* a second session: shared for good */
	part(f, 0, "solo");       /* due at T0 + 1000 */
	part(f, 0, "shared");
	part(f, 1, "shared"); /* due at T0 + 10000 */
	assert_int_equal(core_expire(f->c), 1000);
	core_set_time(f->c, T0 + 1000);
	assert_int_equal(core_expire(f->c), 9000);
	assert_int_not_equal(join(f, 0, "solo").epoch, j.epoch); /* forgotten */
	assert_int_equal(join(f, 0, "shared").epoch, k.epoch);   /* still there */
}

static void
room_solo_linger_longer_than_linger_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct core_limits lim = default_limits;

	lim.room_linger_ms = 1000;
	lim.room_linger_solo_ms = 5000;
	core_set_limits(f->c, &lim);
	user(f, 0, "alice");
	join(f, 0, "r");
	part(f, 0, "r");
	assert_int_equal(core_expire(f->c), 1000);
}

/* --- history budgets --- */

/* A text of n bytes, "x..." */
static void
say_n_bytes(struct fx *f, int i, const char *room, size_t n)
{
	static char text[4096];
	struct core_ack ack;

	memset(text, 'x', n);
	assert_int_equal(say_ack(f, i, room, text, n, &ack), 0);
}

static void
room_history_bytes_cap_one_room_keeping_the_newest(void **state)
{
	struct fx *f = *state;
	struct core_limits lim = default_limits;
	struct core_joined j;
	const struct history *h;

	lim.room_history_bytes = 9000;
	core_set_limits(f->c, &lim);
	user(f, 0, "alice");
	user(f, 1, "bob");
	join(f, 0, "r");
	for (int k = 0; k < 10; k++)
		say_n_bytes(f, 0, "r", 3000);
	j = join(f, 1, "r");
	h = room_history(j.room);
	/* Three 3000-byte messages and their headers do not fit in 9000. */
	assert_int_equal(history_len(h), 2);
	assert_int_equal(history_at(h, 1)->seq, 10);
	assert_true(h->bytes <= 9000);
	assert_int_equal(core_history_bytes(f->c), h->bytes);
	/* One message larger than the cap is still kept: a room has at least
	 * its newest message. */
	lim.room_history_bytes = 100;
	core_set_limits(f->c, &lim);
	say_n_bytes(f, 0, "r", 3000);
	assert_int_equal(history_len(h), 1);
	assert_int_equal(history_at(h, 0)->seq, 11);
}

static void
history_bytes_budget_forgets_lingering_rooms_first_then_the_largest(void **state)
{
	struct fx *f = *state;
	struct core_limits lim = default_limits;
	struct core_joined big, small, gone;
	size_t per;

	user(f, 0, "alice");
	join(f, 0, "gone");
	say_n_bytes(f, 0, "gone", 1000);
	per = core_history_bytes(f->c); /* one 1000-byte message, stored */
	gone = join(f, 0, "x");
	part(f, 0, "x");
	part(f, 0, "gone"); /* lingers with its message */
	big = join(f, 0, "huge");
	small = join(f, 0, "tiny");
	for (int k = 0; k < 20; k++)
		say_n_bytes(f, 0, "huge", 1000);
	say_n_bytes(f, 0, "tiny", 1000);
	assert_int_equal(core_history_bytes(f->c), 22 * per);
	/* Room for 16 messages: 6 must go, and 7/8 of the budget is the aim. */
	lim.history_bytes = 16 * per;
	core_set_limits(f->c, &lim);
	assert_true(core_history_bytes(f->c) <= 14 * per);
	/* The lingering room went first, and the rest came out of "huge". */
	assert_int_not_equal(join(f, 0, "gone").epoch, gone.epoch);
	assert_int_equal(history_len(room_history(small.room)), 1);
	assert_true(history_len(room_history(big.room)) <= 13);
	assert_int_equal(
	        history_at(room_history(big.room), history_len(room_history(big.room)) - 1)->seq,
	        20);
	/* A push into a full budget: the largest room pays, the pusher's new
	 * message stays. */
	say_n_bytes(f, 0, "tiny", 1000);
	say_n_bytes(f, 0, "tiny", 1000);
	assert_true(core_history_bytes(f->c) <= 16 * per);
	assert_int_equal(history_len(room_history(small.room)), 3);
}

static void
history_bytes_returns_to_zero_when_every_room_is_gone(void **state)
{
	struct fx *f = *state;
	struct core_limits lim = default_limits;

	lim.room_linger_ms = 0;
	lim.room_history_bytes = 5000;
	core_set_limits(f->c, &lim);
	user(f, 0, "alice");
	join(f, 0, "a");
	join(f, 0, "b");
	post_n(f, 0, "a", 30);
	for (int k = 0; k < 10; k++)
		say_n_bytes(f, 0, "b", 2000);
	assert_true(core_history_bytes(f->c) > 0);
	part(f, 0, "a");
	part(f, 0, "b");
	core_expire(f->c);
	assert_int_equal(core_history_bytes(f->c), 0);
}

/* --- listings --- */

static void
session_rooms_listed_in_join_order(void **state)
{
	static const char *const want[] = {"zeta", "Alpha", "mid"};
	struct fx *f = *state;
	struct session *s = user(f, 0, "alice");
	unsigned i;

	assert_int_equal(session_room_count(s), 0);
	join(f, 0, "zeta");
	join(f, 0, "gone");
	join(f, 0, "Alpha");
	join(f, 0, "mid");
	part(f, 0, "GONE");
	assert_int_equal(session_room_count(s), 3);
	for (i = 0; i < 3; i++)
		assert_string_equal(room_name(session_room(s, i)), want[i]);
}

static void
rooms_sorted_by_folded_name(void **state)
{
	static const char *const want[] = {"_x", "Alpha", "ALPHA2", "beta", "gamma", "Zeta"};
	struct fx *f = *state;
	struct room *v[10];
	size_t n, i;

	user(f, 0, "alice");
	user(f, 1, "bob");
	join(f, 0, "gamma");
	join(f, 0, "Zeta");
	join(f, 0, "beta");
	join(f, 1, "ALPHA2");
	join(f, 0, "Alpha");
	join(f, 1, "_x");
	join(f, 1, "empty");
	part(f, 1, "empty"); /* lingering: not listed */
	join(f, 1, "beta");  /* two members: listed once */
	n = core_rooms_after(f->c, NULL, v, 10);
	assert_int_equal(n, 6);
	assert_int_equal(core_room_count(f->c), 6);
	for (i = 0; i < n; i++)
		assert_string_equal(room_name(v[i]), want[i]);
	/* Resumed after a key: the rest, in order. */
	n = core_rooms_after(f->c, room_key(v[2]), v, 2);
	assert_int_equal(n, 2);
	assert_string_equal(room_name(v[0]), want[3]);
	assert_string_equal(room_name(v[1]), want[4]);
	/* After a key no room has: from the next one on. */
	n = core_rooms_after(f->c, "c", v, 10);
	assert_int_equal(n, 2);
	assert_string_equal(room_name(v[0]), "gamma");
}

static void
rooms_sorted_when_none_is_empty(void **state)
{
	struct fx *f = *state;
	struct room *v[1];

	assert_int_equal(core_rooms_after(f->c, NULL, v, 1), 0);
	assert_int_equal(core_rooms_after(f->c, "a", v, 1), 0);
}

static void
users_sorted_by_folded_name(void **state)
{
	static const char *const want[] = {"_under", "Alice", "bob", "Bob2", "carol", "Zed"};
	struct fx *f = *state;
	struct session *v[10];
	size_t n, i;

	user(f, 0, "Zed");
	user(f, 1, "carol");
	user(f, 2, "Bob2");
	user(f, 3, "alice");
	user(f, 4, "_under");
	user(f, 5, "bob");
	sess(f, 6); /* unregistered: not listed */
	user(f, 7, "gone");
	end(f, 7, PRES_QUIT, 0);
	nick(f, 3, "Alice");
	n = core_users_after(f->c, NULL, v, 10);
	assert_int_equal(n, 6);
	assert_int_equal(core_user_count(f->c), 6);
	for (i = 0; i < n; i++)
		assert_string_equal(session_nick(v[i]), want[i]);
	/* A listing that resumes while users come and go names each user
	 * present throughout once. */
	assert_int_equal(core_users_after(f->c, NULL, v, 2), 2); /* _under, Alice */
	nick(f, 5, "aardvark");                                  /* bob moves before the cursor */
	user(f, 8, "dave");
	end(f, 1, PRES_QUIT, 0); /* carol leaves */
	n = core_users_after(f->c, session_key(v[1]), v, 10);
	assert_int_equal(n, 3);
	assert_string_equal(session_nick(v[0]), "Bob2");
	assert_string_equal(session_nick(v[1]), "dave");
	assert_string_equal(session_nick(v[2]), "Zed");
}

static void
user_find_by_nick_in_any_case(void **state)
{
	struct fx *f = *state;
	struct session *s = user(f, 0, "Alice");

	sess(f, 1); /* unregistered: not found */
	assert_ptr_equal(core_user_find(f->c, "aLICE", 5), s);
	assert_null(core_user_find(f->c, "bob", 3));
	assert_null(core_user_find(f->c, "bad nick", 8));
	nick(f, 0, "Alicia");
	assert_null(core_user_find(f->c, "alice", 5));
	assert_ptr_equal(core_user_find(f->c, "ALICIA", 6), s);
	end(f, 0, PRES_QUIT, 0);
	assert_null(core_user_find(f->c, "alicia", 6));
}

static void
members_page_by_join_serial_whoever_leaves(void **state)
{
	struct fx *f = *state;
	struct core_joined j;
	struct session *v[8];
	uint32_t last = 0;
	size_t n;
	int i;

	for (i = 0; i < 6; i++) {
		char nick_[8];

		snprintf(nick_, sizeof(nick_), "u%d", i);
		user(f, i, nick_);
		j = join(f, i, "r");
	}
	n = room_members_after(j.room, 0, v, 2, &last); /* u0 u1 */
	assert_int_equal(n, 2);
	assert_string_equal(session_nick(v[1]), "u1");
	part(f, 0, "r"); /* before the cursor */
	part(f, 3, "r"); /* after it */
	join(f, 0, "r"); /* back, at the end */
	n = room_members_after(j.room, last, v, 8, &last);
	assert_int_equal(n, 4);
	assert_string_equal(session_nick(v[0]), "u2");
	assert_string_equal(session_nick(v[1]), "u4");
	assert_string_equal(session_nick(v[2]), "u5");
	assert_string_equal(session_nick(v[3]), "u0");
	assert_int_equal(last, room_last_serial(j.room));
	assert_int_equal(room_members_after(j.room, last, v, 8, &last), 0);
}

/* --- topics --- */

static void
topic_is_told_to_every_member_setter_included_and_kept(void **state)
{
	struct fx *f = *state;
	struct core_joined j;
	const char *text, *by;
	uint64_t ms;
	size_t n;
	int i;

	user(f, 0, "alice");
	user(f, 1, "bob");
	user(f, 2, "carol");
	j = join(f, 0, "Lobby");
	join(f, 1, "lobby");
	join(f, 2, "other");
	text = room_topic(j.room, &n, &by, &ms);
	assert_int_equal(n, 0);
	assert_string_equal(text, "");
	assert_string_equal(by, "");
	assert_int_equal(ms, 0);

	core_set_time(f->c, T0 + 5);
	nev = 0;
	assert_int_equal(topic(f, 1, "LOBBY", "héllo, world", strlen("héllo, world")), 0);
	assert_int_equal(done.arg_len, 5);
	assert_memory_equal(done.arg, "Lobby", 5);
	for (i = 0; i <= 1; i++) {
		const struct ev *e = nth(i, 'P', 0);

		assert_int_equal(count(i, 0), 1);
		assert_int_equal(e->kind, PRES_TOPIC);
		assert_string_equal(e->room, "Lobby");
		assert_string_equal(e->nick, "bob");
		assert_string_equal(e->text, "héllo, world");
		assert_int_equal(e->time_ms, T0 + 5);
	}
	assert_int_equal(count(2, 0), 0);
	text = room_topic(j.room, &n, &by, &ms);
	assert_int_equal(n, strlen("héllo, world"));
	assert_memory_equal(text, "héllo, world", n);
	assert_string_equal(by, "bob");
	assert_int_equal(ms, T0 + 5);

	/* A joiner finds it on the room its join answer names. */
	j = join(f, 2, "lobby");
	text = room_topic(j.room, &n, NULL, NULL);
	assert_memory_equal(text, "héllo, world", n);

	/* Empty text clears it, and that is told too. */
	nev = 0;
	assert_int_equal(topic(f, 0, "lobby", "", 0), 0);
	assert_int_equal(count_pres(2, PRES_TOPIC, "Lobby", "alice"), 1);
	assert_int_equal(nth(2, 'P', 0)->text_len, 0);
	text = room_topic(j.room, &n, &by, &ms);
	assert_int_equal(n, 0);
	assert_string_equal(text, "");
	assert_string_equal(by, "");
}

static void
topic_refusals_name_the_reason(void **state)
{
	struct fx *f = *state;
	char big[CORE_TOPIC_MAX + 2];
	struct core_joined j;
	size_t n;

	user(f, 0, "alice");
	user(f, 1, "bob");
	j = join(f, 0, "lobby");
	f->cl[2].s = core_session_new(f->c, &recorder, &f->cl[2]);
	assert_int_equal(topic(f, 2, "lobby", "x", 1), CORE_E_NOT_REGISTERED);
	assert_int_equal(topic(f, 1, "lobby", "x", 1), CORE_E_NOT_IN_ROOM);
	assert_int_equal(topic(f, 1, "nowhere", "x", 1), CORE_E_NOT_IN_ROOM);
	assert_int_equal(topic(f, 0, "bad room", "x", 1), CORE_E_ROOM_INVALID);
	/* One line of UTF-8: no control character, no broken sequence. */
	assert_int_equal(topic(f, 0, "lobby", "a\nb", 3), CORE_E_TEXT_INVALID);
	assert_int_equal(topic(f, 0, "lobby", "a\rb", 3), CORE_E_TEXT_INVALID);
	assert_int_equal(topic(f, 0, "lobby", "a\0b", 3), CORE_E_TEXT_INVALID);
	assert_int_equal(topic(f, 0, "lobby", "a\x7f", 2), CORE_E_TEXT_INVALID);
	assert_int_equal(topic(f, 0, "lobby", "a\xc2\x85", 3), CORE_E_TEXT_INVALID);
	assert_int_equal(topic(f, 0, "lobby", "a\xc3", 2), CORE_E_TEXT_INVALID);
	assert_int_equal(topic(f, 0, "lobby", "a\x1b[2J", 5), CORE_E_TEXT_INVALID);
	memset(big, 'x', sizeof(big));
	assert_int_equal(topic(f, 0, "lobby", big, CORE_TOPIC_MAX + 1), CORE_E_TEXT_TOO_LONG);
	room_topic(j.room, &n, NULL, NULL);
	assert_int_equal(n, 0);
	assert_int_equal(topic(f, 0, "lobby", big, CORE_TOPIC_MAX), 0);
	room_topic(j.room, &n, NULL, NULL);
	assert_int_equal(n, CORE_TOPIC_MAX);
	/* IRC's formatting codes style a line and cannot break it. */
	assert_int_equal(topic(f, 0, "lobby",
	                       "\x02"
	                       "b\x02 \x03"
	                       "04,01red\x0f",
	                       14),
	                 0);
	room_topic(j.room, &n, NULL, NULL);
	assert_int_equal(n, 14);
}

static void
topic_reaches_every_member_of_a_large_room_at_once(void **state)
{
	struct fx *f = *state;
	struct core_limits lim = default_limits;
	int i;

	lim.presence_batch = 2;
	core_set_limits(f->c, &lim);
	for (i = 0; i < 4; i++) {
		char nk[8];

		snprintf(nk, sizeof(nk), "u%d", i);
		user(f, i, nk);
		join(f, i, "big");
	}
	core_presence_flush(f->c);
	nev = 0;
	assert_int_equal(topic(f, 3, "big", "hi", 2), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(count_pres(i, PRES_TOPIC, "big", "u3"), 1);
	assert_int_equal(core_presence_pending(f->c), 0);
}

static void
topic_lingers_with_the_room_and_goes_with_it(void **state)
{
	struct fx *f = *state;
	struct core_joined j;
	size_t n;

	user(f, 0, "alice");
	join(f, 0, "lobby");
	assert_int_equal(topic(f, 0, "lobby", "kept", 4), 0);
	assert_int_equal(part(f, 0, "lobby"), 0);
	j = join(f, 0, "lobby");
	room_topic(j.room, &n, NULL, NULL);
	assert_int_equal(n, 4);
	assert_int_equal(part(f, 0, "lobby"), 0);
	core_set_time(f->c, T0 + LINGER + 1);
	core_expire(f->c);
	j = join(f, 0, "lobby");
	room_topic(j.room, &n, NULL, NULL);
	assert_int_equal(n, 0);
}

int
main(int argc, char **argv)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(hello_registers_nick_as_spelled),
	        T(topic_is_told_to_every_member_setter_included_and_kept),
	        T(topic_refusals_name_the_reason),
	        T(topic_reaches_every_member_of_a_large_room_at_once),
	        T(topic_lingers_with_the_room_and_goes_with_it),
	        T(hello_rejects_invalid_nick_and_allows_retry),
	        T(hello_rejects_nick_taken_case_insensitively),
	        T(hello_after_registration_is_already_registered),
	        T(commands_before_hello_are_not_registered),
	        T(join_creates_room_with_creators_spelling),
	        T(join_result_reports_members_epoch_and_last_seq),
	        T(join_announces_presence_to_members_not_to_joiner),
	        T(join_twice_is_already_in_room),
	        T(join_invalid_room_is_room_invalid),
	        T(say_fans_out_to_every_other_member_exactly_once),
	        T(say_seq_increments_per_room),
	        T(say_to_room_not_joined_is_not_in_room),
	        T(say_rejects_text_too_long),
	        T(say_rejects_empty_text),
	        T(say_rejects_invalid_utf8_and_nul),
	        T(join_after_120_messages_replays_last_50),
	        T(join_with_cursor_within_ring_replays_only_newer),
	        T(join_with_cursor_just_before_ring_is_not_truncated),
	        T(join_with_cursor_at_last_seq_replays_nothing),
	        T(join_with_cursor_older_than_ring_is_truncated),
	        T(join_with_wrong_epoch_is_truncated_and_epoch_changed),
	        T(join_with_cursor_beyond_last_seq_is_answered_as_another_epoch),
	        T(room_only_one_session_used_lingers_the_solo_time),
	        T(room_solo_linger_longer_than_linger_changes_nothing),
	        T(room_history_bytes_cap_one_room_keeping_the_newest),
	        T(history_bytes_budget_forgets_lingering_rooms_first_then_the_largest),
	        T(history_bytes_returns_to_zero_when_every_room_is_gone),
	        T(join_with_cursor_and_no_history_kept_is_truncated),
	        T(part_announces_to_all_members_including_leaver),
	        T(part_errors_name_the_reason),
	        T(nick_change_delivered_once_per_user_sharing_two_rooms),
	        T(nick_change_moves_the_nick_index),
	        T(nick_case_only_change_of_own_nick_is_allowed),
	        T(nick_rejects_invalid_and_taken),
	        T(messages_after_nick_change_carry_the_new_nick),
	        T(direct_to_unknown_nick_is_no_such_user),
	        T(direct_delivers_to_recipient_only),
	        T(direct_to_self_is_allowed),
	        T(direct_rejects_bad_text),
	        T(join_beyond_max_rooms_is_too_many_rooms),
	        T(join_at_default_max_rooms_64),
	        T(join_beyond_max_members_is_room_full),
	        T(join_more_than_32768_rooms_when_room_limit_is_off),
	        T(session_end_with_drop_announces_reason_to_remaining_members),
	        T(session_end_with_quit_announces_quit),
	        T(session_end_with_kind_0_announces_nothing),
	        T(session_end_of_unregistered_session_is_harmless),
	        T(last_member_leaving_room_lingers_and_rejoin_keeps_epoch_and_history),
	        T(rejoin_with_cursor_during_linger_replays_only_newer),
	        T(room_expired_after_linger_restarts_with_new_epoch_and_seq),
	        T(expire_returns_ms_until_the_next_expiry),
	        T(expire_frees_rooms_in_linger_order_whatever_the_leave_order),
	        T(linger_of_zero_frees_empty_room_at_next_expire),
	        T(session_rooms_listed_in_join_order),
	        T(rooms_sorted_by_folded_name),
	        T(rooms_sorted_when_none_is_empty),
	        T(users_sorted_by_folded_name),
	        T(user_find_by_nick_in_any_case),
	        T(members_page_by_join_serial_whoever_leaves),
	};
#undef T

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
