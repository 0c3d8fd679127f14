/*
 * The cluster backplane against a real redis-server (Debian's), started
 * here on a free loopback port with no persistence and its own directory:
 * the publish script (sequence, stream, channel), its NOSCRIPT fallback,
 * the nick lease between two node names, the heartbeat, AUTH and SELECT,
 * and a link that reconnects after the server is killed and started
 * again on the same port.  Exits 77 (ctest: skipped) when redis-server
 * cannot be found.
 *
 *   test_cluster_redis PATH-TO-REDIS-SERVER
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <hiredis/hiredis.h>

#include "cluster/redis.h"
#include "cluster/script.h"
#include "cluster/shard.h"
#include "cluster/url.h"

static const char *redis_path;
static struct ev_loop *loop;

/* A redis-server of the test's own. */
struct server {
	pid_t pid;
	int port;
	char dir[64];
	const char *password; /* requirepass, or NULL */
};

/* A free TCP port on 127.0.0.1: bind port 0, read it, close. */
static int
free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* A blocking context to the server, for checks; NULL if it does not answer. */
static redisContext *
server_connect(const struct server *s)
{
	struct timeval tv = {1, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
	redisReply *r;

	if (c == NULL || c->err) {
		redisFree(c);
		return NULL;
	}
	if (s->password) {
		r = redisCommand(c, "AUTH %s", s->password);
		freeReplyObject(r);
	}
	return c;
}

/* Start (or start again, same port and directory) and wait until it answers. */
static void
server_start(struct server *s)
{
	char port[16];
	int i;

	snprintf(port, sizeof(port), "%d", s->port);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		char *argv[16];
		int n = 0;

		argv[n++] = strdup(redis_path);
		argv[n++] = strdup("--port");
		argv[n++] = strdup(port);
		argv[n++] = strdup("--bind");
		argv[n++] = strdup("127.0.0.1");
		argv[n++] = strdup("--save");
		argv[n++] = strdup("");
		argv[n++] = strdup("--appendonly");
		argv[n++] = strdup("no");
		argv[n++] = strdup("--dir");
		argv[n++] = strdup(s->dir);
		if (s->password) {
			argv[n++] = strdup("--requirepass");
			argv[n++] = strdup(s->password);
		}
		argv[n] = NULL;
		/* The child execs or exits: its copies are never freed. */
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(126);
		execv(redis_path, argv);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		redisContext *c = server_connect(s);

		if (c) {
			redisFree(c);
			return;
		}
		usleep(25000);
	}
	fail_msg("redis-server did not answer on port %d", s->port);
}

static void
server_stop(struct server *s, int sig)
{
	if (s->pid > 0) {
		kill(s->pid, sig);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

static void
server_new(struct server *s, const char *password)
{
	memset(s, 0, sizeof(*s));
	s->password = password;
	snprintf(s->dir, sizeof(s->dir), "/tmp/chatd-redis-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	s->port = free_port();
	server_start(s);
}

static void
server_free(struct server *s)
{
	char cmd[128];

	server_stop(s, SIGTERM);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	assert_int_equal(system(cmd), 0);
}

static void
on_deadline(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ONE);
}

/* Run the loop until *flag is at least want, or secs pass; the flag's value. */
static int
run_until(const int *flag, int want, double secs)
{
	ev_timer t;
	double end = ev_time() + secs;

	ev_timer_init(&t, on_deadline, 0.01, 0.01);
	ev_timer_start(loop, &t);
	while (*flag < want && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
	return *flag;
}

/* What a link's state callback saw: "U" for up, "D" for down, in order. */
struct seen {
	char states[32];
	int ups, downs;
};

static void
on_state(struct redis_link *l, int up, const char *why, void *arg)
{
	struct seen *s = arg;
	size_t n = strlen(s->states);

	(void)l;
	(void)why;
	if (n + 1 < sizeof(s->states))
		s->states[n] = up ? 'U' : 'D';
	if (up)
		s->ups++;
	else
		s->downs++;
}

static void
on_ready(struct redis_link *l, void *arg)
{
	(void)arg;
	script_load_all(l);
}

static struct redis_link *
link_to(const struct server *s, const char *userinfo, const char *db, struct seen *seen)
{
	char text[256], err[256];
	struct redis_url url;
	struct redis_link *l;

	snprintf(text, sizeof(text), "redis://%s127.0.0.1:%d%s", userinfo, s->port, db);
	assert_int_equal(redis_url_parse(text, &url, err, sizeof(err)), 0);
	l = redis_new(loop, &url, on_state, seen);
	assert_non_null(l);
	redis_on_ready(l, on_ready, NULL);
	return l;
}

/* A publish's result, kept for checks. */
struct published {
	int done, rc;
	uint64_t seq[4], time[4], epoch[4];
};

static void
on_published(int rc, const struct script_msg *m, const char *why, void *arg)
{
	struct published *p = arg;

	if (rc == 0 && p->done < 4) {
		p->seq[p->done] = m->seq;
		p->time[p->done] = m->time_ms;
		p->epoch[p->done] = m->epoch;
		assert_int_equal(m->from_len, 5);
		assert_memory_equal(m->from, "alice", 5);
	} else {
		print_message("publish failed: %s\n", why ? why : "?");
	}
	p->rc |= rc;
	p->done++;
}

/* Messages a subscriber received. */
struct inbox {
	int n;
	int confirmed; /* subscription confirmations */
	char payload[4][128];
};

static void
on_message(struct redis_link *l, const char *channel, size_t clen, const char *payload, size_t plen,
           void *arg)
{
	struct inbox *in = arg;

	(void)l;
	assert_int_equal(clen, strlen("chatd:room:{lobby}"));
	assert_memory_equal(channel, "chatd:room:{lobby}", clen);
	if (payload == NULL) {
		in->confirmed++;
		return;
	}
	if (in->n < 4 && plen < sizeof(in->payload[0]))
		memcpy(in->payload[in->n], payload, plen);
	in->n++;
}

static void
on_integer(struct redis_link *l, struct redisReply *r, void *arg)
{
	int *out = arg;

	(void)l;
	out[1] = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? (int)r->element[1]->integer
	                                                               : -1;
	out[0]++;
}

static void
publish_twice_gives_seq_1_and_2_in_the_stream_and_to_a_subscriber(void **state)
{
	struct server srv;
	struct seen s1 = {0}, s2 = {0};
	struct redis_link *cmd, *sub;
	struct published p = {0};
	struct inbox in = {0};
	struct script_msg m;
	int numsub[2] = {0, 0};
	redisContext *c;
	redisReply *r;

	(void)state;
	server_new(&srv, NULL);
	cmd = link_to(&srv, "", "", &s1);
	sub = link_to(&srv, "", "", &s2);
	redis_on_ready(sub, NULL, NULL);
	assert_int_equal(redis_subscribe(sub, "chatd:room:{lobby}", on_message, &in), 0);
	assert_int_equal(run_until(&s1.ups, 1, 5), 1);
	assert_int_equal(run_until(&s2.ups, 1, 5), 1);
	/* The subscription is in place once Redis counts it. */
	while (numsub[1] != 1) {
		numsub[0] = 0;
		assert_int_equal(redis_cmd(cmd, on_integer, numsub, "PUBSUB NUMSUB %s",
		                           "chatd:room:{lobby}"),
		                 0);
		assert_int_equal(run_until(&numsub[0], 1, 5), 1);
	}
	assert_int_equal(script_publish(cmd, "lobby", 5, 77, "alice", 5, "hello", 5, 100, 7, 9,
	                                on_published, &p),
	                 0);
	assert_int_equal(script_publish(cmd, "lobby", 5, 99, "alice", 5, "again", 5, 100, 0, 0,
	                                on_published, &p),
	                 0);
	assert_int_equal(run_until(&p.done, 2, 5), 2);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.seq[0], 1);
	assert_int_equal(p.seq[1], 2);
	/* The first publish sets the epoch; the second keeps it. */
	assert_int_equal(p.epoch[0], 77);
	assert_int_equal(p.epoch[1], 77);
	assert_true(p.time[0] > 1600000000000ull && p.time[1] >= p.time[0]);
	assert_int_equal(run_until(&in.n, 2, 5), 2);
	assert_int_equal(script_payload_parse(in.payload[0], strlen(in.payload[0]), &m), 0);
	assert_int_equal(in.confirmed, 1);
	assert_int_equal(m.seq, 1);
	assert_int_equal(m.epoch, 77);
	assert_int_equal(m.origin, 7);
	assert_int_equal(m.sid, 9);
	assert_int_equal(m.time_ms, p.time[0]);
	assert_memory_equal(m.from, "alice", 5);
	assert_int_equal(m.text_len, 5);
	assert_memory_equal(m.text, "hello", 5);
	assert_int_equal(script_payload_parse(in.payload[1], strlen(in.payload[1]), &m), 0);
	assert_int_equal(m.seq, 2);
	assert_memory_equal(m.text, "again", 5);
	/* The stream holds both, with the sequence as entry ID. */
	c = server_connect(&srv);
	assert_non_null(c);
	r = redisCommand(c, "XRANGE chatd:room:{lobby}:log - +");
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_int_equal(r->elements, 2);
	assert_string_equal(r->element[0]->element[0]->str, "1-0");
	assert_string_equal(r->element[1]->element[0]->str, "2-0");
	assert_int_equal(r->element[1]->element[1]->elements, 12); /* 6 fields */
	assert_string_equal(r->element[1]->element[1]->element[6]->str, "text");
	assert_string_equal(r->element[1]->element[1]->element[7]->str, "again");
	freeReplyObject(r);
	r = redisCommand(c, "GET chatd:room:{lobby}:seq");
	assert_string_equal(r->str, "2");
	freeReplyObject(r);
	redisFree(c);
	assert_true(redis_stats(cmd)->round_trips >= 4);
	assert_true(redis_stats(cmd)->latency_max > 0);
	redis_free(sub);
	redis_free(cmd);
	server_free(&srv);
}

/* A room left and followed again in one loop turn (a room freed and
 * joined again): the new subscription is confirmed and hears what is
 * published, the old callback nothing; then left for good, Redis counts
 * no subscriber. */
static void
unsubscribe_and_subscribe_again_at_once_keeps_the_new_one(void **state)
{
	struct server srv;
	struct seen s1 = {0}, s2 = {0};
	struct redis_link *cmd, *sub;
	struct inbox old = {0}, again = {0};
	int numsub[2] = {0, 1}, published[2] = {0, 0};

	(void)state;
	server_new(&srv, NULL);
	cmd = link_to(&srv, "", "", &s1);
	sub = link_to(&srv, "", "", &s2);
	redis_subscriber(sub);
	assert_int_equal(redis_subscribe(sub, "chatd:room:{lobby}", on_message, &old), 0);
	assert_int_equal(run_until(&old.confirmed, 1, 5), 1);
	assert_int_equal(run_until(&s1.ups, 1, 5), 1);
	redis_unsubscribe(sub, "chatd:room:{lobby}");
	assert_int_equal(redis_subscribe(sub, "chatd:room:{lobby}", on_message, &again), 0);
	assert_int_equal(run_until(&again.confirmed, 1, 5), 1);
	assert_int_equal(redis_cmd(cmd, on_integer, published, "PUBLISH %s %s",
	                           "chatd:room:{lobby}", "after"),
	                 0);
	assert_int_equal(run_until(&again.n, 1, 5), 1);
	assert_memory_equal(again.payload[0], "after", 5);
	assert_int_equal(old.n, 0);
	redis_unsubscribe(sub, "chatd:room:{lobby}");
	while (numsub[1] != 0) {
		numsub[0] = 0;
		assert_int_equal(redis_cmd(cmd, on_integer, numsub, "PUBSUB NUMSUB %s",
		                           "chatd:room:{lobby}"),
		                 0);
		assert_int_equal(run_until(&numsub[0], 1, 5), 1);
	}
	assert_int_equal(again.confirmed, 1);
	redis_free(sub);
	redis_free(cmd);
	server_free(&srv);
}

/* What a state call gave. */
struct stated {
	int done;
	int rc;
	uint64_t seq, epoch;
	unsigned count;
	uint64_t first, last;
	char text[32];
};

static void
on_room_state(int rc, const struct script_state *st, const char *why, void *arg)
{
	struct stated *s = arg;

	(void)why;
	s->rc = rc;
	if (rc == 0) {
		s->seq = st->seq;
		s->epoch = st->epoch;
		s->count = st->count;
		s->first = st->count ? st->msgs[0].seq : 0;
		s->last = st->count ? st->msgs[st->count - 1].seq : 0;
		if (st->count)
			snprintf(s->text, sizeof(s->text), "%.*s", (int)st->msgs[0].text_len,
			         st->msgs[0].text);
	}
	s->done++;
}

static void
state_gives_the_epoch_and_the_newest_or_the_next_messages(void **state)
{
	struct server srv;
	struct seen s = {0};
	struct redis_link *cmd;
	struct published p = {0};
	struct stated st = {0};
	char text[8];
	int i;

	(void)state;
	server_new(&srv, NULL);
	cmd = link_to(&srv, "", "", &s);
	assert_int_equal(run_until(&s.ups, 1, 5), 1);
	/* A room no one has written to: seq 0, and the epoch offered is kept. */
	assert_int_equal(script_state(cmd, "lobby", 5, 41, 1, 0, 3, on_room_state, &st), 0);
	assert_int_equal(run_until(&st.done, 1, 5), 1);
	assert_int_equal(st.rc, 0);
	assert_int_equal(st.seq, 0);
	assert_int_equal(st.epoch, 41);
	assert_int_equal(st.count, 0);
	for (i = 1; i <= 5; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		assert_int_equal(script_publish(cmd, "lobby", 5, 99, "alice", 5, text, strlen(text),
		                                100, 0, 0, on_published, &p),
		                 0);
	}
	assert_int_equal(run_until(&p.done, 5, 5), 5);
	assert_int_equal(p.epoch[0], 41); /* the publish found the epoch set */
	/* The newest three, oldest first. */
	assert_int_equal(script_state(cmd, "lobby", 5, 42, 1, 0, 3, on_room_state, &st), 0);
	assert_int_equal(run_until(&st.done, 2, 5), 2);
	assert_int_equal(st.seq, 5);
	assert_int_equal(st.epoch, 41);
	assert_int_equal(st.count, 3);
	assert_int_equal(st.first, 3);
	assert_int_equal(st.last, 5);
	assert_string_equal(st.text, "m3");
	/* The next two after seq 1. */
	assert_int_equal(script_state(cmd, "lobby", 5, 42, 0, 1, 2, on_room_state, &st), 0);
	assert_int_equal(run_until(&st.done, 3, 5), 3);
	assert_int_equal(st.count, 2);
	assert_int_equal(st.first, 2);
	assert_int_equal(st.last, 3);
	assert_string_equal(st.text, "m2");
	/* From the first (after 0, not the newest). */
	assert_int_equal(script_state(cmd, "lobby", 5, 42, 0, 0, 2, on_room_state, &st), 0);
	assert_int_equal(run_until(&st.done, 4, 5), 4);
	assert_int_equal(st.first, 1);
	assert_int_equal(st.last, 2);
	/* Nothing after the last. */
	assert_int_equal(script_state(cmd, "lobby", 5, 42, 0, 5, 10, on_room_state, &st), 0);
	assert_int_equal(run_until(&st.done, 5, 5), 5);
	assert_int_equal(st.count, 0);
	redis_free(cmd);
	server_free(&srv);
}

static void
on_flushed(struct redis_link *l, struct redisReply *r, void *arg)
{
	(void)l;
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	(*(int *)arg)++;
}

static void
noscript_falls_back_to_eval_after_script_flush(void **state)
{
	struct server srv;
	struct seen s = {0};
	struct redis_link *cmd;
	struct published p = {0};
	int flushed = 0;

	(void)state;
	server_new(&srv, NULL);
	cmd = link_to(&srv, "", "", &s);
	assert_int_equal(run_until(&s.ups, 1, 5), 1);
	assert_int_equal(redis_cmd(cmd, on_flushed, &flushed, "SCRIPT FLUSH"), 0);
	assert_int_equal(run_until(&flushed, 1, 5), 1);
	assert_int_equal(
	        script_publish(cmd, "lobby", 5, 5, "alice", 5, "x", 1, 100, 0, 0, on_published, &p),
	        0);
	assert_int_equal(
	        script_publish(cmd, "lobby", 5, 5, "alice", 5, "y", 1, 100, 0, 0, on_published, &p),
	        0);
	assert_int_equal(run_until(&p.done, 2, 5), 2);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.seq[0], 1);
	assert_int_equal(p.seq[1], 2);
	/* Both were pipelined behind the flush: both came back NOSCRIPT. */
	assert_int_equal(redis_stats(cmd)->noscript, 2);
	redis_free(cmd);
	server_free(&srv);
}

/* A nick or heartbeat result. */
struct done {
	int n;
	int rc[12];
};

static void
on_done(int rc, const char *why, void *arg)
{
	struct done *d = arg;

	if (rc < 0)
		print_message("failed: %s\n", why);
	if (d->n < 12)
		d->rc[d->n] = rc;
	d->n++;
}

static void
nick_lease_is_held_renewed_and_released_only_by_its_node(void **state)
{
	struct server srv;
	struct seen s = {0};
	struct redis_link *cmd;
	struct done d = {0};
	const char *kv[2] = {"Bob", "lobby Den"};
	size_t kvlen[2] = {3, 9};
	redisContext *c;
	redisReply *r;

	(void)state;
	server_new(&srv, NULL);
	cmd = link_to(&srv, "", "", &s);
	assert_int_equal(run_until(&s.ups, 1, 5), 1);
	assert_int_equal(script_nick_claim(cmd, "alice", 5, "node-a", 30000, on_done, &d), 0);
	assert_int_equal(script_nick_claim(cmd, "alice", 5, "node-b", 30000, on_done, &d), 0);
	assert_int_equal(script_nick_renew(cmd, "alice", 5, "node-b", 60000, on_done, &d), 0);
	assert_int_equal(script_nick_renew(cmd, "alice", 5, "node-a", 60000, on_done, &d), 0);
	assert_int_equal(script_nick_release(cmd, "alice", 5, "node-b", on_done, &d), 0);
	assert_int_equal(run_until(&d.n, 5, 5), 5);
	assert_int_equal(d.rc[0], 1); /* a claims */
	assert_int_equal(d.rc[1], 0); /* b cannot */
	assert_int_equal(d.rc[2], 0); /* b cannot renew a's */
	assert_int_equal(d.rc[3], 1); /* a can */
	assert_int_equal(d.rc[4], 0); /* b cannot release a's */
	c = server_connect(&srv);
	r = redisCommand(c, "PTTL chatd:nick:{alice}");
	assert_true(r->integer > 30000 && r->integer <= 60000); /* renewed to 60 s */
	freeReplyObject(r);
	r = redisCommand(c, "GET chatd:nick:{alice}");
	assert_string_equal(r->str, "node-a");
	freeReplyObject(r);
	assert_int_equal(script_nick_release(cmd, "alice", 5, "node-a", on_done, &d), 0);
	assert_int_equal(script_nick_claim(cmd, "alice", 5, "node-b", 30000, on_done, &d), 0);
	/* A node's presence: written whole, then beating; a beat of another
	 * incarnation finds the hash not its own. */
	assert_int_equal(script_pres_reset(cmd, "node-b", "7", 10000, kv, kvlen, 2, on_done, &d),
	                 0);
	assert_int_equal(script_node_beat(cmd, "node-b", "7", 10000, on_done, &d), 0);
	assert_int_equal(script_node_beat(cmd, "node-b", "8", 10000, on_done, &d), 0);
	assert_int_equal(run_until(&d.n, 10, 5), 10);
	assert_int_equal(d.rc[5], 1); /* a releases */
	assert_int_equal(d.rc[6], 1); /* b claims it now */
	assert_int_equal(d.rc[7], 1); /* written */
	assert_int_equal(d.rc[8], 1); /* the heartbeat */
	assert_int_equal(d.rc[9], 0); /* not incarnation 8's */
	r = redisCommand(c, "PTTL chatd:node:{node-b}");
	assert_true(r->integer > 0 && r->integer <= 10000);
	freeReplyObject(r);
	r = redisCommand(c, "HGET chatd:pres:{node-b} Bob");
	assert_string_equal(r->str, "lobby Den");
	freeReplyObject(r);
	r = redisCommand(c, "SISMEMBER chatd:nodes node-b");
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	redisFree(c);
	redis_free(cmd);
	server_free(&srv);
}

static void
link_authenticates_selects_and_refuses_a_wrong_password(void **state)
{
	struct server srv;
	struct seen good = {0}, bad = {0};
	struct redis_link *l, *wrong;
	struct published p = {0};
	struct redis_url url;
	char err[256];
	redisContext *c;
	redisReply *r;

	(void)state;
	server_new(&srv, "s3cret");
	l = link_to(&srv, ":s3cret@", "/3", &good);
	wrong = link_to(&srv, ":nope@", "", &bad);
	assert_int_equal(run_until(&good.ups, 1, 5), 1);
	assert_int_equal(
	        script_publish(l, "db3", 3, 1, "alice", 5, "x", 1, 100, 0, 0, on_published, &p), 0);
	assert_int_equal(run_until(&p.done, 1, 5), 1);
	assert_int_equal(p.rc, 0);
	c = server_connect(&srv);
	r = redisCommand(c, "SELECT 3");
	freeReplyObject(r);
	r = redisCommand(c, "EXISTS chatd:room:{db3}:log");
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	redisFree(c);
	/* The wrong password never brings its link up, and says why. */
	(void)run_until(&bad.ups, 1, 1.0);
	assert_int_equal(bad.ups, 0);
	assert_false(redis_up(wrong));
	assert_non_null(strstr(redis_why(wrong), "WRONGPASS"));
	/* The probe says the same, and passes with the right one. */
	snprintf(err, sizeof(err), "redis://:nope@127.0.0.1:%d", srv.port);
	assert_int_equal(redis_url_parse(err, &url, err, sizeof(err)), 0);
	assert_int_equal(redis_probe(&url, NULL, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "WRONGPASS"));
	snprintf(err, sizeof(err), "redis://:s3cret@127.0.0.1:%d/3", srv.port);
	assert_int_equal(redis_url_parse(err, &url, err, sizeof(err)), 0);
	assert_int_equal(redis_probe(&url, NULL, 0, err, sizeof(err)), 0);
	redis_free(wrong);
	redis_free(l);
	server_free(&srv);
}

static void
link_reconnects_after_redis_is_killed_and_restarted(void **state)
{
	struct server srv;
	struct seen s = {0};
	struct redis_link *cmd;
	struct published p = {0};
	double t0;

	(void)state;
	server_new(&srv, NULL);
	cmd = link_to(&srv, "", "", &s);
	assert_int_equal(run_until(&s.ups, 1, 5), 1);
	server_stop(&srv, SIGKILL);
	assert_int_equal(run_until(&s.downs, 1, 5), 1);
	assert_false(redis_up(cmd));
	/* While down, work is refused at once: the caller says "cluster unavailable". */
	assert_int_equal(
	        script_publish(cmd, "lobby", 5, 1, "alice", 5, "x", 1, 100, 0, 0, on_published, &p),
	        -1);
	/* Let a few attempts fail (0.1 + 0.2 + 0.4 s), then bring it back. */
	(void)run_until(&s.ups, 2, 0.8);
	server_start(&srv);
	t0 = ev_time();
	assert_int_equal(run_until(&s.ups, 2, 8), 2);
	assert_true(ev_time() - t0 < 5.5); /* within the longest backoff */
	assert_string_equal(s.states, "UDU");
	assert_int_equal(redis_stats(cmd)->reconnects, 1);
	/* The scripts are cached again by the reconnect: no NOSCRIPT. */
	assert_int_equal(
	        script_publish(cmd, "lobby", 5, 1, "alice", 5, "x", 1, 100, 0, 0, on_published, &p),
	        0);
	assert_int_equal(run_until(&p.done, 1, 5), 1);
	assert_int_equal(p.rc, 0);
	assert_int_equal(redis_stats(cmd)->noscript, 0);
	redis_free(cmd);
	server_free(&srv);
}

static void
probe_names_a_refused_port_and_a_server_that_is_not_redis(void **state)
{
	struct redis_url url;
	char text[128], err[256];
	int port = free_port(), fd, conn;
	struct sockaddr_in a = {.sin_family = AF_INET};
	pid_t pid;

	(void)state;
	snprintf(text, sizeof(text), "redis://127.0.0.1:%d", port);
	assert_int_equal(redis_url_parse(text, &url, err, sizeof(err)), 0);
	assert_int_equal(redis_probe(&url, NULL, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "refused"));
	/* A server that answers with something else. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	socklen_t len = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	pid = fork();
	if (pid == 0) {
		conn = accept(fd, NULL, NULL);
		if (conn >= 0 && write(conn, "HTTP/1.0 400 Bad\r\n\r\n", 20) < 0)
			_exit(1);
		sleep(1);
		_exit(0);
	}
	close(fd);
	snprintf(text, sizeof(text), "redis://127.0.0.1:%d", ntohs(a.sin_port));
	assert_int_equal(redis_url_parse(text, &url, err, sizeof(err)), 0);
	assert_int_equal(redis_probe(&url, NULL, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a Redis"));
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static void
payload_parse_refuses_what_the_script_does_not_write(void **state)
{
	struct script_msg m;

	(void)state;
	assert_int_equal(script_payload_parse("1 2 3 7 9 0 ", 12, &m), 0);
	assert_int_equal(m.from_len, 0);
	assert_int_equal(m.text_len, 0);
	assert_int_equal(script_payload_parse("1 2 3 0 0 5 bob", 15, &m), -1); /* from too long */
	assert_int_equal(script_payload_parse("1 2 3 0 0", 9, &m), -1);
	assert_int_equal(script_payload_parse("x 2 3 0 0 0 ", 12, &m), -1);
	assert_int_equal(script_payload_parse("99999999999999999999999 2 3 0 0 0 ", 34, &m), -1);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(payload_parse_refuses_what_the_script_does_not_write),
	        cmocka_unit_test(probe_names_a_refused_port_and_a_server_that_is_not_redis),
	        cmocka_unit_test(publish_twice_gives_seq_1_and_2_in_the_stream_and_to_a_subscriber),
	        cmocka_unit_test(unsubscribe_and_subscribe_again_at_once_keeps_the_new_one),
	        cmocka_unit_test(noscript_falls_back_to_eval_after_script_flush),
	        cmocka_unit_test(state_gives_the_epoch_and_the_newest_or_the_next_messages),
	        cmocka_unit_test(nick_lease_is_held_renewed_and_released_only_by_its_node),
	        cmocka_unit_test(link_authenticates_selects_and_refuses_a_wrong_password),
	        cmocka_unit_test(link_reconnects_after_redis_is_killed_and_restarted),
	};

	redis_path = argc > 1 ? argv[1] : "/usr/bin/redis-server";
	if (access(redis_path, X_OK) != 0) {
		fprintf(stderr, "skipped: no redis-server at %s\n", redis_path);
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	loop = ev_loop_new(EVFLAG_AUTO);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
