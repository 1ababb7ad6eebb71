#!/usr/bin/env bash
# make demo: a throwaway cluster, the extension, and a walk through the main
# job with readable output.  The cluster is left running; the last lines say
# how to connect and how to stop it.
set -euo pipefail
cd "$(dirname "$0")/../.."
base=$(test/setup/cluster.sh start)
# shellcheck disable=SC1091
source "$base/env.sh"
psql -X -q -c 'CREATE DATABASE onshikaku_demo'
for part in test/demo/[0-9]*.sql; do
  psql -X -q -v ON_ERROR_STOP=1 -d onshikaku_demo -P footer=off -f "$part"
done
cat <<MSG

The demo cluster is still running. Connect with:
  psql -h '$PGHOST' -p $PGPORT -U postgres onshikaku_demo
Stop it with:
  test/setup/cluster.sh stop
MSG
