/**
 * Booting our images for real: U-Boot and Debian's armmp kernel under qemu-system-arm (TCG).
 * Reusable by every format that boots (initramfs here; uImage and FIT later):
 *
 *   const guest = await ensureGuest();                       // cache of kernel + busybox, or a reason
 *   const tree = await busyboxTree(dir, initScript('BOOT-OK')); // a busybox root with /init
 *   const r = await bootArm({ loads: [{ file: kernel, addr: KERNEL_ADDR }, …], commands: ['bootz …'], marker: 'BOOT-OK' });
 *
 * See ../../../shared/research/e2e-boot.md for the recipe. QEMU is always killed, whatever happens.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { has } from '../helpers.js';

/** Where fetch-guest.sh keeps the guest files (outside the repository). */
export const GUEST_CACHE = process.env.IMGKIT_GUEST_CACHE ?? '/var/cache/imgkit/guest';
export const FETCH_SCRIPT = new URL('./fetch-guest.sh', import.meta.url).pathname;
export const UBOOT_ARM = '/usr/lib/u-boot/qemu_arm/u-boot.bin';

/** RAM addresses on `-M virt` (RAM at 0x40000000; QEMU's device tree at ${fdt_addr}). */
export const KERNEL_ADDR = 0x4200_0000;
export const INITRD_ADDR = 0x4800_0000;

export interface Guest {
  readonly kernel: string;
  readonly busybox: string;
  readonly version: string;
}

function guestFiles(): Guest | undefined {
  const dir = join(GUEST_CACHE, 'armhf');
  const kernel = join(dir, 'vmlinuz');
  const busybox = join(dir, 'busybox');
  if (!existsSync(kernel) || !existsSync(busybox)) return undefined;
  let version = '';
  try {
    version = spawnSync('cat', [join(dir, 'VERSION')], { encoding: 'utf8' }).stdout.trim();
  } catch { /* optional */ }
  return { kernel, busybox, version };
}

/**
 * The guest files and host tools, fetching them with fetch-guest.sh when missing (it needs
 * Debian's archive and root for apt-get). Returns a reason string when they are still missing.
 */
export function ensureGuest(opts: { fetch?: boolean } = {}): Guest | string {
  const ready = (): boolean => has('qemu-system-arm') && existsSync(UBOOT_ARM) && guestFiles() !== undefined;
  if (!ready() && (opts.fetch ?? true)) {
    const r = spawnSync('sh', [FETCH_SCRIPT, GUEST_CACHE], { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0 && !ready()) return `guest files missing and ${FETCH_SCRIPT} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`;
  }
  if (!has('qemu-system-arm')) return 'qemu-system-arm not installed (apt-get install qemu-system-arm)';
  if (!existsSync(UBOOT_ARM)) return `${UBOOT_ARM} missing (apt-get install u-boot-qemu)`;
  return guestFiles() ?? `guest files missing in ${GUEST_CACHE}/armhf (run ${FETCH_SCRIPT})`;
}

/** A busybox /init that prints `marker` and powers off at once. */
export function initScript(marker: string, extra = ''): string {
  return `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
${extra}
echo "${marker}"
/bin/busybox poweroff -f
`;
}

/**
 * A minimal root: bin/busybox with sh and poweroff links, the dev proc sys folders, and /init.
 * /dev/console is a device node, so it is left to the archive writer (see `consoleNode`).
 */
export async function busyboxTree(dir: string, busybox: string, init: string): Promise<string> {
  for (const d of ['bin', 'dev', 'proc', 'sys', 'etc']) await mkdir(join(dir, d), { recursive: true });
  await copyFile(busybox, join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  for (const l of ['sh', 'mount', 'poweroff', 'echo', 'cat', 'ls']) await symlink('busybox', join(dir, 'bin', l));
  await writeFile(join(dir, 'init'), init, { mode: 0o755 });
  return dir;
}

export interface Load {
  readonly file: string;
  readonly addr: number;
}

export interface BootOptions {
  /** Files placed in RAM by QEMU's loader device before U-Boot starts. */
  readonly loads: readonly Load[];
  /** U-Boot commands, one per prompt (e.g. `setenv bootargs …`, `bootz …`). */
  readonly commands: readonly string[];
  /** Printed by the guest when it got where it should. */
  readonly marker: string;
  /** Whole-boot limit in ms (default 90 s). */
  readonly timeout?: number;
  readonly memory?: number;
}

export interface BootResult {
  readonly ok: boolean;
  /** Everything QEMU printed (U-Boot and kernel console). */
  readonly log: string;
  readonly ms: number;
  readonly reason?: string;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/**
 * Boots qemu-system-arm -M virt with U-Boot, feeds it the commands, and waits for the marker.
 * Resolves (never rejects) with the console log; QEMU is killed in every case.
 */
export function bootArm(opts: BootOptions): Promise<BootResult> {
  const t0 = Date.now();
  const args = [
    '-M', 'virt', '-cpu', 'cortex-a15', '-m', String(opts.memory ?? 512), '-nographic', '-no-reboot',
    '-bios', UBOOT_ARM, '-monitor', 'none', '-serial', 'stdio',
    ...opts.loads.flatMap((l) => ['-device', `loader,file=${l.file},addr=${hex(l.addr)},force-raw=on`]),
  ];
  const q = spawn('qemu-system-arm', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  let next = 0; // next command to send
  let stopped = false;
  return new Promise<BootResult>((resolve) => {
    const finish = (ok: boolean, reason?: string): void => {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      if (q.exitCode === null) q.kill('SIGKILL');
      resolve({ ok, log, ms: Date.now() - t0, ...(reason !== undefined && { reason }) });
    };
    const timer = setTimeout(() => finish(false, `no "${opts.marker}" within ${opts.timeout ?? 90_000} ms`), opts.timeout ?? 90_000);
    const onData = (d: Buffer): void => {
      log += d.toString('latin1');
      if (log.includes(`${opts.marker}\n`) || log.includes(`${opts.marker}\r\n`)) return finish(true);
      if (log.endsWith('Hit any key to stop autoboot: ') || /Hit any key to stop autoboot:\s+\d\s*$/.test(log)) q.stdin.write('\n');
      // one command per prompt; count prompts seen so far
      const prompts = log.split('\n=> ').length - 1 + (log.startsWith('=> ') ? 1 : 0);
      while (next < opts.commands.length && prompts > next) {
        q.stdin.write(`${opts.commands[next]}\n`);
        next++;
      }
    };
    q.stdout.on('data', onData);
    q.stderr.on('data', (d: Buffer) => void (log += d.toString('latin1')));
    q.stdin.on('error', () => {});
    q.on('error', (e) => finish(false, `cannot start qemu-system-arm: ${e.message}`));
    q.on('exit', (code, sig) => finish(log.includes(opts.marker), `qemu exited (${code ?? sig}) before "${opts.marker}"`));
  });
}

/** U-Boot commands that boot a zImage with a raw initramfs of `size` bytes and QEMU's device tree. */
export function bootzCommands(initrdSize: number, cmdline = 'console=ttyAMA0 panic=-1'): string[] {
  return [`setenv bootargs ${cmdline}`, `setenv initrd_high 0x50000000`, `bootz ${hex(KERNEL_ADDR)} ${hex(INITRD_ADDR)}:${hex(initrdSize)} \${fdt_addr}`];
}
