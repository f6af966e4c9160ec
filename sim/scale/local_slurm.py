"""A single-host Slurm on loopback, for tests: munged, slurmctld and slurmd started (and
always stopped) by the caller, each with its own state under one short directory in /tmp
(Unix socket paths must fit in 108 bytes, which Bazel's TEST_TMPDIR does not), a munge key
generated for this run, ports reserved with tests/harness, nothing in /etc touched.

    with LocalSlurm(cpus=4) as slurm:
        subprocess.run(["sbatch", ...], env=slurm.env())

Debian 12: slurmctld slurmd munge slurm-client (tools/setup). The daemons run as root
(slurmd must, to start jobs as their user); MISSING() says what is absent here.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

from tests.harness import cluster as harness

BINARIES = {
    "munged": "/usr/sbin/munged",
    "mungekey": "/usr/sbin/mungekey",
    "slurmctld": "/usr/sbin/slurmctld",
    "slurmd": "/usr/sbin/slurmd",
    "sbatch": "/usr/bin/sbatch",
    "sinfo": "/usr/bin/sinfo",
    "scancel": "/usr/bin/scancel",
}


def missing():
    """Why a local Slurm cannot run here, or None."""
    absent = [path for path in BINARIES.values() if not os.access(path, os.X_OK)]
    if absent:
        return ("not installed: %s (Debian 12 packages slurmctld slurmd munge slurm-client; "
                "tools/setup installs them)" % " ".join(absent))
    if os.geteuid() != 0:
        return "slurmd runs as root to start jobs, and this test runs as uid %d" % os.geteuid()
    return None


class LocalSlurmError(Exception):
    pass


class LocalSlurm:
    def __init__(self, cpus=4, start_timeout_s=30):
        self.cpus = cpus
        self.start_timeout_s = start_timeout_s
        self.dir = None
        self.procs = []

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def env(self):
        env = dict(os.environ)
        env["SLURM_CONF"] = self.path("slurm.conf")
        return env

    def log_tails(self, lines=20):
        out = []
        for name in ("munged.log", "slurmctld.log", "slurmd.log"):
            try:
                with open(self.path("log", name), errors="replace") as f:
                    tail = f.read().splitlines()[-lines:]
            except OSError:
                continue
            out.append("--- %s\n%s" % (name, "\n".join(tail)))
        return "\n".join(out)

    def _spawn(self, argv, log_name):
        log = open(self.path("log", log_name + ".out"), "w")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env=self.env())
        log.close()
        self.procs.append(proc)
        harness._LIVE_PROCESSES.add(proc)  # killed by the harness if this process dies first
        return proc

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="keel-slurm-", dir="/tmp")
        for sub in ("munge", "state", "spool", "log"):
            os.makedirs(self.path(sub), mode=0o700)
        # munged refuses a socket directory others cannot traverse; the key stays 0600.
        os.chmod(self.dir, 0o755)
        os.chmod(self.path("munge"), 0o755)
        key = self.path("munge", "munge.key")
        subprocess.run([BINARIES["mungekey"], "--create", "--keyfile=" + key], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(key, 0o600)
        socket_path = self.path("munge", "munge.socket")
        ctld_port, slurmd_port = harness.free_ports(2)
        with open(self.path("slurm.conf"), "w") as f:
            f.write(CONF_TEMPLATE.format(dir=self.dir, socket=socket_path, ctld_port=ctld_port,
                                         slurmd_port=slurmd_port, cpus=self.cpus))
        self._spawn([BINARIES["munged"], "--foreground", "--force", "--socket=" + socket_path,
                     "--key-file=" + key, "--log-file=" + self.path("log", "munged.log"),
                     "--pid-file=" + self.path("munge", "munged.pid"),
                     "--seed-file=" + self.path("munge", "munged.seed")], "munged")
        self._wait(lambda: os.path.exists(socket_path), "munged's socket")
        conf = self.path("slurm.conf")
        self._spawn([BINARIES["slurmctld"], "-D", "-i", "-f", conf], "slurmctld")
        self._spawn([BINARIES["slurmd"], "-D", "-N", "localhost", "-f", conf], "slurmd")
        self._wait(self._node_idle, "the node to register as idle")

    def _node_idle(self):
        r = subprocess.run([BINARIES["sinfo"], "-h", "-N", "-o", "%T"], env=self.env(),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return r.returncode == 0 and r.stdout.strip() == "idle"

    def _wait(self, ready, what):
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:  # bounded by the start timeout
            for proc in self.procs:
                if proc.poll() is not None:
                    raise LocalSlurmError("%s exited with %s while waiting for %s\n%s" % (
                        proc.args[0], proc.returncode, what, self.log_tails()))
            if ready():
                return
            time.sleep(0.2)
        raise LocalSlurmError("timed out waiting for %s\n%s" % (what, self.log_tails()))

    def stop(self):
        """Cancels every job, stops the daemons (TERM, then KILL), removes the directory."""
        if self.procs and os.path.exists(self.path("slurm.conf")):
            subprocess.run([BINARIES["scancel"], "--full", "--user=root"], env=self.env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=15)
        for proc in reversed(self.procs):  # slurmd, slurmctld, then munged
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            harness._LIVE_PROCESSES.discard(proc)
        self.procs = []
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


# No cgroups, no accounting database: proctrack/linuxproc and task/none run in a container.
# SlurmdParameters=config_overrides lets the node declare CPUs=N on a smaller machine, so N
# array tasks run at once. MinJobAge keeps finished jobs visible to `scontrol show job`.
CONF_TEMPLATE = """\
ClusterName=keeltest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={socket}
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/log/slurmctld.log
SlurmdLogFile={dir}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=1000 State=UNKNOWN
PartitionName=sim Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""
