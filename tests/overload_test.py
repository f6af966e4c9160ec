#!/usr/bin/env python3
"""Overload: far more concurrent Puts than a member can answer, for a bounded time.

    overload_test.py --binary /path/to/keeld --overload-load /path/to/overload_load
                     [--outstanding 12000] [--seconds 8]

A 3-member keeld cluster; overload_load keeps `outstanding` Puts in flight against the
leader (many times the sustainable load: put_load's 8 sequential clients reach ~800/s
here) for `seconds`. Then:
  * keeld answered the excess with etcd's ResourceExhausted "etcdserver: too many
    requests" (node/grpc/admission.h) and kept serving: acknowledged puts > 0, refusals > 0;
  * nothing acknowledged is lost: every acknowledged key reads back (linearizable);
  * the leader's RSS stayed under --rss-bound-mib, sampled every 0.2 s during the load;
  * every member is still up, and a normal put afterwards succeeds within 10 s;
  * grpc_server_handled_total{grpc_code="ResourceExhausted"} on the leader counts the
    refusals.
Prints throughput and the refusal fraction. keeld only: etcd 3.4 has no bound on calls
in flight (it refuses only when applying lags 5000 entries behind commit).
A 60-second manual run: --seconds 60 (see tests/README.md).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.cluster import Cluster  # noqa: E402


def fail(message):
    raise AssertionError(message)


def rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return 0.0
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--overload-load", required=True)
    ap.add_argument("--outstanding", type=int, default=12000)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--rss-bound-mib", type=float, default=1024)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="overload-test-") as workdir:
        with Cluster(os.path.abspath(args.binary), 3, os.path.join(workdir, "c")) as c:
            c.start()
            leader = c.leader_index()
            pid = c.members[leader].proc.pid
            peak = [rss_mib(pid)]
            done = threading.Event()

            def sample():
                while not done.is_set():
                    peak[0] = max(peak[0], rss_mib(pid))
                    time.sleep(0.2)

            sampler = threading.Thread(target=sample)
            sampler.start()
            acked_path = os.path.join(workdir, "acked.txt")
            try:
                load = subprocess.run(
                    [args.overload_load, c.members[leader].endpoint, str(args.outstanding),
                     str(args.seconds), acked_path],
                    capture_output=True, text=True, timeout=args.seconds + 120)
            finally:
                done.set()
                sampler.join()
            print(load.stdout.strip())
            if load.returncode != 0:
                fail("overload_load failed: %s" % load.stderr)
            fields = dict(re.findall(r"(\w+)=(\S+)", load.stdout))
            ok, too_many = int(fields["ok"]), int(fields["too_many"])
            print("leader peak RSS %.0f MiB (bound %.0f)" % (peak[0], args.rss_bound_mib))
            if ok == 0:
                fail("nothing acknowledged under overload")
            if too_many == 0:
                fail("no request refused with 'etcdserver: too many requests'")
            if peak[0] > args.rss_bound_mib:
                fail("leader RSS %.0f MiB > %.0f MiB" % (peak[0], args.rss_bound_mib))
            for i, m in enumerate(c.members):
                if not m.running():
                    fail("%s exited under overload:\n%s" % (m.name, c.log_tail(i)))

            # Recovery: a normal put answers promptly once the load stops.
            deadline = time.monotonic() + 10
            while True:
                p = c.etcdctl(["put", "after-overload", "v"], timeout_s=10)
                if p.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    fail("no put succeeded within 10 s after the load: %s" % p.stderr)
                time.sleep(0.2)

            with open(acked_path) as f:
                acked = {line.strip() for line in f if line.strip()}
            p = c.etcdctl(["get", "overload/", "--prefix", "--keys-only"], timeout_s=60,
                          check=True)
            stored = {line for line in p.stdout.split() if line}
            lost = acked - stored
            if lost:
                fail("%d acknowledged keys lost, e.g. %s" % (len(lost), sorted(lost)[:5]))
            print("all %d acknowledged keys read back (%d stored)" % (len(acked), len(stored)))

            with urllib.request.urlopen(
                    "http://127.0.0.1:%d/metrics" % c.members[leader].metrics_port,
                    timeout=10) as resp:
                text = resp.read().decode()
            counted = sum(float(v) for v in re.findall(
                r'^grpc_server_handled_total\{grpc_code="ResourceExhausted",grpc_method="Put"'
                r'[^}]*\} (\S+)$', text, re.M))
            if counted < too_many:
                fail("metrics count %d refused Puts, the client saw %d" % (counted, too_many))
    print("PASS")


if __name__ == "__main__":
    main()
