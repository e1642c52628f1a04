/**
 * squashfs: `squashfs pack|ls -l|extract` against mksquashfs 4.5 / unsquashfs on a seeded tree of
 * many small files and a few large ones (~64 MiB; --quick: 1/16), and (issue 8) on a ~330 MB tree
 * of real files: copies of /usr/lib and /usr/share subtrees, as in research/squashfs.md §5.2, with
 * the goals of issue 8 (pack ≤ 0.8× mksquashfs for gzip, ≤ 1.0× for xz and zstd; image ≤ 1.01×;
 * ls -l and extract of mksquashfs's image of that tree ≤ 1.0× unsquashfs). Both sides use
 * -processors 2.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, lstatSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertSameFile, remove, workDir, type BenchCase, type SetupContext } from './case.js';
import { KiB, MiB, writeSeeded } from './data.js';

const W = workDir('squashfs');

/**
 * Where the extract cases write: a folder on the tmpfs at /dev/shm when there is one, else W. On
 * the benchmark machines the disk (ext4 mounted with `discard`) is still discarding the last run's
 * deleted tree while the next run writes, which moved either tool's time up to 5× between runs
 * (0.77× to 1.34× for the same two builds); in memory both sides pay the same kernel costs each run.
 */
function extractDir(): string {
  let mounts = '';
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    // not Linux: the work folder
  }
  return mounts.split('\n').some((l) => /^\S+ \/dev\/shm tmpfs /.test(l)) ? '/dev/shm/imgkit-bench-squashfs' : W;
}
const XW = extractDir();

/** The extract cases' check: the two trees are the same; then they go (in memory, on a tmpfs). */
function sameTrees(ours: string, theirs: string): void {
  if (treeDigest(ours) !== treeDigest(theirs)) throw new Error(`${ours} and ${theirs} differ`);
  remove(ours);
  remove(theirs);
}
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

/** The real-file tree: subtrees of /usr that exist here (copied once; ~330 MB on Debian 12). */
const REAL = join(W, 'real');
const REAL_DIRS = ['/usr/lib/python3.11', '/usr/lib/gcc', '/usr/lib/git-core', '/usr/lib/postgresql', '/usr/lib/node_modules',
  '/usr/share/perl', '/usr/share/perl5', '/usr/share/zoneinfo', '/usr/share/i18n', '/usr/share/man'];
function makeReal(): number {
  if (!existsSync(join(REAL, '.done'))) {
    remove(REAL);
    for (const d of REAL_DIRS.filter((x) => existsSync(x))) {
      const to = join(REAL, d.split('/')[2]!);
      mkdirSync(to, { recursive: true });
      const r = spawnSync('cp', ['-a', d, to], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`cp -a ${d} failed: ${r.stderr}`);
    }
    spawnSync('touch', [join(REAL, '.done')]);
  }
  const r = spawnSync('du', ['-sb', REAL], { encoding: 'utf8' });
  return Number(r.stdout.split('\t')[0]);
}
const noReal = () => notBuilt() ?? (REAL_DIRS.some((d) => existsSync(d)) ? undefined : 'none of the /usr subtrees of the real-file tree exist here');

/**
 * `oursOnly`: options only our side takes (-Xlibdeflate), against mksquashfs's default for the rest.
 * `identical`: the check also requires mksquashfs's image byte for byte.
 */
const realCase = (name: string, extra: string[], goal: number, oursOnly: string[] = [], identical = false): BenchCase => {
  const ours = join(W, `real-ours-${name}.sqfs`), theirs = join(W, `real-theirs-${name}.sqfs`);
  const args = ['-noappend', '-quiet', '-no-progress', '-mkfs-time', '1', '-processors', '2', ...extra];
  return {
    name: `squashfs pack real ${name}`,
    setup(ctx) {
      remove(ours);
      remove(theirs);
      return { bytes: ctx.quick ? makeTree(ctx) : makeReal() };
    },
    ours: ['sh', '-c', `rm -f ${ours} && exec ./bin/squashfs pack ${REAL} ${ours} ${[...args, ...oursOnly].join(' ')}`],
    theirs: ['sh', '-c', `rm -f ${theirs} && exec mksquashfs ${REAL} ${theirs} ${args.join(' ')}`],
    goal,
    check: () => {
      if (listing(ours) !== listing(theirs)) throw new Error(`unsquashfs -lln lists ${ours} and ${theirs} differently`);
      if (identical && spawnSync('cmp', ['-s', ours, theirs]).status !== 0) throw new Error(`${ours} and ${theirs} are not the same bytes`);
      const ratio = statSync(ours).size / statSync(theirs).size;
      process.stderr.write(`squashfs pack real ${name}: image ${statSync(ours).size} vs ${statSync(theirs).size} bytes (${ratio.toFixed(4)}×, goal ≤ 1.01)\n`);
    },
    runs: 3,
    warmup: 0,
    requires: ['unsquashfs'],
    skip: noReal,
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

/**
 * The real-file tree as mksquashfs packs it by default (gzip, 128 KiB blocks), for the read cases
 * of issue 8: listing and extracting the ~33 000 entries of a 145 MB image. Made once and kept;
 * a --quick run packs the seeded tree there instead, and says so in a marker file.
 */
const REAL_IMG = join(W, 'real-read-gzip-128K.sqfs');
const QUICK_MARK = `${REAL_IMG}.quick`;
function realImage(ctx: SetupContext): number {
  const source = ctx.quick ? TREE : REAL;
  const bytes = ctx.quick ? makeTree(ctx) : makeReal();
  if (ctx.quick || existsSync(QUICK_MARK) || !existsSync(REAL_IMG)) {
    remove(REAL_IMG);
    remove(QUICK_MARK);
    const r = spawnSync('mksquashfs', [source, REAL_IMG, '-noappend', '-quiet', '-no-progress', '-mkfs-time', '1', '-processors', '2', '-comp', 'gzip'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mksquashfs ${source} failed: ${r.stderr}`);
    if (ctx.quick) writeFileSync(QUICK_MARK, '');
  }
  return bytes;
}

const LS_OURS = join(W, 'real-ours.ls'), LS_THEIRS = join(W, 'real-theirs.ls');
const X_OURS = join(XW, 'real-ours-x'), X_THEIRS = join(XW, 'real-theirs-x');

/** `ls -l` and `extract` of the real-tree image, each against unsquashfs, goal ≤ 1.0×. */
const realReadCases: BenchCase[] = [
  {
    name: 'squashfs ls -l real gzip-128K',
    setup: (ctx) => {
      remove(LS_OURS);
      remove(LS_THEIRS);
      realImage(ctx);
      return { bytes: statSync(REAL_IMG).size };
    },
    ours: { argv: ['./bin/squashfs', 'ls', '-l', REAL_IMG], stdout: LS_OURS },
    theirs: { argv: ['unsquashfs', '-lln', '-UTC', REAL_IMG], stdout: LS_THEIRS },
    goal: 1.0,
    check: () => assertSameFile(LS_OURS, LS_THEIRS),
    requires: ['mksquashfs', 'unsquashfs'],
    skip: noReal,
    theirsVersion: version,
  },
  {
    name: 'squashfs extract real gzip-128K',
    setup: (ctx) => {
      remove(X_OURS);
      remove(X_THEIRS);
      mkdirSync(XW, { recursive: true });
      return { bytes: realImage(ctx) };
    },
    // each run starts from an empty folder: removing the last run's tree is not timed (the rm in
    // the commands finds nothing then; it is there for --hyperfine, which has no beforeRun)
    beforeRun: (side) => remove(side === 'ours' ? X_OURS : X_THEIRS),
    ours: ['sh', '-c', `rm -rf ${X_OURS} && ./bin/squashfs extract ${REAL_IMG} ${X_OURS} 2>/dev/null`],
    theirs: ['sh', '-c', `rm -rf ${X_THEIRS} && unsquashfs -q -n -d ${X_THEIRS} ${REAL_IMG} >/dev/null`],
    goal: 1.0,
    check: () => sameTrees(X_OURS, X_THEIRS),
    runs: 5,
    requires: ['mksquashfs', 'unsquashfs'],
    skip: noReal,
    theirsVersion: version,
  },
];

export const cases: readonly BenchCase[] = [
  // zlib's bytes (imgkit's deflate where it gives them, native/zdeflate.c): mksquashfs's image exactly
  realCase('gzip-128K', ['-comp', 'gzip'], 0.8, [], true),
  realCase('gzip-1M', ['-comp', 'gzip', '-b', '1M'], 0.8, [], true),
  // gzip blocks from libdeflate: not mksquashfs's bytes, so the check is the listing and the size
  realCase('gzip-128K-libdeflate', ['-comp', 'gzip'], 0.8, ['-Xlibdeflate']),
  realCase('gzip-1M-libdeflate', ['-comp', 'gzip', '-b', '1M'], 0.8, ['-Xlibdeflate']),
  realCase('zstd-128K', ['-comp', 'zstd'], 1.0),
  realCase('zstd-1M', ['-comp', 'zstd', '-b', '1M'], 1.0),
  realCase('xz-128K', ['-comp', 'xz'], 1.0),
  realCase('xz-1M', ['-comp', 'xz', '-b', '1M'], 1.0),
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
      remove(join(XW, 'ours-x'));
      remove(join(XW, 'theirs-x'));
      mkdirSync(XW, { recursive: true });
      return readSetup(ctx);
    },
    // both refuse to extract into an existing folder's files differently; each run starts clean
    ours: ['sh', '-c', `rm -rf ${join(XW, 'ours-x')} && ./bin/squashfs extract ${IMG} ${join(XW, 'ours-x')} 2>/dev/null`],
    theirs: ['sh', '-c', `rm -rf ${join(XW, 'theirs-x')} && unsquashfs -q -n -d ${join(XW, 'theirs-x')} ${IMG} >/dev/null`],
    check: () => sameTrees(join(XW, 'ours-x'), join(XW, 'theirs-x')),
    runs: 5,
    requires: ['mksquashfs', 'unsquashfs'],
    skip: notBuilt,
    theirsVersion: version,
  },
  ...realReadCases,
];
