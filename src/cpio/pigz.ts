/**
 * Parallel gzip in the manner of pigz: the input is cut into fixed blocks, each compressed as raw
 * DEFLATE on node:zlib's thread pool with the previous 32 KiB as its preset dictionary and ended
 * by a sync flush (the last block by Z_FINISH), and the blocks are joined into one gzip member.
 * The kernel's initramfs unpacker needs a segment to be one member ending on an entry boundary;
 * one member always qualifies. The output depends only on the input, the level and the block
 * size, never on timing or thread count: deterministic.
 *
 *   member = 1f 8b 08 00 | 00000000 (MTIME) | XFL OS=03 | deflate blocks… | CRC-32 le | ISIZE le
 */
import * as zlib from 'node:zlib';
import { crc32 } from '../bytes/crc32.js';

export interface PigzOptions {
  /** 1–9 (default 9, as nixpkgs' `gzip -9n`). */
  level?: number;
  /** Input bytes per block (default 1 MiB; pigz uses 128 KiB). Part of what determines the output. */
  blockSize?: number;
  /** Blocks compressed at once (default 4; the zlib thread pool runs UV_THREADPOOL_SIZE of them). */
  parallel?: number;
}

const DICT = 32 * 1024;

function deflateRaw(input: Uint8Array, level: number, dictionary: Uint8Array | undefined, last: boolean): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const opts: zlib.ZlibOptions = { level, memLevel: 8, finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH };
    if (dictionary) opts.dictionary = dictionary;
    zlib.deflateRaw(input, opts, (err, out) => (err ? reject(err) : resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength))));
  });
}

/** Regroups chunks into blocks of exactly `size` bytes (the last one shorter). */
async function* blocks(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(size);
  let used = 0;
  for await (let c of chunks) {
    while (c.length > 0) {
      if (used === 0 && c.length >= size) {
        yield c.subarray(0, size); // whole block straight from the input, no copy
        c = c.subarray(size);
        continue;
      }
      const n = Math.min(c.length, size - used);
      buf.set(c.subarray(0, n), used);
      used += n;
      c = c.subarray(n);
      if (used === size) {
        yield buf;
        buf = new Uint8Array(size);
        used = 0;
      }
    }
  }
  if (used > 0) yield buf.subarray(0, used);
}

/**
 * gzip-compresses a stream of chunks into one member, several blocks at a time.
 *
 * @example
 * ```ts
 * await pipeInto(sink, pigz(writeCpio(items), { level: 9 }));
 * ```
 */
export async function* pigz(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: PigzOptions = {}): AsyncGenerator<Uint8Array> {
  const level = opts.level ?? 9;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`Cannot encode gzip: level ${level} is outside 1..9`);
  const size = opts.blockSize ?? 1 << 20;
  if (!Number.isInteger(size) || size < DICT) throw new RangeError(`Cannot encode gzip: blockSize ${size} is below 32 KiB`);
  const parallel = Math.max(1, opts.parallel ?? 4);
  // XFL 2 = best compression, as gzip -9 writes; 4 = fastest (level 1); else 0
  yield Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, level === 9 ? 2 : level === 1 ? 4 : 0, 3);
  let crc = 0;
  let total = 0;
  const inflight: Promise<Uint8Array>[] = [];
  let prev: Uint8Array | undefined;
  let pending: Uint8Array | undefined; // one block is held back until we know whether it is the last
  const start = (block: Uint8Array, last: boolean): void => {
    const dict = prev && prev.length >= DICT ? prev.subarray(prev.length - DICT) : prev;
    const p = deflateRaw(block, level, dict, last);
    p.catch(() => {});
    inflight.push(p);
    prev = block;
  };
  for await (const block of blocks(chunks, size)) {
    crc = crc32(block, crc);
    total += block.length;
    if (pending) start(pending, false);
    pending = block;
    while (inflight.length >= parallel) yield await inflight.shift()!;
  }
  start(pending ?? new Uint8Array(0), true);
  while (inflight.length) yield await inflight.shift()!;
  const trailer = new Uint8Array(8);
  const dv = new DataView(trailer.buffer);
  dv.setUint32(0, crc >>> 0, true);
  dv.setUint32(4, total % 0x1_0000_0000, true);
  yield trailer;
}
