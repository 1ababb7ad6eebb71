-- Confirmation by card reads the card's answer (kind, validity, recall,
-- copay ratio) from the card_qualification index when the card's heap page
-- is all-visible: no card heap page is read.  The consent-only items of a
-- 限度額 or 特定疾病 certificate come from the heap.  The answers are the
-- same either way.  (Pages read are this transaction's own counters.)
SET search_path = onshikaku, public;
\set SHOW_CONTEXT never
SELECT register_insurer('01130012', '例示協会けんぽ', 'kyokai_kenpo') AS ins \gset
CREATE ROLE regress_pages_clerk NOLOGIN IN ROLE onshikaku_insurer, onshikaku_number_handler;
CREATE ROLE regress_pages_oqs NOLOGIN IN ROLE onshikaku_oqs_feed;
SELECT grant_insurer('regress_pages_clerk', :ins);
SET ROLE regress_pages_clerk;
CREATE TEMP TABLE member AS
SELECT v.ord, v.birth, e.qualification_id, e.card_branch FROM (VALUES
    (1, '123456789018', '1960-01-01'::date),
    (2, '621498320257', '1962-02-02'),
    (3, '100000000013', '1990-03-03')) v(ord, n, birth),
    LATERAL enroll_member(:ins, n::my_number, '8100' || v.ord, '2024-04-01', v.birth, card_symbol => '77',
                          copay_ratio => 30::smallint) e;
SELECT add_certificate(:ins, (SELECT qualification_id FROM member WHERE ord = 1), 'limit_certificate',
                       '2024-04-01', applicable_class => 'ウ', long_term_admission_on => '2024-05-01') > 0 AS limit_added;
SELECT add_certificate(:ins, (SELECT qualification_id FROM member WHERE ord = 2), 'specific_disease',
                       '2024-04-01', certified_disease_class => '1', copay_limit => 10000) > 0 AS disease_added;
SELECT add_certificate(:ins, (SELECT qualification_id FROM member WHERE ord = 3), 'elderly_recipient',
                       '2024-04-01', '2025-03-31', copay_ratio => 20::smallint) > 0 AS elderly_added;
RESET ROLE;
GRANT SELECT ON member TO PUBLIC;

-- every answer, with and without consent, on two dates
CREATE TEMP VIEW answers AS
SELECT m.ord, d AS on_date, consent, c.status, c.copay_ratio, c.elderly_recipient_valid_to,
       c.limit_applicable_class, c.limit_long_term_admission_on, c.specific_disease_class,
       c.specific_disease_copay_limit, c.consent_items_withheld
FROM member m, unnest(ARRAY['2024-06-01', '2025-06-01']::date[]) d, unnest(ARRAY[false, true]) consent,
     confirm_qualification('01130012', '77', '8100' || m.ord, m.card_branch, m.birth, d, consent) c;
GRANT SELECT ON answers TO PUBLIC;
SET ROLE regress_pages_oqs;
CREATE TEMP TABLE before_vacuum AS SELECT * FROM answers;
SELECT * FROM before_vacuum ORDER BY ord, on_date, consent;
RESET ROLE;

-- Pages of the card partition read by three confirmations (the session is
-- warm): the visibility-map page of the partition counts as one per call.
SELECT format('onshikaku.card_%s', :ins) AS card_part \gset
CREATE FUNCTION pg_temp.card_pages(consent boolean) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n0 bigint := pg_stat_get_xact_blocks_fetched(current_setting('regress.card_part')::regclass);
BEGIN
    PERFORM c.status FROM member m,
            onshikaku.confirm_qualification('01130012', '77', '8100' || m.ord, m.card_branch, m.birth, '2024-06-01',
                                            consent) c;
    RETURN pg_stat_get_xact_blocks_fetched(current_setting('regress.card_part')::regclass) - n0;
END $$;
SET regress.card_part = :'card_part';
-- once vacuumed (all-visible), only the visibility map: no card heap page
-- (a second VACUUM in case a concurrent snapshot kept the first from marking the page)
VACUUM (FREEZE, INDEX_CLEANUP ON) onshikaku.card;
\o /dev/null
SELECT pg_sleep(1) FROM pg_class WHERE oid = :'card_part'::regclass AND relallvisible < relpages;
\o
VACUUM (FREEZE, INDEX_CLEANUP ON) onshikaku.card;
SELECT relallvisible = relpages AS all_visible FROM pg_class WHERE oid = :'card_part'::regclass;
BEGIN;
SET LOCAL ROLE regress_pages_oqs;
SELECT pg_temp.card_pages(false) AS card_pages_3_calls;
-- with consent, the 限度額 and 特定疾病 certificates' items come from the heap
SELECT pg_temp.card_pages(true) AS card_pages_3_calls_with_consent;
COMMIT;
-- a change to the cards clears the page's all-visible bit: the heap is read again
UPDATE onshikaku.card SET updated_at = updated_at WHERE insurer_id = :ins;
BEGIN;
SET LOCAL ROLE regress_pages_oqs;
SELECT pg_temp.card_pages(false) AS card_pages_3_calls_after_a_change;
COMMIT;

-- the same answers as before
SET ROLE regress_pages_oqs;
SELECT count(*) AS answers, count(*) FILTER (WHERE (a.*)::text IS DISTINCT FROM (b.*)::text) AS different
FROM answers a FULL JOIN before_vacuum b USING (ord, on_date, consent);
RESET ROLE;

DROP VIEW answers;
DROP TABLE member, before_vacuum;
SELECT revoke_insurer('regress_pages_clerk', :ins);
DROP ROLE regress_pages_clerk, regress_pages_oqs;
