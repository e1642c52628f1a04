/**
 * Router flash images ("firmware"): a kernel uImage at 0, then a squashfs rootfs at the next erase-block
 * boundary, as OpenWrt's image.mk builds them (`pad-to $(BLOCKSIZE)`, `append-rootfs`) and as its flash
 * splitters find them again (target/linux/generic/files/drivers/mtd/mtdsplit/mtdsplit_uimage.c +
 * mtd_find_rootfs_from(): the rootfs is the first squashfs superblock at an erase-block boundary after
 * the kernel).
 *
 *   0x000000 ┌──────────────────────────────┐
 *            │ kernel uImage (64 + ih_size) │
 *            ├──────────────────────────────┤ fill (0xff: erased NOR) up to the erase block
 *   R        ├──────────────────────────────┤ R = kernel size rounded up to the erase block
 *            │ squashfs rootfs (bytes_used, │
 *            │ mksquashfs pads to 4 KiB)    │
 *            ├──────────────────────────────┤ fill up to the erase block
 *   E        ├──────────────────────────────┤ rootfs_data (jffs2, made on first boot) starts here;
 *            │ fill up to the flash size    │ OpenWrt may put the JFFS2 EOF marker de ad c0 de at E
 *            └──────────────────────────────┘
 *
 * With a partition table (mtdparts syntax, drivers/mtd/parsers/cmdlinepart.c) the kernel and rootfs go at
 * their partitions' offsets instead, and each must fit its partition.
 */
import { padding } from '../bytes/limits.js';

export const FORMAT = 'firmware';
/** The erase block most SPI NOR flashes of routers have (OpenWrt's default BLOCKSIZE). */
export const DEFAULT_ERASE_BLOCK = 0x1_0000;
/** Erased NOR flash reads as 0xff; padding with it leaves those blocks untouched by a flasher. */
export const ERASED = 0xff;
/** OpenWrt's JFFS2 end-of-filesystem marker (include/image.mk `append-jffs2-eof`... `deadc0de`), big-endian. */
export const JFFS2_EOF_MARKER = 0xdead_c0de;
/** include/image.h IH_MAGIC (U-Boot legacy image), big-endian. */
export const UIMAGE_MAGIC = 0x2705_1956;
/** FDT magic: a FIT image (kernel as an .itb), big-endian. */
export const FIT_MAGIC = 0xd00d_feed;
/** "hsqs" read little-endian: squashfs 4.0 s_magic. */
export const SQUASHFS_MAGIC = 0x7371_7368;
/** Smallest step at which a splitter looks for the rootfs when the erase block is unknown. */
export const SCAN_STEP = 0x1000;

/** One partition of a flash map: `name` at `offset`, `size` bytes. */
export interface Partition {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly readOnly?: boolean;
}

/** `n` rounded up to a multiple of `align` (align > 0). */
export function roundUp(n: number, align: number): number {
  return n + padding(n, align);
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/**
 * A size as people write flash sizes: `65536`, `0x10000`, `64k`, `64KiB`, `4M`, `4MiB` (powers of 1024,
 * as mtdparts and mksquashfs read them). Throws RangeError otherwise.
 */
export function parseSize(text: string, what = 'size'): number {
  const m = /^\s*(0[xX][0-9a-fA-F]+|\d+)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new RangeError(`Cannot parse ${what}: '${text}' is not a size (65536, 0x10000, 64KiB, 4MiB)`);
  const v = Number(m[1]) * unit;
  if (!Number.isSafeInteger(v)) throw new RangeError(`Cannot parse ${what}: '${text}' is too large`);
  return v;
}

/** A size in the unit it is a whole multiple of: `4 MiB`, `64 KiB`, `1234 bytes`. */
export function formatSize(n: number): string {
  for (const [unit, v] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) if (n >= v && n % v === 0) return `${n / v} ${unit}`;
  return `${n} bytes`;
}

/**
 * An mtdparts partition list, as the kernel's cmdlinepart parser reads it:
 * `256k(u-boot)ro,64k(u-boot-env),1536k(kernel),-(rootfs)`, each `<size>[@<offset>](<name>)[ro]`,
 * where `-` takes what is left of `flashSize`. An `mtdparts=<id>:` prefix is accepted and ignored.
 */
export function parseMtdparts(text: string, flashSize?: number): Partition[] {
  const body = text.replace(/^mtdparts=/, '').replace(/^[^:(]*:/, '');
  const out: Partition[] = [];
  let next = 0;
  for (const item of body.split(',')) {
    const m = /^\s*(-|[0-9a-fA-Fx]+[kKmMgG]?)(?:@([0-9a-fA-Fx]+[kKmMgG]?))?\(([^()]+)\)(ro)?\s*$/.exec(item);
    if (!m) throw new RangeError(`Cannot parse partition '${item}': expected <size>[@<offset>](<name>)[ro], as in mtdparts`);
    const offset = m[2] === undefined ? next : parseSize(m[2], `offset of ${m[3]}`);
    let size: number;
    if (m[1] === '-') {
      if (flashSize === undefined) throw new RangeError(`Cannot size partition '${m[3]}': '-' needs the flash size (--flash-size)`);
      size = flashSize - offset;
      if (size <= 0) throw new RangeError(`Cannot size partition '${m[3]}': it starts at ${offset}, past the ${flashSize}-byte flash`);
    } else size = parseSize(m[1]!, `size of ${m[3]}`);
    if (offset < next) throw new RangeError(`Cannot place partition '${m[3]}' at ${offset}: it overlaps the one before, which ends at ${next}`);
    out.push({ name: m[3]!, offset, size, ...(m[4] ? { readOnly: true } : {}) });
    next = offset + size;
  }
  if (flashSize !== undefined && next > flashSize) throw new RangeError(`Cannot fit the partition table in the ${flashSize}-byte flash: it ends at ${next}`);
  return out;
}
