/* Session binds and destination constraints (ssh-add -h), as OpenSSH 9 rules. */
#ifndef JIT_SSH_DEST_H
#define JIT_SSH_DEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct ssh_key;

#define SSH_DEST_MAX 64 /* restrict-destination constraints */
#define SSH_DEST_KEYS_MAX 64 /* host keys (or CAs) per hop */
#define SSH_DEST_USER_MAX 256 /* OpenSSH's user pattern limit */
#define SSH_DEST_HOST_MAX 1025 /* NI_MAXHOST */
#define SSH_BIND_MAX 16 /* session binds per connection */
#define SSH_SID_MAX 128 /* a session identifier */
#define SSH_USERAUTH_STR_MAX 1024 /* user, service, method names */
#define SSH_DEST_BODY_MAX (256 * 1024) /* bounded by the frame anyway */

/* One hop of a constraint: "[user@]host" with the host's keys or CAs. */
struct ssh_dest_hop {
	char *user; /* NULL: any (a pattern otherwise) */
	char *hostname; /* NULL: the origin (from), never (to) */
	struct ssh_key **keys;
	bool *is_ca;
	size_t nkeys;
};

/* Use of the key is allowed from one hop to the next. */
struct ssh_dest {
	struct ssh_dest_hop from, to;
};

struct ssh_dests {
	struct ssh_dest *v;
	size_t n;
};

/* A verified session-bind@openssh.com on one connection. */
struct ssh_bind {
	struct ssh_key *hostkey;
	uint8_t sid[SSH_SID_MAX];
	size_t sidlen;
	bool forwarded;
};

struct ssh_binds {
	struct ssh_bind v[SSH_BIND_MAX];
	size_t n;
	bool attempted; /* any bind, even a failed one */
};

/*
 * The body of a restrict-destination-v00@openssh.com constraint (the
 * string that holds the constraints), parsed whole and checked as
 * OpenSSH's ssh-agent does; *d is appended to.
 */
int ssh_dests_parse(struct wire_reader *r, struct ssh_dests *d);
void ssh_dests_free(struct ssh_dests *d);

/*
 * session-bind@openssh.com after its name: host key, session id, the host
 * key's signature of the session id, is_forwarding.  The signature is
 * verified and the bind recorded on b by OpenSSH's rules (no bind after
 * one for authentication, a session id only once, at most SSH_BIND_MAX).
 * b->attempted is set whatever happens.
 */
int ssh_bind_request(struct wire_reader *r, struct ssh_binds *b);
void ssh_binds_free(struct ssh_binds *b);

/*
 * OpenSSH's identity_permitted(): may a key with constraints d be listed
 * (user NULL) or sign for user over a connection with binds b?  JIT_OK or
 * JIT_E_DENIED; *ret_host (if not NULL) names the final destination.
 */
int ssh_dest_permitted(const struct ssh_dests *d, const struct ssh_binds *b,
    const char *user, const char **ret_host);

/* A publickey userauth request (the data ssh asks the agent to sign). */
struct ssh_userauth {
	char *user;
	const uint8_t *sid; /* into the parsed data */
	size_t sidlen;
	struct ssh_key *hostkey; /* publickey-hostbound-v00 only */
};

/* Parse data as a userauth request made with key; JIT_E_FORMAT if it is
 * not one, or not for that key. */
int ssh_userauth_parse(const uint8_t *data, size_t len,
    const struct ssh_key *key, struct ssh_userauth *ret);
void ssh_userauth_free(struct ssh_userauth *u);

/* Same public key (or same certificate), as OpenSSH's sshkey_equal(). */
bool ssh_key_same(const struct ssh_key *a, const struct ssh_key *b);

#endif
