#!/usr/bin/env python3
"""etcdctl smoke test on a 3-member cluster: every command keeld promises, with assertions.

    smoke_test.py --binary /path/to/keeld      (or --binary etcd to check the test itself)

Each check states the behaviour it relies on; failures print the command, its output and
the tail of every member's log.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.cluster import ETCD_BINARY, ETCDCTL_BINARY, Cluster  # noqa: E402


class SmokeFailure(Exception):
    pass


class Smoke:
    def __init__(self, cluster, scratch):
        self.c = cluster
        self.scratch = scratch
        self.checks = 0

    def ctl(self, *args, input=None, endpoints=None, ok=True):
        proc = self.c.etcdctl(list(args), endpoints=endpoints, input=input)
        if ok and proc.returncode != 0:
            raise SmokeFailure("etcdctl %s failed (%d):\n%s%s" % (
                " ".join(args), proc.returncode, proc.stdout, proc.stderr))
        if not ok and proc.returncode == 0:
            raise SmokeFailure("etcdctl %s succeeded but must fail:\n%s" % (
                " ".join(args), proc.stdout))
        return proc

    def expect(self, condition, what, proc=None):
        self.checks += 1
        if not condition:
            detail = "" if proc is None else "\nstdout:\n%s\nstderr:\n%s" % (proc.stdout, proc.stderr)
            raise SmokeFailure("expected: %s%s" % (what, detail))

    def lines(self, *args, **kw):
        return self.ctl(*args, **kw).stdout.splitlines()

    # ---- the checks ----
    def kv(self):
        for k, v in [("a", "1"), ("b", "2"), ("c", "3"), ("p/x", "10"), ("p/y", "20")]:
            self.ctl("put", k, v)
        self.ctl("put", "a", "1b")
        self.expect(self.lines("get", "a") == ["a", "1b"], "get returns the latest value")
        self.expect(self.lines("get", "p/", "--prefix") == ["p/x", "10", "p/y", "20"],
                    "get --prefix returns the keys in order")
        self.expect(self.lines("get", "b", "--from-key", "--keys-only") ==
                    ["b", "", "c", "", "p/x", "", "p/y", ""], "get --from-key --keys-only")
        self.expect(self.lines("get", "a", "--prefix", "--limit", "1") == ["a", "1b"],
                    "get --limit")
        self.expect(self.lines("get", "p/", "--prefix", "--sort-by=VALUE", "--order=DESCEND",
                               "--print-value-only") == ["20", "10"], "sort by value, descend")
        rev_a1 = json.loads(self.ctl("get", "a", "-w", "json").stdout)["kvs"][0]
        self.expect(rev_a1["version"] == 2 and rev_a1["create_revision"] < rev_a1["mod_revision"],
                    "version counts puts; create < mod revision after an overwrite")
        self.expect(self.lines("get", "a", "--rev", str(rev_a1["create_revision"])) == ["a", "1"],
                    "get --rev reads history")
        self.expect(self.lines("get", "a", "--consistency=s", endpoints=self.c.members[2].endpoint)
                    in (["a", "1b"], ["a", "1"]), "serializable read from a follower")
        out = self.ctl("del", "p/", "--prefix", "--prev-kv").stdout.splitlines()
        self.expect(out == ["2", "p/x", "10", "p/y", "20"], "del --prefix --prev-kv")
        self.expect(self.lines("get", "p/", "--prefix") == [], "deleted keys are gone")
        proc = self.ctl("get", "a", "--rev", "99999", ok=False)
        self.expect("required revision is a future revision" in proc.stderr,
                    "etcd's future-revision error", proc)

    def txn(self):
        proc = self.ctl("txn", "-i", input='value("a") = "1b"\n\nput t ok\n\nput t bad\n\n')
        # etcdctl prints its interactive prompts to stdout before the result.
        self.expect("SUCCESS" in proc.stdout.splitlines(), "txn takes the success branch", proc)
        self.expect(self.lines("get", "t", "--print-value-only") == ["ok"], "txn put applied")
        proc = self.ctl("txn", "-i", input='\n\nput d 1\nput d 2\n\n', ok=False)
        self.expect("duplicate key given in txn request" in proc.stderr, "duplicate-key error", proc)

    def watch(self):
        out_path = os.path.join(self.scratch, "watch.out")
        with open(out_path, "w") as out:
            watcher = subprocess.Popen(
                [ETCDCTL_BINARY, "--endpoints=" + self.c.members[1].endpoint, "watch", "w/",
                 "--prefix", "--prev-kv"], stdout=out, stderr=subprocess.STDOUT,
                env=dict(os.environ, ETCDCTL_API="3"), start_new_session=True)
        try:
            time.sleep(1.0)  # let the watch register; events after it are what we check
            self.ctl("put", "w/1", "one")
            self.ctl("put", "w/1", "uno")
            self.ctl("del", "w/1")
            deadline = time.monotonic() + 10
            # With --prev-kv etcdctl prints the previous key/value before the event's own.
            expected = ["PUT", "w/1", "one", "PUT", "w/1", "one", "w/1", "uno", "DELETE", "w/1",
                        "uno", "w/1", ""]
            while time.monotonic() < deadline:
                with open(out_path) as f:
                    got = f.read().splitlines()
                if len(got) >= len(expected):
                    break
                time.sleep(0.1)
        finally:
            os.killpg(watcher.pid, 9)
            watcher.wait()
        self.expect(got[:len(expected)] == expected, "watch --prefix --prev-kv sees every event "
                    "in order, got %r" % got)
        first = json.loads(self.ctl("get", "a", "-w", "json").stdout)["kvs"][0]["create_revision"]
        proc = subprocess.run(
            ["timeout", "3", ETCDCTL_BINARY, "--endpoints=" + self.c.members[0].endpoint,
             "watch", "a", "--rev", str(first)], capture_output=True, text=True,
            env=dict(os.environ, ETCDCTL_API="3"))
        self.expect(proc.stdout.splitlines()[:6] == ["PUT", "a", "1", "PUT", "a", "1b"],
                    "watch --rev replays history", proc)

    def lease(self):
        out = self.ctl("lease", "grant", "60").stdout
        lease = out.split()[1]
        self.expect(out.startswith("lease ") and "granted with TTL(60s)" in out, "lease grant")
        self.ctl("put", "l/1", "v", "--lease=" + lease)
        ttl = self.ctl("lease", "timetolive", lease, "--keys").stdout
        self.expect("attached keys([l/1])" in ttl, "timetolive --keys lists attached keys")
        self.expect("keepalived with TTL(60)" in self.ctl("lease", "keep-alive", "--once",
                                                          lease).stdout, "keep-alive --once")
        self.expect(lease in self.lines("lease", "list"), "lease list")
        self.ctl("lease", "revoke", lease)
        self.expect(self.lines("get", "l/1") == [], "revoke deletes attached keys")
        proc = self.ctl("lease", "revoke", lease, ok=False)
        self.expect("requested lease not found" in proc.stderr, "lease not found error", proc)

    def compaction(self):
        rev = json.loads(self.ctl("get", "a", "-w", "json").stdout)["header"]["revision"]
        self.expect(self.lines("compaction", str(rev - 1)) == ["compacted revision %d" % (rev - 1)],
                    "compaction")
        self.ctl("compaction", "--physical", str(rev))
        proc = self.ctl("get", "a", "--rev", str(rev - 2), ok=False)
        self.expect("required revision has been compacted" in proc.stderr, "compacted error", proc)

    def cluster_commands(self):
        members = json.loads(self.ctl("member", "list", "-w", "json").stdout)["members"]
        self.expect(sorted(m["name"] for m in members) == [m.name for m in self.c.members],
                    "member list names every member")
        status = json.loads(self.ctl("endpoint", "status", "-w", "json",
                                     endpoints=self.c.endpoints()).stdout)
        leaders = {s["Status"]["leader"] for s in status}
        self.expect(len(leaders) == 1 and 0 not in leaders, "all members agree on one leader")
        self.ctl("endpoint", "health", endpoints=self.c.endpoints())
        hashes = json.loads(self.ctl("endpoint", "hashkv", "-w", "json",
                                     endpoints=self.c.endpoints()).stdout)
        self.expect(len({h["HashKV"]["hash"] for h in hashes}) == 1, "hashkv equal everywhere")
        self.ctl("endpoint", "status", "-w", "table", endpoints=self.c.endpoints())
        leader = self.c.leader_index()
        ids = self.c.member_ids()
        target = (leader + 1) % len(self.c.members)
        self.ctl("move-leader", "%x" % ids[self.c.members[target].name],
                 endpoints=self.c.endpoints())
        self.expect(self.c.leader_index() == target, "move-leader moves leadership")

    def lock_and_elect(self):
        out = self.lines("lock", "L", "echo", "locked")
        self.expect(out == ["locked"], "lock runs the command while holding the lock")
        proc = subprocess.run(["timeout", "3", ETCDCTL_BINARY, "--endpoints=" + self.c.endpoints(),
                               "elect", "E", "me"], capture_output=True, text=True,
                              env=dict(os.environ, ETCDCTL_API="3"))
        lines = proc.stdout.splitlines()
        self.expect(len(lines) >= 2 and lines[0].startswith("E/") and lines[1] == "me",
                    "elect wins an uncontested election", proc)

    def snapshot(self):
        path = os.path.join(self.scratch, "snap.db")
        self.ctl("snapshot", "save", path)
        self.expect(os.path.getsize(path) > 0, "snapshot save writes a file")

    def run(self):
        for check in (self.kv, self.txn, self.watch, self.lease, self.compaction,
                      self.cluster_commands, self.lock_and_elect, self.snapshot):
            check()
            print("ok  %s" % check.__name__, flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="etcd")
    args = parser.parse_args()
    binary = ETCD_BINARY if args.binary == "etcd" else os.path.abspath(args.binary)
    workdir = tempfile.mkdtemp(prefix="smoke-", dir=os.environ.get("TEST_TMPDIR"))
    with Cluster(binary, 3, workdir) as cluster:
        cluster.start()
        smoke = Smoke(cluster, workdir)
        try:
            smoke.run()
        except SmokeFailure as e:
            print("FAIL: %s" % e)
            for i in range(len(cluster.members)):
                print("---- %s log tail ----\n%s" % (cluster.members[i].name, cluster.log_tail(i)))
            return 1
    print("PASS: %d checks" % smoke.checks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
