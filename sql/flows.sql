-- The flows as an application sees them: an insurer enrols a household,
-- records a change and a loss, the person comes back; OQS confirms by card
-- and by link number; PMH asks for a PMH-ID; a provision and an identity
-- check go through the (simulated) network.  Issued numbers are random, so
-- only their properties are shown.
SET search_path = onshikaku, public;
\set SHOW_CONTEXT never
SELECT register_insurer('06131015', '例示健康保険組合', 'kenpo_kumiai') AS ins \gset
CREATE ROLE regress_clerk NOLOGIN IN ROLE onshikaku_insurer, onshikaku_number_handler;
CREATE ROLE regress_oqs NOLOGIN IN ROLE onshikaku_oqs_feed;
CREATE ROLE regress_pmh NOLOGIN IN ROLE onshikaku_pmh_gateway;
SELECT grant_insurer('regress_clerk', :ins);

-- enrolment: the insured person, then two dependents on the same card
SET ROLE regress_clerk;
CREATE TEMP TABLE household AS
SELECT who, e.* FROM (VALUES
    (1, '本人', '123456789018', '1975-05-05'::date, 1::smallint),
    (2, '配偶者', '621498320257', '1977-07-07', 2),
    (3, '子', '100000000013', '2008-08-08', 2)) v(ord, who, n, birth, iod),
    LATERAL enroll_member(:ins, n::my_number, '4711', '2024-04-01', birth, card_symbol => 'K1',
                          insured_or_dependent => iod::smallint, name_on_card => '例示' || who, sex => 1::smallint,
                          address => '東京都千代田区', postcode => '1000001', copay_ratio => 30::smallint) e
ORDER BY ord;
GRANT SELECT ON household TO PUBLIC;
SELECT who, card_branch, reused_insured_branch_number,
       insured_branch_number_is_valid(insured_branch_number::text) AS branch_number_valid,
       length(link_number::text) AS link_digits
FROM household;

-- a change of address with its date, then a loss
SELECT record_change(:ins, (SELECT qualification_id FROM household WHERE who = '本人'),
                     '{"address": "東京都港区", "postcode": "1050001"}', '2024-09-01') AS history_seq;
SELECT record_loss(:ins, (SELECT qualification_id FROM household WHERE who = '子'), '2025-04-01', 1::smallint);
SET onshikaku.acting_insurer = :ins;
SELECT card_branch, acquired_on, lost_on, loss_reason, address, address_changed_on, history_seq
FROM qualification WHERE insurer_id = :ins ORDER BY card_branch, acquired_on;

-- the child comes back: same 被保険者枝番, same 枝番
SELECT (e.insured_branch_number = h.insured_branch_number) AS same_branch_number, e.card_branch,
       e.reused_insured_branch_number
FROM enroll_member(:ins, '100000000013', '4711', '2026-04-01', '2008-08-08', card_symbol => 'K1',
                   insured_or_dependent => 2::smallint) e, household h WHERE h.who = '子';

-- an overlapping enrolment is refused
SELECT enroll_member(:ins, '123456789018', '4711', '2025-01-01', '1975-05-05', card_symbol => 'K1');
RESET ROLE;

-- OQS at the counter, by card
SET ROLE regress_oqs;
SELECT d AS on_date, c.status, c.name_on_card, c.card_branch, c.copay_ratio, c.address
FROM unnest(ARRAY['2024-03-31', '2024-04-01', '2025-03-31', '2025-04-01', '2026-04-01']::date[]) d,
     confirm_qualification('06131015', 'K1', '4711', '02', '2008-08-08', d) c;
SELECT status, name_on_card FROM confirm_qualification('06131015', 'K1', '4711', '02', '2008-08-09', '2024-06-01');
-- by link number (the My Number card path)
SELECT status, insurer_number, card_symbol, card_number, card_branch
FROM confirm_qualification_by_link((SELECT link_number FROM household WHERE who = '本人'), '1975-05-05', '2024-06-01');
RESET ROLE;

-- PMH: issue, ask again, unknown person
SET ROLE regress_pmh;
CREATE TEMP TABLE pmh AS SELECT * FROM issue_pmh_id('123456789018');
SELECT outcome, my_number, pmh_id_is_valid(pmh_id::text) AS pmh_id_valid FROM pmh;
SELECT outcome, my_number, (pmh_id = (SELECT pmh_id FROM pmh)) AS same FROM issue_pmh_id('123456789018');
SELECT outcome, my_number, pmh_id FROM issue_pmh_id('200000000026');
SELECT issue_pmh_id('123456789019');
RESET ROLE;
SELECT count(*) AS issuance_log_rows FROM pmh_issuance_log;

-- agency code, provision from the copy zone, inquiry
INSERT INTO provision_allow_list VALUES ('医療保険給付', '高額療養費の支給', '医療保険給付関係情報');
SET ROLE regress_clerk;
SELECT record_agency_code(:ins, (SELECT insured_branch_number FROM household WHERE who = '本人'), 'CODE-0001');
SELECT put_copy(:ins, (SELECT insured_branch_number FROM household WHERE who = '本人'), '医療保険給付関係情報',
                '{"高額療養費": "該当"}');
SELECT outcome, content FROM provide_information(:ins, (SELECT link_number FROM household WHERE who = '本人'),
                                                 '医療保険給付', '高額療養費の支給', '医療保険給付関係情報', '区役所', 'S-1');
SELECT outcome, content FROM provide_information(:ins, (SELECT link_number FROM household WHERE who = '本人'),
                                                 '税', '課税', '医療保険給付関係情報', '税務署', 'S-2');
SELECT direction, processing_serial, office_work_name, provider_department, nondisclosure_code,
       provided_at IS NOT NULL AS provided
FROM provision_log WHERE insurer_id = :ins ORDER BY provision_id;

-- identity check: request, result, delivery (and deletion)
SELECT request_identity_check(:ins, 'basic4', my_number => '621498320257') AS chk \gset
SELECT record_identity_check_result(:ins, :chk, name => '例示配偶者', birth_date => '1977-07-07', sex => 2::smallint,
                                    address => '東京都千代田区');
SELECT request_kind, my_number, name, birth_date, sex, address FROM deliver_identity_check(:ins, :chk);
SELECT count(*) AS checks_left FROM identity_check WHERE insurer_id = :ins;

-- マイナポータル link information
SELECT * FROM myportal_link(:ins, (SELECT insured_branch_number FROM household WHERE who = '本人'), '2024-06-01');
RESET ROLE;
RESET onshikaku.acting_insurer;
DROP TABLE household, pmh;
SELECT revoke_insurer('regress_clerk', :ins);
DROP ROLE regress_clerk, regress_oqs, regress_pmh;
