-- onshikaku 0.1.0 -> 0.2.0: what the flows and views added to the model.
-- The build appends the parts new in 0.2.0 (extension/sql/40_flows.sql,
-- 60_views.sql, 90_classification.sql) to this file to make
-- onshikaku--0.1.0--0.2.0.sql; test/suites/upgrade.sh checks that the
-- result equals a fresh install of 0.2.0.

-- Which insurers a person has been enrolled with: the national index the
-- My Number card path (confirmation by link number) starts from.
CREATE TABLE onshikaku.person_enrolment (
    link_number  onshikaku.link_number NOT NULL,   -- 紐付番号
    insurer_id   integer NOT NULL,                 -- 医療保険者等 (no foreign key, for enrolment speed)
    first_enrolled_at timestamptz NOT NULL DEFAULT now(),        -- 初回登録日時
    PRIMARY KEY (link_number, insurer_id)
);
CREATE INDEX person_enrolment_insurer ON onshikaku.person_enrolment (insurer_id);
COMMENT ON TABLE onshikaku.person_enrolment IS
    '加入履歴索引: the insurers a person (紐付番号) has been enrolled with; lets a confirmation by link number visit only those insurers'' partitions. No personal number.';

-- 情報提供ネットワーク: what may be provided to whom (番号法 別表第二, simulated).
CREATE TABLE onshikaku.provision_allow_list (
    office_work_name text NOT NULL,   -- 事務名称
    procedure_name   text NOT NULL,   -- 事務手続名称
    item_name        text NOT NULL,   -- 特定個人情報名称
    PRIMARY KEY (office_work_name, procedure_name, item_name)
);
COMMENT ON TABLE onshikaku.provision_allow_list IS
    '提供許可リスト: the (事務, 手続, 特定個人情報) combinations an inquirer may receive through the network (番号法19条8号・別表第二), checked before any provision. Maintained by the operator.';

-- 枝番 issued within a card (保険者, 記号, 番号): one row per person ever given
-- one, kept after the loss of qualification, so that a value is never given to
-- a second person and the same person gets the same value back.
CREATE TABLE onshikaku.card_branch_issue (
    insurer_id   integer NOT NULL,
    card_symbol  text NOT NULL,                            -- 被保険者証記号 ('' when the card has none)
    card_number  text NOT NULL,                            -- 被保険者証番号
    card_branch  onshikaku.card_branch_number NOT NULL,    -- 枝番
    link_number  onshikaku.link_number,                    -- 紐付番号 (the person it was issued to; NULL once purged: the value stays taken)
    issued_at    timestamptz NOT NULL DEFAULT now(),       -- 発番日時
    PRIMARY KEY (insurer_id, card_symbol, card_number, card_branch),
    UNIQUE (insurer_id, card_symbol, card_number, link_number)
) PARTITION BY LIST (insurer_id);
COMMENT ON TABLE onshikaku.card_branch_issue IS
    '枝番の発番記録: which person each 枝番 of a card (保険者, 記号, 番号) was issued to; never reused for another person (docs/flows.md).';

INSERT INTO onshikaku.per_insurer_table VALUES
    ('onshikaku.card_branch_issue', 'card_branch_issue', 9, NULL);

-- Classifies every column of every table of the schema not classified yet:
-- by type (ciphertexts, blind indexes, issued person keys) and by name.
-- Run here, and again at the end of the install script for the tables of
-- later layers.
CREATE FUNCTION onshikaku.classify_columns() RETURNS integer
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $classify$
WITH added AS (
    INSERT INTO onshikaku.column_class
    SELECT c.oid::regclass, a.attname,
           CASE
             WHEN a.atttypid IN ('onshikaku.encrypted'::regtype, 'onshikaku.blind_index'::regtype) THEN 'personal_number'
             WHEN a.atttypid IN ('onshikaku.insured_branch_number'::regtype, 'onshikaku.link_number'::regtype,
                                 'onshikaku.pmh_id'::regtype, 'onshikaku.recipient_number'::regtype)
                  OR a.attname IN ('name_on_card', 'name_on_card_kana', 'name_other', 'name_other_kana', 'address',
                                   'insured_person_name', 'card_symbol', 'card_number', 'name', 'name_kana',
                                   'address_detail', 'household_id', 'case_number', 'household_member_number',
                                   'record_id', 'voucher_id', 'issue_number', 'content', 'requester_id',
                                   'linkage_info')
                  THEN 'direct_identifier'
             WHEN a.attname IN ('birth_date', 'sex1', 'sex2', 'sex', 'postcode', 'municipality_code', 'card_branch',
                                'acquired_on', 'lost_on', 'deceased', 'disease_name_1', 'disease_name_2', 'disease_name_3',
                                'municipality_name', 'office_name', 'status', 'member_class_code', 'loss_reason',
                                'insured_or_dependent', 'dv_nondisclosure', 'treatment_month', 'institution_code',
                                'institution_name', 'institution_address', 'prescriber_code', 'prescriber_name',
                                'retrieval_period_from', 'retrieval_period_to')
                  OR a.attname LIKE '%changed_on' THEN 'quasi_identifier'
             ELSE 'other'
           END
    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
    WHERE c.relnamespace = 'onshikaku'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND a.attnum > 0 AND NOT a.attisdropped
    ON CONFLICT (relid, column_name) DO NOTHING
    RETURNING 1)
SELECT count(*)::integer FROM added
$classify$;
COMMENT ON FUNCTION onshikaku.classify_columns() IS
    'Classifies, in onshikaku.column_class, every column of the extension''s tables that has no class yet (by type, then by name; the rest is other). Returns how many were added. The install script runs it; review the result after adding columns.';
REVOKE EXECUTE ON FUNCTION onshikaku.classify_columns() FROM PUBLIC;

COMMENT ON COLUMN onshikaku.person_enrolment.link_number IS '紐付番号';
COMMENT ON COLUMN onshikaku.person_enrolment.insurer_id IS '医療保険者等 (no foreign key, for enrolment speed)';
COMMENT ON COLUMN onshikaku.person_enrolment.first_enrolled_at IS '初回登録日時';
COMMENT ON COLUMN onshikaku.provision_allow_list.office_work_name IS '事務名称';
COMMENT ON COLUMN onshikaku.provision_allow_list.procedure_name IS '事務手続名称';
COMMENT ON COLUMN onshikaku.provision_allow_list.item_name IS '特定個人情報名称';
COMMENT ON COLUMN onshikaku.card_branch_issue.card_symbol IS '被保険者証記号 ('''' when the card has none)';
COMMENT ON COLUMN onshikaku.card_branch_issue.card_number IS '被保険者証番号';
COMMENT ON COLUMN onshikaku.card_branch_issue.card_branch IS '枝番';
COMMENT ON COLUMN onshikaku.card_branch_issue.link_number IS '紐付番号 (the person it was issued to; NULL once purged: the value stays taken)';
COMMENT ON COLUMN onshikaku.card_branch_issue.issued_at IS '発番日時';

REVOKE ALL ON onshikaku.person_enrolment, onshikaku.provision_allow_list FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON onshikaku.provision_allow_list TO onshikaku_admin;
REVOKE ALL ON onshikaku.card_branch_issue FROM PUBLIC;
GRANT SELECT (card_branch, card_number, card_symbol, insurer_id, issued_at, link_number)
    ON onshikaku.card_branch_issue TO onshikaku_insurer;
ALTER TABLE onshikaku.card_branch_issue ENABLE ROW LEVEL SECURITY;
ALTER TABLE onshikaku.card_branch_issue FORCE ROW LEVEL SECURITY;
CREATE POLICY insurer_isolation ON onshikaku.card_branch_issue USING (insurer_id = onshikaku.acting_insurer());
SELECT pg_catalog.pg_extension_config_dump('onshikaku.person_enrolment', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.provision_allow_list', '');

-- Insurers registered under 0.1.0 get their partition of the new table,
-- the way register_insurer() makes one.
DO $partitions$
DECLARE
    i integer;
    part text;
BEGIN
    FOR i IN SELECT insurer_id FROM onshikaku.insurer ORDER BY insurer_id LOOP
        part := format('onshikaku.card_branch_issue_%s', i);
        EXECUTE format('CREATE TABLE %s (LIKE onshikaku.card_branch_issue INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                       'INCLUDING STORAGE INCLUDING COMPRESSION)', part);
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', part);
        EXECUTE format('CREATE POLICY insurer_isolation ON %s USING (insurer_id = onshikaku.acting_insurer())', part);
        EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', part);
        EXECUTE format('ALTER TABLE onshikaku.card_branch_issue ATTACH PARTITION %s FOR VALUES IN (%s)', part, i);
    END LOOP;
END
$partitions$;
