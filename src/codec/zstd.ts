/**
 * Zstandard (RFC 8878) via @bokuweb/zstd-wasm (libzstd compiled to WebAssembly, shipped in the
 * npm tarball; node:zlib has no zstd before Node 22.15); decodeStream runs the system's libzstd
 * through the native addon when it is built.
 *
 * libzstd's one-shot ZSTD_decompress needs an output buffer of the right size, and the binding
 * sizes it from the frame header. So frames are walked here first (RFC 8878 §3.1.1): that finds
 * truncation with an exact offset, splits concatenated and skippable frames, and bounds each
 * frame's output from its block headers before anything is allocated: every block regenerates at
 * most Block_Maximum_Size (the window, at most 128 KiB), and a raw or RLE block that claims more is
 * refused, as libzstd refuses it. So the bound grows by at most 128 KiB per 3-byte block header,
 * and a header that claims 4 GiB on a 20-byte input is refused, not obeyed.
 *
 *   frame     = magic 28 b5 2f fd, FHD, [window], [dict id], [content size], block…, [xxh64 & 0xffffffff]
 *   block     = u24le (last:1 | type:2 | size:21), payload
 *   skippable = u32le 0x184d2a5? magic, u32le size, data
 */
import { FormatError, type FormatErrorCode } from '../bytes/errors.js';
import { concat } from '../bytes/source.js';
import { nativeCodecs } from './native.js';
import { AddonDecoder, Budget, codecError, Feed, stepThrough } from './pipe.js';
import { levelOf, maxOutputOf, type Codec } from './types.js';

const MAGIC = 0xfd2f_b528;
const SKIPPABLE_MASK = 0xffff_fff0;
const SKIPPABLE = 0x184d_2a50;
const BLOCK_MAX = 128 * 1024; // ZSTD_BLOCKSIZE_MAX
const BLOCK_TYPES = ['raw', 'RLE', 'compressed', 'reserved'] as const;
/** Output per frame (and input per encode) kept well inside the 2 GiB WebAssembly heap. */
const WASM_MAX = 2 ** 30;

type Zstd = typeof import('@bokuweb/zstd-wasm');
let loaded: Promise<Zstd> | undefined;
function zstd(): Promise<Zstd> {
  return (loaded ??= import('@bokuweb/zstd-wasm').then(async (z) => {
    await z.init();
    return z;
  }));
}

/** One frame found by {@link walk}: where it is and how much it can decode to. */
export interface FrameInfo {
  /** Offset of the frame (or skippable frame) in the input. */
  start: number;
  end: number;
  skippable: boolean;
  /** Frame_Content_Size, when the header has it. */
  contentSize: number | undefined;
  /** Largest output the blocks can produce. */
  bound: number;
  /** Output of the raw and RLE blocks alone: the frame decodes to at least this much. */
  least: number;
}

/** Splits `input` into frames, checking every header and block length against the input. */
export function walk(input: Uint8Array): FrameInfo[] {
  const dv = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const frames: FrameInfo[] = [];
  const need = (at: number, n: number, what: string): void => {
    if (at + n > input.length)
      throw codecError('zstd', 'TRUNCATED', at, `Cannot read ${what}: need ${n} bytes, ${Math.max(0, input.length - at)} left`);
  };
  let at = 0;
  do {
    const start = at;
    need(at, 4, 'frame magic');
    const magic = dv.getUint32(at, true);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE) {
      need(at + 4, 4, 'skippable frame size');
      const size = dv.getUint32(at + 4, true);
      need(at + 8, size, 'skippable frame');
      at += 8 + size;
      frames.push({ start, end: at, skippable: true, contentSize: 0, bound: 0, least: 0 });
      continue;
    }
    if (magic !== MAGIC) throw codecError('zstd', 'BAD_MAGIC', at, `Cannot parse zstd frame: magic 0x${magic.toString(16)} is not 0xfd2fb528`);
    at += 4;
    need(at, 1, 'frame header descriptor');
    const fhd = input[at++]!;
    if (fhd & 0x08) throw codecError('zstd', 'BAD_FIELD', at - 1, 'Cannot parse zstd frame header: reserved bit is set');
    const single = (fhd & 0x20) !== 0;
    const fcsBytes = [single ? 1 : 0, 2, 4, 8][fhd >> 6]!;
    const dictBytes = [0, 1, 2, 4][fhd & 3]!;
    let window = 0;
    if (!single) {
      need(at, 1, 'window descriptor');
      const wd = input[at++]!;
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
    }
    need(at, dictBytes + fcsBytes, 'frame header');
    let dictId = 0;
    for (let i = dictBytes - 1; i >= 0; i--) dictId = dictId * 256 + input[at + i]!;
    if (dictId !== 0) throw codecError('zstd', 'UNSUPPORTED', at, `Cannot decode zstd frame: it needs dictionary ${dictId}`);
    at += dictBytes;
    let contentSize: number | undefined;
    if (fcsBytes > 0) {
      contentSize = 0;
      for (let i = fcsBytes - 1; i >= 0; i--) contentSize = contentSize * 256 + input[at + i]!;
      if (fcsBytes === 2) contentSize += 256;
      at += fcsBytes;
    }
    const blockMax = Math.min(single ? (contentSize ?? 0) : window, BLOCK_MAX);
    let bound = 0;
    let least = 0;
    for (let last = false; !last; ) {
      need(at, 3, 'block header');
      const h = input[at]! + input[at + 1]! * 256 + input[at + 2]! * 65536;
      last = (h & 1) === 1;
      const type = (h >> 1) & 3;
      const size = Math.floor(h / 8);
      if (type === 3) throw codecError('zstd', 'BAD_FIELD', at, 'Cannot parse zstd block header: block type 3 is reserved');
      // Block_Size is the content size of a compressed block and the regenerated size of a raw or
      // RLE block: both at most Block_Maximum_Size (RFC 8878 §3.1.1.2.3–4), as libzstd checks.
      if (size > blockMax)
        throw codecError('zstd', 'BAD_FIELD', at, `Cannot parse zstd block header: ${BLOCK_TYPES[type]} block size ${size} exceeds the block maximum of ${blockMax}`);
      at += 3;
      need(at, type === 1 ? 1 : size, 'block');
      at += type === 1 ? 1 : size;
      bound += type === 2 ? blockMax : size;
      if (type !== 2) least += size;
    }
    if (fhd & 0x04) {
      need(at, 4, 'content checksum');
      at += 4;
    }
    if (contentSize !== undefined && contentSize > bound)
      throw codecError('zstd', 'BAD_FIELD', start, `Cannot parse zstd frame: content size ${contentSize} exceeds what its blocks can hold (${bound})`);
    if (contentSize !== undefined && contentSize < least)
      throw codecError('zstd', 'BAD_FIELD', start, `Cannot parse zstd frame: content size ${contentSize} is less than its raw and RLE blocks hold (${least})`);
    frames.push({ start, end: at, skippable: false, contentSize, bound, least });
  } while (at < input.length);
  return frames;
}

/** libzstd error codes (zstd_errors.h) that mean something other than corrupt data. */
const ZSTD_CODES: Readonly<Record<number, FormatErrorCode>> = {
  10: 'BAD_MAGIC', //     prefix_unknown
  12: 'UNSUPPORTED', //   version_unsupported
  14: 'UNSUPPORTED', //   frameParameter_unsupported
  16: 'UNSUPPORTED', //   frameParameter_windowTooLarge
  22: 'BAD_CHECKSUM', //  checksum_wrong
  32: 'UNSUPPORTED', //   dictionary_wrong
  64: 'LIMIT', //         memory_allocation
  72: 'TRUNCATED', //     srcSize_wrong
};
const DST_TOO_SMALL = 70;
/** What libzstd's ZSTD_getErrorName says for the codes a hostile frame can give (the wasm decoder gives only the code). */
const ZSTD_NAMES: Readonly<Record<number, string>> = {
  10: 'unknown frame descriptor',
  12: 'version not supported',
  14: 'unsupported frame parameter',
  16: 'frame requires too much memory for decoding (its window is larger than the decoder allows)',
  20: 'data corruption detected',
  22: 'restored data does not match checksum',
  24: 'header of literals block is wrong',
  30: 'dictionary is corrupted',
  32: 'dictionary mismatch',
  44: 'tableLog requires too much memory',
  46: 'unsupported max symbol value: too large',
  48: 'specified maxSymbolValue is too small',
  64: 'allocation error: not enough memory',
  70: 'destination buffer is too small',
  72: 'src size is incorrect',
};

async function decode(input: Uint8Array, max: number): Promise<Uint8Array> {
  const budget = new Budget('zstd', max);
  const frames = walk(input);
  const z = await zstd();
  const parts: Uint8Array[] = [];
  for (const f of frames) {
    if (f.skippable) continue;
    const room = Math.min(budget.left, WASM_MAX);
    // the content size, or else the raw and RLE blocks alone, already pass the budget: refuse before decoding
    if ((f.contentSize ?? f.least) > room) throw budget.error(f.start);
    const cap = f.contentSize ?? Math.min(f.bound, room);
    let out: Uint8Array;
    try {
      // With a content size the binding allocates exactly that; without one, `defaultHeapSize`.
      out = z.decompress(input.subarray(f.start, f.end), { defaultHeapSize: Math.max(cap, 1) });
    } catch (e) {
      const code = Number(/code (-?\d+)/.exec(e instanceof Error ? e.message : '')?.[1]);
      if (-code === DST_TOO_SMALL && f.contentSize === undefined && cap < f.bound) throw budget.error(f.start);
      const fc = ZSTD_CODES[-code] ?? 'BAD_FIELD';
      const what = ZSTD_NAMES[-code];
      throw codecError('zstd', fc, f.start, `Cannot decode zstd frame: ${what ? `${what} (libzstd error ${-code})` : `libzstd error ${-code || String(e)}`}`, e);
    }
    if (f.contentSize !== undefined && out.length !== f.contentSize)
      throw codecError('zstd', 'BAD_FIELD', f.start, `Cannot decode zstd frame: ${out.length} bytes, header says ${f.contentSize}`);
    budget.take(out.length, f.start);
    parts.push(out);
  }
  return parts.length === 1 ? parts[0]! : concat(parts);
}

/** The native addon's lzmaDecoder kind for libzstd's streaming decoder. */
const STREAM_KIND = 3;

/**
 * The largest window the streaming decoder sets up, as a power of two: 2^27, `zstd -d`'s limit
 * (a header is trusted with no more memory than that), or up to the output allowed when that is
 * raised past its 1 GiB default (2^31 at most). A frame with a larger window is refused as
 * UNSUPPORTED; `imgkit decompress` then decodes it whole, as decode takes windows up to 2^30.
 */
const windowLogFor = (max: number): number => (max > 2 ** 30 ? Math.min(31, Math.ceil(Math.log2(max))) : 27);

/**
 * The frames of `chunks` decoded by libzstd's streaming decoder on the thread pool, a piece of at
 * most 1 MiB at a time, so a small input that expands to gigabytes takes little memory. It takes
 * and refuses what `zstd -d` does (the same decoder), which is what {@link decode} does except for
 * a few damaged frames without a checksum that decode refuses and a frame whose window exceeds
 * windowLogFor, which decode takes within its 1 GiB. A failure is placed at the start of its frame,
 * or where the input ends. Without the addon's decoder, the input is gathered and decoded whole.
 */
async function* decodeStream(chunks: AsyncIterable<Uint8Array>, max: number): AsyncGenerator<Uint8Array> {
  const n = nativeCodecs();
  if (!n?.lzmaDecoder || !n.lzmaDecoderRunAsync || !((n.lzmaDecoders ?? 0) & (1 << STREAM_KIND))) {
    const parts: Uint8Array[] = [];
    for await (const c of chunks) parts.push(c);
    yield await decode(parts.length === 1 ? parts[0]! : concat(parts), max);
    return;
  }
  const budget = new Budget('zstd', max);
  const dec = new AddonDecoder(n, n.lzmaDecoder(STREAM_KIND, 0, windowLogFor(max)));
  const failed = (e: unknown): FormatError => {
    const code = (e as { code?: unknown }).code;
    const fc = (typeof code === 'number' && ZSTD_CODES[code]) || 'BAD_FIELD';
    const what = fc === 'TRUNCATED' ? 'input ends inside a frame' : `libzstd says "${e instanceof Error ? e.message : String(e)}" (error ${String(code)})`;
    // as decode places them: a cut where the input ends, anything else at the start of its frame
    return codecError('zstd', fc, fc === 'TRUNCATED' ? dec.totalIn : dec.frameStart, `Cannot decode zstd stream: ${what}`, e);
  };
  for await (const piece of stepThrough(dec, new Feed(chunks), failed)) {
    budget.take(piece.length, dec.totalIn);
    yield piece;
  }
}

export const codec: Codec = {
  id: 'zstd',
  decodeStream(chunks, opts) {
    return decodeStream(chunks, maxOutputOf(opts));
  },
  decode(input, opts) {
    const max = maxOutputOf(opts);
    return decode(input, max).catch((e: unknown) => {
      throw e instanceof FormatError ? e : codecError('zstd', 'BAD_FIELD', 0, `Cannot decode zstd stream: ${String(e)}`, e);
    });
  },
  async encode(input, opts) {
    const level = levelOf(opts, -7, 22, 3);
    if (input.length > WASM_MAX) throw new RangeError(`Cannot encode: zstd input of ${input.length} bytes exceeds ${WASM_MAX}`);
    return (await zstd()).compress(input, level);
  },
};
