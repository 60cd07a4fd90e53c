/* jitctl import: add a credential sealed with 'jitctl seal' to the store. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fsutil.h"
#include "jitctl.h"
#include "jsonx.h"
#include "proto-names.h"

#define SEALED_FILE_MAX (256 * 1024) /* what one request can carry */

static const char import_help[] =
    "usage: jitctl import FILE [--replace] [--token LABEL] [--pin-fd N]\n"
    "\n"
    "Add a credential sealed to your token with 'jitctl seal' (by an admin\n"
    "or an issuer, on another machine).  The agent opens it once with your\n"
    "token (a touch, or the PIN) to check that it is genuine, keeps nothing\n"
    "open, and stores it as it is.  A file whose header was edited, whose\n"
    "recipient was swapped, that is sealed to someone else or cut short is\n"
    "refused, and nothing is added.\n"
    "\n"
    "  -r, --replace       overwrite a credential of the same name\n"
    "  -t, --token LABEL   the token to open it with\n"
    "  -p, --pin-fd N      read that token's PIN from descriptor N\n"
    "  -h, --help          this text\n";

/* The labels of the enrolled tokens the file is wrapped to. */
static int
labels_for(struct json_object *file, struct json_object *tokens,
    struct json_object *labels)
{
	struct json_object *wraps, *t;
	const char *id;
	size_t i;
	int r;

	if (!json_object_object_get_ex(file, "wraps", &wraps) ||
	    !json_object_is_type(wraps, json_type_array))
		return JIT_OK; /* the agent says what is wrong */
	for (i = 0; i < json_object_array_length(wraps); i++) {
		id = cli_jstr(json_object_array_get_idx(wraps, i), "token");
		if (id == NULL ||
		    (t = cli_jfind(tokens, JP_TOKEN_ID, id)) == NULL)
			continue;
		if ((r = cli_jappend(labels, cli_jstr(t, JP_TOKEN_LABEL))) != 0)
			return r;
	}
	return JIT_OK;
}

int
import_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "replace", no_argument, NULL, 'r' },
		{ "token", required_argument, NULL, 't' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_reply toks = { .retries = -1 }, rep = { .retries = -1 };
	struct json_object *file = NULL, *args = NULL, *labels = NULL;
	struct stepup_opts so = { .pin_fd = -1 };
	const char *path;
	char *text = NULL, until[64], purpose[128], list[512], by[160];
	size_t len;
	bool replace = false;
	int c, r, ex;

	while ((c = cli_getopt(argc, argv, ":rt:p:h", opts)) != -1) {
		switch (c) {
		case 'r': replace = true; break;
		case 't': so.token = optarg; break;
		case 'p':
			if (cli_pin_fd("--pin-fd", optarg, &so.pin_fd) != 0)
				return JITCTL_EXIT_USAGE;
			break;
		case 'h': return cli_help(import_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("expected one sealed file");
	path = argv[optind];
	if ((r = fs_read_file(path, SEALED_FILE_MAX, &text, &len)) != 0) {
		ex = cli_fail_code(r, "cannot read %s", path);
		goto out;
	}
	if (jsonx_parse(text, len, &file) != 0) {
		cli_err(
		    "%s is not a sealed credential: it is cut short or not JSON; nothing was imported",
		    path);
		ex = JITCTL_EXIT_FAIL;
		goto out;
	}
	if ((r = stepup_tokens(&toks)) != 0) {
		ex = cli_fail(r, &toks);
		goto out;
	}
	if ((args = json_object_new_object()) == NULL ||
	    (labels = json_object_new_array()) == NULL ||
	    json_object_object_add(
		args, JP_ARG_IMPORT_FILE, json_object_get(file)) != 0 ||
	    (replace &&
		jsonx_add_bool(args, JP_ARG_IMPORT_REPLACE, true) != 0) ||
	    (so.token != NULL &&
		jsonx_add_str(args, JP_ARG_IMPORT_TOKEN, so.token) != 0) ||
	    labels_for(file, cli_jarray(toks.result, JP_RES_TOKENS_TOKENS),
		labels) != 0) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	cli_sanitize(cli_jstr(file, "name") ? cli_jstr(file, "name") : "it",
	    list, sizeof(list));
	snprintf(purpose, sizeof(purpose), "to import %.64s", list);
	so.purpose = purpose;
	if ((r = stepup_request(JP_VERB_IMPORT, args,
		 cli_jarray(toks.result, JP_RES_TOKENS_TOKENS), labels, &so,
		 &rep)) != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	cli_time(cli_jint(rep.result, JP_RES_IMPORT_NOT_AFTER, 0), until,
	    sizeof(until));
	cli_jjoin(cli_jarray(rep.result, JP_RES_IMPORT_TOKENS), ", ", list,
	    sizeof(list));
	cli_sanitize(
	    cli_jstr(rep.result, JP_RES_IMPORT_SEALED_BY), by, sizeof(by));
	cli_note("imported %s, sealed by %s, valid until %s, wrapped to %s",
	    cli_jstr(rep.result, JP_RES_IMPORT_NAME), by, until, list);
	ex = JITCTL_EXIT_OK;
out:
	free(text);
	json_object_put(file);
	json_object_put(args);
	json_object_put(labels);
	client_reply_reset(&toks);
	client_reply_reset(&rep);
	return ex;
}
