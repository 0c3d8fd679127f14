/*
 * Unit tests of messages and presence events (src/msg.c): they own copies
 * of their strings, count references, and render at most once per wire
 * format (and per live/history variant), caching the block so that a
 * fan-out to N members costs one rendering.  Render calls are counted
 * with a fake renderer; blk_bytes_live() shows that cached blocks are
 * released with their message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "blk.h"
#include "chatd/wire.h"
#include "msg.h"

static int msg_renders;       /* calls of render_msg */
static int last_history = -1; /* the history argument of the last call */
static int pres_renders;      /* calls of render_pres */

/* A fake rendering: the message text and a variant marker. */
static struct blk *
render_msg(const struct msg *m, int history)
{
	struct blk *b = blk_new((size_t)m->text_len + 1);

	msg_renders++;
	last_history = history;
	b->data[0] = history ? 'H' : 'L';
	memcpy(b->data + 1, m->text, m->text_len);
	b->len = (uint32_t)m->text_len + 1;
	return b;
}

/* A fake rendering of a presence event: the subject's nick. */
static struct blk *
render_pres(const struct pres *p)
{
	struct blk *b = blk_new(p->nick_len);

	pres_renders++;
	memcpy(b->data, p->nick, p->nick_len);
	b->len = p->nick_len;
	return b;
}

/* Setup: zero the render counters. */
static int
reset_counters(void **state)
{
	(void)state;
	msg_renders = 0;
	pres_renders = 0;
	last_history = -1;
	return 0;
}

static void
msg_new_copies_strings(void **state)
{
	char room[] = "lobby", from[] = "alice", text[] = "hello there";
	struct msg *m;

	(void)state;
	m = msg_new(room, 5, from, 5, text, 11, 42, 1732440000123ULL, 0);
	/* Scribble over the caller's buffers: the message is unaffected. */
	memset(room, 'x', 5);
	memset(from, 'y', 5);
	memset(text, 'z', 11);
	assert_string_equal(m->room, "lobby");
	assert_string_equal(m->from, "alice");
	assert_string_equal(m->text, "hello there");
	assert_int_equal(m->room_len, 5);
	assert_int_equal(m->from_len, 5);
	assert_int_equal(m->text_len, 11);
	assert_int_equal(m->seq, 42);
	assert_int_equal(m->time_ms, 1732440000123ULL);
	assert_int_equal(m->direct, 0);
	assert_int_equal(m->refs, 1);
	msg_unref(m);
}

static void
msg_new_copies_only_the_given_lengths_and_terminates(void **state)
{
	struct msg *m;

	(void)state;
	m = msg_new("lobby-extra", 5, "alice!!", 5, "hi there", 2, 1, 0, 0);
	assert_string_equal(m->room, "lobby");
	assert_string_equal(m->from, "alice");
	assert_string_equal(m->text, "hi");
	msg_unref(m);
}

static void
msg_direct_has_empty_room_and_normalised_flag(void **state)
{
	struct msg *m;

	(void)state;
	m = msg_new("", 0, "bob", 3, "psst", 4, 0, 7, 5);
	assert_int_equal(m->direct, 1);
	assert_string_equal(m->room, "");
	assert_int_equal(m->room_len, 0);
	assert_string_equal(m->from, "bob");
	assert_int_equal(m->seq, 0);
	msg_unref(m);
}

static void
msg_holds_maximal_names_and_long_text(void **state)
{
	static char room[WIRE_ROOM_MAX], nick[WIRE_NICK_MAX], text[4096];
	struct msg *m;

	(void)state;
	memset(room, 'r', sizeof(room));
	memset(nick, 'n', sizeof(nick));
	memset(text, 't', sizeof(text));
	m = msg_new(room, sizeof(room), nick, sizeof(nick), text, sizeof(text), 1, 0, 0);
	assert_int_equal(m->room_len, WIRE_ROOM_MAX);
	assert_int_equal(m->from_len, WIRE_NICK_MAX);
	assert_int_equal(m->text_len, 4096);
	assert_memory_equal(m->room, room, sizeof(room));
	assert_memory_equal(m->from, nick, sizeof(nick));
	assert_memory_equal(m->text, text, sizeof(text));
	assert_int_equal(m->text[4096], '\0');
	msg_unref(m);
}

static void
msg_ref_counts_and_last_unref_frees(void **state)
{
	struct msg *m;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hi", 2, 1, 0, 0);
	assert_ptr_equal(msg_ref(m), m);
	assert_ptr_equal(msg_ref(m), m);
	assert_int_equal(m->refs, 3);
	msg_unref(m);
	msg_unref(m);
	assert_int_equal(m->refs, 1);
	assert_string_equal(m->text, "hi"); /* still alive */
	msg_unref(m);                       /* freed: LeakSanitizer would report otherwise */
}

static void
msg_wire_renders_once_and_caches(void **state)
{
	size_t base = blk_bytes_live();
	struct msg *m;
	struct blk *b1, *b2;
	int i;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	b1 = msg_wire(m, MSG_FMT_FRAMED, 0, render_msg);
	assert_int_equal(msg_renders, 1);
	assert_int_equal(last_history, 0);
	assert_memory_equal(b1->data, "Lhello", 6);
	/* A fan-out to many members: the same block, no more renderings. */
	for (i = 0; i < 100; i++) {
		b2 = msg_wire(m, MSG_FMT_FRAMED, 0, render_msg);
		assert_ptr_equal(b2, b1);
	}
	assert_int_equal(msg_renders, 1);
	assert_int_equal(b1->refs, 1); /* borrowed: the cache holds the only ref */
	msg_unref(m);
	assert_int_equal(blk_bytes_live(), base);
}

static void
msg_wire_renders_history_variant_separately(void **state)
{
	struct msg *m;
	struct blk *live, *hist;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	live = msg_wire(m, MSG_FMT_FRAMED, 0, render_msg);
	hist = msg_wire(m, MSG_FMT_FRAMED, 1, render_msg);
	assert_int_equal(msg_renders, 2);
	assert_int_equal(last_history, 1);
	assert_ptr_not_equal(live, hist);
	assert_int_equal(hist->data[0], 'H');
	assert_int_equal(live->data[0], 'L');
	assert_ptr_equal(msg_wire(m, MSG_FMT_FRAMED, 1, render_msg), hist);
	assert_ptr_equal(msg_wire(m, MSG_FMT_FRAMED, 0, render_msg), live);
	assert_int_equal(msg_renders, 2);
	msg_unref(m);
}

static void
msg_wire_treats_any_nonzero_history_as_the_history_variant(void **state)
{
	struct msg *m;
	struct blk *hist;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	hist = msg_wire(m, MSG_FMT_FRAMED, 7, render_msg);
	assert_int_equal(last_history, 1); /* the renderer sees 0 or 1 */
	assert_ptr_equal(msg_wire(m, MSG_FMT_FRAMED, 1, render_msg), hist);
	assert_int_equal(msg_renders, 1);
	msg_unref(m);
}

static void
msg_wire_renders_once_per_format(void **state)
{
	size_t base = blk_bytes_live();
	struct blk *seen[MSG_FMT_MAX][2];
	struct msg *m;
	int f, h, round;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	for (round = 0; round < 3; round++)
		for (f = 0; f < MSG_FMT_MAX; f++)
			for (h = 0; h < 2; h++) {
				struct blk *b = msg_wire(m, (enum msg_format)f, h, render_msg);

				if (round == 0)
					seen[f][h] = b;
				else
					assert_ptr_equal(b, seen[f][h]);
			}
	assert_int_equal(msg_renders, MSG_FMT_MAX * 2);
	/* Eight distinct blocks. */
	for (f = 0; f < MSG_FMT_MAX * 2; f++)
		for (h = f + 1; h < MSG_FMT_MAX * 2; h++)
			assert_ptr_not_equal(seen[f / 2][f % 2], seen[h / 2][h % 2]);
	assert_true(blk_bytes_live() > base);
	msg_unref(m);
	assert_int_equal(blk_bytes_live(), base);
}

static void
msg_cached_block_outlives_message_while_referenced(void **state)
{
	size_t base = blk_bytes_live();
	struct msg *m;
	struct blk *b;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	/* What an output queue does: take its own reference to the block. */
	b = blk_ref(msg_wire(m, MSG_FMT_FRAMED, 0, render_msg));
	msg_unref(m);
	assert_int_equal(b->refs, 1);
	assert_memory_equal(b->data, "Lhello", 6);
	blk_unref(b);
	assert_int_equal(blk_bytes_live(), base);
}

static void
msg_unref_without_rendering_releases_nothing_else(void **state)
{
	size_t base = blk_bytes_live();
	struct msg *m;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	msg_unref(m);
	assert_int_equal(blk_bytes_live(), base);
	assert_int_equal(msg_renders, 0);
}

static void
pres_new_copies_strings(void **state)
{
	char room[] = "lobby", nick[] = "alice", nn[] = "alice2";
	struct pres *p;

	(void)state;
	p = pres_new(WIRE_P_DROP, WIRE_R_PING_TIMEOUT, room, 5, nick, 5, nn, 6, 99);
	memset(room, 'x', 5);
	memset(nick, 'y', 5);
	memset(nn, 'z', 6);
	assert_int_equal(p->kind, WIRE_P_DROP);
	assert_int_equal(p->reason, WIRE_R_PING_TIMEOUT);
	assert_string_equal(p->room, "lobby");
	assert_string_equal(p->nick, "alice");
	assert_string_equal(p->new_nick, "alice2");
	assert_int_equal(p->room_len, 5);
	assert_int_equal(p->nick_len, 5);
	assert_int_equal(p->new_nick_len, 6);
	assert_int_equal(p->time_ms, 99);
	assert_int_equal(p->refs, 1);
	pres_unref(p);
}

static void
pres_nick_change_has_empty_room_and_join_has_empty_new_nick(void **state)
{
	struct pres *nick, *join;

	(void)state;
	nick = pres_new(WIRE_P_NICK, WIRE_R_NONE, "", 0, "old", 3, "new", 3, 1);
	join = pres_new(WIRE_P_JOIN, WIRE_R_NONE, "lobby", 5, "alice", 5, "", 0, 1);
	assert_string_equal(nick->room, "");
	assert_string_equal(nick->nick, "old");
	assert_string_equal(nick->new_nick, "new");
	assert_string_equal(join->room, "lobby");
	assert_string_equal(join->new_nick, "");
	assert_int_equal(join->new_nick_len, 0);
	pres_unref(nick);
	pres_unref(join);
}

static void
pres_ref_counts_and_last_unref_frees(void **state)
{
	struct pres *p;

	(void)state;
	p = pres_new(WIRE_P_JOIN, WIRE_R_NONE, "lobby", 5, "alice", 5, "", 0, 1);
	assert_ptr_equal(pres_ref(p), p);
	assert_int_equal(p->refs, 2);
	pres_unref(p);
	assert_int_equal(p->refs, 1);
	pres_unref(p);
}

static void
pres_wire_renders_once_per_format_and_caches(void **state)
{
	size_t base = blk_bytes_live();
	struct blk *seen[MSG_FMT_MAX];
	struct pres *p;
	int f, round;

	(void)state;
	p = pres_new(WIRE_P_JOIN, WIRE_R_NONE, "lobby", 5, "alice", 5, "", 0, 1);
	for (round = 0; round < 5; round++)
		for (f = 0; f < MSG_FMT_MAX; f++) {
			struct blk *b = pres_wire(p, (enum msg_format)f, render_pres);

			if (round == 0)
				seen[f] = b;
			else
				assert_ptr_equal(b, seen[f]);
		}
	assert_int_equal(pres_renders, MSG_FMT_MAX);
	assert_memory_equal(seen[MSG_FMT_FRAMED]->data, "alice", 5);
	for (f = 1; f < MSG_FMT_MAX; f++)
		assert_ptr_not_equal(seen[0], seen[f]);
	pres_unref(p);
	assert_int_equal(blk_bytes_live(), base);
}

static void
pres_cached_block_outlives_event_while_referenced(void **state)
{
	size_t base = blk_bytes_live();
	struct pres *p;
	struct blk *b;

	(void)state;
	p = pres_new(WIRE_P_PART, WIRE_R_NONE, "lobby", 5, "alice", 5, "", 0, 1);
	b = blk_ref(pres_wire(p, MSG_FMT_TEXT, render_pres));
	pres_unref(p);
	assert_int_equal(b->refs, 1);
	assert_memory_equal(b->data, "alice", 5);
	blk_unref(b);
	assert_int_equal(blk_bytes_live(), base);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(msg_new_copies_strings, reset_counters),
	        cmocka_unit_test_setup(msg_new_copies_only_the_given_lengths_and_terminates,
	                               reset_counters),
	        cmocka_unit_test_setup(msg_direct_has_empty_room_and_normalised_flag,
	                               reset_counters),
	        cmocka_unit_test_setup(msg_holds_maximal_names_and_long_text, reset_counters),
	        cmocka_unit_test_setup(msg_ref_counts_and_last_unref_frees, reset_counters),
	        cmocka_unit_test_setup(msg_wire_renders_once_and_caches, reset_counters),
	        cmocka_unit_test_setup(msg_wire_renders_history_variant_separately, reset_counters),
	        cmocka_unit_test_setup(msg_wire_treats_any_nonzero_history_as_the_history_variant,
	                               reset_counters),
	        cmocka_unit_test_setup(msg_wire_renders_once_per_format, reset_counters),
	        cmocka_unit_test_setup(msg_cached_block_outlives_message_while_referenced,
	                               reset_counters),
	        cmocka_unit_test_setup(msg_unref_without_rendering_releases_nothing_else,
	                               reset_counters),
	        cmocka_unit_test_setup(pres_new_copies_strings, reset_counters),
	        cmocka_unit_test_setup(pres_nick_change_has_empty_room_and_join_has_empty_new_nick,
	                               reset_counters),
	        cmocka_unit_test_setup(pres_ref_counts_and_last_unref_frees, reset_counters),
	        cmocka_unit_test_setup(pres_wire_renders_once_per_format_and_caches,
	                               reset_counters),
	        cmocka_unit_test_setup(pres_cached_block_outlives_event_while_referenced,
	                               reset_counters),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
