"""Runs an etcdctl script against a Cluster and returns a transcript.

Script syntax (one command per line, `#` comments, blank lines ignored):

    put foo bar                       etcdctl arguments, split like a shell (shlex)
    txn -i <<                         stdin for the command: the lines up to a line `>>`
    lease grant 100 => L1             capture the granted lease ID as $L1 (hex) / $L1_DEC
    [sorted] endpoint health ...      compare output lines as a set: normalize.py sorts them
                                      after normalizing (etcdctl prints in arrival order)
    [exit-only] move-leader $OTHER    record only the exit code (output is inherently varying)
    [mask=REGEX] get e --prefix       replace every match of REGEX in the output by <masked>
    @bg W1 watch --prefix w/          start a background etcdctl, named W1
    @end W1                           wait until W1's output is quiet, stop it, record output
    @sleep 0.5                        pause (only to let leases expire etc.)

Substitutions in arguments: $ALL (every client endpoint), $M0..$Mn (one endpoint),
$OTHER_ID (hex ID of a member that is not the leader), $TMP (a scratch directory), and
captured variables. Commands without --endpoints go to member 0.

The transcript is a list of lines: "$ <command as written>", then its stdout and stderr
lines (stderr prefixed "! "), then "exit N". Raw IDs, ports and timings are left in; see
normalize.py.
"""

import os
import re
import shlex
import signal
import subprocess
import time

from harness.cluster import ETCDCTL_BINARY

LEASE_GRANTED = re.compile(r"lease ([0-9a-f]+) granted")
OPTION = re.compile(r"^\[([a-z-]+)(?:=(.*?))?\]\s+")


class ScriptError(Exception):
    pass


def parse_script(text):
    """-> list of steps: dicts with kind, line, args, stdin, options, capture."""
    steps = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        step = {"line": line, "options": {}, "stdin": None, "capture": None}
        rest = line
        while True:
            m = OPTION.match(rest)
            if not m:
                break
            step["options"][m.group(1)] = m.group(2)
            rest = rest[m.end():]
        if rest.endswith("<<"):
            body = []
            while i < len(lines) and lines[i].strip() != ">>":
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise ScriptError("unterminated << block: " + line)
            i += 1
            step["stdin"] = "\n".join(body) + "\n"
            rest = rest[:-2].strip()
        if " => " in rest:
            rest, var = rest.rsplit(" => ", 1)
            step["capture"] = var.strip()
        words = shlex.split(rest)
        if words[0].startswith("@"):
            step["kind"] = words[0][1:]
            step["args"] = words[1:]
        else:
            step["kind"] = "run"
            step["args"] = words
        steps.append(step)
    return steps


class ScriptRunner:
    def __init__(self, cluster, scratch_dir, quiet_s=0.7, max_wait_s=8.0):
        self.cluster = cluster
        self.scratch_dir = scratch_dir
        self.quiet_s = quiet_s
        self.max_wait_s = max_wait_s
        self.vars = {}
        self.background = {}
        # Lease IDs captured with =>, in capture order (the normalizer names them).
        self.captured_leases = {}

    def _env(self):
        return dict(os.environ, ETCDCTL_API="3")

    def _substitute(self, args):
        values = {"ALL": self.cluster.endpoints(), "TMP": self.scratch_dir}
        for i, m in enumerate(self.cluster.members):
            values["M%d" % i] = m.endpoint
        values.update(self.vars)
        out = []
        for a in args:
            if "$OTHER_ID" in a:
                values["OTHER_ID"] = self._other_member_id()
            for name in sorted(values, key=len, reverse=True):  # $L10 before $L1
                a = a.replace("$" + name, values[name])
            out.append(a)
        return out

    def _other_member_id(self):
        leader = self.cluster.leader_index()
        ids = self.cluster.member_ids()
        for i, m in enumerate(self.cluster.members):
            if i != leader:
                return "%x" % ids[m.name]
        raise ScriptError("no follower to move leadership to")

    def _command(self, args):
        # etcdctl appends repeated --endpoints flags, so add the default only when absent.
        if any(a.startswith("--endpoints") for a in args):
            return [ETCDCTL_BINARY] + args
        return [ETCDCTL_BINARY, "--endpoints=" + self.cluster.members[0].endpoint] + args

    def run(self, text):
        transcript = []
        try:
            for step in parse_script(text):
                transcript.extend(self._run_step(step))
        finally:
            for name in list(self.background):
                self._stop_background(name)
        return transcript

    def _record(self, step, stdout, stderr, code):
        out = ["$ " + step["line"]]
        if "exit-only" in step["options"]:
            return out + ["exit %d" % code]
        lines = stdout.splitlines() + ["! " + l for l in stderr.splitlines()]
        mask = step["options"].get("mask")
        if mask:
            lines = [re.sub(mask, "<masked>", l) for l in lines]
        return out + lines + ["exit %d" % code]

    def _run_step(self, step):
        kind = step["kind"]
        if kind == "run":
            proc = subprocess.run(self._command(self._substitute(step["args"])),
                                  input=step["stdin"], capture_output=True, text=True,
                                  timeout=60, env=self._env())
            if step["capture"]:
                m = LEASE_GRANTED.search(proc.stdout)
                if not m:
                    raise ScriptError("nothing to capture from %r: %s%s" % (
                        step["line"], proc.stdout, proc.stderr))
                self.vars[step["capture"]] = m.group(1)
                self.vars[step["capture"] + "_DEC"] = str(int(m.group(1), 16))
                self.captured_leases[step["capture"]] = int(m.group(1), 16)
            return self._record(step, proc.stdout, proc.stderr, proc.returncode)
        if kind == "bg":
            name, args = step["args"][0], step["args"][1:]
            out_path = os.path.join(self.scratch_dir, "bg-%s.out" % name)
            err_path = os.path.join(self.scratch_dir, "bg-%s.err" % name)
            with open(out_path, "w") as out, open(err_path, "w") as err:
                proc = subprocess.Popen(self._command(self._substitute(args)), stdout=out,
                                        stderr=err, stdin=subprocess.DEVNULL,
                                        env=self._env(), start_new_session=True)
            self.background[name] = (proc, out_path, err_path, step)
            # Let the watch or campaign register before the next command runs.
            self._wait_quiet(out_path, proc, min_s=0.5)
            return ["$ " + step["line"]]
        if kind == "end":
            name = step["args"][0]
            if name not in self.background:
                raise ScriptError("no background command " + name)
            return self._stop_background(name)
        if kind == "sleep":
            time.sleep(float(step["args"][0]))
            return []
        raise ScriptError("unknown directive @" + kind)

    def _wait_quiet(self, path, proc, min_s=0.0):
        start = time.monotonic()
        last_size, last_change = -1, start
        while time.monotonic() - start < self.max_wait_s and proc.poll() is None:
            size = os.path.getsize(path)
            now = time.monotonic()
            if size != last_size:
                last_size, last_change = size, now
            elif now - last_change >= self.quiet_s and now - start >= min_s:
                return
            time.sleep(0.05)

    def _stop_background(self, name):
        proc, out_path, err_path, step = self.background.pop(name)
        self._wait_quiet(out_path, proc)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        with open(out_path) as f:
            stdout = f.read()
        with open(err_path) as f:
            stderr = f.read()
        # Exit status of an interrupted background command says nothing: record output only.
        record = self._record(dict(step, line="@end " + name + "  # " + step["line"]),
                              stdout, stderr, 0)
        return record[:-1]
