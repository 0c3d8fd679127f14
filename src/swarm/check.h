/*
 * The swarm's delivery checker for one (bot, room) stream: every room
 * message and every ACK of the bot's own messages carries the room's
 * sequence number, and one connection sees them in increasing order with
 * none missing.  A gap is loss, a number seen twice is a duplicate, and a
 * number that fills an earlier gap is a reordering (and no longer a loss).
 * Pure and small, so that it can be tested exhaustively.
 */
#ifndef CHATD_CHECK_H
#define CHATD_CHECK_H

#include <stdint.h>

#define CHECK_WINDOW 256 /* how far back a late arrival is still recognised */

enum check_result {
	CHECK_OK,
	CHECK_GAP,     /* some numbers were skipped: counted lost */
	CHECK_DUP,     /* already seen */
	CHECK_REORDER, /* filled a gap: one loss fewer, one reordering more */
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
};

void check_init(struct check_stream *s);
/* Expect next as the next number (after a join's history). */
void check_sync(struct check_stream *s, uint64_t next);
/* Record number seq. */
enum check_result check_seq(struct check_stream *s, uint64_t seq, struct check_counts *c);
/* The server announced that numbers up to and including upto were not
 * replayed (truncated history): jump there without counting loss. */
void check_skip(struct check_stream *s, uint64_t upto, struct check_counts *c);

#endif
