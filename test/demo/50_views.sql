-- Demo, part 5: the views without personal numbers, over the people generated in part 4:
-- what OQS is fed, what the auditor reads, and a few analyst queries (k-suppression, DV
-- exclusion), ending with the analyst surface check.
\set ECHO none
SET search_path = onshikaku, public;
-- what a statement raises, as 'SQLSTATE: message' ('ok' when it works)
CREATE FUNCTION pg_temp.refused(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text; m text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT;
    RETURN s || ': ' || m;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.refused(text) TO PUBLIC;

\echo
\echo '== 23. The OQS feed (OQS向け資格履歴), as demo_oqs: the history without My Number, blind index or agency code =='
SET ROLE demo_oqs;
SELECT count(*) AS "feed rows", count(DISTINCT link_number) AS "people (紐付番号)",
       count(pmh_id) AS "rows with a PMH-ID", count(*) FILTER (WHERE lost_on IS NOT NULL) AS "lost"
FROM oqs_feed;
SELECT count(*) AS "PMH-IDs queued for OQS" FROM oqs_pmh_queue;
SELECT ack_oqs_pmh_queue((SELECT max(issuance_id) FROM oqs_pmh_queue)) AS "acknowledged by OQS";
SELECT count(*) AS "still queued" FROM oqs_pmh_queue;
\echo 'and OQS cannot read the tables themselves:'
SELECT pg_temp.refused('SELECT count(*) FROM onshikaku.qualification') AS "SELECT from qualification";
RESET ROLE;

\echo
\echo '== 24. The auditor (情報提供等記録 without 機関別符号), as demo_auditor =='
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_auditor') THEN
        CREATE ROLE demo_auditor NOLOGIN IN ROLE onshikaku_auditor;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_analyst') THEN
        CREATE ROLE demo_analyst NOLOGIN;
    END IF;
END $$;
SET ROLE demo_auditor;
SELECT insurer_name, direction, count(*) AS records, count(provided_at) AS provided
FROM provision_log_audit GROUP BY 1, 2 ORDER BY 1, 2;
RESET ROLE;

\echo
\echo '== 25. Analysts: off by default; the operator grants onshikaku_analyst to demo_analyst =='
SET ROLE demo_analyst;
SELECT pg_temp.refused('SELECT count(*) FROM onshikaku.analyst_membership') AS "before the grant";
RESET ROLE;
GRANT onshikaku_analyst TO demo_analyst;
SELECT check_analyst_surface() AS "analyst surface check";
SET ROLE demo_analyst;
\echo 'members on the first of this month, by insurer kind and age band (groups under k = 10 are not shown):'
SELECT insurer_kind, age_band, sum(members) AS members
FROM analyst_membership WHERE month = date_trunc('month', current_date)::date
GROUP BY 1, 2 ORDER BY 1, 2;
\echo 'acquisitions and losses in 2024 by insurer kind (a count under k shows as NULL):'
SELECT insurer_kind, sum(acquisitions) AS acquisitions, sum(losses) AS losses
FROM analyst_acquisitions_losses WHERE month >= '2024-01-01' AND month < '2025-01-01'
GROUP BY 1 ORDER BY 1;
\echo 'certificates and PMH-IDs:'
SELECT insurer_kind, certificate_kind, sum(certificates) AS certificates
FROM analyst_certificates GROUP BY 1, 2 ORDER BY 1, 2;
SELECT month, issued FROM analyst_pmh_issuance ORDER BY month;
\echo 'and never the people themselves:'
SELECT pg_temp.refused('SELECT name_on_card FROM onshikaku.qualification') AS "names",
       pg_temp.refused('SELECT * FROM onshikaku.oqs_feed') AS "the OQS feed";
RESET ROLE;
\echo 'a mistaken grant is caught by the surface check (run in make test too):'
BEGIN;
GRANT SELECT (birth_date) ON qualification TO onshikaku_analyst;
SELECT pg_temp.refused('SELECT onshikaku.check_analyst_surface()') AS "check after GRANT SELECT (birth_date)";
ROLLBACK;
REVOKE onshikaku_analyst FROM demo_analyst;
