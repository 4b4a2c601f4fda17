/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * API key ids: SipHash-2-4 of a key's bytes under a 128-bit secret, the
 * same function the datapath computes (bpf/lib/apikey.h), and the secret
 * file penstockd keeps: 32 hex digits and a newline, mode 0600, in its
 * state directory, made at its first start. The secret's first 8 bytes
 * are SipHash's k0 and the next 8 its k1, each read little-endian, as in
 * the SipHash paper's reference code.
 */
#ifndef PS_KEYID_H
#define PS_KEYID_H

#include <stddef.h>
#include <stdint.h>

#define PS_KEY_SECRET_FILE	"key_secret"
#define PS_KEY_SECRET_LEN	16

uint64_t ps_siphash24(const uint8_t key[PS_KEY_SECRET_LEN], const void *data, size_t len);

/* k0 and k1 of a secret. */
void ps_key_secret_words(const uint8_t key[PS_KEY_SECRET_LEN], uint64_t *k0, uint64_t *k1);

/*
 * Read a secret file: 0, or -errno with "PATH:LINE:COLUMN: got ..., expected
 * ..." (or why it cannot be read) in err.
 */
int ps_key_secret_read(const char *path, uint8_t key[PS_KEY_SECRET_LEN], char *err,
		       size_t errlen);

/*
 * The secret at path, made (random, mode 0600, written whole or not at
 * all) when there is none. Returns 1 when made, 0 when read, -errno with
 * err.
 */
int ps_key_secret_ensure(const char *path, uint8_t key[PS_KEY_SECRET_LEN], char *err,
			 size_t errlen);

/* A fresh random secret (getrandom). 0 or -errno. */
int ps_key_secret_random(uint8_t key[PS_KEY_SECRET_LEN]);

#endif
