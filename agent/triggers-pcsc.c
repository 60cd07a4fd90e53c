/* A PIV card pulled out locks: PC/SC reader events from pcscd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#include "conf.h"
#include "hw.h"
#include "log.h"
#include "store.h"
#include "triggers-pcsc.h"
#include "triggers-removal.h"
#include "triggers.h"

#define PCSC_NAME "PIV removal"
#define PCSC_PNP "\\\\?PnP?\\Notification"
#define PCSC_READERS_MAX 8
#define PCSC_READER_LEN 128
#define PCSC_LIST_MAX 4096
#define PCSC_QUEUE_MAX 8
/* SCardCancel ends a wait; one begun just after it ends within this. */
#define PCSC_WAIT_MS 5000

struct pcsc_reader {
	char name[PCSC_READER_LEN];
	DWORD state; /* the last event state seen */
};

struct pcsc_trigger {
	uv_async_t async; /* first: the close callback frees */
	struct agent *ag;
	uv_thread_t thread;
	uv_mutex_t mu;
	SCARDCONTEXT ctx;
	bool running; /* a thread and ctx to join and release */
	bool said_off; /* "no pcscd" said since the last time it ran */
	/* Under mu: readers gone, and whether the thread has ended. */
	char gone[PCSC_QUEUE_MAX][PCSC_READER_LEN];
	size_t ngone;
	bool ended;
	bool stopping;
	/* The thread's own. */
	struct pcsc_reader rd[PCSC_READERS_MAX];
	size_t nrd;
};

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* The thread: a reader gone or emptied, handed to the loop. */
static void
report_gone(struct pcsc_trigger *pt, const char *name)
{
	uv_mutex_lock(&pt->mu);
	if (pt->ngone < PCSC_QUEUE_MAX)
		snprintf(pt->gone[pt->ngone++], PCSC_READER_LEN, "%s", name);
	uv_mutex_unlock(&pt->mu);
	uv_async_send(&pt->async);
}

/* The thread: the reader list again; one with a card that left, gone. */
static LONG
relist(struct pcsc_trigger *pt)
{
	struct pcsc_reader old[PCSC_READERS_MAX];
	size_t nold = pt->nrd, i, j;
	char *list, *p;
	DWORD len = PCSC_LIST_MAX;
	LONG rc;

	if ((list = calloc(1, PCSC_LIST_MAX)) == NULL)
		return SCARD_E_NO_MEMORY;
	memcpy(old, pt->rd, sizeof(old));
	rc = SCardListReaders(pt->ctx, NULL, list, &len);
	if (rc == SCARD_E_NO_READERS_AVAILABLE) {
		list[0] = '\0';
		rc = SCARD_S_SUCCESS;
	}
	if (rc != SCARD_S_SUCCESS) {
		free(list);
		return rc;
	}
	list[PCSC_LIST_MAX - 1] = '\0';
	pt->nrd = 0;
	for (p = list; *p != '\0' && pt->nrd < PCSC_READERS_MAX &&
	     p < list + PCSC_LIST_MAX - 1;
	     p += strlen(p) + 1) {
		struct pcsc_reader *r = &pt->rd[pt->nrd++];

		snprintf(r->name, sizeof(r->name), "%s", p);
		r->state = SCARD_STATE_UNAWARE;
		for (i = 0; i < nold; i++)
			if (strcmp(old[i].name, r->name) == 0)
				r->state = old[i].state;
	}
	for (i = 0; i < nold; i++) {
		bool kept = false;

		for (j = 0; j < pt->nrd; j++)
			kept = kept || strcmp(old[i].name, pt->rd[j].name) == 0;
		if (!kept && (old[i].state & SCARD_STATE_PRESENT))
			report_gone(pt, old[i].name);
	}
	free(list);
	return SCARD_S_SUCCESS;
}

static void
pcsc_thread(void *arg)
{
	struct pcsc_trigger *pt = arg;
	SCARD_READERSTATE st[PCSC_READERS_MAX + 1];
	DWORD pnp = SCARD_STATE_UNAWARE;
	bool stop;
	size_t i;
	LONG rc;

	if ((rc = relist(pt)) != SCARD_S_SUCCESS)
		goto out;
	for (;;) {
		uv_mutex_lock(&pt->mu);
		stop = pt->stopping;
		uv_mutex_unlock(&pt->mu);
		if (stop)
			goto out;
		memset(st, 0, sizeof(st));
		st[0].szReader = PCSC_PNP;
		st[0].dwCurrentState = pnp;
		for (i = 0; i < pt->nrd; i++) {
			st[i + 1].szReader = pt->rd[i].name;
			st[i + 1].dwCurrentState = pt->rd[i].state;
		}
		rc = SCardGetStatusChange(
		    pt->ctx, PCSC_WAIT_MS, st, (DWORD)pt->nrd + 1);
		if (rc == SCARD_E_TIMEOUT)
			continue;
		if (rc != SCARD_S_SUCCESS)
			goto out;
		for (i = 0; i < pt->nrd; i++) {
			DWORD was = pt->rd[i].state,
			      now = st[i + 1].dwEventState;

			if ((was & SCARD_STATE_PRESENT) &&
			    (now &
				(SCARD_STATE_EMPTY | SCARD_STATE_UNKNOWN |
				    SCARD_STATE_UNAVAILABLE |
				    SCARD_STATE_IGNORE)))
				report_gone(pt, pt->rd[i].name);
			pt->rd[i].state = now & ~SCARD_STATE_CHANGED;
		}
		if (pnp != SCARD_STATE_UNAWARE &&
		    (st[0].dwEventState & SCARD_STATE_CHANGED) == 0) {
			pnp = st[0].dwEventState & ~SCARD_STATE_CHANGED;
			continue;
		}
		pnp = st[0].dwEventState & ~SCARD_STATE_CHANGED;
		if ((rc = relist(pt)) != SCARD_S_SUCCESS)
			goto out;
	}
out:
	uv_mutex_lock(&pt->mu);
	pt->ended = true;
	uv_mutex_unlock(&pt->mu);
	uv_async_send(&pt->async);
}

static bool
have_piv_token(struct agent *ag)
{
	struct hw_token *t;
	size_t i, n = ag->store != NULL ? store_ntokens(ag->store) : 0;

	for (i = 0; i < n; i++) {
		t = store_token_at(ag->store, i);
		if (t->type != NULL && strcmp(t->type, "piv") == 0 &&
		    t->device != NULL && !all_digits(t->device))
			return true;
	}
	return false;
}

/* The loop: every PIV token whose device names the reader. */
static void
reader_gone(struct agent *ag, const char *reader)
{
	struct hw_token *t;
	char how[PCSC_READER_LEN + 32];
	size_t i, n = ag->store != NULL ? store_ntokens(ag->store) : 0;

	snprintf(how, sizeof(how), "card pulled from %s", reader);
	for (i = 0; i < n; i++) {
		t = store_token_at(ag->store, i);
		if (t->type == NULL || strcmp(t->type, "piv") != 0 ||
		    t->device == NULL || all_digits(t->device) ||
		    strstr(reader, t->device) == NULL)
			continue;
		(void)removal_device_gone(ag, t->device, how);
	}
}

static void
join(struct pcsc_trigger *pt)
{
	if (!pt->running)
		return;
	uv_thread_join(&pt->thread);
	SCardReleaseContext(pt->ctx);
	pt->running = false;
	pt->ended = false;
}

static void
on_async(uv_async_t *a)
{
	struct pcsc_trigger *pt = a->data;
	char gone[PCSC_QUEUE_MAX][PCSC_READER_LEN];
	size_t n, i;
	bool ended;

	uv_mutex_lock(&pt->mu);
	n = pt->ngone;
	memcpy(gone, pt->gone, sizeof(gone));
	pt->ngone = 0;
	ended = pt->ended && !pt->stopping;
	uv_mutex_unlock(&pt->mu);
	for (i = 0; i < n; i++)
		reader_gone(pt->ag, gone[i]);
	if (ended) {
		join(pt);
		log_info(
		    "pcscd went away: pulling a PIV card will not lock until the next unlock finds it again");
		triggers_note(pt->ag, PCSC_NAME, false,
		    "pcscd went away: watched again from the next unlock");
		pt->said_off = true;
	}
}

void
pcsc_trigger_note(struct agent *ag)
{
	struct pcsc_trigger *pt = ag->pcsc;

	if (pt == NULL || !pt->running)
		return;
	if (pt->ag->conf != NULL && !pt->ag->conf->lock_on_removal)
		triggers_note(pt->ag, PCSC_NAME, false, "lock_on_removal = no");
	else
		triggers_note(pt->ag, PCSC_NAME, true,
		    "PIV cards (PC/SC reader events from pcscd)");
}

void
pcsc_trigger_rescan(struct agent *ag)
{
	struct pcsc_trigger *pt = ag->pcsc;
	LONG rc;

	if (pt == NULL || pt->running || !have_piv_token(ag))
		return;
	rc = SCardEstablishContext(SCARD_SCOPE_USER, NULL, NULL, &pt->ctx);
	if (rc != SCARD_S_SUCCESS) {
		if (!pt->said_off)
			log_info(
			    "cannot reach pcscd (%s): pulling a PIV card will not lock; tried again at the next unlock",
			    pcsc_stringify_error(rc));
		pt->said_off = true;
		triggers_note(ag, PCSC_NAME, false,
		    "no pcscd: tried again at the next unlock");
		return;
	}
	pt->ended = false;
	pt->ngone = 0;
	pt->nrd = 0;
	if (uv_thread_create(&pt->thread, pcsc_thread, pt) != 0) {
		SCardReleaseContext(pt->ctx);
		triggers_note(ag, PCSC_NAME, false, "cannot start its thread");
		return;
	}
	pt->running = true;
	pt->said_off = false;
	pcsc_trigger_note(ag);
}

void
pcsc_trigger_start(struct agent *ag)
{
	struct pcsc_trigger *pt;

	if (ag->pcsc != NULL || (pt = calloc(1, sizeof(*pt))) == NULL)
		return;
	if (uv_mutex_init(&pt->mu) != 0) {
		free(pt);
		return;
	}
	pt->ag = ag;
	uv_async_init(ag->loop, &pt->async, on_async);
	pt->async.data = pt;
	ag->pcsc = pt;
	pcsc_trigger_rescan(ag);
}

static void
on_closed(uv_handle_t *h)
{
	struct pcsc_trigger *pt = h->data;

	uv_mutex_destroy(&pt->mu);
	free(pt);
}

void
pcsc_trigger_stop(struct agent *ag)
{
	struct pcsc_trigger *pt = ag->pcsc;

	if (pt == NULL)
		return;
	ag->pcsc = NULL;
	uv_mutex_lock(&pt->mu);
	pt->stopping = true;
	uv_mutex_unlock(&pt->mu);
	if (pt->running)
		SCardCancel(pt->ctx);
	join(pt);
	uv_close((uv_handle_t *)&pt->async, on_closed);
}
