/**
 * imgkit's native codecs (native/imgkit.c, built by scripts/build-native.mjs at install): the
 * system's zlib, libzstd, liblz4, liblzma and libdeflate. Required under CI, which installs their development
 * headers; elsewhere the suite skips when the addon was not built. Their output must decode with
 * our own decoders and the reference tools, match python3's zlib and lzma modules (the same system
 * libraries) byte for byte, and be the same from the synchronous and thread-pool forms.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { inflateSync } from 'node:zlib';
import { claimCompressSlots, compressSlotsClaimed, nativeCodecs, type LzmaDecoderHandle } from '../../src/codec/native.js';
import { decodeBlock } from '../../src/codec/lz4-block.js';
import { getCodec } from '../../src/codec/registry.js';
import { seeded } from '../squashfs/fixture.js';
import { has, tempDir } from '../helpers.js';
import { literalOnlyLzma } from './lzma-sdk.js';
import { closeSync, existsSync, lstatSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const n = nativeCodecs();
const skip = !n && !process.env.CI && 'the native codecs are not built here (no compiler or headers at install)';

/** Text-like input: compressible, with some noise. */
const sample = (len: number, seed: number) => seeded(len, seed).map((b, i) => (i % 7 ? 97 + (b % 8) : b));

describe('native codecs', { skip }, () => {
  it('all five are present (required under CI; elsewhere libdeflate may be missing)', () => {
    const want = ['libdeflate', 'lz4', 'xz', 'zlib', 'zstd'].filter((c) => process.env.CI || c !== 'libdeflate' || n!.codecs.libdeflate);
    assert.deepEqual(Object.keys(n!.codecs).sort(), want);
    assert.match(n!.codecs.zlib!, /^1\./);
  });

  it('deflate: zlib streams that inflate, equal to python3\'s zlib (the same library) and from either form', { skip: !has('python3') && 'python3 not installed' }, async () => {
    for (const [len, level, window, strategy] of [[0, 9, 15, 0], [1, 9, 15, 0], [131_072, 9, 15, 0], [70_000, 6, 12, 1], [8192, 9, 15, 2], [5000, 1, 15, 3], [5000, 9, 9, 4]] as const) {
      const input = sample(len, len + level);
      const out = n!.deflate!(input, level, window, 8, strategy);
      assert.deepEqual(await n!.deflateAsync!(input, level, window, 8, strategy), out);
      assert.ok(inflateSync(out).equals(Buffer.from(input)));
      const py = spawnSync('python3', ['-c', `import sys,zlib; c=zlib.compressobj(${level}, zlib.DEFLATED, ${window}, 8, ${strategy}); sys.stdout.buffer.write(c.compress(sys.stdin.buffer.read())+c.flush())`], { input });
      assert.equal(py.status, 0, String(py.stderr));
      assert.ok(Buffer.from(py.stdout).equals(Buffer.from(out)), `${len} bytes, level ${level}, window ${window}, strategy ${strategy}`);
    }
  });

  it('libdeflate: zlib streams that inflate, with the deflate data libdeflate-gzip writes at that level, from either form', { skip: !n?.libdeflate && !process.env.CI && 'built without libdeflate' }, async () => {
    for (const [len, level] of [[0, 9], [1, 9], [131_072, 9], [1_048_576, 9], [70_000, 1], [8192, 6], [5000, 12]] as const) {
      const input = sample(len, len + level);
      const out = n!.libdeflate!(input, level);
      assert.deepEqual(await n!.libdeflateAsync!(input, level), out);
      assert.ok(inflateSync(out).equals(Buffer.from(input)), `${len} bytes, level ${level}`);
      if (!has('libdeflate-gzip')) continue;
      // the same compressor behind another wrapper: zlib's 2-byte header and Adler-32, gzip's 10 and 8 bytes
      const gz = spawnSync('libdeflate-gzip', [`-${level}`, '-c'], { input });
      assert.equal(gz.status, 0, String(gz.stderr));
      assert.ok(Buffer.from(gz.stdout).subarray(10, -8).equals(Buffer.from(out).subarray(2, -4)), `${len} bytes, level ${level}`);
    }
  });

  it('lzmaAlone: xz --format=lzma\'s stream byte for byte (the same library), from either form', { skip: !has('xz') && 'xz not installed' }, async () => {
    for (const [len, preset, dict, lc, lp, pb] of [[0, 6, 8 << 20, 3, 0, 2], [1, 6, 1 << 20, 1, 2, 2], [300_000, 6, 1 << 20, 1, 2, 2], [70_000, 0, 1 << 16, 0, 0, 0], [5000, 9 | 0x100, 1 << 20, 4, 0, 4]] as const) {
      const input = sample(len, len + preset);
      const out = n!.lzmaAlone!(input, preset, dict, lc, lp, pb);
      assert.deepEqual(await n!.lzmaAloneAsync!(input, preset, dict, lc, lp, pb), out);
      const x = spawnSync('xz', ['--format=lzma', `--lzma1=preset=${preset & 0xff}${preset & 0x100 ? 'e' : ''},dict=${dict},lc=${lc},lp=${lp},pb=${pb}`, '-c'], { input, maxBuffer: 1 << 24 });
      assert.equal(x.status, 0, String(x.stderr));
      assert.ok(Buffer.from(x.stdout).equals(Buffer.from(out)), `${len} bytes, preset ${preset}`);
    }
  });

  it('zstd: frames our decoder and zstd -d read back, from either form', async () => {
    const zstd = await getCodec('zstd');
    for (const [len, level] of [[1, 15], [131_072, 15], [1_048_576, 15], [70_000, 3], [5000, 22]] as const) {
      const input = sample(len, len);
      const out = n!.zstd!(input, level);
      assert.deepEqual(await n!.zstdAsync!(input, level), out);
      assert.deepEqual(await zstd.decode(out), input);
      if (has('zstd')) assert.ok(Buffer.from(spawnSync('zstd', ['-dc'], { input: out }).stdout).equals(Buffer.from(input)));
    }
  });

  it('lz4: raw blocks our decoder reads back, fast and HC, from either form', async () => {
    for (const len of [1, 100, 131_072, 1_048_576]) {
      const input = sample(len, len);
      for (const hc of [0, 1]) {
        const out = n!.lz4!(input, hc);
        assert.deepEqual(await n!.lz4Async!(input, hc), out);
        const back = new Uint8Array(len);
        assert.equal(decodeBlock(out, 0, out.length, back, 0, len, 0, 'lz4', 0), len);
        assert.deepEqual(back, input);
      }
    }
  });

  it('xz: lzma_stream_buffer_encode streams equal to python3\'s lzma (the same library), xz -d reads them, either form', { skip: !has('python3') && 'python3 not installed' }, async () => {
    // preset (+256 extreme), dictionary, lc, lp, pb, BCJ filter id; python3's lzma module encodes
    // with lzma_stream_encoder, whose block header carries no sizes: compare the LZMA2 data
    const cases = [[0, 6, 4096, -1, -1, -1, 0], [131_072, 6, 131_072, -1, -1, -1, 0], [1_048_576, 6, 1_048_576, -1, -1, -1, 0],
      [70_000, 9 | 256, 65_536, 1, 2, 2, 0], [70_000, 3 | 256, 65_536, -1, -1, -1, 0], [70_000, 6, 65_536, -1, -1, -1, 0x04], [70_000, 6, 65_536, -1, -1, -1, 0x07]] as const;
    for (const [len, preset, dict, lc, lp, pb, bcj] of cases) {
      const input = sample(len, len + preset);
      const out = n!.xz!(input, preset, dict, lc, lp, pb, bcj);
      assert.deepEqual(await n!.xzAsync!(input, preset, dict, lc, lp, pb, bcj), out);
      if (has('xz')) assert.ok(Buffer.from(spawnSync('xz', ['-dc'], { input: out }).stdout).equals(Buffer.from(input)), `${len} bytes`);
      const lzma2 = [`'preset': ${preset & 0xff}${preset & 256 ? ' | lzma.PRESET_EXTREME' : ''}`, `'dict_size': ${dict}`, ...(lc >= 0 ? [`'lc': ${lc}, 'lp': ${lp}, 'pb': ${pb}`] : [])];
      const filters = `[${bcj ? `{'id': ${bcj}}, ` : ''}{'id': lzma.FILTER_LZMA2, ${lzma2.join(', ')}}]`;
      const py = spawnSync('python3', ['-c', `import sys,lzma; sys.stdout.buffer.write(lzma.compress(sys.stdin.buffer.read(), format=lzma.FORMAT_RAW, filters=${filters}))`], { input });
      assert.equal(py.status, 0, String(py.stderr));
      if (len > 0) assert.ok(Buffer.from(out).includes(Buffer.from(py.stdout)), `${len} bytes, preset ${preset}: the LZMA2 data of python3's lzma`);
    }
  });

  it('trimCaches frees kept contexts; later calls give the same bytes; mmapThreshold takes 0..32 MiB', async () => {
    const input = sample(1_048_576, 7);
    const a = n!.xz!(input, 6, 1_048_576, -1, -1, -1, 0), z = n!.zstd!(input, 15), d = n!.libdeflate?.(input, 9);
    n!.trimCaches!();
    assert.deepEqual(await n!.xzAsync!(input, 6, 1_048_576, -1, -1, -1, 0), a);
    assert.deepEqual(n!.zstd!(input, 15), z);
    if (d) assert.deepEqual(await n!.libdeflateAsync!(input, 9), d);
    assert.equal(typeof n!.mmapThreshold!(128 << 10), 'boolean');
    assert.throws(() => n!.mmapThreshold!(-1), RangeError);
    assert.throws(() => n!.mmapThreshold!(64 << 20), RangeError);
  });

  it('decodeAsync: every codec back to the input, into a file at a position, strict about the stream, write errors with errno', async (t) => {
    const dir = tempDir('imgkit-native-decode-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const input = sample(131_072, 3);
    const streams: [number, Uint8Array][] = [
      [1, n!.deflate!(input, 9, 15, 8, 0)], [2, n!.zstd!(input, 15)], [3, n!.lz4!(input, 0)], [4, n!.xz!(input, 6, 131_072, -1, -1, -1, 0x04)],
    ];
    const file = join(dir, 'out');
    writeFileSync(file, '');
    const fd = openSync(file, 'r+');
    t.after(() => closeSync(fd));
    for (const [codec, stream] of streams) {
      assert.ok(n!.decoders! & (1 << codec), `decoder ${codec}`);
      assert.deepEqual(new Uint8Array(await n!.decodeAsync!(stream, codec, input.length, -1, 0) as Uint8Array), input);
      assert.equal(await n!.decodeAsync!(stream, codec, input.length, fd, 1000 + codec), input.length);
      assert.deepEqual(new Uint8Array(readFileSync(file).subarray(1000 + codec, 1000 + codec + input.length)), input);
      // a view into a larger buffer decodes too
      const padded = new Uint8Array(stream.length + 8);
      padded.set(stream, 4);
      assert.deepEqual(new Uint8Array(await n!.decodeAsync!(padded.subarray(4, 4 + stream.length), codec, input.length, -1, 0) as Uint8Array), input);
      // too little room, a trailing byte (not lz4: a raw block has no end marker to check), a flipped byte
      await assert.rejects(n!.decodeAsync!(stream, codec, input.length - 1, -1, 0), /did not decode/);
      if (codec !== 3) await assert.rejects(n!.decodeAsync!(Buffer.concat([stream, Buffer.from([0])]), codec, input.length, -1, 0), /did not decode/);
      const bad = Uint8Array.from(stream);
      bad[bad.length >> 1]! ^= 0x55;
      await n!.decodeAsync!(bad, codec, input.length, -1, 0).then((out) => assert.notDeepEqual(new Uint8Array(out as Uint8Array), input), (e) => assert.match(String(e), /did not decode/));
      await assert.rejects(n!.decodeAsync!(new Uint8Array(0), codec, 100, -1, 0), /did not decode/);
    }
    const ro = openSync(file, 'r');
    t.after(() => closeSync(ro));
    await assert.rejects(n!.decodeAsync!(streams[0]![1], 1, input.length, ro, 0), (e: { errno?: number; syscall?: string }) => e.syscall === 'write' && e.errno === 9);
    const f = n as unknown as Record<string, (...a: unknown[]) => unknown>;
    assert.throws(() => f.decodeAsync!('x', 1, 10, -1, 0), TypeError);
    assert.throws(() => f.decodeAsync!(new Uint8Array(1), 9, 10, -1, 0), RangeError);
    assert.throws(() => f.decodeAsync!(new Uint8Array(1), 1, -1, -1, 0), RangeError);
    assert.throws(() => f.decodeAsync!(new Uint8Array(1), 1, 10, 3, -5), RangeError);
    assert.throws(() => f.decodeAsync!(new Uint8Array(1), 1, 10, 3, 0.5), RangeError);
  });

  it('decodeFileAsync: reads the block from a file on the pool thread, decodes as decodeAsync does; a short or failed read rejects as a block that does not decode', async (t) => {
    const dir = tempDir('imgkit-native-decode-file-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const input = sample(131_072, 5);
    const stream = n!.deflate!(input, 9, 15, 8, 0);
    const image = join(dir, 'image'), out = join(dir, 'out');
    writeFileSync(image, Buffer.concat([Buffer.alloc(777, 1), stream, Buffer.alloc(9, 2)]));
    writeFileSync(out, '');
    const inFd = openSync(image, 'r'), outFd = openSync(out, 'r+');
    t.after(() => [inFd, outFd].forEach((fd) => closeSync(fd)));
    assert.deepEqual(new Uint8Array(await n!.decodeFileAsync!(inFd, 777, stream.length, 1, input.length, -1, 0) as Uint8Array), input);
    assert.equal(await n!.decodeFileAsync!(inFd, 777, stream.length, 1, input.length, outFd, 4096), input.length);
    assert.deepEqual(new Uint8Array(readFileSync(out).subarray(4096)), input);
    // one byte more (trailing data), one less, past the end of the file, a descriptor that cannot read
    await assert.rejects(n!.decodeFileAsync!(inFd, 777, stream.length + 1, 1, input.length, -1, 0), /did not decode/);
    await assert.rejects(n!.decodeFileAsync!(inFd, 777, stream.length - 1, 1, input.length, -1, 0), /did not decode/);
    await assert.rejects(n!.decodeFileAsync!(inFd, 777 + 9, stream.length + 1, 1, input.length, -1, 0), /did not decode/);
    const wo = openSync(join(dir, 'wo'), 'w');
    t.after(() => closeSync(wo));
    await assert.rejects(n!.decodeFileAsync!(wo, 0, 10, 1, input.length, -1, 0), /did not decode/);
    await assert.rejects(n!.decodeFileAsync!(inFd, 777, stream.length, 1, input.length, inFd, 0), (e: { errno?: number; syscall?: string }) => e.syscall === 'write' && e.errno === 9);
    const f = n as unknown as Record<string, (...a: unknown[]) => unknown>;
    assert.throws(() => f.decodeFileAsync!(-1, 0, 10, 1, 10, -1, 0), RangeError);
    assert.throws(() => f.decodeFileAsync!(inFd, -1, 10, 1, 10, -1, 0), RangeError);
    assert.throws(() => f.decodeFileAsync!(inFd, 0, 10, 9, 10, -1, 0), RangeError);
    assert.throws(() => f.decodeFileAsync!(inFd, 0, 10, 1, 10), TypeError);
  });

  it('makeEntriesAsync: files and symlinks with data, owner, mode and times; a failed entry says which call, and a file that failed after its open is gone', async (t) => {
    const dir = tempDir('imgkit-native-make-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const root = process.getuid?.() === 0;
    type E = { symlink?: boolean; path: string; data: Uint8Array | string; mode?: number; owner?: [number, number]; mtime?: number };
    const pack = (es: E[]): Buffer =>
      Buffer.concat(
        es.flatMap((e) => {
          const path = Buffer.from(e.path + '\0'), data = Buffer.from(e.data);
          const h = Buffer.alloc(32);
          h[0] = e.symlink ? 1 : 0;
          h[1] = e.owner ? 1 : 0;
          h.writeUInt32LE(e.mode ?? 0o644, 4);
          h.writeUInt32LE(e.owner?.[0] ?? 0, 8);
          h.writeUInt32LE(e.owner?.[1] ?? 0, 12);
          h.writeDoubleLE(e.mtime ?? 0, 16);
          h.writeUInt32LE(path.length, 24);
          h.writeUInt32LE(data.length, 28);
          return [h, path, data];
        }),
      );
    const big = sample(3 << 20, 9);
    const es: E[] = [
      { path: join(dir, 'a'), data: 'hello', mode: 0o4750, mtime: 1_700_000_000, ...(root ? { owner: [1234, 5678] as [number, number] } : {}) },
      { path: join(dir, 'empty'), data: '', mode: 0o600, mtime: 4_294_967_295 },
      { path: join(dir, 'big'), data: big, mode: 0o755, mtime: 86_400 },
      { symlink: true, path: join(dir, 'l'), data: 'a', mtime: 1_000_000, ...(root ? { owner: [42, 43] as [number, number] } : {}) },
      { path: join(dir, 'a'), data: 'again' }, // in the way: EEXIST from open
      { symlink: true, path: join(dir, 'l'), data: 'x' }, // EEXIST from symlink
      { path: join(dir, 'no', 'such'), data: 'x' }, // ENOENT from open
      { path: join(dir, 'l'), data: 'x' }, // a symlink is not followed: EEXIST
    ];
    const res = await n!.makeEntriesAsync!(pack(es), es.length);
    const EEXIST = 17, ENOENT = 2;
    assert.deepEqual([...res], [0, 0, 0, 0, 0, 0, 0, 0, EEXIST, 1, EEXIST, 7, ENOENT, 1, EEXIST, 1]);
    const st = statSync(join(dir, 'a'));
    assert.equal(readFileSync(join(dir, 'a'), 'utf8'), 'hello');
    assert.equal(st.mode & 0o7777, 0o4750);
    assert.equal(st.mtimeMs, 1_700_000_000_000);
    assert.equal(st.atimeMs, 1_700_000_000_000);
    if (root) assert.deepEqual([st.uid, st.gid], [1234, 5678]);
    assert.equal(statSync(join(dir, 'empty')).size, 0);
    assert.equal(statSync(join(dir, 'empty')).mtimeMs, 4_294_967_295_000);
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'big'))), big);
    assert.equal(statSync(join(dir, 'big')).mode & 0o7777, 0o755);
    const l = lstatSync(join(dir, 'l'));
    assert.equal(readlinkSync(join(dir, 'l')), 'a');
    assert.equal(l.mtimeMs, 1_000_000_000);
    if (root) assert.deepEqual([l.uid, l.gid], [42, 43]);
    // a failure after the open: a write past RLIMIT_FSIZE, in a child with a 64 KiB limit, is EFBIG
    // from write (2), and the part-written file is gone
    const addon = fileURLToPath(new URL('../../native/build/Release/imgkit_native.node', import.meta.url));
    const script = `process.on('SIGXFSZ', () => {}); require(${JSON.stringify(addon)}).makeEntriesAsync(require('fs').readFileSync(0), 1).then((r) => console.log(JSON.stringify([...r])));`;
    const ops = pack([{ path: join(dir, 'limited'), data: big }]);
    const child = spawnSync('sh', ['-c', 'ulimit -f 64; exec "$0" -e "$1"', process.execPath, script], { input: ops, encoding: 'utf8' });
    assert.equal(child.stdout.trim(), '[27,2]', child.stderr);
    assert.equal(existsSync(join(dir, 'limited')), false);
    const f = n as unknown as Record<string, (...a: unknown[]) => unknown>;
    const one = pack([{ path: join(dir, 'b'), data: 'x' }]);
    assert.throws(() => f.makeEntriesAsync!(one, 2), RangeError); // fewer entries than said
    assert.throws(() => f.makeEntriesAsync!(Buffer.concat([one, Buffer.from([0])]), 1), RangeError); // a byte left over
    assert.throws(() => f.makeEntriesAsync!(pack([{ path: 'x\0y', data: 'x' }]), 1), RangeError); // a NUL inside the path
    assert.throws(() => f.makeEntriesAsync!(pack([{ symlink: true, path: join(dir, 's'), data: '' }]), 1), RangeError); // an empty target
    assert.throws(() => f.makeEntriesAsync!(pack([{ path: join(dir, 's'), data: 'x', mtime: -1 }]), 1), RangeError);
    assert.throws(() => f.makeEntriesAsync!(one, 0), RangeError);
    assert.throws(() => f.makeEntriesAsync!('x', 1), TypeError);
    assert.equal(existsSync(join(dir, 'b')), false);
  });

  it('decodeAsync zlib (libdeflate, or zlib with IMGKIT_LIBDEFLATE=0) accepts exactly what node:zlib accepts as one whole stream, with the same bytes', async () => {
    // node:zlib's verdict on one strict zlib stream: all input used, the output within max
    const js = (b: Uint8Array, max: number): string => {
      try {
        const out = inflateSync(b, { maxOutputLength: Math.max(max, 1), info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
        return out.engine.bytesWritten === b.length && out.buffer.length <= max ? out.buffer.toString('hex') : 'refused';
      } catch {
        return 'refused';
      }
    };
    const native = (b: Uint8Array, max: number): Promise<string> =>
      n!.decodeAsync!(b, 1, max, -1, 0).then((o) => Buffer.from(o as Uint8Array).toString('hex'), () => 'refused');
    const plain = sample(3000, 22);
    const streams = [n!.deflate!(plain, 9, 15, 8, 0), n!.deflate!(plain, 1, 12, 8, 0), n!.deflate!(plain, 9, 15, 8, 2), ...(n!.libdeflate ? [n!.libdeflate(plain, 12)] : [])];
    for (const base of streams) assert.equal(await native(base, 3000), Buffer.from(plain).toString('hex'));
    assert.equal(await native(Buffer.concat([streams[0]!, Buffer.from([0])]), 3000), 'refused'); // a trailing byte
    assert.equal(await native(streams[0]!, 2999), 'refused'); // output past max
    await fc.assert(
      fc.asyncProperty(
        fc.nat(streams.length - 1), fc.array(fc.tuple(fc.nat(4000), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(4000), fc.constantFrom(2999, 3000, 4096),
        async (which, flips, cut, max) => {
          const b = Uint8Array.from(streams[which]!);
          for (const [at, v] of flips) b[at % b.length] = v;
          const block = b.subarray(0, Math.max(cut % (b.length + 1), 1));
          assert.equal(await native(block, max), js(block, max));
        },
      ),
      { seed: 20261121, numRuns: 3000 },
    );
    // the same property through zlib's inflate, in a process without libdeflate
    if (n!.libdeflate) {
      const { NODE_TEST_CONTEXT: _, ...env } = process.env; // a run of its own, not a child reporting to this one
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter', 'tap', '--test-name-pattern', 'decodeAsync zlib', fileURLToPath(import.meta.url)], {
        env: { ...env, IMGKIT_LIBDEFLATE: '0' }, encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stdout.slice(-2000));
      assert.match(r.stdout, /# pass 1\b/);
    }
  });

  it('decodeAsync lz4 accepts exactly what the JavaScript decoder accepts, with the same bytes (offset 0 refused)', async () => {
    const js = (b: Uint8Array, max: number): string => {
      const d = new Uint8Array(max);
      try {
        const end = decodeBlock(b, 0, b.length, d, 0, max, 0, 'lz4', 0);
        return end < 0 ? 'refused' : Buffer.from(d.subarray(0, end)).toString('hex');
      } catch {
        return 'refused';
      }
    };
    const native = (b: Uint8Array, max: number): Promise<string> =>
      n!.decodeAsync!(b, 3, max, -1, 0).then((o) => Buffer.from(o as Uint8Array).toString('hex'), () => 'refused');
    // a match at offset 0 would copy bytes not yet written (liblz4's LZ4_decompress_safe takes it)
    const zeroOffset = Uint8Array.from([0x10, 0x41, 0x00, 0x00, 0x50, 66, 67, 68, 69, 70]);
    assert.equal(await native(zeroOffset, 64), 'refused');
    assert.equal(js(zeroOffset, 64), 'refused');
    const base = n!.lz4!(sample(3000, 21), 0);
    assert.equal(await native(base, 3000), Buffer.from(sample(3000, 21)).toString('hex'));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(base.length), fc.constantFrom(2999, 3000, 4096),
        async (flips, cut, max) => {
          const b = Uint8Array.from(base);
          for (const [at, v] of flips) b[at] = v;
          const block = b.subarray(0, Math.max(cut, 1));
          assert.equal(await native(block, max), js(block, max));
        },
      ),
      { seed: 20261121, numRuns: 3000 },
    );
  });

  it('copyRangeAsync: ranges at offsets, across file systems and by pread/pwrite, short inputs, errors with errno', async (t) => {
    const dir = tempDir('imgkit-native-copy-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const data = seeded(3 << 20, 11);
    const src = join(dir, 'src');
    writeFileSync(src, data);
    const dst = join(dir, 'dst');
    writeFileSync(dst, Buffer.alloc(100, 0xee));
    const fi = openSync(src, 'r');
    const fo = openSync(dst, 'r+');
    t.after(() => (closeSync(fi), closeSync(fo)));
    // a range from the middle lands at an offset past the end, the bytes before it untouched
    assert.equal(await n!.copyRangeAsync!(fi, 12345, fo, 50, 2_000_000), 2_000_000);
    const got = readFileSync(dst);
    assert.equal(got.length, 2_000_050);
    assert.ok(got.subarray(0, 50).every((b) => b === 0xee));
    assert.deepEqual(new Uint8Array(got.subarray(50)), data.subarray(12345, 12345 + 2_000_000));
    // the input ending early: the count says how much was there
    assert.equal(await n!.copyRangeAsync!(fi, data.length - 10, fo, 0, 1000), 10);
    assert.equal(await n!.copyRangeAsync!(fi, 0, fo, 0, 0), 0);
    // another file system (tmpfs) answers EXDEV: the bytes still arrive, by pread/pwrite
    const shm = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/imgkit-') : undefined;
    if (shm) {
      t.after(() => rmSync(shm, { recursive: true, force: true }));
      const other = openSync(join(shm, 'x'), 'w+');
      t.after(() => closeSync(other));
      assert.equal(await n!.copyRangeAsync!(fi, 7, other, 3, data.length - 7), data.length - 7);
      assert.deepEqual(new Uint8Array(readFileSync(join(shm, 'x')).subarray(3)), data.subarray(7));
    }
    // errors: a write-only input, a read-only output
    const ro = openSync(dst, 'r');
    const wo = openSync(join(dir, 'wo'), 'w');
    t.after(() => (closeSync(ro), closeSync(wo)));
    await assert.rejects(n!.copyRangeAsync!(fi, 0, ro, 0, 100), (e: { errno?: number; syscall?: string }) => e.errno === 9 && e.syscall === 'write');
    await assert.rejects(n!.copyRangeAsync!(wo, 0, fo, 0, 100), (e: { errno?: number; syscall?: string }) => e.errno === 9 && e.syscall === 'read');
    const f = n as unknown as Record<string, (...a: unknown[]) => unknown>;
    assert.throws(() => f.copyRangeAsync!('x', 0, fo, 0, 1), TypeError);
    assert.throws(() => f.copyRangeAsync!(fi, -1, fo, 0, 1), RangeError);
    assert.throws(() => f.copyRangeAsync!(fi, 0, fo, 0.5, 1), RangeError);
    assert.throws(() => f.copyRangeAsync!(-1, 0, fo, 0, 1), RangeError);
    assert.throws(() => f.copyRangeAsync!(fi, 2 ** 53, fo, 0, 1), RangeError);
  });

  it('lzmaDecoder: output in pieces of at most 1 MiB, input taken as needed up to the end of the stream, from either form', async () => {
    assert.equal(n!.lzmaDecoders! & 3, 3, 'xz and .lzma');
    const data = sample(3_500_000, 31);
    const run = n!.lzmaDecoderRun!;
    /** Runs a decoder over `input` (not finishing: it must end by itself); its pieces and where it stopped. */
    const decode = async (h: LzmaDecoderHandle, input: Uint8Array, sync = false) => {
      const pieces: Uint8Array[] = [];
      let at = 0;
      for (let r; ; ) {
        r = sync ? run(h, input.subarray(at), false) : await n!.lzmaDecoderRunAsync!(h, input.subarray(at), false);
        assert.equal(r.error, undefined);
        assert.ok(r.out.length <= 2 ** 20, `a piece of ${r.out.length} bytes`);
        pieces.push(r.out);
        at += r.used;
        assert.equal(r.totalIn, at);
        if (r.end) return { pieces, at };
      }
    };
    const junk = Buffer.from('JUNK');
    const xz = n!.xz!(data, 6, 1 << 22, -1, -1, -1, 0);
    const alone = n!.lzmaAlone!(data, 1, 1 << 20, 3, 0, 2);
    for (const [kind, stream] of [[0, xz], [1, alone]] as const) {
      for (const sync of [false, true]) {
        const h = n!.lzmaDecoder!(kind, 2 ** 28, 0);
        const { pieces, at } = await decode(h, Buffer.concat([stream, junk]), sync);
        assert.equal(at, stream.length, 'stops at the end of the stream');
        assert.ok(Buffer.concat(pieces).equals(Buffer.from(data)));
        assert.ok(pieces.length >= 4);
        assert.throws(() => run(h, junk, true), /has ended/); // its memory is gone
        n!.lzmaDecoderEnd!(h);
      }
    }
    // kind 2: the LZMA1 data after a header that states the size, with no end marker after it
    if (n!.lzmaDecoders! & 4) {
      const small = sample(5000, 32);
      const sdk = literalOnlyLzma(small);
      const h = n!.lzmaDecoder!(2, 2 ** 28, 0, sdk.subarray(0, 13));
      const { pieces, at } = await decode(h, Buffer.concat([sdk.subarray(13), junk]));
      assert.equal(at, sdk.length - 13);
      assert.ok(Buffer.concat(pieces).equals(Buffer.from(small)));
      // an end marker after the stated size is corrupt data to it (to liblzma 5.4's alone decoder it is not)
      const marked = n!.lzmaAlone!(small, 1, 1 << 16, 3, 0, 2);
      const head = Uint8Array.from(marked.subarray(0, 13));
      new DataView(head.buffer).setBigUint64(5, BigInt(small.length), true);
      const r = run(n!.lzmaDecoder!(2, 2 ** 28, 0, head), marked.subarray(13), true);
      assert.equal(r.error?.name, 'LZMA_DATA_ERROR');
    }
  });

  it('lzmaDecoder: liblzma\'s errors by lzma_ret name, after the output before them; bad calls throw', async () => {
    const data = sample(100_000, 33);
    const xz = n!.xz!(data, 1, 1 << 16, -1, -1, -1, 0);
    const fresh = () => n!.lzmaDecoder!(0, 2 ** 28, 0);
    const bad = Uint8Array.from(xz);
    bad[xz.length - 30]! ^= 0xff; // the index
    let r = n!.lzmaDecoderRun!(fresh(), bad, true);
    assert.deepEqual([r.error?.name, r.error?.message, r.out.length], ['LZMA_DATA_ERROR', 'Data is corrupt', data.length]);
    r = await n!.lzmaDecoderRunAsync!(fresh(), xz.subarray(0, 200), true);
    assert.deepEqual([r.error?.name, r.totalIn], ['LZMA_BUF_ERROR', 200]);
    assert.equal(n!.lzmaDecoderRun!(fresh(), Buffer.from('not xz at all'), true).error?.name, 'LZMA_FORMAT_ERROR');
    assert.equal(n!.lzmaDecoderRun!(n!.lzmaDecoder!(0, 4096, 0), xz, true).error?.name, 'LZMA_MEMLIMIT_ERROR');
    const huge = n!.lzmaAlone!(data, 1, 1 << 20, 3, 0, 2);
    assert.equal(n!.lzmaDecoderRun!(n!.lzmaDecoder!(1, 1 << 16, 0), huge, true).error?.name, 'LZMA_MEMLIMIT_ERROR');
    // one run at a time; ending a decoder while it runs frees it when the run is done
    const h = fresh();
    const pending = n!.lzmaDecoderRunAsync!(h, xz, true);
    assert.throws(() => n!.lzmaDecoderRun!(h, xz, true), /already running/);
    n!.lzmaDecoderEnd!(h);
    assert.equal((await pending).out.length, data.length);
    assert.throws(() => n!.lzmaDecoderRun!(h, xz, true), /has ended/);
    n!.lzmaDecoderEnd!(h);
    const f = n as unknown as Record<string, (...a: unknown[]) => unknown>;
    assert.throws(() => f.lzmaDecoder!(4, 2 ** 28, 0), RangeError);
    assert.throws(() => f.lzmaDecoder!(0, -1, 0), RangeError);
    assert.throws(() => f.lzmaDecoder!('xz', 2 ** 28, 0), TypeError);
    assert.throws(() => f.lzmaDecoder!(2, 2 ** 28, 0, new Uint8Array(5)), TypeError);
    assert.throws(() => f.lzmaDecoderRun!({}, xz, true), TypeError);
    assert.throws(() => f.lzmaDecoderRun!(fresh(), 'text', true), TypeError);
    assert.throws(() => f.lzmaDecoderRun!(fresh(), xz), TypeError);
    assert.throws(() => f.lzmaDecoderEnd!(xz), TypeError);
  });

  it('lzmaDecoder kind 3: zstd frames one after another, in pieces of at most 1 MiB; libzstd errors by code; the window limit', { skip: !((n?.lzmaDecoders ?? 0) & 8) && 'no streaming zstd decoder here' }, async () => {
    const zstd = await getCodec('zstd');
    const [a, b] = [seeded(3 * 2 ** 20 + 17, 61), seeded(5000, 62)];
    const frames = [await zstd.encode!(a, { level: 1 }), await zstd.encode!(b, { level: 19 })];
    const input = new Uint8Array([...frames[0]!, ...Uint8Array.of(0x50, 0x2a, 0x4d, 0x18, 1, 0, 0, 0, 7), ...frames[1]!]);
    const run = (h: LzmaDecoderHandle, bytes: Uint8Array) => {
      const out: Uint8Array[] = [];
      let at = 0;
      for (;;) {
        const r = n!.lzmaDecoderRun!(h, bytes.subarray(at), true);
        assert.ok(r.out.length <= 2 ** 20);
        out.push(r.out);
        at += r.used;
        if (r.error || r.end) return { out: Buffer.concat(out), at, error: r.error as (Error & { code?: number }) | undefined, frameStart: r.frameStart };
      }
    };
    const whole = run(n!.lzmaDecoder!(3, 0, 0), input);
    assert.equal(whole.error, undefined);
    assert.ok(whole.out.equals(Buffer.concat([a, b])));
    assert.equal(whole.at, input.length);
    // cut inside the second frame: srcSize_wrong (72), the second frame's start given
    const cut = run(n!.lzmaDecoder!(3, 0, 0), input.subarray(0, input.length - 3));
    assert.deepEqual([cut.error?.name, cut.error?.code, cut.frameStart], ['ZSTD_error', 72, frames[0]!.length + 9]);
    // bytes after the last frame that are not a frame: prefix_unknown (10)
    const junk = run(n!.lzmaDecoder!(3, 0, 0), new Uint8Array([...frames[1]!, 1, 2, 3, 4, 5]));
    assert.deepEqual([junk.error?.code, junk.frameStart, junk.out.length], [10, frames[1]!.length, b.length]);
    // no input at all is cut short too
    assert.equal(run(n!.lzmaDecoder!(3, 0, 0), new Uint8Array(0)).error?.code, 72);
    // a 256 MiB window (zstd --long=28 from a pipe declares it): refused under 2^27, taken under 2^28
    if (has('zstd')) {
      const long = new Uint8Array(spawnSync('zstd', ['-q', '-c', '--long=28'], { input: b }).stdout);
      assert.equal(run(n!.lzmaDecoder!(3, 0, 0), long).error?.code, 16); // frameParameter_windowTooLarge
      assert.ok(run(n!.lzmaDecoder!(3, 0, 28), long).out.equals(b));
    }
    // a window limit libzstd does not take: parameter_outOfBound (42) from the first run
    assert.equal(run(n!.lzmaDecoder!(3, 0, 99), frames[1]!).error?.code, 42);
  });

  it('many thread-pool jobs at once give the synchronous bytes', async () => {
    const inputs = Array.from({ length: 16 }, (_, i) => sample(50_000 + i * 1000, i));
    const outs = await Promise.all(inputs.map((b) => n!.zstdAsync!(b, 15)));
    outs.forEach((o, i) => assert.deepEqual(o, n!.zstd!(inputs[i]!, 15)));
  });

  it('into: a result that fits goes into the caller\'s buffer and comes back as a view of it; one that does not is a new buffer; the bytes are the same either way', async () => {
    const b = sample(100_000, 7);
    const run = async () => {
      const cases: [string, (into?: Uint8Array) => Promise<Uint8Array>, Uint8Array][] = [
        ['zstd', (into) => n!.zstdAsync!(b, 15, into), n!.zstd!(b, 15)],
        ['deflate', (into) => n!.deflateAsync!(b, 9, 15, 8, 0, undefined, into), n!.deflate!(b, 9, 15, 8, 0)],
        ['zlib', (into) => n!.deflateAsync!(b, 6, 15, 8, 0, 1, into), n!.deflate!(b, 6, 15, 8, 0, 1)],
        ['lz4', (into) => n!.lz4Async!(b, 1, into), n!.lz4!(b, 1)],
        ['xz', (into) => n!.xzAsync!(b, 1, 1 << 16, -1, -1, -1, 0, into), n!.xz!(b, 1, 1 << 16, -1, -1, -1, 0)],
        ...(n!.libdeflateAsync ? [['libdeflate', (into?: Uint8Array) => n!.libdeflateAsync!(b, 6, into), n!.libdeflate!(b, 6)] as [string, (into?: Uint8Array) => Promise<Uint8Array>, Uint8Array]] : []),
      ];
      for (const [name, f, want] of cases) {
        const into = new Uint8Array(new ArrayBuffer(want.length + 20), 10, want.length + 5);
        into.fill(0xee);
        const got = await f(into);
        assert.deepEqual(Buffer.from(got.buffer, got.byteOffset, got.length), want, name);
        assert.equal(got.buffer, into.buffer, `${name}: a view of the buffer given`);
        assert.equal(got.byteOffset, 10, name);
        assert.equal(into[want.length], 0xee, `${name}: nothing written past the result`);
        const small = new Uint8Array(want.length - 1).fill(0xee);
        const other = await f(small);
        assert.deepEqual(Buffer.from(other.buffer, other.byteOffset, other.length), want, `${name}: too small a buffer`);
        assert.notEqual(other.buffer, small.buffer);
        assert.ok(small.every((x) => x === 0xee), `${name}: a buffer too small is left alone`);
      }
      await assert.rejects(async () => n!.zstdAsync!(b, 15, [1, 2] as unknown as Uint8Array), TypeError);
    };
    await run();
    const release = claimCompressSlots(2);
    assert.ok(release);
    try {
      await run(); // on the addon's workers
    } finally {
      release();
    }
  });

  it('compressSlots: no more compressions run at once than claimed; claims add up and each releases once', async () => {
    const inputs = Array.from({ length: 8 }, (_, i) => sample(100_000, i));
    const all = () => Promise.all(inputs.flatMap((b) => [n!.zstdAsync!(b, 15), n!.deflateAsync!(b, 9, 15, 8, 0), n!.xzAsync!(b, 6, 1 << 20, -1, -1, -1, 0)]));
    const check = (outs: Uint8Array[]) =>
      inputs.forEach((b, i) => {
        assert.deepEqual(outs[3 * i], n!.zstd!(b, 15));
        assert.deepEqual(outs[3 * i + 1], n!.deflate!(b, 9, 15, 8, 0));
        assert.deepEqual(outs[3 * i + 2], n!.xz!(b, 6, 1 << 20, -1, -1, -1, 0));
      });
    assert.equal(compressSlotsClaimed(), 0);
    n!.compressSlots!(); // the peak so far, reset
    const one = claimCompressSlots(1);
    assert.ok(one);
    check(await all());
    assert.equal(n!.compressSlots!(), 1);
    const two = claimCompressSlots(2);
    assert.ok(two);
    assert.equal(compressSlotsClaimed(), 3);
    check(await all());
    assert.ok(n!.compressSlots!() <= 3);
    one();
    one();
    assert.equal(compressSlotsClaimed(), 2);
    two();
    assert.equal(compressSlotsClaimed(), 0);
    check(await all()); // no limit: nothing waits
    assert.equal(claimCompressSlots(0), false);
    assert.throws(() => n!.compressSlots!(-1), RangeError);
  });

  it('compressFirst: calls made while it is on go ahead of those waiting for the workers, with the same bytes', async () => {
    const release = claimCompressSlots(1);
    assert.ok(release);
    try {
      const order: string[] = [];
      const big = Array.from({ length: 6 }, (_, i) => sample(200_000, 40 + i));
      const small = sample(8192, 50);
      // one worker: the first big block runs, the other five wait; the small one, queued first, overtakes them
      const waiting = big.map((b, i) => n!.zstdAsync!(b, 19).then((o) => (order.push(`big${i}`), o)));
      n!.compressFirst!(true);
      let ahead: Promise<Uint8Array>;
      try {
        ahead = n!.zstdAsync!(small, 15).then((o) => (order.push('small'), o));
      } finally {
        n!.compressFirst!(false);
      }
      const after = n!.zstdAsync!(small, 15).then((o) => (order.push('after'), o));
      const outs = await Promise.all([...waiting, ahead, after]);
      assert.ok(order.indexOf('small') <= 1, order.join(' '));
      assert.equal(order[order.length - 1], 'after', 'jobs queued with it off go to the back');
      big.forEach((b, i) => assert.deepEqual(outs[i], n!.zstd!(b, 19)));
      assert.deepEqual(outs[6], n!.zstd!(small, 15));
      assert.deepEqual(outs[7], n!.zstd!(small, 15));
    } finally {
      release();
    }
    assert.throws(() => n!.compressFirst!(1 as unknown as boolean), TypeError);
  });

  it('compressSlots: calls made while slots are claimed run on the addon\'s workers: every codec, errors, a release before they end', async () => {
    const inputs = Array.from({ length: 12 }, (_, i) => sample(40_000 + 1000 * i, 50 + i));
    const release = claimCompressSlots(2);
    assert.ok(release);
    try {
      n!.compressSlots!();
      const jobs = inputs.flatMap((b, i) => [
        n!.zstdAsync!(b, 3 + (i % 3)), n!.deflateAsync!(b, 6, 15, 8, 0), n!.lz4Async!(b, i % 2), n!.xzAsync!(b, 1, 1 << 16, -1, -1, -1, 0),
        ...(n!.libdeflateAsync ? [n!.libdeflateAsync(b, 6)] : []),
      ]);
      // an error on a worker rejects its own promise only
      const bad = assert.rejects(n!.xzAsync!(inputs[0]!, 12, 1 << 16, -1, -1, -1, 0), (e: Error) => e instanceof RangeError && /bad lzma preset/.test(e.message));
      const outs = await Promise.all(jobs);
      await bad;
      const per = n!.libdeflateAsync ? 5 : 4;
      inputs.forEach((b, i) => {
        assert.deepEqual(outs[per * i], n!.zstd!(b, 3 + (i % 3)));
        assert.deepEqual(outs[per * i + 1], n!.deflate!(b, 6, 15, 8, 0));
        assert.deepEqual(outs[per * i + 2], n!.lz4!(b, i % 2));
        assert.deepEqual(outs[per * i + 3], n!.xz!(b, 1, 1 << 16, -1, -1, -1, 0));
        if (n!.libdeflate) assert.deepEqual(outs[per * i + 4], n!.libdeflate(b, 6));
      });
      // never more than the two slots; both in use at once, though a loaded machine may leave the
      // second worker unscheduled through a whole batch: more batches until it shows
      let peak = n!.compressSlots!();
      for (let round = 0; peak < 2 && round < 20; round++) {
        assert.ok(peak <= 2, `peak ${peak}`);
        await Promise.all(inputs.map((b) => n!.zstdAsync!(b, 15)));
        peak = Math.max(peak, n!.compressSlots!());
      }
      assert.equal(peak, 2);
      // queued calls still run when the slots are released before they start
      const late = inputs.map((b) => n!.zstdAsync!(b, 9));
      release();
      (await Promise.all(late)).forEach((out, i) => assert.deepEqual(out, n!.zstd!(inputs[i]!, 9)));
    } finally {
      release();
    }
  });

  it('compressSlots: a pending worker call keeps the process alive until it settles, and then lets it exit; a worker_thread ended with calls out does no harm', () => {
    const addon = fileURLToPath(new URL('../../native/build/Release/imgkit_native.node', import.meta.url));
    const script = `
      const { Worker } = require('node:worker_threads');
      const n = require(${JSON.stringify(addon)});
      n.compressSlots(1);
      const input = Buffer.alloc(3 << 20, 'imgkit ');
      // nothing but the pending calls keeps the event loop going
      n.zstdAsync(input, 19).then((out) => {
        console.log('main', out.length === n.zstd(input, 19).length);
        const w = new Worker(\`
          const n = require(${JSON.stringify(addon)});
          const { parentPort } = require('node:worker_threads');
          const input = Buffer.alloc(1 << 20, 'worker ');
          n.zstdAsync(input, 3).then((out) => {
            parentPort.postMessage(out.length === n.zstd(input, 3).length);
            for (let i = 0; i < 8; i++) n.xzAsync(Buffer.alloc(1 << 20, i), 6, 1 << 20, -1, -1, -1, 0);
            parentPort.postMessage('queued');
          });
        \`, { eval: true });
        w.on('message', (m) => { console.log('worker', m); if (m === 'queued') w.terminate(); });
        w.on('exit', () => n.deflateAsync(input, 6, 15, 8, 0).then((out) => console.log('after', out.length > 0)));
      });
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, `hung or crashed: ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['main true', 'worker true', 'worker queued', 'after true']);
  });

  it('listXattrs: a file\'s xattrs in llistxattr\'s order (python3\'s os.listxattr), [] without, errors thrown', { skip: (!has('setfattr') || !has('python3')) && 'setfattr or python3 not installed' }, (t) => {
    const dir = tempDir('imgkit-native-xattr-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const f = join(dir, 'f');
    writeFileSync(f, 'x');
    writeFileSync(join(dir, 'none'), '');
    symlinkSync('f', join(dir, 'link'));
    for (const [name, value] of [['user.zeta', 'z'], ['user.big', '0s' + Buffer.alloc(3000, 65).toString('base64')], ['user.alpha', 'a']]) {
      const r = spawnSync('setfattr', ['-n', name!, '-v', value!, f]);
      if (r.status !== 0) return t.skip('this file system has no user xattrs');
    }
    const got = n!.listXattrs!(f);
    const py = spawnSync('python3', ['-c', 'import os,sys; print("\\n".join(os.listxattr(sys.argv[1])))', f], { encoding: 'utf8' });
    assert.deepEqual(got.map(([name]) => name), py.stdout.trim().split('\n'));
    assert.deepEqual(Object.fromEntries(got.map(([k, v]) => [k, Buffer.from(v).toString()])), { 'user.zeta': 'z', 'user.big': 'A'.repeat(3000), 'user.alpha': 'a' });
    assert.deepEqual(n!.listXattrs!(join(dir, 'none')), []);
    assert.deepEqual(n!.listXattrs!(join(dir, 'link')), []); // the link itself, not its target
    assert.throws(() => n!.listXattrs!(join(dir, 'missing')), /cannot read xattrs: No such file/);
  });

  it('bad arguments throw TypeError or RangeError, never crash', async () => {
    const f = n as unknown as Record<string, (...a: unknown[]) => unknown>;
    assert.throws(() => f.deflate!('text', 9, 15, 8, 0), TypeError);
    assert.throws(() => f.deflate!(new Uint16Array(4), 9, 15, 8, 0), TypeError);
    assert.throws(() => f.zstd!(new Uint8Array(4)), TypeError);
    assert.throws(() => f.lz4!(new Uint8Array(4), 'x'), TypeError);
    assert.throws(() => f.deflate!(new Uint8Array(4), 42, 15, 8, 0), RangeError);
    assert.throws(() => f.deflate!(new Uint8Array(4), 9, 3, 8, 0), RangeError);
    await assert.rejects(f.deflateAsync!(new Uint8Array(4), 9, 15, 99, 0) as Promise<unknown>, RangeError);
    assert.throws(() => f.zstdAsync!(null, 3), TypeError);
    assert.throws(() => f.xz!(new Uint8Array(4), 6, 4096, -1, -1), TypeError);
    assert.throws(() => f.xz!(new Uint8Array(4), 10, 4096, -1, -1, -1, 0), RangeError);
    assert.throws(() => f.xz!(new Uint8Array(4), 6, 1, -1, -1, -1, 0), RangeError);
    assert.throws(() => f.xz!(new Uint8Array(4), 6, 4096, 5, -1, -1, 0), RangeError);
    await assert.rejects(f.xzAsync!(new Uint8Array(4), 6, 4096, -1, -1, -1, 0x99) as Promise<unknown>, RangeError);
    assert.throws(() => f.lzmaAlone!(new Uint8Array(4), 10, 4096, 3, 0, 2), RangeError);
    assert.throws(() => f.lzmaAlone!(new Uint8Array(4), 6, 4096, 4, 2, 2), RangeError); // lc + lp > 4
    assert.throws(() => f.lzmaAlone!(new Uint8Array(4), 6, 1, 3, 0, 2), RangeError);
    assert.throws(() => f.lzmaAlone!(new Uint8Array(4), 6, 4096), TypeError);
    await assert.rejects(f.lzmaAloneAsync!(new Uint8Array(4), 6, 4096, 3, 9, 2) as Promise<unknown>, RangeError);
    if (f.libdeflate) {
      assert.throws(() => f.libdeflate!(new Uint8Array(4), 0), RangeError);
      assert.throws(() => f.libdeflate!(new Uint8Array(4), 13), RangeError);
      assert.throws(() => f.libdeflate!('text', 9), TypeError);
      await assert.rejects(f.libdeflateAsync!(new Uint8Array(4), -1) as Promise<unknown>, RangeError);
    }
  });
});
