#!/usr/bin/env bash
# Every bug-zoo entry, switched on in the real code paths, must be caught by keelsim within
# its seed bound (BugInfo::bound in sim/cluster/bug_zoo.cc, at most 300: the issue's
# target), and by one of the checkers it is expected to break (BugInfo::caught_by), not by
# a crash or an unrelated check. No entry may be skipped.
# Usage: bug_zoo_test.sh KEELSIM [JOBS]
set -uo pipefail
keelsim="$1"
jobs="${2:-2}"
table=$("$keelsim" bugs --table) || { echo "keelsim bugs --table failed"; exit 1; }
names=$("$keelsim" bugs)
if [[ $(echo "$table" | wc -l) -ne $(echo "$names" | wc -l) || -z "$names" ]]; then
  echo "bugs --table and bugs disagree"; exit 1
fi
failures=0
count=0
while IFS=$'\t' read -r bug bound caught_by; do
  count=$((count + 1))
  if ! [[ "$bound" =~ ^[0-9]+$ ]] || ((bound < 1 || bound > 300)); then
    echo "BAD BOUND $bug: '$bound' (must be 1..300)"
    failures=$((failures + 1))
    continue
  fi
  out=$("$keelsim" sweep --seeds="1-$bound" --jobs="$jobs" --bug="$bug" --stop-on-failure 2>&1)
  # With --jobs, seeds run out of order: the smallest failing seed printed is the witness.
  line=$(echo "$out" | grep "^FAIL seed=" | sort -t= -k2 -n | head -1)
  if [[ -z "$line" ]]; then
    echo "NOT CAUGHT $bug within $bound seeds"
    failures=$((failures + 1))
    continue
  fi
  checker=$(echo "$line" | sed -E 's/^FAIL seed=[0-9]+ checker=([^:]+):.*/\1/')
  expected=0
  IFS='/' read -ra wanted <<< "$caught_by"
  for w in "${wanted[@]}"; do
    w="${w// /}"
    [[ "$checker" == "$w" ]] && expected=1
  done
  if ((expected == 0)); then
    echo "WRONG CHECKER $bug: caught by '$checker', expected one of '$caught_by': ${line:0:200}"
    failures=$((failures + 1))
  else
    echo "caught $bug (bound $bound): ${line:0:160}"
  fi
done <<< "$table"
if ((count < 8)); then
  echo "only $count bugs in the zoo (the issue asks for at least eight)"
  failures=$((failures + 1))
fi
echo "$((count - failures)) of $count bugs caught within their bounds"
exit $((failures > 0))
