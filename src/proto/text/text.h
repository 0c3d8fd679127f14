/*
 * The text front end (docs/protocol.md, "Text mode"): chat for people with
 * telnet, nc or socat.
 */
#ifndef CHATD_TEXT_H
#define CHATD_TEXT_H

#include <stddef.h>

#include "net/conn.h"

struct config;

extern const struct frontend text_frontend;

/* Release the rendering arena (at exit). */
void text_cleanup(void);

/* Longest input line a text client may send, in bytes. */
size_t text_line_max(const struct config *cfg);

#endif
