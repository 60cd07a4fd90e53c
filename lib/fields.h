/* A credential's plaintext: named fields, wire-encoded in guarded memory. */
#ifndef JIT_FIELDS_H
#define JIT_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct secret;

#define FIELDS_MAX 64
#define FIELD_NAME_MAX 128
#define FIELD_VALUE_MAX (64 * 1024)
#define FIELDS_TOTAL_MAX (128 * 1024)
/* The field of a credential added from a bare secret. */
#define FIELD_DEFAULT "secret"

/*
 * Encoding: u32 count, then count pairs of (string name, string value).
 * Names: 1..FIELD_NAME_MAX of [A-Za-z0-9_.-], unique.  Values: any bytes
 * but NUL, at most FIELD_VALUE_MAX.
 */
struct fields_builder {
	struct wire_writer w;
	uint32_t n;
};

int fields_begin(struct fields_builder *b);
int fields_add(struct fields_builder *b, const char *name, size_t namelen,
    const uint8_t *val, size_t vallen);
/* Validate and hand over; the builder is reset either way. */
int fields_finish(struct fields_builder *b, struct secret **ret);
void fields_abort(struct fields_builder *b);

/* Parse a whole encoding and check every rule; *ret_count on success. */
int fields_validate(const struct secret *f, uint32_t *ret_count);
int fields_valid_name(const uint8_t *name, size_t len);
/* A field name an environment variable can carry: [A-Za-z_][A-Za-z0-9_]*
 * (what 'jitctl exec' exports from an env credential). */
int fields_env_name(const uint8_t *name, size_t len);

struct field {
	const uint8_t *name;
	size_t namelen;
	const uint8_t *val; /* points into guarded memory */
	size_t vallen;
};
/* Iterate a validated encoding: returns 1 with *f set, 0 at the end. */
struct fields_iter {
	struct wire_reader r;
	uint32_t left;
};
int fields_iter_init(struct fields_iter *it, const struct secret *f);
int fields_next(struct fields_iter *it, struct field *f);
int fields_get(const struct secret *f, const char *name, struct field *ret);

#endif
