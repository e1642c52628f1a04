/**
 * Synchronous xz block encoder for squashfs data blocks. codec/xz-block.ts runs every block through
 * a new asynchronous lzma-native stream: a native thread and a fresh encoder (megabytes of match
 * finder, freed only when the stream object is collected) per 128 KiB block. Here each filter
 * chain keeps one native stream and re-initialises it per block, which liblzma does in place,
 * reusing its memory (lzma_next_coder reuse). It is meant for a worker thread, where blocking is
 * the point. Output is identical to encodeXzBlock's (test/squashfs/parallel.test.ts).
 */
import { native, presetOptions, checkDictSize, type LzmaFilterOptions } from '../codec/liblzma.js';
import type { XzBlockOptions } from '../codec/xz-block.js';

const BCJ = { x86: 'LZMA_FILTER_X86', powerpc: 'LZMA_FILTER_POWERPC', ia64: 'LZMA_FILTER_IA64', arm: 'LZMA_FILTER_ARM', armthumb: 'LZMA_FILTER_ARMTHUMB', sparc: 'LZMA_FILTER_SPARC' } as const;

interface SyncStream {
  streamEncoder_(filters: readonly { id: string; options?: LzmaFilterOptions }[], check: number): void;
  code(chunk: Buffer | null, async: boolean): void;
  bufferHandler: (buf: Buffer | null | undefined, processed: unknown, err: unknown) => void;
}

/** Returns an encoder of whole .xz streams (CRC32 check, one LZMA2 block) with the options of encodeXzBlock. */
export function syncXzEncoder(o: XzBlockOptions = {}): (input: Uint8Array) => Uint8Array {
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
  const filters = [...(o.bcj ? [{ id: BCJ[o.bcj] }] : []), { id: 'LZMA_FILTER_LZMA2', options: lzma2 }];
  const s = new (native.Stream as unknown as new () => SyncStream)();
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
    if (error) throw new RangeError(`Cannot encode: liblzma says "${String((error as Error).message ?? error)}"`, { cause: error });
    const all = Buffer.concat(out);
    return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
  };
}
