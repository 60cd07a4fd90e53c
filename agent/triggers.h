/* The kill switches: which are armed, and why the others are off. */
#ifndef JIT_TRIGGERS_H
#define JIT_TRIGGERS_H

#include <stdbool.h>

#include <json-c/json.h>

struct agent;

#define TRIGGERS_MAX 16
#define TRIGGER_NAME_MAX 32
#define TRIGGER_DETAIL_MAX 160

/*
 * Every trigger ends in agent_lock() (lock.c); this file only keeps the
 * list that `jitctl status` shows.  A trigger's module notes whether it is
 * armed and a word on how ("logind on the system bus") or why not ("no
 * system bus: DBUS_SYSTEM_BUS_ADDRESS ...").  Noting a name again
 * replaces its entry.
 */
void triggers_note(struct agent *ag, const char *name, bool armed,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* [{"name":N,"armed":B,"detail":D}...], in the order first noted. */
struct json_object *triggers_json(const struct agent *ag);
bool triggers_armed(const struct agent *ag, const char *name);
void triggers_free(struct agent *ag);

#endif
