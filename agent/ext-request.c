/* The request verb: run a profile's issuer off the loop and store what it prints. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "approval.h"
#include "conf.h"
#include "duration.h"
#include "err.h"
#include "events.h"
#include "ext.h"
#include "fields.h"
#include "hwq.h"
#include "jsonx.h"
#include "log.h"
#include "proc.h"
#include "proto-names.h"
#include "revoke.h"
#include "secret.h"
#include "sjson.h"
#include "ssh-agent.h"
#include "ssh-key.h"
#include "store.h"
#include "vault.h"
#include "wire.h"

#define SSH_SEED_LEN 32
#define SSH_PUB_FILE "id_ed25519.pub"
#define SSH_PUB_COMMENT "jit-agent"
#define PENDING_MAX 256 /* requests running at once */

struct issue_job {
	struct hwjob hj; /* first: hwq frees the job */
	char *name, *profile, *kind, *reason;
	int64_t ttl_s;
	enum stepup stepup;
	bool unlock_on_use;
	enum conf_output output;
	bool ssh;
	struct conf_map *map; /* copies: a reload may come */
	size_t nmap;
	char **rfields;
	size_t nrfields;
	struct conf_argv argv;
	struct proc_env env;
	int64_t timeout_ms;
	char *tmpbase; /* ssh-cert: where the key goes */
	struct peer peer; /* its exe resolved at accept */
	char *request_id, *approvers; /* after approvals; else NULL */
	/* Written by the worker. */
	struct proc_result pr;
	struct secret *seed; /* ssh-cert: the key's seed */
	struct secret *fields;
	struct cred_pub pub[CRED_PUBLIC_MAX];
	size_t npub;
	char why[640]; /* for the person */
	char why_audit[256]; /* without stderr */
};

/* Names with a request running, so that two do not race for one name. */
struct pending {
	struct pending *next;
	struct agent *ag;
	char *name;
};
static struct pending *pending_head;
static size_t npending;

static bool
pending_has(struct agent *ag, const char *name)
{
	struct pending *p;

	for (p = pending_head; p != NULL; p = p->next)
		if (p->ag == ag && strcmp(p->name, name) == 0)
			return true;
	return false;
}

static int
pending_add(struct agent *ag, const char *name)
{
	struct pending *p;

	if (npending >= PENDING_MAX)
		return JIT_E_BUSY;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->name = strdup(name)) == NULL) {
		free(p);
		return JIT_E_NOMEM;
	}
	p->ag = ag;
	p->next = pending_head;
	pending_head = p;
	npending++;
	return JIT_OK;
}

static void
pending_remove(struct agent *ag, const char *name)
{
	struct pending **pp, *p;

	for (pp = &pending_head; (p = *pp) != NULL; pp = &p->next) {
		if (p->ag == ag && strcmp(p->name, name) == 0) {
			*pp = p->next;
			free(p->name);
			free(p);
			npending--;
			return;
		}
	}
}

static void
issue_job_free(struct issue_job *j)
{
	size_t i;

	free(j->name);
	free(j->profile);
	free(j->kind);
	free(j->reason);
	free(j->request_id);
	free(j->approvers);
	for (i = 0; i < j->nmap; i++) {
		free(j->map[i].field);
		free(j->map[i].path);
	}
	free(j->map);
	for (i = 0; i < j->nrfields; i++)
		free(j->rfields[i]);
	free(j->rfields);
	conf_argv_free(&j->argv);
	proc_env_free(&j->env);
	free(j->tmpbase);
	proc_result_reset(&j->pr);
	secret_free(j->seed);
	secret_free(j->fields);
	for (i = 0; i < j->npub; i++) {
		free(j->pub[i].name);
		free(j->pub[i].value);
	}
	/* j itself is freed by hwq, or by the caller before submission */
}

/* Append as much of s to out as fits, always terminated. */
static void
append_cut(char *out, size_t outlen, const char *s)
{
	size_t used = strnlen(out, outlen - 1), n;

	n = strnlen(s, outlen - 1 - used);
	memcpy(out + used, s, n);
	out[used + n] = '\0';
}

static void
copy_cut(char *out, size_t outlen, const char *s)
{
	out[0] = '\0';
	append_cut(out, outlen, s);
}

static void set_why(struct issue_job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A failure that quotes nothing from the output: the same for both. */
static void
set_why(struct issue_job *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->why, sizeof(j->why), fmt, ap);
	va_end(ap);
	copy_cut(j->why_audit, sizeof(j->why_audit), j->why);
}

/* ---- in the worker thread ---- */

/* The public half as an OpenSSH line: "ssh-ed25519 BASE64 jit-agent". */
static int
ssh_keygen(struct issue_job *j, char *line, size_t linelen)
{
	struct ssh_key *k = NULL;
	const uint8_t *blob;
	size_t bloblen;
	char b64[128];
	int r;

	if ((r = secret_new(SSH_SEED_LEN, &j->seed)) != 0)
		return r;
	randombytes_buf(secret_ptr(j->seed), SSH_SEED_LEN);
	if ((r = ssh_key_ed25519_from_seed(j->seed, &k)) != 0)
		return r;
	blob = ssh_key_plain_blob(k, &bloblen);
	if (sodium_base64_ENCODED_LEN(bloblen, sodium_base64_VARIANT_ORIGINAL) >
	    sizeof(b64)) {
		ssh_key_free(k);
		return JIT_E_INTERNAL;
	}
	sodium_bin2base64(
	    b64, sizeof(b64), blob, bloblen, sodium_base64_VARIANT_ORIGINAL);
	snprintf(
	    line, linelen, "%s %s " SSH_PUB_COMMENT "\n", ssh_key_name(k), b64);
	ssh_key_free(k);
	return JIT_OK;
}

/* Remove what the issuer may have left next to the key (its -cert.pub). */
static void
remove_tmpdir(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((d = opendir(dir)) != NULL) {
		fd = dirfd(d);
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (unlinkat(fd, de->d_name, 0) != 0)
				log_warn("cannot remove %s/%s: %s", dir,
				    de->d_name, strerror(errno));
		}
		closedir(d);
	}
	if (rmdir(dir) != 0)
		log_warn("cannot remove %s: %s", dir, strerror(errno));
}

static int
write_pubkey(const char *path, const char *line)
{
	size_t len = strlen(line);
	int fd, r = JIT_OK;

	if ((fd = open(path,
		 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) <
	    0)
		return JIT_E_IO;
	if (write(fd, line, len) != (ssize_t)len)
		r = JIT_E_IO;
	if (close(fd) != 0)
		r = JIT_E_IO;
	return r;
}

/* stdout without its trailing newline (and \r), if any. */
static size_t
trimmed_len(const struct secret *out)
{
	struct wire_reader r;

	wire_reader_init(&r, secret_ptr(out), secret_len(out));
	(void)wire_trim_end(&r, "\n", 1);
	(void)wire_trim_end(&r, "\r", 1);
	return wire_left(&r);
}

static int
fields_one(
    const char *name, const uint8_t *val, size_t len, struct secret **ret)
{
	struct fields_builder b;
	int r;

	if ((r = fields_begin(&b)) != 0 ||
	    (r = fields_add(&b, name, strlen(name), val, len)) != 0) {
		fields_abort(&b);
		return r;
	}
	return fields_finish(&b, ret);
}

static int
map_ssh(struct issue_job *j)
{
	struct fields_builder b;
	struct wire_reader out;
	const uint8_t *p;
	struct secret *b64 = NULL;
	size_t n, b64len;
	int r;

	wire_reader_init(&out, secret_ptr(j->pr.out), secret_len(j->pr.out));
	(void)wire_trim_end(&out, "\n\r \t", SIZE_MAX);
	if (wire_left(&out) == 0) {
		set_why(j, "the issuer printed no certificate line");
		return JIT_E_ISSUER;
	}
	/* No maximum here: the output's cap bounds it, and fields_add says
	 * when it is too long for a field. */
	if (wire_get_line(&out, SIZE_MAX, &p, &n, NULL) != 0 ||
	    wire_end(&out) != 0) {
		set_why(j,
		    "the issuer must print one certificate line (the -cert.pub file), and it printed more");
		return JIT_E_ISSUER;
	}
	b64len = sodium_base64_ENCODED_LEN(
	    SSH_SEED_LEN, sodium_base64_VARIANT_ORIGINAL);
	if ((r = secret_new(b64len, &b64)) != 0)
		return r;
	sodium_bin2base64((char *)secret_ptr(b64), b64len, secret_ptr(j->seed),
	    SSH_SEED_LEN, sodium_base64_VARIANT_ORIGINAL);
	if ((r = fields_begin(&b)) != 0 ||
	    (r = fields_add(&b, SSH_CRED_FIELD_KEY, strlen(SSH_CRED_FIELD_KEY),
		 secret_ptr(b64), strlen((const char *)secret_ptr(b64)))) !=
		0 ||
	    (r = fields_add(&b, SSH_CRED_FIELD_CERT,
		 strlen(SSH_CRED_FIELD_CERT), p, n)) != 0) {
		fields_abort(&b);
		goto out;
	}
	r = fields_finish(&b, &j->fields);
out:
	secret_free(b64);
	if (r != 0 && r != JIT_E_NOMEM && r != JIT_E_MLOCK)
		set_why(j,
		    "the certificate line is not a field value (at most %d bytes)",
		    FIELD_VALUE_MAX);
	return r != 0 ? JIT_E_ISSUER : JIT_OK;
}

static int
map_json(struct issue_job *j)
{
	struct fields_builder b;
	struct secret *all = NULL;
	struct field f;
	size_t i;
	int r;

	if ((r = sjson_to_fields(j->pr.out, &all)) != 0) {
		if (r == JIT_E_NOMEM || r == JIT_E_MLOCK)
			return r;
		set_why(j,
		    "the issuer's output is not a JSON object of strings, numbers and booleans (nested objects are read as dotted names, arrays are refused)%s",
		    r == JIT_E_LIMIT ? ": too many fields or nested too deep" :
			r == JIT_E_EXISTS ? ": a name repeats" :
					    "");
		return JIT_E_ISSUER;
	}
	if (j->nmap == 0) {
		j->fields = all;
		return JIT_OK;
	}
	if ((r = fields_begin(&b)) != 0)
		goto out;
	for (i = 0; i < j->nmap; i++) {
		if (fields_get(all, j->map[i].path, &f) != 0) {
			set_why(j,
			    "the issuer's output has no \"%s\" (for field.%s)",
			    j->map[i].path, j->map[i].field);
			r = JIT_E_ISSUER;
			goto out;
		}
		if ((r = fields_add(&b, j->map[i].field,
			 strlen(j->map[i].field), f.val, f.vallen)) != 0)
			goto out;
	}
	r = fields_finish(&b, &j->fields);
out:
	fields_abort(&b);
	secret_free(all);
	return r;
}

/* The fields the profile declares public, copied for the revoke. */
static int
keep_public(struct issue_job *j)
{
	struct field f;
	size_t i;

	for (i = 0; i < j->nrfields && i < CRED_PUBLIC_MAX; i++) {
		if (fields_get(j->fields, j->rfields[i], &f) != 0) {
			set_why(j,
			    "the issuer's output has no field %s (revoke_fields)",
			    j->rfields[i]);
			return JIT_E_ISSUER;
		}
		if (f.vallen > CRED_PUBLIC_VALUE_MAX) {
			set_why(j, "revoke field %s is longer than %d bytes",
			    j->rfields[i], CRED_PUBLIC_VALUE_MAX);
			return JIT_E_ISSUER;
		}
		if ((j->pub[i].name = strdup(j->rfields[i])) == NULL ||
		    (j->pub[i].value = strndup(
			 (const char *)f.val, f.vallen)) == NULL) {
			free(j->pub[i].name);
			j->pub[i].name = NULL;
			return JIT_E_NOMEM;
		}
		j->npub++;
	}
	return JIT_OK;
}

static void
issue_run(struct hwjob *hj)
{
	struct issue_job *j = (struct issue_job *)hj;
	struct proc_spec spec;
	char dir[512], path[600], line[160], prog[128], desc[480];
	bool made_dir = false;
	size_t n;
	int r;

	/* Once started it runs to the end, even if the client leaves: what
	 * the issuer makes upstream must be stored or revoked, not lost. */
	memset(&spec, 0, sizeof(spec));
	spec.argv = j->argv.v;
	spec.envp = j->env.v;
	spec.timeout_ms = j->timeout_ms;
	spec.out_max = PROC_OUT_MAX;
	if (j->ssh) {
		snprintf(dir, sizeof(dir), "%s/jit-issuer-XXXXXX", j->tmpbase);
		if ((r = ssh_keygen(j, line, sizeof(line))) != 0 ||
		    mkdtemp(dir) == NULL) {
			set_why(j, "cannot make the SSH key: %s",
			    r != 0 ? jit_strerror(r) : strerror(errno));
			hj->result = r != 0 ? r : JIT_E_IO;
			return;
		}
		made_dir = true;
		snprintf(path, sizeof(path), "%s/" SSH_PUB_FILE, dir);
		if ((r = write_pubkey(path, line)) != 0 ||
		    (r = proc_env_set(&j->env, "JIT_SSH_PUBKEY", path)) != 0) {
			set_why(j, "cannot write the public key: %s",
			    jit_strerror(r));
			hj->result = r;
			goto out;
		}
		spec.envp = j->env.v;
		spec.stdin_path = path;
	}
	r = proc_run(&spec, &j->pr);
	if (r != 0) {
		log_escape(
		    j->argv.v[0], strlen(j->argv.v[0]), prog, sizeof(prog));
		proc_describe(&j->pr, j->timeout_ms, true, desc, sizeof(desc));
		snprintf(
		    j->why, sizeof(j->why), "the issuer %s %s", prog, desc);
		proc_describe(&j->pr, j->timeout_ms, false, desc, sizeof(desc));
		copy_cut(j->why_audit, sizeof(j->why_audit), "the issuer ");
		append_cut(j->why_audit, sizeof(j->why_audit), desc);
		hj->result = r == JIT_E_TIMEOUT ? JIT_E_TIMEOUT : JIT_E_ISSUER;
		goto out;
	}
	if (j->ssh)
		r = map_ssh(j);
	else if (j->output == CONF_OUTPUT_RAW) {
		n = trimmed_len(j->pr.out);
		if (n == 0 || memchr(secret_ptr(j->pr.out), '\0', n) != NULL) {
			set_why(j, "the issuer printed %s",
			    n == 0 ? "nothing" : "a NUL byte");
			r = JIT_E_ISSUER;
		} else if ((r = fields_one(FIELD_DEFAULT, secret_ptr(j->pr.out),
				n, &j->fields)) != 0 &&
		    r != JIT_E_NOMEM)
			set_why(j, "the issuer printed more than %d bytes",
			    FIELD_VALUE_MAX);
	} else
		r = map_json(j);
	if (r == 0)
		r = keep_public(j);
	if (r != 0 && j->why[0] == '\0')
		set_why(j, "%s", jit_strerror(r));
	hj->result = r;
out:
	/* The output is in the fields now, or it is dropped. */
	secret_free(j->pr.out);
	j->pr.out = NULL;
	if (made_dir)
		remove_tmpdir(dir);
}

/* ---- back on the loop ---- */

/* An ssh-cert: the certificate must certify our key; its end bounds ours. */
static int
check_ssh(struct agent *ag, struct issue_job *j)
{
	struct ssh_key *k = NULL;
	const struct ssh_cert *cert;
	struct field f;
	uint8_t *blob = NULL;
	size_t len;
	int64_t now = (int64_t)time(NULL);
	char why[160];
	int r;

	(void)ag;
	if ((r = ssh_cred_check_fields(j->fields, why, sizeof(why))) != 0) {
		set_why(j, "the issuer's certificate cannot be used: %s", why);
		return JIT_E_ISSUER;
	}
	if ((r = fields_get(j->fields, SSH_CRED_FIELD_CERT, &f)) != 0 ||
	    (r = ssh_key_line_blob(
		 (const char *)f.val, f.vallen, &blob, &len)) != 0 ||
	    (r = ssh_key_from_blob(blob, len, &k)) != 0 ||
	    (cert = ssh_key_cert(k)) == NULL) {
		set_why(j, "the issuer's certificate cannot be read");
		r = JIT_E_ISSUER;
		goto out;
	}
	if (cert->valid_before <= (uint64_t)now) {
		set_why(j, "the issuer's certificate has already expired");
		r = JIT_E_ISSUER;
		goto out;
	}
	if (cert->valid_before < (uint64_t)(now + j->ttl_s))
		j->ttl_s = (int64_t)cert->valid_before - now;
	r = JIT_OK;
out:
	ssh_key_free(k);
	free(blob);
	return r;
}

/* The request's line; JIT_OK, or why it is not in the log. */
static int
audit_request(
    struct agent *ag, struct issue_job *j, int r, const struct cred *c)
{
	struct json_object *ev;

	if ((ev = event_new("request")) == NULL)
		return event_emit(ag, ev);
	event_str(ev, "name", j->name);
	event_str(ev, "profile", j->profile);
	event_str(ev, "kind", j->kind);
	event_str(ev, "reason", j->reason);
	event_int(ev, "ttl", j->ttl_s);
	event_str(ev, "request_id", j->request_id);
	event_str(ev, "approvers", j->approvers);
	event_int(ev, "status", proc_status(&j->pr));
	event_str(ev, "result", r == 0 ? "ok" : jit_errname(r));
	if (r != 0)
		event_str(ev, "error", j->why_audit);
	if (c != NULL)
		event_int(ev, "not_after", c->not_after);
	event_peer(ev, &j->peer);
	return event_emit(ag, ev);
}

static int
reply_ok(struct agent *ag, struct conn *conn, const struct cred *c)
{
	struct json_object *res, *arr;
	size_t i;
	int r;

	if ((res = json_object_new_object()) == NULL)
		return JIT_E_NOMEM;
	(void)jsonx_add_str(res, JP_RES_REQUEST_NAME, c->name);
	(void)jsonx_add_str(res, JP_RES_REQUEST_PROFILE, c->profile);
	(void)jsonx_add_str(res, JP_RES_REQUEST_KIND, c->kind);
	(void)jsonx_add_int(res, JP_RES_REQUEST_NOT_AFTER, c->not_after);
	arr = json_object_new_array();
	for (i = 0; i < c->nfields; i++)
		json_object_array_add(
		    arr, json_object_new_string(c->field_names[i]));
	json_object_object_add(res, JP_RES_REQUEST_FIELDS, arr);
	arr = json_object_new_array();
	for (i = 0; i < c->nwraps; i++) {
		struct hw_token *t = store_token_by_id(
		    ag->store, c->wraps[i].token_id);

		if (t != NULL)
			json_object_array_add(
			    arr, json_object_new_string(t->label));
	}
	json_object_object_add(res, JP_RES_REQUEST_TOKENS, arr);
	r = reply_ext_ok(conn, res, NULL);
	json_object_put(res);
	return r;
}

static int
store_issued(struct agent *ag, struct issue_job *j, struct cred **ret)
{
	struct cred_new a;
	struct cred *old;
	int r;

	old = store_cred(ag->store, j->name);
	if (old != NULL && time(NULL) < old->not_after) {
		set_why(
		    j, "a credential named %s was stored meanwhile", j->name);
		return JIT_E_EXISTS;
	}
	if (old != NULL) {
		/* The expired one dies upstream before it is replaced. */
		revoke_if_expired(ag, old);
		vault_wipe(ag->vault, old);
	}
	memset(&a, 0, sizeof(a));
	a.name = j->name;
	a.kind = j->kind;
	a.ttl_s = j->ttl_s;
	a.stepup = j->stepup;
	a.unlock_on_use = j->unlock_on_use;
	a.replace = old != NULL;
	a.profile = j->profile;
	a.reason = j->reason;
	a.pub = j->pub;
	a.npub = j->npub;
	if ((r = store_put_cred(ag->store, &a, j->fields, ret)) != 0)
		set_why(j, "it cannot be stored: %s",
		    r == JIT_E_NOTOKEN ? "no token is enrolled" :
					 jit_strerror(r));
	return r;
}

static void
issue_done(struct hwjob *hj)
{
	struct issue_job *j = (struct issue_job *)hj;
	struct agent *ag = hj->ag;
	struct conn *conn = hj->conn;
	struct cred *c = NULL;
	char unaudited[256] = "";
	int r = hj->result, ra;
	bool minted, undeleted = false;

	if (conn != NULL)
		conn_set_job(conn, NULL);
	pending_remove(ag, j->name);
	if (r == JIT_E_CANCELLED && !j->pr.spawned)
		set_why(j, "the client left before the issuer started");
	minted = r == 0;
	if (r == 0 && j->ssh)
		r = check_ssh(ag, j);
	if (r == 0)
		r = store_issued(ag, j, &c);
	/* Audited before it is handed out; if it cannot be, it is not kept. */
	if (r == 0 && (ra = audit_request(ag, j, 0, c)) != 0) {
		event_refusal(ag, ra, unaudited, sizeof(unaudited));
		if (store_delete_cred(ag->store, j->name) != 0) {
			log_error(
			    "%s: issued but not audited, and its file could not be deleted",
			    j->name);
			undeleted = true;
		}
		c = NULL;
		r = ra;
	}
	if (r != 0 && minted) {
		/* Made upstream, not kept here: it must not live on. */
		revoke_unstored(
		    ag, j->name, j->profile, j->reason, j->pub, j->npub);
		append_cut(
		    j->why, sizeof(j->why), "; it is being revoked upstream");
	}
	if (r != 0 && unaudited[0] == '\0')
		(void)audit_request(ag, j, r, c);
	if (conn != NULL) {
		if (r == 0 && reply_ok(ag, conn, c) != 0)
			reply_ext_err(conn, JIT_E_INTERNAL, -1, NULL);
		else if (unaudited[0] != '\0' && undeleted)
			reply_ext_err(conn, r, -1,
			    "profile %s: %s; the credential is stored but could not be deleted either: revoke %s once the disk works%s",
			    j->profile, unaudited, j->name,
			    minted ? " (it is being revoked upstream)" : "");
		else if (unaudited[0] != '\0')
			reply_ext_err(conn, r, -1,
			    "profile %s: %s; the credential was not stored%s",
			    j->profile, unaudited,
			    minted ? " and is being revoked upstream" : "");
		else if (r != 0)
			reply_ext_err(conn, r, -1,
			    "profile %s: %s; nothing was stored", j->profile,
			    j->why);
		conn_done(conn);
	} else if (r == 0)
		log_info("%s was requested and stored; its client had left",
		    j->name);
	if (r == 0)
		revoke_rearm(ag);
	issue_job_free(j);
}

/* ---- the verb ---- */

static int
copy_profile(struct issue_job *j, const struct conf_profile *p)
{
	size_t i;
	int r;

	if ((j->kind = strdup(p->kind)) == NULL ||
	    (r = conf_argv_dup(&p->issuer, &j->argv)) != 0)
		return JIT_E_NOMEM;
	j->stepup = p->stepup;
	j->unlock_on_use = p->unlock_on_use;
	j->output = p->output;
	j->ssh = strcmp(p->kind, SSH_CRED_KIND) == 0;
	j->timeout_ms = p->timeout_s * 1000;
	if (p->nmap > 0 && (j->map = calloc(p->nmap, sizeof(*j->map))) == NULL)
		return JIT_E_NOMEM;
	for (i = 0; i < p->nmap; i++) {
		if ((j->map[i].field = strdup(p->map[i].field)) == NULL ||
		    (j->map[i].path = strdup(p->map[i].path)) == NULL) {
			free(j->map[i].field);
			return JIT_E_NOMEM;
		}
		j->nmap++;
	}
	if (p->nrevoke_fields > 0 &&
	    (j->rfields = calloc(p->nrevoke_fields, sizeof(*j->rfields))) ==
		NULL)
		return JIT_E_NOMEM;
	for (i = 0; i < p->nrevoke_fields; i++) {
		if ((j->rfields[i] = strdup(p->revoke_fields[i])) == NULL)
			return JIT_E_NOMEM;
		j->nrfields++;
	}
	return JIT_OK;
}

/* What the issuer is told, in its environment: never on its command line,
 * where every user of the machine could read the reason. */
static int
issuer_env(struct issue_job *j)
{
	char num[32];
	int r;

	if ((r = proc_env_init(&j->env)) != 0 ||
	    (r = proc_env_set(&j->env, "JIT_PROFILE", j->profile)) != 0 ||
	    (r = proc_env_set(&j->env, "JIT_NAME", j->name)) != 0 ||
	    (r = proc_env_set(&j->env, "JIT_KIND", j->kind)) != 0 ||
	    (r = proc_env_set(&j->env, "JIT_REASON", j->reason)) != 0 ||
	    (r = proc_env_set(&j->env, "JIT_REQUESTER_EXE", j->peer.exe)) != 0)
		return r;
	snprintf(num, sizeof(num), "%lld", (long long)j->ttl_s);
	if ((r = proc_env_set(&j->env, "JIT_TTL", num)) != 0)
		return r;
	/* After approvals: who approved, for the issuer's own records. */
	if (j->request_id != NULL &&
	    ((r = proc_env_set(&j->env, "JIT_REQUEST_ID", j->request_id)) !=
		    0 ||
		(r = proc_env_set(&j->env, "JIT_APPROVERS", j->approvers)) !=
		    0))
		return r;
	snprintf(num, sizeof(num), "%u", (unsigned)j->peer.uid);
	if ((r = proc_env_set(&j->env, "JIT_REQUESTER_UID", num)) != 0)
		return r;
	snprintf(num, sizeof(num), "%d", (int)j->peer.pid);
	return proc_env_set(&j->env, "JIT_REQUESTER_PID", num);
}

/* A waiting request: its text for the approvers (the announce event is
 * its audit line). */
static void
reply_waiting(struct conn *conn, const struct approval_req *w)
{
	struct json_object *res;

	if ((res = json_object_new_object()) != NULL &&
	    (jsonx_add_str(res, JP_RES_REQUEST_ID, w->id) != 0 ||
		jsonx_add_str(res, JP_RES_REQUEST_TEXT, w->text) != 0 ||
		jsonx_add_str(res, JP_RES_REQUEST_PROFILE, w->profile) != 0 ||
		jsonx_add_str(res, JP_RES_REQUEST_NAME, w->name) != 0 ||
		jsonx_add_int(res, JP_RES_REQUEST_NEEDED, w->needed) != 0 ||
		jsonx_add_int(res, JP_RES_REQUEST_APPROVALS,
		    (int64_t)w->napprovers) != 0 ||
		jsonx_add_int(res, JP_RES_REQUEST_EXPIRES, w->expires) != 0)) {
		json_object_put(res);
		res = NULL;
	}
	reply_ext_result(conn, res);
}

int
request_start(struct agent *ag, struct request *rq, const char *profile,
    const char *name, const char *reason, int64_t ttl,
    const struct approval_req *approved)
{
	const struct conf_profile *p;
	const struct approval_req *w;
	struct issue_job *j = NULL;
	struct cred *old;
	char when[64], why[512], who[1024];
	int r;

	if ((p = conf_profile(ag->conf, profile)) == NULL) {
		reply_ext_err(rq->conn, JIT_E_NOENT, -1,
		    "no profile named %s in %s: see jit-agent.conf(5)", profile,
		    ag->conf != NULL ? ag->conf->path : "the configuration");
		return JIT_OK;
	}
	/* Before the issuer mints anything upstream. */
	if (ext_check_wrappable(ag, rq->conn) != 0)
		return JIT_OK;
	if (name == NULL)
		name = profile;
	if (!policy_name_ok(name)) {
		reply_ext_err(rq->conn, JIT_E_ARG, -1,
		    "a credential name is 1 to %d letters, digits, '_', '.' or '-'",
		    CRED_NAME_MAX);
		return JIT_OK;
	}
	if (ttl == 0)
		ttl = p->default_ttl_s;
	if (ttl > p->max_ttl_s) {
		duration_format(p->max_ttl_s, when, sizeof(when));
		reply_ext_err(rq->conn, JIT_E_ARG, -1,
		    "profile %s allows at most %s (its max_ttl)", profile,
		    when);
		return JIT_OK;
	}
	/* Refuse before anything is made upstream. */
	if (store_ntokens(ag->store) == 0) {
		reply_ext_err(rq->conn, JIT_E_NOTOKEN, -1,
		    "no token is enrolled to wrap it to: run 'jitctl enroll' first");
		return JIT_OK;
	}
	if ((old = store_cred(ag->store, name)) != NULL &&
	    time(NULL) < old->not_after) {
		duration_format(
		    old->not_after - (int64_t)time(NULL), when, sizeof(when));
		reply_ext_err(rq->conn, JIT_E_EXISTS, -1,
		    "%s exists and is valid for %s more: use it, or 'jitctl revoke %s' first",
		    name, when, name);
		return JIT_OK;
	}
	if (pending_has(ag, name)) {
		reply_ext_err(rq->conn, JIT_E_BUSY, -1,
		    "a request for %s is already running", name);
		return JIT_OK;
	}
	/* A second person must approve first: the request waits. */
	if (p->approvals > 0 && approved == NULL) {
		if ((r = approval_create(ag, rq->peer, p, name, reason, ttl, &w,
			 why, sizeof(why))) != 0) {
			reply_ext_err(rq->conn, r, -1, "%s", why);
			return JIT_OK;
		}
		reply_waiting(rq->conn, w);
		return JIT_OK;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return JIT_E_NOMEM;
	j->peer = *rq->peer;
	j->ttl_s = ttl;
	if ((j->name = strdup(name)) == NULL ||
	    (j->profile = strdup(profile)) == NULL ||
	    (j->reason = strdup(reason)) == NULL ||
	    (j->tmpbase = strdup(proc_tmp_base())) == NULL ||
	    asprintf(&j->hj.device, "issuer:%s", profile) < 0) {
		j->hj.device = NULL;
		r = JIT_E_NOMEM;
		goto fail;
	}
	if (approved != NULL) {
		approval_approvers(approved, who, sizeof(who));
		if ((j->request_id = strdup(approved->id)) == NULL ||
		    (j->approvers = strdup(who)) == NULL) {
			r = JIT_E_NOMEM;
			goto fail;
		}
	}
	if ((r = copy_profile(j, p)) != 0 || (r = issuer_env(j)) != 0 ||
	    (r = pending_add(ag, name)) != 0)
		goto fail;
	j->hj.conn = rq->conn;
	j->hj.run = issue_run;
	j->hj.done = issue_done;
	if ((r = hwq_submit(ag->hwq, &j->hj)) != 0) {
		pending_remove(ag, name);
		goto fail;
	}
	conn_set_job(rq->conn, &j->hj);
	return AGENT_DEFERRED;
fail:
	free(j->hj.device);
	issue_job_free(j);
	free(j);
	return r;
}

int
ext_request(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	const char *profile, *reason, *name = NULL;
	int64_t ttl = 0;
	int r;

	(void)payload;
	if ((r = ext_str_arg(args, JP_ARG_REQUEST_PROFILE, PROFILE_NAME_MAX,
		 &profile)) != 0 ||
	    (r = ext_str_arg(
		 args, JP_ARG_REQUEST_REASON, CRED_REASON_MAX, &reason)) != 0)
		return r == JIT_E_LIMIT ? r : JIT_E_FORMAT;
	if (((r = jsonx_opt_str(
		  args, JP_ARG_REQUEST_NAME, CRED_NAME_MAX, &name)) != 0 &&
		r != JIT_E_NOENT) ||
	    ((r = jsonx_opt_int(
		  args, JP_ARG_REQUEST_TTL, 1, DURATION_MAX_S, &ttl)) != 0 &&
		r != JIT_E_NOENT))
		return JIT_E_FORMAT;
	if (!ext_reason_ok(reason)) {
		reply_ext_err(rq->conn, JIT_E_ARG, -1,
		    "the reason is one line of text (1 to %d bytes, no control characters)",
		    CRED_REASON_MAX);
		return JIT_OK;
	}
	return request_start(ag, rq, profile, name, reason, ttl, NULL);
}
