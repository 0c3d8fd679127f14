/*
 * Unit tests of the swarm's JSON scanner (src/swarm/jscan.c): what it
 * reads within its subset (flat objects of plain strings, non-negative
 * integers, true, false, null and arrays of such objects), read as a full
 * parser would, spans pointing into the input; and the JSCAN_NO it gives
 * for everything else, valid JSON beyond the subset included, so that the
 * caller hands it to jansson.  The word-at-a-time paths (a string's stop
 * bytes, eight digits at once) are tried at every position and length.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "swarm/jscan.h"

/* Scan the C string s for the fields f. */
static enum jscan_result
scan(const char *s, struct jscan_field *f, size_t nf)
{
	return jscan_object(s, strlen(s), f, nf);
}

static void
assert_str(const struct jscan_field *f, const char *want)
{
	assert_int_equal(f->type, JSCAN_STR);
	assert_int_equal(f->n, strlen(want));
	assert_memory_equal(f->s, want, f->n ? f->n : 0);
}

static void
object_reads_every_value_type_into_the_fields_asked_for(void **state)
{
	static const char s[] = "{\"id\":42,\"type\":\"message\",\"ok\":true,\"no\":false,"
	                        "\"nil\":null,\"skip\":\"x\",\"list\":[{\"a\":1}],\"empty\":\"\"}";
	struct jscan_field f[] = {JSCAN_FIELD("id"),    JSCAN_FIELD("type"),  JSCAN_FIELD("ok"),
	                          JSCAN_FIELD("no"),    JSCAN_FIELD("nil"),   JSCAN_FIELD("list"),
	                          JSCAN_FIELD("empty"), JSCAN_FIELD("absent")};

	(void)state;
	assert_int_equal(scan(s, f, 8), JSCAN_OK);
	assert_int_equal(f[0].type, JSCAN_INT);
	assert_int_equal(f[0].i, 42);
	assert_str(&f[1], "message");
	assert_true(f[1].s > s && f[1].s < s + sizeof(s)); /* a span of the input */
	assert_int_equal(f[2].type, JSCAN_TRUE);
	assert_int_equal(f[3].type, JSCAN_FALSE);
	assert_int_equal(f[4].type, JSCAN_NULL);
	assert_int_equal(f[5].type, JSCAN_ARRAY);
	assert_int_equal(f[5].n, 9);
	assert_memory_equal(f[5].s, "[{\"a\":1}]", 9);
	assert_str(&f[6], "");
	assert_int_equal(f[7].type, JSCAN_ABSENT);
}

static void
object_takes_whitespace_wherever_json_does(void **state)
{
	static const char s[] = " \t\r\n{ \"a\" :\n1 ,\t\"b\"\r: \"x\" , \"c\" : [ ] } \n";
	struct jscan_field f[] = {JSCAN_FIELD("a"), JSCAN_FIELD("b"), JSCAN_FIELD("c")};
	size_t pos = 0;

	(void)state;
	assert_int_equal(scan(s, f, 3), JSCAN_OK);
	assert_int_equal(f[0].i, 1);
	assert_str(&f[1], "x");
	assert_int_equal(f[2].type, JSCAN_ARRAY);
	assert_int_equal(jscan_each(f[2].s, f[2].n, &pos, NULL, 0), JSCAN_END);
	assert_int_equal(scan("{}", f, 3), JSCAN_OK);
	assert_int_equal(f[0].type, JSCAN_ABSENT);
}

static void
object_reads_integers_up_to_2_to_the_63_minus_1(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
	        {"{\"n\":0}", 0},
	        {"{\"n\":7}", 7},
	        {"{\"n\":12345678}", 12345678},
	        {"{\"n\":123456789}", 123456789},
	        {"{\"n\":1234567890123456}", 1234567890123456ull},
	        {"{\"n\":12345678901234567}", 12345678901234567ull},
	        {"{\"n\":9223372036854775807}", 9223372036854775807ull},
	};
	static const char *const no[] = {
	        "{\"n\":9223372036854775808}",
	        "{\"n\":18446744073709551615}",
	        "{\"n\":123456789012345678901}",
	        "{\"n\":01}",
	        "{\"n\":-1}",
	        "{\"n\":1.5}",
	        "{\"n\":1e3}",
	        "{\"n\":1E3}",
	        "{\"n\":00}",
	        "{\"n\":+1}",
	};
	struct jscan_field f[] = {JSCAN_FIELD("n")};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(scan(ok[i].s, f, 1), JSCAN_OK);
		assert_int_equal(f[0].type, JSCAN_INT);
		assert_true(f[0].i == ok[i].v);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_int_equal(scan(no[i], f, 1), JSCAN_NO);
}

static void
object_reads_every_number_of_1_to_19_digits(void **state)
{
	struct jscan_field f[] = {JSCAN_FIELD("n")};
	char s[64];
	unsigned len, lead;

	(void)state;
	/* Each length, each leading digit: the eight-at-a-time path meets
	 * its tail at every offset. */
	for (len = 1; len <= 19; len++)
		for (lead = 1; lead <= 9; lead++) {
			uint64_t want = lead;
			unsigned k;
			int n = snprintf(s, sizeof(s), "{\"n\":%u", lead);

			for (k = 1; k < len; k++) {
				s[n++] = (char)('0' + (k * 7 + lead) % 10);
				want = want * 10 + (k * 7 + lead) % 10;
			}
			s[n++] = '}';
			s[n] = '\0';
			if (len == 19 && lead == 9) {
				assert_int_equal(scan(s, f, 1), JSCAN_NO); /* above 2^63 - 1 */
				continue;
			}
			assert_int_equal(scan(s, f, 1), JSCAN_OK);
			assert_true(f[0].i == want);
		}
}

static void
object_finds_every_stop_byte_at_every_position(void **state)
{
	/* What ends a plain string, or leaves the subset inside one. */
	static const unsigned char stops[] = {'"', '\\', 0x00, 0x1f, 0x7f, 0x80, 0xff};
	struct jscan_field f[] = {JSCAN_FIELD("s")};
	char s[64];
	size_t len, at, k;

	(void)state;
	for (len = 0; len <= 24; len++) {
		/* A plain string of len bytes is read whole. */
		snprintf(s, sizeof(s), "{\"s\":\"");
		for (k = 0; k < len; k++)
			s[6 + k] = (char)(0x20 + (k * 11) % 0x5f);
		for (k = 0; k < len; k++)
			if (s[6 + k] == '"' || s[6 + k] == '\\')
				s[6 + k] = 'q';
		s[6 + len] = '"';
		s[7 + len] = '}';
		assert_int_equal(jscan_object(s, 8 + len, f, 1), JSCAN_OK);
		assert_int_equal(f[0].n, len);
		/* A stop at any position inside it: refused (a quote ends the
		 * string early, and what follows is not a "}"). */
		for (at = 0; at < len; at++)
			for (k = 0; k < sizeof(stops); k++) {
				char c = s[6 + at];

				s[6 + at] = (char)stops[k];
				assert_int_equal(jscan_object(s, 8 + len, f, 1), JSCAN_NO);
				s[6 + at] = c;
			}
	}
}

static void
object_refuses_what_is_beyond_its_subset_or_not_json(void **state)
{
	static const char *const no[] = {
	        "",
	        "[]",
	        "\"x\"",
	        "1",
	        "{",
	        "{\"a\"}",
	        "{\"a\":}",
	        "{\"a\" 1}",
	        "{\"a\":1,}",
	        "{,}",
	        "{\"a\":1 \"b\":2}",
	        "{\"a\":1}x",
	        "{\"a\":1}}",
	        "{\"a\":{\"b\":1}}",
	        "{\"z\":[1]}", /* an array not asked for is read whole: its elements too */
	        "{\"z\":[\"x\"]}",
	        "{\"z\":[[]]}",
	        "{\"z\":[{\"b\":[]}]}",
	        "{\"z\":[{\"b\":1},]}",
	        "{\"a\":[1}",
	        "{\"a\":\"\\u0041\"}",
	        "{\"a\":\"\\\"\"}",
	        "{\"a\\u0041\":1}",
	        "{\"a\":tru}",
	        "{\"a\":nul}",
	        "{\"a\":falsey}",
	        "{\"a\":True}",
	        "{\"a\":1,\"a\":2}",
	        "{\"skip\":1,\"skip\":2}",
	        "{'a':1}",
	        "{a:1}",
	        "{\"a\":\"\xc3\xa9\"}",
	};
	struct jscan_field f[] = {JSCAN_FIELD("a")};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_int_equal(scan(no[i], f, 1), JSCAN_NO);
}

static void
object_refuses_more_than_16_keys_not_asked_for(void **state)
{
	struct jscan_field f[] = {JSCAN_FIELD("a")};
	char s[512];
	int n = 0, k;

	(void)state;
	s[n++] = '{';
	for (k = 0; k < 16; k++)
		n += snprintf(s + n, sizeof(s) - (size_t)n, "%s\"k%d\":%d", k ? "," : "", k, k);
	snprintf(s + n, sizeof(s) - (size_t)n, "}");
	assert_int_equal(scan(s, f, 1), JSCAN_OK);
	snprintf(s + n, sizeof(s) - (size_t)n, ",\"a\":1}"); /* asked for: does not count */
	assert_int_equal(scan(s, f, 1), JSCAN_OK);
	snprintf(s + n, sizeof(s) - (size_t)n, ",\"k16\":16}");
	assert_int_equal(scan(s, f, 1), JSCAN_NO);
}

static void
object_finds_keys_in_any_order(void **state)
{
	struct jscan_field f[] = {JSCAN_FIELD("a"), JSCAN_FIELD("b"), JSCAN_FIELD("c")};

	(void)state;
	assert_int_equal(scan("{\"c\":3,\"a\":1,\"b\":2}", f, 3), JSCAN_OK);
	assert_int_equal(f[0].i, 1);
	assert_int_equal(f[1].i, 2);
	assert_int_equal(f[2].i, 3);
	/* A key is its whole name: "ab" is not "a". */
	assert_int_equal(scan("{\"ab\":1,\"bb\":2}", f, 3), JSCAN_OK);
	assert_int_equal(f[0].type, JSCAN_ABSENT);
	assert_int_equal(f[1].type, JSCAN_ABSENT);
}

static void
each_reads_the_objects_of_an_array_then_ends(void **state)
{
	static const char s[] = "{\"items\":[{\"n\":1,\"s\":\"a]\"} , {\"n\":2},{}],\"after\":1}";
	struct jscan_field top[] = {JSCAN_FIELD("items"), JSCAN_FIELD("after")};
	struct jscan_field f[] = {JSCAN_FIELD("n"), JSCAN_FIELD("s")};
	size_t pos = 0;

	(void)state;
	assert_int_equal(scan(s, top, 2), JSCAN_OK);
	assert_int_equal(top[0].type, JSCAN_ARRAY);
	assert_int_equal(top[1].i, 1);
	assert_int_equal(jscan_each(top[0].s, top[0].n, &pos, f, 2), JSCAN_OK);
	assert_int_equal(f[0].i, 1);
	assert_str(&f[1], "a]"); /* a bracket in a string is text */
	assert_int_equal(jscan_each(top[0].s, top[0].n, &pos, f, 2), JSCAN_OK);
	assert_int_equal(f[0].i, 2);
	assert_int_equal(f[1].type, JSCAN_ABSENT);
	assert_int_equal(jscan_each(top[0].s, top[0].n, &pos, f, 2), JSCAN_OK);
	assert_int_equal(f[0].type, JSCAN_ABSENT);
	assert_int_equal(jscan_each(top[0].s, top[0].n, &pos, f, 2), JSCAN_END);
}

static void
each_refuses_elements_beyond_the_subset(void **state)
{
	/* An array asked for is only skipped by jscan_object() (brackets
	 * matched, strings read): its elements are jscan_each()'s to judge. */
	static const char *const no[] = {
	        "[1,]",          "[{\"a\":1}{\"a\":2}]", "[1]",
	        "[\"x\"]",       "[{\"a\":1},]",         "[{\"a\":[]}]",
	        "[{\"a\":1} x]", "[{\"a\":\"\\n\"}]",    "[{\"a\":-1}]",
	        "{\"a\":1}",
	};
	struct jscan_field f[] = {JSCAN_FIELD("a")};
	size_t i, pos;
	enum jscan_result r;

	(void)state;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		pos = 0;
		while ((r = jscan_each(no[i], strlen(no[i]), &pos, f, 1)) == JSCAN_OK)
			;
		assert_int_equal(r, JSCAN_NO);
	}
}

static void
exact_reads_the_layout_chatd_writes(void **state)
{
	static const char s[] = "{\"id\":7,\"type\":\"message\",\"room\":\"r1\",\"seq\":3,"
	                        "\"text\":\"hi\"}";
	struct jscan_field f[] = {JSCAN_FIELD("id"), JSCAN_FIELD("type"), JSCAN_FIELD("room"),
	                          JSCAN_FIELD("seq"), JSCAN_FIELD("text")};
	struct jscan_field g[5];

	(void)state;
	assert_int_equal(jscan_exact(s, strlen(s), f, 5), JSCAN_OK);
	assert_int_equal(f[0].i, 7);
	assert_str(&f[1], "message");
	assert_str(&f[2], "r1");
	assert_int_equal(f[3].i, 3);
	assert_str(&f[4], "hi");
	/* What jscan_object() reads the same. */
	memcpy(g, f, sizeof(g));
	assert_int_equal(jscan_object(s, strlen(s), g, 5), JSCAN_OK);
	assert_int_equal(g[0].i, f[0].i);
	assert_ptr_equal(g[4].s, f[4].s);
}

static void
exact_refuses_any_other_layout_which_object_may_still_read(void **state)
{
	static const char *const other[] = {
	        "{\"b\":2,\"a\":1}",         /* another order */
	        "{\"a\":1, \"b\":2}",        /* whitespace */
	        "{\"a\":1,\"b\":2,\"c\":3}", /* one key more */
	        "{\"a\":1}",                 /* one less */
	        "{\"a\":true,\"b\":2}",      /* a value of another kind */
	};
	struct jscan_field f[] = {JSCAN_FIELD("a"), JSCAN_FIELD("b")};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		assert_int_equal(jscan_exact(other[i], strlen(other[i]), f, 2), JSCAN_NO);
		assert_int_equal(jscan_object(other[i], strlen(other[i]), f, 2), JSCAN_OK);
	}
	assert_int_equal(jscan_exact("{\"a\":1,\"b\":2}x", 14, f, 2), JSCAN_NO);
	assert_int_equal(jscan_exact("{\"a\":1,\"b\":2", 12, f, 2), JSCAN_NO);
}

static void
no_read_goes_past_the_length_given(void **state)
{
	static const char s[] = "{\"a\":12345678901,\"b\":\"abcdefghijklmnop\"}";
	struct jscan_field f[] = {JSCAN_FIELD("a"), JSCAN_FIELD("b")};
	size_t n;

	(void)state;
	/* Every cut is refused (the object is not whole), whatever the bytes
	 * after it would have said. */
	for (n = 0; n < strlen(s); n++) {
		assert_int_equal(jscan_object(s, n, f, 2), JSCAN_NO);
		assert_int_equal(jscan_exact(s, n, f, 2), JSCAN_NO);
	}
	assert_int_equal(jscan_object(s, strlen(s), f, 2), JSCAN_OK);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(object_reads_every_value_type_into_the_fields_asked_for),
	        cmocka_unit_test(object_takes_whitespace_wherever_json_does),
	        cmocka_unit_test(object_reads_integers_up_to_2_to_the_63_minus_1),
	        cmocka_unit_test(object_reads_every_number_of_1_to_19_digits),
	        cmocka_unit_test(object_finds_every_stop_byte_at_every_position),
	        cmocka_unit_test(object_refuses_what_is_beyond_its_subset_or_not_json),
	        cmocka_unit_test(object_refuses_more_than_16_keys_not_asked_for),
	        cmocka_unit_test(object_finds_keys_in_any_order),
	        cmocka_unit_test(each_reads_the_objects_of_an_array_then_ends),
	        cmocka_unit_test(each_refuses_elements_beyond_the_subset),
	        cmocka_unit_test(exact_reads_the_layout_chatd_writes),
	        cmocka_unit_test(exact_refuses_any_other_layout_which_object_may_still_read),
	        cmocka_unit_test(no_read_goes_past_the_length_given),
	};

	(void)argc;
	(void)argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
