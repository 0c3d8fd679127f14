/*
 * Connections per client address, for --max-conns-per-ip.  A connection
 * keeps a pointer to its address's count (which also holds the address
 * itself, shared by all its connections), not a copy of the address.
 */
#ifndef CHATD_IPCOUNT_H
#define CHATD_IPCOUNT_H

struct ipcount {
	char ip[48];
	unsigned n;        /* connections counted here */
	double program_at; /* when a page was last served here (conn_expect_preconnects) */
};

/* The count of address ip, created at 0 when new; the caller counts its
 * connection in it. */
struct ipcount *ipcount_get(const char *ip);
/* A connection from ipc ended: forget the address when it was the last. */
void ipcount_release(struct ipcount *ipc);
/* Free the table (at exit). */
void ipcount_free_all(void);

#endif
