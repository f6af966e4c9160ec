#!/usr/bin/env python3
"""keeld's process contract: one-line errors with exit code 1 for bad flags, a busy port
and a locked data directory; exit code 0 after SIGTERM.

    keeld_flags_e2e_test.py --binary /path/to/keeld
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.cluster import Cluster  # noqa: E402

FAILURES = []


def check(condition, what, proc=None):
    if condition:
        print("ok  " + what)
        return
    detail = "" if proc is None else " (exit %s, stderr %r)" % (proc.returncode, proc.stderr)
    FAILURES.append(what + detail)
    print("FAIL " + what + detail)


def run(binary, args, timeout_s=20):
    return subprocess.run([binary] + args, capture_output=True, text=True, timeout=timeout_s)


def expect_error(binary, args, fragment, what):
    proc = run(binary, args)
    lines = proc.stderr.strip().splitlines()
    check(proc.returncode == 1 and len(lines) >= 1 and fragment in lines[-1],
          "%s -> exit 1, %r" % (what, fragment), proc)


def wait_listening(port, member, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if member.proc.poll() is not None:
            raise RuntimeError("keeld exited with %s" % member.proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("port %d not listening after %ss" % (port, timeout_s))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    binary = os.path.abspath(parser.parse_args().binary)
    workdir = tempfile.mkdtemp(prefix="flags-", dir=os.environ.get("TEST_TMPDIR"))

    expect_error(binary, ["--no-such-flag=1"], "flag provided but not defined: -no-such-flag",
                 "unknown flag")
    expect_error(binary, ["--heartbeat-interval=100", "--election-timeout=400"],
                 "--election-timeout[400ms] should be at least as 5 times as "
                 "--heartbeat-interval[100ms]", "election timeout < 5 heartbeats")
    expect_error(binary, ["--name=x"], "couldn't find local name \"x\"", "name not in cluster")

    with Cluster(binary, 1, workdir) as cluster:
        member = cluster.members[0]
        # A port somebody else holds: keeld must refuse to start, not serve half.
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        busy = holder.getsockname()[1]
        flags = cluster.flags(member)
        busy_flags = [f for f in flags if not f.startswith(("--listen-client-urls",
                                                            "--data-dir"))]
        busy_flags += ["--listen-client-urls=http://127.0.0.1:%d" % busy,
                       "--data-dir=" + os.path.join(workdir, "busy.data")]
        expect_error(binary, busy_flags, "127.0.0.1:%d" % busy, "busy client port")
        holder.close()

        # Listening on its metrics port means the data directory is open and locked (keeld
        # opens the server core before it binds client and metrics listeners). No leader is
        # needed for anything below.
        cluster.start_member(0)
        wait_listening(member.metrics_port, member)
        # Same data directory, other ports: the directory lock must refuse the second one.
        other = Cluster(binary, 1, os.path.join(workdir, "other"))
        second_flags = [f for f in other.flags(other.members[0]) if not f.startswith(
            ("--data-dir", "--name", "--initial-cluster=", "--initial-advertise-peer-urls"))]
        second_flags += ["--data-dir=" + member.data_dir, "--name=" + member.name,
                         "--initial-cluster=%s=%s" % (member.name, other.members[0].peer_url),
                         "--initial-advertise-peer-urls=" + other.members[0].peer_url]
        proc = run(binary, second_flags)
        check(proc.returncode == 1 and len(proc.stderr.strip().splitlines()) >= 1,
              "locked data dir -> exit 1 with a message", proc)

        member.proc.send_signal(signal.SIGTERM)
        code = member.proc.wait(timeout=20)
        check(code == 0, "SIGTERM -> graceful stop, exit 0 (got %s)" % code)
        member.proc = None

    if FAILURES:
        print("FAIL: %d checks failed" % len(FAILURES))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
