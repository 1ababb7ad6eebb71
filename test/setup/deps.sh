#!/usr/bin/env bash
# Install what make demo / make test need on Debian 12, or say how.
#
# Runs apt-get only for packages that are missing; as root directly, else
# through sudo when it needs no password; otherwise it prints the exact
# command and fails.
set -euo pipefail

packages=(
  postgresql-15               # server, initdb, pg_ctl, psql, pgbench
  postgresql-server-dev-15    # pg_config, PGXS, pg_regress, pg_isolation_regress
  postgresql-contrib          # pgcrypto, the baseline of the benchmarks
  postgresql-15-pgtap         # pgTAP
  libtap-parser-sourcehandler-pgtap-perl  # pg_prove
  postgresql-15-cron          # the scheduling recipe's test
  libssl-dev                  # OpenSSL (libcrypto) headers
  gcc make
  clang libclang-rt-14-dev    # make fuzz: libFuzzer, ASan, UBSan
)
names=()
for p in "${packages[@]}"; do names+=("${p%% *}"); done

missing=()
for p in "${names[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "onshikaku: installing missing packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  run=(sudo)
else
  echo "onshikaku: cannot install packages as $(id -un). Run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a default cluster on 5432; the project never uses it.
echo "onshikaku: packages installed."
