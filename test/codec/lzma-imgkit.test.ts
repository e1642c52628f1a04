/**
 * imgkit's own LZMA encoder (native/lzenc.c, `encoder: 'imgkit'`): xz and the kernel's unlzma
 * (test/uimage/boot.test.ts) read its streams, its size stays within a fraction of a percent of
 * liblzma's, and its bytes do not depend on the thread count.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { getCodec } from '../../src/codec/index.js';
import { decodeLzmaSegment } from '../../src/codec/lzma.js';
import { nativeCodecs } from '../../src/codec/native.js';
import { seeded } from '../squashfs/fixture.js';
import { requireTools, skipWithout } from '../helpers.js';
import { compressible, equalBytes, sample } from './arb.js';

const own = nativeCodecs()?.lzmaOwnAsync;
const skip = !own && !process.env.CI && 'the native codecs are not built here (no compiler or headers at install)';

const xzDecode = (stream: Uint8Array): Buffer => {
  const r = spawnSync('xz', ['-dc', '--format=lzma'], { input: stream, maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, String(r.stderr));
  return r.stdout;
};

/** Inputs that reach every corner: empty and tiny ones, runs past nice_len and 273, noise, text, several 64 Ki-position blocks. */
function inputs(): [string, Uint8Array][] {
  const runs = new Uint8Array(300_000);
  for (let i = 0; i < runs.length; i++) runs[i] = (i >> 12) & 1 ? 0 : i % 251; // long runs, then a period past 273
  const mixed = seeded(200_000, 9).map((b, i) => (i % 5000 < 2500 ? b : 97 + (b % 4)));
  return [
    ['empty', new Uint8Array(0)],
    ['1 byte', Uint8Array.of(7)],
    ['3 bytes', Uint8Array.of(1, 1, 1)],
    ['5 bytes', Uint8Array.of(1, 2, 1, 2, 1)],
    ['zeros', new Uint8Array(100_000)],
    ['runs and periods', runs],
    ['noise', seeded(70_000, 3)],
    ['text', sample(150_000, 4)],
    ['noise and text', mixed],
  ];
}

describe("lzma encoder 'imgkit'", { skip }, () => {
  it('xz decodes every input back, for lc/lp/pb, dictionaries (4 KiB wraps the window), levels, header and marker forms', { skip: skipWithout('xz') }, async () => {
    requireTools('xz');
    const lzma = await getCodec('lzma');
    const forms: { level: number; lc: number; lp: number; pb: number; dictSize: number; sizeInHeader: boolean; endMarker: boolean }[] = [
      { level: 6, lc: 1, lp: 2, pb: 2, dictSize: 1 << 20, sizeInHeader: true, endMarker: true },
      { level: 6, lc: 3, lp: 0, pb: 2, dictSize: 4096, sizeInHeader: false, endMarker: true },
      { level: 4, lc: 0, lp: 4, pb: 0, dictSize: 1 << 16, sizeInHeader: true, endMarker: false },
      { level: 5, lc: 4, lp: 0, pb: 4, dictSize: 3 << 15, sizeInHeader: true, endMarker: true },
      { level: 9, lc: 2, lp: 1, pb: 1, dictSize: 1 << 22, sizeInHeader: false, endMarker: true },
    ];
    for (const [name, data] of inputs()) {
      for (const f of forms) {
        const { level, ...l } = f;
        const out = await lzma.encode!(data, { level, lzma: { ...l, encoder: 'imgkit' } });
        const what = `${name}, ${JSON.stringify(f)}`;
        assert.equal(out[0], (f.pb * 5 + f.lp) * 9 + f.lc, what);
        const view = new DataView(out.buffer, out.byteOffset);
        assert.equal(view.getUint32(1, true), f.dictSize, what);
        assert.equal(view.getBigUint64(5, true), f.sizeInHeader ? BigInt(data.length) : 2n ** 64n - 1n, what);
        equalBytes(xzDecode(out), data, what);
        equalBytes(await lzma.decode(out), data, what);
        if (f.sizeInHeader !== f.endMarker) {
          // the forms the kernel's unlzma reads as an initramfs segment: it stops at the stream's end
          const seg = await decodeLzmaSegment(out);
          assert.equal(seg.end, out.length, what);
        }
      }
    }
  });

  it('the same bytes on one thread as on two, and from one run to the next', async () => {
    for (const [name, data] of inputs().slice(4)) {
      for (const flags of [3, 2, 1]) {
        const two = await own!(data, 6, 1 << 16, 3, 0, 2, flags | (2 << 8));
        const one = await own!(data, 6, 1 << 16, 3, 0, 2, flags | (1 << 8));
        equalBytes(one, two, `${name}, flags ${flags}`);
        equalBytes(await own!(data, 6, 1 << 16, 3, 0, 2, flags), two, `${name}, flags ${flags}, again`);
      }
    }
  });

  it('property: any structured input comes back through our decoder', async () => {
    const lzma = await getCodec('lzma');
    await fc.assert(
      fc.asyncProperty(compressible, fc.constantFrom(4096, 1 << 16), fc.integer({ min: 0, max: 4 }), async (data, dictSize, lc) => {
        const out = await lzma.encode!(data, { level: 6, lzma: { dictSize, lc, lp: 0, pb: 2, encoder: 'imgkit' } });
        equalBytes(await lzma.decode(out), data);
      }),
      { numRuns: 60 },
    );
  });

  it("the size is within 1% of liblzma's with the same settings (a real binary, and text)", { skip: skipWithout('xz') }, async () => {
    const lzma = await getCodec('lzma');
    const binary = new Uint8Array(readFileSync(process.execPath).subarray(0, Math.min(statSync(process.execPath).size, 3 << 20)));
    for (const [name, data] of [['node binary', binary], ['text', sample(1 << 20, 11)]] as const) {
      const ours = await lzma.encode!(data, { level: 6, lzma: { lc: 1, lp: 2, pb: 2, dictSize: 1 << 20, encoder: 'imgkit' } });
      const xz = spawnSync('xz', ['--format=lzma', '--lzma1=preset=6,lc=1,lp=2,pb=2,dict=1MiB', '-c'], { input: data, maxBuffer: 1 << 26 }).stdout;
      assert.ok(Math.abs(ours.length - xz.length) <= xz.length * 0.01, `${name}: ours ${ours.length}, xz ${xz.length}`);
      equalBytes(xzDecode(ours), data, name);
    }
  });

  it('options it cannot write are a RangeError; the CLI takes --encoder for lzma only', async () => {
    const lzma = await getCodec('lzma');
    await assert.rejects(lzma.encode!(Uint8Array.of(1), { lzma: { encoder: 'imgkit', sizeInHeader: false, endMarker: false } }), RangeError);
    await assert.rejects(lzma.encode!(Uint8Array.of(1), { lzma: { encoder: 'nope' as 'imgkit' } }), /unknown lzma encoder 'nope'/);
    await assert.rejects(own!(Uint8Array.of(1), 6, 1 << 20, 4, 1, 2, 3), /options not supported/);
    const { compressOptions } = await import('../../src/cli/compress.js');
    assert.equal(compressOptions({ encoder: 'imgkit' }, 'lzma').lzma?.encoder, 'imgkit');
    assert.throws(() => compressOptions({ encoder: 'imgkit' }, 'gzip'), /apply to --format lzma/);
    assert.throws(() => compressOptions({ encoder: 'xz' }, 'lzma'), /unknown --encoder 'xz'/);
  });
});
