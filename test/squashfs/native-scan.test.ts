/**
 * The native walk of a source tree (native/scan.c) against its reference, the JavaScript walk of
 * src/squashfs/tree.ts scanSources(): the same tree (kinds, modes, owners, times, sizes, targets,
 * device numbers, xattrs in order, hard links as shared nodes, paths) and the same warnings, or no
 * result at all where the JavaScript walk has something to report.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nativeCodecs } from '../../src/codec/native.js';
import { scanSources, type ScanOptions, type SourceInode } from '../../src/squashfs/tree.js';
import { isRoot, makeFeatureTree } from './fixture.js';
import { tempDir } from '../helpers.js';

const addon = nativeCodecs();
const skip = !addon?.scanTree && 'the native addon is not built';

/** The tree as plain data: one row per entry in walk order, a hard link as the row number of its node. */
function rows(root: SourceInode): unknown[] {
  const seen = new Map<SourceInode, number>();
  const out: unknown[] = [];
  const walk = (n: SourceInode, path: string) => {
    const again = seen.get(n);
    if (again !== undefined) {
      out.push([path, 'same node as row', again]);
      return;
    }
    seen.set(n, out.length);
    const { entries, content, xattrs, ...rest } = n;
    const host = content as { path?: string; size?: number } | undefined;
    out.push([path, rest, host && [host.path, host.size], xattrs?.map((x) => [x.name, Buffer.from(x.value).toString('hex')])]);
    for (const e of entries ?? []) walk(e.inode, `${path}/${e.name}`);
  };
  walk(root, '');
  return out;
}

/** Both walks of `sources`: the JavaScript one forced by a `skip` that keeps everything. */
async function both(sources: string[], o: ScanOptions = {}) {
  const warned: string[][] = [[], []];
  const run = async (i: number, extra: ScanOptions) => {
    try {
      return { tree: rows(await scanSources(sources, { ...o, ...extra, onWarning: (m) => warned[i]!.push(m) })) };
    } catch (e) {
      return { error: (e as Error).message };
    }
  };
  const native = await run(0, {});
  const js = await run(1, { skip: () => false });
  return { native, js, warned };
}

describe('native source walk', { skip }, () => {
  let dir: string;
  before(() => {
    dir = tempDir('imgkit-scan-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('builds the tree the JavaScript walk builds from the feature tree, xattrs and hard links included', async () => {
    const tree = join(dir, 'feature');
    makeFeatureTree(tree, 4096);
    assert.ok(addon!.scanTree!(tree, true, true), 'the addon walks the feature tree itself');
    for (const o of [{}, { noHardlinks: true }, { xattrs: false }] as ScanOptions[]) {
      const { native, js, warned } = await both([tree], o);
      assert.ok(native.tree, `no error (${JSON.stringify(o)})`);
      assert.deepEqual(native, js, JSON.stringify(o));
      assert.deepEqual(warned[0], warned[1]);
    }
  });

  it('sorts names bytewise, keeps times before 1970 as Node reports them, and walks single files and symlinks', async () => {
    const t = join(dir, 'odd');
    mkdirSync(join(t, 'sub'), { recursive: true });
    for (const name of ['Z', 'a', 'é', '~', 'a b', '.hidden', 'ü', '日本']) writeFileSync(join(t, 'sub', name), name);
    // Node's utimes takes a negative time as now: touch sets them
    const touch = (p: string, at: string) => assert.equal(spawnSync('touch', ['-h', '-d', at, p]).status, 0, `touch -d ${at}`);
    writeFileSync(join(t, 'old'), 'x');
    touch(join(t, 'old'), '@-4.5');
    writeFileSync(join(t, 'older'), 'x');
    touch(join(t, 'older'), '@-315576000.999');
    writeFileSync(join(t, 'whole'), 'x');
    touch(join(t, 'whole'), '@-7');
    symlinkSync('sub/é', join(t, 'link'));
    touch(join(t, 'link'), '@-1.25');
    linkSync(join(t, 'old'), join(t, 'sub', 'hard'));
    const { native, js } = await both([t]);
    assert.ok(native.tree);
    assert.deepEqual(native, js);
    const mtimes = Object.fromEntries((native.tree as [string, { mtime: number }][]).map(([p, n]) => [p, n.mtime]));
    assert.deepEqual([mtimes['/old'], mtimes['/older'], mtimes['/whole'], mtimes['/link']], [-4, -315576000, -7, -1]);
    for (const single of [join(t, 'old'), join(t, 'link'), join(t, 'sub')]) assert.deepEqual((await both([single])).native, (await both([single])).js, single);
    // a source path that is not normal: the entries' paths are normalized as join() does
    const { native: n2, js: j2 } = await both([`${t}//sub/../sub/`]);
    assert.deepEqual(n2, j2);
  });

  it('leaves a name that is not UTF-8 to the JavaScript walk, which reports it', async () => {
    const t = join(dir, 'bad-name');
    mkdirSync(t);
    writeFileSync(Buffer.concat([Buffer.from(`${t}/`), Buffer.from([0x61, 0xff, 0x62])]), 'x');
    assert.equal(addon!.scanTree!(t, true, true), undefined);
    const { native, js } = await both([t]);
    assert.deepEqual(native, js);
  });

  it('leaves a symlink target that is not UTF-8, and a missing source, to the JavaScript walk', async () => {
    const t = join(dir, 'bad-target');
    mkdirSync(t);
    symlinkSync(Buffer.from([0x2f, 0xc3, 0x28]), join(t, 'l'));
    assert.equal(addon!.scanTree!(t, true, true), undefined);
    assert.deepEqual((await both([t])).native, (await both([t])).js);
    const gone = join(dir, 'no-such-dir');
    assert.equal(addon!.scanTree!(gone, true, true), undefined);
    const r = await both([gone]);
    assert.ok(r.native.error);
    assert.deepEqual(r.native, r.js);
  });

  it('reads xattrs in the kernel order and warns as the JavaScript walk does', { skip: !isRoot && 'needs root for trusted.* and security.*' }, async () => {
    const t = join(dir, 'xattrs');
    mkdirSync(t);
    writeFileSync(join(t, 'f'), 'x');
    const set = (k: string, v: string) => spawnSync('setfattr', ['-h', '-n', k, '-v', v, join(t, 'f')]).status === 0;
    if (!set('user.b', 'two') || !set('user.a', 'one') || !set('trusted.z', '0x00ff') || !set('security.s', 'sec')) return; // no setfattr or no xattrs here
    set('user.big', '0s' + Buffer.alloc(5000, 7).toString('base64'));
    const { native, js, warned } = await both([t]);
    assert.ok(native.tree);
    assert.deepEqual(native, js);
    assert.deepEqual(warned[0], warned[1]);
  });
});
