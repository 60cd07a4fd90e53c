/* What /proc says of a process: its parent, start time, name; its chain. */
#ifndef JIT_PROCINFO_H
#define JIT_PROCINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_CHAIN_MAX 16 /* ancestors looked at, at most */
#define PROC_COMM_MAX 16

struct proc_stat {
	pid_t pid, ppid, sid;
	uint64_t start; /* clock ticks after boot: with pid, the process */
	char comm[PROC_COMM_MAX]; /* the name it gave itself: not a fact */
};

/*
 * /proc/PID/stat, parsed with its limits (the name is everything between
 * the first '(' and the last ')').  JIT_E_NOENT if the process is gone.
 */
int proc_stat_read(pid_t pid, struct proc_stat *ret);
/*
 * Is the process (pid, start) -- still the same one -- anc, or is anc
 * (anc_pid, anc_start) among its ancestors?  Start times make a reused
 * pid never match.
 */
bool proc_descends_from(
    pid_t pid, uint64_t start, pid_t anc_pid, uint64_t anc_start);
/*
 * For prompts: "EXE (pid N) < PARENT (pid M) < ..." up to the session
 * leader (or PROC_CHAIN_MAX), each name escaped; the first is exe if
 * known, else the process's name.
 */
void proc_chain_text(pid_t pid, const char *exe, char *out, size_t outlen);

#endif
