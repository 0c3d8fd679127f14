/*
 * A scanner for the flat JSON objects that chatd's HTTP front end sends on
 * the swarm's hot paths (the data of an event, the answer to a send or a
 * long poll): one object whose values are strings of printable ASCII
 * without escapes, integers from 0 to 2^63-1, true, false, null, or
 * arrays of such objects.  It fills in the fields a caller asks for with
 * spans of the input and allocates nothing, so that a swarm can read a
 * million events a second.
 *
 * What it accepts is valid JSON that a full parser (jansson) reads the
 * same way.  Anything else, valid or not (an escape, a byte outside
 * printable ASCII, a nested value, a negative or fractional number, a
 * repeated key, bad syntax), is JSCAN_NO: the caller hands the text to
 * the full parser, which decides.  Pure: bytes in, result out.
 */
#ifndef CHATD_JSCAN_H
#define CHATD_JSCAN_H

#include <stddef.h>
#include <stdint.h>

enum jscan_type {
	JSCAN_ABSENT, /* the key was not in the object */
	JSCAN_STR,
	JSCAN_INT,
	JSCAN_TRUE,
	JSCAN_FALSE,
	JSCAN_NULL,
	JSCAN_ARRAY, /* of objects: its text, "[" to "]", for jscan_each() */
};

/* One key a caller wants, and (after a scan) what it held. */
struct jscan_field {
	const char *key; /* in: the key, without quotes */
	uint8_t key_len; /* in: its length (JSCAN_FIELD() fills both) */
	uint8_t type;    /* out: enum jscan_type */
	const char *s;   /* JSCAN_STR: the string's bytes, in the input */
	size_t n;        /* JSCAN_STR: its length */
	uint64_t i;      /* JSCAN_INT: the value */
};

#define JSCAN_FIELD(k)                                                                             \
	{                                                                                          \
		(k), (uint8_t)(sizeof(k) - 1), JSCAN_ABSENT, NULL, 0, 0                            \
	}

enum jscan_result {
	JSCAN_OK,  /* an object within the subset: the fields are filled in */
	JSCAN_NO,  /* outside the subset, or not JSON: ask a full parser */
	JSCAN_END, /* jscan_each(): no more elements */
};

/* Scan the object p[0, n) for the nf fields f (keys not asked for are
 * skipped); JSCAN_OK or JSCAN_NO.  An array's brackets and strings are
 * checked here, its elements by jscan_each(): the object is within the
 * subset once each of its arrays has been read to JSCAN_END. */
enum jscan_result jscan_object(const char *p, size_t n, struct jscan_field *f, size_t nf);
/* The next object of the array a[0, n) (a JSCAN_ARRAY field's text) into
 * f, from *pos (0 at first), which it moves on: JSCAN_OK, JSCAN_END after
 * the last, JSCAN_NO for anything else (an element that is not an object
 * within the subset, bad syntax). */
enum jscan_result jscan_each(const char *a, size_t n, size_t *pos, struct jscan_field *f,
                             size_t nf);
/* The same for an object that holds exactly the keys of f, in that order,
 * without whitespace: the layout a server writes every time, read at
 * about twice the speed.  JSCAN_NO for any other, which jscan_object()
 * may still read. */
enum jscan_result jscan_exact(const char *p, size_t n, struct jscan_field *f, size_t nf);

#endif
