#!/usr/bin/env python3
"""etcd's Lock and Election under auth, against etcd 3.4 and keeld.

One etcd 3.4 member and one keeld member, transcripts compared line by line:
  root, user u with readwrite on the prefix /l/ only; `etcdctl --user u:pw lock /l` holds
  the lock (runs a command under it) and `lock /x` is refused with etcd's error; then
  lock_election_auth_client drives the Lock and Election gRPC services (which etcdctl never
  calls) as u, on /l (allowed) and /x (denied), with and without the token.

    auth_lock_test.py --binary /path/to/keeld --client /path/to/lock_election_auth_client
"""

import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.auth import ROOT, U, compare_lines, error_lines, setup_user  # noqa: E402
from harness.cluster import ETCD_BINARY, Cluster  # noqa: E402

def lock_session(binary, client, workdir):
    out = []
    with Cluster(binary, 1, workdir, extra_flags=["--bcrypt-cost=4"]) as c:
        c.start()
        setup_user(c, "/l/")
        for name in ("/l", "/x"):
            p = c.etcdctl(U + ["lock", name, "echo", "held"])
            out.append("etcdctl lock %s: rc=%d out=%r err=%r" % (
                name, p.returncode, p.stdout.strip(), error_lines(p.stderr)))
        p = subprocess.run([client, c.members[0].endpoint, "u", "pw", "/l", "/x"],
                           capture_output=True, text=True, timeout=120)
        out.extend(p.stdout.strip().splitlines())
        out.append("client rc=%d" % p.returncode)
        if p.stderr.strip():
            print("client stderr: " + p.stderr.strip())
        # Nothing left under /l/ once everything was unlocked and resigned.
        p = c.etcdctl(ROOT + ["get", "/l/", "--prefix", "--keys-only"])
        out.append("left under /l/: %r" % p.stdout.split())
    return out


def lock_mode(args):
    root = tempfile.mkdtemp(prefix="authlock-", dir=os.environ.get("TEST_TMPDIR"))
    client = os.path.abspath(args.client)
    want = lock_session(args.etcd, client, os.path.join(root, "etcd"))
    got = lock_session(os.path.abspath(args.binary), client, os.path.join(root, "keeld"))
    failures = compare_lines(want, got)
    text = "\n".join(want)
    # The reference must show both outcomes, or the comparison proves nothing.
    if "lock /l: ok" not in text or "permission denied" not in text:
        print("FAIL etcd did not both grant and refuse: the test is wrong")
        failures += 1
    print("%d passed, %d failed" % (len(want) - failures, failures))
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--etcd", default=ETCD_BINARY)
    parser.add_argument("--client")
    args = parser.parse_args()
    return lock_mode(args)


if __name__ == "__main__":
    sys.exit(main())
