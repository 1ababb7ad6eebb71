-- flows_data.sql: generators and the staging data of test/bench/flows.sh.
--
-- Loaded twice by flows.sh: with -v staging=false (the generator functions and the
-- results table, before the insurers are registered), then with -v staging=true and:
--   :insurers  number of insurers (registered by flows.sh as insurers k = 0 .. insurers-1,
--              insurer_id = :id_lo + k)
--   :people    people of the measured enrolment (global index g = 0 .. people-1)
--   :extra     more people after them (g = people .. people+extra-1), enrolled unmeasured
--              while perf samples the backend
--   :rounds    alternating rounds of the enrolment comparison (round r: the insurers k % rounds = r)
--   :row_insurers  insurers of the per-row line (onshikaku.enroll_member), 0 for none
--   :id_lo     insurer_id of insurer k = 0 (only for the staging table; the functions need none)
--
-- Every value is a function of (k, n) or g, so that pgbench scripts can compute the same
-- values with integer arithmetic (flows.sh writes the same formulas in pgbench syntax, and
-- checks them against these before measuring):
--   person g:  insurer k = g % insurers, its n-th person n = g / insurers;
--              My Number   = body 30000000000 + g, with its check digit;
--              household h = n / 3: 記号 100 + h / 1000, 番号 10000000 + h, the insured
--              person (n % 3 = 0) and two dependents; 枝番 expected 00, 01, 02 (issued by
--              enroll_member in enrolment order);
--              birth date  1930-01-01 + (g * 7919) % 25000 days (to 1998),
--              acquired    2000-04-01 + (g * 31) % 8000 days (to 2022), open-ended (the
--              bulk enrolment takes current members; losses are recorded afterwards);
--   the per-row line's people (bench.flow_rows): the same formulas on their own g, My Numbers
--              40000000000 + g, 記号 R100..., and losses (g % 10 = 9) 365 + g % 1000 days after
--              acquisition, reason 1.
--   insurer k: 法別 (31 32 33 34 39 63 67 72)[k % 8], 都道府県 1 + (k / 8) % 47,
--              保険者別 k / 376, Luhn check digit: distinct for k < 376,000.  (No 法別 with a
--              leading zero: pgbench passes integers, and 01130012 would lose its zero.)

SET client_min_messages = warning;

\if :staging
\else
-- digit sum of 2d (a Luhn-doubled digit)
CREATE FUNCTION bench.flow_dd(d bigint) RETURNS bigint IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS
  $$ SELECT (2 * d) / 10 + (2 * d) % 10 $$;
-- Luhn check digit of a 7-digit body, integer arithmetic (the pgbench scripts use the same)
CREATE FUNCTION bench.flow_luhn7(b bigint) RETURNS bigint IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS $$
  SELECT (10 - (bench.flow_dd(b % 10) + (b / 10) % 10 + bench.flow_dd((b / 100) % 10) + (b / 1000) % 10
              + bench.flow_dd((b / 10000) % 10) + (b / 100000) % 10 + bench.flow_dd((b / 1000000) % 10)) % 10) % 10 $$;
-- Luhn check digit of a 15-digit body (issued 16-digit numbers of the baseline)
CREATE FUNCTION bench.flow_luhn15(b bigint) RETURNS bigint IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS $$
  SELECT (10 - (bench.flow_dd(b % 10) + (b / 10) % 10 + bench.flow_dd((b / 100) % 10) + (b / 1000) % 10
              + bench.flow_dd((b / 10000) % 10) + (b / 100000) % 10 + bench.flow_dd((b / 1000000) % 10)
              + (b / 10000000) % 10 + bench.flow_dd((b / 100000000) % 10) + (b / 1000000000) % 10
              + bench.flow_dd((b / 10000000000) % 10) + (b / 100000000000) % 10
              + bench.flow_dd((b / 1000000000000) % 10) + (b / 10000000000000) % 10
              + bench.flow_dd((b / 100000000000000) % 10)) % 10) % 10 $$;
-- My Number check digit: weights 6,5,4,3,2,7,6,5,4,3,2 over the 11 body digits, left to right
CREATE FUNCTION bench.flow_mn_check(b bigint) RETURNS bigint IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS $$
  SELECT CASE WHEN s % 11 <= 1 THEN 0 ELSE 11 - s % 11 END
  FROM (SELECT 6 * (b / 10000000000 % 10) + 5 * (b / 1000000000 % 10) + 4 * (b / 100000000 % 10)
             + 3 * (b / 10000000 % 10) + 2 * (b / 1000000 % 10) + 7 * (b / 100000 % 10)
             + 6 * (b / 10000 % 10) + 5 * (b / 1000 % 10) + 4 * (b / 100 % 10)
             + 3 * (b / 10 % 10) + 2 * (b % 10) AS s) x $$;
-- the My Number of an 11-digit body (flows.sh: bodies 30000000000 + g, and 5xxxxxxxxxx in part d)
CREATE FUNCTION bench.flow_my_number(body bigint) RETURNS text IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS
  $$ SELECT (body * 10 + bench.flow_mn_check(body))::text $$;
-- the k-th insurer
CREATE FUNCTION bench.flow_insurer_body(k int) RETURNS bigint IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS $$
  SELECT (ARRAY[31, 32, 33, 34, 39, 63, 67, 72])[1 + k % 8]::bigint * 100000 + (1 + (k / 8) % 47) * 1000 + k / 376 $$;
CREATE FUNCTION bench.flow_insurer_number(k int) RETURNS text IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS
  $$ SELECT (bench.flow_insurer_body(k) * 10 + bench.flow_luhn7(bench.flow_insurer_body(k)))::text $$;
CREATE FUNCTION bench.flow_insurer_kind(k int) RETURNS onshikaku.insurer_kind IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS $$
  SELECT (ARRAY['kokka_kyosai', 'chiho_kyosai', 'chiho_kyosai', 'shigaku_kyosai', 'koki_koreisha',
                'kenpo_kumiai', 'shichoson_kokuho', 'kokka_kyosai'])[1 + k % 8]::onshikaku.insurer_kind $$;

CREATE TABLE bench.flow_result (id serial, part text, label text, run int, value numeric, unit text,
                                extra numeric, note text);
\endif

\if :staging

-- The staging table of the enrolment: what an insurer's system hands over, plus (for the
-- baseline only, "without issuance") numbers computed in advance.
CREATE TABLE bench.flow_staging AS
WITH p AS (
    SELECT g, (g % :insurers)::int AS k, (g / :insurers)::int AS n
    FROM generate_series(0::bigint, :people + :extra - 1) g
)
SELECT g, k, n,
       CASE WHEN g >= :people THEN :rounds ELSE k % :rounds END AS round,
       :id_lo + k AS insurer_id,
       bench.flow_my_number(30000000000 + g) AS my_number,
       (100 + n / 3 / 1000)::text AS card_symbol,
       (10000000 + n / 3)::text AS card_number,
       lpad((n % 3)::text, 2, '0')::onshikaku.card_branch_number AS expected_branch,
       (CASE WHEN n % 3 = 0 THEN 1 ELSE 2 END)::smallint AS insured_or_dependent,
       'bench person ' || g AS name_on_card,
       'ベンチ ' || g AS name_on_card_kana,
       (1 + g % 2)::smallint AS sex,
       date '1930-01-01' + ((g * 7919) % 25000)::int AS birth_date,
       '東京都千代田区千代田1-' || g AS address,
       (1000000 + g % 9000000)::text AS postcode,
       '131016'::text AS municipality_code,
       'H' || k || '-' || n / 3 AS household_id,
       'bench person ' || ((n / 3 * 3)::bigint * :insurers + k) AS insured_person_name,
       30::smallint AS copay_ratio,
       date '2000-04-01' + ((g * 31) % 8000)::int AS acquired_on,
       NULL::date AS lost_on, NULL::smallint AS loss_reason,
       -- the baseline's numbers (the model issues its own)
       (bench.flow_luhn15(300000000000000 + g) + (300000000000000 + g) * 10)::text::onshikaku.link_number AS link_number,
       (bench.flow_luhn15(100000000000000 + g) + (100000000000000 + g) * 10)::text::onshikaku.insured_branch_number
           AS insured_branch_number,
       g + 1 AS qualification_id,
       g + 1 AS card_id
FROM p
ORDER BY k, g;
CREATE INDEX ON bench.flow_staging (k, g);
CREATE UNIQUE INDEX ON bench.flow_staging (g);
ANALYZE bench.flow_staging;

-- The people of the per-row line (onshikaku.enroll_member, one call per person): as many per
-- insurer as above, for the first :row_insurers insurers; My Numbers 40000000000 + g, cards of
-- their own (記号 R100, R101, ...), one in ten lost.
CREATE TABLE bench.flow_rows AS
WITH p AS (
    SELECT g, (g % :row_insurers)::int AS k, (g / :row_insurers)::int AS n
    FROM generate_series(0::bigint, :row_insurers::bigint * ((:people + :insurers - 1) / :insurers) - 1) g
    WHERE :row_insurers > 0
)
SELECT g, k, n, k % :rounds AS round, :id_lo + k AS insurer_id,
       bench.flow_my_number(40000000000 + g) AS my_number,
       'R' || (100 + n / 3 / 1000) AS card_symbol,
       (10000000 + n / 3)::text AS card_number,
       lpad((n % 3)::text, 2, '0')::onshikaku.card_branch_number AS expected_branch,
       (CASE WHEN n % 3 = 0 THEN 1 ELSE 2 END)::smallint AS insured_or_dependent,
       'row person ' || g AS name_on_card,
       'ロウ ' || g AS name_on_card_kana,
       (1 + g % 2)::smallint AS sex,
       date '1930-01-01' + ((g * 7919) % 25000)::int AS birth_date,
       '東京都千代田区千代田2-' || g AS address,
       (1000000 + g % 9000000)::text AS postcode,
       '131016'::text AS municipality_code,
       'R' || k || '-' || n / 3 AS household_id,
       'row person ' || ((n / 3 * 3)::bigint * :row_insurers + k) AS insured_person_name,
       30::smallint AS copay_ratio,
       date '2000-04-01' + ((g * 31) % 8000)::int AS acquired_on,
       CASE WHEN g % 10 = 9 THEN date '2000-04-01' + ((g * 31) % 8000)::int + 365 + (g % 1000)::int END AS lost_on,
       CASE WHEN g % 10 = 9 THEN 1 END::smallint AS loss_reason,
       (bench.flow_luhn15(400000000000000 + g) + (400000000000000 + g) * 10)::text::onshikaku.link_number AS link_number,
       (bench.flow_luhn15(200000000000000 + g) + (200000000000000 + g) * 10)::text::onshikaku.insured_branch_number
           AS insured_branch_number,
       1000000000 + g AS qualification_id,
       1000000000 + g AS card_id
FROM p
ORDER BY k, g;
CREATE INDEX ON bench.flow_rows (k, g);
ANALYZE bench.flow_rows;

-- The plain tables of the enrolment baseline: the same columns and indexes as
-- onshikaku.person, registration_zone, qualification and card, one table each, no
-- partitions, no row-level security; My Numbers in clear text (no encryption, no
-- blind index); numbers taken from the staging table (no issuance).
CREATE TABLE bench_flow_person (
    link_number  onshikaku.link_number PRIMARY KEY,
    my_number    text NOT NULL UNIQUE,
    pmh_id       onshikaku.pmh_id UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    pmh_issued_at timestamptz
);
CREATE TABLE bench_flow_registration (
    insurer_id            integer NOT NULL,
    insured_branch_number onshikaku.insured_branch_number NOT NULL,
    my_number             text NOT NULL,
    link_number           onshikaku.link_number NOT NULL,
    prospective           boolean NOT NULL DEFAULT false,
    household_member      boolean NOT NULL DEFAULT false,
    registered_at         timestamptz NOT NULL DEFAULT now(),
    removal_requested_at  timestamptz,
    PRIMARY KEY (insurer_id, insured_branch_number),
    UNIQUE (insurer_id, my_number)
);
CREATE TABLE bench_flow_qualification (LIKE onshikaku.qualification INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE bench_flow_qualification ALTER COLUMN my_number TYPE text USING NULL,
    ALTER COLUMN updated_my_number TYPE text USING NULL, DROP COLUMN my_number_bi;
ALTER TABLE bench_flow_qualification ADD PRIMARY KEY (insurer_id, qualification_id);
CREATE INDEX ON bench_flow_qualification (insurer_id, card_symbol, card_number, card_branch);
CREATE INDEX ON bench_flow_qualification (insurer_id, insured_branch_number);
CREATE INDEX ON bench_flow_qualification (insurer_id, link_number);
CREATE TABLE bench_flow_card (LIKE onshikaku.card INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE bench_flow_card ADD PRIMARY KEY (insurer_id, card_id);
CREATE INDEX ON bench_flow_card (insurer_id, qualification_id);
\endif
