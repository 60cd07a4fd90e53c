/* Unlock on use: what a credential helper's use (ext-cred.c) and an ssh signature (ssh-cred.c) share. */
#ifndef JIT_ONUSE_H
#define JIT_ONUSE_H

#include <stddef.h>

#include "agent.h"

struct cred;
struct peer;
struct secret;

/* The first token (in the order tokens are tried) that wraps c and wants
 * a PIN: a TPM, a PIV card, a FIDO2 key enrolled with UV; NULL if none. */
const char *onuse_pin_token(struct agent *ag, const struct cred *c);
/* The askpass question for that PIN: "Allow CLIENT to use WHAT? It is
 * locked: enter the PIN of token TOKEN to unlock it." */
void onuse_pin_prompt(const struct peer *p, const char *what, const char *token,
    char *out, size_t outlen);
/*
 * A token opened c (its fields) for p's use: the unlock is audited as
 * started by the use (trigger "use"), then c is unlocked for the default
 * window, keeping the plaintext only for step-up session.  JIT_OK, or an
 * error with why (a sentence): then nothing was unlocked.
 */
int onuse_keep(struct agent *ag, const struct peer *p, struct cred *c,
    const struct secret *fields, const char *token, char *why, size_t whylen);

#endif
