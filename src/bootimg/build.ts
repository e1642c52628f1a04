/**
 * Builds image models from mkbootimg's options, with mkbootimg's defaults and rules. `compat`
 * selects whose rules: current AOSP mkbootimg (default), Debian's mkbootimg 29.0.6, or osm0sis'
 * C mkbootimg (the one mobile-nixos ships).
 */
import { EMPTY, payloadSize, type Payload } from '../bytes/payload.js';
import {
  BOOT_ARGS_SIZE, BOOT_EXTRA_ARGS_SIZE, BOOT_NAME_SIZE, DEBIAN29_BOOT_HEADER_V3_SIZE, DEBIAN29_VENDOR_BOOT_HEADER_V3_SIZE,
  VENDOR_BOOT_ARGS_SIZE, VENDOR_RAMDISK_NAME_SIZE, VENDOR_RAMDISK_TYPE, packOsVersion,
} from './layout.js';
import type { BootImage, VendorBootImage, VendorRamdisk } from './model.js';

export type Compat = 'aosp' | 'debian29' | 'osm0sis';

/** mkbootimg's address defaults. */
export const DEFAULTS = {
  base: 0x1000_0000,
  kernelOffset: 0x0000_8000,
  ramdiskOffset: 0x0100_0000,
  secondOffset: 0x00f0_0000,
  tagsOffset: 0x0000_0100,
  dtbOffset: 0x01f0_0000,
  pageSize: 2048,
} as const;

export interface AddressOptions {
  base?: number;
  kernelOffset?: number;
  ramdiskOffset?: number;
  secondOffset?: number;
  tagsOffset?: number;
  dtbOffset?: number;
}

export interface BootImageOptions<P extends Payload = Payload> extends AddressOptions {
  /** 0–4 (default 0). */
  headerVersion?: number;
  kernel?: P | undefined;
  ramdisk?: P | undefined;
  second?: P | undefined;
  /** Header v2: required. Ignored by v0/v1 and v3/v4 boot images, as mkbootimg does. */
  dtb?: P | undefined;
  recoveryDtbo?: P | undefined;
  /** Legacy QCDT/Exynos dt.img (osm0sis `--dt`), header v0 only. */
  dt?: P | undefined;
  /** v4 boot signature blob (padded by the writer to whole pages). */
  signature?: P | undefined;
  cmdline?: string;
  board?: string;
  /** "A[.B[.C]]" as mkbootimg parses it. */
  osVersion?: string;
  /** "YYYY-MM[-DD]". */
  osPatchLevel?: string;
  /** 2048, 4096, 8192, 16384 (osm0sis: up to 131072). Ignored by v3/v4 (always 4096). */
  pageSize?: number;
  hashType?: 'sha1' | 'sha256';
  compat?: Compat;
  /** The image needs no kernel: an init_boot.img (header v4, AOSP). */
  allowEmptyKernel?: boolean;
}

const enc = new TextEncoder();

/** Parses `--os_version` as mkbootimg does: leading "A[.B[.C]]", each < 128; anything else is 0. */
export function parseOsVersion(s: string | undefined): [number, number, number] | undefined {
  const m = s === undefined ? null : /^(\d{1,3})(?:\.(\d{1,3})(?:\.(\d{1,3}))?)?/.exec(s);
  if (!m) return undefined;
  const v: [number, number, number] = [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
  if (v.some((x) => x >= 128)) throw new RangeError(`Cannot use os_version '${s}': each part must be below 128`);
  return v;
}

/** Parses `--os_patch_level` as mkbootimg does: leading "YYYY-MM[-DD]" (the day is dropped); anything else is 0. */
export function parseOsPatchLevel(s: string | undefined): [number, number] | undefined {
  const m = s === undefined ? null : /^(\d{4})-(\d{2})(?:-(\d{2}))?/.exec(s);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  if (y < 2000 || y >= 2128) throw new RangeError(`Cannot use os_patch_level '${s}': the year must be 2000–2127`);
  if (mo < 1 || mo > 12) throw new RangeError(`Cannot use os_patch_level '${s}': the month must be 01–12`);
  return [y, mo];
}

function addr(base: number, offset: number, what: string, compat: Compat, bits = 32): number {
  const v = base + offset;
  if (compat === 'osm0sis' && bits === 32) return v % 2 ** 32;
  if (!Number.isSafeInteger(v) || v < 0 || v >= 2 ** bits)
    throw new RangeError(`Cannot place ${what}: base 0x${base.toString(16)} + offset 0x${offset.toString(16)} = 0x${v.toString(16)} does not fit in ${bits} bits`);
  return v;
}

/** Splits a cmdline into the header's cmdline and extra_cmdline fields by the compat's rules. */
export function splitCmdline(cmdline: string, compat: Compat): [Uint8Array, Uint8Array] {
  const all = enc.encode(cmdline);
  if (compat === 'aosp') {
    // AOSP: asciiz of at most 1535 bytes; 511 bytes + NUL in cmdline, the rest (with its NUL) in extra
    const max = BOOT_ARGS_SIZE + BOOT_EXTRA_ARGS_SIZE - 2;
    if (all.length > max) throw new RangeError(`Cannot use cmdline: ${all.length} bytes exceed the ${max} bytes of a v0–v2 header`);
    return [all.subarray(0, BOOT_ARGS_SIZE - 1), all.subarray(BOOT_ARGS_SIZE - 1)];
  }
  if (compat === 'debian29') {
    // Debian 29.0.6 splits at 512 characters, then truncates each encoded part to its field
    const chars = [...cmdline];
    if (chars.length > 1536) throw new RangeError(`Cannot use cmdline: ${chars.length} characters exceed 1536`);
    return [enc.encode(chars.slice(0, 512).join('')).subarray(0, BOOT_ARGS_SIZE), enc.encode(chars.slice(512).join('')).subarray(0, BOOT_EXTRA_ARGS_SIZE)];
  }
  // osm0sis: bytes; whole when ≤ 512, else 512 bytes + the rest (≤ 1024)
  if (all.length > BOOT_ARGS_SIZE + BOOT_EXTRA_ARGS_SIZE) throw new RangeError(`Cannot use cmdline: ${all.length} bytes exceed 1536`);
  return [all.subarray(0, BOOT_ARGS_SIZE), all.subarray(BOOT_ARGS_SIZE)];
}

/** An asciiz field: the text, plus NUL unless `nulOptional`, must fit in `size` bytes. */
function asciiz(s: string, size: number, what: string, nulOptional = false): Uint8Array {
  const b = enc.encode(s);
  if (b.length + (nulOptional ? 0 : 1) > size)
    throw new RangeError(`Cannot use ${what}: ${b.length} bytes exceed the ${size - (nulOptional ? 0 : 1)} bytes the field holds`);
  return b;
}

function board(s: string | undefined, compat: Compat): Uint8Array {
  if (compat === 'debian29') {
    const chars = [...(s ?? '')];
    if (chars.length > BOOT_NAME_SIZE) throw new RangeError(`Cannot use board: ${chars.length} characters exceed ${BOOT_NAME_SIZE}`);
    return enc.encode(s ?? '').subarray(0, BOOT_NAME_SIZE);
  }
  return asciiz(s ?? '', BOOT_NAME_SIZE, 'board');
}

/**
 * The boot image mkbootimg would write for these options.
 * @example
 * const img = buildBootImage({ kernel, ramdisk, cmdline: 'console=ttyS0', base: 0x80000000, pageSize: 4096 });
 * const bytes = encodeBootImage(img);
 */
export function buildBootImage<P extends Payload>(o: BootImageOptions<P>): BootImage<P | Uint8Array> {
  const compat = o.compat ?? 'aosp';
  const v = o.headerVersion ?? 0;
  if (!Number.isInteger(v) || v < 0 || v > 4) throw new RangeError(`Cannot build boot image: header version ${v} is not supported (0–4)`);
  if (v === 4 && compat === 'debian29') throw new RangeError('Cannot build boot image: header version 4 is not supported by Debian mkbootimg 29');
  if (o.kernel === undefined && !(o.allowEmptyKernel && v >= 3 && compat === 'aosp'))
    throw new RangeError('Cannot build boot image: a kernel must be supplied');
  const pageSize = o.pageSize ?? DEFAULTS.pageSize;
  const maxPage = compat === 'osm0sis' ? 131072 : 16384;
  if (!Number.isInteger(pageSize) || pageSize < 2048 || pageSize > maxPage || (pageSize & (pageSize - 1)) !== 0)
    throw new RangeError(`Cannot build boot image: page size ${pageSize} is not one of 2048, 4096 … ${maxPage}`);
  const base = o.base ?? DEFAULTS.base;
  const osVersion = packOsVersion(parseOsVersion(o.osVersion), parseOsPatchLevel(o.osPatchLevel));
  const has = (p: P | undefined) => payloadSize(p) > 0;
  const common = {
    kind: 'boot' as const,
    headerVersion: v,
    osVersion,
    kernel: o.kernel ?? EMPTY,
    ramdisk: o.ramdisk ?? EMPTY,
    tail: EMPTY,
    dt: EMPTY,
  };
  if (v >= 3) {
    if (o.second !== undefined) throw new RangeError('Cannot build boot image: --second is not compatible with header version ' + v);
    let cmdline: Uint8Array;
    if (compat === 'debian29') {
      const chars = [...(o.cmdline ?? '')];
      if (chars.length > 1536) throw new RangeError(`Cannot use cmdline: ${chars.length} characters exceed 1536`);
      cmdline = enc.encode(o.cmdline ?? '').subarray(0, BOOT_ARGS_SIZE + BOOT_EXTRA_ARGS_SIZE);
    } else cmdline = asciiz(o.cmdline ?? '', BOOT_ARGS_SIZE + BOOT_EXTRA_ARGS_SIZE, 'cmdline');
    return {
      ...common,
      pageSize: 4096,
      kernelAddr: 0, ramdiskAddr: 0, secondAddr: 0, tagsAddr: 0, dtbAddr: 0,
      name: EMPTY, cmdline, extraCmdline: EMPTY, id: EMPTY, reserved: EMPTY,
      headerSize: compat === 'debian29' && v === 3 ? DEBIAN29_BOOT_HEADER_V3_SIZE : undefined,
      second: EMPTY, recoveryDtbo: EMPTY, dtb: EMPTY,
      signature: v === 4 ? (o.signature ?? EMPTY) : EMPTY,
    };
  }
  if (o.dt !== undefined && v !== 0) throw new RangeError('Cannot build boot image: --dt needs header version 0');
  if (o.dt !== undefined && !has(o.dt)) throw new RangeError('Cannot build boot image: the dt image is empty');
  if (v === 2 && !has(o.dtb)) throw new RangeError('Cannot build boot image: DTB image must not be empty for header version 2');
  const [cmdline, extraCmdline] = splitCmdline(o.cmdline ?? '', compat);
  const always = compat === 'osm0sis';
  return {
    ...common,
    pageSize,
    kernelAddr: addr(base, o.kernelOffset ?? DEFAULTS.kernelOffset, 'kernel', compat),
    ramdiskAddr: has(o.ramdisk) || always ? addr(base, o.ramdiskOffset ?? DEFAULTS.ramdiskOffset, 'ramdisk', compat) : 0,
    secondAddr: has(o.second) || always ? addr(base, o.secondOffset ?? DEFAULTS.secondOffset, 'second', compat) : 0,
    tagsAddr: addr(base, o.tagsOffset ?? DEFAULTS.tagsOffset, 'tags', compat),
    dtbAddr: v === 2 ? addr(base, o.dtbOffset ?? DEFAULTS.dtbOffset, 'dtb', compat, 64) : 0,
    name: board(o.board, compat),
    cmdline,
    extraCmdline,
    id: o.hashType ?? 'sha1',
    reserved: EMPTY,
    second: o.second ?? EMPTY,
    dt: o.dt ?? EMPTY,
    recoveryDtbo: v >= 1 ? (o.recoveryDtbo ?? EMPTY) : EMPTY,
    dtb: v === 2 ? (o.dtb ?? EMPTY) : EMPTY,
    signature: EMPTY,
  };
}

export interface VendorRamdiskFragment<P extends Payload = Payload> {
  data: P;
  /** none | platform | recovery | dlkm, or a number (default none). */
  type?: keyof typeof VENDOR_RAMDISK_TYPE | number;
  name: string;
  /** Up to 16 values; missing ones are 0. */
  boardId?: readonly number[];
}

export interface VendorBootOptions<P extends Payload = Payload> extends AddressOptions {
  /** 3 or 4. */
  headerVersion: number;
  pageSize?: number;
  vendorCmdline?: string;
  board?: string;
  /** v3: the vendor ramdisk; v4: the first table entry (type platform, no name). */
  vendorRamdisk?: P | undefined;
  /** v4: further ramdisks (`--ramdisk_type/--ramdisk_name/--board_idN/--vendor_ramdisk_fragment`). */
  fragments?: readonly VendorRamdiskFragment<P>[];
  dtb?: P | undefined;
  bootconfig?: P | undefined;
  compat?: Compat;
}

export function ramdiskType(t: VendorRamdiskFragment['type']): number {
  if (t === undefined) return VENDOR_RAMDISK_TYPE.none;
  if (typeof t === 'number') return t;
  const v = VENDOR_RAMDISK_TYPE[t.toLowerCase() as keyof typeof VENDOR_RAMDISK_TYPE];
  if (v === undefined) throw new RangeError(`Cannot use ramdisk type '${t}': not one of none, platform, recovery, dlkm`);
  return v;
}

/** The vendor_boot image mkbootimg would write for these options. */
export function buildVendorBootImage<P extends Payload>(o: VendorBootOptions<P>): VendorBootImage<P | Uint8Array> {
  const compat = o.compat ?? 'aosp';
  const v = o.headerVersion;
  if (v !== 3 && v !== 4) throw new RangeError(`Cannot build vendor boot image: header version ${v} is not 3 or 4`);
  if (v === 4 && compat === 'debian29') throw new RangeError('Cannot build vendor boot image: header version 4 is not supported by Debian mkbootimg 29');
  const pageSize = o.pageSize ?? DEFAULTS.pageSize;
  if (!Number.isInteger(pageSize) || pageSize < 2048 || pageSize > 16384 || (pageSize & (pageSize - 1)) !== 0)
    throw new RangeError(`Cannot build vendor boot image: page size ${pageSize} is not one of 2048, 4096, 8192, 16384`);
  if (compat === 'debian29' && payloadSize(o.dtb) === 0) throw new RangeError('Cannot build vendor boot image: DTB image must not be empty');
  const base = o.base ?? DEFAULTS.base;
  const zeros = () => new Array<number>(16).fill(0);
  const ramdisks: VendorRamdisk<P | Uint8Array>[] = [];
  if (v === 3) {
    if (o.vendorRamdisk === undefined) throw new RangeError('Cannot build vendor boot image: --vendor_ramdisk is missing');
    if (o.fragments?.length) throw new RangeError('Cannot build vendor boot image: ramdisk fragments need header version 4');
    ramdisks.push({ data: o.vendorRamdisk, type: VENDOR_RAMDISK_TYPE.platform, name: EMPTY, boardId: zeros() });
  } else {
    const names = new Set<string>();
    const add = (data: P, type: number, name: string, boardId: readonly number[] | undefined) => {
      const n = asciiz(name, VENDOR_RAMDISK_NAME_SIZE, 'ramdisk name');
      if (name === 'default') throw new RangeError(`Cannot use ramdisk name 'default': it is reserved`);
      if (names.has(name)) throw new RangeError(`Cannot use ramdisk name '${name}' twice`);
      names.add(name);
      const ids = zeros();
      (boardId ?? []).forEach((x, i) => {
        if (i >= 16) throw new RangeError('Cannot use board_id: at most 16 values');
        if (!Number.isInteger(x) || x < 0 || x >= 2 ** 32) throw new RangeError(`Cannot use board_id${i} ${x}: not a u32`);
        ids[i] = x;
      });
      ramdisks.push({ data, type, name: n, boardId: ids });
    };
    if (o.vendorRamdisk !== undefined) add(o.vendorRamdisk, VENDOR_RAMDISK_TYPE.platform, '', undefined);
    for (const f of o.fragments ?? []) add(f.data, ramdiskType(f.type), f.name, f.boardId);
  }
  const cmdline =
    compat === 'debian29'
      ? enc.encode(o.vendorCmdline ?? '').subarray(0, VENDOR_BOOT_ARGS_SIZE)
      : asciiz(o.vendorCmdline ?? '', VENDOR_BOOT_ARGS_SIZE, 'vendor_cmdline');
  if (compat === 'debian29' && [...(o.vendorCmdline ?? '')].length > VENDOR_BOOT_ARGS_SIZE)
    throw new RangeError(`Cannot use vendor_cmdline: more than ${VENDOR_BOOT_ARGS_SIZE} characters`);
  return {
    kind: 'vendor_boot',
    headerVersion: v,
    pageSize,
    kernelAddr: addr(base, o.kernelOffset ?? DEFAULTS.kernelOffset, 'kernel', compat),
    ramdiskAddr: addr(base, o.ramdiskOffset ?? DEFAULTS.ramdiskOffset, 'ramdisk', compat),
    tagsAddr: addr(base, o.tagsOffset ?? DEFAULTS.tagsOffset, 'tags', compat),
    dtbAddr: addr(base, o.dtbOffset ?? DEFAULTS.dtbOffset, 'dtb', compat, 64),
    cmdline,
    name: board(o.board, compat),
    headerSize: compat === 'debian29' && v === 3 ? DEBIAN29_VENDOR_BOOT_HEADER_V3_SIZE : undefined,
    ramdisks,
    dtb: o.dtb ?? EMPTY,
    bootconfig: v === 4 ? (o.bootconfig ?? EMPTY) : EMPTY,
    tail: EMPTY,
  };
}
