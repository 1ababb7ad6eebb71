-- Generated from extension/sql/*.sql by make: edit those files, not this one.
\echo Use "CREATE EXTENSION onshikaku" to load this file. \quit

-- ---- extension/sql/00_schema.sql ----
-- 00_schema.sql: the extension's schema (created by CREATE EXTENSION from
-- the control file's "schema = onshikaku").
COMMENT ON SCHEMA onshikaku IS
    'onshikaku: identifiers, encrypted My Numbers, per-insurer isolation and retention of the insurers'' intermediate server data model.';
-- Nothing in the schema is usable by PUBLIC unless granted object by object.
REVOKE ALL ON SCHEMA onshikaku FROM PUBLIC;
GRANT USAGE ON SCHEMA onshikaku TO PUBLIC;

-- ---- extension/sql/10_identifiers.sql ----
-- 10_identifiers.sql: the identifier types (layer 1).
--
-- Each type is a pass-by-value integer (int8, or int2 for the 2-digit 枝番)
-- with its own validating input and canonical output in C (ident.c,
-- identifier_types.c).  Comparison and hashing reuse the server's built-in,
-- leakproof int8/int2 support functions, so every type gets btree and hash
-- operator classes that row-level security can push down and indexes use.
--
-- The nine types share one definition, so it is written once, as a loop.

DO $define$
DECLARE
    t record;
    b text;        -- int8 or int2: the built-in functions to reuse
BEGIN
    FOR t IN
        SELECT *
        FROM (VALUES
            ('my_number',             'int8', '個人番号 (My Number): 12 digits with the check digit of MIC ordinance No. 85 art. 5. A transient, validated value: it prints as a mask and cannot be stored in a table.'),
            ('insurer_number',        'int8', '保険者番号 (insurer number): 8 digits 法別+都道府県+保険者別+検証 (Luhn), or 6 digits for 国保; the 6-digit form and its 00-padded 8-digit form are one value, printed in the official form.'),
            ('public_payer_number',   'int8', '公費負担者番号 (public expense payer number): 8 digits 法別+都道府県+実施機関+検証 (Luhn).'),
            ('recipient_number',      'int8', '受給者番号 (public expense recipient number): 7 digits, the last a Luhn check digit.'),
            ('institution_code',      'int8', '医療機関コード (medical institution code): 7 digits 郡市区+番号+検証 (Luhn), or the 10-digit form with 都道府県 and 点数表 in front.'),
            ('card_branch_number',    'int2', '枝番 (card branch number): 2 digits 00-99 after 記号・番号 on an insurance card.'),
            ('insured_branch_number', 'int8', '被保険者枝番 (insured branch number): 16 digits, 15 issued plus a Luhn check digit; with the insurer number it identifies a person within an insurer.'),
            ('link_number',           'int8', '紐付番号 (link number): 16 digits, 15 random plus a Luhn check digit; one per individual nationally, the person key toward OQS.'),
            ('pmh_id',                'int8', 'PMH-ID: 16 digits, 15 from a CSPRNG plus a Luhn check digit; one per individual nationally, never derived from a My Number.')
        ) AS v(name, base, comment)
    LOOP
        b := t.base;

        -- the type and its I/O functions
        EXECUTE format('CREATE TYPE onshikaku.%I', t.name);
        EXECUTE format($f$CREATE FUNCTION onshikaku.%1$I(cstring) RETURNS onshikaku.%2$I
            LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', %1$L$f$,
            t.name || '_in', t.name);
        EXECUTE format($f$CREATE FUNCTION onshikaku.%1$I(onshikaku.%2$I) RETURNS cstring
            LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', %1$L$f$,
            t.name || '_out', t.name);
        EXECUTE format($f$CREATE FUNCTION onshikaku.%1$I(internal) RETURNS onshikaku.%2$I
            LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', %1$L$f$,
            t.name || '_recv', t.name);
        EXECUTE format($f$CREATE FUNCTION onshikaku.%1$I(onshikaku.%2$I) RETURNS bytea
            LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', %1$L$f$,
            t.name || '_send', t.name);
        EXECUTE format($f$CREATE TYPE onshikaku.%1$I (
            INPUT = onshikaku.%2$I, OUTPUT = onshikaku.%3$I,
            RECEIVE = onshikaku.%4$I, SEND = onshikaku.%5$I,
            INTERNALLENGTH = %6$s, PASSEDBYVALUE, ALIGNMENT = %7$s,
            STORAGE = plain, CATEGORY = 'U')$f$,
            t.name, t.name || '_in', t.name || '_out', t.name || '_recv',
            t.name || '_send',
            CASE b WHEN 'int8' THEN 8 ELSE 2 END,
            CASE b WHEN 'int8' THEN 'double' ELSE 'int2' END);
        EXECUTE format('COMMENT ON TYPE onshikaku.%I IS %L', t.name, t.comment);

        -- casts from and to text (explicit), and the never-raising check
        EXECUTE format($f$CREATE FUNCTION onshikaku.%1$I(text) RETURNS onshikaku.%1$I
            LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', %2$L$f$,
            t.name, t.name || '_from_text');
        EXECUTE format($f$CREATE FUNCTION onshikaku.to_text(onshikaku.%1$I) RETURNS text
            LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', %2$L$f$,
            t.name, t.name || '_to_text');
        EXECUTE format('CREATE CAST (text AS onshikaku.%1$I) WITH FUNCTION onshikaku.%1$I(text)', t.name);
        EXECUTE format('CREATE CAST (onshikaku.%1$I AS text) WITH FUNCTION onshikaku.to_text(onshikaku.%1$I)', t.name);
        EXECUTE format($f$CREATE FUNCTION onshikaku.%1$I(text) RETURNS boolean
            LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', %1$L$f$,
            t.name || '_is_valid');
        EXECUTE format('COMMENT ON FUNCTION onshikaku.%I(text) IS %L', t.name,
            'Converts text to ' || t.name || ', raising 22P02 on invalid input; the message never quotes the input.');
        EXECUTE format('COMMENT ON FUNCTION onshikaku.to_text(onshikaku.%I) IS %L', t.name,
            CASE WHEN t.name = 'my_number' THEN 'The fixed mask: a my_number never prints its digits.'
                 ELSE 'The canonical printed form of a ' || t.name || '.' END);
        EXECUTE format('COMMENT ON FUNCTION onshikaku.%I(text) IS %L', t.name || '_is_valid',
            'True when the text is a valid ' || t.name || '; never raises (NULL gives NULL).');

        -- comparison: the server's leakproof integer functions
        EXECUTE format($f$
            CREATE FUNCTION onshikaku.%1$I(onshikaku.%2$I, onshikaku.%2$I) RETURNS boolean
                LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS %3$L;
            CREATE FUNCTION onshikaku.%4$I(onshikaku.%2$I, onshikaku.%2$I) RETURNS boolean
                LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS %5$L;
            CREATE FUNCTION onshikaku.%6$I(onshikaku.%2$I, onshikaku.%2$I) RETURNS boolean
                LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS %7$L;
            CREATE FUNCTION onshikaku.%8$I(onshikaku.%2$I, onshikaku.%2$I) RETURNS boolean
                LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS %9$L;
            CREATE FUNCTION onshikaku.%10$I(onshikaku.%2$I, onshikaku.%2$I) RETURNS boolean
                LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS %11$L;
            CREATE FUNCTION onshikaku.%12$I(onshikaku.%2$I, onshikaku.%2$I) RETURNS boolean
                LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS %13$L;
            CREATE FUNCTION onshikaku.%14$I(onshikaku.%2$I, onshikaku.%2$I) RETURNS integer
                LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS %15$L;
            CREATE FUNCTION onshikaku.%16$I(onshikaku.%2$I) RETURNS integer
                LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS %17$L;
            CREATE FUNCTION onshikaku.%18$I(onshikaku.%2$I, bigint) RETURNS bigint
                LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS %19$L;
            $f$,
            t.name || '_eq', t.name, b || 'eq',
            t.name || '_ne', b || 'ne',
            t.name || '_lt', b || 'lt',
            t.name || '_le', b || 'le',
            t.name || '_gt', b || 'gt',
            t.name || '_ge', b || 'ge',
            t.name || '_cmp', 'bt' || b || 'cmp',
            t.name || '_hash', 'hash' || b,
            t.name || '_hash_extended', 'hash' || b || 'extended');

        EXECUTE format($f$
            CREATE OPERATOR onshikaku.= (LEFTARG = onshikaku.%1$I, RIGHTARG = onshikaku.%1$I,
                FUNCTION = onshikaku.%2$I, COMMUTATOR = OPERATOR(onshikaku.=),
                NEGATOR = OPERATOR(onshikaku.<>), RESTRICT = eqsel, JOIN = eqjoinsel,
                HASHES, MERGES);
            CREATE OPERATOR onshikaku.<> (LEFTARG = onshikaku.%1$I, RIGHTARG = onshikaku.%1$I,
                FUNCTION = onshikaku.%3$I, COMMUTATOR = OPERATOR(onshikaku.<>),
                NEGATOR = OPERATOR(onshikaku.=), RESTRICT = neqsel, JOIN = neqjoinsel);
            CREATE OPERATOR onshikaku.< (LEFTARG = onshikaku.%1$I, RIGHTARG = onshikaku.%1$I,
                FUNCTION = onshikaku.%4$I, COMMUTATOR = OPERATOR(onshikaku.>),
                NEGATOR = OPERATOR(onshikaku.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
            CREATE OPERATOR onshikaku.<= (LEFTARG = onshikaku.%1$I, RIGHTARG = onshikaku.%1$I,
                FUNCTION = onshikaku.%5$I, COMMUTATOR = OPERATOR(onshikaku.>=),
                NEGATOR = OPERATOR(onshikaku.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
            CREATE OPERATOR onshikaku.> (LEFTARG = onshikaku.%1$I, RIGHTARG = onshikaku.%1$I,
                FUNCTION = onshikaku.%6$I, COMMUTATOR = OPERATOR(onshikaku.<),
                NEGATOR = OPERATOR(onshikaku.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
            CREATE OPERATOR onshikaku.>= (LEFTARG = onshikaku.%1$I, RIGHTARG = onshikaku.%1$I,
                FUNCTION = onshikaku.%7$I, COMMUTATOR = OPERATOR(onshikaku.<=),
                NEGATOR = OPERATOR(onshikaku.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);
            CREATE OPERATOR CLASS onshikaku.%8$I DEFAULT FOR TYPE onshikaku.%1$I USING btree AS
                OPERATOR 1 onshikaku.<, OPERATOR 2 onshikaku.<=, OPERATOR 3 onshikaku.=,
                OPERATOR 4 onshikaku.>=, OPERATOR 5 onshikaku.>,
                FUNCTION 1 onshikaku.%9$I(onshikaku.%1$I, onshikaku.%1$I);
            CREATE OPERATOR CLASS onshikaku.%10$I DEFAULT FOR TYPE onshikaku.%1$I USING hash AS
                OPERATOR 1 onshikaku.=,
                FUNCTION 1 onshikaku.%11$I(onshikaku.%1$I),
                FUNCTION 2 onshikaku.%12$I(onshikaku.%1$I, bigint);
            $f$,
            t.name, t.name || '_eq', t.name || '_ne', t.name || '_lt', t.name || '_le',
            t.name || '_gt', t.name || '_ge', t.name || '_btree_ops', t.name || '_cmp',
            t.name || '_hash_ops', t.name || '_hash', t.name || '_hash_extended');
    END LOOP;
END
$define$;

-- my_number's digits: only for roles granted the right to handle numbers.
CREATE FUNCTION onshikaku.my_number_digits(onshikaku.my_number) RETURNS text
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'my_number_digits';
REVOKE ALL ON FUNCTION onshikaku.my_number_digits(onshikaku.my_number) FROM PUBLIC;
COMMENT ON FUNCTION onshikaku.my_number_digits(onshikaku.my_number) IS
    'The 12 digits of a my_number. Revoked from PUBLIC: grant it only to roles that may handle personal numbers.';

-- Structure of an insurer number, for grouping by scheme or prefecture.
CREATE FUNCTION onshikaku.houbetsu(onshikaku.insurer_number) RETURNS integer
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF
    AS 'MODULE_PATHNAME', 'insurer_number_houbetsu';
COMMENT ON FUNCTION onshikaku.houbetsu(onshikaku.insurer_number) IS
    '法別番号 (law code) of an insurer number; 0 for a 6-digit 国保 number.';
CREATE FUNCTION onshikaku.prefecture(onshikaku.insurer_number) RETURNS integer
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF
    AS 'MODULE_PATHNAME', 'insurer_number_prefecture';
COMMENT ON FUNCTION onshikaku.prefecture(onshikaku.insurer_number) IS
    '都道府県番号 (prefecture code, 1-47) of an insurer number.';

-- A my_number is transient: refuse any relation that would store one.
CREATE FUNCTION onshikaku.refuse_my_number_storage() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cmd record;
    rel oid;
    col record;
BEGIN
    -- one index lookup per created or altered relation (a scan of all of
    -- pg_attribute would cost every DDL statement more as the database grows)
    FOR cmd IN SELECT classid, objid FROM pg_event_trigger_ddl_commands() LOOP
        IF cmd.classid = 'pg_class'::regclass THEN
            rel := cmd.objid;
        ELSIF cmd.classid = 'pg_type'::regclass THEN
            SELECT typrelid INTO rel FROM pg_type WHERE oid = cmd.objid;
        ELSE
            CONTINUE;
        END IF;
        CONTINUE WHEN rel IS NULL OR rel = 0
            OR NOT EXISTS (SELECT FROM pg_class WHERE oid = rel AND relkind IN ('r', 'p', 'm', 'f', 'c'));
        SELECT c.relname, a.attname INTO col
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
          AND 'onshikaku.my_number'::regtype IN (t.oid, t.typelem, t.typbasetype)
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'column "%" of relation "%" would store a my_number', col.attname, col.relname
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'onshikaku.my_number is a transient, validated value and is never stored.',
                      HINT = 'Store the encrypted form and the blind index instead.';
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION onshikaku.refuse_my_number_storage() IS
    'Event trigger function: refuses tables, materialized views, foreign tables and composite types with a my_number column.';
CREATE EVENT TRIGGER onshikaku_refuse_my_number_storage ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE', 'CREATE TABLE AS', 'SELECT INTO',
                 'CREATE MATERIALIZED VIEW', 'CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE',
                 'CREATE TYPE', 'ALTER TYPE')
    EXECUTE FUNCTION onshikaku.refuse_my_number_storage();
COMMENT ON EVENT TRIGGER onshikaku_refuse_my_number_storage IS
    'Keeps onshikaku.my_number transient: no table, materialized view or composite type may have a my_number column.';

-- ---- extension/sql/20_keys.sql ----
-- 20_keys.sql: encryption and keys (layer 2).
--
-- Master keys and the blind-index key live outside the database (the file
-- or command named in postgresql.conf, see docs/keys.md).  Data keys are
-- made by the extension, stored here wrapped, and scoped per insurer and
-- cohort so that a purge can destroy exactly the key of what it purged.

-- Roles: the operator, and the right to handle personal numbers, which no
-- other role has by default (PRODUCT.md "Isolation"; 001:L6111).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'onshikaku_admin') THEN
        CREATE ROLE onshikaku_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'onshikaku_number_handler') THEN
        CREATE ROLE onshikaku_number_handler NOLOGIN;
    END IF;
END
$roles$;
COMMENT ON ROLE onshikaku_admin IS 'onshikaku: the operator (keys, rotation, purges). Grant it to DBA login roles.';
COMMENT ON ROLE onshikaku_number_handler IS 'onshikaku: the right to reveal personal numbers (個人番号利用事務). Every reveal is logged.';

-- ---- data keys --------------------------------------------------------------

CREATE SEQUENCE onshikaku.data_key_key_id_seq AS integer;
CREATE TABLE onshikaku.data_key (
    key_id       integer PRIMARY KEY,
    insurer      onshikaku.insurer_number,            -- NULL: national scope
    cohort       integer,                             -- NULL: the active cohort; else a year
    kek_id       integer NOT NULL,
    wrapped      bytea CHECK (octet_length(wrapped) = 60),   -- NULL once destroyed
    state        text NOT NULL DEFAULT 'active'
                 CHECK (state IN ('active', 'retired', 'destroyed')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    retired_at   timestamptz,
    rewrapped_at timestamptz,
    destroyed_at timestamptz,
    CHECK ((state = 'destroyed') = (wrapped IS NULL))
);
ALTER SEQUENCE onshikaku.data_key_key_id_seq OWNED BY onshikaku.data_key.key_id;
CREATE UNIQUE INDEX data_key_one_active ON onshikaku.data_key (insurer, cohort) NULLS NOT DISTINCT
    WHERE state = 'active';
COMMENT ON TABLE onshikaku.data_key IS
    'データ暗号鍵: data keys (AES-256), wrapped by a master key of the key file, one active per (insurer, cohort) scope.';
COMMENT ON COLUMN onshikaku.data_key.insurer IS 'Scope: the insurer whose values it protects; NULL for national files.';
COMMENT ON COLUMN onshikaku.data_key.cohort IS 'Scope: NULL for current values; a year for values moved to a retention cohort (for example the loss year).';
COMMENT ON COLUMN onshikaku.data_key.kek_id IS 'Id of the master key (kek.<id> in the key file) that wraps it.';
COMMENT ON COLUMN onshikaku.data_key.wrapped IS 'nonce (12) | encrypted key (32) | tag (16), AES-256-GCM under the master key, bound to key_id and scope; NULL once destroyed.';
COMMENT ON COLUMN onshikaku.data_key.state IS 'active (encrypts new values), retired (after rotation: decrypts only), destroyed (purged with its data).';

-- Fingerprints of keys whose mistake would pass silently (a wrong
-- blind-index key finds nobody): recorded at first use, checked at load.
CREATE TABLE onshikaku.key_fingerprint (
    key         text PRIMARY KEY CHECK (key IN ('blind_index')),
    fingerprint text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE onshikaku.key_fingerprint IS
    'Fingerprint (first 8 bytes of an HMAC of a fixed label) of the blind-index key the stored blind indexes were made with; never the key.';

-- ---- the access log ---------------------------------------------------------

CREATE TABLE onshikaku.access_log_batch (
    batch_id       bigserial PRIMARY KEY,
    session_role   text NOT NULL,
    acting_role    text NOT NULL,
    insurer        onshikaku.insurer_number,
    key_id         integer NOT NULL,
    purpose        text NOT NULL,
    access_purpose text NOT NULL,
    record_refs    text[] NOT NULL,
    accessed_at    timestamptz[] NOT NULL,
    CHECK (cardinality(record_refs) = cardinality(accessed_at) AND cardinality(record_refs) > 0)
);
COMMENT ON TABLE onshikaku.access_log_batch IS
    'アクセス記録 (storage): the reveals of one statement that share roles, insurer, key and purposes, one array element per call. Read it through onshikaku.access_log. Append-only.';
COMMENT ON COLUMN onshikaku.access_log_batch.purpose IS 'The purpose the values were encrypted for (their column).';
COMMENT ON COLUMN onshikaku.access_log_batch.record_refs IS 'Per call: the caller''s reference to the record read (never a personal number).';
COMMENT ON COLUMN onshikaku.access_log_batch.accessed_at IS 'Per call: when the value was revealed.';
COMMENT ON COLUMN onshikaku.access_log_batch.access_purpose IS 'Why the values were read, as the caller stated it.';

-- The arrays are written a few thousand calls at a time: pglz would cost
-- more than the decryptions they record, so use lz4 where the server has
-- it, and no compression otherwise.
DO $compression$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE onshikaku.access_log_batch
            ALTER COLUMN record_refs SET COMPRESSION lz4,
            ALTER COLUMN accessed_at SET COMPRESSION lz4;
    ELSE
        ALTER TABLE onshikaku.access_log_batch
            ALTER COLUMN record_refs SET STORAGE EXTERNAL,
            ALTER COLUMN accessed_at SET STORAGE EXTERNAL;
    END IF;
END
$compression$;

CREATE VIEW onshikaku.access_log WITH (security_barrier) AS
SELECT b.batch_id, c.accessed_at, b.session_role, b.acting_role, b.insurer, b.key_id, b.purpose,
       c.record_ref, b.access_purpose
FROM onshikaku.access_log_batch AS b,
     LATERAL unnest(b.accessed_at, b.record_refs) WITH ORDINALITY AS c(accessed_at, record_ref, call_no);
COMMENT ON VIEW onshikaku.access_log IS
    'アクセス記録: one row per reveal of a personal number (who, when, which record, why, which key); never the number.';

-- Append-only: UPDATE and TRUNCATE are refused to everyone; DELETE only to
-- the retention purge, which runs as the owner with onshikaku.purging set.
CREATE FUNCTION onshikaku.refuse_log_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('onshikaku.purging', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
COMMENT ON FUNCTION onshikaku.refuse_log_change() IS 'Trigger function: keeps a log table append-only.';
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON onshikaku.access_log_batch
    FOR EACH ROW EXECUTE FUNCTION onshikaku.refuse_log_change();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON onshikaku.access_log_batch
    FOR EACH STATEMENT EXECUTE FUNCTION onshikaku.refuse_log_change();

-- ---- the stored types -------------------------------------------------------

CREATE TYPE onshikaku.encrypted;
CREATE FUNCTION onshikaku.encrypted_in(cstring) RETURNS onshikaku.encrypted
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'encrypted_in';
CREATE FUNCTION onshikaku.encrypted_out(onshikaku.encrypted) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'encrypted_out';
CREATE FUNCTION onshikaku.encrypted_recv(internal) RETURNS onshikaku.encrypted
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'encrypted_recv';
CREATE FUNCTION onshikaku.encrypted_send(onshikaku.encrypted) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'encrypted_send';
CREATE TYPE onshikaku.encrypted (
    INPUT = onshikaku.encrypted_in, OUTPUT = onshikaku.encrypted_out,
    RECEIVE = onshikaku.encrypted_recv, SEND = onshikaku.encrypted_send,
    INTERNALLENGTH = VARIABLE, STORAGE = main, CATEGORY = 'U');
COMMENT ON TYPE onshikaku.encrypted IS
    'A personal number or code encrypted with AES-256-GCM under a data key, bound to its insurer and purpose. Prints as enc1:<base64>; has no equality (every encryption differs).';

CREATE TYPE onshikaku.blind_index;
CREATE FUNCTION onshikaku.blind_index_in(cstring) RETURNS onshikaku.blind_index
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'blind_index_in';
CREATE FUNCTION onshikaku.blind_index_out(onshikaku.blind_index) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'blind_index_out';
CREATE FUNCTION onshikaku.blind_index_recv(internal) RETURNS onshikaku.blind_index
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'blind_index_recv';
CREATE FUNCTION onshikaku.blind_index_send(onshikaku.blind_index) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'blind_index_send';
CREATE TYPE onshikaku.blind_index (
    INPUT = onshikaku.blind_index_in, OUTPUT = onshikaku.blind_index_out,
    RECEIVE = onshikaku.blind_index_recv, SEND = onshikaku.blind_index_send,
    INTERNALLENGTH = 32, ALIGNMENT = char, STORAGE = plain, CATEGORY = 'U');
COMMENT ON TYPE onshikaku.blind_index IS
    'Blind index of a My Number: HMAC-SHA256 under the blind-index key (32 bytes). Equality lookup and national uniqueness. A code standing in for a My Number (番号法 2条8項): protect it like one.';

DO $ops$
DECLARE
    op record;
BEGIN
    FOR op IN SELECT * FROM (VALUES ('eq'), ('ne'), ('lt'), ('le'), ('gt'), ('ge')) v(n) LOOP
        EXECUTE format($f$CREATE FUNCTION onshikaku.%1$I(onshikaku.blind_index, onshikaku.blind_index)
            RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF
            AS 'MODULE_PATHNAME', %1$L$f$, 'blind_index_' || op.n);
    END LOOP;
END
$ops$;
CREATE FUNCTION onshikaku.blind_index_cmp(onshikaku.blind_index, onshikaku.blind_index) RETURNS integer
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'blind_index_cmp';
CREATE FUNCTION onshikaku.blind_index_hash(onshikaku.blind_index) RETURNS integer
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'blind_index_hash';
CREATE FUNCTION onshikaku.blind_index_hash_extended(onshikaku.blind_index, bigint) RETURNS bigint
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'blind_index_hash_extended';
CREATE OPERATOR onshikaku.= (LEFTARG = onshikaku.blind_index, RIGHTARG = onshikaku.blind_index,
    FUNCTION = onshikaku.blind_index_eq, COMMUTATOR = OPERATOR(onshikaku.=),
    NEGATOR = OPERATOR(onshikaku.<>), RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR onshikaku.<> (LEFTARG = onshikaku.blind_index, RIGHTARG = onshikaku.blind_index,
    FUNCTION = onshikaku.blind_index_ne, COMMUTATOR = OPERATOR(onshikaku.<>),
    NEGATOR = OPERATOR(onshikaku.=), RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR onshikaku.< (LEFTARG = onshikaku.blind_index, RIGHTARG = onshikaku.blind_index,
    FUNCTION = onshikaku.blind_index_lt, COMMUTATOR = OPERATOR(onshikaku.>),
    NEGATOR = OPERATOR(onshikaku.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR onshikaku.<= (LEFTARG = onshikaku.blind_index, RIGHTARG = onshikaku.blind_index,
    FUNCTION = onshikaku.blind_index_le, COMMUTATOR = OPERATOR(onshikaku.>=),
    NEGATOR = OPERATOR(onshikaku.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR onshikaku.> (LEFTARG = onshikaku.blind_index, RIGHTARG = onshikaku.blind_index,
    FUNCTION = onshikaku.blind_index_gt, COMMUTATOR = OPERATOR(onshikaku.<),
    NEGATOR = OPERATOR(onshikaku.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR onshikaku.>= (LEFTARG = onshikaku.blind_index, RIGHTARG = onshikaku.blind_index,
    FUNCTION = onshikaku.blind_index_ge, COMMUTATOR = OPERATOR(onshikaku.<=),
    NEGATOR = OPERATOR(onshikaku.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);
CREATE OPERATOR CLASS onshikaku.blind_index_btree_ops DEFAULT FOR TYPE onshikaku.blind_index USING btree AS
    OPERATOR 1 onshikaku.<, OPERATOR 2 onshikaku.<=, OPERATOR 3 onshikaku.=,
    OPERATOR 4 onshikaku.>=, OPERATOR 5 onshikaku.>,
    FUNCTION 1 onshikaku.blind_index_cmp(onshikaku.blind_index, onshikaku.blind_index);
CREATE OPERATOR CLASS onshikaku.blind_index_hash_ops DEFAULT FOR TYPE onshikaku.blind_index USING hash AS
    OPERATOR 1 onshikaku.=,
    FUNCTION 1 onshikaku.blind_index_hash(onshikaku.blind_index),
    FUNCTION 2 onshikaku.blind_index_hash_extended(onshikaku.blind_index, bigint);

-- ---- the API ------------------------------------------------------------------

CREATE FUNCTION onshikaku.protect(number onshikaku.my_number, insurer onshikaku.insurer_number,
                                  purpose text) RETURNS onshikaku.encrypted
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_protect';
CREATE FUNCTION onshikaku.protect(number onshikaku.my_number, insurer onshikaku.insurer_number,
                                  purpose text, cohort integer) RETURNS onshikaku.encrypted
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_protect';
COMMENT ON FUNCTION onshikaku.protect(onshikaku.my_number, onshikaku.insurer_number, text) IS
    'Encrypts a My Number for an insurer and a purpose (the column it goes to) under the insurer''s active data key. NULL number gives NULL.';
COMMENT ON FUNCTION onshikaku.protect(onshikaku.my_number, onshikaku.insurer_number, text, integer) IS
    'Like protect(number, insurer, purpose), under the data key of a retention cohort (a year).';

CREATE FUNCTION onshikaku.protect_code(code text, insurer onshikaku.insurer_number, purpose text)
    RETURNS onshikaku.encrypted
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_protect_code';
CREATE FUNCTION onshikaku.protect_code(code text, insurer onshikaku.insurer_number, purpose text,
                                       cohort integer) RETURNS onshikaku.encrypted
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_protect_code';
COMMENT ON FUNCTION onshikaku.protect_code(text, onshikaku.insurer_number, text) IS
    'Encrypts an opaque code (an agency code, 機関別符号) for an insurer, or for the national scope when insurer is NULL.';
COMMENT ON FUNCTION onshikaku.protect_code(text, onshikaku.insurer_number, text, integer) IS
    'Like protect_code(code, insurer, purpose), under the data key of a retention cohort.';

CREATE FUNCTION onshikaku.blind_index_of(number onshikaku.my_number) RETURNS onshikaku.blind_index
    LANGUAGE C STABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'osk_blind_index';
COMMENT ON FUNCTION onshikaku.blind_index_of(onshikaku.my_number) IS
    'The blind index of a My Number (HMAC-SHA256 under the blind-index key): the same in every insurer.';

CREATE FUNCTION onshikaku.reveal(value onshikaku.encrypted, insurer onshikaku.insurer_number,
                                 purpose text, record_ref text, access_purpose text) RETURNS text
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_reveal';
COMMENT ON FUNCTION onshikaku.reveal(onshikaku.encrypted, onshikaku.insurer_number, text, text, text) IS
    'Decrypts a value for the roles granted onshikaku_number_handler, writing an access_log row (who, when, record_ref, access_purpose) before the transaction commits.';

CREATE FUNCTION onshikaku.reencrypt(value onshikaku.encrypted, insurer onshikaku.insurer_number,
                                    purpose text) RETURNS onshikaku.encrypted
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_reencrypt';
CREATE FUNCTION onshikaku.reencrypt(value onshikaku.encrypted, insurer onshikaku.insurer_number,
                                    purpose text, cohort integer) RETURNS onshikaku.encrypted
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_reencrypt';
COMMENT ON FUNCTION onshikaku.reencrypt(onshikaku.encrypted, onshikaku.insurer_number, text) IS
    'The same plaintext under the active data key of its scope (after a rotation); the plaintext never leaves the server function.';
COMMENT ON FUNCTION onshikaku.reencrypt(onshikaku.encrypted, onshikaku.insurer_number, text, integer) IS
    'The same plaintext under the active data key of the given cohort (moving a value to its retention cohort).';

CREATE FUNCTION onshikaku.key_id(value onshikaku.encrypted) RETURNS integer
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'encrypted_key_id';
COMMENT ON FUNCTION onshikaku.key_id(onshikaku.encrypted) IS 'The id of the data key that protects a value.';

CREATE FUNCTION onshikaku.rotate_data_key(insurer onshikaku.insurer_number, cohort integer DEFAULT NULL)
    RETURNS integer LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_rotate_data_key';
COMMENT ON FUNCTION onshikaku.rotate_data_key(onshikaku.insurer_number, integer) IS
    'Retires the active data key of a scope and creates a new one; CALL onshikaku.reencrypt_rotated() then moves the values. Returns the new key id.';

CREATE FUNCTION onshikaku.rotate_master_key(target_kek integer DEFAULT NULL) RETURNS bigint
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_rotate_master_key';
COMMENT ON FUNCTION onshikaku.rotate_master_key(integer) IS
    'Re-wraps every data key with the master key of the highest id in the key file (or kek.<target_kek>); returns how many. Data are not touched.';

CREATE FUNCTION onshikaku.key_status(OUT key text, OUT kek_id integer, OUT fingerprint text,
                                     OUT is_current boolean) RETURNS SETOF record
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_key_status';
COMMENT ON FUNCTION onshikaku.key_status() IS
    'The keys this session loaded from the key file or command, with fingerprints (never the keys).';

CREATE FUNCTION onshikaku.forget_keys() RETURNS void
    LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'osk_forget_keys';
COMMENT ON FUNCTION onshikaku.forget_keys() IS 'Wipes the keys held in this session''s memory; they are read again on next use.';

-- ---- DEK rotation: registered columns, resumable batches, progress --------------

CREATE TABLE onshikaku.encrypted_column (
    relid          regclass NOT NULL,
    column_name    name NOT NULL,
    insurer_column name,              -- NULL: national scope
    purpose        text NOT NULL,
    key_column     name NOT NULL,     -- a unique, ordered column to walk the table by
    PRIMARY KEY (relid, column_name)
);
COMMENT ON TABLE onshikaku.encrypted_column IS
    'Columns of type encrypted that key rotation and purging walk: where the insurer and the purpose of each value are.';

CREATE TABLE onshikaku.rotation_progress (
    relid        regclass NOT NULL,
    column_name  name NOT NULL,
    last_key     text,
    rows_done    bigint NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    PRIMARY KEY (relid, column_name)
);
COMMENT ON TABLE onshikaku.rotation_progress IS
    'Progress of CALL onshikaku.reencrypt_rotated(): committed per batch, so other sessions can watch it and an interrupted run resumes.';

CREATE FUNCTION onshikaku.register_encrypted_column(relid regclass, column_name name,
        insurer_column name, purpose text, key_column name) RETURNS void
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO onshikaku.encrypted_column VALUES (relid, column_name, insurer_column, purpose, key_column)
    ON CONFLICT (relid, column_name) DO UPDATE
        SET insurer_column = EXCLUDED.insurer_column, purpose = EXCLUDED.purpose,
            key_column = EXCLUDED.key_column;
$$;
COMMENT ON FUNCTION onshikaku.register_encrypted_column(regclass, name, name, text, name) IS
    'Registers a column of type encrypted for key rotation and purging.';

-- A procedure that commits may not have SET clauses nor be SECURITY DEFINER:
-- it runs with the caller's rights (the operator's) and names everything in full.
CREATE PROCEDURE onshikaku.reencrypt_rotated(batch_size integer DEFAULT 1000)
    LANGUAGE plpgsql
AS $$
DECLARE
    c record;
    retired integer[];
    key_type text;
    last text;
    done bigint;
    n bigint;
    swept boolean;
BEGIN
    IF batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR c IN SELECT * FROM onshikaku.encrypted_column ORDER BY relid::text, column_name LOOP
        SELECT format_type(a.atttypid, a.atttypmod) INTO key_type
        FROM pg_attribute a WHERE a.attrelid = c.relid AND a.attname = c.key_column;
        INSERT INTO onshikaku.rotation_progress (relid, column_name) VALUES (c.relid, c.column_name)
        ON CONFLICT (relid, column_name) DO UPDATE
            SET finished_at = NULL,
                started_at = CASE WHEN onshikaku.rotation_progress.finished_at IS NULL
                                  THEN onshikaku.rotation_progress.started_at ELSE now() END,
                last_key = CASE WHEN onshikaku.rotation_progress.finished_at IS NULL
                                THEN onshikaku.rotation_progress.last_key END,
                rows_done = CASE WHEN onshikaku.rotation_progress.finished_at IS NULL
                                 THEN onshikaku.rotation_progress.rows_done ELSE 0 END
        RETURNING last_key, rows_done INTO last, done;
        COMMIT;
        swept := false;
        LOOP
            SELECT coalesce(array_agg(key_id), '{}') INTO retired
            FROM onshikaku.data_key WHERE state = 'retired';
            EXECUTE format($q$
                WITH batch AS (
                    SELECT %2$I AS k FROM %1$s
                    WHERE onshikaku.key_id(%3$I) = ANY ($1) AND ($2 IS NULL OR %2$I > $2::%5$s)
                    ORDER BY %2$I LIMIT $3 FOR UPDATE),
                moved AS (
                    UPDATE %1$s t SET %3$I = onshikaku.reencrypt(t.%3$I, %4$s, %6$L)
                    FROM batch WHERE t.%2$I = batch.k RETURNING t.%2$I AS k)
                SELECT count(*), max(k)::text FROM moved$q$,
                c.relid, c.key_column, c.column_name,
                CASE WHEN c.insurer_column IS NULL THEN 'NULL' ELSE format('t.%I', c.insurer_column) END,
                key_type, c.purpose)
            INTO n, last USING retired, last, batch_size;
            IF n = 0 THEN
                -- a pass ended: one more from the start catches values written
                -- under a retired key by transactions that were in flight
                EXIT WHEN swept;
                swept := true;
                last := NULL;
            ELSE
                swept := false;
            END IF;
            done := done + n;
            UPDATE onshikaku.rotation_progress
               SET last_key = last, rows_done = done, updated_at = now()
             WHERE relid = c.relid AND column_name = c.column_name;
            COMMIT;
        END LOOP;
        UPDATE onshikaku.rotation_progress SET finished_at = now(), updated_at = now(), last_key = NULL
         WHERE relid = c.relid AND column_name = c.column_name;
        COMMIT;
    END LOOP;
END
$$;
COMMENT ON PROCEDURE onshikaku.reencrypt_rotated(integer) IS
    'Moves every value of the registered columns from retired data keys to the active key of its scope, in committed batches; resumable; progress in onshikaku.rotation_progress.';

-- ---- privileges ---------------------------------------------------------------

REVOKE ALL ON onshikaku.data_key, onshikaku.key_fingerprint, onshikaku.access_log, onshikaku.access_log_batch,
              onshikaku.encrypted_column,
              onshikaku.rotation_progress FROM PUBLIC;
REVOKE ALL ON SEQUENCE onshikaku.data_key_key_id_seq FROM PUBLIC;
GRANT SELECT ON onshikaku.data_key, onshikaku.access_log, onshikaku.access_log_batch,
                onshikaku.encrypted_column, onshikaku.rotation_progress TO onshikaku_admin;
GRANT SELECT ON onshikaku.key_fingerprint TO onshikaku_admin;
GRANT INSERT, UPDATE ON onshikaku.rotation_progress TO onshikaku_admin;
GRANT INSERT, UPDATE, DELETE ON onshikaku.encrypted_column TO onshikaku_admin;
REVOKE EXECUTE ON FUNCTION
    onshikaku.protect(onshikaku.my_number, onshikaku.insurer_number, text),
    onshikaku.protect(onshikaku.my_number, onshikaku.insurer_number, text, integer),
    onshikaku.protect_code(text, onshikaku.insurer_number, text),
    onshikaku.protect_code(text, onshikaku.insurer_number, text, integer),
    onshikaku.blind_index_of(onshikaku.my_number),
    onshikaku.reveal(onshikaku.encrypted, onshikaku.insurer_number, text, text, text),
    onshikaku.reencrypt(onshikaku.encrypted, onshikaku.insurer_number, text),
    onshikaku.reencrypt(onshikaku.encrypted, onshikaku.insurer_number, text, integer),
    onshikaku.rotate_data_key(onshikaku.insurer_number, integer),
    onshikaku.rotate_master_key(integer),
    onshikaku.key_status(),
    onshikaku.register_encrypted_column(regclass, name, name, text, name)
FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE onshikaku.reencrypt_rotated(integer) FROM PUBLIC;
-- Handling numbers (encrypting, indexing, revealing) is one right: a
-- blind index is as good as the number to whoever can compute it.
GRANT EXECUTE ON FUNCTION
    onshikaku.protect(onshikaku.my_number, onshikaku.insurer_number, text),
    onshikaku.protect(onshikaku.my_number, onshikaku.insurer_number, text, integer),
    onshikaku.protect_code(text, onshikaku.insurer_number, text),
    onshikaku.protect_code(text, onshikaku.insurer_number, text, integer),
    onshikaku.blind_index_of(onshikaku.my_number),
    onshikaku.reveal(onshikaku.encrypted, onshikaku.insurer_number, text, text, text),
    onshikaku.my_number_digits(onshikaku.my_number)
TO onshikaku_number_handler;
GRANT EXECUTE ON FUNCTION
    onshikaku.reencrypt(onshikaku.encrypted, onshikaku.insurer_number, text),
    onshikaku.reencrypt(onshikaku.encrypted, onshikaku.insurer_number, text, integer),
    onshikaku.rotate_data_key(onshikaku.insurer_number, integer),
    onshikaku.rotate_master_key(integer),
    onshikaku.key_status(),
    onshikaku.register_encrypted_column(regclass, name, name, text, name)
TO onshikaku_admin;
GRANT EXECUTE ON PROCEDURE onshikaku.reencrypt_rotated(integer) TO onshikaku_admin;

-- pg_dump keeps the data keys and the logs; restore with the same key file.
SELECT pg_catalog.pg_extension_config_dump('onshikaku.data_key', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.data_key_key_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.key_fingerprint', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.access_log_batch', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.access_log_batch_batch_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.encrypted_column', '');
SELECT pg_catalog.pg_extension_config_dump('onshikaku.rotation_progress', '');

-- ---- extension/sql/30_model.sql ----
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

INSERT INTO onshikaku.per_insurer_table VALUES
    ('onshikaku.qualification', 'qualification', 1, NULL),
    ('onshikaku.card', 'card', 2, NULL),
    ('onshikaku.medical_voucher', 'medical_voucher', 3, 'medical_voucher'),
    ('onshikaku.agency_code_link', 'agency_code_link', 4, NULL),
    ('onshikaku.provision_log', 'provision_log', 5, 'nws_provision'),
    ('onshikaku.identity_check', 'identity_check', 6, 'identity_check'),
    ('onshikaku.registration_zone', 'registration_zone', 7, NULL),
    ('onshikaku.copy_zone', 'copy_zone', 8, 'nws_provision');

-- ---- column classification and privileges -------------------------------------------------

CREATE TABLE onshikaku.column_class (
    relid       regclass NOT NULL,
    column_name name NOT NULL,
    class       text NOT NULL CHECK (class IN ('personal_number', 'direct_identifier', 'quasi_identifier', 'other')),
    PRIMARY KEY (relid, column_name)
);
COMMENT ON TABLE onshikaku.column_class IS
    'Classification of every column of the model: personal_number (My Number, blind index, agency code and anything standing in for one), direct_identifier, quasi_identifier, other. Drives grants and the analyst surface check.';

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
WHERE c.relnamespace = 'onshikaku'::regnamespace AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped;

-- Nothing of the model is PUBLIC.  Insurer roles read their own rows
-- (row-level security) of every column but the personal numbers; the
-- number-handling right adds those.  Writes go through the flows.
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

-- ---- extension/sql/35_column_comments.sql ----
-- 35_column_comments.sql: the Japanese term of every column of the model.
-- Generated by test/helpers/column_comments.py from the trailing comments
-- of the CREATE TABLE statements; edit those, then regenerate.

COMMENT ON COLUMN onshikaku.insurer_kind_capability.qualification_history IS '資格履歴管理 and the OQS feed';
COMMENT ON COLUMN onshikaku.insurer_kind_capability.agency_code IS '機関別符号取得';
COMMENT ON COLUMN onshikaku.insurer_kind_capability.nws_provision IS '情報照会・提供 (副本) through NWS';
COMMENT ON COLUMN onshikaku.insurer_kind_capability.myportal_link IS 'マイナポータル link information';
COMMENT ON COLUMN onshikaku.insurer_kind_capability.idv_my_number IS '本人確認: 個人番号取得 (4 basic facts -> My Number)';
COMMENT ON COLUMN onshikaku.insurer_kind_capability.idv_basic4 IS '本人確認: 基本4情報取得 (My Number -> 4 basic facts)';
COMMENT ON COLUMN onshikaku.insurer_kind_capability.medical_voucher IS '医療券・調剤券';
COMMENT ON COLUMN onshikaku.insurer_role.role_name IS 'by OID: a dropped role''s mapping admits no one';
COMMENT ON COLUMN onshikaku.agency_code.code IS '機関別符号 (national scope)';
COMMENT ON COLUMN onshikaku.agency_code.acquisition_status IS '符号取得ステータス';
COMMENT ON COLUMN onshikaku.agency_code.status_updated_at IS '符号取得ステータス更新日時';
COMMENT ON COLUMN onshikaku.agency_code.reissue IS '符号再発行フラグ';
COMMENT ON COLUMN onshikaku.agency_code.requested_at IS '符号取得要求受付日時';
COMMENT ON COLUMN onshikaku.agency_code.received_at IS '機関別符号受付日時';
COMMENT ON COLUMN onshikaku.agency_code.set_at IS '機関別符号設定日時';
COMMENT ON COLUMN onshikaku.agency_code.registered_at IS '登録日時';
COMMENT ON COLUMN onshikaku.agency_code.updated_at IS '更新日時';
COMMENT ON COLUMN onshikaku.qualification.qualification_id IS '資格情報管理番号';
COMMENT ON COLUMN onshikaku.qualification.history_seq IS '履歴通番';
COMMENT ON COLUMN onshikaku.qualification.record_id IS 'レコード識別番号';
COMMENT ON COLUMN onshikaku.qualification.record_kind_code IS 'レコード種別コード';
COMMENT ON COLUMN onshikaku.qualification.process_kind_code IS '処理種別コード';
COMMENT ON COLUMN onshikaku.qualification.insured_branch_number IS '被保険者枝番';
COMMENT ON COLUMN onshikaku.qualification.link_number IS '紐付番号';
COMMENT ON COLUMN onshikaku.qualification.my_number IS '個人番号';
COMMENT ON COLUMN onshikaku.qualification.my_number_bi IS '(its blind index)';
COMMENT ON COLUMN onshikaku.qualification.updated_my_number IS '更新後個人番号';
COMMENT ON COLUMN onshikaku.qualification.my_number_update_kind IS '個人番号更新区分';
COMMENT ON COLUMN onshikaku.qualification.my_number_updated_at IS '個人番号更新日時';
COMMENT ON COLUMN onshikaku.qualification.access_group_code IS 'アクセスグループコード';
COMMENT ON COLUMN onshikaku.qualification.opt_out IS 'オプトアウト';
COMMENT ON COLUMN onshikaku.qualification.self_info_refused IS '自己情報提供不可フラグ';
COMMENT ON COLUMN onshikaku.qualification.checkup_consent IS '特定健診情報提供に係る本人同意フラグ';
COMMENT ON COLUMN onshikaku.qualification.dv_nondisclosure IS 'DV等支援措置 (seed 000/003)';
COMMENT ON COLUMN onshikaku.qualification.name_on_card IS '氏名（券面記載）';
COMMENT ON COLUMN onshikaku.qualification.name_on_card_changed_on IS '氏名（券面記載）変更年月日';
COMMENT ON COLUMN onshikaku.qualification.name_on_card_kana IS '氏名（券面記載）（カナ）';
COMMENT ON COLUMN onshikaku.qualification.name_on_card_kana_changed_on IS '氏名（券面記載）（カナ）変更年月日';
COMMENT ON COLUMN onshikaku.qualification.name_other IS '氏名（その他）';
COMMENT ON COLUMN onshikaku.qualification.name_other_changed_on IS '氏名（その他）変更年月日';
COMMENT ON COLUMN onshikaku.qualification.name_other_kana IS '氏名（その他）（カナ）';
COMMENT ON COLUMN onshikaku.qualification.name_other_kana_changed_on IS '氏名（その他）（カナ）変更年月日';
COMMENT ON COLUMN onshikaku.qualification.sex1 IS '性別1';
COMMENT ON COLUMN onshikaku.qualification.sex1_changed_on IS '性別1変更年月日';
COMMENT ON COLUMN onshikaku.qualification.sex2 IS '性別2';
COMMENT ON COLUMN onshikaku.qualification.sex2_changed_on IS '性別2変更年月日';
COMMENT ON COLUMN onshikaku.qualification.birth_date IS '生年月日';
COMMENT ON COLUMN onshikaku.qualification.birth_date_changed_on IS '生年月日変更年月日';
COMMENT ON COLUMN onshikaku.qualification.address IS '住所';
COMMENT ON COLUMN onshikaku.qualification.address_changed_on IS '住所変更年月日';
COMMENT ON COLUMN onshikaku.qualification.postcode IS '郵便番号';
COMMENT ON COLUMN onshikaku.qualification.postcode_changed_on IS '郵便番号変更年月日';
COMMENT ON COLUMN onshikaku.qualification.municipality_code IS '市町村コード';
COMMENT ON COLUMN onshikaku.qualification.deceased IS '死亡フラグ';
COMMENT ON COLUMN onshikaku.qualification.status IS '身分';
COMMENT ON COLUMN onshikaku.qualification.status_changed_on IS '身分変更年月日';
COMMENT ON COLUMN onshikaku.qualification.member_class_code IS '加入者区分コード';
COMMENT ON COLUMN onshikaku.qualification.household_id IS '世帯識別番号';
COMMENT ON COLUMN onshikaku.qualification.card_symbol IS '被保険者証記号';
COMMENT ON COLUMN onshikaku.qualification.card_number IS '被保険者証番号';
COMMENT ON COLUMN onshikaku.qualification.card_branch IS '枝番';
COMMENT ON COLUMN onshikaku.qualification.acquired_on IS '資格取得年月日（保護開始日・保護再開日）';
COMMENT ON COLUMN onshikaku.qualification.lost_on IS '資格喪失年月日（保護停止日・保護廃止日）';
COMMENT ON COLUMN onshikaku.qualification.loss_reason IS '資格喪失事由';
COMMENT ON COLUMN onshikaku.qualification.insured_or_dependent IS '本人・家族の別';
COMMENT ON COLUMN onshikaku.qualification.insured_or_dependent_changed_on IS '本人・家族の別変更年月日';
COMMENT ON COLUMN onshikaku.qualification.insured_person_name IS '被保険者氏名';
COMMENT ON COLUMN onshikaku.qualification.insured_person_name_changed_on IS '被保険者氏名変更年月日';
COMMENT ON COLUMN onshikaku.qualification.office_name IS '自治体・福祉事務所名';
COMMENT ON COLUMN onshikaku.qualification.public_payer_number IS '公費負担者番号';
COMMENT ON COLUMN onshikaku.qualification.recipient_number IS '受給者番号';
COMMENT ON COLUMN onshikaku.qualification.pmh_id IS 'PMH-ID';
COMMENT ON COLUMN onshikaku.qualification.new_insurer_number IS '保険者コード（変更後）';
COMMENT ON COLUMN onshikaku.qualification.new_insured_branch_number IS '被保険者枝番（変更後）';
COMMENT ON COLUMN onshikaku.qualification.name IS '氏名';
COMMENT ON COLUMN onshikaku.qualification.name_kana IS '氏名かな';
COMMENT ON COLUMN onshikaku.qualification.qualification_serial IS '資格通番';
COMMENT ON COLUMN onshikaku.qualification.individual_result_kind IS '個別結果区分';
COMMENT ON COLUMN onshikaku.qualification.process_line_kind IS '処理明細区分';
COMMENT ON COLUMN onshikaku.qualification.result_kind IS '処理結果区分';
COMMENT ON COLUMN onshikaku.qualification.result_line_code IS '処理結果明細コード';
COMMENT ON COLUMN onshikaku.qualification.result_detail_code IS '処理結果詳細コード';
COMMENT ON COLUMN onshikaku.qualification.retrieval_kind IS '取得区分';
COMMENT ON COLUMN onshikaku.qualification.retrieval_condition IS '取得条件';
COMMENT ON COLUMN onshikaku.qualification.retrieval_period_from IS '取得条件（加入期間（自））';
COMMENT ON COLUMN onshikaku.qualification.retrieval_period_to IS '取得条件（加入期間（至））';
COMMENT ON COLUMN onshikaku.qualification.reception_number IS '受付番号';
COMMENT ON COLUMN onshikaku.qualification.reception_line_number IS '受付明細番号';
COMMENT ON COLUMN onshikaku.qualification.reception_line_branch IS '受付明細枝番';
COMMENT ON COLUMN onshikaku.qualification.distribution_reception_number IS '振分連携履歴受付番号';
COMMENT ON COLUMN onshikaku.qualification.distribution_reception_line_number IS '振分連携履歴受付明細番号';
COMMENT ON COLUMN onshikaku.qualification.distribution_reception_line_branch IS '振分連携履歴受付明細枝番';
COMMENT ON COLUMN onshikaku.qualification.agency_code_request_kind IS '符号取得要求区分';
COMMENT ON COLUMN onshikaku.qualification.agency_code_link_status IS '符号紐付状態';
COMMENT ON COLUMN onshikaku.qualification.agency_code_reception_number IS '符号連携履歴受付番号';
COMMENT ON COLUMN onshikaku.qualification.agency_code_reception_line_number IS '符号連携履歴受付明細番号';
COMMENT ON COLUMN onshikaku.qualification.link_info_addition_kind IS '紐付情報追加区分';
COMMENT ON COLUMN onshikaku.qualification.request_received_at IS '要求受付日時';
COMMENT ON COLUMN onshikaku.qualification.requester_id IS '要求者ID';
COMMENT ON COLUMN onshikaku.qualification.linkage_info IS '連携情報';
COMMENT ON COLUMN onshikaku.qualification.deleted IS '削除フラグ';
COMMENT ON COLUMN onshikaku.qualification.deleted_at IS '削除日時';
COMMENT ON COLUMN onshikaku.qualification.registered_at IS '登録日時';
COMMENT ON COLUMN onshikaku.qualification.updated_at IS '更新日時';
COMMENT ON COLUMN onshikaku.card.card_id IS '証情報の内部番号 (card id)';
COMMENT ON COLUMN onshikaku.card.qualification_id IS '資格情報管理番号 of the qualification the card belongs to';
COMMENT ON COLUMN onshikaku.card.kind IS '証の種類 (which of the four certificates)';
COMMENT ON COLUMN onshikaku.card.card_class IS '証区分';
COMMENT ON COLUMN onshikaku.card.card_symbol IS '被保険者証記号';
COMMENT ON COLUMN onshikaku.card.card_number IS '被保険者証番号';
COMMENT ON COLUMN onshikaku.card.card_branch IS '枝番';
COMMENT ON COLUMN onshikaku.card.issued_on IS '交付年月日';
COMMENT ON COLUMN onshikaku.card.valid_from IS '有効開始年月日';
COMMENT ON COLUMN onshikaku.card.valid_to IS '有効終了年月日';
COMMENT ON COLUMN onshikaku.card.copay_ratio IS '一部負担金割合 (%)';
COMMENT ON COLUMN onshikaku.card.applicable_class IS '適用区分 (限度額)';
COMMENT ON COLUMN onshikaku.card.long_term_admission_on IS '長期入院該当年月日 (限度額)';
COMMENT ON COLUMN onshikaku.card.certified_disease_class IS '認定疾病区分 (特定疾病)';
COMMENT ON COLUMN onshikaku.card.copay_limit IS '自己負担限度額 (特定疾病)';
COMMENT ON COLUMN onshikaku.card.recalled_on IS '回収年月日';
COMMENT ON COLUMN onshikaku.card.recall_reason IS '回収事由 (seed 000/003)';
COMMENT ON COLUMN onshikaku.card.recall_reason_on IS '回収理由発生日 (seed 000)';
COMMENT ON COLUMN onshikaku.medical_voucher.voucher_id IS '医療券・調剤券識別番号';
COMMENT ON COLUMN onshikaku.medical_voucher.qualification_id IS '資格情報管理番号 of the qualification the voucher belongs to';
COMMENT ON COLUMN onshikaku.medical_voucher.voucher_kind IS '医療券・調剤券別';
COMMENT ON COLUMN onshikaku.medical_voucher.public_payer_number IS '公費負担者番号';
COMMENT ON COLUMN onshikaku.medical_voucher.recipient_number IS '受給者番号';
COMMENT ON COLUMN onshikaku.medical_voucher.issue_number IS '交付番号';
COMMENT ON COLUMN onshikaku.medical_voucher.treatment_month IS '診療年月';
COMMENT ON COLUMN onshikaku.medical_voucher.valid_from IS '有効開始日';
COMMENT ON COLUMN onshikaku.medical_voucher.valid_to IS '有効終了日';
COMMENT ON COLUMN onshikaku.medical_voucher.single_or_combined IS '単独・併用別';
COMMENT ON COLUMN onshikaku.medical_voucher.institution_code IS '指定医療機関コード';
COMMENT ON COLUMN onshikaku.medical_voucher.institution_name IS '指定医療機関名';
COMMENT ON COLUMN onshikaku.medical_voucher.institution_address IS '指定医療機関住所';
COMMENT ON COLUMN onshikaku.medical_voucher.prescriber_code IS '処方箋発行元医療機関コード';
COMMENT ON COLUMN onshikaku.medical_voucher.prescriber_name IS '処方箋発行元医療機関名';
COMMENT ON COLUMN onshikaku.medical_voucher.disease_name_1 IS '傷病名1';
COMMENT ON COLUMN onshikaku.medical_voucher.disease_name_2 IS '傷病名2';
COMMENT ON COLUMN onshikaku.medical_voucher.disease_name_3 IS '傷病名3';
COMMENT ON COLUMN onshikaku.medical_voucher.treatment_kind IS '診療別';
COMMENT ON COLUMN onshikaku.medical_voucher.patient_payment IS '本人支払額（自己負担額）';
COMMENT ON COLUMN onshikaku.medical_voucher.district_officer IS '地区担当員名';
COMMENT ON COLUMN onshikaku.medical_voucher.handling_officer IS '取扱担当者名';
COMMENT ON COLUMN onshikaku.medical_voucher.officer_title IS '役職名';
COMMENT ON COLUMN onshikaku.medical_voucher.social_insurance_status IS '社会保険状況';
COMMENT ON COLUMN onshikaku.medical_voucher.insurer_number IS '保険者番号';
COMMENT ON COLUMN onshikaku.medical_voucher.card_symbol IS '被保険者証記号';
COMMENT ON COLUMN onshikaku.medical_voucher.card_number IS '被保険者証番号';
COMMENT ON COLUMN onshikaku.medical_voucher.insured_branch_number IS '被保険者枝番';
COMMENT ON COLUMN onshikaku.medical_voucher.infectious_disease_status IS '感染症法第37条の2の該当状況';
COMMENT ON COLUMN onshikaku.medical_voucher.late_elderly_status IS '後期高齢者医療の該当状況';
COMMENT ON COLUMN onshikaku.medical_voucher.prefecture_status IS '都道府県の該当状況';
COMMENT ON COLUMN onshikaku.medical_voucher.case_number IS 'ケース番号';
COMMENT ON COLUMN onshikaku.medical_voucher.household_member_number IS '世帯員番号';
COMMENT ON COLUMN onshikaku.medical_voucher.remarks_1 IS '備考1';
COMMENT ON COLUMN onshikaku.medical_voucher.remarks_2 IS '備考2';
COMMENT ON COLUMN onshikaku.medical_voucher.remarks_3 IS '備考3';
COMMENT ON COLUMN onshikaku.agency_code_link.insured_branch_number IS '被保険者枝番';
COMMENT ON COLUMN onshikaku.agency_code_link.link_number IS '紐付番号';
COMMENT ON COLUMN onshikaku.agency_code_link.processing_serial IS '処理通番';
COMMENT ON COLUMN onshikaku.agency_code_link.reception_number IS '受付番号';
COMMENT ON COLUMN onshikaku.agency_code_link.reception_line_number IS '受付明細番号';
COMMENT ON COLUMN onshikaku.agency_code_link.result_detail_code IS '処理結果詳細コード';
COMMENT ON COLUMN onshikaku.agency_code_link.result_message IS '処理結果メッセージ';
COMMENT ON COLUMN onshikaku.agency_code_link.registered_at IS '登録日時';
COMMENT ON COLUMN onshikaku.agency_code_link.updated_at IS '更新日時';
COMMENT ON COLUMN onshikaku.provision_log.provision_id IS '記録の内部番号 (record id)';
COMMENT ON COLUMN onshikaku.provision_log.direction IS '提供・照会の別 (provision or inquiry)';
COMMENT ON COLUMN onshikaku.provision_log.agency_code IS '機関別符号';
COMMENT ON COLUMN onshikaku.provision_log.processing_serial IS '処理通番';
COMMENT ON COLUMN onshikaku.provision_log.processing_serial_branch IS '処理通番の枝番';
COMMENT ON COLUMN onshikaku.provision_log.office_work_name IS '事務名称';
COMMENT ON COLUMN onshikaku.provision_log.procedure_name IS '事務手続名称';
COMMENT ON COLUMN onshikaku.provision_log.inquirer_department IS '情報照会者部署名称';
COMMENT ON COLUMN onshikaku.provision_log.provider_department IS '情報提供者部署名称';
COMMENT ON COLUMN onshikaku.provision_log.requested_at IS '提供の求めの日時';
COMMENT ON COLUMN onshikaku.provision_log.provided_at IS '提供の日時';
COMMENT ON COLUMN onshikaku.provision_log.item_name IS '特定個人情報名称';
COMMENT ON COLUMN onshikaku.provision_log.nondisclosure_code IS '不開示コード';
COMMENT ON COLUMN onshikaku.provision_log.error_reason_code IS '過誤事由コード';
COMMENT ON COLUMN onshikaku.provision_log.insured_branch_number IS '被保険者枝番';
COMMENT ON COLUMN onshikaku.identity_check.check_id IS '要求レコード番号';
COMMENT ON COLUMN onshikaku.identity_check.request_kind IS '照会の種類 (個人番号取得 or 基本4情報取得)';
COMMENT ON COLUMN onshikaku.identity_check.business_kind_jukiho IS '事務区分（住基法）';
COMMENT ON COLUMN onshikaku.identity_check.business_kind_bango IS '事務区分（番号利用法）';
COMMENT ON COLUMN onshikaku.identity_check.use_reason IS '利用事由';
COMMENT ON COLUMN onshikaku.identity_check.main_condition IS '主たる照会条件';
COMMENT ON COLUMN onshikaku.identity_check.my_number IS '個人番号';
COMMENT ON COLUMN onshikaku.identity_check.name IS '氏名';
COMMENT ON COLUMN onshikaku.identity_check.name_kana IS '氏名かな';
COMMENT ON COLUMN onshikaku.identity_check.birth_date IS '生年月日';
COMMENT ON COLUMN onshikaku.identity_check.sex IS '性別';
COMMENT ON COLUMN onshikaku.identity_check.address IS '住所';
COMMENT ON COLUMN onshikaku.identity_check.address_detail IS '住所（大字以降）';
COMMENT ON COLUMN onshikaku.identity_check.municipality_code IS '市町村コード';
COMMENT ON COLUMN onshikaku.identity_check.municipality_name IS '市町村名';
COMMENT ON COLUMN onshikaku.identity_check.period_from IS '照会対象期間開始 年月日';
COMMENT ON COLUMN onshikaku.identity_check.period_to IS '照会対象期間終了 年月日';
COMMENT ON COLUMN onshikaku.identity_check.reference_date IS '照会対象期間（照会基準日）';
COMMENT ON COLUMN onshikaku.identity_check.other_history IS 'その他条件 履歴情報';
COMMENT ON COLUMN onshikaku.identity_check.other_removed IS 'その他条件 消除者';
COMMENT ON COLUMN onshikaku.identity_check.other_change_reason IS 'その他条件 異動事由';
COMMENT ON COLUMN onshikaku.identity_check.resident_class IS '住民区分';
COMMENT ON COLUMN onshikaku.identity_check.change_status IS '変更状況';
COMMENT ON COLUMN onshikaku.identity_check.display_info IS '情報表示';
COMMENT ON COLUMN onshikaku.identity_check.alive_status IS '生存状況';
COMMENT ON COLUMN onshikaku.identity_check.change_reason IS '異動事由';
COMMENT ON COLUMN onshikaku.identity_check.changed_on IS '異動年月日';
COMMENT ON COLUMN onshikaku.identity_check.changed IS '異動有無';
COMMENT ON COLUMN onshikaku.identity_check.requested_at IS '照会日時 (when the insurer asked)';
COMMENT ON COLUMN onshikaku.identity_check.answered_at IS '回答日時 (when the result arrived)';
COMMENT ON COLUMN onshikaku.registration_zone.insured_branch_number IS '被保険者枝番 (issued here)';
COMMENT ON COLUMN onshikaku.registration_zone.my_number_bi IS '個人番号のブラインドインデックス';
COMMENT ON COLUMN onshikaku.registration_zone.link_number IS '紐付番号';
COMMENT ON COLUMN onshikaku.registration_zone.prospective IS '加入予定者';
COMMENT ON COLUMN onshikaku.registration_zone.household_member IS '世帯員';
COMMENT ON COLUMN onshikaku.registration_zone.removal_requested_at IS '削除依頼日時 (a prospective member who never joined)';
COMMENT ON COLUMN onshikaku.copy_zone.insured_branch_number IS '被保険者枝番';
COMMENT ON COLUMN onshikaku.copy_zone.item_name IS '特定個人情報名称';
COMMENT ON COLUMN onshikaku.copy_zone.content IS '副本の内容 (the copy''s items)';
COMMENT ON COLUMN onshikaku.copy_zone.no_auto_response IS '自動応答不可フラグ';
