#!/usr/bin/env python3
"""trace_viz: turns a Keel JSON-lines trace into one self-contained HTML page.

Usage:  trace_viz.py TRACE.jsonl OUT.html [--title=TEXT]
        (bazel run //papers:viz -- TRACE.jsonl OUT.html)

The page (no network access, everything inline) shows the servers on a ring, RaftScope
style: role, term, log boxes (index/term, committed ones filled), commit index; messages in
flight between servers; crashes, blocked links and disk faults; a time slider with
play/pause and step-to-next-event. Open it with `#t=MS` to start at time MS (tests use
this). Event schema: papers/viz/TRACE_SCHEMA.md. Standard library only.
"""

import json
import os
import sys

# Kinds the page uses; anything else (loop.timer, disk.append, ...) is dropped so that
# big simulator traces stay small.
KEPT_PREFIXES = ("raft.", "node.", "fig16.")
KEPT_KINDS = {"net.block", "net.unblock", "net.heal", "disk.fault", "clock.rate", "clock.jump"}
MAX_EVENTS = 2_000_000  # A bound on what we embed: beyond this the page would not load.


def load_events(path):
    events = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{line_no}: not JSON: {e}")
            kind = rec.get("kind", "")
            if kind in KEPT_KINDS or kind.startswith(KEPT_PREFIXES):
                events.append([rec["t_ns"], rec["node"], kind, rec.get("detail", {})])
                if len(events) > MAX_EVENTS:
                    raise SystemExit(f"{path}: more than {MAX_EVENTS} events; cut the trace")
    return events


def node_ids(events):
    ids = set()
    for _, node, kind, detail in events:
        if node:
            ids.add(node)
        for key in ("to", "from", "lead", "victim", "leader"):
            v = detail.get(key)
            if isinstance(v, int) and v > 0 and kind != "net.heal":
                ids.add(v)
    return sorted(ids)


PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body { font-family: sans-serif; margin: 12px; color: #222; }
#controls { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
#slider { width: 560px; }
#main { display: flex; gap: 16px; margin-top: 8px; }
#events { font-family: monospace; font-size: 12px; width: 520px; height: 520px;
          overflow-y: auto; border: 1px solid #ccc; padding: 4px; white-space: pre; }
#events .now { background: #ffe; font-weight: bold; }
.legend span { display: inline-block; margin-right: 10px; font-size: 12px; }
</style></head><body>
<h3>__TITLE__</h3>
<div id="controls">
  <button id="prev" title="previous event">&#9664;|</button>
  <button id="play">play</button>
  <button id="next" title="next event">|&#9654;</button>
  <input id="slider" type="range" min="0" max="1000" step="1" value="0">
  <span id="clock" data-t-ms="0">t = 0 ms</span>
  <label>speed <select id="speed"><option value="0.02">1/50x</option>
  <option value="0.1" selected>1/10x</option><option value="1">1x</option></select></label>
</div>
<div class="legend"><span style="color:#2a9d2a">&#9679; leader</span>
<span style="color:#e08a00">&#9679; candidate</span><span style="color:#8a8a8a">&#9679; follower</span>
<span>&#9711; crashed (dashed)</span><span style="color:#c00">- - blocked link</span>
<span>messages: V vote, A append, H heartbeat; hollow = response</span></div>
<div id="main"><svg id="ring" width="560" height="560" viewBox="0 0 560 560"></svg>
<div id="events"></div></div>
<script id="trace-data" type="application/json">__DATA__</script>
<script>
"use strict";
const DATA = JSON.parse(document.getElementById("trace-data").textContent);
const EV = DATA.events;          // [t_ns, node, kind, detail], sorted by time
const IDS = DATA.nodes;
const T_END = EV.length ? EV[EV.length - 1][0] : 0;
const SVGNS = "http://www.w3.org/2000/svg";
const ring = document.getElementById("ring");
const CX = 280, CY = 230, R = 170;
const pos = {};
IDS.forEach((id, i) => {
  const a = -Math.PI / 2 + 2 * Math.PI * i / Math.max(1, IDS.length);
  pos[id] = [CX + R * Math.cos(a), CY + R * Math.sin(a)];
});

// Message lifetimes: send time, end time (recv/drop), outcome.
const msgs = {};
for (const [t, node, kind, d] of EV) {
  if (kind === "raft.send") msgs[d.id] = {from: node, to: d.to, type: d.type, term: d.term,
                                         reject: d.reject, t0: t, t1: Infinity, dropped: false};
  else if ((kind === "raft.recv" || kind === "raft.drop") && msgs[d.id]) {
    msgs[d.id].t1 = t;
    msgs[d.id].dropped = kind === "raft.drop";
  }
}
const msgList = Object.values(msgs);

// Replays every event with time <= t into a state snapshot. Linear, which is fast enough
// for the traces we embed, and obviously correct.
function stateAt(t) {
  const s = {nodes: {}, blocked: new Set(), last: -1};
  for (const id of IDS) s.nodes[id] = {role: "follower", term: 0, lead: 0, commit: 0,
                                        log: [], up: true, paused: false, diskFaults: 0};
  for (let i = 0; i < EV.length && EV[i][0] <= t; i++) {
    const [, node, kind, d] = EV[i];
    const n = s.nodes[node];
    s.last = i;
    if (kind === "raft.state") {
      Object.assign(n, {role: d.role, term: d.term, lead: d.lead, commit: d.commit});
      n.log.length = Math.min(n.log.length, d.last_index);
    } else if (kind === "raft.append") {
      n.log.length = d.index - 1;
      n.log[d.index - 1] = d.term;
    } else if (kind === "node.crash") { n.up = false; }
    else if (kind === "node.restart") { n.up = true; n.role = "follower"; n.lead = 0; }
    else if (kind === "node.pause") { n.paused = true; }
    else if (kind === "node.resume") { n.paused = false; }
    else if (kind === "disk.fault") { n.diskFaults++; }
    else if (kind === "net.block") { s.blocked.add(d.from + ">" + d.to); }
    else if (kind === "net.unblock") { s.blocked.delete(d.from + ">" + d.to); }
    else if (kind === "net.heal") { s.blocked.clear(); }
  }
  return s;
}

function el(name, attrs, text) {
  const e = document.createElementNS(SVGNS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
const COLORS = {leader: "#2a9d2a", candidate: "#e08a00", precandidate: "#f2c14e",
                follower: "#8a8a8a"};
const LETTER = {MsgVote: "V", MsgVoteResp: "V", MsgPreVote: "P", MsgPreVoteResp: "P",
                MsgApp: "A", MsgAppResp: "A", MsgHeartbeat: "H", MsgHeartbeatResp: "H",
                MsgSnap: "S", MsgTimeoutNow: "T"};

function render(t) {
  const s = stateAt(t);
  while (ring.firstChild) ring.removeChild(ring.firstChild);
  for (const key of s.blocked) {
    const [a, b] = key.split(">").map(Number);
    if (!pos[a] || !pos[b]) continue;
    ring.appendChild(el("line", {x1: pos[a][0], y1: pos[a][1], x2: pos[b][0], y2: pos[b][1],
                                 stroke: "#c00", "stroke-dasharray": "6,4", class: "blocked"}));
  }
  let inFlight = 0;
  for (const m of msgList) {
    if (!(m.t0 <= t && t < m.t1) || !pos[m.from] || !pos[m.to]) continue;
    const f = m.t1 === Infinity ? 0.5 : (t - m.t0) / (m.t1 - m.t0);
    const x = pos[m.from][0] + f * (pos[m.to][0] - pos[m.from][0]);
    const y = pos[m.from][1] + f * (pos[m.to][1] - pos[m.from][1]);
    const resp = m.type.endsWith("Resp");
    const color = LETTER[m.type] === "V" || LETTER[m.type] === "P" ? "#e08a00" :
                  LETTER[m.type] === "H" ? "#7fb3d5" : "#1f5fa8";
    const g = el("g", {class: "msg", "data-type": m.type});
    g.appendChild(el("circle", {cx: x, cy: y, r: 8, fill: resp ? "white" : color,
                                stroke: m.reject ? "#c00" : color, "stroke-width": 2}));
    g.appendChild(el("text", {x: x, y: y + 4, "text-anchor": "middle", "font-size": 10,
                              fill: resp ? color : "white"}, LETTER[m.type] || "?"));
    ring.appendChild(g);
    inFlight++;
  }
  for (const id of IDS) {
    const n = s.nodes[id], [x, y] = pos[id];
    const g = el("g", {id: "node-" + id, class: "node", "data-role": n.role,
                       "data-term": n.term, "data-up": n.up, "data-commit": n.commit,
                       "data-log": n.log.length});
    g.appendChild(el("circle", {cx: x, cy: y, r: 34, fill: n.up ? COLORS[n.role] : "#fff",
                                stroke: n.up ? "#333" : "#000", "stroke-width": 2,
                                "stroke-dasharray": n.up ? "" : "5,4"}));
    const fg = n.up ? "white" : "black";
    g.appendChild(el("text", {x: x, y: y - 8, "text-anchor": "middle", "font-weight": "bold",
                              fill: fg}, "S" + id + (n.up ? "" : " crashed")));
    g.appendChild(el("text", {x: x, y: y + 8, "text-anchor": "middle", "font-size": 11,
                              fill: fg}, "term " + n.term));
    g.appendChild(el("text", {x: x, y: y + 22, "text-anchor": "middle", "font-size": 10,
                              fill: fg}, n.paused ? "paused" :
                              (n.diskFaults ? n.diskFaults + " disk faults" : n.role)));
    ring.appendChild(g);
  }
  // Logs: one row per server, the last 22 entries, committed ones filled.
  const top = 430, box = 18;
  IDS.forEach((id, row) => {
    const n = s.nodes[id], y = top + row * (box + 4);
    ring.appendChild(el("text", {x: 4, y: y + 14, "font-size": 11}, "S" + id));
    const first = Math.max(0, n.log.length - 22);
    for (let i = first; i < n.log.length; i++) {
      const x = 30 + (i - first) * (box + 1);
      const committed = i + 1 <= n.commit;
      ring.appendChild(el("rect", {x: x, y: y, width: box, height: box,
                                   fill: committed ? "#cfe8cf" : "white", stroke: "#555",
                                   class: "entry", "data-index": i + 1}));
      ring.appendChild(el("text", {x: x + box / 2, y: y + 14, "text-anchor": "middle",
                                   "font-size": 10}, n.log[i]));
    }
    ring.appendChild(el("text", {x: 30 + 22 * (box + 1) + 4, y: y + 14, "font-size": 10},
                        "last " + n.log.length + " commit " + n.commit));
  });
  const clock = document.getElementById("clock");
  clock.textContent = "t = " + (t / 1e6).toFixed(3) + " ms, " + inFlight + " in flight";
  clock.dataset.tMs = (t / 1e6).toFixed(3);
  clock.dataset.inFlight = inFlight;
  renderEvents(s.last);
}

function describe(e) {
  const [t, node, kind, d] = e;
  const parts = Object.entries(d).map(([k, v]) => k + "=" + v).join(" ");
  return (t / 1e6).toFixed(3).padStart(11) + " S" + node + " " + kind + " " + parts;
}
function renderEvents(last) {
  const box = document.getElementById("events");
  const lo = Math.max(0, last - 30), hi = Math.min(EV.length, last + 10);
  box.textContent = "";
  for (let i = lo; i < hi; i++) {
    if (EV[i][2] === "raft.recv") continue;  // The matching send says enough.
    const div = document.createElement("div");
    div.textContent = describe(EV[i]);
    if (i === last) div.className = "now";
    box.appendChild(div);
  }
}

const slider = document.getElementById("slider");
slider.max = Math.ceil(T_END / 1000);  // Slider unit: microseconds.
let now = 0, timer = null;
function setTime(t) {
  now = Math.max(0, Math.min(T_END, t));
  slider.value = Math.round(now / 1000);
  render(now);
}
slider.addEventListener("input", () => setTime(Number(slider.value) * 1000));
document.getElementById("next").addEventListener("click", () => {
  const i = EV.findIndex(e => e[0] > now);
  if (i >= 0) setTime(EV[i][0]);
});
document.getElementById("prev").addEventListener("click", () => {
  let i = -1;
  for (let k = 0; k < EV.length && EV[k][0] < now; k++) i = k;
  setTime(i >= 0 ? EV[i][0] : 0);
});
document.getElementById("play").addEventListener("click", (ev) => {
  if (timer) { clearInterval(timer); timer = null; ev.target.textContent = "play"; return; }
  ev.target.textContent = "pause";
  timer = setInterval(() => {
    const speed = Number(document.getElementById("speed").value);
    if (now >= T_END) { clearInterval(timer); timer = null; ev.target.textContent = "play"; }
    else setTime(now + 50e6 * speed);  // 50 ms of wall time per frame.
  }, 50);
});
function fromHash() {
  const m = /t=([0-9.]+)/.exec(location.hash);
  setTime(m ? Number(m[1]) * 1e6 : 0);
}
window.addEventListener("hashchange", fromHash);
fromHash();
</script></body></html>
"""


def render_page(events, title):
    data = json.dumps({"events": events, "nodes": node_ids(events)}, separators=(",", ":"))
    # Inside <script>, "</" would end the element early.
    data = data.replace("</", "<\\/")
    return PAGE.replace("__TITLE__", title.replace("<", "&lt;")).replace("__DATA__", data)


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    title = "Keel trace"
    for a in argv[1:]:
        if a.startswith("--title="):
            title = a[len("--title="):]
    if len(args) != 2:
        sys.stderr.write("usage: trace_viz.py TRACE.jsonl OUT.html [--title=TEXT]\n")
        return 2
    # `bazel run` starts us in the runfiles tree; relative paths mean the user's cwd.
    base = os.environ.get("BUILD_WORKING_DIRECTORY", "")
    src, dst = (a if os.path.isabs(a) or not base else os.path.join(base, a) for a in args)
    events = load_events(src)
    events.sort(key=lambda e: e[0])  # Stable: equal times keep file order.
    with open(dst, "w", encoding="utf-8") as f:
        f.write(render_page(events, title + " - " + os.path.basename(src)))
    print(f"wrote {dst}: {len(events)} events, {len(node_ids(events))} nodes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
