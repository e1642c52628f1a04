/**
 * Declarative tables for fixed headers read once per image (boot.img, vendor_boot, uImage,
 * FDT header, squashfs superblock, LZMA props), backed by `buffer-layout`. Hot per-record
 * paths do not use this: they are hand-written DataView code.
 */
import { createRequire } from 'node:module';
import type * as BufferLayout from 'buffer-layout';
import { FormatError } from './errors.js';

// require(), not import: ESM import of a CommonJS module makes Node scan its source for export names
// first (cjs-module-lexer), which costs start-up time on every CLI run
const BL = createRequire(import.meta.url)('buffer-layout') as typeof BufferLayout;

export type FieldKind = 'u8' | 'u16le' | 'u16be' | 'u32le' | 'u32be' | 'u64le' | { readonly bytes: number };
export type Shape = Readonly<Record<string, FieldKind>>;
export type Value<S extends Shape> = { -readonly [K in keyof S]: S[K] extends { bytes: number } ? Uint8Array : number };

export interface Struct<S extends Shape> {
  readonly format: string;
  readonly name: string;
  /** Bytes the struct occupies. */
  readonly size: number;
  /** Byte offset of every field from the start of the struct. */
  readonly offsets: { readonly [K in keyof S]: number };
  /**
   * Reads the struct at `at`. Byte fields are zero-copy views of `bytes`.
   * `base` is the absolute offset of `bytes[0]` in the image, for error offsets.
   */
  decode(bytes: Uint8Array, at?: number, base?: number): Value<S>;
  /** Writes `value` into `into` at `at` (a new zeroed buffer of `size` bytes by default). */
  encode(value: Value<S>, into?: Uint8Array, at?: number): Uint8Array;
}

function layoutOf(kind: FieldKind, name: string): BufferLayout.Layout {
  if (typeof kind === 'object') return BL.blob(kind.bytes, name);
  switch (kind) {
    case 'u8': return BL.u8(name);
    case 'u16le': return BL.u16(name);
    case 'u16be': return BL.u16be(name);
    case 'u32le': return BL.u32(name);
    case 'u32be': return BL.u32be(name);
    case 'u64le': return BL.nu64(name);
  }
}

const asBuffer = (u8: Uint8Array): Buffer => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);

export function struct<S extends Shape>(format: string, name: string, shape: S): Struct<S> {
  const entries = Object.entries(shape) as [keyof S & string, FieldKind][];
  const layout = BL.struct<Record<string, unknown>>(entries.map(([k, kind]) => layoutOf(kind, k)), name);
  const offsets = {} as Record<keyof S, number>;
  for (const [k] of entries) offsets[k] = layout.offsetOf(k)!;
  const size = layout.span;
  const u64s = entries.filter(([, kind]) => kind === 'u64le').map(([k]) => k);
  const blobs = entries.filter(([, kind]) => typeof kind === 'object').map(([k]) => k);
  return {
    format,
    name,
    size,
    offsets,
    decode(bytes, at = 0, base = 0) {
      if (at < 0 || bytes.length - at < size)
        throw new FormatError(format, 'TRUNCATED', base + at, `Cannot read ${name}: need ${size} bytes, ${Math.max(0, bytes.length - at)} left`);
      const v = layout.decode(asBuffer(bytes), at);
      for (const k of u64s) {
        // nu64 rounds past 2^53; refuse rather than return a wrong number
        const hi = new DataView(bytes.buffer, bytes.byteOffset + at + offsets[k] + 4, 4).getUint32(0, true);
        if (hi >= 0x20_0000) throw new FormatError(format, 'LIMIT', base + at + offsets[k], `Cannot read ${name} ${k}: value exceeds 2^53`);
      }
      for (const k of blobs) {
        const b = v[k] as Buffer;
        v[k] = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      }
      return v as Value<S>;
    },
    encode(value, into = new Uint8Array(size), at = 0) {
      const v: Record<string, unknown> = { ...value };
      for (const k of blobs) {
        const want = (shape[k] as { bytes: number }).bytes;
        const b = v[k] as Uint8Array;
        if (b.length > want) throw new RangeError(`Cannot encode ${name} ${k}: ${b.length} bytes do not fit in ${want}`);
        const full = new Uint8Array(want);
        full.set(b);
        v[k] = asBuffer(full);
      }
      for (const k of u64s)
        if (!Number.isSafeInteger(v[k]) || (v[k] as number) < 0) throw new RangeError(`Cannot encode ${name} ${k}: ${String(v[k])} is not a u64 below 2^53`);
      layout.encode(v, asBuffer(into), at);
      return into;
    },
  };
}
