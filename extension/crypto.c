/*
 * crypto.c
 *	  AES-256-GCM, HMAC-SHA256, the CSPRNG and the self-test, over OpenSSL.
 *
 * Speed comes from keying each context once: an OskAead holds one
 * encryption and one decryption context with the AES key schedule already
 * expanded, and each call only sets the nonce.  An OskMac holds two SHA-256
 * states that have absorbed the HMAC key pads, copied per call, so a call
 * hashes just the message.  Nonces come from a pool refilled from the
 * CSPRNG (see osk_random_nonce).
 *
 * No PostgreSQL header here: see crypto.h.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE			/* explicit_bzero() under -std=c11 */
#endif
#include "crypto.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

struct OskAead
{
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
};

/*
 * HMAC-SHA256 as two digest states that have already absorbed the inner
 * and outer key pads: a call copies them instead of re-keying, which costs
 * about a third less than OpenSSL 3's EVP_MAC re-initialisation.
 */
struct OskMac
{
	EVP_MD_CTX *inner;
	EVP_MD_CTX *outer;
	EVP_MD_CTX *work;
};

/*
 * Nonces come from a pool refilled from the CSPRNG 4 KiB at a time: one
 * RAND_bytes call per 341 nonces instead of one per nonce (OpenSSL 3
 * spends most of a small RAND_bytes call on locking and a getpid()).  The
 * bytes are the same DRBG output either way.  A backend never forks after
 * drawing from the pool, so no two processes share pool contents.
 */
static uint8_t nonce_pool[4096];
static size_t nonce_pool_left = 0;

static char last_error[256];

/* Remember OpenSSL's error text for the caller's message, then clear it. */
static void
note_openssl_error(const char *where)
{
	unsigned long e = ERR_get_error();

	if (e != 0)
	{
		char		buf[200];

		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(last_error, sizeof(last_error), "%s: %s", where, buf);
	}
	else
		snprintf(last_error, sizeof(last_error), "%s failed", where);
	ERR_clear_error();
}

const char *
osk_crypto_error(void)
{
	return last_error;
}

void
osk_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		explicit_bzero(p, len);
}

/* Key both contexts once; the nonce is set per call. */
OskAead *
osk_aead_new(const uint8_t key[OSK_KEY_LEN])
{
	OskAead    *a = OPENSSL_zalloc(sizeof(OskAead));

	if (a == NULL)
	{
		note_openssl_error("OPENSSL_zalloc");
		return NULL;
	}
	a->enc = EVP_CIPHER_CTX_new();
	a->dec = EVP_CIPHER_CTX_new();
	if (a->enc == NULL || a->dec == NULL ||
		EVP_EncryptInit_ex(a->enc, EVP_aes_256_gcm(), NULL, key, NULL) != 1 ||
		EVP_DecryptInit_ex(a->dec, EVP_aes_256_gcm(), NULL, key, NULL) != 1)
	{
		note_openssl_error("AES-256-GCM key setup");
		osk_aead_free(a);
		return NULL;
	}
	return a;
}

/* Free both contexts; OpenSSL cleanses the key schedules on free. */
void
osk_aead_free(OskAead *a)
{
	if (a == NULL)
		return;
	EVP_CIPHER_CTX_free(a->enc);
	EVP_CIPHER_CTX_free(a->dec);
	OPENSSL_free(a);
}

/* Encrypt len bytes with associated data; writes len bytes and the tag. */
OskCryptoResult
osk_aead_seal(OskAead *a, const uint8_t nonce[OSK_NONCE_LEN],
			  const uint8_t *aad, size_t aad_len,
			  const uint8_t *plain, size_t len,
			  uint8_t *cipher, uint8_t tag[OSK_TAG_LEN])
{
	int			n = 0;
	int			fin = 0;
	OSSL_PARAM	params[2];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, OSK_TAG_LEN);
	params[1] = OSSL_PARAM_construct_end();
	if (len > INT32_MAX || aad_len > INT32_MAX ||
		EVP_EncryptInit_ex(a->enc, NULL, NULL, NULL, nonce) != 1 ||
		(aad_len > 0 && EVP_EncryptUpdate(a->enc, NULL, &n, aad, (int) aad_len) != 1) ||
		EVP_EncryptUpdate(a->enc, cipher, &n, plain, (int) len) != 1 ||
		EVP_EncryptFinal_ex(a->enc, cipher + n, &fin) != 1 ||
		(size_t) (n + fin) != len ||
		EVP_CIPHER_CTX_get_params(a->enc, params) != 1)
	{
		note_openssl_error("AES-256-GCM encryption");
		return OSK_CRYPTO_ERROR;
	}
	return OSK_CRYPTO_OK;
}

/*
 * Decrypt and authenticate.  On OSK_CRYPTO_AUTH_FAILED the output buffer
 * may hold unauthenticated bytes: it is wiped here before returning.
 */
OskCryptoResult
osk_aead_open(OskAead *a, const uint8_t nonce[OSK_NONCE_LEN],
			  const uint8_t *aad, size_t aad_len,
			  const uint8_t *cipher, size_t len,
			  const uint8_t tag[OSK_TAG_LEN], uint8_t *plain)
{
	int			n = 0;
	int			fin = 0;
	uint8_t		tagcopy[OSK_TAG_LEN];

	OSSL_PARAM	params[2];

	memcpy(tagcopy, tag, OSK_TAG_LEN);
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tagcopy, OSK_TAG_LEN);
	params[1] = OSSL_PARAM_construct_end();
	if (len > INT32_MAX || aad_len > INT32_MAX ||
		EVP_DecryptInit_ex(a->dec, NULL, NULL, NULL, nonce) != 1 ||
		(aad_len > 0 && EVP_DecryptUpdate(a->dec, NULL, &n, aad, (int) aad_len) != 1) ||
		EVP_DecryptUpdate(a->dec, plain, &n, cipher, (int) len) != 1 ||
		EVP_CIPHER_CTX_set_params(a->dec, params) != 1)
	{
		note_openssl_error("AES-256-GCM decryption");
		osk_wipe(plain, len);
		return OSK_CRYPTO_ERROR;
	}
	if (EVP_DecryptFinal_ex(a->dec, plain + n, &fin) != 1)
	{
		/* a tag mismatch is not an OpenSSL fault: leave no error queued */
		ERR_clear_error();
		osk_wipe(plain, len);
		return OSK_CRYPTO_AUTH_FAILED;
	}
	return OSK_CRYPTO_OK;
}

/* Key an HMAC-SHA256 context once: absorb the inner and outer pads. */
OskMac *
osk_mac_new(const uint8_t *key, size_t key_len)
{
	OskMac	   *m = OPENSSL_zalloc(sizeof(OskMac));
	uint8_t		k[64] = {0};
	uint8_t		pad[64];
	unsigned int klen = 0;
	bool		ok;

	if (m == NULL)
	{
		note_openssl_error("OPENSSL_zalloc");
		return NULL;
	}
	m->inner = EVP_MD_CTX_new();
	m->outer = EVP_MD_CTX_new();
	m->work = EVP_MD_CTX_new();
	ok = m->inner != NULL && m->outer != NULL && m->work != NULL;
	/* keys longer than the block are hashed first (RFC 2104) */
	if (ok && key_len > sizeof(k))
		ok = EVP_Digest(key, key_len, k, &klen, EVP_sha256(), NULL) == 1;
	else if (ok)
		memcpy(k, key, key_len);
	for (int i = 0; ok && i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	ok = ok && EVP_DigestInit_ex(m->inner, EVP_sha256(), NULL) == 1 &&
		EVP_DigestUpdate(m->inner, pad, sizeof(pad)) == 1;
	for (int i = 0; ok && i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	ok = ok && EVP_DigestInit_ex(m->outer, EVP_sha256(), NULL) == 1 &&
		EVP_DigestUpdate(m->outer, pad, sizeof(pad)) == 1;
	osk_wipe(k, sizeof(k));
	osk_wipe(pad, sizeof(pad));
	if (!ok)
	{
		note_openssl_error("HMAC-SHA256 key setup");
		osk_mac_free(m);
		return NULL;
	}
	return m;
}

/* Free the digest states; OpenSSL cleanses them on free. */
void
osk_mac_free(OskMac *m)
{
	if (m == NULL)
		return;
	EVP_MD_CTX_free(m->inner);
	EVP_MD_CTX_free(m->outer);
	EVP_MD_CTX_free(m->work);
	OPENSSL_free(m);
}

/* HMAC of one message: H(outer || H(inner || msg)) from the keyed states. */
OskCryptoResult
osk_mac_compute(OskMac *m, const uint8_t *msg, size_t len, uint8_t out[OSK_MAC_LEN])
{
	uint8_t		inner[OSK_MAC_LEN];
	unsigned int n1 = 0;
	unsigned int n2 = 0;

	if (EVP_MD_CTX_copy_ex(m->work, m->inner) != 1 ||
		EVP_DigestUpdate(m->work, msg, len) != 1 ||
		EVP_DigestFinal_ex(m->work, inner, &n1) != 1 || n1 != OSK_MAC_LEN ||
		EVP_MD_CTX_copy_ex(m->work, m->outer) != 1 ||
		EVP_DigestUpdate(m->work, inner, sizeof(inner)) != 1 ||
		EVP_DigestFinal_ex(m->work, out, &n2) != 1 || n2 != OSK_MAC_LEN)
	{
		osk_wipe(inner, sizeof(inner));
		note_openssl_error("HMAC-SHA256");
		return OSK_CRYPTO_ERROR;
	}
	osk_wipe(inner, sizeof(inner));
	return OSK_CRYPTO_OK;
}

/* A fresh 96-bit nonce from the pool, refilled from the CSPRNG. */
OskCryptoResult
osk_random_nonce(uint8_t nonce[OSK_NONCE_LEN])
{
	if (nonce_pool_left < OSK_NONCE_LEN)
	{
		if (osk_random_bytes(nonce_pool, sizeof(nonce_pool)) != OSK_CRYPTO_OK)
			return OSK_CRYPTO_ERROR;
		nonce_pool_left = sizeof(nonce_pool);
	}
	nonce_pool_left -= OSK_NONCE_LEN;
	memcpy(nonce, nonce_pool + nonce_pool_left, OSK_NONCE_LEN);
	/* a drawn nonce is never handed out again */
	memset(nonce_pool + nonce_pool_left, 0, OSK_NONCE_LEN);
	return OSK_CRYPTO_OK;
}

OskCryptoResult
osk_random_bytes(uint8_t *buf, size_t len)
{
	if (len > INT32_MAX || RAND_bytes(buf, (int) len) != 1)
	{
		note_openssl_error("RAND_bytes");
		return OSK_CRYPTO_ERROR;
	}
	return OSK_CRYPTO_OK;
}

/* Decode a hex string of known length into out. */
static void
unhex(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		unsigned	v;

		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t) v;
	}
}

/*
 * Known answers: GCM test case 16 of McGrew and Viega's GCM specification
 * (256-bit key, 96-bit IV, 60-byte plaintext, 20-byte AAD), and RFC 4231
 * test case 2 for HMAC-SHA256.
 */
const char *
osk_crypto_self_test(void)
{
	static const char *k_hex = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
	static const char *iv_hex = "cafebabefacedbaddecaf888";
	static const char *p_hex = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
	static const char *a_hex = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
	static const char *c_hex = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
		"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662";
	static const char *t_hex = "76fc6ece0f4e1768cddf8853bb2d551b";
	static const char *h_hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
	uint8_t		k[32], iv[12], p[60], a[20], c[60], t[16], out[60], tag[16], h[32];
	const char *failed = NULL;
	OskAead    *aead;
	OskMac	   *mac;

	unhex(k_hex, k, 32);
	unhex(iv_hex, iv, 12);
	unhex(p_hex, p, 60);
	unhex(a_hex, a, 20);
	unhex(c_hex, c, 60);
	unhex(t_hex, t, 16);
	unhex(h_hex, h, 32);

	aead = osk_aead_new(k);
	if (aead == NULL)
		return "AES-256-GCM key setup";
	if (osk_aead_seal(aead, iv, a, 20, p, 60, out, tag) != OSK_CRYPTO_OK ||
		memcmp(out, c, 60) != 0 || memcmp(tag, t, 16) != 0)
		failed = "AES-256-GCM encryption known answer";
	else if (osk_aead_open(aead, iv, a, 20, c, 60, t, out) != OSK_CRYPTO_OK ||
			 memcmp(out, p, 60) != 0)
		failed = "AES-256-GCM decryption known answer";
	else
	{
		t[0] ^= 1;
		if (osk_aead_open(aead, iv, a, 20, c, 60, t, out) != OSK_CRYPTO_AUTH_FAILED)
			failed = "AES-256-GCM accepted an altered tag";
	}
	osk_aead_free(aead);
	if (failed)
		return failed;

	mac = osk_mac_new((const uint8_t *) "Jefe", 4);
	if (mac == NULL)
		return "HMAC-SHA256 key setup";
	/* twice, to check that the keyed states are copied, not consumed */
	for (int i = 0; i < 2 && failed == NULL; i++)
		if (osk_mac_compute(mac, (const uint8_t *) "what do ya want for nothing?", 28, out) != OSK_CRYPTO_OK ||
			memcmp(out, h, 32) != 0)
			failed = "HMAC-SHA256 known answer";
	osk_mac_free(mac);
	return failed;
}
