/* Every audited event also in the team's log pipeline: journald or syslog. */
#ifndef JIT_LOGSINK_H
#define JIT_LOGSINK_H

#include <stddef.h>
#include <sys/types.h>

struct agent;
struct event_rec;

#define LOGSINK_FIELDS_MAX 48
#define LOGSINK_VALUE_MAX 2048
#define LOGSINK_SYSLOG_MAX 8192 /* one datagram */
#define LOGSINK_SD_ID "jit@32473" /* 32473: the documentation PEN */

/* journald's fields for an event, "NAME=value" each, malloc'd. */
struct logsink_fields {
	char *v[LOGSINK_FIELDS_MAX];
	size_t n;
};

/*
 * The journal fields of e: MESSAGE, MESSAGE_ID (one per event type, the
 * same in every version), PRIORITY, SYSLOG_IDENTIFIER, JIT_EVENT, then
 * each member as JIT_NAME (name: JIT_CREDENTIAL, exe: JIT_PEER_EXE, uid:
 * JIT_PEER_UID, pid: JIT_PEER_PID, the rest upper-cased).
 */
int logsink_journal_fields(const struct event_rec *e, struct logsink_fields *f);
void logsink_fields_reset(struct logsink_fields *f);
/* MESSAGE_ID of an event type: 32 hex digits. */
void logsink_message_id(const char *type, char out[33]);
/* An RFC 5424 line for e, with its members as structured data. */
int logsink_syslog_line(const struct event_rec *e, const char *host, pid_t pid,
    char *out, size_t outlen);
/* The event bus's listener: where the configuration's event_log says. */
void logsink_event(struct agent *ag, const struct event_rec *e, void *arg);
/* At exit: the syslog socket. */
void logsink_close(void);

#endif
