/* Benchmark of jit-agent's credential paths: add, unlock, get, lock. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "client.h"
#include "err.h"
#include "fields.h"
#include "secret.h"

#define AGAIN_RUNS 5 /* unlocks from the key cache, for their median */

/*
 * bench-creds SOCKET PINFILE COUNT GETS
 *
 * Needs an agent with one enrolled TPM token whose PIN is in PINFILE and
 * no credentials named bench-*.  Prints one "name value unit" line per
 * measurement; contrib/bench.sh puts them beside OpenSSH's ssh-agent.
 */

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct secret *
one_field(const char *val)
{
	struct fields_builder b;
	struct secret *f = NULL;

	if (fields_begin(&b) != 0 ||
	    fields_add(&b, FIELD_DEFAULT, strlen(FIELD_DEFAULT),
		(const uint8_t *)val, strlen(val)) != 0 ||
	    fields_finish(&b, &f) != 0)
		return NULL;
	return f;
}

static int
call(struct client *c, const char *verb, const char *json,
    const struct secret *sec)
{
	struct client_reply rep = { .retries = -1 };
	struct json_object *args = json_tokener_parse(json);
	int r;

	r = client_call(c, verb, args, sec, &rep);
	if (r != 0)
		fprintf(stderr, "bench: %s: %s\n", verb,
		    rep.message ? rep.message : jit_strerror(r));
	client_reply_reset(&rep);
	json_object_put(args);
	return r;
}

static int
unlock_names(struct client *c, int from, int n, const struct secret *pin)
{
	struct json_object *args, *arr;
	struct client_reply rep = { .retries = -1 };
	char name[64];
	int i, r;

	args = json_object_new_object();
	arr = json_object_new_array();
	for (i = from; i < from + n; i++) {
		snprintf(name, sizeof(name), "bench-%d", i);
		json_object_array_add(arr, json_object_new_string(name));
	}
	json_object_object_add(args, "names", arr);
	r = client_call(c, "unlock", args, pin, &rep);
	if (r != 0)
		fprintf(stderr, "bench: unlock: %s\n",
		    rep.message ? rep.message : jit_strerror(r));
	client_reply_reset(&rep);
	json_object_put(args);
	return r;
}

int
main(int argc, char **argv)
{
	struct client *c = NULL;
	struct secret *val, *pin = NULL;
	char name[64], json[128], buf[256], why[256] = "";
	double t0, t1, *lat;
	int count, gets, i, fd;
	ssize_t n;

	if (argc != 5 || sodium_init() < 0)
		return 2;
	count = atoi(argv[3]);
	gets = atoi(argv[4]);
	if (count < 2 || gets < 1)
		return 2;
	if ((fd = open(argv[2], O_RDONLY)) < 0 ||
	    (n = read(fd, buf, sizeof(buf))) <= 0 ||
	    secret_from(buf, (size_t)n, &pin) != 0)
		return 1;
	close(fd);
	if (client_connect(argv[1], &c, why, sizeof(why)) != 0 ||
	    (val = one_field("bench-value-0123456789abcdef")) == NULL) {
		fprintf(stderr, "bench: %s\n", why[0] ? why : "cannot start");
		return 1;
	}

	t0 = now_us();
	for (i = 0; i < count; i++) {
		snprintf(json, sizeof(json),
		    "{\"name\":\"bench-%d\",\"ttl\":3600}", i);
		if (call(c, "add", json, val) != 0)
			return 1;
	}
	t1 = now_us();
	printf("add_per_s %.0f 1/s\n", count / ((t1 - t0) / 1e6));

	/* What unlocking many adds over the token's own time. */
	t0 = now_us();
	if (unlock_names(c, 0, 1, pin) != 0)
		return 1;
	t1 = now_us();
	printf("unlock_1_ms %.2f ms\n", (t1 - t0) / 1e3);
	double one = t1 - t0;
	t0 = now_us();
	if (unlock_names(c, 0, count, pin) != 0)
		return 1;
	t1 = now_us();
	printf("unlock_%d_ms %.2f ms\n", count, (t1 - t0) / 1e3);
	printf("unlock_extra_for_%d_ms %.2f ms\n", count - 1,
	    (t1 - t0 - one) / 1e3);
	/* Again after a lock: the token's key cache has their data keys now,
	 * so no credential is unwrapped (the first unlock unwrapped each).
	 * The token's own time varies by milliseconds from one call to the
	 * next: the median of AGAIN_RUNS. */
	double again[AGAIN_RUNS], ones[AGAIN_RUNS], alls[AGAIN_RUNS];
	for (i = 0; i < AGAIN_RUNS; i++) {
		if (call(c, "lock", "{}", NULL) != 0)
			return 1;
		t0 = now_us();
		if (unlock_names(c, 0, 1, pin) != 0)
			return 1;
		t1 = now_us();
		ones[i] = t1 - t0;
		t0 = now_us();
		if (unlock_names(c, 0, count, pin) != 0)
			return 1;
		t1 = now_us();
		alls[i] = t1 - t0;
		again[i] = alls[i] - ones[i];
	}
	qsort(ones, AGAIN_RUNS, sizeof(double), cmp_double);
	qsort(alls, AGAIN_RUNS, sizeof(double), cmp_double);
	printf("unlock_again_1_ms %.2f ms (median of %d)\n",
	    ones[AGAIN_RUNS / 2] / 1e3, AGAIN_RUNS);
	printf("unlock_again_%d_ms %.2f ms (median of %d)\n", count,
	    alls[AGAIN_RUNS / 2] / 1e3, AGAIN_RUNS);
	printf("unlock_again_extra_for_%d_ms runs:", count - 1);
	for (i = 0; i < AGAIN_RUNS; i++)
		printf(" %.2f", again[i] / 1e3);
	qsort(again, AGAIN_RUNS, sizeof(double), cmp_double);
	printf("\nunlock_again_extra_for_%d_ms %.2f ms (median of %d)\n",
	    count - 1, again[AGAIN_RUNS / 2] / 1e3, AGAIN_RUNS);

	if ((lat = calloc((size_t)gets, sizeof(*lat))) == NULL)
		return 1;
	for (i = 0; i < gets; i++) {
		snprintf(
		    json, sizeof(json), "{\"name\":\"bench-%d\"}", i % count);
		t0 = now_us();
		if (call(c, "get", json, NULL) != 0)
			return 1;
		lat[i] = now_us() - t0;
	}
	qsort(lat, (size_t)gets, sizeof(*lat), cmp_double);
	printf("get_p50_us %.1f us\n", lat[gets / 2]);
	printf("get_p99_us %.1f us\n", lat[gets * 99 / 100]);
	free(lat);

	t0 = now_us();
	if (call(c, "lock", "{}", NULL) != 0)
		return 1;
	t1 = now_us();
	printf("lock_%d_ms %.2f ms\n", count, (t1 - t0) / 1e3);

	snprintf(name, sizeof(name), "%d", count);
	secret_free(val);
	secret_free(pin);
	client_free(c);
	return 0;
}
