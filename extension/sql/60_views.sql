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
