/*
 * tap.h
 *	  A minimal TAP producer shared by the C unit tests.
 */
#ifndef ONSHIKAKU_TAP_H
#define ONSHIKAKU_TAP_H

#include <stdio.h>

static int	test_no = 0;
static int	failures = 0;

/* Report one TAP test. */
static void
ok(int cond, const char *what)
{
	test_no++;
	if (!cond)
		failures++;
	printf("%sok %d - %s\n", cond ? "" : "not ", test_no, what);
}

#endif							/* ONSHIKAKU_TAP_H */
