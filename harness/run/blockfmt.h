/*
 * The verifiable block: every block iolens writes starts with a header that
 * names its own offset and carries a checksum of the offset, a stamp and the
 * rest of the block, so a read can tell a correct block from a stale,
 * misplaced or torn one without knowing what was written last.
 */
#ifndef IOLENS_BLOCKFMT_H
#define IOLENS_BLOCKFMT_H

#include <stdint.h>

#define IOLENS_BLOCK_MIN 512u /* smallest block that holds a header */

/* Fill bs bytes at buf with the block for `offset`, contents seeded by stamp. */
void iolens__block_fill(void *buf, uint32_t bs, uint64_t offset, uint64_t stamp);

/*
 * 0 if buf holds a well-formed block for `offset`; otherwise a short
 * description of what is wrong in *what and -ENODATA when the block has no
 * header at all (data iolens never wrote, or a block torn at its start),
 * -EILSEQ for a block of iolens's that is wrong (misplaced, corrupt).
 */
int iolens__block_check(const void *buf, uint32_t bs, uint64_t offset, const char **what);

#endif
