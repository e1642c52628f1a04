/**
 * Android boot.img v2: `bootimg pack|unpack` against AOSP mkbootimg/unpack_bootimg (Debian package mkbootimg).
 * Goal for both: at most half the reference tool's wall time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assertSameFile, assertSameFiles, has, remove, workDir, type BenchCase, type SetupContext } from './case.js';
import { KiB, MiB, writeSeeded } from './data.js';

const W = workDir('bootimg');
const KERNEL = join(W, 'kernel');
const RAMDISK = join(W, 'ramdisk');
const DTB = join(W, 'dtb');
const OURS_IMG = join(W, 'ours.img');
const THEIRS_IMG = join(W, 'theirs.img');
const INPUT_IMG = join(W, 'input.img');
const OURS_DIR = join(W, 'ours-unpacked');
const THEIRS_DIR = join(W, 'theirs-unpacked');

/** Sizes of one full run; --quick uses 1/16 of them. */
const SIZES = { kernel: 64 * MiB, ramdisk: 32 * MiB, dtb: 32 * KiB };

/** mkbootimg's arguments, which `bootimg pack` takes unchanged. */
const packArgs = (out: string): string[] => [
  '--kernel', KERNEL,
  '--ramdisk', RAMDISK,
  '--cmdline', 'console=ttyMSM0,115200 androidboot.hardware=qcom',
  '--base', '0x80000000',
  '--pagesize', '4096',
  '--header_version', '2',
  '--dtb', DTB,
  '-o', out,
];

/** Kernel: partly compressible like a real Image; ramdisk: already compressed (random); dtb: small. */
function makeInputs(ctx: SetupContext): number {
  const scale = ctx.quick ? 16 : 1;
  writeSeeded(KERNEL, SIZES.kernel / scale, { seed: 0x6b65_726e, kind: 'kernel' });
  writeSeeded(RAMDISK, SIZES.ramdisk / scale, { seed: 0x7261_6d64 });
  writeSeeded(DTB, SIZES.dtb, { seed: 0x0064_7462 });
  return (SIZES.kernel + SIZES.ramdisk) / scale + SIZES.dtb;
}

function notBuilt(): string | undefined {
  return existsSync('dist/cli/bootimg.js') ? undefined : 'dist/cli/bootimg.js is missing: run `npm run build`';
}

function mkbootimgVersion(): string | undefined {
  if (!has('dpkg-query')) return undefined;
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'mkbootimg'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout !== '' ? `mkbootimg (Debian) ${r.stdout}` : undefined;
}

export const cases: readonly BenchCase[] = [
  {
    name: 'bootimg pack v2',
    setup(ctx) {
      remove(OURS_IMG);
      remove(THEIRS_IMG);
      return { bytes: makeInputs(ctx) };
    },
    ours: ['./bin/bootimg', 'pack', ...packArgs(OURS_IMG)],
    theirs: ['mkbootimg', ...packArgs(THEIRS_IMG)],
    goal: 0.5,
    beforeRun: (side) => remove(side === 'ours' ? OURS_IMG : THEIRS_IMG),
    check: () => assertSameFile(OURS_IMG, THEIRS_IMG),
    runs: 10,
    skip: notBuilt,
    theirsVersion: mkbootimgVersion,
  },
  {
    name: 'bootimg unpack v2',
    setup(ctx) {
      const bytes = makeInputs(ctx);
      remove(OURS_DIR);
      remove(THEIRS_DIR);
      // the input image comes from the reference tool, so this case does not depend on our packer
      const r = spawnSync('mkbootimg', packArgs(INPUT_IMG), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`mkbootimg exited with status ${r.status}: ${r.stderr.trim()}`);
      return { bytes };
    },
    ours: ['./bin/bootimg', 'unpack', INPUT_IMG, '-o', OURS_DIR],
    theirs: ['unpack_bootimg', '--boot_img', INPUT_IMG, '--out', THEIRS_DIR],
    goal: 0.5,
    beforeRun: (side) => remove(side === 'ours' ? OURS_DIR : THEIRS_DIR),
    check: () => assertSameFiles(OURS_DIR, THEIRS_DIR, ['kernel', 'ramdisk', 'dtb']),
    runs: 10,
    requires: ['mkbootimg'],
    skip: notBuilt,
    theirsVersion: mkbootimgVersion,
  },
];
