/** Shared test helpers: reference-tool detection for differential suites, temp folders, the compiled CLI. */
import { accessSync, constants, existsSync, mkdtempSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';

/** The repository root (ends with a slash). */
export const root = new URL('../', import.meta.url).pathname;

/** Whether `tool` is an executable on PATH (or, given as a path, an executable file). Never runs it. */
export function has(tool: string): boolean {
  const candidates = tool.includes('/') ? [isAbsolute(tool) ? tool : join(process.cwd(), tool)] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, tool));
  return candidates.some((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * The `skip` option of a differential suite: `false` when every tool is installed, else a message naming
 * the missing ones. Under CI (`process.env.CI` set) a missing tool must fail the suite instead of
 * skipping it, so this returns `false` there and {@link requireTools} (called in the suite) fails.
 *
 * @example describe('unsquashfs', { skip: skipWithout('unsquashfs') }, () => { before(() => requireTools('unsquashfs')); … });
 */
export function skipWithout(...tools: string[]): string | false {
  const missing = tools.filter((t) => !has(t));
  if (missing.length === 0 || process.env.CI) return false;
  return `${missing.join(', ')} not installed`;
}

/** Throws, naming the missing tools, unless every one is installed. */
export function requireTools(...tools: string[]): void {
  const missing = tools.filter((t) => !has(t));
  if (missing.length)
    throw new Error(`${missing.join(', ')} not installed${process.env.CI ? ' (CI is set: differential tests must run, not skip)' : ''}`);
}

/** A fresh folder under os.tmpdir(); the caller removes it (rmSync(dir, { recursive: true, force: true })). */
export function tempDir(prefix = 'imgkit-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Builds dist/ once when the compiled CLI is missing (tests normally run after `npm run build`). */
export function ensureBuilt(entry = 'dist/cli/bootimg.js'): void {
  if (existsSync(join(root, entry))) return;
  // tsc exits non-zero on type errors anywhere in src but still emits; what matters is the entry point.
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (!existsSync(join(root, entry))) throw new Error(`cannot build ${entry}: ${r.stdout}${r.stderr}`);
}

/** The full path `has(tool)` finds, or undefined. */
export function which(tool: string): string | undefined {
  if (tool.includes('/')) return has(tool) ? (isAbsolute(tool) ? tool : join(process.cwd(), tool)) : undefined;
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((d) => join(d, tool))
    .find((p) => has(p));
}
