/*
 * Chunks: writing is by hand (a loop turn's messages, on the hot path);
 * reading is jansson's (a join or a page back, and a file that may have
 * been tampered with).
 */
#include "store/chunk.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/vocab.h"
#include "util/log.h"

/* Room for n more bytes. */
static char *
reserve(struct chunk_buf *b, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL)
			fatal("out of memory (store)");
		b->p = p;
		b->cap = cap;
	}
	return b->p + b->len;
}

static void
put(struct chunk_buf *b, const char *s, size_t n)
{
	memcpy(reserve(b, n), s, n);
	b->len += n;
}

static char *
put_u64(char *o, uint64_t v)
{
	char d[20];
	int n = 0;

	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n)
		*o++ = d[--n];
	return o;
}

/* s as a JSON string; at most 6 * n + 2 bytes at o.  Text has been
 * checked to be UTF-8 without control characters, so escapes are rare. */
static char *
put_str(char *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	*o++ = '"';
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 0x20 && ch != '"' && ch != '\\') {
			*o++ = (char)ch;
		} else if (ch >= 0x20) {
			*o++ = '\\';
			*o++ = (char)ch;
		} else {
			*o++ = '\\';
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o++ = '"';
	return o;
}

void
chunk_begin(struct chunk_buf *b)
{
	b->len = 0;
	b->n = 0;
	put(b, "[", 1);
}

void
chunk_add(struct chunk_buf *b, const struct msg *m)
{
	char *o = reserve(b, 48 + 6 * ((size_t)m->from_len + m->text_len)), *start = o;

	if (b->n)
		*o++ = ',';
	*o++ = '[';
	o = put_u64(o, m->seq);
	*o++ = ',';
	o = put_u64(o, m->time_ms);
	*o++ = ',';
	o = put_str(o, m->from, m->from_len);
	*o++ = ',';
	o = put_str(o, m->text, m->text_len);
	*o++ = ']';
	b->len += (size_t)(o - start);
	b->n++;
}

void
chunk_end(struct chunk_buf *b)
{
	put(b, "]", 1);
}

void
chunk_free(struct chunk_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int
chunk_decode(const char *body, size_t len, const char *room, size_t rn, uint64_t epoch,
             uint64_t after, uint64_t before, struct msg **out, unsigned *got, unsigned max,
             int oldest)
{
	json_t *a = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_int_t want = -1; /* the seq the next one must have: they follow one another */
	size_t size = json_array_size(a), k;
	int rc = 0;

	if (!json_is_array(a)) {
		json_decref(a);
		return -1;
	}
	for (k = 0; k < size && *got < max; k++) {
		json_t *e = json_array_get(a, oldest ? k : size - 1 - k);
		json_t *s = json_array_get(e, 0), *t = json_array_get(e, 1);
		json_t *from = json_array_get(e, 2), *text = json_array_get(e, 3);
		uint64_t seq;
		struct msg *m;

		/* A seq of 2^63 - 1 is not one chunk_add wrote either, and the
		 * next one's would not fit (fuzz_chunk). */
		if (json_array_size(e) != 4 || !json_is_integer(s) || json_integer_value(s) <= 0 ||
		    json_integer_value(s) == (json_int_t)INT64_MAX || !json_is_integer(t) ||
		    json_integer_value(t) < 0 || !json_is_string(from) || !json_is_string(text) ||
		    json_string_length(from) > CORE_NICK_MAX ||
		    json_string_length(text) > CORE_TEXT_MAX ||
		    (want >= 0 && json_integer_value(s) != want)) {
			rc = -1; /* not what chunk_add wrote */
			break;
		}
		want = json_integer_value(s) + (oldest ? 1 : -1);
		seq = (uint64_t)json_integer_value(s);
		if (oldest ? seq <= after : seq >= before)
			continue;
		if (oldest ? seq >= before : seq <= after)
			break;
		m = msg_new(room, rn, json_string_value(from), json_string_length(from),
		            json_string_value(text), json_string_length(text), seq,
		            (uint64_t)json_integer_value(t), 0);
		m->epoch = epoch;
		out[(*got)++] = m;
	}
	json_decref(a);
	return rc;
}
