#!/usr/bin/env bash
# Credentials sealed on an admin's machine with no agent and no token
# (jitctl seal) to published recipients (jitctl tokens --export), imported
# by each person (jitctl import): opened by one person's token and not by
# another's; every hand-edited file refused, nothing added.
. "$E2E_DIR/lib.sh"
: "${JIT_SIM_FIDO2:?}"

# Two people, each with an agent and a simulated key: alice (the default
# agent of lib.sh) and bob (a second agent, its own socket and data).
agent_start --touch-timeout 3 || exit 1
sim_start alice || exit 1
sim_start bob || exit 1
BOB_SOCK="$T/runb/agent.sock"
mkdir -p "$T/runb" && chmod 0700 "$T/runb"
"$JIT_AGENT_BIN" -D -a "$BOB_SOCK" --data-dir "$T/datab" --touch-timeout 3 \
    >"$T/bob.env" 2>>"$T/bob.log" &
BOB_PID=$!
trap 'kill -TERM $BOB_PID 2>/dev/null; wait $BOB_PID 2>/dev/null; e2e_cleanup' EXIT
for _i in $(seq 100); do [ -S "$BOB_SOCK" ] && break; sleep 0.05; done
bob() { JIT_AGENT_SOCK="$BOB_SOCK" "$JITCTL_BIN" "$@"; }
# The admin has no agent at all.
admin() { JIT_AGENT_SOCK="$T/none/agent.sock" "$JITCTL_BIN" "$@"; }

ok "alice enrolls her key" jitctl enroll fido2 --label alice-key \
    --device "sim:$T/alice.sock" --allow-simulated
ok "bob enrolls his" bob enroll fido2 --label bob-key \
    --device "sim:$T/bob.sock" --allow-simulated

# Recipients: one line each, published (here: files of a team repository).
mkdir -p "$T/team"
ok "alice exports her recipient" jitctl tokens --export alice-key
cp "$T/out" "$T/team/alice.rcpt"
has "one recipient line" "$T/team/alice.rcpt" \
    '^jit-recipient1 fido2 [0-9a-f]{32} alice-key [A-Za-z0-9_-]{43}( [A-Za-z0-9_-]+)?$'
ok "is one line" test "$(wc -l < "$T/team/alice.rcpt")" = 1
ok "bob exports his" bob tokens --export
cp "$T/out" "$T/team/bob.rcpt"
{ echo "# on-call"; cat "$T/team/alice.rcpt" "$T/team/bob.rcpt"; } \
    > "$T/team/oncall.rcpt"

# Sealing needs no agent and no token.
ok "the admin has no agent" test ! -e "$T/none/agent.sock"
ok "seal to alice with no agent" bash -c "printf 'pg-secret-1' | \
    JIT_AGENT_SOCK='$T/none/agent.sock' '$JITCTL_BIN' seal \
    --to '$T/team/alice.rcpt' db --ttl 1h --by admin@example -o '$T/a.sealed'"
has "says to whom" "$T/err" 'sealed db to 1 recipient'
hasnt "no plaintext in the file" "$T/a.sealed" 'pg-secret-1'
has "the file says who sealed it" "$T/a.sealed" '"sealed_by": *"admin@example"'

ok "alice imports it" jitctl import "$T/a.sealed"
has "with a touch" "$T/err" 'Touch your security key \(alice-key\)'
has "saying who sealed it" "$T/err" 'imported db, sealed by admin@example'
has "the import is audited" "$DATA/audit.log" \
    '"event":"import".*"name":"db".*"sealed_by":"admin@example"'
ok "alice unlocks it" jitctl unlock db
ok "and gets it" jitctl get db
ok "the secret is the admin's" test "$(cat "$T/out")" = pg-secret-1

fails "bob cannot import alice's file" '!' bob import "$T/a.sealed"
has "sealed to someone else" "$T/err" 'sealed to someone else'
ok "bob's store has nothing" bob status
hasnt "no db at bob's" "$T/out" '^db '
fails "a second import of the same name is refused" '!' \
    jitctl import "$T/a.sealed"
has "saying it exists" "$T/err" 'exists'

# An on-call group: one file, each member's token opens it.
ok "seal to the on-call group" bash -c "printf '{\"PGUSER\":\"oncall\",\"PGPASSWORD\":\"pw-2\"}' | \
    JIT_AGENT_SOCK='$T/none/agent.sock' '$JITCTL_BIN' seal --json --kind env \
    --to '$T/team/oncall.rcpt' oncall-db --ttl 2h --stepup always -o '$T/g.sealed'"
ok "alice imports the group's file" jitctl import "$T/g.sealed"
ok "bob imports it too" bob import "$T/g.sealed"
has "with his key" "$T/err" 'wrapped to bob-key'
ok "bob unlocks it with his touch" bob unlock oncall-db
ok "and gets it (step-up always: a touch again)" bob get oncall-db --field PGPASSWORD
ok "the group's secret" test "$(cat "$T/out")" = pw-2
ok "bob's copy keeps only his wrap" python3 -c "
import json,sys
c=json.load(open('$T/datab/creds/oncall-db.json'))
sys.exit(0 if len(c['wraps'])==1 and c['stepup']=='always' else 1)"

# Files made by hand: each refused with a sentence, nothing added.
edit() { # edit IN OUT PYTHON-STATEMENT-ON-c
	python3 - "$1" "$2" "$3" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(c, open(sys.argv[2], "w"))
PY
}
fails "a recipient given twice" '!' bash -c "printf 's3' | \
    JIT_AGENT_SOCK='$T/none/agent.sock' '$JITCTL_BIN' seal \
    --to '$T/team/oncall.rcpt' --to '$T/team/bob.rcpt' x --ttl 1h -o '$T/x.sealed'"
has "is refused" "$T/err" 'given twice'
ok "seal x to the group" bash -c "printf 's3' | \
    JIT_AGENT_SOCK='$T/none/agent.sock' '$JITCTL_BIN' seal \
    --to '$T/team/oncall.rcpt' x --ttl 1h --stepup pin -o '$T/x.sealed'"
edit "$T/x.sealed" "$T/later.sealed" 'c["not_after"] += 86400'
fails "a later not-after is refused" '!' jitctl import "$T/later.sealed"
has "the header was edited" "$T/err" 'does not open with the header it carries'
edit "$T/x.sealed" "$T/stepup.sealed" 'c["stepup"] = "session"'
fails "a looser step-up is refused" '!' jitctl import "$T/stepup.sealed"
has "the header was edited" "$T/err" 'header .* was edited'
edit "$T/x.sealed" "$T/by.sealed" 'c["sealed_by"] = "ceo@example"'
fails "another sealer is refused" '!' jitctl import "$T/by.sealed"
has "the header was edited" "$T/err" 'header .* was edited'
edit "$T/x.sealed" "$T/noby.sealed" 'del c["sealed_by"]'
fails "a file that does not say who sealed it is refused" '!' \
    jitctl import "$T/noby.sealed"
has "saying so" "$T/err" 'does not say who sealed it'
# alice's wrap replaced by bob's, under alice's token id.
edit "$T/x.sealed" "$T/swap.sealed" '
a, b = c["wraps"][0], c["wraps"][1]
a["epk"], a["nonce"], a["box"] = b["epk"], b["nonce"], b["box"]'
fails "a swapped recipient is refused" '!' jitctl import "$T/swap.sealed"
has "the wrap does not open" "$T/err" 'wrap to token alice-key does not open'
# bob's wrap relabelled as alice's, hers dropped.
edit "$T/x.sealed" "$T/relabel.sealed" '
b = c["wraps"][1]; b["token"] = c["wraps"][0]["token"]; c["wraps"] = [b]'
fails "a wrap relabelled to another token is refused" '!' \
    jitctl import "$T/relabel.sealed"
has "the wrap does not open" "$T/err" 'recipient was swapped'
head -c "$(($(wc -c < "$T/x.sealed") / 2))" "$T/x.sealed" > "$T/cut.sealed"
fails "a truncated file is refused" '!' jitctl import "$T/cut.sealed"
has "cut short" "$T/err" 'cut short'
edit "$T/x.sealed" "$T/ct.sealed" '
import base64
b = bytearray(base64.b64decode(c["ciphertext"])); b[0] ^= 1
c["ciphertext"] = base64.b64encode(bytes(b)).decode()'
fails "an edited ciphertext is refused" '!' jitctl import "$T/ct.sealed"
has "does not open" "$T/err" 'does not open with the header'
ok "status" jitctl status
hasnt "none of the edited files was added" "$T/out" '^x '
ok "nothing was written for them" test ! -e "$DATA/creds/x.json"
has "refusals are audited" "$DATA/audit.log" '"event":"deny".*"verb":"import"'
ok "the genuine file still imports" jitctl import "$T/x.sealed"

# Marked to unlock on use by the sealer: the mark is in the bound header.
ok "seal one that unlocks on use" bash -c "printf 'u-secret' | \
    JIT_AGENT_SOCK='$T/none/agent.sock' '$JITCTL_BIN' seal \
    --to '$T/team/alice.rcpt' onuse --ttl 1h --unlock-on-use -o '$T/u.sealed'"
has "the file says so" "$T/u.sealed" '"unlock_on_use": *true'
edit "$T/u.sealed" "$T/unmark.sealed" 'del c["unlock_on_use"]'
fails "the mark taken off is refused" '!' jitctl import "$T/unmark.sealed"
has "the header was edited" "$T/err" 'header .* was edited'
ok "seal one that does not" bash -c "printf 'p-secret' | \
    JIT_AGENT_SOCK='$T/none/agent.sock' '$JITCTL_BIN' seal \
    --to '$T/team/alice.rcpt' plain --ttl 1h -o '$T/p.sealed'"
edit "$T/p.sealed" "$T/mark.sealed" 'c["unlock_on_use"] = True'
fails "a mark put on is refused" '!' jitctl import "$T/mark.sealed"
has "the header was edited" "$T/err" 'header .* was edited'
ok "alice imports it" jitctl import "$T/u.sealed"
ok "it is marked so" marked_on_use onuse

fails "seal without --to" '!' admin seal y --ttl 1h -o "$T/y" </dev/null
has "says --to is required" "$T/err" '--to is required'
printf 'jit-recipient1 fido2 nothex alice-key AAAA\n' > "$T/bad.rcpt"
fails "a bad recipient line" '!' admin seal y --to "$T/bad.rcpt" --ttl 1h \
    -o "$T/y" </dev/null
has "names the line" "$T/err" 'bad.rcpt, line 1: its token id'

kill -TERM $BOB_PID; wait $BOB_PID 2>/dev/null
e2e_done
