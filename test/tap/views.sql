-- Views without personal numbers: the OQS feed, the auditor's provision log,
-- the analyst views (suppression, DV exclusion) and the analyst surface:
-- every route an analyst might take to a personal number or a direct
-- identifier fails, and the surface check catches a classified column
-- granted by mistake.
\ir ../helpers/tap_prelude.sql
SELECT plan(51);

SELECT register_insurer('01130012', 'tap 協会けんぽ', 'kyokai_kenpo') AS a \gset
SELECT register_insurer('39131156', 'tap 後期広域', 'koki_koreisha') AS b \gset
CREATE TEMP TABLE nums AS SELECT i, oracle.valid('my_number') AS n FROM generate_series(1, 40) i;
GRANT SELECT ON nums TO PUBLIC;
-- group G: 12 men born 1980 with insurer a since 2024-01-01; group H: 9 women born 1950 with b
SELECT count(*) FROM enroll_members(:a, ARRAY(
    SELECT ROW(n, (100 + i)::text, '2024-01-01', '1980-01-01', 'G', 1, '男性' || i, NULL, 1, '住所' || i, NULL, NULL,
               NULL, NULL, 30, NULL, false)::member_input FROM nums WHERE i <= 12 ORDER BY i)) AS g \gset
SELECT count(*) FROM enroll_members(:b, ARRAY(
    SELECT ROW(n, (200 + i)::text, '2024-01-01', '1950-01-01', NULL, 1, '女性' || i, NULL, 2, NULL, NULL, NULL,
               NULL, NULL, 10, NULL, false)::member_input FROM nums WHERE i BETWEEN 13 AND 21 ORDER BY i)) AS h \gset
-- a 13th man in G, under DV support measures, with a PMH-ID
CREATE TEMP TABLE dv AS
SELECT * FROM enroll_member(:a, (SELECT n FROM nums WHERE i = 22)::my_number, '122', '2024-01-01', '1980-01-01',
                            card_symbol => 'G', sex => 1::smallint, dv_nondisclosure => true);
-- losses: 10 of G in 2025-03 (one group of 10), and PMH-IDs for 11 of G plus the DV person
SELECT count(record_loss(:a, qualification_id, '2025-03-01', 1::smallint)) FROM qualification
 WHERE insurer_id = :a AND card_number::integer BETWEEN 101 AND 110 \gset
CREATE ROLE tap_pmh NOLOGIN IN ROLE onshikaku_pmh_gateway;
SET ROLE tap_pmh;
SELECT count(issue_pmh_id(n)) FROM nums WHERE i <= 11 OR i = 22 \gset
RESET ROLE;
INSERT INTO provision_log (insurer_id, provision_id, direction, agency_code, processing_serial, office_work_name,
                           procedure_name, inquirer_department, provider_department, requested_at, item_name)
VALUES (:a, nextval('provision_id_seq'), 'provision', protect_code('CODE-X', NULL, 'agency_code'), 'P1', '事務', '手続',
        '照会部署', '提供部署', now(), '医療保険給付関係情報');

CREATE ROLE tap_analyst NOLOGIN IN ROLE onshikaku_analyst;
CREATE ROLE tap_oqs NOLOGIN IN ROLE onshikaku_oqs_feed;
CREATE ROLE tap_auditor NOLOGIN IN ROLE onshikaku_auditor;
CREATE ROLE tap_nobody NOLOGIN;
CREATE TEMP TABLE ids AS SELECT :a AS a, :b AS b;
GRANT SELECT ON ids TO PUBLIC;
ANALYZE onshikaku.qualification;   -- so that pg_stats has rows to (not) show

-- ---- analyst views: what they show --------------------------------------------------------
SET ROLE tap_analyst;
SELECT is((SELECT members FROM analyst_membership WHERE month = date_trunc('month', current_date)::date - interval '1 year'
           AND insurer_kind = 'kyokai_kenpo' AND sex = 1),
          NULL::bigint, 'after 10 of the 12 left: 2 members, a group below k, not shown');
SELECT is((SELECT members FROM analyst_membership WHERE month = '2025-01-01' AND insurer_kind = 'kyokai_kenpo'
           AND sex = 1 AND age_band = '40-49' AND prefecture = 13), 12::bigint,
          'a group of 12 is shown (the DV-flagged 13th is not counted)');
SELECT is((SELECT count(*) FROM analyst_membership WHERE insurer_kind = 'koki_koreisha'), 0::bigint,
          'a group of 9 (k - 1) never appears');
SELECT is((SELECT acquisitions FROM analyst_acquisitions_losses WHERE month = '2024-01-01' AND insurer_kind = 'kyokai_kenpo'),
          12::bigint, 'acquisitions of a month: 12 (not 13: the DV person is left out)');
SELECT is((SELECT count(*) FROM analyst_acquisitions_losses WHERE insurer_kind = 'koki_koreisha'), 0::bigint,
          'acquisitions of a group of 9: the row is left out');
SELECT is((SELECT losses FROM analyst_acquisitions_losses WHERE month = '2025-03-01' AND insurer_kind = 'kyokai_kenpo'),
          10::bigint, 'losses of a month: 10 (exactly k)');
SELECT is((SELECT losses FROM analyst_loss_reasons WHERE year = 2025 AND insurer_kind = 'kyokai_kenpo' AND loss_reason = 1),
          10::bigint, 'loss reasons by year');
SELECT is((SELECT certificates FROM analyst_certificates WHERE insurer_kind = 'kyokai_kenpo'), 12::bigint,
          'certificates: 12 (not the DV person''s)');
SELECT is((SELECT sum(issued) FROM analyst_pmh_issuance), 11::numeric, 'PMH-IDs issued: 11 (not the DV person''s)');
RESET ROLE;
SET onshikaku.analyst_min_cell = 13;
SET ROLE tap_analyst;
SELECT is((SELECT count(*) FROM analyst_membership), 0::bigint, 'k raised to 13 by a superuser: the group of 12 disappears');
SELECT is(pg_temp.state_of('SET onshikaku.analyst_min_cell = 2'), '42501', 'an analyst cannot lower k');
RESET ROLE;
RESET onshikaku.analyst_min_cell;
SELECT is((SELECT count(*) FROM pg_attribute a
           WHERE a.attrelid IN ('analyst_membership'::regclass, 'analyst_acquisitions_losses'::regclass,
                                'analyst_loss_reasons'::regclass, 'analyst_certificates'::regclass,
                                'analyst_pmh_issuance'::regclass)
             AND a.attnum > 0
             AND (a.atttypid IN ('encrypted'::regtype, 'blind_index'::regtype, 'link_number'::regtype, 'pmh_id'::regtype,
                                 'insured_branch_number'::regtype, 'date'::regtype)
                  AND a.attname NOT IN ('month'))), 0::bigint,
          'no analyst view has a personal number, a person key or a date other than the month');
SELECT ok((SELECT bool_and(c.reloptions @> '{security_barrier=true}') FROM pg_class c
           WHERE c.relnamespace = 'onshikaku'::regnamespace AND c.relkind = 'v'
             AND (c.relname LIKE 'analyst%' OR c.relname LIKE 'oqs%' OR c.relname = 'provision_log_audit')),
          'every feed, audit and analyst view is a security_barrier view');

-- ---- analyst: every route to personal data fails ---------------------------------------------
SET ROLE tap_analyst;
SELECT is(pg_temp.state_of('SELECT * FROM onshikaku.qualification'), '42501', 'analyst: the qualification table');
SELECT is(pg_temp.state_of(format('SELECT * FROM onshikaku.qualification_%s', :a)), '42501', 'analyst: a partition');
SELECT is(pg_temp.state_of('SELECT count(*) FROM onshikaku.person'), '42501', 'analyst: the person table');
SELECT is(pg_temp.state_of('SELECT count(*) FROM onshikaku.agency_code'), '42501', 'analyst: agency codes');
SELECT is(pg_temp.state_of('SELECT count(*) FROM onshikaku.pmh_issuance_log'), '42501', 'analyst: the PMH-ID log');
SELECT is(pg_temp.state_of('SELECT count(*) FROM onshikaku.provision_log'), '42501', 'analyst: the provision log');
SELECT is(pg_temp.state_of('SELECT count(*) FROM onshikaku.analyst_base'), '42501', 'analyst: the rows behind the views');
SELECT is(pg_temp.state_of('SELECT * FROM onshikaku.oqs_feed'), '42501', 'analyst: the OQS feed');
SELECT is(pg_temp.state_of('SELECT * FROM onshikaku.provision_log_audit'), '42501', 'analyst: the audit view');
-- COPY cannot run inside a function: run it here and read psql's record of the error
\set ON_ERROR_STOP 0
SAVEPOINT before_copy;
COPY onshikaku.qualification TO STDOUT;
ROLLBACK TO before_copy;
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '42501', 'analyst: COPY of a table');
\set ON_ERROR_STOP 0
COPY (SELECT * FROM onshikaku.person) TO STDOUT;
ROLLBACK TO before_copy;
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '42501', 'analyst: COPY of a query');
SELECT is(pg_temp.state_of('DECLARE c CURSOR FOR SELECT my_number_bi FROM onshikaku.person'), '42501', 'analyst: a cursor');
SELECT is(pg_temp.state_of('SELECT onshikaku.blind_index_of(''123456789018'')'), '42501', 'analyst: blind_index_of()');
SELECT is(pg_temp.state_of('SELECT onshikaku.reveal(NULL, NULL, ''x'', ''x'', ''x'')'), '42501', 'analyst: reveal()');
SELECT is(pg_temp.state_of(format('SELECT * FROM onshikaku.find_by_card(%s, ''G'', ''101'', ''00'')', :a)), '42501',
          'analyst: find_by_card()');
SELECT is(pg_temp.state_of('SELECT onshikaku.confirm_qualification(''01130012'', ''G'', ''101'', ''00'', ''1980-01-01'')'), '42501',
          'analyst: confirm_qualification()');
SELECT is(pg_temp.state_of('SELECT onshikaku.confirm_qualification_row(''01130012'', ''G'', ''101'', ''00'', ''1980-01-01'')'), '42501',
          'analyst: confirm_qualification_row()');
SELECT is((SELECT count(*) FROM pg_stats WHERE schemaname = 'onshikaku'), 0::bigint,
          'analyst: pg_stats shows nothing of the extension''s tables (no most-common values, no histograms)');
CREATE TEMP TABLE leaked (v text);
CREATE FUNCTION pg_temp.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS
    $$ BEGIN INSERT INTO leaked VALUES ($1); RETURN true; END $$;
SELECT count(*) AS x FROM analyst_membership WHERE pg_temp.leak(insurer_kind::text || ':' || members) \gset
SELECT is((SELECT count(*) FROM leaked WHERE v NOT LIKE 'kyokai_kenpo:1_'), 0::bigint,
          'analyst: a planted function in a WHERE clause sees only the groups the view shows');
RESET ROLE;

-- ---- the OQS feed and the auditor --------------------------------------------------------------
SET ROLE tap_oqs;
SELECT is((SELECT count(*) FROM oqs_feed WHERE insurer_id IN (:a, :b)), 22::bigint, 'OQS reads the feed of every insurer');
SELECT is((SELECT count(*) FROM oqs_pmh_queue), 12::bigint, 'OQS reads the PMH-ID queue');
SELECT is(ack_oqs_pmh_queue((SELECT max(issuance_id) FROM oqs_pmh_queue)), 12::bigint, 'OQS acknowledges the queue');
SELECT is((SELECT count(*) FROM oqs_pmh_queue), 0::bigint, '... which empties it');
SELECT is(pg_temp.state_of('SELECT * FROM onshikaku.qualification'), '42501', 'OQS: not the tables');
SELECT is(pg_temp.state_of('SELECT * FROM onshikaku.analyst_membership'), '42501', 'OQS: not the analyst views');
SELECT is(pg_temp.state_of('SELECT * FROM onshikaku.provision_log_audit'), '42501', 'OQS: not the audit view');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_attribute a
           WHERE a.attrelid IN ('oqs_feed'::regclass, 'oqs_feed_card'::regclass, 'oqs_feed_medical_voucher'::regclass,
                                'oqs_pmh_queue'::regclass, 'provision_log_audit'::regclass)
             AND a.attnum > 0
             AND (a.atttypid IN ('encrypted'::regtype, 'blind_index'::regtype)
                  OR a.attname IN ('my_number', 'updated_my_number', 'my_number_bi', 'agency_code'))), 0::bigint,
          'the feed and audit views carry no My Number, blind index or agency code');
SET ROLE tap_auditor;
SELECT is((SELECT count(*) FROM provision_log_audit WHERE insurer_id = :a), 1::bigint,
          'the auditor reads the provision log without agency codes');
SELECT is(pg_temp.state_of('SELECT agency_code FROM onshikaku.provision_log'), '42501', 'the auditor cannot read agency codes');
RESET ROLE;
SET ROLE tap_nobody;
SELECT is(pg_temp.state_of('SELECT * FROM onshikaku.oqs_feed'), '42501', 'a role without a grant reads no view');
SELECT is(pg_temp.state_of('SELECT * FROM onshikaku.analyst_membership'), '42501', '... not even the analyst views (off by default)');
RESET ROLE;

-- ---- the surface check -------------------------------------------------------------------------------
SELECT matches(check_analyst_surface(), '^ok: ', 'the surface check passes on the installed extension');
SAVEPOINT s;
GRANT SELECT (birth_date) ON onshikaku.qualification TO onshikaku_analyst;
SELECT throws_like('SELECT onshikaku.check_analyst_surface()', '%qualification.birth_date (quasi_identifier)%',
                   'a classified column granted by mistake: the check fails, naming it');
ROLLBACK TO s;
GRANT SELECT ON onshikaku.person TO PUBLIC;
SELECT throws_like('SELECT onshikaku.check_analyst_surface()', '%person.link_number%',
                   '... also through PUBLIC');
ROLLBACK TO s;
CREATE VIEW public.leaky AS SELECT card_number, count(*) FROM onshikaku.qualification GROUP BY 1;
GRANT SELECT ON public.leaky TO onshikaku_analyst;
SELECT throws_like('SELECT onshikaku.check_analyst_surface()', '%leaky.card_number%qualification.card_number (direct_identifier)%',
                   'a view grouping by a direct identifier fails');
ROLLBACK TO s;
CREATE VIEW public.disguised AS SELECT s.x FROM (SELECT lower(name_on_card) AS x FROM onshikaku.qualification) s;
GRANT SELECT ON public.disguised TO onshikaku_analyst;
SELECT throws_like('SELECT onshikaku.check_analyst_surface()', '%disguised.x, computed from%name_on_card%',
                   'a view computing from a name through a subquery fails');
ROLLBACK TO s;
GRANT onshikaku_number_handler TO onshikaku_analyst;
SELECT throws_like('SELECT onshikaku.check_analyst_surface()', '%privileges of onshikaku_number_handler%',
                   'an analyst role with a personal-data role fails');
ROLLBACK TO s;
CREATE VIEW public.generalised AS
SELECT age_band(birth_date, current_date) AS band, sex1, count(*) FROM onshikaku.qualification GROUP BY 1, 2;
GRANT SELECT ON public.generalised TO onshikaku_analyst;
SELECT matches(check_analyst_surface(), '^ok: ', 'a view of age bands and sex counts passes');
ROLLBACK TO s;

SELECT * FROM finish();
ROLLBACK;
