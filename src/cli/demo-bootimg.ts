/** Sample Android boot images for `imgkit demo`. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { concat } from '../bytes/source.js';
import { withOutputFile } from '../bytes/sink.js';
import { fileAccess } from '../bytes/random.js';
import { buildBootImage, buildVendorBootImage } from '../bootimg/build.js';
import { writeBootImage } from '../bootimg/write.js';
import { openBootImage } from '../bootimg/read.js';
import { inspectImage } from '../bootimg/inspect.js';
import { formatInfo } from '../bootimg/text.js';

export async function buildSamples(out: string, samples: string): Promise<{ path: string; what: string; listing: string }[]> {
  const read = async (f: string) => new Uint8Array(await readFile(join(samples, f)));
  const zImage = await read('bootimg/zImage');
  const dtb = await read('bootimg/board.dtb');
  const initramfs = await read('bootimg/initramfs.cpio.gz');
  const images: [string, string, Parameters<typeof writeBootImage>[1]][] = [
    [
      'boot-v0.img',
      'Android boot.img v0, mobile-nixos style: zImage with an appended DTB, gzip initramfs, 2 KiB pages, base 0x80000000',
      buildBootImage({
        kernel: concat([zImage, dtb]),
        ramdisk: initramfs,
        cmdline: 'console=ttyMSM0,115200 androidboot.hardware=qcom',
        base: 0x80000000, kernelOffset: 0x8000, ramdiskOffset: 0x01000000, secondOffset: 0x00f00000, tagsOffset: 0x100, pageSize: 2048,
      }),
    ],
    [
      'boot-v2.img',
      'Android boot.img v2 with a separate DTB, 4 KiB pages, os version and patch level',
      buildBootImage({
        headerVersion: 2, kernel: zImage, ramdisk: initramfs, dtb, pageSize: 4096, base: 0x80000000,
        cmdline: 'console=ttyS0,115200', board: 'imgkit-sample', osVersion: '13.0.0', osPatchLevel: '2024-06',
      }),
    ],
    [
      'vendor_boot-v4.img',
      'Android vendor_boot v4: two vendor ramdisks in the table, a DTB and bootconfig',
      buildVendorBootImage({
        headerVersion: 4, pageSize: 4096, base: 0x80000000, vendorCmdline: 'androidboot.console=ttyS0', board: 'imgkit-sample',
        vendorRamdisk: initramfs, fragments: [{ data: initramfs, type: 'dlkm', name: 'dlkm', boardId: [0x1234] }],
        dtb, bootconfig: new TextEncoder().encode('androidboot.hardware=sample\n'),
      }),
    ],
    ['init_boot.img', 'Android init_boot (header v4 without kernel), the generic ramdisk of Android 13+', buildBootImage({ headerVersion: 4, ramdisk: initramfs, allowEmptyKernel: true })],
  ];
  const done = [];
  for (const [name, what, img] of images) {
    const path = join(out, name);
    await withOutputFile(path, (sink) => writeBootImage(sink, img));
    const ra = await fileAccess(path, 'bootimg');
    try {
      const opened = await openBootImage(ra);
      done.push({ path, what, listing: formatInfo(opened, await inspectImage(opened), ra.size) });
    } finally {
      await ra.close?.();
    }
  }
  return done;
}
