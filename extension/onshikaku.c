/*
 * onshikaku.c
 *	  Module entry point of the onshikaku extension.
 *
 * The extension's C code is layered, and each layer only calls the ones
 * before it:
 *
 *	 ident.c             identifiers: parsing and check digits (no PostgreSQL)
 *	 identifier_types.c  the SQL types built on ident.c
 *	 redaction.c         an emit_log_hook that keeps personal numbers out of messages
 *	 crypto.c            AES-256-GCM, HMAC-SHA256, CSPRNG, self-test (no PostgreSQL)
 *	 privileged.c        fixed SPI statements as the owner of the extension's tables
 *	 keys.c              key file, master keys, data keys, rotation
 *	 access_log.c        the access log of reveals
 *	 encrypted_types.c   encrypted and blind_index, protect/reveal
 *	 partitions.c        registering insurers: registry row and partitions
 *	 isolation.c         the insurer a statement acts for (the RLS predicate)
 *	 card_lookup.c       counter lookups by card, straight from one partition
 *	 issuance.c          random 16-digit numbers with a check digit
 *	 flows.c             the gate of the flows: the caller's rights
 *	 confirmation.c      online qualification confirmation by card
 *	 analyst_surface.c   what the analyst role can reach; minimum cell size
 *
 * The flows and views themselves are SQL (extension/sql/40_flows.sql,
 * 60_views.sql) over these; retention comes next.  docs/architecture.md keeps the picture.
 */
#include "postgres.h"

#include "fmgr.h"

#include "access_log.h"
#include "analyst_surface.h"
#include "card_lookup.h"
#include "confirmation.h"
#include "isolation.h"
#include "keys.h"
#include "redaction.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Register each layer's settings and callbacks, in dependency order.  The
 * identifier types need none.
 */
void
_PG_init(void)
{
	osk_redaction_init();
	osk_keys_init();
	osk_access_log_init();
	osk_isolation_init();
	osk_card_lookup_init();
	osk_confirmation_init();
	osk_analyst_surface_init();
}
