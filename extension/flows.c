/*
 * flows.c
 *	  The gate of the flows: may the caller do this, for this insurer?
 *
 * The flows (extension/sql/40_flows.sql) are SECURITY DEFINER functions:
 * they write tables no caller may write directly.  Inside them
 * current_user is the extension's owner, so the check of the caller's
 * rights cannot use it.  It uses the outer user instead: the role set by
 * SET ROLE or the session user, which a SECURITY DEFINER call does not
 * change.  A caller reaching a flow through someone else's SECURITY
 * DEFINER function is therefore judged by its own rights, never by more.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

/* Does the outer user act for the insurer (onshikaku.insurer_role)? */
static bool
acts_for(Oid user, int32 insurer_id)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[2] = {Int32GetDatum(insurer_id), ObjectIdGetDatum(user)};
	bool		found;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (plan == NULL)
	{
		Oid			types[2] = {INT4OID, OIDOID};

		plan = SPI_prepare("SELECT 1 FROM onshikaku.insurer_role WHERE insurer_id = $1 "
						   "AND pg_catalog.pg_has_role($2, role_name::oid, 'MEMBER') LIMIT 1",
						   2, types);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the insurer_role check");
	}
	if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "the insurer_role check failed");
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

/*
 * onshikaku.caller_check(insurer_id integer, required_role name): raise
 * 42501 unless the outer user has the privileges of required_role and,
 * when insurer_id is not NULL, acts for that insurer.  Superusers pass.
 */
PG_FUNCTION_INFO_V1(osk_caller_check);
Datum
osk_caller_check(PG_FUNCTION_ARGS)
{
	Oid			user = GetOuterUserId();
	const char *role_name;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("required_role must not be NULL")));
	role_name = NameStr(*PG_GETARG_NAME(1));
	if (superuser_arg(user))
		PG_RETURN_VOID();
	if (!has_privs_of_role(user, get_role_oid(role_name, false)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: this flow needs the rights of %s", role_name)));
	if (!PG_ARGISNULL(0) && !acts_for(user, PG_GETARG_INT32(0)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: role \"%s\" does not act for insurer %d",
						GetUserNameFromId(user, false), PG_GETARG_INT32(0)),
				 errhint("An administrator maps roles to insurers with onshikaku.grant_insurer().")));
	PG_RETURN_VOID();
}
