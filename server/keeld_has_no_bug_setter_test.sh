#!/bin/bash
# keeld and keelsim link the same //raft and //server libraries; the bug-zoo switches in
# them (env/bug_switches.h) can be turned on only through //sim:bug_switch_setter. This
# test reads keeld's dependency closure (a genquery, so the build graph itself) and fails
# if it holds any sim/ target, any simulation variant of a library, or lacks the shared
# libraries (which would make the check vacuous).
#
# Usage: keeld_has_no_bug_setter_test.sh <file listing deps(//node:keeld)>
set -u
deps="$1"
status=0
count=$(wc -l < "$deps")
if [ "$count" -lt 50 ]; then
  echo "expected keeld's dependency closure, got $count lines" >&2
  exit 1
fi
for needed in //node:keeld //raft:raft //server:server //env:bug_switches //env:buggify; do
  if ! grep -qx "$needed" "$deps"; then
    echo "keeld's closure lacks $needed: the check below would prove nothing" >&2
    status=1
  fi
done
if grep -E '^//sim(/|:)' "$deps"; then
  echo "keeld depends on sim/ targets (above): the bug switch setter could be reachable" >&2
  status=1
fi
if grep -E '_sim$' "$deps"; then
  echo "keeld links a simulation variant of a library (above)" >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "keeld's $count dependencies: no sim/ target, same //raft and //server as keelsim"
exit $status
