#!/usr/bin/env python3
"""--strict-reconfig-check and the learner limit with etcdctl, the same on etcd 3.4 and keeld:

    reconfig_test.py --binary /path/to/keeld      (or --binary etcd)

3 members (the flag at its default, true), every change sent to the leader:
  member add --learner (never started)    -> accepted
  a second member add --learner           -> "etcdserver: too many learner members in cluster"
  member remove <the learner>             -> accepted
  kill -9 one follower, wait 6 s (etcd's 5 s health interval)
  member add (a voter)                    -> "etcdserver: unhealthy cluster"
  member remove <the other follower, up>  -> "etcdserver: unhealthy cluster"
  member remove <the dead follower>       -> accepted (a down member is safe to remove)
Every wait is bounded; nothing asserts timing.
"""

import argparse
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.checks import fail  # noqa: E402
from harness.cluster import Cluster, free_ports  # noqa: E402


def expect(p, what, error=None):
    if error is None:
        if p.returncode != 0:
            fail("%s: expected success, got rc=%d %s" % (what, p.returncode, p.stderr.strip()))
    elif p.returncode == 0 or error not in p.stderr:
        fail("%s: expected %r, got rc=%d out=%r err=%r" % (
            what, error, p.returncode, p.stdout.strip(), p.stderr.strip()))
    print("%s: %s" % (what, "ok" if error is None else error))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    workdir = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp(prefix="reconfig-")
    spare = free_ports(2)
    with Cluster(args.binary, 3, workdir) as c:
        c.start()
        # etcd counts a peer as connected only after its 5 s health interval.
        time.sleep(6)
        leader = c.leader_index()
        ep = c.members[leader].endpoint
        ids = c.member_ids()

        def ctl(*a):
            return c.etcdctl(list(a), endpoints=ep)

        p = ctl("member", "add", "l1", "--learner", "--peer-urls=http://127.0.0.1:%d" % spare[0])
        expect(p, "add learner")
        learner_id = [l for l in p.stdout.splitlines() if "added to cluster" in l][0].split()[1]
        expect(ctl("member", "add", "l2", "--learner",
                   "--peer-urls=http://127.0.0.1:%d" % spare[1]),
               "add a second learner", "etcdserver: too many learner members in cluster")
        expect(ctl("member", "remove", learner_id), "remove the learner")

        followers = [i for i in range(3) if i != leader]
        dead, alive = followers
        c.kill(dead, signal.SIGKILL)
        time.sleep(6)  # past etcd's 5 s health interval: the dead member counts as inactive
        expect(ctl("member", "add", "v1", "--peer-urls=http://127.0.0.1:%d" % spare[1]),
               "add a voter with one member down", "etcdserver: unhealthy cluster")
        expect(ctl("member", "remove", "%x" % ids[c.members[alive].name]),
               "remove a live follower with one member down", "etcdserver: unhealthy cluster")
        expect(ctl("member", "remove", "%x" % ids[c.members[dead].name]),
               "remove the dead member")
    print("PASS")


if __name__ == "__main__":
    main()
