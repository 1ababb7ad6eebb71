/*
 * ident.c
 *	  Identifier parsing, check digits and formatting, in plain C.
 *
 * See ident.h for the contract and docs/identifiers.md for the rules and
 * their sources.  This file must not include any PostgreSQL header: it is
 * compiled on its own by the fuzz harness and the unit tests.
 */
#include "ident.h"

#include <string.h>

typedef enum OskCheck
{
	CHECK_NONE,
	CHECK_LUHN,					/* Luhn over every digit but the last */
	CHECK_LUHN_LAST7,			/* Luhn over the 7-digit core (医療機関コード) */
	CHECK_MY_NUMBER				/* MIC ordinance No. 85, art. 5 */
} OskCheck;

typedef struct OskIdSpec
{
	const char *name;			/* SQL type name */
	const char *expected;		/* expected length, for messages */
	int			short_len;		/* accepted lengths; short_len may be 0 */
	int			long_len;
	OskCheck	check;
	int			allow_zero;		/* is the all-zero value a real value? */
} OskIdSpec;

static const OskIdSpec id_specs[OSK_ID_KIND_COUNT] = {
	[OSK_MY_NUMBER] = {"my_number", "12 digits", 0, 12, CHECK_MY_NUMBER, 0},
	[OSK_INSURER_NUMBER] = {"insurer_number", "6 or 8 digits", 6, 8, CHECK_LUHN, 0},
	[OSK_PUBLIC_PAYER_NUMBER] = {"public_payer_number", "8 digits", 0, 8, CHECK_LUHN, 0},
	[OSK_RECIPIENT_NUMBER] = {"recipient_number", "7 digits", 0, 7, CHECK_LUHN, 0},
	[OSK_INSTITUTION_CODE] = {"institution_code", "7 or 10 digits", 7, 10, CHECK_LUHN_LAST7, 0},
	[OSK_CARD_BRANCH_NUMBER] = {"card_branch_number", "2 digits", 0, 2, CHECK_NONE, 1},
	[OSK_INSURED_BRANCH_NUMBER] = {"insured_branch_number", "16 digits", 0, 16, CHECK_LUHN, 0},
	[OSK_LINK_NUMBER] = {"link_number", "16 digits", 0, 16, CHECK_LUHN, 0},
	[OSK_PMH_ID] = {"pmh_id", "16 digits", 0, 16, CHECK_LUHN, 0},
};

static const char *const status_messages[OSK_ID_STATUS_COUNT] = {
	[OSK_ID_OK] = "Valid",
	[OSK_ID_EMPTY] = "The value is empty",
	[OSK_ID_BAD_LENGTH] = "The value has the wrong number of digits",
	[OSK_ID_FULLWIDTH_DIGIT] = "The value contains a full-width digit",
	[OSK_ID_BAD_CHARACTER] = "The value contains a character that is not a digit",
	[OSK_ID_BAD_CHECK_DIGIT] = "The check digit does not match",
	[OSK_ID_BAD_PREFECTURE] = "The prefecture code (都道府県番号) is not between 01 and 47",
	[OSK_ID_BAD_HOUBETSU] = "The law code (法別番号) is not an allowed one",
	[OSK_ID_BAD_SCORE_TABLE] = "The score table code (点数表番号) is not 1, 3, 4 or 6",
	[OSK_ID_PLACEHOLDER] = "The value is an all-zero placeholder, not an issued number",
};

/*
 * 法別番号 of insurer numbers (保険者番号等設定要領): health insurance schemes.
 * 00 stands for 国保, whose numbers are printed with 6 digits.
 */
static const unsigned char insurer_houbetsu[] = {
	0, 1, 2, 3, 4, 6, 7, 31, 32, 33, 34, 39, 63, 67, 72, 73, 74, 75
};

/* Is c one of the bytes C's isspace() accepts in the "C" locale? */
static inline int
is_ascii_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Value of two decimal digits starting at d. */
static inline int
two_digits(const char *d)
{
	return (d[0] - '0') * 10 + (d[1] - '0');
}

/*
 * Luhn check digit over n digits: weights 2,1,2,... from the rightmost
 * digit, digit sum of each product, (10 - sum mod 10) mod 10.
 */
int
osk_luhn_check_digit(const char *digits, size_t n)
{
	int			sum = 0;
	int			weight = 2;

	for (size_t i = n; i > 0; i--)
	{
		int			p = (digits[i - 1] - '0') * weight;

		sum += p / 10 + p % 10;
		weight = 3 - weight;
	}
	return (10 - sum % 10) % 10;
}

/*
 * My Number check digit over the 11-digit body: weights 6,5,4,3,2,7,6,5,4,
 * 3,2 from the left; r = sum mod 11; 0 when r <= 1, else 11 - r.
 */
int
osk_my_number_check_digit(const char digits[11])
{
	static const int weights[11] = {6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
	int			sum = 0;
	int			r;

	for (int i = 0; i < 11; i++)
		sum += (digits[i] - '0') * weights[i];
	r = sum % 11;
	return r <= 1 ? 0 : 11 - r;
}

/* Is the insurer 法別番号 in the documented table? */
static int
insurer_houbetsu_allowed(int houbetsu)
{
	for (size_t i = 0; i < sizeof(insurer_houbetsu); i++)
		if (insurer_houbetsu[i] == houbetsu)
			return 1;
	return 0;
}

/*
 * Structural rules beyond length and check digit, on n ASCII digits.
 * They run before the check digit so that the message names the part
 * that is wrong rather than only its symptom.
 */
static OskIdStatus
check_structure(OskIdKind kind, const char *d, int n)
{
	switch (kind)
	{
		case OSK_INSURER_NUMBER:
			{
				/* 6 digits: 都道府県(2) 保険者別(3) 検証(1); 8 adds 法別(2). */
				const char *pref = (n == 8) ? d + 2 : d;

				if (n == 8 && !insurer_houbetsu_allowed(two_digits(d)))
					return OSK_ID_BAD_HOUBETSU;
				if (two_digits(pref) < 1 || two_digits(pref) > 47)
					return OSK_ID_BAD_PREFECTURE;
				break;
			}
		case OSK_PUBLIC_PAYER_NUMBER:
			/* 法別(2) 都道府県(2) 実施機関(3) 検証(1); 01-09 are insurance. */
			if (two_digits(d) < 10)
				return OSK_ID_BAD_HOUBETSU;
			if (two_digits(d + 2) < 1 || two_digits(d + 2) > 47)
				return OSK_ID_BAD_PREFECTURE;
			break;
		case OSK_INSTITUTION_CODE:
			/* 10 digits: 都道府県(2) 点数表(1) then the 7-digit code. */
			if (n == 10)
			{
				if (two_digits(d) < 1 || two_digits(d) > 47)
					return OSK_ID_BAD_PREFECTURE;
				if (d[2] != '1' && d[2] != '3' && d[2] != '4' && d[2] != '6')
					return OSK_ID_BAD_SCORE_TABLE;
			}
			break;
		default:
			break;
	}
	return OSK_ID_OK;
}

/* Does the check digit (the last of n digits) match? */
static int
check_digit_matches(OskCheck check, const char *d, int n)
{
	switch (check)
	{
		case CHECK_NONE:
			return 1;
		case CHECK_LUHN:
			return osk_luhn_check_digit(d, n - 1) == d[n - 1] - '0';
		case CHECK_LUHN_LAST7:
			return osk_luhn_check_digit(d + n - 7, 6) == d[n - 1] - '0';
		case CHECK_MY_NUMBER:
			return n == 12 && osk_my_number_check_digit(d) == d[11] - '0';
	}
	return 0;
}

/*
 * The parser.  Characters are examined before the length so that
 * "12345678901a" is reported as a bad character, which is what a user
 * needs to hear; positions count characters, not bytes.
 */
OskIdStatus
osk_id_parse(OskIdKind kind, const char *s, size_t len,
			 int64_t *value, int *bad_position)
{
	const OskIdSpec *spec;
	char		digits[OSK_ID_MAX_DIGITS] = {0};
	int			ndigits = 0;
	int			position = 0;
	size_t		start = 0;
	size_t		end = len;
	OskIdStatus st;
	int64_t		v = 0;

	if (bad_position)
		*bad_position = 0;
	if ((unsigned) kind >= OSK_ID_KIND_COUNT || (s == NULL && len > 0))
		return OSK_ID_BAD_CHARACTER;
	spec = &id_specs[kind];

	while (start < end && is_ascii_space((unsigned char) s[start]))
		start++;
	while (end > start && is_ascii_space((unsigned char) s[end - 1]))
		end--;
	if (start == end)
		return OSK_ID_EMPTY;

	for (size_t i = start; i < end; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if ((c & 0xC0) != 0x80)
			position++;
		if (c >= '0' && c <= '9')
		{
			if (ndigits < OSK_ID_MAX_DIGITS)
				digits[ndigits] = (char) c;
			ndigits++;
			continue;
		}
		if (bad_position)
			*bad_position = position;
		/* U+FF10..U+FF19 FULLWIDTH DIGIT ZERO..NINE: EF BC 90..99 */
		if (c == 0xEF && i + 2 < end &&
			(unsigned char) s[i + 1] == 0xBC &&
			(unsigned char) s[i + 2] >= 0x90 && (unsigned char) s[i + 2] <= 0x99)
			return OSK_ID_FULLWIDTH_DIGIT;
		return OSK_ID_BAD_CHARACTER;
	}

	if (ndigits != spec->long_len && ndigits != spec->short_len)
		return OSK_ID_BAD_LENGTH;

	st = check_structure(kind, digits, ndigits);
	if (st != OSK_ID_OK)
		return st;
	if (!check_digit_matches(spec->check, digits, ndigits))
		return OSK_ID_BAD_CHECK_DIGIT;

	for (int i = 0; i < ndigits; i++)
		v = v * 10 + (digits[i] - '0');
	if (v == 0 && !spec->allow_zero)
		return OSK_ID_PLACEHOLDER;

	*value = v;
	return OSK_ID_OK;
}

/*
 * Number of digits the canonical form of value has.  Kinds with two forms
 * are told apart by magnitude: a 6-digit 国保 number is below 10^6 (its
 * 8-digit form has 法別 00), and a 10-digit institution code starts with
 * a prefecture 01..47, so it is at least 10^8.
 */
static int
canonical_length(OskIdKind kind, int64_t value)
{
	const OskIdSpec *spec = &id_specs[kind];

	if (kind == OSK_INSURER_NUMBER && value < 1000000)
		return 6;
	if (kind == OSK_INSTITUTION_CODE && value < 10000000)
		return 7;
	return spec->long_len;
}

/* Canonical printed form, zero-padded to the form's length. */
size_t
osk_id_format(OskIdKind kind, int64_t value, char *buf)
{
	int			n;

	if ((unsigned) kind >= OSK_ID_KIND_COUNT || value < 0)
	{
		buf[0] = '\0';
		return 0;
	}
	n = canonical_length(kind, value);
	buf[n] = '\0';
	for (int i = n - 1; i >= 0; i--)
	{
		buf[i] = (char) ('0' + value % 10);
		value /= 10;
	}
	return (size_t) n;
}

/*
 * A value received in binary is valid when it is in range and its
 * canonical text parses back to itself.
 */
OskIdStatus
osk_id_check_value(OskIdKind kind, int64_t value)
{
	char		buf[OSK_ID_MAX_DIGITS + 1];
	int64_t		limit = 1;
	int64_t		parsed = -1;
	size_t		n;
	OskIdStatus st;

	if ((unsigned) kind >= OSK_ID_KIND_COUNT)
		return OSK_ID_BAD_CHARACTER;
	for (int i = 0; i < id_specs[kind].long_len; i++)
		limit *= 10;
	if (value < 0 || value >= limit)
		return OSK_ID_BAD_LENGTH;
	n = osk_id_format(kind, value, buf);
	st = osk_id_parse(kind, buf, n, &parsed, NULL);
	if (st == OSK_ID_OK && parsed != value)
		return OSK_ID_BAD_LENGTH;
	return st;
}

/* Append a Luhn check digit to a 15-digit body. */
int64_t
osk_id_with_luhn(int64_t body15)
{
	char		d[15];
	int64_t		b = body15;

	for (int i = 14; i >= 0; i--)
	{
		d[i] = (char) ('0' + b % 10);
		b /= 10;
	}
	return body15 * 10 + osk_luhn_check_digit(d, 15);
}

/* 法別番号 of a valid insurer number; 0 for a 国保 number. */
int
osk_insurer_houbetsu(int64_t value)
{
	return (int) (value / 1000000);
}

/* 都道府県番号 of a valid insurer number (same position in both forms). */
int
osk_insurer_prefecture(int64_t value)
{
	return (int) ((value / 10000) % 100);
}

/* SQL name of the type for a kind. */
const char *
osk_id_kind_name(OskIdKind kind)
{
	return (unsigned) kind < OSK_ID_KIND_COUNT ? id_specs[kind].name : "?";
}

/* What length a kind expects, e.g. "6 or 8 digits". */
const char *
osk_id_expected_length(OskIdKind kind)
{
	return (unsigned) kind < OSK_ID_KIND_COUNT ? id_specs[kind].expected : "?";
}

/* A message for a status; it never contains any part of the input. */
const char *
osk_id_status_message(OskIdStatus status)
{
	return (unsigned) status < OSK_ID_STATUS_COUNT ?
		status_messages[status] : "the value is not valid";
}
