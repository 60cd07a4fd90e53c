/* JSON that carries secrets, parsed and written inside guarded memory. */
#ifndef JIT_SJSON_H
#define JIT_SJSON_H

#include <stddef.h>

struct secret;
struct fields_builder;

#define SJSON_DEPTH_MAX 8

/*
 * json-c copies every string into its own heap and frees it unwiped, so
 * JSON holding plaintext (`jitctl add --json`, issuer output) is parsed
 * here instead: an object whose leaves are strings, numbers, booleans or
 * null, with nested objects flattened to dotted names ("Credentials.
 * AccessKeyId").  Arrays are refused.  Decoded values go straight into a
 * guarded fields encoding (fields.h).
 */
int sjson_to_fields(const struct secret *json, struct secret **ret_fields);

/* Append s as a JSON string literal (quoted, escaped) to a secure writer. */
struct wire_writer;
int sjson_put_string(struct wire_writer *w, const void *s, size_t len);

#endif
