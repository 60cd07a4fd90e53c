/* jitctl aws-credential-process: AWS's credential_process JSON for a credential. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "fields.h"
#include "jitctl.h"
#include "secret.h"
#include "wire.h"

static const char aws_help[] =
    "usage: jitctl aws-credential-process NAME\n"
    "\n"
    "Print NAME as the JSON that AWS SDKs and the aws CLI read from a\n"
    "credential_process (Version 1, AccessKeyId, SecretAccessKey,\n"
    "SessionToken, Expiration).  In ~/.aws/config:\n"
    "\n"
    "    [profile prod]\n"
    "    credential_process = /usr/bin/jitctl aws-credential-process prod\n"
    "\n"
    "Fields read: AccessKeyId (or AWS_ACCESS_KEY_ID, "
    "Credentials.AccessKeyId),\n"
    "SecretAccessKey (AWS_SECRET_ACCESS_KEY, ...), SessionToken\n"
    "(AWS_SESSION_TOKEN, ...; optional).  Expiration is the earlier of the\n"
    "unlock window's end and the credential's not-after: the SDKs run the\n"
    "process again before it.  A locked credential is refused: run\n"
    "'jitctl unlock NAME'.\n"
    "\n"
    "  -h, --help   this text\n";

static const char *const key_id[] = { "AccessKeyId", "AWS_ACCESS_KEY_ID",
	"Credentials.AccessKeyId", "aws_access_key_id", NULL };
static const char *const secret_key[] = { "SecretAccessKey",
	"AWS_SECRET_ACCESS_KEY", "Credentials.SecretAccessKey",
	"aws_secret_access_key", NULL };
static const char *const session[] = { "SessionToken", "AWS_SESSION_TOKEN",
	"Credentials.SessionToken", "aws_session_token", NULL };

int
aws_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *cred = NULL;
	struct secret *fields = NULL;
	struct wire_writer w;
	struct field id, key, tok;
	int64_t not_after;
	bool has_tok;
	int c, r, ex;

	wire_writer_init(&w, HELPER_OUT_MAX, true);
	while ((c = cli_getopt(argc, argv, ":h", opts)) != -1) {
		switch (c) {
		case 'h': return cli_help(aws_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("expected one credential name");
	if ((ex = helper_fields(
		 argv[optind], "aws-credential-process", &cred, &fields)) != 0)
		goto out;
	if (!helper_field(fields, key_id, &id) ||
	    !helper_field(fields, secret_key, &key)) {
		cli_err(
		    "%s has no AccessKeyId and SecretAccessKey fields (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
		    argv[optind]);
		ex = JITCTL_EXIT_FAIL;
		goto out;
	}
	has_tok = helper_field(fields, session, &tok);
	not_after = helper_not_after(cred);
	if ((r = helper_lit(&w, "{\"Version\":1")) != 0 ||
	    (r = helper_member(&w, true, "AccessKeyId", id.val, id.vallen)) !=
		0 ||
	    (r = helper_member(
		 &w, true, "SecretAccessKey", key.val, key.vallen)) != 0 ||
	    (has_tok &&
		(r = helper_member(
		     &w, true, "SessionToken", tok.val, tok.vallen)) != 0))
		goto fail;
	if ((r = helper_finish(&w, "Expiration", not_after, "}\n")) != 0)
		goto fail;
	ex = JITCTL_EXIT_OK;
	goto out;
fail:
	ex = cli_fail_code(r, "cannot write the credential");
out:
	wire_writer_reset(&w);
	json_object_put(cred);
	secret_free(fields);
	return ex;
}
