#!/bin/sh
# Bazel's --workspace_status_command for `bazel build --config=release //node:keeld`: the
# commit keeld --version prints (node/BUILD.bazel, genrule version_stamp). Prints nothing
# outside a git checkout (a tarball, a clean export): keeld then says "Not provided", as
# etcd does when built without its build script. "-dirty" marks uncommitted changes.
sha=$(git rev-parse HEAD 2>/dev/null) || exit 0
if ! git diff --quiet HEAD 2>/dev/null; then sha="$sha-dirty"; fi
echo "STABLE_KEEL_GIT_SHA $sha"
