/*
 * identifier_types.c
 *	  SQL types for the identifiers: input, output, binary I/O, casts to and
 *	  from text, and the never-raising *_is_valid(text) checks.
 *
 * All parsing lives in ident.c.  Each type is pass-by-value: an int8 for
 * most, an int2 for the 2-digit 枝番.  Comparison and hashing reuse the
 * server's own int8/int2 support functions (declared in the install
 * script), which are leakproof, so the types can be used under row-level
 * security and in every index.
 *
 * my_number is special: it is a transient, validated value.  Its text and
 * binary output are a fixed mask; only onshikaku.my_number_digits(), which
 * is revoked from PUBLIC, returns the digits.
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"

#include "ident.h"

/* What my_number prints instead of its digits. */
#define MY_NUMBER_MASK "************"

/*
 * Raise the 22P02 error for a bad identifier.  Neither the message nor its
 * detail contains any part of the input; the failing statement and its
 * context are kept out of the server log as well, since they may carry a
 * personal number in a literal.
 */
static void
report_bad_input(OskIdKind kind, OskIdStatus st, int position)
{
	const char *name = osk_id_kind_name(kind);

	if (st == OSK_ID_BAD_LENGTH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input for type %s", name),
				 errdetail("%s: expected %s.", osk_id_status_message(st),
						   osk_id_expected_length(kind)),
				 errhidestmt(true), errhidecontext(true)));
	else if (st == OSK_ID_FULLWIDTH_DIGIT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input for type %s", name),
				 errdetail("%s at character %d.", osk_id_status_message(st),
						   position),
				 errhint("Convert full-width digits to ASCII first, for example with normalize(value, NFKC)."),
				 errhidestmt(true), errhidecontext(true)));
	else if (st == OSK_ID_BAD_CHARACTER)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input for type %s", name),
				 errdetail("%s at character %d.", osk_id_status_message(st),
						   position),
				 errhint("Only ASCII digits are accepted, with optional surrounding white space."),
				 errhidestmt(true), errhidecontext(true)));
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input for type %s", name),
				 errdetail("%s.", osk_id_status_message(st)),
				 errhidestmt(true), errhidecontext(true)));
}

/* Parse len bytes or raise; shared by the input function and text casts. */
static int64
parse_or_error(OskIdKind kind, const char *s, size_t len)
{
	int64_t		value = 0;
	int			position = 0;
	OskIdStatus st = osk_id_parse(kind, s, len, &value, &position);

	if (st != OSK_ID_OK)
		report_bad_input(kind, st, position);
	return (int64) value;
}

/* Validate a value received in binary form; 22P03 on failure. */
static int64
check_received(OskIdKind kind, int64 value)
{
	OskIdStatus st = osk_id_check_value(kind, (int64_t) value);

	if (st != OSK_ID_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary value for type %s",
						osk_id_kind_name(kind)),
				 errdetail("%s.", osk_id_status_message(st)),
				 errhidestmt(true), errhidecontext(true)));
	return value;
}

/* Canonical text of a value, palloc'd. */
static char *
format_palloc(OskIdKind kind, int64 value)
{
	char	   *buf = palloc(OSK_ID_MAX_DIGITS + 1);

	osk_id_format(kind, (int64_t) value, buf);
	return buf;
}

/* The never-raising validity check behind every T_is_valid(text). */
static bool
text_is_valid(OskIdKind kind, text *t)
{
	int64_t		value;

	return osk_id_parse(kind, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
						&value, NULL) == OSK_ID_OK;
}

/*
 * One set of SQL-callable functions per type.  DATUM_OF and VALUE_OF
 * convert between the C value and the type's pass-by-value Datum; SEND and
 * RECV are the binary wire form of the underlying integer.
 */
#define OSK_IDENTIFIER_FUNCTIONS(prefix, kind, DATUM_OF, VALUE_OF, SEND, RECV) \
PG_FUNCTION_INFO_V1(prefix##_in); \
Datum \
prefix##_in(PG_FUNCTION_ARGS) \
{ \
	char	   *s = PG_GETARG_CSTRING(0); \
	return DATUM_OF(parse_or_error(kind, s, strlen(s))); \
} \
PG_FUNCTION_INFO_V1(prefix##_out); \
Datum \
prefix##_out(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_CSTRING(format_palloc(kind, VALUE_OF(PG_GETARG_DATUM(0)))); \
} \
PG_FUNCTION_INFO_V1(prefix##_recv); \
Datum \
prefix##_recv(PG_FUNCTION_ARGS) \
{ \
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0); \
	return DATUM_OF(check_received(kind, RECV(buf))); \
} \
PG_FUNCTION_INFO_V1(prefix##_send); \
Datum \
prefix##_send(PG_FUNCTION_ARGS) \
{ \
	StringInfoData buf; \
	pq_begintypsend(&buf); \
	SEND(&buf, VALUE_OF(PG_GETARG_DATUM(0))); \
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf)); \
} \
PG_FUNCTION_INFO_V1(prefix##_from_text); \
Datum \
prefix##_from_text(PG_FUNCTION_ARGS) \
{ \
	text	   *t = PG_GETARG_TEXT_PP(0); \
	return DATUM_OF(parse_or_error(kind, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t))); \
} \
PG_FUNCTION_INFO_V1(prefix##_to_text); \
Datum \
prefix##_to_text(PG_FUNCTION_ARGS) \
{ \
	char		buf[OSK_ID_MAX_DIGITS + 1]; \
	size_t		n = osk_id_format(kind, VALUE_OF(PG_GETARG_DATUM(0)), buf); \
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf, n)); \
} \
PG_FUNCTION_INFO_V1(prefix##_is_valid); \
Datum \
prefix##_is_valid(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(text_is_valid(kind, PG_GETARG_TEXT_PP(0))); \
}

#define SEND_INT8(buf, v) pq_sendint64((buf), (v))
#define RECV_INT8(buf) ((int64) pq_getmsgint64(buf))
#define SEND_INT2(buf, v) pq_sendint16((buf), (uint16) (v))
#define RECV_INT2(buf) ((int64) (int16) pq_getmsgint((buf), 2))
#define DATUM_OF_INT2(v) Int16GetDatum((int16) (v))
#define VALUE_OF_INT2(d) ((int64) DatumGetInt16(d))

OSK_IDENTIFIER_FUNCTIONS(insurer_number, OSK_INSURER_NUMBER,
						 Int64GetDatum, DatumGetInt64, SEND_INT8, RECV_INT8)
OSK_IDENTIFIER_FUNCTIONS(public_payer_number, OSK_PUBLIC_PAYER_NUMBER,
						 Int64GetDatum, DatumGetInt64, SEND_INT8, RECV_INT8)
OSK_IDENTIFIER_FUNCTIONS(recipient_number, OSK_RECIPIENT_NUMBER,
						 Int64GetDatum, DatumGetInt64, SEND_INT8, RECV_INT8)
OSK_IDENTIFIER_FUNCTIONS(institution_code, OSK_INSTITUTION_CODE,
						 Int64GetDatum, DatumGetInt64, SEND_INT8, RECV_INT8)
OSK_IDENTIFIER_FUNCTIONS(card_branch_number, OSK_CARD_BRANCH_NUMBER,
						 DATUM_OF_INT2, VALUE_OF_INT2, SEND_INT2, RECV_INT2)
OSK_IDENTIFIER_FUNCTIONS(insured_branch_number, OSK_INSURED_BRANCH_NUMBER,
						 Int64GetDatum, DatumGetInt64, SEND_INT8, RECV_INT8)
OSK_IDENTIFIER_FUNCTIONS(link_number, OSK_LINK_NUMBER,
						 Int64GetDatum, DatumGetInt64, SEND_INT8, RECV_INT8)
OSK_IDENTIFIER_FUNCTIONS(pmh_id, OSK_PMH_ID,
						 Int64GetDatum, DatumGetInt64, SEND_INT8, RECV_INT8)

/*
 * my_number: input is validated like the others, but every way out of the
 * server except my_number_digits() prints the mask.  Binary receive takes
 * the 12 ASCII digits (as text's binary form does), so that drivers which
 * send parameters in binary work; binary send sends the mask.
 */
PG_FUNCTION_INFO_V1(my_number_in);
Datum
my_number_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);

	return Int64GetDatum(parse_or_error(OSK_MY_NUMBER, s, strlen(s)));
}

PG_FUNCTION_INFO_V1(my_number_out);
Datum
my_number_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(pstrdup(MY_NUMBER_MASK));
}

PG_FUNCTION_INFO_V1(my_number_recv);
Datum
my_number_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			n = buf->len - buf->cursor;
	const char *bytes = pq_getmsgbytes(buf, n);
	int64_t		value = 0;
	OskIdStatus st = osk_id_parse(OSK_MY_NUMBER, bytes, n, &value, NULL);

	if (st != OSK_ID_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary value for type my_number"),
				 errdetail("%s.", osk_id_status_message(st)),
				 errhidestmt(true), errhidecontext(true)));
	return Int64GetDatum((int64) value);
}

PG_FUNCTION_INFO_V1(my_number_send);
Datum
my_number_send(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, MY_NUMBER_MASK, strlen(MY_NUMBER_MASK));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(my_number_from_text);
Datum
my_number_from_text(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	return Int64GetDatum(parse_or_error(OSK_MY_NUMBER, VARDATA_ANY(t),
										VARSIZE_ANY_EXHDR(t)));
}

PG_FUNCTION_INFO_V1(my_number_to_text);
Datum
my_number_to_text(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(MY_NUMBER_MASK));
}

PG_FUNCTION_INFO_V1(my_number_is_valid);
Datum
my_number_is_valid(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(text_is_valid(OSK_MY_NUMBER, PG_GETARG_TEXT_PP(0)));
}

/* The digits of a My Number; EXECUTE is revoked from PUBLIC. */
PG_FUNCTION_INFO_V1(my_number_digits);
Datum
my_number_digits(PG_FUNCTION_ARGS)
{
	char		buf[OSK_ID_MAX_DIGITS + 1];
	size_t		n = osk_id_format(OSK_MY_NUMBER, PG_GETARG_INT64(0), buf);
	text	   *result = cstring_to_text_with_len(buf, n);

	explicit_bzero(buf, sizeof(buf));
	PG_RETURN_TEXT_P(result);
}

/* 法別番号 of an insurer number, 0 for 国保; lets views group by scheme. */
PG_FUNCTION_INFO_V1(insurer_number_houbetsu);
Datum
insurer_number_houbetsu(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(osk_insurer_houbetsu(PG_GETARG_INT64(0)));
}

/* 都道府県番号 of an insurer number; lets views group by prefecture. */
PG_FUNCTION_INFO_V1(insurer_number_prefecture);
Datum
insurer_number_prefecture(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(osk_insurer_prefecture(PG_GETARG_INT64(0)));
}
