-- 30_model.sql: the data model (layer 3).
--
-- The insurer registry and what each kind of insurer may use; the roles and
-- who serves which insurer; the four files of 別添２ and the zones around
-- them.  Every per-insurer table is LIST-partitioned by insurer_id;
-- onshikaku.register_insurer() (C, partitions.c) creates an insurer's
-- partitions with their row-level security in one transaction.
-- docs/data-model.md maps every record item of the sources to its column,
-- or says why it has none.

-- ---- roles ------------------------------------------------------------------------

DO $roles$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES
        ('onshikaku_insurer', 'onshikaku: insurer staff and systems (医療保険者等); sees only the insurers it is mapped to in onshikaku.insurer_role, and no personal number without onshikaku_number_handler.'),
        ('onshikaku_oqs_feed', 'onshikaku: the online qualification confirmation system (OQS); reads the feed views only.'),
        ('onshikaku_pmh_gateway', 'onshikaku: the PMH gateway; calls the PMH-ID function only.'),
        ('onshikaku_auditor', 'onshikaku: staff reading the provision log without agency codes (001:L7828).'),
        ('onshikaku_analyst', 'onshikaku: analysts; views without personal numbers, by explicit grant only.')
    ) v(name, comment) LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r.name) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r.name);
        END IF;
        EXECUTE format('COMMENT ON ROLE %I IS %L', r.name, r.comment);
    END LOOP;
END
$roles$;

-- ---- the registry ---------------------------------------------------------------------

CREATE TYPE onshikaku.insurer_kind AS ENUM (
    'kyokai_kenpo',         -- 全国健康保険協会 (協会けんぽ)
    'kenpo_kumiai',         -- 健康保険組合
    'kokka_kyosai',         -- 国家公務員共済組合
    'chiho_kyosai',         -- 地方公務員共済組合
    'shigaku_kyosai',       -- 日本私立学校振興・共済事業団
    'shichoson_kokuho',     -- 市町村国保
    'kokuho_kumiai',        -- 国民健康保険組合
    'koki_koreisha',        -- 後期高齢者医療広域連合
    'seikatsu_hogo'         -- 生活保護法による保護の実施機関
);
COMMENT ON TYPE onshikaku.insurer_kind IS '医療保険者等の種別: the nine kinds of insurer (001:L79-82).';

CREATE TABLE onshikaku.insurer_kind_capability (
    kind                  onshikaku.insurer_kind PRIMARY KEY,
    name_ja               text NOT NULL,
    qualification_history boolean NOT NULL,   -- 資格履歴管理 and the OQS feed
    agency_code           boolean NOT NULL,   -- 機関別符号取得
    nws_provision         boolean NOT NULL,   -- 情報照会・提供 (副本) through NWS
    myportal_link         boolean NOT NULL,   -- マイナポータル link information
    idv_my_number         boolean NOT NULL,   -- 本人確認: 個人番号取得 (4 basic facts -> My Number)
    idv_basic4            boolean NOT NULL,   -- 本人確認: 基本4情報取得 (My Number -> 4 basic facts)
    consigned_to          text NOT NULL CHECK (consigned_to IN ('支払基金', '国保連・国保中央会')),
    identity_check        boolean GENERATED ALWAYS AS (idv_my_number OR idv_basic4) STORED,
    medical_voucher       boolean GENERATED ALWAYS AS (kind = 'seikatsu_hogo') STORED  -- 医療券・調剤券
);
COMMENT ON TABLE onshikaku.insurer_kind_capability IS
    'What each kind of insurer may use (seed 001 digest §0.4: L104-177, L193-225). Checked by the flows.';
INSERT INTO onshikaku.insurer_kind_capability VALUES
    ('kyokai_kenpo',     '全国健康保険協会',             true, true, true,  true, true,  true,  '支払基金'),
    ('kenpo_kumiai',     '健康保険組合',                 true, true, true,  true, true,  true,  '支払基金'),
    ('kokka_kyosai',     '国家公務員共済組合',           true, true, true,  true, true,  true,  '支払基金'),
    ('chiho_kyosai',     '地方公務員共済組合',           true, true, true,  true, true,  true,  '支払基金'),
    ('shigaku_kyosai',   '日本私立学校振興・共済事業団', true, true, true,  true, true,  true,  '支払基金'),
    ('shichoson_kokuho', '市町村国保',                   true, true, false, true, false, false, '国保連・国保中央会'),
    ('kokuho_kumiai',    '国民健康保険組合',             true, true, true,  true, true,  true,  '国保連・国保中央会'),
    ('koki_koreisha',    '後期高齢者医療広域連合',       true, true, true,  true, true,  true,  '国保連・国保中央会'),
    ('seikatsu_hogo',    '生活保護法による保護の実施機関', true, true, false, true, false, true,  '支払基金');

CREATE TABLE onshikaku.insurer (
    insurer_id          integer PRIMARY KEY CHECK (insurer_id > 0),
    insurer_number      onshikaku.insurer_number UNIQUE,
    public_payer_number onshikaku.public_payer_number UNIQUE,
    name                text NOT NULL CHECK (name <> ''),
    kind                onshikaku.insurer_kind NOT NULL,
    registered_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT seikatsu_hogo_has_no_insurer_number CHECK ((kind = 'seikatsu_hogo') = (insurer_number IS NULL)),
    CONSTRAINT only_seikatsu_hogo_has_public_payer_number CHECK ((kind = 'seikatsu_hogo') = (public_payer_number IS NOT NULL))
);
COMMENT ON TABLE onshikaku.insurer IS
    '医療保険者等: the registry. insurer_id keys every per-insurer partition; a 生活保護 body is known by its 公費負担者番号, every other insurer by its 保険者番号.';
COMMENT ON COLUMN onshikaku.insurer.insurer_id IS 'Surrogate key and partition key (LIST) of every per-insurer table.';
COMMENT ON COLUMN onshikaku.insurer.insurer_number IS '保険者番号 (保険者コード in the sources).';
COMMENT ON COLUMN onshikaku.insurer.public_payer_number IS '公費負担者番号 of a 生活保護 実施機関.';
COMMENT ON COLUMN onshikaku.insurer.name IS '保険者名称.';
CREATE SEQUENCE onshikaku.insurer_id_seq AS integer OWNED BY onshikaku.insurer.insurer_id;

-- Which roles act for which insurers (a 国保連 serves many 国保).
CREATE TABLE onshikaku.insurer_role (
    role_name  regrole NOT NULL,      -- by OID: a dropped role's mapping admits no one
    insurer_id integer NOT NULL REFERENCES onshikaku.insurer ON DELETE CASCADE,
    PRIMARY KEY (role_name, insurer_id)
);
CREATE INDEX insurer_role_insurer ON onshikaku.insurer_role (insurer_id);
COMMENT ON TABLE onshikaku.insurer_role IS
    'Which database roles act for which insurers; row-level security admits a role (or a role it is a member of) to the rows of these insurers only.';

-- Each role sees only its own mappings (so the function below can run with
-- the caller's rights: current_user must be the caller's, not an owner's).
ALTER TABLE onshikaku.insurer_role ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_mappings ON onshikaku.insurer_role
    USING (pg_catalog.pg_has_role(current_user, role_name::oid, 'MEMBER'));
GRANT SELECT ON onshikaku.insurer_role TO PUBLIC;

-- The insurers the current role acts for (information; the predicate is
-- acting_insurer() below).
CREATE FUNCTION onshikaku.current_insurers() RETURNS integer[]
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(DISTINCT ir.insurer_id), '{}')
    FROM onshikaku.insurer_role ir
    WHERE pg_catalog.pg_has_role(current_user, ir.role_name::oid, 'MEMBER')
$$;
COMMENT ON FUNCTION onshikaku.current_insurers() IS
    'The insurers the current role acts for (onshikaku.insurer_role, through role membership).';

-- The isolation predicate: one insurer per statement, a scalar that lets
-- the executor prune to that insurer's partition (C: isolation.c).
CREATE FUNCTION onshikaku.acting_insurer() RETURNS integer
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'osk_acting_insurer';
COMMENT ON FUNCTION onshikaku.acting_insurer() IS
    'The insurer the current role acts for: onshikaku.acting_insurer if set (and the role acts for it, else 42501), else the only one it acts for; NULL for none. The row-level security predicate of every per-insurer table.';

-- Per-insurer tables: the registry of what register_insurer() partitions.
CREATE TABLE onshikaku.per_insurer_table (
    relid        regclass PRIMARY KEY,
    short_name   text NOT NULL UNIQUE CHECK (short_name ~ '^[a-z_]{1,24}$'),
    create_order integer NOT NULL,
    requires     text CHECK (requires IN ('nws_provision', 'identity_check', 'medical_voucher'))
);
COMMENT ON TABLE onshikaku.per_insurer_table IS
    'The per-insurer (LIST-partitioned) tables; register_insurer() makes one partition of each that the insurer''s kind uses (requires names a column of insurer_kind_capability), named <short_name>_<insurer_id>. A kind without the capability has no partition, so its rows cannot even be stored.';

-- ---- national tables (not per insurer) --------------------------------------------------

-- One row per individual nationally: the link number (紐付番号) and PMH-ID
-- hang here, found by the blind index of the My Number.
CREATE TABLE onshikaku.person (
    link_number  onshikaku.link_number PRIMARY KEY,
    my_number_bi onshikaku.blind_index NOT NULL UNIQUE,
    pmh_id       onshikaku.pmh_id UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    pmh_issued_at timestamptz
);
COMMENT ON TABLE onshikaku.person IS
    '個人: one row per individual nationally; 紐付番号 (link number, assigned when a My Number is first seen) and PMH-ID, found by blind index. Holds no My Number.';
COMMENT ON COLUMN onshikaku.person.my_number_bi IS '個人番号のブラインドインデックス: HMAC of the My Number; unique nationally. A personal number by law (番号法2条8項).';

-- 機関別符号ファイル: one agency code per person across all insurers (001:L142).
CREATE TABLE onshikaku.agency_code (
    link_number           onshikaku.link_number PRIMARY KEY REFERENCES onshikaku.person,
    code                  onshikaku.encrypted,               -- 機関別符号 (national scope)
    acquisition_status    smallint NOT NULL DEFAULT 0,       -- 符号取得ステータス
    status_updated_at     timestamptz,                       -- 符号取得ステータス更新日時
    reissue               boolean NOT NULL DEFAULT false,    -- 符号再発行フラグ
    requested_at          timestamptz,                       -- 符号取得要求受付日時
    received_at           timestamptz,                       -- 機関別符号受付日時
    set_at                timestamptz,                       -- 機関別符号設定日時
    registered_at         timestamptz NOT NULL DEFAULT now(), -- 登録日時
    updated_at            timestamptz NOT NULL DEFAULT now()  -- 更新日時
);
COMMENT ON TABLE onshikaku.agency_code IS
    '機関別符号ファイル (統一区画): the agency code of each person, encrypted; one per person across all insurers (001:L142-143, L4823-4827).';

-- PMH-ID発行履歴 (001:L6460-6463): (紐付番号, PMH-ID), kept 5 years after loss.
CREATE TABLE onshikaku.pmh_issuance_log (
    issuance_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    link_number onshikaku.link_number NOT NULL,
    pmh_id      onshikaku.pmh_id NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    queued_for_oqs boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE onshikaku.pmh_issuance_log IS
    'PMH-ID発行履歴: every PMH-ID issuance as (紐付番号, PMH-ID), for traceability and the OQS feed (001:L6460-6463).';

-- 消去記録 (001:L2836): what a purge removed; never a personal number.
CREATE TABLE onshikaku.deletion_record (
    deletion_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    data_class   text NOT NULL,
    rule         text NOT NULL,
    insurer_id   integer,
    row_count    bigint NOT NULL CHECK (row_count >= 0),
    event_from   date,
    event_to     date,
    deleted_at   timestamptz NOT NULL DEFAULT now(),
    deleted_by   text NOT NULL DEFAULT current_user,
    key_ids_destroyed integer[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE onshikaku.deletion_record IS
    '消去記録: one row per data class, rule and insurer of each purge: how many, the event-date range, when, by whom; never a personal number (001:L2836).';

-- Which insurers a person has been enrolled with: the national index the
-- My Number card path (confirmation by link number) starts from.
CREATE TABLE onshikaku.person_enrolment (
    link_number  onshikaku.link_number NOT NULL,   -- 紐付番号
    insurer_id   integer NOT NULL,                 -- 医療保険者等 (no foreign key, for enrolment speed)
    first_enrolled_at timestamptz NOT NULL DEFAULT now(),        -- 初回登録日時
    PRIMARY KEY (link_number, insurer_id)
);
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

-- ---- per-insurer tables (LIST-partitioned by insurer_id) ----------------------------------

-- 資格履歴ファイル: one row per qualification period of a person with an insurer.
CREATE TABLE onshikaku.qualification (
    insurer_id             integer NOT NULL,
    qualification_id       bigint NOT NULL,                   -- 資格情報管理番号
    history_seq            integer NOT NULL DEFAULT 1,        -- 履歴通番
    record_id              text,                              -- レコード識別番号
    record_kind_code       text,                              -- レコード種別コード
    process_kind_code      text,                              -- 処理種別コード
    insured_branch_number  onshikaku.insured_branch_number NOT NULL,  -- 被保険者枝番
    link_number            onshikaku.link_number NOT NULL,    -- 紐付番号
    my_number              onshikaku.encrypted,               -- 個人番号
    my_number_bi           onshikaku.blind_index,             -- (its blind index)
    updated_my_number      onshikaku.encrypted,               -- 更新後個人番号
    my_number_update_kind  smallint,                          -- 個人番号更新区分
    my_number_updated_at   timestamptz,                       -- 個人番号更新日時
    access_group_code      text,                              -- アクセスグループコード
    -- 情報提供に関する制御情報
    opt_out                boolean NOT NULL DEFAULT false,    -- オプトアウト
    self_info_refused      boolean NOT NULL DEFAULT false,    -- 自己情報提供不可フラグ
    checkup_consent        boolean NOT NULL DEFAULT false,    -- 特定健診情報提供に係る本人同意フラグ
    dv_nondisclosure       boolean NOT NULL DEFAULT false,    -- DV等支援措置 (seed 000/003)
    -- 加入者基本情報, each with its change date
    name_on_card           text,                              -- 氏名（券面記載）
    name_on_card_changed_on date,
    name_on_card_kana      text,                              -- 氏名（券面記載）（カナ）
    name_on_card_kana_changed_on date,
    name_other             text,                              -- 氏名（その他）
    name_other_changed_on  date,
    name_other_kana        text,                              -- 氏名（その他）（カナ）
    name_other_kana_changed_on date,
    sex1                   smallint CHECK (sex1 IN (1, 2, 3)), -- 性別1
    sex1_changed_on        date,
    sex2                   smallint CHECK (sex2 IN (1, 2, 3)), -- 性別2
    sex2_changed_on        date,
    birth_date             date NOT NULL,                     -- 生年月日
    birth_date_changed_on  date,
    address                text,                              -- 住所
    address_changed_on     date,
    postcode               text CHECK (postcode ~ '^[0-9]{7}$'), -- 郵便番号
    postcode_changed_on    date,
    municipality_code      text CHECK (municipality_code ~ '^[0-9]{5,6}$'), -- 市町村コード
    deceased               boolean NOT NULL DEFAULT false,    -- 死亡フラグ
    status                 text,                              -- 身分
    status_changed_on      date,
    member_class_code      text,                              -- 加入者区分コード
    household_id           text,                              -- 世帯識別番号
    -- 加入者資格情報
    card_symbol            text CHECK (card_symbol ~ '^[0-9A-Za-z\-ー・]{0,38}$'),  -- 被保険者証記号
    card_number            text NOT NULL CHECK (card_number ~ '^[0-9A-Za-z\-]{1,38}$'), -- 被保険者証番号
    card_branch            onshikaku.card_branch_number NOT NULL,  -- 枝番
    acquired_on            date NOT NULL,                     -- 資格取得年月日（保護開始日・保護再開日）
    lost_on                date,                              -- 資格喪失年月日（保護停止日・保護廃止日）
    loss_reason            smallint,                          -- 資格喪失事由
    insured_or_dependent   smallint NOT NULL CHECK (insured_or_dependent IN (1, 2)), -- 本人・家族の別
    insured_or_dependent_changed_on date,
    insured_person_name    text,                              -- 被保険者氏名
    insured_person_name_changed_on date,
    office_name            text,                              -- 自治体・福祉事務所名
    public_payer_number    onshikaku.public_payer_number,     -- 公費負担者番号
    recipient_number       onshikaku.recipient_number,        -- 受給者番号
    pmh_id                 onshikaku.pmh_id,                  -- PMH-ID
    -- その他 (processing and linkage items of the source's interface)
    new_insurer_number     onshikaku.insurer_number,          -- 保険者コード（変更後）
    new_insured_branch_number onshikaku.insured_branch_number, -- 被保険者枝番（変更後）
    name                   text,                              -- 氏名
    name_kana              text,                              -- 氏名かな
    qualification_serial   text,                              -- 資格通番
    individual_result_kind text,                              -- 個別結果区分
    process_line_kind      text,                              -- 処理明細区分
    result_kind            text,                              -- 処理結果区分
    result_line_code       text,                              -- 処理結果明細コード
    result_detail_code     text,                              -- 処理結果詳細コード
    retrieval_kind         text,                              -- 取得区分
    retrieval_condition    text,                              -- 取得条件
    retrieval_period_from  date,                              -- 取得条件（加入期間（自））
    retrieval_period_to    date,                              -- 取得条件（加入期間（至））
    reception_number       text,                              -- 受付番号
    reception_line_number  text,                              -- 受付明細番号
    reception_line_branch  text,                              -- 受付明細枝番
    distribution_reception_number text,                       -- 振分連携履歴受付番号
    distribution_reception_line_number text,                  -- 振分連携履歴受付明細番号
    distribution_reception_line_branch text,                  -- 振分連携履歴受付明細枝番
    agency_code_request_kind text,                            -- 符号取得要求区分
    agency_code_link_status text,                             -- 符号紐付状態
    agency_code_reception_number text,                        -- 符号連携履歴受付番号
    agency_code_reception_line_number text,                   -- 符号連携履歴受付明細番号
    link_info_addition_kind text,                             -- 紐付情報追加区分
    request_received_at    timestamptz,                       -- 要求受付日時
    requester_id           text,                              -- 要求者ID
    linkage_info           text,                              -- 連携情報
    deleted                boolean NOT NULL DEFAULT false,    -- 削除フラグ
    deleted_at             timestamptz,                       -- 削除日時
    registered_at          timestamptz NOT NULL DEFAULT now(), -- 登録日時
    updated_at             timestamptz NOT NULL DEFAULT now(), -- 更新日時
    -- the insurance card issued at enrolment, copied for the OQS answer: while
    -- card_copied, confirm_qualification() reads no card row (0.4.0)
    card_copay_ratio       smallint,
    card_valid_from        date,
    card_valid_to          date,
    card_copied            boolean NOT NULL DEFAULT false,
    PRIMARY KEY (insurer_id, qualification_id),
    CHECK (lost_on IS NULL OR lost_on >= acquired_on),
    CHECK ((lost_on IS NULL) = (loss_reason IS NULL)),
    CHECK (deleted = (deleted_at IS NOT NULL))
) PARTITION BY LIST (insurer_id);
CREATE INDEX qualification_card ON onshikaku.qualification
    (insurer_id, card_symbol, card_number, card_branch);
CREATE INDEX qualification_person ON onshikaku.qualification (insurer_id, insured_branch_number);
CREATE INDEX qualification_link ON onshikaku.qualification (insurer_id, link_number);
COMMENT ON TABLE onshikaku.qualification IS
    '資格履歴ファイル: one row per qualification period of a person with an insurer, with the basic information, control flags and change dates of 別添２ (001:L2884-2935).';
CREATE SEQUENCE onshikaku.qualification_id_seq;

-- 被保険者証等情報, 高齢受給者証, 限度額適用認定証, 特定疾病療養受療証.
CREATE TYPE onshikaku.card_kind AS ENUM ('insurance_card', 'elderly_recipient', 'limit_certificate', 'specific_disease');
COMMENT ON TYPE onshikaku.card_kind IS '証の種類: 被保険者証等, 高齢受給者証, 限度額適用認定証, 特定疾病療養受療証.';
CREATE TABLE onshikaku.card (
    insurer_id          integer NOT NULL,
    card_id             bigint NOT NULL,  -- 証情報の内部番号 (card id)
    qualification_id    bigint NOT NULL,  -- 資格情報管理番号 of the qualification the card belongs to
    kind                onshikaku.card_kind NOT NULL,  -- 証の種類 (which of the four certificates)
    card_class          text,                          -- 証区分
    card_symbol         text,                          -- 被保険者証記号
    card_number         text,                          -- 被保険者証番号
    card_branch         onshikaku.card_branch_number,  -- 枝番
    issued_on           date,                          -- 交付年月日
    valid_from          date,                          -- 有効開始年月日
    valid_to            date,                          -- 有効終了年月日
    copay_ratio         smallint CHECK (copay_ratio BETWEEN 0 AND 100), -- 一部負担金割合 (%)
    applicable_class    text,                          -- 適用区分 (限度額)
    long_term_admission_on date,                       -- 長期入院該当年月日 (限度額)
    certified_disease_class text,                      -- 認定疾病区分 (特定疾病)
    copay_limit         integer,                       -- 自己負担限度額 (特定疾病)
    recalled_on         date,                          -- 回収年月日
    recall_reason       smallint,                      -- 回収事由 (seed 000/003)
    recall_reason_on    date,                          -- 回収理由発生日 (seed 000)
    registered_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (insurer_id, card_id),
    CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from)
) PARTITION BY LIST (insurer_id);
CREATE INDEX card_qualification ON onshikaku.card (insurer_id, qualification_id);
COMMENT ON TABLE onshikaku.card IS
    '証情報: 被保険者証等, 高齢受給者証, 限度額適用認定証 and 特定疾病療養受療証 of a qualification, with issue, validity and recall dates. No foreign key to qualification: with 3,500 partitions, attaching a partition with one would lock and plan over every qualification partition; the flows write both in one transaction and the purge removes both.';
CREATE SEQUENCE onshikaku.card_id_seq;

-- 医療券・調剤券情報 (生活保護): 35 items, disease names included.
CREATE TABLE onshikaku.medical_voucher (
    insurer_id             integer NOT NULL,
    voucher_id             text NOT NULL,                  -- 医療券・調剤券識別番号
    qualification_id       bigint NOT NULL,  -- 資格情報管理番号 of the qualification the voucher belongs to
    voucher_kind           smallint NOT NULL CHECK (voucher_kind IN (1, 2)), -- 医療券・調剤券別
    public_payer_number    onshikaku.public_payer_number,  -- 公費負担者番号
    recipient_number       onshikaku.recipient_number,     -- 受給者番号
    issue_number           text,                           -- 交付番号
    treatment_month        date,                           -- 診療年月
    valid_from             date,                           -- 有効開始日
    valid_to               date,                           -- 有効終了日
    single_or_combined     smallint,                       -- 単独・併用別
    institution_code       onshikaku.institution_code,     -- 指定医療機関コード
    institution_name       text,                           -- 指定医療機関名
    institution_address    text,                           -- 指定医療機関住所
    prescriber_code        onshikaku.institution_code,     -- 処方箋発行元医療機関コード
    prescriber_name        text,                           -- 処方箋発行元医療機関名
    disease_name_1         text,                           -- 傷病名1
    disease_name_2         text,                           -- 傷病名2
    disease_name_3         text,                           -- 傷病名3
    treatment_kind         smallint,                       -- 診療別
    patient_payment        integer,                        -- 本人支払額（自己負担額）
    district_officer       text,                           -- 地区担当員名
    handling_officer       text,                           -- 取扱担当者名
    officer_title          text,                           -- 役職名
    social_insurance_status text,                          -- 社会保険状況
    insurer_number         onshikaku.insurer_number,       -- 保険者番号
    card_symbol            text,                           -- 被保険者証記号
    card_number            text,                           -- 被保険者証番号
    insured_branch_number  onshikaku.insured_branch_number, -- 被保険者枝番
    infectious_disease_status text,                        -- 感染症法第37条の2の該当状況
    late_elderly_status    text,                           -- 後期高齢者医療の該当状況
    prefecture_status      text,                           -- 都道府県の該当状況
    case_number            text,                           -- ケース番号
    household_member_number text,                          -- 世帯員番号
    remarks_1              text,                           -- 備考1
    remarks_2              text,                           -- 備考2
    remarks_3              text,                           -- 備考3
    registered_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (insurer_id, voucher_id)
) PARTITION BY LIST (insurer_id);
CREATE INDEX medical_voucher_qualification ON onshikaku.medical_voucher (insurer_id, qualification_id);
COMMENT ON TABLE onshikaku.medical_voucher IS
    '医療券・調剤券情報: welfare medical and dispensing vouchers (生活保護), 35 items incl. disease names (001:L2884-2935).';

-- 機関別符号ファイル, per insurer: which 被保険者枝番 of this insurer link to a person's code.
CREATE TABLE onshikaku.agency_code_link (
    insurer_id            integer NOT NULL,
    insured_branch_number onshikaku.insured_branch_number NOT NULL, -- 被保険者枝番
    link_number           onshikaku.link_number NOT NULL,           -- 紐付番号
    processing_serial     text,                                     -- 処理通番
    reception_number      text,                                     -- 受付番号
    reception_line_number text,                                     -- 受付明細番号
    result_detail_code    text,                                     -- 処理結果詳細コード
    result_message        text,                                     -- 処理結果メッセージ
    registered_at         timestamptz NOT NULL DEFAULT now(),       -- 登録日時
    updated_at            timestamptz NOT NULL DEFAULT now(),       -- 更新日時
    PRIMARY KEY (insurer_id, insured_branch_number)
) PARTITION BY LIST (insurer_id);
CREATE INDEX agency_code_link_person ON onshikaku.agency_code_link (insurer_id, link_number);
COMMENT ON TABLE onshikaku.agency_code_link IS
    '機関別符号ファイル (per insurer): the 被保険者枝番 of an insurer linked to a person''s agency code; 枝番紐付件数 is their count.';

-- 情報提供等記録ファイル: 13 items; append-only (001:L8355).
CREATE TABLE onshikaku.provision_log (
    insurer_id            integer NOT NULL,
    provision_id          bigint NOT NULL,  -- 記録の内部番号 (record id)
    direction             text NOT NULL CHECK (direction IN ('provision', 'inquiry')),  -- 提供・照会の別 (provision or inquiry)
    agency_code           onshikaku.encrypted,            -- 機関別符号
    processing_serial     text NOT NULL,                  -- 処理通番
    processing_serial_branch text,                        -- 処理通番の枝番
    office_work_name      text NOT NULL,                  -- 事務名称
    procedure_name        text NOT NULL,                  -- 事務手続名称
    inquirer_department   text NOT NULL,                  -- 情報照会者部署名称
    provider_department   text NOT NULL,                  -- 情報提供者部署名称
    requested_at          timestamptz NOT NULL,           -- 提供の求めの日時
    provided_at           timestamptz,                    -- 提供の日時
    item_name             text NOT NULL,                  -- 特定個人情報名称
    nondisclosure_code    text,                           -- 不開示コード
    error_reason_code     text,                           -- 過誤事由コード
    insured_branch_number onshikaku.insured_branch_number, -- 被保険者枝番
    PRIMARY KEY (insurer_id, provision_id)
) PARTITION BY LIST (insurer_id);
CREATE INDEX provision_log_time ON onshikaku.provision_log (insurer_id, requested_at);
COMMENT ON TABLE onshikaku.provision_log IS
    '情報提供等記録ファイル: every provision and inquiry through the national network, 13 items (001:L5376-5379). Append-only.';
CREATE SEQUENCE onshikaku.provision_id_seq;
CREATE TRIGGER provision_log_append_only BEFORE UPDATE OR DELETE ON onshikaku.provision_log
    FOR EACH ROW EXECUTE FUNCTION onshikaku.refuse_log_change();
CREATE TRIGGER provision_log_no_truncate BEFORE TRUNCATE ON onshikaku.provision_log
    FOR EACH STATEMENT EXECUTE FUNCTION onshikaku.refuse_log_change();

-- 本人確認ファイル: transient; deleted when the result is delivered (001:L5885).
CREATE TABLE onshikaku.identity_check (
    insurer_id            integer NOT NULL,
    check_id              bigint NOT NULL,                -- 要求レコード番号
    request_kind          text NOT NULL CHECK (request_kind IN ('my_number', 'basic4')),  -- 照会の種類 (個人番号取得 or 基本4情報取得)
    business_kind_jukiho  text,                           -- 事務区分（住基法）
    business_kind_bango   text,                           -- 事務区分（番号利用法）
    use_reason            text,                           -- 利用事由
    main_condition        text,                           -- 主たる照会条件
    my_number             onshikaku.encrypted,            -- 個人番号
    name                  text,                           -- 氏名
    name_kana             text,                           -- 氏名かな
    birth_date            date,                           -- 生年月日
    sex                   smallint,                       -- 性別
    address               text,                           -- 住所
    address_detail        text,                           -- 住所（大字以降）
    municipality_code     text,                           -- 市町村コード
    municipality_name     text,                           -- 市町村名
    period_from           date,                           -- 照会対象期間開始 年月日
    period_to             date,                           -- 照会対象期間終了 年月日
    reference_date        date,                           -- 照会対象期間（照会基準日）
    other_history         text,                           -- その他条件 履歴情報
    other_removed         text,                           -- その他条件 消除者
    other_change_reason   text,                           -- その他条件 異動事由
    resident_class        text,                           -- 住民区分
    change_status         text,                           -- 変更状況
    display_info          text,                           -- 情報表示
    alive_status          text,                           -- 生存状況
    change_reason         text,                           -- 異動事由
    changed_on            date,                           -- 異動年月日
    changed               boolean,                        -- 異動有無
    requested_at          timestamptz NOT NULL DEFAULT now(), -- 照会日時 (when the insurer asked)
    answered_at           timestamptz,                -- 回答日時 (when the result arrived)
    PRIMARY KEY (insurer_id, check_id)
) PARTITION BY LIST (insurer_id);
COMMENT ON TABLE onshikaku.identity_check IS
    '本人確認ファイル: an insurer''s identity check (basic 4 facts or My Number) and its result, held only until delivered (001:L5922-5927).';
CREATE SEQUENCE onshikaku.check_id_seq;

-- 委託区画: the insurer's registration zone, where 被保険者枝番 is issued.
CREATE TABLE onshikaku.registration_zone (
    insurer_id            integer NOT NULL,
    insured_branch_number onshikaku.insured_branch_number NOT NULL, -- 被保険者枝番 (issued here)
    my_number_bi          onshikaku.blind_index NOT NULL,          -- 個人番号のブラインドインデックス
    link_number           onshikaku.link_number NOT NULL,          -- 紐付番号
    prospective           boolean NOT NULL DEFAULT false,  -- 加入予定者
    household_member      boolean NOT NULL DEFAULT false,  -- 世帯員
    registered_at         timestamptz NOT NULL DEFAULT now(),
    removal_requested_at  timestamptz,                       -- 削除依頼日時 (a prospective member who never joined)
    PRIMARY KEY (insurer_id, insured_branch_number),
    UNIQUE (insurer_id, my_number_bi)
) PARTITION BY LIST (insurer_id);
COMMENT ON TABLE onshikaku.registration_zone IS
    '委託区画: the insurer''s own registration of a person, where the 被保険者枝番 is issued and kept for re-enrolment (001:L947-954).';

-- 副本区画: copies held for provision through the national network.
CREATE TABLE onshikaku.copy_zone (
    insurer_id            integer NOT NULL,
    insured_branch_number onshikaku.insured_branch_number NOT NULL, -- 被保険者枝番
    item_name             text NOT NULL,                   -- 特定個人情報名称
    content               jsonb NOT NULL,                  -- 副本の内容 (the copy's items)
    no_auto_response      boolean NOT NULL DEFAULT false,  -- 自動応答不可フラグ
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (insurer_id, insured_branch_number, item_name)
) PARTITION BY LIST (insurer_id);
COMMENT ON TABLE onshikaku.copy_zone IS
    '副本区画: the insurer''s copies (副本) of benefit and premium data for provision; items flagged no_auto_response are held back for manual confirmation. Not used by 市町村国保 and 生活保護.';

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
    -- one 枝番 per person and card; led by the person, so that it also finds a
    -- person's 枝番 records (enrolment, purge) without an index of its own
    CONSTRAINT card_branch_issue_person_card UNIQUE (insurer_id, link_number, card_symbol, card_number)
) PARTITION BY LIST (insurer_id);
COMMENT ON TABLE onshikaku.card_branch_issue IS
    '枝番の発番記録: which person each 枝番 of a card (保険者, 記号, 番号) was issued to; never reused for another person (docs/flows.md).';

INSERT INTO onshikaku.per_insurer_table VALUES
    ('onshikaku.qualification', 'qualification', 1, NULL),
    ('onshikaku.card', 'card', 2, NULL),
    ('onshikaku.medical_voucher', 'medical_voucher', 3, 'medical_voucher'),
    ('onshikaku.agency_code_link', 'agency_code_link', 4, NULL),
    ('onshikaku.provision_log', 'provision_log', 5, 'nws_provision'),
    ('onshikaku.identity_check', 'identity_check', 6, 'identity_check'),
    ('onshikaku.registration_zone', 'registration_zone', 7, NULL),
    ('onshikaku.copy_zone', 'copy_zone', 8, 'nws_provision'),
    ('onshikaku.card_branch_issue', 'card_branch_issue', 9, NULL);

-- ---- column classification and privileges -------------------------------------------------

CREATE TABLE onshikaku.column_class (
    relid       regclass NOT NULL,
    column_name name NOT NULL,
    class       text NOT NULL CHECK (class IN ('personal_number', 'direct_identifier', 'quasi_identifier', 'other')),
    PRIMARY KEY (relid, column_name)
);
COMMENT ON TABLE onshikaku.column_class IS
    'Classification of every column of the model: personal_number (My Number, blind index, agency code and anything standing in for one), direct_identifier, quasi_identifier, other. Drives grants and the analyst surface check.';

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
SELECT onshikaku.classify_columns();

-- Nothing of the model is PUBLIC.  Insurer roles read their own rows
-- (row-level security) of every column but the personal numbers; the
-- number-handling right adds those.  Writes go through the flows.
REVOKE ALL ON onshikaku.person_enrolment, onshikaku.provision_allow_list FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON onshikaku.provision_allow_list TO onshikaku_admin;
REVOKE ALL ON onshikaku.insurer, onshikaku.per_insurer_table, onshikaku.person,
              onshikaku.agency_code, onshikaku.pmh_issuance_log, onshikaku.deletion_record,
              onshikaku.column_class, onshikaku.insurer_kind_capability FROM PUBLIC;
GRANT SELECT ON onshikaku.insurer, onshikaku.insurer_kind_capability TO onshikaku_insurer, onshikaku_admin;
GRANT SELECT ON onshikaku.per_insurer_table, onshikaku.deletion_record,
                onshikaku.column_class TO onshikaku_admin;
GRANT INSERT, DELETE ON onshikaku.insurer_role TO onshikaku_admin;
-- the operator manages every mapping
CREATE POLICY operator_manages ON onshikaku.insurer_role TO onshikaku_admin USING (true) WITH CHECK (true);
DO $grants$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT relid FROM onshikaku.per_insurer_table LOOP
        EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', t.relid);
        EXECUTE format('GRANT SELECT (%s) ON %s TO onshikaku_insurer',
                       (SELECT string_agg(quote_ident(column_name), ', ' ORDER BY column_name)
                        FROM onshikaku.column_class WHERE relid = t.relid AND class <> 'personal_number'), t.relid);
        IF EXISTS (SELECT FROM onshikaku.column_class WHERE relid = t.relid AND class = 'personal_number') THEN
            EXECUTE format('GRANT SELECT (%s) ON %s TO onshikaku_number_handler',
                           (SELECT string_agg(quote_ident(column_name), ', ' ORDER BY column_name)
                            FROM onshikaku.column_class WHERE relid = t.relid AND class = 'personal_number'), t.relid);
        END IF;
        -- row-level security on the parent; register_insurer() does the same on each partition
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t.relid);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t.relid);
        EXECUTE format('CREATE POLICY insurer_isolation ON %s USING (insurer_id = onshikaku.acting_insurer())', t.relid);
    END LOOP;
END
$grants$;

SELECT pg_catalog.pg_extension_config_dump('onshikaku.insurer', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.insurer_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.insurer_role', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.person', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.agency_code', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.pmh_issuance_log', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.deletion_record', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.person_enrolment', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.provision_allow_list', '');

-- ---- registering insurers (C: partitions.c) -----------------------------------------------

CREATE FUNCTION onshikaku.register_insurer(insurer_number onshikaku.insurer_number, name text,
        kind onshikaku.insurer_kind, public_payer_number onshikaku.public_payer_number DEFAULT NULL)
    RETURNS integer LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_register_insurer';
COMMENT ON FUNCTION onshikaku.register_insurer(onshikaku.insurer_number, text, onshikaku.insurer_kind, onshikaku.public_payer_number) IS
    'Registers an insurer and creates, in the same transaction, its partition of every per-insurer table with row-level security; a 生活保護 body passes NULL and its 公費負担者番号. Returns insurer_id.';
CREATE FUNCTION onshikaku.remove_insurer(insurer_id integer) RETURNS void
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_remove_insurer';
COMMENT ON FUNCTION onshikaku.remove_insurer(integer) IS
    'Drops an insurer''s partitions and registry row; refused (55000) while any of its data is still held under the retention rules.';
-- Counter lookups by card, straight from the insurer's partition (C:
-- card_lookup.c): what the parent would return to the caller, without
-- planning over or locking every partition.
CREATE FUNCTION onshikaku.find_by_card(insurer_id integer, card_symbol text, card_number text,
                                       card_branch onshikaku.card_branch_number)
    RETURNS TABLE (qualification_id bigint, insured_branch_number onshikaku.insured_branch_number,
                   link_number onshikaku.link_number, name_on_card text, birth_date date,
                   acquired_on date, lost_on date, loss_reason smallint, insured_or_dependent smallint,
                   dv_nondisclosure boolean, deleted boolean)
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 2 AS 'MODULE_PATHNAME', 'osk_find_by_card';
COMMENT ON FUNCTION onshikaku.find_by_card(integer, text, text, onshikaku.card_branch_number) IS
    'The qualification rows of a card (保険者, 記号, 番号, 枝番), read from the insurer''s partition index only: rows only for the insurer the caller acts for (acting_insurer()), only to roles that may read these columns of qualification; no personal number. NULL 記号 matches rows without one.';
REVOKE EXECUTE ON FUNCTION onshikaku.find_by_card(integer, text, text, onshikaku.card_branch_number) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION onshikaku.find_by_card(integer, text, text, onshikaku.card_branch_number) TO onshikaku_insurer;

CREATE FUNCTION onshikaku.grant_insurer(role_name regrole, insurer_id integer) RETURNS void
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO onshikaku.insurer_role VALUES (role_name, insurer_id) ON CONFLICT DO NOTHING;
$$;
COMMENT ON FUNCTION onshikaku.grant_insurer(regrole, integer) IS
    'Lets a role (and its members) act for an insurer: row-level security admits it to the insurer''s rows. The role also needs onshikaku_insurer.';
CREATE FUNCTION onshikaku.revoke_insurer(role_name regrole, insurer_id integer) RETURNS void
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM onshikaku.insurer_role ir WHERE ir.role_name = $1 AND ir.insurer_id = $2;
$$;
COMMENT ON FUNCTION onshikaku.revoke_insurer(regrole, integer) IS 'Takes back grant_insurer().';
REVOKE EXECUTE ON FUNCTION
    onshikaku.register_insurer(onshikaku.insurer_number, text, onshikaku.insurer_kind, onshikaku.public_payer_number),
    onshikaku.remove_insurer(integer), onshikaku.grant_insurer(regrole, integer),
    onshikaku.revoke_insurer(regrole, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    onshikaku.register_insurer(onshikaku.insurer_number, text, onshikaku.insurer_kind, onshikaku.public_payer_number),
    onshikaku.remove_insurer(integer), onshikaku.grant_insurer(regrole, integer),
    onshikaku.revoke_insurer(regrole, integer) TO onshikaku_admin;
