/*
 * The flat-object subset of JSON, scanned in one pass.  Every read is
 * checked against the end; a key asked for twice in the input, or any
 * construct outside the subset, gives up with JSCAN_NO rather than guess.
 */
#include "swarm/jscan.h"

#include <string.h>

#define JSCAN_OTHER_KEYS 16 /* keys not asked for that one object may hold */

/* Skip JSON whitespace from i; the index of the next other byte. */
static size_t
skip_ws(const char *p, size_t n, size_t i)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	return i;
}

/* The bytes of the word x that stop a plain string (a quote, a
 * backslash, a control byte, or one above 0x7e), as their high bits.
 * Borrows may flag bytes above a true stop, never below one, so the
 * lowest flag is exact. */
static uint64_t
word_stops(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\'), d = x ^ (ones * 0x7f);

	return (((q - ones) & ~q) | ((b - ones) & ~b) | ((d - ones) & ~d) |
	        ((x - ones * 0x20) & ~x) | x) &
	       highs;
}

/* A string opening at p[i] (a quote): its bytes as [*s, *s + *len), and
 * the index after its closing quote; 0 when it leaves the subset.  Eight
 * bytes at a time, as the text of a message is most of an event. */
static size_t
scan_string(const char *p, size_t n, size_t i, const char **s, size_t *len)
{
	size_t start = ++i;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; i + 8 <= n; i += 8) {
		uint64_t x, m;

		memcpy(&x, p + i, 8);
		if ((m = word_stops(x)) != 0) {
			i += (size_t)__builtin_ctzll(m) / 8; /* the first byte, in memory order */
			goto stop;
		}
	}
#endif
	for (; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '"' || c < 0x20 || c > 0x7e || c == '\\')
			goto stop;
	}
	return 0;
stop:
	if (p[i] != '"')
		return 0; /* an escape or a byte the full parser must judge */
	*s = p + start;
	*len = i - start;
	return i + 1;
}

/* The value of eight decimal digits at p, or -1 if one is not a digit:
 * all eight at once (event ids and epochs have sixteen). */
static int64_t
digits8(const char *p)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t x;

	memcpy(&x, p, 8);
	/* Each byte 0x30..0x39: high nibble 3, and adding 6 does not carry. */
	if ((x & 0xf0f0f0f0f0f0f0f0ull) != ones * 0x30 ||
	    ((x + ones * 0x06) & 0xf0f0f0f0f0f0f0f0ull) != ones * 0x30)
		return -1;
	x -= ones * 0x30;
	/* First character most significant (little-endian: lowest byte). */
	x = (x * 10 + (x >> 8)) & 0x00ff00ff00ff00ffull;
	x = (x * 100 + (x >> 16)) & 0x0000ffff0000ffffull;
	x = (x * 10000 + (x >> 32)) & 0xffffffffull;
	return (int64_t)x;
}

/* A non-negative integer at p[i]: its value and the index after it; 0
 * when it is not one within the subset (sign, fraction, exponent, a
 * leading zero, more than 2^63 - 1). */
static size_t
scan_int(const char *p, size_t n, size_t i, uint64_t *v)
{
	size_t start = i;
	uint64_t x = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (int64_t d; i + 8 <= n && i - start <= 8 && (d = digits8(p + i)) >= 0; i += 8)
		x = x * 100000000u + (uint64_t)d;
#endif
	/* Nineteen digits fit in 64 bits (below 10^19 < 2^64): check after. */
	for (; i < n && p[i] >= '0' && p[i] <= '9' && i - start < 19; i++)
		x = x * 10 + (uint64_t)(p[i] - '0');
	if (i == start || (p[start] == '0' && i - start > 1) || x > UINT64_C(0x7fffffffffffffff))
		return 0;
	if (i < n && ((p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == 'e' || p[i] == 'E'))
		return 0; /* a twentieth digit, a fraction, an exponent */
	*v = x;
	return i;
}

/* The literal word at p[i] (true, false, null): the index after it, 0
 * when the bytes are not word. */
static size_t
scan_word(const char *p, size_t n, size_t i, const char *word, size_t len)
{
	if (n - i < len || memcmp(p + i, word, len) != 0)
		return 0;
	return i + len;
}

/* Do a and b hold the same len bytes?  Keys are short: no call. */
static int
same(const char *a, const char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/* The field f[0, nf) asked for under key, or NULL.  Objects come with
 * their keys in the order callers list them, mostly: the one after the
 * last found (*hint) is tried first. */
static struct jscan_field *
wanted(struct jscan_field *f, size_t nf, const char *key, size_t len, size_t *hint)
{
	size_t j, k = *hint;

	for (j = 0; j < nf; j++, k++) {
		if (k >= nf)
			k = 0;
		if (f[k].key_len == len && same(f[k].key, key, len)) {
			*hint = k + 1;
			return &f[k];
		}
	}
	return NULL;
}

/* Skip the array opening at p[i] (its contents are read by jscan_each()):
 * the index after its "]", or 0.  Strings are skipped as the subset has
 * them, so a bracket inside one does not count. */
static size_t
skip_array(const char *p, size_t n, size_t i)
{
	unsigned depth = 0;
	const char *s;
	size_t len;

	while (i < n) {
		switch (p[i]) {
		case '"':
			if ((i = scan_string(p, n, i, &s, &len)) == 0)
				return 0;
			continue;
		case '[':
		case '{':
			depth++;
			break;
		case ']':
		case '}':
			if (depth == 0 || (--depth == 0 && p[i] != ']'))
				return 0;
			if (depth == 0)
				return i + 1;
			break;
		default:
			break;
		}
		i++;
	}
	return 0;
}

static size_t scan_object(const char *p, size_t n, size_t i, struct jscan_field *f, size_t nf,
                          int arrays);

/* Read the array opening at p[i] whole, each element an object within the
 * subset (without arrays of its own): the index after its "]", or 0. */
static size_t
read_array(const char *p, size_t n, size_t i)
{
	i = skip_ws(p, n, i + 1);
	if (i < n && p[i] == ']')
		return i + 1;
	for (;;) {
		if ((i = scan_object(p, n, i, NULL, 0, 0)) == 0)
			return 0;
		i = skip_ws(p, n, i);
		if (i < n && p[i] == ']')
			return i + 1;
		if (i == n || p[i] != ',')
			return 0;
		i = skip_ws(p, n, i + 1);
	}
}

/* The object opening at p[i] into f: the index after its "}", or 0 when
 * it leaves the subset.  arrays: its values may be arrays of objects (an
 * array asked for is only skipped here, for jscan_each() to read; one not
 * asked for is read whole); an element's may not. */
static size_t
scan_object(const char *p, size_t n, size_t i, struct jscan_field *f, size_t nf, int arrays)
{
	const char *other[JSCAN_OTHER_KEYS]; /* the keys not asked for, to refuse a repeat */
	size_t k, hint = 0, other_len[JSCAN_OTHER_KEYS], nother = 0;
	int first = 1;

	for (k = 0; k < nf; k++)
		f[k].type = JSCAN_ABSENT;
	if (i == n || p[i] != '{')
		return 0;
	i = skip_ws(p, n, i + 1);
	for (;;) {
		struct jscan_field *slot, tmp;
		const char *key;
		size_t klen;

		if (i == n)
			return 0;
		if (p[i] == '}') {
			if (!first)
				return 0; /* "}" right after a "," */
			break;
		}
		if (p[i] != '"' || (i = scan_string(p, n, i, &key, &klen)) == 0)
			return 0;
		i = skip_ws(p, n, i);
		if (i == n || p[i] != ':')
			return 0;
		i = skip_ws(p, n, i + 1);
		if (i == n)
			return 0;
		slot = klen ? wanted(f, nf, key, klen, &hint) : NULL;
		if (slot == NULL) {
			/* Scanned all the same: it must be within the subset, and
			 * not repeated either. */
			if (nother == JSCAN_OTHER_KEYS)
				return 0;
			for (k = 0; k < nother; k++)
				if (other_len[k] == klen && memcmp(other[k], key, klen) == 0)
					return 0;
			other[nother] = key;
			other_len[nother++] = klen;
			slot = &tmp;
		} else if (slot->type != JSCAN_ABSENT) {
			return 0; /* a repeated key: the full parser refuses it */
		}
		if (p[i] == '"') {
			slot->type = JSCAN_STR;
			i = scan_string(p, n, i, &slot->s, &slot->n);
		} else if (p[i] >= '0' && p[i] <= '9') {
			slot->type = JSCAN_INT;
			i = scan_int(p, n, i, &slot->i);
		} else if (p[i] == 't') {
			slot->type = JSCAN_TRUE;
			i = scan_word(p, n, i, "true", 4);
		} else if (p[i] == 'f') {
			slot->type = JSCAN_FALSE;
			i = scan_word(p, n, i, "false", 5);
		} else if (p[i] == 'n') {
			slot->type = JSCAN_NULL;
			i = scan_word(p, n, i, "null", 4);
		} else if (p[i] == '[' && arrays) {
			size_t at = i;

			slot->type = JSCAN_ARRAY;
			i = slot == &tmp ? read_array(p, n, i) : skip_array(p, n, i);
			slot->s = p + at;
			slot->n = i - at;
		} else {
			return 0; /* a nested object, a negative number, or not JSON */
		}
		if (i == 0)
			return 0;
		first = 0;
		i = skip_ws(p, n, i);
		if (i < n && p[i] == ',') {
			i = skip_ws(p, n, i + 1);
			if (i < n && p[i] == '}')
				return 0; /* a trailing comma */
			continue;
		}
		if (i < n && p[i] == '}')
			break;
		return 0;
	}
	return i + 1;
}

enum jscan_result
jscan_object(const char *p, size_t n, struct jscan_field *f, size_t nf)
{
	size_t i = scan_object(p, n, skip_ws(p, n, 0), f, nf, 1);

	return i && skip_ws(p, n, i) == n ? JSCAN_OK : JSCAN_NO;
}

enum jscan_result
jscan_each(const char *a, size_t n, size_t *pos, struct jscan_field *f, size_t nf)
{
	size_t i = *pos;

	if (i == 0) {
		i = skip_ws(a, n, 0);
		if (i == n || a[i] != '[')
			return JSCAN_NO;
		i = skip_ws(a, n, i + 1);
		if (i < n && a[i] == ']')
			return skip_ws(a, n, i + 1) == n ? JSCAN_END : JSCAN_NO;
	} else {
		i = skip_ws(a, n, i);
		if (i < n && a[i] == ']')
			return skip_ws(a, n, i + 1) == n ? JSCAN_END : JSCAN_NO;
		if (i == n || a[i] != ',')
			return JSCAN_NO;
		i = skip_ws(a, n, i + 1);
	}
	if ((i = scan_object(a, n, i, f, nf, 0)) == 0)
		return JSCAN_NO;
	*pos = i;
	return JSCAN_OK;
}

enum jscan_result
jscan_exact(const char *p, size_t n, struct jscan_field *f, size_t nf)
{
	size_t i = 1, k;

	if (n < 2 || p[0] != '{')
		return JSCAN_NO;
	for (k = 0; k < nf; k++) {
		struct jscan_field *x = &f[k];

		/* "key": */
		if (n - i < (size_t)x->key_len + 3 || p[i] != '"' ||
		    !same(p + i + 1, x->key, x->key_len) || p[i + 1 + x->key_len] != '"' ||
		    p[i + 2 + x->key_len] != ':')
			return JSCAN_NO;
		i += (size_t)x->key_len + 3;
		if (i == n)
			return JSCAN_NO;
		if (p[i] == '"') {
			x->type = JSCAN_STR;
			i = scan_string(p, n, i, &x->s, &x->n);
		} else if (p[i] >= '0' && p[i] <= '9') {
			x->type = JSCAN_INT;
			i = scan_int(p, n, i, &x->i);
		} else {
			return JSCAN_NO;
		}
		if (i == 0 || i == n || p[i] != (k + 1 < nf ? ',' : '}'))
			return JSCAN_NO;
		i++;
	}
	return i == n ? JSCAN_OK : JSCAN_NO;
}
