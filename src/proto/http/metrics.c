/*
 * GET /metrics in the Prometheus text format (0.0.4), from the counters
 * of the connection layer and the core, and HTTP's own.  A scrape walks
 * the connections once (tens of microseconds at 20,000): cheap at the
 * usual scrape interval, and no counter on the hot path for it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/node.h"
#include "core/core.h"
#include "net/conn.h"
#include "proto/http/http.h"
#include "net/ws.h"
#include "store/store.h"

/* HTTP answers by status: the statuses chatd gives. */
static const int statuses[] = {101, 200, 201, 204, 304, 400, 401, 403, 404, 405,
                               408, 409, 411, 413, 414, 415, 426, 429, 431, 503};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]))
static uint64_t by_status[NSTATUS + 1]; /* the last: any other */

/* HTTP refusals by the limit that refused. */
static const char *const limits[] = {
        "http-max-request-line", "http-max-header-bytes",    "http-max-body",
        "http-max-sessions",     "http-max-sessions-per-ip", "handshake-timeout",
};
#define NLIMITS (sizeof(limits) / sizeof(limits[0]))
static uint64_t by_limit[NLIMITS];

void
metrics_count_status(int status)
{
	size_t i;

	for (i = 0; i < NSTATUS && statuses[i] != status; i++)
		;
	by_status[i]++;
}

void
metrics_refusal(const char *limit)
{
	size_t i;

	for (i = 0; i < NLIMITS; i++)
		if (strcmp(limits[i], limit) == 0)
			by_limit[i]++;
}

/* A growing text buffer. */
struct out {
	char *p;
	size_t len;
	size_t cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->p ? o->p + o->len : NULL, o->p ? o->cap - o->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (o->p && o->len + (size_t)n < o->cap) {
			o->len += (size_t)n;
			return;
		}
		o->cap = o->cap * 2 + (size_t)n + 256;
		o->p = realloc(o->p, o->cap);
		if (o->p == NULL)
			abort();
	}
}

static void
head(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static long long
rss_bytes(void)
{
	char line[128], *p = line;
	FILE *f = fopen("/proc/self/statm", "r");
	long long pages;

	if (f == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	/* "size resident shared ...", in pages */
	(void)strtoll(p, &p, 10);
	pages = strtoll(p, NULL, 10);
	return pages * sysconf(_SC_PAGESIZE);
}

void
metrics_answer(struct hconn *h)
{
	struct conn_set *set = h->c->set;
	const struct conn_stats *st = &set->stats;
	unsigned nfe = frontend_count(), i;
	uint64_t *byfe = calloc(nfe + 1, sizeof(*byfe)), queued = 0, cum = 0;
	struct out o = {NULL, 0, 0};
	struct store_stats ss;
	struct node_stats ns;
	struct conn *c;
	uint64_t ws = 0;

	if (byfe == NULL)
		abort();
	LIST_FOREACH(c, &set->all, link)
	{
		byfe[c->fe ? c->fe->id : nfe]++;
		queued += c->out.bytes;
		ws += c->tp == &ws_transport;
	}
	head(&o, "chatd_connections", "gauge", "Open connections by front end.");
	for (i = 0; i < nfe; i++)
		put(&o, "chatd_connections{frontend=\"%s\"} %llu\n", frontend_at((uint8_t)i)->name,
		    (unsigned long long)byfe[i]);
	put(&o, "chatd_connections{frontend=\"detecting\"} %llu\n", (unsigned long long)byfe[nfe]);
	free(byfe);
	head(&o, "chatd_sessions", "gauge", "Registered sessions of this node, all front ends.");
	put(&o, "chatd_sessions %zu\n", core_user_count(set->core) - core_ghost_count(set->core));
	head(&o, "chatd_http_sessions", "gauge", "HTTP sessions.");
	put(&o, "chatd_http_sessions %zu\n", hsess_count());
	head(&o, "chatd_rooms", "gauge", "Rooms with members.");
	put(&o, "chatd_rooms %zu\n", core_room_count(set->core));
	head(&o, "chatd_rooms_lingering", "gauge", "Empty rooms keeping their history.");
	put(&o, "chatd_rooms_lingering %zu\n",
	    core_room_total(set->core) - core_room_count(set->core));
	head(&o, "chatd_messages_total", "counter", "Messages accepted, room and direct.");
	put(&o, "chatd_messages_total %llu\n", (unsigned long long)core_message_count(set->core));
	head(&o, "chatd_deliveries_total", "counter",
	     "Messages and events handed to recipients, history replays included.");
	put(&o, "chatd_deliveries_total %llu\n", (unsigned long long)core_work(set->core));
	head(&o, "chatd_sent_bytes_total", "counter", "Bytes written to clients.");
	put(&o, "chatd_sent_bytes_total %llu\n", (unsigned long long)st->bytes_out);
	head(&o, "chatd_received_bytes_total", "counter", "Bytes read from clients.");
	put(&o, "chatd_received_bytes_total %llu\n", (unsigned long long)st->bytes_in);
	head(&o, "chatd_accepted_connections_total", "counter", "Connections accepted.");
	put(&o, "chatd_accepted_connections_total %llu\n", (unsigned long long)st->accepted);
	head(&o, "chatd_drops_total", "counter",
	     "Connections and sessions ended by the server or the network, by reason.");
	for (i = 1; i < REASON_COUNT; i++)
		put(&o, "chatd_drops_total{reason=\"%s\"} %llu\n", render_reason((int)i),
		    (unsigned long long)st->drops[i]);
	head(&o, "chatd_refusals_total", "counter", "Clients or requests turned away, by limit.");
	put(&o, "chatd_refusals_total{limit=\"max-conns\"} %llu\n",
	    (unsigned long long)st->refusals[REFUSE_FULL]);
	put(&o, "chatd_refusals_total{limit=\"max-conns-per-ip\"} %llu\n",
	    (unsigned long long)st->refusals[REFUSE_PER_IP]);
	for (i = 0; i < NLIMITS; i++)
		put(&o, "chatd_refusals_total{limit=\"%s\"} %llu\n", limits[i],
		    (unsigned long long)by_limit[i] +
		            (strcmp(limits[i], "handshake-timeout") == 0
		                     ? (unsigned long long)st->refusals[REFUSE_HANDSHAKE]
		                     : 0ULL));
	head(&o, "chatd_queue_bytes", "gauge", "Output waiting to be sent, all connections.");
	put(&o, "chatd_queue_bytes %llu\n", (unsigned long long)queued);
	head(&o, "chatd_history_bytes", "gauge", "Bytes of history held, renderings included.");
	put(&o, "chatd_history_bytes %zu\n", core_history_bytes(set->core));
	head(&o, "chatd_loop_turn_seconds", "histogram",
	     "Time the event loop spent working in one turn.");
	for (i = 0; i < CONN_TURN_BUCKETS; i++) {
		cum += st->turns[i];
		put(&o, "chatd_loop_turn_seconds_bucket{le=\"%g\"} %llu\n", conn_turn_bounds[i],
		    (unsigned long long)cum);
	}
	cum += st->turns[CONN_TURN_BUCKETS];
	put(&o, "chatd_loop_turn_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	put(&o, "chatd_loop_turn_seconds_sum %.9f\n", st->turn_sum);
	put(&o, "chatd_loop_turn_seconds_count %llu\n", (unsigned long long)cum);
	head(&o, "chatd_resident_memory_bytes", "gauge", "Resident set size.");
	put(&o, "chatd_resident_memory_bytes %lld\n", rss_bytes());
	head(&o, "chatd_websocket_connections", "gauge",
	     "Open WebSocket connections (also counted by front end above).");
	put(&o, "chatd_websocket_connections %llu\n", (unsigned long long)ws);
	head(&o, "chatd_websocket_upgrades_total", "counter", "WebSocket handshakes answered 101.");
	put(&o, "chatd_websocket_upgrades_total %llu\n", (unsigned long long)ws_stats.upgrades);
	head(&o, "chatd_websocket_frames_received_total", "counter", "WebSocket frames read.");
	put(&o, "chatd_websocket_frames_received_total %llu\n",
	    (unsigned long long)ws_stats.frames_in);
	head(&o, "chatd_websocket_closes_total", "counter", "Close frames chatd began, by code.");
	for (i = 0; i < 16; i++)
		if (ws_stats.closes[i])
			put(&o, "chatd_websocket_closes_total{code=\"%u\"} %llu\n", 1000 + i,
			    (unsigned long long)ws_stats.closes[i]);
	store_stats(&ss);
	if (ss.open) {
		head(&o, "chatd_store_up", "gauge",
		     "1 while the history store takes messages, 0 after a failed write.");
		put(&o, "chatd_store_up %u\n", !ss.down);
		head(&o, "chatd_store_kept_messages", "gauge",
		     "Messages kept in memory for a store write that failed.");
		put(&o, "chatd_store_kept_messages %lu\n", ss.kept);
		head(&o, "chatd_store_commits_total", "counter", "Store transactions written.");
		put(&o, "chatd_store_commits_total %llu\n", (unsigned long long)ss.commits);
		head(&o, "chatd_store_messages_total", "counter", "Messages written to the store.");
		put(&o, "chatd_store_messages_total %llu\n", (unsigned long long)ss.rows);
		head(&o, "chatd_store_failures_total", "counter", "Store commits that failed.");
		put(&o, "chatd_store_failures_total %llu\n", (unsigned long long)ss.failures);
		head(&o, "chatd_store_room_loads_total", "counter",
		     "Rooms read back from the store.");
		put(&o, "chatd_store_room_loads_total %llu\n", (unsigned long long)ss.loads);
		head(&o, "chatd_store_commit_seconds_total", "counter",
		     "Time the store's writer thread spent in commits.");
		put(&o, "chatd_store_commit_seconds_total %.6f\n", ss.total_ms / 1000.0);
		head(&o, "chatd_store_wait_seconds_total", "counter",
		     "Loop time spent waiting at the end of a turn for a quick commit.");
		put(&o, "chatd_store_wait_seconds_total %.6f\n", ss.wait_ms / 1000.0);
		head(&o, "chatd_store_wait_seconds_max", "gauge",
		     "The longest such wait since start (1 ms at most).");
		put(&o, "chatd_store_wait_seconds_max %.6f\n", ss.wait_max_ms / 1000.0);
		head(&o, "chatd_store_pruned_messages_total", "counter",
		     "Messages deleted by retention (retention-days, retention-messages).");
		put(&o, "chatd_store_pruned_messages_total %llu\n", (unsigned long long)ss.pruned);
		head(&o, "chatd_store_prune_seconds_max", "gauge",
		     "The longest retention step since start (on the store's writer thread).");
		put(&o, "chatd_store_prune_seconds_max %.6f\n", ss.prune_ms / 1000.0);
		head(&o, "chatd_store_log_pages", "gauge",
		     "Pages in the store's write-ahead log after the last commit.");
		put(&o, "chatd_store_log_pages %llu\n", (unsigned long long)ss.log_pages);
		head(&o, "chatd_store_commit_seconds_max", "gauge",
		     "The longest store commit since start (on the store's writer thread).");
		put(&o, "chatd_store_commit_seconds_max %.6f\n", ss.longest_ms / 1000.0);
	}
	node_stats(&ns);
	if (ns.shards) {
		head(&o, "chatd_cluster_shards_up", "gauge",
		     "Redis shards whose command and channel links are both up (of "
		     "chatd_cluster_shards).");
		put(&o, "chatd_cluster_shards_up %u\n", ns.shards_up);
		head(&o, "chatd_cluster_shards", "gauge", "Redis shards (--cluster).");
		put(&o, "chatd_cluster_shards %u\n", ns.shards);
		head(&o, "chatd_cluster_rooms", "gauge", "Rooms this node follows.");
		put(&o, "chatd_cluster_rooms %u\n", ns.rooms);
		head(&o, "chatd_cluster_nodes", "gauge",
		     "Other nodes alive, as this node knows them.");
		put(&o, "chatd_cluster_nodes %u\n", ns.peers);
		head(&o, "chatd_cluster_remote_users", "gauge",
		     "Users of the other nodes (in USERS, WHO and member counts here).");
		put(&o, "chatd_cluster_remote_users %zu\n", core_ghost_count(set->core));
		head(&o, "chatd_cluster_nodes_lost_total", "counter",
		     "Nodes taken for lost (their heartbeat ran out) while this node ran.");
		put(&o, "chatd_cluster_nodes_lost_total %llu\n", (unsigned long long)ns.lost);
		head(&o, "chatd_cluster_published_total", "counter",
		     "Room messages this node published (the publish script answered).");
		put(&o, "chatd_cluster_published_total %llu\n", (unsigned long long)ns.published);
		head(&o, "chatd_cluster_received_total", "counter",
		     "Room messages that came through the rooms' channels.");
		put(&o, "chatd_cluster_received_total %llu\n", (unsigned long long)ns.delivered);
		head(&o, "chatd_cluster_catchups_total", "counter",
		     "Reads of a room's stream after a reconnect or a gap.");
		put(&o, "chatd_cluster_catchups_total %llu\n", (unsigned long long)ns.catchups);
		head(&o, "chatd_cluster_round_trips_total", "counter",
		     "Replies from Redis (scripts, commands, channel messages).");
		put(&o, "chatd_cluster_round_trips_total %llu\n",
		    (unsigned long long)ns.links.round_trips);
		head(&o, "chatd_cluster_round_trip_seconds_total", "counter",
		     "Time commands waited for their replies.");
		put(&o, "chatd_cluster_round_trip_seconds_total %.6f\n", ns.links.latency_sum);
		head(&o, "chatd_cluster_round_trip_seconds_max", "gauge",
		     "The longest wait for a reply since start.");
		put(&o, "chatd_cluster_round_trip_seconds_max %.6f\n", ns.links.latency_max);
		head(&o, "chatd_cluster_failed_commands_total", "counter",
		     "Commands whose link dropped before their reply.");
		put(&o, "chatd_cluster_failed_commands_total %llu\n",
		    (unsigned long long)ns.links.failed);
		head(&o, "chatd_cluster_reconnects_total", "counter",
		     "Links to Redis made again after having been up.");
		put(&o, "chatd_cluster_reconnects_total %llu\n",
		    (unsigned long long)ns.links.reconnects);
	}
	head(&o, "chatd_http_requests_total", "counter", "HTTP answers by status.");
	for (i = 0; i < NSTATUS; i++)
		put(&o, "chatd_http_requests_total{code=\"%d\"} %llu\n", statuses[i],
		    (unsigned long long)by_status[i]);
	http_reply(h, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, o.p, o.len);
	free(o.p);
}
