/*
 * The text front end (docs/protocol.md, "Text mode"): chat for people with
 * telnet, nc or socat; one row of the front-end registry
 * (src/proto/registry.c).
 */
#ifndef CHATD_TEXT_H
#define CHATD_TEXT_H

#include "net/frontend.h"

extern struct frontend text_frontend;

#endif
