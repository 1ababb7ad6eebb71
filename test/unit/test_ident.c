/*
 * test_ident.c
 *	  Unit and property tests of the identifier core (extension/ident.c),
 *	  with no PostgreSQL involved.  Prints TAP.
 *
 * The check digits are compared with reference implementations written
 * differently on purpose (string arithmetic, the textbook "subtract 9"
 * form of Luhn), so that a shared mistake is unlikely.
 */
#include "ident.h"

#include <stdio.h>

#include "tap.h"
#include <stdlib.h>
#include <string.h>


/* Parse a NUL-terminated string; returns the status. */
static OskIdStatus
parse(OskIdKind kind, const char *s, int64_t *v)
{
	int64_t		dummy;

	return osk_id_parse(kind, s, strlen(s), v ? v : &dummy, NULL);
}

/* Textbook Luhn: double every second digit from the right, minus 9. */
static int
ref_luhn(const char *body, int n)
{
	int			sum = 0;

	for (int i = 0; i < n; i++)
	{
		int			d = body[n - 1 - i] - '0';

		if (i % 2 == 0)
		{
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return (sum * 9) % 10;
}

/* My Number reference, in the ordinance's own terms (P_n from the right). */
static int
ref_my_number(const char *body)
{
	int			sum = 0;

	for (int n = 1; n <= 11; n++)
	{
		int			p = body[11 - n] - '0';
		int			q = n <= 6 ? n + 1 : n - 5;

		sum += p * q;
	}
	return sum % 11 <= 1 ? 0 : 11 - sum % 11;
}

/* A random digit string of length n (xorshift, deterministic). */
static uint64_t rng = 88172645463325252ULL;
static unsigned
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned) (rng >> 11);
}
static void
random_digits(char *buf, int n)
{
	for (int i = 0; i < n; i++)
		buf[i] = (char) ('0' + next_rand() % 10);
	buf[n] = '\0';
}

static void
test_vectors(void)
{
	int64_t		v;
	char		buf[32];

	ok(parse(OSK_MY_NUMBER, "123456789018", &v) == OSK_ID_OK && v == 123456789018LL,
	   "my_number 123456789018 is valid");
	ok(parse(OSK_MY_NUMBER, "621498320257", NULL) == OSK_ID_OK, "my_number 621498320257 is valid");
	ok(parse(OSK_MY_NUMBER, "983205673214", NULL) == OSK_ID_OK, "my_number 983205673214 is valid");
	ok(parse(OSK_MY_NUMBER, "621498320258", NULL) == OSK_ID_BAD_CHECK_DIGIT, "my_number with a wrong check digit");
	ok(parse(OSK_MY_NUMBER, "000000000000", NULL) == OSK_ID_PLACEHOLDER, "my_number all zeros is a placeholder");
	ok(parse(OSK_MY_NUMBER, "12345678901", NULL) == OSK_ID_BAD_LENGTH, "my_number with 11 digits");
	ok(parse(OSK_MY_NUMBER, "1234567890180", NULL) == OSK_ID_BAD_LENGTH, "my_number with 13 digits");
	ok(parse(OSK_MY_NUMBER, "  123456789018\n", NULL) == OSK_ID_OK, "surrounding white space is ignored");
	ok(parse(OSK_MY_NUMBER, "1234 56789018", NULL) == OSK_ID_BAD_CHARACTER, "inner space is refused");
	ok(parse(OSK_MY_NUMBER, "", NULL) == OSK_ID_EMPTY, "empty string");
	ok(parse(OSK_MY_NUMBER, "   ", NULL) == OSK_ID_EMPTY, "blank string");
	ok(parse(OSK_MY_NUMBER, "-12345678901", NULL) == OSK_ID_BAD_CHARACTER, "sign is refused");
	{
		int			pos;
		int64_t		x;
		const char *fw = "12345678901\xef\xbc\x98";	/* last digit full-width 8 */

		ok(osk_id_parse(OSK_MY_NUMBER, fw, strlen(fw), &x, &pos) == OSK_ID_FULLWIDTH_DIGIT && pos == 12,
		   "full-width digit is named, at character 12");
		ok(osk_id_parse(OSK_MY_NUMBER, "12a", 3, &x, &pos) == OSK_ID_BAD_CHARACTER && pos == 3,
		   "bad character position");
		ok(osk_id_parse(OSK_MY_NUMBER, "123456789018", 6, &x, &pos) == OSK_ID_BAD_LENGTH,
		   "length is honoured (no NUL needed)");
	}

	ok(parse(OSK_INSURER_NUMBER, "01130012", &v) == OSK_ID_OK && v == 1130012, "insurer 01130012");
	ok(parse(OSK_INSURER_NUMBER, "39131156", NULL) == OSK_ID_OK, "insurer 39131156");
	ok(parse(OSK_INSURER_NUMBER, "33120015", NULL) == OSK_ID_OK, "insurer 33120015");
	ok(parse(OSK_INSURER_NUMBER, "131011", &v) == OSK_ID_OK && v == 131011, "insurer 131011 (国保)");
	ok(parse(OSK_INSURER_NUMBER, "00131011", &v) == OSK_ID_OK && v == 131011, "insurer 00131011 is 131011");
	osk_id_format(OSK_INSURER_NUMBER, 131011, buf);
	ok(strcmp(buf, "131011") == 0, "国保 prints with 6 digits");
	osk_id_format(OSK_INSURER_NUMBER, 1130012, buf);
	ok(strcmp(buf, "01130012") == 0, "協会けんぽ prints with 8 digits and its leading zero");
	ok(parse(OSK_INSURER_NUMBER, "01130013", NULL) == OSK_ID_BAD_CHECK_DIGIT, "insurer check digit");
	ok(parse(OSK_INSURER_NUMBER, "05130012", NULL) == OSK_ID_BAD_HOUBETSU, "insurer 法別 05 is not allowed");
	ok(parse(OSK_INSURER_NUMBER, "01480012", NULL) == OSK_ID_BAD_PREFECTURE, "insurer prefecture 48");
	ok(parse(OSK_INSURER_NUMBER, "01000012", NULL) == OSK_ID_BAD_PREFECTURE, "insurer prefecture 00");
	ok(parse(OSK_INSURER_NUMBER, "481011", NULL) == OSK_ID_BAD_PREFECTURE, "国保 prefecture 48");
	ok(parse(OSK_INSURER_NUMBER, "1311011", NULL) == OSK_ID_BAD_LENGTH, "insurer with 7 digits");
	ok(osk_insurer_houbetsu(39131156) == 39 && osk_insurer_prefecture(39131156) == 13, "insurer structure");
	ok(osk_insurer_houbetsu(131011) == 0 && osk_insurer_prefecture(131011) == 13, "国保 structure");

	ok(parse(OSK_PUBLIC_PAYER_NUMBER, "12130014", NULL) ==
	   (ref_luhn("1213001", 7) == 4 ? OSK_ID_OK : OSK_ID_BAD_CHECK_DIGIT), "public payer 12130014");
	ok(parse(OSK_PUBLIC_PAYER_NUMBER, "01130012", NULL) == OSK_ID_BAD_HOUBETSU, "public payer 法別 01 is insurance");
	ok(parse(OSK_RECIPIENT_NUMBER, "1234567", NULL) ==
	   (ref_luhn("123456", 6) == 7 ? OSK_ID_OK : OSK_ID_BAD_CHECK_DIGIT), "recipient check digit");
	ok(parse(OSK_INSTITUTION_CODE, "1312345", &v) == (ref_luhn("131234", 6) == 5 ? OSK_ID_OK : OSK_ID_BAD_CHECK_DIGIT),
	   "institution 7-digit check digit");
	ok(parse(OSK_INSTITUTION_CODE, "0000000", NULL) == OSK_ID_PLACEHOLDER, "institution all zero");
	ok(parse(OSK_INSTITUTION_CODE, "1391311231", NULL) == OSK_ID_BAD_SCORE_TABLE, "institution 点数表 9");
	ok(parse(OSK_INSTITUTION_CODE, "4811311231", NULL) == OSK_ID_BAD_PREFECTURE, "institution prefecture 48");
	ok(parse(OSK_CARD_BRANCH_NUMBER, "00", &v) == OSK_ID_OK && v == 0, "枝番 00 is valid");
	ok(parse(OSK_CARD_BRANCH_NUMBER, "7", NULL) == OSK_ID_BAD_LENGTH, "枝番 needs 2 digits");
	ok(parse(OSK_PMH_ID, "0000000000000000", NULL) == OSK_ID_PLACEHOLDER, "PMH-ID all zero");
	ok(osk_id_with_luhn(123456789012345LL) % 10 == ref_luhn("123456789012345", 15), "osk_id_with_luhn");
	ok(osk_id_check_value(OSK_INSURER_NUMBER, 131011) == OSK_ID_OK, "binary value check accepts 国保");
	ok(osk_id_check_value(OSK_INSURER_NUMBER, 100000000) == OSK_ID_BAD_LENGTH, "binary value out of range");
	ok(osk_id_check_value(OSK_INSURER_NUMBER, -1) == OSK_ID_BAD_LENGTH, "binary value negative");
	ok(osk_id_check_value(OSK_INSTITUTION_CODE, 10000000) != OSK_ID_OK, "institution value with prefecture 00");
	ok(osk_id_check_value(OSK_ID_KIND_COUNT, 1) != OSK_ID_OK, "unknown kind");
	for (int st = 0; st < OSK_ID_STATUS_COUNT; st++)
		if (strpbrk(osk_id_status_message((OskIdStatus) st), "0123456789") != NULL &&
			st != OSK_ID_BAD_PREFECTURE && st != OSK_ID_BAD_SCORE_TABLE)
			ok(0, "a status message contains a digit");
	ok(1, "status messages carry no digits but fixed ranges");
}

/* Thousands of generated values per kind: checks agree with the references. */
static void
test_properties(void)
{
	char		body[32];
	int			agree = 1;
	int			roundtrip = 1;

	for (int i = 0; i < 100000; i++)
	{
		int64_t		v;
		char		out[32];

		random_digits(body, 11);
		body[11] = (char) ('0' + ref_my_number(body));
		body[12] = '\0';
		if (osk_my_number_check_digit(body) != body[11] - '0')
			agree = 0;
		if (parse(OSK_MY_NUMBER, body, &v) == OSK_ID_OK)
		{
			osk_id_format(OSK_MY_NUMBER, v, out);
			if (strcmp(out, body) != 0)
				roundtrip = 0;
		}
		else if (strcmp(body, "000000000000") != 0)
			roundtrip = 0;
		/* a changed check digit is always refused */
		body[11] = (char) ('0' + (body[11] - '0' + 1 + next_rand() % 9) % 10);
		if (parse(OSK_MY_NUMBER, body, NULL) == OSK_ID_OK)
			agree = 0;
	}
	ok(agree, "100000 My Numbers: check digit agrees with the ordinance's formula");
	ok(roundtrip, "100000 My Numbers round-trip through parse and format");

	agree = roundtrip = 1;
	for (int i = 0; i < 100000; i++)
	{
		int			n = 1 + next_rand() % 15;

		random_digits(body, n);
		if (osk_luhn_check_digit(body, n) != ref_luhn(body, n))
			agree = 0;
	}
	ok(agree, "100000 Luhn bodies agree with the textbook Luhn");

	for (int k = 0; k < OSK_ID_KIND_COUNT; k++)
	{
		int			valid = 0;
		int			bad = 0;

		for (int i = 0; i < 200000; i++)
		{
			int64_t		v;
			char		out[32];
			int			n = (int) (next_rand() % 18);

			random_digits(body, n);
			if (next_rand() % 4 == 0 && n > 0)
				body[next_rand() % n] = (char) (next_rand() % 256);
			if (osk_id_parse((OskIdKind) k, body, (size_t) n, &v, NULL) != OSK_ID_OK)
				continue;
			valid++;
			osk_id_format((OskIdKind) k, v, out);
			if (parse((OskIdKind) k, out, &v) != OSK_ID_OK || osk_id_check_value((OskIdKind) k, v) != OSK_ID_OK)
				bad++;
		}
		printf("# %s: %d random inputs were valid\n", osk_id_kind_name((OskIdKind) k), valid);
		ok(bad == 0, "random valid values of every kind round-trip");
	}
}

int
main(void)
{
	test_vectors();
	test_properties();
	printf("1..%d\n", test_no);
	if (failures == 0)
		printf("# all ok\n");
	return failures == 0 ? 0 : 1;
}
