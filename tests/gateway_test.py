#!/usr/bin/env python3
"""etcd's HTTP/JSON gateway and /version: one HTTP sequence against etcd 3.4 and keeld.

    gateway_test.py --binaries=etcd                     (checks the test itself)
    gateway_test.py --binaries=etcd,/path/to/keeld      (both; transcripts compared)

On a 3-member cluster, through member m0's client port (curl's requests, made with
http.client): kv put/range/txn/deleterange/compaction, lease grant/timetolive/leases/
keepalive/revoke and the /v3/kv/lease/ aliases, lock and election (and a waiting Lock
whose client leaves: cancelled), a watch stream
(created, PUT and DELETE events, a compacted start revision), member list, status,
alarm, defragment, hash, a snapshot stream, /v3beta/,
/version, etcd's errors (bad JSON, non-object body, unknown path, wrong method, compacted
and future revisions, unknown lease) and auth (enable without root, authenticate, the
Authorization header, permission denied, invalid token, a denied watch). Every answer goes
into a transcript as HTTP status, content type and the body normalized (IDs, terms, sizes,
tokens, hashes and ports become placeholders; keys, values, revisions, errors stay); the
transcripts of etcd and keeld must be equal.

keeld only (etcd has no such bound): at most 32 streams at once, the 33rd answered 429
"etcdserver: too many requests"; a closed client's watch is cancelled and frees its slot.
"""

import argparse
import base64
import http.client
import json
import os
import re
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.cluster import ETCD_BINARY, Cluster  # noqa: E402

# keeld's Gateway::Options::max_streams.
KEELD_MAX_STREAMS = 32


def b64(text):
    return base64.b64encode(text.encode()).decode()


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class Normalizer:
    """Placeholders for what legitimately differs between two clusters."""

    def __init__(self, cluster, member_ids, cluster_id):
        self.names = {str(v): k for k, v in member_ids.items()}
        self.cluster_id = str(cluster_id)
        self.ports = {}
        for m in cluster.members:
            self.ports[str(m.client_port)] = m.name + ".client"
            self.ports[str(m.peer_port)] = m.name + ".peer"
        self.leases = {}

    def lease(self, value):
        if value not in self.leases:
            self.leases[value] = "<lease%d>" % (len(self.leases) + 1)
        return self.leases[value]

    def url(self, url):
        host, _, port = url.rpartition(":")
        return host + ":" + self.ports.get(port, "<port>")

    def value(self, key, v):
        if isinstance(v, dict):
            return {k: self.value(k, x) for k, x in v.items()}
        if isinstance(v, list):
            items = [self.value(key, x) for x in v]
            if key == "members":  # sorted by ID, and IDs come from the ports: by name here
                items.sort(key=lambda m: m["name"])
            return items
        if key == "cluster_id":
            return "<cluster>" if str(v) == self.cluster_id else v
        if key == "member_id":
            return self.names.get(str(v), "<member?>")
        if key == "leader":  # whoever won the election
            return "<leader>" if str(v) in self.names else "<not a member>"
        if key in ("ID", "lease"):
            return self.names.get(str(v)) or self.lease(str(v))
        if key in ("raft_term", "raftTerm", "raftIndex", "raftAppliedIndex"):
            return "<n>"
        if key in ("dbSize", "dbSizeInUse"):
            return "<size>"
        if key in ("token", "hash", "blob"):
            return "<%s>" % key
        if key == "TTL":
            return "<ttl>"  # remaining seconds: depends on timing
        if key in ("peerURLs", "clientURLs"):
            return self.url(v)
        if key == "key" and isinstance(v, str):
            return self.lock_key(v)
        return v

    def lock_key(self, encoded):
        """Lock and election keys are "<name>/<lease ID in hex>": the lease becomes its
        placeholder."""
        try:
            text = base64.b64decode(encoded).decode()
        except (ValueError, UnicodeDecodeError):
            return encoded
        m = re.fullmatch(r"(.*)/([0-9a-f]{1,16})", text)
        if not m or str(int(m.group(2), 16)) not in self.leases:
            return encoded
        return "%s/%s" % (m.group(1), self.leases[str(int(m.group(2), 16))])

    def body(self, text):
        text = text.strip()
        if not text:
            return ""
        try:
            return json.dumps(self.value("", json.loads(text)), sort_keys=False)
        except ValueError:
            return text


def post(port, path, body, token=None, method="POST"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = token
        data = body if isinstance(body, str) else (None if body is None else json.dumps(body))
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return (resp.status, resp.getheader("Content-Type", ""),
                resp.getheader("Grpc-Metadata-Content-Type", ""), resp.read().decode())
    finally:
        conn.close()


class Stream:
    """A streaming gateway call (watch, keep-alive) read line by line."""

    def __init__(self, port, path, body, token=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = token
        self.conn.request("POST", path, body=json.dumps(body), headers=headers)
        self.sock = self.conn.sock  # http.client lets go of it once the answer says "close"
        self.resp = self.conn.getresponse()
        self.status = self.resp.status

    def line(self):
        return self.resp.readline().decode()

    def close(self):
        # Shut the socket down under http.client: the server sees the client go away.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.resp.close()
        self.conn.close()


def scenario(binary, workdir, keeld):
    transcript = []
    with Cluster(binary, 3, workdir) as c:
        c.start(timeout_s=60)
        c.leader_index()
        port = c.members[0].client_port
        ids = c.member_ids()
        status = json.loads(c.etcdctl(["endpoint", "status", "-w", "json"], check=True).stdout)
        norm = Normalizer(c, ids, status[0]["Status"]["header"]["cluster_id"])

        def call(label, path, body, token=None, method="POST"):
            code, ctype, grpc_header, text = post(port, path, body, token, method)
            transcript.append("%s %s -> %d %s%s %s" % (
                method, label, code, ctype, " +grpc" if grpc_header else "", norm.body(text)))
            return code, text

        def body_of(path, body, token=None):
            code, _, _, text = post(port, path, body, token)
            check(code == 200, "%s: %d %s" % (path, code, text))
            return json.loads(text)

        # ---- kv ----
        call("put", "/v3/kv/put", {"key": b64("foo"), "value": b64("bar")})
        call("put prev_kv", "/v3/kv/put", {"key": b64("foo"), "value": b64("baz"), "prev_kv": True})
        for k in ("a/1", "a/2", "a/3"):
            call("put " + k, "/v3/kv/put", {"key": b64(k), "value": b64("v" + k)})
        call("range", "/v3/kv/range", {"key": b64("foo")})
        call("range prefix desc limit", "/v3/kv/range",
             {"key": b64("a/"), "range_end": b64("a0"), "sort_order": "DESCEND",
              "sort_target": "KEY", "limit": "2"})
        call("range count_only", "/v3/kv/range",
             {"key": b64("a/"), "range_end": b64("a0"), "count_only": True})
        call("range keys_only at rev 3", "/v3/kv/range",
             {"key": b64("a/"), "range_end": b64("a0"), "keys_only": True, "revision": "4"})
        call("range missing", "/v3/kv/range", {"key": b64("nope")})
        call("txn success", "/v3/kv/txn", {
            "compare": [{"key": b64("foo"), "result": "EQUAL", "target": "VALUE",
                         "value": b64("baz")}],
            "success": [{"request_put": {"key": b64("foo"), "value": b64("qux")}},
                        {"request_range": {"key": b64("foo")}}],
            "failure": [{"request_range": {"key": b64("foo")}}]})
        call("txn failure", "/v3/kv/txn", {
            "compare": [{"key": b64("foo"), "result": "GREATER", "target": "MOD",
                         "mod_revision": "100"}],
            "success": [{"request_delete_range": {"key": b64("foo")}}],
            "failure": [{"request_range": {"key": b64("a/"), "range_end": b64("a0"),
                                           "count_only": True}}]})
        call("deleterange prev_kv", "/v3/kv/deleterange",
             {"key": b64("a/3"), "prev_kv": True})
        call("/v3beta range", "/v3beta/kv/range", {"key": b64("foo")})

        # ---- lease ----
        lease = body_of("/v3/lease/grant", {"TTL": "60"})["ID"]
        norm.lease(lease)
        transcript.append("lease granted %s" % norm.lease(lease))
        call("put with lease", "/v3/kv/put",
             {"key": b64("leased"), "value": b64("x"), "lease": lease})
        call("put with unknown lease", "/v3/kv/put",
             {"key": b64("leased"), "value": b64("x"), "lease": "12345"})
        call("timetolive keys", "/v3/lease/timetolive", {"ID": lease, "keys": True})
        call("kv/lease/timetolive", "/v3/kv/lease/timetolive", {"ID": lease})
        call("leases", "/v3/lease/leases", {})
        call("kv/lease/leases", "/v3/kv/lease/leases", {})
        call("keepalive", "/v3/lease/keepalive", {"ID": lease})
        call("keepalive unknown", "/v3/lease/keepalive", {"ID": "777"})
        call("kv/lease/revoke", "/v3/kv/lease/revoke", {"ID": lease})
        call("revoke again", "/v3/lease/revoke", {"ID": lease})
        call("range leased", "/v3/kv/range", {"key": b64("leased")})

        # ---- lock and election (v3lockpb, v3electionpb) ----
        session = body_of("/v3/lease/grant", {"TTL": "60"})["ID"]
        transcript.append("lease granted %s" % norm.lease(session))
        code, text = call("lock", "/v3/lock/lock", {"name": b64("mylock"), "lease": session})
        check(code == 200, "lock: %s" % text)
        call("unlock", "/v3/lock/unlock", {"key": json.loads(text)["key"]})
        code, text = call("campaign", "/v3/election/campaign",
                          {"name": b64("el"), "lease": session, "value": b64("v1")})
        check(code == 200, "campaign: %s" % text)
        leader = json.loads(text)["leader"]
        call("election leader", "/v3/election/leader", {"name": b64("el")})
        call("proclaim", "/v3/election/proclaim", {"leader": leader, "value": b64("v2")})
        call("election leader after proclaim", "/v3/election/leader", {"name": b64("el")})
        call("resign", "/v3/election/resign", {"leader": leader})
        call("election leader after resign", "/v3/election/leader", {"name": b64("el")})
        call("revoke session", "/v3/lease/revoke", {"ID": session})
        check_abandoned_lock(port, transcript, body_of)

        # ---- watch: from the next revision; two puts and a delete ----
        rev = int(body_of("/v3/kv/range", {"key": b64("foo")})["header"]["revision"])
        watch = Stream(port, "/v3/watch", {"create_request": {
            "key": b64("w/"), "range_end": b64("w0"), "start_revision": str(rev + 1),
            "prev_kv": True}})
        transcript.append("watch -> %d" % watch.status)
        transcript.append("watch line " + norm.body(watch.line()))
        call("put w/1", "/v3/kv/put", {"key": b64("w/1"), "value": b64("1")})
        call("put w/1 again", "/v3/kv/put", {"key": b64("w/1"), "value": b64("2")})
        call("delete w/1", "/v3/kv/deleterange", {"key": b64("w/1")})
        # Bounded: exactly three events are expected, each line read with a timeout.
        events = 0
        for _ in range(3):
            if events >= 3:
                break
            line = watch.line()
            transcript.append("watch line " + norm.body(line))
            events += len(json.loads(line)["result"].get("events", []))
        check(events == 3, "watch saw %d events" % events)
        watch.close()

        # ---- compaction and its errors ----
        rev = int(body_of("/v3/kv/range", {"key": b64("foo")})["header"]["revision"])
        call("compaction", "/v3/kv/compaction", {"revision": str(rev - 1), "physical": True})
        call("range compacted", "/v3/kv/range", {"key": b64("foo"), "revision": "2"})
        call("range future", "/v3/kv/range", {"key": b64("foo"), "revision": "100000"})
        old = Stream(port, "/v3/watch", {"create_request": {"key": b64("foo"),
                                                             "start_revision": "2"}})
        transcript.append("watch compacted -> %d" % old.status)
        transcript.append("watch line " + norm.body(old.line()))
        transcript.append("watch line " + norm.body(old.line()))
        old.close()

        # ---- cluster and maintenance ----
        code, text = call("member list", "/v3/cluster/member/list", {})
        members = json.loads(text)["members"]
        check(code == 200 and len(members) == 3, "member list: " + text)
        ids = [int(m["ID"]) for m in members]
        check(ids == sorted(ids), "members not sorted by ID (etcd's order): %s" % ids)
        call("status", "/v3/maintenance/status", {})
        call("alarm get", "/v3/maintenance/alarm", {"action": "GET"})
        call("alarm empty body", "/v3/maintenance/alarm", "")
        call("defragment", "/v3/maintenance/defragment", {})
        call("hash", "/v3/maintenance/hash", {})
        snap = Stream(port, "/v3/maintenance/snapshot", {})
        lines = []
        while len(lines) < 100000:  # bounded: the stream ends after the last chunk
            line = snap.line()
            if not line:
                break
            lines.append(json.loads(line))
        snap.close()
        transcript.append("snapshot -> %d, %s result lines with blobs: %s" % (
            snap.status, "some" if lines else "no",
            all("blob" in x.get("result", {}) for x in lines)))

        # ---- errors and plain endpoints ----
        call("bad JSON", "/v3/kv/range", "{bad")
        call("truncated JSON", "/v3/kv/put", '{"key":"Zm9v"')
        call("trailing comma", "/v3/kv/range", '{"key":"Zm9v",}')
        call("non-object body", "/v3/kv/range", "[1]")
        call("unknown field ignored", "/v3/kv/range", {"key": b64("foo"), "nosuch": 1})
        call("empty body", "/v3/kv/range", "")
        call("unknown path", "/v3/kv/nope", {})
        call("GET on a gateway path", "/v3/kv/range", None, method="GET")
        call("bad JSON on a stream", "/v3/lease/keepalive", "{bad")
        call("version", "/version", None, method="GET")
        call("version POST", "/version", "", method="POST")

        # ---- auth ----
        call("auth enable without root", "/v3/auth/enable", {})
        call("user add root", "/v3/auth/user/add", {"name": "root", "password": "rootpw"})
        call("role add root", "/v3/auth/role/add", {"name": "root"})
        call("user grant root", "/v3/auth/user/grant", {"user": "root", "role": "root"})
        call("user add u", "/v3/auth/user/add", {"name": "u", "password": "upw"})
        call("role add r", "/v3/auth/role/add", {"name": "r"})
        call("role grant r", "/v3/auth/role/grant", {"name": "r", "perm": {
            "permType": "READWRITE", "key": b64("pub/"), "range_end": b64("pub0")}})
        call("user grant u", "/v3/auth/user/grant", {"user": "u", "role": "r"})
        call("auth enable", "/v3/auth/enable", {})
        call("put without token", "/v3/kv/put", {"key": b64("pub/x"), "value": b64("1")})
        call("authenticate wrong password", "/v3/auth/authenticate",
             {"name": "u", "password": "nope"})
        root = body_of("/v3/auth/authenticate", {"name": "root", "password": "rootpw"})["token"]
        user = body_of("/v3/auth/authenticate", {"name": "u", "password": "upw"})["token"]
        call("put as u, permitted", "/v3/kv/put", {"key": b64("pub/x"), "value": b64("1")},
             token=user)
        call("put as u, denied", "/v3/kv/put", {"key": b64("foo"), "value": b64("1")},
             token=user)
        call("range as u, denied", "/v3/kv/range", {"key": b64("foo")}, token=user)
        call("invalid token", "/v3/kv/range", {"key": b64("pub/x")}, token="bogus.1")
        call("user get", "/v3/auth/user/get", {"name": "u"}, token=root)
        call("user list", "/v3/auth/user/list", {}, token=root)
        call("role get", "/v3/auth/role/get", {"role": "r"}, token=root)
        call("role list as u", "/v3/auth/role/list", {}, token=user)
        denied = Stream(port, "/v3/watch", {"create_request": {"key": b64("foo")}}, token=user)
        transcript.append("watch as u, denied -> %d" % denied.status)
        transcript.append("watch line " + norm.body(denied.line()))
        denied.close()
        call("auth disable", "/v3/auth/disable", {}, token=root)
        call("range after disable", "/v3/kv/range", {"key": b64("pub/x")})

        if keeld:
            check_stream_bound(port)
    return transcript


def check_abandoned_lock(port, transcript, body_of):
    """A client that leaves while its Lock call waits: the call is cancelled (its waiter
    key goes) and it never takes the lock, as with etcd (Go cancels the request context)."""
    lock_range = {"key": b64("held/"), "range_end": b64("held0"), "count_only": True}

    def keys():
        return int(body_of("/v3/kv/range", lock_range).get("count", "0"))

    def wait_for(count, what):
        deadline = time.time() + 20  # bounded; only the eventual state is asserted
        while keys() != count:
            check(time.time() < deadline, what)
            time.sleep(0.1)

    holder = body_of("/v3/lease/grant", {"TTL": "60"})["ID"]
    waiter = body_of("/v3/lease/grant", {"TTL": "60"})["ID"]
    held = body_of("/v3/lock/lock", {"name": b64("held"), "lease": holder})["key"]
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    body = json.dumps({"name": b64("held"), "lease": waiter}).encode()
    sock.sendall(b"POST /v3/lock/lock HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                 b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    wait_for(2, "the second Lock call never queued its key")
    transcript.append("blocked lock: holder and waiter keys")
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    wait_for(1, "the abandoned Lock call kept its key")
    transcript.append("client left: the waiter key is gone")
    body_of("/v3/lock/unlock", {"key": held})
    time.sleep(0.5)  # give a wrongly surviving waiter the chance to take the lock
    transcript.append("after unlock: %d keys" % keys())
    body_of("/v3/lease/revoke", {"ID": holder})
    body_of("/v3/lease/revoke", {"ID": waiter})


def open_watches(port, count):
    """`count` open watch streams, or None (all closed again) if one was refused."""
    streams = []
    for i in range(count):
        s = Stream(port, "/v3/watch", {"create_request": {"key": b64("bound/%d" % i)}})
        streams.append(s)
        if s.status != 200:
            for t in streams:
                t.close()
            return None
        check('"created":true' in s.line(), "watch %d not created" % i)
    return streams


def wait_for_slots(port):
    """Streams closed just before may still hold their slot until the server notices (it
    polls the socket): retry, bounded (an eventual state, not a timing assertion)."""
    deadline = time.time() + 20
    while True:
        streams = open_watches(port, KEELD_MAX_STREAMS)
        if streams is not None:
            return streams
        check(time.time() < deadline, "stream slots never freed after their clients closed")
        time.sleep(0.5)


def check_stream_bound(port):
    """keeld bounds concurrent gateway streams; a client that leaves frees its slot."""
    streams = wait_for_slots(port)
    try:
        code, _, _, text = post(port, "/v3/watch", {"create_request": {"key": b64("over")}})
        check(code == 429 and json.loads(text) == {
            "error": "etcdserver: too many requests",
            "message": "etcdserver: too many requests", "code": 8},
            "stream over the bound: %d %s" % (code, text))
        # Short requests are still served while every stream slot is taken.
        code, _, _, _ = post(port, "/v3/kv/range", {"key": b64("foo")})
        check(code == 200, "range beside %d streams: %d" % (KEELD_MAX_STREAMS, code))
    finally:
        for s in streams:
            s.close()
    # The closed clients' watches are cancelled: all the slots come back.
    for s in wait_for_slots(port):
        s.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binaries", default="etcd")
    args = parser.parse_args()
    transcripts = []
    for binary in args.binaries.split(","):
        path = ETCD_BINARY if binary == "etcd" else binary
        keeld = binary != "etcd"
        with tempfile.TemporaryDirectory(prefix="gateway-") as workdir:
            transcripts.append((binary, scenario(path, workdir, keeld)))
    reference = transcripts[0]
    for name, lines in transcripts[1:]:
        if lines != reference[1]:
            diff = []
            for i in range(max(len(lines), len(reference[1]))):
                a = reference[1][i] if i < len(reference[1]) else "<none>"
                b = lines[i] if i < len(lines) else "<none>"
                if a != b:
                    diff.append("  %s: %s\n  %s: %s" % (reference[0], a, name, b))
            raise AssertionError("gateway transcripts differ:\n" + "\n".join(diff))
    print("\n".join(reference[1]))
    print("PASS: %s" % ", ".join(n for n, _ in transcripts))


if __name__ == "__main__":
    main()
