/* Bounded helpers over json-c for store files and extension bodies. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "fsutil.h"
#include "jsonx.h"
#include "wire.h"

int
jsonx_parse(const char *s, size_t len, struct json_object **ret)
{
	struct json_tokener *tok;
	struct json_object *o = NULL;
	struct wire_reader rest;
	int r = JIT_E_FORMAT;

	if (len > INT32_MAX)
		return JIT_E_LIMIT;
	if ((tok = json_tokener_new_ex(JSONX_DEPTH_MAX)) == NULL)
		return JIT_E_NOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, s, (int)len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success)
		goto out;
	/* Only white space may follow the object. */
	wire_reader_init(&rest, s, len);
	if (wire_skip(&rest, json_tokener_get_parse_end(tok)) != 0)
		goto out;
	(void)wire_skip_span(&rest, " \t\r\n");
	if (wire_end(&rest) != 0)
		goto out;
	if (!json_object_is_type(o, json_type_object))
		goto out;
	*ret = o;
	o = NULL;
	r = JIT_OK;
out:
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}

static int
member(struct json_object *o, const char *key, enum json_type type,
    struct json_object **ret)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return JIT_E_NOENT;
	if (!json_object_is_type(v, type))
		return JIT_E_FORMAT;
	*ret = v;
	return JIT_OK;
}

int
jsonx_opt_str(
    struct json_object *o, const char *key, size_t max, const char **ret)
{
	struct json_object *v;
	const char *s;
	int r;

	if ((r = member(o, key, json_type_string, &v)) != 0)
		return r;
	if ((size_t)json_object_get_string_len(v) > max)
		return JIT_E_LIMIT;
	s = json_object_get_string(v);
	/* An embedded NUL would make the C string lie about its length. */
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return JIT_E_FORMAT;
	*ret = s;
	return JIT_OK;
}

int
jsonx_get_str(
    struct json_object *o, const char *key, size_t max, const char **ret)
{
	int r = jsonx_opt_str(o, key, max, ret);

	return r == JIT_E_NOENT ? JIT_E_FORMAT : r;
}

int
jsonx_opt_int(struct json_object *o, const char *key, int64_t min, int64_t max,
    int64_t *ret)
{
	struct json_object *v;
	int64_t n;
	int r;

	if ((r = member(o, key, json_type_int, &v)) != 0)
		return r;
	n = json_object_get_int64(v);
	if (n < min || n > max)
		return JIT_E_LIMIT;
	*ret = n;
	return JIT_OK;
}

int
jsonx_get_int(struct json_object *o, const char *key, int64_t min, int64_t max,
    int64_t *ret)
{
	int r = jsonx_opt_int(o, key, min, max, ret);

	return r == JIT_E_NOENT ? JIT_E_FORMAT : r;
}

int
jsonx_opt_bool(struct json_object *o, const char *key, bool *ret)
{
	struct json_object *v;
	int r;

	if ((r = member(o, key, json_type_boolean, &v)) != 0)
		return r;
	*ret = json_object_get_boolean(v);
	return JIT_OK;
}

int
jsonx_get_bool(struct json_object *o, const char *key, bool *ret)
{
	int r = jsonx_opt_bool(o, key, ret);

	return r == JIT_E_NOENT ? JIT_E_FORMAT : r;
}

int
jsonx_get_b64(struct json_object *o, const char *key, size_t max, uint8_t **ret,
    size_t *ret_len)
{
	const char *s;
	uint8_t *buf;
	size_t n, slen;
	int r;

	if ((r = jsonx_get_str(o, key, max / 3 * 4 + 8, &s)) != 0)
		return r;
	slen = strlen(s);
	if ((buf = malloc(slen / 4 * 3 + 1)) == NULL)
		return JIT_E_NOMEM;
	if (sodium_base642bin(buf, slen / 4 * 3 + 1, s, slen, NULL, &n, NULL,
		sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n > max) {
		free(buf);
		return JIT_E_FORMAT;
	}
	*ret = buf;
	*ret_len = n;
	return JIT_OK;
}

int
jsonx_get_b64_fixed(struct json_object *o, const char *key, void *out, size_t n)
{
	uint8_t *buf;
	size_t len;
	int r;

	if ((r = jsonx_get_b64(o, key, n, &buf, &len)) != 0)
		return r;
	if (len != n) {
		free(buf);
		return JIT_E_FORMAT;
	}
	memcpy(out, buf, n);
	free(buf);
	return JIT_OK;
}

static int
add(struct json_object *o, const char *key, struct json_object *v)
{
	if (v == NULL)
		return JIT_E_NOMEM;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return JIT_E_NOMEM;
	}
	return JIT_OK;
}

int
jsonx_add_str(struct json_object *o, const char *key, const char *v)
{
	return add(o, key, json_object_new_string(v));
}

int
jsonx_add_int(struct json_object *o, const char *key, int64_t v)
{
	return add(o, key, json_object_new_int64(v));
}

int
jsonx_add_bool(struct json_object *o, const char *key, bool v)
{
	return add(o, key, json_object_new_boolean(v));
}

int
jsonx_add_b64(struct json_object *o, const char *key, const void *p, size_t n)
{
	size_t blen = sodium_base64_encoded_len(
	    n, sodium_base64_VARIANT_ORIGINAL);
	char *b;
	int r;

	if ((b = malloc(blen)) == NULL)
		return JIT_E_NOMEM;
	sodium_bin2base64(b, blen, p, n, sodium_base64_VARIANT_ORIGINAL);
	r = jsonx_add_str(o, key, b);
	free(b);
	return r;
}

int
jsonx_load_file(const char *path, size_t max, struct json_object **ret)
{
	char *buf;
	size_t len;
	int r;

	if ((r = fs_read_file(path, max, &buf, &len)) != 0)
		return r;
	r = jsonx_parse(buf, len, ret);
	free(buf);
	return r;
}

int
jsonx_save_file(const char *path, struct json_object *o)
{
	const char *s;
	size_t len;
	char *buf;
	int r;

	s = json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(s);
	if ((buf = malloc(len + 1)) == NULL)
		return JIT_E_NOMEM;
	memcpy(buf, s, len);
	buf[len] = '\n';
	r = fs_write_atomic(path, buf, len + 1, 0600);
	free(buf);
	return r;
}
