/* The failed[] list of an agent's answer (unlock, rewrap): one line per
 * credential, and the exit code of the first failure. */
#include <json-c/json.h>

#include "client.h"
#include "exit.h"
#include "jitctl.h"
#include "proto-names.h"

int
cli_report_failed(struct json_object *failed, cli_failed_say_fn say)
{
	struct json_object *e;
	const char *name, *msg;
	size_t i, n;
	int ex = JITCTL_EXIT_OK;

	n = failed == NULL ? 0 : json_object_array_length(failed);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(failed, i);
		if ((name = cli_jstr(e, JP_FAILED_NAME)) == NULL)
			name = "?";
		if ((msg = cli_jstr(e, JP_FAILED_MESSAGE)) == NULL)
			msg = "refused";
		say(name, msg);
		if (ex == JITCTL_EXIT_OK &&
		    (ex = jitctl_exit_code(client_err_code(
			 cli_jstr(e, JP_FAILED_CODE)))) == JITCTL_EXIT_OK)
			ex = JITCTL_EXIT_FAIL;
	}
	return ex;
}
