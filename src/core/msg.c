/*
 * Message objects.  Each is one allocation holding its strings, so that a
 * message outlives the room and session that made it without dangling
 * pointers.
 */
#include "core/msg.h"

#include "core/pres.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/slab.h"

/* Append s[0, n) and a NUL at *at, returning where it landed. */
const char *
msg_store(char **at, const char *s, size_t n)
{
	char *p = *at;

	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	*at = p + n + 1;
	return p;
}

struct msg *
msg_new(const char *room, size_t rn, const char *from, size_t fn, const char *text, size_t tn,
        uint64_t seq, uint64_t time_ms, int direct)
{
	struct msg *m = slab_zalloc(sizeof(*m) + rn + fn + tn + 3);
	char *at = m->data;

	m->refs = 1;
	m->direct = (uint8_t)(direct != 0);
	m->room_len = (uint8_t)rn;
	m->from_len = (uint8_t)fn;
	m->text_len = (uint16_t)tn;
	m->seq = seq;
	m->time_ms = time_ms;
	m->room = msg_store(&at, room, rn);
	m->from = msg_store(&at, from, fn);
	m->text = msg_store(&at, text, tn);
	return m;
}

struct msg *
msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}

/* The live render memos: the message most recently rendered for each
 * slot and its slice.  A fan-out renders one message for every member
 * before the next comes, so one memo per slot serves it; the key is the
 * message itself, cleared when the message is freed so that an address
 * reused by a later one cannot hit a stale memo. */
static struct render_memo live[MSG_SLOTS];

/* A rendering kept on a history message. */
struct msg_render {
	struct msg_render *next;
	struct slice s;
	uint8_t slot;
};

static size_t hist_render_bytes; /* blocks and the nodes that hold them */
static size_t hist_render_nodes; /* how many nodes */

/* Drop the memos that belong to m. */
static void
live_forget(const struct msg *m)
{
	int i;

	for (i = 0; i < MSG_SLOTS; i++)
		if (live[i].obj == m)
			render_memo_clear(&live[i]);
}

void
msg_unref(struct msg *m)
{
	struct msg_render *r;

	if (--m->refs)
		return;
	live_forget(m);
	while ((r = m->hist) != NULL) {
		m->hist = r->next;
		hist_render_bytes -= r->s.b->cap + sizeof(*r);
		hist_render_nodes--;
		blk_unref(r->s.b);
		slab_free(r, sizeof(*r));
	}
	slab_free(m, msg_size(m));
}

size_t
msg_size(const struct msg *m)
{
	return sizeof(*m) + m->room_len + m->from_len + m->text_len + 3;
}

struct slice
msg_wire(struct msg *m, int slot, int history, msg_render_fn *render)
{
	struct msg_render *r;

	if (!history) {
		struct render_memo *l = &live[slot];

		if (l->obj != m) {
			render_memo_clear(l);
			l->s = render(m, 0);
			l->obj = m;
		}
		return l->s;
	}
	for (r = m->hist; r; r = r->next)
		if (r->slot == slot)
			return r->s;
	r = slab_alloc(sizeof(*r));
	r->s = render(m, 1);
	r->slot = (uint8_t)slot;
	r->next = m->hist;
	m->hist = r;
	hist_render_bytes += r->s.b->cap + sizeof(*r);
	hist_render_nodes++;
	return r->s;
}

void
msg_drop_live(struct msg *m)
{
	live_forget(m);
}

size_t
msg_history_render_bytes(void)
{
	return hist_render_bytes;
}

size_t
msg_history_render_blocks(void)
{
	return hist_render_bytes - hist_render_nodes * sizeof(struct msg_render);
}

void
msg_cache_release(void)
{
	int i;

	for (i = 0; i < MSG_SLOTS; i++)
		render_memo_clear(&live[i]);
	pres_cache_release();
}
