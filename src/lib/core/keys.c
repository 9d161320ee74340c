/* SPDX-License-Identifier: MIT */
/*
 * Key text and key files. A key's text form is the standard base64 of its
 * 32 bytes (44 characters), as WireGuard writes it. A private key file holds
 * that one line and is refused unless no group or other permission bit is
 * set. Every buffer that held a private key is wiped before return.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "mt6d/mt6d.h"

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int mt6d_key_from_base64(uint8_t key[static MT6D_KEY_LEN], const char *text)
{
	size_t start = 0, end, got = 0;
	const char *last = NULL;

	if (!text)
		return -EINVAL;
	end = strlen(text);
	while (start < end && is_space(text[start]))
		start++;
	while (end > start && is_space(text[end - 1]))
		end--;
	if (end - start != MT6D_KEY_B64_LEN)
		return -EINVAL;
	/* libsodium 1.0.18 decodes some bytes >= 0x80 as if they were base64
	 * characters (found by fuzz_keytext): check the alphabet first, so one
	 * key has exactly one text. */
	for (size_t i = start; i < end; i++) {
		char c = text[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || (c == '=' && i == end - 1)))
			return -EINVAL;
	}
	if (sodium_base642bin(key, MT6D_KEY_LEN, text + start, MT6D_KEY_B64_LEN, NULL, &got, &last,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != MT6D_KEY_LEN || last != text + end) {
		sodium_memzero(key, MT6D_KEY_LEN);
		return -EINVAL;
	}
	return 0;
}

void mt6d_key_to_base64(char out[static MT6D_KEY_B64_LEN + 1],
                        const uint8_t key[static MT6D_KEY_LEN])
{
	sodium_bin2base64(out, MT6D_KEY_B64_LEN + 1, key, MT6D_KEY_LEN,
	                  sodium_base64_VARIANT_ORIGINAL);
}

void mt6d_key_generate(uint8_t priv[static MT6D_KEY_LEN])
{
	randombytes_buf(priv, MT6D_KEY_LEN);
	/* Clamp as X25519 does, so the stored key is canonical (as wg genkey). */
	priv[0] &= 248;
	priv[31] &= 127;
	priv[31] |= 64;
}

int mt6d_key_public(uint8_t pub[static MT6D_KEY_LEN], const uint8_t priv[static MT6D_KEY_LEN])
{
	return crypto_scalarmult_base(pub, priv) == 0 ? 0 : -EINVAL;
}

int mt6d_key_load_private(uint8_t priv[static MT6D_KEY_LEN], const char *path)
{
	char buf[128];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		ret = -EPERM;
		goto out;
	}
	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	ret = len == sizeof(buf) - 1 ? -EINVAL : mt6d_key_from_base64(priv, buf);
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return ret;
}

int mt6d_key_save_private(const char *path, const uint8_t priv[static MT6D_KEY_LEN])
{
	char line[MT6D_KEY_B64_LEN + 2];
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	mt6d_key_to_base64(line, priv);
	line[MT6D_KEY_B64_LEN] = '\n';
	line[MT6D_KEY_B64_LEN + 1] = '\0';
	if (fchmod(fd, 0600) < 0) {
		ret = -errno;
	} else {
		ssize_t w = write(fd, line, MT6D_KEY_B64_LEN + 1);
		if (w < 0)
			ret = -errno;
		else if (w != MT6D_KEY_B64_LEN + 1)
			ret = -EIO;
	}
	sodium_memzero(line, sizeof(line));
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret;
}
