/**
 * Per-block compression and the compressor options block (squashfs-tools *_wrapper.c,
 * squashfs-tools-ng doc/format.adoc "Compression Options"). Payloads, little-endian:
 *
 *   gzip  u32 level (1–9), u16 window (8–15), u16 strategies (0x1 default 0x2 filtered 0x4 huffman 0x8 rle 0x10 fixed)
 *   xz    u32 dictionary size (2^n or 3·2^n), u32 filters (0x1 x86 0x2 powerpc 0x4 ia64 0x8 arm 0x10 armthumb 0x20 sparc)
 *   lz4   u32 version (1), u32 flags (0x1 HC)
 *   zstd  u32 level (1–22)
 *   lzo   u32 algorithm (0 lzo1x_1 … 4 lzo1x_999), u32 level
 *   lzma  none
 */
import { FormatError } from '../bytes/errors.js';
import { getCodec } from '../codec/registry.js';
import { nativeCodecs } from '../codec/native.js';
import type { CompressionId } from '../codec/detect.js';
import type { XzBcj } from '../codec/types.js';
import { COMPRESSOR, FORMAT, type CompressorName } from './layout.js';

export const XZ_FILTERS: readonly [XzBcj, number][] = [
  ['x86', 0x1], ['powerpc', 0x2], ['ia64', 0x4], ['arm', 0x8], ['armthumb', 0x10], ['sparc', 0x20],
];
/** liblzma's filter ids of the BCJ filters. */
const LZMA_BCJ_ID: Record<XzBcj, number> = { x86: 0x04, powerpc: 0x05, ia64: 0x06, arm: 0x07, armthumb: 0x08, sparc: 0x09 };
export const GZIP_STRATEGIES: readonly [string, number][] = [
  ['default', 0x1], ['filtered', 0x2], ['huffman_only', 0x4], ['run_length_encoded', 0x8], ['fixed', 0x10],
];

/** Compressor settings, as the options block and mksquashfs's -X options express them. */
export interface CompressorOptions {
  /** gzip 1–9 (default 9), zstd 1–22 (default 15), lzo 1–9 (default 8, lzo1x_999 only). */
  level?: number;
  /** gzip window bits 8–15 (default 15). */
  windowSize?: number;
  /** gzip strategies to try, the smallest result wins (bitmask of GZIP_STRATEGIES). */
  strategies?: number;
  /**
   * gzip encoder-only (-Xlibdeflate, not stored in the image): deflate with libdeflate, through the
   * native addon, instead of zlib. Other compressed bytes than mksquashfs's, ~1% smaller; at level 9
   * slower than the default (imgkit's deflate, zlib's bytes), faster below. Window 15 and the default
   * strategy only.
   */
  libdeflate?: boolean;
  /** xz dictionary size (default: block size). */
  dictSize?: number;
  /** xz BCJ filters to try besides none (bitmask of XZ_FILTERS). */
  filters?: number;
  /** xz encoder-only settings (OpenWrt's -Xpreset -Xe -Xlc -Xlp -Xpb): not stored in the image. */
  preset?: number;
  extreme?: boolean;
  lc?: number;
  lp?: number;
  pb?: number;
  /** lz4 high compression. */
  hc?: boolean;
  /** lzo algorithm 0–4 (default 4, lzo1x_999). */
  algorithm?: number;
}

/** The options block payload mksquashfs writes: only for non-default settings (always for lz4). */
export function encodeCompressorOptions(name: CompressorName, o: CompressorOptions, blockSize: number): Uint8Array | undefined {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  switch (name) {
    case 'gzip': {
      const level = o.level ?? 9, window = o.windowSize ?? 15, strategies = o.strategies ?? 0;
      if (level === 9 && window === 15 && strategies === 0) return undefined;
      dv.setUint32(0, level, true);
      dv.setUint16(4, window, true);
      dv.setUint16(6, strategies, true);
      return b;
    }
    case 'xz': {
      const dict = o.dictSize ?? blockSize, filters = o.filters ?? 0;
      if (dict === blockSize && filters === 0) return undefined;
      dv.setUint32(0, dict, true);
      dv.setUint32(4, filters, true);
      return b;
    }
    case 'lz4':
      dv.setUint32(0, 1, true);
      dv.setUint32(4, o.hc ? 1 : 0, true);
      return b;
    case 'zstd':
      if ((o.level ?? 15) === 15) return undefined;
      dv.setUint32(0, o.level!, true);
      return b.subarray(0, 4);
    case 'lzo': {
      const algorithm = o.algorithm ?? 4, level = o.level ?? 8;
      if (algorithm === 4 && level === 8) return undefined;
      dv.setUint32(0, algorithm, true);
      dv.setUint32(4, algorithm === 4 ? level : 0, true);
      return b;
    }
    case 'lzma':
      return undefined;
  }
}

/** Reads an options block payload; `offset` is where it starts in the image. */
export function decodeCompressorOptions(name: CompressorName, p: Uint8Array, offset: number): CompressorOptions {
  const need = ({ gzip: 8, xz: 8, lz4: 8, zstd: 4, lzo: 8, lzma: 0 } as const)[name];
  if (p.length < need) throw new FormatError(FORMAT, 'TRUNCATED', offset, `Cannot parse ${name} compressor options: need ${need} bytes, got ${p.length}`);
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const bad = (what: string) => new FormatError(FORMAT, 'BAD_FIELD', offset, `Cannot parse ${name} compressor options: ${what}`);
  switch (name) {
    case 'gzip': {
      const level = dv.getUint32(0, true), windowSize = dv.getUint16(4, true), strategies = dv.getUint16(6, true);
      if (level < 1 || level > 9) throw bad(`level ${level} is outside 1..9`);
      if (windowSize < 8 || windowSize > 15) throw bad(`window size ${windowSize} is outside 8..15`);
      return { level, windowSize, strategies };
    }
    case 'xz': {
      const dictSize = dv.getUint32(0, true), filters = dv.getUint32(4, true);
      const n = Math.log2(dictSize), m = Math.log2(dictSize / 3);
      if (!Number.isInteger(n) && !Number.isInteger(m)) throw bad(`dictionary size ${dictSize} is not 2^n or 3·2^n`);
      return { dictSize, filters };
    }
    case 'lz4': {
      const version = dv.getUint32(0, true), flags = dv.getUint32(4, true);
      if (version !== 1) throw new FormatError(FORMAT, 'UNSUPPORTED', offset, `Cannot parse lz4 compressor options: version ${version} is not 1`);
      return { hc: (flags & 1) !== 0 };
    }
    case 'zstd':
      return { level: dv.getUint32(0, true) };
    case 'lzo':
      return { algorithm: dv.getUint32(0, true), level: dv.getUint32(4, true) };
    case 'lzma':
      return {};
  }
}

/** What a compression or decompression worker needs to build the image's block codec. */
export interface CodecInit {
  name: CompressorName;
  options: CompressorOptions;
  blockSize: number;
}

/** Compresses and decompresses single blocks (data, fragment or metadata) for one image. */
export interface BlockCodec {
  readonly name: CompressorName;
  readonly id: number;
  /**
   * Compressed bytes, or undefined when compression would not make the block smaller (store it).
   * With `into`, the bytes may be a view of it (the addon's codecs with one strategy or filter
   * chain write there): a block's result without an allocation of its own. `into` must not be
   * touched until the promise settles.
   */
  compress(src: Uint8Array, into?: Uint8Array): Promise<Uint8Array | undefined>;
  /** Whether compress() runs off the JavaScript thread, so calls in flight use several cores. */
  readonly offThread: boolean;
  /**
   * Whether those calls run in the native addon, on its compression workers, whose number
   * claimCompressSlots() sets.
   */
  readonly gated: boolean;
  /**
   * Decompresses one block into at most `max` bytes. Bad data, or output beyond `max`, is a
   * FormatError at `offset`, the block's position in the image.
   */
  decompress(src: Uint8Array, max: number, offset: number): Promise<Uint8Array>;
  /**
   * `decompress` on the calling thread, for codecs where that is cheaper than a round trip to
   * another (gzip, lz4, lzo); undefined for the others. Loads the codec first.
   */
  syncDecompressor(): Promise<((src: Uint8Array, max: number, offset: number) => Uint8Array) | undefined>;
}

/** Why -Xlibdeflate cannot run here. */
export const LIBDEFLATE_MISSING =
  'libdeflate is not available: the native addon must be built with its headers (Debian: libdeflate-dev, then npm ci or node scripts/build-native.mjs), and IMGKIT_NATIVE must not be 0';

/** True when gzip blocks can be deflated with libdeflate (-Xlibdeflate). */
export const hasLibdeflate = (): boolean => !!nativeCodecs()?.libdeflateAsync;

const CODEC_IDS: Partial<Record<CompressorName, CompressionId>> = { gzip: 'zlib', xz: 'xz', lzma: 'lzma', zstd: 'zstd' };

/** Re-labels a codec's FormatError as a squashfs one at the block's offset, keeping its code. */
function wrap(e: unknown, name: string, offset: number): unknown {
  if (!(e instanceof FormatError)) return e;
  return new FormatError(FORMAT, e.code, offset, `Cannot decompress ${name} block: ${e.detail}`, { cause: e });
}

/**
 * The codec of an image's blocks. `threaded`: compress() runs the work on libuv's thread pool where
 * the codec can (gzip always does; xz, and zstd and lz4 with the native codecs, then do too), so
 * several calls in flight use several cores. With the native codecs (codec/native.ts) gzip, zstd
 * and lz4 blocks are the bytes of the system's zlib, libzstd and liblz4, as mksquashfs's are.
 * `first`: with `threaded`, each block goes ahead of those waiting for the addon's compression
 * workers (metadata blocks, which their writer waits for one by one).
 */
export function blockCodec(name: CompressorName, o: CompressorOptions, blockSize: number, threaded = false, first = false): BlockCodec {
  const id = COMPRESSOR[name];
  const native = nativeCodecs();
  type Sync = (src: Uint8Array, max: number, offset: number) => Uint8Array;
  let sync: Promise<Sync | undefined> | undefined;
  const syncDecompressor = (): Promise<Sync | undefined> =>
    (sync ??= (async (): Promise<Sync | undefined> => {
      if (name === 'lz4') {
        const { decodeBlock } = await import('../codec/lz4-block.js');
        return (src, max, offset) => {
          const dst = new Uint8Array(max);
          const end = decodeBlock(src, 0, src.length, dst, 0, max, 0, FORMAT, offset);
          if (end < 0) throw new FormatError(FORMAT, 'LIMIT', offset, `Cannot decompress lz4 block: output exceeds ${max} bytes`);
          return dst.subarray(0, end);
        };
      }
      if (name === 'lzo') {
        const { decodeLzo1x } = await import('../codec/lzo1x.js');
        return (src, max, offset) => decodeLzo1x(src, max, FORMAT, offset);
      }
      const codec = await getCodec(CODEC_IDS[name]!);
      return codec.decodeSync && ((src, max) => codec.decodeSync!(src, { maxOutput: max }));
    })());
  const decompress = async (src: Uint8Array, max: number, offset: number): Promise<Uint8Array> => {
    try {
      if (name === 'lz4' || name === 'lzo') return (await syncDecompressor())!(src, max, offset);
      const codec = await getCodec(CODEC_IDS[name]!);
      return await codec.decode(src, { maxOutput: max });
    } catch (e) {
      throw wrap(e, name, offset);
    }
  };
  const syncWrapped = async (): Promise<Sync | undefined> => {
    const f = await syncDecompressor();
    return (
      f &&
      ((src, max, offset) => {
        try {
          return f(src, max, offset);
        } catch (e) {
          throw wrap(e, name, offset);
        }
      })
    );
  };
  const smaller = (c: Uint8Array | undefined, size: number) => (c && c.length < size ? c : undefined);
  let compress: (src: Uint8Array, into?: Uint8Array) => Promise<Uint8Array | undefined>;
  let offThread = false, gated = false;
  switch (name) {
    case 'gzip': {
      const level = o.level ?? 9, windowBits = o.windowSize ?? 15;
      if (o.libdeflate) {
        const encode = native?.libdeflate, encodeAsync = native?.libdeflateAsync;
        if (!encode || !encodeAsync) throw new RangeError(LIBDEFLATE_MISSING);
        if (windowBits !== 15 || (o.strategies ?? 0) & ~0x1) throw new RangeError('Cannot compress with libdeflate: it has only the 32 KiB window and the default strategy');
        offThread = gated = true;
        // metadata blocks here and now, as below; data and fragment blocks on the addon's workers
        compress = async (src, into) => smaller(src.length <= 8192 && blockSize > 8192 ? encode(src, level) : await encodeAsync(src, level, into), src.length);
        break;
      }
      const strategies = o.strategies ? GZIP_STRATEGIES.filter(([, bit]) => (o.strategies! & bit) !== 0).map(([, bit]) => bit) : [0x1];
      // zlib's strategy numbers (Z_DEFAULT_STRATEGY … Z_FIXED) for the option bits
      const zs: Record<number, number> = { 1: 0, 2: 1, 4: 2, 8: 3, 16: 4 };
      type Deflate<R> = (b: Uint8Array, level: number, windowBits: number, memLevel: number, strategy: number) => R;
      type DeflateInto = (b: Uint8Array, level: number, windowBits: number, memLevel: number, strategy: number, into?: Uint8Array) => Promise<Uint8Array>;
      // the system's zlib (what mksquashfs links, so the same bytes) when the addon is built
      let deflateNow: Deflate<Uint8Array> | undefined = native?.deflate;
      let deflateLater: DeflateInto | undefined =
        native?.deflateAsync && ((b, level, windowBits, memLevel, strategy, into) => native.deflateAsync!(b, level, windowBits, memLevel, strategy, undefined, into));
      offThread = true;
      gated = !!deflateNow && !!deflateLater;
      compress = async (src, into) => {
        if (!deflateNow || !deflateLater) {
          const zlib = await import('node:zlib');
          const { promisify } = await import('node:util');
          const deflate = promisify(zlib.deflate);
          deflateNow = (b, level, windowBits, memLevel, strategy) => zlib.deflateSync(b, { level, windowBits, memLevel, strategy });
          deflateLater = (b, level, windowBits, memLevel, strategy) => deflate(b, { level, windowBits, memLevel, strategy });
        }
        // metadata blocks (8 KiB, when data blocks are larger) compress here and now: a thread-pool
        // round trip costs more than deflating 8 KiB, and the sync call frees its ~260 KB of zlib
        // state at once instead of leaving it to the garbage collector
        const small = src.length <= 8192 && blockSize > 8192;
        let best: Uint8Array | undefined;
        for (const s of strategies) {
          // one strategy: its bytes may go to `into` (several: each needs its own output to compare)
          const out = small ? deflateNow(src, level, windowBits, 8, zs[s]!) : await deflateLater(src, level, windowBits, 8, zs[s]!, strategies.length === 1 ? into : undefined);
          if (!best || out.length < best.length) best = new Uint8Array(out.buffer, out.byteOffset, out.length);
        }
        return smaller(best, src.length);
      };
      break;
    }
    case 'xz': {
      const dictSize = o.dictSize ?? blockSize;
      const bcjs: (XzBcj | undefined)[] = [undefined, ...XZ_FILTERS.filter(([, bit]) => ((o.filters ?? 0) & bit) !== 0).map(([f]) => f)];
      const encoderOptions = (bcj: XzBcj | undefined) => ({
        level: o.preset ?? 6, dictSize, ...(o.extreme && { extreme: true }),
        ...(o.lc !== undefined && { lc: o.lc }), ...(o.lp !== undefined && { lp: o.lp }), ...(o.pb !== undefined && { pb: o.pb }),
        ...(bcj && { bcj }),
      });
      // the smallest output, the first filter chain's on a tie
      const best = (outs: Uint8Array[]) => outs.reduce((a, b) => (b.length < a.length ? b : a));
      if (native?.xz && native.xzAsync) {
        // the system's liblzma through lzma_stream_buffer_encode, mksquashfs's own call
        const { xz: encode, xzAsync: encodeAsync } = native;
        const preset = (o.preset ?? 6) | (o.extreme ? 0x100 : 0);
        const lc = o.lc ?? -1, lp = o.lp ?? -1, pb = o.pb ?? -1;
        const ids = bcjs.map((b) => (b ? LZMA_BCJ_ID[b] : 0));
        offThread = gated = threaded;
        compress = async (src, into) => {
          const outs: Uint8Array[] = [];
          const to = ids.length === 1 ? into : undefined;
          for (const id of ids) outs.push(threaded ? await encodeAsync(src, preset, dictSize, lc, lp, pb, id, to) : encode(src, preset, dictSize, lc, lp, pb, id));
          return smaller(best(outs), src.length);
        };
        break;
      }
      if (threaded) {
        offThread = true;
        // one set of native encoders (one per filter chain) per block in flight, kept for reuse
        const free: ((input: Uint8Array) => Promise<Uint8Array>)[][] = [];
        compress = async (src) => {
          const { asyncXzEncoder } = await import('./xz-sync.js');
          const set = free.pop() ?? bcjs.map((bcj) => asyncXzEncoder(encoderOptions(bcj)));
          try {
            const outs: Uint8Array[] = [];
            for (const encode of set) outs.push(await encode(src));
            return smaller(best(outs), src.length);
          } finally {
            free.push(set);
          }
        };
        break;
      }
      // one reusable native encoder per filter chain (xz-sync.ts), made on first use
      let encoders: ((input: Uint8Array) => Uint8Array)[] | undefined;
      compress = async (src) => {
        if (!encoders) {
          const { syncXzEncoder } = await import('./xz-sync.js');
          encoders = bcjs.map((bcj) => syncXzEncoder(encoderOptions(bcj)));
        }
        return smaller(best(encoders.map((encode) => encode(src))), src.length);
      };
      break;
    }
    case 'lzma': {
      // as squashfs-tools' lzma_xz_wrapper: lzma_alone_encoder with preset 5 and the block size as
      // the dictionary (8 KiB for metadata), the real size put in the header; with the native
      // addon's liblzma (the system's, as mksquashfs links) the same bytes as mksquashfs's
      const level = o.preset ?? 5, dictSize = Math.max(o.dictSize ?? blockSize, 4096);
      compress = async (src) => {
        const codec = await getCodec('lzma');
        return smaller(await codec.encode!(src, { level, lzma: { dictSize, lc: o.lc ?? 3, lp: o.lp ?? 0, pb: o.pb ?? 2 } }), src.length);
      };
      break;
    }
    case 'zstd': {
      const level = o.level ?? 15;
      const encode = native?.zstd, encodeAsync = native?.zstdAsync;
      offThread = gated = threaded && !!encode && !!encodeAsync;
      compress = encode && encodeAsync
        ? async (src, into) => smaller(threaded ? await encodeAsync(src, level, into) : encode(src, level), src.length)
        : async (src) => smaller(await (await getCodec('zstd')).encode!(src, { level }), src.length);
      break;
    }
    case 'lz4':
      if (native?.lz4 && native.lz4Async) {
        const { lz4: encode, lz4Async: encodeAsync } = native, hc = o.hc ? 1 : 0;
        offThread = gated = threaded;
        compress = async (src, into) => smaller(threaded ? await encodeAsync(src, hc, into) : encode(src, hc), src.length);
      } else {
        // one scratch buffer per codec: the result is an exact-size copy, so each block makes one allocation
        let scratch = new Uint8Array(0);
        compress = async (src) => {
          const { compressBound, encodeBlock } = await import('../codec/lz4-block.js');
          const bound = compressBound(src.length);
          if (scratch.length < bound) scratch = new Uint8Array(bound);
          const end = encodeBlock(src, 0, src.length, scratch, 0, o.hc ? 256 : 0);
          return end < src.length ? scratch.slice(0, end) : undefined;
        };
      }
      break;
    case 'lzo':
      compress = async () => {
        throw new TypeError('Cannot compress: writing lzo squashfs images is not supported (reading is)');
      };
      break;
  }
  const ahead = native?.compressFirst;
  if (first && threaded && ahead) {
    // the encoders queue their job before their first await: inside the flag
    const queued = compress;
    compress = (src, into) => {
      ahead(true);
      try {
        return queued(src, into);
      } finally {
        ahead(false);
      }
    };
  }
  return { name, id, compress, offThread, gated, decompress, syncDecompressor: syncWrapped };
}
