/* allowed_signers files (ssh-keygen(1)): who may sign in which namespace, and when. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "fsutil.h"
#include "sshsig.h"
#include "wire.h"

#define OPTION_MAX 1024

static const char *const key_types[] = {
	"ssh-ed25519",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	"ssh-rsa",
	"sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com",
};

static bool
is_key_type(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
		if (strlen(key_types[i]) == n &&
		    memcmp(key_types[i], p, n) == 0)
			return true;
	return false;
}

/* A blank-separated word; blanks inside double quotes belong to it. */
static size_t
get_word(struct wire_reader *r, const uint8_t **ret)
{
	const uint8_t *start;
	size_t n = 0;
	bool quoted = false;
	uint8_t c;

	(void)wire_skip_span(r, " \t");
	start = wire_cursor(r);
	while (wire_peek_u8(r, &c) == 0) {
		if (!quoted && (c == ' ' || c == '\t'))
			break;
		if (c == '"')
			quoted = !quoted;
		(void)wire_skip(r, 1);
		n++;
	}
	*ret = start;
	return n;
}

/* A word without its surrounding quotes, as a C string. */
static int
unquote(const uint8_t *p, size_t n, char **ret)
{
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		p++;
		n -= 2;
	}
	if (memchr(p, '"', n) != NULL || memchr(p, '\0', n) != NULL)
		return JIT_E_FORMAT;
	if ((*ret = strndup((const char *)p, n)) == NULL)
		return JIT_E_NOMEM;
	return JIT_OK;
}

static int
two(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* YYYYMMDD[HHMM[SS]][Z]: UTC with Z, else the local time (as OpenSSH). */
static int
parse_time(const char *s, int64_t *ret)
{
	struct tm tm;
	size_t n = strlen(s), i;
	bool utc = false;
	time_t t;

	if (n > 0 && (s[n - 1] == 'Z' || s[n - 1] == 'z')) {
		utc = true;
		n--;
	}
	if (n != 8 && n != 12 && n != 14)
		return JIT_E_FORMAT;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return JIT_E_FORMAT;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = two(s) * 100 + two(s + 2) - 1900;
	tm.tm_mon = two(s + 4) - 1;
	tm.tm_mday = two(s + 6);
	if (n >= 12) {
		tm.tm_hour = two(s + 8);
		tm.tm_min = two(s + 10);
	}
	if (n == 14)
		tm.tm_sec = two(s + 12);
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return JIT_E_FORMAT;
	tm.tm_isdst = -1;
	if ((t = utc ? timegm(&tm) : mktime(&tm)) == (time_t)-1)
		return JIT_E_FORMAT;
	*ret = (int64_t)t;
	return JIT_OK;
}

static bool
opt_is(const uint8_t *p, size_t n, const char *name)
{
	size_t len = strlen(name);

	return n > len && p[len] == '=' &&
	    strncasecmp((const char *)p, name, len) == 0;
}

/* cert-authority, namespaces="...", valid-after="...", valid-before="...". */
static int
parse_options(const uint8_t *opts, size_t len, struct signer_line *l, char *why,
    size_t whylen)
{
	struct wire_reader r;
	const uint8_t *p;
	char *v = NULL;
	size_t n;
	bool quoted;
	uint8_t c;
	int rc;

	wire_reader_init(&r, opts, len);
	while (wire_left(&r) > 0) {
		p = wire_cursor(&r);
		n = 0;
		quoted = false;
		while (wire_get_u8(&r, &c) == 0) {
			if (c == ',' && !quoted)
				break;
			if (c == '"')
				quoted = !quoted;
			n++;
		}
		if (n == 14 &&
		    strncasecmp((const char *)p, "cert-authority", 14) == 0) {
			l->cert_authority = true;
			continue;
		}
		if (opt_is(p, n, "namespaces")) {
			if (l->namespaces != NULL ||
			    unquote(p + 11, n - 11, &l->namespaces) != 0) {
				snprintf(why, whylen,
				    "namespaces= is given twice or badly quoted");
				return JIT_E_FORMAT;
			}
			continue;
		}
		if (opt_is(p, n, "valid-after") ||
		    opt_is(p, n, "valid-before")) {
			bool after = opt_is(p, n, "valid-after");
			size_t skip = after ? 12 : 13;

			if ((rc = unquote(p + skip, n - skip, &v)) != 0 ||
			    parse_time(v,
				after ? &l->valid_after : &l->valid_before) !=
				0) {
				snprintf(why, whylen,
				    "%s= is not a time YYYYMMDD[HHMM[SS]][Z]",
				    after ? "valid-after" : "valid-before");
				free(v);
				return JIT_E_FORMAT;
			}
			free(v);
			v = NULL;
			continue;
		}
		snprintf(why, whylen,
		    "an unknown option (cert-authority, namespaces=, valid-after=, valid-before=)");
		return JIT_E_FORMAT;
	}
	return JIT_OK;
}

/* One line: principals [options] type base64 [comment]. */
static int
parse_line(const uint8_t *text, size_t len, struct signer_line *l, char *why,
    size_t whylen)
{
	struct wire_reader r;
	const uint8_t *w, *type, *b64;
	size_t n, typelen, b64len;
	char *typename = NULL;
	int rc;

	wire_reader_init(&r, text, len);
	n = get_word(&r, &w);
	if ((rc = unquote(w, n, &l->principals)) != 0 ||
	    l->principals[0] == '\0') {
		snprintf(why, whylen, "the principals are badly quoted");
		return JIT_E_FORMAT;
	}
	typelen = get_word(&r, &type);
	if (typelen > 0 && !is_key_type(type, typelen)) {
		if ((rc = parse_options(type, typelen, l, why, whylen)) != 0)
			return rc;
		typelen = get_word(&r, &type);
	}
	if (typelen == 0 || !is_key_type(type, typelen)) {
		snprintf(why, whylen,
		    "no key type (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, sk-ssh-ed25519@openssh.com ...) after the principals and options");
		return JIT_E_FORMAT;
	}
	b64len = get_word(&r, &b64);
	(void)b64;
	/* ssh_key_line_blob reads "TYPE BASE64" from the type on. */
	if (b64len == 0 ||
	    ssh_key_line_blob((const char *)type,
		(size_t)(wire_cursor(&r) - type), &l->key, &l->keylen) != 0) {
		snprintf(why, whylen, "the key is not base64");
		return JIT_E_FORMAT;
	}
	/* The blob must be of the type the line names. */
	wire_reader_init(&r, l->key, l->keylen);
	if (wire_get_cstring(&r, SSH_KEY_NAME_MAX, &typename) != 0 ||
	    strlen(typename) != typelen ||
	    memcmp(typename, type, typelen) != 0) {
		free(typename);
		snprintf(
		    why, whylen, "the key is not of the type the line names");
		return JIT_E_FORMAT;
	}
	free(typename);
	return JIT_OK;
}

static void
line_free(struct signer_line *l)
{
	free(l->principals);
	free(l->namespaces);
	free(l->key);
}

void
allowed_signers_free(struct allowed_signers *as)
{
	size_t i;

	if (as == NULL)
		return;
	for (i = 0; i < as->n; i++)
		line_free(&as->v[i]);
	free(as->v);
	free(as);
}

int
allowed_signers_parse(const uint8_t *text, size_t len,
    struct allowed_signers **ret, char *why, size_t whylen)
{
	struct allowed_signers *as;
	struct signer_line *nv, l;
	struct wire_reader r, lr;
	const uint8_t *p;
	size_t n;
	char lwhy[200];
	int lineno = 0, rc = JIT_OK;
	uint8_t c;

	if (len > SIGNERS_FILE_MAX) {
		snprintf(why, whylen, "the file is larger than %d bytes",
		    SIGNERS_FILE_MAX);
		return JIT_E_LIMIT;
	}
	if ((as = calloc(1, sizeof(*as))) == NULL)
		return JIT_E_NOMEM;
	wire_reader_init(&r, text, len);
	while (wire_left(&r) > 0) {
		lineno++;
		if ((rc = wire_get_line(&r, SIGNERS_LINE_MAX, &p, &n, NULL)) !=
		    0) {
			snprintf(why, whylen, "line %d: %s", lineno,
			    rc == JIT_E_LIMIT ? "the line is too long" :
						"a NUL byte");
			goto fail;
		}
		wire_reader_init(&lr, p, n);
		(void)wire_trim_end(&lr, " \t\r", SIZE_MAX);
		(void)wire_skip_span(&lr, " \t");
		if (wire_peek_u8(&lr, &c) != 0 || c == '#')
			continue;
		if (as->n >= SIGNERS_LINES_MAX) {
			snprintf(why, whylen, "more than %d signers",
			    SIGNERS_LINES_MAX);
			rc = JIT_E_LIMIT;
			goto fail;
		}
		memset(&l, 0, sizeof(l));
		l.line = lineno;
		lwhy[0] = '\0';
		if ((rc = parse_line(wire_cursor(&lr), wire_left(&lr), &l, lwhy,
			 sizeof(lwhy))) != 0) {
			line_free(&l);
			snprintf(why, whylen, "line %d: %s", lineno,
			    rc == JIT_E_NOMEM ? jit_strerror(rc) : lwhy);
			goto fail;
		}
		if ((nv = reallocarray(as->v, as->n + 1, sizeof(*nv))) ==
		    NULL) {
			line_free(&l);
			rc = JIT_E_NOMEM;
			snprintf(why, whylen, "%s", jit_strerror(rc));
			goto fail;
		}
		as->v = nv;
		as->v[as->n++] = l;
	}
	*ret = as;
	return JIT_OK;
fail:
	allowed_signers_free(as);
	return rc;
}

int
allowed_signers_load(
    const char *path, struct allowed_signers **ret, char *why, size_t whylen)
{
	char *text = NULL, lwhy[256];
	size_t len;
	int r;

	if ((r = fs_read_file(path, SIGNERS_FILE_MAX, &text, &len)) != 0) {
		snprintf(why, whylen, "%s: %s", path,
		    r == JIT_E_LIMIT ? "larger than the limit" :
				       jit_strerror(r));
		return r;
	}
	if ((r = allowed_signers_parse(
		 (const uint8_t *)text, len, ret, lwhy, sizeof(lwhy))) != 0)
		snprintf(why, whylen, "%s: %s", path, lwhy);
	free(text);
	return r;
}

bool
sshsig_pattern_list(const char *s, const char *list)
{
	char pat[SSHSIG_PRINCIPAL_MAX];
	const char *p = list, *end;
	bool matched = false, neg;
	size_t n;

	while (*p != '\0') {
		end = strchr(p, ',');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		neg = n > 0 && p[0] == '!';
		if (n - (neg ? 1 : 0) < sizeof(pat)) {
			memcpy(pat, p + (neg ? 1 : 0), n - (neg ? 1 : 0));
			pat[n - (neg ? 1 : 0)] = '\0';
			if (ssh_pattern_match(s, pat)) {
				if (neg)
					return false;
				matched = true;
			}
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return matched;
}

static bool
key_matches(const struct signer_line *l, const struct sshsig_signer *s)
{
	const struct ssh_cert *cert;
	const uint8_t *ca;
	size_t calen;

	cert = s->key != NULL ? ssh_key_cert(s->key) : NULL;
	if (cert != NULL) {
		if (!l->cert_authority)
			return false;
		ca = ssh_key_blob(cert->ca, &calen);
		return calen == l->keylen && memcmp(ca, l->key, calen) == 0;
	}
	return !l->cert_authority && l->keylen == s->publen &&
	    memcmp(l->key, s->pub, s->publen) == 0;
}

int
allowed_signers_find(const struct allowed_signers *as,
    const struct sshsig_signer *s, const char *ns, int64_t now, char *principal,
    size_t plen, char *why, size_t whylen)
{
	const struct ssh_cert *cert;
	const struct signer_line *l;
	size_t i, k;
	int r = JIT_E_NOENT;

	snprintf(why, whylen,
	    "the key %s is not in the approvers' allowed_signers file", s->fp);
	cert = s->key != NULL ? ssh_key_cert(s->key) : NULL;
	for (i = 0; i < as->n; i++) {
		l = &as->v[i];
		if (!key_matches(l, s))
			continue;
		if (l->namespaces != NULL &&
		    !sshsig_pattern_list(ns, l->namespaces)) {
			snprintf(why, whylen,
			    "the key %s may sign only in namespaces %s (line %d of the approvers' file), not %s",
			    s->fp, l->namespaces, l->line, ns);
			r = JIT_E_DENIED;
			continue;
		}
		if ((l->valid_after != 0 && now < l->valid_after) ||
		    (l->valid_before != 0 && now > l->valid_before)) {
			snprintf(why, whylen,
			    "the key %s is outside its valid-after/valid-before window now (line %d of the approvers' file)",
			    s->fp, l->line);
			r = JIT_E_EXPIRED;
			continue;
		}
		if (cert == NULL) {
			snprintf(principal, plen, "%s", l->principals);
			return JIT_OK;
		}
		if (cert->type != SSH_CERT_USER ||
		    (uint64_t)now < cert->valid_after ||
		    (uint64_t)now >= cert->valid_before) {
			snprintf(why, whylen,
			    "the certificate of key %s (id %s) is not a user certificate valid now",
			    s->fp, cert->key_id);
			r = JIT_E_EXPIRED;
			continue;
		}
		for (k = 0; k < cert->nprincipals; k++) {
			if (sshsig_pattern_list(
				cert->principals[k], l->principals)) {
				snprintf(
				    principal, plen, "%s", cert->principals[k]);
				return JIT_OK;
			}
		}
		snprintf(why, whylen,
		    "the certificate of key %s (id %s) names none of the principals %s (line %d of the approvers' file)",
		    s->fp, cert->key_id, l->principals, l->line);
		r = JIT_E_DENIED;
	}
	return r;
}
