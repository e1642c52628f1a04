/*
 * imgkit's native codecs: the system's zlib, libzstd and liblz4, the libraries mksquashfs links,
 * so squashfs blocks come out as mksquashfs's do. Each codec is compiled in only when the build
 * found its header (scripts/build-native.mjs writes config.h) and is offered only when its library
 * opens at run time; `codecs` names the ones present, with their versions.
 *
 * The libraries are opened with dlopen and their functions looked up with dlsym: Node's own binary
 * exports a zlib under the plain names (deflateInit2_ …), and a linked -lz would bind to those, not
 * to the system's zlib; RTLD_DEEPBIND keeps the library's calls to itself inside it too. config.h
 * holds each header's absolute path (IMGKIT_*_H), because Node's include directory, which
 * node-gyp puts first, has a zlib.h of its own.
 *
 * It also lists a file's xattrs in the kernel's order (listXattrs), which Node cannot.
 *
 * Every compressor has a synchronous form, f(input, ...) → Buffer, and an asynchronous one,
 * fAsync(input, ...) → Promise<Buffer>, that runs on libuv's thread pool. The caller must not
 * change `input` until the promise settles (the bytes are read in place, not copied).
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sys/xattr.h>

#include "config.h" /* written by scripts/build-native.mjs: the headers found */

#ifdef IMGKIT_ZLIB_H
#include IMGKIT_ZLIB_H
#define HAVE_ZLIB 1
static struct {
  int (*deflateInit2_)(z_streamp, int, int, int, int, int, const char *, int);
  uLong (*deflateBound)(z_streamp, uLong);
  int (*deflate)(z_streamp, int);
  int (*deflateEnd)(z_streamp);
  const char *(*zlibVersion)(void);
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
} zs;
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

enum kind { DEFLATE, ZSTD, LZ4 };

typedef struct {
  enum kind kind;
  const uint8_t *in;
  size_t in_len;
  int a, b, c, d; /* deflate: level, windowBits, memLevel, strategy; zstd: level; lz4: hc */
  uint8_t *out;
  size_t out_len;
  const char *error; /* static text */
  napi_ref in_ref;
  napi_deferred deferred;
  napi_async_work work;
} job_t;

#ifdef HAVE_ZSTD
/*
 * Compression contexts are kept for reuse, as mksquashfs keeps one per thread: a level-15
 * context for 1 MiB blocks is tens of MB, and allocating one per block left glibc's per-thread
 * arenas holding freed contexts (peak RSS +30 MB). The list holds at most as many contexts as
 * blocks were ever compressed at once. Reuse does not change the output.
 */
static pthread_mutex_t cctx_lock = PTHREAD_MUTEX_INITIALIZER;
static ZSTD_CCtx *cctx_free[16];
static int cctx_count;

static ZSTD_CCtx *cctx_take(void) {
  ZSTD_CCtx *c = NULL;
  pthread_mutex_lock(&cctx_lock);
  if (cctx_count) c = cctx_free[--cctx_count];
  pthread_mutex_unlock(&cctx_lock);
  return c ? c : zs.ZSTD_createCCtx();
}

static void cctx_give(ZSTD_CCtx *c) {
  pthread_mutex_lock(&cctx_lock);
  if (cctx_count < 16) {
    cctx_free[cctx_count++] = c;
    c = NULL;
  }
  pthread_mutex_unlock(&cctx_lock);
  if (c) zs.ZSTD_freeCCtx(c);
}
#endif

/* Runs the job: sets out/out_len, or error. Safe on any thread. */
static void run(job_t *j) {
  switch (j->kind) {
#ifdef HAVE_ZLIB
  case DEFLATE: {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (zl.deflateInit2_(&s, j->a, Z_DEFLATED, j->b, j->c, j->d, ZLIB_VERSION, (int)sizeof s) != Z_OK) { j->error = "deflateInit2 failed"; return; }
    size_t cap = zl.deflateBound(&s, (uLong)j->in_len);
    j->out = malloc(cap ? cap : 1);
    if (!j->out) { zl.deflateEnd(&s); j->error = "out of memory"; return; }
    s.next_in = (Bytef *)j->in;
    s.avail_in = (uInt)j->in_len;
    s.next_out = j->out;
    s.avail_out = (uInt)cap;
    int r = zl.deflate(&s, Z_FINISH);
    j->out_len = s.total_out;
    zl.deflateEnd(&s);
    if (r != Z_STREAM_END) j->error = "deflate did not finish";
    return;
  }
#endif
#ifdef HAVE_ZSTD
  case ZSTD: {
    size_t cap = zs.ZSTD_compressBound(j->in_len);
    j->out = malloc(cap ? cap : 1);
    if (!j->out) { j->error = "out of memory"; return; }
    ZSTD_CCtx *c = cctx_take();
    if (!c) { j->error = "out of memory"; return; }
    size_t r = zs.ZSTD_compressCCtx(c, j->out, cap, j->in, j->in_len, j->a);
    cctx_give(c);
    if (zs.ZSTD_isError(r)) j->error = "ZSTD_compressCCtx failed";
    else j->out_len = r;
    return;
  }
#endif
#ifdef HAVE_LZ4
  case LZ4: {
    if (j->in_len > LZ4_MAX_INPUT_SIZE) { j->error = "input too large for lz4"; return; }
    int cap = l4.LZ4_compressBound((int)j->in_len);
    j->out = malloc(cap ? (size_t)cap : 1);
    if (!j->out) { j->error = "out of memory"; return; }
    int r = j->a ? l4.LZ4_compress_HC((const char *)j->in, (char *)j->out, (int)j->in_len, cap, LZ4HC_CLEVEL_MAX)
                 : l4.LZ4_compress_default((const char *)j->in, (char *)j->out, (int)j->in_len, cap);
    if (r <= 0 && j->in_len > 0) j->error = "lz4 compression failed";
    else j->out_len = (size_t)r;
    return;
  }
#endif
  default:
    j->error = "codec not built";
  }
}

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "imgkit native: N-API call failed"); return NULL; } } while (0)

/* Reads (input, int…) into a job; throws and returns 0 on bad arguments. */
static int parse(napi_env env, napi_callback_info info, job_t *j, size_t nints, napi_value *input) {
  size_t argc = 5;
  napi_value argv[5];
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
  int *ints[4] = {&j->a, &j->b, &j->c, &j->d};
  for (size_t i = 0; i < nints; i++) {
    int32_t v;
    if (napi_get_value_int32(env, argv[1 + i], &v) != napi_ok) { napi_throw_type_error(env, NULL, "imgkit native: option must be a number"); return 0; }
    *ints[i] = v;
  }
  *input = argv[0];
  return 1;
}

static napi_value result(napi_env env, job_t *j) {
  napi_value out = NULL;
  if (j->error) napi_throw_range_error(env, NULL, j->error);
  else if (napi_create_buffer_copy(env, j->out_len, j->out, NULL, &out) != napi_ok) napi_throw_error(env, NULL, "imgkit native: cannot allocate the result");
  free(j->out);
  j->out = NULL;
  return out;
}

static napi_value run_sync(napi_env env, napi_callback_info info, enum kind kind, size_t nints) {
  job_t j;
  memset(&j, 0, sizeof j);
  j.kind = kind;
  napi_value input;
  if (!parse(env, info, &j, nints, &input)) return NULL;
  run(&j);
  return result(env, &j);
}

static void execute(napi_env env, void *data) {
  (void)env;
  run((job_t *)data);
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  napi_value out = NULL, err = NULL, msg;
  if (status != napi_ok && !j->error) j->error = "cancelled";
  if (j->error) {
    napi_create_string_utf8(env, j->error, NAPI_AUTO_LENGTH, &msg);
    napi_create_range_error(env, NULL, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
  } else if (napi_create_buffer_copy(env, j->out_len, j->out, NULL, &out) == napi_ok) {
    napi_resolve_deferred(env, j->deferred, out);
  } else {
    napi_create_string_utf8(env, "imgkit native: cannot allocate the result", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
  }
  free(j->out);
  napi_delete_reference(env, j->in_ref);
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value run_async(napi_env env, napi_callback_info info, enum kind kind, size_t nints) {
  job_t *j = calloc(1, sizeof *j);
  if (!j) { napi_throw_error(env, NULL, "imgkit native: out of memory"); return NULL; }
  j->kind = kind;
  napi_value input, promise, name;
  if (!parse(env, info, j, nints, &input)) { free(j); return NULL; }
  CHECK(napi_create_reference(env, input, 1, &j->in_ref));
  CHECK(napi_create_promise(env, &j->deferred, &promise));
  CHECK(napi_create_string_utf8(env, "imgkit:compress", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, execute, complete, j, &j->work));
  CHECK(napi_queue_async_work(env, j->work));
  return promise;
}

#ifdef HAVE_ZLIB
/* deflate(input, level, windowBits, memLevel, strategy): one zlib stream, as deflateInit2 + deflate(Z_FINISH). */
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
#ifdef HAVE_LZ4
/* lz4(input, hc): one raw block, LZ4_compress_default or LZ4_compress_HC at LZ4HC_CLEVEL_MAX. */
static napi_value lz4_sync(napi_env env, napi_callback_info info) { return run_sync(env, info, LZ4, 1); }
static napi_value lz4_async(napi_env env, napi_callback_info info) { return run_async(env, info, LZ4, 1); }
static const char *lz4_lib_version(void) { return l4.LZ4_versionString(); }
#endif

/*
 * listXattrs(path) → [name, value][]: the extended attributes of `path` (not following a final
 * symlink) in llistxattr's order, which is the order mksquashfs stores them in. No attributes,
 * or a file system without them, gives []. Other failures throw an Error naming errno.
 */
static napi_value list_xattrs(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1], list;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "imgkit native: path must be a string");
    return NULL;
  }
  char *path = malloc(len + 1), *names = NULL;
  if (!path) { napi_throw_error(env, NULL, "imgkit native: out of memory"); return NULL; }
  napi_get_value_string_utf8(env, argv[0], path, len + 1, &len);
  napi_create_array(env, &list);
  ssize_t n = 0;
  for (int tries = 0; tries < 4; tries++) {
    n = llistxattr(path, NULL, 0);
    if (n <= 0) break;
    free(names);
    names = malloc((size_t)n);
    if (!names) { errno = ENOMEM; n = -1; break; }
    n = llistxattr(path, names, (size_t)n);
    if (n >= 0 || errno != ERANGE) break;
  }
  if (n < 0 && errno != ENOTSUP && errno != ENODATA) goto fail;
  uint32_t k = 0;
  for (ssize_t at = 0; at < n; at += (ssize_t)strlen(names + at) + 1) {
    const char *name = names + at;
    ssize_t v = 0;
    uint8_t *value = NULL;
    for (int tries = 0; tries < 4; tries++) {
      v = lgetxattr(path, name, NULL, 0);
      if (v < 0) break;
      free(value);
      value = malloc(v ? (size_t)v : 1);
      if (!value) { errno = ENOMEM; v = -1; break; }
      v = lgetxattr(path, name, value, (size_t)v);
      if (v >= 0 || errno != ERANGE) break;
    }
    if (v < 0) {
      free(value);
      if (errno == ENODATA) continue; /* removed since the listing */
      goto fail;
    }
    napi_value pair, jname, jvalue;
    napi_create_array_with_length(env, 2, &pair);
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &jname);
    napi_create_buffer_copy(env, (size_t)v, value, NULL, &jvalue);
    free(value);
    napi_set_element(env, pair, 0, jname);
    napi_set_element(env, pair, 1, jvalue);
    napi_set_element(env, list, k++, pair);
  }
  free(names);
  free(path);
  return list;
fail: {
    char msg[160];
    snprintf(msg, sizeof msg, "imgkit native: cannot read xattrs: %s", strerror(errno));
    free(names);
    free(path);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
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
static void offer(napi_env env, napi_value exports, napi_value codecs, const char *lib, void *fns, const char *const *names,
                  size_t n, const char *name, napi_callback sync_fn, const char *async_name, napi_callback async_fn,
                  const char *key, const char *(*version_fn)(void)) {
  if (!open_lib(lib, (void **)fns, names, n)) return;
  put(env, exports, name, sync_fn);
  put(env, exports, async_name, async_fn);
  version(env, codecs, key, version_fn());
}

NAPI_MODULE_INIT() {
  napi_value codecs;
  napi_create_object(env, &codecs);
#ifdef HAVE_ZLIB
  static const char *const zn[] = {"deflateInit2_", "deflateBound", "deflate", "deflateEnd", "zlibVersion"};
  offer(env, exports, codecs, "libz.so.1", &zl, zn, 5, "deflate", deflate_sync, "deflateAsync", deflate_async, "zlib", zlib_lib_version);
#endif
#ifdef HAVE_ZSTD
  static const char *const zsn[] = {"ZSTD_compressBound", "ZSTD_createCCtx", "ZSTD_compressCCtx", "ZSTD_freeCCtx", "ZSTD_isError", "ZSTD_versionString"};
  offer(env, exports, codecs, "libzstd.so.1", &zs, zsn, 6, "zstd", zstd_sync, "zstdAsync", zstd_async, "zstd", zstd_lib_version);
#endif
#ifdef HAVE_LZ4
  static const char *const l4n[] = {"LZ4_compressBound", "LZ4_compress_default", "LZ4_compress_HC", "LZ4_versionString"};
  offer(env, exports, codecs, "liblz4.so.1", &l4, l4n, 4, "lz4", lz4_sync, "lz4Async", lz4_async, "lz4", lz4_lib_version);
#endif
  put(env, exports, "listXattrs", list_xattrs);
  napi_set_named_property(env, exports, "codecs", codecs);
  return exports;
}
