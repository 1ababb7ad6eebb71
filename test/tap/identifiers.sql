-- Properties of the identifier types: catalog shape, round trips of
-- thousands of generated values against an independent SQL oracle, the
-- never-raising checks, errors that never carry digits, privileges.
\ir ../helpers/tap_prelude.sql
SELECT setseed(0.4242);

CREATE TEMP TABLE kinds (kind text PRIMARY KEY, len int2, byval bool);
INSERT INTO kinds VALUES
    ('my_number', 8, true), ('insurer_number', 8, true), ('public_payer_number', 8, true),
    ('recipient_number', 8, true), ('institution_code', 8, true), ('card_branch_number', 2, true),
    ('insured_branch_number', 8, true), ('link_number', 8, true), ('pmh_id', 8, true);

SELECT plan(9 * 12 + 16);

-- catalog: type, storage, casts, operator classes, leakproof comparisons
SELECT has_type('onshikaku', kind, 'type ' || kind || ' exists') FROM kinds ORDER BY kind;
SELECT is((SELECT (typlen, typbyval)::text FROM pg_type WHERE oid = ('onshikaku.' || kind)::regtype),
          (len, byval)::text, kind || ' is pass-by-value, ' || len || ' bytes') FROM kinds ORDER BY kind;
SELECT has_cast('text', kind, 'onshikaku', kind, 'cast text -> ' || kind) FROM kinds ORDER BY kind;
SELECT has_cast(kind, 'text', 'onshikaku', 'to_text', 'cast ' || kind || ' -> text') FROM kinds ORDER BY kind;
SELECT is((SELECT array_agg(DISTINCT am.amname ORDER BY am.amname)::text
           FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod
           WHERE oc.opcintype = ('onshikaku.' || kind)::regtype AND oc.opcdefault),
          '{btree,hash}', kind || ' has default btree and hash operator classes') FROM kinds ORDER BY kind;
SELECT is((SELECT bool_and(p.proleakproof)
           FROM pg_opclass oc
           JOIN pg_amop ao ON ao.amopfamily = oc.opcfamily
           JOIN pg_operator o ON o.oid = ao.amopopr
           JOIN pg_proc p ON p.oid = o.oprcode
           WHERE oc.opcintype = ('onshikaku.' || kind)::regtype), true,
          kind || ': every operator of its operator classes is leakproof') FROM kinds ORDER BY kind;

-- round trips: generated valid values parse, print canonically, and agree with is_valid
CREATE TEMP TABLE generated AS
    SELECT kind, oracle.valid(kind) AS t FROM kinds, generate_series(1, 1500);
CREATE FUNCTION pg_temp.roundtrip(kind text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format($q$SELECT count(*) FROM generated
                     WHERE kind = %1$L
                       AND %3$s = oracle.canonical(kind, t)
                       AND onshikaku.%2$I(t)$q$, kind, kind || '_is_valid',
                   CASE WHEN kind = 'my_number' THEN 'onshikaku.my_number_digits(t::onshikaku.my_number)'
                        ELSE format('(t::onshikaku.%I)::text', kind) END) INTO n;
    RETURN n;
END $$;
SELECT is(pg_temp.roundtrip(kind), 1500::bigint,
          kind || ': 1500 generated values round-trip through text and are valid') FROM kinds ORDER BY kind;

-- binary I/O: COPY BINARY out and back in, for every type but my_number
CREATE TEMP TABLE bin (kind text, i int, v_insurer insurer_number, v_payer public_payer_number,
    v_recipient recipient_number, v_institution institution_code, v_branch card_branch_number,
    v_insured insured_branch_number, v_link link_number, v_pmh pmh_id);
INSERT INTO bin (i, v_insurer, v_payer, v_recipient, v_institution, v_branch, v_insured, v_link, v_pmh)
SELECT i, oracle.valid('insurer_number')::insurer_number, oracle.valid('public_payer_number')::public_payer_number,
       oracle.valid('recipient_number')::recipient_number, oracle.valid('institution_code')::institution_code,
       oracle.valid('card_branch_number')::card_branch_number, oracle.valid('insured_branch_number')::insured_branch_number,
       oracle.valid('link_number')::link_number, oracle.valid('pmh_id')::pmh_id
FROM generate_series(1, 1000) i;
SELECT current_setting('data_directory') || '/onshikaku_tap_bin.copy' AS copyfile \gset
COPY bin TO :'copyfile' (FORMAT binary);
CREATE TEMP TABLE bin_back (LIKE bin);
COPY bin_back FROM :'copyfile' (FORMAT binary);
SELECT is((SELECT count(*) FROM (TABLE bin EXCEPT TABLE bin_back) d), 0::bigint,
          'binary COPY round trip of 1000 rows of every storable type');
-- my_number: binary receive takes digits; send gives the mask
ALTER EVENT TRIGGER onshikaku_refuse_my_number_storage DISABLE;
CREATE TEMP TABLE mn_text AS SELECT oracle.valid('my_number') AS t FROM generate_series(1, 500);
COPY mn_text TO :'copyfile' (FORMAT binary);
CREATE TEMP TABLE mn (n my_number);
COPY mn FROM :'copyfile' (FORMAT binary);
SELECT is((SELECT count(*) FROM mn JOIN mn_text ON my_number_digits(n) = t), 500::bigint,
          'my_number: 500 values received in binary keep their digits');
SELECT is(my_number_send('123456789018'), convert_to('************', 'UTF8'),
          'my_number: binary send is the mask');
ALTER EVENT TRIGGER onshikaku_refuse_my_number_storage ENABLE;

-- is_valid never raises, and agrees with the cast, over random strings
CREATE TEMP TABLE noise AS SELECT oracle.noise() AS t FROM generate_series(1, 3000);
INSERT INTO noise SELECT left(oracle.valid(kind), -1) || chr(48 + (i % 10)) FROM kinds, generate_series(1, 200) i;
CREATE FUNCTION pg_temp.agree(kind text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format($q$SELECT count(*) FROM noise
                     WHERE onshikaku.%I(t) IS DISTINCT FROM ((oracle.try_cast(%L, t)).state IS NULL)$q$,
                   kind || '_is_valid', kind) INTO n;
    RETURN n;
END $$;
SELECT is(pg_temp.agree(kind), 0::bigint,
          kind || '_is_valid never raises and agrees with the cast on 4800 strings') FROM kinds ORDER BY kind;
SELECT is((SELECT count(*) FROM noise WHERE (oracle.try_cast(kind, t)).state NOT IN ('22P02')), 0::bigint,
          kind || ': every refused string raises 22P02') FROM kinds ORDER BY kind;
CREATE FUNCTION pg_temp.null_in(kind text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE r boolean;
BEGIN
    EXECUTE format('SELECT onshikaku.%I(NULL) IS NULL AND (NULL::text)::onshikaku.%I IS NULL',
                   kind || '_is_valid', kind) INTO r;
    RETURN r;
END $$;
SELECT ok(pg_temp.null_in(kind), kind || ': NULL in, NULL out') FROM kinds ORDER BY kind;

-- ordering and hashing agree with the numeric value
CREATE FUNCTION pg_temp.orders(kind text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE r boolean;
BEGIN
    EXECUTE format($q$
        WITH v AS (SELECT DISTINCT t::onshikaku.%1$I AS x FROM generated WHERE kind = %1$L),
        a AS (SELECT array_agg(x ORDER BY x) AS by_type FROM v),
        b AS (SELECT array_agg(x ORDER BY (%2$s)::numeric) AS by_number FROM v)
        SELECT a.by_type = b.by_number FROM a, b$q$, kind,
        CASE WHEN kind = 'my_number' THEN 'onshikaku.my_number_digits(x)' ELSE 'x::text' END) INTO r;
    RETURN r;
END $$;
SELECT ok(pg_temp.orders(kind), kind || ': btree order is numeric order') FROM kinds ORDER BY kind;
CREATE FUNCTION pg_temp.hashes(kind text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE h bigint; s bigint;
BEGIN
    SET LOCAL enable_sort = off;
    EXECUTE format('SELECT count(*) FROM (SELECT t::onshikaku.%1$I FROM generated WHERE kind = %1$L GROUP BY 1) g', kind) INTO h;
    SET LOCAL enable_sort = on; SET LOCAL enable_hashagg = off;
    EXECUTE format('SELECT count(*) FROM (SELECT t::onshikaku.%1$I FROM generated WHERE kind = %1$L GROUP BY 1) g', kind) INTO s;
    RESET enable_hashagg;
    RETURN h = s;
END $$;
SELECT ok(pg_temp.hashes(kind), kind || ': hash grouping equals sort grouping') FROM kinds ORDER BY kind;
CREATE FUNCTION pg_temp.hash_insurer(t text) RETURNS int LANGUAGE sql AS
    $$ SELECT onshikaku.insurer_number_hash(t::onshikaku.insurer_number) $$;
SELECT ok('131011'::insurer_number = '00131011'::insurer_number
          AND pg_temp.hash_insurer('131011') = pg_temp.hash_insurer('00131011'),
          '6- and 8-digit 国保 forms are equal and hash alike');

-- errors about a bad My Number never carry its digits or the right check digit
CREATE TEMP TABLE bad_numbers AS
SELECT CASE i % 5
         WHEN 0 THEN left(v, 11) || ((right(v, 1)::int + 1 + (i % 9)) % 10)  -- wrong check digit
         WHEN 1 THEN left(v, 11)                                            -- too short
         WHEN 2 THEN v || (i % 10)                                          -- too long
         WHEN 3 THEN overlay(v placing 'x' from 1 + i % 12)                 -- bad character
         ELSE overlay(v placing chr(65296 + i % 10) from 1 + i % 12)        -- full-width digit
       END AS t, v AS original
FROM (SELECT i, oracle.valid('my_number') AS v FROM generate_series(1, 2000) i) s;
CREATE TEMP TABLE bad_errors AS
SELECT t, original, (oracle.try_cast('my_number', t)).* FROM bad_numbers;
SELECT is((SELECT count(*) FROM bad_errors WHERE state = '22P02'), 2000::bigint,
          '2000 bad My Numbers are refused with 22P02');
SELECT is((SELECT count(*) FROM bad_errors b,
                  LATERAL regexp_matches(b.t, '[0-9]{3,}', 'g') AS run(m)
           WHERE position(run.m[1] IN b.message) > 0), 0::bigint,
          'no error message contains a digit run of the bad My Number');
SELECT is((SELECT count(*) FROM bad_errors
           WHERE message ~ '[0-9]' AND message !~ 'expected 12 digits'
             AND message !~ 'at character [0-9]+'), 0::bigint,
          'the only digits in those messages are a position or the expected length');
SELECT is((SELECT count(*) FROM bad_errors WHERE message ~ 'check digit' AND message ~ '[0-9]'), 0::bigint,
          'a check digit error shows no digit at all');

-- the digits of a my_number are for granted roles only
CREATE ROLE onshikaku_tap_nobody NOLOGIN;
SELECT ok(NOT has_function_privilege('onshikaku_tap_nobody', 'onshikaku.my_number_digits(onshikaku.my_number)', 'EXECUTE'),
          'PUBLIC cannot execute my_number_digits');
SET ROLE onshikaku_tap_nobody;
SELECT throws_ok($$SELECT onshikaku.my_number_digits('123456789018')$$, '42501', NULL,
                 'a role without the grant is refused the digits');
SELECT is(('123456789018'::onshikaku.my_number)::text, '************', 'but it may validate and see the mask');
RESET ROLE;

-- a my_number is never stored
SELECT throws_ok($$CREATE TABLE stores (n onshikaku.my_number)$$, '0A000', NULL, 'a table column of my_number is refused');
SELECT throws_ok($$CREATE TEMP TABLE stores AS SELECT '123456789018'::onshikaku.my_number AS n$$, '0A000', NULL,
                 'CREATE TABLE AS with a my_number is refused');
SELECT throws_ok($$CREATE TYPE holds AS (n onshikaku.my_number)$$, '0A000', NULL,
                 'a composite type with a my_number is refused');
SELECT lives_ok($$CREATE TEMP VIEW shows AS SELECT '123456789018'::onshikaku.my_number AS n$$, 'a view may carry one');
CREATE DOMAIN pg_temp.mn_domain AS onshikaku.my_number;
SELECT throws_ok($$CREATE TEMP TABLE stores (n pg_temp.mn_domain)$$, '0A000', NULL, 'a domain over my_number is refused too');

SELECT * FROM finish();
ROLLBACK;
