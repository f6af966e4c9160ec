#!/usr/bin/env python3
"""/health and /metrics over HTTP/1.1 on the CLIENT port, beside gRPC (etcd's cmux).

    client_port_http_test.py --binary /path/to/keeld   (--binary etcd checks the test itself)

On a 3-member cluster, for every member's client port:
  * GET /health answers 200 with exactly {"health":"true"} (etcd 3.4's body);
  * GET /metrics answers 200, Prometheus text, with etcd metric names keeld exports, and
    etcd_server_has_leader 1; two requests on one keep-alive connection both answer;
  * an unknown path answers 404;
  * etcdctl put/get/endpoint health work on the same port, before and after.
--listen-metrics-urls keeps answering /health too (the harness waits on it).
"""

import argparse
import http.client
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.cluster import ETCD_BINARY, Cluster, ClusterError  # noqa: E402

# Exported by keeld (node/metrics.cc) and by etcd 3.4 under the same names.
METRIC_NAMES = [
    "etcd_server_has_leader",
    "etcd_server_is_leader",
    "etcd_server_leader_changes_seen_total",
    "etcd_server_proposals_committed_total",
    "etcd_server_proposals_applied_total",
    "etcd_server_proposals_pending",
    "etcd_server_proposals_failed_total",
    "etcd_debugging_mvcc_current_revision",
    "etcd_mvcc_db_total_size_in_bytes",
    "etcd_disk_wal_fsync_duration_seconds_count",
]


def fail(message):
    raise AssertionError(message)


def get(conn, path):
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.status, resp.getheader("Content-Type", ""), resp.read().decode()


def check_member(cluster, index):
    m = cluster.members[index]
    conn = http.client.HTTPConnection("127.0.0.1", m.client_port, timeout=10)
    try:
        status, _, body = get(conn, "/health")
        if status != 200 or json.loads(body) != {"health": "true"}:
            fail("%s client port /health: %d %r" % (m.name, status, body))
        # Same connection (keep-alive): the second request is served too.
        for attempt in range(2):
            status, ctype, text = get(conn, "/metrics")
            if status != 200 or not ctype.startswith("text/plain"):
                fail("%s /metrics #%d: %d %s" % (m.name, attempt, status, ctype))
            names = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
                     if line and not line.startswith("#")}
            missing = [n for n in METRIC_NAMES if n not in names]
            if missing:
                fail("%s /metrics lacks %s" % (m.name, missing))
            if "etcd_server_has_leader 1" not in text.splitlines():
                fail("%s /metrics: etcd_server_has_leader is not 1" % m.name)
        status, _, _ = get(conn, "/no-such-endpoint")
        if status != 404:
            fail("%s: unknown path answered %d, want 404" % (m.name, status))
    finally:
        conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="etcd")
    args = parser.parse_args()
    binary = ETCD_BINARY if args.binary == "etcd" else os.path.abspath(args.binary)
    workdir = tempfile.mkdtemp(prefix="clienthttp-", dir=os.environ.get("TEST_TMPDIR"))
    with Cluster(binary, 3, workdir) as cluster:
        cluster.start()
        cluster.leader_index()
        for i, m in enumerate(cluster.members):
            cluster.etcdctl(["put", "k%d" % i, "v%d" % i], endpoints=m.endpoint, check=True)
            check_member(cluster, i)
            got = cluster.etcdctl(["get", "k%d" % i, "--print-value-only"],
                                  endpoints=m.endpoint, check=True).stdout.strip()
            if got != "v%d" % i:
                fail("etcdctl get on %s after HTTP: %r" % (m.name, got))
            cluster.etcdctl(["endpoint", "health"], endpoints=m.endpoint, check=True)
            if not cluster.member_healthy(m):
                fail("%s: /health on --listen-metrics-urls stopped answering" % m.name)
    print("client port HTTP test passed")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, ClusterError) as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
