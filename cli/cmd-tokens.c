/* jitctl tokens: the enrolled tokens, as a table or as the agent's JSON. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "jitctl.h"
#include "prompt.h"
#include "proto-names.h"

static const char tokens_help[] =
    "usage: jitctl tokens [--json | --verbose]\n"
    "       jitctl tokens --export [LABEL]\n"
    "       jitctl tokens --verify [--token LABEL] [--pin-fd N]\n"
    "\n"
    "List the enrolled tokens: label, type, device, whether user\n"
    "verification (PIN) is on, when it was enrolled.  Simulated tokens\n"
    "are marked SIMULATED: they are for tests and demos, never security.\n"
    "\n"
    "The set of enrolled tokens is sealed by the tokens themselves: after\n"
    "a start the agent wraps nothing until one of them has vouched for\n"
    "the set (any unlock does, or --verify with one touch or PIN), and a\n"
    "token added or edited on disk is named and never receives a wrap.\n"
    "\n"
    "  -j, --json          the agent's answer as JSON\n"
    "  -V, --verbose       also each token's recipient and what its\n"
    "                      attestation proves (vendor, model, serial)\n"
    "  -e, --export        print the recipients (all, or LABEL's), one\n"
    "                      line each, for 'jitctl seal --to' elsewhere\n"
    "  -v, --verify        have a token vouch for the set now\n"
    "  -t, --token LABEL   with --verify: this token\n"
    "  -p, --pin-fd N      with --verify (or --export, which verifies\n"
    "                      first): read the PIN from descriptor N\n"
    "  -h, --help          this text\n";

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
		cli_time(cli_jint(t, JP_TOKEN_CREATED, 0), when, sizeof(when));
		row[0] = cli_jstr(t, JP_TOKEN_LABEL);
		row[1] = cli_jstr(t, JP_TOKEN_TYPE);
		row[2] = cli_jstr(t, JP_TOKEN_DEVICE);
		row[3] = cli_jbool(t, JP_TOKEN_UV) ? "yes" : "no";
		row[4] = when;
		row[5] = cli_jbool(t, JP_TOKEN_SIMULATED) ? "SIMULATED" : "";
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

/* One line on the set, unless all is well. */
static void
tokens_print_set(struct json_object *set, FILE *f)
{
	const char *state = cli_jstr(set, JP_SET_STATE),
		   *why = cli_jstr(set, JP_SET_WHY);
	char safe[600];

	if (state == NULL || strcmp(state, "verified") == 0 ||
	    strcmp(state, "empty") == 0)
		return;
	if (strcmp(state, "unverified") == 0) {
		fprintf(f,
		    "\nnot verified since the agent started: nothing is wrapped to these tokens until one vouches for them ('jitctl tokens --verify', or any unlock)\n");
		return;
	}
	cli_sanitize(why, safe, sizeof(safe));
	fprintf(f, "\nTHE ENROLLED TOKENS DO NOT VERIFY: %s\n", safe);
}

static bool
set_verified(void)
{
	struct client_reply rep = { .retries = -1 };
	struct json_object *set;
	const char *state = NULL;
	bool ok;

	if (cli_request(JP_VERB_TOKENS, NULL, NULL, &rep) == 0 &&
	    json_object_object_get_ex(rep.result, JP_RES_TOKENS_SET, &set))
		state = cli_jstr(set, JP_SET_STATE);
	ok = state != NULL && strcmp(state, "verified") == 0;
	client_reply_reset(&rep);
	return ok;
}

int
tokens_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verify", no_argument, NULL, 'v' },
		{ "verbose", no_argument, NULL, 'V' },
		{ "export", no_argument, NULL, 'e' },
		{ "token", required_argument, NULL, 't' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_reply rep = { .retries = -1 };
	struct stepup_opts so = { .pin_fd = -1 };
	struct json_object *set;
	bool json = false, verify = false, verbose = false, export = false;
	int c, r, ex;

	while ((c = cli_getopt(argc, argv, ":jvVet:p:h", opts)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'v': verify = true; break;
		case 'V': verbose = true; break;
		case 'e': export = true; break;
		case 't': so.token = optarg; break;
		case 'p':
			if (cli_pin_fd("--pin-fd", optarg, &so.pin_fd) != 0)
				return JITCTL_EXIT_USAGE;
			break;
		case 'h': return cli_help(tokens_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (optind < argc && !(export && optind + 1 == argc))
		return cli_usage_error(
		    "unexpected argument '%s'", argv[optind]);
	if (!verify && !export && (so.token != NULL || so.pin_fd >= 0))
		return cli_usage_error(
		    "--token and --pin-fd go with --verify or --export");
	if (verify)
		return stepup_verify_tokens(&so);
	/* Export only what a token of the set vouched for: a recipient
	 * planted in tokens.json would get an admin's credentials. */
	if (export && !set_verified() &&
	    (ex = stepup_verify_tokens(&so)) != JITCTL_EXIT_OK)
		return ex;
	if ((r = cli_request(JP_VERB_TOKENS, NULL, NULL, &rep)) != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	if (export) {
		ex = tokens_export(cli_jarray(rep.result, JP_RES_TOKENS_TOKENS),
		    optind < argc ? argv[optind] : NULL);
		goto out;
	}
	if (json)
		r = cli_print_json(rep.result);
	else if ((r = tokens_print_table(
		      cli_jarray(rep.result, JP_RES_TOKENS_TOKENS), stdout)) ==
		0 &&
	    json_object_object_get_ex(rep.result, JP_RES_TOKENS_SET, &set))
		tokens_print_set(set, stdout);
	if (r == 0 && verbose)
		r = tokens_print_verbose(
		    cli_jarray(rep.result, JP_RES_TOKENS_TOKENS), stdout);
	ex = r == 0 ? JITCTL_EXIT_OK : cli_fail_code(r, "cannot print");
out:
	client_reply_reset(&rep);
	return ex;
}
