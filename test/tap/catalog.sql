-- The extension's catalog as a reviewer expects it: every object commented,
-- every column of the model commented and classified, SECURITY DEFINER
-- functions with a fixed search_path, nothing of the model granted to PUBLIC.
\ir ../helpers/tap_prelude.sql
SELECT plan(7);
CREATE TEMP VIEW members AS
SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'onshikaku' AND d.deptype = 'e';
SELECT is(array_agg(pg_describe_object(classid, objid, 0) ORDER BY 1), NULL,
          'every function, type, table, view and sequence of the extension has a COMMENT')
FROM members m
WHERE m.classid IN ('pg_proc'::regclass, 'pg_type'::regclass, 'pg_class'::regclass)
  AND obj_description(m.objid) IS NULL
  AND NOT (m.classid = 'pg_type'::regclass AND EXISTS (SELECT FROM pg_type t WHERE t.oid = m.objid
                                                     AND (t.typelem <> 0 OR t.typrelid <> 0)))
  AND NOT (m.classid = 'pg_class'::regclass AND EXISTS (SELECT FROM pg_class c WHERE c.oid = m.objid AND c.relkind IN ('S', 'i')))
  AND NOT (m.classid = 'pg_proc'::regclass AND EXISTS (SELECT FROM pg_proc p WHERE p.oid = m.objid
           AND (p.proname ~ '_(in|out|recv|send|eq|ne|lt|le|gt|ge|cmp|hash|hash_extended)$')));
SELECT is(array_agg(c.relname || '.' || a.attname ORDER BY 1), NULL,
          'every column of the model tables has a COMMENT (with its Japanese term)')
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.oid IN (SELECT relid FROM onshikaku.per_insurer_table)
  AND a.attnum > 0 AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL
  AND a.attname NOT IN ('insurer_id', 'registered_at', 'updated_at');
SELECT is(array_agg(c.relname || '.' || a.attname ORDER BY 1), NULL,
          'every column of every table of the extension is classified in column_class')
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = 'onshikaku'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND a.attnum > 0 AND NOT a.attisdropped
  AND NOT EXISTS (SELECT FROM onshikaku.column_class cc WHERE cc.relid = c.oid AND cc.column_name = a.attname);
SELECT is(array_agg(p.oid::regprocedure::text ORDER BY 1), NULL,
          'every SECURITY DEFINER function sets search_path')
FROM pg_proc p WHERE p.pronamespace = 'onshikaku'::regnamespace AND p.prosecdef
  AND NOT coalesce(p.proconfig::text LIKE '%search_path=%', false);
SELECT is(array_agg(c.relname ORDER BY 1), NULL, 'no table of the extension grants anything to PUBLIC but the role-mapping view of one''s own')
FROM pg_class c, LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) x
WHERE c.relnamespace = 'onshikaku'::regnamespace AND c.relkind IN ('r', 'p', 'v') AND x.grantee = 0
  AND c.relname <> 'insurer_role';
SELECT is(array_agg(a.attname::text ORDER BY 1), NULL, 'every encrypted or blind-index column is classified personal_number')
FROM onshikaku.column_class cc JOIN pg_attribute a ON a.attrelid = cc.relid AND a.attname = cc.column_name
WHERE a.atttypid IN ('onshikaku.encrypted'::regtype, 'onshikaku.blind_index'::regtype) AND cc.class <> 'personal_number';
SELECT is(array_agg(p.oid::regprocedure::text ORDER BY 1), NULL, 'every comparison function of the extension''s types is leakproof')
FROM pg_operator o JOIN pg_proc p ON p.oid = o.oprcode
WHERE o.oprnamespace = 'onshikaku'::regnamespace AND NOT p.proleakproof;
SELECT * FROM finish();
ROLLBACK;
