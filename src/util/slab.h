/*
 * chatd's allocator for the objects that come and go with the load:
 * messages, presence events, connections, sessions, output blocks and
 * queues.  Sizes up to SLAB_MAX are served from size classes in slabs of
 * their own mappings, so that when a crowd leaves, whole slabs go back to
 * the system; glibc's heap would keep pages pinned by the handful of
 * chunks its per-thread cache holds on to, and the resident size of a
 * quiet server would stay near its high-water mark.
 *
 * Frees are sized: the caller passes the size it asked for, as it always
 * knows it, and no header is stored per object.  Out of memory is fatal.
 */
#ifndef CHATD_SLAB_H
#define CHATD_SLAB_H

/* Built with AddressSanitizer: memory goes back at once instead of being
 * kept for reuse, so that a use after free is caught, not hidden. */
#if defined(__SANITIZE_ADDRESS__)
#define SLAB_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_SANITIZED 1
#endif
#endif

#include <stddef.h>

#define SLAB_MAX  8192                /* larger requests go to malloc() */
#define SLAB_SLAB ((size_t)64 * 1024) /* bytes per slab, also its alignment */

/* n bytes, uninitialised / zeroed. */
void *slab_alloc(size_t n);
void *slab_zalloc(size_t n);
/* Give back p, which was allocated with size n (NULL is ignored). */
void slab_free(void *p, size_t n);
/* p (of size old) resized to n bytes, contents kept up to the smaller. */
void *slab_realloc(void *p, size_t old, size_t n);

/* Unmap the empty slabs kept back as spares (one per size class). */
void slab_trim(void);

struct slab_stats {
	size_t live;   /* bytes in live objects, as asked for */
	size_t slabs;  /* slabs mapped */
	size_t spares; /* of those, empty ones kept for reuse */
};
void slab_stats(struct slab_stats *st);

/*
 * With passthrough on, every request goes to malloc() with a small header
 * that checks the size given to slab_free(), so that AddressSanitizer and
 * valgrind see each object and a wrong size is caught.  It is on in
 * sanitizer builds and under valgrind; set it before the first allocation.
 */
void slab_set_passthrough(int on);
int slab_passthrough(void);

#endif
