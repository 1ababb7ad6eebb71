/*
 * redaction.c
 *	  An emit_log_hook that keeps personal numbers out of messages.
 *
 * The extension's own errors never quote a number, but a statement that
 * carries one in a literal can fail for any reason (a constraint, a typo,
 * a cancel), and the server would then log it after "STATEMENT:"; a
 * unique violation on a blind index prints the index in its detail; user
 * code can RAISE a number in a NOTICE.  The server calls this hook for
 * every message that goes to the server log, before writing it there and
 * before sending it to the client (a message sent to the client alone,
 * such as a NOTICE below log_min_messages, never reaches the hook), and it
 *
 *	 - overwrites with '*' every run of exactly 12 digits that is a valid
 *	   My Number (check digit and all), and every run of exactly 64
 *	   hexadecimal digits (a blind index), in the message, detail, hint,
 *	   context and internal query;
 *	 - suppresses the STATEMENT line when the statement holds either.
 *
 * It is active in a backend once the library is loaded; with
 * shared_preload_libraries = 'onshikaku' (recommended, docs/keys.md) it is
 * active from the first statement.  A 12-digit number that is not a My
 * Number but happens to satisfy the check digit is redacted too: a log
 * loses a digit run, never a person.
 */
#include "postgres.h"

#include "tcop/tcopprot.h"
#include "utils/elog.h"

#include "ident.h"
#include "redaction.h"

static emit_log_hook_type prev_emit_log_hook = NULL;

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * Find personal numbers in s; overwrite them when redact is true.  Returns
 * whether any was found.
 */
static bool
scan_text(char *s, bool redact)
{
	bool		found = false;
	char	   *p = s;

	if (s == NULL)
		return false;
	while (*p)
	{
		char	   *start;
		size_t		digits = 0;
		size_t		hex = 0;

		if (!is_hex(*p))
		{
			p++;
			continue;
		}
		start = p;
		while (is_hex(*p))
		{
			if (is_digit(*p) && digits == (size_t) (p - start))
				digits++;
			p++;
			hex++;
		}
		/* a run of hex digits that starts with exactly 12 decimal digits */
		if (digits == 12 && hex == 12)
		{
			int64_t		v;

			if (osk_id_parse(OSK_MY_NUMBER, start, 12, &v, NULL) == OSK_ID_OK)
			{
				found = true;
				if (redact)
					memset(start, '*', 12);
			}
		}
		else if (hex == 64)
		{
			found = true;
			if (redact)
				memset(start, '*', 64);
		}
		else if (hex > 12)
		{
			/* a longer run: look for a 12-digit run inside it */
			for (char *q = start; q < p; q++)
			{
				size_t		n = 0;

				if (q > start && is_digit(q[-1]))
					continue;
				while (q + n < p && is_digit(q[n]))
					n++;
				if (n == 12 && (q + n == p || !is_digit(q[n])))
				{
					int64_t		v;

					if (osk_id_parse(OSK_MY_NUMBER, q, 12, &v, NULL) == OSK_ID_OK)
					{
						found = true;
						if (redact)
							memset(q, '*', 12);
					}
				}
			}
		}
	}
	return found;
}

/* The hook: redact every text part, hide a statement that holds a number. */
static void
redact_emit_log(ErrorData *edata)
{
	scan_text(edata->message, true);
	scan_text(edata->detail, true);
	scan_text(edata->detail_log, true);
	scan_text(edata->hint, true);
	scan_text(edata->context, true);
	scan_text(edata->internalquery, true);
	if (!edata->hide_stmt && debug_query_string != NULL &&
		scan_text((char *) debug_query_string, false))
		edata->hide_stmt = true;
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
osk_redaction_init(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = redact_emit_log;
}
