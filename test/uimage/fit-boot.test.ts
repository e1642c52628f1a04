/**
 * Booted for real: U-Boot 2023.01 (qemu_arm) loads FITs written by us and boots Linux from them.
 * The FIT holds Debian's armmp zImage (sha256 + crc32), our gzip initramfs (sha1) and QEMU's own device
 * tree (`-M virt,dumpdtb=`, crc32); U-Boot verifies every hash ("sha256+ … OK"), and the guest's /init
 * prints the marker. Built once with internal data, once with `-E -B 0x1000` external data. A FIT with
 * one flipped kernel byte must be refused ("Bad hash value", no "Starting kernel").
 * Skips when QEMU or the guest files are missing; fails instead when process.env.CI is set.
 * Uses test/e2e/qemu.ts (read only).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compress } from '../../src/codec/index.js';
import { S_IFCHR, walkTree, writeCpio, type CpioItem } from '../../src/cpio/index.js';
import { collect } from '../../src/bytes/source.js';
import { bytesAccess } from '../../src/bytes/random.js';
import { encodeFit, fitFromSpec, openFit, type FitSpec } from '../../src/uimage/index.js';
import { tempDir } from '../helpers.js';
import { bootArm, busyboxTree, ensureGuest, initScript, INITRD_ADDR, type Guest } from '../e2e/qemu.js';

const MARKER = 'IMGKIT-FIT-BOOT-OK';
const FIT_ADDR = INITRD_ADDR; // 0x48000000: lower addresses collide with the decompressed kernel
const console_: CpioItem = { name: 'dev/console', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1, mtime: 1 };

const guest = ensureGuest();
const skip = typeof guest === 'string' && !process.env.CI ? guest : false;

function commands(extra: string[] = []): string[] {
  return [
    'setenv bootargs console=ttyAMA0 panic=-1',
    'setenv initrd_high 0x50000000', // otherwise the in-place ramdisk shares a page with the FDT
    'setenv fdt_high 0x50000000', // otherwise the kernel gets the FDT in place, maybe only 4-aligned
    `bootm 0x${FIT_ADDR.toString(16)}#conf-1`,
    ...extra,
  ];
}

describe('FITs boot under U-Boot on qemu_arm', { skip, timeout: 180_000 }, () => {
  let tmp = '';
  let g: Guest;
  let spec: FitSpec;
  before(async () => {
    if (typeof guest === 'string') throw new Error(`${guest} (CI is set: the boot test must run, not skip)`);
    g = guest;
    tmp = tempDir('imgkit-fit-boot-');
    const root = await busyboxTree(join(tmp, 'root'), g.busybox, initScript(MARKER));
    const cpio = await collect(writeCpio([...(await walkTree(root, { mtime: 1 })), console_], { format: 'newc' }));
    const dtb = join(tmp, 'virt.dtb');
    const q = spawnSync('qemu-system-arm', ['-M', `virt,dumpdtb=${dtb}`, '-cpu', 'cortex-a15', '-m', '512', '-nographic', '-display', 'none'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(q.status, 0, `qemu dumpdtb: ${q.stderr}`);
    spec = {
      description: 'imgkit FIT boot test',
      images: [
        { name: 'kernel-1', description: 'Debian armmp zImage', data: new Uint8Array(readFileSync(g.kernel)), type: 'kernel', arch: 'arm', os: 'linux', compression: 'none', load: 0x40008000, entry: 0x40008000, hashes: ['sha256', 'crc32'] },
        { name: 'ramdisk-1', description: 'busybox initramfs', data: await compress(cpio, 'gzip', { level: 9 }), type: 'ramdisk', arch: 'arm', os: 'linux', compression: 'none', hashes: ['sha1'] },
        { name: 'fdt-1', description: 'QEMU virt', data: new Uint8Array(readFileSync(dtb)), type: 'flat_dt', arch: 'arm', compression: 'none', hashes: ['crc32'] },
      ],
      configurations: [{ name: 'conf-1', description: 'boot', kernel: 'kernel-1', ramdisk: 'ramdisk-1', fdt: ['fdt-1'] }],
    };
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  for (const external of [false, true]) {
    it(`U-Boot verifies sha256, sha1 and crc32 and Linux boots (${external ? '-E -B 0x1000 external data' : 'internal data'})`, async () => {
      const { bytes } = await encodeFit(fitFromSpec(spec), { time: 315532800, external, ...(external ? { align: 0x1000 } : {}) });
      const file = join(tmp, `boot${external ? '-E' : ''}.itb`);
      writeFileSync(file, bytes);
      const r = await bootArm({ loads: [{ file, addr: FIT_ADDR }], commands: commands(), marker: MARKER, timeout: 110_000 });
      assert.ok(r.ok, `${r.reason ?? ''}\n${r.log.slice(-3000)}`);
      assert.match(r.log, /sha256\+ crc32\+ OK/, 'kernel hashes checked');
      assert.match(r.log, /sha1\+ OK/, 'ramdisk hash checked');
      assert.match(r.log, /Loading fdt from FIT Image[\s\S]*crc32\+ OK/, 'fdt hash checked');
    });
  }

  it('a FIT with one flipped kernel byte is refused', async () => {
    const { bytes } = await encodeFit(fitFromSpec(spec), { time: 315532800 });
    const k = (await openFit(bytesAccess(bytes))).images[0]!;
    bytes[k.dataAt + 4096] = bytes[k.dataAt + 4096]! ^ 0x01;
    const file = join(tmp, 'bad.itb');
    writeFileSync(file, bytes);
    // after bootm fails U-Boot shows its prompt again and takes the next command; hush drops the quotes
    const r = await bootArm({ loads: [{ file, addr: FIT_ADDR }], commands: commands(['echo IMGKIT-FIT-"REFUSED"']), marker: 'IMGKIT-FIT-REFUSED', timeout: 60_000 });
    assert.ok(r.ok, `${r.reason ?? ''}\n${r.log.slice(-3000)}`);
    assert.match(r.log, /Bad hash value for 'hash-1' hash node in 'kernel-1' image node|Bad Data Hash/);
    assert.doesNotMatch(r.log, /Starting kernel/);
    assert.doesNotMatch(r.log, new RegExp(MARKER));
  });
});
