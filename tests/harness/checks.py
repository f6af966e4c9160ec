"""The two helpers every end-to-end test script needs: fail with a message, and a bounded
wait for a condition (never a timing assertion: the deadline only ends a hang)."""

import time


def fail(message):
    raise AssertionError(message)


def wait_until(what, predicate, timeout_s=60):
    """Polls predicate() -> (done, last_seen) every 0.2 s; returns last_seen once done."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        ok, last = predicate()
        if ok:
            return last
        time.sleep(0.2)
    fail("%s: not reached within %ss (last seen: %s)" % (what, timeout_s, last))
