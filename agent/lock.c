/* The one lock path: every trigger wipes what is unlocked the same way. */
#include "agent.h"
#include "events.h"
#include "hwq.h"
#include "revoke.h"
#include "store.h"
#include "vault.h"

static void
append(struct json_object *arr, const char *name)
{
	if (arr != NULL)
		json_object_array_add(arr, json_object_new_string(name));
}

size_t
agent_lock(struct agent *ag, const char *trigger, const char *revoke_why,
    const struct peer *p, struct json_object *locked,
    struct json_object *revoked)
{
	struct json_object *ev, *names, *gone;
	struct vault_slot *s;
	size_t i, n = 0, aborted, keys = 0;

	if (ag->vault == NULL)
		return 0;
	/* First what waits for a person: a touch given after the lock
	 * opens nothing (ext-open.c checks aborted_by). */
	aborted = hwq_abort_waits(ag->hwq, trigger);
	names = json_object_new_array();
	gone = json_object_new_array();
	/* Profiles with revoke_on_lock: the lock kills them upstream too. */
	if (revoke_why != NULL)
		revoke_lock_all(ag, revoke_why, p, gone);
	for (s = vault_first(ag->vault); s != NULL; s = s->next)
		append(names, s->cred->name);
	n = vault_wipe_all(ag->vault);
	/* Keys from ssh-add are covered too: since they sign without any
	 * token, a lock that left them would leave access open. */
	if (ag->lock_ssh_keys != NULL)
		keys = ag->lock_ssh_keys(ag, trigger);
	if ((ev = event_new("lock")) != NULL) {
		event_str(ev, "why", trigger);
		json_object_object_add(ev, "names", json_object_get(names));
		event_int(ev, "count", (int64_t)n);
		if (json_object_array_length(gone) > 0)
			json_object_object_add(
			    ev, "revoked", json_object_get(gone));
		if (keys > 0)
			event_int(ev, "ssh_keys", (int64_t)keys);
		if (aborted > 0)
			event_int(ev, "aborted", (int64_t)aborted);
		event_peer(ev, p);
	}
	/* A lock is never refused: it only takes away. */
	(void)event_emit_names(ag, ev, "names");
	for (i = 0; i < json_object_array_length(names); i++)
		append(locked,
		    json_object_get_string(
			json_object_array_get_idx(names, i)));
	for (i = 0; i < json_object_array_length(gone); i++)
		append(revoked,
		    json_object_get_string(json_object_array_get_idx(gone, i)));
	json_object_put(names);
	json_object_put(gone);
	return n;
}

size_t
agent_lock_shell(
    struct agent *ag, const char *trigger, pid_t pid, uint64_t start)
{
	struct json_object *ev, *names;
	struct vault_slot *s, *next;
	size_t n = 0;

	if (ag->vault == NULL)
		return 0;
	names = json_object_new_array();
	for (s = vault_first(ag->vault); s != NULL; s = next) {
		next = s->next;
		if (s->bound_pid != pid || s->bound_start != start)
			continue;
		append(names, s->cred->name);
		vault_wipe(ag->vault, s->cred);
		n++;
	}
	if ((ev = event_new("lock")) != NULL) {
		event_str(ev, "why", trigger);
		json_object_object_add(ev, "names", json_object_get(names));
		event_int(ev, "count", (int64_t)n);
		event_int(ev, "shell", (int64_t)pid);
	}
	(void)event_emit_names(ag, ev, "names");
	json_object_put(names);
	return n;
}
