/*
 * systemd integration through libsystemd (sd_notify, sd_watchdog_enabled,
 * sd_listen_fds_with_names).  CHATD_HAVE_SYSTEMD is defined by the build
 * when libsystemd is found.
 */
#include "net/sysd.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util/config.h"
#include "util/log.h"

#ifdef CHATD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

void
sysd_notify(const char *state)
{
	(void)sd_notify(0, state);
}

void
sysd_status(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	(void)sd_notify(0, line);
}

void
sysd_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	                 (unsigned long long)ts.tv_sec * 1000000ull +
	                         (unsigned long long)ts.tv_nsec / 1000ull);
}

double
sysd_watchdog_interval(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	return (double)usec / 2e6;
}

int
sysd_listen_fds(int *fds, char (*protos)[CONFIG_PROTO_MAX], int max)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names), i, k = 0;

	if (n <= 0)
		return 0;
	for (i = 0; i < n; i++) {
		const char *name = names && names[i] ? names[i] : "";
		int fd = SD_LISTEN_FDS_START + i;

		if (k < max && sd_is_socket(fd, 0, SOCK_STREAM, 1) > 0) {
			/* libev wants them non-blocking, like our own. */
			(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			fds[k] = fd;
			snprintf(protos[k], CONFIG_PROTO_MAX, "%s", name);
			k++;
		} else {
			log_warn("socket activation: descriptor %d (%s) is not a listening TCP "
			         "socket; ignored",
			         fd, name);
		}
		free(names ? names[i] : NULL);
	}
	free(names);
	return k;
}

#else /* no libsystemd: a plain daemon */

void
sysd_notify(const char *state)
{
	(void)state;
}

void
sysd_status(const char *fmt, ...)
{
	(void)fmt;
}

void
sysd_reloading(void)
{
}

double
sysd_watchdog_interval(void)
{
	return 0;
}

int
sysd_listen_fds(int *fds, char (*protos)[CONFIG_PROTO_MAX], int max)
{
	(void)fds;
	(void)protos;
	(void)max;
	return 0;
}

#endif
