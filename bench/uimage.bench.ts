/**
 * U-Boot legacy uImage and LZMA kernels (issue 4):
 *  - pack a 64 MiB kernel against `mkimage` (same SOURCE_DATE_EPOCH, identical output);
 *  - list (CRCs verified) against `mkimage -T kernel -l`, extract against `dumpimage -p 0`;
 *  - LZMA-compress a 16 MiB kernel (OpenWrt settings lc1 lp2 pb2, 1 MiB dictionary, preset 6) against
 *    `xz --format=lzma` with the same settings, with imgkit's encoder (`--encoder imgkit`; the check
 *    decodes both and compares their sizes) and with liblzma, the default (xz's bytes; no goal).
 * Goals: ≤ 1.0× mkimage/dumpimage; LZMA ≤ 1.0× xz at equal size (within 1%).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { assertSameFile, remove, workDir, type BenchCase, type SetupContext } from './case.js';
import { MiB, writeSeeded } from './data.js';

const W = workDir('uimage');
const KERNEL = join(W, 'kernel');
const SMALL = join(W, 'kernel16');
const INPUT_IMG = join(W, 'input.uimg');
const OURS = join(W, 'ours.uimg');
const THEIRS = join(W, 'theirs.uimg');
const OURS_OUT = join(W, 'ours.bin');
const THEIRS_OUT = join(W, 'theirs.bin');
const OURS_LZMA = join(W, 'ours.lzma');
const THEIRS_LZMA = join(W, 'theirs.lzma');

/** mkimage's arguments, which `uimage pack` takes unchanged (it is quiet with -q; mkimage always prints). */
const packArgs = (input: string, out: string): string[] =>
  ['-A', 'arm', '-O', 'linux', '-T', 'kernel', '-C', 'none', '-a', '0x40008000', '-e', '0x40008000', '-n', 'bench kernel', '-d', input, out];

function kernel(ctx: SetupContext): number {
  process.env.SOURCE_DATE_EPOCH = '315532800'; // inherited by both commands: identical ih_time
  const bytes = (ctx.quick ? 4 : 64) * MiB;
  writeSeeded(KERNEL, bytes, { seed: 0x2705_1956, kind: 'kernel' });
  return bytes;
}

function notBuilt(): string | undefined {
  return existsSync('dist/cli/uimage.js') && existsSync('dist/cli/compress.js') ? undefined : 'dist/ is not built: run `npm run build`';
}

function version(cmd: string, args: string[]): () => string | undefined {
  return () => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return r.status === 0 ? (r.stdout || r.stderr).split('\n')[0]!.trim() : undefined;
  };
}

const LZMA_XZ = '--lzma1=preset=6,lc=1,lp=2,pb=2,dict=1MiB';
const LZMA_OURS = ['./bin/imgkit', 'compress', '--format', 'lzma', '--level', '6', '--lc', '1', '--lp', '2', '--pb', '2', '--dict', '1MiB'] as const;

function lzmaSetup(ctx: SetupContext): { bytes: number } {
  remove(OURS_LZMA);
  remove(THEIRS_LZMA);
  const bytes = (ctx.quick ? 1 : 16) * MiB;
  writeSeeded(SMALL, bytes, { seed: 0x6c7a_6d61, kind: 'kernel' });
  return { bytes };
}

/** Both streams decode to the input (xz -dc); returns its size. */
function lzmaCheck(): number {
  const input = readFileSync(SMALL);
  for (const f of [OURS_LZMA, THEIRS_LZMA]) {
    const d = spawnSync('xz', ['-dc', '--format=lzma', f], { maxBuffer: 1 << 30 });
    if (d.status !== 0 || !input.equals(d.stdout)) throw new Error(`${f} does not decode to the input`);
  }
  return input.length;
}

export const cases: readonly BenchCase[] = [
  {
    name: 'uimage pack 64 MiB kernel',
    setup(ctx) {
      remove(OURS);
      remove(THEIRS);
      return { bytes: kernel(ctx) };
    },
    ours: ['./bin/uimage', 'pack', '-q', ...packArgs(KERNEL, OURS)],
    theirs: { argv: ['mkimage', ...packArgs(KERNEL, THEIRS)], stdout: join(W, 'mkimage.out') },
    goal: 1.0,
    check: () => assertSameFile(OURS, THEIRS),
    skip: notBuilt,
    theirsVersion: version('mkimage', ['-V']),
  },
  {
    name: 'uimage list 64 MiB kernel (CRCs verified)',
    setup(ctx) {
      const bytes = kernel(ctx);
      const r = spawnSync('mkimage', packArgs(KERNEL, INPUT_IMG), { stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`mkimage exited with status ${r.status}`);
      return { bytes };
    },
    ours: { argv: ['./bin/uimage', 'list', INPUT_IMG], stdout: join(W, 'ours.list') },
    theirs: { argv: ['mkimage', '-T', 'kernel', '-l', INPUT_IMG], stdout: join(W, 'theirs.list') },
    goal: 1.0,
    check: () => assertSameFile(join(W, 'ours.list'), join(W, 'theirs.list')),
    skip: notBuilt,
    theirsVersion: version('mkimage', ['-V']),
  },
  {
    name: 'uimage extract 64 MiB kernel',
    setup(ctx) {
      const bytes = kernel(ctx);
      remove(OURS_OUT);
      remove(THEIRS_OUT);
      const r = spawnSync('mkimage', packArgs(KERNEL, INPUT_IMG), { stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`mkimage exited with status ${r.status}`);
      return { bytes };
    },
    ours: ['./bin/uimage', 'extract', INPUT_IMG, '-p', '0', '-o', OURS_OUT],
    theirs: ['dumpimage', '-T', 'kernel', '-p', '0', '-o', THEIRS_OUT, INPUT_IMG],
    // neither side pays for freeing the previous run's 64 MiB output (rename over it, or O_TRUNC)
    beforeRun: (side) => remove(side === 'ours' ? OURS_OUT : THEIRS_OUT),
    goal: 1.0,
    check: () => assertSameFile(OURS_OUT, THEIRS_OUT),
    requires: ['mkimage'],
    skip: notBuilt,
    theirsVersion: version('dumpimage', ['-V']),
  },
  {
    name: 'lzma compress 16 MiB kernel, --encoder imgkit (lc1 lp2 pb2, 1 MiB dict)',
    setup: lzmaSetup,
    ours: [...LZMA_OURS, '--encoder', 'imgkit', SMALL, '-o', OURS_LZMA],
    theirs: { argv: ['xz', '--format=lzma', LZMA_XZ, '-c', SMALL], stdout: THEIRS_LZMA },
    goal: 1.0,
    check() {
      const n = lzmaCheck();
      const ours = statSync(OURS_LZMA).size;
      const theirs = statSync(THEIRS_LZMA).size;
      if (Math.abs(ours - theirs) > theirs * 0.01) throw new Error(`sizes differ by more than 1%: ours ${ours}, xz ${theirs}`);
      const h = readFileSync(OURS_LZMA).subarray(0, 13);
      if (h[0] !== 0x6d || h.readUInt32LE(1) !== MiB || h.readBigUInt64LE(5) !== BigInt(n)) throw new Error('ours: props/dict/size header is not 6d, 1 MiB, the input size');
    },
    runs: 5,
    skip: notBuilt,
    theirsVersion: version('xz', ['--version']),
  },
  {
    // the default encoder is xz's own liblzma: its bytes, so no faster than xz (no goal)
    name: "lzma compress 16 MiB kernel, liblzma (xz's bytes)",
    setup: lzmaSetup,
    ours: [...LZMA_OURS, SMALL, '-o', OURS_LZMA],
    theirs: { argv: ['xz', '--format=lzma', LZMA_XZ, '-c', SMALL], stdout: THEIRS_LZMA },
    check() {
      lzmaCheck();
      // with the native addon, xz's stream byte for byte but for the size in the header
      if (!readFileSync(OURS_LZMA).subarray(13).equals(readFileSync(THEIRS_LZMA).subarray(13))) throw new Error("not xz's stream");
    },
    runs: 5,
    skip: notBuilt,
    theirsVersion: version('xz', ['--version']),
  },
];
