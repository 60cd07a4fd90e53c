/* The ssh-agent protocol's standard requests, parsed whole and with no state. */
#ifndef JIT_SSH_MSG_H
#define JIT_SSH_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssh-dest.h"
#include "wire.h"

struct secret;
struct ssh_key;

#define SSH_COMMENT_MAX 1024 /* a key's comment (a file name) */
#define SSH_PASSPHRASE_MAX 1024 /* ssh-add -x */
#define SSH_PROVIDER_MAX 4096 /* a PKCS#11 provider path */
#define SSH_PIN_MAX 256
#define SSH_CERTS_MAX 64 /* associated-certs-v00@openssh.com */
#define SSH_EXT_NAME_MAX 128

/* Key constraints (draft-miller-ssh-agent, PROTOCOL.agent). */
#define SSH_AGENT_CONSTRAIN_LIFETIME 1
#define SSH_AGENT_CONSTRAIN_CONFIRM 2
#define SSH_AGENT_CONSTRAIN_MAXSIGN 3
#define SSH_AGENT_CONSTRAIN_EXTENSION 255

#define SSH_EXT_RESTRICT_DEST "restrict-destination-v00@openssh.com"
#define SSH_EXT_ASSOC_CERTS "associated-certs-v00@openssh.com"
#define SSH_EXT_SK_PROVIDER "sk-provider@openssh.com"
#define SSH_EXT_SESSION_BIND "session-bind@openssh.com"

struct ssh_constraints {
	bool has_lifetime;
	uint32_t lifetime_s;
	bool confirm;
	bool has_maxsign; /* XMSS only: parsed, then refused */
	uint32_t maxsign;
	char *sk_provider; /* FIDO keys only: refused */
	bool has_dests;
	struct ssh_dests dests;
	bool has_certs; /* smartcard keys only */
	bool certs_only;
	struct ssh_key **certs;
	size_t ncerts;
};

/* SSH_AGENTC_ADD_IDENTITY / ADD_ID_CONSTRAINED (constraints may follow
 * either, as OpenSSH reads them). */
struct ssh_add_msg {
	struct ssh_key *key;
	char *comment;
	struct ssh_constraints c;
};

/* SSH_AGENTC_ADD_SMARTCARD_KEY[_CONSTRAINED], REMOVE_SMARTCARD_KEY. */
struct ssh_smartcard_msg {
	char *provider;
	struct secret *pin;
	struct ssh_constraints c;
};

/* SSH_AGENTC_SIGN_REQUEST: pointers into the request. */
struct ssh_sign_msg {
	const uint8_t *blob;
	size_t bloblen;
	const uint8_t *data;
	size_t datalen;
	uint32_t flags;
};

int ssh_msg_add(struct wire_reader *body, struct ssh_add_msg *ret);
void ssh_add_msg_free(struct ssh_add_msg *m);
int ssh_msg_smartcard(struct wire_reader *body, bool with_constraints,
    struct ssh_smartcard_msg *ret);
void ssh_smartcard_msg_free(struct ssh_smartcard_msg *m);
int ssh_msg_sign(struct wire_reader *body, struct ssh_sign_msg *ret);
/* REMOVE_IDENTITY: the key blob. */
int ssh_msg_remove(
    struct wire_reader *body, const uint8_t **ret_blob, size_t *ret_len);
/* LOCK / UNLOCK: the passphrase, in guarded memory. */
int ssh_msg_lock(struct wire_reader *body, struct secret **ret);
/* Constraints to the end of body; smartcard: the context they are in. */
int ssh_constraints_parse(
    struct wire_reader *body, bool smartcard, struct ssh_constraints *c);
void ssh_constraints_free(struct ssh_constraints *c);

#endif
