/*
 * The front-end registry (see frontend.h): a short table, filled once at
 * start-up, searched on every new connection.
 */
#include "net/frontend.h"

#include <stdlib.h>
#include <string.h>

#include "core/msg.h"
#include "util/log.h"

static struct frontend *table[MSG_SLOTS];
static unsigned count;

void
frontend_register(struct frontend *fe)
{
	if (count == MSG_SLOTS)
		fatal("too many front ends (%d)", MSG_SLOTS);
	fe->slot = (int)count;
	fe->id = (uint8_t)count;
	table[count++] = fe;
}

const struct frontend *
frontend_find(const char *name)
{
	unsigned i;

	for (i = 0; i < count; i++)
		if (strcmp(table[i]->name, name) == 0)
			return table[i];
	return NULL;
}

int
frontend_known(const char *name)
{
	const struct frontend *fe = frontend_find(name);

	return fe != NULL && !fe->upgrade_only;
}

const struct frontend *
frontend_at(uint8_t id)
{
	return id < count ? table[id] : NULL;
}

enum detect
frontend_detect(const uint8_t *p, size_t len, const struct frontend **fe, size_t *used)
{
	enum detect best = DETECT_NOT;
	unsigned i;

	for (i = 0; i < count; i++) {
		enum detect d;

		if (table[i]->detect == NULL)
			continue;
		*used = 0;
		d = table[i]->detect(p, len, used);
		if (d == DETECT_MINE || d == DETECT_BROKEN) {
			/* A rule before it that is still unsure must be heard out. */
			if (best == DETECT_MORE)
				return DETECT_MORE;
			*fe = table[i];
			return d;
		}
		if (d == DETECT_MORE)
			best = DETECT_MORE;
	}
	if (best == DETECT_MORE)
		return DETECT_MORE;
	if ((*fe = frontend_fallback()) == NULL)
		return DETECT_NOT;
	*used = 0;
	return DETECT_MINE;
}

const struct frontend *
frontend_fallback(void)
{
	unsigned i;

	for (i = 0; i < count; i++)
		if (table[i]->fallback)
			return table[i];
	return NULL;
}

size_t
frontend_input_max(const struct config *cfg)
{
	size_t max = 0;
	unsigned i;

	/* Those reached by an upgrade set their own (conn.c: in_cap). */
	for (i = 0; i < count; i++)
		if (table[i]->input_max && !table[i]->upgrade_only &&
		    table[i]->input_max(cfg) > max)
			max = table[i]->input_max(cfg);
	return max;
}

void
frontend_cleanup_all(void)
{
	unsigned i;

	for (i = 0; i < count; i++)
		if (table[i]->cleanup)
			table[i]->cleanup();
}

void
frontend_attach_all(struct conn_set *set)
{
	unsigned i;

	for (i = 0; i < count; i++)
		if (table[i]->attach)
			table[i]->attach(set);
}

void
frontend_detach_all(void)
{
	unsigned i;

	for (i = 0; i < count; i++)
		if (table[i]->detach)
			table[i]->detach();
}

unsigned
frontend_count(void)
{
	return count;
}
