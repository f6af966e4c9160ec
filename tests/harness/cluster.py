"""Start, drive and always tear down a local cluster of keeld or etcd 3.4 processes.

Every process is started in its own session (process group) on 127.0.0.1 with ports picked
by the kernel, and is killed when the Cluster context exits, on SIGTERM/SIGINT, or at
interpreter exit, whatever happened in between. keeld and etcd take the same flags, so one
class serves both; the differential test relies on that.
"""

import atexit
import fcntl
import json
import os
import random
import signal
import socket
import subprocess
import time
import urllib.request

ETCD_BINARY = "/usr/bin/etcd"
ETCDCTL_BINARY = "/usr/bin/etcdctl"

# Every process started by any Cluster in this interpreter, for the last-resort cleanup.
_LIVE_PROCESSES = set()


def _kill_group(proc, sig=signal.SIGKILL):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _cleanup_all():
    for proc in list(_LIVE_PROCESSES):
        _kill_group(proc)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    _LIVE_PROCESSES.clear()


def _on_signal(signum, frame):
    _cleanup_all()
    raise SystemExit(128 + signum)


atexit.register(_cleanup_all)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def _ephemeral_port_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


# Ports handed out by free_ports stay reserved for this interpreter's lifetime through an
# flock on one file per port, shared by every test on the machine (bazel runs tests in
# parallel); the kernel drops the lock when the process dies, however it dies.
_PORT_LOCK_DIR = "/tmp/keel-test-ports"
_HELD_PORT_LOCKS = []


def _reserve_port(port):
    try:
        os.makedirs(_PORT_LOCK_DIR, exist_ok=True)
        f = open(os.path.join(_PORT_LOCK_DIR, str(port)), "a")
    except OSError:
        return True  # no shared directory: the bind check alone
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return False  # another test holds it
    _HELD_PORT_LOCKS.append(f)
    return True


def free_ports(count):
    """Ports free right now, distinct, picked at random OUTSIDE the kernel's ephemeral range,
    and reserved against other tests for as long as this process lives.

    Every outgoing connection (a member's peer links, each etcdctl call) takes its local
    port from the ephemeral range, and so does bind(port 0). A port picked there and
    released before a member binds it can be taken meanwhile by any such connection, which
    made parallel runs fail with "bind: address already in use". Outside that range only
    another test could take it, and the reservation (_reserve_port) rules that out."""
    low, high = _ephemeral_port_range()
    pool = (10000, low - 1) if low - 10000 >= 4096 else (high + 1, 65535)
    rng = random.SystemRandom()
    sockets = []
    try:
        for _ in range(1000):  # bounded: a busy port is skipped, not waited for
            if len(sockets) == count:
                break
            port = rng.randint(*pool)
            if any(s.getsockname()[1] == port for s in sockets):
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            if not _reserve_port(port):
                s.close()
                continue
            sockets.append(s)
        if len(sockets) != count:
            raise ClusterError("no %d free ports in %d-%d" % (count, pool[0], pool[1]))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Member:
    def __init__(self, name, client_port, peer_port, metrics_port, data_dir, log_path):
        self.name = name
        self.client_port = client_port
        self.peer_port = peer_port
        self.metrics_port = metrics_port
        self.data_dir = data_dir
        self.log_path = log_path
        self.proc = None
        # "https" for TLS ports (tests/tls_test.py); the TLS flags come in extra_flags.
        self.client_scheme = "http"
        self.peer_scheme = "http"

    @property
    def client_url(self):
        return "%s://127.0.0.1:%d" % (self.client_scheme, self.client_port)

    @property
    def peer_url(self):
        return "%s://127.0.0.1:%d" % (self.peer_scheme, self.peer_port)

    @property
    def endpoint(self):
        return "127.0.0.1:%d" % self.client_port

    def running(self):
        return self.proc is not None and self.proc.poll() is None


class ClusterError(Exception):
    pass


class Cluster:
    """N members of `binary` (keeld or etcd) under `workdir`. Use as a context manager."""

    def __init__(self, binary, size, workdir, prefix="m", token="keel-test",
                 heartbeat_ms=50, election_ms=500, extra_flags=(), env_for=None,
                 client_tls=False, peer_tls=False, etcdctl_flags=(), flags_for=None):
        assert 1 <= size <= 7, size
        self.binary = binary
        self.workdir = workdir
        self.token = token
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.extra_flags = list(extra_flags)
        # env_for(member) -> extra environment variables for that member's process
        # (keeld's failpoints), or None.
        self.env_for = env_for
        ports = free_ports(3 * size)
        self.members = []
        for i in range(size):
            name = "%s%d" % (prefix, i)
            self.members.append(Member(
                name, ports[3 * i], ports[3 * i + 1], ports[3 * i + 2],
                os.path.join(workdir, name + ".data"), os.path.join(workdir, name + ".log")))
            self.members[-1].client_scheme = "https" if client_tls else "http"
            self.members[-1].peer_scheme = "https" if peer_tls else "http"
        # TLS: etcdctl's --cacert/--cert/--key for every etcdctl call; flags_for(member) ->
        # that member's own extra flags (its certificates).
        self.etcdctl_flags = list(etcdctl_flags)
        self.flags_for = flags_for

    def __enter__(self):
        os.makedirs(self.workdir, exist_ok=True)
        return self

    def __exit__(self, exc_type, exc, tb):
        unclean = self.stop_all()
        if unclean and exc_type is None:
            raise ClusterError("unclean shutdown on SIGTERM:\n" + "\n".join(unclean))
        return False

    # ---- processes ----
    def initial_cluster(self):
        return ",".join("%s=%s" % (m.name, m.peer_url) for m in self.members)

    def flags(self, member, state="new"):
        return [
            "--name=" + member.name,
            "--data-dir=" + member.data_dir,
            "--listen-client-urls=" + member.client_url,
            "--advertise-client-urls=" + member.client_url,
            "--listen-peer-urls=" + member.peer_url,
            "--initial-advertise-peer-urls=" + member.peer_url,
            "--listen-metrics-urls=http://127.0.0.1:%d" % member.metrics_port,
            "--initial-cluster=" + self.initial_cluster(),
            "--initial-cluster-token=" + self.token,
            "--initial-cluster-state=" + state,
            "--heartbeat-interval=%d" % self.heartbeat_ms,
            "--election-timeout=%d" % self.election_ms,
        ] + self.extra_flags + (list(self.flags_for(member)) if self.flags_for else [])

    def start_member(self, index):
        member = self.members[index]
        assert not member.running(), member.name
        log = open(member.log_path, "ab")
        env = None
        extra_env = self.env_for(member) if self.env_for else None
        if extra_env:
            env = dict(os.environ, **extra_env)
        member.proc = subprocess.Popen(
            [self.binary] + self.flags(member), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        log.close()
        _LIVE_PROCESSES.add(member.proc)

    def start(self, timeout_s=30):
        for i in range(len(self.members)):
            self.start_member(i)
        self.wait_healthy(timeout_s)
        return self

    def kill(self, index, sig=signal.SIGKILL):
        member = self.members[index]
        if member.proc is None:
            return
        _kill_group(member.proc, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            try:
                member.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _kill_group(member.proc, signal.SIGKILL)
                member.proc.wait(timeout=5)
            _LIVE_PROCESSES.discard(member.proc)
            member.proc = None

    def stop_all(self):
        """Stops every running member the way an init system does: SIGTERM to all at once,
        then waits. Returns what went wrong on the way down: a graceful stop exits cleanly
        (keeld with 0; etcd re-raises SIGTERM after its own cleanup), so any other exit,
        a crash, or a member still running after 15 s is a finding."""
        running = [(i, m) for i, m in enumerate(self.members) if m.proc is not None]
        for _, m in running:
            _kill_group(m.proc, signal.SIGTERM)
        unclean = []
        for i, m in running:
            try:
                code = m.proc.wait(timeout=15)
                if code not in (0, -signal.SIGTERM):
                    unclean.append("%s exited with %s; log tail:\n%s" % (m.name, code, self.log_tail(i)))
            except subprocess.TimeoutExpired:
                _kill_group(m.proc, signal.SIGKILL)
                m.proc.wait(timeout=5)
                unclean.append("%s still running 15 s after SIGTERM" % m.name)
            _LIVE_PROCESSES.discard(m.proc)
            m.proc = None
        return unclean

    def log_tail(self, index, lines=30):
        try:
            with open(self.members[index].log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError as e:
            return str(e)

    # ---- health ----
    def member_healthy(self, member):
        try:
            with urllib.request.urlopen(
                    "http://127.0.0.1:%d/health" % member.metrics_port, timeout=2) as resp:
                return resp.status == 200 and json.loads(resp.read()).get("health") == "true"
        except Exception:  # connection refused, 503, bad body: all mean "not yet"
            return False

    def wait_healthy(self, timeout_s=30, indexes=None):
        indexes = range(len(self.members)) if indexes is None else indexes
        deadline = time.monotonic() + timeout_s
        while True:
            pending = [i for i in indexes if not self.member_healthy(self.members[i])]
            if not pending:
                return
            for i in pending:
                m = self.members[i]
                if m.proc is not None and m.proc.poll() is not None:
                    raise ClusterError("%s exited with %s:\n%s" % (
                        m.name, m.proc.returncode, self.log_tail(i)))
            if time.monotonic() > deadline:
                raise ClusterError("not healthy after %ss: %s\n%s" % (
                    timeout_s, [self.members[i].name for i in pending],
                    "\n".join(self.log_tail(i) for i in pending)))
            time.sleep(0.1)

    # ---- client ----
    def endpoints(self, indexes=None):
        indexes = range(len(self.members)) if indexes is None else indexes
        return ",".join(self.members[i].endpoint for i in indexes)

    def etcdctl(self, args, endpoints=None, input=None, timeout_s=30, check=False):
        env = dict(os.environ, ETCDCTL_API="3")
        cmd = ([ETCDCTL_BINARY, "--endpoints=" + (endpoints or self.members[0].endpoint)] +
               self.etcdctl_flags + args)
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True,
                              timeout=timeout_s, env=env)
        if check and proc.returncode != 0:
            raise ClusterError("%s failed (%d): %s%s" % (
                " ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def status(self, index):
        proc = self.etcdctl(["endpoint", "status", "-w", "json"],
                            endpoints=self.members[index].endpoint, timeout_s=10)
        if proc.returncode != 0:
            return None
        return json.loads(proc.stdout)[0]["Status"]

    def leader_index(self, timeout_s=15):
        """Index of the member every reachable member agrees leads, waiting for one."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for i, m in enumerate(self.members):
                if not m.running():
                    continue
                st = self.status(i)
                if st and st["leader"] and st["leader"] == st["header"]["member_id"]:
                    return i
            time.sleep(0.1)
        raise ClusterError("no leader after %ss" % timeout_s)

    def member_ids(self):
        """name -> member ID (int), from the cluster itself."""
        proc = self.etcdctl(["member", "list", "-w", "json"], check=True)
        return {m["name"]: m["ID"] for m in json.loads(proc.stdout)["members"]}
