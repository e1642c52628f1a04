/**
 * The consumer that boots the image: the host kernel loop-mounts our images (gzip, xz, lz4, zstd;
 * 4K and 128K blocks) and a full walk of the mount matches the source tree: mode, owner, size,
 * mtime, link target, device numbers, hard-link counts, xattrs and content. Root only.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { packFromArgs } from '../../src/squashfs/pack.js';
import { has, requireTools, tempDir } from '../helpers.js';
import { isRoot, makeFeatureTree, TIME } from './fixture.js';
import { entries, snapshotHost } from './snapshot.js';
import { hasLibdeflate } from '../../src/squashfs/compressor.js';

const kernelHasSquashfs = (() => {
  try {
    return /\bsquashfs\b/.test(readFileSync('/proc/filesystems', 'utf8')) || spawnSync('modprobe', ['squashfs']).status === 0;
  } catch {
    return false;
  }
})();
const reason = !isRoot ? 'not root: loop mounting needs root' : !kernelHasSquashfs ? 'the kernel has no squashfs support' : !has('mount') ? 'mount not installed' : false;
// CI runs as root on a squashfs-capable kernel: there the test must run
const skip = process.env.CI ? false : reason;

let tmp = '';
const trees = new Map<number, string>();

before(() => {
  if (skip) return;
  if (reason) throw new Error(`kernel mount test cannot run: ${reason} (CI is set)`);
  requireTools('mount', 'umount', 'getfattr', 'setfattr');
  tmp = tempDir('imgkit-sqfs-mount-');
  for (const bs of [4096, 131_072]) {
    const dir = join(tmp, `tree-${bs}`);
    makeFeatureTree(dir, bs);
    trees.set(bs, dir);
  }
});
after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

describe('the Linux kernel mounts our images', { skip }, () => {
  // gzip blocks from libdeflate (-Xlibdeflate) too: other deflate streams than zlib's, for the kernel's inflate
  const cases: [string, number, ...string[]][] = [['gzip', 4096], ['gzip', 131_072], ['gzip', 131_072, '-Xlibdeflate'], ['xz', 131_072], ['lz4', 131_072], ['zstd', 131_072], ['xz', 4096]];
  for (const [comp, bs, ...x] of cases) {
    it(`${comp} -b ${bs}${x.map((o) => ` ${o}`).join('')}`, { skip: x.length > 0 && !hasLibdeflate() && !process.env.CI && 'built without libdeflate' }, async () => {
      const src = trees.get(bs)!;
      const name = `${comp}-${bs}${x.join('')}`;
      const img = join(tmp, `${name}.sqfs`);
      const mnt = join(tmp, `mnt-${name}`);
      mkdirSync(mnt);
      await packFromArgs([src, img, '-noappend', '-quiet', '-comp', comp, '-b', String(bs), '-mkfs-time', String(TIME), ...x], {}, () => {});
      const m = spawnSync('mount', ['-t', 'squashfs', '-o', 'loop,ro', img, mnt], { encoding: 'utf8' });
      assert.equal(m.status, 0, `mount failed: ${m.stderr}`);
      try {
        const got = snapshotHost(mnt, { withXattrs: true, nlink: true });
        const want = snapshotHost(src, { withXattrs: true, nlink: true });
        assert.deepEqual(entries(got), entries(want));
      } finally {
        const u = spawnSync('umount', [mnt], { encoding: 'utf8' });
        assert.equal(u.status, 0, `umount failed: ${u.stderr}`);
      }
    });
  }
});
