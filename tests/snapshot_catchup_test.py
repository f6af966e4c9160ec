#!/usr/bin/env python3
"""A follower that missed more than the leader keeps in its log catches up through a
streamed InstallSnapshot, on real keeld processes:

  3 members with --snapshot-count small; kill -9 one follower; write `--mb` MiB of 1 MiB
  values (etcdctl, value on stdin) and more small puts than the 5000 entries a leader keeps
  for slow followers (put_load); restart the follower; it must reach the leader's revision
  and HashKV (etcdctl endpoint hashkv), and its data dir must hold no transfer file.

Prints the restart-to-caught-up time, the resulting MB/s over the image, and the
follower's peak RSS (VmHWM) for measurements (`--mb=64`).

    snapshot_catchup_test.py --binary /path/to/keeld --put-load /path/to/put_load [--mb 4]
"""

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.cluster import Cluster  # noqa: E402


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def metric(member, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % member.metrics_port,
                                timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
    return None


def hashkv(cluster, index):
    p = cluster.etcdctl(["endpoint", "hashkv", "-w", "json"],
                        endpoints=cluster.members[index].endpoint, timeout_s=20)
    if p.returncode != 0:
        return None
    h = json.loads(p.stdout)[0]["HashKV"]
    return h["header"]["revision"], h["hash"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--put-load", required=True)
    parser.add_argument("--mb", type=int, default=4)
    parser.add_argument("--small-puts", type=int, default=6400)
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    workdir = tempfile.mkdtemp(prefix="snapcatchup-", dir=os.environ.get("TEST_TMPDIR"))
    with Cluster(binary, 3, workdir, heartbeat_ms=100, election_ms=1000,
                 extra_flags=["--snapshot-count=1000"]) as c:
        c.start()
        leader = c.leader_index()
        follower = (leader + 1) % 3
        c.kill(follower, signal.SIGKILL)
        live = [i for i in range(3) if i != follower]
        for i in range(args.mb):
            # Incompressible (LevelDB compresses), 1 MiB of base64 per value.
            value = base64.b64encode(os.urandom(3 << 18)).decode()
            c.etcdctl(["put", "big/%04d" % i], endpoints=c.endpoints(live), input=value,
                      check=True, timeout_s=60)
        threads = 16
        subprocess.run([os.path.abspath(args.put_load), c.members[leader].endpoint,
                        str(threads), str(args.small_puts // threads)],
                       check=True, capture_output=True, timeout=600)
        target = hashkv(c, leader)
        if target is None:
            print("FAIL: no hashkv from the leader")
            return 1
        start = time.monotonic()
        c.start_member(follower)
        pid = c.members[follower].proc.pid
        peak = 0
        deadline = start + 300
        got = None
        while time.monotonic() < deadline:
            try:
                peak = max(peak, vm_hwm_kb(pid))
            except OSError:
                pass
            got = hashkv(c, follower)
            if got is not None and got[0] >= target[0]:
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        peak = max(peak, vm_hwm_kb(pid))  # a high-water mark: covers the install too
        if got is None or got[0] < target[0]:
            print("FAIL: follower at %s, leader at %s after %.1fs\n%s" % (
                got, target, elapsed, c.log_tail(follower)))
            return 1
        now = hashkv(c, leader)
        got = hashkv(c, follower)
        if got != now:
            print("FAIL: follower %s differs from leader %s" % (got, now))
            return 1
        snap_dir = os.path.join(c.members[follower].data_dir, "member", "snap")
        leftovers = [n for n in os.listdir(snap_dir) if ".kimg" in n]
        if leftovers:
            print("FAIL: transfer files left in %s: %s" % (snap_dir, leftovers))
            return 1
        # It caught up through a streamed snapshot, not by replaying the log.
        received = metric(c.members[follower], "etcd_network_snapshot_receive_success")
        # Sent by whoever led when the follower came back: with pre-vote off (etcd 3.4's
        # default) the restarted member's campaign may have moved the leadership.
        sent = sum(metric(c.members[i], "etcd_network_snapshot_send_success") or 0 for i in live)
        if not received or not sent:
            print("FAIL: no snapshot transfer seen (received %s, sent %s)" % (received, sent))
            return 1
        db_bytes = c.status(leader)["dbSize"]
        print("PASS: follower caught up to revision %d (hash %d) in %.2fs after restart; "
              "leader db %.1f MB -> %.1f MB/s; follower peak RSS %.1f MB" % (
                  got[0], got[1], elapsed, db_bytes / 1e6, db_bytes / 1e6 / elapsed,
                  peak / 1024.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
