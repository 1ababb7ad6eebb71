/*
 * partitions.c
 *	  Registering and removing insurers: the registry row and, for every
 *	  per-insurer table, the insurer's partition with its row-level security,
 *	  in the caller's transaction.
 *
 * Each partition is created as a plain table with the partition constraint
 * already in place and then attached, which takes a SHARE UPDATE EXCLUSIVE
 * lock on the parent rather than the ACCESS EXCLUSIVE of CREATE TABLE ...
 * PARTITION OF: the other insurers stay readable and writable.  (No
 * per-insurer table has a foreign key to another: attaching a partition
 * would then lock and plan over every partition of the referenced table,
 * and registration would slow down with each insurer.)  Only the
 * tables the insurer's kind uses get a partition (per_insurer_table.
 * requires).  The DDL runs as the owner of the extension's tables
 * (privileged.c): onshikaku_admin may register insurers without owning
 * the model.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "privileged.h"

typedef struct RegisterArgs
{
	int64		insurer_number;		/* 0 when none */
	int64		public_payer_number;	/* 0 when none */
	text	   *name;
	Datum		kind;				/* onshikaku.insurer_kind */
	int32		insurer_id;			/* out */
} RegisterArgs;

/* Run one DDL or DML statement, raising if it fails. */
static void
run(const char *sql, int expected)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc != expected)
		elog(ERROR, "statement failed (%s): %s", SPI_result_code_string(rc), sql);
}

/* Create, secure and attach the partitions of one insurer. */
static void
create_partitions(int32 id)
{
	uint64		n;
	SPITupleTable *tt;

	if (SPI_execute(psprintf("SELECT p.relid::text, p.short_name "
							 "FROM onshikaku.per_insurer_table p, onshikaku.insurer i, onshikaku.insurer_kind_capability c "
							 "WHERE i.insurer_id = %d AND c.kind = i.kind "
							 "AND (p.requires IS NULL OR (pg_catalog.to_jsonb(c) ->> p.requires)::boolean) "
							 "ORDER BY p.create_order", id),
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read onshikaku.per_insurer_table");
	n = SPI_processed;
	if (n == 0)
		elog(ERROR, "insurer %d has no per-insurer table to partition", id);
	tt = SPI_tuptable;
	SPI_tuptable = NULL;
	for (uint64 i = 0; i < n; i++)
	{
		char	   *parent = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);
		char	   *shortname = SPI_getvalue(tt->vals[i], tt->tupdesc, 2);
		char	   *part = psprintf("onshikaku.%s", quote_identifier(psprintf("%s_%d", shortname, id)));

		run(psprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE "
					 "INCLUDING COMPRESSION, CONSTRAINT insurer_partition CHECK (insurer_id IS NOT NULL AND insurer_id = %d))",
					 part, parent, id), SPI_OK_UTILITY);
		run(psprintf("ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY", part), SPI_OK_UTILITY);
		run(psprintf("CREATE POLICY insurer_isolation ON %s "
					 "USING (insurer_id = onshikaku.acting_insurer())", part), SPI_OK_UTILITY);
		run(psprintf("REVOKE ALL ON %s FROM PUBLIC", part), SPI_OK_UTILITY);
		run(psprintf("ALTER TABLE %s ATTACH PARTITION %s FOR VALUES IN (%d)", parent, part, id), SPI_OK_UTILITY);
		/* the constraint served only to skip the validation scan */
		run(psprintf("ALTER TABLE %s DROP CONSTRAINT insurer_partition", part), SPI_OK_UTILITY);
	}
	SPI_freetuptable(tt);
}

/* Privileged part of register_insurer(). */
static void
register_privileged(void *arg)
{
	RegisterArgs *a = arg;
	Oid			types[4] = {osk_type_oid("insurer_number"), osk_type_oid("public_payer_number"),
	TEXTOID, osk_type_oid("insurer_kind")};
	Datum		values[4] = {Int64GetDatum(a->insurer_number), Int64GetDatum(a->public_payer_number),
	PointerGetDatum(a->name), a->kind};
	char		nulls[4] = {a->insurer_number ? ' ' : 'n', a->public_payer_number ? ' ' : 'n', ' ', ' '};
	bool		isnull;

	if (SPI_execute_with_args("INSERT INTO onshikaku.insurer (insurer_id, insurer_number, public_payer_number, name, kind) "
							  "VALUES (nextval('onshikaku.insurer_id_seq'), $1, $2, $3, $4) RETURNING insurer_id",
							  4, types, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not register the insurer");
	a->insurer_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	create_partitions(a->insurer_id);
}

/*
 * onshikaku.register_insurer(insurer_number, name, kind [, public_payer_number]):
 * the registry row and every partition, or nothing.  Returns insurer_id.
 */
PG_FUNCTION_INFO_V1(osk_register_insurer);
Datum
osk_register_insurer(PG_FUNCTION_ARGS)
{
	RegisterArgs a = {0};

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an insurer needs a name and a kind")));
	if (PG_ARGISNULL(0) && (PG_NARGS() < 4 || PG_ARGISNULL(3)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an insurer needs an insurer number, or a public payer number for a 生活保護 body")));
	a.insurer_number = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	a.public_payer_number = PG_NARGS() < 4 || PG_ARGISNULL(3) ? 0 : PG_GETARG_INT64(3);
	a.name = PG_GETARG_TEXT_PP(1);
	a.kind = PG_GETARG_DATUM(2);
	osk_run_privileged(register_privileged, &a);
	PG_RETURN_INT32(a.insurer_id);
}

typedef struct RemoveArgs
{
	int32		insurer_id;
	bool		found;
	char	   *holding;		/* out: a table that still holds rows */
} RemoveArgs;

/* Privileged part of remove_insurer(). */
static void
remove_privileged(void *arg)
{
	RemoveArgs *a = arg;
	uint64		n;
	SPITupleTable *tt;
	StringInfoData sql;

	if (SPI_execute(psprintf("SELECT 1 FROM onshikaku.insurer WHERE insurer_id = %d FOR UPDATE", a->insurer_id),
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read onshikaku.insurer");
	if (SPI_processed == 0)
		return;
	a->found = true;
	/* nothing may hide a row from the check below */
	(void) set_config_option("row_security", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_execute(psprintf("SELECT p.relid::text, p.short_name FROM onshikaku.per_insurer_table p "
							 "WHERE pg_catalog.to_regclass('onshikaku.' || pg_catalog.quote_ident(p.short_name || '_%d')) IS NOT NULL "
							 "ORDER BY p.create_order DESC", a->insurer_id),
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read onshikaku.per_insurer_table");
	n = SPI_processed;
	tt = SPI_tuptable;
	SPI_tuptable = NULL;
	/* retention binds as long as any partition holds a row */
	for (uint64 i = 0; i < n; i++)
	{
		char	   *part = psprintf("onshikaku.%s",
									quote_identifier(psprintf("%s_%d", SPI_getvalue(tt->vals[i], tt->tupdesc, 2),
															  a->insurer_id)));

		/* a purged card 枝番 (no person) only keeps the value taken: not data */
		bool		tombstones = strcmp(SPI_getvalue(tt->vals[i], tt->tupdesc, 2), "card_branch_issue") == 0;

		if (SPI_execute(psprintf("SELECT 1 FROM %s%s LIMIT 1", part,
								 tombstones ? " WHERE link_number IS NOT NULL" : ""), true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read %s", part);
		if (SPI_processed > 0)
		{
			a->holding = SPI_getvalue(tt->vals[i], tt->tupdesc, 2);
			return;
		}
	}
	initStringInfo(&sql);
	for (uint64 i = 0; i < n; i++)
	{
		char	   *parent = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);
		char	   *part = psprintf("onshikaku.%s",
									quote_identifier(psprintf("%s_%d", SPI_getvalue(tt->vals[i], tt->tupdesc, 2),
															  a->insurer_id)));

		run(psprintf("ALTER TABLE %s DETACH PARTITION %s", parent, part), SPI_OK_UTILITY);
		run(psprintf("DROP TABLE %s", part), SPI_OK_UTILITY);
	}
	run(psprintf("DELETE FROM onshikaku.insurer WHERE insurer_id = %d", a->insurer_id), SPI_OK_DELETE);
	SPI_freetuptable(tt);
}

/*
 * onshikaku.remove_insurer(insurer_id): drop an insurer's partitions and
 * registry row; refused while any of its data is still held, which the
 * retention rules (the purge) decide.
 */
PG_FUNCTION_INFO_V1(osk_remove_insurer);
Datum
osk_remove_insurer(PG_FUNCTION_ARGS)
{
	RemoveArgs	a = {0};

	a.insurer_id = PG_GETARG_INT32(0);
	osk_run_privileged(remove_privileged, &a);
	if (!a.found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("insurer %d is not registered", a.insurer_id)));
	if (a.holding != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("insurer %d still holds data in %s", a.insurer_id, a.holding),
				 errdetail("Its data stays until the retention rules let it be purged."),
				 errhint("Remove the insurer once its data has been purged.")));
	PG_RETURN_VOID();
}
