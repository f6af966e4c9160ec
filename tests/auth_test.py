#!/usr/bin/env python3
"""Auth/RBAC end to end, against etcd 3.4 and keeld with the same etcdctl 3.4 commands.

--mode=diff (one member each, transcripts compared line by line):
  user add root, auth enable (etcdctl adds the root role itself), a write without
  credentials ("user name is empty"), root writes, role r with readwrite on the prefix /a/,
  user u granted r; u reads /a/x but not /b, may not write /b; wrong password and unknown
  user get the same answer; u may not list users but may get itself and its own role,
  not the root role; u may not defragment (etcd's "auth: permission denied", code Unknown);
  root may not be deleted nor lose its role, the root role may not be deleted while auth is
  on; duplicate names and unknown roles refused; a changed password invalidates the old
  one; a watch on a range u may not read is created and canceled by the server; a revoked
  permission denies at once; a lease holding a key u may not write cannot be revoked by u;
  user/role list/get outputs; auth disable opens everything; without a root user auth
  enable is refused.

--mode=snapshot (3 members, --snapshot-count=1000): a follower is killed, the others take
  more entries than the leader keeps for slow followers, then the auth changes (users,
  role, permission, auth enable) are made; the restarted follower catches up through a
  snapshot (the transfer is asserted from the metrics) and enforces them when asked
  directly: u reads /a/x there, is denied /b, root is needed to list users.

  The same session drives python3-etcd3 (Debian's) with user and password.

    auth_test.py --mode=diff --binary /path/to/keeld [--etcd /usr/bin/etcd] [--tls]

--tls: the same diff session over a TLS client port with --client-cert-auth (certificates
  made by the test): etcdctl with --cacert/--cert/--key and --user, python3-etcd3 with
  ca_cert/cert_cert/cert_key and user/password (which works fully only over TLS); the
  client certificate's CN names no user, so credential-less calls act as that unknown
  user.
    auth_test.py --mode=snapshot --binary /path/to/keeld|etcd --put-load /path/to/put_load
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.auth import ROOT, U, compare_lines, error_lines  # noqa: E402
from harness.cluster import ETCD_BINARY, Cluster  # noqa: E402


def python_etcd3_session(member, tls=None):
    """python3-etcd3 (Debian's, unmodified) with user and password: it authenticates once
    and sends the token with every call. `tls`: (ca, cert, key) for a TLS client port."""
    import etcd3  # Debian's python3-etcd3; /usr/bin/python3 has it
    out = []

    def attempt(label, fn):
        try:
            result = fn()
            out.append("python-etcd3 %s: ok %r" % (label, result))
        except Exception as e:  # the library's exception class, code and text are the answer
            code = e.code() if hasattr(e, "code") else None
            details = e.details() if hasattr(e, "details") else str(e)
            out.append("python-etcd3 %s: %s %s %s" % (label, type(e).__name__, code, details))

    tls_args = {}
    if tls:
        tls_args = dict(ca_cert=tls[0], cert_cert=tls[1], cert_key=tls[2])
    client = etcd3.client(host="127.0.0.1", port=member.client_port, user="u", password="pw",
                          **tls_args)
    attempt("get /a/x", lambda: client.get("/a/x")[0])
    attempt("put /a/p", lambda: client.put("/a/p", "v") and "put")
    attempt("get /b", lambda: client.get("/b")[0])
    attempt("put /b", lambda: client.put("/b", "v") and "put")
    attempt("delete /a/p", lambda: client.delete("/a/p"))
    client.close()
    attempt("wrong password", lambda: etcd3.client(
        host="127.0.0.1", port=member.client_port, user="u", password="nope", **tls_args))
    return out


def session(binary, workdir, certs=None):
    """`certs` (harness.certs.Certs): the client port is TLS with --client-cert-auth, and
    every client (etcdctl, python3-etcd3) presents a certificate whose CN "client" names
    no user, so credential-less calls act as that unknown user (etcd's CN rule)."""
    out = []
    tls = {}
    if certs:
        server_cert = certs.leaf(os.path.basename(workdir) + "-server", "server")
        client_cert = certs.leaf(os.path.basename(workdir) + "-client", "client")
        tls = dict(client_tls=True,
                   etcdctl_flags=["--cacert=" + certs.ca, "--cert=" + client_cert[0],
                                  "--key=" + client_cert[1]],
                   flags_for=lambda m: ["--cert-file=" + server_cert[0],
                                        "--key-file=" + server_cert[1],
                                        "--trusted-ca-file=" + certs.ca, "--client-cert-auth"])
    # bcrypt's minimum cost on both servers: ~60 authentications per session.
    with Cluster(binary, 1, workdir, extra_flags=["--bcrypt-cost=4"], **tls) as c:
        c.start()
        endpoint = c.members[0].endpoint

        def ctl(*args, input=None):
            p = c.etcdctl(list(args), input=input)
            text = "%s: rc=%d out=%r err=%r" % (
                " ".join(args), p.returncode, p.stdout.strip(), error_lines(p.stderr))
            # Lease IDs differ between servers by design.
            text = re.sub(r"(lease[ =])[0-9a-f]+", r"\1<lease>",
                          text.replace(endpoint, "<endpoint>"))
            out.append(text)
            return p

        ctl("user", "add", "root:pw")
        ctl("auth", "enable")
        ctl("put", "foo", "bar")
        ctl("get", "foo")
        ctl(*ROOT, "put", "/a/x", "1")
        ctl(*ROOT, "put", "/b", "2")
        ctl(*ROOT, "role", "add", "r")
        ctl(*ROOT, "role", "grant-permission", "r", "readwrite", "/a/", "--prefix")
        ctl(*ROOT, "user", "add", "u:pw")
        ctl(*ROOT, "user", "grant-role", "u", "r")
        out.extend(python_etcd3_session(
            c.members[0], (certs.ca, client_cert[0], client_cert[1]) if certs else None))
        ctl(*U, "get", "/a/x")
        ctl(*U, "get", "/a/x", "--consistency=s")
        ctl(*U, "get", "/a/", "--prefix")
        ctl(*U, "get", "/b")
        ctl(*U, "get", "/a", "--prefix")
        ctl(*U, "put", "/b", "3")
        ctl(*U, "put", "/a/y", "3")
        ctl(*U, "del", "/a/", "--prefix", "--prev-kv")
        ctl(*U, "txn", input="value(\"/a/x\") = \"1\"\n\nput /b 4\n\n\n")
        ctl(*U, "txn", input="value(\"/a/y\") = \"3\"\n\nput /a/z 4\n\n\n")
        ctl("--user", "u:wrong", "get", "/a/x")
        ctl("--user", "nobody:pw", "get", "/a/x")
        ctl(*U, "user", "list")
        ctl(*U, "user", "get", "u")
        ctl(*U, "user", "get", "root")
        ctl(*U, "role", "get", "r")
        ctl(*U, "role", "get", "root")
        ctl(*U, "defrag")
        ctl(*ROOT, "user", "list")
        ctl(*ROOT, "role", "list")
        ctl(*ROOT, "user", "get", "root")
        ctl(*ROOT, "user", "get", "u")
        ctl(*ROOT, "role", "get", "r")
        ctl(*ROOT, "role", "get", "root")
        ctl(*ROOT, "user", "delete", "root")
        ctl(*ROOT, "role", "delete", "root")
        ctl(*ROOT, "user", "revoke-role", "root", "root")
        ctl(*ROOT, "user", "add", "u:pw")
        ctl(*ROOT, "role", "add", "r")
        ctl(*ROOT, "user", "grant-role", "u", "nope")
        ctl(*ROOT, "user", "revoke-role", "u", "nope")
        ctl(*ROOT, "role", "revoke-permission", "r", "/nope")
        ctl(*ROOT, "user", "get", "nobody")
        ctl(*ROOT, "role", "get", "nope")
        ctl(*U, "watch", "/b")
        # A lease holding a key u may not write: u may not revoke it.
        p = ctl(*ROOT, "lease", "grant", "600")
        lease = re.search(r"lease ([0-9a-f]+) granted", p.stdout)
        if lease:
            ctl(*ROOT, "put", "/b", "leased", "--lease=" + lease.group(1))
            p = c.etcdctl(U + ["lease", "revoke", lease.group(1)])
            out.append("u lease revoke: rc=%d err=%r" % (p.returncode, error_lines(p.stderr)))
            p = c.etcdctl(ROOT + ["lease", "revoke", lease.group(1)])
            out.append("root lease revoke: rc=%d" % p.returncode)
        ctl("user", "passwd", "u", "--interactive=false", input="newpw\n")
        ctl(*ROOT, "user", "passwd", "u", "--interactive=false", input="newpw\n")
        ctl(*U, "get", "/a/x")
        ctl("--user", "u:newpw", "get", "/a/x")
        ctl(*ROOT, "role", "revoke-permission", "r", "/a/", "--prefix")
        ctl("--user", "u:newpw", "get", "/a/x")
        ctl(*ROOT, "role", "get", "r")
        ctl(*ROOT, "role", "delete", "r")
        ctl(*ROOT, "user", "get", "u")
        ctl(*ROOT, "user", "delete", "u")
        ctl(*ROOT, "auth", "disable")
        ctl("get", "/a/x")
        ctl("put", "/b", "5")
        ctl("user", "list")
        ctl("role", "list")
        ctl("user", "delete", "root")
        ctl("auth", "enable")
        ctl("user", "get", "root")
    return out


def diff_mode(args):
    root = tempfile.mkdtemp(prefix="auth-", dir=os.environ.get("TEST_TMPDIR"))
    certs = None
    if args.tls:
        from harness.certs import Certs
        certs = Certs(os.path.join(root, "certs"))
    want = session(args.etcd, os.path.join(root, "etcd"), certs)
    got = session(os.path.abspath(args.binary), os.path.join(root, "keeld"), certs)
    failures = compare_lines(want, got)
    # The reference must show the behaviour, or the comparison proves nothing.
    # Over TLS the certificate's CN is the (unknown) user instead of nobody, and
    # python3-etcd3's token works there.
    needed = ["permission denied"] + (
        ["python-etcd3 get /a/x: ok"] if certs else ["user name is empty"])
    if any(n not in "\n".join(want) for n in needed):
        print("FAIL etcd never refused anything: the test is wrong")
        failures += 1
    print("%d passed, %d failed" % (len(want) - failures, failures))
    return 1 if failures else 0


def metric(member, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % member.metrics_port,
                                timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.split()[-1])
    return 0.0


def snapshot_mode(args):
    workdir = tempfile.mkdtemp(prefix="authsnap-", dir=os.environ.get("TEST_TMPDIR"))
    binary = os.path.abspath(args.binary) if os.sep in args.binary else args.binary
    with Cluster(binary, 3, workdir, heartbeat_ms=100, election_ms=1000,
                 extra_flags=["--snapshot-count=1000"]) as c:
        c.start()
        c.etcdctl(["put", "/a/x", "1"], check=True)
        leader = c.leader_index()
        follower = (leader + 1) % 3
        c.kill(follower, signal.SIGKILL)
        live = c.endpoints([i for i in range(3) if i != follower])
        # More entries than the leader keeps for a slow follower (5000): it must send a
        # snapshot. Credential-less, so before auth is enabled.
        subprocess.run([os.path.abspath(args.put_load), c.members[leader].endpoint, "16", "400"],
                       check=True, capture_output=True, timeout=600)
        for cmd in (["user", "add", "root:pw"], ["user", "add", "u:pw"],
                    ["role", "add", "r"],
                    ["role", "grant-permission", "r", "read", "/a/", "--prefix"],
                    ["user", "grant-role", "u", "r"], ["auth", "enable"]):
            c.etcdctl(cmd, endpoints=live, check=True)
        c.start_member(follower)
        c.wait_healthy(60, indexes=[follower])
        me = c.members[follower].endpoint
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            p = c.etcdctl(U + ["get", "/a/x", "--consistency=s", "--print-value-only"],
                          endpoints=me)
            if p.returncode == 0 and p.stdout.strip() == "1":
                break
            time.sleep(0.2)
        failures = []
        p = c.etcdctl(U + ["get", "/a/x", "--consistency=s", "--print-value-only"], endpoints=me)
        if p.returncode != 0 or p.stdout.strip() != "1":
            failures.append("u cannot read /a/x on the follower: %r %r" % (p.stdout, p.stderr))
        for cmd, want in ((U + ["get", "/b", "--consistency=s"], "etcdserver: permission denied"),
                          (U + ["put", "/a/y", "1"], "etcdserver: permission denied"),
                          (U + ["user", "list"], "etcdserver: permission denied"),
                          (["get", "/a/x", "--consistency=s"], "etcdserver: user name is empty")):
            p = c.etcdctl(cmd, endpoints=me)
            if p.returncode == 0 or ("Error: " + want) not in error_lines(p.stderr):
                failures.append("%s on the follower: rc=%d %r (want %r)" % (
                    " ".join(cmd), p.returncode, error_lines(p.stderr), want))
        p = c.etcdctl(ROOT + ["user", "list"], endpoints=me)
        if p.stdout.split() != ["root", "u"]:
            failures.append("root's user list on the follower: %r %r" % (p.stdout, p.stderr))
        received = metric(c.members[follower], "etcd_network_snapshot_receive_success")
        if not received:
            failures.append("the follower caught up without a snapshot: the test proves nothing")
        for f in failures:
            print("FAIL " + f)
        if failures:
            print(c.log_tail(follower))
            return 1
        print("PASS: the follower installed a snapshot (%d received) and enforces the auth "
              "changes it carried" % received)
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["diff", "snapshot"], required=True)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--etcd", default=ETCD_BINARY)
    parser.add_argument("--put-load")
    parser.add_argument("--tls", action="store_true",
                        help="diff mode over a TLS client port with --client-cert-auth")
    args = parser.parse_args()
    return diff_mode(args) if args.mode == "diff" else snapshot_mode(args)


if __name__ == "__main__":
    sys.exit(main())
