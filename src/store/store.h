/*
 * The durable store under the core: rooms, their epochs, sequence
 * numbers and topics, and every room message, in one SQLite file that an operator can
 * read and back up with sqlite3.  It plugs into the core through struct
 * core_store (core/core.h); the core's rings stay in front of it as its
 * cache, and without a store ("--store none") they are all there is.
 *
 * Writes are batched, off the loop: the core hands over each accepted
 * message at once; at the end of each loop turn the server calls
 * store_turn(), which gives what is pending to a writer thread (with its
 * own connection) when it is idle, and returns the number of the batch
 * this turn's output must wait for.  The server holds that output until
 * store_done() reaches it, so that an acknowledgement (or anything else
 * that shows a message) never leaves chatd before the message is in the
 * write-ahead log, while the loop goes on.  Messages that come while a
 * batch is being written make the next one, so batches grow with the
 * load.  A commit that fails (a full disk, a file made read-only, a lock
 * held by another program for over half a second) keeps its messages in
 * memory, refuses new ones through the hooks, lets the output go, and is
 * tried again each second until it goes through.
 */
#ifndef CHATD_STORE_H
#define CHATD_STORE_H

#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

/* The schema this chatd writes; older ones are migrated at start. */
#define STORE_SCHEMA 3

struct store;

/* What /metrics and the benchmark notes report. */
struct store_stats {
	uint64_t commits;   /* transactions written */
	uint64_t rows;      /* messages written */
	uint64_t failures;  /* commits that failed */
	uint64_t loads;     /* rooms read back */
	double longest_ms;  /* the longest commit (on the writer), in milliseconds */
	double prune_ms;    /* the longest prune step */
	uint64_t pruned;    /* messages deleted by retention */
	double total_ms;    /* all commits */
	double wait_ms;     /* the loop's waits for quick commits (store_turn) */
	double wait_max_ms; /* and the longest of them */
	unsigned down;      /* 1 while room messages are refused */
	unsigned long kept; /* messages waiting for a commit that failed */
	uint64_t log_pages; /* the write-ahead log's length after the last commit */
	unsigned open;      /* a store is open */
};

/* Open (creating it when absent) the store at path; sync_full: fsync each
 * commit.  NULL with the reason, naming the file, in err. */
struct store *store_open(const char *path, int sync_full, char *err, size_t errlen);
/* The hooks to give the core (core_set_store). */
const struct core_store *store_hooks(struct store *st);
/* The writer calls wake(arg), from its thread, when a batch is back:
 * the loop should then call store_turn() soon (an ev_async). */
void store_set_wake(struct store *st, void (*wake)(void *), void *arg);
/* The end of a loop turn: take back a finished batch, hand over what is
 * pending when the writer is idle, and return the batch number this
 * turn's output waits for (store_done() when nothing waits).  With
 * wait_ms > 0, a writer that has been quick is waited for, wait_ms at
 * most, so that the turn's output can leave at once. */
uint32_t store_turn(struct store *st, double wait_ms);
/* The newest batch back from the writer, written or given up on;
 * numbers only grow (modulo 2^32). */
uint32_t store_done(const struct store *st);
/* Whether the last commit failed (room messages are refused). */
int store_down(const struct store *st);
/*
 * Retention: ask the writer to delete, a few chunks at a time, what is
 * older than days (0: no age limit) or beyond the newest keep messages of
 * its room (0: no count limit); whole chunks only, so a room keeps at
 * least that many.  It works for at most budget_ms.
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
