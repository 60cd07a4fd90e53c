/* Unit tests of lib/secret.c: zeroing, wiping, slab accounting, threads. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "secret.h"

#define MANY 10000
#define MEMLOCK_DEFAULT (8 * 1024 * 1024)

static size_t
live_now(void)
{
	struct secret_stats st;

	secret_stats(&st);
	return st.live;
}

static int
all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

/* Each test starts and ends with nothing allocated; each size class may
 * keep one empty 64 KiB slab for the next request. */
static void
check_clean(void)
{
	struct secret_stats st;

	secret_stats(&st);
	ASSERT_EQ_UINT(st.live, 0);
	ASSERT(st.locked_bytes <= 8 * 64 * 1024);
}

/* A new secret is all zeros, even in a reused slot. */
TEST(new_is_zeroed)
{
	struct secret *a, *b, *pin;
	uint8_t *p;

	check_clean();
	ASSERT_PASSING();
	ASSERT_OK(secret_new(100, &pin)); /* keeps the slab alive */
	ASSERT_OK(secret_new(100, &a));
	ASSERT_EQ_UINT(secret_len(a), 100);
	ASSERT(all_bytes(secret_ptr(a), 100, 0));
	p = secret_ptr(a);
	memset(p, 0xa5, 100);
	secret_free(a);
	ASSERT_OK(secret_new(100, &b));
	ASSERT(all_bytes(secret_ptr(b), 100, 0));
	secret_free(b);
	secret_free(pin);

	/* secret_from copies exactly. */
	ASSERT_OK(secret_from("\x01\x02\x03", 3, &a));
	ASSERT_EQ_UINT(secret_len(a), 3);
	ASSERT_EQ_MEM(secret_ptr(a), "\x01\x02\x03", 3);
	secret_free(a);
	ASSERT_OK(secret_from(NULL, 0, &a));
	ASSERT_EQ_UINT(secret_len(a), 0);
	secret_free(a);
	secret_free(NULL); /* accepted */
	check_clean();
}

/* Every size up to the slab maximum, and larger ones, works end to end. */
TEST(all_sizes_usable)
{
	static const size_t big[] = {
		SECRET_SLAB_MAX + 1,
		8192,
		65536,
		65537,
		SECRET_MAX,
	};
	struct secret *s;
	size_t len, i;
	uint8_t *p;

	check_clean();
	ASSERT_PASSING();
	for (len = 0; len <= SECRET_SLAB_MAX; len++) {
		ASSERT_OK(secret_new(len, &s));
		ASSERT_EQ_UINT(secret_len(s), len);
		p = secret_ptr(s);
		ASSERT(p != NULL);
		ASSERT_MSG(all_bytes(p, len, 0), "size %zu not zeroed", len);
		memset(p, (int)(len & 0xff) | 1, len);
		ASSERT_MSG(all_bytes(p, len, (uint8_t)((len & 0xff) | 1)),
		    "size %zu not kept", len);
		secret_free(s);
	}
	for (i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		ASSERT_OK(secret_new(big[i], &s));
		ASSERT_EQ_UINT(secret_len(s), big[i]);
		p = secret_ptr(s);
		ASSERT(all_bytes(p, big[i], 0));
		memset(p, 0x5a, big[i]);
		ASSERT(all_bytes(p, big[i], 0x5a));
		secret_free(s);
	}
	s = NULL;
	ASSERT_ERR(secret_new(SECRET_MAX + 1, &s), JIT_E_LIMIT);
	ASSERT_ERR(secret_from("x", SECRET_MAX + 1, &s), JIT_E_LIMIT);
	ASSERT(s == NULL);
	check_clean();
}

/* Secrets of many sizes alive at once do not overlap. */
TEST(no_overlap)
{
	enum { N = 300 };
	struct secret **s;
	size_t i, len;

	check_clean();
	ASSERT_PASSING();
	ASSERT((s = calloc(N, sizeof(*s))) != NULL);
	for (i = 0; i < N; i++) {
		len = 1 + (i * 97) % (SECRET_SLAB_MAX + 600);
		if (secret_new(len, &s[i]) != 0) {
			ASSERT_MSG(0, "secret_new(%zu) failed at %zu", len, i);
		}
		memset(secret_ptr(s[i]), (int)(i & 0xff), len);
	}
	for (i = 0; i < N; i++) {
		len = secret_len(s[i]);
		ASSERT_MSG(all_bytes(secret_ptr(s[i]), len, (uint8_t)i),
		    "secret %zu (%zu bytes) was overwritten", i, len);
	}
	for (i = 0; i < N; i++)
		secret_free(s[i]);
	free(s);
	check_clean();
}

/*
 * Free wipes: with another secret keeping the slab mapped, the freed slot
 * reads as zeros (past the free-list link kept in its first bytes), and
 * the next secret of that size class gets the same slot back, zeroed.
 */
TEST(free_wipes)
{
	static const size_t sizes[] = { 1, 32, 33, 64, 100, 500, 1024, 4096 };
	struct secret *pin, *victim, *again;
	uint8_t *kept;
	size_t i, len;

	check_clean();
	ASSERT_PASSING();
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		len = sizes[i];
		ASSERT_OK(secret_new(len, &pin));
		ASSERT_OK(secret_new(len, &victim));
		kept = secret_ptr(victim);
		memset(kept, 0xc3, len);
		secret_free(victim);
		if (len > sizeof(void *))
			ASSERT_MSG(all_bytes(kept + sizeof(void *),
				       len - sizeof(void *), 0),
			    "a freed %zu-byte slot still holds its bytes", len);
		ASSERT_OK(secret_new(len, &again));
		ASSERT_MSG(secret_ptr(again) == kept,
		    "the freed %zu-byte slot was not reused", len);
		ASSERT(all_bytes(kept, len, 0));
		secret_free(again);
		secret_free(pin);
	}
	check_clean();
}

/* 10,000 small secrets fit in the default RLIMIT_MEMLOCK. */
TEST(ten_thousand_fit_memlock)
{
	struct secret **s;
	struct secret_stats st;
	size_t i;

	check_clean();
	ASSERT_PASSING();
	ASSERT((s = calloc(MANY, sizeof(*s))) != NULL);
	for (i = 0; i < MANY; i++) {
		int r = secret_new(64, &s[i]);

		if (r != 0) {
			size_t got = i;

			while (i-- > 0)
				secret_free(s[i]);
			free(s);
			ASSERT_MSG(0, "secret %zu of %d: %s", got, MANY,
			    jit_strerror(r));
		}
		memcpy(secret_ptr(s[i]), &i, sizeof(i));
	}
	secret_stats(&st);
	ASSERT_EQ_UINT(st.live, MANY);
	ASSERT_MSG(st.locked_bytes <= MEMLOCK_DEFAULT,
	    "%zu bytes locked for %d secrets of 64 bytes", st.locked_bytes,
	    MANY);
	ASSERT(st.locked_bytes >= (size_t)MANY * 64);
	for (i = 0; i < MANY; i++) {
		size_t v;

		memcpy(&v, secret_ptr(s[i]), sizeof(v));
		ASSERT_EQ_UINT(v, i);
	}
	for (i = 0; i < MANY; i++)
		secret_free(s[i]);
	free(s);
	check_clean();
}

/* shrink wipes the tail and never grows. */
TEST(shrink_wipes_tail)
{
	struct secret *s, *big;
	uint8_t *p;

	check_clean();
	ASSERT_PASSING();
	ASSERT_OK(secret_new(100, &s));
	p = secret_ptr(s);
	memset(p, 0xaa, 100);
	secret_shrink(s, 10);
	ASSERT_EQ_UINT(secret_len(s), 10);
	ASSERT(all_bytes(p, 10, 0xaa));
	ASSERT(all_bytes(p + 10, 90, 0));
	secret_shrink(s, 50); /* no growth */
	ASSERT_EQ_UINT(secret_len(s), 10);
	secret_shrink(s, 0);
	ASSERT_EQ_UINT(secret_len(s), 0);
	ASSERT(all_bytes(p, 10, 0));
	secret_free(s);

	/* A large secret shrinks the same way. */
	ASSERT_OK(secret_new(10000, &big));
	p = secret_ptr(big);
	memset(p, 0x77, 10000);
	secret_shrink(big, 1);
	ASSERT_EQ_UINT(secret_len(big), 1);
	ASSERT_EQ_UINT(p[0], 0x77);
	ASSERT(all_bytes(p + 1, 9999, 0));
	secret_free(big);
	check_clean();
}

/* Stats count live secrets and go back to zero. */
TEST(stats_return_to_zero)
{
	struct secret *a, *b, *c;
	struct secret_stats st;

	check_clean();
	ASSERT_PASSING();
	ASSERT_OK(secret_new(10, &a));
	ASSERT_OK(secret_new(5000, &b));
	ASSERT_OK(secret_new(0, &c));
	secret_stats(&st);
	ASSERT_EQ_UINT(st.live, 3);
	ASSERT(st.locked_bytes >= 5000);
	secret_free(b);
	ASSERT_EQ_UINT(live_now(), 2);
	secret_free(a);
	secret_free(c);
	check_clean();
}

/* secret_equal compares length and bytes. */
TEST(equal)
{
	struct secret *a, *b, *c, *d;

	ASSERT_OK(secret_from("abc", 3, &a));
	ASSERT_OK(secret_from("abc", 3, &b));
	ASSERT_OK(secret_from("abd", 3, &c));
	ASSERT_OK(secret_from("ab", 2, &d));
	ASSERT(secret_equal(a, b));
	ASSERT(!secret_equal(a, c));
	ASSERT(!secret_equal(a, d));
	ASSERT(!secret_equal(d, a));
	secret_free(a);
	secret_free(b);
	secret_free(c);
	secret_free(d);
	check_clean();
}

struct worker {
	int seed;
	int bad;
};

static void *
churn(void *arg)
{
	struct worker *wk = arg;
	struct secret *mine[16] = { NULL };
	size_t i, k, len;

	for (i = 0; i < 4000; i++) {
		k = (i * 7 + (size_t)wk->seed) % 16;
		if (mine[k] != NULL) {
			len = secret_len(mine[k]);
			if (!all_bytes(secret_ptr(mine[k]), len,
				(uint8_t)(wk->seed + (int)k)))
				wk->bad++;
			secret_free(mine[k]);
			mine[k] = NULL;
			continue;
		}
		len = 1 + (i * 131 + (size_t)wk->seed * 17) % 5000;
		if (secret_new(len, &mine[k]) != 0) {
			wk->bad++;
			continue;
		}
		memset(secret_ptr(mine[k]), wk->seed + (int)k, len);
	}
	for (k = 0; k < 16; k++)
		secret_free(mine[k]);
	return NULL;
}

/* The arena is shared between threads without corrupting anyone. */
TEST(threads)
{
	enum { NT = 4 };
	pthread_t th[NT];
	struct worker wk[NT];
	int i;

	check_clean();
	ASSERT_PASSING();
	for (i = 0; i < NT; i++) {
		wk[i].seed = i * 40 + 1;
		wk[i].bad = 0;
		ASSERT(pthread_create(&th[i], NULL, churn, &wk[i]) == 0);
	}
	for (i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NT; i++)
		ASSERT_EQ_INT(wk[i].bad, 0);
	check_clean();
}

static const struct test_case tests[] = {
	TEST_ENTRY(new_is_zeroed),
	TEST_ENTRY(all_sizes_usable),
	TEST_ENTRY(no_overlap),
	TEST_ENTRY(free_wipes),
	TEST_ENTRY(ten_thousand_fit_memlock),
	TEST_ENTRY(shrink_wipes_tail),
	TEST_ENTRY(stats_return_to_zero),
	TEST_ENTRY(equal),
	TEST_ENTRY(threads),
};

TEST_MAIN(tests)
