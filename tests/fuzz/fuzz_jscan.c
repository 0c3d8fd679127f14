/*
 * Fuzz target: the swarm's JSON scanner (src/swarm/jscan.c) against
 * jansson, the full parser the swarm falls back to.  The input is a JSON
 * text, scanned for a fixed set of fields as the swarm's transports scan
 * an event or an answer.
 *
 * Invariants:
 *   - soundness: what the scanner accepts (its arrays read to their end
 *     by jscan_each()) jansson parses to an object that agrees on every
 *     field asked for (absent, string bytes, integer, true, false, null,
 *     and each array element's fields); every span lies in the input;
 *   - completeness: an object jansson parsed whose values are within the
 *     subset the scanner claims, written back by jansson compactly, is
 *     accepted by the scanner and agrees;
 *   - jscan_exact() accepts only what jscan_object() reads the same.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "swarm/jscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NF        8
#define EXACT_NF  5  /* the fields jscan_exact() is tried with: the first five */
#define OTHER_MAX 16 /* keys not asked for that the scanner takes in one object */

/* The fields asked for: an event's and a poll answer's, and short keys
 * that a mutation finds easily. */
static void
fields_init(struct jscan_field *f)
{
	static const struct jscan_field proto[NF] = {
	        JSCAN_FIELD("id"), JSCAN_FIELD("type"), JSCAN_FIELD("seq"),   JSCAN_FIELD("text"),
	        JSCAN_FIELD("a"),  JSCAN_FIELD("b"),    JSCAN_FIELD("items"), JSCAN_FIELD("n"),
	};

	memcpy(f, proto, sizeof(proto));
}

/* Is [q, q + n) inside p[0, size)? */
static int
inside(const char *q, size_t n, const char *p, size_t size)
{
	return q >= p && n <= size && (size_t)(q - p) <= size - n;
}

/* Does the scanned field f say what jansson's value v (NULL: absent)
 * says?  Arrays are compared by the caller. */
static int
agrees(const struct jscan_field *f, json_t *v)
{
	switch (f->type) {
	case JSCAN_ABSENT:
		return v == NULL;
	case JSCAN_STR:
		return json_is_string(v) && json_string_length(v) == f->n &&
		       memcmp(json_string_value(v), f->s, f->n) == 0;
	case JSCAN_INT:
		return json_is_integer(v) && json_integer_value(v) >= 0 &&
		       (uint64_t)json_integer_value(v) == f->i;
	case JSCAN_TRUE:
		return json_is_true(v);
	case JSCAN_FALSE:
		return json_is_false(v);
	case JSCAN_NULL:
		return json_is_null(v);
	case JSCAN_ARRAY:
		return json_is_array(v);
	default:
		return 0;
	}
}

/* The scan of p[0, n) into f against jansson's parse o (NULL: jansson
 * refused it).  Returns 1 when the scanner accepted it whole (arrays
 * included), 0 when it did not. */
static int
compare(const char *p, size_t n, struct jscan_field *f, json_t *o)
{
	size_t k;

	if (jscan_object(p, n, f, NF) != JSCAN_OK)
		return 0;
	/* Its arrays must read to their end to be within the subset. */
	for (k = 0; k < NF; k++) {
		struct jscan_field e[NF];
		size_t pos = 0;
		enum jscan_result r;

		if (f[k].type != JSCAN_ARRAY)
			continue;
		FUZZ_CHECK(inside(f[k].s, f[k].n, p, n));
		fields_init(e);
		while ((r = jscan_each(f[k].s, f[k].n, &pos, e, NF)) == JSCAN_OK)
			;
		if (r != JSCAN_END)
			return 0;
	}
	FUZZ_CHECK(json_is_object(o));
	for (k = 0; k < NF; k++) {
		json_t *v = json_object_get(o, f[k].key);

		if (f[k].type == JSCAN_STR)
			FUZZ_CHECK(inside(f[k].s, f[k].n, p, n));
		FUZZ_CHECK(agrees(&f[k], v));
		if (f[k].type == JSCAN_ARRAY) {
			struct jscan_field e[NF];
			size_t pos = 0, i = 0, j;

			fields_init(e);
			while (jscan_each(f[k].s, f[k].n, &pos, e, NF) == JSCAN_OK) {
				json_t *el = json_array_get(v, i++);

				FUZZ_CHECK(json_is_object(el));
				for (j = 0; j < NF; j++) {
					FUZZ_CHECK(e[j].type != JSCAN_ARRAY);
					FUZZ_CHECK(agrees(&e[j], json_object_get(el, e[j].key)));
				}
				fields_init(e);
			}
			FUZZ_CHECK(i == json_array_size(v));
		}
	}
	return 1;
}

/* Is the string s[0, n) plain: printable ASCII, no quote, no backslash? */
static int
plain(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

/* Is the key one of the fields asked for? */
static int
asked(const char *key)
{
	struct jscan_field f[NF];
	size_t k;

	fields_init(f);
	for (k = 0; k < NF; k++)
		if (strcmp(f[k].key, key) == 0)
			return 1;
	return 0;
}

/* Is o an object within the scanner's subset (top: its values may be
 * arrays of such objects, without arrays of their own)?  all: every key
 * counts against OTHER_MAX (the elements of an array not asked for are
 * read with no field asked). */
static int
in_subset(json_t *o, int top, int all)
{
	const char *key;
	json_t *v, *el;
	size_t other = 0, i;

	if (!json_is_object(o))
		return 0;
	json_object_foreach(o, key, v)
	{
		if (!plain(key, strlen(key)))
			return 0;
		if ((all || !asked(key)) && ++other > OTHER_MAX)
			return 0;
		if (json_is_string(v)) {
			if (!plain(json_string_value(v), json_string_length(v)))
				return 0;
		} else if (json_is_integer(v)) {
			if (json_integer_value(v) < 0)
				return 0;
		} else if (json_is_array(v)) {
			if (!top)
				return 0;
			json_array_foreach(v, i, el)
			{
				if (!in_subset(el, 0, !asked(key)))
					return 0;
			}
		} else if (!json_is_boolean(v) && !json_is_null(v)) {
			return 0;
		}
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct jscan_field f[NF], g[NF];
	json_error_t err;
	json_t *o = json_loadb(p, size, JSON_REJECT_DUPLICATES, &err);
	size_t k;

	fields_init(f);
	(void)compare(p, size, f, o);

	/* jscan_exact() reads only what jscan_object() reads the same. */
	fields_init(g);
	if (jscan_exact(p, size, g, EXACT_NF) == JSCAN_OK) {
		fields_init(f);
		FUZZ_CHECK(jscan_object(p, size, f, EXACT_NF) == JSCAN_OK);
		for (k = 0; k < EXACT_NF; k++) {
			FUZZ_CHECK(f[k].type == g[k].type &&
			           (g[k].type == JSCAN_STR || g[k].type == JSCAN_INT));
			FUZZ_CHECK(f[k].type != JSCAN_STR ||
			           (f[k].s == g[k].s && f[k].n == g[k].n));
			FUZZ_CHECK(f[k].type != JSCAN_INT || f[k].i == g[k].i);
		}
	}

	/* What jansson read within the subset, written back plainly, the
	 * scanner must read, and the same way. */
	if (o && in_subset(o, 1, 0)) {
		char *text = json_dumps(o, JSON_COMPACT);

		FUZZ_CHECK(text != NULL);
		fields_init(f);
		FUZZ_CHECK(compare(text, strlen(text), f, o) == 1);
		free(text);
	}
	json_decref(o);
	return 0;
}
