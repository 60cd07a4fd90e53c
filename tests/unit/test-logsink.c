/* Unit tests of agent/logsink.c: journald's fields and the RFC 5424 line of an event (journald cannot run here). */
#include <string.h>

#include <json-c/json.h>

#include "assert.h"
#include "eventbus.h"
#include "logsink.h"

static struct json_object *
approved_event(void)
{
	struct json_object *o = json_object_new_object(), *names;

	json_object_object_add(o, "event", json_object_new_string("approved"));
	json_object_object_add(o, "request_id",
	    json_object_new_string("0123456789abcdef0123456789abcdef"));
	json_object_object_add(o, "profile", json_object_new_string("prod"));
	json_object_object_add(o, "name", json_object_new_string("prod-db"));
	json_object_object_add(
	    o, "reason", json_object_new_string("INC-1 \"quoted\" ] \\ x"));
	json_object_object_add(
	    o, "approvers", json_object_new_string("bob (SHA256:abc)"));
	names = json_object_new_array();
	json_object_array_add(names, json_object_new_string("a"));
	json_object_array_add(names, json_object_new_string("b"));
	json_object_object_add(o, "names", names);
	json_object_object_add(o, "uid", json_object_new_int(1000));
	json_object_object_add(
	    o, "exe", json_object_new_string("/usr/bin/jitctl"));
	return o;
}

static void
rec_of(struct json_object *o, struct event_rec *e)
{
	memset(e, 0, sizeof(*e));
	e->type = json_object_get_string(json_object_object_get(o, "event"));
	e->obj = o;
	e->json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	e->time = 1764684000; /* 2025-12-02T14:00:00Z */
}

static const char *
field(const struct logsink_fields *f, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < f->n; i++)
		if (strncmp(f->v[i], name, n) == 0 && f->v[i][n] == '=')
			return f->v[i] + n + 1;
	return NULL;
}

TEST(journal_fields)
{
	struct json_object *o = approved_event();
	struct logsink_fields f;
	struct event_rec e;
	char id[33], other[33];

	rec_of(o, &e);
	ASSERT_OK(logsink_journal_fields(&e, &f));
	logsink_message_id("approved", id);
	ASSERT_EQ_STR(field(&f, "MESSAGE_ID"), id);
	ASSERT_EQ_UINT(strlen(id), 32);
	logsink_message_id("unlock", other);
	ASSERT(strcmp(id, other) != 0);
	ASSERT_EQ_STR(field(&f, "PRIORITY"), "5");
	ASSERT_EQ_STR(field(&f, "SYSLOG_IDENTIFIER"), "jit-agent");
	ASSERT_EQ_STR(field(&f, "JIT_EVENT"), "approved");
	ASSERT_EQ_STR(field(&f, "JIT_CREDENTIAL"), "prod-db");
	ASSERT_EQ_STR(field(&f, "JIT_PROFILE"), "prod");
	ASSERT_EQ_STR(field(&f, "JIT_REASON"), "INC-1 \"quoted\" ] \\ x");
	ASSERT_EQ_STR(
	    field(&f, "JIT_REQUEST_ID"), "0123456789abcdef0123456789abcdef");
	ASSERT_EQ_STR(field(&f, "JIT_APPROVERS"), "bob (SHA256:abc)");
	ASSERT_EQ_STR(field(&f, "JIT_PEER_EXE"), "/usr/bin/jitctl");
	ASSERT_EQ_STR(field(&f, "JIT_PEER_UID"), "1000");
	ASSERT(strncmp(field(&f, "MESSAGE"), "jit-agent approved: {", 21) == 0);
	logsink_fields_reset(&f);
	/* A denial is a warning. */
	json_object_object_add(o, "event", json_object_new_string("deny"));
	rec_of(o, &e);
	ASSERT_OK(logsink_journal_fields(&e, &f));
	ASSERT_EQ_STR(field(&f, "PRIORITY"), "4");
	logsink_fields_reset(&f);
	json_object_put(o);
}

TEST(message_ids_are_stable)
{
	char id[33];

	/* sha256("jit-agent event unlock"), first 16 bytes: a change here
	 * breaks every saved journalctl MESSAGE_ID= query. */
	logsink_message_id("unlock", id);
	ASSERT_EQ_STR(id, "5a4770a1c0073826fcd63972c8937813");
}

TEST(syslog_line)
{
	struct json_object *o = approved_event();
	struct event_rec e;
	static char line[LOGSINK_SYSLOG_MAX];

	rec_of(o, &e);
	ASSERT_OK(logsink_syslog_line(&e, "host1", 42, line, sizeof(line)));
	ASSERT(
	    strncmp(line,
		"<85>1 2025-12-02T14:00:00Z host1 jit-agent 42 approved [jit@32473 event=\"approved\" request_id=\"0123456789abcdef0123456789abcdef\"",
		120) == 0);
	ASSERT(strstr(line, " reason=\"INC-1 \\\"quoted\\\" \\] \\\\ x\"") !=
	    NULL);
	ASSERT(strstr(line, " names=\"a,b\"") != NULL);
	ASSERT(strstr(line, "] {\"event\":\"approved\"") != NULL);
	/* Too small a buffer is refused, not cut. */
	ASSERT_ERR(logsink_syslog_line(&e, "host1", 42, line, 64), JIT_E_LIMIT);
	json_object_put(o);
}

static const struct test_case tests[] = {
	TEST_ENTRY(journal_fields),
	TEST_ENTRY(message_ids_are_stable),
	TEST_ENTRY(syslog_line),
};
TEST_MAIN(tests)
