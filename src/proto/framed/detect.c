/*
 * Protocol detection.  The preface starts with 0x89, which is never the
 * first byte of UTF-8 text nor of a telnet command (0xff), so one byte
 * tells a framed client from a person.  A first byte of 0x00 is the high
 * byte of a frame length: a program that forgot the preface, refused
 * rather than greeted as a person.
 */
#include "proto/framed/detect.h"

#include "chatd/wire.h"

enum detect_result
detect_protocol(const uint8_t *p, size_t len)
{
	if (len == 0)
		return DETECT_MORE;
	if (p[0] == 0x00)
		return DETECT_BAD_PREFACE;
	if (p[0] != (uint8_t)WIRE_PREFACE[0])
		return DETECT_TEXT;
	if (!wire_preface_prefix(p, len))
		return DETECT_BAD_PREFACE;
	if (len < WIRE_PREFACE_LEN)
		return DETECT_MORE;
	if (p[WIRE_PREFACE_LEN - 1] != WIRE_VERSION)
		return DETECT_BAD_VERSION;
	return DETECT_FRAMED;
}
