/* Requests that wait for a second person: their text, approvals and files. */
#ifndef JIT_APPROVAL_H
#define JIT_APPROVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ssh-key.h"

struct agent;
struct peer;
struct conf_profile;

#define APPROVAL_REQUESTS_MAX 64 /* waiting at once */
#define APPROVALS_MAX 16 /* a profile's approvals = N */
#define APPROVAL_ID_LEN 32 /* hex */
#define APPROVAL_FILE_MAX (16 * 1024)
#define APPROVAL_TEXT_MAX 4096
#define APPROVAL_WINDOW_DEFAULT_S 3600
#define APPROVAL_BEGIN "-----BEGIN JIT ACCESS REQUEST-----"
#define APPROVAL_END "-----END JIT ACCESS REQUEST-----"

struct approver {
	char *principal;
	char fp[SSH_FP_LEN];
	int64_t at;
};

/* A request that waits; stored as DATA_DIR/requests/ID.json. */
struct approval_req {
	struct approval_req *next;
	char id[APPROVAL_ID_LEN + 1];
	char *profile, *name, *reason;
	char *user, *host; /* the requester */
	uid_t uid;
	int64_t ttl_s, created, expires;
	int needed;
	struct approver approvers[APPROVALS_MAX];
	size_t napprovers;
	char *text; /* what an approver signs */
};

/*
 * A new request for profile p by peer, stored and audited
 * ("request-created") before it is returned; on error why says what
 * to do.
 */
int approval_create(struct agent *ag, const struct peer *peer,
    const struct conf_profile *p, const char *name, const char *reason,
    int64_t ttl_s, const struct approval_req **ret, char *why, size_t whylen);
/*
 * Count an approval (an armored SSHSIG) of request id.  JIT_OK when it
 * counted (audited "approved"), with the request: its quorum is met when
 * napprovers >= needed.  Else why holds the refusal's sentence, which is
 * audited as "approval-refused".
 */
int approval_add(struct agent *ag, const struct peer *peer, const char *id,
    const char *armored, size_t len, const struct approval_req **ret, char *why,
    size_t whylen);
/* 32 lower-case hex digits. */
bool approval_id_ok(const char *id);
/* "principal (fingerprint), ..." of the approvals so far. */
void approval_approvers(const struct approval_req *r, char *out, size_t outlen);
/* The request is served (its issuer runs): forget it and its file. */
void approval_forget(struct agent *ag, const char *id);
/* How many wait now (after dropping the expired ones). */
size_t approval_count(struct agent *ag);

#endif
