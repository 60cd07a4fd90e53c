/* Forward-secure sealing keys for the audit log, after journald's FSS. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "fsutil.h"
#include "fss.h"
#include "log.h"
#include "secret.h"
#include "wire.h"

/* Domains: one per use of the key material, NUL included. */
#define DOMAIN_ID "jit-agent audit fss id v1"
#define DOMAIN_EVOLVE "jit-agent audit fss evolve v1"
#define DOMAIN_SEAL "jit-agent audit seal v1"
#define FILE_MAGIC "jit-agent audit fss v1"

static void
put_be64(uint8_t out[8], uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

static void
put_be32(uint8_t out[4], uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

/* The chain's id, from its first key and its schedule. */
static void
chain_id(const uint8_t k0[FSS_KEY_LEN], uint64_t start, uint32_t interval,
    char out[FSS_ID_HEX + 1])
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES], b8[8], b4[4];

	put_be64(b8, start);
	put_be32(b4, interval);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(
	    &st, (const uint8_t *)DOMAIN_ID, sizeof(DOMAIN_ID));
	crypto_hash_sha256_update(&st, k0, FSS_KEY_LEN);
	crypto_hash_sha256_update(&st, b8, sizeof(b8));
	crypto_hash_sha256_update(&st, b4, sizeof(b4));
	crypto_hash_sha256_final(&st, h);
	sodium_memzero(&st, sizeof(st));
	sodium_bin2hex(out, FSS_ID_HEX + 1, h, FSS_ID_HEX / 2);
}

static bool
interval_ok(uint64_t interval)
{
	return interval >= FSS_INTERVAL_MIN && interval <= FSS_INTERVAL_MAX;
}

static bool
is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int
fss_new(uint64_t start, uint32_t interval, struct fss_key **ret)
{
	struct fss_key *k;
	int r;

	if (!interval_ok(interval))
		return JIT_E_ARG;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return JIT_E_NOMEM;
	if ((r = secret_new(FSS_KEY_LEN, &k->key)) != 0) {
		free(k);
		return r;
	}
	randombytes_buf(secret_ptr(k->key), FSS_KEY_LEN);
	k->start = start;
	k->interval = interval;
	chain_id(secret_ptr(k->key), start, interval, k->id);
	*ret = k;
	return JIT_OK;
}

int
fss_dup(const struct fss_key *k, struct fss_key **ret)
{
	struct fss_key *d;
	int r;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return JIT_E_NOMEM;
	*d = *k;
	if ((r = secret_from(secret_ptr(k->key), FSS_KEY_LEN, &d->key)) != 0) {
		free(d);
		return r;
	}
	*ret = d;
	return JIT_OK;
}

void
fss_free(struct fss_key *k)
{
	if (k == NULL)
		return;
	secret_free(k->key);
	free(k);
}

uint64_t
fss_epoch_at(const struct fss_key *k, int64_t t)
{
	if (t < 0 || (uint64_t)t < k->start)
		return 0;
	return ((uint64_t)t - k->start) / k->interval;
}

int
fss_evolve(struct fss_key *k, uint64_t e)
{
	crypto_hash_sha256_state st;
	uint8_t *key = secret_ptr(k->key);

	if (e > FSS_EPOCH_MAX)
		return JIT_E_LIMIT;
	/* In place: each step overwrites the key it came from. */
	for (; k->epoch < e; k->epoch++) {
		crypto_hash_sha256_init(&st);
		crypto_hash_sha256_update(
		    &st, (const uint8_t *)DOMAIN_EVOLVE, sizeof(DOMAIN_EVOLVE));
		crypto_hash_sha256_update(&st, key, FSS_KEY_LEN);
		crypto_hash_sha256_final(&st, key);
	}
	sodium_memzero(&st, sizeof(st));
	return JIT_OK;
}

int
fss_mac(const struct fss_key *k, uint64_t seq, const char *prev_hex,
    const char *time, char ret[FSS_MAC_HEX + 1])
{
	crypto_auth_hmacsha256_state st;
	uint8_t prev[32], mac[crypto_auth_hmacsha256_BYTES], b8[8], b4[4];
	size_t tlen = strlen(time);

	if (strlen(prev_hex) != 64 || !is_hex(prev_hex, 64) ||
	    sodium_hex2bin(
		prev, sizeof(prev), prev_hex, 64, NULL, NULL, NULL) != 0 ||
	    tlen > 64)
		return JIT_E_FORMAT;
	crypto_auth_hmacsha256_init(&st, secret_ptr(k->key), FSS_KEY_LEN);
	crypto_auth_hmacsha256_update(
	    &st, (const uint8_t *)DOMAIN_SEAL, sizeof(DOMAIN_SEAL));
	put_be64(b8, k->epoch);
	crypto_auth_hmacsha256_update(&st, b8, sizeof(b8));
	put_be64(b8, seq);
	crypto_auth_hmacsha256_update(&st, b8, sizeof(b8));
	crypto_auth_hmacsha256_update(&st, prev, sizeof(prev));
	put_be32(b4, (uint32_t)tlen);
	crypto_auth_hmacsha256_update(&st, b4, sizeof(b4));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)time, tlen);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
	sodium_bin2hex(ret, FSS_MAC_HEX + 1, mac, sizeof(mac));
	return JIT_OK;
}

int
fss_save(const struct fss_key *k, const char *path)
{
	struct wire_writer w;
	struct secret *buf = NULL;
	int r;

	/* Secure: the key passes through it. */
	wire_writer_init(&w, FSS_FILE_MAX, true);
	if ((r = wire_put_cstring(&w, FILE_MAGIC)) != 0 ||
	    (r = wire_put_u64(&w, k->start)) != 0 ||
	    (r = wire_put_u32(&w, k->interval)) != 0 ||
	    (r = wire_put_u64(&w, k->epoch)) != 0 ||
	    (r = wire_put_cstring(&w, k->id)) != 0 ||
	    (r = wire_put_string(&w, secret_ptr(k->key), FSS_KEY_LEN)) != 0 ||
	    (r = wire_writer_take_secret(&w, &buf)) != 0) {
		wire_writer_reset(&w);
		return r;
	}
	r = fs_write_atomic(path, secret_ptr(buf), secret_len(buf), 0600);
	secret_free(buf);
	return r;
}

/* The file into guarded memory: it holds the current key. */
static int
read_private(const char *path, struct secret **ret)
{
	struct secret *buf = NULL;
	struct stat st;
	size_t off = 0;
	ssize_t n;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) <
	    0)
		return errno == ENOENT ? JIT_E_NOENT : JIT_E_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = JIT_E_IO;
		goto out;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		r = JIT_E_DENIED;
		goto out;
	}
	if (st.st_size <= 0 || st.st_size > FSS_FILE_MAX) {
		r = JIT_E_FORMAT;
		goto out;
	}
	if ((r = secret_new((size_t)st.st_size, &buf)) != 0)
		goto out;
	while (off < (size_t)st.st_size) {
		n = read(fd, secret_ptr(buf) + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off != (size_t)st.st_size) {
		r = JIT_E_IO;
		goto out;
	}
	*ret = buf;
	buf = NULL;
	r = JIT_OK;
out:
	secret_free(buf);
	close(fd);
	return r;
}

int
fss_load(const char *path, struct fss_key **ret)
{
	struct wire_reader rd;
	struct secret *buf = NULL;
	struct fss_key *k = NULL;
	const uint8_t *key;
	char *magic = NULL, *id = NULL;
	size_t keylen;
	int r;

	if ((r = read_private(path, &buf)) != 0)
		return r;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	wire_reader_init(&rd, secret_ptr(buf), secret_len(buf));
	if ((r = wire_get_cstring(&rd, 64, &magic)) != 0 ||
	    (r = wire_get_u64(&rd, &k->start)) != 0 ||
	    (r = wire_get_u32(&rd, &k->interval)) != 0 ||
	    (r = wire_get_u64(&rd, &k->epoch)) != 0 ||
	    (r = wire_get_cstring(&rd, FSS_ID_HEX, &id)) != 0 ||
	    (r = wire_get_string(&rd, FSS_KEY_LEN, &key, &keylen)) != 0 ||
	    (r = wire_end(&rd)) != 0)
		goto out;
	if (strcmp(magic, FILE_MAGIC) != 0 || !interval_ok(k->interval) ||
	    k->epoch > FSS_EPOCH_MAX || strlen(id) != FSS_ID_HEX ||
	    !is_hex(id, FSS_ID_HEX) || keylen != FSS_KEY_LEN) {
		r = JIT_E_FORMAT;
		goto out;
	}
	memcpy(k->id, id, sizeof(k->id));
	if ((r = secret_from(key, FSS_KEY_LEN, &k->key)) != 0)
		goto out;
	*ret = k;
	k = NULL;
	r = JIT_OK;
out:
	free(magic);
	free(id);
	fss_free(k);
	secret_free(buf);
	return r;
}

int
fss_vkey_format(const struct fss_key *k0, struct secret **ret)
{
	struct secret *s = NULL;
	char *p;
	size_t n;
	int r;

	if (k0->epoch != 0)
		return JIT_E_ARG;
	if ((r = secret_new(FSS_VKEY_MAX + 1, &s)) != 0)
		return r;
	p = (char *)secret_ptr(s);
	n = sizeof(FSS_VKEY_PREFIX) - 1;
	memcpy(p, FSS_VKEY_PREFIX, n);
	sodium_bin2hex(
	    p + n, FSS_KEY_LEN * 2 + 1, secret_ptr(k0->key), FSS_KEY_LEN);
	n += FSS_KEY_LEN * 2;
	snprintf(p + n, FSS_VKEY_MAX + 1 - n, "/%llx-%x",
	    (unsigned long long)k0->start, (unsigned)k0->interval);
	secret_shrink(s, strlen(p));
	*ret = s;
	return JIT_OK;
}

static bool
is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Hex digits up to a stop byte (taken) or the end: 1 to maxd of them. */
static int
hex_number(struct wire_reader *rd, size_t maxd, int stop, uint64_t *ret)
{
	uint64_t v = 0;
	size_t n = 0;
	uint8_t c;

	while (wire_peek_u8(rd, &c) == 0 && !is_space(c)) {
		(void)wire_get_u8(rd, &c);
		if ((int)c == stop)
			break;
		if (n == maxd)
			return JIT_E_FORMAT;
		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return JIT_E_FORMAT;
		n++;
	}
	if (n == 0 || (stop >= 0 && (int)c != stop))
		return JIT_E_FORMAT;
	*ret = v;
	return JIT_OK;
}

int
fss_vkey_parse(const uint8_t *s, size_t len, struct fss_key **ret)
{
	const size_t plen = sizeof(FSS_VKEY_PREFIX) - 1;
	struct wire_reader rd;
	struct fss_key *k = NULL;
	char prefix[sizeof(FSS_VKEY_PREFIX)], hex[FSS_KEY_LEN * 2];
	uint64_t start, interval;
	uint8_t c = 0;
	int r = JIT_E_FORMAT;

	wire_reader_init(&rd, s, len);
	while (wire_peek_u8(&rd, &c) == 0 && is_space(c))
		(void)wire_get_u8(&rd, &c);
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return JIT_E_NOMEM;
	if ((r = secret_new(FSS_KEY_LEN, &k->key)) != 0)
		goto out;
	r = JIT_E_FORMAT;
	if (wire_get_bytes(&rd, prefix, plen) != 0 ||
	    memcmp(prefix, FSS_VKEY_PREFIX, plen) != 0 ||
	    wire_get_bytes(&rd, hex, sizeof(hex)) != 0 ||
	    !is_hex(hex, sizeof(hex)) ||
	    sodium_hex2bin(secret_ptr(k->key), FSS_KEY_LEN, hex, sizeof(hex),
		NULL, NULL, NULL) != 0 ||
	    wire_get_u8(&rd, &c) != 0 || c != '/' ||
	    hex_number(&rd, 16, '-', &start) != 0 ||
	    hex_number(&rd, 8, -1, &interval) != 0 || !interval_ok(interval))
		goto out;
	while (wire_get_u8(&rd, &c) == 0)
		if (!is_space(c))
			goto out;
	k->start = start;
	k->interval = (uint32_t)interval;
	k->epoch = 0;
	chain_id(secret_ptr(k->key), k->start, k->interval, k->id);
	*ret = k;
	k = NULL;
	r = JIT_OK;
out:
	sodium_memzero(hex, sizeof(hex));
	fss_free(k);
	return r;
}

bool
fss_vkey_like(const char *s)
{
	size_t n = strlen(s);

	return strncmp(s, FSS_VKEY_PREFIX, sizeof(FSS_VKEY_PREFIX) - 1) == 0 ||
	    (n > FSS_KEY_LEN * 2 && is_hex(s, FSS_KEY_LEN * 2) &&
		s[FSS_KEY_LEN * 2] == '/');
}
