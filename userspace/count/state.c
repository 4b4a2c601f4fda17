// SPDX-License-Identifier: GPL-2.0-only
/*
 * File layout (inside gzip):
 *   struct state_hdr
 *   n     x struct crec_v5   (next is meaningless: the hash is rebuilt)
 *   next_ext x struct ps_cext
 *   struct state_hdr again   (a truncated file cannot pass for whole)
 * Version and record sizes in the header reject a file from a build with
 * another layout.
 *
 * Version 5: records of 392 bytes (the counters at the last read in 48
 * bits each, the output token and gRPC message counters in 32, the tick
 * number in 16; windows of 11 fields, tx_tokens, rx_tokens,
 * tx_tokens_estimated, rx_messages and tx_messages among them),
 * extensions (776 bytes) that may hold those counters. The daemon holds a
 * client's token figures apart (struct ps_ctok) and some counters in 32
 * bits: records are converted to version 5's as they are written, and
 * back as they are read (a counter past 32 bits moves to the client's
 * extension, as it does live). Version 4 (records of 344 bytes and
 * extensions of 680: windows of 9 fields, no message windows), version 3
 * (records of 312 bytes and extensions of 600: windows of 8 fields, no
 * tx_tokens_estimated windows, no message counters), version 2 (records
 * of 248 bytes: no token counters, windows of 6 fields) and version 1
 * (records of 272 bytes, the counters 64-bit) are read too, and converted
 * as they are read: the fields they lack start at 0 (version 4's message
 * windows, their totals kept; version 3's tx_tokens_estimated and message
 * windows and message counts; version 2's and 1's token counts).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/log.h"
#include "count/state.h"

#define STATE_MAGIC	"PSTKSTAT"
#define STATE_VERSION	5
/* A save's temporary file: "." PS_STATE_FILE ".tmp-<pid>" in the same directory. */
#define STATE_TMP	"." PS_STATE_FILE "."

struct state_hdr {
	char magic[8];
	uint32_t version;
	uint32_t rec_size;
	uint32_t ext_size;
	uint32_t n;
	uint32_t next_ext;
	uint32_t gen;
	uint64_t saved_ms;
};

/* The fields and window fields of versions 1 and 2 (before the token
 * counters), the window fields of version 3 (before tx_tokens_estimated's)
 * and of version 4 (before the message counters'). */
#define OLD_NFIELDS	9
#define OLD_NWFIELDS	6
#define V3_NWFIELDS	8
#define V4_NWFIELDS	9
_Static_assert(PS_NCTRFIELDS == OLD_NFIELDS && PS_W_TX_TOKENS == OLD_NWFIELDS &&
		       PS_W_TX_TOKENS_ESTIMATED == V3_NWFIELDS &&
		       PS_W_RX_MESSAGES == V4_NWFIELDS,
	       "the old fields come first, in the same order");

/* Version 5's record. */
struct crec_v5 {
	struct ps_client_key key;
	uint32_t next;
	uint64_t inc_ns;
	uint32_t first_wall;
	uint32_t last_wall;
	uint32_t minute;
	uint32_t ext;
	uint16_t gen;
	uint8_t last[PS_NCTRFIELDS][PS_LAST_BITS / 8];
	uint32_t last_tok[PS_NTOKFIELDS];
	uint32_t w[PS_NWINDOWS][2][PS_NWFIELDS];
};
_Static_assert(sizeof(struct crec_v5) == 392, "version 5's records");
_Static_assert(sizeof(struct ps_cext) == 776, "version 5's extensions");

/* Version 4's layouts: every field, the window fields before the message
 * counters'. */
struct crec_v4 {
	struct ps_client_key key;
	uint32_t next;
	uint64_t inc_ns;
	uint32_t first_wall;
	uint32_t last_wall;
	uint32_t minute;
	uint32_t ext;
	uint16_t gen;
	uint8_t last[PS_NCTRFIELDS][PS_LAST_BITS / 8];
	uint32_t last_tok[PS_NTOKFIELDS];
	uint32_t w[PS_NWINDOWS][2][V4_NWFIELDS];
};
_Static_assert(sizeof(struct crec_v4) == 344, "version 4's records");

struct cext_v4 {
	uint64_t base[PS_NFIELDS];
	bool wide;
	bool big;
	uint64_t ww[PS_NWINDOWS][2][V4_NWFIELDS];
	uint64_t last[PS_NFIELDS];
};
_Static_assert(sizeof(struct cext_v4) == 680, "version 4's extensions");

/* Version 3's layouts: the fields up to tx_tokens_estimated, the window
 * fields before its. */
#define V3_NFIELDS	PS_F_RX_MESSAGES
struct crec_v3 {
	struct ps_client_key key;
	uint32_t next;
	uint64_t inc_ns;
	uint32_t first_wall;
	uint32_t last_wall;
	uint32_t minute;
	uint32_t ext;
	uint16_t gen;
	uint8_t last[PS_NCTRFIELDS][PS_LAST_BITS / 8];
	uint32_t last_tok[V3_NFIELDS - PS_NCTRFIELDS];
	uint32_t w[PS_NWINDOWS][2][V3_NWFIELDS];
};
_Static_assert(sizeof(struct crec_v3) == 312, "version 3's records");

struct cext_v3 {
	uint64_t base[V3_NFIELDS];
	bool wide;
	bool big;
	uint64_t ww[PS_NWINDOWS][2][V3_NWFIELDS];
	uint64_t last[V3_NFIELDS];
};
_Static_assert(sizeof(struct cext_v3) == 600, "version 3's extensions");

/* Version 1's layouts. */
struct crec_v1 {
	struct ps_client_key key;
	uint32_t next;
	uint64_t inc_ns;
	uint64_t last[OLD_NFIELDS];
	uint32_t first_wall;
	uint32_t last_wall;
	uint32_t minute;
	uint32_t ext;
	uint32_t gen;
	uint32_t w[PS_NWINDOWS][2][OLD_NWFIELDS];
};
_Static_assert(sizeof(struct crec_v1) == 272, "version 1's records");

struct cext_v1 {
	uint64_t base[OLD_NFIELDS];
	bool wide;
	uint64_t ww[PS_NWINDOWS][2][OLD_NWFIELDS];
};
_Static_assert(sizeof(struct cext_v1) == 368, "version 1's extensions");

/* Version 2's layouts. */
struct crec_v2 {
	struct ps_client_key key;
	uint32_t next;
	uint64_t inc_ns;
	uint32_t first_wall;
	uint32_t last_wall;
	uint32_t minute;
	uint32_t ext;
	uint16_t gen;
	uint8_t last[OLD_NFIELDS][PS_LAST_BITS / 8];
	uint32_t w[PS_NWINDOWS][2][OLD_NWFIELDS];
};
_Static_assert(sizeof(struct crec_v2) == 248, "version 2's records");

struct cext_v2 {
	uint64_t base[OLD_NFIELDS];
	bool wide;
	bool big;
	uint64_t ww[PS_NWINDOWS][2][OLD_NWFIELDS];
	uint64_t last[OLD_NFIELDS];
};
_Static_assert(sizeof(struct cext_v2) == 440, "version 2's extensions");

/* The fields every version's record begins with, by name (their types
 * differ: version 1's gen is 32 bits). */
#define REC_HEAD(r, b)					\
	do {						\
		(r)->key = (b)->key;			\
		(r)->inc_ns = (b)->inc_ns;		\
		(r)->first_wall = (b)->first_wall;	\
		(r)->last_wall = (b)->last_wall;	\
		(r)->minute = (b)->minute;		\
		(r)->ext = (b)->ext;			\
		(r)->gen = (b)->gen;			\
	} while (0)

/* All of len, read or written, in chunks zlib takes (an unsigned int). 0 or -EIO. */
static int gz_all(gzFile gz, void *buf, size_t len, bool write)
{
	char *p = buf;

	while (len) {
		unsigned int chunk = len > (1u << 30) ? 1u << 30 : (unsigned int)len;
		int n = write ? gzwrite(gz, p, chunk) : gzread(gz, p, chunk);

		if (n <= 0)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

static int gz_write_all(gzFile gz, const void *buf, size_t len)
{
	return gz_all(gz, (void *)buf, len, true);
}

static int gz_read_all(gzFile gz, void *buf, size_t len)
{
	return gz_all(gz, buf, len, false);
}

/* Nothing after the last header, and the gzip trailer (CRC, length) checked. */
static bool at_end(gzFile gz)
{
	char c;
	int zerr;

	if (gzread(gz, &c, 1) != 0)
		return false;
	gzerror(gz, &zerr);
	return zerr == Z_OK;
}

/*
 * The state directory, open and locked (flock on the directory itself):
 * one save at a time, and a load waits for a save in flight, a saver
 * left by a daemon that was killed included. An fd, or -errno.
 */
static int lock_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return -errno;
	while (flock(dfd, LOCK_EX)) {
		if (errno != EINTR) {
			int err = -errno;

			close(dfd);
			return err;
		}
	}
	return dfd;
}

static void state_hdr_of(const struct ps_ctable *t, uint64_t now_ms, struct state_hdr *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, STATE_MAGIC, sizeof(h->magic));
	h->version = STATE_VERSION;
	h->rec_size = sizeof(struct crec_v5);
	h->ext_size = sizeof(struct ps_cext);
	h->n = t->n;
	h->next_ext = t->next_ext;
	h->gen = t->gen;
	h->saved_ms = now_ms;
}

/*
 * Write a file of header h, what body writes (the records and extensions
 * h counts) and h again, to a temporary file renamed over dir's state
 * file. 0 or -errno (message in err; -EAGAIN: body gave up).
 */
static int save_file(const char *dir, const struct state_hdr *h,
		     int (*body)(gzFile gz, void *ctx), void *ctx, char *err, size_t errlen)
{
	char tmp[4096], path[4096];
	int fd, dfd, ret = 0;
	gzFile gz;

	snprintf(path, sizeof(path), "%s/" PS_STATE_FILE, dir);
	snprintf(tmp, sizeof(tmp), "%s/" STATE_TMP "tmp-%d", dir, (int)getpid());
	dfd = lock_dir(dir);
	if (dfd < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-dfd));
		return dfd;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(dfd);
		return ret;
	}
	gz = gzdopen(dup(fd), "wb1");
	if (!gz) {
		ret = -ENOMEM;
		goto fail;
	}
	gzbuffer(gz, 1 << 18);
	if (gz_write_all(gz, h, sizeof(*h)))
		ret = -EIO;
	if (!ret)
		ret = body(gz, ctx);
	if (!ret && gz_write_all(gz, h, sizeof(*h)))
		ret = -EIO;
	if (gzclose(gz) != Z_OK && !ret)
		ret = -EIO;
	if (ret)
		goto fail;
	/* The data on disk before the name points at it. */
	if (fsync(fd)) {
		ret = -errno;
		goto fail;
	}
	close(fd);
	if (rename(tmp, path)) {
		ret = -errno;
		snprintf(err, errlen, "rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		close(dfd);
		return ret;
	}
	/* The rename itself on disk. */
	fsync(dfd);
	close(dfd);
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", tmp,
		 ret == -EAGAIN ? "clients changed under the save, it starts again" : strerror(-ret));
	close(fd);
	unlink(tmp);
	close(dfd);
	return ret;
}

/* Record r of t as version 5 writes it. */
static void to_v5(const struct ps_ctable *t, const struct ps_crec *r, struct crec_v5 *o)
{
	const struct ps_cext *e = r->ext ? &t->ext[r->ext - 1] : NULL;
	uint64_t last[PS_NFIELDS];
	int w, b, f;

	memset(o, 0, sizeof(*o));
	o->key = r->key;
	o->inc_ns = r->inc_ns;
	o->first_wall = r->first_wall;
	o->last_wall = r->last_wall;
	o->minute = r->minute;
	o->ext = r->ext;
	o->gen = r->gen;
	/* Big or wide: the extension holds them, the record's are 0 (as live). */
	if (!(e && e->big)) {
		ps_crec_last(t, r, last);
		for (f = 0; f < PS_NCTRFIELDS; f++)
			for (b = 0; b < PS_LAST_BITS / 8; b++)
				o->last[f][b] = last[f] >> (8 * b);
		for (; f < PS_NFIELDS; f++)
			o->last_tok[f - PS_NCTRFIELDS] = (uint32_t)last[f];
	}
	if (!(e && e->wide))
		for (w = 0; w < PS_NWINDOWS; w++)
			for (b = 0; b < 2; b++)
				for (f = 0; f < PS_NWFIELDS; f++)
					o->w[w][b][f] = (uint32_t)ps_crec_bucket(t, r, w, b, f);
}

/* Records copied (converted) at a time: 1024 of 392 bytes, 392 KiB. The
 * saver's copy is in penstockd's memory most of the time at a million
 * clients (a save every 5 s takes seconds): 4096 held 1.2 MiB more, and
 * a chunk under the lock is a quarter of the wait for the loop. */
#define SAVE_CHUNK	1024

static int body_whole(gzFile gz, void *ctx)
{
	const struct ps_ctable *t = ctx;
	struct crec_v5 *buf = malloc(SAVE_CHUNK * sizeof(*buf));
	uint32_t first, i;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (first = 0; first < t->n && !ret; first += SAVE_CHUNK) {
		uint32_t cnt = t->n - first < SAVE_CHUNK ? t->n - first : SAVE_CHUNK;

		for (i = 0; i < cnt; i++)
			to_v5(t, &t->rec[first + i], &buf[i]);
		if (gz_write_all(gz, buf, (size_t)cnt * sizeof(*buf)))
			ret = -EIO;
	}
	free(buf);
	if (!ret && gz_write_all(gz, t->ext, (size_t)t->next_ext * sizeof(*t->ext)))
		ret = -EIO;
	return ret;
}

int ps_state_save(const struct ps_ctable *t, const char *dir, uint64_t now_ms, char *err,
		  size_t errlen)
{
	struct state_hdr h;

	state_hdr_of(t, now_ms, &h);
	return save_file(dir, &h, body_whole, (void *)t, err, errlen);
}

/* ---- a save by a thread, a chunk of records at a time under the table's lock ---- */

struct ps_state_saver {
	pthread_t th;
	pthread_mutex_t *mu;
	const struct ps_ctable *t;
	char dir[4096];
	struct state_hdr h;
	struct crec_v5 *buf;	/* SAVE_CHUNK records, converted under the lock */
	struct ps_cext *ext;	/* h.next_ext extensions, each copied with its record */
	int ret;
	atomic_bool done;
	char err[4200];
};

static int body_chunks(gzFile gz, void *ctx)
{
	struct ps_state_saver *s = ctx;
	uint32_t first, i;

	for (first = 0; first < s->h.n; first += SAVE_CHUNK) {
		uint32_t cnt = s->h.n - first < SAVE_CHUNK ? s->h.n - first : SAVE_CHUNK;
		bool changed = false;

		pthread_mutex_lock(s->mu);
		for (i = 0; i < cnt; i++)
			to_v5(s->t, &s->t->rec[first + i], &s->buf[i]);
		for (i = 0; i < cnt; i++) {
			uint32_t e = s->buf[i].ext;

			if (!e)
				continue;
			/* An extension made since the header was written: the file
			 * could not hold it. */
			if (e > s->h.next_ext) {
				changed = true;
				break;
			}
			s->ext[e - 1] = s->t->ext[e - 1];
		}
		pthread_mutex_unlock(s->mu);
		if (changed)
			return -EAGAIN;
		if (gz_write_all(gz, s->buf, (size_t)cnt * sizeof(*s->buf)))
			return -EIO;
	}
	if (gz_write_all(gz, s->ext, (size_t)s->h.next_ext * sizeof(*s->ext)))
		return -EIO;
	return 0;
}

static void *saver_main(void *arg)
{
	struct ps_state_saver *s = arg;

	s->ret = save_file(s->dir, &s->h, body_chunks, s, s->err, sizeof(s->err));
	atomic_store(&s->done, true);
	return NULL;
}

int ps_state_saver_start(struct ps_state_saver **out, const struct ps_ctable *t,
			 pthread_mutex_t *mu, const char *dir, uint64_t now_ms)
{
	struct ps_state_saver *s = calloc(1, sizeof(*s));
	sigset_t all, old;
	int err;

	if (!s)
		return -ENOMEM;
	s->mu = mu;
	s->t = t;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	state_hdr_of(t, now_ms, &s->h);
	s->buf = malloc(SAVE_CHUNK * sizeof(*s->buf));
	s->ext = calloc((size_t)s->h.next_ext + 1, sizeof(*s->ext));
	if (!s->buf || !s->ext) {
		err = -ENOMEM;
		goto fail;
	}
	/* Signals stay the loop's (its signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&s->th, NULL, saver_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto fail;
	pthread_setname_np(s->th, "ps-save");
	*out = s;
	return 0;
fail:
	free(s->buf);
	free(s->ext);
	free(s);
	return err;
}

bool ps_state_saver_done(const struct ps_state_saver *s)
{
	return atomic_load(&s->done);
}

int ps_state_saver_join(struct ps_state_saver *s, char *err, size_t errlen)
{
	int ret;

	pthread_join(s->th, NULL);
	ret = s->ret;
	if (ret)
		snprintf(err, errlen, "%s", s->err);
	free(s->buf);
	free(s->ext);
	free(s);
	return ret;
}

pid_t ps_state_save_bg(const struct ps_ctable *t, const char *dir, uint64_t now_ms)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char err[4200];

		/*
		 * Nothing of the daemon's but the table: a child left running
		 * by a daemon that was killed must not hold its control socket
		 * (a new daemon would find it "answering") or its BPF objects.
		 */
		close_range(3, ~0U, 0);
		if (ps_state_save(t, dir, now_ms, err, sizeof(err))) {
			pr_warn("penstockd: cannot save state: %s\n", err);
			_exit(1);
		}
		_exit(0);
	}
	return pid;
}

/* The header: ours, of this version and layout. 0 or -errno (message in err). */
static int read_header(gzFile gz, const char *path, struct state_hdr *h, char *err,
		       size_t errlen)
{
	if (gz_read_all(gz, h, sizeof(*h)) || memcmp(h->magic, STATE_MAGIC, sizeof(h->magic))) {
		int zerr;
		const char *zmsg = gzerror(gz, &zerr);

		if (zerr && zerr != Z_BUF_ERROR)
			snprintf(err, errlen, "%s: corrupt (%s)", path, zmsg);
		else
			snprintf(err, errlen, "%s: not a penstock state file", path);
		return -EINVAL;
	}
	if (h->version == 1 && h->rec_size == sizeof(struct crec_v1) &&
	    h->ext_size == sizeof(struct cext_v1))
		return 0;
	if (h->version == 2 && h->rec_size == sizeof(struct crec_v2) &&
	    h->ext_size == sizeof(struct cext_v2))
		return 0;
	if (h->version == 3 && h->rec_size == sizeof(struct crec_v3) &&
	    h->ext_size == sizeof(struct cext_v3))
		return 0;
	if (h->version == 4 && h->rec_size == sizeof(struct crec_v4) &&
	    h->ext_size == sizeof(struct cext_v4))
		return 0;
	if (h->version != STATE_VERSION || h->rec_size != sizeof(struct crec_v5) ||
	    h->ext_size != sizeof(struct ps_cext)) {
		snprintf(err, errlen,
			 "%s: state file version %u (records of %u bytes); this penstockd reads version %u (%zu bytes)",
			 path, h->version, h->rec_size, STATE_VERSION, sizeof(struct crec_v5));
		return -EINVAL;
	}
	return 0;
}

/* A record that needs its extension, until the extensions are read. */
struct big_v1 {
	uint32_t i;
	uint64_t last[PS_NFIELDS];
	uint32_t w[PS_NWINDOWS][2][PS_NWFIELDS];
};

/*
 * A file's record into r (key, times, ext and gen set): its buckets (w,
 * all the window fields) and its counters at the last read. A record that
 * needs its extension for them (a counter past 32 or 48 bits, a bucket
 * past 16) is left: 1, for ps_crec_set_buckets and ps_crec_set_last once
 * the extensions are read. 0 or -ENOMEM.
 */
static int put_rec(struct ps_ctable *t, struct ps_crec *r, const uint64_t last[PS_NFIELDS],
		   const uint32_t w[PS_NWINDOWS][2][PS_NWFIELDS])
{
	uint64_t any32 = 0, any48 = 0, anytok = 0;
	struct ps_ctok *k = NULL;
	int b, f, ret;

	for (f = 0; f < PS_NLAST32; f++)
		any32 |= last[f];
	for (; f < PS_NCTRFIELDS; f++)
		any48 |= last[f];
	for (; f < PS_NFIELDS; f++)
		anytok |= last[f];
	if (any32 > UINT32_MAX || any48 > PS_LAST_MAX || anytok > PS_LAST_TOK_MAX ||
	    !ps_buckets_fit(w))
		return 1;
	ret = ps_crec_set_buckets(t, r, w);
	if (ret)
		return ret;
	if (anytok || r->tok) {
		k = ps_ctable_tok(t, r);
		if (!k)
			return -ENOMEM;
	}
	for (f = 0; f < PS_NLAST32; f++)
		r->last32[f] = (uint32_t)last[f];
	for (; f < PS_NCTRFIELDS; f++)
		for (b = 0; b < PS_LAST_BITS / 8; b++)
			r->last48[f - PS_NLAST32][b] = last[f] >> (8 * b);
	for (; f < PS_NFIELDS && k; f++)
		k->last[f - PS_NCTRFIELDS] = (uint32_t)last[f];
	return 0;
}

/* A 48-bit little-endian counter of a file's record. */
static uint64_t file48(const uint8_t *p)
{
	uint64_t v = 0;
	int k;

	for (k = 0; k < PS_LAST_BITS / 8; k++)
		v |= (uint64_t)p[k] << (8 * k);
	return v;
}

/*
 * A file's records and extensions into t, converted (version 5's, or an
 * old version's). 0, -EIO (the file ends early or is corrupt) or -ENOMEM.
 */
static int read_recs(gzFile gz, const struct state_hdr *h, struct ps_ctable *t)
{
	enum { CHUNK = 4096 };
	char *b = malloc((size_t)CHUNK * h->rec_size);
	struct big_v1 *big = NULL;
	uint32_t nbig = 0, first, i;
	int ret = 0;

	if (!b)
		return -ENOMEM;
	for (first = 0; first < h->n && !ret; first += CHUNK) {
		uint32_t cnt = h->n - first < CHUNK ? h->n - first : CHUNK;

		if (gz_read_all(gz, b, (size_t)cnt * h->rec_size)) {
			ret = -EIO;
			break;
		}
		for (i = 0; i < cnt; i++) {
			struct ps_crec *r = &t->rec[first + i];
			const void *p = b + (size_t)i * h->rec_size;
			uint32_t w[PS_NWINDOWS][2][PS_NWFIELDS] = {};
			uint64_t last[PS_NFIELDS] = {};
			int f, k, x;

			memset(r, 0, sizeof(*r));
			if (h->version == 5) {
				const struct crec_v5 *b5 = p;

				REC_HEAD(r, b5);
				for (f = 0; f < PS_NCTRFIELDS; f++)
					last[f] = file48(b5->last[f]);
				for (; f < PS_NFIELDS; f++)
					last[f] = b5->last_tok[f - PS_NCTRFIELDS];
				memcpy(w, b5->w, sizeof(w));
			} else if (h->version == 4) {
				const struct crec_v4 *b4 = p;

				REC_HEAD(r, b4);
				for (f = 0; f < PS_NCTRFIELDS; f++)
					last[f] = file48(b4->last[f]);
				for (; f < PS_NFIELDS; f++)
					last[f] = b4->last_tok[f - PS_NCTRFIELDS];
				for (k = 0; k < PS_NWINDOWS; k++)
					for (x = 0; x < 2; x++)
						memcpy(w[k][x], b4->w[k][x], sizeof(b4->w[k][x]));
			} else if (h->version == 3) {
				const struct crec_v3 *b3 = p;

				REC_HEAD(r, b3);
				for (f = 0; f < PS_NCTRFIELDS; f++)
					last[f] = file48(b3->last[f]);
				for (; f < V3_NFIELDS; f++)
					last[f] = b3->last_tok[f - PS_NCTRFIELDS];
				for (k = 0; k < PS_NWINDOWS; k++)
					for (x = 0; x < 2; x++)
						memcpy(w[k][x], b3->w[k][x], sizeof(b3->w[k][x]));
			} else if (h->version == 2) {
				const struct crec_v2 *b2 = p;

				REC_HEAD(r, b2);
				for (f = 0; f < OLD_NFIELDS; f++)
					last[f] = file48(b2->last[f]);
				for (k = 0; k < PS_NWINDOWS; k++)
					for (x = 0; x < 2; x++)
						memcpy(w[k][x], b2->w[k][x], sizeof(b2->w[k][x]));
			} else {
				const struct crec_v1 *b1 = p;

				REC_HEAD(r, b1);
				memcpy(last, b1->last, sizeof(b1->last));
				for (k = 0; k < PS_NWINDOWS; k++)
					for (x = 0; x < 2; x++)
						memcpy(w[k][x], b1->w[k][x], sizeof(b1->w[k][x]));
			}
			ret = put_rec(t, r, last, w);
			if (ret < 0)
				break;
			if (!ret)
				continue;
			ret = 0;
			if (!(nbig & (nbig + 1))) {	/* 0, 1, 3, 7...: grow */
				struct big_v1 *nb = realloc(big, (2 * (size_t)nbig + 2) * sizeof(*nb));

				if (!nb) {
					ret = -ENOMEM;
					break;
				}
				big = nb;
			}
			big[nbig].i = first + i;
			memcpy(big[nbig].last, last, sizeof(last));
			memcpy(big[nbig].w, w, sizeof(w));
			nbig++;
		}
	}
	for (i = 0; i < h->next_ext && !ret; i++) {
		struct ps_cext *e = &t->ext[i];
		union {
			struct cext_v1 v1;
			struct cext_v2 v2;
			struct cext_v3 v3;
			struct cext_v4 v4;
			struct ps_cext v5;
		} o;
		int w, k;

		if (gz_read_all(gz, &o, h->ext_size)) {
			ret = -EIO;
			break;
		}
		if (h->version == 5) {
			*e = o.v5;
			continue;
		}
		memset(e, 0, sizeof(*e));
		if (h->version == 4) {
			memcpy(e->base, o.v4.base, sizeof(o.v4.base));
			e->wide = o.v4.wide;
			e->big = o.v4.big;
			for (w = 0; w < PS_NWINDOWS; w++)
				for (k = 0; k < 2; k++)
					memcpy(e->ww[w][k], o.v4.ww[w][k], sizeof(o.v4.ww[w][k]));
			memcpy(e->last, o.v4.last, sizeof(o.v4.last));
			continue;
		}
		if (h->version == 3) {
			memcpy(e->base, o.v3.base, sizeof(o.v3.base));
			e->wide = o.v3.wide;
			e->big = o.v3.big;
			for (w = 0; w < PS_NWINDOWS; w++)
				for (k = 0; k < 2; k++)
					memcpy(e->ww[w][k], o.v3.ww[w][k], sizeof(o.v3.ww[w][k]));
			memcpy(e->last, o.v3.last, sizeof(o.v3.last));
			continue;
		}
		/* base, wide and ww begin both layouts alike. */
		memcpy(e->base, o.v1.base, sizeof(o.v1.base));
		e->wide = h->version == 2 ? o.v2.wide : o.v1.wide;
		for (w = 0; w < PS_NWINDOWS; w++)
			for (k = 0; k < 2; k++)
				memcpy(e->ww[w][k], h->version == 2 ? o.v2.ww[w][k] : o.v1.ww[w][k],
				       sizeof(o.v1.ww[w][k]));
		if (h->version == 2) {
			e->big = o.v2.big;
			memcpy(e->last, o.v2.last, sizeof(o.v2.last));
		}
	}
	if (!ret) {
		t->n = h->n;
		t->next_ext = h->next_ext;
	}
	for (i = 0; i < nbig && !ret; i++) {
		if (t->rec[big[i].i].ext > t->next_ext)
			break;	/* found corrupt by the caller */
		if (ps_crec_set_buckets(t, &t->rec[big[i].i], big[i].w) ||
		    ps_crec_set_last(t, &t->rec[big[i].i], big[i].last))
			ret = -ENOMEM;
	}
	free(big);
	free(b);
	return ret;
}

/* The records after header h, the header again, and nothing more. 0 or -errno. */
static int read_records(gzFile gz, const char *path, const struct state_hdr *h,
			struct ps_ctable *t, char *err, size_t errlen)
{
	struct state_hdr h2;
	uint32_t i;
	int r1 = 0;

	t->rec = malloc(((size_t)h->n + 1) * sizeof(*t->rec));
	t->ext = malloc(((size_t)h->next_ext + 1) * sizeof(*t->ext));
	if (!t->rec || !t->ext) {
		snprintf(err, errlen, "%s: out of memory for %u clients", path, h->n);
		return -ENOMEM;
	}
	t->cap = h->n + 1;
	t->cap_ext = h->next_ext + 1;
	r1 = read_recs(gz, h, t);
	if (r1 == -ENOMEM) {
		snprintf(err, errlen, "%s: out of memory for %u clients", path, h->n);
		return -ENOMEM;
	}
	if (r1 || gz_read_all(gz, &h2, sizeof(h2)) || memcmp(h, &h2, sizeof(*h)) || !at_end(gz)) {
		int zerr;
		const char *zmsg = gzerror(gz, &zerr);

		snprintf(err, errlen, "%s: truncated or corrupt (%s)", path,
			 zerr ? zmsg : "ends early");
		return -EINVAL;
	}
	t->gen = h->gen;
	for (i = 0; i < t->n; i++)
		if (t->rec[i].ext > t->next_ext) {
			snprintf(err, errlen, "%s: corrupt (client %u has extension %u of %u)",
				 path, i, t->rec[i].ext, t->next_ext);
			return -EINVAL;
		}
	return 0;
}

/* Temporary files of saves that never ended (a saver killed): dfd's, locked. */
static void remove_stale(int dfd)
{
	int fd = dup(dfd);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, STATE_TMP, strlen(STATE_TMP)))
			unlinkat(dfd, de->d_name, 0);
	closedir(d);
}

int ps_state_load(struct ps_ctable *t, const char *dir, uint64_t *saved_ms, char *err,
		  size_t errlen)
{
	struct state_hdr h;
	char path[4096];
	uint32_t nb = 4096;
	int fd, dfd, ret;
	gzFile gz;

	snprintf(path, sizeof(path), "%s/" PS_STATE_FILE, dir);
	dfd = lock_dir(dir);
	if (dfd < 0) {
		if (dfd == -ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", dir, strerror(-dfd));
		return dfd;
	}
	remove_stale(dfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	close(dfd);	/* the file open: a save from now on renames another over it */
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	gz = gzdopen(fd, "rb");
	if (!gz) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	gzbuffer(gz, 1 << 18);
	ret = read_header(gz, path, &h, err, errlen);
	if (!ret)
		ret = read_records(gz, path, &h, t, err, errlen);
	if (ret)
		goto out;
	while (2 * (uint64_t)nb < t->n)	/* as ps_ctable_get grows it */
		nb *= 2;
	ret = ps_ctable_rehash(t, nb);
	if (ret) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	*saved_ms = h.saved_ms;
	ret = 1;
out:
	gzclose(gz);
	if (ret < 0)
		ps_ctable_free(t);
	return ret;
}
