#!/usr/bin/env bash
# Every seed of the failure corpus (sim/corpus) passes at this commit; a corpus entry that
# fails (a bug-zoo switch on, so it must) makes replay exit 1 naming it; a malformed entry
# is refused (exit 2).
set -euo pipefail
keelsim="$1" corpus_dir="$(dirname "$2")"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
out=$("$keelsim" corpus replay --dir="$corpus_dir" --jobs=2) || { echo "$out"; echo "FAIL: corpus replay failed"; exit 1; }
echo "$out"
entries=$(ls "$corpus_dir"/*.seed | wc -l)
grep -q "^corpus: $entries of $entries seeds pass" <<< "$out" || { echo "FAIL: not every entry ran"; exit 1; }
((entries >= 12)) || { echo "FAIL: the corpus lost entries ($entries)"; exit 1; }

mkdir -p "$tmp/bad"
cat > "$tmp/bad/00001.seed" <<'SEED'
seed: 1
checker: leader-completeness
found_at: 0000000
fixed_by: never (a bug-zoo switch: this entry must fail)
faults: all
bug: raft-vote-any-log
what: raft-vote-any-log fails at seed 1 (sim/README.md, bug zoo).
fix: none.
SEED
rc=0
out=$("$keelsim" corpus replay --dir="$tmp/bad" --jobs=1) || rc=$?
((rc == 1)) || { echo "$out"; echo "FAIL: a failing entry gave exit $rc"; exit 1; }
grep -q "^FAIL seed=1 .*00001.seed" <<< "$out" || { echo "$out"; echo "FAIL: the failing entry is not named"; exit 1; }
grep -q "replay: .* --bug=raft-vote-any-log" <<< "$out" || { echo "FAIL: no replay command"; exit 1; }

printf 'seed: 5\nchecker: x\n' > "$tmp/bad/00001.seed"
rc=0
"$keelsim" corpus replay --dir="$tmp/bad" > "$tmp/err.txt" 2>&1 || rc=$?
((rc == 2)) && grep -q "'found_at' is required" "$tmp/err.txt" || { cat "$tmp/err.txt"; echo "FAIL: a malformed entry was not refused"; exit 1; }
echo "corpus ok"
