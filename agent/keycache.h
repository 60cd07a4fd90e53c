/* A token's key cache: the data keys its identity has unwrapped, sealed
 * under a key that only that identity derives, so that an unlock costs one
 * X25519 per credential once, not every time. */
#ifndef JIT_KEYCACHE_H
#define JIT_KEYCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seal.h"

struct secret;
struct keycache;

/* Entries a cache keeps (64 bytes each, in one guarded allocation). */
#define KEYCACHE_MAX 16000
#define KEYCACHE_PREFIX "keycache."

/* The cache of token_id in the data directory dir, opened with the token's
 * identity: a missing, torn, foreign or altered file reads as empty (why
 * is logged).  Fails only for want of memory. */
int keycache_open(const char *dir, const char *token_id,
    const uint8_t recipient[SEAL_X25519_LEN], const struct secret *identity_sk,
    struct keycache **ret);
/* The data key cached for the wrap whose ephemeral key is epk, or NULL.
 * Readers in several threads at once are fine. */
const uint8_t *keycache_find(
    const struct keycache *kc, const uint8_t epk[SEAL_X25519_LEN]);
/* Written again with these n entries first (keys of SEAL_KEY_LEN bytes, in
 * guarded memory; they may point into kc), then the old ones, up to
 * KEYCACHE_MAX: atomically, 0600. */
int keycache_save(struct keycache *kc, const uint8_t (*epks)[SEAL_X25519_LEN],
    const uint8_t *const *keys, size_t n);
size_t keycache_count(const struct keycache *kc);
void keycache_free(struct keycache *kc); /* NULL ok; wipes */
/* The cache of a token that leaves the set goes with it. */
int keycache_remove(const char *dir, const char *token_id);
/* At start: the caches in dir of tokens that enrolled() says are gone
 * (an unenroll cut off), removed.  Returns how many. */
size_t keycache_sweep(const char *dir,
    bool (*enrolled)(const char *token_id, void *arg), void *arg);

#endif
