/*
 * The daemon's configuration: defaults, command-line parsing, and the
 * listen address syntax.
 */
#ifndef CHATD_CONFIG_H
#define CHATD_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "util/defaults.h"

/* Longest protocol name a listener may be pinned to, with its NUL. */
#define CONFIG_PROTO_MAX 16

struct listen_spec {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char proto[CONFIG_PROTO_MAX]; /* the front end it is pinned to; "" detects */
	char text[80];                /* as given, for messages */
};

struct config {
	struct listen_spec listen[CHATD_MAX_LISTEN];
	unsigned nlisten;
	int reuseport; /* SO_REUSEPORT on the listeners chatd opens itself */
	char server_name[64];
	unsigned history;
	unsigned history_bytes;
	unsigned room_history_bytes;
	double room_linger;
	double room_linger_solo;
	double ping_interval;
	double ping_timeout;
	unsigned max_queue;
	unsigned max_queue_total;
	unsigned max_frame;
	unsigned max_text;
	unsigned max_rooms;
	unsigned max_members;
	unsigned presence_batch;
	unsigned max_rooms_total;
	unsigned max_conns;
	unsigned max_conns_per_ip;
	double handshake_timeout;
	unsigned flood_rate;
	unsigned flood_burst;
	double shutdown_timeout;
	double detect_window;
	unsigned http_max_request_line;
	unsigned http_max_header_bytes;
	unsigned http_max_body;
	unsigned http_max_requests;
	double http_session_timeout;
	double http_max_wait;
	unsigned http_mailbox;
	unsigned http_mailbox_bytes;
	unsigned http_max_sessions;
	unsigned http_max_sessions_per_ip;
	char http_public_read[8];     /* auto, yes or no */
	char http_cors_origins[1024]; /* origins, space- or comma-separated; "*" for any */
	char http_websocket[4];       /* yes or no */
	unsigned irc_line_max;        /* bytes of an IRC line with its CR LF, tags apart */
	unsigned irc_tags_max;        /* bytes of an IRC client line's tags */
	/* Redis URLs of the cluster backplane, one per shard (docs/cluster.md). */
	char cluster[CHATD_MAX_CLUSTER][CHATD_CLUSTER_URL_MAX + 1];
	unsigned ncluster;
	char node_name[CHATD_NODE_NAME_MAX + 1]; /* "" : host name and port */
	char store[256];                         /* the store's file, "auto" or "none" */
	char store_sync[8];                      /* normal or full */
	unsigned retention_days;
	unsigned retention_messages;
	int check_store; /* --check-store: report on the store and exit */
	int log_level;
	char path[256]; /* the config file read, "" for none */
	int argc;       /* the command line, kept for reloads */
	char **argv;
};

enum config_result {
	CONFIG_OK = 0,   /* run the daemon */
	CONFIG_EXIT = 1, /* --help, --version, --check-config or --print-config done: exit 0 */
	CONFIG_ERROR = 2 /* a message was printed: exit 2 */
};

void config_defaults(struct config *cfg);
/* Build cfg from defaults, the config file and argv (which overrides the
 * file); errors name the option, or the file and line. */
enum config_result config_parse_args(struct config *cfg, int argc, char **argv);
/* Build a new configuration from old's file and command line again (for
 * SIGHUP); 0, or -1 with the reason in err. */
int config_reload(const struct config *old, struct config *out, char *err, size_t errlen);
/* Write cfg as a config file. */
void config_print(const struct config *cfg, FILE *out);
/* Call report for each key whose value differs; runtime says whether the
 * change can take effect without a restart.  Returns how many differ. */
int config_diff(const struct config *old, const struct config *new,
                void (*report)(const char *key, const char *from, const char *to, int runtime));
/* Parse "ADDR:PORT", "[V6]:PORT" or "PORT", each optionally followed by
 * "/NAME" (a protocol config_protocols() knows, or "auto"), into spec; 0
 * or -1. */
int config_parse_listen(const char *text, struct listen_spec *spec);
/* How the configuration learns which protocol names exist: the registry
 * of front ends, given by the program (util names no front end).  Until
 * it is set, every name is refused but "auto". */
void config_protocols(int (*known)(const char *name));
/* How the configuration checks a --cluster URL: the cluster layer's
 * parser, given by the program (util does not include it).  check
 * returns 0, or -1 with the reason in err.  Until it is set, any plain
 * text of the right length passes. */
void config_cluster_urls(int (*check)(const char *url, char *err, size_t errlen));
void config_usage(FILE *out);

#endif
