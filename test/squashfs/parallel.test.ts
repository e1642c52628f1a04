/**
 * Issue 8: the compression pipeline. The image is the same bytes for any number of worker threads
 * and any queue window (back-pressure engaged at every block), and a pack of multi-GiB sparse and
 * streamed files stays in bounded memory (peak RSS of the CLI in a child process; no timings).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { memorySink, withOutputFile } from '../../src/bytes/sink.js';
import { bytesAccess } from '../../src/bytes/random.js';
import { openSquashfs } from '../../src/squashfs/read.js';
import { writeSquashfs, type WriteOptions } from '../../src/squashfs/write.js';
import { hostFile, type SourceInode } from '../../src/squashfs/tree.js';
import type { CompressorName } from '../../src/squashfs/layout.js';
import type { CompressorOptions } from '../../src/squashfs/compressor.js';
import { ensureBuilt, root, tempDir, which } from '../helpers.js';
import { seeded } from './fixture.js';
import { encodeXzBlock } from '../../src/codec/xz-block.js';
import { asBufferEncoded, asyncXzEncoder, syncXzEncoder } from '../../src/squashfs/xz-sync.js';
import { collectAll, collectYoung } from '../../src/squashfs/gc.js';
import { hasLibdeflate } from '../../src/squashfs/compressor.js';
import { compressSlotsClaimed, nativeCodecs } from '../../src/codec/native.js';

async function image(t: SourceInode, o: WriteOptions): Promise<Buffer> {
  const sink = memorySink();
  await writeSquashfs(sink, t, o);
  return Buffer.from(sink.bytes());
}

const file = (content: Uint8Array): SourceInode => ({ kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1, content, size: content.length });

/** Files around the block size, duplicates (whole and partial), holes and tails. */
function mixedTree(bs: number): SourceInode {
  const big = seeded(5 * bs + 123, 1);
  const entries = [
    { name: 'big', inode: file(big) },
    { name: 'big-copy', inode: file(big.slice()) },
    { name: 'big-prefix', inode: file(big.slice(0, 3 * bs + 7)) },
    { name: 'holes', inode: file(Uint8Array.from({ length: 4 * bs }, (_, i) => (i >= bs && i < 3 * bs ? 0 : i % 251))) },
    { name: 'zeros', inode: file(new Uint8Array(2 * bs)) },
  ];
  for (let i = 0; i < 40; i++) entries.push({ name: `small${String(i).padStart(2, '0')}`, inode: file(seeded(100 + i * 97, 100 + (i % 7))) });
  const sub: SourceInode = { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 1, entries: entries.slice(0, 20) };
  return { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 1, entries: [...entries.slice(20), { name: 'sub', inode: sub }] };
}

describe('squashfs parallel compression', () => {
  for (const compressor of ['gzip', 'zstd', 'xz', 'lz4'] as const) {
    it(`${compressor}: identical bytes with 0, 1, 2 and 3 workers and any window`, async () => {
      const bs = 8192;
      const t = mixedTree(bs);
      const base = await image(t, { compressor, blockSize: bs, processors: 0 });
      for (const [processors, window] of [[1, 1], [2, bs], [3, 5 * bs], [2, undefined]] as const) {
        const got = await image(t, { compressor, blockSize: bs, processors, ...(window !== undefined && { window }) });
        assert.ok(got.equals(base), `${processors} workers, window ${window ?? 'default'}`);
      }
    });
  }

  it('with the native codecs, N workers run at most N compressions at once (every codec), and release them when done', { skip: !nativeCodecs()?.compressSlots && 'the native codecs are not built here' }, async () => {
    const bs = 8192;
    const t = mixedTree(bs);
    const all: [CompressorName, CompressorOptions][] = [['zstd', {}], ['xz', {}], ['gzip', {}], ['lz4', { hc: true }], ...(hasLibdeflate() ? [['gzip', { libdeflate: true }] as [CompressorName, CompressorOptions]] : [])];
    for (const [compressor, compressorOptions] of all) {
      const base = await image(t, { compressor, compressorOptions, blockSize: bs, processors: 0 });
      for (const processors of [1, 2]) {
        nativeCodecs()!.compressSlots!(); // resets the peak
        const got = await image(t, { compressor, compressorOptions, blockSize: bs, processors });
        const peak = nativeCodecs()!.compressSlots!();
        assert.ok(peak >= 1 && peak <= processors, `${compressor}, ${processors} workers: ${peak} at once`);
        assert.equal(compressSlotsClaimed(), 0);
        assert.ok(got.equals(base));
      }
    }
  });

  it('gzip through libdeflate: identical bytes with 0, 1, 2 and 3 workers and any window', { skip: !hasLibdeflate() && !process.env.CI && 'libdeflate is not built here' }, async () => {
    const bs = 8192;
    const t = mixedTree(bs);
    const o = { compressor: 'gzip', blockSize: bs, compressorOptions: { libdeflate: true } } as const;
    const base = await image(t, { ...o, processors: 0 });
    assert.ok(!base.equals(await image(t, { compressor: 'gzip', blockSize: bs, processors: 0 })), 'not zlib\'s bytes');
    for (const [processors, window] of [[1, 1], [2, bs], [3, 5 * bs], [2, undefined]] as const) {
      const got = await image(t, { ...o, processors, ...(window !== undefined && { window }) });
      assert.ok(got.equals(base), `${processors} workers, window ${window ?? 'default'}`);
    }
  });

  it('the reusable synchronous xz encoder writes encodeXzBlock\'s data in mksquashfs\'s layout, block after block', async () => {
    for (const o of [{}, { bcj: 'x86' as const, dictSize: 65536 }, { level: 9, extreme: true, lc: 0, lp: 2, pb: 2 }]) {
      const enc = syncXzEncoder(o);
      for (let i = 0; i < 3; i++) {
        const input = seeded(70_000, i).map((b, j) => (j % 3 ? b : 0));
        assert.deepEqual(enc(input), asBufferEncoded(await encodeXzBlock(input, o), input.length));
      }
    }
  });

  it('xz blocks carry their sizes in a header planned for the LZMA2 bound, as lzma_stream_buffer_encode writes (xz -lvv agrees)', { skip: !which('xz') && 'xz not installed' }, (t) => {
    const enc = syncXzEncoder({ dictSize: 131_072 });
    const dir = tempDir('imgkit-xz-layout-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // sizes where the bound (n + 3 per 64 KiB + 1) needs a longer size field than the data does
    for (const n of [1, 100, 123, 124, 127, 128, 16_379, 16_380, 16_384, 65_536, 65_537, 131_072]) {
      for (const input of [new Uint8Array(n), seeded(n, n)]) {
        const out = enc(input);
        const bound = n + Math.ceil(n / 65_536) * 3 + 1;
        const vli = (v: number) => (v < 0x80 ? 1 : v < 0x4000 ? 2 : 3);
        const header = Math.ceil((2 + vli(bound) + vli(n) + 3 + 4) / 4) * 4;
        assert.equal((out[12]! + 1) * 4, header, `header size for ${n} bytes`);
        assert.equal(out[13]! & 0xc0, 0xc0, 'both sizes present');
        const path = join(dir, 'block.xz');
        writeFileSync(path, out);
        const r = spawnSync('xz', ['-lvv', '--robot', path], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        // xz --robot's block line: … uncompressed size [7], … header size [11], size fields [12]
        const block = r.stdout.split('\n').find((l) => l.startsWith('block\t'))!.split('\t');
        assert.equal(Number(block[7]), n, 'uncompressed size');
        assert.equal(Number(block[11]), header, 'header size');
        assert.equal(block[12], 'cu', 'compressed and uncompressed sizes stored');
        const d = spawnSync('xz', ['-dc'], { input: out });
        assert.ok(Buffer.from(d.stdout).equals(Buffer.from(input)), `${n} bytes round trip`);
      }
    }
  });

  it('the thread-pool xz encoder writes encodeXzBlock\'s data in mksquashfs\'s layout, block after block, several at once', async () => {
    for (const o of [{}, { bcj: 'x86' as const, dictSize: 65536 }, { level: 9, extreme: true, lc: 0, lp: 2, pb: 2 }]) {
      const encs = [asyncXzEncoder(o), asyncXzEncoder(o)];
      for (let i = 0; i < 3; i++) {
        const inputs = [seeded(70_000, i), seeded(5000 + i, 7 + i)].map((b) => b.map((x, j) => (j % 3 ? x : 0)));
        const got = await Promise.all(encs.map((enc, k) => enc(inputs[k]!)));
        for (let k = 0; k < 2; k++) assert.deepEqual(got[k], asBufferEncoded(await encodeXzBlock(inputs[k]!, o), inputs[k]!.length), `block ${i}, encoder ${k}`);
      }
    }
    await assert.rejects(asyncXzEncoder({ dictSize: 4096 })(new Uint8Array(0)).then(() => asyncXzEncoder({ lc: 4, lp: 4 })(new Uint8Array(1))), RangeError);
  });

  it('collectAll frees what only a full collection frees (buffers promoted to the old generation)', async () => {
    let kept: { data: Uint8Array } | undefined = { data: new Uint8Array(1 << 16) };
    const ref = new WeakRef(kept);
    for (let i = 0; i < 3; i++) collectYoung(); // survives: promoted to the old generation
    kept = undefined;
    // a WeakRef target lives at least until the end of the job that made or dereferenced it
    const nextJob = () => new Promise((r) => setImmediate(r));
    await nextJob();
    collectYoung();
    assert.ok(ref.deref() !== undefined, 'a scavenge should not reach the old generation');
    await nextJob();
    collectAll();
    assert.equal(ref.deref(), undefined);
  });

  it('property: any tree, options, worker count and window give the same image', async () => {
    const content = fc.oneof(fc.uint8Array({ maxLength: 20_000 }), fc.integer({ min: 0, max: 20_000 }).map((n) => new Uint8Array(n)));
    const tree = fc.array(content, { maxLength: 12 }).map((cs): SourceInode => ({
      kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 1, entries: cs.map((c, i) => ({ name: `f${i}`, inode: file(c) })),
    }));
    const opts = fc.record({
      blockSize: fc.constantFrom(4096, 8192), noFragments: fc.boolean(), alwaysUseFragments: fc.boolean(), noDuplicates: fc.boolean(), noSparse: fc.boolean(),
    });
    await fc.assert(fc.asyncProperty(tree, opts, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 40_000 }), async (t, o, processors, window) => {
      const a = await image(t, { ...o, compressor: 'gzip', processors: 0 });
      const b = await image(t, { ...o, compressor: 'gzip', processors, window });
      assert.ok(a.equals(b));
    }), { numRuns: 8 });
  });

  it('a file with a block count no other file has is stored without digests, and one whose zero tail counts a block more is still found', async () => {
    const bs = 4096;
    const head = seeded(5 * bs, 25);
    const cat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));
    const tree: SourceInode = {
      kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 1,
      entries: [
        { name: 'k', inode: file(cat(head, new Uint8Array(100))) }, // 5 blocks, a zero tail: found under 6
        { name: 'l', inode: file(cat(head, new Uint8Array(bs))) }, // 6 blocks, the last a hole: k's block list
        { name: 'm', inode: file(seeded(9 * bs + 5, 26)) }, // the only file of 9 (or 10) blocks
        { name: 'n', inode: file(seeded(9 * bs + 5, 26)) }, // ...until this copy
      ],
    };
    const fs = await openSquashfs(bytesAccess(await image(tree, { compressor: 'gzip', blockSize: bs, alwaysUseFragments: true, processors: 2 }), 'squashfs'));
    const start = async (name: string) => await fs.lookup(name);
    assert.equal((await start('l')).startBlock, (await start('k')).startBlock, 'l shares k\'s blocks');
    assert.equal((await start('n')).startBlock, (await start('m')).startBlock, 'n is m\'s duplicate');
  });

  it('host files: small ones, read whole, give the image their bytes in memory give (duplicates, holes, full fragment blocks); a file whose size changed since the scan is an error', async (t) => {
    const dir = tempDir();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const bs = 4096;
    const bytes: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) bytes.push(i % 7 === 3 ? new Uint8Array(100 + i) : seeded(300 + 97 * i, i % 5)); // duplicates and all-zero files
    bytes.push(seeded(bs - 1, 9), seeded(bs + 5, 10), seeded(3 * bs, 11));
    const tree = (host: boolean): SourceInode => ({
      kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 1,
      entries: bytes.map((b, i) => {
        const path = join(dir, `f${i}`);
        if (host) writeFileSync(path, b);
        return { name: `f${i}`, inode: { ...file(b), ...(host && { content: hostFile(path, b.length) }) } };
      }),
    });
    const o: WriteOptions = { compressor: 'gzip', blockSize: bs, processors: 2 };
    const want = await image(tree(false), o);
    assert.ok(want.equals(await image(tree(true), o)));
    // to a file, as pack writes: the compressors' output buffers and the block buffers reused, back-pressure at every block
    const viaFile = async (w: WriteOptions) => {
      const out = join(dir, 'img');
      await withOutputFile(out, (sink) => writeSquashfs(sink, tree(true), { ...w, reuseWritten: true }));
      return readFileSync(out);
    };
    assert.ok(want.equals(await viaFile({ ...o, window: bs })));
    assert.ok((await image(tree(false), { ...o, compressor: 'zstd' })).equals(await viaFile({ ...o, compressor: 'zstd', window: 2 * bs })));
    assert.ok((await image(tree(false), { ...o, noDuplicates: true, noSparse: true })).equals(await image(tree(true), { ...o, noDuplicates: true, noSparse: true })));
    // sizes the scan saw, then the file changed: one byte more, one byte fewer, each way of reading
    const path = join(dir, 'changing');
    for (const [size, how] of [[1000, 'grew'], [1002, 'shrank'], [bs - 1, 'grew'], [bs + 1, 'shrank']] as const) {
      writeFileSync(path, seeded(size === bs - 1 ? bs : size === bs + 1 ? bs : 1001, 3));
      const one: SourceInode = { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 1, entries: [{ name: 'x', inode: { ...file(new Uint8Array(0)), content: hostFile(path, size), size } }] };
      await assert.rejects(image(one, o), new RegExp(`changing: file ${how} while being read`), `${size}`);
    }
    // a reader with no room for the byte after the file still sees it grow
    const hf = hostFile(path, 1000) as unknown as { readAll(into: Uint8Array): void };
    writeFileSync(path, seeded(1001, 4));
    assert.throws(() => hf.readAll(new Uint8Array(1000)), /grew/);
    writeFileSync(path, seeded(1000, 4));
    const into = new Uint8Array(1000);
    hf.readAll(into);
    assert.deepEqual(into, seeded(1000, 4));
  });
});

const time = which('time') ?? (statSync('/usr/bin/time', { throwIfNoEntry: false }) ? '/usr/bin/time' : undefined);

describe('squashfs bounded memory', { skip: !time && 'GNU time (/usr/bin/time) is not installed: peak RSS cannot be measured' }, () => {
  let tmp = '';
  before(() => {
    ensureBuilt('dist/cli/squashfs.js');
    tmp = tempDir('imgkit-sqfs-mem-');
    const tree = join(tmp, 'tree');
    mkdirSync(tree);
    // a 3 GiB sparse file with 8 incompressible 1 MiB islands, and a 64 MiB incompressible file
    const chunk = Buffer.from(seeded(1 << 20, 9));
    let fd = openSync(join(tree, 'sparse'), 'w');
    ftruncateSync(fd, 3 * 2 ** 30);
    for (let i = 0; i < 8; i++) writeSync(fd, chunk, 0, chunk.length, i * 384 * 2 ** 20 + 4096);
    closeSync(fd);
    fd = openSync(join(tree, 'stream'), 'w');
    for (let i = 0; i < 64; i++) {
      chunk[0] = i; // no two blocks alike: nothing deduplicates
      writeSync(fd, chunk);
    }
    closeSync(fd);
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  for (const comp of ['lz4', 'gzip']) {
    it(`${comp}: packs 3 GiB of sparse and 64 MiB of streamed data with peak RSS under 160 MB, 2 workers`, () => {
      const out = join(tmp, 'out.sqfs');
      const r = spawnSync(time!, ['-f', '%M', '-o', join(tmp, 'rss'), join(root, 'bin/squashfs'), 'pack', join(tmp, 'tree'), out, '-noappend', '-quiet', '-comp', comp, '-processors', '2'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const kb = Number(readFileSync(join(tmp, 'rss'), 'utf8').trim().split('\n').pop());
      assert.ok(kb > 0 && kb < 160 * 1024, `peak RSS ${kb} KiB`);
      const ls = spawnSync(join(root, 'bin/squashfs'), ['ls', '-l', out], { encoding: 'utf8' });
      assert.match(ls.stdout, / 3221225472 /);
    });
  }
});

describe('squashfs pack progress and summary', () => {
  it('draws a bar with files, bytes, percentage and ETA on a terminal stream, and ends the line', async () => {
    const { progressBar, summary } = await import('../../src/squashfs/progress.js');
    let out = '';
    const bar = progressBar({ columns: 100, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream);
    bar.onStart(4, 4 * 1048576);
    bar.onProgress(4, 4 * 1048576);
    bar.done();
    assert.match(out, /^\r\[=+\] 4\/4 files 4\.0\/4\.0 MiB 100% ETA 0:00 \x1b\[K\n$/);
    // totals not known (a subtree being extracted): counts only; the last counts are drawn at the end
    out = '';
    const counts = progressBar({ columns: 100, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream, 'entries');
    counts.onStart(0, 0);
    for (let i = 1; i <= 1000; i++) counts.onProgress(i, i * 1048576);
    counts.done();
    assert.match(out, /^\r1 entries 1\.0 MiB \x1b\[K.*\r1000 entries 1000\.0 MiB \x1b\[K\n$/s);
    assert.ok(out.split('\r').length < 20, 'redrawn at most 10 times a second');
    // hard links count once in the total and each time as names: past the total it is still throttled
    out = '';
    const past = progressBar({ columns: 100, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream, 'entries');
    past.onStart(3, 0);
    for (let i = 1; i <= 1000; i++) past.onProgress(i, 0);
    past.done();
    assert.ok(out.split('\r').length < 20, `past the total: ${out.split('\r').length - 1} draws`);
    assert.match(out, /\r\[=+\] 1000\/3 entries 0\.0 MiB 100% /);
    const sb = { compression: 'gzip', blockSize: 131072, flags: 0xc0, bytesUsed: 2048, inodes: 5, fragments: 1, noIds: 1 };
    const text = summary('x.sqfs', { superblock: sb, size: 4096, duplicates: 2, files: 3, fileBytes: 8192 } as never);
    assert.match(text, /gzip compressed, data block size 131072/);
    assert.match(text, /25\.00% of uncompressed file data/);
    assert.match(text, /files 3, duplicate files removed 2/);
  });
});
