/* jitctl git-credential: git's credential helper protocol, read-only. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "fields.h"
#include "jitctl.h"
#include "secret.h"
#include "wire.h"

#define GIT_HOST_MAX 256

static const char git_help[] =
    "usage: jitctl git-credential NAME get|store|erase\n"
    "\n"
    "A git credential helper: for 'get' it reads git's key=value lines on\n"
    "stdin and answers username= and password= from NAME's fields\n"
    "username and password (or token, secret).  If NAME has a field host,\n"
    "it answers only for that host.  'store' and 'erase' are accepted and\n"
    "ignored: the agent's credentials come from 'jitctl add' and 'jitctl\n"
    "request'.  Configure it for one site only:\n"
    "\n"
    "    git config --global credential.https://git.example.com.helper \\\n"
    "        '!/usr/bin/jitctl git-credential gitlab'\n"
    "\n"
    "  -h, --help   this text\n";

static const char *const user_names[] = { "username", "user", NULL };
static const char *const pass_names[] = { "password", "token", FIELD_DEFAULT,
	NULL };

/*
 * The value of key in git's key=value lines (up to the first blank line;
 * a CR before the newline is dropped).  A line with a NUL ends the
 * reading: git's protocol has none.
 */
static bool
attr(const struct secret *in, const char *key, char *out, size_t outlen)
{
	struct wire_reader r, kv;
	const uint8_t *line;
	size_t n;

	wire_reader_init(&r, secret_ptr(in), secret_len(in));
	while (wire_get_line(&r, HELPER_IN_MAX, &line, &n, NULL) == 0) {
		wire_reader_init(&kv, line, n);
		(void)wire_trim_end(&kv, "\r", 1);
		if (wire_left(&kv) == 0)
			break;
		if (wire_expect(&kv, key, strlen(key)) != 0 ||
		    wire_expect(&kv, "=", 1) != 0)
			continue;
		if ((n = wire_left(&kv)) >= outlen)
			return false;
		(void)wire_get_bytes(&kv, out, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

/* A value git's line protocol can carry: no newline, no NUL. */
static bool
line_safe(const struct field *f)
{
	return memchr(f->val, '\n', f->vallen) == NULL &&
	    memchr(f->val, '\0', f->vallen) == NULL;
}

/* password_expiry_utc (git 2.41): git drops a cached password then and
 * asks again; an older git ignores the line. */
static int
put_expiry(struct wire_writer *w, int64_t until)
{
	char line[48];

	if (until <= 0)
		return JIT_OK;
	snprintf(
	    line, sizeof(line), "password_expiry_utc=%lld\n", (long long)until);
	return helper_lit(w, line);
}

static int
answer(const char *name, const struct secret *in)
{
	struct json_object *cred = NULL;
	struct secret *fields = NULL;
	struct wire_writer w;
	struct field user, pass, host;
	char want[GIT_HOST_MAX];
	bool has_user;
	int r, ex;

	wire_writer_init(&w, HELPER_OUT_MAX, true);
	if ((ex = helper_fields(name, "git-credential", &cred, &fields)) != 0)
		goto out;
	if (fields_get(fields, "host", &host) == 0 &&
	    (!attr(in, "host", want, sizeof(want)) ||
		strlen(want) != host.vallen ||
		memcmp(want, host.val, host.vallen) != 0)) {
		/* Not ours to answer: git asks its next helper. */
		ex = JITCTL_EXIT_OK;
		goto out;
	}
	has_user = helper_field(fields, user_names, &user);
	if (!helper_field(fields, pass_names, &pass)) {
		cli_err("%s has no password field (password, token or secret)",
		    name);
		ex = JITCTL_EXIT_FAIL;
		goto out;
	}
	if ((has_user && !line_safe(&user)) || !line_safe(&pass)) {
		cli_err(
		    "%s: a value holds a newline, which git's protocol cannot carry",
		    name);
		ex = JITCTL_EXIT_FAIL;
		goto out;
	}
	if ((has_user &&
		((r = helper_lit(&w, "username=")) != 0 ||
		    (r = wire_put_bytes(&w, user.val, user.vallen)) != 0 ||
		    (r = helper_lit(&w, "\n")) != 0)) ||
	    (r = helper_lit(&w, "password=")) != 0 ||
	    (r = wire_put_bytes(&w, pass.val, pass.vallen)) != 0 ||
	    (r = helper_lit(&w, "\n")) != 0 ||
	    (r = put_expiry(&w, helper_not_after(cred))) != 0 ||
	    (r = helper_flush(&w)) != 0) {
		ex = cli_fail_code(r, "cannot write the credential");
		goto out;
	}
	ex = JITCTL_EXIT_OK;
out:
	wire_writer_reset(&w);
	json_object_put(cred);
	secret_free(fields);
	return ex;
}

int
git_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct secret *in = NULL;
	const char *name, *op;
	int c, r, ex;

	while ((c = cli_getopt(argc, argv, "+:h", opts)) != -1) {
		switch (c) {
		case 'h': return cli_help(git_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("expected NAME and get, store or erase");
	name = argv[optind];
	op = argv[optind + 1];
	if (strcmp(op, "get") != 0 && strcmp(op, "store") != 0 &&
	    strcmp(op, "erase") != 0)
		return cli_usage_error(
		    "unknown operation '%s': get, store or erase", op);
	/* get talks to the agent: checked (and sealed) before git's
	 * request; store brings a password that no agent needs. */
	if (strcmp(op, "get") == 0) {
		struct client_reply rep = { .retries = -1 };

		r = cli_connect(&rep);
		ex = r != 0 ? cli_fail(r, &rep) : JITCTL_EXIT_OK;
		client_reply_reset(&rep);
		if (r != 0)
			goto out;
	} else if ((r = cli_seal()) != 0) {
		ex = cli_fail_code(r, "cannot protect this process");
		goto out;
	}
	/* store brings a password: read it into guarded memory, then drop. */
	if ((r = helper_read_stdin(HELPER_IN_MAX, &in)) != 0) {
		ex = r == JIT_E_ARG ?
		    JITCTL_EXIT_USAGE :
		    cli_fail_code(r, "cannot read git's request");
		goto out;
	}
	/* store and erase: nothing to say, as git asks after every push
	 * and its protocol lets a helper ignore them. */
	ex = strcmp(op, "get") == 0 ? answer(name, in) : JITCTL_EXIT_OK;
out:
	secret_free(in);
	return ex;
}
