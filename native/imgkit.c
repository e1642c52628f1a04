/*
 * imgkit's native codecs: the system's zlib, libzstd, liblz4 and liblzma, the libraries mksquashfs
 * links, so squashfs blocks come out as mksquashfs's do; and libdeflate, a faster deflate encoder
 * (other bytes than zlib's) for squashfs gzip blocks when asked for (-Xlibdeflate). Each codec is compiled in only when the build
 * found its header (scripts/build-native.mjs writes config.h) and is offered only when its library
 * opens at run time; `codecs` names the ones present, with their versions.
 *
 * The libraries are opened with dlopen and their functions looked up with dlsym: Node's own binary
 * exports a zlib under the plain names (deflateInit2_ …), and a linked -lz would bind to those, not
 * to the system's zlib; RTLD_DEEPBIND keeps the library's calls to itself inside it too. config.h
 * holds each header's absolute path (IMGKIT_*_H), because Node's include directory, which
 * node-gyp puts first, has a zlib.h of its own.
 *
 * It also lists a file's xattrs in the kernel's order (listXattrs), which Node cannot; decodes
 * blocks on the thread pool for extraction (decodeAsync, or decodeFileAsync, which reads them
 * there too); decodes .xz and .lzma streams a piece of at most 1 MiB at a time (lzmaDecoder); copies file ranges in the kernel (copyRangeAsync, for
 * bootimg), or through a buffer while summing their CRC-32 (copyCrcAsync, for uImages); and sets
 * glibc's mmap threshold (mmapThreshold); and makes extracted files and symlinks, data, owner,
 * mode and times, many to a thread-pool job (makeEntriesAsync).
 *
 * Every compressor has a synchronous form, f(input, ...) → Buffer, and an asynchronous one,
 * fAsync(input, ..., into?) → Promise<Buffer>, that runs on libuv's thread pool, or, while
 * compressSlots(n) limits them, on n compression workers of the addon's own. The caller must not change `input` until the promise settles (the
 * bytes are read in place, not copied). The compressors that write one output (deflate, zstd, lz4, xz,
 * libdeflate) put it in `into`, a Uint8Array of the caller's, when it fits, and resolve to a view of it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* copy_file_range */
#endif
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "config.h" /* written by scripts/build-native.mjs: the headers found */
#include "lzenc.h"
#include "zdeflate.h"
#include "sqlist.h"
#include "scan.h"

#ifdef IMGKIT_ZLIB_H
#include IMGKIT_ZLIB_H
#define HAVE_ZLIB 1
static struct {
  int (*deflateInit2_)(z_streamp, int, int, int, int, int, const char *, int);
  uLong (*deflateBound)(z_streamp, uLong);
  int (*deflate)(z_streamp, int);
  int (*deflateEnd)(z_streamp);
  const char *(*zlibVersion)(void);
  int (*inflateInit_)(z_streamp, const char *, int);
  int (*inflate)(z_streamp, int);
  int (*inflateEnd)(z_streamp);
} zl;
#endif
#ifdef IMGKIT_ZSTD_H
#include IMGKIT_ZSTD_H
#define HAVE_ZSTD 1
static struct {
  size_t (*ZSTD_compressBound)(size_t);
  ZSTD_CCtx *(*ZSTD_createCCtx)(void);
  size_t (*ZSTD_compressCCtx)(ZSTD_CCtx *, void *, size_t, const void *, size_t, int);
  size_t (*ZSTD_freeCCtx)(ZSTD_CCtx *);
  unsigned (*ZSTD_isError)(size_t);
  const char *(*ZSTD_versionString)(void);
  ZSTD_DCtx *(*ZSTD_createDCtx)(void);
  size_t (*ZSTD_decompressDCtx)(ZSTD_DCtx *, void *, size_t, const void *, size_t);
  size_t (*ZSTD_freeDCtx)(ZSTD_DCtx *);
} zs;
#if defined(ZSTD_VERSION_NUMBER) && ZSTD_VERSION_NUMBER >= 10400
/* libzstd's streaming decoder with its parameters (1.4+), for lzmaDecoder kind 3; zss_ok when found */
#define HAVE_ZSTD_STREAM 1
static struct {
  size_t (*ZSTD_decompressStream)(ZSTD_DStream *, ZSTD_outBuffer *, ZSTD_inBuffer *);
  size_t (*ZSTD_DCtx_setParameter)(ZSTD_DCtx *, ZSTD_dParameter, int);
  int (*ZSTD_getErrorCode)(size_t); /* ZSTD_ErrorCode (zstd_errors.h), an enum */
  const char *(*ZSTD_getErrorName)(size_t);
} zss;
static int zss_ok;
#endif
#endif
#if defined(IMGKIT_LZ4_H) && defined(IMGKIT_LZ4HC_H)
#include IMGKIT_LZ4_H
#include IMGKIT_LZ4HC_H
#define HAVE_LZ4 1
static struct {
  int (*LZ4_compressBound)(int);
  int (*LZ4_compress_default)(const char *, char *, int, int);
  int (*LZ4_compress_HC)(const char *, char *, int, int, int);
  const char *(*LZ4_versionString)(void);
} l4;
#endif

#ifdef IMGKIT_LZMA_H
#include IMGKIT_LZMA_H
#define HAVE_LZMA 1
static struct {
  lzma_ret (*lzma_stream_buffer_encode)(lzma_filter *, lzma_check, const lzma_allocator *, const uint8_t *, size_t, uint8_t *, size_t *, size_t);
  size_t (*lzma_stream_buffer_bound)(size_t);
  lzma_bool (*lzma_lzma_preset)(lzma_options_lzma *, uint32_t);
  const char *(*lzma_version_string)(void);
  lzma_ret (*lzma_stream_buffer_decode)(uint64_t *, uint32_t, const lzma_allocator *, const uint8_t *, size_t *, size_t, uint8_t *, size_t *, size_t);
  lzma_ret (*lzma_alone_encoder)(lzma_stream *, const lzma_options_lzma *);
  lzma_ret (*lzma_code)(lzma_stream *, lzma_action);
  void (*lzma_end)(lzma_stream *);
  lzma_ret (*lzma_raw_encoder)(lzma_stream *, const lzma_filter *);
  lzma_bool (*lzma_filter_encoder_is_supported)(lzma_vli);
  lzma_ret (*lzma_stream_decoder)(lzma_stream *, uint64_t, uint32_t);
  lzma_ret (*lzma_alone_decoder)(lzma_stream *, uint64_t);
  lzma_ret (*lzma_raw_decoder)(lzma_stream *, const lzma_filter *);
  uint64_t (*lzma_raw_decoder_memusage)(const lzma_filter *);
  lzma_bool (*lzma_filter_decoder_is_supported)(lzma_vli);
} lz;
#endif

#ifdef IMGKIT_LIBDEFLATE_H
#include IMGKIT_LIBDEFLATE_H
#define HAVE_LIBDEFLATE 1
static struct {
  struct libdeflate_compressor *(*alloc)(int);
  size_t (*zlib_compress)(struct libdeflate_compressor *, const void *, size_t, void *, size_t);
  size_t (*zlib_bound)(struct libdeflate_compressor *, size_t);
  void (*free_compressor)(struct libdeflate_compressor *);
  struct libdeflate_decompressor *(*alloc_decompressor)(void);
  enum libdeflate_result (*zlib_decompress_ex)(struct libdeflate_decompressor *, const void *, size_t, void *, size_t, size_t *, size_t *);
  void (*free_decompressor)(struct libdeflate_decompressor *);
  uint32_t (*crc32)(uint32_t, const void *, size_t);
} ld;
static int ld_ok; /* every function above was found */
#endif

/* Opens `lib` privately and fills the `n` function pointers that start `fns` (a struct of
 * function pointers, laid out as an array) from `names`; 0 if any is missing. */
static int open_lib(const char *lib, void **fns, const char *const *names, size_t n) {
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (!h) return 0;
  for (size_t i = 0; i < n; i++) {
    fns[i] = dlsym(h, names[i]);
    if (!fns[i]) return 0;
  }
  return 1;
}

enum kind { DEFLATE, ZSTD, LZ4, XZ, LIBDEFLATE, LZMA_ALONE, LZMA_SIZED, LZMA_OWN };

typedef struct job {
  enum kind kind;
  const uint8_t *in;
  size_t in_len;
  /* deflate: level, windowBits, memLevel, strategy, engine; zstd: level; lz4: hc; libdeflate: level;
   * xz: preset (+256: extreme), dictionary size, lc, lp, pb (-1: the preset's), BCJ filter id (0: none);
   * lzma alone and sized: preset (+256: extreme), dictionary size, lc, lp, pb;
   * lzma own: those and flags (1: the size in the header, 2: an end marker; threads << 8, 0: the cores) */
  int a, b, c, d, e, f;
  uint8_t *out;
  size_t out_len;
  /* the caller's buffer for the result (optional): the bytes go there when they fit (out stays
   * NULL, in_into set), and the result is a view of it rather than a new Buffer */
  uint8_t *into;
  size_t into_len;
  int in_into;
  napi_ref into_ref;
  const char *error; /* static text */
  napi_ref in_ref;
  napi_deferred deferred;
  napi_async_work work;
  /* run by the compression workers (run_async with slots claimed): the next in their queue, and
   * the submitting environment's port (port_t), through which the result goes back */
  struct job *next;
  struct port *port;
} job_t;

/* A mutex-protected list of idle objects kept for reuse (zstd contexts), at most 16. */
typedef struct {
  pthread_mutex_t lock;
  void *items[16];
  int count;
} keep_t;

/* An idle object, or NULL when none is kept. */
static void *keep_take(keep_t *k) {
  void *p = NULL;
  pthread_mutex_lock(&k->lock);
  if (k->count) p = k->items[--k->count];
  pthread_mutex_unlock(&k->lock);
  return p;
}

/* Keeps `p` when there is room: NULL; otherwise `p`, for the caller to free. */
static void *keep_give(keep_t *k, void *p) {
  pthread_mutex_lock(&k->lock);
  if (k->count < 16) {
    k->items[k->count++] = p;
    p = NULL;
  }
  pthread_mutex_unlock(&k->lock);
  return p;
}

#ifdef HAVE_ZSTD
/*
 * zstd contexts are kept for reuse, as mksquashfs keeps one per thread: a level-15 compression
 * context for 1 MiB blocks is tens of MB, and allocating one per block left glibc's per-thread
 * arenas holding freed contexts (peak RSS +30 MB). A list holds at most as many contexts as
 * blocks were ever (de)compressed at once. Reuse does not change the output. Inputs of 8 KiB or
 * less (metadata blocks, compressed on the main thread while the workers compress data blocks)
 * have contexts of their own: one taken from the data blocks' list would be a third large one
 * there, once given back (real tree, zstd -b 1M: peak RSS +20 MB).
 */
#define SMALL_INPUT 8192
static keep_t cctxs = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
static keep_t cctxs_small = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
static keep_t dctxs = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
#endif
#ifdef HAVE_LIBDEFLATE
/* libdeflate compressors (one per level 1–12, each used by one thread at a time), kept for reuse
 * as zstd's contexts are: a compressor is reset by every call, so reuse does not change the output. */
#define K PTHREAD_MUTEX_INITIALIZER, {0}, 0
static keep_t ldcs[13] = {{K}, {K}, {K}, {K}, {K}, {K}, {K}, {K}, {K}, {K}, {K}, {K}, {K}};
#undef K
static keep_t ldds = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};
#endif

#ifdef HAVE_LZMA
/*
 * liblzma allocates an encoder's match finder (megabytes: ~12 MB for a 1 MiB dictionary) on every
 * lzma_stream_buffer_encode call and frees it on return. Large blocks are kept here for the next
 * block instead: no page faults for fresh memory each block, and nothing left in glibc's
 * per-thread arenas. A header in front of each block remembers its size; liblzma zeroes what it
 * needs zeroed itself. trimCaches() frees the kept blocks.
 */
#define XA_HEAD 16
#define XA_MIN (64 * 1024)
#define XA_SLOTS 32
#define XA_MAX_BYTES ((size_t)96 << 20)
static pthread_mutex_t xa_lock = PTHREAD_MUTEX_INITIALIZER;
static void *xa_free[XA_SLOTS];
static int xa_count;
static size_t xa_bytes;

static void *xa_alloc(void *opaque, size_t nmemb, size_t size) {
  (void)opaque;
  if (size && nmemb > (SIZE_MAX - XA_HEAD) / size) return NULL;
  size_t n = nmemb * size;
  if (n >= XA_MIN) {
    pthread_mutex_lock(&xa_lock);
    for (int i = 0; i < xa_count; i++) {
      size_t *h = xa_free[i];
      if (*h != n) continue;
      xa_free[i] = xa_free[--xa_count];
      xa_bytes -= n;
      pthread_mutex_unlock(&xa_lock);
      return (uint8_t *)h + XA_HEAD;
    }
    pthread_mutex_unlock(&xa_lock);
  }
  size_t *h = malloc(n + XA_HEAD);
  if (!h) return NULL;
  *h = n;
  return (uint8_t *)h + XA_HEAD;
}

static void xa_release(void *opaque, void *ptr) {
  (void)opaque;
  if (!ptr) return;
  size_t *h = (size_t *)((uint8_t *)ptr - XA_HEAD);
  if (*h >= XA_MIN) {
    pthread_mutex_lock(&xa_lock);
    if (xa_count < XA_SLOTS && xa_bytes + *h <= XA_MAX_BYTES) {
      xa_free[xa_count++] = h;
      xa_bytes += *h;
      h = NULL;
    }
    pthread_mutex_unlock(&xa_lock);
  }
  free(h);
}

static const lzma_allocator xa = {xa_alloc, xa_release, NULL};

static void xa_trim(void) {
  pthread_mutex_lock(&xa_lock);
  while (xa_count) free(xa_free[--xa_count]);
  xa_bytes = 0;
  pthread_mutex_unlock(&xa_lock);
}
#endif

#ifdef HAVE_LZMA
/* The LZMA options of an xz or lzma job: preset a (+256: extreme), dictionary size b, and lc/lp/pb
 * c/d/e where not -1. 0 (with the job's error set) for a preset outside 0–9. */
static int lzma_options(job_t *j, lzma_options_lzma *opt) {
  if (j->a < 0 || (j->a & 0xff) > 9 || j->a > 0x1ff || lz.lzma_lzma_preset(opt, (uint32_t)(j->a & 0xff) | (j->a & 0x100 ? LZMA_PRESET_EXTREME : 0))) {
    j->error = "bad lzma preset";
    return 0;
  }
  opt->dict_size = (uint32_t)j->b;
  if (j->c >= 0) opt->lc = (uint32_t)j->c;
  if (j->d >= 0) opt->lp = (uint32_t)j->d;
  if (j->e >= 0) opt->pb = (uint32_t)j->e;
  return 1;
}

/* Runs `st` over the whole input into a new j->out, after `head` bytes left for a header, growing it
 * for incompressible input; ends the stream. Sets j->error on failure. */
static void code_whole(job_t *j, lzma_stream *st, size_t head) {
  size_t cap = head + j->in_len + j->in_len / 16 + 4096;
  lzma_ret r = LZMA_OK;
  j->out = malloc(cap);
  st->next_in = j->in;
  st->avail_in = j->in_len;
  while (j->out) {
    st->next_out = j->out + head + st->total_out;
    st->avail_out = cap - head - (size_t)st->total_out;
    r = lz.lzma_code(st, LZMA_FINISH);
    if (r != LZMA_OK) break;
    if (st->avail_out == 0) { /* incompressible input: grow */
      uint8_t *more = cap < SIZE_MAX / 2 ? realloc(j->out, cap * 2) : NULL;
      if (!more) { free(j->out); j->out = NULL; break; }
      j->out = more;
      cap *= 2;
    }
  }
  j->out_len = head + (size_t)st->total_out;
  lz.lzma_end(st);
  if (!j->out) j->error = "out of memory";
  else if (r != LZMA_STREAM_END) j->error = r == LZMA_MEM_ERROR ? "out of memory" : "lzma_code failed";
}
#endif

#ifdef HAVE_ZLIB
/*
 * imgkit's deflate (zdeflate.c) gives zlib's bytes for levels 4–9 with windowBits 15, memLevel 8
 * and the default, filtered or fixed strategy, about three times as fast at level 9: it finds the same matches through chains of
 * longer strings. It is used for a level and strategy once it has given the system zlib's own bytes
 * for a sample with them (another zlib, such as zlib-ng's, makes other choices), unless IMGKIT_ZDEFLATE=0.
 * Each thread keeps one state (~1 MiB), freed when the thread ends.
 */
static int zd_off;
static pthread_key_t zd_key;
static pthread_once_t zd_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t zd_lock = PTHREAD_MUTEX_INITIALIZER;
static signed char zd_checked[10][5]; /* per level and strategy: 0 not yet, 1 zlib's bytes, -1 other bytes */

static void zd_key_make(void) { pthread_key_create(&zd_key, (void (*)(void *))zd_free); }

static zd_state *zd_thread(void) {
  pthread_once(&zd_once, zd_key_make);
  zd_state *z = pthread_getspecific(zd_key);
  if (!z && (z = zd_new()) && pthread_setspecific(zd_key, z)) zd_free(z), z = NULL;
  return z;
}

static int zd_fits(const job_t *j) { return j->a >= 4 && j->a <= 9 && j->b == 15 && j->c == 8 && (j->d == ZD_DEFAULT || j->d == ZD_FILTERED || j->d == ZD_FIXED); }

/* A fixed sample that exercises literals, short and long matches, runs, incompressible stretches,
 * several blocks and a window slide. */
static void zd_sample(uint8_t *b, size_t n) {
  static const char *const words[] = {"boot", "image", " ", "kernel", "\n", "squashfs", "0x", "ramdisk", ", ", "device tree", "\t", "initrd"};
  uint64_t x = 0x2545F4914F6CDD1Dull;
  size_t i = 0;
  while (i < n) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    size_t len = 1 + (size_t)(x >> 40) % 300, k;
    switch ((x >> 8) % 5) {
    case 0: for (k = 0; k < 8 && i < n; k++) for (const char *w = words[(x >> (16 + 3 * k)) % 12]; *w && i < n; w++) b[i++] = (uint8_t)*w; break;
    case 1: for (k = 0; k < len % 64 && i < n; k++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, b[i++] = (uint8_t)x; break;
    case 2: {
      size_t d = 1 + (size_t)(x >> 20) % 40000;
      if (d <= i) for (k = 0; k < len && i < n; k++, i++) b[i] = b[i - d];
      break;
    }
    case 3: for (k = 0; k < len && i < n; k++) b[i++] = (uint8_t)(x >> 32); break;
    default: for (k = 0; k < len && i < n; k++, i++) b[i] = (uint8_t)(i >= 4 ? b[i - 4] + 1 : 0);
    }
  }
}

/* One zlib stream from the system's zlib into a new *out; its length, 0 on failure. */
static size_t zlib_whole(const uint8_t *in, size_t n, int level, int wbits, int mem, int strategy, uint8_t **out) {
  z_stream s;
  memset(&s, 0, sizeof s);
  *out = NULL;
  if (zl.deflateInit2_(&s, level, Z_DEFLATED, wbits, mem, strategy, ZLIB_VERSION, (int)sizeof s) != Z_OK) return 0;
  size_t cap = zl.deflateBound(&s, (uLong)n);
  *out = malloc(cap ? cap : 1);
  int r = Z_MEM_ERROR;
  if (*out) {
    s.next_in = (Bytef *)in, s.avail_in = (uInt)n, s.next_out = *out, s.avail_out = (uInt)cap;
    r = zl.deflate(&s, Z_FINISH);
  }
  zl.deflateEnd(&s);
  return r == Z_STREAM_END ? s.total_out : 0;
}

/* Whether imgkit's deflate gives the system zlib's bytes at this level (checked once, on a sample
 * and on a short prefix of it, which takes the search path of short input). */
static int zd_usable(int level, int strategy) {
  if (zd_off) return 0;
  pthread_mutex_lock(&zd_lock);
  if (!zd_checked[level][strategy]) {
    size_t n = 100000, sizes[2] = {n, 5000};
    uint8_t *sample = malloc(n), *mine = malloc(2 * n);
    zd_state *z = zd_new();
    int ok = sample && mine && z;
    if (ok) zd_sample(sample, n);
    for (int i = 0; ok && i < 2; i++) {
      uint8_t *theirs;
      size_t len = zlib_whole(sample, sizes[i], level, 15, 8, strategy, &theirs);
      ok = len && zd_deflate(z, sample, sizes[i], level, strategy, 1, mine, 2 * n) == len && !memcmp(mine, theirs, len);
      free(theirs);
    }
    zd_free(z);
    free(mine);
    free(sample);
    zd_checked[level][strategy] = ok ? 1 : -1;
  }
  int ok = zd_checked[level][strategy] > 0;
  pthread_mutex_unlock(&zd_lock);
  return ok;
}

/* zdeflateUsable(level[, strategy]) → boolean: whether deflate at `level` (windowBits 15, memLevel 8,
 * the strategy, default 0) runs imgkit's deflate, the system zlib's bytes. */
static napi_value zd_usable_fn(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  int32_t level = 0, strategy = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], &level) != napi_ok ||
      (argc > 1 && napi_get_value_int32(env, argv[1], &strategy) != napi_ok)) {
    napi_throw_type_error(env, NULL, "imgkit native: level and strategy must be numbers");
    return NULL;
  }
  job_t j = {.a = level, .b = 15, .c = 8, .d = strategy};
  napi_get_boolean(env, zd_fits(&j) && zd_usable(level, strategy), &out);
  return out;
}
#endif

/*
 * Compressors write into a buffer of their thread's, and the result is copied into one of its
 * exact size: a block's bound is just over the block, above the mmap threshold that pack sets
 * (128 KiB), so a malloc(bound) per block was an mmap of its own and, freed on the main thread, a
 * munmap whose TLB shootdown interrupted the threads still compressing. Bounds over SCRATCH_MAX
 * (1 MiB blocks) keep their own allocation: fewer of them, and no megabyte kept per thread.
 */
#define SCRATCH_MAX (512u << 10)
static __thread uint8_t *scratch;

/* A buffer of `cap` bytes for this thread's next result: the thread's own, or a new one (NULL: out of memory). */
static uint8_t *out_buffer(size_t cap) {
  if (cap > SCRATCH_MAX) return malloc(cap);
  if (!scratch) scratch = malloc(SCRATCH_MAX);
  return scratch;
}

/* Makes `buf` (from out_buffer) the job's result of `len` bytes, or frees it when `ok` is 0. */
static void set_out(job_t *j, uint8_t *buf, size_t len, int ok) {
  if (ok && j->into && len <= j->into_len) {
    memcpy(j->into, buf, len);
    if (buf != scratch) free(buf);
    j->out_len = len;
    j->in_into = 1;
    return;
  }
  if (buf != scratch) {
    if (ok) { j->out = buf; j->out_len = len; }
    else free(buf);
    return;
  }
  if (!ok) return;
  j->out = malloc(len ? len : 1);
  if (!j->out) { j->error = "out of memory"; return; }
  memcpy(j->out, buf, len);
  j->out_len = len;
}

/* Runs the job: sets out/out_len, or error. Safe on any thread. */
static void run(job_t *j) {
  switch (j->kind) {
  case LZMA_OWN: {
    /* imgkit's own encoder (lzenc.c): the preset's nice_len (liblzma's for presets 4-9: 16, 32,
     * 64; extreme 273 with depth 512), its match finder on a second thread when there are cores */
    int level = j->a & 0xff, threads = (j->f >> 8) & 0xff;
    if (j->a < 0 || level > 9 || j->a > 0x1ff) { j->error = "bad lzma preset"; return; }
    if (!threads) threads = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
    lzenc_options o = {.dict_size = (uint32_t)j->b, .lc = j->c, .lp = j->d, .pb = j->e,
                       .nice_len = j->a & 0x100 ? 273 : level <= 4 ? 16 : level == 5 ? 32 : 64, .depth = j->a & 0x100 ? 512 : 0,
                       .size_in_header = j->f & 1, .end_marker = (j->f >> 1) & 1, .threads = threads};
    j->out = lzenc_alone(j->in, j->in_len, &o, &j->out_len, &j->error);
    return;
  }
#ifdef HAVE_ZLIB
  case DEFLATE: {
    if (j->e == 2 && !zd_fits(j)) { j->error = "imgkit's deflate takes levels 4-9, windowBits 15, memLevel 8 and the default, filtered and fixed strategies"; return; }
    if (j->e == 2 || (j->e == 0 && zd_fits(j) && zd_usable(j->a, j->d))) {
      /* its output is zlib's, which never needs this much; a stream that would is left to zlib */
      size_t cap = j->in_len + (j->in_len >> 3) + 64, n = 0;
      zd_state *z = zd_thread();
      uint8_t *buf = z ? out_buffer(cap) : NULL;
      if (buf) n = zd_deflate(z, j->in, j->in_len, j->a, j->d, 1, buf, cap);
      if (buf) set_out(j, buf, n, n != 0);
      if (j->out || j->in_into || j->error) return;
      if (j->e == 2) { j->error = buf ? "imgkit's deflate left this input to zlib" : "out of memory"; return; }
    }
    z_stream s;
    memset(&s, 0, sizeof s);
    if (zl.deflateInit2_(&s, j->a, Z_DEFLATED, j->b, j->c, j->d, ZLIB_VERSION, (int)sizeof s) != Z_OK) { j->error = "deflateInit2 failed"; return; }
    size_t cap = zl.deflateBound(&s, (uLong)j->in_len);
    uint8_t *buf = out_buffer(cap);
    if (!buf) { zl.deflateEnd(&s); j->error = "out of memory"; return; }
    s.next_in = (Bytef *)j->in;
    s.avail_in = (uInt)j->in_len;
    s.next_out = buf;
    s.avail_out = (uInt)cap;
    int r = zl.deflate(&s, Z_FINISH);
    zl.deflateEnd(&s);
    set_out(j, buf, s.total_out, r == Z_STREAM_END);
    if (r != Z_STREAM_END) j->error = "deflate did not finish";
    return;
  }
#endif
#ifdef HAVE_ZSTD
  case ZSTD: {
    size_t cap = zs.ZSTD_compressBound(j->in_len);
    keep_t *keep = j->in_len <= SMALL_INPUT ? &cctxs_small : &cctxs;
    ZSTD_CCtx *c = keep_take(keep);
    if (!c && !(c = zs.ZSTD_createCCtx())) { j->error = "out of memory"; return; }
    uint8_t *buf = out_buffer(cap);
    size_t r = buf ? zs.ZSTD_compressCCtx(c, buf, cap, j->in, j->in_len, j->a) : 0;
    if ((c = keep_give(keep, c))) zs.ZSTD_freeCCtx(c);
    if (!buf) { j->error = "out of memory"; return; }
    set_out(j, buf, r, !zs.ZSTD_isError(r));
    if (zs.ZSTD_isError(r)) j->error = "ZSTD_compressCCtx failed";
    return;
  }
#endif
#ifdef HAVE_LZ4
  case LZ4: {
    if (j->in_len > LZ4_MAX_INPUT_SIZE) { j->error = "input too large for lz4"; return; }
    int cap = l4.LZ4_compressBound((int)j->in_len);
    uint8_t *buf = out_buffer((size_t)cap);
    if (!buf) { j->error = "out of memory"; return; }
    int r = j->a ? l4.LZ4_compress_HC((const char *)j->in, (char *)buf, (int)j->in_len, cap, LZ4HC_CLEVEL_MAX)
                 : l4.LZ4_compress_default((const char *)j->in, (char *)buf, (int)j->in_len, cap);
    int ok = r > 0 || j->in_len == 0;
    set_out(j, buf, ok ? (size_t)(r > 0 ? r : 0) : 0, ok);
    if (!ok) j->error = "lz4 compression failed";
    return;
  }
#endif
#ifdef HAVE_LZMA
  case XZ: {
    /* as mksquashfs's xz_wrapper: the preset's LZMA2 options with the dictionary set, an optional
     * BCJ filter first, a CRC32 check, one lzma_stream_buffer_encode call */
    lzma_options_lzma opt;
    if (!lzma_options(j, &opt)) return;
    lzma_filter filters[3];
    int k = 0;
    if (j->f) filters[k++] = (lzma_filter){(lzma_vli)j->f, NULL};
    filters[k++] = (lzma_filter){LZMA_FILTER_LZMA2, &opt};
    filters[k] = (lzma_filter){LZMA_VLI_UNKNOWN, NULL};
    size_t cap = lz.lzma_stream_buffer_bound(j->in_len), pos = 0;
    uint8_t *buf = out_buffer(cap);
    if (!buf) { j->error = "out of memory"; return; }
    lzma_ret r = lz.lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, &xa, j->in, j->in_len, buf, &pos, cap);
    set_out(j, buf, pos, r == LZMA_OK);
    if (r == LZMA_OPTIONS_ERROR) j->error = "xz options not supported";
    else if (r == LZMA_MEM_ERROR) j->error = "out of memory";
    else if (r != LZMA_OK) j->error = "lzma_stream_buffer_encode failed";
    return;
  }
#endif
#ifdef HAVE_LZMA
  case LZMA_ALONE: {
    /* as `xz --format=lzma --lzma1=preset=P,dict=D,lc=C,lp=L,pb=B`: lzma_alone_encoder over the
     * whole input (its header says "unknown size"; the stream ends with an end marker) */
    lzma_options_lzma opt;
    if (!lzma_options(j, &opt)) return;
    lzma_stream st = LZMA_STREAM_INIT;
    st.allocator = &xa;
    lzma_ret r = lz.lzma_alone_encoder(&st, &opt);
    if (r != LZMA_OK) { j->error = r == LZMA_MEM_ERROR ? "out of memory" : "lzma options not supported"; return; }
    code_whole(j, &st, 0);
    return;
  }
  case LZMA_SIZED: {
    /* an .lzma stream whose header holds the real size and whose data has no end marker, as the
     * LZMA SDK's `lzma e` writes it (OpenWrt's firmware tool): liblzma's raw LZMA1EXT encoder (5.4+)
     * behind a header of our own. The kernel's unlzma stops at the stated size, so nothing of the
     * stream is left to read as the next initramfs segment; U-Boot and lzma-loader need the size. */
    lzma_options_lzma opt;
    if (!lzma_options(j, &opt)) return;
    opt.ext_flags = 0;
    opt.ext_size_low = (uint32_t)j->in_len;
    opt.ext_size_high = (uint32_t)((uint64_t)j->in_len >> 32);
    lzma_filter filters[2] = {{LZMA_FILTER_LZMA1EXT, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    lzma_stream st = LZMA_STREAM_INIT;
    st.allocator = &xa;
    lzma_ret r = lz.lzma_raw_encoder(&st, filters);
    if (r != LZMA_OK) { j->error = r == LZMA_MEM_ERROR ? "out of memory" : "lzma options not supported"; return; }
    code_whole(j, &st, 13);
    if (j->error) return;
    lzenc_header(j->out, opt.dict_size, (int)opt.lc, (int)opt.lp, (int)opt.pb, (uint64_t)j->in_len);
    return;
  }
#endif
#ifdef HAVE_LIBDEFLATE
  case LIBDEFLATE: {
    if (j->a < 1 || j->a > 12) { j->error = "libdeflate level outside 1..12"; return; }
    struct libdeflate_compressor *c = keep_take(&ldcs[j->a]);
    if (!c && !(c = ld.alloc(j->a))) { j->error = "out of memory"; return; }
    size_t cap = ld.zlib_bound(c, j->in_len);
    uint8_t *buf = out_buffer(cap);
    size_t r = buf ? ld.zlib_compress(c, j->in, j->in_len, buf, cap) : 0;
    if ((c = keep_give(&ldcs[j->a], c))) ld.free_compressor(c);
    if (!buf) { j->error = "out of memory"; return; }
    set_out(j, buf, r, r != 0);
    if (!r) j->error = "libdeflate_zlib_compress failed";
    return;
  }
#endif
  default:
    j->error = "codec not built";
  }
}

/* An Error with `message`. */
static napi_value error_of(napi_env env, const char *message) {
  napi_value msg, err;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &err);
  return err;
}

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "imgkit native: N-API call failed"); return NULL; } } while (0)

/*
 * Queues `data` as async work named `name` (`execute` on the pool, then `complete` here), holding
 * up to two values through references (*a_ref for `a`, *b_ref for `b`; NULL for none), and
 * returns the promise that `complete` settles through *deferred. When N-API fails, it undoes what
 * it made (references, work; the promise, resolved, lets its deferred go), throws and returns NULL:
 * the caller then frees `data`.
 */
static napi_value queue_job(napi_env env, const char *name, napi_async_execute_callback execute, napi_async_complete_callback complete, void *data,
                            napi_deferred *deferred, napi_async_work *work, napi_value a, napi_ref *a_ref, napi_value b, napi_ref *b_ref) {
  napi_value promise, label, undefined;
  *deferred = NULL;
  *work = NULL;
  if (a_ref) *a_ref = NULL;
  if (b_ref) *b_ref = NULL;
  if ((!a_ref || napi_create_reference(env, a, 1, a_ref) == napi_ok) && (!b_ref || napi_create_reference(env, b, 1, b_ref) == napi_ok) &&
      napi_create_promise(env, deferred, &promise) == napi_ok && napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &label) == napi_ok &&
      napi_create_async_work(env, NULL, label, execute, complete, data, work) == napi_ok && napi_queue_async_work(env, *work) == napi_ok)
    return promise;
  if (*work) napi_delete_async_work(env, *work);
  if (*deferred && napi_get_undefined(env, &undefined) == napi_ok) napi_resolve_deferred(env, *deferred, undefined);
  if (a_ref && *a_ref) napi_delete_reference(env, *a_ref);
  if (b_ref && *b_ref) napi_delete_reference(env, *b_ref);
  napi_throw_error(env, NULL, "imgkit native: N-API call failed");
  return NULL;
}

/* Reads (input, int…) into a job; throws and returns 0 on bad arguments. */
static int parse(napi_env env, napi_callback_info info, job_t *j, size_t nints, napi_value *input, napi_value *into) {
  size_t argc = 9;
  napi_value argv[9];
  *into = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 + nints) {
    napi_throw_type_error(env, NULL, "imgkit native: missing arguments");
    return 0;
  }
  bool is;
  napi_is_typedarray(env, argv[0], &is);
  if (!is) { napi_throw_type_error(env, NULL, "imgkit native: input must be a Uint8Array"); return 0; }
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  napi_get_typedarray_info(env, argv[0], &type, &length, &data, &ab, &offset);
  if (type != napi_uint8_array) { napi_throw_type_error(env, NULL, "imgkit native: input must be a Uint8Array"); return 0; }
  j->in = data;
  j->in_len = length;
  int *ints[6] = {&j->a, &j->b, &j->c, &j->d, &j->e, &j->f};
  for (size_t i = 0; i < nints; i++) {
    int32_t v;
    if (napi_get_value_int32(env, argv[1 + i], &v) != napi_ok) { napi_throw_type_error(env, NULL, "imgkit native: option must be a number"); return 0; }
    *ints[i] = v;
  }
  /* deflate's optional engine (0: imgkit's when it is zlib's bytes, 1: zlib, 2: imgkit's) */
  if (j->kind == DEFLATE && argc > 1 + nints) {
    napi_valuetype t;
    napi_typeof(env, argv[1 + nints], &t);
    if (t != napi_undefined && (napi_get_value_int32(env, argv[1 + nints], &j->e) != napi_ok || j->e < 0 || j->e > 2)) {
      napi_throw_type_error(env, NULL, "imgkit native: engine must be 0, 1 or 2");
      return 0;
    }
  }
  /* an optional Uint8Array after the options: where the result goes when it fits */
  size_t at = 1 + nints + (j->kind == DEFLATE);
  if (argc > at) {
    napi_valuetype t;
    napi_typeof(env, argv[at], &t);
    if (t != napi_undefined) {
      napi_is_typedarray(env, argv[at], &is);
      if (is) napi_get_typedarray_info(env, argv[at], &type, &length, &data, &ab, &offset);
      if (!is || type != napi_uint8_array) { napi_throw_type_error(env, NULL, "imgkit native: the output must be a Uint8Array"); return 0; }
      j->into = data;
      j->into_len = length;
      *into = argv[at];
    }
  }
  *input = argv[0];
  return 1;
}

/* The result as a value: a view of the caller's buffer (`into`, whose bytes it holds), or a new Buffer. */
static napi_status result_value(napi_env env, job_t *j, napi_value into, napi_value *out) {
  if (!j->in_into) return napi_create_buffer_copy(env, j->out_len, j->out, NULL, out);
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  napi_status st = napi_get_typedarray_info(env, into, &type, &length, &data, &ab, &offset);
  return st != napi_ok ? st : napi_create_typedarray(env, napi_uint8_array, j->out_len, ab, offset, out);
}

static napi_value result(napi_env env, job_t *j, napi_value into) {
  napi_value out = NULL;
  if (j->error) napi_throw_range_error(env, NULL, j->error);
  else if (result_value(env, j, into, &out) != napi_ok) napi_throw_error(env, NULL, "imgkit native: cannot allocate the result");
  free(j->out);
  j->out = NULL;
  return out;
}

static napi_value run_sync(napi_env env, napi_callback_info info, enum kind kind, size_t nints) {
  job_t j;
  memset(&j, 0, sizeof j);
  j.kind = kind;
  napi_value input, into;
  if (!parse(env, info, &j, nints, &input, &into)) return NULL;
  run(&j);
  return result(env, &j, into);
}

/*
 * At most `gate_slots` compression jobs run at once (0: no limit), set by compressSlots(n). While
 * slots are claimed, compression jobs run on imgkit's own worker threads, one per slot, taking
 * jobs from one queue in order: a worker that finishes a block posts the result and goes straight
 * on to the next queued one on the same core, as mksquashfs's N compressor threads do. On libuv's
 * pool each block was a hand-over between threads (the finished job's thread signalling the one
 * waiting for a slot, the main thread waking another for the next block), and the scheduler,
 * keeping a just-preempted compressor on its busy core, left the other core idle in between
 * (real tree, zstd, 2 cores: ~4 of 40 core-seconds idle, compressors preempted 7,700 times).
 * Without slots, jobs go to libuv's pool, all at once (so does a job when no worker thread can be
 * made); only the workers count towards the slots and the peak.
 */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static int gate_slots, gate_busy, gate_peak;
/* the workers' queue (under gate_lock), the workers made, and how many of them wait on work_cond */
static pthread_cond_t work_cond = PTHREAD_COND_INITIALIZER;
static job_t *work_head, *work_tail;
static int work_threads, work_idle;

static int slot_free(void) { return !gate_slots || gate_busy < gate_slots; }

/* Set by compressFirst(true) on a JavaScript thread: its next jobs go to the front of the workers' queue. */
static _Thread_local int queue_first;

static void execute(napi_env env, void *data) {
  (void)env;
  run((job_t *)data);
}

/*
 * Per environment (the main thread, each worker_thread): the thread-safe function that brings the
 * workers' results back, referenced (keeping the event loop alive) while jobs are out. Node
 * deletes a thread-safe function when its environment ends, whatever threads still hold it, so
 * the workers call it only under `lock` while `tsfn` is set; the port itself lives while the
 * environment, its thread-safe function or a job of its holds a reference.
 */
typedef struct port {
  pthread_mutex_t lock;
  napi_threadsafe_function tsfn; /* NULL once Node has finalized it */
  int refs;                      /* the environment's, and one per job out (under lock) */
  size_t out;                    /* jobs out (the environment's thread only) */
} port_t;

static void port_unref(port_t *p) {
  pthread_mutex_lock(&p->lock);
  int left = --p->refs;
  pthread_mutex_unlock(&p->lock);
  if (!left) {
    pthread_mutex_destroy(&p->lock);
    free(p);
  }
}

/* The thread-safe function's finalizer: its environment is ending. */
static void port_closed(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  port_t *p = data;
  pthread_mutex_lock(&p->lock);
  p->tsfn = NULL;
  pthread_mutex_unlock(&p->lock);
  port_unref(p);
}

static void *work_loop(void *arg) {
  (void)arg;
  pthread_mutex_lock(&gate_lock);
  for (;;) {
    while (!work_head || !slot_free()) {
      work_idle++;
      pthread_cond_wait(&work_cond, &gate_lock);
      work_idle--;
    }
    job_t *j = work_head;
    if (!(work_head = j->next)) work_tail = NULL;
    if (++gate_busy > gate_peak) gate_peak = gate_busy;
    /* more queued and a slot left (slots were raised): another worker can start too */
    if (work_head && work_idle && slot_free()) pthread_cond_signal(&work_cond);
    pthread_mutex_unlock(&gate_lock);
    run(j);
    port_t *p = j->port;
    pthread_mutex_lock(&p->lock);
    napi_status st = p->tsfn ? napi_call_threadsafe_function(p->tsfn, j, napi_tsfn_nonblocking) : napi_closing;
    pthread_mutex_unlock(&p->lock);
    if (st != napi_ok) { /* the environment is gone: nobody waits for the result */
      free(j->out);
      free(j);
    }
    port_unref(p);
    pthread_mutex_lock(&gate_lock);
    gate_busy--; /* and this worker takes the next queued job itself */
  }
  return NULL;
}

static void complete(napi_env env, napi_status status, void *data);

/* On the environment's thread: a worker's job is done (env NULL: the environment is ending). */
static void work_done(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  job_t *j = data;
  if (!env) {
    free(j->out);
    free(j);
    return;
  }
  port_t *p = context;
  if (--p->out == 0) napi_unref_threadsafe_function(env, p->tsfn);
  complete(env, napi_ok, j);
}

static void port_env_done(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  port_unref(data);
}

/* The environment's port, made on first use; NULL when N-API fails or the environment is ending. */
static port_t *port_of(napi_env env) {
  port_t *p = NULL;
  if (napi_get_instance_data(env, (void **)&p) == napi_ok && p) return p->tsfn ? p : NULL;
  if (!(p = calloc(1, sizeof *p))) return NULL;
  pthread_mutex_init(&p->lock, NULL);
  p->refs = 1; /* the environment's, dropped by port_env_done when it ends */
  if (napi_set_instance_data(env, p, port_env_done, NULL) != napi_ok) {
    pthread_mutex_destroy(&p->lock);
    free(p);
    return NULL;
  }
  napi_value name;
  if (napi_create_string_utf8(env, "imgkit:compress", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, p, port_closed, p, work_done, &p->tsfn) != napi_ok) {
    p->tsfn = NULL;
    return NULL;
  }
  p->refs++; /* the thread-safe function's, dropped by port_closed */
  napi_unref_threadsafe_function(env, p->tsfn);
  return p;
}

/*
 * Queues `j` (its promise and input reference made) for the workers of `p`, making one more when
 * none waits and fewer than the slots exist; where no worker can be made, on libuv's pool. 0 when
 * N-API fails.
 */
static int work_queue(napi_env env, port_t *p, job_t *j) {
  j->port = p;
  j->next = NULL;
  pthread_mutex_lock(&gate_lock);
  if (!work_idle && work_threads < gate_slots) {
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, work_loop, NULL) == 0) work_threads++;
    pthread_attr_destroy(&at);
  }
  if (!work_threads) {
    pthread_mutex_unlock(&gate_lock);
    napi_value label;
    return napi_create_string_utf8(env, "imgkit:compress", NAPI_AUTO_LENGTH, &label) == napi_ok &&
           napi_create_async_work(env, NULL, label, execute, complete, j, &j->work) == napi_ok && napi_queue_async_work(env, j->work) == napi_ok;
  }
  pthread_mutex_lock(&p->lock);
  p->refs++;
  pthread_mutex_unlock(&p->lock);
  if (queue_first) {
    if (!(j->next = work_head)) work_tail = j;
    work_head = j;
  } else {
    if (work_tail) work_tail->next = j;
    else work_head = j;
    work_tail = j;
  }
  if (work_idle && slot_free()) pthread_cond_signal(&work_cond);
  pthread_mutex_unlock(&gate_lock);
  if (p->out++ == 0) napi_ref_threadsafe_function(env, p->tsfn);
  return 1;
}

/*
 * compressFirst(on): while on, compression jobs this thread queues for the workers go ahead of
 * those already waiting (a writer's metadata blocks, each of which it waits for, ahead of its
 * queued data blocks). Jobs on libuv's pool are not affected.
 */
static napi_value compress_first(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool on = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_bool(env, argv[0], &on) != napi_ok) {
    napi_throw_type_error(env, NULL, "imgkit native: compressFirst(on: boolean)");
    return NULL;
  }
  queue_first = on;
  return NULL;
}

/*
 * compressSlots(n) → number: at most n compression jobs run at once from now on (0: no limit).
 * Returns the most that ran at once since the last call without `n`, which also starts the count anew.
 */
static napi_value compress_slots(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  napi_valuetype t = napi_undefined;
  int32_t n = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || (argc >= 1 && napi_typeof(env, argv[0], &t) != napi_ok) ||
      (t != napi_undefined && (napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 0))) {
    napi_throw_range_error(env, NULL, "imgkit native: slots must be a count, 0 for no limit");
    return NULL;
  }
  pthread_mutex_lock(&gate_lock);
  int peak = gate_peak;
  if (t != napi_undefined) gate_slots = n;
  else gate_peak = gate_busy;
  /* raised slots let waiting workers start */
  pthread_cond_broadcast(&work_cond);
  pthread_mutex_unlock(&gate_lock);
  napi_create_int32(env, peak, &out);
  return out;
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  napi_value out = NULL, err = NULL, msg;
  if (status != napi_ok && !j->error) j->error = "cancelled";
  if (j->error) {
    napi_create_string_utf8(env, j->error, NAPI_AUTO_LENGTH, &msg);
    napi_create_range_error(env, NULL, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
  } else {
    napi_value into = NULL;
    if (j->in_into) napi_get_reference_value(env, j->into_ref, &into);
    if (result_value(env, j, into, &out) == napi_ok) napi_resolve_deferred(env, j->deferred, out);
    else {
      err = error_of(env, "imgkit native: cannot allocate the result");
      napi_reject_deferred(env, j->deferred, err);
    }
  }
  free(j->out);
  napi_delete_reference(env, j->in_ref);
  if (j->into_ref) napi_delete_reference(env, j->into_ref);
  if (j->work) napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value run_async(napi_env env, napi_callback_info info, enum kind kind, size_t nints) {
  job_t *j = calloc(1, sizeof *j);
  if (!j) { napi_throw_error(env, NULL, "imgkit native: out of memory"); return NULL; }
  j->kind = kind;
  napi_value input, into;
  if (!parse(env, info, j, nints, &input, &into)) { free(j); return NULL; }
  pthread_mutex_lock(&gate_lock);
  int slots = gate_slots;
  pthread_mutex_unlock(&gate_lock);
  port_t *p = slots ? port_of(env) : NULL;
  if (p) {
    napi_value promise, undefined;
    if (napi_create_reference(env, input, 1, &j->in_ref) == napi_ok) {
      if (!into || napi_create_reference(env, into, 1, &j->into_ref) == napi_ok) {
        if (napi_create_promise(env, &j->deferred, &promise) == napi_ok) {
          if (work_queue(env, p, j)) return promise;
          if (j->work) napi_delete_async_work(env, j->work);
          if (napi_get_undefined(env, &undefined) == napi_ok) napi_resolve_deferred(env, j->deferred, undefined);
        }
        if (j->into_ref) napi_delete_reference(env, j->into_ref);
      }
      napi_delete_reference(env, j->in_ref);
    }
    free(j);
    napi_throw_error(env, NULL, "imgkit native: N-API call failed");
    return NULL;
  }
  napi_value promise = queue_job(env, "imgkit:compress", execute, complete, j, &j->deferred, &j->work, input, &j->in_ref, into, into ? &j->into_ref : NULL);
  if (!promise) free(j);
  return promise;
}

#ifdef HAVE_ZLIB
/* deflate(input, level, windowBits, memLevel, strategy[, engine]): one zlib stream, as deflateInit2 + deflate(Z_FINISH). */
static napi_value deflate_sync(napi_env env, napi_callback_info info) { return run_sync(env, info, DEFLATE, 4); }
static napi_value deflate_async(napi_env env, napi_callback_info info) { return run_async(env, info, DEFLATE, 4); }
static const char *zlib_lib_version(void) { return zl.zlibVersion(); }
#endif
#ifdef HAVE_ZSTD
/* zstd(input, level): one frame, as ZSTD_compressCCtx. */
static napi_value zstd_sync(napi_env env, napi_callback_info info) { return run_sync(env, info, ZSTD, 1); }
static napi_value zstd_async(napi_env env, napi_callback_info info) { return run_async(env, info, ZSTD, 1); }
static const char *zstd_lib_version(void) { return zs.ZSTD_versionString(); }
#endif
/* lzmaOwn(input, preset, dictSize, lc, lp, pb, flags): an .lzma stream from imgkit's own encoder (lzenc.c). */
static napi_value lzma_own_sync(napi_env env, napi_callback_info info) { return run_sync(env, info, LZMA_OWN, 6); }
static napi_value lzma_own_async(napi_env env, napi_callback_info info) { return run_async(env, info, LZMA_OWN, 6); }
#ifdef HAVE_LZMA
/* xz(input, preset, dictSize, lc, lp, pb, bcj): one .xz stream, as mksquashfs's lzma_stream_buffer_encode. */
static napi_value xz_sync(napi_env env, napi_callback_info info) { return run_sync(env, info, XZ, 6); }
static napi_value xz_async(napi_env env, napi_callback_info info) { return run_async(env, info, XZ, 6); }
static const char *xz_lib_version(void) { return lz.lzma_version_string(); }
/* lzmaAlone(input, preset, dictSize, lc, lp, pb): an .lzma (LZMA-alone) stream as `xz --format=lzma` writes it. */
static napi_value lzma_alone_sync(napi_env env, napi_callback_info info) { return run_sync(env, info, LZMA_ALONE, 5); }
static napi_value lzma_alone_async(napi_env env, napi_callback_info info) { return run_async(env, info, LZMA_ALONE, 5); }
/* lzmaSized(input, preset, dictSize, lc, lp, pb): an .lzma stream with the real size in its header and no end marker. */
static napi_value lzma_sized_sync(napi_env env, napi_callback_info info) { return run_sync(env, info, LZMA_SIZED, 5); }
static napi_value lzma_sized_async(napi_env env, napi_callback_info info) { return run_async(env, info, LZMA_SIZED, 5); }
#endif
#ifdef HAVE_LIBDEFLATE
/* libdeflate(input, level): one zlib stream from libdeflate_zlib_compress at `level` (1–12). */
static napi_value libdeflate_sync(napi_env env, napi_callback_info info) { return run_sync(env, info, LIBDEFLATE, 1); }
static napi_value libdeflate_async(napi_env env, napi_callback_info info) { return run_async(env, info, LIBDEFLATE, 1); }
/* crc32(input, value) → number: CRC-32 (zlib's) of input continuing from value, by libdeflate_crc32 (carry-less multiplication). */
static napi_value crc32_fn(napi_env env, napi_callback_info info) {
  size_t argc = 2, len;
  napi_value argv[2], out;
  void *data;
  napi_typedarray_type type;
  uint32_t value;
  bool is = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 1) napi_is_typedarray(env, argv[0], &is);
  if (!is || napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array ||
      (argc >= 2 && napi_get_value_uint32(env, argv[1], &value) != napi_ok)) {
    napi_throw_type_error(env, NULL, "imgkit native: crc32(Uint8Array, value?)");
    return NULL;
  }
  if (argc < 2) value = 0;
  /* libdeflate_crc32 takes a NULL buffer (what an empty array may give) as "start": 0 */
  CHECK(napi_create_uint32(env, len ? ld.crc32(value, data, len) : value, &out));
  return out;
}
/* the header's version: libdeflate has no run-time version call */
static const char *libdeflate_lib_version(void) { return LIBDEFLATE_VERSION_STRING; }
#endif
#ifdef HAVE_LZ4
/* lz4(input, hc): one raw block, LZ4_compress_default or LZ4_compress_HC at LZ4HC_CLEVEL_MAX. */
static napi_value lz4_sync(napi_env env, napi_callback_info info) { return run_sync(env, info, LZ4, 1); }
static napi_value lz4_async(napi_env env, napi_callback_info info) { return run_async(env, info, LZ4, 1); }
static const char *lz4_lib_version(void) { return l4.LZ4_versionString(); }
#endif

/* listXattrs' result: one [name, value] pair per xattr, by fs_xattrs. */
typedef struct {
  napi_env env;
  napi_value list;
  uint32_t n;
} xattr_list_t;

static int xattr_pair(void *ctx, const char *name, const void *value, size_t len) {
  xattr_list_t *x = ctx;
  napi_value pair, jname, jvalue;
  napi_create_array_with_length(x->env, 2, &pair);
  napi_create_string_utf8(x->env, name, NAPI_AUTO_LENGTH, &jname);
  napi_create_buffer_copy(x->env, len, value, NULL, &jvalue);
  napi_set_element(x->env, pair, 0, jname);
  napi_set_element(x->env, pair, 1, jvalue);
  napi_set_element(x->env, x->list, x->n++, pair);
  return 1;
}

/*
 * listXattrs(path) → [name, value][]: the extended attributes of `path` (not following a final
 * symlink) in llistxattr's order, which is the order mksquashfs stores them in. No attributes,
 * or a file system without them, gives []. Other failures throw an Error naming errno.
 */
static napi_value list_xattrs(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "imgkit native: path must be a string");
    return NULL;
  }
  char *path = malloc(len + 1);
  if (!path) { napi_throw_error(env, NULL, "imgkit native: out of memory"); return NULL; }
  napi_get_value_string_utf8(env, argv[0], path, len + 1, &len);
  xattr_list_t x = {env, NULL, 0};
  napi_create_array(env, &x.list);
  int ok = fs_xattrs(path, xattr_pair, &x);
  free(path);
  if (ok) return x.list;
  char msg[160];
  snprintf(msg, sizeof msg, "imgkit native: cannot read xattrs: %s", strerror(errno));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

/*
 * mmapThreshold(bytes) → boolean: glibc's mallopt(M_MMAP_THRESHOLD). Setting it fixes the
 * threshold, which glibc otherwise raises to the size of each large block freed (up to 32 MiB):
 * an encoder's megabytes, freed, would then be taken from and kept in the per-thread arenas of
 * the thread pool instead of going back to the system. false where the C library has no mallopt.
 */
static napi_value mmap_threshold(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int64_t bytes = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int64(env, argv[0], &bytes) != napi_ok || bytes < 0 || bytes > 32 * 1024 * 1024) {
    napi_throw_range_error(env, NULL, "imgkit native: threshold must be 0..33554432 bytes");
    return NULL;
  }
#ifdef __GLIBC__
  napi_get_boolean(env, mallopt(M_MMAP_THRESHOLD, (int)bytes) == 1, &out);
#else
  napi_get_boolean(env, false, &out);
#endif
  return out;
}

/*
 * Block decoding for reading images (squashfs extract): decodeAsync(input, codec, max, fd, position)
 * decodes one block of `codec` (1 zlib, 2 zstd, 3 lz4, 4 xz) on libuv's thread pool into at most
 * `max` bytes. With fd < 0 it resolves to the bytes; otherwise it writes them to `fd` at
 * `position` (pwrite, in the same job) and resolves to their count. Strict: the input must be
 * exactly one valid stream (no trailing bytes) that fits in `max`; anything else rejects with
 * "the block did not decode", and the caller decodes the block itself for its error. A failed
 * write rejects with an Error carrying `errno` and `syscall`.
 */
/* An Error for a failed system call: strerror's message, with `errno` and `syscall` set. */
static napi_value errno_error(napi_env env, int code, const char *syscall) {
  napi_value err, msg, v;
  napi_create_string_utf8(env, strerror(code), NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &err);
  napi_create_int32(env, code, &v);
  napi_set_named_property(env, err, "errno", v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, err, "syscall", v);
  return err;
}

enum { D_ZLIB = 1, D_ZSTD = 2, D_LZ4 = 3, D_XZ = 4 };
static unsigned decoders;

typedef struct {
  int codec, fd, in_fd;
  const uint8_t *in;
  uint8_t *in_own; /* the input read from in_fd at in_pos (decodeFileAsync) */
  size_t in_len, max, out_len;
  int64_t pos, in_pos;
  uint8_t *out;
  int ok, write_errno;
  napi_ref in_ref;
  napi_deferred deferred;
  napi_async_work work;
} djob_t;

/*
 * One raw lz4 block, by the rules of the JavaScript decoder (src/codec/lz4-block.ts decodeBlock),
 * not liblz4's: LZ4_decompress_safe takes a match offset of 0, which copies output bytes not yet
 * written (here: uninitialised memory) into the file. Rejected: an empty block, lengths or an
 * offset running past the block, an offset of 0 or before the start, output past `max`.
 */
static int lz4_block(djob_t *j) {
  const uint8_t *ip = j->in, *end = j->in + j->in_len;
  uint8_t *op = j->out;
  const uint8_t *oend = j->out + j->max;
  if (ip >= end) return 0;
  for (;;) {
    unsigned token = *ip++;
    size_t lit = token >> 4;
    if (lit == 15)
      for (unsigned b = 255; b == 255; lit += b) {
        if (ip >= end) return 0;
        b = *ip++;
      }
    if (lit > (size_t)(end - ip) || lit > (size_t)(oend - op)) return 0;
    memcpy(op, ip, lit);
    ip += lit;
    op += lit;
    if (ip == end) break;
    if (end - ip < 2) return 0;
    size_t off = (size_t)ip[0] | (size_t)ip[1] << 8;
    ip += 2;
    if (off == 0 || off > (size_t)(op - j->out)) return 0;
    size_t len = token & 15;
    if (len == 15)
      for (unsigned b = 255; b == 255; len += b) {
        if (ip >= end) return 0;
        b = *ip++;
      }
    len += 4;
    if (len > (size_t)(oend - op)) return 0;
    const uint8_t *m = op - off;
    if (off >= len) memcpy(op, m, len);
    else for (size_t i = 0; i < len; i++) op[i] = m[i]; /* overlapping: repeats the last `off` bytes */
    op += len;
  }
  j->out_len = (size_t)(op - j->out);
  return 1;
}

#ifdef HAVE_LIBDEFLATE
/* A zlib block through libdeflate, where it is there: the same bytes out as inflate, ~2.5× faster.
 * As strict: one whole stream (Adler-32 checked) that uses every input byte. */
static int ld_inflate(djob_t *j) {
  struct libdeflate_decompressor *d = keep_take(&ldds);
  if (!d && !(d = ld.alloc_decompressor())) return 0;
  size_t used = 0, n = 0;
  enum libdeflate_result r = ld.zlib_decompress_ex(d, j->in, j->in_len, j->out, j->max, &used, &n);
  if ((d = keep_give(&ldds, d))) ld.free_decompressor(d);
  j->out_len = n;
  return r == LIBDEFLATE_SUCCESS && used == j->in_len;
}
#endif
#ifdef HAVE_ZLIB
static int zlib_inflate(djob_t *j) {
  z_stream s;
  memset(&s, 0, sizeof s);
  if (zl.inflateInit_(&s, ZLIB_VERSION, (int)sizeof s) != Z_OK) return 0;
  s.next_in = (Bytef *)j->in;
  s.avail_in = (uInt)j->in_len;
  s.next_out = j->out;
  s.avail_out = (uInt)j->max;
  int r = zl.inflate(&s, Z_FINISH);
  j->out_len = s.total_out;
  zl.inflateEnd(&s);
  return r == Z_STREAM_END && s.avail_in == 0;
}
#endif

static int decode_block(djob_t *j) {
  if (!j->in_len) return 0; /* no stored block is empty: a zstd input of no frames would give 0 bytes */
  switch (j->codec) {
  case D_ZLIB:
#ifdef HAVE_LIBDEFLATE
    if (ld_ok) return ld_inflate(j);
#endif
#ifdef HAVE_ZLIB
    return zlib_inflate(j);
#else
    return 0;
#endif
#ifdef HAVE_ZSTD
  case D_ZSTD: {
    ZSTD_DCtx *d = keep_take(&dctxs);
    if (!d && !(d = zs.ZSTD_createDCtx())) return 0;
    size_t r = zs.ZSTD_decompressDCtx(d, j->out, j->max, j->in, j->in_len);
    if ((d = keep_give(&dctxs, d))) zs.ZSTD_freeDCtx(d);
    if (zs.ZSTD_isError(r)) return 0;
    j->out_len = r;
    return 1;
  }
#endif
  case D_LZ4:
    return lz4_block(j);
#ifdef HAVE_LZMA
  case D_XZ: {
    uint64_t memlimit = (uint64_t)64 << 20; /* a squashfs dictionary is at most the 1 MiB block */
    size_t ip = 0, op = 0;
    lzma_ret r = lz.lzma_stream_buffer_decode(&memlimit, 0, NULL, j->in, &ip, j->in_len, j->out, &op, j->max);
    j->out_len = op;
    return r == LZMA_OK && ip == j->in_len;
  }
#endif
  default:
    return 0;
  }
}

static void decode_execute(napi_env env, void *data) {
  (void)env;
  djob_t *j = data;
  if (j->in_fd >= 0) {
    if (!(j->in_own = malloc(j->in_len ? j->in_len : 1))) return;
    for (size_t got = 0; got < j->in_len;) {
      ssize_t n = pread(j->in_fd, j->in_own + got, j->in_len - got, (off_t)(j->in_pos + (int64_t)got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return; /* a read error or the image's end: the caller reads the block itself for its error */
      got += (size_t)n;
    }
    j->in = j->in_own;
  }
  j->out = malloc(j->max ? j->max : 1);
  if (!j->out || !decode_block(j)) return;
  j->ok = 1;
  if (j->fd < 0) return;
  for (size_t done = 0; done < j->out_len;) {
    ssize_t n = pwrite(j->fd, j->out + done, j->out_len - done, (off_t)(j->pos + (int64_t)done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      j->write_errno = n < 0 ? errno : EIO;
      return;
    }
    done += (size_t)n;
  }
}

static void decode_complete(napi_env env, napi_status status, void *data) {
  djob_t *j = data;
  napi_value out = NULL, err = NULL;
  if (status != napi_ok || !j->ok) {
    err = error_of(env, "the block did not decode");
  } else if (j->write_errno) {
    err = errno_error(env, j->write_errno, "write");
  } else if (j->fd >= 0) {
    napi_create_double(env, (double)j->out_len, &out);
  } else if (napi_create_buffer_copy(env, j->out_len, j->out, NULL, &out) != napi_ok) {
    err = error_of(env, "imgkit native: cannot allocate the result");
  }
  if (err) napi_reject_deferred(env, j->deferred, err);
  else napi_resolve_deferred(env, j->deferred, out);
  free(j->out);
  free(j->in_own);
  if (j->in_ref) napi_delete_reference(env, j->in_ref);
  napi_delete_async_work(env, j->work);
  free(j);
}

/* Queues decode job `j` on the thread pool; its promise. */
/* Queues decode job `j`, holding `input` (NULL: none) until it completes; frees `j` when it cannot. */
static napi_value start_decode(napi_env env, djob_t *j, napi_value input) {
  napi_value promise = queue_job(env, "imgkit:decode", decode_execute, decode_complete, j, &j->deferred, &j->work, input, input ? &j->in_ref : NULL, NULL, NULL);
  if (!promise) free(j);
  return promise;
}

static napi_value decode_async(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t codec, max, fd;
  double pos;
  bool is = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5 || napi_is_typedarray(env, argv[0], &is) != napi_ok || !is ||
      napi_get_value_int32(env, argv[1], &codec) != napi_ok || napi_get_value_int32(env, argv[2], &max) != napi_ok ||
      napi_get_value_int32(env, argv[3], &fd) != napi_ok || napi_get_value_double(env, argv[4], &pos) != napi_ok) {
    napi_throw_type_error(env, NULL, "imgkit native: decodeAsync(input: Uint8Array, codec, max, fd, position)");
    return NULL;
  }
  if (codec < 1 || codec > 4 || !(decoders & (1u << codec)) || max < 0 || max > (1 << 30) || pos < 0 || pos > 9007199254740991.0 || pos != (double)(int64_t)pos) {
    napi_throw_range_error(env, NULL, "imgkit native: no such decoder, or max/position out of range");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  napi_get_typedarray_info(env, argv[0], &type, &length, &data, &ab, &offset);
  if (type != napi_uint8_array || length > (1u << 30)) {
    napi_throw_type_error(env, NULL, "imgkit native: input must be a Uint8Array of at most 1 GiB");
    return NULL;
  }
  djob_t *j = calloc(1, sizeof *j);
  if (!j) { napi_throw_error(env, NULL, "imgkit native: out of memory"); return NULL; }
  j->codec = codec;
  j->in = data;
  j->in_fd = -1;
  j->in_len = length;
  j->max = (size_t)max;
  j->fd = fd < 0 ? -1 : fd;
  j->pos = (int64_t)pos;
  return start_decode(env, j, argv[0]);
}

/* A metadata block for sqlist, by decode_block: the decoder of read.ts's preload (decodeAsync). */
static int sq_decode(int comp, const uint8_t *in, size_t len, uint8_t *out, size_t max, size_t *n) {
  static const int codec_of[7] = {0, D_ZLIB, 0, 0, D_XZ, D_LZ4, D_ZSTD};
  int codec = comp >= 0 && comp < 7 ? codec_of[comp] : 0;
  if (!codec || !(decoders & (1u << codec))) return 0;
  djob_t j;
  memset(&j, 0, sizeof j);
  j.codec = codec;
  j.in = in;
  j.in_len = len;
  j.out = out;
  j.max = max;
  j.in_fd = j.fd = -1;
  int ok = decode_block(&j);
  *n = j.out_len;
  return ok;
}

static void free_listing(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  free(data);
}

/* An external ArrayBuffer over malloc'd `data` (freed with it), as a typed array of `type`; copied when externals are refused. */
static napi_value owned_array(napi_env env, napi_typedarray_type type, void *data, size_t bytes, size_t elem) {
  napi_value ab, view;
  void *copy;
  if (!data || bytes == 0) {
    free(data);
    if (napi_create_arraybuffer(env, 0, &copy, &ab) != napi_ok) return NULL;
  } else if (napi_create_external_arraybuffer(env, data, bytes, free_listing, NULL, &ab) != napi_ok) {
    if (napi_create_arraybuffer(env, bytes, &copy, &ab) != napi_ok) {
      free(data);
      return NULL;
    }
    memcpy(copy, data, bytes);
    free(data);
  }
  if (napi_create_typedarray(env, type, bytes / elem, ab, 0, &view) != napi_ok) return NULL;
  return view;
}

/*
 * squashfsListing(path, long): the listing of `squashfs ls [-l] path` (native/sqlist.c) as a
 * Uint8Array, or undefined where the image needs src/squashfs/list.ts (errors included).
 */
static napi_value squashfs_listing(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], res;
  bool long_form = false;
  char path[4097];
  size_t plen = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok || napi_get_value_bool(env, argv[1], &long_form) != napi_ok) {
    napi_throw_type_error(env, NULL, "imgkit native: squashfsListing(path: string, long: boolean)");
    return NULL;
  }
  napi_get_undefined(env, &res);
  /* a path that does not fit, or holds a NUL, is left to Node's open */
  if (plen >= sizeof path - 1 || strlen(path) != plen) return res;
  uint8_t *out = NULL;
  size_t len = 0;
  if (!sq_list(path, long_form, sq_decode, &out, &len)) return res;
  napi_value view = owned_array(env, napi_uint8_array, out, len, 1);
  return view ? view : res;
}

/*
 * scanTree(path, hardlinks, xattrs) → [records, names, targets, xattrNames, xattrValues, xattrLengths]
 * (native/scan.h), or undefined where src/squashfs/tree.ts must walk `path` itself.
 */
static napi_value scan_tree(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], res, undef;
  bool hardlinks = false, xattrs = false;
  char path[4097];
  size_t plen = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok || napi_get_value_bool(env, argv[1], &hardlinks) != napi_ok ||
      napi_get_value_bool(env, argv[2], &xattrs) != napi_ok) {
    napi_throw_type_error(env, NULL, "imgkit native: scanTree(path: string, hardlinks: boolean, xattrs: boolean)");
    return NULL;
  }
  napi_get_undefined(env, &undef);
  if (plen >= sizeof path - 1 || strlen(path) != plen) return undef;
  scan_result r;
  memset(&r, 0, sizeof r);
  if (!fs_scan(path, hardlinks, xattrs, &r)) return undef;
  napi_value parts[6];
  int ok = napi_create_string_utf8(env, r.names ? r.names : "", r.names_len, &parts[1]) == napi_ok &&
           napi_create_string_utf8(env, r.targets ? r.targets : "", r.targets_len, &parts[2]) == napi_ok &&
           napi_create_string_utf8(env, r.xnames ? r.xnames : "", r.xnames_len, &parts[3]) == napi_ok;
  free(r.names), free(r.targets), free(r.xnames);
  /* each owned_array takes its buffer, whatever happens */
  parts[0] = owned_array(env, napi_float64_array, r.rec, r.nrec * SCAN_FIELDS * sizeof(double), sizeof(double));
  parts[4] = owned_array(env, napi_uint8_array, r.xvals, r.xvals_len, 1);
  parts[5] = owned_array(env, napi_float64_array, r.xlens, r.nx * sizeof(double), sizeof(double));
  if (!ok || !parts[0] || !parts[4] || !parts[5] || napi_create_array_with_length(env, 6, &res) != napi_ok) return undef;
  for (uint32_t i = 0; i < 6; i++) napi_set_element(env, res, i, parts[i]);
  return res;
}

/*
 * decodeFileAsync(inFd, inPos, inLen, codec, max, fd, position): decodeAsync of the `inLen` bytes
 * at `inPos` of the open file `inFd`, read on the pool thread too (pread), so the compressed block
 * never comes to JavaScript. A read that fails or comes up short rejects as a block that does not decode.
 */
static napi_value decode_file_async(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  int32_t in_fd, in_len, codec, max, fd;
  double in_pos, pos;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 7 || napi_get_value_int32(env, argv[0], &in_fd) != napi_ok ||
      napi_get_value_double(env, argv[1], &in_pos) != napi_ok || napi_get_value_int32(env, argv[2], &in_len) != napi_ok ||
      napi_get_value_int32(env, argv[3], &codec) != napi_ok || napi_get_value_int32(env, argv[4], &max) != napi_ok ||
      napi_get_value_int32(env, argv[5], &fd) != napi_ok || napi_get_value_double(env, argv[6], &pos) != napi_ok) {
    napi_throw_type_error(env, NULL, "imgkit native: decodeFileAsync(inFd, inPos, inLen, codec, max, fd, position)");
    return NULL;
  }
  if (in_fd < 0 || in_len < 0 || in_len > (1 << 30) || codec < 1 || codec > 4 || !(decoders & (1u << codec)) || max < 0 || max > (1 << 30) ||
      in_pos < 0 || in_pos > 9007199254740991.0 || in_pos != (double)(int64_t)in_pos || pos < 0 || pos > 9007199254740991.0 || pos != (double)(int64_t)pos) {
    napi_throw_range_error(env, NULL, "imgkit native: no such decoder, or a descriptor, length or position out of range");
    return NULL;
  }
  djob_t *j = calloc(1, sizeof *j);
  if (!j) { napi_throw_error(env, NULL, "imgkit native: out of memory"); return NULL; }
  j->codec = codec;
  j->in_fd = in_fd;
  j->in_pos = (int64_t)in_pos;
  j->in_len = (size_t)in_len;
  j->max = (size_t)max;
  j->fd = fd < 0 ? -1 : fd;
  j->pos = (int64_t)pos;
  return start_decode(env, j, NULL);
}

#ifdef HAVE_LZMA
/*
 * Streaming LZMA decoders, for `imgkit decompress` and the xz and lzma codecs: each run gives at
 * most one piece of output (LD_PIECE, 1 MiB), so the decoder goes only as fast as its consumer asks,
 * and a stream that expands a thousandfold never has more than a piece of its output here.
 *
 * lzmaDecoder(kind, memlimit, flags, header?) → handle. `kind`:
 *   0  one .xz stream: lzma_stream_decoder(memlimit, flags), without LZMA_CONCATENATED, so the
 *      caller sees where each stream ends and reads the stream padding and the next stream itself;
 *   1  an .lzma stream, its 13-byte header included: lzma_alone_decoder(memlimit);
 *   2  the LZMA1 data after the .lzma `header` (13 bytes), which must state the size: decoding stops
 *      there and takes no end marker after it, as liblzma 5.2's alone decoder and the kernel's
 *      unlzma read a stream of known size (5.4's alone decoder also takes a marker there). liblzma's
 *      LZMA1EXT, 5.4 and later: bit 1 << kind of `lzmaDecoders` says which kinds this liblzma has.
 * A decoder that cannot be set up (memory limit, options) reports so from its first run, as an
 * error found while decoding is reported.
 *
 * lzmaDecoderRun(handle, input, finish) → { out, used, totalIn, end, error? }: decodes from `input`
 * (with LZMA_FINISH when `finish`: no input follows it) until a piece is out, the input is used
 * up, the stream ends or liblzma fails. `used` is the input taken, `totalIn` the input taken since
 * the start, `end` that the stream ended; `error` is an Error named after liblzma's lzma_ret
 * (LZMA_DATA_ERROR …) with its description as the message, and `out` the bytes decoded before it.
 * lzmaDecoderRunAsync does the same on libuv's thread pool; until it settles the caller must
 * neither change `input` nor run the handle again. The decoder's memory is freed when the stream
 * ends or fails, by lzmaDecoderEnd(handle), or when the handle is collected.
 */
#define LD_PIECE ((size_t)1 << 20)
enum { LD_XZ = 0, LD_ALONE = 1, LD_SIZED = 2, LD_ZSTD = 3 };

typedef struct {
  lzma_stream st;
  uint8_t *out;  /* LD_PIECE bytes, reused by every run; NULL once freed */
  lzma_ret init; /* LZMA_OK, or why the decoder could not be set up */
  int busy;      /* a run is on the thread pool */
  int closing;   /* lzmaDecoderEnd came during that run */
  int kind;
#ifdef HAVE_ZSTD_STREAM
  ZSTD_DCtx *zd;     /* kind 3: the decoder, in place of `st` */
  size_t zret;       /* what its last call returned: 0 at the end of a frame */
  uint64_t zin;      /* input taken */
  uint64_t zframe;   /* where the frame being read starts in the input */
#endif
} ldec_t;

typedef struct {
  ldec_t *d;
  const uint8_t *in;
  size_t in_len, used, produced;
  uint64_t total_in;
  int finish;
  lzma_ret ret;      /* kind 3: LZMA_OK, LZMA_STREAM_END, LZMA_BUF_ERROR (input ends inside a frame) or LZMA_DATA_ERROR (zerr) */
  size_t zerr;
  napi_ref in_ref, d_ref;
  napi_deferred deferred;
  napi_async_work work;
} lrun_t;

static const napi_type_tag ldec_tag = {0x696d676b69746c7aULL, 0x6d6164656301ULL}; /* "imgkitlz", "madec" 1 */

static void ldec_free_stream(ldec_t *d) {
  if (!d->out) return;
#ifdef HAVE_ZSTD_STREAM
  if (d->zd) zs.ZSTD_freeDCtx(d->zd);
  d->zd = NULL;
  if (d->kind != LD_ZSTD)
#endif
    lz.lzma_end(&d->st);
  free(d->out);
  d->out = NULL;
}

static void ldec_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ldec_t *d = data;
  if (d->busy) return; /* only when Node tears down with a run on the pool: that thread still uses it */
  ldec_free_stream(d);
  free(d);
}

/* Sets up `d` for `kind`; the result goes to d->init. */
static void ldec_init(ldec_t *d, int kind, uint64_t memlimit, uint32_t flags, const uint8_t *h) {
  d->kind = kind;
#ifdef HAVE_ZSTD_STREAM
  if (kind == LD_ZSTD) {
    /* `flags`: the largest window, as a power of two (0: libzstd's default, 2^27, as `zstd -d`) */
    d->zret = 1; /* no frame yet: input that ends here is cut short */
    if (!(d->zd = zs.ZSTD_createDCtx())) d->init = LZMA_MEM_ERROR;
    else if (flags && zs.ZSTD_isError(zss.ZSTD_DCtx_setParameter(d->zd, ZSTD_d_windowLogMax, (int)flags))) d->init = LZMA_OPTIONS_ERROR;
    else d->init = LZMA_OK;
    return;
  }
#endif
  if (kind == LD_XZ) {
    d->init = lz.lzma_stream_decoder(&d->st, memlimit, flags);
    return;
  }
  if (kind == LD_ALONE) {
    d->init = lz.lzma_alone_decoder(&d->st, memlimit);
    return;
  }
  /* LD_SIZED: props byte (pb * 5 + lp) * 9 + lc, dictionary size, uncompressed size; little-endian */
  uint64_t size = 0;
  for (int i = 7; i >= 0; i--) size = size << 8 | h[5 + i];
  if (h[0] >= 9 * 5 * 5 || size == UINT64_MAX) {
    d->init = LZMA_OPTIONS_ERROR;
    return;
  }
  lzma_options_lzma opt;
  memset(&opt, 0, sizeof opt);
  opt.lc = h[0] % 9;
  opt.lp = h[0] / 9 % 5;
  opt.pb = h[0] / 45;
  opt.dict_size = (uint32_t)h[1] | (uint32_t)h[2] << 8 | (uint32_t)h[3] << 16 | (uint32_t)h[4] << 24;
  opt.ext_flags = 0; /* no end marker at the stated size */
  opt.ext_size_low = (uint32_t)size;
  opt.ext_size_high = (uint32_t)(size >> 32);
  lzma_filter filters[2] = {{LZMA_FILTER_LZMA1EXT, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
  uint64_t need = lz.lzma_raw_decoder_memusage(filters);
  if (need == UINT64_MAX) d->init = LZMA_OPTIONS_ERROR;
  else if (need > memlimit) d->init = LZMA_MEMLIMIT_ERROR; /* the raw decoder has no limit of its own */
  else d->init = lz.lzma_raw_decoder(&d->st, filters);
}

#ifdef HAVE_ZSTD_STREAM
/*
 * A run of kind 3: frames one after another (skippable ones skipped), until the piece is full or
 * the input is used up. With `finish`, the input ending where a frame ends is the end; inside one
 * (or before any), LZMA_BUF_ERROR. The decoder goes at the end or on a failure.
 */
static void zstd_step(lrun_t *r) {
  ldec_t *d = r->d;
  if (!d->zd) { /* ended or failed before (a caller that runs it again after an error) */
    r->ret = LZMA_PROG_ERROR;
    return;
  }
  ZSTD_inBuffer in = {r->in, r->in_len, 0};
  ZSTD_outBuffer out = {d->out, LD_PIECE, 0};
  r->ret = LZMA_OK;
  while (out.pos < out.size) {
    size_t in_before = in.pos, out_before = out.pos;
    size_t z = zss.ZSTD_decompressStream(d->zd, &out, &in);
    if (zs.ZSTD_isError(z)) {
      r->ret = LZMA_DATA_ERROR;
      r->zerr = z;
      break;
    }
    if (in.pos != in_before || out.pos != out_before) d->zret = z; /* a call with nothing to do says nothing new */
    z = d->zret;
    if (z == 0) d->zframe = d->zin + in.pos; /* a frame ended: the next starts here */
    /* output not full and input used up: everything decodable so far is out */
    if (in.pos == in.size && out.pos < out.size) {
      if (r->finish) r->ret = z == 0 ? LZMA_STREAM_END : LZMA_BUF_ERROR;
      break;
    }
    if (in.pos == in_before && out.pos == out_before) { /* stuck with input left and room to write */
      r->ret = LZMA_PROG_ERROR;
      break;
    }
  }
  r->used = in.pos;
  r->produced = out.pos;
  d->zin += in.pos;
  r->total_in = d->zin;
  if (r->ret != LZMA_OK) {
    zs.ZSTD_freeDCtx(d->zd);
    d->zd = NULL;
  }
}
#endif

/* One run: safe on any thread. The stream is ended as soon as it finishes or fails. */
static void ldec_step(lrun_t *r) {
  ldec_t *d = r->d;
  lzma_stream *st = &d->st;
  r->used = r->produced = 0;
  r->total_in = st->total_in;
  if (d->init != LZMA_OK) {
    r->ret = d->init;
    return;
  }
#ifdef HAVE_ZSTD_STREAM
  if (d->kind == LD_ZSTD) {
    zstd_step(r);
    return;
  }
#endif
  st->next_in = r->in;
  st->avail_in = r->in_len;
  st->next_out = d->out;
  st->avail_out = LD_PIECE;
  lzma_ret ret = LZMA_OK;
  while (st->avail_out > 0) {
    size_t in_before = st->avail_in, out_before = st->avail_out;
    ret = lz.lzma_code(st, r->finish ? LZMA_FINISH : LZMA_RUN);
    if (ret != LZMA_OK) break;
    /* without LZMA_FINISH, stop for more input; with it, liblzma says LZMA_BUF_ERROR when stuck */
    if (!r->finish && (st->avail_in == 0 || (st->avail_in == in_before && st->avail_out == out_before))) break;
  }
  r->used = r->in_len - st->avail_in;
  r->produced = LD_PIECE - st->avail_out;
  r->total_in = st->total_in;
  r->ret = ret;
  st->next_in = NULL;
  st->avail_in = 0;
  if (ret != LZMA_OK) lz.lzma_end(st); /* the dictionary goes now; the piece stays for the result */
}

/* liblzma's lzma_ret as an Error: name LZMA_…, message its description, `code` the number. */
static napi_value lzma_ret_error(napi_env env, lzma_ret ret) {
  static const struct { lzma_ret ret; const char *name, *desc; } names[] = {
      {LZMA_NO_CHECK, "LZMA_NO_CHECK", "Input stream has no integrity check"},
      {LZMA_UNSUPPORTED_CHECK, "LZMA_UNSUPPORTED_CHECK", "Cannot calculate the integrity check"},
      {LZMA_GET_CHECK, "LZMA_GET_CHECK", "Integrity check type is now available"},
      {LZMA_MEM_ERROR, "LZMA_MEM_ERROR", "Cannot allocate memory"},
      {LZMA_MEMLIMIT_ERROR, "LZMA_MEMLIMIT_ERROR", "Memory usage limit was reached"},
      {LZMA_FORMAT_ERROR, "LZMA_FORMAT_ERROR", "File format not recognized"},
      {LZMA_OPTIONS_ERROR, "LZMA_OPTIONS_ERROR", "Invalid or unsupported options"},
      {LZMA_DATA_ERROR, "LZMA_DATA_ERROR", "Data is corrupt"},
      {LZMA_BUF_ERROR, "LZMA_BUF_ERROR", "No progress is possible"},
      {LZMA_PROG_ERROR, "LZMA_PROG_ERROR", "Programming error"},
  };
  const char *name = "LZMA_UNKNOWN_ERROR", *desc = "Unknown error code";
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i].ret == ret) {
      name = names[i].name;
      desc = names[i].desc;
    }
  napi_value err, msg, v;
  napi_create_string_utf8(env, desc, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &err);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, err, "name", v);
  napi_create_int32(env, (int32_t)ret, &v);
  napi_set_named_property(env, err, "code", v);
  return err;
}

/* { out, used, totalIn, end, error? } of a finished run, or NULL (with an exception pending). */
#ifdef HAVE_ZSTD_STREAM
/* A failed kind-3 run as an Error named ZSTD_error, `code` libzstd's ZSTD_ErrorCode (72,
 * srcSize_wrong, for input that ends inside a frame; 64 and 42 for a decoder not set up; 1,
 * GENERIC, for a decoder that can go no further). */
static napi_value zstd_run_error(napi_env env, lrun_t *r) {
  int code = r->ret == LZMA_DATA_ERROR ? (int)zss.ZSTD_getErrorCode(r->zerr)
             : r->ret == LZMA_BUF_ERROR ? 72 : r->ret == LZMA_MEM_ERROR ? 64 : r->ret == LZMA_OPTIONS_ERROR ? 42 : 1;
  const char *desc = r->ret == LZMA_DATA_ERROR ? zss.ZSTD_getErrorName(r->zerr)
                     : r->ret == LZMA_BUF_ERROR ? "input ends inside a frame" : r->ret == LZMA_MEM_ERROR ? "Allocation error"
                     : r->ret == LZMA_OPTIONS_ERROR ? "Parameter is out of bound" : "the decoder can go no further";
  napi_value err, msg, v;
  napi_create_string_utf8(env, desc, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &err);
  napi_create_string_utf8(env, "ZSTD_error", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, err, "name", v);
  napi_create_int32(env, code, &v);
  napi_set_named_property(env, err, "code", v);
  return err;
}
#endif

static napi_value ldec_result(napi_env env, lrun_t *r) {
  napi_value obj, v;
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_create_buffer_copy(env, r->produced, r->d->out, NULL, &v) != napi_ok) {
    napi_throw_error(env, NULL, "imgkit native: cannot allocate the result");
    return NULL;
  }
  napi_set_named_property(env, obj, "out", v);
  napi_create_double(env, (double)r->used, &v);
  napi_set_named_property(env, obj, "used", v);
  napi_create_double(env, (double)r->total_in, &v);
  napi_set_named_property(env, obj, "totalIn", v);
  napi_get_boolean(env, r->ret == LZMA_STREAM_END, &v);
  napi_set_named_property(env, obj, "end", v);
#ifdef HAVE_ZSTD_STREAM
  if (r->d->kind == LD_ZSTD) {
    napi_create_double(env, (double)r->d->zframe, &v);
    napi_set_named_property(env, obj, "frameStart", v);
  }
#endif
  if (r->ret != LZMA_OK && r->ret != LZMA_STREAM_END) {
#ifdef HAVE_ZSTD_STREAM
    if (r->d->kind == LD_ZSTD) napi_set_named_property(env, obj, "error", zstd_run_error(env, r));
    else
#endif
      napi_set_named_property(env, obj, "error", lzma_ret_error(env, r->ret));
  }
  if (r->ret != LZMA_OK) ldec_free_stream(r->d);
  return obj;
}

/* The decoder behind a handle, or NULL (with a TypeError thrown). */
static ldec_t *ldec_of(napi_env env, napi_value handle) {
  bool ok = false;
  void *d = NULL;
  if (napi_check_object_type_tag(env, handle, &ldec_tag, &ok) != napi_ok || !ok || napi_get_value_external(env, handle, &d) != napi_ok) {
    napi_throw_type_error(env, NULL, "imgkit native: not an lzmaDecoder handle");
    return NULL;
  }
  return d;
}

/* Whether kind 3 can be set up: libzstd was offered and has the streaming decoder. */
static int zstd_stream_ok(void) {
#ifdef HAVE_ZSTD_STREAM
  return zss_ok && zs.ZSTD_createDCtx != NULL;
#else
  return 0;
#endif
}

static napi_value lzma_decoder_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], handle;
  int32_t kind;
  double memlimit;
  uint32_t flags;
  const uint8_t *h = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 || napi_get_value_int32(env, argv[0], &kind) != napi_ok ||
      napi_get_value_double(env, argv[1], &memlimit) != napi_ok || napi_get_value_uint32(env, argv[2], &flags) != napi_ok) {
    napi_throw_type_error(env, NULL, "imgkit native: lzmaDecoder(kind, memlimit, flags, header?)");
    return NULL;
  }
  if (kind == LD_SIZED) {
    bool is = false;
    napi_typedarray_type type;
    size_t len = 0;
    void *data = NULL;
    if (argc >= 4) napi_is_typedarray(env, argv[3], &is);
    if (!is || napi_get_typedarray_info(env, argv[3], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array || len != 13) {
      napi_throw_type_error(env, NULL, "imgkit native: lzmaDecoder kind 2 needs the 13-byte .lzma header");
      return NULL;
    }
    h = data;
  }
  if (kind < LD_XZ || kind > LD_ZSTD || (kind == LD_SIZED && !lz.lzma_filter_decoder_is_supported(LZMA_FILTER_LZMA1EXT)) || (kind == LD_ZSTD && !zstd_stream_ok()) || !(memlimit >= 0)) {
    napi_throw_range_error(env, NULL, "imgkit native: no such lzmaDecoder kind here, or a negative memlimit");
    return NULL;
  }
  ldec_t *d = calloc(1, sizeof *d);
  if (d) d->out = malloc(LD_PIECE);
  if (!d || !d->out) {
    free(d);
    napi_throw_error(env, NULL, "imgkit native: out of memory");
    return NULL;
  }
  lzma_stream init = LZMA_STREAM_INIT;
  d->st = init;
  ldec_init(d, kind, memlimit >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)memlimit, flags, h);
  if (napi_create_external(env, d, ldec_finalize, NULL, &handle) != napi_ok) {
    ldec_finalize(env, d, NULL);
    napi_throw_error(env, NULL, "imgkit native: N-API call failed");
    return NULL;
  }
  CHECK(napi_type_tag_object(env, handle, &ldec_tag));
  return handle;
}

/* Reads (handle, input, finish) into `r`; throws and returns 0 on bad arguments or a busy or freed decoder. */
static int ldec_args(napi_env env, napi_callback_info info, lrun_t *r, napi_value *argv) {
  size_t argc = 3;
  bool is = false, finish = false;
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    napi_throw_type_error(env, NULL, "imgkit native: lzmaDecoderRun(handle, input, finish)");
    return 0;
  }
  if (!(r->d = ldec_of(env, argv[0]))) return 0;
  napi_is_typedarray(env, argv[1], &is);
  if (!is || napi_get_typedarray_info(env, argv[1], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array ||
      napi_get_value_bool(env, argv[2], &finish) != napi_ok) {
    napi_throw_type_error(env, NULL, "imgkit native: lzmaDecoderRun(handle, input: Uint8Array, finish: boolean)");
    return 0;
  }
  if (r->d->busy || !r->d->out) {
    napi_throw_error(env, NULL, r->d->busy ? "imgkit native: the decoder is already running" : "imgkit native: the decoder has ended");
    return 0;
  }
  r->in = data;
  r->in_len = len;
  r->finish = finish;
  return 1;
}

static napi_value lzma_decoder_run(napi_env env, napi_callback_info info) {
  lrun_t r;
  napi_value argv[3];
  memset(&r, 0, sizeof r);
  if (!ldec_args(env, info, &r, argv)) return NULL;
  ldec_step(&r);
  return ldec_result(env, &r);
}

static void ldec_execute(napi_env env, void *data) {
  (void)env;
  ldec_step(data);
}

static void ldec_complete(napi_env env, napi_status status, void *data) {
  lrun_t *r = data;
  ldec_t *d = r->d;
  d->busy = 0;
  napi_value out = NULL, err;
  if (status == napi_ok) out = ldec_result(env, r);
  if (out) {
    napi_resolve_deferred(env, r->deferred, out);
  } else {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) napi_get_and_clear_last_exception(env, &err);
    else {
      err = error_of(env, "imgkit native: the decoder run was cancelled");
    }
    napi_reject_deferred(env, r->deferred, err);
  }
  if (d->closing) ldec_free_stream(d);
  napi_delete_reference(env, r->in_ref);
  napi_delete_reference(env, r->d_ref);
  napi_delete_async_work(env, r->work);
  free(r);
}

static napi_value lzma_decoder_run_async(napi_env env, napi_callback_info info) {
  lrun_t *r = calloc(1, sizeof *r);
  napi_value argv[3];
  if (!r) {
    napi_throw_error(env, NULL, "imgkit native: out of memory");
    return NULL;
  }
  if (!ldec_args(env, info, r, argv)) {
    free(r);
    return NULL;
  }
  /* the reference to the handle keeps the decoder from its finalizer */
  napi_value promise = queue_job(env, "imgkit:lzmaDecode", ldec_execute, ldec_complete, r, &r->deferred, &r->work, argv[0], &r->d_ref, argv[1], &r->in_ref);
  if (!promise) {
    free(r);
    return NULL;
  }
  r->d->busy = 1;
  return promise;
}

static napi_value lzma_decoder_end(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], u;
  ldec_t *d;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, NULL, "imgkit native: lzmaDecoderEnd(handle)");
    return NULL;
  }
  if (!(d = ldec_of(env, argv[0]))) return NULL;
  if (d->busy) d->closing = 1; /* freed when the run completes */
  else ldec_free_stream(d);
  napi_get_undefined(env, &u);
  return u;
}
#endif

/*
 * copyRangeAsync(fdIn, offsetIn, fdOut, offsetOut, length) → Promise<number>: copies `length`
 * bytes between two open files at the given offsets on libuv's thread pool, with
 * copy_file_range(2) (the kernel copies, or shares the blocks where the file system can), or
 * pread/pwrite where the kernel or file system has no copy_file_range for these files. Resolves
 * to the bytes copied, fewer than `length` only when the input ends first. A failure rejects with
 * an Error carrying `errno` and `syscall`.
 *
 * copyCrcAsync(fdIn, offsetIn, fdOut, offsetOut, length) → Promise<number>: the same copy through
 * a 1 MiB buffer (pread, libdeflate_crc32, pwrite), resolving to the CRC-32 of the bytes (from 0),
 * or to -1 when the input ends first; with fdOut -1 nothing is written (the CRC of a file range).
 * The bytes pass through memory once, where copy_file_range followed by a separate read for the
 * CRC passes them twice; callers run several on parts of a range, one per core, and join the CRCs.
 */
typedef struct {
  int in, out, err, crc_on;
  uint32_t crc;
  int64_t in_pos, out_pos, length, done;
  const char *syscall;
  napi_deferred deferred;
  napi_async_work work;
} cjob_t;

static int copy_plain(cjob_t *j) {
  size_t cap = (size_t)1 << 20;
  uint8_t *buf = malloc(cap);
  if (!buf) {
    j->err = ENOMEM;
    j->syscall = "read";
    return 0;
  }
  while (j->done < j->length) {
    size_t want = (size_t)(j->length - j->done) < cap ? (size_t)(j->length - j->done) : cap;
    ssize_t n = pread(j->in, buf, want, (off_t)(j->in_pos + j->done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { j->err = errno; j->syscall = "read"; break; }
    if (n == 0) break;
#ifdef HAVE_LIBDEFLATE
    if (j->crc_on) j->crc = ld.crc32(j->crc, buf, (size_t)n);
#endif
    for (ssize_t w = 0; j->out >= 0 && w < n;) {
      ssize_t m = pwrite(j->out, buf + w, (size_t)(n - w), (off_t)(j->out_pos + j->done + w));
      if (m < 0 && errno == EINTR) continue;
      if (m <= 0) { j->err = m < 0 ? errno : EIO; j->syscall = "write"; free(buf); return 0; }
      w += m;
    }
    j->done += n;
  }
  free(buf);
  return !j->err;
}

static void copy_execute(napi_env env, void *data) {
  (void)env;
  cjob_t *j = data;
#if defined(__linux__) && defined(__GLIBC__)
  while (!j->crc_on && j->done < j->length) {
    off_t in = (off_t)(j->in_pos + j->done), out = (off_t)(j->out_pos + j->done);
    int64_t left = j->length - j->done;
    ssize_t n = copy_file_range(j->in, &in, j->out, &out, left > (1 << 30) ? (size_t)1 << 30 : (size_t)left, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL || errno == EBADF || errno == EPERM)) break;
    if (n < 0) { j->err = errno; j->syscall = "copy_file_range"; return; }
    if (n == 0) return; /* the input ended */
    j->done += n;
  }
#endif
  copy_plain(j);
}

static void copy_complete(napi_env env, napi_status status, void *data) {
  cjob_t *j = data;
  napi_value out;
  if (status != napi_ok && !j->err) { j->err = EIO; j->syscall = "copy_file_range"; }
  if (j->err) {
    napi_reject_deferred(env, j->deferred, errno_error(env, j->err, j->syscall));
  } else {
    napi_create_double(env, !j->crc_on ? (double)j->done : j->done < j->length ? -1.0 : (double)j->crc, &out);
    napi_resolve_deferred(env, j->deferred, out);
  }
  napi_delete_async_work(env, j->work);
  free(j);
}

static int get_offset(napi_env env, napi_value v, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 9007199254740991.0 || d != (double)(int64_t)d) return 0;
  *out = (int64_t)d;
  return 1;
}

static napi_value start_copy(napi_env env, napi_callback_info info, int crc_on) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t in, out;
  int64_t in_pos, out_pos, length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5 || napi_get_value_int32(env, argv[0], &in) != napi_ok ||
      napi_get_value_int32(env, argv[2], &out) != napi_ok) {
    napi_throw_type_error(env, NULL, crc_on ? "imgkit native: copyCrcAsync(fdIn, offsetIn, fdOut, offsetOut, length)"
                                            : "imgkit native: copyRangeAsync(fdIn, offsetIn, fdOut, offsetOut, length)");
    return NULL;
  }
  if (in < 0 || (out < 0 && !crc_on) || !get_offset(env, argv[1], &in_pos) || !get_offset(env, argv[3], &out_pos) || !get_offset(env, argv[4], &length) ||
      in_pos + length > 9007199254740991 || out_pos + length > 9007199254740991) {
    napi_throw_range_error(env, NULL, "imgkit native: copy: a file descriptor, offset or length out of range");
    return NULL;
  }
  cjob_t *j = calloc(1, sizeof *j);
  if (!j) { napi_throw_error(env, NULL, "imgkit native: out of memory"); return NULL; }
  j->in = in;
  j->out = out;
  j->in_pos = in_pos;
  j->out_pos = out_pos;
  j->length = length;
  j->crc_on = crc_on;
  napi_value promise = queue_job(env, "imgkit:copy", copy_execute, copy_complete, j, &j->deferred, &j->work, NULL, NULL, NULL, NULL);
  if (!promise) free(j);
  return promise;
}

static napi_value copy_range_async(napi_env env, napi_callback_info info) { return start_copy(env, info, 0); }

/*
 * prefetchAsync(paths): asks the kernel to start reading each file of `paths` (names joined by
 * NUL) into the page cache (posix_fadvise WILLNEED), on the thread pool, so the reads that follow
 * find them there. Advice only: a file that cannot be opened is passed over. A file whose first
 * byte is already in the page cache (a one-byte preadv2 with RWF_NOWAIT succeeds) gets no advice.
 * Resolves to the number of files that were advised: none means the batch was already cached.
 */
typedef struct {
  napi_deferred deferred;
  napi_async_work work;
  size_t len;
  uint32_t advised;
  char names[];
} pjob_t;

static void prefetch_execute(napi_env env, void *data) {
  (void)env;
  pjob_t *j = data;
  for (size_t at = 0; at < j->len;) {
    const char *name = j->names + at;
    size_t n = strlen(name);
    at += n + 1;
    if (!n) continue;
    int fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) continue;
    int cold = 1;
#ifdef RWF_NOWAIT
    char byte;
    struct iovec v = {&byte, 1};
    struct stat st;
    if (preadv2(fd, &v, 1, 0, RWF_NOWAIT) >= 0) cold = 0;
    /* EAGAIN: not in the page cache; no such probe here (or a directory, which says the same):
       advise a regular file as if not; other errors (a FIFO): nothing to advise on */
    else if (errno == EAGAIN) cold = 1;
    else cold = (errno == ENOSYS || errno == EOPNOTSUPP) && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
#endif
    if (cold) {
      j->advised++;
#ifdef POSIX_FADV_WILLNEED
      posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
#endif
    }
    close(fd);
  }
}

static void prefetch_complete(napi_env env, napi_status status, void *data) {
  (void)status;
  pjob_t *j = data;
  napi_value advised;
  if (napi_create_uint32(env, j->advised, &advised) != napi_ok) napi_get_undefined(env, &advised);
  napi_resolve_deferred(env, j->deferred, advised);
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value prefetch_async(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "imgkit native: prefetchAsync(paths)");
    return NULL;
  }
  pjob_t *j = malloc(sizeof *j + len + 1);
  if (!j) { napi_throw_error(env, NULL, "imgkit native: out of memory"); return NULL; }
  j->advised = 0;
  if (napi_get_value_string_utf8(env, argv[0], j->names, len + 1, &j->len) != napi_ok) {
    free(j);
    napi_throw_error(env, NULL, "imgkit native: prefetchAsync: cannot read the names");
    return NULL;
  }
  napi_value promise = queue_job(env, "imgkit:prefetch", prefetch_execute, prefetch_complete, j, &j->deferred, &j->work, NULL, NULL, NULL, NULL);
  if (!promise) free(j);
  return promise;
}
#ifdef HAVE_LIBDEFLATE
static napi_value copy_crc_async(napi_env env, napi_callback_info info) { return start_copy(env, info, 1); }
#endif

/*
 * Making extracted entries on the thread pool (squashfs extract): makeEntriesAsync(ops, count)
 * makes `count` entries packed one after another in `ops`, each a 32-byte little-endian header, then
 * its path's bytes with a closing NUL, then its data:
 *   u8 kind (0: a regular file holding the data, 1: a symlink to the data), u8 flags (1: set the
 *   owner), u16 0, u32 mode, u32 uid, u32 gid, f64 mtime (whole seconds), u32 path bytes (NUL
 *   included), u32 data bytes.
 * A file: open(O_WRONLY|O_CREAT|O_EXCL|O_TRUNC|O_NOFOLLOW, 0600), write, fchown, fchmod, futimens,
 * close; a failure after the open removes the file again. A symlink: symlink, lchown, utimensat
 * without following. Each entry is made whatever became of the others. Resolves to an Int32Array
 * of two numbers per entry: 0 or the errno of the call that failed, and that call (MK_* below).
 */
enum { MK_OK, MK_OPEN, MK_WRITE, MK_FCHOWN, MK_FCHMOD, MK_FUTIMENS, MK_CLOSE, MK_SYMLINK, MK_LCHOWN, MK_UTIMENSAT };
enum { MK_HEADER = 32 };

typedef struct {
  const uint8_t *ops;
  size_t len;
  uint32_t count;
  int32_t *res;
  napi_ref ops_ref;
  napi_deferred deferred;
  napi_async_work work;
} mjob_t;

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static double le_f64(const uint8_t *p) {
  uint64_t u = (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

/* Checks that `count` entries fill `ops` exactly, each path ending at its only NUL; 0 when not. */
static int entries_ok(const uint8_t *ops, size_t len, uint32_t count) {
  size_t at = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (len - at < MK_HEADER) return 0;
    const uint8_t *h = ops + at;
    size_t plen = le32(h + 24), dlen = le32(h + 28);
    double t = le_f64(h + 16);
    if (h[0] > 1 || plen < 2 || !(t >= 0 && t <= 4294967295.0) || plen > len - at - MK_HEADER || dlen > len - at - MK_HEADER - plen) return 0;
    const uint8_t *path = h + MK_HEADER;
    if (memchr(path, 0, plen) != path + plen - 1) return 0;
    if (h[0] == 1 && (dlen == 0 || memchr(path + plen, 0, dlen))) return 0; /* a symlink target is text without NUL */
    at += MK_HEADER + plen + dlen;
  }
  return at == len;
}

static int make_file(const uint8_t *h, const char *path, const uint8_t *data, size_t dlen, int *call) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) { *call = MK_OPEN; return errno; }
  int err = 0;
  for (size_t done = 0; done < dlen;) {
    ssize_t n = write(fd, data + done, dlen - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { err = n < 0 ? errno : EIO; *call = MK_WRITE; break; }
    done += (size_t)n;
  }
  struct timespec ts[2] = {{(time_t)le_f64(h + 16), 0}, {(time_t)le_f64(h + 16), 0}};
  if (!err && (h[1] & 1) && fchown(fd, le32(h + 8), le32(h + 12))) { err = errno; *call = MK_FCHOWN; }
  if (!err && fchmod(fd, le32(h + 4) & 07777)) { err = errno; *call = MK_FCHMOD; }
  if (!err && futimens(fd, ts)) { err = errno; *call = MK_FUTIMENS; }
  if (close(fd) && !err && errno != EINTR) { err = errno; *call = MK_CLOSE; }
  if (err) unlink(path);
  return err;
}

static int make_symlink(const uint8_t *h, const char *path, const uint8_t *target, size_t tlen, int *call) {
  char small[256], *t = tlen < sizeof small ? small : malloc(tlen + 1);
  if (!t) { *call = MK_SYMLINK; return ENOMEM; }
  memcpy(t, target, tlen);
  t[tlen] = 0;
  int err = 0;
  if (symlink(t, path)) { err = errno; *call = MK_SYMLINK; }
  if (t != small) free(t);
  struct timespec ts[2] = {{(time_t)le_f64(h + 16), 0}, {(time_t)le_f64(h + 16), 0}};
  if (!err && (h[1] & 1) && lchown(path, le32(h + 8), le32(h + 12))) { err = errno; *call = MK_LCHOWN; }
  if (!err && utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW)) { err = errno; *call = MK_UTIMENSAT; }
  if (err && *call != MK_SYMLINK) unlink(path); /* made, but not as the image has it */
  return err;
}

static void make_execute(napi_env env, void *data) {
  (void)env;
  mjob_t *j = data;
  size_t at = 0;
  for (uint32_t i = 0; i < j->count; i++) {
    const uint8_t *h = j->ops + at;
    size_t plen = le32(h + 24), dlen = le32(h + 28);
    const char *path = (const char *)h + MK_HEADER;
    const uint8_t *d = h + MK_HEADER + plen;
    int call = MK_OK;
    int err = h[0] == 0 ? make_file(h, path, d, dlen, &call) : make_symlink(h, path, d, dlen, &call);
    j->res[2 * i] = err;
    j->res[2 * i + 1] = err ? call : MK_OK;
    at += MK_HEADER + plen + dlen;
  }
}

static void make_complete(napi_env env, napi_status status, void *data) {
  mjob_t *j = data;
  napi_value ab, out, err;
  void *mem;
  if (status == napi_ok && napi_create_arraybuffer(env, (size_t)j->count * 8, &mem, &ab) == napi_ok &&
      napi_create_typedarray(env, napi_int32_array, (size_t)j->count * 2, ab, 0, &out) == napi_ok) {
    memcpy(mem, j->res, (size_t)j->count * 8);
    napi_resolve_deferred(env, j->deferred, out);
  } else {
    err = error_of(env, "imgkit native: makeEntriesAsync did not run");
    napi_reject_deferred(env, j->deferred, err);
  }
  free(j->res);
  napi_delete_reference(env, j->ops_ref);
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value make_entries_async(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint32_t count;
  bool is = false;
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || napi_is_typedarray(env, argv[0], &is) != napi_ok || !is ||
      napi_get_value_uint32(env, argv[1], &count) != napi_ok || napi_get_typedarray_info(env, argv[0], &type, &length, &data, &ab, &offset) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "imgkit native: makeEntriesAsync(ops: Uint8Array, count)");
    return NULL;
  }
  if (count == 0 || count > (1u << 20) || !entries_ok(data, length, count)) {
    napi_throw_range_error(env, NULL, "imgkit native: makeEntriesAsync: the entries do not fill ops");
    return NULL;
  }
  mjob_t *j = calloc(1, sizeof *j);
  if (!j || !(j->res = calloc(count, 8))) { free(j); napi_throw_error(env, NULL, "imgkit native: out of memory"); return NULL; }
  j->ops = data;
  j->len = length;
  j->count = count;
  napi_value promise = queue_job(env, "imgkit:make", make_execute, make_complete, j, &j->deferred, &j->work, argv[0], &j->ops_ref, NULL, NULL);
  if (!promise) {
    free(j->res);
    free(j);
  }
  return promise;
}

/* trimCaches(): frees the zstd contexts, libdeflate compressors and xz encoder memory kept for reuse (when no block is being compressed). */
static napi_value trim_caches(napi_env env, napi_callback_info info) {
  (void)info;
#ifdef HAVE_ZSTD
  for (void *c; (c = keep_take(&cctxs));) zs.ZSTD_freeCCtx(c);
  for (void *c; (c = keep_take(&cctxs_small));) zs.ZSTD_freeCCtx(c);
  for (void *d; (d = keep_take(&dctxs));) zs.ZSTD_freeDCtx(d);
#endif
#ifdef HAVE_LZMA
  xa_trim();
#endif
#ifdef HAVE_LIBDEFLATE
  for (int i = 0; i < 13; i++)
    for (struct libdeflate_compressor *c; (c = keep_take(&ldcs[i]));) ld.free_compressor(c);
  for (struct libdeflate_decompressor *d; (d = keep_take(&ldds));) ld.free_decompressor(d);
#endif
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static void put(napi_env env, napi_value exports, const char *name, napi_callback f) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, f, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

static void version(napi_env env, napi_value obj, const char *name, const char *v) {
  napi_value s;
  napi_create_string_utf8(env, v, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, obj, name, s);
}

/* Offers a codec's two forms and its version when its library opens. */
static int offer(napi_env env, napi_value exports, napi_value codecs, const char *lib, void *fns, const char *const *names,
                 size_t n, const char *name, napi_callback sync_fn, const char *async_name, napi_callback async_fn,
                 const char *key, const char *(*version_fn)(void)) {
  if (!open_lib(lib, (void **)fns, names, n)) return 0;
  put(env, exports, name, sync_fn);
  put(env, exports, async_name, async_fn);
  version(env, codecs, key, version_fn());
  return 1;
}

NAPI_MODULE_INIT() {
  napi_value codecs;
  napi_create_object(env, &codecs);
#ifdef HAVE_ZLIB
  static const char *const zn[] = {"deflateInit2_", "deflateBound", "deflate", "deflateEnd", "zlibVersion", "inflateInit_", "inflate", "inflateEnd"};
  if (offer(env, exports, codecs, "libz.so.1", &zl, zn, 8, "deflate", deflate_sync, "deflateAsync", deflate_async, "zlib", zlib_lib_version)) {
    decoders |= 1 << D_ZLIB;
    /* IMGKIT_ZDEFLATE=0: zlib itself deflates (tests, comparisons) */
    const char *zd_env = getenv("IMGKIT_ZDEFLATE");
    zd_off = zd_env && !strcmp(zd_env, "0");
    put(env, exports, "zdeflateUsable", zd_usable_fn);
  }
#endif
#ifdef HAVE_ZSTD
  static const char *const zsn[] = {"ZSTD_compressBound", "ZSTD_createCCtx", "ZSTD_compressCCtx", "ZSTD_freeCCtx", "ZSTD_isError", "ZSTD_versionString", "ZSTD_createDCtx", "ZSTD_decompressDCtx", "ZSTD_freeDCtx"};
  if (offer(env, exports, codecs, "libzstd.so.1", &zs, zsn, 9, "zstd", zstd_sync, "zstdAsync", zstd_async, "zstd", zstd_lib_version)) {
    decoders |= 1 << D_ZSTD;
#ifdef HAVE_ZSTD_STREAM
    static const char *const zssn[] = {"ZSTD_decompressStream", "ZSTD_DCtx_setParameter", "ZSTD_getErrorCode", "ZSTD_getErrorName"};
    zss_ok = open_lib("libzstd.so.1", (void **)&zss, zssn, 4);
#endif
  }
#endif
#ifdef HAVE_LZMA
  static const char *const lzn[] = {"lzma_stream_buffer_encode", "lzma_stream_buffer_bound", "lzma_lzma_preset", "lzma_version_string", "lzma_stream_buffer_decode",
                                    "lzma_alone_encoder", "lzma_code", "lzma_end", "lzma_raw_encoder", "lzma_filter_encoder_is_supported",
                                    "lzma_stream_decoder", "lzma_alone_decoder", "lzma_raw_decoder", "lzma_raw_decoder_memusage", "lzma_filter_decoder_is_supported"};
  if (offer(env, exports, codecs, "liblzma.so.5", &lz, lzn, 15, "xz", xz_sync, "xzAsync", xz_async, "xz", xz_lib_version)) {
    decoders |= 1 << D_XZ;
    put(env, exports, "lzmaAlone", lzma_alone_sync);
    put(env, exports, "lzmaAloneAsync", lzma_alone_async);
    /* LZMA1EXT (no end marker) came with liblzma 5.4 */
    if (lz.lzma_filter_encoder_is_supported(LZMA_FILTER_LZMA1EXT)) {
      put(env, exports, "lzmaSized", lzma_sized_sync);
      put(env, exports, "lzmaSizedAsync", lzma_sized_async);
    }
    put(env, exports, "lzmaDecoder", lzma_decoder_open);
    put(env, exports, "lzmaDecoderRun", lzma_decoder_run);
    put(env, exports, "lzmaDecoderRunAsync", lzma_decoder_run_async);
    put(env, exports, "lzmaDecoderEnd", lzma_decoder_end);
    /* kind 2 (LZMA1EXT) came with liblzma 5.4 */
    napi_value kinds;
    napi_create_uint32(env, 1u << LD_XZ | 1u << LD_ALONE | (lz.lzma_filter_decoder_is_supported(LZMA_FILTER_LZMA1EXT) ? 1u << LD_SIZED : 0) | (zstd_stream_ok() ? 1u << LD_ZSTD : 0), &kinds);
    napi_set_named_property(env, exports, "lzmaDecoders", kinds);
  }
#endif
#ifdef HAVE_LZ4
  static const char *const l4n[] = {"LZ4_compressBound", "LZ4_compress_default", "LZ4_compress_HC", "LZ4_versionString"};
  offer(env, exports, codecs, "liblz4.so.1", &l4, l4n, 4, "lz4", lz4_sync, "lz4Async", lz4_async, "lz4", lz4_lib_version);
#endif
#ifdef HAVE_LIBDEFLATE
  static const char *const ldn[] = {"libdeflate_alloc_compressor", "libdeflate_zlib_compress", "libdeflate_zlib_compress_bound", "libdeflate_free_compressor",
                                    "libdeflate_alloc_decompressor", "libdeflate_zlib_decompress_ex", "libdeflate_free_decompressor", "libdeflate_crc32"};
  /* IMGKIT_LIBDEFLATE=0 leaves libdeflate out, so that zlib inflates gzip blocks again (tests, comparisons) */
  const char *no_ld = getenv("IMGKIT_LIBDEFLATE");
  if ((!no_ld || strcmp(no_ld, "0")) && (ld_ok = offer(env, exports, codecs, "libdeflate.so.0", &ld, ldn, 8, "libdeflate", libdeflate_sync, "libdeflateAsync", libdeflate_async, "libdeflate", libdeflate_lib_version))) {
    decoders |= 1 << D_ZLIB;
    put(env, exports, "crc32", crc32_fn);
    put(env, exports, "copyCrcAsync", copy_crc_async);
  }
#endif
  put(env, exports, "listXattrs", list_xattrs);
  put(env, exports, "lzmaOwn", lzma_own_sync);
  put(env, exports, "lzmaOwnAsync", lzma_own_async);
  put(env, exports, "mmapThreshold", mmap_threshold);
  put(env, exports, "compressSlots", compress_slots);
  put(env, exports, "compressFirst", compress_first);
  put(env, exports, "trimCaches", trim_caches);
  put(env, exports, "copyRangeAsync", copy_range_async);
  put(env, exports, "prefetchAsync", prefetch_async);
  decoders |= 1 << D_LZ4; /* lz4_block, no library */
  put(env, exports, "decodeAsync", decode_async);
  put(env, exports, "decodeFileAsync", decode_file_async);
  put(env, exports, "squashfsListing", squashfs_listing);
  put(env, exports, "scanTree", scan_tree);
  put(env, exports, "makeEntriesAsync", make_entries_async);
  napi_value dec;
  napi_create_uint32(env, decoders, &dec);
  napi_set_named_property(env, exports, "decoders", dec);
  napi_set_named_property(env, exports, "codecs", codecs);
  return exports;
}
