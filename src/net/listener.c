/*
 * Listeners.  Accepted sockets are made non-blocking by accept4() itself,
 * get TCP_NODELAY (fan-out bursts must not wait for delayed ACKs), and
 * become connections.  With --reuseport the sockets chatd binds itself
 * share their port with other processes that set SO_REUSEPORT too (the
 * kernel spreads connections over them); sockets systemd passes are taken
 * as they come.
 */
#include "net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/frontend.h"
#include "util/defaults.h"
#include "util/log.h"

struct listener {
	ev_io io;
	struct ev_loop *loop;
	int fd;
	const struct frontend *pinned; /* NULL: the protocol is detected */
	const struct listener_hooks *hooks;
	char name[80];     /* the bound address, port resolved */
	uint8_t listening; /* listen() done (a socket from systemd comes so) */
	uint8_t shared;    /* SO_REUSEPORT */
	uint8_t told;      /* "listening on" logged */
};

static uint16_t
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	return 0;
}

/* The address alone, without the port: what per-address limits count. */
static void
addr_host(const struct sockaddr *sa, char *out, size_t n)
{
	if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		          out, (socklen_t)n);
	else if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
		          (socklen_t)n);
	else
		snprintf(out, n, "unknown");
}

/* Format addr as "a.b.c.d:port" or "[v6]:port". */
static void
addr_text(const struct sockaddr *sa, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN];

	addr_host(sa, host, sizeof(host));
	snprintf(out, n, sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, addr_port(sa));
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = (struct listener *)(void *)((char *)w - offsetof(struct listener, io));

	(void)loop;
	(void)revents;
	for (;;) {
		struct sockaddr_storage ss = {0};
		socklen_t len = sizeof(ss);
		char host[64];
		int fd, one = 1;

		fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The pending connection stays in the backlog: the
				 * server rests the listeners instead of spinning. */
				log_warn("accept: %s; pausing accepts for %g s", strerror(errno),
				         CHATD_EMFILE_PAUSE);
				l->hooks->full(l->hooks->ctx);
			} else if (errno != EAGAIN) {
				log_warn("accept on %s: %s", l->name, strerror(errno));
			}
			return;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		addr_host((struct sockaddr *)&ss, host, sizeof(host));
		l->hooks->accepted(l->hooks->ctx, fd, host, addr_port((struct sockaddr *)&ss),
		                   l->pinned);
	}
}

/* Wrap a bound non-blocking socket (listening: already listens); shared: it
 * has SO_REUSEPORT. */
static struct listener *
wrap(struct ev_loop *loop, int fd, int shared, int listening, const struct frontend *pinned,
     const struct listener_hooks *hooks)
{
	struct sockaddr_storage bound = {0};
	socklen_t blen = sizeof(bound);
	struct listener *l = calloc(1, sizeof(*l));

	if (l == NULL)
		fatal("out of memory (listener)");
	l->loop = loop;
	l->fd = fd;
	l->pinned = pinned;
	l->hooks = hooks;
	l->shared = (uint8_t)shared;
	l->listening = (uint8_t)listening;
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) < 0)
		snprintf(l->name, sizeof(l->name), "fd %d", fd);
	else
		addr_text((struct sockaddr *)&bound, l->name, sizeof(l->name));
	ev_io_init(&l->io, accept_cb, fd, EV_READ);
	return l;
}

struct listener *
listener_open(struct ev_loop *loop, const struct listen_spec *spec, int reuseport,
              const struct frontend *pinned, const struct listener_hooks *hooks)
{
	int fd, one = 1;

	fd = socket(spec->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("listen %s: socket: %s", spec->text, strerror(errno));
		return NULL;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (spec->addr.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* Asked for and not had, it would be a listener that shares nothing
	 * while its siblings fail to bind: say so instead. */
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		log_err("listen %s: SO_REUSEPORT: %s", spec->text, strerror(errno));
		close(fd);
		return NULL;
	}
	/* Bound now, so that a port in use stops the start; listening from
	 * listener_start(), when the server serves (a cluster node once its
	 * links are up: the kernel would queue, or with SO_REUSEPORT route,
	 * connections to it before). */
	if (bind(fd, (const struct sockaddr *)&spec->addr, spec->addrlen) < 0) {
		int err = errno;

		/* The kernel shares a port only among sockets that all set
		 * SO_REUSEPORT and belong to one user: name the likely cause. */
		log_err("listen %s: %s%s", spec->text, strerror(err),
		        reuseport && err == EADDRINUSE
		                ? " (held without SO_REUSEPORT, or by another user)"
		                : "");
		close(fd);
		return NULL;
	}
	return wrap(loop, fd, reuseport, 0, pinned, hooks);
}

struct listener *
listener_adopt(struct ev_loop *loop, int fd, const struct frontend *pinned,
               const struct listener_hooks *hooks)
{
	return wrap(loop, fd, 0, 1, pinned, hooks);
}

int
listener_start(struct listener *l)
{
	if (!l->listening) {
		if (listen(l->fd, CHATD_LISTEN_BACKLOG) < 0) {
			log_err("listen %s: %s", l->name, strerror(errno));
			return -1;
		}
		l->listening = 1;
	}
	if (!l->told) {
		log_notice("listening on %s (%s)%s", l->name,
		           l->pinned ? l->pinned->name : "detected",
		           l->shared ? ", port shared (SO_REUSEPORT)" : "");
		l->told = 1;
	}
	ev_io_start(l->loop, &l->io);
	return 0;
}

void
listener_stop(struct listener *l)
{
	ev_io_stop(l->loop, &l->io);
}

void
listener_free(struct listener *l)
{
	listener_stop(l);
	close(l->fd);
	free(l);
}
