/**
 * SquashFS 4.0, little-endian: constants, the superblock table and the offset/size math shared by
 * reader and writer. Sources: Linux fs/squashfs/squashfs_fs.h (structs, flag bits, macros),
 * squashfs-tools-ng doc/format.adoc, squashfs-tools 4.5.1 mksquashfs.c (what the reference writer emits).
 *
 *   +------------+ 0
 *   | superblock | 96 bytes, struct squashfs_super_block
 *   +------------+ 96
 *   | comp opts  | optional uncompressed metadata block (flag COMP_OPTS)
 *   +------------+
 *   | data and   | file blocks (u32 size words, bit 24 = stored), fragment blocks
 *   | fragments  |
 *   +------------+ inodeTableStart
 *   | inodes     | metadata blocks: u16 header (bit 15 = stored, low 15 bits = length) + ≤ 8 KiB
 *   | dirs       | metadata blocks                                       directoryTableStart
 *   | fragments  | entries in metadata blocks, then u64 index            fragmentTableStart → index
 *   | export     | same, 8 bytes per inode                               lookupTableStart → index
 *   | ids        | same, 4 bytes per id                                  idTableStart → index
 *   | xattrs     | kv blocks, id blocks, {u64 kv start,u32 ids,u32 0}, index   xattrIdTableStart → header
 *   +------------+ bytesUsed, then zero padding to 4 KiB unless -nopad
 */
import { struct } from '../bytes/struct.js';

export const FORMAT = 'squashfs';

/** s_magic: "hsqs" read as a u32le. */
export const SQUASHFS_MAGIC = 0x7371_7368;
export const SUPERBLOCK_SIZE = 96;
/** Uncompressed size of every metadata block but the last of a table (SQUASHFS_METADATA_SIZE). */
export const METADATA_SIZE = 8192;
/** Metadata block header bit: payload stored uncompressed (SQUASHFS_COMPRESSED_BIT). */
export const META_UNCOMPRESSED = 0x8000;
/** Data block size word bit: block stored uncompressed (SQUASHFS_COMPRESSED_BIT_BLOCK). */
export const BLOCK_UNCOMPRESSED = 1 << 24;
/** All-ones 64-bit table offset: table absent (SQUASHFS_INVALID_BLK). */
export const INVALID_BLK = 2 ** 64 - 1; // compared only after decoding to undefined
export const NO_FRAGMENT = 0xffff_ffff;
export const NO_XATTR = 0xffff_ffff;
export const MIN_BLOCK_LOG = 12;
export const MAX_BLOCK_LOG = 20;
/** SQUASHFS_NAME_LEN. */
export const NAME_MAX = 256;
/** Directory levels below the root that the writer makes and the readers walk (deeper is refused). */
export const MAX_DEPTH = 4096;
/** SQUASHFS_DIR_COUNT: entries per directory header. */
export const DIR_COUNT = 256;
/** squashfs-tools' SQUASHFS_SYMLINK_MAX-ish bound; the kernel caps targets at PAGE_SIZE on read. */
export const SYMLINK_MAX = 65_535;

/** Superblock flags (SQUASHFS_NOI … SQUASHFS_COMP_OPT bit positions, format.adoc values). */
export const FLAG = {
  UNCOMPRESSED_INODES: 0x0001,
  UNCOMPRESSED_DATA: 0x0002,
  CHECK: 0x0004,
  UNCOMPRESSED_FRAGMENTS: 0x0008,
  NO_FRAGMENTS: 0x0010,
  ALWAYS_FRAGMENTS: 0x0020,
  DUPLICATES: 0x0040,
  EXPORTABLE: 0x0080,
  UNCOMPRESSED_XATTRS: 0x0100,
  NO_XATTRS: 0x0200,
  COMPRESSOR_OPTIONS: 0x0400,
  UNCOMPRESSED_IDS: 0x0800,
} as const;

/** Compressor ids (squashfs_fs.h *_COMPRESSION). */
export const COMPRESSOR = { gzip: 1, lzma: 2, lzo: 3, xz: 4, lz4: 5, zstd: 6 } as const;
export type CompressorName = keyof typeof COMPRESSOR;
export const compressorName = (id: number): CompressorName | undefined =>
  (Object.keys(COMPRESSOR) as CompressorName[]).find((k) => COMPRESSOR[k] === id);

/** Inode types (squashfs_fs.h SQUASHFS_*_TYPE); extended = basic + 7. */
export const INODE = {
  DIR: 1, FILE: 2, SYMLINK: 3, BLKDEV: 4, CHRDEV: 5, FIFO: 6, SOCKET: 7,
  LDIR: 8, LREG: 9, LSYMLINK: 10, LBLKDEV: 11, LCHRDEV: 12, LFIFO: 13, LSOCKET: 14,
} as const;

export type FileKind = 'dir' | 'file' | 'symlink' | 'blockdev' | 'chardev' | 'fifo' | 'socket';
/** Basic type code (1–7) per kind, as directory entries store it. */
export const KIND_TYPE: Readonly<Record<FileKind, number>> = { dir: 1, file: 2, symlink: 3, blockdev: 4, chardev: 5, fifo: 6, socket: 7 };
export const TYPE_KIND: readonly (FileKind | undefined)[] = [undefined, 'dir', 'file', 'symlink', 'blockdev', 'chardev', 'fifo', 'socket'];
/** S_IFMT bits per kind. */
export const KIND_IFMT: Readonly<Record<FileKind, number>> = {
  dir: 0o040000, file: 0o100000, symlink: 0o120000, blockdev: 0o060000, chardev: 0o020000, fifo: 0o010000, socket: 0o140000,
};

/** Xattr name prefixes by type & 0xff (SQUASHFS_XATTR_USER/TRUSTED/SECURITY); type bit 0x100 = value out of line. */
export const XATTR_PREFIXES = ['user.', 'trusted.', 'security.'] as const;
export const XATTR_VALUE_OOL = 0x100;

/** struct squashfs_super_block, 96 bytes. */
export const Superblock = struct(FORMAT, 'superblock', {
  magic: 'u32le', //             0x00 s_magic: SQUASHFS_MAGIC
  inodes: 'u32le', //            0x04 inodes: inode count
  mkfsTime: 'u32le', //          0x08 mkfs_time: seconds since the epoch
  blockSize: 'u32le', //         0x0c block_size: 4 KiB … 1 MiB, a power of two
  fragments: 'u32le', //         0x10 fragments: fragment table entries
  compression: 'u16le', //       0x14 compression: COMPRESSOR id
  blockLog: 'u16le', //          0x16 block_log: log2(block_size)
  flags: 'u16le', //             0x18 flags: FLAG bits
  noIds: 'u16le', //             0x1a no_ids: id table entries
  major: 'u16le', //             0x1c s_major: 4
  minor: 'u16le', //             0x1e s_minor: 0
  rootInode: 'u64le', //         0x20 root_inode: inode reference
  bytesUsed: 'u64le', //         0x28 bytes_used: end of the image before padding
  idTableStart: 'u64le', //      0x30 id_table_start: index of the id table
  xattrIdTableStart: { bytes: 8 }, // 0x38 xattr_id_table_start: ~0 when absent
  inodeTableStart: 'u64le', //   0x40 inode_table_start
  directoryTableStart: 'u64le', // 0x48 directory_table_start
  fragmentTableStart: { bytes: 8 }, // 0x50 fragment_table_start: ~0 when absent (squashfs-tools-ng)
  lookupTableStart: { bytes: 8 }, // 0x58 lookup_table_start: export table index, ~0 when absent
});

/** A metadata reference: the metadata block's offset from its table start, and the offset in the uncompressed block. */
export interface MetaRef {
  readonly block: number;
  readonly offset: number;
}
export const refToNumber = (r: MetaRef): number => r.block * 0x1_0000 + r.offset;
export const refFromNumber = (n: number): MetaRef => ({ block: Math.floor(n / 0x1_0000), offset: n % 0x1_0000 });

/** Number of full data blocks a file stores (the tail goes in a fragment when it has one). */
export function blockCount(fileSize: number, blockSize: number, hasFragment: boolean): number {
  return hasFragment ? Math.floor(fileSize / blockSize) : Math.ceil(fileSize / blockSize);
}

/** Linux new_encode_dev: minor bits 0–7, major bits 8–19, minor bits 8–19 at 20–31. */
export function encodeRdev(major: number, minor: number): number {
  return (minor % 256) + (major % 4096) * 256 + Math.floor((minor % 2 ** 20) / 256) * 2 ** 20;
}
export function decodeRdev(rdev: number): { major: number; minor: number } {
  return { major: Math.floor(rdev / 256) % 4096, minor: (rdev % 256) + Math.floor(rdev / 2 ** 20) * 256 };
}

/** Number of metadata blocks (and u64 index entries) of a lookup table of `count` entries of `size` bytes. */
export const lookupBlocks = (count: number, size: number): number => Math.ceil((count * size) / METADATA_SIZE);

/** Entry sizes of the lookup tables. */
export const FRAGMENT_ENTRY_SIZE = 16;
export const EXPORT_ENTRY_SIZE = 8;
export const ID_ENTRY_SIZE = 4;
export const XATTR_ID_ENTRY_SIZE = 16;

/** The low 24 bits of a data or fragment block size word: bytes on disk. */
export const blockDiskSize = (word: number): number => word % BLOCK_UNCOMPRESSED;
export const blockIsStored = (word: number): boolean => Math.floor(word / BLOCK_UNCOMPRESSED) % 2 === 1;
