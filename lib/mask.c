/* The streaming matcher behind jitctl exec's concealment of values. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "fields.h"
#include "mask.h"
#include "secret.h"

struct mask_value {
	size_t off; /* into vals */
	size_t len;
};

struct mask_set {
	struct secret *vals; /* every value, back to back */
	struct mask_value *v; /* longest first */
	size_t n;
	size_t max_len;
	bool first[256]; /* a value starts with this byte */
};

struct mask_stream {
	const struct mask_set *ms;
	mask_out_fn out;
	void *ctx;
	struct secret *buf; /* held bytes, then the new ones */
	size_t held;
};

static int
by_len_desc(const void *a, const void *b)
{
	const struct mask_value *x = a, *y = b;

	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Visit the values long enough to conceal, counting or copying them. */
static int
walk(const struct secret *const *fields, size_t nfields, struct mask_set *ms,
    size_t *ret_n, size_t *ret_total)
{
	struct fields_iter it;
	struct field f;
	size_t i, n = 0, total = 0;
	uint8_t *dst = ms != NULL ? secret_ptr(ms->vals) : NULL;
	int r;

	for (i = 0; i < nfields; i++) {
		if ((r = fields_iter_init(&it, fields[i])) != 0)
			return r;
		while ((r = fields_next(&it, &f)) == 1) {
			if (f.vallen < MASK_MIN_LEN)
				continue;
			if (n >= MASK_VALUES_MAX ||
			    f.vallen > MASK_TOTAL_MAX - total)
				return JIT_E_LIMIT;
			if (ms != NULL) {
				memcpy(dst + total, f.val, f.vallen);
				ms->v[n].off = total;
				ms->v[n].len = f.vallen;
				ms->first[f.val[0]] = true;
			}
			n++;
			total += f.vallen;
		}
		if (r != 0)
			return r;
	}
	*ret_n = n;
	*ret_total = total;
	return JIT_OK;
}

int
mask_set_new(
    const struct secret *const *fields, size_t nfields, struct mask_set **ret)
{
	struct mask_set *ms = NULL;
	size_t n, total;
	int r;

	*ret = NULL;
	if ((r = walk(fields, nfields, NULL, &n, &total)) != 0)
		return r;
	if ((ms = calloc(1, sizeof(*ms))) == NULL ||
	    (n > 0 && (ms->v = calloc(n, sizeof(*ms->v))) == NULL)) {
		r = JIT_E_NOMEM;
		goto out;
	}
	if ((r = secret_new(total > 0 ? total : 1, &ms->vals)) != 0 ||
	    (r = walk(fields, nfields, ms, &ms->n, &total)) != 0)
		goto out;
	if (ms->n > 0)
		qsort(ms->v, ms->n, sizeof(*ms->v), by_len_desc);
	ms->max_len = ms->n > 0 ? ms->v[0].len : 0;
	*ret = ms;
	ms = NULL;
out:
	mask_set_free(ms);
	return r;
}

size_t
mask_set_count(const struct mask_set *ms)
{
	return ms->n;
}

void
mask_set_free(struct mask_set *ms)
{
	if (ms == NULL)
		return;
	secret_free(ms->vals);
	free(ms->v);
	free(ms);
}

int
mask_stream_new(const struct mask_set *ms, mask_out_fn out, void *ctx,
    struct mask_stream **ret)
{
	struct mask_stream *st;
	size_t hold = ms->max_len > 0 ? ms->max_len - 1 : 0;
	int r;

	*ret = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return JIT_E_NOMEM;
	if ((r = secret_new(hold + MASK_CHUNK, &st->buf)) != 0) {
		free(st);
		return r;
	}
	st->ms = ms;
	st->out = out;
	st->ctx = ctx;
	*ret = st;
	return JIT_OK;
}

/*
 * At p (avail bytes left): the length of the longest value found whole,
 * 0 when none starts here, or -1 when a value that would win (no longer
 * one found whole) continues past the end and the next bytes decide.
 */
static long
match_at(const struct mask_set *ms, const uint8_t *p, size_t avail, bool final)
{
	const uint8_t *vals = secret_ptr(ms->vals);
	size_t i;

	if (!ms->first[p[0]])
		return 0;
	for (i = 0; i < ms->n; i++) {
		const struct mask_value *v = &ms->v[i];

		if (v->len <= avail) {
			if (memcmp(p, vals + v->off, v->len) == 0)
				return (long)v->len;
		} else if (!final && memcmp(p, vals + v->off, avail) == 0)
			return -1;
	}
	return 0;
}

/* Filter buf[0..n): pass on what is decided, keep the rest at the start. */
static int
scan(struct mask_stream *st, size_t n, bool final)
{
	uint8_t *b = secret_ptr(st->buf);
	size_t i = 0, run = 0;
	long m;
	int r;

	while (i < n) {
		if ((m = match_at(st->ms, b + i, n - i, final)) < 0)
			break;
		if (m == 0) {
			i++;
			continue;
		}
		if ((i > run &&
			(r = st->out(st->ctx, b + run, i - run)) != 0) ||
		    (r = st->out(st->ctx, MASK_REPLACEMENT,
			 strlen(MASK_REPLACEMENT))) != 0)
			return r;
		i += (size_t)m;
		run = i;
	}
	if (i > run && (r = st->out(st->ctx, b + run, i - run)) != 0)
		return r;
	/* What is held is a value's beginning: shorter than the longest. */
	st->held = n - i;
	memmove(b, b + i, st->held);
	sodium_memzero(b + st->held, n - st->held);
	return JIT_OK;
}

uint8_t *
mask_stream_space(struct mask_stream *st, size_t *room)
{
	*room = MASK_CHUNK;
	return secret_ptr(st->buf) + st->held;
}

int
mask_stream_commit(struct mask_stream *st, size_t n)
{
	if (n > MASK_CHUNK)
		return JIT_E_LIMIT;
	return scan(st, st->held + n, false);
}

int
mask_stream_feed(struct mask_stream *st, const void *p, size_t n)
{
	size_t room;
	uint8_t *dst = mask_stream_space(st, &room);

	if (n > room)
		return JIT_E_LIMIT;
	memcpy(dst, p, n);
	return mask_stream_commit(st, n);
}

int
mask_stream_flush(struct mask_stream *st)
{
	return st->held > 0 ? scan(st, st->held, true) : JIT_OK;
}

size_t
mask_stream_held(const struct mask_stream *st)
{
	return st->held;
}

void
mask_stream_free(struct mask_stream *st)
{
	if (st == NULL)
		return;
	secret_free(st->buf);
	free(st);
}
