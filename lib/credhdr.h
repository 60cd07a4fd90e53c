/* A credential's header as the AEAD's associated data: one encoding for the
 * agent's store and for files sealed with no agent (jitctl seal). */
#ifndef JIT_CREDHDR_H
#define JIT_CREDHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A field a profile declares non-secret (revoke_fields): kept in clear in
 * the credential's file, inside the AEAD's associated data. */
struct cred_pub {
	char *name;
	char *value;
};

#define CREDHDR_SEALED_BY_MAX 128 /* who sealed a portable file */
#define CREDHDR_SSH_CERT_MAX (16 * 1024) /* an ssh-cert's certificate blob */

struct credhdr {
	const char *name;
	const char *kind;
	char *const *field_names;
	size_t nfields;
	int64_t created; /* unix seconds */
	int64_t not_after;
	const char *stepup; /* session, always, pin, confirm */
	const char *profile; /* NULL unless requested */
	const char *reason; /* NULL unless requested */
	const struct cred_pub *pub; /* sorted by name */
	size_t npub;
	bool unlock_on_use; /* a use while locked starts the unlock */
	const char *sealed_by; /* NULL unless sealed by jitctl seal */
	/* An ssh-cert credential's certificate (its public key inside), as
	 * the agent lists it while the credential is locked (unlock on use):
	 * public, bound like the rest. */
	const uint8_t *ssh_cert;
	size_t ssh_certlen;
};

/* The associated data (malloc'd): optional members are tagged and only
 * present when set, so a credential without them keeps its old data. */
int credhdr_ad(const struct credhdr *h, uint8_t **ret, size_t *ret_len);
/* Who sealed a file: 1..CREDHDR_SEALED_BY_MAX printable ASCII bytes. */
int credhdr_sealed_by_ok(const char *s);

#endif
