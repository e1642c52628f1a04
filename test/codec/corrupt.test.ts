import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FormatError } from '../../src/bytes/errors.js';
import { concat } from '../../src/bytes/source.js';
import { compress, decompress, getCodec, type CompressionId } from '../../src/codec/index.js';
import { xxh32 } from '../../src/codec/lz4-block.js';
import { has } from '../helpers.js';
import { chunked, cuts, equalBytes, gather, rejectsFormat, sample, valueOrFormatError } from './arb.js';
import { BZIP2_SAMPLE, SAMPLE_ARGS, ZSTD_SAMPLE_CHECKSUM } from './fixtures.js';

const encodable: readonly CompressionId[] = ['gzip', 'zlib', 'xz', 'lzma', 'zstd', 'lz4', 'lz4-legacy'];

/** A valid stream per codec, ~1–2 KiB of input, so that every truncation can be tried. */
async function validStream(id: CompressionId): Promise<Uint8Array> {
  if (id === 'bzip2') return BZIP2_SAMPLE;
  return compress(sample(1000, 11), id, { level: 1 });
}

const flip = (b: Uint8Array, at: number, xor = 0x01): Uint8Array => {
  const c = b.slice();
  c[at]! ^= xor;
  return c;
};

describe('corrupt input gives a FormatError for the codec, never another exception or a hang', () => {
  for (const id of [...encodable, 'bzip2'] as const) {
    it(`${id}: every truncation`, { timeout: 20_000 }, async () => {
      const codec = await getCodec(id);
      const good = await validStream(id);
      for (let cut = 0; cut < good.length; cut++) {
        const p = codec.decode(good.subarray(0, cut));
        // lz4-legacy has no end marker: a cut at a block boundary is a shorter valid stream.
        if (id === 'lz4-legacy') await valueOrFormatError(p, id);
        else await rejectsFormat(p, id);
      }
    });

    it(`${id}: random byte changes`, { timeout: 20_000 }, async () => {
      const codec = await getCodec(id);
      const good = await validStream(id);
      const change = fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 });
      await fc.assert(
        fc.asyncProperty(change, async (changes) => {
          const bad = good.slice();
          for (const [at, xor] of changes) bad[at]! ^= xor;
          await valueOrFormatError(codec.decode(bad, { maxOutput: 1 << 20 }), id);
        }),
        { numRuns: id === 'xz' || id === 'lzma' ? 40 : 120 },
      );
    });

    it(`${id}: random bytes after the magic`, { timeout: 20_000 }, async () => {
      const codec = await getCodec(id);
      // Keep the fixed header, so the fuzz reaches the body: gzip header, xz stream header, lzma header,
      // zstd magic + FHD + window, lz4 frame descriptor with content size.
      const keep: number = ({ gzip: 10, zlib: 2, xz: 12, lzma: 13, zstd: 6, lz4: 15 } as Partial<Record<CompressionId, number>>)[id] ?? 4;
      const magic = (await validStream(id)).subarray(0, keep);
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (tail) => {
          const bad = new Uint8Array(magic.length + tail.length);
          bad.set(magic);
          bad.set(tail, magic.length);
          await valueOrFormatError(codec.decode(bad, { maxOutput: 1 << 20 }), id);
        }),
        { numRuns: id === 'xz' || id === 'lzma' ? 40 : 120 },
      );
    });

    it(`${id}: maxOutput bounds the decoded size (LIMIT), and the exact size passes`, async () => {
      const codec = await getCodec(id);
      const data = id === 'bzip2' ? sample(...SAMPLE_ARGS) : new Uint8Array(1 << 20).fill(7);
      const packed = id === 'bzip2' ? BZIP2_SAMPLE : await codec.encode!(data);
      await rejectsFormat(codec.decode(packed, { maxOutput: data.length - 1 }), id, 'LIMIT');
      await rejectsFormat(codec.decode(packed, { maxOutput: 0 }), id, 'LIMIT');
      equalBytes(await codec.decode(packed, { maxOutput: data.length }), data);
    });
  }

  it('the default maxOutput is 1 GiB', async () => {
    const lz4 = await getCodec('lz4');
    // An lz4 frame header that states its content size, and no blocks.
    const frame = (size: number): Uint8Array => {
      const desc = Uint8Array.of(0x6c, 0x40, ...new Uint8Array(new BigUint64Array([BigInt(size)]).buffer)); // FLG, BD, u64le size
      return Uint8Array.of(0x04, 0x22, 0x4d, 0x18, ...desc, (xxh32(desc) >>> 8) & 0xff);
    };
    await rejectsFormat(lz4.decode(frame(2 ** 30 + 1)), 'lz4', 'LIMIT');
    await rejectsFormat(lz4.decode(frame(2 ** 30)), 'lz4', 'TRUNCATED'); // within the limit: then the blocks are missing
    await rejectsFormat(lz4.decode(frame(2 ** 30), { maxOutput: 2 ** 31 }), 'lz4', 'TRUNCATED');
  });

  it('checksum mismatches are BAD_CHECKSUM', async () => {
    const data = sample(1500, 12);
    const gz = await compress(data, 'gzip');
    await rejectsFormat(decompress(flip(gz, gz.length - 8)), 'gzip', 'BAD_CHECKSUM'); // CRC-32
    await rejectsFormat(decompress(flip(gz, gz.length - 1)), 'gzip', 'BAD_CHECKSUM'); // ISIZE
    const zl = await compress(data, 'zlib');
    await rejectsFormat(decompress(flip(zl, zl.length - 1)), 'zlib', 'BAD_CHECKSUM'); // Adler-32

    for (const check of ['crc32', 'crc64', 'sha256'] as const) {
      const xz = await compress(data, 'xz', { level: 1, xz: { check } });
      // Stream footer: CRC32, backward size ((index size / 4) - 1), flags, "YZ". The check ends where the index starts.
      const dv = new DataView(xz.buffer, xz.byteOffset, xz.byteLength);
      const indexStart = xz.length - 12 - (dv.getUint32(xz.length - 8, true) + 1) * 4;
      await rejectsFormat(decompress(flip(xz, indexStart - 1)), 'xz', 'BAD_CHECKSUM');
    }

    const lz4 = await compress(data, 'lz4', { lz4: { blockChecksum: true } });
    await rejectsFormat(decompress(flip(lz4, lz4.length - 1)), 'lz4', 'BAD_CHECKSUM'); // content checksum
    await rejectsFormat(decompress(flip(lz4, lz4.length - 9)), 'lz4', 'BAD_CHECKSUM'); // block checksum
    const hcAt = 4 + 2 + 8; // magic, FLG, BD, content size
    await rejectsFormat(decompress(flip(lz4, hcAt)), 'lz4', 'BAD_CHECKSUM'); // header checksum

    await rejectsFormat(decompress(flip(BZIP2_SAMPLE, 10)), 'bzip2', 'BAD_CHECKSUM'); // block CRC
    await rejectsFormat(decompress(flip(BZIP2_SAMPLE, BZIP2_SAMPLE.length - 2)), 'bzip2', 'BAD_CHECKSUM'); // combined CRC
    await rejectsFormat(decompress(flip(ZSTD_SAMPLE_CHECKSUM, ZSTD_SAMPLE_CHECKSUM.length - 1)), 'zstd', 'BAD_CHECKSUM');
  });

  it('headers that claim more than the input can hold are refused before allocating', async () => {
    // LZMA-alone: a known size of 2^40 bytes.
    const lz = (await compress(sample(100), 'lzma')).slice();
    lz.set([0, 0, 0, 0, 0, 1, 0, 0], 5);
    await rejectsFormat(decompress(lz), 'lzma', 'LIMIT');
    // LZMA-alone: a 4 GiB dictionary and an unknown size: liblzma's memory limit.
    const dict = (await compress(sample(100), 'lzma', { lzma: { sizeInHeader: false } })).slice();
    dict.set([0xff, 0xff, 0xff, 0xff], 1);
    await rejectsFormat((await getCodec('lzma')).decode(dict), 'lzma', 'LIMIT');
    // zstd: a frame content size of 2^40 over one small block.
    // magic, FHD (8-byte FCS), window descriptor, FCS, last RLE block of 100 bytes.
    const zs = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0xc0, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 0x23, 0x03, 0x00, 0x41);
    await rejectsFormat(decompress(zs), 'zstd', 'BAD_FIELD');
    // zstd: an honest 200 KiB frame with maxOutput below it is LIMIT before decoding.
    await rejectsFormat(decompress(await compress(new Uint8Array(200_000), 'zstd'), { maxOutput: 100_000 }), 'zstd', 'LIMIT');
  });

  it('decompress() on input with no known magic is FormatError "codec" BAD_MAGIC', async () => {
    await rejectsFormat(decompress(new TextEncoder().encode('plain text, not compressed')), 'codec', 'BAD_MAGIC');
    await rejectsFormat(decompress(new Uint8Array(0)), 'codec', 'BAD_MAGIC');
  });

  it('lzo is detected but decoding it is UNSUPPORTED', async () => {
    const lzop = Uint8Array.of(0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a, 0x10, 0x30);
    await rejectsFormat(decompress(lzop), 'lzo', 'UNSUPPORTED');
    await assert.rejects(compress(lzop, 'lzo'), TypeError);
  });

  it('trailing bytes: zero padding is accepted, anything else is BAD_FIELD', async () => {
    const data = sample(500, 13);
    for (const id of ['gzip', 'zlib'] as const) {
      const packed = await compress(data, id);
      const padded = new Uint8Array(packed.length + 16);
      padded.set(packed);
      equalBytes(await decompress(padded), data, `${id} + zeros`);
      padded[padded.length - 3] = 1;
      const e = await rejectsFormat(decompress(padded), id, 'BAD_FIELD');
      assert.ok(e instanceof FormatError);
    }
  });

  it('xz: what follows a stream is stream padding (zeros, a multiple of 4) and another stream, else BAD_FIELD at its first byte in the file; xz -dc agrees', async () => {
    const xz = await getCodec('xz');
    const [a, b] = [sample(3000, 14), sample(5000, 15)];
    const [pa, pb] = [await compress(a, 'xz', { level: 1 }), await compress(b, 'xz', { level: 1, xz: { check: 'crc64' } })];
    const junk = new TextEncoder().encode('GARBAGE');
    const bad = pb.slice();
    bad[40]! ^= 0x55; // in the second stream's LZMA2 data
    // input, then its output or [code, offset] of the FormatError
    const cases: [string, Uint8Array, Uint8Array | [string, number]][] = [
      ['two streams', concat([pa, pb]), concat([a, b])],
      ['two streams, 8 bytes of padding between and 4 after', concat([pa, new Uint8Array(8), pb, new Uint8Array(4)]), concat([a, b])],
      ['junk after a stream', concat([pa, junk]), ['BAD_FIELD', pa.length]],
      ['12 bytes of junk after a stream', concat([pa, junk, junk.subarray(0, 5)]), ['BAD_FIELD', pa.length]],
      ['junk after padding', concat([pa, new Uint8Array(4), junk]), ['BAD_FIELD', pa.length + 4]],
      ['junk after a second stream', concat([pa, pb, junk]), ['BAD_FIELD', pa.length + pb.length]],
      ['3 bytes of padding', concat([pa, new Uint8Array(3)]), ['BAD_FIELD', pa.length]],
      ['6 bytes of padding, then a stream', concat([pa, new Uint8Array(6), pb]), ['BAD_FIELD', pa.length]],
      ['half a stream header', concat([pa, pb.subarray(0, 3)]), ['TRUNCATED', pa.length + 3]],
      ['a second stream cut short', concat([pa, pb.subarray(0, pb.length - 20)]), ['TRUNCATED', pa.length + pb.length - 20]],
    ];
    for (const [what, input, want] of cases) {
      const got = async (p: Promise<Uint8Array>): Promise<Uint8Array | [string, number]> =>
        p.then((out) => out, (e: unknown) => {
          assert.ok(e instanceof FormatError && e.format === 'xz', `${what}: ${String(e)}`);
          return [e.code, e.offset];
        });
      const whole = await got(xz.decode(input));
      if (want instanceof Uint8Array) equalBytes(whole as Uint8Array, want, what);
      else assert.deepEqual(whole, want, what);
      // the same answer from decodeStream, however the input is chunked
      await fc.assert(
        fc.asyncProperty(cuts(input.length), async (at) => {
          const streamed = await got(gather(xz.decodeStream!(chunked(input, at))));
          if (want instanceof Uint8Array) equalBytes(streamed as Uint8Array, want, what);
          else assert.deepEqual(streamed, want, what);
        }),
        { numRuns: 5 },
      );
      if (has('xz')) assert.equal(spawnSync('xz', ['-dc'], { input }).status === 0, want instanceof Uint8Array, `xz -dc: ${what}`);
    }
    // corruption inside the second stream is reported in it, counted from the start of the input
    const e = await rejectsFormat(xz.decode(concat([pa, bad])), 'xz');
    assert.ok(e.offset > pa.length && e.offset <= pa.length + pb.length, e.message);
  });

  it('xz: a wrong check in a second stream is BAD_CHECKSUM, from decode and decodeStream alike', async () => {
    const xz = await getCodec('xz');
    const data = sample(1500, 16);
    const one = await compress(data, 'xz', { level: 1 });
    const dv = new DataView(one.buffer, one.byteOffset, one.byteLength);
    const indexStart = one.length - 12 - (dv.getUint32(one.length - 8, true) + 1) * 4;
    const input = concat([one, flip(one, indexStart - 1)]);
    const e = await rejectsFormat(xz.decode(input), 'xz', 'BAD_CHECKSUM');
    assert.ok(e.offset > one.length, e.message);
    const s = await rejectsFormat(gather(xz.decodeStream!(chunked(input, [7, one.length + 3, one.length + 50]))), 'xz', 'BAD_CHECKSUM');
    assert.equal(s.offset, e.offset);
  });
});
