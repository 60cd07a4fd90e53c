/* The names on the socket: jitctl's verbs and the JSON members they carry. */
#ifndef JIT_PROTO_NAMES_H
#define JIT_PROTO_NAMES_H

/*
 * jitctl (cli/) and the agent (agent/) both spell every extension verb and
 * every JSON member of its request and result through these names, so one
 * renamed here is renamed on both sides.  docs/PROTOCOL.md is the reference
 * for what each means; a change here is a change of the wire and goes there
 * too.  The audit log's members (events.h) are not the socket's and are not
 * here; neither are the values members take ("unlocked", "pin", ...).
 *
 *	JP_VERB_V	a verb: the request is "V@jit-agent.dev"
 *	JP_ARG_V_M	member M of verb V's args
 *	JP_RES_V_M	member M of verb V's result
 *	JP_<OBJ>_M	member M of an object some results share (TOKEN, ...)
 */

/*
 * Every verb, each once: X(JP_VERB_V, handler).  The agent builds its
 * table from this list (agent/dispatch.c serves JP_VERB_V with
 * ext_<handler>, the verb with '-' as '_'), so a verb is added here and
 * nowhere else, and what jitctl may ask for is what the agent serves.
 * tests/unit/test-proto-names.c holds a running agent to it.
 */
#define JP_VERBS(X) \
	X(JP_VERB_HELLO, hello) \
	X(JP_VERB_STATUS, status) \
	X(JP_VERB_TOKENS, tokens) \
	X(JP_VERB_ENROLL, enroll) \
	X(JP_VERB_UNENROLL, unenroll) \
	X(JP_VERB_ADD, add) \
	X(JP_VERB_UNLOCK, unlock) \
	X(JP_VERB_GET, get) \
	X(JP_VERB_LOCK, lock) \
	X(JP_VERB_REVOKE, revoke) \
	X(JP_VERB_AUDIT_HEAD, audit_head) \
	X(JP_VERB_AUDIT_SETUP, audit_setup) \
	X(JP_VERB_REQUEST, request) \
	X(JP_VERB_VERIFY, verify) \
	X(JP_VERB_REWRAP, rewrap) \
	X(JP_VERB_PROBE, probe) \
	X(JP_VERB_APPROVE, approve) \
	X(JP_VERB_EVENTS, events) \
	X(JP_VERB_IMPORT, import)

/* A failure (SSH_AGENT_EXTENSION_FAILURE) of any verb. */
#define JP_ERR_ERROR "error" /* the code's number (a hint) */
#define JP_ERR_CODE "code" /* the code's name, "JIT_E_LOCKED" */
#define JP_ERR_MESSAGE "message" /* a sentence for the user */
#define JP_ERR_RETRIES "retries" /* PIN tries left, if known */

/* TOKEN: an enrolled token, in tokens, status and enroll results. */
#define JP_TOKEN_ID "id" /* its id, hex */
#define JP_TOKEN_LABEL "label" /* the name the user gave it */
#define JP_TOKEN_TYPE "type" /* "tpm2", "fido2" */
#define JP_TOKEN_DEVICE "device" /* TCTI or hidraw path, if any */
#define JP_TOKEN_SIMULATED "simulated" /* swtpm or the simulator */
#define JP_TOKEN_UV "uv" /* it asks for its PIN */
#define JP_TOKEN_TOUCH "touch" /* it asks for a touch */
#define JP_TOKEN_CREATED "created" /* enrolled at, unix seconds */
#define JP_TOKEN_RECIPIENT "recipient" /* its X25519 wrapping key, base64 */
#define JP_TOKEN_ATTESTATION "attestation" /* lib/attest.h blob, base64 */

/* hello: jitctl's first request; the agent knows its executable. */
#define JP_VERB_HELLO "hello"
#define JP_RES_HELLO_VERSION "version" /* the agent's version */

/* status: the agent, the tokens, a page of credentials, revocations. */
#define JP_VERB_STATUS "status"
#define JP_ARG_STATUS_OFFSET "offset" /* the page's first credential */
#define JP_ARG_STATUS_NAME "name" /* that credential alone */
#define JP_RES_STATUS_AGENT "agent" /* AGENT */
#define JP_RES_STATUS_TOKENS "tokens" /* [TOKEN...] */
#define JP_RES_STATUS_CREDENTIALS "credentials" /* [CRED...] */
#define JP_RES_STATUS_REVOCATIONS "revocations" /* [REVOCATION...] */
#define JP_RES_STATUS_TOTAL "total" /* credentials in all pages */
#define JP_RES_STATUS_NEXT "next" /* the next page's offset, or null */
#define JP_RES_STATUS_DAMAGED "damaged" /* [DAMAGED...], every page */
#define JP_RES_STATUS_NDAMAGED "damaged_total" /* all damaged files */
#define JP_RES_STATUS_UNREAD "unread" /* files not checked yet */
/* DAMAGED: a credential file skipped, and why. */
#define JP_DAMAGED_FILE "file"
#define JP_DAMAGED_WHY "why"
/* AGENT: status's agent object. */
#define JP_AGENT_VERSION "version"
#define JP_AGENT_PID "pid"
#define JP_AGENT_SOCKET "socket" /* the socket's path */
#define JP_AGENT_DATA_DIR "data_dir"
#define JP_AGENT_LOCKED "locked" /* locked with ssh-add -x */
#define JP_AGENT_UNLOCKED "unlocked" /* credentials unlocked now */
#define JP_AGENT_TRIGGERS "triggers" /* [TRIGGER...], the kill switches */
/* TRIGGER: one kill switch in the agent object. */
#define JP_TRIGGER_NAME "name" /* "idle", "sleep", "removal", ... */
#define JP_TRIGGER_ARMED "armed" /* true: it locks when it fires */
#define JP_TRIGGER_DETAIL "detail" /* how it is armed, or why it is off */
/* CRED: one credential in status's credentials. */
#define JP_CRED_NAME "name"
#define JP_CRED_KIND "kind"
#define JP_CRED_FIELDS "fields" /* [F...], the field names */
#define JP_CRED_STEPUP "stepup"
#define JP_CRED_UNLOCK_ON_USE "unlock_on_use" /* true when marked so */
#define JP_CRED_NOT_AFTER "not_after" /* valid until, unix seconds */
#define JP_CRED_PROFILE "profile" /* requested credentials only */
#define JP_CRED_REVOKE "revoke" /* REVOCATION or null, the same */
#define JP_CRED_STATE \
	"state" /* "locked", "unlocked", "expired",
				    "window-ended" */
#define JP_CRED_EXPIRES "expires" /* not_after in ISO 8601, UTC */
#define JP_CRED_WINDOW_END \
	"window_end" /* until (or when the window ran
					    out) in ISO 8601, UTC, or null */
#define JP_CRED_UNTIL "until" /* window's end, unix seconds, or null */
#define JP_CRED_TIME_LEFT "time_left" /* seconds, or null */
#define JP_CRED_UNLOCKED_BY "unlocked_by" /* the token's label */
#define JP_CRED_USES "uses"
#define JP_CRED_LAST_PEER "last_peer" /* PEER or null */
#define JP_CRED_TOKENS "tokens" /* [L...], labels it is wrapped to */
/* PEER: the last process a credential was served to. */
#define JP_PEER_UID "uid"
#define JP_PEER_PID "pid"
#define JP_PEER_EXE "exe"
/* REVOCATION: the upstream revoke of a requested credential. */
#define JP_REVOCATION_NAME "name"
#define JP_REVOCATION_PROFILE "profile"
#define JP_REVOCATION_WHY "why" /* "revoke", "expire", "lock", ... */
#define JP_REVOCATION_STATE "state" /* "pending", ..., "gave-up" */
#define JP_REVOCATION_ATTEMPTS "attempts"
#define JP_REVOCATION_ERROR "error" /* the last attempt's failure */
#define JP_REVOCATION_NEXT_TRY "next_try" /* unix seconds (failed) */
#define JP_REVOCATION_DONE "done" /* unix seconds */

/* tokens: the enrolled tokens and whether they vouch for each other. */
#define JP_VERB_TOKENS "tokens"
#define JP_RES_TOKENS_TOKENS "tokens" /* [TOKEN...] */
#define JP_RES_TOKENS_SET "set" /* SET */
/* SET: tokens's set object. */
#define JP_SET_STATE "state" /* "verified", "unverified", ... */
#define JP_SET_WHY "why" /* for "failed" and "unreadable" */

/* verify: a token vouches for the set (a touch or PIN). */
#define JP_VERB_VERIFY "verify"
#define JP_ARG_VERIFY_TOKEN "token" /* the label of the one to ask */
#define JP_RES_VERIFY_TOKEN "token" /* the label of the one that did */
#define JP_RES_VERIFY_TOKENS "tokens" /* how many are enrolled */

/* probe: the enrolled tokens in the order they are tried, and whether
 * each is plugged in (nothing is asked of the person). */
#define JP_VERB_PROBE "probe"
#define JP_RES_PROBE_TOKENS "tokens" /* [{label,type,uv,present}...] */
#define JP_PROBE_PRESENT "present"
#define JP_PROBE_PREFERRED "preferred" /* named by [agent] prefer */

/* rewrap: one token opens credentials' data keys and wraps them to the
 * other enrolled tokens (a replacement key covers what exists). */
#define JP_VERB_REWRAP "rewrap"
#define JP_ARG_REWRAP_NAMES "names" /* [NAME...]; absent: every one */
#define JP_ARG_REWRAP_TO "to" /* the one label to wrap to; absent: all */
#define JP_ARG_REWRAP_TOKEN "token" /* the label of the one to ask */
#define JP_RES_REWRAP_TOKEN "token" /* the label of the one that did */
#define JP_RES_REWRAP_TO "to" /* [LABEL...] wrapped to */
#define JP_RES_REWRAP_REWRAPPED "rewrapped" /* [NAME...] given new wraps */
#define JP_RES_REWRAP_UNCHANGED "unchanged" /* [NAME...] had them all */
#define JP_RES_REWRAP_FAILED "failed" /* [FAILED...], as unlock's */

/* enroll: bind a hardware token. */
#define JP_VERB_ENROLL "enroll"
#define JP_ARG_ENROLL_TYPE "type" /* "tpm2", "fido2", "piv" */
#define JP_ARG_ENROLL_LABEL "label"
#define JP_ARG_ENROLL_DEVICE "device"
#define JP_ARG_ENROLL_UV "uv"
#define JP_ARG_ENROLL_SLOT "slot" /* piv: key slot, hex */
#define JP_ARG_ENROLL_TOUCH "touch" /* piv: always, cached, never */
#define JP_ARG_ENROLL_ALLOW_SIMULATED "allow_simulated"
#define JP_ARG_ENROLL_TOKEN "token" /* the enrolled one that approves */
#define JP_PAYLOAD_ENROLL_PIN "pin" /* field: the new token's PIN */
#define JP_PAYLOAD_ENROLL_AUTH_PIN "auth_pin" /* field: the approver's */
#define JP_RES_ENROLL_TOKEN "token" /* TOKEN */
#define JP_RES_ENROLL_APPROVED_BY "approved_by" /* a label */

/* unenroll: forget a token. */
#define JP_VERB_UNENROLL "unenroll"
#define JP_ARG_UNENROLL_LABEL "label"
#define JP_ARG_UNENROLL_FORCE "force" /* delete what only it opens */
#define JP_ARG_UNENROLL_TOKEN "token" /* the one that approves */
#define JP_RES_UNENROLL_LABEL "label"
#define JP_RES_UNENROLL_REWRAPPED "rewrapped" /* credentials rewrapped */
#define JP_RES_UNENROLL_APPROVED_BY "approved_by"

/* add: store a credential (its fields are the secret payload). */
#define JP_VERB_ADD "add"
#define JP_ARG_ADD_NAME "name"
#define JP_ARG_ADD_KIND "kind"
#define JP_ARG_ADD_TTL "ttl" /* seconds from now */
#define JP_ARG_ADD_STEPUP "stepup"
#define JP_ARG_ADD_REPLACE "replace"
#define JP_ARG_ADD_UNLOCK_ON_USE "unlock_on_use" /* a use unlocks it */
#define JP_RES_ADD_NAME "name"
#define JP_RES_ADD_NOT_AFTER "not_after"
#define JP_RES_ADD_TOKENS "tokens" /* [L...] it is wrapped to */

/* import: a credential sealed elsewhere (jitctl seal), opened once with a
 * token here (its PIN, if any, is the payload) and stored as it is. */
#define JP_VERB_IMPORT "import"
#define JP_ARG_IMPORT_FILE "file" /* the sealed file's JSON object */
#define JP_ARG_IMPORT_REPLACE "replace"
#define JP_ARG_IMPORT_TOKEN "token" /* the label of the one to ask */
#define JP_RES_IMPORT_NAME "name"
#define JP_RES_IMPORT_NOT_AFTER "not_after"
#define JP_RES_IMPORT_SEALED_BY "sealed_by"
#define JP_RES_IMPORT_TOKEN "token" /* the label of the one that opened it */
#define JP_RES_IMPORT_TOKENS "tokens" /* [L...] it is wrapped to here */

/* unlock: open credentials with a token, for a while. */
#define JP_VERB_UNLOCK "unlock"
#define JP_ARG_UNLOCK_NAMES "names" /* [N...] */
#define JP_ARG_UNLOCK_ALL "all"
#define JP_ARG_UNLOCK_FOR "for" /* the window, seconds */
#define JP_ARG_UNLOCK_TOKEN "token" /* the label of the one to ask */
#define JP_ARG_UNLOCK_SHELL "shell" /* pid: jitctl shell's child alone */
#define JP_ARG_UNLOCK_CHECK "check" /* true: checks only, no touch */
#define JP_ARG_UNLOCK_REASON "reason" /* why: one line, kept in the audit */
#define JP_RES_UNLOCK_UNLOCKED "unlocked" /* [N...] */
#define JP_RES_UNLOCK_FAILED "failed" /* [FAILED...] */
#define JP_RES_UNLOCK_TOKEN "token" /* the label of the one that did */
#define JP_RES_UNLOCK_UNTIL "until" /* the window's end, unix seconds */
#define JP_RES_UNLOCK_WINDOW "window" /* its length, seconds */
#define JP_RES_UNLOCK_WARNING "warning" /* the set did not fully verify */
/* FAILED: a credential unlock could not open. */
#define JP_FAILED_NAME "name"
#define JP_FAILED_CODE "code" /* as JP_ERR_CODE */
#define JP_FAILED_MESSAGE "message"

/* get: an unlocked credential's fields (the secret payload). */
#define JP_VERB_GET "get"
#define JP_ARG_GET_NAME "name"
#define JP_ARG_GET_FIELD "field" /* that field alone */
#define JP_ARG_GET_PURPOSE "purpose" /* "get", "exec" */
#define JP_ARG_GET_COMMAND "command" /* what it is for (audited) */
#define JP_RES_GET_NAME "name"
#define JP_RES_GET_KIND "kind"
#define JP_RES_GET_FIELDS "fields" /* [F...] */
#define JP_RES_GET_UNTIL "until"

/* lock: wipe unlocked credentials. */
#define JP_VERB_LOCK "lock"
#define JP_ARG_LOCK_NAMES "names" /* [N...], empty: all */
#define JP_RES_LOCK_LOCKED "locked" /* [N...] */
#define JP_RES_LOCK_REVOKED "revoked" /* [N...] revoked upstream too */

/* revoke: wipe and delete a credential (requested: revoke upstream). */
#define JP_VERB_REVOKE "revoke"
#define JP_ARG_REVOKE_NAME "name"
#define JP_RES_REVOKE_NAME "name"
#define JP_RES_REVOKE_PROFILE "profile" /* requested ones only, and: */
#define JP_RES_REVOKE_UPSTREAM "upstream" /* as JP_REVOCATION_STATE */
#define JP_RES_REVOKE_ATTEMPTS "attempts"
#define JP_RES_REVOKE_MESSAGE "message" /* the last attempt's failure */
#define JP_RES_REVOKE_NEXT_TRY "next_try"

/* request: a credential from a profile's issuer. */
#define JP_VERB_REQUEST "request"
#define JP_ARG_REQUEST_PROFILE "profile"
#define JP_ARG_REQUEST_REASON "reason"
#define JP_ARG_REQUEST_TTL "ttl"
#define JP_ARG_REQUEST_NAME "name"
#define JP_RES_REQUEST_NAME "name"
#define JP_RES_REQUEST_PROFILE "profile"
#define JP_RES_REQUEST_KIND "kind"
#define JP_RES_REQUEST_NOT_AFTER "not_after"
#define JP_RES_REQUEST_FIELDS "fields" /* [F...] */
#define JP_RES_REQUEST_TOKENS "tokens" /* [L...] */
/* A profile with approvals: the request waits instead (jitctl approve). */
#define JP_RES_REQUEST_ID "request_id" /* 32 hex digits */
#define JP_RES_REQUEST_TEXT "text" /* what approvers sign */
#define JP_RES_REQUEST_NEEDED "needed" /* approvals it waits for */
#define JP_RES_REQUEST_APPROVALS "approvals" /* approvals so far */
#define JP_RES_REQUEST_EXPIRES "expires" /* it waits until, unix s */
#define JP_RES_REQUEST_APPROVERS "approvers" /* "who (SHA256:...), ..." */

/* approve: hand an approval (an SSHSIG) to a waiting request; when it
 * completes the quorum, the result is request's (the issuer ran). */
#define JP_VERB_APPROVE "approve"
#define JP_ARG_APPROVE_ID "request_id"
#define JP_ARG_APPROVE_SIGNATURE "signature" /* the armored SSHSIG */

/* events: a subscription; the first result is {"subscribed":true}, then
 * each audited event follows as a result of its own (the event object)
 * until the client leaves or reads too slowly and is dropped. */
#define JP_VERB_EVENTS "events"
#define JP_RES_EVENTS_SUBSCRIBED "subscribed"

/* audit-head: the audit log's last line. */
#define JP_VERB_AUDIT_HEAD "audit-head"
#define JP_RES_AUDIT_HEAD_SEQ "seq"
#define JP_RES_AUDIT_HEAD_HASH "hash"
#define JP_RES_AUDIT_HEAD_PATH "path"

/* audit-setup: forward-secure sealing keys (the verification key is the
 * secret payload of the result). */
#define JP_VERB_AUDIT_SETUP "audit-setup"
#define JP_ARG_AUDIT_SETUP_INTERVAL "interval" /* seconds */
#define JP_ARG_AUDIT_SETUP_FORCE "force"
#define JP_RES_AUDIT_SETUP_KEY_ID "key_id"
#define JP_RES_AUDIT_SETUP_START "start"
#define JP_RES_AUDIT_SETUP_INTERVAL "interval"
#define JP_RES_AUDIT_SETUP_KEY_FILE "key_file"

#endif
