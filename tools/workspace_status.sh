#!/usr/bin/env bash
# Bazel's --workspace_status_command (.bazelrc): the commit a build came from, for the
# provenance keelsim writes into every results file (sim/keelsim/provenance.h). Keys with
# the STABLE_ prefix re-run only the one stamped genrule that reads them
# (//sim/keelsim:build_stamp) when they change. A clean clone without git, or a tarball,
# says "unknown" instead of failing the build.
commit=$(git rev-parse HEAD 2>/dev/null) || commit=unknown
tree=unknown
if [[ "$commit" != unknown ]]; then
  if git diff --quiet HEAD -- 2>/dev/null; then tree=clean; else tree=modified; fi
fi
echo "STABLE_KEEL_COMMIT $commit"
echo "STABLE_KEEL_TREE $tree"
