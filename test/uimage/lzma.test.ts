/**
 * LZMA kernels for routers, through the commands: `imgkit compress --format lzma` (real size in the
 * header, props byte and dictionary exactly as asked), `imgkit decompress` (known and unknown size),
 * checked against `xz -dc --format=lzma`; and `uimage pack --compress` (data compressed, -C set,
 * decodable by the reference tools).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { decodeLegacyImage } from '../../src/uimage/index.js';
import { ensureBuilt, has, requireTools, root, skipWithout, tempDir } from '../helpers.js';
import { bytesOf } from './arb.js';

const NODE = process.execPath;
const COMPRESS = join(root, 'dist/cli/compress.js');
const DECOMPRESS = join(root, 'dist/cli/decompress.js');
const UIMAGE = join(root, 'bin/uimage');

function run(cmd: string, args: string[], input?: Uint8Array) {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 28, env: { ...process.env, SOURCE_DATE_EPOCH: '315532800', TZ: 'UTC' } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** A kernel-like input: text, repeats and noise (compressible about half, like a real Image). */
function kernelLike(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  const noise = bytesOf(n, seed);
  const text = new TextEncoder().encode('Linux version 6.1.0 (builder@imgkit) mips kernel ');
  for (let i = 0; i < n; i++) out[i] = i % 512 < 256 ? text[i % text.length]! : noise[i]!;
  return out;
}

let dir = '';
before(() => {
  ensureBuilt('dist/cli/compress.js');
  ensureBuilt('dist/cli/uimage.js');
  dir = tempDir('imgkit-lzma-');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('imgkit compress --format lzma', () => {
  it('OpenWrt settings: props 0x6d, dict 1 MiB, the real size, decoded by xz byte for byte', { skip: skipWithout('xz') }, () => {
    requireTools('xz');
    const input = kernelLike(300_000, 1);
    writeFileSync(join(dir, 'k.bin'), input);
    const r = run(NODE, [COMPRESS, '--format', 'lzma', '--lc', '1', '--lp', '2', '--pb', '2', '--dict', '1MiB', join(dir, 'k.bin'), '-o', join(dir, 'k.lzma')]);
    assert.equal(r.status, 0, r.stderr);
    const out = readFileSync(join(dir, 'k.lzma'));
    assert.equal(out[0], 0x6d); // (pb * 5 + lp) * 9 + lc = (2*5+2)*9+1
    assert.equal(out.readUInt32LE(1), 1 << 20);
    assert.equal(out.readBigUInt64LE(5), BigInt(input.length));
    const x = run('xz', ['-dc', '--format=lzma', join(dir, 'k.lzma')]);
    assert.equal(x.status, 0, x.stderr);
    assert.deepEqual(new Uint8Array(x.stdout), input);
  });

  it('any lc/lp/pb/dict/size: header exactly as asked, xz decodes, imgkit decompress decodes', { skip: skipWithout('xz') }, () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }),
      fc.integer({ min: 12, max: 24 }), fc.boolean(), fc.integer({ min: 0, max: 70_000 }), fc.nat(),
      (lc, lp, pb, dictLog, half, size, seed) => {
        if (lc + lp > 4) return;
        const dict = 2 ** dictLog + (half && dictLog > 12 ? 2 ** (dictLog - 1) : 0);
        const input = kernelLike(size, seed);
        writeFileSync(join(dir, 'in.bin'), input);
        const r = run(NODE, [COMPRESS, '--format', 'lzma', '--lc', String(lc), '--lp', String(lp), '--pb', String(pb), '--dict', String(dict), join(dir, 'in.bin'), '-o', join(dir, 'o.lzma')]);
        assert.equal(r.status, 0, r.stderr);
        const out = readFileSync(join(dir, 'o.lzma'));
        assert.equal(out[0], (pb * 5 + lp) * 9 + lc);
        assert.equal(out.readUInt32LE(1), dict);
        assert.equal(out.readBigUInt64LE(5), BigInt(size));
        assert.deepEqual(new Uint8Array(run('xz', ['-dc', '--format=lzma', join(dir, 'o.lzma')]).stdout), input);
        const d = run(NODE, [DECOMPRESS, join(dir, 'o.lzma'), '-o', '-']);
        assert.equal(d.status, 0, d.stderr);
        assert.deepEqual(new Uint8Array(d.stdout), input);
      }), { seed: 0x1a2a, numRuns: 6 });
  });

  it('decompress takes the unknown-size form with an end marker, as xz --format=lzma writes it', { skip: skipWithout('xz') }, () => {
    const input = kernelLike(50_000, 9);
    const x = run('xz', ['--format=lzma', '--lzma1=preset=6,lc=1,lp=2,pb=2,dict=1MiB', '-c'], input);
    assert.equal(x.status, 0);
    assert.equal(x.stdout.readBigUInt64LE(5), 2n ** 64n - 1n);
    writeFileSync(join(dir, 'x.lzma'), x.stdout);
    const d = run(NODE, [DECOMPRESS, '--format', 'lzma', join(dir, 'x.lzma'), '-o', join(dir, 'x.out')]);
    assert.equal(d.status, 0, d.stderr);
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'x.out'))), input);
  });

  it('--unknown-size writes all ones, and xz still decodes it', { skip: skipWithout('xz') }, () => {
    const input = kernelLike(10_000, 3);
    const r = run(NODE, [COMPRESS, '--format', 'lzma', '--unknown-size', '-', '-o', '-'], input);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.readBigUInt64LE(5), 2n ** 64n - 1n);
    assert.deepEqual(new Uint8Array(run('xz', ['-dc', '--format=lzma'], r.stdout).stdout), input);
  });

  it('usage mistakes exit 2; corrupt input exits 1', () => {
    writeFileSync(join(dir, 'small'), 'abc');
    assert.equal(run(NODE, [COMPRESS, '--format', 'lzma', '--lc', '4', '--lp', '1', join(dir, 'small'), '-o', join(dir, 'z')]).status, 2);
    assert.equal(run(NODE, [COMPRESS, '--format', 'lzma', '--dict', '3000000', join(dir, 'small'), '-o', join(dir, 'z')]).status, 2);
    assert.equal(run(NODE, [COMPRESS, '--format', 'gzip', '--lc', '1', join(dir, 'small'), '-o', join(dir, 'z')]).status, 2);
    assert.equal(run(NODE, [COMPRESS, join(dir, 'small'), '-o', join(dir, 'z')]).status, 2);
    const bad = run(NODE, [DECOMPRESS, join(dir, 'small'), '-o', join(dir, 'z')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /Cannot detect compression/);
    const trunc = run(NODE, [COMPRESS, '--format', 'lzma', '-', '-o', '-'], kernelLike(5000, 1));
    writeFileSync(join(dir, 't.lzma'), trunc.stdout.subarray(0, trunc.stdout.length - 40));
    assert.equal(run(NODE, [DECOMPRESS, join(dir, 't.lzma'), '-o', join(dir, 'z')]).status, 1);
  });
});

describe('uimage pack --compress', () => {
  const tools: Record<string, string[]> = { gzip: ['gzip', '-dc'], lzma: ['xz', '-dc', '--format=lzma'], zstd: ['zstd', '-dc'], lz4: ['lz4', '-dc'] };
  const COMP_ID: Record<string, number> = { gzip: 1, lzma: 3, zstd: 6, lz4: 5 };
  for (const fmt of Object.keys(tools)) {
    it(`${fmt}: compresses -d, sets -C ${fmt}, and ${tools[fmt]![0]} decodes the data`, { skip: !has(tools[fmt]![0]!) && `${tools[fmt]![0]} not installed` }, () => {
      const input = kernelLike(40_000, 5);
      writeFileSync(join(dir, 'vmlinux.bin'), input);
      const extra = fmt === 'lzma' ? ['--lc', '1', '--lp', '2', '--pb', '2', '--dict', '1MiB'] : [];
      const r = run(UIMAGE, ['pack', '-A', 'mips', '-O', 'linux', '-T', 'kernel', '--compress', fmt, ...extra, '-a', '80060000', '-n', 'MIPS OpenWrt Linux', '-d', join(dir, 'vmlinux.bin'), join(dir, `k-${fmt}.uimg`)]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout.toString(), new RegExp(`MIPS Linux Kernel Image \\(${fmt} compressed\\)`));
      const img = decodeLegacyImage(new Uint8Array(readFileSync(join(dir, `k-${fmt}.uimg`))));
      assert.equal(img.header.comp, COMP_ID[fmt]);
      if (fmt === 'lzma') assert.equal(img.data[0], 0x6d);
      const d = run(tools[fmt]![0]!, tools[fmt]!.slice(1), img.data);
      assert.equal(d.status, 0, d.stderr);
      assert.deepEqual(new Uint8Array(d.stdout), input);
    });
  }

  it('--compress that contradicts -C, or on a multi-file image, is a usage error', () => {
    writeFileSync(join(dir, 'a'), 'abc');
    assert.equal(run(UIMAGE, ['pack', '-C', 'gzip', '--compress', 'lzma', '-d', join(dir, 'a'), join(dir, 'o')]).status, 2);
    assert.equal(run(UIMAGE, ['pack', '-T', 'multi', '--compress', 'gzip', '-d', `${join(dir, 'a')}:${join(dir, 'a')}`, join(dir, 'o')]).status, 2);
  });
});
