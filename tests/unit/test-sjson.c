/* Unit tests of lib/sjson.c: secret JSON into fields, and JSON strings. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "fields.h"
#include "secret.h"
#include "sjson.h"
#include "wire.h"

/* Parse n bytes of JSON held in guarded memory. */
static int
parse_n(const char *json, size_t n, struct secret **ret)
{
	struct secret *in;
	int r;

	if ((r = secret_from(json, n, &in)) != 0)
		return r;
	r = sjson_to_fields(in, ret);
	secret_free(in);
	return r;
}

static int
parse(const char *json, struct secret **ret)
{
	return parse_n(json, strlen(json), ret);
}

/* f has a field name whose value is the n bytes val. */
static void
check_field_n(
    const struct secret *f, const char *name, const char *val, size_t n)
{
	struct field x;
	int r;

	r = fields_get(f, name, &x);
	ASSERT_MSG(r == JIT_OK, "no field \"%s\": %s", name, jit_strerror(r));
	ASSERT_MSG(x.vallen == n && memcmp(x.val, val, n) == 0,
	    "field \"%s\" is \"%.*s\", want \"%s\"", name, (int)x.vallen,
	    (const char *)x.val, val);
}

static void
check_field(const struct secret *f, const char *name, const char *val)
{
	check_field_n(f, name, val, strlen(val));
}

static uint32_t
count_of(const struct secret *f)
{
	uint32_t n = 0;

	if (fields_validate(f, &n) != 0)
		return 0;
	return n;
}

TEST(flat_object)
{
	struct secret *f = NULL;

	ASSERT_OK(parse("{\"user\":\"alice\",\"password\":\"hunter2\"}", &f));
	ASSERT_EQ_UINT(count_of(f), 2);
	check_field(f, "user", "alice");
	ASSERT_PASSING();
	check_field(f, "password", "hunter2");
	ASSERT_PASSING();
	secret_free(f);

	/* White space anywhere JSON allows it. */
	ASSERT_OK(parse(" \t\r\n{ \"a\" :\n\"b\" , \"c\":\"\" }\n ", &f));
	ASSERT_EQ_UINT(count_of(f), 2);
	check_field(f, "a", "b");
	ASSERT_PASSING();
	check_field(f, "c", "");
	ASSERT_PASSING();
	secret_free(f);
}

/* Nested objects flatten to dotted names. */
TEST(nested_dotted_names)
{
	static const char json[] =
	    "{\"Version\":1,\"Credentials\":{\"AccessKeyId\":\"AKIA\","
	    "\"SecretAccessKey\":\"s3\",\"Inner\":{\"Token\":\"t\"}},"
	    "\"Empty\":{},\"Expiration\":\"2030-01-01T00:00:00Z\"}";
	struct secret *f = NULL;

	ASSERT_OK(parse(json, &f));
	ASSERT_EQ_UINT(count_of(f), 5);
	check_field(f, "Version", "1");
	ASSERT_PASSING();
	check_field(f, "Credentials.AccessKeyId", "AKIA");
	ASSERT_PASSING();
	check_field(f, "Credentials.SecretAccessKey", "s3");
	ASSERT_PASSING();
	check_field(f, "Credentials.Inner.Token", "t");
	ASSERT_PASSING();
	check_field(f, "Expiration", "2030-01-01T00:00:00Z");
	ASSERT_PASSING();
	{
		struct field x;

		ASSERT_ERR(fields_get(f, "Credentials", &x), JIT_E_NOENT);
		ASSERT_ERR(fields_get(f, "Empty", &x), JIT_E_NOENT);
	}
	secret_free(f);
}

/* Escapes decode, including \u00e9 and a surrogate pair. */
TEST(escapes)
{
	static const char want[] = "l1\nl2\"q\\b/s\b\f\r\t"
				   "\xc3\xa9"
				   "\xe2\x82\xac"
				   "\xf0\x9f\x98\x80"
				   "A";
	struct secret *f = NULL;

	ASSERT_OK(parse("{\"v\":\"l1\\nl2\\\"q\\\\b\\/s\\b\\f\\r\\t"
			"\\u00e9\\u20AC\\ud83d\\ude00\\u0041\"}",
	    &f));
	check_field_n(f, "v", want, sizeof(want) - 1);
	ASSERT_PASSING();
	secret_free(f);

	/* Escapes in a name are decoded before the name is checked. */
	ASSERT_OK(parse("{\"\\u0061b\":\"x\"}", &f));
	check_field(f, "ab", "x");
	ASSERT_PASSING();
	secret_free(f);

	/* Raw UTF-8 passes through. */
	ASSERT_OK(parse("{\"v\":\"caf\xc3\xa9\"}", &f));
	check_field(f, "v", "caf\xc3\xa9");
	ASSERT_PASSING();
	secret_free(f);
}

/* Bad escapes and NULs are refused. */
TEST(bad_escapes_refused)
{
	static const char *const bad[] = {
		"{\"v\":\"\\u0000\"}", /* NUL in a value */
		"{\"v\":\"a\\u0000b\"}",
		"{\"\\u0000\":\"v\"}", /* NUL in a name */
		"{\"v\":\"\\ud83d\"}", /* lone high surrogate */
		"{\"v\":\"\\ud83dx\"}",
		"{\"v\":\"\\ud83d\\u0041\"}", /* high, then not a low */
		"{\"v\":\"\\ude00\"}", /* lone low surrogate */
		"{\"v\":\"\\u12\"}", /* short \u */
		"{\"v\":\"\\u12g4\"}",
		"{\"v\":\"\\x41\"}", /* not a JSON escape */
		"{\"v\":\"\\a\"}",
		"{\"v\":\"\\'\"}",
		"{\"v\":\"a\tb\"}", /* raw control characters */
		"{\"v\":\"a\nb\"}",
		"{\"v\":\"\x1f\"}",
	};
	struct secret *f = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_MSG(
		    parse(bad[i], &f) == JIT_E_FORMAT, "accepted %s", bad[i]);
	/* A raw NUL byte inside a string. */
	ASSERT_ERR(parse_n("{\"v\":\"a\0b\"}", 11, &f), JIT_E_FORMAT);
	ASSERT(f == NULL);
}

/* Numbers, true, false and null are kept as their text. */
TEST(literals_as_text)
{
	struct secret *f = NULL;

	ASSERT_OK(parse("{\"i\":-12,\"d\":3.25e+10,\"z\":0,\"t\":true,"
			"\"f\":false,\"n\":null,\"E\":1E5}",
	    &f));
	ASSERT_EQ_UINT(count_of(f), 7);
	check_field(f, "i", "-12");
	ASSERT_PASSING();
	check_field(f, "d", "3.25e+10");
	ASSERT_PASSING();
	check_field(f, "z", "0");
	ASSERT_PASSING();
	check_field(f, "t", "true");
	ASSERT_PASSING();
	check_field(f, "f", "false");
	ASSERT_PASSING();
	check_field(f, "n", "null");
	ASSERT_PASSING();
	check_field(f, "E", "1E5");
	ASSERT_PASSING();
	secret_free(f);
}

/* Misspelt words are refused. */
TEST(bad_words_refused)
{
	static const char *const bad[] = {
		"{\"v\":tru}",
		"{\"v\":truee}",
		"{\"v\":nul}",
		"{\"v\":True}",
		"{\"v\":NULL}",
		"{\"v\":undefined}",
		"{\"v\":}",
		"{\"v\":'x'}",
		"{\"v\":nan}",
	};
	struct secret *f = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_MSG(
		    parse(bad[i], &f) == JIT_E_FORMAT, "accepted %s", bad[i]);
}

/*
 * Only JSON numbers pass as numbers.
 * Regression: bare_literal() once took any run of [0-9a-z.+-E] not
 * starting with a lower-case letter as a number ("1x", "-", "E", "1.2.3",
 * "--1", "+1", ".5", "01"); fixed in 87e16d7.
 */
TEST(malformed_numbers_refused)
{
	static const char *const bad[] = {
		"{\"v\":1x}",
		"{\"v\":-}",
		"{\"v\":E}",
		"{\"v\":1.2.3}",
		"{\"v\":--1}",
		"{\"v\":+1}",
		"{\"v\":.5}",
		"{\"v\":1e}",
		"{\"v\":0x10}",
		"{\"v\":1true}",
		"{\"v\":01}",
	};
	struct secret *f = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &f);

		if (r == JIT_OK)
			secret_free(f);
		ASSERT_MSG(r == JIT_E_FORMAT, "accepted %s", bad[i]);
	}
}

/* Arrays are refused, at the top and as values. */
TEST(arrays_refused)
{
	static const char *const bad[] = {
		"[]",
		"[{\"a\":\"b\"}]",
		"{\"a\":[]}",
		"{\"a\":[\"b\"]}",
		"{\"a\":{\"b\":[1]}}",
	};
	struct secret *f = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_MSG(
		    parse(bad[i], &f) == JIT_E_FORMAT, "accepted %s", bad[i]);
}

/* Anything after the object but white space is refused. */
TEST(trailing_garbage_refused)
{
	static const char *const bad[] = {
		"{\"a\":\"b\"}x",
		"{\"a\":\"b\"}{}",
		"{\"a\":\"b\"},",
		"{\"a\":\"b\"}}",
		"{\"a\":\"b\"} \"c\"",
	};
	struct secret *f = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_MSG(
		    parse(bad[i], &f) == JIT_E_FORMAT, "accepted %s", bad[i]);
	ASSERT_ERR(parse_n("{\"a\":\"b\"}\0", 10, &f), JIT_E_FORMAT);
	ASSERT(f == NULL);
	ASSERT_OK(parse("{\"a\":\"b\"} \n\t\r", &f));
	secret_free(f);
}

/* Broken structure is refused. */
TEST(bad_structure_refused)
{
	static const char *const bad[] = {
		"",
		" ",
		"{",
		"}",
		"{\"a\"}",
		"{\"a\":}",
		"{\"a\" \"b\"}",
		"{\"a\":\"b\",}",
		"{,\"a\":\"b\"}",
		"{\"a\":\"b\" \"c\":\"d\"}",
		"{a:\"b\"}",
		"{'a':\"b\"}",
		"\"str\"",
		"1",
		"true",
		"null",
		"{\"a\":\"b\";\"c\":\"d\"}",
		"{\"a\":{\"b\":\"c\"}",
	};
	struct secret *f = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_MSG(parse(bad[i], &f) == JIT_E_FORMAT, "accepted \"%s\"",
		    bad[i]);
}

/* An unterminated string is refused wherever the input stops. */
TEST(unterminated_string_refused)
{
	static const char full[] = "{\"key\":\"va\\u00e9\\nlue\"}";
	struct secret *f = NULL;
	size_t n;

	for (n = 0; n < sizeof(full) - 1; n++)
		ASSERT_MSG(parse_n(full, n, &f) == JIT_E_FORMAT,
		    "a %zu-byte prefix was accepted", n);
	ASSERT_OK(parse_n(full, sizeof(full) - 1, &f));
	secret_free(f);
	ASSERT_ERR(parse("{\"a\":\"b\\", &f), JIT_E_FORMAT);
	ASSERT_ERR(parse("{\"a\":\"b", &f), JIT_E_FORMAT);
	ASSERT_ERR(parse("{\"a", &f), JIT_E_FORMAT);
}

/* Nesting deeper than SJSON_DEPTH_MAX objects is refused. */
TEST(depth_limit)
{
	char json[256];
	struct secret *f = NULL;
	size_t o, depth, i;

	for (depth = 1; depth <= SJSON_DEPTH_MAX + 2; depth++) {
		o = 0;
		for (i = 0; i < depth; i++) {
			json[o++] = '{';
			if (i + 1 < depth) {
				memcpy(json + o, "\"k\":", 4);
				o += 4;
			}
		}
		memcpy(json + o, "\"v\":\"x\"", 7);
		o += 7;
		for (i = 0; i < depth; i++)
			json[o++] = '}';
		json[o] = '\0';
		if (depth <= SJSON_DEPTH_MAX) {
			ASSERT_MSG(parse(json, &f) == JIT_OK,
			    "depth %zu refused", depth);
			ASSERT_EQ_UINT(count_of(f), 1);
			secret_free(f);
		} else
			ASSERT_MSG(parse(json, &f) == JIT_E_LIMIT,
			    "depth %zu not refused with JIT_E_LIMIT", depth);
	}
}

/* Names: valid field names only, unique after flattening, not too long. */
TEST(names_checked)
{
	static const char *const bad[] = {
		"{\"\":\"v\"}",
		"{\"a b\":\"v\"}",
		"{\"a/b\":\"v\"}",
		"{\"\xc3\xa9\":\"v\"}",
	};
	char json[FIELD_NAME_MAX + 64];
	struct secret *f = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_MSG(
		    parse(bad[i], &f) == JIT_E_FORMAT, "accepted %s", bad[i]);
	ASSERT_ERR(parse("{\"a\":\"1\",\"a\":\"2\"}", &f), JIT_E_EXISTS);
	ASSERT_ERR(
	    parse("{\"a.b\":\"1\",\"a\":{\"b\":\"2\"}}", &f), JIT_E_EXISTS);
	/* A flattened name longer than FIELD_NAME_MAX. */
	snprintf(json, sizeof(json), "{\"%.*s\":{\"b\":\"v\"}}",
	    FIELD_NAME_MAX - 1,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	ASSERT(parse(json, &f) < 0);
	snprintf(json, sizeof(json), "{\"%.*s\":\"v\"}", FIELD_NAME_MAX,
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	ASSERT_OK(parse(json, &f));
	secret_free(f);
}

/* sjson_put_string quotes and escapes exactly. */
TEST(put_string_escaping)
{
	static const char in[] = "a\"b\\c\nd\x01\x1f\x7f/\xc3\xa9 ";
	static const char want[] =
	    "\"a\\\"b\\\\c\\u000ad\\u0001\\u001f\\u007f/\xc3\xa9 \"";
	struct wire_writer w;

	wire_writer_init(&w, 1024, true);
	ASSERT_OK(sjson_put_string(&w, in, sizeof(in) - 1));
	ASSERT_EQ_UINT(wire_writer_len(&w), sizeof(want) - 1);
	ASSERT_EQ_MEM(wire_writer_data(&w), want, sizeof(want) - 1);
	wire_writer_reset(&w);

	/* Empty, and a NUL byte (escaped, not a terminator). */
	ASSERT_OK(sjson_put_string(&w, "", 0));
	ASSERT_OK(sjson_put_string(&w, "\0", 1));
	ASSERT_EQ_UINT(wire_writer_len(&w), 2 + 8);
	ASSERT_EQ_MEM(wire_writer_data(&w), "\"\"\"\\u0000\"", 10);
	wire_writer_reset(&w);

	/* The writer's cap holds. */
	wire_writer_init(&w, 4, true);
	ASSERT_ERR(sjson_put_string(&w, "abcd", 4), JIT_E_LIMIT);
	wire_writer_reset(&w);
}

/* Every byte but NUL survives put_string then sjson_to_fields. */
TEST(put_string_round_trip)
{
	struct wire_writer w;
	struct secret *json = NULL, *f = NULL;
	uint8_t all[255];
	size_t i;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (uint8_t)(i + 1);
	wire_writer_init(&w, 4096, true);
	ASSERT_OK(wire_put_bytes(&w, "{\"v\":", 5));
	ASSERT_OK(sjson_put_string(&w, all, sizeof(all)));
	ASSERT_OK(wire_put_u8(&w, '}'));
	ASSERT_OK(wire_writer_take_secret(&w, &json));
	ASSERT_OK(sjson_to_fields(json, &f));
	check_field_n(f, "v", (const char *)all, sizeof(all));
	ASSERT_PASSING();
	secret_free(f);
	secret_free(json);
}

static const struct test_case tests[] = {
	TEST_ENTRY(flat_object),
	TEST_ENTRY(nested_dotted_names),
	TEST_ENTRY(escapes),
	TEST_ENTRY(bad_escapes_refused),
	TEST_ENTRY(literals_as_text),
	TEST_ENTRY(bad_words_refused),
	TEST_ENTRY(malformed_numbers_refused),
	TEST_ENTRY(arrays_refused),
	TEST_ENTRY(trailing_garbage_refused),
	TEST_ENTRY(bad_structure_refused),
	TEST_ENTRY(unterminated_string_refused),
	TEST_ENTRY(depth_limit),
	TEST_ENTRY(names_checked),
	TEST_ENTRY(put_string_escaping),
	TEST_ENTRY(put_string_round_trip),
};

TEST_MAIN(tests)
