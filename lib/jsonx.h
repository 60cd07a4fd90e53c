/* Bounded helpers over json-c for files and extension bodies (never secrets). */
#ifndef JIT_JSONX_H
#define JIT_JSONX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define JSONX_DEPTH_MAX 16

/* Parse exactly one JSON object from len bytes; trailing bytes refused. */
int jsonx_parse(const char *s, size_t len, struct json_object **ret);
/* Required members (JIT_E_FORMAT if absent or of another type). */
int jsonx_get_str(
    struct json_object *o, const char *key, size_t max, const char **ret);
int jsonx_get_int(struct json_object *o, const char *key, int64_t min,
    int64_t max, int64_t *ret);
int jsonx_get_bool(struct json_object *o, const char *key, bool *ret);
/* Base64 (standard, padded) into malloc'd bytes of at most max. */
int jsonx_get_b64(struct json_object *o, const char *key, size_t max,
    uint8_t **ret, size_t *ret_len);
/* Fixed-length base64 member. */
int jsonx_get_b64_fixed(
    struct json_object *o, const char *key, void *out, size_t n);
/* Optional members: JIT_E_NOENT if absent, the value otherwise. */
int jsonx_opt_str(
    struct json_object *o, const char *key, size_t max, const char **ret);
int jsonx_opt_int(struct json_object *o, const char *key, int64_t min,
    int64_t max, int64_t *ret);
int jsonx_opt_bool(struct json_object *o, const char *key, bool *ret);

int jsonx_add_str(struct json_object *o, const char *key, const char *v);
int jsonx_add_int(struct json_object *o, const char *key, int64_t v);
int jsonx_add_bool(struct json_object *o, const char *key, bool v);
int jsonx_add_b64(
    struct json_object *o, const char *key, const void *p, size_t n);

/* Load/save a JSON object file (atomic save, mode 0600). */
int jsonx_load_file(const char *path, size_t max, struct json_object **ret);
int jsonx_save_file(const char *path, struct json_object *o);

#endif
