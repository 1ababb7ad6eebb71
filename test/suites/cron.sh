#!/usr/bin/env bash
# The documented schedules of the daily purge (docs/retention.md, section 9),
# for real, on the running throwaway cluster (make test starts it with
# pg_cron preloaded and cron.database_name = 'onshikaku_cron'):
#   - pg_cron: the documented cron.schedule line, run as the operator role,
#     is stored with its GMT schedule; the same command in a job that runs
#     every minute purges a person whose retention has expired (purge_run,
#     deletion record, cohort key) and nobody else; the documented
#     cron.schedule_in_database line is accepted as documented;
#   - cron + psql: the documented command line purges the next expired
#     person, prints nothing on success and fails (exit 1) for a role that
#     is not the operator.
# The recipe lines are read from docs/retention.md, so the test follows the
# page.  pg_cron is required (test/setup/deps.sh installs postgresql-15-cron):
# without it the suite fails.  Leaves nothing behind in onshikaku_cron.
# Prints TAP-style lines and a last line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
: "${ONSHIKAKU_CLUSTER:?run from test/run_all.sh (or source .cluster/env.sh)}"
db=onshikaku_cron
doc=docs/retention.md
operator=purge_operator     # the role the page's recipes name
outsider=cron_outsider      # a login role without onshikaku_admin
started=$SECONDS

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $((pass + fail)) - $1"; }
not_ok() { fail=$((fail + 1)); echo "not ok $((pass + fail)) - $1"; [ -n "${2:-}" ] && echo "# $2"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got [$2], want [$3]"; fi; }
finish() {
  echo "# $((SECONDS - started)) s"
  echo "1..$((pass + fail))"
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit
}
# q [-U ROLE] DB SQL: one value (errors as "ERROR <sqlstate>")
q() {
  local user=() out
  if [ "$1" = -U ]; then user=(-U "$2"); shift 2; fi
  out=$(psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate "${user[@]}" -d "$1" -c "$2" 2>&1) || {
    echo "ERROR $(echo "$out" | grep -oE '[0-9A-Z]{5}' | tail -1)"; return; }
  echo "$out"
}

# Remove what this suite creates (also what an aborted earlier run left).
cleanup() {
  psql -X -q -d "$db" >/dev/null 2>&1 <<'SQL'
DO $c$ BEGIN
  IF to_regclass('cron.job') IS NOT NULL THEN
    PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE 'onshikaku-purge%';
  END IF;
END $c$;
DROP EXTENSION IF EXISTS pg_cron;
DROP EXTENSION IF EXISTS onshikaku CASCADE;
DROP SCHEMA IF EXISTS onshikaku CASCADE;
SQL
  psql -X -q -d postgres -c "DROP ROLE IF EXISTS $operator" -c "DROP ROLE IF EXISTS $outsider" >/dev/null 2>&1
}

# ---- pg_cron is there ------------------------------------------------------------------------
if [ -f /usr/lib/postgresql/15/lib/pg_cron.so ]; then ok "pg_cron is installed"
else not_ok "pg_cron is installed" "no pg_cron.so: install postgresql-15-cron (test/setup/deps.sh does)"; finish; fi
case ",$(q postgres 'SHOW shared_preload_libraries' | tr -d ' ')," in
  *,pg_cron,*) ok "the cluster preloads pg_cron" ;;
  *) not_ok "the cluster preloads pg_cron" "shared_preload_libraries: $(q postgres 'SHOW shared_preload_libraries')"; finish ;;
esac
check "cron.database_name is $db, which exists" \
  "$(q postgres "SELECT current_setting('cron.database_name') || ':' || count(*) FROM pg_database WHERE datname = '$db'")" "$db:1"
[ "$fail" -eq 0 ] || finish

# ---- the recipe, as the page gives it ---------------------------------------------------------
daily_sql=$(grep -m1 -E "^SELECT cron\.schedule\('onshikaku-purge', " "$doc")
other_db_sql=$(grep -m1 -E "^SELECT cron\.schedule_in_database\('onshikaku-purge', " "$doc")
# the crontab line without its five time fields and its user
psql_cmd=$(grep -m1 -E "^30 0 \* \* \* +postgres +psql " "$doc" | sed -E 's/^([^ ]+ +){6}//')
if [ -n "$daily_sql" ] && [ -n "$other_db_sql" ] && [ -n "$psql_cmd" ]; then
  ok "the page gives the pg_cron lines and the crontab line"
else not_ok "the page gives the pg_cron lines and the crontab line" \
  "cron.schedule: [$daily_sql] schedule_in_database: [$other_db_sql] psql: [$psql_cmd]"; finish; fi
# the job that runs within the test: the same command, every minute
test_sql=$(echo "$daily_sql" | sed -E "s/cron\.schedule\('onshikaku-purge', '[^']*'/cron.schedule('onshikaku-purge-test', '* * * * *'/")

cleanup
trap cleanup EXIT
# valid My Numbers from awk (no extension code), for the people who follow the first
read -r -a nums <<< "$(awk 'BEGIN { srand(4242); split("6 5 4 3 2 7 6 5 4 3 2", w, " ");
  for (k = 0; k < 3; k++) { s = 0; b = "";
    for (i = 1; i <= 11; i++) { d = int(rand() * 10); b = b d; s += d * w[i] }
    r = s % 11; c = (r <= 1) ? 0 : 11 - r; printf "%s%s ", b, c } }')"

out=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" 2>&1 <<SQL
CREATE EXTENSION onshikaku;
CREATE EXTENSION pg_cron;
CREATE ROLE $operator LOGIN IN ROLE onshikaku_admin;
ALTER ROLE $operator SET statement_timeout = 0;
CREATE ROLE $outsider LOGIN;
GRANT USAGE ON SCHEMA cron TO $operator;
SELECT onshikaku.register_insurer('01130012', 'cron 協会けんぽ', 'kyokai_kenpo') AS id \gset
-- lost in 2015: expired (5 years and the OQS need period) long ago
SELECT count(onshikaku.enroll_member(:id, '123456789018', '1', '2010-04-01', '1970-01-01',
                                     lost_on => '2015-04-01', loss_reason => 1::smallint));
-- lost a month ago, and still qualified: both stay
SELECT count(onshikaku.enroll_member(:id, '${nums[1]}', '3', '2010-04-01', '1970-01-01',
                                     lost_on => onshikaku.today_in_japan() - 30, loss_reason => 1::smallint));
SELECT count(onshikaku.enroll_member(:id, '${nums[2]}', '4', '2010-04-01', '1970-01-01'));
SQL
)
check "onshikaku and pg_cron in $db, an insurer, three people" "$(echo "$out" | tail -1)" 1
check "three people registered" "$(q "$db" "SELECT count(*) FROM onshikaku.person")" 3

# ---- pg_cron ---------------------------------------------------------------------------------
# As the operator: the page's line and the test job, in one transaction, so
# that pg_cron never sees them half set up: the throwaway cluster listens on
# its Unix socket only, so its jobs connect there (what cron.host does on a
# real server), and the daily job, once seen as stored, is made inactive so
# that it cannot fire (at 15:30 GMT) beside the test job.
out=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" 2>&1 <<SQL
BEGIN;
SET LOCAL ROLE $operator;
$daily_sql
$test_sql
RESET ROLE;
UPDATE cron.job SET nodename = '$PGHOST' WHERE jobname LIKE 'onshikaku-purge%';
SELECT schedule || '|' || command || '|' || username || '|' || database || '|' || active
FROM cron.job WHERE jobname = 'onshikaku-purge';
UPDATE cron.job SET active = false WHERE jobname = 'onshikaku-purge';
COMMIT;
SQL
)
check "the operator's daily job is stored as documented: 00:30 in Japan is 15:30 GMT" \
  "$(echo "$out" | tail -1)" "30 15 * * *|CALL onshikaku.purge_expired()|$operator|$db|true"
check "(15:30 GMT is 00:30 the next day in Japan)" \
  "$(q "$db" "SELECT to_char(timestamptz '2026-01-01 15:30+00' AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD HH24:MI')")" "2026-01-02 00:30"
job=$(q "$db" "SELECT jobid FROM cron.job WHERE jobname = 'onshikaku-purge-test' AND schedule = '* * * * *' AND command = 'CALL onshikaku.purge_expired()'")
check "the test job runs the same command every minute" "$(echo "$job" | grep -cE '^[0-9]+$')" 1

# wait for pg_cron's next minute (at most 75 s)
deadline=$((SECONDS + 75))
status=""
while [ $SECONDS -lt $deadline ]; do
  status=$(q "$db" "SELECT status || '|' || coalesce(return_message, '') FROM cron.job_run_details
                    WHERE jobid = ${job:-0} AND status IN ('succeeded', 'failed') ORDER BY runid LIMIT 1")
  [ -n "$status" ] && break
  sleep 1
done
check "pg_cron ran the job, which succeeded (waited $((SECONDS - deadline + 75)) s)" "$status" "succeeded|CALL"
check "... as the operator, in $db" \
  "$(q "$db" "SELECT username || '|' || database FROM cron.job_run_details WHERE jobid = ${job:-0} ORDER BY runid LIMIT 1")" "$operator|$db"
check "the purge ran: one finished real run, started by the operator, as of today in Japan" \
  "$(q "$db" "SELECT count(*) || '|' || string_agg(status || '|' || started_by || '|' || (as_of = onshikaku.today_in_japan()), ',')
              FROM onshikaku.purge_run WHERE NOT dry_run")" "1|finished|$operator|true"
check "the expired person is gone: qualification, registration, person (blind index)" \
  "$(q "$db" "SELECT (SELECT count(*) FROM onshikaku.qualification WHERE lost_on = '2015-04-01') || '|' ||
                     (SELECT count(*) FROM onshikaku.registration_zone) || '|' || (SELECT count(*) FROM onshikaku.person)")" "0|2|2"
check "the others stay (lost a month ago; still qualified)" \
  "$(q "$db" "SELECT count(*) FROM onshikaku.qualification")" 2
check "a deletion record: class, insurer, one row, the loss date, the operator" \
  "$(q "$db" "SELECT string_agg(data_class || '|' || insurer_id || '|' || row_count || '|' || event_from || '|' || event_to || '|' || deleted_by, ',')
              FROM onshikaku.deletion_record")" "qualification|1|1|2015-04-01|2015-04-01|$operator"
check "the 2015 cohort key is destroyed and listed in the record" \
  "$(q "$db" "SELECT d.state || '|' || (d.wrapped IS NULL) || '|' || (r.key_ids_destroyed = ARRAY[d.key_id])
              FROM onshikaku.data_key d, onshikaku.deletion_record r WHERE d.cohort = 2015")" "destroyed|true|true"
check "the page's monitoring: no unfinished run, today's run not missing" \
  "$(q "$db" "SELECT (SELECT count(*) FROM onshikaku.purge_run WHERE status <> 'finished') || '|' ||
                     NOT EXISTS (SELECT FROM onshikaku.purge_run
                                 WHERE NOT dry_run AND status = 'finished' AND as_of = onshikaku.today_in_japan())")" "0|false"
check "the operator unschedules both jobs by name" \
  "$(q -U "$operator" "$db" "SELECT cron.unschedule('onshikaku-purge-test') AND cron.unschedule('onshikaku-purge')")" t
check "... and no job is left" "$(q "$db" "SELECT count(*) FROM cron.job")" 0

# the other-database variant, as a superuser (stored only, and unscheduled in
# the same transaction: it would run at 15:30 GMT)
other=$(echo "$other_db_sql" | sed -E "s/'onshikaku', '$operator'\)/'$db', '$operator')/")
check "the page's schedule_in_database line names the database onshikaku and the operator" \
  "$([ "$other" != "$other_db_sql" ] && echo yes)" yes
out=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" 2>&1 <<SQL
BEGIN;
$other
SELECT schedule || '|' || command || '|' || username || '|' || database
FROM cron.job WHERE jobname = 'onshikaku-purge';
SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = 'onshikaku-purge';
COMMIT;
SQL
)
check "... and is stored for the operator, in the database named, at 15:30 GMT" \
  "$(echo "$out" | sed -n 2p)" "30 15 * * *|CALL onshikaku.purge_expired()|$operator|$db"

# ---- cron + psql --------------------------------------------------------------------------------
q "$db" "SELECT count(onshikaku.enroll_member((SELECT insurer_id FROM onshikaku.insurer), '${nums[0]}', '2', '2010-04-01', '1970-01-01',
                                             lost_on => '2016-04-01', loss_reason => 1::smallint))" >/dev/null
cmd=$(echo "$psql_cmd" | sed -E "s/ -d onshikaku / -d $db /")
check "the crontab line connects to database onshikaku as the operator" \
  "$(case "$cmd" in *" -d $db "*"-U $operator "*) echo yes ;; esac)" yes
out=$(bash -c "$cmd" 2>&1); rc=$?
check "the crontab's psql command line succeeds" "$rc" 0
check "... and prints nothing (cron mails only trouble)" "$out" ""
check "... and purged the next expired person, as the operator" \
  "$(q "$db" "SELECT (SELECT count(*) FROM onshikaku.qualification WHERE lost_on = '2016-04-01') || '|' ||
                     (SELECT count(*) FROM onshikaku.purge_run WHERE NOT dry_run AND status = 'finished' AND started_by = '$operator') || '|' ||
                     (SELECT count(*) FROM onshikaku.qualification)")" "0|2|2"
out=$(bash -c "$(echo "$cmd" | sed -E "s/-U $operator /-U $outsider /")" 2>&1); rc=$?
check "for a role without onshikaku_admin it fails (exit 1) and says why" \
  "$rc|$(echo "$out" | grep -c 'permission denied')" "1|1"

# ---- leave nothing behind -----------------------------------------------------------------------------
trap - EXIT
cleanup
check "nothing left: extensions, schemas, roles" \
  "$(q "$db" "SELECT (SELECT count(*) FROM pg_extension WHERE extname IN ('onshikaku', 'pg_cron')) || '|' ||
                     (SELECT count(*) FROM pg_namespace WHERE nspname IN ('onshikaku', 'cron')) || '|' ||
                     (SELECT count(*) FROM pg_roles WHERE rolname IN ('$operator', '$outsider'))")" "0|0|0"
finish
