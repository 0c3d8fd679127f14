/*
 * A chunk: a room's messages of one commit, as the store keeps them in
 * one row, a JSON array of [seq, time, sender, text] in seq order.  JSON
 * so that SQLite's json_each can give them back one per row (the view
 * messages) to an operator with sqlite3.
 */
#ifndef CHATD_STORE_CHUNK_H
#define CHATD_STORE_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "core/msg.h"

/* A chunk being written; reused from one chunk to the next. */
struct chunk_buf {
	char *p;
	size_t len;
	size_t cap;
	unsigned n; /* messages added */
};

void chunk_begin(struct chunk_buf *b);
/* Append m; its sender and text are valid UTF-8 without NUL (the core's
 * rule), so only quotes, backslashes and control characters are
 * escaped. */
void chunk_add(struct chunk_buf *b, const struct msg *m);
void chunk_end(struct chunk_buf *b);
void chunk_free(struct chunk_buf *b);

/*
 * Read the messages of body[0, len) with after < seq < before, newest
 * first (oldest set: oldest first), into out[*got, max) as messages of
 * room (name as given, epoch), a reference each; stops at max or at the
 * window's far end.  Returns 0, or -1 when the body is not what
 * chunk_add() writes, consecutive seqs included (the messages already
 * taken stay in out).
 */
int chunk_decode(const char *body, size_t len, const char *room, size_t rn, uint64_t epoch,
                 uint64_t after, uint64_t before, struct msg **out, unsigned *got, unsigned max,
                 int oldest);

#endif
