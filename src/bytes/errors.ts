/**
 * The one error type for bad input. Codes form a small fixed set; the offset is the absolute
 * byte position in the image of the field that is wrong.
 */
export type FormatErrorCode = 'BAD_MAGIC' | 'TRUNCATED' | 'BAD_CHECKSUM' | 'BAD_FIELD' | 'UNSUPPORTED' | 'LIMIT';

/** The input bytes are not a valid image. Never thrown for caller mistakes (those are TypeError/RangeError). */
export class FormatError extends Error {
  override readonly name = 'FormatError';
  constructor(
    /** 'bootimg' | 'uimage' | 'squashfs' | 'cpio' | 'fdt' | codec ids … */
    readonly format: string,
    readonly code: FormatErrorCode,
    /** Absolute byte offset of the offending field. */
    readonly offset: number,
    /** "Cannot parse <what>: <state>" */
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`${format}: ${detail} (at 0x${offset.toString(16)})`, options);
  }
}

export function isFormatError(e: unknown): e is FormatError {
  return e instanceof FormatError;
}

/** The EIO error for an input file that ended before the size it had when it was measured. */
export function shrankError(name: string): Error {
  return Object.assign(new Error(`${name}: file shrank while being read`), { code: 'EIO' });
}

/** The EISDIR error for an input that is a folder (Node's own names no path: "illegal operation on a directory, read"). */
export function isDirectoryError(name: string): Error {
  return Object.assign(new Error(`${name}: is a directory, not a file`), { code: 'EISDIR' });
}
