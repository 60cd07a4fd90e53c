/* Telling the person that a touch is awaited: [agent] notify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"
#include "log.h"
#include "notify.h"
#include "proc.h"
#include "prompt-text.h"

struct notify {
	uv_timer_t timer; /* first: the handle's memory */
	struct agent *ag;
	struct conf_argv argv;
	struct proc_env env;
	bool shown;
	bool can_withdraw; /* a command of the person's, not notify-send */
};

/* The child's handle lives until it exits, past the notify itself. */
struct notify_child {
	uv_process_t proc;
};

static void
notify_free(struct notify *n)
{
	conf_argv_free(&n->argv);
	proc_env_free(&n->env);
	free(n);
}

static void
on_timer_closed(uv_handle_t *h)
{
	notify_free(h->data);
}

static void
on_child_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
on_child_exit(uv_process_t *p, int64_t status, int sig)
{
	if (status != 0 || sig != 0)
		log_info(
		    "the notify command exited with status %lld (signal %d)",
		    (long long)status, sig);
	uv_close((uv_handle_t *)p, on_child_closed);
}

static void
run(struct notify *n, const char *event)
{
	struct notify_child *ch;
	uv_process_options_t o;
	int r;

	if (proc_env_set(&n->env, "JIT_NOTIFY_EVENT", event) != 0 ||
	    (ch = calloc(1, sizeof(*ch))) == NULL)
		return;
	memset(&o, 0, sizeof(o));
	o.file = n->argv.v[0];
	o.args = n->argv.v;
	o.env = n->env.v;
	o.exit_cb = on_child_exit;
	o.stdio_count = 0; /* stdin, stdout, stderr: /dev/null */
	ch->proc.data = ch;
	if ((r = uv_spawn(n->ag->loop, &ch->proc, &o)) != 0) {
		log_warn("cannot run the notify command %s: %s", n->argv.v[0],
		    uv_strerror(r));
		uv_close((uv_handle_t *)&ch->proc, on_child_closed);
	}
}

static void
on_fire(uv_timer_t *t)
{
	struct notify *n = t->data;

	n->shown = true;
	run(n, "show");
}

/* notify-send with the sentence, as the default command. */
static int
default_argv(char *text, struct conf_argv *a)
{
	char prog[] = NOTIFY_DEFAULT, app[] = "--app-name=jit-agent";
	char title[] = "jit-agent", *v[] = { prog, app, title, text, NULL };
	struct conf_argv src = { v, 4 };

	return conf_argv_dup(&src, a);
}

struct notify *
notify_arm(struct agent *ag, const char *names, const char *token,
    int64_t window_s, const struct peer *p)
{
	struct notify *n;
	char num[24], win[24], text[PROMPT_TEXT_MAX], chain[PROMPT_CHAIN_MAX];
	bool custom = ag->conf != NULL && ag->conf->notify.n > 0;

	if (!custom && access(NOTIFY_DEFAULT, X_OK) != 0)
		return NULL;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->ag = ag;
	n->can_withdraw = custom;
	snprintf(num, sizeof(num), "%d", (int)p->pid);
	snprintf(win, sizeof(win), "%lld", (long long)window_s);
	prompt_chain(p, chain, sizeof(chain));
	prompt_touch(p, names, token, window_s, text, sizeof(text));
	if ((custom ? conf_argv_dup(&ag->conf->notify, &n->argv) :
		      default_argv(text, &n->argv)) != 0 ||
	    proc_env_init(&n->env) != 0 ||
	    proc_env_set(&n->env, "JIT_NOTIFY_CREDENTIAL", names) != 0 ||
	    proc_env_set(&n->env, "JIT_NOTIFY_TOKEN", token) != 0 ||
	    proc_env_set(&n->env, "JIT_NOTIFY_WINDOW", win) != 0 ||
	    proc_env_set(&n->env, "JIT_NOTIFY_PID", num) != 0 ||
	    proc_env_set(&n->env, "JIT_NOTIFY_EXE", p->exe) != 0 ||
	    proc_env_set(&n->env, "JIT_NOTIFY_CHAIN", chain) != 0 ||
	    proc_env_set(&n->env, "JIT_NOTIFY_TEXT", text) != 0) {
		log_warn("cannot prepare the notify command: %s",
		    jit_strerror(JIT_E_NOMEM));
		notify_free(n);
		return NULL;
	}
	uv_timer_init(ag->loop, &n->timer);
	n->timer.data = n;
	uv_timer_start(&n->timer, on_fire, NOTIFY_AFTER_MS, 0);
	return n;
}

void
notify_disarm(struct notify *n)
{
	if (n == NULL)
		return;
	uv_timer_stop(&n->timer);
	if (n->shown && n->can_withdraw)
		run(n, "withdraw");
	uv_close((uv_handle_t *)&n->timer, on_timer_closed);
}
