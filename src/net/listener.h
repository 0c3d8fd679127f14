/*
 * Listening sockets: non-blocking accept in a loop until EAGAIN.  Each
 * accepted socket (non-blocking, TCP_NODELAY) goes to the owner's hook;
 * running out of descriptors goes to another, which rests the listeners
 * instead of letting them spin.
 */
#ifndef CHATD_LISTENER_H
#define CHATD_LISTENER_H

#include <ev.h>
#include <stdint.h>

#include "util/config.h"

struct frontend;
struct listener;

struct listener_hooks {
	/* A client connected from address host (no port), port port, to a
	 * listener pinned to front end pinned (NULL: detected). */
	void (*accepted)(void *ctx, int fd, const char *host, uint16_t port,
	                 const struct frontend *pinned);
	void (*full)(void *ctx); /* accept(2) ran out of descriptors or memory */
	void *ctx;
};

/* Bind and listen on spec, with SO_REUSEPORT if reuseport; logs and
 * returns NULL on failure. */
struct listener *listener_open(struct ev_loop *loop, const struct listen_spec *spec, int reuseport,
                               const struct frontend *pinned, const struct listener_hooks *hooks);
/* Take over a listening socket opened by someone else (socket activation);
 * its options, SO_REUSEPORT included, are left as they were. */
struct listener *listener_adopt(struct ev_loop *loop, int fd, const struct frontend *pinned,
                                const struct listener_hooks *hooks);
/* Accept from now on (the first time: listen, and say so); 0, or -1 when
 * listen() failed (logged). */
int listener_start(struct listener *l);
void listener_stop(struct listener *l);
void listener_free(struct listener *l);

#endif
