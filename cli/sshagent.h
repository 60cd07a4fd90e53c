/* A client of the person's own SSH agent (SSH_AUTH_SOCK): list keys, sign. */
#ifndef JITCTL_SSHAGENT_H
#define JITCTL_SSHAGENT_H

#include <stddef.h>
#include <stdint.h>

#define SSHAGENT_IDS_MAX 64
#define SSHAGENT_REPLY_MAX (256 * 1024)

struct sshagent_id {
	uint8_t *blob;
	size_t len;
	char *comment;
};

/* Connect to $SSH_AUTH_SOCK; why says what is wrong on failure. */
int sshagent_connect(int *ret_fd, char *why, size_t whylen);
/* SSH2_AGENTC_REQUEST_IDENTITIES: the keys it holds. */
int sshagent_identities(int fd, struct sshagent_id **ret, size_t *ret_n);
void sshagent_ids_free(struct sshagent_id *ids, size_t n);
/* SSH2_AGENTC_SIGN_REQUEST: the signature blob of data by key blob. */
int sshagent_sign(int fd, const uint8_t *blob, size_t bloblen,
    const uint8_t *data, size_t len, uint32_t flags, uint8_t **ret_sig,
    size_t *ret_siglen);

#endif
