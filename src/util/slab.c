/*
 * Size-class slabs (see mem.h for why).  A slab is one SLAB_SLAB-aligned
 * mapping: a header, then slots of one size.  Slots are handed out from a
 * free list, else from the never-used tail, so that a slab touches its
 * pages only as it fills.  Each class keeps the slabs that have a free slot
 * on a list; a full slab leaves the list and comes back at the front when
 * a slot is freed.  An emptied slab is unmapped at once unless it is the
 * class's only spare, which is kept (at the back of the list, used last)
 * so that one object coming and going does not map and unmap a slab every
 * time; slab_trim() lets the spares go when the load has fallen.
 */
#include "util/slab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util/log.h"

#if defined(CHATD_HAVE_VALGRIND)
#include <valgrind.h>
#endif

/* 16 classes 16 bytes apart up to 256, then 8 per doubling up to SLAB_MAX:
 * at most 12.5% of a slot is wasted above 256 bytes. */
#define SLAB_NCLASS 56
/* Slots start one cache line into the slab. */
#define SLAB_HDR 64

struct slab {
	struct slab *next, *prev; /* in the class's list of slabs with a free slot */
	void *free;               /* freed slots, linked through their first word */
	uint32_t used;            /* live objects */
	uint32_t bump;            /* offset of the first slot never handed out */
	uint32_t cls;
};

struct mem_class {
	struct slab list;   /* sentinel of the slabs with a free slot */
	struct slab *spare; /* the one empty slab kept, or NULL */
	uint32_t size;
	uint32_t nslots;
};

static struct mem_class classes[SLAB_NCLASS];
static struct slab_stats stats;
static int mode = -1; /* -1 not decided yet, 0 slabs, 1 passthrough */

/* The class serving requests of n bytes, n <= SLAB_MAX. */
static unsigned
class_of(size_t n)
{
	unsigned e;

	if (n <= 256)
		return n ? (unsigned)((n + 15) / 16) - 1 : 0;
	e = 63 - (unsigned)__builtin_clzl(n - 1); /* 2^e < n <= 2^(e+1), e >= 8 */
	return 16 + (e - 8) * 8 + (unsigned)((n - 1 - ((size_t)1 << e)) >> (e - 3));
}

static size_t
class_size(unsigned c)
{
	unsigned g, k;

	if (c < 16)
		return (size_t)(c + 1) * 16;
	g = (c - 16) / 8;
	k = (c - 16) % 8;
	return ((size_t)1 << (8 + g)) + (size_t)(k + 1) * ((size_t)1 << (5 + g));
}

static struct mem_class *
class_get(unsigned c)
{
	struct mem_class *k = &classes[c];

	if (k->size == 0) {
		k->size = (uint32_t)class_size(c);
		k->nslots = (SLAB_SLAB - SLAB_HDR) / k->size;
		k->list.next = k->list.prev = &k->list;
	}
	return k;
}

static void
list_unlink(struct slab *s)
{
	s->prev->next = s->next;
	s->next->prev = s->prev;
}

/* Link s after the node at. */
static void
list_link(struct slab *at, struct slab *s)
{
	s->prev = at;
	s->next = at->next;
	at->next->prev = s;
	at->next = s;
}

static struct slab *
slab_map(unsigned c)
{
	/* mmap() aligns only to pages: map twice the size and cut the ends. */
	uint8_t *p = mmap(NULL, 2 * SLAB_SLAB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	                  -1, 0);
	uint8_t *a;
	struct slab *s;

	if (p == MAP_FAILED)
		fatal("out of memory (slab of %zu bytes)", SLAB_SLAB);
	a = p + (SLAB_SLAB - (uintptr_t)p % SLAB_SLAB) % SLAB_SLAB;
	if (a > p)
		(void)munmap(p, (size_t)(a - p));
	(void)munmap(a + SLAB_SLAB, (size_t)(p + SLAB_SLAB - a));
	s = (struct slab *)(void *)a;
	s->free = NULL;
	s->used = 0;
	s->bump = SLAB_HDR;
	s->cls = c;
	stats.slabs++;
	return s;
}

static void
slab_unmap(struct slab *s)
{
	list_unlink(s);
	(void)munmap(s, SLAB_SLAB);
	stats.slabs--;
}

static int
passthrough_on(void)
{
	if (mode < 0) {
#if defined(SLAB_SANITIZED)
		mode = 1;
#elif defined(CHATD_HAVE_VALGRIND)
		mode = RUNNING_ON_VALGRIND ? 1 : 0;
#else
		mode = 0;
#endif
	}
	return mode;
}

/* Passthrough: malloc() with the size in front, checked when freed. */
struct pt_hdr {
	size_t n;
	size_t check;
};
#define PT_CHECK ((size_t)0xc4a7d0000000c4a7)

static void *
pt_alloc(size_t n)
{
	struct pt_hdr *h = malloc(sizeof(*h) + n);

	if (h == NULL)
		fatal("out of memory (%zu bytes)", n);
	h->n = n;
	h->check = PT_CHECK ^ n;
	stats.live += n;
	return h + 1;
}

static void
pt_free(void *p, size_t n)
{
	struct pt_hdr *h = (struct pt_hdr *)p - 1;

	if (h->n != n || h->check != (PT_CHECK ^ n))
		fatal("slab_free: %zu bytes given back for an object of %zu", n, h->n);
	stats.live -= n;
	free(h);
}

void *
slab_alloc(size_t n)
{
	struct mem_class *k;
	struct slab *s;
	void *p;

	if (passthrough_on())
		return pt_alloc(n);
	if (n > SLAB_MAX) {
		p = malloc(n);
		if (p == NULL)
			fatal("out of memory (%zu bytes)", n);
		stats.live += n;
		return p;
	}
	k = class_get(class_of(n));
	s = k->list.next;
	if (s == &k->list) {
		s = slab_map((unsigned)(k - classes));
		list_link(&k->list, s);
	}
	if (s == k->spare)
		k->spare = NULL;
	if (s->free) {
		p = s->free;
		s->free = *(void **)p;
	} else {
		p = (uint8_t *)s + s->bump;
		s->bump += k->size;
	}
	if (++s->used == k->nslots)
		list_unlink(s);
	stats.live += n;
	return p;
}

void *
slab_zalloc(size_t n)
{
	return memset(slab_alloc(n), 0, n);
}

void
slab_free(void *p, size_t n)
{
	struct mem_class *k;
	struct slab *s;

	if (p == NULL)
		return;
	if (passthrough_on()) {
		pt_free(p, n);
		return;
	}
	stats.live -= n;
	if (n > SLAB_MAX) {
		free(p);
		return;
	}
	s = (struct slab *)(void *)((uint8_t *)p - (uintptr_t)p % SLAB_SLAB);
	if (s->cls != class_of(n))
		fatal("slab_free: %zu bytes given back to a slab of %zu-byte slots", n,
		      class_size(s->cls));
	k = &classes[s->cls];
	*(void **)p = s->free;
	s->free = p;
	if (s->used-- == k->nslots)
		list_link(&k->list, s); /* it has room again: use it first */
	if (s->used)
		return;
	if (k->spare) {
		slab_unmap(s);
		return;
	}
	k->spare = s;
	list_unlink(s);
	list_link(k->list.prev, s); /* at the back: filled last */
}

void *
slab_realloc(void *p, size_t old, size_t n)
{
	void *q;

	/* Within one slot size nothing moves; otherwise move, as malloc would. */
	if (p && !passthrough_on() && old <= SLAB_MAX && n <= SLAB_MAX &&
	    class_of(old) == class_of(n)) {
		stats.live += n - old;
		return p;
	}
	q = slab_alloc(n);
	if (p) {
		memcpy(q, p, old < n ? old : n);
		slab_free(p, old);
	}
	return q;
}

void
slab_trim(void)
{
	unsigned c;

	for (c = 0; c < SLAB_NCLASS; c++)
		if (classes[c].spare) {
			slab_unmap(classes[c].spare);
			classes[c].spare = NULL;
		}
}

void
slab_stats(struct slab_stats *st)
{
	unsigned c;

	*st = stats;
	st->spares = 0;
	for (c = 0; c < SLAB_NCLASS; c++)
		st->spares += classes[c].spare != NULL;
}

void
slab_set_passthrough(int on)
{
	mode = on != 0;
}

int
slab_passthrough(void)
{
	return passthrough_on();
}
