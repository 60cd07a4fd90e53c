/* agent/tokenset.c: the sealed set of enrolled tokens, with no hardware:
 * tokens here are X25519 identities made in software, as hw_enroll makes
 * them behind the backend's KEK. */
#include <string.h>

#include <sodium.h>

#include "assert.h"
#include "hw.h"
#include "seal.h"
#include "secret.h"
#include "tmpdir.h"
#include "tokenset.h"

struct fake {
	struct hw_token *t;
	struct secret *sk;
};

/* A token record as an enrollment makes it, and its identity secret. */
static void
fake_token(const char *label, const char *device, struct fake *f)
{
	uint8_t rnd[HW_ID_LEN / 2];

	f->t = calloc(1, sizeof(*f->t));
	ASSERT(f->t != NULL);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(f->t->id, sizeof(f->t->id), rnd, sizeof(rnd));
	f->t->label = strdup(label);
	f->t->type = strdup("fido2");
	f->t->device = strdup(device);
	f->t->backend = json_object_new_object();
	f->t->created = 1700000000;
	ASSERT_OK(seal_x25519_keypair(f->t->recipient, &f->sk));
}

/* A set of n tokens, sealed under a fresh key, as enrollments make it. */
static void
make_set(struct fake *f, size_t n, struct tokenset **ret)
{
	struct secret *key = NULL;
	struct hw_token *copy;
	size_t i;

	ASSERT_OK(tokenset_new(ret));
	ASSERT_OK(seal_random_key(&key));
	for (i = 0; i < n; i++) {
		ASSERT_OK(hw_token_dup(f[i].t, &copy));
		ASSERT_OK(tokenset_add(*ret, copy, f[i].sk, key));
	}
	secret_free(key);
}

static void
free_fakes(struct fake *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		hw_token_free(f[i].t);
		secret_free(f[i].sk);
	}
}

TEST(every_token_vouches_for_an_untouched_set)
{
	struct tokenset_verdict v;
	struct tokenset *ts = NULL, *loaded = NULL;
	struct fake f[2];
	struct secret *k1 = NULL, *k2 = NULL;
	char path[128], why[TOKENSET_WHY_MAX];

	fake_token("laptop", "swtpm:port=1", &f[0]);
	fake_token("yk", "sim:/a.sock", &f[1]);
	make_set(f, 2, &ts);
	ASSERT_EQ_UINT(ts->generation, 2);
	ASSERT_EQ_INT(
	    tokenset_verify(ts, f[0].t->id, f[0].sk, NULL, &k1, &v), JIT_OK);
	ASSERT(v.own_ok && v.records_ok);
	ASSERT_EQ_INT(
	    tokenset_verify(ts, f[1].t->id, f[1].sk, NULL, &k2, &v), JIT_OK);
	ASSERT(secret_equal(k1, k2)); /* one key, in every token's box */
	/* The file round trip keeps every seal. */
	tmpdir_make("tokenset");
	snprintf(path, sizeof(path), "%s/tokens.json", tmpdir);
	ASSERT_OK(tokenset_save(ts, path));
	ASSERT_OK(tokenset_load(path, &loaded, why, sizeof(why)));
	ASSERT_EQ_INT(
	    tokenset_verify(loaded, f[1].t->id, f[1].sk, NULL, NULL, &v),
	    JIT_OK);
	teardown();
	secret_free(k1);
	secret_free(k2);
	tokenset_free(ts);
	tokenset_free(loaded);
	free_fakes(f, 2);
}

TEST(an_edited_record_is_named)
{
	struct tokenset_verdict v;
	struct tokenset *ts = NULL;
	struct fake f[2];
	struct secret *k = NULL;

	fake_token("laptop", "swtpm:port=1", &f[0]);
	fake_token("yk", "sim:/a.sock", &f[1]);
	make_set(f, 2, &ts);
	free(ts->e[1].tok->device);
	ts->e[1].tok->device = strdup("sim:/elsewhere.sock");
	ASSERT_EQ_INT(
	    tokenset_verify(ts, f[0].t->id, f[0].sk, NULL, &k, &v), JIT_E_AUTH);
	ASSERT(v.own_ok && !v.records_ok);
	ASSERT(k != NULL); /* a genuine token may repair the set */
	ASSERT(
	    strstr(v.why,
		"token yk (fido2, sim:/elsewhere.sock) was added or edited outside jit-agent") !=
	    NULL);
	/* The label and the simulated flag are sealed too. */
	ts->e[1].tok->simulated = !ts->e[1].tok->simulated;
	ASSERT_EQ_INT(tokenset_verify(ts, f[0].t->id, f[0].sk, "yk", NULL, &v),
	    JIT_E_AUTH);
	ASSERT(v.records_ok); /* all but the excepted one check out */
	secret_free(k);
	tokenset_free(ts);
	free_fakes(f, 2);
}

TEST(a_planted_token_opens_nothing_and_is_named)
{
	struct tokenset_verdict v;
	struct tokenset *ts = NULL, *other = NULL;
	struct fake f[2];

	fake_token("laptop", "swtpm:port=1", &f[0]);
	fake_token("evil", "sim:/evil.sock", &f[1]);
	make_set(f, 1, &ts);
	/* The intruder seals its record in a set of its own, with a key of
	 * its own, and copies the entry over. */
	make_set(&f[1], 1, &other);
	ts->e[1] = other->e[0];
	ts->n = 2;
	other->n = 0;
	ASSERT_EQ_INT(tokenset_verify(ts, f[0].t->id, f[0].sk, NULL, NULL, &v),
	    JIT_E_AUTH);
	ASSERT(v.own_ok && !v.records_ok);
	ASSERT(strstr(v.why, "token evil") != NULL);
	/* Asked itself, the planted token disowns the genuine one: a set on
	 * which its tokens disagree is never verified, nor changed. */
	ASSERT_EQ_INT(tokenset_verify(ts, f[1].t->id, f[1].sk, NULL, NULL, &v),
	    JIT_E_AUTH);
	ASSERT(!v.records_ok);
	ASSERT(strstr(v.why, "token laptop") != NULL);
	/* An identity that is in no box at all. */
	ASSERT_EQ_INT(tokenset_verify(ts, f[1].t->id, f[0].sk, NULL, NULL, &v),
	    JIT_E_AUTH);
	ASSERT(!v.own_ok);
	tokenset_free(ts);
	tokenset_free(other);
	free_fakes(f, 2);
}

TEST(a_dropped_token_and_a_repair)
{
	struct tokenset_verdict v;
	struct tokenset *ts = NULL;
	struct secret *k = NULL;
	struct fake f[3];

	fake_token("laptop", "swtpm:port=1", &f[0]);
	fake_token("yk", "sim:/a.sock", &f[1]);
	fake_token("yk2", "sim:/b.sock", &f[2]);
	make_set(f, 3, &ts);
	hw_token_free(ts->e[2].tok);
	ts->n = 2;
	ASSERT_EQ_INT(
	    tokenset_verify(ts, f[0].t->id, f[0].sk, NULL, &k, &v), JIT_E_AUTH);
	ASSERT(v.records_ok);
	ASSERT(strstr(v.why, "a token was removed") != NULL);
	/* Removing a token through the agent seals the list again. */
	ASSERT_OK(tokenset_remove(ts, "yk", k));
	ASSERT_EQ_INT(
	    tokenset_verify(ts, f[0].t->id, f[0].sk, NULL, NULL, &v), JIT_OK);
	ASSERT_EQ_INT(tokenset_remove(ts, "nope", k), JIT_E_NOENT);
	secret_free(k);
	tokenset_free(ts);
	free_fakes(f, 3);
}

TEST(malformed_files_say_why)
{
	static const char *const bad[] = {
		"{",
		"{\"version\":1,\"generation\":1,\"tokens\":[]}",
		"{\"version\":2,\"generation\":1,\"mac\":\"AA==\",\"tokens\":[]}",
		"{\"version\":1,\"generation\":1,\"mac\":"
		"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
		"\"tokens\":[{\"label\":\"x\"}]}",
	};
	struct tokenset *ts = NULL;
	char path[128], why[TOKENSET_WHY_MAX];
	size_t i;
	FILE *fp;

	tmpdir_make("tokenset-bad");
	snprintf(path, sizeof(path), "%s/tokens.json", tmpdir);
	ASSERT_EQ_INT(tokenset_load(path, &ts, why, sizeof(why)), JIT_E_NOENT);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT((fp = fopen(path, "w")) != NULL);
		fputs(bad[i], fp);
		fclose(fp);
		ASSERT(tokenset_load(path, &ts, why, sizeof(why)) != JIT_OK);
		ASSERT_MSG(why[0] != '\0', "file %zu: no sentence", i);
	}
	teardown();
}

TEST(a_software_tpm_is_simulated_whatever_the_file_says)
{
	ASSERT(hw_device_simulated("swtpm:port=2321"));
	ASSERT(hw_device_simulated("mssim:host=localhost"));
	ASSERT(hw_device_simulated("sim:/x.sock"));
	ASSERT(!hw_device_simulated("device:/dev/tpmrm0"));
	ASSERT(!hw_device_simulated("/dev/hidraw0"));
	ASSERT(!hw_device_simulated(NULL));
}

static const struct test_case tests[] = {
	TEST_ENTRY(every_token_vouches_for_an_untouched_set),
	TEST_ENTRY(an_edited_record_is_named),
	TEST_ENTRY(a_planted_token_opens_nothing_and_is_named),
	TEST_ENTRY(a_dropped_token_and_a_repair),
	TEST_ENTRY(malformed_files_say_why),
	TEST_ENTRY(a_software_tpm_is_simulated_whatever_the_file_says),
};

TEST_MAIN(tests)
