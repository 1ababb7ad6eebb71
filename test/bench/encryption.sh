#!/usr/bin/env bash
# Benchmark: encrypting and indexing 1M My Numbers with the extension
# (protect = AES-256-GCM, blind_index_of = HMAC-SHA256) against pgcrypto over
# the same strings in one run on one throwaway cluster:
#   1. onshikaku.protect + onshikaku.blind_index_of
#   2. pgcrypto encrypt(.., 'aes') + hmac(.., 'sha256') with fixed 32-byte keys
#      (constants folded into the plan: no per-row key work beyond pgcrypto's own)
#   3. pgcrypto pgp_sym_encrypt (1 round; on the first 100,000 rows only when a
#      10,000-row probe says 1M rows would take more than 5 minutes)
#   4. onshikaku.reveal against pgcrypto decrypt over materialized tables of
#      the same numbers (each reveal appends an onshikaku.access_log row; that
#      table refuses TRUNCATE, so it just grows)
# Prints medians (ms), per-row microseconds and the ratios
# (encrypt+hmac)/(protect+index) and decrypt/reveal.
#   usage: test/bench/run.sh test/bench/encryption.sh   (make bench runs it)
#   env:   BENCH_ROWS (default 1000000), BENCH_ROUNDS (default 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${PGHOST:?run through test/bench/run.sh, which starts the cluster}"
rows=${BENCH_ROWS:-1000000}
rounds=${BENCH_ROUNDS:-5}
# fixed throwaway keys for the pgcrypto baseline (32 bytes each)
k1=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
k2=202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f

psql -X -q -v ON_ERROR_STOP=1 -d bench -v rows="$rows" -v k1="$k1" <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_enc_mn, bench_enc_mn_sub, bench_enc_t, bench_pgc_t;
-- 1M valid My Numbers, computed with an inline formula (not the extension);
-- i numbers the rows so that a subset is "the first N rows"
CREATE TABLE bench_enc_mn AS
SELECT i, b || (CASE WHEN s % 11 <= 1 THEN 0 ELSE 11 - s % 11 END)::text AS x
FROM (SELECT i, b, substr(b,1,1)::int*6 + substr(b,2,1)::int*5 + substr(b,3,1)::int*4 + substr(b,4,1)::int*3
            + substr(b,5,1)::int*2 + substr(b,6,1)::int*7 + substr(b,7,1)::int*6 + substr(b,8,1)::int*5
            + substr(b,9,1)::int*4 + substr(b,10,1)::int*3 + substr(b,11,1)::int*2 AS s
      FROM (SELECT i, lpad((1 + floor(random() * 99999999999))::bigint::text, 11, '0') AS b
            FROM generate_series(1, :rows) g(i)) g) t;
-- the same numbers, encrypted once each way, for the decryption comparison
CREATE TABLE bench_enc_t AS
SELECT i, onshikaku.protect(x::onshikaku.my_number, '01130012', 'bench.my_number') AS e FROM bench_enc_mn;
CREATE TABLE bench_pgc_t AS
SELECT i, encrypt(convert_to(x, 'UTF8'), decode(:'k1', 'hex'), 'aes') AS c FROM bench_enc_mn;
VACUUM ANALYZE bench_enc_mn, bench_enc_t, bench_pgc_t;
SQL

psql -X -q -v ON_ERROR_STOP=1 -d bench -P footer=off \
     -v rows="$rows" -v rounds="$rounds" -v k1="$k1" -v k2="$k2" <<'SQL'
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
SET jit = off;
\pset null '-'
SELECT version() AS server, (SELECT extversion FROM pg_extension WHERE extname = 'pgcrypto') AS pgcrypto,
       (SELECT extversion FROM pg_extension WHERE extname = 'onshikaku') AS onshikaku;
SELECT count(*) AS numbers, count(DISTINCT x) AS distinct_numbers,
       count(*) FILTER (WHERE NOT onshikaku.my_number_is_valid(x)) AS invalid
FROM bench_enc_mn;
SELECT (SELECT round(avg(pg_column_size(e)), 1) FROM bench_enc_t) AS protect_datum_bytes,
       (SELECT round(avg(pg_column_size(c)), 1) FROM bench_pgc_t) AS encrypt_aes_datum_bytes,
       pg_size_pretty(pg_table_size('bench_enc_t')) AS bench_enc_t_size,
       pg_size_pretty(pg_table_size('bench_pgc_t')) AS bench_pgc_t_size;
-- the keys are constants of the plan (the CTE is inlined and decode() folded)
\set keys 'WITH k AS (SELECT decode(' :'k1' ', ''hex'') AS k1, decode(' :'k2' ', ''hex'') AS k2) '
CREATE TEMP TABLE q (n int PRIMARY KEY, label text, sql text, rows bigint);
INSERT INTO q VALUES
 (1, 'onshikaku protect + blind_index_of',
     'SELECT count(onshikaku.protect(x::onshikaku.my_number, ''01130012'', ''bench.my_number'')), '
     'count(onshikaku.blind_index_of(x::onshikaku.my_number)) FROM bench_enc_mn', :rows),
 (2, 'pgcrypto encrypt(aes) + hmac(sha256)',
     :'keys' || 'SELECT count(encrypt(convert_to(x, ''UTF8''), k1, ''aes'')), '
     'count(hmac(convert_to(x, ''UTF8''), k2, ''sha256'')) FROM bench_enc_mn, k', :rows),
 -- the parts, to see where the time goes (not part of the ratios)
 (3, '  part: onshikaku protect only',
     'SELECT count(onshikaku.protect(x::onshikaku.my_number, ''01130012'', ''bench.my_number'')) FROM bench_enc_mn', :rows),
 (4, '  part: onshikaku blind_index_of only',
     'SELECT count(onshikaku.blind_index_of(x::onshikaku.my_number)) FROM bench_enc_mn', :rows),
 (5, '  part: pgcrypto encrypt(aes) only',
     :'keys' || 'SELECT count(encrypt(convert_to(x, ''UTF8''), k1, ''aes'')) FROM bench_enc_mn, k', :rows),
 (6, '  part: pgcrypto hmac(sha256) only',
     :'keys' || 'SELECT count(hmac(convert_to(x, ''UTF8''), k2, ''sha256'')) FROM bench_enc_mn, k', :rows),
 (7, '  part: scan + cast to my_number, twice',
     'SELECT count(x::onshikaku.my_number), count(x::onshikaku.my_number) FROM bench_enc_mn', :rows),
 (8, '  part: scan + convert_to, twice',
     'SELECT count(convert_to(x, ''UTF8'')), count(convert_to(x, ''UTF8'')) FROM bench_enc_mn', :rows),
 (20, 'onshikaku reveal',
     'SELECT count(onshikaku.reveal(e, ''01130012'', ''bench.my_number'', ''bench'', ''benchmark'')) FROM bench_enc_t', :rows),
 (21, 'pgcrypto decrypt(aes)',
     :'keys' || 'SELECT count(decrypt(c, k1, ''aes'')) FROM bench_pgc_t, k', :rows),
 (22, '  part: scan of bench_enc_t',  'SELECT count(e) FROM bench_enc_t', :rows),
 (23, '  part: scan of bench_pgc_t',  'SELECT count(c) FROM bench_pgc_t', :rows);

\echo
\echo '== plan of the pgcrypto query: the keys are constants, folded at plan time =='
SELECT sql AS pgcrypto_query FROM q WHERE n = 2 \gset
EXPLAIN (VERBOSE, COSTS OFF) :pgcrypto_query;

\echo
\echo '== sanity: every way gives the numbers back (first 1000 rows; adds 1000 access-log rows) =='
WITH k AS (SELECT decode(:'k1', 'hex') AS k1)
SELECT count(*) FILTER (WHERE onshikaku.reveal(t.e, '01130012', 'bench.my_number', 'bench', 'sanity') <> m.x) AS reveal_mismatches,
       count(*) FILTER (WHERE convert_from(decrypt(p.c, k.k1, 'aes'), 'UTF8') <> m.x) AS decrypt_mismatches
FROM bench_enc_mn m JOIN bench_enc_t t USING (i) JOIN bench_pgc_t p USING (i), k
WHERE m.i <= 1000;

CREATE TEMP TABLE r (n int, label text, median_ms numeric, rows bigint, rounds int);
CREATE FUNCTION pg_temp.run(ns int[], nrounds int) RETURNS void LANGUAGE sql AS $$
    INSERT INTO r
    SELECT q.n, q.label, c.median_ms, q.rows, nrounds
    FROM bench.compare((SELECT array_agg(sql ORDER BY n) FROM q WHERE n = ANY (ns)), nrounds) c
    JOIN q ON q.sql = c.query
$$;

\echo
\echo '== 1-2. protect + blind index vs pgcrypto encrypt + hmac,' :rows 'rows (median of' :rounds 'alternating rounds) =='
SELECT pg_temp.run(ARRAY[1, 2, 3, 4, 5, 6, 7, 8], :rounds) \gset
SELECT label, median_ms, rows, round(median_ms * 1000 / rows, 3) AS us_per_row
FROM r WHERE n BETWEEN 1 AND 8 ORDER BY n;
SELECT round((SELECT median_ms FROM r WHERE n = 2) / (SELECT median_ms FROM r WHERE n = 1), 2)
           AS "pgcrypto encrypt+hmac / onshikaku protect+index",
       CASE WHEN (SELECT median_ms FROM r WHERE n = 2) / (SELECT median_ms FROM r WHERE n = 1) >= 2.5
            THEN 'met' ELSE 'NOT met' END AS "target >= 2.5";

\echo
\echo '== 3. pgcrypto pgp_sym_encrypt(x, ''a passphrase''), 1 round =='
\set probe_rows 10000
INSERT INTO q VALUES
 (30, 'pgp_sym_encrypt probe, first ' || least(:probe_rows, :rows) || ' rows',
      'SELECT count(pgp_sym_encrypt(x, ''a passphrase'')) FROM bench_enc_mn WHERE i <= ' || :probe_rows,
      least(:probe_rows, :rows));
SELECT pg_temp.run(ARRAY[30], 1) \gset
SELECT median_ms AS probe_ms, rows AS probe_rows, round(median_ms * 1000 / rows, 1) AS us_per_row,
       round(median_ms / rows * :rows / 1000) AS estimated_s_for_all_rows,
       median_ms / rows * :rows > 300000 AS too_slow
FROM r WHERE n = 30 \gset
\echo 'probe:' :probe_rows 'rows in' :probe_ms 'ms =' :us_per_row 'us/row; all' :rows 'rows would take about' :estimated_s_for_all_rows 's'
\if :too_slow
  \echo 'that is over 5 minutes, so pgp_sym_encrypt is measured on the FIRST 100000 ROWS ONLY (a subset of the same numbers; nothing is scaled up)'
  CREATE TABLE bench_enc_mn_sub AS SELECT i, x FROM bench_enc_mn WHERE i <= 100000;
  VACUUM ANALYZE bench_enc_mn_sub;
  INSERT INTO q SELECT 31, 'pgcrypto pgp_sym_encrypt, FIRST ' || count(*) || ' ROWS ONLY',
                       'SELECT count(pgp_sym_encrypt(x, ''a passphrase'')) FROM bench_enc_mn_sub', count(*)
                FROM bench_enc_mn_sub;
\else
  \echo 'that is within 5 minutes, so pgp_sym_encrypt is measured on all' :rows 'rows'
  INSERT INTO q VALUES (31, 'pgcrypto pgp_sym_encrypt, all ' || :rows || ' rows',
                        'SELECT count(pgp_sym_encrypt(x, ''a passphrase'')) FROM bench_enc_mn', :rows);
\endif
SELECT pg_temp.run(ARRAY[31], 1) \gset
SELECT label, median_ms AS ms_1_round, rows, round(median_ms * 1000 / rows, 3) AS us_per_row,
       round((median_ms / rows) / ((SELECT median_ms FROM r WHERE n = 2) / (SELECT rows FROM r WHERE n = 2)), 1)
           AS "x per-row time of encrypt+hmac",
       round((median_ms / rows) / ((SELECT median_ms FROM r WHERE n = 1) / (SELECT rows FROM r WHERE n = 1)), 1)
           AS "x per-row time of protect+index"
FROM r WHERE n IN (30, 31) ORDER BY n;

\echo
\echo '== 4. reveal vs pgcrypto decrypt over the same' :rows 'numbers, materialized (median of' :rounds 'alternating rounds) =='
SELECT count(*) AS access_log_rows_before FROM onshikaku.access_log \gset
\echo 'every reveal query appends' :rows 'rows to onshikaku.access_log (stored in batches in access_log_batch, append-only), so it grows;'
\echo 'bench.compare runs all rounds in one transaction: rows are written in-statement every 8192 reveals, the rest before commit'
SELECT pg_temp.run(ARRAY[20, 21, 22, 23], :rounds) \gset
SELECT label, median_ms, rows, round(median_ms * 1000 / rows, 3) AS us_per_row
FROM r WHERE n BETWEEN 20 AND 23 ORDER BY n;
SELECT round((SELECT median_ms FROM r WHERE n = 21) / (SELECT median_ms FROM r WHERE n = 20), 2)
           AS "pgcrypto decrypt / onshikaku reveal",
       CASE WHEN (SELECT median_ms FROM r WHERE n = 21) / (SELECT median_ms FROM r WHERE n = 20) >= 2
            THEN 'met' ELSE 'NOT met' END AS "target >= 2";
SELECT :access_log_rows_before AS access_log_rows_before, count(*) AS access_log_rows_after,
       count(*) - :access_log_rows_before AS added,
       pg_size_pretty(pg_total_relation_size('onshikaku.access_log_batch')) AS access_log_size
FROM onshikaku.access_log;

\echo
\echo '== summary =='
SELECT label, median_ms, rounds, rows, round(median_ms * 1000 / rows, 3) AS us_per_row
FROM r WHERE n IN (1, 2, 31, 20, 21) ORDER BY CASE n WHEN 31 THEN 3 ELSE n END;
SELECT round((SELECT median_ms FROM r WHERE n = 2) / (SELECT median_ms FROM r WHERE n = 1), 2)
           AS "encrypt+hmac / protect+index (target >= 2.5)",
       round((SELECT median_ms FROM r WHERE n = 21) / (SELECT median_ms FROM r WHERE n = 20), 2)
           AS "decrypt / reveal (target >= 2)";
SQL
