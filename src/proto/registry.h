/*
 * The table of front ends (see registry.c).
 */
#ifndef CHATD_PROTO_REGISTRY_H
#define CHATD_PROTO_REGISTRY_H

/* Register every front end with the connection layer, once, at start-up. */
void proto_register_all(void);

#endif
