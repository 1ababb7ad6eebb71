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
-- (the card 枝番 records of a person: card_branch_issue_person_card, 30_model.sql)

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

-- The holds over a class and insurer, read once per batch rather than once
-- per row: whether one covers everything, and the people held one by one.
CREATE FUNCTION onshikaku.held_scope(data_class text, insurer_id integer,
                                     OUT everything boolean, OUT people onshikaku.blind_index[])
    LANGUAGE sql STABLE SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
    SELECT coalesce(bool_or(h.my_number_bi IS NULL), false),
           coalesce(array_agg(h.my_number_bi) FILTER (WHERE h.my_number_bi IS NOT NULL), '{}')
    FROM onshikaku.retention_hold h
    WHERE h.lifted_at IS NULL
      AND (h.data_class IS NULL OR h.data_class = $1)
      AND (h.insurer_id IS NULL OR h.insurer_id = $2)
$$;
COMMENT ON FUNCTION onshikaku.held_scope(text, integer) IS
    'Internal: the active holds over a class and insurer (NULL insurer: national data): everything, whether one covers all of it; people, the blind indexes held one by one. The purge reads it once per batch (is_held() per row cost 3.8 µs).';
REVOKE EXECUTE ON FUNCTION onshikaku.held_scope(text, integer) FROM PUBLIC;

-- Is this (class, insurer, person) held?  (The rules of which hold covers
-- what are held_scope()'s, in one place.)
CREATE FUNCTION onshikaku.is_held(data_class text, insurer_id integer, bi onshikaku.blind_index) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
    SELECT h.everything OR coalesce($3 = ANY (h.people), false) FROM onshikaku.held_scope($1, $2) h
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
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'finished', 'interrupted')),
    -- where a resumed run starts again: the classes before resume_class are
    -- done; in it the insurers below resume_insurer, and in that one the keys
    -- up to resume_key; resume_deferred: insurers whose locks were busy
    resume_class    text,                           -- 再開位置: データ区分
    resume_insurer  integer,                        -- 再開位置: 医療保険者等
    resume_key      text,                           -- 再開位置: 最後に処理したキー
    resume_deferred integer[] NOT NULL DEFAULT '{}' -- 再試行待ちの医療保険者等
);
COMMENT ON TABLE onshikaku.purge_run IS
    '削除処理の実行: one row per CALL onshikaku.purge_expired(); an interrupted run is resumed with resume => true.';
COMMENT ON COLUMN onshikaku.purge_run.resume_class IS
    '再開位置: the class a resumed run starts again at (the classes before it are done; data_key: only the key destruction is left).';
COMMENT ON COLUMN onshikaku.purge_run.resume_insurer IS '再開位置: in resume_class, the insurers below this one are done.';
COMMENT ON COLUMN onshikaku.purge_run.resume_key IS
    '再開位置: in resume_insurer, the 被保険者枝番 (or, for national data, the 紐付番号) up to which the run is done; NULL: none yet.';
COMMENT ON COLUMN onshikaku.purge_run.resume_deferred IS '再試行待ち: insurers of resume_class whose locks were busy, to try again.';

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
-- where an unfinished run stopped names a person (被保険者枝番 or 紐付番号):
-- the operator's to see, not the auditor's
INSERT INTO onshikaku.column_class VALUES ('onshikaku.purge_run', 'resume_key', 'direct_identifier');
REVOKE SELECT ON onshikaku.purge_run FROM onshikaku_auditor;
GRANT SELECT (run_id, as_of, dry_run, started_by, started_at, finished_at, backend_pid, status, resume_class,
              resume_insurer, resume_deferred) ON onshikaku.purge_run TO onshikaku_auditor;
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
    ins integer := insurer_id;
    after_ibn onshikaku.insured_branch_number;
    held record;
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
        after_ibn := after::onshikaku.insured_branch_number;
        SELECT * INTO held FROM onshikaku.held_scope('qualification', ins);
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
                  WHERE z.insurer_id = ins AND NOT held.everything
                    AND (locked IS NULL OR (z.insured_branch_number = ANY (locked) AND q.insured_branch_number = ANY (locked)))
                    -- the keyset bounds both sides, so that a batch reads about its own size
                    AND (after_ibn IS NULL OR (z.insured_branch_number > after_ibn AND q.insured_branch_number > after_ibn))
                  GROUP BY 1, 2, 3
                  HAVING bool_and(q.lost_on IS NOT NULL)
                     AND as_of > onshikaku.retention_end(max(q.lost_on), r.period)
                     AND as_of > onshikaku.retention_end(max(q.lost_on), coalesce(r.oqs_need_period, '0 days'))
                     AND NOT coalesce(z.my_number_bi = ANY (held.people), false)
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
        SELECT coalesce(array_agg(x.link), '{}'), coalesce(array_agg(x.bi), '{}'), coalesce(array_agg(x.last_loss), '{}')
        INTO links, bis, losses
        FROM (SELECT u.link, u.bi,
                     greatest(u.last_loss, (SELECT max(o.last_loss) FROM onshikaku.person_enrolment e,
                                            LATERAL onshikaku.person_purgeable(e.insurer_id, u.link, as_of) o
                                            WHERE e.link_number = u.link AND e.insurer_id <> ins)) AS last_loss
              FROM unnest(links, bis, losses) u(link, bi, last_loss)
              WHERE NOT EXISTS (SELECT FROM onshikaku.person_enrolment e
                                WHERE e.link_number = u.link AND e.insurer_id <> ins
                                  AND NOT (dry_run AND (SELECT o.purgeable FROM onshikaku.person_purgeable(e.insurer_id, u.link, as_of) o)))) x;
        PERFORM onshikaku.purge_people(run_id, dry_run, as_of, links, bis, losses);

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
        SELECT coalesce(array_agg(x.link ORDER BY x.link), '{}'), coalesce(array_agg(x.bi ORDER BY x.link), '{}'),
               coalesce(array_agg(x.last_loss ORDER BY x.link), '{}')
        INTO links, bis, losses
        FROM (SELECT p.link_number AS link, p.my_number_bi AS bi, p.last_lost_on AS last_loss FROM onshikaku.person p
              WHERE p.last_lost_on IS NOT NULL
                AND (after IS NULL OR p.link_number > after::onshikaku.link_number)
                AND NOT EXISTS (SELECT FROM onshikaku.person_enrolment e WHERE e.link_number = p.link_number)
              ORDER BY p.link_number LIMIT batch_size) x;
        n := cardinality(links);
        last_key := links[n]::text;
        PERFORM onshikaku.purge_people(run_id, dry_run, as_of, links, bis, losses);

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

-- The national data (agency code, PMH-ID log, the person row) of the people
-- no insurer holds any more, a batch at a time: the rules and holds are read
-- once, each table is touched by one statement (a call per person planned
-- every statement, and the foreign-key check of each person row, again).
CREATE FUNCTION onshikaku.purge_people(run_id bigint, dry_run boolean, as_of date, links onshikaku.link_number[],
                                       bis onshikaku.blind_index[], losses date[]) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, onshikaku, pg_temp
    SET plan_cache_mode = auto
AS $$
#variable_conflict use_variable
DECLARE
    ac onshikaku.retention_rule := onshikaku.effective_rule('agency_code');
    pl onshikaku.retention_rule := onshikaku.effective_rule('pmh_issuance_log');
    ac_held record;
    pl_held record;
    k bigint;
    f date;
    t date;
    gone onshikaku.link_number[];
    kept onshikaku.link_number[];
    kept_too onshikaku.link_number[];
BEGIN
    IF cardinality(links) = 0 THEN
        RETURN;
    END IF;
    SELECT * INTO ac_held FROM onshikaku.held_scope('agency_code', NULL);
    SELECT * INTO pl_held FROM onshikaku.held_scope('pmh_issuance_log', NULL);
    -- the qualification class's own periods have passed for each last loss;
    -- the national classes check theirs (they may be longer) and their holds
    SELECT count(*) FILTER (WHERE x.due), min(x.last_loss) FILTER (WHERE x.due), max(x.last_loss) FILTER (WHERE x.due),
           coalesce(array_agg(x.link) FILTER (WHERE x.due), '{}'), coalesce(array_agg(x.link) FILTER (WHERE NOT x.due), '{}')
    INTO k, f, t, gone, kept
    FROM (SELECT u.link, u.last_loss,
                 as_of > onshikaku.retention_end(u.last_loss, ac.period)
                 AND as_of > onshikaku.retention_end(u.last_loss, coalesce(ac.oqs_need_period, '0 days'))
                 AND NOT ac_held.everything AND NOT coalesce(u.bi = ANY (ac_held.people), false) AS due
          FROM unnest(links, bis, losses) u(link, bi, last_loss)
          WHERE EXISTS (SELECT FROM onshikaku.agency_code a WHERE a.link_number = u.link)) x;
    IF k > 0 AND NOT dry_run THEN
        DELETE FROM onshikaku.agency_code a WHERE a.link_number = ANY (gone);
    END IF;
    PERFORM onshikaku.report_purged(run_id, dry_run, 'agency_code', NULL, k, f, t);

    SELECT coalesce(sum(x.n) FILTER (WHERE x.due), 0), min(x.last_loss) FILTER (WHERE x.due), max(x.last_loss) FILTER (WHERE x.due),
           coalesce(array_agg(x.link) FILTER (WHERE x.due), '{}'), coalesce(array_agg(x.link) FILTER (WHERE NOT x.due), '{}')
    INTO k, f, t, gone, kept_too
    FROM (SELECT u.link, u.last_loss, l.n,
                 as_of > onshikaku.retention_end(u.last_loss, pl.period)
                 AND NOT pl_held.everything AND NOT coalesce(u.bi = ANY (pl_held.people), false) AS due
          FROM unnest(links, bis, losses) u(link, bi, last_loss)
          CROSS JOIN LATERAL (SELECT count(*) AS n FROM onshikaku.pmh_issuance_log l WHERE l.link_number = u.link) l
          WHERE l.n > 0) x;
    IF k > 0 AND NOT dry_run THEN
        DELETE FROM onshikaku.pmh_issuance_log l WHERE l.link_number = ANY (gone);
    END IF;
    PERFORM onshikaku.report_purged(run_id, dry_run, 'pmh_issuance_log', NULL, k, f, t);

    -- the person row goes with the last of their national data; while some
    -- is kept, the row remembers since when it counts
    IF NOT dry_run THEN
        kept := kept || kept_too;
        UPDATE onshikaku.person p SET last_lost_on = u.last_loss
        FROM unnest(links, losses) u(link, last_loss)
        WHERE p.link_number = u.link AND u.link = ANY (kept);
        DELETE FROM onshikaku.person p WHERE p.link_number = ANY (links) AND NOT (p.link_number = ANY (kept));
    END IF;
END
$$;
COMMENT ON FUNCTION onshikaku.purge_people(bigint, boolean, date, onshikaku.link_number[], onshikaku.blind_index[], date[]) IS
    'Internal: the national data of people no insurer holds any more (link numbers, blind indexes and last loss dates, in step): the agency codes and PMH-ID log rows whose rules have expired and no hold covers, then the person rows with nothing kept (the others remember their last loss).';
REVOKE EXECUTE ON FUNCTION onshikaku.purge_people(bigint, boolean, date, onshikaku.link_number[], onshikaku.blind_index[], date[]),
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

-- Pacing: after a batch that began at started, sleep so that the purge works
-- duty of the time (the rest is left to confirmations and enrolments).  Run
-- after the batch's COMMIT, so the pause holds no lock.
CREATE FUNCTION onshikaku.purge_pause(started timestamptz, duty real) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF duty < 1 THEN
        PERFORM pg_sleep(extract(epoch FROM clock_timestamp() - started) * (1 - duty) / duty);
    END IF;
END
$$;
COMMENT ON FUNCTION onshikaku.purge_pause(timestamptz, real) IS
    'Internal: the pause of CALL purge_expired() after a batch: as long as the batch took times (1 - duty) / duty.';
REVOKE EXECUTE ON FUNCTION onshikaku.purge_pause(timestamptz, real) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION onshikaku.purge_pause(timestamptz, real) TO onshikaku_admin;

CREATE PROCEDURE onshikaku.purge_expired(as_of date DEFAULT NULL, dry_run boolean DEFAULT false,
                                         batch_size integer DEFAULT 1000, lock_timeout text DEFAULT '1s',
                                         resume boolean DEFAULT false, max_retries integer DEFAULT 10,
                                         duty real DEFAULT 0.5)
    LANGUAGE plpgsql
AS $$
DECLARE
    classes CONSTANT text[] := ARRAY['qualification', 'provision_log', 'identity_check', 'registration_zone',
                                     'person', 'deletion_record', 'data_key'];
    start_at integer;
    run bigint;
    day date;
    pos record;
    ci integer;
    c text;
    i integer;
    n integer;
    sk integer;
    skipped bigint := 0;
    last text;
    tries integer;
    deferred integer[];
    started timestamptz;
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF duty IS NULL OR NOT (duty > 0 AND duty <= 1) THEN
        RAISE EXCEPTION 'duty must be greater than 0 and at most 1'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'duty is the share of the time the purge works: 1 never pauses, 0.5 pauses as long as each batch took.';
    END IF;
    -- one purge at a time (per database)
    IF NOT pg_try_advisory_lock(hashtext('onshikaku.purge_expired')) THEN
        RAISE EXCEPTION 'another purge is running in this database' USING ERRCODE = 'lock_not_available';
    END IF;
    IF resume THEN
        SELECT p.run_id, p.as_of, p.resume_class, p.resume_insurer, p.resume_key, p.resume_deferred
        INTO pos
        FROM onshikaku.purge_run p
        WHERE p.status <> 'finished' AND p.dry_run = purge_expired.dry_run
        ORDER BY p.run_id DESC LIMIT 1;
        IF NOT FOUND THEN
            PERFORM pg_advisory_unlock(hashtext('onshikaku.purge_expired'));
            RAISE EXCEPTION 'no interrupted purge run to resume' USING ERRCODE = 'no_data_found';
        END IF;
        run := pos.run_id;
        day := pos.as_of;
        UPDATE onshikaku.purge_run SET status = 'running', backend_pid = pg_backend_pid() WHERE run_id = run;
    ELSE
        day := coalesce(as_of, onshikaku.today_in_japan());
        UPDATE onshikaku.purge_run SET status = 'interrupted' WHERE status = 'running';
        INSERT INTO onshikaku.purge_run (as_of, dry_run) VALUES (day, purge_expired.dry_run) RETURNING run_id INTO run;
        SELECT run AS run_id, day AS as_of, NULL::text AS resume_class, NULL::integer AS resume_insurer,
               NULL::text AS resume_key, '{}'::integer[] AS resume_deferred INTO pos;
    END IF;
    COMMIT;

    -- a dry run deletes nothing, so it counts each class of each insurer in one pass
    IF purge_expired.dry_run THEN
        batch_size := 2147483647;
    END IF;
    start_at := coalesce(array_position(classes, pos.resume_class), 1);
    FOR ci IN start_at .. 4 LOOP
        c := classes[ci];
        deferred := CASE WHEN c = pos.resume_class THEN pos.resume_deferred ELSE '{}' END;
        FOR i IN SELECT x.insurer_id FROM onshikaku.insurer x
                 WHERE c IS DISTINCT FROM pos.resume_class OR x.insurer_id >= pos.resume_insurer
                 ORDER BY x.insurer_id LOOP
            last := CASE WHEN c = pos.resume_class AND i = pos.resume_insurer THEN pos.resume_key END;
            LOOP
                started := clock_timestamp();
                SELECT b.n, b.last_key, b.skipped INTO n, last, sk
                FROM onshikaku.purge_batch(run, c, i, day, purge_expired.dry_run, batch_size, lock_timeout, last) b;
                IF n = -1 THEN
                    deferred := deferred || i;
                END IF;
                -- where to start again, committed with the batch
                UPDATE onshikaku.purge_run
                SET resume_class = c,
                    resume_insurer = CASE WHEN n = -1 OR n < batch_size OR purge_expired.dry_run THEN i + 1 ELSE i END,
                    resume_key = CASE WHEN n = -1 OR n < batch_size OR purge_expired.dry_run THEN NULL ELSE last END,
                    resume_deferred = deferred
                WHERE run_id = run;
                COMMIT;
                skipped := skipped + coalesce(sk, 0);
                PERFORM onshikaku.purge_pause(started, duty);
                EXIT WHEN n = -1 OR n < batch_size OR purge_expired.dry_run;
            END LOOP;
        END LOOP;
        -- insurers whose locks were busy: again, a bounded number of times
        tries := 0;
        WHILE cardinality(deferred) > 0 AND tries < max_retries LOOP
            tries := tries + 1;
            PERFORM pg_sleep(0.1 * tries);
            i := deferred[1];
            last := NULL;
            LOOP
                started := clock_timestamp();
                SELECT b.n, b.last_key, b.skipped INTO n, last, sk
                FROM onshikaku.purge_batch(run, c, i, day, purge_expired.dry_run, batch_size, lock_timeout, last) b;
                IF n = -1 OR n < batch_size OR purge_expired.dry_run THEN
                    -- done with it, or to the back of the queue
                    deferred := deferred[2:] || CASE WHEN n = -1 THEN ARRAY[i] ELSE '{}'::integer[] END;
                    UPDATE onshikaku.purge_run SET resume_deferred = deferred WHERE run_id = run;
                END IF;
                COMMIT;
                skipped := skipped + coalesce(sk, 0);
                PERFORM onshikaku.purge_pause(started, duty);
                EXIT WHEN n = -1 OR n < batch_size OR purge_expired.dry_run;
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
    IF start_at <= 5 THEN
        last := CASE WHEN pos.resume_class = 'person' THEN pos.resume_key END;
        LOOP
            started := clock_timestamp();
            SELECT b.n, b.last_key INTO n, last
            FROM onshikaku.purge_batch(run, 'person', NULL, day, purge_expired.dry_run, batch_size, lock_timeout, last) b;
            UPDATE onshikaku.purge_run
            SET resume_class = CASE WHEN n < batch_size OR n = -1 OR purge_expired.dry_run THEN 'deletion_record' ELSE 'person' END,
                resume_insurer = NULL, resume_key = last, resume_deferred = '{}'
            WHERE run_id = run;
            COMMIT;
            PERFORM onshikaku.purge_pause(started, duty);
            EXIT WHEN n < batch_size OR n = -1 OR purge_expired.dry_run;
        END LOOP;
    END IF;
    IF start_at <= 6 THEN
        SELECT b.n INTO n
        FROM onshikaku.purge_batch(run, 'deletion_record', NULL, day, purge_expired.dry_run, batch_size, lock_timeout, NULL) b;
        UPDATE onshikaku.purge_run SET resume_class = 'data_key', resume_key = NULL WHERE run_id = run;
        COMMIT;
    END IF;
    IF NOT purge_expired.dry_run THEN
        PERFORM onshikaku.destroy_spent_keys(run);
    END IF;
    UPDATE onshikaku.purge_run SET status = 'finished', finished_at = clock_timestamp() WHERE run_id = run;
    COMMIT;
    PERFORM pg_advisory_unlock(hashtext('onshikaku.purge_expired'));
END
$$;
COMMENT ON PROCEDURE onshikaku.purge_expired(date, boolean, integer, text, boolean, integer, real) IS
    '消去: removes exactly what the retention rules make expired as of a day (default: today in Japan), in batches of batch_size people or rows per class and insurer, each committed, each waiting at most lock_timeout for a lock (busy insurers are retried, then left for the next run); respects holds; writes deletion records; destroys the cohort data keys nothing is left for. duty: the share of the time it works (0.5: after each batch it pauses as long as the batch took; 1: no pause). dry_run => true only reports (onshikaku.purge_report). resume => true continues an interrupted run where it stopped. Callers: onshikaku_admin.';
REVOKE EXECUTE ON PROCEDURE onshikaku.purge_expired(date, boolean, integer, text, boolean, integer, real) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE onshikaku.purge_expired(date, boolean, integer, text, boolean, integer, real) TO onshikaku_admin;

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
