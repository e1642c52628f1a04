/**
 * Random-access reader: `openSquashfs(ra)` reads the superblock and table indexes; inodes,
 * directories, fragments and data blocks are read on demand and cached. Nothing loads the whole
 * image. Every offset and length taken from the image is checked against the table it must lie in.
 */
import { FormatError } from '../bytes/errors.js';
import { decodeName, encodeName } from '../bytes/names.js';
import { limit } from '../bytes/limits.js';
import { readAtNow, type RandomAccess } from '../bytes/random.js';
import { blockCodec, decodeCompressorOptions, type BlockCodec, type CompressorOptions } from './compressor.js';
import type { BlockDecoder } from './decode-pool.js';
import { readDirectory, readDirectoryAt, type DirEntry } from './dir.js';
import { decodeFragmentEntry, type FragmentEntry } from './fragment.js';
import { blockListLength, decodeInode, decodeInodeAt, InodeCache, LONG_BLOCK_LIST, type SquashfsInode } from './inode.js';
import {
  blockDiskSize, blockIsStored, decodeRdev, EXPORT_ENTRY_SIZE, FLAG, FORMAT, FRAGMENT_ENTRY_SIZE, ID_ENTRY_SIZE, KIND_IFMT,
  MAX_DEPTH, META_UNCOMPRESSED, METADATA_SIZE, refFromNumber, refToNumber, SUPERBLOCK_SIZE, XATTR_ID_ENTRY_SIZE, type FileKind, type MetaRef,
} from './layout.js';
import { MetaMiss, MetaReader, MetaSeq } from './meta.js';
import { decodeSuperblock, type SquashfsSuperblock } from './super.js';
import { LookupTable } from './table.js';
import { readXattrs, type Xattr } from './xattr.js';

export interface OpenOptions {
  /** Where the image starts inside `ra` (firmware with a squashfs at an offset). Default 0. */
  offset?: number;
  /** Largest file `readFile` returns in one buffer (default 1 GiB); use createReadStream beyond. */
  maxFileSize?: number;
  /**
   * Most bytes of decoded inode and directory tables that {@link Squashfs.preload} keeps in memory
   * (default 64 MiB); the rest is read a block at a time, when needed.
   */
  maxTableBytes?: number;
  /** Bytes of decoded fragment blocks kept for the next files' tails (default 32 MiB, at least one block). */
  fragmentCacheBytes?: number;
}

/** A path of the image, as {@link Squashfs.walk} yields it. */
export interface WalkEntry {
  /** "/" for the root, else "/a/b". */
  readonly path: string;
  readonly inode: SquashfsInode;
  /** The last part of the path, as bytes (names need not be UTF-8). */
  readonly name: Uint8Array;
}

/** One data block of a regular file. */
export interface DataBlock {
  /** Absolute offset in the image. */
  readonly at: number;
  /** Size word: bytes on disk (0 = a sparse block, all zeros), bit 24 = stored uncompressed. */
  readonly word: number;
  /** Bytes of the file it holds: the block size, less for the last one. */
  readonly size: number;
}

/** A stretch of a file's block list: `words[k]` is the size word of block `first + k`, and block `first` starts at `pos`. */
export interface BlockRun {
  readonly first: number;
  readonly pos: number;
  readonly words: ArrayLike<number>;
}

/** Where a long block list has been read to: block `index`'s word at `ref`, its data at `pos`, and whether a block before it holds data. */
interface ListMark {
  readonly index: number;
  readonly ref: MetaRef;
  readonly pos: number;
  readonly stored: boolean;
}

/** Words of a long block list read at a time (32 KiB), and how often (in blocks) where it was read to is kept. */
const RUN_WORDS = 8192;
const MARK_EVERY = 4 * RUN_WORDS;
/** Long lists whose marks are kept at once; more, and all are forgotten. */
const MARKED_LISTS = 64;
/** Most words of a long block list held as an array, as appending keeps them: 2 TiB in 128 KiB blocks, 128 MiB of array. */
const MAX_HELD_BLOCKS = 1 << 24;

/** stat(2)-like view of an inode. */
export interface SquashfsStat {
  readonly kind: FileKind;
  /** Full st_mode: type bits and permissions. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  readonly size: number;
  readonly nlink: number;
  readonly inodeNumber: number;
  readonly major: number;
  readonly minor: number;
  readonly inode: SquashfsInode;
}

const te = new TextEncoder();

/** Decoded inodes kept by reference, and block-list entries they may hold together (32 MiB as numbers). */
const INODE_CACHE = 4096;
const INODE_CACHE_BLOCKS = 1 << 22;
/** Block-list entries a walk chunk may hold (each inode counted once), past which it is handed over early. */
const CHUNK_BLOCKS = 1 << 20;

/** An open image. Methods take image paths ("/a/b", "a/b") or already-read inodes. */
export class Squashfs {
  readonly meta: MetaReader;
  readonly #inodes = new InodeCache(INODE_CACHE, INODE_CACHE_BLOCKS);
  readonly #loading = new Map<number, Promise<SquashfsInode>>();
  readonly #marks = new Map<number, ListMark[]>();
  /** The piece of a long block list {@link blockAt} read last, and where its blocks start. */
  #piece: { key: number; first: number; words: ArrayLike<number>; starts: Float64Array } | undefined;
  readonly #dirs = new Map<string, Promise<DirEntry[]>>();
  readonly #frags = new Map<number, Promise<Uint8Array> | Uint8Array>();
  readonly #fragCacheSize: number;
  /** How many decoded fragment blocks the cache holds (`fragmentCacheBytes` over the block size, at least 1). */
  get fragmentCacheBlocks(): number {
    return this.#fragCacheSize;
  }
  readonly #inodeSeq: MetaSeq;
  readonly #dirSeq: MetaSeq;
  #preloaded: Promise<void> | undefined;
  #idValues: number[] | undefined;
  /**
   * Where data and fragment blocks are decompressed (worker threads, for reading everything);
   * the calling thread when unset. A block the decoder rejects is decoded here, for its error.
   */
  decoder: BlockDecoder | undefined;
  readonly dataStart: number;
  readonly directoryTableEnd: number;

  private constructor(
    readonly ra: RandomAccess,
    readonly base: number,
    readonly superblock: SquashfsSuperblock,
    readonly compressorOptions: CompressorOptions | undefined,
    readonly codec: BlockCodec,
    readonly ids: LookupTable,
    readonly fragmentTable: LookupTable | undefined,
    readonly exportTable: LookupTable | undefined,
    readonly xattrIds: LookupTable | undefined,
    readonly xattrKvStart: number,
    readonly maxFileSize: number,
    readonly maxTableBytes: number,
    fragmentCacheBytes: number,
    meta: MetaReader,
    dataStart: number,
  ) {
    this.meta = meta;
    this.dataStart = dataStart;
    this.directoryTableEnd = fragmentTable?.start ?? exportTable?.start ?? ids.start;
    this.#inodeSeq = new MetaSeq(meta, superblock.inodeTableStart, superblock.directoryTableStart);
    this.#dirSeq = new MetaSeq(meta, superblock.directoryTableStart, this.directoryTableEnd);
    // files in directory order mostly take their tails from the last few fragment blocks
    this.#fragCacheSize = Math.max(1, Math.floor(fragmentCacheBytes / superblock.blockSize));
  }

  static async open(ra: RandomAccess, opts: OpenOptions = {}): Promise<Squashfs> {
    const base = opts.offset ?? 0;
    if (!Number.isSafeInteger(base) || base < 0) throw new RangeError(`Cannot open squashfs: offset ${base} is not a non-negative integer`);
    if (ra.size - base < SUPERBLOCK_SIZE)
      throw new FormatError(FORMAT, 'TRUNCATED', 0, `Cannot read superblock: need ${SUPERBLOCK_SIZE} bytes, ${Math.max(0, ra.size - base)} available`);
    const sb = decodeSuperblock(await readAtNow(ra, base, SUPERBLOCK_SIZE), ra.size - base);
    let options: CompressorOptions | undefined;
    let dataStart = SUPERBLOCK_SIZE;
    if (sb.flags & FLAG.COMPRESSOR_OPTIONS) {
      const h = await readAtNow(ra, base + SUPERBLOCK_SIZE, 2);
      const header = h[0]! | (h[1]! << 8);
      const n = header & 0x7fff;
      if (!(header & META_UNCOMPRESSED) || n > 64)
        throw new FormatError(FORMAT, 'BAD_FIELD', SUPERBLOCK_SIZE, `Cannot parse compressor options: header 0x${header.toString(16)} is not a small stored block`);
      dataStart += 2 + n;
      if (dataStart > sb.inodeTableStart) throw new FormatError(FORMAT, 'BAD_FIELD', SUPERBLOCK_SIZE, 'Cannot parse compressor options: they overlap the inode table');
      options = decodeCompressorOptions(sb.compression, await readAtNow(ra, base + SUPERBLOCK_SIZE + 2, n), SUPERBLOCK_SIZE + 2);
    } else if (sb.compression === 'lz4') {
      throw new FormatError(FORMAT, 'BAD_FIELD', 0x18, 'Cannot parse superblock: an lz4 image must have a compressor options block');
    }
    const codec = blockCodec(sb.compression, options ?? {}, sb.blockSize);
    const meta = new MetaReader(ra, codec, base);
    // tables from the back, as the kernel reads them: each ends where the next begins
    let end = sb.bytesUsed;
    let xattrIds: LookupTable | undefined;
    let kvStart = 0;
    if (sb.xattrIdTableStart !== undefined) {
      const x = sb.xattrIdTableStart;
      if (x + 16 > end) throw new FormatError(FORMAT, 'TRUNCATED', x, 'Cannot read xattr id table header: it runs past bytes used');
      const h = await readAtNow(ra, base + x, 16);
      const dv = new DataView(h.buffer, h.byteOffset, 16);
      const hi = dv.getUint32(4, true);
      if (hi >= 0x20_0000) throw new FormatError(FORMAT, 'LIMIT', x, 'Cannot read xattr id table header: kv start exceeds 2^53');
      kvStart = hi * 0x1_0000_0000 + dv.getUint32(0, true);
      const count = dv.getUint32(8, true);
      xattrIds = await LookupTable.open(ra, meta, 'xattr id', x + 16, count, XATTR_ID_ENTRY_SIZE, sb.idTableStart, end);
      if (kvStart < sb.idTableStart || kvStart > xattrIds.start)
        throw new FormatError(FORMAT, 'BAD_FIELD', x, `Cannot read xattr id table header: kv start 0x${kvStart.toString(16)} is out of place`);
      end = kvStart;
    }
    const ids = await LookupTable.open(ra, meta, 'id', sb.idTableStart, sb.noIds, ID_ENTRY_SIZE, sb.directoryTableStart, end);
    end = ids.start;
    let exportTable: LookupTable | undefined;
    if (sb.lookupTableStart !== undefined) {
      exportTable = await LookupTable.open(ra, meta, 'export', sb.lookupTableStart, sb.inodes, EXPORT_ENTRY_SIZE, sb.directoryTableStart, end);
      end = exportTable.start;
    }
    let fragmentTable: LookupTable | undefined;
    if (sb.fragments > 0) {
      fragmentTable = await LookupTable.open(ra, meta, 'fragment', sb.fragmentTableStart!, sb.fragments, FRAGMENT_ENTRY_SIZE, sb.directoryTableStart, end);
      end = fragmentTable.start;
    }
    if (end < sb.directoryTableStart) throw new FormatError(FORMAT, 'BAD_FIELD', sb.directoryTableStart, 'Cannot read directory table: it overlaps the next table');
    const maxFileSize = opts.maxFileSize ?? 2 ** 30;
    const maxTableBytes = opts.maxTableBytes ?? 2 ** 26;
    const fragmentCacheBytes = opts.fragmentCacheBytes ?? 2 ** 25;
    return new Squashfs(ra, base, sb, options, codec, ids, fragmentTable, exportTable, xattrIds, kvStart, maxFileSize, maxTableBytes, fragmentCacheBytes, meta, dataStart);
  }

  /**
   * Reads the inode, directory and id tables into memory, one read per table (as unsquashfs does),
   * so that `walk`, `inode`, `readdir` and `stat` need no further I/O. `walk` calls it. Tables past
   * `maxTableBytes`, and blocks that do not decode, are left to be read when needed (and report
   * their errors then).
   */
  preload(): Promise<void> {
    return (this.#preloaded ??= this.#preload());
  }

  async #preload(): Promise<void> {
    const sb = this.superblock;
    const quietly = (e: unknown) => {
      if (!(e instanceof FormatError)) throw e;
      return 0;
    };
    const used = await this.meta.preload(sb.inodeTableStart, sb.directoryTableStart, this.maxTableBytes).catch(quietly);
    await this.meta.preload(sb.directoryTableStart, this.directoryTableEnd, this.maxTableBytes - used).catch(quietly);
    const values: number[] = [];
    try {
      for (let i = 0; i < this.ids.count; i++) values.push((await this.ids.entry(i)).u32le());
      this.#idValues = values;
    } catch (e) {
      quietly(e);
    }
  }

  /**
   * The inode at `ref`, cached: the names of one inode get one object, whose block list was
   * decoded and checked once.
   */
  inode(ref: MetaRef): Promise<SquashfsInode> {
    const key = refToNumber(ref);
    const hit = this.#inodes.get(key);
    if (hit) return Promise.resolve(hit);
    let p = this.#loading.get(key);
    if (!p) {
      const sb = this.superblock;
      p = decodeInode(this.meta, sb.inodeTableStart, sb.directoryTableStart, ref, sb.blockSize).then((i) => this.#inodes.set(key, this.#check(i)));
      this.#loading.set(key, p);
      const done = () => void this.#loading.delete(key);
      p.then(done, done);
    }
    return p;
  }

  /**
   * The inode at `ref` when it is cached or its blocks are in memory (after {@link preload}), else
   * undefined: then use {@link inode}. Bad inodes throw, as there. Only inodes with long block
   * lists are cached here: a walk's other inodes then die young, as its entries do.
   */
  inodeNow(ref: MetaRef): SquashfsInode | undefined {
    const key = refToNumber(ref);
    const hit = this.#inodes.get(key);
    if (hit) return hit;
    try {
      const i = this.#check(decodeInodeAt(this.#inodeSeq, ref, this.superblock.blockSize));
      return i.blocks.length >= LONG_BLOCK_LIST ? this.#inodes.set(key, i) : i;
    } catch (e) {
      if (e instanceof MetaMiss) return undefined;
      throw e;
    }
  }

  #check(i: SquashfsInode): SquashfsInode {
    const sb = this.superblock;
    const at = sb.inodeTableStart;
    if (i.inodeNumber < 1 || i.inodeNumber > sb.inodes)
      throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot parse inode: number ${i.inodeNumber} is outside 1..${sb.inodes}`);
    if (i.uidIndex >= sb.noIds || i.gidIndex >= sb.noIds)
      throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot parse inode ${i.inodeNumber}: id index outside the ${sb.noIds}-entry id table`);
    if (i.xattr !== undefined && (!this.xattrIds || i.xattr >= this.xattrIds.count))
      throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot parse inode ${i.inodeNumber}: xattr id ${i.xattr} is out of range`);
    if (i.kind === 'file') {
      if (i.fragment !== undefined && i.fragment >= sb.fragments)
        throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot parse inode ${i.inodeNumber}: fragment index ${i.fragment} is outside 0..${sb.fragments - 1}`);
      this.#checkWords(i, i.blocks, { pos: i.startBlock, stored: false });
    }
    if (i.kind === 'dir' && i.size < 3) throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot parse directory inode ${i.inodeNumber}: size ${i.size} is below 3`);
    return i;
  }

  /**
   * Checks the block size words `words` of file `i`; `run` says where the first of them starts and
   * whether a word before them holds data, and is moved past them.
   */
  #checkWords(i: SquashfsInode, words: ArrayLike<number>, run: { pos: number; stored: boolean }): void {
    const sb = this.superblock;
    let { pos, stored } = run;
    const at = sb.inodeTableStart;
    for (let k = 0; k < words.length; k++) {
      const w = words[k]!;
      if (w >= 2 ** 25) throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot parse inode ${i.inodeNumber}: block size word 0x${w.toString(16)} has bits above 24`);
      const n = blockDiskSize(w);
      if (n > sb.blockSize) throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot parse inode ${i.inodeNumber}: block of ${n} bytes exceeds the block size ${sb.blockSize}`);
      pos += n;
      if (w !== 0) stored = true;
    }
    if (stored && (i.startBlock < this.dataStart || pos > sb.inodeTableStart))
      throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot parse inode ${i.inodeNumber}: data 0x${i.startBlock.toString(16)}..0x${pos.toString(16)} lies outside the data area`);
    run.pos = pos;
    run.stored = stored;
  }

  /** The root inode, which must be a directory (an extraction would otherwise replace its destination folder). */
  async root(): Promise<SquashfsInode> {
    const r = await this.inode(this.superblock.rootInode);
    if (r.kind !== 'dir')
      throw new FormatError(FORMAT, 'BAD_FIELD', this.superblock.inodeTableStart + this.superblock.rootInode.block, `Cannot parse root inode ${r.inodeNumber}: it is a ${r.kind}, not a directory`);
    return r;
  }

  /** Entries of a directory (no "." or ".."), in the image's bytewise order; cached. */
  async readdir(p: string | SquashfsInode): Promise<DirEntry[]> {
    const dir = await this.#resolve(p);
    if (dir.kind !== 'dir') throw fsError('ENOTDIR', 'not a directory');
    return this.#readdir(dir);
  }

  /** As {@link readdir} for a directory inode whose listing is in memory (after {@link preload}), else undefined. */
  readdirNow(dir: SquashfsInode): DirEntry[] | undefined {
    if (dir.kind !== 'dir' || dir.offset >= METADATA_SIZE) return undefined;
    try {
      return readDirectoryAt(this.#dirSeq, { block: dir.startBlock, offset: dir.offset }, dir.size);
    } catch (e) {
      if (e instanceof MetaMiss) return undefined;
      throw e;
    }
  }

  #readdir(dir: SquashfsInode): Promise<DirEntry[]> {
    // an empty listing takes no room, so the next directory's listing starts at the same place
    const key = `${dir.startBlock}:${dir.offset}:${dir.size}`;
    let p = this.#dirs.get(key);
    if (!p) {
      if (dir.offset >= METADATA_SIZE) return Promise.reject(new FormatError(FORMAT, 'BAD_FIELD', this.superblock.directoryTableStart, `Cannot read directory: offset ${dir.offset} is past a metadata block`));
      p = readDirectory(this.meta, this.superblock.directoryTableStart, this.directoryTableEnd, { block: dir.startBlock, offset: dir.offset }, dir.size);
      if (this.#dirs.size > 1024) this.#dirs.clear();
      this.#dirs.set(key, p);
    }
    return p;
  }

  /** The inode at an image path; symlinks are not followed. A missing path is an ENOENT error. */
  async lookup(path: string): Promise<SquashfsInode> {
    let cur = await this.root();
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    for (let i = 0; i < parts.length; i++) {
      if (cur.kind !== 'dir') throw fsError('ENOTDIR', `not a directory: ${parts.slice(0, i).join('/')}`);
      const want = encodeName(parts[i]!);
      const e = (await this.#readdir(cur)).find((d) => Buffer.compare(d.name, want) === 0);
      if (!e) throw fsError('ENOENT', `no such file or directory: /${parts.slice(0, i + 1).join('/')}`);
      cur = await this.inode(e.inode);
      if (TYPE_OF[cur.kind] !== TYPE_OF[e.kind])
        throw new FormatError(FORMAT, 'BAD_FIELD', this.superblock.directoryTableStart, `Cannot read /${parts.slice(0, i + 1).join('/')}: the directory entry says ${e.kind}, the inode ${cur.kind}`);
    }
    return cur;
  }

  async #resolve(p: string | SquashfsInode): Promise<SquashfsInode> {
    return typeof p === 'string' ? this.lookup(p) : p;
  }

  async uid(i: SquashfsInode): Promise<number> {
    return this.#idValues?.[i.uidIndex] ?? (await this.ids.entry(i.uidIndex)).u32le();
  }
  async gid(i: SquashfsInode): Promise<number> {
    return this.#idValues?.[i.gidIndex] ?? (await this.ids.entry(i.gidIndex)).u32le();
  }

  async stat(p: string | SquashfsInode): Promise<SquashfsStat> {
    const i = await this.#resolve(p);
    return this.statNow(i) ?? statOf(i, await this.uid(i), await this.gid(i));
  }

  /**
   * The inode and directory tables as far as they are in memory (after {@link preload}), each as
   * one buffer with the position of each block in it ({@link MetaReader.pinnedRun}), and the id
   * table; undefined when any of them is not. For readers that walk the whole tree without objects.
   */
  tablesNow(): { inodes: { bytes: Uint8Array; blocks: Map<number, number> }; dirs: { bytes: Uint8Array; blocks: Map<number, number> }; ids: readonly number[] } | undefined {
    const sb = this.superblock;
    const inodes = this.meta.pinnedRun(sb.inodeTableStart, sb.directoryTableStart);
    const dirs = this.meta.pinnedRun(sb.directoryTableStart, this.directoryTableEnd);
    return inodes && dirs && this.#idValues ? { inodes, dirs, ids: this.#idValues } : undefined;
  }

  /** The id table (uids and gids, by the indexes inodes hold) when it is in memory (after {@link preload}). */
  idsNow(): readonly number[] | undefined {
    return this.#idValues;
  }

  /** As {@link stat} for an inode, when the id table is in memory (after {@link preload}), else undefined. */
  statNow(i: SquashfsInode): SquashfsStat | undefined {
    const uid = this.#idValues?.[i.uidIndex], gid = this.#idValues?.[i.gidIndex];
    return uid === undefined || gid === undefined ? undefined : statOf(i, uid, gid);
  }

  async readlink(p: string | SquashfsInode): Promise<string> {
    const i = await this.#resolve(p);
    if (i.kind !== 'symlink') throw fsError('EINVAL', 'not a symbolic link');
    return decodeName(i.target ?? new Uint8Array(0));
  }

  /** Readlink as bytes (names and targets are bytes in squashfs). */
  async readlinkBytes(p: string | SquashfsInode): Promise<Uint8Array> {
    const i = await this.#resolve(p);
    if (i.kind !== 'symlink') throw fsError('EINVAL', 'not a symbolic link');
    return i.target!;
  }

  async xattrs(p: string | SquashfsInode): Promise<Xattr[]> {
    const i = await this.#resolve(p);
    if (i.xattr === undefined || !this.xattrIds) return [];
    return readXattrs(this.meta, this.xattrIds, this.xattrKvStart, this.xattrIds.start, i.xattr);
  }

  /** The whole content of a regular file. */
  async readFile(p: string | SquashfsInode): Promise<Uint8Array> {
    const i = await this.#resolve(p);
    if (i.kind !== 'file') throw fsError('EISDIR', 'not a regular file');
    const out = new Uint8Array(limit(i.size, this.maxFileSize, 'file size', FORMAT, this.superblock.inodeTableStart));
    let at = 0;
    for await (const c of this.createReadStream(i, { ahead: 2 })) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /**
   * A file's content, one block at a time; sparse blocks come as zeros. With `ahead`, that many
   * blocks after the one being read are decoded meanwhile (off this thread, in parallel).
   */
  async *createReadStream(p: string | SquashfsInode, o: { ahead?: number } = {}): AsyncGenerator<Uint8Array> {
    const i = await this.#resolve(p);
    this.checkDataBlocks(i);
    const bs = this.superblock.blockSize;
    const ahead = Math.max(0, Math.floor(o.ahead ?? 0));
    const queue: Promise<Uint8Array>[] = [];
    // the blocks are taken from the list as they are read, not made into objects all at once
    try {
      for await (const r of this.blockRuns(i)) {
        let at = r.pos;
        for (let k = 0; k < r.words.length; k++) {
          const word = r.words[k]!;
          const load = this.readBlock({ at, word, size: Math.min(bs, i.size - (r.first + k) * bs) });
          load.catch(() => {}); // reported when its turn comes
          queue.push(load);
          at += blockDiskSize(word);
          if (queue.length > ahead) yield await queue.shift()!;
        }
      }
      while (queue.length > 0) yield await queue.shift()!;
    } finally {
      queue.length = 0;
    }
    const tail = await this.readTail(i);
    if (tail.length > 0) yield tail.slice();
  }

  /**
   * A file's block list from block `from` on, in runs: the list the inode holds, or for a long one
   * (see `SquashfsInode.blockList`) pieces of at most {@link RUN_WORDS} words read from the inode
   * table, checked as the inode's own list is checked when it is decoded. Memory stays one piece
   * whatever the list's length; where every {@link MARK_EVERY}th block's word lies is remembered,
   * so that a read from the middle starts near it.
   */
  async *blockRuns(i: SquashfsInode, from = 0): AsyncGenerator<BlockRun> {
    const list = i.blockList;
    if (list === undefined) {
      if (from >= i.blocks.length) return;
      let pos = i.startBlock;
      for (let k = 0; k < from; k++) pos += blockDiskSize(i.blocks[k]!);
      yield { first: from, pos, words: from === 0 ? i.blocks : i.blocks.slice(from) };
      return;
    }
    const sb = this.superblock;
    const marks = this.#marksOf(list, i.startBlock);
    const m = marks[Math.min(Math.floor(from / MARK_EVERY), marks.length - 1)]!;
    let k = m.index, ref = m.ref;
    const run = { pos: m.pos, stored: m.stored };
    while (k < i.blockCount) {
      if (k % MARK_EVERY === 0 && k / MARK_EVERY === marks.length) marks.push({ index: k, ref, pos: run.pos, stored: run.stored });
      const n = Math.min(RUN_WORDS, i.blockCount - k);
      const { bytes, end } = await this.meta.readSpan(sb.inodeTableStart, sb.directoryTableStart, ref, n * 4, 'block list');
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const words = new Uint32Array(n);
      for (let w = 0; w < n; w++) words[w] = dv.getUint32(w * 4, true);
      const pos = run.pos;
      this.#checkWords(i, words, run);
      if (k + n > from) {
        const skip = Math.max(0, from - k);
        let at = pos;
        for (let w = 0; w < skip; w++) at += blockDiskSize(words[w]!);
        yield { first: k + skip, pos: at, words: skip === 0 ? words : words.subarray(skip) };
      }
      k += n;
      ref = end;
    }
  }

  /** Where the long block list at `list` has been read to, every {@link MARK_EVERY} blocks (the first: its start). */
  #marksOf(list: MetaRef, startBlock: number): ListMark[] {
    const key = refToNumber(list);
    let marks = this.#marks.get(key);
    if (!marks) {
      if (this.#marks.size >= MARKED_LISTS) this.#marks.clear();
      marks = [{ index: 0, ref: list, pos: startBlock, stored: false }];
      this.#marks.set(key, marks);
    }
    return marks;
  }

  /**
   * Block `index` of a regular file (checked as {@link blockRuns} checks it), or undefined past its
   * list. The last piece of a long list read here is kept with where each of its blocks starts, so
   * that reading a file block by block reads each piece of its list once.
   */
  async blockAt(i: SquashfsInode, index: number): Promise<DataBlock | undefined> {
    if (index >= blockListLength(i)) return undefined;
    const bs = this.superblock.blockSize;
    const size = Math.min(bs, i.size - index * bs);
    if (i.blockList === undefined) {
      let at = i.startBlock;
      for (let k = 0; k < index; k++) at += blockDiskSize(i.blocks[k]!);
      return { at, word: i.blocks[index]!, size };
    }
    const key = refToNumber(i.blockList);
    let piece = this.#piece;
    if (!piece || piece.key !== key || index < piece.first || index >= piece.first + piece.words.length) {
      const first = index - (index % RUN_WORDS);
      const runs = this.blockRuns(i, first);
      const r = (await runs.next()).value!;
      await runs.return(undefined);
      const starts = new Float64Array(r.words.length);
      for (let k = 0, at = r.pos; k < r.words.length; at += blockDiskSize(r.words[k]!), k++) starts[k] = at;
      piece = this.#piece = { key, first, words: r.words, starts };
    }
    const k = index - piece.first;
    return { at: piece.starts[k]!, word: piece.words[k]!, size };
  }

  /**
   * A list the inode holds as an array, for a writer that keeps it (appending); a long one is read
   * whole, up to {@link MAX_HELD_BLOCKS} words.
   */
  async blockWords(i: SquashfsInode): Promise<readonly number[]> {
    if (i.blockList === undefined) return i.blocks;
    if (i.blockCount > MAX_HELD_BLOCKS)
      throw new FormatError(FORMAT, 'LIMIT', this.superblock.inodeTableStart, `Cannot hold the block list of inode ${i.inodeNumber}: ${i.blockCount} blocks exceed ${MAX_HELD_BLOCKS}`);
    const out: number[] = [];
    for await (const r of this.blockRuns(i)) for (let k = 0; k < r.words.length; k++) out.push(r.words[k]!);
    return out;
  }

  /**
   * Where a regular file's data blocks lie, checked against its size. The bytes after them (if
   * any) are the tail, in a fragment block: {@link readTail}. One object per block, holes too: a
   * reader of large files takes them from {@link blockRuns} as it goes, after {@link checkDataBlocks}
   * (block `k` lies where the disk sizes of the blocks before it end, and holds
   * `min(blockSize, size - k × blockSize)` bytes). Only for lists the inode holds.
   */
  dataBlocks(i: SquashfsInode): DataBlock[] {
    this.checkDataBlocks(i);
    if (i.blockList !== undefined) throw new RangeError(`Cannot list the ${i.blockCount} blocks of inode ${i.inodeNumber} at once: read them with blockRuns`);
    const bs = this.superblock.blockSize;
    const out = new Array<DataBlock>(i.blocks.length);
    let pos = i.startBlock;
    for (let k = 0; k < i.blocks.length; k++) {
      const word = i.blocks[k]!;
      out[k] = { at: pos, word, size: Math.min(bs, i.size - k * bs) };
      pos += blockDiskSize(word);
    }
    return out;
  }

  /**
   * Checks a regular file's block count against its size, as {@link dataBlocks} does, in constant
   * time: the blocks are read only to place an error.
   */
  checkDataBlocks(i: SquashfsInode): void {
    if (i.kind !== 'file') throw fsError('EISDIR', 'not a regular file');
    const bs = this.superblock.blockSize, n = blockListLength(i);
    const needed = Math.ceil(i.size / bs);
    const end = (k: number) => i.blocks.slice(0, k).reduce((pos, w) => pos + blockDiskSize(w), i.startBlock);
    if (n > needed) throw new FormatError(FORMAT, 'BAD_FIELD', end(needed), 'Cannot read file: more blocks than its size needs');
    const done = Math.min(i.size, n * bs);
    if (i.fragment === undefined && done !== i.size) throw new FormatError(FORMAT, 'BAD_FIELD', end(n), `Cannot read file: its blocks hold ${done} of ${i.size} bytes`);
  }

  /** One data block, decoded (zeros for a sparse block). The result is the caller's. */
  async readBlock(b: DataBlock): Promise<Uint8Array> {
    if (blockDiskSize(b.word) === 0) return new Uint8Array(b.size);
    const raw = await this.readRawBlock(b);
    const data = blockIsStored(b.word) ? raw : await this.#decompress(raw, b.size, b.at);
    if (data.length === b.size) return data;
    const full = new Uint8Array(b.size); // a short block reads as zeros after its data, as in the kernel
    full.set(data);
    return full;
  }

  /**
   * A data block as the image stores it: compressed unless `blockIsStored(b.word)` (then it may be
   * shorter than `b.size`: the rest reads as zeros); empty for a sparse block.
   */
  async readRawBlock(b: DataBlock): Promise<Uint8Array> {
    const n = blockDiskSize(b.word);
    if (blockIsStored(b.word) && n > b.size) throw new FormatError(FORMAT, 'BAD_FIELD', b.at, `Cannot read data block: ${n} stored bytes exceed the ${b.size} expected`);
    return readAtNow(this.ra, this.base + b.at, n);
  }

  /** `raw` (the `raw.length` bytes at `at`) decompressed, by the decoder when there is one. */
  async #decompress(raw: Uint8Array, max: number, at: number): Promise<Uint8Array> {
    if (!this.decoder) return this.codec.decompress(raw, max, at);
    const n = raw.length;
    try {
      return await this.decoder.decode(raw, max);
    } catch {
      // the decoder may have taken `raw`: read it again, and let the codec say what is wrong
      return this.codec.decompress(await readAtNow(this.ra, this.base + at, n), max, at);
    }
  }

  /**
   * The bytes of a regular file that follow its data blocks (its tail in a fragment block), or
   * nothing. A view of a cached block: copy it to keep or change it.
   */
  async readTail(i: SquashfsInode): Promise<Uint8Array> {
    return i.fragment === undefined ? new Uint8Array(0) : this.tailOf(i, await this.fragmentBlock(i.fragment));
  }

  /** As {@link readTail}, when the fragment block is in the cache (or there is none), else undefined. */
  tailNow(i: SquashfsInode): Uint8Array | undefined {
    if (i.fragment === undefined) return new Uint8Array(0);
    const frag = this.#frags.get(i.fragment);
    return frag instanceof Uint8Array ? this.tailOf(i, frag) : undefined;
  }

  /** As {@link readTail}, given `frag`, the file's fragment block as {@link fragmentBlock} gave it. */
  tailOf(i: SquashfsInode, frag: Uint8Array): Uint8Array {
    const bs = this.superblock.blockSize;
    const tail = i.size - Math.min(i.size, i.blocks.length * bs);
    if (tail > bs || i.fragmentOffset + tail > frag.length)
      throw new FormatError(FORMAT, 'BAD_FIELD', this.superblock.inodeTableStart, `Cannot read file tail: ${tail} bytes at ${i.fragmentOffset} run past its ${frag.length}-byte fragment block`);
    return frag.subarray(i.fragmentOffset, i.fragmentOffset + tail);
  }

  async fragmentEntry(index: number): Promise<FragmentEntry> {
    if (!this.fragmentTable) throw new FormatError(FORMAT, 'BAD_FIELD', 0x10, `Cannot read fragment ${index}: the image has no fragment table`);
    const e = decodeFragmentEntry(await this.fragmentTable.entry(index));
    const n = blockDiskSize(e.size);
    if (e.size >= 2 ** 25 || n === 0 || n > this.superblock.blockSize || e.start < this.dataStart || e.start + n > this.superblock.inodeTableStart)
      throw new FormatError(FORMAT, 'BAD_FIELD', this.fragmentTable.start, `Cannot read fragment ${index}: block of 0x${e.size.toString(16)} at 0x${e.start.toString(16)} is invalid`);
    return e;
  }

  /** A decoded fragment block, cached (the most recently used ones, `fragmentCacheBytes` of them). */
  fragmentBlock(index: number): Promise<Uint8Array> {
    const hit = this.#frags.get(index);
    if (hit !== undefined) {
      this.#frags.delete(index); // LRU: move to the back
      this.#frags.set(index, hit);
      return hit instanceof Uint8Array ? Promise.resolve(hit) : hit;
    }
    const p = (async () => {
      const e = await this.fragmentEntry(index);
      const n = blockDiskSize(e.size);
      // from an image file, a decoder that reads blocks itself is given where the block lies
      const image = this.ra.fd, decodeFile = this.decoder?.decodeFile;
      if (!blockIsStored(e.size) && image !== undefined && decodeFile) {
        const out = await decodeFile(image, this.base + e.start, n, this.superblock.blockSize).catch(() => undefined);
        if (out) return out;
      }
      const raw = await readAtNow(this.ra, this.base + e.start, n);
      return blockIsStored(e.size) ? raw : this.#decompress(raw, this.superblock.blockSize, e.start);
    })();
    if (this.#frags.size >= this.#fragCacheSize) this.#frags.delete(this.#frags.keys().next().value!);
    this.#frags.set(index, p);
    p.then(
      (b) => {
        if (this.#frags.get(index) === p) this.#frags.set(index, b);
      },
      () => {
        if (this.#frags.get(index) === p) this.#frags.delete(index);
      },
    );
    return p;
  }

  /** Inode reference of inode number `n` from the export table. */
  async exportRef(n: number): Promise<MetaRef> {
    if (!this.exportTable) throw new TypeError('Cannot look up inode: the image has no export table');
    return refFromNumber((await this.exportTable.entry(n - 1)).u64le());
  }

  /**
   * Every path in the image, depth-first in directory order, root first ("/"). A directory reached
   * twice (a loop or shared listing) is a FormatError, so hostile images cannot make this run forever.
   */
  async *walk(from = '/'): AsyncGenerator<WalkEntry> {
    for await (const chunk of this.walkChunks(from)) yield* chunk;
  }

  /**
   * As {@link walk}, in arrays of up to `max` entries: a caller that visits the whole tree waits
   * once per array, not once per entry. An array is handed over early when its files' block lists
   * (each inode counted once) grow past about a million entries. An error comes after the entries
   * before it.
   */
  async *walkChunks(from = '/', max = 1024): AsyncGenerator<WalkEntry[]> {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`Cannot walk: chunk size ${max} is not a positive integer`);
    await this.preload();
    const start = await this.lookup(from);
    const seen = new Set<number>();
    const prefix = from.split('/').filter(Boolean).join('/');
    let out: WalkEntry[] = [{ path: prefix ? `/${prefix}` : '/', inode: start, name: te.encode(prefix.split('/').pop() ?? '') }];
    // block-list entries `out` holds: a long list once however many names its inode has (they share
    // its object), a short one per name
    const held = new Set<SquashfsInode>([start]);
    let blocks = start.blocks.length;
    seen.add(-1 - start.inodeNumber);
    // depth-first with an explicit stack: what is in memory is read without waiting on anything
    const stack: { dir: SquashfsInode; path: string; entries: DirEntry[]; next: number }[] = [];
    const enter = async (dir: SquashfsInode, path: string) => {
      if (stack.length > MAX_DEPTH)
        throw new FormatError(FORMAT, 'BAD_FIELD', this.superblock.directoryTableStart + dir.startBlock, `Cannot walk ${path}: directories nest deeper than ${MAX_DEPTH} (a loop, or deeper than this reader goes)`);
      if (seen.size > 2 * this.superblock.inodes + 2)
        throw new FormatError(FORMAT, 'BAD_FIELD', this.superblock.directoryTableStart + dir.startBlock, `Cannot walk ${path}: more directories than the image's inode count allows (a loop)`);
      stack.push({ dir, path, entries: this.readdirNow(dir) ?? (await this.#readdir(dir)), next: 0 });
    };
    try {
      if (out.length >= max || blocks > CHUNK_BLOCKS) {
        yield out;
        out = [];
        held.clear();
        blocks = 0;
      }
      if (start.kind === 'dir') await enter(start, prefix ? `/${prefix}/` : '/');
      while (stack.length > 0) {
        const f = stack[stack.length - 1]!;
        const e = f.entries[f.next++];
        if (e === undefined) {
          stack.pop();
          continue;
        }
        if (e.kind === 'dir') {
          // directories cannot be hard linked: reaching one twice (by reference or by number) is a loop
          const key = refToNumber(e.inode);
          if (seen.has(key) || seen.has(-1 - e.inodeNumber))
            throw new FormatError(FORMAT, 'BAD_FIELD', this.superblock.directoryTableStart + f.dir.startBlock, `Cannot walk ${f.path}: directory reached twice (a loop)`);
          seen.add(key);
          seen.add(-1 - e.inodeNumber);
        }
        const inode = this.inodeNow(e.inode) ?? (await this.inode(e.inode));
        if (inode.kind !== e.kind)
          throw new FormatError(FORMAT, 'BAD_FIELD', this.superblock.directoryTableStart, `Cannot read ${f.path}${decodeName(e.name)}: the directory entry says ${e.kind}, the inode ${inode.kind}`);
        const path = f.path + decodeName(e.name);
        out.push({ path, inode, name: e.name });
        const k = inode.blocks.length;
        if (k < LONG_BLOCK_LIST) blocks += k;
        else if (!held.has(inode)) {
          held.add(inode);
          blocks += k;
        }
        if (out.length >= max || blocks > CHUNK_BLOCKS) {
          yield out;
          out = [];
          held.clear();
          blocks = 0;
        }
        if (inode.kind === 'dir') await enter(inode, path + '/');
      }
    } catch (e) {
      if (out.length > 0) yield out;
      throw e;
    }
    if (out.length > 0) yield out;
  }

  async close(): Promise<void> {
    await this.ra.close?.();
  }
}

const TYPE_OF: Readonly<Record<FileKind, number>> = { dir: 1, file: 2, symlink: 3, blockdev: 4, chardev: 5, fifo: 6, socket: 7 };

const NO_DEVICE = decodeRdev(0);

function statOf(i: SquashfsInode, uid: number, gid: number): SquashfsStat {
  const { major, minor } = i.rdev === 0 ? NO_DEVICE : decodeRdev(i.rdev);
  const size = i.kind === 'symlink' ? i.target!.length : i.kind === 'dir' ? i.size : i.kind === 'file' ? i.size : 0;
  return { kind: i.kind, mode: KIND_IFMT[i.kind] + i.mode, uid, gid, mtime: i.mtime, size, nlink: i.nlink, inodeNumber: i.inodeNumber, major, minor, inode: i };
}

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Opens a squashfs image for random access.
 *
 * @example
 * ```ts
 * const fs = await openSquashfs(await fileAccess('root.sqfs', 'squashfs'));
 * for await (const { path, inode } of fs.walk()) console.log(path, inode.kind);
 * const motd = await fs.readFile('/etc/motd');
 * ```
 */
export function openSquashfs(ra: RandomAccess, opts?: OpenOptions): Promise<Squashfs> {
  return Squashfs.open(ra, opts);
}
