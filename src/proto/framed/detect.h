/*
 * Protocol detection from a connection's first bytes: pure, so that it
 * can be tested over every way the bytes may be split across reads.
 */
#ifndef CHATD_DETECT_H
#define CHATD_DETECT_H

#include <stddef.h>
#include <stdint.h>

enum detect_result {
	DETECT_MORE,        /* not enough bytes to decide */
	DETECT_FRAMED,      /* the framed preface, our version */
	DETECT_BAD_VERSION, /* the framed preface with another version */
	DETECT_BAD_PREFACE, /* a framed client gone wrong: a frame without preface */
	DETECT_TEXT,        /* anything else: a person or a line-based tool */
};

/* Classify the first len bytes a client sent. */
enum detect_result detect_protocol(const uint8_t *p, size_t len);

#endif
