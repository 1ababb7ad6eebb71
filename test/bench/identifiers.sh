#!/usr/bin/env bash
# Benchmark: parsing 1M My Numbers (and insurer numbers) with the extension's
# types against the server's own bigint input over the same strings, in one
# run on one throwaway cluster.  Prints medians and ratios.
#   usage: test/bench/identifiers.sh        (make bench runs it)
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${PGHOST:?run through test/bench/run.sh, which starts the cluster}"
rows=${BENCH_ROWS:-1000000}
psql -X -q -v ON_ERROR_STOP=1 -d bench <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_mn, bench_ins;
-- 1M valid My Numbers, computed with an inline formula (not the extension)
CREATE TABLE bench_mn AS
SELECT b || (CASE WHEN s % 11 <= 1 THEN 0 ELSE 11 - s % 11 END)::text AS x
FROM (SELECT b, substr(b,1,1)::int*6 + substr(b,2,1)::int*5 + substr(b,3,1)::int*4 + substr(b,4,1)::int*3
            + substr(b,5,1)::int*2 + substr(b,6,1)::int*7 + substr(b,7,1)::int*6 + substr(b,8,1)::int*5
            + substr(b,9,1)::int*4 + substr(b,10,1)::int*3 + substr(b,11,1)::int*2 AS s
      FROM (SELECT lpad((1 + floor(random() * 99999999999))::bigint::text, 11, '0') AS b
            FROM generate_series(1, $rows)) g) t;
SQL
# the Luhn digit sum is easier as a function
psql -X -q -v ON_ERROR_STOP=1 -d bench <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_ins;
CREATE FUNCTION pg_temp.d(b text, i int, w int) RETURNS int IMMUTABLE LANGUAGE sql AS
  \$\$ SELECT (substr(b, i, 1)::int * w) / 10 + (substr(b, i, 1)::int * w) % 10 \$\$;
CREATE TABLE bench_ins AS
SELECT b || ((10 - (pg_temp.d(b,7,2) + pg_temp.d(b,6,1) + pg_temp.d(b,5,2) + pg_temp.d(b,4,1)
                  + pg_temp.d(b,3,2) + pg_temp.d(b,2,1) + pg_temp.d(b,1,2)) % 10) % 10)::text AS x
FROM (SELECT '01' || lpad((1 + floor(random() * 47))::int::text, 2, '0') || lpad(floor(random() * 1000)::int::text, 3, '0') AS b
      FROM generate_series(1, $rows)) g;
VACUUM ANALYZE bench_mn, bench_ins;
SQL
psql -X -q -v ON_ERROR_STOP=1 -d bench -P footer=off <<'SQL'
SET max_parallel_workers_per_gather = 0;
SET jit = off;
\echo '== 1M strings: cast to onshikaku.my_number vs cast to bigint (median of 7, ms) =='
CREATE TEMP TABLE r AS SELECT * FROM bench.compare(ARRAY[
    'SELECT count(x::onshikaku.my_number) FROM bench_mn',
    'SELECT count(x::bigint) FROM bench_mn',
    'SELECT count(x::onshikaku.insurer_number) FROM bench_ins',
    'SELECT count(x::bigint) FROM bench_ins',
    'SELECT count(onshikaku.my_number_is_valid(x)) FROM bench_mn',
    'SELECT count(x) FROM bench_mn']);
SELECT * FROM r;
SELECT round((SELECT median_ms FROM r WHERE query LIKE '%my_number) FROM bench_mn')
           / (SELECT median_ms FROM r WHERE query LIKE '%bigint) FROM bench_mn'), 2) AS my_number_vs_bigint,
       round((SELECT median_ms FROM r WHERE query LIKE '%insurer_number)%')
           / (SELECT median_ms FROM r WHERE query LIKE '%bigint) FROM bench_ins'), 2) AS insurer_number_vs_bigint;
SQL
