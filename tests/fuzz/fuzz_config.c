/*
 * Fuzz target: the config file (libinih and our key table), through the
 * public API.  The input is a config file's contents; it is written to a
 * memfd and read as /proc/self/fd/N by config_reload(), which runs the
 * same build() as start-up (`chatd -c FILE`) and prints nothing.  The
 * first line of the input, NUL-terminated, also goes to
 * config_parse_listen() on its own.
 *
 * Invariants: a refusal says where (the file, or the setting at fault); an
 * accepted configuration has every value inside the range chatd.conf(5)
 * gives it, max-frame room for a SAY of max-text, 1 to 16 listeners each a
 * real IPv4 or IPv6 address; and config_print() of it is a config file
 * that reads back to the same configuration (config_diff finds nothing,
 * and it prints the same again).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chatd/wire.h"
#include "fuzz.h"
#include "util/config.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The file under test and the printed configuration, as memfds that live
 * for the whole run. */
struct file {
	int open;
	int fd;
	char path[64];
	char *argv[4];
};

static char arg0[] = "chatd", arg1[] = "-c";

static struct file input, printed;
static char print_a[16384], print_b[16384];

static void
file_open(struct file *f, const char *name)
{
	if (f->open)
		return;
	f->fd = memfd_create(name, MFD_CLOEXEC);
	FUZZ_CHECK(f->fd >= 0);
	f->open = 1;
	snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
	f->argv[0] = arg0;
	f->argv[1] = arg1;
	f->argv[2] = f->path;
	f->argv[3] = NULL;
}

static void
file_set(struct file *f, const void *p, size_t n)
{
	FUZZ_CHECK(ftruncate(f->fd, 0) == 0);
	FUZZ_CHECK(n == 0 || pwrite(f->fd, p, n, 0) == (ssize_t)n);
}

/* Read f's contents as the daemon would at start-up. */
static int
load(struct file *f, struct config *cfg, char *err, size_t errlen)
{
	struct config old;

	memset(&old, 0, sizeof(old));
	old.argc = 3;
	old.argv = f->argv;
	err[0] = '\0';
	return config_reload(&old, cfg, err, errlen);
}

/* config_print(cfg) without its first line, which names the file. */
static size_t
print(const struct config *cfg, char *out, size_t cap)
{
	FILE *fp = fmemopen(out, cap, "w");
	char *nl;
	size_t n;

	FUZZ_CHECK(fp != NULL);
	config_print(cfg, fp);
	FUZZ_CHECK(!ferror(fp));
	n = (size_t)ftell(fp);
	FUZZ_CHECK(fclose(fp) == 0);
	FUZZ_CHECK(n < cap);
	out[n] = '\0';
	nl = strchr(out, '\n');
	FUZZ_CHECK(nl != NULL && out[0] == '#');
	n -= (size_t)(nl + 1 - out);
	memmove(out, nl + 1, n + 1);
	return n;
}

/* The protocol names a listener may be pinned to: the daemon's. */
static int
known(const char *name)
{
	return strcmp(name, "framed") == 0 || strcmp(name, "text") == 0;
}

static void
check_listen(const struct listen_spec *l)
{
	FUZZ_CHECK(l->proto[0] == '\0' || known(l->proto));
	FUZZ_CHECK(memchr(l->text, '\0', sizeof(l->text)) != NULL);
	if (l->addr.ss_family == AF_INET)
		FUZZ_CHECK(l->addrlen == sizeof(struct sockaddr_in));
	else
		FUZZ_CHECK(l->addr.ss_family == AF_INET6 &&
		           l->addrlen == sizeof(struct sockaddr_in6));
}

/* Every value where chatd.conf(5) says it may be. */
static void
check_ranges(const struct config *c)
{
	size_t sn = strnlen(c->server_name, sizeof(c->server_name));
	unsigned i;

	FUZZ_CHECK(sn >= 1 && sn <= 63);
	FUZZ_CHECK(c->history <= 10000);
	FUZZ_CHECK(c->room_linger >= 0 && c->room_linger <= 365 * 86400.0);
	FUZZ_CHECK(c->ping_interval >= 0.01 && c->ping_interval <= 86400);
	FUZZ_CHECK(c->ping_timeout >= 0.01 && c->ping_timeout <= 86400);
	FUZZ_CHECK(c->max_queue >= 4096 && c->max_queue <= 1u << 30);
	FUZZ_CHECK(c->max_frame >= 256 && c->max_frame <= WIRE_FRAME_MAX_HARD);
	FUZZ_CHECK(c->max_text >= 1 && c->max_text <= WIRE_TEXT_MAX_HARD);
	FUZZ_CHECK(c->max_frame >= 4 + 1 + WIRE_ROOM_MAX + 2 + c->max_text);
	FUZZ_CHECK(c->max_rooms <= 65535);
	FUZZ_CHECK(c->max_members <= 1u << 30);
	FUZZ_CHECK(c->max_rooms_total <= 1u << 30);
	FUZZ_CHECK(c->max_conns <= 1u << 30);
	FUZZ_CHECK(c->max_conns_per_ip <= 1u << 30);
	FUZZ_CHECK(c->handshake_timeout >= 0.01 && c->handshake_timeout <= 86400);
	FUZZ_CHECK(c->flood_rate <= 1000000);
	FUZZ_CHECK(c->flood_burst >= 1 && c->flood_burst <= 1000000);
	FUZZ_CHECK(c->detect_window >= 0 && c->detect_window <= 60);
	FUZZ_CHECK(c->shutdown_timeout >= 0 && c->shutdown_timeout <= 3600);
	FUZZ_CHECK(c->log_level >= LOG_LEVEL_ERR && c->log_level <= LOG_LEVEL_DEBUG);
	FUZZ_CHECK(c->reuseport == 0 || c->reuseport == 1);
	FUZZ_CHECK(c->nlisten >= 1 && c->nlisten <= CHATD_MAX_LISTEN);
	for (i = 0; i < c->nlisten; i++)
		check_listen(&c->listen[i]);
}

static int differences;

static void
on_diff(const char *key, const char *from, const char *to, int runtime)
{
	fprintf(stderr, "printed config reads back different: %s: '%s' -> '%s' (%d)\n", key, from,
	        to, runtime);
	differences++;
}

static void
check_listen_text(const uint8_t *data, size_t size)
{
	char text[128];
	struct listen_spec spec;
	size_t n = 0;

	while (n < size && n < sizeof(text) - 1 && data[n] != '\n' && data[n] != '\0')
		n++;
	memcpy(text, data, n);
	text[n] = '\0';
	if (config_parse_listen(text, &spec) < 0)
		return;
	check_listen(&spec);
	FUZZ_CHECK(strcmp(spec.text, text) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config a, b;
	char err[512];
	size_t na, nb;
	int rc;

	config_protocols(known);

	file_open(&input, "fuzz-config");
	file_open(&printed, "fuzz-config-printed");
	check_listen_text(data, size);

	file_set(&input, data, size);
	rc = load(&input, &a, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (rc < 0) {
		/* A file error names the file; otherwise it names the setting
		 * that does not fit (max-frame against max-text). */
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		FUZZ_CHECK(strncmp(err, input.path, strlen(input.path)) == 0 ||
		           strncmp(err, "max-frame ", 10) == 0);
		return 0;
	}
	FUZZ_CHECK(strcmp(a.path, input.path) == 0);
	check_ranges(&a);

	/* What --print-config shows is a config file that means the same. */
	na = print(&a, print_a, sizeof(print_a));
	file_set(&printed, print_a, na);
	rc = load(&printed, &b, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "printed config refused: %s\n---\n%s---\n", err, print_a);
	FUZZ_CHECK(rc == 0);
	differences = 0;
	FUZZ_CHECK(config_diff(&a, &b, on_diff) == 0 && differences == 0);
	nb = print(&b, print_b, sizeof(print_b));
	FUZZ_CHECK(na == nb && memcmp(print_a, print_b, na) == 0);
	return 0;
}
