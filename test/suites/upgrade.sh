#!/usr/bin/env bash
# Upgrade paths: every released version's install script is frozen in
# extension/released/.  This suite checks that
#   - the released script of the current version, if frozen, is unchanged
#     (a released version's SQL never changes: bump the version instead);
#   - every older released version installs, updates to the current one
#     with ALTER EXTENSION onshikaku UPDATE, and then has exactly the schema
#     of a fresh install.
# Prints TAP-style lines and "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${ONSHIKAKU_CLUSTER:?run from test/run_all.sh}"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $((pass + fail)) - $1"; }
not_ok() { fail=$((fail + 1)); echo "not ok $((pass + fail)) - $1"; [ -n "${2:-}" ] && echo "# $2"; }

current=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" onshikaku.control)
generated=extension/onshikaku--$current.sql
ok "current version is $current"
if [ -f "extension/released/onshikaku--$current.sql" ]; then
  if cmp -s "$generated" "extension/released/onshikaku--$current.sql"; then
    ok "the released script of $current is unchanged"
  else
    not_ok "the released script of $current is unchanged" \
      "SQL changed after $current was released: bump default_version and add onshikaku--$current--NEW.sql"
  fi
fi

# Everything the extension consists of, described without OIDs: its member
# objects with their definitions, privileges and comments, the indexes,
# constraints and triggers of its tables, and its configuration tables.
# (pg_dump -s leaves extension members out, so it cannot be used.)
schema_of() {
  psql -X -At -v ON_ERROR_STOP=1 -d "$1" <<'SQL'
WITH ext AS (SELECT oid, extconfig FROM pg_extension WHERE extname = 'onshikaku'),
members AS (
  SELECT d.classid, d.objid FROM pg_depend d, ext
  WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e')
SELECT pg_describe_object(classid, objid, 0) || ' | ' ||
       coalesce(CASE classid
         WHEN 'pg_proc'::regclass THEN
           (SELECT concat_ws(' ', pg_get_function_identity_arguments(p.oid), '->', pg_get_function_result(p.oid),
                             p.prosrc, p.provolatile, p.proleakproof, p.proisstrict, p.prosecdef, p.proconfig, p.proacl)
            FROM pg_proc p WHERE p.oid = objid)
         WHEN 'pg_class'::regclass THEN
           (SELECT concat_ws(' ', c.relkind, c.relacl,
                   (SELECT string_agg(concat_ws(' ', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                                                a.attcompression, a.attstorage, pg_get_expr(ad.adbin, ad.adrelid)),
                                      ', ' ORDER BY a.attnum)
                    FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                   CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END)
            FROM pg_class c WHERE c.oid = objid)
         WHEN 'pg_type'::regclass THEN
           (SELECT concat_ws(' ', t.typlen, t.typbyval, t.typalign, t.typstorage,
                             t.typinput, t.typoutput, t.typreceive, t.typsend)
            FROM pg_type t WHERE t.oid = objid)
         WHEN 'pg_operator'::regclass THEN
           (SELECT concat_ws(' ', o.oprcode, o.oprcom::regoperator, o.oprnegate::regoperator,
                             o.oprrest, o.oprjoin, o.oprcanhash, o.oprcanmerge)
            FROM pg_operator o WHERE o.oid = objid)
         END, '') || ' | ' || coalesce(obj_description(objid), '')
FROM members
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'onshikaku'
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'onshikaku'::regnamespace
UNION ALL
SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger
WHERE tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'onshikaku'::regnamespace) AND NOT tgisinternal
UNION ALL
SELECT 'event trigger ' || evtname || ' ' || evtevent || ' ' || evtfoid::regproc || ' ' || coalesce(evttags::text, '')
FROM pg_event_trigger
UNION ALL
SELECT 'config ' || c::regclass FROM ext, unnest(extconfig) c
ORDER BY 1;
SQL
}
fresh=onshikaku_upgrade_fresh
psql -X -q -c "DROP DATABASE IF EXISTS $fresh" -c "CREATE DATABASE $fresh" >/dev/null
psql -X -q -d $fresh -c "CREATE EXTENSION onshikaku" >/dev/null
if schema_of $fresh > /tmp/onshikaku-upgrade-fresh.sql && [ "$(wc -l < /tmp/onshikaku-upgrade-fresh.sql)" -gt 100 ]; then
  ok "a fresh install describes itself ($(wc -l < /tmp/onshikaku-upgrade-fresh.sql) lines)"
else
  not_ok "a fresh install describes itself"
fi

for old in extension/released/onshikaku--*.sql; do
  case "$(basename "$old")" in onshikaku--*--*.sql) continue ;; esac   # upgrade scripts, not versions
  [ -e "$old" ] || continue
  v=$(basename "$old" .sql); v=${v#onshikaku--}
  [ "$v" = "$current" ] && continue
  db=onshikaku_upgrade_from_${v//./_}
  psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
  if psql -X -q -d "$db" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION onshikaku VERSION '$v'" \
       -c "ALTER EXTENSION onshikaku UPDATE" >/dev/null 2>/tmp/onshikaku-upgrade.err; then
    ok "$v installs and updates to $current"
  else
    not_ok "$v installs and updates to $current" "$(cat /tmp/onshikaku-upgrade.err)"
    continue
  fi
  got=$(psql -X -At -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'onshikaku'")
  [ "$got" = "$current" ] && ok "$v is now at $current" || not_ok "$v is now at $current" "at $got"
  if diff -u /tmp/onshikaku-upgrade-fresh.sql <(schema_of "$db") > /tmp/onshikaku-upgrade.diff; then
    ok "updated from $v, the schema equals a fresh install"
  else
    not_ok "updated from $v, the schema equals a fresh install" "$(head -40 /tmp/onshikaku-upgrade.diff)"
  fi
  psql -X -q -c "DROP DATABASE $db" >/dev/null
done
psql -X -q -c "DROP DATABASE $fresh" >/dev/null
echo "1..$((pass + fail))"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
