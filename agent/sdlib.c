/* libsystemd, loaded with dlopen when a feature first needs it. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "sdlib.h"

#define SDLIB_NAME "libsystemd.so.0"

#define SDLIB_DEF(name) __typeof__(name) *sym_##name
SDLIB_DEF(sd_listen_fds);
SDLIB_DEF(sd_is_socket_unix);
SDLIB_DEF(sd_journal_sendv);
SDLIB_DEF(sd_uid_get_sessions);
SDLIB_DEF(sd_bus_open_system);
SDLIB_DEF(sd_bus_flush_close_unref);
SDLIB_DEF(sd_bus_slot_unref);
SDLIB_DEF(sd_bus_add_match_async);
SDLIB_DEF(sd_bus_process);
SDLIB_DEF(sd_bus_get_events);
SDLIB_DEF(sd_bus_get_timeout);
SDLIB_DEF(sd_bus_get_fd);
SDLIB_DEF(sd_bus_message_read);
SDLIB_DEF(sd_bus_message_get_path);
SDLIB_DEF(sd_bus_message_get_error);
SDLIB_DEF(sd_bus_path_decode);

/* Where each pointer goes: its address as an object pointer, so the
 * dlsym result is copied in without a cast between the two kinds. */
#define SDLIB_ENTRY(name) \
	{ \
#name, &sym_##name \
	}
static const struct {
	const char *name;
	void *slot;
} sdlib_syms[] = {
	SDLIB_ENTRY(sd_listen_fds),
	SDLIB_ENTRY(sd_is_socket_unix),
	SDLIB_ENTRY(sd_journal_sendv),
	SDLIB_ENTRY(sd_uid_get_sessions),
	SDLIB_ENTRY(sd_bus_open_system),
	SDLIB_ENTRY(sd_bus_flush_close_unref),
	SDLIB_ENTRY(sd_bus_slot_unref),
	SDLIB_ENTRY(sd_bus_add_match_async),
	SDLIB_ENTRY(sd_bus_process),
	SDLIB_ENTRY(sd_bus_get_events),
	SDLIB_ENTRY(sd_bus_get_timeout),
	SDLIB_ENTRY(sd_bus_get_fd),
	SDLIB_ENTRY(sd_bus_message_read),
	SDLIB_ENTRY(sd_bus_message_get_path),
	SDLIB_ENTRY(sd_bus_message_get_error),
	SDLIB_ENTRY(sd_bus_path_decode),
};

#define SDLIB_NSYMS (sizeof(sdlib_syms) / sizeof(sdlib_syms[0]))
#define SDLIB_WHY_MAX 256

/* Only the loop thread loads it (start-up, the loop's callbacks). */
static int sdlib_state; /* 0 not tried, 1 loaded, -1 failed */
static void *sdlib_handle; /* open for good once loaded */
static char sdlib_why[SDLIB_WHY_MAX];

int
sdlib_load(char *why, size_t whylen)
{
	void *h = NULL, *p[SDLIB_NSYMS];
	const char *e;
	size_t i;

	if (sdlib_state == 0) {
		sdlib_state = -1;
		dlerror();
		if ((h = dlopen(SDLIB_NAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
			e = dlerror();
			snprintf(sdlib_why, sizeof(sdlib_why), "%s",
			    e != NULL ? e : SDLIB_NAME ": not found");
			goto out;
		}
		for (i = 0; i < SDLIB_NSYMS; i++) {
			if ((p[i] = dlsym(h, sdlib_syms[i].name)) == NULL) {
				snprintf(sdlib_why, sizeof(sdlib_why),
				    "%s has no %s (libsystemd 246 or later is needed)",
				    SDLIB_NAME, sdlib_syms[i].name);
				dlclose(h);
				goto out;
			}
		}
		/* All or none: a pointer is set only when every one is. */
		for (i = 0; i < SDLIB_NSYMS; i++)
			memcpy(sdlib_syms[i].slot, &p[i], sizeof(p[i]));
		sdlib_handle = h;
		sdlib_state = 1;
	}
out:
	if (sdlib_state == 1)
		return JIT_OK;
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", sdlib_why);
	return JIT_E_NOENT;
}
