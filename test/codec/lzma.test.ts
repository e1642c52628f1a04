import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { collect } from '../../src/bytes/source.js';
import { getCodec } from '../../src/codec/index.js';
import { decodeLzmaSegment } from '../../src/codec/lzma.js';
import { encodeWith, lzmaNative, open, presetOptions } from '../../src/codec/liblzma.js';
import { requireTools, skipWithout } from '../helpers.js';
import { nativeCodecs } from '../../src/codec/native.js';
import { equalBytes, rejectsFormat, sample } from './arb.js';
import { literalOnlyLzma } from './lzma-sdk.js';

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
    const unknown = Uint8Array.from(packed);
    unknown.fill(0xff, 5, 13);
    equalBytes(await (await getCodec('lzma')).decode(unknown), data, 'decodes as an unknown-size stream too');
  });

  it('endMarker: false states the size and ends there, as the kernel\'s unlzma stops (liblzma 5.4 through the addon)', async () => {
    const lzma = await getCodec('lzma');
    const data = sample(10_000, 2);
    await assert.rejects(lzma.encode!(data, { lzma: { sizeInHeader: false, endMarker: false } }), RangeError);
    if (!nativeCodecs()?.lzmaSizedAsync) {
      await assert.rejects(lzma.encode!(data, { lzma: { endMarker: false } }), /native addon on liblzma 5\.4/);
      return;
    }
    const packed = await lzma.encode!(data, { lzma: { endMarker: false } });
    assert.equal(new DataView(packed.buffer, packed.byteOffset).getBigUint64(5, true), BigInt(data.length));
    // an initramfs segment ends right after the stream: what follows is the next segment
    const { data: out, end } = await decodeLzmaSegment(Uint8Array.from([...packed, 0x30, 0x37, 0x30, 0x37]));
    equalBytes(out, data);
    assert.equal(end, packed.length);
    equalBytes(await lzma.decode(packed), data);
    const unknown = Uint8Array.from(packed);
    unknown.fill(0xff, 5, 13);
    await rejectsFormat(lzma.decode(unknown), 'lzma'); // nothing marks the end
    const x = spawnSync('xz', ['-dc', '--format=lzma'], { input: packed, maxBuffer: 1 << 24 });
    if (!x.error) equalBytes(x.stdout, data);
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

  it('bytes after the stream (junk or zeros) are BAD_FIELD at the first of them, in every form, as xz --format=lzma -d refuses them', async () => {
    const lzma = await getCodec('lzma');
    const data = sample(4000, 6);
    const known = await lzma.encode!(data); // stated size + end marker
    const unknown = await lzma.encode!(data, { lzma: { sizeInHeader: false } });
    for (const [form, packed] of [['unknown size', unknown], ['known size, end marker', known], ['known size, no end marker', literalOnlyLzma(data)]] as const) {
      equalBytes(await lzma.decode(packed), data, form);
      for (const tail of [new TextEncoder().encode('GARBAGE'), new Uint8Array(4), Uint8Array.of(0x5d)]) {
        const e = await rejectsFormat(lzma.decode(Uint8Array.from([...packed, ...tail])), 'lzma', 'BAD_FIELD');
        assert.equal(e.offset, packed.length, `${form}, ${tail.length} bytes after it: ${e.message}`);
        assert.match(e.message, new RegExp(`${tail.length} bytes follow the end of the stream`));
      }
    }
  });

  it('xz agrees: a stream followed by other bytes is corrupt data', { skip: skipWithout('xz') }, async () => {
    requireTools('xz');
    const packed = await (await getCodec('lzma')).encode!(sample(3000, 7), { lzma: { sizeInHeader: false } });
    assert.equal(spawnSync('xz', ['--format=lzma', '-dc'], { input: packed }).status, 0);
    for (const tail of [new TextEncoder().encode('GARBAGE'), new Uint8Array(4)])
      assert.notEqual(spawnSync('xz', ['--format=lzma', '-dc'], { input: Uint8Array.from([...packed, ...tail]) }).status, 0);
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
      if (nativeCodecs()?.lzmaSizedAsync) {
        // without the end marker: the same header and data; only the range coder's flush differs
        const bare = await lzma.encode!(data, { ...opts, lzma: { ...opts.lzma, sizeInHeader: true, endMarker: false } });
        equalBytes(bare.subarray(0, 13), sized.subarray(0, 13), 'props, dictionary size and size as in the marked stream');
        let same = 13;
        while (same < bare.length && bare[same] === ours[same]) same++;
        assert.ok(same >= bare.length - 8 && bare.length < ours.length, `${same} of ${bare.length} bytes as xz's (${ours.length})`);
        equalBytes(spawnSync('xz', ['-dc', '--format=lzma'], { input: bare, maxBuffer: 1 << 24 }).stdout, data);
      }
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
      const lzma2 = (options: object) => open((s) => s.streamEncoder_([{ id: 'LZMA_FILTER_LZMA2', options: options as never }], lzmaNative().CHECK_CRC32));
      const ours = await collect(encodeWith(lzma2(presetOptions(level)), [data]));
      const theirs = await collect(encodeWith(lzma2({ preset: level }), [data]));
      equalBytes(ours, theirs, `level ${level}`);
    }
  });
});
