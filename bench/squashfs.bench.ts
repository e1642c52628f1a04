/**
 * squashfs: `squashfs pack|ls -l|extract` against mksquashfs 4.5 / unsquashfs on a seeded tree of
 * many small files and a few large ones (~64 MiB; --quick: 1/16). Part 1 is single-threaded, so
 * no goal is set yet; part 2 (issue 8) adds the speed goals and the 350 MB tree.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { assertSameFile, remove, workDir, type BenchCase, type SetupContext } from './case.js';
import { KiB, MiB, writeSeeded } from './data.js';

const W = workDir('squashfs');
const TREE = join(W, 'tree');
const COMMON = ['-noappend', '-quiet', '-no-progress', '-mkfs-time', '1', '-all-root'];

function makeTree(ctx: SetupContext): number {
  const scale = ctx.quick ? 16 : 1;
  remove(TREE);
  let bytes = 0;
  for (let d = 0; d < 20; d++) {
    const dir = join(TREE, `dir${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 40 / (ctx.quick ? 4 : 1); f++) {
      const size = ((d * 40 + f) % 16 + 1) * 4 * KiB - 123;
      writeSeeded(join(dir, `f${f}.bin`), size, { seed: d * 1000 + f, kind: 'kernel' });
      bytes += size;
    }
  }
  for (let i = 0; i < 8; i++) {
    const size = Math.floor((6 * MiB) / scale) + i;
    writeSeeded(join(TREE, `big${i}`), size, { seed: 77 + i, kind: i % 2 ? 'random' : 'kernel' });
    bytes += size;
  }
  return bytes;
}

function notBuilt(): string | undefined {
  return existsSync('dist/cli/squashfs.js') ? undefined : 'dist/cli/squashfs.js is missing: run `npm run build`';
}

const version = () => spawnSync('mksquashfs', ['-version'], { encoding: 'utf8' }).stdout.split('\n')[0] || undefined;

function listing(img: string): string {
  const r = spawnSync('unsquashfs', ['-lln', '-UTC', img], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`unsquashfs -lln ${img} failed: ${r.stderr}`);
  return r.stdout.replace(/^.*squashfs-root/gm, '');
}

function treeDigest(dir: string): string {
  const h = createHash('sha256');
  const walk = (p: string, rel: string) => {
    for (const n of readdirSync(p).sort()) {
      const q = join(p, n);
      const st = lstatSync(q);
      h.update(`${rel}/${n} ${st.mode} ${st.size}\n`);
      if (st.isDirectory()) walk(q, `${rel}/${n}`);
      else if (st.isFile()) h.update(readFileSync(q));
    }
  };
  walk(dir, '');
  return h.digest('hex');
}

const packCase = (name: string, extra: string[], sameBytes: boolean): BenchCase => {
  const ours = join(W, `ours-${name}.sqfs`), theirs = join(W, `theirs-${name}.sqfs`);
  return {
    name: `squashfs pack ${name}`,
    setup(ctx) {
      remove(ours);
      remove(theirs);
      return { bytes: makeTree(ctx) };
    },
    ours: ['./bin/squashfs', 'pack', TREE, ours, ...COMMON, ...extra],
    theirs: ['mksquashfs', TREE, theirs, ...COMMON, ...extra],
    check: () => {
      if (sameBytes) assertSameFile(ours, theirs);
      else if (listing(ours) !== listing(theirs)) throw new Error(`unsquashfs -lln lists ${ours} and ${theirs} differently`);
    },
    runs: 5,
    requires: ['unsquashfs'],
    skip: notBuilt,
    theirsVersion: version,
  };
};

const IMG = join(W, 'input.sqfs');
const readSetup = (ctx: SetupContext) => {
  const bytes = makeTree(ctx);
  remove(IMG);
  const r = spawnSync('mksquashfs', [TREE, IMG, ...COMMON, '-comp', 'gzip'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mksquashfs failed: ${r.stderr}`);
  return { bytes };
};

export const cases: readonly BenchCase[] = [
  packCase('gzip-128K', ['-comp', 'gzip'], false),
  packCase('zstd-1M', ['-comp', 'zstd', '-b', '1M'], false),
  packCase('xz-1M', ['-comp', 'xz', '-b', '1M'], false),
  packCase('uncompressed-layout', ['-noI', '-noD', '-noF', '-noX'], true),
  {
    name: 'squashfs ls -l',
    setup: (ctx) => {
      remove(join(W, 'ours.ls'));
      remove(join(W, 'theirs.ls'));
      return readSetup(ctx);
    },
    ours: { argv: ['./bin/squashfs', 'ls', '-l', IMG], stdout: join(W, 'ours.ls') },
    theirs: { argv: ['unsquashfs', '-lln', '-UTC', IMG], stdout: join(W, 'theirs.ls') },
    check: () => assertSameFile(join(W, 'ours.ls'), join(W, 'theirs.ls')),
    requires: ['mksquashfs'],
    skip: notBuilt,
    theirsVersion: version,
  },
  {
    name: 'squashfs extract',
    setup: (ctx) => {
      remove(join(W, 'ours-x'));
      remove(join(W, 'theirs-x'));
      return readSetup(ctx);
    },
    // both refuse to extract into an existing folder's files differently; each run starts clean
    ours: ['sh', '-c', `rm -rf ${join(W, 'ours-x')} && ./bin/squashfs extract ${IMG} ${join(W, 'ours-x')} 2>/dev/null`],
    theirs: ['sh', '-c', `rm -rf ${join(W, 'theirs-x')} && unsquashfs -q -n -d ${join(W, 'theirs-x')} ${IMG} >/dev/null`],
    check: () => {
      if (treeDigest(join(W, 'ours-x')) !== treeDigest(join(W, 'theirs-x'))) throw new Error('the extracted trees differ');
    },
    runs: 5,
    requires: ['mksquashfs', 'unsquashfs'],
    skip: notBuilt,
    theirsVersion: version,
  },
];
