import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { lstatSync, symlinkSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ByteCursor } from '../../src/bytes/cursor.js';
import { ByteSource, collect, concat } from '../../src/bytes/source.js';
import { FormatError } from '../../src/bytes/errors.js';
import { memorySink, withOutputFile, writeFileAtomic, padTo, handleSink, writeBehind } from '../../src/bytes/sink.js';
import { nativeCodecs } from '../../src/codec/native.js';
import { struct } from '../../src/bytes/struct.js';
import { crc32, crc32Addon, crc32Combine, crc32FileParts, crc32Js, crc32IsNative, crc32Range } from '../../src/bytes/crc32.js';
import * as zlib from 'node:zlib';
import { limit, padding } from '../../src/bytes/limits.js';
import { bytesAccess, fileAccess } from '../../src/bytes/random.js';
import { copyPayloadCrc, filePayload, payloadBytes, payloadHead, rangePayload } from '../../src/bytes/payload.js';
import { seeded } from '../squashfs/fixture.js';

const split = (data: Uint8Array, cuts: number[]) => {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const c of [...cuts, data.length]) {
    out.push(data.subarray(at, c));
    at = c;
  }
  return out;
};
const chunkings = (len: number) =>
  fc.uniqueArray(fc.integer({ min: 0, max: len }), { maxLength: 16 }).map((c) => [...c].sort((a, b) => a - b));

describe('ByteCursor', () => {
  it('reads little- and big-endian fields and reports the absolute offset when truncated', () => {
    const c = new ByteCursor(Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 2, 9), 'test', 0x100);
    assert.equal(c.u32le(), 1);
    assert.equal(c.u32be(), 2);
    assert.throws(() => c.u32le('field'), (e: unknown) => e instanceof FormatError && e.code === 'TRUNCATED' && e.offset === 0x108 && /field/.test(e.message));
  });
  it('refuses u64 values past 2^53 instead of rounding them', () => {
    const b = new Uint8Array(8).fill(0xff);
    assert.throws(() => new ByteCursor(b, 'test').u64le(), (e: unknown) => e instanceof FormatError && e.code === 'LIMIT');
    const ok = new Uint8Array(8);
    new DataView(ok.buffer).setBigUint64(0, 2n ** 52n + 3n, true);
    assert.equal(new ByteCursor(ok, 'test').u64le(), 2 ** 52 + 3);
  });
  it('take() is zero-copy', () => {
    const b = Uint8Array.of(1, 2, 3, 4);
    const t = new ByteCursor(b, 'test').take(2);
    assert.equal(t.buffer, b.buffer);
  });
});

describe('padding and limits', () => {
  it('padding holds past 2 GiB and 4 GiB', () => {
    assert.equal(padding(2 ** 31 + 1, 4096), 4095);
    assert.equal(padding(2 ** 32 + 4096, 4096), 0);
    assert.equal(padding(5 * 2 ** 32 + 1, 2048), 2047);
  });
  it('limit throws LIMIT before anything is allocated', () => {
    assert.throws(() => limit(2 ** 40, 2 ** 30, 'size', 'test', 4), (e: unknown) => e instanceof FormatError && e.code === 'LIMIT' && e.offset === 4);
    assert.equal(limit(5, 10, 'x', 'test', 0), 5);
  });
});

describe('ByteSource', () => {
  it('returns the same bytes however the input is chunked', async () => {
    const input = fc
      .uint8Array({ minLength: 1, maxLength: 512 })
      .chain((data) => fc.tuple(fc.constant(data), chunkings(data.length), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 20 })));
    await fc.assert(
      fc.asyncProperty(input, async ([data, cuts, reads]) => {
        const src = new ByteSource(split(data, cuts), 'test');
        let at = 0;
        for (const n of reads) {
          if (at + n > data.length) {
            await assert.rejects(src.read(n, 'record'), (e: unknown) => e instanceof FormatError && e.code === 'TRUNCATED' && e.offset === data.length);
            return;
          }
          assert.deepEqual(await src.read(n, 'record'), data.subarray(at, (at += n)));
          assert.equal(src.position, at);
        }
        assert.deepEqual(await collect(src.rest()), data.subarray(at));
      }),
      { seed: 42, numRuns: 200 },
    );
  });
  it('body() yields subarrays of the input chunks without copying', async () => {
    const a = Uint8Array.of(1, 2, 3), b = Uint8Array.of(4, 5);
    const src = new ByteSource([a, b], 'test');
    const parts: Uint8Array[] = [];
    for await (const p of src.body(4, 'body')) parts.push(p);
    assert.equal(parts[0]!.buffer, a.buffer);
    assert.equal(parts[1]!.buffer, b.buffer);
    assert.equal(await src.atEnd(), false);
  });
});

describe('struct (buffer-layout tables)', () => {
  const S = struct('test', 'test header', { magic: { bytes: 4 }, a: 'u32le', b: 'u32be', c: 'u64le', d: 'u8', e: 'u16le' });
  it('computes size and offsets', () => {
    assert.equal(S.size, 4 + 4 + 4 + 8 + 1 + 2);
    assert.deepEqual(S.offsets, { magic: 0, a: 4, b: 8, c: 12, d: 20, e: 21 });
  });
  it('decode(encode(v)) = v, and byte fields are views of the input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.maxSafeNat(), fc.nat({ max: 255 }), fc.nat({ max: 0xffff }), (magic, a, b, c, d, e) => {
        const bytes = S.encode({ magic, a, b, c, d, e });
        const v = S.decode(bytes);
        assert.deepEqual({ ...v, magic: [...v.magic] }, { magic: [...magic], a, b, c, d, e });
        assert.equal(v.magic.buffer, bytes.buffer);
      }),
      { seed: 7 },
    );
  });
  it('a short buffer is FormatError TRUNCATED at the absolute offset', () => {
    assert.throws(() => S.decode(new Uint8Array(10), 0, 0x40), (e: unknown) => e instanceof FormatError && e.code === 'TRUNCATED' && e.offset === 0x40);
  });
});

describe('crc32', () => {
  it('node:zlib crc32 and the crc-32 fallback agree, also when continued', () => {
    assert.ok(crc32IsNative, 'Node 20.15+ has zlib.crc32');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(), (data, cut) => {
        const at = data.length ? cut % data.length : 0;
        assert.equal(crc32(data), crc32Js(data));
        assert.equal(crc32(data.subarray(at), crc32(data.subarray(0, at))), crc32Js(data));
      }),
      { seed: 3 },
    );
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
    // an empty chunk keeps a running CRC, also one whose buffer exists (node:zlib's crc32 gives 0 then)
    const empty = new Uint8Array(0);
    void empty.buffer;
    assert.equal(crc32(empty, 0xcbf43926), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(new ArrayBuffer(0)), 7), 7);
  });

  it('libdeflate\'s crc32 (the addon, for large inputs) agrees with node:zlib\'s and crc-32, also when continued and past 8 MiB', { skip: !crc32Addon() && !process.env.CI && 'the addon has no libdeflate here' }, () => {
    const f = crc32Addon()!;
    const z = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32!;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(), fc.nat(), (data, cut, start) => {
        const at = data.length ? cut % data.length : 0, v = start >>> 0;
        assert.equal(f(data, v), crc32Js(data, v));
        // node:zlib may give 0 for no bytes (an empty array with a buffer: zlib's crc32(crc, NULL, 0)); the others give the value
        if (data.length) assert.equal(f(data, v), z(data, v));
        assert.equal(f(data.subarray(at), f(data.subarray(0, at))), crc32Js(data));
      }),
      { seed: 4 },
    );
    assert.equal(f(new Uint8Array(0), 123), 123);
    // the dispatching crc32 over more than its switch-over point, in chunks: the same as node:zlib's
    const big = seeded(20 << 20, 9);
    let c = 0;
    for (let o = 0; o < big.length; o += 1 << 20) c = crc32(big.subarray(o, o + (1 << 20)), c);
    assert.equal(c, z(big));
    assert.equal(crc32(big), z(big));
    assert.throws(() => (f as unknown as (x: unknown) => number)('text'), TypeError);
  });
});

describe('crc32 of parts', () => {
  it('crc32Combine joins the CRCs of two parts into the CRC of both', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 3000 }), (a, b) => {
        assert.equal(crc32Combine(crc32(a), crc32(b), b.length), crc32Js(concat([a, b], a.length + b.length)));
      }),
      { seed: 5 },
    );
    // a part past 2^32 bits (512 MiB), where x^(8n) has an exponent wider than 32 bits: a, then
    // 600 MiB of zeros, joined at once, equals a joined with 599 MiB of zeros, then one more MiB summed
    const zeros = new Uint8Array(1 << 20);
    let z599 = 0;
    for (let i = 0; i < 599; i++) z599 = crc32(zeros, z599);
    const z600 = crc32(zeros, z599);
    const a = new TextEncoder().encode('123456789');
    assert.equal(crc32Combine(crc32(a), z600, 600 << 20), crc32(zeros, crc32Combine(crc32(a), z599, 599 << 20)));
    assert.equal(crc32Combine(crc32(a), crc32(new Uint8Array(0)), 0), crc32(a));
    assert.equal(crc32Combine(0, crc32(a), a.length), crc32(a));
  });

  it('crc32Range and crc32FileParts: the CRC of a file range summed on the thread pool, in parts, equals one pass; a range that ends early or a bad descriptor rejects', { skip: !crc32FileParts() && !process.env.CI && 'the addon has no libdeflate here' }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'imgkit-crc-'));
    t.after(() => rm(dir, { recursive: true }));
    const data = seeded((20 << 20) + 7, 11); // three parts where there are cores for them
    const src = join(dir, 'src');
    await writeFile(src, data);
    const ra = await fileAccess(src);
    t.after(() => ra.close?.());
    const parts = crc32FileParts()!;
    for (const [o, l] of [[0, data.length], [5, 20 << 20], [data.length - 1, 1], [3, 0], [1, (8 << 20) + 1], [2, 1000]] as const) {
      const want = crc32(data.subarray(o, o + l));
      assert.equal(await crc32Range(ra, o, l), want, `range ${o}+${l}`);
      assert.equal(await parts(ra.fd!, o, l, 'src'), want, `parts ${o}+${l}`);
    }
    assert.equal(await crc32Range(bytesAccess(data), 5, 20 << 20), crc32(data.subarray(5, 5 + (20 << 20))));
    await assert.rejects(parts(ra.fd!, 1, data.length, 'src'), (e: Error & { code?: string }) => e.code === 'EIO' && /src: file shrank/.test(e.message));
    await assert.rejects(parts(ra.fd!, 0, (24 << 20), 'src'), /file shrank/);
    await assert.rejects(parts(1 << 20, 0, 1 << 20, 'src'), { code: 'EBADF' });
    // with an output: the bytes are written where each part belongs
    const out = join(dir, 'out');
    const crc = await withOutputFile(out, async (sink) => {
      await sink.writev([Uint8Array.of(9, 9)]);
      const c = await sink.copyFromCrc!({ path: src, offset: 3 }, data.length - 3);
      await sink.writev([Uint8Array.of(8)]);
      return c;
    });
    assert.equal(crc, crc32(data.subarray(3)));
    assert.deepEqual(new Uint8Array(await readFile(out)), concat([Uint8Array.of(9, 9), data.subarray(3), Uint8Array.of(8)], data.length));
    await assert.rejects(withOutputFile(join(dir, 'short'), (sink) => sink.copyFromCrc!({ path: src, offset: 10 }, data.length)), /src: file shrank/);
    await assert.rejects(withOutputFile(join(dir, 'missing'), (sink) => sink.copyFromCrc!({ path: join(dir, 'nope'), offset: 0 }, 1)), { code: 'ENOENT' });
    assert.deepEqual((await readdir(dir)).sort(), ['out', 'src']);
  });
});

describe('copyPayloadCrc', () => {
  it('writes each payload and continues the CRC-32, through copyFromCrc or chunk by chunk', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'imgkit-copycrc-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const data = seeded(3 << 20, 7);
    const src = join(dir, 'src');
    await writeFile(src, data);
    const empty = join(dir, 'empty');
    await writeFile(empty, new Uint8Array(0));
    const parts = [Uint8Array.of(1, 2, 3), await filePayload(src), await filePayload(empty), rangePayload(bytesAccess(data), 5, 1000), new Uint8Array(0)];
    const all = concat([Uint8Array.of(1, 2, 3), data, data.subarray(5, 1005)], 3 + data.length + 1000);
    const run = async (sink: Parameters<typeof copyPayloadCrc>[0]) => {
      let crc = 0, written = 0;
      for (const p of parts) {
        const r = await copyPayloadCrc(sink, p, crc);
        crc = r.crc;
        written += r.written;
      }
      return { crc, written };
    };
    // a file sink: the file payload goes through copyFromCrc where the addon has it
    const out = join(dir, 'out');
    const viaFile = await withOutputFile(out, run);
    assert.deepEqual(viaFile, { crc: crc32(all), written: all.length });
    assert.deepEqual(new Uint8Array(await readFile(out)), all);
    // a memory sink has no copyFromCrc: every payload is summed on its way through
    const mem = memorySink();
    assert.deepEqual(await run(mem), { crc: crc32(all), written: all.length });
    assert.deepEqual(mem.bytes(), all);
  });
});

describe('sinks', () => {
  it('padTo pads with zeros from the sink position', async () => {
    const s = memorySink();
    await s.writev([Uint8Array.of(1, 2, 3)]);
    await padTo(s, 8);
    assert.deepEqual([...s.bytes()], [1, 2, 3, 0, 0, 0, 0, 0]);
  });
  it('an output file appears only when complete; a failed write leaves nothing behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'imgkit-sink-'));
    try {
      const path = join(dir, 'out.img');
      await assert.rejects(
        withOutputFile(path, async (sink) => {
          await sink.writev([new Uint8Array(100)]);
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.deepEqual(await readdir(dir), []);
      await withOutputFile(path, (sink) => sink.writev([Uint8Array.of(7, 8), new Uint8Array(0), Uint8Array.of(9)]));
      assert.deepEqual([...(await readFile(path))], [7, 8, 9]);
      assert.deepEqual(await readdir(dir), ['out.img']);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
  it('writevSync writes at the sink position before it returns, between asynchronous writes; a failed write throws and leaves nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'imgkit-sink-'));
    try {
      const path = join(dir, 'out.img');
      await withOutputFile(path, async (sink) => {
        assert.ok(sink.writevSync, 'a file sink writes synchronously');
        const first = sink.writev([Uint8Array.of(1, 2)]);
        sink.writevSync!([Uint8Array.of(3), new Uint8Array(0), Uint8Array.of(4, 5)]);
        assert.equal(sink.position, 5);
        // more buffers than one writev(2) takes
        sink.writevSync!(Array.from({ length: 1500 }, (_, i) => Uint8Array.of(i & 0xff)));
        await sink.writev([Uint8Array.of(9)]);
        await first;
      });
      const got = await readFile(path);
      assert.deepEqual([...got.subarray(0, 5)], [1, 2, 3, 4, 5]);
      assert.equal(got.length, 5 + 1500 + 1);
      assert.deepEqual([...got.subarray(5, 1505)], Array.from({ length: 1500 }, (_, i) => i & 0xff));
      assert.equal(got[1505], 9);
      assert.equal(memorySink().writevSync, undefined, 'a memory sink keeps the asynchronous form only');
      // a failed write (here: to a closed file) throws where it is called
      let thrown = false;
      await assert.rejects(
        withOutputFile(join(dir, 'closed'), async (sink) => {
          await sink.close();
          try {
            sink.writevSync!([new Uint8Array(1)]);
          } catch (e) {
            thrown = true;
            throw e;
          }
        }),
        /fd/,
      );
      assert.ok(thrown);
      assert.deepEqual(await readdir(dir), ['out.img']);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
  it('copyFrom puts a file range (named by path or descriptor) at the sink position; a range that ends early fails and leaves nothing', { skip: !nativeCodecs()?.copyRangeAsync && !process.env.CI && 'the native addon is not built here' }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'imgkit-sink-'));
    t.after(() => rm(dir, { recursive: true }));
    const data = Uint8Array.from({ length: (2 << 20) + 3 }, (_, i) => (i * 13) % 253);
    const src = join(dir, 'src');
    await writeFile(src, data);
    const path = join(dir, 'out');
    const ra = await fileAccess(src);
    t.after(() => ra.close?.());
    await withOutputFile(path, async (sink) => {
      assert.ok(sink.copyFrom, 'a file sink copies where the addon is built');
      const w = writeBehind(sink);
      await w.write([Uint8Array.of(1, 2, 3)]);
      w.copy({ path: src, offset: 5 }, 1000);
      await w.write([Uint8Array.of(4)]);
      w.copy({ fd: ra.fd!, offset: 0 }, data.length);
      assert.equal(sink.position, 3 + 1000 + 1 + data.length);
      await w.flush();
    });
    const got = new Uint8Array(await readFile(path));
    assert.deepEqual(got, concat([Uint8Array.of(1, 2, 3), data.subarray(5, 1005), Uint8Array.of(4), data], 3 + 1000 + 1 + data.length));
    await assert.rejects(withOutputFile(join(dir, 'short'), (sink) => sink.copyFrom!({ path: src, offset: data.length - 10 }, 11)), /file shrank/);
    await assert.rejects(withOutputFile(join(dir, 'missing'), (sink) => sink.copyFrom!({ path: join(dir, 'nope'), offset: 0 }, 1)), { code: 'ENOENT' });
    assert.deepEqual((await readdir(dir)).sort(), ['out', 'src']);
  });
  it('a named output that is a FIFO is written in place and in order; a named link to a file replaces the file and keeps the link', { timeout: 30_000 }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'imgkit-named-'));
    t.after(() => rm(dir, { recursive: true }));
    const fifo = join(dir, 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const reader = spawn('cat', [fifo]);
    const got: Buffer[] = [];
    reader.stdout.on('data', (b: Buffer) => got.push(b));
    const closed = new Promise((r) => reader.on('close', r));
    const chunks = Array.from({ length: 64 }, (_, i) => seeded(50_000 + i * 1000, 100 + i));
    await withOutputFile(fifo, async (sink) => {
      assert.equal(sink.inPlace, true);
      assert.equal(sink.writeAt, undefined, 'a FIFO cannot seek');
      assert.equal(sink.copyFrom, undefined);
      const w = writeBehind(sink, 8); // several writes in flight: they still land in order
      for (const c of chunks) await w.write([c]);
      await w.flush();
      assert.equal(sink.position, chunks.reduce((n, c) => n + c.length, 0));
    }, { named: true });
    await closed;
    assert.deepEqual(new Uint8Array(Buffer.concat(got)), concat(chunks, chunks.reduce((n, c) => n + c.length, 0)));
    assert.ok(lstatSync(fifo).isFIFO(), 'the FIFO is still a FIFO');

    const target = join(dir, 'target.bin'), link = join(dir, 'link');
    await writeFile(target, 'old');
    symlinkSync(target, link);
    await writeFileAtomic(link, Uint8Array.of(1, 2, 3), { named: true });
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link stays');
    assert.deepEqual([...(await readFile(target))], [1, 2, 3]);
    assert.deepEqual((await readdir(dir)).sort(), ['fifo', 'link', 'target.bin']);
  });

  it('an output that is not named (a file made in an output folder) replaces a planted link or FIFO instead of writing through it', { timeout: 30_000 }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'imgkit-unnamed-'));
    t.after(() => rm(dir, { recursive: true }));
    const outside = join(dir, 'outside.txt'), link = join(dir, 'link'), fifo = join(dir, 'fifo');
    await writeFile(outside, 'keep me');
    symlinkSync(outside, link);
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    await writeFileAtomic(link, Uint8Array.of(7));
    await writeFileAtomic(fifo, Uint8Array.of(8)); // opening the FIFO to write would wait for a reader forever
    assert.equal(await readFile(outside, 'utf8'), 'keep me');
    assert.ok(lstatSync(link).isFile() && lstatSync(fifo).isFile());
    assert.deepEqual([...(await readFile(link)), ...(await readFile(fifo))], [7, 8]);
  });

  it('handleSink writes more than IOV_MAX chunks in order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'imgkit-sink-'));
    try {
      const path = join(dir, 'many');
      const chunks = Array.from({ length: 3000 }, (_, i) => Uint8Array.of(i % 256, (i >> 8) % 256));
      await withOutputFile(path, (s) => s.writev(chunks));
      const got = await readFile(path);
      assert.equal(got.length, 6000);
      assert.equal(got[2 * 2999], 2999 % 256);
      void handleSink;
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

describe('payloads and random access', () => {
  it('rangePayload streams a range and refuses one past the end', async () => {
    const ra = bytesAccess(Uint8Array.from({ length: 100 }, (_, i) => i), 'test');
    assert.deepEqual([...(await payloadBytes(rangePayload(ra, 10, 5)))], [10, 11, 12, 13, 14]);
    assert.throws(() => rangePayload(ra, 90, 20, 'test'), (e: unknown) => e instanceof FormatError && e.code === 'TRUNCATED');
  });
  it('payloadHead reads only the head, from any kind of payload', async () => {
    const data = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
    const ra = bytesAccess(data, 'test');
    const chunked = { size: 300, chunks: async function* () { yield data.subarray(0, 7); yield data.subarray(7); } };
    for (const p of [data, rangePayload(ra, 0, 300), chunked]) {
      assert.deepEqual(await payloadHead(p, 10), data.subarray(0, 10));
      assert.deepEqual(await payloadHead(p, 1000), data);
    }
  });
  it('readAtSync returns what readAt does, for bytes and for files, and is TRUNCATED past the end', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'imgkit-ra-'));
    try {
      const data = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 13) % 251);
      await withOutputFile(join(dir, 'f'), (s) => s.writev([data]));
      const file = await fileAccess(join(dir, 'f'), 'test');
      try {
        for (const ra of [bytesAccess(data, 'test'), file]) {
          for (const [at, n] of [[0, 0], [0, 70_000], [65_530, 4_000], [69_999, 1]] as const) assert.deepEqual(ra.readAtSync!(at, n), await ra.readAt(at, n));
          assert.throws(() => ra.readAtSync!(69_000, 1_001), (e: unknown) => e instanceof FormatError && e.code === 'TRUNCATED');
          assert.throws(() => ra.readAtSync!(-1, 1), (e: unknown) => e instanceof FormatError && e.code === 'TRUNCATED');
        }
      } finally {
        await file.close!();
      }
    } finally {
      await rm(dir, { recursive: true });
    }
  });
  it('filePayload reads a file in chunks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'imgkit-payload-'));
    try {
      const data = Uint8Array.from({ length: (1 << 20) + 17 }, (_, i) => (i * 7) % 251);
      await withOutputFile(join(dir, 'f'), (s) => s.writev([data]));
      const p = await filePayload(join(dir, 'f'));
      assert.equal(p.size, data.length);
      assert.deepEqual(await payloadBytes(p), data);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
