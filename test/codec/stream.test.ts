import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FormatError } from '../../src/bytes/errors.js';
import { collect, concat } from '../../src/bytes/source.js';
import { getCodec, type CompressionId } from '../../src/codec/index.js';
import { nativeCodecs } from '../../src/codec/native.js';
import { has, root, tempDir } from '../helpers.js';
import { chunked, cuts, equalBytes, gather, once, payload, rejectsFormat, sample } from './arb.js';
import { literalOnlyLzma } from './lzma-sdk.js';

const streaming: readonly CompressionId[] = ['gzip', 'zlib', 'xz', 'lz4', 'lz4-legacy'];

describe('codec streams', () => {
  for (const id of streaming) {
    it(`${id}: decodeStream gives the bytes of decode under any chunking`, { timeout: 20_000 }, async () => {
      const codec = await getCodec(id);
      const input = payload.chain((data) => fc.tuple(fc.constant(data), fc.constantFrom(1, 3, 6)));
      await fc.assert(
        fc.asyncProperty(input, async ([data, level]) => {
          const packed = await codec.encode!(data, { level });
          await fc.assert(
            fc.asyncProperty(cuts(packed.length), async (at) => {
              equalBytes(await gather(codec.decodeStream!(chunked(packed, at))), data);
            }),
            { numRuns: 4 },
          );
        }),
        { numRuns: id === 'xz' ? 6 : 15 },
      );
    });

    it(`${id}: 1-byte chunks`, async () => {
      const codec = await getCodec(id);
      const data = sample(3000, 2);
      const packed = await codec.encode!(data);
      const ones = Array.from({ length: packed.length }, (_, i) => i + 1);
      equalBytes(await gather(codec.decodeStream!(chunked(packed, ones))), data);
    });

    it(`${id}: encodeStream output decodes to the input under any chunking`, { timeout: 20_000 }, async () => {
      const codec = await getCodec(id);
      await fc.assert(
        fc.asyncProperty(payload.chain((d) => fc.tuple(fc.constant(d), cuts(d.length))), async ([data, at]) => {
          const packed = await gather(codec.encodeStream!(chunked(data, at), { level: 1 }));
          equalBytes(await codec.decode(packed), data);
        }),
        { numRuns: id === 'xz' ? 6 : 15 },
      );
    });

    it(`${id}: decodeStream enforces maxOutput`, async () => {
      const codec = await getCodec(id);
      const packed = await codec.encode!(new Uint8Array(300_000));
      await rejectsFormat(gather(codec.decodeStream!(once(packed), { maxOutput: 100_000 })), id, 'LIMIT');
      equalBytes(await gather(codec.decodeStream!(once(packed), { maxOutput: 300_000 })), new Uint8Array(300_000));
    });

    it(`${id}: an error from the input iterable propagates unchanged`, async () => {
      const codec = await getCodec(id);
      const packed = await codec.encode!(sample(100_000, 4));
      const io = new Error('EIO: disk on fire');
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield packed.subarray(0, 100);
        throw io;
      }
      await assert.rejects(gather(codec.decodeStream!(failing())), (e) => e === io);
    });

    it(`${id}: truncated streams fail with FormatError`, async () => {
      const codec = await getCodec(id);
      const packed = await codec.encode!(sample(5000, 5));
      for (const cut of [1, 5, Math.floor(packed.length / 2), packed.length - 1]) {
        try {
          const out = await gather(codec.decodeStream!(chunked(packed.subarray(0, cut), [3])));
          // lz4-legacy has no end marker: a cut at a block boundary is a shorter valid stream.
          assert.equal(id, 'lz4-legacy', `cut at ${cut} decoded to ${out.length} bytes`);
        } catch (e) {
          assert.ok(e instanceof FormatError && e.format === id, String(e));
        }
      }
    });
  }

  it('stopping early releases the decoder and does not hang', async () => {
    for (const id of streaming) {
      const codec = await getCodec(id);
      const packed = await codec.encode!(sample(2_000_000, 6), { level: 1 });
      for await (const chunk of codec.decodeStream!(chunked(packed, [1000, 2000]))) {
        assert.ok(chunk.length > 0);
        break;
      }
    }
  });

  it('zstd: decodeStream gives the bytes of decode under any chunking, frames and skippable frames one after another', { timeout: 30_000 }, async () => {
    const zstd = await getCodec('zstd');
    const skippable = Uint8Array.of(0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 9, 9);
    await fc.assert(
      fc.asyncProperty(fc.array(payload, { minLength: 1, maxLength: 3 }), fc.constantFrom(1, 3, 19), async (parts, level) => {
        const frames = await Promise.all(parts.map((p) => zstd.encode!(p, { level })));
        const packed = concat(frames.flatMap((f, i) => (i === 1 ? [skippable, f] : [f])));
        const whole = await zstd.decode(packed);
        equalBytes(whole, concat(parts));
        await fc.assert(
          fc.asyncProperty(cuts(packed.length), async (at) => equalBytes(await gather(zstd.decodeStream!(chunked(packed, at))), whole)),
          { numRuns: 4 },
        );
      }),
      { numRuns: 15 },
    );
    const data = sample(3000, 2);
    const packed = await zstd.encode!(data);
    equalBytes(await gather(zstd.decodeStream!(chunked(packed, Array.from({ length: packed.length }, (_, i) => i + 1)))), data, '1-byte chunks');
  });

  it('zstd: decodeStream accepts and refuses what zstd -dc does, with its bytes: cut, flipped, or with bytes after', { skip: !has('zstd') && 'zstd not installed', timeout: 60_000 }, async () => {
    // libzstd's own streaming decoder, as the zstd tool runs it; decode (zstd-wasm, one call per
    // frame) refuses a few damaged frames without a checksum that both of them take
    const zstd = await getCodec('zstd');
    const data = sample(200_000, 8);
    const good = await zstd.encode!(data, { level: 3 });
    const mutant = fc.oneof(
      fc.nat({ max: good.length - 1 }).map((n) => good.subarray(0, n)),
      fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
        const b = Uint8Array.from(good);
        b[at]! ^= x;
        return b;
      }),
      fc.uint8Array({ minLength: 1, maxLength: 8 }).map((junk) => concat([good, junk])),
    );
    await fc.assert(
      fc.asyncProperty(mutant, cuts(good.length + 8), async (input, at) => {
        const theirs = spawnSync('zstd', ['-q', '-dc'], { input, maxBuffer: 1 << 26 });
        const ours = await gather(zstd.decodeStream!(chunked(input, at))).then(
          (out) => out,
          (e: unknown) => {
            assert.ok(e instanceof FormatError && e.format === 'zstd' && e.code !== 'LIMIT', String(e));
            return undefined;
          },
        );
        assert.equal(ours !== undefined, theirs.status === 0, `zstd -dc exit ${theirs.status}`);
        if (ours) equalBytes(ours, new Uint8Array(theirs.stdout));
      }),
      { numRuns: 150 },
    );
    await rejectsFormat(gather(zstd.decodeStream!(once(good), { maxOutput: 100_000 })), 'zstd', 'LIMIT');
    await rejectsFormat(gather(zstd.decodeStream!(once(good.subarray(0, good.length - 1)))), 'zstd', 'TRUNCATED');
    await rejectsFormat(gather(zstd.decodeStream!(once(new Uint8Array(0)))), 'zstd', 'TRUNCATED');
    const io = new Error('EIO: disk on fire');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield good.subarray(0, 100);
      throw io;
    }
    await assert.rejects(gather(zstd.decodeStream!(failing())), (e) => e === io);
  });

  it('lzma: decodeStream gives what decode gives, bytes or FormatError, under any chunking, in every form', { timeout: 30_000 }, async () => {
    const lzma = await getCodec('lzma');
    const data = sample(20_000, 7);
    const known = await lzma.encode!(data, { level: 1 }); // stated size + end marker
    const unknown = await lzma.encode!(data, { level: 1, lzma: { sizeInHeader: false } });
    const sdk = literalOnlyLzma(data); // stated size, no end marker: read twice
    const wrongSize = Uint8Array.from(known);
    new DataView(wrongSize.buffer).setBigUint64(5, BigInt(data.length + 1), true);
    const inputs = [known, unknown, sdk, wrongSize, concat([known, new Uint8Array(3)]), concat([sdk, Uint8Array.of(0x5d)]), unknown.subarray(0, 500), sdk.subarray(0, 9)];
    const outcome = (p: Promise<Uint8Array>) =>
      p.then((out) => ({ out }), (e: unknown) => {
        assert.ok(e instanceof FormatError, String(e));
        return { error: [e.code, e.offset, e.message] };
      });
    for (const [i, input] of inputs.entries()) {
      const whole = await outcome(lzma.decode(input));
      if (i < 3) equalBytes((whole as { out: Uint8Array }).out, data, `form ${i}`);
      await fc.assert(
        fc.asyncProperty(cuts(input.length), async (at) => {
          const streamed = await outcome(gather(lzma.decodeStream!(chunked(input, at))));
          if ('out' in whole) equalBytes((streamed as { out: Uint8Array }).out, whole.out, `input ${i}`);
          else assert.deepEqual(streamed, whole, `input ${i}`);
        }),
        { numRuns: 8 },
      );
    }
  });

  it('xz, lzma: decodeStream reads input only as its output is taken, in pieces of at most 1 MiB (a slow consumer bounds memory)', async () => {
    const bomb = new Uint8Array(64 * 2 ** 20); // zeros: 64 MiB from a few KiB
    for (const [id, packed] of [
      ['xz', await collect((await getCodec('xz')).encodeStream!(once(bomb), { level: 1 }))],
      ['lzma', await (await getCodec('lzma')).encode!(bomb, { level: 1 })],
    ] as const) {
      let pulled = 0;
      async function* input(): AsyncGenerator<Uint8Array> {
        for (let at = 0; at < packed.length; at += 256) {
          pulled = at + 256;
          yield packed.subarray(at, at + 256);
        }
      }
      let out = 0;
      for await (const piece of (await getCodec(id)).decodeStream!(input())) {
        assert.ok(piece.length <= 2 ** 20, `${id}: a piece of ${piece.length} bytes`);
        out += piece.length;
        if (out >= 4 * 2 ** 20) break;
      }
      assert.ok(pulled < packed.length / 4, `${id}: ${pulled} of ${packed.length} input bytes read for the first 4 MiB of output`);
    }
  });

  it('without the native addon (IMGKIT_NATIVE=0: lzma-native) xz and lzma decode to the same bytes and fail with the same errors', { timeout: 60_000 }, async () => {
    const xz = await getCodec('xz');
    const lzma = await getCodec('lzma');
    const data = sample(3_000_000, 8); // several pieces of output
    const px = await xz.encode!(data, { level: 1 });
    const pl = await lzma.encode!(data, { level: 1 });
    const junk = new TextEncoder().encode('GARBAGE');
    const inputs: [CompressionId, Uint8Array][] = [
      ['xz', px],
      ['xz', concat([px, new Uint8Array(4), await xz.encode!(sample(1000), { xz: { check: 'sha256' } })])],
      ['xz', concat([px, junk])],
      ['xz', concat([px, new Uint8Array(3)])],
      ['xz', px.subarray(0, px.length - 100)],
      ['lzma', pl],
      ['lzma', await lzma.encode!(data, { level: 1, lzma: { sizeInHeader: false } })],
      ['lzma', literalOnlyLzma(sample(5000))],
      ['lzma', concat([pl, junk])],
      ['lzma', pl.subarray(0, pl.length - 100)],
    ];
    const dir = tempDir('imgkit-fallback-');
    try {
      const files = inputs.map(([id, bytes], i) => {
        const path = join(dir, `${i}.${id}`);
        writeFileSync(path, bytes);
        return [id, path] as const;
      });
      // what each decodes to (a digest), or the FormatError: by decode and by decodeStream in 4 KiB chunks
      const script = `
        import { readFileSync } from 'node:fs';
        import { createHash } from 'node:crypto';
        import { getCodec } from './src/codec/index.js';
        import { nativeCodecs } from './src/codec/native.js';
        const files = ${JSON.stringify(files)};
        const digest = (b) => createHash('sha256').update(b).digest('hex');
        const outcome = (p) => p.then((hex) => hex, (e) => [e.name, e.code, e.offset, e.message]);
        async function* chunks(b) { for (let i = 0; i < b.length; i += 4096) yield b.subarray(i, i + 4096); }
        async function gather(it) { const h = createHash('sha256'); for await (const c of it) h.update(c); return h.digest('hex'); }
        const out = [];
        for (const [id, path] of files) {
          const codec = await getCodec(id);
          const b = new Uint8Array(readFileSync(path));
          out.push([await outcome(codec.decode(b).then(digest)), await outcome(gather(codec.decodeStream(chunks(b))))]);
        }
        process.stdout.write(JSON.stringify({ native: nativeCodecs() !== undefined, out }));`;
      const run = (env: NodeJS.ProcessEnv) => {
        const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(r.stdout) as { native: boolean; out: unknown[] };
      };
      const fallback = run({ IMGKIT_NATIVE: '0' });
      assert.equal(fallback.native, false);
      const usual = run({});
      assert.equal(usual.native, nativeCodecs() !== undefined);
      assert.deepEqual(fallback.out, usual.out);
      const sha = createHash('sha256').update(data).digest('hex');
      assert.deepEqual(fallback.out[0], [sha, sha]);
      assert.deepEqual(fallback.out[5], [sha, sha]);
      assert.equal((fallback.out[2] as unknown[][])[0]![1], 'BAD_FIELD');
      assert.equal((fallback.out[2] as unknown[][])[0]![2], px.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bzip2 decodeStream', () => {
  it('gives the bytes of decode under any chunking, in pieces of at most 1 MiB however far a block expands', async () => {
    const codec = await getCodec('bzip2');
    await fc.assert(
      fc.asyncProperty(payload.chain((d) => fc.tuple(fc.constant(d), fc.constantFrom(1, 9))), async ([data, level]) => {
        const packed = await codec.encode!(data, { level });
        await fc.assert(fc.asyncProperty(cuts(packed.length), async (at) => equalBytes(await gather(codec.decodeStream!(chunked(packed, at))), data)), { numRuns: 4 });
      }),
      { numRuns: 15 },
    );
    // 20 MB of zeros: RLE1 makes it one small block that expands 51-fold
    const zeros = new Uint8Array(20_000_000);
    const packed = await codec.encode!(zeros);
    const pieces = [];
    for await (const p of codec.decodeStream!(once(packed))) pieces.push(p.length);
    assert.ok(Math.max(...pieces) <= 1 << 20, `largest piece ${Math.max(...pieces)}`);
    assert.equal(pieces.reduce((a, b) => a + b, 0), zeros.length);
  });

  it('enforces maxOutput to the byte, and refuses a bad block CRC after the block\'s pieces', async () => {
    const codec = await getCodec('bzip2');
    const data = sample(3_000_000, 5);
    const packed = await codec.encode!(data);
    equalBytes(await gather(codec.decodeStream!(once(packed), { maxOutput: data.length })), data);
    await rejectsFormat(gather(codec.decodeStream!(once(packed), { maxOutput: data.length - 1 })), 'bzip2', 'LIMIT');
    const bad = packed.slice();
    bad[10]! ^= 1; // the first block's stored CRC
    await rejectsFormat(gather(codec.decodeStream!(once(bad))), 'bzip2', 'BAD_CHECKSUM');
    await rejectsFormat(codec.decode(bad), 'bzip2', 'BAD_CHECKSUM');
  });
});
