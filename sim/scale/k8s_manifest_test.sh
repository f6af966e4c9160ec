#!/usr/bin/env bash
# The Kubernetes manifests pass the offline schema check (validate_k8s.py), and the check
# can fail: a misspelt field, a missing required field, SHARDS != completions and a Job
# that is not Indexed are each reported.
set -euo pipefail
validate="$1" job="$2" merge="$3"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
py=/usr/bin/python3
"$py" -c 'import kubernetes, yaml' 2>/dev/null || {
  echo "SKIPPED: Debian's python3-kubernetes is not installed (tools/setup installs it)"; exit 0; }
"$py" "$validate" "$job" "$merge"

expect_invalid() {  # expect_invalid MESSAGE FILE
  local out rc=0
  out=$("$py" "$validate" "$2") || rc=$?
  ((rc == 1)) || { echo "FAIL: $2 was accepted (rc $rc): $out"; exit 1; }
  grep -qF "$1" <<< "$out" || { echo "FAIL: no '$1' in: $out"; exit 1; }
}
sed 's/^  parallelism:/  paralelism:/' "$job" > "$tmp/typo.yaml"
expect_invalid "unknown field 'paralelism' in V1JobSpec" "$tmp/typo.yaml"
sed 's/^        - name: keelsim$/        - image: only/; s/^          image: keelsim:latest$//' "$job" > "$tmp/noname.yaml"
expect_invalid "Invalid value for \`name\`, must not be \`None\`" "$tmp/noname.yaml"
sed 's/^  completions: 16$/  completions: 8/' "$job" > "$tmp/shards.yaml"
expect_invalid "SHARDS=16 but completions=8" "$tmp/shards.yaml"
sed '/^  completionMode: Indexed$/d' "$job" > "$tmp/nonindexed.yaml"
expect_invalid "keelsim-shards must be completionMode: Indexed" "$tmp/nonindexed.yaml"
sed 's/^  completions: 16$/  completions: "16"/' "$job" > "$tmp/type.yaml"
expect_invalid "'16' is not int" "$tmp/type.yaml"
echo "k8s manifests ok"
