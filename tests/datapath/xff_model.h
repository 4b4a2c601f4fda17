/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The forwarded-header rule written from the left, for the datapath tests
 * that send random X-Forwarded-For chains (test_forwarded.c over HTTP/1,
 * test_h2xff.c over HTTP/2): random entries (clients' and forgers'
 * addresses with and without ports, IPv6 bracketed or not, trusted proxies
 * of 198.18.1.200/26 and fd00:1::100/122, entries that are no address,
 * empty ones, blanks around them) and the client a chain names. The
 * datapath walks from the right; this walks each entry in turn from the
 * left: the last that is not a trusted proxy decides, an entry that is no
 * address after it leaves the request to the connection, the left-most
 * address if all are trusted.
 */
#ifndef PS_TEST_XFF_MODEL_H
#define PS_TEST_XFF_MODEL_H

#include <stdio.h>
#include <stdlib.h>

struct xff_entry {
	char text[64];		/* as written in the field */
	char addr[48];		/* its address as a client's (inet_ntop), "" if none */
	int trusted;
};

/*
 * Entry j of case i (rand()); clients' addresses under 198.19.net.0/24 and
 * up and fd00:net::/32 (net written in decimal), one test's apart from
 * another's.
 */
static inline void xff_model_entry(struct xff_entry *e, unsigned int i, unsigned int j,
				   unsigned int net)
{
	static const char *bl[] = { "", " ", "  ", "\t" };
	const char *b1 = bl[rand() % 4], *b2 = bl[rand() % 4];
	unsigned int kind = rand() % 9, u = (i * 8 + j) % 250 + 1;

	e->addr[0] = 0;
	e->trusted = 0;
	switch (kind) {
	case 0: case 1:	/* a client's or forger's IPv4 address */
		snprintf(e->addr, sizeof(e->addr), "198.19.%u.%u", net + (i * 8 + j) / 250, u);
		snprintf(e->text, sizeof(e->text), "%s%s%s", b1, e->addr, b2);
		break;
	case 2:		/* ... with a port */
		snprintf(e->addr, sizeof(e->addr), "198.19.%u.%u", net + (i * 8 + j) / 250, u);
		snprintf(e->text, sizeof(e->text), "%s%s:%u%s", b1, e->addr, 1024 + u, b2);
		break;
	case 3:		/* an IPv6 client, bracketed with a port or not */
		snprintf(e->addr, sizeof(e->addr), "fd00:%u::%x:%x", net, i + 1, j + 1);
		if (rand() % 2)
			snprintf(e->text, sizeof(e->text), "%s[%s]:443%s", b1, e->addr, b2);
		else
			snprintf(e->text, sizeof(e->text), "%s%s%s", b1, e->addr, b2);
		break;
	case 4: case 5:	/* a trusted proxy */
		snprintf(e->addr, sizeof(e->addr), "198.18.1.%u", 200 + rand() % 50);
		snprintf(e->text, sizeof(e->text), "%s%s%s", b1, e->addr, b2);
		e->trusted = 1;
		break;
	case 6:		/* ... IPv6 */
		snprintf(e->addr, sizeof(e->addr), "fd00:1::%x", 0x100 + rand() % 50);
		snprintf(e->text, sizeof(e->text), "%s%s%s", b1, e->addr, b2);
		e->trusted = 1;
		break;
	case 7:		/* no address */
		snprintf(e->text, sizeof(e->text), "%s%s%s", b1,
			 rand() % 2 ? "unknown" : "198.19.1", b2);
		break;
	default:	/* empty */
		snprintf(e->text, sizeof(e->text), "%s", b1);
		break;
	}
}

/*
 * The client of nl fields (field l's ne[l] entries at ent + l * stride)
 * from peer, by the rule from the left.
 */
static inline const char *xff_model_client(const struct xff_entry *ent, unsigned int stride,
					   const unsigned int *ne, unsigned int nl,
					   const char *peer)
{
	const char *want = NULL, *left = NULL;
	unsigned int l, j;
	int bad = 0;

	for (l = 0; l < nl; l++)
		for (j = 0; j < ne[l]; j++) {
			const struct xff_entry *e = &ent[l * stride + j];
			char t[64];

			if (sscanf(e->text, "%63s", t) != 1)
				continue;	/* empty */
			if (!e->addr[0]) {
				bad = 1;
				continue;
			}
			if (!left)
				left = e->addr;
			if (!e->trusted) {
				want = e->addr;
				bad = 0;
			}
		}
	if (bad || (!want && !left))
		return peer;
	return want ? want : left;
}

#endif
