/* SPDX-License-Identifier: MIT */
/* mt6d genkey / mt6d pubkey, as wg genkey / wg pubkey. */
#include <stdio.h>
#include <sys/stat.h>

#include <sodium.h>

#include "cli.h"

int cmd_genkey(int argc, char **argv)
{
	uint8_t priv[MT6D_KEY_LEN];
	char text[MT6D_KEY_B64_LEN + 1];
	struct stat st;

	if (argc != 1)
		return cli_usage("Usage: %s genkey  (takes no arguments; run `umask 077' "
		                 "and redirect to a file)",
		                 cli_prog);
	if (fstat(fileno(stdout), &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & (S_IRWXG | S_IRWXO)))
		fprintf(stderr, "Warning: writing a private key to a file accessible by "
		                "others; mt6d will refuse to read it. Use umask 077.\n");
	mt6d_key_generate(priv);
	mt6d_key_to_base64(text, priv);
	puts(text);
	sodium_memzero(priv, sizeof(priv));
	sodium_memzero(text, sizeof(text));
	return fflush(stdout) == 0 ? 0 : cli_fail("writing stdout failed");
}

int cmd_pubkey(int argc, char **argv)
{
	char buf[256];
	uint8_t priv[MT6D_KEY_LEN], pub[MT6D_KEY_LEN];
	char text[MT6D_KEY_B64_LEN + 1];
	int ret = 1;

	if (argc != 1)
		return cli_usage("Usage: %s pubkey < private.key", cli_prog);
	if (cli_read_stdin(buf, sizeof(buf)) < 0)
		goto out;
	if (mt6d_key_from_base64(priv, buf) < 0) {
		cli_fail("stdin is not a base64 private key of 32 bytes");
		goto out;
	}
	if (mt6d_key_public(pub, priv) < 0) {
		cli_fail("cannot compute the public key");
		goto out;
	}
	mt6d_key_to_base64(text, pub);
	puts(text);
	ret = fflush(stdout) == 0 ? 0 : cli_fail("writing stdout failed");
out:
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(priv, sizeof(priv));
	return ret;
}
