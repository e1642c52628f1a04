/*
 * fs_scan: the walk of src/squashfs/tree.ts scanSources() over one source path, in C. Each
 * directory is read whole, its names sorted with strcmp (libuv's scandir order, which Node's
 * readdirSync returns), and its entries taken by fstatat/readlinkat on the directory's descriptor
 * rather than by full path; xattrs come from llistxattr/lgetxattr in the kernel's order, as
 * listXattrs gives them. The result is flat: a record of SCAN_FIELDS numbers per entry in the
 * order the JavaScript walk meets them (pre-order), with names, link targets and xattrs beside.
 * Anything that walk would report (an error, a name or target that is not UTF-8, an xattr that
 * cannot be read) makes fs_scan return 0, and the caller runs the JavaScript walk instead.
 */
#define _GNU_SOURCE
#include "scan.h"
#include "buf.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* As deep as src/squashfs/layout.ts MAX_DEPTH lets an image go: deeper trees are the JavaScript walk's to refuse. */
#define SCAN_MAX_DEPTH 4096
/* Path bytes for the xattr calls, which take a path: longer ones are left to the JavaScript walk. */
#define SCAN_PATH_MAX 4096


/* Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF): what decodes to the same bytes. */
static int utf8_ok(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t k;
    unsigned min, cp;
    if ((c & 0xe0) == 0xc0) k = 1, min = 0x80, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0) k = 2, min = 0x800, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0) k = 3, min = 0x10000, cp = c & 0x07;
    else return 0;
    for (size_t j = 1; j <= k; j++) {
      if (i + j >= n || (s[i + j] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + j] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += k + 1;
  }
  return 1;
}

/* Hard links: (dev, ino) → record index, open addressing. */
typedef struct {
  dev_t dev;
  ino_t ino;
  size_t rec; /* record index + 1; 0 = empty */
} link_t;

typedef struct {
  buf_t rec, names, targets, xnames, xvals, xlens;
  link_t *links;
  size_t nlinks, caplinks;
  int hardlinks, xattrs;
  char path[SCAN_PATH_MAX + 1];
  size_t plen;
  size_t nrec;
} scan_t;

static size_t link_slot(const scan_t *s, dev_t dev, ino_t ino) {
  uint64_t h = ((uint64_t)ino * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)dev * 0xc2b2ae3d27d4eb4full);
  size_t i = (size_t)(h >> 17) & (s->caplinks - 1);
  while (s->links[i].rec && !(s->links[i].dev == dev && s->links[i].ino == ino)) i = (i + 1) & (s->caplinks - 1);
  return i;
}

static int link_add(scan_t *s, dev_t dev, ino_t ino, size_t rec) {
  if ((s->nlinks + 1) * 2 > s->caplinks) {
    size_t cap = s->caplinks ? s->caplinks * 2 : 1024;
    link_t *old = s->links;
    size_t oldcap = s->caplinks;
    s->links = calloc(cap, sizeof *s->links);
    if (!s->links) { s->links = old; return 0; }
    s->caplinks = cap;
    for (size_t i = 0; i < oldcap; i++)
      if (old[i].rec) s->links[link_slot(s, old[i].dev, old[i].ino)] = old[i];
    free(old);
  }
  size_t i = link_slot(s, dev, ino);
  s->links[i] = (link_t){dev, ino, rec + 1};
  s->nlinks++;
  return 1;
}

int fs_xattrs(const char *path, fs_xattr_fn each, void *ctx) {
  char stack[1024], *names = stack;
  ssize_t n = llistxattr(path, stack, sizeof stack);
  for (int tries = 0; n < 0 && errno == ERANGE && tries < 4; tries++) {
    ssize_t want = llistxattr(path, NULL, 0);
    if (want < 0) { n = -1; break; }
    if (names != stack) free(names);
    names = malloc(want ? (size_t)want : 1);
    if (!names) { errno = ENOMEM; return 0; }
    n = llistxattr(path, names, (size_t)want);
  }
  int ok = 1;
  if (n < 0) ok = errno == ENOTSUP || errno == ENODATA;
  for (ssize_t at = 0; ok && n > 0 && at < n; at += (ssize_t)strlen(names + at) + 1) {
    const char *name = names + at;
    char vstack[512], *value = vstack;
    ssize_t v = lgetxattr(path, name, vstack, sizeof vstack);
    for (int tries = 0; v < 0 && errno == ERANGE && tries < 4; tries++) {
      ssize_t want = lgetxattr(path, name, NULL, 0);
      if (want < 0) { v = -1; break; }
      if (value != vstack) free(value);
      value = malloc(want ? (size_t)want : 1);
      if (!value) { v = -1; errno = ENOMEM; break; }
      v = lgetxattr(path, name, value, (size_t)want);
    }
    if (v < 0) ok = errno == ENODATA; /* ENODATA: removed since the listing */
    else ok = each(ctx, name, value, (size_t)v);
    if (value != vstack) free(value);
  }
  int saved = errno;
  if (names != stack) free(names);
  errno = saved;
  return ok;
}

/* One xattr of the entry being walked, appended; 0 for a name the JavaScript walk would decode differently. */
static int keep_xattr(void *ctx, const char *name, const void *value, size_t len) {
  scan_t *s = ctx;
  double n = (double)len;
  size_t nl = strlen(name);
  return utf8_ok((const unsigned char *)name, nl) && buf_put(&s->xnames, name, nl + 1) && buf_put(&s->xvals, value, len) &&
         buf_put(&s->xlens, &n, sizeof n);
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

enum { K_NONE, K_DIR, K_FILE, K_SYMLINK, K_BLOCKDEV, K_CHARDEV, K_FIFO, K_SOCKET, K_LINK };

static int scan_dir(scan_t *s, int fd, size_t rec, int depth);

/*
 * One entry: `name` in the directory `dirfd` (the source path itself with AT_FDCWD), s->path its
 * path. Appends its record (and its subtree); 1 when done, also for a kind it skips, 0 to give up.
 */
static int scan_entry(scan_t *s, int dirfd, const char *name, int depth, int *made) {
  struct stat st;
  *made = 0;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
  int kind = S_ISDIR(st.st_mode) ? K_DIR : S_ISREG(st.st_mode) ? K_FILE : S_ISLNK(st.st_mode) ? K_SYMLINK : S_ISBLK(st.st_mode) ? K_BLOCKDEV
           : S_ISCHR(st.st_mode) ? K_CHARDEV : S_ISFIFO(st.st_mode) ? K_FIFO : S_ISSOCK(st.st_mode) ? K_SOCKET : K_NONE;
  if (kind == K_NONE) return 1;
  size_t rec = s->nrec;
  if (kind != K_DIR && s->hardlinks && st.st_nlink > 1) {
    if (s->caplinks) {
      size_t i = link_slot(s, st.st_dev, st.st_ino);
      if (s->links[i].rec) {
        /* the node met first, under another name */
        double r[SCAN_FIELDS] = {K_LINK, (double)(s->links[i].rec - 1)};
        s->nrec++;
        *made = 1;
        return buf_put(&s->rec, r, sizeof r);
      }
    }
    if (!link_add(s, st.st_dev, st.st_ino, rec)) return 0;
  }
  /* BigIntStats: mtimeMs = mtimeNs / 10^6, then / 1000, both truncating */
  int64_t ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  double r[SCAN_FIELDS] = {0};
  r[0] = kind;
  r[1] = st.st_mode & 07777;
  r[2] = st.st_uid;
  r[3] = st.st_gid;
  r[4] = (double)(ns / 1000000 / 1000);
  if (kind == K_FILE) {
    r[5] = (double)st.st_size;
    r[6] = (double)st.st_blocks * 512;
  } else if (kind == K_BLOCKDEV || kind == K_CHARDEV) {
    r[8] = major(st.st_rdev);
    r[9] = minor(st.st_rdev);
  }
  if (s->xattrs) {
    size_t before = s->xlens.len;
    if (!fs_xattrs(s->path, keep_xattr, s)) return 0;
    r[10] = (double)((s->xlens.len - before) / sizeof(double));
  }
  if (!buf_put(&s->rec, r, sizeof r)) return 0;
  s->nrec++;
  *made = 1;
  if (kind == K_SYMLINK) {
    size_t cap = st.st_size > 0 && st.st_size < SCAN_PATH_MAX ? (size_t)st.st_size + 1 : SCAN_PATH_MAX;
    char *t = malloc(cap + 1);
    if (!t) return 0;
    ssize_t n = readlinkat(dirfd, name, t, cap + 1);
    int ok = n >= 0 && (size_t)n <= cap && memchr(t, 0, (size_t)n) == NULL && utf8_ok((unsigned char *)t, (size_t)n);
    if (ok) t[n] = 0, ok = buf_put(&s->targets, t, (size_t)n + 1);
    free(t);
    return ok;
  }
  if (kind == K_DIR) {
    if (depth >= SCAN_MAX_DEPTH) return 0;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return 0;
    return scan_dir(s, fd, rec, depth + 1);
  }
  return 1;
}

/* The entries of the directory open as `fd` (closed here), whose record is `rec`. */
static int scan_dir(scan_t *s, int fd, size_t rec, int depth) {
  DIR *d = fdopendir(fd);
  if (!d) { close(fd); return 0; }
  char **names = NULL;
  size_t n = 0, cap = 0;
  int ok = 1;
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (!e) {
      if (errno != 0) ok = 0;
      break;
    }
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (n == cap) {
      char **more = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
      if (!more) { ok = 0; break; }
      names = more;
    }
    if (!(names[n] = strdup(e->d_name))) { ok = 0; break; }
    n++;
  }
  if (ok) qsort(names, n, sizeof *names, cmp_names);
  size_t base = s->plen;
  double children = 0;
  for (size_t i = 0; ok && i < n; i++) {
    size_t nl = strlen(names[i]);
    if (!utf8_ok((unsigned char *)names[i], nl) || base + 1 + nl > SCAN_PATH_MAX) { ok = 0; break; }
    s->path[base] = '/';
    memcpy(s->path + base + 1, names[i], nl + 1);
    s->plen = base + 1 + nl;
    size_t before = s->names.len;
    int made;
    /* the name goes first; dropped again when the entry is of no kind the walk keeps */
    ok = buf_put(&s->names, names[i], nl + 1) && scan_entry(s, dirfd(d), names[i], depth, &made);
    if (ok && !made) s->names.len = before;
    if (ok && made) children++;
  }
  s->plen = base;
  s->path[base] = 0;
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  closedir(d);
  if (ok) ((double *)s->rec.p)[rec * SCAN_FIELDS + 7] = children;
  return ok;
}

int fs_scan(const char *path, int hardlinks, int xattrs, scan_result *out) {
  scan_t *s = calloc(1, sizeof *s);
  if (!s) return 0;
  s->hardlinks = hardlinks;
  s->xattrs = xattrs;
  size_t pl = strlen(path);
  int ok = 0, made = 0;
  if (pl > 0 && pl <= SCAN_PATH_MAX) {
    memcpy(s->path, path, pl + 1);
    s->plen = pl;
    ok = scan_entry(s, AT_FDCWD, path, 0, &made);
  }
  free(s->links);
  if (!ok) {
    free(s->rec.p), free(s->names.p), free(s->targets.p), free(s->xnames.p), free(s->xvals.p), free(s->xlens.p);
    free(s);
    return 0;
  }
  out->rec = (double *)s->rec.p;
  out->nrec = s->nrec;
  out->names = (char *)s->names.p;
  out->names_len = s->names.len;
  out->targets = (char *)s->targets.p;
  out->targets_len = s->targets.len;
  out->xnames = (char *)s->xnames.p;
  out->xnames_len = s->xnames.len;
  out->xvals = (uint8_t *)s->xvals.p;
  out->xvals_len = s->xvals.len;
  out->xlens = (double *)s->xlens.p;
  out->nx = s->xlens.len / sizeof(double);
  free(s);
  return 1;
}
