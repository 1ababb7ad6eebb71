/*
 * access_log.c
 *	  Rows of onshikaku.access_log for every reveal, written in bulk.
 *
 * An INSERT per reveal would cost more than the decryption itself, so rows
 * are queued in transaction memory and written with one INSERT ... SELECT
 * FROM unnest(...) when the queue is full, when the statement that revealed
 * ends (so the next statement of the transaction sees them), and as a last
 * resort just before the transaction commits or prepares.  A failure to
 * write aborts the statement or the commit, so a committed reveal always
 * has its row.  An aborted transaction writes nothing: its rows go with
 * everything else it did.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "access_log.h"
#include "keys.h"
#include "privileged.h"

#define QUEUE_FLUSH_AT	8192

typedef struct LogEntry
{
	TimestampTz at;
	Oid			session_role;
	Oid			current_role;
	int64		insurer;
	int32		key_id;
	text	   *purpose;
	text	   *record_ref;
	text	   *access_purpose;
} LogEntry;

/*
 * The queue lives in a child of TopTransactionContext, reset after each
 * flush and gone with the transaction.
 */
static MemoryContext queue_cxt = NULL;
static LogEntry *queue = NULL;
static int	queued = 0;
static int	capacity = 0;
static bool flushing = false;
static ExecutorEnd_hook_type prev_executor_end = NULL;

/* Privileged part of the flush: one INSERT for the whole queue. */
static void
insert_queue(void *arg)
{
	int			n = queued;
	Datum	   *at = palloc(n * sizeof(Datum));
	Datum	   *sess = palloc(n * sizeof(Datum));
	Datum	   *cur = palloc(n * sizeof(Datum));
	Datum	   *ins = palloc(n * sizeof(Datum));
	bool	   *ins_null = palloc(n * sizeof(bool));
	Datum	   *key = palloc(n * sizeof(Datum));
	Datum	   *purp = palloc(n * sizeof(Datum));
	Datum	   *ref = palloc(n * sizeof(Datum));
	Datum	   *why = palloc(n * sizeof(Datum));
	Oid			ins_type = osk_type_oid("insurer_number");
	int			dims[1] = {n};
	int			lbs[1] = {1};
	Oid			types[8] = {TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	get_array_type(ins_type), INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[8];

	for (int i = 0; i < n; i++)
	{
		at[i] = TimestampTzGetDatum(queue[i].at);
		sess[i] = CStringGetTextDatum(GetUserNameFromId(queue[i].session_role, true) ?: "?");
		cur[i] = CStringGetTextDatum(GetUserNameFromId(queue[i].current_role, true) ?: "?");
		ins[i] = Int64GetDatum(queue[i].insurer);
		ins_null[i] = queue[i].insurer == OSK_NO_INSURER;
		key[i] = Int32GetDatum(queue[i].key_id);
		purp[i] = PointerGetDatum(queue[i].purpose);
		ref[i] = PointerGetDatum(queue[i].record_ref);
		why[i] = PointerGetDatum(queue[i].access_purpose);
	}
	values[0] = PointerGetDatum(construct_array(at, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_array(sess, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(cur, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_md_array(ins, ins_null, 1, dims, lbs, ins_type, 8,
												   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[4] = PointerGetDatum(construct_array(key, n, INT4OID, 4, true, TYPALIGN_INT));
	values[5] = PointerGetDatum(construct_array(purp, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[6] = PointerGetDatum(construct_array(ref, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[7] = PointerGetDatum(construct_array(why, n, TEXTOID, -1, false, TYPALIGN_INT));
	if (SPI_execute_with_args("INSERT INTO onshikaku.access_log (accessed_at, session_role, acting_role, "
							  "insurer, key_id, purpose, record_ref, access_purpose) "
							  "SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8)",
							  8, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write onshikaku.access_log");
}

/* Write the queue now. */
static void
flush_queue(void)
{
	bool		pushed = false;

	if (queued == 0 || flushing)
		return;
	flushing = true;
	/* before commit no statement is running: give SPI a snapshot */
	if (!ActiveSnapshotSet())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		pushed = true;
	}
	osk_run_privileged(insert_queue, NULL);
	if (pushed)
		PopActiveSnapshot();
	MemoryContextReset(queue_cxt);
	queue = NULL;
	queued = capacity = 0;
	flushing = false;
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
			queue = NULL;
			queued = capacity = 0;
			flushing = false;
			break;
		default:
			break;
	}
}

void
osk_access_log_init(void)
{
	RegisterXactCallback(access_log_xact, NULL);
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = access_log_executor_end;
}

/* Queue a row, copying its texts into transaction memory. */
void
osk_access_log_record(int64 insurer, int32 key_id, text *purpose,
					  text *record_ref, text *access_purpose)
{
	MemoryContext old;
	LogEntry   *e;

	if (queued >= QUEUE_FLUSH_AT)
		flush_queue();
	if (queue_cxt == NULL)
		queue_cxt = AllocSetContextCreate(TopTransactionContext, "onshikaku access log queue",
										  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(queue_cxt);
	if (queued == capacity)
	{
		capacity = capacity == 0 ? 64 : capacity * 2;
		queue = queue == NULL ? palloc(capacity * sizeof(LogEntry)) :
			repalloc(queue, capacity * sizeof(LogEntry));
	}
	e = &queue[queued];
	e->at = GetCurrentTimestamp();
	e->session_role = GetSessionUserId();
	e->current_role = GetUserId();
	e->insurer = insurer;
	e->key_id = key_id;
	e->purpose = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(purpose));
	e->record_ref = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(record_ref));
	e->access_purpose = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(access_purpose));
	queued++;
	MemoryContextSwitchTo(old);
}
