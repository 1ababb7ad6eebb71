/*
 * fuzz_identifiers.c
 *	  libFuzzer harness over every identifier parser of extension/ident.c.
 *
 * The first input byte picks the kind, the rest is the text.  Properties
 * checked on every input: the parser never reads outside the buffer (ASan),
 * never overflows (UBSan), and anything it accepts prints canonically and
 * parses back to the same value, which osk_id_check_value also accepts.
 */
#include "ident.h"

#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One fuzz iteration; abort() on a broken property. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	OskIdKind	kind;
	int64_t		v = -1;
	int64_t		again = -2;
	int			pos;
	char		buf[OSK_ID_MAX_DIGITS + 1];
	size_t		n;
	OskIdStatus st;

	if (size < 1)
		return 0;
	kind = (OskIdKind) (data[0] % OSK_ID_KIND_COUNT);
	/* copy to an exact-size heap buffer so ASan sees any over-read */
	{
		char	   *text = malloc(size - 1 ? size - 1 : 1);

		memcpy(text, data + 1, size - 1);
		st = osk_id_parse(kind, text, size - 1, &v, &pos);
		free(text);
	}
	if (osk_id_status_message(st) == NULL)
		abort();
	if (st != OSK_ID_OK)
		return 0;
	n = osk_id_format(kind, v, buf);
	if (n == 0 || n > OSK_ID_MAX_DIGITS || strlen(buf) != n)
		abort();
	if (osk_id_parse(kind, buf, n, &again, NULL) != OSK_ID_OK || again != v)
		abort();
	if (osk_id_check_value(kind, v) != OSK_ID_OK)
		abort();
	return 0;
}
