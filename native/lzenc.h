/* imgkit's own LZMA1 encoder (lzenc.c): an .lzma (LZMA-alone) stream of a whole input in memory,
 * with the binary-tree match finder on a thread of its own while this thread chooses and codes. */
#ifndef IMGKIT_LZENC_H
#define IMGKIT_LZENC_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t dict_size; /* 4 KiB .. 1.5 GiB */
  int lc, lp, pb;     /* lc + lp <= 4, pb <= 4 */
  int nice_len;       /* 8 .. 273 */
  int depth;          /* match finder's cut value; 0: 16 + nice_len / 2 */
  int size_in_header; /* the real size in the header (else "unknown", 2^64 - 1) */
  int end_marker;     /* the end marker after the data (needed when the size is unknown) */
  int threads;        /* 1: the match finder runs inline; 2: on its own thread (same bytes) */
} lzenc_options;

/* The stream, header included, in a malloc'd buffer (*out_len bytes); NULL with *error set (static text). */
uint8_t *lzenc_alone(const uint8_t *in, size_t n, const lzenc_options *o, size_t *out_len, const char **error);

/* An .lzma header: the properties byte, the dictionary size rounded up as liblzma's alone encoder
 * writes it (the next 2^k or 2^k + 2^(k-1)), and `size` (UINT64_MAX: unknown); little-endian. */
void lzenc_header(uint8_t h[13], uint32_t dict_size, int lc, int lp, int pb, uint64_t size);

#endif
