#!/usr/bin/env python3
"""No acknowledged write is lost when keeld loses power, over many kills.

    power_loss_test.py --binary .bazel/bin/node/keeld --ack-writer .bazel/bin/tests/ack_writer \\
        [--members 1] [--kills 100] [--seed 1] [--torn] [--posixenv-sync]

There is no device-mapper (dm-flakey) here, so power loss is modelled by keeld's failpoint
KEEL_FAILPOINT_LOSE_UNSYNCED (env/unsynced_loss_fs.h): keeld journals what became durable;
after a SIGKILL, the next start first drops everything that was not (unsynced bytes, files
whose directory entry was never synced), as a power cut would.

Each round:
1. start every member with the failpoint (the restart recovers the previous round's
   "power loss"); wait for /health (bounded);
2. check: every key's value is the latest acknowledged one or a later write (a linearizable
   read through `ack_writer dump`); compact;
3. `ack_writer write`: concurrent clients put unique values (--value-bytes each, so
   LevelDB's 4 MiB memtable fills and switches logs every few hundred puts) while
   --snapshot-count makes keeld snapshot (and remove WAL segments) every few hundred
   entries;
4. after a random delay, SIGKILL every member at once, then the writer.
A member that refuses to start, or any acknowledged write missing, fails the test at once
and prints after how many kills it happened. --posixenv-sync turns on
KEEL_FAILPOINT_LEVELDB_POSIXENV_SYNC (LevelDB PosixEnv's sync rule, which has the log-switch
gap) to show the test can see it. --torn keeps a seeded random prefix of each file's
unsynced tail (torn writes) instead of dropping it all.
"""

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.cluster import _LIVE_PROCESSES, Cluster, ClusterError  # noqa: E402

RECOVERY_LINE = re.compile(
    r"replayed (\d+) records: (\d+) files removed \(entry not durable\), (\d+) truncated, "
    r"(\d+) unsynced bytes dropped")


class Lost(Exception):
    pass


def run_tool(args, timeout_s=60):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s)
    return proc.returncode, proc.stdout, proc.stderr


def check_acked(tool, endpoint, acked):
    """Every acknowledged key holds its latest acknowledged value or a later one."""
    code, out, err = run_tool([tool, "dump", endpoint])
    if code != 0:
        raise Lost("read-back failed: %s" % err.strip())
    present = {}
    for line in out.splitlines():
        if line.startswith("END "):
            continue
        key, rnd, _, seq, _ = line.split()
        present[key] = (int(rnd), int(seq))
    lost = []
    for key, want in sorted(acked.items()):
        have = present.get(key)
        if have is None or have < want:
            lost.append("%s: acknowledged round %d seq %d, found %s" % (
                key, want[0], want[1], "nothing" if have is None else
                "round %d seq %d" % have))
    if lost:
        raise Lost("%d acknowledged writes lost:\n  %s" % (len(lost), "\n  ".join(lost[:20])))
    return len(present)


def recovery_totals(cluster, totals):
    for m in cluster.members:
        try:
            with open(m.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            continue
        for line in reversed(lines):
            match = RECOVERY_LINE.search(line)
            if match:
                for i, name in enumerate(("records", "removed", "truncated", "bytes")):
                    totals[name] += int(match.group(i + 1))
                break


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--ack-writer", required=True)
    parser.add_argument("--members", type=int, default=1)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--snapshot-count", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--keys-per-thread", type=int, default=16)
    parser.add_argument("--value-bytes", type=int, default=16384)
    parser.add_argument("--min-delay", type=float, default=0.3, help="seconds of load before a kill")
    parser.add_argument("--max-delay", type=float, default=3.0)
    parser.add_argument("--torn", action="store_true")
    parser.add_argument("--posixenv-sync", action="store_true")
    parser.add_argument("--workdir", default=None, help="kept afterwards (default: a temp dir, removed on success)")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    tool = os.path.abspath(args.ack_writer)
    rng = random.Random(args.seed)
    workdir = args.workdir or tempfile.mkdtemp(prefix="powerloss-", dir=os.environ.get("TEST_TMPDIR"))
    os.makedirs(workdir, exist_ok=True)
    print("power_loss_test: workdir %s, %d member(s), %d kills, seed %d%s%s" % (
        workdir, args.members, args.kills, args.seed, ", torn tails" if args.torn else "",
        ", LevelDB PosixEnv sync rule (the gap)" if args.posixenv_sync else ""), flush=True)

    start_seed = {"value": 0}

    def env_for(member):
        journal = os.path.join(workdir, member.name + ".journal")  # outside the data dir
        setting = journal + (":%d" % start_seed["value"] if args.torn else "")
        env = {"KEEL_FAILPOINT_LOSE_UNSYNCED": setting}
        if args.posixenv_sync:
            env["KEEL_FAILPOINT_LEVELDB_POSIXENV_SYNC"] = "1"
        return env

    acked = {}  # key -> (round, seq) of its latest acknowledged put
    totals = {"records": 0, "removed": 0, "truncated": 0, "bytes": 0, "puts": 0}
    kills = 0
    started = time.monotonic()
    cluster = Cluster(binary, args.members, workdir, heartbeat_ms=50, election_ms=500,
                      extra_flags=["--snapshot-count=%d" % args.snapshot_count], env_for=env_for)
    try:
        with cluster:
            for rnd in range(args.kills + 1):
                start_seed["value"] = rng.randrange(1 << 32)
                for i in range(args.members):
                    cluster.start_member(i)
                try:
                    cluster.wait_healthy(timeout_s=90)
                except ClusterError as e:
                    raise Lost("after %d kills the cluster did not come back: %s" % (kills, e))
                if rnd > 0:
                    recovery_totals(cluster, totals)
                endpoint = cluster.members[0].endpoint
                keys = check_acked(tool, endpoint, acked)
                if rnd == args.kills:
                    break
                code, _, err = run_tool([tool, "compact", endpoint])
                if code != 0:
                    raise ClusterError("compaction failed: %s" % err)
                ack_path = os.path.join(workdir, "acks-%04d.txt" % rnd)
                with open(ack_path, "wb") as out:
                    writer = subprocess.Popen(
                        [tool, "write", endpoint, str(rnd), str(args.threads),
                         str(args.keys_per_thread), str(args.value_bytes), "1000000"],
                        stdout=out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                        start_new_session=True)
                _LIVE_PROCESSES.add(writer)
                time.sleep(rng.uniform(args.min_delay, args.max_delay))
                # Power loss for the whole cluster: every member at once, then the clients.
                for m in cluster.members:
                    os.killpg(m.proc.pid, signal.SIGKILL)
                for i in range(args.members):
                    cluster.kill(i)
                os.killpg(writer.pid, signal.SIGKILL)
                writer.wait(timeout=15)
                _LIVE_PROCESSES.discard(writer)
                kills += 1
                puts = 0
                with open(ack_path) as f:
                    for line in f:
                        if not line.endswith("\n"):
                            continue  # cut by the kill: not counted
                        _, key, r, _, seq = line.split()
                        acked[key] = max(acked.get(key, (-1, -1)), (int(r), int(seq)))
                        puts += 1
                os.remove(ack_path)
                totals["puts"] += puts
                print("kill %d: %d puts acknowledged in this round (%d keys hold data)" % (
                    kills, puts, keys), flush=True)
    except Lost as e:
        print("FAIL after %d kills (%d acknowledged puts, %.0f s): %s" % (
            kills, totals["puts"], time.monotonic() - started, e), flush=True)
        print("workdir kept: %s" % workdir)
        return 1
    print("PASS: %d kills, %d acknowledged puts, every one present; recovery dropped %d "
          "unsynced bytes, truncated %d files, removed %d files whose entry was not durable "
          "(%d journal records); %.0f s" % (
              kills, totals["puts"], totals["bytes"], totals["truncated"], totals["removed"],
              totals["records"], time.monotonic() - started), flush=True)
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
