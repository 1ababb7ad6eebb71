#!/usr/bin/env bash
# The purge procedure end to end, on the running throwaway cluster (make test
# starts it): CALL onshikaku.purge_expired() commits per batch, so it runs
# outside pgTAP's transaction.  Dry run and real run agree; an interrupted
# run resumes and finishes with the same result as an uninterrupted one;
# deletion records are written and only the operator alters them; cohort
# keys are destroyed when nothing they protect remains, after which a
# ciphertext from a pg_dump taken before the purge no longer decrypts.
# Prints TAP-style lines and a last line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${ONSHIKAKU_CLUSTER:?run from test/run_all.sh (or source .cluster/env.sh)}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db=onshikaku_retention

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $((pass + fail)) - $1"; }
not_ok() { fail=$((fail + 1)); echo "not ok $((pass + fail)) - $1"; [ -n "${2:-}" ] && echo "# $2"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got [$2], want [$3]"; fi; }
# q [ROLE] SQL: one value (errors as "ERROR <sqlstate>")
q() {
  local out
  out=$(psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d "$db" -c "$1" 2>&1) || {
    echo "ERROR $(echo "$out" | grep -oE '[0-9A-Z]{5}' | tail -1)"; return; }
  echo "$out"
}

psql -X -q -c "DROP DATABASE IF EXISTS $db" 2>/dev/null
psql -X -q -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION onshikaku;
DO $roles$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ret_operator') THEN
    CREATE ROLE ret_operator LOGIN IN ROLE onshikaku_admin;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ret_clerk') THEN
    CREATE ROLE ret_clerk LOGIN IN ROLE onshikaku_insurer;
  END IF;
END $roles$;
SET search_path = onshikaku, public;
SELECT register_insurer('01130012', 'ret A', 'kyokai_kenpo');
SELECT register_insurer('39131156', 'ret B', 'koki_koreisha');
-- 300 people per insurer: a third lost in 2015 (expired by 2025), a third in 2023 (not), a third open
CREATE TABLE people AS
SELECT g, CASE WHEN g % 2 = 0 THEN 1 ELSE 2 END AS ins,
       (b || (CASE WHEN r <= 1 THEN 0 ELSE 11 - r END)::text) AS n
FROM (SELECT g, b, (SELECT sum(substr(b, k, 1)::int * (ARRAY[6,5,4,3,2,7,6,5,4,3,2])[k]) FROM generate_series(1, 11) k) % 11 AS r
      FROM (SELECT g, lpad((410000000 + g * 7919)::text, 11, '0') AS b FROM generate_series(1, 600) g) s) t;
SELECT count(enroll_member(ins, n::my_number, g::text, '2010-04-01', '1970-01-01',
                           lost_on => CASE g % 3 WHEN 0 THEN date '2015-04-01' WHEN 1 THEN date '2023-04-01' END,
                           loss_reason => CASE WHEN g % 3 < 2 THEN 1::smallint END))
FROM people;
SQL
check "600 people enrolled" "$(q 'SELECT count(*) FROM onshikaku.qualification')" 600
# a ciphertext of an expired person, as a dump taken now holds it
pg_dump -Fp -d "$db" -t 'onshikaku.qualification_*' -f "$work/before.sql" 2>/dev/null
old=$(q "SELECT my_number::text FROM onshikaku.qualification WHERE insurer_id = 1 AND lost_on = '2015-04-01' LIMIT 1")
if grep -qF "$old" "$work/before.sql"; then ok "the dump before the purge holds the expired person's ciphertext"; else not_ok "the dump before the purge holds the expired person's ciphertext"; fi
check "... which decrypts before the purge" \
  "$(q "SELECT onshikaku.reveal('$old'::onshikaku.encrypted, '01130012', 'qualification.my_number', 't', 't') ~ '^[0-9]{12}\$'")" t

# ---- dry run ---------------------------------------------------------------------------------
psql -X -q -d "$db" -U ret_operator -c "CALL onshikaku.purge_expired('2025-06-01', dry_run => true, batch_size => 7)" 2>&1 | grep -v '^$'
check "dry run: finished" "$(q "SELECT status FROM onshikaku.purge_run ORDER BY run_id DESC LIMIT 1")" finished
dry=$(q "SELECT string_agg(data_class || ':' || insurer_id || ':' || row_count, ',' ORDER BY data_class, insurer_id)
         FROM onshikaku.purge_report WHERE run_id = (SELECT max(run_id) FROM onshikaku.purge_run)")
check "dry run: 100 expired people per insurer, and their national data" "$dry" \
  "qualification:1:100,qualification:2:100"
check "dry run: nothing deleted" "$(q 'SELECT count(*) FROM onshikaku.qualification')" 600
check "dry run: no deletion record" "$(q 'SELECT count(*) FROM onshikaku.deletion_record')" 0

# a dry run stopped after insurer 1 (as its position says) resumes at insurer 2: insurer 1 is not
# counted twice (a resumed run used to start again at the first insurer)
q "WITH r AS (INSERT INTO onshikaku.purge_run (as_of, dry_run, status, resume_class, resume_insurer)
              VALUES ('2025-06-01', true, 'interrupted', 'qualification', 2) RETURNING run_id)
   INSERT INTO onshikaku.purge_report (run_id, data_class, insurer_id, row_count, event_from, event_to)
   SELECT run_id, 'qualification', 1, 100, '2015-04-01', '2015-04-01' FROM r" >/dev/null
psql -X -q -d "$db" -U ret_operator -c "CALL onshikaku.purge_expired(dry_run => true, resume => true)" 2>&1 | grep -v '^$'
check "a resumed dry run starts where it stopped: the same figures as an uninterrupted one" \
  "$(q "SELECT string_agg(data_class || ':' || insurer_id || ':' || row_count, ',' ORDER BY data_class, insurer_id)
        FROM onshikaku.purge_report WHERE run_id = (SELECT max(run_id) FROM onshikaku.purge_run)")" "$dry"
check "pacing: duty must be in (0, 1] (22023)" \
  "$(psql -X -q -At -v VERBOSITY=sqlstate -d "$db" -U ret_operator -c "CALL onshikaku.purge_expired(duty => 0)" 2>&1 | grep -oE '[0-9A-Z]{5}' | tail -1):$(psql -X -q -At -v VERBOSITY=sqlstate -d "$db" -U ret_operator -c "CALL onshikaku.purge_expired(duty => 1.5)" 2>&1 | grep -oE '[0-9A-Z]{5}' | tail -1)" \
  "22023:22023"

# ---- an interrupted run, resumed ------------------------------------------------------------------
# a statement_timeout stops the run after a few committed batches
PGOPTIONS='-c statement_timeout=150' psql -X -q -d "$db" -U ret_operator \
  -c "CALL onshikaku.purge_expired('2025-06-01', batch_size => 5)" >/dev/null 2>&1
left=$(q "SELECT count(*) FROM onshikaku.qualification WHERE lost_on = '2015-04-01'")
if [ "$left" -gt 0 ] && [ "$left" -lt 200 ]; then ok "interrupted run: some batches committed ($((200 - left)) of 200 gone)";
else not_ok "interrupted run: some batches committed" "left: $left"; fi
check "interrupted run: not finished" "$(q "SELECT status FROM onshikaku.purge_run ORDER BY run_id DESC LIMIT 1")" running
check "interrupted run: where it stopped is recorded" \
  "$(q "SELECT resume_class IS NOT NULL FROM onshikaku.purge_run ORDER BY run_id DESC LIMIT 1")" t
psql -X -q -d "$db" -U ret_operator -c "CALL onshikaku.purge_expired(resume => true, batch_size => 5)" 2>&1 | grep -v '^$'
check "resumed: the same run finished" \
  "$(q "SELECT count(*) || ':' || max(status) FROM onshikaku.purge_run WHERE NOT dry_run")" "1:finished"
real=$(q "SELECT string_agg(data_class || ':' || insurer_id || ':' || row_count, ',' ORDER BY data_class, insurer_id)
          FROM onshikaku.purge_report WHERE run_id = (SELECT max(run_id) FROM onshikaku.purge_run)")
check "resumed: the real run removed what the dry run counted" "$real" "$dry"
check "the expired are gone, nobody else" \
  "$(q "SELECT count(*) FILTER (WHERE lost_on = '2015-04-01') || ':' || count(*) FROM onshikaku.qualification")" "0:400"
check "a second run finds nothing more" \
  "$(psql -X -q -d "$db" -U ret_operator -c "CALL onshikaku.purge_expired('2025-06-01')" >/dev/null 2>&1;
     q "SELECT coalesce(sum(row_count), 0) FROM onshikaku.purge_report WHERE run_id = (SELECT max(run_id) FROM onshikaku.purge_run)")" 0

# ---- deletion records -------------------------------------------------------------------------------
check "deletion records: one per class and insurer of the run, with the event range" \
  "$(q "SELECT string_agg(data_class || ':' || insurer_id || ':' || row_count || ':' || event_from || ':' || event_to || ':' || deleted_by, ',' ORDER BY insurer_id)
        FROM onshikaku.deletion_record WHERE data_class = 'qualification'")" \
  "qualification:1:100:2015-04-01:2015-04-01:ret_operator,qualification:2:100:2015-04-01:2015-04-01:ret_operator"
check "deletion records hold no personal number" \
  "$(q "SELECT count(*) FROM onshikaku.deletion_record d WHERE d::text ~ '[0-9]{12}|[0-9a-f]{64}'")" 0
psql -X -q -d "$db" -c "GRANT UPDATE ON onshikaku.deletion_record TO ret_clerk"
check "an insurer role cannot alter a deletion record (even with UPDATE granted)" \
  "$(psql -X -q -At -v VERBOSITY=sqlstate -d "$db" -U ret_clerk -c "UPDATE onshikaku.deletion_record SET row_count = 0" 2>&1 | grep -oE '[0-9A-Z]{5}' | tail -1)" 42501
check "the operator can (a documented correction)" \
  "$(psql -X -q -At -d "$db" -U ret_operator -c "UPDATE onshikaku.deletion_record SET rule = rule WHERE data_class = 'qualification'" 2>&1)" ""

# ---- keys destroyed with the data -----------------------------------------------------------------
check "the 2015 cohort keys of both insurers are destroyed" \
  "$(q "SELECT string_agg(insurer::text || ':' || state || ':' || (wrapped IS NULL), ',' ORDER BY insurer::text) FROM onshikaku.data_key WHERE cohort = 2015")" \
  "01130012:destroyed:true,39131156:destroyed:true"
check "the 2023 cohort keys (rows remain) are not" \
  "$(q "SELECT string_agg(DISTINCT state, ',') FROM onshikaku.data_key WHERE cohort = 2023")" active
check "the run's deletion record lists the destroyed keys" \
  "$(q "SELECT count(*) FROM onshikaku.deletion_record WHERE cardinality(key_ids_destroyed) = 2")" 1
check "the ciphertext from the dump taken before the purge no longer decrypts (55000)" \
  "$(q "SELECT onshikaku.reveal('$old'::onshikaku.encrypted, '01130012', 'qualification.my_number', 't', 't')")" "ERROR 55000"
check "the remaining people still decrypt" \
  "$(q "SELECT bool_and(onshikaku.reveal(my_number, '01130012', 'qualification.my_number', 't', 't') ~ '^[0-9]{12}\$') FROM onshikaku.qualification WHERE insurer_id = 1")" t

# ---- national data across insurers and runs; a locked person; removing a purged insurer -------------
psql -X -q -c "DROP DATABASE $db"
psql -X -q -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION onshikaku;
SET search_path = onshikaku, public;
SELECT register_insurer('01130012', 'ret A', 'kyokai_kenpo');      -- 1
SELECT register_insurer('39131156', 'ret B', 'koki_koreisha');     -- 2
SELECT register_insurer('06131015', 'ret C', 'kenpo_kumiai');      -- 3
-- two people with agency codes, lost 2015 (A); a third with A (lost 2014) and B (lost 2015)
SELECT record_agency_code(1, (enroll_member(1, n::my_number, c, '2010-04-01', '1970-01-01', lost_on => l::date,
                                            loss_reason => 1::smallint)).insured_branch_number, 'CODE-' || c)
FROM (VALUES ('123456789018', '1', '2015-04-01'), ('621498320257', '2', '2015-05-01'),
             ('100000000013', '3', '2014-04-01')) v(n, c, l);
SELECT enroll_member(2, '100000000013', '3', '2014-06-01', '1970-01-01', lost_on => '2015-06-01', loss_reason => 1::smallint);
-- insurer C: six expired people
SELECT count(enroll_member(3, n::my_number, c, '2010-04-01', '1970-01-01', lost_on => '2015-04-01', loss_reason => 1::smallint))
FROM (VALUES ('200000000026', '11'), ('300000000039', '12'), ('983205673214', '13'), ('410000000003', '14'),
             ('420000000000', '15'), ('430000000004', '16')) v(n, c)
WHERE onshikaku.my_number_is_valid(n);
SELECT set_retention_period('agency_code', '5 years', '10 years');
SQL
psql -X -q -d "$db" -c "CALL onshikaku.purge_expired('2021-01-01', dry_run => true)" >/dev/null 2>&1
check "dry run: a person with two insurers, both purgeable, counts as one agency code kept for its own rule" \
  "$(q "SELECT string_agg(data_class || ':' || insurer_id || ':' || row_count, ',' ORDER BY data_class, insurer_id) FROM onshikaku.purge_report WHERE run_id = (SELECT max(run_id) FROM onshikaku.purge_run)")" \
  "qualification:1:3,qualification:2:1,qualification:3:$(q 'SELECT count(*) FROM onshikaku.qualification WHERE insurer_id = 3')"
psql -X -q -d "$db" -c "CALL onshikaku.purge_expired('2021-01-01')" >/dev/null 2>&1
check "2021: every qualification gone, the agency codes kept (OQS need period 10 years)" \
  "$(q "SELECT (SELECT count(*) FROM onshikaku.qualification) || ':' || (SELECT count(*) FROM onshikaku.agency_code) || ':' || (SELECT count(*) FROM onshikaku.person)")" "0:3:3"
psql -X -q -d "$db" -c "CALL onshikaku.purge_expired('2026-01-01', dry_run => true)" >/dev/null 2>&1
check "dry run 2026: the kept agency codes are due (a later run looks at them again)" \
  "$(q "SELECT string_agg(data_class || ':' || insurer_id || ':' || row_count, ',') FROM onshikaku.purge_report WHERE run_id = (SELECT max(run_id) FROM onshikaku.purge_run)")" "agency_code:0:3"
psql -X -q -d "$db" -c "CALL onshikaku.purge_expired('2026-01-01')" >/dev/null 2>&1
check "2026: the agency codes and the people are gone" \
  "$(q "SELECT (SELECT count(*) FROM onshikaku.agency_code) || ':' || (SELECT count(*) FROM onshikaku.person)")" "0:0"
check "one deletion record for the national class of the run (not one per person)" \
  "$(q "SELECT string_agg(row_count || ':' || event_from || ':' || event_to, ',') FROM onshikaku.deletion_record WHERE data_class = 'agency_code'")" \
  "3:2015-04-01:2015-06-01"
check "an insurer whose people were all purged can be removed (its card 枝番 were only tombstones)" \
  "$(q "SELECT onshikaku.remove_insurer(3)")" ""
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
SET search_path = onshikaku, public;
SELECT count(enroll_member(1, n::my_number, c, '2010-04-01', '1970-01-01', lost_on => '2015-04-01', loss_reason => 1::smallint))
FROM (VALUES ('123456789018', '21'), ('621498320257', '22'), ('100000000013', '23'), ('200000000026', '24'),
             ('300000000039', '25'), ('983205673214', '26')) v(n, c);
SQL
# one person's registration is locked (an enrolment under way) while the purge runs with small batches
psql -X -q -d "$db" -c "BEGIN; SELECT 1 FROM onshikaku.registration_zone ORDER BY insured_branch_number LIMIT 1 FOR UPDATE; SELECT pg_sleep(3); COMMIT;" >/dev/null 2>&1 &
sleep 0.5
warn=$(psql -X -q -d "$db" -c "CALL onshikaku.purge_expired('2030-01-01', batch_size => 2)" 2>&1)
wait
check "a person being enrolled is skipped, the others of the insurer still go" \
  "$(q "SELECT count(*) FROM onshikaku.qualification WHERE insurer_id = 1")" 1
if echo "$warn" | grep -q "being enrolled left for the next run"; then ok "... with a warning"; else not_ok "... with a warning" "$warn"; fi
psql -X -q -d "$db" -c "CALL onshikaku.purge_expired('2030-01-01')" >/dev/null 2>&1
check "the next run takes the skipped person" "$(q "SELECT count(*) FROM onshikaku.qualification")" 0
# one purge at a time
psql -X -q -d "$db" -c "SELECT pg_advisory_lock(hashtext('onshikaku.purge_expired')); SELECT pg_sleep(2);" >/dev/null 2>&1 &
sleep 0.5
check "a second purge while one runs: 55P03" \
  "$(psql -X -q -At -v VERBOSITY=sqlstate -d "$db" -c "CALL onshikaku.purge_expired('2030-01-01')" 2>&1 | grep -oE '[0-9A-Z]{5}' | tail -1)" 55P03
wait

psql -X -q -c "DROP DATABASE $db"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
