/* The store on disk: enrolled tokens and sealed credentials, and their crypto. */
#ifndef JIT_STORE_H
#define JIT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "credhdr.h"
#include "policy.h"
#include "hw.h"
#include "seal.h"

#define STORE_TOKENS_MAX 16 /* TOKENSET_MAX */
#define STORE_CREDS_MAX 100000
#define CRED_WRAPS_MAX 256 /* a sealed file's: an on-call group's tokens */
#define STORE_FILE_MAX (1024 * 1024)
#define CRED_NAME_MAX POLICY_NAME_MAX
#define CRED_KIND_MAX 16
#define CRED_REASON_MAX 512 /* why it was requested */
#define CRED_PUBLIC_MAX 8 /* fields kept for the revoke */
#define CRED_PUBLIC_VALUE_MAX 256

struct cred_wrap {
	char token_id[HW_ID_LEN + 1];
	struct seal_wrap w;
};

struct vault_slot;

struct cred {
	char *name;
	char *kind;
	char **field_names;
	size_t nfields;
	int64_t created; /* unix seconds */
	int64_t not_after; /* unix seconds */
	enum stepup stepup;
	uint8_t nonce[SEAL_NONCE_LEN];
	uint8_t *ct;
	size_t ctlen;
	uint8_t *ad; /* the header, as AEAD data */
	size_t adlen;
	struct cred_wrap *wraps;
	size_t nwraps;
	char *profile; /* requested: its profile */
	char *reason; /* requested: why */
	struct cred_pub *pub; /* sorted by name */
	size_t npub;
	bool unlock_on_use; /* a client's use while locked starts the unlock */
	bool unread; /* store.c: its file is not read yet, only name is set */
	char *sealed_by; /* made by jitctl seal: who sealed it */
	uint8_t *ssh_cert; /* ssh-cert: its certificate, public (or NULL) */
	size_t ssh_certlen;
	struct vault_slot *slot; /* runtime state, vault.c */
	int64_t window_ended; /* unix seconds its window ran out; 0: it did
				 not (never unlocked, locked, or open) */
	uint64_t uses; /* since the agent started */
	int last_uid; /* -1: never used */
	int last_pid;
	char *last_exe; /* the last user's executable (or NULL) */
	struct cred *hnext;
};

/* What an unlock job needs of one credential, copied off the store. */
struct cred_sealed {
	char *name;
	int64_t created;
	uint8_t nonce[SEAL_NONCE_LEN];
	uint8_t *ct;
	size_t ctlen;
	uint8_t *ad;
	size_t adlen;
	struct cred_wrap *wraps;
	size_t nwraps;
};

struct store;

#define STORE_LOCK_FILE "agent.lock"
/* One agent per data directory: an exclusive lock on its lock file, held
 * (*ret_fd) while the agent runs, with note (who holds it) written in.
 * JIT_E_BUSY, why naming the holder, when another agent has it. */
int store_lock(
    const char *dir, const char *note, int *ret_fd, char *why, size_t whylen);
int store_open(const char *dir, struct store **ret);
void store_free(struct store *s);
const char *store_dir(const struct store *s);

size_t store_ntokens(const struct store *s);
struct hw_token *store_token_at(const struct store *s, size_t i);
struct hw_token *store_token_by_label(const struct store *s, const char *l);
struct hw_token *store_token_by_id(const struct store *s, const char *id);

/*
 * The enrolled tokens are an authenticated set (tokenset.h).  After a
 * start it is UNVERIFIED until a token of the set vouches for it (any
 * unlock, or `jitctl tokens --verify`); nothing is wrapped before.  A
 * token that disagrees makes it FAILED (why says what changed) until the
 * set is repaired through the agent.  BROKEN: tokens.json is unreadable.
 */
enum store_set_state {
	SET_EMPTY = 0, /* no token: the first enrollment needs none */
	SET_UNVERIFIED,
	SET_VERIFIED,
	SET_FAILED,
	SET_BROKEN,
};
struct tokenset;
const struct tokenset *store_tokenset(const struct store *s);
enum store_set_state store_set_state(const struct store *s, const char **why);
/* The verdict of a token on the set of that generation. */
void store_set_verified(
    struct store *s, uint64_t generation, int result, const char *why);
/* JIT_OK if a first token may be enrolled with no other's approval:
 * JIT_E_EXISTS (tokens are enrolled), JIT_E_DENIED (credentials are
 * stored but the set is gone), JIT_E_AUTH (tokens.json is unreadable). */
int store_first_enroll_ok(const struct store *s);
/* Save a new set (enroll, unenroll) and use it; takes ts on success. */
int store_replace_tokenset(struct store *s, struct tokenset *ts);
/* Drop a token's wraps from every credential file.  Refused (JIT_E_DENIED,
 * *ret_orphans set) if a credential would be left with no wrap, unless
 * force (then those credentials are deleted). */
int store_drop_wraps(struct store *s, const char *token_id, bool force,
    size_t *ret_rewrapped, size_t *ret_orphans);

/*
 * Start-up reads the names of the credential files only; a file is read,
 * parsed and checked when first needed: store_cred() of its name,
 * store_cred_at() of its place, store_ncreds() (which reads every one, so
 * that a walk over them all sees only good ones), or the background pass
 * (store_read_some).  A damaged file is logged, kept in the damaged list
 * and leaves the index when read, as it was never loaded before.
 */
size_t store_ncreds(struct store *s);
/* Entries, unread ones included: a damaged unread file counts until read. */
size_t store_nknown(const struct store *s);
size_t store_nunread(const struct store *s);
/* The credential at place i (< store_nknown), read if need be; a damaged
 * one is replaced by the last entry, so NULL when i is past the end. */
struct cred *store_cred_at(struct store *s, size_t i);
/* The same, without reading: NULL for a file not read yet. */
struct cred *store_cred_peek(const struct store *s, size_t i);
struct cred *store_cred(struct store *s, const char *name);
/* Read up to max unread files; returns how many are left unread. */
size_t store_read_some(struct store *s, size_t max);
void store_read_all(struct store *s);
/* Credential files that were found damaged (unreadable, not JSON, a
 * header that fails its checks, a name that is not the file's). */
#define STORE_DAMAGED_KEEP 64 /* listed; all are counted */
struct store_damaged {
	char file[256];
	char why[128];
};
size_t store_ndamaged(const struct store *s);
const struct store_damaged *store_damaged_at(const struct store *s, size_t i);
/* How many carry a public SSH certificate and unlock on use (listed by
 * ssh while locked): none spares a listing the walk over every one.
 * Reads every unread file first. */
size_t store_nlisted_locked(struct store *s);

struct cred_new {
	const char *name;
	const char *kind;
	int64_t ttl_s;
	enum stepup stepup;
	bool replace;
	bool unlock_on_use;
	const char *profile; /* NULL unless requested */
	const char *reason;
	const struct cred_pub *pub;
	size_t npub;
	const uint8_t *ssh_cert; /* ssh-cert: its certificate, for the header */
	size_t ssh_certlen;
};
/* Seal fields under a fresh data key wrapped to every token, save, index.
 * A replaced credential's old struct is freed: callers wipe it first. */
int store_put_cred(struct store *s, const struct cred_new *a,
    const struct secret *fields, struct cred **ret);
int store_delete_cred(struct store *s, const char *name);

/* Copy what opening c needs, for work off the loop. */
int cred_snapshot(const struct cred *c, struct cred_sealed **ret);
void cred_sealed_free(struct cred_sealed *cs);
/* The wrap of cs to a token, or NULL. */
const struct seal_wrap *cred_sealed_wrap(
    const struct cred_sealed *cs, const char *token_id);
/* A data key from a token's key cache (keycache.c) to try first, and the
 * key unwrapped when there was none or it did not open the ciphertext (for
 * the cache; the caller frees it). */
struct cred_dek {
	const uint8_t *cached; /* SEAL_KEY_LEN bytes, or NULL */
	struct secret *unwrapped;
};
/* Open a snapshot with a token's identity (and dk, NULL for none): the
 * fields, in guarded memory.  JIT_E_NOENT if it is not wrapped to that
 * token. */
int cred_sealed_open(const struct cred_sealed *cs, const char *token_id,
    const struct secret *identity_sk, const uint8_t recipient[32],
    struct cred_dek *dk, struct secret **ret_fields);
bool cred_wrapped_to(const struct cred *c, const char *token_id);
/* In a worker: open cs's data key with a token's identity (and dk, as
 * above; checking it opens the ciphertext) and wrap it to each token of
 * to[] it is not wrapped to yet: *ret (malloc'd, *ret_n of them, maybe
 * none).  JIT_E_NOENT if cs is not wrapped to that token. */
int cred_sealed_rewrap(const struct cred_sealed *cs, const char *token_id,
    const struct secret *identity_sk, const uint8_t recipient[32],
    struct cred_dek *dk, struct hw_token *const *to, size_t nto,
    struct cred_wrap **ret, size_t *ret_n);
/* Add those wraps to c's file (to tokens still enrolled, not wrapped to
 * yet), atomically; only to a verified set. */
int store_add_wraps(struct store *s, struct cred *c, const struct cred_wrap *w,
    size_t n, size_t *ret_added);

/* A credential sealed elsewhere (jitctl seal): parsed and checked like a
 * file of the store, its header bound; not in the store yet. */
int store_cred_parse(struct json_object *o, struct cred **ret);
void store_cred_free(struct cred *c);
/* Keep only the wraps to these token ids (the tokens enrolled here). */
void store_cred_keep_wraps(struct cred *c, const char *const *ids, size_t n);
/* Save c (taken on success) as it is and index it; an old credential of
 * its name is replaced (callers wipe it first) only if replace. */
int store_add_parsed(struct store *s, struct cred *c, bool replace);

#endif
