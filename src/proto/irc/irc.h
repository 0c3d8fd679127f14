/*
 * The IRC front end (docs/irc.md): irssi, WeeChat and ii chat in chatd's
 * rooms; one row of the front-end registry (src/proto/registry.c).
 */
#ifndef CHATD_IRC_H
#define CHATD_IRC_H

#include "net/frontend.h"

extern struct frontend irc_frontend;

#endif
