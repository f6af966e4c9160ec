#!/usr/bin/env python3
"""The deployment kit of node/deploy/ works as shipped (issue 14):

    deploy_test.py --binary /path/to/keeld --deploy-dir node/deploy [--unit-check]
    deploy_test.py --binary etcd --deploy-dir node/deploy    (the configs are etcd's too)

1. keeld-member{1,2,3}.yaml, with only their addresses, data dirs and certificate paths
   replaced (10.0.0.N:port -> 127.0.0.1:<reserved port>, /var/lib/keeld -> a temp dir,
   /etc/keeld/pki -> test certificates for 127.0.0.1), start a 3-member cluster with
   client TLS + client certificates and peer mTLS; etcdctl (with a client certificate)
   writes through one member and reads from every member; member list names all three.
2. keeld only: `--version` prints etcd's layout (Version, Git SHA, compiler, OS/Arch).
3. --unit-check: `systemd-analyze verify` accepts keeld.service (ExecStart pointed at the
   binary under test; it needs no running systemd).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.checks import fail  # noqa: E402
from harness import cluster as cluster_mod  # noqa: E402
from harness.certs import Certs  # noqa: E402
from harness.cluster import Cluster  # noqa: E402


def localized_config(text, c, n, workdir, certs):
    """The shipped member-n file with test addresses, data dir and certificates."""
    for k, m in enumerate(c.members, start=1):
        text = text.replace("10.0.0.%d:2379" % k, "127.0.0.1:%d" % m.client_port)
        text = text.replace("10.0.0.%d:2380" % k, "127.0.0.1:%d" % m.peer_port)
        text = text.replace("10.0.0.%d:2381" % k, "127.0.0.1:%d" % m.metrics_port)
    settings = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    if re.search(r"10\.0\.0\.\d", settings):
        fail("an address of member%d's file was not localized" % n)
    text = text.replace("/var/lib/keeld/member%d" % n, c.members[n - 1].data_dir)
    cert, key = certs["member%d" % n]
    text = text.replace("/etc/keeld/pki/member%d.pem" % n, cert)
    text = text.replace("/etc/keeld/pki/member%d-key.pem" % n, key)
    text = text.replace("/etc/keeld/pki/ca.pem", certs["ca"])
    settings = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    if "/etc/keeld" in settings or "/var/lib" in settings:
        fail("a path of member%d's file was not localized" % n)
    path = os.path.join(workdir, "member%d.yaml" % n)
    with open(path, "w") as f:
        f.write(text)
    return path


def start_from_configs(binary, deploy_dir, workdir):
    ca = Certs(os.path.join(workdir, "pki"))
    certs = {"ca": ca.ca}
    for n in (1, 2, 3):
        certs["member%d" % n] = ca.leaf("member%d" % n, "member%d" % n)
    client_cert, client_key = ca.leaf("client", "root")
    c = Cluster(binary, 3, workdir, prefix="member", client_tls=True, peer_tls=True,
                etcdctl_flags=["--cacert=" + ca.ca, "--cert=" + client_cert,
                               "--key=" + client_key])
    for n in (1, 2, 3):
        with open(os.path.join(deploy_dir, "keeld-member%d.yaml" % n)) as f:
            path = localized_config(f.read(), c, n, workdir, certs)
        m = c.members[n - 1]
        log = open(m.log_path, "ab")
        m.proc = subprocess.Popen([binary, "--config-file=" + path], stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
        log.close()
        cluster_mod._LIVE_PROCESSES.add(m.proc)
    return c


def check_cluster(c):
    c.wait_healthy(timeout_s=60)
    c.etcdctl(["put", "deployed", "yes"], endpoints=c.members[0].endpoint, check=True)
    for i, m in enumerate(c.members):
        got = c.etcdctl(["get", "deployed", "--print-value-only", "--consistency=s"],
                        endpoints=m.endpoint, check=True).stdout.strip()
        if got != "yes":
            # The write is committed; a follower may apply it a moment later.
            got = c.etcdctl(["get", "deployed", "--print-value-only"],
                            endpoints=m.endpoint, check=True).stdout.strip()
        if got != "yes":
            fail("member%d reads %r" % (i + 1, got))
    names = c.etcdctl(["member", "list"], check=True).stdout
    for n in (1, 2, 3):
        if ", member%d, " % n not in names:
            fail("member list lacks member%d:\n%s" % (n, names))
    print("config files: 3 members healthy over TLS, write replicated")


def check_version(binary):
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        fail("--version exited %d" % out.returncode)
    lines = out.stdout.strip().splitlines()
    want = [r"keeld Version: \d+\.\d+\.\d+$", r"etcd API Version: 3\.4$", r"Git SHA: \S",
            r"C\+\+ Compiler: \S", r"OS/Arch: linux/\w+$"]
    if len(lines) != len(want) or not all(re.match(w, l) for w, l in zip(want, lines)):
        fail("--version printed:\n%s" % out.stdout)
    print("--version:\n" + out.stdout.strip())


def check_unit(binary, deploy_dir, workdir):
    with open(os.path.join(deploy_dir, "keeld.service")) as f:
        unit = f.read()
    if "ExecStart=/usr/bin/keeld " not in unit:
        fail("keeld.service does not start /usr/bin/keeld")
    path = os.path.join(workdir, "keeld.service")
    with open(path, "w") as f:
        f.write(unit.replace("ExecStart=/usr/bin/keeld ", "ExecStart=%s " % os.path.abspath(binary)))
    p = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True,
                       timeout=60)
    # verify prints problems on stderr; a clean unit prints nothing.
    if p.returncode != 0 or p.stderr.strip():
        fail("systemd-analyze verify: rc=%d\n%s" % (p.returncode, p.stderr))
    print("keeld.service: systemd-analyze verify clean")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--deploy-dir", required=True)
    ap.add_argument("--unit-check", action="store_true")
    args = ap.parse_args()
    workdir = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp(prefix="deploy-")
    with start_from_configs(args.binary, args.deploy_dir, workdir) as c:
        check_cluster(c)
    if "keeld" in os.path.basename(args.binary):
        check_version(args.binary)
    if args.unit_check:
        check_unit(args.binary, args.deploy_dir, workdir)
    print("PASS")


if __name__ == "__main__":
    main()
