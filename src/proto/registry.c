/*
 * The front ends chatd speaks, one row each.  Their order is the order in
 * which their rules look at a new client's first bytes on a shared port;
 * the fallback (people, who wait to be greeted) takes what no rule claims.
 * A new protocol is a file under src/proto and a row here.
 */
#include "proto/registry.h"

#include "net/frontend.h"
#include "proto/framed/framed.h"
#include "proto/http/http.h"
#include "proto/irc/irc.h"
#include "proto/text/text.h"

static struct frontend *const frontends[] = {
        &framed_frontend, /* the preface, 0x89 first */
        &http_frontend,   /* a method and a space */
        &irc_frontend,    /* CAP, NICK, USER or PASS and a space */
        &text_frontend,   /* the fallback: any other line, or silence */
        &json_frontend,   /* no rule: reached by a WebSocket upgrade */
};

void
proto_register_all(void)
{
	size_t i;

	for (i = 0; i < sizeof(frontends) / sizeof(frontends[0]); i++)
		frontend_register(frontends[i]);
}
