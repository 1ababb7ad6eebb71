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
COMMENT ON COLUMN onshikaku.person_enrolment.link_number IS '紐付番号';
COMMENT ON COLUMN onshikaku.person_enrolment.insurer_id IS '医療保険者等 (no foreign key, for enrolment speed)';
COMMENT ON COLUMN onshikaku.person_enrolment.first_enrolled_at IS '初回登録日時';
COMMENT ON COLUMN onshikaku.provision_allow_list.office_work_name IS '事務名称';
COMMENT ON COLUMN onshikaku.provision_allow_list.procedure_name IS '事務手続名称';
COMMENT ON COLUMN onshikaku.provision_allow_list.item_name IS '特定個人情報名称';
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
COMMENT ON COLUMN onshikaku.qualification.card_copay_ratio IS '一部負担金割合 of the insurance card issued at enrolment (a copy of card.copay_ratio, for the OQS answer)';
COMMENT ON COLUMN onshikaku.qualification.card_valid_from IS '有効開始年月日 of that card (a copy)';
COMMENT ON COLUMN onshikaku.qualification.card_valid_to IS '有効終了年月日 of that card (a copy; record_loss() ends both)';
COMMENT ON COLUMN onshikaku.qualification.card_copied IS 'True while the qualification''s only card is that insurance card, copied in card_copay_ratio, card_valid_from and card_valid_to: confirm_qualification() then reads no card row. add_certificate() clears it.';
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
COMMENT ON COLUMN onshikaku.card_branch_issue.card_symbol IS '被保険者証記号 ('''' when the card has none)';
COMMENT ON COLUMN onshikaku.card_branch_issue.card_number IS '被保険者証番号';
COMMENT ON COLUMN onshikaku.card_branch_issue.card_branch IS '枝番';
COMMENT ON COLUMN onshikaku.card_branch_issue.link_number IS '紐付番号 (the person it was issued to; NULL once purged: the value stays taken)';
COMMENT ON COLUMN onshikaku.card_branch_issue.issued_at IS '発番日時';

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
