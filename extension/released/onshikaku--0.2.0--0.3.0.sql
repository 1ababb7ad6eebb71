-- onshikaku 0.2.0 -> 0.3.0: the retention purge paced, resumable where it
-- stopped, and set-based for national data (issue 6).  Written by hand; the
-- upgrade suite checks that the result equals a fresh install of 0.3.0.
\echo Use "ALTER EXTENSION onshikaku UPDATE" to load this file. \quit

-- where a resumed run starts again
ALTER TABLE onshikaku.purge_run
    ADD COLUMN resume_class    text,
    ADD COLUMN resume_insurer  integer,
    ADD COLUMN resume_key      text,
    ADD COLUMN resume_deferred integer[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN onshikaku.purge_run.resume_class IS
    '再開位置: the class a resumed run starts again at (the classes before it are done; data_key: only the key destruction is left).';
COMMENT ON COLUMN onshikaku.purge_run.resume_insurer IS '再開位置: in resume_class, the insurers below this one are done.';
COMMENT ON COLUMN onshikaku.purge_run.resume_key IS
    '再開位置: in resume_insurer, the 被保険者枝番 (or, for national data, the 紐付番号) up to which the run is done; NULL: none yet.';
COMMENT ON COLUMN onshikaku.purge_run.resume_deferred IS '再試行待ち: insurers of resume_class whose locks were busy, to try again.';

-- where an unfinished run stopped names a person (被保険者枝番 or 紐付番号):
-- the operator's to see, not the auditor's
INSERT INTO onshikaku.column_class VALUES ('onshikaku.purge_run', 'resume_key', 'direct_identifier');
REVOKE SELECT ON onshikaku.purge_run FROM onshikaku_auditor;
GRANT SELECT (run_id, as_of, dry_run, started_by, started_at, finished_at, backend_pid, status, resume_class,
              resume_insurer, resume_deferred) ON onshikaku.purge_run TO onshikaku_auditor;

-- and the card 枝番 records of a person (the purge keeps them without the person)
CREATE INDEX card_branch_issue_person ON onshikaku.card_branch_issue (insurer_id, link_number);

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
CREATE OR REPLACE FUNCTION onshikaku.is_held(data_class text, insurer_id integer, bi onshikaku.blind_index) RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, onshikaku, pg_temp
AS $$
    SELECT h.everything OR coalesce($3 = ANY (h.people), false) FROM onshikaku.held_scope($1, $2) h
$$;
COMMENT ON FUNCTION onshikaku.is_held(text, integer, onshikaku.blind_index) IS
    'Whether an active hold covers this class, insurer and person (NULL insurer or person: held only by holds without one).';

-- the national data of a batch in one go (replaces purge_person)
DROP FUNCTION onshikaku.purge_person(bigint, boolean, onshikaku.link_number, onshikaku.blind_index, date);

-- One batch of one class of one insurer (or of national data): at most
-- batch_size people or rows, waiting at most lock_timeout for a lock.
-- Returns the number of people or rows handled, or -1 when a lock could not
-- be had in time (the caller moves on and comes back).
CREATE OR REPLACE FUNCTION onshikaku.purge_batch(run_id bigint, data_class text, insurer_id integer, as_of date,
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

-- paced, and resumed where it stopped: a new argument, so a new procedure
DROP PROCEDURE onshikaku.purge_expired(date, boolean, integer, text, boolean, integer);

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

-- the new columns of purge_run
SELECT onshikaku.classify_columns();
