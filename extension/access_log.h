/*
 * access_log.h
 *	  The access log: one row per reveal of a personal number (who, when,
 *	  which record, why), never the number itself.
 */
#ifndef ONSHIKAKU_ACCESS_LOG_H
#define ONSHIKAKU_ACCESS_LOG_H

#include "postgres.h"

extern void osk_access_log_init(void);

/* Queue one row; it is written before the transaction commits. */
extern void osk_access_log_record(int64 insurer, int32 key_id, text *purpose,
								  text *record_ref, text *access_purpose);

#endif							/* ONSHIKAKU_ACCESS_LOG_H */
