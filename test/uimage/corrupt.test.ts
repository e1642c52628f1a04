/** Hostile input: any truncation or byte change gives a value or a FormatError, never another exception or a hang. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FormatError } from '../../src/bytes/errors.js';
import { decodeLegacyImage, encodeLegacyImage, openLegacyBytes } from '../../src/uimage/index.js';
import { bytesOf, spec } from './arb.js';

const FC = { seed: 0x0bad_1a6e, numRuns: 300 } as const;

function formatErrorOrValue(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    assert.equal(e.format, 'uimage');
    assert.ok(Number.isSafeInteger(e.offset) && e.offset >= 0);
  }
}

async function formatErrorOrValueAsync(f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
  }
}

describe('uimage corruption', () => {
  it('every truncation is TRUNCATED (or a valid image when only trailing bytes go)', () => {
    fc.assert(fc.property(spec, fc.nat(), (s, cut) => {
      const bytes = encodeLegacyImage(s);
      const at = cut % bytes.length;
      assert.throws(() => decodeLegacyImage(bytes.subarray(0, at)), (e: unknown) => e instanceof FormatError && e.code === 'TRUNCATED');
    }), FC);
  });

  it('random byte changes give a value or a FormatError, with and without CRC checks', async () => {
    await fc.assert(fc.asyncProperty(spec, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }), fc.boolean(), async (s, flips, verify) => {
      const bytes = encodeLegacyImage(s).slice();
      for (const [i, v] of flips) bytes[i % bytes.length] = v;
      formatErrorOrValue(() => decodeLegacyImage(bytes, { verify }));
      await formatErrorOrValueAsync(() => openLegacyBytes(bytes, { verify }));
    }), FC);
  });

  it('a changed byte is always caught by one of the CRCs', () => {
    fc.assert(fc.property(spec, fc.nat(), fc.integer({ min: 1, max: 255 }), (s, i, x) => {
      const bytes = encodeLegacyImage(s).slice();
      const at = i % bytes.length;
      bytes[at]! ^= x;
      assert.throws(() => decodeLegacyImage(bytes), (e: unknown) => e instanceof FormatError);
    }), FC);
  });

  it('a size table longer than maxParts is LIMIT, found before the table is read to its end', () => {
    const parts = Array.from({ length: 40 }, (_, i) => bytesOf(1, i));
    const bytes = encodeLegacyImage({ os: 5, arch: 2, type: 4, comp: 0, load: 0, ep: 0, time: 0, name: '', parts });
    assert.throws(() => decodeLegacyImage(bytes, { maxParts: 16 }), (e: unknown) => e instanceof FormatError && e.code === 'LIMIT' && e.offset === 64 + 16 * 4);
    assert.equal(decodeLegacyImage(bytes).parts.length, 40);
  });

  it('a table whose sizes overflow ih_size is BAD_FIELD at the offending entry', async () => {
    const bytes = encodeLegacyImage({ os: 5, arch: 2, type: 4, comp: 0, load: 0, ep: 0, time: 0, name: '', parts: [bytesOf(8, 1), bytesOf(8, 2), bytesOf(8, 3)] }).slice();
    new DataView(bytes.buffer).setUint32(64 + 4, 0xffff_fff0); // entry 1
    await assert.rejects(openLegacyBytes(bytes, { verify: false }), (e: unknown) => e instanceof FormatError && e.code === 'BAD_FIELD' && e.offset === 68);
  });

  it('trailing bytes after the data are reported, not rejected (U-Boot ignores them)', () => {
    const bytes = encodeLegacyImage({ os: 5, arch: 2, type: 2, comp: 0, load: 0, ep: 0, time: 0, name: '', parts: [bytesOf(100, 7)] });
    const padded = new Uint8Array(bytes.length + 1000).fill(0xff);
    padded.set(bytes);
    assert.equal(decodeLegacyImage(padded).trailing, 1000);
  });
});
