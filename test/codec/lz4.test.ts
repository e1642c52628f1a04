import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { concat } from '../../src/bytes/source.js';
import { getCodec } from '../../src/codec/index.js';
import { compressBound, decodeBlock, encodeBlock, Xxh32, xxh32 } from '../../src/codec/lz4-block.js';
import { compressible, equalBytes, payload, rejectsFormat, sample } from './arb.js';

const le32 = (v: number): Uint8Array => Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);

describe('xxHash32', () => {
  it('matches the reference values (xxhash test vectors, seed 0)', () => {
    const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
    assert.equal(xxh32(new Uint8Array(0)), 0x02cc_5d05);
    assert.equal(xxh32(ascii('a')), 0x550d_7456);
    assert.equal(xxh32(ascii('abc')), 0x32d1_53ff);
  });

  it('is the same fed in any pieces', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat({ max: 200 }), { maxLength: 6 }), (data, cuts) => {
        const h = new Xxh32();
        let at = 0;
        for (const c of [...cuts].sort((a, b) => a - b)) {
          h.update(data.subarray(at, Math.max(at, c)));
          at = Math.max(at, c);
        }
        h.update(data.subarray(at));
        assert.equal(h.digest(), xxh32(data));
      }),
    );
  });
});

describe('lz4 block codec', () => {
  it('decodeBlock(encodeBlock(x)) = x at every depth, within compressBound', () => {
    fc.assert(
      fc.property(payload, fc.constantFrom(0, 4, 64), (data, depth) => {
        const packed = new Uint8Array(compressBound(data.length));
        const end = encodeBlock(data, 0, data.length, packed, 0, depth);
        assert.ok(end <= compressBound(data.length));
        const out = new Uint8Array(data.length);
        assert.equal(decodeBlock(packed, 0, end, out, 0, out.length, 0, 'lz4', 0), data.length);
        equalBytes(out, data);
      }),
      { numRuns: 200 },
    );
  });

  it('copies overlapping matches byte by byte (offset 1 repeats the last byte)', () => {
    // token: 1 literal, match length 4 + 11 = 15; literal "z"; offset 1; then 5 final literals.
    const block = Uint8Array.of(0x1b, 0x7a, 0x01, 0x00, 0x50, 0x61, 0x62, 0x63, 0x64, 0x65);
    const out = new Uint8Array(100);
    const end = decodeBlock(block, 0, block.length, out, 0, out.length, 0, 'lz4', 0);
    assert.equal(new TextDecoder().decode(out.subarray(0, end)), 'z'.repeat(16) + 'abcde');
  });

  it('rejects offset 0, offsets before the data, and output past the limit', () => {
    const out = new Uint8Array(100);
    assert.throws(() => decodeBlock(Uint8Array.of(0x10, 0x61, 0x00, 0x00), 0, 4, out, 0, 100, 0, 'lz4', 0), /offset 0/);
    assert.throws(() => decodeBlock(Uint8Array.of(0x10, 0x61, 0x02, 0x00), 0, 4, out, 0, 100, 0, 'lz4', 0), /offset 2/);
    assert.equal(decodeBlock(Uint8Array.of(0x1f, 0x61, 0x01, 0x00, 0x50), 0, 5, out, 0, 50, 0, 'lz4', 0), -1); // 1 + 99 bytes
  });
});

describe('lz4 frame', () => {
  it('skippable frames before, between and after frames are ignored', async () => {
    const lz4 = await getCodec('lz4');
    const skip = (n: number) => concat([le32(0x184d_2a5a), le32(n), new Uint8Array(n).fill(0xee)]);
    const [a, b] = [sample(3000, 1), sample(4000, 2)];
    const packed = concat([skip(3), await lz4.encode!(a), skip(0), await lz4.encode!(b), skip(10)]);
    equalBytes(await lz4.decode(packed), concat([a, b]));
  });

  it('a content size that disagrees with the blocks is BAD_FIELD', async () => {
    const lz4 = await getCodec('lz4');
    const data = sample(3000, 3);
    const packed = (await lz4.encode!(data, { lz4: { contentChecksum: false } })).slice();
    // Patch the content size (bytes 6..13) and recompute the header checksum (byte 14).
    packed.set(le32(data.length + 1), 6);
    packed[14] = (xxh32(packed.subarray(4, 14)) >>> 8) & 0xff;
    await rejectsFormat(lz4.decode(packed), 'lz4', 'BAD_FIELD');
  });

  it('stores incompressible blocks raw', async () => {
    const lz4 = await getCodec('lz4');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 100, maxLength: 3000 }), async (data) => {
        const packed = await lz4.encode!(data, { lz4: { contentSize: false, contentChecksum: false } });
        assert.ok(packed.length <= data.length + 4 + 3 + 4 + 4, `${packed.length} for ${data.length}`);
        equalBytes(await lz4.decode(packed), data);
      }),
      { numRuns: 30 },
    );
  });
});

describe('lz4 legacy', () => {
  it("accepts the kernel's size_append trailer when it equals the decoded size", async () => {
    const legacy = await getCodec('lz4-legacy');
    await fc.assert(
      fc.asyncProperty(compressible, async (data) => {
        const packed = await legacy.encode!(data);
        equalBytes(await legacy.decode(concat([packed, le32(data.length)])), data);
        await rejectsFormat(legacy.decode(concat([packed, le32(data.length + 1)])), 'lz4-legacy');
      }),
      { numRuns: 30 },
    );
  });

  it('concatenated legacy streams (the magic recurs) decode to the inputs concatenated', async () => {
    const legacy = await getCodec('lz4-legacy');
    const [a, b] = [sample(3000, 4), sample(5000, 5)];
    equalBytes(await legacy.decode(concat([await legacy.encode!(a), await legacy.encode!(b)])), concat([a, b]));
  });

  it('splits input into 8 MiB blocks, each a separate block-size word', async () => {
    const legacy = await getCodec('lz4-legacy');
    const data = new Uint8Array(8 * 2 ** 20 + 5).fill(1);
    const packed = await legacy.encode!(data);
    const first = new DataView(packed.buffer, packed.byteOffset).getUint32(4, true);
    const second = new DataView(packed.buffer, packed.byteOffset).getUint32(8 + first, true);
    assert.equal(8 + first + 4 + second, packed.length);
    equalBytes(await legacy.decode(packed), data);
  });

  it('a block-size word above LZ4_compressBound(8 MiB) is BAD_FIELD', async () => {
    const legacy = await getCodec('lz4-legacy');
    await rejectsFormat(legacy.decode(concat([le32(0x184c_2102), le32(compressBound(8 * 2 ** 20) + 1), new Uint8Array(20)])), 'lz4-legacy', 'BAD_FIELD');
  });
});
