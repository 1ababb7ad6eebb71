/*
 * confirmation.c
 *	  onshikaku.confirm_qualification(): what online qualification
 *	  confirmation (OQS) answers at a counter, by card.
 *
 * The hot path of the system (about 2 billion visits a year): one index
 * scan of the insurer's qualification partition by (記号, 番号, 枝番) and,
 * only for a qualification with certificates besides its insurance card,
 * one of its card partition by qualification (the insurance card of the
 * enrolment is copied on the qualification row: card_copied); no planner
 * and no executor.  It
 * answers for every insurer (OQS is national), so there is no isolation
 * predicate; the right to call it is membership in onshikaku_oqs_feed of
 * the outer user (SET ROLE or the session user), as for every flow.
 * No personal number goes in or comes out; 限度額 and 特定疾病 items only
 * with the patient's consent; address and postcode never for a person
 * under DV support measures (seed 000/003).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "card_lookup.h"
#include "confirmation.h"
#include "privileged.h"

/* Columns of onshikaku.confirmation, in order. */
enum
{
	C_STATUS, C_INSURER_NUMBER, C_SYMBOL, C_NUMBER, C_BRANCH, C_NAME, C_NAME_KANA,
	C_SEX, C_BIRTH, C_INSURED_OR_DEPENDENT, C_INSURED_NAME, C_ACQUIRED, C_LOST,
	C_LOSS_REASON, C_ADDRESS, C_POSTCODE, C_NONDISCLOSURE, C_COPAY, C_ELDERLY_TO,
	C_LIMIT_CLASS, C_LONG_TERM, C_DISEASE_CLASS, C_DISEASE_LIMIT, C_WITHHELD,
	C_COUNT
};

/* Qualification columns read, by name; Q_* index them. */
static const char *const qual_columns[] = {
	"card_symbol", "card_number", "card_branch", "name_on_card", "name_on_card_kana",
	"sex1", "birth_date", "insured_or_dependent", "insured_person_name", "acquired_on",
	"lost_on", "loss_reason", "address", "postcode", "dv_nondisclosure", "deleted",
	"qualification_id", "card_copied", "card_copay_ratio", "card_valid_from", "card_valid_to"
};
enum
{
	Q_SYMBOL, Q_NUMBER, Q_BRANCH, Q_NAME, Q_NAME_KANA, Q_SEX, Q_BIRTH, Q_IOD,
	Q_INSURED_NAME, Q_ACQUIRED, Q_LOST, Q_LOSS_REASON, Q_ADDRESS, Q_POSTCODE, Q_DV,
	Q_DELETED, Q_ID, Q_CARD_COPIED, Q_CARD_COPAY, Q_CARD_FROM, Q_CARD_TO, Q_COUNT
};

static const char *const card_columns[] = {
	"kind", "valid_from", "valid_to", "recalled_on", "copay_ratio", "applicable_class",
	"long_term_admission_on", "certified_disease_class", "copay_limit"
};
enum
{
	K_KIND, K_FROM, K_TO, K_RECALLED, K_COPAY, K_APPLICABLE, K_LONG_TERM,
	K_DISEASE_CLASS, K_COPAY_LIMIT, K_COUNT
};

/* insurer_number -> insurer_id, kept while the registry has them. */
typedef struct NumberEntry
{
	int64		insurer_number;
	int32		insurer_id;
} NumberEntry;

static HTAB *numbers = NULL;

static Oid	qualification_oid = InvalidOid;

/*
 * Relcache callback: remove_insurer() drops the insurer's partitions, which
 * invalidates the qualification parent; forget every number then.
 */
static void
numbers_invalidated(Datum arg, Oid relid)
{
	if (numbers != NULL && (relid == InvalidOid || relid == qualification_oid))
	{
		hash_destroy(numbers);
		numbers = NULL;
	}
}

void
osk_confirmation_init(void)
{
	CacheRegisterRelcacheCallback(numbers_invalidated, (Datum) 0);
}

typedef struct Lookup
{
	int64		insurer_number;
	int32		insurer_id;
} Lookup;

/* Run as the registry's owner (the caller may not read it): number -> id. */
static void
lookup_number(void *arg)
{
	static SPIPlanPtr plan = NULL;
	Lookup	   *l = (Lookup *) arg;
	Datum		values[1] = {Int64GetDatum(l->insurer_number)};
	bool		isnull;

	if (plan == NULL)
	{
		Oid			types[1] = {osk_type_oid("insurer_number")};

		plan = SPI_prepare("SELECT insurer_id FROM onshikaku.insurer "
						   "WHERE insurer_number OPERATOR(onshikaku.=) $1", 1, types);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the insurer lookup");
	}
	if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "the insurer lookup failed");
	if (SPI_processed == 1)
		l->insurer_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The insurer_id of an insurer number; 0 when none is registered.  A miss
 * asks the registry every time (so a new insurer is seen at once); a hit
 * stays until the registry's relcache entry is invalidated, which
 * remove_insurer() causes (it drops partitions).
 */
static int32
insurer_id_of(int64 insurer_number)
{
	NumberEntry *e;
	bool		found;
	Lookup		l = {insurer_number, 0};

	if (numbers == NULL)
	{
		HASHCTL		ctl = {0};

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(NumberEntry);
		numbers = hash_create("onshikaku insurer numbers", 512, &ctl, HASH_ELEM | HASH_BLOBS);
		qualification_oid = osk_relation_oid("qualification");
	}
	e = hash_search(numbers, &insurer_number, HASH_FIND, &found);
	if (found)
		return e->insurer_id;

	osk_run_privileged(lookup_number, &l);
	if (l.insurer_id != 0)
	{
		e = hash_search(numbers, &insurer_number, HASH_ENTER, &found);
		e->insurer_id = l.insurer_id;
	}
	return l.insurer_id;
}

/* Attribute numbers (of the parent) of a list of column names. */
static void
parent_attnums(Oid parent, const char *const *names, int n, AttrNumber *out)
{
	for (int i = 0; i < n; i++)
	{
		out[i] = get_attnum(parent, names[i]);
		if (out[i] == InvalidAttrNumber)
			elog(ERROR, "table %s has no column %s", get_rel_name(parent), names[i]);
	}
}

/* Is a date (NULL bounds open) within [from, to]? */
static bool
within(DateADT d, bool from_null, DateADT from, bool to_null, DateADT to)
{
	return (from_null || from <= d) && (to_null || d <= to);
}

/*
 * The cards of a qualification valid on a date: copy the answer items of
 * each kind into values/nulls (the consent-only ones when consent).
 */
static void
read_cards(int32 insurer_id, int64 qualification_id, DateADT on, bool consent,
		   Datum *values, bool *nulls)
{
	static AttrNumber katts[K_COUNT];
	static Oid	kparent = InvalidOid;
	const OskPartition *p = osk_partition_of("card", "card_qualification", insurer_id);
	Relation	heap;
	Relation	index;
	ScanKeyData keys[2];
	IndexScanDesc scan;
	TupleTableSlot *slot;
	Oid			parent = osk_relation_oid("card");

	if (!OidIsValid(p->heap))
		return;
	if (kparent != parent)
	{
		parent_attnums(parent, card_columns, K_COUNT, katts);
		kparent = parent;
	}
	heap = table_open(p->heap, AccessShareLock);
	index = index_open(p->index, AccessShareLock);
	ScanKeyEntryInitialize(&keys[0], 0, 1, BTEqualStrategyNumber, InvalidOid,
						   InvalidOid, F_INT4EQ, Int32GetDatum(insurer_id));
	ScanKeyEntryInitialize(&keys[1], 0, 2, BTEqualStrategyNumber, InvalidOid,
						   InvalidOid, F_INT8EQ, Int64GetDatum(qualification_id));
	slot = table_slot_create(heap, NULL);
	scan = index_beginscan(heap, index, GetActiveSnapshot(), 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		Datum		k[K_COUNT];
		bool		kn[K_COUNT];
		char	   *kind;

		for (int i = 0; i < K_COUNT; i++)
			k[i] = slot_getattr(slot, p->attmap[katts[i]], &kn[i]);
		if (!within(on, kn[K_FROM], DatumGetDateADT(k[K_FROM]), kn[K_TO], DatumGetDateADT(k[K_TO])))
			continue;
		if (!kn[K_RECALLED] && DatumGetDateADT(k[K_RECALLED]) <= on)
			continue;
		kind = DatumGetCString(DirectFunctionCall1(enum_out, k[K_KIND]));
		if (strcmp(kind, "insurance_card") == 0 || strcmp(kind, "elderly_recipient") == 0)
		{
			/* the 高齢受給者証 ratio, when there is one, is the one that applies */
			if (!kn[K_COPAY] && (nulls[C_COPAY] || kind[0] == 'e'))
			{
				values[C_COPAY] = k[K_COPAY];
				nulls[C_COPAY] = false;
			}
			if (kind[0] == 'e')
			{
				values[C_ELDERLY_TO] = k[K_TO];
				nulls[C_ELDERLY_TO] = kn[K_TO];
			}
		}
		else if (consent && strcmp(kind, "limit_certificate") == 0)
		{
			/* copied: the slot's buffer is released before the answer is formed */
			values[C_LIMIT_CLASS] = kn[K_APPLICABLE] ? (Datum) 0 : datumCopy(k[K_APPLICABLE], false, -1);
			nulls[C_LIMIT_CLASS] = kn[K_APPLICABLE];
			values[C_LONG_TERM] = k[K_LONG_TERM];
			nulls[C_LONG_TERM] = kn[K_LONG_TERM];
		}
		else if (consent && strcmp(kind, "specific_disease") == 0)
		{
			values[C_DISEASE_CLASS] = kn[K_DISEASE_CLASS] ? (Datum) 0 : datumCopy(k[K_DISEASE_CLASS], false, -1);
			nulls[C_DISEASE_CLASS] = kn[K_DISEASE_CLASS];
			values[C_DISEASE_LIMIT] = k[K_COPAY_LIMIT];
			nulls[C_DISEASE_LIMIT] = kn[K_COPAY_LIMIT];
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(heap, NoLock);
}

/*
 * onshikaku.confirm_qualification(insurer_number, card_symbol, card_number,
 * card_branch, birth_date, on_date, consent): one onshikaku.confirmation
 * row.  status is 'qualified' (a row valid on the date), 'lost' (the card's
 * person lost the qualification on or before it), 'not_yet_qualified', or
 * 'not_found' (no such card, or the birth date does not match: the answer
 * never tells which).
 */
PG_FUNCTION_INFO_V1(osk_confirm_qualification);
Datum
osk_confirm_qualification(PG_FUNCTION_ARGS)
{
	static AttrNumber qatts[Q_COUNT];
	static Oid	qparent = InvalidOid;
	static Oid	feed_role = InvalidOid;
	TupleDesc	desc;
	Datum		values[C_COUNT];
	bool		nulls[C_COUNT];
	Datum		best[Q_COUNT];
	bool		bestn[Q_COUNT];
	const char *status = "not_found";
	int			rank = 0;		/* 3 qualified, 2 lost, 1 not yet */
	int32		insurer_id;
	DateADT		birth;
	DateADT		on;
	bool		consent;
	const OskPartition *p;
	Oid			parent = osk_relation_oid("qualification");

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "confirm_qualification must return a composite type");
	for (int i = 0; i < 7; i++)
		if (i != 1 && PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %d of confirm_qualification must not be null", i + 1)));

	/* the right to confirm: OQS (or a superuser) */
	if (!OidIsValid(feed_role))
		feed_role = get_role_oid("onshikaku_oqs_feed", false);
	/* judged on the outer user, like the SQL flows (flows.c) */
	if (!superuser_arg(GetOuterUserId()) && !has_privs_of_role(GetOuterUserId(), feed_role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: confirming a qualification needs the rights of onshikaku_oqs_feed")));

	birth = PG_GETARG_DATEADT(4);
	on = PG_GETARG_DATEADT(5);
	consent = PG_GETARG_BOOL(6);
	memset(nulls, true, sizeof(nulls));
	values[C_INSURER_NUMBER] = PG_GETARG_DATUM(0);
	nulls[C_INSURER_NUMBER] = false;

	if (qparent != parent)
	{
		parent_attnums(parent, qual_columns, Q_COUNT, qatts);
		qparent = parent;
	}
	insurer_id = insurer_id_of(PG_GETARG_INT64(0));
	p = insurer_id ? osk_partition_of("qualification", "qualification_card", insurer_id) : NULL;
	if (p != NULL && OidIsValid(p->heap))
	{
		Relation	heap = table_open(p->heap, AccessShareLock);
		Relation	index = index_open(p->index, AccessShareLock);
		ScanKeyData keys[4];
		IndexScanDesc scan;
		TupleTableSlot *slot = table_slot_create(heap, NULL);

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
		scan = index_beginscan(heap, index, GetActiveSnapshot(), 4, 0);
		index_rescan(scan, keys, 4, NULL, 0);
		while (index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			Datum		q[Q_COUNT];
			bool		qn[Q_COUNT];
			int			r;

			for (int i = 0; i < Q_COUNT; i++)
				q[i] = slot_getattr(slot, p->attmap[qatts[i]], &qn[i]);
			if (DatumGetBool(q[Q_DELETED]) || DatumGetDateADT(q[Q_BIRTH]) != birth)
				continue;
			if (DatumGetDateADT(q[Q_ACQUIRED]) > on)
				r = 1;
			else if (!qn[Q_LOST] && DatumGetDateADT(q[Q_LOST]) <= on)
				r = 2;
			else
				r = 3;
			/* the best row: qualified over lost over not yet; the latest among equals */
			if (r > rank || (r == rank && DatumGetDateADT(q[Q_ACQUIRED]) > DatumGetDateADT(best[Q_ACQUIRED])))
			{
				rank = r;
				for (int i = 0; i < Q_COUNT; i++)
				{
					bestn[i] = qn[i];
					best[i] = qn[i] ? (Datum) 0 :
						datumCopy(q[i], TupleDescAttr(slot->tts_tupleDescriptor, p->attmap[qatts[i]] - 1)->attbyval,
								  TupleDescAttr(slot->tts_tupleDescriptor, p->attmap[qatts[i]] - 1)->attlen);
				}
			}
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		index_close(index, NoLock);
		table_close(heap, NoLock);
	}

	if (rank > 0)
	{
		static const int map[][2] = {
			{C_SYMBOL, Q_SYMBOL}, {C_NUMBER, Q_NUMBER}, {C_BRANCH, Q_BRANCH},
			{C_NAME, Q_NAME}, {C_NAME_KANA, Q_NAME_KANA}, {C_SEX, Q_SEX}, {C_BIRTH, Q_BIRTH},
			{C_INSURED_OR_DEPENDENT, Q_IOD}, {C_INSURED_NAME, Q_INSURED_NAME},
			{C_ACQUIRED, Q_ACQUIRED}, {C_LOST, Q_LOST}, {C_LOSS_REASON, Q_LOSS_REASON},
			{C_ADDRESS, Q_ADDRESS}, {C_POSTCODE, Q_POSTCODE}, {C_NONDISCLOSURE, Q_DV}
		};

		status = rank == 3 ? "qualified" : rank == 2 ? "lost" : "not_yet_qualified";
		for (int i = 0; i < (int) lengthof(map); i++)
		{
			values[map[i][0]] = best[map[i][1]];
			nulls[map[i][0]] = bestn[map[i][1]];
		}
		if (DatumGetBool(best[Q_DV]))
		{
			/* DV支援措置: the address is never disclosed */
			nulls[C_ADDRESS] = true;
			nulls[C_POSTCODE] = true;
		}
		if (rank == 3 && DatumGetBool(best[Q_CARD_COPIED]))
		{
			/*
			 * Only the insurance card of the enrolment, copied on the row
			 * (enroll_member, enroll_members; record_loss ends the copy as it
			 * ends the card, add_certificate clears card_copied): read_cards()
			 * would find that one card and answer the same.
			 */
			if (!bestn[Q_CARD_COPAY] &&
				within(on, bestn[Q_CARD_FROM], DatumGetDateADT(best[Q_CARD_FROM]),
					   bestn[Q_CARD_TO], DatumGetDateADT(best[Q_CARD_TO])))
			{
				values[C_COPAY] = best[Q_CARD_COPAY];
				nulls[C_COPAY] = false;
			}
		}
		else if (rank == 3)
			read_cards(insurer_id, DatumGetInt64(best[Q_ID]), on, consent, values, nulls);
		values[C_WITHHELD] = BoolGetDatum(!consent);
		nulls[C_WITHHELD] = false;
	}
	values[C_STATUS] = CStringGetTextDatum(status);
	nulls[C_STATUS] = false;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
