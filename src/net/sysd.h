/*
 * systemd integration: readiness and status notifications, the watchdog,
 * and listening sockets passed by socket activation.  Built on libsystemd
 * when it is present at build time; without it every call is a no-op and
 * chatd runs as a plain daemon.
 */
#ifndef CHATD_SYSD_H
#define CHATD_SYSD_H

#include "util/config.h"

/* Tell the service manager something (READY=1, STOPPING=1, ...). */
void sysd_notify(const char *state);
/* STATUS=... with printf formatting. */
void sysd_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* RELOADING=1 with the monotonic timestamp systemd expects. */
void sysd_reloading(void);
/* Seconds between watchdog keep-alives (half the manager's timeout), or 0
 * when no watchdog is asked for. */
double sysd_watchdog_interval(void);

/* Sockets passed by the service manager: up to max descriptors, each with
 * its FileDescriptorName in protos (the front end it is pinned to, when a
 * front end has that name; anything else detects).  Returns how many. */
int sysd_listen_fds(int *fds, char (*protos)[CONFIG_PROTO_MAX], int max);

#endif
