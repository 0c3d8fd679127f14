/*
 * The framed protocol front end (docs/protocol.md): one row of the
 * front-end registry (src/proto/registry.c).
 */
#ifndef CHATD_FRAMED_H
#define CHATD_FRAMED_H

#include "net/frontend.h"

extern struct frontend framed_frontend;

#endif
