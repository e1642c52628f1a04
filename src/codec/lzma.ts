/**
 * LZMA-alone (".lzma", LZMA SDK lzma-specification.txt) via liblzma. A 13-byte header, then one
 * LZMA1 range-coded stream:
 *
 *   0x00  u8     props: (pb * 5 + lp) * 9 + lc
 *   0x01  u32le  dictionary size
 *   0x05  u64le  uncompressed size, all ones when unknown
 *   0x0d  …      LZMA1 data; with an unknown size it ends with an end marker (EOPM)
 *
 * Known-size streams come with or without an end marker: LZMA SDK writes none, this encoder writes
 * one (liblzma's alone encoder cannot omit it), and the kernel's unlzma, U-Boot's LzmaDec and xz ≥ 5.4 read both.
 * liblzma 5.2 only reads the first, so a known-size stream is decoded as "unknown size" first and
 * must end at exactly the stated size; if that fails it is decoded as stated (no marker), whatever
 * the liblzma (5.4's alone decoder would take a marker there too: the addon reads it as 5.2 does).
 *
 * Nothing may follow the stream, not even zeros: `xz --format=lzma -d` calls that corrupt data, and
 * `decode` makes it BAD_FIELD at the first byte after the stream. In an initramfs the kernel goes on
 * after the stream instead (zero padding, further segments): `decodeLzmaSegment` says where it ends.
 *
 * Decoding runs the native addon's decoder when it is built (on libuv's thread pool, at most 1 MiB
 * of output per step: `decodeStream` takes as much memory as its consumer holds), else lzma-native's.
 * Encoding goes through the system's liblzma in the addon when it is built: then the stream is the
 * one `xz --format=lzma` writes with the same options, byte for byte, but for the size in the
 * header. `endMarker: false` (with the size in the header) uses liblzma 5.4's LZMA1EXT encoder
 * instead, which leaves out the end marker as the LZMA SDK's `lzma e` does: the same data up to the
 * range coder's last bytes. Without the addon, lzma-native (liblzma 5.2).
 */
import { FormatError } from '../bytes/errors.js';
import { collect } from '../bytes/source.js';
import { Budget, codecError, Feed, plain, stepThrough } from './pipe.js';
import { checkDictSize, presetDictSize } from './lzma-options.js';
import { nativeCodecs } from './native.js';
import { LZMA_ENCODERS, levelOf, maxOutputOf, type Codec, type DecodeOptions, type EncodeOptions } from './types.js';

/** The decoders and lzma-native's encoder (liblzma.ts), loaded on first use. */
const lib = () => import('./liblzma.js');

const HEADER_SIZE = 13;
const PROPS_MAX = 225; // 9 * 5 * 5: lc < 9, lp < 5, pb < 5
const LCLP_MAX = 4; //   liblzma's LZMA_LCLP_MAX

/** Compressed input `decodeStream` keeps, beyond the chunk being read, to read a known-size stream a second time. */
const REREAD_LIMIT = 64 * 2 ** 20;

function header(dict: number, props: number, size: number | undefined): Uint8Array {
  const h = new Uint8Array(HEADER_SIZE);
  const dv = new DataView(h.buffer);
  h[0] = props;
  dv.setUint32(1, dict, true);
  if (size === undefined) h.fill(0xff, 5);
  else {
    dv.setUint32(5, size % 2 ** 32, true);
    dv.setUint32(9, Math.floor(size / 2 ** 32), true);
  }
  return h;
}

/** The 13-byte header at `at`, checked: props, dictionary size, and the uncompressed size (undefined when unknown). */
function parseHeader(input: Uint8Array, at: number): { props: number; dict: number; size: number | undefined } {
  if (input.length < HEADER_SIZE) throw codecError('lzma', 'TRUNCATED', at + input.length, `Cannot parse lzma header: need ${HEADER_SIZE} bytes`);
  const dv = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const props = input[0]!;
  if (props >= PROPS_MAX) throw codecError('lzma', 'BAD_FIELD', at, `Cannot parse lzma header: props byte ${props} is not below ${PROPS_MAX}`);
  if ((props % 9) + (Math.floor(props / 9) % 5) > LCLP_MAX)
    throw codecError('lzma', 'UNSUPPORTED', at, `Cannot parse lzma header: lc + lp exceeds ${LCLP_MAX} (props ${props})`);
  const lo = dv.getUint32(5, true);
  const hi = dv.getUint32(9, true);
  const size = lo === 0xffff_ffff && hi === 0xffff_ffff ? undefined : hi * 2 ** 32 + lo;
  return { props, dict: dv.getUint32(1, true), size };
}

/**
 * One reading of the stream whose header is at `at` (the feed is past it), as if its header were
 * `head` (the same 13 bytes, or a rewrite: offsets count in the input either way). `strict`, for a
 * stated size: the stream ends there and no end marker may follow, as liblzma 5.2 and the kernel's
 * unlzma read it. Output comes piece by piece within `max` bytes; the feed is left after the stream.
 */
async function* reading(feed: Feed, at: number, head: Uint8Array, max: number, strict: boolean): AsyncGenerator<Uint8Array> {
  const { lzmaError, memlimitFor, openDecoder, sizedDecoder } = await lib();
  const budget = new Budget('lzma', max);
  const body = strict ? sizedDecoder(head, memlimitFor(max)) : undefined;
  const dec = body ?? openDecoder('alone', memlimitFor(max));
  const base = body ? at + HEADER_SIZE : at;
  for await (const piece of stepThrough(dec, feed, (e) => lzmaError('lzma', e, base + dec.totalIn), body ? undefined : head)) {
    budget.take(piece.length);
    yield piece;
  }
}

/** The size of a reading's output, read to its end and not kept; undefined if it fails. */
async function outputSize(pieces: AsyncIterable<Uint8Array>): Promise<number | undefined> {
  let n = 0;
  try {
    for await (const piece of pieces) n += piece.length;
    return n;
  } catch {
    return undefined;
  }
}

/**
 * The stream at the feed's position, piece by piece; the feed is left after it, and what follows is
 * not looked at. With `kernel`, a known size ends the stream there, as the kernel's unlzma stops (an
 * end marker after it would be read as the next initramfs segment, so it is refused); without it, an
 * end marker right after the known size belongs to the stream, as xz ≥ 5.4 reads it.
 *
 * A known-size stream is read first one way and, if that fails, again from its start the other way
 * (the feed keeps its input from the header on, up to `limit` bytes beyond the chunk being read).
 * Both readings decode the same bytes up to the size; the second yields only what the first did not.
 */
async function* decodeFirst(feed: Feed, max: number, kernel: boolean, limit: number): AsyncGenerator<Uint8Array> {
  const at = feed.offset;
  const real = await feed.peek(HEADER_SIZE);
  const { props, dict, size } = parseHeader(real, at);
  await feed.skip(HEADER_SIZE);
  if (size === undefined) return yield* reading(feed, at, real, max, false);

  if (size > max) throw new Budget('lzma', max).error(at + 5);
  // The decoder never looks back further than the output so far: a smaller dictionary is exact and
  // keeps a header that claims 4 GiB from allocating it.
  const need = 2 ** Math.ceil(Math.log2(Math.max(size, 4096)));
  const d = Math.min(dict, need);
  const stated = header(d, props, size);
  const marked = header(d, props, undefined);
  feed.mark(limit);
  if (kernel) {
    try {
      return yield* reading(feed, at, stated, size, true);
    } catch (e) {
      // an end marker after a known size is refused by liblzma 5.2; say so when that is why
      if (!(e instanceof FormatError) || !feed.rewind()) throw e;
      if ((await outputSize(reading(feed, at, marked, size, false))) !== size) throw e;
      throw codecError('lzma', 'BAD_FIELD', at + 5,
        `Cannot decode lzma stream: an end marker follows the stated size of ${size} bytes, and the kernel's unlzma stops at that size (it would read the marker as the start of another segment)`);
    }
  }
  // First as "unknown size", which must end with an end marker right at `size`
  let out = 0;
  let first: FormatError | 'early';
  try {
    for await (const piece of reading(feed, at, marked, size, false)) {
      out += piece.length;
      yield piece;
    }
    if (out === size) return;
    first = 'early';
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    first = e;
  }
  const early = async (): Promise<FormatError> =>
    codecError('lzma', 'BAD_FIELD', feed.offset + (await feed.skip()), `Cannot decode lzma stream: end marker after ${out} bytes, header says ${size}`);
  if (!feed.rewind()) {
    const why = first === 'early' ? await early() : first;
    throw codecError('lzma', 'LIMIT', at, `${why.detail}; reading it again as a stream with no end marker would need more than ${limit} bytes of its input kept (decode it whole instead)`, why);
  }
  // … then as stated, with no end marker
  try {
    let skip = out;
    for await (const piece of reading(feed, at, stated, size, true)) {
      if (skip < piece.length) yield piece.subarray(skip);
      skip = Math.max(0, skip - piece.length);
    }
  } catch (second) {
    // Report the reading that got further (a truncated stream with an end marker is TRUNCATED, not
    // "corrupt"), unless it ran over `size`.
    if (!(second instanceof FormatError)) throw second;
    const a = first === 'early' ? await early() : first;
    throw a.code !== 'LIMIT' && a.offset >= second.offset ? a : second;
  }
}

/**
 * The whole input as one stream, piece by piece: bytes after its end are BAD_FIELD at the first of
 * them, as `xz --format=lzma -d` refuses them.
 */
async function* decodeAll(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, max: number, limit: number): AsyncGenerator<Uint8Array> {
  const feed = new Feed(chunks);
  yield* decodeFirst(feed, max, false, limit);
  const end = feed.offset;
  const rest = await feed.skip();
  if (rest > 0) throw codecError('lzma', 'BAD_FIELD', end, `Cannot decode lzma stream: ${rest} bytes follow the end of the stream`);
}

/**
 * Decodes the stream at the start of `input` as the kernel's unlzma does for an initramfs segment,
 * and returns where it stops (init/initramfs.c goes on from there): after the end marker when the
 * size is unknown, after the stated size otherwise. The bytes after it are not looked at. An end
 * marker after a stated size is BAD_FIELD: the kernel stops before it and fails on what is left.
 *
 * @example
 * ```ts
 * const { data, end } = await decodeLzmaSegment(image.subarray(pos));
 * ```
 */
export async function decodeLzmaSegment(input: Uint8Array, opts?: DecodeOptions): Promise<{ data: Uint8Array; end: number }> {
  const feed = new Feed([input]);
  const data = await collect(decodeFirst(feed, maxOutputOf(opts), true, Number.POSITIVE_INFINITY));
  return { data, end: feed.offset };
}

/** The level, and lc/lp/pb/dictSize from options over the level's preset, validated (RangeError on a caller mistake). */
function filterOptions(opts: EncodeOptions | undefined) {
  const level = levelOf(opts, 0, 9, 6);
  const o = { level, dictSize: presetDictSize(level), lc: 3, lp: 0, pb: 2 };
  const l = opts?.lzma;
  for (const k of ['lc', 'lp', 'pb'] as const) {
    const v = l?.[k];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 0 || v > 4) throw new RangeError(`Cannot encode: lzma ${k} ${v} is outside 0..4`);
    o[k] = v;
  }
  if (o.lc + o.lp > LCLP_MAX) throw new RangeError(`Cannot encode: lzma lc + lp is ${o.lc + o.lp}, above ${LCLP_MAX}`);
  if (l?.dictSize !== undefined) o.dictSize = checkDictSize(l.dictSize);
  return o;
}

export const codec: Codec = {
  id: 'lzma',
  decode(input, opts) {
    return collect(decodeAll([input], maxOutputOf(opts), Number.POSITIVE_INFINITY));
  },
  async *decodeStream(chunks, opts) {
    yield* decodeAll(chunks, maxOutputOf(opts), REREAD_LIMIT);
  },
  async encode(input, opts) {
    const o = filterOptions(opts);
    const sized = opts?.lzma?.sizeInHeader !== false;
    const encoder = opts?.lzma?.encoder ?? 'liblzma';
    if (!sized && opts?.lzma?.endMarker === false) throw new RangeError('Cannot encode: an lzma stream of unknown size needs its end marker');
    if (encoder === 'imgkit') {
      const own = nativeCodecs()?.lzmaOwnAsync;
      if (!own) throw new RangeError("Cannot encode: lzma encoder 'imgkit' needs the native addon");
      const flags = (sized ? 1 : 0) | (opts?.lzma?.endMarker === false ? 0 : 2);
      return plain(await own(input.slice(), o.level, o.dictSize, o.lc, o.lp, o.pb, flags));
    }
    if (encoder !== 'liblzma') throw new RangeError(`Cannot encode: unknown lzma encoder '${String(encoder)}' (${LZMA_ENCODERS.join(' or ')})`);
    if (opts?.lzma?.endMarker === false) {
      const noMarker = nativeCodecs()?.lzmaSizedAsync;
      if (!noMarker) throw new RangeError('Cannot encode: an lzma stream without an end marker needs the native addon on liblzma 5.4 or later');
      return plain(await noMarker(input.slice(), o.level, o.dictSize, o.lc, o.lp, o.pb));
    }
    const native = nativeCodecs()?.lzmaAloneAsync;
    let out: Uint8Array;
    if (native) {
      // a copy: the thread pool reads the input for seconds, while the caller may reuse its buffer
      out = plain(await native(input.slice(), o.level, o.dictSize, o.lc, o.lp, o.pb));
    } else {
      const { encodeWith, open, presetOptions } = await lib();
      const options = { ...presetOptions(o.level), dictSize: o.dictSize, lc: o.lc, lp: o.lp, pb: o.pb };
      out = await collect(encodeWith(open((s) => s.aloneEncoder(options)), [input]));
    }
    if (sized) out.set(header(0, 0, input.length).subarray(5), 5);
    return out;
  },
};
