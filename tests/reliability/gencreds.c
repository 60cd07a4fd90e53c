/* Many sealed credentials at once, through the store's own seal and save:
 * the files an agent reads are the files `jitctl add` would have made. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "fields.h"
#include "secret.h"
#include "store.h"
#include "tokenset.h"

/*
 * jit-rel-gencreds DATADIR COUNT [PREFIX [TTL_S]]
 *
 * Seals COUNT credentials named PREFIX-000000, PREFIX-000001, ... (PREFIX
 * defaults to "gen", TTL_S to a day) in DATADIR, whose tokens were enrolled
 * by a real agent, each wrapped to every enrolled token; the value of
 * PREFIX-N is "value-N".  The agent must be stopped: the data directory's
 * lock is taken as the agent takes it.  The token set is trusted as it is
 * on disk (an agent waits for a token to vouch for it before it wraps:
 * the tests that use this enrolled the tokens a moment ago).  Prints the
 * count and the time it took.
 */

#define GEN_PREFIX_MAX 32

/*
 * The store syncs every file and its directory (two fsyncs, ~10 ms each
 * here): 100,000 would take a quarter of an hour.  These files are test
 * data, made again if the machine stops, so this program's fsync does
 * nothing and one sync() at the end writes them all; every other byte goes
 * through the store's own code.
 */
int
fsync(int fd)
{
	(void)fd;
	return 0;
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: jit-rel-gencreds DATADIR COUNT [PREFIX [TTL_SECONDS]]\n");
	return 2;
}

static int
one_value(size_t i, struct secret **ret)
{
	struct fields_builder b;
	char val[48];
	int n, r;

	n = snprintf(val, sizeof(val), "value-%zu", i);
	if ((r = fields_begin(&b)) != 0 ||
	    (r = fields_add(&b, FIELD_DEFAULT, strlen(FIELD_DEFAULT),
		 (const uint8_t *)val, (size_t)n)) != 0)
		return r;
	r = fields_finish(&b, ret);
	sodium_memzero(val, sizeof(val));
	return r;
}

int
main(int argc, char **argv)
{
	struct store *s = NULL;
	struct secret *f = NULL;
	struct cred *c;
	struct timespec t0, t1;
	const char *prefix = argc > 3 ? argv[3] : "gen";
	char name[GEN_PREFIX_MAX + 16], why[512], *end;
	unsigned long long count, ttl = 86400;
	size_t i;
	int lock_fd = -1, r, status = 1;

	if (argc < 3 || argc > 5)
		return usage();
	count = strtoull(argv[2], &end, 10);
	if (*end != '\0' || count > STORE_CREDS_MAX ||
	    strlen(prefix) > GEN_PREFIX_MAX)
		return usage();
	if (argc > 4 &&
	    ((ttl = strtoull(argv[4], &end, 10)) == 0 || *end != '\0' ||
		ttl > 10ULL * 365 * 86400))
		return usage();
	if (sodium_init() < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((r = store_lock(argv[1], "jit-rel-gencreds\n", &lock_fd, why,
		 sizeof(why))) != 0) {
		fprintf(stderr, "jit-rel-gencreds: %s\n", why);
		return 1;
	}
	if ((r = store_open(argv[1], &s)) != 0) {
		fprintf(stderr,
		    "jit-rel-gencreds: cannot open the store %s: %s\n", argv[1],
		    jit_strerror(r));
		goto out;
	}
	if (store_ntokens(s) == 0) {
		fprintf(stderr,
		    "jit-rel-gencreds: no token is enrolled in %s: enroll one through an agent first\n",
		    argv[1]);
		goto out;
	}
	store_set_verified(s, store_tokenset(s)->generation, JIT_OK, "");
	for (i = 0; i < count; i++) {
		struct cred_new a = {
			.name = name,
			.kind = "secret",
			.ttl_s = (int64_t)ttl,
			.stepup = STEPUP_SESSION,
		};

		snprintf(name, sizeof(name), "%s-%06zu", prefix, i);
		if ((r = one_value(i, &f)) != 0 ||
		    (r = store_put_cred(s, &a, f, &c)) != 0) {
			fprintf(stderr, "jit-rel-gencreds: %s: %s\n", name,
			    jit_strerror(r));
			goto out;
		}
		secret_free(f);
		f = NULL;
	}
	sync();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("sealed %llu credentials in %.1f s\n", count,
	    (double)(t1.tv_sec - t0.tv_sec) +
		(double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	status = 0;
out:
	secret_free(f);
	store_free(s);
	if (lock_fd >= 0)
		close(lock_fd);
	return status;
}
