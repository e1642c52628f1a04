/**
 * Block encoders for squashfs xz data blocks, one native lzma-native stream each, without the
 * readable-stream machinery of codec/xz-block.ts (which makes a new stream object per block).
 *  - {@link syncXzEncoder} blocks the calling thread: for compressor worker threads and the inline
 *    (`-processors 0`) writer.
 *  - {@link asyncXzEncoder} runs liblzma on libuv's thread pool: the writer gets several cores
 *    without a JavaScript isolate per core (each costs ~20 MB of RSS).
 * lzma-native ends the liblzma stream (lzma_end) when it reaches its end, so every block
 * initialises a fresh encoder (match finder memory included); the stream object itself is reused.
 * Output is identical to encodeXzBlock's (test/squashfs/parallel.test.ts).
 */
import { native, presetOptions, checkDictSize, type LzmaFilterOptions } from '../codec/liblzma.js';
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
    lzma2.mode = (native as unknown as { MODE_NORMAL: number }).MODE_NORMAL;
    lzma2.mf = (native as unknown as { MF_BT4: number }).MF_BT4;
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

const newStream = (): NativeStream => new (native.Stream as unknown as new () => NativeStream)();
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
    s.streamEncoder_(filters, native.CHECK_CRC32);
    s.code(Buffer.from(input.buffer, input.byteOffset, input.byteLength), false);
    s.code(null, false);
    if (error) throw encodeError(error);
    return joined(out);
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
    s.streamEncoder_(filters, native.CHECK_CRC32);
    try {
      await run(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
      // a stream is finished by an empty write; lzma-native keeps that state (8.0: its
      // shouldFinish flag is never cleared), so from the second block on the write above ends it
      if (!ended) await run(null);
    } catch (e) {
      throw encodeError(e);
    }
    return joined(out);
  };
}
