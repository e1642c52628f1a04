import type { CompressionId } from './detect.js';

/** Decoded output larger than this is refused unless the caller raises `maxOutput` (decompression-bomb guard). */
export const DEFAULT_MAX_OUTPUT = 2 ** 30;

/** Options every decoder accepts. */
export interface DecodeOptions {
  /**
   * Largest decoded size accepted, in bytes (default {@link DEFAULT_MAX_OUTPUT}, 1 GiB). A stream that
   * decodes to more is a `FormatError` with code `LIMIT`, raised before the excess is allocated.
   */
  maxOutput?: number;
}

/** Check algorithm stored in an .xz stream. The Linux kernel's xz_dec and U-Boot need `crc32`. */
export type XzCheck = 'crc32' | 'crc64' | 'sha256' | 'none';

/** The LZMA encoders `EncodeOptions.lzma.encoder` names. */
export const LZMA_ENCODERS = ['liblzma', 'imgkit'] as const;
export type LzmaEncoder = (typeof LZMA_ENCODERS)[number];

/** Whether `s` names an LZMA encoder. */
export const isLzmaEncoder = (s: string): s is LzmaEncoder => (LZMA_ENCODERS as readonly string[]).includes(s);

/** Branch/call/jump filter run before LZMA2 in an .xz stream, as `xz --x86`, `--arm` … (kernel scripts/xz_wrap.sh). */
export type XzBcj = 'x86' | 'powerpc' | 'ia64' | 'arm' | 'armthumb' | 'sparc';

/**
 * Options for encoders. `level` uses each codec's own scale; codec-specific settings live in a
 * sub-object named after the codec, so one options value can be passed to any encoder.
 */
export interface EncodeOptions {
  /**
   * Compression level. gzip, zlib: 0–9 (default 6). xz, lzma: 0–9 (default 6, as the xz tool).
   * zstd: -7–22 (default 3). lz4: 1–12 (default 1; 3 and up use the HC match finder, as `lz4 -3`…`-12`).
   * bzip2: 1–9, the block size in units of 100 000 bytes (default 9, as the bzip2 tool).
   */
  level?: number;
  xz?: {
    /** Default `crc32`, which the kernel requires (the xz tool defaults to crc64). */
    check?: XzCheck;
    /** LZMA2 dictionary size in bytes (4 KiB–1.5 GiB); default from `level`. The kernel uses 32 MiB or less. */
    dictSize?: number;
    /** Optional BCJ filter in front of LZMA2. */
    bcj?: XzBcj;
  };
  lzma?: {
    /** Literal context bits, 0–4 (default 3); lc + lp ≤ 4. */
    lc?: number;
    /** Literal position bits, 0–4 (default 0). */
    lp?: number;
    /** Position bits, 0–4 (default 2). */
    pb?: number;
    /** Dictionary size in bytes (4 KiB–1.5 GiB); default from `level`. */
    dictSize?: number;
    /**
     * Write the real uncompressed size in the 13-byte header (default true), which U-Boot and
     * lzma-loader need; `false` writes "unknown" (all ones), as `xz --format=lzma` and `lzma` do.
     */
    sizeInHeader?: boolean;
    /**
     * End the stream with an end marker (default true; with the size unknown it must). `false`,
     * with the size in the header, leaves it out as the LZMA SDK's `lzma e` does: the kernel's
     * unlzma stops at the stated size and would take an end marker after it for the start of
     * another initramfs segment ("Initramfs unpacking failed"). Needs the native addon on liblzma
     * 5.4+ (LZMA1EXT); elsewhere a RangeError.
     */
    endMarker?: boolean;
    /**
     * Which encoder writes the stream. `'liblzma'` (default): xz's own, through the native addon,
     * so the bytes are those of `xz --format=lzma` with the same options. `'imgkit'`: imgkit's
     * encoder in the native addon, whose match finder runs on a second core: about 1.5× as fast
     * as xz on two cores and within a fraction of a percent of its size (smaller on some inputs),
     * other bytes, the same on every machine and thread count; it also writes `endMarker: false`
     * without liblzma 5.4. Without the addon `'imgkit'` is a RangeError.
     */
    encoder?: LzmaEncoder;
  };
  lz4?: {
    /** Use the HC match finder even at levels 1–2. */
    hc?: boolean;
    /** Frame format only: maximum block size (default 4 MiB, as the lz4 tool). */
    blockSize?: 65_536 | 262_144 | 1_048_576 | 4_194_304;
    /** Frame format only: store an xxHash32 of the whole content (default true, as the lz4 tool). */
    contentChecksum?: boolean;
    /** Frame format only: store an xxHash32 after every block (default false). */
    blockChecksum?: boolean;
    /** Frame format only: store the content size in the frame header (default true). */
    contentSize?: boolean;
  };
}

/**
 * One compression format. `decode` is always present; the rest only where the format supports it.
 * Every method rejects bad input with a `FormatError` whose `format` is {@link Codec.id}, and
 * caller mistakes (bad options) with `TypeError`/`RangeError`.
 *
 * @example
 * ```ts
 * const xz = await getCodec('xz');
 * const packed = await xz.encode!(bytes, { xz: { check: 'crc32' } });
 * const same = await xz.decode(packed, { maxOutput: 64 << 20 });
 * ```
 */
export interface Codec {
  readonly id: CompressionId;
  /** Decodes a whole compressed buffer. Concatenated streams (multi-member gzip, xz, zstd frames, lz4 frames) are joined. */
  decode(input: Uint8Array, opts?: DecodeOptions): Promise<Uint8Array>;
  /**
   * As `decode`, on the calling thread, where that costs less than a round trip elsewhere (zlib):
   * the same bytes, or a FormatError (whose code may differ for input bad in two ways at once).
   */
  decodeSync?(input: Uint8Array, opts?: DecodeOptions): Uint8Array;
  /** Encodes a whole buffer into one stream. */
  encode?(input: Uint8Array, opts?: EncodeOptions): Promise<Uint8Array>;
  /**
   * Decodes a chunked stream; any chunking gives the same bytes as `decode`. Yielded chunks are
   * never mutated later, and may alias input chunks (lz4 stored blocks), which the caller must not
   * mutate either. Errors thrown by `chunks` itself (I/O) propagate unchanged.
   */
  decodeStream?(chunks: AsyncIterable<Uint8Array>, opts?: DecodeOptions): AsyncIterable<Uint8Array>;
  /** Encodes a chunked stream. Input chunks must not be mutated until the next one is requested. */
  encodeStream?(chunks: AsyncIterable<Uint8Array>, opts?: EncodeOptions): AsyncIterable<Uint8Array>;
}

/** The effective `maxOutput`, validated (a caller mistake is a RangeError, not a FormatError). */
export function maxOutputOf(opts: DecodeOptions | undefined): number {
  const max = opts?.maxOutput ?? DEFAULT_MAX_OUTPUT;
  if (!Number.isSafeInteger(max) || max < 0) throw new RangeError(`Cannot decode: maxOutput ${String(max)} is not a non-negative integer`);
  return max;
}

/** `level` if set and within [min, max], else `fallback`; out of range is a RangeError. */
export function levelOf(opts: EncodeOptions | undefined, min: number, max: number, fallback: number): number {
  const level = opts?.level ?? fallback;
  if (!Number.isInteger(level) || level < min || level > max)
    throw new RangeError(`Cannot encode: level ${String(level)} is outside ${min}..${max}`);
  return level;
}
