/*
 * chatd: register the front ends, parse the command line, build the
 * server, run the loop.
 */
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/redis.h"
#include "cluster/url.h"

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

/* config's check of a --cluster URL: the parser, without its result. */
static int
cluster_url_ok(const char *text, char *err, size_t errlen)
{
	struct redis_url url;

	return redis_url_parse(text, &url, err, errlen);
}

/* The node's name: --node-name, else "HOST:PORT" of the first listener. */
static void
node_name(const struct config *cfg, char *out, size_t n)
{
	const struct sockaddr_storage *ss = &cfg->listen[0].addr;
	char host[64] = "localhost";
	unsigned port = 0;

	if (cfg->node_name[0]) {
		snprintf(out, n, "%s", cfg->node_name);
		return;
	}
	(void)gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	if (ss->ss_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
	else if (ss->ss_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
	snprintf(out, n, "%s:%u", host, port);
}

/* A name that goes into Redis keys (between braces) and into presence
 * changes (between spaces). */
static int
node_name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e || *s == '{' || *s == '}')
			return 0;
	return 1;
}

/*
 * The start-up check of every --cluster Redis: each must answer, with the
 * password and database its URL gives, or chatd says which one and why on
 * one line and exits 2.  The node's name is settled here (cfg->node_name).
 */
static int
cluster_probe(struct config *cfg)
{
	struct redis_url url;
	char err[256], version[32], name[CHATD_NODE_NAME_MAX + 1];
	unsigned i;

	node_name(cfg, name, sizeof(name));
	if (!node_name_ok(name)) {
		fprintf(stderr,
		        "chatd: --node-name %s: a node's name is printable ASCII without spaces "
		        "or braces\n",
		        name);
		return -1;
	}
	for (i = 0; i < cfg->ncluster; i++) {
		if (redis_url_parse(cfg->cluster[i], &url, err, sizeof(err)) < 0 ||
		    redis_probe(&url, version, sizeof(version), err, sizeof(err)) < 0) {
			fprintf(stderr, "chatd: --cluster %s: %s\n",
			        url.shown[0] ? url.shown : "(unparsable URL)", err);
			return -1;
		}
		log_info("cluster: %s answers (Redis %s)", url.shown, version[0] ? version : "?");
	}
	snprintf(cfg->node_name, sizeof(cfg->node_name), "%s", name);
	log_notice("cluster: node %s shares rooms, history, nicks, presence and direct messages "
	           "through %u Redis shard%s",
	           name, cfg->ncluster, cfg->ncluster == 1 ? "" : "s");
	return 0;
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
	config_cluster_urls(cluster_url_ok);
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
	/* In a cluster the history lives in Redis, shared by the nodes. */
	path = cfg.ncluster ? NULL : store_path(&cfg, auto_path, sizeof(auto_path));
	if (cfg.check_store) {
		if (path == NULL) {
			fprintf(stderr, "chatd: --check-store: no store is configured (--store)\n");
			return 2;
		}
		return store_check(path, stdout);
	}
	/* The backplane before anything else: a node told to share its rooms
	 * through a Redis it cannot reach does not start. */
	if (cfg.ncluster > 0 && cluster_probe(&cfg) < 0)
		return 2;
	/* The store before the listeners: a server that cannot keep what it
	 * acknowledges does not start. */
	if (path && (store = store_open(path, strcmp(cfg.store_sync, "full") == 0, err,
	                                sizeof(err))) == NULL) {
		fprintf(stderr, "chatd: %s\n", err);
		return 2;
	}
	if (cfg.ncluster)
		log_info("history in Redis (--cluster): no local store");
	else if (path == NULL)
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
