-- Encrypted My Numbers: round trips, tampering, moved values, the blind
-- index, privileges, the access log, and settings hidden from non-superusers.
-- Needs the throwaway cluster's key file (onshikaku.key_file).
\ir ../helpers/tap_prelude.sql
SELECT setseed(0.1717);
SELECT plan(53);


-- ---- round trip ------------------------------------------------------------
CREATE TEMP TABLE people AS
SELECT i, n AS digits, CASE WHEN i % 2 = 0 THEN '01130012' ELSE '39131156' END::insurer_number AS insurer
FROM (SELECT i, oracle.valid('my_number') AS n FROM generate_series(1, 1000) i) s;
CREATE TEMP TABLE sealed AS
SELECT i, insurer, protect(digits::my_number, insurer, 'tap.my_number') AS e,
       blind_index_of(digits::my_number) AS bi
FROM people;
SELECT is((SELECT count(*) FROM sealed s JOIN people p USING (i)
           WHERE reveal(s.e, s.insurer, 'tap.my_number', 'tap:' || i, 'round trip') = p.digits),
          1000::bigint, '1000 My Numbers round-trip through protect and reveal');
SELECT is((SELECT count(DISTINCT key_id(e)) FROM sealed), 2::bigint, 'one data key per insurer');
SELECT ok((SELECT bool_and(e::text ~ '^enc1:[A-Za-z0-9+/=]+$') FROM sealed), 'text form is enc1: and base64');
SELECT is((SELECT count(*) FROM sealed s JOIN people p USING (i) WHERE position(p.digits IN s.e::text) > 0),
          0::bigint, 'no text form contains its number');
SELECT is((SELECT count(DISTINCT e::text) FROM (SELECT protect('123456789018', '01130012', 'tap.my_number') AS e
                                              FROM generate_series(1, 100)) s),
          100::bigint, 'encrypting the same number twice gives different values');
SELECT ok(protect(NULL, '01130012', 'tap.my_number') IS NULL, 'NULL number gives NULL');
SELECT is(pg_temp.state_of($$SELECT onshikaku.protect('123456789018', NULL, 'tap.my_number')$$), '22004',
          'NULL insurer is refused');
SELECT is(pg_temp.state_of($$SELECT onshikaku.protect('123456789018', '01130012', 'Bad Purpose!')$$), '22023',
          'a malformed purpose is refused');
SELECT is(pg_temp.state_of($$SELECT e = e FROM sealed$$), '42883', 'encrypted values have no equality');

-- ---- tampering: a flipped byte anywhere ------------------------------------
CREATE TEMP TABLE one AS SELECT e, insurer, encrypted_send(e) AS raw FROM sealed WHERE i = 2;
CREATE TEMP TABLE flips AS
SELECT pos, pg_temp.state_of(format(
           $$SELECT onshikaku.reveal(%L::onshikaku.encrypted, %L, 'tap.my_number', 'tap', 'tamper')$$,
           'enc1:' || translate(encode(set_byte(raw, pos, get_byte(raw, pos) # 1), 'base64'), E'\n', ''),
           insurer)) AS state
FROM one, generate_series(0, length((SELECT raw FROM one)) - 1) pos;
SELECT is((SELECT count(*) FROM flips), 42::bigint, 'the value has 42 bytes: header 18, number 8, tag 16');
SELECT is((SELECT count(*) FROM flips WHERE state IS NULL), 0::bigint,
          'a flipped bit in any of the 42 bytes never decrypts');
SELECT is((SELECT count(*) FROM flips WHERE pos >= 6 AND state = 'XX001'), 36::bigint,
          'every flip in nonce, ciphertext or tag fails authentication (XX001)');
SELECT ok((SELECT array_agg(DISTINCT state) FROM flips WHERE pos < 6) <@ ARRAY['22P02', '42704', 'XX001'],
          'flips in version, kind or key id: malformed, unknown key, or failed authentication');
SELECT is(pg_temp.state_of($$SELECT onshikaku.reveal('enc1:AQEAAAAB'::onshikaku.encrypted, '01130012', 'p', 'r', 'x')$$),
          '22P02', 'a truncated value is refused on input');

-- ---- moved values ----------------------------------------------------------
SELECT is(pg_temp.state_of(format($$SELECT onshikaku.reveal(%L::onshikaku.encrypted, '39131156', 'tap.my_number', 'r', 'x')$$,
                                  (SELECT e FROM one))), 'XX001', 'a value moved to another insurer does not decrypt');
SELECT is(pg_temp.state_of(format($$SELECT onshikaku.reveal(%L::onshikaku.encrypted, '01130012', 'tap.other_column', 'r', 'x')$$,
                                  (SELECT e FROM one))), 'XX001', 'a value moved to another column (purpose) does not decrypt');
SELECT is(pg_temp.state_of(format($$SELECT onshikaku.reveal(%L::onshikaku.encrypted, NULL, 'tap.my_number', 'r', 'x')$$,
                                  (SELECT e FROM one))), 'XX001', 'an insurer value does not decrypt in the national scope');

-- ---- blind index -------------------------------------------------------------
SELECT is((SELECT count(DISTINCT bi) FROM sealed), (SELECT count(DISTINCT digits) FROM people),
          'distinct numbers, distinct indexes');
SELECT ok(blind_index_of('123456789018') = blind_index_of(' 123456789018'), 'same number, same index');
SELECT is(length(blind_index_of('123456789018')::text), 64, 'the index prints as 64 hex digits');
SELECT ok(blind_index_of('123456789018')::text <> encode(sha256('123456789018'), 'hex')
          AND blind_index_of('123456789018')::text <> encode(sha256('onshikaku/blind-index/v1/my_number:123456789018'), 'hex'),
          'the index is keyed: not a plain hash of the number');
CREATE TEMP TABLE registry (insurer insurer_number, bi blind_index UNIQUE);
INSERT INTO registry VALUES ('01130012', blind_index_of('123456789018'));
SELECT throws_ok($$INSERT INTO registry VALUES ('39131156', onshikaku.blind_index_of('123456789018'))$$,
                 '23505', NULL, 'a unique blind index refuses the same person in another insurer');
SET LOCAL enable_seqscan = off;
CREATE INDEX ON sealed (bi);
SELECT is((SELECT count(*) FROM sealed WHERE bi = blind_index_of((SELECT digits FROM people WHERE i = 7)::my_number)),
          1::bigint, 'lookup by blind index');
SELECT ok((SELECT bool_and(p.proleakproof) FROM pg_amop ao JOIN pg_operator o ON o.oid = ao.amopopr
           JOIN pg_proc p ON p.oid = o.oprcode WHERE o.oprleft = 'onshikaku.blind_index'::regtype),
          'blind_index comparisons are leakproof');
RESET enable_seqscan;

-- ---- scopes and rotation -------------------------------------------------------
SELECT isnt(key_id(protect('123456789018', '01130012', 'tap.my_number', 2031)),
            key_id(protect('123456789018', '01130012', 'tap.my_number')), 'a cohort has its own data key');
SELECT is((SELECT cohort FROM data_key WHERE key_id = key_id(protect('123456789018', '01130012', 'tap.my_number', 2031))),
          2031, 'and the key records its cohort');
CREATE TEMP TABLE before_rotation AS SELECT key_id(e) AS k FROM one;
SELECT ok(rotate_data_key('01130012') > (SELECT k FROM before_rotation), 'rotate_data_key makes a new key');
SELECT is((SELECT state FROM data_key WHERE key_id = (SELECT k FROM before_rotation)), 'retired', 'the old key is retired');
SELECT is((SELECT reveal(e, insurer, 'tap.my_number', 'r', 'after rotation') FROM one),
          (SELECT digits FROM people WHERE i = 2), 'values under a retired key still decrypt');
SELECT isnt((SELECT key_id(reencrypt(e, insurer, 'tap.my_number')) FROM one), (SELECT k FROM before_rotation),
            'reencrypt moves a value to the new key');
SELECT is(rotate_master_key(), 0::bigint, 'with one master key, nothing is re-wrapped');
SELECT is((SELECT count(*) FROM data_key WHERE state = 'active' AND insurer IS NULL AND cohort IS NULL), 0::bigint,
          'no national key until one is needed');
SELECT ok(key_id(protect_code('AGENCY-CODE-1', NULL, 'tap.agency_code')) > 0, 'protect_code in the national scope');
SELECT is(reveal(protect_code('AGENCY-CODE-1', NULL, 'tap.agency_code'), NULL, 'tap.agency_code', 'r', 'x'),
          'AGENCY-CODE-1', 'codes round-trip');

-- ---- privileges and the access log ------------------------------------------------
CREATE ROLE onshikaku_tap_clerk NOLOGIN;
CREATE ROLE onshikaku_tap_handler NOLOGIN IN ROLE onshikaku_number_handler;
GRANT SELECT ON sealed, one, people TO onshikaku_tap_clerk, onshikaku_tap_handler;
SET ROLE onshikaku_tap_clerk;
SELECT is(pg_temp.state_of($$SELECT onshikaku.reveal(e, insurer, 'tap.my_number', 'r', 'x') FROM one$$), '42501',
          'a role without the number-handling right cannot reveal');
SELECT is(pg_temp.state_of($$SELECT count(*) FROM onshikaku.data_key$$), '42501', 'nor read the data keys');
SELECT is(pg_temp.state_of($$SELECT count(*) FROM onshikaku.access_log$$), '42501', 'nor read the access log');
SELECT is(pg_temp.state_of($$SELECT onshikaku.rotate_master_key()$$), '42501', 'nor rotate keys');
SELECT is(pg_temp.state_of($$SELECT onshikaku.blind_index_of('123456789018')$$), '42501',
          'nor compute a blind index (it would be a brute-force oracle)');
SELECT is(pg_temp.state_of($$SELECT onshikaku.protect('123456789018', '01130012', 'tap.my_number')$$), '42501',
          'nor encrypt (or create data keys)');
SELECT is((SELECT count(*) FROM pg_settings WHERE name LIKE 'onshikaku.key%'), 0::bigint,
          'nor see the key settings in pg_settings');
SELECT is(pg_temp.state_of($$SHOW onshikaku.key_file$$), '42501', 'nor SHOW the key file setting');
RESET ROLE;
CREATE ROLE onshikaku_tap_operator NOLOGIN IN ROLE onshikaku_admin;
SET ROLE onshikaku_tap_operator;
SELECT lives_ok($$SELECT onshikaku.register_encrypted_column('pg_class', 'relname', NULL, 'tap.x', 'oid')$$,
                'the operator can register an encrypted column');
RESET ROLE;
SET ROLE onshikaku_tap_handler;
SELECT is((SELECT reveal(e, insurer, 'tap.my_number', 'qualification:2', 'counter enquiry') FROM one),
          (SELECT digits FROM people WHERE i = 2), 'the number-handling role can reveal');
RESET ROLE;
SELECT is((SELECT count(*) FROM access_log WHERE acting_role = 'onshikaku_tap_handler'
             AND record_ref = 'qualification:2' AND access_purpose = 'counter enquiry'
             AND key_id = (SELECT key_id(e) FROM one)), 1::bigint,
          'its reveal wrote exactly one access-log row: who, which record, why, which key');
SELECT is((SELECT count(*) FROM access_log a JOIN people p ON position(p.digits IN a::text) > 0), 0::bigint,
          'no access-log row contains a revealed number');
SELECT is(pg_temp.state_of($$SELECT onshikaku.reveal(e, insurer, 'tap.my_number', 'person 123456789018', 'x') FROM one$$),
          '22023', 'a record reference holding a My Number is refused');
SELECT is(pg_temp.state_of($$UPDATE onshikaku.access_log_batch SET access_purpose = 'edited'$$), '42501',
          'the access log cannot be updated, even by a superuser');
SELECT is(pg_temp.state_of($$DELETE FROM onshikaku.access_log_batch$$), '42501', 'nor deleted from');
SELECT is(pg_temp.state_of($$TRUNCATE onshikaku.access_log_batch$$), '42501', 'nor truncated');
SELECT isnt(pg_temp.state_of($$UPDATE onshikaku.access_log SET access_purpose = 'edited'$$), NULL,
            'and its per-call view is read-only');
SELECT is((SELECT count(*) FROM access_log WHERE record_ref LIKE 'tap:%' AND access_purpose = 'round trip'),
          1000::bigint, 'the 1000 round-trip reveals have 1000 access-log rows');
SELECT is((SELECT count(*) FROM access_log_batch WHERE access_purpose = 'round trip'), 2::bigint,
          'stored as one batch per insurer key for that statement');

SELECT * FROM finish();
ROLLBACK;
