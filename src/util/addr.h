/*
 * Socket addresses as people write them: "ADDR:PORT", "[V6]:PORT", or a
 * port alone.  One parser for the daemon's --listen and the swarm's
 * --server.
 */
#ifndef CHATD_ADDR_H
#define CHATD_ADDR_H

#include <sys/socket.h>

/* Parse text into *ss and *len; 0 or -1.  A port alone takes host
 * default_host (NULL: a port alone is refused); an empty host ("":7000)
 * means every address, 0.0.0.0.  Port 0 is accepted (the caller decides
 * what it means). */
int addr_parse(const char *text, const char *default_host, struct sockaddr_storage *ss,
               socklen_t *len);

#endif
