/*
 * Listening sockets: non-blocking accept in a loop until EAGAIN, and a
 * pause instead of a spin when the process runs out of descriptors.
 */
#ifndef CHATD_LISTENER_H
#define CHATD_LISTENER_H

#include "util/config.h"

struct server;
struct listener;

/* Bind and listen on spec; logs and returns NULL on failure. */
struct listener *listener_open(struct server *srv, const struct listen_spec *spec);
/* Take over a listening socket opened by someone else (socket activation). */
struct listener *listener_adopt(struct server *srv, int fd, int proto);
void listener_start(struct listener *l);
void listener_stop(struct listener *l);
void listener_free(struct listener *l);

#endif
