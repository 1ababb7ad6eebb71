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
         pmh_id, process_kind_code, card_copay_ratio, card_valid_from, card_valid_to, card_copied)
    SELECT ins.insurer_id, qid, res.insured_branch_number, res.link_number,
           CASE WHEN ins.insurer_number IS NULL
                THEN onshikaku.protect_national(my_number, 'qualification.my_number', extract(year FROM lost_on)::integer)
                ELSE onshikaku.protect(my_number, ins.insurer_number, 'qualification.my_number',
                                       extract(year FROM lost_on)::integer) END,
           bi, dv_nondisclosure, name_on_card, name_on_card_kana, sex, birth_date, address, postcode,
           municipality_code, household_id, nullif(card_symbol, ''), card_num, res.card_branch, acquired_on,
           lost_on, loss_reason, insured_or_dependent, insured_person_name, ins.public_payer_number,
           recipient_number, p.pmh_id, 'enrol',
           -- the insurance card below, copied for the OQS answer
           copay_ratio, coalesce(card_valid_from, acquired_on), coalesce(card_valid_to, lost_on - 1), true
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
-- In C (bulk_enrolment.c): the members checked, encrypted and issued for in
-- memory, one INSERT per table from arrays, no work table.
CREATE FUNCTION onshikaku.enroll_members(insurer_id integer, members onshikaku.member_input[])
    RETURNS SETOF onshikaku.bulk_enrolment
    LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    AS 'MODULE_PATHNAME', 'osk_enroll_members';
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
                                                extract(year FROM $3)::integer),
        -- the copy of the insurance card ends as the card does, below
        card_valid_to = CASE WHEN (x.card_valid_to IS NULL OR x.card_valid_to >= $3)
                              AND (x.card_valid_from IS NULL OR x.card_valid_from < $3)
                             THEN $3 - 1 ELSE x.card_valid_to END
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
    -- more than the one insurance card: confirmations read the card rows again
    UPDATE onshikaku.qualification x SET card_copied = false
    WHERE x.insurer_id = ins.insurer_id AND x.qualification_id = q.qualification_id AND x.card_copied;
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

CREATE FUNCTION onshikaku.confirm_qualification_row(insurer_number onshikaku.insurer_number, card_symbol text,
        card_number text, card_branch onshikaku.card_branch_number, birth_date date,
        on_date date DEFAULT current_date, consent boolean DEFAULT false)
    RETURNS onshikaku.confirmation
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'osk_confirm_qualification';
COMMENT ON FUNCTION onshikaku.confirm_qualification_row(onshikaku.insurer_number, text, text, onshikaku.card_branch_number, date, date, boolean) IS
    'confirm_qualification() as one composite value, for expressions (SELECT (confirm_qualification_row(…)).status): the same answer, the same checks. Callers: onshikaku_oqs_feed.';

-- The table form is a plain SQL function around the C one, so that the planner
-- inlines it: SELECT * FROM confirm_qualification(...) then runs as a Result
-- node over one call, not as a FunctionScan that materialises its single row
-- in a tuplestore (15% of a confirmation, docs/performance.md).  Inlining
-- needs: SQL, SETOF, STABLE, not STRICT, not SECURITY DEFINER, no SET; hence
-- every name in the body is schema-qualified.  OFFSET 0 keeps the call single
-- ((c).* would otherwise call it once per column).
CREATE FUNCTION onshikaku.confirm_qualification(insurer_number onshikaku.insurer_number, card_symbol text,
        card_number text, card_branch onshikaku.card_branch_number, birth_date date,
        on_date date DEFAULT current_date, consent boolean DEFAULT false)
    RETURNS SETOF onshikaku.confirmation
    LANGUAGE sql STABLE PARALLEL RESTRICTED ROWS 1
AS $$
    SELECT (c).* FROM (SELECT onshikaku.confirm_qualification_row($1, $2, $3, $4, $5, $6, $7) AS c OFFSET 0) s
$$;
COMMENT ON FUNCTION onshikaku.confirm_qualification(onshikaku.insurer_number, text, text, onshikaku.card_branch_number, date, date, boolean) IS
    'オンライン資格確認 by card (保険者番号, 記号 (NULL for none), 番号, 枝番) and birth date, on a date: one row, status and answer items (SELECT * FROM confirm_qualification(…)). Callers: onshikaku_oqs_feed. A wrong birth date answers not_found.';

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
                RETURN NEXT onshikaku.confirm_qualification_row(e.insurer_number, c.card_symbol, c.card_number,
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
    onshikaku.confirm_qualification_row(onshikaku.insurer_number, text, text, onshikaku.card_branch_number, date, date, boolean),
    onshikaku.confirm_qualification_by_link(onshikaku.link_number, date, date, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    onshikaku.confirm_qualification(onshikaku.insurer_number, text, text, onshikaku.card_branch_number, date, date, boolean),
    onshikaku.confirm_qualification_row(onshikaku.insurer_number, text, text, onshikaku.card_branch_number, date, date, boolean),
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
