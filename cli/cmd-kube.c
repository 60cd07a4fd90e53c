/* jitctl kube-credential: a kubectl exec plugin answering ExecCredential. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fields.h"
#include "jitctl.h"
#include "jsonx.h"
#include "secret.h"
#include "wire.h"

#define KUBE_API_V1 "client.authentication.k8s.io/v1"
#define KUBE_API_V1BETA1 "client.authentication.k8s.io/v1beta1"
#define KUBE_INFO_MAX (64 * 1024)

static const char kube_help[] =
    "usage: jitctl kube-credential NAME\n"
    "\n"
    "A client-go exec credential plugin: print an ExecCredential whose\n"
    "status.token is NAME's field token (or TOKEN, secret) and whose\n"
    "expirationTimestamp is the earlier of its unlock window's end and its\n"
    "not-after (kubectl runs the plugin again then).  The apiVersion is the one in\n"
    "KUBERNETES_EXEC_INFO (v1 or v1beta1), v1 when it is absent.  Fields\n"
    "clientCertificateData and clientKeyData are passed on when present.\n"
    "In a kubeconfig user:\n"
    "\n"
    "    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1\n"
    "      command: /usr/bin/jitctl\n"
    "      args: [kube-credential, prod]\n"
    "      interactiveMode: IfAvailable\n"
    "\n"
    "  -h, --help   this text\n";

static const char *const token_names[] = { "token", "TOKEN", "status.token",
	FIELD_DEFAULT, NULL };
static const char *const cert_names[] = { "clientCertificateData", NULL };
static const char *const key_names[] = { "clientKeyData", NULL };

/* The apiVersion kubectl asked for (public data: json-c is fine). */
static int
api_version(const char **ret)
{
	const char *info = getenv("KUBERNETES_EXEC_INFO"), *v;
	struct json_object *o = NULL;
	size_t len;
	int r;

	*ret = KUBE_API_V1;
	if (info == NULL || info[0] == '\0')
		return JIT_OK;
	if ((len = strlen(info)) > KUBE_INFO_MAX ||
	    jsonx_parse(info, len, &o) != 0 ||
	    jsonx_get_str(o, "apiVersion", 128, &v) != 0) {
		cli_err(
		    "KUBERNETES_EXEC_INFO is not an ExecCredential with an apiVersion");
		r = JIT_E_FORMAT;
	} else if (strcmp(v, KUBE_API_V1) == 0) {
		r = JIT_OK;
	} else if (strcmp(v, KUBE_API_V1BETA1) == 0) {
		*ret = KUBE_API_V1BETA1;
		r = JIT_OK;
	} else {
		char safe[160];

		cli_sanitize(v, safe, sizeof(safe));
		cli_err("apiVersion %s is not supported (" KUBE_API_V1
			" or " KUBE_API_V1BETA1 ")",
		    safe);
		r = JIT_E_UNSUPPORTED;
	}
	json_object_put(o);
	return r;
}

int
kube_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *cred = NULL;
	struct secret *fields = NULL;
	struct wire_writer w;
	struct field tok, cert, key;
	const char *api;
	int64_t not_after;
	bool has_tok, has_cert;
	int c, r, ex;

	wire_writer_init(&w, HELPER_OUT_MAX, true);
	while ((c = cli_getopt(argc, argv, ":h", opts)) != -1) {
		switch (c) {
		case 'h': return cli_help(kube_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("expected one credential name");
	if (api_version(&api) != 0)
		return JITCTL_EXIT_FAIL;
	if ((ex = helper_fields(
		 argv[optind], "kube-credential", &cred, &fields)) != 0)
		goto out;
	has_tok = helper_field(fields, token_names, &tok);
	has_cert = helper_field(fields, cert_names, &cert) &&
	    helper_field(fields, key_names, &key);
	if (!has_tok && !has_cert) {
		cli_err(
		    "%s has no token field (token, TOKEN or secret), nor clientCertificateData and clientKeyData",
		    argv[optind]);
		ex = JITCTL_EXIT_FAIL;
		goto out;
	}
	not_after = helper_not_after(cred);
	if ((r = helper_lit(&w, "{")) != 0 ||
	    (r = helper_member(&w, false, "apiVersion", api, strlen(api))) !=
		0 ||
	    (r = helper_member(&w, true, "kind", "ExecCredential",
		 strlen("ExecCredential"))) != 0 ||
	    (r = helper_lit(&w, ",\"status\":{")) != 0)
		goto fail;
	if (has_tok &&
	    (r = helper_member(&w, false, "token", tok.val, tok.vallen)) != 0)
		goto fail;
	if (has_cert &&
	    ((r = helper_member(&w, has_tok, "clientCertificateData", cert.val,
		  cert.vallen)) != 0 ||
		(r = helper_member(
		     &w, true, "clientKeyData", key.val, key.vallen)) != 0))
		goto fail;
	if ((r = helper_finish(&w, "expirationTimestamp", not_after, "}}\n")) !=
	    0)
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
