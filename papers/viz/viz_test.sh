#!/bin/bash
# End-to-end test of the trace visualizer (the C++ //papers:viz and `keelsim viz`): a real
# Figure-16 trace and a real keelsim cluster run -> HTML -> headless Chromium. Checks that
# the page renders the servers of each trace and that moving the time (URL #t=MS, the same
# code path as the slider) changes what is shown; every time comes from the trace.
# Needs `chromium` (tools/setup installs it). Usage: viz_test.sh FIGURE16_BIN VIZ_BIN KEELSIM_BIN
set -euo pipefail
FIG16="$1"
VIZ="$2"
KEELSIM="$3"
TMP="${TEST_TMPDIR:-$(mktemp -d)}"

"$FIG16" --trace="$TMP/trace.jsonl" --trace_range=150-300 --trace_trial=0 > "$TMP/run.txt"
"$VIZ" "$TMP/trace.jsonl" "$TMP/page.html" > /dev/null

dump() {  # $1 = time in ms; prints the DOM after the page's scripts ran.
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --user-data-dir="$TMP/profile" \
    --dump-dom "file://$TMP/page.html#t=$1" 2> "$TMP/chromium.log"
}

# Times of interest come from the trace itself, never hard-coded.
read -r SEND_MS CRASH_MS END_MS VICTIM WINNER < <(python3 - "$TMP/trace.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
send = next(e for e in ev if e["kind"] == "raft.send")["t_ns"]
crash = next(e for e in ev if e["kind"] == "node.crash")
done = next(e for e in ev if e["kind"] == "fig16.leader_known")
print(send / 1e6 + 0.5, crash["t_ns"] / 1e6 - 0.001, ev[-1]["t_ns"] / 1e6, crash["node"],
      done["detail"]["leader"])
PY
)

dump "$SEND_MS" > "$TMP/at_send.html"
dump "$CRASH_MS" > "$TMP/before_crash.html"
dump "$END_MS" > "$TMP/at_end.html"

python3 - "$TMP" "$VICTIM" "$WINNER" <<'PY'
import re, sys
tmp, victim, winner = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def nodes(name):
    dom = open(f"{tmp}/{name}").read()
    found = {int(m.group(1)): dict(re.findall(r'data-([a-z]+)="([^"]*)"', m.group(2)))
             for m in re.finditer(r'<g id="node-(\d+)"([^>]*)>', dom)}
    clock = dict(re.findall(r'data-([a-z-]+)="([^"]*)"',
                            re.search(r'<span id="clock"([^>]*)>', dom).group(1)))
    return found, clock
def expect(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)
send, send_clock = nodes("at_send.html")
before, before_clock = nodes("before_crash.html")
end, end_clock = nodes("at_end.html")
for name, n in (("send", send), ("before", before), ("end", end)):
    expect(sorted(n) == [1, 2, 3, 4, 5], f"{name}: five servers rendered, got {sorted(n)}")
expect(int(send_clock["in-flight"]) > 0, "messages in flight right after the first send")
expect(send[1]["role"] == "candidate", "server 1 is campaigning at the start")
expect(before[victim]["role"] == "leader" and before[victim]["up"] == "true",
       "the victim leads just before the crash")
expect(all(before[i]["role"] == "follower" for i in before if i != victim),
       "everyone else follows before the crash")
expect(end[victim]["up"] == "false", "the victim is shown crashed at the end")
expect(end[winner]["role"] == "leader", "the new leader is shown at the end")
expect(int(end[winner]["term"]) > int(before[victim]["term"]), "the new leader has a newer term")
expect(float(end_clock["t-ms"]) > float(before_clock["t-ms"]), "the clock moved")
logs = {i: int(before[i]["log"]) for i in before}
expect(len(set(logs.values())) >= 2, f"logs of different lengths are drawn: {logs}")
print("ok: servers, roles, crash, new leader, in-flight messages and logs render")
PY

# Faults the Figure-16 trace does not have: a partition, a disk fault, a restart, and a
# log truncated by a conflicting append. Written by hand in the schema's exact form.
cat > "$TMP/faults.jsonl" <<'JSONL'
{"t_ns":0,"node":1,"kind":"raft.state","detail":{"role":"leader","term":3,"lead":1,"vote":1,"commit":2,"last_index":0,"last_term":0,"cause":"start"}}
{"t_ns":0,"node":2,"kind":"raft.state","detail":{"role":"follower","term":3,"lead":1,"vote":1,"commit":2,"last_index":0,"last_term":0,"cause":"start"}}
{"t_ns":0,"node":3,"kind":"raft.state","detail":{"role":"follower","term":3,"lead":1,"vote":1,"commit":2,"last_index":0,"last_term":0,"cause":"start"}}
{"t_ns":1000000,"node":3,"kind":"raft.append","detail":{"index":1,"term":1}}
{"t_ns":1000000,"node":3,"kind":"raft.append","detail":{"index":2,"term":2}}
{"t_ns":1000000,"node":3,"kind":"raft.append","detail":{"index":3,"term":2}}
{"t_ns":2000000,"node":0,"kind":"net.block","detail":{"from":1,"to":2}}
{"t_ns":2000000,"node":0,"kind":"net.block","detail":{"from":2,"to":1}}
{"t_ns":3000000,"node":2,"kind":"disk.fault","detail":{"op":"sync","path":"wal/0001"}}
{"t_ns":4000000,"node":3,"kind":"raft.append","detail":{"index":2,"term":3}}
{"t_ns":5000000,"node":3,"kind":"node.crash","detail":{}}
{"t_ns":6000000,"node":0,"kind":"net.heal","detail":{}}
{"t_ns":7000000,"node":3,"kind":"node.restart","detail":{}}
JSONL
"$VIZ" "$TMP/faults.jsonl" "$TMP/faults.html" > /dev/null
for t in 3.5 5.5 7.5; do
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --user-data-dir="$TMP/profile" \
    --dump-dom "file://$TMP/faults.html#t=$t" 2> "$TMP/chromium.log" > "$TMP/faults_$t.html"
done
python3 - "$TMP" <<'PY'
import re, sys
tmp = sys.argv[1]
def page(t):
    dom = open(f"{tmp}/faults_{t}.html").read()
    nodes = {int(m.group(1)): dict(re.findall(r'data-([a-z]+)="([^"]*)"', m.group(2)))
             for m in re.finditer(r'<g id="node-(\d+)"([^>]*)>', dom)}
    return dom, nodes
def expect(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)
dom, n = page("3.5")
expect(dom.count('class="blocked"') == 2, "both directions of the cut link are drawn")
expect("1 disk faults" in dom, "the disk fault is shown on S2")
expect(n[3]["log"] == "3", "S3 has three entries before the conflicting append")
dom, n = page("5.5")
expect(n[3]["log"] == "2", "an append at index 2 truncates S3's log to two entries")
expect(n[3]["up"] == "false", "S3 is shown crashed")
expect(dom.count('class="blocked"') == 2, "the partition is still there before the heal")
dom, n = page("7.5")
expect('class="blocked"' not in dom, "heal removes every cut link")
expect(n[3]["up"] == "true" and n[3]["role"] == "follower", "S3 restarted as a follower")
print("ok: partition, heal, disk fault, truncation, crash and restart render")
PY

# A keelsim cluster run: `keelsim viz --seed` runs the seed itself; its --trace file of
# the same run gives the times to look at and the expected state.
SEED=7
"$KEELSIM" run --seed=$SEED --trace="$TMP/cluster.jsonl" > /dev/null
"$KEELSIM" viz --seed=$SEED --out="$TMP/cluster.html" > /dev/null 2>&1
read -r T_START T_LEADER LEADER_IDX LEADER_TERM T_MSG N_NODES < <(python3 - "$TMP/cluster.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
order = []  # members in the order they started: the page's n1, n2, ...
for e in ev:
    if e["kind"] == "node.start" and e["node"] not in order:
        order.append(e["node"])
lead = next(e for e in ev if e["kind"] == "raft.state" and e["detail"]["role"] == "leader")
ends = {e["detail"]["id"]: e["t_ns"] for e in ev if e["kind"] in ("raft.recv", "raft.drop")}
msg = next(e for e in ev if e["kind"] == "raft.send" and ends.get(e["detail"]["id"], 0) > e["t_ns"])
mid = (msg["t_ns"] + ends[msg["detail"]["id"]]) / 2
print(ev[0]["t_ns"] / 1e6, lead["t_ns"] / 1e6 + 0.0005, order.index(lead["node"]) + 1,
      lead["detail"]["term"], mid / 1e6, len(order))
PY
)
for t in "$T_START" "$T_LEADER" "$T_MSG"; do
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --user-data-dir="$TMP/profile" \
    --dump-dom "file://$TMP/cluster.html#t=$t" 2> "$TMP/chromium.log" > "$TMP/cluster_$t.html"
done
python3 - "$TMP" "$T_START" "$T_LEADER" "$T_MSG" "$LEADER_IDX" "$LEADER_TERM" "$N_NODES" <<'PY'
import re, sys
tmp, t_start, t_leader, t_msg = sys.argv[1:5]
leader, term, n = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
def page(t):
    dom = open(f"{tmp}/cluster_{t}.html").read()
    nodes = {int(m.group(1)): dict(re.findall(r'data-([a-z]+)="([^"]*)"', m.group(2)))
             for m in re.finditer(r'<g id="node-(\d+)"([^>]*)>', dom)}
    clock = dict(re.findall(r'data-([a-z-]+)="([^"]*)"',
                            re.search(r'<span id="clock"([^>]*)>', dom).group(1)))
    return nodes, clock
def expect(cond, what):
    if not cond:
        sys.exit("FAIL (keelsim): " + what)
start, _ = page(t_start)
led, led_clock = page(t_leader)
msg, msg_clock = page(t_msg)
for name, nodes in (("start", start), ("leader", led), ("msg", msg)):
    expect(sorted(nodes) == list(range(1, n + 1)), f"{name}: {n} members rendered, got {sorted(nodes)}")
    expect(all(v["label"] == f"n{k}" for k, v in nodes.items()), f"{name}: members labelled n1..n{n}")
expect(all(v["role"] == "follower" for v in start.values()), "everyone follows at the start")
expect(led[leader]["role"] == "leader" and int(led[leader]["term"]) == term,
       f"n{leader} is shown leading term {term} once elected")
expect(float(led_clock["t-ms"]) > float(page(t_start)[1]["t-ms"]), "the clock moved")
expect(int(msg_clock["in-flight"]) > 0, "a message is in flight halfway through its trip")
print(f"ok: keelsim seed: {n} members, n{leader} elected in term {term}, messages in flight")
PY
