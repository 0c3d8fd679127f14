/*
 * chatd: register the front ends, parse the command line, build the
 * server, run the loop.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/frontend.h"
#include "net/server.h"
#include "proto/registry.h"
#include "store/store.h"
#include "util/config.h"
#include "util/defaults.h"
#include "util/log.h"
#include "util/slab.h"

/* The store's file, or NULL for none: "auto" is chatd.db in the state
 * directory systemd made for the service (StateDirectory=), if any. */
static const char *
store_path(const struct config *cfg, char *buf, size_t n)
{
	const char *dir = getenv("STATE_DIRECTORY");
	size_t len;

	if (strcmp(cfg->store, "none") == 0)
		return NULL;
	if (strcmp(cfg->store, "auto") != 0)
		return cfg->store;
	if (dir == NULL || *dir == '\0')
		return NULL;
	len = strcspn(dir, ":"); /* several directories: the first */
	if ((size_t)snprintf(buf, n, "%.*s/chatd.db", (int)len, dir) >= n)
		return NULL;
	return buf;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct server *srv;
	struct store *store = NULL;
	char err[512], auto_path[300];
	const char *path;
	int rc;

	/* The front ends first: a listener may be pinned to one by name. */
	proto_register_all();
	config_protocols(frontend_known);
	config_defaults(&cfg);
	switch (config_parse_args(&cfg, argc, argv)) {
	case CONFIG_OK:
		break;
	case CONFIG_EXIT:
		return 0;
	case CONFIG_ERROR:
		return 2;
	}
	log_init((enum log_level)cfg.log_level);
	path = store_path(&cfg, auto_path, sizeof(auto_path));
	if (cfg.check_store) {
		if (path == NULL) {
			fprintf(stderr, "chatd: --check-store: no store is configured (--store)\n");
			return 2;
		}
		return store_check(path, stdout);
	}
	/* The store before the listeners: a server that cannot keep what it
	 * acknowledges does not start. */
	if (path && (store = store_open(path, strcmp(cfg.store_sync, "full") == 0, err,
	                                sizeof(err))) == NULL) {
		fprintf(stderr, "chatd: %s\n", err);
		return 2;
	}
	if (path == NULL)
		log_notice("history in memory only (--store none): a restart forgets it");
	/* Blocks of 32 KiB and up (render arenas, read buffers, big tables)
	 * come from mmap and go back to the system when freed.  A fixed
	 * threshold also stops glibc from raising it after the first such
	 * free, which would put them back in the heap, where a quiet server
	 * could not return them. */
	mallopt(M_MMAP_THRESHOLD, CHATD_MMAP_THRESHOLD);
	log_debug("memory: %s", slab_passthrough()
	                                ? "every object from malloc (sanitizer or valgrind)"
	                                : "size-class slabs");
	/* A peer that vanished must cost a write error, not the process; so
	 * must a store that reaches the file-size limit. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	srv = server_new(&cfg, store);
	if (srv == NULL) {
		store_close(store);
		return 1;
	}
	rc = server_run(srv);
	server_free(srv);
	store_close(store);
	return rc;
}
