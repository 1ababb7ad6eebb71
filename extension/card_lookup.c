/*
 * card_lookup.c
 *	  onshikaku.find_by_card(): a person's qualification rows by (insurer,
 *	  記号, 番号, 枝番), read straight from that insurer's partition index.
 *
 * A query on the partitioned parent costs, on PostgreSQL 15, planning over
 * (custom plan) or locking of (generic plan) every one of the 3,500
 * partitions, since the isolation predicate is only known when the
 * executor starts.  This is the path the counter lookups take instead:
 * no planner and no executor, one partition and one index opened, with the
 * same guarantees as the parent:
 *
 *	 - isolation: rows only for the insurer onshikaku.acting_insurer()
 *	   answers (nothing otherwise), as row-level security would;
 *	 - privileges: the caller must hold SELECT on every column returned;
 *	 - no personal number is returned (those columns are not in the result).
 *
 * The partition and index of each insurer are cached per backend and
 * forgotten whenever the parent's partition set changes.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/partition.h"
#include "catalog/pg_collation.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "card_lookup.h"
#include "isolation.h"
#include "privileged.h"

/* The columns returned, in order; none is a personal number. */
static const char *const result_columns[] = {
	"qualification_id", "insured_branch_number", "link_number", "name_on_card",
	"birth_date", "acquired_on", "lost_on", "loss_reason", "insured_or_dependent",
	"dv_nondisclosure", "deleted"
};
#define NCOLS lengthof(result_columns)

typedef struct PartEntry
{
	int32		insurer_id;		/* hash key */
	Oid			heap;			/* InvalidOid: the insurer has no partition */
	Oid			index;
	AttrNumber	attnums[NCOLS];
} PartEntry;

static HTAB *parts = NULL;
static Oid	parent_oid = InvalidOid;

/* Relcache callback: the parent's partitions changed (attach, detach). */
static void
parts_invalidated(Datum arg, Oid relid)
{
	if (parts != NULL && (relid == InvalidOid || relid == parent_oid))
	{
		hash_destroy(parts);
		parts = NULL;
		parent_oid = InvalidOid;
	}
}

void
osk_card_lookup_init(void)
{
	CacheRegisterRelcacheCallback(parts_invalidated, (Datum) 0);
}

/* The partition and card index of an insurer, from the cache or the catalog. */
static PartEntry *
partition_of(int32 insurer_id)
{
	PartEntry  *e;
	bool		found;
	Oid			nsp;
	Relation	rel;
	char		name[NAMEDATALEN];

	if (parts == NULL)
	{
		HASHCTL		ctl = {0};

		ctl.keysize = sizeof(int32);
		ctl.entrysize = sizeof(PartEntry);
		parts = hash_create("onshikaku card lookup partitions", 256, &ctl, HASH_ELEM | HASH_BLOBS);
		parent_oid = osk_relation_oid("qualification");
	}
	e = hash_search(parts, &insurer_id, HASH_ENTER, &found);
	if (found)
		return e;
	e->heap = InvalidOid;
	nsp = get_rel_namespace(parent_oid);
	snprintf(name, sizeof(name), "qualification_%d", insurer_id);
	e->heap = get_relname_relid(name, nsp);
	if (!OidIsValid(e->heap))
		return e;
	rel = table_open(e->heap, AccessShareLock);
	e->index = index_get_partition(rel, get_relname_relid("qualification_card", nsp));
	for (int i = 0; i < (int) NCOLS; i++)
	{
		e->attnums[i] = get_attnum(e->heap, result_columns[i]);
		if (e->attnums[i] == InvalidAttrNumber)
			elog(ERROR, "partition %s has no column %s", name, result_columns[i]);
	}
	table_close(rel, NoLock);
	if (!OidIsValid(e->index))
		elog(ERROR, "partition %s has no card index", name);
	return e;
}

/* The caller must be allowed to read every returned column of the parent. */
static void
check_column_privileges(void)
{
	Oid			user = GetUserId();

	for (int i = 0; i < (int) NCOLS; i++)
	{
		AttrNumber	att = get_attnum(parent_oid, result_columns[i]);

		if (pg_attribute_aclcheck(parent_oid, att, user, ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for table qualification")));
	}
}

/*
 * onshikaku.find_by_card(insurer_id, card_symbol, card_number, card_branch):
 * see the file header.  A NULL 記号 matches rows without one.
 */
PG_FUNCTION_INFO_V1(osk_find_by_card);
Datum
osk_find_by_card(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		insurer_id;
	bool		acting_null;
	int32		acting;
	PartEntry  *e;
	Relation	heap;
	Relation	index;
	ScanKeyData keys[4];
	IndexScanDesc scan;
	TupleTableSlot *slot;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		return (Datum) 0;
	insurer_id = PG_GETARG_INT32(0);
	if (parts == NULL || !OidIsValid(parent_oid))
		parent_oid = osk_relation_oid("qualification");
	check_column_privileges();

	/* isolation: what row-level security on the parent would admit */
	if (!superuser())
	{
		acting = osk_acting_insurer_value(&acting_null);
		if (acting_null || acting != insurer_id)
			return (Datum) 0;
	}

	e = partition_of(insurer_id);
	if (!OidIsValid(e->heap))
		return (Datum) 0;
	heap = table_open(e->heap, AccessShareLock);
	index = index_open(e->index, AccessShareLock);

	ScanKeyEntryInitialize(&keys[0], 0, 1, BTEqualStrategyNumber, InvalidOid,
						   InvalidOid, F_INT4EQ, Int32GetDatum(insurer_id));
	if (PG_ARGISNULL(1))
		ScanKeyEntryInitialize(&keys[1], SK_ISNULL | SK_SEARCHNULL, 2, InvalidStrategy,
							   InvalidOid, InvalidOid, InvalidOid, (Datum) 0);
	else
		ScanKeyEntryInitialize(&keys[1], 0, 2, BTEqualStrategyNumber, InvalidOid,
							   index->rd_indcollation[1], F_TEXTEQ, PG_GETARG_DATUM(1));
	ScanKeyEntryInitialize(&keys[2], 0, 3, BTEqualStrategyNumber, InvalidOid,
						   index->rd_indcollation[2], F_TEXTEQ, PG_GETARG_DATUM(2));
	ScanKeyEntryInitialize(&keys[3], 0, 4, BTEqualStrategyNumber, InvalidOid,
						   InvalidOid, F_INT2EQ, PG_GETARG_DATUM(3));

	slot = table_slot_create(heap, NULL);
	scan = index_beginscan(heap, index, GetActiveSnapshot(), 4, 0);
	index_rescan(scan, keys, 4, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		Datum		values[NCOLS];
		bool		nulls[NCOLS];

		for (int i = 0; i < (int) NCOLS; i++)
			values[i] = slot_getattr(slot, e->attnums[i], &nulls[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(heap, NoLock);
	return (Datum) 0;
}
