/*
 * zdeflate: zlib's lazy deflate (levels 4–9, 32 KiB window, memLevel 8; default, filtered and fixed
 * strategies) written
 * anew so that it gives zlib 1.2.x's bytes exactly, with a faster match search.
 *
 * Why the bytes can be the same: every choice zlib makes is a function of the input. The window is
 * refilled and slid at the same points, the same hash chains are built (a 15-bit hash of three
 * bytes), the same lazy-evaluation rules pick matches, blocks end after the same 16,383 symbols, and
 * the Huffman trees are built with the same heap, the same tie-breaking on depth and the same
 * repair of lengths over 15 bits, so the same block types and codes follow.
 *
 * What is faster: zlib's longest_match walks its chain (up to 4,096 entries at level 9), and most
 * entries are hash collisions or strings that cannot beat the best match so far. Once the best is L
 * bytes, only entries sharing L + 1 bytes can, so the search follows chains of positions keyed on
 * a hash of 4, 6, 8, 16 or 32 bytes (the longest no longer than L + 1). An entry's rank in zlib's
 * chain (a counter per hash bucket) says whether zlib's walk, max_chain entries long, reaches it.
 * Where zlib compares bytes past the input's end (the last MIN_LOOKAHEAD positions), and for short
 * input, the search walks zlib's own chain as zlib does.
 *
 * Each stream starts as after deflateInit2: the window's bytes past short input read as zeros (a
 * deflateReset stream would read the previous stream's bytes there).
 */
#include "zdeflate.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WBITS 15
#define WSIZE (1u << WBITS)
#define WMASK (WSIZE - 1)
#define WINSIZE (2 * WSIZE)
#define HBITS 15 /* memLevel 8 + 7 */
#define HSIZE (1u << HBITS)
#define HMASK (HSIZE - 1)
#define H4BITS 15
#define H4SIZE (1u << H4BITS)
#define MIN_MATCH 3
#define MAX_MATCH 258
#define MIN_LOOKAHEAD (MAX_MATCH + MIN_MATCH + 1)
#define MAX_DIST (WSIZE - MIN_LOOKAHEAD)
#define TOO_FAR 4096
#define LIT_BUFSIZE (1u << 14) /* memLevel 8 + 6 */
#define SYM_END ((LIT_BUFSIZE - 1) * 3)
#define L_CODES 286
#define D_CODES 30
#define BL_CODES 19
#define HEAP_SIZE (2 * L_CODES + 1)
#define MAX_BITS 15
#define END_BLOCK 256
#define SLACK 64
#define FAST_MIN 8192 /* the least input for which the longer chains pay for their clearing */
#define MAX_IDLE 256 /* collisions a search passes before it walks zlib's chain instead */
#define LEVELS 5 /* chains of longer strings (KLEN) */

/* One Huffman tree: per node (leaves, then inner nodes) its frequency, parent, bit length and code. */
typedef struct {
  uint16_t freq[HEAP_SIZE], code[HEAP_SIZE], dad[HEAP_SIZE], len[HEAP_SIZE];
  int max_code;
} tree_t;

struct zd_state {
  uint8_t window[WINSIZE + SLACK];
  uint16_t prev[WSIZE], head[HSIZE];
  uint16_t lprev[LEVELS][WSIZE], lhead[LEVELS][H4SIZE]; /* chains by a hash of KLEN bytes */
  uint16_t rank[WSIZE], count[HSIZE];
  const uint8_t *in; /* the whole input, and the input offset of window[0] */
  size_t in_len, base;
  uint8_t sym[SYM_END + 3];
  /* stream */
  const uint8_t *next_in;
  size_t avail_in;
  uint32_t strstart, lookahead, match_start, prev_match, match_length, prev_length, match_available;
  long block_start;
  int fast; /* the longer chains are kept and searched */
  int strategy;
  unsigned sym_next;
  /* config */
  unsigned good, lazy, nice, chain;
  /* trees */
  tree_t lt, dt, bt;
  int heap[HEAP_SIZE], heap_len, heap_max;
  uint8_t depth[HEAP_SIZE];
  uint16_t bl_count[MAX_BITS + 1];
  unsigned long opt_len, static_len;
  /* output */
  uint8_t *out;
  size_t out_len, cap;
  uint64_t bits;
  unsigned nbits;
  int overflow;
};

/* ---- constant tables (RFC 1951 §3.2.5) ---- */

static const uint8_t extra_lbits[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint8_t extra_dbits[D_CODES] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const uint8_t extra_blbits[BL_CODES] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7};
static const uint8_t bl_order[BL_CODES] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

static uint8_t length_code[256]; /* match length - 3 → length code 0..28 */
static uint16_t base_length[29];
static uint8_t dist_code[512]; /* as zlib's _dist_code: distances < 256, then (distance >> 7) */
static uint16_t base_dist[D_CODES];
static uint16_t static_lcode[L_CODES + 2], static_dcode[D_CODES];
static uint8_t static_llen[L_CODES + 2];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static unsigned reverse(unsigned code, int len) {
  unsigned r = 0;
  do { r |= code & 1; code >>= 1; r <<= 1; } while (--len > 0);
  return r >> 1;
}

/* Canonical codes for lengths len[0..max_code] (RFC 1951 §3.2.2), bit-reversed for LSB-first output. */
static void make_codes(const uint16_t *len_or_null, const uint8_t *len8, int max_code, const uint16_t *bl_count, uint16_t *code) {
  uint16_t next[MAX_BITS + 1];
  unsigned c = 0;
  for (int b = 1; b <= MAX_BITS; b++) next[b] = (uint16_t)(c = (c + bl_count[b - 1]) << 1);
  for (int n = 0; n <= max_code; n++) {
    int l = len_or_null ? len_or_null[n] : len8[n];
    if (l) code[n] = (uint16_t)reverse(next[l]++, l);
  }
}

static void init_tables(void) {
  unsigned length = 0;
  for (int c = 0; c < 28; c++) {
    base_length[c] = (uint16_t)length;
    for (unsigned n = 0; n < (1u << extra_lbits[c]); n++) length_code[length++] = (uint8_t)c;
  }
  /* 258 (length - 3 = 255) has a code of its own; the loop above gave 255 to code 27 */
  length_code[255] = 28;
  base_length[28] = 255;
  unsigned dist = 0;
  for (int c = 0; c < 16; c++) {
    base_dist[c] = (uint16_t)dist;
    for (unsigned n = 0; n < (1u << extra_dbits[c]); n++) dist_code[dist++] = (uint8_t)c;
  }
  dist >>= 7;
  for (int c = 16; c < D_CODES; c++) {
    base_dist[c] = (uint16_t)(dist << 7);
    for (unsigned n = 0; n < (1u << (extra_dbits[c] - 7)); n++) dist_code[256 + dist++] = (uint8_t)c;
  }
  uint16_t count[MAX_BITS + 1] = {0};
  for (int n = 0; n <= L_CODES + 1; n++) {
    static_llen[n] = n < 144 ? 8 : n < 256 ? 9 : n < 280 ? 7 : 8;
    count[static_llen[n]]++;
  }
  make_codes(NULL, static_llen, L_CODES + 1, count, static_lcode);
  for (int n = 0; n < D_CODES; n++) static_dcode[n] = (uint16_t)reverse((unsigned)n, 5);
}

static inline unsigned d_code(unsigned dist) { return dist < 256 ? dist_code[dist] : dist_code[256 + (dist >> 7)]; }

/* ---- bit output ---- */

static inline void put_byte(zd_state *s, uint8_t b) {
  if (s->out_len < s->cap) s->out[s->out_len] = b;
  else s->overflow = 1;
  s->out_len++;
}

static inline void send_bits(zd_state *s, unsigned value, unsigned length) {
  s->bits |= (uint64_t)value << s->nbits;
  s->nbits += length;
  if (s->nbits >= 32) {
    if (s->out_len + 4 <= s->cap) {
      uint8_t *o = s->out + s->out_len;
      o[0] = (uint8_t)s->bits, o[1] = (uint8_t)(s->bits >> 8), o[2] = (uint8_t)(s->bits >> 16), o[3] = (uint8_t)(s->bits >> 24);
      s->out_len += 4;
    } else for (int i = 0; i < 4; i++) put_byte(s, (uint8_t)(s->bits >> (8 * i)));
    s->bits >>= 32;
    s->nbits -= 32;
  }
}

/* Flush the bit buffer to a byte boundary (zlib's bi_windup). */
static void windup(zd_state *s) {
  while (s->nbits > 0) {
    put_byte(s, (uint8_t)s->bits);
    s->bits >>= 8;
    s->nbits = s->nbits > 8 ? s->nbits - 8 : 0;
  }
  s->bits = 0;
}

/* ---- Huffman trees, as zlib builds them ---- */

static inline int smaller(const tree_t *t, const uint8_t *depth, int n, int m) {
  return t->freq[n] < t->freq[m] || (t->freq[n] == t->freq[m] && depth[n] <= depth[m]);
}

static void sift_down(zd_state *s, const tree_t *t, int k) {
  int v = s->heap[k], j = k << 1;
  while (j <= s->heap_len) {
    if (j < s->heap_len && smaller(t, s->depth, s->heap[j + 1], s->heap[j])) j++;
    if (smaller(t, s->depth, v, s->heap[j])) break;
    s->heap[k] = s->heap[j];
    k = j;
    j <<= 1;
  }
  s->heap[k] = v;
}

/* Bit lengths from the tree in heap[heap_max..], limited to max_length with zlib's repair; adds the
 * block's cost to opt_len (and static_len when slen is given). */
static void bit_lengths(zd_state *s, tree_t *t, const uint8_t *slen, const uint8_t *extra, int base, int max_length) {
  int h, overflow = 0;
  for (int b = 0; b <= MAX_BITS; b++) s->bl_count[b] = 0;
  t->len[s->heap[s->heap_max]] = 0;
  for (h = s->heap_max + 1; h < HEAP_SIZE; h++) {
    int n = s->heap[h];
    int bits = t->len[t->dad[n]] + 1;
    if (bits > max_length) bits = max_length, overflow++;
    t->len[n] = (uint16_t)bits;
    if (n > t->max_code) continue;
    s->bl_count[bits]++;
    int xbits = n >= base ? extra[n - base] : 0;
    unsigned f = t->freq[n];
    s->opt_len += (unsigned long)f * (unsigned)(bits + xbits);
    if (slen) s->static_len += (unsigned long)f * (unsigned)(slen[n] + xbits);
  }
  if (!overflow) return;
  do {
    int bits = max_length - 1;
    while (s->bl_count[bits] == 0) bits--;
    s->bl_count[bits]--;
    s->bl_count[bits + 1] += 2;
    s->bl_count[max_length]--;
    overflow -= 2;
  } while (overflow > 0);
  for (int bits = max_length; bits != 0; bits--) {
    int n = s->bl_count[bits];
    while (n != 0) {
      int m = s->heap[--h];
      if (m > t->max_code) continue;
      if (t->len[m] != (unsigned)bits) {
        s->opt_len += ((unsigned long)bits - t->len[m]) * t->freq[m];
        t->len[m] = (uint16_t)bits;
      }
      n--;
    }
  }
}

static void build_tree(zd_state *s, tree_t *t, int elems, const uint8_t *slen, const uint8_t *extra, int base, int max_length) {
  int n, m, node, max_code = -1;
  s->heap_len = 0, s->heap_max = HEAP_SIZE;
  for (n = 0; n < elems; n++) {
    if (t->freq[n]) s->heap[++s->heap_len] = max_code = n, s->depth[n] = 0;
    else t->len[n] = 0;
  }
  while (s->heap_len < 2) {
    node = s->heap[++s->heap_len] = max_code < 2 ? ++max_code : 0;
    t->freq[node] = 1;
    s->depth[node] = 0;
    s->opt_len--;
    if (slen) s->static_len -= slen[node];
  }
  t->max_code = max_code;
  for (n = s->heap_len / 2; n >= 1; n--) sift_down(s, t, n);
  node = elems;
  do {
    n = s->heap[1];
    s->heap[1] = s->heap[s->heap_len--];
    sift_down(s, t, 1);
    m = s->heap[1];
    s->heap[--s->heap_max] = n;
    s->heap[--s->heap_max] = m;
    t->freq[node] = (uint16_t)(t->freq[n] + t->freq[m]);
    s->depth[node] = (uint8_t)((s->depth[n] >= s->depth[m] ? s->depth[n] : s->depth[m]) + 1);
    t->dad[n] = t->dad[m] = (uint16_t)node;
    s->heap[1] = node++;
    sift_down(s, t, 1);
  } while (s->heap_len >= 2);
  s->heap[--s->heap_max] = s->heap[1];
  bit_lengths(s, t, slen, extra, base, max_length);
  make_codes(t->len, NULL, max_code, s->bl_count, t->code);
}

/* Run-length codes of a tree's lengths: counted into the bit-length tree (send = 0) or sent. */
static void run_lengths(zd_state *s, tree_t *t, int max_code, int send) {
  int prevlen = -1, curlen, nextlen = t->len[0], count = 0, max_count = 7, min_count = 4;
  tree_t *bt = &s->bt;
  if (nextlen == 0) max_count = 138, min_count = 3;
  t->len[max_code + 1] = 0xffff; /* guard */
  for (int n = 0; n <= max_code; n++) {
    curlen = nextlen;
    nextlen = t->len[n + 1];
    if (++count < max_count && curlen == nextlen) continue;
    if (count < min_count) {
      if (!send) bt->freq[curlen] = (uint16_t)(bt->freq[curlen] + count);
      else do send_bits(s, bt->code[curlen], bt->len[curlen]); while (--count != 0);
    } else if (curlen != 0) {
      if (curlen != prevlen) {
        if (!send) bt->freq[curlen]++;
        else send_bits(s, bt->code[curlen], bt->len[curlen]), count--;
      }
      if (!send) bt->freq[16]++;
      else send_bits(s, bt->code[16], bt->len[16]), send_bits(s, (unsigned)count - 3, 2);
    } else if (count <= 10) {
      if (!send) bt->freq[17]++;
      else send_bits(s, bt->code[17], bt->len[17]), send_bits(s, (unsigned)count - 3, 3);
    } else {
      if (!send) bt->freq[18]++;
      else send_bits(s, bt->code[18], bt->len[18]), send_bits(s, (unsigned)count - 11, 7);
    }
    count = 0;
    prevlen = curlen;
    if (nextlen == 0) max_count = 138, min_count = 3;
    else if (curlen == nextlen) max_count = 6, min_count = 3;
    else max_count = 7, min_count = 4;
  }
}

static void init_block(zd_state *s) {
  memset(s->lt.freq, 0, L_CODES * sizeof s->lt.freq[0]);
  memset(s->dt.freq, 0, D_CODES * sizeof s->dt.freq[0]);
  memset(s->bt.freq, 0, BL_CODES * sizeof s->bt.freq[0]);
  s->lt.freq[END_BLOCK] = 1;
  s->opt_len = s->static_len = 0;
  s->sym_next = 0;
}

static void compress_block(zd_state *s, const uint16_t *lcode, const uint16_t *llen16, const uint8_t *llen8,
                           const uint16_t *dcode, const uint16_t *dlen16) {
  for (unsigned sx = 0; sx < s->sym_next; sx += 3) {
    unsigned dist = s->sym[sx] | (unsigned)s->sym[sx + 1] << 8, lc = s->sym[sx + 2];
    if (dist == 0) {
      send_bits(s, lcode[lc], llen16 ? llen16[lc] : llen8[lc]);
      continue;
    }
    unsigned code = length_code[lc], sym = code + 257;
    send_bits(s, lcode[sym], llen16 ? llen16[sym] : llen8[sym]);
    if (extra_lbits[code]) send_bits(s, lc - base_length[code], extra_lbits[code]);
    dist--;
    code = d_code(dist);
    send_bits(s, dcode[code], dlen16 ? dlen16[code] : 5);
    if (extra_dbits[code]) send_bits(s, dist - base_dist[code], extra_dbits[code]);
  }
  send_bits(s, lcode[END_BLOCK], llen16 ? llen16[END_BLOCK] : llen8[END_BLOCK]);
}

static void flush_block(zd_state *s, const uint8_t *buf, unsigned long stored_len, int last) {
  static const uint8_t static_dlen[D_CODES] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5};
  build_tree(s, &s->lt, L_CODES, static_llen, extra_lbits, 257, MAX_BITS);
  build_tree(s, &s->dt, D_CODES, static_dlen, extra_dbits, 0, MAX_BITS);
  run_lengths(s, &s->lt, s->lt.max_code, 0);
  run_lengths(s, &s->dt, s->dt.max_code, 0);
  build_tree(s, &s->bt, BL_CODES, NULL, extra_blbits, 0, 7);
  int max_blindex;
  for (max_blindex = BL_CODES - 1; max_blindex >= 3; max_blindex--)
    if (s->bt.len[bl_order[max_blindex]] != 0) break;
  s->opt_len += 3 * ((unsigned long)max_blindex + 1) + 5 + 5 + 4;
  unsigned long opt_lenb = (s->opt_len + 3 + 7) >> 3, static_lenb = (s->static_len + 3 + 7) >> 3;
  if (static_lenb <= opt_lenb || s->strategy == ZD_FIXED) opt_lenb = static_lenb;
  if (stored_len + 4 <= opt_lenb && buf) {
    send_bits(s, (unsigned)last, 3);
    windup(s);
    put_byte(s, (uint8_t)stored_len), put_byte(s, (uint8_t)(stored_len >> 8));
    put_byte(s, (uint8_t)~stored_len), put_byte(s, (uint8_t)(~stored_len >> 8));
    /* zlib would write the length's low 16 bits; such a block is left to zlib itself */
    if (s->out_len + stored_len <= s->cap && stored_len <= 0xffff) memcpy(s->out + s->out_len, buf, stored_len);
    else s->overflow = 1;
    s->out_len += stored_len;
  } else if (static_lenb == opt_lenb) {
    send_bits(s, (1u << 1) + (unsigned)last, 3);
    compress_block(s, static_lcode, NULL, static_llen, static_dcode, NULL);
  } else {
    int lcodes = s->lt.max_code + 1, dcodes = s->dt.max_code + 1, blcodes = max_blindex + 1;
    send_bits(s, (2u << 1) + (unsigned)last, 3);
    send_bits(s, (unsigned)lcodes - 257, 5);
    send_bits(s, (unsigned)dcodes - 1, 5);
    send_bits(s, (unsigned)blcodes - 4, 4);
    for (int r = 0; r < blcodes; r++) send_bits(s, s->bt.len[bl_order[r]], 3);
    run_lengths(s, &s->lt, lcodes - 1, 1);
    run_lengths(s, &s->dt, dcodes - 1, 1);
    compress_block(s, s->lt.code, s->lt.len, NULL, s->dt.code, s->dt.len);
  }
  init_block(s);
  if (last) windup(s);
}

/* ---- window, hash chains, match search ---- */

static inline unsigned hash3(const uint8_t *p) { return ((unsigned)p[0] << 10 ^ (unsigned)p[1] << 5 ^ p[2]) & HMASK; }
static inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
/* The string lengths of the longer chains, and their hashes of the KLEN[level] bytes at p. */
static const unsigned KLEN[LEVELS] = {4, 6, 8, 16, 32};
#define MUL0 0x9E3779B97F4A7C15ull
#define MUL1 0xC2B2AE3D27D4EB4Full
#define MUL2 0x165667B19E3779F9ull
#define MUL3 0x27D4EB2F165667C5ull
#define TOP(h) ((unsigned)((h) >> (64 - H4BITS)))

static inline unsigned hash4(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return (v * 2654435761u) >> (32 - H4BITS);
}
static inline void link(zd_state *s, int level, unsigned i, unsigned h, unsigned str) {
  s->lprev[level][i] = s->lhead[level][h];
  s->lhead[level][h] = (uint16_t)str;
}

/* zlib's INSERT_STRING, plus the longer chains and the rank; returns zlib's previous head. */
static inline unsigned insert(zd_state *s, unsigned str) {
  unsigned h = hash3(s->window + str);
  unsigned head = s->head[h];
  s->prev[str & WMASK] = (uint16_t)head;
  s->head[h] = (uint16_t)str;
  /* the longer chains hash the input itself (bytes past the window's fill are not read yet); a
   * position less than 32 bytes from the input's end is never looked for there (match_fast looks
   * only where MIN_LOOKAHEAD bytes follow), so it is left out of them */
  size_t at = s->base + str, left = s->in_len - at;
  const uint8_t *p = s->in + at;
  unsigned i = str & WMASK;
  if (s->fast && left >= 32) {
    s->rank[i] = ++s->count[h];
    uint64_t w = load64(p), h8 = w * MUL0, h16 = h8 + load64(p + 8) * MUL1, h32 = h16 + load64(p + 16) * MUL2 + load64(p + 24) * MUL3;
    link(s, 0, i, hash4(p), str);
    link(s, 1, i, TOP((w << 16) * MUL1), str);
    link(s, 2, i, TOP(h8), str);
    link(s, 3, i, TOP(h16), str);
    link(s, 4, i, TOP(h32), str);
  }
  return head;
}

static void slide(uint16_t *table, unsigned n) {
  for (unsigned i = 0; i < n; i++) table[i] = (uint16_t)(table[i] >= WSIZE ? table[i] - WSIZE : 0);
}

/* zlib's fill_window for a stream whose whole input is at hand. */
static void fill_window(zd_state *s) {
  do {
    unsigned more = WINSIZE - s->lookahead - s->strstart;
    if (s->strstart >= WSIZE + MAX_DIST) {
      memcpy(s->window, s->window + WSIZE, WSIZE - more);
      s->match_start -= WSIZE;
      s->strstart -= WSIZE;
      s->block_start -= (long)WSIZE;
      slide(s->head, HSIZE);
      slide(s->prev, WSIZE);
      for (int l = 0; l < LEVELS; l++) slide(s->lhead[l], H4SIZE), slide(s->lprev[l], WSIZE);
      s->base += WSIZE;
      more += WSIZE;
    }
    if (s->avail_in == 0) break;
    unsigned n = s->avail_in < more ? (unsigned)s->avail_in : more;
    memcpy(s->window + s->strstart + s->lookahead, s->next_in, n);
    s->next_in += n;
    s->avail_in -= n;
    s->lookahead += n;
  } while (s->lookahead < MIN_LOOKAHEAD && s->avail_in != 0);
}

static inline unsigned common(const uint8_t *a, const uint8_t *b, unsigned from) {
  /* length of the common prefix of a and b, at most MAX_MATCH, knowing the first `from` bytes agree */
  unsigned n = from;
  while (n + 8 <= MAX_MATCH) {
    uint64_t x, y;
    memcpy(&x, a + n, 8), memcpy(&y, b + n, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    if (x != y) return n + (unsigned)(__builtin_clzll(x ^ y) >> 3);
#else
    if (x != y) return n + (unsigned)(__builtin_ctzll(x ^ y) >> 3);
#endif
    n += 8;
  }
  while (n < MAX_MATCH && a[n] == b[n]) n++;
  return n;
}

/* zlib's longest_match, walking its chain entry by entry. */
static unsigned match_zlib(zd_state *s, unsigned cur) {
  unsigned chain = s->chain, best = s->prev_length, nice = s->nice;
  const uint8_t *scan = s->window + s->strstart;
  unsigned limit = s->strstart > MAX_DIST ? s->strstart - MAX_DIST : 0;
  if (s->prev_length >= s->good) chain >>= 2;
  if (nice > s->lookahead) nice = s->lookahead;
  do {
    const uint8_t *m = s->window + cur;
    if (m[best] != scan[best] || m[best - 1] != scan[best - 1] || m[0] != scan[0] || m[1] != scan[1]) continue;
    unsigned len = common(scan, m, 3);
    if (len > best) {
      s->match_start = cur;
      best = len;
      if (len >= nice) break;
    }
  } while ((cur = s->prev[cur & WMASK]) > limit && --chain != 0);
  return best <= s->lookahead ? best : s->lookahead;
}

/* The chain to follow once the best length is best: the longest string no longer than best + 1. */
static inline int level_of(unsigned best) {
  int l = 0;
  while (l + 1 < LEVELS && KLEN[l + 1] <= best + 1) l++;
  return l;
}

/* The same result as match_zlib through the longer-string chains, for positions with MIN_LOOKAHEAD
 * bytes ahead (so every byte compared is input, and nice ≤ lookahead). Once the best length is
 * best, only entries sharing best + 1 bytes can win: the walk follows the chain of the longest
 * string (4, 8, 16, 32 bytes) no longer than best, and an entry's rank in zlib's chain says whether
 * zlib's walk (max_chain entries) would have reached it. */
static unsigned match_fast(zd_state *s, unsigned cur) {
  unsigned chain = s->chain, best = s->prev_length, nice = s->nice;
  const uint8_t *scan = s->window + s->strstart;
  unsigned limit = s->strstart > MAX_DIST ? s->strstart - MAX_DIST : 0;
  uint16_t top = s->rank[cur & WMASK];
  const unsigned head = cur;
  if (s->prev_length >= s->good) chain >>= 2;
  unsigned c, from = s->strstart; /* only entries before from are still to be looked at */
  unsigned idle = 0; /* entries passed that zlib's walk does not count: collisions of the longer hashes */
  const unsigned match_start = s->match_start;
  int level;
  if (best < MIN_MATCH) {
    /* the first entry sharing three bytes wins whatever its length: zlib's chain up to it */
    unsigned left = chain;
    for (;;) {
      const uint8_t *m = s->window + cur;
      if (m[0] == scan[0] && m[1] == scan[1] && m[2] == scan[2]) break;
      cur = s->prev[cur & WMASK];
      if (cur <= limit || --left == 0) return best;
    }
    best = common(scan, s->window + cur, 3);
    s->match_start = cur;
    if (best >= nice) return best;
    from = cur;
  }
  /* the chain's head is strstart itself, inserted before the search; entries from `from` on are
   * either looked at already or (sharing more than best bytes, which cannot be) hash collisions */
  level = level_of(best);
  c = s->lprev[level][s->strstart & WMASK];
  /* zlib looks at its chain's head even at exactly MAX_DIST back, and at later entries only nearer */
  if (head == limit) limit--;
  uint32_t key;
  memcpy(&key, scan, 4);
  while (c > limit) {
    const uint8_t *m = s->window + c;
    uint32_t k;
    memcpy(&k, m, 4);
    if (k != key || c >= from) {
      /* input made to collide in the longer chains' hashes: zlib's own walk is bounded */
      if (++idle > MAX_IDLE) {
        s->match_start = match_start;
        return match_zlib(s, head);
      }
    } else {
      /* the same three bytes: an entry of zlib's chain, where rank counts */
      if ((uint16_t)(top - s->rank[c & WMASK]) >= chain) break;
      if (m[best] == scan[best] && m[best - 1] == scan[best - 1]) {
        unsigned len = common(scan, m, 4);
        if (len > best) {
          s->match_start = c;
          best = len;
          if (len >= nice) break;
          int l = level_of(best);
          if (l > level) {
            /* to a chain of longer strings, from its head: the entries before c on it are collisions */
            level = l;
            from = c;
            c = s->strstart;
          }
        }
      }
    }
    c = s->lprev[level][c & WMASK];
  }
  return best;
}

size_t zd_deflate(zd_state *s, const uint8_t *in, size_t n, int level, int strategy, int fast, uint8_t *out, size_t cap) {
  static const struct { uint16_t good, lazy, nice, chain; } cfg[10] = {
    {0}, {0}, {0}, {0}, {4, 4, 16, 16}, {8, 16, 32, 32}, {8, 16, 128, 128}, {8, 32, 128, 256}, {32, 128, 258, 1024}, {32, 258, 258, 4096}};
  if (level < 4 || level > 9 || (strategy != ZD_DEFAULT && strategy != ZD_FILTERED && strategy != ZD_FIXED)) return 0;
  s->strategy = strategy;
  pthread_once(&tables_once, init_tables);
  /* as after deflateInit2: the MAX_MATCH bytes after short input read as zeros (zlib's high-water
   * mark); nothing further past the input is read. The longer chains pay for clearing only on
   * larger input. */
  size_t fill = n < WINSIZE ? n : WINSIZE;
  memset(s->window + fill, 0, sizeof s->window - fill < MAX_MATCH + SLACK ? sizeof s->window - fill : MAX_MATCH + SLACK);
  memset(s->head, 0, sizeof s->head);
  s->fast = fast && n >= FAST_MIN;
  if (s->fast) {
    memset(s->lhead, 0, sizeof s->lhead);
    memset(s->count, 0, sizeof s->count);
  }
  s->good = cfg[level].good, s->lazy = cfg[level].lazy, s->nice = cfg[level].nice, s->chain = cfg[level].chain;
  s->next_in = in, s->avail_in = n;
  s->in = in, s->in_len = n, s->base = 0;
  s->strstart = s->lookahead = s->match_start = s->prev_match = 0;
  s->match_length = s->prev_length = MIN_MATCH - 1;
  s->match_available = 0;
  s->block_start = 0;
  s->out = out, s->cap = cap, s->out_len = 0, s->bits = 0, s->nbits = 0, s->overflow = 0;
  init_block(s);
  /* zlib header: deflate, 32 KiB window, level flags (0 for Z_FIXED and levels < 2, 1 below 6, 2 at 6, 3 above) */
  unsigned header = (8 + ((WBITS - 8) << 4)) << 8 | (strategy == ZD_FIXED ? 0u : level < 6 ? 1u : level == 6 ? 2u : 3u) << 6;
  header += 31 - header % 31;
  put_byte(s, (uint8_t)(header >> 8)), put_byte(s, (uint8_t)header);

  for (;;) {
    if (s->lookahead < MIN_LOOKAHEAD) {
      fill_window(s);
      if (s->lookahead == 0) break;
    }
    unsigned hash_head = 0;
    if (s->lookahead >= MIN_MATCH) hash_head = insert(s, s->strstart);
    s->prev_length = s->match_length, s->prev_match = s->match_start;
    s->match_length = MIN_MATCH - 1;
    if (hash_head != 0 && s->prev_length < s->lazy && s->strstart - hash_head <= MAX_DIST) {
      s->match_length = s->fast && s->lookahead >= MIN_LOOKAHEAD ? match_fast(s, hash_head) : match_zlib(s, hash_head);
      if (s->match_length <= 5 && (s->strategy == ZD_FILTERED || (s->match_length == MIN_MATCH && s->strstart - s->match_start > TOO_FAR)))
        s->match_length = MIN_MATCH - 1;
    }
    if (s->prev_length >= MIN_MATCH && s->match_length <= s->prev_length) {
      unsigned max_insert = s->strstart + s->lookahead - MIN_MATCH;
      unsigned dist = s->strstart - 1 - s->prev_match, len = s->prev_length - MIN_MATCH;
      s->sym[s->sym_next++] = (uint8_t)dist;
      s->sym[s->sym_next++] = (uint8_t)(dist >> 8);
      s->sym[s->sym_next++] = (uint8_t)len;
      s->lt.freq[length_code[len] + 257]++;
      s->dt.freq[d_code(dist - 1)]++;
      int bflush = s->sym_next == SYM_END;
      s->lookahead -= s->prev_length - 1;
      s->prev_length -= 2;
      do {
        if (++s->strstart <= max_insert) insert(s, s->strstart);
      } while (--s->prev_length != 0);
      s->match_available = 0;
      s->match_length = MIN_MATCH - 1;
      s->strstart++;
      if (bflush) {
        flush_block(s, s->block_start >= 0 ? s->window + s->block_start : NULL, (unsigned long)((long)s->strstart - s->block_start), 0);
        s->block_start = s->strstart;
      }
    } else if (s->match_available) {
      uint8_t c = s->window[s->strstart - 1];
      s->sym[s->sym_next++] = 0, s->sym[s->sym_next++] = 0, s->sym[s->sym_next++] = c;
      s->lt.freq[c]++;
      if (s->sym_next == SYM_END) {
        flush_block(s, s->block_start >= 0 ? s->window + s->block_start : NULL, (unsigned long)((long)s->strstart - s->block_start), 0);
        s->block_start = s->strstart;
      }
      s->strstart++;
      s->lookahead--;
    } else {
      s->match_available = 1;
      s->strstart++;
      s->lookahead--;
    }
    if (s->overflow) return 0;
  }
  if (s->match_available) {
    uint8_t c = s->window[s->strstart - 1];
    s->sym[s->sym_next++] = 0, s->sym[s->sym_next++] = 0, s->sym[s->sym_next++] = c;
    s->lt.freq[c]++;
    s->match_available = 0;
  }
  flush_block(s, s->block_start >= 0 ? s->window + s->block_start : NULL, (unsigned long)((long)s->strstart - s->block_start), 1);
  /* adler-32 of the input, most significant byte first */
  uint32_t a = 1, b = 0;
  for (size_t i = 0; i < n;) {
    size_t k = n - i < 5552 ? n - i : 5552;
    for (size_t e = i + k; i < e; i++) a += in[i], b += a;
    a %= 65521, b %= 65521;
  }
  uint32_t adler = b << 16 | a;
  for (int i = 3; i >= 0; i--) put_byte(s, (uint8_t)(adler >> (8 * i)));
  return s->overflow ? 0 : s->out_len;
}

zd_state *zd_new(void) { return calloc(1, sizeof(zd_state)); }
void zd_free(zd_state *s) { free(s); }
