#!/usr/bin/env python3
"""Auth tokens across members, on etcd 3.4 and keeld (3 members of one binary; the same
expectations hold for both, so running it on etcd validates the test).

--mode=simple: a simple token issued by one member is used at once on another. Simple
  tokens are assigned when the Authenticate entry applies; a member that has not applied
  it yet must wait for it (etcd's isValidSimpleToken waits for the index) instead of
  answering "invalid auth token". The member is made to lag: it is stopped (SIGSTOP)
  while u authenticates through another member and more entries are committed, and the
  request with the new token is sent before it is continued. A token naming an index
  already applied but never assigned is refused at once. Token expiry: with
  --auth-token-ttl=3 a token left unused for 5.5 s is "invalid auth token".

--mode=jwt: every member runs with --auth-token=jwt,pub-key=,priv-key=,sign-method=RS256,
  ttl=5m (the same key). etcdctl --user works; the token's claims, read with PyJWT
  (Debian's python3-jwt) and the public key, are etcd's (username, revision, exp = now +
  ttl); a token minted through one member is accepted by the others (stateless); tokens
  signed with another key, expired, or carrying another algorithm are refused with etcd's
  "invalid auth token"; after an auth change the old token's revision is refused as etcd
  refuses it.

    auth_tokens_test.py --mode=simple|jwt --binary /path/to/keeld|etcd
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.auth import ROOT, U, authenticate, get_with_token, setup_user  # noqa: E402
from harness.cluster import Cluster  # noqa: E402

INVALID = "UNAUTHENTICATED etcdserver: invalid auth token"
TTL_S = 3  # --auth-token-ttl in --mode=simple


def simple_mode(c):
    failures = []
    setup_user(c, "/a/")
    c.etcdctl(ROOT + ["put", "/a/x", "1"], check=True)
    leader = c.leader_index()
    issuer = c.members[leader]
    lagging = c.members[(leader + 1) % 3]
    for attempt in range(3):
        os.kill(lagging.proc.pid, signal.SIGSTOP)
        try:
            token = authenticate(issuer.endpoint)
            # Entries after the Authenticate one: more to catch up on before the lagging
            # member applies the token's entry.
            for i in range(20):
                c.etcdctl(ROOT + ["put", "/a/y", str(i)], endpoints=issuer.endpoint, check=True)
            # The request reaches the stopped member's socket before it runs again.
            with ThreadPoolExecutor(1) as pool:
                pending = pool.submit(get_with_token, lagging.endpoint, token, "/a/x")
                time.sleep(0.3)
                os.kill(lagging.proc.pid, signal.SIGCONT)
                answer = pending.result(timeout=60)
        finally:
            os.kill(lagging.proc.pid, signal.SIGCONT)
        print("attempt %d: token of index %s from %s used on the lagging %s: %s" % (
            attempt, token.split(".")[-1], issuer.name, lagging.name, answer))
        if answer != "ok ['1']":
            failures.append("attempt %d: %s" % (attempt, answer))
    # A well-formed token naming an applied index that no Authenticate assigned.
    answer = get_with_token(lagging.endpoint, "abcdefghijklmnop.3", "/a/x")
    print("unassigned token on %s: %s" % (lagging.name, answer))
    if answer != INVALID:
        failures.append("unassigned token: %s" % answer)
    # Token expiry: --auth-token-ttl=TTL_S seconds since last use, then "invalid".
    token = authenticate(issuer.endpoint)
    fresh = get_with_token(issuer.endpoint, token, "/a/x")
    time.sleep(TTL_S + 2.5)
    expired = get_with_token(issuer.endpoint, token, "/a/x")
    print("token used at once: %s; after %.1f s idle: %s" % (fresh, TTL_S + 2.5, expired))
    if fresh != "ok ['1']" or expired != INVALID:
        failures.append("token expiry: %s then %s" % (fresh, expired))
    return failures


def make_rsa_key(path):
    subprocess.run(["openssl", "genrsa", "-out", path + ".key", "2048"], check=True,
                   capture_output=True, timeout=60)
    subprocess.run(["openssl", "rsa", "-in", path + ".key", "-pubout", "-out", path + ".pub"],
                   check=True, capture_output=True, timeout=60)
    return path + ".key", path + ".pub"


def jwt_flag(workdir):
    priv, pub = make_rsa_key(os.path.join(workdir, "jwt"))
    return "--auth-token=jwt,pub-key=%s,priv-key=%s,sign-method=RS256,ttl=5m" % (pub, priv)


def jwt_mode(c, workdir):
    import jwt as pyjwt  # Debian's python3-jwt
    failures = []

    def expect(what, got, want):
        print("%s %s: %s" % ("ok  " if got == want else "FAIL", what, got))
        if got != want:
            failures.append("%s: %r, want %r" % (what, got, want))

    setup_user(c, "/a/")
    c.etcdctl(ROOT + ["put", "/a/x", "1"], check=True)
    for i, m in enumerate(c.members):
        p = c.etcdctl(U + ["get", "/a/x", "--print-value-only"], endpoints=m.endpoint)
        expect("etcdctl --user u:pw get on %s" % m.name, (p.returncode, p.stdout.strip()),
               (0, "1"))
    with open(os.path.join(workdir, "jwt.pub")) as f:
        public_key = f.read()
    with open(os.path.join(workdir, "jwt.key")) as f:
        private_key = f.read()
    token = authenticate(c.members[0].endpoint)
    claims = pyjwt.decode(token, public_key, algorithms=["RS256"])
    expect("claims", sorted(claims), ["exp", "revision", "username"])
    expect("username claim", claims["username"], "u")
    # exp = issue time + ttl (5m), in Unix seconds.
    expect("exp - now within the 5m ttl", 200 < claims["exp"] - time.time() <= 301, True)
    for m in c.members[1:]:
        expect("%s's token on %s" % (c.members[0].name, m.name),
               get_with_token(m.endpoint, token, "/a/x"), "ok ['1']")
    other_key, _ = make_rsa_key(os.path.join(workdir, "other"))
    with open(other_key) as f:
        forged = pyjwt.encode(dict(claims, username="root"), f.read(), algorithm="RS256")
    expect("token signed with another key", get_with_token(c.members[1].endpoint, forged, "/a/x"),
           INVALID)
    expired = pyjwt.encode(dict(claims, exp=int(time.time()) - 10), private_key,
                           algorithm="RS256")
    expect("expired token", get_with_token(c.members[1].endpoint, expired, "/a/x"), INVALID)
    rs512 = pyjwt.encode(claims, private_key, algorithm="RS512")
    expect("token with another algorithm (RS512)",
           get_with_token(c.members[1].endpoint, rs512, "/a/x"), INVALID)
    # PyJWT's own token with etcd's claims and our key: accepted (same encoding).
    minted = pyjwt.encode(claims, private_key, algorithm="RS256")
    expect("PyJWT-minted token", get_with_token(c.members[2].endpoint, minted, "/a/x"),
           "ok ['1']")
    # An auth change raises the auth revision: the token's revision claim is now old.
    c.etcdctl(ROOT + ["role", "add", "r2"], check=True)
    expect("token after an auth change", get_with_token(c.members[1].endpoint, token, "/a/x"),
           "INVALID_ARGUMENT etcdserver: revision of auth store is old")
    expect("a new token", get_with_token(c.members[1].endpoint,
                                         authenticate(c.members[2].endpoint), "/a/x"),
           "ok ['1']")
    return failures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["simple", "jwt"], required=True)
    parser.add_argument("--binary", required=True)
    args = parser.parse_args()
    binary = os.path.abspath(args.binary) if os.sep in args.binary else args.binary
    workdir = tempfile.mkdtemp(prefix="authtokens-", dir=os.environ.get("TEST_TMPDIR"))
    flags = ["--bcrypt-cost=4"]
    if args.mode == "jwt":
        flags.append(jwt_flag(workdir))
    else:
        flags.append("--auth-token-ttl=%d" % TTL_S)
    with Cluster(binary, 3, workdir, extra_flags=flags) as c:
        c.start()
        failures = simple_mode(c) if args.mode == "simple" else jwt_mode(c, workdir)
    for f in failures:
        print("FAIL " + f)
    if not failures:
        print("PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
