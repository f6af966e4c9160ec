#!/usr/bin/env bash
# The container image installs every Debian package that holds a shared library keelsim
# links against (ldd, then dpkg -S): a new dependency of keelsim must reach the Dockerfile.
set -euo pipefail
keelsim="$1" dockerfile="$2"
command -v dpkg > /dev/null || { echo "SKIPPED: no dpkg (not Debian)"; exit 0; }
installed=" $(sed -n '/apt-get install/,/rm -rf/p' "$dockerfile" | tr -s ' \\\n' ' ') "
libs=($(ldd "$keelsim" | awk '$3 ~ /^\// {print $3}'))
((${#libs[@]} >= 5)) || { echo "FAIL: ldd found only ${#libs[@]} libraries"; exit 1; }
# usrmerge: dpkg may know a file under /lib rather than /usr/lib, or the other way, so
# every library is asked for under each name; one dpkg call for all of them.
candidates=()
for lib in "${libs[@]}"; do
  real=$(readlink -f "$lib")
  candidates+=("$lib" "$real" "${real#/usr}" "/usr${lib#/usr}")
done
declare -A owner
while IFS= read -r line; do
  owner["${line#*: }"]="${line%%:*}"
done < <(dpkg -S "${candidates[@]}" 2>/dev/null || true)
missing=()
for lib in "${libs[@]}"; do
  real=$(readlink -f "$lib") pkg=""
  for name in "$lib" "$real" "${real#/usr}" "/usr${lib#/usr}"; do
    [[ -n "${owner[$name]:-}" ]] && { pkg="${owner[$name]}"; break; }
  done
  [[ -n "$pkg" ]] || { echo "FAIL: no Debian package holds $lib"; exit 1; }
  [[ "$installed" == *" $pkg "* ]] || missing+=("$pkg ($lib)")
done
((${#missing[@]} == 0)) || { echo "FAIL: the Dockerfile does not install: ${missing[*]}"; exit 1; }
echo "image deps ok: ${#libs[@]} libraries, all installed by the Dockerfile"
