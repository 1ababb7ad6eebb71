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

/* Look the answer up with the caller's rights (insurer_role shows own rows). */
static void
resolve(void)
{
	int			n;
	bool		isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* membership, not visibility: the operator sees every mapping */
	if (SPI_execute("SELECT DISTINCT insurer_id FROM onshikaku.insurer_role "
					"WHERE pg_catalog.pg_has_role(current_user, role_name::oid, 'MEMBER') ORDER BY 1 LIMIT 2",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read onshikaku.insurer_role");
	n = (int) SPI_processed;
	cache.isnull = true;
	if (acting_setting != 0)
	{
		if (SPI_execute(psprintf("SELECT 1 FROM onshikaku.insurer_role WHERE insurer_id = %d "
								 "AND pg_catalog.pg_has_role(current_user, role_name::oid, 'MEMBER')", acting_setting),
						true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read onshikaku.insurer_role");
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("role \"%s\" does not act for insurer %d",
							GetUserNameFromId(GetUserId(), false), acting_setting)));
		cache.isnull = false;
		cache.insurer_id = acting_setting;
	}
	else if (n == 1)
	{
		cache.isnull = false;
		cache.insurer_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	else if (n > 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("role \"%s\" acts for several insurers", GetUserNameFromId(GetUserId(), false)),
				 errhint("Choose one with SET onshikaku.acting_insurer = <insurer_id>.")));
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
