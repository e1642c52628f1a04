import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import * as zlib from 'node:zlib';
import type CRC32 from 'crc-32';
import { asSystemError, nativeCodecs } from '../codec/native.js';
import { shrankError } from './errors.js';
import { scanRange, type RandomAccess } from './random.js';

type Crc32Fn = (data: Uint8Array, value?: number) => number;

let crcJs: typeof CRC32 | undefined;

/**
 * CRC-32 (IEEE 802.3, as zlib and U-Boot) in pure JS: the fallback where node:zlib has no crc32.
 * crc-32 is loaded on first use: where node:zlib has crc32 (Node ≥ 20.15) it never is, which saves
 * every command the ~7 ms that importing it costs.
 */
export function crc32Js(data: Uint8Array, value = 0): number {
  crcJs ??= createRequire(import.meta.url)('crc-32') as typeof CRC32;
  return crcJs.buf(data, value) >>> 0;
}

const native: Crc32Fn | undefined = (zlib as { crc32?: Crc32Fn }).crc32;

/**
 * libdeflate's crc32 through the native addon (carry-less multiplication: 64 MiB in ~9 ms here,
 * node:zlib's in ~30 ms) takes over once this many bytes were summed in chunks of at least
 * LARGE_CHUNK: loading the addon costs ~3 ms, which only large inputs repay.
 */
const ADDON_AFTER = 8 << 20;
const LARGE_CHUNK = 64 << 10;
let summed = 0;
let addon: Crc32Fn | null | undefined;

/** libdeflate's crc32 when the addon has it, else undefined (loads the addon). */
export function crc32Addon(): Crc32Fn | undefined {
  if (addon === undefined) addon = nativeCodecs()?.crc32 ?? null;
  return addon ?? undefined;
}

/** CRC-32 of `data`, continuing from `value` (the CRC of the bytes before it). */
export const crc32: Crc32Fn = (data, value = 0) => {
  // no bytes: the CRC so far. node:zlib gives 0 for an empty array whose buffer was materialized
  // (zlib's crc32(crc, NULL, 0) is "the initial value"), which would restart a running CRC
  if (data.length === 0) return value >>> 0;
  if (data.length >= LARGE_CHUNK && (summed += data.length) > ADDON_AFTER) {
    const f = crc32Addon();
    if (f) return f(data, value);
  }
  return native ? native(data, value) : crc32Js(data, value);
};

/** Whether the native node:zlib crc32 is in use (false on Node < 20.15 and non-Node runtimes). */
export const crc32IsNative = native !== undefined;

/** The CRC-32 polynomial, bit-reversed (bit 31 is x^0), as the CRC is computed. */
const POLY = 0xedb88320;

/** a·b modulo the polynomial, both in the CRC's bit-reversed form. */
function mulModP(a: number, b: number): number {
  let p = 0;
  for (let m = 0x80000000; m !== 0; m >>>= 1) {
    if (a & m) p ^= b;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(8·n) modulo the polynomial: shifting a CRC past n more bytes. */
function xPow8n(n: number): number {
  let r = 0x80000000; // x^0
  let sq = 0x40000000; // x^1, then x^2, x^4 … by squaring
  for (let e = 8 * n; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) r = mulModP(r, sq);
    sq = mulModP(sq, sq);
  }
  return r;
}

/**
 * The CRC-32 of A followed by B from crc(A), crc(B) and B's length, without the bytes: crc(A)
 * multiplied by x^(8·|B|) modulo the polynomial, plus crc(B) (the initial and final inversions
 * cancel out). CRCs of parts summed in parallel are joined with it.
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (mulModP(xPow8n(lengthB), crcA) ^ crcB) >>> 0;
}

/** Files shorter than this are summed in one part: a second one would not repay its round trip. */
const PART_MIN = 8 << 20;

/**
 * The CRC-32 of `length` bytes of the open file `fdIn` at `offset`, summed on the thread pool by
 * libdeflate in one part per core (up to 4, libuv's default pool), each part also written to `out`
 * (an open file, at `outAt` + the part's offset) when given: the bytes pass through memory once.
 * Undefined when the addon has no libdeflate; rejects with shrankError(`name`) when the input ends first.
 */
export function crc32FileParts(): ((fdIn: number, offset: number, length: number, name: string, out?: { fd: number; at: number }) => Promise<number>) | undefined {
  const copy = nativeCodecs()?.copyCrcAsync;
  if (!copy) return undefined;
  return async (fdIn, offset, length, name, out) => {
    const n = Math.max(1, Math.min(availableParallelism(), 4, Math.ceil(length / PART_MIN)));
    const size = Math.ceil(length / n);
    const parts = Array.from({ length: n }, (_, i) => Math.min(size, length - i * size));
    // every part settles before this returns: the caller may close the files right after
    const done = await Promise.allSettled(parts.map((l, i) => copy(fdIn, offset + i * size, out ? out.fd : -1, out ? out.at + i * size : 0, l)));
    let crc = 0;
    for (let i = 0; i < n; i++) {
      const d = done[i]!;
      if (d.status === 'rejected') throw asSystemError(d.reason);
      if (d.value < 0) throw shrankError(name);
      crc = crc32Combine(crc, d.value, parts[i]!);
    }
    return crc;
  };
}

/**
 * The CRC-32 of `length` bytes of `ra` at `offset`. A large range of a local file is summed on the
 * thread pool, one part per core ({@link crc32FileParts}); anything else is read here in a reused buffer.
 */
export async function crc32Range(ra: RandomAccess, offset: number, length: number, name = 'input'): Promise<number> {
  const parts = ra.fd !== undefined && length >= PART_MIN ? crc32FileParts() : undefined;
  if (parts) return parts(ra.fd!, offset, length, name);
  let c = 0;
  await scanRange(ra, offset, length, (chunk) => (c = crc32(chunk, c)));
  return c;
}
