/*
 * chatd-swarm: a libev bot swarm that loads a chatd server and checks
 * what comes back.  Bots connect (against a loopback server, spread over
 * several 127.0.0.x source addresses so that no address meets the
 * server's per-address limit; to one of several servers, the nodes of a
 * cluster, in turn by id), register, join rooms, talk at a set rate or
 * as fast as an in-flight window allows, send direct messages, churn, and
 * verify every delivery: room sequence numbers must arrive contiguous and
 * in order on every connection, payloads must name the room they arrived
 * in, and direct messages must each arrive once.  All of it is kept per
 * bot and per room, never per server, so that it holds across the nodes
 * of a cluster as it does on one server.  Latency is measured end
 * to end from a send timestamp in each payload.  The report says what
 * failed, which ERRORs the server sent and, for a server limit, which
 * option avoids it; it is printed, and written as JSON and as an HTML page
 * with per-second charts on request.
 *
 * Bots speak the framed protocol (here, the reference for benchmarks),
 * over TCP or over a WebSocket (chatd.framed: the same bot, its bytes
 * wrapped by wsconn.c), or they are bots of another transport, a row of
 * struct swarm_transport (swarm.h): HTTP (httpbot.c) or chatd.json
 * (wsjbot.c).  The transport is chosen per bot, and all are checked by
 * the same code.  A framed bot's fd is its connection; the others have
 * connections of their own, and bot_up() says whether a bot is connected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "swarm/botmsg.h"
#include "util/addr.h"
#include "chatd/wire.h"
#include "swarm/check.h"
#include "swarm/httpbot.h"
#include "swarm/jevent.h"
#include "swarm/latency.h"
#include "swarm/swarm.h"
#include "swarm/wsconn.h"
#include "swarm/wsjbot.h"

#define SWARM_READ_CHUNK      ((size_t)256 * 1024)
#define SWARM_MAX_SOURCES     64  /* addresses --sources may name */
#define SWARM_PER_SOURCE      100 /* bots per address when the swarm picks them (chatd allows 128) */
#define SWARM_REJOIN_DELAY    0.1 /* seconds between a churn part and the rejoin */
#define SWARM_RECONNECT_DELAY 0.2
#define SWARM_TICK            0.001 /* rate-mode scheduling granularity */
#define SWARM_CONNECT_RETRIES 3
#define SWARM_SETUP_TIMEOUT   30.0 /* seconds before a run goes on without the bots not ready */
#define SWARM_ERR_KINDS       32   /* distinct ERRORs kept; the rest are counted together */
#define SWARM_ERR_TEXT        160  /* bytes of an ERROR text kept */
#define SWARM_MAX_FAILS       16   /* FAILED lines kept */
#define SWARM_SAMPLE_MIN      0.25 /* a shorter last second joins the one before it */
#define SWARM_END_TIMEOUT     3.0  /* seconds HTTP bots may take to end their sessions */
#define SWARM_MIX_MAX         8    /* transports a --transport list may name */
#define SWARM_MAX_SERVERS     64   /* entries a --server list may name */
#define SWARM_SERVER_TEXT     80   /* bytes of an entry, as given (the Host header) */
#define SWARM_DEFAULT_SERVER  "127.0.0.1:7000"
#define SWARM_IN_CAP          ((size_t)WIRE_FRAME_MAX_HARD + WIRE_HEADER_LEN) /* a framed bot's b->in */
/* After a drop by the server in a --restart-every run: the first attempt
 * after about SWARM_BACKOFF_MIN seconds, each next one twice as late up to
 * SWARM_BACKOFF_MAX (with jitter, so that the bots do not come back all at
 * once), SWARM_BACKOFF_TRIES attempts in all before the bot gives up. */
#define SWARM_BACKOFF_MIN   0.05
#define SWARM_BACKOFF_MAX   1.0
#define SWARM_BACKOFF_TRIES 40

/* What a bot may speak (--transport, --sender-transport): a row each. */
enum transport {
	TRANSPORT_FRAMED,
	TRANSPORT_HTTP,
	TRANSPORT_WS,      /* the framed bot over a WebSocket (chatd.framed) */
	TRANSPORT_WS_JSON, /* chatd.json */
	TRANSPORT_COUNT,
};

static const struct transport_row {
	const char *name;
	const struct swarm_transport *tp; /* NULL: the framed bot */
	uint8_t ws;                       /* the framed bot over a WebSocket */
} transports[TRANSPORT_COUNT] = {
        [TRANSPORT_FRAMED] = {"framed", NULL, 0},
        [TRANSPORT_HTTP] = {"http", &httpbot_transport, 0},
        [TRANSPORT_WS] = {"ws", NULL, 1},
        [TRANSPORT_WS_JSON] = {"ws-json", &wsjbot_transport, 0},
};

/*
 * One entry of --server.  Bot i connects to entry (i + id-offset) mod n,
 * and only to it, reconnects included; with several entries they are
 * nodes of one cluster (or servers whose rooms the bots do not share).
 */
struct server {
	struct sockaddr_storage addr;
	socklen_t len;
	char text[SWARM_SERVER_TEXT]; /* as given: the Host header, the reports */
	uint8_t bind;                 /* its bots bind their source address (opt.sources) */
	unsigned bots;                /* bots that connect to it */
	unsigned ready;               /* of them, ready when the warm-up began */
	long pid;                     /* --server-pid's process for it; 0: none */
	double cpu0, cpu1;            /* its CPU seconds at the window's start and end */
	long rss_before, rss_setup, rss_end;
};

struct opts {
	struct server servers[SWARM_MAX_SERVERS];
	unsigned nservers;
	unsigned bots;
	unsigned rooms;
	unsigned rooms_per_bot;
	unsigned senders;      /* bots 0..senders-1 talk; the rest listen */
	unsigned sender_rooms; /* >0: senders join this many rooms each, apart from the rest */
	double rate;           /* messages/s per sender, 0: unlimited (window) */
	double total_rate;
	unsigned window; /* unlimited mode: messages in flight per sender */
	unsigned payload;
	double direct; /* share of messages sent as direct messages */
	double churn;  /* churn events per second, whole swarm */
	double warmup;
	double duration;
	double grace;
	struct sockaddr_in *sources; /* bot i binds sources[bots[i].src]; NULL: no bind */
	unsigned nsources;
	int sources_auto; /* picked by the swarm (loopback server, no --sources) */
	int idle;
	const char *json;
	const char *report; /* --report: the HTML page */
	FILE *json_f;       /* both opened before the run, so that a bad path fails at once */
	FILE *report_f;
	unsigned npids; /* --server-pid's entries: 0, 1 (the first server's) or nservers */
	unsigned burst;
	unsigned id_offset;
	unsigned seed;
	int progress; /* -1 auto (a terminal), 0 off, 1 on */
	/* The bots spread over these in turn, by global id (--transport). */
	enum transport mix[SWARM_MIX_MAX];
	unsigned nmix;
	int sender_transport; /* an enum transport for bots 0..senders-1; -1: as the mix */
	enum httpbot_mode http_mode;
	double restart_every; /* --restart-every: seconds between restarts; 0: none */
	uint16_t allowed[8];  /* --allow-error: ERROR codes that are part of the run */
	unsigned nallowed;
	char *restart_cmd;  /* run with /bin/sh -c for each */
	const char *ledger; /* --ledger: every acknowledged and unacknowledged message */
	FILE *ledger_f;
};

enum bot_state {
	BOT_IDLE,       /* not connected (before start, or between reconnects) */
	BOT_CONNECTING, /* connect() in progress */
	BOT_HELLO,      /* preface and HELLO sent */
	BOT_JOINING,    /* registered, joins outstanding */
	BOT_READY,      /* in all its rooms */
};

/* One room membership of a bot, kept across reconnects for the cursor. */
struct member {
	uint32_t room;
	uint8_t joined;  /* HISTORY_END seen, PART not yet confirmed */
	uint8_t joining; /* JOIN sent, HISTORY_END not yet seen */
	uint8_t leaving; /* PART sent */
	uint64_t epoch;  /* of the last join, 0 before the first */
	uint64_t sent;   /* this bot's payload sequence for the room */
	struct check_stream st;
	uint64_t *hist; /* history seqs of the join in progress */
	unsigned nhist;
	unsigned caphist;
};

/* What an unacknowledged request was. */
struct pending {
	uint32_t ref;
	int32_t room;  /* -1: direct message */
	uint64_t dm;   /* direct message: its key in the outstanding table */
	uint64_t pseq; /* room message: its payload's sequence (botmsg's seq) */
};

struct bot {
	ev_io io;
	ev_timer timer; /* reconnect / rejoin */
	uint32_t id;
	uint32_t gen; /* connection generation, part of the nick */
	int fd;
	uint8_t state;
	uint8_t want_write;
	uint8_t closing;   /* we closed it (churn): not the server's drop */
	uint8_t drop_seen; /* the server's drop of this generation was counted */
	uint8_t tries;     /* connection attempts of the current generation */
	uint8_t refused;   /* JOINs refused by an ERROR since it registered */
	uint8_t back;      /* reconnecting in a restart run: back off, count it once registered */
	char nick[24];
	unsigned nmembers;
	unsigned joined; /* memberships currently joined */
	struct member *members;
	unsigned next_room; /* round robin over memberships */
	uint8_t *in;        /* partial frame */
	size_t inlen;
	uint8_t *out;
	size_t outlen;
	size_t outcap;
	struct pending *pend; /* FIFO of unacked requests */
	size_t pend_head;
	size_t pend_len;
	size_t pend_cap;
	double next_send;
	int64_t inflight; /* deliveries of our messages not yet seen */
	uint32_t ref;
	uint64_t dm_seq;
	uint32_t src;         /* index of the source address */
	uint32_t srv;         /* index of its server in opt.servers */
	uint8_t barrier_wait; /* its barrier came back before it caught up (several servers) */
	struct bot *next_dirty;
	uint8_t dirty;
	const struct swarm_transport *tp; /* NULL: a framed bot */
	void *tx;                         /* tp's state of the bot */
	struct wsconn *ws;                /* a framed bot's WebSocket; NULL: over TCP */
};

/* Outstanding direct messages: open addressing keyed by sender and seq. */
struct dm_ent {
	uint64_t key; /* 0: empty */
	uint32_t to;
	uint32_t to_gen;
	uint8_t acked;
};

/* One distinct ERROR the server sent: its code and text, and how often. */
struct err_kind {
	uint16_t code;
	uint8_t expected; /* the answer to the swarm's own churn, not a failure */
	uint8_t len;
	char text[SWARM_ERR_TEXT]; /* printable ASCII; other bytes became '?' */
	uint64_t count;
};

/* One second of the measured window, for the HTML report's charts. */
struct sample {
	double t;  /* seconds from the window's start to the end of this one */
	double dt; /* its length: a second, the last one may be longer or shorter */
	uint64_t deliveries;
	uint64_t publishes;
	uint64_t nlat;          /* latency samples */
	uint64_t p50, p99, max; /* ns */
};

/* The first number of a room seen standing for two messages: the one it
 * stood for first, and the other ([0], [1]: sender and payload sequence). */
struct conflict {
	unsigned room;
	uint64_t seq; /* 0: none yet */
	uint32_t sender[2];
	uint64_t pseq[2];
};

struct stats {
	uint64_t sent;
	uint64_t acked;
	uint64_t acked_window; /* ACKs inside the measured window */
	uint64_t delivered_window;
	uint64_t delivered;
	uint64_t history;
	struct check_counts chk;
	uint64_t dm_dup;
	uint64_t misrouted;      /* payload names another room or sender */
	uint64_t bad_payload;    /* not a swarm payload */
	uint64_t errors;         /* ERROR frames */
	uint64_t err_unexpected; /* of those, not explained by the swarm's own churn */
	struct err_kind errk[SWARM_ERR_KINDS];
	unsigned nerrk;
	uint64_t err_other;   /* ERRORs beyond SWARM_ERR_KINDS kinds */
	uint64_t conn_errors; /* connect or socket failures */
	uint64_t unacked_at_drop;
	uint64_t unacked_end; /* requests never answered on a live connection */
	uint64_t dm_lost;
	uint64_t dm_accounted;
	uint64_t drops[WIRE_R_COUNT];
	uint64_t churn_part, churn_drop;
	uint64_t unknown_frames; /* of types this swarm does not know: skipped */
	struct latency lat;      /* the window's: each second's lat_sec, added up */
	struct latency lat_sec;  /* this second of the window: progress line and samples */
	uint64_t sec_sent, sec_recv;
	struct sample *samples;
	size_t nsamples, capsamples;
	struct latency lat_last; /* the last sample's, to fold a short tail into it */
	double sample_t;         /* when the current sample began */
	uint64_t sample_delivered, sample_acked; /* window totals at that time */
	/* --restart-every */
	uint64_t restarts;        /* restart commands run */
	uint64_t restart_failed;  /* of them, exited other than 0 or did not finish */
	int restart_status;       /* the last failure's wait status; -1: it did not finish */
	double restart_longest;   /* seconds the longest command ran */
	uint64_t reconnects;      /* bots registered again after a drop (a restart's or churn's) */
	uint64_t gave_up;         /* bots that stopped trying to reconnect */
	uint64_t rooms_restarted; /* rejoins that found a room's epoch changed after seeing it */
	uint64_t conflicts;       /* numbers that two different messages stood for */
	struct conflict first_conflict;
	uint64_t unacked_rooms;         /* room messages whose ACK went with a connection */
	uint64_t unacked_found;         /* of them, seen in the room all the same */
	struct check_room_counts rooms; /* along each room's numbers, at the end */
};

/* A room message whose acknowledgement went with its connection: it may
 * be in the room or not, but at most once (--restart-every). */
struct unacked {
	uint32_t room;
	uint32_t sender;
	uint64_t pseq;
	uint8_t found; /* in its room after all (at the end of the run) */
};

/* The restart command while it runs, and when the next one is due. */
struct restart {
	ev_child child;
	ev_timer timer;
	pid_t pid;      /* 0: none running */
	double t0;      /* when it started */
	uint8_t killed; /* ended by the swarm: it did not finish in time */
};

static struct opts opt;
static struct bot *bots;
static struct ev_loop *loop;
static struct stats st;
static uint8_t *scratch;
static unsigned *room_members; /* ready members per room */
static uint64_t *room_last;    /* highest sequence acknowledged per room */
static uint64_t *room_epoch;
static uint64_t *room_acked;         /* room messages acknowledged per room */
static struct check_room *room_seen; /* what each room's numbers stood for (--restart-every) */
static struct unacked *unacked;      /* --restart-every */
static size_t nunacked, capunacked;
static struct restart restart;
static struct dm_ent *dms;
static size_t dm_cap, dm_len;
static struct bot *dirty;
static unsigned connecting, ready, live;
static unsigned setup_started; /* bots 0 .. setup_started-1 have begun to connect */
static int interrupted;
static unsigned ready_at_start;        /* bots ready when the warm-up began */
static double t_ready, t_start, t_end; /* measurement window */
static int phase; /* 0 setup, 1 warmup, 2 measure, 3 drain, 4 barrier, 5 done */
static unsigned barrier_left;
static uint64_t barrier_token = 0x5357524d;
static ev_timer tick, second, phase_timer;
static ev_prepare flusher;
static ev_signal sigint_w;
static unsigned max_frame = 8192;
static int tty;
static unsigned long long rng = 88172645463325252ull;
static unsigned ntransport[TRANSPORT_COUNT]; /* bots that speak each */

static void bot_connect(struct bot *b);
static void bot_close(struct bot *b, int reason);
static double rnd(void);

/* The delay before reconnect attempt n (from 0) after a restart. */
static double
backoff(unsigned n)
{
	double d = SWARM_BACKOFF_MIN * (double)(1u << (n < 10 ? n : 10));

	if (d > SWARM_BACKOFF_MAX)
		d = SWARM_BACKOFF_MAX;
	return d * (0.5 + rnd());
}

/* Is b connected: its framed connection open, or its transport's? */
static int
bot_up(const struct bot *b)
{
	return b->tp ? b->tp->up(b->tx) : b->fd >= 0;
}

static double
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* swarm.h: random bytes, from the seeded generator. */
void
swarm_random(uint8_t *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		out[i] = (uint8_t)(rng >> 32);
	}
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("chatd-swarm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL)
		die("out of memory");
	return p;
}

/* ---- server process figures (--server-pid) ---- */

static double
proc_cpu(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, stt;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* After the command: state, then fields 4..13; utime and stime are
	 * fields 14 and 15 of the whole line. */
	{
		char *save = NULL, *tok = strtok_r(p + 1, " ", &save);
		int field = 3;

		while (tok && field < 14) {
			tok = strtok_r(NULL, " ", &save);
			field++;
		}
		if (tok == NULL)
			return -1;
		ut = strtoul(tok, NULL, 10);
		tok = strtok_r(NULL, " ", &save);
		if (tok == NULL)
			return -1;
		stt = strtoul(tok, NULL, 10);
	}
	return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

static long
proc_rss_kb(long pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* When servers_measure() is called. */
enum proc_when {
	PROC_BEFORE, /* before the bots connect */
	PROC_SETUP,  /* the measured window begins */
	PROC_END,    /* it ends */
};

/* --server-pid: the CPU and RSS of each server that has a process. */
static void
servers_measure(enum proc_when when)
{
	unsigned i;

	for (i = 0; i < opt.nservers; i++) {
		struct server *sv = &opt.servers[i];

		if (sv->pid <= 0)
			continue;
		switch (when) {
		case PROC_BEFORE:
			sv->rss_before = proc_rss_kb(sv->pid);
			break;
		case PROC_SETUP:
			sv->rss_setup = proc_rss_kb(sv->pid);
			sv->cpu0 = proc_cpu(sv->pid);
			break;
		case PROC_END:
			sv->cpu1 = proc_cpu(sv->pid);
			sv->rss_end = proc_rss_kb(sv->pid);
			break;
		}
	}
}

/* (Re)start b's one timer: a reconnect or a rejoin, whichever came last.
 * libev forbids ev_timer_set() on an active watcher, hence the stop. */
static void
bot_timer_arm(struct bot *b, double delay)
{
	ev_timer_stop(loop, &b->timer);
	ev_timer_set(&b->timer, delay, 0);
	ev_timer_start(loop, &b->timer);
}

/* ---- output ---- */

static void
mark_dirty(struct bot *b)
{
	if (!b->dirty) {
		b->dirty = 1;
		b->next_dirty = dirty;
		dirty = b;
	}
}

/* Room for n more bytes of output. */
static uint8_t *
out_reserve(struct bot *b, size_t n)
{
	if (b->outcap - b->outlen < n) {
		size_t cap = b->outcap ? b->outcap * 2 : 4096;

		while (cap - b->outlen < n)
			cap *= 2;
		b->out = xrealloc(b->out, cap);
		b->outcap = cap;
	}
	return b->out + b->outlen;
}

/* Append a frame built by enc into b's output. */
#define SEND(b, maxlen, call)                                                                      \
	do {                                                                                       \
		struct wire_writer w_;                                                             \
		wire_writer_init(&w_, out_reserve((b), (maxlen)), (maxlen));                       \
		call;                                                                              \
		(b)->outlen += w_.len;                                                             \
		mark_dirty(b);                                                                     \
	} while (0)

static void
pend_push(struct bot *b, uint32_t ref, int32_t room, uint64_t dm, uint64_t pseq)
{
	if (b->pend_len == b->pend_cap) {
		size_t cap = b->pend_cap ? b->pend_cap * 2 : 16, i;
		struct pending *v = xcalloc(cap, sizeof(*v));

		for (i = 0; i < b->pend_len; i++)
			v[i] = b->pend[(b->pend_head + i) % b->pend_cap];
		free(b->pend);
		b->pend = v;
		b->pend_cap = cap;
		b->pend_head = 0;
	}
	b->pend[(b->pend_head + b->pend_len) % b->pend_cap] = (struct pending){ref, room, dm, pseq};
	b->pend_len++;
}

static int
pend_pop(struct bot *b, uint32_t ref, struct pending *out)
{
	if (b->pend_len == 0 || b->pend[b->pend_head].ref != ref)
		return 0;
	*out = b->pend[b->pend_head];
	b->pend_head = (b->pend_head + 1) % b->pend_cap;
	b->pend_len--;
	return 1;
}

/* ---- direct-message bookkeeping ---- */

static struct dm_ent *
dm_slot(uint64_t key)
{
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ull >> 20) & (dm_cap - 1);

	while (dms[i].key && dms[i].key != key)
		i = (i + 1) & (dm_cap - 1);
	return &dms[i];
}

static void
dm_grow(void)
{
	struct dm_ent *old = dms;
	size_t oldcap = dm_cap, i;

	dm_cap = dm_cap ? dm_cap * 2 : 1024;
	dms = xcalloc(dm_cap, sizeof(*dms));
	for (i = 0; i < oldcap; i++)
		if (old[i].key)
			*dm_slot(old[i].key) = old[i];
	free(old);
}

static void
dm_remove(struct dm_ent *e)
{
	size_t i = (size_t)(e - dms), j;

	e->key = 0;
	dm_len--;
	/* Re-place the rest of the probe run. */
	for (j = (i + 1) & (dm_cap - 1); dms[j].key; j = (j + 1) & (dm_cap - 1)) {
		struct dm_ent t = dms[j];

		dms[j].key = 0;
		*dm_slot(t.key) = t;
	}
}

static uint64_t
dm_key(uint32_t sender, uint64_t seq)
{
	return (uint64_t)sender << 40 | (seq & 0xffffffffffull);
}

/* ---- sending ---- */

static int
in_window(void)
{
	return phase == 2;
}

static unsigned
room_of_name(const char *p, size_t n, int *ok)
{
	unsigned v = 0;
	size_t i;

	*ok = n >= 2 && p[0] == 'r';
	for (i = 1; i < n && *ok; i++) {
		if (p[i] < '0' || p[i] > '9')
			*ok = 0;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return v;
}

static uint32_t
bot_of_nick(const char *p, size_t n, int *ok)
{
	uint32_t v = 0;
	size_t i;

	*ok = n >= 2 && p[0] == 'b';
	for (i = 1; i < n && *ok && p[i] != '-'; i++) {
		if (p[i] < '0' || p[i] > '9')
			*ok = 0;
		v = v * 10 + (uint32_t)(p[i] - '0');
	}
	return v;
}

static void
send_join(struct bot *b, struct member *m)
{
	char name[16];
	int n = snprintf(name, sizeof(name), "r%u", m->room);
	uint64_t since = m->st.next ? m->st.next - 1 : 0;

	m->joining = 1;
	m->nhist = 0;
	if (b->tp) {
		b->tp->join(b->tx, (unsigned)(m - b->members), m->st.next != 0, m->epoch, since);
		return;
	}
	SEND(b, 64, wire_enc_join(&w_, name, (size_t)n, m->st.next ? m->epoch : 0, since));
}

/* Send one message: to a room of b's, or (by share) directly to a bot. */
static void
send_one(struct bot *b, uint64_t now)
{
	char text[WIRE_TEXT_MAX_HARD];
	struct botmsg bm;
	size_t size = opt.payload;

	bm.time_ns = now;
	bm.sender = b->id + opt.id_offset;
	if (opt.direct > 0 && rnd() < opt.direct) {
		uint32_t to = (uint32_t)(rnd() * opt.bots) % opt.bots;
		struct bot *r = &bots[to];
		struct dm_ent *e;

		if (r->state == BOT_READY && r != b) {
			bm.target = r->id + opt.id_offset;
			bm.seq = ++b->dm_seq;
			botmsg_encode(text, size, &bm);
			if ((dm_len + 1) * 2 > dm_cap)
				dm_grow();
			e = dm_slot(dm_key(bm.sender, bm.seq));
			e->key = dm_key(bm.sender, bm.seq);
			e->to = r->id;
			e->to_gen = r->gen;
			e->acked = 0;
			dm_len++;
			b->ref++;
			if (b->tp)
				b->tp->direct(b->tx, r->nick, b->ref, text, size);
			else
				SEND(b, 64 + size,
				     wire_enc_msg(&w_, b->ref, r->nick, strlen(r->nick), text,
				                  size));
			pend_push(b, b->ref, -1, e->key, 0);
			st.sent++;
			st.sec_sent++;
			return;
		}
	}
	for (unsigned k = 0; k < b->nmembers; k++) {
		struct member *m = &b->members[(b->next_room + k) % b->nmembers];
		char name[16];
		int n;

		if (!m->joined || m->leaving)
			continue;
		b->next_room = (b->next_room + k + 1) % b->nmembers;
		bm.target = m->room;
		bm.seq = ++m->sent;
		botmsg_encode(text, size, &bm);
		n = snprintf(name, sizeof(name), "r%u", m->room);
		b->ref++;
		if (b->tp)
			b->tp->say(b->tx, (unsigned)(m - b->members), b->ref, text, size);
		else
			SEND(b, 64 + size, wire_enc_say(&w_, b->ref, name, (size_t)n, text, size));
		pend_push(b, b->ref, (int32_t)m->room, 0, bm.seq);
		if (room_members[m->room] > 1)
			b->inflight += room_members[m->room] - 1;
		st.sent++;
		st.sec_sent++;
		return;
	}
}

/* Fill b's window or rate budget with messages. */
static void
bot_talk(struct bot *b, double now, uint64_t now_ns)
{
	unsigned guard = 0;

	if (b->state != BOT_READY || b->joined == 0 || b->id >= opt.senders)
		return;
	if (opt.rate > 0) {
		while (b->next_send <= now && guard++ < 1000) {
			send_one(b, now_ns);
			b->next_send += 1.0 / opt.rate;
		}
		if (b->next_send < now - 1.0)
			b->next_send = now; /* fell behind by a second: do not burst */
		return;
	}
	/* Unlimited: keep about window messages' deliveries in flight. */
	{
		unsigned fan = 1;
		const struct member *m = &b->members[b->next_room % b->nmembers];

		if (room_members[m->room] > 1)
			fan = room_members[m->room] - 1;
		while (b->inflight < (int64_t)opt.window * fan && guard++ < opt.window)
			send_one(b, now_ns);
	}
}

static int
sending(void)
{
	return phase == 1 || phase == 2;
}

/* Write b's queued bytes: as they are over TCP, or as one masked binary
 * frame over a WebSocket (after the upgrade request, which goes as it
 * is); EV_WRITE stays armed only while something is left. */
static void
flush_bot(struct bot *b)
{
	size_t done;
	ssize_t n;
	int more;

	if (b->fd < 0 || b->state == BOT_CONNECTING)
		return;
	if (b->ws && wsconn_open(b->ws)) {
		struct iovec iov[3];
		int cnt = wsconn_iov(b->ws, b->out, b->outlen, iov);

		n = cnt ? writev(b->fd, iov, cnt) : 0;
	} else {
		n = b->outlen ? write(b->fd, b->out, b->outlen) : 0;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			n = 0;
		else {
			st.conn_errors++;
			bot_close(b, WIRE_R_RESET);
			return;
		}
	}
	done = b->ws && wsconn_open(b->ws) ? wsconn_wrote(b->ws, (size_t)n) : (size_t)n;
	memmove(b->out, b->out + done, b->outlen - done);
	b->outlen -= done;
	more = b->outlen > 0 || (b->ws && wsconn_pending(b->ws));
	if (more != b->want_write) {
		b->want_write = (uint8_t)more;
		ev_io_stop(loop, &b->io);
		ev_io_set(&b->io, b->fd, EV_READ | (b->want_write ? EV_WRITE : 0));
		ev_io_start(loop, &b->io);
	}
}

static void
flush_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	if (sending()) {
		double now = ev_now(loop);
		uint64_t now_ns = mono_ns();
		unsigned i;

		for (i = 0; i < opt.senders && i < opt.bots; i++)
			bot_talk(&bots[i], now, now_ns);
	}
	while (dirty) {
		struct bot *b = dirty;

		dirty = b->next_dirty;
		b->dirty = 0;
		flush_bot(b);
	}
	for (unsigned t = 0; t < TRANSPORT_COUNT; t++)
		if (transports[t].tp && ntransport[t])
			transports[t].tp->flush();
}

/* ---- receiving ---- */

static void
member_joined(struct bot *b, struct member *m, uint64_t epoch, uint64_t last, uint8_t flags)
{
	unsigned i;

	if ((flags & WIRE_HIST_EPOCH_CHANGED) || (m->epoch && epoch != m->epoch)) {
		/* A new incarnation of the room: start over, announced.  After
		 * a restart that is a store that forgot the room: the messages
		 * this bot had seen there can no longer be checked. */
		if (m->st.next > 1)
			st.rooms_restarted++;
		check_init(&m->st);
	}
	if (room_seen) {
		/* The first join of the room in this run: what came before
		 * (another run's messages, from bots of the same ids) is not
		 * this run's to check. */
		check_room_epoch(&room_seen[m->room], epoch);
		check_room_base(&room_seen[m->room], last);
	}
	if (m->st.next && (flags & WIRE_HIST_TRUNCATED) && m->nhist)
		check_skip(&m->st, m->hist[0] - 1, &st.chk);
	else if (m->st.next && (flags & WIRE_HIST_TRUNCATED))
		check_skip(&m->st, last, &st.chk);
	if (m->st.next == 0)
		check_sync(&m->st, m->nhist ? m->hist[0] : last + 1);
	for (i = 0; i < m->nhist; i++)
		check_replayed(&m->st, m->hist[i], &st.chk);
	st.history += m->nhist;
	m->nhist = 0;
	m->epoch = epoch;
	room_epoch[m->room] = epoch;
	if (last > room_last[m->room])
		room_last[m->room] = last;
	m->joining = 0;
	m->joined = 1;
	b->joined++;
	room_members[m->room]++;
	if (b->state == BOT_JOINING && b->joined == b->nmembers) {
		b->state = BOT_READY;
		ready++;
		b->next_send = ev_now(loop) + rnd() * (opt.rate > 0 ? 1.0 / opt.rate : 0);
	}
}

static struct member *
member_of(struct bot *b, unsigned room)
{
	unsigned i;

	for (i = 0; i < b->nmembers; i++)
		if (b->members[i].room == room)
			return &b->members[i];
	return NULL;
}

/* What number seq of room stood for, as a delivery or an ACK showed it:
 * with --restart-every, every bot must see the same (check_room). */
static void
room_note(unsigned room, uint64_t seq, uint32_t sender, uint64_t pseq)
{
	struct conflict *x = &st.first_conflict;
	int r;

	if (room_seen == NULL)
		return;
	if ((r = check_room_note(&room_seen[room], seq, sender, pseq)) < 0)
		die("out of memory");
	if (r == CHECK_CONFLICT && x->seq == 0) {
		/* The first, for the report: what the number stood for, and
		 * what came at it after. */
		x->room = room;
		x->seq = seq;
		check_room_at(&room_seen[room], seq, &x->sender[0], &x->pseq[0]);
		x->sender[1] = sender;
		x->pseq[1] = pseq;
	}
}

/* swarm.h: room k's join is complete; check its history. */
void
swarm_joined(struct bot *b, unsigned k, uint64_t epoch, uint64_t last, uint8_t flags)
{
	struct member *m = &b->members[k];

	if (m->joining)
		member_joined(b, m, epoch, last, flags);
}

/* swarm.h: the server's word that room k's numbers up to upto are gone. */
void
swarm_skip(struct bot *b, unsigned k, uint64_t upto)
{
	check_skip(&b->members[k].st, upto, &st.chk);
}

/*
 * Check one message b received, from any transport: its payload must be a
 * swarm payload from the nick of its sender, in the room it names, and a
 * room's numbers must come in order (history is kept for the join to
 * check).  An HTTP bot also reads its own room messages back: those are
 * checked for order and are not deliveries.
 */
void
swarm_deliver(struct bot *b, const struct swarm_msg *m, uint64_t now_ns)
{
	struct botmsg bm;
	int ok;

	if (botmsg_decode(m->text, m->text_len, &bm) < 0) {
		st.bad_payload++;
		return;
	}
	/* Nicks carry the bot id with the offset already in it. */
	if (bot_of_nick(m->from, m->from_len, &ok) != bm.sender || !ok) {
		st.misrouted++;
		return;
	}
	if (m->flags & SWARM_MSG_DIRECT) {
		struct dm_ent *e = dm_slot(dm_key(bm.sender, bm.seq));

		if (bm.target != b->id + opt.id_offset)
			st.misrouted++;
		else if (e->key == 0)
			st.dm_dup++;
		else
			dm_remove(e);
	} else {
		unsigned room = room_of_name(m->room, m->room_len, &ok);
		struct member *mb;

		if (!ok || room != bm.target || (mb = member_of(b, room)) == NULL) {
			st.misrouted++;
			return;
		}
		room_note(room, m->seq, bm.sender, bm.seq);
		if (m->flags & SWARM_MSG_HISTORY) {
			if (mb->nhist == mb->caphist) {
				mb->caphist = mb->caphist ? mb->caphist * 2 : 64;
				mb->hist = xrealloc(mb->hist, mb->caphist * sizeof(*mb->hist));
			}
			mb->hist[mb->nhist++] = m->seq;
			return;
		}
		check_seq(&mb->st, m->seq, &st.chk);
		if (bm.sender == b->id + opt.id_offset)
			return; /* an HTTP bot's own message, read back */
		if (bm.sender >= opt.id_offset && bm.sender - opt.id_offset < opt.bots)
			bots[bm.sender - opt.id_offset].inflight--;
	}
	st.delivered++;
	st.sec_recv++;
	if (in_window()) {
		st.delivered_window++;
		/* Into this second's histogram only: sample_take() adds it to
		 * the window's, once a second rather than once a delivery. */
		if (now_ns > bm.time_ns)
			latency_record(&st.lat_sec, now_ns - bm.time_ns);
	}
}

/* A framed MESSAGE. */
static void
on_message(struct bot *b, const struct wire_msg *m, uint64_t now_ns)
{
	struct swarm_msg sm = {
	        (uint8_t)((m->u.message.flags & WIRE_MSG_HISTORY ? SWARM_MSG_HISTORY : 0) |
	                  (m->u.message.flags & WIRE_MSG_DIRECT ? SWARM_MSG_DIRECT : 0)),
	        m->u.message.room.p,
	        m->u.message.room.len,
	        m->u.message.from.p,
	        m->u.message.from.len,
	        m->u.message.text.p,
	        m->u.message.text.len,
	        m->u.message.seq,
	};

	swarm_deliver(b, &sm, now_ns);
}

/* swarm.h: a send accepted; a framed ACK also has its place in the room's order. */
void
swarm_ack(struct bot *b, uint32_t ref, uint64_t seq)
{
	struct pending p;

	if (!pend_pop(b, ref, &p))
		return;
	st.acked++;
	if (in_window())
		st.acked_window++;
	if (p.room >= 0) {
		struct member *mb = member_of(b, (unsigned)p.room);

		/* An ACK is in its connection's order of the room's numbers;
		 * an HTTP bot reads its message back instead. */
		if (mb && !(b->tp && b->tp->reads_own))
			check_seq(&mb->st, seq, &st.chk);
		if (seq > room_last[p.room])
			room_last[p.room] = seq;
		room_acked[p.room]++;
		room_note((unsigned)p.room, seq, b->id + opt.id_offset, p.pseq);
		if (opt.ledger_f)
			fprintf(opt.ledger_f, "ack r%d %llu %llu %u %llu\n", p.room,
			        (unsigned long long)(mb ? mb->epoch : 0), (unsigned long long)seq,
			        b->id + opt.id_offset, (unsigned long long)p.pseq);
	} else {
		struct dm_ent *e = dm_slot(p.dm);

		if (e->key)
			e->acked = 1;
	}
}

/* A request of b's whose answer went with its connection: a room message
 * may or may not be in its room.  It is not sent again; the ledger and,
 * with --restart-every, the end of the run say which it was. */
static void
pend_forget(struct bot *b, const struct pending *p)
{
	struct member *mb;

	st.unacked_at_drop++;
	if (p->room < 0)
		return;
	st.unacked_rooms++;
	if (opt.ledger_f) {
		mb = member_of(b, (unsigned)p->room);
		fprintf(opt.ledger_f, "unacked r%d %llu %u %llu\n", p->room,
		        (unsigned long long)(mb ? mb->epoch : 0), b->id + opt.id_offset,
		        (unsigned long long)p->pseq);
	}
	if (room_seen == NULL)
		return;
	if (nunacked == capunacked) {
		capunacked = capunacked ? capunacked * 2 : 256;
		unacked = xrealloc(unacked, capunacked * sizeof(*unacked));
	}
	unacked[nunacked++] =
	        (struct unacked){(uint32_t)p->room, b->id + opt.id_offset, p->pseq, 0};
}

/* swarm.h: a send whose answer went with its connection. */
void
swarm_unacked(struct bot *b, uint32_t ref)
{
	struct pending p;

	if (pend_pop(b, ref, &p))
		pend_forget(b, &p);
}

/* A framed ACK. */
static void
on_ack(struct bot *b, const struct wire_msg *m)
{
	swarm_ack(b, m->u.ack.ref, m->u.ack.seq);
}

/* A drop of one of our bots, announced by the server (a PRESENCE, or an
 * event of a large room's SUMMARY): count it once. */
static void
on_presence(uint8_t kind, uint8_t reason, struct wire_str nick)
{
	uint32_t id;
	int ok;

	if (kind != WIRE_P_DROP)
		return;
	id = bot_of_nick(nick.p, nick.len, &ok);
	if (!ok || id < opt.id_offset || id - opt.id_offset >= opt.bots)
		return;
	struct bot *x = &bots[id - opt.id_offset];

	if (strlen(x->nick) == nick.len && memcmp(x->nick, nick.p, nick.len) == 0 &&
	    !x->drop_seen) {
		x->drop_seen = 1;
		if (reason < WIRE_R_COUNT)
			st.drops[reason]++;
	}
}

/* swarm.h: a presence event; drops of our bots are counted. */
void
swarm_presence(uint8_t kind, uint8_t reason, const char *nick, size_t len)
{
	struct wire_str n = {nick, len};

	on_presence(kind, reason, n);
}

/* A large room's SUMMARY: its drops count as PRESENCE drops do. */
static void
on_summary(const struct wire_msg *m)
{
	struct wire_list l = m->u.summary.list;
	struct wire_str nick, new_nick;
	uint8_t kind, reason;

	while (wire_list_next_event(&l, &kind, &reason, &nick, &new_nick))
		on_presence(kind, reason, nick);
}

static void
start_joins(struct bot *b)
{
	unsigned i;

	b->state = BOT_JOINING;
	for (i = 0; i < b->nmembers; i++)
		send_join(b, &b->members[i]);
}

/* swarm.h: b is signed in (a framed WELCOME, an HTTP session): join. */
void
swarm_registered(struct bot *b)
{
	connecting--;
	if (b->back) {
		b->back = 0;
		st.reconnects++;
	}
	start_joins(b);
}

/* Count one ERROR frame under its code and text, cleaned to printable
 * ASCII so that every report can show it as it is. */
static void
err_count(uint16_t code, const struct wire_str *text, int expected)
{
	char clean[SWARM_ERR_TEXT];
	size_t n = text->len < sizeof(clean) - 1 ? text->len : sizeof(clean) - 1, i;
	struct err_kind *e;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)text->p[i];

		clean[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	clean[n] = '\0';
	st.errors++;
	if (!expected)
		st.err_unexpected++;
	for (i = 0; i < st.nerrk; i++) {
		e = &st.errk[i];
		if (e->code == code && e->expected == expected && e->len == n &&
		    memcmp(e->text, clean, n) == 0) {
			e->count++;
			return;
		}
	}
	if (st.nerrk == SWARM_ERR_KINDS) {
		st.err_other++;
		return;
	}
	e = &st.errk[st.nerrk++];
	e->code = code;
	e->expected = (uint8_t)expected;
	e->len = (uint8_t)n;
	memcpy(e->text, clean, n + 1);
	e->count = 1;
}

/* swarm.h: count a refusal, and settle the message it refused. */
void
swarm_refused(struct bot *b, uint32_t ref, uint8_t type, uint16_t code, const char *text,
              size_t len)
{
	struct wire_str t = {text, len};
	struct pending pd;
	int expected = 0;

	if (ref && pend_pop(b, ref, &pd) && pd.room < 0) {
		/* A direct message refused (its recipient left): not lost. */
		struct dm_ent *e = dm_slot(pd.dm);

		if (e->key) {
			/* A cluster's refusal may come after the message went (the
			 * link dropped before its answer): it may still arrive. */
			if (code != WIRE_E_CLUSTER_UNAVAILABLE)
				dm_remove(e);
			st.dm_accounted++;
		}
		expected = code == WIRE_E_NO_SUCH_USER;
	}
	if (type == WIRE_JOIN && b->state == BOT_JOINING)
		b->refused++; /* it will not become ready: setup need not wait for it */
	if (type == WIRE_HELLO && code == WIRE_E_NICK_TAKEN)
		expected = 1; /* a previous generation is still being torn down */
	for (unsigned i = 0; i < opt.nallowed; i++)
		if (code == opt.allowed[i])
			expected = 1; /* an outage the run makes on purpose */
	err_count(code, &t, expected);
}

/* swarm.h: the next generation's nick, after the last one was taken. */
const char *
swarm_renick(struct bot *b)
{
	b->gen++;
	snprintf(b->nick, sizeof(b->nick), "b%u-%u", b->id + opt.id_offset, b->gen);
	return b->nick;
}

/* An ERROR: count it, and settle the request it refused. */
static void
on_error(struct bot *b, const struct wire_msg *m)
{
	int renick = m->u.error.code == WIRE_E_NICK_TAKEN && b->state == BOT_HELLO;

	swarm_refused(b, m->u.error.ref, renick ? WIRE_HELLO : m->u.error.type, m->u.error.code,
	              m->u.error.text.p, m->u.error.text.len);
	if (renick) {
		swarm_renick(b);
		SEND(b, 64, wire_enc_hello(&w_, b->nick, strlen(b->nick)));
	}
}

/* swarm.h: b is out of room k: rejoin it a little later. */
void
swarm_parted(struct bot *b, unsigned k)
{
	struct member *mb = &b->members[k];

	if (mb->joined) {
		mb->joined = 0;
		mb->leaving = 0;
		b->joined--;
		room_members[mb->room]--;
		bot_timer_arm(b, SWARM_REJOIN_DELAY);
	}
}

/* A PRESENCE: a drop to count, or the server's word that b left a room. */
static void
on_presence_frame(struct bot *b, const struct wire_msg *m)
{
	on_presence(m->u.presence.kind, m->u.presence.reason, m->u.presence.nick);
	if (m->u.presence.kind == WIRE_P_PART && m->u.presence.nick.len == strlen(b->nick) &&
	    memcmp(m->u.presence.nick.p, b->nick, m->u.presence.nick.len) == 0) {
		int ok;
		unsigned room = room_of_name(m->u.presence.room.p, m->u.presence.room.len, &ok);
		struct member *mb = ok ? member_of(b, room) : NULL;

		if (mb)
			swarm_parted(b, (unsigned)(mb - b->members));
	}
}

/* Decode one server frame with the public codec and act on it. */
static void
on_frame(struct bot *b, const struct wire_frame *f, uint64_t now_ns)
{
	struct wire_msg m;
	int r = wire_decode(f->type, f->payload, f->len, &m);

	if (r < 0) {
		/* A later server's new frame types are skipped (protocol 4.2). */
		if (r == -2)
			st.unknown_frames++;
		else
			st.bad_payload++;
		return;
	}
	switch (m.type) {
	case WIRE_MESSAGE:
		on_message(b, &m, now_ns);
		break;
	case WIRE_ACK:
		on_ack(b, &m);
		break;
	case WIRE_PRESENCE:
		on_presence_frame(b, &m);
		break;
	case WIRE_SUMMARY:
		on_summary(&m);
		break;
	case WIRE_WELCOME:
		if (m.u.welcome.max_frame)
			max_frame = m.u.welcome.max_frame;
		swarm_registered(b);
		break;
	case WIRE_JOINED:
	case WIRE_NAMES:
		break; /* membership is known from our own side */
	case WIRE_HISTORY_END: {
		int ok;
		unsigned room = room_of_name(m.u.history_end.room.p, m.u.history_end.room.len, &ok);
		struct member *mb = ok ? member_of(b, room) : NULL;

		if (mb && mb->joining)
			member_joined(b, mb, m.u.history_end.epoch, m.u.history_end.last_seq,
			              m.u.history_end.flags);
		break;
	}
	case WIRE_PING:
		SEND(b, 16, wire_enc_ping(&w_, WIRE_PONG, m.u.ping.token));
		break;
	case WIRE_PONG:
		if (m.u.ping.token == barrier_token)
			swarm_barrier_done(b);
		break;
	case WIRE_ERROR:
		on_error(b, &m);
		break;
	case WIRE_BYE:
		if (m.u.bye.reason < WIRE_R_COUNT && m.u.bye.reason != WIRE_R_NONE &&
		    !b->drop_seen) {
			b->drop_seen = 1;
			st.drops[m.u.bye.reason]++;
		}
		break;
	default:
		break;
	}
}

/* Count a bot's own unacked requests and DMs as the server's to explain. */
static void
forget_pending(struct bot *b)
{
	size_t i;

	for (i = 0; i < b->pend_len; i++)
		pend_forget(b, &b->pend[(b->pend_head + i) % b->pend_cap]);
	b->pend_len = 0;
	b->pend_head = 0;
}

static void
bot_close(struct bot *b, int reason)
{
	uint8_t was = b->state;
	unsigned i;

	if (!bot_up(b))
		return;
	if (b->tp) {
		b->tp->close(b->tx, reason == WIRE_R_RESET && b->closing);
	} else {
		if (reason == WIRE_R_RESET && b->closing) {
			struct linger lg = {1, 0};

			(void)setsockopt(b->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		ev_io_stop(loop, &b->io);
		close(b->fd);
		b->fd = -1;
	}
	if (b->state == BOT_READY)
		ready--;
	if (b->state == BOT_HELLO || b->state == BOT_CONNECTING)
		connecting--;
	live--;
	for (i = 0; i < b->nmembers; i++) {
		struct member *m = &b->members[i];

		if (m->joined)
			room_members[m->room]--;
		m->joined = m->joining = m->leaving = 0;
		m->nhist = 0;
	}
	b->joined = 0;
	b->state = BOT_IDLE;
	b->inlen = 0;
	b->outlen = 0;
	b->inflight = 0;
	forget_pending(b);
	if (!b->closing && !b->drop_seen && phase < 5) {
		b->drop_seen = 1;
		st.drops[reason < WIRE_R_COUNT ? reason : WIRE_R_CLOSED]++;
	}
	/* Reconnect (with cursors) while the run goes on: after our own
	 * churn, and in a restart run after the server's drop too (a failed
	 * connect is bot_retry()'s). */
	if (phase >= 1 && phase <= 3 &&
	    (b->closing || (opt.restart_every > 0 && was != BOT_CONNECTING))) {
		b->tries = 0;
		b->back = opt.restart_every > 0;
		bot_timer_arm(b, b->closing ? SWARM_RECONNECT_DELAY : backoff(0));
	}
}

/* A connection attempt failed: try again a little later, a few times;
 * reconnecting in a restart run (the server may not be back yet), later
 * each time, and more times. */
static void
bot_retry(struct bot *b)
{
	unsigned most = b->back ? SWARM_BACKOFF_TRIES : SWARM_CONNECT_RETRIES;

	st.conn_errors++;
	if (++b->tries < most) {
		bot_timer_arm(b, b->back ? backoff(b->tries) : SWARM_RECONNECT_DELAY);
	} else if (b->back) {
		st.gave_up++;
		b->back = 0;
	}
}

static void
bot_input(struct bot *b, const uint8_t *p, size_t len, uint64_t now_ns)
{
	size_t off = 0;

	for (;;) {
		struct wire_frame f;
		size_t used;
		enum wire_status s =
		        wire_frame_next(p + off, len - off, WIRE_FRAME_MAX_HARD, &f, &used);

		if (s != WIRE_OK) {
			if (s == WIRE_TOO_LARGE) {
				st.bad_payload++;
				bot_close(b, WIRE_R_PROTOCOL_ERROR);
				return;
			}
			break;
		}
		on_frame(b, &f, now_ns);
		if (b->fd < 0)
			return;
		off += used;
	}
	if (off < len) {
		size_t left = len - off;

		if (b->in == NULL)
			b->in = xcalloc(1, (size_t)WIRE_FRAME_MAX_HARD + WIRE_HEADER_LEN);
		if (p != NULL)
			memmove(b->in, p + off, left);
		b->inlen = left;
	} else {
		b->inlen = 0;
	}
}

/* The preface and the HELLO: a framed bot's first words. */
static void
send_hello(struct bot *b)
{
	SEND(b, 64,
	     (wire_put_bytes(&w_, WIRE_PREFACE, WIRE_PREFACE_LEN),
	      wire_enc_hello(&w_, b->nick, strlen(b->nick))));
}

/* WebSocket bytes p[0, len) for b (with room for WSCONN_KEEP_MAX bytes
 * before p): the payload of its binary messages, unwrapped in place, goes
 * to the framed bot as if it had come over TCP. */
static void
bot_ws_input(struct bot *b, uint8_t *p, size_t len, uint64_t now_ns)
{
	uint8_t *q = wsconn_restore(b->ws, p);
	enum wsconn_status s;
	size_t plen;

	len += (size_t)(p - q);
	p = q;
	s = wsconn_unwrap(b->ws, p, len, &plen);
	if (wsconn_pending(b->ws))
		mark_dirty(b); /* a pong is owed */
	if (plen) {
		/* After the partial frame b kept, if any: the read that brought
		 * these bytes was bounded by the room left for it. */
		if (b->inlen) {
			memcpy(b->in + b->inlen, p, plen);
			bot_input(b, b->in, b->inlen + plen, now_ns);
		} else {
			bot_input(b, p, plen, now_ns);
		}
		if (b->fd < 0)
			return;
	}
	if (s == WSCONN_BAD) {
		st.bad_payload++;
		bot_close(b, WIRE_R_PROTOCOL_ERROR);
	} else if (s == WSCONN_CLOSED) {
		/* Echo the close, best effort: the server ends the connection. */
		flush_bot(b);
		if (b->fd >= 0)
			bot_close(b, WIRE_R_CLOSED);
	}
}

/* The answer to b's upgrade, from p[0, n): once the 101 has come, the
 * framed bot begins (preface and HELLO); a refusal is counted as the
 * error it carries. */
static void
bot_ws_handshake(struct bot *b, uint8_t *p, size_t n, uint64_t now_ns)
{
	size_t used;
	const char *body;
	size_t blen;
	int status;

	switch (wsconn_handshake(b->ws, p, n, &used)) {
	case WSCONN_MORE:
		return;
	case WSCONN_OK:
		send_hello(b);
		if (used < n)
			bot_ws_input(b, p + used, n - used, now_ns);
		return;
	case WSCONN_REFUSED:
		wsconn_refusal(b->ws, &status, &body, &blen);
		if (jevent_refusal(b, 0, WIRE_HELLO, status, body, blen) < 0)
			st.bad_payload++;
		bot_close(b, WIRE_R_CLOSED);
		return;
	default:
		st.bad_payload++;
		bot_close(b, WIRE_R_PROTOCOL_ERROR);
		return;
	}
}

static void
bot_read(struct bot *b)
{
	uint8_t *at = scratch;
	size_t room = SWARM_READ_CHUNK;
	ssize_t n;
	uint64_t now_ns;

	if (b->ws) {
		/* WebSocket bytes, unwrapped in place: into the shared buffer
		 * after room for what wsconn kept, and no more than the framed
		 * bot's buffer can take after its partial frame. */
		at = scratch + WSCONN_KEEP_MAX;
		room = SWARM_READ_CHUNK - WSCONN_KEEP_MAX;
		if (b->inlen && room > SWARM_IN_CAP - b->inlen)
			room = SWARM_IN_CAP - b->inlen;
	} else if (b->inlen) {
		at = b->in + b->inlen;
		room = SWARM_IN_CAP - b->inlen;
	}
	n = read(b->fd, at, room);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		bot_close(b, errno == ECONNRESET ? WIRE_R_RESET : WIRE_R_CLOSED);
		return;
	}
	if (n == 0) {
		bot_close(b, WIRE_R_CLOSED);
		return;
	}
	now_ns = mono_ns();
	if (b->ws && !wsconn_open(b->ws))
		bot_ws_handshake(b, at, (size_t)n, now_ns);
	else if (b->ws)
		bot_ws_input(b, at, (size_t)n, now_ns);
	else if (b->inlen)
		bot_input(b, b->in, b->inlen + (size_t)n, now_ns);
	else
		bot_input(b, scratch, (size_t)n, now_ns);
}

static void
io_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct bot *b = (struct bot *)(void *)w;

	(void)l;
	if (b->state == BOT_CONNECTING && (revents & EV_WRITE)) {
		int err = 0;
		socklen_t el = sizeof(err);

		getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			b->drop_seen = 1; /* our failure, not a server drop */
			bot_close(b, WIRE_R_CLOSED);
			bot_retry(b);
			return;
		}
		b->state = BOT_HELLO;
		if (b->ws) {
			/* The upgrade first; the preface once it is answered. */
			size_t k = wsconn_request(b->ws, opt.servers[b->srv].text,
			                          (char *)out_reserve(b, WSCONN_REQUEST_MAX));

			b->outlen += k;
		} else {
			send_hello(b);
		}
		flush_bot(b);
		return;
	}
	if (revents & EV_READ)
		bot_read(b);
	if (b->fd >= 0 && (revents & EV_WRITE))
		flush_bot(b);
}

/* Is sv an IPv4 loopback address (127.0.0.0/8)? */
static int
server_loopback4(const struct server *sv)
{
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)&sv->addr;

	return sv->addr.ss_family == AF_INET && ntohl(v4->sin_addr.s_addr) >> 24 == 127;
}

/* swarm.h: a socket bound to b's source address, connecting to its
 * server. */
int
swarm_dial(const struct bot *b)
{
	const struct server *sv = &opt.servers[b->srv];
	int fd, one = 1;

	fd = socket(sv->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (sv->bind) {
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
#ifdef IP_BIND_ADDRESS_NO_PORT
		/* Pick the port at connect(), per destination, not at bind(). */
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
#endif
		if (bind(fd, (struct sockaddr *)&opt.sources[b->src], sizeof(opt.sources[0])) < 0) {
			close(fd);
			return -1;
		}
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&sv->addr, sv->len) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* swarm.h: b's server as --server gave it, for a Host header. */
const char *
swarm_host(const struct bot *b)
{
	return opt.servers[b->srv].text;
}

/* Open b's connection (from its source address, if any), or its HTTP
 * session; a failure here or later in io_cb() is retried by bot_retry(). */
static void
bot_connect(struct bot *b)
{
	int fd = -1;

	if (b->tp == NULL && (fd = swarm_dial(b)) < 0) {
		bot_retry(b);
		return;
	}
	if (b->ws) {
		uint8_t rnd[20]; /* a new key and mask for each connection */

		swarm_random(rnd, sizeof(rnd));
		wsconn_reset(b->ws, rnd);
	}
	b->closing = 0;
	b->drop_seen = 0;
	b->refused = 0;
	b->state = BOT_CONNECTING;
	if (b->gen)
		snprintf(b->nick, sizeof(b->nick), "b%u-%u", b->id + opt.id_offset, b->gen);
	else
		snprintf(b->nick, sizeof(b->nick), "b%u", b->id + opt.id_offset);
	connecting++;
	live++;
	if (b->tp) {
		/* Its connections are its own; a failure comes back as
		 * swarm_connect_failed(). */
		b->tp->connect(b->tx, b->nick);
		return;
	}
	b->fd = fd;
	/* Writable means connected; flush_bot() drops EV_WRITE once the queue
	 * is empty, or epoll would report every idle bot on every turn. */
	b->want_write = 1;
	ev_io_init(&b->io, io_cb, fd, EV_READ | EV_WRITE);
	ev_io_start(loop, &b->io);
}

/* swarm.h: b could not connect: retry, as a framed bot does. */
void
swarm_connect_failed(struct bot *b)
{
	b->drop_seen = 1; /* our failure, not a server drop */
	bot_close(b, WIRE_R_CLOSED);
	bot_retry(b);
}

/* swarm.h: b is gone (its session, or an answer it could not read). */
void
swarm_lost(struct bot *b, uint8_t reason)
{
	bot_close(b, reason);
}

/* swarm.h: whether transports should still reconnect. */
int
swarm_active(void)
{
	return phase < 5;
}

/* swarm.h: a malformed answer or event. */
void
swarm_malformed(void)
{
	st.bad_payload++;
}

/* swarm.h: an event of a kind this swarm does not know, skipped. */
void
swarm_unknown(void)
{
	st.unknown_frames++;
}

/* Reconnect after a churn drop, or rejoin after a churn part. */
static void
bot_timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct bot *b = (struct bot *)(void *)((char *)w - offsetof(struct bot, timer));
	unsigned i;

	(void)l;
	(void)revents;
	if (phase > 3)
		return;
	if (!bot_up(b)) {
		b->gen++;
		bot_connect(b);
		return;
	}
	for (i = 0; i < b->nmembers; i++) {
		struct member *m = &b->members[i];

		if (!m->joined && !m->joining && !m->leaving)
			send_join(b, m);
	}
	if (b->state == BOT_READY && b->joined < b->nmembers) {
		/* Still ready for its other rooms; the rejoin completes later. */
	}
}

/* ---- churn ---- */

static void
churn_one(void)
{
	struct bot *b = &bots[(unsigned)(rnd() * opt.bots) % opt.bots];
	unsigned i;

	if (b->state != BOT_READY)
		return;
	if (rnd() < 0.5) {
		/* Leave one room and come back with a cursor. */
		for (i = 0; i < b->nmembers; i++) {
			struct member *m = &b->members[(b->next_room + i) % b->nmembers];
			char name[16];
			int n;

			if (!m->joined || m->leaving)
				continue;
			n = snprintf(name, sizeof(name), "r%u", m->room);
			m->leaving = 1;
			if (b->tp)
				b->tp->part(b->tx, (unsigned)(m - b->members));
			else
				SEND(b, 32, wire_enc_part(&w_, name, (size_t)n));
			st.churn_part++;
			return;
		}
		return;
	}
	if (b->tp && b->tp->churn) {
		/* Its own churn (HTTP: its receive connections go, its session
		 * stays, and they resume). */
		st.churn_drop += (uint64_t)b->tp->churn(b->tx);
		return;
	}
	/* Drop abruptly with a reset; reconnect and rejoin with cursors. */
	b->closing = 1;
	st.churn_drop++;
	bot_close(b, WIRE_R_RESET);
}

/* ---- restarts (--restart-every) ---- */

/* Run the restart command, /bin/sh -c CMD, with CHATD_SWARM_RESTART set
 * to its number, SIGPIPE back to its default, and in a process group of
 * its own, so that one that does not finish can be ended whole.  The bots
 * go on meanwhile: they lose their connections, and come back. */
static void
restart_run(void)
{
	char sh[] = "sh", dash_c[] = "-c";
	char *argv[] = {sh, dash_c, opt.restart_cmd, NULL};
	posix_spawnattr_t at;
	sigset_t none, dfl;
	char n[24];
	pid_t pid;
	int rc;

	st.restarts++;
	snprintf(n, sizeof(n), "%llu", (unsigned long long)st.restarts);
	setenv("CHATD_SWARM_RESTART", n, 1);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	                                      POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(&pid, "/bin/sh", NULL, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		st.restart_failed++;
		st.restart_status = W_EXITCODE(127, 0);
		if (phase == 2) {
			ev_timer_set(&restart.timer, opt.restart_every, 0);
			ev_timer_start(loop, &restart.timer);
		}
		return;
	}
	restart.pid = pid;
	restart.t0 = ev_now(loop);
	restart.killed = 0;
	ev_child_set(&restart.child, pid, 0);
	ev_child_start(loop, &restart.child);
}

/* The next restart is due. */
static void
restart_timer_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	if (phase == 2 && restart.pid == 0)
		restart_run();
}

/* The restart command is done: how it went, and the next one --restart-every
 * seconds from now while the window lasts.  In the drain, the bots get
 * the whole --grace to come back from now. */
static void
restart_child_cb(struct ev_loop *l, ev_child *w, int revents)
{
	double took = ev_now(l) - restart.t0;

	(void)revents;
	ev_child_stop(l, w);
	restart.pid = 0;
	if (took > st.restart_longest)
		st.restart_longest = took;
	if (restart.killed || !WIFEXITED(w->rstatus) || WEXITSTATUS(w->rstatus) != 0) {
		st.restart_failed++;
		st.restart_status = restart.killed ? -1 : w->rstatus;
	}
	if (phase == 2) {
		ev_timer_set(&restart.timer, opt.restart_every, 0);
		ev_timer_start(l, &restart.timer);
	} else if (phase == 3) {
		t_ready = ev_now(l);
	}
}

/* End a restart command that did not finish, with its process group. */
static void
restart_kill(void)
{
	if (restart.pid > 0 && !restart.killed) {
		restart.killed = 1;
		(void)kill(-restart.pid, SIGKILL);
	}
}

/* Bots on their way back after a restart: connecting, joining, or
 * waiting for their next attempt (a timer that has expired but whose
 * callback has not yet run is pending, no longer active). */
static unsigned
bots_returning(void)
{
	unsigned i, n = 0;

	for (i = 0; i < opt.bots; i++) {
		struct bot *b = &bots[i];

		if (b->state != BOT_READY &&
		    (bot_up(b) || ev_is_active(&b->timer) || ev_is_pending(&b->timer)))
			n++;
	}
	return n;
}

/* ---- phases ---- */

static void report_progress(void);

static void
tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	/* The prepare watcher does the sending; waking up is enough. */
	if (opt.churn > 0 && sending()) {
		double expect = opt.churn * SWARM_TICK;

		while (expect > 0) {
			if (rnd() < expect)
				churn_one();
			expect -= 1;
		}
	}
}

/* Close the current second of the window as a sample, and add its
 * latencies to the window's histogram.  last: the window
 * ended, and a stub shorter than SWARM_SAMPLE_MIN joins the sample before
 * it rather than make a point of its own from a few deliveries. */
static void
sample_take(double now, int last)
{
	double dt = now - st.sample_t;
	struct sample *s;

	latency_merge(&st.lat, &st.lat_sec);
	if (last && dt < SWARM_SAMPLE_MIN && st.nsamples > 0) {
		s = &st.samples[st.nsamples - 1];
		latency_merge(&st.lat_last, &st.lat_sec);
	} else {
		if (st.nsamples == st.capsamples) {
			st.capsamples = st.capsamples ? st.capsamples * 2 : 64;
			st.samples = xrealloc(st.samples, st.capsamples * sizeof(*st.samples));
		}
		s = &st.samples[st.nsamples++];
		memset(s, 0, sizeof(*s));
		st.lat_last = st.lat_sec;
	}
	s->t = now - t_start;
	s->dt += dt;
	s->deliveries += st.delivered_window - st.sample_delivered;
	s->publishes += st.acked_window - st.sample_acked;
	s->nlat = st.lat_last.count;
	s->p50 = latency_quantile(&st.lat_last, 0.5);
	s->p99 = latency_quantile(&st.lat_last, 0.99);
	s->max = latency_quantile(&st.lat_last, 1);
	st.sample_t = now;
	st.sample_delivered = st.delivered_window;
	st.sample_acked = st.acked_window;
}

/* Once a second (aligned to the measured window once it starts): the
 * progress line, a sample, and the stranded-deliveries reset. */
static void
second_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	if (phase == 2)
		sample_take(ev_now(loop), 0);
	if (tty)
		report_progress();
	/* Unlimited mode counts deliveries in flight; churn can strand some
	 * (a receiver gone mid-flight), so a silent second resets them. */
	if (st.sec_recv == 0 && opt.rate == 0) {
		unsigned i;

		for (i = 0; i < opt.senders; i++)
			bots[i].inflight = 0;
	}
	latency_init(&st.lat_sec);
	st.sec_sent = st.sec_recv = 0;
}

/* Start the next bots' connections, up to --burst at once, in order. */
static void
start_setup(void)
{
	for (; setup_started < opt.bots && connecting < opt.burst; setup_started++) {
		struct bot *b = &bots[setup_started];

		b->tries = 1;
		bot_connect(b);
	}
}

/* Setup is over when every bot is ready or never will be: it gave up
 * connecting, the server closed it (a limit, say), or it refused a join. */
static int
setup_settled(void)
{
	unsigned i;

	if (ready == opt.bots)
		return 1;
	if (connecting > 0 || setup_started < opt.bots)
		return 0;
	for (i = 0; i < opt.bots; i++) {
		const struct bot *b = &bots[i];

		if (b->state == BOT_READY || (!bot_up(b) && !ev_is_active(&b->timer)))
			continue;
		if (b->state == BOT_JOINING && b->refused > 0 &&
		    b->joined + b->refused >= b->nmembers)
			continue;
		return 0;
	}
	return 1;
}

/* Align the one-second timer, and the samples, to the measured window. */
static void
window_start(double now)
{
	t_start = now;
	latency_init(&st.lat);
	latency_init(&st.lat_sec);
	st.sec_sent = st.sec_recv = 0;
	st.sample_t = now;
	st.sample_delivered = st.delivered_window;
	st.sample_acked = st.acked_window;
	ev_timer_stop(loop, &second);
	ev_timer_set(&second, 1, 1);
	ev_timer_start(loop, &second);
	if (opt.restart_every > 0) {
		ev_timer_set(&restart.timer, opt.restart_every, 0);
		ev_timer_start(loop, &restart.timer);
	}
}

static void barrier(void);
static void barrier_cross(void);
static unsigned dm_due(void);

static void
phase_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	double now = ev_now(loop);

	(void)w;
	(void)revents;
	switch (phase) {
	case 0: /* setup: keep connecting until every bot is ready */
		start_setup();
		if (setup_settled() || now - t_ready > SWARM_SETUP_TIMEOUT) {
			phase = 1;
			t_ready = now;
			ready_at_start = ready;
			for (unsigned i = 0; i < opt.bots; i++)
				opt.servers[bots[i].srv].ready += bots[i].state == BOT_READY;
			ev_timer_set(&phase_timer, opt.warmup, 0);
		} else {
			ev_timer_set(&phase_timer, 0.01, 0);
		}
		break;
	case 1: /* warm-up over: measure */
		phase = 2;
		window_start(now);
		/* After the warm-up, so that the connections have settled. */
		servers_measure(PROC_SETUP);
		ev_timer_set(&phase_timer, opt.duration, 0);
		break;
	case 2: /* measured: stop talking, let in-flight messages land */
		phase = 3;
		t_end = now;
		sample_take(now, 1);
		servers_measure(PROC_END);
		ev_timer_set(&phase_timer, 0.01, 0);
		t_ready = now;
		break;
	case 3: { /* draining: wait for every ACK */
		unsigned i, waiting = 0;

		if (restart.pid > 0) {
			/* A restart still going: let it finish (within --grace),
			 * and the bots come back after it. */
			if (now - t_ready > opt.grace)
				restart_kill();
			ev_timer_set(&phase_timer, 0.01, 0);
			break;
		}
		for (i = 0; i < opt.bots; i++)
			waiting += bot_up(&bots[i]) && bots[i].pend_len > 0;
		if (opt.restart_every > 0)
			waiting += bots_returning();
		if (waiting == 0 || now - t_ready > opt.grace) {
			barrier();
			t_ready = now;
		}
		ev_timer_set(&phase_timer, 0.01, 0);
		break;
	}
	case 4: /* barrier: every bot's PONG means its queue is flushed */
		if (opt.nservers > 1)
			barrier_cross();
		if ((barrier_left == 0 && (opt.nservers == 1 || dm_due() == 0)) ||
		    now - t_ready > opt.grace) {
			phase = 5;
			ev_break(l, EVBREAK_ALL);
			return;
		}
		ev_timer_set(&phase_timer, 0.01, 0);
		break;
	default:
		return;
	}
	ev_timer_start(loop, &phase_timer);
}

/*
 * swarm.h: b's barrier is back.  With one server that says b has all it
 * will get.  With several it says so only of b's own server's queue: a
 * room message acknowledged on another node may still be on its way
 * through the cluster, so b is done once it has also seen the last
 * acknowledged number of each of its rooms (barrier_cross()).
 */
void
swarm_barrier_done(struct bot *b)
{
	if (phase != 4 || barrier_left == 0 || b->barrier_wait)
		return;
	if (opt.nservers > 1 && !swarm_caught_up(b)) {
		b->barrier_wait = 1;
		return;
	}
	barrier_left--;
}

/* Several servers: the bots whose barrier came back before they caught
 * up, done once they have (or are gone: nothing more will come). */
static void
barrier_cross(void)
{
	unsigned i;

	for (i = 0; i < opt.bots && barrier_left > 0; i++) {
		struct bot *b = &bots[i];

		if (b->barrier_wait && (!bot_up(b) || swarm_caught_up(b))) {
			b->barrier_wait = 0;
			barrier_left--;
		}
	}
}

/* Several servers: direct messages acknowledged by the sender's node to
 * a bot still there under the same nick but not yet delivered by the
 * recipient's node.  (With one server the barrier covers them.) */
static unsigned
dm_due(void)
{
	size_t i;
	unsigned n = 0;

	for (i = 0; i < dm_cap; i++) {
		const struct dm_ent *e = &dms[i];

		if (e->key && e->acked && bots[e->to].gen == e->to_gen && bot_up(&bots[e->to]))
			n++;
	}
	return n;
}

/* swarm.h: whether b has seen the last acknowledged message of its rooms. */
int
swarm_caught_up(const struct bot *b)
{
	unsigned k;

	for (k = 0; k < b->nmembers; k++) {
		const struct member *m = &b->members[k];

		if (m->joined && m->epoch == room_epoch[m->room] && m->st.next &&
		    m->st.next <= room_last[m->room])
			return 0;
	}
	return 1;
}

static void
barrier(void)
{
	unsigned i;

	phase = 4;
	barrier_left = 0;
	for (i = 0; i < opt.bots; i++) {
		struct bot *b = &bots[i];

		b->barrier_wait = 0;

		if (!bot_up(b) || b->state < BOT_JOINING)
			continue;
		if (b->tp) {
			barrier_left += (unsigned)b->tp->barrier(b->tx);
		} else {
			SEND(b, 16, wire_enc_ping(&w_, WIRE_PING, barrier_token));
			barrier_left++;
		}
	}
}

static void
sigint_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	fprintf(stderr, "\nchatd-swarm: interrupted\n");
	interrupted = 1;
	if (phase == 2) {
		/* Report the part of the window that was measured. */
		t_end = ev_now(loop);
		sample_take(t_end, 1);
	}
	phase = 5;
	ev_break(l, EVBREAK_ALL);
}

/* ---- reporting ---- */

static void
report_progress(void)
{
	fprintf(stderr, "\r%-8s conns %u/%u  sent/s %llu  recv/s %llu  p99 %.2f ms  errors %llu   ",
	        phase == 0   ? "setup"
	        : phase == 1 ? "warmup"
	        : phase == 2 ? "measure"
	                     : "drain",
	        ready, opt.bots, (unsigned long long)st.sec_sent, (unsigned long long)st.sec_recv,
	        latency_quantile(&st.lat_sec, 0.99) / 1e6,
	        (unsigned long long)st.errors + (unsigned long long)st.conn_errors);
}

static uint64_t
tail_loss(void)
{
	uint64_t lost = 0;
	unsigned i, k;

	/* Messages at the end of a room that a member never saw: the gap
	 * check only notices a missing message when a later one arrives. */
	for (i = 0; i < opt.bots; i++) {
		struct bot *b = &bots[i];

		if (!bot_up(b) || b->state < BOT_JOINING)
			continue;
		for (k = 0; k < b->nmembers; k++) {
			struct member *m = &b->members[k];

			if (m->joined && m->epoch == room_epoch[m->room] && m->st.next &&
			    m->st.next <= room_last[m->room])
				lost += room_last[m->room] + 1 - m->st.next;
		}
	}
	return lost;
}

static void
dm_final(void)
{
	size_t i;

	for (i = 0; i < dm_cap; i++) {
		struct dm_ent *e = &dms[i];

		if (!e->key)
			continue;
		if (e->acked && bots[e->to].gen == e->to_gen && bot_up(&bots[e->to]))
			st.dm_lost++;
		else if (e->acked)
			st.dm_accounted++;
	}
}

/* The run's figures, computed once for the text, JSON and HTML reports. */
struct summary {
	double dur;      /* measured seconds */
	double pub, del; /* publishes and deliveries a second in the window */
	double cpu;      /* server CPU seconds in the window (--server-pid), all of them */
	long rss[3];     /* and their RSS in KiB, added up: before, after setup, at end */
	double lat[5];   /* p50, p90, p99, p99.9 and max, in ms */
	uint64_t tail;   /* messages at the end of a room that a member never saw */
	uint64_t lost, dup;
	uint64_t reordered;               /* on a connection, or along a room's numbers */
	unsigned back;                    /* bots ready at the end (--restart-every) */
	unsigned nfails;                  /* may exceed SWARM_MAX_FAILS */
	char fails[SWARM_MAX_FAILS][128]; /* why it failed, one FAILED line each */
	char hints[SWARM_ERR_KINDS][320]; /* per error kind; empty: no hint */
};

/* A server limit that an ERROR can name, and what the swarm can change so
 * as not to meet it (the server's side is always: raise the option). */
struct limit_hint {
	const char *option; /* the server option, as the ERROR text names it */
	uint16_t code;      /* the error a refusal by it carries */
	uint8_t zero_off;   /* 0 turns the limit off */
	const char *swarm;  /* the swarm's way round it; NULL: hint_per_ip() */
};

static const struct limit_hint limit_hints[] = {
        {"max-conns-per-ip", WIRE_E_SERVER_FULL, 1, NULL},
        {"max-conns", WIRE_E_SERVER_FULL, 1, "run fewer --bots"},
        {"max-rooms", WIRE_E_TOO_MANY_ROOMS, 1, "lower --rooms-per-bot or --sender-rooms"},
        {"max-members", WIRE_E_ROOM_FULL, 1, "raise --rooms, so that fewer bots share a room"},
        {"max-rooms-total", WIRE_E_ROOM_LIMIT, 1, "lower --rooms"},
        {"max-text", WIRE_E_TEXT_TOO_LONG, 0, "lower --payload"},
        {"max-frame", WIRE_E_FRAME_TOO_LARGE, 0, "lower --payload"},
        {"handshake-timeout", WIRE_E_HANDSHAKE_TIMEOUT, 0, "lower --burst"},
};

static void summary_fail(struct summary *s, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Record why the run failed.  Every FAILED line comes from here, and any
 * one of them makes the exit status 1. */
static void
summary_fail(struct summary *s, const char *fmt, ...)
{
	va_list ap;

	if (s->nfails < SWARM_MAX_FAILS) {
		va_start(ap, fmt);
		vsnprintf(s->fails[s->nfails], sizeof(s->fails[0]), fmt, ap);
		va_end(ap);
	}
	s->nfails++;
}

/* The protocol's name of an error code (docs/protocol.md, section 7). */
static const char *
err_name(uint16_t code)
{
	static const struct {
		uint16_t code;
		const char *name;
	} names[] = {
	        {WIRE_E_BAD_PREFACE, "BAD_PREFACE"},
	        {WIRE_E_BAD_VERSION, "BAD_VERSION"},
	        {WIRE_E_FRAME_TOO_LARGE, "FRAME_TOO_LARGE"},
	        {WIRE_E_MALFORMED, "MALFORMED"},
	        {WIRE_E_HANDSHAKE_TIMEOUT, "HANDSHAKE_TIMEOUT"},
	        {WIRE_E_SERVER_FULL, "SERVER_FULL"},
	        {WIRE_E_UNKNOWN_TYPE, "UNKNOWN_TYPE"},
	        {WIRE_E_NOT_REGISTERED, "NOT_REGISTERED"},
	        {WIRE_E_ALREADY_REGISTERED, "ALREADY_REGISTERED"},
	        {WIRE_E_NICK_INVALID, "NICK_INVALID"},
	        {WIRE_E_NICK_TAKEN, "NICK_TAKEN"},
	        {WIRE_E_ROOM_INVALID, "ROOM_INVALID"},
	        {WIRE_E_TEXT_INVALID, "TEXT_INVALID"},
	        {WIRE_E_TEXT_TOO_LONG, "TEXT_TOO_LONG"},
	        {WIRE_E_NOT_IN_ROOM, "NOT_IN_ROOM"},
	        {WIRE_E_ALREADY_IN_ROOM, "ALREADY_IN_ROOM"},
	        {WIRE_E_NO_SUCH_ROOM, "NO_SUCH_ROOM"},
	        {WIRE_E_NO_SUCH_USER, "NO_SUCH_USER"},
	        {WIRE_E_TOO_MANY_ROOMS, "TOO_MANY_ROOMS"},
	        {WIRE_E_ROOM_FULL, "ROOM_FULL"},
	        {WIRE_E_ROOM_LIMIT, "ROOM_LIMIT"},
	        {WIRE_E_STORE_UNAVAILABLE, "STORE_UNAVAILABLE"},
	        {WIRE_E_CLUSTER_UNAVAILABLE, "CLUSTER_UNAVAILABLE"},
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			return names[i].name;
	/* An HTTP error that no framed code stands for keeps its status. */
	return code >= 400 && code < 600 ? "HTTP" : "UNKNOWN";
}

/* The server option an ERROR text names in parentheses, as in
 * "... (max-conns-per-ip)", copied into opt; 0 if it names none. */
static int
err_option(const char *text, char *optname, size_t n)
{
	const char *open = strrchr(text, '('), *p;

	if (open == NULL)
		return 0;
	for (p = open + 1; (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'; p++)
		;
	if (*p != ')' || p == open + 1 || (size_t)(p - open - 1) >= n)
		return 0;
	memcpy(optname, open + 1, (size_t)(p - open - 1));
	optname[p - open - 1] = '\0';
	return 1;
}

/* The limit's value in an ERROR text: its first number, 0 if none. */
static unsigned long
err_limit_value(const char *text)
{
	while (*text && (*text < '0' || *text > '9'))
		text++;
	return strtoul(text, NULL, 10);
}

/* The swarm's way round a per-address limit depends on the addresses it
 * can use: on ::1 there is one, on 127.0.0.0/8 as many as it likes.  The
 * limit is each server's: what counts is the most bots one server has. */
static void
hint_per_ip(unsigned long limit, char *buf, size_t n)
{
	unsigned long per = limit ? limit : SWARM_PER_SOURCE, most = 0, need;
	int v6_loop = 0, v6 = 0, all_loop4 = 1;
	unsigned i;

	for (i = 0; i < opt.nservers; i++) {
		const struct server *sv = &opt.servers[i];
		const struct sockaddr_in6 *a6 =
		        (const struct sockaddr_in6 *)(const void *)&sv->addr;

		if (sv->bots > most)
			most = sv->bots;
		if (sv->addr.ss_family == AF_INET6) {
			v6 = 1;
			v6_loop |= IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
		}
		all_loop4 &= server_loopback4(sv);
	}
	need = (most + per - 1) / per;
	if (v6_loop)
		snprintf(buf, n,
		         "or reach it over 127.0.0.1: on ::1 the swarm has one source address, "
		         "so it cannot spread its %lu bots",
		         most);
	else if (v6)
		snprintf(buf, n, "or reach it over IPv4 with --sources (%lu bots at most on each)",
		         per);
	else if (need > SWARM_MAX_SOURCES)
		snprintf(buf, n,
		         "or run several swarms with --id-offset, each with its own --sources "
		         "(%lu addresses are needed, %d at most per swarm)",
		         need, SWARM_MAX_SOURCES);
	else if (all_loop4)
		snprintf(buf, n, "or spread the bots thinner with --sources 127.0.0.1-127.0.0.%lu",
		         need);
	else
		snprintf(buf, n, "or spread the bots over %lu local addresses with --sources",
		         need);
}

/* The hint for an ERROR that a server limit caused, into buf; 0 when it
 * is not such an ERROR. */
static int
err_hint(const struct err_kind *e, char *buf, size_t n)
{
	const struct limit_hint *h = NULL;
	char name[40], swarm[200];
	unsigned long limit = err_limit_value(e->text);
	size_t i;
	int named = err_option(e->text, name, sizeof(name));

	for (i = 0; i < sizeof(limit_hints) / sizeof(limit_hints[0]); i++) {
		if (named ? strcmp(limit_hints[i].option, name) == 0
		          : limit_hints[i].code == e->code) {
			h = &limit_hints[i];
			break;
		}
	}
	if (h == NULL && !named)
		return 0;
	if (h == NULL && strcmp(name, "http-websocket") == 0) {
		/* Not a limit: a switch, off. */
		snprintf(buf, n,
		         "chatd's --http-websocket is no: run it with yes, or run these bots "
		         "over framed or http");
		return 1;
	}
	if (h == NULL) {
		snprintf(buf, n, "chatd's --%s refused these: raise it on the server", name);
		return 1;
	}
	if (h->swarm == NULL)
		hint_per_ip(limit, swarm, sizeof(swarm));
	else
		snprintf(swarm, sizeof(swarm), "or %s", h->swarm);
	if (limit)
		snprintf(buf, n, "chatd's --%s (%lu) refused these: raise it%s, %s", h->option,
		         limit, h->zero_off ? " (0: no limit)" : "", swarm);
	else
		snprintf(buf, n, "chatd's --%s refused these: raise it%s, %s", h->option,
		         h->zero_off ? " (0: no limit)" : "", swarm);
	return 1;
}

/* Order unacknowledged messages by room, sender and payload sequence. */
static int
unacked_cmp(const void *a, const void *b)
{
	const struct unacked *x = a, *y = b;

	if (x->room != y->room)
		return x->room < y->room ? -1 : 1;
	if (x->sender != y->sender)
		return x->sender < y->sender ? -1 : 1;
	return x->pseq < y->pseq ? -1 : x->pseq > y->pseq;
}

/* After a restart run: along each room's numbers, every sender's messages
 * once and in order; and which of the messages whose ACK went with a
 * connection are in their room all the same. */
static void
rooms_final(void)
{
	uint64_t seq, pseq;
	uint32_t sender;
	unsigned r;
	size_t i;

	qsort(unacked, nunacked, sizeof(*unacked), unacked_cmp);
	for (r = 0; r < opt.rooms; r++) {
		st.conflicts += room_seen[r].conflicts;
		if (check_room_verify(&room_seen[r], &st.rooms) < 0)
			die("out of memory");
		for (seq = 1; nunacked && seq <= room_seen[r].top; seq++) {
			struct unacked key, *u;

			if (!check_room_at(&room_seen[r], seq, &sender, &pseq))
				continue;
			key = (struct unacked){r, sender, pseq, 0};
			u = bsearch(&key, unacked, nunacked, sizeof(*unacked), unacked_cmp);
			if (u)
				u->found = 1;
		}
	}
	st.unacked_found = 0;
	for (i = 0; i < nunacked; i++)
		st.unacked_found += unacked[i].found;
}

/* A restart command's failure, in words. */
static void
restart_status_text(char *buf, size_t n)
{
	int w = st.restart_status;

	if (w == -1)
		snprintf(buf, n, "did not finish within --grace");
	else if (WIFEXITED(w))
		snprintf(buf, n, "exit status %d", WEXITSTATUS(w));
	else if (WIFSIGNALED(w))
		snprintf(buf, n, "killed by signal %d", WTERMSIG(w));
	else
		snprintf(buf, n, "wait status %d", w);
}

/* What a restart run must also show: restarts that went well, every bot
 * back, and rooms whose numbers each stood for one message throughout. */
static void
summary_restarts(struct summary *s)
{
	char why[64];

	if (st.restarts == 0)
		summary_fail(s, "no restart in the measured window (--restart-every %g)",
		             opt.restart_every);
	if (st.restart_failed) {
		restart_status_text(why, sizeof(why));
		summary_fail(s, "%llu of %llu restart commands failed (the last: %s)",
		             (unsigned long long)st.restart_failed, (unsigned long long)st.restarts,
		             why);
	}
	if (s->back < ready_at_start) {
		const struct bot *b = bots;

		while (b < bots + opt.bots - 1 && b->state == BOT_READY)
			b++;
		summary_fail(s,
		             "%u of %u bots were not back after the last restart (b%u: state %u, "
		             "%s, %u tries)",
		             ready_at_start - s->back, ready_at_start, b->id + opt.id_offset,
		             b->state, ev_is_active(&b->timer) ? "timer on" : "timer off",
		             b->tries);
	}
	if (st.conflicts) {
		const struct conflict *x = &st.first_conflict;

		summary_fail(s,
		             "%llu sequence numbers stood for two different messages (first: r%u "
		             "%llu, b%u's %llu then b%u's %llu)",
		             (unsigned long long)st.conflicts, x->room, (unsigned long long)x->seq,
		             x->sender[0], (unsigned long long)x->pseq[0], x->sender[1],
		             (unsigned long long)x->pseq[1]);
	}
	if (st.rooms_restarted)
		summary_fail(s, "%llu rejoins were told their room started over (EPOCH_CHANGED)",
		             (unsigned long long)st.rooms_restarted);
}

/* Gather the figures, and the reasons for failure, once. */
static void
summary_compute(struct summary *s)
{
	unsigned i, senders = opt.senders < opt.bots ? opt.senders : opt.bots;

	memset(s, 0, sizeof(*s));
	s->dur = t_end > t_start ? t_end - t_start : 0;
	s->pub = s->dur > 0 ? (double)st.acked_window / s->dur : 0;
	s->del = s->dur > 0 ? (double)st.delivered_window / s->dur : 0;
	for (i = 0; i < opt.nservers; i++) {
		const struct server *sv = &opt.servers[i];

		if (sv->pid <= 0)
			continue;
		s->cpu += sv->cpu1 - sv->cpu0;
		s->rss[0] += sv->rss_before;
		s->rss[1] += sv->rss_setup;
		s->rss[2] += sv->rss_end;
	}
	s->lat[0] = (double)latency_quantile(&st.lat, 0.5) / 1e6;
	s->lat[1] = (double)latency_quantile(&st.lat, 0.9) / 1e6;
	s->lat[2] = (double)latency_quantile(&st.lat, 0.99) / 1e6;
	s->lat[3] = (double)latency_quantile(&st.lat, 0.999) / 1e6;
	s->lat[4] = (double)latency_quantile(&st.lat, 1) / 1e6;
	s->tail = tail_loss();
	for (i = 0; i < opt.bots; i++)
		st.unacked_end += bot_up(&bots[i]) ? bots[i].pend_len : 0;
	dm_final();
	if (room_seen)
		rooms_final();
	s->back = ready;
	s->lost = st.chk.lost + s->tail + st.dm_lost + st.unacked_end;
	s->dup = st.chk.dup + st.dm_dup + st.rooms.dup;
	s->reordered = st.chk.reordered + st.rooms.reordered;
	for (i = 0; i < st.nerrk; i++)
		if (!err_hint(&st.errk[i], s->hints[i], sizeof(s->hints[i])))
			s->hints[i][0] = '\0';

	if (interrupted)
		summary_fail(s, "interrupted before the end of the run");
	if (ready_at_start < opt.bots)
		summary_fail(s, "only %u of %u bots became ready", ready_at_start, opt.bots);
	if (s->lost)
		summary_fail(s, "%llu messages lost", (unsigned long long)s->lost);
	if (s->dup)
		summary_fail(s, "%llu messages duplicated", (unsigned long long)s->dup);
	if (s->reordered)
		summary_fail(s, "%llu messages reordered", (unsigned long long)s->reordered);
	if (opt.restart_every > 0)
		summary_restarts(s);
	if (st.misrouted)
		summary_fail(s, "%llu messages misrouted", (unsigned long long)st.misrouted);
	if (st.bad_payload)
		summary_fail(s, "%llu malformed frames or payloads",
		             (unsigned long long)st.bad_payload);
	if (st.err_unexpected)
		summary_fail(s, "%llu ERROR frames refused the swarm's requests",
		             (unsigned long long)st.err_unexpected);
	/* Restarts take their time out of the window: no rate to meet then. */
	if (!opt.idle && opt.rate > 0 && s->dur > 0 && s->pub < 0.9 * opt.rate * senders &&
	    opt.restart_every == 0 && opt.nallowed == 0)
		summary_fail(s, "sent %.0f/s, below 90%% of the target rate", s->pub);
	if (!opt.idle && opt.rate == 0 && senders > 0 && s->dur > 0 && st.acked_window == 0)
		summary_fail(s, "no message was acknowledged in the measured window");
}

/* --http-mode's word. */
static const char *
http_mode_name(void)
{
	return opt.http_mode == HTTPBOT_SSE ? "sse" : "poll";
}

/* The transports in use, and what the bots of each did beyond what every
 * bot does: a line each. */
static void
report_transports_text(void)
{
	const struct httpbot_stats *h = httpbot_stats();
	const struct wsconn_stats *w = wsconn_stats();
	const struct wsjbot_stats *j = wsjbot_stats();
	unsigned t, first = 1;

	printf("  transports ");
	for (t = 0; t < TRANSPORT_COUNT; t++) {
		if (ntransport[t] == 0)
			continue;
		printf("%s %s %u", first ? "" : ",", transports[t].name, ntransport[t]);
		if (t == TRANSPORT_HTTP)
			printf(" (%s)", http_mode_name());
		first = 0;
	}
	printf("\n");
	if (ntransport[TRANSPORT_HTTP]) {
		printf("  http        %llu requests, %llu answers, %llu events, %llu polls, stream "
		       "resumes %llu, receive drops %llu by churn and %llu by the server, command "
		       "reconnects %llu, replays skipped %llu, announced dropped %llu, full parses "
		       "%llu\n",
		       (unsigned long long)h->requests, (unsigned long long)h->answers,
		       (unsigned long long)h->events, (unsigned long long)h->polls,
		       (unsigned long long)h->stream_resumes, (unsigned long long)h->receive_drops,
		       (unsigned long long)h->receive_lost, (unsigned long long)h->reconnects,
		       (unsigned long long)h->resume_replays,
		       (unsigned long long)h->overflow_dropped,
		       (unsigned long long)h->fallback_parses);
	}
	if (ntransport[TRANSPORT_WS] || ntransport[TRANSPORT_WS_JSON]) {
		printf("  websocket   %llu handshakes, %llu refused, frames %llu in and %llu out, "
		       "%llu pings, %llu closes; chatd.json %llu messages in, %llu out, full "
		       "parses %llu\n",
		       (unsigned long long)w->handshakes, (unsigned long long)w->refusals,
		       (unsigned long long)w->frames_in, (unsigned long long)w->frames_out,
		       (unsigned long long)w->pings, (unsigned long long)w->closes,
		       (unsigned long long)j->messages, (unsigned long long)j->requests,
		       (unsigned long long)j->fallback_parses);
	}
}

/* What the restarts did, and what the checks made of them. */
static void
report_restarts_text(const struct summary *s)
{
	printf("  restarts    %llu, every %g s (%llu failed, the longest took %.2f s); "
	       "reconnects %llu, bots back %u of %u, gave up %llu\n",
	       (unsigned long long)st.restarts, opt.restart_every,
	       (unsigned long long)st.restart_failed, st.restart_longest,
	       (unsigned long long)st.reconnects, s->back, ready_at_start,
	       (unsigned long long)st.gave_up);
	printf("  unacked     %llu room messages lost their ACK with a connection: %llu are in "
	       "their rooms all the same, %llu not\n",
	       (unsigned long long)st.unacked_rooms, (unsigned long long)st.unacked_found,
	       (unsigned long long)(st.unacked_rooms - st.unacked_found));
	printf("  sequences   conflicts %llu, along the rooms duplicated %llu and reordered "
	       "%llu, rooms started over %llu, history seen again %llu, numbers no bot saw "
	       "%llu\n",
	       (unsigned long long)st.conflicts, (unsigned long long)st.rooms.dup,
	       (unsigned long long)st.rooms.reordered, (unsigned long long)st.rooms_restarted,
	       (unsigned long long)st.chk.again, (unsigned long long)st.rooms.unseen);
}

/* The servers and how many bots each got (and had ready when the
 * warm-up began); with --server-pid for each, its own CPU and RSS. */
static void
report_servers_text(void)
{
	unsigned i;

	printf("  %-12s", opt.nservers > 1 ? "servers" : "server");
	for (i = 0; i < opt.nservers; i++) {
		const struct server *sv = &opt.servers[i];

		printf("%s%s %u bots (%u ready)", i ? ", " : "", sv->text, sv->bots, sv->ready);
		if (opt.npids > 1)
			printf(" cpu %.2f s rss %ld KiB", sv->cpu1 - sv->cpu0, sv->rss_end);
	}
	printf("\n");
}

/* The report on standard output, one line per subject. */
static void
report_text(const struct summary *s)
{
	unsigned i, k;

	if (tty)
		fputc('\n', stderr);
	printf("chatd-swarm: %u bots, %u rooms (%u per bot), %u senders, payload %u bytes, %s\n",
	       opt.bots, opt.rooms, opt.rooms_per_bot, opt.senders, opt.payload,
	       opt.idle       ? "idle"
	       : opt.rate > 0 ? "fixed rate"
	                      : "unlimited");
	report_servers_text();
	if (opt.sources_auto && opt.nsources > 1)
		printf("  sources     %u loopback addresses, %d bots of a server at most on each\n",
		       opt.nsources, SWARM_PER_SOURCE);
	printf("  window      %.2f s measured after %.1f s warm-up\n", s->dur, opt.warmup);
	printf("  bots ready  %u of %u, connection errors %llu\n", ready_at_start, opt.bots,
	       (unsigned long long)st.conn_errors);
	if (ntransport[TRANSPORT_FRAMED] < opt.bots)
		report_transports_text();
	printf("  throughput  %.0f publishes/s, %.0f deliveries/s\n", s->pub, s->del);
	printf("  latency     p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms (%llu "
	       "samples)\n",
	       s->lat[0], s->lat[1], s->lat[2], s->lat[3], s->lat[4],
	       (unsigned long long)st.lat.count);
	printf("  totals      sent %llu, acked %llu, delivered %llu, history %llu\n",
	       (unsigned long long)st.sent, (unsigned long long)st.acked,
	       (unsigned long long)st.delivered, (unsigned long long)st.history);
	printf("  checks      lost %llu (gaps %llu, tail %llu, direct %llu, unacked %llu), "
	       "duplicated %llu, reordered %llu, misrouted %llu, bad payload %llu\n",
	       (unsigned long long)s->lost, (unsigned long long)st.chk.lost,
	       (unsigned long long)s->tail, (unsigned long long)st.dm_lost,
	       (unsigned long long)st.unacked_end, (unsigned long long)s->dup,
	       (unsigned long long)s->reordered, (unsigned long long)st.misrouted,
	       (unsigned long long)st.bad_payload);
	printf("  accounted   missed with the server's word %llu, unacked at our drops %llu, "
	       "direct to dropped bots %llu\n",
	       (unsigned long long)st.chk.missed_announced, (unsigned long long)st.unacked_at_drop,
	       (unsigned long long)st.dm_accounted);
	printf("  churn       parts %llu, resets %llu\n", (unsigned long long)st.churn_part,
	       (unsigned long long)st.churn_drop);
	if (opt.restart_every > 0)
		report_restarts_text(s);
	if (st.unknown_frames)
		printf("  skipped     %llu frames of types this swarm does not know\n",
		       (unsigned long long)st.unknown_frames);
	printf("  drops      ");
	for (i = 1; i < WIRE_R_COUNT; i++)
		printf(" %s %llu%s", wire_reason_name((uint8_t)i), (unsigned long long)st.drops[i],
		       i + 1 < WIRE_R_COUNT ? "," : "\n");
	printf("  errors      %llu ERROR frames%s\n", (unsigned long long)st.errors,
	       st.errors ? ":" : "");
	for (i = 0; i < st.nerrk; i++) {
		const struct err_kind *e = &st.errk[i];

		printf("              %llu x %u %s \"%s\"%s\n", (unsigned long long)e->count,
		       e->code, err_name(e->code), e->text,
		       e->expected ? " (expected with churn)" : "");
	}
	if (st.err_other)
		printf("              %llu more, of other kinds\n",
		       (unsigned long long)st.err_other);
	for (i = 0; i < st.nerrk; i++) {
		/* One hint per distinct advice: several addresses may meet one limit. */
		for (k = 0; k < i && strcmp(s->hints[k], s->hints[i]) != 0; k++)
			;
		if (s->hints[i][0] && k == i)
			printf("  hint        %s\n", s->hints[i]);
	}
	if (opt.npids > 0) {
		printf("  server      %scpu %.2f s in the window (%.0f%% of a core), %.1f ns per "
		       "delivery;"
		       " rss %ld KiB before, %ld after setup, %ld at end",
		       opt.npids > 1 ? "all: " : "", s->cpu, s->dur > 0 ? 100 * s->cpu / s->dur : 0,
		       st.delivered_window ? 1e9 * s->cpu / (double)st.delivered_window : 0,
		       s->rss[0], s->rss[1], s->rss[2]);
		if (opt.bots)
			printf(", %.0f bytes per bot",
			       (double)(s->rss[1] - s->rss[0]) * 1024 / opt.bots);
		printf("\n");
	}
	for (i = 0; i < s->nfails && i < SWARM_MAX_FAILS; i++)
		printf("  FAILED: %s\n", s->fails[i]);
	printf("  result      %s\n", s->nfails ? "FAIL" : "ok");
	fflush(stdout);
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void
json_str(FILE *f, const char *p)
{
	fputc('"', f);
	for (; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* --json's "restart": what the restarts did, what the checks made of
 * them, and each room's acknowledged messages, for a reader to compare
 * with the server's store. */
static void
report_restarts_json(FILE *j, const struct summary *s)
{
	unsigned r;

	fprintf(j,
	        ",\"restart\":{\"every_s\":%g,\"commands\":%llu,\"failed\":%llu,"
	        "\"longest_s\":%.3f,\"reconnects\":%llu,\"gave_up\":%llu,\"bots_back\":%u,"
	        "\"unacked\":%llu,\"unacked_in_room\":%llu,\"unacked_not_in_room\":%llu,"
	        "\"conflicts\":%llu,\"room_duplicated\":%llu,\"room_reordered\":%llu,"
	        "\"rooms_started_over\":%llu,\"history_again\":%llu,\"unseen\":%llu,"
	        "\"rooms\":[",
	        opt.restart_every, (unsigned long long)st.restarts,
	        (unsigned long long)st.restart_failed, st.restart_longest,
	        (unsigned long long)st.reconnects, (unsigned long long)st.gave_up, s->back,
	        (unsigned long long)st.unacked_rooms, (unsigned long long)st.unacked_found,
	        (unsigned long long)(st.unacked_rooms - st.unacked_found),
	        (unsigned long long)st.conflicts, (unsigned long long)st.rooms.dup,
	        (unsigned long long)st.rooms.reordered, (unsigned long long)st.rooms_restarted,
	        (unsigned long long)st.chk.again, (unsigned long long)st.rooms.unseen);
	for (r = 0; r < opt.rooms; r++)
		fprintf(j,
		        "%s{\"room\":\"r%u\",\"epoch\":%llu,\"acked\":%llu,\"last_acked\":%llu,"
		        "\"last_seen\":%llu}",
		        r ? "," : "", r, (unsigned long long)room_epoch[r],
		        (unsigned long long)room_acked[r], (unsigned long long)room_last[r],
		        (unsigned long long)room_seen[r].top);
	fputs("]}", j);
}

/* The --json report: the same figures, with the errors and failures. */
static void
report_json(FILE *j, const struct summary *s)
{
	unsigned i;

	fprintf(j,
	        "{\"bots\":%u,\"rooms\":%u,\"rooms_per_bot\":%u,\"senders\":%u,\"payload\":%u,"
	        "\"rate\":%g,\"window\":%u,\"sources\":%u,\"duration_s\":%.3f,\"ready\":%u,"
	        "\"publishes_per_s\":%.1f,\"deliveries_per_s\":%.1f,"
	        "\"latency_ms\":{\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f,\"p999\":%.4f,"
	        "\"max\":%.4f,\"samples\":%llu},"
	        "\"sent\":%llu,\"acked\":%llu,\"delivered\":%llu,\"history\":%llu,"
	        "\"lost\":%llu,\"duplicated\":%llu,\"reordered\":%llu,\"misrouted\":%llu,"
	        "\"bad_payload\":%llu,\"missed_announced\":%llu,\"unacked_at_drop\":%llu,"
	        "\"connection_errors\":%llu,\"error_frames\":%llu,\"unexpected_errors\":%llu,"
	        "\"unknown_frames\":%llu,\"churn_parts\":%llu,\"churn_resets\":%llu,"
	        "\"drops\":{",
	        opt.bots, opt.rooms, opt.rooms_per_bot, opt.senders, opt.payload, opt.rate,
	        opt.window, opt.nsources, s->dur, ready_at_start, s->pub, s->del, s->lat[0],
	        s->lat[1], s->lat[2], s->lat[3], s->lat[4], (unsigned long long)st.lat.count,
	        (unsigned long long)st.sent, (unsigned long long)st.acked,
	        (unsigned long long)st.delivered, (unsigned long long)st.history,
	        (unsigned long long)s->lost, (unsigned long long)s->dup,
	        (unsigned long long)s->reordered, (unsigned long long)st.misrouted,
	        (unsigned long long)st.bad_payload, (unsigned long long)st.chk.missed_announced,
	        (unsigned long long)st.unacked_at_drop, (unsigned long long)st.conn_errors,
	        (unsigned long long)st.errors, (unsigned long long)st.err_unexpected,
	        (unsigned long long)st.unknown_frames, (unsigned long long)st.churn_part,
	        (unsigned long long)st.churn_drop);
	for (i = 1; i < WIRE_R_COUNT; i++)
		fprintf(j, "\"%s\":%llu%s", wire_reason_name((uint8_t)i),
		        (unsigned long long)st.drops[i], i + 1 < WIRE_R_COUNT ? "," : "}");
	{
		const struct httpbot_stats *h = httpbot_stats();
		const struct wsconn_stats *w = wsconn_stats();
		const struct wsjbot_stats *js = wsjbot_stats();
		unsigned t;

		/* framed and http always (as before ws came), the others when
		 * some bot speaks them. */
		fprintf(j, ",\"transports\":{\"framed\":%u,\"http\":%u",
		        ntransport[TRANSPORT_FRAMED], ntransport[TRANSPORT_HTTP]);
		for (t = 0; t < TRANSPORT_COUNT; t++)
			if (t != TRANSPORT_FRAMED && t != TRANSPORT_HTTP && ntransport[t])
				fprintf(j, ",\"%s\":%u", transports[t].name, ntransport[t]);
		fprintf(j,
		        "},\"http_mode\":\"%s\","
		        "\"http\":{\"requests\":%llu,\"answers\":%llu,\"events\":%llu,"
		        "\"polls\":%llu,\"stream_resumes\":%llu,\"receive_drops\":%llu,"
		        "\"receive_lost\":%llu,\"reconnects\":%llu,\"resume_replays\":%llu,"
		        "\"overflow_dropped\":%llu,\"fallback_parses\":%llu},"
		        "\"websocket\":{\"handshakes\":%llu,\"refusals\":%llu,\"frames_in\":%llu,"
		        "\"frames_out\":%llu,\"pings\":%llu,\"closes\":%llu,"
		        "\"json_messages_in\":%llu,\"json_messages_out\":%llu,"
		        "\"json_fallback_parses\":%llu}",
		        http_mode_name(), (unsigned long long)h->requests,
		        (unsigned long long)h->answers, (unsigned long long)h->events,
		        (unsigned long long)h->polls, (unsigned long long)h->stream_resumes,
		        (unsigned long long)h->receive_drops, (unsigned long long)h->receive_lost,
		        (unsigned long long)h->reconnects, (unsigned long long)h->resume_replays,
		        (unsigned long long)h->overflow_dropped,
		        (unsigned long long)h->fallback_parses, (unsigned long long)w->handshakes,
		        (unsigned long long)w->refusals, (unsigned long long)w->frames_in,
		        (unsigned long long)w->frames_out, (unsigned long long)w->pings,
		        (unsigned long long)w->closes, (unsigned long long)js->messages,
		        (unsigned long long)js->requests, (unsigned long long)js->fallback_parses);
	}
	fprintf(j, ",\"restarts\":%llu,\"reconnects\":%llu,\"unacked\":%llu,\"history_again\":%llu",
	        (unsigned long long)st.restarts, (unsigned long long)st.reconnects,
	        (unsigned long long)st.unacked_rooms, (unsigned long long)st.chk.again);
	if (opt.restart_every > 0)
		report_restarts_json(j, s);
	fputs(",\"errors\":[", j);
	for (i = 0; i < st.nerrk; i++) {
		const struct err_kind *e = &st.errk[i];

		fprintf(j, "%s{\"code\":%u,\"name\":\"%s\",\"text\":", i ? "," : "", e->code,
		        err_name(e->code));
		json_str(j, e->text);
		fprintf(j, ",\"count\":%llu,\"expected\":%s", (unsigned long long)e->count,
		        e->expected ? "true" : "false");
		if (s->hints[i][0]) {
			fputs(",\"hint\":", j);
			json_str(j, s->hints[i]);
		}
		fputc('}', j);
	}
	fputs("],\"failures\":[", j);
	for (i = 0; i < s->nfails && i < SWARM_MAX_FAILS; i++) {
		if (i)
			fputc(',', j);
		json_str(j, s->fails[i]);
	}
	fputc(']', j);
	if (opt.npids > 0)
		fprintf(j,
		        ",\"server\":{\"cpu_s\":%.3f,\"ns_per_delivery\":%.1f,"
		        "\"rss_before_kb\":%ld,\"rss_setup_kb\":%ld,\"rss_end_kb\":%ld}",
		        s->cpu,
		        st.delivered_window ? 1e9 * s->cpu / (double)st.delivered_window : 0,
		        s->rss[0], s->rss[1], s->rss[2]);
	fputs(",\"servers\":[", j);
	for (i = 0; i < opt.nservers; i++) {
		const struct server *sv = &opt.servers[i];

		fprintf(j, "%s{\"server\":", i ? "," : "");
		json_str(j, sv->text);
		fprintf(j, ",\"bots\":%u,\"ready\":%u", sv->bots, sv->ready);
		if (sv->pid > 0)
			fprintf(j,
			        ",\"pid\":%ld,\"cpu_s\":%.3f,\"rss_before_kb\":%ld,"
			        "\"rss_setup_kb\":%ld,\"rss_end_kb\":%ld",
			        sv->pid, sv->cpu1 - sv->cpu0, sv->rss_before, sv->rss_setup,
			        sv->rss_end);
		fputc('}', j);
	}
	fputc(']', j);
	fprintf(j, ",\"result\":\"%s\"}\n", s->nfails ? "fail" : "ok");
}

/* ---- the HTML report ---- */

#define CHART_W 760 /* SVG user units */
#define CHART_H 260
#define CHART_L 64 /* margins: the left one holds the y labels */
#define CHART_R 16
#define CHART_T 28 /* the top one holds the legend */
#define CHART_B 40

/* One line of a chart: a figure taken from each per-second sample. */
struct chart_line {
	const char *key;   /* its data-series name and its colour's CSS class */
	const char *label; /* in the legend */
	double (*value)(const struct sample *);
};

/* Deliveries a second in a sample. */
static double
sample_deliveries(const struct sample *s)
{
	return s->dt > 0 ? (double)s->deliveries / s->dt : 0;
}

/* Acknowledged publishes a second in a sample. */
static double
sample_publishes(const struct sample *s)
{
	return s->dt > 0 ? (double)s->publishes / s->dt : 0;
}

/* A sample's median latency, in ms. */
static double
sample_p50(const struct sample *s)
{
	return (double)s->p50 / 1e6;
}

/* A sample's 99th percentile latency, in ms. */
static double
sample_p99(const struct sample *s)
{
	return (double)s->p99 / 1e6;
}

/* Text into HTML, with the characters that could end it escaped. */
static void
html_text(FILE *f, const char *p)
{
	for (; *p; p++) {
		switch (*p) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*p, f);
		}
	}
}

/* The smallest 1, 2 or 5 times a power of ten at or above v: a round top
 * for an axis. */
static double
nice_ceil(double v)
{
	double p;

	if (!(v > 0) || !isfinite(v))
		return 1;
	p = pow(10, floor(log10(v)));
	if (v <= p)
		return p;
	if (v <= 2 * p)
		return 2 * p;
	if (v <= 5 * p)
		return 5 * p;
	return 10 * p;
}

/* An axis label: short, with k and M for thousands and millions. */
static void
axis_label(double v, char *buf, size_t n)
{
	if (v >= 1e6)
		snprintf(buf, n, "%gM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, n, "%gk", v / 1e3);
	else
		snprintf(buf, n, "%g", v);
}

/* One chart of the per-second samples as inline SVG: a polyline per line,
 * one point per sample at the middle of its second. */
static void
html_chart(FILE *f, const char *id, const char *title, const char *unit,
           const struct chart_line *lines, unsigned nlines)
{
	const double pw = CHART_W - CHART_L - CHART_R, ph = CHART_H - CHART_T - CHART_B;
	double span = st.nsamples ? st.samples[st.nsamples - 1].t : 0, top = 0, step;
	size_t i;
	unsigned k;

	if (span <= 0)
		span = 1;
	for (k = 0; k < nlines; k++)
		for (i = 0; i < st.nsamples; i++)
			if (lines[k].value(&st.samples[i]) > top)
				top = lines[k].value(&st.samples[i]);
	top = nice_ceil(top);
	fprintf(f, "<figure id=\"%s\">\n<figcaption>", id);
	html_text(f, title);
	fprintf(f,
	        "</figcaption>\n<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" "
	        "height=\"%d\" role=\"img\" aria-label=\"",
	        CHART_W, CHART_H, CHART_W, CHART_H);
	html_text(f, title);
	fputs("\">\n", f);
	for (k = 0; k <= 4; k++) {
		double y = CHART_T + ph - ph * k / 4;
		char label[32];

		axis_label(top * k / 4, label, sizeof(label));
		fprintf(f,
		        "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
		        "<text class=\"y\" x=\"%d\" y=\"%.1f\">%s</text>\n",
		        CHART_L, y, CHART_L + pw, y, CHART_L - 6, y + 4, label);
	}
	step = nice_ceil(span / 10);
	if (step < 1)
		step = 1;
	for (k = 0; k * step <= span + 1e-9; k++)
		fprintf(f, "<text class=\"x\" x=\"%.1f\" y=\"%d\">%g</text>\n",
		        CHART_L + pw * k * step / span, CHART_H - CHART_B + 16, k * step);
	fprintf(f,
	        "<text class=\"unit\" x=\"%d\" y=\"%d\">%s</text>"
	        "<text class=\"unit\" x=\"%.1f\" y=\"%d\">seconds into the measured "
	        "window</text>\n",
	        4, 14, unit, CHART_L + pw / 2, CHART_H - 6);
	for (k = 0; k < nlines; k++) {
		fprintf(f, "<polyline class=\"line %s\" data-series=\"%s\" points=\"", lines[k].key,
		        lines[k].key);
		for (i = 0; i < st.nsamples; i++) {
			const struct sample *sm = &st.samples[i];
			double v = lines[k].value(sm);

			fprintf(f, "%s%.1f,%.1f", i ? " " : "",
			        CHART_L + pw * (sm->t - sm->dt / 2) / span,
			        CHART_T + ph - ph * v / top);
		}
		fprintf(f,
		        "\"/>\n<rect class=\"swatch %s\" x=\"%.1f\" y=\"8\" width=\"12\" "
		        "height=\"12\"/><text x=\"%.1f\" y=\"18\">",
		        lines[k].key, CHART_W - CHART_R - 120.0 * (nlines - k),
		        CHART_W - CHART_R - 120.0 * (nlines - k) + 16);
		html_text(f, lines[k].label);
		fputs("</text>\n", f);
	}
	fputs("</svg>\n</figure>\n", f);
}

static void html_row(FILE *f, const char *key, const char *label, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* A row of a figures table, keyed (data-key) like the JSON report, so that
 * a reader or a test can match the two. */
static void
html_row(FILE *f, const char *key, const char *label, const char *fmt, ...)
{
	char v[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	fprintf(f, "<tr data-key=\"%s\"><th>", key);
	html_text(f, label);
	fprintf(f, "</th><td class=\"n\">%s</td></tr>\n", v);
}

/* The servers and their bots: a row each. */
static void
html_servers(FILE *f)
{
	unsigned i;

	fputs("<table id=\"servers\">\n<tr><th>server</th><th>bots</th><th>ready</th></tr>\n", f);
	for (i = 0; i < opt.nservers; i++) {
		const struct server *sv = &opt.servers[i];

		fputs("<tr data-server=\"", f);
		html_text(f, sv->text);
		fputs("\"><td>", f);
		html_text(f, sv->text);
		fprintf(f, "</td><td class=\"n\">%u</td><td class=\"n\">%u</td></tr>\n", sv->bots,
		        sv->ready);
	}
	fputs("</table>\n", f);
}

/* --report: one self-contained page (inline CSS and SVG, no scripts, no
 * links out) with the charts over time, the totals and the checks. */
static void
report_html(FILE *f, const struct summary *s)
{
	static const struct chart_line rate_lines[] = {
	        {"deliveries", "deliveries/s", sample_deliveries},
	        {"publishes", "publishes/s", sample_publishes},
	};
	static const struct chart_line lat_lines[] = {
	        {"p50", "p50", sample_p50},
	        {"p99", "p99", sample_p99},
	};
	unsigned i;
	size_t k;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n", f);
	fprintf(f, "<title>chatd-swarm: %u bots against ", opt.bots);
	html_text(f, opt.servers[0].text);
	if (opt.nservers > 1)
		fprintf(f, " and %u more", opt.nservers - 1);
	fputs("</title>\n<style>\n"
	      "body{font:14px/1.4 sans-serif;margin:2em auto;max-width:52em;color:#222}\n"
	      "table{border-collapse:collapse;margin:.5em 0 1.5em}\n"
	      "th,td{padding:.15em .8em;border-bottom:1px solid #ddd;text-align:left}\n"
	      "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	      ".ok{color:#1b7a34}.fail{color:#c0261c;font-weight:bold}\n"
	      "figure{margin:1em 0}figcaption{font-weight:bold}\n"
	      "svg.chart{max-width:100%;height:auto;background:#fbfbfb;border:1px solid #ddd}\n"
	      "svg text{font-size:12px;fill:#444}svg text.y{text-anchor:end}\n"
	      "svg text.x{text-anchor:middle}svg .grid{stroke:#e2e2e2}\n"
	      "svg .line{fill:none;stroke-width:2}\n"
	      ".deliveries{stroke:#1f5fbf;fill:#1f5fbf}.publishes{stroke:#8a8a8a;fill:#8a8a8a}\n"
	      ".p50{stroke:#1b7a34;fill:#1b7a34}.p99{stroke:#c0261c;fill:#c0261c}\n"
	      "svg polyline.line{fill:none}\n"
	      "</style>\n</head>\n<body>\n<h1>chatd-swarm report</h1>\n",
	      f);
	fprintf(f, "<p id=\"result\" class=\"%s\">Result: %s</p>\n", s->nfails ? "fail" : "ok",
	        s->nfails ? "FAIL" : "ok");
	if (s->nfails) {
		fputs("<ul id=\"failures\">\n", f);
		for (i = 0; i < s->nfails && i < SWARM_MAX_FAILS; i++) {
			fputs("<li class=\"fail\">", f);
			html_text(f, s->fails[i]);
			fputs("</li>\n", f);
		}
		fputs("</ul>\n", f);
	}
	fprintf(f, "<p>%u bots in %u rooms (%u per bot), %u senders, payload %u bytes, %s, ",
	        opt.bots, opt.rooms, opt.rooms_per_bot, opt.senders, opt.payload,
	        opt.idle       ? "idle"
	        : opt.rate > 0 ? "fixed rate"
	                       : "unlimited");
	fputs("against ", f);
	for (i = 0; i < opt.nservers; i++) {
		fputs(i == 0 ? "" : i + 1 < opt.nservers ? ", " : " and ", f);
		html_text(f, opt.servers[i].text);
	}
	fprintf(f, "; %.2f s measured after %.1f s of warm-up.</p>\n", s->dur, opt.warmup);
	html_servers(f);

	fputs("<h2>Over time</h2>\n", f);
	html_chart(f, "chart-throughput", "Throughput, per second of the measured window",
	           "per second", rate_lines, 2);
	html_chart(f, "chart-latency", "Latency, per second of the measured window", "ms",
	           lat_lines, 2);

	fputs("<h2>Totals</h2>\n<table id=\"totals\">\n", f);
	html_row(f, "bots", "bots", "%u", opt.bots);
	html_row(f, "duration_s", "measured window, s", "%.3f", s->dur);
	html_row(f, "publishes_per_s", "publishes/s", "%.1f", s->pub);
	html_row(f, "deliveries_per_s", "deliveries/s", "%.1f", s->del);
	html_row(f, "sent", "sent", "%llu", (unsigned long long)st.sent);
	html_row(f, "acked", "acknowledged", "%llu", (unsigned long long)st.acked);
	html_row(f, "delivered", "delivered live", "%llu", (unsigned long long)st.delivered);
	html_row(f, "history", "delivered as history", "%llu", (unsigned long long)st.history);
	html_row(f, "latency_ms.p50", "latency p50, ms", "%.4f", s->lat[0]);
	html_row(f, "latency_ms.p90", "latency p90, ms", "%.4f", s->lat[1]);
	html_row(f, "latency_ms.p99", "latency p99, ms", "%.4f", s->lat[2]);
	html_row(f, "latency_ms.p999", "latency p99.9, ms", "%.4f", s->lat[3]);
	html_row(f, "latency_ms.max", "latency max, ms", "%.4f", s->lat[4]);
	html_row(f, "latency_ms.samples", "latency samples", "%llu",
	         (unsigned long long)st.lat.count);
	fputs("</table>\n<h2>Checks</h2>\n<table id=\"checks\">\n", f);
	html_row(f, "ready", "bots ready", "%u", ready_at_start);
	html_row(f, "lost", "lost", "%llu", (unsigned long long)s->lost);
	html_row(f, "duplicated", "duplicated", "%llu", (unsigned long long)s->dup);
	html_row(f, "reordered", "reordered", "%llu", (unsigned long long)s->reordered);
	html_row(f, "misrouted", "misrouted", "%llu", (unsigned long long)st.misrouted);
	html_row(f, "bad_payload", "bad payload", "%llu", (unsigned long long)st.bad_payload);
	html_row(f, "connection_errors", "connection errors", "%llu",
	         (unsigned long long)st.conn_errors);
	html_row(f, "error_frames", "ERROR frames", "%llu", (unsigned long long)st.errors);
	html_row(f, "unexpected_errors", "of them refusing the swarm's requests", "%llu",
	         (unsigned long long)st.err_unexpected);
	fputs("</table>\n<h2>Errors</h2>\n", f);
	if (st.nerrk == 0) {
		fputs("<p id=\"errors\">The server sent no ERROR frame.</p>\n", f);
	} else {
		fputs("<table id=\"errors\">\n<tr><th>count</th><th>code</th><th>name</th>"
		      "<th>text</th><th>hint</th></tr>\n",
		      f);
		for (i = 0; i < st.nerrk; i++) {
			const struct err_kind *e = &st.errk[i];

			fprintf(f,
			        "<tr data-code=\"%u\"><td "
			        "class=\"n\">%llu</td><td>%u</td><td>%s</td>"
			        "<td>",
			        e->code, (unsigned long long)e->count, e->code, err_name(e->code));
			html_text(f, e->text);
			fputs("</td><td>", f);
			html_text(f, s->hints[i][0] ? s->hints[i]
			             : e->expected  ? "expected with churn"
			                            : "");
			fputs("</td></tr>\n", f);
		}
		fputs("</table>\n", f);
	}
	fputs("<h2>Per second</h2>\n<details>\n<summary>Every second of the measured "
	      "window</summary>\n<table id=\"seconds\">\n<tr><th>end, s</th><th>deliveries/s"
	      "</th><th>publishes/s</th><th>p50, ms</th><th>p99, ms</th><th>max, ms</th></tr>\n",
	      f);
	for (k = 0; k < st.nsamples; k++) {
		const struct sample *sm = &st.samples[k];

		fprintf(f,
		        "<tr><td class=\"n\">%.2f</td><td class=\"n\">%.0f</td><td class=\"n\">%.0f"
		        "</td><td class=\"n\">%.3f</td><td class=\"n\">%.3f</td><td class=\"n\">"
		        "%.3f</td></tr>\n",
		        sm->t, sample_deliveries(sm), sample_publishes(sm), sample_p50(sm),
		        sample_p99(sm), (double)sm->max / 1e6);
	}
	fputs("</table>\n</details>\n</body>\n</html>\n", f);
}

/* Close an output file, saying so if any of it failed to be written. */
static int
report_close(FILE *f, const char *path)
{
	int bad = ferror(f);

	if (fclose(f) != 0 || bad) {
		fprintf(stderr, "chatd-swarm: %s: could not be written\n", path);
		return -1;
	}
	return 0;
}

/* Every report of the run; 1 when it failed, for the exit status. */
static int
report(void)
{
	static struct summary s;

	summary_compute(&s);
	if (opt.ledger_f) {
		if (report_close(opt.ledger_f, opt.ledger) < 0)
			summary_fail(&s, "the ledger %s could not be written", opt.ledger);
		opt.ledger_f = NULL;
	}
	if (opt.json_f) {
		report_json(opt.json_f, &s);
		if (report_close(opt.json_f, opt.json) < 0)
			summary_fail(&s, "the JSON report %s could not be written", opt.json);
		opt.json_f = NULL;
	}
	if (opt.report_f) {
		report_html(opt.report_f, &s);
		if (report_close(opt.report_f, opt.report) < 0)
			summary_fail(&s, "the HTML report %s could not be written", opt.report);
		opt.report_f = NULL;
	}
	report_text(&s);
	return s.nfails ? 1 : 0;
}

/* ---- options ---- */

static void
usage(FILE *out)
{
	fprintf(out,
	        "usage: chatd-swarm [options]\n"
	        "\n"
	        "Load a chatd server with bots and check every delivery.\n"
	        "\n"
	        "  --server A[,B,...]     the server, ADDR:PORT (default " SWARM_DEFAULT_SERVER
	        ");\n"
	        "                         a list spreads the bots over its entries in turn by\n"
	        "                         id, each bot keeps its own (cluster nodes)\n"
	        "  --bots N               bots (default 300)\n"
	        "  --rooms N              rooms; bot i joins rooms i*K .. i*K+K-1 mod N (default "
	        "10)\n"
	        "  --rooms-per-bot K      rooms each bot joins (default 1)\n"
	        "  --senders N            bots 0..N-1 talk, the others listen (default: all)\n"
	        "  --sender-rooms K       senders join K rooms each (sender s: rooms s*K ..), and\n"
	        "                         the listeners spread over the rooms without them\n"
	        "  --rate X               messages per second per sender; 0 = as fast as the\n"
	        "                         window allows (default 1)\n"
	        "  --total-rate X         messages per second over all senders (overrides --rate)\n"
	        "  --window W             unlimited mode: messages in flight per sender (default "
	        "64)\n"
	        "  --payload BYTES        message size, at least %d (default 100)\n"
	        "  --direct SHARE         share of messages sent as direct messages, 0..1 (default "
	        "0)\n"
	        "  --churn X              churn events per second: a part and rejoin with cursor,\n"
	        "                         or a reset and reconnect with cursors (default 0)\n"
	        "  --warmup SEC           before measuring (default 1)\n"
	        "  --duration SEC         measured window (default 5)\n"
	        "  --grace SEC            wait for in-flight messages after it (default 5)\n"
	        "  --sources A-B|A,B,...  source addresses, e.g. 127.0.0.1-127.0.0.8 (default,\n"
	        "                         against a 127.x server: 127.0.0.1, .2, ..., %d bots "
	        "each)\n"
	        "  --idle                 connect, join and hold; send nothing\n"
	        "  --json FILE            write the report as JSON too\n"
	        "  --report FILE          and as an HTML page with per-second charts\n"
	        "  --server-pid PID[,...] report the server's CPU per delivery and its RSS: one\n"
	        "                         PID (the first server's), or one per --server entry\n"
	        "  --burst N              connections set up at once (default 256)\n"
	        "  --id-offset N          first bot id (for several swarm processes; default 0)\n"
	        "  --transport T[,T...]   what bots speak: framed, http, ws (framed over a\n"
	        "                         WebSocket) or ws-json (chatd.json); a list spreads the\n"
	        "                         bots over it in turn by id; mixed is framed,http, all\n"
	        "                         is framed,http,ws,ws-json (default framed)\n"
	        "  --sender-transport T   one of them for the senders (bots 0..senders-1),\n"
	        "                         whatever --transport says (default: as --transport)\n"
	        "  --http-mode M          how HTTP bots receive: sse (one event stream) or poll\n"
	        "                         (a long poll per room and one on the mailbox) (default "
	        "sse)\n"
	        "  --restart-every SEC    SEC seconds into the measured window and SEC after each\n"
	        "                         restart, run --restart-cmd; bots reconnect and rejoin\n"
	        "                         with their cursors, and nothing acknowledged may be "
	        "lost\n"
	        "                         (framed and ws bots only)\n"
	        "  --restart-cmd CMD      the restart command, run with /bin/sh -c: it should\n"
	        "                         restart chatd on the same address, and exit 0\n"
	        "  --allow-error CODE     ERROR frames with CODE are part of the run (an outage\n"
	        "                         made on purpose, say 216 CLUSTER_UNAVAILABLE): they\n"
	        "                         fail nothing, and the target rate is not asked for\n"
	        "  --ledger FILE          write every acknowledged room message to FILE, and "
	        "every\n"
	        "                         one whose ACK went with its connection\n"
	        "  --seed N               random seed (default 1)\n"
	        "  --progress / --quiet   force the live progress line on or off (default: on a "
	        "tty)\n"
	        "  -h, --help             this help\n"
	        "\n"
	        "Exit status: 0 ok, 1 a check failed (a message lost, duplicated, reordered or\n"
	        "misrouted, a bot not ready, a request refused, a restart failed) or the run\n"
	        "fell short of its targets, 2 usage error.\n",
	        BOTMSG_MIN, SWARM_PER_SOURCE);
}

/* The server's address: the daemon's own parser, and a port it can be
 * reached on. */
static int
parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	if (addr_parse(s, NULL, ss, len) < 0)
		return -1;
	return ((const struct sockaddr_in *)(const void *)ss)->sin_port != 0 ? 0 : -1;
}

/*
 * --server A[,B...]: each entry ADDR:PORT, "[V6]:PORT" for IPv6 (no
 * entry holds a comma).  One line naming the entry for a bad one, as for
 * every usage error.
 */
static void
parse_servers(const char *s)
{
	const char *p = s, *end;
	unsigned n = 0, total = 1;

	for (end = s; *end; end++)
		total += *end == ',';
	if (total > SWARM_MAX_SERVERS)
		die("--server: %u entries, at most %d", total, SWARM_MAX_SERVERS);
	for (;; p = end + 1) {
		struct server *sv = &opt.servers[n];
		size_t len;

		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		n++;
		if (len == 0 && total == 1)
			die("--server: '' is not ADDR:PORT");
		if (len == 0)
			die("--server: entry %u of %u is empty", n, total);
		if (len >= sizeof(sv->text))
			die("--server: entry %u '%.*s...' is longer than %d bytes", n, 20, p,
			    SWARM_SERVER_TEXT - 1);
		memset(sv, 0, sizeof(*sv));
		memcpy(sv->text, p, len);
		if (parse_addr(sv->text, &sv->addr, &sv->len) < 0) {
			if (total == 1)
				die("--server: '%s' is not ADDR:PORT", sv->text);
			die("--server: entry %u '%s' is not ADDR:PORT", n, sv->text);
		}
		if (end == NULL)
			break;
	}
	opt.nservers = n;
}

static int
parse_sources(const char *s)
{
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", s);
	if (opt.sources == NULL)
		opt.sources = xcalloc(SWARM_MAX_SOURCES, sizeof(*opt.sources));
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		struct in_addr a, z;
		uint32_t i;

		if (dash)
			*dash = '\0';
		if (inet_pton(AF_INET, tok, &a) != 1 ||
		    (dash && inet_pton(AF_INET, dash + 1, &z) != 1))
			return -1;
		if (!dash)
			z = a;
		for (i = ntohl(a.s_addr); i <= ntohl(z.s_addr); i++) {
			if (opt.nsources == SWARM_MAX_SOURCES)
				return -1;
			opt.sources[opt.nsources].sin_family = AF_INET;
			opt.sources[opt.nsources].sin_addr.s_addr = htonl(i);
			opt.nsources++;
		}
	}
	return opt.nsources ? 0 : -1;
}

/* Which entry of --server bot i connects to: the next in turn, by its
 * global id. */
static uint32_t
server_of(unsigned i)
{
	return (opt.id_offset + i) % opt.nservers;
}

/*
 * Against IPv4 loopback servers without --sources, bind their bots to
 * 127.0.0.1, 127.0.0.2, ... SWARM_PER_SOURCE bots of each server on each,
 * so that none of these addresses meets a server's per-address limit.
 * Blocks go by a bot's rank among its server's bots (its global id over
 * the number of servers: the global id itself with one server), so that
 * swarms with different --id-offset use different ones.  With --sources,
 * the IPv4 servers' bots bind them.  The index of a bot's address is
 * source_of().
 */
static void
sources_pick(void)
{
	unsigned first = opt.id_offset / opt.nservers / SWARM_PER_SOURCE, i, any = 0;

	for (i = 0; i < opt.nservers; i++) {
		struct server *sv = &opt.servers[i];

		sv->bind = opt.nsources ? sv->addr.ss_family == AF_INET : server_loopback4(sv);
		any |= sv->bind;
	}
	if (opt.nsources || !any)
		return;
	opt.nsources = (opt.id_offset + opt.bots - 1) / opt.nservers / SWARM_PER_SOURCE - first + 1;
	opt.sources = xcalloc(opt.nsources, sizeof(*opt.sources));
	for (i = 0; i < opt.nsources; i++) {
		uint32_t k = first + i;

		/* 127.0.x.1 to 127.0.x.254: none that ends in 0 or 255. */
		opt.sources[i].sin_family = AF_INET;
		opt.sources[i].sin_addr.s_addr = htonl(127u << 24 | (k / 254) << 8 | (k % 254 + 1));
	}
	opt.sources_auto = 1;
}

/* The index in opt.sources of bot i's source address: its block of its
 * server's bots, or the next address in turn for its server's bots. */
static uint32_t
source_of(unsigned i)
{
	unsigned n = opt.nservers;

	if (opt.nsources == 0)
		return 0;
	if (opt.sources_auto)
		return (opt.id_offset + i) / n / SWARM_PER_SOURCE -
		       opt.id_offset / n / SWARM_PER_SOURCE;
	return i / n % opt.nsources;
}

static double
num(const char *name, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno || !isfinite(v) || v < lo || v > hi)
		die("--%s: '%s' is not a number from %g to %g", name, s, lo, hi);
	return v;
}

/* --server-pid PID[,PID...]: one process, the first server's, or one for
 * each server, in --server's order.  Checked once both are known. */
static void
parse_pids(const char *s)
{
	char buf[SWARM_MAX_SERVERS * 12], *tok, *save = NULL;
	long pid;

	if (strlen(s) >= sizeof(buf))
		die("--server-pid: '%s' is too long", s);
	snprintf(buf, sizeof(buf), "%s", s);
	opt.npids = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		pid = (long)num("server-pid", tok, 1, 1e9);
		if (opt.npids == SWARM_MAX_SERVERS)
			die("--server-pid: more than %d processes", SWARM_MAX_SERVERS);
		opt.servers[opt.npids++].pid = pid;
	}
	if (opt.npids == 0)
		die("--server-pid: '%s' names no process", s);
}

/* One transport's name (--sender-transport, an item of --transport). */
static enum transport
parse_transport(const char *name, const char *s)
{
	unsigned t;

	for (t = 0; t < TRANSPORT_COUNT; t++)
		if (strcmp(s, transports[t].name) == 0)
			return (enum transport)t;
	die("--%s: '%s' is not framed, http, ws or ws-json", name, s);
}

/*
 * --transport: one transport, or a mix the bots spread over in turn by
 * their global id (bot i speaks the (i + id-offset) mod n-th): a list
 * "framed,ws,...", "mixed" for framed,http (what it has always meant), or
 * "all" for framed,http,ws,ws-json.
 */
static void
parse_mix(const char *s)
{
	char buf[128], *tok, *save = NULL;

	if (strcmp(s, "mixed") == 0)
		s = "framed,http";
	else if (strcmp(s, "all") == 0)
		s = "framed,http,ws,ws-json";
	if (strlen(s) >= sizeof(buf))
		die("--transport: '%s' is too long", s);
	snprintf(buf, sizeof(buf), "%s", s);
	opt.nmix = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (opt.nmix == SWARM_MIX_MAX)
			die("--transport: more than %d transports", SWARM_MIX_MAX);
		opt.mix[opt.nmix++] = parse_transport("transport", tok);
	}
	if (opt.nmix == 0)
		die("--transport: '%s' names no transport", s);
}

/* What bot i speaks: the senders' transport for a sender, if one was
 * given, else --transport's, in turn by the bot's global id. */
static enum transport
transport_of(unsigned i)
{
	if (i < opt.senders && opt.sender_transport >= 0)
		return (enum transport)opt.sender_transport;
	return opt.mix[(i + opt.id_offset) % opt.nmix];
}

/* --restart-every and --restart-cmd go together, and only bots that
 * reconnect with their cursors can follow a restart: framed ones, over
 * TCP or a WebSocket.  (An HTTP bot's session, and a chatd.json bot's
 * resume, are not built to outlive the server.) */
static void
restart_args(void)
{
	unsigned i;

	if (opt.restart_cmd && opt.restart_every == 0)
		die("--restart-cmd needs --restart-every");
	if (opt.restart_every == 0)
		return;
	if (opt.restart_cmd == NULL || opt.restart_cmd[0] == '\0')
		die("--restart-every needs --restart-cmd, the command that restarts chatd");
	if (opt.idle)
		die("--restart-every: an --idle run sends nothing to check across a restart");
	for (i = 0; i < opt.bots && i < opt.nmix + opt.senders; i++) {
		enum transport t = transport_of(i);

		if (transports[t].tp)
			die("--restart-every: %s bots cannot follow a restart; use framed or ws "
			    "(--transport, --sender-transport)",
			    transports[t].name);
	}
}

static void
parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
	        {"server", 1, 0, 's'},       {"bots", 1, 0, 'b'},
	        {"rooms", 1, 0, 'r'},        {"rooms-per-bot", 1, 0, 'k'},
	        {"sender-rooms", 1, 0, 'K'}, {"senders", 1, 0, 'S'},
	        {"rate", 1, 0, 'R'},         {"total-rate", 1, 0, 'T'},
	        {"window", 1, 0, 'w'},       {"payload", 1, 0, 'p'},
	        {"direct", 1, 0, 'd'},       {"churn", 1, 0, 'c'},
	        {"warmup", 1, 0, 'W'},       {"duration", 1, 0, 'D'},
	        {"grace", 1, 0, 'g'},        {"sources", 1, 0, 'o'},
	        {"idle", 0, 0, 'i'},         {"json", 1, 0, 'j'},
	        {"report", 1, 0, 'H'},       {"server-pid", 1, 0, 'P'},
	        {"burst", 1, 0, 'B'},        {"id-offset", 1, 0, 'O'},
	        {"seed", 1, 0, 'e'},         {"progress", 0, 0, 'G'},
	        {"quiet", 0, 0, 'q'},        {"help", 0, 0, 'h'},
	        {"transport", 1, 0, 'x'},    {"sender-transport", 1, 0, 'X'},
	        {"http-mode", 1, 0, 'm'},    {"restart-every", 1, 0, 'y'},
	        {"allow-error", 1, 0, 'A'},  {"restart-cmd", 1, 0, 'Y'},
	        {"ledger", 1, 0, 'L'},       {0, 0, 0, 0},
	};
	const char *servers = NULL, *pids = NULL;
	int c, idx;
	long senders = -1;
	unsigned i;

	opt.bots = 300;
	opt.rooms = 10;
	opt.rooms_per_bot = 1;
	opt.rate = 1;
	opt.window = 64;
	opt.payload = 100;
	opt.warmup = 1;
	opt.duration = 5;
	opt.grace = 5;
	opt.burst = 256;
	opt.seed = 1;
	opt.progress = -1;
	opt.mix[0] = TRANSPORT_FRAMED;
	opt.nmix = 1;
	opt.sender_transport = -1;
	opt.http_mode = HTTPBOT_SSE;
	parse_servers(SWARM_DEFAULT_SERVER);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, &idx)) != -1) {
		switch (c) {
		case 's':
			servers = optarg;
			break;
		case 'b':
			opt.bots = (unsigned)num("bots", optarg, 1, 1000000);
			break;
		case 'r':
			opt.rooms = (unsigned)num("rooms", optarg, 1, 1000000);
			break;
		case 'k':
			opt.rooms_per_bot = (unsigned)num("rooms-per-bot", optarg, 1, 1000);
			break;
		case 'K':
			opt.sender_rooms = (unsigned)num("sender-rooms", optarg, 1, 100000);
			break;
		case 'S':
			senders = (long)num("senders", optarg, 0, 1000000);
			break;
		case 'R':
			opt.rate = num("rate", optarg, 0, 1e7);
			break;
		case 'T':
			opt.total_rate = num("total-rate", optarg, 0, 1e8);
			break;
		case 'w':
			opt.window = (unsigned)num("window", optarg, 1, 1000000);
			break;
		case 'p':
			opt.payload = (unsigned)num("payload", optarg, BOTMSG_MIN, 60000);
			break;
		case 'd':
			opt.direct = num("direct", optarg, 0, 1);
			break;
		case 'c':
			opt.churn = num("churn", optarg, 0, 1e6);
			break;
		case 'W':
			opt.warmup = num("warmup", optarg, 0, 3600);
			break;
		case 'D':
			opt.duration = num("duration", optarg, 0.1, 86400);
			break;
		case 'g':
			opt.grace = num("grace", optarg, 0, 3600);
			break;
		case 'o':
			if (parse_sources(optarg) < 0)
				die("--sources: '%s' is not A.B.C.D[-A.B.C.D][,...]", optarg);
			break;
		case 'i':
			opt.idle = 1;
			break;
		case 'j':
			opt.json = optarg;
			break;
		case 'H':
			opt.report = optarg;
			break;
		case 'P':
			pids = optarg;
			break;
		case 'B':
			opt.burst = (unsigned)num("burst", optarg, 1, 100000);
			break;
		case 'O':
			opt.id_offset = (unsigned)num("id-offset", optarg, 0, 1e9);
			break;
		case 'e':
			opt.seed = (unsigned)num("seed", optarg, 0, 4e9);
			break;
		case 'G':
			opt.progress = 1;
			break;
		case 'q':
			opt.progress = 0;
			break;
		case 'x':
			parse_mix(optarg);
			break;
		case 'X':
			opt.sender_transport = (int)parse_transport("sender-transport", optarg);
			break;
		case 'm':
			if (strcmp(optarg, "sse") == 0)
				opt.http_mode = HTTPBOT_SSE;
			else if (strcmp(optarg, "poll") == 0)
				opt.http_mode = HTTPBOT_POLL;
			else
				die("--http-mode: '%s' is not sse or poll", optarg);
			break;
		case 'y':
			opt.restart_every = num("restart-every", optarg, 0.01, 86400);
			break;
		case 'A':
			if (opt.nallowed == sizeof(opt.allowed) / sizeof(opt.allowed[0]))
				die("--allow-error: at most %zu codes",
				    sizeof(opt.allowed) / sizeof(opt.allowed[0]));
			opt.allowed[opt.nallowed++] =
			        (uint16_t)num("allow-error", optarg, 100, 999);
			break;
		case 'Y':
			opt.restart_cmd = optarg;
			break;
		case 'L':
			opt.ledger = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			die("option '%s' needs a value", argv[optind - 1]);
		default:
			die("unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s'", argv[optind]);
	if (servers)
		parse_servers(servers);
	if (pids) {
		/* After --server, in whichever order they came. */
		parse_pids(pids);
		if (opt.npids > 1 && opt.npids != opt.nservers)
			die("--server-pid: %u processes for %u servers (give one, or one per "
			    "server)",
			    opt.npids, opt.nservers);
	}
	opt.senders = senders < 0 ? opt.bots : (unsigned)senders;
	if (opt.senders > opt.bots)
		opt.senders = opt.bots;
	if (opt.rooms_per_bot > opt.rooms)
		die("--rooms-per-bot %u is more than --rooms %u", opt.rooms_per_bot, opt.rooms);
	if (opt.sender_rooms > opt.rooms)
		die("--sender-rooms %u is more than --rooms %u", opt.sender_rooms, opt.rooms);
	if (opt.total_rate > 0 && opt.senders)
		opt.rate = opt.total_rate / opt.senders;
	if (opt.idle)
		opt.senders = 0;
	for (i = 0; i < opt.npids; i++)
		if (proc_cpu(opt.servers[i].pid) < 0)
			die("--server-pid %ld: no such process", opt.servers[i].pid);
	restart_args();
	sources_pick();
	/* Now rather than after a long run; not inherited by a restart command. */
	if (opt.json && (opt.json_f = fopen(opt.json, "we")) == NULL)
		die("--json %s: %s", opt.json, strerror(errno));
	if (opt.report && (opt.report_f = fopen(opt.report, "we")) == NULL)
		die("--report %s: %s", opt.report, strerror(errno));
	if (opt.ledger && (opt.ledger_f = fopen(opt.ledger, "we")) == NULL)
		die("--ledger %s: %s", opt.ledger, strerror(errno));
}

/* While bots end their sessions: done when all have, or at the
 * deadline. */
static void
end_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	unsigned t, left = 0;

	(void)w;
	(void)revents;
	for (t = 0; t < TRANSPORT_COUNT; t++)
		if (transports[t].tp && transports[t].tp->ending && ntransport[t])
			left += transports[t].tp->ending();
	if (left == 0 || ev_now(l) - t_ready > SWARM_END_TIMEOUT)
		ev_break(l, EVBREAK_ALL);
}

/* End the sessions that outlive their connections (HTTP's; a framed
 * bot's ends with its close): run the loop until they are answered. */
static void
sessions_end(void)
{
	unsigned i, n = 0;

	for (i = 0; i < opt.bots; i++)
		if (bots[i].tp && bots[i].tp->end)
			n += (unsigned)bots[i].tp->end(bots[i].tx);
	if (n == 0)
		return;
	ev_timer_stop(loop, &tick);
	ev_timer_stop(loop, &second);
	ev_timer_stop(loop, &phase_timer);
	ev_timer_init(&phase_timer, end_cb, 0.01, 0.01);
	ev_timer_start(loop, &phase_timer);
	t_ready = ev_now(loop);
	ev_run(loop, 0);
}

int
main(int argc, char **argv)
{
	unsigned i, k, *rooms;
	enum transport t;
	unsigned long long fds = 16;
	struct rlimit rl;
	size_t for_rooms;
	int fail;

	parse_args(argc, argv);
	rng ^= (unsigned long long)opt.seed * 0x9e3779b97f4a7c15ull;
	signal(SIGPIPE, SIG_IGN);
	/* Every bot is a descriptor: take the whole allowance. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	tty = opt.progress < 0 ? isatty(STDERR_FILENO) : opt.progress;
	loop = ev_default_loop(EVBACKEND_EPOLL | EVFLAG_NOENV);
	if (loop == NULL)
		die("cannot create the event loop");
	scratch = xcalloc(1, SWARM_READ_CHUNK);
	httpbot_setup(loop, opt.http_mode, scratch, SWARM_READ_CHUNK);
	wsjbot_setup(loop, scratch, SWARM_READ_CHUNK);
	bots = xcalloc(opt.bots, sizeof(*bots));
	room_members = xcalloc(opt.rooms, sizeof(*room_members));
	room_last = xcalloc(opt.rooms, sizeof(*room_last));
	room_epoch = xcalloc(opt.rooms, sizeof(*room_epoch));
	room_acked = xcalloc(opt.rooms, sizeof(*room_acked));
	if (opt.restart_every > 0) {
		room_seen = xcalloc(opt.rooms, sizeof(*room_seen));
		for (i = 0; i < opt.rooms; i++)
			check_room_init(&room_seen[i]);
	}
	latency_init(&st.lat);
	latency_init(&st.lat_sec);
	for (i = 0; i < opt.bots; i++) {
		struct bot *b = &bots[i];

		b->id = i;
		b->fd = -1;
		b->src = source_of(i);
		b->srv = server_of(i);
		opt.servers[b->srv].bots++;
		/* With --sender-rooms, senders cover the rooms among themselves
		 * and the listeners spread over them on their own, so that each
		 * room has its listeners plus the senders that feed it. */
		if (opt.sender_rooms && i < opt.senders) {
			b->nmembers = opt.sender_rooms;
			for_rooms = (size_t)i * opt.sender_rooms;
		} else {
			b->nmembers = opt.rooms_per_bot;
			for_rooms = (size_t)(opt.sender_rooms ? i - opt.senders : i) *
			            opt.rooms_per_bot;
		}
		b->members = xcalloc(b->nmembers, sizeof(*b->members));
		rooms = xcalloc(b->nmembers, sizeof(*rooms));
		for (k = 0; k < b->nmembers; k++) {
			b->members[k].room = (unsigned)((for_rooms + k) % opt.rooms);
			rooms[k] = b->members[k].room;
			check_init(&b->members[k].st);
		}
		t = transport_of(i);
		ntransport[t]++;
		b->tp = transports[t].tp;
		if (b->tp) {
			b->tx = b->tp->create(b, b->nmembers, rooms);
			fds += b->tp->fds(b->nmembers);
		} else {
			if (transports[t].ws)
				b->ws = wsconn_new(WSCONN_STREAM);
			fds++;
		}
		free(rooms);
		ev_init(&b->timer, bot_timer_cb);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && fds > rl.rlim_cur)
		die("%u bots need %llu descriptors; this process may open %llu (run several "
		    "swarms with --id-offset)",
		    opt.bots, fds, (unsigned long long)rl.rlim_cur);
	servers_measure(PROC_BEFORE);
	ev_prepare_init(&flusher, flush_cb);
	ev_prepare_start(loop, &flusher);
	ev_timer_init(&tick, tick_cb, SWARM_TICK, SWARM_TICK);
	ev_timer_start(loop, &tick);
	ev_timer_init(&second, second_cb, 1, 1);
	ev_timer_start(loop, &second);
	ev_timer_init(&phase_timer, phase_cb, 0, 0);
	ev_timer_start(loop, &phase_timer);
	ev_signal_init(&sigint_w, sigint_cb, SIGINT);
	ev_signal_start(loop, &sigint_w);
	ev_init(&restart.timer, restart_timer_cb);
	ev_child_init(&restart.child, restart_child_cb, 0, 0);
	t_ready = ev_now(loop);
	ev_run(loop, 0);
	if (restart.pid > 0) {
		/* Interrupted while a restart ran: it goes with the swarm. */
		restart_kill();
		(void)waitpid(restart.pid, NULL, 0);
		ev_child_stop(loop, &restart.child);
		restart.pid = 0;
	}
	ev_timer_stop(loop, &restart.timer);

	fail = report();
	sessions_end();
	for (i = 0; i < opt.bots; i++) {
		struct bot *b = &bots[i];

		if (b->fd >= 0)
			close(b->fd);
		for (k = 0; k < b->nmembers; k++)
			free(b->members[k].hist);
		free(b->members);
		if (b->tp)
			b->tp->destroy(b->tx);
		wsconn_free(b->ws);
		free(b->in);
		free(b->out);
		free(b->pend);
	}
	free(bots);
	httpbot_teardown();
	wsjbot_teardown();
	free(room_members);
	free(room_last);
	free(room_epoch);
	free(room_acked);
	for (i = 0; room_seen && i < opt.rooms; i++)
		check_room_free(&room_seen[i]);
	free(room_seen);
	free(unacked);
	free(dms);
	free(scratch);
	free(opt.sources);
	free(st.samples);
	ev_loop_destroy(loop);
	return fail;
}
