/**
 * The native listing (native/sqlist.c, `squashfs ls [-l] IMG` on the command line) against its
 * reference, src/squashfs/list.ts: wherever the addon returns a listing, list.ts prints the same
 * bytes and no error; wherever list.ts would fail, the addon returns nothing. Checked on good
 * images of every writer and compressor, on every bad/ fixture, and on images with random bytes
 * flipped anywhere past the data (tables, indexes, superblock).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { bytesAccess } from '../../src/bytes/random.js';
import { memorySink } from '../../src/bytes/sink.js';
import { nativeCodecs } from '../../src/codec/native.js';
import { listingBytes } from '../../src/squashfs/list.js';
import { openSquashfs } from '../../src/squashfs/read.js';
import { writeSquashfs, type WriteOptions } from '../../src/squashfs/write.js';
import type { SourceInode } from '../../src/squashfs/tree.js';
import { badImages, listingTree } from './bad.js';
import { makeFeatureTree } from './fixture.js';
import { ensureBuilt, has, root, tempDir } from '../helpers.js';

const addon = nativeCodecs();
const skip = !addon?.squashfsListing && 'the native addon is not built';

/** list.ts's listing of the whole image, or its error. */
async function reference(img: Uint8Array, long: boolean): Promise<{ out: Buffer; err?: string }> {
  const out: Uint8Array[] = [];
  try {
    for await (const c of listingBytes(await openSquashfs(bytesAccess(img, 'squashfs')), '/', 'squashfs-root', long)) out.push(c.slice());
    return { out: Buffer.concat(out) };
  } catch (e) {
    return { out: Buffer.concat(out), err: String((e as Error).message) };
  }
}

describe('native squashfs listing', { skip }, () => {
  let dir: string;
  let n = 0;
  before(() => {
    dir = tempDir('imgkit-sqlist-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const native = (img: Uint8Array, long: boolean): Buffer | undefined => {
    const f = join(dir, `i${n++ % 4}.sqfs`);
    writeFileSync(f, img);
    const r = addon!.squashfsListing!(f, long);
    return r && Buffer.from(r.buffer, r.byteOffset, r.byteLength);
  };

  /** Where the addon lists `img`, list.ts lists the same bytes without an error. Returns whether it listed. */
  async function agrees(img: Uint8Array, what: string): Promise<boolean> {
    let listed = false;
    for (const long of [true, false]) {
      const ours = native(img, long);
      if (!ours) continue;
      listed = true;
      const ref = await reference(img, long);
      assert.equal(ref.err, undefined, `${what}${long ? ' -l' : ''}: the addon listed an image list.ts refuses`);
      assert.ok(ours.equals(ref.out), `${what}${long ? ' -l' : ''}: listings differ`);
    }
    return listed;
  }

  // list.test.ts's tree, and a time past 2038 (u32 seconds) and ids other than 0
  const tree = (): SourceInode => {
    const t = listingTree();
    t.entries!.push({ name: 'zz', inode: { kind: 'dir', mode: 0o750, uid: 7, gid: 8, mtime: 4_000_000_000, entries: [] } });
    return t;
  };
  const image = async (o: WriteOptions): Promise<Uint8Array> => {
    const sink = memorySink();
    await writeSquashfs(sink, tree(), { blockSize: 4096, pad: false, ...o });
    return sink.bytes();
  };
  const UNCOMPRESSED = { noInodeCompression: true, noDataCompression: true, noFragmentCompression: true };

  it('lists our gzip, xz, zstd and uncompressed images as list.ts does; leaves lz4 (compressor options) to it', async () => {
    for (const [label, o, expected] of [['gzip', {}, true], ['xz', { compressor: 'xz' }, true], ['zstd', { compressor: 'zstd' }, true], ['uncompressed', UNCOMPRESSED, true], ['lz4', { compressor: 'lz4' }, false]] as const) {
      const img = await image(o as WriteOptions);
      assert.equal(await agrees(img, label), expected, label);
    }
  });

  it('lists the golden gzip image as it is stored; the others (compressor options, another layout) as list.ts does', async () => {
    for (const g of ['golden', 'golden-xz', 'golden-ng', 'golden-lzo']) {
      const img = new Uint8Array(readFileSync(join(root, `test/fixtures/squashfs/${g}.sqfs`)));
      const listed = await agrees(img, g);
      if (g === 'golden') {
        assert.ok(listed, g);
        assert.equal(native(img, true)!.toString('latin1'), readFileSync(join(root, `test/fixtures/squashfs/${g}.ls`), 'latin1'), g);
      }
    }
  });

  it('lists mksquashfs images of the feature tree (xattrs, devices, hard links, sparse files), gzip, zstd, xz and uncompressed', { skip: !has('mksquashfs') && 'mksquashfs missing' }, async () => {
    const src = join(dir, 'tree');
    makeFeatureTree(src, 4096, { xattrs: true });
    for (const args of [['-comp', 'gzip'], ['-comp', 'zstd', '-b', '4K'], ['-comp', 'xz', '-no-fragments'], ['-noI', '-noD', '-noF', '-noX', '-no-exports']]) {
      const img = join(dir, 'm.sqfs');
      execFileSync('mksquashfs', [src, img, '-noappend', '-quiet', '-no-progress', ...args]);
      assert.ok(addon!.squashfsListing!(img, true), args.join(' '));
      assert.ok(await agrees(new Uint8Array(readFileSync(img)), args.join(' ')));
    }
  });

  it('never lists a bad/ fixture or an image bad.ts makes that list.ts refuses', async () => {
    const bad = join(root, 'test/fixtures/squashfs/bad');
    for (const f of readdirSync(bad).filter((x) => x.endsWith('.bin'))) await agrees(new Uint8Array(readFileSync(join(bad, f))), f);
    for (const [name, [, bytes]] of await badImages()) await agrees(bytes, name);
    assert.equal(addon!.squashfsListing!(join(dir, 'missing.sqfs'), true), undefined);
    assert.equal(addon!.squashfsListing!(dir, true), undefined, 'a folder');
    assert.equal(addon!.squashfsListing!('/dev/null', true), undefined, 'not a regular file');
  });

  for (const [label, o, runs] of [['gzip', {}, 300], ['uncompressed', UNCOMPRESSED, 500], ['zstd', { compressor: 'zstd' }, 150]] as const) {
    it(`agrees when bytes of a ${label} image past its data are flipped (tables, indexes, superblock)`, async () => {
      const img = await image(o as WriteOptions);
      const inodes = Number(new DataView(img.buffer, img.byteOffset).getBigUint64(0x40, true));
      let listed = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.oneof(fc.integer({ min: inodes, max: img.length - 1 }), fc.integer({ min: 0, max: 95 })), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }),
          async (flips) => {
            const b = img.slice();
            for (const [at, x] of flips) b[at] = b[at]! ^ x;
            if (await agrees(b, JSON.stringify(flips))) listed++;
          },
        ),
        { numRuns: runs },
      );
      assert.ok(listed > 0, 'some flipped images still list (names, times, modes)');
    });
  }

  it('an image whose listing passes 64 MiB is left to list.ts', async () => {
    // 2,000 nested folders with 255-byte names: each line holds the whole path, ~256 KiB at the bottom
    let t: SourceInode = { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, entries: [] };
    for (let i = 0; i < 2000; i++) t = { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, entries: [{ name: 'x'.repeat(254) + String(i % 10), inode: t }] };
    const sink = memorySink();
    await writeSquashfs(sink, t, { blockSize: 4096, pad: false });
    const img = sink.bytes();
    assert.equal(native(img, false), undefined, 'a listing of ~250 MiB');
    const ref = await reference(img, false);
    assert.equal(ref.err, undefined);
    assert.ok(ref.out.length > 64 << 20);
  });
});

describe('squashfs ls on the command line: the native listing', { skip }, () => {
  let dir: string;
  before(() => {
    ensureBuilt('dist/cli/squashfs-ls.cjs');
    dir = tempDir('imgkit-sqlist-cli-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const golden = join(root, 'test/fixtures/squashfs/golden.sqfs');
  const bin = (...args: string[]) => spawnSync(join(root, 'bin/squashfs'), args, { encoding: 'latin1', maxBuffer: 1 << 26 });

  it('prints what the ES module CLI prints, for ls and ls -l, also through the umbrella', () => {
    for (const args of [['ls', '-l', golden], ['ls', golden], ['ls', '--long', golden]]) {
      const fast = bin(...args);
      const slow = spawnSync(join(root, 'bin/squashfs'), args, { encoding: 'latin1', env: { ...process.env, IMGKIT_NATIVE: '0' } });
      assert.equal(fast.status, 0, fast.stderr);
      assert.equal(fast.stdout, slow.stdout, args.join(' '));
      assert.equal(fast.stderr, '');
      const umbrella = spawnSync(join(root, 'bin/imgkit'), ['squashfs', ...args], { encoding: 'latin1' });
      assert.equal(umbrella.stdout, slow.stdout);
    }
    assert.equal(bin('ls', '-l', golden).stdout, readFileSync(join(root, 'test/fixtures/squashfs/golden.ls'), 'latin1'));
  });

  it('a bad image still gets the reader\'s error: exit 1, the offset named, nothing on stdout', () => {
    const b = new Uint8Array(readFileSync(golden));
    b[0x28] = b[0x28]! ^ 0x40; // bytes used past the file
    const f = join(dir, 'bad.sqfs');
    writeFileSync(f, b);
    const r = bin('ls', '-l', f);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'squashfs: Cannot parse superblock: bytes used 6112 exceed the 6048 bytes available (at 0x28)\n');
    const missing = bin('ls', join(dir, 'nope.sqfs'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /ENOENT/);
  });

  it('a reader that stops early (EPIPE) ends it quietly with status 0', () => {
    const r = spawnSync('sh', ['-c', `"${join(root, 'bin/squashfs')}" ls -l "${golden}" | head -c 10 >/dev/null; echo "status $?"`], { encoding: 'utf8' });
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /status 0/);
  });

  it('a non-blocking pipe that fills up gets the whole listing', { skip: !has('python3') && 'python3 missing' }, async () => {
    // python3 hands the CLI the write end of a pipe in O_NONBLOCK mode and reads it slowly
    const script = `
import os, subprocess, sys, time
r, w = os.pipe()
os.set_blocking(w, False)
p = subprocess.Popen(sys.argv[1:], stdout=w)
os.close(w)
time.sleep(0.3)
out = b''
while True:
    b = os.read(r, 65536)
    if not b: break
    out += b
sys.stdout.buffer.write(out)
sys.exit(p.wait())
`;
    // a listing larger than the pipe's 64 KiB
    const wide: SourceInode = { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, entries: Array.from({ length: 3000 }, (_, i) => ({ name: `file-${String(i).padStart(5, '0')}`, inode: { kind: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 0, content: new Uint8Array(0) } as SourceInode })) };
    const sink = memorySink();
    await writeSquashfs(sink, wide, { blockSize: 4096, pad: false });
    const img = join(dir, 'wide.sqfs');
    writeFileSync(img, sink.bytes());
    const expected = spawnSync(join(root, 'bin/squashfs'), ['ls', '-l', img], { encoding: 'latin1', env: { ...process.env, IMGKIT_NATIVE: '0' } }).stdout;
    assert.ok(expected.length > 1 << 17);
    const child = spawn('python3', ['-c', script, join(root, 'bin/squashfs'), 'ls', '-l', img]);
    let out = '';
    let err = '';
    child.stdout.setEncoding('latin1').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const status = await new Promise((res) => child.on('close', res));
    assert.equal(err, '');
    assert.equal(status, 0);
    assert.equal(out, expected);
  });
});
