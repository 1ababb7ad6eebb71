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
