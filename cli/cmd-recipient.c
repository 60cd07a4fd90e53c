/* Recipients: jitctl tokens --export and --verbose, jitctl recipient verify. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "attest.h"
#include "err.h"
#include "jitctl.h"
#include "proto-names.h"
#include "recipient.h"

static const char recipient_help[] =
    "usage: jitctl recipient verify FILE --roots FILE\n"
    "\n"
    "Check, offline, the attestation of every recipient in FILE (lines\n"
    "from 'jitctl tokens --export'): that it binds the recipient's key to\n"
    "a token whose certificate chain leads to one of the roots (PEM), and\n"
    "what it proves: vendor, model, serial.  Exits non-zero, naming the\n"
    "recipient and what failed, if any does not verify.\n"
    "\n"
    "  -r, --roots FILE    the trusted roots (PEM): vendors' attestation CAs\n"
    "  -h, --help          this text\n";

/* A token of the agent's tokens result as a recipient. */
static int
token_recipient(struct json_object *t, struct recipient *rc)
{
	const char *s;
	size_t n;

	memset(rc, 0, sizeof(*rc));
	if ((s = cli_jstr(t, JP_TOKEN_TYPE)) == NULL ||
	    strlen(s) > RECIPIENT_TYPE_MAX)
		return JIT_E_FORMAT;
	memcpy(rc->type, s, strlen(s) + 1);
	if ((s = cli_jstr(t, JP_TOKEN_ID)) == NULL ||
	    strlen(s) != RECIPIENT_ID_LEN)
		return JIT_E_FORMAT;
	memcpy(rc->id, s, strlen(s) + 1);
	if ((s = cli_jstr(t, JP_TOKEN_LABEL)) == NULL ||
	    strlen(s) > RECIPIENT_LABEL_MAX)
		return JIT_E_FORMAT;
	memcpy(rc->label, s, strlen(s) + 1);
	if ((s = cli_jstr(t, JP_TOKEN_RECIPIENT)) == NULL ||
	    sodium_base642bin(rc->key, sizeof(rc->key), s, strlen(s), NULL, &n,
		NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n != sizeof(rc->key))
		return JIT_E_FORMAT;
	if ((s = cli_jstr(t, JP_TOKEN_ATTESTATION)) == NULL)
		return JIT_OK;
	if ((rc->attest = malloc(RECIPIENT_ATTEST_MAX)) == NULL)
		return JIT_E_NOMEM;
	if (sodium_base642bin(rc->attest, RECIPIENT_ATTEST_MAX, s, strlen(s),
		NULL, &rc->attestlen, NULL,
		sodium_base64_VARIANT_ORIGINAL) != 0) {
		recipient_reset(rc);
		return JIT_E_FORMAT;
	}
	return JIT_OK;
}

int
tokens_export(struct json_object *tokens, const char *label)
{
	struct recipient rc;
	struct json_object *t;
	const char *l;
	char *line;
	size_t i, n = tokens == NULL ? 0 : json_object_array_length(tokens),
		  printed = 0;
	int r;

	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(tokens, i);
		l = cli_jstr(t, JP_TOKEN_LABEL);
		if (label != NULL && (l == NULL || strcmp(l, label) != 0))
			continue;
		if ((r = token_recipient(t, &rc)) != 0)
			return cli_fail_code(r,
			    "the agent's record of token %s is not a recipient",
			    l != NULL ? l : "?");
		r = recipient_format(&rc, &line);
		recipient_reset(&rc);
		if (r != 0)
			return cli_fail_code(r, NULL);
		printf("%s\n", line);
		free(line);
		printed++;
	}
	if (printed == 0) {
		if (label != NULL)
			cli_err("no token labelled %s is enrolled", label);
		else
			cli_err("no token is enrolled: run 'jitctl enroll'");
		return JITCTL_EXIT_FAIL;
	}
	return JITCTL_EXIT_OK;
}

/* What a token's attestation proves, checked against no roots: the agent
 * refused at enrollment what did not lead to its configured roots. */
int
tokens_print_verbose(struct json_object *tokens, FILE *f)
{
	struct attest_info ai;
	struct recipient rc;
	struct json_object *t;
	char why[ATTEST_WHY_MAX], safe[ATTEST_WHY_MAX];
	size_t i, n = tokens == NULL ? 0 : json_object_array_length(tokens);

	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(tokens, i);
		if (token_recipient(t, &rc) != 0)
			continue;
		fprintf(f, "\n%s (%s)\n  recipient: %s %s\n", rc.label, rc.type,
		    rc.id, cli_jstr(t, JP_TOKEN_RECIPIENT));
		if (rc.attest == NULL) {
			fprintf(f,
			    "  attestation: none (the token gave none at enrollment)\n");
		} else if (attest_verify(rc.attest, rc.attestlen, rc.type,
			       rc.id, rc.key, NULL, &ai, why,
			       sizeof(why)) != 0) {
			cli_sanitize(why, safe, sizeof(safe));
			fprintf(
			    f, "  attestation: DOES NOT VERIFY: %s\n", safe);
		} else {
			attest_info_print(&ai, f);
		}
		recipient_reset(&rc);
	}
	return JIT_OK;
}

static int
verify_file(const char *path, const char *roots)
{
	struct recipient *rc = NULL;
	struct attest_info ai;
	char why[ATTEST_WHY_MAX + RECIPIENT_WHY_MAX], safe[sizeof(why)];
	size_t n = 0, i, bad = 0;

	if (recipient_load(path, &rc, &n, why, sizeof(why)) != 0) {
		cli_err("%s", why);
		return JITCTL_EXIT_FAIL;
	}
	for (i = 0; i < n; i++) {
		if (rc[i].attest == NULL) {
			printf(
			    "%s (%s): NOT ATTESTED: the token gave no attestation at enrollment\n",
			    rc[i].label, rc[i].type);
			bad++;
			continue;
		}
		if (attest_verify(rc[i].attest, rc[i].attestlen, rc[i].type,
			rc[i].id, rc[i].key, roots, &ai, why,
			sizeof(why)) != 0) {
			cli_sanitize(why, safe, sizeof(safe));
			printf("%s (%s): DOES NOT VERIFY: %s\n", rc[i].label,
			    rc[i].type, safe);
			bad++;
			continue;
		}
		printf("%s (%s): verified\n", rc[i].label, rc[i].type);
		attest_info_print(&ai, stdout);
	}
	recipient_list_free(rc, n);
	if (bad > 0) {
		cli_err(
		    "%zu of %zu recipient(s) in %s do not verify against %s",
		    bad, n, path, roots);
		return JITCTL_EXIT_FAIL;
	}
	return JITCTL_EXIT_OK;
}

int
recipient_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "roots", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *roots = NULL;
	int c;

	while ((c = cli_getopt(argc, argv, ":r:h", opts)) != -1) {
		switch (c) {
		case 'r': roots = optarg; break;
		case 'h': return cli_help(recipient_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (argc - optind != 2 || strcmp(argv[optind], "verify") != 0)
		return cli_usage_error("expected: verify FILE --roots FILE");
	if (roots == NULL)
		return cli_usage_error(
		    "--roots FILE is required: the attestation roots (PEM) to check against");
	return verify_file(argv[optind + 1], roots);
}
