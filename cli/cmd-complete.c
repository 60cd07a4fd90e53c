/* jitctl complete: the words a shell completes, one a line. */
#include <stdio.h>
#include <string.h>

#include "jitctl.h"
#include "proto-names.h"

static const char complete_help[] =
    "usage: jitctl complete verbs|names|tokens\n"
    "\n"
    "Print jitctl's verbs, or the agent's credential or token names, one a\n"
    "line, for the bash and zsh completions.  Prints nothing if the agent\n"
    "does not answer.\n";

/* Each member key of the objects of arr, sanitized, one a line. */
static void
print_names(struct json_object *arr, const char *key)
{
	char name[256];
	size_t i, n = arr == NULL ? 0 : json_object_array_length(arr);

	for (i = 0; i < n; i++) {
		cli_sanitize(cli_jstr(json_object_array_get_idx(arr, i), key),
		    name, sizeof(name));
		if (name[0] != '\0' && strchr(name, ' ') == NULL)
			printf("%s\n", name);
	}
}

int
complete_main(int argc, char **argv)
{
	struct client_reply rep = { .retries = -1 };

	if (argc != 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)
		return argc == 2 ? cli_help(complete_help) :
				   cli_usage_error("verbs, names or tokens?");
	if (strcmp(argv[1], "verbs") == 0) {
		jitctl_print_verbs();
		return JITCTL_EXIT_OK;
	}
	if (strcmp(argv[1], "names") != 0 && strcmp(argv[1], "tokens") != 0)
		return cli_usage_error("verbs, names or tokens?");
	/* Quiet: a completion that fails prints no error into the line. */
	if (cli_request(JP_VERB_STATUS, NULL, NULL, &rep) == 0) {
		if (strcmp(argv[1], "names") == 0)
			print_names(
			    cli_jarray(rep.result, JP_RES_STATUS_CREDENTIALS),
			    JP_CRED_NAME);
		else
			print_names(
			    cli_jarray(rep.result, JP_RES_STATUS_TOKENS),
			    JP_TOKEN_LABEL);
	}
	client_reply_reset(&rep);
	return JITCTL_EXIT_OK;
}
