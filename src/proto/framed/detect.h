/*
 * The framed protocol's rule on a shared port: does a connection's start
 * hold the preface?  Pure, so that it can be tested over every way the
 * bytes may be split across reads.
 */
#ifndef CHATD_DETECT_H
#define CHATD_DETECT_H

#include <stddef.h>
#include <stdint.h>

enum preface {
	PREFACE_MORE,        /* not enough bytes to decide */
	PREFACE_OK,          /* the framed preface, our version */
	PREFACE_BAD_VERSION, /* the framed preface with another version */
	PREFACE_BAD,         /* a framed client gone wrong: a frame without preface */
	PREFACE_NONE,        /* anything else: not a framed client at all */
};

/* Classify the first len bytes a client sent. */
enum preface preface_check(const uint8_t *p, size_t len);

#endif
