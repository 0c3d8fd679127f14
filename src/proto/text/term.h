/*
 * Rendering for a person's terminal (the text protocol): every line the
 * server sends to a text client is built here.  Text from other users is
 * made safe: no control character, escape sequence or line break from a
 * message reaches a terminal, so nobody can recolour, clear or forge lines
 * on another user's screen.
 */
#ifndef CHATD_TERM_H
#define CHATD_TERM_H

#include <stddef.h>
#include <stdint.h>

#include "core/msg.h"
#include "core/pres.h"
#include "core/vocab.h"

/* Longest rendered line for text of n bytes: every byte may become a
 * three-byte replacement character. */
#define TERM_LINE_MAX(n) (128 + 3 * (size_t)(n))

/* A growing output line with a hard bound; overflow truncates. */
struct term_buf {
	char *p;
	size_t cap;
	size_t len;
};

void term_init(struct term_buf *b, char *p, size_t cap);
/* Append bytes as they are (server-made text only). */
void term_raw(struct term_buf *b, const char *s, size_t n);
void term_str(struct term_buf *b, const char *s);
/* Append user text made safe for a terminal: IRC's formatting codes are
 * left out (term_format_len), C0 and C1 controls, DEL, and bidirectional
 * overrides become U+FFFD, tabs become spaces; bytes that are not UTF-8
 * become U+FFFD too. */
void term_safe(struct term_buf *b, const char *s, size_t n);
/* The length of the mIRC formatting code s[0, n) starts with, 0 when it
 * starts with none: bold 02, italics 1d, underline 1f, strikethrough 1e,
 * monospace 11, reverse 16 and reset 0f alone; colour 03 with up to two
 * digits of foreground and, after a comma, up to two of background; hex
 * colour 04 with six hex digits and, after a comma, six more.  IRC
 * clients show them as styles; on a terminal they would be noise. */
size_t term_format_len(const char *s, size_t n);
/* End the line with CRLF (telnet's line ending, fine for nc too). */
void term_eol(struct term_buf *b);

/* "HH:MM" of a unix-ms time, in the zone given as seconds east of UTC. */
void term_clock(char out[6], uint64_t time_ms, long utc_offset);

/* A chat line: "HH:MM #room <nick> text", "HH:MM #room * nick action" for
 * room messages starting "/me ", "HH:MM *nick* text" for direct messages;
 * history lines start with "| ".  Returns the line length. */
size_t term_message(char *out, size_t cap, const struct msg *m, int history, long utc_offset);
/* A presence line: "HH:MM * nick joined #room" and so on, then ": " and
 * the words of a part or quit when the user gave some; a summary of a
 * large room's events is "HH:MM * #room: 3 joined, 1 left (1200 members):"
 * and the events, "+nick" joined, "-nick" left (a reason in parentheses
 * for a drop), "old>new" renamed, wrapped in lines of at most 78 columns
 * that start "*   ".  A topic change is "HH:MM * nick set the topic of
 * #room: text" (or "cleared the topic of #room"). */
size_t term_presence(char *out, size_t cap, const struct pres *p, long utc_offset);

/* A room's topic, as a join and /topic show it: "* topic of #room: text
 * (set by nick at HH:MM)", or "* #room has no topic".  Returns the line
 * length. */
size_t term_topic(char *out, size_t cap, const char *room, size_t rn, const char *text, size_t tn,
                  const char *by, uint64_t time_ms, long utc_offset);

/* Longest rendering of a summary. */
#define TERM_SUMMARY_MAX (128 + CORE_SUMMARY_MAX * 96)

#endif
