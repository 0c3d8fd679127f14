/*
 * Input lines of the text protocol: splitting a byte stream into lines
 * (ended by LF, CRLF, CR NUL or a bare CR: telnet in character mode sends
 * CR NUL for Enter), dropping telnet commands, and bounding line length.  Pure,
 * so that every split of the input and every telnet sequence can be
 * tested and fuzzed.
 */
#ifndef CHATD_LINE_H
#define CHATD_LINE_H

#include <stddef.h>
#include <stdint.h>

/* Telnet bytes (RFC 854). */
#define LINE_IAC  255
#define LINE_SE   240
#define LINE_SB   250
#define LINE_WILL 251
#define LINE_DONT 254

enum line_result {
	LINE_MORE,     /* no complete line yet: keep the bytes */
	LINE_OK,       /* a line was produced */
	LINE_TOO_LONG, /* the line passed the bound: report it, then skip to its end */
	LINE_SKIPPED,  /* the rest of an overlong line was thrown away */
};

struct line_reader {
	size_t max;     /* longest line accepted, in bytes after cleaning */
	int discarding; /* inside an overlong line, dropping up to its LF */
	int in_sb;      /* inside a telnet subnegotiation */
	int after_cr;   /* the last line ended in CR: a LF or NUL next belongs to it */
};

void line_reader_init(struct line_reader *lr, size_t max);

/*
 * Take the next line from p[0, len).  On LINE_OK the cleaned line (telnet
 * commands and the line ending removed) is in out[0, *outlen), out having
 * room for lr->max bytes.  *used says how many input bytes were consumed in
 * every case; on LINE_MORE it is 0 (unless an overlong line is being
 * skipped) and the caller keeps the bytes for the next call.
 */
enum line_result line_next(struct line_reader *lr, const uint8_t *p, size_t len, size_t *used,
                           char *out, size_t *outlen);

/* Split "/cmd rest" into the command word (without '/') and the rest with
 * leading spaces skipped; returns 0 if the line is not a command. */
int line_command(const char *line, size_t n, const char **cmd, size_t *cn, const char **rest,
                 size_t *rn);

#endif
