#!/usr/bin/env bash
# jitctl's verbs as a script sees them: status (columns, order, states,
# ISO 8601 times), get --format, audit filters and --follow, unlock
# --reason, "did you mean".  tests/e2e/exits.sh checks the exit statuses.
. "$E2E_DIR/lib.sh"
ISO='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}'

agent_start || exit 1
ok "enroll a TPM" tpm_enroll laptop
add_json() { printf '%s' "$2" | "$JITCTL_BIN" add "$1" --json --ttl 30m "${@:3}"; }
# Added out of order: status sorts by name.
ok "add zeta" add_json zeta '{"A":"1"}'
ok "add alpha (step-up always)" add_json alpha '{"A":"2"}' --stepup always
ok "add mid" add_json mid '{"A":"3"}'
ok "add short (expires in 2s)" bash -c \
    "printf x | '$JITCTL_BIN' add short --ttl 2s"

# --- unlock --reason ------------------------------------------------------
ok "unlock --reason" jitctl unlock zeta mid --for 1h \
    --reason 'INC-42: "slow" \ queries' --pin-fd 3 3<"$T/pin"
has "the reason is in the audit line, escaped" "$DATA/audit.log" \
    '"event":"unlock".*"reason":"INC-42: \\"slow\\" \\\\ queries"'
fails "a reason with a newline is refused" 2 jitctl unlock zeta \
    --reason "$(printf 'a\nb')" --pin-fd 3 3<"$T/pin"
has "saying what a reason is" "$T/err" 'one line of text'
fails "a reason over 512 bytes is refused" 2 jitctl unlock zeta \
    --reason "$(head -c 513 /dev/zero | tr '\0' r)" --pin-fd 3 3<"$T/pin"

# --- status ---------------------------------------------------------------
ok "unlock mid for 1s" jitctl unlock mid --for 1s --pin-fd 3 3<"$T/pin"
for _i in $(seq 100); do
	jitctl status --json > "$T/st.json" 2>/dev/null
	grep -q '"state": *"window-ended"' "$T/st.json" && \
	    grep -q '"name": *"short".*' "$T/st.json" && \
	    python3 -c "import json,sys; d={c['name']:c['state'] for c in json.load(open('$T/st.json'))['credentials']}; sys.exit(0 if d['short']=='expired' else 1)" \
	    2>/dev/null && break
	sleep 0.1
done
ok "status" jitctl status
S=$T/status.txt; cp "$T/out" "$S"
has "STEP-UP and EXPIRES columns" "$S" \
    '^NAME +KIND +STATE +STEP-UP +TIME-LEFT +EXPIRES +USES'
ok "sorted by name" test "$(awk '/^NAME/{on=1; next} on && NF==0{exit} on{print $1}' "$S" | tr '\n' ' ')" = "alpha mid short zeta "
has "a window that ran out is 'window ended'" "$S" '^mid +env +window ended +session'
has "an open one 'unlocked', with its step-up" "$S" '^zeta +env +unlocked +session'
has "one never opened 'locked'" "$S" '^alpha +env +locked +always'
has "one past its end 'expired'" "$S" '^short +secret +expired'
has "expiry in ISO 8601 with the zone" "$S" "^zeta .* $ISO(Z|[+-][0-9]{2}:[0-9]{2}) "
ok "status --json" jitctl status --json
cp "$T/out" "$T/status.json"
ok "the JSON keeps the states apart and says times in ISO 8601" \
    python3 - "$T/status.json" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
c = {x["name"]: x for x in d["credentials"]}
assert [x["name"] for x in d["credentials"]] == sorted(c), d
assert c["mid"]["state"] == "window-ended", c["mid"]
assert c["zeta"]["state"] == "unlocked" and c["alpha"]["state"] == "locked"
assert c["short"]["state"] == "expired"
iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
for x in c.values():
    assert iso.match(x["expires"]), x
assert iso.match(c["zeta"]["window_end"]) and iso.match(c["mid"]["window_end"])
assert c["alpha"]["window_end"] is None
PY
ok "a lock is 'locked', not 'window ended'" jitctl lock mid
ok "status --json" jitctl status --json
has "(mid locked)" "$T/out" '"state": *"locked"'
ok "tokens: a TPM asks for its PIN (UV yes)" jitctl tokens
has "UV yes" "$T/out" '^laptop +tpm2 +.* yes +'"$ISO"

# --- get --format ---------------------------------------------------------
HOSTILE="it's \$(touch $T/pwned) \`id\` \"q\" \\ ; | & * ?
second line 'x'"
printf '%s' "$HOSTILE" > "$T/hostile"
ok "add hostile values" bash -c "python3 -c 'import json,sys; print(json.dumps({\"H1\": open(sys.argv[1]).read(), \"H2\": \"\$HOME\", \"EMPTY\": \"\"}))' '$T/hostile' | '$JITCTL_BIN' add hostile --json --ttl 30m"
ok "unlock it" jitctl unlock hostile --pin-fd 3 3<"$T/pin"
ok "get --format shell" jitctl get hostile --format shell
cp "$T/out" "$T/shell"
ok "is safe to eval: the values come back byte for byte" bash -c \
    "eval \"\$(cat '$T/shell')\" && [ \"\$H1\" = \"\$(cat '$T/hostile')\" ] && [ \"\$H2\" = '\$HOME' ] && [ -z \"\$EMPTY\" ] && [ ! -e '$T/pwned' ]"
ok "and is exported" bash -c "eval \"\$(cat '$T/shell')\"; env | grep -q '^H2=\\\$HOME\$'"
ok "nothing ran" test ! -e "$T/pwned"
ok "get --format json" jitctl get hostile --format json
cp "$T/out" "$T/json"
ok "is one JSON object with the values" python3 -c "import json,sys
d = json.load(open('$T/json'))
assert d == {'H1': open('$T/hostile').read(), 'H2': '\$HOME', 'EMPTY': ''}, d"
ok "get --format env" jitctl get zeta --format env
ok "NAME=VALUE" test "$(cat "$T/out")" = "A=1"
ok "get --format shell --field" jitctl get hostile --format shell --field H2
ok "one line" test "$(cat "$T/out")" = "export H2='\$HOME'"
ok "a field that is not a shell name" add_json dotted '{"a.b":"v"}' --kind docker
ok "unlock it" jitctl unlock dotted --pin-fd 3 3<"$T/pin"
fails "is refused for --format shell" 1 jitctl get dotted --format shell
has "saying to use json" "$T/err" 'not a shell variable name.*--format json'
fails "--format other is a usage error" 2 jitctl get zeta --format yaml

# --- did you mean ---------------------------------------------------------
fails "a mistyped verb" 2 jitctl stauts
has "did you mean status" "$T/err" "unknown verb 'stauts' \\(did you mean 'status'\\?\\)"
fails "a mistyped credential name" 4 jitctl get zetq
has "did you mean zeta" "$T/err" 'no credential named zetq.*\(did you mean zeta\?\)'
fails "unlock of a mistyped name" 4 jitctl unlock mdi --pin-fd 3 3<"$T/pin"
has "did you mean mid" "$T/err" '\(did you mean mid\?\)'

# --- audit filters --------------------------------------------------------
ok "audit --event unlock" jitctl audit --event unlock
hasnt "only unlock lines" "$T/out" '^[^ ]+ +[0-9]+ (add|use|lock|start) '
has "unlock lines" "$T/out" ' unlock '
ok "audit --name zeta --json" jitctl audit --name zeta --json
cp "$T/out" "$T/zeta.audit"
ok "only zeta's lines" python3 -c "import json
ls = [json.loads(l) for l in open('$T/zeta.audit')]
assert ls and all(l.get('name') == 'zeta' or 'zeta' in l.get('names', []) for l in ls), ls"
ok "audit --since in the future" jitctl audit --since 2999-01-01
ok "prints nothing" test ! -s "$T/out"
ok "audit --since 1h" jitctl audit --since 1h --event add
has "this hour's adds" "$T/out" ' add +zeta'
fails "a bad --since is a usage error" 2 jitctl audit --since yesterday
"$JITCTL_BIN" audit --follow --event lock --json > "$T/follow" 2>&1 &
FOLLOW=$!
for _i in $(seq 100); do [ -e "/proc/$FOLLOW" ] && \
    grep -q inotify "/proc/$FOLLOW/fdinfo/"* 2>/dev/null && break; sleep 0.05; done
ok "a lock while following" jitctl lock zeta
for _i in $(seq 100); do grep -q '"event":"lock"' "$T/follow" && break; sleep 0.05; done
kill -INT "$FOLLOW"; wait "$FOLLOW"; RC=$?
has "audit --follow printed the new line" "$T/follow" '"event":"lock"'
ok "and ends with status 0 on SIGINT" test "$RC" = 0

e2e_done
