/*
 * The core's vocabulary: the outcomes of commands, the kinds of presence
 * events, the reasons a connection ends, the flags of a join, and the
 * bounds of names.  Every front end maps these to its own wire (framed
 * error codes, text-mode sentences, later HTTP statuses); the core never
 * sees a wire.
 */
#ifndef CHATD_CORE_VOCAB_H
#define CHATD_CORE_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "util/defaults.h"

#define CORE_NICK_MAX    32                  /* bytes of a nickname */
#define CORE_ROOM_MAX    64                  /* bytes of a room name */
#define CORE_TEXT_MAX    CHATD_TEXT_MAX_HARD /* bytes of a message text, at the most */
#define CORE_SUMMARY_MAX 64                  /* events listed in one summary of a large room */
#define CORE_JOIN_NAMES  256                 /* members a join answer names; a listing names all */
#define CORE_REASON_MAX  200                 /* bytes of a part or quit reason kept */
/* Bytes of a room's topic: IRC's usual TOPICLEN (ircd-ratbox, charybdis,
 * solanum), so that an IRC client shown a topic set on any front end sees
 * all of it, and a TOPIC line with its prefix fits in IRC's 512 bytes. */
#define CORE_TOPIC_MAX 390

/* Why a command was refused (0: it was not). */
enum core_err {
	CORE_OK = 0,
	CORE_E_NOT_REGISTERED,     /* the session has no name yet */
	CORE_E_ALREADY_REGISTERED, /* it has one */
	CORE_E_NICK_INVALID,
	CORE_E_NICK_TAKEN,
	CORE_E_ROOM_INVALID,
	CORE_E_TEXT_INVALID, /* empty, not UTF-8, or holding a NUL (a topic: a control) */
	CORE_E_TEXT_TOO_LONG,
	CORE_E_NOT_IN_ROOM,
	CORE_E_ALREADY_IN_ROOM,
	CORE_E_NO_SUCH_ROOM, /* no room of that name has members */
	CORE_E_NO_SUCH_USER,
	CORE_E_TOO_MANY_ROOMS, /* the session is in max-rooms rooms */
	CORE_E_ROOM_FULL,      /* the room has max-members members */
	CORE_E_ROOM_LIMIT,     /* the server holds max-rooms-total rooms, none empty */
	CORE_E_STORE,          /* the history store cannot take messages (or read a room) now */
	CORE_E_CLUSTER,        /* the room's Redis shard cannot be reached now */
	CORE_E_COUNT,
};

/* What happened to a user (struct pres's kind). */
enum core_pres {
	PRES_JOIN = 1,
	PRES_PART,
	PRES_QUIT,
	PRES_NICK,
	PRES_DROP,
	PRES_SUMMARY, /* a large room's events of the last second */
	PRES_TOPIC,   /* the room's topic was set (nick: by whom, text: to what) */
};

/* Why a connection ended: the reason a drop is announced with. */
enum core_reason {
	REASON_NONE = 0, /* it quit */
	REASON_CLOSED,   /* the peer closed its end */
	REASON_RESET,    /* reset, or a write failed */
	REASON_PING_TIMEOUT,
	REASON_SLOW_CONSUMER,
	REASON_PROTOCOL_ERROR,
	REASON_SHUTDOWN,
	REASON_HANDSHAKE_TIMEOUT,
	REASON_TIMEOUT,   /* a session without a connection went unused too long */
	REASON_NODE_LOST, /* a user of another node of the cluster whose node stopped answering */
	REASON_COUNT,
};

/* What a join's replay tells of the cursor it was given. */
#define CORE_HIST_TRUNCATED     0x01 /* the replay lacks messages after the cursor */
#define CORE_HIST_EPOCH_CHANGED 0x02 /* the cursor is not of the room's current sequence */

/* "nick taken", "connection closed": words for logs and people. */
const char *core_err_name(int err);
const char *core_reason_name(int reason);

#endif
