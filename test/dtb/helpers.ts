/** Test helpers for the device tree suites: tool detection and the Linux DTS corpus cache. */
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Whether a program is on PATH. (Local copy: test/helpers.ts does not exist yet.) */
export function has(tool: string): boolean {
  return (process.env['PATH'] ?? '').split(delimiter).some((d) => {
    try {
      return d !== '' && statSync(join(d, tool)).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * node:test skip option for a differential suite: a reason string when a tool is missing, except
 * under CI, where the suite runs anyway and fails (a missing oracle must not pass silently).
 */
export function skipUnless(...tools: string[]): string | false {
  const missing = tools.filter((t) => !has(t));
  if (!missing.length || process.env['CI']) return false;
  return `${missing.join(', ')} not installed`;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; input?: Uint8Array } = {}): { code: number; out: Buffer; err: string } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr.toString() };
}

export const LINUX_TARBALL = process.env['IMGKIT_LINUX_TARBALL'] ?? '/usr/src/linux-source-6.1.tar.xz';
export const CORPUS_CACHE = process.env['IMGKIT_LINUX_DTS'] ?? '/var/cache/imgkit/linux-dts-6.1';
const TOP = 'linux-source-6.1';
const MEMBERS = [
  'arch/arm/boot/dts', 'arch/arm64/boot/dts', 'arch/mips/boot/dts', 'include/dt-bindings', 'scripts/dtc/include-prefixes',
  'scripts/Makefile.lib',
  // include/dt-bindings/input/linux-event-codes.h is a symlink into uapi
  'include/uapi/linux/input-event-codes.h',
];

/**
 * The kernel tree subset the corpus needs, extracted once from Debian's linux-source-6.1 tarball into
 * a cache outside the repository. Returns the tree root, or undefined when the tarball is missing.
 */
export function linuxTree(): string | undefined {
  const root = join(CORPUS_CACHE, TOP);
  if (existsSync(join(CORPUS_CACHE, '.complete'))) return root;
  if (!existsSync(LINUX_TARBALL)) return undefined;
  const tmp = `${CORPUS_CACHE}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  execFileSync('tar', ['-xJf', LINUX_TARBALL, '-C', tmp, ...MEMBERS.map((m) => `${TOP}/${m}`)], { stdio: 'inherit' });
  writeFileSync(join(tmp, '.complete'), `${LINUX_TARBALL}\n`);
  rmSync(CORPUS_CACHE, { recursive: true, force: true });
  renameSync(tmp, CORPUS_CACHE);
  return root;
}
