/* Upstream revocation: a profile's revoke command, retried until it works. */
#ifndef JIT_REVOKE_H
#define JIT_REVOKE_H

#include <stdbool.h>

#include <json-c/json.h>

#include "agent.h"

struct cred;
struct cred_pub;
struct revocation;
struct revoker;

#define REVOKE_ATTEMPTS_MAX 8
#define REVOKE_BACKOFF_MS 2000 /* then doubled each time */
#define REVOKE_BACKOFF_MAX_MS (5 * 60 * 1000)
#define REVOKE_DONE_KEPT 64 /* finished ones shown */
#define REVOKE_TICK_MAX_MS (30 * 1000) /* suspend stops uv timers */

/*
 * A requested credential dies upstream when it is revoked (`jitctl
 * revoke`), when its not-after passes, and, if its profile says
 * revoke_on_lock, when it is locked.  The profile's revoke command runs
 * off the loop on the lane of the profile's issuer; a failure is audited
 * ("revoke-failed") and tried again with a doubling delay, at most
 * REVOKE_ATTEMPTS_MAX times.  Each revocation keeps what its command needs
 * (name, profile, reason, the public fields), so it outlives the
 * credential's file.
 */
int revoker_new(struct agent *ag, struct revoker **ret);
void revoker_free(struct revoker *rv);
/* Credentials were added or the configuration changed: look again. */
void revoke_rearm(struct agent *ag);

/*
 * `jitctl revoke` of c: before c is deleted, keep what its revoke needs.
 * NULL when c has no upstream revoke (added, or its profile has none).
 */
struct revocation *revoke_prepare(
    struct agent *ag, const struct cred *c, const char *why);
/* Run it now; the first attempt's outcome answers rq (AGENT_DEFERRED). */
int revoke_start(struct agent *ag, struct revocation *r, struct request *rq);

/* A lock of c: if its profile says revoke_on_lock, wipe c, delete it,
 * start its revoke and return true. */
bool revoke_on_lock(
    struct agent *ag, struct cred *c, const char *why, const struct peer *p);
/* A full lock: every credential whose profile says revoke_on_lock; the
 * names are added to done (may be NULL). */
void revoke_lock_all(struct agent *ag, const char *why, const struct peer *p,
    struct json_object *done);
/* Before a credential past its not-after is replaced: start its revoke. */
void revoke_if_expired(struct agent *ag, const struct cred *c);

/* An issued credential that could not be stored: revoke it at once. */
void revoke_unstored(struct agent *ag, const char *name, const char *profile,
    const char *reason, const struct cred_pub *pub, size_t npub);

/* For status: c's revocation, or NULL; and every revocation. */
struct json_object *revoke_cred_json(struct agent *ag, const struct cred *c);
struct json_object *revoke_list_json(struct agent *ag);

#endif
