/* Serving a credential's fields to a client: audited first, then counted. */
#include <string.h>

#include "conn.h"
#include "err.h"
#include "events.h"
#include "fields.h"
#include "jsonx.h"
#include "proto-names.h"
#include "reply.h"
#include "secret.h"
#include "serve.h"
#include "shell.h"
#include "store.h"
#include "vault.h"

int
ext_serve(struct agent *ag, struct conn *conn, const struct peer *p,
    struct cred *c, const struct secret *fields, const char *field,
    const char *purpose, const char *command, const char *token)
{
	struct fields_builder b;
	struct secret *one = NULL;
	struct json_object *res = NULL, *arr, *ev;
	struct field f;
	char why[256];
	int r;

	memset(&b, 0, sizeof(b));
	/* A jitctl shell's grant: its own process tree alone. */
	if (!shell_peer_allowed(c, p, why, sizeof(why))) {
		if ((ev = event_new("deny")) != NULL) {
			event_str(ev, "name", c->name);
			event_str(ev, "why", "outside its jitctl shell");
			event_peer(ev, p);
		}
		(void)event_emit(ag, ev);
		reply_ext_err(conn, JIT_E_DENIED, -1, "%s", why);
		return JIT_OK;
	}
	if (field != NULL) {
		if ((r = fields_get(fields, field, &f)) != 0) {
			reply_ext_err(
			    conn, r, -1, "%s has no field %s", c->name, field);
			return JIT_OK;
		}
		if ((r = fields_begin(&b)) != 0 ||
		    (r = fields_add(
			 &b, field, strlen(field), f.val, f.vallen)) != 0 ||
		    (r = fields_finish(&b, &one)) != 0)
			goto out;
	}
	if ((res = json_object_new_object()) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	(void)jsonx_add_str(res, JP_RES_GET_NAME, c->name);
	(void)jsonx_add_str(res, JP_RES_GET_KIND, c->kind);
	arr = json_object_new_array();
	for (size_t i = 0; i < c->nfields; i++)
		if (field == NULL || strcmp(field, c->field_names[i]) == 0)
			json_object_array_add(
			    arr, json_object_new_string(c->field_names[i]));
	json_object_object_add(res, JP_RES_GET_FIELDS, arr);
	if (c->slot != NULL)
		(void)jsonx_add_int(res, JP_RES_GET_UNTIL, c->slot->until_wall);
	/* Audited before it is served: nothing is served unaudited. */
	if ((ev = event_new("use")) != NULL) {
		event_str(ev, "name", c->name);
		event_str(ev, "purpose", purpose);
		event_str(ev, "command", command);
		event_str(ev, "field", field);
		event_str(ev, "token", token);
		event_peer(ev, p);
	}
	if ((r = event_emit(ag, ev)) != 0) {
		reply_audit_refused(ag, conn, r);
		r = JIT_OK;
		goto out;
	}
	if ((r = reply_ext_ok(conn, res, one != NULL ? one : fields)) != 0)
		goto out;
	vault_note_use(c, p);
out:
	fields_abort(&b);
	secret_free(one);
	json_object_put(res);
	return r;
}
