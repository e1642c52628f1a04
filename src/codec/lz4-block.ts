/**
 * The LZ4 block format (lz4/doc/lz4_Block_format.md) and xxHash32 (xxhash/doc/xxhash_spec.md), the
 * two pieces the frame and legacy containers in lz4.ts are built from.
 *
 *   sequence = token (lit:4 | match-4:4), [lit 255…], literals, offset u16le, [match 255…]
 *   The last sequence has literals only. A match starts at least 12 bytes before the end of the
 *   block and ends at least 5 bytes before it (MFLIMIT, LASTLITERALS).
 */
import { FormatError } from '../bytes/errors.js';

const MINMATCH = 4;
const MFLIMIT = 12;
const LASTLITERALS = 5;
const MAX_DISTANCE = 65_535;
/** HC stops searching once a match is this long: longer ones gain almost nothing. */
const NICE_LEN = 256;

/** Worst-case compressed size of `n` bytes (LZ4_COMPRESSBOUND). */
export const compressBound = (n: number): number => n + Math.floor(n / 255) + 16;

/**
 * Decodes the block `src[from, to)` into `dst` at `at`. A match may reach back to `low` (the block
 * start for independent blocks, up to 64 KiB before it for linked ones). Returns the end of the
 * output, or -1 if the output would pass `limit`; malformed input is a FormatError at `base` + the
 * offset in `src`.
 */
export function decodeBlock(
  src: Uint8Array, from: number, to: number,
  dst: Uint8Array, at: number, limit: number, low: number,
  format: string, base: number,
): number {
  const bad = (ip: number, what: string): FormatError =>
    new FormatError(format, 'BAD_FIELD', base + ip, `Cannot decode lz4 block: ${what}`);
  let ip = from;
  let op = at;
  if (ip >= to) throw bad(ip, 'block is empty');
  for (;;) {
    const token = src[ip++]!;
    let lit = token >> 4;
    if (lit === 15) {
      for (let b = 255; b === 255; lit += b) {
        if (ip >= to) throw bad(ip, 'literal length runs past the block');
        b = src[ip++]!;
      }
    }
    if (lit > to - ip) throw bad(ip, `${lit} literals run past the block`);
    if (lit > limit - op) return -1;
    if (lit < 32) for (let i = 0; i < lit; i++) dst[op + i] = src[ip + i]!;
    else dst.set(src.subarray(ip, ip + lit), op);
    ip += lit;
    op += lit;
    if (ip === to) return op;
    if (to - ip < 2) throw bad(ip, 'match offset runs past the block');
    const off = src[ip]! | (src[ip + 1]! << 8);
    if (off === 0 || off > op - low) throw bad(ip, `match offset ${off} reaches before the start of the data`);
    ip += 2;
    let len = token & 15;
    if (len === 15) {
      for (let b = 255; b === 255; len += b) {
        if (ip >= to) throw bad(ip, 'match length runs past the block');
        b = src[ip++]!;
      }
    }
    len += MINMATCH;
    if (len > limit - op) return -1;
    const m = op - off;
    if (off >= len && len >= 32) dst.copyWithin(op, m, m + len);
    else for (let i = 0; i < len; i++) dst[op + i] = dst[m + i]!; // may overlap: repeats the last `off` bytes
    op += len;
  }
}

const read32 = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
const HASH_LOG = 16;
const hash = (v: number): number => Math.imul(v, 2654435761) >>> (32 - HASH_LOG);

/**
 * Compresses `src[from, to)` as one independent block into `dst` at `at` (room for
 * {@link compressBound} bytes). `depth` 0 is LZ4's single-probe greedy parser; a positive depth
 * searches that many earlier positions per hash chain (HC). Returns the end of the output.
 */
export function encodeBlock(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number, depth: number): number {
  let op = at;
  let anchor = from;
  const emit = (litEnd: number, off: number, len: number): void => {
    const lit = litEnd - anchor;
    const tokenAt = op++;
    let token = 0;
    if (lit >= 15) {
      token = 0xf0;
      let n = lit - 15;
      for (; n >= 255; n -= 255) dst[op++] = 255;
      dst[op++] = n;
    } else token = lit << 4;
    dst.set(src.subarray(anchor, litEnd), op);
    op += lit;
    if (len > 0) {
      dst[op++] = off & 0xff;
      dst[op++] = off >> 8;
      let n = len - MINMATCH;
      if (n >= 15) {
        token |= 15;
        for (n -= 15; n >= 255; n -= 255) dst[op++] = 255;
        dst[op++] = n;
      } else token |= n;
    }
    dst[tokenAt] = token;
  };

  const mflimit = to - MFLIMIT;
  const matchEnd = to - LASTLITERALS;
  if (to - from > MFLIMIT) {
    const head = new Int32Array(1 << HASH_LOG).fill(-1);
    const chain = depth > 0 ? new Int32Array(MAX_DISTANCE + 1) : undefined;
    let inserted = from; // next position to enter into the chains (HC)
    const insertUpTo = (p: number): void => {
      for (; inserted < p; inserted++) {
        const h = hash(read32(src, inserted));
        chain![inserted & MAX_DISTANCE] = head[h]!;
        head[h] = inserted;
      }
    };
    let ip = from;
    while (ip <= mflimit) {
      let best = 0;
      let ref = -1;
      if (chain) {
        insertUpTo(ip);
        const v = read32(src, ip);
        for (let c = head[hash(v)]!, tries = depth; c >= from && ip - c <= MAX_DISTANCE && tries > 0; tries--) {
          // Only a candidate that also matches at the current best length can beat it.
          if ((best === 0 || src[c + best] === src[ip + best]) && read32(src, c) === v) {
            let len = MINMATCH;
            while (ip + len < matchEnd && src[c + len] === src[ip + len]) len++;
            if (len > best) {
              best = len;
              ref = c;
              if (len >= NICE_LEN || ip + len >= matchEnd) break;
            }
          }
          const next = chain[c & MAX_DISTANCE]!;
          if (next >= c) break; // slot reused by a newer position: the chain ends here
          c = next;
        }
      } else {
        const v = read32(src, ip);
        const h = hash(v);
        const c = head[h]!;
        head[h] = ip;
        if (c >= from && ip - c <= MAX_DISTANCE && read32(src, c) === v) {
          best = MINMATCH;
          while (ip + best < matchEnd && src[c + best] === src[ip + best]) best++;
          ref = c;
        }
      }
      if (best < MINMATCH) {
        ip += chain ? 1 : 1 + ((ip - anchor) >> 6); // skip faster through incompressible data, as LZ4 does
        continue;
      }
      // Extend backwards into the pending literals.
      while (ip > anchor && ref > from && src[ip - 1] === src[ref - 1]) {
        ip--;
        ref--;
        best++;
      }
      emit(ip, ip - ref, best);
      ip += best;
      anchor = ip;
      if (!chain && ip - 2 > from) head[hash(read32(src, ip - 2))] = ip - 2;
    }
  }
  emit(to, 0, 0);
  return op;
}

const P1 = 0x9e37_79b1;
const P2 = 0x85eb_ca77;
const P3 = 0xc2b2_ae3d;
const P4 = 0x27d4_eb2f;
const P5 = 0x1656_67b1;
const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));
const round = (acc: number, lane: number): number => Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1);

/** Incremental xxHash32 (seed 0 by default), as the LZ4 frame's header, block and content checksums. */
export class Xxh32 {
  #v = [0, 0, 0, 0];
  #buf = new Uint8Array(16);
  #buffered = 0;
  #total = 0;
  constructor(readonly seed = 0) {
    this.#v = [(seed + P1 + P2) | 0, (seed + P2) | 0, seed | 0, (seed - P1) | 0];
  }
  update(data: Uint8Array): this {
    let i = 0;
    this.#total += data.length;
    if (this.#buffered > 0) {
      const n = Math.min(16 - this.#buffered, data.length);
      this.#buf.set(data.subarray(0, n), this.#buffered);
      this.#buffered += n;
      i = n;
      if (this.#buffered < 16) return this;
      this.#stripe(this.#buf, 0);
      this.#buffered = 0;
    }
    for (; i + 16 <= data.length; i += 16) this.#stripe(data, i);
    this.#buf.set(data.subarray(i), 0);
    this.#buffered = data.length - i;
    return this;
  }
  #stripe(b: Uint8Array, i: number): void {
    const v = this.#v;
    v[0] = round(v[0]!, read32(b, i));
    v[1] = round(v[1]!, read32(b, i + 4));
    v[2] = round(v[2]!, read32(b, i + 8));
    v[3] = round(v[3]!, read32(b, i + 12));
  }
  /** The hash of everything passed to `update`, as an unsigned number. */
  digest(): number {
    const v = this.#v;
    let h = this.#total >= 16 ? (rotl(v[0]!, 1) + rotl(v[1]!, 7) + rotl(v[2]!, 12) + rotl(v[3]!, 18)) | 0 : (this.seed + P5) | 0;
    h = (h + this.#total) | 0; // the spec adds the length modulo 2^32
    const b = this.#buf;
    let i = 0;
    for (; i + 4 <= this.#buffered; i += 4) h = Math.imul(rotl((h + Math.imul(read32(b, i), P3)) | 0, 17), P4);
    for (; i < this.#buffered; i++) h = Math.imul(rotl((h + Math.imul(b[i]!, P5)) | 0, 11), P1);
    h = Math.imul(h ^ (h >>> 15), P2);
    h = Math.imul(h ^ (h >>> 13), P3);
    return (h ^ (h >>> 16)) >>> 0;
  }
}

/** xxHash32 of one buffer. */
export const xxh32 = (data: Uint8Array, seed = 0): number => new Xxh32(seed).update(data).digest();
