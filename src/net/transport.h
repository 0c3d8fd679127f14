/*
 * Transports: how a connection's bytes cross its socket.  The connection
 * reads and writes only through its transport, so that a transport that
 * transforms bytes (TLS, WebSocket framing beneath the framed and text
 * front ends) slots in under them without changing them.  Plain TCP hands
 * the shared slices of the output queue to writev() as they are: fan-out
 * stays zero-copy; a transport that must transform bytes may copy.
 */
#ifndef CHATD_TRANSPORT_H
#define CHATD_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct conn;

struct transport {
	const char *name;
	/* As read(2) and writev(2) on the connection's socket: -1 with errno
	 * (EAGAIN when nothing can move now), 0 from read at end of input. */
	ssize_t (*read)(struct conn *c, void *buf, size_t n);
	ssize_t (*writev)(struct conn *c, const struct iovec *iov, int cnt);
	/* Let the kernel find a vanished peer after about idle + timeout
	 * seconds (for protocols whose peers cannot answer pings). */
	void (*keepalive)(struct conn *c, double idle, double timeout);
	/* Bytes of its own it still has to write (a frame header half
	 * written, a control frame): the connection keeps writing while any
	 * remain, with writev() given no slices if need be.  NULL: none. */
	int (*pending)(const struct conn *c);
	/* The connection will close once its output is out: the transport
	 * may add its own farewell after it (a WebSocket close).  NULL: none. */
	void (*closing)(struct conn *c, uint8_t reason);
	void (*end)(struct conn *c); /* free its state (conn.tp_state); NULL: none */
	/* What read() gave has been handled: a transport that found a fault
	 * after good bytes acts on it now.  NULL: none. */
	void (*after_input)(struct conn *c);
};

extern const struct transport tcp_transport;

#endif
