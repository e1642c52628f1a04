/** Test helper: LZMA-alone streams in the form the LZMA SDK writes (known size, no end marker). */

/**
 * A minimal LZMA1 encoder that writes literals only and no end marker: the known-size form the
 * LZMA SDK writes, which neither liblzma 5.2 nor xz can produce. Range coder and literal coder as in
 * the SDK's LzmaEnc.c (RangeEnc_EncodeBit, RangeEnc_ShiftLow, LitEnc_Encode).
 */
export function literalOnlyLzma(data: Uint8Array, lc = 3, lp = 0, pb = 2, dict = 1 << 16): Uint8Array {
  const out: number[] = [];
  let low = 0; // < 2^33: exact in a double
  let range = 0xffff_ffff;
  let cache = 0;
  let cacheSize = 1;
  const shiftLow = (): void => {
    if (low < 0xff00_0000 || low >= 2 ** 32) {
      const carry = low >= 2 ** 32 ? 1 : 0;
      let temp = cache;
      do {
        out.push((temp + carry) & 0xff);
        temp = 0xff;
      } while (--cacheSize !== 0);
      cache = Math.floor(low / 2 ** 24) & 0xff;
    }
    cacheSize++;
    low = (low % 2 ** 24) * 256;
  };
  const bit = (probs: Uint16Array, i: number, b: number): void => {
    const p = probs[i]!;
    const bound = (range >>> 11) * p;
    if (b === 0) {
      range = bound;
      probs[i] = p + ((2048 - p) >> 5);
    } else {
      low += bound;
      range -= bound;
      probs[i] = p - (p >> 5);
    }
    while (range < 2 ** 24) {
      range = (range * 256) >>> 0;
      shiftLow();
    }
  };
  const isMatch = new Uint16Array(16 << 4).fill(1024);
  const literal = new Uint16Array(0x300 << (lc + lp)).fill(1024);
  let prev = 0;
  for (let pos = 0; pos < data.length; pos++) {
    bit(isMatch, pos & ((1 << pb) - 1), 0); // state 0: only literals ever follow literals
    const base = 0x300 * (((pos & ((1 << lp) - 1)) << lc) + (prev >> (8 - lc)));
    for (let sym = data[pos]! | 0x100; sym < 0x10000; sym <<= 1) bit(literal, base + (sym >> 8), (sym >> 7) & 1);
    prev = data[pos]!;
  }
  for (let i = 0; i < 5; i++) shiftLow();
  const header = new Uint8Array(13);
  const dv = new DataView(header.buffer);
  header[0] = (pb * 5 + lp) * 9 + lc;
  dv.setUint32(1, dict, true);
  dv.setBigUint64(5, BigInt(data.length), true);
  return Uint8Array.from([...header, ...out]);
}
