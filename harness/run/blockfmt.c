#include <errno.h>
#include <string.h>

#include "blockfmt.h"

#define BLOCK_MAGIC 0x4b4c42534e454c4fULL /* "OLENSBLK" little-endian */

struct block_header {
	uint64_t magic;
	uint64_t offset;
	uint64_t stamp;
	uint64_t sum;
};

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t checksum(const struct block_header *h, const unsigned char *payload, size_t len)
{
	uint64_t acc = mix64(h->offset ^ 0x9e3779b97f4a7c15ULL) ^ mix64(h->stamp);
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, payload + i, 8);
		acc = (acc ^ w) * 0x100000001b3ULL;
		acc ^= acc >> 29;
	}
	for (; i < len; i++)
		acc = (acc ^ payload[i]) * 0x100000001b3ULL;
	return mix64(acc);
}

void iolens__block_fill(void *buf, uint32_t bs, uint64_t offset, uint64_t stamp)
{
	struct block_header h = { BLOCK_MAGIC, offset, stamp, 0 };
	unsigned char *payload = (unsigned char *)buf + sizeof(h);
	size_t len = bs - sizeof(h);
	uint64_t state = offset * 0x9e3779b97f4a7c15ULL + stamp;

	for (size_t i = 0; i < len; i += 8) {
		uint64_t w;

		state += 0x9e3779b97f4a7c15ULL;
		w = mix64(state);
		memcpy(payload + i, &w, len - i < 8 ? len - i : 8);
	}
	h.sum = checksum(&h, payload, len);
	memcpy(buf, &h, sizeof(h));
}

int iolens__block_check(const void *buf, uint32_t bs, uint64_t offset, const char **what)
{
	struct block_header h;
	const unsigned char *payload = (const unsigned char *)buf + sizeof(h);

	memcpy(&h, buf, sizeof(h));
	if (h.magic != BLOCK_MAGIC) {
		*what = "no block header (not written by iolens, or torn)";
		return -ENODATA;
	}
	if (h.offset != offset) {
		*what = "header names another offset (misplaced block)";
		return -EILSEQ;
	}
	if (h.sum != checksum(&h, payload, bs - sizeof(h))) {
		*what = "checksum mismatch (corrupt contents)";
		return -EILSEQ;
	}
	return 0;
}
