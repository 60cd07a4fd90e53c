/* Policy in one place: step-ups, names, and who may use what. */
#include <string.h>

#include "conn.h"
#include "err.h"
#include "fields.h"
#include "policy.h"
#include "proto-names.h"

static const char *const stepup_names[] = {
	[STEPUP_SESSION] = "session",
	[STEPUP_ALWAYS] = "always",
	[STEPUP_PIN] = "pin",
	[STEPUP_CONFIRM] = "confirm",
};

const char *
stepup_name(enum stepup s)
{
	return stepup_names[s];
}

int
stepup_parse(const char *s, enum stepup *ret)
{
	size_t i;

	for (i = 0; i < sizeof(stepup_names) / sizeof(stepup_names[0]); i++) {
		if (strcmp(s, stepup_names[i]) == 0) {
			*ret = (enum stepup)i;
			return JIT_OK;
		}
	}
	return JIT_E_ARG;
}

bool
policy_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > POLICY_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	return fields_valid_name((const uint8_t *)name, n);
}

bool
policy_exe_allowed(const char *const *allowed, size_t n, const struct peer *p)
{
	size_t i;

	if (n == 0)
		return true;
	/* Resolved from /proc/PID/exe at accept; an unknown one never is. */
	if (!peer_exe_known(p))
		return false;
	for (i = 0; i < n; i++)
		if (strcmp(allowed[i], p->exe) == 0)
			return true;
	return false;
}

int
policy_verb_allowed(const char *verb, bool forwarded, bool agent_locked)
{
	if (forwarded)
		return JIT_E_PEER;
	if (agent_locked && strcmp(verb, JP_VERB_STATUS) != 0 &&
	    strcmp(verb, JP_VERB_HELLO) != 0)
		return JIT_E_AGENT_LOCKED;
	return JIT_OK;
}
