#!/usr/bin/env bash
# Run every suite against a fresh throwaway cluster and print one closing
# line "N passed, N failed" summed over all of them.  Exit 1 on any failure.
#
# Suites: C unit tests of the identifier core, pg_regress (sql/, expected/),
# pgTAP (test/tap/, through pg_prove), isolation specs (test/isolation/),
# the short fuzz run, and any executable test/suites/*.sh (each prints its
# own "N passed, N failed" line last).
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
logs=$repo/.cluster-logs
rm -rf "$logs"; mkdir -p "$logs"
pgxs=/usr/lib/postgresql/15/lib/pgxs
pgbin=/usr/lib/postgresql/15/bin

total_pass=0
total_fail=0
failures=()

# record SUITE PASSED FAILED: add a suite's counts to the totals
record() {
  printf '%-12s %4d passed, %d failed\n' "$1" "$2" "$3"
  total_pass=$((total_pass + $2))
  total_fail=$((total_fail + $3))
  [ "$3" -gt 0 ] && failures+=("$1 (log: ${logs#$repo/}/$1.log)")
  return 0
}

# count_lines FILE REGEX: number of lines of FILE matching REGEX
count_lines() { grep -cE "$2" "$1" 2>/dev/null || true; }

base=$(test/setup/cluster.sh start) || { echo "could not start the cluster"; echo "0 passed, 1 failed"; exit 1; }
# shellcheck disable=SC1091
source "$base/env.sh"
trap 'test/setup/cluster.sh stop' EXIT
echo "cluster: $base (port $PGPORT)"

# --- C unit tests of the identifier core (TAP) -----------------------------
test/unit/run.sh > "$logs/unit.log" 2>&1
rc=$?
p=$(count_lines "$logs/unit.log" '^ok [0-9]+')
f=$(count_lines "$logs/unit.log" '^not ok [0-9]+')
[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
record unit "$p" "$f"

# --- pg_regress --------------------------------------------------------------
tests=$(ls sql/*.sql 2>/dev/null | xargs -n1 basename 2>/dev/null | sed 's/\.sql$//')
if [ -n "$tests" ]; then
  rm -rf results regression.diffs regression.out
  # shellcheck disable=SC2086
  "$pgxs/src/test/regress/pg_regress" --inputdir=. --bindir="$pgbin" \
    --dbname=onshikaku_regress --load-extension=onshikaku $tests > "$logs/regress.log" 2>&1
  p=$(count_lines "$logs/regress.log" '\.\.\. ok')
  f=$(count_lines "$logs/regress.log" '\.\.\. FAILED|\.\.\. failed')
  [ -f regression.diffs ] && cp regression.diffs "$logs/regress.diffs"
  [ $((p + f)) -eq 0 ] && f=1
  record regress "$p" "$f"
fi

# --- pgTAP ---------------------------------------------------------------------
if ls test/tap/*.sql >/dev/null 2>&1; then
  psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE DATABASE onshikaku_tap' >/dev/null &&
  psql -X -q -v ON_ERROR_STOP=1 -d onshikaku_tap \
    -c 'CREATE EXTENSION pgtap; CREATE EXTENSION onshikaku;' > "$logs/tap.log" 2>&1
  pg_prove -v -d onshikaku_tap --ext .sql -r test/tap >> "$logs/tap.log" 2>&1
  rc=$?
  p=$(count_lines "$logs/tap.log" '^ *ok [0-9]+')
  f=$(count_lines "$logs/tap.log" '^ *not ok [0-9]+')
  # a file that died or planned more tests than it ran is a failure too
  [ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
  record pgtap "$p" "$f"
fi

# --- isolation specs -------------------------------------------------------------
specs=$(ls test/isolation/specs/*.spec 2>/dev/null | xargs -n1 basename 2>/dev/null | sed 's/\.spec$//')
if [ -n "$specs" ]; then
  rm -rf output_iso
  # shellcheck disable=SC2086
  "$pgxs/src/test/isolation/pg_isolation_regress" --inputdir=test/isolation \
    --outputdir=output_iso --bindir="$pgbin" --dbname=onshikaku_isolation \
    --load-extension=onshikaku $specs > "$logs/isolation.log" 2>&1
  p=$(count_lines "$logs/isolation.log" '\.\.\. ok')
  f=$(count_lines "$logs/isolation.log" '\.\.\. FAILED|\.\.\. failed')
  [ -f output_iso/regression.diffs ] && cp output_iso/regression.diffs "$logs/isolation.diffs"
  [ $((p + f)) -eq 0 ] && f=1
  record isolation "$p" "$f"
fi

# --- other suites: each script prints "N passed, N failed" last ---------------
for s in test/suites/*.sh; do
  [ -x "$s" ] || continue
  name=$(basename "$s" .sh)
  "$s" > "$logs/$name.log" 2>&1
  rc=$?
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$logs/$name.log" | tail -1)
  p=$(echo "${line:-0 passed, 1 failed}" | awk '{print $1}')
  f=$(echo "${line:-0 passed, 1 failed}" | awk '{print $3}')
  [ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
  record "$name" "$p" "$f"
done

echo
for x in "${failures[@]}"; do echo "FAILED: $x"; done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
