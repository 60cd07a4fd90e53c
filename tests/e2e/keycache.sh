#!/usr/bin/env bash
# A token's key cache (agent/keycache.c): the first unlock unwraps each
# credential's data key with the token's identity and keeps the keys,
# sealed to that identity, in DATA/keycache.TOKEN_ID; later unlocks open
# from it and unwrap only what is new.  The file opens with no other
# token, is made again when torn or altered, and goes with its token at
# unenroll (and at the next start if an unenroll was cut off).
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}"

id_of() { # id_of LABEL
	python3 -c 'import json,sys
print([t["id"] for t in json.load(open(sys.argv[1]))["tokens"]
       if t["label"] == sys.argv[2]][0])' "$DATA/tokens.json" "$1"
}
# cached LABEL N HITS UNWRAPPED: the last open with LABEL said so.
cached() {
	grep -E "info: $1 opened $2 credentials?: " "$AGENT_LOG" | tail -1 |
	    grep -q ": $3 data keys\? from its key cache, $4 unwrapped$"
}
values_hold() { # the credentials named open to their own values
	for _n in "$@"; do
		[ "$(jitctl get "$_n" 2>/dev/null)" = "value-$_n" ] || return 1
	done
}

agent_start || exit 1
sim_start yk || exit 1
sim_start yk2 || exit 1
ok "enroll yk" jitctl enroll fido2 --label yk --device "sim:$T/yk.sock" \
    --allow-simulated
ok "enroll yk2" jitctl enroll fido2 --label yk2 \
    --device "sim:$T/yk2.sock" --allow-simulated --token yk
YK=$(id_of yk) YK2=$(id_of yk2)
for n in a b c; do
	ok "add $n" bash -c "printf value-$n | '$JITCTL_BIN' add $n --ttl 1h"
done

ok "unlock a b c with yk" jitctl unlock a b c --token yk
ok "the first unlock unwraps each" cached yk 3 0 3
ok "yk's key cache is stored" test -f "$DATA/keycache.$YK"
ok "readable by the user alone" test "$(stat -c %a "$DATA/keycache.$YK")" = 600
ok "holds the three keys sealed (header, nonce, 3 x 64, tag)" \
    test "$(stat -c %s "$DATA/keycache.$YK")" = $((8 + 24 + 3 * 64 + 16))
ok "no cache for yk2, which opened nothing" test ! -e "$DATA/keycache.$YK2"
ok "lock" jitctl lock
ok "unlock a b c with yk again" jitctl unlock a b c --token yk
ok "from the cache, no unwrap" cached yk 3 3 0
ok "each opens to its own value" values_hold a b c
ok "add d" bash -c "printf value-d | '$JITCTL_BIN' add d --ttl 1h"
ok "lock" jitctl lock
ok "unlock all four" jitctl unlock a b c d --token yk
ok "only d is unwrapped" cached yk 4 3 1
ok "which the cache keeps now" \
    test "$(stat -c %s "$DATA/keycache.$YK")" = $((8 + 24 + 4 * 64 + 16))
ok "values hold" values_hold a b c d

# Another token's identity does not open yk's cache (its key, nonce and
# associated data are yk's): copied to yk2's name it is refused, made
# again, and everything still opens.
cp "$DATA/keycache.$YK" "$DATA/keycache.$YK2"
ok "lock" jitctl lock
ok "unlock with yk2 over yk's cache" jitctl unlock a b c d --token yk2
has "refused, said so" "$AGENT_LOG" \
    "key cache .*keycache.$YK2: it does not open with this token \\(torn, altered or another token's\\); it is made again"
ok "every key unwrapped" cached yk2 4 0 4
ok "values hold" values_hold a b c d
ok "lock" jitctl lock
ok "unlock with yk2 again" jitctl unlock a b c d --token yk2
ok "yk2's own cache now" cached yk2 4 4 0

# Torn (a crash of a filesystem without ordered data) or altered: the
# whole file is authenticated, so it reads as empty and is made again.
head -c 100 "$DATA/keycache.$YK" >"$T/torn" && cp "$T/torn" "$DATA/keycache.$YK"
ok "lock" jitctl lock
ok "unlock over a torn cache" jitctl unlock a b c d --token yk
ok "every key unwrapped" cached yk 4 0 4
ok "values hold" values_hold a b c d
python3 - "$DATA/keycache.$YK" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[100] ^= 1
open(p, "wb").write(b)
EOF
ok "lock" jitctl lock
ok "unlock over an altered cache" jitctl unlock a b c d --token yk
ok "every key unwrapped" cached yk 4 0 4
ok "values hold" values_hold a b c d
ok "lock" jitctl lock

# The cache of an unenrolled token goes with it: its keys open the
# ciphertext of files it is no longer wrapped in.
cp "$DATA/keycache.$YK" "$T/yk-cache"
ok "unenroll yk, approved by yk2" jitctl unenroll yk --token yk2
ok "its key cache is gone" test ! -e "$DATA/keycache.$YK"
ok "yk2's stays" test -f "$DATA/keycache.$YK2"
# As if the unenroll had been cut off after the set changed: the next
# start removes it.
cp "$T/yk-cache" "$DATA/keycache.$YK"
agent_stop
agent_start || exit 1
ok "the next start removes it" test ! -e "$DATA/keycache.$YK"
has "and says so" "$AGENT_LOG" \
    'removed 1 key cache of tokens no longer enrolled'
ok "yk2's stays" test -f "$DATA/keycache.$YK2"
ok "unlock with yk2" jitctl unlock a b c d --token yk2
ok "from its cache" cached yk2 4 4 0
ok "values hold" values_hold a b c d

# A token unenrolled (approved by another) while an unlock waits for its
# touch opens nothing when touched, and keeps no key cache.  Its
# simulator asks for each touch on its standard input (setsid: no
# terminal to ask on instead).
mkfifo "$T/yk3.in"
exec 7<>"$T/yk3.in"
printf '#!/bin/sh\nexec setsid "$JIT_SIM_REAL" "$@" <"$JIT_SIM_IN"\n' \
    >"$T/sim-notty"
chmod 755 "$T/sim-notty"
export JIT_SIM_REAL=$JIT_SIM_FIDO2 JIT_SIM_IN=$T/yk3.in
JIT_SIM_FIDO2="$T/sim-notty" sim_start yk3 || exit 1
ok "enroll yk3" jitctl enroll fido2 --label yk3 \
    --device "sim:$T/yk3.sock" --allow-simulated --token yk2
YK3=$(id_of yk3)
ok "add e" bash -c "printf value-e | '$JITCTL_BIN' add e --ttl 1h"
ok "lock" jitctl lock
echo ask >"$T/yk3.touch"
"$JITCTL_BIN" unlock e --token yk3 >"$T/yk3-unlock.out" 2>&1 &
UNLOCK=$!
for _i in $(seq 200); do
	grep -q 'touch requested' "$T/yk3.log" && break
	sleep 0.05
done
ok "yk3 is asked for its touch" grep -q 'touch requested' "$T/yk3.log"
ok "unenroll yk3, approved by yk2, meanwhile" jitctl unenroll yk3 --token yk2
echo >&7
wait $UNLOCK
ok "the unlock touched on yk3 then fails" test $? -ne 0
has "saying why" "$T/yk3-unlock.out" \
    'yk3 was unenrolled while it was asked: nothing was opened'
ok "e stays locked" bash -c "'$JITCTL_BIN' status | grep -Eq '^e +secret +locked '"
ok "yk3 keeps no key cache" test ! -e "$DATA/keycache.$YK3"
exec 7>&-
e2e_done
