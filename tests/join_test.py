#!/usr/bin/env python3
"""Joining a running cluster with etcd's own flow, then shrinking it again.

    join_test.py --binary /path/to/keeld     (--binary etcd checks the test against etcd 3.4)

1. Start 3 members (m0..m2), write keys.
2. `etcdctl member add m3 --peer-urls=...` on the running cluster; start m3 with an empty
   data dir, the printed ETCD_INITIAL_CLUSTER and --initial-cluster-state=existing.
   m3 becomes healthy, catches up (same revision and `endpoint hashkv` on all 4), and
   `member list` shows it started: name m3, its client URL, not a learner.
3. Joining errors: a name missing from --initial-cluster, an --initial-cluster that
   lacks a member (count unequal), and no reachable peer exit non-zero without serving.
4. Restart m3 from its data dir (same flags: no second join) and write through it.
5. `member remove` of one original follower: the other members keep serving, and agree.
6. `member add --learner m4`, start it, `member promote` (retried while the learner is
   not ready) and check every member agrees again.
With --snapshot-count N --put-load PATH, step 1 also writes N + 5500 keys through
tests:put_load, so the leader has compacted its log (it keeps 5000 entries behind a
snapshot, as etcd does) and m3 must be sent a snapshot; the test then checks the leader's
etcd_network_snapshot_send_success metric.
Every wait is bounded; nothing asserts timing.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import cluster as cluster_mod  # noqa: E402
from harness.checks import fail, wait_until  # noqa: E402
from harness.cluster import ETCD_BINARY, Cluster, ClusterError, Member, free_ports  # noqa: E402



def new_member(cluster, name):
    client, peer, metrics = free_ports(3)
    return Member(name, client, peer, metrics,
                  os.path.join(cluster.workdir, name + ".data"),
                  os.path.join(cluster.workdir, name + ".log"))


def joiner_flags(cluster, member, initial_cluster):
    flags = [f for f in cluster.flags(member, state="existing")
             if not f.startswith("--initial-cluster=")]
    return flags + ["--initial-cluster=" + initial_cluster]


def start_process(cluster, member, flags):
    log = open(member.log_path, "ab")
    member.proc = subprocess.Popen([cluster.binary] + flags, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    log.close()
    cluster_mod._LIVE_PROCESSES.add(member.proc)


def run_to_exit(cluster, member, flags, timeout_s=30):
    """Runs a member that must refuse to start; returns (exit code, its output)."""
    proc = subprocess.run([cluster.binary] + flags, capture_output=True, text=True,
                          timeout=timeout_s, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout + proc.stderr


def member_add(cluster, name, peer_url, endpoint, learner=False):
    """etcdctl member add; returns (new member ID as hex, ETCD_INITIAL_CLUSTER)."""
    args = ["member", "add", name, "--peer-urls=" + peer_url] + (["--learner"] if learner else [])
    deadline = time.monotonic() + 30
    while True:
        proc = cluster.etcdctl(args, endpoints=endpoint)
        if proc.returncode == 0:
            break
        # etcd refuses while a just-started member is not yet counted as started.
        if time.monotonic() > deadline:
            fail("member add %s failed: %s%s" % (name, proc.stdout, proc.stderr))
        time.sleep(0.5)
    added = re.search(r"Member\s+([0-9a-f]+) added to cluster\s+([0-9a-f]+)", proc.stdout)
    initial = re.search(r'ETCD_INITIAL_CLUSTER="([^"]*)"', proc.stdout)
    state = re.search(r'ETCD_INITIAL_CLUSTER_STATE="([^"]*)"', proc.stdout)
    if not (added and initial and state) or state.group(1) != "existing":
        fail("unexpected member add output: %r" % proc.stdout)
    if ("%s=%s" % (name, peer_url)) not in initial.group(1).split(","):
        fail("ETCD_INITIAL_CLUSTER lacks the new member: %s" % initial.group(1))
    return added.group(1), initial.group(1)


def member_list(cluster, endpoint):
    # Retried (bounded): a loaded member may time out once.
    for attempt in range(5):
        proc = cluster.etcdctl(["--command-timeout=15s", "member", "list", "-w", "json"],
                               endpoints=endpoint, timeout_s=60)
        if proc.returncode == 0:
            return json.loads(proc.stdout)["members"]
    fail("member list on %s: %s" % (endpoint, proc.stderr))


def wait_all_list(cluster, indexes, member_id):
    """Waits until every listed member lists `member_id` (hex); returns {name: entry}.

    MemberList is each member's local view, in etcd 3.4 as in keeld: the member that
    answered `member add` has applied it, the others apply it a moment later. A joiner asks
    the first member of --initial-cluster that answers for the membership and refuses to
    start ("member count is unequal") if that member has not applied the add yet, so a
    member is started only once every running member knows it."""
    def check():
        seen = {}
        for i in indexes:
            listed = member_list(cluster, cluster.members[i].endpoint)
            entry = [m for m in listed if "%x" % m["ID"] == member_id]
            if len(entry) != 1:
                return False, "%s lists %s" % (cluster.members[i].name, listed)
            seen[cluster.members[i].name] = entry[0]
        return True, seen
    return wait_until("every member lists %s" % member_id, check)



def hashkv_agree(cluster, indexes):
    """(True, rev) once every listed member reports one revision and one HashKV."""
    def check():
        seen = {}
        for i in indexes:
            proc = cluster.etcdctl(["endpoint", "hashkv", "-w", "json"],
                                   endpoints=cluster.members[i].endpoint, timeout_s=10)
            if proc.returncode != 0:
                return False, "%s: %s" % (cluster.members[i].name, proc.stderr.strip())
            hkv = json.loads(proc.stdout)[0]["HashKV"]
            seen[cluster.members[i].name] = (hkv["header"]["revision"], hkv["hash"])
        return len(set(seen.values())) == 1, seen
    return wait_until("equal revision and hashkv on %s" % [cluster.members[i].name for i in indexes],
                      check)


def put_and_check(cluster, key, value, writer, readers):
    # Retried (bounded): on a loaded machine a member that just joined or restarted may
    # time out once; the put is idempotent.
    for attempt in range(5):
        proc = cluster.etcdctl(["--command-timeout=15s", "put", key, value],
                               endpoints=cluster.members[writer].endpoint, timeout_s=60)
        if proc.returncode == 0:
            break
        if attempt == 4:
            fail("put %s through %s: %s" % (key, cluster.members[writer].name, proc.stderr))
    for i in readers:
        got = cluster.etcdctl(["get", key, "--print-value-only"],
                              endpoints=cluster.members[i].endpoint, check=True).stdout.strip()
        if got != value:
            fail("%s reads %s=%r, want %r" % (cluster.members[i].name, key, got, value))


def snapshot_sends(cluster, index):
    import urllib.request
    url = "http://127.0.0.1:%d/metrics" % cluster.members[index].metrics_port
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith("etcd_network_snapshot_send_success"):
            total += int(float(line.split()[-1]))
    return total


def find(members, name):
    for m in members:
        if m.get("name") == name:
            return m
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="etcd")
    parser.add_argument("--keys", type=int, default=30)
    parser.add_argument("--snapshot-count", type=int, default=0)
    parser.add_argument("--put-load", default="")
    args = parser.parse_args()
    extra = ["--snapshot-count=%d" % args.snapshot_count] if args.snapshot_count else []
    binary = ETCD_BINARY if args.binary == "etcd" else os.path.abspath(args.binary)
    workdir = tempfile.mkdtemp(prefix="join-", dir=os.environ.get("TEST_TMPDIR"))
    with Cluster(binary, 3, workdir, extra_flags=extra) as cluster:
        cluster.start()
        leader = cluster.leader_index()
        for k in range(args.keys):
            cluster.etcdctl(["put", "before%03d" % k, "v%d" % k],
                            endpoints=cluster.endpoints(), check=True)
        if args.put_load:
            puts = args.snapshot_count + 5500
            subprocess.run([os.path.abspath(args.put_load), cluster.members[leader].endpoint,
                            "8", str(puts // 8 + 1)], check=True, capture_output=True,
                           timeout=600)

        # ---- 2. member add + join ----
        m3 = new_member(cluster, "m3")
        new_id, initial = member_add(cluster, "m3", m3.peer_url, cluster.members[leader].endpoint)
        for pending in wait_all_list(cluster, range(3), new_id).values():
            if pending.get("name") or pending.get("clientURLs"):
                fail("after member add, m3 should be listed unstarted: %s" % pending)

        # ---- 3. joining errors (before the real join, so m3's data dir stays empty) ----
        bad_dir = os.path.join(workdir, "bad.data")
        code, out = run_to_exit(cluster, m3, [
            f.replace(m3.data_dir, bad_dir) for f in joiner_flags(cluster, m3, initial)
            if not f.startswith("--name=")] + ["--name=nobody"])
        if code == 0 or "nobody" not in out:
            fail("a name missing from --initial-cluster must fail clearly, got %d: %s" % (code, out))
        short = ",".join(p for p in initial.split(",") if not p.startswith("m0="))
        code, out = run_to_exit(cluster, m3, [
            f.replace(m3.data_dir, bad_dir) for f in joiner_flags(cluster, m3, short)])
        if code == 0 or "member count is unequal" not in out:
            fail("--initial-cluster lacking a member must fail with 'member count is unequal', "
                 "got %d: %s" % (code, out))

        dead = free_ports(3)
        nobody = ",".join(["m0=http://127.0.0.1:%d" % dead[0], "m1=http://127.0.0.1:%d" % dead[1],
                           "m2=http://127.0.0.1:%d" % dead[2], "m3=" + m3.peer_url])
        code, out = run_to_exit(cluster, m3, [
            f.replace(m3.data_dir, bad_dir) for f in joiner_flags(cluster, m3, nobody)])
        if code == 0 or "cannot fetch cluster info from peer urls" not in out:
            fail("no reachable peer must fail with etcd's 'cannot fetch cluster info from peer "
                 "urls', got %d: %s" % (code, out))

        cluster.members.append(m3)
        i3 = len(cluster.members) - 1
        flags3 = joiner_flags(cluster, m3, initial)
        start_process(cluster, m3, flags3)
        cluster.wait_healthy(60, indexes=[i3])
        for k in range(10):
            put_and_check(cluster, "after%03d" % k, "w%d" % k, writer=i3, readers=[0, i3])
        hashkv_agree(cluster, range(4))
        if args.put_load:
            # Summed over the original members: leadership may have moved meanwhile.
            sent = sum(snapshot_sends(cluster, i) for i in range(3))
            if sent < 1:
                fail("no member ever sent a snapshot (etcd_network_snapshot_send_success=%s)"
                     % sent)
            print("snapshots sent: %d" % sent)

        def m3_started():
            proc = cluster.etcdctl(["member", "list", "-w", "json"], endpoints=m3.endpoint)
            if proc.returncode != 0:
                return False, proc.stderr.strip()[-200:]
            m = find(json.loads(proc.stdout)["members"], "m3")
            return (m is not None and m.get("clientURLs") == [m3.client_url]
                    and not m.get("isLearner", False) and "%x" % m["ID"] == new_id), m
        wait_until("member list shows m3 started", m3_started)
        got = cluster.etcdctl(["get", "before", "--prefix", "--keys-only"],
                              endpoints=m3.endpoint, check=True).stdout.split()
        if len(got) != args.keys:
            fail("m3 sees %d of the %d keys written before it joined" % (len(got), args.keys))

        # ---- 4. restart the joined member from its data dir ----
        cluster.kill(i3, signal.SIGTERM)
        start_process(cluster, m3, flags3)
        cluster.wait_healthy(60, indexes=[i3])
        put_and_check(cluster, "restarted", "yes", writer=i3, readers=range(4))
        hashkv_agree(cluster, range(4))

        # ---- 5. member remove of one original follower ----
        leader = cluster.leader_index()
        victim = next(i for i in range(3) if i != leader)
        ids = {m["name"]: m["ID"] for m in member_list(cluster, m3.endpoint)}
        cluster.etcdctl(["member", "remove", "%x" % ids[cluster.members[victim].name]],
                        endpoints=cluster.members[leader].endpoint, check=True)
        cluster.kill(victim, signal.SIGKILL)
        alive = [i for i in range(len(cluster.members)) if i != victim]
        names = sorted(m["name"] for m in member_list(cluster, m3.endpoint))
        if names != sorted(cluster.members[i].name for i in alive):
            fail("after member remove: %s" % names)
        for k in range(5):
            put_and_check(cluster, "shrunk%d" % k, "s%d" % k, writer=alive[k % len(alive)],
                          readers=alive)
        hashkv_agree(cluster, alive)

        # ---- 6. a learner joins and is promoted ----
        m4 = new_member(cluster, "m4")
        leader = cluster.leader_index()
        learner_id, initial4 = member_add(cluster, "m4", m4.peer_url,
                                          cluster.members[leader].endpoint, learner=True)
        wait_all_list(cluster, alive, learner_id)
        cluster.members.append(m4)
        i4 = len(cluster.members) - 1
        start_process(cluster, m4, joiner_flags(cluster, m4, initial4))

        def promoted():
            if not m4.running():
                fail("m4 exited:\n%s" % cluster.log_tail(i4))
            # Sent to a follower on purpose: etcd forwards MemberPromote to the leader,
            # which alone knows whether the learner caught up; keeld must do the same.
            lead = cluster.leader_index()
            follower = next(i for i in alive if i != lead)
            proc = cluster.etcdctl(["member", "promote", learner_id],
                                   endpoints=cluster.members[follower].endpoint)
            return proc.returncode == 0, (proc.stdout + proc.stderr).strip()
        wait_until("member promote m4", promoted, timeout_s=90)
        alive.append(i4)
        cluster.wait_healthy(60, indexes=alive)
        # The promote is acknowledged once the leader applied it; m4 itself applies it (and
        # its own published name) a moment later, as an etcd member does.
        def voter_on_m4():
            m = find(member_list(cluster, m4.endpoint), "m4")
            return m is not None and not m.get("isLearner", False), m
        wait_until("m4 listed as a started voter by m4 itself", voter_on_m4, timeout_s=30)
        put_and_check(cluster, "promoted", "yes", writer=i4, readers=alive)
        hashkv_agree(cluster, alive)
    print("join test passed")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, ClusterError) as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
