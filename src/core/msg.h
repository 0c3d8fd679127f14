/*
 * Messages and presence events: stored once, reference-counted, rendered
 * at most once per wire format for a fan-out and once per format for
 * history.  Front ends render through msg_wire()/pres_wire(): a live
 * rendering is cached for the event being fanned out (one entry per
 * format, not per message), so that fan-out to N members queues N
 * references to one block; a history rendering is kept on the message for
 * later joiners and counted (msg_history_render_bytes()), since it lives
 * as long as the message stays in a ring.
 */
#ifndef CHATD_MSG_H
#define CHATD_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/blk.h"

/* Render-cache slots, one per wire format; a front end owns one slot. */
enum msg_format {
	MSG_FMT_FRAMED = 0,
	MSG_FMT_TEXT = 1,
	MSG_FMT_MAX = 2,
};

struct msg_render; /* a history rendering kept on its message */

struct msg {
	uint32_t refs;
	uint8_t direct; /* to one user rather than a room */
	uint8_t room_len;
	uint8_t from_len;
	uint16_t text_len;
	uint64_t seq;     /* per-room sequence, 0 for direct messages */
	uint64_t time_ms; /* server time, unix ms */
	const char *room; /* "" for direct messages; all point into data[] */
	const char *from;
	const char *text;
	struct msg_render *hist; /* history renderings, one per format used */
	char data[];
};

/* The kind of a presence event that sums up a large room's events. */
#define PRES_SUMMARY 0xff

struct pres {
	uint32_t refs;
	uint8_t kind;   /* enum wire_presence, or PRES_SUMMARY */
	uint8_t reason; /* enum wire_reason, for drops */
	uint8_t room_len;
	uint8_t nick_len;
	uint8_t new_nick_len;
	uint64_t time_ms;
	const char *room; /* "" for nick changes */
	const char *nick;
	const char *new_nick; /* "" unless a nick change */
	/* PRES_SUMMARY: the room's events of the period, the first of them
	 * listed (each holding a reference), all of them counted. */
	struct pres **items;
	uint16_t nitems;
	uint8_t omitted; /* more events happened than are listed */
	uint32_t members;
	uint32_t joins;
	uint32_t leaves;
	char data[];
};

typedef struct slice msg_render_fn(const struct msg *m, int history);
typedef struct slice pres_render_fn(const struct pres *p);

/* A new message holding copies of its strings, with one reference. */
struct msg *msg_new(const char *room, size_t rn, const char *from, size_t fn, const char *text,
                    size_t tn, uint64_t seq, uint64_t time_ms, int direct);
struct msg *msg_ref(struct msg *m);
void msg_unref(struct msg *m);
/* Bytes m itself takes (its history renderings are counted apart). */
size_t msg_size(const struct msg *m);
/* The rendering of m in format fmt: a live one is rendered on first use
 * and cached until another message is rendered in that format, or m is
 * released (msg_drop_live); a history one stays on m while m lives.  The
 * caller gets a borrowed slice valid until then. */
struct slice msg_wire(struct msg *m, enum msg_format fmt, int history, msg_render_fn *render);
/* Release m's live renderings once the fan-out is over: they are never
 * sent again, and holding them would pin their arena blocks. */
void msg_drop_live(struct msg *m);
/* Bytes held by the history renderings of every live message; _blocks:
 * only their blocks' capacity (a part of blk_bytes_live()). */
size_t msg_history_render_bytes(void);
size_t msg_history_render_blocks(void);
/* Let go of the live render caches (at exit, and when memory is trimmed). */
void msg_cache_release(void);

struct pres *pres_new(uint8_t kind, uint8_t reason, const char *room, size_t rn, const char *nick,
                      size_t nn, const char *new_nick, size_t nnn, uint64_t time_ms);
/* A summary of a room's events; takes over the references in items[0, n),
 * copying the array. */
struct pres *pres_summary(const char *room, size_t rn, uint32_t members, uint32_t joins,
                          uint32_t leaves, struct pres *const *items, size_t n, int omitted,
                          uint64_t time_ms);
struct pres *pres_ref(struct pres *p);
void pres_unref(struct pres *p);
/* The live rendering of p in format fmt, cached like a message's. */
struct slice pres_wire(struct pres *p, enum msg_format fmt, pres_render_fn *render);

#endif
