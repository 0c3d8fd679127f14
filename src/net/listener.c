/*
 * Listeners.  Accepted sockets are made non-blocking by accept4() itself,
 * get TCP_NODELAY (fan-out bursts must not wait for delayed ACKs), and
 * become connections.
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

#include "net/conn.h"
#include "util/log.h"
#include "net/server.h"

struct listener {
	ev_io io;
	struct server *srv;
	int fd;
	int proto;     /* enum listen_proto */
	char name[80]; /* the bound address, port resolved */
};

/* Format addr as "a.b.c.d:port" or "[v6]:port". */
static void
addr_text(const struct sockaddr *sa, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;

		inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
		port = ntohs(v4->sin_port);
		snprintf(out, n, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)sa;

		inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
		port = ntohs(v6->sin6_port);
		snprintf(out, n, "[%s]:%u", host, port);
	} else {
		snprintf(out, n, "unknown");
	}
}

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

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = (struct listener *)(void *)((char *)w - offsetof(struct listener, io));
	struct server *srv = l->srv;

	(void)revents;
	for (;;) {
		struct sockaddr_storage ss = {0};
		socklen_t len = sizeof(ss);
		char peer[64], host[64];
		enum conn_refusal why;
		struct ipcount *ipc;
		int fd, one = 1;

		fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The pending connection stays in the backlog; rest
				 * the listeners instead of spinning on it. */
				log_warn("accept: %s (%zu connections open); pausing accepts for "
				         "%g s",
				         strerror(errno), srv->nconns, CHATD_EMFILE_PAUSE);
				unsigned i;

				for (i = 0; i < srv->nlisteners; i++)
					listener_stop(srv->listeners[i]);
				ev_timer_set(&srv->emfile_pause, CHATD_EMFILE_PAUSE, 0);
				ev_timer_start(loop, &srv->emfile_pause);
			} else if (errno != EAGAIN) {
				log_warn("accept on %s: %s", l->name, strerror(errno));
			}
			return;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		addr_text((struct sockaddr *)&ss, peer, sizeof(peer));
		addr_host((struct sockaddr *)&ss, host, sizeof(host));
		if (srv->nconns >= srv->max_conns + CHATD_REFUSE_SLACK) {
			/* Far over the limit: not even a goodbye. */
			close(fd);
			continue;
		}
		ipc = server_ip_get(srv, host);
		why = REFUSE_NONE;
		if (srv->nconns >= srv->max_conns)
			why = REFUSE_FULL;
		else if (srv->cfg.max_conns_per_ip && ipc->n >= srv->cfg.max_conns_per_ip)
			why = REFUSE_PER_IP;
		if (why != REFUSE_NONE)
			log_notice("refusing %s: %s", peer,
			           why == REFUSE_FULL ? "max-conns reached"
			                              : "max-conns-per-ip reached");
		(void)conn_new(srv, fd, addr_port((struct sockaddr *)&ss), l->proto, ipc, why);
	}
}

/* Wrap a bound, listening, non-blocking socket. */
static struct listener *
wrap(struct server *srv, int fd, int proto)
{
	struct sockaddr_storage bound = {0};
	socklen_t blen = sizeof(bound);
	struct listener *l = calloc(1, sizeof(*l));

	if (l == NULL)
		fatal("out of memory (listener)");
	l->srv = srv;
	l->fd = fd;
	l->proto = proto;
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) < 0)
		snprintf(l->name, sizeof(l->name), "fd %d", fd);
	else
		addr_text((struct sockaddr *)&bound, l->name, sizeof(l->name));
	ev_io_init(&l->io, accept_cb, fd, EV_READ);
	log_notice("listening on %s (%s)", l->name,
	           proto == LISTEN_TEXT     ? "text"
	           : proto == LISTEN_FRAMED ? "framed"
	                                    : "framed and text");
	return l;
}

struct listener *
listener_open(struct server *srv, const struct listen_spec *spec)
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
	if (bind(fd, (const struct sockaddr *)&spec->addr, spec->addrlen) < 0 ||
	    listen(fd, CHATD_LISTEN_BACKLOG) < 0) {
		log_err("listen %s: %s", spec->text, strerror(errno));
		close(fd);
		return NULL;
	}
	return wrap(srv, fd, spec->proto);
}

struct listener *
listener_adopt(struct server *srv, int fd, int proto)
{
	return wrap(srv, fd, proto);
}

void
listener_start(struct listener *l)
{
	ev_io_start(l->srv->loop, &l->io);
}

void
listener_stop(struct listener *l)
{
	ev_io_stop(l->srv->loop, &l->io);
}

void
listener_free(struct listener *l)
{
	listener_stop(l);
	close(l->fd);
	free(l);
}
