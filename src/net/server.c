/*
 * The server: owns the loop and drives each turn.  Callbacks only queue
 * output and mark connections closed; before the loop sleeps, the prepare
 * watcher tears down closed connections and flushes every connection that
 * has output, once, so that a fan-out of many messages to one reader costs
 * one writev.
 */
#include "net/server.h"

#include <malloc.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/node.h"
#include "net/conn.h"
#include "net/frontend.h"
#include "net/ipcount.h"
#include "net/listener.h"
#include "net/sysd.h"
#include "util/blk.h"
#include "util/log.h"
#include "util/slab.h"

#define SERVER_OF(ptr, member)                                                                     \
	((struct server *)(void *)((char *)(ptr)-offsetof(struct server, member)))

static uint64_t
now_ms(struct ev_loop *loop)
{
	return (uint64_t)(ev_now(loop) * 1000.0);
}

static void
limits_from(const struct config *cfg, struct core_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->history_len = cfg->history;
	lim->room_linger_ms = (uint64_t)(cfg->room_linger * 1000.0);
	lim->max_text = cfg->max_text;
	lim->max_rooms = cfg->max_rooms;
	lim->max_members = cfg->max_members;
	lim->max_rooms_total = cfg->max_rooms_total;
	lim->history_bytes = cfg->history_bytes;
	lim->room_history_bytes = cfg->room_history_bytes;
	lim->room_linger_solo_ms = (uint64_t)(cfg->room_linger_solo * 1000.0);
	lim->presence_batch = cfg->presence_batch;
}

/* Free rooms whose linger is over and wake up for the next one. */
static void
expire(struct server *srv)
{
	uint64_t next = core_expire(srv->core);
	double at;

	if (next == 0) {
		ev_timer_stop(srv->loop, &srv->expire);
		return;
	}
	at = (double)next / 1000.0;
	if (!ev_is_active(&srv->expire) || ev_timer_remaining(srv->loop, &srv->expire) > at) {
		ev_timer_stop(srv->loop, &srv->expire);
		ev_timer_set(&srv->expire, at, 0);
		ev_timer_start(srv->loop, &srv->expire);
	}
}

/* Tearing down announces drops, which queues output; flushing can find
 * dead peers, which closes them: repeat until both are done. */
static void
settle(struct server *srv)
{
	for (;;) {
		conn_flush_all(&srv->conns, srv->need, srv->done);
		if (SLIST_EMPTY(&srv->conns.reap))
			break;
		conn_reap_all(&srv->conns);
	}
}

/* The end of a turn: the store's writer gets what is pending when it is
 * idle; this turn's output waits for the batch holding its messages (an
 * ACK never leaves before its message is in the log), and output that
 * waited for a batch now back may go.  While the store refuses writes, it
 * is tried again each second. */
static void
store_end_turn(struct server *srv)
{
	if (srv->store == NULL)
		return;
	srv->need = store_turn(srv->store, CHATD_STORE_WAIT_MS);
	srv->done = store_done(srv->store);
	if (srv->done != srv->released) {
		conn_release(&srv->conns, srv->done);
		srv->released = srv->done;
	}
	if (!store_down(srv->store)) {
		ev_timer_stop(srv->loop, &srv->store_retry);
	} else if (!ev_is_active(&srv->store_retry)) {
		ev_timer_set(&srv->store_retry, CHATD_STORE_RETRY, CHATD_STORE_RETRY);
		ev_timer_start(srv->loop, &srv->store_retry);
	}
}

/* These two only wake the loop: its prepare watcher does the work. */
static void
store_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

static void
store_back_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* On the store's writer thread. */
static void
store_wake(void *arg)
{
	struct server *srv = arg;

	ev_async_send(srv->loop, &srv->store_back);
}

/* Retention in small steps, each a short transaction, within a budget of
 * loop time a second. */
static void
prune_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = SERVER_OF(w, prune);

	(void)revents;
	(void)store_prune(srv->store, srv->cfg.retention_days, srv->cfg.retention_messages,
	                  CHATD_PRUNE_BUDGET_MS, now_ms(loop));
}

static void
flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct server *srv = SERVER_OF(w, flush);

	(void)revents;
	store_end_turn(srv);
	settle(srv);
	/* Joins rendered history this turn: it counts in the budget. */
	core_history_budget(srv->core);
	/* What is left unsent after the flush, in every block but the history
	 * renderings, is output waiting for slow readers (or, for a moment,
	 * for the store). */
	conn_output_budget(&srv->conns, blk_bytes_live() - msg_history_render_blocks());
	if (!SLIST_EMPTY(&srv->conns.reap))
		settle(srv);
	/* Large rooms' presence goes out once a second, when there is any. */
	if (core_presence_pending(srv->core) && !ev_is_active(&srv->summary)) {
		ev_timer_set(&srv->summary, CHATD_SUMMARY_INTERVAL, 0);
		ev_timer_start(loop, &srv->summary);
	}
	/* Input held over for the next turn: poll without sleeping. */
	if (!LIST_EMPTY(&srv->conns.backlog))
		ev_idle_start(loop, &srv->busy);
	else
		ev_idle_stop(loop, &srv->busy);
	expire(srv);
	if (srv->turn_began > 0)
		conn_count_turn(&srv->conns, ev_time() - srv->turn_began);
	if (srv->shutting_down && srv->conns.n == 0)
		ev_break(loop, EVBREAK_ALL);
}

static void
clock_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	struct server *srv = SERVER_OF(w, clock);

	(void)revents;
	srv->turn_began = ev_time();
	core_set_time(srv->core, now_ms(loop));
	if (!LIST_EMPTY(&srv->conns.backlog))
		conn_backlog_run(&srv->conns);
}

static void
busy_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	/* Only there to keep the loop from sleeping; clock_cb does the work. */
}

static void
expire_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	/* The prepare watcher runs next and does the work. */
}

static void
summary_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = SERVER_OF(w, summary);

	(void)loop;
	(void)revents;
	core_presence_flush(srv->core);
}

static void
emfile_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = SERVER_OF(w, emfile_pause);
	unsigned i;

	(void)loop;
	(void)revents;
	if (srv->shutting_down)
		return;
	for (i = 0; i < srv->nlisteners; i++)
		(void)listener_start(srv->listeners[i]); /* listening since the start */
}

static void
deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = SERVER_OF(w, shutdown_deadline);
	struct conn *c;
	size_t left = 0;

	(void)loop;
	(void)revents;
	LIST_FOREACH(c, &srv->conns.all, link)
	if (c->state != CONN_CLOSED) {
		left++;
		conn_close(c, REASON_SHUTDOWN);
	}
	log_warn("shutdown deadline: closed %zu connections with output still queued", left);
}

void
server_shutdown(struct server *srv)
{
	struct conn *c;
	unsigned i;

	if (srv->shutting_down)
		return;
	srv->shutting_down = 1;
	sysd_notify("STOPPING=1");
	ev_timer_stop(srv->loop, &srv->status);
	ev_timer_stop(srv->loop, &srv->prune);
	log_notice("shutting down: telling %zu connections", srv->conns.n);
	for (i = 0; i < srv->nlisteners; i++)
		listener_stop(srv->listeners[i]);
	ev_timer_stop(srv->loop, &srv->emfile_pause);
	LIST_FOREACH(c, &srv->conns.all, link)
	{
		/* Everyone is leaving: no point announcing each departure. */
		c->announce = 0;
		if (c->state == CONN_OPEN && c->fe) {
			c->fe->bye(c, REASON_SHUTDOWN);
			conn_close_after_flush(c, REASON_SHUTDOWN, srv->cfg.shutdown_timeout);
		} else if (c->state != CONN_DRAINING) {
			conn_close(c, REASON_SHUTDOWN);
		}
	}
	ev_timer_set(&srv->shutdown_deadline, srv->cfg.shutdown_timeout, 0);
	ev_timer_start(srv->loop, &srv->shutdown_deadline);
}

/*
 * Give memory back after a crowd has left: glibc keeps freed heap for
 * reuse, and the render arenas keep a block each, so without this the
 * resident size would stay at its high-water mark.  Cheap enough every few
 * seconds, and only done when a good share of the connections is gone.
 */
static void
housekeeping(struct server *srv)
{
	/* What holds memory: connections, and rooms with their history. */
	size_t load = srv->conns.n + core_room_total(srv->core);
	struct slab_stats st;

	if (load > srv->trim_mark) {
		srv->trim_mark = load;
		return;
	}
	if (load + load / 8 + 8 >= srv->trim_mark)
		return;
	msg_cache_release();
	frontend_cleanup_all();
	blk_spares_release();
	slab_trim();
	malloc_trim(0);
	(void)madvise(srv->conns.scratch, CHATD_READ_CHUNK, MADV_DONTNEED);
	slab_stats(&st);
	log_debug("memory given back, load %zu -> %zu: %zu bytes live in %zu slabs", srv->trim_mark,
	          load, st.live, st.slabs);
	srv->trim_mark = load;
}

/* The watchdog is fed from the loop itself: if the loop stalls, it
 * stops, and systemd restarts the service. */
static void
watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	sysd_notify("WATCHDOG=1");
}

static void
status_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = SERVER_OF(w, status);

	(void)loop;
	(void)revents;
	sysd_status("%zu connections, %zu users, %zu rooms", srv->conns.n,
	            core_user_count(srv->core) - core_ghost_count(srv->core),
	            core_room_count(srv->core));
	housekeeping(srv);
}

/* Raise the open-files soft limit to the hard one: every connection is a
 * descriptor, and the default soft limit (1024) is far below what a chat
 * server holds. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Work out the connection limit from the configuration and the
 * descriptor limit. */
static void
capacity(struct server *srv)
{
	struct rlimit rl;
	size_t fds = 1024, before = srv->conns.max_conns;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		fds = rl.rlim_cur == RLIM_INFINITY ? (size_t)1 << 30 : (size_t)rl.rlim_cur;
	/* Keep descriptors for the listeners, the loop and the logs, so that
	 * a full server refuses politely instead of failing accept(). */
	srv->conns.max_conns = fds > CHATD_FD_RESERVE ? fds - CHATD_FD_RESERVE : 1;
	if (srv->cfg.max_conns && srv->cfg.max_conns < srv->conns.max_conns)
		srv->conns.max_conns = srv->cfg.max_conns;
	if (srv->conns.max_conns != before)
		log_notice("open files limit %zu: room for %zu connections", fds,
		           srv->conns.max_conns);
}

/* A listener accepted a client: count it against the limits, and adopt it
 * (a client over a limit is told so in its own protocol, then closed). */
static void
accepted(void *ctx, int fd, const char *host, uint16_t port, const struct frontend *pinned)
{
	struct server *srv = ctx;
	size_t n = srv->conns.n, max = srv->conns.max_conns;
	enum conn_refusal why = REFUSE_NONE;
	struct ipcount *ipc;

	if (n >= max + CHATD_REFUSE_SLACK) {
		/* Far over the limit: not even a goodbye. */
		close(fd);
		return;
	}
	ipc = ipcount_get(host);
	if (n >= max)
		why = REFUSE_FULL;
	else if (srv->cfg.max_conns_per_ip && ipc->n >= srv->cfg.max_conns_per_ip)
		why = REFUSE_PER_IP;
	if (why != REFUSE_NONE)
		log_notice("refusing %s port %u: %s", host, port,
		           why == REFUSE_FULL ? "max-conns reached" : "max-conns-per-ip reached");
	(void)conn_new(&srv->conns, fd, port, pinned, ipc, why);
	/* The high-water mark the housekeeping trims from: a crowd that comes
	 * and goes between two of its passes counts too. */
	if (srv->conns.n + core_room_total(srv->core) > srv->trim_mark)
		srv->trim_mark = srv->conns.n + core_room_total(srv->core);
}

/* accept(2) is out of descriptors: rest every listener a while. */
static void
full(void *ctx)
{
	struct server *srv = ctx;
	unsigned i;

	for (i = 0; i < srv->nlisteners; i++)
		listener_stop(srv->listeners[i]);
	ev_timer_set(&srv->emfile_pause, CHATD_EMFILE_PAUSE, 0);
	ev_timer_start(srv->loop, &srv->emfile_pause);
}

static void
report_change(const char *key, const char *from, const char *to, int runtime)
{
	if (runtime)
		log_notice("reload: %s %s -> %s", key, from, to);
	else
		log_warn("reload: %s changed (%s -> %s); it takes effect at the next restart", key,
		         from, to);
}

/* SIGHUP: read the configuration again and apply what can change while
 * running; a bad file leaves the running configuration as it was. */
static void
reload(struct server *srv)
{
	struct core_limits lim;
	struct config next;
	char err[512];
	int n;

	/* Not serving yet (a node waiting for its links): READY=1 is still to
	 * come, and says all there is to say. */
	if (srv->serving)
		sysd_reloading();
	if (config_reload(&srv->cfg, &next, err, sizeof(err)) < 0) {
		log_err("reload failed, keeping the running configuration: %s", err);
		if (srv->serving)
			sysd_notify("READY=1");
		return;
	}
	n = config_diff(&srv->cfg, &next, report_change);
	/* The listeners stay as they are until a restart. */
	memcpy(next.listen, srv->cfg.listen, sizeof(next.listen));
	next.nlisten = srv->cfg.nlisten;
	srv->cfg = next;
	capacity(srv);
	log_set_level((enum log_level)next.log_level);
	limits_from(&next, &lim);
	core_set_limits(srv->core, &lim);
	log_notice("reloaded %s: %d change%s", next.path[0] ? next.path : "the command line", n,
	           n == 1 ? "" : "s");
	if (srv->serving)
		sysd_notify("READY=1");
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct server *srv = w->data;

	(void)loop;
	(void)revents;
	if (w->signum == SIGHUP) {
		reload(srv);
		return;
	}
	log_notice("%s received", w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
	server_shutdown(srv);
}

/*
 * libev's allocator.  The loop's arrays (watchers per descriptor, pending
 * events, timers) live as long as the loop and grow to the peak; in the
 * heap they would sit among a crowd's short-lived blocks and keep those
 * pages resident after the crowd has gone.  So they get mappings of their
 * own, grown with mremap.  A 16-byte header keeps the mapping's length.
 */
static void *
loop_realloc(void *ptr, long size)
{
	size_t *h = ptr ? (size_t *)ptr - 2 : NULL;
	size_t need;
	void *m;

	if (size <= 0) {
		if (h)
			munmap(h, h[0]);
		return NULL;
	}
	need = ((size_t)size + 2 * sizeof(size_t) + 4095) & ~(size_t)4095;
	if (h && need == h[0])
		return ptr;
	m = h ? mremap(h, h[0], need, MREMAP_MAYMOVE)
	      : mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL; /* libev reports it and aborts */
	h = m;
	h[0] = need;
	return h + 2;
}

/* The backplane on the --cluster shards (main has checked each answers). */
static struct node *
cluster_start(struct server *srv)
{
	struct redis_url urls[NODE_SHARDS_MAX];
	char err[256];
	unsigned i;
	struct node *nd;

	for (i = 0; i < srv->cfg.ncluster && i < NODE_SHARDS_MAX; i++)
		if (redis_url_parse(srv->cfg.cluster[i], &urls[i], err, sizeof(err)) < 0) {
			log_err("--cluster: %s", err);
			return NULL;
		}
	if ((nd = node_new(srv->loop, srv->core, urls, i, srv->cfg.node_name, srv->cfg.history)) ==
	    NULL)
		log_err("cluster: cannot start the node (out of memory)");
	return nd;
}

struct server *
server_new(const struct config *cfg, struct store *store)
{
	struct server *srv = calloc(1, sizeof(*srv));
	struct core_limits lim;
	struct timespec ts;
	unsigned i;

	if (srv == NULL)
		fatal("out of memory (server)");
	srv->cfg = *cfg;
	ev_set_allocator(loop_realloc);
	srv->loop = ev_default_loop(EVBACKEND_EPOLL | EVFLAG_NOENV);
	if (srv->loop == NULL)
		fatal("cannot create the event loop (epoll)");
	/* Epochs start from the clock so that they differ across restarts. */
	clock_gettime(CLOCK_REALTIME, &ts);
	limits_from(cfg, &lim);
	srv->core = core_new(&lim, (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
	core_set_time(srv->core, now_ms(srv->loop));
	srv->store = store;
	core_set_store(srv->core, store ? store_hooks(store) : NULL);
	if (cfg->ncluster && (srv->node = cluster_start(srv)) == NULL) {
		ev_loop_destroy(srv->loop);
		core_free(srv->core);
		free(srv);
		return NULL;
	}
	ev_timer_init(&srv->store_retry, store_retry_cb, 0, 0);
	ev_async_init(&srv->store_back, store_back_cb);
	if (store) {
		ev_async_start(srv->loop, &srv->store_back);
		store_set_wake(store, store_wake, srv);
	}
	ev_timer_init(&srv->prune, prune_cb, CHATD_PRUNE_INTERVAL, CHATD_PRUNE_INTERVAL);
	if (store)
		ev_timer_start(srv->loop, &srv->prune);
	/* Its own mapping, so that its pages can be handed back when idle. */
	srv->conns.scratch = mmap(NULL, CHATD_READ_CHUNK, PROT_READ | PROT_WRITE,
	                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (srv->conns.scratch == MAP_FAILED)
		fatal("out of memory (read buffer)");
	srv->conns.loop = srv->loop;
	srv->conns.cfg = &srv->cfg;
	srv->conns.core = srv->core;
	LIST_INIT(&srv->conns.all);
	LIST_INIT(&srv->conns.pending);
	LIST_INIT(&srv->conns.backlog);
	SLIST_INIT(&srv->conns.reap);
	srv->hooks = (struct listener_hooks){accepted, full, srv};
	frontend_attach_all(&srv->conns);

	ev_prepare_init(&srv->flush, flush_cb);
	ev_prepare_start(srv->loop, &srv->flush);
	ev_check_init(&srv->clock, clock_cb);
	ev_check_start(srv->loop, &srv->clock);
	ev_idle_init(&srv->busy, busy_cb);
	ev_timer_init(&srv->expire, expire_cb, 0, 0);
	ev_timer_init(&srv->summary, summary_cb, 0, 0);
	ev_timer_init(&srv->emfile_pause, emfile_cb, 0, 0);
	ev_timer_init(&srv->shutdown_deadline, deadline_cb, 0, 0);
	ev_signal_init(&srv->sigterm, signal_cb, SIGTERM);
	ev_signal_init(&srv->sigint, signal_cb, SIGINT);
	ev_signal_init(&srv->sighup, signal_cb, SIGHUP);
	srv->sigterm.data = srv->sigint.data = srv->sighup.data = srv;
	ev_signal_start(srv->loop, &srv->sigterm);
	ev_signal_start(srv->loop, &srv->sigint);
	ev_signal_start(srv->loop, &srv->sighup);

	ev_timer_init(&srv->watchdog, watchdog_cb, 0, 0);
	ev_timer_init(&srv->status, status_cb, CHATD_STATUS_INTERVAL, CHATD_STATUS_INTERVAL);
	raise_nofile();
	capacity(srv);

	/* Listeners last: once one is announced, a signal must already find
	 * its watcher, or a quick SIGTERM would kill the process outright.
	 * Sockets passed by systemd take the place of the configured ones. */
	{
		char protos[CHATD_MAX_LISTEN][CONFIG_PROTO_MAX];
		int fds[CHATD_MAX_LISTEN];
		int n = sysd_listen_fds(fds, protos, CHATD_MAX_LISTEN), k;

		if (n > 0) {
			log_notice(
			        "socket activation: %d listening socket%s from the service manager",
			        n, n == 1 ? "" : "s");
			if (cfg->reuseport)
				log_notice("socket activation: reuseport applies only to sockets "
				           "chatd opens (ReusePort= in the socket unit sets it on "
				           "these)");
			for (k = 0; k < n; k++)
				srv->listeners[srv->nlisteners++] = listener_adopt(
				        srv->loop, fds[k], frontend_find(protos[k]), &srv->hooks);
			return srv;
		}
	}
	for (i = 0; i < cfg->nlisten; i++) {
		struct listener *l =
		        listener_open(srv->loop, &cfg->listen[i], cfg->reuseport,
		                      frontend_find(cfg->listen[i].proto), &srv->hooks);

		if (l == NULL) {
			server_free(srv);
			return NULL;
		}
		srv->listeners[srv->nlisteners++] = l;
	}
	return srv;
}

int
server_run(struct server *srv)
{
	double wd = sysd_watchdog_interval(), until = ev_time() + CHATD_CLUSTER_READY_S;
	unsigned i;

	/* A node listens once its Redis links are up and the other nodes have
	 * its users (none yet): a client let in before would be told "cluster
	 * unavailable", and a balancer would send it there. */
	while (srv->node && !node_ready(srv->node) && !srv->shutting_down && ev_time() < until)
		ev_run(srv->loop, EVRUN_ONCE);
	if (srv->shutting_down) { /* stopped while it waited: it never served */
		ev_run(srv->loop, 0);
		log_notice("shut down");
		return 0;
	}
	if (srv->node && !node_ready(srv->node))
		log_warn("cluster: not every Redis link is up after %d s; serving anyway (rooms on "
		         "a shard that is down refuse messages)",
		         CHATD_CLUSTER_READY_S);
	for (i = 0; i < srv->nlisteners; i++)
		if (listener_start(srv->listeners[i]) < 0)
			return 1;
	srv->serving = 1;
	if (wd > 0) {
		ev_timer_set(&srv->watchdog, 0, wd);
		ev_timer_again(srv->loop, &srv->watchdog);
		log_info("watchdog: keep-alive every %.3g s", wd);
	}
	ev_timer_start(srv->loop, &srv->status);
	/* Every listener is up: this is the moment to say so. */
	sysd_notify("READY=1");
	status_cb(srv->loop, &srv->status, 0);
	ev_run(srv->loop, 0);
	log_notice("shut down");
	return 0;
}

void
server_free(struct server *srv)
{
	unsigned i;

	/* Only reached with no connection left, or before any existed. */
	if (srv->store)
		store_set_wake(srv->store, NULL, NULL);
	ev_async_stop(srv->loop, &srv->store_back);
	for (i = 0; i < srv->nlisteners; i++)
		listener_free(srv->listeners[i]);
	frontend_detach_all();
	/* The node runs the loop a little for its last answers: no turn of
	 * the server's may end it at once. */
	ev_prepare_stop(srv->loop, &srv->flush);
	node_free(srv->node);
	core_free(srv->core);
	ipcount_free_all();
	msg_cache_release();
	frontend_cleanup_all();
	blk_spares_release();
	munmap(srv->conns.scratch, CHATD_READ_CHUNK);
	ev_loop_destroy(srv->loop);
	free(srv);
}
