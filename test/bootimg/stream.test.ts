/** A 1 GiB kernel packs, unpacks and repacks in bounded memory (the blobs stream; nothing holds them). */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, rmSync, statSync, ftruncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { root, tempDir, ensureBuilt, has } from '../helpers.js';

const GiB = 1 << 30;
let tmp = '';

/** Runs the CLI under GNU time and returns its peak RSS in MiB. */
function peakRss(args: string[]): number {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', join(root, 'bin/bootimg'), ...args], { cwd: tmp, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const kb = Number(r.stderr.trim().split('\n').pop());
  assert.ok(Number.isFinite(kb), r.stderr);
  return kb / 1024;
}

describe('bootimg with a 1 GiB kernel', { skip: !has('/usr/bin/time') && !process.env.CI && 'GNU time (package time) not installed' }, () => {
  before(() => {
    ensureBuilt();
    tmp = tempDir('imgkit-bootimg-big-');
    // a sparse 1 GiB kernel with data at both ends, so a copy that drops or shifts bytes shows
    const fd = openSync(join(tmp, 'kernel'), 'w');
    writeSync(fd, Buffer.from('KERNEL-START'), 0, 12, 0);
    writeSync(fd, Buffer.from('KERNEL-END'), 0, 10, GiB - 10);
    ftruncateSync(fd, GiB);
    closeSync(fd);
    const r = openSync(join(tmp, 'ramdisk'), 'w');
    writeSync(r, Buffer.alloc(5000, 7));
    closeSync(r);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('pack, unpack and repack stay under 200 MiB of memory and keep every byte', () => {
    const packRss = peakRss(['pack', '--kernel', 'kernel', '--ramdisk', 'ramdisk', '--pagesize', '4096', '-o', 'big.img', '--id']);
    assert.equal(statSync(join(tmp, 'big.img')).size, 4096 + GiB + 8192);
    const unpackRss = peakRss(['unpack', 'big.img', '-o', 'u']);
    assert.equal(statSync(join(tmp, 'u/kernel')).size, GiB);
    assert.equal(spawnSync('cmp', [join(tmp, 'kernel'), join(tmp, 'u/kernel')]).status, 0);
    const id = JSON.parse(readFileSync(join(tmp, 'u/bootimg.json'), 'utf8')).id;
    const stored = Buffer.alloc(32);
    const fd = openSync(join(tmp, 'big.img'), 'r');
    readSync(fd, stored, 0, 32, 576);
    closeSync(fd);
    assert.equal(id.hex, stored.toString('hex'));
    assert.deepEqual(Object.keys(id.crc32), ['kernel', 'ramdisk']);
    const repackRss = peakRss(['repack', 'u', '-o', 'again.img']);
    assert.equal(spawnSync('cmp', [join(tmp, 'big.img'), join(tmp, 'again.img')]).status, 0);
    for (const [what, mib] of [['pack', packRss], ['unpack', unpackRss], ['repack', repackRss]] as const)
      assert.ok(mib < 200, `${what} peaked at ${mib.toFixed(0)} MiB`);
  });
});
