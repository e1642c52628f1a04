/**
 * Shared by the pipeline tests: nix-build of test/pipelines/harness.nix (plain derivation, offline, as
 * test/nix does), the guest inputs copied into one folder, and the skip-or-fail rule (skip with the
 * reason when something is missing; under CI fail instead).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt, has, root } from '../helpers.js';

export const repo = root.replace(/\/$/, '');
export const NIX_OPTS = ['--option', 'sandbox', 'false', '--option', 'substituters', '', '--option', 'build-users-group', ''];
export const GUEST_CACHE = process.env.IMGKIT_GUEST_CACHE ?? '/var/cache/imgkit/guest';

/** `false` to run, or the reason to skip; under CI always `false` (the suite's before() then fails with the reason). */
export function skipUnless(reason: string | undefined): string | false {
  return reason === undefined || process.env.CI ? false : reason;
}

export function missingTools(...tools: string[]): string | undefined {
  const missing = tools.filter((t) => !has(t));
  return missing.length ? `${missing.join(', ')} not installed` : undefined;
}

export class Nix {
  imgkitStorePath = '';
  constructor(readonly inputs: string, readonly extra: string[] = []) {}
  args(extra: string[] = []): string[] {
    return [join(repo, 'test/pipelines/harness.nix'), '--arg', 'repo', repo, '--arg', 'inputs', this.inputs,
      '--argstr', 'node', process.execPath, '--no-out-link', ...NIX_OPTS,
      ...(this.imgkitStorePath ? ['--argstr', 'imgkitStorePath', this.imgkitStorePath] : []), ...this.extra, ...extra];
  }
  /** Builds the attributes; returns their store paths (in order) and the build log. */
  build(attrs: string[], extra: string[] = []): { paths: string[]; log: string; status: number | null } {
    const r = spawnSync('nix-build', [...this.args(extra), ...attrs.flatMap((a) => ['-A', a])], { encoding: 'utf8', maxBuffer: 1 << 26 });
    return { paths: r.stdout.trim().split('\n').filter(Boolean), log: r.stderr, status: r.status };
  }
  buildOk(attrs: string[], extra: string[] = []): string[] {
    const r = this.build(attrs, extra);
    if (r.status !== 0) throw new Error(`nix-build ${attrs.join(' ')} failed:\n${r.log.slice(-4000)}`);
    return r.paths;
  }
  /** The checkout as a store package, once (dist/ must hold the CLIs: `npm test` builds it first). */
  init(): void {
    ensureBuilt('dist/cli/firmware.js');
    this.imgkitStorePath = this.buildOk(['imgkitBase'])[0]!;
  }
}

/** Copies `file` to `dir/name` unless the same bytes are there (keeps the inputs' store path stable). */
export function place(file: string | Uint8Array, dir: string, name: string): void {
  mkdirSync(dir, { recursive: true });
  const bytes = typeof file === 'string' ? readFileSync(file) : file;
  const to = join(dir, name);
  if (existsSync(to) && readFileSync(to).equals(bytes)) return;
  if (typeof file === 'string') copyFileSync(file, to);
  else writeFileSync(to, bytes);
}
