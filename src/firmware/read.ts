/**
 * Finding the parts of a flash image as OpenWrt's flash splitters do (mtdsplit_uimage.c, then
 * mtd_find_rootfs_from() for the squashfs): a uImage (or FIT) kernel at 0, the rootfs at the first
 * squashfs superblock at or after the kernel's end on a scan boundary, rootfs_data at the erase block
 * after the squashfs. Every length taken from the image is checked against the image before use.
 */
import { FormatError } from '../bytes/errors.js';
import { crc32Range } from '../bytes/crc32.js';
import { bytesAccess, rangeChunks, type RandomAccess } from '../bytes/random.js';
import { checkLegacyHeader } from '../uimage/legacy-read.js';
import { nameOf } from '../uimage/tables.js';
import { decodeSuperblock, type SquashfsSuperblock } from '../squashfs/super.js';
import { DEFAULT_ERASE_BLOCK, FIT_MAGIC, FORMAT, JFFS2_EOF_MARKER, roundUp, SCAN_STEP, SQUASHFS_MAGIC, UIMAGE_MAGIC } from './layout.js';

export interface UImagePart {
  readonly kind: 'uimage';
  readonly name: 'kernel';
  readonly offset: number;
  /** Header and data: 64 + ih_size. */
  readonly size: number;
  readonly imageName: string;
  readonly arch: string;
  readonly os: string;
  readonly type: string;
  readonly comp: string;
  readonly load: number;
  readonly entry: number;
  readonly time: number;
  /** The data CRC was checked and matches (the header CRC always is). */
  readonly dataCrcOk: boolean;
}
export interface FitPart { readonly kind: 'fit'; readonly name: 'kernel'; readonly offset: number; readonly size: number }
export interface SquashfsPart {
  readonly kind: 'squashfs';
  readonly name: 'rootfs';
  readonly offset: number;
  /** bytes_used. */
  readonly size: number;
  readonly superblock: SquashfsSuperblock;
  /** Largest power of two (up to 1 MiB) that divides the offset. */
  readonly alignment: number;
}
/** A stretch between or after the parts: all one fill byte, a JFFS2 EOF marker, or other data. */
export interface GapPart {
  readonly kind: 'fill' | 'jffs2-eof' | 'data';
  readonly name: 'padding' | 'rootfs_data';
  readonly offset: number;
  readonly size: number;
  /** The byte every position holds, for kind 'fill'. */
  readonly fill?: number;
}
export type FirmwarePart = UImagePart | FitPart | SquashfsPart | GapPart;

export interface FirmwareLayout {
  readonly size: number;
  readonly eraseBlock: number;
  readonly parts: readonly FirmwarePart[];
}

export interface DescribeOptions {
  /** Erase block of the flash (default 64 KiB): where rootfs_data starts after the squashfs. */
  readonly eraseBlock?: number;
  /** Step of the rootfs scan after the kernel (default 4 KiB, as small as flash erase blocks get). */
  readonly scanStep?: number;
  /** Check the kernel's data CRC too (default true; the header CRC is always checked). */
  readonly verify?: boolean;
}

const hex = (n: number) => `0x${n.toString(16)}`;

function alignmentOf(off: number): number {
  let a = 1;
  while (a < 0x10_0000 && off % (a * 2) === 0) a *= 2;
  return off === 0 ? 0x10_0000 : a;
}

async function u32At(ra: RandomAccess, at: number, le = false): Promise<number | undefined> {
  if (at + 4 > ra.size) return undefined;
  const b = await ra.readAt(at, 4);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, le);
}

async function kernelPart(ra: RandomAccess, verify: boolean): Promise<UImagePart | FitPart | undefined> {
  const magic = await u32At(ra, 0);
  if (magic === UIMAGE_MAGIC) {
    if (ra.size < 64) throw new FormatError(FORMAT, 'TRUNCATED', 0, `Cannot read the kernel uImage header: the image has ${ra.size} bytes`);
    const { header: h, dataSize } = checkLegacyHeader(await ra.readAt(0, 64), ra.size);
    let dataCrcOk = false;
    if (verify) {
      const c = await crc32Range(ra, 64, dataSize, 'firmware');
      if (c !== h.dcrc) throw new FormatError('uimage', 'BAD_CHECKSUM', 0x18, `Cannot verify the kernel uImage: data CRC is ${hex(c)}, the header says ${hex(h.dcrc)}`);
      dataCrcOk = true;
    }
    const nul = h.name.indexOf(0);
    return {
      kind: 'uimage', name: 'kernel', offset: 0, size: 64 + dataSize,
      imageName: new TextDecoder('latin1').decode(nul < 0 ? h.name : h.name.subarray(0, nul)),
      arch: nameOf('arch', h.arch) ?? `arch ${h.arch}`, os: nameOf('os', h.os) ?? `os ${h.os}`,
      type: nameOf('type', h.type) ?? `type ${h.type}`, comp: nameOf('comp', h.comp) ?? `comp ${h.comp}`,
      load: h.load, entry: h.ep, time: h.time, dataCrcOk,
    };
  }
  if (magic === FIT_MAGIC) {
    const total = (await u32At(ra, 4))!;
    if (total < 40 || total > ra.size) throw new FormatError(FORMAT, 'TRUNCATED', 4, `Cannot read the kernel FIT: totalsize ${total} is outside 40..${ra.size}`);
    return { kind: 'fit', name: 'kernel', offset: 0, size: total };
  }
  return undefined;
}

async function squashfsAt(ra: RandomAccess, at: number): Promise<SquashfsPart> {
  if (at + 96 > ra.size) throw new FormatError(FORMAT, 'TRUNCATED', at, `Cannot read the rootfs superblock: the image ends ${ra.size - at} bytes after it starts`);
  let superblock: SquashfsSuperblock;
  try {
    superblock = decodeSuperblock(await ra.readAt(at, 96), ra.size - at);
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(FORMAT, e.code, at + e.offset, `Cannot parse the rootfs at ${hex(at)}: ${e.detail}`, { cause: e });
    throw e;
  }
  return { kind: 'squashfs', name: 'rootfs', offset: at, size: superblock.bytesUsed, superblock, alignment: alignmentOf(at) };
}

/** The first offset at `from` or on a `step` boundary after it with squashfs's magic, or undefined. */
async function findSquashfs(ra: RandomAccess, from: number, step: number): Promise<number | undefined> {
  for (let at = from; at + 4 <= ra.size; at = roundUp(at + 1, step)) if ((await u32At(ra, at, true)) === SQUASHFS_MAGIC) return at;
  return undefined;
}

/** The stretch [offset, end) as runs of one fill byte (at most 8, e.g. mksquashfs's zeros then erased 0xff), or one 'data' part. */
async function gap(ra: RandomAccess, offset: number, end: number, name: GapPart['name']): Promise<GapPart[]> {
  if (end <= offset) return [];
  if (name === 'rootfs_data' && (await u32At(ra, offset)) === JFFS2_EOF_MARKER) return [{ kind: 'jffs2-eof', name, offset, size: end - offset }];
  const runs: { offset: number; fill: number }[] = [];
  let pos = offset;
  for await (const chunk of rangeChunks(ra, offset, end - offset, 1 << 20)) {
    for (let i = 0; i < chunk.length; i++)
      if (runs.length === 0 || chunk[i] !== runs[runs.length - 1]!.fill) {
        if (runs.length === 8) return [{ kind: 'data', name, offset, size: end - offset }];
        runs.push({ offset: pos + i, fill: chunk[i]! });
      }
    pos += chunk.length;
  }
  return runs.map((r, i) => ({ kind: 'fill', name, offset: r.offset, size: (runs[i + 1]?.offset ?? end) - r.offset, fill: r.fill }));
}

/**
 * The parts of a flash image: kernel (uImage or FIT) at 0 and the squashfs rootfs after it, or a
 * squashfs alone; with the padding between them and rootfs_data after. FormatError when neither a kernel
 * nor a rootfs is at 0, or when a part found is damaged (bad CRC, lengths past the image).
 *
 * @example const { parts } = await describeFirmware(bytesAccess(image));
 */
export async function describeFirmware(input: RandomAccess | Uint8Array, o: DescribeOptions = {}): Promise<FirmwareLayout> {
  const ra = input instanceof Uint8Array ? bytesAccess(input, FORMAT) : input;
  const eraseBlock = o.eraseBlock ?? DEFAULT_ERASE_BLOCK;
  const step = o.scanStep ?? Math.min(SCAN_STEP, eraseBlock);
  if (!(eraseBlock > 0 && step > 0)) throw new RangeError('the erase block and scan step must be positive');
  const parts: FirmwarePart[] = [];
  const kernel = await kernelPart(ra, o.verify ?? true);
  let at = 0;
  if (kernel) {
    parts.push(kernel);
    at = kernel.size;
  } else if ((await u32At(ra, 0, true)) !== SQUASHFS_MAGIC)
    throw new FormatError(FORMAT, 'BAD_MAGIC', 0, `Cannot parse firmware: no uImage, FIT or squashfs at 0 (the image starts ${hex((await u32At(ra, 0)) ?? 0)})`);
  const found = await findSquashfs(ra, at, step);
  if (found === undefined) return { size: ra.size, eraseBlock, parts: [...parts, ...(await gap(ra, at, ra.size, 'padding'))] };
  parts.push(...(await gap(ra, at, found, 'padding')));
  const rootfs = await squashfsAt(ra, found);
  parts.push(rootfs);
  const end = found + rootfs.size;
  const dataAt = Math.min(roundUp(end, eraseBlock), ra.size);
  parts.push(...(await gap(ra, end, dataAt, 'padding')), ...(await gap(ra, dataAt, ra.size, 'rootfs_data')));
  return { size: ra.size, eraseBlock, parts };
}
