#!/usr/bin/env bash
# keelsim merge on real results files: 4 shards of seeds 1-12 merge to exactly the
# single-machine sweep (verdict, checker and trace hash per seed), with this binary's
# provenance; a missing shard, a shard of another commit and a shard given twice are
# refused (exit 2) with a message naming the problem; --allow-mixed merges the other commit.
set -euo pipefail
keelsim="$1"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*"; exit 1; }

"$keelsim" sweep --seeds=1-12 --jobs=2 --results="$tmp/local.jsonl" > /dev/null
for k in 0 1 2 3; do
  "$keelsim" sweep --seeds=1-12 --jobs=1 --shard="$k/4" --results="$tmp/s$k.jsonl" > /dev/null
done
"$keelsim" merge --out="$tmp/merged.jsonl" "$tmp"/s{0,1,2,3}.jsonl > "$tmp/merge.txt" ||
  fail "complete merge exited $?: $(cat "$tmp/merge.txt")"
grep -q "^12 passed, 0 failed$" "$tmp/merge.txt" || fail "merge did not count 12 seeds"
grep -q "^speed: .* summed over 4 timed shards" "$tmp/merge.txt" || fail "no summed speed"
python3 - "$tmp/local.jsonl" "$tmp/merged.jsonl" <<'PY'
import json, subprocess, sys
def load(path):
    seeds, prov = {}, None
    for line in open(path):
        r = json.loads(line)
        if "provenance" in r: prov = r["provenance"]
        elif "seed" in r: seeds[int(r["seed"])] = (r["ok"], r.get("checker", ""), r["trace_hash"])
    return seeds, prov
local, lp = load(sys.argv[1])
merged, mp = load(sys.argv[2])
assert sorted(local) == list(range(1, 13)), sorted(local)
assert merged == local, ("merged differs from the local sweep", merged, local)
assert mp["commit"] == lp["commit"] and mp["binary_sha256"] == lp["binary_sha256"], (mp, lp)
assert len(lp["binary_sha256"]) == 64 and lp["build"].startswith("mode="), lp
assert mp["seeds"] == "1-12" and mp["shard"] == "0/1", mp
print("merged == local sweep for seeds 1-12; commit", lp["commit"])
PY

expect_refused() {  # expect_refused MESSAGE FILE...
  local message="$1" rc=0; shift
  "$keelsim" merge "$@" > "$tmp/out.txt" 2>&1 || rc=$?
  ((rc == 2)) || fail "merge of $* exited $rc, not 2: $(cat "$tmp/out.txt")"
  grep -qF "$message" "$tmp/out.txt" || fail "no '$message' in: $(cat "$tmp/out.txt")"
}
expect_refused "missing shards of seeds 1-12 in 4 shards: 2 " "$tmp"/s{0,1,3}.jsonl
expect_refused "duplicate seeds (the same seed in two results): 2, 6, 10" "$tmp"/s{0,1,2,3}.jsonl "$tmp/s2.jsonl"
# A shard built from another commit (its provenance line says so).
sed '1s/"commit":"[^"]*"/"commit":"0123456789abcdef0123456789abcdef01234567"/' "$tmp/s3.jsonl" > "$tmp/s3-other.jsonl"
grep -q 0123456789abcdef "$tmp/s3-other.jsonl" || fail "test did not rewrite the commit"
expect_refused "mixed commits:" "$tmp"/s{0,1,2}.jsonl "$tmp/s3-other.jsonl"
grep -qF "pass --allow-mixed" "$tmp/out.txt" || fail "the refusal does not say how to merge anyway"
"$keelsim" merge --allow-mixed "$tmp"/s{0,1,2}.jsonl "$tmp/s3-other.jsonl" | grep -q "^12 passed, 0 failed$" ||
  fail "--allow-mixed did not merge"
# A shard killed halfway: no shard_done line, a seed missing.
head -n 2 "$tmp/s1.jsonl" > "$tmp/s1-cut.jsonl"
expect_refused "did not finish" "$tmp"/s{0,2,3}.jsonl "$tmp/s1-cut.jsonl"
grep -qF "missing seeds: 5, 9" "$tmp/out.txt" || fail "cut shard's seeds not named: $(cat "$tmp/out.txt")"
echo "merge ok"
