#!/bin/bash
# Fails if any non-test source of raft/ reaches outside the pure state machine: threads,
# clocks, randomness, files, the OS, environment variables or the env/ seam. Raft must be
# a deterministic function of its inputs so that keelsim can replay it from a seed.
#
# The one env/ header allowed is env/bug_switches.h: a dependency-free value type (keelsim's
# bug-zoo switches, all off outside the simulator), no effect on the world.
#
# Usage: purity_test.sh <files...>   (Bazel passes the sources of :library_sources)
set -u
forbidden_includes='#include[[:space:]]*[<"](thread|chrono|random|fstream|mutex|condition_variable|future|ctime|time\.h|unistd\.h|fcntl\.h|sys/[^>"]*|env/[^>"]*)[>"]'
allowed_include='^[0-9]+:#include "env/bug_switches\.h"$'
forbidden_calls='std::rand\b|\brand\(|random_device|system_clock|steady_clock|high_resolution_clock|getenv|[^_[:alnum:]]time\('
status=0
count=0
for f in "$@"; do
  count=$((count + 1))
  if grep -nE "$forbidden_includes" "$f" | grep -vE "$allowed_include"; then
    echo "PURITY VIOLATION (include) in $f" >&2
    status=1
  fi
  # Comments may mention these words; only code lines count.
  if grep -nE "$forbidden_calls" "$f" | grep -vE '^[0-9]+:[[:space:]]*//'; then
    echo "PURITY VIOLATION (call) in $f" >&2
    status=1
  fi
done
if [ "$count" -lt 10 ]; then
  echo "expected the raft sources as arguments, got $count files" >&2
  exit 1
fi
[ "$status" -eq 0 ] && echo "checked $count files: pure"
exit $status
