-- Insurer isolation: as insurer A, every route to insurer B's rows fails or
-- returns nothing; without the number-handling right, no route reaches a
-- ciphertext, blind index or agency code.  Each attempt fails the test if
-- access succeeds.  (COPY and pg_dump run as a role: test/suites/routes.sh.)
\ir ../helpers/tap_prelude.sql
SELECT plan(46);


-- two insurers with members; a third served together with A by one role
SELECT register_insurer('01130012', 'tap A', 'kyokai_kenpo') AS a \gset
SELECT register_insurer('39131156', 'tap B', 'koki_koreisha') AS b \gset
SELECT register_insurer('131011', 'tap C', 'shichoson_kokuho') AS c \gset
CREATE TEMP TABLE ids AS SELECT :a AS a, :b AS b, :c AS c;
GRANT SELECT ON ids TO PUBLIC;
INSERT INTO qualification (insurer_id, qualification_id, insured_branch_number, link_number, my_number, my_number_bi,
                           name_on_card, birth_date, card_symbol, card_number, card_branch, acquired_on, insured_or_dependent)
SELECT ins, nextval('qualification_id_seq'), oracle.valid('insured_branch_number')::insured_branch_number,
       oracle.valid('link_number')::link_number,
       protect(n::my_number, (SELECT insurer_number FROM insurer WHERE insurer_id = ins), 'qualification.my_number'),
       blind_index_of(n::my_number),
       CASE ins WHEN :a THEN 'Aさん' || i WHEN :b THEN 'Bさん' || i ELSE 'Cさん' || i END,
       date '1980-01-01' + i, 'S' || ins, (1000 + i)::text, '00', date '2020-04-01', 1
FROM (SELECT ins, i, oracle.valid('my_number') AS n
      FROM unnest(ARRAY[:a, :b, :c]) ins, generate_series(1, 5) i) s;
INSERT INTO provision_log (insurer_id, provision_id, direction, agency_code, processing_serial, office_work_name,
                           procedure_name, inquirer_department, provider_department, requested_at, item_name)
SELECT ins, nextval('provision_id_seq'), 'provision', protect_code('CODE-' || ins, NULL, 'provision_log.agency_code'),
       'P1', '事務', '手続', '照会部署', '提供部署', now(), '医療保険給付関係情報'
FROM unnest(ARRAY[:a, :b]) ins;

CREATE ROLE tap_ins_a NOLOGIN IN ROLE onshikaku_insurer;
CREATE ROLE tap_handler_a NOLOGIN IN ROLE onshikaku_insurer, onshikaku_number_handler;
CREATE ROLE tap_kokuhoren NOLOGIN IN ROLE onshikaku_insurer;
\o /dev/null
SELECT grant_insurer('tap_ins_a', :a), grant_insurer('tap_handler_a', :a),
       grant_insurer('tap_kokuhoren', :a), grant_insurer('tap_kokuhoren', :c);
\o
CREATE TEMP TABLE leaked (v text);
GRANT INSERT, SELECT ON leaked TO PUBLIC;
CREATE FUNCTION pg_temp.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS
    $$ BEGIN INSERT INTO leaked VALUES ($1); RETURN true; END $$;
GRANT EXECUTE ON FUNCTION pg_temp.leak(text) TO PUBLIC;
CREATE FUNCTION pg_temp.leak2(text, text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS
    $$ BEGIN INSERT INTO leaked VALUES ($1); RETURN true; END $$;
GRANT EXECUTE ON FUNCTION pg_temp.leak2(text, text) TO PUBLIC;
CREATE OPERATOR pg_temp.<<< (LEFTARG = text, RIGHTARG = text, FUNCTION = pg_temp.leak2);
PREPARE by_insurer(integer) AS SELECT count(*) FROM onshikaku.qualification WHERE insurer_id = $1;

-- ---- the catalog: every partition secured, none reachable directly ----------------------
SELECT is((SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent IN (SELECT relid FROM per_insurer_table)
             AND c.relname ~ ('_(' || :a || '|' || :b || ')$')), 16::bigint,
          '協会けんぽ and 後期広域: a partition of every table but the welfare vouchers');
SELECT is((SELECT array_agg(p.short_name ORDER BY p.create_order) FROM per_insurer_table p
           WHERE to_regclass('onshikaku.' || p.short_name || '_' || :c) IS NOT NULL),
          ARRAY['qualification', 'card', 'agency_code_link', 'registration_zone', 'card_branch_issue'],
          '市町村国保: no 副本, no provision log, no identity checks, no vouchers (capability matrix)');
SELECT is((SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent IN (SELECT relid FROM per_insurer_table)
             AND NOT (c.relrowsecurity AND c.relforcerowsecurity
                      AND EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid))), 0::bigint,
          'row-level security is enabled, forced and has a policy on every partition');
SELECT is((SELECT count(*) FROM pg_class WHERE oid IN (SELECT relid FROM per_insurer_table)
           AND NOT (relrowsecurity AND relforcerowsecurity)), 0::bigint, 'and on every parent');
SELECT is((SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid,
                  LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) x
           WHERE i.inhparent IN (SELECT relid FROM per_insurer_table) AND x.grantee <> c.relowner), 0::bigint,
          'no role but the owner holds any privilege on a partition');
SELECT is((SELECT count(*) FROM information_schema.column_privileges
           WHERE table_schema = 'onshikaku' AND grantee IN ('onshikaku_insurer', 'PUBLIC')
             AND (table_name, column_name) IN (SELECT c.relname, cc.column_name::text FROM column_class cc
                                                JOIN pg_class c ON c.oid = cc.relid WHERE cc.class = 'personal_number')),
          0::bigint, 'insurer roles hold no privilege on any personal-number column');

-- ---- as insurer A -----------------------------------------------------------------------
SET ROLE tap_ins_a;
SELECT is((SELECT count(*) FROM onshikaku.qualification), 5::bigint, 'A sees its 5 rows through the parent');
SELECT is((SELECT count(*) FROM onshikaku.qualification WHERE insurer_id = (SELECT b FROM ids)), 0::bigint,
          'asking for B by insurer_id returns nothing');
SELECT is((SELECT count(*) FROM onshikaku.qualification WHERE name_on_card LIKE 'Bさん%'), 0::bigint,
          'asking for B by content returns nothing');
SELECT is(pg_temp.state_of(format('SELECT count(*) FROM onshikaku.%I', 'qualification_' || (SELECT b FROM ids))),
          '42501', 'B''s partition by name is refused');
SELECT is(pg_temp.state_of(format('SELECT count(*) FROM onshikaku.%I', 'qualification_' || (SELECT a FROM ids))),
          '42501', 'even A''s own partition by name is refused (only the parent is a route)');
CREATE TEMP VIEW a_view AS SELECT insurer_id, name_on_card FROM onshikaku.qualification;
SELECT is((SELECT count(*) FROM a_view WHERE name_on_card NOT LIKE 'Aさん%'), 0::bigint, 'a view of A''s returns only A''s rows');
CREATE FUNCTION pg_temp.count_all() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS
    $$ SELECT count(*) FROM onshikaku.qualification $$;
SELECT is(pg_temp.count_all(), 5::bigint, 'a SECURITY DEFINER function of A''s counts only A''s rows');
SELECT is((SELECT count(*) FROM onshikaku.qualification q WHERE pg_temp.leak(q.name_on_card)), 5::bigint,
          'a planted leaky function in WHERE sees 5 rows');
SELECT is((SELECT count(*) FROM leaked WHERE v NOT LIKE 'Aさん%'), 0::bigint, 'and none of them is B''s or C''s');
SELECT is((SELECT count(*) FROM onshikaku.qualification q WHERE q.name_on_card OPERATOR(pg_temp.<<<) 'x'), 5::bigint,
          'a planted leaky operator sees 5 rows');
SELECT is((SELECT count(*) FROM leaked WHERE v NOT LIKE 'Aさん%'), 0::bigint, 'and none of them is B''s or C''s');
SELECT results_eq('EXECUTE by_insurer(' || (SELECT b FROM ids) || ')', ARRAY[0::bigint], 'a prepared statement for B returns nothing');
CREATE FUNCTION pg_temp.cursor_count() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE c CURSOR FOR SELECT name_on_card FROM onshikaku.qualification; n bigint := 0; r record;
BEGIN
    OPEN c;
    LOOP FETCH c INTO r; EXIT WHEN NOT FOUND; IF r.name_on_card NOT LIKE 'Aさん%' THEN n := -1000; END IF; n := n + 1; END LOOP;
    CLOSE c;
    RETURN n;
END $$;
SELECT is(pg_temp.cursor_count(), 5::bigint, 'a cursor fetches only A''s rows');
SELECT is(pg_temp.state_of('SELECT my_number FROM onshikaku.qualification'), '42501', 'A cannot read the ciphertexts');
SELECT is(pg_temp.state_of('SELECT my_number_bi FROM onshikaku.qualification'), '42501', 'nor the blind indexes');
SELECT is(pg_temp.state_of('SELECT * FROM onshikaku.qualification'), '42501', 'nor SELECT * (it includes them)');
SELECT is(pg_temp.state_of('SELECT count(*) FROM onshikaku.qualification q WHERE pg_temp.leak(q.my_number::text)'), '42501',
          'nor pass them to a planted function');
SELECT is(pg_temp.state_of('SELECT agency_code FROM onshikaku.provision_log'), '42501', 'nor read agency codes in the provision log');
CREATE TEMP VIEW numbers_view AS SELECT my_number, my_number_bi FROM onshikaku.qualification;
SELECT is(pg_temp.state_of('SELECT count(*) FROM numbers_view'), '42501', 'nor through a view of its own making');
SELECT is(pg_temp.state_of($q$DO $d$ DECLARE c CURSOR FOR SELECT my_number_bi FROM onshikaku.qualification; r record;
                             BEGIN OPEN c; FETCH c INTO r; CLOSE c; END $d$ $q$), '42501', 'nor through a cursor');
PREPARE numbers_stmt AS SELECT my_number FROM onshikaku.qualification;
SELECT is(pg_temp.state_of('EXECUTE numbers_stmt'), '42501', 'nor through a prepared statement');
DEALLOCATE numbers_stmt;
SELECT is(pg_temp.state_of('SELECT count(*) FROM onshikaku.agency_code'), '42501', 'nor the agency code file');
SELECT is(pg_temp.state_of('SELECT count(*) FROM onshikaku.person'), '42501', 'nor the national person table');
SELECT is(pg_temp.state_of($$INSERT INTO onshikaku.qualification (insurer_id, qualification_id, insured_branch_number,
          link_number, birth_date, card_number, card_branch, acquired_on, insured_or_dependent)
          VALUES (1, 1, '1234567890123452', '1234567890123452', '2000-01-01', '1', '00', '2020-01-01', 1)$$), '42501',
          'nor write directly (writes go through the flows)');
CREATE TEMP TABLE plan_text AS SELECT 1 AS x WHERE false;
RESET ROLE;

-- runtime pruning: a statement of A's touches A's partition only
SET ROLE tap_ins_a;
CREATE FUNCTION pg_temp.scanned_partitions() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE line text; n bigint := 0;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM onshikaku.qualification' LOOP
        IF line ~ 'Scan.* on qualification_[0-9]+' AND line !~ 'never executed' THEN n := n + 1; END IF;
    END LOOP;
    RETURN n;
END $$;
SELECT is(pg_temp.scanned_partitions(), 1::bigint, 'the isolation predicate prunes to A''s partition');
RESET ROLE;

-- ---- a role serving two insurers, and the number-handling right ---------------------------
SET ROLE tap_kokuhoren;
SELECT is(pg_temp.state_of('SELECT count(*) FROM onshikaku.qualification'), '55000',
          'a 国保連 role mapped to A and C must choose which it acts for');
SET LOCAL onshikaku.acting_insurer = :a;
SELECT is((SELECT count(*) FROM onshikaku.qualification WHERE name_on_card LIKE 'Aさん%'), 5::bigint, 'acting for A it sees A');
SET LOCAL onshikaku.acting_insurer = :c;
SELECT is((SELECT count(*) FROM onshikaku.qualification WHERE name_on_card LIKE 'Cさん%'), 5::bigint, 'acting for C it sees C');
SET LOCAL onshikaku.acting_insurer = :b;
SELECT is(pg_temp.state_of('SELECT count(*) FROM onshikaku.qualification'), '42501', 'it cannot act for B');
SET LOCAL onshikaku.acting_insurer = 0;
RESET ROLE;
SET ROLE tap_ins_a;
SET LOCAL onshikaku.acting_insurer = :b;
SELECT is(pg_temp.state_of('SELECT count(*) FROM onshikaku.qualification'), '42501', 'nor can A claim to act for B');
SET LOCAL onshikaku.acting_insurer = 0;
RESET ROLE;
SET ROLE tap_handler_a;
SELECT is((SELECT count(my_number) FROM onshikaku.qualification), 5::bigint,
          'with the number-handling right A reads its own ciphertexts');
SELECT is((SELECT count(*) FROM onshikaku.qualification WHERE insurer_id <> (SELECT a FROM ids)), 0::bigint,
          'and still nothing of B''s or C''s');
SELECT is(pg_temp.state_of('SELECT count(*) FROM onshikaku.agency_code'), '42501', 'the agency code file stays closed');
RESET ROLE;
SET ROLE onshikaku_admin;
SELECT is(pg_temp.state_of('SELECT count(*) FROM onshikaku.qualification'), '42501', 'the operator cannot read the qualification rows');
SELECT is(pg_temp.state_of('SELECT my_number FROM onshikaku.qualification'), '42501', 'and reads no ciphertext');
RESET ROLE;

-- ---- the direct card lookup keeps the same guarantees ------------------------------------
SET ROLE tap_ins_a;
SELECT is((SELECT name_on_card FROM onshikaku.find_by_card((SELECT a FROM ids), 'S' || (SELECT a FROM ids), '1001', '00')),
          'Aさん1', 'find_by_card finds A''s card for A');
SELECT is((SELECT count(*) FROM onshikaku.find_by_card((SELECT b FROM ids), 'S' || (SELECT b FROM ids), '1001', '00')),
          0::bigint, 'and returns nothing of B''s, like the parent');
RESET ROLE;
CREATE ROLE tap_no_columns NOLOGIN;
GRANT EXECUTE ON FUNCTION onshikaku.find_by_card(integer, text, text, onshikaku.card_branch_number) TO tap_no_columns;
SELECT grant_insurer('tap_no_columns', :a) IS NULL AS mapped \gset
SET ROLE tap_no_columns;
SELECT is(pg_temp.state_of(format('SELECT * FROM onshikaku.find_by_card(%s, %L, %L, %L)', :a, 'S' || :a, '1001', '00')),
          '42501', 'a role without SELECT on those columns is refused even if it may execute it');
RESET ROLE;

-- ---- removing an insurer ------------------------------------------------------------------
SELECT is(pg_temp.state_of(format('SELECT onshikaku.remove_insurer(%s)', :b)), '55000',
          'an insurer whose data is still held cannot be removed');
SELECT lives_ok(format('SELECT onshikaku.remove_insurer(%s)', register_insurer('271007', 'tap D', 'kokuho_kumiai')),
                'an insurer without data can');

SELECT * FROM finish();
ROLLBACK;
