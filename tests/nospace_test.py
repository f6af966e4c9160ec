#!/usr/bin/env python3
"""The NOSPACE alarm, side by side: the same etcdctl session against etcd 3.4 and keeld,
each one member with a small --quota-backend-bytes, must read the same (member IDs and
revision numbers normalized):

  puts of 20 kB until one fails  -> "Error: etcdserver: mvcc: database space exceeded"
  alarm list                     -> "memberID:<id> alarm:NOSPACE "
  endpoint status -w json        -> errors ["memberID:<id> alarm:NOSPACE "]
  put while raised               -> the same error (the alarm caps writes)
  get, del                       -> still work
  compact + defrag, then put     -> still refused until the alarm is disarmed
  alarm disarm                   -> "memberID:<id> alarm:NOSPACE "
  alarm list, put, status        -> empty, OK, no errors

The two stores count quota differently (etcd: bolt file size; keeld: logical bytes), so
only the number of puts before the first refusal may differ; it is printed, not compared.

    nospace_test.py --binary /path/to/keeld [--etcd /usr/bin/etcd]
"""

import argparse
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.cluster import ETCD_BINARY, Cluster  # noqa: E402

QUOTA_BYTES = 300000
VALUE = "x" * 20000
MAX_PUTS = 200


def last_line(text):
    lines = [l for l in text.strip().splitlines() if not l.startswith("{")]
    return lines[-1] if lines else ""


def session(binary, workdir):
    """Runs the session on a fresh one-member cluster; returns (transcript, puts_before_refusal)."""
    out = []
    with Cluster(binary, 1, workdir, extra_flags=["--quota-backend-bytes=%d" % QUOTA_BYTES]) as c:
        c.start()
        ids = c.member_ids()
        me = str(list(ids.values())[0])

        def norm(text):
            return text.replace(me, "<self>")

        def ctl(label, *args):
            p = c.etcdctl(list(args))
            out.append("%s: rc=%d out=%r err=%r" % (
                label, p.returncode, norm(p.stdout.strip()), norm(last_line(p.stderr))))
            return p

        def status_errors(label):
            p = c.etcdctl(["endpoint", "status", "-w", "json"])
            st = json.loads(p.stdout)[0]["Status"] if p.returncode == 0 else {}
            out.append("%s: rc=%d errors=%r" % (label, p.returncode,
                                                [norm(e) for e in st.get("errors", [])]))

        refused_at = None
        for i in range(MAX_PUTS):
            p = c.etcdctl(["put", "k%03d" % i, VALUE])
            if p.returncode != 0:
                refused_at = i
                out.append("first refusal: rc=%d err=%r" % (p.returncode, last_line(p.stderr)))
                break
        if refused_at is None:
            out.append("never refused after %d puts" % MAX_PUTS)
            return out, None
        ctl("alarm list", "alarm", "list")
        status_errors("status while raised")
        ctl("put while raised", "put", "small", "v")
        ctl("get while raised", "get", "k000", "--keys-only")
        ctl("del while raised", "del", "k000")
        p = c.etcdctl(["del", "k", "--prefix"])
        out.append("del prefix while raised: rc=%d deleted every other put: %s" % (
            p.returncode, p.stdout.strip() == str(refused_at - 1)))
        st = json.loads(c.etcdctl(["endpoint", "status", "-w", "json"], check=True).stdout)
        revision = st[0]["Status"]["header"]["revision"]
        p = c.etcdctl(["compact", str(revision)])
        out.append("compact: rc=%d %s" % (p.returncode, re.sub(r"\d+", "<rev>", p.stdout.strip())))
        p = c.etcdctl(["defrag"])
        out.append("defrag: rc=%d" % p.returncode)
        ctl("put after compact+defrag, still raised", "put", "small", "v")
        ctl("alarm disarm", "alarm", "disarm")
        ctl("alarm list after disarm", "alarm", "list")
        ctl("put after disarm", "put", "small", "v")
        status_errors("status after disarm")
        ctl("alarm list with nothing raised", "alarm", "list")
    return out, refused_at


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--etcd", default=ETCD_BINARY)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="nospace-", dir=os.environ.get("TEST_TMPDIR"))
    want, etcd_n = session(args.etcd, os.path.join(root, "etcd"))
    got, keel_n = session(os.path.abspath(args.binary), os.path.join(root, "keeld"))
    print("puts before the first refusal: etcd %s, keeld %s" % (etcd_n, keel_n))
    failures = 0
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else "<missing>"
        g = got[i] if i < len(got) else "<missing>"
        mark = "ok  " if w == g else "FAIL"
        failures += w != g
        print("%s %s" % (mark, w))
        if w != g:
            print("     keeld: %s" % g)
    # The reference itself must show the behaviour, or the comparison proves nothing.
    if etcd_n is None or "NOSPACE" not in "\n".join(want):
        print("FAIL etcd never raised NOSPACE: the test is wrong")
        failures += 1
    print("%d passed, %d failed" % (len(want) - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
