/**
 * Hand-made hostile images (test/fixtures/squashfs/hostile, described in SOURCES.md): `extract` and
 * `unpack-pf` give an error and nothing else, never touch anything outside the destination, and
 * never let a name from the image become a line of their own.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesAccess } from '../../src/bytes/random.js';
import { openSquashfs } from '../../src/squashfs/read.js';
import { formatPseudoFile } from '../../src/squashfs/pseudo-dump.js';
import { memorySink } from '../../src/bytes/sink.js';
import { writeSquashfs } from '../../src/squashfs/write.js';
import type { SourceInode } from '../../src/squashfs/tree.js';
import { encodeInode } from '../../src/squashfs/inode.js';
import { INODE } from '../../src/squashfs/layout.js';
import { HandImage, INODE_DEFAULTS } from './handmade.js';
import { skipWithout } from '../helpers.js';

const root = new URL('../../', import.meta.url).pathname;
const hostile = (name: string) => join(root, 'test/fixtures/squashfs/hostile', name);
const squashfs = (args: string[]) => spawnSync(join(root, 'bin/squashfs'), args, { encoding: 'utf8' });
let tmp = '';
before(() => {
  if (!existsSync(join(root, 'dist/cli/squashfs.js'))) spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root });
  tmp = mkdtempSync(join(tmpdir(), 'imgkit-hostile-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('hostile squashfs images', () => {
  for (const name of ['root-is-file.sqfs', 'root-is-symlink.sqfs']) {
    it(`${name}: a root that is not a directory is an error, and the destination and its files stay`, () => {
      const dest = join(tmp, name);
      mkdirSync(dest);
      writeFileSync(join(dest, 'keep'), 'x');
      const r = squashfs(['extract', hostile(name), dest]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /root inode 1: it is a (file|symlink), not a directory \(at 0x/);
      assert.ok(lstatSync(dest).isDirectory());
      assert.equal(readFileSync(join(dest, 'keep'), 'utf8'), 'x');
      assert.equal(squashfs(['ls', '-l', hostile(name)]).status, 1);
    });
  }

  it('xattr names with newlines are set on the right file under their own name', () => {
    const victim = join(tmp, 'victim');
    writeFileSync(victim, '');
    const dest = join(tmp, 'xattr');
    const r = squashfs(['extract', hostile('xattr-name-newlines.sqfs'), dest]);
    if (r.status !== 0 && /xattr|setfattr|not supported/i.test(r.stderr)) return; // no user xattrs on this file system
    assert.equal(r.status, 0, r.stderr);
    const get = (f: string) => spawnSync('getfattr', ['--absolute-names', '-d', '-e', 'hex', f], { encoding: 'utf8' }).stdout;
    if (spawnSync('getfattr', ['--version']).error) return;
    assert.doesNotMatch(get(victim), /pwned/);
    assert.match(get(join(dest, 'a')), /user\.x\\012\\012# file: .*victim\\012user\.pwned=0x676f74636861/);
  });

  it('a hard-linked file whose data fails leaves none of its names', () => {
    const dest = join(tmp, 'links');
    const r = squashfs(['extract', hostile('hardlink-bad-data.sqfs'), dest]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Cannot decompress gzip block/);
    assert.ok(!existsSync(dest), 'the output folder this run made is gone too');
    // into a folder that was there: it stays, with what it held
    mkdirSync(dest);
    writeFileSync(join(dest, 'keep'), 'x');
    assert.equal(squashfs(['extract', hostile('hardlink-bad-data.sqfs'), dest]).status, 1);
    assert.deepEqual(readdirSync(dest), ['keep']);
  });

  it('unpack-pf refuses what a pseudo file cannot hold (exit 1, no output file)', () => {
    for (const [img, msg] of [
      ['xattr-name-pseudo-line.sqfs', /has an xattr named "user\.y=1\\nq f 644/],
      ['name-with-newline.sqfs', /the name "nl\\nx" holds a newline/],
      ['dir-contains-itself.sqfs', /directory inode 1 is reached again \(a loop\)/],
    ] as const) {
      const out = join(tmp, `${img}.pf`);
      const r = squashfs(['unpack-pf', '--xattrs', hostile(img), out]);
      assert.equal(r.status, 1, `${img}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.ok(!existsSync(out), img);
    }
  });

  it('a listing whose size claims 512 MiB of zeros fails at its first entry, in bounded memory (unsquashfs refuses it too)', { skip: skipWithout('/usr/bin/time') }, async () => {
    const img = new HandImage(4096);
    const listing = 512 << 20;
    await HandImage.zeros(img.dirs, listing);
    const rootInode = await img.inodes.ref();
    await img.inodes.append(encodeInode({ ...INODE_DEFAULTS, type: INODE.LDIR, mode: 0o755, inodeNumber: 1, nlink: 2, size: listing + 3, parent: 2 }));
    const path = join(tmp, 'huge-listing.sqfs');
    writeFileSync(path, await img.assemble(rootInode, 1));
    const r = spawnSync('/usr/bin/time', ['-f', '%M', join(root, 'bin/squashfs'), 'ls', '-l', path], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /Cannot parse directory entry: type 0 is not 1\.\.7/);
    const kib = Number(r.stderr.trim().split('\n').pop());
    assert.ok(kib < 400 * 1024, `peak RSS ${kib} KiB`); // taken whole, the listing and its copy would take 1 GiB
    const theirs = spawnSync('unsquashfs', ['-lln', path]);
    if (!theirs.error) assert.equal(theirs.status, 1);
  });

  it('unpack-pf walks a 4000-deep tree without recursion, as unsquashfs -pf does', async () => {
    const fs = await openSquashfs(bytesAccess(readFileSync(hostile('deep-4000.sqfs'))));
    let lines = 0;
    for await (const c of formatPseudoFile(fs)) lines += c.filter((b) => b === 10).length;
    const out = join(tmp, 'deep.pf');
    const ref = spawnSync('unsquashfs', ['-pf', out, hostile('deep-4000.sqfs')]);
    if (!ref.error) assert.equal(lines, readFileSync(out).filter((b) => b === 10).length);
    assert.ok(lines > 4000);
  });

  it('the writer takes 4096 levels of directories (no recursion through its awaits) and refuses 4097; unpack-pf walks them', async () => {
    const deep = (levels: number): SourceInode => {
      let node: SourceInode = { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, entries: [] };
      for (let i = 0; i < levels; i++) node = { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0, entries: [{ name: 'd', inode: node }] };
      return node;
    };
    const sink = memorySink();
    await writeSquashfs(sink, deep(4096), { blockSize: 4096 });
    const fs = await openSquashfs(bytesAccess(sink.bytes()));
    let lines = 0;
    for await (const c of formatPseudoFile(fs)) lines += c.filter((b) => b === 10).length;
    assert.equal(lines, 4097 + 3); // the root, 4096 directories, the data marker's three lines
    await assert.rejects(writeSquashfs(memorySink(), deep(4097), { blockSize: 4096 }), /deeper than 4096 levels/);
  });
});
