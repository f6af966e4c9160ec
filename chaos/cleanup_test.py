#!/usr/bin/env python3
"""keelchaos leaves no member behind: SIGTERM, SIGINT (the handler kills every child, exit
128+signo) and SIGKILL (each child's PR_SET_PDEATHSIG) all take the cluster down, paused
members included. Members are found by their --data-dir under the run's --work-dir."""
import os
import select
import signal
import subprocess
import sys
import tempfile
import time


def members_running(work_dir):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if ("--data-dir=" + work_dir).encode() in cmdline:
            pids.append(int(entry))
    return pids


def run_and_signal(keelchaos, keeld, sig, root):
    work_dir = tempfile.mkdtemp(dir=root)
    proc = subprocess.Popen(
        [keelchaos, "run", "--target=keeld", "--keeld=" + keeld, "--nodes=3", "--duration=600s",
         "--faults=pause,crash", "--workload=register", "--seed=5", "--work-dir=" + work_dir],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    line = b""
    deadline = time.time() + 60
    while b"cluster up" not in line:
        assert time.time() < deadline, "keelchaos did not report the cluster up"
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if ready:
            line = proc.stdout.readline()
            assert line, "keelchaos exited before the cluster was up (rc %s)" % proc.poll()
    pids = [int(p) for p in line.decode().split("pids=")[1].split()[0].split(",")]
    assert len(pids) == 3, line
    assert sorted(members_running(work_dir)) == sorted(pids), (members_running(work_dir), pids)
    time.sleep(3)  # into the first fault (a paused or killed member)
    proc.send_signal(sig)
    rc = proc.wait(timeout=30)
    if sig != signal.SIGKILL:
        assert rc == 128 + sig, "exit status %d after signal %d" % (rc, sig)
    deadline = time.time() + 10
    while members_running(work_dir):
        assert time.time() < deadline, "members left running after %s: %s" % (
            signal.Signals(sig).name, members_running(work_dir))
        time.sleep(0.1)
    print("%s: all members gone" % signal.Signals(sig).name)


def main():
    keelchaos, keeld = sys.argv[1], sys.argv[2]
    root = os.environ.get("TEST_TMPDIR", tempfile.gettempdir())
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
        run_and_signal(keelchaos, keeld, sig, root)
    print("OK")


if __name__ == "__main__":
    main()
