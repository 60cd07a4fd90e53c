#!/usr/bin/env bash
# Fail if any C file differs from what .clang-format makes of it, or if a
# message in the product is split into several string literals (so that a
# sentence a user pastes into a bug report is found with grep).
cd "$(dirname "$0")/.." || exit 1
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
[ -n "$files" ] || exit 0
status=0
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files || status=1
# A literal that does not end a line ("\n") continued by another literal on
# the next line, in agent/, cli/, lib/ and hw/ (tests may split freely).
product=$(printf '%s\n' $files | grep -E '^(agent|cli|lib|hw)/')
# shellcheck disable=SC2086
python3 - $product <<'PY' || status=1
import re, sys
split = re.compile(r'"((?:[^"\\\n]|\\.)*?)"\n[ \t]*"')
bad = 0
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8", errors="replace").read()
    for m in split.finditer(text):
        if not m.group(1).endswith("\\n"):
            line = text.count("\n", 0, m.start()) + 1
            print(f"{path}:{line}: a message split into two literals: "
                  "join them into one")
            bad += 1
sys.exit(1 if bad else 0)
PY
exit $status
