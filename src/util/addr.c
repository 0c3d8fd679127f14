/*
 * The address parser (see addr.h): pure, so that it can be fuzzed with
 * the configuration it is part of.
 */
#include "util/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The host and the port's text of "HOST:PORT", "[V6]:PORT" or "PORT". */
static int
split(const char *text, const char *default_host, char *host, size_t hcap, const char **port)
{
	const char *colon;
	size_t hn;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		hn = (size_t)(close - text - 1);
		if (hn >= hcap)
			return -1;
		memcpy(host, text + 1, hn);
		host[hn] = '\0';
		*port = close + 2;
	} else if ((colon = strrchr(text, ':')) != NULL) {
		hn = (size_t)(colon - text);
		if (hn >= hcap)
			return -1;
		memcpy(host, text, hn);
		host[hn] = '\0';
		*port = colon + 1;
	} else {
		if (default_host == NULL)
			return -1;
		snprintf(host, hcap, "%s", default_host);
		*port = text;
	}
	if (host[0] == '\0')
		snprintf(host, hcap, "0.0.0.0");
	return 0;
}

int
addr_parse(const char *text, const char *default_host, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	const char *port;
	char host[64], *end;
	unsigned long p;

	memset(ss, 0, sizeof(*ss));
	if (split(text, default_host, host, sizeof(host), &port) < 0)
		return -1;
	errno = 0;
	p = strtoul(port, &end, 10);
	if (*port == '\0' || *port == '-' || *end != '\0' || errno || p > 65535)
		return -1;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		*len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*v6);
	} else {
		return -1;
	}
	return 0;
}
