/**
 * imgkit's deflate (native/zdeflate.c): the system zlib's bytes for levels 4–9 with windowBits 15,
 * memLevel 8 and the default, filtered or fixed strategy. The addon's deflate(…, engine) runs either: 1 zlib, 2 imgkit's,
 * 0 (the default) imgkit's where zdeflateUsable(level) found it gives zlib's bytes. Every case
 * compares the two engines byte for byte, and python3's zlib (the same library) checks the default.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { nativeCodecs } from '../../src/codec/native.js';
import { seeded } from '../squashfs/fixture.js';
import { compressible } from './arb.js';

const n = nativeCodecs();
const skip = !n?.codecs.zlib && !process.env.CI && 'the native codecs are not built here (no compiler or zlib headers at install)';

const zlib = (input: Uint8Array, level: number, strategy = 0) => n!.deflate!(input, level, 15, 8, strategy, 1);
const ours = (input: Uint8Array, level: number, strategy = 0) => n!.deflate!(input, level, 15, 8, strategy, 2);

function same(input: Uint8Array, level: number, what: string, strategy = 0): void {
  const a = zlib(input, level, strategy), b = ours(input, level, strategy);
  const at = a.findIndex((v, i) => v !== b[i]);
  assert.ok(at === -1 && a.length === b.length, `${what}, level ${level}, strategy ${strategy}, ${input.length} bytes: zlib ${a.length} bytes, ours ${b.length}, first difference at ${at}`);
}

/** Random bytes from a small alphabet, with copies from up to `far` bytes back: long hash chains. */
function chains(len: number, seed: number, alphabet: number, far: number): Uint8Array {
  const r = seeded(len * 2 + 16, seed), out = new Uint8Array(len);
  for (let i = 0, k = 0; i < len; k += 2) {
    if (r[k]! < 64 && i > 300) {
      const back = 1 + ((r[k + 1]! << 8 | r[k + 2]!) % Math.min(far, i)), n = 3 + (r[k + 3]! % 200);
      for (let j = 0; j < n && i < len; j++, i++) out[i] = out[i - back]!;
    } else out[i++] = r[k + 1]! % alphabet;
  }
  return out;
}

describe('imgkit\'s deflate: zlib\'s bytes', { skip }, () => {
  it('is used by default here: its bytes were zlib\'s on the sample at every level 4–9 (required under CI, which has Debian\'s zlib)', { skip: !process.env.CI && !n?.zdeflateUsable?.(9) && 'this zlib gives other bytes' }, () => {
    for (let level = 4; level <= 9; level++) for (const strategy of [0, 1, 4]) assert.equal(n!.zdeflateUsable!(level, strategy), true, `level ${level}, strategy ${strategy}`);
    for (const level of [0, 1, 3, 10, -1]) assert.equal(n!.zdeflateUsable!(level), false);
    for (const strategy of [2, 3, 5, -1]) assert.equal(n!.zdeflateUsable!(9, strategy), false);
  });

  it('the default engine equals python3\'s zlib (the system library) at levels 4–9', { skip: spawnSync('python3', ['-c', '1']).status !== 0 && 'python3 not installed' }, () => {
    const input = chains(300_000, 7, 40, 40_000);
    const py = 'import sys,zlib; d=sys.stdin.buffer.read(); sys.stdout.buffer.write(b"".join(zlib.compress(d, l) for l in range(4, 10)))';
    const r = spawnSync('python3', ['-c', py], { input, maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, String(r.stderr));
    const parts: Uint8Array[] = [];
    for (let level = 4; level <= 9; level++) parts.push(n!.deflate!(input, level, 15, 8, 0));
    assert.ok(Buffer.concat(parts).equals(r.stdout));
  });

  it('edge sizes: empty, 1 byte, around the first window slide (65,274) and the window (65,536), blocks of 32 KiB ± 1', () => {
    const sizes = [0, 1, 2, 3, 4, 5, 257, 258, 259, 262, 8191, 8192, 8193, 32_767, 32_768, 32_769, 65_273, 65_274, 65_275, 65_535, 65_536, 65_537, 98_304, 131_071, 131_072, 131_073];
    for (const len of sizes) for (const level of [4, 6, 9]) {
      same(chains(len, len, 12, 30_000), level, 'chains');
      same(seeded(len, len + 1), level, 'random');
      same(new Uint8Array(len), level, 'zeros');
    }
  });

  it('long chains, runs and periods, up to 1 MiB (several window slides, every level)', () => {
    for (let level = 4; level <= 9; level++) {
      same(chains(1 << 20, level, 4, 32_768), level, 'four symbols');
      same(chains(600_000, level + 10, 256, 1000), level, 'near copies');
      same(new Uint8Array(1 << 20).fill(0x5a), level, 'one byte');
    }
    for (const period of [1, 2, 3, 4, 5, 7, 8, 15, 16, 31, 32, 100, 257, 258, 259, 300]) {
      const input = new Uint8Array(200_000).map((_, i) => (i % period) * 37 + (i % 9973 === 0 ? 1 : 0));
      same(input, 9, `period ${period}`);
    }
  });

  it('a match exactly MAX_DIST (32,506) back after a 3-byte match: zlib looks at its chain\'s head there', () => {
    // at s - 1, "VWX" matches 3 bytes 99 back; at s, "WXYZ" matches 4 bytes only at p = s - 32,506
    const p = 1000, s = p + 32_506, input = seeded(s + 2000, 3);
    const put = (at: number, text: string) => { for (let i = 0; i < text.length; i++) input[at + i] = text.charCodeAt(i); };
    put(p, 'WXYZ');
    put(s - 100, 'VWXQ');
    put(s - 1, 'VWXYZ');
    for (const level of [8, 9]) same(input, level, 'MAX_DIST');
  });

  it('input made to collide in the four-byte hash: the same bytes (a search that passes too many collisions walks zlib\'s chain)', () => {
    // 4-byte words that all land in one bucket of the 15-bit multiplicative hash (v · 2654435761 >> 17),
    // with one word W of that bucket repeated every k + 1 words, so that each W searches that bucket
    const A = 2654435761;
    let inv = A;
    for (let i = 0; i < 5; i++) inv = Math.imul(inv, 2 - Math.imul(A, inv));
    const W = 0x51a7a7a7, bucket = Math.imul(W, A) >>> 17;
    for (const k of [64, 2000]) {
      const words = new Uint32Array(1 << 18).map((_, w) => (w % (k + 1) === 0 ? W : Math.imul(inv, (bucket << 17) | ((w * 7919) & 0x1ffff)) >>> 0));
      same(new Uint8Array(words.buffer), 9, `collisions every ${k + 1} words`);
    }
  });

  it('real files in 128 KiB and 1 MiB blocks', () => {
    const files = ['/usr/bin/node', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/share/common-licenses/GPL-3', '/etc/services'].filter((f) => existsSync(f));
    assert.ok(files.length > 0);
    for (const f of files) {
      const data = readFileSync(f).subarray(0, 4 << 20);
      for (const bs of [131_072, 1 << 20]) {
        for (let at = 0; at < data.length; at += bs) same(data.subarray(at, at + bs), 9, `${f} at ${at}`);
      }
    }
  });

  it('the filtered and fixed strategies (Z_FILTERED 1, Z_FIXED 4; fixed writes level flags 0 in the header)', () => {
    for (const strategy of [1, 4]) for (const level of [4, 6, 9]) {
      same(chains(300_000, level, 6, 30_000), level, 'chains', strategy);
      same(seeded(70_000, level), level, 'random', strategy);
      same(chains(5000, level + 1, 200, 3000), level, 'short', strategy);
    }
    assert.equal(ours(new Uint8Array(10), 9, 4)[1], 0x01);
  });

  it('property: any structured input at any level 4–9 and strategy', () => {
    fc.assert(
      fc.property(fc.array(compressible, { maxLength: 40 }), fc.integer({ min: 4, max: 9 }), fc.constantFrom(0, 0, 1, 4), (parts, level, strategy) => {
        same(Buffer.concat(parts), level, 'property', strategy);
      }),
      { numRuns: 300 },
    );
  });

  it('the thread-pool form and many calls at once give the same bytes', async () => {
    const inputs = Array.from({ length: 12 }, (_, i) => chains(131_072, 100 + i, 8 + i, 20_000));
    const outs = await Promise.all(inputs.map((x) => n!.deflateAsync!(x, 9, 15, 8, 0, 2)));
    outs.forEach((o, i) => assert.ok(Buffer.from(o).equals(zlib(inputs[i]!, 9))));
    const auto = await Promise.all(inputs.map((x) => n!.deflateAsync!(x, 9, 15, 8, 0)));
    auto.forEach((o, i) => assert.ok(Buffer.from(o).equals(outs[i]!)));
  });

  it('engine 2 refuses what it does not do; a bad engine is a TypeError', () => {
    const x = chains(5000, 1, 10, 1000);
    for (const [level, window, mem, strategy] of [[9, 14, 8, 0], [9, 15, 9, 0], [9, 15, 8, 2], [9, 15, 8, 3], [3, 15, 8, 0], [1, 15, 8, 0]] as const) {
      assert.throws(() => n!.deflate!(x, level, window, mem, strategy, 2), RangeError);
      // the default and zlib engines still take them
      assert.ok(Buffer.from(n!.deflate!(x, level, window, mem, strategy)).equals(n!.deflate!(x, level, window, mem, strategy, 1)));
    }
    for (const engine of [3, -1, 'x']) assert.throws(() => (n!.deflate as (...a: unknown[]) => Uint8Array)(x, 9, 15, 8, 0, engine), TypeError);
  });

  it('IMGKIT_ZDEFLATE=0 leaves deflating to zlib', () => {
    const code = 'import { nativeCodecs } from "./src/codec/native.ts"; const n = nativeCodecs(); console.log(n.zdeflateUsable(9), n.deflate(new Uint8Array(9000).fill(1), 9, 15, 8, 0).length)';
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, IMGKIT_ZDEFLATE: '0' } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), `false ${zlib(new Uint8Array(9000).fill(1), 9).length}`);
  });
});
