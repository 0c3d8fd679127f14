/*
 * Terminal rendering.  The filter works on code points, not bytes, so
 * that multi-byte characters pass intact while C1 controls (which some
 * terminals obey as escape introducers) and bidi overrides (which can
 * make a line read differently from what it holds) are neutralised.
 */
#include "proto/text/term.h"

#include <stdio.h>
#include <string.h>

#include "core/vocab.h"
#include "core/valid.h"

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

void
term_init(struct term_buf *b, char *p, size_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
}

void
term_raw(struct term_buf *b, const char *s, size_t n)
{
	if (n > b->cap - b->len)
		n = b->cap - b->len;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void
term_str(struct term_buf *b, const char *s)
{
	term_raw(b, s, strlen(s));
}

/* Code points that must not reach a terminal as they are. */
static int
unsafe(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e ||
	       cp == 0x200f || cp == 0x061c;
}

/* How many of s[0, n), at most max, are digits (hex: hex digits). */
static size_t
digits(const char *s, size_t n, size_t max, int hex)
{
	size_t i;

	for (i = 0; i < n && i < max; i++) {
		char ch = s[i];

		if (!(ch >= '0' && ch <= '9') &&
		    !(hex && ((ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'))))
			break;
	}
	return i;
}

size_t
term_format_len(const char *s, size_t n)
{
	size_t k, bg;

	if (n == 0)
		return 0;
	switch (s[0]) {
	case 0x02:
	case 0x0f:
	case 0x11:
	case 0x16:
	case 0x1d:
	case 0x1e:
	case 0x1f:
		return 1;
	case 0x03:
		/* \x03[fg[,bg]]: one or two digits each. */
		k = 1 + digits(s + 1, n - 1, 2, 0);
		if (k > 1 && k < n && s[k] == ',' && (bg = digits(s + k + 1, n - k - 1, 2, 0)) > 0)
			k += 1 + bg;
		return k;
	case 0x04:
		/* \x04[RRGGBB[,RRGGBB]]: six hex digits each. */
		if (digits(s + 1, n - 1, 6, 1) < 6)
			return 1;
		k = 7;
		if (k < n && s[k] == ',' && digits(s + k + 1, n - k - 1, 6, 1) == 6)
			k += 7;
		return k;
	default:
		return 0;
	}
}

void
term_safe(struct term_buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t k = term_format_len(str + i, n - i);

		if (k > 0) {
			i += k; /* IRC's styles and colours: left out */
			continue;
		}
		k = valid_utf8_next(s + i, n - i, &cp);
		if (k == 0) {
			term_raw(b, replacement, 3);
			i++;
		} else if (cp == '\t') {
			term_raw(b, " ", 1);
			i += k;
		} else if (unsafe(cp)) {
			term_raw(b, replacement, 3);
			i += k;
		} else {
			if (b->cap - b->len < k)
				return; /* no room for the whole character: stop here */
			term_raw(b, (const char *)s + i, k);
			i += k;
		}
	}
}

void
term_eol(struct term_buf *b)
{
	/* Keep room for the line end even when the text was cut short, and
	 * cut at the start of a character, never inside one. */
	if (b->cap - b->len < 2) {
		b->len = b->cap >= 2 ? b->cap - 2 : 0;
		while (b->len > 0 && ((unsigned char)b->p[b->len] & 0xc0) == 0x80)
			b->len--;
	}
	term_raw(b, "\r\n", 2);
}

void
term_clock(char out[6], uint64_t time_ms, long utc_offset)
{
	long long secs = (long long)(time_ms / 1000) + utc_offset;
	long day = (long)(((secs % 86400) + 86400) % 86400);

	snprintf(out, 6, "%02ld:%02ld", day / 3600 % 24, day / 60 % 60);
}

size_t
term_message(char *out, size_t cap, const struct msg *m, int history, long utc_offset)
{
	struct term_buf b;
	char clock[6];
	int action = !m->direct && m->text_len > 4 && memcmp(m->text, "/me ", 4) == 0;

	term_init(&b, out, cap);
	term_clock(clock, m->time_ms, utc_offset);
	if (history)
		term_str(&b, "| ");
	term_str(&b, clock);
	term_str(&b, " ");
	if (m->direct) {
		term_str(&b, "*");
		term_raw(&b, m->from, m->from_len);
		term_str(&b, "* ");
	} else {
		term_str(&b, "#");
		term_raw(&b, m->room, m->room_len);
		term_str(&b, action ? " * " : " <");
		term_raw(&b, m->from, m->from_len);
		term_str(&b, action ? " " : "> ");
	}
	if (action)
		term_safe(&b, m->text + 4, m->text_len - 4u);
	else
		term_safe(&b, m->text, m->text_len);
	term_eol(&b);
	return b.len;
}

/* One event of a summary as a word: "+nick", "-nick", "-nick(reason)",
 * "old>new"; nicks are plain ASCII, so the bytes are the columns. */
static size_t
summary_word(char *out, size_t cap, const struct pres *e)
{
	struct term_buf w;

	term_init(&w, out, cap);
	if (e->kind == PRES_NICK) {
		term_raw(&w, e->nick, e->nick_len);
		term_str(&w, ">");
		term_raw(&w, e->new_nick, e->new_nick_len);
		return w.len;
	}
	term_str(&w, e->kind == PRES_JOIN ? "+" : "-");
	term_raw(&w, e->nick, e->nick_len);
	if (e->kind == PRES_QUIT) {
		term_str(&w, "(quit)");
	} else if (e->kind == PRES_DROP) {
		term_str(&w, "(");
		term_str(&w, core_reason_name(e->reason));
		term_str(&w, ")");
	}
	return w.len;
}

static size_t
term_summary(char *out, size_t cap, const struct pres *p, const char *clock)
{
	struct term_buf b;
	char head[160], word[96];
	size_t line = 0, i;

	term_init(&b, out, cap);
	snprintf(head, sizeof(head), "%s * #%.*s: %u joined, %u left (%u member%s)", clock,
	         (int)p->room_len, p->room, p->joins, p->leaves, p->members,
	         p->members == 1 ? "" : "s");
	term_str(&b, head);
	if (p->nitems)
		term_str(&b, ":");
	term_eol(&b);
	for (i = 0; i <= p->nitems; i++) {
		size_t n;

		if (i < p->nitems)
			n = summary_word(word, sizeof(word), p->items[i]);
		else if (p->omitted)
			n = (size_t)snprintf(word, sizeof(word), "and more");
		else
			break;
		if (line && line + 1 + n > 78) {
			term_eol(&b);
			line = 0;
		}
		term_str(&b, line ? " " : "*   ");
		term_raw(&b, word, n);
		line += (line ? 1 : 4) + n;
	}
	if (line)
		term_eol(&b);
	return b.len;
}

size_t
term_presence(char *out, size_t cap, const struct pres *p, long utc_offset)
{
	struct term_buf b;
	char clock[6];

	term_clock(clock, p->time_ms, utc_offset);
	if (p->kind == PRES_SUMMARY)
		return term_summary(out, cap, p, clock);
	term_init(&b, out, cap);
	term_str(&b, clock);
	term_str(&b, " * ");
	term_raw(&b, p->nick, p->nick_len);
	switch (p->kind) {
	case PRES_JOIN:
		term_str(&b, " joined #");
		term_raw(&b, p->room, p->room_len);
		break;
	case PRES_PART:
		term_str(&b, " left #");
		term_raw(&b, p->room, p->room_len);
		break;
	case PRES_QUIT:
		term_str(&b, " quit (#");
		term_raw(&b, p->room, p->room_len);
		term_str(&b, ")");
		break;
	case PRES_NICK:
		term_str(&b, " is now known as ");
		term_raw(&b, p->new_nick, p->new_nick_len);
		break;
	case PRES_TOPIC:
		term_str(&b, p->text_len ? " set the topic of #" : " cleared the topic of #");
		term_raw(&b, p->room, p->room_len);
		if (p->text_len) {
			term_str(&b, ": ");
			term_safe(&b, p->text, p->text_len);
		}
		break;
	default:
		term_str(&b, " dropped from #");
		term_raw(&b, p->room, p->room_len);
		term_str(&b, ": ");
		term_str(&b, core_reason_name(p->reason));
		break;
	}
	/* The words a user parted or quit with, filtered like any text. */
	if (p->text_len && p->kind != PRES_TOPIC) {
		term_str(&b, ": ");
		term_safe(&b, p->text, p->text_len);
	}
	term_eol(&b);
	return b.len;
}

size_t
term_topic(char *out, size_t cap, const char *room, size_t rn, const char *text, size_t tn,
           const char *by, uint64_t time_ms, long utc_offset)
{
	struct term_buf b;
	char clock[6];

	term_init(&b, out, cap);
	term_str(&b, tn ? "* topic of #" : "* #");
	term_raw(&b, room, rn);
	if (tn == 0) {
		term_str(&b, " has no topic");
		term_eol(&b);
		return b.len;
	}
	term_str(&b, ": ");
	term_safe(&b, text, tn);
	term_clock(clock, time_ms, utc_offset);
	term_str(&b, " (set by ");
	term_str(&b, by);
	term_str(&b, " at ");
	term_str(&b, clock);
	term_str(&b, ")");
	term_eol(&b);
	return b.len;
}
