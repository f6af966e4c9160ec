#!/usr/bin/env bash
# A continuous keelsim campaign: sweeps fresh seed ranges one chunk after another until the
# duration has passed or a SIGINT/SIGTERM arrives, each chunk into its own results file
# (with provenance) in DIR, then prints the summary of everything DIR holds
# (`keelsim merge`: seeds run, coverage of every fault kind, failures by checker).
#
#   sim/scale/campaign.sh --keelsim=PATH --results=DIR --until=DURATION [--chunk=N] [--jobs=J]
#   (tools/sweep --until=8h --results=DIR builds keelsim and calls this)
#
# DURATION is N followed by s, m or h. A campaign resumes where DIR's last one stopped: the
# next chunk starts after the highest seed of its complete chunks. A chunk cut short by the signal
# or the deadline is kept as seeds-A-B.jsonl.partial (its seeds are valid, but it is not a
# complete shard), so DIR/*.jsonl always merges as complete ranges. Exit status: 0 no seed
# failed, 1 some failed, 2 usage or a broken sweep.
set -uo pipefail
keelsim="" results="" until="" chunk=200 jobs="$(nproc)"
for arg in "$@"; do
  case "$arg" in
    --keelsim=*) keelsim="${arg#*=}" ;;
    --results=*) results="${arg#*=}" ;;
    --until=*) until="${arg#*=}" ;;
    --chunk=*) chunk="${arg#*=}" ;;
    --jobs=*) jobs="${arg#*=}" ;;
    *) echo "campaign: unknown argument $arg" >&2; exit 2 ;;
  esac
done
[[ -x "$keelsim" && -n "$results" && "$chunk" =~ ^[1-9][0-9]*$ && "$until" =~ ^([1-9][0-9]*)([smh])$ ]] ||
  { echo "campaign: needs --keelsim=PATH --results=DIR --until=N(s|m|h) [--chunk=N]" >&2; exit 2; }
amount="${BASH_REMATCH[1]}"
case "${BASH_REMATCH[2]}" in s) unit=1 ;; m) unit=60 ;; h) unit=3600 ;; esac
deadline=$((SECONDS + amount * unit))
mkdir -p "$results"

# Resume after the highest seed of DIR's complete chunks (a .partial one is run again).
next=1
for f in "$results"/seeds-*-*.jsonl; do
  [[ -e "$f" ]] || continue
  last="${f##*/seeds-*-}"; last="${last%%.*}"
  ((last + 1 > next)) && next=$((last + 1))
done

stop=0 pid=""
on_signal() { stop=1; [[ -n "$pid" ]] && kill -TERM "$pid" 2> /dev/null; }
trap on_signal INT TERM
chunks=0
while ((stop == 0 && SECONDS < deadline)); do
  first=$next last=$((next + chunk - 1)) file="$results/seeds-$next-$((next + chunk - 1)).jsonl"
  "$keelsim" sweep --seeds="$first-$last" --jobs="$jobs" --results="$file" > "$file.log" 2>&1 &
  pid=$!
  # Bounded: a chunk ends by itself, or at the deadline, or at a signal (wait returns early).
  while kill -0 "$pid" 2> /dev/null; do
    ((SECONDS >= deadline)) && on_signal
    wait "$pid" 2> /dev/null
    rc=$?
  done
  pid=""
  if ((stop == 1)) || ! grep -q '"shard_done"' "$file"; then
    if [[ -e "$file" ]]; then
      mv "$file" "$file.partial"
      echo "campaign: seeds $first-$last cut short; kept as $(basename "$file").partial"
    else
      echo "campaign: seeds $first-$last cut before they began"
    fi
    break
  fi
  ((rc <= 1)) || { echo "campaign: keelsim sweep exited $rc (see $file.log)" >&2; exit 2; }
  chunks=$((chunks + 1)) next=$((last + 1))
  echo "campaign: seeds $first-$last done ($(tail -1 "$file.log"))"
done
trap - INT TERM
shopt -s nullglob
files=("$results"/seeds-*.jsonl)
echo "campaign: stopped after $chunks chunk(s) this run; next seed $next; summary of $results:"
((${#files[@]} > 0)) || { echo "campaign: no complete chunk"; exit 0; }
"$keelsim" merge "${files[@]}"
