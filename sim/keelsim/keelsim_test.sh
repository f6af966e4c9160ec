#!/usr/bin/env bash
# keelsim end to end: a short sweep passes, a seed replays to the same trace_hash, another
# seed gives another hash, a trace file is written, sharded results merge to the totals,
# unknown bugs are refused, a crashing seed is one failure in a sweep that goes on, shrink
# minimizes failures (crashes too) to replayable schedules, and the teaching tools work
# on a seed (the trace has raft.* events; explain tells the election and commits; viz
# writes a self-contained page; the page in a browser is papers/viz/viz_test.sh). Sweep length: KEELSIM_TEST_SEEDS (default 100).
set -euo pipefail
keelsim="$1"
seeds="${KEELSIM_TEST_SEEDS:-100}"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"

out=$("$keelsim" sweep --seeds="1-$seeds" --jobs=2)
echo "$out" | tail -3
echo "$out" | grep -q "^$seeds passed, 0 failed$" || { echo "sweep failed"; exit 1; }
echo "$out" | grep -q "^speed: " || { echo "no speed line"; exit 1; }
# The coverage table: Raft paths every sweep must reach, counted in some seeds.
grep -q "^coverage over $seeds seeds:" <<< "$out" || { echo "no coverage table"; exit 1; }
for row in raft.elections_started raft.elections_won raft.append_rejected fault.crash net.dropped_random; do
  grep -qE "^\| $row \| [1-9][0-9]* \| [1-9][0-9]* \|$" <<< "$out" || { echo "coverage: $row never fired"; exit 1; }
done
grep -qE "^\| raft.joint_entered \| [0-9]+ \| [0-9]+ \|$" <<< "$out" || { echo "coverage: zero rows missing"; exit 1; }

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
# Coverage survives the JSON lines: merged shards count the same as one sweep.
diff <("$keelsim" merge "$tmp/s0.jsonl" "$tmp/s1.jsonl" | sed -n '/^coverage over/,/^[^|c]/p' | grep '^|') \
     <("$keelsim" sweep --seeds=1-20 --jobs=2 | sed -n '/^coverage over/,/^[^|c]/p' | grep '^|') ||
  { echo "merged coverage differs from the sweep's"; exit 1; }

# Teaching tools. The trace of seed 7 carries the raft.* events of
# papers/viz/TRACE_SCHEMA.md: states, appends, and one send per message id before its
# one fate (recv or drop).
python3 - "$tmp/t7.jsonl" <<'PY'
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
kinds = {e["kind"] for e in events}
for k in ("raft.state", "raft.append", "raft.send", "raft.recv"):
    assert k in kinds, f"no {k} in the trace"
sent_at = {}
for i, e in enumerate(events):
    if e["kind"] == "raft.send":
        assert e["detail"]["id"] not in sent_at, "raft.send ids are unique"
        sent_at[e["detail"]["id"]] = i
fates = [(i, e) for i, e in enumerate(events) if e["kind"] in ("raft.recv", "raft.drop")]
assert fates, "no message ever arrived"
assert all(e["detail"]["id"] in sent_at and sent_at[e["detail"]["id"]] < i for i, e in fates), \
    "a recv/drop without an earlier send"
assert len({e["detail"]["id"] for _, e in fates}) == len(fates), "one fate per message"
assert any(e["kind"] == "raft.state" and e["detail"]["role"] == "leader" for e in events), \
    "nobody ever led"
print(f"trace ok: {len(events)} records, {len(sent_at)} raft messages")
PY
story=$("$keelsim" explain --seed=7 --max_lines=300 2>/dev/null)
echo "$story" | sed -n 1,3p  # sed reads it all: head would leave echo a broken pipe (pipefail)
# Here-strings, not pipes: grep -q exits at its first match, and an echo still writing
# into a full pipe (pipes shrink to one page when the user has many) dies of SIGPIPE.
grep -q "won the election for term" <<< "$story" || { echo "explain: no election told"; exit 1; }
grep -q "committed on leader" <<< "$story" || { echo "explain: no commit told"; exit 1; }
[[ "$story" == "$("$keelsim" explain --trace="$tmp/t7.jsonl" --max_lines=300)" ]] ||
  { echo "explain --seed and explain --trace of the same run differ"; exit 1; }
"$keelsim" viz --seed=7 --out="$tmp/s7.html" 2>/dev/null | grep -q "^wrote .* [1-9][0-9]* events" ||
  { echo "viz wrote no events"; exit 1; }
grep -q '<script id="trace-data" type="application/json">{' "$tmp/s7.html" || { echo "viz: no data"; exit 1; }
if grep -Eq '<(script|img|link)[^>]* (src|href)=' "$tmp/s7.html"; then
  echo "viz: the page loads something from outside"; exit 1
fi

# A seed that crashes its process is a failure of that seed, and the sweep goes on to
# account for every seed. Every bug-zoo entry is now caught by a checker before any
# invariant aborts (server-skip-wal by restart-amnesia), so seed 37 is made to abort.
export KEELSIM_TEST_ABORT_SEED=37
out=$("$keelsim" sweep --seeds=1-100 --jobs=2 --bug=server-skip-wal 2>&1 || true)
echo "$out" | grep -Eq "^[0-9]+ passed, [0-9]+ failed$" || { echo "a crashing sweep did not finish"; exit 1; }
total=$(echo "$out" | tail -1 | awk '{print $1 + $3}')
[[ "$total" == 100 ]] || { echo "crashing sweep accounted for $total of 100 seeds"; exit 1; }
crash_seed=$(echo "$out" | sed -n 's/^FAIL seed=\([0-9]*\) checker=crash: killed by signal.*invariant.*/\1/p' | head -1)
[[ -n "$crash_seed" ]] || { echo "no seed reported as a crash with its message"; exit 1; }
echo "$out" | grep -Eq "^failures by checker:.* crash=[1-9]" || { echo "no per-checker tally"; exit 1; }

# Shrink, of a crash and of a checker's failure: the minimal schedule printed, replayed
# with --faults, fails the same way.
shrunk=$("$keelsim" shrink --seed="$crash_seed" --bug=server-skip-wal || true)  # exit 1: it fails
echo "$shrunk" | grep -q "^checker: crash$" || { echo "shrink lost the crash: $shrunk"; exit 1; }
faults=$(echo "$shrunk" | sed -n 's/^replay: .* --faults=\([0-9,none]*\).*$/\1/p')
requests=$(echo "$shrunk" | sed -n 's/^replay: .* --requests=\([0-9,none]*\)$/\1/p')
[[ -n "$faults" ]] || { echo "shrink printed no replayable schedule"; exit 1; }
if "$keelsim" run --seed="$crash_seed" --bug=server-skip-wal --faults="$faults" ${requests:+--requests="$requests"} \
    > /dev/null 2>&1; then
  echo "the shrunk crash schedule does not crash"; exit 1
fi
unset KEELSIM_TEST_ABORT_SEED
shrunk=$("$keelsim" shrink --seed=3 --bug=raft-forget-vote || true)
checker=$(echo "$shrunk" | sed -n 's/^checker: //p')
faults=$(echo "$shrunk" | sed -n 's/^replay: .* --faults=\([0-9,none]*\).*$/\1/p')
# Membership requests shrink too (by ordinal); the replay names the ones kept.
requests=$(echo "$shrunk" | sed -n 's/^replay: .* --requests=\([0-9,none]*\)$/\1/p')
minimal=$(echo "$shrunk" | sed -n 's/^minimal fault schedule (\([0-9]*\) of \([0-9]*\) faults.*/\1 \2/p')
[[ -n "$checker" && -n "$faults" && -n "$minimal" ]] || { echo "shrink output incomplete: $shrunk"; exit 1; }
read -r kept all <<< "$minimal"
((kept < all)) || { echo "shrink removed no fault ($minimal)"; exit 1; }
"$keelsim" run --seed=3 --bug=raft-forget-vote --faults="$faults" ${requests:+--requests="$requests"} \
  > "$tmp/replay.txt" && {
  echo "the shrunk schedule passes"; exit 1; }
grep -q "^checker: $checker$" "$tmp/replay.txt" || { echo "replay failed differently: $(head -5 "$tmp/replay.txt")"; exit 1; }

if "$keelsim" run --seed=1 --bug=no-such-bug > /dev/null 2>&1; then
  echo "an unknown bug name was accepted"; exit 1
fi
echo "keelsim ok"
