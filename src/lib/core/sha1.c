/* SPDX-License-Identifier: MIT */
/* SHA-1 from OpenSSL's libcrypto (libsodium has none). Used for public
 * values only: BEP 44 targets and DHT identifiers. */
#include <stdlib.h>

#include <openssl/evp.h>

#include "core/internal.h"

void mt6d_sha1(uint8_t out[static 20], const uint8_t *in, size_t len)
{
	unsigned int n = 0;

	/* EVP_Digest fails only on allocation failure; a wrong target would
	 * be worse than stopping. */
	if (EVP_Digest(in, len, out, &n, EVP_sha1(), NULL) != 1 || n != 20)
		abort();
}
