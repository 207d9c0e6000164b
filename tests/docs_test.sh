#!/usr/bin/env bash
#  docs/wire.md against the code: every op of the gateway's op table
#  (s_ops in actors/shic_gateway.c), every error code of shic_error_codes
#  (messages/shic_error.c) and every event topic published in kernel/ and
#  actors/ must appear in docs/wire.md, written as `name`.
#  Usage: tests/docs_test.sh [SOURCE_DIR]
set -u
root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
doc="$root/docs/wire.md"
failed=0
checked=0
check () {                      #  check KIND NAME
    checked=$((checked + 1))
    if ! grep -qF "\`$2\`" "$doc"; then
        echo "docs: $1 '$2' is not in docs/wire.md"
        failed=$((failed + 1))
    fi
}
at_least () {                   #  at_least KIND COUNT MINIMUM: the extraction still works
    if [ "$2" -lt "$3" ]; then
        echo "docs: found only $2 $1 in the code (expected at least $3): did the source layout change?"
        failed=$((failed + 1))
    fi
}

#  Ops: the { "name", handler } rows of s_ops
ops=$(sed -n '/^} s_ops \[\] = {/,/^};/p' "$root/actors/shic_gateway.c" \
      | grep -oE '^\s*\{ "[a-z_]+",' | grep -oE '[a-z_]+')
at_least ops "$(wc -w <<< "$ops")" 5
for op in $ops; do check op "$op"; done

#  Error codes: the SHIC_E_ macros of shic_error_codes, through their #defines
macros=$(sed -n '/^const char \*shic_error_codes \[\] = {/,/^};/p' "$root/messages/shic_error.c" \
         | grep -oE 'SHIC_E_[A-Z_]+')
at_least "error codes" "$(wc -w <<< "$macros")" 10
for macro in $macros; do
    code=$(grep -hE "^#define $macro +\"" "$root/include/shic_error.h" | grep -oE '"[a-z_]+"' | tr -d '"')
    if [ -z "$code" ]; then
        echo "docs: no #define of $macro in include/shic_error.h"
        failed=$((failed + 1))
    else
        check "error code" "$code"
    fi
done

#  Event topics: literal "instance.x" / "lease.x" / "backend.x" / "ensure.x" strings, and
#  "instance.%s" built from a lifecycle status (SHIC_STATUS_* values)
topics=$(grep -rhoE '"(instance|lease|backend|ensure)\.[a-z_]+"' "$root/kernel" "$root/actors" "$root/placement" --include=*.c \
         | tr -d '"' | sort -u)
if grep -rqF '"instance.%s"' "$root/kernel" "$root/actors" --include=*.c; then
    for status in $(grep -hoE '^#define SHIC_STATUS_[A-Z]+ +"[a-z_]+"' "$root/include/shic_contract.h" \
                    | grep -oE '"[a-z_]+"' | tr -d '"'); do
        topics="$topics instance.$status"
    done
fi
at_least "event topics" "$(wc -w <<< "$topics")" 5
for topic in $(tr ' ' '\n' <<< "$topics" | sort -u); do check "event topic" "$topic"; done

echo "docs: $checked names checked, $failed missing"
[ $failed -eq 0 ]
