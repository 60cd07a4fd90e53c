#!/usr/bin/env bash
# Install, build with warnings as errors, run every test; then once more
# under ASan+UBSan (without OpenSSH's own regress suite, which the first
# build runs); then every libFuzzer target for 60 s, two at a time (clang,
# ASan+UBSan, only the fuzz targets built: meson's suite fuzz-timed);
# check the formatting; print the totals last.
#
# Run as root.  The tests themselves run as the ordinary user jit-e2e that
# deps.sh creates (tests/lib/testuser.py drops to it), so the tree and the
# builds must be reachable by that user: a tree under a directory it cannot
# enter is copied into a fresh world-readable one, tested there and removed.
set -uo pipefail
umask 022
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)

"$top/contrib/deps.sh" >/tmp/jit-deps.log 2>&1 || {
	tail -20 /tmp/jit-deps.log; echo "meson: 0 passed, 1 failed, 0 skipped"
	exit 1
}

if ! setpriv --reuid=jit-e2e --regid=jit-e2e --init-groups \
    test -r "$top/meson.build" 2>/dev/null; then
	work=$(mktemp -d /var/tmp/jit-test.XXXXXX) || exit 1
	trap 'rm -rf "$work"' EXIT
	if ! chmod 0755 "$work" ||
	    ! tar -C "$top" --exclude='./build-*' -cf - . | tar -C "$work" -xf - ||
	    ! chmod -R u+rwX,go+rX,go-w "$work"; then
		echo "the tests run as jit-e2e, which cannot enter $top, and a copy for it could not be made in $work"
		echo "meson: 0 passed, 1 failed, 0 skipped"
		exit 1
	fi
	echo "== jit-e2e cannot enter $top: testing a copy in $work"
	top=$work
	cd "$top" || exit 1
fi

status=0
build_fail=0
logs=()
run() {	# run NAME MESON-OPTIONS...
	local name=$1; shift
	local dir="$top/build-$name"
	rm -rf "$dir"
	if ! meson setup "$dir" -Dwerror=true "$@" >"$dir.setup.log" 2>&1; then
		tail -20 "$dir.setup.log"; status=1
		build_fail=$((build_fail + 1)); return
	fi
	if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
		grep -E 'error|FAILED' "$dir.build.log" | head -40; status=1
		build_fail=$((build_fail + 1)); return
	fi
	echo "== tests ($name)"
	meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
	logs+=("$dir/meson-logs/testlog.json")
}

run ci -Dpiv=enabled
LSAN_OPTIONS=suppressions=$top/contrib/lsan.supp \
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run asan -Dpiv=enabled -Db_sanitize=address,undefined -Db_lundef=false \
    -Dopenssh_regress=false

# The libFuzzer targets, each for fuzz_seconds from its seed corpus; a
# crash fails the test, which prints the report and the input in base64.
fuzz_timed() {
	local dir="$top/build-fuzz-ci" targets
	rm -rf "$dir"
	if ! CC=clang meson setup "$dir" -Dwerror=true -Dfuzzing=true \
	    -Dfuzz_seconds=60 -De2e=false -Dpiv=enabled \
	    -Db_sanitize=address,undefined -Db_lundef=false \
	    -Dopenssh_regress=false >"$dir.setup.log" 2>&1; then
		tail -20 "$dir.setup.log"; status=1
		build_fail=$((build_fail + 1)); return
	fi
	targets=$(meson introspect "$dir" --targets | python3 -c '
import json, os, sys
for t in json.load(sys.stdin):
    if t["name"].startswith("fuzz-") and not t["name"].startswith("fuzz-replay-"):
        print(os.path.relpath(t["filename"][0], sys.argv[1]))' "$dir")
	# shellcheck disable=SC2086
	if [ -z "$targets" ] || ! ninja -C "$dir" $targets >"$dir.build.log" 2>&1; then
		grep -E 'error|FAILED' "$dir.build.log" | head -40; status=1
		build_fail=$((build_fail + 1)); return
	fi
	echo "== fuzz-timed ($(echo "$targets" | wc -l) targets, 60 s each)"
	meson test -C "$dir" --no-rebuild --suite fuzz-timed --print-errorlogs \
	    --num-processes 2 || status=1
	logs+=("$dir/meson-logs/testlog.json")
}
fuzz_timed

echo "== format"
if ! "$top/contrib/check-format.sh" >/tmp/jit-format.log 2>&1; then
	head -40 /tmp/jit-format.log
	echo "clang-format: files differ from .clang-format (see above)"
	status=1
	fmt_fail=1
fi

passed=0; failed=$((${fmt_fail:-0} + build_fail)); skipped=0
for l in "${logs[@]}"; do
	[ -f "$l" ] || { failed=$((failed + 1)); continue; }
	passed=$((passed + $(grep -c '"result": "OK"' "$l")))
	failed=$((failed + $(grep -Ec '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$l")))
	skipped=$((skipped + $(grep -c '"result": "SKIP"' "$l")))
done
[ "$failed" -gt 0 ] && status=1
echo "meson: $passed passed, $failed failed, $skipped skipped"
exit $status
