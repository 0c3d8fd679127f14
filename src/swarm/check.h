/*
 * The swarm's delivery checker for one (bot, room) stream: every room
 * message and every ACK of the bot's own messages carries the room's
 * sequence number, and one connection sees them in increasing order with
 * none missing.  A gap is loss, a number seen twice is a duplicate, and a
 * number that fills an earlier gap is a reordering (and no longer a loss).
 * A number replayed as history that the stream already has is the same
 * message again (its room, epoch and number say so), not a duplicate.
 *
 * And, across the bots, what each number of a room stood for
 * (struct check_room): every bot must see the same message at a number,
 * and each sender's messages must keep their order and come once along
 * the room's numbers.  That is what survives a server restart to be
 * checked: a store that lost an acknowledged message gives its number to
 * another one.
 *
 * Pure and small, so that it can be tested exhaustively.
 */
#ifndef CHATD_CHECK_H
#define CHATD_CHECK_H

#include <stdint.h>

#define CHECK_WINDOW 256 /* how far back a late arrival is still recognised */

enum check_result {
	CHECK_OK,
	CHECK_GAP,      /* some numbers were skipped: counted lost */
	CHECK_DUP,      /* already seen */
	CHECK_REORDER,  /* filled a gap: one loss fewer, one reordering more */
	CHECK_AGAIN,    /* history the stream already had: the same message */
	CHECK_CONFLICT, /* a number that another message already stood for */
};

struct check_stream {
	uint64_t next;                    /* next expected number; 0: not synced */
	uint64_t seen[CHECK_WINDOW / 64]; /* receipt bits for [next-WINDOW, next) */
};

struct check_counts {
	uint64_t ok;
	uint64_t lost;
	uint64_t dup;
	uint64_t reordered;
	uint64_t missed_announced; /* skipped with the server's word (truncated history) */
	uint64_t again;            /* replayed history the stream already had */
};

void check_init(struct check_stream *s);
/* Expect next as the next number (after a join's history). */
void check_sync(struct check_stream *s, uint64_t next);
/* Record number seq. */
enum check_result check_seq(struct check_stream *s, uint64_t seq, struct check_counts *c);
/* The server announced that numbers up to and including upto were not
 * replayed (truncated history): jump there without counting loss. */
void check_skip(struct check_stream *s, uint64_t upto, struct check_counts *c);

/* Record number seq replayed as history at a join: as check_seq(), but a
 * number the stream has already seen (or that is older than the window)
 * is the same message again, CHECK_AGAIN, not a duplicate. */
enum check_result check_replayed(struct check_stream *s, uint64_t seq, struct check_counts *c);

/* Numbers a room's record holds (16 bytes each); past them: unchecked. */
#define CHECK_ROOM_MAX ((uint64_t)1 << 24)

/* What a number of a room stood for: a sender's message, by its own
 * number for the room (botmsg's seq). */
struct check_room_ent {
	uint64_t pseq;
	uint32_t sender;
	uint8_t seen;     /* 0: no bot has seen this number */
	uint8_t conflict; /* another message was seen at it too */
};

/* One room's numbers, for one epoch of it. */
struct check_room {
	uint64_t epoch;             /* 0: not yet known */
	struct check_room_ent *ent; /* ent[seq - 1] */
	uint64_t cap;               /* entries allocated */
	uint64_t top;               /* the highest number recorded */
	uint64_t beyond;            /* numbers past CHECK_ROOM_MAX, not recorded */
	uint64_t conflicts;         /* numbers that two messages stood for, each once */
	uint64_t base;              /* numbers up to it came before the swarm: not recorded */
	uint8_t based;              /* base is set */
};

/* What check_room_verify() found along a room's numbers. */
struct check_room_counts {
	uint64_t dup;       /* a sender's message at a second number */
	uint64_t reordered; /* a sender's message at a number below an earlier one's */
	uint64_t unseen;    /* numbers after base, up to top, that no bot saw */
};

void check_room_init(struct check_room *r);
void check_room_free(struct check_room *r);
/* The room is in epoch: a new epoch starts the record over (1); the same
 * one, or the first one known, keeps it (0). */
int check_room_epoch(struct check_room *r, uint64_t epoch);
/* Numbers up to base were given out before this run (a bot's first join
 * said so): forget what was noted of them, and note none.  Only the first
 * call counts, and only in the epoch. */
void check_room_base(struct check_room *r, uint64_t base);
/* Number seq stood for sender's message pseq: CHECK_OK (first seen, or
 * the same message again) or CHECK_CONFLICT (another message had it; the
 * first time for a number counts in r->conflicts).  -1 when out of
 * memory. */
int check_room_note(struct check_room *r, uint64_t seq, uint32_t sender, uint64_t pseq);
/* What number seq stood for: 1 with *sender and *pseq, 0 if no bot saw it. */
int check_room_at(const struct check_room *r, uint64_t seq, uint32_t *sender, uint64_t *pseq);
/* Walk the room's numbers: each sender's messages must come once and in
 * their order (their pseq rising with the number).  Adds to *out; -1
 * when out of memory. */
int check_room_verify(const struct check_room *r, struct check_room_counts *out);

#endif
