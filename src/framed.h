/*
 * The framed protocol front end (docs/protocol.md).
 */
#ifndef CHATD_FRAMED_H
#define CHATD_FRAMED_H

#include <stdint.h>

#include "conn.h"

extern const struct frontend framed_frontend;

/* Release the rendering arena (at exit). */
void framed_cleanup(void);

/* Answer a client whose preface was wrong with a 1xx error, then close. */
void framed_refuse(struct conn *c, uint16_t code);

#endif
