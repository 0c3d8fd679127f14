/*
 * The per-address counts (see ipcount.h), in one table for the process:
 * keyed by a string the client chooses, so it is a keyed hash map.
 */
#include "net/ipcount.h"

#include <stdio.h>
#include <string.h>

#include "util/hmap.h"
#include "util/slab.h"

static struct hmap table;

struct ipcount *
ipcount_get(const char *ip)
{
	struct ipcount *ipc = hmap_get(&table, ip, strlen(ip));

	if (ipc)
		return ipc;
	ipc = slab_zalloc(sizeof(*ipc));
	snprintf(ipc->ip, sizeof(ipc->ip), "%s", ip);
	hmap_put(&table, ipc->ip, strlen(ipc->ip), ipc);
	return ipc;
}

void
ipcount_release(struct ipcount *ipc)
{
	if (ipc == NULL || --ipc->n > 0)
		return;
	hmap_del(&table, ipc->ip, strlen(ipc->ip));
	slab_free(ipc, sizeof(*ipc));
}

void
ipcount_free_all(void)
{
	hmap_free(&table);
}
