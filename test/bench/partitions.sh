#!/usr/bin/env bash
# Benchmark of issue 4: 3,500 insurers, 1M qualification rows, and a point
# lookup by (insurer, 記号, 番号, 枝番) through the partitioned, RLS-protected
# model against the same lookup on one unpartitioned table with a btree
# index, both as prepared statements under pgbench with 2 clients.
#
#   1. registers the insurers through onshikaku.register_insurer() (one
#      transaction each, in batches of psql calls) and reports the time in
#      total, per insurer and per batch (registration cost grows with the
#      number of insurers already registered);
#   2. loads the rows into onshikaku.qualification (superuser, INSERT ...
#      SELECT, My Number columns left NULL), spread evenly over the insurers,
#      (insurer_id, card_symbol, card_number, card_branch) unique; copies them
#      into one plain table with a btree index on those four columns;
#      VACUUM ANALYZE both;
#   3. creates the login role bench_insurer (member of onshikaku_insurer)
#      mapped with onshikaku.grant_insurer() to every insurer, like a 国保連;
#   4. pgbench -n -M prepared -c 2 -j 2 -T 30, alternating model and
#      baseline runs (BENCH_ROUNDS, default 3) with the script
#          model:    SELECT set_config('onshikaku.acting_insurer', :i, false);
#                    SELECT name_on_card, acquired_on, lost_on FROM onshikaku.qualification
#                    WHERE insurer_id = :i AND card_symbol = :s AND card_number = :c
#                      AND card_branch = :b::onshikaku.card_branch_number;
#          baseline: SELECT set_config('bench.acting_insurer', :i, false);   -- a dummy setting
#                    the same SELECT on the plain table
#      (a random insurer and a random existing row each transaction; the
#      baseline sets a dummy custom setting so that both send the same two
#      statements: SET itself cannot be prepared with a parameter), and
#      reports the median TPS of each and the ratio model / baseline;
#   5. extra lines, not replacing the required one: the SELECT alone for a
#      role mapped to one insurer (bench_one) against the plain table; the
#      model with plan_cache_mode = force_custom_plan and with -M extended;
#      a lookup that leaves the insurer to the policy alone (no insurer_id
#      in the WHERE clause); EXPLAIN (ANALYZE) and lock counts as
#      bench_insurer; a perf profile of one model backend (when perf runs);
#      and the prepared model at the server's default max_locks_per_transaction.
#
# Locks.  A prepared lookup on the parent builds, at its sixth execution, a
# generic plan over every partition (about 5 locks each); at the default
# max_locks_per_transaction = 64 that fails with "out of shared memory".  (The
# first version of the model also locked every qualification partition when
# registering an insurer, through foreign keys that are gone.)  So this script
# raises max_locks_per_transaction (ALTER SYSTEM, restart of the throwaway
# cluster) to BENCH_MAX_LOCKS (default 1024) before registering, reports it,
# and at the end puts the default back to show what happens.
#
#   usage: test/bench/run.sh test/bench/partitions.sh   (make bench runs it)
#   env:   BENCH_INSURERS (3500), BENCH_ROWS (1000000), BENCH_SECONDS (30),
#          BENCH_ROUNDS (3), BENCH_BATCH (500 insurers per psql call),
#          BENCH_MAX_LOCKS (1024), BENCH_PERF (1: profile with perf if it runs)
# Needs a fresh bench database (run.sh makes one): it registers insurers.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${PGHOST:?run through test/bench/run.sh, which starts the cluster}"
: "${ONSHIKAKU_CLUSTER:?run through test/bench/run.sh, which starts the cluster}"
insurers=${BENCH_INSURERS:-3500}
rows=${BENCH_ROWS:-1000000}
secs=${BENCH_SECONDS:-30}
rounds=${BENCH_ROUNDS:-3}
batch=${BENCH_BATCH:-500}
max_locks=${BENCH_MAX_LOCKS:-1024}
want_perf=${BENCH_PERF:-1}
clients=2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

q() { psql -X -q -v ON_ERROR_STOP=1 -d bench "$@"; }
val() { psql -X -qAt -v ON_ERROR_STOP=1 -d bench -c "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# milliseconds as seconds with one decimal, and a ratio with one decimal
secs_of() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }
per() { printf '%d.%d' $(($1 / $2)) $(((($1 * 10) / $2) % 10)); }

# Restart the throwaway cluster (as its owner) after an ALTER SYSTEM.
restart_server() {
  local data=$ONSHIKAKU_CLUSTER/data owner
  owner=$(stat -c %U "$data")
  if [ "$(id -u)" -eq 0 ] && [ "$owner" != root ]; then
    runuser -u "$owner" -- pg_ctl -D "$data" -l "$ONSHIKAKU_CLUSTER/server.log" -m fast -w -t 120 restart >/dev/null
  else
    pg_ctl -D "$data" -l "$ONSHIKAKU_CLUSTER/server.log" -m fast -w -t 120 restart >/dev/null
  fi
}
lock_slots() {
  val "SELECT current_setting('max_locks_per_transaction')::int
              * (current_setting('max_connections')::int + current_setting('autovacuum_max_workers')::int + 1
                 + current_setting('max_worker_processes')::int + current_setting('max_wal_senders')::int
                 + current_setting('max_prepared_transactions')::int)"
}

if [ "$(val 'SELECT count(*) FROM onshikaku.insurer')" -ne 0 ]; then
  echo "partitions.sh: the bench database already has insurers; run it through test/bench/run.sh (a fresh cluster)" >&2
  exit 1
fi

echo "== setting: $insurers insurers, $rows rows, pgbench -c $clients -j $clients -T $secs, $rounds alternating rounds =="
q -P footer=off -c "SELECT version() AS server, (SELECT extversion FROM pg_extension WHERE extname = 'onshikaku') AS onshikaku"

# ---- 0. locks ---------------------------------------------------------------------------------
default_locks=$(val 'SHOW max_locks_per_transaction')
default_slots=$(lock_slots)
echo
echo "== 0. lock table: max_locks_per_transaction = $default_locks -> $default_slots lock slots =="
if [ "$default_locks" -lt "$max_locks" ]; then
  echo "registering insurer n locks every qualification partition and its indexes (~6 locks x n, see 1.);"
  echo "$insurers insurers need about $((insurers * 6)) slots in one transaction: raising max_locks_per_transaction"
  echo "to $max_locks (ALTER SYSTEM; restart of the throwaway cluster)"
  val "ALTER SYSTEM SET max_locks_per_transaction = $max_locks" >/dev/null
  restart_server
  echo "now: max_locks_per_transaction = $(val 'SHOW max_locks_per_transaction') -> $(lock_slots) lock slots"
fi

# ---- helpers ----------------------------------------------------------------------------------
q <<'SQL'
SET client_min_messages = warning;
-- Luhn over a body of odd length <= 15 (weights 2,1,2,... from the rightmost
-- digit, digit sums of the products, (10 - sum % 10) % 10).  Left-padding
-- an odd-length body to 15 digits adds an even number of zeros, which keeps
-- the weights.  Inline expressions, so the planner inlines them.
CREATE FUNCTION bench.part_d(b text, i int, w int) RETURNS int IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS
  $$ SELECT (substr(b, i, 1)::int * w) / 10 + (substr(b, i, 1)::int * w) % 10 $$;
CREATE FUNCTION bench.part_luhn15(b text) RETURNS int IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS $$
  SELECT (10 - (bench.part_d(b,1,2) + bench.part_d(b,2,1) + bench.part_d(b,3,2) + bench.part_d(b,4,1)
              + bench.part_d(b,5,2) + bench.part_d(b,6,1) + bench.part_d(b,7,2) + bench.part_d(b,8,1)
              + bench.part_d(b,9,2) + bench.part_d(b,10,1) + bench.part_d(b,11,2) + bench.part_d(b,12,1)
              + bench.part_d(b,13,2) + bench.part_d(b,14,1) + bench.part_d(b,15,2)) % 10) % 10 $$;
CREATE FUNCTION bench.part_with_luhn(b text) RETURNS text IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS
  $$ SELECT b || bench.part_luhn15(lpad(b, 15, '0'))::text $$;
-- the k-th insurer number (k from 0): 法別 from 01 06 31 32 33 34 39 63,
-- 都道府県 01-47, 保険者別 000-999, Luhn check digit; distinct for k < 376,000
CREATE FUNCTION bench.part_insurer_number(k int) RETURNS text IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS $$
  SELECT bench.part_with_luhn((ARRAY['01','06','31','32','33','34','39','63'])[1 + k % 8]
                              || lpad((1 + (k / 8) % 47)::text, 2, '0') || lpad((k / 376)::text, 3, '0')) $$;
CREATE TABLE bench.part_result (id serial, label text, run int, tps numeric, latency_ms numeric, note text);
SQL
bad=$(val "SELECT count(*) FILTER (WHERE NOT onshikaku.insurer_number_is_valid(bench.part_insurer_number(k)))
                  + ($insurers - count(DISTINCT bench.part_insurer_number(k)))
           FROM generate_series(0, $insurers - 1) k")
[ "$bad" -eq 0 ] || { echo "generated insurer numbers are not valid and distinct" >&2; exit 1; }

# ---- 1. registration --------------------------------------------------------------------------
echo
echo "== 1. registering $insurers insurers through onshikaku.register_insurer (one transaction each) =="
t_start=$(now_ms)
last=$((insurers - 1))
for ((lo = 0; lo < last; lo += batch)); do
  hi=$((lo + batch - 1)); [ "$hi" -ge "$last" ] && hi=$((last - 1))
  t0=$(now_ms)
  q -c "DO \$\$ BEGIN
          FOR k IN $lo..$hi LOOP
            PERFORM onshikaku.register_insurer(bench.part_insurer_number(k)::onshikaku.insurer_number,
                                               'bench insurer ' || k, 'kenpo_kumiai');
            COMMIT;
          END LOOP;
        END \$\$"
  dt=$(($(now_ms) - t0))
  printf 'insurers %5d-%5d: %8s s, %7s ms per insurer\n' $((lo + 1)) $((hi + 1)) "$(secs_of $dt)" "$(per $dt $((hi - lo + 1)))"
done
# the last one in an explicit transaction, to count the locks it holds before commit
t0=$(now_ms)
locks_last=$(psql -X -qAt -v ON_ERROR_STOP=1 -d bench <<SQL
BEGIN;
SELECT FROM onshikaku.register_insurer(bench.part_insurer_number($last)::onshikaku.insurer_number, 'bench insurer $last', 'kenpo_kumiai');
SELECT count(*) || ' locks, of them ' || count(*) FILTER (WHERE c.relname LIKE 'qualification\_%')
       || ' on qualification partitions and their indexes'
FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation WHERE l.pid = pg_backend_pid();
COMMIT;
SQL
)
dt=$(($(now_ms) - t0))
t_reg=$(($(now_ms) - t_start))
printf 'insurer  %5d      : %8s s (the last one; it held %s)\n' "$insurers" "$(secs_of $dt)" "$locks_last"
read -r id_lo id_hi n_ins n_parts < <(val "SELECT min(insurer_id), max(insurer_id), count(*),
       (SELECT count(*) FROM pg_inherits i JOIN onshikaku.per_insurer_table t ON t.relid = i.inhparent)
       FROM onshikaku.insurer" | tr '|' ' ')
[ "$n_ins" -eq "$insurers" ] && [ $((id_hi - id_lo + 1)) -eq "$insurers" ] \
  || { echo "expected $insurers insurers with consecutive ids, got $n_ins ($id_lo-$id_hi)" >&2; exit 1; }
echo "registered: $n_ins insurers (insurer_id $id_lo-$id_hi), $n_parts partitions of the per-insurer tables"
echo "REGISTRATION: $(secs_of $t_reg) s total, $(per $t_reg "$insurers") ms per insurer"

# ---- 2. rows ------------------------------------------------------------------------------------
echo
echo "== 2. $rows qualification rows over $insurers insurers, and the plain baseline table =="
per_ins=$(((rows + insurers - 1) / insurers))
nmax=$((rows / insurers - 1))   # every insurer has rows n = 0..nmax
# row g = n * insurers + k: insurer k, its n-th row; 記号 100+n/100, 番号 10000000+n, 枝番 10+n%90
t0=$(now_ms)
q <<SQL
SET client_min_messages = warning;
DO \$\$ BEGIN
  FOR c IN 0..($insurers - 1) / 100 LOOP
    INSERT INTO onshikaku.qualification
        (insurer_id, qualification_id, insured_branch_number, link_number, name_on_card, birth_date,
         card_symbol, card_number, card_branch, acquired_on, insured_or_dependent)
    SELECT $id_lo + k, nextval('onshikaku.qualification_id_seq'),
           bench.part_with_luhn((100000000000000 + n::bigint * $insurers + k)::text)::onshikaku.insured_branch_number,
           bench.part_with_luhn((300000000000000 + n::bigint * $insurers + k)::text)::onshikaku.link_number,
           'bench person ' || (n::bigint * $insurers + k),
           date '1940-01-01' + ((n * 7919 + k) % 29000),
           (100 + n / 100)::text, (10000000 + n)::text,
           lpad((10 + n % 90)::text, 2, '0')::onshikaku.card_branch_number,
           date '2010-04-01' + ((n * 31 + k) % 5000), 1
    FROM generate_series(c * 100, least(c * 100 + 99, $insurers - 1)) k,
         generate_series(0, $per_ins - 1) n
    WHERE n::bigint * $insurers + k < $rows;
    COMMIT;
  END LOOP;
END \$\$;
SQL
t_load=$(($(now_ms) - t0))
t0=$(now_ms)
q <<'SQL'
SET client_min_messages = warning;
CREATE TABLE bench_part_plain AS SELECT * FROM onshikaku.qualification;
CREATE INDEX bench_part_plain_card ON bench_part_plain (insurer_id, card_symbol, card_number, card_branch);
SQL
t_plain=$(($(now_ms) - t0))
t0=$(now_ms)
q -c 'VACUUM ANALYZE onshikaku.qualification' -c 'VACUUM ANALYZE bench_part_plain'
t_vac=$(($(now_ms) - t0))
echo "load into the model: $(secs_of $t_load) s; plain table + index: $(secs_of $t_plain) s; VACUUM ANALYZE both: $(secs_of $t_vac) s"
read -r model_rows plain_rows < <(val "SELECT (SELECT count(*) FROM onshikaku.qualification),
                                             (SELECT count(*) FROM bench_part_plain)" | tr '|' ' ')
q -P footer=off <<'SQL'
SELECT (SELECT count(*) FROM onshikaku.qualification) AS model_rows,
       (SELECT count(*) FROM bench_part_plain) AS plain_rows,
       (SELECT count(*) FROM (SELECT DISTINCT insurer_id, card_symbol, card_number, card_branch FROM bench_part_plain) d) AS distinct_keys,
       (SELECT min(c) || '-' || max(c) FROM (SELECT count(*) c FROM bench_part_plain GROUP BY insurer_id) x) AS rows_per_insurer;
SELECT pg_size_pretty(sum(pg_table_size(relid)) FILTER (WHERE isleaf)) AS model_heap,
       pg_size_pretty(sum(pg_indexes_size(relid)) FILTER (WHERE isleaf)) AS model_indexes,
       pg_size_pretty(pg_table_size('bench_part_plain')) AS plain_heap,
       pg_size_pretty(pg_indexes_size('bench_part_plain')) AS plain_index
FROM pg_partition_tree('onshikaku.qualification');
SQL

# ---- 3. roles -----------------------------------------------------------------------------------
mid=$((id_lo + insurers / 2))
echo
echo "== 3. roles: bench_insurer acts for all $insurers insurers (chooses with onshikaku.acting_insurer), bench_one for insurer $mid only =="
echo "   (both with search_path = public, onshikaku: the operators of the identifier types are in schema onshikaku)"
q <<SQL
SET client_min_messages = warning;
CREATE ROLE bench_insurer LOGIN IN ROLE onshikaku_insurer;
CREATE ROLE bench_one LOGIN IN ROLE onshikaku_insurer;
DO \$\$ BEGIN
  PERFORM onshikaku.grant_insurer('bench_insurer', insurer_id) FROM onshikaku.insurer;
  PERFORM onshikaku.grant_insurer('bench_one', $mid);
END \$\$;
GRANT SELECT ON bench_part_plain TO bench_insurer, bench_one;
-- the identifier types' operators live in the extension's schema
ALTER ROLE bench_insurer SET search_path = public, onshikaku;
ALTER ROLE bench_one SET search_path = public, onshikaku;
SQL
psql -X -q -d bench -U bench_insurer -P footer=off <<SQL
\set VERBOSITY terse
\echo 'as bench_insurer without a choice (expected: refused):'
SELECT count(*) FROM onshikaku.qualification;
SET onshikaku.acting_insurer = $mid;
SELECT current_setting('onshikaku.acting_insurer') AS acting_insurer, count(*) AS visible_rows,
       count(DISTINCT insurer_id) AS insurers_seen FROM onshikaku.qualification;
SQL
psql -X -q -d bench -U bench_one -P footer=off \
  -c "SELECT 'bench_one' AS role, count(*) AS visible_rows, min(insurer_id) AS insurer FROM onshikaku.qualification"

# ---- 4. pgbench -------------------------------------------------------------------------------
cat > "$work/model.sql" <<'EOF'
\set i random(:lo, :hi)
\set n random(0, :nmax)
\set s 100 + :n / 100
\set c 10000000 + :n
\set b 10 + :n % 90
SELECT set_config('onshikaku.acting_insurer', :i, false);
SELECT name_on_card, acquired_on, lost_on FROM onshikaku.qualification WHERE insurer_id = :i AND card_symbol = :s AND card_number = :c AND card_branch = :b::onshikaku.card_branch_number;
EOF
sed -e "s/'onshikaku.acting_insurer'/'bench.acting_insurer'/" -e 's/onshikaku.qualification/bench_part_plain/' \
  "$work/model.sql" > "$work/plain.sql"
cat > "$work/model_one.sql" <<'EOF'
\set n random(0, :nmax)
\set s 100 + :n / 100
\set c 10000000 + :n
\set b 10 + :n % 90
SELECT name_on_card, acquired_on, lost_on FROM onshikaku.qualification WHERE insurer_id = :one AND card_symbol = :s AND card_number = :c AND card_branch = :b::onshikaku.card_branch_number;
EOF
sed -e 's/onshikaku.qualification/bench_part_plain/' "$work/model_one.sql" > "$work/plain_one.sql"
# the direct path the flows take: onshikaku.find_by_card() reads the insurer's partition index
sed -e 's/SELECT name_on_card, acquired_on, lost_on FROM onshikaku.qualification WHERE insurer_id = :i AND card_symbol = :s AND card_number = :c AND card_branch = :b::onshikaku.card_branch_number;/SELECT name_on_card, acquired_on, lost_on FROM onshikaku.find_by_card(:i, :s, :c, :b::onshikaku.card_branch_number);/' \
  "$work/model.sql" > "$work/direct.sql"
# the insurer left to the policy: no insurer_id in the WHERE clause
sed -e 's/WHERE insurer_id = :i AND /WHERE /' "$work/model.sql" > "$work/model_policy.sql"

# pgbench LABEL RUN ROLE SCRIPT MODE SECONDS [PGOPTIONS]: one run, recorded in bench.part_result
bench() {
  local label=$1 run=$2 role=$3 script=$4 mode=$5 t=$6 opts=${7:-} out tps lat note
  q -c 'CHECKPOINT'
  out=$(PGOPTIONS="$opts" pgbench -n -M "$mode" -c $clients -j $clients -T "$t" -P $(((t + 2) / 3)) -U "$role" \
          -D lo="$id_lo" -D hi="$id_hi" -D nmax="$nmax" -D one="$mid" -f "$work/$script" bench 2>&1) || true
  tps=$(awk '/^tps = / { print $3; exit }' <<<"$out")
  lat=$(awk '/^latency average = / { print $4; exit }' <<<"$out")
  note="progress tps: $(awk '/^progress:/ { printf "%s ", $4 }' <<<"$out")"
  if grep -q 'aborted\|error' <<<"$out"; then
    note="$note; $(grep -m1 'aborted\|error' <<<"$out" | cut -c1-300)"
  fi
  printf '%-44s run %d: %10s tps, latency %8s ms  (%s)\n' "$label" "$run" "${tps:-none}" "${lat:--}" "$note"
  q -v label="$label" -v run="$run" -v tps="${tps:-0}" -v lat="${lat:-0}" -v note="$note" <<<"INSERT INTO bench.part_result
    (label, run, tps, latency_ms, note) VALUES (:'label', :run, nullif(:'tps', '0')::numeric, nullif(:'lat', '0')::numeric, :'note')"
}

M="model: SET + SELECT (prepared)"
D="model, direct: SET + find_by_card() (prepared)"
P="baseline: SET dummy + SELECT plain (prepared)"
echo
echo "== 4. pgbench -n -M prepared -c $clients -j $clients -T $secs, $rounds rounds, model and baseline alternating =="
echo "   each transaction: a random insurer of $insurers and a random existing row of it ($((nmax + 1)) per insurer)"
for ((r = 1; r <= rounds; r++)); do
  bench "$M" "$r" bench_insurer model.sql prepared "$secs"
  bench "$D" "$r" bench_insurer direct.sql prepared "$secs"
  bench "$P" "$r" bench_insurer plain.sql prepared "$secs"
done

echo
echo "== 5. extra lines (information; the required comparison is 4.) =="
for r in 1 2; do
  bench "extra: model SELECT only, role of 1 insurer" "$r" bench_one model_one.sql prepared "$secs"
  bench "extra: plain SELECT only, same rows" "$r" bench_one plain_one.sql prepared "$secs"
done
bench "extra: model, plan_cache_mode=force_custom_plan" 1 bench_insurer model.sql prepared "$secs" '-c plan_cache_mode=force_custom_plan'
bench "extra: model, -M extended" 1 bench_insurer model.sql extended "$secs"
bench "extra: baseline, -M extended" 1 bench_insurer plain.sql extended "$secs"
bench "extra: model, insurer left to the policy" 1 bench_insurer model_policy.sql prepared $(((secs + 2) / 3))

# ---- 6. plans and locks --------------------------------------------------------------------------
echo
echo "== 6. plans and locks, as bench_insurer acting for insurer $mid; row n = 42: 記号 100, 番号 10000042, 枝番 52 =="
psql -X -q -d bench -U bench_insurer -P footer=off <<SQL 2>&1 | tee "$work/plans.txt"
SET onshikaku.acting_insurer = $mid;
\echo '-- the lookup with constants (what a custom plan of the prepared statement is): pruned at plan time'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS)
SELECT name_on_card, acquired_on, lost_on FROM onshikaku.qualification
WHERE insurer_id = $mid AND card_symbol = '100' AND card_number = '10000042' AND card_branch = '52';
\echo '-- the same on the plain table'
EXPLAIN (ANALYZE, COSTS OFF, BUFFERS)
SELECT name_on_card, acquired_on, lost_on FROM bench_part_plain
WHERE insurer_id = $mid AND card_symbol = '100' AND card_number = '10000042' AND card_branch = '52';
PREPARE q(int, text, text, onshikaku.card_branch_number) AS
  SELECT name_on_card, acquired_on, lost_on FROM onshikaku.qualification
  WHERE insurer_id = \$1 AND card_symbol = \$2 AND card_number = \$3 AND card_branch = \$4;
\echo '-- which plan the plan cache picks for the prepared lookup after 10 executions (as under pgbench -M prepared)'
EXECUTE q($mid, '100', '10000042', '52') \g /dev/null
EXECUTE q($mid, '100', '10000042', '52') \g /dev/null
EXECUTE q($mid, '100', '10000042', '52') \g /dev/null
EXECUTE q($mid, '100', '10000042', '52') \g /dev/null
EXECUTE q($mid, '100', '10000042', '52') \g /dev/null
EXECUTE q($mid, '100', '10000042', '52') \g /dev/null
EXECUTE q($mid, '100', '10000042', '52') \g /dev/null
EXECUTE q($mid, '100', '10000042', '52') \g /dev/null
EXECUTE q($mid, '100', '10000042', '52') \g /dev/null
EXECUTE q($mid, '100', '10000042', '52') \g /dev/null
SELECT name, generic_plans, custom_plans FROM pg_prepared_statements;
\echo '-- the generic plan: run-time pruning at executor start'
SET plan_cache_mode = force_generic_plan;
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE q($mid, '100', '10000042', '52');
\echo '-- locks held by one lookup (and its acting_insurer() resolution), generic vs custom plan'
BEGIN;
EXECUTE q($mid, '100', '10000042', '52') \g /dev/null
SELECT 'generic' AS plan, count(*) AS locks, count(*) FILTER (WHERE fastpath) AS fastpath FROM pg_locks WHERE pid = pg_backend_pid();
COMMIT;
SET plan_cache_mode = force_custom_plan;
BEGIN;
EXECUTE q($mid, '100', '10000042', '52') \g /dev/null
SELECT 'custom' AS plan, count(*) AS locks, count(*) FILTER (WHERE fastpath) AS fastpath FROM pg_locks WHERE pid = pg_backend_pid();
COMMIT;
RESET plan_cache_mode;
\echo '-- the insurer left to the policy (no insurer_id in WHERE), prepared, after 10 executions'
PREPARE r(text, text, onshikaku.card_branch_number) AS
  SELECT name_on_card, acquired_on, lost_on FROM onshikaku.qualification
  WHERE card_symbol = \$1 AND card_number = \$2 AND card_branch = \$3;
EXECUTE r('100', '10000042', '52') \g /dev/null
EXECUTE r('100', '10000042', '52') \g /dev/null
EXECUTE r('100', '10000042', '52') \g /dev/null
EXECUTE r('100', '10000042', '52') \g /dev/null
EXECUTE r('100', '10000042', '52') \g /dev/null
EXECUTE r('100', '10000042', '52') \g /dev/null
EXECUTE r('100', '10000042', '52') \g /dev/null
EXECUTE r('100', '10000042', '52') \g /dev/null
EXECUTE r('100', '10000042', '52') \g /dev/null
EXECUTE r('100', '10000042', '52') \g /dev/null
SELECT name, generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'r';
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE r('100', '10000042', '52');
\echo '-- acting_insurer() resolves once per transaction, reading onshikaku.insurer_role with the caller''s rights:'
EXPLAIN (ANALYZE, COSTS OFF)
SELECT DISTINCT insurer_id FROM onshikaku.insurer_role
WHERE pg_catalog.pg_has_role(current_user, role_name::oid, 'MEMBER') ORDER BY 1 LIMIT 2;
SQL

# ---- 7. where the time goes (perf) ---------------------------------------------------------------
if [ "$want_perf" = 1 ] && command -v perf >/dev/null 2>&1; then
  echo
  echo "== 7. perf profile of one model backend (pgbench as in 4., 10 s sampled) =="
  PGOPTIONS='' pgbench -n -M prepared -c $clients -j $clients -T $((10 + 8)) -U bench_insurer \
    -D lo="$id_lo" -D hi="$id_hi" -D nmax="$nmax" -D one="$mid" -f "$work/model.sql" bench >/dev/null 2>&1 &
  pgb=$!
  sleep 5
  pid=$(val "SELECT pid FROM pg_stat_activity WHERE usename = 'bench_insurer' AND backend_type = 'client backend' LIMIT 1")
  if [ -n "$pid" ] && perf record -q -F 999 -g -o "$work/perf.data" -p "$pid" -- sleep 10 >/dev/null 2>&1; then
    # frame-pointer call graphs: the inclusive figures are indicative
    echo "-- self time, top symbols (unresolved addresses left out)"
    { perf report -i "$work/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null || true; } \
      | awk '/^ +[0-9.]+%/ && $3 !~ /^0x/ { printf "  %7s  %s %s\n", $1, $2, $3 }' | head -25 || true
    echo "-- inclusive time (children included), top symbols below PostgresMain"
    { perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null || true; } \
      | awk '/^ +[0-9.]+%/ && $4 !~ /^0x/ { printf "  %7s  %s %s\n", $1, $3, $4 }' \
      | sed -n '/PostgresMain/,$p' | head -45 || true
  else
    echo "(perf did not run; skipped)"
  fi
  wait "$pgb" || true
fi

# ---- 8. the server's default lock setting ------------------------------------------------------
if [ "$default_locks" -lt "$max_locks" ]; then
  echo
  echo "== 8. the prepared model lookup at the default max_locks_per_transaction = $default_locks (restart) =="
  val 'ALTER SYSTEM RESET max_locks_per_transaction' >/dev/null
  restart_server
  echo "now: max_locks_per_transaction = $(val 'SHOW max_locks_per_transaction') -> $(lock_slots) lock slots"
  bench "default locks: model (prepared)" 1 bench_insurer model.sql prepared 10
  bench "default locks: model (-M extended)" 1 bench_insurer model.sql extended 10
  bench "default locks: baseline (prepared)" 1 bench_insurer plain.sql prepared 10
fi

# ---- summary -------------------------------------------------------------------------------------
echo
echo "== summary =="
echo "registration: $insurers insurers in $(secs_of $t_reg) s = $(per $t_reg "$insurers") ms per insurer (one transaction each; see 1. for the growth)"
echo "rows: $model_rows in onshikaku.qualification over $insurers partitions; $plain_rows in bench_part_plain (one btree index)"
echo "plans (6.): the prepared lookup as pgbench runs it; the generic plan; locks of one lookup:"
grep -E 'generic_plans|^ q |Subplans Removed|Index Scan using|Seq Scan on|^ (generic|custom) |Planning Time|ERROR' "$work/plans.txt" \
  | sed 's/^/  /' || true
q -P footer=off -v rounds="$rounds" -v M="$M" -v D="$D" -v P="$P" <<'SQL'
SELECT label, count(tps) AS runs, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY tps)::numeric, 1) AS median_tps,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)::numeric, 3) AS median_latency_ms,
       round(min(tps), 1) AS min_tps, round(max(tps), 1) AS max_tps
FROM bench.part_result GROUP BY label ORDER BY min(id);
WITH m AS (SELECT label, percentile_cont(0.5) WITHIN GROUP (ORDER BY tps) AS tps FROM bench.part_result GROUP BY label)
SELECT round((SELECT tps FROM m WHERE label = :'M')::numeric, 1) AS model_tps,
       round((SELECT tps FROM m WHERE label = :'P')::numeric, 1) AS baseline_tps,
       round(((SELECT tps FROM m WHERE label = :'M') / (SELECT tps FROM m WHERE label = :'P'))::numeric, 3)
           AS "RATIO model / baseline (TPS, prepared, 2 clients)",
       round((SELECT tps FROM m WHERE label = :'D')::numeric, 1) AS direct_tps,
       round(((SELECT tps FROM m WHERE label = :'D') / (SELECT tps FROM m WHERE label = :'P'))::numeric, 3)
           AS "RATIO direct find_by_card / baseline";
-- the extra lines, each against its own baseline
WITH m AS (SELECT label, percentile_cont(0.5) WITHIN GROUP (ORDER BY tps) AS tps FROM bench.part_result GROUP BY label)
SELECT p.model AS extra, p.baseline AS against, round((a.tps / b.tps)::numeric, 3) AS ratio
FROM (VALUES (1, 'extra: model SELECT only, role of 1 insurer', 'extra: plain SELECT only, same rows'),
             (2, 'extra: model, plan_cache_mode=force_custom_plan', :'P'),
             (3, 'extra: model, -M extended', 'extra: baseline, -M extended'),
             (4, 'extra: model, insurer left to the policy', :'P'),
             (5, 'default locks: model (prepared)', 'default locks: baseline (prepared)'),
             (6, 'default locks: model (-M extended)', 'default locks: baseline (prepared)')) p(n, model, baseline)
LEFT JOIN m a ON a.label = p.model LEFT JOIN m b ON b.label = p.baseline
ORDER BY p.n;
SQL

