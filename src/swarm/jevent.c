/*
 * Events and words in chatd's JSON.  A room message in chatd's layout is
 * read by jscan_exact(), any other object within the scanner's subset by
 * jscan_object(), and the rest (an escape, a summary's nested events) by
 * jansson, which decides what is JSON.
 */
#include "swarm/jevent.h"

#include <string.h>

#include "chatd/wire.h"
#include "swarm/swarm.h"

void
jevent_fields_from_json(json_t *o, struct jscan_field *f, size_t nf)
{
	size_t i;

	for (i = 0; i < nf; i++) {
		json_t *v = json_object_get(o, f[i].key);

		f[i].type = JSCAN_ABSENT;
		if (v == NULL)
			continue;
		if (json_is_string(v)) {
			f[i].type = JSCAN_STR;
			f[i].s = json_string_value(v);
			f[i].n = json_string_length(v);
		} else if (json_is_integer(v) && json_integer_value(v) >= 0) {
			f[i].type = JSCAN_INT;
			f[i].i = (uint64_t)json_integer_value(v);
		} else if (json_is_true(v)) {
			f[i].type = JSCAN_TRUE;
		} else if (json_is_false(v)) {
			f[i].type = JSCAN_FALSE;
		} else if (json_is_null(v)) {
			f[i].type = JSCAN_NULL;
		} else {
			f[i].type = JEVENT_OTHER_TYPE;
		}
	}
}

json_t *
jevent_parse_object(const char *p, size_t n)
{
	json_error_t err;
	json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &err);

	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

int
jevent_object(const char *p, size_t n, struct jscan_field *f, size_t nf, json_t **root,
              uint64_t *fallbacks)
{
	*root = NULL;
	if (jscan_object(p, n, f, nf) == JSCAN_OK)
		return 0;
	(*fallbacks)++;
	if ((*root = jevent_parse_object(p, n)) == NULL)
		return -1;
	jevent_fields_from_json(*root, f, nf);
	return 0;
}

int
jevent_str_is(const struct jscan_field *f, const char *s)
{
	return f->type == JSCAN_STR && f->n == strlen(s) && memcmp(f->s, s, f->n) == 0;
}

int
jevent_is_bool(const struct jscan_field *f)
{
	return f->type == JSCAN_TRUE || f->type == JSCAN_FALSE;
}

uint8_t
jevent_reason(const struct jscan_field *f)
{
	static const char *const words[WIRE_R_COUNT] = {
	        [WIRE_R_NONE] = "none",
	        [WIRE_R_CLOSED] = "closed",
	        [WIRE_R_RESET] = "reset",
	        [WIRE_R_PING_TIMEOUT] = "ping timeout",
	        [WIRE_R_SLOW_CONSUMER] = "slow consumer",
	        [WIRE_R_PROTOCOL_ERROR] = "protocol error",
	        [WIRE_R_SHUTDOWN] = "shutdown",
	        [WIRE_R_HANDSHAKE_TIMEOUT] = "handshake timeout",
	        [WIRE_R_TIMEOUT] = "timeout",
	        [WIRE_R_NODE_LOST] = "node lost",
	};
	uint8_t i;

	for (i = 0; i < WIRE_R_COUNT; i++)
		if (jevent_str_is(f, words[i]))
			return i;
	return WIRE_R_NONE;
}

uint16_t
jevent_error_code(const char *code, size_t n, int status)
{
	static const struct {
		const char *name;
		uint16_t code;
	} map[] = {
	        {"nick_invalid", WIRE_E_NICK_INVALID},
	        {"nick_taken", WIRE_E_NICK_TAKEN},
	        {"room_invalid", WIRE_E_ROOM_INVALID},
	        {"text_invalid", WIRE_E_TEXT_INVALID},
	        {"text_too_long", WIRE_E_TEXT_TOO_LONG},
	        {"not_in_room", WIRE_E_NOT_IN_ROOM},
	        {"already_in_room", WIRE_E_ALREADY_IN_ROOM},
	        {"no_such_room", WIRE_E_NO_SUCH_ROOM},
	        {"no_such_user", WIRE_E_NO_SUCH_USER},
	        {"too_many_rooms", WIRE_E_TOO_MANY_ROOMS},
	        {"room_full", WIRE_E_ROOM_FULL},
	        {"room_limit", WIRE_E_ROOM_LIMIT},
	        {"store_unavailable", WIRE_E_STORE_UNAVAILABLE},
	        {"cluster_unavailable", WIRE_E_CLUSTER_UNAVAILABLE},
	        {"server_full", WIRE_E_SERVER_FULL},
	        {"not_registered", WIRE_E_NOT_REGISTERED},
	        {"handshake_timeout", WIRE_E_HANDSHAKE_TIMEOUT},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strlen(map[i].name) == n && memcmp(map[i].name, code, n) == 0)
			return map[i].code;
	return (uint16_t)status;
}

int
jevent_refusal(struct bot *b, uint32_t ref, uint8_t type, int status, const char *body, size_t len)
{
	json_t *o = jevent_parse_object(body, len), *e = o ? json_object_get(o, "error") : NULL;
	json_t *code = json_object_get(e, "code"), *msg = json_object_get(e, "message");
	uint16_t c;

	if (status < 400 || !json_is_string(code) || !json_is_string(msg)) {
		json_decref(o);
		return -1;
	}
	c = jevent_error_code(json_string_value(code), json_string_length(code), status);
	swarm_refused(b, ref, type, c, json_string_value(msg), json_string_length(msg));
	json_decref(o);
	return c;
}

size_t
jevent_escaped_len(const char *text, size_t n)
{
	size_t i, len = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		len += c == '"' || c == '\\' ? 2 : c < 0x20 ? 6 : 1;
	}
	return len;
}

size_t
jevent_escape(char *p, const char *text, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '"' || c == '\\') {
			p[o++] = '\\';
			p[o++] = (char)c;
		} else if (c < 0x20) {
			p[o++] = '\\';
			p[o++] = 'u';
			p[o++] = '0';
			p[o++] = '0';
			p[o++] = hex[c >> 4];
			p[o++] = hex[c & 15];
		} else {
			p[o++] = (char)c;
		}
	}
	return o;
}

int
jevent_from_fields(const struct jscan_field *f, struct jevent *ev)
{
	static const struct {
		const char *name;
		uint8_t kind;
	} pres[] = {
	        {"join", WIRE_P_JOIN}, {"part", WIRE_P_PART}, {"quit", WIRE_P_QUIT},
	        {"nick", WIRE_P_NICK}, {"drop", WIRE_P_DROP},
	};
	size_t i;

	if (f[JEV_F_ID].type != JSCAN_INT || f[JEV_F_TYPE].type != JSCAN_STR)
		return -1;
	ev->id = f[JEV_F_ID].i;
	ev->type = JEV_OTHER;
	if (jevent_str_is(&f[JEV_F_TYPE], "message") || jevent_str_is(&f[JEV_F_TYPE], "direct")) {
		ev->type = f[JEV_F_TYPE].n == 7 ? JEV_MESSAGE : JEV_DIRECT;
		if (f[JEV_F_TIME].type != JSCAN_INT || f[JEV_F_FROM].type != JSCAN_STR ||
		    f[JEV_F_TEXT].type != JSCAN_STR)
			return -1;
		if (ev->type == JEV_MESSAGE &&
		    (f[JEV_F_ROOM].type != JSCAN_STR || f[JEV_F_EPOCH].type != JSCAN_INT ||
		     f[JEV_F_SEQ].type != JSCAN_INT || f[JEV_F_CURSOR].type != JSCAN_STR))
			return -1;
		/* "history": true on a replayed message, and nothing else. */
		if (f[JEV_F_HISTORY].type != JSCAN_ABSENT && f[JEV_F_HISTORY].type != JSCAN_TRUE)
			return -1;
		ev->history = f[JEV_F_HISTORY].type == JSCAN_TRUE;
		ev->from = f[JEV_F_FROM].s;
		ev->from_len = f[JEV_F_FROM].n;
		ev->text = f[JEV_F_TEXT].s;
		ev->text_len = f[JEV_F_TEXT].n;
	} else if (jevent_str_is(&f[JEV_F_TYPE], "summary")) {
		ev->type = JEV_SUMMARY;
		if (f[JEV_F_ROOM].type != JSCAN_STR)
			return -1;
	} else {
		for (i = 0; i < sizeof(pres) / sizeof(pres[0]); i++)
			if (jevent_str_is(&f[JEV_F_TYPE], pres[i].name))
				break;
		if (i == sizeof(pres) / sizeof(pres[0]))
			return 0; /* a kind this swarm does not know: JEV_OTHER */
		ev->type = JEV_PRESENCE;
		ev->kind = pres[i].kind;
		if (f[JEV_F_NICK].type != JSCAN_STR || f[JEV_F_TIME].type != JSCAN_INT ||
		    (f[JEV_F_ROOM].type != JSCAN_STR && f[JEV_F_ROOM].type != JSCAN_ABSENT))
			return -1;
		if (ev->kind == WIRE_P_DROP && f[JEV_F_REASON].type != JSCAN_STR)
			return -1;
		ev->nick = f[JEV_F_NICK].s;
		ev->nick_len = f[JEV_F_NICK].n;
		ev->reason = jevent_reason(&f[JEV_F_REASON]);
	}
	if (f[JEV_F_ROOM].type == JSCAN_STR) {
		ev->room = f[JEV_F_ROOM].s;
		ev->room_len = f[JEV_F_ROOM].n;
	}
	ev->epoch = f[JEV_F_EPOCH].i;
	ev->seq = f[JEV_F_SEQ].i;
	return 0;
}

void
jevent_fields_init(struct jscan_field *f)
{
	static const struct jscan_field proto[JEV_F_N] = {
	        JSCAN_FIELD("id"),    JSCAN_FIELD("type"),   JSCAN_FIELD("room"),
	        JSCAN_FIELD("epoch"), JSCAN_FIELD("seq"),    JSCAN_FIELD("cursor"),
	        JSCAN_FIELD("time"),  JSCAN_FIELD("from"),   JSCAN_FIELD("text"),
	        JSCAN_FIELD("nick"),  JSCAN_FIELD("reason"), JSCAN_FIELD("history"),
	};

	memcpy(f, proto, sizeof(proto));
}

int
jevent_parse(const char *p, size_t n, int message, struct jevent *ev, uint64_t *fallbacks)
{
	struct jscan_field f[JEV_F_N];

	memset(ev, 0, sizeof(*ev));
	jevent_fields_init(f);
	/* A live room message's layout, then any object. */
	if (!(message && jscan_exact(p, n, f, JEV_F_TEXT + 1) == JSCAN_OK) &&
	    jevent_object(p, n, f, JEV_F_N, &ev->root, fallbacks) < 0)
		return -1;
	if (jevent_from_fields(f, ev) < 0)
		return -1;
	if (ev->type == JEV_SUMMARY) {
		/* Its items are read from jansson's parse (summaries are rare). */
		if (ev->root == NULL && (ev->root = jevent_parse_object(p, n)) == NULL)
			return -1;
		ev->items = json_object_get(ev->root, "events");
		if (!json_is_array(ev->items))
			return -1;
	}
	return 0;
}

int
jevent_of_json(json_t *o, struct jevent *ev)
{
	struct jscan_field f[JEV_F_N];

	memset(ev, 0, sizeof(*ev));
	if (!json_is_object(o))
		return -1;
	jevent_fields_init(f);
	jevent_fields_from_json(o, f, JEV_F_N);
	if (jevent_from_fields(f, ev) < 0)
		return -1;
	if (ev->type == JEV_SUMMARY && !json_is_array(ev->items = json_object_get(o, "events")))
		return -1;
	return 0;
}

void
jevent_summary_drops(const struct jevent *ev)
{
	size_t i;
	json_t *item;

	json_array_foreach(ev->items, i, item)
	{
		json_t *type = json_object_get(item, "type"), *nick = json_object_get(item, "nick");
		struct jscan_field reason = JSCAN_FIELD("reason");

		if (!json_is_string(type) || strcmp(json_string_value(type), "drop") != 0 ||
		    !json_is_string(nick))
			continue;
		jevent_fields_from_json(item, &reason, 1);
		swarm_presence(WIRE_P_DROP, jevent_reason(&reason), json_string_value(nick),
		               json_string_length(nick));
	}
}
