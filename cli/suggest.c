/* "Did you mean": the nearest verb or credential name to a mistyped one. */
#include <string.h>

#include "jitctl.h"
#include "proto-names.h"

#define SUGGEST_LEN_MAX 64

/* Damerau-Levenshtein distance (adjacent swaps count one), three rows. */
static size_t
distance(const char *a, const char *b)
{
	size_t rows[3][SUGGEST_LEN_MAX + 1], *p2, *p1, *cur, *t;
	size_t la = strlen(a), lb = strlen(b), i, j, c, best;

	if (la > SUGGEST_LEN_MAX || lb > SUGGEST_LEN_MAX)
		return (size_t)-1;
	p2 = rows[0];
	p1 = rows[1];
	cur = rows[2];
	for (j = 0; j <= lb; j++)
		p1[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			c = a[i - 1] == b[j - 1] ? 0 : 1;
			best = p1[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (p1[j - 1] + c < best)
				best = p1[j - 1] + c;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && p2[j - 2] + 1 < best)
				best = p2[j - 2] + 1;
			cur[j] = best;
		}
		t = p2;
		p2 = p1;
		p1 = cur;
		cur = t;
	}
	return p1[lb];
}

const char *
cli_nearest(const char *word, const char *const *cands, size_t ncands)
{
	const char *best = NULL;
	size_t i, dist, best_dist = (size_t)-1, limit;

	limit = strlen(word) / 3 > 0 ? strlen(word) / 3 : 1;
	for (i = 0; i < ncands; i++) {
		if (cands[i] == NULL || strcmp(cands[i], word) == 0)
			continue;
		dist = distance(word, cands[i]);
		/* A prefix typed out ("stat" for "status") counts too. */
		if (strlen(word) >= 3 &&
		    strncmp(cands[i], word, strlen(word)) == 0)
			dist = 1;
		if (dist <= limit && dist < best_dist) {
			best = cands[i];
			best_dist = dist;
		}
	}
	return best;
}

const char *
cli_nearest_cred(struct json_object *status, const char *name)
{
	struct json_object *arr = cli_jarray(status, JP_RES_STATUS_CREDENTIALS);
	const char *names[256], *best = NULL, *found;
	size_t i, n = arr == NULL ? 0 : json_object_array_length(arr), k;

	/* In pages of 256, keeping the best of each. */
	for (i = 0; i < n; i += k) {
		for (k = 0; k < 256 && i + k < n; k++)
			names[k] = cli_jstr(
			    json_object_array_get_idx(arr, i + k),
			    JP_CRED_NAME);
		found = cli_nearest(name, names, k);
		if (found != NULL &&
		    (best == NULL ||
			distance(name, found) < distance(name, best)))
			best = found;
	}
	return best;
}
