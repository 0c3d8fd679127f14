/*
 * Message and presence-event objects.  Each is one allocation holding its
 * strings, so that a message outlives the room and session that made it
 * without dangling pointers.
 */
#include "msg.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

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
	struct msg *m = mem_zalloc(sizeof(*m) + rn + fn + tn + 3);
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

void
msg_unref(struct msg *m)
{
	int f, h;

	if (--m->refs)
		return;
	for (f = 0; f < MSG_FMT_MAX; f++)
		for (h = 0; h < 2; h++)
			if (m->wire[f][h].b)
				blk_unref(m->wire[f][h].b);
	mem_free(m, sizeof(*m) + m->room_len + m->from_len + m->text_len + 3);
}

struct slice
msg_wire(struct msg *m, enum msg_format fmt, int history, msg_render_fn *render)
{
	struct slice *slot = &m->wire[fmt][history != 0];

	if (slot->b == NULL)
		*slot = render(m, history != 0);
	return *slot;
}

void
msg_drop_live(struct msg *m)
{
	int f;

	for (f = 0; f < MSG_FMT_MAX; f++)
		if (m->wire[f][0].b) {
			blk_unref(m->wire[f][0].b);
			m->wire[f][0].b = NULL;
		}
}

struct pres *
pres_new(uint8_t kind, uint8_t reason, const char *room, size_t rn, const char *nick, size_t nn,
         const char *new_nick, size_t nnn, uint64_t time_ms)
{
	struct pres *p = mem_zalloc(sizeof(*p) + rn + nn + nnn + 3);
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
pres_ref(struct pres *p)
{
	p->refs++;
	return p;
}

void
pres_unref(struct pres *p)
{
	int f;

	if (--p->refs)
		return;
	for (f = 0; f < MSG_FMT_MAX; f++)
		if (p->wire[f].b)
			blk_unref(p->wire[f].b);
	mem_free(p, sizeof(*p) + p->room_len + p->nick_len + p->new_nick_len + 3);
}

struct slice
pres_wire(struct pres *p, enum msg_format fmt, pres_render_fn *render)
{
	if (p->wire[fmt].b == NULL)
		p->wire[fmt] = render(p);
	return p->wire[fmt];
}
