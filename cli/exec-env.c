/* Building jitctl exec's environment: kinds mapped to their tools' variables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "exec-env.h"
#include "fields.h"
#include "isotime.h"
#include "jitctl.h"
#include "jsonx.h"
#include "proto-names.h"
#include "secret.h"
#include "sshproxy.h"

extern char **environ;

#define EXEC_VARS_MAX (EXEC_CREDS_MAX * FIELDS_MAX + 8)
#define JIT_SECRET_VAR "JIT_SECRET"
#define KUBE_API_V1 "client.authentication.k8s.io/v1"

struct exec_var {
	const char *name;
	size_t namelen;
	const uint8_t *val; /* guarded memory, or one of exec_env's own */
	size_t vallen;
	const char *from; /* the credential's name */
};

struct exec_env {
	struct exec_var v[EXEC_VARS_MAX];
	size_t n;
	char expiry[EXEC_CREDS_MAX][32];
	char *kubeconfig;
	struct sshproxy *proxy;
	const char *ssh_sock;
	struct secret *strings, *vec;
};

static const char *const aws_id[] = { "AccessKeyId", "AWS_ACCESS_KEY_ID",
	"Credentials.AccessKeyId", "aws_access_key_id", NULL };
static const char *const aws_key[] = { "SecretAccessKey",
	"AWS_SECRET_ACCESS_KEY", "Credentials.SecretAccessKey",
	"aws_secret_access_key", NULL };
static const char *const aws_token[] = { "SessionToken", "AWS_SESSION_TOKEN",
	"Credentials.SessionToken", "aws_session_token", NULL };
static const char *const kube_server[] = { "server", "cluster.server", NULL };
static const char *const kube_ca[] = { "certificate-authority-data",
	"certificateAuthorityData", "cluster.certificate-authority-data",
	NULL };
static const char *const kube_ns[] = { "namespace", NULL };

static int
add_var(struct exec_env *e, const char *name, size_t namelen, const void *val,
    size_t vallen, const char *from)
{
	char safe[FIELD_NAME_MAX + 1];
	size_t i;

	if (!cli_env_name_ok((const uint8_t *)name, namelen)) {
		snprintf(safe, sizeof(safe), "%.*s", (int)namelen, name);
		cli_err(
		    "%s: field '%s' is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
		    from, safe);
		return JIT_E_ARG;
	}
	for (i = 0; i < e->n; i++) {
		if (e->v[i].namelen != namelen ||
		    memcmp(e->v[i].name, name, namelen) != 0)
			continue;
		snprintf(safe, sizeof(safe), "%.*s", (int)namelen, name);
		cli_err("%s and %s both set %s: run them in separate commands",
		    e->v[i].from, from, safe);
		return JIT_E_ARG;
	}
	if (e->n >= EXEC_VARS_MAX)
		return JIT_E_LIMIT;
	e->v[e->n++] = (struct exec_var){ name, namelen, val, vallen, from };
	return JIT_OK;
}

static int
add_field(struct exec_env *e, const char *var, const struct secret *fields,
    const char *const *names, bool required, const struct exec_cred *c)
{
	struct field f;

	if (!helper_field(fields, names, &f)) {
		if (!required)
			return JIT_OK;
		cli_err("%s (kind aws) has no field %s (or %s)", c->name,
		    names[0], names[1]);
		return JIT_E_ARG;
	}
	return add_var(e, var, strlen(var), f.val, f.vallen, c->name);
}

/* The earlier of the window's end and the credential's own. */
static int64_t
cred_end(const struct exec_cred *c)
{
	int64_t until = cli_jint(c->cred, JP_CRED_UNTIL, 0);
	int64_t not_after = cli_jint(c->cred, JP_CRED_NOT_AFTER, 0);

	if (until > 0 && (not_after <= 0 || until < not_after))
		return until;
	return not_after;
}

static int
vars_aws(
    struct exec_env *e, const struct exec_cred *c, char *expiry, size_t explen)
{
	int64_t end = cred_end(c);
	int r;

	if ((r = add_field(
		 e, "AWS_ACCESS_KEY_ID", c->fields, aws_id, true, c)) != 0 ||
	    (r = add_field(e, "AWS_SECRET_ACCESS_KEY", c->fields, aws_key, true,
		 c)) != 0 ||
	    (r = add_field(
		 e, "AWS_SESSION_TOKEN", c->fields, aws_token, false, c)) != 0)
		return r;
	if (end <= 0)
		return JIT_OK;
	isotime_format(end, true, expiry, explen);
	return add_var(e, "AWS_CREDENTIAL_EXPIRATION",
	    strlen("AWS_CREDENTIAL_EXPIRATION"), expiry, strlen(expiry),
	    c->name);
}

/* Each field NAME=VALUE; a lone "secret" of kind secret as JIT_SECRET. */
static int
vars_fields(struct exec_env *e, const struct exec_cred *c, bool as_secret)
{
	struct fields_iter it;
	struct field f;
	int r;

	if ((r = fields_iter_init(&it, c->fields)) != 0)
		return r;
	while ((r = fields_next(&it, &f)) == 1) {
		if (as_secret && f.namelen == strlen(FIELD_DEFAULT) &&
		    memcmp(f.name, FIELD_DEFAULT, f.namelen) == 0)
			r = add_var(e, JIT_SECRET_VAR, strlen(JIT_SECRET_VAR),
			    f.val, f.vallen, c->name);
		else
			r = add_var(e, (const char *)f.name, f.namelen, f.val,
			    f.vallen, c->name);
		if (r != 0)
			return r;
	}
	return r;
}

/* A field's value as a C string in a JSON object (public data). */
static int
json_field(struct json_object *o, const char *key, const struct secret *fields,
    const char *const *names)
{
	struct field f;
	struct json_object *s;

	if (!helper_field(fields, names, &f))
		return JIT_E_NOENT;
	if ((s = json_object_new_string_len(
		 (const char *)f.val, (int)f.vallen)) == NULL)
		return JIT_E_NOMEM;
	json_object_object_add(o, key, s);
	return JIT_OK;
}

/* The kubeconfig: the cluster from the fields, the user an exec plugin
 * (jitctl kube-credential NAME), so the file holds no secret. */
static struct json_object *
kubeconfig_json(const struct exec_cred *c, const char *self)
{
	struct json_object *kc, *cl, *clu, *us, *user, *ex, *args, *ctx, *cx,
	    *item;
	char name[160];

	snprintf(name, sizeof(name), "jit-%s", c->name);
	kc = json_object_new_object();
	(void)jsonx_add_str(kc, "apiVersion", "v1");
	(void)jsonx_add_str(kc, "kind", "Config");
	clu = json_object_new_object();
	(void)json_field(clu, "server", c->fields, kube_server);
	(void)json_field(clu, "certificate-authority-data", c->fields, kube_ca);
	cl = json_object_new_object();
	(void)jsonx_add_str(cl, "name", name);
	json_object_object_add(cl, "cluster", clu);
	item = json_object_new_array();
	json_object_array_add(item, cl);
	json_object_object_add(kc, "clusters", item);
	args = json_object_new_array();
	if (jitctl_socket_opt != NULL) {
		(void)cli_jappend(args, "--socket");
		(void)cli_jappend(args, jitctl_socket_opt);
	}
	(void)cli_jappend(args, "kube-credential");
	(void)cli_jappend(args, c->name);
	ex = json_object_new_object();
	(void)jsonx_add_str(ex, "apiVersion", KUBE_API_V1);
	(void)jsonx_add_str(ex, "command", self);
	json_object_object_add(ex, "args", args);
	(void)jsonx_add_str(ex, "interactiveMode", "Never");
	user = json_object_new_object();
	json_object_object_add(user, "exec", ex);
	us = json_object_new_object();
	(void)jsonx_add_str(us, "name", name);
	json_object_object_add(us, "user", user);
	item = json_object_new_array();
	json_object_array_add(item, us);
	json_object_object_add(kc, "users", item);
	cx = json_object_new_object();
	(void)jsonx_add_str(cx, "cluster", name);
	(void)jsonx_add_str(cx, "user", name);
	(void)json_field(cx, "namespace", c->fields, kube_ns);
	ctx = json_object_new_object();
	(void)jsonx_add_str(ctx, "name", name);
	json_object_object_add(ctx, "context", cx);
	item = json_object_new_array();
	json_object_array_add(item, ctx);
	json_object_object_add(kc, "contexts", item);
	(void)jsonx_add_str(kc, "current-context", name);
	return kc;
}

static int
vars_kube(struct exec_env *e, const struct exec_cred *c)
{
	struct json_object *kc = NULL;
	struct field f;
	char self[1024];
	const char *text;
	ssize_t n;
	int fd = -1, r;

	if (!helper_field(c->fields, kube_server, &f)) {
		cli_err(
		    "%s (kind kube) has no field 'server', the cluster's URL, for the kubeconfig jitctl exec writes: add it, or name 'jitctl kube-credential %s' in your own kubeconfig",
		    c->name, c->name);
		return JIT_E_ARG;
	}
	if (e->kubeconfig != NULL) {
		cli_err("one kube credential per command: %s is the second",
		    c->name);
		return JIT_E_ARG;
	}
	if ((n = readlink("/proc/self/exe", self, sizeof(self))) <= 0 ||
	    (size_t)n >= sizeof(self))
		return JIT_E_IO;
	self[n] = '\0';
	if ((kc = kubeconfig_json(c, self)) == NULL)
		return JIT_E_NOMEM;
	text = json_object_to_json_string_ext(
	    kc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (asprintf(&e->kubeconfig, "%s/jitctl-kube.XXXXXX", cli_tmp_dir()) <
	    0) {
		e->kubeconfig = NULL;
		r = JIT_E_NOMEM;
		goto out;
	}
	/* mkstemp: 0600, a new file; what it holds is no secret. */
	if ((fd = mkstemp(e->kubeconfig)) < 0) {
		cli_err("cannot create a kubeconfig in %s: %s", cli_tmp_dir(),
		    strerror(errno));
		free(e->kubeconfig);
		e->kubeconfig = NULL;
		r = JIT_E_ARG;
		goto out;
	}
	if ((r = cli_write_all(fd, text, strlen(text))) != 0 ||
	    (r = cli_write_all(fd, "\n", 1)) != 0)
		goto out;
	r = add_var(e, "KUBECONFIG", strlen("KUBECONFIG"), e->kubeconfig,
	    strlen(e->kubeconfig), c->name);
out:
	if (fd >= 0)
		close(fd);
	json_object_put(kc);
	return r;
}

static int
vars_ssh(struct exec_env *e, const struct exec_cred *c)
{
	struct field f;
	int r;

	if (fields_get(c->fields, "cert", &f) != 0) {
		cli_err("%s (kind ssh-cert) has no field 'cert'", c->name);
		return JIT_E_ARG;
	}
	if (e->proxy == NULL && (r = sshproxy_new(&e->proxy)) != 0)
		return r;
	if ((r = sshproxy_allow_line(e->proxy, f.val, f.vallen)) != 0) {
		cli_err("%s: its certificate line cannot be read", c->name);
		return JIT_E_ARG;
	}
	return JIT_OK;
}

/* Is the environ entry s one that a variable replaces? */
static bool
overridden(const struct exec_env *e, const char *s)
{
	const char *eq = strchr(s, '=');
	size_t i, n;

	if (eq == NULL)
		return false;
	n = (size_t)(eq - s);
	for (i = 0; i < e->n; i++)
		if (e->v[i].namelen == n && memcmp(e->v[i].name, s, n) == 0)
			return true;
	return false;
}

/* NAME=VALUE strings and the pointer array, both in guarded memory. */
static int
build_vec(struct exec_env *e)
{
	size_t nenv = 0, total = 0, i, j = 0;
	char **v, *p;
	int r;

	for (i = 0; i < e->n; i++)
		total += e->v[i].namelen + 1 + e->v[i].vallen + 1;
	while (environ != NULL && environ[nenv] != NULL)
		nenv++;
	if (nenv > SECRET_MAX / sizeof(char *) - e->n - 1)
		return JIT_E_LIMIT;
	if ((r = secret_new(total > 0 ? total : 1, &e->strings)) != 0 ||
	    (r = secret_new((nenv + e->n + 1) * sizeof(char *), &e->vec)) != 0)
		return r;
	v = (char **)(void *)secret_ptr(e->vec);
	p = (char *)secret_ptr(e->strings);
	for (i = 0; i < e->n; i++) {
		v[j++] = p;
		memcpy(p, e->v[i].name, e->v[i].namelen);
		p += e->v[i].namelen;
		*p++ = '=';
		memcpy(p, e->v[i].val, e->v[i].vallen);
		p += e->v[i].vallen;
		*p++ = '\0';
	}
	for (i = 0; i < nenv; i++)
		if (!overridden(e, environ[i]))
			v[j++] = environ[i];
	v[j] = NULL;
	return JIT_OK;
}

/* Without a kind from the agent: is this the one field "secret"? */
static bool
single_secret(const struct secret *fields)
{
	struct field f;
	uint32_t count;

	return fields_validate(fields, &count) == 0 && count == 1 &&
	    fields_get(fields, FIELD_DEFAULT, &f) == 0;
}

struct drop_args {
	const struct exec_cred *creds;
	size_t n;
};

/* In the private agent's process: no credential's plaintext. */
static void
drop_fields(void *arg)
{
	const struct drop_args *d = arg;
	size_t i;

	for (i = 0; i < d->n; i++)
		secret_free(d->creds[i].fields);
}

int
exec_env_new(const struct exec_cred *creds, size_t n, struct exec_env **ret)
{
	struct exec_env *e;
	struct drop_args d = { creds, n };
	char *sock = NULL;
	const char *kind;
	size_t i;
	int r = JIT_OK;

	*ret = NULL;
	if (n > EXEC_CREDS_MAX)
		return JIT_E_LIMIT;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return JIT_E_NOMEM;
	for (i = 0; i < n && r == 0; i++) {
		const struct exec_cred *c = &creds[i];

		kind = cli_jstr(c->cred, JP_CRED_KIND);
		if (kind == NULL)
			r = vars_fields(e, c, single_secret(c->fields));
		else if (strcmp(kind, "aws") == 0)
			r = vars_aws(e, c, e->expiry[i], sizeof(e->expiry[i]));
		else if (strcmp(kind, "kube") == 0)
			r = vars_kube(e, c);
		else if (strcmp(kind, "ssh-cert") == 0)
			r = vars_ssh(e, c);
		else
			r = vars_fields(e, c, strcmp(kind, "secret") == 0);
	}
	if (r == 0 && e->proxy != NULL) {
		if ((r = cli_socket_path(&sock)) == 0 &&
		    (r = sshproxy_start(
			 e->proxy, sock, drop_fields, &d, &e->ssh_sock)) == 0)
			r = add_var(e, "SSH_AUTH_SOCK", strlen("SSH_AUTH_SOCK"),
			    e->ssh_sock, strlen(e->ssh_sock), "ssh-cert");
		free(sock);
	}
	if (r == 0)
		r = build_vec(e);
	if (r != 0) {
		exec_env_free(e);
		return r;
	}
	*ret = e;
	return JIT_OK;
}

char **
exec_env_vec(struct exec_env *e)
{
	return (char **)(void *)secret_ptr(e->vec);
}

void
exec_env_wipe(struct exec_env *e)
{
	secret_free(e->strings);
	secret_free(e->vec);
	e->strings = e->vec = NULL;
	e->n = 0;
}

void
exec_env_free(struct exec_env *e)
{
	if (e == NULL)
		return;
	exec_env_wipe(e);
	if (e->kubeconfig != NULL)
		(void)unlink(e->kubeconfig);
	free(e->kubeconfig);
	sshproxy_free(e->proxy);
	free(e);
}
