/*
 * Message and presence-event objects.  Each is one allocation holding its
 * strings, so that a message outlives the room and session that made it
 * without dangling pointers.
 */
#include "core/msg.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/slab.h"

/* Append s[0, n) and a NUL at *at, returning where it landed. */
static const char *
store(char **at, const char *s, size_t n)
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
	m->room = store(&at, room, rn);
	m->from = store(&at, from, fn);
	m->text = store(&at, text, tn);
	return m;
}

struct msg *
msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}

/* The live render cache: the event most recently rendered in each format
 * and its slice.  A fan-out renders one event for every member before the
 * next event comes, so one entry per format serves it; the key is the
 * object itself, cleared when the object is freed so that an address
 * reused by a later object cannot hit a stale entry. */
struct live {
	const void *obj;
	struct slice s;
};

static struct live msg_live[MSG_FMT_MAX];
static struct live pres_live[MSG_FMT_MAX];

/* A rendering kept on a history message. */
struct msg_render {
	struct msg_render *next;
	struct slice s;
	uint8_t fmt;
};

static size_t hist_render_bytes; /* blocks and the nodes that hold them */
static size_t hist_render_nodes; /* how many nodes */

static void
live_clear(struct live *l)
{
	if (l->obj) {
		blk_unref(l->s.b);
		l->obj = NULL;
	}
}

/* Drop the cache entries that belong to obj. */
static void
live_forget(struct live *cache, const void *obj)
{
	int f;

	for (f = 0; f < MSG_FMT_MAX; f++)
		if (cache[f].obj == obj)
			live_clear(&cache[f]);
}

void
msg_unref(struct msg *m)
{
	struct msg_render *r;

	if (--m->refs)
		return;
	live_forget(msg_live, m);
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
msg_wire(struct msg *m, enum msg_format fmt, int history, msg_render_fn *render)
{
	struct msg_render *r;

	if (!history) {
		struct live *l = &msg_live[fmt];

		if (l->obj != m) {
			live_clear(l);
			l->s = render(m, 0);
			l->obj = m;
		}
		return l->s;
	}
	for (r = m->hist; r; r = r->next)
		if (r->fmt == fmt)
			return r->s;
	r = slab_alloc(sizeof(*r));
	r->s = render(m, 1);
	r->fmt = (uint8_t)fmt;
	r->next = m->hist;
	m->hist = r;
	hist_render_bytes += r->s.b->cap + sizeof(*r);
	hist_render_nodes++;
	return r->s;
}

void
msg_drop_live(struct msg *m)
{
	live_forget(msg_live, m);
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
	int f;

	for (f = 0; f < MSG_FMT_MAX; f++) {
		live_clear(&msg_live[f]);
		live_clear(&pres_live[f]);
	}
}

struct pres *
pres_new(uint8_t kind, uint8_t reason, const char *room, size_t rn, const char *nick, size_t nn,
         const char *new_nick, size_t nnn, uint64_t time_ms)
{
	struct pres *p = slab_zalloc(sizeof(*p) + rn + nn + nnn + 3);
	char *at = p->data;

	p->refs = 1;
	p->kind = kind;
	p->reason = reason;
	p->room_len = (uint8_t)rn;
	p->nick_len = (uint8_t)nn;
	p->new_nick_len = (uint8_t)nnn;
	p->time_ms = time_ms;
	p->room = store(&at, room, rn);
	p->nick = store(&at, nick, nn);
	p->new_nick = store(&at, new_nick, nnn);
	return p;
}

struct pres *
pres_summary(const char *room, size_t rn, uint32_t members, uint32_t joins, uint32_t leaves,
             struct pres *const *items, size_t n, int omitted, uint64_t time_ms)
{
	struct pres *p = pres_new(PRES_SUMMARY, 0, room, rn, "", 0, "", 0, time_ms);

	if (n) {
		p->items = slab_alloc(n * sizeof(*p->items));
		memcpy(p->items, items, n * sizeof(*p->items));
	}
	p->nitems = (uint16_t)n;
	p->omitted = (uint8_t)(omitted != 0);
	p->members = members;
	p->joins = joins;
	p->leaves = leaves;
	return p;
}

struct pres *
pres_ref(struct pres *p)
{
	p->refs++;
	return p;
}

void
pres_unref(struct pres *p)
{
	uint16_t i;

	if (--p->refs)
		return;
	live_forget(pres_live, p);
	for (i = 0; i < p->nitems; i++)
		pres_unref(p->items[i]);
	slab_free(p->items, p->nitems * sizeof(*p->items));
	slab_free(p, sizeof(*p) + p->room_len + p->nick_len + p->new_nick_len + 3);
}

struct slice
pres_wire(struct pres *p, enum msg_format fmt, pres_render_fn *render)
{
	struct live *l = &pres_live[fmt];

	if (l->obj != p) {
		live_clear(l);
		l->s = render(p);
		l->obj = p;
	}
	return l->s;
}
