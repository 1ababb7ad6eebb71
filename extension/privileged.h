/*
 * privileged.h
 *	  Run a few fixed SPI statements as the owner of the extension's tables,
 *	  with a safe search_path, whoever the caller is.
 */
#ifndef ONSHIKAKU_PRIVILEGED_H
#define ONSHIKAKU_PRIVILEGED_H

#include "postgres.h"

typedef void (*OskPrivilegedFn) (void *arg);

/*
 * Connect SPI, switch to the owner of onshikaku.data_key with
 * search_path = pg_catalog, pg_temp, run fn(arg), and restore everything,
 * also on error.  fn uses SPI_* directly; statements must be fully
 * qualified, operators on extension types written OPERATOR(onshikaku.=).
 */
extern void osk_run_privileged(OskPrivilegedFn fn, void *arg);

/* OID of a type or relation of schema onshikaku (cached by the caller). */
extern Oid	osk_type_oid(const char *name);
extern Oid	osk_relation_oid(const char *name);

#endif							/* ONSHIKAKU_PRIVILEGED_H */
