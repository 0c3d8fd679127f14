/*
 * The daemon's configuration: defaults, command-line parsing, and the
 * listen address syntax.
 */
#ifndef CHATD_CONFIG_H
#define CHATD_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "limits.h"

/* Which protocol a listener speaks. */
enum listen_proto {
	LISTEN_AUTO,   /* detect from the first bytes (or their absence) */
	LISTEN_FRAMED, /* framed only: the preface is required */
	LISTEN_TEXT,   /* text only: greeted at once */
};

struct listen_spec {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int proto;     /* enum listen_proto */
	char text[80]; /* as given, for messages */
};

struct config {
	struct listen_spec listen[CHATD_MAX_LISTEN];
	unsigned nlisten;
	char server_name[64];
	unsigned history;
	double room_linger;
	double ping_interval;
	double ping_timeout;
	unsigned max_queue;
	unsigned max_frame;
	unsigned max_text;
	unsigned max_rooms;
	unsigned max_members;
	unsigned flood_rate;
	unsigned flood_burst;
	double shutdown_timeout;
	double detect_window;
	int log_level;
};

enum config_result {
	CONFIG_OK = 0,   /* run the daemon */
	CONFIG_EXIT = 1, /* --help or --version was printed: exit 0 */
	CONFIG_ERROR = 2 /* a message was printed: exit 2 */
};

void config_defaults(struct config *cfg);
/* Parse argv into cfg (which holds defaults); errors name the option. */
enum config_result config_parse_args(struct config *cfg, int argc, char **argv);
/* Parse "ADDR:PORT", "[V6]:PORT" or "PORT", each optionally followed by
 * "/framed", "/text" or "/auto", into spec; 0 or -1. */
int config_parse_listen(const char *text, struct listen_spec *spec);
void config_usage(FILE *out);

#endif
