/* Unit tests of agent/keycache.c: what is saved opens again with the same
 * identity only, new entries win and are kept first when it is full, the
 * file holds no key in the clear, and removal and the start-up sweep. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "assert.h"
#include "tmpdir.h"
#include "err.h"
#include "keycache.h"
#include "log.h"
#include "secret.h"

#define ID_A "0123456789abcdef0123456789abcdef"
#define ID_B "fedcba9876543210fedcba9876543210"

static void
setup(void)
{
	tmpdir_make("keycache");
}

/* An identity and its public key, as a token's hardware would give. */
struct ident {
	struct secret *sk;
	uint8_t pk[SEAL_X25519_LEN];
};

static void
ident_new(struct ident *id)
{
	ASSERT_OK(seal_x25519_keypair(id->pk, &id->sk));
}

/* Entry i: an ephemeral key and a data key made from i (and salt). */
static void
entry(size_t i, uint8_t salt, uint8_t epk[SEAL_X25519_LEN],
    uint8_t key[SEAL_KEY_LEN])
{
	memset(epk, 0, SEAL_X25519_LEN);
	memcpy(epk, &i, sizeof(i));
	epk[31] = 0xe5;
	memset(key, salt, SEAL_KEY_LEN);
	memcpy(key, &i, sizeof(i));
}

/* Save entries [from, from + n) made with salt. */
static int
save_range(struct keycache *kc, size_t from, size_t n, uint8_t salt)
{
	uint8_t(*epks)[SEAL_X25519_LEN] = calloc(n, SEAL_X25519_LEN);
	const uint8_t **keys = calloc(n, sizeof(*keys));
	struct secret *kb = NULL;
	size_t i;
	int r;

	if (epks == NULL || keys == NULL ||
	    secret_new(n * SEAL_KEY_LEN, &kb) != 0) {
		free(epks);
		free(keys);
		return JIT_E_NOMEM;
	}
	for (i = 0; i < n; i++) {
		entry(
		    from + i, salt, epks[i], secret_ptr(kb) + i * SEAL_KEY_LEN);
		keys[i] = secret_ptr(kb) + i * SEAL_KEY_LEN;
	}
	r = keycache_save(kc, (const uint8_t(*)[SEAL_X25519_LEN])epks,
	    (const uint8_t *const *)keys, n);
	secret_free(kb);
	free(epks);
	free(keys);
	return r;
}

/* Entry i is found, with the key made with salt. */
static bool
holds(const struct keycache *kc, size_t i, uint8_t salt)
{
	uint8_t epk[SEAL_X25519_LEN], key[SEAL_KEY_LEN];
	const uint8_t *got;

	entry(i, salt, epk, key);
	got = keycache_find(kc, epk);
	return got != NULL && memcmp(got, key, SEAL_KEY_LEN) == 0;
}

static void
path_of(char *out, size_t outlen, const char *id)
{
	snprintf(out, outlen, "%s/" KEYCACHE_PREFIX "%s", tmpdir, id);
}

TMPDIR_TEST(saved_entries_open_again)
{
	struct keycache *kc = NULL;
	struct ident a;
	char path[128];
	struct stat st;

	ident_new(&a);
	ASSERT_OK(keycache_open(tmpdir, ID_A, a.pk, a.sk, &kc));
	ASSERT_EQ_UINT(keycache_count(kc), 0);
	ASSERT(!holds(kc, 1, 0x11));
	ASSERT_OK(save_range(kc, 0, 5, 0x11));
	ASSERT_EQ_UINT(keycache_count(kc), 5);
	keycache_free(kc);
	path_of(path, sizeof(path), ID_A);
	ASSERT(stat(path, &st) == 0);
	ASSERT_EQ_UINT(st.st_mode & 0777, 0600);
	ASSERT_EQ_UINT((size_t)st.st_size, 8 + 24 + 5 * 64 + 16);
	ASSERT_OK(keycache_open(tmpdir, ID_A, a.pk, a.sk, &kc));
	ASSERT_EQ_UINT(keycache_count(kc), 5);
	for (size_t i = 0; i < 5; i++)
		ASSERT_MSG(holds(kc, i, 0x11), "entry %zu", i);
	ASSERT(!holds(kc, 5, 0x11));
	keycache_free(kc);
	secret_free(a.sk);
}

/* No data key appears in the file as it is. */
TMPDIR_TEST(no_key_in_the_clear)
{
	struct keycache *kc = NULL;
	uint8_t epk[SEAL_X25519_LEN], key[SEAL_KEY_LEN], buf[2048];
	struct ident a;
	char path[128];
	ssize_t n;
	int fd;

	ident_new(&a);
	ASSERT_OK(keycache_open(tmpdir, ID_A, a.pk, a.sk, &kc));
	ASSERT_OK(save_range(kc, 0, 8, 0x5a));
	keycache_free(kc);
	path_of(path, sizeof(path), ID_A);
	ASSERT((fd = open(path, O_RDONLY)) >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	ASSERT(n > 0);
	for (size_t i = 0; i < 8; i++) {
		entry(i, 0x5a, epk, key);
		ASSERT_MSG(memmem(buf, (size_t)n, key, SEAL_KEY_LEN) == NULL,
		    "key %zu in the clear", i);
		/* The ephemeral keys are sealed too: they say which
		 * credentials the token opened. */
		ASSERT_MSG(memmem(buf, (size_t)n, epk, SEAL_X25519_LEN) == NULL,
		    "ephemeral key %zu in the clear", i);
	}
	secret_free(a.sk);
}

/* Another identity, or the same file under another token's name, opens
 * nothing; neither does a torn or altered file.  Each reads as empty and
 * is made again by the next save. */
TMPDIR_TEST(only_its_identity_opens_it)
{
	struct keycache *kc = NULL;
	struct ident a, b;
	char pa[128], pb[128], cmd[300];

	ident_new(&a);
	ident_new(&b);
	ASSERT_OK(keycache_open(tmpdir, ID_A, a.pk, a.sk, &kc));
	ASSERT_OK(save_range(kc, 0, 3, 0x22));
	keycache_free(kc);
	ASSERT_OK(keycache_open(tmpdir, ID_A, b.pk, b.sk, &kc));
	ASSERT_EQ_UINT(keycache_count(kc), 0);
	keycache_free(kc);
	/* a's file under b's id, opened with a's identity: the id is in the
	 * associated data and in the key's derivation. */
	path_of(pa, sizeof(pa), ID_A);
	path_of(pb, sizeof(pb), ID_B);
	snprintf(cmd, sizeof(cmd), "cp %s %s", pa, pb);
	ASSERT(system(cmd) == 0);
	ASSERT_OK(keycache_open(tmpdir, ID_B, a.pk, a.sk, &kc));
	ASSERT_EQ_UINT(keycache_count(kc), 0);
	keycache_free(kc);
	/* Torn. */
	ASSERT(truncate(pa, 60) == 0);
	ASSERT_OK(keycache_open(tmpdir, ID_A, a.pk, a.sk, &kc));
	ASSERT_EQ_UINT(keycache_count(kc), 0);
	ASSERT_OK(save_range(kc, 0, 3, 0x22));
	keycache_free(kc);
	ASSERT_OK(keycache_open(tmpdir, ID_A, a.pk, a.sk, &kc));
	ASSERT_EQ_UINT(keycache_count(kc), 3);
	keycache_free(kc);
	/* One bit changed. */
	snprintf(cmd, sizeof(cmd),
	    "printf '\\x01' | dd of=%s bs=1 seek=70 conv=notrunc 2>/dev/null",
	    pa);
	ASSERT(system(cmd) == 0);
	ASSERT_OK(keycache_open(tmpdir, ID_A, a.pk, a.sk, &kc));
	ASSERT_EQ_UINT(keycache_count(kc), 0);
	keycache_free(kc);
	secret_free(a.sk);
	secret_free(b.sk);
}

/* A save keeps the old entries; a new key for the same wrap replaces the
 * old one (the given entries win). */
TMPDIR_TEST(saves_merge)
{
	struct keycache *kc = NULL;
	struct ident a;

	ident_new(&a);
	ASSERT_OK(keycache_open(tmpdir, ID_A, a.pk, a.sk, &kc));
	ASSERT_OK(save_range(kc, 0, 10, 0x33));
	ASSERT_OK(save_range(kc, 5, 10, 0x44));
	ASSERT_EQ_UINT(keycache_count(kc), 15);
	keycache_free(kc);
	ASSERT_OK(keycache_open(tmpdir, ID_A, a.pk, a.sk, &kc));
	ASSERT_EQ_UINT(keycache_count(kc), 15);
	for (size_t i = 0; i < 5; i++)
		ASSERT_MSG(holds(kc, i, 0x33), "old entry %zu", i);
	for (size_t i = 5; i < 15; i++)
		ASSERT_MSG(holds(kc, i, 0x44), "new entry %zu", i);
	keycache_free(kc);
	secret_free(a.sk);
}

/* Full: it stays at KEYCACHE_MAX, and what was saved last is all in. */
TMPDIR_TEST(full_keeps_the_newest)
{
	struct keycache *kc = NULL;
	struct ident a;
	size_t i;

	ident_new(&a);
	ASSERT_OK(keycache_open(tmpdir, ID_A, a.pk, a.sk, &kc));
	ASSERT_OK(save_range(kc, 0, KEYCACHE_MAX, 0x55));
	ASSERT_EQ_UINT(keycache_count(kc), KEYCACHE_MAX);
	ASSERT_OK(save_range(kc, KEYCACHE_MAX, 100, 0x66));
	ASSERT_EQ_UINT(keycache_count(kc), KEYCACHE_MAX);
	keycache_free(kc);
	ASSERT_OK(keycache_open(tmpdir, ID_A, a.pk, a.sk, &kc));
	ASSERT_EQ_UINT(keycache_count(kc), KEYCACHE_MAX);
	for (i = KEYCACHE_MAX; i < KEYCACHE_MAX + 100; i++)
		ASSERT_MSG(holds(kc, i, 0x66), "newest entry %zu", i);
	/* More than it holds at once: the first KEYCACHE_MAX given. */
	ASSERT_OK(save_range(kc, 2 * KEYCACHE_MAX, KEYCACHE_MAX + 5, 0x77));
	ASSERT_EQ_UINT(keycache_count(kc), KEYCACHE_MAX);
	ASSERT(holds(kc, 2 * KEYCACHE_MAX, 0x77));
	ASSERT(!holds(kc, KEYCACHE_MAX, 0x66));
	keycache_free(kc);
	secret_free(a.sk);
}

static bool
only_a_enrolled(const char *id, void *arg)
{
	(void)arg;
	return strcmp(id, ID_A) == 0;
}

TMPDIR_TEST(remove_and_sweep)
{
	struct keycache *kc = NULL;
	struct ident a;
	char pa[128], pb[128], other[128];
	struct stat st;
	int fd;

	ident_new(&a);
	ASSERT_OK(keycache_open(tmpdir, ID_A, a.pk, a.sk, &kc));
	ASSERT_OK(save_range(kc, 0, 2, 0x11));
	keycache_free(kc);
	ASSERT_OK(keycache_open(tmpdir, ID_B, a.pk, a.sk, &kc));
	ASSERT_OK(save_range(kc, 0, 2, 0x11));
	keycache_free(kc);
	path_of(pa, sizeof(pa), ID_A);
	path_of(pb, sizeof(pb), ID_B);
	/* Not a cache's name: the sweep leaves it. */
	snprintf(other, sizeof(other), "%s/" KEYCACHE_PREFIX "notanid", tmpdir);
	ASSERT((fd = open(other, O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	ASSERT_EQ_UINT(keycache_sweep(tmpdir, only_a_enrolled, NULL), 1);
	ASSERT(stat(pa, &st) == 0);
	ASSERT(stat(pb, &st) != 0);
	ASSERT(stat(other, &st) == 0);
	ASSERT_OK(keycache_remove(tmpdir, ID_A));
	ASSERT(stat(pa, &st) != 0);
	ASSERT_OK(keycache_remove(tmpdir, ID_A)); /* gone already: fine */
	/* A token id that is no file name is refused. */
	ASSERT_ERR(keycache_remove(tmpdir, "../etc/passwd"), JIT_E_ARG);
	ASSERT_ERR(keycache_open(tmpdir, "../x", a.pk, a.sk, &kc), JIT_E_ARG);
	secret_free(a.sk);
}

static const struct test_case tests[] = {
	TEST_ENTRY(saved_entries_open_again),
	TEST_ENTRY(no_key_in_the_clear),
	TEST_ENTRY(only_its_identity_opens_it),
	TEST_ENTRY(saves_merge),
	TEST_ENTRY(full_keeps_the_newest),
	TEST_ENTRY(remove_and_sweep),
};

TEST_MAIN(tests)
