/**
 * Issue 8: appending to an existing image (mksquashfs without -noappend), including the
 * NixWRT/Liminix two-step build with -root-becomes. The old data stays where it is; sqfsdiff and
 * unsquashfs -lln agree with mksquashfs's own append of the same inputs, and the kernel mounts the
 * result (as root).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, has, root, skipWithout, tempDir } from '../helpers.js';
import { isRoot, makeFeatureTree } from './fixture.js';

const bin = join(root, 'bin/squashfs');
let tmp = '';
const Q = ['-quiet', '-no-progress', '-no-recovery'];

function both(img: string, args: string[]): void {
  const o = spawnSync(bin, ['pack', ...args.map((x) => (x === 'IMG' ? `ours-${img}` : x))], { cwd: tmp, encoding: 'utf8' });
  assert.equal(o.status, 0, `ours: ${o.stderr}`);
  const t = spawnSync('mksquashfs', args.map((x) => (x === 'IMG' ? `theirs-${img}` : x)), { cwd: tmp, encoding: 'utf8' });
  assert.equal(t.status, 0, `mksquashfs: ${t.stderr}${t.stdout}`);
}
function agree(img: string): string {
  const a = join(tmp, `ours-${img}`), b = join(tmp, `theirs-${img}`);
  const d = spawnSync('sqfsdiff', ['-a', a, '-b', b], { encoding: 'utf8' });
  assert.equal(d.status, 0, `sqfsdiff: ${d.stdout}${d.stderr}`);
  // times of pseudo entries and synthesized roots are "now" for mksquashfs, fixed for us: compare the rest
  const lln = (f: string) => spawnSync('unsquashfs', ['-lln', '-UTC', f], { encoding: 'utf8' }).stdout.replace(/^(\S+ \S+ +[\d, ]+) \S+ \S+ /gm, '$1 ')
    // a directory's size is its listing's, which depends on where the inodes landed: not compared
    .replace(/^(d\S+ \S+) +\d+ /gm, '$1 ');
  assert.deepEqual(lln(a).split('\n'), lln(b).split('\n'));
  const u = spawnSync('unsquashfs', ['-d', join(tmp, `x-${img}`), a], { encoding: 'utf8' });
  assert.equal(u.status, 0, u.stderr);
  return lln(a);
}
function mounts(img: string): void {
  if (!isRoot || !has('mount')) return;
  const mnt = join(tmp, `mnt-${img}`);
  mkdirSync(mnt, { recursive: true });
  const m = spawnSync('mount', ['-t', 'squashfs', '-o', 'loop,ro', join(tmp, `ours-${img}`), mnt], { encoding: 'utf8' });
  assert.equal(m.status, 0, `mount: ${m.stderr}`);
  try {
    const w = spawnSync('sh', ['-c', `find ${mnt} -type f -exec cat {} + | sha256sum`], { encoding: 'utf8' });
    assert.equal(w.status, 0);
  } finally {
    spawnSync('umount', [mnt]);
  }
}

before(() => {
  ensureBuilt('dist/cli/squashfs.js');
  tmp = tempDir('imgkit-sqfs-append-');
  makeFeatureTree(join(tmp, 'store'), 4096, { xattrs: false, devices: false });
  mkdirSync(join(tmp, 'sbin'));
  mkdirSync(join(tmp, 'bin'));
  writeFileSync(join(tmp, 'sbin/init'), '#!/bin/sh\nexec /bin/sh\n');
  writeFileSync(join(tmp, 'bin/sh'), 'x'.repeat(200_000)); // whole blocks and a tail
  writeFileSync(join(tmp, 'bin/text'), readFileSync(join(tmp, 'store/text'))); // duplicates an old file
  writeFileSync(join(tmp, 'pseudo'), '/dev d 755 0 0\n/dev/console c 0600 root root 5 1\n/dev/null c 666 0 0 1 3\n/tmp d 1777 0 0\n/etc d 755 0 0\n/etc/key f 0600 0 0 echo -n key\n/lib s 777 0 0 /nix/store\n');
  writeFileSync(join(tmp, '.empty'), '');
  mkdirSync(join(tmp, 'emptydir'));
});
after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

describe('squashfs append', { skip: skipWithout('mksquashfs', 'unsquashfs', 'sqfsdiff') }, () => {
  it("NixWRT's two appends with -root-becomes (store, then nix) plus pseudo /dev nodes", () => {
    for (const comp of ['gzip', 'xz']) {
      const img = `nixwrt-${comp}.sqfs`;
      spawnSync('mksquashfs', ['store', `base-${comp}.sqfs`, '-noappend', '-comp', comp, '-b', '65536', '-all-root', ...Q], { cwd: tmp });
      copyFileSync(join(tmp, `base-${comp}.sqfs`), join(tmp, `ours-${img}`));
      copyFileSync(join(tmp, `base-${comp}.sqfs`), join(tmp, `theirs-${img}`));
      both(img, ['emptydir', 'IMG', ...Q, '-root-becomes', 'store']);
      both(img, ['sbin', 'bin', 'IMG', ...Q, '-root-becomes', 'nix', '-all-root', '-pf', 'pseudo']);
      const list = agree(img);
      assert.match(list, /squashfs-root\/nix\/store\/text\n/);
      assert.match(list, /crw------- 0\/0 +5, +1 .*squashfs-root\/dev\/console/);
      mounts(img);
    }
  });

  it("Liminix's source-less appends (\"-\" and -p '/ d 0755 0 0')", () => {
    const img = 'liminix.sqfs';
    spawnSync('mksquashfs', ['store', 'base-l.sqfs', '-noappend', '-comp', 'zstd', ...Q], { cwd: tmp });
    copyFileSync(join(tmp, 'base-l.sqfs'), join(tmp, `ours-${img}`));
    copyFileSync(join(tmp, 'base-l.sqfs'), join(tmp, `theirs-${img}`));
    both(img, ['-', 'IMG', ...Q, '-root-becomes', 'store', '-p', '/ d 0755 0 0']);
    both(img, ['-', 'IMG', ...Q, '-root-becomes', 'nix', '-p', '/ d 0755 0 0', '-pf', 'pseudo']);
    agree(img);
    mounts(img);
  });

  it('new sources join the old root; clashing names get _1, and -comp/-b are the old image\'s', () => {
    const img = 'join.sqfs';
    spawnSync('mksquashfs', ['sbin', 'base-j.sqfs', '-noappend', '-b', '4096', ...Q], { cwd: tmp });
    copyFileSync(join(tmp, 'base-j.sqfs'), join(tmp, `ours-${img}`));
    copyFileSync(join(tmp, 'base-j.sqfs'), join(tmp, `theirs-${img}`));
    both(img, ['bin', 'sbin', 'IMG', ...Q, '-comp', 'xz', '-b', '1M']);
    const list = agree(img);
    assert.match(list, /squashfs-root\/init\n[\s\S]*squashfs-root\/sbin\/init\n/);
    const info = spawnSync(bin, ['info', '--json', join(tmp, `ours-${img}`)], { encoding: 'utf8' });
    const sb = JSON.parse(info.stdout) as { compression: string; blockSize: number };
    assert.deepEqual([sb.compression, sb.blockSize], ['gzip', 4096]);
    mounts(img);
  });
});
