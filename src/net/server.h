/*
 * The server: the loop and its turn, the listeners, signals, reload,
 * systemd, and memory housekeeping.  It owns the set of connections
 * (net/conn.h) and drives it: callbacks only queue output and mark
 * connections closed; before the loop sleeps, the prepare watcher tears
 * down closed connections and flushes every connection that has output,
 * once.
 */
#ifndef CHATD_SERVER_H
#define CHATD_SERVER_H

#include <ev.h>
#include <stdint.h>

#include "core/core.h"
#include "net/conn.h"
#include "net/listener.h"
#include "store/store.h"

struct node;
#include "util/config.h"

struct listener;

struct server {
	struct ev_loop *loop;
	struct config cfg;
	struct core *core;
	struct conn_set conns;

	struct listener *listeners[CHATD_MAX_LISTEN];
	struct listener_hooks hooks; /* how they hand over what they accept */
	unsigned nlisteners;
	ev_timer emfile_pause; /* listeners resting after EMFILE */

	ev_prepare flush; /* before the loop sleeps: reap and flush */
	ev_check clock;   /* after it wakes: give the core the time, run the backlog */
	ev_idle busy;     /* active while there is a backlog: the loop must not sleep */
	ev_timer expire;  /* frees lingering rooms */
	ev_timer summary; /* delivers large rooms' presence summaries */
	ev_signal sigterm;
	ev_signal sigint;
	ev_signal sighup;
	ev_timer shutdown_deadline;
	ev_timer watchdog; /* systemd keep-alive, when asked for */
	ev_timer status;   /* systemd STATUS= line, and memory housekeeping */
	size_t trim_mark;  /* connections and rooms when memory was last given back */
	int shutting_down;
	int serving;          /* listening, READY=1 sent */
	double turn_began;    /* ev_time() when the loop woke, 0 before the first wake */
	struct store *store;  /* the history store, or NULL */
	struct node *node;    /* the cluster's backplane (--cluster), or NULL */
	ev_timer store_retry; /* while a commit has failed: try again each second */
	ev_async store_back;  /* the store's writer has finished a batch */
	uint32_t need;        /* the store's batch this turn's output waits for */
	uint32_t done;        /* the newest batch back from the writer */
	uint32_t released;    /* the batch up to which waiting output was let go */
	ev_timer prune;       /* retention, a few chunks a second */
};

/* Create the server over store (NULL: memory only): open every listener,
 * or return NULL after logging. */
struct server *server_new(const struct config *cfg, struct store *store);
/* Run the loop until shutdown completes; returns the exit status. */
int server_run(struct server *srv);
void server_free(struct server *srv);
/* Start a graceful shutdown (also what SIGTERM and SIGINT do). */
void server_shutdown(struct server *srv);

#endif
