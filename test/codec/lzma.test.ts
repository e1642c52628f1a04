import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { collect } from '../../src/bytes/source.js';
import { getCodec } from '../../src/codec/index.js';
import { encodeWith, native, open, presetOptions } from '../../src/codec/liblzma.js';
import { requireTools, skipWithout } from '../helpers.js';
import { nativeCodecs } from '../../src/codec/native.js';
import { equalBytes, rejectsFormat, sample } from './arb.js';

/**
 * A minimal LZMA1 encoder that writes literals only and no end marker: the known-size form the
 * LZMA SDK writes, which neither liblzma 5.2 nor xz can produce. Range coder and literal coder as in
 * the SDK's LzmaEnc.c (RangeEnc_EncodeBit, RangeEnc_ShiftLow, LitEnc_Encode).
 */
function literalOnlyLzma(data: Uint8Array, lc = 3, lp = 0, pb = 2, dict = 1 << 16): Uint8Array {
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

describe('lzma (LZMA-alone)', () => {
  it('decodes a known-size stream without an end marker (LZMA SDK form)', async () => {
    const lzma = await getCodec('lzma');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }), async (data, lc, pb) => {
        const lp = Math.min(4 - lc, 1);
        equalBytes(await lzma.decode(literalOnlyLzma(data, lc, lp, pb)), data);
      }),
      { numRuns: 30 },
    );
  });

  it('the test encoder above writes what xz reads', { skip: skipWithout('xz') }, () => {
    requireTools('xz');
    const data = sample(3000, 8);
    const r = spawnSync('xz', ['--format=lzma', '-dc'], { input: literalOnlyLzma(data, 0, 2, 0) });
    assert.equal(r.status, 0, r.stderr.toString());
    equalBytes(r.stdout, data);
  });

  it('the same stream with an "unknown size" header has no end marker: TRUNCATED', async () => {
    const packed = literalOnlyLzma(sample(2000)).slice();
    packed.fill(0xff, 5, 13);
    await rejectsFormat((await getCodec('lzma')).decode(packed), 'lzma', 'TRUNCATED');
  });

  it('our known-size streams end with an end marker and state the real size', async () => {
    const data = sample(10_000, 2);
    const packed = await (await getCodec('lzma')).encode!(data);
    assert.equal(new DataView(packed.buffer, packed.byteOffset).getBigUint64(5, true), BigInt(data.length));
    const unknown = packed.slice();
    unknown.fill(0xff, 5, 13);
    equalBytes(await (await getCodec('lzma')).decode(unknown), data, 'decodes as an unknown-size stream too');
  });

  it('a header size that disagrees with the stream is a FormatError', async () => {
    const lzma = await getCodec('lzma');
    const data = sample(5000, 3);
    for (const packed of [await lzma.encode!(data), literalOnlyLzma(data)]) {
      for (const size of [data.length - 1, data.length + 1, 0]) {
        const bad = packed.slice();
        new DataView(bad.buffer).setBigUint64(5, BigInt(size), true);
        await rejectsFormat(lzma.decode(bad), 'lzma');
      }
    }
  });

  it('with the native addon, the stream is xz --format=lzma\'s byte for byte (but for the size in the header); without it, xz reads it', { skip: skipWithout('xz') }, async () => {
    const lzma = await getCodec('lzma');
    const data = sample(200_000, 5);
    for (const [level, lc, lp, pb, dict] of [[6, 3, 0, 2, undefined], [6, 1, 2, 2, 1 << 20], [0, 0, 4, 4, 1 << 16], [9, 4, 0, 0, 1 << 22], [3, 3, 1, 0, 4096]] as const) {
      const opts = { level, lzma: { lc, lp, pb, ...(dict && { dictSize: dict }), sizeInHeader: false } };
      const ours = await lzma.encode!(data, opts);
      const x = spawnSync('xz', ['--format=lzma', `--lzma1=preset=${level},lc=${lc},lp=${lp},pb=${pb}${dict ? `,dict=${dict}` : ''}`, '-c'], { input: data, maxBuffer: 1 << 24 });
      assert.equal(x.status, 0, String(x.stderr));
      if (nativeCodecs()?.lzmaAloneAsync) equalBytes(ours, x.stdout, `preset ${level} lc${lc} lp${lp} pb${pb} dict ${dict}`);
      equalBytes(spawnSync('xz', ['-dc', '--format=lzma'], { input: ours, maxBuffer: 1 << 24 }).stdout, data);
      const sized = await lzma.encode!(data, { ...opts, lzma: { ...opts.lzma, sizeInHeader: true } });
      equalBytes(sized.subarray(13), ours.subarray(13));
      equalBytes(await lzma.decode(sized), data);
    }
  });

  it('rejects a props byte of 225 or more, and lc + lp > 4', async () => {
    const lzma = await getCodec('lzma');
    const packed = await lzma.encode!(sample(100));
    await rejectsFormat(lzma.decode(Uint8Array.of(225, ...packed.subarray(1))), 'lzma', 'BAD_FIELD');
    await rejectsFormat(lzma.decode(Uint8Array.of((0 * 5 + 2) * 9 + 3, ...packed.subarray(1))), 'lzma', 'UNSUPPORTED');
    await rejectsFormat(lzma.decode(packed.subarray(0, 12)), 'lzma', 'TRUNCATED');
  });
});

describe('liblzma presets', () => {
  it('presetOptions(level) gives byte-identical output to liblzma preset levels 0–6', async () => {
    const data = sample(50_000, 4);
    for (let level = 0; level <= 6; level++) {
      const lzma2 = (options: object) => open((s) => s.streamEncoder_([{ id: 'LZMA_FILTER_LZMA2', options: options as never }], native.CHECK_CRC32));
      const ours = await collect(encodeWith(lzma2(presetOptions(level)), [data]));
      const theirs = await collect(encodeWith(lzma2({ preset: level }), [data]));
      equalBytes(ours, theirs, `level ${level}`);
    }
  });
});
