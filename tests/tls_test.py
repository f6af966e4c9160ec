#!/usr/bin/env python3
"""TLS and mTLS on the client and peer ports, with etcd 3.4's flags and clients unmodified.

    tls_test.py --binaries=etcd            (checks the test itself)
    tls_test.py --binaries=etcd,/path/to/keeld   (both, transcripts compared)

Certificates are made by the test (harness/certs.py, openssl CLI) in a temp dir. First,
the same bad TLS flags on every binary must exit 1 with the same message (etcd's: https
peer/client URL without certificates, unknown cipher suite, unreadable certificate). For
each binary, a 3-member cluster with client TLS (--cert-file/--key-file/--trusted-ca-file,
--client-cert-auth) and peer mTLS (--peer-* with --peer-client-cert-auth):
  * etcdctl 3.4 with --cacert/--cert/--key: put, get, watch, member list, endpoint health;
    the normalized transcripts of all binaries must be equal;
  * writes replicate: a serializable get on every member sees a put made through one;
  * curl https://.../health with the client certificate answers {"health":"true"};
  * python3-etcd3 with ca_cert/cert_key/cert_cert puts and gets;
  * refused, with the same outcome on every binary: plaintext gRPC (etcdctl without TLS
    flags) to the TLS port, plaintext HTTP (curl http://) to the TLS port
    (etcd closes it without a reply), a client certificate from the wrong CA, an expired client certificate, no client
    certificate under --client-cert-auth;
  * a 4th-party check on the peer port: a cluster whose third member has a peer certificate
    from the wrong CA elects a leader from the other two and serves writes, the odd member
    never becomes healthy (it cannot replicate), and a good member logs the refusal
    ("rejected connection");
  * --auto-tls --peer-auto-tls: self-signed certificates under <data-dir>/fixtures/,
    etcdctl --insecure-skip-tls-verify and curl -k served;
  * revoke: --client-crl-file refuses a revoked client certificate and is re-read for
    every connection (a CRL updated in place applies without a restart); a member whose
    peer certificate is in --peer-crl-file has its connections refused (logged); one whose
    CN is not --peer-cert-allowed-cn is isolated as the wrong-CA peer is.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.certs import Certs  # noqa: E402
from harness.cluster import ETCD_BINARY, ETCDCTL_BINARY, Cluster, ClusterError  # noqa: E402
from harness.normalize import Context, normalize  # noqa: E402


KEELCTL = None  # --keelctl: also drive keelctl with etcdctl's TLS flags


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def tls_flags(certs, member_certs):
    def flags_for(member):
        cert, key = member_certs[member.name]
        return ["--cert-file=" + cert, "--key-file=" + key, "--trusted-ca-file=" + certs.ca,
                "--client-cert-auth",
                "--peer-cert-file=" + cert, "--peer-key-file=" + key,
                "--peer-trusted-ca-file=" + certs.ca, "--peer-client-cert-auth"]
    return flags_for


def run(cmd, timeout_s=30, input=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, input=input,
                          env=dict(os.environ, ETCDCTL_API="3"))
    return proc


def record(transcript, label, proc):
    transcript.append("$ " + label)
    transcript.extend(proc.stdout.splitlines())
    transcript.extend("! " + line for line in proc.stderr.splitlines())
    transcript.append("exit %d" % proc.returncode)


def etcdctl_tls(certs, client, endpoint, args, timeout_s=30):
    cert, key = client
    return run([ETCDCTL_BINARY, "--endpoints=" + endpoint, "--cacert=" + certs.ca,
                "--cert=" + cert, "--key=" + key, "--dial-timeout=1s",
                "--command-timeout=1s"] + args, timeout_s)


def main_cluster(binary, workdir, certs, client_certs):
    """The cluster scenario; returns the normalized transcript."""
    transcript = []
    member_certs = {"m%d" % i: certs.leaf("%s-m%d" % (os.path.basename(workdir), i), "m%d" % i)
                    for i in range(3)}
    good = client_certs["good"]
    with Cluster(binary, 3, workdir, client_tls=True, peer_tls=True,
                 etcdctl_flags=["--cacert=" + certs.ca, "--cert=" + good[0], "--key=" + good[1]],
                 flags_for=tls_flags(certs, member_certs)) as c:
        c.start(timeout_s=60)
        c.leader_index()
        ep = c.members[0].endpoint
        ids = c.member_ids()
        status = json.loads(c.etcdctl(["endpoint", "status", "-w", "json"], check=True).stdout)
        cluster_id = status[0]["Status"]["header"]["cluster_id"]

        # etcdctl with TLS: the same commands as against plaintext etcd.
        watch_out = open(os.path.join(workdir, "watch.out"), "w+")
        # From the next revision on: no event is missed, however late the watch starts.
        next_rev = status[0]["Status"]["header"]["revision"] + 1
        watch = subprocess.Popen(
            [ETCDCTL_BINARY, "--endpoints=" + ep, "--cacert=" + certs.ca, "--cert=" + good[0],
             "--key=" + good[1], "watch", "--prefix", "tls/", "--rev=%d" % next_rev],
            stdout=watch_out, stderr=subprocess.STDOUT, env=dict(os.environ, ETCDCTL_API="3"))
        for args in (["put", "tls/a", "1"], ["put", "tls/b", "2"], ["get", "--prefix", "tls/"],
                     ["get", "tls/a", "-w", "json"], ["del", "tls/b"],
                     ["member", "list"], ["endpoint", "health", "--cluster"]):
            proc = c.etcdctl(args, endpoints=ep)
            if args[0] == "endpoint":
                # "took = 3.1ms" differs run to run.
                proc.stdout = "\n".join(sorted(l.split(" is healthy")[0] + " is healthy"
                                               for l in proc.stdout.splitlines()))
            sort = "[sorted] " if args[0] in ("member", "endpoint") else ""
            record(transcript, sort + "etcdctl " + " ".join(args), proc)
            check(proc.returncode == 0, "etcdctl %s failed: %s" % (args, proc.stderr))
        deadline = time.monotonic() + 10
        lines = []
        while len(lines) < 9 and time.monotonic() < deadline:  # 3 events x 3 lines
            time.sleep(0.2)
            watch_out.seek(0)
            lines = [l for l in watch_out.read().splitlines() if l]
        watch.kill()
        watch.wait(timeout=5)
        transcript.append("$ etcdctl watch --prefix tls/")
        transcript.extend(lines)
        check(lines[:3] == ["PUT", "tls/a", "1"], "watch saw %s" % lines)

        # keelctl with etcdctl's TLS flags answers as etcdctl does.
        if KEELCTL:
            for args in (["put", "tls/k", "v"], ["get", "--prefix", "tls/"],
                         ["get", "tls/k", "-w", "json"]):
                tls_args = ["--endpoints=https://" + ep, "--cacert=" + certs.ca,
                            "--cert=" + good[0], "--key=" + good[1]] + args
                ours = run([KEELCTL] + tls_args)
                theirs = run([ETCDCTL_BINARY] + tls_args)
                check(ours.returncode == 0 and theirs.returncode == 0,
                      "keelctl/etcdctl %s: %s %s" % (args, ours.stderr, theirs.stderr))
                if "json" not in args:  # json carries raft_term and revision: compared below
                    check(ours.stdout == theirs.stdout, "keelctl %s: %r vs etcdctl %r" % (
                        args, ours.stdout, theirs.stdout))
                else:
                    check(json.loads(ours.stdout)["kvs"] == json.loads(theirs.stdout)["kvs"],
                          "keelctl json: %s vs %s" % (ours.stdout, theirs.stdout))
            proc = run([KEELCTL, "--endpoints=https://" + ep, "--cacert=" + certs.ca,
                        "--dial-timeout=1s", "get", "tls/k"])
            check(proc.returncode != 0, "keelctl without a client certificate was served")
            c.etcdctl(["del", "tls/k"], endpoints=ep, check=True)

        # Replication over peer mTLS: every member has the write (serializable = local).
        for i in range(3):
            proc = c.etcdctl(["get", "tls/a", "--consistency=s", "--print-value-only"],
                             endpoints=c.members[i].endpoint)
            check(proc.stdout.strip() == "1", "m%d: %r %r" % (i, proc.stdout, proc.stderr))

        # curl https /health with the client certificate.
        proc = run(["curl", "-sS", "--cacert", certs.ca, "--cert", good[0], "--key", good[1],
                    "https://127.0.0.1:%d/health" % c.members[1].client_port])
        record(transcript, "curl https /health", proc)
        check(json.loads(proc.stdout) == {"health": "true"}, proc.stdout + proc.stderr)

        # python3-etcd3 with TLS.
        code = ("import etcd3,sys\n"
                "c=etcd3.client(host='127.0.0.1',port=%d,ca_cert=%r,cert_key=%r,cert_cert=%r)\n"
                "c.put('tls/py','from-python')\n"
                "v,_=c.get('tls/py')\nprint(v.decode())\n"
                % (c.members[2].client_port, certs.ca, good[1], good[0]))
        proc = run(["/usr/bin/python3", "-c", code])
        record(transcript, "python3-etcd3 put/get", proc)
        check(proc.stdout.strip() == "from-python", proc.stdout + proc.stderr)

        # Refusals.
        proc = run([ETCDCTL_BINARY, "--endpoints=" + ep, "--dial-timeout=1s",
                    "--command-timeout=1s", "put", "x", "plaintext"])
        record(transcript, "etcdctl (plaintext) put", proc)
        check(proc.returncode != 0, "plaintext gRPC client was served")
        proc = run(["curl", "-sS", "http://127.0.0.1:%d/health" % c.members[0].client_port])
        record(transcript, "curl http:// (plaintext) /health", proc)
        check(proc.returncode == 52 and proc.stdout == "",  # curl: Empty reply from server
              "plaintext HTTP: %d %r %r" % (proc.returncode, proc.stdout, proc.stderr))
        for name in ("wrong_ca", "expired"):
            proc = etcdctl_tls(certs, client_certs[name], ep, ["put", "x", name])
            record(transcript, "etcdctl (%s client cert) put" % name, proc)
            check(proc.returncode != 0, "%s client certificate was served" % name)
        proc = run([ETCDCTL_BINARY, "--endpoints=" + ep, "--cacert=" + certs.ca,
                    "--dial-timeout=1s", "--command-timeout=1s", "put", "x", "nocert"])
        record(transcript, "etcdctl (no client cert) put", proc)
        check(proc.returncode != 0, "a client without a certificate was served")
        proc = run(["curl", "-sS", "--cacert", certs.ca,
                    "https://127.0.0.1:%d/health" % c.members[0].client_port])
        check(proc.returncode != 0, "curl without a client certificate was served")
        # Nothing refused was written.
        proc = c.etcdctl(["get", "x"], endpoints=ep)
        check(proc.stdout == "", "a refused client wrote: %r" % proc.stdout)

        ctx = Context(c, ids, int(cluster_id), {})
        return normalize(transcript, ctx)


def wrong_ca_peer(binary, workdir, certs):
    """m2's peer certificate is from another CA: m0 and m1 refuse it."""
    member_certs = {"m0": certs.leaf(os.path.basename(workdir) + "-p0", "m0"),
                    "m1": certs.leaf(os.path.basename(workdir) + "-p1", "m1"),
                    "m2": certs.leaf(os.path.basename(workdir) + "-p2", "m2", ca="other-ca")}
    refused_peer(binary, workdir, certs, member_certs)


def refused_peer(binary, workdir, certs, member_certs, extra_flags=(), isolated=True):
    """m2's peer certificate is refused by m0 and m1: m0 and m1 serve and log the refusal;
    `isolated`: m2 never becomes healthy nor replicates (when m2 refuses theirs too, or
    they refuse m2 as servers as well as clients)."""
    good = certs.leaf(os.path.basename(workdir) + "-client", "root")
    with Cluster(binary, 3, workdir, client_tls=True, peer_tls=True,
                 etcdctl_flags=["--cacert=" + certs.ca, "--cert=" + good[0], "--key=" + good[1]],
                 extra_flags=extra_flags, flags_for=tls_flags(certs, member_certs)) as c:
        for i in range(3):
            c.start_member(i)
        c.wait_healthy(timeout_s=60, indexes=[0, 1])
        proc = c.etcdctl(["put", "peer/k", "v"], endpoints=c.members[0].endpoint)
        check(proc.returncode == 0, "put on the good majority: " + proc.stderr)
        deadline = time.monotonic() + (0 if isolated else 15)
        while not isolated and time.monotonic() < deadline and "rejected connection" not in \
                "".join(open(c.members[i].log_path, errors="replace").read() for i in (0, 1)):
            time.sleep(0.25)
        # m2 cannot replicate: it never learns of a leader, so /health stays false. Bounded
        # observation window (not a timing assertion on how fast anything happens).
        deadline = time.monotonic() + 3
        while isolated and time.monotonic() < deadline:
            check(not c.member_healthy(c.members[2]), "m2 became healthy with a wrong-CA cert")
            time.sleep(0.25)
        proc = c.etcdctl(["get", "peer/k", "--consistency=s", "--print-value-only"],
                         endpoints=c.members[2].endpoint)
        check(not isolated or proc.stdout.strip() != "v", "m2 replicated with a wrong-CA cert")
        logs = "".join(open(c.members[i].log_path, errors="replace").read() for i in (0, 1))
        check("rejected connection" in logs, "no refusal logged by m0/m1:\n" + logs[-3000:])
        c.kill(2)  # it may be stuck retrying; SIGKILL is fine, it never joined


def revoked_and_cn(binary, workdir, certs):
    """etcd's --client-crl-file (re-read for every connection), --peer-crl-file and
    --peer-cert-allowed-cn."""
    tag = os.path.basename(workdir)
    revoked = certs.leaf(tag + "-revoked", "root")
    later = certs.leaf(tag + "-later", "root")
    good = certs.leaf(tag + "-good", "root")
    crl = certs.path(tag + "-client.crl")
    os.replace(certs.crl(tag + "-client1", [revoked[0]]), crl)
    member = {"m0": certs.leaf(tag + "-m0", "m0")}
    with Cluster(binary, 1, workdir + "-crl", client_tls=True,
                 extra_flags=["--client-crl-file=" + crl],
                 etcdctl_flags=["--cacert=" + certs.ca, "--cert=" + good[0], "--key=" + good[1]],
                 flags_for=tls_flags(certs, member)) as c:
        c.start(timeout_s=60)
        endpoint = c.members[0].endpoint

        def put(cert, key):
            return run([ETCDCTL_BINARY, "--endpoints=" + endpoint, "--cacert=" + certs.ca,
                        "--cert=" + cert, "--key=" + key, "--dial-timeout=3s",
                        "--command-timeout=5s", "put", "crl/k", "v"])
        check(put(*good).returncode == 0, "good certificate refused")
        check(put(*revoked).returncode != 0, "revoked certificate accepted")
        check(put(*later).returncode == 0, "not yet revoked certificate refused")
        # A new CRL, read at the next handshake without a restart.
        os.replace(certs.crl(tag + "-client2", [revoked[0], later[0]]), crl)
        check(put(*later).returncode != 0, "certificate revoked by the updated CRL accepted")
        check(put(*good).returncode == 0, "good certificate refused after the CRL update")
    print("  client CRL: revoked refused, an updated CRL applies without a restart")
    peer_certs = {"m0": certs.leaf(tag + "-p0", "m0"), "m1": certs.leaf(tag + "-p1", "m1"),
                  "m2": certs.leaf(tag + "-p2", "m2")}
    peer_crl = certs.crl(tag + "-peer", [peer_certs["m2"][0]])
    # etcd checks the CRL on accepted connections only (its TLS listener), so m2 still
    # dials out successfully (m0 and m1 are not revoked): not isolated, only refused.
    refused_peer(binary, workdir + "-peercrl", certs, peer_certs,
                 ["--peer-crl-file=" + peer_crl], isolated=False)
    print("  peer CRL: the revoked member's connections are refused")
    cn_certs = {"m0": certs.leaf(tag + "-c0", "peer"), "m1": certs.leaf(tag + "-c1", "peer"),
                "m2": certs.leaf(tag + "-c2", "intruder")}
    refused_peer(binary, workdir + "-cn", certs, cn_certs, ["--peer-cert-allowed-cn=peer"])
    print("  --peer-cert-allowed-cn: the member with another CN is refused")


def auto_tls(binary, workdir):
    """--auto-tls --peer-auto-tls: self-signed certificates in <data-dir>/fixtures, used by
    clients that skip verification (etcdctl --insecure-skip-tls-verify, curl -k)."""
    with Cluster(binary, 1, workdir, client_tls=True, peer_tls=True,
                 extra_flags=["--auto-tls", "--peer-auto-tls"],
                 etcdctl_flags=["--insecure-transport=false", "--insecure-skip-tls-verify"]) as c:
        c.start(timeout_s=60)
        for kind in ("client", "peer"):
            d = os.path.join(c.members[0].data_dir, "fixtures", kind)
            check(sorted(os.listdir(d)) == ["cert.pem", "key.pem"], "%s: %s" % (d, os.listdir(d)))
            check(os.stat(os.path.join(d, "key.pem")).st_mode & 0o077 == 0, "key.pem readable")
            proc = run(["openssl", "x509", "-noout", "-ext", "subjectAltName",
                        "-in", os.path.join(d, "cert.pem")])
            check("127.0.0.1" in proc.stdout, "SAN: " + proc.stdout + proc.stderr)
        proc = c.etcdctl(["put", "auto", "tls"])
        check(proc.returncode == 0, "put over auto TLS: " + proc.stderr)
        proc = run(["curl", "-sSk", "https://127.0.0.1:%d/health" % c.members[0].client_port])
        check(json.loads(proc.stdout) == {"health": "true"}, proc.stdout + proc.stderr)


def flag_errors(binaries, workdir):
    """The same bad TLS flags on every binary: exit 1 with etcd 3.4's message (etcd prints it
    as "... C | etcdmain: <message>", keeld as "keeld: <message>")."""
    from harness.cluster import free_ports
    client, peer = free_ports(2)
    cu, pu = "127.0.0.1:%d" % client, "127.0.0.1:%d" % peer
    plain_peer = ["--listen-peer-urls=http://" + pu, "--initial-advertise-peer-urls=http://" + pu,
                  "--initial-cluster=default=http://" + pu]
    tls_client = ["--listen-client-urls=https://" + cu, "--advertise-client-urls=https://" + cu]
    cases = [
        ["--listen-peer-urls=https://" + pu, "--initial-advertise-peer-urls=https://" + pu,
         "--initial-cluster=default=https://" + pu],
        plain_peer + tls_client,
        plain_peer + ["--cipher-suites=TLS_FOO"],
        plain_peer + tls_client + ["--cert-file=/nonexistent.pem", "--key-file=/nonexistent.key"],
    ]
    for n, args in enumerate(cases):
        messages = []
        for b, binary in enumerate(binaries):
            data = os.path.join(workdir, "flags%d-%d" % (n, b))
            proc = run([binary, "--data-dir=" + data] + args, timeout_s=30)
            last = (proc.stderr.strip().splitlines() or [""])[-1]
            message = last.split("etcdmain: ", 1)[-1] if "etcdmain: " in last else \
                last.split("keeld: ", 1)[-1]
            check(proc.returncode == 1, "%s %s: exit %d, %r" % (binary, args, proc.returncode, last))
            messages.append(message)
        print("  flags %s -> %s" % (" ".join(a.split("=")[0] for a in args), messages[0]))
        check(len(set(messages)) == 1, "messages differ: %s" % messages)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binaries", default="etcd")
    parser.add_argument("--keelctl", default=None)
    parser.add_argument("--parts", default="flags,main,peer,auto",
                        help="comma list: flags (bad flags), main (the differential cluster), "
                             "peer (wrong-CA peer), auto (--auto-tls), revoke (CRLs, allowed "
                             "CN)")
    args = parser.parse_args()
    global KEELCTL
    KEELCTL = os.path.abspath(args.keelctl) if args.keelctl else None
    binaries = [ETCD_BINARY if b == "etcd" else b for b in args.binaries.split(",")]
    base = tempfile.mkdtemp(prefix="tls-", dir=os.environ.get("TEST_TMPDIR"))
    certs = Certs(os.path.join(base, "certs"))
    client_certs = {"good": certs.leaf("client", "root"),
                    "wrong_ca": certs.leaf("client-wrong-ca", "root", ca="other-ca"),
                    "expired": certs.expired_leaf("client-expired", "root")}
    parts = args.parts.split(",")
    if "flags" in parts:
        print("== bad TLS flags: etcd's messages", flush=True)
        flag_errors(binaries, base)
    transcripts = []
    for n, binary in enumerate(binaries):
        name = os.path.basename(binary)
        if "main" in parts:
            print("== %s: 3 members, client TLS + peer mTLS" % name, flush=True)
            transcripts.append(main_cluster(binary, os.path.join(base, "c%d" % n), certs,
                                            client_certs))
        if "peer" in parts:
            print("== %s: a peer with a wrong-CA certificate" % name, flush=True)
            wrong_ca_peer(binary, os.path.join(base, "w%d" % n), certs)
        if "auto" in parts:
            print("== %s: --auto-tls --peer-auto-tls" % name, flush=True)
            auto_tls(binary, os.path.join(base, "a%d" % n))
        if "revoke" in parts:
            print("== %s: CRLs and --peer-cert-allowed-cn" % name, flush=True)
            revoked_and_cn(binary, os.path.join(base, "r%d" % n), certs)
    for n in range(1, len(transcripts)):
        if transcripts[n] != transcripts[0]:
            import difflib
            sys.stdout.writelines(difflib.unified_diff(
                [l + "\n" for l in transcripts[0]], [l + "\n" for l in transcripts[n]],
                os.path.basename(binaries[0]), os.path.basename(binaries[n])))
            raise AssertionError("transcripts differ")
    if transcripts:
        print("\n".join(transcripts[-1]))
    print("PASS")


if __name__ == "__main__":
    main()
