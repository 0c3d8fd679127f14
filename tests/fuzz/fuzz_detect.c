/*
 * Fuzz target: protocol detection (preface_check), run as conn.c runs
 * it: again on the growing prefix after every read.  The input is a
 * connection's first bytes.
 *
 * Invariants: nothing is decided on no bytes; once a prefix gets a verdict
 * other than MORE, every longer prefix gets the same one (bytes appended
 * after a decision cannot change it); MORE never lasts past the preface's
 * 8 bytes; and each verdict means what docs/protocol.md section 3 says:
 * FRAMED is exactly the preface, BAD_VERSION the preface's first 7 bytes
 * and another version, TEXT a first byte neither 0x89 nor 0x00,
 * BAD_PREFACE a first byte 0x00 or a 0x89 followed by a wrong byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatd/wire.h"
#include "fuzz.h"
#include "proto/framed/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t preface[WIRE_PREFACE_LEN] = {0x89, 'C', 'H', 'A', 'T', 'D', 0x00, 0x01};

/* The verdict section 3 of docs/protocol.md gives for p[0, len),
 * written from the document rather than from detect.c. */
static enum preface
expected(const uint8_t *p, size_t len)
{
	size_t i, fixed = WIRE_PREFACE_LEN - 1;

	if (len == 0)
		return PREFACE_MORE;
	if (p[0] == 0x00)
		return PREFACE_BAD;
	if (p[0] != 0x89)
		return PREFACE_NONE;
	for (i = 1; i < len && i < fixed; i++)
		if (p[i] != preface[i])
			return PREFACE_BAD;
	if (len < WIRE_PREFACE_LEN)
		return PREFACE_MORE;
	return p[fixed] == WIRE_VERSION ? PREFACE_OK : PREFACE_BAD_VERSION;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum preface first = PREFACE_MORE;
	size_t k, decided_at = 0;
	uint8_t *copy;

	for (k = 0; k <= size; k++) {
		/* Each prefix in a buffer of exactly its size, so that a read
		 * past the bytes received is caught. */
		enum preface r;

		copy = malloc(k ? k : 1);
		FUZZ_CHECK(copy != NULL);
		if (k)
			memcpy(copy, data, k);
		r = preface_check(copy, k);
		free(copy);

		FUZZ_CHECK(r == PREFACE_MORE || r == PREFACE_OK || r == PREFACE_BAD_VERSION ||
		           r == PREFACE_BAD || r == PREFACE_NONE);
		FUZZ_CHECK(r == expected(data, k));
		if (k == 0)
			FUZZ_CHECK(r == PREFACE_MORE);
		if (first == PREFACE_MORE) {
			first = r;
			decided_at = k;
		} else {
			FUZZ_CHECK(r == first);
		}
		if (r == PREFACE_MORE)
			FUZZ_CHECK(k < WIRE_PREFACE_LEN);
		if (r == PREFACE_OK) {
			FUZZ_CHECK(k >= WIRE_PREFACE_LEN);
			FUZZ_CHECK(memcmp(data, WIRE_PREFACE, WIRE_PREFACE_LEN) == 0);
		}
		if (r == PREFACE_NONE)
			FUZZ_CHECK(data[0] != 0x89 && data[0] != 0x00);
		/* Past the 8th byte nothing can be left undecided; checking
		 * longer prefixes only costs time. */
		if (k > WIRE_PREFACE_LEN + 2 && k < size - 1)
			k = size - 2;
	}
	/* A verdict comes as soon as it is certain: on the first byte for
	 * TEXT and a frame without preface, on the wrong byte for a bad
	 * preface, on the 8th byte otherwise. */
	if (first == PREFACE_NONE || (first == PREFACE_BAD && data[0] == 0x00))
		FUZZ_CHECK(decided_at == 1);
	if (first == PREFACE_OK || first == PREFACE_BAD_VERSION)
		FUZZ_CHECK(decided_at == WIRE_PREFACE_LEN);
	return 0;
}
