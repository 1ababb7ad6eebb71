/*
 * onshikaku.c
 *	  Module entry point of the onshikaku extension.
 *
 * The extension's C code is layered, and each layer only calls the ones
 * before it:
 *
 *	 ident.c             identifiers: parsing and check digits (no PostgreSQL)
 *	 identifier_types.c  the SQL types built on ident.c
 *
 * Later layers (crypto and keys, the model, the flows, retention) add their
 * files below these; docs/architecture.md keeps the picture.
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Nothing to set up yet: the identifier types need no state.  Later layers
 * register their settings here, in dependency order.
 */
void
_PG_init(void)
{
}
