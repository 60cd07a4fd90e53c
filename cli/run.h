/* Running the command of jitctl exec and inject: signals, status, filter. */
#ifndef JITCTL_RUN_H
#define JITCTL_RUN_H

struct mask_set;

/* How long a held beginning of a value waits for the rest. */
#define RUN_IDLE_MS 100

/*
 * Run cmd with envp (NULL: jitctl's environment) and wait for it.  With
 * mask, its stdout and stderr are pipes whose bytes reach jitctl's through
 * a filter concealing every value of mask (lib/mask.h); without, it has
 * jitctl's own (a terminal stays a terminal).  Its stdin is jitctl's.
 * While it runs jitctl ignores SIGINT and SIGQUIT (the terminal's, for the
 * child) and passes SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 on; the child
 * gets the signal dispositions and core limit jitctl started with.
 * started(arg), if not NULL, runs in jitctl once the child has its copy
 * of envp (to wipe jitctl's).  Returns the child's exit status, 128 + N
 * if signal N killed it, 127 or 126 when it could not be started (said on
 * stderr).
 */
int run_child(char **cmd, char **envp, const struct mask_set *mask,
    void (*started)(void *), void *arg);

#endif
