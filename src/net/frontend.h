/*
 * The front-end registry.  A front end is the translator between one wire
 * format and the core, and nothing more; it is one file under src/proto
 * and one row in the table of src/proto/registry.c, which registers it
 * here at start-up.  The connection layer names no front end: it asks the
 * registry which one a listener is pinned to, which one a client's first
 * bytes belong to, and which one greets a client that says nothing.
 *
 * A front end sees its connection through net/conn.h (the core, the
 * configuration, send and reserve on its queue) and never the server.
 */
#ifndef CHATD_FRONTEND_H
#define CHATD_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct conn_set;
struct config;

/* What a client's first bytes say to one front end's rule. */
enum detect {
	DETECT_NOT,    /* not this protocol */
	DETECT_MORE,   /* perhaps: it needs more bytes to say */
	DETECT_MINE,   /* this protocol; *used bytes were its opening (a preface) */
	DETECT_BROKEN, /* this protocol, opened wrongly: broken() turns the client away */
};

/* Why a client is turned away before it is served. */
enum conn_refusal {
	REFUSE_NONE,
	REFUSE_FULL,      /* max-conns reached */
	REFUSE_PER_IP,    /* max-conns-per-ip reached */
	REFUSE_HANDSHAKE, /* no name chosen within handshake-timeout */
};

struct frontend {
	const char *name; /* as in --listen ADDR:PORT/NAME and socket names */
	/* Its rule on a shared port: look at the first len bytes.  NULL:
	 * never chosen by its bytes. */
	enum detect (*detect)(const uint8_t *p, size_t len, size_t *used);
	/* Greets a client that says nothing for --detect-window (people
	 * wait to be greeted); at most one front end is the fallback, and it
	 * takes whatever no other rule claims. */
	int fallback;
	/* Bytes of partial input it may need to hold: its largest unit. */
	size_t (*input_max)(const struct config *cfg);
	void (*start)(struct conn *c); /* chosen: set up, greet */
	/* Consume whole units (frames, lines); return the bytes used, the
	 * rest is kept until more arrive. */
	size_t (*input)(struct conn *c, const uint8_t *p, size_t len);
	/* Silent too long: ping in-band.  NULL for a protocol whose peers
	 * cannot answer pings (people): TCP keepalive watches them. */
	void (*idle)(struct conn *c);
	void (*bye)(struct conn *c, uint8_t reason); /* queue a farewell (enum core_reason) */
	/* Turn the client away, in words the text gives, then close. */
	void (*refuse)(struct conn *c, enum conn_refusal why, const char *text);
	/* Its opening was wrong (DETECT_BROKEN, or on a listener pinned to
	 * it, anything but its opening): say so and close. */
	void (*broken)(struct conn *c, const uint8_t *p, size_t len);
	void (*end)(struct conn *c); /* free its state; NULL: none */
	/* The next part of a long answer (conn_produce()); nonzero while
	 * more remains.  NULL: it has no long answers. */
	int (*more)(struct conn *c);
	void (*cleanup)(void); /* let go of shared render memory; NULL: none */
	/* Its connections carry no session of their own (HTTP: sessions
	 * outlive connections): the connection layer neither pings them nor
	 * holds them to the handshake timeout; the front end times them. */
	int sessionless;
	/* The server is up: state that outlives connections (sessions, timers)
	 * may begin, with the loop, core and configuration of set.  NULL: none. */
	void (*attach)(struct conn_set *set);
	/* The server is going: end what attach began, before the core goes.
	 * NULL: none. */
	void (*detach)(void);
	/* Reached only through an upgrade (a WebSocket's subprotocol): no
	 * listener may be pinned to it. */
	int upgrade_only;
	int slot;   /* its render slot (core/msg.h), set at registration */
	uint8_t id; /* its place in the registry, set at registration */
};

/* Add fe to the registry, in order of detection, giving it a render slot. */
void frontend_register(struct frontend *fe);
/* The front end of that name, or NULL; "auto" and "" mean none. */
const struct frontend *frontend_find(const char *name);
int frontend_known(const char *name);
/* The registered front end at id (frontend.id). */
const struct frontend *frontend_at(uint8_t id);
/* Run the rules over a client's first bytes, in registration order: the
 * first that says MINE or BROKEN wins (*fe, *used); MORE while one still
 * may; NOT when none claims them and there is no fallback. */
enum detect frontend_detect(const uint8_t *p, size_t len, const struct frontend **fe, size_t *used);
/* The front end that greets the silent, or NULL. */
const struct frontend *frontend_fallback(void);
/* The most partial input any front end a listener may meet may need to
 * hold (front ends reached only by an upgrade not included). */
size_t frontend_input_max(const struct config *cfg);
/* Every front end's cleanup(). */
void frontend_cleanup_all(void);
/* Every front end's attach(set) / detach(). */
void frontend_attach_all(struct conn_set *set);
void frontend_detach_all(void);
/* How many front ends are registered (ids run from 0). */
unsigned frontend_count(void);

#endif
