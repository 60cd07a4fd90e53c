/* The words of a prompt: who asks (the process chain), for what, how long. */
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "log.h"
#include "procinfo.h"
#include "prompt-text.h"

void
prompt_chain(const struct peer *p, char *out, size_t outlen)
{
	char comm[4 * PEER_COMM_MAX + 1];
	char self[4 * PEER_COMM_MAX + PEER_WHY_MAX + 96];
	char rest[PROMPT_CHAIN_MAX];
	struct proc_stat st;

	if (peer_exe_known(p)) {
		proc_chain_text(p->pid, p->exe, out, outlen);
		if (out[0] != '\0')
			return;
	}
	/* Its name is its own say-so: the person must know that. */
	log_escape(p->comm, strlen(p->comm), comm, sizeof(comm));
	snprintf(self, sizeof(self),
	    "an unverified program that calls itself '%s' (pid %d; its executable is unknown: %s)",
	    comm, (int)p->pid, p->exe_why);
	rest[0] = '\0';
	if (proc_stat_read(p->pid, &st) == 0 && st.sid != p->pid)
		proc_chain_text(st.ppid, NULL, rest, sizeof(rest));
	snprintf(
	    out, outlen, "%s%s%s", self, rest[0] != '\0' ? " < " : "", rest);
}

void
prompt_confirm(const struct peer *p, const char *what, const char *token,
    int64_t window_s, char *out, size_t outlen)
{
	char chain[PROMPT_CHAIN_MAX], ewhat[512], etok[256], left[32];
	char extra[320] = "", tail[1024];
	size_t budget;
	int n;

	log_escape(what, strlen(what), ewhat, sizeof(ewhat));
	if (token != NULL && window_s >= 0) {
		log_escape(token, strlen(token), etok, sizeof(etok));
		duration_format(window_s, left, sizeof(left));
		snprintf(extra, sizeof(extra), " (unlocked with %s, %s left)",
		    etok, left);
	}
	n = snprintf(tail, sizeof(tail), " (uid %u) to use %s%s?",
	    (unsigned)p->uid, ewhat, extra);
	/* The chain gets what the question leaves: it ends at a whole
	 * process (proc_chain_text), and the question is never cut. */
	budget = n > 0 && (size_t)n + 8 < outlen ? outlen - (size_t)n - 7 : 1;
	prompt_chain(p, chain, budget < sizeof(chain) ? budget : sizeof(chain));
	snprintf(out, outlen, "Allow %s%s", chain, tail);
}

void
prompt_touch(const struct peer *p, const char *names, const char *token,
    int64_t window_s, char *out, size_t outlen)
{
	char chain[PROMPT_CHAIN_MAX], enames[256], etok[128], win[32];

	prompt_chain(p, chain, sizeof(chain));
	log_escape(names, strlen(names), enames, sizeof(enames));
	log_escape(token, strlen(token), etok, sizeof(etok));
	if (window_s > 0)
		duration_format(window_s, win, sizeof(win));
	snprintf(out, outlen, "Touch %s: %s asks to open %s%s%s", etok, chain,
	    enames, window_s > 0 ? " for " : "", window_s > 0 ? win : "");
}
