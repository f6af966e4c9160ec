#!/usr/bin/env python3
"""Runs lock_election_client against a fresh 3-member cluster (keeld, or etcd to check the
client itself): etcd's Lock and Election gRPC services, which etcdctl never calls.

    lock_election_test.py --binary etcd|/path/to/keeld --client /path/to/lock_election_client
"""

import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.cluster import ETCD_BINARY, Cluster  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="etcd")
    parser.add_argument("--client", required=True)
    args = parser.parse_args()
    binary = ETCD_BINARY if args.binary == "etcd" else os.path.abspath(args.binary)
    workdir = tempfile.mkdtemp(prefix="lock-election-", dir=os.environ.get("TEST_TMPDIR"))
    with Cluster(binary, 3, workdir) as cluster:
        cluster.start()
        # A follower's endpoint: the services must work wherever the client connects.
        follower = (cluster.leader_index() + 1) % len(cluster.members)
        proc = subprocess.run([os.path.abspath(args.client), cluster.members[follower].endpoint],
                              capture_output=True, text=True, timeout=120)
        print(proc.stdout + proc.stderr)
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
