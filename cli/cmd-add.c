/* jitctl add: store a credential read from stdin, wrapped to every token. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "duration.h"
#include "err.h"
#include "fields.h"
#include "jitctl.h"
#include "jsonx.h"
#include "prompt.h"
#include "proto-names.h"
#include "secret.h"
#include "sjson.h"
#include "wire.h"

static const char add_help[] =
    "usage: jitctl add NAME --ttl DURATION [--json] [--kind KIND]\n"
    "                  [--stepup MODE] [--replace] [--unlock-on-use]\n"
    "                  [--pin-fd N]\n"
    "\n"
    "Store a credential.  The secret is read from stdin (asked for with\n"
    "echo off when stdin is a terminal), never from the command line.\n"
    "It is wrapped to every enrolled token at once: no touch is needed.\n"
    "\n"
    "  -t, --ttl DURATION  how long it is valid from now (90s, 15m, 2h, 1d)\n"
    "  -j, --json          stdin is a JSON object of NAME: VALUE fields\n"
    "                      (e.g. {\"PGUSER\": \"u\", \"PGPASSWORD\": \"p\"})\n"
    "  -k, --kind KIND     secret (one field) or env (fields are\n"
    "                      environment variables for 'jitctl exec'),\n"
    "                      or ssh-cert, aws, kube, docker, git (what\n"
    "                      the helpers expect); default: secret, or env\n"
    "                      with --json\n"
    "  -S, --stepup MODE   session (default), always, pin or confirm\n"
    "  -r, --replace       overwrite a credential of the same name\n"
    "  -U, --unlock-on-use a tool that asks for it while it is locked\n"
    "                      (a credential helper, or ssh for an ssh-cert,\n"
    "                      which is then listed while locked) starts the\n"
    "                      unlock: the agent waits for a touch or asks\n"
    "                      the PIN, saying so through the notify command\n"
    "                      or askpass, instead of refusing\n"
    "  -p, --pin-fd N      the PIN of the token that verifies the enrolled\n"
    "                      tokens, if the agent asks (the first add or\n"
    "                      request since it started, with nothing unlocked)\n"
    "  -h, --help          this text\n"
    "\n"
    "Without --json the secret is one field named \"secret\"; one trailing\n"
    "newline is dropped.\n";

bool
add_kind_ok(const char *s)
{
	static const char *const kinds[] = { "secret", "env", "ssh-cert", "aws",
		"kube", "docker", "git" };
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(s, kinds[i]) == 0)
			return true;
	return false;
}

bool
add_stepup_ok(const char *s)
{
	return strcmp(s, "session") == 0 || strcmp(s, "always") == 0 ||
	    strcmp(s, "pin") == 0 || strcmp(s, "confirm") == 0;
}

/* stdin, or the terminal; *ret holds exactly what the person gave. */
int
add_read_input(const char *name, bool json, struct secret **ret)
{
	char prompt[128], safe[80];
	struct secret *s = NULL;
	struct wire_reader in;
	int r;

	if (isatty(STDIN_FILENO)) {
		if (json) {
			cli_err(
			    "refusing to read JSON from a terminal: pipe it in (jitctl add %s --json < FILE)",
			    name);
			return JIT_E_ARG;
		}
		cli_sanitize(name, safe, sizeof(safe));
		snprintf(prompt, sizeof(prompt), "Secret for %s: ", safe);
		if ((r = prompt_tty(prompt, FIELD_VALUE_MAX, &s)) != 0)
			goto fail;
	} else {
		if ((r = prompt_read_all(STDIN_FILENO,
			 json ? FIELDS_TOTAL_MAX : FIELD_VALUE_MAX, &s)) != 0)
			goto fail;
		/* Drop the one newline that echo or a here-string adds. */
		wire_reader_init(&in, secret_ptr(s), secret_len(s));
		if (!json && wire_trim_end(&in, "\n", 1) == 1)
			secret_shrink(s, wire_left(&in));
	}
	*ret = s;
	return JIT_OK;
fail:
	if (r == JIT_E_LIMIT)
		cli_err("the input is longer than %u bytes",
		    json ? FIELDS_TOTAL_MAX : FIELD_VALUE_MAX);
	else
		cli_err("cannot read the secret: %s", jit_strerror(r));
	return r;
}

static const char *
json_error(int r)
{
	switch (r) {
	case JIT_E_LIMIT: return "too many fields, or nested too deep";
	case JIT_E_EXISTS: return "a field name repeats";
	default:
		return "names are [A-Za-z0-9_.-] (nested objects become dotted names), values are strings, numbers or booleans without NUL, and arrays are refused";
	}
}

/* Wrap the input as a fields encoding; messages never quote a value. */
int
add_to_fields(const struct secret *in, bool json, struct secret **ret)
{
	struct fields_builder b;
	int r;

	if (json) {
		if ((r = sjson_to_fields(in, ret)) != 0)
			cli_err("stdin is not a JSON object of fields: %s",
			    json_error(r));
		return r;
	}
	if (secret_len(in) == 0) {
		cli_err("the secret is empty");
		return JIT_E_ARG;
	}
	if (memchr(secret_ptr(in), '\0', secret_len(in)) != NULL) {
		cli_err("the secret contains a NUL byte");
		return JIT_E_FORMAT;
	}
	if ((r = fields_begin(&b)) != 0 ||
	    (r = fields_add(&b, FIELD_DEFAULT, strlen(FIELD_DEFAULT),
		 secret_ptr(in), secret_len(in))) != 0) {
		fields_abort(&b);
		cli_err("cannot encode the secret: %s", jit_strerror(r));
		return r;
	}
	if ((r = fields_finish(&b, ret)) != 0)
		cli_err("cannot encode the secret: %s", jit_strerror(r));
	return r;
}

int
add_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ttl", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "kind", required_argument, NULL, 'k' },
		{ "stepup", required_argument, NULL, 'S' },
		{ "replace", no_argument, NULL, 'r' },
		{ "unlock-on-use", no_argument, NULL, 'U' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_reply rep = { .retries = -1 };
	struct json_object *args = NULL;
	struct secret *in = NULL, *fields = NULL;
	const char *name, *ttl_arg = NULL, *kind = NULL, *stepup = NULL;
	char until[64], list[512];
	bool json = false, replace = false, on_use = false;
	struct stepup_opts so = { .pin_fd = -1 };
	int64_t ttl;
	int c, r, ex;

	while ((c = cli_getopt(argc, argv, ":t:jk:S:rUp:h", opts)) != -1) {
		switch (c) {
		case 't': ttl_arg = optarg; break;
		case 'j': json = true; break;
		case 'k': kind = optarg; break;
		case 'S': stepup = optarg; break;
		case 'r': replace = true; break;
		case 'U': on_use = true; break;
		case 'p':
			if (cli_pin_fd("--pin-fd", optarg, &so.pin_fd) != 0)
				return JITCTL_EXIT_USAGE;
			break;
		case 'h': return cli_help(add_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("expected one credential name");
	name = argv[optind];
	if (ttl_arg == NULL)
		return cli_usage_error(
		    "--ttl is required: how long the credential stays valid (e.g. --ttl 8h)");
	if (duration_parse(ttl_arg, &ttl) != 0)
		return cli_usage_error(
		    "bad --ttl '%s': use 90s, 15m, 2h, 1d or 1h30m", ttl_arg);
	if (stepup != NULL && !add_stepup_ok(stepup))
		return cli_usage_error(
		    "bad --stepup '%s': session, always, pin or confirm",
		    stepup);
	if (kind != NULL && !add_kind_ok(kind))
		return cli_usage_error(
		    "bad --kind '%s': secret, env, ssh-cert, aws, kube, docker or git",
		    kind);

	/* The agent checked and this process sealed before the secret. */
	if ((r = cli_connect(&rep)) != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	if ((r = add_read_input(name, json, &in)) != 0) {
		ex = r == JIT_E_ARG ? JITCTL_EXIT_USAGE : JITCTL_EXIT_FAIL;
		goto out;
	}
	if ((r = add_to_fields(in, json, &fields)) != 0) {
		ex = JITCTL_EXIT_FAIL;
		goto out;
	}
	secret_free(in);
	in = NULL;
	if (kind == NULL)
		kind = json ? "env" : "secret";
	if ((args = json_object_new_object()) == NULL ||
	    jsonx_add_str(args, JP_ARG_ADD_NAME, name) != 0 ||
	    jsonx_add_int(args, JP_ARG_ADD_TTL, ttl) != 0 ||
	    (kind != NULL && jsonx_add_str(args, JP_ARG_ADD_KIND, kind) != 0) ||
	    (stepup != NULL &&
		jsonx_add_str(args, JP_ARG_ADD_STEPUP, stepup) != 0) ||
	    (replace && jsonx_add_bool(args, JP_ARG_ADD_REPLACE, true) != 0) ||
	    (on_use &&
		jsonx_add_bool(args, JP_ARG_ADD_UNLOCK_ON_USE, true) != 0)) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	r = cli_request(JP_VERB_ADD, args, fields, &rep);
	/* The first wrap since the agent started: a token vouches first. */
	if (r == JIT_E_UNVERIFIED) {
		if ((ex = stepup_verify_tokens(&so)) != JITCTL_EXIT_OK)
			goto out;
		r = cli_request(JP_VERB_ADD, args, fields, &rep);
	}
	if (r != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	cli_time(cli_jint(rep.result, JP_RES_ADD_NOT_AFTER, 0), until,
	    sizeof(until));
	cli_jjoin(cli_jarray(rep.result, JP_RES_ADD_TOKENS), ", ", list,
	    sizeof(list));
	cli_note("added %s, valid until %s, wrapped to %s", name, until,
	    list[0] != '\0' ? list : "no token");
	ex = JITCTL_EXIT_OK;
out:
	json_object_put(args);
	secret_free(in);
	secret_free(fields);
	client_reply_reset(&rep);
	return ex;
}
