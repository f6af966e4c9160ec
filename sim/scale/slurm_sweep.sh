#!/usr/bin/env bash
# Submits a sharded keelsim sweep to Slurm (keelsim.sbatch: an array of shards and a merge
# job that depends on them with afterok), waits for it, printing progress as shards
# finish, and prints the merge. `tools/sweep --slurm` calls this with a fresh opt build.
#
#   sim/scale/slurm_sweep.sh --keelsim=PATH --shards=N --seeds=A-B --results=DIR
#       [--jobs-per-shard=J] [--bug=NAME] [--timeout=SECONDS] [--sbatch-arg=ARG]...
#
# DIR must be on a file system the compute nodes share; the binary is copied into it
# first (bazel-bin is a symlink that the next build moves). Exit status: that of
# `keelsim merge` (0 every seed passed, 1 seeds failed, 2 not one complete sweep), or 2
# when Slurm cancelled the merge (a shard broke) or the timeout passed; then the shards
# that did finish are merged here so the report names what is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
keelsim="" shards="" seeds="" results="" jobs=1 bug="" timeout=86400 sbatch_args=()
for arg in "$@"; do
  case "$arg" in
    --keelsim=*) keelsim="${arg#*=}" ;;
    --shards=*) shards="${arg#*=}" ;;
    --seeds=*) seeds="${arg#*=}" ;;
    --results=*) results="${arg#*=}" ;;
    --jobs-per-shard=*) jobs="${arg#*=}" ;;
    --bug=*) bug="${arg#*=}" ;;
    --timeout=*) timeout="${arg#*=}" ;;
    --sbatch-arg=*) sbatch_args+=("${arg#*=}") ;;
    *) echo "slurm_sweep: unknown argument $arg" >&2; exit 2 ;;
  esac
done
[[ -x "$keelsim" && "$shards" =~ ^[1-9][0-9]*$ && "$seeds" =~ ^[0-9]+-[0-9]+$ && -n "$results" &&
   "$jobs" =~ ^[1-9][0-9]*$ && "$timeout" =~ ^[1-9][0-9]*$ ]] ||
  { echo "slurm_sweep: needs --keelsim=PATH --shards=N --seeds=A-B --results=DIR" >&2; exit 2; }
for tool in sbatch scontrol scancel; do
  command -v "$tool" > /dev/null || { echo "slurm_sweep: $tool not found (Debian: slurm-client)" >&2; exit 2; }
done

mkdir -p "$results"
results="$(cd "$results" && pwd)"
if ls "$results"/shard-*.jsonl > /dev/null 2>&1; then
  echo "slurm_sweep: $results already holds shard results; use a fresh directory" >&2
  exit 2
fi
cp "$keelsim" "$results/keelsim"
export KEELSIM="$results/keelsim" KEELSIM_RESULTS="$results" KEELSIM_SEEDS="$seeds" \
       KEELSIM_SHARDS="$shards" KEELSIM_JOBS="$jobs" KEELSIM_BUG="$bug"

array=$(sbatch --parsable --array="0-$((shards - 1))" --cpus-per-task="$jobs" --export=ALL \
          --output="$results/shard-%a.log" "${sbatch_args[@]}" "$here/keelsim.sbatch" shard)
array="${array%%;*}"  # --parsable prints "id" or "id;cluster"
merge=$(sbatch --parsable --dependency="afterok:$array" --export=ALL --output="$results/merge.log" \
          "${sbatch_args[@]}" "$here/keelsim.sbatch" merge)
merge="${merge%%;*}"
echo "slurm_sweep: submitted array job $array ($shards shards of seeds $seeds) and merge job $merge;" \
     "results in $results"

field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<< "$2" | head -1; }
shards_done() { { grep -l '"shard_done"' "$results"/shard-*-of-"$shards".jsonl 2> /dev/null || true; } | wc -l; }
cancel() { scancel "$array" "$merge" 2> /dev/null || true; }
trap 'cancel; echo "slurm_sweep: interrupted, jobs $array and $merge cancelled" >&2; exit 130' INT TERM

start=$SECONDS last_done=-1 state=""
while ((SECONDS - start < timeout)); do
  done_now=$(shards_done)
  if ((done_now != last_done)); then
    echo "slurm_sweep: shards done: $done_now/$shards ($((SECONDS - start)) s)"
    last_done=$done_now
  fi
  info=$(scontrol show job -o "$merge" 2> /dev/null || true)
  state=$(field JobState "$info")
  reason=$(field Reason "$info")
  case "$state" in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) break ;;
    PENDING) [[ "$reason" == DependencyNeverSatisfied ]] && break ;;
    "") state=GONE; break ;;  # purged after MinJobAge: judge by merge.rc below
  esac
  sleep 1
done

if [[ "$state" == COMPLETED || ( "$state" == GONE && -s "$results/merge.rc" ) ]]; then
  cat "$results/merge.txt"
  exit "$(cat "$results/merge.rc")"
fi
cancel
if ((SECONDS - start >= timeout)); then
  why="timed out after $timeout s (merge job $state)"
elif [[ "$state" == PENDING || "$state" == GONE ]]; then
  why="a shard failed, so the merge never ran (DependencyNeverSatisfied)"
else
  why="the merge job ended $state (see $results/merge.log)"
fi
echo "slurm_sweep: $why; merging the shards that finished:" >&2
shopt -s nullglob
files=("$results"/shard-*-of-"$shards".jsonl)
((${#files[@]} > 0)) && "$KEELSIM" merge "${files[@]}" || true
exit 2
