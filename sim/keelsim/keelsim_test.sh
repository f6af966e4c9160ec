#!/usr/bin/env bash
# keelsim end to end: a short sweep passes, a seed replays to the same trace_hash, another
# seed gives another hash, a trace file is written, sharded results merge to the totals,
# and unknown bugs are refused. Sweep length: KEELSIM_TEST_SEEDS (default 100).
set -euo pipefail
keelsim="$1"
seeds="${KEELSIM_TEST_SEEDS:-100}"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"

out=$("$keelsim" sweep --seeds="1-$seeds" --jobs=2)
echo "$out" | tail -3
echo "$out" | grep -q "^$seeds passed, 0 failed$" || { echo "sweep failed"; exit 1; }
echo "$out" | grep -q "^speed: " || { echo "no speed line"; exit 1; }

hash_of() { "$keelsim" run --seed="$1" "${@:2}" | sed -n 's/.*trace_hash=\([0-9a-f]*\).*/\1/p' | head -1; }
a=$(hash_of 7); b=$(hash_of 7 --trace="$tmp/t7.jsonl"); c=$(hash_of 8)
[[ -n "$a" && "$a" == "$b" ]] || { echo "seed 7 did not replay: $a vs $b"; exit 1; }
[[ "$a" != "$c" ]] || { echo "seeds 7 and 8 gave the same hash $a"; exit 1; }
[[ -s "$tmp/t7.jsonl" ]] || { echo "no trace written"; exit 1; }
head -1 "$tmp/t7.jsonl" | grep -q '"t_ns"' || { echo "trace is not JSON lines"; exit 1; }

"$keelsim" sweep --seeds=1-20 --jobs=1 --shard=0/2 --results="$tmp/s0.jsonl" > /dev/null
"$keelsim" sweep --seeds=1-20 --jobs=1 --shard=1/2 --results="$tmp/s1.jsonl" > /dev/null
"$keelsim" merge "$tmp/s0.jsonl" "$tmp/s1.jsonl" | grep -q "^20 passed, 0 failed$" ||
  { echo "sharded results do not merge to 20 seeds"; exit 1; }

if "$keelsim" run --seed=1 --bug=no-such-bug > /dev/null 2>&1; then
  echo "an unknown bug name was accepted"; exit 1
fi
echo "keelsim ok"
