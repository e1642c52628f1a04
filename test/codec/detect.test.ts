import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compress, decompress, detectCompression, type CompressionId } from '../../src/codec/index.js';
import { requireTools, skipWithout } from '../helpers.js';
import { equalBytes, rejectsFormat, sample } from './arb.js';
import { BZIP2_SAMPLE, ZSTD_SAMPLE_CHECKSUM } from './fixtures.js';

/** The first bytes of each format, as the format documents define them. */
const magics: readonly [CompressionId, readonly number[]][] = [
  ['gzip', [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x01]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58]],
  ['lz4', [0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7]],
  ['lz4-legacy', [0x02, 0x21, 0x4c, 0x18, 0x10, 0, 0, 0]],
  ['bzip2', [0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26]],
  ['lzo', [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a]],
  ['lzma', [0x5d, 0x00, 0x00, 0x80, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]], // xz --format=lzma -6
  ['lzma', [0x5d, 0x00, 0x00, 0x10, 0x00, 0x10, 0x27, 0, 0, 0, 0, 0, 0]], //                       1 MiB dict, size 10000
  ['lzma', [0x5d, 0xff, 0xff, 0xff, 0xff, 0x10, 0x27, 0, 0, 0, 0, 0, 0]], //                       dict all ones, size 10000
  ['lzma', [0x5d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]], //     dict all ones, unknown size
  ['zlib', [0x78, 0x9c]],
  ['zlib', [0x78, 0x01]],
  ['zlib', [0x78, 0xda]],
];

describe('detectCompression', () => {
  for (const [id, magic] of magics)
    it(`${id}: ${Buffer.from(magic).toString('hex')}`, () => assert.equal(detectCompression(Uint8Array.from(magic)), id));

  it('names the output of every encoder from its first 16 bytes', async () => {
    const data = sample(4000);
    for (const id of ['gzip', 'zlib', 'xz', 'lzma', 'zstd', 'lz4', 'lz4-legacy'] as const) {
      for (const level of [1, 6]) assert.equal(detectCompression((await compress(data, id, { level })).subarray(0, 16)), id, `${id} level ${level}`);
    }
    assert.equal(detectCompression(BZIP2_SAMPLE), 'bzip2');
    assert.equal(detectCompression(ZSTD_SAMPLE_CHECKSUM), 'zstd');
  });

  it('names the lzma output of xz at every preset', { skip: skipWithout('xz') }, () => {
    requireTools('xz');
    for (let level = 0; level <= 9; level++) {
      const r = spawnSync('xz', ['--format=lzma', '-c', `-${level}`], { input: sample(1000) });
      assert.equal(detectCompression(r.stdout), 'lzma', `xz --format=lzma -${level}`);
    }
  });

  it('lzma dictionary sizes as xz 5.4 detects them: 2^n, 2^n + 2^(n-1) and all ones, not 2^n + 1 or all ones but one; decoded as detected', { skip: skipWithout('xz') }, async () => {
    requireTools('xz');
    const data = sample(3000, 9);
    const packed = await compress(data, 'lzma', { level: 1 }); // the size in the header
    for (const [dict, lzma] of [[0xffff_ffff, true], [2 ** 31, true], [3 * 2 ** 30, true], [4096, true], [0xffff_fffe, false], [2 ** 20 + 1, false], [0, false]] as const) {
      const b = packed.slice();
      new DataView(b.buffer).setUint32(1, dict, true);
      const x = spawnSync('xz', ['-dc'], { input: b }); // xz detects the format itself
      assert.equal(x.status === 0, lzma, `xz -dc with dictionary ${dict.toString(16)}: ${String(x.stderr)}`);
      assert.equal(detectCompression(b), lzma ? 'lzma' : undefined, `dictionary ${dict.toString(16)}`);
      if (lzma) equalBytes(await decompress(b), data, `dictionary ${dict.toString(16)}`);
      else await rejectsFormat(decompress(b), 'codec', 'BAD_MAGIC');
    }
  });

  it('needs a digit after "BZh" and a complete header', () => {
    assert.equal(detectCompression(Uint8Array.of(0x42, 0x5a, 0x68)), undefined);
    assert.equal(detectCompression(Uint8Array.of(0x42, 0x5a, 0x68, 0x30)), undefined);
    assert.equal(detectCompression(Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a)), undefined);
    assert.equal(detectCompression(new Uint8Array(0)), undefined);
  });

  it('does not name plain text, an ELF file or a boot image', () => {
    const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
    assert.equal(detectCompression(ascii('console=ttyS0 root=/dev/ram0')), undefined);
    assert.equal(detectCompression(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0)), undefined);
    assert.equal(detectCompression(ascii('ANDROID!\0\0\0\0\0\0\0\0')), undefined);
  });

  it('never throws, whatever the input', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 32 }), (b) => void detectCompression(b)), { numRuns: 2000 });
  });
});
