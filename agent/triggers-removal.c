/* A token removed locks: FIDO2 keys through udev, simulators' sockets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "config.h"
#include "hw.h"
#include "log.h"
#include "store.h"
#include "triggers-removal.h"
#include "triggers.h"
#include "vault.h"

#if HAVE_UDEV
#include <libudev.h>
#endif

#define SIM_PREFIX "sim:"
#define SIM_WATCH_MAX 16

/* A simulator's socket: its directory watched, its file looked at. */
struct sim_watch {
	uv_fs_event_t ev; /* first: the close callback frees */
	struct removal_trigger *rt;
	char *device; /* sim:SOCKET */
	bool present;
	struct sim_watch *next;
};

struct removal_trigger {
	struct agent *ag;
	struct sim_watch *sims;
	size_t nsims;
#if HAVE_UDEV
	struct udev *udev;
	struct udev_monitor *mon;
	uv_poll_t poll;
	bool poll_up;
#endif
};

static bool
opened_by(struct agent *ag, const char *label)
{
	struct vault_slot *s;

	if (ag->vault == NULL)
		return false;
	for (s = vault_first(ag->vault); s != NULL; s = s->next)
		if (strcmp(s->token_label, label) == 0)
			return true;
	return false;
}

bool
removal_device_gone(struct agent *ag, const char *device, const char *how)
{
	struct hw_token *t;
	char why[HW_LABEL_MAX + 64];
	size_t i, n = ag->store != NULL ? store_ntokens(ag->store) : 0;

	for (i = 0; i < n; i++) {
		t = store_token_at(ag->store, i);
		if (t->device == NULL || strcmp(t->device, device) != 0)
			continue;
		if (!opened_by(ag, t->label)) {
			log_info(
			    "token %s removed (%s); nothing it opened is unlocked",
			    t->label, how);
			continue;
		}
		if (ag->conf != NULL && !ag->conf->lock_on_removal) {
			log_info(
			    "token %s removed (%s); lock_on_removal = no: what it opened stays unlocked",
			    t->label, how);
			continue;
		}
		snprintf(
		    why, sizeof(why), "token %s removed (%s)", t->label, how);
		(void)agent_lock(ag, why, "removal", NULL, NULL, NULL);
		return true;
	}
	return false;
}

bool
removal_udev_event(struct agent *ag, const char *action, const char *subsystem,
    const char *devnode)
{
	if (action == NULL || subsystem == NULL || devnode == NULL ||
	    strcmp(action, "remove") != 0 || strcmp(subsystem, "hidraw") != 0)
		return false;
	return removal_device_gone(ag, devnode, "unplugged");
}

static bool
sim_present(const char *device)
{
	struct stat st;

	return stat(device + strlen(SIM_PREFIX), &st) == 0;
}

static void
on_sim_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct sim_watch *w = h->data;
	bool now;

	(void)filename;
	(void)events;
	(void)status;
	now = sim_present(w->device);
	if (w->present && !now)
		(void)removal_device_gone(
		    w->rt->ag, w->device, "its socket went away");
	w->present = now;
}

static void
on_sim_closed(uv_handle_t *h)
{
	struct sim_watch *w = h->data;

	free(w->device);
	free(w);
}

static void
watch_sim(struct removal_trigger *rt, const char *device)
{
	struct sim_watch *w;
	char *dir = NULL, *slash;

	for (w = rt->sims; w != NULL; w = w->next)
		if (strcmp(w->device, device) == 0)
			return;
	if (rt->nsims >= SIM_WATCH_MAX || (w = calloc(1, sizeof(*w))) == NULL)
		return;
	if ((w->device = strdup(device)) == NULL ||
	    (dir = strdup(device + strlen(SIM_PREFIX))) == NULL)
		goto fail;
	if ((slash = strrchr(dir, '/')) == NULL)
		goto fail;
	slash[slash == dir ? 1 : 0] = '\0';
	w->rt = rt;
	w->present = sim_present(device);
	uv_fs_event_init(rt->ag->loop, &w->ev);
	w->ev.data = w;
	if (uv_fs_event_start(&w->ev, on_sim_event, dir, 0) != 0) {
		log_warn("cannot watch %s: its removal will not lock", dir);
		uv_close((uv_handle_t *)&w->ev, on_sim_closed);
		free(dir);
		return;
	}
	free(dir);
	w->next = rt->sims;
	rt->sims = w;
	rt->nsims++;
	return;
fail:
	free(dir);
	free(w->device);
	free(w);
}

void
removal_trigger_rescan(struct agent *ag)
{
	struct hw_token *t;
	size_t i, n;

	if (ag->removal == NULL || ag->store == NULL)
		return;
	n = store_ntokens(ag->store);
	for (i = 0; i < n; i++) {
		t = store_token_at(ag->store, i);
		if (t->device != NULL &&
		    strncmp(t->device, SIM_PREFIX, strlen(SIM_PREFIX)) == 0)
			watch_sim(ag->removal, t->device);
	}
}

#if HAVE_UDEV
static void
on_udev(uv_poll_t *p, int status, int events)
{
	struct removal_trigger *rt = p->data;
	struct udev_device *d;

	(void)status;
	(void)events;
	while ((d = udev_monitor_receive_device(rt->mon)) != NULL) {
		(void)removal_udev_event(rt->ag, udev_device_get_action(d),
		    udev_device_get_subsystem(d), udev_device_get_devnode(d));
		udev_device_unref(d);
	}
}

static bool
udev_start(struct removal_trigger *rt)
{
	if ((rt->udev = udev_new()) == NULL ||
	    (rt->mon = udev_monitor_new_from_netlink(rt->udev, "udev")) ==
		NULL ||
	    udev_monitor_filter_add_match_subsystem_devtype(
		rt->mon, "hidraw", NULL) < 0 ||
	    udev_monitor_enable_receiving(rt->mon) < 0) {
		log_info(
		    "cannot listen to udev: unplugging a FIDO2 key will not lock (simulators still do)");
		return false;
	}
	uv_poll_init(rt->ag->loop, &rt->poll, udev_monitor_get_fd(rt->mon));
	rt->poll.data = rt;
	uv_poll_start(&rt->poll, UV_READABLE, on_udev);
	rt->poll_up = true;
	return true;
}

static void
on_poll_closed(uv_handle_t *h)
{
	struct removal_trigger *rt = h->data;

	udev_monitor_unref(rt->mon);
	udev_unref(rt->udev);
	free(rt);
}
#endif

static bool
have_udev(const struct agent *ag)
{
#if HAVE_UDEV
	return ag->removal != NULL && ag->removal->poll_up;
#else
	(void)ag;
	return false;
#endif
}

void
removal_trigger_note(struct agent *ag)
{
	if (ag->conf != NULL && !ag->conf->lock_on_removal)
		triggers_note(ag, "removal", false, "lock_on_removal = no");
	else if (have_udev(ag))
		triggers_note(ag, "removal", true,
		    "FIDO2 keys (udev), simulators (their socket)");
	else
		triggers_note(ag, "removal", true,
		    "simulators (their socket); FIDO2 keys not watched: no udev");
}

void
removal_trigger_start(struct agent *ag)
{
	struct removal_trigger *rt;

	if ((rt = calloc(1, sizeof(*rt))) == NULL)
		return;
	rt->ag = ag;
	ag->removal = rt;
#if HAVE_UDEV
	if (!udev_start(rt)) {
		udev_monitor_unref(rt->mon);
		udev_unref(rt->udev);
		rt->mon = NULL;
		rt->udev = NULL;
	}
#endif
	removal_trigger_rescan(ag);
	removal_trigger_note(ag);
}

void
removal_trigger_stop(struct agent *ag)
{
	struct removal_trigger *rt = ag->removal;
	struct sim_watch *w, *next;

	if (rt == NULL)
		return;
	ag->removal = NULL;
	for (w = rt->sims; w != NULL; w = next) {
		next = w->next;
		uv_fs_event_stop(&w->ev);
		uv_close((uv_handle_t *)&w->ev, on_sim_closed);
	}
#if HAVE_UDEV
	if (rt->poll_up) {
		uv_poll_stop(&rt->poll);
		uv_close((uv_handle_t *)&rt->poll, on_poll_closed);
		return;
	}
#endif
	free(rt);
}
