#!/usr/bin/env python3
"""Differential test: one etcdctl script against two clusters, normalized, compared.

    differential_test.py --a etcd --b /path/to/keeld [--script FILE] [--size 3]

`etcd` means Debian's etcd 3.4; anything else is a path to a binary taking etcd's flags.
Clusters run one after the other (the machine is small). On a difference, prints a unified
diff of the normalized transcripts (a = first, b = second) and both raw transcripts' paths.
Run with --a etcd --b etcd to validate the normalizer itself: it must report no difference.
"""

import argparse
import difflib
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.cluster import ETCD_BINARY, Cluster  # noqa: E402
from harness.normalize import Context, normalize  # noqa: E402
from harness.script import ScriptRunner  # noqa: E402

DEFAULT_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "differential",
                              "etcdctl_script.txt")


def run_side(label, binary, script, size, workdir):
    side_dir = os.path.join(workdir, label)
    scratch = os.path.join(side_dir, "scratch")
    os.makedirs(scratch, exist_ok=True)
    with Cluster(binary, size, side_dir) as cluster:
        cluster.start()
        cluster.leader_index()
        runner = ScriptRunner(cluster, scratch)
        transcript = runner.run(script)
        ids = cluster.member_ids()
        cluster_id = cluster.status(0)["header"]["cluster_id"]
        ctx = Context(cluster, ids, cluster_id, runner.captured_leases)
    raw_path = os.path.join(side_dir, "transcript.raw.txt")
    with open(raw_path, "w") as f:
        f.write("\n".join(transcript) + "\n")
    normalized = normalize(transcript, ctx)
    with open(os.path.join(side_dir, "transcript.normalized.txt"), "w") as f:
        f.write("\n".join(normalized) + "\n")
    return normalized, raw_path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--a", default="etcd")
    parser.add_argument("--b", default="etcd")
    parser.add_argument("--script", default=DEFAULT_SCRIPT)
    parser.add_argument("--size", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    binaries = {"a": ETCD_BINARY if args.a == "etcd" else os.path.abspath(args.a),
                "b": ETCD_BINARY if args.b == "etcd" else os.path.abspath(args.b)}
    with open(args.script) as f:
        script = f.read()
    workdir = args.workdir or tempfile.mkdtemp(
        prefix="differential-", dir=os.environ.get("TEST_TMPDIR"))
    results = {}
    for label in ("a", "b"):
        print("running %s (%s) in %s" % (label, binaries[label], workdir), flush=True)
        results[label] = run_side(label, binaries[label], script, args.size, workdir)
    a, a_raw = results["a"]
    b, b_raw = results["b"]
    diff = list(difflib.unified_diff(a, b, "a: " + binaries["a"], "b: " + binaries["b"],
                                     lineterm="", n=4))
    if diff:
        print("\n".join(diff))
        print("\nDIFFERENT (%d transcript lines vs %d). Raw transcripts: %s %s" % (
            len(a), len(b), a_raw, b_raw))
        return 1
    print("SAME: %d normalized transcript lines" % len(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
