/* A token's key cache: data keys its identity unwrapped, sealed to it. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fsutil.h"
#include "hw.h"
#include "keycache.h"
#include "log.h"
#include "secret.h"

/*
 * DIR/keycache.TOKEN_ID holds MAGIC, a nonce, then XChaCha20-Poly1305 of
 * the entries (the ephemeral key of a wrap to the token, then the data key
 * it wraps; 64 bytes each, sorted by ephemeral key) under
 * HKDF-SHA256(the token's X25519 identity, salt = its public key, info =
 * INFO || token id), with MAGIC || token id || public key as associated
 * data.  Only the token's hardware opens the identity, so the file opens
 * nothing without it, as the wraps in the credential files; the keys it
 * holds open only the ciphertext those files have.
 */
#define MAGIC "jitkc\001\000\000"
#define MAGIC_LEN 8
#define INFO "jit-agent keycache v1 "
#define ENTRY_LEN (SEAL_X25519_LEN + SEAL_KEY_LEN)
#define FILE_MAX \
	(MAGIC_LEN + SEAL_NONCE_LEN + KEYCACHE_MAX * ENTRY_LEN + SEAL_TAG_LEN)
#define AD_LEN (MAGIC_LEN + HW_ID_LEN + SEAL_X25519_LEN)

struct keycache {
	char *path;
	uint8_t ad[AD_LEN];
	struct secret *key;
	struct secret *ents; /* n entries, sorted (NULL when none) */
	size_t n;
};

static bool
id_ok(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++)
		if (!isxdigit((unsigned char)id[i]) ||
		    isupper((unsigned char)id[i]))
			return false;
	return i == HW_ID_LEN;
}

static int
cmp_epk(const void *a, const void *b)
{
	return memcmp(a, b, SEAL_X25519_LEN);
}

/* The entries of a file's plaintext: a whole number, sorted, no twice. */
static bool
entries_ok(const struct secret *p)
{
	const uint8_t *e = secret_ptr(p);
	size_t n = secret_len(p) / ENTRY_LEN, i;

	if (secret_len(p) % ENTRY_LEN != 0 || n > KEYCACHE_MAX)
		return false;
	for (i = 1; i < n; i++)
		if (cmp_epk(e + (i - 1) * ENTRY_LEN, e + i * ENTRY_LEN) >= 0)
			return false;
	return true;
}

/* kc's file, if it opens; else kc stays empty and why is logged. */
static void
load(struct keycache *kc)
{
	struct secret *plain = NULL;
	const char *why = NULL;
	char *buf = NULL;
	size_t len;
	int r;

	if ((r = fs_read_file(kc->path, FILE_MAX, &buf, &len)) != 0) {
		if (r != JIT_E_NOENT)
			why = jit_strerror(r);
		goto out;
	}
	if (len < MAGIC_LEN + SEAL_NONCE_LEN + SEAL_TAG_LEN ||
	    memcmp(buf, MAGIC, MAGIC_LEN) != 0) {
		why = "it is not a key cache of this version";
		goto out;
	}
	if ((r = seal_aead_open(kc->key, kc->ad, sizeof(kc->ad),
		 (const uint8_t *)buf + MAGIC_LEN,
		 (const uint8_t *)buf + MAGIC_LEN + SEAL_NONCE_LEN,
		 len - MAGIC_LEN - SEAL_NONCE_LEN, &plain)) != 0) {
		why = r == JIT_E_AUTH ?
		    "it does not open with this token (torn, altered or another token's)" :
		    jit_strerror(r);
		goto out;
	}
	if (!entries_ok(plain)) {
		why = "its entries are malformed";
		goto out;
	}
	kc->n = secret_len(plain) / ENTRY_LEN;
	kc->ents = kc->n > 0 ? plain : NULL;
	if (kc->n > 0)
		plain = NULL;
out:
	if (why != NULL)
		log_warn("key cache %s: %s; it is made again", kc->path, why);
	secret_free(plain);
	free(buf);
}

int
keycache_open(const char *dir, const char *token_id,
    const uint8_t recipient[SEAL_X25519_LEN], const struct secret *identity_sk,
    struct keycache **ret)
{
	struct keycache *kc;
	char info[sizeof(INFO) + HW_ID_LEN];
	int r;

	*ret = NULL;
	if (!id_ok(token_id))
		return JIT_E_ARG;
	if ((kc = calloc(1, sizeof(*kc))) == NULL)
		return JIT_E_NOMEM;
	memcpy(kc->ad, MAGIC, MAGIC_LEN);
	memcpy(kc->ad + MAGIC_LEN, token_id, HW_ID_LEN);
	memcpy(kc->ad + MAGIC_LEN + HW_ID_LEN, recipient, SEAL_X25519_LEN);
	snprintf(info, sizeof(info), INFO "%s", token_id);
	if (asprintf(&kc->path, "%s/" KEYCACHE_PREFIX "%s", dir, token_id) <
	    0) {
		kc->path = NULL;
		r = JIT_E_NOMEM;
		goto out;
	}
	if ((r = seal_hkdf(secret_ptr(identity_sk), secret_len(identity_sk),
		 recipient, SEAL_X25519_LEN, info, SEAL_KEY_LEN, &kc->key)) !=
	    0)
		goto out;
	load(kc);
	*ret = kc;
	kc = NULL;
out:
	keycache_free(kc);
	return r;
}

const uint8_t *
keycache_find(const struct keycache *kc, const uint8_t epk[SEAL_X25519_LEN])
{
	const uint8_t *e;

	if (kc == NULL || kc->n == 0)
		return NULL;
	e = bsearch(epk, secret_ptr(kc->ents), kc->n, ENTRY_LEN, cmp_epk);
	return e != NULL ? e + SEAL_X25519_LEN : NULL;
}

static int
cmp_index(const void *a, const void *b, void *base)
{
	return cmp_epk((const uint8_t *)base + *(const size_t *)a * ENTRY_LEN,
	    (const uint8_t *)base + *(const size_t *)b * ENTRY_LEN);
}

/* The n entries of in, sorted into out, once each: their count, or 0 for
 * want of memory.  Indexes are sorted, never the keys (qsort may copy what
 * it sorts into memory of its own). */
static size_t
sorted_unique(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t *idx, i, m = 0;

	if ((idx = calloc(n, sizeof(*idx))) == NULL)
		return 0;
	for (i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), cmp_index, (void *)(uintptr_t)in);
	for (i = 0; i < n; i++) {
		if (m > 0 &&
		    cmp_epk(out + (m - 1) * ENTRY_LEN,
			in + idx[i] * ENTRY_LEN) == 0)
			continue;
		memcpy(out + m * ENTRY_LEN, in + idx[i] * ENTRY_LEN, ENTRY_LEN);
		m++;
	}
	free(idx);
	return m;
}

/* The sorted entries a (na) and b (nb) merged into out, a's winning for
 * the same wrap, at most max, all of a's first: the count. */
static size_t
merge(const uint8_t *a, size_t na, const uint8_t *b, size_t nb, size_t max,
    uint8_t *out)
{
	size_t i = 0, k = 0, m = 0, from_b = 0, budget;
	int c;

	if (na > max)
		na = max;
	budget = max - na;
	while (i < na || k < nb) {
		c = i == na ? 1 :
		    k == nb ? -1 :
			      cmp_epk(a + i * ENTRY_LEN, b + k * ENTRY_LEN);
		if (c <= 0) {
			memcpy(out + m++ * ENTRY_LEN, a + i++ * ENTRY_LEN,
			    ENTRY_LEN);
			k += c == 0;
		} else if (from_b < budget) {
			memcpy(out + m++ * ENTRY_LEN, b + k++ * ENTRY_LEN,
			    ENTRY_LEN);
			from_b++;
		} else
			k++;
	}
	return m;
}

int
keycache_save(struct keycache *kc, const uint8_t (*epks)[SEAL_X25519_LEN],
    const uint8_t *const *keys, size_t n)
{
	struct secret *given = NULL, *sorted = NULL, *plain = NULL;
	uint8_t nonce[SEAL_NONCE_LEN], *ct = NULL, *file = NULL, *p;
	size_t i, m, ctlen;
	int r;

	if (n == 0)
		return JIT_OK;
	if (n > KEYCACHE_MAX)
		n = KEYCACHE_MAX;
	if ((r = secret_new(n * ENTRY_LEN, &given)) != 0 ||
	    (r = secret_new(n * ENTRY_LEN, &sorted)) != 0 ||
	    (r = secret_new(
		 (n + kc->n < KEYCACHE_MAX ? n + kc->n : KEYCACHE_MAX) *
		     ENTRY_LEN,
		 &plain)) != 0)
		goto out;
	p = secret_ptr(given);
	for (i = 0; i < n; i++) {
		memcpy(p + i * ENTRY_LEN, epks[i], SEAL_X25519_LEN);
		memcpy(
		    p + i * ENTRY_LEN + SEAL_X25519_LEN, keys[i], SEAL_KEY_LEN);
	}
	if ((m = sorted_unique(p, n, secret_ptr(sorted))) == 0) {
		r = JIT_E_NOMEM;
		goto out;
	}
	m = merge(secret_ptr(sorted), m,
	    kc->n > 0 ? secret_ptr(kc->ents) : NULL, kc->n, KEYCACHE_MAX,
	    secret_ptr(plain));
	secret_shrink(plain, m * ENTRY_LEN);
	if ((r = seal_aead(kc->key, kc->ad, sizeof(kc->ad), plain, nonce, &ct,
		 &ctlen)) != 0)
		goto out;
	if ((file = malloc(MAGIC_LEN + SEAL_NONCE_LEN + ctlen)) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	memcpy(file, MAGIC, MAGIC_LEN);
	memcpy(file + MAGIC_LEN, nonce, SEAL_NONCE_LEN);
	memcpy(file + MAGIC_LEN + SEAL_NONCE_LEN, ct, ctlen);
	if ((r = fs_write_atomic(kc->path, file,
		 MAGIC_LEN + SEAL_NONCE_LEN + ctlen, 0600)) != 0)
		goto out;
	secret_free(kc->ents);
	kc->ents = plain;
	kc->n = m;
	plain = NULL;
out:
	secret_free(given);
	secret_free(sorted);
	secret_free(plain);
	free(ct);
	free(file);
	return r;
}

size_t
keycache_count(const struct keycache *kc)
{
	return kc != NULL ? kc->n : 0;
}

void
keycache_free(struct keycache *kc)
{
	if (kc == NULL)
		return;
	secret_free(kc->ents);
	secret_free(kc->key);
	free(kc->path);
	free(kc);
}

int
keycache_remove(const char *dir, const char *token_id)
{
	char *path;
	int r;

	if (!id_ok(token_id))
		return JIT_E_ARG;
	if (asprintf(&path, "%s/" KEYCACHE_PREFIX "%s", dir, token_id) < 0)
		return JIT_E_NOMEM;
	r = fs_unlink(path);
	free(path);
	return r == JIT_E_NOENT ? JIT_OK : r;
}

size_t
keycache_sweep(const char *dir,
    bool (*enrolled)(const char *token_id, void *arg), void *arg)
{
	const size_t plen = strlen(KEYCACHE_PREFIX);
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		const char *id = de->d_name + plen;

		if (strncmp(de->d_name, KEYCACHE_PREFIX, plen) != 0 ||
		    !id_ok(id) || enrolled(id, arg))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
		else
			log_warn(
			    "cannot remove %s/%s, the key cache of a token no longer enrolled: %s",
			    dir, de->d_name, strerror(errno));
	}
	closedir(d);
	if (n > 0)
		log_info("removed %zu key cache%s of tokens no longer enrolled",
		    n, n == 1 ? "" : "s");
	return n;
}
