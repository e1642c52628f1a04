/**
 * Runs one command and measures it: wall time, and the child's peak RSS from the kernel's rusage
 * (`ru_maxrss`, KiB) as seen by a small wrapper that waits for it:
 *
 * - `gnu-time`: `/usr/bin/time -f %M -o <file>` (Debian package `time`). Wall time is taken in this process
 *   around spawn → exit; the wrapper adds about 1 ms to both sides.
 * - `wait4`: `python3 -I -S` starts the command with posix_spawn and reads ru_maxrss from os.wait4. Python
 *   starts in ~0.1 s, so here the wrapper also times the command itself (perf_counter around spawn → wait).
 * - `none`: no wrapper; RSS is reported as unknown.
 *
 * ru_maxrss is sticky across exec: the command's value includes the RSS its process had before exec, i.e.
 * the wrapper's (about 1 MiB for GNU time, 9 MiB for Python). `floorKiB` is that value, measured by running
 * `true`; a peak at the floor only says "at most this much". ru_maxrss of a waited-for child also covers its
 * waited-for descendants, so a CLI that runs helpers is charged for the largest of them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { argvOf, type Command } from './case.js';

export type RssMethod = 'gnu-time' | 'wait4' | 'none';

const GNU_TIME = '/usr/bin/time';

/** Writes "<ru_maxrss KiB> <elapsed ns>" to argv[1]. */
const WAIT4_PY = `
import os, signal, sys, time
start = time.perf_counter_ns()
try:
    pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
except OSError as e:
    sys.stderr.write(f"{sys.argv[2]}: {e.strerror}\\n"); sys.exit(127)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter_ns() - start
with open(sys.argv[1], "w") as f: f.write(f"{usage.ru_maxrss} {elapsed}")
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL); os.kill(os.getpid(), os.WTERMSIG(status))
sys.exit(os.WEXITSTATUS(status))
`;

export interface RunResult {
  readonly ms: number;
  /** Peak resident set size of the child in KiB; undefined when not measured. */
  readonly rssKiB: number | undefined;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  /** The last 4 KiB of the child's stderr. */
  readonly stderr: string;
}

export interface RssSetup {
  readonly method: RssMethod;
  /** ru_maxrss the wrapper itself leaves in every result (see above); undefined with `none`. */
  readonly floorKiB?: number;
  /** Why `auto` fell back from GNU time. */
  readonly note?: string;
}

export class Runner {
  readonly #dir = mkdtempSync(join(tmpdir(), 'imgkit-bench-'));
  readonly #rssFile = join(this.#dir, 'rss');
  /** Process group of the running child, killed on timeout or when the harness is interrupted. */
  #pgid: number | undefined;

  constructor(readonly rss: RssMethod) {}

  /** The method asked for, or with `auto` the first that works here. */
  static detect(want: RssMethod | 'auto'): RssSetup {
    if (want === 'none') return { method: 'none' };
    if (want !== 'auto') {
      const floorKiB = probe(want);
      if (floorKiB === undefined) throw new Error(`RSS method '${want}' does not work on this host`);
      return { method: want, floorKiB };
    }
    const viaTime = probe('gnu-time');
    if (viaTime !== undefined) return { method: 'gnu-time', floorKiB: viaTime };
    const note = existsSync(GNU_TIME) ? `${GNU_TIME} does not take -f/-o (not GNU time)` : `${GNU_TIME} not found (apt install time)`;
    const viaPython = probe('wait4');
    if (viaPython !== undefined) return { method: 'wait4', floorKiB: viaPython, note: `${note}; using python3 os.wait4` };
    return { method: 'none', note: `${note}, and python3 is unavailable: peak RSS not measured` };
  }

  /** Runs `cmd` from `cwd` with stdin closed and stdout discarded (or sent to the command's file). */
  run(cmd: Command, opts: { cwd: string; timeoutMs: number }): Promise<RunResult> {
    const wrapped = wrap(this.rss, this.#rssFile, argvOf(cmd));
    rmSync(this.#rssFile, { force: true });
    const out = 'stdout' in cmd ? openSync(resolve(opts.cwd, cmd.stdout), 'w') : 'ignore';
    return new Promise((resolve) => {
      let stderr = '';
      let timedOut = false;
      let done = false;
      const start = process.hrtime.bigint();
      // detached: its own process group, so a timeout also stops what the wrapper started
      const child = spawn(wrapped[0], wrapped.slice(1), { cwd: opts.cwd, stdio: ['ignore', out, 'pipe'], detached: true });
      if (typeof out === 'number') closeSync(out);
      this.#pgid = child.pid;
      const timer = setTimeout(() => {
        timedOut = true;
        this.kill();
      }, opts.timeoutMs);
      const childErr = child.stderr!; // stdio[2] is 'pipe'
      childErr.setEncoding('utf8');
      childErr.on('data', (s: string) => {
        stderr = (stderr + s).slice(-4096);
      });
      const finish = (code: number | null, signal: NodeJS.Signals | null, ms: number): void => {
        if (done) return; // 'error' can be followed by 'close'
        done = true;
        clearTimeout(timer);
        this.#pgid = undefined;
        const m = this.#readWrapper();
        resolve({ ms: m.ms ?? ms, rssKiB: m.rssKiB, code, signal, timedOut, stderr });
      };
      child.on('error', (e) => {
        stderr += `${e.message}\n`;
        finish(127, null, 0);
      });
      child.on('exit', (code, signal) => {
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        // stderr may still be draining: wait for 'close' before reporting, but time stops at exit
        child.on('close', () => finish(code, signal, ms));
      });
    });
  }

  /** Kills the running child's process group, if any. */
  kill(): void {
    if (this.#pgid === undefined) return;
    try {
      process.kill(-this.#pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  dispose(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #readWrapper(): { rssKiB: number | undefined; ms?: number } {
    if (this.rss === 'none') return { rssKiB: undefined };
    return parseWrapperFile(this.#rssFile) ?? { rssKiB: undefined };
  }
}

/**
 * GNU time: "<KiB>" on the last line (after "Command exited with non-zero status N" when the command failed).
 * wait4 wrapper: "<KiB> <elapsed ns>".
 */
function parseWrapperFile(file: string): { rssKiB: number; ms?: number } | undefined {
  let last: string;
  try {
    last = readFileSync(file, 'utf8').trim().split('\n').at(-1) ?? '';
  } catch {
    return undefined;
  }
  const m = /^(\d+)(?: (\d+))?$/.exec(last);
  if (m === null) return undefined;
  return { rssKiB: Number(m[1]), ...(m[2] !== undefined && { ms: Number(m[2]) / 1e6 }) };
}

function wrap(rss: RssMethod, rssFile: string, argv: readonly string[]): [string, ...string[]] {
  switch (rss) {
    case 'gnu-time':
      return [GNU_TIME, '-f', '%M', '-o', rssFile, '--', ...argv];
    case 'wait4':
      return ['python3', '-I', '-S', '-c', WAIT4_PY, rssFile, ...argv];
    case 'none':
      return [argv[0]!, ...argv.slice(1)];
  }
}

/** Runs `true` under the method: its ru_maxrss is the method's floor; undefined if the method does not work. */
function probe(method: Exclude<RssMethod, 'none'>): number | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'imgkit-bench-probe-'));
  try {
    const file = join(dir, 'rss');
    const [cmd, ...args] = wrap(method, file, ['true']);
    const r = spawnSync(cmd, args, { stdio: 'ignore' });
    return r.status === 0 ? parseWrapperFile(file)?.rssKiB : undefined;
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
