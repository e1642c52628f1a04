import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compress, decompress, detectCompression, getCodec, type CompressionId, type EncodeOptions } from '../../src/codec/index.js';
import { compressible, equalBytes, payload, sample } from './arb.js';

/** Codecs with an encoder, and option sets worth covering for each. */
const cases: readonly [CompressionId, fc.Arbitrary<EncodeOptions>][] = [
  ['gzip', fc.record({ level: fc.integer({ min: 0, max: 9 }) })],
  ['zlib', fc.record({ level: fc.integer({ min: 0, max: 9 }) })],
  ['xz', fc.record({ level: fc.integer({ min: 0, max: 3 }), xz: fc.record({ check: fc.constantFrom('crc32', 'crc64', 'sha256', 'none') as fc.Arbitrary<'crc32'> }) })],
  [
    'lzma',
    fc.record({
      level: fc.integer({ min: 0, max: 3 }),
      lzma: fc.record(
        { lc: fc.integer({ min: 0, max: 3 }), lp: fc.integer({ min: 0, max: 1 }), pb: fc.integer({ min: 0, max: 4 }), dictSize: fc.constantFrom(4096, 65_536, 100_000), sizeInHeader: fc.boolean() },
        { requiredKeys: [] },
      ),
    }),
  ],
  ['zstd', fc.record({ level: fc.constantFrom(-5, 1, 3, 9, 19) })],
  ['lz4', fc.record({ level: fc.constantFrom(1, 2, 3, 9), lz4: fc.record({ blockSize: fc.constantFrom(65_536, 262_144, 4_194_304), blockChecksum: fc.boolean(), contentChecksum: fc.boolean(), contentSize: fc.boolean(), hc: fc.boolean() }, { requiredKeys: [] }) })],
  ['lz4-legacy', fc.record({ level: fc.constantFrom(1, 3, 12) })],
];

describe('codec round trips: decode(encode(x)) = x', () => {
  for (const [id, options] of cases) {
    it(`${id}: any payload, any options; detected as ${id}`, { timeout: 20_000 }, async () => {
      const codec = await getCodec(id);
      await fc.assert(
        fc.asyncProperty(payload, options, async (data, opts) => {
          const packed = await codec.encode!(data, opts);
          if (id !== 'zlib' || data.length > 0) assert.equal(detectCompression(packed), id);
          equalBytes(await codec.decode(packed), data);
          equalBytes(await decompress(packed), data, 'decompress()');
        }),
        { numRuns: id === 'xz' || id === 'lzma' ? 15 : 30 },
      );
    });

    it(`${id}: encoding is deterministic`, async () => {
      const data = sample(20_000, 7);
      equalBytes(await compress(data, id), await compress(data, id));
    });
  }

  it('every codec round-trips a 1.5 MiB structured payload (several blocks)', { timeout: 20_000 }, async () => {
    const data = sample(1.5 * 2 ** 20, 3);
    for (const [id] of cases) equalBytes(await decompress(await compress(data, id, { level: 1 })), data, id);
  });

  it('higher levels do not make lz4 or zstd output larger on structured data', async () => {
    const data = sample(200_000, 5);
    for (const [id, lo, hi] of [['lz4', 1, 9], ['lz4-legacy', 1, 12], ['zstd', 1, 19]] as const) {
      const a = await compress(data, id, { level: lo });
      const b = await compress(data, id, { level: hi });
      assert.ok(b.length <= a.length, `${id}: level ${hi} gave ${b.length}, level ${lo} gave ${a.length}`);
    }
  });

  it('lz4 HC finds longer matches than the fast parser', async () => {
    await fc.assert(
      fc.asyncProperty(compressible, async (data) => {
        const lz4 = await getCodec('lz4');
        const fast = await lz4.encode!(data);
        const hc = await lz4.encode!(data, { lz4: { hc: true } });
        equalBytes(await lz4.decode(hc), data);
        assert.ok(hc.length <= fast.length + 16, `hc ${hc.length} vs fast ${fast.length}`);
      }),
      { numRuns: 40 },
    );
  });

  it('rejects options outside their range with RangeError, not FormatError', async () => {
    const data = sample(100);
    await assert.rejects(compress(data, 'gzip', { level: 10 }), RangeError);
    await assert.rejects(compress(data, 'xz', { level: -1 }), RangeError);
    await assert.rejects(compress(data, 'xz', { xz: { dictSize: 1000 } }), RangeError);
    await assert.rejects(compress(data, 'lzma', { lzma: { lc: 4, lp: 1 } }), RangeError);
    await assert.rejects(compress(data, 'lzma', { lzma: { pb: 5 } }), RangeError);
    await assert.rejects(compress(data, 'zstd', { level: 23 }), RangeError);
    await assert.rejects(compress(data, 'lz4', { level: 13 }), RangeError);
    await assert.rejects(compress(data, 'lz4', { lz4: { blockSize: 1000 as 65_536 } }), RangeError);
    await assert.rejects(decompress(await compress(data, 'gzip'), { maxOutput: -1 }), RangeError);
  });
});
