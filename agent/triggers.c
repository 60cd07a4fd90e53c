/* The kill switches: which are armed, and why the others are off. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "jsonx.h"
#include "proto-names.h"
#include "triggers.h"

struct trigger_entry {
	char name[TRIGGER_NAME_MAX];
	char detail[TRIGGER_DETAIL_MAX];
	bool armed;
};

struct triggers {
	struct trigger_entry e[TRIGGERS_MAX];
	size_t n;
};

static struct trigger_entry *
entry(struct agent *ag, const char *name)
{
	struct triggers *t;
	size_t i;

	if (ag->triggers == NULL &&
	    (ag->triggers = calloc(1, sizeof(*ag->triggers))) == NULL)
		return NULL;
	t = ag->triggers;
	for (i = 0; i < t->n; i++)
		if (strcmp(t->e[i].name, name) == 0)
			return &t->e[i];
	if (t->n == TRIGGERS_MAX)
		return NULL;
	snprintf(t->e[t->n].name, sizeof(t->e[0].name), "%s", name);
	return &t->e[t->n++];
}

void
triggers_note(
    struct agent *ag, const char *name, bool armed, const char *fmt, ...)
{
	struct trigger_entry *e;
	va_list ap;

	if ((e = entry(ag, name)) == NULL)
		return;
	e->armed = armed;
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
}

bool
triggers_armed(const struct agent *ag, const char *name)
{
	size_t i;

	if (ag->triggers == NULL)
		return false;
	for (i = 0; i < ag->triggers->n; i++)
		if (strcmp(ag->triggers->e[i].name, name) == 0)
			return ag->triggers->e[i].armed;
	return false;
}

struct json_object *
triggers_json(const struct agent *ag)
{
	struct json_object *arr, *o;
	size_t i;

	if ((arr = json_object_new_array()) == NULL || ag->triggers == NULL)
		return arr;
	for (i = 0; i < ag->triggers->n; i++) {
		if ((o = json_object_new_object()) == NULL)
			break;
		(void)jsonx_add_str(
		    o, JP_TRIGGER_NAME, ag->triggers->e[i].name);
		(void)jsonx_add_bool(
		    o, JP_TRIGGER_ARMED, ag->triggers->e[i].armed);
		(void)jsonx_add_str(
		    o, JP_TRIGGER_DETAIL, ag->triggers->e[i].detail);
		if (json_object_array_add(arr, o) != 0) {
			json_object_put(o);
			break;
		}
	}
	return arr;
}

void
triggers_free(struct agent *ag)
{
	free(ag->triggers);
	ag->triggers = NULL;
}
