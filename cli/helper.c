/* What the credential helpers share: fields, times, and writing JSON safely. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "fields.h"
#include "isotime.h"
#include "jitctl.h"
#include "jsonx.h"
#include "prompt.h"
#include "proto-names.h"
#include "secret.h"
#include "sjson.h"
#include "wire.h"

/* NAME's status entry now, after the get: its window's end is known only
 * once it is unlocked (the get itself may have unlocked it). */
static struct json_object *
helper_status_now(const char *name)
{
	struct client_reply st = { .retries = -1 };
	struct json_object *args, *cred = NULL;

	if ((args = json_object_new_object()) == NULL ||
	    jsonx_add_str(args, JP_ARG_STATUS_NAME, name) != 0 ||
	    cli_request(JP_VERB_STATUS, args, NULL, &st) != 0)
		goto out;
	cred = cli_jfind(cli_jarray(st.result, JP_RES_STATUS_CREDENTIALS),
	    JP_CRED_NAME, name);
	if (cred != NULL)
		cred = json_object_get(cred);
out:
	json_object_put(args);
	client_reply_reset(&st);
	return cred;
}

int
helper_fields(const char *name, const char *tool, struct json_object **ret_cred,
    struct secret **ret_fields)
{
	struct json_object *now;
	int ex;

	/* get_fields reports a locked or expired credential with the
	 * agent's sentence ("run 'jitctl unlock NAME' first"). */
	if ((ex = get_fields(
		 name, NULL, "get", tool, -1, ret_cred, ret_fields)) != 0)
		return ex;
	if (cli_jint(*ret_cred, JP_CRED_UNTIL, 0) == 0 &&
	    (now = helper_status_now(name)) != NULL) {
		json_object_put(*ret_cred);
		*ret_cred = now;
	}
	return JITCTL_EXIT_OK;
}

bool
helper_field(
    const struct secret *fields, const char *const *names, struct field *ret)
{
	size_t i;

	for (i = 0; names[i] != NULL; i++)
		if (fields_get(fields, names[i], ret) == 0)
			return true;
	return false;
}

int
helper_lit(struct wire_writer *w, const char *s)
{
	return wire_put_bytes(w, s, strlen(s));
}

int
helper_member(struct wire_writer *w, bool comma, const char *key,
    const void *val, size_t len)
{
	int r;

	if ((comma && (r = wire_put_u8(w, ',')) != 0) ||
	    (r = sjson_put_string(w, key, strlen(key))) != 0 ||
	    (r = wire_put_u8(w, ':')) != 0)
		return r;
	return sjson_put_string(w, val, len);
}

int
helper_finish(struct wire_writer *w, const char *key, int64_t not_after,
    const char *closing)
{
	char exp[32];
	int r;

	if (not_after > 0) {
		isotime_format(not_after, true, exp, sizeof(exp));
		if ((r = helper_member(w, true, key, exp, strlen(exp))) != 0)
			return r;
	}
	if ((r = helper_lit(w, closing)) != 0)
		return r;
	return helper_flush(w);
}

int
helper_flush(struct wire_writer *w)
{
	int r;

	r = cli_write_all(
	    STDOUT_FILENO, wire_writer_data(w), wire_writer_len(w));
	wire_writer_reset(w);
	return r;
}

int
helper_read_stdin(size_t max, struct secret **ret)
{
	if (isatty(STDIN_FILENO)) {
		cli_err(
		    "a credential helper reads its request from a pipe, not a terminal: see jitctl(1)");
		return JIT_E_ARG;
	}
	return prompt_read_all(STDIN_FILENO, max, ret);
}

int64_t
helper_not_after(struct json_object *cred)
{
	int64_t not_after, until;

	if (cred == NULL)
		return 0;
	/* The earlier of the window's end and the credential's own expiry:
	 * a tool that caches what it was handed (boto3, client-go) comes
	 * back when the window ends, and a locked agent refuses it then. */
	not_after = cli_jint(cred, JP_CRED_NOT_AFTER, 0);
	until = cli_jint(cred, JP_CRED_UNTIL, 0);
	if (until > 0 && (not_after == 0 || until < not_after))
		return until;
	return not_after;
}
