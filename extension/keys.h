/*
 * keys.h
 *	  The key ring of a backend: master keys (KEKs) and the blind-index key
 *	  from the key file or key command, and the data keys (DEKs) they wrap,
 *	  stored wrapped in onshikaku.data_key.
 */
#ifndef ONSHIKAKU_KEYS_H
#define ONSHIKAKU_KEYS_H

#include "postgres.h"

#include "crypto.h"

/* No data key scope: the DEK serves every insurer (national files). */
#define OSK_NO_INSURER		((int64) -1)
/* The scope's current cohort ("active"); other cohorts are years. */
#define OSK_ACTIVE_COHORT	((int32) -1)

extern void osk_keys_init(void);

/* The blind-index MAC, loading the key ring if needed; errors if it cannot. */
extern OskMac *osk_index_mac(void);

/* The AEAD context of a data key by id (to decrypt). */
extern OskAead *osk_data_key(int32 key_id);

/* The cohort of a data key's scope (OSK_ACTIVE_COHORT for the current one). */
extern int32 osk_data_key_cohort(int32 key_id);

/* The active data key of a scope, created when missing (to encrypt). */
extern OskAead *osk_active_data_key(int64 insurer, int32 cohort, int32 *key_id);

/* Fresh random bytes for a nonce; errors on CSPRNG failure. */
extern void osk_nonce(uint8_t nonce[OSK_NONCE_LEN]);

#endif							/* ONSHIKAKU_KEYS_H */
