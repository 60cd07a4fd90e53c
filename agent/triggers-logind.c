/* Suspend and screen lock lock: logind's signals on the system bus. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "triggers-logind.h"
#include "triggers.h"

#define LOGIND_NAME "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_SESSION_PREFIX "/org/freedesktop/login1/session"

#if HAVE_SYSTEMD
#include <sys/stat.h>

#include "sdlib.h"

#define SYSTEM_BUS_DEFAULT "/run/dbus/system_bus_socket"
#define UNIX_PATH_PREFIX "unix:path="

struct bus_trigger {
	uv_poll_t poll; /* first two: closed, then freed, in order */
	uv_timer_t timer;
	struct agent *ag;
	sd_bus *bus;
	sd_bus_slot *sleep_slot, *lock_slot;
	char *session; /* XDG_SESSION_ID at start, or NULL */
	int installed; /* matches the bus confirmed */
	int closing; /* handles left to close */
};

static void bus_pump(struct bus_trigger *b);

static void
on_closed(uv_handle_t *h)
{
	struct bus_trigger *b = h->data;

	if (--b->closing == 0) {
		sym_sd_bus_slot_unref(b->sleep_slot);
		sym_sd_bus_slot_unref(b->lock_slot);
		sym_sd_bus_flush_close_unref(b->bus);
		free(b->session);
		free(b);
	}
}

static void
bus_close(struct bus_trigger *b)
{
	if (b->ag->bus == b)
		b->ag->bus = NULL;
	b->closing = 2;
	uv_poll_stop(&b->poll);
	uv_timer_stop(&b->timer);
	uv_close((uv_handle_t *)&b->poll, on_closed);
	uv_close((uv_handle_t *)&b->timer, on_closed);
}

/* Once: the bus went away (or never answered); both triggers are off. */
static void
bus_lost(struct bus_trigger *b, int r)
{
	log_warn(
	    "the system bus connection ended (%s): the sleep and screen lock kill switches are off until the agent restarts",
	    strerror(-r));
	triggers_note(b->ag, "sleep", false, "the system bus went away");
	triggers_note(b->ag, "screen lock", false, "the system bus went away");
	bus_close(b);
}

static int
on_sleep(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct bus_trigger *b = arg;
	int start = 0;

	(void)err;
	if (sym_sd_bus_message_read(m, "b", &start) < 0 || !start)
		return 0;
	(void)agent_lock(b->ag, "suspend (logind PrepareForSleep)", "sleep",
	    NULL, NULL, NULL);
	return 0;
}

/* Is this session the agent's: XDG_SESSION_ID's, else one of its user's. */
static int
our_session(const struct bus_trigger *b, const char *id)
{
	char **list = NULL;
	int i, n, ours = 0;

	if (b->session != NULL)
		return strcmp(b->session, id) == 0;
	if ((n = sym_sd_uid_get_sessions(b->ag->uid, 0, &list)) < 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (strcmp(list[i], id) == 0)
			ours = 1;
		free(list[i]);
	}
	free(list);
	return ours;
}

static int
on_lock(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct bus_trigger *b = arg;
	const char *path = sym_sd_bus_message_get_path(m);
	char *id = NULL;

	(void)err;
	if (path == NULL ||
	    sym_sd_bus_path_decode(path, LOGIND_SESSION_PREFIX, &id) <= 0)
		return 0;
	if (our_session(b, id))
		(void)agent_lock(b->ag, "screen locked (logind Lock)",
		    "screen-lock", NULL, NULL, NULL);
	else
		log_debug("logind locked session %s, not ours", id);
	free(id);
	return 0;
}

static int
on_installed(sd_bus_message *m, void *arg, sd_bus_error *err)
{
	struct bus_trigger *b = arg;
	const sd_bus_error *e = sym_sd_bus_message_get_error(m);

	(void)err;
	if (e != NULL) {
		log_warn(
		    "the system bus refused to pass logind's signals (%s): the sleep and screen lock kill switches are off",
		    e->message != NULL ? e->message : e->name);
		triggers_note(
		    b->ag, "sleep", false, "the bus refused the match");
		triggers_note(
		    b->ag, "screen lock", false, "the bus refused the match");
		return 0;
	}
	if (++b->installed < 2)
		return 0;
	triggers_note(b->ag, "sleep", true, "logind PrepareForSleep");
	if (b->session != NULL)
		triggers_note(b->ag, "screen lock", true,
		    "logind Lock of session %s", b->session);
	else
		triggers_note(b->ag, "screen lock", true,
		    "logind Lock of this user's sessions");
	return 0;
}

static void
on_poll(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	bus_pump(p->data);
}

static void
on_timer(uv_timer_t *t)
{
	bus_pump(t->data);
}

/* Run what the bus has, then wait for what it wants next. */
static void
bus_pump(struct bus_trigger *b)
{
	struct timespec ts;
	uint64_t until, now;
	int r, ev, uvev = UV_READABLE;

	while ((r = sym_sd_bus_process(b->bus, NULL)) > 0)
		;
	if (r < 0 || (ev = sym_sd_bus_get_events(b->bus)) < 0) {
		bus_lost(b, r < 0 ? r : -ECONNRESET);
		return;
	}
	if (ev & POLLOUT)
		uvev |= UV_WRITABLE;
	uv_poll_start(&b->poll, uvev, on_poll);
	if (sym_sd_bus_get_timeout(b->bus, &until) >= 0 &&
	    until != UINT64_MAX) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000u +
		    (uint64_t)ts.tv_nsec / 1000u;
		uv_timer_start(&b->timer, on_timer,
		    until > now ? (until - now + 999) / 1000 : 0, 0);
	} else
		uv_timer_stop(&b->timer);
}

/*
 * Is there a system bus to talk to?  Said without libsystemd for the
 * common answers: no address and no standard socket, or an address that
 * is one Unix path that does not exist.  Anything else: ask sd-bus.
 */
static bool
system_bus_absent(void)
{
	const char *a = getenv("DBUS_SYSTEM_BUS_ADDRESS");
	struct stat st;

	if (a == NULL || a[0] == '\0')
		return stat(SYSTEM_BUS_DEFAULT, &st) != 0;
	if (strncmp(a, UNIX_PATH_PREFIX, strlen(UNIX_PATH_PREFIX)) != 0 ||
	    strpbrk(a, ",;%") != NULL)
		return false;
	return stat(a + strlen(UNIX_PATH_PREFIX), &st) != 0;
}

/* Both switches off, for the reason given, said once in the log. */
static void
bus_off(struct agent *ag, const char *note)
{
	triggers_note(ag, "sleep", false, "%s", note);
	triggers_note(ag, "screen lock", false, "%s", note);
}

void
logind_trigger_start(struct agent *ag)
{
	struct bus_trigger *b;
	const char *sid = getenv("XDG_SESSION_ID");
	char why[256];
	int r;

	/* Only a bus that may exist is worth loading libsystemd for. */
	if (system_bus_absent()) {
		log_info(
		    "no system bus (%s): the sleep and screen lock kill switches are off",
		    strerror(ENOENT));
		bus_off(ag, "no system bus");
		return;
	}
	if (sdlib_load(why, sizeof(why)) != 0) {
		log_warn(
		    "libsystemd cannot be loaded (%s): the sleep and screen lock kill switches are off; install libsystemd0 to have them",
		    why);
		bus_off(ag, "libsystemd cannot be loaded");
		return;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return;
	b->ag = ag;
	if (sid != NULL && sid[0] != '\0' && (b->session = strdup(sid)) == NULL)
		goto fail;
	if ((r = sym_sd_bus_open_system(&b->bus)) < 0) {
		log_info(
		    "no system bus (%s): the sleep and screen lock kill switches are off",
		    strerror(-r));
		triggers_note(ag, "sleep", false, "no system bus");
		triggers_note(ag, "screen lock", false, "no system bus");
		goto fail;
	}
	/* Asynchronous: the bus confirms each match later, on the loop. */
	if (sym_sd_bus_add_match_async(b->bus, &b->sleep_slot,
		"type='signal',sender='" LOGIND_NAME "',path='" LOGIND_PATH
		"',interface='" LOGIND_NAME
		".Manager',member='PrepareForSleep'",
		on_sleep, on_installed, b) < 0 ||
	    sym_sd_bus_add_match_async(b->bus, &b->lock_slot,
		"type='signal',sender='" LOGIND_NAME "',interface='" LOGIND_NAME
		".Session',member='Lock'",
		on_lock, on_installed, b) < 0) {
		log_warn(
		    "cannot ask the system bus for logind's signals: the sleep and screen lock kill switches are off");
		triggers_note(ag, "sleep", false, "cannot match on the bus");
		triggers_note(
		    ag, "screen lock", false, "cannot match on the bus");
		goto fail;
	}
	triggers_note(ag, "sleep", false, "waiting for the system bus");
	triggers_note(ag, "screen lock", false, "waiting for the system bus");
	uv_poll_init(ag->loop, &b->poll, sym_sd_bus_get_fd(b->bus));
	uv_timer_init(ag->loop, &b->timer);
	b->poll.data = b->timer.data = b;
	ag->bus = b;
	bus_pump(b);
	return;
fail:
	sym_sd_bus_slot_unref(b->sleep_slot);
	sym_sd_bus_slot_unref(b->lock_slot);
	sym_sd_bus_flush_close_unref(b->bus);
	free(b->session);
	free(b);
}

void
logind_trigger_stop(struct agent *ag)
{
	if (ag->bus != NULL)
		bus_close(ag->bus);
}

#else

void
logind_trigger_start(struct agent *ag)
{
	log_info(
	    "built without libsystemd: the sleep and screen lock kill switches are off");
	triggers_note(ag, "sleep", false, "built without libsystemd");
	triggers_note(ag, "screen lock", false, "built without libsystemd");
}

void
logind_trigger_stop(struct agent *ag)
{
	(void)ag;
}

#endif
