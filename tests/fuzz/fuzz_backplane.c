/*
 * Fuzz target: what a node reads from Redis's channels (src/cluster/
 * script.c): a room channel's payload, "SEQ TIME EPOCH ORIGIN SID FROMLEN
 * FROM TEXT", an inbox's, "TIME FROMLEN TOLEN FROM TO TEXT", and a
 * presence change, "NODE INC VERSION KIND ...".  The first byte picks the
 * parser; the rest is the payload, as Redis hands it over (counted bytes,
 * NULs included).
 *
 * Invariants: an accepted payload's strings lie inside it, end to end with
 * its last byte, and the payload rebuilt from the parsed fields is the
 * same bytes (numbers in their shortest decimal form aside: the rebuilt
 * one parses to the same fields).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/script.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
inside(const char *p, size_t n, const char *s, size_t sn)
{
	return s >= p && s <= p + n && sn <= (size_t)(p + n - s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char copy[SCRIPT_PAYLOAD_MAX + 256], again[SCRIPT_PAYLOAD_MAX + 256];
	const char *p = (const char *)data + 1;
	size_t n, k;

	if (size < 1 || size - 1 > SCRIPT_PAYLOAD_MAX)
		return 0;
	n = size - 1;
	memcpy(copy, p, n); /* exact size: a read past it is the parser's */
	p = copy;
	if (data[0] % 3 == 2) {
		struct script_pres e, e2;

		if (script_pres_parse(p, n, &e) < 0)
			return 0;
		FUZZ_CHECK(inside(p, n, e.node, e.node_len) && e.node_len > 0);
		FUZZ_CHECK(memchr(e.node, ' ', e.node_len) == NULL);
		FUZZ_CHECK(e.nick == NULL || (inside(p, n, e.nick, e.nick_len) && e.nick_len > 0 &&
		                              memchr(e.nick, ' ', e.nick_len) == NULL));
		FUZZ_CHECK(e.arg == NULL || (inside(p, n, e.arg, e.arg_len) && e.arg_len > 0 &&
		                             memchr(e.arg, ' ', e.arg_len) == NULL));
		FUZZ_CHECK(e.text == NULL || e.text + e.text_len == p + n);
		/* Rebuilt from its fields, it parses to the same event. */
		k = (size_t)snprintf(again, sizeof(again), "%.*s %" PRIu64 " %" PRIu64 " %c",
		                     (int)e.node_len, e.node, e.inc, e.version, e.kind);
		if (e.nick)
			k += (size_t)snprintf(again + k, sizeof(again) - k, " %.*s",
			                      (int)e.nick_len, e.nick);
		if (e.arg)
			k += (size_t)snprintf(again + k, sizeof(again) - k, " %.*s", (int)e.arg_len,
			                      e.arg);
		if (e.kind == 'Q')
			k += (size_t)snprintf(again + k, sizeof(again) - k, " %" PRIu64, e.reason);
		if (e.text) {
			FUZZ_CHECK(k + 1 + e.text_len < sizeof(again));
			again[k++] = ' ';
			memcpy(again + k, e.text, e.text_len);
			k += e.text_len;
		}
		FUZZ_CHECK(script_pres_parse(again, k, &e2) == 0);
		FUZZ_CHECK(e2.kind == e.kind && e2.inc == e.inc && e2.version == e.version &&
		           e2.reason == e.reason && e2.node_len == e.node_len &&
		           e2.nick_len == e.nick_len && e2.arg_len == e.arg_len &&
		           e2.text_len == e.text_len);
		FUZZ_CHECK(e.text == NULL || memcmp(e2.text, e.text, e.text_len) == 0);
	} else if (data[0] & 1) {
		struct script_direct d, d2;

		if (script_inbox_parse(p, n, &d) < 0)
			return 0;
		FUZZ_CHECK(inside(p, n, d.from, d.from_len));
		FUZZ_CHECK(d.to == d.from + d.from_len && d.text == d.to + d.to_len);
		FUZZ_CHECK(d.text + d.text_len == p + n);
		k = (size_t)snprintf(again, sizeof(again), "%" PRIu64 " %zu %zu ", d.time_ms,
		                     d.from_len, d.to_len);
		FUZZ_CHECK(k + n < sizeof(again));
		memcpy(again + k, d.from, d.from_len + d.to_len + d.text_len);
		k += d.from_len + d.to_len + d.text_len;
		FUZZ_CHECK(script_inbox_parse(again, k, &d2) == 0);
		FUZZ_CHECK(d2.time_ms == d.time_ms && d2.from_len == d.from_len &&
		           d2.to_len == d.to_len && d2.text_len == d.text_len);
		FUZZ_CHECK(memcmp(d2.from, d.from, d.from_len + d.to_len + d.text_len) == 0);
	} else {
		struct script_msg m, m2;

		if (script_payload_parse(p, n, &m) < 0)
			return 0;
		FUZZ_CHECK(inside(p, n, m.from, m.from_len));
		FUZZ_CHECK(m.text == m.from + m.from_len && m.text + m.text_len == p + n);
		k = (size_t)snprintf(again, sizeof(again),
		                     "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
		                     " %zu ",
		                     m.seq, m.time_ms, m.epoch, m.origin, m.sid, m.from_len);
		FUZZ_CHECK(k + n < sizeof(again));
		memcpy(again + k, m.from, m.from_len + m.text_len);
		k += m.from_len + m.text_len;
		FUZZ_CHECK(script_payload_parse(again, k, &m2) == 0);
		FUZZ_CHECK(m2.seq == m.seq && m2.time_ms == m.time_ms && m2.epoch == m.epoch &&
		           m2.origin == m.origin && m2.sid == m.sid && m2.from_len == m.from_len &&
		           m2.text_len == m.text_len);
		FUZZ_CHECK(memcmp(m2.from, m.from, m.from_len + m.text_len) == 0);
	}
	return 0;
}
