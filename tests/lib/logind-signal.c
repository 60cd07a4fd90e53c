/* For tests/e2e/triggers.sh: send logind's signals on a private bus.
 *
 *   logind-signal sleep true|false   PrepareForSleep(b) from the Manager
 *   logind-signal lock SESSION_ID    Lock() from that session's object
 *
 * It takes logind's name (org.freedesktop.login1) on the bus named by
 * DBUS_SYSTEM_BUS_ADDRESS, as logind does, so that the agent's matches on
 * the sender apply; the signals have logind's paths and signatures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

int
main(int argc, char **argv)
{
	sd_bus *bus = NULL;
	char *path = NULL;
	int r;

	if (argc != 3 ||
	    (strcmp(argv[1], "sleep") != 0 && strcmp(argv[1], "lock") != 0)) {
		fprintf(stderr,
		    "usage: logind-signal sleep true|false | lock SESSION\n");
		return 2;
	}
	if ((r = sd_bus_open_system(&bus)) < 0 ||
	    (r = sd_bus_request_name(bus, "org.freedesktop.login1", 0)) < 0) {
		fprintf(stderr, "logind-signal: the bus: %s\n", strerror(-r));
		return 1;
	}
	if (strcmp(argv[1], "sleep") == 0)
		r = sd_bus_emit_signal(bus, "/org/freedesktop/login1",
		    "org.freedesktop.login1.Manager", "PrepareForSleep", "b",
		    strcmp(argv[2], "true") == 0);
	else if ((r = sd_bus_path_encode(
		      "/org/freedesktop/login1/session", argv[2], &path)) >= 0)
		r = sd_bus_emit_signal(
		    bus, path, "org.freedesktop.login1.Session", "Lock", "");
	if (r < 0 || (r = sd_bus_flush(bus)) < 0) {
		fprintf(stderr, "logind-signal: %s\n", strerror(-r));
		return 1;
	}
	free(path);
	sd_bus_flush_close_unref(bus);
	return 0;
}
