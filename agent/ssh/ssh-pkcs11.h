/* PKCS#11 providers for ssh-add -s: the -P allowlist. */
#ifndef JIT_SSH_PKCS11_H
#define JIT_SSH_PKCS11_H

#include <stdbool.h>

/* Whether the resolved provider path REAL matches one of PATTERNS, the
 * comma-separated fnmatch patterns of -P. */
bool ssh_provider_allowed(const char *patterns, const char *real);

#endif
