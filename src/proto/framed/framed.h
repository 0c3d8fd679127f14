/*
 * The framed protocol front end (docs/protocol.md).
 */
#ifndef CHATD_FRAMED_H
#define CHATD_FRAMED_H

#include <stdint.h>

#include "net/conn.h"

extern const struct frontend framed_frontend;

/* Release the rendering arena (at exit). */
void framed_cleanup(void);

/* Turn a client away with a 1xx error saying why (NULL: the standard
 * text for preface errors), then close. */
void framed_refuse(struct conn *c, uint16_t code, const char *why);

#endif
