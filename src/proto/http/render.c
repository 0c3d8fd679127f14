/*
 * Messages and events for HTTP: each is rendered once as a Server-Sent
 * Event whose data line is the event's JSON object,
 *
 *     id: ID\nevent: NAME\ndata: {...}\n\n
 *
 * and the same slice serves both readers: a stream sends it whole, a long
 * poll sends the JSON in its middle (render_json()).  The id is the
 * server-wide event id, the same for every reader, so a room message's
 * rendering is shared by all its streams, queued by reference like a
 * framed MESSAGE.  JSON is written by jansson (docs/design.md says why).
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "core/msg.h"
#include "core/pres.h"
#include "core/vocab.h"
#include "proto/http/http.h"
#include "util/arena.h"
#include "util/log.h"

static struct arena arena;

const char *
render_reason(int reason)
{
	static const char *const words[REASON_COUNT] = {
	        [REASON_NONE] = "none",
	        [REASON_CLOSED] = "closed",
	        [REASON_RESET] = "reset",
	        [REASON_PING_TIMEOUT] = "ping timeout",
	        [REASON_SLOW_CONSUMER] = "slow consumer",
	        [REASON_PROTOCOL_ERROR] = "protocol error",
	        [REASON_SHUTDOWN] = "shutdown",
	        [REASON_HANDSHAKE_TIMEOUT] = "handshake timeout",
	        [REASON_TIMEOUT] = "timeout",
	        [REASON_NODE_LOST] = "node lost",
	};

	return reason >= 0 && reason < REASON_COUNT ? words[reason] : "unknown";
}

static const char *
kind_name(int kind)
{
	switch (kind) {
	case PRES_JOIN:
		return "join";
	case PRES_PART:
		return "part";
	case PRES_QUIT:
		return "quit";
	case PRES_NICK:
		return "nick";
	case PRES_DROP:
		return "drop";
	case PRES_SUMMARY:
		return "summary";
	case PRES_TOPIC:
		return "topic";
	default:
		return "unknown";
	}
}

const char *
render_msg_event(const struct msg *m)
{
	return m->direct ? "direct" : "message";
}

static int
prefix(char *buf, size_t n, uint64_t id, const char *event)
{
	return snprintf(buf, n, "id: %llu\nevent: %s\ndata: ", (unsigned long long)id, event);
}

/* o between head and tail: into a block of its own (history, kept on
 * its message) or the arena (live).  head may be NULL: made by head_of
 * for the JSON's length, at most 16 bytes. */
struct slice
render_wrap(json_t *o, const char *head, size_t hn, size_t (*head_of)(uint8_t *, size_t),
            const char *tail, size_t tn, int own_block)
{
	size_t jn = json_dumpb(o, NULL, 0, JSON_COMPACT), size;
	uint8_t made[16];
	struct blk *b = NULL;
	uint8_t *p;
	struct slice s;

	if (head == NULL) {
		hn = head_of(made, jn);
		head = (const char *)made;
	}
	size = hn + jn + tn;
	if (own_block) {
		b = blk_new(size);
		p = b->data;
	} else {
		p = arena_reserve(&arena, size);
	}
	memcpy(p, head, hn);
	if (json_dumpb(o, (char *)p + hn, jn, JSON_COMPACT) != jn)
		fatal("json_dumpb: size changed");
	memcpy(p + hn + jn, tail, tn);
	json_decref(o);
	if (b == NULL)
		return arena_commit(&arena, size);
	b->len = (uint32_t)size;
	s.b = b;
	s.off = 0;
	s.len = b->len;
	return s;
}

/* o as an SSE event. */
static struct slice
frame(json_t *o, uint64_t id, const char *event, int own_block)
{
	char head[96];
	int hn = prefix(head, sizeof(head), id, event);

	return render_wrap(o, head, (size_t)hn, NULL, "\n\n", 2, own_block);
}

static json_t *
str(const char *s, size_t n)
{
	/* The core let only valid UTF-8 without NUL in. */
	return json_stringn_nocheck(s, n);
}

json_t *
render_msg_object(const struct msg *m)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer((json_int_t)m->id));
	json_object_set_new(o, "type", json_string(render_msg_event(m)));
	if (!m->direct) {
		char cursor[48];

		snprintf(cursor, sizeof(cursor), "%llu-%llu", (unsigned long long)m->epoch,
		         (unsigned long long)m->seq);
		json_object_set_new(o, "room", str(m->room, m->room_len));
		json_object_set_new(o, "epoch", json_integer((json_int_t)m->epoch));
		json_object_set_new(o, "seq", json_integer((json_int_t)m->seq));
		json_object_set_new(o, "cursor", json_string(cursor));
	}
	json_object_set_new(o, "time", json_integer((json_int_t)m->time_ms));
	json_object_set_new(o, "from", str(m->from, m->from_len));
	json_object_set_new(o, "text", str(m->text, m->text_len));
	return o;
}

static struct slice
render_message(const struct msg *m, int history)
{
	return frame(render_msg_object(m), m->id, render_msg_event(m), history);
}

/* One event's fields (a summary's items have no id, room or time). */
static void
pres_fields(json_t *o, const struct pres *p)
{
	json_object_set_new(o, "type", json_string(kind_name(p->kind)));
	json_object_set_new(o, "nick", str(p->nick, p->nick_len));
	if (p->kind == PRES_NICK)
		json_object_set_new(o, "new_nick", str(p->new_nick, p->new_nick_len));
	if (p->kind == PRES_DROP)
		json_object_set_new(o, "reason", json_string(render_reason(p->reason)));
	/* A part's or quit's words; a topic, "" when it was cleared. */
	if (p->text_len || p->kind == PRES_TOPIC)
		json_object_set_new(o, "text", str(p->text, p->text_len));
}

json_t *
render_topic_object(const struct room *r)
{
	const char *text, *by;
	uint64_t ms;
	size_t n;

	text = room_topic(r, &n, &by, &ms);
	if (n == 0)
		return json_null();
	return json_pack("{s:o, s:s, s:I}", "text", str(text, n), "by", by, "time", (json_int_t)ms);
}

json_t *
render_pres_object(const struct pres *p)
{
	json_t *o = json_object();
	size_t i;

	json_object_set_new(o, "id", json_integer((json_int_t)p->id));
	if (p->kind == PRES_SUMMARY) {
		json_t *items = json_array();

		json_object_set_new(o, "type", json_string("summary"));
		json_object_set_new(o, "room", str(p->room, p->room_len));
		json_object_set_new(o, "members", json_integer(p->members));
		json_object_set_new(o, "joins", json_integer(p->joins));
		json_object_set_new(o, "leaves", json_integer(p->leaves));
		json_object_set_new(o, "omitted", json_boolean(p->omitted));
		for (i = 0; i < p->nitems; i++) {
			json_t *e = json_object();

			pres_fields(e, p->items[i]);
			json_array_append_new(items, e);
		}
		json_object_set_new(o, "events", items);
	} else {
		pres_fields(o, p);
		if (p->room_len)
			json_object_set_new(o, "room", str(p->room, p->room_len));
	}
	json_object_set_new(o, "time", json_integer((json_int_t)p->time_ms));
	return o;
}

static struct slice
render_presence(const struct pres *p)
{
	return frame(render_pres_object(p), p->id, "presence", 0);
}

struct slice
render_msg(struct msg *m, int history)
{
	return msg_wire(m, http_frontend.slot, history, render_message);
}

struct slice
render_pres(struct pres *p)
{
	return pres_wire(p, http_frontend.slot, render_presence);
}

struct slice
render_json(struct slice sse, uint64_t id, const char *event)
{
	char head[96];
	uint32_t hn = (uint32_t)prefix(head, sizeof(head), id, event);

	sse.off += hn;
	sse.len -= hn + 2;
	return sse;
}

void
render_cleanup(void)
{
	arena_release(&arena);
}
