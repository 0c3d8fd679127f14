/*
 * Messages: stored once, reference-counted, rendered at most once per
 * wire format for a fan-out and once per format for history.  Front ends
 * render through msg_wire(): a live rendering is remembered for the
 * message being fanned out (one memo per render slot, not per message), so
 * that fan-out to N members queues N references to one block; a history
 * rendering is kept on the message for later joiners and counted
 * (msg_history_render_bytes()), since it lives as long as the message
 * stays in a ring.
 */
#ifndef CHATD_MSG_H
#define CHATD_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "util/blk.h"

/* Render slots: one per front end that renders events, given out by the
 * front-end registry; no message carries a slot of its own. */
#define MSG_SLOTS 8

struct msg_render; /* a history rendering kept on its message */

struct msg {
	uint32_t refs;
	uint8_t direct; /* to one user rather than a room */
	uint8_t room_len;
	uint8_t from_len;
	uint16_t text_len;
	uint64_t seq;     /* per-room sequence, 0 for direct messages */
	uint64_t time_ms; /* server time, unix ms */
	uint64_t id;      /* event id: unique, increasing in the order events happen */
	uint64_t epoch;   /* its room's epoch, 0 for direct messages */
	const char *room; /* "" for direct messages; all point into data[] */
	const char *from;
	const char *text;
	struct msg_render *hist; /* history renderings, one per slot used */
	char data[];
};

typedef struct slice msg_render_fn(const struct msg *m, int history);

/* Append s[0, n) and a NUL at *at and move *at past them; returns where
 * they landed: how a message or an event lays out its strings. */
const char *msg_store(char **at, const char *s, size_t n);
/* A new message holding copies of its strings, with one reference. */
struct msg *msg_new(const char *room, size_t rn, const char *from, size_t fn, const char *text,
                    size_t tn, uint64_t seq, uint64_t time_ms, int direct);
struct msg *msg_ref(struct msg *m);
void msg_unref(struct msg *m);
/* Bytes m itself takes (its history renderings are counted apart). */
size_t msg_size(const struct msg *m);
/* The rendering of m for render slot slot: a live one is rendered on
 * first use and remembered until another message is rendered for that
 * slot, or m is released (msg_drop_live); a history one stays on m while m
 * lives.  The caller gets a borrowed slice valid until then. */
struct slice msg_wire(struct msg *m, int slot, int history, msg_render_fn *render);
/* Release m's live renderings once the fan-out is over: they are never
 * sent again, and holding them would pin their arena blocks. */
void msg_drop_live(struct msg *m);
/* Bytes held by the history renderings of every live message; _blocks:
 * only their blocks' capacity (a part of blk_bytes_live()). */
size_t msg_history_render_bytes(void);
size_t msg_history_render_blocks(void);
/* Let go of the live render memos of messages and presence events (at
 * exit, and when memory is trimmed). */
void msg_cache_release(void);

#endif
