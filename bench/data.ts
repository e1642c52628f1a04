/**
 * Seeded synthetic inputs for benchmarks: the same seed, kind and size give the same bytes on every host and
 * run, so results from different commits compare like for like.
 *
 * Kinds:
 * - `random`: xorshift128 output, incompressible (gzip -6 keeps ~100%).
 * - `kernel`: partly compressible like a real kernel Image (gzip -6 keeps ~50%, xz -6 ~45%): a mix of 4 KiB blocks of
 *   random bytes, zeros, and "code" made of short back-references and literals from a small alphabet.
 * - `zeros`: all zero bytes.
 *
 * Data is produced in 1 MiB chunks whose content does not depend on how the caller consumes them, so
 * `writeSeeded` runs in constant memory whatever the size (a 1 GiB input costs 1 MiB of RAM).
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';

export type DataKind = 'random' | 'kernel' | 'zeros';

export interface DataOptions {
  /** Any u32; different seeds give unrelated streams. */
  readonly seed: number;
  /** Default `random`. */
  readonly kind?: DataKind;
}

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** Generation unit. Content is a function of (seed, kind, chunk index), never of how chunks are read. */
const CHUNK = MiB;
/** `kernel` picks a content type per block of this size. */
const BLOCK = 4 * KiB;
/** Byte values common in arm64 and x86 machine code: the "literals" of `kernel` code blocks. */
const ALPHABET = Uint8Array.from([
  0x00, 0xff, 0x01, 0x02, 0x08, 0x10, 0x20, 0x40, 0x80, 0x91, 0xa9, 0xb9, 0xd6, 0xe0, 0xf9, 0x94,
]);
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Marsaglia's xorshift128 (2003), seeded with splitmix32 so that nearby seeds give unrelated states. */
export class Xorshift128 {
  // Plain fields, not #private: the bulk fill below copies them to locals, and that is what makes 64 MiB cheap.
  private x: number;
  private y: number;
  private z: number;
  private w: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const mix = (): number => {
      s = (s + 0x9e37_79b9) >>> 0;
      let t = s ^ (s >>> 16);
      t = Math.imul(t, 0x21f0_aaad);
      t ^= t >>> 15;
      t = Math.imul(t, 0x735a_2d97);
      return (t ^ (t >>> 15)) >>> 0;
    };
    this.x = mix();
    this.y = mix();
    this.z = mix();
    this.w = mix() || 1; // the all-zero state is a fixed point
  }

  /** Next u32. */
  next(): number {
    const t = this.x ^ (this.x << 11);
    this.x = this.y;
    this.y = this.z;
    this.z = this.w;
    this.w = this.w ^ (this.w >>> 19) ^ (t ^ (t >>> 8));
    return this.w >>> 0;
  }

  /** Same as calling `next()` once per element, with the state kept in locals. */
  fill(out: Uint32Array): void {
    let { x, y, z, w } = this;
    for (let i = 0; i < out.length; i++) {
      const t = x ^ (x << 11);
      x = y;
      y = z;
      z = w;
      w = w ^ (w >>> 19) ^ (t ^ (t >>> 8)); // stays int32 (no >>> 0): V8 keeps it in a register
      out[i] = w; // a Uint32Array store wraps negatives to the same bits
    }
    Object.assign(this, { x, y, z, w });
  }
}

/** Fills `out` (any length) with the next PRNG words, little-endian on every host. */
function fillRandom(rng: Xorshift128, out: Uint8Array): void {
  const words = Math.floor(out.length / 4);
  if (LITTLE_ENDIAN && out.byteOffset % 4 === 0) {
    rng.fill(new Uint32Array(out.buffer, out.byteOffset, words));
  } else {
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i < words; i++) dv.setUint32(i * 4, rng.next(), true);
  }
  for (let i = words * 4; i < out.length; i++) out[i] = rng.next() % 256;
}

/**
 * "Machine code": literal runs from a 16-byte alphabet and copies of 8-39 bytes from up to 8 KiB back inside
 * the same chunk, so deflate and LZMA find both entropy savings and matches. `at` is the block's offset in
 * `chunk`; only bytes before it are referenced.
 */
function fillCode(rng: Xorshift128, chunk: Uint8Array, at: number, end: number): void {
  let i = at;
  while (i < end) {
    const r = rng.next();
    const len = Math.min(end - i, 8 + (r % 32));
    const dist = 1 + (Math.floor(r / 32) % 8192);
    if (r % 4 !== 0 && dist <= i) {
      for (let k = 0; k < len; k++, i++) chunk[i] = chunk[i - dist]!;
    } else {
      for (let k = 0; k < len; k++, i++) chunk[i] = ALPHABET[rng.next() % 16]!;
    }
  }
}

/** Fills one chunk (at most CHUNK bytes) of the given kind. */
function fillChunk(rng: Xorshift128, kind: DataKind, chunk: Uint8Array): void {
  if (kind === 'zeros') chunk.fill(0);
  else if (kind === 'random') fillRandom(rng, chunk);
  else for (let at = 0; at < chunk.length; at += BLOCK) {
    const end = Math.min(at + BLOCK, chunk.length);
    const pick = rng.next() % 100;
    if (pick < 30) fillRandom(rng, chunk.subarray(at, end));
    else if (pick < 40) chunk.fill(0, at, end);
    else fillCode(rng, chunk, at, end);
  }
}

/**
 * Yields `size` bytes in chunks of up to 1 MiB. Each chunk is a fresh buffer the caller may keep.
 *
 * @example
 * for (const chunk of seededChunks(64 * MiB, { seed: 1, kind: 'kernel' })) hash.update(chunk);
 */
export function* seededChunks(size: number, opts: DataOptions): Generator<Uint8Array> {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`Cannot generate data: size ${size} is not a byte count`);
  const rng = new Xorshift128(opts.seed);
  for (let done = 0; done < size; done += CHUNK) {
    const chunk = new Uint8Array(Math.min(CHUNK, size - done));
    fillChunk(rng, opts.kind ?? 'random', chunk);
    yield chunk;
  }
}

/**
 * `size` seeded bytes in one buffer. Same content as concatenating `seededChunks`.
 *
 * @example
 * const dtb = seededBytes(32 * KiB, { seed: 3 });
 */
export function seededBytes(size: number, opts: DataOptions): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`Cannot generate data: size ${size} is not a byte count`);
  const out = new Uint8Array(size);
  const rng = new Xorshift128(opts.seed);
  for (let at = 0; at < size; at += CHUNK) fillChunk(rng, opts.kind ?? 'random', out.subarray(at, Math.min(at + CHUNK, size)));
  return out;
}

/**
 * Writes `size` seeded bytes to `path` in constant memory, then fsyncs so that the page cache's write-back
 * of the input does not land inside the timed runs.
 *
 * @example
 * writeSeeded('bench/work/bootimg/kernel', 64 * MiB, { seed: 1, kind: 'kernel' });
 */
export function writeSeeded(path: string, size: number, opts: DataOptions): void {
  const fd = openSync(path, 'w');
  try {
    for (const chunk of seededChunks(size, opts)) {
      for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
