/** fast-check models of legacy uImages (shared by the property and differential tests). */
import fc from 'fast-check';
import type { LegacyImageSpec } from '../../src/uimage/index.js';
import { ARCH_TABLE, COMP_TABLE, OS_TABLE } from '../../src/uimage/index.js';

export const u32 = fc.nat({ max: 0xffff_ffff });

/** Addresses the way they appear in practice, plus the edges. */
export const address = fc.oneof(
  fc.constantFrom(0, 0x80000000, 0x80060000, 0x40008000, 0xffff_ffff, 0x1000),
  u32,
);

/** Names: empty, short, exactly 31/32/33 bytes, long, non-ASCII (so the 32-byte cut may split a character). */
export const imageName = fc.oneof(
  fc.constantFrom('', 'Linux-6.1', 'MIPS NixWrt Linux ath79', 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(33)),
  fc.string({ minLength: 0, maxLength: 48 }).filter((s) => !s.includes('\0') && !s.startsWith('-')),
  fc.constantFrom('Ünïcödé kernel ü', 'ääääääääääääääää€'), // 33 bytes of UTF-8: the cut splits a character
);

export const archId = fc.constantFrom(...new Set(ARCH_TABLE.map((e) => e.id)));
export const osId = fc.constantFrom(...OS_TABLE.map((e) => e.id).filter((id) => id !== 26)); // tee reads its own header
export const compId = fc.constantFrom(...COMP_TABLE.map((e) => e.id));
/** Types mkimage writes as legacy images, firmware_ivt aside (its own test). */
export const singleType = fc.constantFrom(1, 2, 3, 5, 7, 14);

/** Deterministic bytes of length n from a seed. */
export function bytesOf(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export const partSize = fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 3000 }));

/** Any spec the writer accepts, with in-memory parts. */
export const spec: fc.Arbitrary<LegacyImageSpec> = fc
  .record({
    os: fc.nat({ max: 255 }),
    arch: fc.nat({ max: 255 }),
    comp: fc.nat({ max: 255 }),
    load: u32,
    ep: u32,
    time: u32,
    name: imageName,
    multi: fc.constantFrom(0, 4, 6),
    sizes: fc.array(partSize, { minLength: 1, maxLength: 6 }),
    single: fc.integer({ min: 0, max: 2000 }),
    seed: fc.nat(),
    type: fc.nat({ max: 255 }).filter((t) => t !== 4 && t !== 6 && t !== 32),
  })
  .map((r) => ({
    os: r.os, arch: r.arch, comp: r.comp, load: r.load, ep: r.ep, time: r.time, name: r.name,
    type: r.multi || r.type,
    parts: r.multi ? r.sizes.map((s, i) => bytesOf(s, r.seed + i)) : [bytesOf(r.single, r.seed)],
  }));
