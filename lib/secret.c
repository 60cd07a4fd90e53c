/* Guarded memory for plaintext: slabs of locked sodium_malloc memory. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <sodium.h>

#include "err.h"
#include "secret.h"

/*
 * A sodium_malloc region costs a guard page on each side plus a canary
 * page, and mlock works on whole pages, so one region per secret would
 * exhaust RLIMIT_MEMLOCK at a few thousand secrets.  Small secrets are
 * carved from 64 KiB slabs, one size class per slab; the slab as a whole
 * has guard pages, is locked and is kept out of core dumps.
 */
#define SLAB_SIZE (64 * 1024)
#define CLASS_MIN 32
#define NCLASSES 8 /* 32 .. 4096 */

struct slab {
	struct slab *next;
	uint8_t *base;
	size_t slot; /* slot size */
	size_t nslots;
	size_t used;
	uint8_t *free_head; /* free slots link through their bytes */
	size_t fresh; /* slots never handed out, from the end */
};

struct secret {
	uint8_t *ptr;
	size_t len;
	size_t cap;
	struct slab *slab; /* NULL: own sodium_malloc region */
};

static pthread_mutex_t arena_mu = PTHREAD_MUTEX_INITIALIZER;
static struct slab *slabs[NCLASSES];
static size_t live_count;
static size_t locked_bytes;

static int
class_of(size_t len, size_t *ret_size)
{
	size_t sz = CLASS_MIN;
	int c;

	for (c = 0; c < NCLASSES; c++, sz <<= 1) {
		if (len <= sz) {
			*ret_size = sz;
			return c;
		}
	}
	return -1;
}

/* sodium_malloc locks on a best-effort basis; we insist. */
static void *
locked_alloc(size_t len)
{
	void *p;

	if ((p = sodium_malloc(len)) == NULL)
		return NULL;
	if (mlock(p, len) != 0) {
		sodium_free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

static uint8_t *
slab_take(int c, size_t slot, struct slab **ret_slab)
{
	struct slab *s;
	uint8_t *p;

	for (s = slabs[c]; s != NULL; s = s->next)
		if (s->free_head != NULL || s->fresh > 0)
			break;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return NULL;
		if ((s->base = locked_alloc(SLAB_SIZE)) == NULL) {
			free(s);
			return NULL;
		}
		s->slot = slot;
		s->nslots = SLAB_SIZE / slot;
		s->fresh = s->nslots;
		s->next = slabs[c];
		slabs[c] = s;
		locked_bytes += SLAB_SIZE;
	}
	if (s->free_head != NULL) {
		p = s->free_head;
		memcpy(&s->free_head, p, sizeof(s->free_head));
		sodium_memzero(p, sizeof(s->free_head));
	} else {
		s->fresh--;
		p = s->base + s->fresh * s->slot;
	}
	s->used++;
	*ret_slab = s;
	return p;
}

static void
slab_give(struct slab *s, uint8_t *p)
{
	struct slab **pp;
	int c;
	size_t sz;

	sodium_memzero(p, s->slot);
	memcpy(p, &s->free_head, sizeof(s->free_head));
	s->free_head = p;
	if (--s->used > 0)
		return;
	/*
	 * An empty slab goes back to the system, unless it is its class's
	 * only one: a request/reply cycle would otherwise pay for mmap, mlock
	 * and munmap every time.
	 */
	c = class_of(s->slot, &sz);
	if (slabs[c] == s && s->next == NULL)
		return;
	for (pp = &slabs[c]; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	locked_bytes -= SLAB_SIZE;
	sodium_free(s->base);
	free(s);
}

int
secret_new(size_t len, struct secret **ret)
{
	struct secret *s;
	size_t sz;
	int c;

	if (len > SECRET_MAX)
		return JIT_E_LIMIT;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return JIT_E_NOMEM;
	pthread_mutex_lock(&arena_mu);
	if ((c = class_of(len, &sz)) >= 0) {
		s->ptr = slab_take(c, sz, &s->slab);
		s->cap = sz;
	} else {
		s->ptr = locked_alloc(len);
		s->cap = len;
		if (s->ptr != NULL)
			locked_bytes += len;
	}
	if (s->ptr != NULL)
		live_count++;
	pthread_mutex_unlock(&arena_mu);
	if (s->ptr == NULL) {
		free(s);
		return errno == ENOMEM ? JIT_E_MLOCK : JIT_E_NOMEM;
	}
	memset(s->ptr, 0, s->cap);
	s->len = len;
	*ret = s;
	return JIT_OK;
}

int
secret_from(const void *p, size_t len, struct secret **ret)
{
	struct secret *s;
	int r;

	if ((r = secret_new(len, &s)) != 0)
		return r;
	if (len > 0)
		memcpy(s->ptr, p, len);
	*ret = s;
	return JIT_OK;
}

void
secret_free(struct secret *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&arena_mu);
	if (s->slab != NULL)
		slab_give(s->slab, s->ptr);
	else {
		locked_bytes -= s->cap;
		sodium_free(s->ptr); /* wipes */
	}
	live_count--;
	pthread_mutex_unlock(&arena_mu);
	free(s);
}

uint8_t *
secret_ptr(const struct secret *s)
{
	return s->ptr;
}

size_t
secret_len(const struct secret *s)
{
	return s->len;
}

void
secret_shrink(struct secret *s, size_t len)
{
	if (len >= s->len)
		return;
	sodium_memzero(s->ptr + len, s->len - len);
	s->len = len;
}

int
secret_equal(const struct secret *a, const struct secret *b)
{
	if (a->len != b->len)
		return 0;
	return sodium_memcmp(a->ptr, b->ptr, a->len) == 0;
}

void
secret_stats(struct secret_stats *st)
{
	pthread_mutex_lock(&arena_mu);
	st->live = live_count;
	st->locked_bytes = locked_bytes;
	pthread_mutex_unlock(&arena_mu);
}
