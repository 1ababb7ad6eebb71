-- Encrypted My Numbers as a user sees them: protect, look up by blind
-- index, reveal with an access-log row, and the errors.  (The cluster's
-- key file is generated per run, so no ciphertext or fingerprint is shown.)
SET search_path = onshikaku, public;
CREATE TABLE members (
    member_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    insurer   insurer_number NOT NULL,
    number    encrypted NOT NULL,
    number_bi blind_index NOT NULL UNIQUE
);
INSERT INTO members (insurer, number, number_bi)
SELECT i::insurer_number, protect(n::my_number, i::insurer_number, 'members.number'), blind_index_of(n::my_number)
FROM (VALUES ('01130012', '123456789018'), ('01130012', '621498320257'), ('39131156', '983205673214')) v(i, n);

-- what is stored: a ciphertext that prints as enc1:..., and a 64-hex blind index
SELECT member_id, insurer, left(number::text, 5) AS prefix, length(number::text) AS text_length,
       key_id(number), length(number_bi::text) AS index_length
FROM members ORDER BY member_id;

-- the data keys: one per insurer, wrapped by the current master key
SELECT key_id, insurer, cohort, kek_id, state, octet_length(wrapped) AS wrapped_bytes FROM data_key ORDER BY key_id;
SELECT key, kek_id, length(fingerprint) AS fingerprint_length, is_current FROM key_status() ORDER BY key, kek_id;

-- look a person up by My Number, without decrypting anything
SELECT member_id, insurer FROM members WHERE number_bi OPERATOR(onshikaku.=) blind_index_of('621498320257');
-- the same person cannot be registered twice, in any insurer
INSERT INTO members (insurer, number, number_bi)
VALUES ('39131156', protect('621498320257', '39131156', 'members.number'), blind_index_of('621498320257'));

-- reveal: the digits, and a row in the access log
SELECT member_id, reveal(number, insurer, 'members.number', 'members:' || member_id, 'identity check at counter')
FROM members ORDER BY member_id;
SELECT session_role, acting_role, insurer, key_id, purpose, record_ref, access_purpose
FROM access_log ORDER BY record_ref;

-- a value copied to another insurer or another column does not decrypt
\set VERBOSITY default
SELECT reveal(number, '39131156', 'members.number', 'x', 'test') FROM members WHERE member_id = 1;
SELECT reveal(number, insurer, 'members.other_column', 'x', 'test') FROM members WHERE member_id = 1;
-- bad arguments
SELECT protect('123456789018', NULL, 'members.number');
SELECT protect('123456789018', '01130012', 'Members Number');
SELECT reveal(number, insurer, 'members.number', 'looked up 123456789018', 'test') FROM members WHERE member_id = 1;
SELECT 'enc1:notbase64!'::encrypted;
SELECT 'abc'::blind_index;
\set VERBOSITY terse
SELECT protect(NULL, '01130012', 'members.number') IS NULL AS null_in_null_out;

-- the access log is append-only
UPDATE access_log_batch SET access_purpose = 'edited';
DELETE FROM access_log_batch;
-- (stored one row per statement and key; the view shows one row per call)
SELECT count(*) AS batches, sum(cardinality(record_refs)) AS calls FROM access_log_batch;

-- rotation of the data key of one insurer
SELECT rotate_data_key('01130012') AS new_key;
SELECT key_id, insurer, state FROM data_key ORDER BY key_id;
SELECT member_id, key_id(reencrypt(number, insurer, 'members.number')) AS now_under FROM members ORDER BY member_id;
DROP TABLE members;
