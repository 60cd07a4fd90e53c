/* libsystemd, loaded with dlopen when a feature first needs it. */
#ifndef JIT_SDLIB_H
#define JIT_SDLIB_H

#include "config.h"

#if HAVE_SYSTEMD
#include <stddef.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-login.h>

/*
 * The agent is not linked with libsystemd (about 1.3 MiB of resident
 * memory with what it pulls in, more than the whole rest of an idle
 * agent's excess over ssh-agent): socket activation, event_log = journal
 * and the logind kill switches call these pointers, set by sdlib_load.
 * The headers still give their types.
 */
#define SDLIB_SYM(name) extern __typeof__(name) *sym_##name
SDLIB_SYM(sd_listen_fds);
SDLIB_SYM(sd_is_socket_unix);
SDLIB_SYM(sd_journal_sendv);
SDLIB_SYM(sd_uid_get_sessions);
SDLIB_SYM(sd_bus_open_system);
SDLIB_SYM(sd_bus_flush_close_unref);
SDLIB_SYM(sd_bus_slot_unref);
SDLIB_SYM(sd_bus_add_match_async);
SDLIB_SYM(sd_bus_process);
SDLIB_SYM(sd_bus_get_events);
SDLIB_SYM(sd_bus_get_timeout);
SDLIB_SYM(sd_bus_get_fd);
SDLIB_SYM(sd_bus_message_read);
SDLIB_SYM(sd_bus_message_get_path);
SDLIB_SYM(sd_bus_message_get_error);
SDLIB_SYM(sd_bus_path_decode);
#undef SDLIB_SYM

/*
 * Loads libsystemd.so.0 and every symbol above, once; later calls return
 * the first call's result.  0 when all are there; else JIT_E_NOENT with
 * why (the loader's words) and none of the pointers set.
 */
int sdlib_load(char *why, size_t whylen);
#endif

#endif
