-- 00_schema.sql: the extension's schema (created by CREATE EXTENSION from
-- the control file's "schema = onshikaku").
COMMENT ON SCHEMA onshikaku IS
    'onshikaku: identifiers, encrypted My Numbers, per-insurer isolation and retention of the insurers'' intermediate server data model.';
-- Nothing in the schema is usable by PUBLIC unless granted object by object.
REVOKE ALL ON SCHEMA onshikaku FROM PUBLIC;
GRANT USAGE ON SCHEMA onshikaku TO PUBLIC;
