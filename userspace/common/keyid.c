// SPDX-License-Identifier: GPL-2.0-only
/*
 * API key ids and the secret they are computed under (keyid.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/files.h"
#include "common/keyid.h"

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND							\
	do {								\
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;			\
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;			\
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
	} while (0)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void ps_key_secret_words(const uint8_t key[PS_KEY_SECRET_LEN], uint64_t *k0, uint64_t *k1)
{
	*k0 = le64(key);
	*k1 = le64(key + 8);
}

uint64_t ps_siphash24(const uint8_t key[PS_KEY_SECRET_LEN], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0, k1, v0, v1, v2, v3, m, b;
	size_t i, left = len & 7;

	ps_key_secret_words(key, &k0, &k1);
	v0 = k0 ^ 0x736f6d6570736575ULL;
	v1 = k1 ^ 0x646f72616e646f6dULL;
	v2 = k0 ^ 0x6c7967656e657261ULL;
	v3 = k1 ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	b = (uint64_t)len << 56;
	for (i = 0; i < left; i++)
		b |= (uint64_t)in[len - left + i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int ps_key_secret_read(const char *path, uint8_t key[PS_KEY_SECRET_LEN], char *err,
		       size_t errlen)
{
	char buf[2 * PS_KEY_SECRET_LEN + 3];
	ssize_t n;
	int fd, i, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return e;
	}
	n = read(fd, buf, sizeof(buf));
	e = errno;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	for (i = 0; i < 2 * PS_KEY_SECRET_LEN; i++) {
		int hi = i < n ? hexval((unsigned char)buf[i]) : -1;

		if (hi < 0) {
			snprintf(err, errlen, "%s:1:%d: got %s, expected 32 hex digits and a newline",
				 path, i + 1, i < n ? "a character that is no hex digit" : "the end");
			return -EINVAL;
		}
		if (i % 2)
			key[i / 2] = key[i / 2] << 4 | hi;
		else
			key[i / 2] = hi;
	}
	if (n != 2 * PS_KEY_SECRET_LEN + 1 || buf[2 * PS_KEY_SECRET_LEN] != '\n') {
		snprintf(err, errlen, "%s:1:%d: got %s, expected a newline and the end", path,
			 2 * PS_KEY_SECRET_LEN + 1,
			 n == 2 * PS_KEY_SECRET_LEN ? "the end" : "more");
		memset(key, 0, PS_KEY_SECRET_LEN);
		return -EINVAL;
	}
	return 0;
}

int ps_key_secret_random(uint8_t key[PS_KEY_SECRET_LEN])
{
	ssize_t n = getrandom(key, PS_KEY_SECRET_LEN, 0);

	return n == PS_KEY_SECRET_LEN ? 0 : n < 0 ? -errno : -EIO;
}

int ps_key_secret_ensure(const char *path, uint8_t key[PS_KEY_SECRET_LEN], char *err,
			 size_t errlen)
{
	char text[2 * PS_KEY_SECRET_LEN + 2], tmp[4200];
	struct stat st;
	int fd, e, i;

	if (!stat(path, &st)) {
		if (st.st_mode & 077)
			fprintf(stderr, "penstockd: warning: %s is readable by others than its "
				"owner (mode %04o): chmod 0600 it\n", path, st.st_mode & 07777);
		return ps_key_secret_read(path, key, err, errlen);
	}
	if (errno != ENOENT) {
		e = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return e;
	}
	e = ps_key_secret_random(key);
	if (e) {
		snprintf(err, errlen, "getrandom: %s", strerror(-e));
		return e;
	}
	for (i = 0; i < PS_KEY_SECRET_LEN; i++)
		snprintf(text + 2 * i, 3, "%02x", key[i]);
	text[2 * PS_KEY_SECRET_LEN] = '\n';
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return e;
	}
	e = ps_write_all(fd, text, 2 * PS_KEY_SECRET_LEN + 1);
	if (!e && fsync(fd))
		e = -errno;
	close(fd);
	/* link(), not rename(): a secret another process made meanwhile stays. */
	if (!e && link(tmp, path))
		e = -errno;
	unlink(tmp);
	memset(text, 0, sizeof(text));
	if (e == -EEXIST)
		return ps_key_secret_read(path, key, err, errlen);
	if (e) {
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	ps_fsync_parent(path);
	return 1;
}
