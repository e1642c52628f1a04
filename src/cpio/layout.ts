/**
 * cpio "newc" (070701) and "crc" (070702): the formats the Linux kernel unpacks as initramfs.
 * Sources: kernel Documentation/driver-api/early-userspace/buffer-format.rst, init/initramfs.c,
 * usr/gen_init_cpio.c; GNU cpio 2.13–2.15 src/copyout.c (what it writes byte for byte).
 *
 *   entry   = header(110) name(namesize, NUL-terminated) pad-to-4 data(filesize) pad-to-4
 *   archive = entry* "TRAILER!!!"-entry, zero-padded to 512 bytes by GNU cpio and gen_init_cpio
 *
 *   off  len  field        meaning (8 ASCII hex digits each; written upper case, read in either case)
 *   0x00   6  c_magic      "070701" newc, "070702" crc
 *   0x06   8  c_ino        inode number; only used to match hard links
 *   0x0e   8  c_mode       st_mode: S_IFMT type bits | permissions
 *   0x16   8  c_uid
 *   0x1e   8  c_gid
 *   0x26   8  c_nlink      the kernel links entries with nlink >= 2 that share (maj, min, ino, type)
 *   0x2e   8  c_mtime      seconds since the epoch (u32: ends in 2106)
 *   0x36   8  c_filesize   data bytes: regular file content, or the symlink target
 *   0x3e   8  c_maj        device of the containing file system (part of the hard-link key)
 *   0x46   8  c_min
 *   0x4e   8  c_rmaj       rdev of a block or character device node
 *   0x56   8  c_rmin
 *   0x5e   8  c_namesize   name bytes including the NUL
 *   0x66   8  c_chksum     crc: the u32 wrapping sum of the data bytes (not a CRC); newc: 0
 */
import { FormatError } from '../bytes/errors.js';
import { padding } from '../bytes/limits.js';

/** A byte from the input as a message shows it: quoted when printable ASCII, else in hex (no control bytes reach a terminal). */
const shownByte = (c: number): string => (c >= 0x20 && c < 0x7f ? `"${String.fromCharCode(c)}"` : `byte 0x${c.toString(16).padStart(2, '0')}`);

export const NEWC_MAGIC = '070701';
export const CRC_MAGIC = '070702';
/** Old portable ASCII (odc): recognized only to name it in an error, as the kernel does. */
export const ODC_MAGIC = '070707';
export const HEADER_SIZE = 110;
export const TRAILER = 'TRAILER!!!';
/** GNU cpio and gen_init_cpio pad the finished archive to this block size. */
export const BLOCK = 512;
/** Kernel PATH_MAX: longer names (namesize, NUL included) are skipped by the kernel; we refuse them. */
export const PATH_MAX = 4096;
/** Largest value of an 8-digit hex field. */
export const U32_MAX = 0xffff_ffff;

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export type CpioFormat = 'newc' | 'crc';

/** One header as stored, plus its name. Models are plain data. */
export interface CpioHeader {
  readonly format: CpioFormat;
  readonly ino: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly mtime: number;
  readonly filesize: number;
  readonly devMajor: number;
  readonly devMinor: number;
  readonly rdevMajor: number;
  readonly rdevMinor: number;
  /** Name bytes including the NUL and any NUL padding after it (gen_init_cpio -a). */
  readonly namesize: number;
  readonly check: number;
}

export const fileType = (mode: number): number => mode & S_IFMT;
export const isDir = (mode: number): boolean => fileType(mode) === S_IFDIR;
export const isReg = (mode: number): boolean => fileType(mode) === S_IFREG;
export const isSymlink = (mode: number): boolean => fileType(mode) === S_IFLNK;
/** Types whose entries may carry data: regular files and symlinks. */
export const hasData = (mode: number): boolean => isReg(mode) || isSymlink(mode);

/** Padding after the name, so that data starts 4-aligned (the header itself starts 4-aligned). */
export const namePad = (namesize: number): number => padding(HEADER_SIZE + namesize, 4);
/** Padding after the data. */
export const dataPad = (filesize: number): number => padding(filesize, 4);
/** Bytes of one whole entry (header, name, data and both paddings). */
export const entrySize = (namesize: number, filesize: number): number =>
  HEADER_SIZE + namesize + namePad(namesize) + filesize + dataPad(filesize);

const HEX = new Uint8Array([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46]);

/** Decodes the 110-byte header at `at` in `b`; `base` is the absolute offset of `b` in the image. */
export function decodeHeader(b: Uint8Array, at: number, base: number): CpioHeader {
  if (b.length - at < HEADER_SIZE)
    throw new FormatError('cpio', 'TRUNCATED', base + at, `Cannot read cpio header: need ${HEADER_SIZE} bytes, ${b.length - at} left`);
  let format: CpioFormat;
  if (b[at] === 0x30 && b[at + 1] === 0x37 && b[at + 2] === 0x30 && b[at + 3] === 0x37 && b[at + 4] === 0x30 && (b[at + 5] === 0x31 || b[at + 5] === 0x32))
    format = b[at + 5] === 0x31 ? 'newc' : 'crc';
  else {
    const odc = b[at] === 0x30 && b[at + 1] === 0x37 && b[at + 2] === 0x30 && b[at + 3] === 0x37 && b[at + 4] === 0x30 && b[at + 5] === 0x37;
    throw new FormatError('cpio', odc ? 'UNSUPPORTED' : 'BAD_MAGIC', base + at,
      odc ? 'Cannot parse cpio header: odc (070707) is not a format the kernel reads; use newc' : 'Cannot parse cpio header: magic is not "070701" or "070702"');
  }
  // fields in on-disk order: ino mode uid gid nlink mtime filesize maj min rmaj rmin namesize chksum
  return {
    format,
    ino: hex8(b, at + 6, base, 'ino'),
    mode: hex8(b, at + 14, base, 'mode'),
    uid: hex8(b, at + 22, base, 'uid'),
    gid: hex8(b, at + 30, base, 'gid'),
    nlink: hex8(b, at + 38, base, 'nlink'),
    mtime: hex8(b, at + 46, base, 'mtime'),
    filesize: hex8(b, at + 54, base, 'filesize'),
    devMajor: hex8(b, at + 62, base, 'devmajor'),
    devMinor: hex8(b, at + 70, base, 'devminor'),
    rdevMajor: hex8(b, at + 78, base, 'rdevmajor'),
    rdevMinor: hex8(b, at + 86, base, 'rdevminor'),
    namesize: hex8(b, at + 94, base, 'namesize'),
    check: hex8(b, at + 102, base, 'check'),
  };
}

/** Encodes `h` as 110 bytes at `at` in `out` (upper-case hex, as GNU cpio and gen_init_cpio). */
export function encodeHeader(h: CpioHeader, out: Uint8Array, at = 0): void {
  out[at] = 0x30; out[at + 1] = 0x37; out[at + 2] = 0x30; out[at + 3] = 0x37; out[at + 4] = 0x30; out[at + 5] = h.format === 'crc' ? 0x32 : 0x31;
  put8(out, at + 6, h.ino, 'ino');
  put8(out, at + 14, h.mode, 'mode');
  put8(out, at + 22, h.uid, 'uid');
  put8(out, at + 30, h.gid, 'gid');
  put8(out, at + 38, h.nlink, 'nlink');
  put8(out, at + 46, h.mtime, 'mtime');
  put8(out, at + 54, h.filesize, 'filesize');
  put8(out, at + 62, h.devMajor, 'devmajor');
  put8(out, at + 70, h.devMinor, 'devminor');
  put8(out, at + 78, h.rdevMajor, 'rdevmajor');
  put8(out, at + 86, h.rdevMinor, 'rdevminor');
  put8(out, at + 94, h.namesize, 'namesize');
  put8(out, at + 102, h.check, 'check');
}

function hex8(b: Uint8Array, o: number, base: number, field: string): number {
  let v = 0;
  for (let i = 0; i < 8; i++) {
    const c = b[o + i]! | 0x20; // fold A-F to a-f; digits are unaffected
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (d < 0)
      throw new FormatError('cpio', 'BAD_FIELD', base + o + i, `Cannot parse cpio ${field}: ${shownByte(b[o + i]!)} is not a hex digit`);
    v = v * 16 + d; // not (v << 4) | d: that goes negative at 0x80000000
  }
  return v;
}

function put8(out: Uint8Array, o: number, v: number, field: string): void {
  if (!(v >= 0 && v <= U32_MAX && Number.isInteger(v))) throw new RangeError(`Cannot encode cpio ${field}: ${v} is not a u32`);
  // v is a u32 here: unsigned shifts are exact
  out[o] = HEX[v >>> 28]!;
  out[o + 1] = HEX[(v >>> 24) & 15]!;
  out[o + 2] = HEX[(v >>> 20) & 15]!;
  out[o + 3] = HEX[(v >>> 16) & 15]!;
  out[o + 4] = HEX[(v >>> 12) & 15]!;
  out[o + 5] = HEX[(v >>> 8) & 15]!;
  out[o + 6] = HEX[(v >>> 4) & 15]!;
  out[o + 7] = HEX[v & 15]!;
}

/** The crc format's check: the u32 wrapping sum of the data bytes, continued from `sum`. */
export function byteSum(data: Uint8Array, sum = 0): number {
  let s = 0;
  const n = data.length;
  // partial sums stay below 2^53 for any chunk under 32 PiB; fold once per call
  for (let i = 0; i < n; i++) s += data[i]!;
  return (sum + s) % 0x1_0000_0000;
}

/** `ls -l`-style type letter and permission string for a mode ("drwxr-xr-x"). */
export function modeString(mode: number): string {
  const t = { [S_IFDIR]: 'd', [S_IFLNK]: 'l', [S_IFCHR]: 'c', [S_IFBLK]: 'b', [S_IFIFO]: 'p', [S_IFSOCK]: 's', [S_IFREG]: '-' }[fileType(mode)] ?? '?';
  const rwx = (bits: number, special: number, ch: string): string =>
    `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-'}`;
  return t + rwx((mode >> 6) & 7, mode & 0o4000, 's') + rwx((mode >> 3) & 7, mode & 0o2000, 's') + rwx(mode & 7, mode & 0o1000, 't');
}

export { decodeName, encodeName } from '../bytes/names.js';
