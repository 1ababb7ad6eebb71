/*
 * bulk_enrolment.c
 *	  onshikaku.enroll_members(insurer_id, member_input[]): 資格取得 of many
 *	  people of one insurer in one call, set-based.
 *
 * The same rules as enroll_member() (40_flows.sql), in the same order, with
 * the same messages: every member is checked before anything is written
 * and the first bad one (by position) fails the call; a person seen before
 * keeps the 紐付番号, a person known to the insurer gets the 被保険者枝番
 * back and the card 枝番 it had; new people get numbers drawn from the
 * CSPRNG (issuance.c), the card 枝番 by the rule of docs/flows.md.
 *
 * Why C: the load is a handful of statements whatever the number of
 * members.  The members are checked, encrypted and blind-indexed here, kept
 * in memory (no work table: no My Number in clear anywhere but this
 * backend's memory, wiped when done), and written by one INSERT per table
 * from arrays (unnest), through plans prepared once per backend.  Inserts
 * go to the partitioned parents, so a plan does not name, lock or plan the
 * insurer's partitions; the reads of a partition (a person known to the
 * insurer, the 枝番 already used on a card) name this insurer only.
 *
 * Two paths.  The fast one reads who is known and writes the new person,
 * registration and 枝番 rows with plain INSERTs in a subtransaction (a
 * speculative INSERT ... ON CONFLICT costs about twice a plain one).  When
 * a concurrent enrolment or a collision of drawn numbers makes one of them
 * fail on a unique constraint, the subtransaction is rolled back and the
 * careful path does it again with ON CONFLICT DO NOTHING and reads back
 * what it did not write, as enroll_member() does.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "card_lookup.h"
#include "crypto.h"
#include "encrypted_types.h"
#include "ident.h"
#include "issuance.h"
#include "privileged.h"

#define BI_LEN 32				/* onshikaku.blind_index */

#define MAX_DRAWS 16			/* rounds of issuance before giving up */

/* member_input, attribute by attribute (40_flows.sql) */
enum
{
	M_MY_NUMBER, M_CARD_NUMBER, M_ACQUIRED_ON, M_BIRTH_DATE, M_CARD_SYMBOL,
	M_IOD, M_NAME, M_KANA, M_SEX, M_ADDRESS, M_POSTCODE, M_MUNICIPALITY,
	M_HOUSEHOLD, M_INSURED_PERSON_NAME, M_COPAY, M_RECIPIENT, M_DV, M_COUNT
};

typedef struct Member
{
	Datum		v[M_COUNT];
	bool		n[M_COUNT];
	int64		ordinal;		/* 1-based position in the input */
	Datum		enc;			/* onshikaku.encrypted */
	uint8	   *bi;				/* the blind index, BI_LEN bytes */
	int64		link;			/* 0 until known */
	bool		new_person;		/* link drawn now: not seen nationally */
	int64		pmh;
	bool		has_pmh;
	int64		ibn;			/* 0 until known */
	bool		reused;
	int16		branch;
	bool		has_branch;
	bool		had_branch;		/* the person's own, already recorded */
	int64		qid;
} Member;

/* the types the statements take, looked up once per backend */
typedef struct BulkTypes
{
	Oid			member_input;
	Oid			link_arr;
	Oid			bi_arr;
	Oid			ibn_arr;
	Oid			branch_arr;
	Oid			enc_arr;
	Oid			recipient_arr;
	Oid			pmh_arr;
	Oid			insurer_number;
	Oid			public_payer;
	Oid			link;
	Oid			bi;
	Oid			ibn;
	Oid			branch;
	Oid			enc;
	Oid			recipient;
	Oid			pmh;
} BulkTypes;

static BulkTypes types;
static bool types_known = false;

/* plans prepared once per backend (none of them names a partition) */
static SPIPlanPtr plan_insurer = NULL;
static SPIPlanPtr plan_person_ins = NULL;
static SPIPlanPtr plan_person_get = NULL;
static SPIPlanPtr plan_registration_ins = NULL;
static SPIPlanPtr plan_branch_ins = NULL;
static SPIPlanPtr plan_person_new = NULL;
static SPIPlanPtr plan_registration_new = NULL;
static SPIPlanPtr plan_branch_new = NULL;
static SPIPlanPtr plan_qualification_ins = NULL;
static SPIPlanPtr plan_card_ins = NULL;
static SPIPlanPtr plan_enrolment_new = NULL;
static SPIPlanPtr plan_enrolment_again = NULL;

/* Type OIDs by name in the extension's schema; an error if one is missing. */
static Oid
type_named(const char *name)
{
	Oid			oid = osk_type_oid(name);

	if (!OidIsValid(oid))
		elog(ERROR, "type onshikaku.%s is missing", name);
	return oid;
}

/* Looks the types up once; the extension's types never change OID. */
static void
load_types(void)
{
	if (types_known)
		return;
	types.member_input = type_named("member_input");
	types.link = type_named("link_number");
	types.bi = type_named("blind_index");
	types.ibn = type_named("insured_branch_number");
	types.branch = type_named("card_branch_number");
	types.enc = type_named("encrypted");
	types.recipient = type_named("recipient_number");
	types.pmh = type_named("pmh_id");
	types.insurer_number = type_named("insurer_number");
	types.public_payer = type_named("public_payer_number");
	types.link_arr = get_array_type(types.link);
	types.bi_arr = get_array_type(types.bi);
	types.ibn_arr = get_array_type(types.ibn);
	types.branch_arr = get_array_type(types.branch);
	types.enc_arr = get_array_type(types.enc);
	types.recipient_arr = get_array_type(types.recipient);
	types.pmh_arr = get_array_type(types.pmh);
	types_known = true;
}

/* Prepares a statement for the life of the backend (SPI must be connected). */
static SPIPlanPtr
keep(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

		if (p == NULL)
			elog(ERROR, "enroll_members: could not prepare \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "enroll_members: could not keep a plan");
		*slot = p;
	}
	return *slot;
}

/* Runs a kept plan, raising on any SPI failure. */
static void
run(SPIPlanPtr plan, Datum *values, const char *nulls, int expect)
{
	int			rc = SPI_execute_plan(plan, values, nulls, false, 0);

	if (rc != expect)
		elog(ERROR, "enroll_members: statement failed: %s", SPI_result_code_string(rc));
}

/* Runs a statement planned for this call only (it names this insurer). */
static void
run_once(const char *sql, int nargs, Oid *argtypes, Datum *values, int expect)
{
	int			rc = SPI_execute_with_args(sql, nargs, argtypes, values, NULL, false, 0);

	if (rc != expect)
		elog(ERROR, "enroll_members: statement failed: %s", SPI_result_code_string(rc));
}

/* An array of n Datums of one element type, built in the current context. */
static Datum
array_of(Datum *elems, bool *nulls, int n, Oid elemtype)
{
	int16		len;
	bool		byval;
	char		align;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(elemtype, &len, &byval, &align);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, elemtype, len, byval, align));
}

/* ---- checks -------------------------------------------------------------------- */

/* Is every byte of t an ASCII digit, and is its length between lo and hi? */
static bool
digits_between(text *t, int lo, int hi)
{
	const char *p = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);

	if (len < lo || len > hi)
		return false;
	for (int i = 0; i < len; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

/* card_number: 1 to 38 ASCII digits, letters or hyphens. */
static bool
card_number_ok(text *t)
{
	const char *p = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);

	if (len < 1 || len > 38)
		return false;
	for (int i = 0; i < len; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z') ||
			  (p[i] >= 'a' && p[i] <= 'z') || p[i] == '-'))
			return false;
	return true;
}

/*
 * card_symbol: up to 38 of 0-9 A-Z a-z - ー ・ (enroll_member()'s pattern).
 * In a UTF-8 database, by hand (ー is E3 83 BC, ・ E3 83 BB); in another
 * encoding, through the server's regex engine, as SQL would.
 */
static bool
card_symbol_ok(text *t)
{
	static text *pattern = NULL;
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	int			chars = 0;

	if (GetDatabaseEncoding() == PG_UTF8)
	{
		for (int i = 0; i < len; chars++)
		{
			if ((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z') ||
				(p[i] >= 'a' && p[i] <= 'z') || p[i] == '-')
				i++;
			else if (i + 2 < len && p[i] == 0xE3 && p[i + 1] == 0x83 && (p[i + 2] == 0xBC || p[i + 2] == 0xBB))
				i += 3;
			else
				return false;
		}
		return chars <= 38;
	}
	if (pattern == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		pattern = cstring_to_text("^[0-9A-Za-z\\-ー・]{0,38}$");
		MemoryContextSwitchTo(old);
	}
	return DatumGetBool(DirectFunctionCall2Coll(textregexeq, C_COLLATION_OID,
												PointerGetDatum(t), PointerGetDatum(pattern)));
}

/*
 * What is wrong with one member, or NULL; the order and the wording are
 * enroll_member()'s, so that a load fails the same way whichever path it
 * takes.  *number receives the My Number when it is valid.
 */
static const char *
problem_of(Member *m, DateADT today, int64 *number)
{
	text	   *mn;

	if (m->n[M_MY_NUMBER])
		return "my_number must not be NULL";
	mn = DatumGetTextPP(m->v[M_MY_NUMBER]);
	if (osk_id_parse(OSK_MY_NUMBER, VARDATA_ANY(mn), VARSIZE_ANY_EXHDR(mn), number, NULL) != OSK_ID_OK)
		return "my_number is not a valid My Number";
	if (m->n[M_CARD_NUMBER] || m->n[M_ACQUIRED_ON] || m->n[M_BIRTH_DATE])
		return "card_number, acquired_on and birth_date must not be NULL";
	if (!m->n[M_CARD_SYMBOL] && !card_symbol_ok(DatumGetTextPP(m->v[M_CARD_SYMBOL])))
		return "card_symbol may hold up to 38 digits, letters, hyphens, ー and ・";
	if (!card_number_ok(DatumGetTextPP(m->v[M_CARD_NUMBER])))
		return "card_number must be 1 to 38 digits, letters or hyphens";
	if (!m->n[M_SEX] && (DatumGetInt16(m->v[M_SEX]) < 1 || DatumGetInt16(m->v[M_SEX]) > 3))
		return "sex must be 1 (male), 2 (female) or 3 (other)";
	if (!m->n[M_POSTCODE] && !digits_between(DatumGetTextPP(m->v[M_POSTCODE]), 7, 7))
		return "postcode must be 7 digits";
	if (!m->n[M_MUNICIPALITY] && !digits_between(DatumGetTextPP(m->v[M_MUNICIPALITY]), 5, 6))
		return "municipality_code must be 5 or 6 digits";
	if (!m->n[M_IOD] && DatumGetInt16(m->v[M_IOD]) != 1 && DatumGetInt16(m->v[M_IOD]) != 2)
		return "insured_or_dependent must be 1 (本人) or 2 (家族)";
	if (DatumGetDateADT(m->v[M_ACQUIRED_ON]) < DatumGetDateADT(m->v[M_BIRTH_DATE]))
		return "acquired_on is before birth_date";
	if (DatumGetDateADT(m->v[M_BIRTH_DATE]) > today)
		return "birth_date is in the future";
	if (!m->n[M_COPAY] && (DatumGetInt16(m->v[M_COPAY]) < 0 || DatumGetInt16(m->v[M_COPAY]) > 100))
		return "copay_ratio is a percentage (0-100)";
	return NULL;
}

/* ---- orderings ------------------------------------------------------------------- */

static int
cmp_bi(const void *a, const void *b)
{
	const Member *x = *(Member *const *) a;
	const Member *y = *(Member *const *) b;
	int			c = memcmp(x->bi, y->bi, BI_LEN);

	if (c != 0)
		return c;
	return (x->ordinal > y->ordinal) - (x->ordinal < y->ordinal);
}

/* text equality/order on the bytes (記号・番号 are matched exactly) */
static int
cmp_text(text *a, text *b)
{
	int			la = VARSIZE_ANY_EXHDR(a),
				lb = VARSIZE_ANY_EXHDR(b);
	int			c = memcmp(VARDATA_ANY(a), VARDATA_ANY(b), Min(la, lb));

	if (c != 0)
		return c;
	return (la > lb) - (la < lb);
}

static int
cmp_card(const void *a, const void *b)
{
	const Member *x = *(Member *const *) a;
	const Member *y = *(Member *const *) b;
	int			c = cmp_text(DatumGetTextPP(x->v[M_CARD_SYMBOL]), DatumGetTextPP(y->v[M_CARD_SYMBOL]));

	if (c == 0)
		c = cmp_text(DatumGetTextPP(x->v[M_CARD_NUMBER]), DatumGetTextPP(y->v[M_CARD_NUMBER]));
	if (c != 0)
		return c;
	return (x->ordinal > y->ordinal) - (x->ordinal < y->ordinal);
}

/* Do two members name the same card (記号・番号)? */
static bool
same_card(const Member *x, const Member *y)
{
	return cmp_text(DatumGetTextPP(x->v[M_CARD_SYMBOL]), DatumGetTextPP(y->v[M_CARD_SYMBOL])) == 0 &&
		cmp_text(DatumGetTextPP(x->v[M_CARD_NUMBER]), DatumGetTextPP(y->v[M_CARD_NUMBER])) == 0;
}

/* 本人 (1) or 家族 (2); NULL means 1, as in enroll_member() */
static int16
iod_of(const Member *m)
{
	return m->n[M_IOD] ? 1 : DatumGetInt16(m->v[M_IOD]);
}

/* The member with this blind index, by binary search of the sorted list. */
static Member *
member_by_bi(Member **sorted, int n, const uint8 *bi)
{
	int			lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = memcmp(sorted[mid]->bi, bi, BI_LEN);

		if (c == 0)
			return sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* ---- the steps ------------------------------------------------------------------ */

/*
 * The people seen before nationally, among the members without a 紐付番号
 * yet: their 紐付番号 and PMH-ID.  Both paths use it (the careful one for
 * the members its insert did not take).
 */
static void
find_known_people(Member *ms, int n, Member **by_bi)
{
	Oid			argtypes[1] = {types.bi_arr};
	Datum	   *bis = palloc(sizeof(Datum) * n);
	Datum		values[1];
	int			k = 0;

	for (int i = 0; i < n; i++)
		if (ms[i].link == 0)
			bis[k++] = PointerGetDatum(ms[i].bi);
	if (k == 0)
		return;
	values[0] = array_of(bis, NULL, k, types.bi);
	keep(&plan_person_get,
		 "SELECT my_number_bi, link_number, pmh_id FROM onshikaku.person "
		 "WHERE my_number_bi OPERATOR(onshikaku.=) ANY ($1)",
		 1, argtypes);
	run(plan_person_get, values, NULL, SPI_OK_SELECT);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	t = SPI_tuptable->vals[r];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		Member	   *m = member_by_bi(by_bi, n, (uint8 *) DatumGetPointer(SPI_getbinval(t, d, 1, &isnull)));

		if (m == NULL || m->link != 0)
			continue;
		m->link = DatumGetInt64(SPI_getbinval(t, d, 2, &isnull));
		m->pmh = DatumGetInt64(SPI_getbinval(t, d, 3, &isnull));
		m->has_pmh = !isnull;
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * The people the insurer has registered, among the members without a
 * 被保険者枝番 yet: theirs, locked until commit; they are no longer
 * prospective members.  Both paths use it.
 */
static void
find_registrations(Member *ms, int n, Member **by_bi, int32 insurer_id)
{
	Oid			argtypes[2] = {INT4OID, types.bi_arr};
	Datum	   *bis = palloc(sizeof(Datum) * n);
	Datum		values[2];
	bool		prospective = false;
	int			k = 0;

	/* only a person seen nationally can be registered (person comes first) */
	for (int i = 0; i < n; i++)
		if (ms[i].link != 0 && ms[i].ibn == 0)
			bis[k++] = PointerGetDatum(ms[i].bi);
	if (k == 0)
		return;
	values[0] = Int32GetDatum(insurer_id);
	values[1] = array_of(bis, NULL, k, types.bi);
	run_once("SELECT my_number_bi, insured_branch_number, prospective FROM onshikaku.registration_zone "
			 "WHERE insurer_id = $1 AND my_number_bi OPERATOR(onshikaku.=) ANY ($2) FOR UPDATE",
			 2, argtypes, values, SPI_OK_SELECT);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	t = SPI_tuptable->vals[r];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		Member	   *m = member_by_bi(by_bi, n, (uint8 *) DatumGetPointer(SPI_getbinval(t, d, 1, &isnull)));

		if (m == NULL || m->ibn != 0)
			continue;
		m->ibn = DatumGetInt64(SPI_getbinval(t, d, 2, &isnull));
		m->reused = true;
		if (DatumGetBool(SPI_getbinval(t, d, 3, &isnull)))
			prospective = true;
	}
	SPI_freetuptable(SPI_tuptable);
	if (prospective)
		run_once("UPDATE onshikaku.registration_zone SET prospective = false, removal_requested_at = NULL "
				 "WHERE insurer_id = $1 AND my_number_bi OPERATOR(onshikaku.=) ANY ($2) AND prospective",
				 2, argtypes, values, SPI_OK_UPDATE);
}

/*
 * 紐付番号: one per person nationally.  New people are inserted with a
 * fresh number; the ones the insert did not take are either known (read
 * their numbers) or drew a number someone has (draw again).
 */
static void
assign_link_numbers(Member *ms, int n, Member **by_bi)
{
	Oid			argtypes[2] = {types.link_arr, types.bi_arr};
	Datum	   *links = palloc(sizeof(Datum) * n);
	Datum	   *bis = palloc(sizeof(Datum) * n);

	keep(&plan_person_ins,
		 "INSERT INTO onshikaku.person (link_number, my_number_bi) "
		 "SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) "
		 "ON CONFLICT DO NOTHING RETURNING my_number_bi, link_number",
		 2, argtypes);
	for (int round = 0;; round++)
	{
		int			k = 0;
		Datum		values[2];

		for (int i = 0; i < n; i++)
			if (ms[i].link == 0)
			{
				links[k] = Int64GetDatum(osk_new_issued_value());
				bis[k++] = PointerGetDatum(ms[i].bi);
			}
		if (k == 0)
			break;
		if (round >= MAX_DRAWS)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("could not issue link numbers (紐付番号) after %d draws", MAX_DRAWS)));
		values[0] = array_of(links, NULL, k, types.link);
		values[1] = array_of(bis, NULL, k, types.bi);
		run(plan_person_ins, values, NULL, SPI_OK_INSERT_RETURNING);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			Member	   *m = member_by_bi(by_bi, n, (uint8 *) DatumGetPointer(
									SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull)));

			if (m == NULL)
				elog(ERROR, "enroll_members: a person the load did not send");
			m->link = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
		}
		if ((int) SPI_processed == k)
			break;
		/* known people (and collided draws, which find nothing here) */
		find_known_people(ms, n, by_bi);
	}
}

/*
 * 被保険者枝番: a person new to the insurer gets a fresh one (the insert
 * takes it); a person it has registered gets that one back, locked until
 * commit, and is no longer prospective.
 */
static void
assign_insured_branch_numbers(Member *ms, int n, Member **by_bi, int32 insurer_id)
{
	Oid			argtypes[4] = {INT4OID, types.ibn_arr, types.bi_arr, types.link_arr};
	Datum	   *ibns = palloc(sizeof(Datum) * n);
	Datum	   *bis = palloc(sizeof(Datum) * n);
	Datum	   *links = palloc(sizeof(Datum) * n);

	keep(&plan_registration_ins,
		 "INSERT INTO onshikaku.registration_zone (insurer_id, insured_branch_number, my_number_bi, link_number) "
		 "SELECT $1, u.i, u.b, u.l FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
		 "                                         pg_catalog.unnest($4)) AS u(i, b, l) "
		 "ON CONFLICT DO NOTHING RETURNING my_number_bi, insured_branch_number",
		 4, argtypes);

	for (int round = 0;; round++)
	{
		int			k = 0;
		Datum		values[4];

		for (int i = 0; i < n; i++)
			if (ms[i].ibn == 0)
			{
				ibns[k] = Int64GetDatum(osk_new_issued_value());
				bis[k] = PointerGetDatum(ms[i].bi);
				links[k++] = Int64GetDatum(ms[i].link);
			}
		if (k == 0)
			break;
		if (round >= MAX_DRAWS)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("could not issue insured branch numbers (被保険者枝番) after %d draws", MAX_DRAWS)));
		values[0] = Int32GetDatum(insurer_id);
		values[1] = array_of(ibns, NULL, k, types.ibn);
		values[2] = array_of(bis, NULL, k, types.bi);
		values[3] = array_of(links, NULL, k, types.link);
		run(plan_registration_ins, values, NULL, SPI_OK_INSERT_RETURNING);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			HeapTuple	t = SPI_tuptable->vals[r];
			Member	   *m = member_by_bi(by_bi, n, (uint8 *) DatumGetPointer(
									SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull)));

			if (m == NULL)
				elog(ERROR, "enroll_members: a registration the load did not send");
			m->ibn = DatumGetInt64(SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &isnull));
			m->reused = false;
		}
		if ((int) SPI_processed == k)
			break;

		/* registered before (or meanwhile): theirs, locked; prospective no more */
		find_registrations(ms, n, by_bi, insurer_id);
	}
}

/*
 * One qualification at a time per person and insurer: a person the insurer
 * knows must have none open on (or after) the new acquisition date.
 */
static void
check_overlaps(Member *ms, int n, int32 insurer_id)
{
	Oid			argtypes[4] = {INT4OID, types.ibn_arr, DATEARRAYOID, INT8ARRAYOID};
	Datum	   *ibns = palloc(sizeof(Datum) * n);
	Datum	   *dates = palloc(sizeof(Datum) * n);
	Datum	   *ords = palloc(sizeof(Datum) * n);
	Datum		values[4];
	int			k = 0;

	for (int i = 0; i < n; i++)
		if (ms[i].reused)
		{
			ibns[k] = Int64GetDatum(ms[i].ibn);
			dates[k] = ms[i].v[M_ACQUIRED_ON];
			ords[k++] = Int64GetDatum(ms[i].ordinal);
		}
	if (k == 0)
		return;
	values[0] = Int32GetDatum(insurer_id);
	values[1] = array_of(ibns, NULL, k, types.ibn);
	values[2] = array_of(dates, NULL, k, DATEOID);
	values[3] = array_of(ords, NULL, k, INT8OID);
	run_once("SELECT u.o FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
			 "                          pg_catalog.unnest($4)) AS u(i, a, o) "
			 "WHERE EXISTS (SELECT FROM onshikaku.qualification q WHERE q.insurer_id = $1 "
			 "AND q.insured_branch_number OPERATOR(onshikaku.=) u.i AND NOT q.deleted "
			 "AND coalesce(q.lost_on, 'infinity') > u.a) ORDER BY u.o LIMIT 1",
			 4, argtypes, values, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		bool		isnull;
		int64		o = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

		ereport(ERROR,
				(errcode(ERRCODE_EXCLUSION_VIOLATION),
				 errmsg("member " INT64_FORMAT ": this person already has a qualification with insurer %d that overlaps the new one",
						o, insurer_id)));
	}
}

/*
 * Card 枝番 within (保険者番号, 記号, 番号): the person's own when the
 * insurer knows the person on that card; else 00 for the first insured
 * person of the card when 00 is free; else the next free values of 01-99
 * in input order.  Recorded in card_branch_issue, which never forgets.
 */
static void
own_card_branches(Member *ms, int n, int32 insurer_id)
{
	int			k = 0;
	int			nreused = 0;

	for (int i = 0; i < n; i++)
		if (ms[i].reused)
			nreused++;
	if (nreused > 0)
	{
		Oid			argtypes[2] = {INT4OID, types.link_arr};
		Datum	   *links = palloc(sizeof(Datum) * nreused);
		Datum		values[2];

		for (int i = 0; i < n; i++)
			if (ms[i].reused)
				links[k++] = Int64GetDatum(ms[i].link);
		values[0] = Int32GetDatum(insurer_id);
		values[1] = array_of(links, NULL, k, types.link);
		run_once("SELECT card_symbol, card_number, link_number, card_branch FROM onshikaku.card_branch_issue "
				 "WHERE insurer_id = $1 AND link_number OPERATOR(onshikaku.=) ANY ($2)",
				 2, argtypes, values, SPI_OK_SELECT);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	t = SPI_tuptable->vals[r];
			TupleDesc	d = SPI_tuptable->tupdesc;
			bool		isnull;
			text	   *sym = DatumGetTextPP(SPI_getbinval(t, d, 1, &isnull));
			text	   *num = DatumGetTextPP(SPI_getbinval(t, d, 2, &isnull));
			int64		link = DatumGetInt64(SPI_getbinval(t, d, 3, &isnull));

			for (int i = 0; i < n; i++)
				if (ms[i].reused && ms[i].link == link &&
					cmp_text(sym, DatumGetTextPP(ms[i].v[M_CARD_SYMBOL])) == 0 &&
					cmp_text(num, DatumGetTextPP(ms[i].v[M_CARD_NUMBER])) == 0)
				{
					ms[i].branch = DatumGetInt16(SPI_getbinval(t, d, 4, &isnull));
					ms[i].has_branch = ms[i].had_branch = true;
				}
		}
	}
}

/*
 * used[c * 100 + b]: has card c (syms[c], nums[c], sorted) given 枝番 b
 * already?  Read from the insurer's card_branch_issue partition through its
 * primary key, one probe per card, without the planner (a query on the
 * parent would plan or lock every insurer's partition), under a fresh
 * snapshot in READ COMMITTED, as a statement would.
 */
static void
card_branches_used(int32 insurer_id, Datum *syms, Datum *nums, int ncards, bool *used)
{
	static AttrNumber branch_att = InvalidAttrNumber;
	static Oid	parent = InvalidOid;
	const OskPartition *p = osk_partition_of("card_branch_issue", "card_branch_issue_pkey", insurer_id);
	Relation	heap;
	Relation	index;
	TupleTableSlot *slot;
	IndexScanDesc scan;
	Snapshot	snapshot;
	ScanKeyData keys[3];
	Oid			current = osk_relation_oid("card_branch_issue");

	if (!OidIsValid(p->heap))
		return;
	if (parent != current)
	{
		parent = current;
		branch_att = get_attnum(parent, "card_branch");
		if (branch_att == InvalidAttrNumber)
			elog(ERROR, "card_branch_issue has no column card_branch");
	}
	heap = table_open(p->heap, AccessShareLock);
	index = index_open(p->index, AccessShareLock);
	slot = table_slot_create(heap, NULL);
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	scan = index_beginscan(heap, index, snapshot, 3, 0);
	for (int c = 0; c < ncards; c++)
	{
		ScanKeyEntryInitialize(&keys[0], 0, 1, BTEqualStrategyNumber, InvalidOid,
							   InvalidOid, F_INT4EQ, Int32GetDatum(insurer_id));
		ScanKeyEntryInitialize(&keys[1], 0, 2, BTEqualStrategyNumber, InvalidOid,
							   index->rd_indcollation[1], F_TEXTEQ, syms[c]);
		ScanKeyEntryInitialize(&keys[2], 0, 3, BTEqualStrategyNumber, InvalidOid,
							   index->rd_indcollation[2], F_TEXTEQ, nums[c]);
		index_rescan(scan, keys, 3, NULL, 0);
		while (index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			bool		isnull;
			int16		b = DatumGetInt16(slot_getattr(slot, p->attmap[branch_att], &isnull));

			if (!isnull && b >= 0 && b < 100)
				used[c * 100 + b] = true;
		}
	}
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(heap, NoLock);
}

/*
 * The 枝番 of everyone without one yet: card by card, in input order,
 * after the values each card has given already.
 */
static void
choose_card_branches(Member *ms, int n, int32 insurer_id)
{
	Member	  **by_card = palloc(sizeof(Member *) * n);
	int			k = 0;

	for (int i = 0; i < n; i++)
		if (!ms[i].has_branch)
			by_card[k++] = &ms[i];
	if (k > 0)
	{
		int			ncards = 0;
		int		   *first = palloc(sizeof(int) * (k + 1));	/* start of each card's run */
		bool	   *used;
		Datum	   *syms = palloc(sizeof(Datum) * k);
		Datum	   *nums = palloc(sizeof(Datum) * k);

		qsort(by_card, k, sizeof(Member *), cmp_card);
		for (int i = 0; i < k; i++)
			if (i == 0 || !same_card(by_card[i - 1], by_card[i]))
			{
				syms[ncards] = by_card[i]->v[M_CARD_SYMBOL];
				nums[ncards] = by_card[i]->v[M_CARD_NUMBER];
				first[ncards++] = i;
			}
		first[ncards] = k;
		used = palloc0(sizeof(bool) * 100 * ncards);

		/* the values each card has given already */
		card_branches_used(insurer_id, syms, nums, ncards, used);

		for (int c = 0; c < ncards; c++)
		{
			bool	   *u = &used[c * 100];
			Member	   *zero = NULL;
			int			next = 1;

			/* 00: the first insured person (本人) of the card, if 00 is free */
			if (!u[0])
				for (int i = first[c]; i < first[c + 1]; i++)
					if (iod_of(by_card[i]) == 1)
					{
						zero = by_card[i];
						zero->branch = 0;
						zero->has_branch = true;
						break;
					}
			/* the others: the free values of 01-99, in input order */
			for (int i = first[c]; i < first[c + 1]; i++)
			{
				if (by_card[i] == zero)
					continue;
				while (next < 100 && u[next])
					next++;
				if (next >= 100)
					break;
				by_card[i]->branch = next++;
				by_card[i]->has_branch = true;
			}
		}
		for (int i = 0; i < n; i++)
			if (!ms[i].has_branch)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("member " INT64_FORMAT ": every card branch number (枝番) of this card is in use",
								ms[i].ordinal)));
	}

}

/*
 * Records the new 枝番 in card_branch_issue.  careful: with ON CONFLICT DO
 * NOTHING, and a value taken meanwhile fails the load (40001); otherwise a
 * plain INSERT, which raises 23505 on any conflict (the fast path).
 */
static void
record_card_branches(Member *ms, int n, int32 insurer_id, bool careful)
{
	Oid			argtypes[5] = {INT4OID, TEXTARRAYOID, TEXTARRAYOID, types.branch_arr, types.link_arr};
	Datum	   *syms = palloc(sizeof(Datum) * n);
	Datum	   *nums = palloc(sizeof(Datum) * n);
	Datum	   *branches = palloc(sizeof(Datum) * n);
	Datum	   *links = palloc(sizeof(Datum) * n);
	Datum		values[5];
	int			k = 0;

	for (int i = 0; i < n; i++)
		if (!ms[i].had_branch)
		{
			syms[k] = ms[i].v[M_CARD_SYMBOL];
			nums[k] = ms[i].v[M_CARD_NUMBER];
			branches[k] = Int16GetDatum(ms[i].branch);
			links[k++] = Int64GetDatum(ms[i].link);
		}
	if (k == 0)
		return;
	values[0] = Int32GetDatum(insurer_id);
	values[1] = array_of(syms, NULL, k, TEXTOID);
	values[2] = array_of(nums, NULL, k, TEXTOID);
	values[3] = array_of(branches, NULL, k, types.branch);
	values[4] = array_of(links, NULL, k, types.link);
	if (!careful)
	{
		keep(&plan_branch_new,
			 "INSERT INTO onshikaku.card_branch_issue (insurer_id, card_symbol, card_number, card_branch, link_number) "
			 "SELECT $1, u.s, u.n, u.b, u.l FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
			 "                 pg_catalog.unnest($4), pg_catalog.unnest($5)) AS u(s, n, b, l)",
			 5, argtypes);
		run(plan_branch_new, values, NULL, SPI_OK_INSERT);
		return;
	}
	keep(&plan_branch_ins,
		 "INSERT INTO onshikaku.card_branch_issue (insurer_id, card_symbol, card_number, card_branch, link_number) "
		 "SELECT $1, u.s, u.n, u.b, u.l FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
		 "                 pg_catalog.unnest($4), pg_catalog.unnest($5)) AS u(s, n, b, l) "
		 "ON CONFLICT DO NOTHING",
		 5, argtypes);
	run(plan_branch_ins, values, NULL, SPI_OK_INSERT);
	if ((int) SPI_processed < k)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("a concurrent enrolment took a card branch number (枝番) this load chose"),
				 errhint("Retry the load; nothing of it was written.")));
}

/* ---- the fast path ------------------------------------------------------------- */

/* Plain INSERTs of the new person, registration and 枝番 rows. */
static void
insert_new_rows(Member *ms, int n, int32 insurer_id)
{
	Datum	   *links = palloc(sizeof(Datum) * n);
	Datum	   *bis = palloc(sizeof(Datum) * n);
	Datum	   *ibns = palloc(sizeof(Datum) * n);
	int			k = 0;

	for (int i = 0; i < n; i++)
		if (ms[i].new_person)
		{
			links[k] = Int64GetDatum(ms[i].link);
			bis[k++] = PointerGetDatum(ms[i].bi);
		}
	if (k > 0)
	{
		Oid			argtypes[2] = {types.link_arr, types.bi_arr};
		Datum		values[2];

		keep(&plan_person_new,
			 "INSERT INTO onshikaku.person (link_number, my_number_bi) "
			 "SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2))",
			 2, argtypes);
		values[0] = array_of(links, NULL, k, types.link);
		values[1] = array_of(bis, NULL, k, types.bi);
		run(plan_person_new, values, NULL, SPI_OK_INSERT);
	}

	k = 0;
	for (int i = 0; i < n; i++)
		if (!ms[i].reused)
		{
			ibns[k] = Int64GetDatum(ms[i].ibn);
			bis[k] = PointerGetDatum(ms[i].bi);
			links[k++] = Int64GetDatum(ms[i].link);
		}
	if (k > 0)
	{
		Oid			argtypes[4] = {INT4OID, types.ibn_arr, types.bi_arr, types.link_arr};
		Datum		values[4];

		keep(&plan_registration_new,
			 "INSERT INTO onshikaku.registration_zone (insurer_id, insured_branch_number, my_number_bi, link_number) "
			 "SELECT $1, u.i, u.b, u.l FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
			 "                                         pg_catalog.unnest($4)) AS u(i, b, l)",
			 4, argtypes);
		values[0] = Int32GetDatum(insurer_id);
		values[1] = array_of(ibns, NULL, k, types.ibn);
		values[2] = array_of(bis, NULL, k, types.bi);
		values[3] = array_of(links, NULL, k, types.link);
		run(plan_registration_new, values, NULL, SPI_OK_INSERT);
	}

	record_card_branches(ms, n, insurer_id, false);
}

/*
 * Runs insert_new_rows() in a subtransaction.  A unique violation means a
 * concurrent enrolment of one of these people or cards, or a number drawn
 * twice: the subtransaction is rolled back (its error, which may show a
 * key, is neither raised nor logged) and false is returned.  Any other
 * error is raised.
 */
static bool
try_insert_new_rows(Member *ms, int n, int32 insurer_id)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool inserted = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		insert_new_rows(ms, n, insurer_id);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (e->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
			ReThrowError(e);
		FreeErrorData(e);
		inserted = false;
	}
	PG_END_TRY();
	return inserted;
}

/* Forgets what the fast path found and drew, before the careful path. */
static void
reset_issuance(Member *ms, int n)
{
	for (int i = 0; i < n; i++)
	{
		ms[i].link = 0;
		ms[i].new_person = false;
		ms[i].pmh = 0;
		ms[i].has_pmh = false;
		ms[i].ibn = 0;
		ms[i].reused = false;
		ms[i].branch = 0;
		ms[i].has_branch = false;
		ms[i].had_branch = false;
	}
}

/*
 * Everything issued for the members.  The fast path reads who is known
 * (nationally, to the insurer, on the card), draws the rest and writes it
 * with plain INSERTs; should a concurrent enrolment or a collision of
 * drawn numbers get in its way, the careful path starts again with
 * INSERT ... ON CONFLICT DO NOTHING and reads back what it did not write.
 */
static void
issue_for_members(Member *ms, int n, Member **by_bi, int32 insurer_id)
{
	find_known_people(ms, n, by_bi);
	find_registrations(ms, n, by_bi, insurer_id);	/* of the known ones */
	for (int i = 0; i < n; i++)
	{
		if (ms[i].link == 0)
		{
			ms[i].link = osk_new_issued_value();
			ms[i].new_person = true;
		}
		if (ms[i].ibn == 0)
			ms[i].ibn = osk_new_issued_value();
	}
	check_overlaps(ms, n, insurer_id);
	own_card_branches(ms, n, insurer_id);
	choose_card_branches(ms, n, insurer_id);
	if (try_insert_new_rows(ms, n, insurer_id))
		return;

	reset_issuance(ms, n);
	assign_link_numbers(ms, n, by_bi);
	assign_insured_branch_numbers(ms, n, by_bi, insurer_id);
	check_overlaps(ms, n, insurer_id);
	own_card_branches(ms, n, insurer_id);
	choose_card_branches(ms, n, insurer_id);
	record_card_branches(ms, n, insurer_id, true);
}

/* The column of member attribute a over all members, as an array. */
static Datum
column_of(Member *ms, int n, int a, Oid elemtype)
{
	Datum	   *v = palloc(sizeof(Datum) * n);
	bool	   *isnull = palloc(sizeof(bool) * n);

	for (int i = 0; i < n; i++)
	{
		v[i] = ms[i].v[a];
		isnull[i] = ms[i].n[a];
	}
	return array_of(v, isnull, n, elemtype);
}

/* qualification, card and the national enrolment index, one INSERT each */
static void
write_rows(Member *ms, int n, int32 insurer_id, Datum public_payer, bool public_payer_null)
{
	Oid			qtypes[25] = {
		INT4OID, INT8ARRAYOID, types.ibn_arr, types.link_arr, types.enc_arr, types.bi_arr, BOOLARRAYOID,
		TEXTARRAYOID, TEXTARRAYOID, INT2ARRAYOID, DATEARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
		TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, types.branch_arr, DATEARRAYOID, INT2ARRAYOID,
		TEXTARRAYOID, types.recipient_arr, types.pmh_arr, types.public_payer, INT2ARRAYOID
	};
	Datum		q[25];
	char		qnulls[25];
	Datum	   *qids = palloc(sizeof(Datum) * n);
	Datum	   *ibns = palloc(sizeof(Datum) * n);
	Datum	   *links = palloc(sizeof(Datum) * n);
	Datum	   *encs = palloc(sizeof(Datum) * n);
	Datum	   *bis = palloc(sizeof(Datum) * n);
	Datum	   *syms = palloc(sizeof(Datum) * n);
	bool	   *symnull = palloc(sizeof(bool) * n);
	Datum	   *branches = palloc(sizeof(Datum) * n);
	Datum	   *iods = palloc(sizeof(Datum) * n);
	Datum	   *dvs = palloc(sizeof(Datum) * n);
	Datum	   *pmhs = palloc(sizeof(Datum) * n);
	bool	   *pmhnull = palloc(sizeof(bool) * n);
	Oid			seq = osk_relation_oid("qualification_id_seq");
	int			nnew = 0,
				nagain = 0;
	Datum	   *links_new = palloc(sizeof(Datum) * n);
	Datum	   *links_again = palloc(sizeof(Datum) * n);

	if (!OidIsValid(seq))
		elog(ERROR, "sequence onshikaku.qualification_id_seq is missing");
	for (int i = 0; i < n; i++)
	{
		Member	   *m = &ms[i];

		m->qid = nextval_internal(seq, false);
		qids[i] = Int64GetDatum(m->qid);
		ibns[i] = Int64GetDatum(m->ibn);
		links[i] = Int64GetDatum(m->link);
		encs[i] = m->enc;
		bis[i] = PointerGetDatum(m->bi);
		syms[i] = m->v[M_CARD_SYMBOL];
		symnull[i] = VARSIZE_ANY_EXHDR(DatumGetTextPP(m->v[M_CARD_SYMBOL])) == 0;	/* nullif(, '') */
		branches[i] = Int16GetDatum(m->branch);
		iods[i] = Int16GetDatum(iod_of(m));
		dvs[i] = m->n[M_DV] ? BoolGetDatum(false) : m->v[M_DV];
		pmhs[i] = Int64GetDatum(m->pmh);
		pmhnull[i] = !m->has_pmh;
		if (m->reused)
			links_again[nagain++] = links[i];
		else
			links_new[nnew++] = links[i];
	}

	keep(&plan_qualification_ins,
		 "INSERT INTO onshikaku.qualification "
		 "(insurer_id, qualification_id, insured_branch_number, link_number, my_number, my_number_bi, "
		 " dv_nondisclosure, name_on_card, name_on_card_kana, sex1, birth_date, address, postcode, "
		 " municipality_code, household_id, card_symbol, card_number, card_branch, acquired_on, "
		 " insured_or_dependent, insured_person_name, public_payer_number, recipient_number, pmh_id, process_kind_code, "
		 " card_copay_ratio, card_valid_from, card_copied) "
		 "SELECT $1, u.qid, u.ibn, u.link, u.enc, u.bi, u.dv, u.nm, u.kana, u.sex, u.birth, u.addr, u.post, "
		 "       u.muni, u.hh, u.sym, u.num, u.br, u.acq, u.iod, u.ipn, $24, u.rcp, u.pmh, 'enrol', "
		 "       u.cop, u.acq, true "
		 "FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5), "
		 "                pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8), pg_catalog.unnest($9), "
		 "                pg_catalog.unnest($10), pg_catalog.unnest($11), pg_catalog.unnest($12), pg_catalog.unnest($13), "
		 "                pg_catalog.unnest($14), pg_catalog.unnest($15), pg_catalog.unnest($16), pg_catalog.unnest($17), "
		 "                pg_catalog.unnest($18), pg_catalog.unnest($19), pg_catalog.unnest($20), pg_catalog.unnest($21), "
		 "                pg_catalog.unnest($22), pg_catalog.unnest($23), pg_catalog.unnest($25)) "
		 "  AS u(qid, ibn, link, enc, bi, dv, nm, kana, sex, birth, addr, post, muni, hh, sym, num, br, acq, iod, "
		 "       ipn, rcp, pmh, cop)",
		 25, qtypes);
	memset(qnulls, ' ', sizeof(qnulls));
	q[0] = Int32GetDatum(insurer_id);
	q[1] = array_of(qids, NULL, n, INT8OID);
	q[2] = array_of(ibns, NULL, n, types.ibn);
	q[3] = array_of(links, NULL, n, types.link);
	q[4] = array_of(encs, NULL, n, types.enc);
	q[5] = array_of(bis, NULL, n, types.bi);
	q[6] = array_of(dvs, NULL, n, BOOLOID);
	q[7] = column_of(ms, n, M_NAME, TEXTOID);
	q[8] = column_of(ms, n, M_KANA, TEXTOID);
	q[9] = column_of(ms, n, M_SEX, INT2OID);
	q[10] = column_of(ms, n, M_BIRTH_DATE, DATEOID);
	q[11] = column_of(ms, n, M_ADDRESS, TEXTOID);
	q[12] = column_of(ms, n, M_POSTCODE, TEXTOID);
	q[13] = column_of(ms, n, M_MUNICIPALITY, TEXTOID);
	q[14] = column_of(ms, n, M_HOUSEHOLD, TEXTOID);
	q[15] = array_of(syms, symnull, n, TEXTOID);
	q[16] = column_of(ms, n, M_CARD_NUMBER, TEXTOID);
	q[17] = array_of(branches, NULL, n, types.branch);
	q[18] = column_of(ms, n, M_ACQUIRED_ON, DATEOID);
	q[19] = array_of(iods, NULL, n, INT2OID);
	q[20] = column_of(ms, n, M_INSURED_PERSON_NAME, TEXTOID);
	q[21] = column_of(ms, n, M_RECIPIENT, types.recipient);
	q[22] = array_of(pmhs, pmhnull, n, types.pmh);
	q[23] = public_payer;
	if (public_payer_null)
		qnulls[23] = 'n';
	q[24] = column_of(ms, n, M_COPAY, INT2OID);	/* the card's, copied */
	run(plan_qualification_ins, q, qnulls, SPI_OK_INSERT);

	{
		Oid			ctypes[7] = {INT4OID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, types.branch_arr,
		DATEARRAYOID, INT2ARRAYOID};
		Datum		c[7];

		keep(&plan_card_ins,
			 "INSERT INTO onshikaku.card (insurer_id, card_id, qualification_id, kind, card_symbol, card_number, "
			 "                            card_branch, issued_on, valid_from, copay_ratio) "
			 "SELECT $1, pg_catalog.nextval('onshikaku.card_id_seq'), u.q, 'insurance_card', u.s, u.n, u.b, "
			 "       CURRENT_DATE, u.a, u.c "
			 "FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), "
			 "                pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7)) "
			 "  AS u(q, s, n, b, a, c)",
			 7, ctypes);
		c[0] = q[0];
		c[1] = q[1];
		c[2] = q[15];
		c[3] = q[16];
		c[4] = q[17];
		c[5] = q[18];
		c[6] = q[24];
		run(plan_card_ins, c, NULL, SPI_OK_INSERT);
	}

	/* a person new to the insurer cannot have been enrolled with it before */
	{
		Oid			etypes[2] = {INT4OID, types.link_arr};
		Datum		e[2];

		e[0] = q[0];
		if (nnew > 0)
		{
			keep(&plan_enrolment_new,
				 "INSERT INTO onshikaku.person_enrolment (link_number, insurer_id) "
				 "SELECT l, $1 FROM pg_catalog.unnest($2) AS l",
				 2, etypes);
			e[1] = array_of(links_new, NULL, nnew, types.link);
			run(plan_enrolment_new, e, NULL, SPI_OK_INSERT);
		}
		if (nagain > 0)
		{
			keep(&plan_enrolment_again,
				 "INSERT INTO onshikaku.person_enrolment (link_number, insurer_id) "
				 "SELECT l, $1 FROM pg_catalog.unnest($2) AS l ON CONFLICT DO NOTHING",
				 2, etypes);
			e[1] = array_of(links_again, NULL, nagain, types.link);
			run(plan_enrolment_again, e, NULL, SPI_OK_INSERT);
		}
	}
}

/*
 * onshikaku.enroll_members(insurer_id, members member_input[]) returns
 * setof onshikaku.bulk_enrolment, in input order.  Declared SECURITY
 * DEFINER with a fixed search_path; the caller's rights are judged by
 * flow_insurer() on the outer user (flows.c).
 */
PG_FUNCTION_INFO_V1(osk_enroll_members);
Datum
osk_enroll_members(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext work;
	MemoryContext outer = CurrentMemoryContext;
	int32		insurer_id;
	Datum		insurer_number = (Datum) 0;
	bool		national;
	bool		seikatsu_hogo;
	Datum		public_payer = (Datum) 0;
	bool		public_payer_null;
	Member	   *ms = NULL;
	Member	  **by_bi = NULL;
	int			n = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("insurer_id must not be NULL")));
	insurer_id = PG_GETARG_INT32(0);
	load_types();

	work = AllocSetContextCreate(CurrentMemoryContext, "enroll_members", ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* the insurer, the caller's right to act for it, the flow for its kind */
	{
		Oid			argtypes[1] = {INT4OID};
		Datum		values[1] = {Int32GetDatum(insurer_id)};
		HeapTuple	t;
		TupleDesc	d;
		char	   *kind;

		keep(&plan_insurer,
			 "SELECT i.insurer_number, i.kind::text, i.public_payer_number "
			 "FROM onshikaku.flow_insurer($1, 'onshikaku_number_handler', 'qualification_history') AS i",
			 1, argtypes);
		run(plan_insurer, values, NULL, SPI_OK_SELECT);
		if (SPI_processed != 1)
			elog(ERROR, "enroll_members: flow_insurer() gave no row");
		t = SPI_tuptable->vals[0];
		d = SPI_tuptable->tupdesc;
		insurer_number = SPI_getbinval(t, d, 1, &national);
		kind = SPI_getvalue(t, d, 2);
		seikatsu_hogo = kind != NULL && strcmp(kind, "seikatsu_hogo") == 0;
		public_payer = SPI_getbinval(t, d, 3, &public_payer_null);
	}

	MemoryContextSwitchTo(work);
	if (!PG_ARGISNULL(1))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
		TupleDesc	desc = lookup_rowtype_tupdesc(types.member_input, -1);
		Datum	   *elems;
		bool	   *elemnulls;
		DateADT		today = GetSQLCurrentDate();
		int64	   *numbers;
		text	   *purpose = cstring_to_text("qualification.my_number");

		if (desc->natts != M_COUNT)
			elog(ERROR, "onshikaku.member_input has %d attributes, expected %d", desc->natts, M_COUNT);
		deconstruct_array(arr, types.member_input, -1, false, TYPALIGN_DOUBLE, &elems, &elemnulls, &n);
		ms = palloc0(sizeof(Member) * Max(n, 1));
		numbers = palloc0(sizeof(int64) * Max(n, 1));

		/* every member checked, the first bad one reported */
		for (int i = 0; i < n; i++)
		{
			Member	   *m = &ms[i];
			const char *problem;

			m->ordinal = i + 1;
			if (elemnulls[i])
				memset(m->n, true, sizeof(m->n));
			else
			{
				HeapTupleHeader th = DatumGetHeapTupleHeader(elems[i]);
				HeapTupleData tup;

				tup.t_len = HeapTupleHeaderGetDatumLength(th);
				ItemPointerSetInvalid(&tup.t_self);
				tup.t_tableOid = InvalidOid;
				tup.t_data = th;
				heap_deform_tuple(&tup, desc, m->v, m->n);
			}
			problem = problem_of(m, today, &numbers[i]);
			if (problem != NULL)
			{
				osk_wipe(numbers, sizeof(int64) * n);
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("member %d: %s", i + 1, problem)));
			}
			if (m->n[M_CARD_SYMBOL])
			{
				m->v[M_CARD_SYMBOL] = PointerGetDatum(cstring_to_text(""));
				m->n[M_CARD_SYMBOL] = false;
			}
			else
				m->v[M_CARD_SYMBOL] = PointerGetDatum(DatumGetTextPP(m->v[M_CARD_SYMBOL]));
			m->v[M_CARD_NUMBER] = PointerGetDatum(DatumGetTextPP(m->v[M_CARD_NUMBER]));
		}
		ReleaseTupleDesc(desc);
		if (seikatsu_hogo)
			for (int i = 0; i < n; i++)
				if (ms[i].n[M_RECIPIENT])
				{
					osk_wipe(numbers, sizeof(int64) * n);
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("member %d: a 生活保護 enrolment needs recipient_number (受給者番号)", i + 1)));
				}

		/* encrypted for the insurer (or nationally), and blind-indexed */
		for (int i = 0; i < n; i++)
		{
			Datum		number = Int64GetDatum(numbers[i]);

			ms[i].enc = national
				? DirectFunctionCall2(osk_protect_national, number, PointerGetDatum(purpose))
				: DirectFunctionCall3(osk_protect, number, insurer_number, PointerGetDatum(purpose));
			ms[i].bi = (uint8 *) DatumGetPointer(DirectFunctionCall1(osk_blind_index, number));
		}
		osk_wipe(numbers, sizeof(int64) * n);

		/* the same person twice: the later position is reported */
		by_bi = palloc(sizeof(Member *) * Max(n, 1));
		for (int i = 0; i < n; i++)
			by_bi[i] = &ms[i];
		qsort(by_bi, n, sizeof(Member *), cmp_bi);
		{
			int64		worst = 0;

			for (int i = 1; i < n; i++)
				if (memcmp(by_bi[i - 1]->bi, by_bi[i]->bi, BI_LEN) == 0 &&
					(worst == 0 || by_bi[i]->ordinal < worst))
					worst = by_bi[i]->ordinal;
			if (worst != 0)
				ereport(ERROR,
						(errcode(ERRCODE_EXCLUSION_VIOLATION),
						 errmsg("member " INT64_FORMAT ": the same person appears twice", worst)));
		}
	}

	if (n > 0)
	{
		issue_for_members(ms, n, by_bi, insurer_id);
		write_rows(ms, n, insurer_id, public_payer, public_payer_null);
	}

	/* what was issued, in input order */
	MemoryContextSwitchTo(outer);
	for (int i = 0; i < n; i++)
	{
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		values[0] = Int64GetDatum(ms[i].ordinal);
		values[1] = Int64GetDatum(ms[i].qid);
		values[2] = Int64GetDatum(ms[i].ibn);
		values[3] = Int64GetDatum(ms[i].link);
		values[4] = Int16GetDatum(ms[i].branch);
		values[5] = BoolGetDatum(ms[i].reused);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	MemoryContextDelete(work);
	return (Datum) 0;
}
