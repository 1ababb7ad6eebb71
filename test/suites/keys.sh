#!/usr/bin/env bash
# Key management end to end, on the running throwaway cluster (make test
# starts it): missing, wrong, malformed and over-exposed key files, the key
# command, pg_dump and restore with and without the key file, master and
# data key rotation (interrupted and resumed), and a scan of every file of
# the cluster for 10,000 loaded My Numbers.  Prints TAP-style lines and a
# last line "N passed, N failed".  Restores the cluster's key settings.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${ONSHIKAKU_CLUSTER:?run from test/run_all.sh (or source .cluster/env.sh)}"
base=$ONSHIKAKU_CLUSTER
keys=$base/onshikaku.keys
conf=$base/data/conf.d/onshikaku-keys.conf
work=$(mktemp -d)
chmod 755 "$work"   # the server reads the test key files in it
owner=$(stat -c %U "$base/data")
as_owner() { if [ "$(id -un)" = "$owner" ]; then "$@"; else runuser -u "$owner" -- "$@"; fi; }
cp -p "$keys" "$work/original.keys"
cp -p "$conf" "$work/original.conf"

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $((pass + fail)) - $1"; }
not_ok() { fail=$((fail + 1)); echo "not ok $((pass + fail)) - $1"; [ -n "${2:-}" ] && echo "# $2"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got [$2], want [$3]"; fi; }

restore_settings() {
  cp -p "$work/original.keys" "$keys"
  cp -p "$work/original.conf" "$conf"
  psql -X -q -c 'SELECT pg_reload_conf()' >/dev/null
  sleep 0.3
}
trap 'restore_settings; rm -rf "$work"' EXIT

# set_key_conf LINE: replace the key settings and reload
set_key_conf() {
  echo "$1" | as_owner tee "$conf" >/dev/null
  psql -X -q -c 'SELECT pg_reload_conf()' >/dev/null
  sleep 0.3
}
# q DB SQL: one value, errors to stdout as "ERROR <sqlstate>"
q() {
  psql -X -q -At -d "$1" -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -c "$2" 2>&1 | sed -E 's/^ERROR: +/ERROR /' | tail -1
}
alive() { pg_isready -q && [ "$(q postgres 'SELECT 1')" = 1 ]; }

# valid My Numbers from awk (no extension code): N numbers, seed S
gen_numbers() {
  awk -v n="$1" -v seed="$2" 'BEGIN { srand(seed); split("6 5 4 3 2 7 6 5 4 3 2", w, " ");
    for (k = 0; k < n; k++) { s = 0; b = "";
      for (i = 1; i <= 11; i++) { d = int(rand() * 10); b = b d; s += d * w[i] }
      r = s % 11; c = (r <= 1) ? 0 : 11 - r; print b c } }'
}

# ---- a database with protected values ------------------------------------------
psql -X -q -c 'DROP DATABASE IF EXISTS onshikaku_keys' -c 'DROP DATABASE IF EXISTS onshikaku_keys_restored' \
  -c 'CREATE DATABASE onshikaku_keys' >/dev/null
gen_numbers 200 7 > "$work/people.txt"
{
  echo "CREATE EXTENSION onshikaku;"
  echo "CREATE TABLE t (id int PRIMARY KEY, insurer onshikaku.insurer_number, e onshikaku.encrypted, bi onshikaku.blind_index);"
  echo "CREATE TABLE expected (id int PRIMARY KEY, digits text);"   # test data only
  echo "INSERT INTO expected SELECT i, x FROM unnest('{$(paste -sd, "$work/people.txt")}'::text[]) WITH ORDINALITY u(x, i);"
  echo "INSERT INTO t SELECT id, CASE WHEN id % 2 = 0 THEN '01130012' ELSE '39131156' END::onshikaku.insurer_number,
          NULL, onshikaku.blind_index_of(digits::onshikaku.my_number) FROM expected;"
  echo "UPDATE t SET e = onshikaku.protect(x.digits::onshikaku.my_number, t.insurer, 'keys.my_number') FROM expected x WHERE x.id = t.id;"
  echo "SELECT onshikaku.register_encrypted_column('t', 'e', 'insurer', 'keys.my_number', 'id');"
} | psql -X -q -d onshikaku_keys -v ON_ERROR_STOP=1 >/dev/null
all_ok="SELECT count(*) FROM t JOIN expected USING (id) WHERE onshikaku.reveal(e, insurer, 'keys.my_number', 't:' || id, 'test') = digits"
check "200 values protected and revealed" "$(q onshikaku_keys "$all_ok")" 200

# ---- no key, missing file, exposed file, malformed file ---------------------------
set_key_conf "onshikaku.key_file = ''"
check "no key configured: protect fails with 55000" \
  "$(q onshikaku_keys "SELECT onshikaku.protect('123456789018', '01130012', 'keys.my_number')")" "ERROR 55000"
check "no key configured: reveal fails with 55000" "$(q onshikaku_keys "$all_ok")" "ERROR 55000"
check "no key configured: blind index fails with 55000" \
  "$(q onshikaku_keys "SELECT onshikaku.blind_index_of('123456789018')")" "ERROR 55000"
check "no key configured: identifiers still work" "$(q onshikaku_keys "SELECT '01130012'::onshikaku.insurer_number")" 01130012
check "no key configured: ciphertexts can still be read as values" "$(q onshikaku_keys "SELECT count(onshikaku.key_id(e)) FROM t")" 200
if alive; then ok "no crash without a key"; else not_ok "no crash without a key"; fi

set_key_conf "onshikaku.key_file = '$work/absent.keys'"
check "missing key file: F0000" "$(q onshikaku_keys "$all_ok")" "ERROR F0000"

cp "$work/original.keys" "$work/exposed.keys"; chmod 640 "$work/exposed.keys"; chown "$owner" "$work/exposed.keys"
set_key_conf "onshikaku.key_file = '$work/exposed.keys'"
check "group-readable key file is refused: F0000" "$(q onshikaku_keys "$all_ok")" "ERROR F0000"

printf 'kek.1 = nothex\nblind_index = %s\n' "$(printf '%064d' 0)" > "$work/bad.keys"
chmod 600 "$work/bad.keys"; chown "$owner" "$work/bad.keys"
set_key_conf "onshikaku.key_file = '$work/bad.keys'"
msg=$(psql -X -q -At -d onshikaku_keys -c "$all_ok" 2>&1)
case "$msg" in
  *"line 1"*"64 hexadecimal digits"*) ok "malformed key file: the error names the line and the rule" ;;
  *) not_ok "malformed key file: the error names the line and the rule" "$msg" ;;
esac
case "$msg" in *nothex*) not_ok "malformed key file: the error does not quote the file" ;;
  *) ok "malformed key file: the error does not quote the file" ;; esac

# ---- the wrong key file ---------------------------------------------------------------
test/setup/keyfile.sh "$work/other.keys" "$owner"
set_key_conf "onshikaku.key_file = '$work/other.keys'"
msg=$(psql -X -q -At -d onshikaku_keys -c "$all_ok" 2>&1)
case "$msg" in *"wrapped with master key 2, which the key file does not hold"*)
  ok "a key file without the wrapping master key id: the error names the id" ;;
  *) not_ok "a key file without the wrapping master key id: the error names the id" "$msg" ;; esac
test/setup/keyfile.sh --add-kek "$work/other.keys" 2
psql -X -q -c 'SELECT pg_reload_conf()' >/dev/null; sleep 0.3
check "wrong key file: reveal fails with F0000" "$(q onshikaku_keys "$all_ok")" "ERROR F0000"
msg=$(psql -X -q -At -d onshikaku_keys -c "$all_ok" 2>&1)
case "$msg" in *"does not unwrap data key"*) ok "wrong key file: the error says the master key does not unwrap" ;;
  *) not_ok "wrong key file: the error says the master key does not unwrap" "$msg" ;; esac
if alive; then ok "no crash with a wrong key"; else not_ok "no crash with a wrong key"; fi

# ---- the key command ----------------------------------------------------------------
set_key_conf "onshikaku.key_command = 'cat $keys'"
check "key command: values decrypt" "$(q onshikaku_keys "$all_ok")" 200
set_key_conf "onshikaku.key_command = 'exit 3'"
check "failing key command: F0000" "$(q onshikaku_keys "$all_ok")" "ERROR F0000"
restore_settings
check "back to the key file: values decrypt" "$(q onshikaku_keys "$all_ok")" 200

# ---- pg_dump and restore ----------------------------------------------------------------
pg_dump -Fc -d onshikaku_keys -f "$work/dump.custom"
psql -X -q -c 'CREATE DATABASE onshikaku_keys_restored' >/dev/null
pg_restore -d onshikaku_keys_restored "$work/dump.custom" 2> "$work/restore.err"
check "restore into a fresh database: no errors" "$(wc -l < "$work/restore.err" | tr -d ' ')" 0
check "restore with the same key file: every value decrypts" "$(q onshikaku_keys_restored "$all_ok")" 200
check "restore: blind indexes still match" \
  "$(q onshikaku_keys_restored "SELECT count(*) FROM t JOIN expected USING (id) WHERE bi OPERATOR(onshikaku.=) onshikaku.blind_index_of(digits::onshikaku.my_number)")" 200
check "restore: the access log came along" \
  "$(q onshikaku_keys_restored "SELECT count(*) >= 200 FROM onshikaku.access_log")" t
if grep -aq "$(head -1 "$work/people.txt")" <(pg_dump -d onshikaku_keys -T expected); then
  not_ok "the dump (without the test's plaintext table) holds no number"
else ok "the dump (without the test's plaintext table) holds no number"; fi
set_key_conf "onshikaku.key_file = ''"
check "restored database without the key file: nothing decrypts" "$(q onshikaku_keys_restored "$all_ok")" "ERROR 55000"
if alive; then ok "no crash"; else not_ok "no crash"; fi
restore_settings

# ---- the blind-index key is checked against the database ---------------------------------------
{ grep '^kek\.' "$keys"; printf 'blind_index = %s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"; } > "$work/index.keys"
chmod 600 "$work/index.keys"; chown "$owner" "$work/index.keys"
set_key_conf "onshikaku.key_file = '$work/index.keys'"
msg=$(psql -X -q -At -d onshikaku_keys -v VERBOSITY=default -c "SELECT onshikaku.blind_index_of('123456789018')" 2>&1)
case "$msg" in *"blind_index key of the key file is not the one"*) ok "a different blind-index key is refused, not silently used" ;;
  *) not_ok "a different blind-index key is refused, not silently used" "$msg" ;; esac
check "with the right master keys, values still decrypt" "$(q onshikaku_keys "$all_ok")" 200
restore_settings

check "a fresh session computes a blind index in a read-only transaction" \
  "$(psql -X -q -At -d onshikaku_keys -c "BEGIN READ ONLY" -c "SELECT onshikaku.blind_index_of('123456789018') IS NOT NULL" -c "COMMIT" 2>&1 | tail -1)" t
check "and reveal refuses a read-only transaction (it must log): 25006" \
  "$(psql -X -q -At -d onshikaku_keys -v VERBOSITY=sqlstate -c "BEGIN READ ONLY" -c "SELECT count(onshikaku.reveal(e, insurer, 'keys.my_number', 'x', 'ro')) FROM t" 2>&1 | grep -o 25006 | head -1)" 25006

# ---- a key file edited in place is re-read by running sessions ------------------------------------
cp -p "$keys" "$work/inplace.keys"
set_key_conf "onshikaku.key_file = '$work/inplace.keys'"
out=$(psql -X -q -At -d onshikaku_keys <<SQL 2>&1
SELECT max(kek_id) FROM onshikaku.key_status();
\! test/setup/keyfile.sh --add-kek '$work/inplace.keys' 9
SELECT max(kek_id) FROM onshikaku.key_status();
SQL
)
check "a session sees a master key added to its key file in place" "$(echo "$out" | paste -sd, -)" "2,9"
restore_settings

# ---- a reveal inside a rolled-back savepoint keeps its access-log row --------------------------------
before=$(q onshikaku_keys "SELECT count(*) FROM onshikaku.access_log WHERE access_purpose = 'savepoint test'")
psql -X -q -d onshikaku_keys >/dev/null <<'SQL'
BEGIN;
SAVEPOINT s;
SELECT onshikaku.reveal(e, insurer, 'keys.my_number', 't:' || id, 'savepoint test') FROM t WHERE id <= 3;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SQL
after=$(q onshikaku_keys "SELECT count(*) FROM onshikaku.access_log WHERE access_purpose = 'savepoint test'")
check "reveals in a rolled-back savepoint are still logged at commit" "$((after - before))" 3

# ---- master key rotation -------------------------------------------------------------------
check "data keys are wrapped by the highest master key, kek.2" \
  "$(q onshikaku_keys "SELECT string_agg(DISTINCT kek_id::text, ',') FROM onshikaku.data_key")" 2
test/setup/keyfile.sh --add-kek "$keys" 3
psql -X -q -c 'SELECT pg_reload_conf()' >/dev/null; sleep 0.3
check "after adding kek.3 it is current" \
  "$(q onshikaku_keys "SELECT kek_id FROM onshikaku.key_status() WHERE is_current AND key = 'master'")" 3
check "rotate_master_key re-wraps both data keys" "$(q onshikaku_keys "SELECT onshikaku.rotate_master_key()")" 2
check "every data key is now under kek.3" \
  "$(q onshikaku_keys "SELECT count(*) FROM onshikaku.data_key WHERE kek_id <> 3")" 0
check "a master key the file lacks is refused as a target" \
  "$(q onshikaku_keys "SELECT onshikaku.rotate_master_key(7)")" "ERROR 22023"
grep -v -E '^kek\.(1|2) ' "$keys" > "$work/k3"; cat "$work/k3" > "$keys"
psql -X -q -c 'SELECT pg_reload_conf()' >/dev/null; sleep 0.3
check "with kek.1 and kek.2 removed from the file, every value decrypts" "$(q onshikaku_keys "$all_ok")" 200
check "the restored copy (still wrapped by kek.2) now fails clearly" "$(q onshikaku_keys_restored "$all_ok")" "ERROR F0000"

# ---- data key rotation, interrupted and resumed ---------------------------------------------
q onshikaku_keys "SELECT onshikaku.rotate_data_key('01130012'), onshikaku.rotate_data_key('39131156')" >/dev/null
psql -X -q -d onshikaku_keys -c "BEGIN; SELECT 1 FROM t WHERE id = 151 FOR UPDATE; SELECT pg_sleep(3); COMMIT" >/dev/null &
holder=$!
sleep 0.5
out=$(PGOPTIONS='-c lock_timeout=300ms' psql -X -q -At -d onshikaku_keys -v VERBOSITY=sqlstate -c "CALL onshikaku.reencrypt_rotated(20)" 2>&1)
case "$out" in *55P03*) ok "rotation stops on a lock it cannot get (lock_timeout)" ;;
  *) not_ok "rotation stops on a lock it cannot get (lock_timeout)" "$out" ;; esac
done_before=$(q onshikaku_keys "SELECT rows_done FROM onshikaku.rotation_progress WHERE finished_at IS NULL")
if [ "${done_before:-0}" -gt 0 ] 2>/dev/null && [ "$done_before" -lt 200 ]; then
  ok "its committed batches are visible to another session ($done_before rows done)"
else not_ok "its committed batches are visible to another session" "rows_done=$done_before"; fi
check "values already moved and not yet moved all decrypt meanwhile" "$(q onshikaku_keys "$all_ok")" 200
wait $holder
q onshikaku_keys "CALL onshikaku.reencrypt_rotated(20)" >/dev/null
check "the resumed run finishes" \
  "$(q onshikaku_keys "SELECT finished_at IS NOT NULL AND rows_done = 200 FROM onshikaku.rotation_progress")" t
check "no value is left under a retired key" \
  "$(q onshikaku_keys "SELECT count(*) FROM t JOIN onshikaku.data_key d ON d.key_id = onshikaku.key_id(t.e) WHERE d.state <> 'active'")" 0
check "every value decrypts after rotation" "$(q onshikaku_keys "$all_ok")" 200
restore_settings

# ---- 10,000 numbers never reach a file in clear ------------------------------------------------
gen_numbers 10000 "$(( $(date +%s) % 100000 + $$ ))" > "$work/scan.txt"   # fresh per run: no earlier run's control can match
psql -X -q -c 'DROP DATABASE IF EXISTS onshikaku_scan' -c 'CREATE DATABASE onshikaku_scan' >/dev/null
{
  echo "CREATE EXTENSION onshikaku;"
  echo "CREATE TABLE holders (id bigint GENERATED ALWAYS AS IDENTITY, insurer onshikaku.insurer_number,
          e onshikaku.encrypted, bi onshikaku.blind_index UNIQUE);"
  echo "INSERT INTO holders (insurer, e, bi)
        SELECT '01130012', onshikaku.protect(x::onshikaku.my_number, '01130012', 'scan.my_number'),
               onshikaku.blind_index_of(x::onshikaku.my_number)
        FROM unnest('{$(paste -sd, "$work/scan.txt")}'::text[]) x;"
  echo "SELECT count(*) FROM holders;"
} | psql -X -q -At -d onshikaku_scan -v ON_ERROR_STOP=1 > "$work/scan.out" 2>&1
check "10,000 numbers loaded through the API" "$(tail -1 "$work/scan.out")" 10000
q onshikaku_scan "CHECKPOINT" >/dev/null
q onshikaku_scan "SELECT pg_switch_wal()" >/dev/null
q onshikaku_scan "CHECKPOINT" >/dev/null
hits=$(grep -rFaoh -f "$work/scan.txt" "$base/data" "$base/server.log" 2>/dev/null | wc -l)
check "no data file, WAL segment or log holds any of the 12-digit strings" "$hits" 0

# failed operations with those numbers in the statements, then the log again
sample=$(head -50 "$work/scan.txt" | paste -sd, -)
{
  echo "\\set ON_ERROR_STOP 0"
  echo "SELECT onshikaku.protect(x::onshikaku.my_number, '01130012', 'BAD PURPOSE') FROM unnest('{$sample}'::text[]) x;"
  echo "SELECT onshikaku.protect(x::onshikaku.my_number, NULL, 'scan.my_number') FROM unnest('{$sample}'::text[]) x;"
  echo "INSERT INTO holders (insurer, e, bi) SELECT '01130012', NULL, onshikaku.blind_index_of(x::onshikaku.my_number) FROM unnest('{$sample}'::text[]) x;"
  echo "SELECT onshikaku.reveal(e, '39131156', 'scan.my_number', 'scan', 'wrong insurer') FROM holders LIMIT 5;"
  echo "SELECT x::onshikaku.my_number, 1/0 FROM unnest('{$sample}'::text[]) x;"
  for n in $(head -20 "$work/scan.txt"); do
    echo "SELECT '${n:0:11}$(( (${n:11:1} + 1) % 10 ))'::onshikaku.my_number, '$n'::onshikaku.my_number;"
    echo "SELECT '$n'::onshikaku.insurer_number;"
    echo "SELECT nosuchfunction('$n');"
  done
} | psql -X -q -d onshikaku_scan > "$work/failures.out" 2>&1
errors=$(grep -c ERROR "$work/failures.out")
if [ "$errors" -ge 60 ]; then ok "the failing statements failed ($errors errors)"; else not_ok "the failing statements failed" "$errors errors"; fi
hits=$(grep -Faoh -f "$work/scan.txt" "$base/server.log" | wc -l)
check "after the failures, the server log holds none of the numbers" "$hits" 0
# (psql's own "LINE n:" echo of the statement it sent is not a server message)
hits=$(grep -vE '^LINE [0-9]+:' "$work/failures.out" | grep -Faoh -f "$work/scan.txt" | wc -l)
check "nor do the error messages the client received" "$hits" 0

# positive control: the scan does find a number stored in clear
q onshikaku_scan "CREATE TABLE control AS SELECT '$(head -1 "$work/scan.txt")'::text AS leaked" >/dev/null
q onshikaku_scan "CHECKPOINT" >/dev/null
hits=$(grep -rFaoh -f "$work/scan.txt" "$base/data" | wc -l)
if [ "$hits" -gt 0 ]; then ok "positive control: a number stored in clear is found ($hits hits)"
else not_ok "positive control: a number stored in clear is found"; fi
psql -X -q -c 'DROP DATABASE onshikaku_scan' -c 'DROP DATABASE onshikaku_keys_restored' >/dev/null

echo "1..$((pass + fail))"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
