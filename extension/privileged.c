/*
 * privileged.c
 *	  Run fixed SPI statements as the owner of the extension's tables.
 *
 * The key table and the access log are closed to the roles that call
 * protect() and reveal(), yet those calls must read data keys and append
 * log rows.  Instead of making every hot function SECURITY DEFINER (whose
 * per-call GUC save and restore costs more than the encryption), the slow
 * paths switch user here, the way the server's own RI triggers do, with a
 * search_path that no caller can plant objects in.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "privileged.h"

/* OID of schema onshikaku; errors when the extension is not installed. */
static Oid
schema_oid(void)
{
	Oid			nsp = get_namespace_oid("onshikaku", true);

	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"onshikaku\" is not installed in this database")));
	return nsp;
}

Oid
osk_type_oid(const char *name)
{
	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						   CStringGetDatum(name), ObjectIdGetDatum(schema_oid()));
}

Oid
osk_relation_oid(const char *name)
{
	return get_relname_relid(name, schema_oid());
}

/* Owner of a relation, from the syscache. */
static Oid
relation_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * On error, (sub)transaction abort restores the user id, the GUC nest
 * level and SPI, exactly as for a SECURITY DEFINER function, so there is
 * no PG_TRY here.
 */
void
osk_run_privileged(OskPrivilegedFn fn, void *arg)
{
	Oid			relid = osk_relation_oid("data_key");
	Oid			save_userid;
	int			save_sec;
	int			nestlevel;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"onshikaku\" is not installed in this database")));
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(relation_owner(relid),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	fn(arg);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	AtEOXact_GUC(true, nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec);
}
