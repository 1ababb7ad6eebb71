/*
 * isolation.c
 *	  The insurer a statement acts for: the row-level security predicate of
 *	  every per-insurer table is insurer_id = onshikaku.acting_insurer().
 *
 * A scalar equality with a STABLE function lets PostgreSQL 15 prune to one
 * partition when the executor starts (an "= ANY(array)" predicate would
 * not prune at all, and a statement would lock and visit all 3,500).  The
 * function answers:
 *
 *	 - the insurer named by onshikaku.acting_insurer, when the current role
 *	   acts for it (onshikaku.insurer_role, through membership), else 42501;
 *	 - when the setting is empty, the one insurer the role acts for; a role
 *	   that acts for several (a 国保連) must choose one; a role that acts
 *	   for none gets NULL, which admits no row.
 *
 * The answer is cached per transaction, role and setting, so the policy
 * costs a comparison per row.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "isolation.h"

static int	acting_setting = 0;

static struct
{
	LocalTransactionId lxid;
	Oid			role;
	int			setting;
	bool		valid;
	bool		isnull;
	int32		insurer_id;
} cache;

void
osk_isolation_init(void)
{
	DefineCustomIntVariable("onshikaku.acting_insurer",
							"The insurer (insurer_id) this session acts for.",
							"Needed only by roles that act for several insurers; see docs/data-model.md.",
							&acting_setting, 0, 0, INT_MAX, PGC_USERSET, 0,
							NULL, NULL, NULL);
}

/*
 * Look the answer up with the caller's rights (insurer_role shows own
 * rows), through two plans kept for the life of the backend.  A named
 * insurer is checked by index, among the few roles mapped to it; only a
 * role that names none needs the list of its insurers.
 */
static void
resolve(void)
{
	static SPIPlanPtr named_plan = NULL;
	static SPIPlanPtr list_plan = NULL;
	bool		isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	cache.isnull = true;
	if (acting_setting != 0)
	{
		Oid			types[1] = {INT4OID};
		Datum		values[1] = {Int32GetDatum(acting_setting)};

		if (named_plan == NULL)
		{
			named_plan = SPI_prepare("SELECT 1 FROM onshikaku.insurer_role WHERE insurer_id = $1 "
									 "AND pg_catalog.pg_has_role(current_user, role_name::oid, 'MEMBER') LIMIT 1",
									 1, types);
			if (named_plan == NULL || SPI_keepplan(named_plan) != 0)
				elog(ERROR, "could not prepare the insurer check");
		}
		if (SPI_execute_plan(named_plan, values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read onshikaku.insurer_role");
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("role \"%s\" does not act for insurer %d",
							GetUserNameFromId(GetUserId(), false), acting_setting)));
		cache.isnull = false;
		cache.insurer_id = acting_setting;
	}
	else
	{
		/* membership, not visibility: the operator sees every mapping */
		if (list_plan == NULL)
		{
			list_plan = SPI_prepare("SELECT DISTINCT insurer_id FROM onshikaku.insurer_role "
									"WHERE pg_catalog.pg_has_role(current_user, role_name::oid, 'MEMBER') "
									"ORDER BY 1 LIMIT 2", 0, NULL);
			if (list_plan == NULL || SPI_keepplan(list_plan) != 0)
				elog(ERROR, "could not prepare the insurer list");
		}
		if (SPI_execute_plan(list_plan, NULL, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read onshikaku.insurer_role");
		if (SPI_processed == 1)
		{
			cache.isnull = false;
			cache.insurer_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		}
		else if (SPI_processed > 1)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("role \"%s\" acts for several insurers", GetUserNameFromId(GetUserId(), false)),
					 errhint("Choose one with SET onshikaku.acting_insurer = <insurer_id>.")));
	}
	SPI_finish();
}

/* The answer of acting_insurer(), for C callers too (card_lookup.c). */
int32
osk_acting_insurer_value(bool *isnull)
{
	if (!(cache.valid && cache.lxid == MyProc->lxid && cache.role == GetUserId() &&
		  cache.setting == acting_setting))
	{
		cache.valid = false;
		resolve();
		cache.lxid = MyProc->lxid;
		cache.role = GetUserId();
		cache.setting = acting_setting;
		cache.valid = true;
	}
	*isnull = cache.isnull;
	return cache.insurer_id;
}

/* onshikaku.acting_insurer(): see the file header. */
PG_FUNCTION_INFO_V1(osk_acting_insurer);
Datum
osk_acting_insurer(PG_FUNCTION_ARGS)
{
	bool		isnull;
	int32		value = osk_acting_insurer_value(&isnull);

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_INT32(value);
}
