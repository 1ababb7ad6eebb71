/*
 * test_crypto.c
 *	  Unit tests of extension/crypto.c (no PostgreSQL): the self-test, round
 *	  trips, every flipped bit refused, wrong associated data refused.
 *	  Prints TAP.
 */
#include "crypto.h"

#include <stdio.h>

#include "tap.h"
#include <string.h>


int
main(void)
{
	uint8_t		key[32], nonce[12], plain[12] = "123456789018", ct[12], tag[16], out[12];
	const uint8_t aad[] = "insurer:01130012|purpose:qualification.my_number";
	OskAead    *a;
	OskMac	   *m;
	uint8_t		h1[32], h2[32];
	int			all_refused = 1;

	ok(osk_crypto_self_test() == NULL, "known-answer self-test passes");
	ok(osk_random_bytes(key, 32) == OSK_CRYPTO_OK, "CSPRNG gives a key");
	ok(osk_random_bytes(nonce, 12) == OSK_CRYPTO_OK, "CSPRNG gives a nonce");
	a = osk_aead_new(key);
	ok(a != NULL, "AEAD context");
	ok(osk_aead_seal(a, nonce, aad, sizeof(aad), plain, 12, ct, tag) == OSK_CRYPTO_OK, "seal");
	ok(memcmp(ct, plain, 12) != 0, "ciphertext differs from plaintext");
	ok(osk_aead_open(a, nonce, aad, sizeof(aad), ct, 12, tag, out) == OSK_CRYPTO_OK &&
	   memcmp(out, plain, 12) == 0, "open gives the plaintext back");
	for (int i = 0; i < (12 + 12 + 16) * 8; i++)
	{
		uint8_t		n2[12], c2[12], t2[16];

		memcpy(n2, nonce, 12);
		memcpy(c2, ct, 12);
		memcpy(t2, tag, 16);
		if (i < 96)
			n2[i / 8] ^= (uint8_t) (1 << (i % 8));
		else if (i < 192)
			c2[(i - 96) / 8] ^= (uint8_t) (1 << (i % 8));
		else
			t2[(i - 192) / 8] ^= (uint8_t) (1 << (i % 8));
		if (osk_aead_open(a, n2, aad, sizeof(aad), c2, 12, t2, out) != OSK_CRYPTO_AUTH_FAILED)
			all_refused = 0;
	}
	ok(all_refused, "every one of 320 single-bit flips in nonce, ciphertext or tag is refused");
	{
		uint8_t		aad2[sizeof(aad)];

		memcpy(aad2, aad, sizeof(aad));
		aad2[15] = '3';			/* another insurer */
		ok(osk_aead_open(a, nonce, aad2, sizeof(aad2), ct, 12, tag, out) == OSK_CRYPTO_AUTH_FAILED,
		   "other associated data is refused");
		ok(memcmp(out, plain, 12) != 0, "and no plaintext is left in the output");
	}
	osk_aead_free(a);

	m = osk_mac_new(key, 32);
	ok(m != NULL, "MAC context");
	ok(osk_mac_compute(m, plain, 12, h1) == OSK_CRYPTO_OK &&
	   osk_mac_compute(m, plain, 12, h2) == OSK_CRYPTO_OK && memcmp(h1, h2, 32) == 0,
	   "MAC is deterministic across reuse");
	plain[11] = '9';
	ok(osk_mac_compute(m, plain, 12, h2) == OSK_CRYPTO_OK && memcmp(h1, h2, 32) != 0,
	   "MAC differs for another number");
	osk_mac_free(m);

	printf("1..%d\n", test_no);
	return failures == 0 ? 0 : 1;
}
