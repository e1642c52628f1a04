/*
 * sqlist: the listing of a squashfs image, as `squashfs ls [-l]` prints it (unsquashfs -lln -UTC),
 * in one native call, for the command line: a Node process that lists a tree in JavaScript spends
 * most of its time in code not yet compiled, where unsquashfs is done in a few milliseconds.
 *
 * The reference is src/squashfs/list.ts (its fast path, whose checks are the generic reader's) and
 * the opening of src/squashfs/read.ts. This file takes only the plain case: every table opens, the
 * inode and directory tables decode whole into full 8 KiB blocks, every inode and listing passes the
 * fast path's checks. Anything else (an error, a case list.ts hands to its generic reader, a case
 * left out here) returns 0 before anything is printed, and the caller lists with list.ts. So the
 * rule for a change: where this returns a listing, it must be byte for byte list.ts's.
 *
 * Every read is bounded by the image's size and the limits of read.ts (64 MiB of decoded tables);
 * every field is checked before it is used as an offset or a length.
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include "sqlist.h"
#include "buf.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define META 8192u
#define SB_SIZE 96u
#define MAX_DEPTH 4096u
#define DIR_COUNT 256u
#define NAME_MAX_SQ 256u
#define SYMLINK_MAX 65535u
#define EAGER_BLOCKS 65536u
#define LONG_BLOCK_LIST 256u
#define TABLE_BUDGET ((uint64_t)64 << 20) /* read.ts maxTableBytes */
#define OUT_CAP ((size_t)64 << 20)
#define INDEX_CAP ((uint64_t)64 << 20)
#define NONE32 0xffffffffu
#define SAFE ((uint64_t)1 << 53)
#define FLAG_COMPRESSOR_OPTIONS 0x0400u

static uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t u64(const uint8_t *p) { return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32; }

/* A decoded table: its bytes, and for each block (by its offset from the table's start, ascending)
 * where it begins in them. */
typedef struct {
  uint8_t *b;
  size_t len, nb;
  uint64_t *off;
  size_t *pos;
} run_t;

/* A set of 64-bit keys (open addressing; key 0 is never stored). */
typedef struct {
  uint64_t *k;
  size_t cap, n;
} set_t;

typedef struct {
  int fd;
  uint64_t size;
  int comp;
  sq_decode_fn decode;
  /* superblock */
  uint32_t inodes, block_size, fragments;
  uint16_t no_ids;
  uint64_t root, bytes_used, id_start, inode_start, dir_start, dir_end;
  int64_t xattr_count; /* -1: no xattr id table */
  uint32_t *ids;
  run_t it, dt;
  set_t seen, lists;
  /* output, and pieces of the last lines, which files of one package share */
  uint8_t *out;
  size_t n, cap;
  uint32_t last_ids; /* uid index << 16 | gid index, + 1 (0: none yet) */
  uint8_t ids_text[24];
  size_t ids_len;
  uint64_t last_mtime; /* + 1 */
  uint8_t time_text[18];
  /* the path of the directory being listed */
  buf_t path;
  /* the walk's entry records */
  struct rec {
    const uint8_t *name;
    uint32_t name_len, block, inode_number;
    uint16_t offset, kind;
  } *recs;
  size_t rec_top, rec_cap;
} ctx_t;

/* fields of one inode, as list.ts's Fields */
typedef struct {
  unsigned kind, mode, uid, gid;
  uint32_t mtime, rdev, start_block, offset;
  uint64_t size;
  size_t target_at, target_len;
  uint32_t number;
} fields_t;

static int rd(ctx_t *c, uint64_t at, void *buf, size_t n) {
  if (at > c->size || n > c->size - at) return 0;
  for (size_t got = 0; got < n;) {
    ssize_t r = pread(c->fd, (uint8_t *)buf + got, n - got, (off_t)(at + got));
    if (r <= 0) return 0;
    got += (size_t)r;
  }
  return 1;
}

static int set_grow(set_t *s) {
  size_t cap = s->cap ? s->cap * 2 : 1024;
  uint64_t *k = calloc(cap, sizeof *k);
  if (!k) return 0;
  for (size_t i = 0; i < s->cap; i++)
    if (s->k[i]) {
      size_t h = (size_t)(s->k[i] * 0x9e3779b97f4a7c15ULL >> 17) & (cap - 1);
      while (k[h]) h = (h + 1) & (cap - 1);
      k[h] = s->k[i];
    }
  free(s->k);
  s->k = k;
  s->cap = cap;
  return 1;
}

/* 1 when `key` is in the set; with add, puts it in (returns -1 when out of memory). */
static int set_has(set_t *s, uint64_t key, int add) {
  key |= (uint64_t)1 << 63;
  if (s->cap) {
    size_t h = (size_t)(key * 0x9e3779b97f4a7c15ULL >> 17) & (s->cap - 1);
    for (; s->k[h]; h = (h + 1) & (s->cap - 1))
      if (s->k[h] == key) return 1;
  }
  if (!add) return 0;
  if ((s->n + 1) * 2 > s->cap && !set_grow(s)) return -1;
  size_t h = (size_t)(key * 0x9e3779b97f4a7c15ULL >> 17) & (s->cap - 1);
  while (s->k[h]) h = (h + 1) & (s->cap - 1);
  s->k[h] = key;
  s->n++;
  return 0;
}

/* Position in the run of the byte at block `block` (from the table's start), offset `offset`, when
 * that block is there and the offset lies inside it; else -1 (list.ts position()). */
static int64_t run_pos(const run_t *r, uint64_t block, uint32_t offset) {
  size_t lo = 0, hi = r->nb;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->off[mid] < block) lo = mid + 1;
    else hi = mid;
  }
  if (lo >= r->nb || r->off[lo] != block) return -1;
  size_t p = r->pos[lo], e = lo + 1 < r->nb ? r->pos[lo + 1] : r->len;
  return offset < e - p ? (int64_t)(p + offset) : -1;
}

/* The payload of a metadata block whose header is `header`: stored, or decoded (at most 8 KiB). */
static int payload(ctx_t *c, unsigned header, const uint8_t *p, uint8_t *out, size_t *n) {
  unsigned size = header & 0x7fff;
  if (header & 0x8000) {
    memcpy(out, p, size);
    *n = size;
    return 1;
  }
  return c->decode(c->comp, p, size, out, META, n);
}

/* One metadata block read as MetaReader.block reads it: at `at`, ending by `end`. */
static int meta_block(ctx_t *c, uint64_t at, uint64_t end, uint8_t *out, size_t *n) {
  uint8_t h[2 + META];
  if (at + 2 > end) return 0;
  size_t want = end - at < 2 + META ? (size_t)(end - at) : 2 + META;
  if (!rd(c, at, h, want)) return 0;
  unsigned header = u16(h), size = header & 0x7fff;
  if (size == 0 || size > META || at + 2 + size > end) return 0;
  return payload(c, header, h + 2, out, n);
}

/*
 * MetaReader.preload and pinnedRun of the table [start, end), required whole: every block
 * decodes (to at least a byte), every block but the last holds 8 KiB, the blocks fill the range.
 */
static int load_table(ctx_t *c, uint64_t start, uint64_t end, uint64_t budget, run_t *r, uint64_t *used) {
  if (end <= start || end - start > budget) return 0;
  size_t raw_len = (size_t)(end - start);
  uint8_t *raw = malloc(raw_len);
  if (!raw) return 0;
  int ok = 0;
  if (!rd(c, start, raw, raw_len)) goto done;
  size_t nb = 0, at = 0;
  while (at + 2 <= raw_len) {
    if ((uint64_t)(nb + 1) * META > budget) goto done;
    unsigned size = u16(raw + at) & 0x7fff;
    if (size == 0 || size > META || at + 2 + size > raw_len) goto done;
    nb++;
    at += 2 + size;
  }
  if (at != raw_len) goto done;
  r->b = malloc(nb * META);
  r->off = malloc(nb * sizeof *r->off);
  r->pos = malloc(nb * sizeof *r->pos);
  if (!r->b || !r->off || !r->pos) goto done;
  size_t pos = 0;
  at = 0;
  for (size_t i = 0; i < nb; i++) {
    unsigned header = u16(raw + at), size = header & 0x7fff;
    size_t n = 0;
    if (!payload(c, header, raw + at + 2, r->b + pos, &n) || n == 0 || (i + 1 < nb && n != META)) goto done;
    r->off[i] = at;
    r->pos[i] = pos;
    pos += n;
    at += 2 + size;
  }
  r->nb = nb;
  r->len = pos;
  *used = pos;
  ok = 1;
done:
  free(raw);
  return ok;
}

/* LookupTable.open: the index of `count` entries of `esize` bytes at `index_at`; its blocks
 * (*blocks, when asked for) and its start. */
static int lookup_open(ctx_t *c, uint64_t index_at, uint64_t count, unsigned esize, uint64_t after, uint64_t limit_end, uint64_t **blocks,
                       size_t *nblocks, uint64_t *start) {
  uint64_t n = (count * esize + META - 1) / META;
  if (n * 8 > INDEX_CAP || index_at + n * 8 > limit_end) return 0;
  uint8_t *raw = malloc(n ? (size_t)n * 8 : 1);
  uint64_t *b = malloc(n ? (size_t)n * sizeof *b : 1);
  int ok = 0;
  if (!raw || !b || !rd(c, index_at, raw, (size_t)n * 8)) goto done;
  uint64_t prev = after;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t v = u64(raw + i * 8);
    if (v >= SAFE || v < prev || v + 2 > index_at) goto done;
    b[i] = v;
    prev = v + 2;
  }
  *start = n ? b[0] : index_at;
  if (nblocks) *nblocks = (size_t)n;
  ok = 1;
done:
  free(raw);
  if (ok && blocks) *blocks = b;
  else free(b);
  return ok;
}

/* read.ts's Squashfs.open and the id table of preload(), for an image without compressor options */
static int open_image(ctx_t *c) {
  uint8_t s[SB_SIZE];
  if (c->size < SB_SIZE || !rd(c, 0, s, SB_SIZE)) return 0;
  if (u32(s) != 0x73717368 || u16(s + 0x1c) != 4 || u16(s + 0x1e) != 0) return 0;
  unsigned comp = u16(s + 0x14), log = u16(s + 0x16), flags = u16(s + 0x18);
  /* gzip, xz, zstd (lz4 images always have options) */
  if (comp != 1 && comp != 4 && comp != 6) return 0;
  if (flags & FLAG_COMPRESSOR_OPTIONS) return 0;
  c->comp = (int)comp;
  c->inodes = u32(s + 4);
  c->block_size = u32(s + 0x0c);
  c->fragments = u32(s + 0x10);
  c->no_ids = u16(s + 0x1a);
  if (log < 12 || log > 20 || c->block_size != 1u << log || c->inodes == 0 || c->no_ids == 0) return 0;
  c->root = u64(s + 0x20);
  c->bytes_used = u64(s + 0x28);
  c->id_start = u64(s + 0x30);
  c->inode_start = u64(s + 0x40);
  c->dir_start = u64(s + 0x48);
  if (c->root >= SAFE || c->bytes_used >= SAFE || c->id_start >= SAFE || c->inode_start >= SAFE || c->dir_start >= SAFE) return 0;
  if (c->bytes_used > c->size || c->bytes_used < SB_SIZE) return 0;
  /* optional tables: all ones when absent */
  uint64_t opt[3] = {u64(s + 0x38), u64(s + 0x50), u64(s + 0x58)}; /* xattr ids, fragments, export */
  int has[3];
  for (int i = 0; i < 3; i++) {
    has[i] = opt[i] != ~(uint64_t)0;
    if (has[i] && opt[i] >= SAFE) return 0;
  }
  uint64_t order[6] = {c->inode_start, c->dir_start, opt[1], opt[2], c->id_start, opt[0]};
  int present[6] = {1, 1, c->fragments > 0 && has[1], has[2], 1, has[0]};
  uint64_t prev = SB_SIZE;
  for (int i = 0; i < 6; i++) {
    if (!present[i]) continue;
    if (order[i] < prev || order[i] >= c->bytes_used) return 0;
    prev = order[i];
  }
  if (c->dir_start == c->inode_start) return 0;
  if (c->fragments > 0 && !has[1]) return 0;
  if ((c->root & 0xffff) >= META || c->inode_start + (c->root >> 16) >= c->dir_start) return 0;

  uint64_t end = c->bytes_used, start;
  c->xattr_count = -1;
  if (has[0]) {
    uint64_t x = opt[0];
    uint8_t h[16];
    if (x + 16 > end || !rd(c, x, h, 16)) return 0;
    uint64_t kv = u64(h);
    if (kv >= SAFE) return 0;
    uint32_t count = u32(h + 8);
    if (!lookup_open(c, x + 16, count, 16, c->id_start, end, NULL, NULL, &start)) return 0;
    if (kv < c->id_start || kv > start) return 0;
    end = kv;
    c->xattr_count = count;
  }
  uint64_t *id_blocks = NULL;
  size_t id_nb = 0;
  if (!lookup_open(c, c->id_start, c->no_ids, 4, c->dir_start, end, &id_blocks, &id_nb, &start)) return 0;
  end = start;
  uint64_t id_table_start = start;
  uint64_t dir_end = id_table_start;
  int ok = 0;
  if (has[2]) {
    if (!lookup_open(c, opt[2], c->inodes, 8, c->dir_start, end, NULL, NULL, &start)) goto done;
    end = start;
    dir_end = start;
  }
  if (c->fragments > 0) {
    if (!lookup_open(c, opt[1], c->fragments, 16, c->dir_start, end, NULL, NULL, &start)) goto done;
    end = start;
    dir_end = start;
  }
  if (end < c->dir_start) goto done;
  c->dir_end = dir_end;
  /* the id values, each block as LookupTable.entry reads it */
  c->ids = malloc((size_t)c->no_ids * 4);
  if (!c->ids) goto done;
  uint8_t blk[META];
  for (size_t k = 0; k < id_nb; k++) {
    size_t n = 0;
    uint64_t bend = k + 1 < id_nb ? id_blocks[k + 1] : c->id_start;
    if (!meta_block(c, id_blocks[k], bend, blk, &n)) goto done;
    size_t total = (size_t)c->no_ids * 4 - k * META, expect = total < META ? total : META;
    if (n != expect) goto done;
    for (size_t i = 0; i < n / 4; i++) c->ids[k * (META / 4) + i] = u32(blk + i * 4);
  }
  ok = 1;
done:
  free(id_blocks);
  return ok;
}

/* list.ts fastInode: the inode at `block`/`offset` of the inode table into *f, 0 where list.ts
 * would not take it the fast way */
static int fast_inode(ctx_t *c, uint64_t block, uint32_t offset, fields_t *f) {
  int64_t at64 = run_pos(&c->it, block, offset);
  if (at64 < 0) return 0;
  size_t at = (size_t)at64, len = c->it.len;
  const uint8_t *b = c->it.b;
  if (at + 16 > len) return 0;
  unsigned type = u16(b + at);
  if (type < 1 || type > 14) return 0;
  f->kind = type > 7 ? type - 7 : type;
  f->mode = u16(b + at + 2);
  f->uid = u16(b + at + 4);
  f->gid = u16(b + at + 6);
  f->mtime = u32(b + at + 8);
  f->number = u32(b + at + 12);
  if (f->mode > 07777 || f->number < 1 || f->number > c->inodes || f->uid >= c->no_ids || f->gid >= c->no_ids) return 0;
  f->size = 0;
  f->rdev = 0;
  uint32_t xattr = NONE32;
  size_t p = at + 16;
  switch (type) {
  case 1:
    if (p + 16 > len) return 0;
    f->start_block = u32(b + p);
    f->size = u16(b + p + 8);
    f->offset = u16(b + p + 10);
    if (f->size < 3) return 0;
    break;
  case 8: {
    if (p + 24 > len) return 0;
    f->size = u32(b + p + 4);
    f->start_block = u32(b + p + 8);
    unsigned count = u16(b + p + 16);
    f->offset = u16(b + p + 18);
    xattr = u32(b + p + 20);
    size_t q = p + 24;
    for (unsigned i = 0; i < count; i++) {
      if (q + 12 > len) return 0;
      uint64_t name_size = (uint64_t)u32(b + q + 8) + 1;
      if (name_size > NAME_MAX_SQ || q + 12 + name_size > len) return 0;
      q += 12 + (size_t)name_size;
    }
    if (f->size < 3) return 0;
    break;
  }
  case 2:
  case 9: {
    uint64_t start;
    uint32_t fragment;
    size_t q;
    if (type == 2) {
      if (p + 16 > len) return 0;
      start = u32(b + p);
      fragment = u32(b + p + 4);
      f->size = u32(b + p + 12);
      q = p + 16;
    } else {
      if (p + 40 > len) return 0;
      uint32_t h0 = u32(b + p + 4), h1 = u32(b + p + 12);
      if (h0 >= 0x200000 || h1 >= 0x200000 || u32(b + p + 20) >= 0x200000) return 0;
      start = (uint64_t)h0 << 32 | u32(b + p);
      f->size = (uint64_t)h1 << 32 | u32(b + p + 8);
      fragment = u32(b + p + 28);
      xattr = u32(b + p + 36);
      q = p + 40;
    }
    int has_fragment = fragment != NONE32;
    if (has_fragment && fragment >= c->fragments) return 0;
    uint64_t count = has_fragment ? f->size / c->block_size : (f->size + c->block_size - 1) / c->block_size;
    uint64_t table = c->dir_start - c->inode_start;
    if (count * 4 > (table + 2) / 3 * META + 4 * META) return 0;
    if (count > EAGER_BLOCKS) break;
    if (q + count * 4 > len) return 0;
    if (count >= LONG_BLOCK_LIST && set_has(&c->lists, at, 0)) break;
    uint64_t pos = start;
    int stored = 0;
    for (uint64_t i = 0; i < count; i++) {
      uint32_t w = u32(b + q + i * 4);
      if (w >= 0x2000000) return 0;
      uint32_t disk = w & 0xffffff;
      if (disk > c->block_size) return 0;
      pos += disk;
      if (w) stored = 1;
    }
    if (stored && (start < SB_SIZE || pos > c->inode_start)) return 0;
    if (count >= LONG_BLOCK_LIST && set_has(&c->lists, at, 1) < 0) return 0;
    break;
  }
  case 3:
  case 10: {
    if (p + 8 > len) return 0;
    uint32_t k = u32(b + p + 4);
    if (k > SYMLINK_MAX || p + 8 + k + (type == 10 ? 4 : 0) > len) return 0;
    f->target_at = p + 8;
    f->target_len = k;
    f->size = k;
    if (type == 10) xattr = u32(b + p + 8 + k);
    break;
  }
  case 4:
  case 5:
  case 11:
  case 12:
    if (p + (type > 7 ? 12 : 8) > len) return 0;
    f->rdev = u32(b + p + 4);
    if (type > 7) xattr = u32(b + p + 8);
    break;
  default:
    if (p + (type > 7 ? 8 : 4) > len) return 0;
    if (type > 7) xattr = u32(b + p + 4);
  }
  return xattr == NONE32 || (int64_t)xattr < c->xattr_count;
}

static int room(ctx_t *c, size_t k) {
  if (c->n + k <= c->cap) return 1;
  size_t cap = c->cap ? c->cap : (size_t)1 << 20;
  while (cap < c->n + k) cap *= 2;
  if (cap > OUT_CAP) {
    if (c->n + k > OUT_CAP) return 0;
    cap = OUT_CAP;
  }
  uint8_t *o = realloc(c->out, cap);
  if (!o) return 0;
  c->out = o;
  c->cap = cap;
  return 1;
}

static void put(ctx_t *c, const void *p, size_t k) {
  memcpy(c->out + c->n, p, k);
  c->n += k;
}

/* `v` right-aligned in `width` columns (wider when it needs to be) */
static void put_decimal(ctx_t *c, uint64_t v, int width) {
  uint8_t d[24];
  int k = 24;
  do d[--k] = (uint8_t)('0' + v % 10);
  while ((v /= 10) > 0);
  int digits = 24 - k;
  if (width > digits) {
    memset(c->out + c->n, ' ', (size_t)(width - digits));
    c->n += (size_t)(width - digits);
  }
  memcpy(c->out + c->n, d + k, (size_t)digits);
  c->n += (size_t)digits;
}

static void put2(ctx_t *c, unsigned v) {
  c->out[c->n++] = (uint8_t)('0' + v / 10);
  c->out[c->n++] = (uint8_t)('0' + v % 10);
}

/* " 2020-09-13 12:26 " (UTC) */
static void put_time(ctx_t *c, uint32_t t) {
  int64_t z = t / 86400 + 719468;
  unsigned secs = t % 86400;
  int64_t era = z / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = (int64_t)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;
  c->out[c->n++] = ' ';
  put_decimal(c, (uint64_t)y, 0);
  c->out[c->n++] = '-';
  put2(c, m);
  c->out[c->n++] = '-';
  put2(c, d);
  c->out[c->n++] = ' ';
  put2(c, secs / 3600);
  c->out[c->n++] = ':';
  put2(c, secs / 60 % 60);
  c->out[c->n++] = ' ';
}

static void put_mode(ctx_t *c, unsigned kind, unsigned mode) {
  static const char type[] = "?d-lbcps";
  uint8_t *o = c->out + c->n;
  o[0] = (uint8_t)type[kind];
  static const unsigned special[3] = {04000, 02000, 01000};
  static const char ch[3] = {'s', 's', 't'};
  for (int i = 0; i < 3; i++) {
    unsigned bits = mode >> (6 - 3 * i) & 7;
    o[1 + 3 * i] = bits & 4 ? 'r' : '-';
    o[2 + 3 * i] = bits & 2 ? 'w' : '-';
    if (mode & special[i]) o[3 + 3 * i] = (uint8_t)(bits & 1 ? ch[i] : ch[i] - 32);
    else o[3 + 3 * i] = bits & 1 ? 'x' : '-';
  }
  o[10] = ' ';
  c->n += 11;
}

/* one line of the listing: list.ts line() */
static int line(ctx_t *c, const fields_t *f, const uint8_t *path, size_t path_len, const uint8_t *name, size_t name_len, int long_form) {
  if (!room(c, path_len + name_len + (f->kind == 3 ? f->target_len : 0) + 128)) return 0;
  if (long_form) {
    put_mode(c, f->kind, f->mode);
    uint32_t key = ((uint32_t)f->uid << 16 | f->gid) + 1;
    if (key != c->last_ids) {
      size_t at = c->n;
      put_decimal(c, c->ids[f->uid], 0);
      c->out[c->n++] = '/';
      put_decimal(c, c->ids[f->gid], 0);
      c->ids_len = c->n - at;
      memcpy(c->ids_text, c->out + at, c->ids_len);
      c->n = at;
      c->last_ids = key;
    }
    put(c, c->ids_text, c->ids_len);
    int padchars = 25 - (int)c->ids_len + 1;
    c->out[c->n++] = ' ';
    if (f->kind == 4 || f->kind == 5) {
      unsigned major = f->rdev >> 8 & 0xfff, minor = (f->rdev & 0xff) | (f->rdev >> 20) << 8;
      for (int i = 7; i < padchars; i++) c->out[c->n++] = ' ';
      put_decimal(c, major, 3);
      c->out[c->n++] = ',';
      put_decimal(c, minor, 3);
    } else put_decimal(c, f->kind <= 3 ? f->size : 0, padchars);
    if ((uint64_t)f->mtime + 1 != c->last_mtime) {
      size_t at = c->n;
      put_time(c, f->mtime);
      memcpy(c->time_text, c->out + at, 18);
      c->n = at;
      c->last_mtime = (uint64_t)f->mtime + 1;
    }
    put(c, c->time_text, 18);
  }
  put(c, path, path_len);
  put(c, name, name_len);
  if (long_form && f->kind == 3) {
    put(c, " -> ", 4);
    put(c, c->it.b + f->target_at, f->target_len);
  }
  c->out[c->n++] = '\n';
  return 1;
}

/* list.ts fastListing: the listing at `at` (`length` bytes) of the directory table as records */
static int fast_listing(ctx_t *c, size_t at, size_t length) {
  const uint8_t *b = c->dt.b;
  size_t end = at + length;
  if (end > c->dt.len) return 0;
  const uint8_t *prev = NULL;
  size_t prev_len = 0;
  for (size_t p = at; p < end;) {
    if (p + 12 > end) return 0;
    uint64_t count = (uint64_t)u32(b + p) + 1;
    uint32_t block = u32(b + p + 4), base = u32(b + p + 8);
    if (count > DIR_COUNT) return 0;
    p += 12;
    for (unsigned i = 0; i < count; i++) {
      if (p + 8 > end) return 0;
      unsigned offset = u16(b + p), type = u16(b + p + 4), name_size = u16(b + p + 6) + 1u;
      int delta = (int16_t)u16(b + p + 2);
      if (type < 1 || type > 7 || name_size > NAME_MAX_SQ || offset >= META || p + 8 + name_size > end) return 0;
      const uint8_t *name = b + p + 8;
      if (memchr(name, '/', name_size) || memchr(name, 0, name_size)) return 0;
      if (name_size <= 2 && name[0] == '.' && name[name_size - 1] == '.') return 0;
      if (prev) {
        size_t m = prev_len < name_size ? prev_len : name_size;
        int d = memcmp(prev, name, m);
        if (d == 0) d = prev_len < name_size ? -1 : prev_len > name_size ? 1 : 0;
        if (d >= 0) return 0;
      }
      prev = name;
      prev_len = name_size;
      int64_t number = (int64_t)base + delta;
      if (number < 1 || number > 0xffffffffLL) return 0;
      if (c->rec_top == c->rec_cap) {
        size_t cap = c->rec_cap ? c->rec_cap * 2 : 1024;
        struct rec *r = realloc(c->recs, cap * sizeof *r);
        if (!r) return 0;
        c->recs = r;
        c->rec_cap = cap;
      }
      c->recs[c->rec_top++] = (struct rec){name, name_size, block, (uint32_t)number, (uint16_t)offset, (uint16_t)type};
      p += 8 + name_size;
    }
  }
  return 1;
}

typedef struct {
  size_t from, to, next, path_len;
} frame_t;

static int walk(ctx_t *c, int long_form) {
  static const char prefix[] = "squashfs-root";
  const size_t prefix_len = sizeof prefix - 1;
  fields_t f;
  uint64_t root_block = c->root >> 16;
  uint32_t root_offset = (uint32_t)(c->root & 0xffff);
  if (!fast_inode(c, root_block, root_offset, &f) || f.kind != 1) return 0;
  if (!line(c, &f, (const uint8_t *)prefix, prefix_len, (const uint8_t *)"", 0, long_form)) return 0;
  frame_t *frames = malloc((MAX_DEPTH + 2) * sizeof *frames);
  if (!frames) return 0;
  size_t nf = 0;
  int ok = 0;
  if (!buf_put(&c->path, prefix, prefix_len) || !buf_put(&c->path, "/", 1)) goto done;
  if (set_has(&c->seen, (uint64_t)1 << 62 | f.number, 1) < 0) goto done;
  for (;;) {
    /* enter the directory in f */
    if (nf > MAX_DEPTH || c->seen.n > 2 * (uint64_t)c->inodes + 2) goto done;
    size_t from = c->rec_top;
    if (f.offset >= META) goto done;
    if (f.size > 3) {
      int64_t at = run_pos(&c->dt, f.start_block, f.offset);
      if (at < 0 || !fast_listing(c, (size_t)at, (size_t)(f.size - 3))) goto done;
    }
    frames[nf++] = (frame_t){from, c->rec_top, from, c->path.len};
    /* the next directory to enter, printing the entries before it */
    for (;;) {
      if (nf == 0) {
        ok = 1;
        goto done;
      }
      frame_t *fr = &frames[nf - 1];
      if (fr->next >= fr->to) {
        c->rec_top = fr->from;
        nf--;
        continue;
      }
      const struct rec *r = &c->recs[fr->next++];
      c->path.len = fr->path_len;
      if (r->kind == 1) {
        uint64_t ref = (uint64_t)r->block << 16 | r->offset, num = (uint64_t)1 << 62 | r->inode_number;
        if (set_has(&c->seen, ref, 0) || set_has(&c->seen, num, 0)) goto done;
        if (set_has(&c->seen, ref, 1) < 0 || set_has(&c->seen, num, 1) < 0) goto done;
      }
      if (!fast_inode(c, r->block, r->offset, &f) || f.kind != r->kind) goto done;
      if (!line(c, &f, c->path.p, fr->path_len, r->name, r->name_len, long_form)) goto done;
      if (r->kind == 1) {
        if (!buf_put(&c->path, r->name, r->name_len) || !buf_put(&c->path, "/", 1)) goto done;
        break;
      }
    }
  }
done:
  free(frames);
  return ok;
}

/* the directory table, decoded on a second thread while the inode table decodes */
typedef struct {
  ctx_t *c;
  run_t r;
  uint64_t used;
  int ok;
} table_job_t;

static void *dir_table(void *arg) {
  table_job_t *j = arg;
  j->ok = load_table(j->c, j->c->dir_start, j->c->dir_end, TABLE_BUDGET, &j->r, &j->used);
  return NULL;
}

int sq_list(const char *path, int long_form, sq_decode_fn decode, uint8_t **out, size_t *len) {
  ctx_t c;
  memset(&c, 0, sizeof c);
  c.decode = decode;
  c.fd = open(path, O_RDONLY | O_CLOEXEC);
  if (c.fd < 0) return 0;
  struct stat st;
  int ok = 0;
  uint64_t used = 0;
  table_job_t dj = {&c, {0}, 0, 0};
  if (fstat(c.fd, &st) || !S_ISREG(st.st_mode)) goto done;
  c.size = (uint64_t)st.st_size;
  if (!open_image(&c)) goto done;
  pthread_t t;
  int threaded = pthread_create(&t, NULL, dir_table, &dj) == 0;
  int inodes_ok = load_table(&c, c.inode_start, c.dir_start, TABLE_BUDGET, &c.it, &used);
  if (threaded) pthread_join(t, NULL);
  else dir_table(&dj);
  c.dt = dj.r;
  /* preload's budget: the directory table gets what the inode table left */
  if (!inodes_ok || !dj.ok || c.dir_end - c.dir_start > TABLE_BUDGET - used || (uint64_t)c.dt.nb * META > TABLE_BUDGET - used) goto done;
  /* room for lines of ~128 bytes up front (pages are only touched as the listing fills them) */
  c.cap = (uint64_t)c.inodes * 128 + 4096 < OUT_CAP ? (size_t)c.inodes * 128 + 4096 : OUT_CAP;
  if (!(c.out = malloc(c.cap))) goto done;
  ok = walk(&c, long_form);
done:
  close(c.fd);
  free(c.ids);
  free(c.it.b), free(c.it.off), free(c.it.pos);
  free(c.dt.b), free(c.dt.off), free(c.dt.pos);
  free(c.seen.k);
  free(c.lists.k);
  free(c.path.p);
  free(c.recs);
  if (ok) {
    *out = c.out;
    *len = c.n;
  } else free(c.out);
  return ok;
}
