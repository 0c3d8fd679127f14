/*
 * Validation of names and text: pure functions shared by every front end,
 * so that a name or message accepted on one protocol is accepted on all.
 */
#ifndef CHATD_VALID_H
#define CHATD_VALID_H

#include <stddef.h>
#include <stdint.h>

/* Decode the UTF-8 sequence at s (n bytes left): its length, with the code
 * point in *cp, or 0 when the bytes are not well-formed UTF-8 (overlong,
 * surrogate, above U+10FFFF, cut short). */
size_t valid_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);

/* 1 if s[0, n) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF) and holds no NUL byte. */
int valid_utf8(const char *s, size_t n);

/* 1 if s[0, n) is one line of text: valid_utf8() and no control
 * character (C0, DEL, C1) but IRC's formatting codes (bold 02, colour 03,
 * hex colour 04, reset 0f, monospace 11, reverse 16, italics 1d,
 * strikethrough 1e, underline 1f), so that it renders on one line of
 * every front end (a room's topic). */
int valid_line(const char *s, size_t n);

/* 1 if s[0, n) is a nickname: 1..CORE_NICK_MAX bytes of [A-Za-z0-9_-],
 * starting with a letter or '_'. */
int valid_nick(const char *s, size_t n);

/* 1 if s[0, n) is a room name: 1..CORE_ROOM_MAX bytes of [A-Za-z0-9_.-]. */
int valid_room(const char *s, size_t n);

/* Copy s[0, n) to dst folding ASCII letters to lower case, and terminate
 * it: names compare case-insensitively through their folded form. */
void valid_fold(char *dst, const char *s, size_t n);

#endif
