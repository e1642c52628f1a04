/**
 * Device trees: compile the whole arm corpus of linux-source-6.1 (every arch/arm/boot/dts/*.dts) with
 * ours (`fdt batch`: our cpp + our dtc, one process) vs the kernel's pipeline (cpp + dtc per file).
 * Needs /usr/src/linux-source-6.1.tar.xz; the tree is extracted once by test/dtb/helpers.ts.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertSameFiles, remove, workDir, type BenchCase } from './case.js';
import { linuxTree, LINUX_TARBALL } from '../test/dtb/helpers.js';

const W = workDir('dtb');
const LIST = join(W, 'list.txt');
const OURS = join(W, 'ours'), THEIRS = join(W, 'theirs');

let tree = '';
let names: string[] = [];
const script = (): string =>
  `set -e; inc=${tree}/scripts/dtc/include-prefixes; mkdir -p ${THEIRS}; while read f; do b=$(basename "$f" .dts); ` +
  `cpp -nostdinc -I $inc -undef -D__DTS__ -x assembler-with-cpp -o ${THEIRS}/$b.pp "$f"; ` +
  `dtc -q -O dtb -b 0 -i $(dirname "$f") -i $inc -o ${THEIRS}/$b.dtb ${THEIRS}/$b.pp; rm ${THEIRS}/$b.pp; done < ${LIST}`;

export const cases: readonly BenchCase[] = [
  {
    name: 'dtb compile arm corpus (cpp + dtc)',
    setup(ctx) {
      tree = linuxTree() ?? '';
      remove(OURS);
      remove(THEIRS);
      const dir = join(tree, 'arch/arm/boot/dts');
      let files = readdirSync(dir).filter((f) => f.endsWith('.dts')).sort().map((f) => join(dir, f));
      if (ctx.quick) files = files.filter((_, i) => i % 16 === 0);
      writeFileSync(LIST, files.join('\n') + '\n');
      names = files.map((f) => f.slice(f.lastIndexOf('/') + 1).replace(/\.dts$/, '.dtb'));
      // the commands are fixed at load time, so they read the tree location and script from files
      writeFileSync(join(W, 'tree'), tree);
      writeFileSync(join(W, 'theirs.sh'), script());
      return {};
    },
    ours: ['sh', '-c', `mkdir -p ${OURS} && ./bin/fdt batch ${LIST} --out-dir ${OURS} --cpp-I $(cat ${W}/tree)/scripts/dtc/include-prefixes -i $(cat ${W}/tree)/scripts/dtc/include-prefixes`],
    theirs: ['sh', '-c', `sh ${W}/theirs.sh`],
    goal: 1.0,
    runs: 1,
    warmup: 0,
    requires: ['cpp', 'dtc', LINUX_TARBALL],
    check: () => assertSameFiles(OURS, THEIRS, names),
    skip: () => (existsSync('dist/cli/fdt.js') ? undefined : 'dist/ is not built (npm run build)'),
  },
];

