/*
 * Presence events: joined, left, quit, renamed, dropped, and the summary
 * of a large room's events.  Stored once, reference-counted, rendered at
 * most once per render slot for a fan-out (see core/msg.h).
 */
#ifndef CHATD_PRES_H
#define CHATD_PRES_H

#include <stddef.h>
#include <stdint.h>

#include "util/blk.h"

struct pres {
	uint32_t refs;
	uint8_t kind;   /* enum core_pres */
	uint8_t reason; /* enum core_reason, for drops */
	uint8_t room_len;
	uint8_t nick_len;
	uint8_t new_nick_len;
	uint16_t text_len;
	uint64_t time_ms;
	uint64_t id;      /* event id, as a message's (core/msg.h) */
	const char *room; /* "" for nick changes */
	const char *nick;
	const char *new_nick; /* "" unless a nick change */
	/* PART, QUIT: the words the user left with (at most CORE_REASON_MAX
	 * bytes of UTF-8), "" when it gave none; TOPIC: the room's new topic
	 * (at most CORE_TOPIC_MAX bytes of one line of UTF-8), "" when it was
	 * cleared. */
	const char *text;
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

typedef struct slice pres_render_fn(const struct pres *p);

struct pres *pres_new(uint8_t kind, uint8_t reason, const char *room, size_t rn, const char *nick,
                      size_t nn, const char *new_nick, size_t nnn, uint64_t time_ms);
/* A part, quit or drop of nick from room, with the words the user left
 * with, text[0, tn) (tn 0: none; cut to CORE_REASON_MAX bytes). */
struct pres *pres_leave(uint8_t kind, uint8_t reason, const char *room, size_t rn, const char *nick,
                        size_t nn, const char *text, size_t tn, uint64_t time_ms);
/* The topic of room set by nick to text[0, tn) (tn 0: cleared). */
struct pres *pres_topic(const char *room, size_t rn, const char *nick, size_t nn, const char *text,
                        size_t tn, uint64_t time_ms);
/* A summary of a room's events; takes over the references in items[0, n),
 * copying the array. */
struct pres *pres_summary(const char *room, size_t rn, uint32_t members, uint32_t joins,
                          uint32_t leaves, struct pres *const *items, size_t n, int omitted,
                          uint64_t time_ms);
struct pres *pres_ref(struct pres *p);
void pres_unref(struct pres *p);
/* The live rendering of p for render slot slot, remembered like a
 * message's. */
struct slice pres_wire(struct pres *p, int slot, pres_render_fn *render);
/* Let go of the render memos (see msg_cache_release()). */
void pres_cache_release(void);

#endif
