/* What the FIDO2 backend (hw/fido2.c) shows its tests: the checks on one assertion. */
#ifndef JIT_HW_FIDO2_H
#define JIT_HW_FIDO2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FIDO2_CDH_LEN 32
#define FIDO2_PK_LEN 64 /* ES256 public key, x || y */

struct fido2_assertion {
	uint8_t cdh[FIDO2_CDH_LEN]; /* the clientDataHash we sent */
	const uint8_t *authdata; /* CBOR byte string, as received */
	size_t authdata_len;
	const uint8_t *sig;
	size_t sig_len;
	uint8_t pk[FIDO2_PK_LEN]; /* the enrolled credential's key */
	bool uv; /* user verification required */
	int ext; /* extensions expected (FIDO_EXT_*) */
};

/* JIT_OK when the signature verifies under pk over authdata || cdh, the
 * rpIdHash is SHA-256("jit-agent"), UP is set and UV is set if required;
 * JIT_E_AUTH otherwise.  ret_flags (may be NULL) gets the authData flags. */
int hw_fido2_verify_assertion(
    const struct fido2_assertion *a, uint8_t *ret_flags);

#endif
