/* Policy in one place: step-ups, names, and who may use what. */
#ifndef JIT_POLICY_H
#define JIT_POLICY_H

#include <stdbool.h>
#include <stddef.h>

struct peer;

#define POLICY_NAME_MAX 64 /* credential and profile names */

/* What each use of a credential costs. */
enum stepup {
	STEPUP_SESSION = 0, /* one unlock opens a window */
	STEPUP_ALWAYS, /* every use unwraps with the token again */
	STEPUP_PIN, /* like always, with PIN/UV */
	STEPUP_CONFIRM, /* every use asks the person (askpass) */
};
const char *stepup_name(enum stepup s);
/* JIT_E_ARG for a word that is none of session, always, pin, confirm. */
int stepup_parse(const char *s, enum stepup *ret);

/* A credential or profile name: 1..POLICY_NAME_MAX of [A-Za-z0-9_.-], not starting
 * with '.' or '-' (it names a file). */
bool policy_name_ok(const char *name);

/* May the peer's executable use a credential whose profile allows only
 * these (n == 0: any)?  An executable the agent could not resolve never
 * may. */
bool policy_exe_allowed(
    const char *const *allowed, size_t n, const struct peer *p);

/*
 * May a jitctl verb be served: JIT_OK, JIT_E_PEER over a forwarded
 * connection (ssh -A: it signs, nothing more), JIT_E_AGENT_LOCKED while
 * the agent is locked with ssh-add -x (but status, and hello, which every
 * jitctl sends first).
 */
int policy_verb_allowed(const char *verb, bool forwarded, bool agent_locked);

#endif
