/*
 * A main() for fuzz targets built without libFuzzer (gcc, plain and ASan
 * builds): feeds every file named on the command line, and every file
 * under every directory named there, to LLVMFuzzerTestOneInput once, in
 * name order.  Each input is copied to a heap block of exactly its size,
 * as libFuzzer does, so that a read past its end is caught under ASan.
 * The path of each input is printed before it runs, so the last line
 * before a crash names the input that caused it.  Exits 1 when a path
 * cannot be read or no input was found (a misspelt corpus directory must
 * not pass as an empty one).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long replayed;

/* Read the file at path whole into a block of exactly its size. */
static int
replay_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *data;
	long n;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (fp)
			fclose(fp);
		return -1;
	}
	/* A zero-byte input still gets a valid pointer. */
	data = malloc(n > 0 ? (size_t)n : 1);
	if (data == NULL || (n > 0 && fread(data, 1, (size_t)n, fp) != (size_t)n)) {
		fprintf(stderr, "replay: %s: cannot read it\n", path);
		free(data);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	fprintf(stderr, "replay: %s (%ld bytes)\n", path, n);
	(void)LLVMFuzzerTestOneInput(data, (size_t)n);
	free(data);
	replayed++;
	return 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_path(const char *path);

/* Every entry of a directory but the hidden ones, in name order. */
static int
replay_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int rc = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char *full;

		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(*names));

			if (nn == NULL) {
				rc = -1;
				break;
			}
			names = nn;
		}
		full = malloc(strlen(path) + strlen(e->d_name) + 2);
		if (full == NULL) {
			rc = -1;
			break;
		}
		sprintf(full, "%s/%s", path, e->d_name);
		names[n++] = full;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	for (i = 0; i < n; i++) {
		if (rc == 0 && replay_path(names[i]) < 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

static int
replay_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return S_ISDIR(st.st_mode) ? replay_dir(path) : replay_file(path);
}

int
main(int argc, char **argv)
{
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++)
		if (replay_path(argv[i]) < 0)
			rc = 1;
	if (replayed == 0) {
		fprintf(stderr, "replay: no inputs found\n");
		rc = 1;
	}
	fprintf(stderr, "replay: %lu inputs replayed%s\n", replayed, rc ? ", with errors" : "");
	return rc;
}
