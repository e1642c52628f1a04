/**
 * The router pipeline (nix/examples/router.nix) built by nix-build offline and booted:
 * U-Boot Malta under QEMU verifies and boots the gzip kernel uImage at the start of the firmware image
 * (loaded whole into RAM, as the flash would be mapped); our initramfs loads squashfs.ko and phram.ko from
 * the kernel package, maps the rootfs part of that same firmware image as /dev/mtdblock0, mounts it and
 * runs /bin/hello from it. The kernel is told `mem=64M`, so the firmware at 64 MiB stays untouched.
 * `nokaslr`: the 4kc-malta kernel is built with CONFIG_RANDOMIZE_BASE; it copies itself (~16 MiB with its
 * bss) to a random place 16–32 MiB above where it was loaded, without looking at rd_start
 * (arch/mips/kernel/relocate.c), so now and then its copy ran over the initramfs at 48 MiB
 * ("Initramfs unpacking failed: uncompression error").
 *
 * Skips (with the reason) without nix, QEMU, U-Boot, objcopy or the guest; fails instead under CI.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { has, tempDir } from '../helpers.js';
import { bootMalta, swappedUboot, UBOOT_MALTA } from '../uimage/malta.js';
import { GUEST_CACHE, missingTools, Nix, place, skipUnless } from './nix.js';
import { describeFirmware, type SquashfsPart, type UImagePart } from '../../src/firmware/index.js';
import { getCodec } from '../../src/codec/registry.js';

const GUEST = join(GUEST_CACHE, 'router-mipsel');
const FETCH = new URL('./fetch-router.sh', import.meta.url).pathname;
const MARKER = 'IMGKIT-ROUTER-OK from hello on squashfs';
const FW_PHYS = 0x0400_0000;
const RD_PHYS = 0x0300_0000;

function why(): string | undefined {
  const tools = missingTools('nix-build', 'nix-store', 'objcopy', 'qemu-system-mipsel');
  if (tools) return tools;
  if (!existsSync(UBOOT_MALTA)) return `${UBOOT_MALTA} missing (apt-get install u-boot-qemu)`;
  if (!existsSync(join(GUEST, 'modules/phram.ko'))) {
    const r = spawnSync('sh', [FETCH, GUEST_CACHE], { encoding: 'utf8', timeout: 600_000 });
    if (!existsSync(join(GUEST, 'modules/phram.ko'))) return `router guest missing and ${FETCH} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ')}`;
  }
  return undefined;
}
const reason = why();

describe('router pipeline: nix/examples/router.nix, built offline and booted on MIPS Malta', { skip: skipUnless(reason), timeout: 600_000 }, () => {
  let work = '';
  let nix: Nix;
  const out: Record<string, string> = {};
  const ATTRS = ['vmlinux', 'kernelGzip', 'kernelLzma', 'rootfs', 'firmware', 'firmwareVendor', 'initramfs'];

  before(() => {
    if (reason) throw new Error(`${reason} (CI is set: the pipeline must run, not skip)`);
    work = tempDir('imgkit-router-');
    const inputs = join(work, 'inputs');
    place(join(GUEST, 'vmlinuz'), join(inputs, 'router'), 'vmlinuz');
    place(join(GUEST, 'busybox'), join(inputs, 'router'), 'busybox');
    for (const m of ['squashfs.ko', 'phram.ko']) place(join(GUEST, 'modules', m), join(inputs, 'router/modules'), m);
    // the phone's inputs are not needed here, but the harness imports them lazily: empty is fine
    nix = new Nix(inputs);
    nix.init();
    nix.buildOk(ATTRS.map((a) => `router.${a}`)).forEach((p, i) => (out[ATTRS[i]!] = p));
  });
  after(() => work && rmSync(work, { recursive: true, force: true }));

  const file = (attr: string, sub = '') => new Uint8Array(readFileSync(join(out[attr]!, sub)));

  it('firmware: budget printed, kernel uImage at 0 and the squashfs rootfs on the next 64 KiB boundary', async () => {
    const budget = readFileSync(join(out.firmware!, 'budget.txt'), 'utf8');
    assert.match(budget, /^kernel\s+0x00000000\s+\d+/m);
    assert.match(budget, /budget\s+8388608 \(8 MiB\): \d+ bytes left after the rootfs/);
    const img = file('firmware', 'firmware.bin');
    const l = await describeFirmware(img);
    const k = l.parts[0] as UImagePart;
    assert.equal(k.kind, 'uimage');
    assert.equal(k.comp, 'gzip');
    assert.equal(k.load, 0x810f0000);
    assert.ok(k.dataCrcOk);
    const r = l.parts.find((p): p is SquashfsPart => p.kind === 'squashfs')!;
    assert.equal(r.offset % 0x1_0000, 0);
    assert.ok(r.offset >= k.size && r.offset < k.size + 0x1_0000);
    assert.equal(r.superblock.compression, 'xz');
    assert.equal(r.superblock.blockSize, 256 * 1024);
    assert.deepEqual(img.subarray(r.offset, r.offset + file('rootfs').length), file('rootfs'));
    assert.equal(img.length % 0x1_0000, 0);
  });

  it('vendor kernel: LZMA lc1 lp2 pb2 (props 0x6d), 1 MiB dictionary, the real size; decodes to the PT_LOAD bytes', async () => {
    const u = file('kernelLzma');
    const data = u.subarray(64);
    assert.equal(data[0], 0x6d);
    const dv = new DataView(data.buffer, data.byteOffset);
    assert.equal(dv.getUint32(1, true), 1 << 20);
    const raw = file('vmlinux');
    assert.equal(dv.getUint32(5, true), raw.length);
    assert.equal(dv.getUint32(9, true), 0);
    assert.deepEqual(await (await getCodec('lzma')).decode(data), raw);
    if (has('xz')) assert.deepEqual(new Uint8Array(spawnSync('xz', ['-dc', '--format=lzma'], { input: data, maxBuffer: 1 << 26 }).stdout), raw);
    const l = await describeFirmware(file('firmwareVendor', 'firmware.bin'));
    assert.equal((l.parts[0] as UImagePart).comp, 'lzma');
  });

  it('vmlinux.bin is the ELF PT_LOAD segment, as objcopy -O binary gives it', async () => {
    const { ptLoad } = await import('../uimage/malta.js');
    assert.deepEqual(file('vmlinux'), ptLoad(new Uint8Array(readFileSync(join(GUEST, 'vmlinuz')))).bytes);
  });

  it('rootfs: unsquashfs lists usr/bin/hello and bin -> usr/bin', { skip: !has('unsquashfs') && !process.env.CI && 'unsquashfs not installed' }, () => {
    const r = spawnSync('unsquashfs', ['-lls', '-d', '', out.rootfs!], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\/usr\/bin\/hello/);
    assert.match(r.stdout, /\/bin -> usr\/bin/);
  });

  it('reproducible: a second evaluation gives the same store paths; --check rebuilds the same bytes', () => {
    assert.deepEqual(nix.buildOk(ATTRS.map((a) => `router.${a}`)), ATTRS.map((a) => out[a]));
    const r = nix.build(['router.firmware', 'router.rootfs', 'router.initramfs'], ['--check']);
    assert.equal(r.status, 0, r.log.slice(-3000));
  });

  it('a 4 MiB flash budget is a build failure naming the bytes over', () => {
    const r = nix.build(['router.firmware'], ['--argstr', 'flashSize', '4MiB']);
    assert.notEqual(r.status, 0);
    const l = readFileSync(join(out.firmware!, 'budget.txt'), 'utf8');
    const end = Number(/^rootfs\s+(0x[0-9a-f]+)\s+(\d+)/m.exec(l)!.slice(1, 3).reduce((a, b) => String(Number(a) + Number(b))));
    assert.match(r.log, new RegExp(`kernel \\+ rootfs \\(ending at 0x${end.toString(16)}\\) is ${end - 4 * 1024 * 1024} bytes over its 4194304-byte budget`));
  });

  it('two-step rootfs (-root-becomes usr) gives the same tree', async (t) => {
    const probe = spawnSync(join(nix.imgkitStorePath, 'bin/squashfs'), ['pack', work, join(work, 'probe.img'), '-root-becomes', 'x', '-quiet']);
    if (/not supported/.test(String(probe.stderr))) return t.skip('squashfs pack -root-becomes (append) not available yet');
    const [two] = nix.buildOk(['router.rootfs'], ['--arg', 'twoStepRootfs', 'true']);
    const list = (img: string) => spawnSync('unsquashfs', ['-lln', '-d', '', img], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } }).stdout;
    assert.equal(list(two!), list(out.rootfs!));
  });

  it('boots: U-Boot Malta runs the kernel from the firmware image; the initramfs mounts its squashfs and runs /bin/hello', async () => {
    const fw = join(out.firmware!, 'firmware.bin');
    const l = await describeFirmware(file('firmware', 'firmware.bin'));
    const r = l.parts.find((p): p is SquashfsPart => p.kind === 'squashfs')!;
    const rootfsLen = l.size - r.offset; // a multiple of 64 KiB: phram wants whole pages
    const rd = out.initramfs!;
    const rdSize = readFileSync(rd).length;
    const hex = (n: number) => `0x${n.toString(16)}`;
    const boot = await bootMalta({
      bios: swappedUboot(join(work, 'u-boot-swap.bin')),
      loads: [{ file: fw, addr: FW_PHYS }, { file: rd, addr: RD_PHYS }],
      commands: [
        `iminfo ${hex(0x8000_0000 + FW_PHYS)}`,
        `setenv bootargs console=ttyS0 mem=64M nokaslr panic=-1 rd_start=${hex(0x8000_0000 + RD_PHYS)} rd_size=${rdSize} rootfs_at=${hex(FW_PHYS + r.offset)} rootfs_len=${hex(rootfsLen)}`,
        `bootm ${hex(0x8000_0000 + FW_PHYS)}`,
      ],
      marker: MARKER,
      timeout: 150_000,
    });
    assert.ok(boot.ok, `${boot.reason ?? ''}\n${boot.log.slice(-4000)}`);
    assert.match(boot.log, /Image Name:\s+Debian 4kc-malta/);
    assert.match(boot.log, /Uncompressing Kernel Image/);
    assert.match(boot.log, /squashfs: version 4\.0/i);
  });
});
