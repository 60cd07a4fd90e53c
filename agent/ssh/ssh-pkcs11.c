/*
 * PKCS#11 providers for ssh-add -s: which providers the agent may load.
 * As OpenSSH's ssh-agent does, the provider's path is resolved first
 * (realpath) and then matched against -P's comma-separated fnmatch
 * patterns, so a symbolic link cannot bring in a library from elsewhere.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "ssh-pkcs11.h"

bool
ssh_provider_allowed(const char *patterns, const char *real)
{
	const char *p = patterns, *end;
	char *pat;
	bool ok = false;

	while (!ok && p != NULL && *p != '\0') {
		end = strchr(p, ',');
		pat = strndup(p, end != NULL ? (size_t)(end - p) : strlen(p));
		if (pat == NULL)
			return false;
		ok = *pat != '\0' && fnmatch(pat, real, 0) == 0;
		free(pat);
		p = end != NULL ? end + 1 : NULL;
	}
	return ok;
}
