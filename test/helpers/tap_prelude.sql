-- tap_prelude.sql: the common start of every pgTAP suite.  Quiet psql
-- output that pg_prove can read, one transaction the suite rolls back at
-- its end, the identifier oracle, and state_of(): the SQLSTATE a statement
-- raises, or NULL when it works (for attempts that must fail).
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
BEGIN;
\ir identifier_oracle.sql
SET search_path = onshikaku, public;
CREATE FUNCTION pg_temp.state_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.state_of(text) TO PUBLIC;
