-- Retention rules at their boundaries, holds, deletion records and key
-- destruction, one batch at a time (onshikaku.purge_batch: the procedure
-- purge_expired() commits, so it is tested by test/suites/retention.sh).
\ir ../helpers/tap_prelude.sql
SELECT plan(52);

SELECT register_insurer('01130012', 'tap 協会けんぽ', 'kyokai_kenpo') AS a \gset
SELECT register_insurer('39131156', 'tap 後期広域', 'koki_koreisha') AS b \gset
CREATE TEMP TABLE nums AS SELECT i, oracle.valid('my_number') AS n FROM generate_series(1, 30) i;
GRANT SELECT ON nums TO PUBLIC;
CREATE FUNCTION pg_temp.mn(integer) RETURNS onshikaku.my_number LANGUAGE sql AS $$ SELECT n::onshikaku.my_number FROM nums WHERE i = $1 $$;

-- what one class of one insurer would lose as of a day (a dry-run batch)
CREATE FUNCTION pg_temp.would_purge(data_class text, insurer integer, as_of date) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE run bigint; n bigint;
BEGIN
    INSERT INTO onshikaku.purge_run (as_of, dry_run) VALUES (as_of, true) RETURNING run_id INTO run;
    PERFORM onshikaku.purge_batch(run, data_class, insurer, as_of, true, 100000, '1s', NULL);
    SELECT coalesce(sum(row_count), 0) INTO n FROM onshikaku.purge_report r WHERE r.run_id = run AND r.data_class = $1;
    RETURN n;
END $$;
CREATE FUNCTION pg_temp.purge(data_class text, insurer integer, as_of date) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE run bigint; n bigint;
BEGIN
    INSERT INTO onshikaku.purge_run (as_of, dry_run) VALUES (as_of, false) RETURNING run_id INTO run;
    PERFORM onshikaku.purge_batch(run, data_class, insurer, as_of, false, 100000, '1s', NULL);
    SELECT coalesce(sum(row_count), 0) INTO n FROM onshikaku.purge_report r WHERE r.run_id = run AND r.data_class = $1;
    RETURN n;
END $$;

-- people lost on 2019-04-01, on a Feb 29 (2020) and on a month end (2019-01-31)
SELECT (enroll_member(:a, pg_temp.mn(1), '1', '2010-04-01', '1970-01-01', lost_on => '2019-04-01', loss_reason => 1::smallint)).qualification_id AS q1 \gset
SELECT (enroll_member(:b, pg_temp.mn(2), '2', '2010-04-01', '1940-01-01', lost_on => '2020-02-29', loss_reason => 1::smallint)).qualification_id AS q2 \gset
SELECT (enroll_member(:b, pg_temp.mn(3), '3', '2010-04-01', '1940-01-01', lost_on => '2019-01-31', loss_reason => 1::smallint)).qualification_id AS q3 \gset

-- ---- the 5-year rule of the qualification history, at its boundary ---------------------------
SELECT is(pg_temp.would_purge('qualification', :a, '2024-03-31'), 0::bigint, 'lost 2019-04-01: kept the day before D + 5 years');
SELECT is(pg_temp.would_purge('qualification', :a, '2024-04-01'), 0::bigint, '... kept on D + 5 years itself (the last day)');
SELECT is(pg_temp.would_purge('qualification', :a, '2024-04-02'), 1::bigint, '... purgeable the day after');
SELECT is(pg_temp.would_purge('qualification', :b, '2025-02-28'), 1::bigint,
          'lost 2019-01-31 purgeable, lost 2020-02-29 kept on 2025-02-28 (Feb 29 + 5 years = Feb 28, the last day)');
SELECT is(pg_temp.would_purge('qualification', :b, '2025-03-01'), 2::bigint, '... both on 2025-03-01');
SELECT is(pg_temp.would_purge('qualification', :b, '2024-01-31'), 0::bigint, 'lost on a month end (2019-01-31): kept on 2024-01-31');
SELECT is(pg_temp.would_purge('qualification', :b, '2024-02-01'), 1::bigint, '... purgeable on 2024-02-01');
SELECT set_retention_period('qualification', '5 years', '6 years') AS x \gset
SELECT is(pg_temp.would_purge('qualification', :a, '2024-04-02'), 0::bigint, 'a longer OQS need period (6 years) keeps it: both must pass');
SELECT is(pg_temp.would_purge('qualification', :a, '2025-04-02'), 1::bigint, '... until both have passed');
SELECT set_retention_period('qualification', '5 years', '5 years') AS x \gset

-- ---- a person still (or again) qualified is never purged ------------------------------------------
SELECT (enroll_member(:a, pg_temp.mn(4), '4', '2010-04-01', '1970-01-01', lost_on => '2012-04-01', loss_reason => 1::smallint)).qualification_id AS q4 \gset
SELECT (enroll_member(:a, pg_temp.mn(4), '4', '2015-04-01', '1970-01-01')).qualification_id AS q4b \gset
SELECT is(pg_temp.would_purge('qualification', :a, '2030-01-01'), 1::bigint,
          'a person re-enrolled (an open qualification) keeps even the old row; only the 2019 person goes');

-- ---- holds --------------------------------------------------------------------------------------------
SELECT place_hold('訴訟 2026-001', my_number => (SELECT n FROM nums WHERE i = 1)) AS h1 \gset
SELECT is(pg_temp.would_purge('qualification', :a, '2030-01-01'), 0::bigint, 'a hold on the person keeps the rows');
SELECT is((SELECT count(*) FROM retention_holds WHERE active AND one_person), 1::bigint, 'holds are listed (without the blind index)');
SELECT lift_hold(:h1, '判決確定') AS x \gset
SELECT is(pg_temp.would_purge('qualification', :a, '2030-01-01'), 1::bigint, 'lifted: purgeable again');
SELECT place_hold('監査', insurer_id => :a) AS h2 \gset
SELECT is(pg_temp.would_purge('qualification', :a, '2030-01-01'), 0::bigint, 'a hold on the insurer keeps its rows');
SELECT is(pg_temp.would_purge('qualification', :b, '2030-01-01'), 2::bigint, '... and not another insurer''s');
SELECT lift_hold(:h2, '監査終了') AS x \gset
SELECT place_hold('調査', data_class => 'qualification') AS h3 \gset
SELECT is(pg_temp.would_purge('qualification', :b, '2030-01-01'), 0::bigint, 'a hold on the class keeps every insurer''s');
SELECT lift_hold(:h3, '調査終了') AS x \gset
SELECT is(pg_temp.state_of('SELECT onshikaku.place_hold('''')'), '22023', 'a hold needs a reason and a scope');
SELECT is(pg_temp.state_of('SELECT onshikaku.lift_hold(' || :h3 || ', ''again'')'), 'P0002', 'a lifted hold cannot be lifted again');

-- ---- the provision log: 7 years, judged by the day in Japan ------------------------------------------
-- 2017-03-31 15:30 UTC is 2017-04-01 00:30 in Japan: the event day is 2017-04-01
INSERT INTO provision_log (insurer_id, provision_id, direction, agency_code, processing_serial, office_work_name,
                           procedure_name, inquirer_department, provider_department, requested_at, provided_at, item_name)
VALUES (:a, nextval('provision_id_seq'), 'provision', NULL, 'P1', '事務', '手続', '照会', '提供',
        '2017-03-31 15:30+00', '2017-03-31 15:30+00', '医療保険給付関係情報');
SET TIME ZONE 'America/Los_Angeles';   -- far from Japan
SELECT is(pg_temp.would_purge('provision_log', :a, '2024-04-01'), 0::bigint,
          'provided 2017-04-01 (Japan): kept on 2024-04-01, whatever the session''s time zone');
SELECT is(pg_temp.would_purge('provision_log', :a, '2024-04-02'), 1::bigint, '... purgeable on 2024-04-02');
RESET TIME ZONE;
SELECT is(pg_temp.purge('provision_log', :a, '2024-04-02'), 1::bigint, 'the append-only provision log yields to the purge only');
INSERT INTO provision_log (insurer_id, provision_id, direction, processing_serial, office_work_name, procedure_name,
                           inquirer_department, provider_department, requested_at, item_name)
VALUES (:a, nextval('provision_id_seq'), 'inquiry', 'P2', '事務', '手続', '照会', '提供', now(), '年金情報');
SELECT is(pg_temp.state_of(format('DELETE FROM onshikaku.provision_log WHERE insurer_id = %s', :a)), '42501',
          '... and stays append-only otherwise');

-- ---- identity checks: never older than a year ---------------------------------------------------------
INSERT INTO identity_check (insurer_id, check_id, request_kind, requested_at)
VALUES (:a, nextval('check_id_seq'), 'basic4', '2023-05-10 12:00+09');
SELECT is(pg_temp.would_purge('identity_check', :a, '2024-05-10'), 0::bigint, 'an undelivered check of 2023-05-10: kept on 2024-05-10');
SELECT is(pg_temp.would_purge('identity_check', :a, '2024-05-11'), 1::bigint, '... gone on 2024-05-11');

-- ---- dry run and real run agree; what is purged goes with its national data ----------------------------
CREATE TEMP TABLE qualification_copy AS   -- what an old dump would hold
SELECT my_number FROM qualification WHERE insurer_id = :b AND lost_on = '2020-02-29';
SELECT pg_temp.would_purge('qualification', :b, '2030-01-01') AS dry \gset
SELECT is(pg_temp.purge('qualification', :b, '2030-01-01'), :dry::bigint, 'the real run removes what the dry run counted');
SELECT is((SELECT count(*) FROM qualification WHERE insurer_id = :b), 0::bigint, '... the qualification rows');
SELECT is((SELECT count(*) FROM card WHERE insurer_id = :b), 0::bigint, '... their cards');
SELECT is((SELECT count(*) FROM registration_zone WHERE insurer_id = :b), 0::bigint, '... the registrations');
SELECT is((SELECT count(*) FROM person WHERE my_number_bi IN (blind_index_of(pg_temp.mn(2)), blind_index_of(pg_temp.mn(3)))),
          0::bigint, '... and, held by no other insurer, the people (link number, blind index)');
SELECT is((SELECT count(*) FROM card_branch_issue WHERE insurer_id = :b AND link_number IS NULL), 2::bigint,
          'the card 枝番 stay taken, without the person');

-- ---- national data: agency code and PMH-ID log follow the person's last insurer ------------------------
SELECT (enroll_member(:a, pg_temp.mn(10), '10', '2010-04-01', '1970-01-01', lost_on => '2018-04-01', loss_reason => 1::smallint)).insured_branch_number AS ibn10 \gset
SELECT (enroll_member(:b, pg_temp.mn(10), '10', '2018-04-01', '1970-01-01', lost_on => '2019-04-01', loss_reason => 1::smallint)).qualification_id AS q10b \gset
SELECT record_agency_code(:a, :'ibn10', 'AGENCY-10') AS x \gset
CREATE ROLE tap_pmh NOLOGIN IN ROLE onshikaku_pmh_gateway;
SET ROLE tap_pmh;
SELECT (issue_pmh_id((SELECT n FROM nums WHERE i = 10))).outcome AS pmh \gset
RESET ROLE;
SELECT is(pg_temp.purge('qualification', :a, '2024-01-01'), 1::bigint, 'insurer a''s rows of a person (lost 2018) go in 2024');
SELECT is((SELECT count(*) FROM agency_code a JOIN person p USING (link_number) WHERE p.my_number_bi = blind_index_of(pg_temp.mn(10))),
          1::bigint, '... but the agency code stays: insurer b still holds the person (lost 2019)');
SELECT set_retention_period('agency_code', '5 years', '7 years') AS x \gset
SELECT is(pg_temp.purge('qualification', :b, '2024-04-02'), 1::bigint, 'insurer b''s rows go on 2024-04-02');
SELECT is((SELECT count(*) FROM agency_code a JOIN person p USING (link_number) WHERE p.my_number_bi = blind_index_of(pg_temp.mn(10))),
          1::bigint, 'the agency code waits for its own, longer OQS need period (7 years)');
SELECT is((SELECT count(*) FROM pmh_issuance_log l JOIN person p USING (link_number) WHERE p.my_number_bi = blind_index_of(pg_temp.mn(10))),
          0::bigint, 'the PMH-ID log (5 years after the last loss) is gone');
SELECT set_retention_period('agency_code', '5 years', '5 years') AS x \gset

-- ---- prospective members who never joined, on request ------------------------------------------------
SELECT new_insured_branch_number() AS pibn, new_link_number() AS plink \gset
INSERT INTO registration_zone (insurer_id, insured_branch_number, my_number_bi, link_number, prospective)
VALUES (:a, :'pibn', blind_index_of(pg_temp.mn(11)), :'plink', true);
CREATE ROLE tap_insurer NOLOGIN IN ROLE onshikaku_insurer;
SELECT grant_insurer('tap_insurer', :a) AS x \gset
SELECT is(pg_temp.would_purge('registration_zone', :a, today_in_japan() + 1), 0::bigint, 'a prospective member stays until asked');
SET ROLE tap_insurer;
SELECT request_removal(:a, :'pibn') AS x \gset
RESET ROLE;
SELECT is(pg_temp.would_purge('registration_zone', :a, today_in_japan()), 0::bigint, '... asked today: removed by tomorrow''s purge');
SELECT is(pg_temp.purge('registration_zone', :a, today_in_japan() + 1), 1::bigint, '... and it is');

-- ---- deletion records ----------------------------------------------------------------------------------
SELECT is((SELECT (data_class, insurer_id, row_count, event_from, event_to)::text FROM deletion_record
           WHERE insurer_id = :b AND data_class = 'qualification' AND event_from = '2019-01-31'),
          format('(qualification,%s,2,2019-01-31,2020-02-29)', :b), 'a deletion record: class, insurer, how many, the event range');
SELECT is((SELECT count(*) FROM pg_attribute a WHERE a.attrelid = 'onshikaku.deletion_record'::regclass AND a.attnum > 0
           AND a.atttypid IN ('encrypted'::regtype, 'blind_index'::regtype, 'link_number'::regtype,
                              'insured_branch_number'::regtype, 'pmh_id'::regtype)), 0::bigint,
          'deletion records have no column for a personal number or a person key');
CREATE ROLE tap_clerk NOLOGIN IN ROLE onshikaku_insurer;
GRANT UPDATE, DELETE ON onshikaku.deletion_record TO tap_clerk;   -- even with table privileges
SET SESSION AUTHORIZATION tap_clerk;
SELECT is(pg_temp.state_of('UPDATE onshikaku.deletion_record SET row_count = 0'), '42501', 'no one but the operator alters a deletion record');
SELECT is(pg_temp.state_of('DELETE FROM onshikaku.deletion_record'), '42501', '... or removes one');
RESET SESSION AUTHORIZATION;

-- ---- keys destroyed with the data ----------------------------------------------------------------------
SELECT is((SELECT state FROM data_key WHERE insurer = '39131156' AND cohort = 2020), 'active',
          'the 2020 cohort key of insurer b is still there after the rows (destroyed by the procedure)');
SELECT is((SELECT state FROM data_key WHERE insurer = '01130012' AND cohort = 2019), 'active', 'insurer a''s 2019 cohort key too');
INSERT INTO purge_run (as_of, dry_run) VALUES ('2030-01-01', false) RETURNING run_id AS r \gset
SELECT destroy_spent_keys(:r) AS destroyed \gset
SELECT is((SELECT array_agg(d.insurer::text || '/' || d.cohort ORDER BY d.insurer::text, d.cohort)
           FROM data_key d WHERE d.key_id = ANY (:'destroyed'::integer[])),
          ARRAY['01130012/2018', '39131156/2019', '39131156/2020'],
          'destroy_spent_keys(): the cohort keys nothing is left under (a 2018, b 2019 and 2020)');
SELECT is((SELECT state FROM data_key WHERE insurer = '01130012' AND cohort = 2019), 'active',
          'a key that still protects a row is kept');
SELECT is(pg_temp.state_of(format('SELECT reveal(%L::encrypted, ''39131156'', ''qualification.my_number'', ''x'', ''x'')',
                                  (SELECT my_number::text FROM qualification_copy))), '55000',
          'a ciphertext kept from before the purge no longer decrypts (its key is destroyed)');

-- ---- pacing ------------------------------------------------------------------------------------
-- after a batch of 200 ms, duty 0.5 pauses 200 ms, duty 0.8 50 ms, duty 1 not at all
CREATE FUNCTION pg_temp.pause_ms(took interval, duty real) RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    PERFORM onshikaku.purge_pause(clock_timestamp() - took, duty);
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
SELECT ok(pg_temp.pause_ms('200 ms', 0.5) BETWEEN 195 AND 1000, 'pacing: duty 0.5 pauses as long as the batch took');
SELECT ok(pg_temp.pause_ms('200 ms', 0.8) BETWEEN 45 AND 190, 'pacing: duty 0.8 pauses a quarter of it');
SELECT ok(pg_temp.pause_ms('200 ms', 1) < 20, 'pacing: duty 1 does not pause');

SELECT ok(NOT has_column_privilege('onshikaku_auditor', 'onshikaku.purge_run', 'resume_key', 'SELECT'),
          'the auditor cannot read where an unfinished run stopped (a person''s 被保険者枝番 or 紐付番号)');
SELECT ok(has_column_privilege('onshikaku_auditor', 'onshikaku.purge_run', 'status', 'SELECT')
          AND has_column_privilege('onshikaku_auditor', 'onshikaku.purge_run', 'resume_insurer', 'SELECT'),
          '... and reads the rest of the run');

SELECT * FROM finish();
ROLLBACK;
