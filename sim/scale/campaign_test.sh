#!/usr/bin/env bash
# A continuous campaign stops cleanly on SIGTERM: the chunks it finished merge as one
# complete set (exit 0/1, never 2), the chunk it cut is kept aside as .partial, a summary is
# printed; a second campaign in the same directory resumes at the next seed.
set -euo pipefail
keelsim="$1" campaign="$2"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
dir="$tmp/campaign"
"$campaign" --keelsim="$keelsim" --results="$dir" --until=1h --chunk=2 --jobs=1 > "$tmp/out.txt" 2>&1 &
pid=$!
for _ in $(seq 600); do  # bounded: up to 60 s for the first chunk to finish
  grep -qs '"shard_done"' "$dir/seeds-1-2.jsonl" && break
  sleep 0.1
done
grep -qs '"shard_done"' "$dir/seeds-1-2.jsonl" || { kill "$pid"; echo "FAIL: no chunk finished"; exit 1; }
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
cat "$tmp/out.txt" | grep -v '^|'
((rc == 0)) || { echo "FAIL: campaign exited $rc after SIGTERM"; exit 1; }
grep -q "^campaign: stopped after [1-9][0-9]* chunk(s) this run; next seed " "$tmp/out.txt" || { echo "FAIL: no summary"; exit 1; }
grep -q "^coverage over [0-9]* seeds:" "$tmp/out.txt" || { echo "FAIL: no coverage in the summary"; exit 1; }
next=$(sed -n 's/^campaign: stopped after .* next seed \([0-9]*\);.*/\1/p' "$tmp/out.txt")
"$keelsim" merge "$dir"/seeds-*.jsonl > "$tmp/merge.txt" 2>&1 || { mrc=$?; ((mrc == 1)) || {
  cat "$tmp/merge.txt"; echo "FAIL: the finished chunks do not merge (exit $mrc)"; exit 1; }; }
grep -q "^$((next - 1)) passed" "$tmp/merge.txt" || grep -qE "^[0-9]+ passed, [1-9]" "$tmp/merge.txt" ||
  { cat "$tmp/merge.txt"; echo "FAIL: merged seeds are not 1-$((next - 1))"; exit 1; }
ls "$dir"/*.partial > /dev/null 2>&1 || ls "$dir/seeds-$next-$((next + 1)).jsonl" > /dev/null 2>&1 ||
  echo "note: the signal fell between chunks (no partial chunk)"
# Resume: the next campaign starts where the complete chunks end.
# The cut chunk's files are set aside first, so its log appearing again means it restarted.
mkdir -p "$tmp/cut" && mv "$dir/seeds-$next-$((next + 1)).jsonl"* "$tmp/cut/" 2> /dev/null || true
"$campaign" --keelsim="$keelsim" --results="$dir" --until=1h --chunk=2 --jobs=1 > "$tmp/out2.txt" 2>&1 &
pid=$!
for _ in $(seq 600); do  # bounded: up to 60 s for its first chunk to start
  [[ -e "$dir/seeds-$next-$((next + 1)).jsonl.log" ]] && break
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || { cat "$tmp/out2.txt"; echo "FAIL: resumed campaign failed"; exit 1; }
ls "$dir/seeds-$next-$((next + 1)).jsonl"* > /dev/null 2>&1 || { ls "$dir"; echo "FAIL: did not resume at seed $next"; exit 1; }
[[ ! -e "$dir/seeds-1-2.jsonl.partial" ]] || { echo "FAIL: seeds 1-2 ran again"; exit 1; }
echo "campaign ok"
