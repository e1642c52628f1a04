/**
 * Long block lists: a file's list of block size words (4 bytes per block: 16 GiB of holes in 4 KiB
 * blocks is 16 MiB of zeros, a few KiB once compressed) is decoded and checked once per inode, not
 * once per name of it, and is never made into objects per block. The writer's image: 1000 hard
 * links to one 64 MiB file of holes, and a file of holes that ends in data; walk, both listings and
 * extraction against each other and against unsquashfs. An image made here by hand: files of
 * 512 MiB of holes, more block-list entries together than a walk chunk holds.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StreamPayload } from '../../src/bytes/payload.js';
import { bytesAccess } from '../../src/bytes/random.js';
import { memorySink } from '../../src/bytes/sink.js';
import { DirBuilder } from '../../src/squashfs/dir.js';
import { extractSquashfs } from '../../src/squashfs/extract.js';
import { EAGER_BLOCKS, encodeInode, type SquashfsInode } from '../../src/squashfs/inode.js';
import { INODE, SUPERBLOCK_SIZE } from '../../src/squashfs/layout.js';
import { listingBytes } from '../../src/squashfs/list.js';
import { openSquashfs, type OpenOptions, type Squashfs } from '../../src/squashfs/read.js';
import { longListingChunks } from '../../src/squashfs/text.js';
import type { SourceEntry, SourceInode } from '../../src/squashfs/tree.js';
import { writeSquashfs } from '../../src/squashfs/write.js';
import { ensureBuilt, requireTools, root, skipWithout, tempDir } from '../helpers.js';
import { TIME } from './fixture.js';
import { HandImage, INODE_DEFAULTS } from './handmade.js';

const BS = 4096;
const LINKS = 1000;
const SHARED_BLOCKS = (64 << 20) / BS;
const td = new TextDecoder();
const te = new TextEncoder();

/** `size` bytes of zeros (holes in the image), then `tail`. */
function holes(size: number, tail = new Uint8Array(0)): StreamPayload {
  const zeros = new Uint8Array(1 << 20);
  return {
    size: size + tail.length,
    async *chunks() {
      for (let n = 0; n < size; n += zeros.length) yield zeros.subarray(0, Math.min(zeros.length, size - n));
      if (tail.length) yield tail;
    },
  };
}

const file = (content: StreamPayload): SourceInode => ({ kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: TIME, content, size: content.size });
const dir = (entries: SourceEntry[]): SourceInode => ({ kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: TIME, entries });

async function image(): Promise<Uint8Array> {
  const shared = file(holes(SHARED_BLOCKS * BS));
  const tree = dir([
    { name: 'shared', inode: dir(Array.from({ length: LINKS }, (_, i) => ({ name: `f${String(i).padStart(4, '0')}`, inode: shared }))) },
    { name: 'tail', inode: file(holes(SHARED_BLOCKS * BS, new Uint8Array(5000).fill(7))) },
  ]);
  const sink = memorySink();
  await writeSquashfs(sink, tree, { blockSize: BS, pad: false });
  return sink.bytes();
}

/**
 * A root holding `count` files of `blocks` holes each, gzip, made here: the writer makes an object
 * per block of a file it is given as size words, and this many would take it seconds.
 */
/**
 * `count` files of `blocks` blocks in 4 KiB blocks, made by hand: holes, and with `tail`, a last
 * block of those bytes stored uncompressed (one block of data that every file shares). The lists
 * are written a MiB at a time, never held.
 */
async function holesImage(count: number, blocks: number, tail?: Uint8Array): Promise<Uint8Array> {
  const img = new HandImage(BS);
  const listing = new DirBuilder();
  const data = tail ?? new Uint8Array(0);
  const last = new Uint8Array(4);
  new DataView(last.buffer).setUint32(0, data.length | (1 << 24), true);
  const holes = tail ? blocks - 1 : blocks;
  for (let i = 1; i <= count; i++) {
    const ref = await img.inodes.ref();
    const size = holes * BS + data.length;
    await img.inodes.append(encodeInode({ ...INODE_DEFAULTS, type: INODE.LREG, inodeNumber: i, size, startBlock: SUPERBLOCK_SIZE, sparse: holes * BS }));
    await HandImage.zeros(img.inodes, holes * 4);
    if (tail) await img.inodes.append(last);
    listing.add(te.encode(`g${String(i).padStart(3, '0')}`), 'file', ref, i, INODE.FILE);
  }
  const list = listing.finish();
  const at = await img.dirs.ref();
  await img.dirs.append(list);
  const rootInode = await img.inodes.ref();
  await img.inodes.append(encodeInode({ ...INODE_DEFAULTS, type: INODE.DIR, mode: 0o755, inodeNumber: count + 1, nlink: 2, startBlock: at.block, offset: at.offset, size: list.length + 3, parent: count + 2 }));
  return img.assemble(rootInode, count + 1, data);
}

/** Calls of DataView.prototype.getUint32 (how the readers take block size words) while `run` runs. */
async function u32Reads(run: () => Promise<void>): Promise<number> {
  const get = DataView.prototype.getUint32;
  let calls = 0;
  DataView.prototype.getUint32 = function (this: DataView, at: number, le?: boolean) {
    calls++;
    return get.call(this, at, le);
  };
  try {
    await run();
  } finally {
    DataView.prototype.getUint32 = get;
  }
  return calls;
}

async function fastListing(fs: Squashfs, path: string, long: boolean): Promise<string> {
  let out = '';
  for await (const c of listingBytes(fs, path, 'squashfs-root', long)) out += td.decode(c);
  return out;
}

async function genericListing(fs: Squashfs, path: string, long: boolean): Promise<string> {
  let out = '';
  for await (const lines of longListingChunks(fs, path, 'squashfs-root', long)) if (lines.length) out += lines.join('\n') + '\n';
  return out;
}

/** Path, kind, size, link count and mode of everything under `root`, and what each file allocates. */
function hostTree(root: string): { lines: string[]; allocated: Map<string, number> } {
  const lines: string[] = [];
  const allocated = new Map<string, number>();
  const visit = (p: string, rel: string) => {
    const st = lstatSync(p);
    lines.push(`${rel} ${st.isDirectory() ? 'dir' : 'file'} ${st.isDirectory() ? '' : st.size} ${st.isDirectory() ? '' : st.nlink} ${(st.mode & 0o7777).toString(8)}`);
    if (st.isDirectory()) for (const c of readdirSync(p).sort()) visit(join(p, c), `${rel}/${c}`);
    else allocated.set(rel, st.blocks * 512);
  };
  visit(root, '');
  return { lines, allocated };
}

/** The tree unsquashfs -d makes of `dir/img` in `dir/ref`. */
function referenceTree(dir: string, img: string): { ref: string; want: ReturnType<typeof hostTree> } {
  requireTools('unsquashfs');
  const ref = join(dir, 'ref');
  const r = spawnSync('unsquashfs', ['-q', '-n', '-d', ref, join(dir, img)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { ref, want: hostTree(ref) };
}

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('squashfs: long block lists are read once per inode', () => {
  let img: Uint8Array = new Uint8Array(0);
  let tmp = '';
  const open = (o: OpenOptions = {}) => openSquashfs(bytesAccess(img, 'squashfs'), o);
  before(async () => {
    img = await image();
    tmp = tempDir('imgkit-sqfs-blocklist-');
    writeFileSync(join(tmp, 'img.sqfs'), img);
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  it('the names of one inode walk as one object, its block list decoded once, preloaded or not', async () => {
    for (const o of [{}, { maxTableBytes: 0 }]) {
      const fs = await open(o);
      const inodes = new Set();
      let names = 0;
      const reads = await u32Reads(async () => {
        for await (const { path, inode } of fs.walk('/shared')) {
          if (path === '/shared') continue;
          names++;
          inodes.add(inode);
          assert.equal(inode.blocks.length, SHARED_BLOCKS);
        }
      });
      assert.equal(names, LINKS);
      assert.equal(inodes.size, 1, JSON.stringify(o));
      assert.ok(reads < 2 * SHARED_BLOCKS + 100 * LINKS, `${reads} words read for ${LINKS} names of one ${SHARED_BLOCKS}-block list`);
    }
  });

  it('a walk chunk holds about a million block-list entries, however many entries it may hold', async () => {
    const count = 18, blocks = EAGER_BLOCKS; // the longest lists held: 17 of them pass 2^20 blocks
    const fs = await openSquashfs(bytesAccess(await holesImage(count, blocks), 'squashfs'));
    let chunks = 0, entries = 0;
    for await (const chunk of fs.walkChunks('/', 4096)) {
      chunks++;
      entries += chunk.length;
      // counted once per inode; the last entry is the one that took the chunk past the bound
      const lists = new Set(chunk.slice(0, -1).map((e) => e.inode.blocks));
      const held = [...lists].reduce((n, b) => n + b.length, 0);
      assert.ok(held <= 1 << 20, `a chunk holds ${held} block-list entries before its last entry`);
    }
    assert.equal(entries, 1 + count);
    assert.ok(chunks >= 2, `${chunks} chunks`);
  });

  it('ls and ls -l, without objects and by the generic walker, agree; the shared list is checked once', async () => {
    const fs = await open();
    for (const long of [true, false])
      for (const path of ['/', 'shared']) assert.equal(await fastListing(fs, path, long), await genericListing(await open(), path, long), `${path} ${long}`);
    let out = '';
    const reads = await u32Reads(async () => void (out = await fastListing(await open(), 'shared', true)));
    assert.equal(out.split('\n').length, LINKS + 3);
    assert.ok(reads < 2 * SHARED_BLOCKS + 100 * LINKS, `${reads} words read for ${LINKS} names of one ${SHARED_BLOCKS}-block list`);
  });

  it('a block list that does not match the file size is refused where it always was, by every reader', async () => {
    const fs = await open();
    const tail = await fs.lookup('tail');
    const n = tail.blocks.length, data = tail.blocks.reduce((sum, w) => sum + (w & 0xff_ffff), 0);
    assert.ok(n > SHARED_BLOCKS && data > 0);
    const cases: [SquashfsInode, number, string][] = [
      [{ ...tail, size: BS + 1 }, tail.startBlock, 'Cannot read file: more blocks than its size needs'],
      [{ ...tail, fragment: undefined, size: (n + 1) * BS }, tail.startBlock + data, `Cannot read file: its blocks hold ${n * BS} of ${(n + 1) * BS} bytes`],
    ];
    for (const [bad, offset, message] of cases) {
      const refused = { name: 'FormatError', code: 'BAD_FIELD', offset, detail: message };
      assert.throws(() => fs.checkDataBlocks(bad), refused);
      assert.throws(() => fs.dataBlocks(bad), refused);
      await assert.rejects(fs.createReadStream(bad).next(), refused);
    }
    fs.checkDataBlocks(tail);
  });

  it('ls -l prints what unsquashfs -lln prints', { skip: skipWithout('unsquashfs') }, async () => {
    requireTools('unsquashfs');
    const want = spawnSync('unsquashfs', ['-lln', '-UTC', join(tmp, 'img.sqfs')], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;
    assert.equal(await fastListing(await open(), '/', true), want);
  });

  it('extraction takes blocks from the list as it goes: the tree and sizes of unsquashfs -d, holes kept', { skip: skipWithout('unsquashfs') }, async () => {
    const { ref, want } = referenceTree(tmp, 'img.sqfs');
    for (const threads of [0, 2]) {
      const fs = await open();
      let listed = 0;
      const dataBlocks = fs.dataBlocks.bind(fs);
      fs.dataBlocks = (i) => (listed++, dataBlocks(i));
      const to = join(tmp, `out-${threads}`);
      await extractSquashfs(fs, to, { threads });
      assert.equal(listed, 0, 'no file has its block list made into objects');
      const got = hostTree(to);
      assert.deepEqual(got.lines, want.lines);
      for (const [p, n] of got.allocated) assert.ok(n <= 1 << 20, `${p} allocates ${n} bytes`);
      assert.equal(sha(join(to, 'tail')), sha(join(ref, 'tail')));
      rmSync(to, { recursive: true, force: true });
    }
  });
});

describe('squashfs: block lists longer than EAGER_BLOCKS stay in the inode table until the data is read', () => {
  const LONG = EAGER_BLOCKS + 4000; // 272 MiB in 4 KiB blocks: holes, then a block of data
  const TAIL = Uint8Array.from({ length: 3000 }, (_, k) => (k * 7 + 1) & 0xff);
  let img: Uint8Array = new Uint8Array(0);
  let tmp = '';
  const open = () => openSquashfs(bytesAccess(img, 'squashfs'));
  before(async () => {
    img = await holesImage(2, LONG, TAIL);
    tmp = tempDir('imgkit-sqfs-longlist-');
    writeFileSync(join(tmp, 'long.sqfs'), img);
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  it('the inode says where its list is, and walking and listing read none of it', async () => {
    const fs = await open();
    const i = await fs.lookup('g001');
    assert.equal(i.blocks.length, 0);
    assert.equal(i.blockCount, LONG);
    assert.ok(i.blockList);
    for (const long of [true, false]) {
      let fast = '', generic = '';
      const reads = await u32Reads(async () => {
        fast = await fastListing(await open(), '/', long);
        generic = await genericListing(await open(), '/', long);
      });
      assert.equal(fast, generic);
      assert.ok(reads < 1000, `${reads} words read to list two ${LONG}-block files`);
    }
  });

  it('ls -l prints what unsquashfs -lln prints', { skip: skipWithout('unsquashfs') }, async () => {
    requireTools('unsquashfs');
    const want = spawnSync('unsquashfs', ['-lln', '-UTC', join(tmp, 'long.sqfs')], { encoding: 'utf8' }).stdout;
    assert.equal(await fastListing(await open(), '/', true), want);
  });

  it('blockRuns reads the list in pieces, checked; blockAt starts from the middle; blockWords holds it for appending', async () => {
    const fs = await open();
    const i = await fs.lookup('g002');
    let n = 0, last: { pos: number; word: number } | undefined;
    for await (const r of fs.blockRuns(i)) {
      assert.equal(r.first, n);
      assert.ok(r.words.length <= 8192);
      n += r.words.length;
      last = { pos: r.pos, word: r.words[r.words.length - 1]! };
    }
    assert.equal(n, LONG);
    assert.deepEqual(last, { pos: SUPERBLOCK_SIZE, word: TAIL.length | (1 << 24) });
    for (const k of [LONG - 1, 50_000, 5, LONG - 1])
      assert.deepEqual(await fs.blockAt(i, k), { at: SUPERBLOCK_SIZE, word: k === LONG - 1 ? TAIL.length | (1 << 24) : 0, size: k === LONG - 1 ? TAIL.length : BS });
    assert.equal(await fs.blockAt(i, LONG), undefined);
    let from = 0;
    for await (const r of fs.blockRuns(i, 60_001)) from ||= r.first;
    assert.equal(from, 60_001);
    assert.throws(() => fs.dataBlocks(i), RangeError);
    const words = await fs.blockWords(i);
    assert.equal(words.length, LONG);
    assert.equal(words[LONG - 1], TAIL.length | (1 << 24));
  });

  it('createReadStream gives the holes as zeros, then the data', async () => {
    const fs = await open();
    const zeros = Buffer.alloc(BS);
    let size = 0, nonZero = 0, end = new Uint8Array(0);
    for await (const c of fs.createReadStream('g001', { ahead: 2 })) {
      size += c.length;
      if (size <= (LONG - 1) * BS) nonZero += zeros.equals(c) ? 0 : 1;
      else end = new Uint8Array(c);
    }
    assert.equal(size, (LONG - 1) * BS + TAIL.length);
    assert.equal(nonZero, 0);
    assert.deepEqual(end, TAIL);
  });

  it('extraction writes the files sparse, as unsquashfs -d does', { skip: skipWithout('unsquashfs') }, async () => {
    const { ref, want } = referenceTree(tmp, 'long.sqfs');
    for (const threads of [0, 2]) {
      const to = join(tmp, `out-${threads}`);
      await extractSquashfs(await open(), to, { threads });
      const got = hostTree(to);
      assert.deepEqual(got.lines, want.lines);
      for (const [p, n] of got.allocated) assert.ok(n <= 1 << 20, `${p} allocates ${n} bytes`);
      for (const f of ['g001', 'g002']) assert.equal(sha(join(to, f)), sha(join(ref, f)));
      rmSync(to, { recursive: true, force: true });
    }
  });

  it('ls -l of a 256 GiB file of holes (a 256 MiB list) runs in bounded memory', { skip: skipWithout('/usr/bin/time') }, async () => {
    ensureBuilt('dist/cli/squashfs.js');
    const path = join(tmp, 'huge.sqfs');
    writeFileSync(path, await holesImage(1, 1 << 26));
    const r = spawnSync('/usr/bin/time', ['-f', '%M', join(root, 'bin/squashfs'), 'ls', '-l', path], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, / 274877906944 \S+ \S+ squashfs-root\/g001\n$/);
    const kib = Number(r.stderr.trim().split('\n').pop());
    assert.ok(kib < 400 * 1024, `peak RSS ${kib} KiB`); // held, the list alone would take 512 MiB
  });
});

describe('squashfs: a long block list read through the ZenFS backend', () => {
  it('reads the data after 69,536 blocks of holes, and holes from the middle', async () => {
    const LONG = EAGER_BLOCKS + 4000;
    const TAIL = Uint8Array.from({ length: 3000 }, (_, k) => (k * 5 + 3) & 0xff);
    const { configure, fs, umount } = await import('@zenfs/core');
    const { SquashFS } = await import('../../src/squashfs/zenfs.js');
    await configure({ mounts: { '/long': { backend: SquashFS, data: await holesImage(1, LONG, TAIL) } } });
    try {
      const size = (LONG - 1) * BS + TAIL.length;
      assert.equal((await fs.promises.stat('/long/g001')).size, size);
      const h = await fs.promises.open('/long/g001', 'r');
      try {
        const end = new Uint8Array(TAIL.length + 10);
        const r = await h.read(end, 0, end.length, size - end.length);
        assert.equal(r.bytesRead, end.length);
        assert.deepEqual(end.subarray(10), TAIL);
        assert.deepEqual(end.subarray(0, 10), new Uint8Array(10));
        const middle = new Uint8Array(BS * 2).fill(9);
        await h.read(middle, 0, middle.length, 40_000 * BS + 17);
        assert.deepEqual(middle, new Uint8Array(BS * 2));
      } finally {
        await h.close();
      }
    } finally {
      umount('/long');
    }
  });
});
