#!/bin/bash
# Every BUGGIFY site in the core has a literal name, no two sites share one, and each is
# documented in sim/README.md ("BUGGIFY"). A site's run-time choices are keyed by its
# name (env/buggify.h), so a duplicate would couple two sites and an unnamed one could
# not be keyed at all. (env::Buggify also aborts when a name is reached from two places,
# but only for sites a run reaches; this checks every site in the sources.)
#
# Usage: buggify_names_test.sh <sim/README.md> <sources...>
set -u
readme="$1"
shift
status=0
names=$(mktemp)
for f in "$@"; do
  case "$f" in
    *_test.cc | */env/buggify.h | env/buggify.h) continue ;;
  esac
  # Every use of the macros, then the ones whose first argument is a string literal.
  uses=$(grep -oE 'KEEL_BUGGIFY(_WITH_PROB)?\([^)]*' "$f" || true)
  [ -z "$uses" ] && continue
  while IFS= read -r use; do
    name=$(printf '%s' "$use" | sed -nE 's/^KEEL_BUGGIFY(_WITH_PROB)?\("([a-z0-9_.]+)".*/\2/p')
    if [ -z "$name" ]; then
      echo "$f: a BUGGIFY site without a literal name (lowercase, digits, '_', '.'): $use" >&2
      status=1
      continue
    fi
    echo "$name $f" >> "$names"
  done <<< "$uses"
done
count=$(wc -l < "$names")
if [ "$count" -lt 7 ]; then
  echo "expected the core's BUGGIFY sites (7 or more), found $count: are the sources passed?" >&2
  status=1
fi
dups=$(cut -d' ' -f1 "$names" | sort | uniq -d)
if [ -n "$dups" ]; then
  echo "BUGGIFY names used at more than one site:" >&2
  grep -F -w -e "$dups" "$names" >&2
  status=1
fi
while read -r name file; do
  if ! grep -qF "\`$name\`" "$readme"; then
    echo "$file: BUGGIFY site \"$name\" is not listed in sim/README.md (BUGGIFY)" >&2
    status=1
  fi
done < "$names"
[ "$status" -eq 0 ] && echo "$count named BUGGIFY sites, unique, all documented"
rm -f "$names"
exit $status
