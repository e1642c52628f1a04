/* A growable byte buffer, shared by the addon's C files. */
#ifndef IMGKIT_BUF_H
#define IMGKIT_BUF_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* `len` bytes used of `cap` malloc'd at `p` (all zero: empty). */
typedef struct {
  uint8_t *p;
  size_t len, cap;
} buf_t;

/* Appends `n` bytes, doubling the room as needed: 1, or 0 when memory runs out (the buffer is as it was). */
static inline int buf_put(buf_t *b, const void *data, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    uint8_t *q = realloc(b->p, cap);
    if (!q) return 0;
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
  return 1;
}

#endif
