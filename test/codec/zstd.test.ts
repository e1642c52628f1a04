/**
 * zstd frame walking: every block is held to Block_Maximum_Size = min(Window_Size, 128 KiB)
 * (RFC 8878 §3.1.1.2.3–4), raw and RLE blocks by their regenerated size, as libzstd does; and the
 * frames the reference tool writes with small windows, high levels and long mode still decode.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { before, describe, it } from 'node:test';
import { getCodec } from '../../src/codec/index.js';
import { walk } from '../../src/codec/zstd.js';
import { requireTools, skipWithout } from '../helpers.js';
import { equalBytes, rejectsFormat, sample } from './arb.js';

const MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
/** Frame header without content size: FHD 0, then a window descriptor (0x00 = 1 KiB, 0x58 = 2 MiB). */
const header = (wd: number): number[] => [...MAGIC, 0x00, wd];
/** Single-segment frame header with a 1-byte Frame_Content_Size (so the window is `fcs` bytes). */
const single = (fcs: number): number[] => [...MAGIC, 0x20, fcs];
const blockHeader = (last: boolean, type: number, size: number): number[] => {
  const h = size * 8 + type * 2 + (last ? 1 : 0);
  return [h & 0xff, (h >> 8) & 0xff, h >> 16];
};
const rle = (last: boolean, size: number, byte = 0x41): number[] => [...blockHeader(last, 1, size), byte];
const raw = (last: boolean, size: number): number[] => [...blockHeader(last, 0, size), ...new Array<number>(size).fill(0x42)];
const frame = (...parts: number[][]): Uint8Array => Uint8Array.from(parts.flat());

/** The largest Block_Size the 21-bit field holds: 2 MiB - 1. */
const FIELD_MAX = 2 ** 21 - 1;

describe('zstd errors say what libzstd says', () => {
  it('a window past what the decoder allows (zstd --long=31) is UNSUPPORTED with libzstd\'s words, not a bare code', async () => {
    const zstd = await getCodec('zstd');
    const e = await rejectsFormat(zstd.decode(frame(header(0xa8), rle(true, 1))), 'zstd', 'UNSUPPORTED');
    assert.match(e.message, /frame requires too much memory for decoding \(its window is larger than the decoder allows\) \(libzstd error 16\)/);
  });
});

describe('zstd block sizes are held to Block_Maximum_Size', () => {
  it('RLE blocks that each claim 2 MiB in a 2 MiB window are BAD_FIELD at the first block header, before decoding', async () => {
    const zstd = await getCodec('zstd');
    // 600 RLE blocks of 4 bytes each, each claiming 2 MiB - 1: 1.2 GiB from 2.4 KB if obeyed.
    const bomb = frame(header(0x58), ...Array.from({ length: 600 }, (_, i) => rle(i === 599, FIELD_MAX)));
    assert.ok(bomb.length < 2500);
    const started = performance.now();
    const e = await rejectsFormat(zstd.decode(bomb), 'zstd', 'BAD_FIELD');
    assert.equal(e.offset, 6, e.message);
    assert.match(e.message, /RLE block size 2097151 exceeds the block maximum of 131072/);
    assert.ok(performance.now() - started < 1000, 'refused without decoding');
    assert.throws(() => walk(bomb), (x: unknown) => x instanceof Error && /block maximum/.test(x.message));
  });

  it('raw and RLE blocks one byte past the maximum are BAD_FIELD at their header; at the maximum they decode', async () => {
    const zstd = await getCodec('zstd');
    const cases: [Uint8Array, number, number][] = [
      // frame, block maximum, offset of the block header
      [frame(header(0x58), rle(false, 10), rle(true, 128 * 1024 + 1)), 128 * 1024, 6 + 4],
      [frame(header(0x58), raw(true, 128 * 1024 + 1)), 128 * 1024, 6],
      [frame(header(0x00), rle(true, 1025)), 1024, 6], //  1 KiB window
      [frame(header(0x00), raw(true, 1025)), 1024, 6],
      [frame(single(100), rle(true, 101)), 100, 6], //    single segment: the window is the content size
      [frame(single(100), raw(false, 60), raw(true, 101)), 100, 6 + 63],
    ];
    for (const [bad, max, at] of cases) {
      const e = await rejectsFormat(zstd.decode(bad), 'zstd', 'BAD_FIELD');
      assert.equal(e.offset, at, e.message);
      assert.match(e.message, new RegExp(`exceeds the block maximum of ${max}\\b`));
    }
    equalBytes(await zstd.decode(frame(header(0x58), rle(false, 128 * 1024, 7), rle(true, 128 * 1024, 7))), new Uint8Array(256 * 1024).fill(7));
    equalBytes(await zstd.decode(frame(header(0x00), rle(true, 1024, 7))), new Uint8Array(1024).fill(7));
    equalBytes(await zstd.decode(frame(single(100), rle(false, 50, 7), rle(true, 50, 7))), new Uint8Array(100).fill(7));
    equalBytes(await zstd.decode(frame(single(0), raw(true, 0))), new Uint8Array(0));
  });

  it('a content size below what the raw and RLE blocks hold is BAD_FIELD at the frame', async () => {
    // FHD 0x40: 2-byte Frame_Content_Size (value + 256) and a window descriptor.
    const fcs300 = [...MAGIC, 0x40, 0x00, 44, 0];
    const zstd = await getCodec('zstd');
    equalBytes(await zstd.decode(frame(fcs300, rle(false, 200, 1), rle(true, 100, 1))), new Uint8Array(300).fill(1));
    const e = await rejectsFormat(zstd.decode(frame(fcs300, rle(false, 200), rle(true, 200))), 'zstd', 'BAD_FIELD');
    assert.equal(e.offset, 0);
  });

  it('RLE blocks that add up past maxOutput are LIMIT before anything is decoded', async () => {
    const zstd = await getCodec('zstd');
    const blocks = frame(header(0x58), ...Array.from({ length: 8 }, (_, i) => rle(i === 7, 128 * 1024)));
    const afterSkippable = Uint8Array.from([0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0, ...blocks]); // so the offset is the second frame's
    const e = await rejectsFormat(zstd.decode(afterSkippable, { maxOutput: 8 * 128 * 1024 - 1 }), 'zstd', 'LIMIT');
    assert.equal(e.offset, 8);
    equalBytes(await zstd.decode(blocks, { maxOutput: 8 * 128 * 1024 }), new Uint8Array(8 * 128 * 1024).fill(0x41));
  });
});

describe('zstd frames from the reference tool with small windows, high levels and long mode', { skip: skipWithout('zstd') }, () => {
  before(() => requireTools('zstd'));

  const run = (args: string[], input: Uint8Array): Uint8Array => {
    const r = spawnSync('zstd', ['-c', '-q', ...args], { input, maxBuffer: 1 << 26 });
    assert.equal(r.status, 0, `zstd ${args.join(' ')}: ${r.stderr?.toString()}`);
    return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.length);
  };
  const settings: string[][] = [
    ['-19'],
    ['--ultra', '-22', '--long=27'],
    ['-3', '--zstd=wlog=10'], //                 1 KiB window: 1 KiB blocks
    ['-19', '--no-content-size', '--zstd=wlog=10'],
    ['-1', '--no-content-size'], //              from a pipe: no single segment
  ];

  it('decode to the input, for inputs from empty to several blocks', { timeout: 60_000 }, async () => {
    const zstd = await getCodec('zstd');
    for (const n of [0, 1, 1000, 131_072, 300_000]) {
      const data = n === 131_072 ? new Uint8Array(n).fill(9) : sample(n, n + 3);
      for (const args of settings) equalBytes(await zstd.decode(run(args, data)), data, `zstd ${args.join(' ')} on ${n} bytes`);
    }
  });

  it('agrees with zstd -t on blocks one byte past the maximum', () => {
    const bad = frame(header(0x00), rle(true, 1025));
    const r = spawnSync('zstd', ['-t', '-q'], { input: bad });
    assert.notEqual(r.status, 0, 'zstd -t accepted it');
    assert.equal(spawnSync('zstd', ['-t', '-q'], { input: frame(header(0x00), rle(true, 1024)) }).status, 0);
  });
});
