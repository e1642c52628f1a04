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
 * must end at exactly the stated size; if that fails it is decoded as stated (no marker).
 *
 * Nothing may follow the stream, not even zeros: `xz --format=lzma -d` calls that corrupt data, and
 * `decode` makes it BAD_FIELD at the first byte after the stream. In an initramfs the kernel goes on
 * after the stream instead (zero padding, further segments): `decodeLzmaSegment` says where it ends.
 *
 * Encoding goes through the system's liblzma in the native addon when it is built (on libuv's
 * thread pool): then the stream is the one `xz --format=lzma` writes with the same options, byte
 * for byte, but for the size in the header. `endMarker: false` (with the size in the header) uses
 * liblzma 5.4's LZMA1EXT encoder instead, which leaves out the end marker as the LZMA SDK's `lzma e`
 * does: the same data up to the range coder's last bytes. Otherwise, and for decoding, lzma-native
 * (liblzma 5.2), loaded only then.
 */
import { FormatError } from '../bytes/errors.js';
import { collect } from '../bytes/source.js';
import { Budget, codecError } from './pipe.js';
import { checkDictSize, presetDictSize } from './lzma-options.js';
import { nativeCodecs } from './native.js';
import { levelOf, maxOutputOf, type Codec, type DecodeOptions, type EncodeOptions } from './types.js';

/** lzma-native and its helpers (liblzma.ts), loaded on first use. */
const lib = () => import('./liblzma.js');

const HEADER_SIZE = 13;
const PROPS_MAX = 225; // 9 * 5 * 5: lc < 9, lp < 5, pb < 5
const LCLP_MAX = 4; //   liblzma's LZMA_LCLP_MAX

/** One stream: its output, and the input bytes liblzma took for it, header included. */
interface Decoded {
  readonly data: Uint8Array;
  readonly end: number;
}

/** Decodes header + body, the header possibly rewritten (13 bytes either way, so `end` counts in the input). */
async function attempt(header: Uint8Array, body: Uint8Array, max: number): Promise<Decoded> {
  const { decodeWith, memlimitFor, open } = await lib();
  const decoder = open((s) => s.aloneDecoder({ memlimit: memlimitFor(max) }));
  const data = await collect(decodeWith('lzma', decoder, [header, body], new Budget('lzma', max)));
  return { data, end: decoder.totalIn() };
}

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

/** The 13-byte header, checked: props, dictionary size, and the uncompressed size (undefined when unknown). */
function parseHeader(input: Uint8Array): { props: number; dict: number; size: number | undefined } {
  if (input.length < HEADER_SIZE) throw codecError('lzma', 'TRUNCATED', input.length, `Cannot parse lzma header: need ${HEADER_SIZE} bytes`);
  const dv = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const props = input[0]!;
  if (props >= PROPS_MAX) throw codecError('lzma', 'BAD_FIELD', 0, `Cannot parse lzma header: props byte ${props} is not below ${PROPS_MAX}`);
  if ((props % 9) + (Math.floor(props / 9) % 5) > LCLP_MAX)
    throw codecError('lzma', 'UNSUPPORTED', 0, `Cannot parse lzma header: lc + lp exceeds ${LCLP_MAX} (props ${props})`);
  const lo = dv.getUint32(5, true);
  const hi = dv.getUint32(9, true);
  const size = lo === 0xffff_ffff && hi === 0xffff_ffff ? undefined : hi * 2 ** 32 + lo;
  return { props, dict: dv.getUint32(1, true), size };
}

/**
 * The stream at the start of `input`, and where it ends; what follows is not looked at. With
 * `kernel`, a known size ends the stream there, as the kernel's unlzma stops (an end marker
 * after it would be read as the next initramfs segment, so it is refused); without it, an end
 * marker right after the known size belongs to the stream, as xz ≥ 5.4 reads it.
 */
async function decodeFirst(input: Uint8Array, max: number, kernel: boolean): Promise<Decoded> {
  const { props, dict, size } = parseHeader(input);
  const body = input.subarray(HEADER_SIZE);
  if (size === undefined) return attempt(input.subarray(0, HEADER_SIZE), body, max);

  if (size > max) throw new Budget('lzma', max).error(5);
  // The decoder never looks back further than the output so far: a smaller dictionary is exact and
  // keeps a header that claims 4 GiB from allocating it.
  const need = 2 ** Math.ceil(Math.log2(Math.max(size, 4096)));
  const d = Math.min(dict, need);
  const marked = async (): Promise<Decoded> => {
    const r = await attempt(header(d, props, undefined), body, size);
    if (r.data.length === size) return r;
    throw codecError('lzma', 'BAD_FIELD', input.length, `Cannot decode lzma stream: end marker after ${r.data.length} bytes, header says ${size}`);
  };
  if (kernel) {
    try {
      return await attempt(header(d, props, size), body, size);
    } catch (e) {
      // liblzma 5.2 refuses an end marker after a known size; say so when that is why
      if (!(await marked().then(() => true, () => false))) throw e;
      throw codecError('lzma', 'BAD_FIELD', 5,
        `Cannot decode lzma stream: an end marker follows the stated size of ${size} bytes, and the kernel's unlzma stops at that size (it would read the marker as the start of another segment)`);
    }
  }
  let first: unknown;
  try {
    return await marked();
  } catch (e) {
    first = e; // no end marker right at `size`: decode as stated
  }
  try {
    return await attempt(header(d, props, size), body, size);
  } catch (second) {
    // Both readings decode the same bytes up to `size`; report the one that got further (a
    // truncated stream with an end marker is TRUNCATED, not "corrupt"), unless it ran over `size`.
    const a = first as FormatError, b = second as FormatError;
    throw a instanceof FormatError && b instanceof FormatError && a.code !== 'LIMIT' && a.offset >= b.offset ? a : second;
  }
}

/** The whole input as one stream: bytes after its end are BAD_FIELD at the first of them, as `xz --format=lzma -d` refuses them. */
async function decode(input: Uint8Array, max: number): Promise<Uint8Array> {
  const { data, end } = await decodeFirst(input, max, false);
  if (end < input.length)
    throw codecError('lzma', 'BAD_FIELD', end, `Cannot decode lzma stream: ${input.length - end} bytes follow the end of the stream`);
  return data;
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
  return decodeFirst(input, maxOutputOf(opts), true);
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
    return decode(input, maxOutputOf(opts));
  },
  async encode(input, opts) {
    const o = filterOptions(opts);
    const sized = opts?.lzma?.sizeInHeader !== false;
    if (opts?.lzma?.endMarker === false) {
      if (!sized) throw new RangeError('Cannot encode: an lzma stream of unknown size needs its end marker');
      const noMarker = nativeCodecs()?.lzmaSizedAsync;
      if (!noMarker) throw new RangeError('Cannot encode: an lzma stream without an end marker needs the native addon on liblzma 5.4 or later');
      return noMarker(input.slice(), o.level, o.dictSize, o.lc, o.lp, o.pb);
    }
    const native = nativeCodecs()?.lzmaAloneAsync;
    let out: Uint8Array;
    if (native) {
      // a copy: the thread pool reads the input for seconds, while the caller may reuse its buffer
      out = await native(input.slice(), o.level, o.dictSize, o.lc, o.lp, o.pb);
    } else {
      const { encodeWith, open, presetOptions } = await lib();
      const options = { ...presetOptions(o.level), dictSize: o.dictSize, lc: o.lc, lp: o.lp, pb: o.pb };
      out = await collect(encodeWith(open((s) => s.aloneEncoder(options)), [input]));
    }
    if (sized) out.set(header(0, 0, input.length).subarray(5), 5);
    return out;
  },
};
