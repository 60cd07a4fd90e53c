/* probe: which enrolled tokens are plugged in, in the order they are tried. */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "err.h"
#include "ext.h"
#include "hwq.h"
#include "jsonx.h"
#include "proto-names.h"
#include "store.h"

struct probe_job {
	struct hwjob hj; /* first: hwq frees the job */
	struct hw_token *toks[STORE_TOKENS_MAX]; /* copies, in order */
	bool present[STORE_TOKENS_MAX];
	bool preferred[STORE_TOKENS_MAX]; /* named by [agent] prefer */
	size_t n;
};

static void
probe_job_free(struct probe_job *j)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		hw_token_free(j->toks[i]);
	free(j->hj.device);
	j->hj.device = NULL;
}

/* In a worker: nothing is asked of the person, no PIN is tried. */
static void
probe_run(struct hwjob *hj)
{
	struct probe_job *j = (struct probe_job *)hj;
	struct hw_status quiet;
	size_t i;

	for (i = 0; i < j->n && !hj->cancel; i++) {
		memset(&quiet, 0, sizeof(quiet));
		j->present[i] = hw_token_present(j->toks[i], &quiet);
	}
	hj->result = JIT_OK;
}

static void
probe_done(struct hwjob *hj)
{
	struct probe_job *j = (struct probe_job *)hj;
	struct json_object *res, *arr, *t;
	size_t i;

	if (hj->conn == NULL)
		goto out;
	conn_set_job(hj->conn, NULL);
	res = json_object_new_object();
	arr = json_object_new_array();
	for (i = 0; i < j->n; i++) {
		if ((t = json_object_new_object()) == NULL)
			continue;
		(void)jsonx_add_str(t, JP_TOKEN_LABEL, j->toks[i]->label);
		(void)jsonx_add_str(t, JP_TOKEN_TYPE, j->toks[i]->type);
		(void)jsonx_add_bool(t, JP_TOKEN_UV, j->toks[i]->uv);
		(void)jsonx_add_bool(
		    t, JP_TOKEN_TOUCH, hw_token_wants_touch(j->toks[i]));
		(void)jsonx_add_bool(t, JP_PROBE_PRESENT, j->present[i]);
		(void)jsonx_add_bool(t, JP_PROBE_PREFERRED, j->preferred[i]);
		json_object_array_add(arr, t);
	}
	json_object_object_add(res, JP_RES_PROBE_TOKENS, arr);
	reply_ext_result(hj->conn, res);
	conn_done(hj->conn);
out:
	probe_job_free(j);
}

/*
 * jitctl asks before it asks the person: the token that will answer is
 * the first of these, in this order, that is present and opens what is
 * asked; so the PIN prompt or the touch notice names that one.
 */
int
ext_probe(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct probe_job *j;
	size_t order[STORE_TOKENS_MAX], i, k;
	int r;

	(void)args;
	(void)payload;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return JIT_E_NOMEM;
	ext_token_order(ag, order);
	for (i = 0; i < store_ntokens(ag->store) && i < STORE_TOKENS_MAX; i++) {
		if ((r = hw_token_dup(store_token_at(ag->store, order[i]),
			 &j->toks[j->n])) != 0)
			goto fail;
		for (k = 0; ag->conf != NULL && k < ag->conf->nprefer; k++)
			if (strcmp(ag->conf->prefer[k], j->toks[j->n]->label) ==
			    0)
				j->preferred[j->n] = true;
		j->n++;
	}
	j->hj.conn = rq->conn;
	j->hj.run = probe_run;
	j->hj.done = probe_done;
	/* Its own queue: a probe asks nothing and must not wait behind a
	 * touch pending on one of the tokens. */
	if ((j->hj.device = strdup("probe:")) == NULL) {
		r = JIT_E_NOMEM;
		goto fail;
	}
	if ((r = hwq_submit(ag->hwq, &j->hj)) != 0)
		goto fail;
	conn_set_job(rq->conn, &j->hj);
	return AGENT_DEFERRED;
fail:
	probe_job_free(j);
	free(j);
	return r;
}
