/*
 * Redis addresses as operators write them for --cluster:
 * redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], HOST a name, an IPv4
 * address or an IPv6 one in brackets ([::1]:6379).  A pure parser: text
 * in, fields or a reason out, no I/O.
 */
#ifndef CHATD_CLUSTER_URL_H
#define CHATD_CLUSTER_URL_H

#include <stddef.h>
#include <stdint.h>

#define REDIS_URL_MAX          512 /* the whole URL, as given */
#define REDIS_URL_HOST_MAX     253 /* a DNS name at most; an IPv6 literal is shorter */
#define REDIS_URL_USER_MAX     128 /* after percent-decoding */
#define REDIS_URL_PASSWORD_MAX 256 /* after percent-decoding */
#define REDIS_URL_DB_MAX       65535u
#define REDIS_URL_DEFAULT_PORT 6379

struct redis_url {
	char host[REDIS_URL_HOST_MAX + 1]; /* without the brackets of an IPv6 literal */
	uint16_t port;
	unsigned db;  /* SELECT this one when has_db */
	int has_db;   /* the URL named a database (/0 included) */
	int has_user; /* AUTH USER PASSWORD (Redis 6 ACL) rather than AUTH PASSWORD */
	int has_password;
	char user[REDIS_URL_USER_MAX + 1];
	char password[REDIS_URL_PASSWORD_MAX + 1];
	/* The URL for logs and error lines: the password shown as "***". */
	char shown[REDIS_URL_MAX + 16];
};

/*
 * Parse text into *out; 0, or -1 with a reason that says what is wrong
 * (never the password) in err.  USER and PASSWORD may be percent-encoded
 * (%40 for '@'); a NUL (%00) or a control character in them is refused.
 */
int redis_url_parse(const char *text, struct redis_url *out, char *err, size_t errlen);

#endif
