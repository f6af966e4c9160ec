#!/usr/bin/env python3
"""The operator drill of issue 14: backup, disaster recovery and restore with real processes.

    operator_drill_test.py --binary /path/to/keeld --restore-tool /path/to/keelctl
    operator_drill_test.py --binary etcd --restore-tool etcdctl     (checks the drill itself)

1. Start 3 members: m0 from a --config-file (YAML), m1 from ETCD_* environment variables
   only, m2 from flags. All healthy, one leader.
2. Load: a writer puts keys (some overwritten, some deleted) while `etcdctl snapshot save`
   runs against one member. The saved data is read back from the live cluster at the
   snapshot's revision (`get --rev`), so it is exact whatever the writer did meanwhile.
3. Kill m0 and m1 (SIGKILL): no quorum. Restart m2 with --force-new-cluster: it serves
   alone (member list: itself), with every key it had.
4. `member add` two new members (empty data dirs, --initial-cluster-state existing), one
   after the other: the cluster is 3 again, every member at one revision and HashKV.
5. Restore the snapshot with `<restore-tool> snapshot restore` into 3 new data dirs and
   start a second cluster from them: every member serves exactly the saved keys (value,
   create/mod revision, version, lease) at the saved revision, and takes a new write.
   A damaged copy of the snapshot is refused (SHA-256) and creates no data dir.
Every wait is bounded; nothing asserts timing.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import cluster as cluster_mod  # noqa: E402
from harness.checks import fail, wait_until  # noqa: E402
from harness.cluster import ETCD_BINARY, ETCDCTL_BINARY, Cluster, Member, free_ports  # noqa: E402




def spawn(cluster, member, argv, env=None):
    log = open(member.log_path, "ab")
    member.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    log.close()
    cluster_mod._LIVE_PROCESSES.add(member.proc)


def flag_map(flags):
    out = {}
    for f in flags:
        name, _, value = f[2:].partition("=")
        out[name] = value
    return out


def start_from_config_file(cluster, member, workdir):
    """etcd's YAML keys are its flag names; numbers stay numbers."""
    path = os.path.join(workdir, member.name + ".yml")
    with open(path, "w") as f:
        for name, value in flag_map(cluster.flags(member)).items():
            f.write("%s: %s\n" % (name, value if value.isdigit() else json.dumps(value)))
    # A flag next to --config-file is ignored (etcd's rule), even a bad one.
    spawn(cluster, member, [cluster.binary, "--config-file=" + path, "--name=ignored"])


def start_from_environment(cluster, member):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
    for name, value in flag_map(cluster.flags(member)).items():
        env["ETCD_" + name.upper().replace("-", "_")] = value
    spawn(cluster, member, [cluster.binary], env=env)


def get_all(cluster, endpoint, rev=None):
    args = ["get", "", "--prefix", "-w", "json"] + (["--rev=%d" % rev] if rev else [])
    proc = cluster.etcdctl(args, endpoints=endpoint, timeout_s=30)
    if proc.returncode != 0:
        fail("get on %s: %s" % (endpoint, proc.stderr))
    out = json.loads(proc.stdout)
    kvs = [(kv["key"], kv.get("value", ""), kv["create_revision"], kv["mod_revision"],
            kv["version"], kv.get("lease", 0)) for kv in out.get("kvs", [])]
    return out["header"]["revision"], kvs


def hashkv_agree(cluster, endpoints):
    def check():
        seen = {}
        for ep in endpoints:
            proc = cluster.etcdctl(["endpoint", "hashkv", "-w", "json"], endpoints=ep, timeout_s=10)
            if proc.returncode != 0:
                return False, "%s: %s" % (ep, proc.stderr.strip())
            hkv = json.loads(proc.stdout)[0]["HashKV"]
            seen[ep] = (hkv["header"]["revision"], hkv["hash"])
        return len(set(seen.values())) == 1, seen
    return wait_until("equal revision and hashkv on %s" % endpoints, check)


def wait_healthy(cluster, member, timeout_s=60):
    def check():
        if member.proc is not None and member.proc.poll() is not None:
            fail("%s exited with %s:\n%s" % (member.name, member.proc.returncode,
                                             open(member.log_path, errors="replace").read()[-3000:]))
        return cluster.member_healthy(member), member.name
    wait_until("%s healthy" % member.name, check, timeout_s)


def member_list(cluster, endpoint):
    proc = cluster.etcdctl(["member", "list", "-w", "json"], endpoints=endpoint, timeout_s=15)
    if proc.returncode != 0:
        fail("member list: %s" % proc.stderr)
    return json.loads(proc.stdout)["members"]


class Writer(threading.Thread):
    """Puts k0..k99 round after round (overwrites), deleting every 7th key once."""

    def __init__(self, cluster, endpoints):
        super().__init__(daemon=True)
        self.cluster, self.endpoints = cluster, endpoints
        self.stop = threading.Event()
        self.writes = 0
        self.error = None

    def run(self):
        i = 0
        while not self.stop.is_set() and i < 2000:
            script = "".join("put k%d v%d\n" % ((i + j) % 100, i + j) for j in range(10))
            if i % 70 == 0:
                script += "del k%d\n" % ((i + 50) % 100)
            proc = self.cluster.etcdctl(["txn"], endpoints=self.endpoints,
                                        input="\n" + script + "\n\n", timeout_s=30)
            if proc.returncode != 0:
                self.error = proc.stderr
                return
            self.writes += 1
            i += 10


def drill(args, workdir):
    is_etcd = args.binary == "etcd"
    binary = ETCD_BINARY if is_etcd else args.binary
    restore_tool = ETCDCTL_BINARY if args.restore_tool == "etcdctl" else args.restore_tool
    with Cluster(binary, 3, os.path.join(workdir, "a"), token="drill-a") as a:
        os.makedirs(a.workdir, exist_ok=True)
        # ---- 1. three ways to configure a member ----
        start_from_config_file(a, a.members[0], a.workdir)
        start_from_environment(a, a.members[1])
        a.start_member(2)
        for m in a.members:
            wait_healthy(a, m)
        a.leader_index()
        print("1. cluster up: m0 from a config file, m1 from ETCD_* variables, m2 from flags")

        # ---- 2. load, and a snapshot saved under it ----
        writer = Writer(a, a.endpoints())
        writer.start()
        wait_until("load started", lambda: (writer.writes >= 20 or writer.error, writer.writes))
        snapshot = os.path.join(workdir, "snap.db")
        save = a.etcdctl(["snapshot", "save", snapshot], endpoints=a.members[2].endpoint, timeout_s=60)
        writer.stop.set()
        writer.join(60)
        if writer.error:
            fail("writer: %s" % writer.error)
        if save.returncode != 0:
            fail("snapshot save: %s%s" % (save.stdout, save.stderr))
        env = dict(os.environ, ETCDCTL_API="3")
        status_tool = ETCDCTL_BINARY if is_etcd else restore_tool
        status = subprocess.run([status_tool, "snapshot", "status", snapshot, "-w", "json"],
                                capture_output=True, text=True, env=env, timeout=30)
        if status.returncode != 0:
            fail("snapshot status: %s" % status.stderr)
        saved_rev = json.loads(status.stdout)["revision"]
        rev, saved = get_all(a, a.members[2].endpoint, rev=saved_rev)
        final_rev, final = get_all(a, a.members[2].endpoint)
        if not saved or final_rev <= saved_rev:
            fail("the drill needs writes before and after the snapshot (saved rev %d, final %d)"
                 % (saved_rev, final_rev))
        print("2. snapshot saved at revision %d under load (%d txns; %d keys then, rev %d now)"
              % (saved_rev, writer.writes, len(saved), final_rev))

        # ---- 3. lose two members, force a new cluster from the third ----
        hashkv_agree(a, [m.endpoint for m in a.members])
        a.kill(0)
        a.kill(1)
        a.kill(2, signal.SIGTERM)
        spawn(a, a.members[2], [binary] + a.flags(a.members[2]) + ["--force-new-cluster"])
        wait_healthy(a, a.members[2])
        listed = member_list(a, a.members[2].endpoint)
        if [m["name"] for m in listed] != [a.members[2].name]:
            fail("after --force-new-cluster, member list: %s" % listed)
        rev, kept = get_all(a, a.members[2].endpoint)
        if kept != final:
            fail("--force-new-cluster lost data: %d keys, expected %d" % (len(kept), len(final)))
        print("3. m2 alone after --force-new-cluster, all %d keys kept" % len(kept))

        # ---- 4. grow back to three ----
        running = [a.members[2]]
        for name in ("m3", "m4"):
            client, peer, metrics = free_ports(3)
            m = Member(name, client, peer, metrics, os.path.join(a.workdir, name + ".data"),
                       os.path.join(a.workdir, name + ".log"))
            added = wait_until("member add %s" % name, lambda: (
                lambda p: (p.returncode == 0, p))(a.etcdctl(
                    ["member", "add", name, "--peer-urls=" + m.peer_url],
                    endpoints=running[0].endpoint, timeout_s=15)))
            initial = re.search(r'ETCD_INITIAL_CLUSTER="([^"]*)"', added.stdout).group(1)
            flags = [f for f in a.flags(m, state="existing") if not f.startswith("--initial-cluster=")]
            spawn(a, m, [binary] + flags + ["--initial-cluster=" + initial])
            a.members.append(m)
            wait_healthy(a, m)
            running.append(m)
        hashkv_agree(a, [m.endpoint for m in running])
        names = sorted(m["name"] for m in member_list(a, running[0].endpoint))
        if names != ["m2", "m3", "m4"]:
            fail("grown cluster lists %s" % names)
        rev, grown = get_all(a, running[1].endpoint)
        if grown != final:
            fail("a member added back serves other data")
        print("4. grown back to 3 members (m2, m3, m4), equal HashKV")

        # ---- 5. restore the snapshot into a second cluster ----
        with Cluster(binary, 3, os.path.join(workdir, "b"), prefix="r", token="drill-b") as b:
            os.makedirs(b.workdir, exist_ok=True)
            damaged = os.path.join(workdir, "damaged.db")
            shutil.copy(snapshot, damaged)
            with open(damaged, "r+b") as f:
                f.seek(100)
                byte = f.read(1)
                f.seek(100)
                f.write(bytes([byte[0] ^ 0x01]))
            for m in b.members:
                restore = [restore_tool, "snapshot", "restore", snapshot, "--name=" + m.name,
                           "--initial-cluster=" + b.initial_cluster(),
                           "--initial-cluster-token=" + b.token,
                           "--initial-advertise-peer-urls=" + m.peer_url,
                           "--data-dir=" + m.data_dir]
                bad = subprocess.run(restore[:3] + [damaged] + restore[4:], capture_output=True,
                                     text=True, env=env, timeout=60)
                if bad.returncode == 0 or "expected sha256" not in bad.stderr:
                    fail("damaged snapshot not refused: %d %s" % (bad.returncode, bad.stderr))
                shutil.rmtree(m.data_dir, ignore_errors=True)  # etcdctl leaves an empty dir
                done = subprocess.run(restore, capture_output=True, text=True, env=env, timeout=60)
                if done.returncode != 0:
                    fail("snapshot restore %s: %s" % (m.name, done.stderr))
            for i in range(3):
                b.start_member(i)
            for m in b.members:
                wait_healthy(b, m)
            for m in b.members:
                rev, restored = get_all(b, m.endpoint)
                if rev != saved_rev:
                    fail("%s serves revision %d, saved %d" % (m.name, rev, saved_rev))
                if restored != saved:
                    fail("%s serves other data than saved: %d keys vs %d; first difference %s" % (
                        m.name, len(restored), len(saved),
                        next((x for x in zip(restored, saved) if x[0] != x[1]), None)))
            names = sorted(m["name"] for m in member_list(b, b.members[0].endpoint))
            if names != ["r0", "r1", "r2"]:
                fail("restored cluster lists %s" % names)
            put = b.etcdctl(["put", "after-restore", "x", "-w", "json"], endpoints=b.endpoints())
            if put.returncode != 0 or json.loads(put.stdout)["header"]["revision"] != saved_rev + 1:
                fail("write after restore: %s %s" % (put.stdout, put.stderr))
            hashkv_agree(b, [m.endpoint for m in b.members])
            print("5. restored cluster r0..r2 serves exactly the %d saved keys at revision %d"
                  % (len(saved), saved_rev))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True, help="keeld path, or 'etcd'")
    parser.add_argument("--restore-tool", required=True, help="keelctl path, or 'etcdctl'")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="keel-drill-", dir=os.environ.get("TEST_TMPDIR"))
    started = time.monotonic()
    try:
        drill(args, workdir)
    finally:
        if os.environ.get("KEEP_WORKDIR") is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print("PASS in %.1f s" % (time.monotonic() - started))


if __name__ == "__main__":
    main()
