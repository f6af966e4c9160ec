#!/usr/bin/env python3
"""/metrics of a loaded 3-member cluster, checked with Prometheus' own promtool.

    metrics_test.py --binary /path/to/keeld --put-load /path/to/put_load
                    [--dashboard node/deploy/grafana-keeld.json]
    (--binary etcd checks the test itself against etcd 3.4)

  1. A 3-member cluster gets load: put_load (concurrent puts), sequential etcdctl puts on
     one member, a read of a future revision (OutOfRange), a snapshot save.
  2. Every member's /metrics (metrics port and client port) goes through
     `promtool check metrics`: no parse error, and no lint finding that etcd 3.4's own
     /metrics does not produce for the same name (etcd's names, types and help strings
     trip a few of promtool's naming rules; copying them exactly is the point). etcd's
     findings come from a live one-member etcd 3.4 scraped by this test.
  3. Histograms: buckets cumulative in `le` order, +Inf bucket == _count, etcd 3.4's
     bounds; etcd_disk_wal_fsync_duration_seconds_count and the backend commit count are at
     least the number of sequential puts on every member (each acknowledged put was fsynced
     by each member that persisted it: all three, the test reads them back from all
     three first); so is keeld's backend commit count (one commit per applied group;
     etcd batches them every 100 ms, so at least one there).
  4. grpc_server_handled_total counts the etcdctl puts with code OK and the future-revision
     read with OutOfRange on the member that served them; started == handled for unary
     calls once idle; the leader's peer round trip histogram names both followers.
  5. The Grafana dashboard: every metric name in every panel expression appears in a
     scrape.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.cluster import ETCD_BINARY, Cluster  # noqa: E402

SEQUENTIAL_PUTS = 15
# etcd 3.4's bucket bounds (client_golang ExponentialBuckets), as printed.
FSYNC_BOUNDS = ["0.001", "0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128",
                "0.256", "0.512", "1.024", "2.048", "4.096", "8.192", "+Inf"]
RTT_BOUNDS = ["0.0001", "0.0002", "0.0004", "0.0008", "0.0016", "0.0032", "0.0064", "0.0128",
              "0.0256", "0.0512", "0.1024", "0.2048", "0.4096", "0.8192", "1.6384", "3.2768",
              "+Inf"]
# etcd 3.4 counters without the _total suffix that etcd only prints after a snapshot was
# sent or received (so the live etcd scrape cannot show their lint finding); their names
# are etcd's rafthttp/metrics.go.
ETCD_FINDINGS_NOT_LIVE = {
    'etcd_network_snapshot_send_success counter metrics should have "_total" suffix',
    'etcd_network_snapshot_send_failures counter metrics should have "_total" suffix',
    'etcd_network_snapshot_receive_success counter metrics should have "_total" suffix',
    'etcd_network_snapshot_receive_failures counter metrics should have "_total" suffix',
}
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def fail(message):
    raise AssertionError(message)


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as resp:
        if resp.status != 200:
            fail("/metrics on %d: HTTP %d" % (port, resp.status))
        return resp.read().decode()


def promtool(text):
    """(exit code, finding lines). promtool: 0 clean, 3 lint findings, 1 parse error."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    lines = [l.strip() for l in (p.stdout + p.stderr).splitlines() if l.strip()]
    return p.returncode, lines


def parse(text):
    """{series name: [(labels dict, value)]} and {family: type}."""
    series, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name = head.split("{", 1)[0]
        labels = dict(LABEL_RE.findall(head[len(name):]))
        series.setdefault(name, []).append((labels, float(value)))
    return series, types


def value(series, name, **want):
    total = 0.0
    for labels, v in series.get(name, []):
        if all(labels.get(k) == w for k, w in want.items()):
            total += v
    return total


def check_histograms(member, series, types):
    for family, kind in types.items():
        if kind != "histogram":
            continue
        groups = {}
        for labels, v in series.get(family + "_bucket", []):
            key = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
            groups.setdefault(key, []).append((labels["le"], v))
        for key, buckets in groups.items():
            bounds = [float(le) for le, _ in buckets]
            counts = [c for _, c in buckets]
            if bounds != sorted(bounds) or buckets[-1][0] != "+Inf":
                fail("%s %s%s: bucket bounds out of order: %r" % (member, family, key, buckets))
            if any(b < a for a, b in zip(counts, counts[1:])):
                fail("%s %s%s: buckets not cumulative: %r" % (member, family, key, buckets))
            count = value(series, family + "_count", **dict(key))
            if counts[-1] != count:
                fail("%s %s%s: +Inf bucket %s != _count %s" % (member, family, key, counts[-1], count))
            if value(series, family + "_sum", **dict(key)) < 0:
                fail("%s %s%s: negative _sum" % (member, family, key))


def bounds_of(series, family, **want):
    return [labels["le"] for labels, _ in series.get(family + "_bucket", [])
            if all(labels.get(k) == w for k, w in want.items())]


def etcd_findings(workdir):
    """promtool's findings on etcd 3.4's own /metrics (one member, a few requests)."""
    with Cluster(ETCD_BINARY, 1, os.path.join(workdir, "etcd-ref"), prefix="ref") as c:
        c.start()
        c.etcdctl(["put", "a", "b"], check=True)
        c.etcdctl(["get", "a"], check=True)
        code, lines = promtool(scrape(c.members[0].metrics_port))
        if code not in (0, 3) or any("error" in l for l in lines):
            fail("promtool could not parse etcd's /metrics (%d): %s" % (code, lines))
        return set(lines)


def dashboard_metric_names(path):
    with open(path) as f:
        dash = json.load(f)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    if not exprs:
        fail("dashboard has no queries")
    names = set()
    functions = {"rate", "increase", "sum", "by", "histogram_quantile", "without", "avg",
                 "max", "min", "irate", "delta", "deriv"}
    for e in exprs:
        stripped = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]', " ", e)
        for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", stripped):
            if word not in functions and "_" in word and word not in ("grpc_method", "grpc_code", "grpc_service", "grpc_type"):
                names.add(word)
    # Label names in by (...) are not metrics; a metric has a known prefix.
    return {n for n in names if n.split("_")[0] in ("etcd", "grpc", "process")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--put-load", required=True)
    ap.add_argument("--dashboard", default="")
    args = ap.parse_args()
    binary = ETCD_BINARY if args.binary == "etcd" else os.path.abspath(args.binary)
    with tempfile.TemporaryDirectory(prefix="metrics-test-") as workdir:
        allowed = etcd_findings(workdir) | ETCD_FINDINGS_NOT_LIVE
        print("etcd 3.4's own promtool findings: %d" % len(allowed - ETCD_FINDINGS_NOT_LIVE))
        with Cluster(binary, 3, os.path.join(workdir, "c")) as c:
            c.start()
            leader = c.leader_index()
            ids = {name: "%x" % mid for name, mid in c.member_ids().items()}
            served = (leader + 1) % 3  # a follower: its own grpc counters, forwarded writes
            ep = c.members[served].endpoint
            load = subprocess.run([args.put_load, c.members[leader].endpoint, "8", "40"],
                                  capture_output=True, text=True, timeout=60)
            print(load.stdout.strip())
            if load.returncode != 0:
                fail("put_load failed: %s" % load.stderr)
            for i in range(SEQUENTIAL_PUTS):
                c.etcdctl(["put", "seq%d" % i, "v"], endpoints=ep, check=True)
            future = c.etcdctl(["get", "x", "--rev=100000"], endpoints=ep)
            if "future revision" not in future.stderr:
                fail("expected a future-revision error, got %r" % future.stderr)
            snap = os.path.join(workdir, "backup.db")
            c.etcdctl(["snapshot", "save", snap], endpoints=c.members[leader].endpoint, check=True)
            for m in c.members:  # a linearizable read: each member applied (so persisted) them
                got = c.etcdctl(["get", "seq", "--prefix", "--keys-only"], endpoints=m.endpoint,
                                check=True)
                if len(got.stdout.split()) != SEQUENTIAL_PUTS:
                    fail("%s reads %r" % (m.name, got.stdout))

            # etcd probes peers every ~4 s; keeld times heartbeats. Wait for both followers.
            deadline = time.monotonic() + 20
            while True:
                series, types = parse(scrape(c.members[leader].metrics_port))
                tos = {l.get("To") for l, _ in
                       series.get("etcd_network_peer_round_trip_time_seconds_count", [])}
                want = {ids[m.name] for i, m in enumerate(c.members) if i != leader}
                if want <= tos:
                    break
                if time.monotonic() > deadline:
                    fail("leader's peer RTT histogram names %s, want %s" % (tos, want))
                time.sleep(0.5)

            scrapes = {}
            for i, m in enumerate(c.members):
                for port_kind, port in (("metrics", m.metrics_port), ("client", m.client_port)):
                    text = scrape(port)
                    code, lines = promtool(text)
                    unexpected = [l for l in lines if l not in allowed]
                    if code not in (0, 3) or unexpected:
                        fail("promtool on %s %s port (exit %d): %s" % (m.name, port_kind, code,
                                                                      unexpected or lines))
                    scrapes[(i, port_kind)] = text
                print("%s: promtool findings all shared with etcd 3.4: %d" % (m.name, len(lines)))

            # A member reports what it did: the counts must include the sequential puts.
            for i, m in enumerate(c.members):
                series, types = parse(scrape(m.metrics_port))
                check_histograms(m.name, series, types)
                for fam in ("etcd_disk_wal_fsync_duration_seconds",
                            "etcd_disk_backend_commit_duration_seconds"):
                    if types.get(fam) != "histogram":
                        fail("%s: %s is %r, not a histogram" % (m.name, fam, types.get(fam)))
                    if bounds_of(series, fam) != FSYNC_BOUNDS:
                        fail("%s: %s bounds %s" % (m.name, fam, bounds_of(series, fam)))
                    n = value(series, fam + "_count")
                    # etcd batches backend commits (every 100 ms); keeld commits each
                    # applied group, and every member fsyncs every put it persists.
                    at_least = 1 if "backend" in fam and args.binary == "etcd" else SEQUENTIAL_PUTS
                    if n < at_least:
                        fail("%s: %s_count %d < %d" % (m.name, fam, n, at_least))
                    print("%s: %s_count %d sum %.3fs" % (m.name, fam, n, value(series, fam + "_sum")))
                for proc_metric in ("process_resident_memory_bytes", "process_open_fds",
                                    "process_max_fds", "process_cpu_seconds_total"):
                    if value(series, proc_metric) <= 0:
                        fail("%s: %s not positive" % (m.name, proc_metric))
                start = value(series, "process_start_time_seconds")
                if not time.time() - 600 < start <= time.time():
                    fail("%s: process_start_time_seconds %s" % (m.name, start))
                if value(series, "etcd_server_has_leader") != 1:
                    fail("%s: etcd_server_has_leader != 1" % m.name)
                if value(series, "etcd_server_is_leader") != (1 if i == leader else 0):
                    fail("%s: etcd_server_is_leader wrong" % m.name)

            series, types = parse(scrape(c.members[leader].metrics_port))
            rtt = "etcd_network_peer_round_trip_time_seconds"
            for to in want:
                if bounds_of(series, rtt, To=to) != RTT_BOUNDS:
                    fail("RTT bounds to %s: %s" % (to, bounds_of(series, rtt, To=to)))
            if value(series, "etcd_disk_backend_snapshot_duration_seconds_count") < 1:
                fail("the leader served a snapshot save: backend snapshot histogram is empty")

            series, types = parse(scrape(c.members[served].metrics_port))
            puts_ok = value(series, "grpc_server_handled_total", grpc_method="Put",
                            grpc_service="etcdserverpb.KV", grpc_code="OK", grpc_type="unary")
            if puts_ok != SEQUENTIAL_PUTS:
                fail("handled Put OK on %s: %s, want %d" % (c.members[served].name, puts_ok,
                                                            SEQUENTIAL_PUTS))
            if value(series, "grpc_server_handled_total", grpc_method="Range",
                     grpc_code="OutOfRange") != 1:
                fail("the future-revision read is not counted as OutOfRange")
            started = value(series, "grpc_server_started_total", grpc_type="unary")
            handled = value(series, "grpc_server_handled_total", grpc_type="unary")
            if started != handled:
                fail("unary started %s != handled %s once idle" % (started, handled))
            print("%s: unary RPCs started=handled=%d" % (c.members[served].name, started))

            if args.dashboard:
                names = dashboard_metric_names(args.dashboard)
                exported = set()
                for text in scrapes.values():
                    s, t = parse(text)
                    exported |= set(s) | set(t)
                missing = sorted(n for n in names if n not in exported)
                if missing:
                    fail("dashboard queries series no member exports: %s" % missing)
                print("dashboard: all %d metric names exported" % len(names))
    print("PASS")


if __name__ == "__main__":
    main()
