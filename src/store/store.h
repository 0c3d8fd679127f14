/*
 * The durable store under the core: rooms, their epochs and sequence
 * numbers, and every room message, in one SQLite file that an operator can
 * read and back up with sqlite3.  It plugs into the core through struct
 * core_store (core/core.h); the core's rings stay in front of it as its
 * cache, and without a store ("--store none") they are all there is.
 *
 * Writes are batched by loop turn: the core hands over each accepted
 * message at once, and the server calls store_commit() before it flushes
 * the turn's output, so that an acknowledgement never leaves chatd before
 * its message is in the write-ahead log.  A commit that fails (a full
 * disk, a file made read-only) keeps its messages in memory, refuses new
 * ones through the hooks, and is tried again by the server each second
 * until it goes through.
 */
#ifndef CHATD_STORE_H
#define CHATD_STORE_H

#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

/* The schema this chatd writes; older ones are migrated at start. */
#define STORE_SCHEMA 2

struct store;

/* What /metrics and the benchmark notes report. */
struct store_stats {
	uint64_t commits;   /* transactions written */
	uint64_t rows;      /* messages written */
	uint64_t failures;  /* commits that failed */
	uint64_t loads;     /* rooms read back */
	double longest_ms;  /* the longest commit, in milliseconds */
	double prune_ms;    /* the longest prune step */
	uint64_t pruned;    /* messages deleted by retention */
	double total_ms;    /* all commits */
	unsigned down;      /* 1 while room messages are refused */
	unsigned long kept; /* messages waiting for a commit that failed */
	uint64_t held;      /* commits put off while the checkpointer had the log */
	uint64_t log_pages; /* the write-ahead log's length after the last commit */
	unsigned open;      /* a store is open */
};

/* Open (creating it when absent) the store at path; sync_full: fsync each
 * commit.  NULL with the reason, naming the file, in err. */
struct store *store_open(const char *path, int sync_full, char *err, size_t errlen);
/* The hooks to give the core (core_set_store). */
const struct core_store *store_hooks(struct store *st);
/* Write what this turn gave: 0; 1 when the log is locked for a moment
 * (the checkpointer's), so the output that waits for these messages must
 * wait and the call be made again soon; or -1 when the write failed (the
 * messages are kept, and the store refuses new ones until a later call
 * succeeds). */
int store_commit(struct store *st);
/*
 * Retention: delete, a few chunks at a time, what is older than days (0:
 * no age limit) or beyond the newest keep messages of its room (0: no
 * count limit); whole chunks only, so a room keeps at least that many.
 * Works for at most budget_ms; returns 1 when more is left to delete.
 */
int store_prune(struct store *st, unsigned days, unsigned keep, double budget_ms, uint64_t now_ms);
/* Messages waiting to be written. */
size_t store_pending(const struct store *st);
/* Commit what is pending and close. */
void store_close(struct store *st);
/* The figures of the store open in this process (zeros without one). */
void store_stats(struct store_stats *out);
/* chatd --check-store: report on the file at path; returns the exit
 * status: 0 sound, 1 damaged or inconsistent, 2 not a chatd store or not
 * readable. */
int store_check(const char *path, FILE *out);

#endif
