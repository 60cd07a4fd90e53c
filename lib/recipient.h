/* A token's public recipient as one line of text, for a team's repository. */
#ifndef JIT_RECIPIENT_H
#define JIT_RECIPIENT_H

#include <stddef.h>
#include <stdint.h>

/*
 * "jit-recipient1 TYPE ID LABEL KEY [ATTESTATION]": the token's type
 * (tpm2, fido2, piv), its id (32 hex digits, the wrap's context), its
 * label, its X25519 wrapping key and, when the token attested at
 * enrollment, the attestation (lib/attest.h) binding that key to genuine
 * hardware; KEY and ATTESTATION are unpadded URL-safe base64.
 */
#define RECIPIENT_PREFIX "jit-recipient1"
#define RECIPIENT_KEY_LEN 32
#define RECIPIENT_ID_LEN 32
#define RECIPIENT_LABEL_MAX 64
#define RECIPIENT_TYPE_MAX 16
#define RECIPIENT_ATTEST_MAX (24 * 1024)
#define RECIPIENT_LINE_MAX (40 * 1024)
#define RECIPIENTS_MAX 256 /* in one file, or given to one seal */
#define RECIPIENT_WHY_MAX 256

struct recipient {
	char type[RECIPIENT_TYPE_MAX + 1];
	char id[RECIPIENT_ID_LEN + 1];
	char label[RECIPIENT_LABEL_MAX + 1];
	uint8_t key[RECIPIENT_KEY_LEN];
	uint8_t *attest; /* malloc'd, NULL if the token did not attest */
	size_t attestlen;
};

void recipient_reset(struct recipient *rc);
/* One line (no newline); why says what is wrong. */
int recipient_parse(const uint8_t *line, size_t len, struct recipient *ret,
    char *why, size_t whylen);
/* The line, malloc'd, without a newline. */
int recipient_format(const struct recipient *rc, char **ret);
/*
 * arg is a recipient line, or a file of them (blank lines and lines that
 * start with '#' are skipped).  The recipients are appended to *list
 * (*n of them, at most RECIPIENTS_MAX); why names the file and line.
 */
int recipient_load(const char *arg, struct recipient **list, size_t *n,
    char *why, size_t whylen);
void recipient_list_free(struct recipient *list, size_t n);

#endif
