#!/usr/bin/env bash
# make bench: start a throwaway cluster, run every test/bench/*.sh (or the
# ones named as arguments), print their figures, stop the cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
base=$(test/setup/cluster.sh start)
# shellcheck disable=SC1091
source "$base/env.sh"
trap 'test/setup/cluster.sh stop' EXIT
psql -X -q -c 'CREATE DATABASE bench'
psql -X -q -d bench -c 'CREATE EXTENSION onshikaku; CREATE EXTENSION pgcrypto;' -f test/bench/lib.sql
scripts=("$@")
[ ${#scripts[@]} -eq 0 ] && scripts=(test/bench/[a-z]*.sh)
for s in "${scripts[@]}"; do
  [ "$(basename "$s")" = run.sh ] && continue
  echo "### $s ($(date -u +%FT%TZ), $(nproc) cores)"
  bash "$s"
done
