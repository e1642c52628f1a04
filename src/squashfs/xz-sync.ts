/**
 * Block encoders for squashfs xz data blocks, one native lzma-native stream each, without the
 * readable-stream machinery of codec/xz-block.ts (which makes a new stream object per block).
 *  - {@link syncXzEncoder} blocks the calling thread: for compressor worker threads and the inline
 *    (`-processors 0`) writer.
 *  - {@link asyncXzEncoder} runs liblzma on libuv's thread pool: the writer gets several cores
 *    without a JavaScript isolate per core (each costs ~20 MB of RSS).
 * lzma-native ends the liblzma stream (lzma_end) when it reaches its end, so every block
 * initialises a fresh encoder (match finder memory included); the stream object itself is reused.
 * Output is laid out as mksquashfs's (see {@link asBufferEncoded}); its compressed data is
 * encodeXzBlock's (test/squashfs/parallel.test.ts).
 */
import { crc32 } from '../bytes/crc32.js';
import { lzmaNative, presetOptions, checkDictSize, type LzmaFilterOptions } from '../codec/liblzma.js';
import type { XzBlockOptions } from '../codec/xz-block.js';

const BCJ = { x86: 'LZMA_FILTER_X86', powerpc: 'LZMA_FILTER_POWERPC', ia64: 'LZMA_FILTER_IA64', arm: 'LZMA_FILTER_ARM', armthumb: 'LZMA_FILTER_ARMTHUMB', sparc: 'LZMA_FILTER_SPARC' } as const;

type Filters = readonly { id: string; options?: LzmaFilterOptions }[];

/**
 * lzma-native's native stream. `bufferHandler` gets (output chunk) for each chunk, then (null,
 * undefined, error or null) when the stream ended or failed, then (undefined, count) once input
 * chunks were consumed; with `async` the coding runs on libuv's pool and the calls come later.
 */
interface NativeStream {
  streamEncoder_(filters: Filters, check: number): void;
  code(chunk: Buffer | null, async: boolean): void;
  bufferHandler: (buf: Buffer | null | undefined, processed: number | undefined, err: unknown) => void;
}

/** The filter chain of encodeXzBlock for these options (RangeError on bad ones). */
function xzFilters(o: XzBlockOptions): Filters {
  const level = o.level ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`Cannot encode: level ${String(level)} is outside 0..9`);
  const lzma2 = presetOptions(level);
  if (o.extreme) {
    lzma2.mode = lzmaNative().MODE_NORMAL;
    lzma2.mf = lzmaNative().MF_BT4;
    lzma2.niceLen = level === 3 || level === 5 ? 192 : 273;
    lzma2.depth = 512;
  }
  if (o.dictSize !== undefined) lzma2.dictSize = checkDictSize(o.dictSize);
  if (o.lc !== undefined) lzma2.lc = o.lc;
  if (o.lp !== undefined) lzma2.lp = o.lp;
  if (o.pb !== undefined) lzma2.pb = o.pb;
  if (lzma2.lc > 4 || lzma2.lp > 4 || lzma2.pb > 4 || lzma2.lc + lzma2.lp > 4) throw new RangeError('Cannot encode: lc/lp/pb out of range');
  return [...(o.bcj ? [{ id: BCJ[o.bcj] }] : []), { id: 'LZMA_FILTER_LZMA2', options: lzma2 }];
}

/** Length of `n` as an xz variable-length integer (7 bits per byte). */
const vliSize = (n: number) => {
  let k = 1;
  for (; n >= 0x80; k++) n = Math.floor(n / 0x80);
  return k;
};
const putVli = (out: Uint8Array, at: number, n: number) => {
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out[at++] = (n % 0x80) | 0x80;
  out[at++] = n;
  return at;
};
const getVli = (b: Uint8Array, at: number): [number, number] => {
  let n = 0;
  for (let shift = 1; ; shift *= 0x80) {
    const v = b[at++]!;
    n += (v & 0x7f) * shift;
    if (v < 0x80) return [n, at];
  }
};
const u32le = (out: Uint8Array, at: number, v: number) => new DataView(out.buffer, out.byteOffset).setUint32(at, v, true);

/**
 * Rewrites the one-block .xz stream liblzma's stream encoder wrote for `inputLength` bytes into the
 * layout of lzma_stream_buffer_encode, which mksquashfs uses: the block header also stores the
 * compressed and uncompressed sizes, and its length is planned for the LZMA2 worst case
 * (`lzma2_bound`: input plus 3 bytes per 64 KiB chunk plus an end byte), so a short size field is
 * followed by header padding (lzma_block_header_size). The compressed data and the check are the same bytes; the index and
 * footer follow the new block size. `stream` is our encoder's output, so it is not validated.
 */
export function asBufferEncoded(stream: Uint8Array, inputLength: number): Uint8Array {
  if (inputLength === 0) return stream; // no block in either layout
  const STREAM_HEADER = 12, FOOTER = 12, CHECK = 4;
  const oldHeader = (stream[STREAM_HEADER]! + 1) * 4;
  const flags = stream[STREAM_HEADER + 1]!;
  // filter flags: after the two fixed bytes (no size fields in the stream encoder's header)
  let at = STREAM_HEADER + 2;
  for (let i = 0; i <= (flags & 3); i++) {
    let propsSize: number;
    [, at] = getVli(stream, at);
    [propsSize, at] = getVli(stream, at);
    at += propsSize;
  }
  const filterFlags = stream.subarray(STREAM_HEADER + 2, at);
  // the index record gives the block's unpadded size (header + data + check)
  const backward = (new DataView(stream.buffer, stream.byteOffset).getUint32(stream.length - 8, true) + 1) * 4;
  const [unpadded] = getVli(stream, stream.length - FOOTER - backward + 2);
  const dataLength = unpadded - oldHeader - CHECK;
  const data = stream.subarray(STREAM_HEADER + oldHeader, STREAM_HEADER + oldHeader + dataLength);
  const padded = Math.ceil(dataLength / 4) * 4;
  const check = stream.subarray(STREAM_HEADER + oldHeader + padded, STREAM_HEADER + oldHeader + padded + CHECK);

  const bound = inputLength + Math.ceil(inputLength / 0x10000) * 3 + 1;
  const header = Math.ceil((2 + vliSize(bound) + vliSize(inputLength) + filterFlags.length + 4) / 4) * 4;
  const newUnpadded = header + dataLength + CHECK;
  const index = Math.ceil((2 + vliSize(newUnpadded) + vliSize(inputLength)) / 4) * 4 + 4;
  const out = new Uint8Array(STREAM_HEADER + header + padded + CHECK + index + FOOTER);
  out.set(stream.subarray(0, STREAM_HEADER));
  let p = STREAM_HEADER;
  out[p] = header / 4 - 1;
  out[p + 1] = flags | 0x40 | 0x80;
  p = putVli(out, p + 2, dataLength);
  p = putVli(out, p, inputLength);
  out.set(filterFlags, p);
  p = STREAM_HEADER + header - 4;
  u32le(out, p, crc32(out.subarray(STREAM_HEADER, p)));
  p += 4;
  out.set(data, p);
  p += padded;
  out.set(check, p);
  p += CHECK;
  const indexStart = p;
  out[p] = 0; // index indicator
  p = putVli(out, p + 1, 1); // one record
  p = putVli(out, p, newUnpadded);
  p = putVli(out, p, inputLength);
  p = indexStart + index - 4;
  u32le(out, p, crc32(out.subarray(indexStart, p)));
  p += 4;
  u32le(out, p + 4, index / 4 - 1);
  out.set(stream.subarray(stream.length - 4), p + 8); // stream flags and "YZ"
  u32le(out, p, crc32(out.subarray(p + 4, p + 10)));
  return out;
}

const newStream = (): NativeStream => new (lzmaNative().Stream as unknown as new () => NativeStream)();
const encodeError = (e: unknown) => new RangeError(`Cannot encode: liblzma says "${String((e as Error).message ?? e)}"`, { cause: e });
const joined = (out: Buffer[]) => {
  const all = Buffer.concat(out);
  return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
};

/** Returns an encoder of whole .xz streams (CRC32 check, one LZMA2 block) with the options of encodeXzBlock. */
export function syncXzEncoder(o: XzBlockOptions = {}): (input: Uint8Array) => Uint8Array {
  const filters = xzFilters(o);
  const s = newStream();
  let out: Buffer[] = [];
  let error: unknown;
  s.bufferHandler = (buf, _processed, err) => {
    if (err) error = err;
    else if (buf) out.push(buf);
  };
  return (input) => {
    out = [];
    error = undefined;
    s.streamEncoder_(filters, lzmaNative().CHECK_CRC32);
    s.code(Buffer.from(input.buffer, input.byteOffset, input.byteLength), false);
    s.code(null, false);
    if (error) throw encodeError(error);
    return asBufferEncoded(joined(out), input.length);
  };
}

/**
 * The same encoder on libuv's thread pool: one block at a time per encoder (the caller keeps one
 * encoder per concurrent block). `input` must not change until the promise settles.
 */
export function asyncXzEncoder(o: XzBlockOptions = {}): (input: Uint8Array) => Promise<Uint8Array> {
  const filters = xzFilters(o);
  const s = newStream();
  let out: Buffer[] = [];
  let ended = false;
  let step: { resolve(): void; reject(e: unknown): void } | undefined;
  // settled from a later macrotask: lzma-native resets the stream (lzma_end) after its last
  // callback returns, and a continuation run from inside the callback would start the next block
  // on the stream about to be reset
  const settle = (e?: unknown) => {
    const t = step!;
    step = undefined;
    setImmediate(() => (e === undefined ? t.resolve() : t.reject(e)));
  };
  s.bufferHandler = (buf, processed, err) => {
    if (buf) out.push(buf);
    else if (!step) return;
    else if (buf === null) {
      if (!err) ended = true;
      settle(err ?? undefined);
    } else if (processed !== undefined) settle();
  };
  const run = (chunk: Buffer | null) => new Promise<void>((resolve, reject) => {
    step = { resolve, reject };
    s.code(chunk, true);
  });
  return async (input) => {
    out = [];
    ended = false;
    s.streamEncoder_(filters, lzmaNative().CHECK_CRC32);
    try {
      await run(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
      // a stream is finished by an empty write; lzma-native keeps that state (8.0: its
      // shouldFinish flag is never cleared), so from the second block on the write above ends it
      if (!ended) await run(null);
    } catch (e) {
      throw encodeError(e);
    }
    return asBufferEncoded(joined(out), input.length);
  };
}
