#!/usr/bin/env python3
"""python3-etcd3gw (Debian's, unmodified) through the JSON gateway, as against etcd 3.4.

    gateway_etcd3gw_test.py --binaries=etcd                  (checks the test itself)
    gateway_etcd3gw_test.py --binaries=etcd,/path/to/keeld   (both; results compared)

etcd3gw talks only HTTP/JSON (requests.Session, POST /v3beta/...; its default /v3alpha/ is
not served by etcd 3.4 either). On a 3-member cluster, plaintext: put, get (with metadata),
get_prefix (sorted), get_all, create (twice: the second fails), replace, delete,
delete_prefix, status, members, a lease (ttl, keys, refresh, revoke: its key goes), a lock
(acquire, a second holder refused, release), watch (PUT and DELETE events through the
streamed gateway answer, then cancel) and watch_once. Then a TLS cluster with client
certificates (https, --client-cert-auth): put, get, watch_once over https. Each call's result
goes into a transcript (lease IDs, revisions of the header, member IDs normalized); the
transcripts of etcd and keeld must be equal.
"""

import argparse
import os
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from etcd3gw.client import Etcd3Client  # noqa: E402
from etcd3gw import exceptions as gw_exceptions  # noqa: E402

from harness.certs import Certs  # noqa: E402
from harness.cluster import ETCD_BINARY, Cluster  # noqa: E402

API_PATH = "/v3beta/"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def plain_scenario(binary, workdir):
    out = []
    with Cluster(binary, 3, workdir) as c:
        c.start(timeout_s=60)
        c.leader_index()
        client = Etcd3Client(host="127.0.0.1", port=c.members[1].client_port, timeout=15,
                             api_path=API_PATH)
        names = {int(v): k for k, v in c.member_ids().items()}

        check(client.put("foo", "bar") is True, "put")
        out.append("get foo %r" % client.get("foo"))
        value, meta = client.get("foo", metadata=True)[0]
        out.append("get foo metadata %r %s" % (value, sorted(
            (k, v) for k, v in meta.items() if k in ("key", "create_revision", "mod_revision",
                                                     "version"))))
        for k in ("dir/b", "dir/a", "dir/c"):
            client.put(k, "v-" + k)
        out.append("get_prefix %r" % [(v, m["key"]) for v, m in client.get_prefix("dir/")])
        out.append("get_prefix desc %r" % [
            v for v, _ in client.get_prefix("dir/", sort_order="descend", sort_target="key")])
        out.append("get_all %r" % [v for v, _ in client.get_all()])
        out.append("create new %r" % client.create("created", "1"))
        out.append("create existing %r" % client.create("created", "2"))
        out.append("replace ok %r" % client.replace("foo", "bar", "baz"))
        out.append("replace stale %r" % client.replace("foo", "bar", "qux"))
        out.append("get foo %r" % client.get("foo"))
        out.append("delete %r" % client.delete("created"))
        out.append("delete missing %r" % client.delete("created"))
        out.append("delete_prefix %r" % client.delete_prefix("dir/"))
        out.append("get_prefix after %r" % client.get_prefix("dir/"))

        status = client.status()
        out.append("status version=%s leader is a member: %s" % (
            status["version"], int(status["leader"]) in names))
        out.append("members %r" % sorted(m["name"] for m in client.members()))

        lease = client.lease(ttl=60)
        check(lease.id > 0, "lease id %r" % lease.id)
        client.put("leased", "x", lease=lease)
        ttl = lease.ttl()
        check(0 < ttl <= 60, "lease ttl %r" % ttl)
        out.append("lease keys %r" % lease.keys())
        refreshed = lease.refresh()
        check(0 < refreshed <= 60, "lease refresh %r" % refreshed)
        out.append("lease revoke %r" % lease.revoke())
        out.append("leased after revoke %r" % client.get("leased"))

        lock = client.lock(id="job", ttl=30)
        out.append("lock acquire %r" % lock.acquire())
        other = client.lock(id="job", ttl=30)
        out.append("second holder %r" % other.acquire())
        out.append("lock is_acquired %r" % lock.is_acquired())
        out.append("lock release %r" % lock.release())
        out.append("second holder after release %r" % other.acquire())
        other.release()

        events, cancel = client.watch("watched")
        client.put("watched", "1")
        client.put("watched", "2")
        client.delete("watched")
        seen = []
        for event in events:  # bounded: three events expected, then cancel
            seen.append((event.get("type", "PUT"), event["kv"]["key"],
                         event["kv"].get("value", b"")))
            if len(seen) == 3:
                cancel()
        out.append("watch events %r" % seen)

        result = {}

        def wait_once():
            result["event"] = client.watch_once("once", timeout=15)

        t = threading.Thread(target=wait_once)
        t.start()
        # The watch must exist before the put; etcd3gw gives no signal, so put until seen
        # (bounded), as every put is an event for it.
        for _ in range(50):
            client.put("once", "v")
            t.join(timeout=0.3)
            if not t.is_alive():
                break
        check(not t.is_alive(), "watch_once never returned")
        out.append("watch_once %r %r" % (result["event"]["kv"]["key"],
                                          result["event"]["kv"]["value"]))
        try:
            Etcd3Client(host="127.0.0.1", port=c.members[0].client_port, timeout=15,
                        api_path="/v3alpha/").get("foo")
            out.append("/v3alpha/ answered")
        except gw_exceptions.Etcd3Exception as e:
            out.append("/v3alpha/ refused: %s" % type(e).__name__)
    return out


def tls_scenario(binary, workdir, certs):
    out = []
    member_certs = {"m%d" % i: certs.leaf("%s-m%d" % (os.path.basename(workdir), i), "m%d" % i)
                    for i in range(3)}
    client_cert, client_key = certs.leaf(os.path.basename(workdir) + "-client", "client")

    def flags_for(member):
        cert, key = member_certs[member.name]
        return ["--cert-file=" + cert, "--key-file=" + key, "--trusted-ca-file=" + certs.ca,
                "--client-cert-auth", "--peer-cert-file=" + cert, "--peer-key-file=" + key,
                "--peer-trusted-ca-file=" + certs.ca, "--peer-client-cert-auth"]

    with Cluster(binary, 3, workdir, client_tls=True, peer_tls=True,
                 etcdctl_flags=["--cacert=" + certs.ca, "--cert=" + client_cert,
                                "--key=" + client_key],
                 flags_for=flags_for) as c:
        c.start(timeout_s=60)
        c.leader_index()
        client = Etcd3Client(host="127.0.0.1", port=c.members[0].client_port, protocol="https",
                             ca_cert=certs.ca, cert_cert=client_cert, cert_key=client_key,
                             timeout=15, api_path=API_PATH)
        check(client.put("tls/k", "v") is True, "put over https")
        out.append("https get %r" % client.get("tls/k"))
        events, cancel = client.watch("tls/w")
        client.put("tls/w", "1")
        for event in events:  # bounded: one event expected
            out.append("https watch %r %r" % (event["kv"]["key"], event["kv"]["value"]))
            cancel()
        try:
            Etcd3Client(host="127.0.0.1", port=c.members[0].client_port, protocol="https",
                        ca_cert=certs.ca, timeout=5, api_path=API_PATH).get("tls/k")
            out.append("https without a client certificate answered")
        except gw_exceptions.Etcd3Exception as e:
            out.append("https without a client certificate refused: %s" % type(e).__name__)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binaries", default="etcd")
    args = parser.parse_args()
    # requests prefers these variables over a Session's own `verify` (etcd3gw's ca_cert):
    # a machine that sets them would make etcd3gw distrust the test CA.
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        os.environ.pop(var, None)
    results = []
    for binary in args.binaries.split(","):
        path = ETCD_BINARY if binary == "etcd" else binary
        with tempfile.TemporaryDirectory(prefix="etcd3gw-") as workdir:
            lines = plain_scenario(path, os.path.join(workdir, "plain"))
            certs = Certs(os.path.join(workdir, "certs"))
            lines += tls_scenario(path, os.path.join(workdir, "tls"), certs)
        results.append((binary, lines))
    reference = results[0]
    for name, lines in results[1:]:
        if lines != reference[1]:
            diff = ["  %s: %s\n  %s: %s" % (reference[0], a, name, b)
                    for a, b in zip(reference[1], lines) if a != b]
            if len(lines) != len(reference[1]):
                diff.append("  lengths %d vs %d" % (len(reference[1]), len(lines)))
            raise AssertionError("etcd3gw results differ:\n" + "\n".join(diff))
    print("\n".join(reference[1]))
    print("PASS: %s" % ", ".join(n for n, _ in results))


if __name__ == "__main__":
    main()
