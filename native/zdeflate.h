/* zdeflate: zlib's lazy deflate (levels 4–9, windowBits 15, memLevel 8; the default, filtered and fixed
 * strategies), the same bytes. */
#ifndef IMGKIT_ZDEFLATE_H
#define IMGKIT_ZDEFLATE_H
#include <stddef.h>
#include <stdint.h>

typedef struct zd_state zd_state;

zd_state *zd_new(void);
void zd_free(zd_state *s);
/* zlib's strategy numbers that zd_deflate takes */
#define ZD_DEFAULT 0
#define ZD_FILTERED 1
#define ZD_FIXED 4

/* One zlib stream of in[0..n) into out[0..cap): its length, or 0 when it does not fit (or the level
 * is not 4–9, or the strategy not one of the above). fast = 0 searches matches as zlib does, entry
 * by entry (for tests). */
size_t zd_deflate(zd_state *s, const uint8_t *in, size_t n, int level, int strategy, int fast, uint8_t *out, size_t cap);

#endif
