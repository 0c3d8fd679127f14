/*
 * Protocol detection.  The preface starts with 0x89, which is never the
 * first byte of UTF-8 text nor of a telnet command (0xff), so one byte
 * tells a framed client from a person.  A first byte of 0x00 is the high
 * byte of a frame length: a program that forgot the preface, refused
 * rather than greeted as a person.
 */
#include "proto/framed/detect.h"

#include "chatd/wire.h"

enum preface
preface_check(const uint8_t *p, size_t len)
{
	if (len == 0)
		return PREFACE_MORE;
	if (p[0] == 0x00)
		return PREFACE_BAD;
	if (p[0] != (uint8_t)WIRE_PREFACE[0])
		return PREFACE_NONE;
	if (!wire_preface_prefix(p, len))
		return PREFACE_BAD;
	if (len < WIRE_PREFACE_LEN)
		return PREFACE_MORE;
	if (p[WIRE_PREFACE_LEN - 1] != WIRE_VERSION)
		return PREFACE_BAD_VERSION;
	return PREFACE_OK;
}
