/**
 * What a benchmark case is, and the helpers case files use. A case file `bench/<format>.bench.ts` exports
 * `cases: readonly BenchCase[]`; `bench/run.ts` finds it, runs it and reports it.
 */
import { existsSync, mkdirSync, openSync, readSync, closeSync, fstatSync, rmSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A program to run: argv[0] is looked up on PATH unless it contains a slash (then it is relative to the repo root). */
export type Argv = readonly [string, ...string[]];

/** An argv, or an argv whose stdout goes to a file (the harness opens it; no shell is involved). */
export type Command = Argv | { readonly argv: Argv; readonly stdout: string };

export interface SetupContext {
  /** `--quick`: make small inputs, for a smoke run of the commands rather than a measurement. */
  readonly quick: boolean;
}

export interface SetupInfo {
  /** Input bytes one run processes; gives MB/s in the JSON results. */
  readonly bytes?: number;
}

export interface BenchCase {
  /** Unique; `npm run bench -- <substring>` selects cases by it. Keep it stable: results are compared by name. */
  readonly name: string;
  /** Creates the seeded inputs under `bench/work/` and removes stale outputs. Not timed. Runs once per case. */
  readonly setup: (ctx: SetupContext) => SetupInfo | void | Promise<SetupInfo | void>;
  /** Our CLI, run from the repository root. */
  readonly ours: Command;
  /** The reference tool on the same inputs. */
  readonly theirs: Command;
  /** Target for median(ours) / median(theirs): met when the ratio is at most this. */
  readonly goal?: number;
  /**
   * Called before every run of either side, not timed: removes the previous run's output, so that
   * neither tool pays inside its timing for freeing the page cache of a large file it replaces.
   */
  readonly beforeRun?: (side: 'ours' | 'theirs') => void | Promise<void>;
  /** Called after the last run; throws (with a message saying where) when the two outputs differ. */
  readonly check?: () => void | Promise<void>;
  /** Measured runs per side (default 10). `--runs N` overrides it. */
  readonly runs?: number;
  /** Discarded runs per side before the measured ones (default 1). */
  readonly warmup?: number;
  /** Other programs or files the case needs (setup tools, for instance); a missing one skips the case. */
  readonly requires?: readonly string[];
  /** Returns a reason to skip the case (e.g. "dist/ is not built"), or undefined to run it. */
  readonly skip?: () => string | undefined;
  /** The reference tool's version, recorded in the JSON results. */
  readonly theirsVersion?: () => string | undefined;
  /** Runs only with `--selftest` (harness checks), and `--selftest` runs only these. */
  readonly selftest?: boolean;
}

export function argvOf(cmd: Command): Argv {
  return 'argv' in cmd ? cmd.argv : cmd;
}

/** Work directory for one case file: `bench/work/<name>/`, created if needed. Relative to the repo root. */
export function workDir(name: string): string {
  const dir = join('bench', 'work', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Removes `path` (file or directory) if present. Setup uses it so that a check never sees a stale output. */
export function remove(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

/** Whether a program (on PATH, or a path if it contains a slash) or a file exists. */
export function has(program: string): boolean {
  if (program.includes('/')) return existsSync(program);
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir !== '' && isFile(join(dir, program))) return true;
  }
  return false;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Throws unless the two files have the same bytes; the message names the first differing offset. */
export function assertSameFile(ours: string, theirs: string): void {
  const a = openSync(ours, 'r');
  const b = openSync(theirs, 'r');
  try {
    const sa = fstatSync(a).size;
    const sb = fstatSync(b).size;
    const bufA = new Uint8Array(1024 * 1024);
    const bufB = new Uint8Array(1024 * 1024);
    for (let pos = 0; pos < Math.min(sa, sb); ) {
      const n = Math.min(bufA.length, Math.min(sa, sb) - pos);
      readFull(a, bufA, n, pos);
      readFull(b, bufB, n, pos);
      for (let i = 0; i < n; i++) {
        if (bufA[i] !== bufB[i]) {
          const at = pos + i;
          throw new Error(
            `${ours} and ${theirs} differ at byte 0x${at.toString(16)}: 0x${hex2(bufA[i]!)} vs 0x${hex2(bufB[i]!)}`,
          );
        }
      }
      pos += n;
    }
    if (sa !== sb) throw new Error(`${ours} has ${sa} bytes, ${theirs} has ${sb} (equal up to the shorter)`);
  } finally {
    closeSync(a);
    closeSync(b);
  }
}

/** Throws unless each named file exists in both directories with the same bytes. */
export function assertSameFiles(oursDir: string, theirsDir: string, names: readonly string[]): void {
  for (const name of names) {
    for (const dir of [oursDir, theirsDir]) {
      if (!existsSync(join(dir, name))) throw new Error(`${join(dir, name)} is missing`);
    }
    assertSameFile(join(oursDir, name), join(theirsDir, name));
  }
}

function readFull(fd: number, buf: Uint8Array, n: number, pos: number): void {
  for (let got = 0; got < n; ) {
    const r = readSync(fd, buf, got, n - got, pos + got);
    if (r === 0) throw new Error(`file shrank while being compared (at byte ${pos + got})`);
    got += r;
  }
}

function hex2(v: number): string {
  return v.toString(16).padStart(2, '0');
}
