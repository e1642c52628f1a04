/**
 * The bzip2 encoder: round trips through our decoder and through `bzip2 -dc` (the differential suite
 * skips when bzip2 is missing, except under CI, where it fails), block boundaries, RLE1 run edges,
 * the Huffman length limit, and inputs that would make a naive rotation sort quadratic.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { concat } from '../../src/bytes/source.js';
import { codeLengths, encodeBzip2 } from '../../src/codec/bzip2-encode.js';
import { compress, decompress, detectCompression, getCodec } from '../../src/codec/index.js';
import { requireTools, root, skipWithout } from '../helpers.js';
import { compressible, equalBytes, payload, sample } from './arb.js';

const SEED = 0x0b21_9e5c;

/** bzip2's block limit after RLE1 at `level`. */
const limit = (level: number): number => level * 100_000 - 19;

/** Seeded bytes with no two neighbours equal, so RLE1 leaves them alone (output size = input size). */
function noRuns(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    let b = s >>> 24;
    if (i > 0 && b === out[i - 1]) b = (b + 1) & 0xff;
    out[i] = b;
  }
  return out;
}

/** `pattern` repeated to `n` bytes. */
function periodic(n: number, pattern: readonly number[]): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = pattern[i % pattern.length]!;
  return out;
}

const text = (n: number): Uint8Array => {
  const src = readFileSync(new URL('../../src/codec/bzip2.ts', import.meta.url));
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += src.length) out.set(src.subarray(0, Math.min(src.length, n - i)), i);
  // Not one long period: vary a byte every few KiB.
  for (let i = 0; i < n; i += 4099) out[i] = (i >>> 12) & 0xff;
  return out;
};

async function roundTrip(data: Uint8Array, level?: number): Promise<Uint8Array> {
  const packed = encodeBzip2(data, level);
  equalBytes(await (await getCodec('bzip2')).decode(packed, { maxOutput: 2 ** 30 }), data, `${data.length} bytes, level ${level ?? 'default'}`);
  return packed;
}

/** Edge-case inputs: sizes, RLE1 runs, block boundaries. */
function edgeCases(): [string, Uint8Array, number?][] {
  const cases: [string, Uint8Array, number?][] = [];
  for (const n of [0, 1, 2, 3, 4, 5, 6, 7, 8, 50, 51, 255, 256, 257]) cases.push([`${n} varied bytes`, noRuns(n, n + 1)]);
  for (const n of [1, 3, 4, 5, 8, 254, 255, 256, 258, 259, 260, 510, 511, 1000, 70_000]) cases.push([`run of ${n}`, new Uint8Array(n).fill(0x61)]);
  // Runs of every length 1..300 of alternating bytes: every RLE1 count byte value.
  cases.push(['runs 1..300', concat(Array.from({ length: 300 }, (_, i) => new Uint8Array(i + 1).fill(i & 1 ? 0xff : 0)))]);
  const L = limit(1);
  for (const n of [L - 1, L, L + 1, 2 * L, 2 * L + 1]) cases.push([`${n} bytes at level 1 (block limit ${L})`, noRuns(n, 7), 1]);
  // A 5-byte RLE1 unit that just fits, and one that does not, at the end of a level-1 block.
  for (const pre of [L - 6, L - 5, L - 4, L - 3, L - 1]) cases.push([`run after ${pre} bytes at level 1`, concat([noRuns(pre, 9), new Uint8Array(300).fill(noRuns(pre, 9)[pre - 1]! ^ 0x55)]), 1]);
  cases.push(['all 256 byte values', Uint8Array.from({ length: 256 }, (_, i) => i)]);
  cases.push(['two byte values', periodic(5000, [0, 0, 1])]);
  cases.push(['text 300 KiB', text(300_000), 2]);
  return cases;
}

describe('bzip2 encoder', () => {
  it('writes the empty stream as the bzip2 tool does: "BZh9", end-of-stream magic, CRC 0', async () => {
    const packed = await roundTrip(new Uint8Array(0));
    assert.deepEqual([...packed], [0x42, 0x5a, 0x68, 0x39, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90, 0, 0, 0, 0]);
  });

  it('round-trips edge cases through our decoder', { timeout: 30_000 }, async () => {
    for (const [, data, level] of edgeCases()) await roundTrip(data, level);
  });

  it('levels 1–9 set the header byte; the default is 9; others are a RangeError', async () => {
    const data = sample(30_000, 4);
    for (let level = 1; level <= 9; level++) {
      const packed = await compress(data, 'bzip2', { level });
      assert.equal(packed[3], 0x30 + level);
      equalBytes(await decompress(packed), data);
    }
    const dflt = await compress(data, 'bzip2');
    assert.equal(dflt[3], 0x39);
    assert.equal(detectCompression(dflt), 'bzip2');
    for (const level of [0, 10, 1.5, -1, Number.NaN]) await assert.rejects(compress(data, 'bzip2', { level }), RangeError, String(level));
    assert.throws(() => encodeBzip2(data, 0), RangeError);
  });

  it('is deterministic, and the codec and encodeBzip2 agree', async () => {
    const data = sample(50_000, 5);
    equalBytes(await compress(data, 'bzip2', { level: 3 }), encodeBzip2(data, 3));
    equalBytes(encodeBzip2(data), encodeBzip2(data));
  });

  it('any payload, any level: decode(encode(x)) = x', { timeout: 30_000 }, async () => {
    const codec = await getCodec('bzip2');
    await fc.assert(
      fc.asyncProperty(payload, fc.integer({ min: 1, max: 9 }), async (data, level) => {
        equalBytes(await codec.decode(await codec.encode!(data, { level })), data);
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('small alphabets and long runs (few MTF symbols, RUNA/RUNB runs of every length)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 2000 })), { maxLength: 30 }), async (runs) => {
        await roundTrip(concat(runs.map(([b, n]) => new Uint8Array(n).fill(b))), 1);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('Huffman code lengths stay within 17 bits and form a complete code, however skewed the counts', () => {
    const check = (freq: number[]): void => {
      const lengths = new Uint8Array(freq.length);
      codeLengths(freq, freq.length, 17, lengths);
      let kraft = 0;
      for (const l of lengths) {
        assert.ok(l >= 1 && l <= 17, `length ${l}`);
        kraft += 2 ** -l;
      }
      assert.equal(kraft, 1);
    };
    // Fibonacci counts would give a 257-deep tree without the limit.
    const fib = [1, 1];
    while (fib.length < 258) fib.push(Math.min(fib.at(-1)! + fib.at(-2)!, 2 ** 40));
    check(fib);
    check(Array.from({ length: 258 }, (_, i) => 2 ** Math.min(i, 40)));
    check([0, 0, 1]);
    check([900_000, 0, 1]);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1_000_000 }), { minLength: 3, maxLength: 258 }), (freq) => check(freq)),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('4 MiB of zeros and of a 7-byte pattern: no quadratic sort, and both round-trip', { timeout: 60_000 }, async () => {
    for (const data of [new Uint8Array(4 << 20), periodic(4 << 20, [1, 2, 3, 4, 5, 6, 7])]) {
      const cpu = process.cpuUsage();
      const packed = await roundTrip(data);
      const { user, system } = process.cpuUsage(cpu);
      assert.ok(packed.length < 2000, `${packed.length} bytes`);
      // A quadratic rotation sort would take hours here; ours takes a few seconds at most.
      assert.ok((user + system) / 1e6 < 30, `${(user + system) / 1e6} s of CPU`);
    }
  });
});

describe('bzip2 encoder against bzip2 -dc', { skip: skipWithout('bzip2') }, () => {
  /** Runs `bzip2 args` on `input`; returns stdout, failing on a non-zero exit. */
  const bzip2 = (args: readonly string[], input: Uint8Array): Uint8Array => {
    const r = spawnSync('bzip2', args, { input, maxBuffer: 1 << 28 });
    if (r.error) throw r.error;
    assert.equal(r.status, 0, `bzip2 ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
    return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.length);
  };

  before(() => requireTools('bzip2'));

  it('bzip2 -dc decodes every edge case', { timeout: 30_000 }, () => {
    for (const [name, data, level] of edgeCases()) equalBytes(bzip2(['-dc'], encodeBzip2(data, level)), data, name);
  });

  it('bzip2 -dc decodes any payload at any level', { timeout: 30_000 }, () => {
    fc.assert(
      fc.property(fc.oneof(payload, compressible), fc.integer({ min: 1, max: 9 }), (data, level) => {
        equalBytes(bzip2(['-dc'], encodeBzip2(data, level)), data, `level ${level}`);
      }),
      { seed: SEED, numRuns: 40 },
    );
  });

  it('multi-block inputs (random, text, zeros, periodic) decode with bzip2 -dc, and are about bzip2\'s size', { timeout: 60_000 }, () => {
    const random = new Uint8Array(1_300_000);
    for (let i = 0, s = 12_345; i < random.length; i++) random[i] = (s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0) >>> 24;
    const inputs: [string, Uint8Array, number][] = [
      ['random', random, 1],
      ['text', text(1_500_000), 9],
      ['sample', sample(1_500_000, 23), 1],
      ['zeros', new Uint8Array(3_000_000), 1],
      ['periodic', periodic(1_000_000, [9, 8, 7, 6, 5, 4, 3]), 2],
    ];
    for (const [name, data, level] of inputs) {
      const ours = encodeBzip2(data, level);
      equalBytes(bzip2(['-dc'], ours), data, name);
      const theirs = bzip2(['-c', `-${level}`], data);
      assert.ok(ours.length <= theirs.length * 1.02 + 64, `${name}: ours ${ours.length} bytes, bzip2 ${theirs.length}`);
    }
  });

  it('concatenated streams decode to the inputs concatenated (bzip2 -dc and ours)', async () => {
    const [a, b] = [sample(5000, 21), sample(7000, 22)];
    const both = concat([encodeBzip2(a, 1), encodeBzip2(b, 9)]);
    equalBytes(bzip2(['-dc'], both), concat([a, b]));
    equalBytes(await decompress(both), concat([a, b]));
  });

  it('bzip2 -t finds no fault in our encoding of the encoder\'s own source', () => {
    const data = readFileSync(`${root}src/codec/bzip2-encode.ts`);
    const r = spawnSync('bzip2', ['-t'], { input: encodeBzip2(data) });
    assert.equal(r.status, 0, r.stderr.toString());
  });
});
