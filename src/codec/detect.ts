/**
 * Magic-byte detection of compressed streams. Synchronous and free of codec imports, so
 * listing tools can name a compression without loading any compressor.
 */
export type CompressionId = 'gzip' | 'zlib' | 'xz' | 'lzma' | 'zstd' | 'lz4' | 'lz4-legacy' | 'bzip2' | 'lzo';

const starts = (b: Uint8Array, magic: readonly number[], at = 0): boolean =>
  b.length >= at + magic.length && magic.every((m, i) => b[at + i] === m);

/** The compression whose magic `head` starts with, or undefined. 16 bytes of head are enough. */
export function detectCompression(head: Uint8Array): CompressionId | undefined {
  if (starts(head, [0x1f, 0x8b]) || starts(head, [0x1f, 0x9e])) return 'gzip';
  if (starts(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (starts(head, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  if (starts(head, [0x04, 0x22, 0x4d, 0x18])) return 'lz4';
  if (starts(head, [0x02, 0x21, 0x4c, 0x18])) return 'lz4-legacy';
  if (starts(head, [0x42, 0x5a, 0x68]) && head.length > 3 && head[3]! >= 0x31 && head[3]! <= 0x39) return 'bzip2';
  if (starts(head, [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a])) return 'lzo';
  if (isLzmaAlone(head)) return 'lzma';
  if (head.length >= 2 && (head[0]! & 0x0f) === 8 && head[0]! >> 4 <= 7 && (head[0]! * 256 + head[1]!) % 31 === 0) return 'zlib';
  return undefined;
}

/**
 * LZMA-alone ("lzma" / .lzma) has no magic: a props byte (lc/lp/pb, < 225), a dictionary size,
 * and a 64-bit uncompressed size (all ones when unknown). Accept the forms real tools write:
 * dictionary a power of two or 2^n + 2^(n-1) from 4 KiB, or all ones (xz 5.4 takes that too, also
 * when it detects the format: `xz -dc`), and a size that is unknown or below 2^48.
 */
function isLzmaAlone(b: Uint8Array): boolean {
  if (b.length < 13 || b[0]! >= 225) return false;
  const dict = (b[1]! | (b[2]! << 8) | (b[3]! << 16)) + b[4]! * 0x100_0000;
  if (dict < 4096) return false;
  let pow2 = dict === 0xffff_ffff;
  for (let n = 12; n <= 32 && !pow2; n++) pow2 = dict === 2 ** n || dict === 2 ** n + 2 ** (n - 1);
  if (!pow2) return false;
  const unknown = [5, 6, 7, 8, 9, 10, 11, 12].every((i) => b[i] === 0xff);
  return unknown || (b[11] === 0 && b[12] === 0);
}
