/*
 * chatd's JSON vocabulary as the swarm's JSON transports read it: the
 * objects of messages and presence events, which the HTTP API and
 * chatd.json share (chatd's render.c), with "history" on a message a
 * chatd.json join replays; the words of drop reasons and of error codes
 * (docs/http.md sections 4 and 11); and the JSON string escape for what
 * bots send.  Objects are scanned without allocating (jscan.c) when they
 * are within its subset, and parsed by jansson when they are not.
 */
#ifndef CHATD_JEVENT_H
#define CHATD_JEVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "swarm/jscan.h"

struct bot;

#define JEVENT_OTHER_TYPE 0xff /* a jscan_field type: present, but of no type a field wants */

enum jevent_type {
	JEV_OTHER, /* a kind the swarm does not know */
	JEV_MESSAGE,
	JEV_DIRECT,
	JEV_PRESENCE,
	JEV_SUMMARY,
};

/* The fields of an event, in the order chatd writes a message's, so that
 * the scanner finds each key at its first try. */
enum jevent_field {
	JEV_F_ID,
	JEV_F_TYPE,
	JEV_F_ROOM,
	JEV_F_EPOCH,
	JEV_F_SEQ,
	JEV_F_CURSOR,
	JEV_F_TIME,
	JEV_F_FROM,
	JEV_F_TEXT,
	JEV_F_NICK,
	JEV_F_REASON,
	JEV_F_HISTORY,
	JEV_F_N
};

/* An event, its strings pointing into the text it was read from (or into
 * root). */
struct jevent {
	uint8_t type;    /* enum jevent_type */
	uint8_t kind;    /* presence: WIRE_P_*, 0 for kinds the swarm ignores */
	uint8_t reason;  /* a drop's: WIRE_R_* */
	uint8_t history; /* a message a join replayed (chatd.json) */
	uint64_t id, epoch, seq;
	const char *room, *from, *text, *nick;
	size_t room_len, from_len, text_len, nick_len;
	json_t *items; /* summary: its events (in root) */
	json_t *root;  /* jansson's parse, to release; NULL when scanned */
};

/* The fields of an event, all absent, for a scan: JEV_F_N of them. */
void jevent_fields_init(struct jscan_field *f);
/* An event from its fields, checked for its type; -1 if one is missing
 * or of the wrong type.  Kinds the swarm does not know are JEV_OTHER. */
int jevent_from_fields(const struct jscan_field *f, struct jevent *ev);
/* An event from its JSON text (message: it is most likely a room message
 * in chatd's layout, read first as such); -1 if malformed.  ev->root,
 * when set, is to be released; *fallbacks counts jansson's parses. */
int jevent_parse(const char *p, size_t n, int message, struct jevent *ev, uint64_t *fallbacks);
/* An event from an element of a jansson array. */
int jevent_of_json(json_t *o, struct jevent *ev);
/* Hand a summary's drops to the core, one by one. */
void jevent_summary_drops(const struct jevent *ev);

/* A refusal's body {"error": {"code", "message"}} (docs/http.md section
 * 11), status >= 400, handed to the core as b's refused request ref of
 * the framed type it stands for: the WIRE_E_* code it counted under, or
 * -1 when the body is not such an object (nothing is counted). */
int jevent_refusal(struct bot *b, uint32_t ref, uint8_t type, int status, const char *body,
                   size_t len);

/* Fill f[0, nf) from a jansson object, as jscan_object() would have. */
void jevent_fields_from_json(json_t *o, struct jscan_field *f, size_t nf);
/* Read the object p[0, n) into f: scanned, or else parsed by jansson
 * (*root then holds it, to release after f is used; *fallbacks counts
 * it).  -1 when it is not a JSON object. */
int jevent_object(const char *p, size_t n, struct jscan_field *f, size_t nf, json_t **root,
                  uint64_t *fallbacks);
/* A JSON object parsed by jansson (duplicate keys refused), or NULL. */
json_t *jevent_parse_object(const char *p, size_t n);

/* Is f the string s? */
int jevent_str_is(const struct jscan_field *f, const char *s);
/* Is f true or false? */
int jevent_is_bool(const struct jscan_field *f);
/* A drop reason's words as a WIRE_R_* code (WIRE_R_NONE if unknown). */
uint8_t jevent_reason(const struct jscan_field *f);
/* An error code's word as the WIRE_E_* code it stands for; status when
 * none does. */
uint16_t jevent_error_code(const char *code, size_t n, int status);
/* The contents of a JSON string for text[0, n) at p (6 * n bytes at
 * most); the bytes written. */
size_t jevent_escape(char *p, const char *text, size_t n);
/* The bytes jevent_escape() writes for text[0, n). */
size_t jevent_escaped_len(const char *text, size_t n);

#endif
