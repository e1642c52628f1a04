/**
 * Random-access reader: `openSquashfs(ra)` reads the superblock and table indexes; inodes,
 * directories, fragments and data blocks are read on demand and cached. Nothing loads the whole
 * image. Every offset and length taken from the image is checked against the table it must lie in.
 */
import { FormatError } from '../bytes/errors.js';
import { limit } from '../bytes/limits.js';
import type { RandomAccess } from '../bytes/random.js';
import { blockCodec, decodeCompressorOptions, type BlockCodec, type CompressorOptions } from './compressor.js';
import { readDirectory, type DirEntry } from './dir.js';
import { decodeFragmentEntry, type FragmentEntry } from './fragment.js';
import { decodeInode, type SquashfsInode } from './inode.js';
import {
  blockDiskSize, blockIsStored, decodeRdev, EXPORT_ENTRY_SIZE, FLAG, FORMAT, FRAGMENT_ENTRY_SIZE, ID_ENTRY_SIZE, KIND_IFMT,
  META_UNCOMPRESSED, METADATA_SIZE, refFromNumber, refToNumber, SUPERBLOCK_SIZE, XATTR_ID_ENTRY_SIZE, type FileKind, type MetaRef,
} from './layout.js';
import { MetaReader } from './meta.js';
import { decodeSuperblock, type SquashfsSuperblock } from './super.js';
import { LookupTable } from './table.js';
import { readXattrs, type Xattr } from './xattr.js';

export interface OpenOptions {
  /** Where the image starts inside `ra` (firmware with a squashfs at an offset). Default 0. */
  offset?: number;
  /** Largest file `readFile` returns in one buffer (default 1 GiB); use createReadStream beyond. */
  maxFileSize?: number;
}

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

const td = new TextDecoder();
const te = new TextEncoder();

/** An open image. Methods take image paths ("/a/b", "a/b") or already-read inodes. */
export class Squashfs {
  readonly meta: MetaReader;
  readonly #inodes = new Map<number, Promise<SquashfsInode>>();
  readonly #dirs = new Map<string, Promise<DirEntry[]>>();
  readonly #frags = new Map<number, Promise<Uint8Array>>();
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
    meta: MetaReader,
    dataStart: number,
  ) {
    this.meta = meta;
    this.dataStart = dataStart;
    this.directoryTableEnd = fragmentTable?.start ?? exportTable?.start ?? ids.start;
  }

  static async open(ra: RandomAccess, opts: OpenOptions = {}): Promise<Squashfs> {
    const base = opts.offset ?? 0;
    if (!Number.isSafeInteger(base) || base < 0) throw new RangeError(`Cannot open squashfs: offset ${base} is not a non-negative integer`);
    if (ra.size - base < SUPERBLOCK_SIZE)
      throw new FormatError(FORMAT, 'TRUNCATED', 0, `Cannot read superblock: need ${SUPERBLOCK_SIZE} bytes, ${Math.max(0, ra.size - base)} available`);
    const sb = decodeSuperblock(await ra.readAt(base, SUPERBLOCK_SIZE), ra.size - base);
    let options: CompressorOptions | undefined;
    let dataStart = SUPERBLOCK_SIZE;
    if (sb.flags & FLAG.COMPRESSOR_OPTIONS) {
      const h = await ra.readAt(base + SUPERBLOCK_SIZE, 2);
      const header = h[0]! | (h[1]! << 8);
      const n = header & 0x7fff;
      if (!(header & META_UNCOMPRESSED) || n > 64)
        throw new FormatError(FORMAT, 'BAD_FIELD', SUPERBLOCK_SIZE, `Cannot parse compressor options: header 0x${header.toString(16)} is not a small stored block`);
      dataStart += 2 + n;
      if (dataStart > sb.inodeTableStart) throw new FormatError(FORMAT, 'BAD_FIELD', SUPERBLOCK_SIZE, 'Cannot parse compressor options: they overlap the inode table');
      options = decodeCompressorOptions(sb.compression, await ra.readAt(base + SUPERBLOCK_SIZE + 2, n), SUPERBLOCK_SIZE + 2);
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
      const h = await ra.readAt(base + x, 16);
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
    return new Squashfs(ra, base, sb, options, codec, ids, fragmentTable, exportTable, xattrIds, kvStart, maxFileSize, meta, dataStart);
  }

  /** The inode at `ref`, cached. */
  inode(ref: MetaRef): Promise<SquashfsInode> {
    const key = refToNumber(ref);
    let p = this.#inodes.get(key);
    if (!p) {
      const sb = this.superblock;
      p = decodeInode(this.meta, sb.inodeTableStart, sb.directoryTableStart, ref, sb.blockSize).then((i) => this.#check(i));
      if (this.#inodes.size > 4096) this.#inodes.clear();
      this.#inodes.set(key, p);
    }
    return p;
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
      let pos = i.startBlock;
      for (const w of i.blocks) {
        if (w >= 2 ** 25) throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot parse inode ${i.inodeNumber}: block size word 0x${w.toString(16)} has bits above 24`);
        const n = blockDiskSize(w);
        if (n > sb.blockSize) throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot parse inode ${i.inodeNumber}: block of ${n} bytes exceeds the block size ${sb.blockSize}`);
        pos += n;
      }
      if (i.blocks.some((w) => w !== 0) && (i.startBlock < this.dataStart || pos > sb.inodeTableStart))
        throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot parse inode ${i.inodeNumber}: data 0x${i.startBlock.toString(16)}..0x${pos.toString(16)} lies outside the data area`);
    }
    if (i.kind === 'dir' && i.size < 3) throw new FormatError(FORMAT, 'BAD_FIELD', at, `Cannot parse directory inode ${i.inodeNumber}: size ${i.size} is below 3`);
    return i;
  }

  root(): Promise<SquashfsInode> {
    return this.inode(this.superblock.rootInode);
  }

  /** Entries of a directory (no "." or ".."), in the image's bytewise order; cached. */
  async readdir(p: string | SquashfsInode): Promise<DirEntry[]> {
    const dir = await this.#resolve(p);
    if (dir.kind !== 'dir') throw fsError('ENOTDIR', 'not a directory');
    return this.#readdir(dir);
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
      const want = te.encode(parts[i]!);
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
    return (await this.ids.entry(i.uidIndex)).u32le();
  }
  async gid(i: SquashfsInode): Promise<number> {
    return (await this.ids.entry(i.gidIndex)).u32le();
  }

  async stat(p: string | SquashfsInode): Promise<SquashfsStat> {
    const i = await this.#resolve(p);
    const { major, minor } = decodeRdev(i.rdev);
    const size = i.kind === 'symlink' ? i.target!.length : i.kind === 'dir' ? i.size : i.kind === 'file' ? i.size : 0;
    return { kind: i.kind, mode: KIND_IFMT[i.kind] + i.mode, uid: await this.uid(i), gid: await this.gid(i), mtime: i.mtime, size, nlink: i.nlink, inodeNumber: i.inodeNumber, major, minor, inode: i };
  }

  async readlink(p: string | SquashfsInode): Promise<string> {
    const i = await this.#resolve(p);
    if (i.kind !== 'symlink') throw fsError('EINVAL', 'not a symbolic link');
    return td.decode(i.target);
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
    for await (const c of this.createReadStream(i)) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /** A file's content, one block at a time; sparse blocks come as zeros. */
  async *createReadStream(p: string | SquashfsInode): AsyncGenerator<Uint8Array> {
    const i = await this.#resolve(p);
    if (i.kind !== 'file') throw fsError('EISDIR', 'not a regular file');
    const bs = this.superblock.blockSize;
    let pos = i.startBlock;
    let done = 0;
    for (const w of i.blocks) {
      const want = Math.min(bs, i.size - done);
      if (want <= 0) throw new FormatError(FORMAT, 'BAD_FIELD', pos, 'Cannot read file: more blocks than its size needs');
      yield await this.#dataBlock(w, pos, want);
      pos += blockDiskSize(w);
      done += want;
    }
    if (i.fragment !== undefined) {
      const tail = i.size - done;
      const frag = await this.fragmentBlock(i.fragment);
      if (tail > bs || i.fragmentOffset + tail > frag.length)
        throw new FormatError(FORMAT, 'BAD_FIELD', this.superblock.inodeTableStart, `Cannot read file tail: ${tail} bytes at ${i.fragmentOffset} run past its ${frag.length}-byte fragment block`);
      if (tail > 0) yield frag.slice(i.fragmentOffset, i.fragmentOffset + tail);
    } else if (done !== i.size) {
      throw new FormatError(FORMAT, 'BAD_FIELD', pos, `Cannot read file: its blocks hold ${done} of ${i.size} bytes`);
    }
  }

  async #dataBlock(word: number, pos: number, want: number): Promise<Uint8Array> {
    const n = blockDiskSize(word);
    if (n === 0) return new Uint8Array(want);
    const raw = await this.ra.readAt(this.base + pos, n);
    let data: Uint8Array;
    if (blockIsStored(word)) {
      if (n > want) throw new FormatError(FORMAT, 'BAD_FIELD', pos, `Cannot read data block: ${n} stored bytes exceed the ${want} expected`);
      data = raw;
    } else data = await this.codec.decompress(raw, want, pos);
    if (data.length === want) return data;
    const full = new Uint8Array(want); // a short block reads as zeros after its data, as in the kernel
    full.set(data);
    return full;
  }

  async fragmentEntry(index: number): Promise<FragmentEntry> {
    if (!this.fragmentTable) throw new FormatError(FORMAT, 'BAD_FIELD', 0x10, `Cannot read fragment ${index}: the image has no fragment table`);
    const e = decodeFragmentEntry(await this.fragmentTable.entry(index));
    const n = blockDiskSize(e.size);
    if (e.size >= 2 ** 25 || n === 0 || n > this.superblock.blockSize || e.start < this.dataStart || e.start + n > this.superblock.inodeTableStart)
      throw new FormatError(FORMAT, 'BAD_FIELD', this.fragmentTable.start, `Cannot read fragment ${index}: block of 0x${e.size.toString(16)} at 0x${e.start.toString(16)} is invalid`);
    return e;
  }

  /** A decoded fragment block, cached. */
  fragmentBlock(index: number): Promise<Uint8Array> {
    let p = this.#frags.get(index);
    if (!p) {
      p = (async () => {
        const e = await this.fragmentEntry(index);
        const n = blockDiskSize(e.size);
        const raw = await this.ra.readAt(this.base + e.start, n);
        return blockIsStored(e.size) ? raw : this.codec.decompress(raw, this.superblock.blockSize, e.start);
      })();
      if (this.#frags.size >= 8) this.#frags.delete(this.#frags.keys().next().value!);
      this.#frags.set(index, p);
      p.catch(() => this.#frags.delete(index));
    }
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
  async *walk(from = '/'): AsyncGenerator<{ path: string; inode: SquashfsInode; name: Uint8Array }> {
    const start = await this.lookup(from);
    const seen = new Set<number>();
    const prefix = from.split('/').filter(Boolean).join('/');
    const rootPath = prefix ? `/${prefix}` : '/';
    yield { path: rootPath, inode: start, name: te.encode(prefix.split('/').pop() ?? '') };
    seen.add(-1 - start.inodeNumber);
    yield* this.#walkDir(start, prefix ? `/${prefix}/` : '/', seen, 0);
  }

  async *#walkDir(dir: SquashfsInode, path: string, seen: Set<number>, depth: number): AsyncGenerator<{ path: string; inode: SquashfsInode; name: Uint8Array }> {
    if (dir.kind !== 'dir') return;
    if (depth > 4096 || seen.size > 2 * this.superblock.inodes + 2)
      throw new FormatError(FORMAT, 'BAD_FIELD', this.superblock.directoryTableStart + dir.startBlock, `Cannot walk ${path}: the tree is deeper or larger than the image's inode count allows (a loop)`);
    for (const e of await this.#readdir(dir)) {
      if (e.kind === 'dir') {
        // directories cannot be hard linked: reaching one twice (by reference or by number) is a loop
        const key = refToNumber(e.inode);
        if (seen.has(key) || seen.has(-1 - e.inodeNumber))
          throw new FormatError(FORMAT, 'BAD_FIELD', this.superblock.directoryTableStart + dir.startBlock, `Cannot walk ${path}: directory reached twice (a loop)`);
        seen.add(key);
        seen.add(-1 - e.inodeNumber);
      }
      const inode = await this.inode(e.inode);
      if (inode.kind !== e.kind)
        throw new FormatError(FORMAT, 'BAD_FIELD', this.superblock.directoryTableStart, `Cannot read ${path}${td.decode(e.name)}: the directory entry says ${e.kind}, the inode ${inode.kind}`);
      const p = path + td.decode(e.name);
      yield { path: p, inode, name: e.name };
      if (inode.kind === 'dir') yield* this.#walkDir(inode, p + '/', seen, depth + 1);
    }
  }

  async close(): Promise<void> {
    await this.ra.close?.();
  }
}

const TYPE_OF: Readonly<Record<FileKind, number>> = { dir: 1, file: 2, symlink: 3, blockdev: 4, chardev: 5, fifo: 6, socket: 7 };

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
