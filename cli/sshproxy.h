/* jitctl exec's private ssh agent: one socket serving only some certificates. */
#ifndef JITCTL_SSHPROXY_H
#define JITCTL_SSHPROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sshproxy;

/*
 * A socket in a new private directory where the ssh-agent protocol is
 * served by a process of its own: the listing of jit-agent's identities,
 * keeping only the keys whose blobs were added, and signatures with those
 * keys, relayed to jit-agent (agent_sock); every other request fails.  So
 * the child of `jitctl exec` can sign with the certificates it was given
 * and no other key of the agent, and no private key leaves jit-agent.
 */
int sshproxy_new(struct sshproxy **ret);
/* The public blob of a certificate line ("TYPE BASE64 [COMMENT]"). */
int sshproxy_allow_line(struct sshproxy *p, const uint8_t *line, size_t len);
/* Listen and fork the server; drop() runs in it first (it frees what the
 * server must not hold).  *ret_path is the socket (owned by p). */
int sshproxy_start(struct sshproxy *p, const char *agent_sock,
    void (*drop)(void *), void *drop_arg, const char **ret_path);
/* Stop the server, remove the socket and its directory; NULL ok. */
void sshproxy_free(struct sshproxy *p);

#endif
