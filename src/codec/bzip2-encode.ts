/**
 * bzip2 encoder, written from the stream layout that bzip2.ts documents (the decoder's mirror image):
 *
 *   stream = "BZh" level, block…, 0x177245385090, combined CRC, pad to byte
 *   block  = 0x314159265359, CRC of the block's input bytes, randomized = 0, origPtr (24 bits),
 *            used map, nGroups, nSelectors, MTF-coded selectors, delta-coded code lengths, symbols
 *
 * Per block: RLE1 (runs of 4–255 equal bytes become 4 bytes + a count byte), a Burrows–Wheeler
 * transform over the block's cyclic rotations, move-to-front with zero runs written as RUNA/RUNB
 * digits (bijective base 2), then 2–6 Huffman tables chosen per 50 symbols by a few rounds of
 * refinement. Code lengths are kept ≤ 17 as the bzip2 tool does (decoders accept up to 20).
 *
 * The rotation sort is prefix doubling with radix (counting) sorts: O(n log n) whatever the input,
 * so long runs and periodic blocks cost at most ⌈log2 n⌉ linear passes, never a quadratic compare.
 */

/** Most bytes after RLE1 in a block, as the bzip2 tool (100 000 × level − 19). */
const blockLimit = (level: number): number => level * 100_000 - 19;

const GROUP_SIZE = 50;
const MAX_CODE_LEN = 17;
const MAX_ALPHA = 258;
const REFINE_ROUNDS = 4;

/** CRC-32 with the polynomial 0x04c11db7, most significant bit first. */
const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x8000_0000 ? (c << 1) ^ 0x04c1_1db7 : c << 1;
    t[i] = c;
  }
  return t;
})();

/** Writes bits most significant first into a growing buffer. */
class BitWriter {
  buf: Uint8Array;
  pos = 0;
  #acc = 0;
  #count = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(Math.max(64, size));
  }
  /** Room for `bytes` more bytes. */
  reserve(bytes: number): void {
    if (this.pos + bytes + 8 <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + bytes + 64));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
  /** Writes the low `n` bits of `v` (n ≤ 24); the caller has reserved space. */
  bits(n: number, v: number): void {
    this.#acc = (this.#acc << n) | v;
    this.#count += n;
    while (this.#count >= 8) {
      this.#count -= 8;
      this.buf[this.pos++] = this.#acc >>> this.#count;
    }
  }
  u32(v: number): void {
    this.bits(16, v >>> 16);
    this.bits(16, v & 0xffff);
  }
  /** Pads the last byte with zero bits; returns the bytes written. */
  finish(): Uint8Array {
    if (this.#count > 0) this.bits(8 - this.#count, 0);
    return this.buf.subarray(0, this.pos);
  }
}

/** Reusable work arrays for blocks of up to `size` bytes. */
class Work {
  readonly block: Uint8Array;
  readonly last: Uint8Array;
  /** Rotation starts in sorted order (the suffix array of the rotations). */
  readonly sa: Int32Array;
  /** Group of each rotation: the index in `sa` of the last member of its group. */
  readonly group: Int32Array;
  /** Sort keys, aligned with `sa`. */
  readonly keys: Int32Array;
  /** At the start of a span of `sa` whose order is final: the span's length; 0 elsewhere. */
  readonly done: Int32Array;
  readonly count: Int32Array;
  readonly syms: Uint16Array;
  constructor(size: number) {
    this.block = new Uint8Array(size);
    this.last = new Uint8Array(size);
    this.sa = new Int32Array(size);
    this.group = new Int32Array(size);
    this.keys = new Int32Array(size);
    this.done = new Int32Array(size);
    this.count = new Int32Array(65_536);
    this.syms = new Uint16Array(size + 1);
  }
}

/** Sorts sa[lo..hi] and keys[lo..hi] together by key: 3-way quicksort, insertion sort for short ranges, radix sort past `depth`. */
function sortByKey(sa: Int32Array, keys: Int32Array, lo: number, hi: number, depth: number): void {
  while (hi - lo > 12) {
    if (depth-- <= 0) {
      radixByKey(sa, keys, lo, hi);
      return;
    }
    const a = keys[lo]!;
    const b = keys[(lo + hi) >>> 1]!;
    const c = keys[hi]!;
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    // [lo, lt) < pivot, [lt, i) = pivot, (gt, hi] > pivot.
    let lt = lo;
    let gt = hi;
    let i = lo;
    while (i <= gt) {
      const k = keys[i]!;
      if (k < pivot) {
        const t = sa[i]!;
        sa[i] = sa[lt]!;
        sa[lt] = t;
        keys[i] = keys[lt]!;
        keys[lt] = k;
        lt++;
        i++;
      } else if (k > pivot) {
        const t = sa[i]!;
        sa[i] = sa[gt]!;
        sa[gt] = t;
        keys[i] = keys[gt]!;
        keys[gt] = k;
        gt--;
      } else i++;
    }
    if (lt - lo < hi - gt) {
      sortByKey(sa, keys, lo, lt - 1, depth);
      lo = gt + 1;
    } else {
      sortByKey(sa, keys, gt + 1, hi, depth);
      hi = lt - 1;
    }
  }
  for (let i = lo + 1; i <= hi; i++) {
    const k = keys[i]!;
    const v = sa[i]!;
    let j = i - 1;
    for (; j >= lo && keys[j]! > k; j--) {
      keys[j + 1] = keys[j]!;
      sa[j + 1] = sa[j]!;
    }
    keys[j + 1] = k;
    sa[j + 1] = v;
  }
}

/** Two LSD passes of 11 bits (keys are below 2^22): linear time whatever the keys. */
function radixByKey(sa: Int32Array, keys: Int32Array, lo: number, hi: number): void {
  const m = hi - lo + 1;
  let fromS = sa.slice(lo, hi + 1);
  let fromK = keys.slice(lo, hi + 1);
  let toS = new Int32Array(m);
  let toK = new Int32Array(m);
  const count = new Int32Array(2048);
  for (let shift = 0; shift < 22; shift += 11) {
    count.fill(0);
    for (let i = 0; i < m; i++) count[(fromK[i]! >>> shift) & 2047]!++;
    for (let d = 0, sum = 0; d < 2048; d++) {
      const c = count[d]!;
      count[d] = sum;
      sum += c;
    }
    for (let i = 0; i < m; i++) {
      const at = count[(fromK[i]! >>> shift) & 2047]!++;
      toS[at] = fromS[i]!;
      toK[at] = fromK[i]!;
    }
    [fromS, toS] = [toS, fromS];
    [fromK, toK] = [toK, fromK];
  }
  sa.set(fromS, lo);
  keys.set(fromK, lo);
}

/**
 * Sorts the n cyclic rotations of `w.block` (n ≥ 1); fills `w.last` with the last column and returns
 * origPtr, the row of the rotation that starts at 0.
 *
 * Prefix doubling in the manner of Larsson and Sadakane: a radix sort by the first two bytes, then
 * passes h = 2, 4, 8 … that split each group of rotations still equal in their first h bytes by the
 * group of the rotation h bytes later. Groups of one are skipped in later passes, so a pass costs only
 * what is left unsorted, and there are at most ⌈log2 n⌉ passes: no quadratic case on runs or
 * periodic blocks. Rotations still equal after h ≥ n bytes are identical (a periodic block); their
 * order does not matter, as their last bytes are equal too and the inverse transform gives the block
 * back from any row that holds rotation 0.
 */
function sortRotations(w: Work, n: number): number {
  const { block, sa, group, keys, done, count } = w;
  if (n === 1) {
    w.last[0] = block[0]!;
    return 0;
  }
  count.fill(0);
  for (let i = 0; i < n; i++) count[(block[i]! << 8) | block[i + 1 === n ? 0 : i + 1]!]!++;
  for (let k = 0, sum = 0; k < 65_536; k++) {
    const c = count[k]!;
    count[k] = sum;
    sum += c;
  }
  for (let i = 0; i < n; i++) sa[count[(block[i]! << 8) | block[i + 1 === n ? 0 : i + 1]!]!++] = i;
  // count[k] is now the end (exclusive) of bucket k.
  done.fill(0, 0, n);
  for (let i = 0; i < n; ) {
    const k = (block[sa[i]!]! << 8) | block[sa[i]! + 1 === n ? 0 : sa[i]! + 1]!;
    const end = count[k]! - 1;
    for (let j = i; j <= end; j++) group[sa[j]!] = end;
    if (end === i) done[i] = 1;
    i = end + 1;
  }
  const depthLimit = 2 * (32 - Math.clz32(n)) + 8;
  for (let h = 2; h < n; h *= 2) {
    let unsorted = false;
    let span = -1; // start of the run of finished entries being merged
    for (let i = 0; i < n; ) {
      const len = done[i]!;
      if (len > 0) {
        if (span >= 0) done[span]! += len;
        else span = i;
        i += len;
        continue;
      }
      span = -1;
      unsorted = true;
      const end = group[sa[i]!]!;
      // Keys are read before this group changes; groups split earlier in this pass only give finer keys.
      for (let j = i; j <= end; j++) {
        const r = sa[j]! + h;
        keys[j] = group[r >= n ? r - n : r]!;
      }
      sortByKey(sa, keys, i, end, depthLimit);
      // One key for the whole group: it stays as it is (common in periodic blocks).
      if (keys[i] === keys[end]) {
        i = end + 1;
        continue;
      }
      for (let a = i; a <= end; ) {
        let b = a;
        const k = keys[a]!;
        while (b < end && keys[b + 1] === k) b++;
        for (let j = a; j <= b; j++) group[sa[j]!] = b;
        if (a === b) done[a] = 1;
        a = b + 1;
      }
      i = end + 1;
    }
    if (!unsorted) break;
  }
  let origPtr = 0;
  const last = w.last;
  for (let i = 0; i < n; i++) {
    const s = sa[i]!;
    if (s === 0) {
      origPtr = i;
      last[i] = block[n - 1]!;
    } else last[i] = block[s - 1]!;
  }
  return origPtr;
}

/**
 * Huffman code lengths for `freq[0..n)` (every symbol gets a code, unused ones too), at most
 * `maxLen` bits: when the tree is too deep the weights are halved and the tree rebuilt.
 */
export function codeLengths(freq: ArrayLike<number>, n: number, maxLen: number, out: Uint8Array): void {
  const weight = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) weight[i] = Math.max(1, freq[i]!);
  const order = new Int32Array(n);
  const parent = new Int32Array(2 * n);
  const depth = new Int32Array(2 * n);
  for (;;) {
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => weight[a]! - weight[b]! || a - b);
    // Two queues: leaves by weight, and internal nodes, which are made in non-decreasing weight.
    let leaf = 0;
    let inner = n;
    let next = n;
    const take = (): number => {
      if (leaf < n && (inner >= next || weight[order[leaf]!]! <= weight[inner]!)) return order[leaf++]!;
      return inner++;
    };
    while (next < 2 * n - 1) {
      const a = take();
      const b = take();
      weight[next] = weight[a]! + weight[b]!;
      parent[a] = next;
      parent[b] = next;
      next++;
    }
    const root = 2 * n - 2;
    depth[root] = 0;
    for (let k = root - 1; k >= n; k--) depth[k] = depth[parent[k]!]! + 1;
    let deepest = 0;
    for (let i = 0; i < n; i++) {
      const d = depth[parent[i]!]! + 1;
      out[i] = d;
      if (d > deepest) deepest = d;
    }
    if (deepest <= maxLen) return;
    for (let i = 0; i < n; i++) weight[i] = 1 + Math.floor(weight[i]! / 2);
  }
}

/** Canonical codes for `lengths` (shorter first, then by symbol), as the decoder rebuilds them. */
function canonicalCodes(lengths: Uint8Array, n: number, codes: Int32Array): void {
  let code = 0;
  for (let len = 1; len <= MAX_CODE_LEN; len++) {
    for (let s = 0; s < n; s++) if (lengths[s] === len) codes[s] = code++;
    code <<= 1;
  }
}

/**
 * Move-to-front of the last column over the used byte values, zero runs as RUNA/RUNB; returns the
 * symbol count. The list is kept four entries to a 32-bit word (entry k in byte k & 3 of word k >> 2),
 * so finding a value and shifting the entries in front of it take a quarter of the steps.
 */
function mtf(last: Uint8Array, n: number, seq: Uint8Array, nUsed: number, syms: Uint16Array, freq: Int32Array): number {
  const list = new Int32Array(64);
  for (let i = 0; i < nUsed; i++) list[i >> 2]! |= i << ((i & 3) * 8);
  freq.fill(0);
  let k = 0;
  let zeros = 0;
  const flush = (): void => {
    // A run of r zeros as bijective base-2 digits, least significant first: RUNA = 1, RUNB = 2.
    let r = zeros;
    while (r > 0) {
      if (r & 1) {
        syms[k++] = 0;
        freq[0]!++;
        r = (r - 1) >> 1;
      } else {
        syms[k++] = 1;
        freq[1]!++;
        r = (r - 2) >> 1;
      }
    }
    zeros = 0;
  };
  for (let i = 0; i < n; i++) {
    const v = seq[last[i]!]!;
    if ((list[0]! & 0xff) === v) {
      zeros++;
      continue;
    }
    if (zeros > 0) flush();
    const vv = Math.imul(v, 0x0101_0101);
    let carry = v;
    let wi = 0;
    let j: number;
    for (;;) {
      const w = list[wi]!;
      const x = w ^ vv;
      // Bytes of x that are zero: the lowest flag is exact (borrows only cause flags above it).
      const found = ((x - 0x0101_0101) | 0) & ~x & 0x8080_8080;
      if (found !== 0) {
        const p = (31 - Math.clz32(found & -found)) >> 3;
        j = wi * 4 + p;
        const mask = p === 3 ? -1 : (1 << (8 * p + 8)) - 1; // bytes 0..p move up one
        list[wi] = (w & ~mask) | (((w << 8) | carry) & mask);
        break;
      }
      list[wi] = (w << 8) | carry;
      carry = w >>> 24;
      wi++;
    }
    syms[k++] = j + 1;
    freq[j + 1]!++;
  }
  if (zeros > 0) flush();
  syms[k++] = nUsed + 1; // end of block
  freq[nUsed + 1]!++;
  return k;
}

/** Chooses the tables and a table per 50 symbols; returns their lengths (flat, MAX_ALPHA per table) and selectors. */
function chooseTables(syms: Uint16Array, nSyms: number, alphaSize: number, freq: Int32Array): { nGroups: number; lengths: Uint8Array; selectors: Uint8Array } {
  const nGroups = nSyms < 200 ? 2 : nSyms < 600 ? 3 : nSyms < 1200 ? 4 : nSyms < 2400 ? 5 : 6;
  const nSelectors = Math.ceil(nSyms / GROUP_SIZE);
  const lengths = new Uint8Array(nGroups * MAX_ALPHA);
  // Start: table t is cheap for a band of symbol values holding about 1/nGroups of the symbols.
  let lo = 0;
  let left = nSyms;
  for (let t = 0; t < nGroups; t++) {
    const want = left / (nGroups - t);
    let hi = lo;
    let got = 0;
    while (hi < alphaSize && (got < want || hi === lo)) got += freq[hi++]!;
    if (t === nGroups - 1) hi = alphaSize;
    // Drop the last symbol when that lands closer to the share (not for the first or last table).
    else if (hi - lo > 1 && t > 0 && got - want > want - (got - freq[hi - 1]!)) got -= freq[--hi]!;
    for (let s = 0; s < alphaSize; s++) lengths[t * MAX_ALPHA + s] = s >= lo && s < hi ? 0 : 15;
    left -= got;
    lo = hi;
  }
  const selectors = new Uint8Array(nSelectors);
  const tableFreq = new Int32Array(nGroups * MAX_ALPHA);
  const one = new Uint8Array(MAX_ALPHA);
  // Code lengths of tables 0–2 and 3–5 packed 10 bits each, so one addition costs three tables
  // (50 lengths of at most 17 bits sum to less than 1024).
  const packLo = new Int32Array(MAX_ALPHA);
  const packHi = new Int32Array(MAX_ALPHA);
  const cost = new Int32Array(6);
  for (let round = 0; round < REFINE_ROUNDS; round++) {
    packLo.fill(0);
    packHi.fill(0);
    for (let t = 0; t < nGroups; t++) {
      const pack = t < 3 ? packLo : packHi;
      const shift = (t % 3) * 10;
      for (let s = 0; s < alphaSize; s++) pack[s]! |= lengths[t * MAX_ALPHA + s]! << shift;
    }
    tableFreq.fill(0);
    for (let g = 0; g < nSelectors; g++) {
      const start = g * GROUP_SIZE;
      const end = Math.min(start + GROUP_SIZE, nSyms);
      let lo = 0;
      let hi = 0;
      for (let i = start; i < end; i++) {
        const s = syms[i]!;
        lo += packLo[s]!;
        hi += packHi[s]!;
      }
      cost[0] = lo & 1023;
      cost[1] = (lo >>> 10) & 1023;
      cost[2] = lo >>> 20;
      cost[3] = hi & 1023;
      cost[4] = (hi >>> 10) & 1023;
      cost[5] = hi >>> 20;
      let best = 0;
      for (let t = 1; t < nGroups; t++) if (cost[t]! < cost[best]!) best = t;
      selectors[g] = best;
      const base = best * MAX_ALPHA;
      for (let i = start; i < end; i++) tableFreq[base + syms[i]!]!++;
    }
    for (let t = 0; t < nGroups; t++) {
      codeLengths(tableFreq.subarray(t * MAX_ALPHA, t * MAX_ALPHA + alphaSize), alphaSize, MAX_CODE_LEN, one);
      lengths.set(one.subarray(0, alphaSize), t * MAX_ALPHA);
    }
  }
  return { nGroups, lengths, selectors };
}

function writeBlock(out: BitWriter, w: Work, n: number, crc: number): void {
  const origPtr = sortRotations(w, n);
  const inUse = new Uint8Array(256);
  for (let i = 0; i < n; i++) inUse[w.block[i]!] = 1;
  const seq = new Uint8Array(256);
  let nUsed = 0;
  for (let b = 0; b < 256; b++) if (inUse[b]) seq[b] = nUsed++;
  const alphaSize = nUsed + 2;
  const freq = new Int32Array(MAX_ALPHA);
  const nSyms = mtf(w.last, n, seq, nUsed, w.syms, freq);
  const { nGroups, lengths, selectors } = chooseTables(w.syms, nSyms, alphaSize, freq);

  // Header, used map, selectors and code lengths: well under 64 KiB; the symbols at most 17 bits each.
  out.reserve(65_536 + Math.ceil((nSyms * MAX_CODE_LEN) / 8));
  out.bits(24, 0x31_4159);
  out.bits(24, 0x26_5359);
  out.u32(crc);
  out.bits(1, 0);
  out.bits(24, origPtr);
  let ranges = 0;
  for (let r = 0; r < 16; r++) for (let b = 0; b < 16; b++) if (inUse[r * 16 + b]) ranges |= 0x8000 >> r;
  out.bits(16, ranges);
  for (let r = 0; r < 16; r++) {
    if (!(ranges & (0x8000 >> r))) continue;
    let mask = 0;
    for (let b = 0; b < 16; b++) if (inUse[r * 16 + b]) mask |= 0x8000 >> b;
    out.bits(16, mask);
  }
  out.bits(3, nGroups);
  out.bits(15, selectors.length);
  const order = [0, 1, 2, 3, 4, 5];
  for (const sel of selectors) {
    let j = order.indexOf(sel);
    out.bits(j + 1, ((1 << j) - 1) << 1); // j ones, then a zero
    for (; j > 0; j--) order[j] = order[j - 1]!;
    order[0] = sel;
  }
  const codes = new Int32Array(nGroups * MAX_ALPHA);
  for (let t = 0; t < nGroups; t++) {
    const len = lengths.subarray(t * MAX_ALPHA, t * MAX_ALPHA + alphaSize);
    let cur = len[0]!;
    out.bits(5, cur);
    for (let s = 0; s < alphaSize; s++) {
      const want = len[s]!;
      for (; cur < want; cur++) out.bits(2, 0b10);
      for (; cur > want; cur--) out.bits(2, 0b11);
      out.bits(1, 0);
    }
    canonicalCodes(len, alphaSize, codes.subarray(t * MAX_ALPHA));
  }
  const syms = w.syms;
  for (let g = 0; g < selectors.length; g++) {
    const base = selectors[g]! * MAX_ALPHA;
    const end = Math.min((g + 1) * GROUP_SIZE, nSyms);
    for (let i = g * GROUP_SIZE; i < end; i++) {
      const s = base + syms[i]!;
      out.bits(lengths[s]!, codes[s]!);
    }
  }
}

/**
 * Compresses `input` into one bzip2 stream with blocks of `level` × 100 000 bytes (1–9, as `bzip2 -1`…`-9`).
 * Empty input gives the 14-byte empty stream, as the bzip2 tool.
 */
export function encodeBzip2(input: Uint8Array, level = 9): Uint8Array {
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`Cannot encode: level ${String(level)} is outside 1..9`);
  const limit = blockLimit(level);
  const out = new BitWriter(Math.ceil(input.length * 0.3) + 64);
  out.bits(24, 0x42_5a68); // "BZh"
  out.bits(8, 0x30 + level);
  const w = new Work(Math.min(limit, Math.ceil(input.length * 1.25) + 8)); // RLE1 makes a run of 4 five bytes
  const block = w.block;
  let combined = 0;
  let pos = 0;
  while (pos < input.length) {
    // RLE1: fill the block, unit by unit (1–3 literal bytes, or 4 bytes and a count for a run of 4–255).
    const start = pos;
    let n = 0;
    while (pos < input.length) {
      const b = input[pos]!;
      const end = Math.min(input.length, pos + 255);
      let r = pos + 1;
      while (r < end && input[r] === b) r++;
      const run = r - pos;
      if (run < 4) {
        if (n + run > limit) break;
        for (let k = 0; k < run; k++) block[n++] = b;
      } else {
        if (n + 5 > limit) break;
        block[n] = b;
        block[n + 1] = b;
        block[n + 2] = b;
        block[n + 3] = b;
        block[n + 4] = run - 4;
        n += 5;
      }
      pos = r;
    }
    let crc = -1;
    for (let i = start; i < pos; i++) crc = (crc << 8) ^ CRC_TABLE[(crc >>> 24) ^ input[i]!]!;
    crc = ~crc >>> 0;
    writeBlock(out, w, n, crc);
    combined = (((combined << 1) | (combined >>> 31)) ^ crc) >>> 0;
  }
  out.reserve(16);
  out.bits(24, 0x17_7245);
  out.bits(24, 0x38_5090);
  out.u32(combined);
  return out.finish().slice();
}
