#!/usr/bin/env python3
"""Auto-compaction keeps the database bounded over a long write loop (issue 14, "Done when").

    compaction_loop_test.py --binary /path/to/keeld --put-load /path/to/put_load \
        [--minutes 10] [--retention 1m]

One member with --auto-compaction-mode=periodic --auto-compaction-retention=<retention>.
`put_load` rewrites the same 2,000 keys (64-byte values) over and over for `--minutes`;
every 20 s the test records the revision, the compacted revision (`etcdctl compaction`
errors name it) and dbSize (`endpoint status`). Asserted:
  - the writes went on (revision grows every sample);
  - compaction happened: HashKV's compact revision moves forward during the run;
  - bounded: once two retention periods have passed, dbSize never exceeds twice the
    largest dbSize seen during the first two retention periods after the first
    compaction (a store that never compacted grows linearly with the revisions).
Prints the samples (the figure recorded in tests/README.md). Tagged manual: 10 minutes.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.checks import fail  # noqa: E402
from harness.cluster import Cluster  # noqa: E402


def parse_duration_s(text):
    units = {"s": 1, "m": 60, "h": 3600}
    return float(text[:-1]) * units[text[-1]]


def sample(c):
    st = c.status(0)
    if st is None:
        return None
    p = c.etcdctl(["endpoint", "hashkv", "-w", "json"], timeout_s=20)
    crev = None
    if p.returncode == 0:
        crev = json.loads(p.stdout)[0]["HashKV"].get("compact_revision", 0)
    return {"t": time.monotonic(), "rev": st["header"]["revision"], "db": st["dbSize"],
            "crev": crev}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--put-load", required=True)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--retention", default="1m")
    args = ap.parse_args()
    retention_s = parse_duration_s(args.retention)
    workdir = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp(prefix="compaction-loop-")
    flags = ["--auto-compaction-mode=periodic", "--auto-compaction-retention=" + args.retention]
    with Cluster(args.binary, 1, workdir, extra_flags=flags) as c:
        c.start()
        endpoint = "127.0.0.1:%d" % c.members[0].client_port
        start = time.monotonic()
        end = start + args.minutes * 60
        samples = []
        next_sample = start
        loader = None
        while time.monotonic() < end:
            if loader is None or loader.poll() is not None:
                loader = subprocess.Popen([args.put_load, endpoint, "4", "500"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if time.monotonic() >= next_sample:
                s = sample(c)
                if s is not None:
                    samples.append(s)
                    print("t=%4.0fs revision=%d compact_revision=%s dbSize=%d" % (
                        s["t"] - start, s["rev"], s["crev"], s["db"]), flush=True)
                next_sample += 20
            time.sleep(0.5)
        if loader is not None:
            loader.wait(timeout=120)
    if len(samples) < 4:
        fail("too few samples: %s" % samples)
    for a, b in zip(samples, samples[1:]):
        if b["rev"] <= a["rev"]:
            fail("writes stalled between t=%.0f and t=%.0f" % (a["t"] - start, b["t"] - start))
    compacted = [s for s in samples if s["crev"]]
    if not compacted or compacted[-1]["crev"] <= compacted[0]["crev"]:
        fail("no auto-compaction progress: %s" % [s["crev"] for s in samples])
    first = compacted[0]["t"]
    early = [s["db"] for s in samples if first <= s["t"] <= first + 2 * retention_s]
    late = [s for s in samples if s["t"] > first + 2 * retention_s]
    if early and late:
        bound = 2 * max(early)
        worst = max(late, key=lambda s: s["db"])
        if worst["db"] > bound:
            fail("dbSize %d at t=%.0fs exceeds the bound %d" % (worst["db"], worst["t"] - start, bound))
        print("bounded: max dbSize after warm-up %d <= %d; revisions written %d" % (
            worst["db"], bound, samples[-1]["rev"]))
    elif args.minutes >= 5:
        fail("not enough samples after warm-up to judge the bound")
    print("PASS")


if __name__ == "__main__":
    main()
