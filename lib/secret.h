/* Guarded memory for plaintext: a locked, guard-paged arena over sodium_malloc. */
#ifndef JIT_SECRET_H
#define JIT_SECRET_H

#include <stddef.h>
#include <stdint.h>

/*
 * Every plaintext secret (credential fields, data keys, PINs, hmac-secret
 * outputs, private keys) lives in a struct secret.  Small secrets share
 * 64 KiB slabs so that 10,000 of them fit in the default 8 MiB
 * RLIMIT_MEMLOCK; large ones get their own sodium_malloc region.  All of it
 * is mlock'd (allocation fails with JIT_E_MLOCK rather than fall back),
 * excluded from core dumps, and wiped on free.  Thread-safe.
 */
struct secret;

int secret_new(size_t len, struct secret **ret); /* zero-filled */
int secret_from(const void *p, size_t len, struct secret **ret);
void secret_free(struct secret *s); /* NULL ok; wipes */
uint8_t *secret_ptr(const struct secret *s);
size_t secret_len(const struct secret *s);
/* Shorten the visible length (the tail is wiped); never grows. */
void secret_shrink(struct secret *s, size_t len);
int secret_equal(const struct secret *a, const struct secret *b);

struct secret_stats {
	size_t live; /* secrets allocated */
	size_t locked_bytes; /* bytes mlock'd for them */
};
void secret_stats(struct secret_stats *st);

/* Largest secret size served from the shared slabs. */
#define SECRET_SLAB_MAX 4096
/* Refuse any single secret larger than this. */
#define SECRET_MAX (1024 * 1024)

#endif
