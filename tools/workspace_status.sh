#!/usr/bin/env bash
# Bazel's --workspace_status_command (.bazelrc): the commit a build came from.
#  * STABLE_KEEL_COMMIT / STABLE_KEEL_TREE: keelsim's results provenance
#    (sim/keelsim/provenance.h, genrule //sim/keelsim:build_stamp); "unknown" outside git.
#  * STABLE_KEEL_GIT_SHA: what `keeld --version` prints in a `--config=release` build
#    (node/BUILD.bazel, genrule version_stamp); absent outside git, where keeld says
#    "Not provided" as etcd does; "-dirty" marks uncommitted changes.
# Keys with the STABLE_ prefix re-run only the stamped genrules that read them.
commit=$(git rev-parse HEAD 2>/dev/null) || commit=unknown
tree=unknown
if [[ "$commit" != unknown ]]; then
  if git diff --quiet HEAD -- 2>/dev/null; then tree=clean; else tree=modified; fi
  sha=$commit
  if [[ "$tree" == modified ]]; then sha="$sha-dirty"; fi
  echo "STABLE_KEEL_GIT_SHA $sha"
fi
echo "STABLE_KEEL_COMMIT $commit"
echo "STABLE_KEEL_TREE $tree"
