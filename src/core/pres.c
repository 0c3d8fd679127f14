/*
 * Presence-event objects: one allocation each, holding its strings.
 */
#include "core/pres.h"

#include <string.h>

#include "core/msg.h"
#include "core/vocab.h"
#include "util/slab.h"

/* The live render memos, as core/msg.c keeps them for messages. */
static struct render_memo live[MSG_SLOTS];

/* The bytes p takes, its strings and their NULs included. */
static size_t
pres_size(size_t rn, size_t nn, size_t nnn, size_t tn)
{
	return sizeof(struct pres) + rn + nn + nnn + tn + 4;
}

static struct pres *
pres_make(uint8_t kind, uint8_t reason, const char *room, size_t rn, const char *nick, size_t nn,
          const char *new_nick, size_t nnn, const char *text, size_t tn, uint64_t time_ms)
{
	struct pres *p = slab_zalloc(pres_size(rn, nn, nnn, tn));
	char *at = p->data;

	p->refs = 1;
	p->kind = kind;
	p->reason = reason;
	p->room_len = (uint8_t)rn;
	p->nick_len = (uint8_t)nn;
	p->new_nick_len = (uint8_t)nnn;
	p->text_len = (uint16_t)tn;
	p->time_ms = time_ms;
	p->room = msg_store(&at, room, rn);
	p->nick = msg_store(&at, nick, nn);
	p->new_nick = msg_store(&at, new_nick, nnn);
	p->text = msg_store(&at, text, tn);
	return p;
}

struct pres *
pres_new(uint8_t kind, uint8_t reason, const char *room, size_t rn, const char *nick, size_t nn,
         const char *new_nick, size_t nnn, uint64_t time_ms)
{
	return pres_make(kind, reason, room, rn, nick, nn, new_nick, nnn, "", 0, time_ms);
}

struct pres *
pres_leave(uint8_t kind, uint8_t reason, const char *room, size_t rn, const char *nick, size_t nn,
           const char *text, size_t tn, uint64_t time_ms)
{
	_Static_assert(CORE_REASON_MAX <= UINT16_MAX, "a reason's length fits text_len");
	return pres_make(kind, reason, room, rn, nick, nn, "", 0, text,
	                 tn > CORE_REASON_MAX ? CORE_REASON_MAX : tn, time_ms);
}

struct pres *
pres_topic(const char *room, size_t rn, const char *nick, size_t nn, const char *text, size_t tn,
           uint64_t time_ms)
{
	_Static_assert(CORE_TOPIC_MAX <= UINT16_MAX, "a topic's length fits text_len");
	return pres_make(PRES_TOPIC, 0, room, rn, nick, nn, "", 0, text,
	                 tn > CORE_TOPIC_MAX ? CORE_TOPIC_MAX : tn, time_ms);
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
	for (i = 0; i < MSG_SLOTS; i++)
		if (live[i].obj == p)
			render_memo_clear(&live[i]);
	for (i = 0; i < p->nitems; i++)
		pres_unref(p->items[i]);
	slab_free(p->items, p->nitems * sizeof(*p->items));
	slab_free(p, pres_size(p->room_len, p->nick_len, p->new_nick_len, p->text_len));
}

struct slice
pres_wire(struct pres *p, int slot, pres_render_fn *render)
{
	struct render_memo *l = &live[slot];

	if (l->obj != p) {
		render_memo_clear(l);
		l->s = render(p);
		l->obj = p;
	}
	return l->s;
}

void
pres_cache_release(void)
{
	int i;

	for (i = 0; i < MSG_SLOTS; i++)
		render_memo_clear(&live[i]);
}
