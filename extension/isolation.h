/*
 * isolation.h
 *	  The insurer a statement acts for (row-level security predicate).
 */
#ifndef ONSHIKAKU_ISOLATION_H
#define ONSHIKAKU_ISOLATION_H

#include "postgres.h"

extern void osk_isolation_init(void);

/* The value onshikaku.acting_insurer() returns; *isnull for none. */
extern int32 osk_acting_insurer_value(bool *isnull);

#endif							/* ONSHIKAKU_ISOLATION_H */
