/*
 * Command-line configuration.  Every option has a default from limits.h,
 * shown by --help; a bad option or value is one line on stderr and exit
 * status 2, as for any Unix tool.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "chatd/wire.h"
#include "log.h"

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->server_name, sizeof(cfg->server_name), "%s", CHATD_DEFAULT_SERVER_NAME);
	cfg->history = CHATD_DEFAULT_HISTORY;
	cfg->room_linger = CHATD_DEFAULT_ROOM_LINGER;
	cfg->ping_interval = CHATD_DEFAULT_PING_INTERVAL;
	cfg->ping_timeout = CHATD_DEFAULT_PING_TIMEOUT;
	cfg->max_queue = CHATD_DEFAULT_MAX_QUEUE;
	cfg->max_frame = CHATD_DEFAULT_MAX_FRAME;
	cfg->max_text = CHATD_DEFAULT_MAX_TEXT;
	cfg->max_rooms = CHATD_DEFAULT_MAX_ROOMS;
	cfg->max_members = CHATD_DEFAULT_MAX_MEMBERS;
	cfg->flood_rate = CHATD_DEFAULT_FLOOD_RATE;
	cfg->flood_burst = CHATD_DEFAULT_FLOOD_BURST;
	cfg->shutdown_timeout = CHATD_DEFAULT_SHUTDOWN_TIMEOUT;
	cfg->detect_window = CHATD_DEFAULT_DETECT_WINDOW;
	cfg->log_level = LOG_LEVEL_INFO;
}

/* The one place the command line reports a mistake. */
static enum config_result
bad(const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "chatd: %s (see chatd --help)\n", line);
	return CONFIG_ERROR;
}

int
config_parse_listen(const char *text, struct listen_spec *spec)
{
	char host[64], buf[80];
	const char *colon, *port;
	char *end, *slash;
	unsigned long p;
	size_t hn;

	memset(spec, 0, sizeof(*spec));
	if (strlen(text) >= sizeof(spec->text))
		return -1;
	snprintf(spec->text, sizeof(spec->text), "%s", text);
	snprintf(buf, sizeof(buf), "%s", text);
	spec->proto = LISTEN_AUTO;
	if ((slash = strrchr(buf, '/')) != NULL) {
		if (strcmp(slash, "/framed") == 0)
			spec->proto = LISTEN_FRAMED;
		else if (strcmp(slash, "/text") == 0)
			spec->proto = LISTEN_TEXT;
		else if (strcmp(slash, "/auto") != 0)
			return -1;
		*slash = '\0';
	}
	text = buf;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		hn = (size_t)(close - text - 1);
		if (hn >= sizeof(host))
			return -1;
		memcpy(host, text + 1, hn);
		host[hn] = '\0';
		port = close + 2;
	} else if ((colon = strrchr(text, ':')) != NULL) {
		hn = (size_t)(colon - text);
		if (hn >= sizeof(host))
			return -1;
		memcpy(host, text, hn);
		host[hn] = '\0';
		port = colon + 1;
	} else {
		snprintf(host, sizeof(host), "127.0.0.1");
		port = text;
	}
	errno = 0;
	p = strtoul(port, &end, 10);
	if (*port == '\0' || *end != '\0' || errno || p > 65535)
		return -1;
	if (host[0] == '\0')
		snprintf(host, sizeof(host), "0.0.0.0");

	struct sockaddr_in *v4 = (struct sockaddr_in *)&spec->addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&spec->addr;

	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		spec->addrlen = sizeof(*v4);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
		spec->addrlen = sizeof(*v6);
	} else {
		return -1;
	}
	return 0;
}

static int
parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
parse_seconds(const char *s, double lo, double hi, double *out)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno || !isfinite(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

enum opt {
	OPT_LISTEN = 'l',
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_HISTORY = 256,
	OPT_ROOM_LINGER,
	OPT_PING_INTERVAL,
	OPT_PING_TIMEOUT,
	OPT_MAX_QUEUE,
	OPT_MAX_FRAME,
	OPT_MAX_TEXT,
	OPT_MAX_ROOMS,
	OPT_MAX_MEMBERS,
	OPT_FLOOD_RATE,
	OPT_FLOOD_BURST,
	OPT_SHUTDOWN_TIMEOUT,
	OPT_SERVER_NAME,
	OPT_DETECT_WINDOW,
	OPT_LOG_LEVEL,
};

static const struct option options[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"history", required_argument, NULL, OPT_HISTORY},
        {"room-linger", required_argument, NULL, OPT_ROOM_LINGER},
        {"ping-interval", required_argument, NULL, OPT_PING_INTERVAL},
        {"ping-timeout", required_argument, NULL, OPT_PING_TIMEOUT},
        {"max-queue", required_argument, NULL, OPT_MAX_QUEUE},
        {"max-frame", required_argument, NULL, OPT_MAX_FRAME},
        {"max-text", required_argument, NULL, OPT_MAX_TEXT},
        {"max-rooms", required_argument, NULL, OPT_MAX_ROOMS},
        {"max-members", required_argument, NULL, OPT_MAX_MEMBERS},
        {"flood-rate", required_argument, NULL, OPT_FLOOD_RATE},
        {"flood-burst", required_argument, NULL, OPT_FLOOD_BURST},
        {"shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT},
        {"server-name", required_argument, NULL, OPT_SERVER_NAME},
        {"detect-window", required_argument, NULL, OPT_DETECT_WINDOW},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
};

void
config_usage(FILE *out)
{
	fprintf(out,
	        "usage: chatd [options]\n"
	        "\n"
	        "A chat server: rooms, history, direct messages; programs speak the framed\n"
	        "protocol and people use telnet or nc on the same port (docs/protocol.md).\n"
	        "\n"
	        "  -l, --listen ADDR:PORT[/PROTO]  listen here; repeatable; IPv6 as [::1]:7000;\n"
	        "                            PROTO is auto (detect), framed or text (default "
	        "%s/auto)\n"
	        "      --detect-window SEC   on auto listeners, a client silent this long is\n"
	        "                            greeted as a person (default %g)\n"
	        "      --history N           messages a room keeps for joiners (default %u)\n"
	        "      --room-linger SEC     how long an empty room keeps its history (default "
	        "%g)\n"
	        "      --ping-interval SEC   ping a client silent this long (default %g)\n"
	        "      --ping-timeout SEC    then drop it if still silent after this (default %g)\n"
	        "      --max-queue BYTES     unsent output before a client is dropped as a slow\n"
	        "                            consumer (default %u)\n"
	        "      --max-frame BYTES     largest frame payload a client may send (default %u)\n"
	        "      --max-text BYTES      largest message text (default %u)\n"
	        "      --max-rooms N         rooms one user may be in, 0 = no limit (default %u)\n"
	        "      --max-members N       members one room may have, 0 = no limit (default %u)\n"
	        "      --flood-rate N        requests per second per client before it is slowed\n"
	        "                            down, 0 = off (default %u)\n"
	        "      --flood-burst N       requests a client may send at once (default %u)\n"
	        "      --shutdown-timeout SEC  time to flush output on shutdown (default %g)\n"
	        "      --server-name NAME    name announced to clients (default %s)\n"
	        "      --log-level LEVEL     debug, info, notice, warning or error (default info)\n"
	        "  -h, --help                print this help and exit\n"
	        "  -V, --version             print the version and exit\n",
	        CHATD_DEFAULT_LISTEN, CHATD_DEFAULT_DETECT_WINDOW, CHATD_DEFAULT_HISTORY,
	        CHATD_DEFAULT_ROOM_LINGER, CHATD_DEFAULT_PING_INTERVAL, CHATD_DEFAULT_PING_TIMEOUT,
	        CHATD_DEFAULT_MAX_QUEUE, CHATD_DEFAULT_MAX_FRAME, CHATD_DEFAULT_MAX_TEXT,
	        CHATD_DEFAULT_MAX_ROOMS, CHATD_DEFAULT_MAX_MEMBERS, CHATD_DEFAULT_FLOOD_RATE,
	        CHATD_DEFAULT_FLOOD_BURST, CHATD_DEFAULT_SHUTDOWN_TIMEOUT,
	        CHATD_DEFAULT_SERVER_NAME);
}

/* Apply one option; returns CONFIG_OK or the printed error. */
static enum config_result
apply(struct config *cfg, int opt, const char *name, const char *arg)
{
	int rc = 0, level;

	switch (opt) {
	case OPT_LISTEN:
		if (cfg->nlisten == CHATD_MAX_LISTEN)
			return bad("--listen: at most %d listeners", CHATD_MAX_LISTEN);
		if (config_parse_listen(arg, &cfg->listen[cfg->nlisten]) < 0)
			return bad("--listen: '%s' is not ADDR:PORT[/auto|/framed|/text] (IPv6 as "
			           "[ADDR]:PORT)",
			           arg);
		cfg->nlisten++;
		return CONFIG_OK;
	case OPT_HISTORY:
		rc = parse_uint(arg, 0, CHATD_MAX_HISTORY, &cfg->history);
		break;
	case OPT_ROOM_LINGER:
		rc = parse_seconds(arg, 0, 365 * 86400.0, &cfg->room_linger);
		break;
	case OPT_PING_INTERVAL:
		rc = parse_seconds(arg, 0.01, 86400, &cfg->ping_interval);
		break;
	case OPT_PING_TIMEOUT:
		rc = parse_seconds(arg, 0.01, 86400, &cfg->ping_timeout);
		break;
	case OPT_MAX_QUEUE:
		rc = parse_uint(arg, CHATD_MIN_MAX_QUEUE, 1u << 30, &cfg->max_queue);
		break;
	case OPT_MAX_FRAME:
		rc = parse_uint(arg, 256, WIRE_FRAME_MAX_HARD, &cfg->max_frame);
		break;
	case OPT_MAX_TEXT:
		rc = parse_uint(arg, 1, WIRE_TEXT_MAX_HARD, &cfg->max_text);
		break;
	case OPT_MAX_ROOMS:
		rc = parse_uint(arg, 0, 65535, &cfg->max_rooms);
		break;
	case OPT_MAX_MEMBERS:
		rc = parse_uint(arg, 0, 1u << 30, &cfg->max_members);
		break;
	case OPT_FLOOD_RATE:
		rc = parse_uint(arg, 0, 1000000, &cfg->flood_rate);
		break;
	case OPT_FLOOD_BURST:
		rc = parse_uint(arg, 1, 1000000, &cfg->flood_burst);
		break;
	case OPT_SHUTDOWN_TIMEOUT:
		rc = parse_seconds(arg, 0, 3600, &cfg->shutdown_timeout);
		break;
	case OPT_DETECT_WINDOW:
		rc = parse_seconds(arg, 0, 60, &cfg->detect_window);
		break;
	case OPT_SERVER_NAME:
		if (arg[0] == '\0' || strlen(arg) >= sizeof(cfg->server_name))
			return bad("--server-name: must be 1 to %zu bytes",
			           sizeof(cfg->server_name) - 1);
		snprintf(cfg->server_name, sizeof(cfg->server_name), "%s", arg);
		return CONFIG_OK;
	case OPT_LOG_LEVEL:
		if ((level = log_level_parse(arg)) < 0)
			return bad("--log-level: '%s' is not debug, info, notice, warning or error",
			           arg);
		cfg->log_level = level;
		return CONFIG_OK;
	default:
		return bad("unknown option");
	}
	if (rc < 0)
		return bad("--%s: '%s' is out of range or not a number", name, arg);
	return CONFIG_OK;
}

/* Settings that only make sense together. */
static enum config_result
check(struct config *cfg)
{
	/* A SAY carrying the longest text and room must fit in one frame. */
	unsigned need = 4 + 1 + WIRE_ROOM_MAX + 2 + cfg->max_text;

	if (cfg->max_frame < need)
		return bad("--max-frame %u is too small for --max-text %u (needs %u)",
		           cfg->max_frame, cfg->max_text, need);
	if (cfg->nlisten == 0) {
		(void)config_parse_listen(CHATD_DEFAULT_LISTEN, &cfg->listen[0]);
		cfg->nlisten = 1;
	}
	return CONFIG_OK;
}

enum config_result
config_parse_args(struct config *cfg, int argc, char **argv)
{
	enum config_result r;
	int opt, idx;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":l:hV", options, &idx)) != -1) {
		switch (opt) {
		case OPT_HELP:
			config_usage(stdout);
			return CONFIG_EXIT;
		case OPT_VERSION:
			printf("chatd %s\n", CHATD_VERSION);
			return CONFIG_EXIT;
		case '?':
			if (optopt)
				return bad("unknown option '-%c'", optopt);
			return bad("unknown option '%s'", argv[optind - 1]);
		case ':':
			return bad("option '%s' needs a value", argv[optind - 1]);
		default: {
			const char *name = "listen";
			const struct option *o;

			for (o = options; o->name; o++)
				if (o->val == opt)
					name = o->name;
			if ((r = apply(cfg, opt, name, optarg)) != CONFIG_OK)
				return r;
		}
		}
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	return check(cfg);
}
