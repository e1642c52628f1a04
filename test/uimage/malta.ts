/**
 * The MIPS Malta pieces the uImage boot test needs and test/e2e/qemu.ts (ARM) does not have: the
 * guest files, a byte-swapped U-Boot flash image, the kernel's PT_LOAD segment, and a QEMU driver for
 * the `maltael # ` prompt. Recipe: ../../../shared/research/e2e-boot.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { has } from '../helpers.js';
import { GUEST_CACHE } from '../e2e/qemu.js';

export const UBOOT_MALTA = '/usr/lib/u-boot/maltael/u-boot.bin';
export const FETCH_MALTA = new URL('./fetch-malta.sh', import.meta.url).pathname;

export interface MaltaGuest {
  readonly kernel: string;
  readonly busybox: string;
}

/** The guest files and host tools (fetched by fetch-malta.sh when missing), or why not. */
export function ensureMalta(): MaltaGuest | string {
  const dir = join(GUEST_CACHE, 'mipsel');
  const files = (): MaltaGuest | undefined =>
    existsSync(join(dir, 'vmlinuz')) && existsSync(join(dir, 'busybox')) ? { kernel: join(dir, 'vmlinuz'), busybox: join(dir, 'busybox') } : undefined;
  const ready = () => has('qemu-system-mipsel') && existsSync(UBOOT_MALTA) && files() !== undefined;
  if (!ready()) {
    const r = spawnSync('sh', [FETCH_MALTA, GUEST_CACHE], { encoding: 'utf8', timeout: 600_000 });
    if (!ready()) return `MIPS guest missing and ${FETCH_MALTA} failed: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-2).join(' / ')}`;
  }
  return files()!;
}

/** QEMU's Malta flash wants the little-endian U-Boot byte-swapped in 32-bit words (unswapped, it prints nothing). */
export function swappedUboot(out: string): string {
  const src = readFileSync(UBOOT_MALTA);
  const buf = Buffer.alloc(Math.ceil(src.length / 4) * 4);
  src.copy(buf);
  buf.swap32();
  writeFileSync(out, buf);
  return out;
}

/** The first PT_LOAD segment of a 32-bit little-endian ELF, as `objcopy -O binary` gives it, with its address and the entry point. */
export function ptLoad(elf: Uint8Array): { bytes: Uint8Array; vaddr: number; entry: number } {
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (dv.getUint32(0) !== 0x7f454c46 || elf[4] !== 1 || elf[5] !== 1) throw new Error('not a 32-bit little-endian ELF');
  const entry = dv.getUint32(0x18, true);
  const phoff = dv.getUint32(0x1c, true);
  const phentsize = dv.getUint16(0x2a, true);
  const phnum = dv.getUint16(0x2c, true);
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (dv.getUint32(p, true) !== 1) continue; // PT_LOAD
    const offset = dv.getUint32(p + 4, true);
    const vaddr = dv.getUint32(p + 8, true);
    const filesz = dv.getUint32(p + 16, true);
    return { bytes: elf.subarray(offset, offset + filesz), vaddr, entry };
  }
  throw new Error('no PT_LOAD segment');
}

export interface Boot {
  ok: boolean;
  log: string;
  reason?: string;
}

/** Runs qemu-system-mipsel -M malta with U-Boot, one command per `maltael # ` prompt, until `marker`. QEMU is always killed. */
export function bootMalta(o: { bios: string; loads: { file: string; addr: number }[]; commands: string[]; marker: string; timeout: number }): Promise<Boot> {
  const args = ['-M', 'malta', '-m', '256', '-nographic', '-no-reboot', '-monitor', 'none', '-serial', 'stdio', '-bios', o.bios,
    ...o.loads.flatMap((l) => ['-device', `loader,file=${l.file},addr=0x${l.addr.toString(16)},force-raw=on`])];
  const q = spawn('qemu-system-mipsel', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  let next = 0;
  let done = false;
  return new Promise((resolve) => {
    const finish = (ok: boolean, reason?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (q.exitCode === null) q.kill('SIGKILL');
      resolve({ ok, log, ...(reason === undefined ? {} : { reason }) });
    };
    const timer = setTimeout(() => finish(false, `no "${o.marker}" within ${o.timeout} ms`), o.timeout);
    q.stdout.on('data', (d: Buffer) => {
      log += d.toString('latin1');
      if (new RegExp(`${o.marker}\\r?\\n`).test(log)) return finish(true);
      if (/Hit any key to stop autoboot:\s+\d\s*$/.test(log)) q.stdin.write('\n');
      const prompts = log.split('maltael # ').length - 1;
      while (next < o.commands.length && prompts > next) q.stdin.write(`${o.commands[next++]}\n`);
    });
    q.stderr.on('data', (d: Buffer) => void (log += d.toString('latin1')));
    q.stdin.on('error', () => {});
    q.on('error', (e) => finish(false, `cannot start qemu-system-mipsel: ${e.message}`));
    q.on('exit', (code, sig) => finish(new RegExp(`${o.marker}\\r?\\n`).test(log), `qemu exited (${code ?? sig})`));
  });
}
