/* jitctl get: print an unlocked credential's value, for scripts. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fields.h"
#include "jitctl.h"
#include "jsonx.h"
#include "prompt.h"
#include "proto-names.h"
#include "secret.h"
#include "sjson.h"
#include "wire.h"

static const char get_help[] =
    "usage: jitctl get NAME [--field FIELD] [--format shell|json|env] [--force] [--pin-fd N]\n"
    "\n"
    "Print an unlocked credential on stdout: the value of FIELD, of the\n"
    "only field, or NAME=VALUE lines when there are several.  Refuses\n"
    "when stdout is a terminal unless --force; then a newline is added.\n"
    "\n"
    "  -F, --field FIELD  only this field\n"
    "  -o, --format FMT   shell: export NAME='VALUE' lines, safe to eval;\n"
    "                     json: one object {\"NAME\": \"VALUE\"...};\n"
    "                     env: NAME=VALUE lines, as they are\n"
    "      --force        print even to a terminal\n"
    "  -p, --pin-fd N     the PIN, for a credential whose step-up asks\n"
    "                     for the token on every use\n"
    "  -h, --help         this text\n";

enum {
	OPT_FORCE = 256,
};

enum get_format {
	FMT_PLAIN,
	FMT_SHELL,
	FMT_JSON,
	FMT_ENV,
};

#define GET_OUT_MAX (1024 * 1024)

/* Step-ups that unwrap again with the token on every use. */
static bool
needs_token(const char *stepup)
{
	return stepup != NULL &&
	    (strcmp(stepup, "always") == 0 || strcmp(stepup, "pin") == 0);
}

int
get_fields(const char *name, const char *field, const char *purpose,
    const char *command, int pin_fd, struct json_object **ret_cred,
    struct secret **ret_fields)
{
	struct client_reply st = { .retries = -1 }, rep = { .retries = -1 };
	struct json_object *args = NULL, *sargs = NULL, *cred = NULL;
	struct stepup_opts so = { .pin_fd = pin_fd };
	const char *stepup = NULL, *state;
	int r, ex;

	*ret_cred = NULL;
	*ret_fields = NULL;
	if ((args = json_object_new_object()) == NULL ||
	    jsonx_add_str(args, JP_ARG_GET_NAME, name) != 0 ||
	    (field != NULL &&
		jsonx_add_str(args, JP_ARG_GET_FIELD, field) != 0) ||
	    jsonx_add_str(args, JP_ARG_GET_PURPOSE, purpose) != 0 ||
	    (command != NULL &&
		jsonx_add_str(args, JP_ARG_GET_COMMAND, command))) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	/* The credential's step-up says whether a token must answer now. */
	if ((sargs = json_object_new_object()) == NULL ||
	    jsonx_add_str(sargs, JP_ARG_STATUS_NAME, name) != 0) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	if ((r = cli_request(JP_VERB_STATUS, sargs, NULL, &st)) != 0 &&
	    r == JIT_E_AGENT) {
		ex = cli_fail(r, &st);
		goto out;
	}
	cred = cli_jfind(cli_jarray(st.result, JP_RES_STATUS_CREDENTIALS),
	    JP_CRED_NAME, name);
	if (cred != NULL)
		stepup = cli_jstr(cred, JP_CRED_STEPUP);
	/* Locked or expired: the agent says so before any token is asked. */
	if (cred != NULL && (state = cli_jstr(cred, JP_CRED_STATE)) != NULL &&
	    strcmp(state, "unlocked") != 0)
		r = cli_request(JP_VERB_GET, args, NULL, &rep);
	else if (pin_fd >= 0 || needs_token(stepup)) {
		so.need_pin = stepup != NULL && strcmp(stepup, "pin") == 0;
		r = stepup_request(JP_VERB_GET, args,
		    cli_jarray(st.result, JP_RES_STATUS_TOKENS),
		    cli_jarray(cred, JP_CRED_TOKENS), &so, &rep);
	} else
		r = cli_request(JP_VERB_GET, args, NULL, &rep);
	if (r != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	cli_close_line();
	if (rep.secret == NULL || fields_validate(rep.secret, NULL) != 0) {
		cli_err("the agent's reply holds no valid fields");
		ex = JITCTL_EXIT_FAIL;
		goto out;
	}
	*ret_fields = rep.secret;
	rep.secret = NULL;
	*ret_cred = cred == NULL ? NULL : json_object_get(cred);
	ex = JITCTL_EXIT_OK;
out:
	json_object_put(args);
	json_object_put(sargs);
	client_reply_reset(&st);
	client_reply_reset(&rep);
	return ex;
}

static int
put_field(const struct field *f, bool with_name, bool newline)
{
	int r;

	if (with_name &&
	    ((r = cli_write_all(STDOUT_FILENO, f->name, f->namelen)) != 0 ||
		(r = cli_write_all(STDOUT_FILENO, "=", 1)) != 0))
		return r;
	if ((r = cli_write_all(STDOUT_FILENO, f->val, f->vallen)) != 0)
		return r;
	return newline ? cli_write_all(STDOUT_FILENO, "\n", 1) : JIT_OK;
}

/* One field as FMT wants it, into guarded memory. */
static int
put_formatted(struct wire_writer *w, enum get_format fmt, const struct field *f,
    bool first)
{
	size_t i, run;
	int r;

	switch (fmt) {
	case FMT_SHELL:
		/* 'VALUE' with each ' as '\'': nothing in it is expanded. */
		if ((r = wire_put_bytes(w, "export ", 7)) != 0 ||
		    (r = wire_put_bytes(w, f->name, f->namelen)) != 0 ||
		    (r = wire_put_bytes(w, "='", 2)) != 0)
			return r;
		for (i = 0; i < f->vallen; i = run + 1) {
			for (run = i; run < f->vallen && f->val[run] != '\'';
			     run++)
				;
			if ((r = wire_put_bytes(w, f->val + i, run - i)) != 0)
				return r;
			if (run < f->vallen &&
			    (r = wire_put_bytes(w, "'\\''", 4)) != 0)
				return r;
		}
		return wire_put_bytes(w, "'\n", 2);
	case FMT_JSON:
		if ((r = wire_put_bytes(w, first ? "{" : ",", 1)) != 0 ||
		    (r = sjson_put_string(w, f->name, f->namelen)) != 0 ||
		    (r = wire_put_u8(w, ':')) != 0)
			return r;
		return sjson_put_string(w, f->val, f->vallen);
	default:
		if ((r = wire_put_bytes(w, f->name, f->namelen)) != 0 ||
		    (r = wire_put_u8(w, '=')) != 0 ||
		    (r = wire_put_bytes(w, f->val, f->vallen)) != 0)
			return r;
		return wire_put_u8(w, '\n');
	}
}

/* Every field (or only FIELD) as FMT wants it; reported on failure. */
static int
print_formatted(const char *name, const struct secret *fields,
    const char *field, enum get_format fmt)
{
	struct wire_writer w;
	struct fields_iter it;
	struct field f;
	bool first = true;
	int r;

	wire_writer_init(&w, GET_OUT_MAX, true);
	if ((r = fields_iter_init(&it, fields)) != 0)
		goto out;
	while ((r = fields_next(&it, &f)) == 1) {
		if (field != NULL &&
		    (f.namelen != strlen(field) ||
			memcmp(f.name, field, f.namelen) != 0))
			continue;
		if (fmt == FMT_SHELL && !cli_env_name_ok(f.name, f.namelen)) {
			char safe[FIELD_NAME_MAX + 1];

			snprintf(safe, sizeof(safe), "%.*s", (int)f.namelen,
			    (const char *)f.name);
			cli_err(
			    "%s: field '%s' is not a shell variable name ([A-Za-z_][A-Za-z0-9_]*): use --format json",
			    name, safe);
			r = JIT_E_ARG;
			goto out;
		}
		if ((r = put_formatted(&w, fmt, &f, first)) != 0)
			goto out;
		first = false;
	}
	if (r != 0)
		goto out;
	if (fmt == FMT_JSON &&
	    (r = wire_put_bytes(&w, first ? "{}\n" : "}\n", first ? 3 : 2)) !=
		0)
		goto out;
	r = cli_write_all(
	    STDOUT_FILENO, wire_writer_data(&w), wire_writer_len(&w));
	if (r != 0)
		cli_err("cannot write to stdout");
out:
	if (r != 0 && r != JIT_E_ARG && r != JIT_E_IO)
		cli_err("cannot format %s: %s", name, jit_strerror(r));
	wire_writer_reset(&w);
	return r;
}

int
get_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "field", required_argument, NULL, 'F' },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "format", required_argument, NULL, 'o' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *cred = NULL;
	struct secret *fields = NULL;
	struct fields_iter it;
	struct field f;
	const char *field = NULL;
	enum get_format fmt = FMT_PLAIN;
	bool force = false, tty;
	uint32_t count;
	int c, r, ex, pin_fd = -1;

	while ((c = cli_getopt(argc, argv, ":F:o:p:h", opts)) != -1) {
		switch (c) {
		case 'F': field = optarg; break;
		case 'o':
			if (strcmp(optarg, "shell") == 0)
				fmt = FMT_SHELL;
			else if (strcmp(optarg, "json") == 0)
				fmt = FMT_JSON;
			else if (strcmp(optarg, "env") == 0)
				fmt = FMT_ENV;
			else
				return cli_usage_error(
				    "--format is shell, json or env");
			break;
		case OPT_FORCE: force = true; break;
		case 'p':
			if (cli_pin_fd("--pin-fd", optarg, &pin_fd) != 0)
				return JITCTL_EXIT_USAGE;
			break;
		case 'h': return cli_help(get_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("expected one credential name");
	/* Before any touch: a secret on a screen stays in its scrollback. */
	if ((tty = isatty(STDOUT_FILENO)) && !force) {
		cli_err(
		    "refusing to print a secret to a terminal; pipe it or pass --force");
		return JITCTL_EXIT_USAGE;
	}
	if ((ex = get_fields(argv[optind], field, "get", NULL, pin_fd, &cred,
		 &fields)) != 0)
		goto out;
	if (field != NULL && fields_get(fields, field, &f) != 0) {
		cli_err("%s has no field '%s'", argv[optind], field);
		ex = JITCTL_EXIT_FAIL;
		goto out;
	}
	if (fmt != FMT_PLAIN) {
		ex = print_formatted(argv[optind], fields, field, fmt) == 0 ?
		    JITCTL_EXIT_OK :
		    JITCTL_EXIT_FAIL;
		goto out;
	}
	if (field != NULL) {
		if ((r = fields_get(fields, field, &f)) != 0) {
			cli_err("%s has no field '%s'", argv[optind], field);
			ex = JITCTL_EXIT_FAIL;
			goto out;
		}
		r = put_field(&f, false, tty);
	} else if (fields_validate(fields, &count) == 0 && count == 1) {
		(void)fields_iter_init(&it, fields);
		(void)fields_next(&it, &f);
		r = put_field(&f, false, tty);
	} else {
		r = fields_iter_init(&it, fields);
		while (r == 0 && (r = fields_next(&it, &f)) == 1)
			r = put_field(&f, true, true);
	}
	if (r != 0) {
		cli_err("cannot write to stdout");
		ex = JITCTL_EXIT_FAIL;
		goto out;
	}
	ex = JITCTL_EXIT_OK;
out:
	json_object_put(cred);
	secret_free(fields);
	return ex;
}
