-- The identifier types as a user sees them: input, output, errors, casts,
-- ordering and binary I/O.
SET search_path = onshikaku, public;

-- valid vectors, printed in canonical form
SELECT '123456789018'::my_number AS masked, my_number_digits('123456789018') AS digits;
SELECT my_number_digits(x::my_number) FROM (VALUES ('621498320257'), (' 983205673214 ')) v(x);
SELECT x, x::insurer_number AS canonical, houbetsu(x::insurer_number), prefecture(x::insurer_number)
FROM (VALUES ('01130012'), ('39131156'), ('33120015'), ('131011'), ('00131011')) v(x);
SELECT '00131011'::insurer_number = '131011'::insurer_number AS same_value;
SELECT '12130019'::public_payer_number, '1234566'::recipient_number,
       '1312347'::institution_code, '1311312347'::institution_code;
SELECT '00'::card_branch_number, '07'::card_branch_number, '99'::card_branch_number;
SELECT '1234567890123452'::insured_branch_number, '1234567890123452'::link_number,
       '1234567890123452'::pmh_id;

-- invalid input: 22P02, with a detail that names the problem, never the digits
\set VERBOSITY default
SELECT '12345678901'::my_number;
SELECT '621498320258'::my_number;
SELECT '62149832025x'::my_number;
SELECT '62149832025８'::my_number;
SELECT '000000000000'::my_number;
SELECT ''::my_number;
SELECT '01130013'::insurer_number;
SELECT '05130012'::insurer_number;
SELECT '01480012'::insurer_number;
SELECT '1311011'::insurer_number;
SELECT '01130012'::public_payer_number;
SELECT '1391312345'::institution_code;
SELECT '4811312345'::institution_code;
SELECT '7'::card_branch_number;
SELECT '1234567890123453'::pmh_id;
\set VERBOSITY terse

-- the never-raising checks
SELECT left(x, 16) AS x, length(x), my_number_is_valid(x), insurer_number_is_valid(x), pmh_id_is_valid(x)
FROM (VALUES ('123456789018'), ('131011'), ('1234567890123452'), (NULL), (''), ('abc'), (repeat('9', 1000))) v(x);

-- casts to and from text; my_number prints only its mask
SELECT '01130012'::insurer_number::text, '131011'::text::insurer_number,
       '123456789018'::my_number::text AS mask, CAST('07' AS card_branch_number)::text;

-- ordering and hashing behave like the numbers
SELECT x FROM (VALUES ('39131156'::insurer_number), ('131011'), ('01130012'), ('271007')) v(x) ORDER BY x;
SELECT count(DISTINCT x) FROM (VALUES ('131011'::insurer_number), ('00131011'), ('01130012')) v(x);
SET enable_sort = off;
SELECT x, count(*) FROM (VALUES ('131011'::insurer_number), ('00131011'), ('01130012')) v(x) GROUP BY x ORDER BY 1;
RESET enable_sort;

-- a my_number cannot be stored
CREATE TABLE keeps_numbers (n my_number);
CREATE TABLE keeps_arrays (n my_number[]);
CREATE TABLE keeps_nothing (n insurer_number);
ALTER TABLE keeps_nothing ADD COLUMN m my_number;
CREATE TABLE via_select AS SELECT '123456789018'::my_number AS n;
CREATE VIEW transient AS SELECT '123456789018'::my_number AS n;  -- views store nothing
SELECT * FROM transient;
DROP VIEW transient;

-- binary I/O round trip (COPY BINARY through a file in the data directory)
CREATE TABLE ids (i insurer_number, p public_payer_number, r recipient_number, c institution_code,
                  b card_branch_number, ib insured_branch_number, l link_number, h pmh_id);
INSERT INTO ids VALUES ('131011', '12130019', '1234566', '1311312347', '00', '1234567890123452',
                        '1234567890123452', '1234567890123452'),
                       ('01130012', '12130019', '1234566', '1312347', '99', '1234567890123452',
                        '1234567890123452', '1234567890123452');
SELECT current_setting('data_directory') || '/onshikaku_regress_ids.copy' AS copyfile \gset
COPY ids TO :'copyfile' (FORMAT binary);
CREATE TABLE ids_back (LIKE ids);
COPY ids_back FROM :'copyfile' (FORMAT binary);
SELECT * FROM ids_back;
-- a binary value that is not valid for the type is refused on the way in
COPY (SELECT 1234567890123453::bigint) TO :'copyfile' (FORMAT binary);
CREATE TABLE pmhs (h pmh_id);
COPY pmhs FROM :'copyfile' (FORMAT binary);
COPY (SELECT 1234567890123452::bigint) TO :'copyfile' (FORMAT binary);
COPY pmhs FROM :'copyfile' (FORMAT binary);
SELECT * FROM pmhs;
SELECT count(*) AS differing FROM (TABLE ids EXCEPT TABLE ids_back) d;
DROP TABLE ids, ids_back, keeps_nothing, pmhs;
