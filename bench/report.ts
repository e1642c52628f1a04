/** Result records (the JSON schema of `bench/results/*.json`) and the text table printed at the end of a run. */

export type Status = 'ok' | 'mismatch' | 'error' | 'skipped';

export interface SideResult {
  /** Measured runs only (warm-up runs are discarded), in run order. */
  readonly samplesMs: readonly number[];
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** ru_maxrss of each measured run in KiB; null when not measured. */
  readonly rssKiB: readonly (number | null)[];
  /** Largest of `rssKiB`; null when not measured. */
  readonly peakRssKiB: number | null;
  /** Input bytes / median time, in MB/s (10^6); null when the case does not declare its size. */
  readonly mbPerS: number | null;
}

export interface HyperfineSide {
  readonly meanMs: number;
  readonly stddevMs: number | null;
  readonly medianMs: number;
}

export interface CaseResult {
  readonly name: string;
  readonly status: Status;
  /** Why the case was skipped, failed or mismatched. */
  readonly reason?: string;
  readonly commands: { readonly ours: readonly string[]; readonly theirs: readonly string[] };
  readonly runs: number;
  readonly warmup: number;
  readonly bytes?: number;
  readonly ours?: SideResult;
  readonly theirs?: SideResult;
  /** median(ours) / median(theirs): below 1 means we are faster. */
  readonly ratio?: number;
  readonly goal?: number;
  /** ratio <= goal; absent without a goal, in --quick runs, and when the outputs differ. */
  readonly met?: boolean;
  readonly theirsVersion?: string;
  /** Present with --hyperfine: its own statistics, for cross-checking ours. */
  readonly hyperfine?: { readonly ours: HyperfineSide; readonly theirs: HyperfineSide } | { readonly note: string };
}

export interface RunReport {
  readonly schema: 1;
  readonly date: string;
  readonly quick: boolean;
  readonly args: readonly string[];
  readonly host: {
    readonly node: string;
    readonly os: string;
    readonly cpu: string;
    readonly cpus: number;
    readonly memMiB: number;
  };
  readonly git: { readonly commit: string | null; readonly dirty: boolean | null };
  /** How peak RSS was measured; values at `floorKiB` are the wrapper's own and mean "at most". */
  readonly rss: { readonly method: string; readonly floorKiB?: number; readonly note?: string };
  readonly cases: readonly CaseResult[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const HEAD = ['case', 'runs', 'ours (median)', 'theirs (median)', 'ratio', 'ours RSS', 'theirs RSS', 'goal', 'met'];
/** Columns after the name are numbers: right-aligned. */
const RIGHT = [false, true, true, true, true, true, true, true, false];

/** The summary table; skipped and failed cases get their reason in place of numbers. */
export function formatTable(cases: readonly CaseResult[], quick: boolean, rssFloorKiB: number | undefined): string {
  // a peak within 10% of the wrapper's own ru_maxrss is the wrapper's, not the command's
  const mib = (kib: number | null): string =>
    kib === null ? '?' : `${rssFloorKiB !== undefined && kib <= rssFloorKiB * 1.1 ? '≤ ' : ''}${(kib / 1024).toFixed(1)} MiB`;
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const c of cases) {
    if (c.ours === undefined || c.theirs === undefined) {
      const reason = c.reason ?? '';
      const more = reason.includes('\n');
      const shown = more ? `${firstLine(reason).replace(/:$/, '')} (see below)` : reason;
      rows.push([c.name, c.status === 'skipped' ? 'skipped:' : 'ERROR:', shown]);
      if (more) notes.push(`${c.name}: ${reason}`);
      continue;
    }
    const met =
      c.status === 'mismatch' ? 'MISMATCH'
      : c.met !== undefined ? (c.met ? 'yes' : 'NO')
      : c.goal !== undefined && quick ? 'n/a'
      : '';
    rows.push([
      c.name,
      String(c.runs),
      ms(c.ours.medianMs),
      ms(c.theirs.medianMs),
      (c.ratio ?? NaN).toFixed(2),
      mib(c.ours.peakRssKiB),
      mib(c.theirs.peakRssKiB),
      c.goal === undefined ? '' : `≤ ${c.goal.toFixed(2)}`,
      met,
    ]);
    if (c.status === 'mismatch') notes.push(`${c.name}: outputs differ: ${c.reason ?? ''}`);
  }
  const width = HEAD.map((h, i) => Math.max(h.length, ...rows.filter((r) => r.length === HEAD.length).map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string =>
    r.length === HEAD.length
      ? r.map((cell, i) => (RIGHT[i] ? cell.padStart(width[i]!) : cell.padEnd(width[i]!))).join('  ').trimEnd()
      : `${r[0]!.padEnd(width[0]!)}  ${r.slice(1).join('  ')}`;
  const out = [line(HEAD), ...rows.map(line)];
  if (quick) notes.push('--quick: small inputs and few runs; goals are not judged');
  if (notes.length > 0) out.push('', ...notes);
  return out.join('\n') + '\n';
}

function ms(v: number): string {
  return `${v.toFixed(1)} ms`;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? '';
}
