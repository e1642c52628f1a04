/**
 * Booted for real: U-Boot 2023.01 under QEMU verifies (`iminfo`: header and data CRC) and boots
 * uImages written by us.
 *  - qemu_arm: Debian's armmp zImage in a kernel uImage (-C none) plus a ramdisk uImage holding our
 *    initramfs, `bootm KERNEL RAMDISK FDT`; once with a gzip initramfs, once with an LZMA initramfs
 *    from our encoder (real size in the header, no end marker as the LZMA SDK writes it), which the
 *    kernel unpacks without a complaint (this U-Boot has no LZMA).
 *    The kernel recognizes an LZMA initramfs only by the props byte 0x5d (lc3 lp0 pb2).
 *  - maltael: the 4kc-malta kernel's raw PT_LOAD bytes, gzip-compressed by us, in a kernel uImage
 *    (-C gzip, U-Boot decompresses it); the initramfs goes by rd_start/rd_size (U-Boot's MIPS boot does
 *    not hand a ramdisk to this kernel); `nokaslr` keeps the kernel where it was loaded, away from it.
 * The guest's /init prints a marker and powers off. Skips when QEMU or the guest files are missing;
 * fails instead when process.env.CI is set. Uses test/e2e/qemu.ts (read only) for the ARM side.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compress } from '../../src/codec/index.js';
import { S_IFCHR, walkTree, writeCpio, type CpioItem } from '../../src/cpio/index.js';
import { collect } from '../../src/bytes/source.js';
import { encodeLegacyImage, idOf } from '../../src/uimage/index.js';
import { tempDir } from '../helpers.js';
import { bootArm, busyboxTree, ensureGuest, initScript, INITRD_ADDR, KERNEL_ADDR, type Guest } from '../e2e/qemu.js';
import { bootMalta, ensureMalta, ptLoad, swappedUboot, type MaltaGuest } from './malta.js';

const id = (cat: 'arch' | 'os' | 'type' | 'comp', name: string) => idOf(cat, name)!;
const console_: CpioItem = { name: 'dev/console', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1, mtime: 1 };
const MARKER = 'IMGKIT-UIMAGE-BOOT-OK';

async function initramfs(dir: string, busybox: string): Promise<Uint8Array> {
  const root = await busyboxTree(dir, busybox, initScript(MARKER));
  return collect(writeCpio([...(await walkTree(root, { mtime: 1 })), console_], { format: 'newc' }));
}

function uimage(file: string, o: { arch: string; type: string; comp: string; load: number; name: string }, data: Uint8Array): string {
  writeFileSync(file, encodeLegacyImage({
    os: id('os', 'linux'), arch: id('arch', o.arch), type: id('type', o.type), comp: id('comp', o.comp),
    load: o.load, ep: o.load, time: 315532800, name: o.name, parts: [data],
  }));
  return file;
}

const armGuest = ensureGuest();
const armSkip = typeof armGuest === 'string' && !process.env.CI ? armGuest : false;

describe('uImages boot under U-Boot on qemu_arm', { skip: armSkip, timeout: 240_000 }, () => {
  let tmp = '';
  let g: Guest;
  let cpio: Uint8Array;
  before(async () => {
    if (typeof armGuest === 'string') throw new Error(`${armGuest} (CI is set: the boot test must run, not skip)`);
    g = armGuest;
    tmp = tempDir('imgkit-uimage-boot-');
    cpio = await initramfs(join(tmp, 'root'), g.busybox);
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  for (const method of ['gzip', 'lzma', 'lzma-imgkit'] as const) {
    const lzma = method !== 'gzip';
    const encoder = method === 'lzma-imgkit' ? 'imgkit' : 'liblzma';
    it(`kernel uImage (-C none) + ramdisk uImage (${method} initramfs${lzma ? ` from our LZMA encoder (${encoder}), real size in the header, unpacked by the kernel` : ''})`, async () => {
      const kernel = uimage(join(tmp, 'uImage'), { arch: 'arm', type: 'kernel', comp: 'none', load: 0x40008000, name: 'Debian armmp' }, new Uint8Array(readFileSync(g.kernel)));
      const packed = method === 'gzip'
        ? await compress(cpio, 'gzip', { level: 9 })
        : await compress(cpio, 'lzma', { lzma: { dictSize: 1 << 20, endMarker: false, encoder } });
      // the kernel finds an initramfs's compressor by magic (lib/decompress.c): LZMA only as 5d 00,
      // i.e. lc3 lp0 pb2 (OpenWrt's 0x6d is for kernels that U-Boot or lzma-loader unpack)
      if (lzma) assert.deepEqual([...packed.subarray(0, 5)], [0x5d, 0x00, 0x00, 0x10, 0x00]);
      if (lzma) assert.equal(new DataView(packed.buffer, packed.byteOffset).getUint32(5, true), cpio.length); // the real size
      const rd = uimage(join(tmp, `uRamdisk-${method}`), { arch: 'arm', type: 'ramdisk', comp: 'none', load: 0, name: `initramfs ${method}` }, packed);
      const r = await bootArm({
        loads: [{ file: kernel, addr: KERNEL_ADDR }, { file: rd, addr: INITRD_ADDR }],
        commands: [
          `iminfo 0x${KERNEL_ADDR.toString(16)}`,
          `iminfo 0x${INITRD_ADDR.toString(16)}`,
          'setenv bootargs console=ttyAMA0 panic=-1',
          'setenv initrd_high 0x50000000',
          `bootm 0x${KERNEL_ADDR.toString(16)} 0x${INITRD_ADDR.toString(16)} \${fdt_addr}`,
        ],
        marker: MARKER,
        timeout: 110_000,
      });
      assert.ok(r.ok, `${r.reason ?? ''}\n${r.log.slice(-3000)}`);
      assert.equal(r.log.match(/Verifying Checksum \.\.\. OK/g)?.length ?? 0, 4, 'iminfo twice, then bootm for kernel and ramdisk'); // U-Boot checked both CRCs
      assert.match(r.log, /Image Name:\s+Debian armmp/);
      if (lzma) assert.match(r.log, /Unpacking initramfs|Trying to unpack rootfs|Freeing initrd memory/);
      assert.doesNotMatch(r.log, /Initramfs unpacking failed/);
    });
  }
});

const malta = ensureMalta();
const maltaSkip = typeof malta === 'string' && !process.env.CI ? malta : false;

describe('a gzip kernel uImage boots under U-Boot on MIPS Malta (maltael)', { skip: maltaSkip, timeout: 200_000 }, () => {
  let tmp = '';
  let m: MaltaGuest;
  before(() => {
    if (typeof malta === 'string') throw new Error(`${malta} (CI is set: the boot test must run, not skip)`);
    m = malta;
    tmp = tempDir('imgkit-uimage-malta-');
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  it('PT_LOAD bytes, gzip by us, -C gzip: U-Boot verifies, decompresses and starts it; the kernel unpacks our initramfs', async () => {
    const seg = ptLoad(new Uint8Array(readFileSync(m.kernel)));
    const gz = await compress(seg.bytes, 'gzip', { level: 9 });
    const img = join(tmp, 'uImage');
    writeFileSync(img, encodeLegacyImage({
      os: id('os', 'linux'), arch: id('arch', 'mips'), type: id('type', 'kernel'), comp: id('comp', 'gzip'),
      load: seg.vaddr, ep: seg.entry, time: 315532800, name: 'Debian 4kc-malta', parts: [gz],
    }));
    const rd = join(tmp, 'initramfs.cpio.gz');
    writeFileSync(rd, await compress(await initramfs(join(tmp, 'root'), m.busybox), 'gzip', { level: 9 }));
    const rdSize = readFileSync(rd).length;
    const r = await bootMalta({
      bios: swappedUboot(join(tmp, 'u-boot-swap.bin')),
      loads: [{ file: img, addr: 0x0400_0000 }, { file: rd, addr: 0x0600_0000 }],
      commands: [
        'iminfo 0x84000000',
        `setenv bootargs console=ttyS0 mem=200M nokaslr panic=-1 rd_start=0x86000000 rd_size=${rdSize}`,
        'bootm 0x84000000',
      ],
      marker: MARKER,
      timeout: 150_000,
    });
    assert.ok(r.ok, `${r.reason ?? ''}\n${r.log.slice(-3000)}`);
    assert.match(r.log, /Uncompressing Kernel Image/);
    assert.ok((r.log.match(/Verifying Checksum \.\.\. OK/g)?.length ?? 0) >= 2);
  });
});
