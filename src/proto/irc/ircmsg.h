/*
 * IRC input, pure: splitting a byte stream into lines and a line into its
 * parts (tags, source, command, parameters), as RFC 1459/2812 and the
 * modern client protocol document (modern.ircdocs.horse) lay them out.
 * No I/O and no core, so that every split of the input can be tested and
 * fuzzed (tests/fuzz/fuzz_irc.c).
 *
 * Line ends: a CR or a LF ends a line, and the empty lines that CR LF,
 * LF CR or CR CR make are skipped, as the classic servers (ircu, Hybrid)
 * read: a bare CR is a line end like any other, so it can never reach
 * another client inside a message.
 */
#ifndef CHATD_IRCMSG_H
#define CHATD_IRCMSG_H

#include <stddef.h>
#include <stdint.h>

#define IRC_LINE_MAX   512 /* bytes of a line, its CR LF included (RFC 2812 2.3) */
#define IRC_PARAMS_MAX 15  /* parameters of a message, the trailing one included */
/* Bytes of a line's tags, its '@' and the space after them included
 * (IRCv3 message-tags: 4094 of the client's, 4094 of the server's).
 * Both are chatd's defaults (irc-line-max, irc-tags-max). */
#define IRC_TAGS_MAX  8191
#define IRC_LABEL_MAX 64 /* bytes of a label tag's value (IRCv3 labeled-response) */

enum irc_line {
	IRC_LINE_MORE,     /* no complete line yet: keep the bytes */
	IRC_LINE_OK,       /* a line was produced */
	IRC_LINE_TOO_LONG, /* the line passed the bound: report it, skip to its end */
	IRC_LINE_SKIPPED,  /* the rest of an overlong line was thrown away */
};

struct irc_reader {
	size_t max;     /* longest line accepted, its end excluded */
	int discarding; /* inside an overlong line, dropping up to its end */
};

struct irc_param {
	const char *p;
	size_t n;
};

/* One message, its parts pointing into the line it was parsed from. */
struct irc_msg {
	const char *tags; /* after '@', or NULL (tags are read past, not used) */
	size_t tags_len;
	const char *source; /* after ':', or NULL */
	size_t source_len;
	const char *cmd;
	size_t cmd_len;
	unsigned nparams;
	struct irc_param params[IRC_PARAMS_MAX];
};

void irc_reader_init(struct irc_reader *r, size_t max);

/*
 * Take the next line from p[0, len).  On IRC_LINE_OK the line, without
 * its end, is p[*off, *off + *n), never empty.  *used says how many bytes
 * were consumed in every case; on IRC_LINE_MORE what is left unused (and
 * kept by the caller for the next call) is at most r->max bytes.
 */
enum irc_line irc_line_next(struct irc_reader *r, const uint8_t *p, size_t len, size_t *used,
                            size_t *off, size_t *n);

/* Whether line[0, n) (its end excluded) is within the bounds: at most
 * tags_max bytes of tags and line_max - 2 of the rest. */
int irc_line_fits(const char *line, size_t n, size_t line_max, size_t tags_max);

/* Parse line[0, n) into m: 0, or -1 when it holds no command. */
int irc_parse(const char *line, size_t n, struct irc_msg *m);

/* Whether m's command is name (ASCII, any case). */
int irc_cmd_is(const struct irc_msg *m, const char *name);

/* The next item of a comma-separated list *s[0, *n): 1 with the item in
 * *item[0, *in) (perhaps empty) and the list advanced past it, 0 when the
 * list is used up. */
int irc_list_next(const char **s, size_t *n, const char **item, size_t *in);

/* The raw value of tag key in a message's tags[0, n) ("a=1;+b;key=v"):
 * 1 with it in *v[0, *vn) (escapes left as sent; empty for a tag without
 * one), 0 when the tag is absent. */
int irc_tag_get(const char *tags, size_t n, const char *key, const char **v, size_t *vn);

/* A message reference of CHATHISTORY (IRCv3 draft/chathistory). */
enum irc_ref_kind {
	IRC_REF_STAR = 1, /* "*": no bound */
	IRC_REF_MSGID,    /* "msgid=EPOCH-SEQ": chatd's msgid of a room message */
	IRC_REF_TIME,     /* "timestamp=YYYY-MM-DDThh:mm:ss[.sss]Z" */
};

struct irc_ref {
	int kind; /* enum irc_ref_kind */
	uint64_t epoch, seq;
	uint64_t time_ms; /* unix ms, UTC */
};

/* Parse s[0, n) as a reference: 0, or -1 when it is none of them (a
 * msgid of another form, seq 0, a date that does not exist). */
int irc_ref_parse(const char *s, size_t n, struct irc_ref *ref);

/* The decimal number s[0, n) (1 to 20 digits, no sign), into *v: 0, or
 * -1 when it is not one or passes 2^64 - 1. */
int irc_number(const char *s, size_t n, uint64_t *v);

/*
 * Whether the first bytes of a connection are an IRC client's opening:
 * one of CAP, NICK, USER or PASS (any case), then a space.  1: they are;
 * 0: they are not; -1: they may be, more bytes will say.
 */
int irc_opening(const uint8_t *p, size_t len);

#endif
