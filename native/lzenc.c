/*
 * imgkit's own LZMA1 encoder: an .lzma (LZMA-alone) stream of a whole input in memory.
 *
 * Two stages, as 7-Zip's multi-threaded LZMA encoder splits them:
 *  - the match finder (a binary tree over 4-byte hashes, with 2- and 3-byte hash heads) walks every
 *    position in order and lists its matches, longest last, into blocks of 64 Ki positions;
 *  - the coder reads those lists, chooses literals, matches and repeated matches by price (a forward
 *    search over up to 4 Ki positions, from the range coder's own probabilities), and codes them.
 * With two threads the match finder runs on its own thread, a few blocks ahead; with one it fills
 * a block when the coder asks for it. It lists matches for every position either way, so the
 * stream is the same bytes whatever the thread count.
 */
#include "lzenc.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef uint16_t prob_t;

enum {
  PROB_INIT = 1024,     /* probabilities are 11-bit, starting at one half */
  MOVE_BITS = 5,
  STATES = 12,
  LIT_STATES = 7,       /* states below this follow a literal */
  POS_STATES_MAX = 16,
  LEN_MIN = 2,
  LEN_MAX = 273,
  LEN_SYMBOLS = 8 + 8 + 256,
  DIST_STATES = 4,
  DIST_SLOTS = 64,
  DIST_MODEL_START = 4,
  DIST_MODEL_END = 14,
  FULL_DISTANCES = 128,
  ALIGN_SIZE = 16,
  OPTS = 4096,          /* positions one search looks ahead, at most */
  BLOCK_BITS = 16,
  BLOCK = 1 << BLOCK_BITS,
  SLOTS = 4,            /* blocks in flight between the two stages */
};
#define INFINITE_PRICE 0x3fffffffu
#define LITERAL 0xffffffffu /* opt_t.back of a literal; 0..3 a repeated match, 4 + distance a match */

/* ---------------------------------------------------------------- prices */

/* Price in 1/16 bit of coding a bit of probability (i * 16 + 8) / 2048: 16 * -log2 of it, in
 * integers (squaring the mantissa for each fraction bit), so every machine gets the same table. */
static uint32_t bit_prices[128];

static void init_prices(void) {
  for (uint32_t i = 0; i < 128; i++) {
    uint32_t v = i * 16 + 8, e = 31 - (uint32_t)__builtin_clz(v), frac = 0;
    uint64_t m = ((uint64_t)v << 16) >> e; /* 1.16 fixed point, in [1, 2) */
    for (int k = 0; k < 4; k++) {
      m = (m * m) >> 16;
      frac <<= 1;
      if (m >= (2u << 16)) { m >>= 1; frac |= 1; }
    }
    bit_prices[i] = 11 * 16 - (e * 16 + frac);
  }
}

static inline uint32_t price_bit(prob_t p, uint32_t bit) { return bit_prices[(bit ? 2048 - p : p) >> 4]; }

static uint32_t price_tree(const prob_t *probs, int bits, uint32_t sym) {
  uint32_t price = 0, m = 1;
  for (int i = bits - 1; i >= 0; i--) {
    uint32_t b = (sym >> i) & 1;
    price += price_bit(probs[m], b);
    m = (m << 1) | b;
  }
  return price;
}

static uint32_t price_tree_reverse(const prob_t *probs, int bits, uint32_t sym) {
  uint32_t price = 0, m = 1;
  for (int i = 0; i < bits; i++) {
    uint32_t b = sym & 1;
    sym >>= 1;
    price += price_bit(probs[m], b);
    m = (m << 1) | b;
  }
  return price;
}

/* ---------------------------------------------------------------- range coder */

typedef struct {
  uint64_t low;
  uint32_t range;
  uint8_t cache;
  uint64_t pending; /* bytes held back for a carry: the cache, then 0xff bytes */
  uint8_t *buf;
  size_t len, cap;
  int oom;
} rc_t;

static void rc_put(rc_t *rc, uint8_t b) {
  if (rc->len == rc->cap) {
    size_t cap = rc->cap * 2;
    uint8_t *more = rc->oom ? NULL : realloc(rc->buf, cap);
    if (!more) { rc->oom = 1; rc->len = 0; return; }
    rc->buf = more;
    rc->cap = cap;
  }
  rc->buf[rc->len++] = b;
}

static void rc_shift(rc_t *rc) {
  if ((uint32_t)rc->low < 0xff000000u || (rc->low >> 32) != 0) {
    uint8_t carry = (uint8_t)(rc->low >> 32), b = rc->cache;
    for (; rc->pending; rc->pending--, b = 0xff) rc_put(rc, (uint8_t)(b + carry));
    rc->cache = (uint8_t)(rc->low >> 24);
  }
  rc->pending++;
  rc->low = (rc->low & 0x00ffffffu) << 8;
}

static inline void rc_bit(rc_t *rc, prob_t *p, uint32_t bit) {
  uint32_t bound = (rc->range >> 11) * *p;
  if (bit) {
    rc->low += bound;
    rc->range -= bound;
    *p -= *p >> MOVE_BITS;
  } else {
    rc->range = bound;
    *p += (2048 - *p) >> MOVE_BITS;
  }
  while (rc->range < (1u << 24)) { rc->range <<= 8; rc_shift(rc); }
}

static void rc_direct(rc_t *rc, uint32_t v, int bits) {
  while (bits--) {
    rc->range >>= 1;
    if ((v >> bits) & 1) rc->low += rc->range;
    while (rc->range < (1u << 24)) { rc->range <<= 8; rc_shift(rc); }
  }
}

static void rc_tree(rc_t *rc, prob_t *probs, int bits, uint32_t sym) {
  uint32_t m = 1;
  for (int i = bits - 1; i >= 0; i--) {
    uint32_t b = (sym >> i) & 1;
    rc_bit(rc, &probs[m], b);
    m = (m << 1) | b;
  }
}

static void rc_tree_reverse(rc_t *rc, prob_t *probs, int bits, uint32_t sym) {
  uint32_t m = 1;
  for (int i = 0; i < bits; i++) {
    uint32_t b = sym & 1;
    sym >>= 1;
    rc_bit(rc, &probs[m], b);
    m = (m << 1) | b;
  }
}

/* ---------------------------------------------------------------- match finder */

typedef struct {
  uint32_t *offs; /* BLOCK + 1: where each position's (length, distance) pairs start in data */
  uint32_t *data;
  size_t cap;
} mblock_t;

typedef struct {
  const uint8_t *buf;
  uint32_t n, nice, depth, cyclic, hmask, cpos;
  uint32_t *hash; /* 2-byte heads (1 Ki), 3-byte heads (64 Ki), 4-byte heads (hmask + 1); position + 1, 0 none */
  uint32_t *son;  /* per position of the window: its two subtrees */
  uint32_t crc[256];
  mblock_t blocks[SLOTS];
  uint32_t nblocks;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  uint32_t produced, consumed;
  int failed, stop;
} mf_t;

/* Walks (and rebuilds) the tree at `pos` from its newest candidate `cm` (position + 1). With `out`,
 * lists matches longer than `best` into it and returns the end of the list. */
static uint32_t *mf_walk(mf_t *m, uint32_t pos, uint32_t cm, uint32_t lim, uint32_t best, uint32_t *out) {
  const uint8_t *cur = m->buf + pos;
  uint32_t me = pos + 1, cp = m->cpos, depth = m->depth;
  uint32_t *left = m->son + 2 * (size_t)cp + 1, *right = m->son + 2 * (size_t)cp;
  uint32_t len_left = 0, len_right = 0;
  for (;;) {
    uint32_t delta = me - cm;
    if (cm == 0 || depth-- == 0 || delta >= m->cyclic) {
      *left = *right = 0;
      return out;
    }
    uint32_t *pair = m->son + 2 * (size_t)(cp - delta + (delta > cp ? m->cyclic : 0));
    const uint8_t *pb = cur - delta;
    uint32_t len = len_left < len_right ? len_left : len_right;
    if (pb[len] == cur[len]) {
      while (++len != lim && pb[len] == cur[len]) {}
      if (out && len > best) {
        best = len;
        *out++ = len;
        *out++ = delta - 1;
      }
      if (len == lim) { /* as long as it may be: this candidate's subtrees become ours */
        *right = pair[0];
        *left = pair[1];
        return out;
      }
    }
    if (pb[len] < cur[len]) {
      *right = cm;
      right = pair + 1;
      cm = *right;
      len_right = len;
    } else {
      *left = cm;
      left = pair;
      cm = *left;
      len_left = len;
    }
  }
}

/* The matches at `pos` as (length, distance - 1) pairs, longest last; returns how many u32s. */
static uint32_t mf_find(mf_t *m, uint32_t pos, uint32_t *out) {
  uint32_t avail = m->n - pos;
  if (avail < 4) return 0; /* too short to hash: nothing listed, nothing inserted */
  uint32_t lim = avail < m->nice ? avail : m->nice;
  const uint8_t *cur = m->buf + pos;
  uint32_t t = m->crc[cur[0]] ^ cur[1];
  uint32_t h2 = t & 1023;
  t ^= (uint32_t)cur[2] << 8;
  uint32_t h3 = t & 0xffff;
  uint32_t h4 = (t ^ (m->crc[cur[3]] << 5)) & m->hmask;
  uint32_t *H2 = m->hash, *H3 = H2 + 1024, *H4 = H3 + 65536;
  uint32_t me = pos + 1, c2 = H2[h2], c3 = H3[h3], cm = H4[h4];
  H2[h2] = H3[h3] = H4[h4] = me;
  uint32_t d2 = me - c2, d3 = me - c3, best = 0, *o = out, dist = 0;
  /* a head whose first byte matches holds the whole 2 (3) bytes: the hash keeps the rest apart */
  if (c2 && d2 < m->cyclic && cur[-(ptrdiff_t)d2] == cur[0]) {
    best = 2;
    dist = d2;
    *o++ = 2;
    *o++ = d2 - 1;
  }
  if (c3 && d3 != d2 && d3 < m->cyclic && cur[-(ptrdiff_t)d3] == cur[0]) {
    best = 3;
    dist = d3;
    *o++ = 3;
    *o++ = d3 - 1;
  }
  if (best) {
    while (best != lim && cur[(ptrdiff_t)best - dist] == cur[best]) best++;
    o[-2] = best;
    if (best == lim) {
      mf_walk(m, pos, cm, lim, best, NULL);
      return (uint32_t)(o - out);
    }
  }
  if (best < 3) best = 3;
  return (uint32_t)(mf_walk(m, pos, cm, lim, best, o) - out);
}

/* Lists block k's positions; 0 when out of memory. */
static int mf_block(mf_t *m, uint32_t k) {
  mblock_t *b = &m->blocks[k % SLOTS];
  uint32_t start = k << BLOCK_BITS, end = m->n - start > BLOCK ? start + BLOCK : m->n;
  size_t len = 0, worst = 2 * ((size_t)m->nice + 4);
  for (uint32_t pos = start; pos < end; pos++) {
    if (len + worst > b->cap) {
      uint32_t *more = realloc(b->data, 2 * b->cap * sizeof *more);
      if (!more) return 0;
      b->data = more;
      b->cap *= 2;
    }
    b->offs[pos - start] = (uint32_t)len;
    len += mf_find(m, pos, b->data + len);
    if (++m->cpos == m->cyclic) m->cpos = 0;
  }
  b->offs[end - start] = (uint32_t)len;
  return 1;
}

static void *mf_thread(void *arg) {
  mf_t *m = arg;
  for (uint32_t k = 0; k < m->nblocks; k++) {
    pthread_mutex_lock(&m->lock);
    while (k - m->consumed >= SLOTS && !m->stop) pthread_cond_wait(&m->cond, &m->lock);
    int stop = m->stop;
    pthread_mutex_unlock(&m->lock);
    if (stop) break;
    int ok = mf_block(m, k);
    pthread_mutex_lock(&m->lock);
    if (ok) m->produced = k + 1;
    else m->failed = 1;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    if (!ok) break;
  }
  return NULL;
}

/* ---------------------------------------------------------------- coder */

typedef struct {
  prob_t choice, choice2, low[POS_STATES_MAX][8], mid[POS_STATES_MAX][8], high[256];
  uint32_t prices[POS_STATES_MAX][LEN_SYMBOLS];
  uint32_t counters[POS_STATES_MAX];
} len_coder_t;

/* A position of the search: the cheapest way found to it, from `prev` by one step `back` (LITERAL,
 * a repeated match 0..3, or 4 + distance), or, with `chain`, by three: `back` of `len1` bytes, a
 * literal (none when `back` is the literal), and rep0 to here. */
typedef struct {
  uint32_t price, prev, back, len1, chain;
  uint32_t state;
  uint32_t reps[4];
} opt_t;

typedef struct {
  rc_t rc;
  mf_t mf;
  int threaded;
  uint32_t ready, released; /* blocks the coder may read, blocks it gave back */
  const uint8_t *buf;
  uint32_t n, nice, lc, lp_mask, pb_mask, table_size;
  uint32_t state, reps[4];
  prob_t is_match[STATES][POS_STATES_MAX], is_rep[STATES], is_rep0[STATES], is_rep1[STATES], is_rep2[STATES];
  prob_t is_rep0_long[STATES][POS_STATES_MAX];
  prob_t *lit;
  prob_t dist_slot[DIST_STATES][DIST_SLOTS], dist_special[1 + FULL_DISTANCES - DIST_MODEL_END], align[ALIGN_SIZE];
  len_coder_t match_len, rep_len;
  uint32_t slot_prices[DIST_STATES][DIST_SLOTS], dist_prices[DIST_STATES][FULL_DISTANCES], align_prices[ALIGN_SIZE];
  uint32_t match_count, align_count;
  opt_t opts[OPTS];
  uint32_t dec_len[OPTS], dec_back[OPTS];
} enc_t;

static inline uint32_t dist_slot_of(uint32_t d) {
  if (d < 4) return d;
  uint32_t n = 31 - (uint32_t)__builtin_clz(d);
  return 2 * n + ((d >> (n - 1)) & 1);
}

/* The state after a literal, a match, a repeated match, and a short rep (rep0 for one byte). */
static inline uint32_t after_literal(uint32_t s) { return s < 4 ? 0 : s < 10 ? s - 3 : s - 6; }
static inline uint32_t after_match(uint32_t s) { return s < LIT_STATES ? 7 : 10; }
static inline uint32_t after_rep(uint32_t s) { return s < LIT_STATES ? 8 : 11; }
static inline uint32_t after_short_rep(uint32_t s) { return s < LIT_STATES ? 9 : 11; }

/* The repeated distances after `back`: a match's distance goes first, a repeated match moves up to
 * first, a literal changes nothing. */
static inline void reps_after(uint32_t *reps, uint32_t back) {
  if (back == LITERAL) return;
  uint32_t i = back < 4 ? back : 3, d = back < 4 ? reps[back] : back - 4;
  for (; i > 0; i--) reps[i] = reps[i - 1];
  reps[0] = d;
}

static void len_fill(len_coder_t *lc, uint32_t ps, uint32_t size) {
  uint32_t a0 = price_bit(lc->choice, 0), a1 = price_bit(lc->choice, 1);
  uint32_t b0 = a1 + price_bit(lc->choice2, 0), b1 = a1 + price_bit(lc->choice2, 1);
  for (uint32_t s = 0; s < size; s++) {
    if (s < 8) lc->prices[ps][s] = a0 + price_tree(lc->low[ps], 3, s);
    else if (s < 16) lc->prices[ps][s] = b0 + price_tree(lc->mid[ps], 3, s - 8);
    else lc->prices[ps][s] = b1 + price_tree(lc->high, 8, s - 16);
  }
  lc->counters[ps] = size;
}

static void len_encode(enc_t *e, len_coder_t *lc, uint32_t s, uint32_t ps) {
  if (s < 8) {
    rc_bit(&e->rc, &lc->choice, 0);
    rc_tree(&e->rc, lc->low[ps], 3, s);
  } else {
    rc_bit(&e->rc, &lc->choice, 1);
    if (s < 16) {
      rc_bit(&e->rc, &lc->choice2, 0);
      rc_tree(&e->rc, lc->mid[ps], 3, s - 8);
    } else {
      rc_bit(&e->rc, &lc->choice2, 1);
      rc_tree(&e->rc, lc->high, 8, s - 16);
    }
  }
  if (--lc->counters[ps] == 0) len_fill(lc, ps, e->table_size);
}

static void fill_dist_prices(enc_t *e) {
  for (uint32_t ls = 0; ls < DIST_STATES; ls++) {
    for (uint32_t slot = 0; slot < DIST_SLOTS; slot++) {
      uint32_t p = price_tree(e->dist_slot[ls], 6, slot);
      if (slot >= DIST_MODEL_END) p += (((slot >> 1) - 1) - 4) << 4; /* direct bits: one bit each */
      e->slot_prices[ls][slot] = p;
    }
    for (uint32_t d = 0; d < FULL_DISTANCES; d++) {
      uint32_t slot = dist_slot_of(d), p = e->slot_prices[ls][slot];
      if (slot >= DIST_MODEL_START) {
        uint32_t footer = (slot >> 1) - 1, base = (2 | (slot & 1)) << footer;
        p += price_tree_reverse(e->dist_special + base - slot, (int)footer, d - base);
      }
      e->dist_prices[ls][d] = p;
    }
  }
  e->match_count = 0;
}

static void fill_align_prices(enc_t *e) {
  for (uint32_t i = 0; i < ALIGN_SIZE; i++) e->align_prices[i] = price_tree_reverse(e->align, 4, i);
  e->align_count = 0;
}

static inline uint32_t dist_price(const enc_t *e, uint32_t d, uint32_t len) {
  uint32_t ls = len - 2 < DIST_STATES - 1 ? len - 2 : DIST_STATES - 1;
  if (d < FULL_DISTANCES) return e->dist_prices[ls][d];
  return e->slot_prices[ls][dist_slot_of(d)] + e->align_prices[d & (ALIGN_SIZE - 1)];
}

static inline prob_t *lit_probs(const enc_t *e, uint32_t pos) {
  uint32_t prev = pos ? e->buf[pos - 1] : 0;
  return e->lit + 0x300 * (size_t)(((pos & e->lp_mask) << e->lc) + (prev >> (8 - e->lc)));
}

/* A literal `c` after a match, whose bits go in the context of `match_byte`'s (the byte at rep0)
 * until they differ: coded with `rc`, or (rc NULL) priced. */
static inline uint32_t literal_matched(rc_t *rc, prob_t *probs, uint32_t c, uint32_t match_byte) {
  uint32_t price = 0, offset = 0x100, sym = 1;
  for (int i = 7; i >= 0; i--) {
    uint32_t bit = (c >> i) & 1;
    match_byte <<= 1;
    uint32_t mbit = match_byte & offset;
    if (rc) rc_bit(rc, &probs[offset + mbit + sym], bit);
    else price += price_bit(probs[offset + mbit + sym], bit);
    sym = (sym << 1) | bit;
    offset &= bit ? mbit : ~mbit;
  }
  return price;
}

static uint32_t lit_price(const enc_t *e, uint32_t pos, uint32_t state, uint32_t match_byte) {
  prob_t *probs = lit_probs(e, pos);
  if (state < LIT_STATES) return price_tree(probs, 8, e->buf[pos]);
  return literal_matched(NULL, probs, e->buf[pos], match_byte);
}

static inline uint32_t rep_price(const enc_t *e, uint32_t i, uint32_t s, uint32_t ps) {
  if (i == 0) return price_bit(e->is_rep0[s], 0) + price_bit(e->is_rep0_long[s][ps], 1);
  uint32_t p = price_bit(e->is_rep0[s], 1);
  if (i == 1) return p + price_bit(e->is_rep1[s], 0);
  return p + price_bit(e->is_rep1[s], 1) + price_bit(e->is_rep2[s], i - 2);
}

static void encode_literal(enc_t *e, uint32_t pos) {
  uint32_t s = e->state, ps = pos & e->pb_mask;
  rc_bit(&e->rc, &e->is_match[s][ps], 0);
  prob_t *probs = lit_probs(e, pos);
  uint32_t c = e->buf[pos];
  if (s < LIT_STATES) rc_tree(&e->rc, probs, 8, c);
  else literal_matched(&e->rc, probs, c, e->buf[pos - e->reps[0] - 1]);
  e->state = after_literal(s);
}

static void encode_match(enc_t *e, uint32_t pos, uint32_t d, uint32_t len) {
  uint32_t s = e->state, ps = pos & e->pb_mask;
  rc_bit(&e->rc, &e->is_match[s][ps], 1);
  rc_bit(&e->rc, &e->is_rep[s], 0);
  len_encode(e, &e->match_len, len - LEN_MIN, ps);
  uint32_t ls = len - 2 < DIST_STATES - 1 ? len - 2 : DIST_STATES - 1, slot = dist_slot_of(d);
  rc_tree(&e->rc, e->dist_slot[ls], 6, slot);
  if (slot >= DIST_MODEL_START) {
    uint32_t footer = (slot >> 1) - 1, base = (2 | (slot & 1)) << footer, reduced = d - base;
    if (slot < DIST_MODEL_END) {
      rc_tree_reverse(&e->rc, e->dist_special + base - slot, (int)footer, reduced);
    } else {
      rc_direct(&e->rc, reduced >> 4, (int)footer - 4);
      rc_tree_reverse(&e->rc, e->align, 4, reduced & (ALIGN_SIZE - 1));
      e->align_count++;
    }
  }
  reps_after(e->reps, d + 4);
  e->state = after_match(s);
  e->match_count++;
}

static void encode_rep(enc_t *e, uint32_t pos, uint32_t i, uint32_t len) {
  uint32_t s = e->state, ps = pos & e->pb_mask;
  rc_bit(&e->rc, &e->is_match[s][ps], 1);
  rc_bit(&e->rc, &e->is_rep[s], 1);
  if (i == 0) {
    rc_bit(&e->rc, &e->is_rep0[s], 0);
    rc_bit(&e->rc, &e->is_rep0_long[s][ps], len != 1);
  } else {
    rc_bit(&e->rc, &e->is_rep0[s], 1);
    if (i == 1) {
      rc_bit(&e->rc, &e->is_rep1[s], 0);
    } else {
      rc_bit(&e->rc, &e->is_rep1[s], 1);
      rc_bit(&e->rc, &e->is_rep2[s], i - 2);
    }
    reps_after(e->reps, i);
  }
  if (len == 1) {
    e->state = after_short_rep(s);
  } else {
    len_encode(e, &e->rep_len, len - LEN_MIN, ps);
    e->state = after_rep(s);
  }
}

/* The matches listed at `pos`: *count pairs. Waits for the match finder (or runs it) as needed. */
static const uint32_t *matches_at(enc_t *e, uint32_t pos, uint32_t *count) {
  uint32_t k = pos >> BLOCK_BITS;
  mf_t *m = &e->mf;
  if (k >= e->ready) {
    if (e->threaded) {
      pthread_mutex_lock(&m->lock);
      while (m->produced <= k && !m->failed) pthread_cond_wait(&m->cond, &m->lock);
      e->ready = m->produced;
      int failed = m->failed && m->produced <= k;
      pthread_mutex_unlock(&m->lock);
      if (failed) return NULL;
    } else {
      for (; e->ready <= k; e->ready++)
        if (!mf_block(m, e->ready)) return NULL;
    }
  }
  const mblock_t *b = &m->blocks[k % SLOTS];
  uint32_t i = pos & (BLOCK - 1), at = b->offs[i];
  *count = (b->offs[i + 1] - at) / 2;
  return b->data + at;
}

/* Gives the match finder back the blocks wholly before `pos`. */
static void release_before(enc_t *e, uint32_t pos) {
  uint32_t k = pos >> BLOCK_BITS;
  if (k <= e->released) return;
  e->released = k;
  if (!e->threaded) return;
  pthread_mutex_lock(&e->mf.lock);
  e->mf.consumed = k;
  pthread_cond_broadcast(&e->mf.cond);
  pthread_mutex_unlock(&e->mf.lock);
}

/* How far the bytes at `pos` repeat those `rep` + 1 back, up to `lim`; 0 under 2. */
static inline uint32_t rep_len_at(const uint8_t *buf, uint32_t pos, uint32_t rep, uint32_t lim) {
  if (rep >= pos || lim < 2) return 0;
  const uint8_t *a = buf + pos, *b = a - rep - 1;
  if (a[0] != b[0] || a[1] != b[1]) return 0;
  uint32_t l = 2;
  while (l < lim && a[l] == b[l]) l++;
  return l;
}

static inline int opt_set(opt_t *o, uint32_t price, uint32_t prev, uint32_t back) {
  if (price >= o->price) return 0;
  o->price = price;
  o->prev = prev;
  o->back = back;
  o->chain = 0;
  return 1;
}

/* Makes room in the search up to position `to`. */
static inline void reach(enc_t *e, uint32_t to, uint32_t *end) {
  while (*end < to) e->opts[++*end].price = INFINITE_PRICE;
}

/* From search position `cur` (its price and state `st`; `full` bytes may follow it): `back` of
 * `len1` bytes then a literal, or (`back` LITERAL) the literal alone, then rep0 (`rep0`, as it is
 * after `back`) as far as it goes, up to nice_len. The literal after a match is matched against rep0. */
static void try_chain(enc_t *e, uint32_t pos, uint32_t cur, uint32_t full, uint32_t price, uint32_t st,
                      uint32_t back, uint32_t len1, uint32_t rep0, uint32_t *end) {
  const uint8_t *buf = e->buf;
  uint32_t skip = back == LITERAL ? 0 : len1, lit = pos + cur + skip;
  if (rep0 >= lit || full < skip + 3) return;
  uint32_t limit = full - skip - 1 < e->nice ? full - skip - 1 : e->nice;
  const uint8_t *a = buf + lit + 1, *b = a - rep0 - 1;
  uint32_t l2 = 0;
  while (l2 < limit && a[l2] == b[l2]) l2++;
  if (l2 < 2) return;
  if (back != LITERAL) {
    uint32_t ps = lit & e->pb_mask;
    st = back < 4 ? after_rep(st) : after_match(st);
    price += price_bit(e->is_match[st][ps], 0) + lit_price(e, lit, st, buf[lit - rep0 - 1]);
  }
  st = after_literal(st);
  uint32_t ps = (lit + 1) & e->pb_mask;
  price += price_bit(e->is_match[st][ps], 1) + price_bit(e->is_rep[st], 1) + rep_price(e, 0, st, ps) + e->rep_len.prices[ps][l2 - 2];
  uint32_t to = cur + skip + 1 + l2;
  reach(e, to, end);
  opt_t *o = &e->opts[to];
  if (price < o->price) {
    o->price = price;
    o->prev = cur;
    o->back = back;
    o->len1 = len1;
    o->chain = 1;
  }
}

/* Repeated match `i` of every length 2..`len` from search position `cur`; `base` is its price but
 * for the length. */
static void add_rep(enc_t *e, uint32_t cur, uint32_t ps, uint32_t i, uint32_t len, uint32_t base, uint32_t *end) {
  reach(e, cur + len, end);
  for (uint32_t k = 2; k <= len; k++) opt_set(&e->opts[cur + k], base + e->rep_len.prices[ps][k - 2], cur, i);
}

/* Matches of every length `from`..`top` from search position `cur` (state `st`), each at the
 * nearest distance listed (`mp`) that long; `base` is the price but for length and distance. With
 * `full` (the bytes after `cur` the search may use), each distance's longest is also tried followed
 * by a literal and rep0. */
static void add_matches(enc_t *e, uint32_t pos, uint32_t cur, uint32_t st, uint32_t full, const uint32_t *mp, uint32_t from, uint32_t top,
                        uint32_t base, uint32_t *end) {
  uint32_t ps = (pos + cur) & e->pb_mask, j = 0;
  reach(e, cur + top, end);
  while (from > mp[2 * j]) j++;
  for (uint32_t l = from; l <= top; l++) {
    uint32_t d = mp[2 * j + 1], price = base + e->match_len.prices[ps][l - 2] + dist_price(e, d, l);
    opt_set(&e->opts[cur + l], price, cur, d + 4);
    if (l == mp[2 * j] || l == top) { /* this distance's longest */
      if (full) try_chain(e, pos, cur, full, price, st, d + 4, l, d, end);
      j++;
    }
  }
}

static inline uint32_t single(enc_t *e, uint32_t len, uint32_t back) {
  e->dec_len[0] = len;
  e->dec_back[0] = back;
  return 1;
}

/* Chooses what to code from `pos` on: fills dec_len/dec_back and returns how many, or 0 when the
 * match finder failed. */
static uint32_t optimum(enc_t *e, uint32_t pos) {
  const uint8_t *buf = e->buf;
  uint32_t cnt;
  const uint32_t *mp = matches_at(e, pos, &cnt);
  if (!mp) return 0;
  uint32_t avail = e->n - pos, lim = avail < LEN_MAX ? avail : LEN_MAX;
  uint32_t main_len = cnt ? mp[2 * cnt - 2] : 0, main_dist = cnt ? mp[2 * cnt - 1] : 0;
  if (main_len == e->nice) {
    const uint8_t *a = buf + pos, *b = a - main_dist - 1;
    while (main_len < lim && a[main_len] == b[main_len]) main_len++;
  }
  uint32_t rl[4], best_rep = 0;
  for (uint32_t i = 0; i < 4; i++) {
    rl[i] = rep_len_at(buf, pos, e->reps[i], lim);
    if (rl[i] > rl[best_rep]) best_rep = i;
  }
  if (rl[best_rep] >= e->nice) return single(e, rl[best_rep], best_rep);
  if (main_len >= e->nice) return single(e, main_len, main_dist + 4);
  uint32_t cb = buf[pos], mb = e->reps[0] < pos ? buf[pos - e->reps[0] - 1] : (cb ^ 0xff);
  if (main_len < 2 && cb != mb && rl[best_rep] < 2) return single(e, 1, LITERAL);

  opt_t *opts = e->opts;
  uint32_t s = e->state, ps = pos & e->pb_mask;
  opts[0].state = s;
  memcpy(opts[0].reps, e->reps, sizeof e->reps);
  uint32_t m1 = price_bit(e->is_match[s][ps], 1), rep_base = m1 + price_bit(e->is_rep[s], 1);
  opts[1].price = INFINITE_PRICE;
  opt_set(&opts[1], price_bit(e->is_match[s][ps], 0) + lit_price(e, pos, s, mb), 0, LITERAL);
  if (mb == cb) opt_set(&opts[1], rep_base + price_bit(e->is_rep0[s], 0) + price_bit(e->is_rep0_long[s][ps], 0), 0, 0);
  uint32_t end = main_len > rl[best_rep] ? main_len : rl[best_rep];
  if (end < 2) return single(e, 1, opts[1].back);
  for (uint32_t l = 2; l <= end; l++) opts[l].price = INFINITE_PRICE;
  for (uint32_t i = 0; i < 4; i++)
    if (rl[i] >= 2) add_rep(e, 0, ps, i, rl[i], rep_base + rep_price(e, i, s, ps), &end);
  uint32_t start = rl[0] >= 2 ? rl[0] + 1 : 2;
  if (main_len >= start) add_matches(e, pos, 0, s, 0, mp, start, main_len, m1 + price_bit(e->is_rep[s], 0), &end);

  uint32_t cur = 0;
  for (;;) {
    if (++cur == end) break;
    opt_t *o = &opts[cur];
    if (o->price >= INFINITE_PRICE) continue; /* inside a chain, reached by no way of its own */
    const opt_t *from = &opts[o->prev];
    uint32_t st = from->state;
    memcpy(o->reps, from->reps, sizeof o->reps);
    reps_after(o->reps, o->back);
    if (o->chain) st = after_rep(after_literal(st)); /* rep0 after the literal: 8 */
    else if (o->back == LITERAL) st = after_literal(st);
    else if (o->back == 0 && cur - o->prev == 1) st = after_short_rep(st);
    else st = o->back < 4 ? after_rep(st) : after_match(st);
    o->state = st;

    uint32_t p = pos + cur, cnt2;
    const uint32_t *mp2 = matches_at(e, p, &cnt2);
    if (!mp2) return 0;
    uint32_t new_len = cnt2 ? mp2[2 * cnt2 - 2] : 0;
    if (new_len >= e->nice) { /* a long match from here: take the way here, and it next */
      end = cur;
      break;
    }
    uint32_t price = o->price, c = buf[p], m = o->reps[0] < p ? buf[p - o->reps[0] - 1] : (c ^ 0xff);
    uint32_t pst = p & e->pb_mask;
    opt_t *next = &opts[cur + 1];
    uint32_t lit = price + price_bit(e->is_match[st][pst], 0) + lit_price(e, p, st, m);
    int next_is_literal = opt_set(next, lit, cur, LITERAL);
    uint32_t mm = price + price_bit(e->is_match[st][pst], 1), rb = mm + price_bit(e->is_rep[st], 1);
    if (m == c) opt_set(next, rb + price_bit(e->is_rep0[st], 0) + price_bit(e->is_rep0_long[st][pst], 0), cur, 0);

    uint32_t full = e->n - p;
    if (full > OPTS - 1 - cur) full = OPTS - 1 - cur;
    if (full < 2) continue;
    uint32_t av = full < e->nice ? full : e->nice;
    if (!next_is_literal && m != c) try_chain(e, pos, cur, full, lit, st, LITERAL, 1, o->reps[0], &end);
    uint32_t from_len = 2;
    for (uint32_t i = 0; i < 4; i++) {
      uint32_t l = rep_len_at(buf, p, o->reps[i], av);
      if (l < 2) continue;
      uint32_t base = rb + rep_price(e, i, st, pst);
      add_rep(e, cur, pst, i, l, base, &end);
      if (i == 0) from_len = l + 1;
      try_chain(e, pos, cur, full, base + e->rep_len.prices[pst][l - 2], st, i, l, o->reps[i], &end);
    }
    uint32_t top = new_len < av ? new_len : av;
    if (top >= from_len) add_matches(e, pos, cur, st, full, mp2, from_len, top, mm + price_bit(e->is_rep[st], 0), &end);
  }
  /* the way back from `end`, reversed */
  uint32_t count = 0;
  for (uint32_t k = end; k > 0; k = opts[k].prev) count += opts[k].chain ? (opts[k].back == LITERAL ? 2 : 3) : 1;
  uint32_t i = count;
  for (uint32_t k = end; k > 0; k = opts[k].prev) {
    const opt_t *o = &opts[k];
    if (!o->chain) {
      i--;
      e->dec_len[i] = k - o->prev;
      e->dec_back[i] = o->back;
      continue;
    }
    uint32_t skip = o->back == LITERAL ? 0 : o->len1;
    i--;
    e->dec_len[i] = k - o->prev - skip - 1; /* rep0 */
    e->dec_back[i] = 0;
    i--;
    e->dec_len[i] = 1; /* the literal */
    e->dec_back[i] = LITERAL;
    if (skip) {
      i--;
      e->dec_len[i] = skip;
      e->dec_back[i] = o->back;
    }
  }
  return count;
}

static void init_probs(prob_t *p, size_t count) {
  for (size_t i = 0; i < count; i++) p[i] = PROB_INIT;
}

void lzenc_header(uint8_t h[13], uint32_t dict_size, int lc, int lp, int pb, uint64_t size) {
  /* the dictionary size as .lzma headers give it: the next 2^k or 2^k + 2^(k-1) */
  uint64_t d = 1;
  while (d < dict_size) {
    if (d >= 2 && d + d / 2 >= dict_size) { d += d / 2; break; }
    d *= 2;
  }
  if (d > UINT32_MAX) d = UINT32_MAX;
  h[0] = (uint8_t)((pb * 5 + lp) * 9 + lc);
  for (int i = 0; i < 4; i++) h[1 + i] = (uint8_t)(d >> (8 * i));
  for (int i = 0; i < 8; i++) h[5 + i] = (uint8_t)(size >> (8 * i));
}

static void mf_free(mf_t *m) {
  free(m->hash);
  free(m->son);
  for (int i = 0; i < SLOTS; i++) {
    free(m->blocks[i].offs);
    free(m->blocks[i].data);
  }
}

static int mf_init(mf_t *m, const uint8_t *in, uint32_t n, const lzenc_options *o) {
  m->buf = in;
  m->n = n;
  m->nice = (uint32_t)o->nice_len;
  m->depth = o->depth > 0 ? (uint32_t)o->depth : 16 + m->nice / 2;
  m->cyclic = (o->dict_size < n ? o->dict_size : n) + 1;
  /* 4-byte heads for the window the input can use (a 1.5 GiB dictionary on a small input stays small) */
  uint32_t span = m->cyclic - 1, hs = span > 1 ? span - 1 : 1;
  hs |= hs >> 1;
  hs |= hs >> 2;
  hs |= hs >> 4;
  hs |= hs >> 8;
  hs |= hs >> 16;
  hs >>= 1;
  hs |= 0xffff;
  if (hs > (1u << 24)) hs >>= 1;
  m->hmask = hs;
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t r = i;
    for (int k = 0; k < 8; k++) r = (r >> 1) ^ (0xedb88320u & (0u - (r & 1)));
    m->crc[i] = r;
  }
  m->nblocks = (uint32_t)(((uint64_t)n + BLOCK - 1) >> BLOCK_BITS);
  m->hash = calloc(1024 + 65536 + (size_t)hs + 1, sizeof *m->hash);
  m->son = malloc(2 * (size_t)m->cyclic * sizeof *m->son);
  if (!m->hash || !m->son) return 0;
  for (int i = 0; i < SLOTS; i++) {
    m->blocks[i].cap = BLOCK * 4;
    m->blocks[i].offs = malloc((BLOCK + 1) * sizeof(uint32_t));
    m->blocks[i].data = malloc(m->blocks[i].cap * sizeof(uint32_t));
    if (!m->blocks[i].offs || !m->blocks[i].data) return 0;
  }
  return 1;
}

uint8_t *lzenc_alone(const uint8_t *in, size_t n, const lzenc_options *o, size_t *out_len, const char **error) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, init_prices);
  *error = NULL;
  if (o->lc < 0 || o->lp < 0 || o->pb < 0 || o->lc + o->lp > 4 || o->pb > 4 || o->nice_len < 8 || o->nice_len > LEN_MAX ||
      o->dict_size < 4096 || o->dict_size > (3u << 29) || o->depth < 0) {
    *error = "lzma options not supported";
    return NULL;
  }
  if (!o->size_in_header && !o->end_marker) {
    *error = "an lzma stream of unknown size needs its end marker";
    return NULL;
  }
  if (n >= UINT32_MAX - OPTS) {
    *error = "input too large for this lzma encoder";
    return NULL;
  }
  enc_t *e = calloc(1, sizeof *e);
  if (!e) { *error = "out of memory"; return NULL; }
  e->buf = in;
  e->n = (uint32_t)n;
  e->nice = (uint32_t)o->nice_len;
  e->lc = (uint32_t)o->lc;
  e->lp_mask = (1u << o->lp) - 1;
  e->pb_mask = (1u << o->pb) - 1;
  e->table_size = e->nice - 1;
  e->rc.range = 0xffffffffu;
  e->rc.pending = 1;
  e->rc.cap = 13 + n + n / 16 + 4096;
  e->rc.buf = malloc(e->rc.cap);
  e->lit = malloc(0x300 * ((size_t)1 << (o->lc + o->lp)) * sizeof *e->lit);
  uint8_t *out = NULL;
  int ok = e->rc.buf && e->lit && mf_init(&e->mf, in, e->n, o);
  pthread_t thread;
  if (ok) {
    e->rc.len = 13;
    init_probs(&e->is_match[0][0], sizeof e->is_match / sizeof(prob_t));
    init_probs(e->is_rep, STATES);
    init_probs(e->is_rep0, STATES);
    init_probs(e->is_rep1, STATES);
    init_probs(e->is_rep2, STATES);
    init_probs(&e->is_rep0_long[0][0], sizeof e->is_rep0_long / sizeof(prob_t));
    init_probs(e->lit, 0x300 * ((size_t)1 << (o->lc + o->lp)));
    init_probs(&e->dist_slot[0][0], sizeof e->dist_slot / sizeof(prob_t));
    init_probs(e->dist_special, sizeof e->dist_special / sizeof(prob_t));
    init_probs(e->align, ALIGN_SIZE);
    len_coder_t *lcs[2] = {&e->match_len, &e->rep_len};
    for (int i = 0; i < 2; i++) {
      lcs[i]->choice = lcs[i]->choice2 = PROB_INIT;
      init_probs(&lcs[i]->low[0][0], sizeof lcs[i]->low / sizeof(prob_t));
      init_probs(&lcs[i]->mid[0][0], sizeof lcs[i]->mid / sizeof(prob_t));
      init_probs(lcs[i]->high, 256);
      for (uint32_t ps = 0; ps <= e->pb_mask; ps++) len_fill(lcs[i], ps, e->table_size);
    }
    fill_dist_prices(e);
    fill_align_prices(e);
    if (o->threads > 1 && e->mf.nblocks > 1) {
      pthread_mutex_init(&e->mf.lock, NULL);
      pthread_cond_init(&e->mf.cond, NULL);
      e->threaded = pthread_create(&thread, NULL, mf_thread, &e->mf) == 0;
      if (!e->threaded) {
        pthread_mutex_destroy(&e->mf.lock);
        pthread_cond_destroy(&e->mf.cond);
      }
    }
    uint32_t pos = 0;
    while (ok && pos < e->n) {
      release_before(e, pos);
      if (e->match_count >= 128) fill_dist_prices(e);
      if (e->align_count >= ALIGN_SIZE) fill_align_prices(e);
      uint32_t count = optimum(e, pos);
      if (!count) { ok = 0; break; }
      for (uint32_t i = 0; i < count; i++) {
        uint32_t len = e->dec_len[i], back = e->dec_back[i];
        if (back == LITERAL) encode_literal(e, pos);
        else if (back < 4) encode_rep(e, pos, back, len);
        else encode_match(e, pos, back - 4, len);
        pos += len;
      }
      if (e->rc.oom) ok = 0;
    }
    if (ok && o->end_marker) encode_match(e, e->n, UINT32_MAX, LEN_MIN);
    for (int i = 0; ok && i < 5; i++) rc_shift(&e->rc);
    if (e->threaded) {
      pthread_mutex_lock(&e->mf.lock);
      e->mf.stop = 1;
      pthread_cond_broadcast(&e->mf.cond);
      pthread_mutex_unlock(&e->mf.lock);
      pthread_join(thread, NULL);
      pthread_mutex_destroy(&e->mf.lock);
      pthread_cond_destroy(&e->mf.cond);
    }
    if (ok && !e->rc.oom) {
      out = e->rc.buf;
      e->rc.buf = NULL;
      lzenc_header(out, o->dict_size, o->lc, o->lp, o->pb, o->size_in_header ? (uint64_t)n : UINT64_MAX);
      *out_len = e->rc.len;
    }
  }
  if (!out) *error = "out of memory";
  mf_free(&e->mf);
  free(e->rc.buf);
  free(e->lit);
  free(e);
  return out;
}
