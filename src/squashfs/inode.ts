/**
 * Inodes (inode table). A 16-byte struct squashfs_base_inode, then a per-type body:
 *
 *   1 dir     u32 start_block, u32 nlink, u16 file_size, u16 offset, u32 parent_inode
 *   8 ldir    u32 nlink, u32 file_size, u32 start_block, u32 parent_inode, u16 i_count, u16 offset, u32 xattr,
 *             i_count × {u32 index, u32 start_block, u32 size, u8 name[size + 1]}
 *   2 file    u32 start_block, u32 fragment, u32 offset, u32 file_size, u32 block_list[]
 *   9 lreg    u64 start_block, u64 file_size, u64 sparse, u32 nlink, u32 fragment, u32 offset, u32 xattr, u32 block_list[]
 *   3 symlink u32 nlink, u32 symlink_size, u8 target[symlink_size]          10 lsymlink: + u32 xattr
 *   4/5 dev   u32 nlink, u32 rdev                                           11/12: + u32 xattr
 *   6/7 ipc   u32 nlink                                                     13/14: + u32 xattr
 */
import { FormatError } from '../bytes/errors.js';
import { MetaMiss, MetaSeq, type MetaReader } from './meta.js';
import { blockCount, FORMAT, INODE, NAME_MAX, NO_FRAGMENT, NO_XATTR, SYMLINK_MAX, TYPE_KIND, type FileKind, type MetaRef } from './layout.js';

/** One directory index entry: where a header sits in the listing, and the first name after it. */
export interface DirIndexEntry {
  /** Byte offset of the header in the directory's listing. */
  readonly index: number;
  /** Directory-table block (relative) holding that header. */
  readonly startBlock: number;
  readonly name: Uint8Array;
}

/** A decoded inode. Which fields are set depends on `kind`; `extended` tells basic from extended form. */
export interface SquashfsInode {
  readonly type: number;
  readonly kind: FileKind;
  readonly extended: boolean;
  /** Permission bits, including setuid/setgid/sticky (no S_IFMT). */
  readonly mode: number;
  readonly uidIndex: number;
  readonly gidIndex: number;
  readonly mtime: number;
  readonly inodeNumber: number;
  readonly nlink: number;
  /** Xattr id, or undefined. */
  readonly xattr: number | undefined;
  /** Directory: listing position, `size` = listing bytes + 3, parent inode number, index. */
  readonly startBlock: number;
  readonly offset: number;
  readonly size: number;
  readonly parent: number;
  readonly index: readonly DirIndexEntry[];
  /** File: fragment index (undefined when none) and offset in the fragment block, block size words, sparse bytes. */
  readonly fragment: number | undefined;
  readonly fragmentOffset: number;
  readonly blocks: readonly number[];
  /**
   * File: how many blocks the list has. `blocks` holds them when there are at most
   * {@link EAGER_BLOCKS}; a longer list is left in the inode table at `blockList` (then `blocks` is
   * empty), and read a piece at a time when the data is read (`Squashfs.blockRuns`): a sparse
   * multi-TiB file's list takes gigabytes decoded and a few kilobytes on disk.
   */
  readonly blockCount: number;
  readonly blockList: MetaRef | undefined;
  readonly sparse: number;
  /** Symlink target. */
  readonly target: Uint8Array | undefined;
  /** Device number, Linux new encoding. */
  readonly rdev: number;
}

export const BASE_SIZE = 16;

/**
 * Block lists at least this long are kept decoded, or remembered as checked, for the next name of
 * their inode; a shorter one is read again faster than it is kept.
 */
export const LONG_BLOCK_LIST = 256;

/** Block lists up to this long (256 KiB; 8 GiB of data in 128 KiB blocks) are read with their inode. */
export const EAGER_BLOCKS = 1 << 16;

/** How many blocks a file's list has, held in `blocks` or left in the inode table. */
export const blockListLength = (i: SquashfsInode): number => (i.blockList === undefined ? i.blocks.length : i.blockCount);

const opt = (v: number, none: number): number | undefined => (v === none ? undefined : v);

function u64(dv: DataView, p: number, what: string, at: number): number {
  const hi = dv.getUint32(p + 4, true);
  if (hi >= 0x20_0000) throw new FormatError(FORMAT, 'LIMIT', at, `Cannot read ${what}: value exceeds 2^53`);
  return hi * 0x1_0000_0000 + dv.getUint32(p, true);
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * Decodes the inode at `ref` of the inode table that `s` reads, synchronously: a block that is not
 * in memory is a {@link MetaMiss} (see {@link decodeInode}). `blockSize` gives the length of a file's block list.
 */
export function decodeInodeAt(s: MetaSeq, ref: MetaRef, blockSize: number): SquashfsInode {
  s.seek(ref);
  let p = s.take(BASE_SIZE, 'inode header');
  let dv = s.dv;
  const at = s.at;
  const type = dv.getUint16(p, true), mode = dv.getUint16(p + 2, true), uidIndex = dv.getUint16(p + 4, true), gidIndex = dv.getUint16(p + 6, true);
  const mtime = dv.getUint32(p + 8, true), inodeNumber = dv.getUint32(p + 12, true);
  const kind = TYPE_KIND[type > 7 ? type - 7 : type];
  if (kind === undefined || type > 14) throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot parse inode: type ${type} is not 1..14`);
  if (mode > 0o7777) throw new FormatError(FORMAT, 'BAD_FIELD', at + 2, `Cannot parse inode: mode 0o${mode.toString(8)} has type bits`);
  let nlink = 1, xattr: number | undefined, startBlock = 0, offset = 0, size = 0, parent = 0, index: readonly DirIndexEntry[] = NONE;
  let fragment: number | undefined, fragmentOffset = 0, blocks: readonly number[] = NONE, sparse = 0, count = 0, blockList: MetaRef | undefined, target: Uint8Array | undefined, rdev = 0;
  switch (type) {
    case INODE.DIR:
      p = s.take(16, 'directory inode');
      dv = s.dv;
      startBlock = dv.getUint32(p, true); nlink = dv.getUint32(p + 4, true); size = dv.getUint16(p + 8, true); offset = dv.getUint16(p + 10, true); parent = dv.getUint32(p + 12, true);
      break;
    case INODE.LDIR: {
      p = s.take(24, 'extended directory inode');
      dv = s.dv;
      nlink = dv.getUint32(p, true); size = dv.getUint32(p + 4, true); startBlock = dv.getUint32(p + 8, true); parent = dv.getUint32(p + 12, true);
      const count = dv.getUint16(p + 16, true);
      offset = dv.getUint16(p + 18, true); xattr = opt(dv.getUint32(p + 20, true), NO_XATTR);
      const list: DirIndexEntry[] = [];
      for (let i = 0; i < count; i++) {
        p = s.take(12, 'directory index');
        dv = s.dv;
        const index = dv.getUint32(p, true), startBlock = dv.getUint32(p + 4, true), nameSize = dv.getUint32(p + 8, true) + 1;
        if (nameSize > NAME_MAX) throw new FormatError(FORMAT, 'BAD_FIELD', s.at + 8, `Cannot parse directory index: name size ${nameSize} exceeds ${NAME_MAX}`);
        p = s.take(nameSize, 'directory index name');
        list.push({ index, startBlock, name: s.bytes.slice(p, p + nameSize) });
      }
      index = list;
      break;
    }
    case INODE.FILE:
    case INODE.LREG: {
      if (type === INODE.FILE) {
        p = s.take(16, 'file inode');
        dv = s.dv;
        startBlock = dv.getUint32(p, true); fragment = opt(dv.getUint32(p + 4, true), NO_FRAGMENT); fragmentOffset = dv.getUint32(p + 8, true); size = dv.getUint32(p + 12, true);
      } else {
        p = s.take(40, 'extended file inode');
        dv = s.dv;
        startBlock = u64(dv, p, 'start block', s.at + p); size = u64(dv, p + 8, 'file size', s.at + p + 8); sparse = u64(dv, p + 16, 'sparse bytes', s.at + p + 16);
        nlink = dv.getUint32(p + 24, true); fragment = opt(dv.getUint32(p + 28, true), NO_FRAGMENT); fragmentOffset = dv.getUint32(p + 32, true); xattr = opt(dv.getUint32(p + 36, true), NO_XATTR);
      }
      const n = blockCount(size, blockSize, fragment !== undefined);
      // each metadata block on disk (2-byte header and at least one byte) unpacks to at most 8 KiB:
      // a sparse multi-GiB file's block list of zeros compresses far below its 4 bytes per block
      if (n * 4 > Math.ceil((s.end - s.start) / 3) * 8192 + 4 * 8192) throw new FormatError(FORMAT, 'LIMIT', at, `Cannot parse file inode: ${n} blocks cannot fit in the inode table`);
      count = n;
      if (n > EAGER_BLOCKS) blockList = { block: s.block, offset: s.offset };
      else if (n > 0) {
        p = s.take(n * 4, 'block list');
        dv = s.dv;
        const list = new Array<number>(n);
        for (let i = 0; i < n; i++) list[i] = dv.getUint32(p + i * 4, true);
        blocks = list;
      }
      break;
    }
    case INODE.SYMLINK:
    case INODE.LSYMLINK: {
      p = s.take(8, 'symlink inode');
      dv = s.dv;
      nlink = dv.getUint32(p, true);
      const n = dv.getUint32(p + 4, true);
      if (n > SYMLINK_MAX) throw new FormatError(FORMAT, 'LIMIT', s.at + 4, `Cannot parse symlink inode: target size ${n} exceeds ${SYMLINK_MAX}`);
      p = s.take(n, 'symlink target');
      target = s.bytes.slice(p, p + n);
      if (type === INODE.LSYMLINK) {
        p = s.take(4, 'symlink xattr');
        xattr = opt(s.dv.getUint32(p, true), NO_XATTR);
      }
      break;
    }
    case INODE.BLKDEV: case INODE.CHRDEV: case INODE.LBLKDEV: case INODE.LCHRDEV: {
      const ext = type > 7;
      p = s.take(ext ? 12 : 8, 'device inode');
      dv = s.dv;
      nlink = dv.getUint32(p, true); rdev = dv.getUint32(p + 4, true);
      if (ext) xattr = opt(dv.getUint32(p + 8, true), NO_XATTR);
      break;
    }
    default: {
      const ext = type > 7;
      p = s.take(ext ? 8 : 4, 'ipc inode');
      dv = s.dv;
      nlink = dv.getUint32(p, true);
      if (ext) xattr = opt(dv.getUint32(p + 4, true), NO_XATTR);
    }
  }
  return {
    type, kind, extended: type > 7, mode, uidIndex, gidIndex, mtime, inodeNumber,
    nlink, xattr, startBlock, offset, size, parent, index, fragment, fragmentOffset, blocks, blockCount: count, blockList, sparse, target, rdev,
  };
}

/** Decodes the inode at `ref` of the table `[start, end)`, reading the blocks it needs. */
export async function decodeInode(meta: MetaReader, start: number, end: number, ref: MetaRef, blockSize: number): Promise<SquashfsInode> {
  const s = new MetaSeq(meta, start, end);
  for (;;) {
    try {
      return decodeInodeAt(s, ref, blockSize);
    } catch (e) {
      if (!(e instanceof MetaMiss)) throw e;
      await s.load(e);
    }
  }
}

/**
 * Decoded inodes by reference (as `refToNumber` gives it), so that the names of one inode (hard
 * links, or a hostile image's thousand names for one huge file) decode and check its block list
 * once. Emptied when it would pass `maxEntries` inodes or `maxBlocks` block-list entries held
 * together, then takes the newest whatever its size: cheaper than evicting one at a time (every
 * operation on a Map slows down while it is emptied from the front).
 */
export class InodeCache {
  readonly #map = new Map<number, SquashfsInode>();
  #blocks = 0;
  constructor(
    readonly maxEntries: number,
    readonly maxBlocks: number,
  ) {}

  get(key: number): SquashfsInode | undefined {
    return this.#map.get(key);
  }

  /** Keeps `i` under `key`; returns it. */
  set(key: number, i: SquashfsInode): SquashfsInode {
    this.#blocks -= this.#map.get(key)?.blocks.length ?? 0;
    if (this.#map.size >= this.maxEntries || this.#blocks + i.blocks.length > this.maxBlocks) {
      this.#map.clear();
      this.#blocks = 0;
    }
    this.#map.set(key, i);
    this.#blocks += i.blocks.length;
    return i;
  }
}

/** What the writer knows about an inode; the encoder picks the basic or extended form from `type`. */
export type InodeFields = Pick<SquashfsInode, 'type' | 'mode' | 'uidIndex' | 'gidIndex' | 'mtime' | 'inodeNumber' | 'nlink' | 'xattr' | 'startBlock' | 'offset' | 'size' | 'parent' | 'index' | 'fragment' | 'fragmentOffset' | 'blocks' | 'sparse' | 'target' | 'rdev'>;

/** Little-endian stores at `p`; each returns the position after. */
const put16 = (dv: DataView, p: number, n: number): number => (dv.setUint16(p, n, true), p + 2);
const put32 = (dv: DataView, p: number, n: number): number => (dv.setUint32(p, n, true), p + 4);
const put64 = (dv: DataView, p: number, n: number): number => (dv.setUint32(p, n % 0x1_0000_0000, true), dv.setUint32(p + 4, Math.floor(n / 0x1_0000_0000), true), p + 8);

/** Encodes an inode; the mirror of {@link decodeInode}, fields in the same order. */
export function encodeInode(v: InodeFields): Uint8Array {
  const x = v.xattr ?? NO_XATTR;
  let body: number;
  switch (v.type) {
    case INODE.DIR: body = 16; break;
    case INODE.LDIR: body = 24 + v.index.reduce((n, e) => n + 12 + e.name.length, 0); break;
    case INODE.FILE: body = 16 + 4 * v.blocks.length; break;
    case INODE.LREG: body = 40 + 4 * v.blocks.length; break;
    case INODE.SYMLINK: body = 8 + v.target!.length; break;
    case INODE.LSYMLINK: body = 12 + v.target!.length; break;
    case INODE.BLKDEV: case INODE.CHRDEV: body = 8; break;
    case INODE.LBLKDEV: case INODE.LCHRDEV: body = 12; break;
    case INODE.FIFO: case INODE.SOCKET: body = 4; break;
    case INODE.LFIFO: case INODE.LSOCKET: body = 8; break;
    default: throw new RangeError(`Cannot encode inode: type ${v.type}`);
  }
  const out = new Uint8Array(BASE_SIZE + body);
  const dv = new DataView(out.buffer);
  // plain calls, no closures over the position: one inode per file of a large tree
  let p = put16(dv, 0, v.type);
  p = put16(dv, p, v.mode);
  p = put16(dv, p, v.uidIndex);
  p = put16(dv, p, v.gidIndex);
  p = put32(dv, p, v.mtime);
  p = put32(dv, p, v.inodeNumber);
  switch (v.type) {
    case INODE.DIR: p = put32(dv, p, v.startBlock); p = put32(dv, p, v.nlink); p = put16(dv, p, v.size); p = put16(dv, p, v.offset); put32(dv, p, v.parent); break;
    case INODE.LDIR:
      p = put32(dv, p, v.nlink); p = put32(dv, p, v.size); p = put32(dv, p, v.startBlock); p = put32(dv, p, v.parent); p = put16(dv, p, v.index.length); p = put16(dv, p, v.offset); p = put32(dv, p, x);
      for (const e of v.index) { p = put32(dv, p, e.index); p = put32(dv, p, e.startBlock); p = put32(dv, p, e.name.length - 1); out.set(e.name, p); p += e.name.length; }
      break;
    case INODE.FILE:
    case INODE.LREG:
      if (v.type === INODE.FILE) { p = put32(dv, p, v.startBlock); p = put32(dv, p, v.fragment ?? NO_FRAGMENT); p = put32(dv, p, v.fragmentOffset); p = put32(dv, p, v.size); }
      else { p = put64(dv, p, v.startBlock); p = put64(dv, p, v.size); p = put64(dv, p, v.sparse); p = put32(dv, p, v.nlink); p = put32(dv, p, v.fragment ?? NO_FRAGMENT); p = put32(dv, p, v.fragmentOffset); p = put32(dv, p, x); }
      for (const b of v.blocks) p = put32(dv, p, b);
      break;
    case INODE.SYMLINK: case INODE.LSYMLINK:
      p = put32(dv, p, v.nlink); p = put32(dv, p, v.target!.length); out.set(v.target!, p); p += v.target!.length;
      if (v.type === INODE.LSYMLINK) put32(dv, p, x);
      break;
    case INODE.BLKDEV: case INODE.CHRDEV: p = put32(dv, p, v.nlink); put32(dv, p, v.rdev); break;
    case INODE.LBLKDEV: case INODE.LCHRDEV: p = put32(dv, p, v.nlink); p = put32(dv, p, v.rdev); put32(dv, p, x); break;
    case INODE.FIFO: case INODE.SOCKET: put32(dv, p, v.nlink); break;
    default: p = put32(dv, p, v.nlink); put32(dv, p, x);
  }
  return out;
}
