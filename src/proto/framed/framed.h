/*
 * The framed protocol front end (docs/protocol.md): one row of the
 * front-end registry (src/proto/registry.c).
 */
#ifndef CHATD_FRAMED_H
#define CHATD_FRAMED_H

#include "net/frontend.h"

#include <stdint.h>

extern struct frontend framed_frontend;

/* The framed protocol's error code for a core refusal (enum core_err):
 * the WebSocket JSON protocol uses the same codes. */
uint16_t framed_error_of(int err);

#endif
