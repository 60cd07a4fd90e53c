/* Unit tests of lib/jsonx.c: strict parsing, bounded getters, base64. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assert.h"
#include "err.h"
#include "fsutil.h"
#include "jsonx.h"

static int
parse(const char *s, struct json_object **ret)
{
	return jsonx_parse(s, strlen(s), ret);
}

/* Only one JSON object, with nothing but white space after it. */
TEST(parse_objects_only)
{
	static const char *const bad[] = {
		"",
		" ",
		"[]",
		"[{}]",
		"\"s\"",
		"1",
		"-1.5",
		"true",
		"false",
		"null",
		"{",
		"{\"a\":}",
		"{\"a\":1,}",
		"{}x",
		"{} {}",
		"{}{}",
		"{},",
		"{} //",
		"{} /* */",
		"x{}",
	};
	struct json_object *o = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_MSG(parse(bad[i], &o) == JIT_E_FORMAT, "accepted \"%s\"",
		    bad[i]);
	ASSERT(o == NULL);
	ASSERT_OK(parse("{}", &o));
	ASSERT(json_object_is_type(o, json_type_object));
	json_object_put(o);
	ASSERT_OK(parse(" {\"a\":1} \t\r\n", &o));
	json_object_put(o);
	/* The length given is what counts, not a terminating NUL. */
	ASSERT_OK(jsonx_parse("{}xyz", 2, &o));
	json_object_put(o);
	ASSERT_ERR(jsonx_parse("{\"a\":1}", 5, &o), JIT_E_FORMAT);
}

/*
 * NUL bytes after the object are trailing bytes like any other.
 * Regression: jsonx_parse() tested trailing bytes with strchr(" \t\r\n",
 * s[i]), which finds the terminating NUL of its first argument, so
 * trailing NULs passed as white space; fixed in 87e16d7.
 */
TEST(parse_trailing_nul_refused)
{
	struct json_object *o = NULL;
	int r;

	r = jsonx_parse("{}\0", 3, &o);
	json_object_put(o);
	ASSERT_MSG(r == JIT_E_FORMAT, "\"{}\\0\" parsed (%d)", r);
	o = NULL;
	r = jsonx_parse("{\"a\":1}\0\0", 9, &o);
	json_object_put(o);
	ASSERT_MSG(r == JIT_E_FORMAT, "trailing NULs parsed (%d)", r);
}

/* Nesting is bounded by JSONX_DEPTH_MAX. */
TEST(parse_depth_limit)
{
	char s[4 * JSONX_DEPTH_MAX + 64];
	struct json_object *o = NULL;
	size_t n, depth, i;

	for (depth = JSONX_DEPTH_MAX - 1; depth <= JSONX_DEPTH_MAX + 2;
	     depth++) {
		n = 0;
		s[n++] = '{';
		memcpy(s + n, "\"a\":", 4);
		n += 4;
		for (i = 1; i < depth; i++)
			s[n++] = '[';
		for (i = 1; i < depth; i++)
			s[n++] = ']';
		if (depth == 1)
			s[n++] = '1';
		s[n++] = '}';
		s[n] = '\0';
		if (depth <= JSONX_DEPTH_MAX) {
			ASSERT_MSG(
			    parse(s, &o) == JIT_OK, "depth %zu refused", depth);
			json_object_put(o);
		} else
			ASSERT_MSG(parse(s, &o) == JIT_E_FORMAT,
			    "depth %zu accepted", depth);
	}
}

/* Strings: required vs optional, type, maximum, embedded NUL. */
TEST(strings)
{
	struct json_object *o = NULL;
	const char *s = NULL;

	ASSERT_OK(parse("{\"s\":\"abcd\",\"n\":1,\"z\":\"a\\u0000b\","
			"\"e\":\"\",\"u\":\"\\u00e9\"}",
	    &o));
	ASSERT_OK(jsonx_get_str(o, "s", 4, &s));
	ASSERT_EQ_STR(s, "abcd");
	ASSERT_OK(jsonx_opt_str(o, "s", 100, &s));
	s = NULL;
	ASSERT_ERR(jsonx_get_str(o, "s", 3, &s), JIT_E_LIMIT);
	ASSERT_ERR(jsonx_opt_str(o, "s", 3, &s), JIT_E_LIMIT);
	ASSERT_ERR(jsonx_get_str(o, "s", 0, &s), JIT_E_LIMIT);
	ASSERT(s == NULL);
	/* The maximum counts bytes: é is two. */
	ASSERT_ERR(jsonx_get_str(o, "u", 1, &s), JIT_E_LIMIT);
	ASSERT_OK(jsonx_get_str(o, "u", 2, &s));
	ASSERT_EQ_STR(s, "\xc3\xa9");
	ASSERT_OK(jsonx_get_str(o, "e", 0, &s));
	ASSERT_EQ_STR(s, "");
	s = NULL;
	/* A NUL inside would make the C string lie. */
	ASSERT_ERR(jsonx_get_str(o, "z", 100, &s), JIT_E_FORMAT);
	ASSERT_ERR(jsonx_opt_str(o, "z", 100, &s), JIT_E_FORMAT);
	/* Wrong type, absent. */
	ASSERT_ERR(jsonx_get_str(o, "n", 100, &s), JIT_E_FORMAT);
	ASSERT_ERR(jsonx_opt_str(o, "n", 100, &s), JIT_E_FORMAT);
	ASSERT_ERR(jsonx_get_str(o, "missing", 100, &s), JIT_E_FORMAT);
	ASSERT_ERR(jsonx_opt_str(o, "missing", 100, &s), JIT_E_NOENT);
	ASSERT_ERR(jsonx_opt_str(NULL, "s", 100, &s), JIT_E_NOENT);
	ASSERT(s == NULL);
	json_object_put(o);
}

/* Integers: range checked, type checked. */
TEST(integers)
{
	struct json_object *o = NULL;
	int64_t v = 7;

	ASSERT_OK(parse("{\"i\":42,\"neg\":-5,\"big\":9223372036854775807,"
			"\"d\":1.5,\"s\":\"42\",\"b\":true}",
	    &o));
	ASSERT_OK(jsonx_get_int(o, "i", 0, 100, &v));
	ASSERT_EQ_INT(v, 42);
	ASSERT_OK(jsonx_get_int(o, "i", 42, 42, &v));
	v = 7;
	ASSERT_ERR(jsonx_get_int(o, "i", 43, 100, &v), JIT_E_LIMIT);
	ASSERT_ERR(jsonx_get_int(o, "i", 0, 41, &v), JIT_E_LIMIT);
	ASSERT_ERR(jsonx_opt_int(o, "neg", 0, 100, &v), JIT_E_LIMIT);
	ASSERT_EQ_INT(v, 7);
	ASSERT_OK(jsonx_opt_int(o, "neg", -5, 0, &v));
	ASSERT_EQ_INT(v, -5);
	ASSERT_OK(jsonx_get_int(o, "big", 0, INT64_MAX, &v));
	ASSERT(v == INT64_MAX);
	v = 7;
	ASSERT_ERR(
	    jsonx_get_int(o, "d", INT64_MIN, INT64_MAX, &v), JIT_E_FORMAT);
	ASSERT_ERR(
	    jsonx_get_int(o, "s", INT64_MIN, INT64_MAX, &v), JIT_E_FORMAT);
	ASSERT_ERR(
	    jsonx_get_int(o, "b", INT64_MIN, INT64_MAX, &v), JIT_E_FORMAT);
	ASSERT_ERR(jsonx_get_int(o, "missing", 0, 1, &v), JIT_E_FORMAT);
	ASSERT_ERR(jsonx_opt_int(o, "missing", 0, 1, &v), JIT_E_NOENT);
	ASSERT_EQ_INT(v, 7);
	json_object_put(o);
}

/* Booleans. */
TEST(booleans)
{
	struct json_object *o = NULL;
	bool b = false;

	ASSERT_OK(parse("{\"t\":true,\"f\":false,\"n\":1,\"s\":\"true\"}", &o));
	ASSERT_OK(jsonx_get_bool(o, "t", &b));
	ASSERT(b);
	ASSERT_OK(jsonx_opt_bool(o, "f", &b));
	ASSERT(!b);
	ASSERT_ERR(jsonx_get_bool(o, "n", &b), JIT_E_FORMAT);
	ASSERT_ERR(jsonx_get_bool(o, "s", &b), JIT_E_FORMAT);
	ASSERT_ERR(jsonx_get_bool(o, "missing", &b), JIT_E_FORMAT);
	ASSERT_ERR(jsonx_opt_bool(o, "missing", &b), JIT_E_NOENT);
	ASSERT_ERR(jsonx_opt_bool(NULL, "t", &b), JIT_E_NOENT);
	json_object_put(o);
}

/* Base64 members round-trip at every length; max and fixed are enforced. */
TEST(base64)
{
	struct json_object *o, *back = NULL;
	uint8_t data[70], fixed[32], *got;
	const char *txt;
	size_t n, glen;

	for (n = 0; n < sizeof(data); n++)
		data[n] = (uint8_t)(n * 37 + 1);
	for (n = 0; n < sizeof(data); n++) {
		ASSERT((o = json_object_new_object()) != NULL);
		ASSERT_OK(jsonx_add_b64(o, "b", data, n));
		/* Through text and back, as a file or a request would. */
		txt = json_object_to_json_string(o);
		ASSERT_OK(parse(txt, &back));
		json_object_put(o);
		got = NULL;
		ASSERT_OK(jsonx_get_b64(back, "b", n, &got, &glen));
		ASSERT_EQ_UINT(glen, n);
		ASSERT_EQ_MEM(got, data, n);
		free(got);
		if (n > 0) {
			got = NULL;
			ASSERT_MSG(
			    jsonx_get_b64(back, "b", n - 1, &got, &glen) < 0,
			    "%zu bytes accepted under max %zu", n, n - 1);
			ASSERT(got == NULL);
		}
		json_object_put(back);
	}

	/* Fixed length: exactly n bytes. */
	ASSERT((o = json_object_new_object()) != NULL);
	ASSERT_OK(jsonx_add_b64(o, "k32", data, 32));
	ASSERT_OK(jsonx_add_b64(o, "k31", data, 31));
	ASSERT_OK(jsonx_add_b64(o, "k33", data, 33));
	ASSERT_OK(jsonx_add_str(o, "bad", "!!!!"));
	ASSERT_OK(jsonx_add_str(o, "unpadded", "AAA"));
	ASSERT_OK(jsonx_add_str(o, "url", "-_-_"));
	ASSERT_OK(jsonx_add_int(o, "int", 5));
	ASSERT_OK(jsonx_get_b64_fixed(o, "k32", fixed, 32));
	ASSERT_EQ_MEM(fixed, data, 32);
	memset(fixed, 0, sizeof(fixed));
	ASSERT_ERR(jsonx_get_b64_fixed(o, "k31", fixed, 32), JIT_E_FORMAT);
	ASSERT(jsonx_get_b64_fixed(o, "k33", fixed, 32) < 0);
	ASSERT_ERR(jsonx_get_b64_fixed(o, "missing", fixed, 32), JIT_E_FORMAT);
	ASSERT_ERR(jsonx_get_b64_fixed(o, "int", fixed, 32), JIT_E_FORMAT);
	/* A refused member leaves out alone. */
	ASSERT(fixed[0] == 0 && fixed[31] == 0);
	ASSERT_ERR(jsonx_get_b64(o, "bad", 100, &got, &glen), JIT_E_FORMAT);
	ASSERT_ERR(
	    jsonx_get_b64(o, "unpadded", 100, &got, &glen), JIT_E_FORMAT);
	ASSERT_ERR(jsonx_get_b64(o, "url", 100, &got, &glen), JIT_E_FORMAT);
	json_object_put(o);
}

/* Save writes mode 0600 and load reads it back, within a maximum. */
TEST(files)
{
	char dir[] = "/tmp/jit-test-jsonx-XXXXXX", path[128];
	struct json_object *o, *back = NULL;
	struct stat st;
	const char *s;

	ASSERT(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/x.json", dir);
	ASSERT((o = json_object_new_object()) != NULL);
	ASSERT_OK(jsonx_add_str(o, "name", "pg-prod"));
	ASSERT_OK(jsonx_add_str(o, "path", "a/b"));
	ASSERT_OK(jsonx_save_file(path, o));
	json_object_put(o);
	ASSERT(stat(path, &st) == 0);
	ASSERT_EQ_UINT(st.st_mode & 07777, 0600);
	ASSERT_OK(jsonx_load_file(path, 4096, &back));
	ASSERT_OK(jsonx_get_str(back, "name", 64, &s));
	ASSERT_EQ_STR(s, "pg-prod");
	ASSERT_OK(jsonx_get_str(back, "path", 64, &s));
	ASSERT_EQ_STR(s, "a/b");
	json_object_put(back);
	back = NULL;
	ASSERT_ERR(jsonx_load_file(path, 10, &back), JIT_E_LIMIT);
	snprintf(path, sizeof(path), "%s/missing.json", dir);
	ASSERT_ERR(jsonx_load_file(path, 4096, &back), JIT_E_NOENT);
	/* A file that is not one object. */
	snprintf(path, sizeof(path), "%s/arr.json", dir);
	ASSERT_OK(fs_write_atomic(path, "[1]\n", 4, 0600));
	ASSERT_ERR(jsonx_load_file(path, 4096, &back), JIT_E_FORMAT);
	ASSERT(back == NULL);
	unlink(path);
	snprintf(path, sizeof(path), "%s/x.json", dir);
	unlink(path);
	ASSERT(rmdir(dir) == 0);
}

static const struct test_case tests[] = {
	TEST_ENTRY(parse_objects_only),
	TEST_ENTRY(parse_trailing_nul_refused),
	TEST_ENTRY(parse_depth_limit),
	TEST_ENTRY(strings),
	TEST_ENTRY(integers),
	TEST_ENTRY(booleans),
	TEST_ENTRY(base64),
	TEST_ENTRY(files),
};

TEST_MAIN(tests)
