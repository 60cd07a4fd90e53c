/* jitctl tokens: the enrolled tokens, as a table or as the agent's JSON. */
#include <getopt.h>
#include <stdio.h>

#include "err.h"
#include "jitctl.h"

static const char tokens_help[] =
    "usage: jitctl tokens [--json]\n"
    "\n"
    "List the enrolled tokens: label, type, device, whether user\n"
    "verification (PIN) is on, when it was enrolled.  Simulated tokens\n"
    "are marked SIMULATED: they are for tests and demos, never security.\n"
    "\n"
    "  -j, --json   the agent's answer as JSON\n"
    "  -h, --help   this text\n";

int
tokens_print_table(struct json_object *tokens, FILE *f)
{
	static const char *const head[] = {
		"LABEL",
		"TYPE",
		"DEVICE",
		"UV",
		"ENROLLED",
		"",
	};
	struct json_object *t;
	struct table *tb = NULL;
	const char *row[6];
	char when[64];
	size_t i, n;
	int r;

	if ((r = table_new(6, &tb)) != 0 || (r = table_add(tb, head)) != 0)
		goto out;
	n = tokens == NULL ? 0 : json_object_array_length(tokens);
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(tokens, i);
		cli_time(cli_jint(t, "created", 0), when, sizeof(when));
		row[0] = cli_jstr(t, "label");
		row[1] = cli_jstr(t, "type");
		row[2] = cli_jstr(t, "device");
		row[3] = cli_jbool(t, "uv") ? "yes" : "no";
		row[4] = when;
		row[5] = cli_jbool(t, "simulated") ? "SIMULATED" : "";
		if ((r = table_add(tb, row)) != 0)
			goto out;
	}
	if (n == 0)
		fprintf(f, "no token is enrolled: run 'jitctl enroll'\n");
	else
		table_print(tb, f);
	r = JIT_OK;
out:
	table_free(tb);
	return r;
}

int
tokens_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_reply rep = { .retries = -1 };
	bool json = false;
	int c, r, ex;

	while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h': return cli_help(tokens_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(
		    "unexpected argument '%s'", argv[optind]);
	if ((r = cli_request("tokens", NULL, NULL, &rep)) != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	if (json)
		r = cli_print_json(rep.result);
	else
		r = tokens_print_table(
		    cli_jarray(rep.result, "tokens"), stdout);
	ex = r == 0 ? JITCTL_EXIT_OK : cli_fail_code(r, "cannot print");
out:
	client_reply_reset(&rep);
	return ex;
}
