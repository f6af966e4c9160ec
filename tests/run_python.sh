#!/bin/sh
# Runs a Python test script with Debian's python3 (stdlib only), so that Bazel's sh_test can
# drive process-level tests without a Python toolchain. Arguments: script, then its flags.
set -eu
exec /usr/bin/python3 "$@"
