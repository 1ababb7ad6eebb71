-- Demo, part 1: the identifier types at work.
\set ECHO none
CREATE EXTENSION onshikaku;
SET search_path = onshikaku, public;
\echo
\echo '== 1. Identifiers are types: validated on the way in, printed in their official form =='
SELECT '39131156'::insurer_number AS "後期高齢者 (法別39)",
       '01130012'::insurer_number AS "協会けんぽ (法別01)",
       '00131011'::insurer_number AS "国保, given with 8 digits",
       '1311312347'::institution_code AS "医療機関コード (10-digit)",
       '07'::card_branch_number AS "枝番";
\echo
\echo '== 2. Structure is readable: 法別番号 and 都道府県 of an insurer number =='
SELECT n AS insurer_number, houbetsu(n) AS "法別", prefecture(n) AS "都道府県"
FROM (VALUES ('39131156'::insurer_number), ('01130012'), ('131011'), ('33120015')) v(n);
\echo
\echo '== 3. A My Number is validated, then never printed: only a granted function shows digits =='
SELECT '123456789018'::my_number AS "my_number prints as", my_number_is_valid('123456789018') AS valid,
       my_number_is_valid('123456789019') AS "wrong check digit";
\echo
\echo '== 4. Bad input is refused with 22P02 and a reason, never with the digits =='
\set VERBOSITY default
\set ON_ERROR_STOP 0
SELECT '123456789019'::my_number;
SELECT '62149832025８'::my_number;
SELECT '01480012'::insurer_number;
\set ON_ERROR_STOP 1
\echo
\echo '== 5. Validate a whole column without raising: *_is_valid(text) =='
SELECT x AS input, insurer_number_is_valid(x) AS "insurer_number?", pmh_id_is_valid(x) AS "pmh_id?"
FROM (VALUES ('131011'), ('131012'), ('1234567890123452'), ('abc'), (NULL)) v(x);
