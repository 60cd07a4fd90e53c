/* Requests that wait for approvals: made, signed by others, counted, kept on disk. */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent.h"
#include "approval.h"
#include "conf.h"
#include "err.h"
#include "events.h"
#include "fsutil.h"
#include "jsonx.h"
#include "log.h"
#include "sshsig.h"

#define REQ_DIR "requests"
#define FIELD_MAX 1024
#define HOST_MAX 256

/* The requests of the agent (one per process), read from disk once. */
static struct approval_req *reqs;
static size_t nreqs;
static bool loaded;

static void
req_free(struct approval_req *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->profile);
	free(r->name);
	free(r->reason);
	free(r->user);
	free(r->host);
	for (i = 0; i < r->napprovers; i++)
		free(r->approvers[i].principal);
	free(r->text);
	free(r);
}

static void
utc(int64_t t, char *out, size_t outlen)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outlen, "%lld", (long long)t);
}

/* The text an approver signs: every field of the request, one per line. */
static int
make_text(struct approval_req *r)
{
	char created[32], expires[32];
	int n;

	utc(r->created, created, sizeof(created));
	utc(r->expires, expires, sizeof(expires));
	n = asprintf(&r->text,
	    APPROVAL_BEGIN "\n"
			   "id: %s\n"
			   "profile: %s\n"
			   "name: %s\n"
			   "reason: %s\n"
			   "ttl: %lld\n"
			   "requester: %s@%s\n"
			   "uid: %u\n"
			   "approvals: %d\n"
			   "created: %s\n"
			   "expires: %s\n" APPROVAL_END "\n",
	    r->id, r->profile, r->name, r->reason, (long long)r->ttl_s, r->user,
	    r->host, (unsigned)r->uid, r->needed, created, expires);
	if (n < 0) {
		r->text = NULL;
		return JIT_E_NOMEM;
	}
	return (size_t)n > APPROVAL_TEXT_MAX ? JIT_E_LIMIT : JIT_OK;
}

static int
req_path(const struct agent *ag, const char *id, char **ret)
{
	if (asprintf(ret, "%s/" REQ_DIR "/%s.json", ag->data_dir, id) < 0)
		return JIT_E_NOMEM;
	return JIT_OK;
}

static int
req_save(const struct agent *ag, const struct approval_req *r)
{
	struct json_object *o, *arr, *a;
	char *path = NULL;
	size_t i;
	int rc = JIT_E_NOMEM;

	if ((o = json_object_new_object()) == NULL ||
	    (arr = json_object_new_array()) == NULL) {
		json_object_put(o);
		return JIT_E_NOMEM;
	}
	json_object_object_add(o, "approvals", arr);
	if (jsonx_add_str(o, "id", r->id) != 0 ||
	    jsonx_add_str(o, "profile", r->profile) != 0 ||
	    jsonx_add_str(o, "name", r->name) != 0 ||
	    jsonx_add_str(o, "reason", r->reason) != 0 ||
	    jsonx_add_str(o, "user", r->user) != 0 ||
	    jsonx_add_str(o, "host", r->host) != 0 ||
	    jsonx_add_int(o, "uid", (int64_t)r->uid) != 0 ||
	    jsonx_add_int(o, "ttl", r->ttl_s) != 0 ||
	    jsonx_add_int(o, "created", r->created) != 0 ||
	    jsonx_add_int(o, "expires", r->expires) != 0 ||
	    jsonx_add_int(o, "needed", r->needed) != 0)
		goto out;
	for (i = 0; i < r->napprovers; i++) {
		if ((a = json_object_new_object()) == NULL ||
		    json_object_array_add(arr, a) != 0) {
			json_object_put(a);
			goto out;
		}
		if (jsonx_add_str(a, "principal", r->approvers[i].principal) !=
			0 ||
		    jsonx_add_str(a, "fingerprint", r->approvers[i].fp) != 0 ||
		    jsonx_add_int(a, "at", r->approvers[i].at) != 0)
			goto out;
	}
	if ((rc = req_path(ag, r->id, &path)) != 0)
		goto out;
	rc = jsonx_save_file(path, o);
out:
	free(path);
	json_object_put(o);
	return rc;
}

bool
approval_id_ok(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
			(id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return i == APPROVAL_ID_LEN;
}

/* One line of the text is one field: no control characters. */
static bool
one_line(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return i > 0;
}

static int
dup_str(struct json_object *o, const char *key, char **ret)
{
	const char *s;
	int rc;

	if ((rc = jsonx_get_str(o, key, FIELD_MAX, &s)) != 0)
		return rc;
	if (!one_line(s))
		return JIT_E_FORMAT;
	if ((*ret = strdup(s)) == NULL)
		return JIT_E_NOMEM;
	return JIT_OK;
}

static int
req_parse(struct json_object *o, struct approval_req **ret)
{
	struct approval_req *r;
	struct json_object *arr, *a;
	const char *s;
	int64_t v;
	size_t i, n;
	int rc;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return JIT_E_NOMEM;
	if ((rc = jsonx_get_str(o, "id", APPROVAL_ID_LEN, &s)) != 0)
		goto fail;
	rc = JIT_E_FORMAT;
	if (!approval_id_ok(s))
		goto fail;
	memcpy(r->id, s, APPROVAL_ID_LEN + 1);
	if ((rc = dup_str(o, "profile", &r->profile)) != 0 ||
	    (rc = dup_str(o, "name", &r->name)) != 0 ||
	    (rc = dup_str(o, "reason", &r->reason)) != 0 ||
	    (rc = dup_str(o, "user", &r->user)) != 0 ||
	    (rc = dup_str(o, "host", &r->host)) != 0 ||
	    (rc = jsonx_get_int(o, "uid", 0, UINT32_MAX - 1, &v)) != 0)
		goto fail;
	r->uid = (uid_t)v;
	if ((rc = jsonx_get_int(o, "ttl", 1, INT32_MAX, &r->ttl_s)) != 0 ||
	    (rc = jsonx_get_int(o, "created", 0, INT64_MAX / 2, &r->created)) !=
		0 ||
	    (rc = jsonx_get_int(o, "expires", 0, INT64_MAX / 2, &r->expires)) !=
		0 ||
	    (rc = jsonx_get_int(o, "needed", 1, APPROVALS_MAX, &v)) != 0)
		goto fail;
	r->needed = (int)v;
	rc = JIT_E_FORMAT;
	if (!json_object_object_get_ex(o, "approvals", &arr) ||
	    !json_object_is_type(arr, json_type_array) ||
	    (n = json_object_array_length(arr)) > APPROVALS_MAX)
		goto fail;
	for (i = 0; i < n; i++) {
		a = json_object_array_get_idx(arr, i);
		if ((rc = dup_str(
			 a, "principal", &r->approvers[i].principal)) != 0)
			goto fail;
		r->napprovers++;
		if ((rc = jsonx_get_str(
			 a, "fingerprint", SSH_FP_LEN - 1, &s)) != 0 ||
		    (rc = jsonx_get_int(
			 a, "at", 0, INT64_MAX / 2, &r->approvers[i].at)) != 0)
			goto fail;
		snprintf(
		    r->approvers[i].fp, sizeof(r->approvers[i].fp), "%s", s);
	}
	if ((rc = make_text(r)) != 0)
		goto fail;
	*ret = r;
	return JIT_OK;
fail:
	req_free(r);
	return rc;
}

static void
audit_expired(struct agent *ag, const struct approval_req *r)
{
	struct json_object *ev;

	if ((ev = event_new("request-expired")) == NULL) {
		(void)event_emit(ag, ev);
		return;
	}
	event_str(ev, "request_id", r->id);
	event_str(ev, "profile", r->profile);
	event_str(ev, "name", r->name);
	event_int(ev, "approvals", (int64_t)r->napprovers);
	event_int(ev, "needed", r->needed);
	(void)event_emit(ag, ev);
}

static void
unlink_req(struct agent *ag, const char *id)
{
	char *path = NULL;

	if (req_path(ag, id, &path) == 0 && fs_unlink(path) != 0 &&
	    errno != ENOENT)
		log_warn("cannot remove the request file %s: %s", path,
		    strerror(errno));
	free(path);
}

/* Drop the requests past their end: audited, and their files removed. */
static void
sweep(struct agent *ag)
{
	struct approval_req **pp, *r;
	int64_t now = (int64_t)time(NULL);

	for (pp = &reqs; (r = *pp) != NULL;) {
		if (now < r->expires) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		nreqs--;
		audit_expired(ag, r);
		unlink_req(ag, r->id);
		req_free(r);
	}
}

/* The requests left by the agent before: a bad file is left alone. */
static void
load(struct agent *ag)
{
	struct json_object *o;
	struct approval_req *r;
	struct dirent *de;
	char *dir = NULL, *path;
	size_t n;
	DIR *d;

	if (loaded)
		return;
	loaded = true;
	if (asprintf(&dir, "%s/" REQ_DIR, ag->data_dir) < 0)
		return;
	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL && nreqs < APPROVAL_REQUESTS_MAX) {
		n = strlen(de->d_name);
		if (n != APPROVAL_ID_LEN + 5 ||
		    strcmp(de->d_name + APPROVAL_ID_LEN, ".json") != 0)
			continue;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
			break;
		o = NULL;
		r = NULL;
		if (jsonx_load_file(path, APPROVAL_FILE_MAX, &o) != 0 ||
		    req_parse(o, &r) != 0 ||
		    strncmp(r->id, de->d_name, APPROVAL_ID_LEN) != 0) {
			log_warn(
			    "%s is not a request this agent can read: it is left as it is",
			    path);
			req_free(r);
		} else {
			r->next = reqs;
			reqs = r;
			nreqs++;
		}
		json_object_put(o);
		free(path);
	}
	closedir(d);
	free(dir);
}

static struct approval_req *
find(const char *id)
{
	struct approval_req *r;

	for (r = reqs; r != NULL; r = r->next)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

size_t
approval_count(struct agent *ag)
{
	load(ag);
	sweep(ag);
	return nreqs;
}

static int
requester(uid_t uid, char **user, char **host)
{
	struct passwd pw, *res = NULL;
	char *buf, name[FIELD_MAX], h[HOST_MAX];
	size_t buflen = 16384;

	if ((buf = malloc(buflen)) == NULL)
		return JIT_E_NOMEM;
	if (getpwuid_r(uid, &pw, buf, buflen, &res) != 0 || res == NULL)
		snprintf(name, sizeof(name), "uid%u", (unsigned)uid);
	else
		snprintf(name, sizeof(name), "%s", pw.pw_name);
	free(buf);
	if (gethostname(h, sizeof(h)) != 0)
		snprintf(h, sizeof(h), "localhost");
	h[sizeof(h) - 1] = '\0';
	if (!one_line(name) || !one_line(h))
		return JIT_E_FORMAT;
	if ((*user = strdup(name)) == NULL || (*host = strdup(h)) == NULL)
		return JIT_E_NOMEM;
	return JIT_OK;
}

int
approval_create(struct agent *ag, const struct peer *peer,
    const struct conf_profile *p, const char *name, const char *reason,
    int64_t ttl_s, const struct approval_req **ret, char *why, size_t whylen)
{
	struct approval_req *r = NULL;
	struct json_object *ev;
	uint8_t rnd[APPROVAL_ID_LEN / 2];
	char *dir = NULL, fwhy[FS_WHY_MAX];
	int rc;

	load(ag);
	sweep(ag);
	if (nreqs >= APPROVAL_REQUESTS_MAX) {
		snprintf(why, whylen,
		    "%d requests already wait for approval: let them be approved or expire first",
		    APPROVAL_REQUESTS_MAX);
		return JIT_E_LIMIT;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return JIT_E_NOMEM;
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(r->id, sizeof(r->id), rnd, sizeof(rnd));
	r->uid = peer->uid;
	r->ttl_s = ttl_s;
	r->created = (int64_t)time(NULL);
	r->expires = r->created +
	    (p->approval_window_s > 0 ? p->approval_window_s :
					APPROVAL_WINDOW_DEFAULT_S);
	r->needed = p->approvals;
	rc = JIT_E_NOMEM;
	if ((r->profile = strdup(p->name)) == NULL ||
	    (r->name = strdup(name)) == NULL ||
	    (r->reason = strdup(reason)) == NULL)
		goto fail;
	if ((rc = requester(peer->uid, &r->user, &r->host)) != 0 ||
	    (rc = make_text(r)) != 0) {
		snprintf(why, whylen, "the request cannot be made: %s",
		    jit_strerror(rc));
		goto fail;
	}
	if (asprintf(&dir, "%s/" REQ_DIR, ag->data_dir) < 0) {
		dir = NULL;
		rc = JIT_E_NOMEM;
		goto fail;
	}
	if ((rc = fs_private_dir(
		 dir, "the requests' directory", fwhy, sizeof(fwhy))) != 0) {
		snprintf(why, whylen, "%s", fwhy);
		goto fail;
	}
	if ((rc = req_save(ag, r)) != 0) {
		snprintf(why, whylen, "the request cannot be stored in %s: %s",
		    dir, jit_strerror(rc));
		goto fail;
	}
	/* Audited before anyone is told of it; if not, it is not kept. */
	if ((ev = event_new("request-created")) != NULL) {
		event_str(ev, "request_id", r->id);
		event_str(ev, "profile", r->profile);
		event_str(ev, "name", r->name);
		event_str(ev, "reason", r->reason);
		event_int(ev, "ttl", r->ttl_s);
		event_int(ev, "needed", r->needed);
		event_int(ev, "expires", r->expires);
		event_peer(ev, peer);
	}
	if ((rc = event_emit(ag, ev)) != 0) {
		event_refusal(ag, rc, why, whylen);
		unlink_req(ag, r->id);
		goto fail;
	}
	r->next = reqs;
	reqs = r;
	nreqs++;
	*ret = r;
	free(dir);
	return JIT_OK;
fail:
	free(dir);
	req_free(r);
	return rc;
}

void
approval_approvers(const struct approval_req *r, char *out, size_t outlen)
{
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	for (i = 0; i < r->napprovers && used < outlen; i++) {
		n = snprintf(out + used, outlen - used, "%s%s (%s)",
		    i > 0 ? ", " : "", r->approvers[i].principal,
		    r->approvers[i].fp);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/*
 * The requester may not approve: a principal that is their login name, or
 * their user@host, or whose part before '@' is their login name.  A line
 * may name several principals ("a,b"): each is checked.
 */
static bool
one_is_requester(const struct approval_req *r, const char *p, size_t n)
{
	const char *at = memchr(p, '@', n);
	size_t ulen = strlen(r->user), hlen = strlen(r->host);

	if (n == ulen + 1 + hlen && strncmp(p, r->user, ulen) == 0 &&
	    p[ulen] == '@' && strncasecmp(p + ulen + 1, r->host, hlen) == 0)
		return true;
	if (at == NULL)
		return n == ulen && strncmp(p, r->user, ulen) == 0;
	return (size_t)(at - p) == ulen && strncmp(p, r->user, ulen) == 0;
}

static bool
is_requester(const struct approval_req *r, const char *principals)
{
	const char *p = principals, *end;
	size_t n;

	for (;;) {
		end = strchr(p, ',');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n > 0 && p[0] != '!' && one_is_requester(r, p, n))
			return true;
		if (end == NULL)
			return false;
		p = end + 1;
	}
}

static void
audit_refused(struct agent *ag, const struct peer *peer, const char *id,
    const char *fp, const char *why)
{
	struct json_object *ev;

	if ((ev = event_new("approval-refused")) != NULL) {
		event_str(ev, "request_id", id);
		event_str(ev, "fingerprint", fp);
		event_str(ev, "error", why);
		event_peer(ev, peer);
	}
	(void)event_emit(ag, ev);
}

/* Verify the signature and name its signer; why on refusal. */
static int
check_signature(const struct approval_req *r, const struct conf_profile *p,
    const char *armored, size_t len, char *principal, size_t plen, char *fp,
    char *why, size_t whylen)
{
	struct allowed_signers *as = NULL;
	struct sshsig_signer sg;
	struct sshsig s;
	uint8_t *blob = NULL;
	size_t bloblen;
	char swhy[512];
	int rc;

	memset(&sg, 0, sizeof(sg));
	if ((rc = sshsig_dearmor(armored, len, &blob, &bloblen)) != 0 ||
	    (rc = sshsig_parse(blob, bloblen, &s)) != 0) {
		snprintf(why, whylen,
		    "the approval is not an OpenSSH signature (-----BEGIN SSH SIGNATURE-----, from jitctl approve or ssh-keygen -Y sign)");
		goto out;
	}
	rc = sshsig_verify(&s, SSHSIG_NS_APPROVAL, (const uint8_t *)r->text,
	    strlen(r->text), &sg);
	if (rc == JIT_E_DENIED)
		snprintf(why, whylen,
		    "the signature is for namespace '%.64s', not %s: sign with ssh-keygen -Y sign -n %s",
		    s.ns, SSHSIG_NS_APPROVAL, SSHSIG_NS_APPROVAL);
	else if (rc == JIT_E_NO_TOUCH)
		snprintf(why, whylen,
		    "the security key signed without a touch: approve again and touch it");
	else if (rc == JIT_E_UNSUPPORTED)
		snprintf(why, whylen,
		    "the signature's key or hash is not one jit-agent verifies (ed25519, ecdsa, rsa-sha2, sk-; sha512 or sha256)");
	else if (rc != 0)
		snprintf(why, whylen,
		    "the signature does not verify over request %s as the agent holds it: it was made over another request or an edited copy",
		    r->id);
	if (rc != 0)
		goto out;
	snprintf(fp, SSH_FP_LEN, "%s", sg.fp);
	if (p->approvers == NULL) {
		snprintf(why, whylen,
		    "profile %s names no approvers file now: see approvers in jit-agent.conf(5)",
		    r->profile);
		rc = JIT_E_CONFIG;
		goto out;
	}
	if ((rc = allowed_signers_load(
		 p->approvers, &as, swhy, sizeof(swhy))) != 0) {
		snprintf(
		    why, whylen, "the approvers file cannot be read: %s", swhy);
		goto out;
	}
	if ((rc = allowed_signers_find(as, &sg, SSHSIG_NS_APPROVAL,
		 (int64_t)time(NULL), principal, plen, swhy, sizeof(swhy))) !=
	    0) {
		snprintf(why, whylen, "%s", swhy);
		rc = JIT_E_DENIED;
		goto out;
	}
	rc = JIT_OK;
out:
	allowed_signers_free(as);
	sshsig_signer_reset(&sg);
	free(blob);
	return rc;
}

int
approval_add(struct agent *ag, const struct peer *peer, const char *id,
    const char *armored, size_t len, const struct approval_req **ret, char *why,
    size_t whylen)
{
	const struct conf_profile *p;
	struct approval_req *r;
	struct json_object *ev;
	struct approver *a;
	char principal[SSHSIG_PRINCIPAL_MAX], fp[SSH_FP_LEN] = "";
	size_t i;
	int rc;

	load(ag);
	/* An expired one is refused as such before it is swept. */
	if ((r = find(id)) != NULL && (int64_t)time(NULL) >= r->expires) {
		snprintf(why, whylen,
		    "request %s expired: ask the requester for a new one", id);
		sweep(ag);
		rc = JIT_E_EXPIRED;
		goto refused;
	}
	sweep(ag);
	if (r == NULL) {
		snprintf(why, whylen,
		    "no request %s waits for approval (it was never made, was served already, or expired)",
		    id);
		rc = JIT_E_NOENT;
		goto refused;
	}
	if ((p = conf_profile(ag->conf, r->profile)) == NULL) {
		snprintf(why, whylen,
		    "profile %s of request %s is no longer in the configuration",
		    r->profile, id);
		rc = JIT_E_CONFIG;
		goto refused;
	}
	if ((rc = check_signature(r, p, armored, len, principal,
		 sizeof(principal), fp, why, whylen)) != 0)
		goto refused;
	if (is_requester(r, principal)) {
		snprintf(why, whylen,
		    "%s@%s made request %s and cannot approve it (signed as %s): a second person must",
		    r->user, r->host, id, principal);
		rc = JIT_E_DENIED;
		goto refused;
	}
	for (i = 0; i < r->napprovers; i++) {
		if (strcmp(r->approvers[i].fp, fp) == 0 ||
		    strcmp(r->approvers[i].principal, principal) == 0) {
			snprintf(why, whylen,
			    "%s (key %s) has already approved request %s: each approver counts once",
			    principal, fp, id);
			rc = JIT_E_EXISTS;
			goto refused;
		}
	}
	if (r->napprovers >= APPROVALS_MAX) {
		snprintf(why, whylen, "request %s has all its approvals", id);
		rc = JIT_E_LIMIT;
		goto refused;
	}
	a = &r->approvers[r->napprovers];
	if ((a->principal = strdup(principal)) == NULL)
		return JIT_E_NOMEM;
	snprintf(a->fp, sizeof(a->fp), "%s", fp);
	a->at = (int64_t)time(NULL);
	r->napprovers++;
	if ((ev = event_new("approved")) != NULL) {
		event_str(ev, "request_id", id);
		event_str(ev, "profile", r->profile);
		event_str(ev, "name", r->name);
		event_str(ev, "reason", r->reason);
		event_str(ev, "approver", principal);
		event_str(ev, "fingerprint", fp);
		event_int(ev, "approvals", (int64_t)r->napprovers);
		event_int(ev, "needed", r->needed);
		event_peer(ev, peer);
	}
	if ((rc = event_emit(ag, ev)) == 0 && (rc = req_save(ag, r)) != 0)
		snprintf(why, whylen, "the approval cannot be stored: %s",
		    jit_strerror(rc));
	else if (rc != 0)
		event_refusal(ag, rc, why, whylen);
	if (rc != 0) {
		r->napprovers--;
		free(a->principal);
		a->principal = NULL;
		return rc;
	}
	*ret = r;
	return JIT_OK;
refused:
	audit_refused(ag, peer, id, fp, why);
	return rc;
}

void
approval_forget(struct agent *ag, const char *id)
{
	struct approval_req **pp, *r;

	for (pp = &reqs; (r = *pp) != NULL; pp = &r->next) {
		if (strcmp(r->id, id) == 0) {
			*pp = r->next;
			nreqs--;
			unlink_req(ag, id);
			req_free(r);
			return;
		}
	}
}
