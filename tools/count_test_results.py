#!/usr/bin/env python3
"""Counts passed and failed test cases of one `bazel test` invocation.

Usage: count_test_results.py BUILD_EVENTS.json //pkg:target ...

BUILD_EVENTS.json is Bazel's --build_event_json_file: for every test attempt it names the
JUnit XML written (or re-used from cache) by *this* invocation, so stale files from an
earlier run are never counted. Prints failing cases, then exactly one line
`N passed, M failed`; exits 1 if M > 0. A target with no test result (failed to build,
crashed before writing XML) counts as one failed case, so a broken build can never look
green. A skipped case counts as failed: a skipped path is not a pass.
"""
import json
import sys
import urllib.parse
import xml.etree.ElementTree as ET


def test_results(events_path: str) -> dict:
    """label -> list of (status, test.xml path or None, test.log path or None), one per
    run/shard/attempt."""
    results = {}
    with open(events_path) as f:
        for line in f:
            event = json.loads(line)
            key = event.get("id", {}).get("testResult")
            if not key:
                continue
            body = event.get("testResult", {})
            files = {}
            for out in body.get("testActionOutput", []):
                if out.get("uri", "").startswith("file://"):
                    files[out.get("name")] = urllib.parse.unquote(out["uri"][len("file://"):])
            results.setdefault(key["label"], []).append(
                (body.get("status", "NO_STATUS"), files.get("test.xml"), files.get("test.log")))
    return results


def count_xml(path: str, label: str, failures: list) -> int:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        failures.append(f"{label}: unreadable test.xml: {e}")
        return 0
    passed = 0
    cases = list(root.iter("testcase"))
    for case in cases:
        name = f"{label} {case.get('classname', '')}.{case.get('name', '')}"
        if case.find("failure") is not None or case.find("error") is not None:
            failures.append(name)
        elif case.find("skipped") is not None or case.get("status") == "notrun":
            failures.append(name + " (skipped)")
        else:
            passed += 1
    if not cases:
        failures.append(f"{label}: no test cases recorded")
    return passed


def main() -> int:
    results = test_results(sys.argv[1])
    passed, failures, logs = 0, [], []
    for label in sys.argv[2:]:
        attempts = results.get(label)
        if not attempts:
            failures.append(f"{label}: no result (build failure or not run)")
            continue
        # With --flaky_test_attempts only the last attempt of each shard decides; without
        # it there is one attempt per shard.
        for status, xml, log in attempts:
            before = len(failures)
            if xml is None:
                failures.append(f"{label}: {status}, no test.xml")
            else:
                passed += count_xml(xml, label, failures)
                if status != "PASSED" and len(failures) == before:
                    failures.append(f"{label}: {status}")
            if len(failures) > before and log:
                logs.append(f"{label}: {log}")
    for f in failures:
        print(f"FAILED: {f}")
    # The failing attempts' full logs, last, so a reader of a long CI log finds them.
    for log in logs:
        print(f"log of a failed attempt: {log}")
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
