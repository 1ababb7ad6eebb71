/*
 * access_log.c
 *	  The access log of reveals: every call recorded, stored in batches.
 *
 * A heap row per reveal would cost several times the decryption itself
 * (heap and index insert, WAL), so calls are queued in transaction memory,
 * grouped by everything they share (roles, insurer, data key, purpose,
 * access purpose), and each group is stored as one row of
 * onshikaku.access_log_batch holding the per-call record references and
 * times as arrays.  The view onshikaku.access_log shows one row per call.
 *
 * The queue is written when the statement that revealed ends (so the next
 * statement of the transaction sees it), when it holds too many calls, and
 * as a last resort just before the transaction commits or prepares; never
 * inside a subtransaction, whose rollback would take the rows with it
 * (the queue outlives it and is written at the top level).  A failure to
 * write aborts the statement or the commit, so a committed reveal always
 * has its row.  An aborted transaction writes nothing: its calls go with
 * everything else it did.
 */
#include "postgres.h"

#include <time.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "access_log.h"
#include "keys.h"
#include "privileged.h"

#define QUEUE_FLUSH_AT	8192	/* calls queued before a forced write */
#define MAX_GROUPS		64

/* Calls that share everything but their record and time. */
typedef struct LogGroup
{
	Oid			session_role;
	Oid			acting_role;
	int64		insurer;
	int32		key_id;
	text	   *purpose;
	text	   *access_purpose;
	int			n;
	int			capacity;
	Datum	   *record_refs;	/* text */
	Datum	   *times;			/* timestamptz */
} LogGroup;

/*
 * The queue lives in a child of TopTransactionContext, reset after each
 * write and gone with the transaction.
 */
static MemoryContext queue_cxt = NULL;
static LogGroup *groups = NULL;	/* in queue_cxt */
static int	ngroups = 0;
static int	max_groups = 0;
static int	queued = 0;
static int	last_group = -1;
static bool flushing = false;
static ExecutorEnd_hook_type prev_executor_end = NULL;

/* Forget the queue (its memory goes with its context). */
static void
queue_reset(void)
{
	groups = NULL;
	max_groups = 0;
	ngroups = 0;
	queued = 0;
	last_group = -1;
}

/* Privileged part of the flush: one INSERT per group. */
static void
insert_groups(void *arg)
{
	Oid			ins_type = osk_type_oid("insurer_number");
	Oid			types[8] = {TEXTOID, TEXTOID, ins_type, INT4OID, TEXTOID, TEXTOID,
	TEXTARRAYOID, TIMESTAMPTZARRAYOID};
	SPIPlanPtr	plan;

	plan = SPI_prepare("INSERT INTO onshikaku.access_log_batch (session_role, acting_role, insurer, "
					   "key_id, purpose, access_purpose, record_refs, accessed_at) "
					   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", 8, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare the access-log insert");
	for (int g = 0; g < ngroups; g++)
	{
		LogGroup   *grp = &groups[g];
		Datum		values[8];
		char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
		const char *sess = GetUserNameFromId(grp->session_role, true);
		const char *act = GetUserNameFromId(grp->acting_role, true);

		values[0] = CStringGetTextDatum(sess ? sess : "?");
		values[1] = CStringGetTextDatum(act ? act : "?");
		values[2] = Int64GetDatum(grp->insurer);
		if (grp->insurer == OSK_NO_INSURER)
			nulls[2] = 'n';
		values[3] = Int32GetDatum(grp->key_id);
		values[4] = PointerGetDatum(grp->purpose);
		values[5] = PointerGetDatum(grp->access_purpose);
		values[6] = PointerGetDatum(construct_array(grp->record_refs, grp->n, TEXTOID,
													-1, false, TYPALIGN_INT));
		values[7] = PointerGetDatum(construct_array(grp->times, grp->n, TIMESTAMPTZOID,
													8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not write onshikaku.access_log_batch");
	}
}

/* Write the queue now. */
static void
flush_queue(void)
{
	volatile bool pushed = false;

	/*
	 * Only at the top level: rows written inside a subtransaction would be
	 * lost if it rolled back, though the values were already revealed.  The
	 * queue itself lives in top-transaction memory and survives that.
	 */
	if (queued == 0 || flushing || GetCurrentTransactionNestLevel() > 1)
		return;
	flushing = true;
	PG_TRY();
	{
		/* before commit no statement is running: give SPI a snapshot */
		if (!ActiveSnapshotSet())
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			pushed = true;
		}
		osk_run_privileged(insert_groups, NULL);
		if (pushed)
			PopActiveSnapshot();
	}
	PG_FINALLY();
	{
		flushing = false;
	}
	PG_END_TRY();
	MemoryContextReset(queue_cxt);
	queue_reset();
}

/* End of a statement's executor: write what it revealed. */
static void
access_log_executor_end(QueryDesc *queryDesc)
{
	if (prev_executor_end)
		prev_executor_end(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
	flush_queue();
}

/* Transaction callback: flush before commit, forget after the end. */
static void
access_log_xact(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			flush_queue();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			queue_cxt = NULL;	/* freed with TopTransactionContext */
			queue_reset();
			flushing = false;
			break;
		default:
			break;
	}
}

static bool purging = false;

void
osk_access_log_init(void)
{
	/* set only by the retention purge (a superuser-owned function) */
	DefineCustomBoolVariable("onshikaku.purging",
							 "Lets the retention purge delete from the append-only logs.",
							 NULL, &purging, false, PGC_SUSET,
							 GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							 NULL, NULL, NULL);
	RegisterXactCallback(access_log_xact, NULL);
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = access_log_executor_end;
}

/*
 * The time of a call, from the coarse real-time clock: a few milliseconds
 * of resolution, for a fraction of the cost of GetCurrentTimestamp().
 */
static TimestampTz
coarse_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME_COARSE, &ts) != 0)
		return GetCurrentTimestamp();
	return (TimestampTz) (ts.tv_sec - ((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)) *
		USECS_PER_SEC + ts.tv_nsec / 1000;
}

/* Do two texts hold the same bytes? */
static inline bool
text_equal(text *a, text *b)
{
	return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

/* The group a call belongs to, made when new; -1 when the table is full. */
static int
find_group(Oid sess, Oid act, int64 insurer, int32 key_id, text *purpose, text *why)
{
	LogGroup   *g;

	for (int i = last_group >= 0 ? -1 : 0; i < ngroups; i++)
	{
		int			k = i < 0 ? last_group : i;

		g = &groups[k];
		if (g->key_id == key_id && g->insurer == insurer && g->acting_role == act &&
			g->session_role == sess && text_equal(g->purpose, purpose) &&
			text_equal(g->access_purpose, why))
			return k;
	}
	if (ngroups == max_groups)
	{
		/* at the top level a full table is written out; below it, grow */
		if (ngroups >= MAX_GROUPS && GetCurrentTransactionNestLevel() == 1)
			return -1;
		max_groups = max_groups == 0 ? 8 : max_groups * 2;
		groups = groups == NULL ? palloc(max_groups * sizeof(LogGroup)) :
			repalloc(groups, max_groups * sizeof(LogGroup));
	}
	g = &groups[ngroups];
	g->session_role = sess;
	g->acting_role = act;
	g->insurer = insurer;
	g->key_id = key_id;
	g->purpose = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(purpose));
	g->access_purpose = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(why));
	g->n = 0;
	g->capacity = 16;
	g->record_refs = palloc(g->capacity * sizeof(Datum));
	g->times = palloc(g->capacity * sizeof(Datum));
	return ngroups++;
}

/* Queue one call, copying its texts into transaction memory. */
void
osk_access_log_record(int64 insurer, int32 key_id, text *purpose,
					  text *record_ref, text *access_purpose)
{
	MemoryContext old;
	LogGroup   *g;
	int			k;

	if (queued >= QUEUE_FLUSH_AT)
		flush_queue();
	if (queue_cxt == NULL)
		queue_cxt = AllocSetContextCreate(TopTransactionContext, "onshikaku access log queue",
										  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(queue_cxt);
	/*
	 * The acting role is the outer user (SET ROLE or the session user), not
	 * the owner of a SECURITY DEFINER function a reveal runs in: the log
	 * names who asked, also when a flow reveals on the caller's behalf.
	 */
	k = find_group(GetSessionUserId(), GetOuterUserId(), insurer, key_id, purpose, access_purpose);
	if (k < 0)
	{
		MemoryContextSwitchTo(old);
		flush_queue();
		old = MemoryContextSwitchTo(queue_cxt);
		/*
	 * The acting role is the outer user (SET ROLE or the session user), not
	 * the owner of a SECURITY DEFINER function a reveal runs in: the log
	 * names who asked, also when a flow reveals on the caller's behalf.
	 */
	k = find_group(GetSessionUserId(), GetOuterUserId(), insurer, key_id, purpose, access_purpose);
	}
	last_group = k;
	g = &groups[k];
	if (g->n == g->capacity)
	{
		g->capacity *= 2;
		g->record_refs = repalloc(g->record_refs, g->capacity * sizeof(Datum));
		g->times = repalloc(g->times, g->capacity * sizeof(Datum));
	}
	g->record_refs[g->n] = PointerGetDatum(PG_DETOAST_DATUM_COPY(PointerGetDatum(record_ref)));
	g->times[g->n] = TimestampTzGetDatum(coarse_now());
	g->n++;
	queued++;
	MemoryContextSwitchTo(old);
}
