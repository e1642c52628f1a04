/**
 * bzip2 decoder; the encoder is bzip2-encode.ts. The format has no written spec; this follows bzip2 1.0.8's
 * decompress.c and the kernel's lib/decompress_bunzip2.c. Bits are read most significant first.
 *
 *   stream = "BZh" level('1'…'9'), block…, 0x177245385090 (48 bits), combined CRC (32), pad to byte
 *   block  = 0x314159265359 (48), block CRC (32), randomized (1), origPtr (24),
 *            used map (16 + 16 per set bit), nGroups (3), nSelectors (15), selectors (unary, MTF),
 *            code lengths per group (5-bit start, then delta-coded), Huffman-coded MTF/RLE2 symbols
 *   output = inverse BWT, then runs of 4 equal bytes + a count byte expanded (RLE1)
 *
 * Streams may be concatenated (pbzip2, lbzip2). Randomized blocks (bzip2 < 0.9.5) are UNSUPPORTED,
 * as in the kernel (RETVAL_OBSOLETE_INPUT).
 */
import { FormatError, type FormatErrorCode } from '../bytes/errors.js';
import { collect, concat } from '../bytes/source.js';
import { Budget, codecError } from './pipe.js';
import { encodeBzip2 } from './bzip2-encode.js';
import { levelOf, maxOutputOf, type Codec } from './types.js';

const MAX_GROUPS = 6;
const MAX_SELECTORS = 18_002; // BZ_MAX_SELECTORS: bzip2 1.0.8 reads more but keeps this many (CVE-2019-12900)
const MAX_CODE_LEN = 20;
const GROUP_SIZE = 50;

class Bits {
  pos = 0;
  #buf = 0;
  #count = 0;
  constructor(readonly b: Uint8Array) {}
  /** Offset of the byte holding the next unread bit. */
  get offset(): number {
    return this.pos - Math.floor(this.#count / 8);
  }
  /** The next `n` bits (n ≤ 24) as an unsigned number. */
  bits(n: number): number {
    while (this.#count < n) {
      if (this.pos >= this.b.length) throw new FormatError('bzip2', 'TRUNCATED', this.pos, 'Cannot read bzip2 stream: input ends early');
      this.#buf = (this.#buf << 8) | this.b[this.pos++]!;
      this.#count += 8;
    }
    this.#count -= n;
    return (this.#buf >>> this.#count) & ((1 << n) - 1);
  }
  bit(): number {
    return this.bits(1);
  }
  u32(): number {
    return this.bits(16) * 65536 + this.bits(16);
  }
  /** Drops the bits left in the current byte. */
  align(): void {
    this.#count -= this.#count % 8;
  }
}

/** CRC-32 with the polynomial 0x04c11db7, MSB first (bzip2's BZ2_crc32Table). */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x8000_0000 ? (c << 1) ^ 0x04c1_1db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** A canonical Huffman decoding table (BZ2_hbCreateDecodeTables). */
interface Table {
  minLen: number;
  limit: Int32Array;
  base: Int32Array;
  perm: Int32Array;
}

function table(lengths: Uint8Array, alphaSize: number): Table {
  let minLen = 32;
  let maxLen = 0;
  for (let i = 0; i < alphaSize; i++) {
    minLen = Math.min(minLen, lengths[i]!);
    maxLen = Math.max(maxLen, lengths[i]!);
  }
  const perm = new Int32Array(alphaSize);
  let pp = 0;
  for (let len = minLen; len <= maxLen; len++) for (let s = 0; s < alphaSize; s++) if (lengths[s] === len) perm[pp++] = s;
  const base = new Int32Array(MAX_CODE_LEN + 2);
  for (let s = 0; s < alphaSize; s++) base[lengths[s]! + 1]!++;
  for (let i = 1; i < base.length; i++) base[i]! += base[i - 1]!;
  const limit = new Int32Array(MAX_CODE_LEN + 1).fill(-1);
  let vec = 0;
  for (let len = minLen; len <= maxLen; len++) {
    vec += base[len + 1]! - base[len]!;
    limit[len] = vec - 1;
    vec *= 2;
  }
  for (let len = minLen + 1; len <= maxLen; len++) base[len] = (limit[len - 1]! + 1) * 2 - base[len]!;
  return { minLen, limit, base, perm };
}

const fail = (code: FormatErrorCode, at: number, what: string): FormatError => codecError('bzip2', code, at, `Cannot decode bzip2 block: ${what}`);

function symbol(r: Bits, t: Table, alphaSize: number): number {
  let len = t.minLen;
  let code = r.bits(len);
  while (code > t.limit[len]!) {
    if (++len > MAX_CODE_LEN) throw fail('BAD_FIELD', r.offset, 'Huffman code is longer than 20 bits');
    code = code * 2 + r.bit();
  }
  const i = code - t.base[len]!;
  if (i < 0 || i >= alphaSize) throw fail('BAD_FIELD', r.offset, 'Huffman code is not in the table');
  return t.perm[i]!;
}

/** Reads one block's symbols into `tt` (bytes before the inverse BWT); returns their count and origPtr. */
function readBlock(r: Bits, tt: Uint32Array, blockMax: number, counts: Int32Array): { n: number; origPtr: number } {
  const at = r.offset;
  if (r.bit()) throw fail('UNSUPPORTED', at, 'randomized blocks (bzip2 before 0.9.5) are not supported');
  const origPtr = r.bits(24);
  const used = r.bits(16);
  const seqToUnseq: number[] = [];
  for (let i = 0; i < 16; i++) {
    if (!(used & (0x8000 >> i))) continue;
    const k = r.bits(16);
    for (let j = 0; j < 16; j++) if (k & (0x8000 >> j)) seqToUnseq.push(i * 16 + j);
  }
  if (seqToUnseq.length === 0) throw fail('BAD_FIELD', r.offset, 'no byte values are used');
  const alphaSize = seqToUnseq.length + 2;
  const nGroups = r.bits(3);
  if (nGroups < 2 || nGroups > MAX_GROUPS) throw fail('BAD_FIELD', r.offset, `${nGroups} Huffman groups is not 2..6`);
  const nSelectors = r.bits(15);
  if (nSelectors < 1) throw fail('BAD_FIELD', r.offset, 'no selectors');
  const selectors = new Uint8Array(Math.min(nSelectors, MAX_SELECTORS));
  const mtfGroups = [0, 1, 2, 3, 4, 5];
  for (let i = 0; i < nSelectors; i++) {
    let j = 0;
    while (r.bit()) if (++j >= nGroups) throw fail('BAD_FIELD', r.offset, 'selector is out of range');
    const v = mtfGroups[j]!;
    for (; j > 0; j--) mtfGroups[j] = mtfGroups[j - 1]!;
    mtfGroups[0] = v;
    if (i < MAX_SELECTORS) selectors[i] = v;
  }
  const tables: Table[] = [];
  const lengths = new Uint8Array(alphaSize);
  for (let t = 0; t < nGroups; t++) {
    let len = r.bits(5);
    for (let s = 0; s < alphaSize; s++) {
      for (;;) {
        if (len < 1 || len > MAX_CODE_LEN) throw fail('BAD_FIELD', r.offset, `code length ${len} is not 1..20`);
        if (!r.bit()) break;
        len += r.bit() ? -1 : 1;
      }
      lengths[s] = len;
    }
    tables.push(table(lengths, alphaSize));
  }

  const eob = alphaSize - 1;
  const mtf = Uint8Array.from({ length: 256 }, (_, i) => i);
  counts.fill(0);
  let n = 0;
  let group = -1;
  let left = 0;
  let t = tables[0]!;
  let run = 0;
  let runBit = 0;
  for (;;) {
    if (left === 0) {
      if (++group >= selectors.length) throw fail('BAD_FIELD', r.offset, 'symbols outnumber the selectors');
      t = tables[selectors[group]!]!;
      left = GROUP_SIZE;
    }
    left--;
    const sym = symbol(r, t, alphaSize);
    if (sym <= 1) {
      // RUNA (0) / RUNB (1): a bijective base-2 run length of the byte at the front of the MTF list.
      if (runBit === 0) runBit = 1;
      run += (sym + 1) * runBit;
      runBit *= 2;
      if (run > blockMax) throw fail('BAD_FIELD', r.offset, 'run exceeds the block size');
      continue;
    }
    if (runBit > 0) {
      if (run > blockMax - n) throw fail('BAD_FIELD', r.offset, 'block exceeds its declared size');
      const b = seqToUnseq[mtf[0]!]!;
      counts[b]! += run;
      tt.fill(b, n, n + run);
      n += run;
      run = 0;
      runBit = 0;
    }
    if (sym === eob) break;
    if (n >= blockMax) throw fail('BAD_FIELD', r.offset, 'block exceeds its declared size');
    let j = sym - 1;
    const v = mtf[j]!;
    for (; j > 0; j--) mtf[j] = mtf[j - 1]!;
    mtf[0] = v;
    const b = seqToUnseq[v]!;
    counts[b]!++;
    tt[n++] = b;
  }
  if (origPtr >= n) throw fail('BAD_FIELD', at, `origPtr ${origPtr} is not below the block length ${n}`);
  return { n, origPtr };
}

/** Output pieces of a block: a block of 900 kB can expand 51-fold through RLE1, so it is not held whole. */
const PIECE = 1 << 20;

/**
 * Inverse BWT and RLE1 of one block, in pieces of at most PIECE bytes (each a fresh buffer);
 * returns the block's CRC. Each piece counts against `budget` before it is allocated.
 */
function* unsort(tt: Uint32Array, n: number, origPtr: number, counts: Int32Array, budget: Budget, at: number): Generator<Uint8Array, number> {
  const cftab = new Int32Array(257);
  for (let i = 0; i < 256; i++) cftab[i + 1] = cftab[i]! + counts[i]!;
  for (let i = 0; i < n; i++) {
    const b = tt[i]! & 0xff;
    tt[cftab[b]!++]! |= i << 8;
  }
  const fresh = (): Uint8Array => {
    if (budget.left === 0) throw budget.error(at);
    return new Uint8Array(Math.min(PIECE, budget.left));
  };
  let out = fresh();
  let o = 0;
  let crc = 0xffff_ffff;
  /** Hands on the full piece and starts the next. */
  const flush = function* (): Generator<Uint8Array> {
    budget.take(o, at);
    yield out;
    out = fresh();
    o = 0;
  };
  let pos = tt[origPtr]! >>> 8;
  let last = -1;
  let same = 0;
  for (let k = 0; k < n; k++) {
    const e = tt[pos]!;
    const b = e & 0xff;
    pos = e >>> 8;
    if (same === 4) {
      for (let i = 0; i < b; i++) {
        if (o === out.length) yield* flush();
        out[o++] = last;
        crc = (crc << 8) ^ CRC_TABLE[(crc >>> 24) ^ last]!;
      }
      same = 0;
      continue;
    }
    same = b === last ? same + 1 : 1;
    last = b;
    if (o === out.length) yield* flush();
    out[o++] = b;
    crc = (crc << 8) ^ CRC_TABLE[(crc >>> 24) ^ b]!;
  }
  if (o > 0) {
    budget.take(o, at);
    yield out.subarray(0, o);
  }
  return ~crc >>> 0;
}

/** The decoded bytes of every stream in `input`, in pieces of at most PIECE bytes (so the output need not be held). */
function* blocks(input: Uint8Array, budget: Budget): Generator<Uint8Array> {
  const r = new Bits(input);
  let tt = new Uint32Array(0);
  const counts = new Int32Array(256);
  do {
    const start = r.offset;
    if (r.bits(8) !== 0x42 || r.bits(8) !== 0x5a || r.bits(8) !== 0x68)
      throw codecError('bzip2', 'BAD_MAGIC', start, 'Cannot parse bzip2 stream header: magic is not "BZh"');
    const level = r.bits(8) - 0x30;
    if (level < 1 || level > 9) throw codecError('bzip2', 'BAD_FIELD', start + 3, `Cannot parse bzip2 stream header: block size '${level}' is not 1..9`);
    const blockMax = level * 100_000;
    if (tt.length < blockMax) tt = new Uint32Array(blockMax);
    let combined = 0;
    for (;;) {
      const at = r.offset;
      const hi = r.bits(24);
      const lo = r.bits(24);
      if (hi === 0x17_7245 && lo === 0x38_5090) {
        const want = r.u32();
        if (want !== combined) throw codecError('bzip2', 'BAD_CHECKSUM', at + 6, 'Cannot decode bzip2 stream: combined CRC does not match');
        r.align();
        break;
      }
      if (hi !== 0x31_4159 || lo !== 0x26_5359) throw fail('BAD_FIELD', at, 'block magic is not 0x314159265359');
      const want = r.u32();
      const { n, origPtr } = readBlock(r, tt, blockMax, counts);
      const crc = yield* unsort(tt, n, origPtr, counts, budget, at);
      if (crc !== want) throw fail('BAD_CHECKSUM', at + 6, 'block CRC does not match');
      combined = (((combined << 1) | (combined >>> 31)) ^ crc) >>> 0;
    }
  } while (r.offset < input.length);
}

/** FormatErrors as they are; anything else (a bug) as a FormatError of this codec. */
function asFormatError(e: unknown): FormatError {
  return e instanceof FormatError ? e : codecError('bzip2', 'BAD_FIELD', 0, `Cannot decode bzip2 stream: ${String(e)}`, e);
}

export const codec: Codec = {
  id: 'bzip2',
  async decode(input, opts) {
    const budget = new Budget('bzip2', maxOutputOf(opts));
    try {
      const parts = [...blocks(input, budget)];
      return parts.length === 1 ? parts[0]! : concat(parts);
    } catch (e) {
      throw asFormatError(e);
    }
  },
  /**
   * The compressed input is gathered whole (it is the caller's to begin with); the output comes a
   * block at a time, so a small input that decodes to gigabytes takes little memory.
   */
  async *decodeStream(chunks, opts) {
    const budget = new Budget('bzip2', maxOutputOf(opts));
    const input = await collect(chunks);
    try {
      yield* blocks(input, budget);
    } catch (e) {
      throw asFormatError(e);
    }
  },
  /** `level` 1–9 is the block size in 100 000 bytes (default 9, as the bzip2 tool). */
  async encode(input, opts) {
    return encodeBzip2(input, levelOf(opts, 1, 9, 9));
  },
};
