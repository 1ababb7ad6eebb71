/*
 * issuance.c
 *	  New 16-digit numbers for issuance: 被保険者枝番, 紐付番号 and PMH-ID.
 *
 * Each is 15 digits drawn uniformly from the server's CSPRNG (OpenSSL
 * RAND_bytes, checked) followed by a Luhn check digit, so that nothing can
 * be learnt from a number (not the order of issue, not the My Number) and
 * a mistyped number is caught.  Uniqueness is not decided here: the flows
 * insert under a unique constraint and draw again on a collision (about
 * one in 10^7 draws at 10^8 people).
 */
#include "postgres.h"

#include "fmgr.h"

#include "crypto.h"
#include "ident.h"
#include "issuance.h"

#define BODY_RANGE INT64CONST(1000000000000000)		/* 10^15 */

/*
 * A uniform 15-digit body, never all zeros (a placeholder value the types
 * refuse).  Rejection sampling keeps it uniform: draws at or above the
 * largest multiple of 10^15 that fits in 2^64 are thrown away.
 */
static int64
random_body15(void)
{
	const uint64 limit = (PG_UINT64_MAX / (uint64) BODY_RANGE) * (uint64) BODY_RANGE;

	for (;;)
	{
		uint64		r;

		if (osk_random_bytes((uint8_t *) &r, sizeof(r)) != OSK_CRYPTO_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("the random number generator failed: %s", osk_crypto_error())));
		if (r >= limit)
			continue;
		r %= (uint64) BODY_RANGE;
		if (r != 0)
			return (int64) r;
	}
}

/* A fresh 16-digit number, for C callers (the bulk enrolment). */
int64
osk_new_issued_value(void)
{
	return osk_id_with_luhn(random_body15());
}

/*
 * onshikaku.new_issued_number(): a fresh 16-digit number; the SQL wrappers
 * declare it as each issued type (all three share one representation).
 */
PG_FUNCTION_INFO_V1(osk_new_issued_number);
Datum
osk_new_issued_number(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(osk_new_issued_value());
}
