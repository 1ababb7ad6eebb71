-- onshikaku 0.3.0 -> 0.4.0: the flows' speed (issue 5).  Written by hand; the
-- upgrade suite checks that the result equals a fresh install of 0.4.0.
\echo Use "ALTER EXTENSION onshikaku UPDATE" to load this file. \quit

-- confirm_qualification() becomes an inlinable SQL function (SETOF, one row)
-- around the C function, which keeps its grants under the name
-- confirm_qualification_row (the composite form, for expressions).
ALTER FUNCTION onshikaku.confirm_qualification(onshikaku.insurer_number, text, text, onshikaku.card_branch_number, date, date, boolean)
    RENAME TO confirm_qualification_row;
COMMENT ON FUNCTION onshikaku.confirm_qualification_row(onshikaku.insurer_number, text, text, onshikaku.card_branch_number, date, date, boolean) IS
    'confirm_qualification() as one composite value, for expressions (SELECT (confirm_qualification_row(…)).status): the same answer, the same checks. Callers: onshikaku_oqs_feed.';
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
REVOKE EXECUTE ON FUNCTION
    onshikaku.confirm_qualification(onshikaku.insurer_number, text, text, onshikaku.card_branch_number, date, date, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    onshikaku.confirm_qualification(onshikaku.insurer_number, text, text, onshikaku.card_branch_number, date, date, boolean) TO onshikaku_oqs_feed;

-- the link-number path calls the composite form
CREATE OR REPLACE FUNCTION onshikaku.confirm_qualification_by_link(link_number onshikaku.link_number, birth_date date,
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

-- enroll_members() in C (bulk_enrolment.c): same arguments, result, rules
-- and messages; no work table any more
CREATE OR REPLACE FUNCTION onshikaku.enroll_members(insurer_id integer, members onshikaku.member_input[])
    RETURNS SETOF onshikaku.bulk_enrolment
    LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, onshikaku, pg_temp
    AS 'MODULE_PATHNAME', 'osk_enroll_members';

-- card_branch_issue: the per-person unique constraint led by the person, which
-- makes the index card_branch_issue_person (insurer_id, link_number) redundant:
-- one index less to write per 枝番 issued
ALTER TABLE onshikaku.card_branch_issue
    DROP CONSTRAINT card_branch_issue_insurer_id_card_symbol_card_number_link_n_key,
    ADD CONSTRAINT card_branch_issue_person_card UNIQUE (insurer_id, link_number, card_symbol, card_number);
DROP INDEX onshikaku.card_branch_issue_person;

-- person_enrolment (insurer_id): no reader (the purge deletes by link number
-- and insurer, which the primary key serves); one index less per enrolment
DROP INDEX onshikaku.person_enrolment_insurer;

-- The insurance card of the enrolment, copied on the qualification row, so
-- that a confirmation of a qualification with no other certificate reads one
-- partition instead of two.  Rows enrolled before 0.4.0 keep card_copied
-- false: their confirmations read the card rows, as before.
ALTER TABLE onshikaku.qualification
    ADD COLUMN card_copay_ratio smallint,
    ADD COLUMN card_valid_from date,
    ADD COLUMN card_valid_to date,
    ADD COLUMN card_copied boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN onshikaku.qualification.card_copay_ratio IS '一部負担金割合 of the insurance card issued at enrolment (a copy of card.copay_ratio, for the OQS answer)';
COMMENT ON COLUMN onshikaku.qualification.card_valid_from IS '有効開始年月日 of that card (a copy)';
COMMENT ON COLUMN onshikaku.qualification.card_valid_to IS '有効終了年月日 of that card (a copy; record_loss() ends both)';
COMMENT ON COLUMN onshikaku.qualification.card_copied IS 'True while the qualification''s only card is that insurance card, copied in card_copay_ratio, card_valid_from and card_valid_to: confirm_qualification() then reads no card row. add_certificate() clears it.';
SELECT onshikaku.classify_columns();
GRANT SELECT (card_copay_ratio, card_valid_from, card_valid_to, card_copied) ON onshikaku.qualification
    TO onshikaku_insurer;

-- the flows that write cards keep the copy
CREATE OR REPLACE FUNCTION onshikaku.enroll_member(
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

CREATE OR REPLACE FUNCTION onshikaku.record_loss(insurer_id integer, qualification_id bigint, lost_on date,
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

CREATE OR REPLACE FUNCTION onshikaku.add_certificate(insurer_id integer, qualification_id bigint,
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
