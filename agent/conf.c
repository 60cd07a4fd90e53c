/* The agent's configuration file, read with inih and checked before use. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "conf.h"
#include "duration.h"
#include "err.h"
#include "fields.h"
#include "fsutil.h"
#include "log.h"
#include "wire.h"
#include "words.h"

#define SECTION_MAX 128
#define KEY_MAX (FIELD_NAME_MAX + 8)

static const char *const kinds[] = {
	"secret",
	"env",
	"ssh-cert",
	"aws",
	"kube",
	"docker",
	"git",
};

/* Keys of a section, as bits, to refuse one given twice. */
enum {
	K_WINDOW = 1 << 0,
	K_TOUCH = 1 << 1,
	K_NOTIFY = 1 << 2,
	K_ASKPASS = 1 << 3,
	K_KIND = 1 << 4,
	K_ISSUER = 1 << 5,
	K_REVOKE = 1 << 6,
	K_OUTPUT = 1 << 7,
	K_DEFTTL = 1 << 8,
	K_MAXTTL = 1 << 9,
	K_TIMEOUT = 1 << 10,
	K_STEPUP = 1 << 11,
	K_ONLOCK = 1 << 12,
	K_RFIELDS = 1 << 13,
	K_EXES = 1 << 14,
	K_SHA1 = 1 << 15,
	K_PREFER = 1 << 16,
	K_REMOVAL = 1 << 17,
	K_IDLE = 1 << 18,
	K_SSHKEYS = 1 << 19,
	K_APPROVERS = 1 << 20,
	K_APPROVALS = 1 << 21,
	K_APPWINDOW = 1 << 22,
	K_METRICS = 1 << 23,
	K_EVLOG = 1 << 24,
	K_SYSLOGSOCK = 1 << 25,
	K_HOOKEVENT = 1 << 26,
	K_HOOKANNOUNCE = 1 << 27,
	K_HOOKTIMEOUT = 1 << 28,
	K_ROOTS = 1 << 29,
	K_REQUIRE = 1 << 30,
	/* seen is per section: a [profile] key may share an [agent] key's
	 * bit. */
	K_ONUSE = K_WINDOW,
};

struct parse_ctx {
	struct conf *c;
	struct wire_reader in; /* the file, for the reader */
	int line; /* the line handed to inih last */
	bool indented; /* it starts with a blank */
	bool header; /* a [section] line came */
	bool stop;
	char section[SECTION_MAX];
	bool in_section;
	bool agent_seen;
	bool in_hooks; /* in [hooks] */
	bool hooks_seen;
	bool enroll_seen;
	bool in_enroll; /* [enroll] */
	struct conf_profile *prof; /* NULL: in [agent] */
	unsigned seen; /* K_* of this section */
	char last_key[KEY_MAX];
	int err_line;
	char err[320];
};

bool
conf_kind_valid(const char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i]) == 0)
			return true;
	return false;
}

void
conf_argv_free(struct conf_argv *a)
{
	struct words w;

	if (a == NULL)
		return;
	w.v = a->v;
	w.n = a->n;
	words_free(&w);
	a->v = NULL;
	a->n = 0;
}

int
conf_argv_dup(const struct conf_argv *a, struct conf_argv *ret)
{
	struct words in = { a->v, a->n }, out;
	int r;

	if ((r = words_dup(&in, &out)) != 0)
		return r;
	ret->v = out.v;
	ret->n = out.n;
	return JIT_OK;
}

/* lib/words.c splits; a syntax error here is a configuration error. */
int
conf_split_argv(
    const char *s, struct conf_argv *a, size_t max, char *why, size_t whylen)
{
	struct words w = { a->v, a->n };
	int r;

	r = words_split(s, strlen(s), max, &w, why, whylen);
	a->v = w.v;
	a->n = w.n;
	return r == JIT_E_FORMAT || r == JIT_E_LIMIT ? JIT_E_CONFIG : r;
}

static void
profile_free(struct conf_profile *p)
{
	size_t i;

	free(p->name);
	free(p->kind);
	conf_argv_free(&p->issuer);
	conf_argv_free(&p->revoke);
	for (i = 0; i < p->nmap; i++) {
		free(p->map[i].field);
		free(p->map[i].path);
	}
	free(p->map);
	for (i = 0; i < p->nrevoke_fields; i++)
		free(p->revoke_fields[i]);
	free(p->revoke_fields);
	for (i = 0; i < p->nallowed_exes; i++)
		free(p->allowed_exes[i]);
	free(p->allowed_exes);
	free(p->approvers);
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nprofiles; i++)
		profile_free(&c->profiles[i]);
	free(c->profiles);
	conf_argv_free(&c->notify);
	free(c->askpass);
	for (i = 0; i < c->nprefer; i++)
		free(c->prefer[i]);
	free(c->prefer);
	free(c->metrics_file);
	free(c->syslog_socket);
	conf_argv_free(&c->hook_event);
	conf_argv_free(&c->hook_announce);
	free(c->attestation_roots);
	free(c->path);
	free(c);
}

const struct conf_profile *
conf_profile(const struct conf *c, const char *name)
{
	size_t i;

	if (c == NULL || name == NULL)
		return NULL;
	for (i = 0; i < c->nprofiles; i++)
		if (strcmp(c->profiles[i].name, name) == 0)
			return &c->profiles[i];
	return NULL;
}

int
conf_default_path(const char *given, char **ret)
{
	char *dir = NULL;
	int r;

	if (given != NULL && given[0] != '\0') {
		if ((*ret = strdup(given)) == NULL)
			return JIT_E_NOMEM;
		return JIT_OK;
	}
	if ((r = fs_default_dir(
		 NULL, "XDG_CONFIG_HOME", ".config", "jit-agent", &dir)) != 0)
		return r;
	r = asprintf(ret, "%s/config", dir) < 0 ? JIT_E_NOMEM : JIT_OK;
	free(dir);
	return r;
}

/* ---- parsing ---- */

static int perr(struct parse_ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Keep the first error, with its line; inih is told to go on quietly. */
static int
perr(struct parse_ctx *x, const char *fmt, ...)
{
	va_list ap;

	if (x->err[0] != '\0')
		return 0;
	va_start(ap, fmt);
	vsnprintf(x->err, sizeof(x->err), fmt, ap);
	va_end(ap);
	x->err_line = x->line;
	return 0;
}

/* An fgets for inih over the file in memory, counting lines. */
static char *
conf_reader(char *str, int num, void *stream)
{
	struct parse_ctx *x = stream;
	struct wire_reader line;
	const uint8_t *p;
	size_t n, max = CONF_LINE_MAX;
	bool ended;
	uint8_t c;

	if (x->stop || wire_left(&x->in) == 0 || num < 3)
		return NULL;
	x->line++;
	/* Room for the line, its newline and a NUL in inih's buffer. */
	if ((size_t)num - 2 < max)
		max = (size_t)num - 2;
	/* The file has no NUL (read_conf_file): only the length fails. */
	if (wire_get_line(&x->in, max, &p, &n, &ended) != 0) {
		(void)perr(
		    x, "the line is longer than %d characters", CONF_LINE_MAX);
		x->stop = true;
		return NULL;
	}
	memcpy(str, p, n);
	str[n] = '\n';
	str[n + (ended ? 1 : 0)] = '\0';
	wire_reader_init(&line, p, n);
	x->indented = wire_skip_span(&line, " \t") > 0;
	/* inih repeats the name of a section given twice in a row: a
	 * header line tells a second [profile a] from the first. */
	if (wire_peek_u8(&line, &c) == 0 && c == '[')
		x->header = true;
	return str;
}

static void
esc(const char *s, char *out, size_t outlen)
{
	log_escape(s, strlen(s), out, outlen);
}

static int
parse_bool(const char *v, bool *ret)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
	    strcmp(v, "on") == 0 || strcmp(v, "1") == 0)
		*ret = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
	    strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
		*ret = false;
	else
		return JIT_E_CONFIG;
	return JIT_OK;
}

static int
parse_duration(struct parse_ctx *x, const char *key, const char *v, int64_t max,
    int64_t *ret)
{
	char e[64];

	if (duration_parse(v, ret) != 0 || *ret > max) {
		esc(v, e, sizeof(e));
		return perr(x,
		    "%s: '%s' is not a duration of 1s to %llds (90s, 15m, 2h, 1d, 1h30m)",
		    key, e, (long long)max);
	}
	return 1;
}

/* A command: words, the first an absolute path (no $PATH lookup). */
static int
parse_argv(
    struct parse_ctx *x, const char *key, const char *v, struct conf_argv *a)
{
	char why[96];

	if (conf_split_argv(v, a, CONF_ARGV_MAX, why, sizeof(why)) != 0)
		return perr(x, "%s: %s", key, why);
	if (a->n == 0)
		return perr(x, "%s: empty command", key);
	if (a->v[0][0] != '/')
		return perr(x,
		    "%s: the program must be an absolute path (it is run without a shell and without $PATH)",
		    key);
	return 1;
}

/* A list of words into a string array of at most max. */
static int
parse_list(struct parse_ctx *x, const char *key, const char *v, size_t max,
    char ***list, size_t *n)
{
	struct conf_argv a = { NULL, 0 };
	char why[96], **nl;
	size_t i;

	if (conf_split_argv(v, &a, max - *n, why, sizeof(why)) != 0) {
		conf_argv_free(&a);
		return perr(x, "%s: %s", key, why);
	}
	if ((nl = reallocarray(*list, *n + a.n + 1, sizeof(*nl))) == NULL) {
		conf_argv_free(&a);
		return perr(x, "%s", jit_strerror(JIT_E_NOMEM));
	}
	*list = nl;
	for (i = 0; i < a.n; i++)
		nl[(*n)++] = a.v[i];
	nl[*n] = NULL;
	free(a.v);
	return 1;
}

static int
check_exes(struct parse_ctx *x, const struct conf_profile *p)
{
	char e[64];
	size_t i;

	for (i = 0; i < p->nallowed_exes; i++) {
		if (p->allowed_exes[i][0] != '/') {
			esc(p->allowed_exes[i], e, sizeof(e));
			return perr(x,
			    "allowed_executables: '%s' is not an absolute path",
			    e);
		}
	}
	return 1;
}

static int
check_field_names(struct parse_ctx *x, char **names, size_t n)
{
	char e[64];
	size_t i;

	for (i = 0; i < n; i++) {
		if (!fields_valid_name(
			(const uint8_t *)names[i], strlen(names[i]))) {
			esc(names[i], e, sizeof(e));
			return perr(x,
			    "revoke_fields: '%s' is not a field name ([A-Za-z0-9_.-])",
			    e);
		}
	}
	return 1;
}

/* "kind = env": an indented key, which inih reads as a continuation. */
static bool
looks_like_key(const char *v)
{
	static const char *const keys[] = { "kind", "issuer", "revoke",
		"output", "default_ttl", "max_ttl", "timeout", "stepup",
		"revoke_on_lock", "revoke_fields", "allowed_executables",
		"unlock_on_use", "default_window", "touch_timeout", "notify",
		"askpass", "ssh_rsa_sha1", "prefer", "approvers", "approvals",
		"approval_window", "metrics_file", "event_log", "syslog_socket",
		"lock_on_removal", "idle_lock", "ssh_keys_on_lock" };
	struct wire_reader r;
	const uint8_t *k;
	size_t n, i;

	wire_reader_init(&r, v, strlen(v));
	n = wire_get_until(&r, " \t=", &k);
	(void)wire_skip_span(&r, " \t");
	if (wire_expect(&r, "=", 1) != 0)
		return false;
	if (n > 6 && strncmp(v, "field.", 6) == 0)
		return true;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i]) == n && strncmp(v, keys[i], n) == 0)
			return true;
	return false;
}

/* Lines that start with a blank continue the previous value (inih). */
static int
continuation(struct parse_ctx *x, const char *name, const char *value)
{
	struct conf_profile *p = x->prof;

	if (looks_like_key(value))
		return perr(x,
		    "an indented line continues the value of %s: keys start at the beginning of the line",
		    name);
	if (x->last_key[0] == '\0' || strcmp(name, x->last_key) != 0)
		return perr(x,
		    "an indented line continues a value: keys start at the beginning of the line");
	if (x->in_hooks && strcmp(name, "event") == 0)
		return parse_argv(x, name, value, &x->c->hook_event);
	if (x->in_hooks && strcmp(name, "announce") == 0)
		return parse_argv(x, name, value, &x->c->hook_announce);
	if (p == NULL && strcmp(name, "notify") == 0)
		return parse_argv(x, name, value, &x->c->notify);
	if (p != NULL && strcmp(name, "issuer") == 0)
		return parse_argv(x, name, value, &p->issuer);
	if (p != NULL && strcmp(name, "revoke") == 0)
		return parse_argv(x, name, value, &p->revoke);
	if (p != NULL && strcmp(name, "revoke_fields") == 0)
		return parse_list(x, name, value, CONF_REVOKE_FIELDS_MAX,
			   &p->revoke_fields, &p->nrevoke_fields) &&
		    check_field_names(x, p->revoke_fields, p->nrevoke_fields);
	if (p != NULL && strcmp(name, "allowed_executables") == 0)
		return parse_list(x, name, value, CONF_EXES_MAX,
			   &p->allowed_exes, &p->nallowed_exes) &&
		    check_exes(x, p);
	return perr(x,
	    "%s: only commands and lists continue on an indented line", name);
}

static int
once(struct parse_ctx *x, unsigned bit, const char *key)
{
	if (x->seen & bit)
		return perr(x, "%s is given twice in this section", key);
	x->seen |= bit;
	return 1;
}

/* A key given once whose value is a yes or a no. */
static int
bool_key(struct parse_ctx *x, unsigned bit, const char *key, const char *v,
    bool *ret)
{
	if (!once(x, bit, key))
		return 0;
	if (parse_bool(v, ret) != 0)
		return perr(
		    x, "%s: true or false (or yes, no, on, off, 1, 0)", key);
	return 1;
}

/* prefer = LABEL, LABEL...: token labels, commas or blanks between. */
static int
parse_prefer(struct parse_ctx *x, const char *k, const char *v)
{
	char buf[CONF_VALUE_MAX + 1], *p;

	snprintf(buf, sizeof(buf), "%s", v);
	for (p = buf; *p != '\0'; p++)
		if (*p == ',')
			*p = ' ';
	return parse_list(
	    x, k, buf, CONF_PREFER_MAX, &x->c->prefer, &x->c->nprefer);
}
static int team_key(struct parse_ctx *x, const char *k, const char *v);

static int team_key(struct parse_ctx *x, const char *k, const char *v);

static int
agent_key(struct parse_ctx *x, const char *k, const char *v)
{
	struct conf *c = x->c;
	char e[64];

	if (strcmp(k, "default_window") == 0)
		return once(x, K_WINDOW, k) &&
		    parse_duration(
			x, k, v, DURATION_MAX_S, &c->default_window_s);
	if (strcmp(k, "touch_timeout") == 0)
		return once(x, K_TOUCH, k) &&
		    parse_duration(x, k, v, 600, &c->touch_timeout_s);
	if (strcmp(k, "notify") == 0)
		return once(x, K_NOTIFY, k) && parse_argv(x, k, v, &c->notify);
	if (strcmp(k, "askpass") == 0) {
		if (!once(x, K_ASKPASS, k))
			return 0;
		if (v[0] != '/')
			return perr(x, "askpass: an absolute path");
		if ((c->askpass = strdup(v)) == NULL)
			return perr(x, "%s", jit_strerror(JIT_E_NOMEM));
		return 1;
	}
	if (strcmp(k, "ssh_rsa_sha1") == 0)
		return bool_key(x, K_SHA1, k, v, &c->ssh_rsa_sha1);
	if (strcmp(k, "prefer") == 0)
		return once(x, K_PREFER, k) && parse_prefer(x, k, v);
	if (strcmp(k, "metrics_file") == 0 || strcmp(k, "event_log") == 0 ||
	    strcmp(k, "syslog_socket") == 0)
		return team_key(x, k, v);
	if (strcmp(k, "lock_on_removal") == 0)
		return bool_key(x, K_REMOVAL, k, v, &c->lock_on_removal);
	if (strcmp(k, "idle_lock") == 0)
		return once(x, K_IDLE, k) &&
		    parse_duration(x, k, v, DURATION_MAX_S, &c->idle_lock_s);
	if (strcmp(k, "ssh_keys_on_lock") == 0) {
		if (!once(x, K_SSHKEYS, k))
			return 0;
		if (strcmp(v, "remove") == 0)
			c->ssh_keys_on_lock = CONF_SSH_KEYS_REMOVE;
		else if (strcmp(v, "hold") == 0)
			c->ssh_keys_on_lock = CONF_SSH_KEYS_HOLD;
		else
			return perr(x, "ssh_keys_on_lock: remove or hold");
		return 1;
	}
	esc(k, e, sizeof(e));
	return perr(x,
	    "unknown key '%s' in [agent] (default_window, touch_timeout, notify, askpass, ssh_rsa_sha1, prefer, lock_on_removal, idle_lock, ssh_keys_on_lock, metrics_file, event_log, syslog_socket)",
	    e);
}

/* metrics_file, event_log, syslog_socket: the team sees the events. */
static int
team_key(struct parse_ctx *x, const char *k, const char *v)
{
	struct conf *c = x->c;
	char **dst;

	if (strcmp(k, "event_log") == 0) {
		if (!once(x, K_EVLOG, k))
			return 0;
		if (strcmp(v, "syslog") == 0)
			c->event_log = CONF_EVENT_LOG_SYSLOG;
		else if (strcmp(v, "journal") == 0)
			c->event_log = CONF_EVENT_LOG_JOURNAL;
		else if (strcmp(v, "none") == 0)
			c->event_log = CONF_EVENT_LOG_NONE;
		else
			return perr(x, "event_log: journal, syslog or none");
		return 1;
	}
	if (!once(x, strcmp(k, "metrics_file") == 0 ? K_METRICS : K_SYSLOGSOCK,
		k))
		return 0;
	if (v[0] != '/')
		return perr(x, "%s: an absolute path", k);
	dst = strcmp(k, "metrics_file") == 0 ? &c->metrics_file :
					       &c->syslog_socket;
	if ((*dst = strdup(v)) == NULL)
		return perr(x, "%s", jit_strerror(JIT_E_NOMEM));
	return 1;
}

/* [hooks]: commands that get each event as JSON on stdin. */
static int
hooks_key(struct parse_ctx *x, const char *k, const char *v)
{
	struct conf *c = x->c;
	char e[64];

	if (strcmp(k, "event") == 0)
		return once(x, K_HOOKEVENT, k) &&
		    parse_argv(x, k, v, &c->hook_event);
	if (strcmp(k, "announce") == 0)
		return once(x, K_HOOKANNOUNCE, k) &&
		    parse_argv(x, k, v, &c->hook_announce);
	if (strcmp(k, "timeout") == 0)
		return once(x, K_HOOKTIMEOUT, k) &&
		    parse_duration(
			x, k, v, CONF_TIMEOUT_MAX_S, &c->hook_timeout_s);
	esc(k, e, sizeof(e));
	return perr(
	    x, "unknown key '%s' in [hooks] (event, announce, timeout)", e);
}

/* [enroll]: what a token must prove to be enrolled (lib/attest.h). */
static int
enroll_key(struct parse_ctx *x, const char *k, const char *v)
{
	struct conf *c = x->c;
	char e[64];

	if (strcmp(k, "attestation_roots") == 0) {
		if (!once(x, K_ROOTS, k))
			return 0;
		if (v[0] != '/')
			return perr(x,
			    "attestation_roots: an absolute path to a PEM file");
		if ((c->attestation_roots = strdup(v)) == NULL)
			return perr(x, "%s", jit_strerror(JIT_E_NOMEM));
		return 1;
	}
	if (strcmp(k, "require_attestation") == 0)
		return bool_key(x, K_REQUIRE, k, v, &c->require_attestation);
	esc(k, e, sizeof(e));
	return perr(x,
	    "unknown key '%s' in [enroll] (attestation_roots, require_attestation)",
	    e);
}

static int
map_key(struct parse_ctx *x, const char *field, const char *path)
{
	struct conf_profile *p = x->prof;
	struct conf_map *nm;
	char e[64];
	size_t i;

	if (!fields_valid_name((const uint8_t *)field, strlen(field))) {
		esc(field, e, sizeof(e));
		return perr(
		    x, "field.%s: not a field name ([A-Za-z0-9_.-])", e);
	}
	if (!fields_valid_name((const uint8_t *)path, strlen(path))) {
		esc(path, e, sizeof(e));
		return perr(x,
		    "field.%s: '%s' is not a dotted path into the issuer's JSON (like data.password)",
		    field, e);
	}
	for (i = 0; i < p->nmap; i++)
		if (strcmp(p->map[i].field, field) == 0)
			return perr(x, "field.%s is given twice", field);
	if (p->nmap >= FIELDS_MAX)
		return perr(x, "more than %d fields", FIELDS_MAX);
	if ((nm = reallocarray(p->map, p->nmap + 1, sizeof(*nm))) == NULL)
		return perr(x, "%s", jit_strerror(JIT_E_NOMEM));
	p->map = nm;
	nm[p->nmap].field = strdup(field);
	nm[p->nmap].path = strdup(path);
	p->nmap++;
	if (nm[p->nmap - 1].field == NULL || nm[p->nmap - 1].path == NULL)
		return perr(x, "%s", jit_strerror(JIT_E_NOMEM));
	return 1;
}

static int approval_key(struct parse_ctx *x, const char *k, const char *v);

static int
profile_key(struct parse_ctx *x, const char *k, const char *v)
{
	struct conf_profile *p = x->prof;
	char e[64];

	if (strcmp(k, "kind") == 0) {
		if (!once(x, K_KIND, k))
			return 0;
		if (!conf_kind_valid(v)) {
			esc(v, e, sizeof(e));
			return perr(x,
			    "kind: '%s' is not secret, env, ssh-cert, aws, kube, docker or git",
			    e);
		}
		if ((p->kind = strdup(v)) == NULL)
			return perr(x, "%s", jit_strerror(JIT_E_NOMEM));
		return 1;
	}
	if (strcmp(k, "issuer") == 0)
		return once(x, K_ISSUER, k) && parse_argv(x, k, v, &p->issuer);
	if (strcmp(k, "revoke") == 0)
		return once(x, K_REVOKE, k) && parse_argv(x, k, v, &p->revoke);
	if (strcmp(k, "output") == 0) {
		if (!once(x, K_OUTPUT, k))
			return 0;
		if (strcmp(v, "json") == 0)
			p->output = CONF_OUTPUT_JSON;
		else if (strcmp(v, "raw") == 0)
			p->output = CONF_OUTPUT_RAW;
		else
			return perr(x, "output: json or raw");
		return 1;
	}
	if (strncmp(k, "field.", 6) == 0)
		return map_key(x, k + 6, v);
	if (strcmp(k, "default_ttl") == 0)
		return once(x, K_DEFTTL, k) &&
		    parse_duration(x, k, v, DURATION_MAX_S, &p->default_ttl_s);
	if (strcmp(k, "max_ttl") == 0)
		return once(x, K_MAXTTL, k) &&
		    parse_duration(x, k, v, DURATION_MAX_S, &p->max_ttl_s);
	if (strcmp(k, "timeout") == 0)
		return once(x, K_TIMEOUT, k) &&
		    parse_duration(x, k, v, CONF_TIMEOUT_MAX_S, &p->timeout_s);
	if (strcmp(k, "stepup") == 0) {
		if (!once(x, K_STEPUP, k))
			return 0;
		if (stepup_parse(v, &p->stepup) != 0)
			return perr(
			    x, "stepup: session, always, pin or confirm");
		return 1;
	}
	if (strcmp(k, "revoke_on_lock") == 0)
		return bool_key(x, K_ONLOCK, k, v, &p->revoke_on_lock);
	if (strcmp(k, "unlock_on_use") == 0)
		return bool_key(x, K_ONUSE, k, v, &p->unlock_on_use);
	if (strcmp(k, "revoke_fields") == 0)
		return once(x, K_RFIELDS, k) &&
		    parse_list(x, k, v, CONF_REVOKE_FIELDS_MAX,
			&p->revoke_fields, &p->nrevoke_fields) &&
		    check_field_names(x, p->revoke_fields, p->nrevoke_fields);
	if (strcmp(k, "allowed_executables") == 0)
		return once(x, K_EXES, k) &&
		    parse_list(x, k, v, CONF_EXES_MAX, &p->allowed_exes,
			&p->nallowed_exes) &&
		    check_exes(x, p);
	if (strcmp(k, "approvers") == 0 || strcmp(k, "approvals") == 0 ||
	    strcmp(k, "approval_window") == 0)
		return approval_key(x, k, v);
	esc(k, e, sizeof(e));
	return perr(x,
	    "unknown key '%s' in a profile (kind, issuer, output, field.NAME, default_ttl, max_ttl, timeout, stepup, unlock_on_use, revoke, revoke_fields, revoke_on_lock, allowed_executables, approvers, approvals, approval_window)",
	    e);
}

/* approvers = FILE (allowed_signers), approvals = N, approval_window. */
static int
approval_key(struct parse_ctx *x, const char *k, const char *v)
{
	struct conf_profile *p = x->prof;
	char *end;
	long n;

	if (strcmp(k, "approval_window") == 0)
		return once(x, K_APPWINDOW, k) &&
		    parse_duration(
			x, k, v, DURATION_MAX_S, &p->approval_window_s);
	if (strcmp(k, "approvals") == 0) {
		if (!once(x, K_APPROVALS, k))
			return 0;
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || n < 1 ||
		    n > CONF_APPROVALS_MAX)
			return perr(x, "approvals: a number of people, 1 to %d",
			    CONF_APPROVALS_MAX);
		p->approvals = (int)n;
		return 1;
	}
	if (!once(x, K_APPROVERS, k))
		return 0;
	if (v[0] != '/')
		return perr(x,
		    "approvers: the absolute path of an allowed_signers file (ssh-keygen(1))");
	if ((p->approvers = strdup(v)) == NULL)
		return perr(x, "%s", jit_strerror(JIT_E_NOMEM));
	return 1;
}

static int
new_profile(struct parse_ctx *x, const char *name)
{
	struct conf *c = x->c;
	struct conf_profile *np, *p;
	char e[96];

	esc(name, e, sizeof(e));
	if (!policy_name_ok(name))
		return perr(x,
		    "[profile %s]: a profile name is 1 to %d letters, digits, '_', '.' or '-'",
		    e, PROFILE_NAME_MAX);
	if (conf_profile(c, name) != NULL)
		return perr(x, "[profile %s] appears twice", e);
	if (c->nprofiles >= CONF_PROFILES_MAX)
		return perr(x, "more than %d profiles", CONF_PROFILES_MAX);
	if ((np = reallocarray(c->profiles, c->nprofiles + 1, sizeof(*np))) ==
	    NULL)
		return perr(x, "%s", jit_strerror(JIT_E_NOMEM));
	c->profiles = np;
	p = &np[c->nprofiles];
	memset(p, 0, sizeof(*p));
	if ((p->name = strdup(name)) == NULL)
		return perr(x, "%s", jit_strerror(JIT_E_NOMEM));
	p->line = x->line;
	c->nprofiles++;
	x->prof = p;
	return 1;
}

static int
enter_section(struct parse_ctx *x, const char *section)
{
	struct wire_reader r;
	char e[SECTION_MAX];

	if (x->in_section && strcmp(section, x->section) == 0 && !x->header)
		return 1;
	x->header = false;
	if (strlen(section) >= sizeof(x->section))
		return perr(x, "a section name is longer than %d characters",
		    SECTION_MAX - 1);
	snprintf(x->section, sizeof(x->section), "%s", section);
	x->in_section = true;
	x->prof = NULL;
	x->in_hooks = false;
	x->seen = 0;
	x->last_key[0] = '\0';
	x->in_enroll = false;
	if (section[0] == '\0')
		return perr(x, "a key before any [section]");
	if (strcmp(section, "enroll") == 0) {
		if (x->enroll_seen)
			return perr(x, "[enroll] appears twice");
		x->enroll_seen = x->in_enroll = true;
		return 1;
	}
	if (strcmp(section, "agent") == 0) {
		if (x->agent_seen)
			return perr(x, "[agent] appears twice");
		x->agent_seen = true;
		return 1;
	}
	if (strcmp(section, "hooks") == 0) {
		if (x->hooks_seen)
			return perr(x, "[hooks] appears twice");
		x->hooks_seen = x->in_hooks = true;
		return 1;
	}
	/* "profile", blanks, the name (to the end: section is a C string) */
	wire_reader_init(&r, section, strlen(section));
	if (wire_expect(&r, "profile", 7) == 0 && wire_skip_span(&r, " \t") > 0)
		return new_profile(x, (const char *)wire_cursor(&r));
	esc(section, e, sizeof(e));
	return perr(x,
	    "unknown section [%s]: [agent], [hooks], [enroll] or [profile NAME]",
	    e);
}

static int
on_entry(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *x = user;

	if (x->err[0] != '\0')
		return 1; /* one error is reported: the first */
	if (value == NULL)
		return perr(x, "NAME = VALUE expected");
	if (strlen(value) > CONF_VALUE_MAX)
		return perr(
		    x, "a value is longer than %d bytes", CONF_VALUE_MAX);
	if (!enter_section(x, section))
		return 0;
	if (x->indented)
		return continuation(x, name, value);
	if (strlen(name) >= sizeof(x->last_key))
		return perr(x, "a key is longer than %zu characters",
		    sizeof(x->last_key) - 1);
	snprintf(x->last_key, sizeof(x->last_key), "%s", name);
	if (x->in_hooks)
		return hooks_key(x, name, value);
	if (x->in_enroll)
		return enroll_key(x, name, value);
	if (x->prof == NULL)
		return agent_key(x, name, value);
	return profile_key(x, name, value);
}

/* Defaults and the rules that span keys; reported at the header's line. */
static int
check_profile(struct parse_ctx *x, struct conf_profile *p)
{
	size_t i, k;
	bool ssh;

	x->line = p->line;
	if (p->issuer.n == 0)
		return perr(x, "[profile %s]: issuer is missing", p->name);
	ssh = p->kind != NULL && strcmp(p->kind, "ssh-cert") == 0;
	if (ssh && p->nmap > 0)
		return perr(x,
		    "[profile %s]: an ssh-cert issuer prints the certificate line: no field mappings",
		    p->name);
	if (ssh)
		p->output = CONF_OUTPUT_RAW;
	if (p->output == CONF_OUTPUT_RAW && p->nmap > 0)
		return perr(x,
		    "[profile %s]: field mappings need output = json", p->name);
	if (p->kind == NULL &&
	    (p->kind = strdup(
		 p->output == CONF_OUTPUT_RAW ? "secret" : "env")) == NULL)
		return perr(x, "%s", jit_strerror(JIT_E_NOMEM));
	if ((p->nrevoke_fields > 0 || p->revoke_on_lock) && p->revoke.n == 0)
		return perr(x,
		    "[profile %s]: revoke_fields and revoke_on_lock need a revoke command",
		    p->name);
	for (i = 0; i < p->nrevoke_fields; i++) {
		if (p->output == CONF_OUTPUT_RAW)
			return perr(x,
			    "[profile %s]: revoke_fields: the one value of a raw output is the secret",
			    p->name);
		if (p->nmap == 0)
			continue;
		for (k = 0; k < p->nmap; k++)
			if (strcmp(p->map[k].field, p->revoke_fields[i]) == 0)
				break;
		if (k == p->nmap)
			return perr(x,
			    "[profile %s]: revoke_fields: %s is not one of its field.NAME",
			    p->name, p->revoke_fields[i]);
	}
	if (p->default_ttl_s == 0)
		p->default_ttl_s = p->max_ttl_s > 0 &&
			p->max_ttl_s < CONF_TTL_DEFAULT_S ?
		    p->max_ttl_s :
		    CONF_TTL_DEFAULT_S;
	if (p->max_ttl_s == 0)
		p->max_ttl_s = p->default_ttl_s;
	if (p->default_ttl_s > p->max_ttl_s)
		return perr(x,
		    "[profile %s]: default_ttl is longer than max_ttl",
		    p->name);
	if (p->timeout_s == 0)
		p->timeout_s = CONF_TIMEOUT_DEFAULT_S;
	if (p->approvals > 0 && p->approvers == NULL)
		return perr(x,
		    "[profile %s]: approvals needs approvers = FILE (who may approve)",
		    p->name);
	if (p->approvers != NULL && p->approvals == 0)
		p->approvals = 1;
	return 1;
}

/* The file must be ours (or root's) and writable by nobody else: it
 * names commands the agent runs. */
static int
read_conf_file(
    const char *path, char **ret, size_t *ret_len, char *why, size_t whylen)
{
	struct stat st;
	char *buf = NULL;
	size_t off = 0;
	int fd, r = JIT_E_CONFIG;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) <
	    0) {
		if (errno == ENOENT)
			return JIT_E_NOENT;
		snprintf(why, whylen, "%s", strerror(errno));
		return JIT_E_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		goto out;
	}
	if ((st.st_uid != geteuid() && st.st_uid != 0) ||
	    (st.st_mode & 022) != 0) {
		snprintf(why, whylen,
		    "it names commands the agent runs, so it must be owned by you or root and writable by no one else (chmod go-w)");
		goto out;
	}
	if ((r = fs_read_fd(fd, CONF_FILE_MAX, &buf, &off)) != 0) {
		if (r == JIT_E_LIMIT)
			snprintf(
			    why, whylen, "larger than %d bytes", CONF_FILE_MAX);
		else
			snprintf(why, whylen, "%s", jit_strerror(r));
		r = JIT_E_CONFIG;
		goto out;
	}
	r = JIT_E_CONFIG;
	if (memchr(buf, '\0', off) != NULL) {
		snprintf(why, whylen, "it contains a NUL byte");
		goto out;
	}
	*ret = buf;
	*ret_len = off;
	buf = NULL;
	r = JIT_OK;
out:
	free(buf);
	close(fd);
	return r;
}

int
conf_load(const char *path, bool must_exist, struct conf **ret, char *err,
    size_t errlen)
{
	struct parse_ctx x;
	struct conf *c = NULL;
	char *buf = NULL, why[200];
	size_t len = 0, i;
	int r, ir;

	memset(&x, 0, sizeof(x));
	why[0] = '\0';
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = strdup(path)) == NULL) {
		snprintf(
		    err, errlen, "%s: %s", path, jit_strerror(JIT_E_NOMEM));
		r = JIT_E_NOMEM;
		goto out;
	}
	c->lock_on_removal = true;
	r = read_conf_file(path, &buf, &len, why, sizeof(why));
	if (r == JIT_E_NOENT && !must_exist) {
		*ret = c;
		c = NULL;
		r = JIT_OK;
		goto out;
	}
	if (r != 0) {
		snprintf(err, errlen, "%s: %s", path,
		    r == JIT_E_NOENT ? "no such file" : why);
		r = JIT_E_CONFIG;
		goto out;
	}
	c->found = true;
	x.c = c;
	wire_reader_init(&x.in, buf, len);
	ir = ini_parse_stream(conf_reader, &x, on_entry, &x);
	/* inih's own complaint (no '=', no ']') names no reason. */
	if (ir > 0 && (x.err[0] == '\0' || ir < x.err_line)) {
		x.err_line = ir;
		snprintf(x.err, sizeof(x.err),
		    "expected [section], NAME = VALUE, or a comment (; or #)");
	} else if (ir < 0 && x.err[0] == '\0')
		snprintf(x.err, sizeof(x.err), "%s", jit_strerror(JIT_E_NOMEM));
	for (i = 0; x.err[0] == '\0' && i < c->nprofiles; i++)
		(void)check_profile(&x, &c->profiles[i]);
	if (x.err[0] == '\0' && c->require_attestation &&
	    c->attestation_roots == NULL)
		(void)perr(&x,
		    "[enroll] require_attestation needs attestation_roots: the roots a token's chain must lead to");
	if (x.err[0] != '\0') {
		snprintf(err, errlen, "%s:%d: %s", path, x.err_line, x.err);
		r = JIT_E_CONFIG;
		goto out;
	}
	*ret = c;
	c = NULL;
	r = JIT_OK;
out:
	free(buf);
	conf_free(c);
	return r;
}
