-- The flows: issuance invariants, confirmation, the PMH flow, agency codes
-- and provision, identity checks, rights, and bad input (right SQLSTATE,
-- nothing written, no personal number in any message).
\ir ../helpers/tap_prelude.sql
SELECT plan(127);

SELECT register_insurer('01130012', 'tap 協会けんぽ', 'kyokai_kenpo') AS a \gset
SELECT register_insurer('39131156', 'tap 後期広域', 'koki_koreisha') AS b \gset
SELECT register_insurer('131011', 'tap 市町村国保', 'shichoson_kokuho') AS c \gset
SELECT register_insurer(NULL, 'tap 福祉事務所', 'seikatsu_hogo', '12131009') AS w \gset

CREATE ROLE tap_clerk NOLOGIN IN ROLE onshikaku_insurer, onshikaku_number_handler;   -- acts for a, b, c, w
CREATE ROLE tap_viewer NOLOGIN IN ROLE onshikaku_insurer;                            -- a, no numbers
CREATE ROLE tap_other NOLOGIN IN ROLE onshikaku_insurer, onshikaku_number_handler;   -- b only
CREATE ROLE tap_oqs NOLOGIN IN ROLE onshikaku_oqs_feed;
CREATE ROLE tap_pmh NOLOGIN IN ROLE onshikaku_pmh_gateway;
\o /dev/null
SELECT grant_insurer('tap_clerk', i) FROM unnest(ARRAY[:a, :b, :c, :w]) i;
SELECT grant_insurer('tap_viewer', :a), grant_insurer('tap_other', :b);
\o
CREATE TEMP TABLE ids AS SELECT :a AS a, :b AS b, :c AS c, :w AS w;
GRANT SELECT ON ids TO PUBLIC;
-- My Numbers of the suite
CREATE TEMP TABLE nums AS SELECT i, oracle.valid('my_number') AS n FROM generate_series(1, 200) i;
GRANT SELECT ON nums TO PUBLIC;
CREATE FUNCTION pg_temp.num(integer) RETURNS text LANGUAGE sql AS $$ SELECT n FROM nums WHERE i = $1 $$;
GRANT EXECUTE ON FUNCTION pg_temp.num(integer) TO PUBLIC;
CREATE FUNCTION pg_temp.mn(integer) RETURNS onshikaku.my_number LANGUAGE sql AS $$ SELECT n::onshikaku.my_number FROM nums WHERE i = $1 $$;
GRANT EXECUTE ON FUNCTION pg_temp.mn(integer) TO PUBLIC;
-- the message, detail and hint of a failing statement
CREATE FUNCTION pg_temp.message_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE m text; d text; h text;
BEGIN
    EXECUTE q;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN concat_ws(' | ', m, d, h);
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.message_of(text) TO PUBLIC;
-- rows of this session's temporary tables holding a My Number of the suite in clear
CREATE FUNCTION pg_temp.rows_holding_clear() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE t regclass; n bigint; total bigint := 0;
BEGIN
    FOR t IN SELECT c.oid FROM pg_class c WHERE c.relnamespace = pg_my_temp_schema() AND c.relkind = 'r'
             AND c.relname NOT IN ('nums') LOOP
        EXECUTE format('SELECT count(*) FROM %s x WHERE EXISTS (SELECT FROM nums WHERE strpos(x::text, n) > 0)', t) INTO n;
        total := total + n;
    END LOOP;
    RETURN total;
END $$;
CREATE FUNCTION pg_temp.rows() RETURNS bigint LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM onshikaku.qualification) + (SELECT count(*) FROM onshikaku.card)
         + (SELECT count(*) FROM onshikaku.person) + (SELECT count(*) FROM onshikaku.registration_zone)
         + (SELECT count(*) FROM onshikaku.card_branch_issue) + (SELECT count(*) FROM onshikaku.person_enrolment) $$;

-- ---- enrolment and the 被保険者枝番 -------------------------------------------------------
SET onshikaku.acting_insurer = :a;   -- tap_clerk reads insurer a's rows in this suite
SET ROLE tap_clerk;
CREATE TEMP TABLE e1 AS
SELECT * FROM enroll_member(:a, pg_temp.mn(1), '1001', '2020-04-01', '1970-01-01', card_symbol => 'K1',
                            name_on_card => '鈴木一郎', sex => 1::smallint, address => '札幌市中央区',
                            postcode => '0600001', copay_ratio => 30::smallint);
SELECT is((SELECT card_branch::text FROM e1), '00', 'the insured person gets 枝番 00');
SELECT ok(NOT (SELECT reused_insured_branch_number FROM e1), 'a first enrolment issues a new 被保険者枝番');
SELECT ok(insured_branch_number_is_valid((SELECT insured_branch_number::text FROM e1))
          AND link_number_is_valid((SELECT link_number::text FROM e1)), 'issued numbers carry a valid Luhn check digit');
SELECT lives_ok(format('SELECT record_loss(%s, %s, %L, 1::smallint)', :a, (SELECT qualification_id FROM e1), '2022-04-01'),
                'a loss is recorded');
CREATE TEMP TABLE e2 AS
SELECT * FROM enroll_member(:a, pg_temp.mn(1), '1001', '2023-04-01', '1970-01-01', card_symbol => 'K1');
SELECT ok((SELECT reused_insured_branch_number FROM e2)
          AND (SELECT insured_branch_number FROM e2) = (SELECT insured_branch_number FROM e1),
          're-enrolling with the same insurer gets the same 被保険者枝番 back (001:L949)');
SELECT is((SELECT card_branch::text FROM e2), '00', '... and the same card 枝番');
CREATE TEMP TABLE e3 AS
SELECT * FROM enroll_member(:b, pg_temp.mn(1), '77', '2023-04-01', '1970-01-01');
SELECT ok((SELECT insured_branch_number FROM e3) <> (SELECT insured_branch_number FROM e1)
          AND (SELECT link_number FROM e3) = (SELECT link_number FROM e1),
          'another insurer: another 被保険者枝番, the same national link number');
GRANT SELECT ON e1, e2, e3 TO PUBLIC;
RESET ROLE;
SELECT is((SELECT count(*) FROM person WHERE my_number_bi = blind_index_of(pg_temp.num(1)::my_number)), 1::bigint,
          'one person row (link number) per individual nationally');
SET ROLE tap_clerk;
SELECT is((SELECT count(DISTINCT (enroll_member(:a, pg_temp.mn(i), (5000 + i)::text, '2024-04-01',
                                                '1990-01-01')).insured_branch_number::text)
           FROM generate_series(10, 59) i), 50::bigint, '50 people: 50 distinct 被保険者枝番');

-- ---- card 枝番 --------------------------------------------------------------------------
SELECT is((SELECT string_agg((enroll_member(:a, pg_temp.mn(i), '2001', '2024-04-01', '1980-01-01', card_symbol => 'F',
                                            insured_or_dependent => CASE WHEN i = 60 THEN 1 ELSE 2 END::smallint)
                             ).card_branch::text, ',' ORDER BY i)
           FROM generate_series(60, 63) i), '00,01,02,03', 'a household: 00 for the insured person, then 01, 02, 03');
SELECT lives_ok(format('SELECT record_loss(%s, (SELECT qualification_id FROM qualification WHERE insurer_id = %s AND card_symbol = ''F'' AND card_branch = ''01''), ''2024-10-01'', 2::smallint)', :a, :a),
                'the 01 dependent loses the qualification');
SELECT is((enroll_member(:a, pg_temp.mn(64), '2001', '2024-11-01', '2010-01-01', card_symbol => 'F',
                         insured_or_dependent => 2::smallint)).card_branch::text, '04',
          'a new dependent never gets the lost person''s 01');
SELECT is((enroll_member(:a, pg_temp.mn(61), '2001', '2025-01-01', '1980-01-01', card_symbol => 'F',
                         insured_or_dependent => 2::smallint)).card_branch::text, '01',
          'the lost person coming back gets 01 again');
SELECT is((enroll_member(:a, pg_temp.mn(65), '2002', '2024-04-01', '1980-01-01', card_symbol => 'F',
                         insured_or_dependent => 2::smallint)).card_branch::text, '01',
          'a card without an insured person yet: a dependent starts at 01 (00 is kept)');
SELECT is((SELECT count(*) FROM (SELECT enroll_member(:a, pg_temp.mn(i), '3001', '2024-04-01', '1980-01-01',
                                                      insured_or_dependent => 2::smallint) FROM generate_series(66, 164 - 1) i) s),
          98::bigint, '98 dependents on one card');
SELECT is(pg_temp.state_of(format('SELECT enroll_member(%s, %L, ''3001'', ''2024-04-01'', ''1980-01-01'', insured_or_dependent => 2::smallint)',
                                  :a, pg_temp.num(2))), NULL, 'the 99th dependent gets 99');
SELECT is(pg_temp.state_of(format('SELECT enroll_member(%s, %L, ''3001'', ''2024-04-01'', ''1980-01-01'', insured_or_dependent => 2::smallint)',
                                  :a, pg_temp.num(3))), '54000', 'a 100th dependent: every 枝番 is in use (54000)');
SELECT is(pg_temp.state_of(format('SELECT enroll_member(%s, %L, ''3001'', ''2024-04-01'', ''1980-01-01'')',
                                  :a, pg_temp.num(3))), NULL, '... while the insured person still gets 00');
RESET ROLE;
SELECT is((SELECT count(*) FROM (SELECT insurer_id, card_symbol, card_number, card_branch FROM card_branch_issue
                                 GROUP BY 1, 2, 3, 4 HAVING count(DISTINCT link_number::text) > 1) s), 0::bigint,
          'no 枝番 was ever given to two people');

-- ---- bulk enrolment: the same rules, set-based ------------------------------------------------
-- first, a caller plants a table named like the work table of 0.3.0, with a trigger
SET ROLE tap_clerk;
CREATE TEMP TABLE planted_fired (who text);
GRANT ALL ON planted_fired TO PUBLIC;
CREATE TEMP TABLE osk_bulk (ordinal bigint);
CREATE FUNCTION pg_temp.planted() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO planted_fired VALUES (current_user); RETURN NEW; END $$;
CREATE TRIGGER planted BEFORE INSERT OR UPDATE ON osk_bulk FOR EACH ROW EXECUTE FUNCTION pg_temp.planted();
CREATE TEMP TABLE e4 AS
SELECT * FROM enroll_member(:b, pg_temp.mn(107), '9009', '2020-04-01', '1970-01-01', lost_on => '2021-04-01',
                            loss_reason => 1::smallint);
CREATE TEMP TABLE bulk AS
SELECT * FROM enroll_members(:b, ARRAY[
    ROW(pg_temp.num(100), '9001', '2024-04-01', '1960-01-01', 'B', 1, '本人', NULL, 1, NULL, NULL, NULL, NULL, NULL, 10, NULL, false),
    ROW(pg_temp.num(101), '9001', '2024-04-01', '1962-01-01', 'B', 2, '家族', NULL, 2, NULL, NULL, NULL, NULL, NULL, 10, NULL, false),
    ROW(pg_temp.num(102), '9001', '2024-04-01', '1990-01-01', 'B', 2, '家族', NULL, 1, NULL, NULL, NULL, NULL, NULL, 10, NULL, false),
    ROW(pg_temp.num(107), '9002', '2025-04-01', '1970-01-01', 'B', 1, '再加入', NULL, 1, NULL, NULL, NULL, NULL, NULL, 10, NULL, false)
  ]::member_input[]);
SELECT is((SELECT string_agg(card_branch::text, ',' ORDER BY ordinal) FROM bulk), '00,01,02,00',
          'bulk: 00 for the insured person, 01 and 02 for the household, 00 on another card');
SELECT ok((SELECT reused_insured_branch_number AND insured_branch_number = (SELECT insured_branch_number FROM e4)
           AND link_number = (SELECT link_number FROM e4) FROM bulk WHERE ordinal = 4),
          'bulk: a person known to the insurer gets the 被保険者枝番 back, and the national link number');
SELECT is(pg_temp.state_of(format('SELECT enroll_members(%s, ARRAY[ROW(%L, ''9003'', ''2024-04-01'', ''1960-01-01'', NULL, 1, NULL, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false), ROW(''123456789017'', ''9003'', ''2024-04-01'', ''1960-01-01'', NULL, 1, NULL, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false)]::onshikaku.member_input[])', :b, pg_temp.num(103))),
          '22023', 'bulk: an invalid My Number fails the whole call (22023)');
SELECT alike(pg_temp.message_of(format('SELECT enroll_members(%s, ARRAY[ROW(%L, ''9003'', ''2024-04-01'', ''1960-01-01'', NULL, 1, NULL, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false), ROW(''123456789017'', ''9003'', ''2024-04-01'', ''1960-01-01'', NULL, 1, NULL, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false)]::onshikaku.member_input[])', :b, pg_temp.num(103))),
          'member 2: %', '... naming the member by position, not by number');
SELECT is(pg_temp.state_of(format('SELECT enroll_members(%s, ARRAY[ROW(%L, ''9003'', ''2024-04-01'', ''1960-01-01'', NULL, 1, NULL, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false)]::onshikaku.member_input[])', :b, pg_temp.num(100))),
          '23P01', 'bulk: an overlapping qualification (23P01)');
SELECT is(pg_temp.state_of(format('SELECT enroll_members(%s, ARRAY[ROW(%L, ''9004'', ''2024-04-01'', ''1960-01-01'', NULL, 1, NULL, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false), ROW(%L, ''9004'', ''2024-04-01'', ''1960-01-01'', NULL, 1, NULL, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false)]::onshikaku.member_input[])', :b, pg_temp.num(104), pg_temp.num(104))),
          '23P01', 'bulk: the same person twice in one call (23P01)');
SET ROLE tap_other;
SELECT is(pg_temp.state_of(format('SELECT enroll_members(%s, ARRAY[ROW(%L, ''9005'', ''2024-04-01'', ''1960-01-01'', NULL, 1, NULL, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false)]::onshikaku.member_input[])', :a, pg_temp.num(105))),
          '42501', 'bulk: only for an insurer the caller acts for');
SET ROLE tap_clerk;
SELECT is((SELECT count(*) FROM enroll_members(:b, ARRAY[ROW(pg_temp.num(106), '9006', '2024-04-01', '1960-01-01', NULL, 1, NULL, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false)]::member_input[])),
          1::bigint, 'bulk: a table named like the old work table (osk_bulk), planted by the caller, is not used');
SELECT is((SELECT count(*) FROM planted_fired), 0::bigint, '... and its trigger never ran with the flow''s rights');
-- the C path's own rules (bulk_enrolment.c), call after call in one session
-- (112 was enrolled with insurer a above, never with b)
RESET ROLE;
SELECT link_number AS known_link FROM onshikaku.person WHERE my_number_bi = onshikaku.blind_index_of(pg_temp.mn(112)) \gset
SET ROLE tap_clerk;
CREATE TEMP TABLE bulk2 AS
SELECT * FROM enroll_members(:b, ARRAY[
    ROW(pg_temp.num(108), '9001', '2024-04-01', '2015-01-01', 'B', 2, '追加', NULL, 1, NULL, NULL, NULL, NULL, NULL, 10, NULL, false),
    ROW(pg_temp.num(109), '9010', '2024-04-01', '1980-01-01', 'A-ー・1', 1, '記号', NULL, 2, NULL, '1000001', '13101', NULL, NULL, 30, NULL, false),
    ROW(pg_temp.num(112), '9011', '2024-04-01', '1970-01-01', NULL, NULL, '全国既知', NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
  ]::member_input[]);
SELECT is((SELECT card_branch::text FROM bulk2 WHERE ordinal = 1), '03',
          'bulk: a dependent added to a card in use gets the next free 枝番 (03 after 00, 01, 02)');
RESET ROLE;
SELECT is((SELECT q.card_symbol || ' ' || q.card_number FROM onshikaku.qualification q WHERE q.insurer_id = :b
           AND q.qualification_id = (SELECT qualification_id FROM bulk2 WHERE ordinal = 2)), 'A-ー・1 9010',
          'bulk: a 記号 with ー and ・ is taken');
SET ROLE tap_clerk;
SELECT ok((SELECT NOT reused_insured_branch_number AND card_branch::text = '00'
                  AND link_number = :'known_link'::onshikaku.link_number
           FROM bulk2 WHERE ordinal = 3),
          'bulk: a person known nationally, new to the insurer: the national 紐付番号, a new 被保険者枝番; NULL 本人/家族 means 本人 (00)');
SELECT is((SELECT count(*) FROM enroll_members(:b, ARRAY[
    ROW(pg_temp.num(110), '9012', '2024-04-01', '1980-01-01', 'B-ー', 1, NULL, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false)
  ]::member_input[])), 1::bigint, 'bulk: the next call in the session checks its 記号 the same way');
SELECT alike(pg_temp.message_of(format('SELECT enroll_members(%s, ARRAY[ROW(%L, ''9013'', ''2024-04-01'', ''1980-01-01'', ''B*'', 1, NULL, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false)]::onshikaku.member_input[])', :b, pg_temp.num(111))),
             'member 1: card_symbol may hold up to 38 digits, letters, hyphens, ー and ・ |%', 'bulk: a 記号 with another character is refused');
SELECT alike(pg_temp.message_of(format('SELECT enroll_members(%s, ARRAY[ROW(%L, ''9013'', ''2024-04-01'', ''1980-01-01'', %L, 1, NULL, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false)]::onshikaku.member_input[])', :b, pg_temp.num(111), repeat('ー', 39))),
             'member 1: card_symbol %', '... and so is one of 39 characters');
SELECT alike(pg_temp.message_of(format('SELECT enroll_members(%s, ARRAY[ROW(%L, ''9013'', ''2024-04-01'', ''1980-01-01'', NULL, 1, NULL, NULL, 1, NULL, ''100-0001'', NULL, NULL, NULL, NULL, NULL, false)]::onshikaku.member_input[])', :b, pg_temp.num(111))),
             'member 1: postcode must be 7 digits |%', 'bulk: a postcode of another form is refused');
RESET ROLE;
SELECT is(pg_temp.rows_holding_clear(), 0::bigint, 'bulk: no work table keeps a My Number in clear');

-- ---- bad input: right SQLSTATE, nothing written --------------------------------------------
SELECT pg_temp.rows() AS before \gset
SET ROLE tap_clerk;
SELECT is(pg_temp.state_of(format('SELECT enroll_member(999999, %L, ''1'', ''2024-04-01'', ''1980-01-01'')', pg_temp.num(4))),
          '42704', 'unknown insurer: 42704');
SELECT is(pg_temp.state_of(format('SELECT enroll_member(%s, ''123456689017'', ''1'', ''2024-04-01'', ''1980-01-01'')', :a)),
          '22P02', 'a My Number with a wrong check digit: 22P02');
SELECT is(pg_temp.state_of(format('SELECT enroll_member(%s, %L, ''1'', ''2024-04-01'', ''2025-01-01'')', :a, pg_temp.num(4))),
          '22023', 'acquired before birth: 22023');
SELECT is(pg_temp.state_of(format('SELECT enroll_member(%s, %L, ''1'', ''2024-04-01'', ''1980-01-01'', lost_on => ''2024-01-01'', loss_reason => 1::smallint)', :a, pg_temp.num(4))),
          '22023', 'lost before acquired: 22023');
SELECT is(pg_temp.state_of(format('SELECT enroll_member(%s, %L, ''1'', ''2024-04-01'', ''1980-01-01'', lost_on => ''2024-04-01'', loss_reason => 1::smallint)', :a, pg_temp.num(4))),
          '22023', 'lost on the day of acquisition (a period of no day): 22023');
SELECT is(pg_temp.state_of(format('SELECT enroll_member(%s, NULL, ''1'', ''2024-04-01'', ''1980-01-01'')', :a)),
          '22004', 'no My Number: 22004');
SELECT is(pg_temp.state_of(format('SELECT enroll_member(%s, %L, ''1 2'', ''2024-04-01'', ''1980-01-01'')', :a, pg_temp.num(4))),
          '22023', 'a card number with a space: 22023');
SELECT is(pg_temp.state_of(format('SELECT enroll_member(%s, %L, ''1'', ''2024-04-01'', ''1980-01-01'', postcode => ''060-0001'')', :a, pg_temp.num(4))),
          '22023', 'a postcode with a hyphen: 22023');
SELECT is(pg_temp.state_of(format('SELECT enroll_member(%s, %L, ''1001'', ''2024-01-01'', ''1970-01-01'', card_symbol => ''K1'')', :a, pg_temp.num(1))),
          '23P01', 'an overlapping qualification with the same insurer: 23P01');
SELECT is(pg_temp.state_of(format('SELECT enroll_member(%s, %L, ''1'', ''2024-04-01'', ''1980-01-01'')', :w, pg_temp.num(4))),
          '22023', 'a 生活保護 enrolment without 受給者番号: 22023');
RESET ROLE;
SELECT is(pg_temp.rows(), :before::bigint, 'none of the refused enrolments wrote anything');
SELECT is((SELECT count(*) FROM (VALUES
             (pg_temp.message_of(format('SELECT enroll_member(%s, ''123456689017'', ''1'', ''2024-04-01'', ''1980-01-01'')', :a))),
             (pg_temp.message_of(format('SELECT enroll_member(%s, %L, ''1001'', ''2024-01-01'', ''1970-01-01'', card_symbol => ''K1'')', :a, pg_temp.num(1)))),
             (pg_temp.message_of(format('SELECT enroll_member(%s, %L, ''1'', ''2024-04-01'', ''2025-01-01'')', :a, pg_temp.num(4)))),
             (pg_temp.message_of(format('SELECT issue_pmh_id(%L)', '12345668901X')))) m(t)
           WHERE t IS NULL OR t ~ '[0-9]{11}' OR t ~ '[0-9a-f]{64}' OR t LIKE '%' || pg_temp.num(1) || '%'), 0::bigint,
          'error messages carry no personal number, no check digit and no blind index');

-- ---- changes and losses ---------------------------------------------------------------------
SET ROLE tap_clerk;
SELECT is(record_change(:a, (SELECT qualification_id FROM e2), '{"address": "札幌市北区", "postcode": "0010010"}', '2024-06-01'),
          2, 'a change returns the new 履歴通番');
RESET ROLE;
SELECT is((SELECT (address, postcode, address_changed_on, postcode_changed_on)::text FROM qualification
           WHERE qualification_id = (SELECT qualification_id FROM e2)),
          '(札幌市北区,0010010,2024-06-01,2024-06-01)', '... and records each item with its change date');
SET ROLE tap_clerk;
SELECT is(pg_temp.state_of(format('SELECT record_change(%s, %s, ''{"my_number": "1"}'', ''2024-06-01'')', :a, (SELECT qualification_id FROM e2))),
          '22023', 'an item that cannot be changed: 22023');
SELECT is(pg_temp.state_of(format('SELECT record_change(%s, %s, ''{"sex1": 7}'', ''2024-06-01'')', :a, (SELECT qualification_id FROM e2))),
          '22023', 'a bad value: 22023');
SELECT is(pg_temp.message_of(format('SELECT record_change(%s, %s, %L, ''2024-06-01'')', :a, (SELECT qualification_id FROM e2),
                                    jsonb_build_object('birth_date', pg_temp.num(7)))) ~ pg_temp.num(7), false,
          'a value of the wrong type: the message does not quote it');
SELECT is(pg_temp.message_of(format('SELECT record_change(%s, %s, %L, ''2024-06-01'')', :a, (SELECT qualification_id FROM e2),
                                    jsonb_build_object(pg_temp.num(7), 1))) ~ pg_temp.num(7), false,
          'an unknown key: the message does not quote it');
SELECT is(pg_temp.state_of(format('SELECT record_change(%s, %s, ''{"address": "x"}'', ''2019-01-01'')', :a, (SELECT qualification_id FROM e2))),
          '22023', 'a change dated before acquisition: 22023');
SELECT is(pg_temp.state_of(format('SELECT record_loss(%s, %s, ''2024-01-01'', 1::smallint)', :a, (SELECT qualification_id FROM e1))),
          '55000', 'losing a lost qualification again: 55000');
SELECT is(pg_temp.state_of(format('SELECT add_certificate(%s, %s, ''limit_certificate'', ''2022-05-01'')', :a, (SELECT qualification_id FROM e1))),
          '22023', 'a certificate starting after the loss: 22023');
SELECT is(pg_temp.state_of(format('SELECT add_certificate(%s, %s, ''limit_certificate'', ''2021-05-01'', ''2022-06-01'')', :a, (SELECT qualification_id FROM e1))),
          '22023', 'a certificate valid past the loss: 22023');
SELECT is(pg_temp.state_of(format('SELECT record_loss(%s, 987654321, ''2024-01-01'', 1::smallint)', :a)),
          'P0002', 'an unknown qualification: P0002');

-- ---- rights ----------------------------------------------------------------------------------
SET ROLE tap_viewer;
SELECT is(pg_temp.state_of(format('SELECT enroll_member(%s, %L, ''9'', ''2024-04-01'', ''1980-01-01'')', :a, pg_temp.num(5))),
          '42501', 'enrolment needs the number-handling right');
SELECT is(pg_temp.state_of(format('INSERT INTO onshikaku.qualification (insurer_id, qualification_id, insured_branch_number, link_number, birth_date, card_number, card_branch, acquired_on, insured_or_dependent) VALUES (%s, 1, ''0000000000000018'', ''0000000000000018'', ''1980-01-01'', ''1'', ''00'', ''2024-04-01'', 1)', :a)),
          '42501', 'no one writes the tables directly');
SELECT is(pg_temp.state_of('SELECT confirm_qualification(''01130012'', ''K1'', ''1001'', ''00'', ''1970-01-01'')'),
          '42501', 'an insurer role cannot call the OQS confirmation');
SELECT is(pg_temp.state_of('SELECT * FROM confirm_qualification(''01130012'', ''K1'', ''1001'', ''00'', ''1970-01-01'')'),
          '42501', '... in the table form either');
SELECT is(pg_temp.state_of('SELECT confirm_qualification_row(''01130012'', ''K1'', ''1001'', ''00'', ''1970-01-01'')'),
          '42501', '... nor in the composite form');
SELECT is(pg_temp.state_of(format('SELECT issue_pmh_id(%L)', pg_temp.num(1))), '42501', 'nor the PMH flow');
RESET ROLE;
CREATE FUNCTION pg_temp.lend_rights() RETURNS text LANGUAGE sql SECURITY DEFINER AS
    $$ SELECT (onshikaku.confirm_qualification('01130012', 'K1', '1001', '00', '1970-01-01')).status $$;
GRANT EXECUTE ON FUNCTION pg_temp.lend_rights() TO PUBLIC;
SET ROLE tap_viewer;
SELECT is(pg_temp.state_of('SELECT pg_temp.lend_rights()'), '42501',
          'a superuser''s SECURITY DEFINER wrapper lends no right to confirm (the outer user is judged)');
SET ROLE tap_other;
SELECT is(pg_temp.state_of(format('SELECT enroll_member(%s, %L, ''9'', ''2024-04-01'', ''1980-01-01'')', :a, pg_temp.num(5))),
          '42501', 'a role acting for another insurer: 42501');
SELECT is(pg_temp.state_of(format('SELECT record_loss(%s, %s, ''2025-01-01'', 1::smallint)', :a, (SELECT qualification_id FROM e2))),
          '42501', '... for every flow');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_proc WHERE pronamespace = 'onshikaku'::regnamespace AND prosecdef
           AND NOT coalesce(proconfig::text LIKE '%search_path=pg_catalog, onshikaku, pg_temp%', false)), 0::bigint,
          'every SECURITY DEFINER function pins search_path (pg_catalog first, pg_temp last)');
SELECT is((SELECT count(*) FROM pg_proc WHERE pronamespace = 'onshikaku'::regnamespace AND prosecdef
           AND has_function_privilege('public', oid, 'EXECUTE')), 0::bigint,
          'no SECURITY DEFINER function is executable by PUBLIC');

-- ---- confirmation ------------------------------------------------------------------------------
SET ROLE tap_clerk;
SELECT add_certificate(:a, (SELECT qualification_id FROM e2), 'limit_certificate', '2023-04-01',
                       applicable_class => 'ア', long_term_admission_on => '2023-05-01') IS NOT NULL AS limit_added \gset
SELECT record_change(:b, (SELECT qualification_id FROM e3), '{"dv_nondisclosure": true, "address": "秘匿"}', '2024-01-01') AS dv \gset
SET ROLE tap_oqs;
SELECT is((confirm_qualification('01130012', 'K1', '1001', '00', '1970-01-01', '2024-07-01')).status, 'qualified',
          'by card on a date within the qualification: qualified');
SELECT is((confirm_qualification('01130012', 'K1', '1001', '00', '1970-01-01', '2022-07-01')).status, 'lost',
          'between a loss and the re-enrolment: lost');
SELECT is((confirm_qualification('01130012', 'K1', '1001', '00', '1970-01-01', '2019-07-01')).status, 'not_yet_qualified',
          'before acquisition: not_yet_qualified');
SELECT is((confirm_qualification('01130012', 'K1', '1001', '00', '1970-01-01', '2022-03-31')).status, 'qualified',
          'the day before the loss date: qualified');
SELECT is((confirm_qualification('01130012', 'K1', '1001', '00', '1970-01-01', '2022-04-01')).status, 'lost',
          'on the loss date (the first day without): lost');
SELECT is((confirm_qualification('01130012', 'K1', '1001', '00', '1970-01-02', '2024-07-01')).status, 'not_found',
          'a wrong birth date: not_found, as for a card that does not exist');
SELECT is((confirm_qualification('01130012', 'K1', '1001', '00', '1970-01-02', '2024-07-01')).name_on_card, NULL,
          '... and nothing of the person');
SELECT is((confirm_qualification('01130012', 'K9', '1001', '00', '1970-01-01', '2024-07-01')).status, 'not_found',
          'an unknown card: not_found');
SELECT is((confirm_qualification('06131015', 'K1', '1001', '00', '1970-01-01', '2024-07-01')).status, 'not_found',
          'an unregistered insurer: not_found');
SELECT is((SELECT (c.copay_ratio, c.address, c.limit_applicable_class, c.consent_items_withheld)::text
           FROM confirm_qualification('01130012', 'K1', '1001', '00', '1970-01-01', '2024-07-01') c),
          '(,札幌市北区,,t)', 'without consent: no 限度額 items (withheld)');
SELECT is((SELECT (c.limit_applicable_class, c.limit_long_term_admission_on, c.consent_items_withheld)::text
           FROM confirm_qualification('01130012', 'K1', '1001', '00', '1970-01-01', '2024-07-01', true) c),
          '(ア,2023-05-01,f)', 'with consent: the 限度額 items');
SELECT is((SELECT c.copay_ratio FROM confirm_qualification('01130012', 'F', '2001', '00', '1980-01-01', '2024-07-01') c),
          NULL::smallint, 'no copay ratio recorded: NULL');
SELECT is((SELECT (c.status, c.address, c.postcode, c.nondisclosure)::text
           FROM confirm_qualification('39131156', NULL, '77', '00', '1970-01-01', '2024-07-01') c),
          '(qualified,,,t)', 'DV support measures: the address is never disclosed');
SELECT is((SELECT array_agg(c::text) FROM confirm_qualification('01130012', 'K1', '1001', '00', '1970-01-01', '2024-07-01', true) c),
          ARRAY[confirm_qualification_row('01130012', 'K1', '1001', '00', '1970-01-01', '2024-07-01', true)::text],
          'the table form is one row, equal to the composite form');
SELECT is((SELECT count(*) FROM confirm_qualification('01130012', 'K9', '1001', '00', '1970-01-01', '2024-07-01')), 1::bigint,
          'not_found is a row too (the table form never answers with no row)');
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE l text; r text := ''; BEGIN
    FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP r := r || l || E'\n'; END LOOP; RETURN r; END $$;
SELECT unalike(pg_temp.plan_of($$SELECT * FROM onshikaku.confirm_qualification('01130012', 'K1', '1001', '00', '1970-01-01', '2024-07-01')$$),
              '%Function Scan%', 'SELECT * FROM confirm_qualification(…) is inlined: no Function Scan (no tuplestore per call)');
SELECT alike(pg_temp.plan_of($$SELECT * FROM onshikaku.confirm_qualification_row('01130012', 'K1', '1001', '00', '1970-01-01', '2024-07-01')$$),
            '%Function Scan%', '... which the same FROM use of the C function needs (the test can tell)');
SELECT is((SELECT string_agg(c.status || ':' || c.insurer_number::text, ',' ORDER BY c.insurer_number::text)
           FROM confirm_qualification_by_link((SELECT link_number FROM e1), '1970-01-01', '2024-07-01') c),
          'qualified:01130012,qualified:39131156', 'by link number: one answer per insurer qualifying on the date');
SELECT is((SELECT string_agg(c.status, ',') FROM confirm_qualification_by_link((SELECT link_number FROM e1), '1970-01-02', '2024-07-01') c),
          'not_found', 'by link number with a wrong birth date: not_found');
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_attribute a WHERE a.attrelid = 'onshikaku.confirmation'::regclass AND a.attnum > 0
           AND (a.atttypid IN ('encrypted'::regtype, 'blind_index'::regtype, 'my_number'::regtype, 'link_number'::regtype,
                               'insured_branch_number'::regtype, 'pmh_id'::regtype))), 0::bigint,
          'a confirmation answer has no personal number and no person key');

-- ---- the PMH flow ---------------------------------------------------------------------------------
SELECT pg_temp.rows() AS before \gset
SELECT count(*) AS logs_before FROM pmh_issuance_log \gset
SET ROLE tap_pmh;
CREATE TEMP TABLE p1 AS SELECT * FROM issue_pmh_id(pg_temp.num(1));
SELECT is((SELECT outcome::text FROM p1), 'issued', 'a known person: a PMH-ID is issued');
SELECT is((SELECT my_number FROM p1), pg_temp.num(1), '... returned with the My Number exactly as received');
SELECT ok(pmh_id_is_valid((SELECT pmh_id::text FROM p1)), '... with a valid check digit');
SELECT is((SELECT (outcome, pmh_id)::text FROM issue_pmh_id(pg_temp.num(1))),
          (SELECT ('already_issued', pmh_id)::text FROM p1), 'asked again: the same PMH-ID, already_issued');
SELECT is((SELECT (outcome, my_number, pmh_id)::text FROM issue_pmh_id(pg_temp.num(180))),
          ('(not_found,' || pg_temp.num(180) || ',)'), 'an unknown person: not_found');
SELECT is(pg_temp.state_of('SELECT issue_pmh_id(''12345668901'')'), '22P02', 'an invalid My Number: 22P02');
RESET ROLE;
SELECT is(pg_temp.rows(), :before::bigint, 'not_found and errors wrote nothing (no person, no enrolment)');
SELECT is((SELECT count(*) FROM pmh_issuance_log) - :logs_before, 1::bigint, 'one log row (紐付番号, PMH-ID) per issuance');
SELECT is((SELECT count(*) FROM qualification WHERE link_number = (SELECT link_number FROM e1)
           AND pmh_id IS DISTINCT FROM (SELECT pmh_id FROM p1)), 0::bigint,
          'the PMH-ID reaches every qualification row of the person (for the OQS feed)');
-- the received number is stored nowhere: no row of any table of the extension holds it
CREATE FUNCTION pg_temp.rows_holding(needle text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE t regclass; n bigint; total bigint := 0;
BEGIN
    FOR t IN SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'onshikaku'::regnamespace AND c.relkind = 'r' LOOP
        EXECUTE format('SELECT count(*) FROM %s x WHERE x::text LIKE %L', t, '%' || needle || '%') INTO n;
        total := total + n;
    END LOOP;
    RETURN total;
END $$;
SELECT is(pg_temp.rows_holding(pg_temp.num(1)), 0::bigint, 'no table of the extension holds the My Number in clear');

-- ---- agency codes, provision and inquiry ------------------------------------------------------------
SET ROLE tap_clerk;
SELECT record_agency_code(:a, (SELECT insured_branch_number FROM e1), 'AGENCY-CODE-1') AS x \gset
SELECT record_agency_code(:b, (SELECT insured_branch_number FROM e3), 'AGENCY-CODE-1') AS x \gset
RESET ROLE;
SELECT is((SELECT count(*) FROM agency_code WHERE link_number = (SELECT link_number FROM e1)), 1::bigint,
          'one agency code per person across insurers');
SELECT is((SELECT count(*) FROM agency_code_link WHERE link_number = (SELECT link_number FROM e1)), 2::bigint,
          '... linked from both insurers');
SET ROLE tap_clerk;
SELECT record_agency_code(:a, (SELECT insured_branch_number FROM e1), 'AGENCY-CODE-2', reissue => true) AS x \gset
RESET ROLE;
SELECT ok((SELECT reissue FROM agency_code WHERE link_number = (SELECT link_number FROM e1)), 'a reissue sets the reissue flag');
SELECT is(pg_temp.rows_holding('AGENCY-CODE'), 0::bigint, 'no agency code is stored in clear');
INSERT INTO provision_allow_list VALUES ('医療保険給付', '高額療養費の支給', '医療保険給付関係情報');
SET ROLE tap_clerk;
SELECT put_copy(:a, (SELECT insured_branch_number FROM e1), '医療保険給付関係情報', '{"給付": 1}') AS x \gset
SELECT is((provide_information(:a, (SELECT link_number FROM e1), '医療保険給付', '高額療養費の支給', '医療保険給付関係情報',
                               '○○市 福祉課', 'P-1')).outcome, 'provided', 'an allowed request with a copy: provided');
SELECT is((provide_information(:a, (SELECT link_number FROM e1), '医療保険給付', '別の手続', '医療保険給付関係情報',
                               '○○市 福祉課', 'P-2')).content, NULL, 'a request not on the allow-list: no content');
SELECT put_copy(:a, (SELECT insured_branch_number FROM e1), '医療保険給付関係情報', '{"給付": 2}', true) AS x \gset
SELECT is((provide_information(:a, (SELECT link_number FROM e1), '医療保険給付', '高額療養費の支給', '医療保険給付関係情報',
                               '○○市 福祉課', 'P-3')).outcome, 'held_for_manual_confirmation', 'a no-auto-response copy is held back');
SELECT record_change(:a, (SELECT qualification_id FROM e2), '{"opt_out": true}', '2024-08-01') AS x \gset
SELECT put_copy(:a, (SELECT insured_branch_number FROM e1), '医療保険給付関係情報', '{"給付": 3}', false) AS x \gset
SELECT is((provide_information(:a, (SELECT link_number FROM e1), '医療保険給付', '高額療養費の支給', '医療保険給付関係情報',
                               '○○市 福祉課', 'P-4')).outcome, 'held_for_manual_confirmation', 'a person who opted out is held back');
SELECT ok(record_inquiry(:a, (SELECT insured_branch_number FROM e1), '医療保険給付', '照会手続', '年金情報', '年金機構', 'Q-1') > 0,
          'an inquiry is recorded');
RESET ROLE;
SELECT is((SELECT string_agg(direction || ':' || coalesce(nondisclosure_code, '-'), ',' ORDER BY provision_id)
           FROM provision_log WHERE insurer_id = :a), 'provision:-,provision:NOT_ALLOWED,provision:MANUAL,provision:OPT_OUT,inquiry:-',
          'every provision or inquiry, answered or not, appends to the provision log');
SELECT ok((SELECT bool_and(agency_code IS NOT NULL) FROM provision_log WHERE insurer_id = :a),
          '... with the person''s agency code, encrypted');
SELECT is(pg_temp.state_of(format('UPDATE onshikaku.provision_log SET item_name = ''x'' WHERE insurer_id = %s', :a)),
          '42501', 'the provision log stays append-only');

-- ---- identity checks -----------------------------------------------------------------------------------
SET ROLE tap_clerk;
SELECT request_identity_check(:a, 'my_number', name => '鈴木一郎', birth_date => '1970-01-01', sex => 1::smallint,
                              address => '札幌市中央区') AS chk \gset
SELECT is(pg_temp.state_of(format('SELECT deliver_identity_check(%s, %s)', :a, :chk)), '55000',
          'a check without its result cannot be delivered');
SELECT record_identity_check_result(:a, :chk, my_number => pg_temp.mn(1)) AS x \gset
SELECT is((deliver_identity_check(:a, :chk)).my_number, pg_temp.num(1), 'delivery returns the result');
RESET ROLE;
SELECT is((SELECT count(*) FROM identity_check WHERE insurer_id = :a AND check_id = :chk), 0::bigint,
          '... and deletes the check in the same transaction (001:L5885)');
SELECT is((SELECT acting_role FROM access_log WHERE record_ref = 'identity_check:' || :a || ':' || :chk),
          'tap_clerk', 'the revealed My Number is in the access log, under the clerk who asked (not the flow''s owner)');
SET ROLE tap_clerk;
SELECT is(pg_temp.state_of(format('SELECT deliver_identity_check(%s, %s)', :a, :chk)), 'P0002', 'delivered once only');
SELECT is(pg_temp.state_of(format('SELECT request_identity_check(%s, ''basic4'', my_number => %L)', :c, pg_temp.num(1))),
          '0A000', '市町村国保 does not use identity checks (capability matrix)');
SELECT is(pg_temp.state_of(format('SELECT request_identity_check(%s, ''my_number'', name => ''x'')', :a)),
          '22023', 'a my_number request without the basic 4 facts: 22023');

-- ---- マイナポータル and 生活保護 -------------------------------------------------------------------------
SELECT is((SELECT (insurer_number, card_symbol, card_number, card_branch)::text
           FROM myportal_link(:a, (SELECT insured_branch_number FROM e1), '2024-07-01')),
          '(01130012,K1,1001,00)', 'マイナポータル link information: 保険者番号・記号・番号・枝番');
CREATE TEMP TABLE ew AS
SELECT * FROM enroll_member(:w, pg_temp.mn(185), NULL, '2024-04-01', '1950-01-01', recipient_number => '1234566');
SELECT is((SELECT (insurer_number, card_number, public_payer_number, recipient_number)::text
           FROM myportal_link(:w, (SELECT insured_branch_number FROM ew), '2024-07-01')),
          '(,,12131009,1234566)', '生活保護: 公費負担者番号・受給者番号');
RESET ROLE;
SELECT is(reveal((SELECT my_number FROM qualification WHERE qualification_id = (SELECT qualification_id FROM ew)),
                 NULL, 'qualification.my_number', 'tap', 'test'), pg_temp.num(185),
          '生活保護 My Numbers are under the national key (the body has no 保険者番号)');

-- ---- the insurance card copied on the qualification (0.4.0) ------------------------------------------
-- every confirmation of this suite's qualifications, with consent, on dates before, around and after
-- the losses, answered from the copy and then again with every copy switched off (the card rows)
SET ROLE tap_clerk;
SELECT qualification_id AS vq FROM enroll_member(:a, pg_temp.mn(171), '9030', '2024-04-01', '1980-01-01', card_symbol => 'V',
                                                 copay_ratio => 20::smallint, card_valid_to => '2024-12-31') \gset
RESET ROLE;
SELECT is((SELECT string_agg(coalesce((onshikaku.confirm_qualification_row('01130012', 'V', '9030', '00', '1980-01-01', d)).copay_ratio::text, '-'), ',' ORDER BY d)
           FROM unnest(ARRAY[date '2024-07-01', '2025-04-01']) d), '20,-',
          'a card that ends before the qualification: its copay ratio while valid, none after (from the copy)');
SELECT ok((SELECT count(*) FILTER (WHERE card_copied) > 10 AND count(*) FILTER (WHERE NOT card_copied) > 0
           FROM onshikaku.qualification),
          'enrolments copy their insurance card (card_copied), a certificate added clears it');
CREATE TEMP TABLE copied_answers AS
SELECT q.insurer_id, q.qualification_id, v.d,
       onshikaku.confirm_qualification_row(i.insurer_number, q.card_symbol, q.card_number, q.card_branch,
                                           q.birth_date, v.d, true)::text AS answer
FROM onshikaku.qualification q JOIN onshikaku.insurer i USING (insurer_id)
CROSS JOIN (VALUES (date '2019-07-01'), ('2021-03-31'), ('2022-03-31'), ('2022-04-01'), ('2024-07-01'),
                   ('2025-04-01'), ('2030-01-01')) v(d)
WHERE i.insurer_number IS NOT NULL AND NOT q.deleted;
SAVEPOINT no_copies;
UPDATE onshikaku.qualification SET card_copied = false;
SELECT is((SELECT count(*) FROM copied_answers a JOIN onshikaku.qualification q USING (insurer_id, qualification_id)
           JOIN onshikaku.insurer i USING (insurer_id)
           WHERE a.answer IS DISTINCT FROM onshikaku.confirm_qualification_row(i.insurer_number, q.card_symbol,
                     q.card_number, q.card_branch, q.birth_date, a.d, true)::text), 0::bigint,
          'the copy answers as the card rows do, for every qualification on seven dates');
SELECT ok((SELECT count(*) FILTER (WHERE answer LIKE '(qualified,%') > 50 FROM copied_answers),
          '... among them more than 50 qualified answers (the ones that read the card)');
ROLLBACK TO no_copies;
SELECT is((SELECT card_valid_to FROM onshikaku.qualification q WHERE q.insurer_id = :a
           AND q.qualification_id = (SELECT qualification_id FROM e1 LIMIT 1)),
          (SELECT valid_to FROM onshikaku.card c WHERE c.insurer_id = :a
           AND c.qualification_id = (SELECT qualification_id FROM e1 LIMIT 1) AND c.kind = 'insurance_card'),
          'record_loss() ends the copy as it ends the card');

SELECT * FROM finish();
ROLLBACK;
