/*
 * chatd: parse the command line, build the server, run the loop.
 */
#include <signal.h>

#include "config.h"
#include "log.h"
#include "server.h"

int
main(int argc, char **argv)
{
	struct config cfg;
	struct server *srv;
	int rc;

	config_defaults(&cfg);
	switch (config_parse_args(&cfg, argc, argv)) {
	case CONFIG_OK:
		break;
	case CONFIG_EXIT:
		return 0;
	case CONFIG_ERROR:
		return 2;
	}
	log_init((enum log_level)cfg.log_level);
	/* A peer that vanished must cost a write error, not the process. */
	signal(SIGPIPE, SIG_IGN);
	srv = server_new(&cfg);
	if (srv == NULL)
		return 1;
	rc = server_run(srv);
	server_free(srv);
	return rc;
}
