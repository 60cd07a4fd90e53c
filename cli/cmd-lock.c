/* jitctl lock: wipe unlocked credentials from the agent's memory now. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "jitctl.h"
#include "proto-names.h"

static const char lock_help[] =
    "usage: jitctl lock [--all | NAME...]\n"
    "\n"
    "Wipe the named credentials from the agent's memory now, or every\n"
    "unlocked credential when no name is given (the kill switch).  They\n"
    "stay on disk, wrapped: 'jitctl unlock' opens them again.\n"
    "\n"
    "  -a, --all    every credential (the default)\n"
    "  -h, --help   this text\n";

int
lock_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_reply rep = { .retries = -1 };
	struct json_object *args = NULL, *names;
	char list[1024], gone[1024];
	bool all = false;
	int c, i, r, ex;

	while ((c = cli_getopt(argc, argv, ":ah", opts)) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'h': return cli_help(lock_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (all && optind < argc)
		return cli_usage_error("--all takes no names");
	if ((args = json_object_new_object()) == NULL ||
	    (names = json_object_new_array()) == NULL ||
	    json_object_object_add(args, JP_ARG_LOCK_NAMES, names) != 0) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	for (i = optind; i < argc; i++) {
		if ((r = cli_jappend(names, argv[i])) != 0) {
			ex = cli_fail_code(r, NULL);
			goto out;
		}
	}
	if ((r = cli_request(JP_VERB_LOCK, args, NULL, &rep)) != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	cli_jjoin(cli_jarray(rep.result, JP_RES_LOCK_LOCKED), ", ", list,
	    sizeof(list));
	cli_jjoin(cli_jarray(rep.result, JP_RES_LOCK_REVOKED), ", ", gone,
	    sizeof(gone));
	if (list[0] == '\0' && gone[0] == '\0')
		cli_note("nothing was unlocked");
	else if (list[0] != '\0')
		cli_note("locked %s", list);
	/* Profiles with revoke_on_lock: those die upstream too. */
	if (gone[0] != '\0')
		cli_note("revoked %s (revoke_on_lock)", gone);
	ex = JITCTL_EXIT_OK;
out:
	json_object_put(args);
	client_reply_reset(&rep);
	return ex;
}
