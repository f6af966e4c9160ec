#!/usr/bin/env bash
# keelctl output parity with etcdctl 3.4: one fixed script of commands runs through each tool
# against its own fresh single-member etcd (so revisions line up), and the transcripts
# (stdout + stderr + exit code per command) must be identical after normalizing only what
# differs between two etcd processes: member/cluster/lease IDs, ports, timings, db sizes.
set -euo pipefail

keelctl="$1"
export ETCDCTL_API=3
command -v etcd >/dev/null || { echo "etcd not on PATH (run tools/setup)"; exit 1; }
command -v etcdctl >/dev/null || { echo "etcdctl not on PATH (run tools/setup)"; exit 1; }

work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/parity.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

start_etcd() {  # dir -> prints client port; both members share a name so listings match
  local dir=$1 name=parity cport pport
  cport=$(free_port); pport=$(free_port)
  etcd --name "$name" --data-dir "$work/$dir" \
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "$name=http://127.0.0.1:$pport" >"$work/$dir.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 200); do
    if etcdctl --endpoints="127.0.0.1:$cport" --dial-timeout=1s endpoint health >/dev/null 2>&1; then
      echo "$cport"; return 0
    fi
    sleep 0.1
  done
  echo "etcd $dir did not start" >&2; return 1
}

# One command per line; $C is the tool with its endpoint. Chosen to be deterministic given a
# fresh member: no lease IDs stored in keys before hashkv, watch replays history from --rev.
cat >"$work/script" <<'SCRIPT'
$C put foo bar
$C put foo baz -w json
$C get foo
$C get foo -w json
$C get foo -w table
$C put p v --prev-kv
$C put p v2 --prev-kv -w json
$C put "<&>" "quote\"d"
$C get "<&>" -w json
$C del p --prev-kv
$C del p --prev-kv -w json
$C del nope
printf 'value("foo") = "baz"\n\nput a 1\nget a\n\nput c 3\n\n' | $C txn
printf 'value("foo") = "baz"\n\nput a 1\nget a\n\nput c 3\n\n' | $C txn -w json
printf 'mod("a") > "0"\n\nput b 2\nget a\ndel zz\n\nget c\n\n' | $C txn
printf 'version("a") = "7"\n\nput x 1\n\nget a\nput c 4\n\n' | $C txn -w json
printf 'put b 2\n\n\n' | $C txn
printf 'value("a") = "1"\n\nput q 1\n' | $C txn
$C get a --prefix -w json
$C get "" --prefix --keys-only
$C get "" --from-key
$C get a --print-value-only
$C get "" --prefix --limit=2 --sort-by=KEY --order=DESCEND
$C get "" --prefix --sort-by=MODIFY -w json
$C get a c
$C get foo --rev=2
$C get foo --rev=100000
$C get
$C endpoint hashkv
$C endpoint hashkv -w json
$C endpoint hashkv -w table
$C endpoint status
$C endpoint status -w json
$C endpoint status -w table
$C endpoint health -w json
$C endpoint health -w table
$C endpoint health
$C member list
$C member list -w table
$C member list -w json
$C member remove 1234
$C compaction 3
$C compaction 3
$C get foo --rev=2
timeout 2 $C watch foo --rev=4 --prev-kv
timeout 2 $C watch "" --prefix --rev=10 -w json
$C lease timetolive 1234
$C lease timetolive 1234 -w json
$C lease revoke 1234
$C lease keep-alive --once 1234
$C lease grant 100
$C lease grant 100 -w json
$C lease grant 10 -w table
$C lease list
$C lease list -w json
$C lease grant 0
$C move-leader 1234
$C put
$C del
$C snapshot save SNAPDIR/snap.db
SCRIPT

run_script() {  # tool port out snapdir
  local tool=$1 port=$2 out=$3 snapdir=$4
  : >"$out"
  while IFS= read -r line; do
    local cmd="${line//SNAPDIR/$snapdir}"
    echo "### $line" >>"$out"
    set +e
    C="$tool --endpoints=127.0.0.1:$port" bash -c "C=\"\$C\"; $cmd" >>"$out" 2>&1 </dev/null
    echo "rc=$?" >>"$out"
    set -e
  done <"$work/script"
}

normalize() {
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
lines = [l for l in text.split("\n") if not l.startswith('{"level":')]
text = "\n".join(lines)
text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
text = re.sub(r"\b\d{15,20}\b", "<ID>", text)             # member/cluster/lease IDs
text = re.sub(r"\b[0-9a-f]{12,16}\b", "<HEX>", text)      # the same in hex
text = re.sub(r"\d+(\.\d+)?(ns|µs|ms|s)\b", "<DUR>", text) # took = ...
text = re.sub(r'"dbSize(InUse)?":\d+', '"dbSize":N', text)
text = re.sub(r"\b\d+(\.\d+)? kB\b", "N kB", text)
text = re.sub(r"/parity\.\w+/snap\.\w+/", "/SNAP/", text)
# Table columns widen with the (normalized) content: compare the cells, not the padding.
text = re.sub(r"\+[-+]+\+", "+--+", text)
text = re.sub(r" *\| *", "|", text)
print(text)
PY
}

port_a=$(start_etcd ea)
port_b=$(start_etcd eb)
mkdir -p "$work/snap.etcdctl" "$work/snap.keelctl"
run_script etcdctl "$port_a" "$work/out.etcdctl" "$work/snap.etcdctl"
run_script "$keelctl" "$port_b" "$work/out.keelctl" "$work/snap.keelctl"
normalize "$work/out.etcdctl" >"$work/norm.etcdctl"
normalize "$work/out.keelctl" >"$work/norm.keelctl"
if ! diff -u "$work/norm.etcdctl" "$work/norm.keelctl"; then
  echo "FAIL: keelctl output differs from etcdctl (- etcdctl, + keelctl)"
  exit 1
fi
commands=$(grep -c '^###' "$work/norm.etcdctl")
echo "PASS: $commands commands print identically"
