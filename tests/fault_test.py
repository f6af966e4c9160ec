#!/usr/bin/env python3
"""Durability of acknowledged writes across kill -9 of the leader and of every member.

    fault_test.py --binary /path/to/keeld [--writes-before 40 --writes-after 40]
    (--binary etcd checks the test itself against etcd 3.4)

1. Start 3 members; a writer thread puts distinct keys k<i> = v<i> one at a time through etcdctl
   with every endpoint listed (so it fails over), recording each put etcdctl acknowledged.
2. After --writes-before acknowledgements, kill -9 the leader (mid-put); the writer goes on
   until
   --writes-after more are acknowledged (a bounded number of attempts).
3. kill -9 every member, restart all of them from their data directories.
4. Every acknowledged key must be present with its value (a linearizable read), and all
   members must report the same HashKV at the same revision.
Writes whose outcome is unknown (timeouts, "leader changed") may or may not be present.
"""

import argparse
import base64
import json
import os
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.cluster import ETCD_BINARY, Cluster  # noqa: E402


def write_until(cluster, acked, next_index, target_acks, max_attempts):
    attempts = 0
    while len(acked) < target_acks:
        attempts += 1
        if attempts > max_attempts:
            raise RuntimeError("only %d of %d writes acknowledged after %d attempts" % (
                len(acked), target_acks, max_attempts))
        key, value = "k%05d" % next_index, "v%05d" % next_index
        next_index += 1
        proc = cluster.etcdctl(["--command-timeout=5s", "put", key, value],
                               endpoints=cluster.endpoints(), timeout_s=30)
        if proc.returncode == 0 and proc.stdout.strip() == "OK":
            acked[key] = value
    return next_index


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="etcd")
    parser.add_argument("--writes-before", type=int, default=40)
    parser.add_argument("--writes-after", type=int, default=40)
    args = parser.parse_args()
    binary = ETCD_BINARY if args.binary == "etcd" else os.path.abspath(args.binary)
    workdir = tempfile.mkdtemp(prefix="fault-", dir=os.environ.get("TEST_TMPDIR"))
    acked = {}
    with Cluster(binary, 3, workdir) as cluster:
        cluster.start()
        leader = cluster.leader_index()
        total = args.writes_before + args.writes_after
        # The writer runs on its own thread so the kill lands while a put is in flight.
        result = {}

        def writer():
            try:
                result["next_index"] = write_until(cluster, acked, 0, total, 10 * total)
            except Exception as e:  # reported below, after the writer is joined
                result["error"] = e

        thread = threading.Thread(target=writer)
        thread.start()
        while len(acked) < args.writes_before and thread.is_alive():
            time.sleep(0.01)
        print("killing leader %s after %d acknowledged writes" % (
            cluster.members[leader].name, len(acked)), flush=True)
        cluster.kill(leader, signal.SIGKILL)
        thread.join()
        if "error" in result:
            print("FAIL: %s" % result["error"])
            return 1
        next_index = result["next_index"]
        print("killing every member after %d acknowledged writes (%d attempted)" % (
            len(acked), next_index), flush=True)
        for i in range(len(cluster.members)):
            cluster.kill(i, signal.SIGKILL)
        for i in range(len(cluster.members)):
            cluster.start_member(i)
        cluster.wait_healthy(60)

        proc = cluster.etcdctl(["get", "k", "--prefix", "-w", "json"], check=True)

        found = {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]).decode()
                 for kv in json.loads(proc.stdout).get("kvs", [])}
        missing = sorted(k for k in acked if found.get(k) != acked[k])
        unexpected = sorted(k for k in found if int(k[1:]) >= next_index)  # never written
        if missing or unexpected:
            print("FAIL: %d acknowledged writes lost or wrong: %s; never-attempted keys: %s" % (
                len(missing), missing[:20], unexpected[:20]))
            return 1
        # Replicas converge: the same hash at the same revision on every member.
        deadline = time.monotonic() + 30
        while True:
            hashes = json.loads(cluster.etcdctl(
                ["endpoint", "hashkv", "-w", "json"], endpoints=cluster.endpoints(),
                check=True).stdout)
            revisions = {h["HashKV"]["header"]["revision"] for h in hashes}
            values = {h["HashKV"]["hash"] for h in hashes}
            if len(revisions) == 1 and len(values) == 1:
                break
            if time.monotonic() > deadline:
                print("FAIL: replicas disagree: %s" % hashes)
                return 1
            time.sleep(0.2)
    print("PASS: %d acknowledged writes all present after kill -9 of the leader and of all "
          "members (%d of %d unacknowledged attempts present)" % (
              len(acked), len(found) - len(acked), next_index - len(acked)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
