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

typedef struct PartKey
{
	Oid			index_parent;	/* the partitioned index */
	int32		insurer_id;
} PartKey;

typedef struct PartEntry
{
	PartKey		key;			/* hash key */
	OskPartition part;
} PartEntry;

static HTAB *parts = NULL;
static MemoryContext parts_cxt = NULL;
static Oid	parents[16];		/* the parents with entries in parts */
static int	nparents = 0;

/* Relcache callback: a parent's partitions may have changed (attach, detach). */
static void
parts_invalidated(Datum arg, Oid relid)
{
	bool		ours = (relid == InvalidOid);

	for (int i = 0; i < nparents && !ours; i++)
		ours = (parents[i] == relid);
	if (parts != NULL && ours)
	{
		nparents = 0;
		hash_destroy(parts);
		parts = NULL;
		MemoryContextReset(parts_cxt);
	}
}

void
osk_card_lookup_init(void)
{
	CacheRegisterRelcacheCallback(parts_invalidated, (Datum) 0);
}

/*
 * The partition of an insurer behind a partitioned index of a per-insurer
 * table (named "<table>_<insurer_id>"), the index's partition on it, and
 * the partition's attribute number of every parent column, cached until
 * the parent's relcache entry is invalidated (a partition attached or
 * detached, or a full reset).  part->heap is InvalidOid when the
 * insurer has no such partition.
 */
const OskPartition *
osk_partition_of(const char *table, const char *index_name, int32 insurer_id)
{
	PartKey		key;
	PartEntry  *e;
	bool		found;
	Oid			nsp;
	Oid			parent;
	Relation	rel;
	Relation	prel;
	TupleDesc	desc;
	char		name[NAMEDATALEN];

	memset(&key, 0, sizeof(key));
	key.index_parent = osk_relation_oid(index_name);
	key.insurer_id = insurer_id;
	if (parts == NULL)
	{
		HASHCTL		ctl = {0};

		if (parts_cxt == NULL)
			parts_cxt = AllocSetContextCreate(TopMemoryContext, "onshikaku partitions",
											  ALLOCSET_DEFAULT_SIZES);
		ctl.keysize = sizeof(PartKey);
		ctl.entrysize = sizeof(PartEntry);
		ctl.hcxt = parts_cxt;
		parts = hash_create("onshikaku partitions", 256, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	e = hash_search(parts, &key, HASH_FIND, &found);
	if (found)
		return &e->part;

	/* read the catalog before entering the entry, so an error leaves none */
	parent = osk_relation_oid(table);
	nsp = get_rel_namespace(parent);
	snprintf(name, sizeof(name), "%s_%d", table, insurer_id);
	{
		OskPartition p = {InvalidOid, InvalidOid, 0, NULL};

		p.heap = get_relname_relid(name, nsp);
		if (OidIsValid(p.heap))
		{
			rel = table_open(p.heap, AccessShareLock);
			p.index = index_get_partition(rel, key.index_parent);
			if (!OidIsValid(p.index))
				elog(ERROR, "partition %s has no partition of index %s", name, index_name);
			prel = table_open(parent, AccessShareLock);
			desc = RelationGetDescr(prel);
			p.natts = desc->natts;
			p.attmap = MemoryContextAllocZero(parts_cxt, sizeof(AttrNumber) * (desc->natts + 1));
			for (int i = 0; i < desc->natts; i++)
			{
				Form_pg_attribute att = TupleDescAttr(desc, i);

				if (att->attisdropped)
					continue;
				p.attmap[att->attnum] = get_attnum(p.heap, NameStr(att->attname));
				if (p.attmap[att->attnum] == InvalidAttrNumber)
					elog(ERROR, "partition %s has no column %s", name, NameStr(att->attname));
			}
			table_close(prel, NoLock);
			table_close(rel, NoLock);
		}
		{
			bool		known = false;

			for (int i = 0; i < nparents; i++)
				known = known || parents[i] == parent;
			if (!known && nparents == lengthof(parents))
				elog(ERROR, "too many per-insurer tables in the partition cache");
			if (!known)
				parents[nparents++] = parent;
		}
		e = hash_search(parts, &key, HASH_ENTER, &found);
		e->part = p;
	}
	return &e->part;
}

/* The caller must be allowed to read every returned column of the parent. */
static void
check_column_privileges(Oid parent_oid, const AttrNumber *atts)
{
	Oid			user = GetUserId();

	for (int i = 0; i < (int) NCOLS; i++)
	{
		AttrNumber	att = atts[i];

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
	Relation	heap;
	Relation	index;
	ScanKeyData keys[4];
	IndexScanDesc scan;
	TupleTableSlot *slot;
	const OskPartition *p;
	Oid			parent_oid = osk_relation_oid("qualification");
	AttrNumber	atts[NCOLS];

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		return (Datum) 0;
	insurer_id = PG_GETARG_INT32(0);
	for (int i = 0; i < (int) NCOLS; i++)
		atts[i] = get_attnum(parent_oid, result_columns[i]);
	check_column_privileges(parent_oid, atts);

	/* isolation: what row-level security on the parent would admit */
	if (!superuser())
	{
		acting = osk_acting_insurer_value(&acting_null);
		if (acting_null || acting != insurer_id)
			return (Datum) 0;
	}

	p = osk_partition_of("qualification", "qualification_card", insurer_id);
	if (!OidIsValid(p->heap))
		return (Datum) 0;
	heap = table_open(p->heap, AccessShareLock);
	index = index_open(p->index, AccessShareLock);

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
			values[i] = slot_getattr(slot, p->attmap[atts[i]], &nulls[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(heap, NoLock);
	return (Datum) 0;
}
