#!/usr/bin/env bash
# Benchmark of the flows (issue 5), in one run on the throwaway cluster, in a database of its
# own (bench_flows, dropped at the end, so that partitions.sh still finds no insurers in bench):
#
#   1. registers BENCH_INSURERS insurers (onshikaku.register_insurer, one transaction each,
#      kinds mixed by 法別) and builds the staging table of BENCH_PEOPLE people
#      (test/bench/flows_data.sql: every value a function of the person's index, households of
#      three on one card);
#   b. enrolment of the BENCH_PEOPLE people from the staging table, as bench_flow_handler (member of
#      onshikaku_number_handler, mapped to every insurer with grant_insurer):
#          model:    SELECT count(*) FROM onshikaku.enroll_members(insurer_id, ARRAY(SELECT ROW(...)::
#                    onshikaku.member_input FROM staging WHERE k = ...)), one call (one transaction) per
#                    insurer, with all its people;
#          baseline: INSERT ... SELECT of the same people into plain person, registration,
#                    qualification and card tables with the same indexes (My Number in clear, numbers
#                    from the staging table: no encryption, no blind index, no issuance), one
#                    transaction per insurer.
#      BENCH_ROUNDS rounds (round r: the insurers k % BENCH_ROUNDS = r), model and baseline
#      alternating.  Rows/s per round, medians, ratio.  Then BENCH_PROFILE_PEOPLE more people are
#      enrolled (not measured) while perf samples the backend (BENCH_PERF=1).
#      Extra line: one person at a time, SELECT count(onshikaku.enroll_member(...)) FROM staging,
#      for BENCH_ROW_INSURERS insurers with as many people each (one in ten with a loss), against
#      the same INSERT ... SELECT per insurer.
#      Checks: row counts, the 枝番 issued (00 for the insured person, 01, 02 for the
#      dependents, in enrolment order), one link number per person;
#   a. confirmation by card: pgbench -n -M prepared -c 2 -j 2 -T BENCH_WARMUP + BENCH_SECONDS (TPS
#      of the last BENCH_SECONDS; every run opens new connections, which warm up first) as bench_flow_oqs
#      (member of onshikaku_oqs_feed, not superuser), a random enrolled person per transaction:
#          model:    SELECT * FROM onshikaku.confirm_qualification(保険者番号, 記号, 番号, 枝番,
#                                                                  birth_date, on_date)
#          baseline: the same answer (same 24 columns, status from the dates, birth date checked,
#                    the card's copay ratio when the card is valid) from ONE plain table with a
#                    btree index on (insurer_number, card_symbol, card_number, card_branch),
#                    built from the model's qualification and card rows
#      BENCH_ROUNDS alternating rounds, median TPS, ratio.  Before measuring, both answers are
#      compared on a sample (they must be equal) and each pgbench script is run once checked.
#      Extra lines: the first confirmation at every insurer in a new connection (warm-up cost), the
#      composite form SELECT confirm_qualification_row(...), a perf profile, and two rounds of both at
#      shared_buffers = BENCH_BIG_BUFFERS (restart, prewarmed);
#   c. onshikaku.issue_pmh_id(my_number text) under pgbench -c 8 -j 2 -M prepared as
#      bench_flow_pmh (member of onshikaku_pmh_gateway): a run of first issuances (every
#      transaction a person not seen before), then a run of repeated requests (already_issued),
#      then first issuances with one client; the locks one issuance holds;
#   d. card 枝番 issuance under 8 concurrent clients: pgbench -c 8 enrolling new people into
#      shared cards (BENCH_PER_CARD people per 記号・番号, the 8 clients filling the same card at
#      the same time), and the same with each client on cards of its own; enrolments/s; then
#      verifies that no (insurer, 記号, 番号, 枝番) was given to two people.
#
# Locks: issue_pmh_id() locks partitions of every insurer (see c.); this script raises
# max_locks_per_transaction to BENCH_MAX_LOCKS (ALTER SYSTEM, restart) and puts it back at the end.
#
#   usage: test/bench/run.sh test/bench/flows.sh     (make bench runs it)
#   env:   BENCH_INSURERS (3500), BENCH_PEOPLE (1000000), BENCH_ROUNDS (3), BENCH_SECONDS (20),
#          BENCH_PER_CARD (40),
#          BENCH_PROFILE_PEOPLE (10000), BENCH_PERF (1), BENCH_MAX_LOCKS (1024),
#          BENCH_BATCH (500 insurers per psql call when registering),
#          BENCH_ROW_INSURERS (60; 0: no per-row line),
#          BENCH_WARMUP (5: seconds of each pgbench run before the measured BENCH_SECONDS),
#          BENCH_BIG_BUFFERS (2GB: the extra confirmation rounds at that shared_buffers; empty: none)
#   quick: BENCH_INSURERS=50 BENCH_PEOPLE=20000 BENCH_SECONDS=5 BENCH_WARMUP=2 BENCH_BIG_BUFFERS=
#          (about 2.5 minutes); the full run (defaults) takes about 40 minutes, 8 of them registering
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${PGHOST:?run through test/bench/run.sh, which starts the cluster}"
: "${ONSHIKAKU_CLUSTER:?run through test/bench/run.sh, which starts the cluster}"
insurers=${BENCH_INSURERS:-3500}
people=${BENCH_PEOPLE:-1000000}
rounds=${BENCH_ROUNDS:-3}
secs=${BENCH_SECONDS:-20}
per_card=${BENCH_PER_CARD:-40}
want_perf=${BENCH_PERF:-1}
max_locks=${BENCH_MAX_LOCKS:-1024}
batch=${BENCH_BATCH:-500}
warm=${BENCH_WARMUP:-5}
big_buffers=${BENCH_BIG_BUFFERS-2GB}
extra=${BENCH_PROFILE_PEOPLE:-10000}
row_insurers=${BENCH_ROW_INSURERS:-60}
[ "$extra" -gt $((people / 10)) ] && extra=$((people / 10))
have_perf=0
if [ "$want_perf" = 1 ] && command -v perf >/dev/null 2>&1; then have_perf=1; fi
[ "$have_perf" = 1 ] || extra=0
[ "$per_card" -le 96 ] && [ $((per_card % 8)) -eq 0 ] || { echo "BENCH_PER_CARD must be a multiple of 8, at most 96 (枝番 00-99)" >&2; exit 1; }
db=bench_flows
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

q() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
val() { psql -X -qAt -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
loadavg() { echo "(load average of the machine: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores)"; }
secs_of() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }
per() { printf '%d.%d' $(($1 / $2)) $(((($1 * 10) / $2) % 10)); }
record() {   # PART LABEL RUN VALUE UNIT [EXTRA] [NOTE]
  q -v part="$1" -v label="$2" -v run="$3" -v value="$4" -v unit="$5" -v extra="${6:-}" -v note="${7:-}" \
    <<<"INSERT INTO bench.flow_result (part, label, run, value, unit, extra, note)
        VALUES (:'part', :'label', :run, nullif(:'value', '')::numeric, :'unit', nullif(:'extra', '')::numeric, :'note')"
}

restart_server() {
  local data=$ONSHIKAKU_CLUSTER/data owner
  owner=$(stat -c %U "$data")
  if [ "$(id -u)" -eq 0 ] && [ "$owner" != root ]; then
    runuser -u "$owner" -- pg_ctl -D "$data" -l "$ONSHIKAKU_CLUSTER/server.log" -m fast -w -t 120 restart >/dev/null
  else
    pg_ctl -D "$data" -l "$ONSHIKAKU_CLUSTER/server.log" -m fast -w -t 120 restart >/dev/null
  fi
}

# perf: sample one backend (by application_name) until the file $work/stop_perf appears, then
# print the top self-time symbols and the inclusive time of the interesting ones.
perf_start() {   # APPNAME OUTFILE
  local pid="" i
  for i in $(seq 1 100); do
    pid=$(psql -X -qAt -d "$db" -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$1' AND state = 'active' LIMIT 1")
    [ -n "$pid" ] && break
    sleep 0.1
  done
  [ -n "$pid" ] || return 1
  perf record -q -F 999 -g -o "$2" -p "$pid" >/dev/null 2>&1 &
  echo $!
}
perf_summary() {   # FILE
  echo "-- self time, top symbols (unresolved addresses left out)"
  { perf report -i "$1" --no-children --sort symbol --stdio -g none 2>/dev/null || true; } \
    | awk '/^ +[0-9.]+%/ && $3 !~ /^0x/ { printf "  %7s  %s %s\n", $1, $2, $3 }' | head -25 || true
  echo "-- inclusive time (children included) of selected functions (frame-pointer call graphs: indicative)"
  { perf report -i "$1" --children --sort symbol --stdio -g none 2>/dev/null || true; } \
    | awk '/^ +[0-9.]+%/ { printf "  %7s  %s\n", $1, $4 }' \
    | grep -E ' (exec_simple_query|exec_execute_message|PortalRun|pg_plan_query|planner|standard_planner|pg_analyze_and_rewrite.*|raw_parser|ExecutorStart|standard_ExecutorStart|ExecInitNode|ExecutorRun|standard_ExecutorRun|ExecModifyTable|ExecInsert|ExecInsertIndexTuples|ExecUpdate|heap_insert|_bt_doinsert|plpgsql_call_handler|plpgsql_exec_function|exec_stmt_.*|SPI_execute.*|_SPI_execute_plan|GetCachedPlan|BuildCachedPlan|RevalidateCachedQuery|fmgr_sql|osk_[a-z_]+|protect_[a-z_]*|blind_[a-z_]*|EVP_[A-Za-z_]+|HMAC[A-Za-z_]*|ossl_[a-z_]*|index_getnext_slot|ExecScan|ExecIndexScan|table_open|relation_open|LockRelationOid|LockAcquireExtended|index_open|RelationBuildDesc|AtEOXact_GUC|set_config_option|NewGUCNestLevel|ProcessGUCArray|CommitTransactionCommand|AbortCurrentTransaction|BeginInternalSubTransaction|ReleaseCurrentSubTransaction|RollbackAndReleaseCurrentSubTransaction|XLogInsert|CopyFrom|expand_partitioned_rtentry|prune_append_rel_partitions|get_relation_info|ExecFindPartition|ExecInitPartitionInfo|ExecInitPartitionDispatchInfo|AcquireExecutorLocks|ScanQueryForLocks|FunctionScanNext|ExecMakeTableFunctionResult|ExecEvalFunc.*|printtup|SendRowDescriptionMessage|hash_search.*)$' \
    | head -60 || true
}

if [ "$(psql -X -qAt -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$db'")" -ne 0 ]; then
  echo "flows.sh: database $db exists already (a run that did not finish?); dropping it"
  psql -X -q -d postgres -c "DROP DATABASE $db WITH (FORCE)"
fi
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db"
q -c 'CREATE EXTENSION onshikaku' -f test/bench/lib.sql
# the identifier types' operators are in schema onshikaku (for the checks run as superuser)
q -c "ALTER DATABASE $db SET search_path = public, onshikaku"
q -v staging=false -f test/bench/flows_data.sql

echo "== setting: $insurers insurers, $people people (+ $extra enrolled under perf), $rounds alternating rounds,"
echo "   pgbench runs of $secs s, $per_card people per shared card in d. =="
q -P footer=off -c "SELECT version() AS server, (SELECT extversion FROM pg_extension WHERE extname = 'onshikaku') AS onshikaku,
                           $(nproc) AS cores"

# ---- 0. locks -----------------------------------------------------------------------------------
default_locks=$(val 'SHOW max_locks_per_transaction')
if [ "$default_locks" -lt "$max_locks" ]; then
  echo "max_locks_per_transaction: $default_locks -> $max_locks (ALTER SYSTEM, restart; put back at the end)"
  val "ALTER SYSTEM SET max_locks_per_transaction = $max_locks" >/dev/null
  restart_server
fi

# ---- 1. insurers -------------------------------------------------------------------------------
bad=$(val "SELECT count(*) FILTER (WHERE NOT onshikaku.insurer_number_is_valid(bench.flow_insurer_number(k)))
                  + ($insurers - count(DISTINCT bench.flow_insurer_number(k)))
           FROM generate_series(0, $insurers - 1) k")
[ "$bad" -eq 0 ] || { echo "generated insurer numbers are not valid and distinct" >&2; exit 1; }
echo
echo "== 1. registering $insurers insurers (one transaction each) =="
t_start=$(now_ms)
for ((lo = 0; lo < insurers; lo += batch)); do
  hi=$((lo + batch - 1)); [ "$hi" -ge "$insurers" ] && hi=$((insurers - 1))
  t0=$(now_ms)
  q -c "DO \$\$ BEGIN
          FOR k IN $lo..$hi LOOP
            PERFORM onshikaku.register_insurer(bench.flow_insurer_number(k)::onshikaku.insurer_number,
                                               'bench insurer ' || k, bench.flow_insurer_kind(k));
            COMMIT;
          END LOOP;
        END \$\$"
  dt=$(($(now_ms) - t0))
  printf 'insurers %5d-%5d: %8s s, %7s ms per insurer\n' $((lo + 1)) $((hi + 1)) "$(secs_of $dt)" "$(per $dt $((hi - lo + 1)))"
done
t_reg=$(($(now_ms) - t_start))
read -r id_lo id_hi n_ins < <(val "SELECT min(insurer_id), max(insurer_id), count(*) FROM onshikaku.insurer" | tr '|' ' ')
[ "$n_ins" -eq "$insurers" ] && [ $((id_hi - id_lo + 1)) -eq "$insurers" ] \
  || { echo "expected $insurers insurers with consecutive ids, got $n_ins ($id_lo-$id_hi)" >&2; exit 1; }
[ "$(val "SELECT count(*) FROM onshikaku.insurer WHERE insurer_number::text <> bench.flow_insurer_number(insurer_id - $id_lo)")" -eq 0 ] \
  || { echo "insurer k does not have insurer_id $id_lo + k" >&2; exit 1; }
echo "REGISTRATION: $insurers insurers in $(secs_of $t_reg) s, $(per $t_reg "$insurers") ms per insurer"
record setup registration 1 "$(per $t_reg "$insurers")" 'ms per insurer'

# ---- 2. staging, plain tables, roles ----------------------------------------------------------
echo
echo "== 2. staging table ($people + $extra people), plain tables, roles =="
t0=$(now_ms)
q -v staging=true -v insurers="$insurers" -v people="$people" -v extra="$extra" -v rounds="$rounds" \
  -v id_lo="$id_lo" -v row_insurers="$row_insurers" -f test/bench/flows_data.sql
echo "staging: $(secs_of $(($(now_ms) - t0))) s"
q -P footer=off -c "SELECT count(*) AS people, count(DISTINCT my_number) AS my_numbers,
       count(*) FILTER (WHERE NOT onshikaku.my_number_is_valid(my_number)) AS invalid,
       count(DISTINCT (insurer_id, card_symbol, card_number)) AS cards,
       count(*) FILTER (WHERE lost_on IS NOT NULL) AS lost, min(birth_date) AS born_from, max(birth_date) AS born_to
     FROM bench.flow_staging"
q <<SQL
SET client_min_messages = warning;
DROP ROLE IF EXISTS bench_flow_handler, bench_flow_oqs, bench_flow_pmh;
CREATE ROLE bench_flow_handler LOGIN IN ROLE onshikaku_number_handler;
CREATE ROLE bench_flow_oqs LOGIN IN ROLE onshikaku_oqs_feed;
CREATE ROLE bench_flow_pmh LOGIN IN ROLE onshikaku_pmh_gateway;
DO \$\$ BEGIN PERFORM onshikaku.grant_insurer('bench_flow_handler', insurer_id) FROM onshikaku.insurer; END \$\$;
GRANT USAGE ON SCHEMA bench TO bench_flow_handler, bench_flow_oqs, bench_flow_pmh;
GRANT SELECT ON bench.flow_staging, bench.flow_rows TO bench_flow_handler;
GRANT SELECT, INSERT ON bench_flow_person, bench_flow_registration, bench_flow_qualification, bench_flow_card
    TO bench_flow_handler;
-- the identifier types' operators are in schema onshikaku
ALTER ROLE bench_flow_handler SET search_path = public, onshikaku;
ALTER ROLE bench_flow_oqs SET search_path = public, onshikaku;
ALTER ROLE bench_flow_pmh SET search_path = public, onshikaku;
SQL
q -P footer=off -c "SELECT r.rolname, r.rolsuper, array_agg(g.rolname ORDER BY g.rolname) AS member_of,
       (SELECT count(*) FROM onshikaku.insurer_role ir WHERE ir.role_name = r.oid::regrole) AS insurers_mapped
     FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid
     WHERE r.rolname LIKE 'bench_flow_%' GROUP BY r.rolname, r.rolsuper, r.oid ORDER BY 1"

# ---- b. enrolment ------------------------------------------------------------------------------
member_array() {   # TABLE WHERE: the member_input[] of the rows, in g order
  cat <<SQL
ARRAY(SELECT ROW(b.my_number, b.card_number, b.acquired_on, b.birth_date, b.card_symbol, b.insured_or_dependent,
                 b.name_on_card, b.name_on_card_kana, b.sex, b.address, b.postcode, b.municipality_code, b.household_id,
                 b.insured_person_name, b.copay_ratio, NULL, false)::onshikaku.member_input
      FROM $1 b WHERE $2 ORDER BY b.g)
SQL
}
bulk_call() {   # K TABLE WHERE: the model's statement for insurer k (one transaction)
  echo "SELECT count(*) FROM onshikaku.enroll_members($((id_lo + $1)), $(member_array "$2" "$3"));"
}
row_calls() {   # K: the per-row model's statement for insurer k of bench.flow_rows (one transaction)
  cat <<SQL
SELECT count(onshikaku.enroll_member(s.insurer_id, s.my_number::onshikaku.my_number, s.card_number, s.acquired_on,
         s.birth_date, card_symbol => s.card_symbol, insured_or_dependent => s.insured_or_dependent,
         name_on_card => s.name_on_card, name_on_card_kana => s.name_on_card_kana, sex => s.sex,
         address => s.address, postcode => s.postcode, municipality_code => s.municipality_code,
         household_id => s.household_id, insured_person_name => s.insured_person_name,
         copay_ratio => s.copay_ratio, lost_on => s.lost_on, loss_reason => s.loss_reason))
FROM (SELECT * FROM bench.flow_rows WHERE k = $1 ORDER BY g) s;
SQL
}
plain_insert() {   # TABLE WHERE: the baseline's statements for the rows (one transaction)
  local from="$1 WHERE $2"
  cat <<SQL
BEGIN;
INSERT INTO bench_flow_person (link_number, my_number)
SELECT link_number, my_number FROM $from ORDER BY g;
INSERT INTO bench_flow_registration (insurer_id, insured_branch_number, my_number, link_number)
SELECT insurer_id, insured_branch_number, my_number, link_number FROM $from ORDER BY g;
INSERT INTO bench_flow_qualification
    (insurer_id, qualification_id, insured_branch_number, link_number, my_number, dv_nondisclosure, name_on_card,
     name_on_card_kana, sex1, birth_date, address, postcode, municipality_code, household_id, card_symbol,
     card_number, card_branch, acquired_on, lost_on, loss_reason, insured_or_dependent, insured_person_name,
     process_kind_code)
SELECT insurer_id, qualification_id, insured_branch_number, link_number, my_number, false, name_on_card,
       name_on_card_kana, sex, birth_date, address, postcode, municipality_code, household_id, card_symbol,
       card_number, expected_branch, acquired_on, lost_on, loss_reason, insured_or_dependent, insured_person_name,
       'enrol'
FROM $from ORDER BY g;
INSERT INTO bench_flow_card (insurer_id, card_id, qualification_id, kind, card_symbol, card_number, card_branch,
                             issued_on, valid_from, valid_to, copay_ratio)
SELECT insurer_id, card_id, qualification_id, 'insurance_card', card_symbol, card_number, expected_branch,
       current_date, acquired_on, lost_on - 1, copay_ratio
FROM $from ORDER BY g;
COMMIT;
SQL
}
for ((r = 0; r < rounds; r++)); do
  : > "$work/enrol_$r.sql"; : > "$work/plain_$r.sql"; : > "$work/row_$r.sql"; : > "$work/row_plain_$r.sql"
  for ((k = r; k < insurers; k += rounds)); do
    bulk_call "$k" bench.flow_staging "b.k = $k AND b.g < $people" >> "$work/enrol_$r.sql"
    plain_insert bench.flow_staging "k = $k AND g < $people" >> "$work/plain_$r.sql"
  done
  for ((k = r; k < row_insurers; k += rounds)); do
    row_calls "$k" >> "$work/row_$r.sql"
    plain_insert bench.flow_rows "k = $k" >> "$work/row_plain_$r.sql"
  done
done

echo
echo "== b. enrolment of the $people people: $rounds rounds of ~$((people / rounds)) people (the insurers k % $rounds = round), model and baseline alternating =="
loadavg
echo "   model:    SELECT count(*) FROM onshikaku.enroll_members(insurer_id, ARRAY(SELECT ROW(...)::member_input FROM staging ...)),"
echo "             one call (one transaction) per insurer: all its ~$(((people + insurers - 1) / insurers)) people"
echo "   baseline: INSERT ... SELECT of the same people into plain person, registration, qualification, card, one transaction per insurer"
enrol_run() {   # LABEL ROUND FILE TABLE WHERE
  local n t0 dt out
  n=$(val "SELECT count(*) FROM $4 WHERE round = $2 AND $5")
  q -c 'CHECKPOINT'
  t0=$(now_ms)
  out=$(PGAPPNAME="bench_flow_$1" psql -X -q -v ON_ERROR_STOP=1 -d "$db" -U bench_flow_handler -f "$3" 2>&1) \
    || { echo "$out" | tail -5 >&2; echo "enrolment run $1 $2 failed" >&2; exit 1; }
  dt=$(($(now_ms) - t0))
  printf '%-14s round %d: %8d people in %8s s = %8s rows/s\n' "$1" $(($2 + 1)) "$n" "$(secs_of $dt)" "$(per $((n * 1000)) $dt)"
  record b "$1" $(($2 + 1)) "$(per $((n * 1000)) $dt)" 'rows/s' "$dt" "$n people"
}
for ((r = 0; r < rounds; r++)); do
  enrol_run model "$r" "$work/enrol_$r.sql" bench.flow_staging "g < $people"
  enrol_run baseline "$r" "$work/plain_$r.sql" bench.flow_staging "g < $people"
done
if [ "$extra" -gt 0 ]; then
  echo
  echo "-- perf profile of the model's backend while it enrols $extra more people (not measured; one call per insurer)"
  : > "$work/profile.sql"
  for ((k = 0; k < insurers; k++)); do
    bulk_call "$k" bench.flow_staging "b.k = $k AND b.g >= $people" >> "$work/profile.sql"
  done
  PGAPPNAME=bench_flow_profile psql -X -q -v ON_ERROR_STOP=1 -d "$db" -U bench_flow_handler \
    -f "$work/profile.sql" > "$work/profile.out" 2>&1 &
  enr=$!
  perf_pid=$(perf_start bench_flow_profile "$work/perf_b.data") || perf_pid=""
  wait "$enr" || { cat "$work/profile.out" >&2; exit 1; }
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    # (not a child of this shell: wait until it has written its file)
    for _ in $(seq 1 300); do kill -0 "$perf_pid" 2>/dev/null || break; sleep 0.2; done
    perf_summary "$work/perf_b.data"
  else
    echo "(perf did not start)"
  fi
fi
if [ "$row_insurers" -gt 0 ]; then
  echo
  echo "-- extra line: one person at a time, SELECT count(onshikaku.enroll_member(...)) FROM staging, one statement"
  echo "   (one transaction) per insurer, $row_insurers insurers x $(((people + insurers - 1) / insurers)) people (one in ten with a loss), against the same"
  echo "   INSERT ... SELECT per insurer; $rounds rounds alternating"
  for ((r = 0; r < rounds; r++)); do
    enrol_run row_model "$r" "$work/row_$r.sql" bench.flow_rows true
    enrol_run row_baseline "$r" "$work/row_plain_$r.sql" bench.flow_rows true
  done
  q -P footer=off <<'SQL'
SELECT count(*) AS row_people, count(q.insurer_id) AS enrolled, count(DISTINCT q.link_number) AS link_numbers,
       count(*) FILTER (WHERE q.card_branch <> b.expected_branch) AS branch_not_as_expected,
       count(*) FILTER (WHERE q.lost_on IS NOT NULL) AS lost
FROM bench.flow_rows b LEFT JOIN onshikaku.qualification q ON q.insurer_id = b.insurer_id AND q.name_on_card = b.name_on_card;
SQL
fi
echo
echo "-- checks after the enrolment"
q -c 'VACUUM ANALYZE onshikaku.person, onshikaku.person_enrolment, onshikaku.qualification, onshikaku.card,
       onshikaku.registration_zone, onshikaku.card_branch_issue, bench_flow_person, bench_flow_registration,
       bench_flow_qualification, bench_flow_card'
q -P footer=off <<'SQL'
SELECT (SELECT count(*) FROM bench.flow_staging) AS staged,
       (SELECT count(*) FROM onshikaku.person) AS model_person, (SELECT count(*) FROM onshikaku.registration_zone) AS model_registration,
       (SELECT count(*) FROM onshikaku.qualification) AS model_qualification, (SELECT count(*) FROM onshikaku.card) AS model_card,
       (SELECT count(*) FROM onshikaku.card_branch_issue) AS model_card_branch_issue,
       (SELECT count(*) FROM bench_flow_person) AS plain_person, (SELECT count(*) FROM bench_flow_qualification) AS plain_qualification,
       (SELECT count(*) FROM bench_flow_card) AS plain_card;
SELECT count(*) AS qualifications, count(DISTINCT q.link_number) AS link_numbers,
       count(*) FILTER (WHERE q.card_branch <> s.expected_branch) AS branch_not_as_expected,
       count(*) FILTER (WHERE q.my_number IS NULL OR q.my_number_bi IS NULL) AS without_my_number,
       count(*) FILTER (WHERE q.lost_on IS NOT NULL) AS lost
FROM onshikaku.qualification q JOIN bench.flow_staging s ON s.insurer_id = q.insurer_id AND s.name_on_card = q.name_on_card;
SELECT pg_size_pretty(sum(pg_total_relation_size(relid)) FILTER (WHERE isleaf)) AS model_qualification_total,
       (SELECT pg_size_pretty(pg_total_relation_size('bench_flow_qualification'))) AS plain_qualification_total
FROM pg_partition_tree('onshikaku.qualification');
SQL

# ---- a. confirmation by card ---------------------------------------------------------------------
echo
echo "== a. confirmation by card: pgbench -n -M prepared -c 2 -j 2 -T $((secs + warm)) (TPS of the last $secs s) as bench_flow_oqs, $rounds rounds alternating =="
loadavg
nmax=$((people / insurers - 1))   # every insurer has people n = 0..nmax
[ "$nmax" -ge 2 ] || { echo "need at least 3 people per insurer" >&2; exit 1; }
on_date=2025-06-01
# the baseline: the confirmation's answer from one plain table ($1..$6 as confirm_qualification's)
plain_confirm='SELECT CASE WHEN p.acquired_on > $6 THEN '"'not_yet_qualified'"' WHEN p.lost_on <= $6 THEN '"'lost'"' ELSE '"'qualified'"' END,
       p.insurer_number, p.card_symbol, p.card_number, p.card_branch, p.name_on_card, p.name_on_card_kana, p.sex1,
       p.birth_date, p.insured_or_dependent, p.insured_person_name, p.acquired_on, p.lost_on, p.loss_reason,
       CASE WHEN NOT p.dv_nondisclosure THEN p.address END, CASE WHEN NOT p.dv_nondisclosure THEN p.postcode END,
       p.dv_nondisclosure,
       CASE WHEN p.acquired_on <= $6 AND (p.lost_on IS NULL OR p.lost_on > $6) AND (p.card_valid_from IS NULL OR p.card_valid_from <= $6)
                 AND (p.card_valid_to IS NULL OR p.card_valid_to >= $6) THEN p.copay_ratio END,
       NULL::date, NULL::text, NULL::date, NULL::text, NULL::integer, true
FROM bench_flow_oqs p
WHERE p.insurer_number = $1 AND p.card_symbol = $2 AND p.card_number = $3 AND p.card_branch = $4 AND p.birth_date = $5
  AND NOT p.deleted
ORDER BY CASE WHEN p.acquired_on > $6 THEN 1 WHEN p.lost_on <= $6 THEN 2 ELSE 3 END DESC, p.acquired_on DESC
LIMIT 1'
t0=$(now_ms)
q <<SQL
SET client_min_messages = warning;
-- one plain, unpartitioned, unencrypted table: the qualification rows with their insurer's number and
-- their insurance card's validity and copay ratio (a hash join: a nested loop into 3,500 card
-- partitions prunes at run time for every row)
SET enable_nestloop = off;
CREATE TABLE bench_flow_oqs AS
SELECT i.insurer_number, q.card_symbol, q.card_number, q.card_branch, q.name_on_card, q.name_on_card_kana, q.sex1,
       q.birth_date, q.insured_or_dependent, q.insured_person_name, q.acquired_on, q.lost_on, q.loss_reason,
       q.address, q.postcode, q.dv_nondisclosure, q.deleted, c.copay_ratio, c.valid_from AS card_valid_from,
       c.valid_to AS card_valid_to
FROM onshikaku.qualification q JOIN onshikaku.insurer i USING (insurer_id)
LEFT JOIN onshikaku.card c ON c.insurer_id = q.insurer_id AND c.qualification_id = q.qualification_id
                          AND c.kind = 'insurance_card';
CREATE INDEX bench_flow_oqs_card ON bench_flow_oqs (insurer_number, card_symbol, card_number, card_branch);
VACUUM ANALYZE bench_flow_oqs;
GRANT SELECT ON bench_flow_oqs TO bench_flow_oqs;
CREATE FUNCTION bench.flow_plain_confirm(onshikaku.insurer_number, text, text, onshikaku.card_branch_number, date, date)
    RETURNS SETOF onshikaku.confirmation LANGUAGE sql STABLE SET search_path = public, onshikaku AS \$f\$ $plain_confirm \$f\$;
SQL
echo "plain table bench_flow_oqs: $(val 'SELECT count(*) FROM bench_flow_oqs') rows, $(val "SELECT pg_size_pretty(pg_total_relation_size('bench_flow_oqs'))") ($(secs_of $(($(now_ms) - t0))) s)"
echo "-- the two answers compared on 2,000 random enrolled people, on $on_date and on their acquisition day - 1 (must be equal)"
q -P footer=off <<SQL
SET client_min_messages = warning;
CREATE TEMP TABLE sample AS SELECT * FROM bench.flow_staging WHERE g < $people ORDER BY random() LIMIT 2000;
SELECT count(*) AS compared,
       count(*) FILTER (WHERE m IS DISTINCT FROM p) AS different,
       count(*) FILTER (WHERE (m).status = 'qualified') AS qualified, count(*) FILTER (WHERE (m).status = 'lost') AS lost,
       count(*) FILTER (WHERE (m).status = 'not_yet_qualified') AS not_yet, count(*) FILTER (WHERE (m).status = 'not_found') AS not_found,
       count(*) FILTER (WHERE (m).copay_ratio IS NOT NULL) AS with_copay_ratio
FROM (SELECT (SELECT x FROM onshikaku.confirm_qualification(i.insurer_number, s.card_symbol, s.card_number, s.expected_branch,
                                                             s.birth_date, d) x) AS m,
             (SELECT x FROM bench.flow_plain_confirm(i.insurer_number, s.card_symbol, s.card_number, s.expected_branch,
                                                      s.birth_date, d) x) AS p
      FROM sample s JOIN onshikaku.insurer i USING (insurer_id)
      CROSS JOIN LATERAL (VALUES (date '$on_date'), (s.acquired_on - 1)) v(d)) t;
SQL
# pgbench computes person n of insurer k (its 保険者番号 with the Luhn digit, 記号, 番号, 枝番 and
# birth date) with the formulas of flows_data.sql
pick_person() {
  cat <<'EOF'
\set k random(0, :nins - 1)
\set n random(0, :nmax)
\set g :n * :nins + :k
\set hb case when :k % 8 = 0 then 31 when :k % 8 = 1 then 32 when :k % 8 = 2 then 33 when :k % 8 = 3 then 34 when :k % 8 = 4 then 39 when :k % 8 = 5 then 63 when :k % 8 = 6 then 67 else 72 end
\set b :hb * 100000 + (1 + (:k / 8) % 47) * 1000 + :k / 376
\set l (2 * (:b % 10)) / 10 + (2 * (:b % 10)) % 10 + (:b / 10) % 10 + (2 * (:b / 100 % 10)) / 10 + (2 * (:b / 100 % 10)) % 10 + (:b / 1000) % 10 + (2 * (:b / 10000 % 10)) / 10 + (2 * (:b / 10000 % 10)) % 10 + (:b / 100000) % 10 + (2 * (:b / 1000000 % 10)) / 10 + (2 * (:b / 1000000 % 10)) % 10
\set ins :b * 10 + (10 - :l % 10) % 10
\set h :n / 3
\set s 100 + :h / 1000
\set c 10000000 + :h
\set m :n % 3
\set bo (:g * 7919) % 25000
EOF
}
args="(:ins, :s, :c, lpad(:m::text, 2, '0')::onshikaku.card_branch_number, date '1930-01-01' + :bo::int, date '$on_date')"
{ pick_person; echo "SELECT * FROM onshikaku.confirm_qualification$args;"; } > "$work/confirm.sql"
{ pick_person; echo "SELECT onshikaku.confirm_qualification_row$args;"; } > "$work/confirm_composite.sql"
# the baseline: the same text as bench.flow_plain_confirm(), parameters as above
plain_pg=$(sed -e 's/\$1/:ins/g' -e 's/\$2/:s::text/g' -e 's/\$3/:c::text/g' \
              -e "s/\\\$4/lpad(:m::text, 2, '0')::onshikaku.card_branch_number/g" \
              -e "s/\\\$5/(date '1930-01-01' + :bo::int)/g" -e "s/\\\$6/date '$on_date'/g" <<<"$plain_confirm" | tr '\n' ' ')
{ pick_person; echo "$plain_pg;"; } > "$work/confirm_plain.sql"
# checked variants: an error (division by zero) unless the answer is the person's
{ pick_person; echo "SELECT 1 / (status IN ('qualified', 'lost') AND card_number = :c::text)::int FROM onshikaku.confirm_qualification$args;"; } > "$work/check_model.sql"
{ pick_person; echo "SELECT 1 / count(*)::int FROM ($plain_pg) x WHERE x.card_number = :c::text;"; } > "$work/check_plain.sql"

pgb() {   # PART LABEL RUN ROLE SCRIPT CLIENTS SECONDS|tCOUNT [EXTRA PGBENCH ARGS...]: one run, recorded
  # -T runs last SECONDS + BENCH_WARMUP: every run opens new connections, and a new backend fills its
  # caches (relcache entries of the partitions it touches, insurer numbers) first; the recorded TPS
  # is that of the SECONDS after the warm-up (from pgbench's per-second progress), the overall TPS
  # of the run is recorded too (part PART-overall).
  local part=$1 label=$2 run=$3 role=$4 script=$5 clients=$6 t=$7 out tps lat note fails steady first dur
  shift 7
  q -c 'CHECKPOINT'
  if [[ $t == t* ]]; then dur=(-t "${t#t}" -P 5); else dur=(-T "$((t + warm))" -P 1); fi
  out=$(pgbench -n -M prepared -c "$clients" -j "$((clients < 2 ? clients : 2))" "${dur[@]}" -U "$role" \
          -D nins="$insurers" -D nmax="$nmax" -D lo="$id_lo" -D people="$people" -D per_card="$per_card" -D i=0 \
          "$@" -f "$work/$script" "$db" 2>&1) || true
  tps=$(awk '/^tps = / { printf "%.1f", $3; exit }' <<<"$out")
  lat=$(awk '/^latency average = / { print $4; exit }' <<<"$out")
  fails=$(awk '/^number of failed transactions/ { print $5; exit }' <<<"$out")
  if [[ $t == t* ]]; then
    steady=$tps
    note="progress tps: $(awk '/^progress:/ { printf "%s ", $4 }' <<<"$out")"
  else
    steady=$(awk -v w="$warm" '/^progress:/ && $2 + 0 > w { s += $4; n++ } END { if (n) printf "%.1f", s / n }' <<<"$out")
    first=$(awk -v w="$warm" '/^progress:/ && $2 + 0 <= w { printf "%d ", $4 }' <<<"$out")
    note="overall ${tps:-?} tps; first ${warm} s: ${first:-?}"
  fi
  if grep -qi 'aborted\|error' <<<"$out"; then
    note="$note; $(grep -i -m1 'aborted\|error' <<<"$out" | cut -c1-300)"
  fi
  printf '%-46s run %d: %10s tps, latency %8s ms, %s failed  (%s)\n' "$label" "$run" "${steady:-none}" "${lat:--}" "${fails:-?}" "$note"
  echo "$out" > "$work/last_pgbench.out"
  record "$part" "$label" "$run" "${steady:-}" tps "${lat:-}" "$note"
  [[ $t == t* ]] || record "$part-overall" "$label" "$run" "${tps:-}" tps "" "including the warm-up"
}
pgcheck() {   # ROLE SCRIPT: run a checked script, fail the benchmark on any error
  local out
  out=$(pgbench -n -M prepared -c 1 -t 300 -U "$1" -D nins="$insurers" -D nmax="$nmax" -f "$work/$2" "$db" 2>&1) || true
  if ! grep -q 'number of transactions actually processed: 300/300' <<<"$out"; then
    echo "$out" | tail -8 >&2; echo "the checked pgbench script $2 failed: the formulas do not find the people" >&2; exit 1
  fi
  echo "checked: $2, 300 random people found"
}
pgcheck bench_flow_oqs check_model.sql
pgcheck bench_flow_oqs check_plain.sql
echo "  model:    $(tail -1 "$work/confirm.sql")"
echo "  baseline: $(tail -1 "$work/confirm_plain.sql" | cut -c1-160)..."
echo "-- a new connection: the first confirmation at each of the $insurers insurers, then the same again (one statement each)"
cold=$(psql -X -q -d "$db" -U bench_flow_oqs <<SQL 2>&1
\\timing on
SELECT count(*) FILTER (WHERE c.status <> 'not_found') AS found FROM generate_series(0, $insurers - 1) k,
  LATERAL onshikaku.confirm_qualification(bench.flow_insurer_number(k)::onshikaku.insurer_number, '100', '10000000', '00',
                                          date '1930-01-01' + (k * 7919) % 25000, date '$on_date') c;
SELECT count(*) FILTER (WHERE c.status <> 'not_found') AS found FROM generate_series(0, $insurers - 1) k,
  LATERAL onshikaku.confirm_qualification(bench.flow_insurer_number(k)::onshikaku.insurer_number, '100', '10000000', '00',
                                          date '1930-01-01' + (k * 7919) % 25000, date '$on_date') c;
SQL
)
read -r cold_ms warm_ms < <(awk '/^Time:/ { printf "%s ", $2 } END { print "" }' <<<"$cold") || true
found=$(awk '/^ *[0-9]+$/ { print $1; exit }' <<<"$cold")
echo "   found $found of $insurers; first time: ${cold_ms:-?} ms, again: ${warm_ms:-?} ms"
record a-cold "first confirmation at each insurer, new connection" 1 "${cold_ms:-}" ms "${warm_ms:-}" "again: ${warm_ms:-?} ms; found $found"
AM="model: SELECT * FROM confirm_qualification()"
AP="baseline: plain table, btree index"
for ((r = 1; r <= rounds; r++)); do
  pgb a "$AM" "$r" bench_flow_oqs confirm.sql 2 "$secs"
  pgb a "$AP" "$r" bench_flow_oqs confirm_plain.sql 2 "$secs"
done
pgb a "extra: SELECT confirm_qualification_row() (composite)" 1 bench_flow_oqs confirm_composite.sql 2 "$secs"
if [ "$have_perf" = 1 ]; then
  echo "-- perf profile of one model backend (pgbench as above, 10 s sampled after the warm-up)"
  pgbench -n -M prepared -c 2 -j 2 -T $((warm + 16)) -U bench_flow_oqs -D nins="$insurers" -D nmax="$nmax" \
    -f "$work/confirm.sql" "$db" >/dev/null 2>&1 &
  pgb_pid=$!
  sleep $((warm + 3))
  pid=$(val "SELECT pid FROM pg_stat_activity WHERE usename = 'bench_flow_oqs' AND state IS NOT NULL LIMIT 1")
  if [ -n "$pid" ] && perf record -q -F 999 -g -o "$work/perf_a.data" -p "$pid" -- sleep 10 >/dev/null 2>&1; then
    perf_summary "$work/perf_a.data"
  else
    echo "(perf did not run)"
  fi
  wait "$pgb_pid" || true
fi

if [ -n "$big_buffers" ]; then
  echo "-- extra: the same two lookups with shared_buffers = $big_buffers (restart; tables and indexes prewarmed), 2 rounds"
  echo "   (at 256MB the model's partitions and indexes, wider rows, do not fit in shared buffers and the plain table does)"
  val "ALTER SYSTEM SET shared_buffers = '$big_buffers'" >/dev/null
  restart_server
  q -P footer=off <<'SQL' || echo "(pg_prewarm not available: the warm-up seconds fill the buffers)"
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_prewarm;
SELECT pg_size_pretty(8192 * (
         (SELECT sum(pg_prewarm(relid)) FROM pg_partition_tree('onshikaku.qualification') WHERE isleaf)
       + (SELECT sum(pg_prewarm(relid)) FROM pg_partition_tree('onshikaku.qualification_card') WHERE isleaf)
       + (SELECT sum(pg_prewarm(relid)) FROM pg_partition_tree('onshikaku.card') WHERE isleaf)
       + (SELECT sum(pg_prewarm(relid)) FROM pg_partition_tree('onshikaku.card_qualification') WHERE isleaf))) AS model_prewarmed,
       pg_size_pretty(8192 * (pg_prewarm('bench_flow_oqs') + pg_prewarm('bench_flow_oqs_card'))) AS plain_prewarmed;
SQL
  for r in 1 2; do
    pgb a "extra: model, shared_buffers $big_buffers" "$r" bench_flow_oqs confirm.sql 2 "$secs"
    pgb a "extra: baseline, shared_buffers $big_buffers" "$r" bench_flow_oqs confirm_plain.sql 2 "$secs"
  done
  val 'ALTER SYSTEM RESET shared_buffers' >/dev/null
  restart_server
fi

# ---- c. PMH-ID -------------------------------------------------------------------------------
echo
echo "== c. onshikaku.issue_pmh_id(my_number text): pgbench -n -M prepared -c 8 -j 2 -T $((secs + warm)) (TPS of the last $secs s) as bench_flow_pmh =="
loadavg
# transaction i of client c asks for person g = (8 (i - 1) + c) mod people: never the same person twice
# in the first run (unless it wraps around); the second run asks for people issued in the first
my_number_of_b() {
  cat <<'EOF'
\set s 6 * (:b / 10000000000 % 10) + 5 * (:b / 1000000000 % 10) + 4 * (:b / 100000000 % 10) + 3 * (:b / 10000000 % 10) + 2 * (:b / 1000000 % 10) + 7 * (:b / 100000 % 10) + 6 * (:b / 10000 % 10) + 5 * (:b / 1000 % 10) + 4 * (:b / 100 % 10) + 3 * (:b / 10 % 10) + 2 * (:b % 10)
\set mn :b * 10 + case when :s % 11 <= 1 then 0 else 11 - :s % 11 end
EOF
}
{ echo '\set i :i + 1'; echo '\set g ((:i - 1) * 8 + :client_id) % :people'; echo '\set b 30000000000 + :g'
  my_number_of_b; echo 'SELECT outcome, pmh_id FROM onshikaku.issue_pmh_id(:mn::text);'; } > "$work/pmh_first.sql"
{ echo '\set g random(0, :issued)'; echo '\set b 30000000000 + :g'
  my_number_of_b; echo 'SELECT outcome, pmh_id FROM onshikaku.issue_pmh_id(:mn::text);'; } > "$work/pmh_again.sql"
{ echo '\set i :i + 1'; echo '\set g :people - 3 - (:i - 1) % (:people / 2)'; echo '\set b 30000000000 + :g'
  my_number_of_b; echo 'SELECT outcome, pmh_id FROM onshikaku.issue_pmh_id(:mn::text);'; } > "$work/pmh_desc.sql"
log0=$(val 'SELECT count(*) FROM onshikaku.pmh_issuance_log')
pgb c "issue_pmh_id: first issuance" 1 bench_flow_pmh pmh_first.sql 8 "$secs"
done_first=$(awk '/^number of transactions actually processed/ { split($6, a, "/"); print a[1]; exit }' "$work/last_pgbench.out")
log1=$(val 'SELECT count(*) FROM onshikaku.pmh_issuance_log')
issued=$(((log1 - log0) / 2))
[ "$issued" -ge 1 ] || issued=1
pgb c "issue_pmh_id: already_issued" 1 bench_flow_pmh pmh_again.sql 8 "$secs" -D issued="$issued"
log2=$(val 'SELECT count(*) FROM onshikaku.pmh_issuance_log')
# one client: the latency of one issuance without lock-table pressure from the others (people from the
# last one but two down, not reached by the first run unless it wrapped; wraps after people / 2)
pgb c "issue_pmh_id: first issuance, 1 client" 1 bench_flow_pmh pmh_desc.sql 1 "$(((secs + 1) / 2))"
done_one=$(awk '/^number of transactions actually processed/ { split($6, a, "/"); print a[1]; exit }' "$work/last_pgbench.out")
log3=$(val 'SELECT count(*) FROM onshikaku.pmh_issuance_log')
record c "issue_pmh_id: PMH-IDs issued per second, 1 client" 1 \
  "$(awk -v n=$((log3 - log2)) -v t=$(((secs + 1) / 2 + warm)) 'BEGIN { printf "%.1f", n / t }')" 'issued/s' "" \
  "new PMH-IDs over the whole run (warm-up included), whatever the wrap-around"
echo "first run: ${done_first:-?} transactions, $((log1 - log0)) PMH-IDs issued; second run: $((log2 - log1)) issued (expected 0: all already_issued); 1 client: ${done_one:-?} transactions, $((log3 - log2)) issued (fewer: the range of people wrapped, the rest were already_issued)"
q -P footer=off <<'SQL'
SELECT count(*) AS people_with_pmh_id, count(DISTINCT pmh_id) AS distinct_pmh_ids,
       (SELECT count(*) FROM onshikaku.pmh_issuance_log) AS log_rows,
       (SELECT count(*) FROM onshikaku.qualification q JOIN onshikaku.person p ON p.link_number::text = q.link_number::text
        WHERE p.pmh_id IS NOT NULL AND q.pmh_id IS DISTINCT FROM p.pmh_id) AS qualification_rows_without_it
FROM onshikaku.person WHERE pmh_id IS NOT NULL;
SQL
# (the join is on text so that it cannot become a nested loop probing the 3,500 partitions' link
#  indexes once per person, the likely plan when the statistics predate the issuances: on the type's
#  own = this query ran for more than 15 minutes at 112,000 PMH-IDs and 1.1M qualification rows)
echo "-- one issuance as bench_flow_pmh: time and locks held"
psql -X -q -d "$db" -U bench_flow_pmh -P footer=off <<SQL
\timing on
BEGIN;
SELECT outcome FROM onshikaku.issue_pmh_id(bench.flow_my_number(30000000000 + $people - 2));
SELECT count(*) AS locks_held, count(*) FILTER (WHERE relation::regclass::text LIKE 'onshikaku.qualification\_%'
                                                   OR relation::regclass::text LIKE 'qualification\_%') AS on_qualification_partitions_and_indexes
FROM pg_locks WHERE pid = pg_backend_pid();
COMMIT;
SQL

# ---- d. card 枝番 issuance under 8 clients -----------------------------------------------------------
echo
echo "== d. card 枝番 issuance: 8 clients enrolling household members, $per_card people per 記号・番号 =="
loadavg
# shared: at its i-th transaction every client enrols into card (i - 1) / (per_card / 8), so the 8
# clients fill the same card together (each adds per_card / 8 people to it); own: each client fills
# cards of its own.  pgbench -t: every card is complete at the end.  Transactions per client: about
# BENCH_SECONDS of work at the enrolment rate of b., a multiple of per_card.
rate_b=$(val "SELECT coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY value))::int, 1000) FROM bench.flow_result WHERE part = 'b' AND label = 'row_model'")
per_client=$(((secs * rate_b * 13 / 10 / 8 + per_card - 1) / per_card * per_card))
[ "$per_client" -ge "$per_card" ] || per_client=$per_card
echo "   pgbench -n -M prepared -c 8 -j 2 -t $per_client as bench_flow_handler ($((8 * per_client)) enrolments, $((8 * per_client / per_card)) cards per run)"
{ echo '\set i :i + 1'; echo '\set cd (:i - 1) / (:per_card / 8)'
  echo '\set mem :client_id * (:per_card / 8) + (:i - 1) % (:per_card / 8)'
  echo '\set b 50000000000 + :cd * :per_card + :mem'; my_number_of_b
  echo '\set iod case when :mem = 0 then 1 else 2 end'
  echo '\set ins :lo + :cd % :nins'; echo '\set cn 10000000 + :cd / :nins'; echo '\set bo (:cd * 7 + :mem) % 10000'
  echo "SELECT card_branch FROM onshikaku.enroll_member(:ins, :mn, :cn::text, date '2024-04-01', date '1980-01-01' + :bo::int, card_symbol => 'D', insured_or_dependent => :iod);"
} > "$work/household_shared.sql"
{ echo '\set i :i + 1'; echo '\set cd (:client_id + 1) * 1000000 + (:i - 1) / :per_card'
  echo '\set mem (:i - 1) % :per_card'
  echo '\set b 51000000000 + :client_id * 100000000 + :i - 1'; my_number_of_b
  echo '\set iod case when :mem = 0 then 1 else 2 end'
  echo '\set ins :lo + :cd % :nins'; echo '\set cn 10000000 + :cd / :nins'; echo '\set bo (:cd * 7 + :mem) % 10000'
  echo "SELECT card_branch FROM onshikaku.enroll_member(:ins, :mn, :cn::text, date '2024-04-01', date '1980-01-01' + :bo::int, card_symbol => 'E', insured_or_dependent => :iod);"
} > "$work/household_own.sql"
# how many of the 8 backends wait for a lock (the other enrolments into the same card), sampled every 0.1 s
sample_waits() {   # OUTFILE: runs until $work/stop_sampling exists
  while [ ! -e "$work/stop_sampling" ] && [ -d "$work" ] && kill -0 $$ 2>/dev/null; do
    psql -X -qAt -d "$db" -c "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock') || ' ' || count(*)
                              FROM pg_stat_activity WHERE usename = 'bench_flow_handler' AND state = 'active'" >> "$1" 2>/dev/null || true
    sleep 0.1
  done
}
household() {   # LABEL SCRIPT
  rm -f "$work/stop_sampling"; : > "$work/waits"
  sample_waits "$work/waits" &
  local sampler=$!
  pgb d "$1" 1 bench_flow_handler "$2" 8 "t$per_client"
  touch "$work/stop_sampling"; wait "$sampler" || true; kill "$sampler" 2>/dev/null || true
  awk '{ w += $1; a += $2; n++ } END { if (n) printf "   sampled %d times: on average %.2f of %.2f active backends waiting for a lock\n", n, w / n, a / n }' "$work/waits"
}
household "household enrolment, 8 clients fill each card together" household_shared.sql
household "household enrolment, each client its own cards" household_own.sql
echo "-- verification: no (insurer, 記号, 番号, 枝番) given to two people"
q -P footer=off -v per_card="$per_card" <<'SQL'
SET enable_nestloop = off;   -- (a nested loop into 3,500 partitions prunes at run time for every row)
WITH cards AS (
    SELECT insurer_id, card_symbol, card_number, count(*) AS people, count(DISTINCT card_branch) AS branches,
           count(DISTINCT link_number) AS link_numbers,
           count(*) FILTER (WHERE insured_or_dependent = 1 AND card_branch::text <> '00') AS insured_not_00,
           count(*) FILTER (WHERE insured_or_dependent = 2) AS dependents,
           coalesce(max(card_branch::text::int) FILTER (WHERE insured_or_dependent = 2), 0) AS highest_dependent_branch
    FROM onshikaku.qualification WHERE card_symbol IN ('D', 'E') GROUP BY 1, 2, 3)
SELECT card_symbol, sum(people) AS enrolled, count(*) AS cards, count(*) FILTER (WHERE people = :per_card) AS complete_cards,
       sum(people - branches) AS "branches given to two people",
       sum(people - link_numbers) AS "people enrolled twice",
       sum(insured_not_00) AS "insured person not 00",
       count(*) FILTER (WHERE dependents <> highest_dependent_branch) AS "dependents not 01..n"
FROM cards GROUP BY 1 ORDER BY 1;
SELECT (SELECT count(*) FROM (SELECT 1 FROM onshikaku.qualification GROUP BY insurer_id, card_symbol, card_number, card_branch
                               HAVING count(DISTINCT link_number) > 1) d) AS "all cards: branches given to two people",
       (SELECT count(*) FROM onshikaku.qualification x LEFT JOIN onshikaku.card_branch_issue c
          ON c.insurer_id = x.insurer_id AND c.card_symbol = coalesce(x.card_symbol, '') AND c.card_number = x.card_number
         AND c.card_branch = x.card_branch AND c.link_number = x.link_number
        WHERE c.insurer_id IS NULL) AS "qualification rows without their card_branch_issue row";
SQL

# ---- summary -------------------------------------------------------------------------------------
echo
echo "== summary ($insurers insurers, $people people) =="
loadavg
echo "registration: $(per $t_reg "$insurers") ms per insurer"
q -P footer=off -v AM="$AM" -v AP="$AP" -v BB="$big_buffers" <<'SQL'
SELECT part, label, count(value) AS runs, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY value)::numeric, 1) AS median,
       min(unit) AS unit, round(min(value), 1) AS min, round(max(value), 1) AS max
FROM bench.flow_result WHERE part <> 'setup' GROUP BY part, label ORDER BY min(id);
WITH m AS (SELECT part, label, percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS v FROM bench.flow_result GROUP BY 1, 2)
SELECT round(((SELECT v FROM m WHERE part = 'a' AND label = :'AM') / (SELECT v FROM m WHERE part = 'a' AND label = :'AP'))::numeric, 3)
           AS "RATIO a. confirm, model/plain (TPS; target 0.8)",
       round(((SELECT v FROM m WHERE part = 'b' AND label = 'model') / (SELECT v FROM m WHERE part = 'b' AND label = 'baseline'))::numeric, 3)
           AS "RATIO b. enrol, model/plain (rows/s; target 0.5)",
       round(((SELECT v FROM m WHERE part = 'b' AND label = 'row_model') / (SELECT v FROM m WHERE part = 'b' AND label = 'row_baseline'))::numeric, 3)
           AS "ratio b. one person at a time, enroll_member/plain";
WITH m AS (SELECT part, label, percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS v FROM bench.flow_result GROUP BY 1, 2)
SELECT p.line, round((a.v / b.v)::numeric, 3) AS ratio
FROM (VALUES (1, 'a', 'a. confirmation, overall TPS including each run''s warm-up', :'AM', :'AP'),
             (2, 'a', 'a. confirmation, shared_buffers ' || :'BB', 'extra: model, shared_buffers ' || :'BB',
                      'extra: baseline, shared_buffers ' || :'BB')) p(n, part, line, model, baseline)
JOIN m a ON a.part = CASE WHEN p.n = 1 THEN 'a-overall' ELSE 'a' END AND a.label = p.model
JOIN m b ON b.part = CASE WHEN p.n = 1 THEN 'a-overall' ELSE 'a' END AND b.label = p.baseline
ORDER BY p.n;
SQL

# ---- clean up ------------------------------------------------------------------------------------
psql -X -q -d postgres -c "DROP DATABASE $db WITH (FORCE)" \
  -c 'DROP ROLE IF EXISTS bench_flow_handler, bench_flow_oqs, bench_flow_pmh' || true
if [ "$default_locks" -lt "$max_locks" ]; then
  psql -X -qAt -d postgres -c 'ALTER SYSTEM RESET max_locks_per_transaction' >/dev/null
  restart_server
fi
