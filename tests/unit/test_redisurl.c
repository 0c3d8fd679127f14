/*
 * Unit tests of the --cluster URL parser (src/cluster/url.c) and of room
 * placement (src/cluster/shard.c): what is accepted and how it reads, the
 * reasons given for what is not (and that none shows the password), and
 * a shard choice that is stable and moves few rooms when a shard is added.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cluster/shard.h"
#include "cluster/url.h"

static struct redis_url url;
static char err[256];

#define OK(text)  assert_int_equal(redis_url_parse(text, &url, err, sizeof(err)), 0)
#define BAD(text) assert_int_equal(redis_url_parse(text, &url, err, sizeof(err)), -1)

static void
url_accepts_host_and_port(void **state)
{
	(void)state;
	OK("redis://127.0.0.1:6390");
	assert_string_equal(url.host, "127.0.0.1");
	assert_int_equal(url.port, 6390);
	assert_false(url.has_db);
	assert_false(url.has_password);
	assert_string_equal(url.shown, "redis://127.0.0.1:6390");
}

static void
url_port_defaults_to_6379(void **state)
{
	(void)state;
	OK("redis://redis.example");
	assert_string_equal(url.host, "redis.example");
	assert_int_equal(url.port, 6379);
}

static void
url_accepts_ipv6_in_brackets(void **state)
{
	(void)state;
	OK("redis://[::1]:7001/2");
	assert_string_equal(url.host, "::1");
	assert_int_equal(url.port, 7001);
	assert_true(url.has_db);
	assert_int_equal(url.db, 2);
	assert_string_equal(url.shown, "redis://[::1]:7001/2");
	BAD("redis://::1:7001");
	assert_non_null(strstr(err, "brackets"));
	BAD("redis://[::1:7001");
	BAD("redis://[zz]:1");
	BAD("redis://[::1]x");
}

static void
url_reads_password_and_user_and_hides_them(void **state)
{
	(void)state;
	OK("redis://:pa%40ss@h:1/0");
	assert_true(url.has_password);
	assert_false(url.has_user);
	assert_string_equal(url.password, "pa@ss");
	assert_true(url.has_db);
	assert_int_equal(url.db, 0);
	assert_string_equal(url.shown, "redis://:***@h:1/0");
	OK("redis://chatd:s3cret@h:1");
	assert_true(url.has_user);
	assert_string_equal(url.user, "chatd");
	assert_string_equal(url.password, "s3cret");
	assert_null(strstr(url.shown, "s3cret"));
	/* A '@' in the password unencoded: the last '@' ends the user part. */
	OK("redis://:a@b@h:1");
	assert_string_equal(url.password, "a@b");
	assert_string_equal(url.host, "h");
}

static void
url_refuses_with_a_reason(void **state)
{
	(void)state;
	BAD("");
	BAD("http://h:1");
	assert_non_null(strstr(err, "redis://"));
	BAD("rediss://h:1");
	assert_non_null(strstr(err, "TLS"));
	BAD("redis://");
	assert_non_null(strstr(err, "no host"));
	BAD("redis://h:0");
	assert_non_null(strstr(err, "port"));
	BAD("redis://h:65536");
	BAD("redis://h:-1");
	BAD("redis://h:");
	BAD("redis://h:1/x");
	assert_non_null(strstr(err, "database"));
	BAD("redis://h:1/65536");
	BAD("redis://h:1?db=2");
	assert_non_null(strstr(err, "query"));
	BAD("redis://user@h:1");
	assert_non_null(strstr(err, "password"));
	BAD("redis://:@h:1");
	BAD("redis://:a%0@h:1");
	BAD("redis://:a%00b@h:1");
	assert_non_null(strstr(err, "control"));
	BAD("redis://h h:1");
	/* The reason never repeats the password. */
	BAD("redis://:hunter2@h:99999");
	assert_null(strstr(err, "hunter2"));
}

static void
url_db_slash_alone_selects_nothing(void **state)
{
	(void)state;
	OK("redis://h:1/");
	assert_false(url.has_db);
}

static void
shard_choice_is_stable_and_in_range(void **state)
{
	unsigned i, n, counts[4] = {0};
	char name[32];

	(void)state;
	/* Fixed answers: every node, every version, must agree. */
	assert_int_equal(shard_of("lobby", 5, 1), 0);
	assert_int_equal(shard_of("lobby", 5, 4), shard_of("lobby", 5, 4));
	for (i = 0; i < 4000; i++) {
		n = (unsigned)snprintf(name, sizeof(name), "room%u", i);
		counts[shard_of(name, n, 4)]++;
	}
	for (i = 0; i < 4; i++) /* about 1000 each */
		assert_true(counts[i] > 850 && counts[i] < 1150);
}

static void
shard_adding_one_moves_about_a_fifth(void **state)
{
	unsigned i, n, moved = 0;
	char name[32];

	(void)state;
	for (i = 0; i < 5000; i++) {
		unsigned a, b;

		n = (unsigned)snprintf(name, sizeof(name), "r-%u", i);
		a = shard_of(name, n, 4);
		b = shard_of(name, n, 5);
		if (a != b) {
			assert_int_equal(b, 4); /* a room only ever moves to the new shard */
			moved++;
		}
	}
	assert_true(moved > 800 && moved < 1200); /* 1/5 of 5000 */
}

static void
shard_hash_is_the_published_siphash(void **state)
{
	(void)state;
	/* SipHash-2-4 under "chatd-cluster-v1": a change here re-homes every
	 * room of every deployment, so it is pinned. */
	assert_true(shard_hash("", 0) == 0x4f04021a457e16abull);
	assert_true(shard_hash("lobby", 5) == 0x9a5d731f90d8911bull);
	assert_int_equal(shard_of("lobby", 5, 2), 1);
	assert_int_equal(shard_of("lobby", 5, 16), 1);
}

static void
shard_keys_share_the_room_tag(void **state)
{
	char buf[SHARD_KEY_MAX];
	char big[SHARD_KEY_MAX + 1];

	(void)state;
	assert_int_equal(shard_key(buf, sizeof(buf), SHARD_ROOM_SEQ, "lobby", 5), 22);
	assert_string_equal(buf, "chatd:room:{lobby}:seq");
	shard_key(buf, sizeof(buf), SHARD_ROOM_LOG, "lobby", 5);
	assert_string_equal(buf, "chatd:room:{lobby}:log");
	shard_key(buf, sizeof(buf), SHARD_ROOM_CHANNEL, "lobby", 5);
	assert_string_equal(buf, "chatd:room:{lobby}");
	shard_key(buf, sizeof(buf), SHARD_NICK, "alice", 5);
	assert_string_equal(buf, "chatd:nick:{alice}");
	shard_key(buf, sizeof(buf), SHARD_NODE, "n1", 2);
	assert_string_equal(buf, "chatd:node:{n1}");
	memset(big, 'x', sizeof(big));
	assert_int_equal(shard_key(buf, sizeof(buf), SHARD_ROOM_SEQ, big, sizeof(big)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(url_accepts_host_and_port),
	        cmocka_unit_test(url_port_defaults_to_6379),
	        cmocka_unit_test(url_accepts_ipv6_in_brackets),
	        cmocka_unit_test(url_reads_password_and_user_and_hides_them),
	        cmocka_unit_test(url_refuses_with_a_reason),
	        cmocka_unit_test(url_db_slash_alone_selects_nothing),
	        cmocka_unit_test(shard_choice_is_stable_and_in_range),
	        cmocka_unit_test(shard_adding_one_moves_about_a_fifth),
	        cmocka_unit_test(shard_hash_is_the_published_siphash),
	        cmocka_unit_test(shard_keys_share_the_room_tag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
