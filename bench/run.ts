/**
 * `npm run bench [-- options] [name-substring…]`: runs every `bench/*.bench.ts` case, ours and the reference
 * tool alternately on the same inputs, prints a table and writes `bench/results/<ISO 8601 basic>.json`.
 * See bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { argvOf, has, type BenchCase, type Command } from './case.js';
import { Runner, type RssMethod, type RunResult } from './measure.js';
import { formatTable, median, type CaseResult, type HyperfineSide, type RunReport, type SideResult } from './report.js';

const HELP = `Usage: npm run bench -- [options] [name-substring…]

Runs each case's command (ours) and the reference tool (theirs) alternately on the same seeded inputs,
discards warm-up runs, and reports median wall time, ratio ours/theirs and peak RSS.

Options:
  --runs N        measured runs per side (overrides each case's default)
  --warmup N      discarded runs per side before measuring (default: the case's, usually 1)
  --quick         smoke run: small inputs, 3 runs, 1 warm-up; goals are not judged
  --selftest      run only the harness self-test cases (gzip against itself)
  --rss METHOD    auto (default) | gnu-time | wait4 | none
  --timeout S     seconds before a single run is killed (default 300)
  --hyperfine     also run hyperfine on each passing case and record its statistics
  --list          list the selected cases and exit
  -h, --help      show this help
`;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SIDES = ['ours', 'theirs'] as const;

interface Options {
  readonly filters: readonly string[];
  readonly runs: number | undefined;
  readonly warmup: number | undefined;
  readonly quick: boolean;
  readonly selftest: boolean;
  readonly rss: RssMethod | 'auto';
  readonly timeoutMs: number;
  readonly hyperfine: boolean;
  readonly list: boolean;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      runs: { type: 'string' },
      warmup: { type: 'string' },
      quick: { type: 'boolean', default: false },
      selftest: { type: 'boolean', default: false },
      rss: { type: 'string', default: 'auto' },
      timeout: { type: 'string', default: '300' },
      hyperfine: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) return undefined;
  if (!['auto', 'gnu-time', 'wait4', 'none'].includes(v.rss)) throw new TypeError(`--rss: unknown method '${v.rss}'`);
  return {
    filters: positionals,
    runs: v.runs === undefined ? undefined : count(v.runs, '--runs', 1),
    warmup: v.warmup === undefined ? undefined : count(v.warmup, '--warmup', 0),
    quick: v.quick,
    selftest: v.selftest,
    rss: v.rss as RssMethod | 'auto',
    timeoutMs: count(v.timeout, '--timeout', 1) * 1000,
    hyperfine: v.hyperfine,
    list: v.list,
  };
}

function count(s: string, what: string, min: number): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < min)
    throw new TypeError(`${what}: expected an integer ≥ ${min}, got '${s}'`);
  return n;
}

async function loadCases(): Promise<BenchCase[]> {
  const files = readdirSync(join(ROOT, 'bench')).filter((f) => f.endsWith('.bench.ts')).sort();
  const all: BenchCase[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(ROOT, 'bench', f)).href)) as { cases?: readonly BenchCase[] };
    if (!Array.isArray(mod.cases)) throw new Error(`bench/${f} does not export 'cases'`);
    all.push(...mod.cases);
  }
  const seen = new Set<string>();
  for (const c of all) {
    if (seen.has(c.name)) throw new Error(`two cases are named '${c.name}'`);
    seen.add(c.name);
  }
  return all;
}

async function runCase(c: BenchCase, o: Options, runner: Runner, progress: (s: string) => void): Promise<CaseResult> {
  const runs = o.runs ?? (o.quick ? Math.min(3, c.runs ?? 10) : (c.runs ?? 10));
  const warmup = o.warmup ?? (o.quick ? Math.min(1, c.warmup ?? 1) : (c.warmup ?? 1));
  const commands = { ours: argvOf(c.ours), theirs: argvOf(c.theirs) };
  const version = c.theirsVersion?.();
  const base = {
    name: c.name,
    commands,
    runs,
    warmup,
    ...(c.goal !== undefined && { goal: c.goal }),
    ...(version !== undefined && { theirsVersion: version }),
  };

  const missing = [commands.ours[0], commands.theirs[0], ...(c.requires ?? [])].filter((p) => !has(p));
  const skip = missing.length > 0 ? `not found: ${[...new Set(missing)].join(', ')}` : c.skip?.();
  if (skip !== undefined) return { ...base, status: 'skipped', reason: skip };

  progress('setup');
  let bytes: number | undefined;
  try {
    bytes = (await c.setup({ quick: o.quick }))?.bytes;
  } catch (e) {
    return { ...base, status: 'error', reason: `setup failed: ${message(e)}` };
  }

  const cmd: Record<(typeof SIDES)[number], Command> = { ours: c.ours, theirs: c.theirs };
  const samples = { ours: [] as RunResult[], theirs: [] as RunResult[] };
  for (let i = 0; i < warmup + runs; i++) {
    for (const side of SIDES) {
      progress(i < warmup ? `warm-up ${i + 1}/${warmup} ${side}` : `run ${i - warmup + 1}/${runs} ${side}`);
      await c.beforeRun?.(side);
      const r = await runner.run(cmd[side], { cwd: ROOT, timeoutMs: o.timeoutMs });
      const failure = describeFailure(r, o.timeoutMs);
      if (failure !== undefined) {
        const err = r.stderr.trim().split('\n').slice(-5).join('\n');
        return { ...base, status: 'error', reason: `${side} ${failure}${err ? `:\n${err}` : ''}` };
      }
      if (i >= warmup) samples[side].push(r);
    }
  }

  progress('check');
  let mismatch: string | undefined;
  try {
    await c.check?.();
  } catch (e) {
    mismatch = message(e);
  }

  const ours = stats(samples.ours, bytes);
  const theirs = stats(samples.theirs, bytes);
  const ratio = ours.medianMs / theirs.medianMs;
  const judged = c.goal !== undefined && !o.quick && mismatch === undefined;
  const hf = o.hyperfine && mismatch === undefined ? hyperfine(c, runs, warmup) : undefined;
  return {
    ...base,
    status: mismatch === undefined ? 'ok' : 'mismatch',
    ...(mismatch !== undefined && { reason: mismatch }),
    ...(bytes !== undefined && { bytes }),
    ours,
    theirs,
    ratio,
    ...(judged && { met: ratio <= c.goal! }),
    ...(hf !== undefined && { hyperfine: hf }),
  };
}

function describeFailure(r: RunResult, timeoutMs: number): string | undefined {
  if (r.timedOut) return `timed out after ${timeoutMs / 1000} s`;
  if (r.signal !== null) return `was killed by ${r.signal}`;
  if (r.code !== 0) return `exited with status ${r.code}`;
  return undefined;
}

function stats(rs: readonly RunResult[], bytes: number | undefined): SideResult {
  const ms = rs.map((r) => r.ms);
  const rss = rs.map((r) => r.rssKiB ?? null);
  const known = rss.filter((v): v is number => v !== null);
  const med = median(ms);
  return {
    samplesMs: ms.map((v) => Math.round(v * 1000) / 1000),
    medianMs: med,
    minMs: Math.min(...ms),
    maxMs: Math.max(...ms),
    rssKiB: rss,
    peakRssKiB: known.length > 0 ? Math.max(...known) : null,
    mbPerS: bytes === undefined ? null : bytes / 1e6 / (med / 1000),
  };
}

/** hyperfine's own alternating-free measurement of the same two commands, as a cross-check. */
function hyperfine(c: BenchCase, runs: number, warmup: number): CaseResult['hyperfine'] {
  if (!has('hyperfine')) return { note: 'hyperfine not found' };
  if ('stdout' in c.ours || 'stdout' in c.theirs) return { note: 'not run: a command redirects stdout (hyperfine -N cannot)' };
  const out = join(ROOT, 'bench', 'work', 'hyperfine.json');
  const args = ['-N', '--style', 'basic', '--warmup', String(warmup), '--runs', String(Math.max(2, runs)), '--export-json', out];
  for (const side of SIDES) args.push('-n', side, argvOf(c[side]).map(shellQuote).join(' '));
  const r = spawnSync('hyperfine', args, { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) return { note: `hyperfine exited with status ${r.status}` };
  const json = JSON.parse(readFileSync(out, 'utf8')) as { results: { mean: number; stddev: number | null; median: number }[] };
  const side = (i: number): HyperfineSide => {
    const s = json.results[i]!;
    return { meanMs: s.mean * 1000, stddevMs: s.stddev === null ? null : s.stddev * 1000, medianMs: s.median * 1000 };
  };
  return { ours: side(0), theirs: side(1) };
}

function shellQuote(s: string): string {
  return /^[\w./,:=@%+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function git(args: string[]): string | null {
  const r = spawnSync('git', ['--no-optional-locks', ...args], { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

async function main(argv: string[]): Promise<number> {
  process.chdir(ROOT); // case files name their paths relative to the repository root
  const o = parseOptions(argv);
  if (o === undefined) return process.stdout.write(HELP), 0;
  const all = await loadCases();
  const selected = all.filter(
    (c) => (c.selftest ?? false) === o.selftest && (o.filters.length === 0 || o.filters.some((f) => c.name.includes(f))),
  );
  if (selected.length === 0) {
    const names = all.map((c) => `  ${c.name}${c.selftest ? ' (--selftest)' : ''}\n`).join('');
    process.stderr.write(`bench: no case matches; cases are:\n${names}`);
    return 2;
  }
  if (o.list) return process.stdout.write(selected.map((c) => `${c.name}\n`).join('')), 0;

  const rss = Runner.detect(o.rss);
  if (rss.note !== undefined) process.stderr.write(`bench: peak RSS: ${rss.note}\n`);
  const dist = join(ROOT, 'dist');
  if (existsSync(dist) && newestMtime(join(ROOT, 'src')) > newestMtime(dist))
    process.stderr.write('bench: warning: src/ is newer than dist/; run `npm run build` to measure the current code\n');

  const runner = new Runner(rss.method);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    // children run in their own process group (see measure.ts), so they do not get the terminal's ^C
    process.once(signal, () => {
      runner.kill();
      runner.dispose();
      process.exit(code);
    });
  }
  const results: CaseResult[] = [];
  try {
    for (const [i, c] of selected.entries()) {
      const tag = `[${i + 1}/${selected.length}] ${c.name}`;
      const progress = (s: string): void => {
        if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${tag}: ${s}`);
      };
      // a case file's own code (skip, setup helpers) must not stop the other cases
      const r = await runCase(c, o, runner, progress).catch(
        (e: unknown): CaseResult => ({
          name: c.name,
          status: 'error',
          reason: `harness: ${message(e)}`,
          commands: { ours: argvOf(c.ours), theirs: argvOf(c.theirs) },
          runs: 0,
          warmup: 0,
        }),
      );
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      process.stderr.write(`${tag}: ${r.status}${r.ratio !== undefined ? ` (ratio ${r.ratio.toFixed(2)})` : ''}\n`);
      results.push(r);
    }
  } finally {
    runner.dispose();
  }

  process.stdout.write(`\n${formatTable(results, o.quick, rss.floorKiB)}`);
  const date = new Date();
  const report: RunReport = {
    schema: 1,
    date: date.toISOString(),
    quick: o.quick,
    args: argv,
    host: {
      node: process.version,
      os: `${process.platform} ${release()} ${process.arch}`,
      cpu: cpus()[0]?.model ?? 'unknown',
      cpus: cpus().length,
      memMiB: Math.round(totalmem() / 1024 / 1024),
    },
    git: { commit: git(['rev-parse', 'HEAD']), dirty: dirty() },
    rss,
    cases: results,
  };
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  // ISO 8601 basic format (20250102T030405.678Z): no ':', so the name is valid on every file system
  const file = join(dir, `${date.toISOString().replace(/[-:]/g, '')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\nResults: ${relative(process.cwd(), file)}\n`);
  return results.some((r) => r.status === 'error' || r.status === 'mismatch') ? 1 : 0;
}

function dirty(): boolean | null {
  const s = git(['status', '--porcelain', '--untracked-files=no']);
  return s === null ? null : s !== '';
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof TypeError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = e instanceof TypeError ? 2 : 1;
  },
);
