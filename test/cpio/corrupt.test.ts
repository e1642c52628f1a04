/** Hostile input: every truncation, random flips, bad/ fixtures. Always a value or a FormatError, never a hang. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { FormatError } from '../../src/bytes/errors.js';
import { ByteSource, collect } from '../../src/bytes/source.js';
import { decodeCpio, encodeCpio, readCpio, walkInitramfs, compressStream } from '../../src/cpio/index.js';
import { items } from './arb.js';

const dir = new URL('../fixtures/cpio/', import.meta.url);
const fixture = (n: string) => new Uint8Array(readFileSync(new URL(n, dir)));

async function valueOrFormatError(b: Uint8Array): Promise<void> {
  try {
    decodeCpio(b);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    assert.ok(e.offset >= 0 && e.offset <= b.length, `offset ${e.offset} inside the input of ${b.length}`);
  }
  try {
    await walkInitramfs(b);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
  }
}

describe('cpio corrupt input', () => {
  it('bad/<CODE>--*.bin raise their code (image reader and stream reader)', async () => {
    const files = readdirSync(new URL('bad/', dir));
    assert.ok(files.length >= 8);
    for (const f of files) {
      const code = f.split('--')[0]!;
      const b = fixture(`bad/${f}`);
      const ok = (e: unknown) => e instanceof FormatError && e.code === code;
      await assert.rejects(walkInitramfs(b), ok, f);
      if (!f.includes('gzip')) {
        assert.throws(() => decodeCpio(b), ok, f);
        await assert.rejects(async () => { for await (const { body } of readCpio(new ByteSource([b], 'cpio'))) await collect(body); }, ok, f);
      }
    }
  });

  it('offsets point at the bad field', () => {
    assert.throws(() => decodeCpio(fixture('bad/BAD_FIELD--non-hex-digit-in-mode.bin')), (e: unknown) => e instanceof FormatError && e.offset === 17);
    assert.throws(() => decodeCpio(fixture('bad/LIMIT--namesize-past-path-max.bin')), (e: unknown) => e instanceof FormatError && e.offset === 94);
    assert.throws(() => decodeCpio(fixture('bad/BAD_CHECKSUM--crc-sum-off-by-one.bin')), (e: unknown) => e instanceof FormatError && e.offset === 102);
  });

  it('every truncation of an archive is TRUNCATED (or a complete archive), never another error', async () => {
    const b = encodeCpio([{ name: 'a', mode: 0o40755 }, { name: 'a/b', mode: 0o100644, data: new Uint8Array(700).fill(1) }, { name: 'l', mode: 0o120777, data: new Uint8Array([0x61]) }], { format: 'crc' });
    const end = decodeCpio(b).end;
    for (let n = 0; n <= b.length; n++) {
      if (n >= end) {
        assert.equal(decodeCpio(b.subarray(0, n)).records.length, 3);
        continue;
      }
      assert.throws(() => decodeCpio(b.subarray(0, n)), (e: unknown) => e instanceof FormatError && e.code === 'TRUNCATED', `cut at ${n}`);
      await valueOrFormatError(b.subarray(0, n));
    }
  });

  it('every truncation of a compressed image is a FormatError', async () => {
    for (const m of ['gzip', 'zstd', 'xz', 'lz4'] as const) {
      const c = await collect(compressStream([encodeCpio([{ name: 'f', mode: 0o100644, data: new Uint8Array(3000).fill(9) }])], m));
      for (let n = 1; n < c.length; n += Math.max(1, Math.floor(c.length / 40))) await valueOrFormatError(c.subarray(0, n));
    }
  });

  it('random byte flips in generated archives give a value or a FormatError', async () => {
    await fc.assert(fc.asyncProperty(items, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 }), async (xs, flips) => {
      const b = encodeCpio(xs, { format: 'crc' }).slice();
      for (const [at, v] of flips) b[at % b.length] = v;
      await valueOrFormatError(b);
      try {
        for await (const { body } of readCpio(new ByteSource([b], 'cpio'))) await collect(body);
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
      }
    }), { numRuns: 300 });
  });

  it('huge sizes in headers are refused before anything is allocated', () => {
    const b = fixture('sample-crc.cpio').slice();
    b.set(new TextEncoder().encode('FFFFFFFF'), 54);
    assert.throws(() => decodeCpio(b), (e: unknown) => e instanceof FormatError && e.code === 'TRUNCATED');
  });
});
