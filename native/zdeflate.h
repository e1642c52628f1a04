/* zdeflate: zlib's lazy deflate (levels 4–9, windowBits 15, memLevel 8, default strategy), the same bytes. */
#ifndef IMGKIT_ZDEFLATE_H
#define IMGKIT_ZDEFLATE_H
#include <stddef.h>
#include <stdint.h>

typedef struct zd_state zd_state;

zd_state *zd_new(void);
void zd_free(zd_state *s);
/* One zlib stream of in[0..n) into out[0..cap): its length, or 0 when it does not fit (or level is
 * not 4–9). fast = 0 searches matches as zlib does, entry by entry (for tests). */
size_t zd_deflate(zd_state *s, const uint8_t *in, size_t n, int level, int fast, uint8_t *out, size_t cap);

#endif
