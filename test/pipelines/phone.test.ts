/**
 * The phone pipeline (nix/examples/phone.nix) built by nix-build offline: Debian's armmp zImage + our xz
 * initramfs (CRC32 check) → boot.img v0 with a QCDT --dt blob and motorola-potter's base/offsets/page size,
 * and boot.img v2 with a DTB (QEMU's own virt tree). Checked by abootimg (v0: Debian's unpack_bootimg cannot
 * decode the id of a --dt image), unpack_bootimg (v2) and our `bootimg info`; booted under QEMU + U-Boot
 * from the kernel and ramdisk our `bootimg unpack` takes out of each image (v2: with its DTB).
 *
 * Skips (with the reason) without nix, QEMU or the armhf guest; fails instead under CI.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { has, root, tempDir } from '../helpers.js';
import { bootArm, bootzCommands, ensureGuest, INITRD_ADDR, KERNEL_ADDR } from '../e2e/qemu.js';
import { missingTools, Nix, place, skipUnless } from './nix.js';

const MARKER = 'IMGKIT-PHONE-OK';
const DTB_ADDR = 0x4c00_0000;
const guest = ensureGuest();
const reason = missingTools('nix-build', 'nix-store', 'qemu-system-arm') ?? (typeof guest === 'string' ? guest : undefined);

function sh(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

describe('phone pipeline: nix/examples/phone.nix, built offline, checked by the reference tools and booted', { skip: skipUnless(reason), timeout: 280_000 }, () => {
  let work = '';
  let nix: Nix;
  const out: Record<string, string> = {};
  const ATTRS = ['initramfs', 'bootV0', 'bootV2'];
  const inputs = () => join(work, 'inputs');

  before(() => {
    if (reason || typeof guest === 'string') throw new Error(`${reason} (CI is set: the pipeline must run, not skip)`);
    work = tempDir('imgkit-phone-');
    const dir = join(inputs(), 'phone');
    place(guest.kernel, dir, 'zImage');
    place(guest.busybox, dir, 'busybox');
    const dt = new Uint8Array(4096);
    dt.set([0x51, 0x43, 0x44, 0x54, 3]); // "QCDT", version 3, no entries: the blob is carried, not parsed
    place(dt, dir, 'dt.img');
    sh('qemu-system-arm', ['-M', `virt,dumpdtb=${join(work, 'virt.dtb')}`, '-cpu', 'cortex-a15', '-m', '512', '-nographic']);
    place(join(work, 'virt.dtb'), dir, 'virt.dtb');
    nix = new Nix(inputs());
    nix.init();
    nix.buildOk(ATTRS.map((a) => `phone.${a}`)).forEach((p, i) => (out[ATTRS[i]!] = p));
  });
  after(() => work && rmSync(work, { recursive: true, force: true }));

  const bytes = (p: string) => readFileSync(p);

  it('initramfs: xz with a CRC32 check (what the kernel accepts)', () => {
    const x = bytes(out.initramfs!);
    assert.deepEqual([...x.subarray(0, 6)], [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
    assert.deepEqual([...x.subarray(6, 8)], [0x00, 0x01]); // stream flags: check type 1 = CRC32
  });

  it('v0 with --dt: abootimg reads the device-file fields and the same kernel and ramdisk; bootimg info agrees', { skip: !has('abootimg') && !process.env.CI && 'abootimg not installed' }, () => {
    const d = join(work, 'abootimg');
    sh('mkdir', ['-p', d]);
    const cfg = (sh('abootimg', ['-x', out.bootV0!, 'cfg', 'k', 'r'], d), readFileSync(join(d, 'cfg'), 'utf8'));
    for (const l of ['pagesize = 0x800', 'kerneladdr = 0x80008000', 'ramdiskaddr = 0x81000000', 'secondaddr = 0x80f00000', 'tagsaddr = 0x80000100', 'cmdline = console=ttyAMA0 panic=-1'])
      assert.ok(cfg.includes(l), `${l} in\n${cfg}`);
    assert.deepEqual(bytes(join(d, 'k')), bytes(join(inputs(), 'phone/zImage')));
    assert.deepEqual(bytes(join(d, 'r')), bytes(out.initramfs!));
    const info = sh(join(root, 'bin/bootimg'), ['info', out.bootV0!]);
    assert.match(info, /boot image header version: 0 \(legacy dt.img of 4096 bytes/);
    assert.match(info, /page size: 2048/);
    assert.match(info, /kernel tags load address: 0x80000100/);
    assert.match(info, /ramdisk: xz/);
  });

  it('v2 with a DTB: unpack_bootimg gives the same kernel, ramdisk and DTB, and the AOSP addresses', { skip: !has('unpack_bootimg') && !process.env.CI && 'unpack_bootimg not installed' }, () => {
    const d = join(work, 'unpack_bootimg');
    const info = sh('unpack_bootimg', ['--boot_img', out.bootV2!, '--out', d]);
    assert.match(info, /boot image header version: 2/);
    assert.match(info, /page size: 4096/);
    assert.match(info, /dtb address: 0x41f00000/);
    assert.deepEqual(bytes(join(d, 'kernel')), bytes(join(inputs(), 'phone/zImage')));
    assert.deepEqual(bytes(join(d, 'ramdisk')), bytes(out.initramfs!));
    assert.deepEqual(bytes(join(d, 'dtb')), bytes(join(inputs(), 'phone/virt.dtb')));
    assert.match(sh(join(root, 'bin/bootimg'), ['info', out.bootV2!]), /dtb size: \d+/);
  });

  it('reproducible: a second evaluation gives the same store paths; --check rebuilds the same bytes', () => {
    assert.deepEqual(nix.buildOk(ATTRS.map((a) => `phone.${a}`)), ATTRS.map((a) => out[a]));
    const r = nix.build(ATTRS.map((a) => `phone.${a}`), ['--check']);
    assert.equal(r.status, 0, r.log.slice(-3000));
  });

  for (const v of ['V0', 'V2'] as const)
    it(`boots the kernel and ramdisk our bootimg unpack takes out of boot${v}${v === 'V2' ? ', with its DTB' : ''}`, async () => {
      const d = join(work, `unpack-${v}`);
      sh(join(root, 'bin/bootimg'), ['unpack', out[`boot${v}`]!, '-o', d]);
      const rdSize = bytes(join(d, 'ramdisk')).length;
      const loads = [{ file: join(d, 'kernel'), addr: KERNEL_ADDR }, { file: join(d, 'ramdisk'), addr: INITRD_ADDR }];
      let commands = bootzCommands(rdSize);
      if (v === 'V2') {
        loads.push({ file: join(d, 'dtb'), addr: DTB_ADDR });
        commands = commands.map((c) => c.replace('${fdt_addr}', `0x${DTB_ADDR.toString(16)}`));
      }
      const r = await bootArm({ loads, commands, marker: MARKER, timeout: 120_000 });
      assert.ok(r.ok, `${r.reason ?? ''}\n${r.log.slice(-3000)}`);
      assert.match(r.log, /Unpacking initramfs|Trying to unpack rootfs|Freeing initrd memory/);
    });
});
