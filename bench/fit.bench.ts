/**
 * FIT images (issue 6): build a FIT with a 64 MiB kernel and sha256 hashes, with the data inside the
 * tree and with `-E` (external data), against `mkimage -f`. Same SOURCE_DATE_EPOCH; the check
 * wants identical bytes (with -E, mkimage 2023.01 leaves stale bytes in the padding before the data,
 * where ours are zero: the check masks exactly that range). Goal: ≤ 1.0× mkimage.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { remove, workDir, type BenchCase, type SetupContext } from './case.js';
import { MiB, writeSeeded } from './data.js';

const W = workDir('fit');
const ITS = join(W, 'image.its');

function setup(ctx: SetupContext, out: string[]): { bytes: number } {
  process.env.SOURCE_DATE_EPOCH = '315532800';
  const bytes = (ctx.quick ? 4 : 64) * MiB;
  writeSeeded(join(W, 'kernel'), bytes, { seed: 0xd00d_feed, kind: 'kernel' });
  writeSeeded(join(W, 'fdt.dtb'), 64 * 1024, { seed: 7, kind: 'random' });
  writeFileSync(ITS, `/dts-v1/;
/ {
	description = "bench FIT";
	#address-cells = <1>;
	images {
		kernel {
			description = "kernel";
			data = /incbin/("${resolve(W, 'kernel')}");
			type = "kernel"; arch = "arm"; os = "linux"; compression = "none";
			load = <0x40008000>; entry = <0x40008000>;
			hash-1 { algo = "sha256"; };
		};
		fdt-1 {
			description = "fdt";
			data = /incbin/("${resolve(W, 'fdt.dtb')}");
			type = "flat_dt"; arch = "arm"; compression = "none";
			hash-1 { algo = "sha256"; };
		};
	};
	configurations {
		default = "conf-1";
		conf-1 { kernel = "kernel"; fdt = "fdt-1"; };
	};
};
`);
  for (const f of out) remove(f);
  return { bytes };
}

/** Byte-identical, except the zero-filled range ours has before the external data (see the header comment). */
function sameFit(ours: string, theirs: string, external: boolean): void {
  const a = readFileSync(ours), b = readFileSync(theirs);
  if (a.length !== b.length) throw new Error(`sizes differ: ${a.length} vs ${b.length}`);
  const totalsize = a.readUInt32BE(4);
  const stringsEnd = a.readUInt32BE(12) + a.readUInt32BE(32); // off_dt_strings + size_dt_strings
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    if (external && i >= stringsEnd && i < Math.ceil(totalsize / 4) * 4 + 4096 && a[i] === 0) continue;
    throw new Error(`first difference at byte ${i} (0x${i.toString(16)})`);
  }
}

const notBuilt = () => (existsSync('dist/cli/uimage.js') ? undefined : 'dist/ is not built: run `npm run build`');
const version = () => {
  const r = spawnSync('mkimage', ['-V'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0]!.trim() : undefined;
};

const cases_: BenchCase[] = [];
for (const external of [false, true]) {
  const ours = join(W, external ? 'ours-E.itb' : 'ours.itb');
  const theirs = join(W, external ? 'theirs-E.itb' : 'theirs.itb');
  const extra = external ? ['-E', '-B', '0x1000'] : [];
  cases_.push({
    name: `fit build 64 MiB kernel, sha256${external ? ', -E external data' : ''}`,
    setup: (ctx) => setup(ctx, [ours, theirs]),
    ours: { argv: ['./bin/uimage', 'fit', ...extra, '-f', ITS, ours], stdout: join(W, 'ours.out') },
    theirs: { argv: ['mkimage', ...extra, '-f', ITS, theirs], stdout: join(W, 'theirs.out') },
    goal: 1.0,
    check: () => sameFit(ours, theirs, external),
    skip: notBuilt,
    theirsVersion: version,
  });
}
export const cases: readonly BenchCase[] = cases_;
