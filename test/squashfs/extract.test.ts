/**
 * Reading a whole image fast without changing what is read: preloaded tables against block-by-block
 * reads, walkChunks against walk, the fragment cache (many files per fragment block, a cache of one
 * block), read-ahead, and extraction with decoder threads against unsquashfs -d, including a data
 * block that does not decode (the same FormatError with or without threads).
 */
import { nativeCodecs } from '../../src/codec/native.js';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../src/bytes/errors.js';
import { bytesAccess, fileAccess } from '../../src/bytes/random.js';
import { extractSquashfs } from '../../src/squashfs/extract.js';
import { openSquashfs, type OpenOptions, type Squashfs } from '../../src/squashfs/read.js';
import type { SquashfsInode } from '../../src/squashfs/inode.js';
import { memorySink } from '../../src/bytes/sink.js';
import { writeSquashfs } from '../../src/squashfs/write.js';
import type { SourceInode } from '../../src/squashfs/tree.js';
import { blockDiskSize } from '../../src/squashfs/layout.js';
import { ensureBuilt, requireTools, root, skipWithout, tempDir } from '../helpers.js';
import { seeded, TIME } from './fixture.js';
import { entries, snapshotHost, snapshotImage } from './snapshot.js';

let tmp = '';

function sh(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** 400 small files in 8 folders (about 50 per 128 KiB fragment block), one large file with a hole, a link. */
function makeTree(dir: string): void {
  for (let d = 0; d < 8; d++) {
    mkdirSync(join(dir, `d${d}`), { recursive: true });
    for (let f = 0; f < 50; f++) {
      const n = ((d * 50 + f) * 977) % 5000;
      writeFileSync(join(dir, `d${d}`, `f${f}`), f % 3 ? seeded(n, d * 100 + f) : 'text '.repeat(n / 5));
    }
  }
  // 1.5 MiB of data, a 1 MiB hole, 1 MiB of compressible data and a tail: several hundred 4 KiB blocks
  writeFileSync(join(dir, 'big'), seeded(1_500_000, 7));
  truncateSync(join(dir, 'big'), 2_548_576);
  appendFileSync(join(dir, 'big'), Buffer.alloc(1 << 20, 'squashfs '));
  appendFileSync(join(dir, 'big'), seeded(3000, 8));
  spawnSync('ln', ['-s', 'd0/f1', join(dir, 'link')]);
  spawnSync('touch', ['-h', '-d', `@${TIME}`, ...['big', 'link', ...Array.from({ length: 8 }, (_, d) => `d${d}`)].map((p) => join(dir, p))]);
}

async function open(img: string, o: OpenOptions = {}): Promise<Squashfs> {
  return openSquashfs(await fileAccess(img, 'squashfs'), o);
}

/** Calling thread, worker threads, and (when the addon is built) the native codecs on libuv's pool. */
const DECODERS: [string, { threads: number; native?: boolean }][] = [
  ['no threads', { threads: 0 }], ['worker threads', { threads: 2, native: false }],
  ...(nativeCodecs()?.decodeAsync ? [['native decoders', { threads: 2 }] as [string, { threads: number }]] : []),
];
const ONE_THREAD = ['native decoders, one thread', { threads: 1 }] as const;

async function extracted(img: string, to: string, d: { threads: number; native?: boolean }, o: OpenOptions = {}): Promise<ReturnType<typeof snapshotHost>> {
  const fs = await open(img, o);
  try {
    await extractSquashfs(fs, to, d);
  } finally {
    await fs.close();
  }
  return snapshotHost(to);
}

/**
 * Extracts `image` into `out(how)` in each decoder mode: every run must fail with a FormatError,
 * which `check` looks at further, and all of them with the same code and message.
 */
async function failsAlike(image: string, out: (how: string) => string, modes: readonly (readonly [string, { threads: number; native?: boolean }])[], check: (how: string, err: FormatError, to: string) => void): Promise<void> {
  const errors = [];
  for (const [how, d] of modes) {
    const to = out(how);
    const err = await extracted(image, to, d).then(() => undefined, (x: unknown) => x);
    assert.ok(err instanceof FormatError, `${how}: ${String(err)}`);
    check(how, err, to);
    errors.push([err.code, err.message]);
  }
  for (const x of errors.slice(1)) assert.deepEqual(x, errors[0]);
}

describe('squashfs: reading a whole image', { skip: skipWithout('mksquashfs', 'unsquashfs') }, () => {
  const img = () => join(tmp, 'tree-4k.sqfs');
  before(() => {
    requireTools('mksquashfs', 'unsquashfs');
    tmp = tempDir('imgkit-sqfs-extract-');
    makeTree(join(tmp, 'tree'));
    // 4 KiB blocks: the large file has hundreds of blocks; 128 KiB: the small files share fragment blocks
    sh('mksquashfs', [join(tmp, 'tree'), img(), '-noappend', '-quiet', '-no-progress', '-b', '4096', '-mkfs-time', String(TIME)]);
    sh('mksquashfs', [join(tmp, 'tree'), join(tmp, 'tree-128k.sqfs'), '-noappend', '-quiet', '-no-progress', '-mkfs-time', String(TIME)]);
    sh('unsquashfs', ['-q', '-n', '-d', join(tmp, 'ref-4k'), img()]);
    sh('unsquashfs', ['-q', '-n', '-d', join(tmp, 'ref-128k'), join(tmp, 'tree-128k.sqfs')]);
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  it('preloaded tables and block-by-block reads give the same tree', async () => {
    for (const f of ['tree-4k.sqfs', 'tree-128k.sqfs']) {
      const bytes = new Uint8Array(readFileSync(join(tmp, f)));
      const lazy = await openSquashfs(bytesAccess(bytes, 'squashfs'), { maxTableBytes: 0 });
      const whole = await openSquashfs(bytesAccess(bytes, 'squashfs'));
      await whole.preload();
      const root = await whole.root();
      assert.ok(whole.readdirNow(root), 'the root listing is in memory');
      assert.equal(lazy.readdirNow(await lazy.root()), undefined, 'nothing is preloaded past maxTableBytes');
      assert.deepEqual(entries(await snapshotImage(whole, { nlink: true })), entries(await snapshotImage(lazy, { nlink: true })));
    }
  });

  it('walkChunks yields what walk yields, in the same order, for any chunk size', async () => {
    const fs = await open(img());
    const one = [];
    for await (const e of fs.walk()) one.push(e.path);
    for (const max of [1, 7, 1024]) {
      const got = [];
      for await (const chunk of fs.walkChunks('/', max)) {
        assert.ok(chunk.length <= max);
        got.push(...chunk.map((e) => e.path));
      }
      assert.deepEqual(got, one);
    }
    const sub = [];
    for await (const chunk of fs.walkChunks('d3')) sub.push(...chunk.map((e) => e.path));
    assert.deepEqual(sub, one.filter((p) => p === '/d3' || p.startsWith('/d3/')));
    await fs.close();
  });

  it('files that share fragment blocks read the same through a cache of one block and of many', async () => {
    const big = await open(join(tmp, 'tree-128k.sqfs'));
    const small = await open(join(tmp, 'tree-128k.sqfs'), { fragmentCacheBytes: 1 });
    assert.ok(big.superblock.fragments >= 5, `${big.superblock.fragments} fragment blocks`);
    const sharing = new Map<number, number>();
    for await (const { path, inode } of big.walk()) {
      if (inode.kind !== 'file') continue;
      if (inode.fragment !== undefined) sharing.set(inode.fragment, (sharing.get(inode.fragment) ?? 0) + 1);
      const want = readFileSync(join(tmp, 'tree', path));
      assert.deepEqual(Buffer.from(await big.readFile(inode)), want, path);
      assert.deepEqual(Buffer.from(await small.readFile(inode)), want, path);
      // the tail as the extractor takes it, from the cache when it is there
      const tail = big.tailNow(inode) ?? (await big.readTail(inode));
      assert.deepEqual(Buffer.from(tail), want.subarray(want.length - tail.length), path);
    }
    assert.ok(Math.max(...sharing.values()) >= 20, 'fragment blocks are shared by many files');
    await big.close();
    await small.close();
  });

  it('read-ahead gives the same chunks as reading one block at a time', async () => {
    const fs = await open(img());
    const inode = await fs.lookup('big');
    const plain = [], ahead = [];
    for await (const c of fs.createReadStream(inode)) plain.push(Buffer.from(c));
    for await (const c of fs.createReadStream(inode, { ahead: 6 })) ahead.push(Buffer.from(c));
    assert.ok(plain.length > 500);
    assert.deepEqual(ahead, plain);
    assert.deepEqual(Buffer.concat(plain), readFileSync(join(tmp, 'tree/big')));
    await fs.close();
  });

  it('extracts as unsquashfs -d does, with and without decoder threads, with a small fragment cache', async () => {
    for (const [f, ref] of [['tree-4k.sqfs', 'ref-4k'], ['tree-128k.sqfs', 'ref-128k']]) {
      const want = entries(snapshotHost(join(tmp, ref!)));
      for (const [how, d] of DECODERS) {
        const to = join(tmp, `out-${f}-${how}`);
        assert.deepEqual(entries(await extracted(join(tmp, f!), to, d, { fragmentCacheBytes: 1 })), want, `${f}, ${how}`);
        // the hole stays a hole
        const blocks = Number(sh('stat', ['-c', '%b', join(to, 'big')]));
        assert.ok(blocks * 512 < 2_548_576 + (1 << 20), `big allocates ${blocks * 512} bytes`);
      }
    }
  });

  it('extracting over a folder with entries in the way replaces them, never following a link, however the entries are made', async () => {
    const want = entries(snapshotHost(join(tmp, 'ref-128k')));
    for (const [how, d] of DECODERS) {
      const to = join(tmp, `over-${how}`), victim = join(tmp, `victim-${how}`), victimDir = join(tmp, `victim-dir-${how}`);
      writeFileSync(victim, 'victim');
      mkdirSync(victimDir);
      for (const sub of ['d0', 'd1', 'd2']) mkdirSync(join(to, sub), { recursive: true });
      symlinkSync(victim, join(to, 'd0/f1')); // a file's name: a link out of the folder
      symlinkSync(victimDir, join(to, 'd3')); // a folder's name: a link to a folder outside
      mkdirSync(join(to, 'd1/f2')); // a file's name: a folder with something in it
      writeFileSync(join(to, 'd1/f2/inner'), 'x');
      writeFileSync(join(to, 'd2/f3'), 'old content', { mode: 0o444 });
      writeFileSync(join(to, 'link'), 'a file where the image has a symlink');
      symlinkSync(victim, join(to, 'd2/f4.link')); // not in the image: left alone
      const got = await extracted(join(tmp, 'tree-128k.sqfs'), to, d);
      assert.equal(readlinkSync(join(to, 'd2/f4.link')), victim, how);
      got.delete('/d2/f4.link');
      assert.deepEqual(entries(got), want, how);
      assert.equal(readFileSync(victim, 'utf8'), 'victim', how);
      assert.deepEqual(readdirSync(victimDir), [], how);
    }
  });

  it('a symlink whose target holds a NUL byte fails the extraction with the same clear error, native or not', async () => {
    const src = join(tmp, 'nul-src'), image = join(tmp, 'nul.sqfs');
    mkdirSync(src);
    symlinkSync('abcXdef', join(src, 'l'));
    writeFileSync(join(src, 'f'), 'x');
    sh('mksquashfs', [src, image, '-noappend', '-quiet', '-no-progress', '-noI', '-noD', '-noF', '-noX', '-mkfs-time', String(TIME)]);
    const bytes = readFileSync(image);
    bytes[bytes.indexOf('abcXdef') + 3] = 0;
    writeFileSync(image, bytes);
    for (const [how, d] of DECODERS) {
      const to = join(tmp, `nul-out-${how}`);
      await assert.rejects(extracted(image, to, d), /^Error: \/l: a symlink target with a NUL byte in it \("abc\\u0000def"\) cannot be created$/, how);
      assert.ok(!existsSync(join(to, 'l')), how);
    }
    // a folder that was there where the failing entry goes, and a file the run replaced, stay: a
    // failed run removes only what it made where nothing was
    for (const [how, d] of DECODERS) {
      const to = join(tmp, `nul-over-${how}`);
      mkdirSync(join(to, 'l'), { recursive: true });
      writeFileSync(join(to, 'l', 'keep'), 'precious');
      writeFileSync(join(to, 'f'), 'mine');
      writeFileSync(join(to, 'other'), 'other');
      await assert.rejects(extracted(image, to, d), /a symlink target with a NUL byte/, how);
      assert.equal(readFileSync(join(to, 'l', 'keep'), 'utf8'), 'precious', how);
      assert.deepEqual(readdirSync(to).sort(), ['f', 'l', 'other'], how);
    }
    // an output folder named through a folder made on the way and "..": neither is left
    const via = join(tmp, 'nul-via');
    await assert.rejects(extracted(image, join(via, 'new', '..', 'out'), DECODERS[0]![1]), /NUL byte/);
    assert.ok(!existsSync(via), 'nothing made on the way is left');
  });

  it('a file that cannot be written fails the extraction with the system\'s error and is not left part-written, native or not', () => {
    ensureBuilt('dist/cli/squashfs.js');
    // a 100 KB file held in a fragment (after 300 small ones in the same block, so it is made with
    // the block in memory) and a 300 KB one in blocks, under a 64 KiB RLIMIT_FSIZE (SIGXFSZ
    // ignored, as the shell passes it on): EFBIG from write
    const src = join(tmp, 'fsize-src'), image = join(tmp, 'fsize.sqfs');
    mkdirSync(src);
    writeFileSync(join(src, 'a-small'), 'small');
    for (let i = 0; i < 300; i++) writeFileSync(join(src, `a${String(i).padStart(3, '0')}`), `file ${i}`);
    writeFileSync(join(src, 'b-tail'), seeded(100_000, 11));
    writeFileSync(join(src, 'c-blocks'), seeded(300_000, 12));
    sh('mksquashfs', [src, image, '-noappend', '-quiet', '-no-progress', '-mkfs-time', String(TIME)]);
    const bin = join(root, 'bin/squashfs');
    for (const [how, env] of [['native', {}], ['IMGKIT_NATIVE=0', { IMGKIT_NATIVE: '0' }]] as const) {
      const to = join(tmp, `fsize-out-${how.replace(/\W/g, '')}`);
      const r = spawnSync('sh', ['-c', `trap '' XFSZ; ulimit -f 64; exec "$0" extract "$1" "$2"`, bin, image, to], { encoding: 'utf8', env: { ...process.env, ...env } });
      assert.equal(r.status, 1, `${how}: ${r.stderr}`);
      assert.match(r.stderr, /EFBIG: file too large, write/, how);
      assert.ok(!existsSync(to), `${how}: nothing is left, not even the files written whole`);
    }
  });

  // in a user namespace that maps only root, chown to any other uid fails (EINVAL)
  const userns = spawnSync('unshare', ['-U', '-r', 'true']).status === 0;
  it('an entry whose owner cannot be set fails the extraction and is not left behind, native or not', { skip: !userns && 'unshare -U -r is not allowed here' }, () => {
    const src = join(tmp, 'owner-src'), image = join(tmp, 'owner.sqfs');
    mkdirSync(src);
    writeFileSync(join(src, 'f'), 'data');
    symlinkSync('f', join(src, 'l'));
    sh('mksquashfs', [src, image, '-noappend', '-quiet', '-no-progress', '-mkfs-time', String(TIME), '-force-uid', '1234']);
    const bin = join(root, 'bin/squashfs');
    for (const [how, env] of [['native', {}], ['IMGKIT_NATIVE=0', { IMGKIT_NATIVE: '0' }]] as const) {
      const to = join(tmp, `owner-out-${how.replace(/\W/g, '')}`);
      const r = spawnSync('unshare', ['-U', '-r', bin, 'extract', image, to], { encoding: 'utf8', env: { ...process.env, ...env } });
      assert.equal(r.status, 1, `${how}: ${r.stderr}`);
      assert.match(r.stderr, /EINVAL/, how);
      assert.ok(!existsSync(to), `${how}: neither the file nor the link nor the output folder is left`);
    }
  });

  it('fragment blocks are decoded ahead of the walk, each once; with a one-block cache none ahead', async () => {
    for (const [how, d] of DECODERS) {
      for (const cache of [undefined, 1]) {
        const fs = await open(join(tmp, 'tree-128k.sqfs'), cache === undefined ? {} : { fragmentCacheBytes: cache });
        const decoded = new Map<number, number>();
        const entry = fs.fragmentEntry.bind(fs);
        fs.fragmentEntry = (k: number) => (decoded.set(k, (decoded.get(k) ?? 0) + 1), entry(k)); // called once per block decoded, not on a cache hit
        // a block asked for before the walk reached any of its files is read ahead
        const reached = new Set<number>();
        const tailNow = fs.tailNow.bind(fs);
        fs.tailNow = (i) => (i.fragment !== undefined && reached.add(i.fragment), tailNow(i));
        const ahead: number[] = [];
        const block = fs.fragmentBlock.bind(fs);
        let pending = 0;
        fs.fragmentBlock = (k: number) => {
          if (!reached.has(k)) ahead.push(k);
          pending++;
          return block(k).finally(() => pending--);
        };
        try {
          await extractSquashfs(fs, join(tmp, `ahead-${how}-${cache ?? 'default'}`), d);
          assert.equal(pending, 0, `${how}: no block is still being read when extraction ends (the image may be closed next)`);
        } finally {
          await fs.close();
        }
        assert.equal(decoded.size, fs.superblock.fragments, `${how}: every fragment block`);
        if (cache === undefined) assert.deepEqual([...decoded.values()].filter((n) => n !== 1), [], `${how}: each once`);
        // the two blocks after the first file's are read ahead, only with a cache to hold them
        if (cache === undefined) assert.deepEqual(ahead.slice(0, 2), [1, 2], `${how}: read ahead ${ahead.join(', ')}`);
        else assert.deepEqual(ahead, [], `${how}, cache 1: read ahead ${ahead.join(', ')}`);
      }
      // one folder whose files lie in the first block, the blocks ahead slow to come: extraction
      // ends only once they have, because they read the image, which the caller closes next
      const fs = await open(join(tmp, 'tree-128k.sqfs'));
      const inFirst = (await fs.readdir(await fs.lookup('d0'))).length;
      assert.ok(inFirst > 0);
      const block = fs.fragmentBlock.bind(fs);
      let pending = 0;
      fs.fragmentBlock = (k: number) => {
        pending++;
        return block(k).then(
          (b) => new Promise<Uint8Array>((r) => setTimeout(() => r(b), k === 0 ? 0 : 100))).finally(() => pending--);
      };
      try {
        await extractSquashfs(fs, join(tmp, `ahead-slow-${how}`), { ...d, path: 'd0' });
        assert.equal(pending, 0, `${how}: a block ahead is still being read`);
      } finally {
        await fs.close();
      }
    }
  });

  it('decoder threads read every compressor as the calling thread does (synchronous and asynchronous codecs)', async () => {
    for (const comp of ['xz', 'lz4', 'zstd', 'gzip']) {
      const f = join(tmp, `tree-${comp}.sqfs`);
      sh('mksquashfs', [join(tmp, 'tree'), f, '-noappend', '-quiet', '-no-progress', '-b', '16384', '-comp', comp, '-mkfs-time', String(TIME)]);
      const want = entries(snapshotHost(join(tmp, 'ref-4k')));
      for (const [how, d] of DECODERS) assert.deepEqual(entries(await extracted(f, join(tmp, `out-${comp}-${how}`), d)), want, `${comp}, ${how}`);
    }
  });

  it('a decoder thread refuses a block that does not decode, and answers a failed write with its own error', async () => {
    const { DecodePool, WriteError } = await import('../../src/squashfs/decode-pool.js');
    const { deflateSync } = await import('node:zlib');
    const pool = new DecodePool('gzip', {}, 4096, 1);
    try {
      const data = seeded(3000, 9);
      assert.deepEqual(await pool.decode(new Uint8Array(deflateSync(data)), 4096), data);
      const refused = (e: unknown) => e instanceof Error && !(e instanceof WriteError);
      await assert.rejects(pool.decode(new Uint8Array([0x78, 0x9c, 1, 2, 3]), 4096), refused);
      await assert.rejects(pool.decode(new Uint8Array(deflateSync(data)), 2000), refused, 'past max');
      await assert.rejects(pool.decodeTo(new Uint8Array([0x78, 0x9c, 1, 2, 3]), 4096, 987_654, 0), refused, 'nothing to write');
      await assert.rejects(pool.decodeTo(new Uint8Array(deflateSync(data)), 4096, 987_654, 0), (e: unknown) => e instanceof WriteError && e.code === 'EBADF');
    } finally {
      await pool.close();
    }
  });

  it('the native decoder refuses a block that does not decode, and answers a failed write with the write\'s error', { skip: !nativeCodecs()?.decodeAsync && 'the native codecs are not built' }, async () => {
    const { nativeDecoder, WriteError } = await import('../../src/squashfs/decode-pool.js');
    const { deflateSync } = await import('node:zlib');
    const d = nativeDecoder('gzip')!;
    const data = seeded(3000, 9);
    assert.deepEqual(new Uint8Array(await d.decode(new Uint8Array(deflateSync(data)), 4096)), data);
    const refused = (e: unknown) => e instanceof Error && !(e instanceof WriteError);
    await assert.rejects(d.decode(new Uint8Array([0x78, 0x9c, 1, 2, 3]), 4096), refused);
    await assert.rejects(d.decode(new Uint8Array(deflateSync(data)), 2000), refused, 'past max');
    await assert.rejects(d.decodeTo(new Uint8Array([0x78, 0x9c, 1, 2, 3]), 4096, 987_654, 0), refused, 'nothing to write');
    await assert.rejects(d.decodeTo(new Uint8Array(deflateSync(data)), 4096, 987_654, 0), (e: unknown) => e instanceof WriteError && e.code === 'EBADF' && e.errno === -9 && /^EBADF: bad file descriptor, write$/.test(e.message));
    assert.equal(nativeDecoder('lzo'), undefined);
  });

  it('a data block that does not decode fails extraction with the same FormatError with or without decoder threads, native or not', async () => {
    const bytes = new Uint8Array(readFileSync(img()));
    const fs = await openSquashfs(bytesAccess(bytes, 'squashfs'));
    const blocks = fs.dataBlocks(await fs.lookup('big')).filter((b) => blockDiskSize(b.word) > 100 && !(b.word & (1 << 24)));
    const b = blocks[Math.floor(blocks.length / 2)]!;
    const bad = bytes.slice();
    for (let i = 10; i < 60; i++) bad[b.at + i]! ^= 0x5a;
    const bad1 = join(tmp, 'bad.sqfs');
    writeFileSync(bad1, bad);
    await failsAlike(bad1, (how) => join(tmp, `bad-out-${how}`, 'a', 'b'), DECODERS, (how, _e, to) =>
      assert.ok(!existsSync(join(tmp, `bad-out-${how}`)), `${how}: nothing is left, not even the folders made on the way to the output folder`));
    // into a folder that was there: what was in it stays as it was (a folder the image also has
    // included), and nothing of the image is left
    const mine = (how: string) => join(tmp, `bad-over-${how}`);
    for (const [how] of DECODERS) {
      mkdirSync(join(mine(how), 'd1'), { recursive: true });
      writeFileSync(join(mine(how), 'd1', 'mine'), 'mine');
      writeFileSync(join(mine(how), 'other'), 'other');
    }
    await failsAlike(bad1, mine, DECODERS, (how, _e, to) => {
      assert.deepEqual(readdirSync(to).sort(), ['d1', 'other'], how);
      assert.deepEqual(readdirSync(join(to, 'd1')), ['mine'], how);
      assert.equal(readFileSync(join(to, 'd1', 'mine'), 'utf8'), 'mine', how);
    });
  });
});

describe('squashfs: a fragment block that does not decode', { skip: skipWithout('mksquashfs') }, () => {
  it('fails extraction with the same FormatError with or without decoder threads, native or not, and its files are not made', async (t) => {
    const dir = tempDir('imgkit-sqfs-badfrag-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    makeTree(join(dir, 'tree'));
    const good = join(dir, 'good.sqfs'), bad = join(dir, 'bad.sqfs');
    sh('mksquashfs', [join(dir, 'tree'), good, '-noappend', '-quiet', '-no-progress', '-mkfs-time', String(TIME)]);
    const bytes = new Uint8Array(readFileSync(good));
    const fs = await openSquashfs(bytesAccess(bytes, 'squashfs'));
    const e = await fs.fragmentEntry(1);
    const inFragment: string[] = [];
    for await (const { path, inode } of fs.walk()) if (inode.kind === 'file' && inode.fragment === 1) inFragment.push(path);
    assert.ok(inFragment.length > 10 && blockDiskSize(e.size) > 200 && !(e.size & (1 << 24)));
    for (let i = 20; i < 120; i++) bytes[e.start + i]! ^= 0x5a;
    writeFileSync(bad, bytes);
    await failsAlike(bad, (how) => join(dir, `out-${how}`), [...DECODERS, ONE_THREAD], (how, _e, to) => {
      for (const p of inFragment) assert.ok(!existsSync(join(to, p)), `${how}: ${p}`);
    });
  });
});

describe('squashfs: a file whose tail runs past its fragment block', { skip: skipWithout('mksquashfs') }, () => {
  it('fails extraction with the same FormatError with or without decoder threads, native or not, and is not made', async (t) => {
    const dir = tempDir('imgkit-sqfs-badtail-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'tree'));
    for (const [name, size] of [['a', 300], ['b', 777], ['c', 500]] as const) writeFileSync(join(dir, 'tree', name), seeded(size, size));
    const good = join(dir, 'good.sqfs'), bad = join(dir, 'bad.sqfs');
    // -noI: the inode table is stored as it is, so b's inode can be found and changed in place
    sh('mksquashfs', [join(dir, 'tree'), good, '-noappend', '-quiet', '-no-progress', '-noI', '-mkfs-time', String(TIME)]);
    const bytes = new Uint8Array(readFileSync(good));
    const fs = await openSquashfs(bytesAccess(bytes, 'squashfs'));
    let b: SquashfsInode | undefined;
    for await (const { path, inode } of fs.walk()) if (path === '/b') b = inode;
    assert.ok(b?.kind === 'file' && b.fragment !== undefined);
    const block = await fs.fragmentBlock(b.fragment!);
    const { inodeTableStart, directoryTableStart } = fs.superblock;
    const le = (...words: number[]) => Buffer.from(new Uint32Array(words).buffer);
    const at = Buffer.from(bytes.subarray(Number(inodeTableStart), Number(directoryTableStart))).indexOf(le(b.fragment!, b.fragmentOffset, 777));
    assert.ok(at >= 0 && block.length === 1577);
    bytes.set(le(block.length - 100), Number(inodeTableStart) + at + 4); // its 777 bytes now start 100 before the block's end
    writeFileSync(bad, bytes);
    await failsAlike(bad, (how) => join(dir, `out-${how}`), [...DECODERS, ONE_THREAD], (how, err, to) => {
      assert.match(err.message, /Cannot read file tail/, how);
      assert.ok(!existsSync(join(to, 'b')), how);
    });
  });
});

/** A host tree as bytes: relative name bytes (hex) → kind, size, link target bytes (hex). */
function rawTree(dir: Buffer, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir, { encoding: 'buffer' })) {
    const p = Buffer.concat([dir, Buffer.from('/'), name]);
    const r = `${rel}/${name.toString('hex')}`;
    const st = lstatSync(p);
    out.push(`${r} ${st.isDirectory() ? 'd' : st.isSymbolicLink() ? `l ${readlinkSync(p, { encoding: 'buffer' }).toString('hex')}` : `f ${st.size}`}`);
    if (st.isDirectory()) out.push(...rawTree(p, r));
  }
  return out.sort();
}

describe('squashfs: extraction never leaves the folder, whatever the names', { skip: skipWithout('mksquashfs', 'unsquashfs') }, () => {
  let dir = '';
  before(() => {
    dir = tempDir('imgkit-sqfs-names-');
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('names that are not UTF-8 reach the host as their bytes: two that decode alike stay two, nothing outside changes', async () => {
    const src = Buffer.from(join(dir, 'src'));
    const outside = join(dir, 'outside');
    mkdirSync(join(outside, 'sub'), { recursive: true });
    utimesSync(join(outside, 'sub'), 1000, 1000);
    utimesSync(outside, 1000, 1000);
    mkdirSync(src);
    const at = (...names: (string | number)[]) => Buffer.concat([src, ...names.map((n) => Buffer.concat([Buffer.from('/'), typeof n === 'number' ? Buffer.of(n) : Buffer.from(n)]))]);
    // a folder 0xfe, then a symlink 0xff out of the folder (both decode to U+FFFD), a folder 0xfd
    // with the same two inside it, a file named in Latin-1, a hard link pair
    mkdirSync(at(0xfe), { mode: 0o700 });
    writeFileSync(at(0xfe, 'x'), 'in fe');
    symlinkSync(outside, at(0xff));
    mkdirSync(at(0xfd));
    mkdirSync(at(0xfd, 0xfe));
    symlinkSync(outside, at(0xfd, 0xff));
    writeFileSync(at('café'), 'utf-8');
    writeFileSync(Buffer.concat([src, Buffer.from('/caf'), Buffer.of(0xe9)]), 'latin-1');
    linkSync(Buffer.concat([src, Buffer.from('/caf'), Buffer.of(0xe9)]), at('hard'));
    const img = join(dir, 'names.sqfs');
    sh('mksquashfs', [src.toString(), img, '-noappend', '-quiet', '-no-progress', '-mkfs-time', String(TIME)]);
    const ref = join(dir, 'ref');
    sh('unsquashfs', ['-q', '-n', '-d', ref, img]);
    const want = rawTree(Buffer.from(ref));
    assert.ok(want.some((l) => l.startsWith('/fe ')) && want.some((l) => l.startsWith('/ff l')), 'the reference has both names');
    const was = [statSync(outside), statSync(join(outside, 'sub'))].map((st) => [st.mode, st.mtimeMs]);
    for (const [how, d] of DECODERS) {
      const to = join(dir, `out-${how}`);
      const fs = await open(img);
      try {
        await extractSquashfs(fs, to, d);
      } finally {
        await fs.close();
      }
      assert.deepEqual(rawTree(Buffer.from(to)), want, how);
    }
    assert.deepEqual([statSync(outside), statSync(join(outside, 'sub'))].map((st) => [st.mode, st.mtimeMs]), was);
    assert.deepEqual(readdirSync(outside), ['sub']);
  });

  it('a symlink with an empty target and an xattr set larger than Linux takes are skipped with a warning', async () => {
    const root: SourceInode = {
      kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: TIME,
      entries: [
        { name: 'empty', inode: { kind: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: TIME, target: '' } },
        { name: 'big', inode: { kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: TIME, content: Uint8Array.of(1), size: 1, xattrs: Array.from({ length: 20 }, (_, i) => ({ name: `user.a${String(i).padStart(2, '0')}`, value: new Uint8Array(4000) })) } },
        { name: 'ok', inode: { kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: TIME, content: Uint8Array.of(2), size: 1 } },
      ],
    };
    const sink = memorySink();
    await writeSquashfs(sink, root, {});
    const fs = await openSquashfs(bytesAccess(sink.bytes(), 'squashfs'));
    const warnings: string[] = [];
    const to = join(dir, 'skips');
    const r = await extractSquashfs(fs, to, { onWarning: (m) => warnings.push(m) });
    assert.equal(r.skipped, 1);
    assert.ok(warnings.some((w) => /\/empty: .*empty target/.test(w)), warnings.join('\n'));
    assert.ok(warnings.some((w) => /\/big: 80160 bytes of xattrs/.test(w)), warnings.join('\n'));
    assert.deepEqual(readdirSync(to).sort(), ['big', 'ok']);
  });
});
