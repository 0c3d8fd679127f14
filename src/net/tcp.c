/*
 * The plain TCP transport: the socket's own read(2) and writev(2).
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/conn.h"
#include "net/transport.h"

static ssize_t
tcp_read(struct conn *c, void *buf, size_t n)
{
	return read(c->fd, buf, n);
}

static ssize_t
tcp_writev(struct conn *c, const struct iovec *iov, int cnt)
{
	return writev(c->fd, iov, cnt);
}

/* Probes after idle seconds, three of them timeout seconds apart in all,
 * and unacknowledged output given up on after idle + timeout. */
static void
tcp_keepalive(struct conn *c, double idle, double timeout)
{
	int on = 1, cnt = 3, first = (int)idle, intvl = (int)(timeout / cnt);
	unsigned user = (unsigned)((idle + timeout) * 1000);

	if (first < 1)
		first = 1;
	if (intvl < 1)
		intvl = 1;
	(void)setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &first, sizeof(first));
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user, sizeof(user));
}

const struct transport tcp_transport = {"tcp", tcp_read, tcp_writev, tcp_keepalive,
                                        NULL,  NULL,     NULL,       NULL};
