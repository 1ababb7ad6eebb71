-- onshikaku 0.1.0 -> 0.2.0, frozen when 0.2.0 was released (assembled from the model's changes and the parts new in 0.2.0: 40_flows, 50_retention, 60_views, 90_classification).
\echo Use "ALTER EXTENSION onshikaku UPDATE" to load this file. \quit

-- ---- extension/upgrades/0.1.0--0.2.0.sql ----
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

-- ---- extension/sql/40_flows.sql ----
-- 40_flows.sql: the flows (layer 4).
--
-- Enrolment, changes and losses; confirmation (OQS); the PMH flow; agency
-- codes, provision and inquiry through the network (simulated); identity
-- checks; マイナポータル link information.  docs/flows.md documents each.
--
-- The flows write tables no caller may write, so they are SECURITY
-- DEFINER with a fixed search_path (pg_catalog first, pg_temp last) and
-- plan_cache_mode = force_custom_plan: a generic plan over a table of 3,500
-- partitions would lock every one of them.  Each starts with
-- onshikaku.flow_insurer(), which checks the caller's rights (C: flows.c,
-- judged on the caller, not on the owner the function runs as).  Inputs
-- are validated before anything is written, so that no constraint error
-- (whose detail would print the row, ciphertexts and blind index
-- included) can reach a client; an error leaves nothing written.

-- ---- issuance primitives (C: issuance.c) ------------------------------------------

CREATE FUNCTION onshikaku.new_link_number() RETURNS onshikaku.link_number
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'osk_new_issued_number';
CREATE FUNCTION onshikaku.new_insured_branch_number() RETURNS onshikaku.insured_branch_number
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'osk_new_issued_number';
CREATE FUNCTION onshikaku.new_pmh_id() RETURNS onshikaku.pmh_id
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'osk_new_issued_number';
COMMENT ON FUNCTION onshikaku.new_link_number() IS
    'A random 紐付番号 (15 CSPRNG digits + Luhn); uniqueness is the caller''s (the flows insert under a unique constraint and draw again).';
COMMENT ON FUNCTION onshikaku.new_insured_branch_number() IS
    'A random 被保険者枝番 (15 CSPRNG digits + Luhn); uniqueness within the insurer is the caller''s.';
COMMENT ON FUNCTION onshikaku.new_pmh_id() IS
    'A random PMH-ID (15 CSPRNG digits + Luhn), never derived from a My Number; uniqueness is the caller''s.';

CREATE FUNCTION onshikaku.protect_national(number onshikaku.my_number, purpose text)
    RETURNS onshikaku.encrypted
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_protect_national';
CREATE FUNCTION onshikaku.protect_national(number onshikaku.my_number, purpose text, cohort integer)
    RETURNS onshikaku.encrypted
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_protect_national';
COMMENT ON FUNCTION onshikaku.protect_national(onshikaku.my_number, text) IS
    'Encrypts a My Number under the national data key: for a 生活保護 body, which has no 保険者番号. reveal() with a NULL insurer decrypts it.';
COMMENT ON FUNCTION onshikaku.protect_national(onshikaku.my_number, text, integer) IS
    'Like protect_national(number, purpose), under the national data key of a retention cohort.';

CREATE FUNCTION onshikaku.caller_check(insurer_id integer, required_role name) RETURNS void
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'osk_caller_check';
COMMENT ON FUNCTION onshikaku.caller_check(integer, name) IS
    'Raises 42501 unless the caller (the outer user: SET ROLE or session user, not the owner of a SECURITY DEFINER function) has the rights of required_role and, for a non-NULL insurer_id, acts for that insurer.';

REVOKE EXECUTE ON FUNCTION onshikaku.new_link_number(), onshikaku.new_insured_branch_number(),
    onshikaku.new_pmh_id(), onshikaku.protect_national(onshikaku.my_number, text),
    onshikaku.protect_national(onshikaku.my_number, text, integer),
    onshikaku.caller_check(integer, name) FROM PUBLIC;

-- ---- checks shared by the flows ---------------------------------------------------

-- The insurer a flow works for, after checking the caller may act for it.
CREATE FUNCTION onshikaku.flow_insurer(insurer_id integer, required_role name,
                                       capability text DEFAULT NULL)
    RETURNS onshikaku.insurer
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
DECLARE
    ins onshikaku.insurer;
    allowed boolean;
BEGIN
    IF insurer_id IS NULL THEN
        RAISE EXCEPTION 'insurer_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO ins FROM onshikaku.insurer i WHERE i.insurer_id = flow_insurer.insurer_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'insurer % is not registered', insurer_id USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM onshikaku.caller_check(insurer_id, required_role);
    IF capability IS NOT NULL THEN
        EXECUTE format('SELECT %I FROM onshikaku.insurer_kind_capability WHERE kind = $1', capability)
            INTO allowed USING ins.kind;
        IF NOT allowed THEN
            RAISE EXCEPTION 'a % does not use this flow', ins.kind
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = format('Capability %s is not among those of its kind (onshikaku.insurer_kind_capability).', capability);
        END IF;
    END IF;
    RETURN ins;
END
$$;
COMMENT ON FUNCTION onshikaku.flow_insurer(integer, name, text) IS
    'The registry row of the insurer a flow works for: 22004 for NULL, 42704 when not registered, 42501 unless the caller has required_role and acts for it, 0A000 when its kind lacks the capability.';
REVOKE EXECUTE ON FUNCTION onshikaku.flow_insurer(integer, name, text) FROM PUBLIC;

-- Raise 22004 naming the first NULL among required arguments.
CREATE FUNCTION onshikaku.require(names text[], present boolean[]) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    FOR i IN 1 .. cardinality(names) LOOP
        IF NOT present[i] THEN
            RAISE EXCEPTION '% must not be NULL', names[i] USING ERRCODE = 'null_value_not_allowed';
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION onshikaku.require(text[], boolean[]) IS
    'Raises 22004 naming the first argument whose present flag is false.';

-- Raise 22023 with a message, when a condition holds.
CREATE FUNCTION onshikaku.refuse_if(condition boolean, message text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF condition THEN
        RAISE EXCEPTION '%', message USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION onshikaku.refuse_if(boolean, text) IS
    'Raises 22023 with the message when the condition is true (input validation of the flows; the message never quotes a personal number).';

-- The checks of the basic information, before any write (a constraint
-- error would print the row).
CREATE FUNCTION onshikaku.check_basic_info(card_symbol text, card_number text, sex smallint,
                                           postcode text, municipality_code text,
                                           insured_or_dependent smallint) RETURNS void
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
    SELECT onshikaku.refuse_if(card_symbol !~ '^[0-9A-Za-z\-ー・]{0,38}$',
                               'card_symbol may hold up to 38 digits, letters, hyphens, ー and ・'),
           onshikaku.refuse_if(card_number !~ '^[0-9A-Za-z\-]{1,38}$',
                               'card_number must be 1 to 38 digits, letters or hyphens'),
           onshikaku.refuse_if(sex NOT IN (1, 2, 3), 'sex must be 1 (male), 2 (female) or 3 (other)'),
           onshikaku.refuse_if(postcode !~ '^[0-9]{7}$', 'postcode must be 7 digits'),
           onshikaku.refuse_if(municipality_code !~ '^[0-9]{5,6}$', 'municipality_code must be 5 or 6 digits'),
           onshikaku.refuse_if(insured_or_dependent NOT IN (1, 2),
                               'insured_or_dependent must be 1 (本人) or 2 (家族)');
$$;
COMMENT ON FUNCTION onshikaku.check_basic_info(text, text, smallint, text, text, smallint) IS
    'Validates the basic information of an enrolment or change before anything is written (22023, naming the item).';

-- ---- issuance ----------------------------------------------------------------------

-- The person (link number) of a blind index, created on first sight.
CREATE FUNCTION onshikaku.person_of(bi onshikaku.blind_index) RETURNS onshikaku.link_number
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
DECLARE
    link onshikaku.link_number;
BEGIN
    LOOP
        SELECT p.link_number INTO link FROM onshikaku.person p WHERE p.my_number_bi = bi;
        EXIT WHEN FOUND;
        -- a conflict is either the same person inserted concurrently (found
        -- by the next SELECT) or a link number drawn twice (drawn again)
        INSERT INTO onshikaku.person (link_number, my_number_bi)
        VALUES (onshikaku.new_link_number(), bi)
        ON CONFLICT DO NOTHING
        RETURNING person.link_number INTO link;
        EXIT WHEN link IS NOT NULL;
    END LOOP;
    RETURN link;
END
$$;
COMMENT ON FUNCTION onshikaku.person_of(onshikaku.blind_index) IS
    'The 紐付番号 of the person with this blind index, assigned (randomly, unique nationally) when the My Number is first seen.';

-- The 被保険者枝番 of a person with an insurer, issued on first enrolment and
-- the same on re-enrolment; the registration row stays locked until commit,
-- which serializes two enrolments of the same person with one insurer.
CREATE FUNCTION onshikaku.insured_branch_number_of(insurer_id integer, bi onshikaku.blind_index,
        link onshikaku.link_number, prospective boolean, OUT number onshikaku.insured_branch_number,
        OUT reused boolean)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
    LOOP
        INSERT INTO onshikaku.registration_zone AS r
            (insurer_id, insured_branch_number, my_number_bi, link_number, prospective)
        VALUES ($1, onshikaku.new_insured_branch_number(), bi, link, prospective)
        ON CONFLICT DO NOTHING
        RETURNING r.insured_branch_number INTO number;
        IF number IS NOT NULL THEN
            reused := false;
            RETURN;
        END IF;
        SELECT r.insured_branch_number INTO number FROM onshikaku.registration_zone r
        WHERE r.insurer_id = $1 AND r.my_number_bi = bi FOR UPDATE;
        IF FOUND THEN
            reused := true;
            IF NOT prospective THEN
                UPDATE onshikaku.registration_zone r SET prospective = false, removal_requested_at = NULL
                WHERE r.insurer_id = $1 AND r.insured_branch_number = number AND r.prospective;
            END IF;
            RETURN;
        END IF;
        -- else the drawn number was taken: draw again
    END LOOP;
END
$$;
COMMENT ON FUNCTION onshikaku.insured_branch_number_of(integer, onshikaku.blind_index, onshikaku.link_number, boolean) IS
    '被保険者枝番 of a person with an insurer (registration zone): issued at first registration, returned again on re-enrolment (001:L949); locks the registration row until commit.';

-- The card 枝番 of a person within (insurer, 記号, 番号): see docs/flows.md.
CREATE FUNCTION onshikaku.card_branch_of(insurer_id integer, card_symbol text, card_number text,
        link onshikaku.link_number, insured_person boolean) RETURNS onshikaku.card_branch_number
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    sym text := coalesce(card_symbol, '');
    b onshikaku.card_branch_number;
    candidate integer;
BEGIN
    SELECT c.card_branch INTO b FROM onshikaku.card_branch_issue c
    WHERE c.insurer_id = $1 AND c.card_symbol = sym AND c.card_number = $3 AND c.link_number = link;
    IF FOUND THEN
        RETURN b;
    END IF;
    FOR candidate IN
        SELECT g FROM generate_series(CASE WHEN insured_person THEN 0 ELSE 1 END, 99) g
        WHERE lpad(g::text, 2, '0') NOT IN (SELECT c.card_branch::text FROM onshikaku.card_branch_issue c
                                  WHERE c.insurer_id = $1 AND c.card_symbol = sym AND c.card_number = $3)
        ORDER BY g
    LOOP
        INSERT INTO onshikaku.card_branch_issue AS c (insurer_id, card_symbol, card_number, card_branch, link_number)
        VALUES ($1, sym, $3, lpad(candidate::text, 2, '0')::onshikaku.card_branch_number, link)
        ON CONFLICT DO NOTHING
        RETURNING c.card_branch INTO b;
        IF b IS NOT NULL THEN
            RETURN b;
        END IF;
        -- taken meanwhile, by another person (try the next) or by this one
        SELECT c.card_branch INTO b FROM onshikaku.card_branch_issue c
        WHERE c.insurer_id = $1 AND c.card_symbol = sym AND c.card_number = $3 AND c.link_number = link;
        IF FOUND THEN
            RETURN b;
        END IF;
    END LOOP;
    RAISE EXCEPTION 'every card branch number (枝番) of this card is in use'
        USING ERRCODE = 'program_limit_exceeded',
              DETAIL = CASE WHEN insured_person THEN '00-99 have all been issued to other people.'
                            ELSE '01-99 have all been issued to other people; 00 is kept for the insured person.' END,
              HINT = 'A 枝番 is never given to a second person; the insurer must issue a new 番号.';
END
$$;
COMMENT ON FUNCTION onshikaku.card_branch_of(integer, text, text, onshikaku.link_number, boolean) IS
    'Card 枝番 of a person within (insurer, 記号, 番号): the one already issued to this person, else 00 for the insured person when free, else the lowest free of 01-99; never a value issued to anyone else; 54000 when none is left.';

REVOKE EXECUTE ON FUNCTION onshikaku.person_of(onshikaku.blind_index),
    onshikaku.insured_branch_number_of(integer, onshikaku.blind_index, onshikaku.link_number, boolean),
    onshikaku.card_branch_of(integer, text, text, onshikaku.link_number, boolean) FROM PUBLIC;

-- ---- enrolment, change, loss ----------------------------------------------------------

CREATE TYPE onshikaku.enrolment AS (
    qualification_id      bigint,
    insured_branch_number onshikaku.insured_branch_number,
    link_number           onshikaku.link_number,
    card_branch           onshikaku.card_branch_number,
    reused_insured_branch_number boolean
);
COMMENT ON TYPE onshikaku.enrolment IS
    'What enroll_member() issued or found: the qualification row, 被保険者枝番 (reused_insured_branch_number when it existed), 紐付番号 and card 枝番.';

CREATE FUNCTION onshikaku.enroll_member(
        insurer_id integer,
        my_number onshikaku.my_number,
        card_number text,
        acquired_on date,
        birth_date date,
        card_symbol text DEFAULT NULL,
        insured_or_dependent smallint DEFAULT 1,
        name_on_card text DEFAULT NULL,
        name_on_card_kana text DEFAULT NULL,
        sex smallint DEFAULT NULL,
        address text DEFAULT NULL,
        postcode text DEFAULT NULL,
        municipality_code text DEFAULT NULL,
        household_id text DEFAULT NULL,
        insured_person_name text DEFAULT NULL,
        copay_ratio smallint DEFAULT NULL,
        card_valid_from date DEFAULT NULL,
        card_valid_to date DEFAULT NULL,
        recipient_number onshikaku.recipient_number DEFAULT NULL,
        dv_nondisclosure boolean DEFAULT false,
        lost_on date DEFAULT NULL,
        loss_reason smallint DEFAULT NULL)
    RETURNS onshikaku.enrolment
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    ins onshikaku.insurer;
    bi onshikaku.blind_index;
    res onshikaku.enrolment;
    qid bigint;
    card_num text := card_number;
BEGIN
    ins := onshikaku.flow_insurer(insurer_id, 'onshikaku_number_handler', 'qualification_history');
    IF ins.kind = 'seikatsu_hogo' AND card_num IS NULL THEN
        card_num := recipient_number::text;   -- a 生活保護 recipient's "card" is its 受給者番号
    END IF;
    PERFORM onshikaku.require(ARRAY['my_number', 'card_number', 'acquired_on', 'birth_date', 'insured_or_dependent'],
                              ARRAY[my_number IS NOT NULL, card_num IS NOT NULL, acquired_on IS NOT NULL,
                                    birth_date IS NOT NULL, insured_or_dependent IS NOT NULL]);
    PERFORM onshikaku.check_basic_info(card_symbol, card_num, sex, postcode, municipality_code, insured_or_dependent),
            onshikaku.refuse_if(acquired_on < birth_date, 'acquired_on is before birth_date'),
            onshikaku.refuse_if(birth_date > current_date, 'birth_date is in the future'),
            onshikaku.refuse_if(lost_on <= acquired_on,
                                'lost_on must be after acquired_on (the loss date is the first day without qualification)'),
            onshikaku.refuse_if((lost_on IS NULL) <> (loss_reason IS NULL), 'lost_on and loss_reason go together'),
            onshikaku.refuse_if(card_valid_to >= lost_on, 'card_valid_to must be before lost_on'),
            onshikaku.refuse_if(copay_ratio NOT BETWEEN 0 AND 100, 'copay_ratio is a percentage (0-100)'),
            onshikaku.refuse_if(card_valid_to < card_valid_from, 'card_valid_to is before card_valid_from'),
            onshikaku.refuse_if(ins.kind = 'seikatsu_hogo' AND recipient_number IS NULL,
                                'a 生活保護 enrolment needs recipient_number (受給者番号)');

    bi := onshikaku.blind_index_of(my_number);
    res.link_number := onshikaku.person_of(bi);
    SELECT n.number, n.reused INTO res.insured_branch_number, res.reused_insured_branch_number
    FROM onshikaku.insured_branch_number_of(ins.insurer_id, bi, res.link_number, false) n;

    -- one qualification at a time per person and insurer (the row above is locked)
    IF EXISTS (SELECT FROM onshikaku.qualification q
               WHERE q.insurer_id = ins.insurer_id AND q.insured_branch_number = res.insured_branch_number
                 AND NOT q.deleted
                 AND q.acquired_on < coalesce(lost_on, 'infinity')
                 AND coalesce(q.lost_on, 'infinity') > acquired_on) THEN
        RAISE EXCEPTION 'this person already has a qualification with insurer % that overlaps the new one', ins.insurer_id
            USING ERRCODE = 'exclusion_violation',
                  HINT = 'Record the loss of the current qualification (onshikaku.record_loss) first.';
    END IF;

    res.card_branch := onshikaku.card_branch_of(ins.insurer_id, card_symbol, card_num, res.link_number,
                                                insured_or_dependent = 1);
    qid := nextval('onshikaku.qualification_id_seq');
    res.qualification_id := qid;
    INSERT INTO onshikaku.qualification
        (insurer_id, qualification_id, insured_branch_number, link_number, my_number, my_number_bi,
         dv_nondisclosure, name_on_card, name_on_card_kana, sex1, birth_date, address, postcode,
         municipality_code, household_id, card_symbol, card_number, card_branch, acquired_on, lost_on,
         loss_reason, insured_or_dependent, insured_person_name, public_payer_number, recipient_number,
         pmh_id, process_kind_code)
    SELECT ins.insurer_id, qid, res.insured_branch_number, res.link_number,
           CASE WHEN ins.insurer_number IS NULL
                THEN onshikaku.protect_national(my_number, 'qualification.my_number', extract(year FROM lost_on)::integer)
                ELSE onshikaku.protect(my_number, ins.insurer_number, 'qualification.my_number',
                                       extract(year FROM lost_on)::integer) END,
           bi, dv_nondisclosure, name_on_card, name_on_card_kana, sex, birth_date, address, postcode,
           municipality_code, household_id, nullif(card_symbol, ''), card_num, res.card_branch, acquired_on,
           lost_on, loss_reason, insured_or_dependent, insured_person_name, ins.public_payer_number,
           recipient_number, p.pmh_id, 'enrol'
    FROM onshikaku.person p WHERE p.link_number = res.link_number;

    INSERT INTO onshikaku.card (insurer_id, card_id, qualification_id, kind, card_symbol, card_number,
                                card_branch, issued_on, valid_from, valid_to, copay_ratio)
    VALUES (ins.insurer_id, nextval('onshikaku.card_id_seq'), qid, 'insurance_card', nullif(card_symbol, ''),
            card_num, res.card_branch, current_date, coalesce(card_valid_from, acquired_on),
            coalesce(card_valid_to, lost_on - 1), copay_ratio);

    INSERT INTO onshikaku.person_enrolment (link_number, insurer_id)
    VALUES (res.link_number, ins.insurer_id) ON CONFLICT DO NOTHING;
    RETURN res;
END
$$;
COMMENT ON FUNCTION onshikaku.enroll_member(integer, onshikaku.my_number, text, date, date, text, smallint, text, text, smallint, text, text, text, text, text, smallint, date, date, onshikaku.recipient_number, boolean, date, smallint) IS
    '資格取得: registers a person''s qualification, basic information, insurance card and My Number with an insurer (caller: onshikaku_number_handler acting for it). Issues or reuses the 被保険者枝番, the 紐付番号 and the card 枝番; refuses an overlapping qualification (23P01). See docs/flows.md.';

-- ---- bulk enrolment ------------------------------------------------------------------------

CREATE TYPE onshikaku.member_input AS (
    my_number            text,            -- validated as onshikaku.my_number (which is never stored)
    card_number          text,
    acquired_on          date,
    birth_date           date,
    card_symbol          text,
    insured_or_dependent smallint,
    name_on_card         text,
    name_on_card_kana    text,
    sex                  smallint,
    address              text,
    postcode             text,
    municipality_code    text,
    household_id         text,
    insured_person_name  text,
    copay_ratio          smallint,
    recipient_number     onshikaku.recipient_number,
    dv_nondisclosure     boolean
);
COMMENT ON TYPE onshikaku.member_input IS
    'One person to enrol with enroll_members(): the arguments of enroll_member() that a bulk load carries (NULL insured_or_dependent means 1, NULL dv_nondisclosure false).';

CREATE TYPE onshikaku.bulk_enrolment AS (
    ordinal               bigint,
    qualification_id      bigint,
    insured_branch_number onshikaku.insured_branch_number,
    link_number           onshikaku.link_number,
    card_branch           onshikaku.card_branch_number,
    reused_insured_branch_number boolean
);
COMMENT ON TYPE onshikaku.bulk_enrolment IS
    'What enroll_members() issued for the member at position ordinal (1-based) of its input.';

-- One insurer per call: every statement below then names one partition
-- (custom plans see the insurer), and the work table stays small.
CREATE FUNCTION onshikaku.enroll_members(insurer_id integer, members onshikaku.member_input[])
    RETURNS SETOF onshikaku.bulk_enrolment
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
    ins onshikaku.insurer;
    id integer;
    bad record;
    missing bigint;
BEGIN
    ins := onshikaku.flow_insurer(enroll_members.insurer_id, 'onshikaku_number_handler', 'qualification_history');
    id := ins.insurer_id;

    -- the input, numbered and checked (the caller's query built it with the
    -- caller's rights); the My Number is kept only encrypted and as its
    -- blind index, never in clear in this work table
    -- a work table of this session that anyone else made (with a trigger,
    -- say, that would run with this function's rights) is replaced
    IF EXISTS (SELECT FROM pg_class c WHERE c.oid = to_regclass('pg_temp.osk_bulk')
               AND (c.relowner <> current_user::regrole OR c.relhastriggers OR c.relhasrules OR c.relrowsecurity)) THEN
        DROP TABLE pg_temp.osk_bulk;
    END IF;
    IF to_regclass('pg_temp.osk_bulk') IS NULL THEN
    CREATE TEMP TABLE osk_bulk (
        ordinal bigint, problem text, enc onshikaku.encrypted, bi onshikaku.blind_index, card_number text,
        acquired_on date, birth_date date, card_symbol text, iod smallint, name_on_card text,
        name_on_card_kana text, sex smallint, address text, postcode text, municipality_code text,
        household_id text, insured_person_name text, copay_ratio smallint,
        recipient_number onshikaku.recipient_number, dv boolean, link onshikaku.link_number,
        ibn onshikaku.insured_branch_number, reused boolean, branch onshikaku.card_branch_number,
        had_branch boolean NOT NULL DEFAULT false, qid bigint, pmh onshikaku.pmh_id);
    END IF;
    TRUNCATE osk_bulk;
    INSERT INTO osk_bulk
    SELECT m.ordinal,
           CASE WHEN m.my_number IS NULL THEN 'my_number must not be NULL'
                WHEN NOT onshikaku.my_number_is_valid(m.my_number) THEN 'my_number is not a valid My Number'
                WHEN m.card_number IS NULL OR m.acquired_on IS NULL OR m.birth_date IS NULL
                     THEN 'card_number, acquired_on and birth_date must not be NULL'
                WHEN coalesce(m.card_symbol, '') !~ '^[0-9A-Za-z\-ー・]{0,38}$'
                     THEN 'card_symbol may hold up to 38 digits, letters, hyphens, ー and ・'
                WHEN m.card_number !~ '^[0-9A-Za-z\-]{1,38}$' THEN 'card_number must be 1 to 38 digits, letters or hyphens'
                WHEN m.sex NOT IN (1, 2, 3) THEN 'sex must be 1 (male), 2 (female) or 3 (other)'
                WHEN m.postcode !~ '^[0-9]{7}$' THEN 'postcode must be 7 digits'
                WHEN m.municipality_code !~ '^[0-9]{5,6}$' THEN 'municipality_code must be 5 or 6 digits'
                WHEN m.insured_or_dependent NOT IN (1, 2) THEN 'insured_or_dependent must be 1 (本人) or 2 (家族)'
                WHEN m.acquired_on < m.birth_date THEN 'acquired_on is before birth_date'
                WHEN m.birth_date > current_date THEN 'birth_date is in the future'
                WHEN m.copay_ratio NOT BETWEEN 0 AND 100 THEN 'copay_ratio is a percentage (0-100)'
           END,
           CASE WHEN onshikaku.my_number_is_valid(m.my_number) THEN
                CASE WHEN ins.insurer_number IS NULL
                     THEN onshikaku.protect_national(m.my_number::onshikaku.my_number, 'qualification.my_number')
                     ELSE onshikaku.protect(m.my_number::onshikaku.my_number, ins.insurer_number, 'qualification.my_number') END
           END,
           CASE WHEN onshikaku.my_number_is_valid(m.my_number)
                THEN onshikaku.blind_index_of(m.my_number::onshikaku.my_number) END,
           coalesce(m.card_number, CASE WHEN ins.kind = 'seikatsu_hogo' THEN m.recipient_number::text END),
           m.acquired_on, m.birth_date, coalesce(m.card_symbol, ''), coalesce(m.insured_or_dependent, 1),
           m.name_on_card, m.name_on_card_kana, m.sex, m.address, m.postcode, m.municipality_code,
           m.household_id, m.insured_person_name, m.copay_ratio, m.recipient_number,
           coalesce(m.dv_nondisclosure, false)
    FROM unnest(members) WITH ORDINALITY AS m(my_number, card_number, acquired_on, birth_date, card_symbol,
         insured_or_dependent, name_on_card, name_on_card_kana, sex, address, postcode, municipality_code,
         household_id, insured_person_name, copay_ratio, recipient_number, dv_nondisclosure, ordinal);
    ANALYZE osk_bulk;   -- without statistics the joins below would be nested loops

    SELECT b.ordinal, b.problem INTO bad FROM osk_bulk b WHERE b.problem IS NOT NULL ORDER BY b.ordinal LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'member %: %', bad.ordinal, bad.problem USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF ins.kind = 'seikatsu_hogo' THEN
        SELECT b.ordinal INTO bad FROM osk_bulk b WHERE b.recipient_number IS NULL ORDER BY b.ordinal LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'member %: a 生活保護 enrolment needs recipient_number (受給者番号)', bad.ordinal
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    SELECT b2.ordinal INTO bad FROM osk_bulk b1 JOIN osk_bulk b2 ON b2.bi = b1.bi AND b2.ordinal > b1.ordinal
    ORDER BY b2.ordinal LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'member %: the same person appears twice', bad.ordinal USING ERRCODE = 'exclusion_violation';
    END IF;

    -- link numbers: one per person nationally, drawn again on a collision
    LOOP
        -- (a person seen before conflicts on the blind index and is found below)
        INSERT INTO onshikaku.person (link_number, my_number_bi)
        SELECT onshikaku.new_link_number(), b.bi FROM osk_bulk b WHERE b.link IS NULL
        ON CONFLICT DO NOTHING;
        UPDATE osk_bulk b SET link = p.link_number, pmh = p.pmh_id
        FROM onshikaku.person p WHERE p.my_number_bi = b.bi AND b.link IS NULL;
        EXIT WHEN NOT EXISTS (SELECT FROM osk_bulk b WHERE b.link IS NULL);
    END LOOP;

    -- 被保険者枝番: the one registered (locked until commit), else a new one
    UPDATE osk_bulk b SET ibn = r.insured_branch_number, reused = true
    FROM (SELECT r.my_number_bi, r.insured_branch_number FROM onshikaku.registration_zone r
          WHERE r.insurer_id = id AND r.my_number_bi IN (SELECT b.bi FROM osk_bulk b) FOR UPDATE) r
    WHERE r.my_number_bi = b.bi;
    UPDATE onshikaku.registration_zone r SET prospective = false, removal_requested_at = NULL
    FROM osk_bulk b WHERE r.insurer_id = id AND b.reused AND r.my_number_bi = b.bi AND r.prospective;
    LOOP
        WITH added AS (
            INSERT INTO onshikaku.registration_zone (insurer_id, insured_branch_number, my_number_bi, link_number)
            SELECT id, onshikaku.new_insured_branch_number(), b.bi, b.link FROM osk_bulk b WHERE b.ibn IS NULL
            ON CONFLICT DO NOTHING
            RETURNING my_number_bi, insured_branch_number)
        UPDATE osk_bulk b SET ibn = a.insured_branch_number, reused = false FROM added a WHERE a.my_number_bi = b.bi;
        EXIT WHEN NOT EXISTS (SELECT FROM osk_bulk b WHERE b.ibn IS NULL);
        -- a conflict: a number drawn twice, or the person registered meanwhile
        UPDATE osk_bulk b SET ibn = r.insured_branch_number, reused = true
        FROM onshikaku.registration_zone r
        WHERE r.insurer_id = id AND b.ibn IS NULL AND r.my_number_bi = b.bi;
    END LOOP;

    -- one qualification at a time per person and insurer (bulk loads are open-ended)
    SELECT b.ordinal INTO bad FROM osk_bulk b
    WHERE b.reused AND EXISTS (
        SELECT FROM onshikaku.qualification q
        WHERE q.insurer_id = id AND q.insured_branch_number = b.ibn AND NOT q.deleted
          AND coalesce(q.lost_on, 'infinity') > b.acquired_on)
    ORDER BY b.ordinal LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'member %: this person already has a qualification with insurer % that overlaps the new one',
            bad.ordinal, id USING ERRCODE = 'exclusion_violation';
    END IF;

    -- card 枝番: the person's own, else 00 for the first insured person of a card
    -- when free, else the next free values of 01-99 in input order
    UPDATE osk_bulk b SET branch = c.card_branch, had_branch = true FROM onshikaku.card_branch_issue c
    WHERE b.reused AND c.insurer_id = id AND c.card_symbol = b.card_symbol AND c.card_number = b.card_number
      AND c.link_number = b.link;
    WITH scope AS (
        SELECT s.card_symbol, s.card_number,
               (SELECT array_agg(c.card_branch::text::smallint) FROM onshikaku.card_branch_issue c
                WHERE c.insurer_id = id AND c.card_symbol = s.card_symbol AND c.card_number = s.card_number) AS used
        FROM (SELECT DISTINCT card_symbol, card_number FROM osk_bulk WHERE branch IS NULL) s),
    zero AS (
        SELECT DISTINCT ON (b.card_symbol, b.card_number) b.ordinal
        FROM osk_bulk b JOIN scope s USING (card_symbol, card_number)
        WHERE b.branch IS NULL AND b.iod = 1 AND NOT coalesce(0::smallint = ANY (s.used), false)
        ORDER BY b.card_symbol, b.card_number, b.ordinal),
    ranked AS (
        SELECT b.ordinal, s.used,
               row_number() OVER (PARTITION BY b.card_symbol, b.card_number ORDER BY b.ordinal) AS k
        FROM osk_bulk b JOIN scope s USING (card_symbol, card_number)
        WHERE b.branch IS NULL AND b.ordinal NOT IN (SELECT ordinal FROM zero))
    UPDATE osk_bulk b SET branch = lpad(v.value::text, 2, '0')::onshikaku.card_branch_number
    FROM (SELECT ordinal, 0 AS value FROM zero
          UNION ALL
          -- the k-th value of 01-99 not used yet (a new card: simply k)
          SELECT ordinal, CASE WHEN used IS NULL THEN CASE WHEN k <= 99 THEN k END
                               ELSE (SELECT g FROM generate_series(1, 99) g WHERE g::smallint <> ALL (used)
                                     ORDER BY g OFFSET k - 1 LIMIT 1) END
          FROM ranked) v
    WHERE v.ordinal = b.ordinal AND v.value IS NOT NULL;
    SELECT b.ordinal INTO bad FROM osk_bulk b WHERE b.branch IS NULL ORDER BY b.ordinal LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'member %: every card branch number (枝番) of this card is in use', bad.ordinal
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    WITH wanted AS (
        SELECT b.card_symbol, b.card_number, b.branch, b.link FROM osk_bulk b WHERE NOT b.had_branch),
    added AS (
        INSERT INTO onshikaku.card_branch_issue (insurer_id, card_symbol, card_number, card_branch, link_number)
        SELECT id, w.card_symbol, w.card_number, w.branch, w.link FROM wanted w
        ON CONFLICT DO NOTHING
        RETURNING 1)
    SELECT (SELECT count(*) FROM wanted) - (SELECT count(*) FROM added) INTO missing;
    IF missing > 0 THEN
        RAISE EXCEPTION 'a concurrent enrolment took a card branch number (枝番) this load chose'
            USING ERRCODE = 'serialization_failure', HINT = 'Retry the load; nothing of it was written.';
    END IF;

    UPDATE osk_bulk b SET qid = nextval('onshikaku.qualification_id_seq');
    INSERT INTO onshikaku.qualification
        (insurer_id, qualification_id, insured_branch_number, link_number, my_number, my_number_bi,
         dv_nondisclosure, name_on_card, name_on_card_kana, sex1, birth_date, address, postcode,
         municipality_code, household_id, card_symbol, card_number, card_branch, acquired_on,
         insured_or_dependent, insured_person_name, public_payer_number, recipient_number, pmh_id, process_kind_code)
    SELECT id, b.qid, b.ibn, b.link, b.enc, b.bi, b.dv, b.name_on_card, b.name_on_card_kana, b.sex, b.birth_date,
           b.address, b.postcode, b.municipality_code, b.household_id, nullif(b.card_symbol, ''), b.card_number,
           b.branch, b.acquired_on, b.iod, b.insured_person_name, ins.public_payer_number, b.recipient_number,
           b.pmh, 'enrol'
    FROM osk_bulk b;
    INSERT INTO onshikaku.card (insurer_id, card_id, qualification_id, kind, card_symbol, card_number,
                                card_branch, issued_on, valid_from, copay_ratio)
    SELECT id, nextval('onshikaku.card_id_seq'), b.qid, 'insurance_card', nullif(b.card_symbol, ''),
           b.card_number, b.branch, current_date, b.acquired_on, b.copay_ratio
    FROM osk_bulk b;
    -- a person new to the insurer cannot have been enrolled with it before
    INSERT INTO onshikaku.person_enrolment (link_number, insurer_id)
    SELECT b.link, id FROM osk_bulk b WHERE NOT b.reused;
    INSERT INTO onshikaku.person_enrolment (link_number, insurer_id)
    SELECT b.link, id FROM osk_bulk b WHERE b.reused ON CONFLICT DO NOTHING;

    RETURN QUERY SELECT b.ordinal, b.qid, b.ibn, b.link, b.branch, b.reused FROM osk_bulk b ORDER BY b.ordinal;
    TRUNCATE osk_bulk;
END
$$;
COMMENT ON FUNCTION onshikaku.enroll_members(integer, onshikaku.member_input[]) IS
    '資格取得 in bulk: enroll_member() for many people of one insurer at once, set-based (SELECT * FROM enroll_members(id, ARRAY(SELECT ROW(…)::onshikaku.member_input FROM staging))). Same issuance rules and checks; the first bad member (by position) fails the whole call, nothing written. Open-ended qualifications only (record losses afterwards).';
REVOKE EXECUTE ON FUNCTION onshikaku.enroll_members(integer, onshikaku.member_input[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION onshikaku.enroll_members(integer, onshikaku.member_input[]) TO onshikaku_number_handler;

-- Items record_change() may change, each with the column of its change date.
CREATE TABLE onshikaku.changeable_item (
    item           name PRIMARY KEY,  -- 項目
    changed_column name               -- その変更年月日の列
);
COMMENT ON TABLE onshikaku.changeable_item IS
    '変更可能項目: the basic-information items onshikaku.record_change() may change, and the column that keeps each item''s change date.';
COMMENT ON COLUMN onshikaku.changeable_item.item IS '項目: a column of onshikaku.qualification';
COMMENT ON COLUMN onshikaku.changeable_item.changed_column IS '変更年月日の列: the column keeping its change date (NULL: the file keeps none)';
INSERT INTO onshikaku.changeable_item VALUES
    ('name_on_card', 'name_on_card_changed_on'), ('name_on_card_kana', 'name_on_card_kana_changed_on'),
    ('name_other', 'name_other_changed_on'), ('name_other_kana', 'name_other_kana_changed_on'),
    ('sex1', 'sex1_changed_on'), ('sex2', 'sex2_changed_on'), ('birth_date', 'birth_date_changed_on'),
    ('address', 'address_changed_on'), ('postcode', 'postcode_changed_on'), ('status', 'status_changed_on'),
    ('insured_or_dependent', 'insured_or_dependent_changed_on'),
    ('insured_person_name', 'insured_person_name_changed_on'),
    ('municipality_code', NULL), ('household_id', NULL), ('member_class_code', NULL),
    ('dv_nondisclosure', NULL), ('opt_out', NULL), ('self_info_refused', NULL), ('checkup_consent', NULL);
REVOKE ALL ON onshikaku.changeable_item FROM PUBLIC;
GRANT SELECT ON onshikaku.changeable_item TO onshikaku_insurer, onshikaku_admin;

CREATE FUNCTION onshikaku.record_change(insurer_id integer, qualification_id bigint, changes jsonb,
                                        changed_on date) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    ins onshikaku.insurer;
    q onshikaku.qualification;
    n onshikaku.qualification;
    unknown text;
    sets text;
BEGIN
    ins := onshikaku.flow_insurer(insurer_id, 'onshikaku_insurer', 'qualification_history');
    PERFORM onshikaku.require(ARRAY['qualification_id', 'changes', 'changed_on'],
                              ARRAY[qualification_id IS NOT NULL, changes IS NOT NULL, changed_on IS NOT NULL]);
    PERFORM onshikaku.refuse_if(jsonb_typeof(changes) <> 'object' OR changes = '{}',
                                'changes must be a non-empty JSON object of item: new value');
    SELECT k INTO unknown FROM jsonb_object_keys(changes) k
    WHERE k NOT IN (SELECT item FROM onshikaku.changeable_item) LIMIT 1;
    IF unknown IS NOT NULL THEN
        -- name the item only when it looks like a column name (never echo a value)
        RAISE EXCEPTION '%', CASE WHEN unknown ~ '^[a-z_]{1,40}$'
                                  THEN format('item "%s" cannot be changed by record_change()', unknown)
                                  ELSE 'changes holds a key that is not an item name' END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The changeable items are listed in onshikaku.changeable_item; a loss goes through record_loss().';
    END IF;
    SELECT * INTO q FROM onshikaku.qualification x
    WHERE x.insurer_id = ins.insurer_id AND x.qualification_id = $2 AND NOT x.deleted FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'qualification % of insurer % not found', $2, ins.insurer_id USING ERRCODE = 'no_data_found';
    END IF;
    -- the changed row, typed by the table (a bad value fails here, before any write)
    BEGIN
        n := jsonb_populate_record(q, changes);
    EXCEPTION WHEN data_exception THEN
        -- the server's message would quote the value
        RAISE EXCEPTION 'a value in changes does not fit its item''s type' USING ERRCODE = 'invalid_parameter_value';
    END;
    PERFORM onshikaku.check_basic_info(n.card_symbol, n.card_number, n.sex1, n.postcode, n.municipality_code,
                                       n.insured_or_dependent),
            onshikaku.refuse_if(n.sex2 NOT IN (1, 2, 3), 'sex2 must be 1, 2 or 3'),
            onshikaku.refuse_if(n.birth_date IS NULL OR n.birth_date > q.acquired_on,
                                'birth_date must be given and not after acquired_on'),
            onshikaku.refuse_if(changed_on < q.acquired_on, 'changed_on is before acquired_on'),
            onshikaku.refuse_if(n.dv_nondisclosure IS NULL OR n.opt_out IS NULL OR n.self_info_refused IS NULL
                                OR n.checkup_consent IS NULL, 'flags cannot be NULL');
    SELECT string_agg(format('%I = ($1).%I', c.item, c.item)
                      || CASE WHEN c.changed_column IS NOT NULL THEN format(', %I = $2', c.changed_column) ELSE '' END,
                      ', ')
    INTO sets
    FROM onshikaku.changeable_item c WHERE changes ? c.item;
    EXECUTE format('UPDATE onshikaku.qualification SET %s, history_seq = history_seq + 1, updated_at = now(), '
                   'process_kind_code = ''change'' WHERE insurer_id = %s AND qualification_id = %s',
                   sets, ins.insurer_id, q.qualification_id)
        USING n, changed_on;
    RETURN q.history_seq + 1;
END
$$;
COMMENT ON FUNCTION onshikaku.record_change(integer, bigint, jsonb, date) IS
    '資格変更: changes basic-information items of a qualification ({"address": "…", "postcode": "…"}), each with its change date where the file keeps one; returns the new 履歴通番. Unknown items, bad values and dates before acquisition: 22023, nothing written.';

CREATE FUNCTION onshikaku.record_loss(insurer_id integer, qualification_id bigint, lost_on date,
                                      loss_reason smallint) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    ins onshikaku.insurer;
    q onshikaku.qualification;
BEGIN
    ins := onshikaku.flow_insurer(insurer_id, 'onshikaku_insurer', 'qualification_history');
    PERFORM onshikaku.require(ARRAY['qualification_id', 'lost_on', 'loss_reason'],
                              ARRAY[qualification_id IS NOT NULL, lost_on IS NOT NULL, loss_reason IS NOT NULL]);
    SELECT * INTO q FROM onshikaku.qualification x
    WHERE x.insurer_id = ins.insurer_id AND x.qualification_id = $2 AND NOT x.deleted FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'qualification % of insurer % not found', $2, ins.insurer_id USING ERRCODE = 'no_data_found';
    END IF;
    IF q.lost_on IS NOT NULL THEN
        RAISE EXCEPTION 'qualification % was already lost on %', q.qualification_id, q.lost_on
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM onshikaku.refuse_if(lost_on <= q.acquired_on,
                                'lost_on must be after acquired_on (the loss date is the first day without qualification)');
    -- the My Numbers move to the data key of the loss year, which the purge
    -- destroys once every row under it is gone (docs/retention.md)
    UPDATE onshikaku.qualification x
    SET lost_on = $3, loss_reason = $4, history_seq = x.history_seq + 1, updated_at = now(),
        process_kind_code = 'loss',
        my_number = onshikaku.reencrypt(x.my_number, ins.insurer_number, 'qualification.my_number',
                                        extract(year FROM $3)::integer),
        updated_my_number = onshikaku.reencrypt(x.updated_my_number, ins.insurer_number, 'qualification.my_number',
                                                extract(year FROM $3)::integer)
    WHERE x.insurer_id = ins.insurer_id AND x.qualification_id = q.qualification_id;
    -- the cards end the day before the loss
    UPDATE onshikaku.card c SET valid_to = $3 - 1, updated_at = now()
    WHERE c.insurer_id = ins.insurer_id AND c.qualification_id = q.qualification_id
      AND (c.valid_to IS NULL OR c.valid_to >= $3) AND (c.valid_from IS NULL OR c.valid_from < $3);
END
$$;
COMMENT ON FUNCTION onshikaku.record_loss(integer, bigint, date, smallint) IS
    '資格喪失: records the loss date (資格喪失年月日, the first day without qualification) and reason; the cards end the day before; starts the retention clock. A second loss: 55000.';

CREATE FUNCTION onshikaku.add_certificate(insurer_id integer, qualification_id bigint,
        kind onshikaku.card_kind, valid_from date, valid_to date DEFAULT NULL,
        copay_ratio smallint DEFAULT NULL, applicable_class text DEFAULT NULL,
        long_term_admission_on date DEFAULT NULL, certified_disease_class text DEFAULT NULL,
        copay_limit integer DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    ins onshikaku.insurer;
    q onshikaku.qualification;
    id bigint;
BEGIN
    ins := onshikaku.flow_insurer(insurer_id, 'onshikaku_insurer', 'qualification_history');
    PERFORM onshikaku.require(ARRAY['qualification_id', 'kind', 'valid_from'],
                              ARRAY[qualification_id IS NOT NULL, kind IS NOT NULL, valid_from IS NOT NULL]);
    SELECT * INTO q FROM onshikaku.qualification x
    WHERE x.insurer_id = ins.insurer_id AND x.qualification_id = $2 AND NOT x.deleted;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'qualification % of insurer % not found', $2, ins.insurer_id USING ERRCODE = 'no_data_found';
    END IF;
    PERFORM onshikaku.refuse_if(valid_to < valid_from, 'valid_to is before valid_from'),
            onshikaku.refuse_if(valid_from < q.acquired_on, 'valid_from is before acquired_on'),
            onshikaku.refuse_if(valid_from >= q.lost_on, 'the qualification is lost on or before valid_from'),
            onshikaku.refuse_if(valid_to >= q.lost_on, 'valid_to must be before the loss date'),
            onshikaku.refuse_if(copay_ratio NOT BETWEEN 0 AND 100, 'copay_ratio is a percentage (0-100)');
    id := nextval('onshikaku.card_id_seq');
    INSERT INTO onshikaku.card (insurer_id, card_id, qualification_id, kind, card_symbol, card_number, card_branch,
                                issued_on, valid_from, valid_to, copay_ratio, applicable_class,
                                long_term_admission_on, certified_disease_class, copay_limit)
    VALUES (ins.insurer_id, id, q.qualification_id, kind, q.card_symbol, q.card_number, q.card_branch,
            current_date, valid_from, coalesce(valid_to, q.lost_on - 1), copay_ratio, applicable_class,
            long_term_admission_on, certified_disease_class, copay_limit);
    RETURN id;
END
$$;
COMMENT ON FUNCTION onshikaku.add_certificate(integer, bigint, onshikaku.card_kind, date, date, smallint, text, date, text, integer) IS
    '証の交付: adds a certificate (高齢受給者証, 限度額適用認定証, 特定疾病療養受療証 or a new 被保険者証) to a qualification; returns its card_id.';

-- ---- confirmation (OQS) ---------------------------------------------------------------

CREATE TYPE onshikaku.confirmation AS (
    status                text,        -- qualified | lost | not_yet_qualified | not_found
    insurer_number        onshikaku.insurer_number,
    card_symbol           text,
    card_number           text,
    card_branch           onshikaku.card_branch_number,
    name_on_card          text,
    name_on_card_kana     text,
    sex                   smallint,
    birth_date            date,
    insured_or_dependent  smallint,
    insured_person_name   text,
    acquired_on           date,
    lost_on               date,
    loss_reason           smallint,
    address               text,
    postcode              text,
    nondisclosure         boolean,
    copay_ratio           smallint,
    elderly_recipient_valid_to date,
    limit_applicable_class text,
    limit_long_term_admission_on date,
    specific_disease_class text,
    specific_disease_copay_limit integer,
    consent_items_withheld boolean
);
COMMENT ON TYPE onshikaku.confirmation IS
    'オンライン資格確認の回答: the answer items of a confirmation; 限度額 and 特定疾病 items only with the patient''s consent, no address under DV support measures, no personal number.';

CREATE FUNCTION onshikaku.confirm_qualification(insurer_number onshikaku.insurer_number, card_symbol text,
        card_number text, card_branch onshikaku.card_branch_number, birth_date date,
        on_date date DEFAULT current_date, consent boolean DEFAULT false)
    RETURNS onshikaku.confirmation
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'osk_confirm_qualification';
COMMENT ON FUNCTION onshikaku.confirm_qualification(onshikaku.insurer_number, text, text, onshikaku.card_branch_number, date, date, boolean) IS
    'オンライン資格確認 by card (保険者番号, 記号 (NULL for none), 番号, 枝番) and birth date, on a date: status and answer items. Callers: onshikaku_oqs_feed. A wrong birth date answers not_found.';

CREATE FUNCTION onshikaku.confirm_qualification_by_link(link_number onshikaku.link_number, birth_date date,
        on_date date DEFAULT current_date, consent boolean DEFAULT false)
    RETURNS SETOF onshikaku.confirmation
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    e record;
    c record;
    found_any boolean := false;
BEGIN
    PERFORM onshikaku.caller_check(NULL, 'onshikaku_oqs_feed');
    PERFORM onshikaku.require(ARRAY['link_number', 'birth_date', 'on_date', 'consent'],
                              ARRAY[link_number IS NOT NULL, birth_date IS NOT NULL, on_date IS NOT NULL,
                                    consent IS NOT NULL]);
    FOR e IN SELECT pe.insurer_id, i.insurer_number FROM onshikaku.person_enrolment pe
             JOIN onshikaku.insurer i USING (insurer_id)
             WHERE pe.link_number = link_number ORDER BY pe.insurer_id LOOP
        -- the partition by name: one relation planned and locked
        FOR c IN EXECUTE format('SELECT DISTINCT ON (card_symbol, card_number, card_branch) card_symbol, card_number, card_branch '
                                'FROM onshikaku.%I WHERE link_number OPERATOR(onshikaku.=) $1 AND NOT deleted '
                                'AND birth_date = $2 AND acquired_on <= $3 AND (lost_on IS NULL OR lost_on > $3)',
                                'qualification_' || e.insurer_id)
                 USING link_number, birth_date, on_date LOOP
            IF e.insurer_number IS NULL THEN
                RETURN QUERY SELECT 'qualified'::text, NULL::onshikaku.insurer_number, c.card_symbol, c.card_number,
                                    c.card_branch, NULL::text, NULL::text, NULL::smallint, birth_date,
                                    NULL::smallint, NULL::text, NULL::date, NULL::date, NULL::smallint, NULL::text,
                                    NULL::text, NULL::boolean, NULL::smallint, NULL::date, NULL::text, NULL::date,
                                    NULL::text, NULL::integer, NOT consent;
            ELSE
                RETURN NEXT onshikaku.confirm_qualification(e.insurer_number, c.card_symbol, c.card_number,
                                                            c.card_branch, birth_date, on_date, consent);
            END IF;
            found_any := true;
        END LOOP;
    END LOOP;
    IF NOT found_any THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::onshikaku.insurer_number, NULL::text, NULL::text,
                            NULL::onshikaku.card_branch_number, NULL::text, NULL::text, NULL::smallint, NULL::date,
                            NULL::smallint, NULL::text, NULL::date, NULL::date, NULL::smallint, NULL::text,
                            NULL::text, NULL::boolean, NULL::smallint, NULL::date, NULL::text, NULL::date,
                            NULL::text, NULL::integer, NULL::boolean;
    END IF;
END
$$;
COMMENT ON FUNCTION onshikaku.confirm_qualification_by_link(onshikaku.link_number, date, date, boolean) IS
    'オンライン資格確認 by link number (the My Number card path): one confirmation row per qualification valid on the date across insurers, or one not_found row. Callers: onshikaku_oqs_feed. No My Number in or out.';

REVOKE EXECUTE ON FUNCTION
    onshikaku.confirm_qualification(onshikaku.insurer_number, text, text, onshikaku.card_branch_number, date, date, boolean),
    onshikaku.confirm_qualification_by_link(onshikaku.link_number, date, date, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    onshikaku.confirm_qualification(onshikaku.insurer_number, text, text, onshikaku.card_branch_number, date, date, boolean),
    onshikaku.confirm_qualification_by_link(onshikaku.link_number, date, date, boolean) TO onshikaku_oqs_feed;

-- ---- the PMH flow -----------------------------------------------------------------------

CREATE TYPE onshikaku.pmh_outcome AS ENUM ('issued', 'already_issued', 'not_found');
COMMENT ON TYPE onshikaku.pmh_outcome IS
    'Outcome of issue_pmh_id(): a new PMH-ID, the one issued before, or no such person (nothing written).';
CREATE TYPE onshikaku.pmh_answer AS (
    outcome   onshikaku.pmh_outcome,
    my_number text,               -- the My Number exactly as received
    pmh_id    onshikaku.pmh_id
);
COMMENT ON TYPE onshikaku.pmh_answer IS 'The answer to the PMH gateway: (outcome, the My Number exactly as received, PMH-ID).';

CREATE FUNCTION onshikaku.issue_pmh_id(my_number text) RETURNS onshikaku.pmh_answer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    ins integer;
    bi onshikaku.blind_index;
    link onshikaku.link_number;
    id onshikaku.pmh_id;
BEGIN
    PERFORM onshikaku.caller_check(NULL, 'onshikaku_pmh_gateway');
    PERFORM onshikaku.require(ARRAY['my_number'], ARRAY[my_number IS NOT NULL]);
    bi := onshikaku.blind_index_of(my_number::onshikaku.my_number);   -- 22P02 when invalid, never echoing it
    SELECT p.link_number, p.pmh_id INTO link, id FROM onshikaku.person p WHERE p.my_number_bi = bi FOR UPDATE;
    IF NOT FOUND THEN
        RETURN ROW('not_found', my_number, NULL)::onshikaku.pmh_answer;
    END IF;
    IF id IS NOT NULL THEN
        RETURN ROW('already_issued', my_number, id)::onshikaku.pmh_answer;
    END IF;
    LOOP
        id := onshikaku.new_pmh_id();
        EXIT WHEN NOT EXISTS (SELECT FROM onshikaku.person p WHERE p.pmh_id = id);
    END LOOP;
    UPDATE onshikaku.person p SET pmh_id = id, pmh_issued_at = now() WHERE p.link_number = link;
    INSERT INTO onshikaku.pmh_issuance_log (link_number, pmh_id) VALUES (link, id);
    -- the qualification rows carry the PMH-ID to the OQS feed: one insurer at
    -- a time, so that each statement is planned for (and locks) one partition
    -- (an IN (subquery) would plan and lock all 3,500)
    FOR ins IN SELECT pe.insurer_id FROM onshikaku.person_enrolment pe WHERE pe.link_number = link LOOP
        UPDATE onshikaku.qualification q SET pmh_id = id, updated_at = now()
        WHERE q.insurer_id = ins AND q.link_number = link;
    END LOOP;
    RETURN ROW('issued', my_number, id)::onshikaku.pmh_answer;
END
$$;
COMMENT ON FUNCTION onshikaku.issue_pmh_id(text) IS
    'PMH-ID発行: finds the person by blind index, issues a PMH-ID (CSPRNG + Luhn, unique) or returns the one issued, logs (紐付番号, PMH-ID) for the OQS feed and answers (outcome, the My Number exactly as received, PMH-ID). The received number is never stored. Unknown person: outcome not_found, nothing written. Callers: onshikaku_pmh_gateway.';
REVOKE EXECUTE ON FUNCTION onshikaku.issue_pmh_id(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION onshikaku.issue_pmh_id(text) TO onshikaku_pmh_gateway;

-- ---- agency codes, provision and inquiry (simulated network) ------------------------------

CREATE FUNCTION onshikaku.record_agency_code(insurer_id integer,
        insured_branch_number onshikaku.insured_branch_number, code text, reissue boolean DEFAULT false)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    ins onshikaku.insurer;
    link onshikaku.link_number;
    existing boolean;
BEGIN
    ins := onshikaku.flow_insurer(insurer_id, 'onshikaku_number_handler', 'agency_code');
    PERFORM onshikaku.require(ARRAY['insured_branch_number', 'code', 'reissue'],
                              ARRAY[insured_branch_number IS NOT NULL, code IS NOT NULL, reissue IS NOT NULL]);
    SELECT r.link_number INTO link FROM onshikaku.registration_zone r
    WHERE r.insurer_id = ins.insurer_id AND r.insured_branch_number = $2;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no person with this 被保険者枝番 is registered with insurer %', ins.insurer_id
            USING ERRCODE = 'no_data_found';
    END IF;
    SELECT true INTO existing FROM onshikaku.agency_code a WHERE a.link_number = link FOR UPDATE;
    IF existing AND NOT reissue THEN
        -- one code per person across insurers: link this insurer to the code already held
        NULL;
    ELSIF existing THEN
        UPDATE onshikaku.agency_code a
        SET code = onshikaku.protect_code(code, NULL, 'agency_code'), reissue = true, acquisition_status = 1,
            status_updated_at = now(), received_at = now(), set_at = now(), updated_at = now()
        WHERE a.link_number = link;
    ELSE
        INSERT INTO onshikaku.agency_code (link_number, code, acquisition_status, status_updated_at,
                                           requested_at, received_at, set_at)
        VALUES (link, onshikaku.protect_code(code, NULL, 'agency_code'), 1, now(), now(), now(), now());
    END IF;
    INSERT INTO onshikaku.agency_code_link (insurer_id, insured_branch_number, link_number)
    VALUES (ins.insurer_id, $2, link)
    ON CONFLICT ON CONSTRAINT agency_code_link_pkey DO UPDATE SET updated_at = now();
END
$$;
COMMENT ON FUNCTION onshikaku.record_agency_code(integer, onshikaku.insured_branch_number, text, boolean) IS
    '機関別符号の取得: records the agency code of a registered person (one per person across insurers; a second insurer links to the code already held; reissue replaces it and sets the reissue flag). The code is stored encrypted under the national key.';

CREATE FUNCTION onshikaku.put_copy(insurer_id integer, insured_branch_number onshikaku.insured_branch_number,
        item_name text, content jsonb, no_auto_response boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    ins onshikaku.insurer;
BEGIN
    ins := onshikaku.flow_insurer(insurer_id, 'onshikaku_insurer', 'nws_provision');
    PERFORM onshikaku.require(ARRAY['insured_branch_number', 'item_name', 'content', 'no_auto_response'],
                              ARRAY[insured_branch_number IS NOT NULL, item_name IS NOT NULL, content IS NOT NULL,
                                    no_auto_response IS NOT NULL]);
    PERFORM onshikaku.refuse_if(NOT EXISTS (SELECT FROM onshikaku.registration_zone r
                                            WHERE r.insurer_id = ins.insurer_id AND r.insured_branch_number = $2),
                                'no person with this 被保険者枝番 is registered with this insurer');
    INSERT INTO onshikaku.copy_zone AS c (insurer_id, insured_branch_number, item_name, content, no_auto_response)
    VALUES (ins.insurer_id, $2, item_name, content, no_auto_response)
    ON CONFLICT ON CONSTRAINT copy_zone_pkey
    DO UPDATE SET content = EXCLUDED.content, no_auto_response = EXCLUDED.no_auto_response, updated_at = now();
END
$$;
COMMENT ON FUNCTION onshikaku.put_copy(integer, onshikaku.insured_branch_number, text, jsonb, boolean) IS
    '副本登録: puts (or replaces) a copy (副本) of an item for provision through the network; no_auto_response holds it back for manual confirmation.';

CREATE TYPE onshikaku.provision_answer AS (
    outcome      text,        -- provided | held_for_manual_confirmation (no-auto-response copy or opt-out) | not_allowed | no_copy
    provision_id bigint,
    content      jsonb
);
COMMENT ON TYPE onshikaku.provision_answer IS 'The answer to a provision request through the network (simulated).';

CREATE FUNCTION onshikaku.provide_information(insurer_id integer, link_number onshikaku.link_number,
        office_work_name text, procedure_name text, item_name text, inquirer_department text,
        processing_serial text, requested_at timestamptz DEFAULT now())
    RETURNS onshikaku.provision_answer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    ins onshikaku.insurer;
    ibn onshikaku.insured_branch_number;
    code onshikaku.encrypted;
    cz onshikaku.copy_zone;
    ans onshikaku.provision_answer;
    nondisclosure text;
BEGIN
    ins := onshikaku.flow_insurer(insurer_id, 'onshikaku_insurer', 'nws_provision');
    PERFORM onshikaku.require(ARRAY['link_number', 'office_work_name', 'procedure_name', 'item_name',
                                    'inquirer_department', 'processing_serial', 'requested_at'],
                              ARRAY[link_number IS NOT NULL, office_work_name IS NOT NULL, procedure_name IS NOT NULL,
                                    item_name IS NOT NULL, inquirer_department IS NOT NULL,
                                    processing_serial IS NOT NULL, requested_at IS NOT NULL]);
    -- the copy in the log is under the national key of the request's year,
    -- destroyed once the 7 years of every record under it have passed
    SELECT onshikaku.reencrypt(a.code, NULL, 'agency_code', extract(year FROM requested_at AT TIME ZONE 'Asia/Tokyo')::integer)
    INTO code FROM onshikaku.agency_code a WHERE a.link_number = $2;
    SELECT r.insured_branch_number INTO ibn FROM onshikaku.registration_zone r
    WHERE r.insurer_id = ins.insurer_id AND r.link_number = $2;
    IF NOT EXISTS (SELECT FROM onshikaku.provision_allow_list l
                   WHERE l.office_work_name = $3 AND l.procedure_name = $4 AND l.item_name = $5) THEN
        ans.outcome := 'not_allowed';
        nondisclosure := 'NOT_ALLOWED';
    ELSE
        SELECT * INTO cz FROM onshikaku.copy_zone c
        WHERE c.insurer_id = ins.insurer_id AND c.insured_branch_number = ibn AND c.item_name = $5;
        IF NOT FOUND THEN
            ans.outcome := 'no_copy';
            nondisclosure := 'NO_COPY';
        ELSIF cz.no_auto_response THEN
            ans.outcome := 'held_for_manual_confirmation';
            nondisclosure := 'MANUAL';
        ELSIF EXISTS (SELECT FROM onshikaku.qualification q
                      WHERE q.insurer_id = ins.insurer_id AND q.insured_branch_number = ibn AND NOT q.deleted
                        AND q.opt_out) THEN
            -- the person asked that nothing be provided automatically (オプトアウト)
            ans.outcome := 'held_for_manual_confirmation';
            nondisclosure := 'OPT_OUT';
        ELSE
            ans.outcome := 'provided';
            ans.content := cz.content;
        END IF;
    END IF;
    ans.provision_id := nextval('onshikaku.provision_id_seq');
    INSERT INTO onshikaku.provision_log (insurer_id, provision_id, direction, agency_code, processing_serial,
        office_work_name, procedure_name, inquirer_department, provider_department, requested_at, provided_at,
        item_name, nondisclosure_code, insured_branch_number)
    VALUES (ins.insurer_id, ans.provision_id, 'provision', code, processing_serial, office_work_name,
            procedure_name, inquirer_department, ins.name, requested_at,
            CASE WHEN ans.outcome = 'provided' THEN now() END, item_name, nondisclosure, ibn);
    RETURN ans;
END
$$;
COMMENT ON FUNCTION onshikaku.provide_information(integer, onshikaku.link_number, text, text, text, text, text, timestamptz) IS
    '情報提供 (simulated network): answers a provision request from the insurer''s copy zone if the allow-list permits it; no_auto_response items, and people who opted out (オプトアウト), are held for manual confirmation; every request, answered or not, appends to the provision log.';

CREATE FUNCTION onshikaku.record_inquiry(insurer_id integer,
        insured_branch_number onshikaku.insured_branch_number, office_work_name text, procedure_name text,
        item_name text, provider_department text, processing_serial text,
        requested_at timestamptz DEFAULT now()) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    ins onshikaku.insurer;
    link onshikaku.link_number;
    id bigint;
BEGIN
    ins := onshikaku.flow_insurer(insurer_id, 'onshikaku_insurer', 'nws_provision');
    PERFORM onshikaku.require(ARRAY['insured_branch_number', 'office_work_name', 'procedure_name', 'item_name',
                                    'provider_department', 'processing_serial', 'requested_at'],
                              ARRAY[insured_branch_number IS NOT NULL, office_work_name IS NOT NULL,
                                    procedure_name IS NOT NULL, item_name IS NOT NULL,
                                    provider_department IS NOT NULL, processing_serial IS NOT NULL,
                                    requested_at IS NOT NULL]);
    SELECT r.link_number INTO link FROM onshikaku.registration_zone r
    WHERE r.insurer_id = ins.insurer_id AND r.insured_branch_number = $2;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no person with this 被保険者枝番 is registered with insurer %', ins.insurer_id
            USING ERRCODE = 'no_data_found';
    END IF;
    id := nextval('onshikaku.provision_id_seq');
    INSERT INTO onshikaku.provision_log (insurer_id, provision_id, direction, agency_code, processing_serial,
        office_work_name, procedure_name, inquirer_department, provider_department, requested_at, item_name,
        insured_branch_number)
    SELECT ins.insurer_id, id, 'inquiry',
           (SELECT onshikaku.reencrypt(a.code, NULL, 'agency_code',
                                       extract(year FROM requested_at AT TIME ZONE 'Asia/Tokyo')::integer)
            FROM onshikaku.agency_code a WHERE a.link_number = link),
           processing_serial, office_work_name, procedure_name, ins.name, provider_department, requested_at,
           item_name, $2;
    RETURN id;
END
$$;
COMMENT ON FUNCTION onshikaku.record_inquiry(integer, onshikaku.insured_branch_number, text, text, text, text, text, timestamptz) IS
    '情報照会: records an inquiry the insurer makes through the network in its provision log; returns the record id.';

-- ---- identity checks ---------------------------------------------------------------------

CREATE FUNCTION onshikaku.request_identity_check(insurer_id integer, request_kind text,
        my_number onshikaku.my_number DEFAULT NULL, name text DEFAULT NULL, name_kana text DEFAULT NULL,
        birth_date date DEFAULT NULL, sex smallint DEFAULT NULL, address text DEFAULT NULL,
        use_reason text DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    ins onshikaku.insurer;
    id bigint;
BEGIN
    ins := onshikaku.flow_insurer(insurer_id, 'onshikaku_number_handler', 'identity_check');
    PERFORM onshikaku.require(ARRAY['request_kind'], ARRAY[request_kind IS NOT NULL]);
    PERFORM onshikaku.refuse_if(request_kind NOT IN ('my_number', 'basic4'),
                                'request_kind is my_number (個人番号取得: from the basic 4 facts) or basic4 (基本4情報取得: from a My Number)'),
            onshikaku.refuse_if(request_kind = 'basic4' AND my_number IS NULL, 'a basic4 request needs my_number'),
            onshikaku.refuse_if(request_kind = 'my_number' AND (name IS NULL OR birth_date IS NULL OR sex IS NULL OR address IS NULL),
                                'a my_number request needs the basic 4 facts: name, birth_date, sex, address'),
            onshikaku.refuse_if(request_kind = 'my_number' AND my_number IS NOT NULL, 'a my_number request must not carry a My Number'),
            onshikaku.refuse_if(sex NOT IN (1, 2, 3), 'sex must be 1, 2 or 3');
    IF request_kind = 'my_number' AND NOT (SELECT idv_my_number FROM onshikaku.insurer_kind_capability WHERE kind = ins.kind)
       OR request_kind = 'basic4' AND NOT (SELECT idv_basic4 FROM onshikaku.insurer_kind_capability WHERE kind = ins.kind) THEN
        RAISE EXCEPTION 'a % does not use this kind of identity check', ins.kind USING ERRCODE = 'feature_not_supported';
    END IF;
    id := nextval('onshikaku.check_id_seq');
    INSERT INTO onshikaku.identity_check (insurer_id, check_id, request_kind, main_condition, my_number, name,
                                          name_kana, birth_date, sex, address, use_reason)
    VALUES (ins.insurer_id, id, request_kind, request_kind,
            CASE WHEN my_number IS NULL THEN NULL
                 WHEN ins.insurer_number IS NULL THEN onshikaku.protect_national(my_number, 'identity_check.my_number')
                 ELSE onshikaku.protect(my_number, ins.insurer_number, 'identity_check.my_number') END,
            name, name_kana, birth_date, sex, address, use_reason);
    RETURN id;
END
$$;
COMMENT ON FUNCTION onshikaku.request_identity_check(integer, text, onshikaku.my_number, text, text, date, smallint, text, text) IS
    '本人確認の要求: an identity check by the basic 4 facts (request_kind my_number: asks for the My Number) or by My Number (basic4: asks for the 4 facts); returns the check id.';

CREATE FUNCTION onshikaku.record_identity_check_result(insurer_id integer, check_id bigint,
        my_number onshikaku.my_number DEFAULT NULL, name text DEFAULT NULL, name_kana text DEFAULT NULL,
        birth_date date DEFAULT NULL, sex smallint DEFAULT NULL, address text DEFAULT NULL,
        alive_status text DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    ins onshikaku.insurer;
    ic onshikaku.identity_check;
BEGIN
    ins := onshikaku.flow_insurer(insurer_id, 'onshikaku_number_handler', 'identity_check');
    SELECT * INTO ic FROM onshikaku.identity_check x
    WHERE x.insurer_id = ins.insurer_id AND x.check_id = $2 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'identity check % of insurer % not found', $2, ins.insurer_id USING ERRCODE = 'no_data_found';
    END IF;
    IF ic.answered_at IS NOT NULL THEN
        RAISE EXCEPTION 'identity check % already has its result', $2 USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM onshikaku.refuse_if(ic.request_kind = 'my_number' AND my_number IS NULL, 'the result of a my_number request is a My Number'),
            onshikaku.refuse_if(ic.request_kind = 'basic4' AND my_number IS NOT NULL, 'the result of a basic4 request is the basic 4 facts'),
            onshikaku.refuse_if(sex NOT IN (1, 2, 3), 'sex must be 1, 2 or 3');
    UPDATE onshikaku.identity_check x
    SET my_number = CASE WHEN ic.request_kind = 'basic4' THEN x.my_number
                         WHEN ins.insurer_number IS NULL THEN onshikaku.protect_national(my_number, 'identity_check.my_number')
                         ELSE onshikaku.protect(my_number, ins.insurer_number, 'identity_check.my_number') END,
        name = coalesce($4, x.name), name_kana = coalesce($5, x.name_kana), birth_date = coalesce($6, x.birth_date),
        sex = coalesce($7, x.sex), address = coalesce($8, x.address), alive_status = alive_status,
        answered_at = now()
    WHERE x.insurer_id = ins.insurer_id AND x.check_id = $2;
END
$$;
COMMENT ON FUNCTION onshikaku.record_identity_check_result(integer, bigint, onshikaku.my_number, text, text, date, smallint, text, text) IS
    '本人確認の結果: records the answer of J-LIS (simulated) to an identity check: a My Number for a my_number request, the basic 4 facts for a basic4 request.';

CREATE TYPE onshikaku.identity_check_result AS (
    check_id     bigint,
    request_kind text,
    my_number    text,     -- revealed (logged) for a my_number request
    name         text,
    name_kana    text,
    birth_date   date,
    sex          smallint,
    address      text,
    alive_status text
);
COMMENT ON TYPE onshikaku.identity_check_result IS 'A delivered identity check result.';

CREATE FUNCTION onshikaku.deliver_identity_check(insurer_id integer, check_id bigint)
    RETURNS onshikaku.identity_check_result
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    ins onshikaku.insurer;
    ic onshikaku.identity_check;
    res onshikaku.identity_check_result;
BEGIN
    ins := onshikaku.flow_insurer(insurer_id, 'onshikaku_number_handler', 'identity_check');
    DELETE FROM onshikaku.identity_check x
    WHERE x.insurer_id = ins.insurer_id AND x.check_id = $2 AND x.answered_at IS NOT NULL
    RETURNING * INTO ic;
    IF NOT FOUND THEN
        IF EXISTS (SELECT FROM onshikaku.identity_check x WHERE x.insurer_id = ins.insurer_id AND x.check_id = $2) THEN
            RAISE EXCEPTION 'identity check % has no result yet', $2 USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        RAISE EXCEPTION 'identity check % of insurer % not found (a delivered check is deleted)', $2, ins.insurer_id
            USING ERRCODE = 'no_data_found';
    END IF;
    res := ROW(ic.check_id, ic.request_kind,
               CASE WHEN ic.request_kind = 'my_number'
                    THEN onshikaku.reveal(ic.my_number, ins.insurer_number, 'identity_check.my_number',
                                          'identity_check:' || ins.insurer_id || ':' || ic.check_id, 'identity check delivery') END,
               ic.name, ic.name_kana, ic.birth_date, ic.sex, ic.address, ic.alive_status);
    RETURN res;
END
$$;
COMMENT ON FUNCTION onshikaku.deliver_identity_check(integer, bigint) IS
    '本人確認の結果提供: returns an answered identity check and deletes it in the same transaction (001:L5885); a My Number in the result is revealed through reveal() (logged).';

-- ---- マイナポータル link information --------------------------------------------------------

CREATE FUNCTION onshikaku.myportal_link(insurer_id integer, insured_branch_number onshikaku.insured_branch_number,
        on_date date DEFAULT current_date,
        OUT insurer_number onshikaku.insurer_number, OUT card_symbol text, OUT card_number text,
        OUT card_branch onshikaku.card_branch_number, OUT public_payer_number onshikaku.public_payer_number,
        OUT recipient_number onshikaku.recipient_number)
    RETURNS SETOF record
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    ins onshikaku.insurer;
BEGIN
    ins := onshikaku.flow_insurer(insurer_id, 'onshikaku_insurer', 'myportal_link');
    RETURN QUERY
        SELECT ins.insurer_number,
               CASE WHEN ins.kind <> 'seikatsu_hogo' THEN q.card_symbol END,
               CASE WHEN ins.kind <> 'seikatsu_hogo' THEN q.card_number END,
               CASE WHEN ins.kind <> 'seikatsu_hogo' THEN q.card_branch END,
               ins.public_payer_number,
               CASE WHEN ins.kind = 'seikatsu_hogo' THEN q.recipient_number END
        FROM onshikaku.qualification q
        WHERE q.insurer_id = ins.insurer_id AND q.insured_branch_number = $2 AND NOT q.deleted
          AND q.acquired_on <= on_date AND (q.lost_on IS NULL OR q.lost_on > on_date);
END
$$;
COMMENT ON FUNCTION onshikaku.myportal_link(integer, onshikaku.insured_branch_number, date) IS
    'マイナポータル連携情報: 保険者番号・記号・番号・枝番 of a person''s qualification valid on the date (生活保護: 公費負担者番号・受給者番号).';

-- ---- who may call what ------------------------------------------------------------------------

REVOKE EXECUTE ON FUNCTION
    onshikaku.enroll_member(integer, onshikaku.my_number, text, date, date, text, smallint, text, text, smallint, text, text, text, text, text, smallint, date, date, onshikaku.recipient_number, boolean, date, smallint),
    onshikaku.record_change(integer, bigint, jsonb, date),
    onshikaku.record_loss(integer, bigint, date, smallint),
    onshikaku.add_certificate(integer, bigint, onshikaku.card_kind, date, date, smallint, text, date, text, integer),
    onshikaku.record_agency_code(integer, onshikaku.insured_branch_number, text, boolean),
    onshikaku.put_copy(integer, onshikaku.insured_branch_number, text, jsonb, boolean),
    onshikaku.provide_information(integer, onshikaku.link_number, text, text, text, text, text, timestamptz),
    onshikaku.record_inquiry(integer, onshikaku.insured_branch_number, text, text, text, text, text, timestamptz),
    onshikaku.request_identity_check(integer, text, onshikaku.my_number, text, text, date, smallint, text, text),
    onshikaku.record_identity_check_result(integer, bigint, onshikaku.my_number, text, text, date, smallint, text, text),
    onshikaku.deliver_identity_check(integer, bigint),
    onshikaku.myportal_link(integer, onshikaku.insured_branch_number, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    onshikaku.enroll_member(integer, onshikaku.my_number, text, date, date, text, smallint, text, text, smallint, text, text, text, text, text, smallint, date, date, onshikaku.recipient_number, boolean, date, smallint),
    onshikaku.record_agency_code(integer, onshikaku.insured_branch_number, text, boolean),
    onshikaku.request_identity_check(integer, text, onshikaku.my_number, text, text, date, smallint, text, text),
    onshikaku.record_identity_check_result(integer, bigint, onshikaku.my_number, text, text, date, smallint, text, text),
    onshikaku.deliver_identity_check(integer, bigint) TO onshikaku_number_handler;
GRANT EXECUTE ON FUNCTION
    onshikaku.record_change(integer, bigint, jsonb, date),
    onshikaku.record_loss(integer, bigint, date, smallint),
    onshikaku.add_certificate(integer, bigint, onshikaku.card_kind, date, date, smallint, text, date, text, integer),
    onshikaku.put_copy(integer, onshikaku.insured_branch_number, text, jsonb, boolean),
    onshikaku.provide_information(integer, onshikaku.link_number, text, text, text, text, text, timestamptz),
    onshikaku.record_inquiry(integer, onshikaku.insured_branch_number, text, text, text, text, text, timestamptz),
    onshikaku.myportal_link(integer, onshikaku.insured_branch_number, date) TO onshikaku_insurer;

-- ---- extension/sql/50_retention.sql ----
-- 50_retention.sql: retention purging (layer 5).
--
-- The rules as data, holds, the purge (a procedure that commits per batch
-- around a SECURITY DEFINER batch function), deletion records (消去記録)
-- and the destruction of the data keys of what was purged.  Dates follow
-- PRODUCT.md: "N years after D" ends with the day D + N years (Feb 29 ->
-- Feb 28), and a row is purgeable from the day after; timestamps are judged
-- by their calendar day in Asia/Tokyo.  docs/retention.md explains it all.

-- ---- the rules ---------------------------------------------------------------------------

CREATE TABLE onshikaku.retention_rule (
    data_class      text PRIMARY KEY,        -- データ区分
    rule            text NOT NULL,           -- 規則
    period          interval NOT NULL,       -- 保存期間 (N years after the event)
    oqs_need_period interval,                -- OQS必要期間 (a second period that must also have passed)
    event           text NOT NULL,           -- 起算日 (what D is)
    source          text NOT NULL            -- 根拠
);
COMMENT ON TABLE onshikaku.retention_rule IS
    '保存期間: the retention rule of each class of data, with the default periods; an operator overrides a period with set_retention_period() (onshikaku.retention_override), and the purge reads the effective rules (onshikaku.retention_rules) on every run.';
INSERT INTO onshikaku.retention_rule VALUES
    ('qualification', '5 years after the loss of qualification with the insurer, and the OQS need period',
     '5 years', '5 years', 'the person''s last loss date with the insurer (no qualification still open)', '001:L2852, L2865-2873, L6838-6844'),
    ('agency_code', '5 years after the loss of qualification with every insurer, and the OQS need period',
     '5 years', '5 years', 'the person''s last loss date with any insurer (none still open)', '001:L4326-4333, L7639-7646'),
    ('pmh_issuance_log', '5 years after the loss of qualification',
     '5 years', NULL, 'the person''s last loss date with any insurer (none still open)', '001:L6461-6463'),
    ('provision_log', '7 years after the provision (番号利用法23条3項, 施行令29条)',
     '7 years', NULL, 'the day of the provision (or of the request, when nothing was provided), in Japan', '001:L5359-5363, L8310-8311'),
    ('identity_check', 'deleted on delivery; never older than 1 year',
     '1 year', NULL, 'the day of the request, in Japan', '001:L5885-5886, L5904-5909'),
    ('registration_zone', 'prospective members who never joined: promptly, on request',
     '0 days', NULL, 'the day of the removal request, in Japan', '001:L6845-6846'),
    ('deletion_record', 'the deletion records themselves: 10 years after the purge (decision, docs/retention.md)',
     '10 years', NULL, 'the day of the purge, in Japan', 'docs/retention.md');
REVOKE ALL ON onshikaku.retention_rule FROM PUBLIC;
GRANT SELECT ON onshikaku.retention_rule TO onshikaku_admin, onshikaku_auditor;

-- The operator's changes to the default periods (kept apart from the
-- defaults so that a dump carries exactly them).
CREATE TABLE onshikaku.retention_override (
    data_class      text PRIMARY KEY REFERENCES onshikaku.retention_rule,  -- データ区分
    period          interval NOT NULL CHECK (period >= '0 days'),            -- 保存期間
    oqs_need_period interval CHECK (oqs_need_period >= '0 days'),            -- OQS必要期間
    changed_by      text NOT NULL DEFAULT session_user,                      -- 変更者
    changed_at      timestamptz NOT NULL DEFAULT now()                       -- 変更日時
);
COMMENT ON TABLE onshikaku.retention_override IS
    '保存期間の変更: the periods the operator set in place of the defaults of onshikaku.retention_rule.';
REVOKE ALL ON onshikaku.retention_override FROM PUBLIC;
GRANT SELECT ON onshikaku.retention_override TO onshikaku_admin, onshikaku_auditor;

CREATE VIEW onshikaku.retention_rules AS
SELECT r.data_class, r.rule, coalesce(o.period, r.period) AS period,
       CASE WHEN o.data_class IS NOT NULL THEN o.oqs_need_period ELSE r.oqs_need_period END AS oqs_need_period,
       r.event, r.source, o.data_class IS NOT NULL AS changed, o.changed_by, o.changed_at
FROM onshikaku.retention_rule r LEFT JOIN onshikaku.retention_override o USING (data_class);
COMMENT ON VIEW onshikaku.retention_rules IS 'The rules in force: the defaults with the operator''s changes.';
REVOKE ALL ON onshikaku.retention_rules FROM PUBLIC;
GRANT SELECT ON onshikaku.retention_rules TO onshikaku_admin, onshikaku_auditor;

CREATE FUNCTION onshikaku.set_retention_period(data_class text, period interval, oqs_need_period interval DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
    PERFORM onshikaku.caller_check(NULL, 'onshikaku_admin');
    PERFORM onshikaku.refuse_if(NOT EXISTS (SELECT FROM onshikaku.retention_rule r WHERE r.data_class = set_retention_period.data_class),
                                'unknown data class (see onshikaku.retention_rule)'),
            onshikaku.refuse_if(period IS NULL OR period < '0 days' OR oqs_need_period < '0 days',
                                'periods must be given and not negative');
    INSERT INTO onshikaku.retention_override AS o (data_class, period, oqs_need_period, changed_by)
    VALUES (data_class, period, oqs_need_period, session_user)
    ON CONFLICT ON CONSTRAINT retention_override_pkey DO UPDATE
        SET period = EXCLUDED.period, oqs_need_period = EXCLUDED.oqs_need_period,
            changed_by = EXCLUDED.changed_by, changed_at = now();
END
$$;
COMMENT ON FUNCTION onshikaku.set_retention_period(text, interval, interval) IS
    'Sets the period (and the OQS need period) of a class in place of its default; the next purge applies it. Callers: onshikaku_admin.';
REVOKE EXECUTE ON FUNCTION onshikaku.set_retention_period(text, interval, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION onshikaku.set_retention_period(text, interval, interval) TO onshikaku_admin;

-- The rule in force for a class.
CREATE FUNCTION onshikaku.effective_rule(data_class text) RETURNS onshikaku.retention_rule
    LANGUAGE sql STABLE SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
    SELECT r.data_class, r.rule, coalesce(o.period, r.period),
           CASE WHEN o.data_class IS NOT NULL THEN o.oqs_need_period ELSE r.oqs_need_period END, r.event, r.source
    FROM onshikaku.retention_rule r LEFT JOIN onshikaku.retention_override o USING (data_class)
    WHERE r.data_class = $1
$$;
COMMENT ON FUNCTION onshikaku.effective_rule(text) IS 'The rule in force for a class: its default with the operator''s change, if any.';

-- "N years after D": the last day of the period; purgeable from the next day.
CREATE FUNCTION onshikaku.retention_end(event_day date, period interval) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT (event_day + period)::date $$;
COMMENT ON FUNCTION onshikaku.retention_end(date, interval) IS
    'The last day a row must be kept: the event day plus the period in PostgreSQL date arithmetic (2020-02-29 + 5 years = 2025-02-28). The row is purgeable from the next day (民法140条, 143条).';

-- Today in Japan: the default "as of" of a purge, whatever the server's time zone.
CREATE FUNCTION onshikaku.today_in_japan() RETURNS date
    LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT (now() AT TIME ZONE 'Asia/Tokyo')::date $$;
COMMENT ON FUNCTION onshikaku.today_in_japan() IS 'The current calendar day in Asia/Tokyo.';

-- the purge looks up a person's PMH-ID log rows by link number
CREATE INDEX pmh_issuance_log_link ON onshikaku.pmh_issuance_log (link_number);

-- ---- holds --------------------------------------------------------------------------------

CREATE TABLE onshikaku.retention_hold (
    hold_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    data_class   text REFERENCES onshikaku.retention_rule,   -- データ区分 (NULL: every class)
    insurer_id   integer,                                     -- 医療保険者等 (NULL: every insurer)
    my_number_bi onshikaku.blind_index,                       -- 個人 (NULL: everyone)
    reason       text NOT NULL CHECK (reason <> ''),          -- 理由
    placed_by    text NOT NULL DEFAULT current_user,          -- 設定者
    placed_at    timestamptz NOT NULL DEFAULT now(),          -- 設定日時
    lifted_by    text,                                        -- 解除者
    lifted_at    timestamptz,                                 -- 解除日時
    lift_reason  text,                                        -- 解除理由
    CHECK (data_class IS NOT NULL OR insurer_id IS NOT NULL OR my_number_bi IS NOT NULL),
    CHECK ((lifted_at IS NULL) = (lifted_by IS NULL))
);
CREATE INDEX retention_hold_active ON onshikaku.retention_hold (hold_id) WHERE lifted_at IS NULL;
COMMENT ON TABLE onshikaku.retention_hold IS
    '保存の凍結 (legal holds): what a purge must keep although its rule has expired: an insurer, a person (by blind index), a class, or a combination. Lifted holds stay as a record.';
REVOKE ALL ON onshikaku.retention_hold FROM PUBLIC;

CREATE VIEW onshikaku.retention_holds WITH (security_barrier) AS
SELECT h.hold_id, h.data_class, h.insurer_id, h.my_number_bi IS NOT NULL AS one_person, h.reason,
       h.placed_by, h.placed_at, h.lifted_by, h.lifted_at, h.lift_reason, h.lifted_at IS NULL AS active
FROM onshikaku.retention_hold h;
COMMENT ON VIEW onshikaku.retention_holds IS
    'The holds, active and lifted, without the blind index of a held person (one_person says there is one).';
REVOKE ALL ON onshikaku.retention_holds FROM PUBLIC;
GRANT SELECT ON onshikaku.retention_holds TO onshikaku_admin, onshikaku_auditor;

CREATE FUNCTION onshikaku.place_hold(reason text, data_class text DEFAULT NULL, insurer_id integer DEFAULT NULL,
                                     my_number text DEFAULT NULL) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    id bigint;
BEGIN
    PERFORM onshikaku.caller_check(NULL, 'onshikaku_admin');
    PERFORM onshikaku.refuse_if(reason IS NULL OR reason = '', 'a hold needs a reason'),
            onshikaku.refuse_if(data_class IS NULL AND insurer_id IS NULL AND my_number IS NULL,
                                'a hold names a class, an insurer or a person'),
            onshikaku.refuse_if(data_class IS NOT NULL
                                AND NOT EXISTS (SELECT FROM onshikaku.retention_rule r WHERE r.data_class = place_hold.data_class),
                                'unknown data class (see onshikaku.retention_rule)'),
            onshikaku.refuse_if(insurer_id IS NOT NULL
                                AND NOT EXISTS (SELECT FROM onshikaku.insurer i WHERE i.insurer_id = place_hold.insurer_id),
                                'unknown insurer');
    INSERT INTO onshikaku.retention_hold (data_class, insurer_id, my_number_bi, reason, placed_by)
    VALUES (data_class, insurer_id,
            CASE WHEN my_number IS NOT NULL THEN onshikaku.blind_index_of(my_number::onshikaku.my_number) END,
            reason, session_user)
    RETURNING hold_id INTO id;
    RETURN id;
END
$$;
COMMENT ON FUNCTION onshikaku.place_hold(text, text, integer, text) IS
    'Places a hold the purge respects: on a class, an insurer, a person (by My Number, kept only as its blind index), or a combination; returns hold_id. Callers: onshikaku_admin.';

CREATE FUNCTION onshikaku.lift_hold(hold_id bigint, reason text) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
    PERFORM onshikaku.caller_check(NULL, 'onshikaku_admin');
    PERFORM onshikaku.refuse_if(reason IS NULL OR reason = '', 'lifting a hold needs a reason');
    UPDATE onshikaku.retention_hold h SET lifted_by = session_user, lifted_at = now(), lift_reason = reason
    WHERE h.hold_id = lift_hold.hold_id AND h.lifted_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no active hold %', hold_id USING ERRCODE = 'no_data_found';
    END IF;
END
$$;
COMMENT ON FUNCTION onshikaku.lift_hold(bigint, text) IS 'Lifts an active hold, with a reason; the hold stays listed as lifted. Callers: onshikaku_admin.';

-- Is this (class, insurer, person) held?
CREATE FUNCTION onshikaku.is_held(data_class text, insurer_id integer, bi onshikaku.blind_index) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM onshikaku.retention_hold h
                   WHERE h.lifted_at IS NULL
                     AND (h.data_class IS NULL OR h.data_class = $1)
                     AND (h.insurer_id IS NULL OR h.insurer_id = $2)
                     AND (h.my_number_bi IS NULL OR h.my_number_bi = $3))
$$;
COMMENT ON FUNCTION onshikaku.is_held(text, integer, onshikaku.blind_index) IS
    'Whether an active hold covers this class, insurer and person (NULL insurer or person: held only by holds without one).';

-- ---- runs, reports and deletion records ------------------------------------------------------

CREATE TABLE onshikaku.purge_run (
    run_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    as_of       date NOT NULL,                      -- 基準日
    dry_run     boolean NOT NULL,                   -- 試行
    started_by  text NOT NULL DEFAULT session_user, -- 実行者
    started_at  timestamptz NOT NULL DEFAULT now(), -- 開始日時
    finished_at timestamptz,                        -- 終了日時
    backend_pid integer NOT NULL DEFAULT pg_backend_pid(),
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'finished', 'interrupted'))
);
COMMENT ON TABLE onshikaku.purge_run IS
    '削除処理の実行: one row per CALL onshikaku.purge_expired(); an interrupted run is resumed with resume => true.';

CREATE TABLE onshikaku.purge_report (
    run_id      bigint NOT NULL REFERENCES onshikaku.purge_run,
    data_class  text NOT NULL,                      -- データ区分
    insurer_id  integer NOT NULL DEFAULT 0,         -- 医療保険者等 (0: national data)
    row_count   bigint NOT NULL DEFAULT 0,          -- 件数
    event_from  date,                               -- 起算日の最小
    event_to    date,                               -- 起算日の最大
    PRIMARY KEY (run_id, data_class, insurer_id)
);
COMMENT ON TABLE onshikaku.purge_report IS
    '削除処理の結果: what a run removed (or, dry run, would remove), per class and insurer. A real run writes the same figures to the deletion records.';

ALTER TABLE onshikaku.deletion_record ADD COLUMN run_id bigint;
-- (NULLS NOT DISTINCT: national data, without an insurer, merge into one record per run and class)
ALTER TABLE onshikaku.deletion_record
    ADD CONSTRAINT deletion_record_run_class_insurer UNIQUE NULLS NOT DISTINCT (run_id, data_class, insurer_id);
-- A: what a purge kept of a person's national data, and since when it counts
ALTER TABLE onshikaku.person ADD COLUMN last_lost_on date;
COMMENT ON COLUMN onshikaku.person.last_lost_on IS
    '最終資格喪失日: set by the purge when it removed the person''s last insurer but had to keep national data (agency code, PMH-ID log) for their own rules or holds; later runs purge them from it.';
COMMENT ON COLUMN onshikaku.deletion_record.run_id IS 'The purge run (onshikaku.purge_run) that wrote it.';

-- Only the operator may alter or remove a deletion record (and the purge of
-- deletion records after their own retention).
CREATE FUNCTION onshikaku.guard_deletion_record() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_has_role(session_user, 'onshikaku_admin', 'MEMBER')
       OR (TG_OP = 'DELETE' AND current_setting('onshikaku.purging', true) = 'on')
       OR (TG_OP = 'UPDATE' AND current_setting('onshikaku.purging', true) = 'on') THEN
        RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'deletion records can be altered by onshikaku_admin only' USING ERRCODE = 'insufficient_privilege';
END
$$;
COMMENT ON FUNCTION onshikaku.guard_deletion_record() IS
    'Trigger function: only members of onshikaku_admin (or the purge itself) may update or delete a deletion record.';
CREATE TRIGGER deletion_record_guard BEFORE UPDATE OR DELETE ON onshikaku.deletion_record
    FOR EACH ROW EXECUTE FUNCTION onshikaku.guard_deletion_record();
CREATE TRIGGER deletion_record_no_truncate BEFORE TRUNCATE ON onshikaku.deletion_record
    FOR EACH STATEMENT EXECUTE FUNCTION onshikaku.guard_deletion_record();
GRANT SELECT ON onshikaku.purge_run, onshikaku.purge_report TO onshikaku_admin, onshikaku_auditor;
GRANT SELECT ON onshikaku.deletion_record TO onshikaku_auditor;
GRANT UPDATE, DELETE ON onshikaku.deletion_record TO onshikaku_admin;
REVOKE ALL ON onshikaku.purge_run, onshikaku.purge_report FROM PUBLIC;
GRANT INSERT, UPDATE ON onshikaku.purge_run TO onshikaku_admin;

-- Add a batch's figures to the run's report and, for a real run, its deletion record.
CREATE FUNCTION onshikaku.report_purged(run_id bigint, dry_run boolean, data_class text, insurer_id integer,
                                        n bigint, event_from date, event_to date) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
    INSERT INTO onshikaku.purge_report AS p (run_id, data_class, insurer_id, row_count, event_from, event_to)
    SELECT $1, $3, coalesce($4, 0), $5, $6, $7 WHERE $5 > 0
    ON CONFLICT (run_id, data_class, insurer_id) DO UPDATE
        SET row_count = p.row_count + EXCLUDED.row_count,
            event_from = least(p.event_from, EXCLUDED.event_from), event_to = greatest(p.event_to, EXCLUDED.event_to);
    INSERT INTO onshikaku.deletion_record AS d (run_id, data_class, rule, insurer_id, row_count, event_from, event_to,
                                                deleted_by)
    SELECT $1, $3, (SELECT r.rule FROM onshikaku.retention_rule r WHERE r.data_class = $3), $4, $5, $6, $7,
           (SELECT pr.started_by FROM onshikaku.purge_run pr WHERE pr.run_id = $1)
    WHERE NOT $2 AND $5 > 0
    ON CONFLICT (run_id, data_class, insurer_id) DO UPDATE
        SET row_count = d.row_count + EXCLUDED.row_count, deleted_at = now(),
            event_from = least(d.event_from, EXCLUDED.event_from), event_to = greatest(d.event_to, EXCLUDED.event_to);
$$;
COMMENT ON FUNCTION onshikaku.report_purged(bigint, boolean, text, integer, bigint, date, date) IS
    'Internal: adds a purge batch to the run''s report and, for a real run, to its deletion record (消去記録).';
REVOKE EXECUTE ON FUNCTION onshikaku.report_purged(bigint, boolean, text, integer, bigint, date, date) FROM PUBLIC;

-- ---- the purge ------------------------------------------------------------------------------

-- Whether the qualification rule lets a person's rows with an insurer go as
-- of a day (every qualification lost, the last loss past both periods, no
-- hold), and that last loss.
CREATE FUNCTION onshikaku.person_purgeable(insurer_id integer, link onshikaku.link_number, as_of date,
                                           OUT purgeable boolean, OUT last_loss date)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    r onshikaku.retention_rule := onshikaku.effective_rule('qualification');
    open_rows boolean;
BEGIN
    SELECT bool_or(q.lost_on IS NULL), max(q.lost_on) INTO open_rows, last_loss
    FROM onshikaku.qualification q WHERE q.insurer_id = $1 AND q.link_number = link AND NOT q.deleted;
    purgeable := open_rows IS NOT NULL AND NOT open_rows
                 AND as_of > onshikaku.retention_end(last_loss, r.period)
                 AND as_of > onshikaku.retention_end(last_loss, coalesce(r.oqs_need_period, '0 days'))
                 AND NOT onshikaku.is_held('qualification', $1,
                                           (SELECT p.my_number_bi FROM onshikaku.person p WHERE p.link_number = link));
END
$$;
COMMENT ON FUNCTION onshikaku.person_purgeable(integer, onshikaku.link_number, date) IS
    'Internal: whether the qualification rule lets a person''s rows with an insurer be purged as of a day, and the person''s last loss date there (a dry run''s forecast of national data).';

-- One batch of one class of one insurer (or of national data): at most
-- batch_size people or rows, waiting at most lock_timeout for a lock.
-- Returns the number of people or rows handled, or -1 when a lock could not
-- be had in time (the caller moves on and comes back).
CREATE FUNCTION onshikaku.purge_batch(run_id bigint, data_class text, insurer_id integer, as_of date,
                                      dry_run boolean, batch_size integer, lock_timeout text, after text,
                                      OUT n integer, OUT last_key text, OUT skipped integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    r onshikaku.retention_rule;
    k bigint;
    f date;
    t date;
    person record;
    ins integer := insurer_id;
    ibns onshikaku.insured_branch_number[];
    links onshikaku.link_number[];
    bis onshikaku.blind_index[];
    losses date[];
    locked onshikaku.insured_branch_number[];
    pass integer;
    old_lock_timeout text;
BEGIN
    PERFORM onshikaku.caller_check(NULL, 'onshikaku_admin');
    n := 0;
    skipped := 0;
    old_lock_timeout := current_setting('lock_timeout');
    PERFORM set_config('lock_timeout', lock_timeout, true);
    -- lets the purge (and only it: reset below) delete from append-only logs
    PERFORM set_config('onshikaku.purging', 'on', true);
    r := onshikaku.effective_rule(purge_batch.data_class);

    IF data_class = 'qualification' THEN
        -- people whose every qualification with the insurer is lost, the last
        -- loss past both periods; all their rows with the insurer go together
        -- candidates; then their registrations are locked (an enrolment of the
        -- same person locks it first, so none can start in between; people
        -- being enrolled right now are skipped) and the rule is checked again
        -- under the lock, on what is committed by then
        FOR pass IN 1 .. 2 LOOP
            SELECT coalesce(array_agg(g.ibn ORDER BY g.ibn), '{}'), coalesce(array_agg(g.link ORDER BY g.ibn), '{}'),
                   coalesce(array_agg(g.bi ORDER BY g.ibn), '{}'), coalesce(array_agg(g.last_loss ORDER BY g.ibn), '{}'),
                   coalesce(sum(g.n), 0), min(g.first_loss), max(g.last_loss)
            INTO ibns, links, bis, losses, k, f, t
            FROM (SELECT z.insured_branch_number AS ibn, z.my_number_bi AS bi, z.link_number AS link,
                         min(q.lost_on) AS first_loss, max(q.lost_on) AS last_loss, count(*) AS n
                  FROM onshikaku.registration_zone z
                  JOIN onshikaku.qualification q ON q.insurer_id = ins AND q.insured_branch_number = z.insured_branch_number
                  WHERE z.insurer_id = ins AND (locked IS NULL OR z.insured_branch_number = ANY (locked))
                    AND (after IS NULL OR z.insured_branch_number > after::onshikaku.insured_branch_number)
                  GROUP BY 1, 2, 3
                  HAVING bool_and(q.lost_on IS NOT NULL)
                     AND as_of > onshikaku.retention_end(max(q.lost_on), r.period)
                     AND as_of > onshikaku.retention_end(max(q.lost_on), coalesce(r.oqs_need_period, '0 days'))
                     AND NOT onshikaku.is_held('qualification', ins, z.my_number_bi)
                  ORDER BY 1
                  LIMIT batch_size) g;
            -- the loop goes on after the last candidate considered (kept or not)
            IF pass = 1 THEN
                n := cardinality(ibns);
                last_key := ibns[cardinality(ibns)]::text;
            END IF;
            EXIT WHEN pass = 2 OR cardinality(ibns) = 0 OR dry_run;   -- a dry run counts, locks nothing
            SELECT coalesce(array_agg(x.insured_branch_number), '{}') INTO locked
            FROM (SELECT z.insured_branch_number FROM onshikaku.registration_zone z
                  WHERE z.insurer_id = ins AND z.insured_branch_number = ANY (ibns)
                  FOR UPDATE SKIP LOCKED) x;
        END LOOP;
        IF NOT dry_run THEN
            -- people being enrolled right now (locked) or back in qualification since
            skipped := n - cardinality(ibns);
        END IF;
        IF cardinality(ibns) > 0 AND NOT dry_run THEN
            DELETE FROM onshikaku.card c USING onshikaku.qualification q
            WHERE c.insurer_id = ins AND q.insurer_id = ins AND q.insured_branch_number = ANY (ibns)
              AND c.qualification_id = q.qualification_id;
            DELETE FROM onshikaku.medical_voucher v USING onshikaku.qualification q
            WHERE v.insurer_id = ins AND q.insurer_id = ins AND q.insured_branch_number = ANY (ibns)
              AND v.qualification_id = q.qualification_id;
            DELETE FROM onshikaku.qualification q WHERE q.insurer_id = ins AND q.insured_branch_number = ANY (ibns);
            DELETE FROM onshikaku.agency_code_link a WHERE a.insurer_id = ins AND a.insured_branch_number = ANY (ibns);
            DELETE FROM onshikaku.copy_zone c WHERE c.insurer_id = ins AND c.insured_branch_number = ANY (ibns);
            -- the card 枝番 stays taken (never given to someone else), without the person
            UPDATE onshikaku.card_branch_issue b SET link_number = NULL
            WHERE b.insurer_id = ins AND b.link_number = ANY (links);
            DELETE FROM onshikaku.registration_zone z WHERE z.insurer_id = ins AND z.insured_branch_number = ANY (ibns);
            DELETE FROM onshikaku.person_enrolment e WHERE e.insurer_id = ins AND e.link_number = ANY (links);
        END IF;
        PERFORM onshikaku.report_purged(run_id, dry_run, 'qualification', ins, k, f, t);
        -- the national data of the people no other insurer holds
        -- (a dry run deleted nothing: it counts the other insurers whose rows of
        -- the person this run would purge as gone too)
        FOR person IN
            SELECT u.link, u.bi,
                   greatest(u.last_loss, (SELECT max(o.last_loss) FROM onshikaku.person_enrolment e,
                                          LATERAL onshikaku.person_purgeable(e.insurer_id, u.link, as_of) o
                                          WHERE e.link_number = u.link AND e.insurer_id <> ins)) AS last_loss
            FROM unnest(links, bis, losses) u(link, bi, last_loss)
            WHERE NOT EXISTS (SELECT FROM onshikaku.person_enrolment e
                              WHERE e.link_number = u.link AND e.insurer_id <> ins
                                AND NOT (dry_run AND (SELECT o.purgeable FROM onshikaku.person_purgeable(e.insurer_id, u.link, as_of) o)))
        LOOP
            PERFORM onshikaku.purge_person(run_id, dry_run, person.link, person.bi, person.last_loss);
        END LOOP;

    ELSIF data_class = 'provision_log' THEN
        SELECT count(*), min(d), max(d) INTO k, f, t FROM (
            SELECT ((coalesce(p.provided_at, p.requested_at)) AT TIME ZONE 'Asia/Tokyo')::date AS d
            FROM onshikaku.provision_log p
            WHERE p.insurer_id = ins
              AND as_of > onshikaku.retention_end(((coalesce(p.provided_at, p.requested_at)) AT TIME ZONE 'Asia/Tokyo')::date, r.period)
              AND NOT onshikaku.is_held('provision_log', ins, NULL)
            ORDER BY p.provision_id LIMIT batch_size) s;
        IF k > 0 AND NOT dry_run THEN
            DELETE FROM onshikaku.provision_log p
            WHERE p.insurer_id = ins AND p.provision_id IN (
                SELECT x.provision_id FROM onshikaku.provision_log x
                WHERE x.insurer_id = ins
                  AND as_of > onshikaku.retention_end(((coalesce(x.provided_at, x.requested_at)) AT TIME ZONE 'Asia/Tokyo')::date, r.period)
                ORDER BY x.provision_id LIMIT batch_size);
        END IF;
        PERFORM onshikaku.report_purged(run_id, dry_run, 'provision_log', ins, k, f, t);
        n := k;

    ELSIF data_class = 'identity_check' THEN
        SELECT count(*), min(d), max(d) INTO k, f, t FROM (
            SELECT (i.requested_at AT TIME ZONE 'Asia/Tokyo')::date AS d FROM onshikaku.identity_check i
            WHERE i.insurer_id = ins
              AND as_of > onshikaku.retention_end((i.requested_at AT TIME ZONE 'Asia/Tokyo')::date, r.period)
              AND NOT onshikaku.is_held('identity_check', ins, NULL)
            ORDER BY i.check_id LIMIT batch_size) s;
        IF k > 0 AND NOT dry_run THEN
            DELETE FROM onshikaku.identity_check i
            WHERE i.insurer_id = ins AND i.check_id IN (
                SELECT x.check_id FROM onshikaku.identity_check x
                WHERE x.insurer_id = ins
                  AND as_of > onshikaku.retention_end((x.requested_at AT TIME ZONE 'Asia/Tokyo')::date, r.period)
                ORDER BY x.check_id LIMIT batch_size);
        END IF;
        PERFORM onshikaku.report_purged(run_id, dry_run, 'identity_check', ins, k, f, t);
        n := k;

    ELSIF data_class = 'registration_zone' THEN
        SELECT count(*), min(d), max(d) INTO k, f, t FROM (
            SELECT (z.removal_requested_at AT TIME ZONE 'Asia/Tokyo')::date AS d FROM onshikaku.registration_zone z
            WHERE z.insurer_id = ins AND z.prospective AND z.removal_requested_at IS NOT NULL
              AND as_of > onshikaku.retention_end((z.removal_requested_at AT TIME ZONE 'Asia/Tokyo')::date, r.period)
              AND NOT EXISTS (SELECT FROM onshikaku.qualification q
                              WHERE q.insurer_id = ins AND q.insured_branch_number = z.insured_branch_number)
              AND NOT onshikaku.is_held('registration_zone', ins, z.my_number_bi)
            ORDER BY z.insured_branch_number LIMIT batch_size) s;
        IF k > 0 AND NOT dry_run THEN
            DELETE FROM onshikaku.registration_zone z
            WHERE z.insurer_id = ins AND z.prospective AND z.removal_requested_at IS NOT NULL
              AND as_of > onshikaku.retention_end((z.removal_requested_at AT TIME ZONE 'Asia/Tokyo')::date, r.period)
              AND NOT EXISTS (SELECT FROM onshikaku.qualification q
                              WHERE q.insurer_id = ins AND q.insured_branch_number = z.insured_branch_number)
              AND NOT onshikaku.is_held('registration_zone', ins, z.my_number_bi);
        END IF;
        PERFORM onshikaku.report_purged(run_id, dry_run, 'registration_zone', ins, k, f, t);
        n := k;

    ELSIF data_class = 'person' THEN
        -- national data a purge had to keep when it removed a person's last
        -- insurer (their own, longer rule, or a hold), looked at again
        FOR person IN
            SELECT p.link_number AS link, p.my_number_bi AS bi, p.last_lost_on AS last_loss FROM onshikaku.person p
            WHERE p.last_lost_on IS NOT NULL
              AND (after IS NULL OR p.link_number > after::onshikaku.link_number)
              AND NOT EXISTS (SELECT FROM onshikaku.person_enrolment e WHERE e.link_number = p.link_number)
            ORDER BY p.link_number LIMIT batch_size
        LOOP
            PERFORM onshikaku.purge_person(run_id, dry_run, person.link, person.bi, person.last_loss);
            n := n + 1;
            last_key := person.link::text;
        END LOOP;

    ELSIF data_class = 'deletion_record' THEN
        SELECT count(*), min(d), max(d) INTO k, f, t FROM (
            SELECT (x.deleted_at AT TIME ZONE 'Asia/Tokyo')::date AS d FROM onshikaku.deletion_record x
            WHERE as_of > onshikaku.retention_end((x.deleted_at AT TIME ZONE 'Asia/Tokyo')::date, r.period)
              AND NOT onshikaku.is_held('deletion_record', NULL, NULL)) s;
        IF k > 0 AND NOT dry_run THEN
            DELETE FROM onshikaku.deletion_record x
            WHERE as_of > onshikaku.retention_end((x.deleted_at AT TIME ZONE 'Asia/Tokyo')::date, r.period);
        END IF;
        PERFORM onshikaku.report_purged(run_id, dry_run, 'deletion_record', NULL, k, f, t);
        n := 0;   -- one pass
    ELSE
        RAISE EXCEPTION 'unknown data class %', data_class USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('onshikaku.purging', 'off', true), set_config('lock_timeout', old_lock_timeout, true);
EXCEPTION WHEN lock_not_available THEN
    PERFORM set_config('onshikaku.purging', 'off', true), set_config('lock_timeout', old_lock_timeout, true);
    n := -1;
END
$$;
COMMENT ON FUNCTION onshikaku.purge_batch(bigint, text, integer, date, boolean, integer, text, text) IS
    'Internal: one batch of CALL purge_expired(): at most batch_size expired people (qualification, keyset after the given 被保険者枝番) or rows of one class of one insurer, or people whose kept national data are due (person), deleted (or counted, dry run) in one transaction. n: candidates considered (-1: a lock was not had within lock_timeout); last_key: where the next batch starts; skipped: people left because they are being enrolled.';

-- A person's national data (agency code, PMH-ID log, the person row) once no
-- insurer holds any qualification of theirs.
CREATE FUNCTION onshikaku.purge_person(run_id bigint, dry_run boolean, link onshikaku.link_number,
                                       bi onshikaku.blind_index, last_loss date) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
DECLARE
    k bigint;
    ac onshikaku.retention_rule;
    pl onshikaku.retention_rule;
    kept boolean := false;
BEGIN
    ac := onshikaku.effective_rule('agency_code');
    pl := onshikaku.effective_rule('pmh_issuance_log');
    -- the qualification class's own periods have passed for last_loss; the
    -- national classes check theirs (they may be longer) and their holds
    IF EXISTS (SELECT FROM onshikaku.agency_code a WHERE a.link_number = link) THEN
        IF onshikaku.retention_end(last_loss, ac.period) < (SELECT p.as_of FROM onshikaku.purge_run p WHERE p.run_id = $1)
           AND onshikaku.retention_end(last_loss, coalesce(ac.oqs_need_period, '0 days')) < (SELECT p.as_of FROM onshikaku.purge_run p WHERE p.run_id = $1)
           AND NOT onshikaku.is_held('agency_code', NULL, bi) THEN
            IF NOT dry_run THEN
                DELETE FROM onshikaku.agency_code a WHERE a.link_number = link;
            END IF;
            PERFORM onshikaku.report_purged(run_id, dry_run, 'agency_code', NULL, 1, last_loss, last_loss);
        ELSE
            kept := true;
        END IF;
    END IF;
    SELECT count(*) INTO k FROM onshikaku.pmh_issuance_log l WHERE l.link_number = link;
    IF k > 0 THEN
        IF onshikaku.retention_end(last_loss, pl.period) < (SELECT p.as_of FROM onshikaku.purge_run p WHERE p.run_id = $1)
           AND NOT onshikaku.is_held('pmh_issuance_log', NULL, bi) THEN
            IF NOT dry_run THEN
                DELETE FROM onshikaku.pmh_issuance_log l WHERE l.link_number = link;
            END IF;
            PERFORM onshikaku.report_purged(run_id, dry_run, 'pmh_issuance_log', NULL, k, last_loss, last_loss);
        ELSE
            kept := true;
        END IF;
    END IF;
    IF NOT dry_run THEN
        IF kept THEN
            UPDATE onshikaku.person p SET last_lost_on = last_loss WHERE p.link_number = link;
        ELSE
            DELETE FROM onshikaku.person p WHERE p.link_number = link;
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION onshikaku.purge_person(bigint, boolean, onshikaku.link_number, onshikaku.blind_index, date) IS
    'Internal: the national data of a person no insurer holds any more: the agency code and the PMH-ID log when their rules have expired and no hold covers them, then the person row (link number, blind index).';
REVOKE EXECUTE ON FUNCTION onshikaku.purge_person(bigint, boolean, onshikaku.link_number, onshikaku.blind_index, date),
                  onshikaku.purge_batch(bigint, text, integer, date, boolean, integer, text, text),
                  onshikaku.person_purgeable(integer, onshikaku.link_number, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION onshikaku.purge_batch(bigint, text, integer, date, boolean, integer, text, text) TO onshikaku_admin;

-- Destroy the cohort data keys nothing protected by them is left for.
CREATE FUNCTION onshikaku.destroy_data_key(key_id integer) RETURNS boolean
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_destroy_data_key';
COMMENT ON FUNCTION onshikaku.destroy_data_key(integer) IS
    'Erases a retention cohort''s data key (wrapped key set to NULL, state destroyed) and makes every backend forget it; active keys are never destroyed. Called by the purge once nothing the key protects remains.';
REVOKE EXECUTE ON FUNCTION onshikaku.destroy_data_key(integer) FROM PUBLIC;

CREATE FUNCTION onshikaku.destroy_spent_keys(run_id bigint) RETURNS integer[]
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
DECLARE
    k record;
    used boolean;
    destroyed integer[] := '{}';
    ins integer;
BEGIN
    PERFORM onshikaku.caller_check(NULL, 'onshikaku_admin');
    FOR k IN SELECT d.key_id, d.insurer, d.cohort FROM onshikaku.data_key d
             WHERE d.cohort IS NOT NULL AND d.state <> 'destroyed' ORDER BY d.key_id LOOP
        IF k.insurer IS NOT NULL THEN
            SELECT i.insurer_id INTO ins FROM onshikaku.insurer i WHERE i.insurer_number = k.insurer;
            used := ins IS NULL
                 OR EXISTS (SELECT FROM onshikaku.qualification q WHERE q.insurer_id = ins
                            AND (onshikaku.key_id(q.my_number) = k.key_id OR onshikaku.key_id(q.updated_my_number) = k.key_id))
                 OR EXISTS (SELECT FROM onshikaku.identity_check c WHERE c.insurer_id = ins
                            AND onshikaku.key_id(c.my_number) = k.key_id);
        ELSE
            -- national scope: 生活保護 qualifications and agency codes of the provision log
            used := EXISTS (SELECT FROM onshikaku.qualification q JOIN onshikaku.insurer i USING (insurer_id)
                            WHERE i.insurer_number IS NULL
                              AND (onshikaku.key_id(q.my_number) = k.key_id OR onshikaku.key_id(q.updated_my_number) = k.key_id))
                 OR EXISTS (SELECT FROM onshikaku.provision_log p WHERE onshikaku.key_id(p.agency_code) = k.key_id)
                 OR EXISTS (SELECT FROM onshikaku.agency_code a WHERE onshikaku.key_id(a.code) = k.key_id);
        END IF;
        -- values in columns registered for rotation (tables of the application) count too
        IF NOT used THEN
            used := onshikaku.key_in_registered_columns(k.key_id);
        END IF;
        IF NOT used AND onshikaku.destroy_data_key(k.key_id) THEN
            destroyed := destroyed || k.key_id;
        END IF;
    END LOOP;
    IF cardinality(destroyed) > 0 THEN
        UPDATE onshikaku.deletion_record d SET key_ids_destroyed = destroyed
        WHERE d.deletion_id = (SELECT max(x.deletion_id) FROM onshikaku.deletion_record x WHERE x.run_id = $1);
        IF NOT FOUND THEN
            INSERT INTO onshikaku.deletion_record (run_id, data_class, rule, insurer_id, row_count, key_ids_destroyed, deleted_by)
            VALUES ($1, 'data_key', 'cohort keys with nothing left to protect', NULL, 0, destroyed,
                    (SELECT p.started_by FROM onshikaku.purge_run p WHERE p.run_id = $1));
        END IF;
    END IF;
    RETURN destroyed;
END
$$;
COMMENT ON FUNCTION onshikaku.destroy_spent_keys(bigint) IS
    'Internal: after a purge, destroys every retention-cohort data key that no stored value uses any more, and lists them in the run''s deletion record.';
REVOKE EXECUTE ON FUNCTION onshikaku.destroy_spent_keys(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION onshikaku.destroy_spent_keys(bigint) TO onshikaku_admin;

-- Values under a key in the application columns registered for rotation.
CREATE FUNCTION onshikaku.key_in_registered_columns(key_id integer) RETURNS boolean
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
DECLARE
    c record;
    found boolean;
BEGIN
    FOR c IN SELECT e.relid, e.column_name FROM onshikaku.encrypted_column e LOOP
        EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE onshikaku.key_id(%I) = $1)', c.relid, c.column_name)
            INTO found USING key_id;
        IF found THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END
$$;
COMMENT ON FUNCTION onshikaku.key_in_registered_columns(integer) IS
    'Whether any column registered with register_encrypted_column() holds a value under this data key.';

CREATE PROCEDURE onshikaku.purge_expired(as_of date DEFAULT NULL, dry_run boolean DEFAULT false,
                                         batch_size integer DEFAULT 1000, lock_timeout text DEFAULT '1s',
                                         resume boolean DEFAULT false, max_retries integer DEFAULT 10)
    LANGUAGE plpgsql
AS $$
DECLARE
    run bigint;
    day date;
    c text;
    i integer;
    n integer;
    sk integer;
    skipped bigint := 0;
    last text;
    tries integer;
    deferred integer[];
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one purge at a time (per database)
    IF NOT pg_try_advisory_lock(hashtext('onshikaku.purge_expired')) THEN
        RAISE EXCEPTION 'another purge is running in this database' USING ERRCODE = 'lock_not_available';
    END IF;
    IF resume THEN
        SELECT p.run_id, p.as_of INTO run, day FROM onshikaku.purge_run p
        WHERE p.status <> 'finished' AND p.dry_run = purge_expired.dry_run
        ORDER BY p.run_id DESC LIMIT 1;
        IF NOT FOUND THEN
            PERFORM pg_advisory_unlock(hashtext('onshikaku.purge_expired'));
            RAISE EXCEPTION 'no interrupted purge run to resume' USING ERRCODE = 'no_data_found';
        END IF;
        UPDATE onshikaku.purge_run SET status = 'running', backend_pid = pg_backend_pid() WHERE run_id = run;
    ELSE
        day := coalesce(as_of, onshikaku.today_in_japan());
        UPDATE onshikaku.purge_run SET status = 'interrupted' WHERE status = 'running';
        INSERT INTO onshikaku.purge_run (as_of, dry_run) VALUES (day, purge_expired.dry_run) RETURNING run_id INTO run;
    END IF;
    COMMIT;

    -- a dry run deletes nothing, so it counts each class of each insurer in one pass
    IF purge_expired.dry_run THEN
        batch_size := 2147483647;
    END IF;
    FOREACH c IN ARRAY ARRAY['qualification', 'provision_log', 'identity_check', 'registration_zone'] LOOP
        deferred := '{}';
        FOR i IN SELECT insurer_id FROM onshikaku.insurer ORDER BY insurer_id LOOP
            last := NULL;
            LOOP
                SELECT b.n, b.last_key, b.skipped INTO n, last, sk
                FROM onshikaku.purge_batch(run, c, i, day, purge_expired.dry_run, batch_size, lock_timeout, last) b;
                COMMIT;
                skipped := skipped + coalesce(sk, 0);
                IF n = -1 THEN
                    deferred := deferred || i;
                    EXIT;
                END IF;
                EXIT WHEN n < batch_size OR purge_expired.dry_run;
            END LOOP;
        END LOOP;
        -- insurers whose locks were busy: again, a bounded number of times
        tries := 0;
        WHILE cardinality(deferred) > 0 AND tries < max_retries LOOP
            tries := tries + 1;
            PERFORM pg_sleep(0.1 * tries);
            i := deferred[1];
            deferred := deferred[2:];
            last := NULL;
            LOOP
                SELECT b.n, b.last_key, b.skipped INTO n, last, sk
                FROM onshikaku.purge_batch(run, c, i, day, purge_expired.dry_run, batch_size, lock_timeout, last) b;
                COMMIT;
                skipped := skipped + coalesce(sk, 0);
                IF n = -1 THEN
                    deferred := deferred || i;
                    EXIT;
                END IF;
                EXIT WHEN n < batch_size OR purge_expired.dry_run;
            END LOOP;
        END LOOP;
        IF cardinality(deferred) > 0 THEN
            RAISE WARNING 'purge run %: % of insurers % were left for the next run (locks busy)', run, c, deferred;
        END IF;
    END LOOP;
    IF skipped > 0 THEN
        RAISE WARNING 'purge run %: % person(s) being enrolled left for the next run', run, skipped;
    END IF;
    -- national data kept earlier, now due
    last := NULL;
    LOOP
        SELECT b.n, b.last_key INTO n, last
        FROM onshikaku.purge_batch(run, 'person', NULL, day, purge_expired.dry_run, batch_size, lock_timeout, last) b;
        COMMIT;
        EXIT WHEN n < batch_size OR n = -1 OR purge_expired.dry_run;
    END LOOP;
    SELECT b.n INTO n
    FROM onshikaku.purge_batch(run, 'deletion_record', NULL, day, purge_expired.dry_run, batch_size, lock_timeout, NULL) b;
    COMMIT;
    IF NOT purge_expired.dry_run THEN
        PERFORM onshikaku.destroy_spent_keys(run);
    END IF;
    UPDATE onshikaku.purge_run SET status = 'finished', finished_at = clock_timestamp() WHERE run_id = run;
    COMMIT;
    PERFORM pg_advisory_unlock(hashtext('onshikaku.purge_expired'));
END
$$;
COMMENT ON PROCEDURE onshikaku.purge_expired(date, boolean, integer, text, boolean, integer) IS
    '消去: removes exactly what the retention rules make expired as of a day (default: today in Japan), in batches of batch_size people or rows per class and insurer, each committed, each waiting at most lock_timeout for a lock (busy insurers are retried, then left for the next run); respects holds; writes deletion records; destroys the cohort data keys nothing is left for. dry_run => true only reports (onshikaku.purge_report). resume => true continues an interrupted run. Callers: onshikaku_admin.';
REVOKE EXECUTE ON PROCEDURE onshikaku.purge_expired(date, boolean, integer, text, boolean, integer) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE onshikaku.purge_expired(date, boolean, integer, text, boolean, integer) TO onshikaku_admin;

-- A prospective member who never joined: the insurer asks for removal.
CREATE FUNCTION onshikaku.request_removal(insurer_id integer, insured_branch_number onshikaku.insured_branch_number)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_variable
DECLARE
    ins onshikaku.insurer;
BEGIN
    ins := onshikaku.flow_insurer(insurer_id, 'onshikaku_insurer');
    UPDATE onshikaku.registration_zone z SET removal_requested_at = now()
    WHERE z.insurer_id = ins.insurer_id AND z.insured_branch_number = $2 AND z.prospective
      AND NOT EXISTS (SELECT FROM onshikaku.qualification q
                      WHERE q.insurer_id = ins.insurer_id AND q.insured_branch_number = $2);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no prospective member without qualification has this 被保険者枝番 with insurer %', ins.insurer_id
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;
COMMENT ON FUNCTION onshikaku.request_removal(integer, onshikaku.insured_branch_number) IS
    '加入予定者の削除依頼: marks a prospective member who never joined for removal by the next purge (001:L6845). Callers: onshikaku_insurer acting for the insurer.';
REVOKE EXECUTE ON FUNCTION onshikaku.request_removal(integer, onshikaku.insured_branch_number) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION onshikaku.request_removal(integer, onshikaku.insured_branch_number) TO onshikaku_insurer;

REVOKE EXECUTE ON FUNCTION onshikaku.place_hold(text, text, integer, text), onshikaku.lift_hold(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION onshikaku.place_hold(text, text, integer, text), onshikaku.lift_hold(bigint, text) TO onshikaku_admin;

SELECT pg_catalog.pg_extension_config_dump('onshikaku.retention_override', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.retention_hold', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.purge_run', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.purge_report', '');
-- identity sequences of dumped tables go with them, or a restored database
-- would hand out ids that already exist
-- (one statement each: a single statement cannot update the extension's row twice)
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('onshikaku.retention_hold', 'hold_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('onshikaku.purge_run', 'run_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('onshikaku.deletion_record', 'deletion_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('onshikaku.pmh_issuance_log', 'issuance_id'), '');

-- ---- extension/sql/60_views.sql ----
-- 60_views.sql: views without personal numbers (layer 5).
--
-- The OQS feed (the qualification history minus My Number, blind index and
-- agency code, 001:L656-659, L6142), the auditor's view of the provision log
-- (without agency codes, 001:L7828), and aggregate views for analysts
-- (docs/analysts.md).  The views are owned by the extension's owner and
-- read the tables with its rights: their consumers get SELECT on the view
-- and nothing on the tables.  All are security_barrier, so a caller's
-- function in a WHERE clause never sees a row the view filters out.

-- ---- the OQS feed ----------------------------------------------------------------------

CREATE VIEW onshikaku.oqs_feed WITH (security_barrier) AS
SELECT q.insurer_id,
       i.insurer_number,                 -- 保険者番号
       q.public_payer_number,            -- 公費負担者番号 (生活保護)
       q.qualification_id,               -- 資格情報管理番号
       q.history_seq,                    -- 履歴通番
       q.insured_branch_number,          -- 被保険者枝番
       q.link_number,                    -- 紐付番号 (the person key toward OQS)
       q.pmh_id,                         -- PMH-ID
       q.name_on_card, q.name_on_card_kana, q.name_other, q.name_other_kana,
       q.sex1, q.sex2, q.birth_date,
       q.address, q.postcode, q.municipality_code, q.deceased,
       q.card_symbol, q.card_number, q.card_branch,
       q.acquired_on, q.lost_on, q.loss_reason, q.insured_or_dependent, q.insured_person_name,
       q.recipient_number, q.office_name,
       q.opt_out, q.self_info_refused, q.dv_nondisclosure,
       q.deleted, q.deleted_at, q.registered_at, q.updated_at
FROM onshikaku.qualification q
JOIN onshikaku.insurer i ON i.insurer_id = q.insurer_id;
COMMENT ON VIEW onshikaku.oqs_feed IS
    'OQS向け資格履歴: the qualification history as OQS receives it (with 紐付番号 and PMH-ID), without My Number, updated My Number, blind index or agency code. Readable by onshikaku_oqs_feed only; incremental readers filter on updated_at.';

CREATE VIEW onshikaku.oqs_feed_card WITH (security_barrier) AS
SELECT c.insurer_id, i.insurer_number, c.qualification_id, c.card_id, c.kind, c.card_class,
       c.card_symbol, c.card_number, c.card_branch, c.issued_on, c.valid_from, c.valid_to, c.copay_ratio,
       c.applicable_class, c.long_term_admission_on, c.certified_disease_class, c.copay_limit,
       c.recalled_on, c.recall_reason, c.recall_reason_on, c.updated_at
FROM onshikaku.card c
JOIN onshikaku.insurer i ON i.insurer_id = c.insurer_id;
COMMENT ON VIEW onshikaku.oqs_feed_card IS
    'OQS向け証情報: the certificates of each qualification (被保険者証, 高齢受給者証, 限度額適用認定証, 特定疾病療養受療証). Readable by onshikaku_oqs_feed only.';

CREATE VIEW onshikaku.oqs_feed_medical_voucher WITH (security_barrier) AS
SELECT v.insurer_id, v.voucher_id, v.qualification_id, v.voucher_kind, v.public_payer_number,
       v.recipient_number, v.issue_number, v.treatment_month, v.valid_from, v.valid_to,
       v.single_or_combined, v.institution_code, v.institution_name, v.institution_address,
       v.prescriber_code, v.prescriber_name, v.disease_name_1, v.disease_name_2, v.disease_name_3,
       v.treatment_kind, v.patient_payment, v.insurer_number, v.card_symbol, v.card_number,
       v.insured_branch_number, v.infectious_disease_status, v.late_elderly_status,
       v.prefecture_status, v.registered_at
FROM onshikaku.medical_voucher v;
COMMENT ON VIEW onshikaku.oqs_feed_medical_voucher IS
    'OQS向け医療券・調剤券情報: welfare medical and dispensing vouchers for the counter (001:L665-667), without the welfare office''s internal items (case and household numbers, officers, remarks). Readable by onshikaku_oqs_feed only.';

CREATE VIEW onshikaku.oqs_pmh_queue WITH (security_barrier) AS
SELECT l.issuance_id, l.link_number, l.pmh_id, l.issued_at
FROM onshikaku.pmh_issuance_log l
WHERE l.queued_for_oqs;
COMMENT ON VIEW onshikaku.oqs_pmh_queue IS
    'PMH-ID送付待ち: the (紐付番号, PMH-ID) pairs issued by the PMH flow and not yet acknowledged by OQS (onshikaku.ack_oqs_pmh_queue). Readable by onshikaku_oqs_feed only.';

CREATE FUNCTION onshikaku.ack_oqs_pmh_queue(up_to bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM onshikaku.caller_check(NULL, 'onshikaku_oqs_feed');
    PERFORM onshikaku.require(ARRAY['up_to'], ARRAY[up_to IS NOT NULL]);
    UPDATE onshikaku.pmh_issuance_log l SET queued_for_oqs = false
    WHERE l.queued_for_oqs AND l.issuance_id <= up_to;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION onshikaku.ack_oqs_pmh_queue(bigint) IS
    'OQS acknowledges the PMH-ID queue up to an issuance_id (inclusive): those pairs leave oqs_pmh_queue (the log keeps them). Returns how many. Callers: onshikaku_oqs_feed.';

REVOKE ALL ON onshikaku.oqs_feed, onshikaku.oqs_feed_card, onshikaku.oqs_feed_medical_voucher,
              onshikaku.oqs_pmh_queue FROM PUBLIC;
GRANT SELECT ON onshikaku.oqs_feed, onshikaku.oqs_feed_card, onshikaku.oqs_feed_medical_voucher,
                onshikaku.oqs_pmh_queue TO onshikaku_oqs_feed;
REVOKE EXECUTE ON FUNCTION onshikaku.ack_oqs_pmh_queue(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION onshikaku.ack_oqs_pmh_queue(bigint) TO onshikaku_oqs_feed;

-- ---- the auditor's view of the provision log ------------------------------------------------

CREATE VIEW onshikaku.provision_log_audit WITH (security_barrier) AS
SELECT p.insurer_id, i.insurer_number, i.public_payer_number AS insurer_public_payer_number, i.name AS insurer_name,
       p.provision_id, p.direction, p.processing_serial, p.processing_serial_branch, p.office_work_name,
       p.procedure_name, p.inquirer_department, p.provider_department, p.requested_at, p.provided_at,
       p.item_name, p.nondisclosure_code, p.error_reason_code, p.insured_branch_number
FROM onshikaku.provision_log p
JOIN onshikaku.insurer i ON i.insurer_id = p.insurer_id;
COMMENT ON VIEW onshikaku.provision_log_audit IS
    '情報提供等記録 (監査用): every provision and inquiry of every insurer, all 13 items but the agency code (001:L7828-7830). Readable by onshikaku_auditor only.';
REVOKE ALL ON onshikaku.provision_log_audit FROM PUBLIC;
GRANT SELECT ON onshikaku.provision_log_audit TO onshikaku_auditor;

-- ---- analyst views ------------------------------------------------------------------------------
--
-- Off by default: onshikaku_analyst has no member until an administrator
-- grants it (the sources say these files are not analysed, 001:L2454).  No
-- personal number or anything standing in for one, no name, address or full
-- birth date; people under DV support measures are left out; every group
-- smaller than onshikaku.analyst_min_cell (default 10; superuser-only) is
-- suppressed.

CREATE FUNCTION onshikaku.analyst_min_cell() RETURNS integer
    LANGUAGE C STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'osk_analyst_min_cell';
COMMENT ON FUNCTION onshikaku.analyst_min_cell() IS
    'The smallest group the analyst views show (setting onshikaku.analyst_min_cell, default 10, changeable by superusers only).';

-- The prefecture (都道府県番号) of an insurer, from its 保険者番号 or 公費負担者番号.
CREATE FUNCTION onshikaku.insurer_prefecture(insurer_number onshikaku.insurer_number,
                                             public_payer_number onshikaku.public_payer_number)
    RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN insurer_number IS NOT NULL THEN onshikaku.prefecture(insurer_number)
                ELSE substr(public_payer_number::text, 3, 2)::integer END
$$;
COMMENT ON FUNCTION onshikaku.insurer_prefecture(onshikaku.insurer_number, onshikaku.public_payer_number) IS
    '都道府県番号 of an insurer: from its 保険者番号, or from the 公費負担者番号 of a 生活保護 body.';

-- The ten-year age band of a birth date on a day: '0-9', '10-19', ..., '90+'.
CREATE FUNCTION onshikaku.age_band(birth_date date, on_date date) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN a >= 90 THEN '90+' ELSE (a / 10 * 10)::text || '-' || (a / 10 * 10 + 9)::text END
    FROM (SELECT extract(year FROM age(on_date, birth_date))::integer AS a) s
$$;
COMMENT ON FUNCTION onshikaku.age_band(date, date) IS
    'The ten-year age band (0-9, 10-19, ..., 90+) of a birth date on a day: what analyst views show instead of a birth date.';

-- The qualification rows analysts may count: not deleted, no DV flag on
-- any row of the person (with any insurer).
CREATE VIEW onshikaku.analyst_base WITH (security_barrier) AS
SELECT q.insurer_id, i.kind, onshikaku.insurer_prefecture(i.insurer_number, i.public_payer_number) AS prefecture,
       q.birth_date, q.sex1, q.acquired_on, q.lost_on, q.loss_reason
FROM onshikaku.qualification q
JOIN onshikaku.insurer i ON i.insurer_id = q.insurer_id
WHERE NOT q.deleted
  AND NOT EXISTS (SELECT FROM onshikaku.qualification d
                  WHERE d.link_number OPERATOR(onshikaku.=) q.link_number AND d.dv_nondisclosure);
COMMENT ON VIEW onshikaku.analyst_base IS
    'Internal: the qualification rows the analyst views count (not deleted; nobody with a DV flag on any row). Not granted to analysts.';
REVOKE ALL ON onshikaku.analyst_base FROM PUBLIC;

CREATE VIEW onshikaku.analyst_membership WITH (security_barrier) AS
SELECT m.month, b.kind AS insurer_kind, b.prefecture, onshikaku.age_band(b.birth_date, m.month) AS age_band,
       b.sex1 AS sex, count(*) AS members
FROM onshikaku.analyst_base b
JOIN (SELECT generate_series(date_trunc('month', current_date) - interval '23 months',
                             date_trunc('month', current_date), interval '1 month')::date AS month) m
  ON b.acquired_on <= m.month AND (b.lost_on IS NULL OR b.lost_on > m.month)
GROUP BY 1, 2, 3, 4, 5
HAVING count(*) >= onshikaku.analyst_min_cell();
COMMENT ON VIEW onshikaku.analyst_membership IS
    '加入者数: members on the first day of each of the last 24 months, by insurer kind, prefecture, age band and sex; groups smaller than analyst_min_cell() are left out.';

CREATE VIEW onshikaku.analyst_acquisitions_losses WITH (security_barrier) AS
SELECT month, insurer_kind, prefecture, age_band, sex,
       CASE WHEN acquisitions >= onshikaku.analyst_min_cell() THEN acquisitions END AS acquisitions,
       CASE WHEN losses >= onshikaku.analyst_min_cell() THEN losses END AS losses
FROM (SELECT e.month, b.kind AS insurer_kind, b.prefecture, onshikaku.age_band(b.birth_date, e.on_day) AS age_band,
             b.sex1 AS sex, count(*) FILTER (WHERE e.event = 'acquisition') AS acquisitions,
             count(*) FILTER (WHERE e.event = 'loss') AS losses
      FROM onshikaku.analyst_base b
      CROSS JOIN LATERAL (VALUES ('acquisition', date_trunc('month', b.acquired_on)::date, b.acquired_on),
                                 ('loss', date_trunc('month', b.lost_on)::date, b.lost_on)) e(event, month, on_day)
      WHERE e.month IS NOT NULL
      GROUP BY 1, 2, 3, 4, 5) g
WHERE acquisitions >= onshikaku.analyst_min_cell() OR losses >= onshikaku.analyst_min_cell();
COMMENT ON VIEW onshikaku.analyst_acquisitions_losses IS
    '資格取得・喪失件数: acquisitions and losses per month, by insurer kind, prefecture, age band (at the event) and sex; a count below analyst_min_cell() is NULL, a row with both below is left out.';

CREATE VIEW onshikaku.analyst_loss_reasons WITH (security_barrier) AS
SELECT extract(year FROM b.lost_on)::integer AS year, b.kind AS insurer_kind, b.loss_reason, count(*) AS losses
FROM onshikaku.analyst_base b
WHERE b.lost_on IS NOT NULL
GROUP BY 1, 2, 3
HAVING count(*) >= onshikaku.analyst_min_cell();
COMMENT ON VIEW onshikaku.analyst_loss_reasons IS
    '資格喪失事由別件数: losses per year, insurer kind and loss reason; groups smaller than analyst_min_cell() are left out.';

CREATE VIEW onshikaku.analyst_certificates WITH (security_barrier) AS
SELECT extract(year FROM coalesce(c.issued_on, c.valid_from))::integer AS year, i.kind AS insurer_kind,
       c.kind AS certificate_kind, count(*) AS certificates
FROM onshikaku.card c
JOIN onshikaku.insurer i ON i.insurer_id = c.insurer_id
JOIN onshikaku.qualification q ON q.insurer_id = c.insurer_id AND q.qualification_id = c.qualification_id
WHERE NOT q.deleted
  AND NOT EXISTS (SELECT FROM onshikaku.qualification d
                  WHERE d.link_number OPERATOR(onshikaku.=) q.link_number AND d.dv_nondisclosure)
GROUP BY 1, 2, 3
HAVING count(*) >= onshikaku.analyst_min_cell();
COMMENT ON VIEW onshikaku.analyst_certificates IS
    '証の交付件数: certificates per year of issue, insurer kind and certificate kind; groups smaller than analyst_min_cell() are left out.';

CREATE VIEW onshikaku.analyst_pmh_issuance WITH (security_barrier) AS
SELECT date_trunc('month', l.issued_at AT TIME ZONE 'Asia/Tokyo')::date AS month, count(*) AS issued
FROM onshikaku.pmh_issuance_log l
WHERE NOT EXISTS (SELECT FROM onshikaku.qualification d
                  WHERE d.link_number OPERATOR(onshikaku.=) l.link_number AND d.dv_nondisclosure)
GROUP BY 1
HAVING count(*) >= onshikaku.analyst_min_cell();
COMMENT ON VIEW onshikaku.analyst_pmh_issuance IS
    'PMH-ID発行件数: PMH-IDs issued per month (Japan time); groups smaller than analyst_min_cell() are left out.';

REVOKE ALL ON onshikaku.analyst_membership, onshikaku.analyst_acquisitions_losses, onshikaku.analyst_loss_reasons,
              onshikaku.analyst_certificates, onshikaku.analyst_pmh_issuance FROM PUBLIC;
GRANT SELECT ON onshikaku.analyst_membership, onshikaku.analyst_acquisitions_losses, onshikaku.analyst_loss_reasons,
                onshikaku.analyst_certificates, onshikaku.analyst_pmh_issuance TO onshikaku_analyst;

-- ---- the analyst surface check (C: analyst_surface.c) ---------------------------------------------

CREATE FUNCTION onshikaku.check_analyst_surface() RETURNS text
    LANGUAGE C VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'osk_check_analyst_surface';
COMMENT ON FUNCTION onshikaku.check_analyst_surface() IS
    'Fails (42501), naming the column, if anything onshikaku_analyst can read (directly, through a role it belongs to, or through PUBLIC) exposes a classified column: a table or column privilege on a column classed personal_number, direct_identifier or quasi_identifier, or a view column that is such a column, or is computed from a personal_number or direct_identifier column. Returns a summary when the surface is clean.';
REVOKE EXECUTE ON FUNCTION onshikaku.check_analyst_surface() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION onshikaku.check_analyst_surface() TO onshikaku_admin;

-- ---- extension/sql/90_classification.sql ----
-- 90_classification.sql: the last step of the install script.
--
-- Every column of every table the earlier parts created gets its class in
-- onshikaku.column_class (30_model.sql classified the model's tables before
-- granting on them); check_analyst_surface() and the grants rely on it.
SELECT onshikaku.classify_columns();
