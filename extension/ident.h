/*
 * ident.h
 *	  Parsing, check digits and canonical formatting of the identifiers of
 *	  Japan's health insurance system (個人番号, 保険者番号, 公費負担者番号, ...).
 *
 * This layer is plain C99 with no PostgreSQL dependency, so that it can be
 * unit-tested and fuzzed on its own (test/fuzz/).  Every identifier is held
 * as a non-negative 64-bit integer; the kind decides how it is printed.
 *
 * Nothing here allocates, and nothing here ever formats the digits of an
 * input into a message: callers get a status code and map it to text that
 * is safe to show (osk_id_status_message).
 */
#ifndef ONSHIKAKU_IDENT_H
#define ONSHIKAKU_IDENT_H

#include <stddef.h>
#include <stdint.h>

typedef enum OskIdKind
{
	OSK_MY_NUMBER = 0,			/* 個人番号: 12 digits, MIC check digit */
	OSK_INSURER_NUMBER,			/* 保険者番号: 8 digits, or 6 for 国保 */
	OSK_PUBLIC_PAYER_NUMBER,	/* 公費負担者番号: 8 digits */
	OSK_RECIPIENT_NUMBER,		/* 受給者番号: 7 digits */
	OSK_INSTITUTION_CODE,		/* 医療機関コード: 7 or 10 digits */
	OSK_CARD_BRANCH_NUMBER,		/* 枝番: 2 digits, no check digit */
	OSK_INSURED_BRANCH_NUMBER,	/* 被保険者枝番: 16 digits */
	OSK_LINK_NUMBER,			/* 紐付番号: 16 digits */
	OSK_PMH_ID,					/* PMH-ID: 16 digits */
	OSK_ID_KIND_COUNT
} OskIdKind;

typedef enum OskIdStatus
{
	OSK_ID_OK = 0,
	OSK_ID_EMPTY,				/* nothing but white space */
	OSK_ID_BAD_LENGTH,			/* wrong number of digits */
	OSK_ID_FULLWIDTH_DIGIT,		/* a full-width (全角) digit was given */
	OSK_ID_BAD_CHARACTER,		/* anything else that is not an ASCII digit */
	OSK_ID_BAD_CHECK_DIGIT,		/* check digit does not match */
	OSK_ID_BAD_PREFECTURE,		/* 都道府県番号 not in 01..47 */
	OSK_ID_BAD_HOUBETSU,		/* 法別番号 not in the documented table */
	OSK_ID_BAD_SCORE_TABLE,		/* 点数表番号 not 1, 3, 4 or 6 */
	OSK_ID_PLACEHOLDER,			/* all-zero value, used as a placeholder */
	OSK_ID_STATUS_COUNT
} OskIdStatus;

/* Longest canonical text form, without the terminating NUL. */
#define OSK_ID_MAX_DIGITS 16

/*
 * Parse len bytes at s (not necessarily NUL-terminated) as an identifier of
 * the given kind.  Leading and trailing ASCII white space is ignored.  On
 * success *value receives the canonical integer; on failure *value is left
 * untouched and, if bad_position is not NULL, it receives the 1-based
 * position of an offending character (0 when no single position applies).
 */
extern OskIdStatus osk_id_parse(OskIdKind kind, const char *s, size_t len,
								int64_t *value, int *bad_position);

/*
 * Validate a value that arrived in binary form: true when it is one that
 * osk_id_parse could have produced.
 */
extern OskIdStatus osk_id_check_value(OskIdKind kind, int64_t value);

/*
 * Write the canonical printed form of value into buf (at least
 * OSK_ID_MAX_DIGITS + 1 bytes) and return its length.  The value must be
 * valid for its kind.
 */
extern size_t osk_id_format(OskIdKind kind, int64_t value, char *buf);

/* The type's SQL name, and a message for a status that never quotes input. */
extern const char *osk_id_kind_name(OskIdKind kind);
extern const char *osk_id_status_message(OskIdStatus status);
extern const char *osk_id_expected_length(OskIdKind kind);

/* Check digits, exposed for issuance (PMH-ID, link numbers) and for tests. */
extern int	osk_luhn_check_digit(const char *digits, size_t n);
extern int	osk_my_number_check_digit(const char digits[11]);

/*
 * Complete a 15-digit body into a 16-digit identifier with a Luhn check
 * digit; used by issuance of 被保険者枝番, 紐付番号 and PMH-ID.
 */
extern int64_t osk_id_with_luhn(int64_t body15);

/* Structure of an insurer number: 法別番号 (0 for 国保) and 都道府県番号. */
extern int	osk_insurer_houbetsu(int64_t value);
extern int	osk_insurer_prefecture(int64_t value);

#endif							/* ONSHIKAKU_IDENT_H */
