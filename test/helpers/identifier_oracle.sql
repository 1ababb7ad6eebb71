-- identifier_oracle.sql: an independent, slow SQL implementation of the
-- check digits, and generators of valid identifiers, used as a test oracle
-- by the pgTAP suites.  Loaded inside each test's transaction.
CREATE SCHEMA oracle;

-- Luhn over a string of digits: weights 2,1,2,... from the right, digit sums.
CREATE FUNCTION oracle.luhn(body text) RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT (10 - sum(CASE WHEN (length(body) - i) % 2 = 0
                          THEN (substr(body, i, 1)::int * 2) / 10 + (substr(body, i, 1)::int * 2) % 10
                          ELSE substr(body, i, 1)::int END) % 10) % 10
    FROM generate_series(1, length(body)) AS i
$$;

-- My Number: weights 6,5,4,3,2,7,6,5,4,3,2; r = sum mod 11; 0 if r <= 1 else 11 - r.
CREATE FUNCTION oracle.my_number_check(body text) RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN s % 11 <= 1 THEN 0 ELSE 11 - s % 11 END
    FROM (SELECT sum(substr(body, i, 1)::int * (ARRAY[6,5,4,3,2,7,6,5,4,3,2])[i]) AS s
          FROM generate_series(1, 11) AS i) AS t
$$;

CREATE FUNCTION oracle.digits(n int) RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT string_agg((floor(random() * 10))::int::text, '') FROM generate_series(1, n)
$$;

CREATE FUNCTION oracle.pick(a text[]) RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT a[1 + floor(random() * array_length(a, 1))::int]
$$;

CREATE FUNCTION oracle.pref() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT lpad((1 + floor(random() * 47))::int::text, 2, '0')
$$;

-- A random valid identifier of the given type, as text (not always canonical:
-- 国保 numbers come in both their 6- and 8-digit forms).
CREATE FUNCTION oracle.valid(kind text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    b text;
BEGIN
    LOOP
        CASE kind
        WHEN 'my_number' THEN
            b := oracle.digits(11);
            b := b || oracle.my_number_check(b);
        WHEN 'insurer_number' THEN
            b := oracle.pick(ARRAY['', '00', '01', '02', '03', '04', '06', '07', '31', '32', '33',
                                   '34', '39', '63', '67', '72', '73', '74', '75'])
                 || oracle.pref() || oracle.digits(3);
            b := b || oracle.luhn(b);
        WHEN 'public_payer_number' THEN
            b := (10 + floor(random() * 90))::int::text || oracle.pref() || oracle.digits(3);
            b := b || oracle.luhn(b);
        WHEN 'recipient_number' THEN
            b := oracle.digits(6);
            b := b || oracle.luhn(b);
        WHEN 'institution_code' THEN
            b := oracle.digits(6);
            b := b || oracle.luhn(b);
            IF random() < 0.5 THEN
                b := oracle.pref() || oracle.pick(ARRAY['1', '3', '4', '6']) || b;
            END IF;
        WHEN 'card_branch_number' THEN
            RETURN oracle.digits(2);
        ELSE    -- insured_branch_number, link_number, pmh_id
            b := oracle.digits(15);
            b := b || oracle.luhn(b);
        END CASE;
        EXIT WHEN b !~ '^0+$' AND right(b, 7) <> '0000000';
    END LOOP;
    RETURN b;
END
$$;

-- The canonical printed form the oracle expects for a valid text.
CREATE FUNCTION oracle.canonical(kind text, t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN kind = 'insurer_number' AND t ~ '^00' THEN substr(t, 3) ELSE t END
$$;

-- Try a cast; return the SQLSTATE and the whole error text, or NULL when it works.
CREATE FUNCTION oracle.try_cast(kind text, t text, OUT state text, OUT message text)
LANGUAGE plpgsql AS $$
DECLARE
    m text; d text; h text; c text;
BEGIN
    EXECUTE format('SELECT %L::onshikaku.%I', t, kind);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, m = MESSAGE_TEXT,
        d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    message := concat_ws(' | ', m, d, h);
END
$$;

-- Random strings: digits, other ASCII, full-width digits, any Unicode, odd lengths.
CREATE FUNCTION oracle.noise() RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT string_agg(CASE floor(random() * 5)::int
                        WHEN 0 THEN chr(48 + floor(random() * 10)::int)
                        WHEN 1 THEN chr(32 + floor(random() * 95)::int)
                        WHEN 2 THEN chr(65296 + floor(random() * 10)::int)
                        WHEN 3 THEN chr(1 + floor(random() * 55000)::int)
                        ELSE chr(48 + floor(random() * 10)::int) END, '')
    FROM generate_series(0, floor(random() * 20)::int)
$$;
