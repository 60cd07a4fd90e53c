/* jitctl's exit statuses, one per kind of outcome a script can act on. */
#ifndef JITCTL_EXIT_H
#define JITCTL_EXIT_H

/*
 * Documented in docs/jitctl.1.scd (EXIT STATUS); keep the two in step.
 * `jitctl exec` exits with its child's status instead.
 */
enum jitctl_exit {
	JITCTL_EXIT_OK = 0, /* success */
	JITCTL_EXIT_FAIL = 1, /* any other failure */
	JITCTL_EXIT_USAGE = 2, /* bad command line */
	JITCTL_EXIT_AGENT = 3, /* the agent cannot be reached */
	JITCTL_EXIT_LOCKED = 4, /* locked, expired or no such credential */
	JITCTL_EXIT_AUTH = 5, /* denied, no touch, PIN, token absent */
	JITCTL_EXIT_AUDIT = 6, /* audit verify found a bad line */
};

/* The exit status for an error code of lib/err.h. */
int jitctl_exit_code(int err);

#endif
