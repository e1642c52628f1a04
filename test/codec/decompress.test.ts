/**
 * `imgkit decompress` of xz, lzma, gzip, zlib and lz4: the output is written as it is decoded, so an
 * input of a few KiB that expands to 256 MiB (a "bomb") decodes in bounded memory, to a file and to
 * a pipe, with the native addon and without it (lzma-native); the bytes are xz's; bytes after an xz
 * stream are reported at their offset in the file; bad gzip, zlib and lz4 input fails as the
 * codec's decode says. The command runs in a child process (decompress-child.ts) that reports its
 * peak RSS. No timings are asserted.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collect, concat } from '../../src/bytes/source.js';
import { getCodec } from '../../src/codec/index.js';
import { nativeCodecs } from '../../src/codec/native.js';
import { requireTools, root, skipWithout, tempDir } from '../helpers.js';
import { equalBytes, sample } from './arb.js';
import { literalOnlyLzma } from './lzma-sdk.js';

const MiB = 2 ** 20;
const BOMB = 256 * MiB;
const CHILD = join(root, 'test/codec/decompress-child.ts');

let dir = '';
// the outputs go to tmpfs when there is one: the test is about memory, not disk speed
before(() => {
  const free = (p: string) => statfsSync(p).bavail * statfsSync(p).bsize;
  dir = existsSync('/dev/shm') && free('/dev/shm') > 4 * BOMB ? mkdtempSync('/dev/shm/imgkit-decompress-') : tempDir('imgkit-decompress-');
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stderr: string;
  /** Bytes written to standard output, and whether any of them was not zero. */
  out: number;
  nonZero: boolean;
  /** Peak RSS of the command, in bytes. */
  maxRss: number;
}

/** Runs `imgkit decompress args…` in a child, counting (not keeping) what it writes to standard output. */
function decompress(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const rss = join(dir, `rss-${Math.random().toString(36).slice(2)}`);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: root, env: { ...process.env, ...env, IMGKIT_TEST_MAXRSS: rss } });
    let out = 0;
    let nonZero = false;
    const err: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => {
      out += c.length;
      nonZero ||= !isZero(c);
    });
    p.stderr.on('data', (c: Buffer) => err.push(c));
    p.on('error', reject);
    p.on('close', (status) => {
      const maxRss = existsSync(rss) ? Number(readFileSync(rss, 'utf8')) * 1024 : Number.NaN;
      rmSync(rss, { force: true });
      resolve({ status, stderr: Buffer.concat(err).toString(), out, nonZero, maxRss });
    });
  });
}

const ZEROS = Buffer.alloc(MiB);
/** Whether `b` (at most 1 MiB) holds only zero bytes. */
const isZero = (b: Uint8Array): boolean => ZEROS.subarray(0, b.length).equals(b);

/** Size of a file and whether it holds only zero bytes, read in 1 MiB pieces. */
function zeroFile(path: string): { size: number; zeros: boolean } {
  const fd = openSync(path, 'r');
  const buf = new Uint8Array(MiB);
  let size = 0;
  let zeros = true;
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; size += n) zeros &&= isZero(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { size, zeros };
}

describe('imgkit decompress: output written as it is decoded', () => {
  const bombs: [string, string][] = [];
  before(async () => {
    // 256 MiB of zeros: xz through the streaming encoder (nothing that large in memory here), lzma
    // with the size in its header (end marker after it) and with "unknown size"
    const xz = await getCodec('xz');
    const lzma = await getCodec('lzma');
    async function* zeros(): AsyncGenerator<Uint8Array> {
      const z = new Uint8Array(MiB);
      for (let n = 0; n < BOMB; n += MiB) yield z;
    }
    const put = (name: string, bytes: Uint8Array) => {
      writeFileSync(join(dir, name), bytes);
      bombs.push([name, join(dir, name)]);
    };
    put('bomb.xz', await collect(xz.encodeStream!(zeros(), { level: 1 })));
    const big = new Uint8Array(BOMB);
    put('bomb-sized.lzma', await lzma.encode!(big, { level: 1 }));
    put('bomb-unknown.lzma', await lzma.encode!(big, { level: 1, lzma: { sizeInHeader: false } }));
    // deflate packs at most about 1032:1: level 9 keeps those under 1 MiB
    for (const id of ['gzip', 'zlib', 'lz4', 'lz4-legacy'] as const) put(`bomb.${id}`, await collect((await getCodec(id)).encodeStream!(zeros(), { level: 9 })));
    // bzip2 blocks expand up to 51-fold through RLE1: 208 bytes here, written in pieces (was held whole)
    put('bomb.bz2', await (await getCodec('bzip2')).encode!(big, { level: 9 }));
  });

  it('a 256 MiB zstd bomb to a file and to a pipe, peak RSS under 256 MiB (native addon)', { skip: !nativeCodecs()?.lzmaDecoders && 'the native addon is not built', timeout: 60_000 }, async () => {
    // without the addon, zstd decodes whole: the output is held (within --max-output)
    const path = join(dir, 'bomb.zst');
    writeFileSync(path, await (await getCodec('zstd')).encode!(new Uint8Array(BOMB), { level: 19 }));
    assert.ok(statSync(path).size < MiB, `a bomb: ${statSync(path).size} bytes`);
    const file = join(dir, 'out.bin');
    const r = await decompress([path, '-o', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(zeroFile(file), { size: BOMB, zeros: true });
    assert.ok(r.maxRss < 256 * MiB, `to a file: peak RSS ${(r.maxRss / MiB).toFixed(0)} MiB`);
    rmSync(file);
    const p = await decompress([path, '-o', '-']);
    assert.equal(p.status, 0, p.stderr);
    assert.deepEqual([p.out, p.nonZero], [BOMB, false]);
    assert.ok(p.maxRss < 256 * MiB, `to a pipe: peak RSS ${(p.maxRss / MiB).toFixed(0)} MiB`);
  });

  for (const [engine, env] of [['native addon when built', {}], ['lzma-native (IMGKIT_NATIVE=0)', { IMGKIT_NATIVE: '0' }]] as const) {
    it(`256 MiB bombs to a file and to a pipe, peak RSS under 256 MiB (${engine})`, { timeout: 180_000 }, async () => {
      for (const [name, path] of bombs) {
        // lz4 packs at most about 255:1
        assert.ok(statSync(path).size < (name.startsWith('bomb.lz4') ? 2 * MiB : MiB), `${name} is a bomb: ${statSync(path).size} bytes`);
        const file = join(dir, 'out.bin');
        const r = await decompress([path, '-o', file], env);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(zeroFile(file), { size: BOMB, zeros: true }, name);
        assert.ok(r.maxRss < 256 * MiB, `${name} to a file: peak RSS ${(r.maxRss / MiB).toFixed(0)} MiB`);
        rmSync(file);
        const p = await decompress([path, '-o', '-'], env);
        assert.equal(p.status, 0, p.stderr);
        assert.deepEqual([p.out, p.nonZero], [BOMB, false], name);
        assert.ok(p.maxRss < 256 * MiB, `${name} to a pipe: peak RSS ${(p.maxRss / MiB).toFixed(0)} MiB`);
      }
    });
  }
});

describe('imgkit decompress: zstd as zstd -dc gives it', { skip: skipWithout('zstd') }, () => {
  before(() => requireTools('zstd'));

  it('frames one after another with skippable frames between, to a file and to a pipe', async () => {
    const [a, b] = [sample(300_000, 45), sample(2_500_000, 46)];
    const zstd = (data: Uint8Array, args: string[]) => new Uint8Array(spawnSync('zstd', ['-q', '-c', ...args], { input: data, maxBuffer: 1 << 26 }).stdout);
    const skippable = Uint8Array.of(0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3);
    const path = join(dir, 'multi.zst');
    writeFileSync(path, concat([zstd(a, ['-1']), skippable, zstd(b, ['-19', '--no-check']), zstd(new Uint8Array(0), [])]));
    const theirs = spawnSync('zstd', ['-dc', path], { maxBuffer: 1 << 26 });
    assert.equal(theirs.status, 0, String(theirs.stderr));
    equalBytes(new Uint8Array(theirs.stdout), concat([a, b]), 'zstd -dc');
    const out = join(dir, 'multi.out');
    const r = await decompress([path, '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    equalBytes(readFileSync(out), concat([a, b]), 'imgkit decompress');
    const p = await decompress([path, '-o', '-']);
    assert.equal(p.status, 0, p.stderr);
    assert.equal(p.out, a.length + b.length);
  });

  it('bad input: what zstd -dc refuses fails with an offset and no output file, what it takes comes out as it gives it', async () => {
    const good = spawnSync('zstd', ['-q', '-c', '-3'], { input: sample(200_000, 48), maxBuffer: 1 << 26 }).stdout;
    const flip = (at: number, x = 0x55) => {
      const b = Uint8Array.from(good);
      b[at]! ^= x;
      return b;
    };
    const cases: [string, Uint8Array][] = [
      ['cut short', good.subarray(0, good.length - 5)],
      ['cut in half', good.subarray(0, good.length >> 1)],
      ['a flipped byte', flip(good.length >> 1)],
      ['a flipped header byte', flip(4, 0x08)],
      ['junk after', concat([good, new TextEncoder().encode('junk')])],
      ['nothing', new Uint8Array(0)],
      ['half a header', good.subarray(0, 3)],
      ...Array.from({ length: 12 }, (_, i) => [`a flipped bit at ${200 + 232 * i}`, flip(200 + 232 * i, 0x80)] as [string, Uint8Array]),
    ];
    const path = join(dir, 'bad.zst'), out = join(dir, 'bad.out');
    for (const [what, bytes] of cases) {
      writeFileSync(path, bytes);
      const theirs = spawnSync('zstd', ['-q', '-dc', path], { maxBuffer: 1 << 26 });
      rmSync(out, { force: true });
      const r = await decompress(['--format', 'zstd', path, '-o', out]);
      if (theirs.status === 0) {
        assert.equal(r.status, 0, `${what}: ${r.stderr}`);
        equalBytes(readFileSync(out), new Uint8Array(theirs.stdout), what);
      } else {
        assert.equal(r.status, 1, `${what}: ${r.stderr}`);
        assert.match(r.stderr, /^imgkit decompress: zstd: .*\(at 0x[0-9a-f]+\)\n$/, what);
        assert.ok(!existsSync(out), `${what}: no output file`);
      }
    }
    writeFileSync(path, good);
    const r = await decompress([path, '--max-output', '100000', '-o', out]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /output exceeds maxOutput/);
    assert.ok(!existsSync(out), 'past --max-output: no output file');
  });

  it('a window past 2^27 bytes (zstd -d\'s limit) is decoded whole, as before', async () => {
    // zstd declares the whole --long window for input from a pipe: 512 MiB for 1 MB here
    const data = sample(1_000_000, 47);
    const path = join(dir, 'long.zst');
    writeFileSync(path, spawnSync('zstd', ['-q', '-c', '--long=29'], { input: data, maxBuffer: 1 << 26 }).stdout);
    assert.match(spawnSync('zstd', ['-lv', path], { encoding: 'utf8' }).stdout, /Window Size: 512 MiB/);
    for (const env of [{}, { IMGKIT_NATIVE: '0' }]) {
      for (const to of ['file', 'pipe']) {
        const out = join(dir, 'long.out');
        const r = await decompress([path, '--max-output', '2M', '-o', to === 'file' ? out : '-'], env);
        assert.equal(r.status, 0, r.stderr);
        if (to === 'file') equalBytes(readFileSync(out), data, JSON.stringify(env));
        else assert.equal(r.out, data.length);
      }
    }
  });
});

describe('imgkit decompress: xz and lzma bytes as xz -dc gives them', { skip: skipWithout('xz') }, () => {
  before(() => requireTools('xz'));

  it('concatenated xz streams with stream padding, and every lzma form', async () => {
    const [a, b] = [sample(300_000, 41), sample(70_000, 42)];
    const xz = (data: Uint8Array, args: string[]) => new Uint8Array(spawnSync('xz', ['-c', ...args], { input: data, maxBuffer: 1 << 26 }).stdout);
    const files: [string, Uint8Array, Uint8Array][] = [
      ['multi.xz', concat([xz(a, ['-1']), new Uint8Array(8), xz(b, ['-6', '--check=sha256'])]), concat([a, b])],
      ['xz.lzma', xz(a, ['--format=lzma', '-6']), a],
      ['ours.lzma', await (await getCodec('lzma')).encode!(a, { level: 1 }), a],
      ['sdk.lzma', literalOnlyLzma(b), b],
    ];
    for (const [name, bytes, data] of files) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const theirs = spawnSync('xz', ['-dc', ...(name.endsWith('.lzma') ? ['--format=lzma'] : []), path], { maxBuffer: 1 << 26 });
      assert.equal(theirs.status, 0, String(theirs.stderr));
      equalBytes(new Uint8Array(theirs.stdout), data, `xz -dc ${name}`);
      const out = join(dir, `${name}.out`);
      const r = await decompress([path, '-o', out]);
      assert.equal(r.status, 0, r.stderr);
      equalBytes(readFileSync(out), data, `imgkit decompress ${name}`);
    }
  });

  it('bytes after an xz stream: exit 1, the offset of the first of them in the file, no output file; xz -dc fails too', async () => {
    const a = spawnSync('xz', ['-c', '-1'], { input: sample(200_000, 43) }).stdout;
    const junk = new TextEncoder().encode('GARBAGE');
    for (const [what, bytes, at] of [
      ['junk', concat([a, junk]), a.length],
      ['zero padding, then junk', concat([a, new Uint8Array(8), junk]), a.length + 8],
      ['a second stream, then junk', concat([a, a, junk]), 2 * a.length],
    ] as const) {
      const path = join(dir, 'trailing.xz');
      writeFileSync(path, bytes);
      assert.notEqual(spawnSync('xz', ['-dc', path]).status, 0, `xz -dc, ${what}`);
      const out = join(dir, 'trailing.out');
      const r = await decompress([path, '-o', out]);
      assert.equal(r.status, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`neither stream padding nor another stream \\(at 0x${at.toString(16)}\\)`), what);
      assert.ok(!existsSync(out), `${what}: no output file`);
      // to a pipe, what was decoded before comes out first, as with xz -dc
      const p = await decompress([path, '-o', '-']);
      assert.equal(p.status, 1, p.stderr);
      assert.equal(p.out, spawnSync('xz', ['-dc', path], { maxBuffer: 1 << 26 }).stdout.length, what);
    }
  });
});

describe('imgkit decompress: bad gzip, zlib and lz4 input fails as decode says, with no output file', () => {
  it('cut short, a flipped byte, a flipped trailer, junk after the stream, nothing at all, half a header, past --max-output', async () => {
    const data = sample(200_000, 44);
    for (const id of ['gzip', 'zlib', 'lz4', 'lz4-legacy'] as const) {
      const codec = await getCodec(id);
      const good = await codec.encode!(data, {});
      const flip = (at: number) => {
        const b = Uint8Array.from(good);
        b[at]! ^= 0x55;
        return b;
      };
      const cases: [string, Uint8Array][] = [
        ['cut short', good.subarray(0, good.length - 5)],
        ['cut in half', good.subarray(0, good.length >> 1)],
        ['a flipped byte', flip(good.length >> 1)],
        ['a flipped trailer', flip(good.length - 3)],
        ['junk after', concat([good, new TextEncoder().encode('junk')])],
        ['nothing', new Uint8Array(0)],
        ['half a header', good.subarray(0, 3)],
      ];
      for (const [what, bytes] of cases) {
        const path = join(dir, `bad.${id}`);
        writeFileSync(path, bytes);
        const want = await codec.decode(bytes).then(() => undefined, (e: Error) => e.message);
        const out = join(dir, 'bad.out');
        rmSync(out, { force: true });
        const r = await decompress(['--format', id, path, '-o', out]);
        if (want === undefined) {
          assert.equal(r.status, 0, `${id}, ${what}: ${r.stderr}`);
          continue;
        }
        assert.equal(r.status, 1, `${id}, ${what}: ${r.stderr}`);
        assert.ok(r.stderr.includes(want), `${id}, ${what}: ${r.stderr} (decode: ${want})`);
        assert.ok(!existsSync(out), `${id}, ${what}: no output file`);
      }
      const path = join(dir, `good.${id}`);
      writeFileSync(path, good);
      const r = await decompress([path, '--format', id, '--max-output', '100000', '-o', join(dir, 'bad.out')]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /output exceeds maxOutput/, id);
      assert.ok(!existsSync(join(dir, 'bad.out')), `${id}, past --max-output: no output file`);
    }
  });
});
