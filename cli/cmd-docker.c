/* jitctl docker-credential: the docker-credential-helpers protocol, read-only. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "fields.h"
#include "jitctl.h"
#include "secret.h"
#include "sjson.h"
#include "wire.h"

#define DOCKER_URL_MAX 2048
#define DOCKER_NOT_FOUND "credentials not found in native keychain\n"

static const char docker_help[] =
    "usage: jitctl docker-credential NAME get|list|store|erase\n"
    "\n"
    "A docker credential helper.  'get' reads a registry URL on stdin and\n"
    "prints {\"ServerURL\", \"Username\", \"Secret\"} from NAME's fields\n"
    "username (or Username) and password (or Secret, token, secret); a\n"
    "field ServerURL, when present, limits it to that registry.  'list'\n"
    "prints {ServerURL: username}.  'store' and 'erase' are refused: the\n"
    "agent's credentials come from 'jitctl add' and 'jitctl request'.\n"
    "Docker runs docker-credential-SUFFIX; make one that runs this:\n"
    "\n"
    "    #!/bin/sh\n"
    "    exec /usr/bin/jitctl docker-credential registry \"$@\"\n"
    "\n"
    "  -h, --help   this text\n";

static const char *const user_names[] = { "username", "Username", NULL };
static const char *const pass_names[] = { "password", "Secret", "token",
	FIELD_DEFAULT, NULL };
static const char *const url_names[] = { "ServerURL", NULL };

/* The registry on stdin: one line, surrounding blanks dropped (trailing
 * newlines, CRs and spaces, leading spaces). */
static int
read_url(char *out, size_t outlen)
{
	struct secret *in = NULL;
	struct wire_reader r;
	const uint8_t *url;
	size_t n;
	int rc;

	if ((rc = helper_read_stdin(DOCKER_URL_MAX, &in)) != 0)
		return rc;
	wire_reader_init(&r, secret_ptr(in), secret_len(in));
	(void)wire_trim_end(&r, "\n\r ", SIZE_MAX);
	(void)wire_skip_span(&r, " ");
	/* What is left is one line: a newline inside leaves more. */
	if (wire_get_line(&r, outlen - 1, &url, &n, NULL) != 0 || n == 0 ||
	    wire_end(&r) != 0) {
		secret_free(in);
		cli_err("expected one registry URL on stdin");
		return JIT_E_FORMAT;
	}
	memcpy(out, url, n);
	out[n] = '\0';
	secret_free(in);
	return JIT_OK;
}

static int
write_get(const char *url, const struct field *user, bool has_user,
    const struct field *pass)
{
	struct wire_writer w;
	int r;

	wire_writer_init(&w, HELPER_OUT_MAX, true);
	if ((r = helper_lit(&w, "{")) != 0 ||
	    (r = helper_member(&w, false, "ServerURL", url, strlen(url))) !=
		0 ||
	    (r = helper_member(&w, true, "Username",
		 has_user ? user->val : (const uint8_t *)"",
		 has_user ? user->vallen : 0)) != 0 ||
	    (r = helper_member(&w, true, "Secret", pass->val, pass->vallen)) !=
		0 ||
	    (r = helper_lit(&w, "}\n")) != 0)
		goto out;
	r = helper_flush(&w);
out:
	wire_writer_reset(&w);
	return r;
}

static int
write_list(const struct field *url, bool has_url, const struct field *user,
    bool has_user)
{
	struct wire_writer w;
	int r;

	wire_writer_init(&w, HELPER_OUT_MAX, true);
	if ((r = helper_lit(&w, "{")) != 0)
		goto out;
	/* Without a ServerURL field there is no registry to list. */
	if (has_url &&
	    ((r = sjson_put_string(&w, url->val, url->vallen)) != 0 ||
		(r = helper_lit(&w, ":")) != 0 ||
		(r = sjson_put_string(&w,
		     has_user ? user->val : (const uint8_t *)"",
		     has_user ? user->vallen : 0)) != 0))
		goto out;
	if ((r = helper_lit(&w, "}\n")) != 0)
		goto out;
	r = helper_flush(&w);
out:
	wire_writer_reset(&w);
	return r;
}

int
docker_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_reply rep = { .retries = -1 };
	struct json_object *cred = NULL;
	struct secret *fields = NULL, *in = NULL;
	struct field user, pass, url;
	char want[DOCKER_URL_MAX];
	const char *name, *op;
	bool get, has_user, has_url;
	int c, r, ex;

	while ((c = cli_getopt(argc, argv, "+:h", opts)) != -1) {
		switch (c) {
		case 'h': return cli_help(docker_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(
		    "expected NAME and get, list, store or erase");
	name = argv[optind];
	op = argv[optind + 1];
	if (strcmp(op, "store") == 0 || strcmp(op, "erase") == 0) {
		/* store brings a secret: into guarded memory, then dropped. */
		if (cli_seal() == 0)
			(void)helper_read_stdin(HELPER_IN_MAX, &in);
		secret_free(in);
		printf(
		    "%s is read-only: jit-agent's credentials come from 'jitctl add' or 'jitctl request'\n",
		    name);
		cli_err("%s is read-only: %s refused", name, op);
		return JITCTL_EXIT_FAIL;
	}
	if (strcmp(op, "get") != 0 && strcmp(op, "list") != 0)
		return cli_usage_error(
		    "unknown operation '%s': get, list, store or erase", op);
	get = strcmp(op, "get") == 0;
	/* The agent checked (and this process sealed) before stdin. */
	if ((r = cli_connect(&rep)) != 0) {
		ex = cli_fail(r, &rep);
		printf("jit-agent cannot serve %s now (see above)\n", name);
		goto out;
	}
	if (get && (r = read_url(want, sizeof(want))) != 0) {
		ex = r == JIT_E_ARG ? JITCTL_EXIT_USAGE : JITCTL_EXIT_FAIL;
		goto out;
	}
	if ((ex = helper_fields(name, "docker-credential", &cred, &fields)) !=
	    0) {
		/* Docker shows the helper's stdout when it fails. */
		printf(
		    "jit-agent cannot serve %s now: run 'jitctl unlock %s' (see above)\n",
		    name, name);
		goto out;
	}
	has_user = helper_field(fields, user_names, &user);
	has_url = helper_field(fields, url_names, &url);
	if (!get) {
		r = write_list(&url, has_url, &user, has_user);
		ex = r == 0 ? JITCTL_EXIT_OK :
			      cli_fail_code(r, "cannot write the list");
		goto out;
	}
	if (!helper_field(fields, pass_names, &pass) ||
	    (has_url &&
		(strlen(want) != url.vallen ||
		    memcmp(want, url.val, url.vallen) != 0))) {
		fputs(DOCKER_NOT_FOUND, stdout);
		ex = JITCTL_EXIT_FAIL;
		goto out;
	}
	if ((r = write_get(want, &user, has_user, &pass)) != 0) {
		ex = cli_fail_code(r, "cannot write the credential");
		goto out;
	}
	ex = JITCTL_EXIT_OK;
out:
	fflush(stdout);
	client_reply_reset(&rep);
	json_object_put(cred);
	secret_free(fields);
	return ex;
}
