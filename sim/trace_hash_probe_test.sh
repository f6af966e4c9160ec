#!/bin/bash
# Same seed, same trace_hash, across two separate processes.
set -euo pipefail
probe="$1"
first="$("$probe" 3)"
second="$("$probe" 3)"
echo "$first"
if [[ "$first" != "$second" ]]; then
  echo "trace_hash differs between processes:" >&2
  diff <(echo "$first") <(echo "$second") >&2 || true
  exit 1
fi
# Three distinct seeds must give three distinct hashes.
if [[ "$(echo "$first" | awk '{print $2}' | sort -u | wc -l)" -ne 3 ]]; then
  echo "different seeds gave equal hashes" >&2
  exit 1
fi
