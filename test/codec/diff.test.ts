/**
 * Differential tests against the reference tools: their output decoded by us equals the input, and
 * our output decoded by them equals the input. Each suite skips when its tool is missing, except
 * under CI (process.env.CI), where a missing tool fails the suite.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { concat } from '../../src/bytes/source.js';
import { getCodec, type CompressionId, type EncodeOptions } from '../../src/codec/index.js';
import { requireTools, skipWithout, tempDir } from '../helpers.js';
import { equalBytes, payload, sample } from './arb.js';

/** Runs `tool args` with `input` on stdin; returns stdout, failing the test on a non-zero exit. */
function run(tool: string, args: readonly string[], input: Uint8Array): Uint8Array {
  const r = spawnSync(tool, args, { input, maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${tool} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.length);
}

const version = (tool: string, arg = '--version'): string => {
  const r = spawnSync(tool, [arg], { input: '', encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim()) ?? '?';
};

interface Suite {
  id: CompressionId;
  tool: string;
  /** Argument lists with which the tool compresses stdin to stdout. */
  theirs: readonly (readonly string[])[];
  /** Arguments with which the tool decompresses stdin to stdout; absent when we have no encoder. */
  decode?: readonly string[];
  ours?: readonly EncodeOptions[];
  /** Whether concatenated outputs are one valid stream (multi-member gzip, xz, zstd frames…). */
  concatenates: boolean;
}

const suites: readonly Suite[] = [
  { id: 'gzip', tool: 'gzip', theirs: [['-c', '-1'], ['-c', '-9'], ['-c', '-n']], decode: ['-dc'], ours: [{}, { level: 1 }, { level: 9 }], concatenates: true },
  {
    id: 'xz',
    tool: 'xz',
    theirs: [['-c', '-0'], ['-c', '-1', '--check=crc32'], ['-c', '-1', '--check=sha256'], ['-c', '--check=none', '--x86', '--lzma2=preset=1,dict=64KiB']],
    decode: ['-dc'],
    ours: [{ level: 1 }, { level: 2, xz: { check: 'crc64' } }, { level: 1, xz: { check: 'none', bcj: 'arm', dictSize: 65_536 } }, { level: 0, xz: { check: 'sha256' } }],
    concatenates: true,
  },
  {
    id: 'lzma',
    tool: 'xz',
    theirs: [['--format=lzma', '-c', '-0'], ['--format=lzma', '-c', '-6'], ['--format=lzma', '-c', '--lzma1=preset=1,lc=0,lp=2,pb=0']],
    decode: ['--format=lzma', '-dc'],
    ours: [{ level: 1 }, { level: 1, lzma: { sizeInHeader: false } }, { level: 0, lzma: { lc: 1, lp: 3, pb: 4, dictSize: 70_000 } }],
    concatenates: false,
  },
  { id: 'zstd', tool: 'zstd', theirs: [['-c', '-q'], ['-c', '-q', '-19', '--no-check'], ['-c', '-q', '--fast=3']], decode: ['-dc', '-q'], ours: [{}, { level: 1 }, { level: 19 }, { level: -5 }], concatenates: true },
  {
    id: 'lz4',
    tool: 'lz4',
    theirs: [['-c', '-q'], ['-c', '-q', '-9'], ['-c', '-q', '-BD', '-B4'], ['-c', '-q', '-BX', '--no-frame-crc', '-B5']],
    decode: ['-dc', '-q'],
    ours: [{}, { level: 9 }, { lz4: { blockSize: 65_536, blockChecksum: true, contentChecksum: false } }, { lz4: { contentSize: false, hc: true } }],
    concatenates: true,
  },
  { id: 'lz4-legacy', tool: 'lz4', theirs: [['-l', '-c', '-q'], ['-l', '-c', '-q', '-12'], ['-l', '-c', '-q', '-3']], decode: ['-dc', '-q'], ours: [{}, { level: 12 }], concatenates: false },
  { id: 'bzip2', tool: 'bzip2', theirs: [['-c', '-1'], ['-c', '-9']], decode: ['-dc'], ours: [{}, { level: 1 }, { level: 5 }], concatenates: true },
];

for (const s of suites) {
  describe(`${s.id} against ${s.tool}`, { skip: skipWithout(s.tool) }, () => {
    before(() => {
      requireTools(s.tool);
      console.log(`# ${s.id}: ${version(s.tool, s.tool === 'bzip2' ? '--help' : '--version')}`);
    });

    it(`${s.tool} output, decoded by us, equals the input`, { timeout: 30_000 }, async () => {
      const codec = await getCodec(s.id);
      await fc.assert(
        fc.asyncProperty(payload, fc.constantFrom(...s.theirs), async (data, args) => {
          equalBytes(await codec.decode(run(s.tool, args, data)), data, `${s.tool} ${args.join(' ')}`);
        }),
        { numRuns: 12 },
      );
    });

    if (s.concatenates)
      it(`${s.tool} outputs concatenated decode to the inputs concatenated`, async () => {
        const codec = await getCodec(s.id);
        const [a, b] = [sample(5000, 21), sample(7000, 22)];
        const args = s.theirs[0]!;
        equalBytes(await codec.decode(concat([run(s.tool, args, a), run(s.tool, args, b)])), concat([a, b]));
      });

    if (s.decode && s.ours) {
      const { decode, ours } = s;
      it(`our output, decoded by ${s.tool}, equals the input`, { timeout: 30_000 }, async () => {
        const codec = await getCodec(s.id);
        await fc.assert(
          fc.asyncProperty(payload, fc.constantFrom(...ours), async (data, opts) => {
            equalBytes(run(s.tool, decode, await codec.encode!(data, opts)), data, JSON.stringify(opts));
          }),
          { numRuns: 12 },
        );
      });
    }

    it(`a multi-block input both ways (${s.tool})`, { timeout: 30_000 }, async () => {
      const codec = await getCodec(s.id);
      // lz4 legacy blocks hold 8 MiB; other formats reach several blocks sooner.
      const data = sample(s.id === 'lz4-legacy' ? 9 * 2 ** 20 : 1_500_000, 23);
      const args = s.id === 'lz4' ? ['-c', '-q', '-BD', '-B4'] : s.theirs[0]!;
      equalBytes(await codec.decode(run(s.tool, args, data)), data, 'theirs → us');
      if (s.decode) equalBytes(run(s.tool, s.decode, await codec.encode!(data, { level: 1 })), data, 'us → theirs');
    });
  });
}

describe('xz output is what the kernel needs', { skip: skipWithout('xz') }, () => {
  before(() => requireTools('xz'));
  it('the default check is CRC32, and the dictionary size is as asked (xz --robot --list)', async () => {
    const dir = tempDir();
    try {
      const file = join(dir, 'k.xz');
      writeFileSync(file, await (await getCodec('xz')).encode!(sample(100_000), { xz: { dictSize: 2 ** 20, bcj: 'x86' } }));
      const r = spawnSync('xz', ['--robot', '--list', '-vv', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const stream = r.stdout.split('\n').find((l) => l.startsWith('stream\t'))!;
      assert.equal(stream.split('\t')[8], 'CRC32', stream); // stream, number, blocks, offsets, sizes, ratio, check
      const block = r.stdout.split('\n').find((l) => l.startsWith('block\t'))!;
      assert.match(block, /--x86 --lzma2=dict=1MiB/);
      equalBytes(run('xz', ['-dc'], readFileSync(file)), sample(100_000));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lzma header written by us', { skip: skipWithout('xz') }, () => {
  before(() => requireTools('xz'));
  it('carries the real size and a dictionary rounded as liblzma does, and xz reads it', async () => {
    const data = sample(50_000, 31);
    const packed = await (await getCodec('lzma')).encode!(data, { lzma: { dictSize: 100_000, lc: 2, lp: 1, pb: 1 } });
    const dv = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
    assert.equal(packed[0], (1 * 5 + 1) * 9 + 2);
    assert.equal(dv.getUint32(1, true), 2 ** 17); // 100 000 rounded up to 2^n or 2^n + 2^(n-1)
    assert.equal(Number(dv.getBigUint64(5, true)), data.length);
    equalBytes(run('xz', ['--format=lzma', '-dc'], packed), data);
  });
});
