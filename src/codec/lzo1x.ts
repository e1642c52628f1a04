/**
 * Raw LZO1X decompression (no lzop container), as squashfs lzo blocks store it. Follows Linux
 * lib/lzo/lzo1x_decompress_safe.c (bitstream version 0), with every read and write bounds-checked:
 *
 *   0..15   literal run (state 0), or a 2/3-byte short match (states 1–3 / 4)
 *   16..31  M4 match (distance 16 KiB–48 KiB); distance 0 with length 3 ends the stream
 *   32..63  M3 match (distance ≤ 16 KiB)
 *   64..255 M2 match (distance ≤ 2 KiB, length 3–8)
 * The low 2 bits of a match's distance field give 0–3 literals copied after it.
 */
import { FormatError } from '../bytes/errors.js';

/** Decodes `src` into at most `max` bytes; malformed input is a FormatError of `format` at `base` + its offset. */
export function decodeLzo1x(src: Uint8Array, max: number, format = 'lzo', base = 0): Uint8Array {
  const out = new Uint8Array(max);
  let ip = 0;
  let op = 0;
  const bad = (what: string) => new FormatError(format, 'BAD_FIELD', base + ip, `Cannot decode lzo1x block: ${what}`);
  const byte = (): number => {
    if (ip >= src.length) throw new FormatError(format, 'TRUNCATED', base + ip, 'Cannot decode lzo1x block: input ends early');
    return src[ip++]!;
  };
  const literals = (n: number): void => {
    if (n > src.length - ip) throw new FormatError(format, 'TRUNCATED', base + ip, 'Cannot decode lzo1x block: literals run past the input');
    if (n > max - op) throw new FormatError(format, 'LIMIT', base + ip, `Cannot decode lzo1x block: output exceeds ${max} bytes`);
    out.set(src.subarray(ip, ip + n), op);
    ip += n;
    op += n;
  };
  const copyMatch = (dist: number, len: number): void => {
    if (dist > op || dist <= 0) throw bad(`match distance ${dist} reaches before the start of the output`);
    if (len > max - op) throw new FormatError(format, 'LIMIT', base + ip, `Cannot decode lzo1x block: output exceeds ${max} bytes`);
    for (let i = 0; i < len; i++, op++) out[op] = out[op - dist]!;
  };
  /** A zero-run length extension: each 0 byte adds 255, then the first non-zero byte. */
  const extend = (): number => {
    let n = 0;
    for (let b = byte(); b === 0; b = byte()) {
      n += 255;
      if (n > 2 ** 28) throw bad('length extension is too long');
    }
    return n + src[ip - 1]!;
  };
  const u16 = (): number => byte() | (byte() << 8);

  let state = 0;
  let t = byte();
  if (t > 17) {
    t -= 17;
    if (t < 4) {
      literals(t);
      state = t;
    } else {
      literals(t);
      state = 4;
    }
    t = byte();
  }
  for (;;) {
    let dist: number;
    let len: number;
    let next: number;
    if (t < 16) {
      if (state === 0) {
        if (t === 0) t = 15 + extend();
        literals(t + 3);
        state = 4;
        t = byte();
        continue;
      }
      next = t & 3;
      if (state !== 4) {
        dist = 1 + (t >> 2) + (byte() << 2);
        len = 2;
      } else {
        dist = 1 + 0x800 + (t >> 2) + (byte() << 2);
        len = 3;
      }
    } else if (t >= 64) {
      next = t & 3;
      dist = 1 + ((t >> 2) & 7) + (byte() << 3);
      len = (t >> 5) + 1;
    } else if (t >= 32) {
      len = (t & 31) + 2;
      if (len === 2) len += 31 + extend();
      const v = u16();
      dist = 1 + (v >> 2);
      next = v & 3;
    } else {
      len = (t & 7) + 2;
      if (len === 2) len += 7 + extend();
      const v = u16();
      dist = ((t & 8) << 11) + (v >> 2);
      next = v & 3;
      if (dist === 0) {
        if (len !== 3) throw bad('end marker has a wrong length');
        if (ip !== src.length) throw bad(`${src.length - ip} bytes follow the end marker`);
        return out.subarray(0, op);
      }
      dist += 0x4000;
    }
    copyMatch(dist, len);
    state = next;
    literals(next);
    t = byte();
  }
}
