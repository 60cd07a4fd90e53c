#!/bin/sh
# The wire structs are opaque: no file but lib/wire.c names their members.
#   usage: wire-opaque.sh SOURCE_ROOT
src=${1:?usage: wire-opaque.sh SOURCE_ROOT}
for d in agent cli hw lib tests; do
	[ -d "$src/$d" ] || { echo "wire-opaque: no $src/$d" >&2; exit 1; }
done
hits=$(grep -rnE --include='*.c' --include='*.h' \
    '(\.|->)_(p|len|off|d|cap|max|sec|secure)\b' \
    "$src/agent" "$src/cli" "$src/hw" "$src/lib" "$src/tests" |
    grep -v "^$src/lib/wire\.c:")
if [ -n "$hits" ]; then
	echo "the members of struct wire_reader and struct wire_writer are lib/wire.c's: use the functions in lib/wire.h" >&2
	echo "$hits" >&2
	exit 1
fi
# The check must see the members it guards, or it passes by mistake.
grep -qE '(\.|->)_off\b' "$src/lib/wire.c" || {
	echo "wire-opaque: lib/wire.c no longer names _off: update this check" >&2
	exit 1
}
echo "ok - no file but lib/wire.c uses a member of the wire structs"
