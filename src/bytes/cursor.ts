import { FormatError } from './errors.js';
import { padding } from './limits.js';

/** Synchronous, bounds-checked reader over one in-memory buffer. `base` is the buffer's offset in the image. */
export class ByteCursor {
  /** One DataView per buffer, never per record. */
  readonly dv: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly format: string,
    readonly base = 0,
    public pos = 0,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  /** Absolute offset of the next byte in the image. */
  get offset(): number {
    return this.base + this.pos;
  }
  get remaining(): number {
    return this.bytes.length - this.pos;
  }
  need(n: number, what: string): void {
    if (n > this.remaining)
      throw new FormatError(this.format, 'TRUNCATED', this.offset, `Cannot read ${what}: need ${n} bytes, ${this.remaining} left`);
  }
  u8(what = 'u8'): number {
    this.need(1, what);
    return this.bytes[this.pos++]!;
  }
  u16le(what = 'u16'): number {
    this.need(2, what);
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32le(what = 'u32'): number {
    this.need(4, what);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u32be(what = 'u32'): number {
    this.need(4, what);
    const v = this.dv.getUint32(this.pos, false);
    this.pos += 4;
    return v;
  }
  /** A u64 as a number; values past 2^53 are a FormatError rather than a silently rounded number. */
  u64le(what = 'u64'): number {
    this.need(8, what);
    const lo = this.dv.getUint32(this.pos, true);
    const hi = this.dv.getUint32(this.pos + 4, true);
    if (hi >= 0x20_0000)
      throw new FormatError(this.format, 'LIMIT', this.offset, `Cannot read ${what}: value exceeds 2^53`);
    this.pos += 8;
    return hi * 0x1_0000_0000 + lo;
  }
  /** One bounds check for a whole fixed-size record; returns its start. */
  record(n: number, what: string): number {
    this.need(n, what);
    const at = this.pos;
    this.pos += n;
    return at;
  }
  /** Zero-copy: the result aliases the input. Call .slice() to keep it beyond the input's lifetime. */
  take(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    return this.bytes.subarray(this.pos, (this.pos += n));
  }
  skip(n: number, what = 'padding'): void {
    this.need(n, what);
    this.pos += n;
  }
  /** Advance to the next multiple of `align`, measured from the start of the image. */
  align(align: number, what = 'padding'): void {
    this.skip(padding(this.offset, align), what);
  }
}
