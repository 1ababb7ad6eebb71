/*
 * crypto.h
 *	  The cryptographic primitives of onshikaku, over OpenSSL's EVP API:
 *	  AES-256-GCM with keyed contexts reused across calls, HMAC-SHA256 with
 *	  a keyed context reused across calls, the CSPRNG, and a known-answer
 *	  self-test.
 *
 * Plain C with no PostgreSQL dependency (unit-tested in test/unit/).  Every
 * OpenSSL return value is checked; every function reports failure to its
 * caller, which raises an error.  Nothing here falls back to anything.
 */
#ifndef ONSHIKAKU_CRYPTO_H
#define ONSHIKAKU_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define OSK_KEY_LEN		32		/* AES-256 and HMAC-SHA256 keys */
#define OSK_NONCE_LEN	12		/* GCM's 96-bit nonce */
#define OSK_TAG_LEN		16		/* GCM's full 128-bit tag */
#define OSK_MAC_LEN		32		/* HMAC-SHA256 */

typedef enum OskCryptoResult
{
	OSK_CRYPTO_OK = 0,
	OSK_CRYPTO_AUTH_FAILED,		/* the tag does not match: altered or moved */
	OSK_CRYPTO_ERROR			/* OpenSSL failed; see osk_crypto_error() */
} OskCryptoResult;

typedef struct OskAead OskAead;
typedef struct OskMac OskMac;

/* A keyed AES-256-GCM pair of contexts; NULL when OpenSSL fails. */
extern OskAead *osk_aead_new(const uint8_t key[OSK_KEY_LEN]);
extern void osk_aead_free(OskAead *aead);
extern OskCryptoResult osk_aead_seal(OskAead *aead, const uint8_t nonce[OSK_NONCE_LEN],
									 const uint8_t *aad, size_t aad_len,
									 const uint8_t *plain, size_t len,
									 uint8_t *cipher, uint8_t tag[OSK_TAG_LEN]);
extern OskCryptoResult osk_aead_open(OskAead *aead, const uint8_t nonce[OSK_NONCE_LEN],
									 const uint8_t *aad, size_t aad_len,
									 const uint8_t *cipher, size_t len,
									 const uint8_t tag[OSK_TAG_LEN], uint8_t *plain);

/* A keyed HMAC-SHA256 context; NULL when OpenSSL fails. */
extern OskMac *osk_mac_new(const uint8_t *key, size_t key_len);
extern void osk_mac_free(OskMac *mac);
extern OskCryptoResult osk_mac_compute(OskMac *mac, const uint8_t *msg, size_t len,
									   uint8_t out[OSK_MAC_LEN]);

/* Bytes from OpenSSL's CSPRNG. */
extern OskCryptoResult osk_random_bytes(uint8_t *buf, size_t len);

/* A 96-bit GCM nonce from the CSPRNG (drawn from a per-process pool). */
extern OskCryptoResult osk_random_nonce(uint8_t nonce[OSK_NONCE_LEN]);

/*
 * Known-answer tests of AES-256-GCM (seal and open, and a refused altered
 * tag) and HMAC-SHA256.  Returns NULL when all pass, else what failed.
 */
extern const char *osk_crypto_self_test(void);

/* The last OpenSSL error as text (never contains key or data), or "". */
extern const char *osk_crypto_error(void);

/* Overwrite memory in a way the compiler cannot remove. */
extern void osk_wipe(void *p, size_t len);

#endif							/* ONSHIKAKU_CRYPTO_H */
