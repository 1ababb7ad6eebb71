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
