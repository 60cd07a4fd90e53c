/* Socket activation: the listening socket systemd passed (LISTEN_FDS). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "activation.h"
#include "config.h"
#include "err.h"

#include "sdlib.h"

#if HAVE_SYSTEMD

int
activation_listener(struct agent *ag, char *why, size_t whylen)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	char lib[256];
	int n, fd = SD_LISTEN_FDS_START;

	/* Without LISTEN_FDS, libsystemd is not even loaded. */
	if (getenv("LISTEN_FDS") == NULL)
		return JIT_E_NOENT;
	if (sdlib_load(lib, sizeof(lib)) != 0) {
		snprintf(why, whylen,
		    "systemd passed a socket (LISTEN_FDS) but libsystemd cannot be loaded (%s): install libsystemd0, or start jit-agent without the .socket unit",
		    lib);
		return JIT_E_UNSUPPORTED;
	}
	/* 1: the variables are unset, so children do not see them. */
	if ((n = sym_sd_listen_fds(1)) <= 0)
		return JIT_E_NOENT;
	if (n != 1) {
		snprintf(why, whylen,
		    "systemd passed %d sockets: the .socket unit must have one ListenStream",
		    n);
		return JIT_E_ARG;
	}
	memset(&sa, 0, sizeof(sa));
	if (sym_sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0 ||
	    len <= offsetof(struct sockaddr_un, sun_path) ||
	    sa.sun_path[0] != '/') {
		snprintf(why, whylen,
		    "the socket systemd passed is not a listening Unix stream socket with a path: use ListenStream=%%t/jit-agent/agent.sock");
		return JIT_E_ARG;
	}
	sa.sun_path[sizeof(sa.sun_path) - 1] = '\0';
	if ((ag->sock_path = strdup(sa.sun_path)) == NULL)
		return JIT_E_NOMEM;
	ag->activated = true;
	ag->activated_fd = fd;
	return JIT_OK;
}

#else

int
activation_listener(struct agent *ag, char *why, size_t whylen)
{
	(void)ag;
	(void)why;
	(void)whylen;
	return JIT_E_NOENT;
}

#endif
