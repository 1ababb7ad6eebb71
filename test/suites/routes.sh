#!/usr/bin/env bash
# Isolation routes that need a client: COPY and pg_dump run as insurer A's
# login role.  Each check fails if B's rows, or any personal number, come
# out.  (The SQL routes are in test/tap/isolation.sql.)  Prints TAP-style
# lines and "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${ONSHIKAKU_CLUSTER:?run from test/run_all.sh}"
db=onshikaku_routes
work=$(mktemp -d)
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $((pass + fail)) - $1"; }
not_ok() { fail=$((fail + 1)); echo "not ok $((pass + fail)) - $1"; [ -n "${2:-}" ] && echo "# $2"; }
trap 'psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS routes_a" >/dev/null 2>&1; rm -rf "$work"' EXIT

psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS routes_a" -c "CREATE DATABASE $db" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null <<'SQL'
CREATE EXTENSION onshikaku;
SET search_path = onshikaku, public;
SELECT register_insurer('01130012', 'routes A', 'kyokai_kenpo') AS a \gset
SELECT register_insurer('39131156', 'routes B', 'koki_koreisha') AS b \gset
INSERT INTO qualification (insurer_id, qualification_id, insured_branch_number, link_number, my_number, my_number_bi,
                           name_on_card, birth_date, card_symbol, card_number, card_branch, acquired_on, insured_or_dependent)
SELECT ins, nextval('qualification_id_seq'), osk.ibn, osk.ibn::text::link_number,
       protect('123456789018', (SELECT insurer_number FROM insurer WHERE insurer_id = ins), 'qualification.my_number'),
       blind_index_of('123456789018'),
       CASE ins WHEN :a THEN 'ROUTE-A-' ELSE 'ROUTE-B-' END || i, date '1980-01-01', 'S', i::text, '00', date '2020-04-01', 1
FROM unnest(ARRAY[:a, :b]) ins, generate_series(1, 3) i,
     LATERAL (SELECT (lpad((ins * 100 + i)::text, 15, '0') ||
                      (SELECT (10 - sum(CASE WHEN (15 - k) % 2 = 0
                                   THEN (substr(lpad((ins * 100 + i)::text, 15, '0'), k, 1)::int * 2) / 10
                                        + (substr(lpad((ins * 100 + i)::text, 15, '0'), k, 1)::int * 2) % 10
                                   ELSE substr(lpad((ins * 100 + i)::text, 15, '0'), k, 1)::int END) % 10) % 10
                       FROM generate_series(1, 15) k))::insured_branch_number AS ibn) osk;
CREATE ROLE routes_a LOGIN IN ROLE onshikaku_insurer;
SELECT grant_insurer('routes_a', :a);
SQL
b_id=$(psql -X -At -d $db -c "SELECT insurer_id FROM onshikaku.insurer WHERE name = 'routes B'")
as_a() { psql -X -q -At -U routes_a -d $db "$@"; }

out=$(as_a -c "COPY (SELECT name_on_card FROM onshikaku.qualification) TO STDOUT" 2>&1)
if [ "$(echo "$out" | grep -c '^ROUTE-A-')" = 3 ] && ! echo "$out" | grep -q 'ROUTE-B'; then
  ok "COPY (SELECT ...) as A gives A's 3 rows and none of B's"
else not_ok "COPY (SELECT ...) as A gives A's 3 rows and none of B's" "$out"; fi
out=$(as_a -c "COPY onshikaku.qualification_$b_id TO STDOUT" 2>&1)
case "$out" in *"permission denied"*) ok "COPY of B's partition is refused" ;; *) not_ok "COPY of B's partition is refused" "$out" ;; esac
out=$(as_a -c "\\copy (SELECT name_on_card FROM onshikaku.qualification WHERE insurer_id = $b_id) TO STDOUT" 2>&1)
if [ -z "$out" ]; then ok "\\copy asking for B returns nothing"; else not_ok "\\copy asking for B returns nothing" "$out"; fi
out=$(as_a -c "COPY (SELECT my_number FROM onshikaku.qualification) TO STDOUT" 2>&1)
case "$out" in *"permission denied"*) ok "COPY of the ciphertexts is refused" ;; *) not_ok "COPY of the ciphertexts is refused" "$out" ;; esac
out=$(as_a -c "COPY (SELECT my_number_bi FROM onshikaku.qualification) TO STDOUT" 2>&1)
case "$out" in *"permission denied"*) ok "COPY of the blind indexes is refused" ;; *) not_ok "COPY of the blind indexes is refused" "$out" ;; esac

# control: the checks below would see B's rows and ciphertexts if they came out
pg_dump -d $db -f "$work/control.sql" 2>/dev/null
if grep -aq 'ROUTE-B' "$work/control.sql" && grep -aq 'enc1:' "$work/control.sql"; then
  ok "control: a superuser's dump does hold B's rows and ciphertexts"
else not_ok "control: a superuser's dump does hold B's rows and ciphertexts"; fi
for mode in "" "--enable-row-security"; do
  pg_dump -U routes_a -d $db $mode -f "$work/dump.sql" 2> "$work/dump.err"
  rc=$?
  label="pg_dump ${mode:-(default)} as A"
  if grep -aq 'ROUTE-B' "$work/dump.sql" 2>/dev/null; then not_ok "$label: no row of B's in the output"
  else ok "$label: no row of B's in the output (exit $rc)"; fi
  if grep -aqE 'enc1:|123456789018' "$work/dump.sql" 2>/dev/null; then not_ok "$label: no personal number in the output"
  else ok "$label: no personal number in the output"; fi
done
pg_dump -U routes_a -d $db --enable-row-security -t "onshikaku.qualification_$b_id" -f "$work/dump_b.sql" 2> "$work/dump_b.err"
rc=$?
if [ $rc -ne 0 ] && grep -q "permission denied" "$work/dump_b.err"; then ok "pg_dump of B's partition by name fails"
else not_ok "pg_dump of B's partition by name fails" "exit $rc: $(head -3 "$work/dump_b.err")"; fi

echo "1..$((pass + fail))"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
