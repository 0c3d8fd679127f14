/*
 * The SQLite store.  One file in WAL mode: a commit appends to the log
 * (and fsyncs it with store-sync full), readers such as sqlite3's .backup
 * never block the writer, and SQLite folds the log back into the file
 * every thousand pages.  Everything runs on the loop's thread; the
 * measurements behind that choice are in docs/design.md.
 *
 * The schema carries its version in PRAGMA user_version and chatd's mark
 * in PRAGMA application_id, so that another program's database is
 * refused rather than written into.
 */
#include "store/store.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/msg.h"
#include "store/chunk.h"
#include "util/log.h"

#define STORE_APP_ID 0x63686174 /* "chat" */

/* Version 1: rooms and messages.  Kept for the migration from it, and so
 * that a test can build a store as the first chatd that wrote one did. */
static const char schema_v1[] = "CREATE TABLE rooms("
                                " id INTEGER PRIMARY KEY,"
                                " key TEXT NOT NULL UNIQUE," /* the folded name */
                                " name TEXT NOT NULL,"       /* as its creator spelled it */
                                " epoch INTEGER NOT NULL,"
                                " seq INTEGER NOT NULL);" /* the last sequence number given out */
                                "CREATE TABLE messages("
                                " room INTEGER NOT NULL,"
                                " seq INTEGER NOT NULL,"
                                " time INTEGER NOT NULL," /* unix ms */
                                " sender TEXT NOT NULL,"
                                " text TEXT NOT NULL,"
                                " PRIMARY KEY(room, seq)) WITHOUT ROWID;";

/* Each step takes the schema from version i + 1 to i + 2. */
static const char *const migrations[] = {
        schema_v1,
        /*
         * 2: a room's messages of one commit are one row, a chunk, whose
         * body is a JSON array of [seq, time, sender, text]: a row per
         * message cost 4-6 us of CPU each (docs/design.md), more than the
         * fan-out of a message to 50 readers.  The view messages gives
         * them back one per row, for sqlite3 and for people.
         */
        "CREATE TABLE chunks("
        " room INTEGER NOT NULL,"  /* rooms.id */
        " first INTEGER NOT NULL," /* the seq of its first message */
        " last INTEGER NOT NULL,"  /* and of its last */
        " epoch INTEGER NOT NULL,"
        " time INTEGER NOT NULL," /* unix ms of its last message */
        " body TEXT NOT NULL,"    /* [[seq, time, sender, text], ...] */
        " PRIMARY KEY(room, first)) WITHOUT ROWID;"
        "INSERT INTO chunks SELECT m.room, m.seq, m.seq, r.epoch, m.time,"
        " json_array(json_array(m.seq, m.time, m.sender, m.text))"
        " FROM messages m JOIN rooms r ON r.id = m.room;"
        "DROP TABLE messages;"
        "CREATE INDEX chunks_time ON chunks(time);"
        "CREATE VIEW messages(room, seq, epoch, time, sender, text) AS"
        " SELECT r.name, m.value ->> 0, c.epoch, m.value ->> 1, m.value ->> 2, m.value ->> 3"
        " FROM chunks c JOIN rooms r ON r.id = c.room, json_each(c.body) m;",
        /*
         * 3: a room's topic, who set it and when (unix ms), kept with its
         * row; '' and 0 when it has none.  A room may have a row for its
         * topic alone, with seq 0.
         */
        "ALTER TABLE rooms ADD COLUMN topic TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE rooms ADD COLUMN topic_by TEXT NOT NULL DEFAULT '';"
        "ALTER TABLE rooms ADD COLUMN topic_ms INTEGER NOT NULL DEFAULT 0;",
};

/* Messages in one chunk at most: a page back reads one or two. */
#define STORE_CHUNK_MAX 256
/* Pages in the log that make the writer fold it back (SQLite's own
 * default for its automatic checkpoints). */
#define STORE_CHECKPOINT_PAGES 1000
/* Pages left after a pass that the writer may wait for: a few commits'. */
#define STORE_CATCH_UP_PAGES 64
/* How long the writer waits for a lock another program holds on the
 * file before its commit counts as failed. */
#define STORE_BUSY_MS 500
/* Between tries of a store whose last commit failed. */
#define STORE_RETRY_MS 1000.0

/* A message waiting for its commit. */
struct pend {
	struct msg *m;
	char key[CORE_ROOM_MAX + 1]; /* its room's folded name */
	uint8_t key_len;
};

/* Messages in an array. */
struct pends {
	struct pend *v;
	size_t n;
	size_t cap;
};

/* A room's topic waiting for its commit, as it was when set (with what
 * its row needs when the room has none yet). */
struct tpend {
	char key[CORE_ROOM_MAX + 1]; /* the room's folded name */
	uint8_t key_len;
	char name[CORE_ROOM_MAX + 1]; /* as its creator spelled it */
	uint8_t name_len;
	uint8_t by_len;
	uint16_t len;
	uint64_t epoch;
	uint64_t seq;
	uint64_t ms;
	char by[CORE_NICK_MAX + 1];
	char text[CORE_TOPIC_MAX];
};

/* Topics in an array, in the order they were set. */
struct tpends {
	struct tpend *v;
	size_t n;
	size_t cap;
};

struct store {
	char path[256];
	/*
	 * The loop's: its connection, for reads (rooms, pages back), and
	 * the messages accepted since the last batch was handed over.
	 */
	sqlite3 *db;
	sqlite3_stmt *room_get; /* a room by key */
	sqlite3_stmt *range;    /* chunks of a room, newest first */
	sqlite3_stmt *range_up; /* and oldest first */
	struct pends pend;
	struct pends flight;  /* the batch with the writer: read-only till it is back */
	uint32_t last_no;     /* batches are numbered: the newest handed over */
	uint32_t done_no;     /* the newest back (written, or failed) */
	int flying;           /* a batch is with the writer */
	int down;             /* the last commit failed: room messages are refused */
	double last_try;      /* when a batch was last handed over */
	double last_ms;       /* how long the last batch took, handed over to back */
	time_t last_log;      /* when a failure was last logged */
	void (*wake)(void *); /* told, from the writer, that a batch is back */
	void *wake_arg;
	struct core_store hooks;
	/* Topics set since the last batch, and those of the batch in flight
	 * (read-only till it is back), as pend and flight. */
	struct tpends tpend;
	struct tpends tflight;
	/*
	 * The writer's: a thread with its own connection writes each batch
	 * in one transaction, and SQLite's checkpoints follow its commits
	 * there, so that no commit, fsync or checkpoint ever holds the loop
	 * (docs/design.md).
	 */
	sqlite3 *wdb;
	sqlite3_stmt *room_seq;  /* raise a room's seq */
	sqlite3_stmt *room_ins;  /* a room's first row */
	sqlite3_stmt *chunk_ins; /* one chunk */
	sqlite3_stmt *topic_set; /* a room's topic */
	sqlite3_stmt *topic_ins; /* a room's first row, for its topic */
	sqlite3_stmt *begin;     /* BEGIN IMMEDIATE and COMMIT, parsed once */
	sqlite3_stmt *commit;
	sqlite3_stmt *old_del;   /* retention by age: some chunks */
	sqlite3_stmt *rooms_win; /* retention by count: rooms over it, from a cursor */
	sqlite3_stmt *rooms_max; /* the highest room id */
	sqlite3_stmt *room_del;  /* retention by count: some chunks of one room */
	sqlite3_int64 prune_at;  /* the room id the count pass goes on from */
	struct chunk_buf body;   /* a chunk being built */
	/* Between the two, under lock. */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work;
	pthread_cond_t back; /* signalled with finished, for a loop that waits */
	int running;
	int job;      /* flight is to be written */
	int finished; /* and has been: rc, why, ms */
	int waiting;  /* the loop waits for it on back (no wake then) */
	int rc;
	double ms;
	char why[160];
	int prune;     /* a retention pass is asked for: */
	unsigned days; /* its settings */
	unsigned keep;
	uint64_t now_ms;
	double budget_ms;
	int quit;
	/*
	 * The checkpointer: a thread with its own connection folds the log
	 * back into the file, so that the writer's commits only append; a
	 * checkpoint copies megabytes and fsyncs, 10-15 ms that would hold
	 * every acknowledgement waiting (docs/design.md).
	 */
	pthread_t ck_thread;
	pthread_mutex_t ck_lock;
	pthread_cond_t ck_wake;
	int ck_want; /* the log has grown past STORE_CHECKPOINT_PAGES */
	int ck_quit;
	int ck_running;
	sqlite3 *ck_db;
};

/* Written by the writer and the loop, read by /metrics. */
static struct store_stats stats;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

static int writer_open(struct store *st, int sync_full, char *err, size_t errlen);
static void writer_close(struct store *st);

/* Close both connections and free st. */
static void
release(struct store *st)
{
	writer_close(st);
	sqlite3_finalize(st->room_get);
	sqlite3_finalize(st->range);
	sqlite3_finalize(st->range_up);
	sqlite3_close(st->db);
	free(st);
}

static double
now_ms_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void say(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
say(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

/* The value of a one-number PRAGMA or query, or -1. */
static long long
one_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Why the first read of the file failed, in an operator's words: what
 * it is matters, since "not a database" invites deleting a good store. */
static void
unreadable(sqlite3 *db, int rc, const char *path, char *err, size_t n)
{
	int sys = sqlite3_system_errno(db);

	switch (rc & 0xff) {
	case SQLITE_NOTADB:
		say(err, n, "store %s: not a SQLite database", path);
		break;
	case SQLITE_CORRUPT:
		say(err, n, "store %s: damaged: %s (chatd --check-store tells more)", path,
		    sqlite3_errmsg(db));
		break;
	default:
		say(err, n, "store %s: cannot read it: %s%s%s", path, sqlite3_errmsg(db),
		    sys ? ": " : "", sys ? strerror(sys) : "");
		break;
	}
}

/* What the file is: its schema version, or -1 with the reason in err
 * (and *corrupt set when the file is a damaged database). */
static int
identify(sqlite3 *db, const char *path, char *err, size_t n, int *corrupt)
{
	long long app, ver, tables = -1;
	sqlite3_stmt *q;
	int rc;

	*corrupt = 0;
	rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema", -1, &q, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW)
		tables = sqlite3_column_int64(q, 0);
	if (tables < 0)
		unreadable(db, rc, path, err, n);
	sqlite3_finalize(q);
	if (tables < 0) {
		*corrupt = (rc & 0xff) == SQLITE_CORRUPT;
		return -1;
	}
	app = one_int(db, "PRAGMA application_id");
	ver = one_int(db, "PRAGMA user_version");
	if (tables == 0 && app == 0 && ver == 0)
		return 0; /* new and empty: it becomes a store */
	if (app != STORE_APP_ID) {
		say(err, n, "store %s: not a chatd store (a SQLite database of another program)",
		    path);
		return -1;
	}
	if (ver > STORE_SCHEMA) {
		say(err, n,
		    "store %s: schema version %lld is newer than this chatd's (%d); run a newer "
		    "chatd",
		    path, ver, STORE_SCHEMA);
		return -1;
	}
	if (ver < 1) {
		say(err, n, "store %s: a chatd store without a schema version", path);
		return -1;
	}
	return (int)ver;
}

/* Bring the schema from version from to STORE_SCHEMA, in one transaction. */
static int
migrate(sqlite3 *db, int from, const char *path, char *err, size_t n)
{
	char *why = NULL;
	char sql[128];
	int v;

	if (from == STORE_SCHEMA)
		return 0;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &why) != SQLITE_OK)
		goto fail;
	for (v = from; v < STORE_SCHEMA; v++)
		if (sqlite3_exec(db, migrations[v], NULL, NULL, &why) != SQLITE_OK)
			goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d",
	         STORE_APP_ID, STORE_SCHEMA);
	if (sqlite3_exec(db, sql, NULL, NULL, &why) != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, &why) != SQLITE_OK)
		goto fail;
	if (from > 0)
		log_notice("store %s: schema migrated from version %d to %d", path, from,
		           STORE_SCHEMA);
	return 0;
fail:
	say(err, n, "store %s: cannot %s the schema: %s", path, from ? "migrate" : "create",
	    why ? why : sqlite3_errmsg(db));
	sqlite3_free(why);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* PRAGMA quick_check: 0 when it says ok, else -1 with its first line. */
static int
sound(sqlite3 *db, const char *path, char *err, size_t n)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK) {
		say(err, n, "store %s: damaged: %s (chatd --check-store tells more)", path,
		    sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		const char *line = text ? text : "?";
		size_t len;

		/* One line: the first finding, without the "*** in database
		 * main ***" heading that SQLite puts before it. */
		while (strncmp(line, "***", 3) == 0 && strchr(line, '\n'))
			line = strchr(line, '\n') + 1;
		len = strcspn(line, "\n");
		if (strcmp(line, "ok") == 0)
			rc = 0;
		else
			say(err, n, "store %s: damaged: %.*s (chatd --check-store tells more)",
			    path, (int)(len > 200 ? 200 : len), line);
	} else {
		say(err, n, "store %s: damaged: %s (chatd --check-store tells more)", path,
		    sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return rc;
}

static int
hook_writable(void *arg)
{
	const struct store *st = arg;

	return !st->down;
}

/* The array v of *cap elements of size bytes, n in use, with room for one
 * more: doubled when full (first: its first capacity). */
static void *
grow(void *v, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t want = *cap ? *cap * 2 : first;

	if (n < *cap)
		return v;
	if ((v = realloc(v, want * size)) == NULL)
		fatal("out of memory (store)");
	*cap = want;
	return v;
}

static void
pends_add(struct pends *a, const struct pend *p)
{
	a->v = grow(a->v, &a->cap, a->n, sizeof(*a->v), 256);
	a->v[a->n++] = *p;
}

static void
hook_message(void *arg, const struct room *r, struct msg *m)
{
	struct store *st = arg;
	struct pend p;

	p.m = msg_ref(m);
	p.key_len = (uint8_t)room_name_len(r);
	memcpy(p.key, room_key(r), p.key_len + 1u);
	pends_add(&st->pend, &p);
}

static void
tpends_add(struct tpends *a, const struct tpend *t)
{
	a->v = grow(a->v, &a->cap, a->n, sizeof(*a->v), 8);
	a->v[a->n++] = *t;
}

static void
hook_topic(void *arg, const struct room *r)
{
	struct store *st = arg;
	const char *text, *by;
	struct tpend t;
	size_t n;

	memset(&t, 0, sizeof(t));
	text = room_topic(r, &n, &by, &t.ms);
	t.key_len = (uint8_t)room_name_len(r);
	memcpy(t.key, room_key(r), t.key_len + 1u);
	t.name_len = t.key_len;
	memcpy(t.name, room_name(r), t.name_len);
	t.epoch = room_epoch(r);
	t.seq = room_last_seq(r);
	t.len = (uint16_t)n;
	memcpy(t.text, text, n);
	t.by_len = (uint8_t)strlen(by);
	memcpy(t.by, by, t.by_len);
	tpends_add(&st->tpend, &t);
}

/* The room's newest topic not yet known written, or NULL. */
static const struct tpend *
topic_pending(const struct store *st, const char *key, size_t n)
{
	size_t i;

	for (i = st->tflight.n + st->tpend.n; i-- > 0;) {
		const struct tpend *t =
		        i < st->tflight.n ? &st->tflight.v[i] : &st->tpend.v[i - st->tflight.n];

		if (t->key_len == n && memcmp(t->key, key, n) == 0)
			return t;
	}
	return NULL;
}

/* Whether anything waits to be handed to the writer. */
static int
waiting(const struct store *st)
{
	return st->pend.n || st->tpend.n;
}

/* The messages not yet known written, oldest first: the batch with the
 * writer (which may be in the file already), then those since. */
static size_t
npending(const struct store *st)
{
	return st->flight.n + st->pend.n;
}

static const struct pend *
pending_at(const struct store *st, size_t i)
{
	return i < st->flight.n ? &st->flight.v[i] : &st->pend.v[i - st->flight.n];
}

/* The newest of the room's messages not yet known written, or NULL: what
 * the file says of the room is then not the whole story, and every read
 * adds them. */
static const struct msg *
pending_newest(const struct store *st, const char *key, size_t n)
{
	size_t i;

	for (i = npending(st); i-- > 0;) {
		const struct pend *p = pending_at(st, i);

		if (p->key_len == n && memcmp(p->key, key, n) == 0)
			return p->m;
	}
	return NULL;
}

/* The topic columns (3, 4, 5) of a room_get row into out: SQLITE_ROW, or
 * SQLITE_CORRUPT when they do not fit. */
static int
topic_column(sqlite3_stmt *q, struct core_stored_room *out)
{
	const char *text = (const char *)sqlite3_column_text(q, 3);
	int len = sqlite3_column_bytes(q, 3);
	const char *by = (const char *)sqlite3_column_text(q, 4);
	int blen = sqlite3_column_bytes(q, 4);

	out->topic_len = 0;
	out->topic_by_len = 0;
	out->topic_by[0] = '\0';
	out->topic_ms = 0;
	if (len == 0)
		return SQLITE_ROW;
	if (text == NULL || by == NULL || len > CORE_TOPIC_MAX || blen > CORE_NICK_MAX)
		return SQLITE_CORRUPT;
	memcpy(out->topic, text, (size_t)len);
	out->topic_len = (uint16_t)len;
	memcpy(out->topic_by, by, (size_t)blen);
	out->topic_by[blen] = '\0';
	out->topic_by_len = (uint8_t)blen;
	out->topic_ms = (uint64_t)sqlite3_column_int64(q, 5);
	return SQLITE_ROW;
}

static int
hook_room_load(void *arg, const char *key, size_t n, struct core_stored_room *out)
{
	struct store *st = arg;
	sqlite3_stmt *q = st->room_get;
	const struct msg *last = pending_newest(st, key, n);
	const struct tpend *topic = topic_pending(st, key, n);
	int rc;

	sqlite3_bind_text(q, 1, key, (int)n, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 0);
		int len = sqlite3_column_bytes(q, 0);

		if (name == NULL || len <= 0 || len > CORE_ROOM_MAX) {
			rc = SQLITE_CORRUPT;
		} else {
			memcpy(out->name, name, (size_t)len);
			out->name[len] = '\0';
			out->name_len = (uint8_t)len;
			out->epoch = (uint64_t)sqlite3_column_int64(q, 1);
			out->seq = (uint64_t)sqlite3_column_int64(q, 2);
			rc = topic_column(q, out);
			stats.loads++;
		}
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc == SQLITE_DONE && last) {
		/* Freed from memory before its first commit went through. */
		memcpy(out->name, last->room, last->room_len);
		out->name[last->room_len] = '\0';
		out->name_len = last->room_len;
		out->epoch = last->epoch;
		rc = SQLITE_ROW;
	}
	if (rc == SQLITE_DONE && topic) {
		/* Freed before the commit of its topic, its only row. */
		memcpy(out->name, topic->name, topic->name_len);
		out->name[topic->name_len] = '\0';
		out->name_len = topic->name_len;
		out->epoch = topic->epoch;
		out->seq = topic->seq;
		rc = SQLITE_ROW;
	}
	if (rc == SQLITE_ROW && last && last->seq > out->seq)
		out->seq = last->seq;
	if (rc == SQLITE_ROW && topic) {
		memcpy(out->topic, topic->text, topic->len);
		out->topic_len = topic->len;
		memcpy(out->topic_by, topic->by, topic->by_len);
		out->topic_by[topic->by_len] = '\0';
		out->topic_by_len = topic->by_len;
		out->topic_ms = topic->ms;
	}
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_warn("store %s: cannot read room %.*s: %s", st->path, (int)n, key, sqlite3_errstr(rc));
	return -1;
}

/* Whether a pending message is of that room and epoch. */
static int
pend_of(const struct pend *p, const char *key, size_t n, uint64_t epoch)
{
	return p->key_len == n && memcmp(p->key, key, n) == 0 && p->m->epoch == epoch;
}

/* The chunks of the window, in the query's order, into out; the store
 * error, or SQLITE_DONE. */
static int
from_chunks(sqlite3_stmt *q, const char *key, size_t n, uint64_t epoch, uint64_t after,
            uint64_t before, struct msg **out, unsigned *got, unsigned max, int oldest)
{
	int rc = SQLITE_DONE;

	if (before <= after + 1)
		return rc;
	sqlite3_bind_text(q, 1, key, (int)n, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)epoch);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)after);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)before);
	/* Chunk by chunk until enough: a page reads one or two. */
	while (*got < max && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *room = (const char *)sqlite3_column_text(q, 0);
		int rn = sqlite3_column_bytes(q, 0);
		const char *body = (const char *)sqlite3_column_text(q, 1);
		int bn = sqlite3_column_bytes(q, 1);
		unsigned had = *got;

		if (room == NULL || body == NULL || rn > CORE_ROOM_MAX ||
		    chunk_decode(body, (size_t)bn, room, (size_t)rn, epoch, after, before, out, got,
		                 max, oldest) < 0 ||
		    (had && *got > had &&
		     (oldest ? out[had]->seq <= out[had - 1]->seq
		             : out[had]->seq >= out[had - 1]->seq))) {
			/* Chunks that overlap: not what chatd wrote, and a ring
			 * must hold each seq once. */
			rc = SQLITE_CORRUPT;
			break;
		}
	}
	if (*got == max)
		rc = SQLITE_DONE;
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

static int
hook_range(void *arg, const char *key, size_t n, uint64_t epoch, uint64_t after, uint64_t before,
           struct msg **out, unsigned max, int oldest)
{
	struct store *st = arg;
	unsigned got = 0;
	size_t i;
	uint64_t low = before; /* the oldest pending message in the window */
	int rc;

	if (before <= after + 1 || max == 0)
		return 0;
	/* The messages not yet written are the room's newest: the file is
	 * asked only for what is older than they are. */
	for (i = 0; i < npending(st); i++) {
		const struct pend *p = pending_at(st, i);

		if (pend_of(p, key, n, epoch) && p->m->seq > after && p->m->seq < low)
			low = p->m->seq;
	}
	if (oldest) {
		rc = from_chunks(st->range_up, key, n, epoch, after, low, out, &got, max, 1);
		for (i = 0; rc == SQLITE_DONE && i < npending(st) && got < max; i++) {
			const struct pend *p = pending_at(st, i);

			if (pend_of(p, key, n, epoch) && p->m->seq >= low && p->m->seq < before)
				out[got++] = msg_ref(p->m);
		}
	} else {
		for (i = npending(st); i-- > 0 && got < max;) {
			const struct pend *p = pending_at(st, i);

			if (pend_of(p, key, n, epoch) && p->m->seq >= low && p->m->seq < before)
				out[got++] = msg_ref(p->m);
		}
		rc = from_chunks(st->range, key, n, epoch, after, low, out, &got, max, 0);
	}
	if (rc != SQLITE_DONE) {
		log_warn("store %s: cannot read room %.*s: %s", st->path, (int)n, key,
		         sqlite3_errstr(rc));
		while (got)
			msg_unref(out[--got]);
		return -1;
	}
	/* Newest first as read; oldest first to the caller. */
	for (i = 0; !oldest && i < got / 2; i++) {
		struct msg *t = out[i];

		out[i] = out[got - 1 - i];
		out[got - 1 - i] = t;
	}
	return (int)got;
}

/* Step a statement that returns no rows and ready it for the next time:
 * SQLITE_OK or the error. */
static int
run(sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);

	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
prepare(sqlite3 *db, sqlite3_stmt **q, const char *sql)
{
	return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, q, NULL);
}

struct store *
store_open(const char *path, int sync_full, char *err, size_t errlen)
{
	struct store *st = calloc(1, sizeof(*st));
	int ver, rc, corrupt;

	if (st == NULL) {
		say(err, errlen, "store %s: out of memory", path);
		return NULL;
	}
	snprintf(st->path, sizeof(st->path), "%s", path);
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		int sys = st->db ? sqlite3_system_errno(st->db) : 0;

		say(err, errlen, "store %s: cannot open: %s%s%s", path,
		    st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc), sys ? ": " : "",
		    sys ? strerror(sys) : "");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	if ((ver = identify(st->db, path, err, errlen, &corrupt)) < 0)
		goto fail;
	if (ver > 0 && sound(st->db, path, err, errlen) < 0)
		goto fail;
	/* WAL: a commit appends to one file; readers do not block it. */
	if (sqlite3_exec(st->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK) {
		say(err, errlen, "store %s: cannot use a write-ahead log: %s", path,
		    sqlite3_errmsg(st->db));
		goto fail;
	}
	if (migrate(st->db, ver, path, err, errlen) < 0)
		goto fail;
	if (prepare(st->db, &st->room_get,
	            "SELECT name, epoch, seq, topic, topic_by, topic_ms "
	            "FROM rooms WHERE key = ?1") ||
	    prepare(st->db, &st->range,
	            "SELECT r.name, c.body FROM rooms r JOIN chunks c ON c.room = r.id "
	            "WHERE r.key = ?1 AND c.epoch = ?2 AND c.last > ?3 AND c.first < ?4 "
	            "ORDER BY c.first DESC") ||
	    prepare(st->db, &st->range_up,
	            "SELECT r.name, c.body FROM rooms r JOIN chunks c ON c.room = r.id "
	            "WHERE r.key = ?1 AND c.epoch = ?2 AND c.last > ?3 AND c.first < ?4 "
	            "ORDER BY c.first")) {
		say(err, errlen, "store %s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	if (writer_open(st, sync_full, err, errlen) < 0)
		goto fail;
	st->hooks = (struct core_store){.room_load = hook_room_load,
	                                .range = hook_range,
	                                .message = hook_message,
	                                .topic = hook_topic,
	                                .writable = hook_writable,
	                                .arg = st};
	memset(&stats, 0, sizeof(stats));
	stats.open = 1;
	log_notice("store %s: schema %d, %lld rooms, sync %s", path, STORE_SCHEMA,
	           one_int(st->db, "SELECT count(*) FROM rooms"), sync_full ? "full" : "normal");
	return st;
fail:
	release(st);
	return NULL;
}

const struct core_store *
store_hooks(struct store *st)
{
	return &st->hooks;
}

size_t
store_pending(const struct store *st)
{
	return npending(st);
}

/* Rooms together, each in its order: one room row a room a turn. */
static int
by_room(const void *a, const void *b)
{
	const struct pend *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return x->m->seq < y->m->seq ? -1 : x->m->seq > y->m->seq;
}

/* One chunk: the messages pend[i, j) of one room, in seq order. */
static int
write_chunk(struct store *st, const struct pend *room, size_t i, size_t j)
{
	const struct msg *first = st->flight.v[i].m, *last = st->flight.v[j - 1].m;
	size_t k;

	chunk_begin(&st->body);
	for (k = i; k < j; k++)
		chunk_add(&st->body, st->flight.v[k].m);
	chunk_end(&st->body);
	sqlite3_bind_text(st->chunk_ins, 1, room->key, room->key_len, SQLITE_STATIC);
	sqlite3_bind_int64(st->chunk_ins, 2, (sqlite3_int64)first->seq);
	sqlite3_bind_int64(st->chunk_ins, 3, (sqlite3_int64)last->seq);
	sqlite3_bind_int64(st->chunk_ins, 4, (sqlite3_int64)first->epoch);
	sqlite3_bind_int64(st->chunk_ins, 5, (sqlite3_int64)last->time_ms);
	sqlite3_bind_text(st->chunk_ins, 6, st->body.p, (int)st->body.len, SQLITE_STATIC);
	return run(st->chunk_ins);
}

/* Raise the room's seq to last, or give the room its row. */
static int
write_room(struct store *st, const struct pend *room, uint64_t last)
{
	int rc;

	sqlite3_bind_text(st->room_seq, 1, room->key, room->key_len, SQLITE_STATIC);
	sqlite3_bind_int64(st->room_seq, 2, (sqlite3_int64)last);
	rc = run(st->room_seq);
	if (rc != SQLITE_OK || sqlite3_changes(st->wdb) > 0)
		return rc;
	sqlite3_bind_text(st->room_ins, 1, room->key, room->key_len, SQLITE_STATIC);
	sqlite3_bind_text(st->room_ins, 2, room->m->room, room->m->room_len, SQLITE_STATIC);
	sqlite3_bind_int64(st->room_ins, 3, (sqlite3_int64)room->m->epoch);
	sqlite3_bind_int64(st->room_ins, 4, (sqlite3_int64)last);
	return run(st->room_ins);
}

/* A room's topic into its row, or its first row with it. */
static int
write_topic(struct store *st, const struct tpend *t)
{
	int rc;

	sqlite3_bind_text(st->topic_set, 1, t->key, t->key_len, SQLITE_STATIC);
	sqlite3_bind_text(st->topic_set, 2, t->text, t->len, SQLITE_STATIC);
	sqlite3_bind_text(st->topic_set, 3, t->by, t->by_len, SQLITE_STATIC);
	sqlite3_bind_int64(st->topic_set, 4, (sqlite3_int64)t->ms);
	rc = run(st->topic_set);
	if (rc != SQLITE_OK || sqlite3_changes(st->wdb) > 0)
		return rc;
	sqlite3_bind_text(st->topic_ins, 1, t->key, t->key_len, SQLITE_STATIC);
	sqlite3_bind_text(st->topic_ins, 2, t->name, t->name_len, SQLITE_STATIC);
	sqlite3_bind_int64(st->topic_ins, 3, (sqlite3_int64)t->epoch);
	sqlite3_bind_int64(st->topic_ins, 4, (sqlite3_int64)t->seq);
	sqlite3_bind_text(st->topic_ins, 5, t->text, t->len, SQLITE_STATIC);
	sqlite3_bind_text(st->topic_ins, 6, t->by, t->by_len, SQLITE_STATIC);
	sqlite3_bind_int64(st->topic_ins, 7, (sqlite3_int64)t->ms);
	return run(st->topic_ins);
}

/* The turn's messages in the open transaction: per room, its row's seq
 * raised to its last one, and its messages in chunks; then the topics
 * set, in order, the last of a room winning. */
static int
write_all(struct store *st)
{
	size_t i = 0, j, k;
	int rc = SQLITE_OK;

	while (i < st->flight.n && rc == SQLITE_OK) {
		for (j = i + 1;
		     j < st->flight.n && strcmp(st->flight.v[j].key, st->flight.v[i].key) == 0; j++)
			;
		rc = write_room(st, &st->flight.v[i], st->flight.v[j - 1].m->seq);
		for (k = i; k < j && rc == SQLITE_OK; k += STORE_CHUNK_MAX)
			rc = write_chunk(st, &st->flight.v[i], k,
			                 j - k > STORE_CHUNK_MAX ? k + STORE_CHUNK_MAX : j);
		i = j;
	}
	for (i = 0; i < st->tflight.n && rc == SQLITE_OK; i++)
		rc = write_topic(st, &st->tflight.v[i]);
	return rc;
}

/* Chunks deleted in one step: a step is one short transaction. */
#define PRUNE_BATCH 16
/* Room ids one step looks at for retention by count. */
#define PRUNE_ROOMS 256

/* Run a DELETE ... RETURNING its chunks' sizes; how many chunks it
 * deleted, or -1. */
static int
deleted(sqlite3_stmt *q)
{
	int n = 0, rc;

	uint64_t gone = 0;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		gone += (uint64_t)sqlite3_column_int64(q, 0);
		n++;
	}
	pthread_mutex_lock(&stats_lock);
	stats.pruned += gone;
	pthread_mutex_unlock(&stats_lock);
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc == SQLITE_DONE ? n : -1;
}

/* One step: a transaction deleting at most PRUNE_BATCH chunks.  Returns
 * how many, or -1. */
static int
prune_step(struct store *st, unsigned days, unsigned keep, uint64_t now_ms)
{
	int n = 0;

	if (run(st->begin) != SQLITE_OK)
		return -1;
	if (days) {
		uint64_t age = (uint64_t)days * 86400000u;

		sqlite3_bind_int64(st->old_del, 1,
		                   (sqlite3_int64)(now_ms > age ? now_ms - age : 0));
		sqlite3_bind_int(st->old_del, 2, PRUNE_BATCH);
		n = deleted(st->old_del);
	}
	if (n == 0 && keep) {
		/* The rooms over the count, a window of room ids at a time from
		 * where the last step stopped, round and round: a room's oldest
		 * chunk is its first (chunks do not overlap), found in its key,
		 * so a step costs a look per room of the window, never a scan. */
		sqlite3_bind_int64(st->rooms_win, 1, st->prune_at);
		sqlite3_bind_int64(st->rooms_win, 2, keep);
		sqlite3_bind_int64(st->rooms_win, 3, st->prune_at + PRUNE_ROOMS);
		while (n >= 0 && n < PRUNE_BATCH && sqlite3_step(st->rooms_win) == SQLITE_ROW) {
			sqlite3_int64 room = sqlite3_column_int64(st->rooms_win, 0);
			sqlite3_int64 seq = sqlite3_column_int64(st->rooms_win, 1);
			int k;

			sqlite3_bind_int64(st->room_del, 1, room);
			sqlite3_bind_int64(st->room_del, 2, seq - keep);
			sqlite3_bind_int(st->room_del, 3, PRUNE_BATCH - n);
			k = deleted(st->room_del);
			n = k < 0 ? -1 : n + k;
			st->prune_at = room;
		}
		if (n == 0) {
			/* Nothing in this window: the next one, or from the start. */
			sqlite3_int64 top = sqlite3_step(st->rooms_max) == SQLITE_ROW
			                            ? sqlite3_column_int64(st->rooms_max, 0)
			                            : 0;

			sqlite3_reset(st->rooms_max);
			st->prune_at =
			        st->prune_at + PRUNE_ROOMS < top ? st->prune_at + PRUNE_ROOMS : 0;
		}
		sqlite3_reset(st->rooms_win);
		sqlite3_clear_bindings(st->rooms_win);
	}
	if (n < 0 || run(st->commit) != SQLITE_OK) {
		sqlite3_exec(st->wdb, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return n;
}

/* Retention for at most budget_ms, on the writer. */
static void
prune_run(struct store *st, unsigned days, unsigned keep, double budget_ms, uint64_t now_ms)
{
	double t0 = now_ms_mono(), t = t0;

	while (t - t0 < budget_ms) {
		double t1 = t;
		int n = prune_step(st, days, keep, now_ms);

		t = now_ms_mono();
		pthread_mutex_lock(&stats_lock);
		if (t - t1 > stats.prune_ms)
			stats.prune_ms = t - t1;
		pthread_mutex_unlock(&stats_lock);
		if (n <= 0)
			break;
	}
}

/* Write the batch in flight in one transaction, on the writer: SQLITE_OK
 * or the error, its words in why. */
static int
write_batch(struct store *st, char *why, size_t n)
{
	double t0 = now_ms_mono(), ms;
	int rc = run(st->begin);

	if (rc == SQLITE_OK)
		rc = write_all(st);
	if (rc == SQLITE_OK)
		rc = run(st->commit);
	if (rc != SQLITE_OK) {
		/* The cause, before the rollback puts its own words there. */
		snprintf(why, n, "%s", sqlite3_errmsg(st->wdb));
		sqlite3_exec(st->wdb, "ROLLBACK", NULL, NULL, NULL);
	}
	ms = now_ms_mono() - t0;
	pthread_mutex_lock(&stats_lock);
	if (ms > stats.longest_ms)
		stats.longest_ms = ms;
	stats.total_ms += ms;
	pthread_mutex_unlock(&stats_lock);
	return rc;
}

static void *
writer(void *arg)
{
	struct store *st = arg;
	char why[sizeof(st->why)];

	pthread_mutex_lock(&st->lock);
	for (;;) {
		while (!st->job && !st->prune && !st->quit)
			pthread_cond_wait(&st->work, &st->lock);
		if (st->job) {
			double ms;
			int rc;

			pthread_mutex_unlock(&st->lock);
			why[0] = '\0';
			ms = now_ms_mono();
			rc = write_batch(st, why, sizeof(why));
			ms = now_ms_mono() - ms;
			pthread_mutex_lock(&st->lock);
			st->job = 0;
			st->finished = 1;
			st->rc = rc;
			st->ms = ms;
			memcpy(st->why, why, sizeof(why));
			if (st->waiting)
				pthread_cond_signal(&st->back);
			else if (st->wake)
				st->wake(st->wake_arg);
		} else if (st->prune) {
			unsigned days = st->days, keep = st->keep;
			uint64_t now = st->now_ms;
			double budget = st->budget_ms;

			st->prune = 0;
			pthread_mutex_unlock(&st->lock);
			prune_run(st, days, keep, budget, now);
			pthread_mutex_lock(&st->lock);
		} else {
			break;
		}
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

static void *
checkpointer(void *arg)
{
	struct store *st = arg;
	int log, done;

	pthread_mutex_lock(&st->ck_lock);
	for (;;) {
		while (!st->ck_want && !st->ck_quit)
			pthread_cond_wait(&st->ck_wake, &st->ck_lock);
		if (st->ck_quit)
			break;
		st->ck_want = 0;
		pthread_mutex_unlock(&st->ck_lock);
		/* PASSIVE: what no reader still needs, never waiting for one or
		 * for the writer.  But the log starts again from its beginning
		 * only when a commit finds it all copied back, which a writer
		 * committing all the time can keep from happening.  So once a
		 * pass has nearly caught up, RESTART copies the rest with the
		 * writer locked out for a moment, and its next commit begins
		 * the log again.  A failure (a full disk) is the commits' to
		 * report. */
		if (sqlite3_wal_checkpoint_v2(st->ck_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
		                              &done) == SQLITE_OK &&
		    log > done && log - done <= STORE_CATCH_UP_PAGES)
			(void)sqlite3_wal_checkpoint_v2(st->ck_db, NULL, SQLITE_CHECKPOINT_RESTART,
			                                NULL, NULL);
		pthread_mutex_lock(&st->ck_lock);
	}
	pthread_mutex_unlock(&st->ck_lock);
	return NULL;
}

/* After each of the writer's commits: the log's length, for /metrics,
 * and the checkpointer woken when it is long enough (a hook replaces
 * SQLite's own checkpoints). */
static int
wal_grew(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *st = arg;

	(void)db;
	(void)name;
	pthread_mutex_lock(&stats_lock);
	stats.log_pages = (uint64_t)pages;
	pthread_mutex_unlock(&stats_lock);
	if (pages >= STORE_CHECKPOINT_PAGES && st->ck_running) {
		pthread_mutex_lock(&st->ck_lock);
		st->ck_want = 1;
		pthread_cond_signal(&st->ck_wake);
		pthread_mutex_unlock(&st->ck_lock);
	} else if (pages >= STORE_CHECKPOINT_PAGES) {
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	}
	return SQLITE_OK;
}

static void
checkpointer_start(struct store *st)
{
	pthread_mutex_init(&st->ck_lock, NULL);
	pthread_cond_init(&st->ck_wake, NULL);
	/* A connection learns that the file is in WAL mode when it first
	 * reads it; until then a checkpoint through it does nothing at all
	 * (log and done are -1), and the log grew without end. */
	if (sqlite3_open_v2(st->path, &st->ck_db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    one_int(st->ck_db, "PRAGMA user_version") < 0 ||
	    pthread_create(&st->ck_thread, NULL, checkpointer, st) != 0) {
		log_warn("store %s: no checkpoint thread; the writer will checkpoint", st->path);
		sqlite3_close(st->ck_db);
		st->ck_db = NULL;
		return;
	}
	/* RESTART waits for the writer and for readers of older snapshots (a
	 * backup) while it holds the log: give up soon, as PASSIVE would. */
	sqlite3_busy_timeout(st->ck_db, 10);
	st->ck_running = 1;
}

/* Tell a thread waiting on cv to quit, and wait for it to end. */
static void
thread_stop(pthread_t t, pthread_mutex_t *lock, pthread_cond_t *cv, int *quit, int *running)
{
	if (!*running)
		return;
	pthread_mutex_lock(lock);
	*quit = 1;
	pthread_cond_signal(cv);
	pthread_mutex_unlock(lock);
	pthread_join(t, NULL);
	*running = 0;
}

static void
checkpointer_stop(struct store *st)
{
	if (!st->ck_running)
		return;
	thread_stop(st->ck_thread, &st->ck_lock, &st->ck_wake, &st->ck_quit, &st->ck_running);
	sqlite3_close(st->ck_db);
	st->ck_db = NULL;
	st->ck_running = 0;
}

static int
writer_open(struct store *st, int sync_full, char *err, size_t errlen)
{
	char sql[64];

	/* A connection learns that the file is in WAL mode when it first
	 * reads it (user_version here). */
	if (sqlite3_open_v2(st->path, &st->wdb, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    one_int(st->wdb, "PRAGMA user_version") < 0) {
		say(err, errlen, "store %s: cannot open: %s", st->path,
		    st->wdb ? sqlite3_errmsg(st->wdb) : "out of memory");
		return -1;
	}
	sqlite3_extended_result_codes(st->wdb, 1);
	sqlite3_busy_timeout(st->wdb, STORE_BUSY_MS);
	snprintf(sql, sizeof(sql), "PRAGMA synchronous = %s", sync_full ? "FULL" : "NORMAL");
	sqlite3_exec(st->wdb, sql, NULL, NULL, NULL);
	/* A log that a burst grew past twice its usual length is cut back
	 * when it begins again, not kept for good. */
	snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit = %d",
	         2 * STORE_CHECKPOINT_PAGES * 4096);
	sqlite3_exec(st->wdb, sql, NULL, NULL, NULL);
	/* No RETURNING in the statements of every commit: SQLite gathers its
	 * rows in a temporary table whose page cache is mapped and unmapped
	 * each time, which was a third of a commit's cost. */
	if (prepare(st->wdb, &st->room_seq, "UPDATE rooms SET seq = max(seq, ?2) WHERE key = ?1") ||
	    prepare(st->wdb, &st->room_ins,
	            "INSERT INTO rooms(key, name, epoch, seq) VALUES(?1, ?2, ?3, ?4)") ||
	    prepare(st->wdb, &st->topic_set,
	            "UPDATE rooms SET topic = ?2, topic_by = ?3, topic_ms = ?4 WHERE key = ?1") ||
	    prepare(st->wdb, &st->topic_ins,
	            "INSERT INTO rooms(key, name, epoch, seq, topic, topic_by, topic_ms) "
	            "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)") ||
	    prepare(st->wdb, &st->chunk_ins,
	            "INSERT INTO chunks(room, first, last, epoch, time, body) "
	            "VALUES((SELECT id FROM rooms WHERE key = ?1), ?2, ?3, ?4, ?5, ?6)") ||
	    prepare(st->wdb, &st->begin, "BEGIN IMMEDIATE") ||
	    prepare(st->wdb, &st->commit, "COMMIT") ||
	    prepare(st->wdb, &st->old_del,
	            "DELETE FROM chunks WHERE (room, first) IN (SELECT room, first FROM chunks "
	            "WHERE time < ?1 LIMIT ?2) RETURNING last - first + 1") ||
	    prepare(st->wdb, &st->rooms_win,
	            "SELECT r.id, r.seq FROM rooms r WHERE r.id > ?1 AND r.id <= ?3 AND (SELECT "
	            "c.last FROM chunks c WHERE c.room = r.id ORDER BY c.first LIMIT 1) <= "
	            "r.seq - ?2 ORDER BY r.id") ||
	    prepare(st->wdb, &st->rooms_max, "SELECT coalesce(max(id), 0) FROM rooms") ||
	    prepare(st->wdb, &st->room_del,
	            "DELETE FROM chunks WHERE room = ?1 AND first IN (SELECT first FROM chunks "
	            "WHERE room = ?1 AND last <= ?2 ORDER BY first LIMIT ?3) "
	            "RETURNING last - first + 1")) {
		say(err, errlen, "store %s: %s", st->path, sqlite3_errmsg(st->wdb));
		return -1;
	}
	checkpointer_start(st);
	sqlite3_wal_hook(st->wdb, wal_grew, st);
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->work, NULL);
	{
		pthread_condattr_t a;

		pthread_condattr_init(&a);
		pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
		pthread_cond_init(&st->back, &a);
		pthread_condattr_destroy(&a);
	}
	if (pthread_create(&st->thread, NULL, writer, st) != 0) {
		say(err, errlen, "store %s: cannot start its writer thread", st->path);
		return -1;
	}
	st->running = 1;
	return 0;
}

/* Stop the writer once it has done what it was given. */
static void
writer_stop(struct store *st)
{
	thread_stop(st->thread, &st->lock, &st->work, &st->quit, &st->running);
}

/* And close its connection. */
static void
writer_close(struct store *st)
{
	writer_stop(st);
	checkpointer_stop(st);
	sqlite3_finalize(st->room_seq);
	sqlite3_finalize(st->room_ins);
	sqlite3_finalize(st->chunk_ins);
	sqlite3_finalize(st->topic_set);
	sqlite3_finalize(st->topic_ins);
	sqlite3_finalize(st->begin);
	sqlite3_finalize(st->commit);
	sqlite3_finalize(st->old_del);
	sqlite3_finalize(st->rooms_win);
	sqlite3_finalize(st->rooms_max);
	sqlite3_finalize(st->room_del);
	sqlite3_close(st->wdb);
	st->wdb = NULL;
	chunk_free(&st->body);
}

void
store_set_wake(struct store *st, void (*wake)(void *), void *arg)
{
	pthread_mutex_lock(&st->lock);
	st->wake = wake;
	st->wake_arg = arg;
	pthread_mutex_unlock(&st->lock);
}

/* Make what is pending the batch in flight, rooms together, each in its
 * order (mostly one room, in order already). */
static void
take(struct store *st)
{
	struct pends t = st->flight;
	struct tpends tt = st->tflight;
	size_t i;

	st->flight = st->pend;
	st->pend = t;
	st->pend.n = 0;
	st->tflight = st->tpend;
	st->tpend = tt;
	st->tpend.n = 0;
	for (i = 1; i < st->flight.n && by_room(&st->flight.v[i - 1], &st->flight.v[i]) < 0; i++)
		;
	if (i < st->flight.n)
		qsort(st->flight.v, st->flight.n, sizeof(*st->flight.v), by_room);
}

/* Give the writer what is pending: the loop's, when it is idle. */
static void
handoff(struct store *st)
{
	take(st);
	st->last_no++;
	st->flying = 1;
	st->last_try = now_ms_mono();
	pthread_mutex_lock(&st->lock);
	st->job = 1;
	pthread_cond_signal(&st->work);
	pthread_mutex_unlock(&st->lock);
}

/* Take back the batch the writer finished, if it has. */
static void
reap(struct store *st)
{
	size_t i;
	int rc;

	pthread_mutex_lock(&st->lock);
	if (!st->finished) {
		pthread_mutex_unlock(&st->lock);
		return;
	}
	st->finished = 0;
	rc = st->rc;
	st->last_ms = st->ms;
	pthread_mutex_unlock(&st->lock);
	st->flying = 0;
	st->done_no = st->last_no;
	if (rc == SQLITE_OK) {
		if (st->down)
			log_notice("store %s: writable again; %zu kept messages written", st->path,
			           st->flight.n);
		pthread_mutex_lock(&stats_lock);
		stats.commits++;
		stats.rows += st->flight.n;
		stats.down = 0;
		stats.kept = 0;
		pthread_mutex_unlock(&stats_lock);
		st->down = 0;
		for (i = 0; i < st->flight.n; i++)
			msg_unref(st->flight.v[i].m);
		st->flight.n = 0;
		st->tflight.n = 0;
		return;
	}
	/* Failed (a full disk): the batch is kept, ahead of what came since,
	 * and written first when the store takes writes again.  The output
	 * that waited for it goes, and room messages are refused meanwhile
	 * (docs/design.md); the number of the batch that was gathering is
	 * given up too, so that nothing waits for it. */
	for (i = 0; i < st->pend.n; i++)
		pends_add(&st->flight, &st->pend.v[i]);
	{
		struct pends t = st->pend;

		st->pend = st->flight;
		st->flight = t;
		st->flight.n = 0;
	}
	for (i = 0; i < st->tpend.n; i++)
		tpends_add(&st->tflight, &st->tpend.v[i]);
	{
		struct tpends t = st->tpend;

		st->tpend = st->tflight;
		st->tflight = t;
		st->tflight.n = 0;
	}
	st->last_no++;
	st->done_no = st->last_no;
	pthread_mutex_lock(&stats_lock);
	stats.failures++;
	stats.down = 1;
	stats.kept = st->pend.n;
	pthread_mutex_unlock(&stats_lock);
	/* Once a minute at most: a full disk fails every second. */
	if (!st->down || time(NULL) - st->last_log >= 60) {
		log_err("store %s: cannot write: %s; room messages are refused until it "
		        "can (%zu kept to write then)",
		        st->path, st->why, st->pend.n);
		st->last_log = time(NULL);
	}
	st->down = 1;
}

/* Wait for the writer to give its batch back, until the monotonic time
 * until (ms); whether it has. */
static int
await_back(struct store *st, double until)
{
	struct timespec ts;
	int back;
	double t0 = now_ms_mono(), ms;

	ts.tv_sec = (time_t)(until / 1000.0);
	ts.tv_nsec = (long)((until - (double)ts.tv_sec * 1000.0) * 1e6);
	pthread_mutex_lock(&st->lock);
	st->waiting = 1;
	while (!st->finished && pthread_cond_timedwait(&st->back, &st->lock, &ts) == 0)
		;
	st->waiting = 0;
	back = st->finished;
	pthread_mutex_unlock(&st->lock);
	ms = now_ms_mono() - t0;
	pthread_mutex_lock(&stats_lock);
	stats.wait_ms += ms;
	if (ms > stats.wait_max_ms)
		stats.wait_max_ms = ms;
	pthread_mutex_unlock(&stats_lock);
	return back;
}

uint32_t
store_turn(struct store *st, double wait_ms)
{
	double until = wait_ms > 0 ? now_ms_mono() + wait_ms : 0;

	for (;;) {
		reap(st);
		if (!st->flying && waiting(st) &&
		    (!st->down || now_ms_mono() - st->last_try >= STORE_RETRY_MS))
			handoff(st);
		/*
		 * A writer whose last batch took less than the wait is waited
		 * for (and, when it was busy with an older batch, this turn's
		 * is handed over then and waited for too), so that this turn's
		 * output leaves with it: otherwise it waits a turn, and a sender
		 * with a window of messages in flight finds a third of it held
		 * in the store's stage (docs/design.md).  A slow writer (fsync,
		 * a checkpoint's lock) is not waited for at all.
		 */
		if (!st->flying || st->down || until == 0 || st->last_ms >= wait_ms ||
		    !await_back(st, until))
			break;
	}
	if (st->down)
		return st->done_no; /* nothing new is taken: nothing waits */
	if (waiting(st))
		return st->last_no + 1;
	return st->flying ? st->last_no : st->done_no;
}

uint32_t
store_done(const struct store *st)
{
	return st->done_no;
}

int
store_down(const struct store *st)
{
	return st->down;
}

void
store_close(struct store *st)
{
	size_t i;

	if (st == NULL)
		return;
	/* The writer finishes its batch and stops; what is left is written
	 * here, the loop being over. */
	writer_stop(st);
	reap(st);
	if (waiting(st)) {
		char why[sizeof(st->why)];

		take(st);
		if (write_batch(st, why, sizeof(why)) != SQLITE_OK)
			log_err("store %s: %zu messages could not be written before exit: %s",
			        st->path, st->flight.n, why);
	}
	for (i = 0; i < st->flight.n; i++)
		msg_unref(st->flight.v[i].m);
	for (i = 0; i < st->pend.n; i++)
		msg_unref(st->pend.v[i].m);
	free(st->flight.v);
	free(st->pend.v);
	free(st->tflight.v);
	free(st->tpend.v);
	release(st);
}

int
store_prune(struct store *st, unsigned days, unsigned keep, double budget_ms, uint64_t now_ms)
{
	if (st->down || (days == 0 && keep == 0))
		return 0;
	pthread_mutex_lock(&st->lock);
	st->prune = 1;
	st->days = days;
	st->keep = keep;
	st->now_ms = now_ms;
	st->budget_ms = budget_ms;
	pthread_cond_signal(&st->work);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

void
store_stats(struct store_stats *out)
{
	pthread_mutex_lock(&stats_lock);
	*out = stats;
	pthread_mutex_unlock(&stats_lock);
}

/* Print each row of a query that finds problems; returns how many. */
static long
problems(sqlite3 *db, FILE *out, const char *what, const char *sql)
{
	sqlite3_stmt *q;
	long n = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
		fprintf(out, "%s: cannot check: %s\n", what, sqlite3_errmsg(db));
		return 1;
	}
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (n++ < 10)
			fprintf(out, "%s: %s\n", what, (const char *)sqlite3_column_text(q, 0));
	}
	if (n > 10)
		fprintf(out, "%s: ... %ld in all\n", what, n);
	sqlite3_finalize(q);
	return n;
}

int
store_check(const char *path, FILE *out)
{
	struct stat sb;
	sqlite3 *db = NULL;
	char err[512];
	long bad = 0;
	int ver, corrupt;

	if (stat(path, &sb) < 0) {
		fprintf(out, "store %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(out, "store %s: cannot open: %s\n", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return 2;
	}
	if ((ver = identify(db, path, err, sizeof(err), &corrupt)) <= 0) {
		fprintf(out, "%s\n", ver == 0 ? "an empty database, not yet a chatd store" : err);
		if (corrupt)
			fprintf(out, "damaged\n");
		sqlite3_close(db);
		return corrupt ? 1 : 2;
	}
	fprintf(out, "store %s: chatd schema %d%s, %lld bytes\n", path, ver,
	        ver < STORE_SCHEMA ? " (migrated when chatd opens it)" : "", (long long)sb.st_size);
	bad += problems(db, out, "integrity",
	                "SELECT integrity_check FROM pragma_integrity_check WHERE "
	                "integrity_check <> 'ok'");
	if (bad == 0 && ver == STORE_SCHEMA) {
		/* The rules chatd keeps: a room's seq covers its messages; a
		 * chunk belongs to a room, holds its seqs first to last, one
		 * each, and begins after the chunk before it ends. */
		bad += problems(
		        db, out, "room",
		        "SELECT r.name || ': seq ' || r.seq || ' below its newest message ' "
		        "|| max(c.last) FROM rooms r JOIN chunks c ON c.room = r.id "
		        "GROUP BY r.id HAVING max(c.last) > r.seq");
		bad += problems(
		        db, out, "chunk",
		        "SELECT 'room id ' || room || ' seq ' || first || ': ' || CASE "
		        "WHEN room NOT IN (SELECT id FROM rooms) THEN 'no such room' "
		        "WHEN NOT json_valid(body) THEN 'not JSON' "
		        "WHEN json_array_length(body) <> last - first + 1 THEN "
		        "'holds ' || json_array_length(body) || ' messages for seqs ' || "
		        "first || '-' || last ELSE 'overlaps the one before' END FROM "
		        "(SELECT *, lag(last) OVER (PARTITION BY room ORDER BY first) AS "
		        "prev FROM chunks) WHERE room NOT IN (SELECT id FROM rooms) OR NOT "
		        "json_valid(body) OR json_array_length(body) <> last - first + 1 OR "
		        "first <= prev");
		fprintf(out, "%lld rooms, %lld messages\n",
		        one_int(db, "SELECT count(*) FROM rooms"),
		        one_int(db, "SELECT coalesce(sum(last - first + 1), 0) FROM chunks"));
	}
	sqlite3_close(db);
	fprintf(out, "%s\n", bad ? "damaged" : "ok");
	return bad ? 1 : 0;
}
