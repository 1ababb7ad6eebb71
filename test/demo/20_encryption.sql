-- Demo, part 2: My Numbers encrypted at rest, found by blind index, revealed with an audit trail.
\set ECHO none
SET search_path = onshikaku, public;
\echo
\echo '== 6. Keys come from outside the database (the key file named in postgresql.conf) =='
SELECT key, kek_id, fingerprint, is_current FROM key_status() ORDER BY key, kek_id;
\echo
\echo '== 7. Store a My Number: AES-256-GCM ciphertext bound to insurer and column, plus a blind index =='
CREATE TABLE demo_members (
    member_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    insurer   insurer_number NOT NULL,
    number    encrypted NOT NULL,
    number_bi blind_index NOT NULL UNIQUE
);
INSERT INTO demo_members (insurer, number, number_bi)
SELECT i::insurer_number, protect(n::my_number, i::insurer_number, 'demo_members.number'), blind_index_of(n::my_number)
FROM (VALUES ('01130012', '123456789018'), ('01130012', '621498320257'), ('39131156', '983205673214')) v(i, n);
SELECT member_id, insurer, left(number::text, 40) || '…' AS "number (as stored)", left(number_bi::text, 16) || '…' AS "blind index"
FROM demo_members ORDER BY member_id;
\echo
\echo '== 8. Find a person by My Number without decrypting anything =='
SELECT member_id, insurer FROM demo_members WHERE number_bi OPERATOR(onshikaku.=) blind_index_of('621498320257');
\echo
\echo '== 9. Reveal (only for onshikaku_number_handler): every call leaves an access-log row, never the number =='
SELECT member_id, reveal(number, insurer, 'demo_members.number', 'demo_members:' || member_id, 'demo') AS revealed
FROM demo_members WHERE member_id = 1;
SELECT accessed_at::timestamp(0), acting_role, insurer, key_id, record_ref, access_purpose FROM access_log ORDER BY accessed_at;
\echo
\echo '== 10. A ciphertext copied to another insurer''s row does not decrypt =='
\set ON_ERROR_STOP 0
SELECT reveal(number, '39131156', 'demo_members.number', 'demo', 'demo') FROM demo_members WHERE member_id = 1;
\set ON_ERROR_STOP 1
