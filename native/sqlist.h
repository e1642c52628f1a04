/* sqlist: `squashfs ls [-l]` of a whole image (unsquashfs -lln -UTC's listing) in one call. */
#ifndef IMGKIT_SQLIST_H
#define IMGKIT_SQLIST_H
#include <stddef.h>
#include <stdint.h>

/* Decodes one metadata block of the image's compressor (squashfs compressor id `comp`) into
 * out[0..max): 1 and *n when `in` is exactly one valid stream, else 0. */
typedef int (*sq_decode_fn)(int comp, const uint8_t *in, size_t len, uint8_t *out, size_t max, size_t *n);

/*
 * The listing of the image at `path` (from its start, the whole tree from the root, paths under
 * "squashfs-root"), long (`ls -l`) or names only, as src/squashfs/list.ts writes it: 1 with
 * *out (malloc'd) and *len. 0, with nothing allocated, wherever that reader would read anything
 * differently than the plain case this covers: an error of the image, a block or a table it would
 * read later or the generic way, compressor options, a listing past 64 MiB. The caller then lists
 * the image with that reader, which prints the same listing or reports the error.
 */
int sq_list(const char *path, int long_form, sq_decode_fn decode, uint8_t **out, size_t *len);

#endif
