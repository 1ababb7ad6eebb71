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
