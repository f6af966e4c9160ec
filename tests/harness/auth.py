"""Auth helpers shared by the auth tests: etcdctl credentials, stderr without clientv3's
retry logs, the standard two-user setup, and one gRPC call with a token (python3-etcd3's
generated stubs, Debian's, sending the token as clientv3 does: metadata "token")."""

ROOT = ["--user", "root:pw"]
U = ["--user", "u:pw"]


def error_lines(text):
    """stderr without clientv3's JSON retry logs."""
    return [l for l in text.strip().splitlines() if l and not l.startswith("{")]


def compare_lines(want, got):
    """Prints etcd's transcript line by line, marking keeld's differing lines; returns the
    number of differences (a missing line counts as one)."""
    failures = 0
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else "<missing>"
        g = got[i] if i < len(got) else "<missing>"
        failures += w != g
        print("%s %s" % ("ok  " if w == g else "FAIL", w))
        if w != g:
            print("     keeld: %s" % g)
    return failures


def setup_user(cluster, prefix):
    """root + auth enable; user u (password pw) with readwrite on `prefix` only."""
    for cmd in (["user", "add", "root:pw"], ["auth", "enable"],
                ROOT + ["role", "add", "r"],
                ROOT + ["role", "grant-permission", "r", "readwrite", prefix, "--prefix"],
                ROOT + ["user", "add", "u:pw"], ROOT + ["user", "grant-role", "u", "r"]):
        cluster.etcdctl(cmd, check=True)


def authenticate(endpoint, user="u", password="pw"):
    """Authenticate through `endpoint`; returns the token."""
    import grpc
    from etcd3.etcdrpc import rpc_pb2, rpc_pb2_grpc
    with grpc.insecure_channel(endpoint) as channel:
        response = rpc_pb2_grpc.AuthStub(channel).Authenticate(
            rpc_pb2.AuthenticateRequest(name=user, password=password), timeout=10)
    return response.token


def get_with_token(endpoint, token, key, timeout_s=20):
    """A serializable Range with `token` (so the answering member's own state decides):
    "ok [values]" or "<gRPC code name> <message>"."""
    import grpc
    from etcd3.etcdrpc import rpc_pb2, rpc_pb2_grpc
    with grpc.insecure_channel(endpoint) as channel:
        try:
            response = rpc_pb2_grpc.KVStub(channel).Range(
                rpc_pb2.RangeRequest(key=key.encode(), serializable=True),
                metadata=[("token", token)], timeout=timeout_s)
            return "ok %r" % [kv.value.decode() for kv in response.kvs]
        except grpc.RpcError as e:
            return "%s %s" % (e.code().name, e.details())
