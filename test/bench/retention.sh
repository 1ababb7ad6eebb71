#!/usr/bin/env bash
# Benchmark of the retention purge (issue 6), in one run on the throwaway cluster, in a database
# of its own (bench_retention, dropped at the end):
#
#   1. registers BENCH_INSURERS insurers (onshikaku.register_insurer, one transaction each);
#   2. enrols BENCH_ROWS qualification rows through onshikaku.enroll_members() (set-based, one
#      insurer and BENCH_CHUNK members per call and transaction, BENCH_LOADERS psql sessions in
#      parallel, each over its own range of insurers), as superuser; every value is a function of
#      (insurer k, row n), see bench.ret_rows() below;
#   3. makes BENCH_EXPIRED of them expired, as superuser, with one UPDATE per insurer doing what
#      record_loss() does to a row (lost_on, loss_reason, history_seq + 1, process_kind_code =
#      'loss', the My Number re-encrypted under the insurer's data key of the loss year, the cards
#      ending the day before the loss), losses 2011-2020, so that purge_expired() as of today
#      (5 years after the loss, and the OQS need period of 5 years) removes them.  A tenth of the
#      other rows are lost too, but in 2022-2026: not expired, the purge must keep them.  Then a
#      dry run (CALL purge_expired(dry_run => true)) must count exactly the expired rows;
#      VACUUM ANALYZE;
#   4. confirmation by card, pgbench -n -M prepared -c 2 -j 2 -T BENCH_SECONDS as bench_ret_oqs
#      (a login role, member of onshikaku_oqs_feed only), each transaction a random person with an
#      open qualification (never one the purge removes):
#          SELECT * FROM onshikaku.confirm_qualification(保険者番号, 記号, 番号, '00', birth_date)
#      BENCH_ROUNDS rounds before the purge, each followed by two control rounds: the same pgbench
#      beside one backend that only burns CPU (a PL/pgSQL loop reading the clock, no table), all
#      the time, then half of the time (50 ms busy, 50 ms asleep): what any CPU-bound session costs
#      pgbench on this machine;
#   5. CALL onshikaku.purge_expired() with every default (as of today in Japan, batch_size 1000,
#      lock_timeout 1s, duty 0.5: a pause after each batch as long as the batch; BENCH_DUTY sets
#      another) as bench_ret_admin (member of onshikaku_admin only), in the background,
#      while pgbench runs back-to-back rounds of BENCH_SECONDS; a round counts as "during the
#      purge" when the purge was running from its start to its end (the round the purge ends in
#      is shown but not counted).  The CALL's duration is the client's, from start to psql's return.
#      The purge's progress (purge_report, committed per batch) is sampled every second, and perf
#      samples the purge backend for 30 s from 10 s in (BENCH_PERF=1);
#   6. VACUUM ANALYZE (timed), then BENCH_ROUNDS rounds after the purge;
#   7. checks (nothing expired left, everything else kept, national data of the people gone,
#      cohort keys destroyed), the purge's time per PL/pgSQL function (track_functions = pl),
#      a second purge with nothing left to remove (the nightly steady state), and the plans that
#      explain the cost (with BENCH_PMH_LOG rows put in the PMH-ID log for the last one);
#   8. summary: purge rate (qualification rows/s, people/s), TPS medians, the ratio (target 0.7).
#
# The rounds without a purge bracket it, BENCH_ROUNDS before and BENCH_ROUNDS after; their median
# (all of them) is the baseline.
#
# Data, per insurer k (registered as insurer_id id_lo + k), rows n = 0 .. per-1 (per =
# BENCH_ROWS / BENCH_INSURERS, exp = BENCH_EXPIRED / BENCH_INSURERS, mov = exp * BENCH_MOVERS /
# 200):
#   n <  mov           the first qualification of a person who moved to insurer k+1: expired
#   n <  2 mov         the second qualification (at k) of the person who moved from k-1: expired
#   n <  exp           a person with one qualification, expired
#   n >= exp           not expired: lost in 2022-2026 when (n - exp) % 10 = 0, else open
# so BENCH_EXPIRED qualification rows are expired, held by BENCH_EXPIRED - BENCH_EXPIRED *
# BENCH_MOVERS / 200 people.  Person g = k * per + n (for a second qualification: the home
# insurer's g); My Number 10000000000 + g with its check digit (distinct); each row its own card:
# 記号 100 + n / 1000, 番号 10000000 + n, 枝番 00.  The insurers are few (BENCH_INSURERS = 100) so
# that registering them takes seconds; every insurer then holds BENCH_ROWS / BENCH_INSURERS people,
# which matters: the purge's cost per batch grows with the size of the insurer (see 7.).
#
#   usage: test/bench/run.sh test/bench/retention.sh
#   env:   BENCH_ROWS (5000000), BENCH_EXPIRED (1000000), BENCH_INSURERS (100), BENCH_SECONDS (30),
#          BENCH_ROUNDS (3), BENCH_DUTY (the purge's duty; unset: its default), BENCH_MOVERS (20: percent of the expired rows held by people with two
#          expired qualifications, at two insurers), BENCH_CHUNK (10000 members per enroll_members
#          call), BENCH_LOADERS (2 parallel sessions), BENCH_PERF (1), BENCH_PMH_LOG (200000 rows,
#          for the PMH-ID log plan of 7.; 0: skip), BENCH_ALONGSIDE (1; 0: no pgbench during the
#          purge, to see the purge's rate alone), BENCH_KEEP (0; 1: keep the database)
#   quick: BENCH_ROWS=200000 BENCH_EXPIRED=40000 BENCH_SECONDS=5 BENCH_ROUNDS=2 (a few minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${PGHOST:?run through test/bench/run.sh, which starts the cluster}"
: "${ONSHIKAKU_CLUSTER:?run through test/bench/run.sh, which starts the cluster}"
rows=${BENCH_ROWS:-5000000}
expired=${BENCH_EXPIRED:-1000000}
insurers=${BENCH_INSURERS:-100}
secs=${BENCH_SECONDS:-30}
rounds=${BENCH_ROUNDS:-3}
movers_pct=${BENCH_MOVERS:-20}
chunk=${BENCH_CHUNK:-10000}
loaders=${BENCH_LOADERS:-2}
want_perf=${BENCH_PERF:-1}
pmh_log=${BENCH_PMH_LOG:-200000}
# BENCH_DUTY: the purge's duty argument (unset: the procedure's default, 0.5)
purge_args=${BENCH_DUTY:+duty => $BENCH_DUTY}
per=$((rows / insurers))
exp=$((expired / insurers))
mov=$((exp * movers_pct / 200))
[ $((per - exp)) -ge 20 ] || { echo "retention.sh: BENCH_ROWS must exceed BENCH_EXPIRED by 20 rows per insurer" >&2; exit 1; }
[ "$exp" -ge $((2 * mov)) ] && [ "$exp" -ge 1 ] || { echo "retention.sh: BENCH_EXPIRED too small for its insurers and movers" >&2; exit 1; }
[ "$loaders" -ge 1 ] && [ "$loaders" -le "$insurers" ] || loaders=1
rows=$((per * insurers))           # what is generated exactly
expired=$((exp * insurers))
open_blocks=$(((per - exp) / 10))  # pgbench picks open rows n = exp + 10 b + 1 + j (b < open_blocks, j < 9)
db=bench_retention
have_perf=0
if [ "$want_perf" = 1 ] && command -v perf >/dev/null 2>&1; then have_perf=1; fi
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

q() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
val() { psql -X -qAt -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs_of() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }
per_s() { printf '%d' $(($1 * 1000 / ($2 > 0 ? $2 : 1))); }   # COUNT MS: per second
record() {   # PHASE RUN TPS LATENCY NOTE [START_MS END_MS]
  q -v phase="$1" -v run="$2" -v tps="$3" -v lat="$4" -v note="$5" -v t0="${6:-0}" -v t1="${7:-0}" \
    <<<"INSERT INTO bench.ret_result (phase, run, tps, latency_ms, note, t0_ms, t1_ms)
        VALUES (:'phase', :run, nullif(:'tps', '')::numeric, nullif(:'lat', '')::numeric, :'note', :t0, :t1)"
}

if [ "$(psql -X -qAt -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$db'")" -ne 0 ]; then
  echo "retention.sh: database $db exists already (a run that did not finish?); dropping it"
  psql -X -q -d postgres -c "DROP DATABASE $db"
fi
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db"
q -c 'CREATE EXTENSION onshikaku' -f test/bench/lib.sql
# the identifier types' operators are in schema onshikaku (for the checks run as superuser)
q -c "ALTER DATABASE $db SET search_path = public, onshikaku"

q <<'SQL'
SET client_min_messages = warning;
-- digit sum of 2d (a Luhn-doubled digit); Luhn check digit of a 7-digit body (the pgbench script
-- computes the same with integer arithmetic)
CREATE FUNCTION bench.ret_dd(d bigint) RETURNS bigint IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS
  $$ SELECT (2 * d) / 10 + (2 * d) % 10 $$;
CREATE FUNCTION bench.ret_luhn7(b bigint) RETURNS bigint IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS $$
  SELECT (10 - (bench.ret_dd(b % 10) + (b / 10) % 10 + bench.ret_dd((b / 100) % 10) + (b / 1000) % 10
              + bench.ret_dd((b / 10000) % 10) + (b / 100000) % 10 + bench.ret_dd((b / 1000000) % 10)) % 10) % 10 $$;
-- My Number check digit: weights 6,5,4,3,2,7,6,5,4,3,2 over the 11 body digits, left to right;
-- r = sum mod 11; 0 when r <= 1, else 11 - r
CREATE FUNCTION bench.ret_mn_check(b bigint) RETURNS bigint IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS $$
  SELECT CASE WHEN s % 11 <= 1 THEN 0 ELSE 11 - s % 11 END
  FROM (SELECT 6 * (b / 10000000000 % 10) + 5 * (b / 1000000000 % 10) + 4 * (b / 100000000 % 10)
             + 3 * (b / 10000000 % 10) + 2 * (b / 1000000 % 10) + 7 * (b / 100000 % 10)
             + 6 * (b / 10000 % 10) + 5 * (b / 1000 % 10) + 4 * (b / 100 % 10)
             + 3 * (b / 10 % 10) + 2 * (b % 10) AS s) x $$;
CREATE FUNCTION bench.ret_my_number(body bigint) RETURNS text IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS
  $$ SELECT (body * 10 + bench.ret_mn_check(body))::text $$;
-- the k-th insurer: 法別 (31 32 33 34 39 63 67 72)[k % 8] (none with a leading zero: pgbench passes
-- integers), 都道府県 1 + (k / 8) % 47, 保険者別 k / 376, Luhn digit; distinct for k < 376,000
CREATE FUNCTION bench.ret_insurer_body(k int) RETURNS bigint IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS $$
  SELECT (ARRAY[31, 32, 33, 34, 39, 63, 67, 72])[1 + k % 8]::bigint * 100000 + (1 + (k / 8) % 47) * 1000 + k / 376 $$;
CREATE FUNCTION bench.ret_insurer_number(k int) RETURNS text IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS
  $$ SELECT (bench.ret_insurer_body(k) * 10 + bench.ret_luhn7(bench.ret_insurer_body(k)))::text $$;
CREATE FUNCTION bench.ret_insurer_kind(k int) RETURNS onshikaku.insurer_kind IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS $$
  SELECT (ARRAY['kokka_kyosai', 'chiho_kyosai', 'chiho_kyosai', 'shigaku_kyosai', 'koki_koreisha',
                'kenpo_kumiai', 'shichoson_kokuho', 'kokka_kyosai'])[1 + k % 8]::onshikaku.insurer_kind $$;
-- the loss day of a mover's first qualification (person g)
CREATE FUNCTION bench.ret_l1(g bigint) RETURNS date IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS
  $$ SELECT date '2011-04-01' + ((g * 7) % 1000)::int $$;
-- rows n_lo .. n_hi of insurer k (nins insurers, per rows each, exp expired, mov movers): kind,
-- person g, My Number, card, birth date, acquisition and loss (NULL: open)
CREATE FUNCTION bench.ret_rows(k int, n_lo int, n_hi int, nins int, per int, exp int, mov int)
RETURNS TABLE (n int, g bigint, kind text, my_number text, card_symbol text, card_number text, birth_date date,
               acquired_on date, lost_on date)
STABLE PARALLEL SAFE LANGUAGE sql AS $$
  SELECT n, g, kind, bench.ret_my_number(10000000000 + g), (100 + n / 1000)::text, (10000000 + n)::text,
         date '1940-01-01' + ((g * 7919) % 20000)::int,
         CASE kind WHEN 'second' THEN bench.ret_l1(g) ELSE date '2000-04-01' + ((g * 31) % 3000)::int END,
         CASE kind WHEN 'first' THEN bench.ret_l1(g)
                   WHEN 'second' THEN bench.ret_l1(g) + 365 + n % 1000
                   WHEN 'expired' THEN date '2012-01-01' + (g % 3000)::int
                   WHEN 'recent' THEN date '2022-01-01' + (g % 1500)::int END
  FROM (SELECT n,
               CASE WHEN n >= mov AND n < 2 * mov THEN ((k + nins - 1) % nins)::bigint * per + (n - mov)
                    ELSE k::bigint * per + n END AS g,
               CASE WHEN n < mov THEN 'first' WHEN n < 2 * mov THEN 'second' WHEN n < exp THEN 'expired'
                    WHEN (n - exp) % 10 = 0 THEN 'recent' ELSE 'open' END AS kind
        FROM generate_series(n_lo, n_hi) n) x
$$;
CREATE TABLE bench.ret_result (id serial, phase text, run int, tps numeric, latency_ms numeric, note text,
                               t0_ms bigint, t1_ms bigint);
CREATE TABLE bench.ret_progress (t_ms bigint, purged bigint, insurer_id int);
CREATE TABLE bench.ret_figure (name text PRIMARY KEY, value numeric, unit text);
SQL
fig() { q -v n="$1" -v v="$2" -v u="${3:-}" <<<"INSERT INTO bench.ret_figure VALUES (:'n', :'v', :'u') ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value"; }

echo "== setting: $insurers insurers, $rows qualification rows ($per per insurer), $expired expired ($exp per insurer,"
echo "   of them $((2 * mov)) held by $mov people who moved to the next insurer), $loaders loaders, $chunk members per"
echo "   enroll_members call; pgbench rounds of $secs s, $rounds before and $rounds after the purge =="
q -P footer=off -c "SELECT version() AS server, (SELECT extversion FROM pg_extension WHERE extname = 'onshikaku') AS onshikaku,
                           $(nproc) AS cores, current_setting('shared_buffers') AS shared_buffers,
                           current_setting('autovacuum') AS autovacuum, onshikaku.today_in_japan() AS today_in_japan"
bad=$(val "SELECT count(*) FILTER (WHERE NOT onshikaku.insurer_number_is_valid(bench.ret_insurer_number(k)))
                  + ($insurers - count(DISTINCT bench.ret_insurer_number(k)))
           FROM generate_series(0, $insurers - 1) k")
[ "$bad" -eq 0 ] || { echo "generated insurer numbers are not valid and distinct" >&2; exit 1; }
# the purge's time per PL/pgSQL function (pg_stat_user_functions)
val "ALTER SYSTEM SET track_functions = 'pl'" >/dev/null
val 'SELECT pg_reload_conf()' >/dev/null

# ---- 1. insurers -------------------------------------------------------------------------------
echo
echo "== 1. registering $insurers insurers (one transaction each) =="
t0=$(now_ms)
q -c "DO \$\$ BEGIN
        FOR k IN 0..$((insurers - 1)) LOOP
          PERFORM onshikaku.register_insurer(bench.ret_insurer_number(k)::onshikaku.insurer_number,
                                             'bench insurer ' || k, bench.ret_insurer_kind(k));
          COMMIT;
        END LOOP;
      END \$\$"
t_reg=$(($(now_ms) - t0))
read -r id_lo id_hi n_ins < <(val "SELECT min(insurer_id), max(insurer_id), count(*) FROM onshikaku.insurer" | tr '|' ' ')
[ "$n_ins" -eq "$insurers" ] && [ $((id_hi - id_lo + 1)) -eq "$insurers" ] \
  || { echo "expected $insurers insurers with consecutive ids, got $n_ins ($id_lo-$id_hi)" >&2; exit 1; }
[ "$(val "SELECT count(*) FROM onshikaku.insurer WHERE insurer_number::text <> bench.ret_insurer_number(insurer_id - $id_lo)")" -eq 0 ] \
  || { echo "insurer k does not have insurer_id $id_lo + k" >&2; exit 1; }
echo "REGISTRATION: $insurers insurers in $(secs_of $t_reg) s ($((t_reg / insurers)) ms each)"

# ---- 2. enrolment ------------------------------------------------------------------------------
# One psql session per loader, each over a contiguous range of insurers.  Members are passed in
# the order of their person g: a mover appears in the loads of two insurers, which may run at the
# same time, and both then insert the shared people in the same order (no deadlock).
loader_sql() {   # K_LO K_HI: enrol rows of insurers k_lo .. k_hi, one transaction per chunk
  cat <<SQL
SET client_min_messages = warning;
DO \$\$ BEGIN
  FOR k IN $1..$2 LOOP
    FOR c IN 0..($per - 1) / $chunk LOOP
      PERFORM count(*) FROM onshikaku.enroll_members($id_lo + k, ARRAY(
        SELECT ROW(r.my_number, r.card_number, r.acquired_on, r.birth_date, r.card_symbol, 1::smallint,
                   'bench person ' || r.g, 'ベンチ ' || r.g, (1 + r.g % 2)::smallint, '東京都千代田区千代田1-' || r.g,
                   (1000000 + r.g % 9000000)::text, '131016', 'H' || r.g, 'bench person ' || r.g, 30::smallint,
                   NULL, false)::onshikaku.member_input
        FROM bench.ret_rows(k, c * $chunk, least(c * $chunk + $chunk - 1, $per - 1), $insurers, $per, $exp, $mov) r
        ORDER BY r.g));
      COMMIT;
    END LOOP;
  END LOOP;
END \$\$;
SQL
}
expire_sql() {   # K_LO K_HI: the losses of insurers k_lo .. k_hi, one transaction per insurer
  cat <<SQL
SET client_min_messages = warning;
DO \$\$ DECLARE ins onshikaku.insurer; BEGIN
  FOR k IN $1..$2 LOOP
    SELECT * INTO ins FROM onshikaku.insurer i WHERE i.insurer_id = $id_lo + k;
    -- what record_loss() does, set-based: the My Number moves to the data key of the loss year
    UPDATE onshikaku.qualification x
    SET lost_on = r.lost_on, loss_reason = 1, history_seq = x.history_seq + 1, updated_at = now(),
        process_kind_code = 'loss',
        my_number = onshikaku.reencrypt(x.my_number, ins.insurer_number, 'qualification.my_number',
                                        extract(year FROM r.lost_on)::integer)
    FROM bench.ret_rows(k, 0, $per - 1, $insurers, $per, $exp, $mov) r
    WHERE x.insurer_id = ins.insurer_id AND x.card_symbol = r.card_symbol AND x.card_number = r.card_number
      AND r.lost_on IS NOT NULL;
    -- the cards end the day before the loss
    UPDATE onshikaku.card c SET valid_to = x.lost_on - 1, updated_at = now()
    FROM onshikaku.qualification x
    WHERE c.insurer_id = ins.insurer_id AND x.insurer_id = ins.insurer_id AND x.qualification_id = c.qualification_id
      AND x.lost_on IS NOT NULL;
    COMMIT;
  END LOOP;
END \$\$;
SQL
}
run_loaders() {   # NAME SQLFUNC: run SQLFUNC over the insurers in $loaders parallel sessions
  local pids=() w lo hi
  for ((w = 0; w < loaders; w++)); do
    lo=$((w * insurers / loaders)); hi=$(((w + 1) * insurers / loaders - 1))
    "$2" "$lo" "$hi" > "$work/$1_$w.sql"
    PGAPPNAME="bench_ret_$1_$w" psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$work/$1_$w.sql" > "$work/$1_$w.out" 2>&1 &
    pids+=($!)
  done
  for ((w = 0; w < loaders; w++)); do
    wait "${pids[$w]}" || { cat "$work/$1_$w.out" >&2; echo "$1: loader $w failed" >&2; exit 1; }
  done
}
echo
echo "== 2. enrolment: $rows rows through onshikaku.enroll_members() ($chunk members per call), $loaders sessions =="
t0=$(now_ms)
run_loaders enrol loader_sql
t_enrol=$(($(now_ms) - t0))
echo "ENROLMENT: $rows rows in $(secs_of $t_enrol) s = $(per_s "$rows" "$t_enrol") rows/s"
fig 'enrolment rows/s' "$(per_s "$rows" "$t_enrol")" 'rows/s'

echo
echo "== 3. losses: $expired expired (2011-2020) and $(((per - exp + 9) / 10 * insurers)) not yet expired (2022-2026), as superuser =="
t0=$(now_ms)
run_loaders expire expire_sql
t_exp=$(($(now_ms) - t0))
echo "LOSSES: $(secs_of $t_exp) s (My Numbers re-encrypted under the loss-year cohort keys)"
t0=$(now_ms)
q -c 'VACUUM ANALYZE'
echo "VACUUM ANALYZE: $(secs_of $(($(now_ms) - t0))) s"
q -P footer=off <<SQL
SELECT count(*) AS qualification_rows, count(DISTINCT link_number) AS people,
       count(*) FILTER (WHERE lost_on < onshikaku.today_in_japan() - interval '5 years') AS lost_over_5_years_ago,
       count(*) FILTER (WHERE lost_on >= onshikaku.today_in_japan() - interval '5 years') AS lost_recently,
       count(*) FILTER (WHERE lost_on IS NULL) AS open,
       count(*) FILTER (WHERE my_number IS NULL OR my_number_bi IS NULL) AS without_my_number
FROM onshikaku.qualification;
SELECT (SELECT count(*) FROM onshikaku.person) AS persons, (SELECT count(*) FROM onshikaku.registration_zone) AS registrations,
       (SELECT count(*) FROM onshikaku.person_enrolment) AS person_enrolments, (SELECT count(*) FROM onshikaku.card) AS cards,
       (SELECT count(*) FROM onshikaku.card_branch_issue) AS card_branches,
       (SELECT count(*) FROM onshikaku.data_key) AS data_keys,
       (SELECT count(*) FROM onshikaku.data_key WHERE cohort IS NOT NULL) AS cohort_keys,
       (SELECT count(*) FROM (SELECT link_number FROM onshikaku.person_enrolment GROUP BY 1 HAVING count(*) > 1) m) AS people_at_two_insurers;
SELECT pg_size_pretty(sum(pg_total_relation_size(relid)) FILTER (WHERE isleaf)) AS qualification_with_indexes
FROM pg_partition_tree('onshikaku.qualification');
SQL
read -r q_rows people regs persons cards < <(val "SELECT (SELECT count(*) FROM onshikaku.qualification),
       (SELECT count(DISTINCT link_number) FROM onshikaku.qualification), (SELECT count(*) FROM onshikaku.registration_zone),
       (SELECT count(*) FROM onshikaku.person), (SELECT count(*) FROM onshikaku.card)" | tr '|' ' ')
[ "$q_rows" -eq "$rows" ] || { echo "expected $rows qualification rows, found $q_rows" >&2; exit 1; }

q <<'SQL'
SET client_min_messages = warning;
DROP ROLE IF EXISTS bench_ret_admin;
DROP ROLE IF EXISTS bench_ret_oqs;
CREATE ROLE bench_ret_admin LOGIN IN ROLE onshikaku_admin;
CREATE ROLE bench_ret_oqs LOGIN IN ROLE onshikaku_oqs_feed;
ALTER ROLE bench_ret_admin SET search_path = public, onshikaku;
ALTER ROLE bench_ret_oqs SET search_path = public, onshikaku;
SQL
echo
echo "-- dry run as bench_ret_admin: CALL onshikaku.purge_expired(dry_run => true)"
t0=$(now_ms)
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -U bench_ret_admin -c 'CALL onshikaku.purge_expired(dry_run => true)'
t_dry=$(($(now_ms) - t0))
dry=$(val "SELECT coalesce(sum(row_count), 0) FROM onshikaku.purge_report
           WHERE data_class = 'qualification' AND run_id = (SELECT max(run_id) FROM onshikaku.purge_run)")
echo "DRY RUN: $(secs_of $t_dry) s, counts $dry qualification rows to purge (expected $expired)"
[ "$dry" -eq "$expired" ] || { echo "the dry run does not count the expired rows" >&2; exit 1; }
fig 'dry run s' "$(secs_of $t_dry)" s

# The candidate query of purge_batch() (extension/sql/50_retention.sql), as a custom plan sees it
# for INSURER, after the 被保険者枝番 AFTER (a psql expression; NULL for an insurer's first batch):
# the keyset bounds both tables, the holds are an array read once per batch (none here)
cand_sql() {   # INSURER AFTER
  cat <<SQL
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON)
SELECT coalesce(array_agg(g.ibn ORDER BY g.ibn), '{}'), coalesce(sum(g.n), 0)
FROM (SELECT z.insured_branch_number AS ibn, z.my_number_bi AS bi, z.link_number AS link,
             min(q.lost_on) AS first_loss, max(q.lost_on) AS last_loss, count(*) AS n
      FROM onshikaku.registration_zone z
      JOIN onshikaku.qualification q ON q.insurer_id = $1 AND q.insured_branch_number = z.insured_branch_number
      WHERE z.insurer_id = $1 AND ($2 IS NULL OR (z.insured_branch_number > $2 AND q.insured_branch_number > $2))
      GROUP BY 1, 2, 3
      HAVING bool_and(q.lost_on IS NOT NULL)
         AND onshikaku.today_in_japan() > onshikaku.retention_end(max(q.lost_on), '5 years')
         AND onshikaku.today_in_japan() > onshikaku.retention_end(max(q.lost_on), '5 years')
         AND NOT coalesce(z.my_number_bi = ANY ('{}'::onshikaku.blind_index[]), false)
      ORDER BY 1 LIMIT 1000) g;
SQL
}

# ---- 4. pgbench script ---------------------------------------------------------------------------
# person n of insurer k, an open qualification: n = exp + 10 b + 1 + j; g = k * per + n; its
# insurer number with the Luhn digit, 記号, 番号, birth date (formulas of bench.ret_rows)
cat > "$work/pick.sql" <<'EOF'
\set k random(0, :nins - 1)
\set b random(0, :blocks - 1)
\set j random(0, 8)
\set n :nexp + 10 * :b + 1 + :j
\set g :k * :per + :n
\set hb case when :k % 8 = 0 then 31 when :k % 8 = 1 then 32 when :k % 8 = 2 then 33 when :k % 8 = 3 then 34 when :k % 8 = 4 then 39 when :k % 8 = 5 then 63 when :k % 8 = 6 then 67 else 72 end
\set ib :hb * 100000 + (1 + (:k / 8) % 47) * 1000 + :k / 376
\set l (2 * (:ib % 10)) / 10 + (2 * (:ib % 10)) % 10 + (:ib / 10) % 10 + (2 * (:ib / 100 % 10)) / 10 + (2 * (:ib / 100 % 10)) % 10 + (:ib / 1000) % 10 + (2 * (:ib / 10000 % 10)) / 10 + (2 * (:ib / 10000 % 10)) % 10 + (:ib / 100000) % 10 + (2 * (:ib / 1000000 % 10)) / 10 + (2 * (:ib / 1000000 % 10)) % 10
\set ins :ib * 10 + (10 - :l % 10) % 10
\set s 100 + :n / 1000
\set c 10000000 + :n
\set bo (:g * 7919) % 20000
EOF
args="(:ins, :s::text, :c::text, '00', date '1940-01-01' + :bo::int)"
{ cat "$work/pick.sql"; echo "SELECT * FROM onshikaku.confirm_qualification$args;"; } > "$work/confirm.sql"
# checked: an error (division by zero) unless the answer is the person's open qualification
{ cat "$work/pick.sql"; echo "SELECT 1 / (status = 'qualified' AND card_number = :c::text AND lost_on IS NULL AND copay_ratio = 30)::int FROM onshikaku.confirm_qualification$args;"; } > "$work/check.sql"
pgopts=(-D nins="$insurers" -D per="$per" -D nexp="$exp" -D blocks="$open_blocks")
out=$(pgbench -n -M prepared -c 1 -t 500 -U bench_ret_oqs "${pgopts[@]}" -f "$work/check.sql" "$db" 2>&1) || true
grep -q 'number of transactions actually processed: 500/500' <<<"$out" \
  || { echo "$out" | tail -8 >&2; echo "the checked pgbench script failed: the formulas do not find open qualifications" >&2; exit 1; }
echo
echo "== 4. confirmation by card: pgbench -n -M prepared -c 2 -j 2 -T $secs as bench_ret_oqs (member of onshikaku_oqs_feed) =="
echo "   checked first: 500 random people found qualified with their card"
echo "   $(tail -1 "$work/confirm.sql")"

pgb() {   # PHASE RUN: one pgbench round, recorded
  local out tps lat note t0 t1
  t0=$(now_ms)
  out=$(pgbench -n -M prepared -c 2 -j 2 -T "$secs" -P $(((secs + 2) / 3)) -U bench_ret_oqs "${pgopts[@]}" \
          -f "$work/confirm.sql" "$db" 2>&1) || true
  t1=$(now_ms)
  tps=$(awk '/^tps = / { print $3; exit }' <<<"$out")
  lat=$(awk '/^latency average = / { print $4; exit }' <<<"$out")
  note="progress tps: $(awk '/^progress:/ { printf "%s ", $4 }' <<<"$out")"
  if grep -qi 'aborted\|error' <<<"$out"; then
    note="$note; $(grep -i -m1 'aborted\|error' <<<"$out" | cut -c1-300)"
  fi
  printf '%-22s round %2d: %10s tps, latency %7s ms  (%s)\n' "$1" "$2" "${tps:-none}" "${lat:--}" "$note"
  record "$1" "$2" "${tps:-}" "${lat:-}" "$note" "$t0" "$t1"
}
# control: the same pgbench beside one backend that only burns CPU (a PL/pgSQL loop reading the
# clock, no table), all the time or half of it (50 ms busy, 50 ms asleep): what a CPU-bound purge
# costs pgbench on this machine whatever it does
busy() {   # DUTY_PERCENT SECONDS
  psql -X -q -d "$db" -c "DO \$\$ DECLARE t_end timestamptz := clock_timestamp() + interval '$2 s'; b timestamptz; BEGIN
      WHILE clock_timestamp() < t_end LOOP
        b := clock_timestamp() + interval '50 ms';
        WHILE clock_timestamp() < b LOOP END LOOP;
        IF $1 < 100 THEN PERFORM pg_sleep(0.05 * (100 - $1) / $1); END IF;
      END LOOP; END \$\$" >/dev/null 2>&1
}
q -c 'CHECKPOINT'
for ((r = 1; r <= rounds; r++)); do
  pgb "before the purge" "$r"
  busy 100 $((secs + 1)) & hog=$!
  pgb "control: busy backend" "$r"
  wait "$hog" || true
  busy 50 $((secs + 1)) & hog=$!
  pgb "control: busy 50% of the time" "$r"
  wait "$hog" || true
done
mid=$((id_lo + insurers / 2))
echo
echo "-- plans before the purge, insurer $mid: the candidates of its first batch, then of a batch that starts"
echo "   after the median 被保険者枝番 (keyset): both tables are read from there on, so a batch reads about"
echo "   its own size however large the insurer"
{ echo 'SET search_path = pg_catalog, onshikaku;'
  echo "SELECT insured_branch_number AS after FROM onshikaku.registration_zone WHERE insurer_id = $mid ORDER BY 1 OFFSET $((per / 2)) LIMIT 1 \\gset"
  cand_sql "$mid" 'NULL::onshikaku.insured_branch_number'
  cand_sql "$mid" ":'after'::onshikaku.insured_branch_number"
} | q -P footer=off | cut -c1-200

# ---- 5. the purge --------------------------------------------------------------------------------
echo
echo "== 5. CALL onshikaku.purge_expired() as bench_ret_admin, with pgbench rounds of $secs s alongside =="
q -P footer=off -c "SELECT p.oid::regprocedure AS procedure, pg_get_function_arguments(p.oid) AS \"arguments (defaults used)\"
                    FROM pg_proc p WHERE p.oid = 'onshikaku.purge_expired'::regproc"
val 'SELECT pg_stat_reset()' >/dev/null
t_purge0=$(now_ms)
# the CALL's duration is taken by the client when psql returns
(
  rc=0
  PGAPPNAME=bench_ret_purge psql -X -q -v ON_ERROR_STOP=1 -d "$db" -U bench_ret_admin \
    -c "CALL onshikaku.purge_expired($purge_args)" > "$work/purge.out" 2>&1 || rc=$?
  now_ms > "$work/purge_end"
  exit "$rc"
) &
purge=$!
# progress: rows purged so far (the report is committed with each batch)
(
  while kill -0 "$purge" 2>/dev/null; do
    psql -X -qAt -d "$db" -c "INSERT INTO bench.ret_progress
        SELECT $(now_ms), coalesce(sum(row_count), 0), max(insurer_id) FROM onshikaku.purge_report
        WHERE data_class = 'qualification' AND run_id = (SELECT max(run_id) FROM onshikaku.purge_run WHERE NOT dry_run)" \
      >/dev/null 2>&1 || true
    sleep 1
  done
) &
poller=$!
perf_pid=""
if [ "$have_perf" = 1 ]; then
  (
    sleep 10
    pid=$(psql -X -qAt -d "$db" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench_ret_purge' AND state = 'active' LIMIT 1")
    [ -n "$pid" ] && perf record -q -F 499 -g -o "$work/perf.data" -p "$pid" -- sleep 30 >/dev/null 2>&1
  ) 2>/dev/null &
  perf_pid=$!
fi
r=0
while [ "${BENCH_ALONGSIDE:-1}" = 1 ] && kill -0 "$purge" 2>/dev/null; do
  r=$((r + 1))
  pgb "during the purge" "$r"
  if ! kill -0 "$purge" 2>/dev/null; then
    # the purge ended within this round: shown, not counted
    q -c "UPDATE bench.ret_result SET phase = 'purge ended in round' WHERE id = (SELECT max(id) FROM bench.ret_result)"
    echo "   (the purge ended during round $r: not counted)"
  fi
done
wait "$purge" || { cat "$work/purge.out" >&2; echo "the purge failed" >&2; exit 1; }
t_purge1=$(cat "$work/purge_end")
purge_ms=$((t_purge1 - t_purge0))
wait "$poller" || true
[ -n "$perf_pid" ] && { wait "$perf_pid" || true; }
cat "$work/purge.out"
read -r run_id server_ms status < <(val "SELECT run_id, round(extract(epoch FROM finished_at - started_at) * 1000), status
                                       FROM onshikaku.purge_run WHERE NOT dry_run ORDER BY run_id DESC LIMIT 1" | tr '|' ' ')
read -r purged_rows < <(val "SELECT coalesce(sum(row_count), 0) FROM onshikaku.purge_report
                             WHERE run_id = $run_id AND data_class = 'qualification'")
read -r q_rows2 people2 regs2 persons2 cards2 < <(val "SELECT (SELECT count(*) FROM onshikaku.qualification),
       (SELECT count(DISTINCT link_number) FROM onshikaku.qualification), (SELECT count(*) FROM onshikaku.registration_zone),
       (SELECT count(*) FROM onshikaku.person), (SELECT count(*) FROM onshikaku.card)" | tr '|' ' ')
echo "PURGE: run $run_id $status, the CALL took $(secs_of "$purge_ms") s (purge_run: finished_at - started_at = $(secs_of "$server_ms") s):"
echo "   $purged_rows qualification rows ($(per_s "$purged_rows" "$purge_ms")/s), $((regs - regs2)) registrations of a person"
echo "   with an insurer ($(per_s $((regs - regs2)) "$purge_ms")/s), $((persons - persons2)) people nationally ($(per_s $((persons - persons2)) "$purge_ms")/s),"
echo "   $((cards - cards2)) cards; people holding a qualification: $people -> $people2"
fig 'purge s' "$(secs_of "$purge_ms")" s
fig 'purge qualification rows/s' "$(per_s "$purged_rows" "$purge_ms")" 'rows/s'
fig 'purge registrations/s' "$(per_s $((regs - regs2)) "$purge_ms")" 'people/s'
fig 'purge people/s' "$(per_s $((persons - persons2)) "$purge_ms")" 'people/s'

echo
echo "-- progress (sampled every second): qualification rows purged per 20 s, and the insurer reached"
q -P footer=off <<SQL
WITH p AS (SELECT (t_ms - $t_purge0) / 20000 AS w, max(purged) AS purged, max(insurer_id) AS insurer
           FROM bench.ret_progress GROUP BY 1)
SELECT w * 20 || '-' || (w + 1) * 20 || ' s' AS window, purged AS purged_so_far,
       purged - coalesce(lag(purged) OVER (ORDER BY w), 0) AS purged_in_window,
       round((purged - coalesce(lag(purged) OVER (ORDER BY w), 0)) / 20.0) AS rows_per_s, insurer - $id_lo + 1 AS insurers_reached
FROM p ORDER BY w;
SQL
echo "-- time per insurer (from the samples: the interval during which the insurer was the last one reported)"
q -P footer=off <<SQL
WITH s AS (SELECT insurer_id, min(t_ms) AS first_seen FROM bench.ret_progress WHERE insurer_id IS NOT NULL GROUP BY 1),
     d AS (SELECT insurer_id, lead(first_seen) OVER (ORDER BY insurer_id) - first_seen AS ms FROM s)
SELECT count(ms) AS insurers_timed, round(avg(ms)) AS avg_ms, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)) AS median_ms,
       min(ms) AS min_ms, max(ms) AS max_ms, $exp AS expired_rows_each, $per AS rows_each
FROM d;
SQL

if [ "$have_perf" = 1 ] && [ -s "$work/perf.data" ]; then
  echo
  echo "-- perf: the purge backend, 30 s from 10 s into the purge (frame-pointer call graphs: indicative)"
  echo "   self time, top symbols"
  { perf report -i "$work/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null || true; } \
    | awk '/^ +[0-9.]+%/ && $3 !~ /^0x/ { printf "  %7s  %s %s\n", $1, $2, $3 }' | head -25 || true
  echo "   inclusive time (children included), top symbols below the procedure's batches"
  { perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null || true; } \
    | awk '/^ +[0-9.]+%/ && $4 !~ /^0x/ { printf "  %7s  %s\n", $1, $4 }' \
    | sed -n '/ fmgr_security_definer$/,$p' | head -60 || true
  cp "$work/perf.data" "$ONSHIKAKU_CLUSTER/retention-perf.data" 2>/dev/null \
    && echo "   (perf data kept as $ONSHIKAKU_CLUSTER/retention-perf.data)"
fi

# ---- 6. after the purge ------------------------------------------------------------------------------
echo
t0=$(now_ms)
q -c 'VACUUM ANALYZE'
t_vac=$(($(now_ms) - t0))
echo "== 6. VACUUM ANALYZE after the purge: $(secs_of $t_vac) s; then $rounds rounds without a purge =="
fig 'vacuum after purge s' "$(secs_of $t_vac)" s
q -c 'CHECKPOINT'
for ((r = 1; r <= rounds; r++)); do pgb "after the purge" "$r"; done

# ---- 7. checks and explanations ----------------------------------------------------------------------
echo
echo "== 7. checks =="
q -P footer=off <<SQL
SELECT count(*) AS qualification_rows_left,
       count(*) FILTER (WHERE lost_on < onshikaku.today_in_japan() - interval '5 years') AS expired_left,
       count(*) FILTER (WHERE lost_on >= onshikaku.today_in_japan() - interval '5 years') AS recently_lost_kept,
       count(*) FILTER (WHERE lost_on IS NULL) AS open_kept,
       $rows - $expired AS expected_left
FROM onshikaku.qualification;
SELECT (SELECT count(*) FROM onshikaku.person) AS persons, $persons - ($expired - $((mov * insurers))) AS expected_persons,
       (SELECT count(*) FROM onshikaku.registration_zone) AS registrations, $regs - $expired AS expected_registrations,
       (SELECT count(*) FROM onshikaku.person_enrolment) AS person_enrolments,
       (SELECT count(*) FROM onshikaku.card) AS cards,
       (SELECT count(*) FROM onshikaku.card_branch_issue WHERE link_number IS NULL) AS card_branches_kept_without_person,
       (SELECT count(*) FROM onshikaku.qualification q WHERE NOT EXISTS
          (SELECT FROM onshikaku.person p WHERE p.link_number OPERATOR(onshikaku.=) q.link_number)) AS rows_without_person;
SELECT state, count(*) AS data_keys, count(*) FILTER (WHERE cohort IS NOT NULL) AS cohort_keys,
       min(cohort) AS min_cohort, max(cohort) AS max_cohort
FROM onshikaku.data_key GROUP BY state ORDER BY state;
SELECT data_class, count(*) AS deletion_records, sum(row_count) AS rows, min(event_from) AS event_from, max(event_to) AS event_to,
       sum(cardinality(key_ids_destroyed)) AS keys_destroyed
FROM onshikaku.deletion_record WHERE run_id = $run_id GROUP BY 1 ORDER BY 1;
SQL
left=$(val "SELECT count(*) FROM onshikaku.qualification WHERE lost_on < onshikaku.today_in_japan() - interval '5 years'")
[ "$left" -eq 0 ] && [ "$q_rows2" -eq $((rows - expired)) ] && [ "$purged_rows" -eq "$expired" ] \
  || { echo "the purge did not remove exactly the expired rows" >&2; exit 1; }
echo "-- where the purge's time went: PL/pgSQL functions (track_functions = pl; total includes what they call)"
q -P footer=off <<SQL
SELECT funcname, calls, round(total_time::numeric / 1000, 1) AS total_s, round(self_time::numeric / 1000, 1) AS self_s,
       round((total_time / nullif(calls, 0))::numeric * 1000, 1) AS us_per_call,
       round((100 * total_time / ($purge_ms))::numeric, 1) AS pct_of_call
FROM pg_stat_user_functions WHERE schemaname = 'onshikaku' ORDER BY total_time DESC LIMIT 12;
SQL

echo
echo "-- a second purge, nothing left to remove (what every nightly run costs at this size)"
t0=$(now_ms)
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -U bench_ret_admin -c 'CALL onshikaku.purge_expired()'
t_empty=$(($(now_ms) - t0))
echo "EMPTY PURGE: $(secs_of $t_empty) s for $((rows - expired)) rows left"
fig 'purge with nothing to remove s' "$(secs_of $t_empty)" s

echo
echo "-- plans after the purge, insurer $mid (custom plans, as purge_batch() runs them; holds: none)"
echo "   the first (and last) batch of an insurer with nothing to remove, as in every nightly run: every"
echo "   registration is read (the holds are an array read once per batch)"
{ echo 'SET search_path = pg_catalog, onshikaku;'
  cand_sql "$mid" 'NULL::onshikaku.insured_branch_number'
} | q -P footer=off | cut -c1-200
echo "   pass 2 of a batch: the same, for the 1,000 people just locked (= ANY (locked) on both tables);"
echo "   then the card 枝番 records of those people (the UPDATE of purge_batch(), rolled back)"
q -P footer=off <<SQL | cut -c1-240
SET search_path = pg_catalog, onshikaku;
SELECT array_agg(insured_branch_number)::text AS locked, array_agg(link_number)::text AS links
FROM (SELECT insured_branch_number, link_number FROM onshikaku.registration_zone WHERE insurer_id = $mid
      ORDER BY 1 LIMIT 1000) x \gset
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON)
SELECT coalesce(array_agg(g.ibn), '{}'), coalesce(sum(g.n), 0)
FROM (SELECT z.insured_branch_number AS ibn, z.my_number_bi AS bi, z.link_number AS link,
             min(q.lost_on) AS first_loss, max(q.lost_on) AS last_loss, count(*) AS n
      FROM onshikaku.registration_zone z
      JOIN onshikaku.qualification q ON q.insurer_id = $mid AND q.insured_branch_number = z.insured_branch_number
      WHERE z.insurer_id = $mid AND z.insured_branch_number = ANY (:'locked'::onshikaku.insured_branch_number[])
        AND q.insured_branch_number = ANY (:'locked'::onshikaku.insured_branch_number[])
      GROUP BY 1, 2, 3
      HAVING bool_and(q.lost_on IS NOT NULL)
         AND onshikaku.today_in_japan() > onshikaku.retention_end(max(q.lost_on), '5 years')
         AND onshikaku.today_in_japan() > onshikaku.retention_end(max(q.lost_on), '5 years')
         AND NOT coalesce(z.my_number_bi = ANY ('{}'::onshikaku.blind_index[]), false)
      ORDER BY 1 LIMIT 1000) g;
BEGIN;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON)
UPDATE onshikaku.card_branch_issue b SET link_number = NULL
WHERE b.insurer_id = $mid AND b.link_number = ANY (:'links'::onshikaku.link_number[]);
ROLLBACK;
SQL
if [ "$pmh_log" -gt 0 ]; then
  echo "   the PMH-ID log lookup purge_people() makes for the people it removes, with $pmh_log log rows"
  echo "   (inserted here for living people as superuser; the benchmark's data has none, so the purge above did not pay this)"
  q -P footer=off <<SQL
SET client_min_messages = warning;
INSERT INTO onshikaku.pmh_issuance_log (link_number, pmh_id)
SELECT link_number, onshikaku.new_pmh_id() FROM onshikaku.person LIMIT $pmh_log;
ANALYZE onshikaku.pmh_issuance_log;
SET search_path = pg_catalog, onshikaku;
EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON)
SELECT count(*) FROM onshikaku.pmh_issuance_log l
WHERE l.link_number = (SELECT link_number FROM onshikaku.person ORDER BY link_number DESC LIMIT 1);
SQL
fi

# ---- summary -------------------------------------------------------------------------------------
echo
echo "== summary: $insurers insurers, $rows qualification rows, $expired expired =="
q -P footer=off <<'SQL'
SELECT phase, count(tps) AS rounds, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY tps)::numeric, 1) AS median_tps,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)::numeric, 3) AS median_latency_ms,
       round(min(tps), 1) AS min_tps, round(max(tps), 1) AS max_tps
FROM bench.ret_result GROUP BY phase ORDER BY min(id);
SELECT name, value, unit FROM bench.ret_figure ORDER BY name;
WITH b AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY tps) AS tps FROM bench.ret_result
           WHERE phase IN ('before the purge', 'after the purge')),
     d AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY tps) AS tps FROM bench.ret_result WHERE phase = 'during the purge'),
     b1 AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY tps) AS tps FROM bench.ret_result WHERE phase = 'before the purge'),
     b2 AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY tps) AS tps FROM bench.ret_result WHERE phase = 'after the purge')
SELECT round(b.tps::numeric, 1) AS without_purge_tps, round(d.tps::numeric, 1) AS during_purge_tps,
       round((d.tps / b.tps)::numeric, 3) AS "RATIO during / without (target 0.7)",
       round((d.tps / b1.tps)::numeric, 3) AS "vs before only", round((d.tps / b2.tps)::numeric, 3) AS "vs after only"
FROM b, d, b1, b2;
SQL

# ---- clean up ------------------------------------------------------------------------------------
val 'ALTER SYSTEM RESET track_functions' >/dev/null
val 'SELECT pg_reload_conf()' >/dev/null
if [ "${BENCH_KEEP:-0}" != 1 ]; then
  psql -X -q -d postgres -c "DROP DATABASE $db" -c 'DROP ROLE IF EXISTS bench_ret_admin' -c 'DROP ROLE IF EXISTS bench_ret_oqs'
fi
