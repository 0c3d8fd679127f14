/*
 * The core's vocabulary in words, for logs and for front ends that speak
 * to people.
 */
#include "core/vocab.h"

const char *
core_err_name(int err)
{
	static const char *const names[CORE_E_COUNT] = {
	        [CORE_OK] = "ok",
	        [CORE_E_NOT_REGISTERED] = "not registered",
	        [CORE_E_ALREADY_REGISTERED] = "already registered",
	        [CORE_E_NICK_INVALID] = "invalid nick",
	        [CORE_E_NICK_TAKEN] = "nick taken",
	        [CORE_E_ROOM_INVALID] = "invalid room name",
	        [CORE_E_TEXT_INVALID] = "invalid text",
	        [CORE_E_TEXT_TOO_LONG] = "text too long",
	        [CORE_E_NOT_IN_ROOM] = "not in room",
	        [CORE_E_ALREADY_IN_ROOM] = "already in room",
	        [CORE_E_NO_SUCH_ROOM] = "no such room",
	        [CORE_E_NO_SUCH_USER] = "no such user",
	        [CORE_E_TOO_MANY_ROOMS] = "too many rooms",
	        [CORE_E_ROOM_FULL] = "room full",
	        [CORE_E_ROOM_LIMIT] = "too many rooms on the server",
	        [CORE_E_STORE] = "history store unavailable",
	        [CORE_E_CLUSTER] = "cluster unavailable",
	};

	return err >= 0 && err < CORE_E_COUNT ? names[err] : "unknown error";
}

const char *
core_reason_name(int reason)
{
	static const char *const names[REASON_COUNT] = {
	        [REASON_NONE] = "quit",
	        [REASON_CLOSED] = "connection closed",
	        [REASON_RESET] = "connection reset",
	        [REASON_PING_TIMEOUT] = "ping timeout",
	        [REASON_SLOW_CONSUMER] = "slow consumer",
	        [REASON_PROTOCOL_ERROR] = "protocol error",
	        [REASON_SHUTDOWN] = "server shutdown",
	        [REASON_HANDSHAKE_TIMEOUT] = "handshake timeout",
	        [REASON_TIMEOUT] = "timeout",
	        [REASON_NODE_LOST] = "node lost",
	};

	return reason >= 0 && reason < REASON_COUNT ? names[reason] : "unknown";
}
