/*
 * Unit tests of messages and presence events (src/core/msg.c): they own copies
 * of their strings, count references, and render at most once per wire
 * format (and per live/history variant), caching the slice so that a
 * fan-out to N members costs one rendering: live renderings in a cache of
 * one event per format, history renderings on the message, counted in
 * msg_history_render_bytes().  Render calls are counted with fake
 * renderers (one block per rendering, or an arena as the front ends use);
 * blk_bytes_live() shows that cached blocks are released with their
 * message, and live renderings at msg_drop_live().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/blk.h"
#include "chatd/wire.h"
#include "core/msg.h"
#include "core/pres.h"
#include "util/arena.h"

/* Two render slots, as two front ends would have. */
#define MSG_FMT_FRAMED 0
#define MSG_FMT_TEXT   1
#define MSG_FMT_MAX    2

static int msg_renders;       /* calls of render_msg */
static int last_history = -1; /* the history argument of the last call */
static int pres_renders;      /* calls of render_pres */

/* A fake rendering in a block of its own: the message text and a variant
 * marker. */
static struct slice
render_msg(const struct msg *m, int history)
{
	struct blk *b = blk_new((size_t)m->text_len + 1);

	msg_renders++;
	last_history = history;
	b->data[0] = history ? 'H' : 'L';
	memcpy(b->data + 1, m->text, m->text_len);
	b->len = (uint32_t)m->text_len + 1;
	return (struct slice){b, 0, b->len};
}

/* As the front ends do: live renderings back to back in an arena, history
 * renderings in blocks of their own. */
static struct arena test_arena;

static struct slice
render_msg_arena(const struct msg *m, int history)
{
	size_t n = (size_t)m->text_len + 1;
	uint8_t *p;

	if (history)
		return render_msg(m, history);
	msg_renders++;
	last_history = history;
	p = arena_reserve(&test_arena, n);
	p[0] = 'L';
	memcpy(p + 1, m->text, m->text_len);
	return arena_commit(&test_arena, n);
}

/* A fake rendering of a presence event: the subject's nick. */
static struct slice
render_pres(const struct pres *p)
{
	struct blk *b = blk_new(p->nick_len);

	pres_renders++;
	memcpy(b->data, p->nick, p->nick_len);
	b->len = p->nick_len;
	return (struct slice){b, 0, b->len};
}

/* The bytes a slice designates. */
static const uint8_t *
bytes(struct slice s)
{
	return s.b->data + s.off;
}

static void
assert_slice_equal(struct slice a, struct slice b)
{
	assert_ptr_equal(a.b, b.b);
	assert_int_equal(a.off, b.off);
	assert_int_equal(a.len, b.len);
}

static int
slice_equal(struct slice a, struct slice b)
{
	return a.b == b.b && a.off == b.off && a.len == b.len;
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

/* Teardown: let go of the arena's block. */
static int
release_arena(void **state)
{
	(void)state;
	arena_release(&test_arena);
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
	struct slice s1, s2;
	int i;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	s1 = msg_wire(m, MSG_FMT_FRAMED, 0, render_msg);
	assert_int_equal(msg_renders, 1);
	assert_int_equal(last_history, 0);
	assert_int_equal(s1.len, 6);
	assert_memory_equal(bytes(s1), "Lhello", 6);
	/* A fan-out to many members: the same slice, no more renderings. */
	for (i = 0; i < 100; i++) {
		s2 = msg_wire(m, MSG_FMT_FRAMED, 0, render_msg);
		assert_slice_equal(s2, s1);
	}
	assert_int_equal(msg_renders, 1);
	assert_int_equal(s1.b->refs, 1); /* borrowed: the cache holds the only ref */
	msg_unref(m);
	assert_int_equal(blk_bytes_live(), base);
}

static void
msg_wire_renders_history_variant_separately(void **state)
{
	struct msg *m;
	struct slice live, hist;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	live = msg_wire(m, MSG_FMT_FRAMED, 0, render_msg);
	hist = msg_wire(m, MSG_FMT_FRAMED, 1, render_msg);
	assert_int_equal(msg_renders, 2);
	assert_int_equal(last_history, 1);
	assert_ptr_not_equal(live.b, hist.b);
	assert_int_equal(bytes(hist)[0], 'H');
	assert_int_equal(bytes(live)[0], 'L');
	assert_slice_equal(msg_wire(m, MSG_FMT_FRAMED, 1, render_msg), hist);
	assert_slice_equal(msg_wire(m, MSG_FMT_FRAMED, 0, render_msg), live);
	assert_int_equal(msg_renders, 2);
	msg_unref(m);
}

static void
msg_wire_treats_any_nonzero_history_as_the_history_variant(void **state)
{
	struct msg *m;
	struct slice hist;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	hist = msg_wire(m, MSG_FMT_FRAMED, 7, render_msg);
	assert_int_equal(last_history, 1); /* the renderer sees 0 or 1 */
	assert_slice_equal(msg_wire(m, MSG_FMT_FRAMED, 1, render_msg), hist);
	assert_int_equal(msg_renders, 1);
	msg_unref(m);
}

static void
msg_wire_renders_once_per_format(void **state)
{
	size_t base = blk_bytes_live();
	struct slice seen[MSG_FMT_MAX][2];
	struct msg *m;
	int f, h, round;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	for (round = 0; round < 3; round++)
		for (f = 0; f < MSG_FMT_MAX; f++)
			for (h = 0; h < 2; h++) {
				struct slice s = msg_wire(m, f, h, render_msg);

				if (round == 0)
					seen[f][h] = s;
				else
					assert_slice_equal(s, seen[f][h]);
			}
	assert_int_equal(msg_renders, MSG_FMT_MAX * 2);
	/* Eight distinct blocks. */
	for (f = 0; f < MSG_FMT_MAX * 2; f++)
		for (h = f + 1; h < MSG_FMT_MAX * 2; h++)
			assert_ptr_not_equal(seen[f / 2][f % 2].b, seen[h / 2][h % 2].b);
	assert_true(blk_bytes_live() > base);
	msg_unref(m);
	assert_int_equal(blk_bytes_live(), base);
}

static void
msg_cached_block_outlives_message_while_referenced(void **state)
{
	size_t base = blk_bytes_live();
	struct msg *m;
	struct slice s;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	/* What an output queue does: take its own reference to the block. */
	s = msg_wire(m, MSG_FMT_FRAMED, 0, render_msg);
	blk_ref(s.b);
	msg_unref(m);
	assert_int_equal(s.b->refs, 1);
	assert_memory_equal(bytes(s), "Lhello", 6);
	blk_unref(s.b);
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
msg_wire_arena_renderings_of_a_burst_are_adjacent_slices_of_one_block(void **state)
{
	size_t base = blk_bytes_live();
	struct msg *m[3];
	struct slice s[3];
	int i;

	(void)state;
	m[0] = msg_new("lobby", 5, "alice", 5, "one", 3, 1, 0, 0);
	m[1] = msg_new("lobby", 5, "alice", 5, "two!", 4, 2, 0, 0);
	m[2] = msg_new("lobby", 5, "alice", 5, "three", 5, 3, 0, 0);
	for (i = 0; i < 3; i++)
		s[i] = msg_wire(m[i], MSG_FMT_FRAMED, 0, render_msg_arena);
	assert_ptr_equal(s[1].b, s[0].b);
	assert_ptr_equal(s[2].b, s[0].b);
	assert_int_equal(s[1].off, s[0].off + s[0].len);
	assert_int_equal(s[2].off, s[1].off + s[1].len);
	assert_memory_equal(bytes(s[0]), "Lone", 4);
	assert_memory_equal(bytes(s[1]), "Ltwo!", 5);
	assert_memory_equal(bytes(s[2]), "Lthree", 6);
	/* The arena and the live cache (of the last message) hold one each. */
	assert_int_equal(s[0].b->refs, 2);
	for (i = 0; i < 3; i++)
		msg_unref(m[i]);
	arena_release(&test_arena);
	assert_int_equal(blk_bytes_live(), base);
}

static void
msg_drop_live_releases_live_renderings_and_keeps_history(void **state)
{
	size_t base = blk_bytes_live(), with_hist;
	struct slice hist[MSG_FMT_MAX];
	struct msg *m;
	int f;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	for (f = 0; f < MSG_FMT_MAX; f++)
		hist[f] = msg_wire(m, f, 1, render_msg);
	with_hist = blk_bytes_live();
	for (f = 0; f < MSG_FMT_MAX; f++)
		msg_wire(m, f, 0, render_msg);
	assert_int_equal(msg_renders, 2 * MSG_FMT_MAX);
	assert_true(blk_bytes_live() > with_hist);
	msg_drop_live(m);
	/* Exactly the live blocks went. */
	assert_int_equal(blk_bytes_live(), with_hist);
	for (f = 0; f < MSG_FMT_MAX; f++) {
		/* The history variant is still cached: no rendering. */
		assert_slice_equal(msg_wire(m, f, 1, render_msg), hist[f]);
		assert_memory_equal(bytes(hist[f]), "Hhello", 6);
	}
	assert_int_equal(msg_renders, 2 * MSG_FMT_MAX);
	msg_unref(m);
	assert_int_equal(blk_bytes_live(), base);
}

static void
msg_drop_live_leaves_unrendered_formats_and_can_be_repeated(void **state)
{
	size_t base = blk_bytes_live();
	struct msg *m;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	msg_drop_live(m); /* nothing rendered yet */
	assert_int_equal(blk_bytes_live(), base);
	msg_wire(m, MSG_FMT_TEXT, 0, render_msg);
	msg_drop_live(m);
	msg_drop_live(m); /* a second drop releases nothing twice */
	assert_int_equal(blk_bytes_live(), base);
	msg_unref(m); /* LeakSanitizer/ASan catch a double free or a leak */
	assert_int_equal(blk_bytes_live(), base);
}

static void
msg_wire_after_drop_live_renders_the_live_variant_again(void **state)
{
	size_t base = blk_bytes_live();
	struct slice live;
	struct msg *m;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	msg_wire(m, MSG_FMT_FRAMED, 0, render_msg);
	msg_wire(m, MSG_FMT_FRAMED, 1, render_msg);
	assert_int_equal(msg_renders, 2);
	msg_drop_live(m);
	live = msg_wire(m, MSG_FMT_FRAMED, 0, render_msg);
	assert_int_equal(msg_renders, 3);
	assert_int_equal(last_history, 0);
	assert_int_equal(live.len, 6);
	assert_memory_equal(bytes(live), "Lhello", 6);
	/* And it is cached again. */
	assert_slice_equal(msg_wire(m, MSG_FMT_FRAMED, 0, render_msg), live);
	assert_int_equal(msg_renders, 3);
	msg_unref(m);
	assert_int_equal(blk_bytes_live(), base);
}

static void
msg_drop_live_unpins_the_arena_block_but_queued_references_keep_it(void **state)
{
	size_t base = blk_bytes_live();
	struct slice live, hist;
	struct msg *m;
	struct blk *b;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	live = msg_wire(m, MSG_FMT_FRAMED, 0, render_msg_arena);
	hist = msg_wire(m, MSG_FMT_FRAMED, 1, render_msg_arena);
	b = live.b;
	assert_ptr_not_equal(hist.b, b); /* history has a block of its own */
	assert_int_equal(b->refs, 2);    /* the arena and the message */
	blk_ref(b);                      /* a recipient's queue */
	msg_drop_live(m);
	assert_int_equal(b->refs, 2);
	arena_release(&test_arena);
	assert_int_equal(b->refs, 1);
	assert_memory_equal(b->data + live.off, "Lhello", 6); /* still readable */
	blk_unref(b);
	/* Only the message's history rendering is left. */
	assert_int_equal(blk_bytes_live(), base + hist.b->cap);
	msg_unref(m);
	assert_int_equal(blk_bytes_live(), base);
}
static void
msg_wire_live_cache_serves_one_event_per_format(void **state)
{
	size_t base = blk_bytes_live();
	struct msg *a, *b;
	struct slice sa, sb;

	(void)state;
	a = msg_new("lobby", 5, "alice", 5, "one", 3, 1, 0, 0);
	b = msg_new("lobby", 5, "alice", 5, "two", 3, 2, 0, 0);
	sa = msg_wire(a, MSG_FMT_FRAMED, 0, render_msg);
	assert_memory_equal(bytes(sa), "Lone", 4);
	sb = msg_wire(b, MSG_FMT_FRAMED, 0, render_msg);
	assert_memory_equal(bytes(sb), "Ltwo", 4);
	/* b took the format's entry: a's rendering went, and a is rendered
	 * again if it is asked for; no message carries a live slot. */
	assert_int_equal(blk_bytes_live(), base + sb.b->cap);
	assert_memory_equal(bytes(msg_wire(a, MSG_FMT_FRAMED, 0, render_msg)), "Lone", 4);
	assert_int_equal(msg_renders, 3);
	msg_unref(a);
	msg_unref(b);
	assert_int_equal(blk_bytes_live(), base);
}

static void
msg_freed_message_leaves_no_cache_entry_for_its_address(void **state)
{
	struct msg *a, *b;
	struct slice s;

	(void)state;
	a = msg_new("lobby", 5, "alice", 5, "old", 3, 1, 0, 0);
	msg_wire(a, MSG_FMT_TEXT, 0, render_msg);
	msg_unref(a);
	/* The allocator hands the same size class's slot out again. */
	b = msg_new("lobby", 5, "alice", 5, "new", 3, 2, 0, 0);
	s = msg_wire(b, MSG_FMT_TEXT, 0, render_msg);
	assert_int_equal(msg_renders, 2);
	assert_memory_equal(bytes(s), "Lnew", 4);
	msg_unref(b);
}

static void
msg_history_renderings_are_counted_while_the_message_lives(void **state)
{
	size_t base = msg_history_render_bytes();
	struct msg *m;
	struct slice f, t;

	(void)state;
	m = msg_new("lobby", 5, "alice", 5, "hello", 5, 1, 0, 0);
	msg_wire(m, MSG_FMT_FRAMED, 0, render_msg);
	assert_int_equal(msg_history_render_bytes(), base); /* live: not history */
	f = msg_wire(m, MSG_FMT_FRAMED, 1, render_msg);
	t = msg_wire(m, MSG_FMT_TEXT, 1, render_msg);
	assert_true(msg_history_render_bytes() >= base + f.b->cap + t.b->cap);
	msg_wire(m, MSG_FMT_TEXT, 1, render_msg); /* cached: counted once */
	assert_true(msg_history_render_bytes() < base + 2 * ((size_t)f.b->cap + t.b->cap) + 64);
	msg_unref(m);
	assert_int_equal(msg_history_render_bytes(), base);
	assert_true(msg_size(m = msg_new("r", 1, "a", 1, "xyz", 3, 1, 0, 0)) >= 3 + 1 + 1 + 3);
	msg_unref(m);
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
	struct slice seen[MSG_FMT_MAX];
	struct pres *p;
	int f, round;

	(void)state;
	p = pres_new(WIRE_P_JOIN, WIRE_R_NONE, "lobby", 5, "alice", 5, "", 0, 1);
	for (round = 0; round < 5; round++)
		for (f = 0; f < MSG_FMT_MAX; f++) {
			struct slice s = pres_wire(p, f, render_pres);

			if (round == 0)
				seen[f] = s;
			else
				assert_slice_equal(s, seen[f]);
		}
	assert_int_equal(pres_renders, MSG_FMT_MAX);
	assert_int_equal(seen[MSG_FMT_FRAMED].len, 5);
	assert_memory_equal(bytes(seen[MSG_FMT_FRAMED]), "alice", 5);
	for (f = 1; f < MSG_FMT_MAX; f++)
		assert_false(slice_equal(seen[0], seen[f]));
	for (f = 1; f < MSG_FMT_MAX; f++)
		assert_ptr_not_equal(seen[0].b, seen[f].b);
	pres_unref(p);
	assert_int_equal(blk_bytes_live(), base);
}

static void
pres_cached_block_outlives_event_while_referenced(void **state)
{
	size_t base = blk_bytes_live();
	struct pres *p;
	struct slice s;

	(void)state;
	p = pres_new(WIRE_P_PART, WIRE_R_NONE, "lobby", 5, "alice", 5, "", 0, 1);
	s = pres_wire(p, MSG_FMT_TEXT, render_pres);
	blk_ref(s.b);
	pres_unref(p);
	assert_int_equal(s.b->refs, 1);
	assert_memory_equal(bytes(s), "alice", 5);
	blk_unref(s.b);
	assert_int_equal(blk_bytes_live(), base);
}

#define T(f) cmocka_unit_test_setup_teardown(f, reset_counters, release_arena)

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        T(msg_new_copies_strings),
	        T(msg_new_copies_only_the_given_lengths_and_terminates),
	        T(msg_direct_has_empty_room_and_normalised_flag),
	        T(msg_holds_maximal_names_and_long_text),
	        T(msg_ref_counts_and_last_unref_frees),
	        T(msg_wire_renders_once_and_caches),
	        T(msg_wire_renders_history_variant_separately),
	        T(msg_wire_treats_any_nonzero_history_as_the_history_variant),
	        T(msg_wire_renders_once_per_format),
	        T(msg_cached_block_outlives_message_while_referenced),
	        T(msg_unref_without_rendering_releases_nothing_else),
	        T(msg_wire_arena_renderings_of_a_burst_are_adjacent_slices_of_one_block),
	        T(msg_drop_live_releases_live_renderings_and_keeps_history),
	        T(msg_drop_live_leaves_unrendered_formats_and_can_be_repeated),
	        T(msg_wire_after_drop_live_renders_the_live_variant_again),
	        T(msg_drop_live_unpins_the_arena_block_but_queued_references_keep_it),
	        T(msg_wire_live_cache_serves_one_event_per_format),
	        T(msg_freed_message_leaves_no_cache_entry_for_its_address),
	        T(msg_history_renderings_are_counted_while_the_message_lives),
	        T(pres_new_copies_strings),
	        T(pres_nick_change_has_empty_room_and_join_has_empty_new_nick),
	        T(pres_ref_counts_and_last_unref_frees),
	        T(pres_wire_renders_once_per_format_and_caches),
	        T(pres_cached_block_outlives_event_while_referenced),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
