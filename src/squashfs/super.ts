/**
 * The superblock: decoding with the checks the kernel's squashfs_fill_super() makes (magic,
 * version, block size and log, table order), and encoding. Absent tables (~0) decode to undefined.
 */
import { FormatError } from '../bytes/errors.js';
import { COMPRESSOR, compressorName, FLAG, FORMAT, MAX_BLOCK_LOG, METADATA_SIZE, MIN_BLOCK_LOG, refFromNumber, SQUASHFS_MAGIC, Superblock, SUPERBLOCK_SIZE, type CompressorName, type MetaRef } from './layout.js';

export interface SquashfsSuperblock {
  readonly inodes: number;
  readonly mkfsTime: number;
  readonly blockSize: number;
  readonly blockLog: number;
  readonly fragments: number;
  readonly compression: CompressorName;
  readonly flags: number;
  readonly noIds: number;
  readonly major: number;
  readonly minor: number;
  readonly rootInode: MetaRef;
  readonly bytesUsed: number;
  readonly idTableStart: number;
  readonly xattrIdTableStart: number | undefined;
  readonly inodeTableStart: number;
  readonly directoryTableStart: number;
  readonly fragmentTableStart: number | undefined;
  readonly lookupTableStart: number | undefined;
}

/** A u64 that may be all ones (absent), as a number below 2^53. */
function u64OrAbsent(b: Uint8Array, at: number, what: string): number | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, 8);
  const lo = dv.getUint32(0, true), hi = dv.getUint32(4, true);
  if (lo === 0xffff_ffff && hi === 0xffff_ffff) return undefined;
  if (hi >= 0x20_0000) throw new FormatError(FORMAT, 'LIMIT', at, `Cannot read superblock ${what}: value exceeds 2^53`);
  return hi * 0x1_0000_0000 + lo;
}

function u64To(b: Uint8Array, v: number | undefined): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset, 8);
  if (v === undefined) b.fill(0xff);
  else {
    dv.setUint32(0, v % 0x1_0000_0000, true);
    dv.setUint32(4, Math.floor(v / 0x1_0000_0000), true);
  }
  return b;
}

/** Decodes and validates the 96-byte superblock; `size` is the bytes available for the image. */
export function decodeSuperblock(bytes: Uint8Array, size: number): SquashfsSuperblock {
  if (bytes.length >= 4) {
    const magic = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
    if (magic !== SQUASHFS_MAGIC) {
      const be = magic === 0x6873_7173 ? ' (a big-endian image, which this reader does not support)' : '';
      throw new FormatError(FORMAT, magic === 0x6873_7173 ? 'UNSUPPORTED' : 'BAD_MAGIC', 0, `Cannot parse superblock: magic is not "hsqs"${be}`);
    }
  }
  const s = Superblock.decode(bytes);
  const off = Superblock.offsets;
  const bad = (field: keyof typeof off, what: string, code: 'BAD_FIELD' | 'UNSUPPORTED' | 'TRUNCATED' = 'BAD_FIELD') =>
    new FormatError(FORMAT, code, off[field], `Cannot parse superblock: ${what}`);
  if (s.major !== 4 || s.minor !== 0) throw bad('major', `version ${s.major}.${s.minor} is not 4.0`, 'UNSUPPORTED');
  const compression = compressorName(s.compression);
  if (!compression) throw bad('compression', `compressor id ${s.compression} is unknown`, 'UNSUPPORTED');
  if (s.blockLog < MIN_BLOCK_LOG || s.blockLog > MAX_BLOCK_LOG) throw bad('blockLog', `block log ${s.blockLog} is outside ${MIN_BLOCK_LOG}..${MAX_BLOCK_LOG}`);
  if (s.blockSize !== 2 ** s.blockLog) throw bad('blockSize', `block size ${s.blockSize} is not 2^${s.blockLog}`);
  if (s.inodes === 0) throw bad('inodes', 'inode count is 0');
  if (s.noIds === 0) throw bad('noIds', 'id count is 0');
  if (s.bytesUsed > size) throw bad('bytesUsed', `bytes used ${s.bytesUsed} exceed the ${size} bytes available`, 'TRUNCATED');
  if (s.bytesUsed < SUPERBLOCK_SIZE) throw bad('bytesUsed', `bytes used ${s.bytesUsed} are fewer than the superblock`);
  const xattrIdTableStart = u64OrAbsent(s.xattrIdTableStart, off.xattrIdTableStart, 'xattr table start');
  const fragmentTableStart = u64OrAbsent(s.fragmentTableStart, off.fragmentTableStart, 'fragment table start');
  const lookupTableStart = u64OrAbsent(s.lookupTableStart, off.lookupTableStart, 'export table start');
  const dataStart = SUPERBLOCK_SIZE;
  // the order the kernel insists on: data < inodes < directories < fragments < export < ids < xattrs
  const order: [keyof typeof off, number | undefined][] = [
    ['inodeTableStart', s.inodeTableStart], ['directoryTableStart', s.directoryTableStart],
    ['fragmentTableStart', s.fragments > 0 ? fragmentTableStart : undefined], ['lookupTableStart', lookupTableStart],
    ['idTableStart', s.idTableStart], ['xattrIdTableStart', xattrIdTableStart],
  ];
  let prev = dataStart;
  for (const [k, v] of order) {
    if (v === undefined) continue;
    if (v < prev || v >= s.bytesUsed) throw bad(k, `table offset 0x${v.toString(16)} is outside 0x${prev.toString(16)}..0x${s.bytesUsed.toString(16)} (tables out of order)`);
    prev = v;
  }
  if (s.directoryTableStart === s.inodeTableStart) throw bad('directoryTableStart', 'the inode table is empty');
  if (s.fragments > 0 && fragmentTableStart === undefined) throw bad('fragmentTableStart', `${s.fragments} fragments but no fragment table`);
  const rootInode = refFromNumber(s.rootInode);
  if (rootInode.offset >= METADATA_SIZE || s.inodeTableStart + rootInode.block >= s.directoryTableStart)
    throw bad('rootInode', 'root inode reference is outside the inode table');
  return {
    inodes: s.inodes, mkfsTime: s.mkfsTime, blockSize: s.blockSize, blockLog: s.blockLog, fragments: s.fragments, compression,
    flags: s.flags, noIds: s.noIds, major: s.major, minor: s.minor, rootInode, bytesUsed: s.bytesUsed, idTableStart: s.idTableStart,
    xattrIdTableStart, inodeTableStart: s.inodeTableStart, directoryTableStart: s.directoryTableStart, fragmentTableStart, lookupTableStart,
  };
}

export function encodeSuperblock(v: SquashfsSuperblock): Uint8Array {
  return Superblock.encode({
    magic: SQUASHFS_MAGIC, inodes: v.inodes, mkfsTime: v.mkfsTime, blockSize: v.blockSize, fragments: v.fragments,
    compression: COMPRESSOR[v.compression], blockLog: v.blockLog, flags: v.flags, noIds: v.noIds, major: 4, minor: 0,
    rootInode: v.rootInode.block * 0x1_0000 + v.rootInode.offset, bytesUsed: v.bytesUsed, idTableStart: v.idTableStart,
    xattrIdTableStart: u64To(new Uint8Array(8), v.xattrIdTableStart), inodeTableStart: v.inodeTableStart,
    directoryTableStart: v.directoryTableStart, fragmentTableStart: u64To(new Uint8Array(8), v.fragmentTableStart),
    lookupTableStart: u64To(new Uint8Array(8), v.lookupTableStart),
  });
}

/** Names of the set flags, as unsquashfs -s words them. */
export function flagNames(flags: number): string[] {
  return (Object.keys(FLAG) as (keyof typeof FLAG)[]).filter((k) => flags & FLAG[k]);
}
