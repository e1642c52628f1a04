/**
 * Differential tests against squashfs-tools 4.5.1 (mksquashfs, unsquashfs) and squashfs-tools-ng
 * 1.2.0 (gensquashfs, rdsquashfs, sqfsdiff, sqfs2tar) on the feature tree, for every compressor we
 * write and block sizes 4K/128K/1M:
 *   - byte-exact layout against mksquashfs -noI -noD -noF -noX (option variants included), and
 *     byte-exact compressed images (xz; gzip, zstd and lz4 with the native codecs);
 *   - sqfsdiff of our image against mksquashfs's, unsquashfs -lln listings, file contents;
 *   - unsquashfs -d, rdsquashfs -d and sqfs2tar read our image without error;
 *   - our reader agrees with the source tree on mksquashfs's and gensquashfs's images.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, requireTools, root, skipWithout, tempDir } from '../helpers.js';
import { packFromArgs } from '../../src/squashfs/pack.js';
import { openSquashfs } from '../../src/squashfs/read.js';
import { fileAccess } from '../../src/bytes/random.js';
import { longListing } from '../../src/squashfs/text.js';
import { nativeCodecs } from '../../src/codec/native.js';
import { makeFeatureTree, seeded, TIME } from './fixture.js';
import { entries, snapshotHost, snapshotImage, type Node } from './snapshot.js';

const TOOLS = ['mksquashfs', 'unsquashfs', 'gensquashfs', 'rdsquashfs', 'sqfsdiff', 'sqfs2tar', 'getfattr', 'setfattr'];
const SIZES = [4096, 131_072, 1_048_576] as const;
let tmp = '';
const trees = new Map<number, string>();

function sh(cmd: string, args: string[], opts: { ok?: number[] } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (!(opts.ok ?? [0]).includes(r.status ?? -1)) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout.slice(0, 2000)}`);
  return r.stdout;
}

async function ours(args: string[]): Promise<void> {
  await packFromArgs(args, {}, () => {});
}

async function readImage(path: string) {
  return openSquashfs(await fileAccess(path, 'squashfs'));
}

/** What both writers and all readers must agree on: the source minus the root's own times. */
function expected(dir: string, o: { nlink?: boolean } = {}): Map<string, Node> {
  return snapshotHost(dir, { withXattrs: true, ...o });
}

before(() => {
  if (skipWithout(...TOOLS)) return;
  requireTools(...TOOLS);
  tmp = tempDir('imgkit-sqfs-diff-');
  for (const bs of SIZES) {
    const dir = join(tmp, `tree-${bs}`);
    makeFeatureTree(dir, bs);
    trees.set(bs, dir);
  }
  // mksquashfs's block-list deduplication corner cases: written zeros and holes of equal block
  // count but different sizes, zero tails, and a tail shared with a small file
  const e = join(tmp, 'edges');
  mkdirSync(e);
  const z = (n: number) => new Uint8Array(n);
  const cat = (...parts: Uint8Array[]) => Buffer.concat(parts);
  writeFileSync(join(e, 'a'), z(8292));
  writeFileSync(join(e, 'b'), z(8192));
  writeFileSync(join(e, 'c'), cat(seeded(4096, 21), z(4096), seeded(100, 22)));
  writeFileSync(join(e, 'd'), cat(seeded(4096, 21), z(4196)));
  writeFileSync(join(e, 'e'), '');
  truncateSync(join(e, 'e'), 4196);
  writeFileSync(join(e, 'f'), cat(z(4096), seeded(100, 23)));
  writeFileSync(join(e, 'g'), z(100));
  writeFileSync(join(e, 'h'), cat(seeded(4096, 21), seeded(100, 22)));
  writeFileSync(join(e, 'i'), seeded(100, 22));
  writeFileSync(join(e, 'j'), cat(seeded(4096, 24), z(100)));
  // block counts no other file has: their blocks are stored without digests
  writeFileSync(join(e, 'k'), cat(seeded(5 * 4096, 25), z(100)));
  writeFileSync(join(e, 'm'), seeded(9 * 4096 + 5, 26));
  trees.set(0, e);
});
after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

describe('squashfs layout is byte-identical to mksquashfs -noI -noD -noF -noX', { skip: skipWithout(...TOOLS) }, () => {
  const base = ['-noappend', '-quiet', '-no-progress', '-mkfs-time', String(TIME), '-noI', '-noD', '-noF', '-noX', '-no-xattrs'];
  const variants: [string, number, string[]][] = [
    ...SIZES.map((bs): [string, number, string[]] => [`-b ${bs}`, bs, []]),
    ['-no-fragments', 4096, ['-no-fragments']],
    ['-always-use-fragments', 4096, ['-always-use-fragments']],
    ['-no-duplicates', 4096, ['-no-duplicates']],
    ['-no-sparse', 4096, ['-no-sparse']],
    ['-no-exports -nopad', 4096, ['-no-exports', '-nopad']],
    ['-all-root -root-mode 0700 -all-time', 4096, ['-all-root', '-root-mode', '0700', '-all-time', '1234567']],
    ['-keep-as-directory', 131_072, ['-keep-as-directory', '-all-time', '1']],
    ['-no-hardlinks', 131_072, ['-no-hardlinks']],
    ['-e many deep/a', 131_072, ['-e', 'many', 'deep/a']],
    // not -always-use-fragments -no-sparse: mksquashfs 4.5.1 then gives the 100-byte files "g" and "i"
    // the sizes of earlier files (8192, 8292) in its own image, a bug we do not reproduce
    ...[[], ['-always-use-fragments'], ['-no-sparse']].map((x): [string, number, string[]] => [`sparse and dedup edges ${x.join(' ')}`, 0, ['-b', '4096', ...x]]),
  ];
  for (const [name, bs, extra] of variants) {
    it(name, async () => {
      const src = trees.get(bs)!;
      const a = join(tmp, 'layout-ours.sqfs'), b = join(tmp, 'layout-ref.sqfs');
      const args = [...base, ...(bs ? ['-b', String(bs)] : []), ...extra];
      // -e takes the rest of the line, so it goes last on both sides
      const e = args.indexOf('-e');
      const [pre, ex] = e >= 0 ? [args.slice(0, e), args.slice(e)] : [args, []];
      await ours([src, a, ...pre, ...ex]);
      sh('mksquashfs', [src, b, ...pre, ...ex]);
      const x = readFileSync(a), y = readFileSync(b);
      assert.equal(x.length, y.length, 'image sizes differ');
      const at = x.findIndex((v, i) => v !== y[i]);
      assert.equal(at, -1, `images differ first at byte 0x${at.toString(16)}`);
    });
  }
});

// gzip, zstd and lz4 need the native codecs (the system's zlib, libzstd and liblz4, as mksquashfs
// links them): built by npm ci when the development headers are installed, as in CI. xz is
// identical either way: the system's liblzma through the addon, or lzma-native's (checked below). xattrs need
// its llistxattr: mksquashfs stores a file's xattrs in that order (ext4 lists in-inode values
// before those in an xattr block), while getfattr, the fallback, sorts the names.
const addon = nativeCodecs();
const native = addon?.codecs ?? {};
const noNative = (lib: 'zlib' | 'zstd' | 'lz4' | 'xz') =>
  !native[lib] && !process.env.CI && `imgkit's native ${lib} is not built (install its development headers and run npm ci)`;

describe('compressed images are byte-identical to mksquashfs\'s', { skip: skipWithout(...TOOLS) }, () => {
  const base = ['-noappend', '-quiet', '-no-progress', '-mkfs-time', String(TIME), ...(addon?.listXattrs || process.env.CI ? [] : ['-no-xattrs'])];
  const variants: [string, number, string[], false | string][] = [
    ...SIZES.map((bs): [string, number, string[], false] => [`xz -b ${bs}`, bs, ['-comp', 'xz'], false]),
    ['xz -Xdict-size 50%', 131_072, ['-comp', 'xz', '-Xdict-size', '50%'], false],
    ['xz -Xdict-size 8K', 131_072, ['-comp', 'xz', '-Xdict-size', '8K'], false],
    ['xz -Xbcj x86,arm (smallest chain per block)', 131_072, ['-comp', 'xz', '-Xbcj', 'x86,arm'], false],
    ['xz -no-fragments', 131_072, ['-comp', 'xz', '-no-fragments'], false],
    ['xz -always-use-fragments', 4096, ['-comp', 'xz', '-always-use-fragments'], false],
    ...SIZES.map((bs): [string, number, string[], false | string] => [`gzip -b ${bs}`, bs, ['-comp', 'gzip'], noNative('zlib')]),
    ['gzip -Xcompression-level 6 -Xwindow-size 12', 131_072, ['-comp', 'gzip', '-Xcompression-level', '6', '-Xwindow-size', '12'], noNative('zlib')],
    // lzma (id 2) through the system's liblzma, as mksquashfs's lzma_xz_wrapper (lzma-native's 5.2 encodes other bytes)
    ...SIZES.map((bs): [string, number, string[], false | string] => [`lzma -b ${bs}`, bs, ['-comp', 'lzma'], noNative('xz')]),
    ['gzip -Xstrategy (all five, smallest per block)', 131_072, ['-comp', 'gzip', '-Xstrategy', 'default,filtered,huffman_only,run_length_encoded,fixed'], noNative('zlib')],
    ...SIZES.map((bs): [string, number, string[], false | string] => [`zstd -b ${bs}`, bs, ['-comp', 'zstd'], noNative('zstd')]),
    ['zstd -Xcompression-level 3', 131_072, ['-comp', 'zstd', '-Xcompression-level', '3'], noNative('zstd')],
    ...SIZES.map((bs): [string, number, string[], false | string] => [`lz4 -b ${bs}`, bs, ['-comp', 'lz4'], noNative('lz4')]),
    ['lz4 -Xhc', 131_072, ['-comp', 'lz4', '-Xhc'], noNative('lz4')],
  ];
  it('the native codecs are built in CI', { skip: !process.env.CI && 'not CI' }, () => {
    assert.deepEqual(Object.keys(native).sort(), ['libdeflate', 'lz4', 'xz', 'zlib', 'zstd']);
    assert.equal(typeof addon?.listXattrs, 'function');
  });
  for (const [name, bs, extra, skip] of variants) {
    it(name, { skip }, async () => {
      const src = trees.get(bs)!;
      const a = join(tmp, 'same-ours.sqfs'), b = join(tmp, 'same-ref.sqfs');
      const args = [...base, '-b', String(bs), ...extra];
      await ours([src, a, ...args]);
      sh('mksquashfs', [src, b, ...args]);
      const x = readFileSync(a), y = readFileSync(b);
      const at = x.findIndex((v, i) => v !== y[i]);
      assert.equal(at, -1, `images differ first at byte 0x${at.toString(16)}`);
      assert.equal(x.length, y.length, 'image sizes differ');
    });
  }
});

describe('xz without the native codecs (IMGKIT_NATIVE=0, lzma-native) is byte-identical too', { skip: skipWithout(...TOOLS) }, () => {
  for (const [name, bs, extra] of [['xz -b 1M', 1_048_576, []], ['xz -Xbcj x86,arm -Xdict-size 50%', 131_072, ['-Xbcj', 'x86,arm', '-Xdict-size', '50%']]] as const) {
    it(name, () => {
      ensureBuilt('dist/cli/squashfs.js');
      const src = trees.get(bs)!;
      const a = join(tmp, 'xz-fallback.sqfs'), b = join(tmp, 'xz-fallback-ref.sqfs');
      const args = ['-noappend', '-quiet', '-no-progress', '-mkfs-time', String(TIME), '-no-xattrs', '-comp', 'xz', '-b', String(bs), ...extra];
      const r = spawnSync(join(root, 'bin', 'squashfs'), ['pack', src, a, ...args], { encoding: 'utf8', env: { ...process.env, IMGKIT_NATIVE: '0' } });
      assert.equal(r.status, 0, r.stderr);
      sh('mksquashfs', [src, b, ...args]);
      assert.ok(readFileSync(a).equals(readFileSync(b)), 'images differ');
    });
  }
});

describe('without the native codecs (IMGKIT_NATIVE=0) images hold the same files', { skip: skipWithout(...TOOLS) }, () => {
  for (const comp of ['gzip', 'zstd', 'lz4']) {
    it(comp, () => {
      ensureBuilt('dist/cli/squashfs.js');
      const src = trees.get(131_072)!;
      const a = join(tmp, `fallback-${comp}.sqfs`), b = join(tmp, `fallback-${comp}-ref.sqfs`);
      const args = ['-noappend', '-quiet', '-no-progress', '-mkfs-time', String(TIME), '-comp', comp];
      const r = spawnSync(join(root, 'bin', 'squashfs'), ['pack', src, a, ...args], { encoding: 'utf8', env: { ...process.env, IMGKIT_NATIVE: '0' } });
      assert.equal(r.status, 0, r.stderr);
      sh('mksquashfs', [src, b, ...args]);
      const d = spawnSync('sqfsdiff', ['-T', '-a', a, '-b', b], { encoding: 'utf8' });
      assert.ok(d.status === 0 || d.status === 1, `sqfsdiff failed: ${d.stderr}`);
      assert.deepEqual(d.stdout.split('\n').filter((l) => l && !sqfsdiffNoise.test(l)), []);
    });
  }
});

/** sqfsdiff lines that are legitimate writer choices: basic vs extended inode forms. */
const sqfsdiffNoise = /has an? (basic|extended) type$/;

describe('compressed images against mksquashfs, unsquashfs and squashfs-tools-ng', { skip: skipWithout(...TOOLS) }, () => {
  for (const comp of ['gzip', 'xz', 'zstd', 'lz4'] as const) {
    for (const bs of SIZES) {
      it(`${comp} -b ${bs}`, async () => {
        const src = trees.get(bs)!;
        const a = join(tmp, `${comp}-${bs}-ours.sqfs`), b = join(tmp, `${comp}-${bs}-ref.sqfs`), g = join(tmp, `${comp}-${bs}-ng.sqfs`);
        const args = ['-noappend', '-quiet', '-no-progress', '-mkfs-time', String(TIME), '-comp', comp, '-b', String(bs)];
        await ours([src, a, ...args]);
        sh('mksquashfs', [src, b, ...args]);
        // sqfsdiff: contents, owners, modes, times (-T), types; only basic/extended choices may differ
        const d = spawnSync('sqfsdiff', ['-T', '-a', a, '-b', b], { encoding: 'utf8' });
        assert.ok(d.status === 0 || d.status === 1, `sqfsdiff failed: ${d.stderr}`);
        assert.deepEqual(d.stdout.split('\n').filter((l) => l && !sqfsdiffNoise.test(l)), []);
        // listings: unsquashfs reads both the same way
        assert.equal(sh('unsquashfs', ['-lln', '-UTC', a]), sh('unsquashfs', ['-lln', '-UTC', b]));
        // other readers accept our image
        const out = join(tmp, `x-${comp}-${bs}`);
        sh('unsquashfs', ['-no-progress', '-d', out, a]);
        rmSync(out, { recursive: true, force: true });
        sh('rdsquashfs', ['-d', a]);
        const t = spawnSync('sqfs2tar', [a], { maxBuffer: 256 << 20 });
        assert.equal(t.status, 0, `sqfs2tar: ${t.stderr}`);
        // our reader: the source tree, from our image, mksquashfs's and gensquashfs's
        const want = expected(src, { nlink: true });
        want.delete('/'); // root times and modes differ by writer (gensquashfs uses its defaults)
        for (const [img, nlink] of [[a, true], [b, true]] as const) {
          const fs = await readImage(img);
          try {
            const got = await snapshotImage(fs, { nlink });
            got.delete('/');
            assert.deepEqual(entries(got), entries(want), img);
            // ls -l matches unsquashfs -lln except for device numbers, which unsquashfs 4.5 decodes wrongly
            const lines: string[] = [];
            for await (const l of longListing(fs)) lines.push(l);
            const ref = sh('unsquashfs', ['-lln', '-UTC', img]).trimEnd().split('\n');
            const dev = /^[bc]/;
            assert.deepEqual(lines.filter((l) => !dev.test(l)), ref.filter((l) => !dev.test(l)));
            assert.equal(lines.length, ref.length);
          } finally {
            await fs.close();
          }
        }
        sh('gensquashfs', ['-q', '-f', '-k', '-x', '-c', comp, '-b', String(bs), '-D', src, g]);
        const fs = await readImage(g);
        try {
          const got = await snapshotImage(fs);
          got.delete('/');
          const w = expected(src);
          w.delete('/');
          assert.deepEqual(entries(got), entries(w), 'gensquashfs image');
        } finally {
          await fs.close();
        }
      });
    }
  }
});
