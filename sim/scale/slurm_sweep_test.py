"""keelsim on a real Slurm, end to end: a single-host Slurm on loopback (local_slurm.py),
slurm_sweep.sh submits a 4-shard sweep as a job array plus a dependent merge job and waits;
the merged results must equal the same seeds swept on one machine (the same verdict,
checker and trace hash per seed) and carry this binary's provenance. Then a broken shard
(its binary replaced by one that fails) must keep the merge from running and be reported.

Skipped, saying why, only where the Slurm packages are absent or the daemons cannot run as
root. Arguments: keelsim binary, slurm_sweep.sh.
"""

import json
import os
import subprocess
import sys
import tempfile

RUNFILES = os.path.join(os.environ.get("TEST_SRCDIR", ""), os.environ.get("TEST_WORKSPACE", "keel"))
sys.path.insert(0, RUNFILES if os.path.isdir(RUNFILES) else os.getcwd())
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from local_slurm import LocalSlurm, missing  # noqa: E402

SEEDS = "1-12"
SHARDS = 4


def by_seed(path):
    """seed -> (ok, checker, trace_hash), and the provenance line, of a results file."""
    seeds, provenance = {}, None
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            if "provenance" in record:
                provenance = record["provenance"]
            elif "seed" in record:
                seeds[int(record["seed"])] = (record["ok"], record.get("checker", ""), record["trace_hash"])
    return seeds, provenance


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def main():
    keelsim, sweep = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    why = missing()
    if why:
        print("SKIPPED: a local Slurm cannot run here: " + why)
        return 0
    work = tempfile.mkdtemp(prefix="sweep-", dir=os.environ.get("TEST_TMPDIR"))
    local = os.path.join(work, "local.jsonl")
    subprocess.run([keelsim, "sweep", "--seeds=" + SEEDS, "--jobs=2", "--results=" + local],
                   stdout=subprocess.DEVNULL, check=True)
    expected, local_provenance = by_seed(local)
    check(len(expected) == 12, "the local sweep ran %d seeds" % len(expected))

    with LocalSlurm(cpus=SHARDS) as slurm:
        results = os.path.join(work, "slurm")
        run = subprocess.run([sweep, "--keelsim=" + keelsim, "--shards=%d" % SHARDS, "--seeds=" + SEEDS,
                              "--results=" + results, "--timeout=60"],
                             env=slurm.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        print(run.stdout)
        check(run.returncode == 0, "slurm sweep exited %d\n%s" % (run.returncode, slurm.log_tails()))
        check("shards done: %d/%d" % (SHARDS, SHARDS) in run.stdout, "no progress up to every shard")
        check("12 passed, 0 failed" in run.stdout, "the merge did not count 12 passing seeds")
        merged, merged_provenance = by_seed(os.path.join(results, "merged.jsonl"))
        check(merged == expected, "Slurm's merge differs from the local sweep:\n%s\n%s" % (merged, expected))
        # Same binary (copied to the results directory), same commit, same hash.
        for key in ("commit", "binary_sha256", "build"):
            check(merged_provenance[key] == local_provenance[key],
                  "%s: %s on Slurm, %s locally" % (key, merged_provenance[key], local_provenance[key]))
        for k in range(SHARDS):
            _, p = by_seed(os.path.join(results, "shard-%d-of-%d.jsonl" % (k, SHARDS)))
            check(p["shard"] == "%d/%d" % (k, SHARDS) and p["seeds"] == SEEDS, "shard %d provenance %s" % (k, p))

        # A shard that breaks (keelsim exits 2: here, an unknown bug name) fails its array
        # task, so afterok never lets the merge run; slurm_sweep says so and exits 2.
        broken = os.path.join(work, "broken")
        run = subprocess.run([sweep, "--keelsim=" + keelsim, "--shards=2", "--seeds=1-2", "--bug=no-such-bug",
                              "--results=" + broken, "--timeout=60"],
                             env=slurm.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        print(run.stdout)
        check(run.returncode == 2, "a broken sweep exited %d" % run.returncode)
        check("merge never ran (DependencyNeverSatisfied)" in run.stdout, "the broken shard was not reported")
        check(not os.path.exists(os.path.join(broken, "merged.jsonl")), "a merge ran after a failed shard")
    print("slurm sweep ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
