/**
 * The uImage part of `imgkit demo`: builds a kernel uImage, a multi-file image, an LZMA router
 * kernel and a boot script from the bundled inputs in samples/uimage/ (plus the initramfs and DTB in
 * samples/bootimg/), and returns what was built with its `mkimage -l` listing.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withOutputFile } from '../bytes/sink.js';
import { fileAccess } from '../bytes/random.js';
import { compress } from '../codec/index.js';
import { openLegacyImage } from '../uimage/legacy-read.js';
import { formatLegacyListing } from '../uimage/legacy-text.js';
import { writeLegacyImage, type LegacyImageSpec } from '../uimage/legacy-write.js';
import { mkimageSpec, sourceDateEpoch } from '../uimage/mkimage.js';
import { idOf } from '../uimage/tables.js';

/**
 * Builds the sample uImages into `out`. `samples` is the samples/ folder (the one holding uimage/ and bootimg/).
 * ih_time is SOURCE_DATE_EPOCH when set, else 1980-01-01 (Nix's value), so the demo output is reproducible.
 */
export async function buildSamples(out: string, samples: string): Promise<{ path: string; what: string; listing: string }[]> {
  const read = async (f: string) => new Uint8Array(await readFile(join(samples, f)));
  const kernel = await read('uimage/vmlinux.bin');
  const initramfs = await read('bootimg/initramfs.cpio.gz');
  const dtb = await read('bootimg/board.dtb');
  const script = await read('uimage/boot.cmd');
  const { time } = sourceDateEpoch(process.env.SOURCE_DATE_EPOCH, 315532800);
  const id = (cat: 'arch' | 'os' | 'type' | 'comp', name: string) => idOf(cat, name)!;
  await mkdir(out, { recursive: true });

  const lzma = await compress(kernel, 'lzma', { lzma: { lc: 1, lp: 2, pb: 2, dictSize: 1 << 20 } });
  const builds: [string, string, Promise<LegacyImageSpec>][] = [
    ['uImage-arm', 'ARM kernel uImage, uncompressed (-C none), load/entry 0x40008000: what qemu_arm boots with bootm',
      mkimageSpec({ arch: id('arch', 'arm'), os: id('os', 'linux'), type: id('type', 'kernel'), comp: id('comp', 'none'), load: 0x40008000, ep: 0x40008000, name: 'imgkit sample ARM kernel', data: [kernel], time })],
    ['uImage-multi', 'multi-file image (-T multi -d kernel:initramfs:dtb): bootm takes part 0 as kernel, 1 as initrd, 2 as FDT',
      mkimageSpec({ arch: id('arch', 'arm'), os: id('os', 'linux'), type: id('type', 'multi'), comp: id('comp', 'none'), load: 0x40008000, ep: 0x40008000, name: 'kernel+initramfs+dtb', data: [kernel, initramfs, dtb], time })],
    ['uImage-lzma', 'MIPS router kernel: LZMA-alone with the real size in its header, lc1 lp2 pb2 1 MiB dictionary (OpenWrt), load 0x80060000',
      mkimageSpec({ arch: id('arch', 'mips'), os: id('os', 'linux'), type: id('type', 'kernel'), comp: id('comp', 'lzma'), load: 0x80060000, ep: 0x80060000, name: 'MIPS imgkit Linux ath79', data: [lzma], time })],
    ['boot.scr', 'U-Boot script (-T script), as mobile-nixos builds boot.scr',
      mkimageSpec({ arch: id('arch', 'arm64'), os: id('os', 'linux'), type: id('type', 'script'), comp: id('comp', 'none'), data: [script], time })],
  ];

  const built: { path: string; what: string; listing: string }[] = [];
  for (const [name, what, spec] of builds) {
    const path = join(out, name);
    const s = await spec;
    await withOutputFile(path, (sink) => writeLegacyImage(sink, s));
    const ra = await fileAccess(path, 'uimage');
    try {
      const img = await openLegacyImage(ra);
      const multi = img.header.type === id('type', 'multi') || img.header.type === id('type', 'script');
      built.push({ path, what, listing: formatLegacyListing(img.header, multi ? img.parts : []) });
    } finally {
      await ra.close?.();
    }
  }
  return built;
}
