/**
 * Assembling a flash image: kernel uImage, fill to the erase block, squashfs rootfs, and a budget that
 * says what each part takes and what is left. Too big is an error naming the bytes over, never a
 * truncated image (OpenWrt's `check-size` does the same after the fact).
 */
import { checkLegacyHeader } from '../uimage/legacy-read.js';
import { decodeSuperblock } from '../squashfs/super.js';
import { FormatError } from '../bytes/errors.js';
import { DEFAULT_ERASE_BLOCK, ERASED, FORMAT, formatSize, roundUp, type Partition } from './layout.js';

export interface FirmwareOptions {
  /** A legacy uImage (checked: magic, header CRC, ih_size within the bytes). */
  readonly kernel: Uint8Array;
  /** A squashfs 4.0 image (checked: superblock). */
  readonly rootfs: Uint8Array;
  /** Flash erase-block size in bytes (default 64 KiB); the rootfs starts on such a boundary. */
  readonly eraseBlock?: number;
  /** The space the image must fit in (a flash or a `firmware` partition); a multiple of the erase block. */
  readonly flashSize?: number;
  /**
   * A flash map (see parseMtdparts). With `kernel` and `rootfs` partitions the parts go at their
   * offsets and each must fit its own; with a `firmware` partition, that partition is the budget.
   */
  readonly partitions?: readonly Partition[];
  /** Fill the image up to the end of the budget (flash size or rootfs partition), as a factory image. */
  readonly pad?: boolean;
  /** The padding byte (default 0xff, erased NOR flash). */
  readonly fill?: number;
}

/** One line of the budget. Offsets are from the start of the image. */
export interface BudgetLine {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  /** Fill bytes written after the part (to the erase block, the partition end, or the flash end). */
  readonly padding: number;
  /** The room the part has: its partition, or what the budget leaves from its offset. */
  readonly room?: number;
  /** room - size. */
  readonly left?: number;
}

export interface Budget {
  readonly eraseBlock: number;
  readonly parts: readonly BudgetLine[];
  /** Bytes of the image written. */
  readonly imageSize: number;
  /** The budget (flash or firmware partition size), when one was given. */
  readonly limit?: number;
  /** limit minus the erase-block-aligned end of the rootfs: what rootfs_data (the overlay) gets. */
  readonly left?: number;
}

export interface AssembledFirmware {
  readonly image: Uint8Array;
  readonly budget: Budget;
}

/** A part that does not fit: which, and by how many bytes. */
export interface Overrun {
  readonly part: string;
  readonly bytes: number;
  readonly room: number;
}

/** The image does not fit its flash or partitions. `overruns` names each part and its excess in bytes. */
export class FirmwareBudgetError extends Error {
  override readonly name = 'FirmwareBudgetError';
  /** CLI exit status (src/cli/run.ts reports errors carrying one as they are). */
  readonly exitCode = 1;
  constructor(readonly overruns: readonly Overrun[], readonly budget: Budget) {
    super(`Cannot fit the firmware: ${overruns.map((o) => `${o.part} is ${o.bytes} bytes over its ${o.room}-byte budget (${formatSize(o.room)})`).join('; ')}`);
  }
}

function checkInputs(o: FirmwareOptions): void {
  checkLegacyHeader(o.kernel, o.kernel.length); // FormatError('uimage', …) with the offset in the kernel
  try {
    decodeSuperblock(o.rootfs.subarray(0, 96), o.rootfs.length);
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(FORMAT, e.code, e.offset, `Cannot use the rootfs: ${e.detail}`, { cause: e });
    throw e;
  }
}

function positive(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`${what} must be a positive integer, not ${n}`);
  return n;
}

interface Plan {
  readonly kernelAt: number;
  readonly rootfsAt: number;
  readonly end: number;
  readonly lines: BudgetLine[];
  readonly limit?: number;
  readonly left?: number;
  readonly overruns: Overrun[];
}

/** OpenWrt's layout: both parts in one budget (a flash, or a `firmware` partition). */
function planShared(k: number, r: number, eb: number, limit: number | undefined, pad: boolean): Plan {
  const rootfsAt = roundUp(k, eb);
  const dataEnd = roundUp(rootfsAt + r, eb);
  const end = pad && limit !== undefined ? Math.max(limit, dataEnd) : dataEnd;
  const lines: BudgetLine[] = [
    { name: 'kernel', offset: 0, size: k, padding: rootfsAt - k, ...(limit === undefined ? {} : { room: limit, left: limit - k }) },
    { name: 'rootfs', offset: rootfsAt, size: r, padding: end - rootfsAt - r, ...(limit === undefined ? {} : { room: limit - rootfsAt, left: limit - rootfsAt - r }) },
  ];
  const overruns: Overrun[] = [];
  if (limit !== undefined && rootfsAt + r > limit)
    overruns.push({ part: `kernel + rootfs (ending at 0x${(rootfsAt + r).toString(16)})`, bytes: rootfsAt + r - limit, room: limit });
  return { kernelAt: 0, rootfsAt, end, lines, overruns, ...(limit === undefined ? {} : { limit, left: limit - dataEnd }) };
}

/** Fixed partitions: each part at its partition, each within it. The image starts at the kernel partition. */
function planFixed(k: number, r: number, eb: number, kp: Partition, rp: Partition, pad: boolean): Plan {
  if (rp.offset < kp.offset + kp.size) throw new RangeError(`the rootfs partition (at ${rp.offset}) must come after the kernel partition (${kp.offset} + ${kp.size})`);
  for (const p of [kp, rp]) if (p.offset % eb !== 0) throw new RangeError(`partition '${p.name}' at ${p.offset} is not on a ${eb}-byte erase-block boundary`);
  const base = kp.offset;
  const rootfsAt = rp.offset - base;
  const limit = rp.offset + rp.size - base;
  const dataEnd = rootfsAt + Math.min(roundUp(r, eb), rp.size);
  const end = pad ? limit : Math.max(dataEnd, rootfsAt + r);
  const overruns: Overrun[] = [];
  if (k > kp.size) overruns.push({ part: 'the kernel', bytes: k - kp.size, room: kp.size });
  if (r > rp.size) overruns.push({ part: 'the rootfs', bytes: r - rp.size, room: rp.size });
  const lines: BudgetLine[] = [
    { name: 'kernel', offset: 0, size: k, padding: Math.max(0, rootfsAt - k), room: kp.size, left: kp.size - k },
    { name: 'rootfs', offset: rootfsAt, size: r, padding: Math.max(0, end - rootfsAt - r), room: rp.size, left: rp.size - r },
  ];
  return { kernelAt: 0, rootfsAt, end, lines, overruns, limit, left: limit - roundUp(rootfsAt + r, eb) };
}

/**
 * Lays out a kernel uImage and a squashfs rootfs for flash and returns the image and its budget.
 * Throws FirmwareBudgetError (with the bytes over) when it does not fit, FormatError when an input
 * is not a uImage / squashfs, RangeError for impossible options.
 *
 * @example
 * const { image, budget } = assembleFirmware({ kernel, rootfs, eraseBlock: 64 * 1024, flashSize: 4 << 20 });
 */
export function assembleFirmware(o: FirmwareOptions): AssembledFirmware {
  const eb = positive(o.eraseBlock ?? DEFAULT_ERASE_BLOCK, 'the erase block');
  const fill = o.fill ?? ERASED;
  if (!Number.isInteger(fill) || fill < 0 || fill > 255) throw new RangeError(`the fill byte must be 0..255, not ${fill}`);
  checkInputs(o);
  const byName = (n: string) => o.partitions?.find((p) => p.name === n);
  const kp = byName('kernel'), rp = byName('rootfs'), fw = byName('firmware');
  let limit = o.flashSize === undefined ? undefined : positive(o.flashSize, 'the flash size');
  let plan: Plan;
  if (kp && rp) plan = planFixed(o.kernel.length, o.rootfs.length, eb, kp, rp, o.pad ?? false);
  else {
    if (o.partitions && !fw) throw new RangeError("the partition table needs 'kernel' and 'rootfs' partitions, or a 'firmware' partition");
    if (fw) limit = fw.size;
    if (limit !== undefined && limit % eb !== 0) throw new RangeError(`the budget (${limit} bytes) is not a multiple of the ${eb}-byte erase block`);
    plan = planShared(o.kernel.length, o.rootfs.length, eb, limit, o.pad ?? false);
  }
  const budget: Budget = {
    eraseBlock: eb, parts: plan.lines, imageSize: plan.end,
    ...(plan.limit === undefined ? {} : { limit: plan.limit }), ...(plan.left === undefined ? {} : { left: plan.left }),
  };
  if (plan.overruns.length) throw new FirmwareBudgetError(plan.overruns, budget);
  const image = new Uint8Array(plan.end).fill(fill);
  image.set(o.kernel, plan.kernelAt);
  image.set(o.rootfs, plan.rootfsAt);
  return { image, budget };
}
