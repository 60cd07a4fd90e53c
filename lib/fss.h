/* Forward-secure sealing keys for the audit log, after journald's FSS. */
#ifndef JIT_FSS_H
#define JIT_FSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct secret;

/*
 * Time is cut into epochs of `interval` seconds from `start`.  The key of
 * epoch 0 is random; each next key is SHA-256(domain || key), and the old
 * one is wiped, so whoever reads the key file later cannot rebuild a key
 * that sealed an earlier epoch.  The verification key (the key of epoch 0,
 * start and interval) rebuilds them all; it belongs off the machine.
 */
#define FSS_KEY_LEN 32
#define FSS_ID_HEX 32 /* a key chain's id: 16 bytes of a hash, in hex */
#define FSS_MAC_HEX 64
#define FSS_INTERVAL_MIN 1 /* seconds; tests */
#define FSS_INTERVAL_MAX (7 * 24 * 3600)
#define FSS_INTERVAL_DEFAULT (15 * 60)
/* The last epoch: bounds every evolution (a clock jump, a verifier). */
#define FSS_EPOCH_MAX ((uint64_t)1 << 22)
#define FSS_VKEY_PREFIX "fss1-"
/* "fss1-" 64 hex "/" start hex "-" interval hex */
#define FSS_VKEY_MAX 96
#define FSS_FILE_MAX 512

struct fss_key {
	uint64_t start; /* unix seconds where epoch 0 begins */
	uint32_t interval; /* seconds per epoch */
	uint64_t epoch; /* the epoch of key */
	struct secret *key; /* K_epoch, FSS_KEY_LEN bytes */
	char id[FSS_ID_HEX + 1]; /* of the chain: the same for every epoch */
};

/* A new chain at epoch 0 with a random key. */
int fss_new(uint64_t start, uint32_t interval, struct fss_key **ret);
int fss_dup(const struct fss_key *k, struct fss_key **ret);
void fss_free(struct fss_key *k); /* NULL ok; wipes */
/* The epoch of unix time t (seconds); 0 before start. */
uint64_t fss_epoch_at(const struct fss_key *k, int64_t t);
/* Move the key forward to epoch e (nothing if e <= k->epoch), wiping the
 * keys passed over; JIT_E_LIMIT past FSS_EPOCH_MAX (k unchanged). */
int fss_evolve(struct fss_key *k, uint64_t e);
/* The MAC of a seal line: HMAC-SHA256(K_epoch, domain || epoch || seq ||
 * the previous line's hash || the seal's own time).  JIT_E_FORMAT if
 * prev_hex is not 64 hex digits. */
int fss_mac(const struct fss_key *k, uint64_t seq, const char *prev_hex,
    const char *time, char ret[FSS_MAC_HEX + 1]);

/* The key file: written atomically, mode 0600; read back, refused
 * (JIT_E_DENIED) if group or others may read it. */
int fss_save(const struct fss_key *k, const char *path);
int fss_load(const char *path, struct fss_key **ret);

/* The verification key of a chain at epoch 0, as one printable string in
 * guarded memory (no newline). */
int fss_vkey_format(const struct fss_key *k0, struct secret **ret);
/* Parse one; surrounding white space is ignored. */
int fss_vkey_parse(const uint8_t *s, size_t len, struct fss_key **ret);
/* Whether s looks like a verification key (to refuse it on a command
 * line). */
bool fss_vkey_like(const char *s);

#endif
