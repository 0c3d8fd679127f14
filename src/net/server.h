/*
 * The daemon's process-wide state: the loop, the core, the configuration,
 * the listeners, and the lists the loop works through on every turn
 * (connections to flush, connections to reap).  Shared by the I/O modules
 * conn, framed, listener and server.
 */
#ifndef CHATD_SERVER_H
#define CHATD_SERVER_H

#include <ev.h>
#include <stdint.h>
#include <sys/queue.h>

#include "util/config.h"
#include "core/core.h"
#include "util/hmap.h"

struct conn;
struct listener;
LIST_HEAD(conn_list, conn);

struct server {
	struct ev_loop *loop;
	struct config cfg;
	struct core *core;

	struct listener *listeners[CHATD_MAX_LISTEN];
	unsigned nlisteners;
	ev_timer emfile_pause; /* listeners resting after EMFILE */

	struct conn *conns; /* every open connection */
	size_t nconns;
	size_t max_conns;         /* the effective limit: max-conns, or what descriptors allow */
	struct hmap per_ip;       /* address -> struct ipcount */
	struct conn_list pending; /* connections with output to flush this turn */
	struct conn *reap;        /* connections closed, to be torn down this turn */
	struct conn_list backlog; /* connections with input held over to the next turn */

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
	size_t trim_mark;  /* connections when memory was last given back */
	int shutting_down;

	uint8_t *scratch; /* CHATD_READ_CHUNK bytes, shared by every read */
	uint64_t ping_token;
};

struct ipcount;

/* The connection count of address ip (created at 0 when new); the caller
 * counts the connection in it. */
struct ipcount *server_ip_get(struct server *srv, const char *ip);
/* A connection from ipc ended: forget the address when it was the last. */
void server_ip_release(struct server *srv, struct ipcount *ipc);
/* Work out max_conns from the configuration and the descriptor limit. */
void server_capacity(struct server *srv);

/* Create the server: open every listener, or return NULL after logging. */
struct server *server_new(const struct config *cfg);
/* Run the loop until shutdown completes; returns the exit status. */
int server_run(struct server *srv);
void server_free(struct server *srv);
/* Start a graceful shutdown (also what SIGTERM and SIGINT do). */
void server_shutdown(struct server *srv);

#endif
