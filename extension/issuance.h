/*
 * issuance.h
 *	  New 16-digit numbers (被保険者枝番, 紐付番号, PMH-ID) for C callers.
 */
#ifndef ONSHIKAKU_ISSUANCE_H
#define ONSHIKAKU_ISSUANCE_H

#include "postgres.h"

/* 15 digits from the CSPRNG and a Luhn check digit; raises if it fails */
extern int64 osk_new_issued_value(void);

#endif							/* ONSHIKAKU_ISSUANCE_H */
