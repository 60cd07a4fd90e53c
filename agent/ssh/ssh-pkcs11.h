/* PKCS#11 providers for ssh-add -s: the -P allowlist, and one OpenSSH
 * ssh-pkcs11-helper child per provider that loads its keys and signs. */
#ifndef JIT_SSH_PKCS11_H
#define JIT_SSH_PKCS11_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssh-p11msg.h"

struct secret;
struct ssh_agent;
struct ssh_key;
struct p11helper;

#define SSH_P11_PROVIDERS_MAX 8 /* helpers running at once */

/* One provider loaded with ssh-add -s, and its helper. */
struct ssh_p11 {
	struct ssh_p11 *next;
	struct ssh_agent *sa;
	char *provider; /* the resolved path */
	struct p11helper *h;
	size_t nkeys; /* identities that sign through it (ssh-agent.c) */
	bool loaded; /* its keys were added */
};

struct ssh_p11_load;
struct ssh_p11_sign;

/* Whether the resolved provider path REAL matches one of PATTERNS, the
 * comma-separated fnmatch patterns of -P. */
bool ssh_provider_allowed(const char *patterns, const char *real);

struct ssh_p11 *ssh_p11_find(struct ssh_agent *sa, const char *provider);
size_t ssh_p11_count(const struct ssh_agent *sa);

/*
 * Called once on the loop: r is JIT_OK with the provider's keys (keys is
 * the callee's to take from), JIT_E_DENIED with the helper's failure
 * number in code, or another error (timeout, the helper died or broke the
 * protocol).  On failure the provider is unloaded already.
 */
typedef void ssh_p11_load_cb(void *arg, struct ssh_p11 *p, int r,
    struct ssh_p11_keys *keys, uint32_t code);
/*
 * Start a helper for provider (resolved, allowed) and ask it for the
 * keys; the PIN is copied into the request, which is wiped once written.
 * JIT_E_EXISTS if the provider is loaded, JIT_E_LIMIT with
 * SSH_P11_PROVIDERS_MAX running, JIT_E_UNSUPPORTED if no helper could be
 * started.
 */
int ssh_p11_load(struct ssh_agent *sa, const char *provider,
    const struct secret *pin, int64_t timeout_ms, ssh_p11_load_cb *cb,
    void *arg, struct ssh_p11_load **ret);
void ssh_p11_load_forget(struct ssh_p11_load *l);

/* Called once: JIT_OK and SSH's signature blob (the callee's to free),
 * or an error. */
typedef void ssh_p11_sign_cb(void *arg, int r, uint8_t *sig, size_t siglen);
int ssh_p11_sign(struct ssh_p11 *p, const struct ssh_key *k,
    const uint8_t *data, size_t len, uint32_t flags, int64_t timeout_ms,
    ssh_p11_sign_cb *cb, void *arg, struct ssh_p11_sign **ret);
void ssh_p11_sign_forget(struct ssh_p11_sign *s);

/* Stop the helper (pending calls fail) and forget the provider. */
void ssh_p11_unload(struct ssh_p11 *p, bool at_exit);

#endif
