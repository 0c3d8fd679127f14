/*
 * Configuration: one table of keys drives everything.  Each key is a
 * command-line option (--key VALUE) and a config-file line (key = value)
 * with the same meaning; the table also gives --help its text and
 * defaults, --print-config its output, and SIGHUP its list of what may
 * change at run time.  The file is read with libinih; the command line
 * overrides it.
 */
#include "util/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/addr.h"
#include "util/log.h"

/* The longest line libinih reads whole (its INI_MAX_LINE, 200, less the
 * NUL); a longer one it would cut in two.  Every string key's longest value
 * leaves room for "key = " so that --print-config is a file that reads
 * back, which is why http-cors-origins stops at 179 characters. */
#define LINE_MAX_CHARS 199

/* K_CHOICE: a string that is one of the words of its arg ("yes|no"). */
/* K_CLUSTER: a repeatable Redis URL, like K_LISTEN. */
/* K_BOOL: an int, yes or no in the file; on the command line --key alone
 * means yes, and --key=no turns off what the file turned on. */
enum key_type { K_LISTEN, K_UINT, K_SECONDS, K_STRING, K_LEVEL, K_CHOICE, K_CLUSTER, K_BOOL };

struct key {
	const char *name;
	int type;
	uint32_t off; /* of the field in struct config */
	double lo;
	double hi;
	const char *arg;  /* the value's name in --help */
	const char *help; /* one line */
	int runtime;      /* 1: SIGHUP may change it; | KEY_UNSET_QUIET (below) */
};

/* In a key's runtime field: printed by --print-config only when set (an
 * empty value would not read back, and says nothing). */
#define KEY_UNSET_QUIET 2

#define F(field) ((uint32_t)offsetof(struct config, field))

static const struct key keys[] = {
        {"listen", K_LISTEN, 0, 0, 0, "ADDR:PORT[/PROTO]",
         "listen here (repeatable); IPv6 as [::1]:7000; PROTO auto, framed, text, http "
         "or irc",
         0},
        {"reuseport", K_BOOL, F(reuseport), 0, 1, "yes|no",
         "set SO_REUSEPORT on the listeners chatd opens, so that several chatd processes "
         "can listen on one address and port and the kernel spreads connections over them",
         0},
        {"server-name", K_STRING, F(server_name), 1, 63, "NAME", "name announced to clients", 1},
        {"history", K_UINT, F(history), 0, CHATD_MAX_HISTORY, "N",
         "messages a room keeps for joiners", 1},
        {"history-bytes", K_UINT, F(history_bytes), 0, 4294967295.0, "BYTES",
         "history of all rooms, renderings included, 0 = no limit; past it lingering rooms "
         "go first, then the oldest messages of the largest rooms",
         1},
        {"room-history-bytes", K_UINT, F(room_history_bytes), 0, 4294967295.0, "BYTES",
         "history of one room, 0 = no limit", 1},
        {"room-linger", K_SECONDS, F(room_linger), 0, 365 * 86400.0, "SEC",
         "how long an empty room keeps its history", 1},
        {"room-linger-solo", K_SECONDS, F(room_linger_solo), 0, 365 * 86400.0, "SEC",
         "the same for a room only one connection ever joined (the shorter of the two "
         "applies)",
         1},
        {"ping-interval", K_SECONDS, F(ping_interval), 0.01, 86400, "SEC",
         "ping a client silent this long", 1},
        {"ping-timeout", K_SECONDS, F(ping_timeout), 0.01, 86400, "SEC",
         "then drop it if still silent after this", 1},
        {"max-queue", K_UINT, F(max_queue), CHATD_MIN_MAX_QUEUE, 1u << 30, "BYTES",
         "unsent output before a client is dropped as a slow consumer", 1},
        {"max-queue-total", K_UINT, F(max_queue_total), 0, 4294967295.0, "BYTES",
         "output memory of all clients, 0 = no limit; past it the largest queues are "
         "dropped as slow consumers",
         1},
        {"max-frame", K_UINT, F(max_frame), 256, CHATD_FRAME_MAX_HARD, "BYTES",
         "largest frame payload a client may send", 1},
        {"max-text", K_UINT, F(max_text), 1, CHATD_TEXT_MAX_HARD, "BYTES", "largest message text",
         1},
        {"max-rooms", K_UINT, F(max_rooms), 0, 65535, "N", "rooms one user may be in, 0 = no limit",
         1},
        {"max-members", K_UINT, F(max_members), 0, 1u << 30, "N",
         "members one room may have, 0 = no limit", 1},
        {"presence-batch", K_UINT, F(presence_batch), 0, 1u << 30, "N",
         "rooms with more members hear of joins, parts and nick changes in one summary a "
         "second, 0 = never",
         1},
        {"max-rooms-total", K_UINT, F(max_rooms_total), 0, 1u << 30, "N",
         "rooms on the server, 0 = no limit; empty rooms are forgotten first", 1},
        {"max-conns", K_UINT, F(max_conns), 0, 1u << 30, "N",
         "connections in all, 0 = as many as the open-files limit allows", 1},
        {"max-conns-per-ip", K_UINT, F(max_conns_per_ip), 0, 1u << 30, "N",
         "connections from one address, 0 = no limit", 1},
        {"handshake-timeout", K_SECONDS, F(handshake_timeout), 0.01, 86400, "SEC",
         "a connection that has not chosen a name by then is closed", 1},
        {"flood-rate", K_UINT, F(flood_rate), 0, 1000000, "N",
         "frames (text: lines) a second per client, PING and PONG included, before "
         "reading it is paused, 0 = off",
         1},
        {"flood-burst", K_UINT, F(flood_burst), 1, 1000000, "N",
         "frames (text: lines) a client may send at once", 1},
        {"detect-window", K_SECONDS, F(detect_window), 0, 60, "SEC",
         "on auto listeners, a client silent this long is greeted as a person", 1},
        {"shutdown-timeout", K_SECONDS, F(shutdown_timeout), 0, 3600, "SEC",
         "time to flush output on shutdown", 1},
        {"http-max-request-line", K_UINT, F(http_max_request_line), 64, 1u << 20, "BYTES",
         "HTTP: longest request line (414 beyond)", 1},
        {"http-max-header-bytes", K_UINT, F(http_max_header_bytes), 256, 1u << 20, "BYTES",
         "HTTP: headers of one request (431 beyond)", 1},
        {"http-max-body", K_UINT, F(http_max_body), 256, 1u << 24, "BYTES",
         "HTTP: body of one request (413 beyond)", 1},
        {"http-max-requests", K_UINT, F(http_max_requests), 0, 1u << 30, "N",
         "HTTP: requests on one connection before it is closed, 0 = no limit", 1},
        {"http-session-timeout", K_SECONDS, F(http_session_timeout), 0.01, 86400, "SEC",
         "HTTP: a session that has not polled, streamed or sent this long is dropped", 1},
        {"http-max-wait", K_SECONDS, F(http_max_wait), 0, 3600, "SEC",
         "HTTP: longest long poll (wait=)", 1},
        {"http-mailbox", K_UINT, F(http_mailbox), 1, 65535, "N",
         "HTTP: direct messages and presence events a session's mailbox keeps", 1},
        {"http-mailbox-bytes", K_UINT, F(http_mailbox_bytes), 1024, 1u << 30, "BYTES",
         "HTTP: bytes of messages a session's mailbox keeps", 1},
        {"http-max-sessions", K_UINT, F(http_max_sessions), 0, 1u << 30, "N",
         "HTTP: sessions in all, 0 = no limit (503 beyond)", 1},
        {"http-max-sessions-per-ip", K_UINT, F(http_max_sessions_per_ip), 0, 1u << 30, "N",
         "HTTP: sessions created from one address, 0 = no limit (429 beyond)", 1},
        {"http-public-read", K_CHOICE, F(http_public_read), 2, 4, "auto|yes|no",
         "HTTP: rooms readable without a session; auto: on loopback listeners", 1},
        {"http-cors-origins", K_STRING, F(http_cors_origins), 0, 179, "ORIGINS",
         "HTTP: origins whose pages may call the API (space or comma separated, * for any)", 1},
        {"http-websocket", K_CHOICE, F(http_websocket), 2, 3, "yes|no",
         "HTTP: whether GET /ws opens WebSockets (no: refused, clients fall back)", 1},
        {"irc-line-max", K_UINT, F(irc_line_max), CHATD_DEFAULT_IRC_LINE_MAX,
         CHATD_IRC_LINE_MAX_HARD, "BYTES",
         "IRC: longest line with its CR LF, tags apart, either way (417 beyond; 005 LINELEN)", 0},
        {"irc-tags-max", K_UINT, F(irc_tags_max), CHATD_IRC_TAGS_MIN, CHATD_IRC_TAGS_MAX_HARD,
         "BYTES", "IRC: longest message tags of a client's line (417 beyond)", 0},
        {"cluster", K_CLUSTER, 0, 0, CHATD_CLUSTER_URL_MAX, "redis://HOST:PORT[/DB]",
         "a Redis shard of the cluster (repeatable; every node lists the same, in one order); "
         "checked at start",
         KEY_UNSET_QUIET},
        {"node-name", K_STRING, F(node_name), 1, CHATD_NODE_NAME_MAX, "NAME",
         "this node's name in the cluster (default: host name and port)", KEY_UNSET_QUIET},
        {"store", K_STRING, F(store), 1, 191, "PATH|auto|none",
         "the history store, a SQLite file created when absent; none: memory only; auto: "
         "chatd.db in the state directory systemd gives (StateDirectory=), else none",
         0},
        {"store-sync", K_CHOICE, F(store_sync), 4, 6, "normal|full",
         "full: fsync each commit of the store, so messages survive a power loss too", 0},
        {"retention-days", K_UINT, F(retention_days), 0, 36500, "DAYS",
         "store: messages older than this are deleted, 0 = no age limit", 1},
        {"retention-messages", K_UINT, F(retention_messages), 0, 1u << 31, "N",
         "store: a room keeps its newest N messages (at least), 0 = no limit", 1},
        {"log-level", K_LEVEL, F(log_level), 0, 0, "LEVEL", "debug, info, notice, warning or error",
         1},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->server_name, sizeof(cfg->server_name), "%s", CHATD_DEFAULT_SERVER_NAME);
	cfg->history = CHATD_DEFAULT_HISTORY;
	cfg->history_bytes = CHATD_DEFAULT_HISTORY_BYTES;
	cfg->room_history_bytes = CHATD_DEFAULT_ROOM_HIST_BYTES;
	cfg->room_linger = CHATD_DEFAULT_ROOM_LINGER;
	cfg->room_linger_solo = CHATD_DEFAULT_ROOM_LINGER_SOLO;
	cfg->ping_interval = CHATD_DEFAULT_PING_INTERVAL;
	cfg->ping_timeout = CHATD_DEFAULT_PING_TIMEOUT;
	cfg->max_queue = CHATD_DEFAULT_MAX_QUEUE;
	cfg->max_queue_total = CHATD_DEFAULT_MAX_QUEUE_TOTAL;
	cfg->max_frame = CHATD_DEFAULT_MAX_FRAME;
	cfg->max_text = CHATD_DEFAULT_MAX_TEXT;
	cfg->max_rooms = CHATD_DEFAULT_MAX_ROOMS;
	cfg->max_members = CHATD_DEFAULT_MAX_MEMBERS;
	cfg->presence_batch = CHATD_DEFAULT_PRESENCE_BATCH;
	cfg->max_rooms_total = CHATD_DEFAULT_MAX_ROOMS_TOTAL;
	cfg->max_conns = CHATD_DEFAULT_MAX_CONNS;
	cfg->max_conns_per_ip = CHATD_DEFAULT_MAX_CONNS_PER_IP;
	cfg->handshake_timeout = CHATD_DEFAULT_HANDSHAKE;
	cfg->flood_rate = CHATD_DEFAULT_FLOOD_RATE;
	cfg->flood_burst = CHATD_DEFAULT_FLOOD_BURST;
	cfg->shutdown_timeout = CHATD_DEFAULT_SHUTDOWN_TIMEOUT;
	cfg->detect_window = CHATD_DEFAULT_DETECT_WINDOW;
	cfg->http_max_request_line = CHATD_DEFAULT_HTTP_REQUEST_LINE;
	cfg->http_max_header_bytes = CHATD_DEFAULT_HTTP_HEADER_BYTES;
	cfg->http_max_body = CHATD_DEFAULT_HTTP_BODY;
	cfg->http_max_requests = CHATD_DEFAULT_HTTP_REQUESTS;
	cfg->http_session_timeout = CHATD_DEFAULT_HTTP_SESSION_IDLE;
	cfg->http_max_wait = CHATD_DEFAULT_HTTP_MAX_WAIT;
	cfg->http_mailbox = CHATD_DEFAULT_HTTP_MAILBOX;
	cfg->http_mailbox_bytes = CHATD_DEFAULT_HTTP_MAILBOX_BYTES;
	cfg->http_max_sessions = CHATD_DEFAULT_HTTP_SESSIONS;
	cfg->http_max_sessions_per_ip = CHATD_DEFAULT_HTTP_SESSIONS_IP;
	cfg->irc_line_max = CHATD_DEFAULT_IRC_LINE_MAX;
	cfg->irc_tags_max = CHATD_DEFAULT_IRC_TAGS_MAX;
	snprintf(cfg->http_public_read, sizeof(cfg->http_public_read), "auto");
	snprintf(cfg->http_websocket, sizeof(cfg->http_websocket), "yes");
	snprintf(cfg->store, sizeof(cfg->store), "auto");
	snprintf(cfg->store_sync, sizeof(cfg->store_sync), "normal");
	cfg->retention_days = CHATD_DEFAULT_RETENTION_DAYS;
	cfg->retention_messages = CHATD_DEFAULT_RETENTION_MESSAGES;
	cfg->log_level = LOG_LEVEL_INFO;
}

static int (*known_protocol)(const char *name);
static int (*cluster_check)(const char *url, char *err, size_t errlen);

void
config_cluster_urls(int (*check)(const char *url, char *err, size_t errlen))
{
	cluster_check = check;
}

void
config_protocols(int (*known)(const char *name))
{
	known_protocol = known;
}

int
config_parse_listen(const char *text, struct listen_spec *spec)
{
	char buf[80], *slash;

	memset(spec, 0, sizeof(*spec));
	if (strlen(text) >= sizeof(spec->text))
		return -1;
	snprintf(spec->text, sizeof(spec->text), "%s", text);
	snprintf(buf, sizeof(buf), "%s", text);
	if ((slash = strrchr(buf, '/')) != NULL) {
		if (strcmp(slash + 1, "auto") != 0) {
			if (known_protocol == NULL || !known_protocol(slash + 1) ||
			    strlen(slash + 1) >= sizeof(spec->proto))
				return -1;
			snprintf(spec->proto, sizeof(spec->proto), "%s", slash + 1);
		}
		*slash = '\0';
	}
	return addr_parse(buf, "127.0.0.1", &spec->addr, &spec->addrlen);
}

static const struct key *
key_find(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Format key k's value in cfg (not listen) into out. */
static void
key_value(const struct key *k, const struct config *cfg, char *out, size_t n)
{
	const char *base = (const char *)cfg + k->off;

	switch (k->type) {
	case K_UINT:
		snprintf(out, n, "%u", *(const unsigned *)(const void *)base);
		break;
	case K_SECONDS:
		snprintf(out, n, "%g", *(const double *)(const void *)base);
		break;
	case K_STRING:
	case K_CHOICE:
		snprintf(out, n, "%s", base);
		break;
	case K_BOOL:
		snprintf(out, n, "%s", *(const int *)(const void *)base ? "yes" : "no");
		break;
	case K_LEVEL:
		snprintf(out, n, "%s",
		         log_level_name((enum log_level) * (const int *)(const void *)base));
		break;
	default:
		snprintf(out, n, "?");
		break;
	}
}

/* How a run of parsing treats --listen: the first one given on the
 * command line replaces the file's listeners instead of adding to them. */
struct parse {
	struct config *cfg;
	int cli_listen_seen;
	int cli_cluster_seen; /* the same for --cluster */
	char err[256];
};

/* A string value must read back the same from a printed config file (no
 * ';', which starts an inline comment, no spaces at the ends, which the
 * parser strips) and be safe in a person's terminal (no controls). */
static int
plain_text(const char *s)
{
	size_t n = strlen(s), i;

	if (n && (s[0] == ' ' || s[n - 1] == ' '))
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == ';')
			return 0;
	return 1;
}

/* Set key k from text; on failure explain it in p->err. */
/* Whether word is one of the '|'-separated words of choices. */
static int
is_choice(const char *choices, const char *word)
{
	size_t n = strlen(word);
	const char *c = choices;

	for (;;) {
		size_t len = strcspn(c, "|");

		if (len == n && strncmp(c, word, n) == 0)
			return 1;
		if (c[len] == '\0')
			return 0;
		c += len + 1;
	}
}

static int
key_set(struct parse *p, const struct key *k, const char *arg, int from_cli)
{
	struct config *cfg = p->cfg;
	char *base = (char *)cfg + k->off, *end;
	unsigned long u;
	double d;
	int level;

	switch (k->type) {
	case K_LISTEN:
		if (from_cli && !p->cli_listen_seen) {
			p->cli_listen_seen = 1;
			cfg->nlisten = 0;
		}
		if (cfg->nlisten == CHATD_MAX_LISTEN) {
			snprintf(p->err, sizeof(p->err), "listen: at most %d listeners",
			         CHATD_MAX_LISTEN);
			return -1;
		}
		if (config_parse_listen(arg, &cfg->listen[cfg->nlisten]) < 0) {
			snprintf(p->err, sizeof(p->err),
			         "listen: '%s' is not ADDR:PORT[/PROTO] with PROTO auto or a "
			         "protocol chatd speaks (IPv6 as [ADDR]:PORT)",
			         arg);
			return -1;
		}
		cfg->nlisten++;
		return 0;
	case K_CLUSTER: {
		char why[200];

		if (from_cli && !p->cli_cluster_seen) {
			p->cli_cluster_seen = 1;
			cfg->ncluster = 0;
		}
		if (cfg->ncluster == CHATD_MAX_CLUSTER) {
			snprintf(p->err, sizeof(p->err), "cluster: at most %d Redis shards",
			         CHATD_MAX_CLUSTER);
			return -1;
		}
		if (strlen(arg) > k->hi || *arg == '\0' || !plain_text(arg)) {
			snprintf(p->err, sizeof(p->err),
			         "cluster: must be 1 to %g printable ASCII characters, without ';' "
			         "or "
			         "spaces at either end",
			         k->hi);
			return -1;
		}
		if (cluster_check && cluster_check(arg, why, sizeof(why)) < 0) {
			/* The reason, never the URL: it may hold a password. */
			snprintf(p->err, sizeof(p->err), "cluster: %s", why);
			return -1;
		}
		snprintf(cfg->cluster[cfg->ncluster++], sizeof(cfg->cluster[0]), "%s", arg);
		return 0;
	}
	case K_UINT:
		errno = 0;
		u = strtoul(arg, &end, 10);
		if (*arg == '\0' || *arg == '-' || *end != '\0' || errno || u < k->lo || u > k->hi)
			break;
		*(unsigned *)(void *)base = (unsigned)u;
		return 0;
	case K_SECONDS:
		errno = 0;
		d = strtod(arg, &end);
		if (*arg == '\0' || *end != '\0' || errno || !isfinite(d) || d < k->lo || d > k->hi)
			break;
		*(double *)(void *)base = d;
		return 0;
	case K_STRING:
		if (strlen(arg) < k->lo || strlen(arg) > k->hi || !plain_text(arg))
			break;
		snprintf(base, (size_t)k->hi + 1, "%s", arg);
		return 0;
	case K_LEVEL:
		if ((level = log_level_parse(arg)) < 0)
			break;
		*(int *)(void *)base = level;
		return 0;
	case K_CHOICE:
		if (!is_choice(k->arg, arg))
			break;
		snprintf(base, (size_t)k->hi + 1, "%s", arg);
		return 0;
	case K_BOOL:
		if (arg == NULL) /* --key without a value */
			arg = "yes";
		if (!is_choice(k->arg, arg))
			break;
		*(int *)(void *)base = strcmp(arg, "yes") == 0;
		return 0;
	default:
		break;
	}
	if (k->type == K_STRING)
		snprintf(p->err, sizeof(p->err),
		         "%s: must be %g to %g printable ASCII characters, without ';' or spaces "
		         "at either end",
		         k->name, k->lo, k->hi);
	else if (k->type == K_LEVEL)
		snprintf(p->err, sizeof(p->err),
		         "%s: '%s' is not debug, info, notice, warning or error", k->name, arg);
	else if (k->type == K_CHOICE || k->type == K_BOOL)
		snprintf(p->err, sizeof(p->err), "%s: '%.64s' is not one of %s", k->name, arg,
		         k->arg);
	else
		snprintf(p->err, sizeof(p->err), "%s: '%s' is not a number from %g to %g", k->name,
		         arg, k->lo, k->hi);
	return -1;
}

/* Settings that only make sense together. */
static int
check(struct parse *p)
{
	struct config *cfg = p->cfg;
	/* A SAY carrying the longest text and room must fit in one frame. */
	unsigned need = CHATD_FRAME_SAY_OVERHEAD + cfg->max_text;

	if (cfg->max_frame < need) {
		snprintf(p->err, sizeof(p->err),
		         "max-frame %u is too small for max-text %u (needs %u)", cfg->max_frame,
		         cfg->max_text, need);
		return -1;
	}
	if (cfg->nlisten == 0) {
		(void)config_parse_listen(CHATD_DEFAULT_LISTEN, &cfg->listen[0]);
		cfg->nlisten = 1;
	}
	return 0;
}

static int
on_file_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	const struct key *k;

	if (p->err[0])
		return 0;
	if (section[0] != '\0' && strcmp(section, "chatd") != 0) {
		snprintf(p->err, sizeof(p->err), "unknown section [%s]", section);
		return 0;
	}
	if ((k = key_find(name)) == NULL) {
		snprintf(p->err, sizeof(p->err), "unknown key '%s'", name);
		return 0;
	}
	return key_set(p, k, value, 0) == 0;
}

/* libinih's reader, fgets() that refuses a value line too long to read whole:
 * it stands a line that is not "key = value" in its place, so that
 * ini_parse_stream() stops there and reports its number. */
struct reader {
	FILE *fp;
	struct parse *p;
};

static char *
read_line(char *str, int num, void *stream)
{
	struct reader *r = stream;
	int ch;

	if (r->p->err[0] || fgets(str, num, r->fp) == NULL)
		return NULL;
	if (strchr(str, '\n') != NULL || (ch = getc(r->fp)) == '\n' || ch == EOF)
		return str;
	while ((ch = getc(r->fp)) != EOF && ch != '\n')
		;
	if (str[strspn(str, " \t")] == '#' || str[strspn(str, " \t")] == ';')
		return str; /* a long comment is still a comment */
	snprintf(r->p->err, sizeof(r->p->err), "line longer than %d characters", LINE_MAX_CHARS);
	snprintf(str, (size_t)num, "-\n");
	return str;
}

/* Read a config file into p->cfg; 0, or -1 with "FILE:LINE: what" in err. */
static int
load_file(struct parse *p, const char *path, char *err, size_t errlen)
{
	struct reader r = {fopen(path, "r"), p};
	int line;

	if (r.fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	line = ini_parse_stream(read_line, &r, on_file_key, p);
	if (ferror(r.fp))
		snprintf(p->err, sizeof(p->err), "cannot read it: %s", strerror(errno));
	(void)fclose(r.fp);
	if (line == 0 && p->err[0] == '\0')
		return 0;
	if (line <= 0)
		snprintf(err, errlen, "%s: %s", path, p->err[0] ? p->err : "cannot read it");
	else
		snprintf(err, errlen, "%s:%d: %s", path, line,
		         p->err[0] ? p->err : "not a key = value line");
	return -1;
}

enum {
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_CONFIG = 'c',
	OPT_CHECK = 1000,
	OPT_PRINT,
	OPT_CHECK_STORE,
	OPT_KEY = 2000, /* + index in keys[] */
};

/* getopt_long's table, built from keys[] once. */
static const struct option *
options(void)
{
	static struct option o[NKEYS + 7];
	size_t i;

	if (o[0].name)
		return o;
	for (i = 0; i < NKEYS; i++)
		o[i] = (struct option){keys[i].name,
		                       keys[i].type == K_BOOL ? optional_argument
		                                              : required_argument,
		                       NULL, OPT_KEY + (int)i};
	o[i++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
	o[i++] = (struct option){"check-config", no_argument, NULL, OPT_CHECK};
	o[i++] = (struct option){"print-config", no_argument, NULL, OPT_PRINT};
	o[i++] = (struct option){"check-store", no_argument, NULL, OPT_CHECK_STORE};
	o[i++] = (struct option){"help", no_argument, NULL, OPT_HELP};
	o[i++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
	return o;
}

/* Print "  LEFT  text..." with text wrapped under itself at 79 columns. */
static void
usage_line(FILE *out, const char *left, const char *text)
{
	const int col = 28, width = 79;
	const char *p = text;
	int first = 1;

	if ((int)strlen(left) + 4 > col) {
		fprintf(out, "  %s\n", left);
		first = 0;
	}
	while (*p) {
		int n = (int)strlen(p);

		if (n > width - col) {
			n = width - col;
			while (n > 0 && p[n] != ' ')
				n--;
			if (n == 0)
				n = width - col;
		}
		fprintf(out, "  %-*s%.*s\n", col - 2, first ? left : "", n, p);
		first = 0;
		p += n;
		while (*p == ' ')
			p++;
	}
}

void
config_usage(FILE *out)
{
	struct config def;
	char val[80], left[64], text[256];
	size_t i;

	config_defaults(&def);
	fprintf(out, "usage: chatd [options]\n"
	             "\n"
	             "A chat server: rooms, history, direct messages; programs speak the framed\n"
	             "protocol and people use telnet or nc on the same port (docs/protocol.md).\n"
	             "Every option is also a config-file key (see chatd.conf(5)).  SEC values\n"
	             "are seconds and may have a fraction (0.5).\n"
	             "\n");
	snprintf(text, sizeof(text), "read this config file (default %s if it exists)",
	         CHATD_DEFAULT_CONFIG);
	usage_line(out, "-c, --config FILE", text);
	for (i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		if (k->type == K_LISTEN)
			snprintf(val, sizeof(val), "%s", CHATD_DEFAULT_LISTEN "/auto");
		else
			key_value(k, &def, val, sizeof(val));
		if (k->type == K_BOOL)
			snprintf(left, sizeof(left), "    --%s[=%s]", k->name, k->arg);
		else
			snprintf(left, sizeof(left), "%s--%s %s",
			         k->type == K_LISTEN ? "-l, " : "    ", k->name, k->arg);
		/* A key with no default (cluster, node-name) says none. */
		if (k->runtime & KEY_UNSET_QUIET)
			snprintf(text, sizeof(text), "%s", k->help);
		else
			snprintf(text, sizeof(text), "%s (default %s)", k->help, val);
		usage_line(out, left, text);
	}
	usage_line(out, "    --check-config", "check the configuration, say it is ok, and exit");
	usage_line(out, "    --print-config", "print the effective configuration and exit");
	usage_line(out, "    --check-store",
	           "check the store named by --store (integrity, consistency) and exit: 0 sound, "
	           "1 damaged, 2 not a chatd store");
	usage_line(out, "-h, --help", "print this help and exit");
	usage_line(out, "-V, --version", "print the version and exit");
}

/*
 * Build a configuration: defaults, then the file (the one named by -c, or
 * the default file if it exists), then the command line.  On error err
 * says what and where.
 */
static enum config_result
build(struct config *cfg, int argc, char **argv, int *check_only, int *print, char *err,
      size_t errlen)
{
	struct parse p;
	const char *path = NULL;
	int opt, idx, check_store = 0;

	config_defaults(cfg);
	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	/* First pass: what to do, and which file. */
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":l:c:hV", options(), &idx)) != -1) {
		switch (opt) {
		case OPT_HELP:
			config_usage(stdout);
			return CONFIG_EXIT;
		case OPT_VERSION:
			printf("chatd %s\n", CHATD_VERSION);
			return CONFIG_EXIT;
		case OPT_CONFIG:
			path = optarg;
			break;
		case OPT_CHECK:
			*check_only = 1;
			break;
		case OPT_PRINT:
			*print = 1;
			break;
		case OPT_CHECK_STORE:
			check_store = 1;
			break;
		case '?':
			if (optopt)
				snprintf(err, errlen, "unknown option '-%c'", optopt);
			else
				snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
			return CONFIG_ERROR;
		case ':':
			snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
			return CONFIG_ERROR;
		default:
			break;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return CONFIG_ERROR;
	}
	if (path == NULL && access(CHATD_DEFAULT_CONFIG, F_OK) == 0)
		path = CHATD_DEFAULT_CONFIG;
	if (path) {
		if (load_file(&p, path, err, errlen) < 0)
			return CONFIG_ERROR;
		snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	}
	/* Second pass: the command line overrides the file. */
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":l:c:hV", options(), &idx)) != -1) {
		const struct key *k;

		if (opt == 'l')
			k = key_find("listen");
		else if (opt >= OPT_KEY && opt < OPT_KEY + (int)NKEYS)
			k = &keys[opt - OPT_KEY];
		else
			continue;
		if (key_set(&p, k, optarg, 1) < 0) {
			snprintf(err, errlen, "--%s", p.err);
			return CONFIG_ERROR;
		}
	}
	if (check(&p) < 0) {
		snprintf(err, errlen, "%s", p.err);
		return CONFIG_ERROR;
	}
	cfg->argc = argc;
	cfg->argv = argv;
	cfg->check_store = check_store;
	return CONFIG_OK;
}

enum config_result
config_parse_args(struct config *cfg, int argc, char **argv)
{
	int check_only = 0, print = 0;
	char err[512];
	enum config_result r = build(cfg, argc, argv, &check_only, &print, err, sizeof(err));

	if (r == CONFIG_ERROR) {
		fprintf(stderr, "chatd: %s (see chatd --help)\n", err);
		return r;
	}
	if (r == CONFIG_EXIT)
		return r;
	if (print) {
		config_print(cfg, stdout);
		return CONFIG_EXIT;
	}
	if (check_only) {
		if (cfg->path[0])
			printf("chatd: configuration ok (%s)\n", cfg->path);
		else
			printf("chatd: configuration ok\n");
		return CONFIG_EXIT;
	}
	return CONFIG_OK;
}

int
config_reload(const struct config *old, struct config *out, char *err, size_t errlen)
{
	int check_only = 0, print = 0;
	enum config_result r;

	r = build(out, old->argc, old->argv, &check_only, &print, err, errlen);
	return r == CONFIG_OK ? 0 : -1;
}

void
config_print(const struct config *cfg, FILE *out)
{
	char val[LINE_MAX_CHARS + 1];
	size_t i;
	unsigned l;

	fprintf(out, "# chatd %s effective configuration%s%s\n", CHATD_VERSION,
	        cfg->path[0] ? " from " : "", cfg->path[0] ? cfg->path : "");
	for (i = 0; i < NKEYS; i++) {
		if (keys[i].type == K_LISTEN) {
			for (l = 0; l < cfg->nlisten; l++)
				fprintf(out, "listen = %s\n", cfg->listen[l].text);
			continue;
		}
		if (keys[i].type == K_CLUSTER) {
			for (l = 0; l < cfg->ncluster; l++)
				fprintf(out, "cluster = %s\n", cfg->cluster[l]);
			continue;
		}
		key_value(&keys[i], cfg, val, sizeof(val));
		if ((keys[i].runtime & KEY_UNSET_QUIET) && val[0] == '\0')
			continue;
		fprintf(out, "%s = %s\n", keys[i].name, val);
	}
}

/* Every cluster URL of cfg, joined with ", ". */
static void
cluster_list(const struct config *cfg, char *out, size_t n)
{
	size_t len = 0;
	unsigned l;

	out[0] = '\0';
	for (l = 0; l < cfg->ncluster && len < n; l++)
		len += (size_t)snprintf(out + len, n - len, "%s%s", l ? ", " : "", cfg->cluster[l]);
}

/* Every listen address of cfg, joined with ", ". */
static void
listen_list(const struct config *cfg, char *out, size_t n)
{
	size_t len = 0;
	unsigned l;

	out[0] = '\0';
	for (l = 0; l < cfg->nlisten && len < n; l++)
		len += (size_t)snprintf(out + len, n - len, "%s%s", l ? ", " : "",
		                        cfg->listen[l].text);
}

int
config_diff(const struct config *old, const struct config *new,
            void (*report)(const char *key, const char *from, const char *to, int runtime))
{
	char a[LINE_MAX_CHARS + 1], b[LINE_MAX_CHARS + 1];
	size_t i;
	int n = 0;

	for (i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		if (k->type == K_LISTEN) {
			char from[CHATD_MAX_LISTEN * 82], to[CHATD_MAX_LISTEN * 82];

			listen_list(old, from, sizeof(from));
			listen_list(new, to, sizeof(to));
			if (strcmp(from, to) != 0) {
				report(k->name, from, to, 0);
				n++;
			}
			continue;
		}
		if (k->type == K_CLUSTER) {
			char from[CHATD_MAX_CLUSTER * (CHATD_CLUSTER_URL_MAX + 2)];
			char to[sizeof(from)];

			cluster_list(old, from, sizeof(from));
			cluster_list(new, to, sizeof(to));
			/* Reported without the URLs, which may hold passwords. */
			if (strcmp(from, to) != 0) {
				report(k->name, "(as before)", "(changed)", 0);
				n++;
			}
			continue;
		}
		key_value(k, old, a, sizeof(a));
		key_value(k, new, b, sizeof(b));
		if (strcmp(a, b) != 0) {
			report(k->name, a, b, k->runtime & 1);
			n++;
		}
	}
	return n;
}
