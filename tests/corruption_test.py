#!/usr/bin/env python3
"""A corrupted member's backend is detected and named (issue 14), with real keeld processes.

    corruption_test.py --binary /path/to/keeld --rewrite /path/to/backend_rewrite

1. Checksummed damage: 3 members, ~500 KB of keys; m2 is stopped, restarted (LevelDB
   turns its log into a table file) and stopped again; one byte in the middle of its
   largest .ldb file is flipped. m2 must refuse to start (exit 1) with an error naming that
   file and a byte range holding the flipped byte; m0 and m1 keep serving reads and writes.
2. Silent damage (valid checksums): a second cluster, every member with
   --experimental-initial-corrupt-check and --experimental-corrupt-check-time=1s. m1
   restarts cleanly (the initial check passes). m2 is stopped and the value of one key is
   rewritten through LevelDB's API (`backend_rewrite`): at restart the initial check must
   refuse it with etcd's "<m2's id> found data inconsistency with peers".
3. The same m2 started without the initial check: the leader's periodic check must find
   the mismatch, log m2's ID, and raise the CORRUPT alarm with member 0 as etcd 3.4.23
   does (`etcdctl alarm list` prints "alarm:CORRUPT": protobuf text omits the zero ID), after which writes fail with
   "etcdserver: corrupt cluster" and reads still work; `alarm disarm` lifts it.

keeld only: etcd 3.4's bbolt file has no checksums (part 1 cannot happen the same way) and
no tool here rewrites a bbolt value (parts 2-3 follow etcd's corrupt.go rules, checked in
server/corruption_check_test.cc). Every wait is bounded; nothing asserts timing.
"""

import argparse
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.checks import fail, wait_until  # noqa: E402
from harness.cluster import Cluster  # noqa: E402


def load(c, count, value_bytes):
    """`count` keys k000.. with random hex values (incompressible for LevelDB's snappy),
    100 puts per txn."""
    for start in range(0, count, 100):
        ops = "".join('put k%03d "%s"\n' % (i, secrets.token_hex(value_bytes // 2))
                      for i in range(start, min(count, start + 100)))
        p = c.etcdctl(["txn"], input="\n" + ops + "\n\n")
        if p.returncode != 0 or "SUCCESS" not in p.stdout:
            fail("txn failed: %s %s" % (p.stdout[-200:], p.stderr))


def wait_exit(c, index, timeout_s=60):
    """Waits for member `index` to exit on its own; returns (code, log)."""
    m = c.members[index]
    try:
        code = m.proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        fail("%s did not exit within %ss:\n%s" % (m.name, timeout_s, c.log_tail(index)))
    m.proc = None
    with open(m.log_path, "rb") as f:
        return code, f.read().decode("utf-8", "replace")


def log_of(c, index):
    with open(c.members[index].log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def serves(c, indexes, key, value):
    eps = c.endpoints(indexes)
    # The survivors must take writes. Not always within etcdctl's 5-s timeout right after
    # the third member's failed start (2 of 4 runs at 2026-12-08 timed out once: under
    # investigation, see tests/README.md), so a bounded retry, and the wait is printed.
    start = time.monotonic()

    def put():
        p = c.etcdctl(["put", key, value], endpoints=eps)
        return p.returncode == 0, p.stderr.strip()[-300:]
    wait_until("a put on %s" % eps, put, timeout_s=60)
    print("  %s: writable after %.1f s" % (key, time.monotonic() - start))
    for i in indexes:
        got = c.etcdctl(["get", key, "--print-value-only", "--consistency=s"],
                        endpoints=c.members[i].endpoint, check=True).stdout.strip()
        if got != value:
            fail("%s reads %r for %s, expected %r" % (c.members[i].name, got, key, value))


def flipped_byte(workdir, binary):
    with Cluster(binary, 3, os.path.join(workdir, "flip")) as c:
        c.start()
        load(c, 500, 1000)
        c.kill(2, signal.SIGTERM)
        c.start_member(2)  # LevelDB writes its log into a table file at open
        c.wait_healthy(indexes=[2])
        c.kill(2, signal.SIGTERM)
        db = os.path.join(c.members[2].data_dir, "member", "db")
        tables = sorted((os.path.getsize(os.path.join(db, n)), n)
                        for n in os.listdir(db) if n.endswith(".ldb"))
        if not tables or tables[-1][0] < 200000:
            fail("expected m2's data in a table file, found %s" % tables)
        size, name = tables[-1]
        path = os.path.join(db, name)
        offset = size // 2
        with open(path, "r+b") as f:
            f.seek(offset)
            b = f.read(1)
            f.seek(offset)
            f.write(bytes([b[0] ^ 0x20]))
        c.members[2].log_path += ".after-flip"
        c.start_member(2)
        code, log = wait_exit(c, 2)
        if code != 1:
            fail("m2 exited with %s after the flip, expected 1:\n%s" % (code, log[-2000:]))
        m = re.search(re.escape(path) + r": Corruption: block checksum mismatch in a data "
                      r"block between offsets (\d+) and (\d+)", log)
        if not m:
            fail("m2's error does not name %s with an offset range:\n%s" % (path, log[-2000:]))
        lo, hi = int(m.group(1)), int(m.group(2))
        if not lo <= offset < hi:
            fail("flipped byte %d not in the reported range [%d, %d)" % (offset, lo, hi))
        print("part 1: m2 refused: ...%s" % log.strip().splitlines()[-1][-200:])
        serves(c, [0, 1], "after-flip", "still-serving")
        c.members[2].proc = None


def silent_rewrite(workdir, binary, rewrite):
    checks = ["--experimental-initial-corrupt-check", "--experimental-corrupt-check-time=1s"]
    with Cluster(binary, 3, os.path.join(workdir, "silent"), extra_flags=checks) as c:
        c.start()
        load(c, 200, 100)
        ids = c.member_ids()
        m2_hex = "%x" % ids["m2"]
        # A clean restart passes the initial check.
        c.kill(1, signal.SIGTERM)
        c.start_member(1)
        c.wait_healthy(indexes=[1])
        if "initial corruption checking passed; no corruption" not in log_of(c, 1):
            fail("m1's clean restart did not pass the initial check:\n%s" % c.log_tail(1))
        c.kill(2, signal.SIGTERM)
        p = subprocess.run([rewrite, c.members[2].data_dir, "k007", "tampered"],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            fail("backend_rewrite failed: %s" % p.stderr)
        c.start_member(2)
        code, log = wait_exit(c, 2)
        want = "%s found data inconsistency with peers" % m2_hex
        if code != 1 or want not in log:
            fail("m2 (tampered) exit %s, expected 1 and %r:\n%s" % (code, want, log[-2000:]))
        print("part 2: m2 refused by the initial check: %s" % want)
        serves(c, [0, 1], "after-rewrite", "ok")

        # Part 3: m2 back without the initial check; the leader's periodic check finds it.
        c.extra_flags = ["--experimental-corrupt-check-time=1s"]
        c.start_member(2)

        def alarmed():
            p = c.etcdctl(["alarm", "list"], endpoints=c.endpoints([0, 1]))
            # etcdctl prints the AlarmMember's protobuf text: member 0 is omitted.
            return p.stdout.strip() == "alarm:CORRUPT", p.stdout.strip()
        wait_until("CORRUPT alarm raised", alarmed)
        leader_logs = log_of(c, 0) + log_of(c, 1)
        if not re.search(r"corruption check: member %s: .*hash" % m2_hex, leader_logs):
            fail("no corruption-check warning naming m2 (%s) in m0/m1 logs" % m2_hex)
        for i in range(3):
            p = c.etcdctl(["put", "while-corrupt", "x"], endpoints=c.members[i].endpoint)
            if p.returncode == 0 or "etcdserver: corrupt cluster" not in p.stderr:
                fail("put via %s under CORRUPT: rc=%d %s" % (c.members[i].name, p.returncode, p.stderr))
        got = c.etcdctl(["get", "after-rewrite", "--print-value-only"], check=True).stdout.strip()
        if got != "ok":
            fail("read under CORRUPT returned %r" % got)
        print("part 3: CORRUPT raised by the periodic check; writes refused, reads served")
        # Disarmed, writes work again until the next check raises it again (m2 is still
        # corrupt): stop m2 first so the next check cannot.
        c.kill(2, signal.SIGTERM)
        c.etcdctl(["alarm", "disarm"], endpoints=c.endpoints([0, 1]), check=True)
        serves(c, [0, 1], "after-disarm", "ok")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rewrite", required=True)
    args = ap.parse_args()
    workdir = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp(prefix="corruption-")
    flipped_byte(workdir, args.binary)
    silent_rewrite(workdir, args.binary, args.rewrite)
    print("PASS")


if __name__ == "__main__":
    main()
