/* The authenticated set of enrolled tokens: tokens.json, its key and seals. */
#ifndef JIT_TOKENSET_H
#define JIT_TOKENSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw.h"

#define TOKENSET_FILE "tokens.json" /* in the data directory */
#define TOKENSET_MAX 16
#define TOKENSET_KEY_LEN 32
#define TOKENSET_MAC_LEN 32
#define TOKENSET_WHY_MAX 512

/*
 * Every token of the set holds a box with the set key K, sealed under a
 * key derived from that token's identity: only its hardware can open the
 * box, and only an enrollment (which has the new identity in hand) can
 * make one.  K authenticates each token record and the list as a whole,
 * so a token record planted, edited or dropped on disk is named when a
 * genuine token verifies the set.  Wrapping a credential needs only
 * public keys; the agent wraps only to a set verified since it started.
 */
struct tokenset_entry {
	struct hw_token *tok;
	uint8_t box_nonce[24];
	uint8_t box[TOKENSET_KEY_LEN + 16];
	uint8_t mac[TOKENSET_MAC_LEN];
};

struct tokenset {
	uint64_t generation; /* one more at every change */
	struct tokenset_entry e[TOKENSET_MAX];
	size_t n;
	uint8_t mac[TOKENSET_MAC_LEN]; /* over generation and the ids */
};

void tokenset_free(struct tokenset *ts);
int tokenset_dup(const struct tokenset *ts, struct tokenset **ret);
/* Read path: JIT_E_NOENT if absent, JIT_E_FORMAT (why says where) if it
 * cannot be read as a token set. */
int tokenset_load(
    const char *path, struct tokenset **ret, char *why, size_t whylen);
int tokenset_save(const struct tokenset *ts, const char *path);
int tokenset_new(struct tokenset **ret);

const struct hw_token *tokenset_by_label(
    const struct tokenset *ts, const char *label);
const struct hw_token *tokenset_by_id(
    const struct tokenset *ts, const char *id);

/* What a token says of the set, once its hardware opened its identity. */
struct tokenset_verdict {
	int result; /* JIT_OK: the whole set is as the agent left it */
	bool own_ok; /* the answering token's own box and record check out */
	bool records_ok; /* every record but the excepted one checks out */
	char why[TOKENSET_WHY_MAX]; /* what changed, when not JIT_OK */
};

/*
 * With the identity of token id (opened by its hardware): open its box and
 * check every record and the list.  ret_key (if not NULL) gets K when the
 * answering token is genuine, so that the set can be changed or repaired.
 * except (or NULL): a record left out of records_ok (the one a repair
 * removes).  Returns v->result.
 */
int tokenset_verify(const struct tokenset *ts, const char *id,
    const struct secret *identity_sk, const char *except,
    struct secret **ret_key, struct tokenset_verdict *v);

/* Add t (taken on success) with its identity secret, under key K; then
 * everything is sealed again.  JIT_E_EXISTS for a taken label. */
int tokenset_add(struct tokenset *ts, struct hw_token *t,
    const struct secret *identity_sk, const struct secret *key);
/* Drop the token labelled so and seal again under K. */
int tokenset_remove(
    struct tokenset *ts, const char *label, const struct secret *key);

#endif
