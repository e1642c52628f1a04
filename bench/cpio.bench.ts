/**
 * initramfs pack of a ~300 MB tree (copies of /usr/lib and /usr/share subtrees; 1/16 with --quick)
 * against GNU cpio (the nixpkgs makeInitrd pipeline) and bsdtar: uncompressed, gzip and xz.
 * Goals (issue 3): uncompressed at most 1.0x GNU cpio; gzip at most 0.6x `cpio | gzip -9n` at
 * most 1.01x its size.
 *
 * The tree depends on the host's /usr (like the research corpus): results compare across commits
 * on one machine, not across machines. Its file list is written to bench/work/cpio/tree.list.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { assertSameFile, has, remove, workDir, type BenchCase, type SetupContext } from './case.js';
import { MiB } from './data.js';

const W = workDir('cpio');
const TREE = join(W, 'tree');
const out = (n: string): string => join(W, n);

/** GNU cpio 2.13 has no --ignore-dirnlink (its --reproducible keeps the real count); 2.14+ stores 2. */
const cpioMinor = Number(/ 2\.(\d+)/.exec(has('cpio') ? spawnSync('cpio', ['--version'], { encoding: 'utf8' }).stdout ?? '' : '')?.[1] ?? 15);
const DIR_NLINK = cpioMinor < 14 ? 'stat' : '2';

const GNU = `cd ${TREE} && find . | LC_ALL=C sort | cpio --quiet -o -H newc --reproducible -R 0:0`;

let built = '';
/** Copies whole subtrees of /usr/share and /usr/lib (alternating, sorted) until `bytes` are reached. */
function makeTree(ctx: SetupContext): { bytes: number } {
  const want = (ctx.quick ? 300 / 16 : 300) * MiB;
  const stamp = `${want}`;
  if (built === stamp || (existsSync(join(W, 'tree.stamp')) && readFileSync(join(W, 'tree.stamp'), 'utf8') === stamp)) {
    built = stamp;
    return { bytes: Number(readFileSync(join(W, 'tree.bytes'), 'utf8')) };
  }
  remove(TREE);
  const sources = ['/usr/share', '/usr/lib'].map((d) => readdirSync(d).sort().map((n) => join(d, n)));
  let total = 0;
  const du = (p: string): number => {
    const st = lstatSync(p);
    if (!st.isDirectory()) return st.isFile() ? st.size : 0;
    let n = 0;
    for (const c of readdirSync(p)) n += du(join(p, c));
    return n;
  };
  for (let i = 0; total < want && (sources[0]!.length || sources[1]!.length); i++) {
    const src = sources[i % 2]!.shift();
    if (!src) continue;
    let size: number;
    try {
      size = du(src);
    } catch {
      continue; // unreadable
    }
    if (size === 0 || total + size > want * 1.1) continue;
    try {
      cpSync(src, join(TREE, src.replaceAll('/', '_')), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      total += size;
    } catch {
      /* special files and unreadable ones are skipped */
    }
  }
  writeFileSync(join(W, 'tree.bytes'), String(total));
  writeFileSync(join(W, 'tree.stamp'), stamp);
  built = stamp;
  return { bytes: total };
}

function notBuilt(): string | undefined {
  return existsSync('dist/cli/initramfs.js') ? undefined : 'dist/cli/initramfs.js is missing: run `npm run build`';
}

const version = (): string | undefined => (has('cpio') ? spawnSync('cpio', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] : undefined);

/** Same archive inside, and ours at most 1.01x the size of theirs. */
function sameGzip(ours: string, theirs: string): void {
  const a = gunzipSync(readFileSync(ours));
  const b = gunzipSync(readFileSync(theirs));
  if (Buffer.compare(a, b) !== 0) throw new Error(`${ours} and ${theirs} decompress to different archives`);
  const ratio = statSync(ours).size / statSync(theirs).size;
  if (ratio > 1.01) throw new Error(`${ours} is ${ratio.toFixed(4)}x the size of ${theirs} (goal <= 1.01)`);
}

function sameXz(ours: string, theirs: string): void {
  const d = (f: string): Buffer => spawnSync('xz', ['-dc', f], { maxBuffer: 1 << 30 }).stdout;
  if (Buffer.compare(d(ours), d(theirs)) !== 0) throw new Error(`${ours} and ${theirs} decompress to different archives`);
}

const pack = (o: string, ...extra: string[]): readonly [string, ...string[]] => ['./bin/initramfs', 'pack', '-o', o, '--dir', TREE, '--dir-nlink', DIR_NLINK, ...extra];

export const cases: readonly BenchCase[] = [
  {
    name: 'cpio pack newc vs GNU cpio',
    setup(ctx) {
      remove(out('ours.cpio'));
      remove(out('theirs.cpio'));
      return makeTree(ctx);
    },
    ours: pack(out('ours.cpio')),
    theirs: { argv: ['sh', '-c', GNU], stdout: out('theirs.cpio') },
    goal: 1.0,
    beforeRun: (side) => remove(out(side === 'ours' ? 'ours.cpio' : 'theirs.cpio')),
    check: () => assertSameFile(out('ours.cpio'), out('theirs.cpio')),
    runs: 5,
    requires: ['cpio', 'find', 'sort'],
    skip: notBuilt,
    theirsVersion: version,
  },
  {
    name: 'cpio pack newc vs bsdtar',
    setup(ctx) {
      remove(out('ours-b.cpio'));
      return makeTree(ctx);
    },
    ours: pack(out('ours-b.cpio')),
    theirs: { argv: ['bsdtar', '--format', 'newc', '-cf', '-', '-C', TREE, '.'], stdout: out('bsdtar.cpio') },
    runs: 5,
    skip: notBuilt,
    theirsVersion: () => (has('bsdtar') ? spawnSync('bsdtar', ['--version'], { encoding: 'utf8' }).stdout.trim() : undefined),
  },
  {
    name: 'cpio pack gzip vs cpio | gzip -9n',
    setup(ctx) {
      remove(out('ours.cpio.gz'));
      remove(out('theirs.cpio.gz'));
      return makeTree(ctx);
    },
    ours: pack(out('ours.cpio.gz'), '--compress', 'gzip'),
    theirs: { argv: ['sh', '-c', `${GNU} | gzip -9n`], stdout: out('theirs.cpio.gz') },
    goal: 0.6,
    check: () => sameGzip(out('ours.cpio.gz'), out('theirs.cpio.gz')),
    runs: 3,
    requires: ['cpio', 'gzip'],
    skip: notBuilt,
    theirsVersion: version,
  },
  {
    name: 'cpio pack xz vs cpio | xz --check=crc32 --lzma2=dict=512KiB',
    setup(ctx) {
      remove(out('ours.cpio.xz'));
      remove(out('theirs.cpio.xz'));
      return makeTree(ctx);
    },
    ours: pack(out('ours.cpio.xz'), '--compress', 'xz'),
    theirs: { argv: ['sh', '-c', `${GNU} | xz -T1 --check=crc32 --lzma2=dict=512KiB`], stdout: out('theirs.cpio.xz') },
    check: () => sameXz(out('ours.cpio.xz'), out('theirs.cpio.xz')),
    runs: 1,
    warmup: 0,
    requires: ['cpio', 'xz'],
    skip: notBuilt,
    theirsVersion: version,
  },
];
