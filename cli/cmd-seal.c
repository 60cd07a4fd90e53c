/* jitctl seal: a credential sealed to published recipients, with no agent
 * and no hardware (an admin's or an issuer's machine). */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "credhdr.h"
#include "duration.h"
#include "err.h"
#include "fields.h"
#include "jitctl.h"
#include "jsonx.h"
#include "recipient.h"
#include "seal.h"
#include "secret.h"

#define SEAL_NAME_MAX 64 /* the agent's credential names */
#define SEALED_FILE_VERSION 1 /* the store's credential file, agent/store.c */

static const char seal_help[] =
    "usage: jitctl seal --to RECIPIENT [--to RECIPIENT...] NAME --ttl DURATION\n"
    "                   [--json] [--kind KIND] [--stepup MODE] [--by WHO]\n"
    "                   [--unlock-on-use] -o FILE\n"
    "\n"
    "Seal a credential to the hardware tokens of one or more people, on\n"
    "this machine, with no agent and no token: only their recipients\n"
    "(published with 'jitctl tokens --export') are needed.  Each person\n"
    "adds the file with 'jitctl import FILE'; only their token opens it.\n"
    "The secret is read from stdin as with 'jitctl add'.\n"
    "\n"
    "  -T, --to RECIPIENT  a recipient line, or a file of them (one per\n"
    "                      line, '#' comments): repeat for a group\n"
    "  -t, --ttl DURATION  how long it is valid from now (90s, 15m, 2h, 1d)\n"
    "  -j, --json          stdin is a JSON object of NAME: VALUE fields\n"
    "  -k, --kind KIND     as for 'jitctl add' (default: secret, or env\n"
    "                      with --json)\n"
    "  -S, --stepup MODE   session (default), always, pin or confirm\n"
    "  -U, --unlock-on-use a tool that asks for it while it is locked starts\n"
    "                      the unlock (as 'jitctl add --unlock-on-use')\n"
    "  -b, --by WHO        who sealed it, bound into the header\n"
    "                      (default: USER@HOST)\n"
    "  -o, --output FILE   where to write the sealed file\n"
    "  -h, --help          this text\n"
    "\n"
    "The header (name, kind, field names, not-after, step-up, unlock on\n"
    "use, who sealed it) is bound to the ciphertext: an edited file is\n"
    "refused at import.\n"
    "Check recipients' attestation first with 'jitctl recipient verify'.\n";

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= SEAL_NAME_MAX && s[0] != '.' && s[0] != '-' &&
	    fields_valid_name((const uint8_t *)s, n);
}

/* USER@HOST of whoever runs this, unless --by says. */
static int
sealer(const char *by, char *out, size_t outlen)
{
	struct passwd *pw = getpwuid(getuid());
	char host[256];

	if (by != NULL) {
		snprintf(out, outlen, "%s", by);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(out, outlen, "%.60s@%.60s",
		    pw != NULL ? pw->pw_name : "unknown", host);
	}
	return credhdr_sealed_by_ok(out) ? JIT_OK : JIT_E_ARG;
}

/* The field names, in order, from the fields encoding. */
static int
field_names(const struct secret *fields, char ***ret, size_t *ret_n)
{
	struct fields_iter it;
	struct field f;
	uint32_t n, i;
	char **names;
	int r;

	if ((r = fields_validate(fields, &n)) != 0)
		return r;
	if ((names = calloc(n, sizeof(*names))) == NULL)
		return JIT_E_NOMEM;
	if ((r = fields_iter_init(&it, fields)) != 0)
		goto fail;
	for (i = 0; i < n; i++) {
		if (fields_next(&it, &f) != 1 ||
		    (names[i] = strndup((const char *)f.name, f.namelen)) ==
			NULL) {
			r = JIT_E_NOMEM;
			goto fail;
		}
	}
	*ret = names;
	*ret_n = n;
	return JIT_OK;
fail:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

/* One wrap per recipient: the data key sealed to its X25519 key, bound to
 * its token id (the store's wrap, agent/store.c). */
static int
add_wraps(struct json_object *o, const struct recipient *rc, size_t n,
    const struct secret *dek)
{
	struct json_object *arr, *wo;
	struct seal_wrap w;
	size_t i;
	int r;

	if ((arr = json_object_new_array()) == NULL)
		return JIT_E_NOMEM;
	json_object_object_add(o, "wraps", arr);
	for (i = 0; i < n; i++) {
		if ((r = seal_wrap(rc[i].key, dek, rc[i].id, &w)) != 0)
			return r;
		if ((wo = json_object_new_object()) == NULL)
			return JIT_E_NOMEM;
		json_object_array_add(arr, wo);
		if ((r = jsonx_add_str(wo, "token", rc[i].id)) != 0 ||
		    (r = jsonx_add_str(wo, "label", rc[i].label)) != 0 ||
		    (r = jsonx_add_b64(wo, "epk", w.epk, sizeof(w.epk))) != 0 ||
		    (r = jsonx_add_b64(
			 wo, "nonce", w.nonce, sizeof(w.nonce))) != 0 ||
		    (r = jsonx_add_b64(wo, "box", w.box, sizeof(w.box))) != 0)
			return r;
	}
	return JIT_OK;
}

/* The portable file: the agent's credential file (agent/store.c) with
 * who sealed it and the recipients' labels. */
static int
seal_file(const struct credhdr *h, const struct secret *fields,
    const struct recipient *rc, size_t n, struct json_object **ret)
{
	struct json_object *o, *arr;
	struct secret *dek = NULL;
	uint8_t nonce[SEAL_NONCE_LEN], *ad = NULL, *ct = NULL;
	size_t adlen, ctlen, i;
	int r = JIT_E_NOMEM;

	if ((o = json_object_new_object()) == NULL)
		return JIT_E_NOMEM;
	if ((r = credhdr_ad(h, &ad, &adlen)) != 0 ||
	    (r = seal_random_key(&dek)) != 0 ||
	    (r = seal_aead(dek, ad, adlen, fields, nonce, &ct, &ctlen)) != 0)
		goto out;
	if ((r = jsonx_add_int(o, "version", SEALED_FILE_VERSION)) != 0 ||
	    (r = jsonx_add_str(o, "name", h->name)) != 0 ||
	    (r = jsonx_add_str(o, "kind", h->kind)) != 0)
		goto out;
	r = JIT_E_NOMEM;
	if ((arr = json_object_new_array()) == NULL)
		goto out;
	json_object_object_add(o, "fields", arr);
	for (i = 0; i < h->nfields; i++)
		if ((r = cli_jappend(arr, h->field_names[i])) != 0)
			goto out;
	if ((r = jsonx_add_int(o, "created", h->created)) != 0 ||
	    (r = jsonx_add_int(o, "not_after", h->not_after)) != 0 ||
	    (r = jsonx_add_str(o, "stepup", h->stepup)) != 0 ||
	    (h->unlock_on_use &&
		(r = jsonx_add_bool(o, "unlock_on_use", true)) != 0) ||
	    (r = jsonx_add_str(o, "sealed_by", h->sealed_by)) != 0 ||
	    (r = jsonx_add_b64(o, "nonce", nonce, sizeof(nonce))) != 0 ||
	    (r = jsonx_add_b64(o, "ciphertext", ct, ctlen)) != 0 ||
	    (r = add_wraps(o, rc, n, dek)) != 0)
		goto out;
	*ret = o;
	o = NULL;
	r = JIT_OK;
out:
	json_object_put(o);
	secret_free(dek);
	free(ad);
	free(ct);
	return r;
}

/* Each token once: a repeated id is one recipient given twice. */
static int
check_unique(const struct recipient *rc, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (strcmp(rc[i].id, rc[j].id) == 0) {
				cli_err(
				    "token %s (%s) is given twice: give each recipient once",
				    rc[i].label, rc[i].id);
				return JIT_E_ARG;
			}
	return JIT_OK;
}

int
seal_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 'T' },
		{ "ttl", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "kind", required_argument, NULL, 'k' },
		{ "stepup", required_argument, NULL, 'S' },
		{ "by", required_argument, NULL, 'b' },
		{ "unlock-on-use", no_argument, NULL, 'U' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct recipient *rc = NULL;
	struct json_object *file = NULL;
	struct secret *in = NULL, *fields = NULL;
	const char *name, *ttl_arg = NULL, *kind = NULL, *stepup = "session";
	const char *by = NULL, *out = NULL;
	char **names = NULL, why[RECIPIENT_WHY_MAX + 512],
	     who[CREDHDR_SEALED_BY_MAX + 1], until[64];
	size_t nrc = 0, nnames = 0, i;
	struct credhdr h;
	bool json = false, on_use = false;
	int64_t ttl;
	int c, r, ex;

	while ((c = cli_getopt(argc, argv, ":T:t:jk:S:b:Uo:h", opts)) != -1) {
		switch (c) {
		case 'T':
			if (recipient_load(
				optarg, &rc, &nrc, why, sizeof(why)) != 0) {
				cli_err("%s", why);
				ex = JITCTL_EXIT_USAGE;
				goto out;
			}
			break;
		case 't': ttl_arg = optarg; break;
		case 'j': json = true; break;
		case 'k': kind = optarg; break;
		case 'S': stepup = optarg; break;
		case 'b': by = optarg; break;
		case 'U': on_use = true; break;
		case 'o': out = optarg; break;
		case 'h': ex = cli_help(seal_help); goto out;
		default: ex = cli_getopt_error(c, argv); goto out;
		}
	}
	ex = JITCTL_EXIT_USAGE;
	if (argc - optind != 1) {
		ex = cli_usage_error("expected one credential name");
		goto out;
	}
	name = argv[optind];
	if (!name_ok(name)) {
		ex = cli_usage_error(
		    "bad name '%s': 1 to %d of A-Z a-z 0-9 _ . -, not starting with '.' or '-'",
		    name, SEAL_NAME_MAX);
		goto out;
	}
	if (nrc == 0) {
		ex = cli_usage_error(
		    "--to is required: the recipients (from 'jitctl tokens --export') to seal to");
		goto out;
	}
	if (out == NULL) {
		ex = cli_usage_error(
		    "-o FILE is required: where to write the sealed file");
		goto out;
	}
	if (ttl_arg == NULL || duration_parse(ttl_arg, &ttl) != 0) {
		ex = cli_usage_error(
		    "--ttl is required (90s, 15m, 2h, 1d or 1h30m): how long the credential stays valid");
		goto out;
	}
	if (!add_stepup_ok(stepup)) {
		ex = cli_usage_error(
		    "bad --stepup '%s': session, always, pin or confirm",
		    stepup);
		goto out;
	}
	if (kind != NULL && !add_kind_ok(kind)) {
		ex = cli_usage_error(
		    "bad --kind '%s': secret, env, ssh-cert, aws, kube, docker or git",
		    kind);
		goto out;
	}
	if (sealer(by, who, sizeof(who)) != 0) {
		ex = cli_usage_error("bad --by: 1 to %d printable characters",
		    CREDHDR_SEALED_BY_MAX);
		goto out;
	}
	if (check_unique(rc, nrc) != 0)
		goto out;
	/* No agent: this process is made non-dumpable before the secret. */
	ex = JITCTL_EXIT_FAIL;
	if ((r = cli_seal()) != 0) {
		ex = cli_fail_code(r, "cannot protect this process");
		goto out;
	}
	if ((r = add_read_input(name, json, &in)) != 0) {
		ex = r == JIT_E_ARG ? JITCTL_EXIT_USAGE : JITCTL_EXIT_FAIL;
		goto out;
	}
	if ((r = add_to_fields(in, json, &fields)) != 0 ||
	    (r = field_names(fields, &names, &nnames)) != 0)
		goto out;
	memset(&h, 0, sizeof(h));
	h.name = name;
	h.kind = kind != NULL ? kind : (json ? "env" : "secret");
	h.field_names = names;
	h.nfields = nnames;
	h.created = (int64_t)time(NULL);
	h.not_after = h.created + ttl;
	h.stepup = stepup;
	h.unlock_on_use = on_use;
	h.sealed_by = who;
	if ((r = seal_file(&h, fields, rc, nrc, &file)) != 0) {
		ex = cli_fail_code(r, "cannot seal");
		goto out;
	}
	if ((r = jsonx_save_file(out, file)) != 0) {
		ex = cli_fail_code(r, "cannot write %s", out);
		goto out;
	}
	cli_time(h.not_after, until, sizeof(until));
	cli_note("sealed %s to %zu recipient(s), valid until %s, in %s", name,
	    nrc, until, out);
	ex = JITCTL_EXIT_OK;
out:
	recipient_list_free(rc, nrc);
	json_object_put(file);
	secret_free(in);
	secret_free(fields);
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	return ex;
}
