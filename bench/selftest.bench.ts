/**
 * Harness self-test, run only by `npm run bench -- --selftest`: GNU gzip against itself, so both sides must
 * produce identical bytes and the ratio must come out near 1. It exercises setup, stdout redirection,
 * alternation, RSS measurement, check and the results file without depending on our own CLIs.
 */
import { join } from 'node:path';
import { assertSameFile, remove, workDir, type BenchCase } from './case.js';
import { MiB, writeSeeded } from './data.js';

const W = workDir('selftest');
const INPUT = join(W, 'input');
const A = join(W, 'a.gz');
const B = join(W, 'b.gz');

export const cases: readonly BenchCase[] = [
  {
    name: 'selftest gzip vs gzip',
    setup(ctx) {
      remove(A);
      remove(B);
      const bytes = (ctx.quick ? 1 : 8) * MiB;
      writeSeeded(INPUT, bytes, { seed: 1, kind: 'kernel' });
      return { bytes };
    },
    ours: { argv: ['gzip', '-6', '-n', '-c', INPUT], stdout: A },
    theirs: { argv: ['gzip', '-6', '-n', '-c', INPUT], stdout: B },
    goal: 1.5,
    check: () => assertSameFile(A, B),
    runs: 5,
    selftest: true,
  },
];
