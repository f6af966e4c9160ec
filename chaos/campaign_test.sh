#!/bin/bash
# Runs one keelchaos campaign and judges its output.
#   campaign_test.sh KEELCHAOS pass    ARGS...   every fault kind of --faults fired, 0 failed,
#                                                exit 0 (with --lose-unsynced: keeld really
#                                                dropped unsynced bytes at some restart)
#   campaign_test.sh KEELCHAOS anomaly ARGS...   a linearizability anomaly reported with its
#                                                replay command, exit 1
set -u
keelchaos=$1
expect=$2
shift 2
tmp=${TEST_TMPDIR:-$(mktemp -d)}
out=$tmp/out.txt
"$keelchaos" run "$@" --report="$tmp/report" --work-dir="$tmp/work" >"$out" 2>&1
rc=$?
cat "$out"
fail() {
  echo "FAIL: $*"
  exit 1
}
case $expect in
  pass)
    [ "$rc" -eq 0 ] || fail "keelchaos exited $rc, expected 0"
    tail -n 1 "$out" | grep -Eq '^[1-9][0-9]* passed, 0 failed$' || fail "final line is not 'N passed, 0 failed'"
    kinds="crash crash_leader crash_majority pause pause_leader isolate split asymmetric flap cut move_leader replace cut_clients"
    for arg in "$@"; do
      case $arg in --faults=all) ;; --faults=*) kinds=$(echo "${arg#--faults=}" | tr , ' ') ;; esac
    done
    for kind in $kinds; do
      grep -Eq "^fault $kind: fired [1-9]" "$out" || fail "fault $kind never fired"
    done
    # The watchers caught up with every acknowledged write, and the proxy did cut links.
    grep -Eq '^final: .* -> PASS$' "$out" || fail "final watch check did not pass"
    case " $kinds " in *" cut "*)
      grep -Eq 'proxy [0-9]+ connections, [0-9]+ refused, [1-9][0-9]* cut' "$out" || fail "the proxy never cut a link" ;;
    esac
    case " $kinds " in *" cut_clients "*)
      grep -Eq 'client proxy [0-9]+ connections, [1-9][0-9]* cut' "$out" || fail "the client proxy never cut a link" ;;
    esac
    case " $* " in *" --lose-unsynced "*)
      grep -h 'unsynced bytes dropped' "$tmp"/work/m*.log | grep -Evq ' 0 unsynced bytes dropped' ||
        fail "--lose-unsynced: no restart dropped unsynced bytes" ;;
    esac
    [ -s "$tmp/report/history.jsonl" ] || fail "--report wrote no history"
    grep -q '"workload":"register"' "$tmp/report/history.jsonl" || fail "no register ops in the history"
    grep -q '"workload":"bank"' "$tmp/report/history.jsonl" || fail "no bank ops in the history"
    ;;
  anomaly)
    [ "$rc" -eq 1 ] || fail "keelchaos exited $rc, expected 1 (anomaly)"
    grep -Eq '^ANOMALY round [0-9]+: (stale-read|revision-real-time|read-wrong-write|linearizability)' "$out" ||
      fail "no linearizability anomaly reported"
    grep -Eq '^    #[0-9]+ client [0-9]+ get' "$out" || fail "the anomaly does not list the read involved"
    grep -Eq '^  replay: keelchaos run .*--seed=[0-9]+' "$out" || fail "no replay command"
    tail -n 1 "$out" | grep -Eq '^[0-9]+ passed, [1-9][0-9]* failed$' || fail "final line does not count the failure"
    ;;
  *)
    fail "unknown expectation $expect"
    ;;
esac
echo "OK"
