#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the demo and the tests.
#
#   test/setup/cluster.sh start   create a fresh cluster and start it
#   test/setup/cluster.sh stop    stop it (the files stay until the next start)
#   test/setup/cluster.sh env     print the PG* variables to reach it
#
# It lives under the repository in .cluster/ (data, socket dir, log, and a
# generated key file, .cluster/onshikaku.keys), listens only on its own Unix socket, and runs as an unprivileged OS
# user: the invoking user, or "postgres" when invoked as root (PostgreSQL
# refuses to run as root).  Set ONSHIKAKU_PGPORT to change the port number
# (only the socket name depends on it).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
pgbin=/usr/lib/postgresql/15/bin
port=${ONSHIKAKU_PGPORT:-54329}
base=${ONSHIKAKU_CLUSTER_DIR:-$repo/.cluster}

if [ "$(id -u)" -eq 0 ]; then
  owner=postgres
  as_owner() { runuser -u "$owner" -- "$@"; }
else
  owner=$(id -un)
  as_owner() { "$@"; }
fi

# The server's user must reach the directory, and the socket path must fit
# in sun_path (107 bytes); otherwise fall back to a private directory in /tmp.
choose_base() {
  local probe
  if [ -z "${ONSHIKAKU_CLUSTER_DIR:-}" ]; then
    probe=$base
    mkdir -p "$probe"
    [ "$owner" != "$(id -un)" ] && chown "$owner" "$probe"
    if [ ${#probe} -gt 80 ] || ! as_owner test -w "$probe"; then
      base=/tmp/onshikaku-cluster-$(printf '%s' "$repo" | cksum | cut -d' ' -f1)
      echo "onshikaku: $owner cannot use $probe; the cluster goes to $base" >&2
    fi
  fi
}

write_env() {
  cat > "$base/env.sh" <<ENV
export PGHOST='$base/sock' PGPORT='$port' PGUSER=postgres PGDATABASE=postgres
export ONSHIKAKU_CLUSTER='$base' PATH='$pgbin':"\$PATH"
ENV
}

start() {
  choose_base
  stop_quietly
  rm -rf "${base:?}/data" "$base/sock" "$base/server.log"
  mkdir -p "$base/sock" "$base/data"
  chmod 700 "$base" "$base/sock" "$base/data"
  [ "$owner" != "$(id -un)" ] && chown -R "$owner" "$base"
  as_owner "$pgbin/initdb" -D "$base/data" -U postgres -A trust -E UTF8 \
    --locale=C --no-sync >/dev/null
  # Extra settings from later layers (keys, pg_cron) go into conf.d.
  as_owner mkdir -p "$base/data/conf.d"
  cat > "$base/onshikaku.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$base/sock'
unix_socket_permissions = 0700
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 256MB
max_connections = 50
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
# loaded at start so its log redaction is active from the first statement
shared_preload_libraries = 'onshikaku'
include_dir = '$base/data/conf.d'
CONF
  [ "$owner" != "$(id -un)" ] && chown "$owner" "$base/onshikaku.conf"
  echo "include = '$base/onshikaku.conf'" | as_owner tee -a "$base/data/postgresql.conf" >/dev/null
  # a generated throwaway key file, named by a superuser-only setting
  # (two master keys, so that master key rotation can be exercised)
  "$repo/test/setup/keyfile.sh" "$base/onshikaku.keys" "$owner"
  "$repo/test/setup/keyfile.sh" --add-kek "$base/onshikaku.keys" 2
  echo "onshikaku.key_file = '$base/onshikaku.keys'" | as_owner tee "$base/data/conf.d/onshikaku-keys.conf" >/dev/null
  # pg_cron, when installed, for the purge scheduling recipe (docs/retention.md)
  if [ -f "$(dirname "$pgbin")/../lib/pg_cron.so" ] || [ -f /usr/lib/postgresql/15/lib/pg_cron.so ]; then
    printf "shared_preload_libraries = 'onshikaku,pg_cron'\ncron.database_name = 'onshikaku_cron'\n" |
      as_owner tee "$base/data/conf.d/pg_cron.conf" >/dev/null
  fi
  as_owner "$pgbin/pg_ctl" -D "$base/data" -l "$base/server.log" -w -t 60 start >/dev/null
  if [ -f "$base/data/conf.d/pg_cron.conf" ]; then
    as_owner "$pgbin/psql" -X -q -h "$base/sock" -p "$port" -U postgres -d postgres \
      -c 'CREATE DATABASE onshikaku_cron' >/dev/null
  fi
  write_env
  echo "$base"
}

stop_quietly() {
  if [ -f "$base/data/postmaster.pid" ]; then
    as_owner "$pgbin/pg_ctl" -D "$base/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  start) start ;;
  stop)
    [ -d /tmp ] && for b in "$base" /tmp/onshikaku-cluster-$(printf '%s' "$repo" | cksum | cut -d' ' -f1); do
      base=$b stop_quietly
    done ;;
  env) choose_base 2>/dev/null; cat "$base/env.sh" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
