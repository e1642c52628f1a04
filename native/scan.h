/* fs_scan: a source tree as src/squashfs/tree.ts scanSources() walks it, flat (native/scan.c). */
#ifndef IMGKIT_SCAN_H
#define IMGKIT_SCAN_H
#include <stddef.h>
#include <stdint.h>

/*
 * Numbers per record: kind (1 dir, 2 file, 3 symlink, 4 block device, 5 character device,
 * 6 fifo, 7 socket, 8 another name of record [1]), mode & 07777, uid, gid, mtime (seconds),
 * size, allocated bytes (st_blocks × 512), entries kept (directories), major, minor, xattrs.
 */
#define SCAN_FIELDS 11

typedef struct {
  double *rec;
  size_t nrec;
  /* every record's name but the first's, each ending in a NUL */
  char *names;
  size_t names_len;
  /* each symlink's target, NUL-ended, in record order */
  char *targets;
  size_t targets_len;
  /* the xattrs, in record order: NUL-ended names, their values back to back and each value's length */
  char *xnames;
  size_t xnames_len;
  uint8_t *xvals;
  size_t xvals_len;
  double *xlens;
  size_t nx;
} scan_result;

/*
 * Walks `path` (not following it if it is a symlink): 1 with *out filled (each buffer malloc'd,
 * the caller's to free), or 0, with nothing allocated, where the JavaScript walk would fail, warn
 * or decode a name differently.
 */
int fs_scan(const char *path, int hardlinks, int xattrs, scan_result *out);

/* Called per xattr by fs_xattrs: 1 to go on, 0 to stop (fs_xattrs then returns 0). */
typedef int (*fs_xattr_fn)(void *ctx, const char *name, const void *value, size_t len);

/*
 * The xattrs of `path` (not following a final symlink) in llistxattr's order, which is the order
 * mksquashfs stores them in, each given to `each`. No attributes, or a file system without them,
 * is none. 1, or 0 with errno set when one cannot be read (one removed since the listing is skipped).
 */
int fs_xattrs(const char *path, fs_xattr_fn each, void *ctx);

#endif
