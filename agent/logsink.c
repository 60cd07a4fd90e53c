/* Every audited event also in the team's log pipeline: journald fields or RFC 5424 syslog. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent.h"
#include "conf.h"
#include "config.h"
#include "err.h"
#include "eventbus.h"
#include "log.h"
#include "logsink.h"

#include "sdlib.h"

#define SYSLOG_FACILITY_AUTHPRIV 10
#define SEV_WARNING 4
#define SEV_NOTICE 5
#define SEV_INFO 6
#define SD_NAME_MAX 32
#define MSGID_MAX 32
#define JOURNAL_NAME_MAX 64

static int syslog_fd = -1;
static bool journal_warned;

/* The few members whose journal names the team's queries know. */
static const struct {
	const char *member, *field;
} renamed[] = {
	{ "event", "JIT_EVENT" },
	{ "name", "JIT_CREDENTIAL" },
	{ "names", "JIT_CREDENTIAL" },
	{ "exe", "JIT_PEER_EXE" },
	{ "uid", "JIT_PEER_UID" },
	{ "pid", "JIT_PEER_PID" },
};

static int
severity(const char *type)
{
	if (strcmp(type, "deny") == 0 || strcmp(type, "approval-refused") == 0)
		return SEV_WARNING;
	if (strcmp(type, "unlock") == 0 || strcmp(type, "request") == 0 ||
	    strcmp(type, "approved") == 0 ||
	    strcmp(type, "request-created") == 0 ||
	    strcmp(type, "revoke") == 0 || strcmp(type, "lock") == 0)
		return SEV_NOTICE;
	return SEV_INFO;
}

void
logsink_message_id(const char *type, char out[33])
{
	uint8_t h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;

	/* Derived, not listed: a new event type gets its own id too, and
	 * an id never changes between versions. */
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)"jit-agent event ", 16);
	crypto_hash_sha256_update(&st, (const uint8_t *)type, strlen(type));
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(out, 33, h, 16);
}

/* A member's value as text: arrays joined with ','. */
static void
value_text(struct json_object *v, char *out, size_t outlen)
{
	size_t i, n, used = 0;
	int k;

	out[0] = '\0';
	if (!json_object_is_type(v, json_type_array)) {
		snprintf(out, outlen, "%s", json_object_get_string(v));
		return;
	}
	n = json_object_array_length(v);
	for (i = 0; i < n && used < outlen; i++) {
		k = snprintf(out + used, outlen - used, "%s%s",
		    i > 0 ? "," : "",
		    json_object_get_string(json_object_array_get_idx(v, i)));
		if (k < 0)
			break;
		used += (size_t)k;
	}
}

static void
journal_name(const char *member, char *out, size_t outlen)
{
	size_t i, o;

	for (i = 0; i < sizeof(renamed) / sizeof(renamed[0]); i++) {
		if (strcmp(member, renamed[i].member) == 0) {
			snprintf(out, outlen, "%s", renamed[i].field);
			return;
		}
	}
	o = (size_t)snprintf(out, outlen, "JIT_");
	for (i = 0; member[i] != '\0' && o + 1 < outlen; i++)
		out[o++] = isalnum((unsigned char)member[i]) ?
		    (char)toupper((unsigned char)member[i]) :
		    '_';
	out[o] = '\0';
}

static int
add_field(struct logsink_fields *f, const char *name, const char *value)
{
	if (f->n >= LOGSINK_FIELDS_MAX)
		return JIT_E_LIMIT;
	if (asprintf(&f->v[f->n], "%s=%s", name, value) < 0) {
		f->v[f->n] = NULL;
		return JIT_E_NOMEM;
	}
	f->n++;
	return JIT_OK;
}

void
logsink_fields_reset(struct logsink_fields *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->v[i]);
	f->n = 0;
}

int
logsink_journal_fields(const struct event_rec *e, struct logsink_fields *f)
{
	char name[JOURNAL_NAME_MAX + 1], *value = NULL, id[33], num[8];
	int r = JIT_E_NOMEM;

	f->n = 0;
	if ((value = malloc(LOGSINK_VALUE_MAX)) == NULL)
		return JIT_E_NOMEM;
	logsink_message_id(e->type, id);
	snprintf(num, sizeof(num), "%d", severity(e->type));
	snprintf(
	    value, LOGSINK_VALUE_MAX, "jit-agent %s: %s", e->type, e->json);
	if ((r = add_field(f, "MESSAGE", value)) != 0 ||
	    (r = add_field(f, "MESSAGE_ID", id)) != 0 ||
	    (r = add_field(f, "PRIORITY", num)) != 0 ||
	    (r = add_field(f, "SYSLOG_IDENTIFIER", "jit-agent")) != 0)
		goto out;
	json_object_object_foreach(e->obj, key, val)
	{
		journal_name(key, name, sizeof(name));
		value_text(val, value, LOGSINK_VALUE_MAX);
		if ((r = add_field(f, name, value)) != 0)
			goto out;
	}
	r = JIT_OK;
out:
	free(value);
	if (r != 0)
		logsink_fields_reset(f);
	return r;
}

/* An SD-PARAM value: '"', '\' and ']' escaped (RFC 5424, 6.3.3). */
static size_t
sd_escape(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s != '\0' && o + 2 < outlen; s++) {
		if (*s == '"' || *s == '\\' || *s == ']')
			out[o++] = '\\';
		/* One line: a control character becomes a blank. */
		out[o++] = (unsigned char)*s < 0x20 ? ' ' : *s;
	}
	out[o] = '\0';
	return o;
}

static bool
sd_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= SD_NAME_MAX || s[i] <= ' ' || s[i] >= 0x7f ||
		    s[i] == '=' || s[i] == ']' || s[i] == '"')
			return false;
	return i > 0;
}

int
logsink_syslog_line(const struct event_rec *e, const char *host, pid_t pid,
    char *out, size_t outlen)
{
	char ts[32], *val, *esc;
	struct tm tm;
	time_t t = (time_t)e->time;
	size_t used;
	int n, r = JIT_E_NOMEM;

	if ((val = malloc(LOGSINK_VALUE_MAX)) == NULL ||
	    (esc = malloc(2 * LOGSINK_VALUE_MAX)) == NULL) {
		free(val);
		return JIT_E_NOMEM;
	}
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(ts, sizeof(ts), "-");
	n = snprintf(out, outlen, "<%d>1 %s %s jit-agent %d %.*s [%s",
	    SYSLOG_FACILITY_AUTHPRIV * 8 + severity(e->type), ts,
	    host[0] != '\0' ? host : "-", (int)pid, MSGID_MAX,
	    sd_name_ok(e->type) ? e->type : "event", LOGSINK_SD_ID);
	if (n < 0 || (size_t)n >= outlen) {
		r = JIT_E_LIMIT;
		goto out;
	}
	used = (size_t)n;
	json_object_object_foreach(e->obj, key, v)
	{
		if (!sd_name_ok(key))
			continue;
		value_text(v, val, LOGSINK_VALUE_MAX);
		sd_escape(val, esc, 2 * LOGSINK_VALUE_MAX);
		n = snprintf(out + used, outlen - used, " %s=\"%s\"", key, esc);
		if (n < 0 || (size_t)n >= outlen - used) {
			r = JIT_E_LIMIT;
			goto out;
		}
		used += (size_t)n;
	}
	/* The message is the event's JSON, as the hooks get it. */
	n = snprintf(out + used, outlen - used, "] %s", e->json);
	r = n < 0 || (size_t)n >= outlen - used ? JIT_E_LIMIT : JIT_OK;
out:
	free(val);
	free(esc);
	return r;
}

static void
send_syslog(const struct conf *c, const struct event_rec *e)
{
	struct sockaddr_un sa;
	const char *path = c->syslog_socket != NULL ? c->syslog_socket :
						      "/dev/log";
	char host[256], *line;
	int r;

	if ((line = malloc(LOGSINK_SYSLOG_MAX)) == NULL)
		return;
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	if ((r = logsink_syslog_line(
		 e, host, getpid(), line, LOGSINK_SYSLOG_MAX)) != 0) {
		log_warn("event_log: event %s is too large for a syslog line",
		    e->type);
		goto out;
	}
	if (syslog_fd < 0 &&
	    (syslog_fd = socket(
		 AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		goto out;
	memcpy(sa.sun_path, path, strlen(path));
	/* Never waits: a syslog that does not keep up loses lines, not the
	 * agent its loop (the audit log has them all). */
	if (sendto(syslog_fd, line, strlen(line), MSG_DONTWAIT,
		(struct sockaddr *)&sa, sizeof(sa)) < 0)
		log_debug("event_log: syslog at %s: %s", path, strerror(errno));
out:
	free(line);
}

static void
send_journal(const struct event_rec *e)
{
#if HAVE_SYSTEMD
	struct logsink_fields f;
	struct iovec iov[LOGSINK_FIELDS_MAX];
	char why[256];
	size_t i;
	int r;

	/* Loaded at the first event, so an agent without it stays small. */
	if (sdlib_load(why, sizeof(why)) != 0) {
		if (!journal_warned)
			log_error(
			    "event_log = journal: libsystemd cannot be loaded (%s): events are not sent to the journal (the audit log has them); install libsystemd0 or use event_log = syslog",
			    why);
		journal_warned = true;
		return;
	}
	if (logsink_journal_fields(e, &f) != 0)
		return;
	for (i = 0; i < f.n; i++) {
		iov[i].iov_base = f.v[i];
		iov[i].iov_len = strlen(f.v[i]);
	}
	if ((r = sym_sd_journal_sendv(iov, (int)f.n)) < 0)
		log_debug("event_log: journal: %s", strerror(-r));
	logsink_fields_reset(&f);
#else
	(void)e;
	if (!journal_warned)
		log_error(
		    "event_log = journal: this jit-agent was built without libsystemd; use event_log = syslog");
	journal_warned = true;
#endif
}

void
logsink_event(struct agent *ag, const struct event_rec *e, void *arg)
{
	(void)arg;
	if (ag->conf == NULL)
		return;
	if (ag->conf->event_log == CONF_EVENT_LOG_SYSLOG)
		send_syslog(ag->conf, e);
	else if (ag->conf->event_log == CONF_EVENT_LOG_JOURNAL)
		send_journal(e);
}

void
logsink_close(void)
{
	if (syslog_fd >= 0)
		close(syslog_fd);
	syslog_fd = -1;
}
