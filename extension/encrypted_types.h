/*
 * encrypted_types.h
 *	  The SQL-callable encryption and blind-index functions of
 *	  encrypted_types.c, for C callers that hold parsed My Numbers (the bulk
 *	  enrolment): called with DirectFunctionCall, arguments never NULL.
 */
#ifndef ONSHIKAKU_ENCRYPTED_TYPES_H
#define ONSHIKAKU_ENCRYPTED_TYPES_H

#include "fmgr.h"

/* protect(my_number, insurer_number, purpose text) */
extern Datum osk_protect(PG_FUNCTION_ARGS);

/* protect_national(my_number, purpose text) */
extern Datum osk_protect_national(PG_FUNCTION_ARGS);

/* blind_index_of(my_number) */
extern Datum osk_blind_index(PG_FUNCTION_ARGS);

#endif							/* ONSHIKAKU_ENCRYPTED_TYPES_H */
