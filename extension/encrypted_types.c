/*
 * encrypted_types.c
 *	  The stored forms of personal numbers: onshikaku.encrypted (AES-256-GCM
 *	  under a data key) and onshikaku.blind_index (keyed HMAC-SHA256), and the
 *	  functions that make, look up and reveal them.
 *
 * Binary format of an encrypted value (version 1), after the varlena header:
 *
 *	   version (1) | kind (1) | key id (4, big-endian) | nonce (12) |
 *	   ciphertext (n) | tag (16)
 *
 * kind 1 is a My Number (n = 8: the number as a big-endian int64), kind 2 an
 * opaque code such as an agency code (n = its bytes).  The associated data
 * is a label, the version, kind and key id, the insurer number and the
 * purpose (which column it belongs to), so a value copied to another
 * insurer's row or to another column does not authenticate.  The text form
 * is "enc1:" and the base64 of the binary form; it reveals nothing.
 */
#include "postgres.h"

#include "access/hash.h"
#include "access/xact.h"
#include "common/base64.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "access_log.h"
#include "crypto.h"
#include "encrypted_types.h"
#include "ident.h"
#include "keys.h"

#define ENC_VERSION		1
#define KIND_MY_NUMBER	1
#define KIND_CODE		2
#define ENC_HDR_LEN		(1 + 1 + 4 + OSK_NONCE_LEN)
#define MAX_CODE_LEN	256
#define MAX_PURPOSE_LEN 63
#define TEXT_PREFIX		"enc1:"
#define BLIND_INDEX_LEN OSK_MAC_LEN

/* A parsed view of an encrypted value. */
typedef struct Enc
{
	int			kind;
	int32		key_id;
	const uint8_t *nonce;
	const uint8_t *cipher;
	size_t		len;
	const uint8_t *tag;
} Enc;

/* Check the layout of len bytes at p; true and *e filled when well-formed. */
static bool
enc_parse(const uint8_t *p, size_t len, Enc *e)
{
	if (len < ENC_HDR_LEN + OSK_TAG_LEN || p[0] != ENC_VERSION)
		return false;
	e->kind = p[1];
	e->key_id = (int32) (((uint32) p[2] << 24) | ((uint32) p[3] << 16) |
						 ((uint32) p[4] << 8) | (uint32) p[5]);
	e->nonce = p + 6;
	e->cipher = p + ENC_HDR_LEN;
	e->len = len - ENC_HDR_LEN - OSK_TAG_LEN;
	e->tag = p + len - OSK_TAG_LEN;
	if (e->key_id <= 0)
		return false;
	if (e->kind == KIND_MY_NUMBER)
		return e->len == 8;
	if (e->kind == KIND_CODE)
		return e->len >= 1 && e->len <= MAX_CODE_LEN;
	return false;
}

/* Parse a stored datum or raise: a malformed value is corrupted data. */
static void
enc_from_datum(bytea *v, Enc *e)
{
	if (!enc_parse((const uint8_t *) VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), e))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("malformed encrypted value")));
}

/* A purpose names a column or use: 1-63 of [a-z0-9_.]. */
static void
check_purpose(text *purpose)
{
	const char *p = VARDATA_ANY(purpose);
	int			n = VARSIZE_ANY_EXHDR(purpose);

	if (n < 1 || n > MAX_PURPOSE_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purpose must be 1 to %d characters long", MAX_PURPOSE_LEN)));
	for (int i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') ||
			  p[i] == '_' || p[i] == '.'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("purpose may contain only a-z, 0-9, \"_\" and \".\"")));
}

/* Associated data; aad must hold 32 + MAX_PURPOSE_LEN bytes. */
static size_t
enc_aad(uint8_t *aad, int kind, int32 key_id, int64 insurer, text *purpose)
{
	static const char label[] = "onshikaku/v1";
	size_t		n = sizeof(label) - 1;
	int			plen = VARSIZE_ANY_EXHDR(purpose);

	memcpy(aad, label, n);
	aad[n++] = ENC_VERSION;
	aad[n++] = (uint8_t) kind;
	for (int i = 3; i >= 0; i--)
		aad[n++] = (uint8_t) ((uint32) key_id >> (8 * i));
	for (int i = 7; i >= 0; i--)
		aad[n++] = (uint8_t) ((uint64) insurer >> (8 * i));
	aad[n++] = (uint8_t) plen;
	memcpy(aad + n, VARDATA_ANY(purpose), plen);
	return n + plen;
}

/* Raise the error for an OpenSSL failure. */
static void
crypto_error(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("%s failed", what),
			 errdetail("OpenSSL: %s", osk_crypto_error())));
}

/* Encrypt len bytes of a kind under the active key of (insurer, cohort). */
static bytea *
seal(int kind, const uint8_t *plain, size_t len, int64 insurer, int32 cohort, text *purpose)
{
	int32		key_id;
	OskAead    *aead = osk_active_data_key(insurer, cohort, &key_id);
	bytea	   *out = palloc(VARHDRSZ + ENC_HDR_LEN + len + OSK_TAG_LEN);
	uint8_t    *p = (uint8_t *) VARDATA(out);
	uint8_t		aad[32 + MAX_PURPOSE_LEN];
	size_t		aad_len = enc_aad(aad, kind, key_id, insurer, purpose);

	SET_VARSIZE(out, VARHDRSZ + ENC_HDR_LEN + len + OSK_TAG_LEN);
	p[0] = ENC_VERSION;
	p[1] = (uint8_t) kind;
	for (int i = 0; i < 4; i++)
		p[2 + i] = (uint8_t) ((uint32) key_id >> (8 * (3 - i)));
	osk_nonce(p + 6);
	if (osk_aead_seal(aead, p + 6, aad, aad_len, plain, len,
					  p + ENC_HDR_LEN, p + ENC_HDR_LEN + len) != OSK_CRYPTO_OK)
		crypto_error("encryption");
	return out;
}

/* Decrypt into plain (e->len bytes) or raise; plain is wiped on failure. */
static void
open_value(const Enc *e, int64 insurer, text *purpose, uint8_t *plain)
{
	OskAead    *aead = osk_data_key(e->key_id);
	uint8_t		aad[32 + MAX_PURPOSE_LEN];
	size_t		aad_len = enc_aad(aad, e->kind, e->key_id, insurer, purpose);
	OskCryptoResult r = osk_aead_open(aead, e->nonce, aad, aad_len, e->cipher, e->len,
									  e->tag, plain);

	if (r == OSK_CRYPTO_AUTH_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("encrypted value does not authenticate"),
				 errdetail("It was altered, or it belongs to another insurer or purpose."),
				 errhidestmt(true)));
	if (r != OSK_CRYPTO_OK)
		crypto_error("decryption");
}

/* Argument helpers: NULL insurer or purpose is an error, not a NULL result. */
static void
require_args(FunctionCallInfo fcinfo, int from, int to)
{
	for (int i = from; i <= to; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %d of %s must not be null", i + 1,
							get_func_name(fcinfo->flinfo->fn_oid))));
}

/* ---- type onshikaku.encrypted ------------------------------------------ */

PG_FUNCTION_INFO_V1(encrypted_in);
Datum
encrypted_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);
	size_t		plen = strlen(TEXT_PREFIX);
	int			slen = strlen(s);
	int			cap;
	bytea	   *out;
	int			n;
	Enc			e;

	if (strncmp(s, TEXT_PREFIX, plen) != 0 || slen - (int) plen > 4 * MAX_CODE_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input for type encrypted"),
				 errdetail("An encrypted value reads \"%s\" followed by base64.", TEXT_PREFIX)));
	cap = pg_b64_dec_len(slen - plen);
	out = palloc(VARHDRSZ + cap);
	n = pg_b64_decode(s + plen, slen - plen, VARDATA(out), cap);
	if (n < 0 || !enc_parse((const uint8_t *) VARDATA(out), n, &e))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input for type encrypted"),
				 errdetail("The value is not a well-formed encrypted value.")));
	SET_VARSIZE(out, VARHDRSZ + n);
	PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(encrypted_out);
Datum
encrypted_out(PG_FUNCTION_ARGS)
{
	bytea	   *v = PG_GETARG_BYTEA_PP(0);
	int			n = VARSIZE_ANY_EXHDR(v);
	int			cap = pg_b64_enc_len(n);
	size_t		plen = strlen(TEXT_PREFIX);
	char	   *out = palloc(plen + cap + 1);
	int			m;

	memcpy(out, TEXT_PREFIX, plen);
	m = pg_b64_encode(VARDATA_ANY(v), n, out + plen, cap);
	if (m < 0)
		elog(ERROR, "could not encode an encrypted value");
	out[plen + m] = '\0';
	PG_RETURN_CSTRING(out);
}

PG_FUNCTION_INFO_V1(encrypted_recv);
Datum
encrypted_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			n = buf->len - buf->cursor;
	bytea	   *out = palloc(VARHDRSZ + n);
	Enc			e;

	pq_copymsgbytes(buf, VARDATA(out), n);
	SET_VARSIZE(out, VARHDRSZ + n);
	if (!enc_parse((const uint8_t *) VARDATA(out), n, &e))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary value for type encrypted")));
	PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(encrypted_send);
Datum
encrypted_send(PG_FUNCTION_ARGS)
{
	bytea	   *v = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* onshikaku.key_id(encrypted): which data key protects a value. */
PG_FUNCTION_INFO_V1(encrypted_key_id);
Datum
encrypted_key_id(PG_FUNCTION_ARGS)
{
	Enc			e;

	enc_from_datum(PG_GETARG_BYTEA_PP(0), &e);
	PG_RETURN_INT32(e.key_id);
}

/*
 * onshikaku.protect(my_number, insurer, purpose [, cohort]): encrypt a My
 * Number for an insurer and a purpose under the scope's active data key.
 */
PG_FUNCTION_INFO_V1(osk_protect);
Datum
osk_protect(PG_FUNCTION_ARGS)
{
	int64		number;
	uint8_t		plain[8];
	bytea	   *out;
	text	   *purpose;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	require_args(fcinfo, 1, 2);
	number = PG_GETARG_INT64(0);
	purpose = PG_GETARG_TEXT_PP(2);
	check_purpose(purpose);
	for (int i = 0; i < 8; i++)
		plain[i] = (uint8_t) ((uint64) number >> (8 * (7 - i)));
	out = seal(KIND_MY_NUMBER, plain, 8, PG_GETARG_INT64(1),
			   PG_NARGS() > 3 && !PG_ARGISNULL(3) ? PG_GETARG_INT32(3) : OSK_ACTIVE_COHORT,
			   purpose);
	osk_wipe(plain, sizeof(plain));
	PG_RETURN_BYTEA_P(out);
}

/*
 * onshikaku.protect_national(my_number, purpose [, cohort]): a My Number
 * under the national scope, for a 生活保護 body, which has no 保険者番号.
 * Kept apart from protect() so that a NULL insurer there stays an error.
 */
PG_FUNCTION_INFO_V1(osk_protect_national);
Datum
osk_protect_national(PG_FUNCTION_ARGS)
{
	int64		number;
	uint8_t		plain[8];
	bytea	   *out;
	text	   *purpose;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	require_args(fcinfo, 1, 1);
	number = PG_GETARG_INT64(0);
	purpose = PG_GETARG_TEXT_PP(1);
	check_purpose(purpose);
	for (int i = 0; i < 8; i++)
		plain[i] = (uint8_t) ((uint64) number >> (8 * (7 - i)));
	out = seal(KIND_MY_NUMBER, plain, 8, OSK_NO_INSURER,
			   PG_NARGS() > 2 && !PG_ARGISNULL(2) ? PG_GETARG_INT32(2) : OSK_ACTIVE_COHORT,
			   purpose);
	osk_wipe(plain, sizeof(plain));
	PG_RETURN_BYTEA_P(out);
}

/*
 * onshikaku.protect_code(code text, insurer, purpose [, cohort]): encrypt
 * an opaque code (an agency code); a NULL insurer means the national scope.
 */
PG_FUNCTION_INFO_V1(osk_protect_code);
Datum
osk_protect_code(PG_FUNCTION_ARGS)
{
	text	   *code;
	text	   *purpose;
	int			n;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	require_args(fcinfo, 2, 2);
	code = PG_GETARG_TEXT_PP(0);
	purpose = PG_GETARG_TEXT_PP(2);
	check_purpose(purpose);
	n = VARSIZE_ANY_EXHDR(code);
	if (n < 1 || n > MAX_CODE_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a code must be 1 to %d bytes long", MAX_CODE_LEN)));
	PG_RETURN_BYTEA_P(seal(KIND_CODE, (const uint8_t *) VARDATA_ANY(code), n,
						   PG_ARGISNULL(1) ? OSK_NO_INSURER : PG_GETARG_INT64(1),
						   PG_NARGS() > 3 && !PG_ARGISNULL(3) ? PG_GETARG_INT32(3) : OSK_ACTIVE_COHORT,
						   purpose));
}

/*
 * Refuse a record reference or access purpose that holds a run of exactly
 * twelve digits forming a valid My Number: the log must never hold one.
 */
static void
check_no_my_number(text *t, const char *what)
{
	const char *p = VARDATA_ANY(t);
	int			n = VARSIZE_ANY_EXHDR(t);
	int			run = 0;

	for (int i = 0; i <= n; i++)
	{
		if (i < n && p[i] >= '0' && p[i] <= '9')
		{
			run++;
			continue;
		}
		if (run == 12)
		{
			int64_t		v;

			if (osk_id_parse(OSK_MY_NUMBER, p + i - 12, 12, &v, NULL) == OSK_ID_OK)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the %s must not contain a personal number", what),
						 errhidestmt(true), errhidecontext(true)));
		}
		run = 0;
	}
}

/*
 * Was this access purpose the one checked on the previous call?  A
 * statement passes the same text on every row; checking it once is enough.
 */
static bool
same_as_last_checked(text *t)
{
	static char last[64];
	static int	last_len = -1;
	int			n = VARSIZE_ANY_EXHDR(t);

	if (n == last_len && memcmp(last, VARDATA_ANY(t), n) == 0)
		return true;
	if (n <= (int) sizeof(last))
	{
		/* remembered only after the check below has passed */
		check_no_my_number(t, "access purpose");
		memcpy(last, VARDATA_ANY(t), n);
		last_len = n;
		return true;
	}
	return false;
}

/*
 * onshikaku.reveal(value, insurer, purpose, record_ref, access_purpose):
 * the plaintext, for roles granted the right, with an access-log row.
 */
PG_FUNCTION_INFO_V1(osk_reveal);
Datum
osk_reveal(PG_FUNCTION_ARGS)
{
	bytea	   *v;
	text	   *purpose;
	Enc			e;
	int64		insurer;
	uint8_t		plain[MAX_CODE_LEN];
	text	   *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	require_args(fcinfo, 2, 4);
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("reveal() needs a read-write transaction to write its access-log row")));
	v = PG_GETARG_BYTEA_PP(0);
	purpose = PG_GETARG_TEXT_PP(2);
	check_purpose(purpose);
	check_no_my_number(PG_GETARG_TEXT_PP(3), "record reference");
	if (!same_as_last_checked(PG_GETARG_TEXT_PP(4)))
		check_no_my_number(PG_GETARG_TEXT_PP(4), "access purpose");
	insurer = PG_ARGISNULL(1) ? OSK_NO_INSURER : PG_GETARG_INT64(1);
	enc_from_datum(v, &e);
	open_value(&e, insurer, purpose, plain);
	if (e.kind == KIND_MY_NUMBER)
	{
		int64		number = 0;
		char		digits[OSK_ID_MAX_DIGITS + 1];
		size_t		n;

		for (int i = 0; i < 8; i++)
			number = (number << 8) | plain[i];
		n = osk_id_format(OSK_MY_NUMBER, number, digits);
		result = cstring_to_text_with_len(digits, n);
		osk_wipe(digits, sizeof(digits));
	}
	else
		result = cstring_to_text_with_len((const char *) plain, e.len);
	osk_wipe(plain, e.len);
	osk_access_log_record(insurer, e.key_id, purpose, PG_GETARG_TEXT_PP(3), PG_GETARG_TEXT_PP(4));
	PG_RETURN_TEXT_P(result);
}

/*
 * onshikaku.reencrypt(value, insurer, purpose [, cohort]): the same
 * plaintext under the active data key of its scope: of the cohort given,
 * else of the cohort of the key that protects it now (key rotation).  The
 * plaintext never leaves this function.
 */
PG_FUNCTION_INFO_V1(osk_reencrypt);
Datum
osk_reencrypt(PG_FUNCTION_ARGS)
{
	Enc			e;
	text	   *purpose;
	int64		insurer;
	uint8_t		plain[MAX_CODE_LEN];
	bytea	   *out;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	require_args(fcinfo, 2, 2);
	purpose = PG_GETARG_TEXT_PP(2);
	check_purpose(purpose);
	insurer = PG_ARGISNULL(1) ? OSK_NO_INSURER : PG_GETARG_INT64(1);
	enc_from_datum(PG_GETARG_BYTEA_PP(0), &e);
	open_value(&e, insurer, purpose, plain);
	out = seal(e.kind, plain, e.len, insurer,
			   PG_NARGS() > 3 && !PG_ARGISNULL(3) ? PG_GETARG_INT32(3) : osk_data_key_cohort(e.key_id),
			   purpose);
	osk_wipe(plain, e.len);
	PG_RETURN_BYTEA_P(out);
}

/* ---- type onshikaku.blind_index ---------------------------------------- */

/*
 * onshikaku.blind_index_of(my_number): HMAC-SHA256 under the blind-index key
 * of a domain label and the 12 digits.  Equal numbers give equal indexes
 * in every insurer, so it serves lookup and national uniqueness.
 */
PG_FUNCTION_INFO_V1(osk_blind_index);
Datum
osk_blind_index(PG_FUNCTION_ARGS)
{
	static const char label[] = "onshikaku/blind-index/v1/my_number:";
	char		msg[sizeof(label) - 1 + OSK_ID_MAX_DIGITS + 1];
	size_t		n = sizeof(label) - 1;
	uint8_t    *out = palloc(BLIND_INDEX_LEN);

	memcpy(msg, label, n);
	n += osk_id_format(OSK_MY_NUMBER, PG_GETARG_INT64(0), msg + n);
	if (osk_mac_compute(osk_index_mac(), (const uint8_t *) msg, n, out) != OSK_CRYPTO_OK)
	{
		osk_wipe(msg, sizeof(msg));
		crypto_error("blind index computation");
	}
	osk_wipe(msg, sizeof(msg));
	PG_RETURN_POINTER(out);
}

PG_FUNCTION_INFO_V1(blind_index_in);
Datum
blind_index_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);
	uint8_t    *out = palloc(BLIND_INDEX_LEN);

	if (strlen(s) != 2 * BLIND_INDEX_LEN ||
		strspn(s, "0123456789abcdefABCDEF") != 2 * BLIND_INDEX_LEN ||
		hex_decode(s, 2 * BLIND_INDEX_LEN, (char *) out) != BLIND_INDEX_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input for type blind_index"),
				 errdetail("A blind index is %d hexadecimal digits.", 2 * BLIND_INDEX_LEN),
				 errhidestmt(true)));
	PG_RETURN_POINTER(out);
}

PG_FUNCTION_INFO_V1(blind_index_out);
Datum
blind_index_out(PG_FUNCTION_ARGS)
{
	char	   *out = palloc(2 * BLIND_INDEX_LEN + 1);

	hex_encode((const char *) PG_GETARG_POINTER(0), BLIND_INDEX_LEN, out);
	out[2 * BLIND_INDEX_LEN] = '\0';
	PG_RETURN_CSTRING(out);
}

PG_FUNCTION_INFO_V1(blind_index_recv);
Datum
blind_index_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	uint8_t    *out = palloc(BLIND_INDEX_LEN);

	if (buf->len - buf->cursor != BLIND_INDEX_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary value for type blind_index")));
	pq_copymsgbytes(buf, (char *) out, BLIND_INDEX_LEN);
	PG_RETURN_POINTER(out);
}

PG_FUNCTION_INFO_V1(blind_index_send);
Datum
blind_index_send(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, (const char *) PG_GETARG_POINTER(0), BLIND_INDEX_LEN);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Comparison: bytewise, total, cannot fail (so LEAKPROOF). */
static inline int
bi_cmp(FunctionCallInfo fcinfo)
{
	return memcmp(PG_GETARG_POINTER(0), PG_GETARG_POINTER(1), BLIND_INDEX_LEN);
}

#define BLIND_INDEX_OP(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	int			c = bi_cmp(fcinfo); \
	PG_RETURN_BOOL(expr); \
}

BLIND_INDEX_OP(blind_index_eq, c == 0)
BLIND_INDEX_OP(blind_index_ne, c != 0)
BLIND_INDEX_OP(blind_index_lt, c < 0)
BLIND_INDEX_OP(blind_index_le, c <= 0)
BLIND_INDEX_OP(blind_index_gt, c > 0)
BLIND_INDEX_OP(blind_index_ge, c >= 0)

PG_FUNCTION_INFO_V1(blind_index_cmp);
Datum
blind_index_cmp(PG_FUNCTION_ARGS)
{
	int			c = bi_cmp(fcinfo);

	PG_RETURN_INT32(c < 0 ? -1 : c > 0);
}

PG_FUNCTION_INFO_V1(blind_index_hash);
Datum
blind_index_hash(PG_FUNCTION_ARGS)
{
	return hash_any((const unsigned char *) PG_GETARG_POINTER(0), BLIND_INDEX_LEN);
}

PG_FUNCTION_INFO_V1(blind_index_hash_extended);
Datum
blind_index_hash_extended(PG_FUNCTION_ARGS)
{
	return hash_any_extended((const unsigned char *) PG_GETARG_POINTER(0), BLIND_INDEX_LEN,
							 PG_GETARG_INT64(1));
}
