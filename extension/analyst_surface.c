/*
 * analyst_surface.c
 *	  What the analyst role can reach, checked against the column
 *	  classification (onshikaku.column_class); and the minimum cell size of
 *	  the analyst views.
 *
 * onshikaku.check_analyst_surface() fails, naming the column, when anything
 * onshikaku_analyst can read (by its own grants, a role it belongs to, or
 * PUBLIC) exposes a classified column:
 *
 *	 - a table or column privilege on a column classed personal_number,
 *	   direct_identifier or quasi_identifier (of a model table or any of its
 *	   partitions);
 *	 - a view column that is such a column as it is (followed through
 *	   subqueries, CTEs, joins and other views) -- a quasi-identifier only
 *	   when no query on the way groups or aggregates, since a group key of a
 *	   suppressed aggregate is what the analyst views are made of -- or that
 *	   is computed from a personal_number or direct_identifier column (a
 *	   quasi-identifier may be generalised, as an age band is from a birth
 *	   date);
 *	 - a role that reaches personal data (insurer, number handler, OQS feed,
 *	   PMH gateway, auditor, admin), a SECURITY DEFINER function of the
 *	   extension, or reveal() and blind_index_of().
 *
 * Columns used only to filter or join (the DV exclusion reads link_number)
 * expose nothing and are not flagged.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_proc.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/regproc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "analyst_surface.h"
#include "privileged.h"

static int	min_cell = 10;

void
osk_analyst_surface_init(void)
{
	DefineCustomIntVariable("onshikaku.analyst_min_cell",
							"Smallest group the analyst views show.",
							"Groups with fewer people are suppressed. Only superusers may change it.",
							&min_cell, 10, 2, 1000000, PGC_SUSET, 0, NULL, NULL, NULL);
}

/* onshikaku.analyst_min_cell(): the setting, for the views' HAVING clauses. */
PG_FUNCTION_INFO_V1(osk_analyst_min_cell);
Datum
osk_analyst_min_cell(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(min_cell);
}

/* The classification of a base column, or NULL when it has none. */
typedef struct Classes
{
	int			n;
	Oid		   *relid;
	char	  **column;
	char	  **class;
} Classes;

static const char *
class_of(const Classes *c, Oid relid, const char *column)
{
	Oid			parent = relid;

	/* a partition is classified as its parent (one level: LIST by insurer) */
	if (get_rel_relispartition(relid))
		parent = get_partition_parent(relid, true);
	for (int i = 0; i < c->n; i++)
		if ((c->relid[i] == relid || c->relid[i] == parent) && strcmp(c->column[i], column) == 0)
			return c->class[i];
	return NULL;
}

/* Read onshikaku.column_class (with the caller's rights: an operator's). */
static void
load_classes(Classes *c)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT relid::oid, column_name::text, class FROM onshikaku.column_class", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read onshikaku.column_class");
	c->n = (int) SPI_processed;
	c->relid = SPI_palloc(sizeof(Oid) * (c->n + 1));
	c->column = SPI_palloc(sizeof(char *) * (c->n + 1));
	c->class = SPI_palloc(sizeof(char *) * (c->n + 1));
	for (int i = 0; i < c->n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *s;

		c->relid[i] = DatumGetObjectId(SPI_getbinval(t, d, 1, &isnull));
		s = SPI_getvalue(t, d, 2);
		c->column[i] = SPI_palloc(strlen(s) + 1);
		strcpy(c->column[i], s);
		s = SPI_getvalue(t, d, 3);
		c->class[i] = SPI_palloc(strlen(s) + 1);
		strcpy(c->class[i], s);
	}
	SPI_finish();
}

static bool
is_sensitive(const char *class)
{
	return class != NULL && (strcmp(class, "personal_number") == 0 || strcmp(class, "direct_identifier") == 0);
}

static bool
is_classified(const char *class)
{
	return is_sensitive(class) || (class != NULL && strcmp(class, "quasi_identifier") == 0);
}

/*
 * May the role read this column?  pg_attribute_aclcheck() looks at the
 * column's own privileges only, so the table's are asked first.
 */
static bool
can_read(Oid rel, AttrNumber att, Oid role)
{
	return pg_class_aclcheck(rel, role, ACL_SELECT) == ACLCHECK_OK ||
		pg_attribute_aclcheck(rel, att, role, ACL_SELECT) == ACLCHECK_OK;
}

static void
exposed(const char *what, Oid relid, const char *column, const char *class)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("onshikaku_analyst can read %s: %s.%s (%s)", what,
					get_rel_name(relid), column, class),
			 errhint("Revoke the grant, or drop the column from the view; see docs/analysts.md.")));
}

typedef struct Walk
{
	const Classes *classes;
	List	   *queries;		/* the Query each Var level refers to, innermost first */
	int			depth;
	bool		aggregated;		/* a query on the path groups or aggregates */
	Oid			view;			/* the view being checked, for messages */
	const char *view_column;
} Walk;

static bool expr_walker(Node *node, Walk *w);

/*
 * A target entry of a query, seen as an output: a bare column (returns its
 * relation and name through *relid / *column) or an expression (walked for
 * sensitive columns).  Returns true for a bare column.
 */
static bool resolve_output(Query *q, AttrNumber attno, Walk *w, Oid *relid, char **column);

/* Follow a Var of query q to what it stands for. */
static bool
resolve_var(Query *q, Var *v, Walk *w, Oid *relid, char **column)
{
	RangeTblEntry *rte;

	if (v->varattno <= 0 || v->varno <= 0 || v->varno > list_length(q->rtable))
		return false;
	rte = rt_fetch(v->varno, q->rtable);
	switch (rte->rtekind)
	{
		case RTE_RELATION:
			if (rte->relkind == RELKIND_VIEW || rte->relkind == RELKIND_MATVIEW)
			{
				Relation	rel = table_open(rte->relid, AccessShareLock);
				Query	   *vq = get_view_query(rel);
				bool		bare;

				bare = resolve_output(vq, v->varattno, w, relid, column);
				table_close(rel, AccessShareLock);
				return bare;
			}
			*relid = rte->relid;
			*column = get_attname(rte->relid, v->varattno, false);
			return true;
		case RTE_SUBQUERY:
			return resolve_output(rte->subquery, v->varattno, w, relid, column);
		case RTE_JOIN:
			if (v->varattno <= list_length(rte->joinaliasvars))
			{
				Node	   *alias = list_nth(rte->joinaliasvars, v->varattno - 1);

				if (alias && IsA(alias, Var))
					return resolve_var(q, (Var *) alias, w, relid, column);
				if (alias)
				{
					w->queries = lcons(q, w->queries);
					expr_walker(alias, w);
					w->queries = list_delete_first(w->queries);
				}
			}
			return false;
		case RTE_CTE:
			/* CTEs of this query level (views do not use outer-level ones) */
			if (rte->ctelevelsup == 0)
			{
				ListCell   *lc;

				foreach(lc, q->cteList)
				{
					CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

					if (strcmp(cte->ctename, rte->ctename) == 0 && IsA(cte->ctequery, Query))
						return resolve_output((Query *) cte->ctequery, v->varattno, w, relid, column);
				}
			}
			return false;
		default:
			return false;
	}
}

static bool
resolve_output(Query *q, AttrNumber attno, Walk *w, Oid *relid, char **column)
{
	TargetEntry *te;

	if (++w->depth > 64)
		elog(ERROR, "views nested too deeply");
	te = get_tle_by_resno(q->targetList, attno);
	if (te == NULL)
	{
		w->depth--;
		return false;
	}
	if (q->hasAggs || q->groupClause != NIL || q->groupingSets != NIL)
		w->aggregated = true;
	if (IsA(te->expr, Var) && ((Var *) te->expr)->varlevelsup == 0)
	{
		bool		bare = resolve_var(q, (Var *) te->expr, w, relid, column);

		w->depth--;
		return bare;
	}
	w->queries = lcons(q, w->queries);
	expr_walker((Node *) te->expr, w);
	w->queries = list_delete_first(w->queries);
	w->depth--;
	return false;
}

/*
 * Walk an output expression: any column it reads (at any depth, through
 * subqueries and views) that is a personal number or a direct identifier
 * is exposed.
 */
static bool
expr_walker(Node *node, Walk *w)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *v = (Var *) node;
		Query	   *q = (Query *) list_nth(w->queries, 0);
		Oid			relid;
		char	   *column;

		if ((int) v->varlevelsup < list_length(w->queries))
			q = (Query *) list_nth(w->queries, v->varlevelsup);
		if (resolve_var(q, v, w, &relid, &column) && is_sensitive(class_of(w->classes, relid, column)))
			exposed(psprintf("view column %s.%s, computed from", get_rel_name(w->view), w->view_column),
					relid, column, class_of(w->classes, relid, column));
		return false;
	}
	if (IsA(node, SubLink))
	{
		SubLink    *s = (SubLink *) node;
		Query	   *sq = (Query *) s->subselect;
		ListCell   *lc;

		expr_walker(s->testexpr, w);
		w->queries = lcons(sq, w->queries);
		foreach(lc, sq->targetList)
			expr_walker((Node *) lfirst_node(TargetEntry, lc)->expr, w);
		w->queries = list_delete_first(w->queries);
		return false;
	}
	return expression_tree_walker(node, expr_walker, (void *) w);
}

/* Check every column of a view the analyst may read. */
static void
check_view(Oid view, Oid analyst, const Classes *classes)
{
	Relation	rel = table_open(view, AccessShareLock);
	Query	   *q = get_view_query(rel);
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Walk		w = {classes, NIL, 0, false, view, NameStr(att->attname)};
		Oid			relid;
		char	   *column;
		const char *class;

		if (att->attisdropped || !can_read(view, att->attnum, analyst))
			continue;
		if (!resolve_output(q, att->attnum, &w, &relid, &column))
			continue;
		/* a quasi-identifier may be a group key of an aggregate; the others never */
		class = class_of(classes, relid, column);
		if (w.aggregated ? is_sensitive(class) : is_classified(class))
			exposed(psprintf("view column %s.%s, which is", get_rel_name(view), NameStr(att->attname)),
					relid, column, class);
	}
	table_close(rel, AccessShareLock);
}

/*
 * onshikaku.check_analyst_surface(): see the file header.  Returns a
 * one-line summary when nothing is exposed.
 */
PG_FUNCTION_INFO_V1(osk_check_analyst_surface);
Datum
osk_check_analyst_surface(PG_FUNCTION_ARGS)
{
	static const char *const roles[] = {
		"onshikaku_insurer", "onshikaku_number_handler", "onshikaku_oqs_feed",
		"onshikaku_pmh_gateway", "onshikaku_auditor", "onshikaku_admin"
	};
	static const char *const functions[] = {"reveal", "blind_index_of", "my_number_digits"};
	Oid			analyst = get_role_oid("onshikaku_analyst", false);
	Classes		classes;
	int			columns = 0;
	int			views = 0;

	for (int i = 0; i < (int) lengthof(roles); i++)
		if (has_privs_of_role(analyst, get_role_oid(roles[i], false)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("onshikaku_analyst has the privileges of %s", roles[i])));

	load_classes(&classes);

	/* tables and their partitions: column by column */
	for (int i = 0; i < classes.n; i++)
	{
		List	   *rels;
		ListCell   *lc;

		if (!is_classified(classes.class[i]) || !OidIsValid(get_rel_namespace(classes.relid[i])))
			continue;
		/* no locks: 3,500 partitions per table would exhaust the lock table */
		rels = find_all_inheritors(classes.relid[i], NoLock, NULL);
		foreach(lc, rels)
		{
			Oid			rel = lfirst_oid(lc);
			AttrNumber	att = get_attnum(rel, classes.column[i]);

			if (att == InvalidAttrNumber)
				continue;
			columns++;
			if (can_read(rel, att, analyst))
				exposed("table column", rel, classes.column[i], classes.class[i]);
		}
	}

	/* every view of the database the analyst may read */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relkind IN ('v', 'm') "
					"AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list views");
	{
		int			n = (int) SPI_processed;
		Oid		   *oids = palloc(sizeof(Oid) * (n + 1));
		bool		isnull;

		for (int i = 0; i < n; i++)
			oids[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		for (int i = 0; i < n; i++)
			if (pg_class_aclcheck(oids[i], analyst, ACL_SELECT) == ACLCHECK_OK ||
				pg_attribute_aclcheck_all(oids[i], analyst, ACL_SELECT, ACLMASK_ANY) == ACLCHECK_OK)
			{
				check_view(oids[i], analyst, &classes);
				views++;
			}
	}

	/* functions that reach personal numbers */
	if (SPI_execute("SELECT p.oid, p.proname, p.prosecdef FROM pg_catalog.pg_proc p "
					"WHERE p.pronamespace = 'onshikaku'::regnamespace", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list functions");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			fn = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		bool		secdef = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		bool		reaches = secdef;

		for (int k = 0; k < (int) lengthof(functions); k++)
			reaches = reaches || strcmp(name, functions[k]) == 0;
		if (reaches && pg_proc_aclcheck(fn, analyst, ACL_EXECUTE) == ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("onshikaku_analyst can execute %s", format_procedure(fn)),
					 errhint("Revoke EXECUTE; see docs/analysts.md.")));
	}
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("ok: %d classified columns and %d readable views checked; nothing exposed",
											  columns, views)));
}
