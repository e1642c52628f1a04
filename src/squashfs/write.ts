/**
 * Writes a SquashFS 4.0 image from a {@link SourceInode} tree, reproducing mksquashfs 4.5's
 * layout decisions so that `-noI -noD -noF -noX` images match byte for byte:
 *   - entries sorted bytewise; inode numbers depth-first in that order, root last (dir_scan6);
 *   - inodes and directory listings written children first, root last (dir_scan7/write_dir);
 *   - file data in the same depth-first order, fragments packed first-fit in sequence;
 *   - tables after the data: inodes, directories, fragments, export, ids, xattrs; 4 KiB padding.
 * Deterministic: the output depends only on the tree and the options.
 */
import { FormatError } from '../bytes/errors.js';
import { writeZeros, type ByteSink } from '../bytes/sink.js';
import { blockCodec, encodeCompressorOptions, type CompressorOptions } from './compressor.js';
import { DataWriter, type FileData } from './data.js';
import { DirBuilder } from './dir.js';
import { encodeExportTable } from './export.js';
import { encodeFragmentTable } from './fragment.js';
import { IdTable } from './id.js';
import { encodeInode } from './inode.js';
import { COMPRESSOR, encodeRdev, FLAG, INODE, KIND_TYPE, METADATA_SIZE, SUPERBLOCK_SIZE, type CompressorName, type MetaRef } from './layout.js';
import { encodeMetaBlock, MetaWriter } from './meta.js';
import { encodeSuperblock, type SquashfsSuperblock } from './super.js';
import { encodeLookupTable } from './table.js';
import type { SourceInode } from './tree.js';
import { XattrWriter } from './xattr.js';

export interface WriteOptions {
  /** Default gzip. */
  compressor?: CompressorName;
  compressorOptions?: CompressorOptions;
  /** 4096 … 1048576, a power of two; default 131072. */
  blockSize?: number;
  /** Superblock time (seconds); default 0. */
  mkfsTime?: number;
  /** -noI (inode and directory tables), -noD, -noF, -noX. */
  noInodeCompression?: boolean;
  noDataCompression?: boolean;
  noFragmentCompression?: boolean;
  noXattrCompression?: boolean;
  noFragments?: boolean;
  alwaysUseFragments?: boolean;
  noDuplicates?: boolean;
  noSparse?: boolean;
  noExports?: boolean;
  /** Leave out every xattr and set the NO_XATTRS flag (-no-xattrs). */
  noXattrs?: boolean;
  /** Pad the image to a multiple of 4 KiB (default true; -nopad). */
  pad?: boolean;
}

export interface WriteResult {
  readonly superblock: SquashfsSuperblock;
  /** Bytes written including padding. */
  readonly size: number;
  readonly duplicates: number;
}

interface Prepared {
  inode: SourceInode;
  number: number;
  /** Sorted entries with their names as bytes (directories). */
  entries?: { name: Uint8Array; node: Prepared }[];
  ldir?: boolean;
  /** Set once written: the inode reference and basic type. */
  ref?: MetaRef;
  type?: number;
  nlink: number;
  subdirs: number;
}

const te = new TextEncoder();

/**
 * Writes the image for `root` to `sink` from its current position. The superblock is written
 * last with `sink.writeAt`, so the sink must support it (files and memory sinks do).
 *
 * @example
 * ```ts
 * const root = await scanSources(['rootfs/']);
 * await withOutputFile('root.sqfs', (sink) => writeSquashfs(sink, root, { compressor: 'xz', blockSize: 1 << 20 }));
 * ```
 */
export async function writeSquashfs(sink: ByteSink, root: SourceInode, opts: WriteOptions = {}): Promise<WriteResult> {
  if (!sink.writeAt) throw new TypeError('Cannot write squashfs: the sink cannot seek back to write the superblock');
  const name = opts.compressor ?? 'gzip';
  if (!Object.hasOwn(COMPRESSOR, name)) throw new RangeError(`Cannot write squashfs: unknown compressor "${name}"`);
  const blockSize = opts.blockSize ?? 131_072;
  const blockLog = Math.log2(blockSize);
  if (!Number.isInteger(blockLog) || blockLog < 12 || blockLog > 20) throw new RangeError(`Cannot write squashfs: block size ${blockSize} is not a power of two in 4096..1048576`);
  const copts = opts.compressorOptions ?? {};
  if (name === 'xz' && copts.dictSize !== undefined && copts.dictSize > blockSize)
    throw new RangeError(`Cannot write squashfs: xz dictionary ${copts.dictSize} exceeds the block size ${blockSize}`);
  const codec = blockCodec(name, copts, blockSize);
  const optionsBlock = encodeCompressorOptions(name, copts, blockSize);
  const base = sink.position;

  // number the inodes as mksquashfs's dir_scan6 does
  const prepared = new Map<SourceInode, Prepared>();
  let next = 1;
  const links = new Map<SourceInode, number>();
  const countLinks = (n: SourceInode) => {
    for (const e of n.entries ?? []) {
      links.set(e.inode, (links.get(e.inode) ?? 0) + 1);
      if (e.inode.kind === 'dir' && links.get(e.inode) === 1) countLinks(e.inode);
    }
  };
  countLinks(root);
  const prepare = (n: SourceInode, depth: number): Prepared => {
    if (depth > 10_000) throw new RangeError('Cannot write squashfs: the tree is deeper than 10000 levels');
    const p: Prepared = { inode: n, number: 0, nlink: 1, subdirs: 0 };
    prepared.set(n, p);
    const entries = (n.entries ?? []).map((e) => ({ name: te.encode(e.name), src: e.inode }));
    entries.sort((a, b) => Buffer.compare(a.name, b.name));
    p.entries = [];
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.name.length === 0 || e.name.length > 256 || e.name.includes(0x2f) || (i > 0 && Buffer.compare(entries[i - 1]!.name, e.name) === 0))
        throw new RangeError(`Cannot write squashfs: bad or duplicate name "${new TextDecoder().decode(e.name)}"`);
      bytes += e.name.length + 8;
      let child = prepared.get(e.src);
      if (!child) {
        if (e.src.kind === 'dir') {
          child = { inode: e.src, number: next++, nlink: 1, subdirs: 0 };
          const inner = prepare(e.src, depth + 1);
          inner.number = child.number;
          child = inner;
        } else {
          child = { inode: e.src, number: next++, nlink: links.get(e.src) ?? 1, subdirs: 0 };
          prepared.set(e.src, child);
        }
      } else if (e.src.kind === 'dir') throw new RangeError('Cannot write squashfs: a directory appears twice in the tree');
      if (e.src.kind === 'dir') p.subdirs++;
      p.entries.push({ name: e.name, node: child });
    }
    p.ldir = !(entries.length < 257 && bytes < METADATA_SIZE);
    p.nlink = p.subdirs + 2;
    return p;
  };
  const top = prepare(root, 0);
  top.number = next++;
  const inodeCount = next - 1;

  // superblock and options block are written last; reserve their room
  const head = SUPERBLOCK_SIZE + (optionsBlock ? 2 + optionsBlock.length : 0);
  await writeZeros(sink, head);
  const data = new DataWriter(sink, base, codec, {
    blockSize, noDataCompression: !!opts.noDataCompression, noFragmentCompression: !!opts.noFragmentCompression,
    noFragments: !!opts.noFragments, alwaysUseFragments: !!opts.alwaysUseFragments, noDuplicates: !!opts.noDuplicates, noSparse: !!opts.noSparse,
  });
  const inodes = new MetaWriter(codec, !!opts.noInodeCompression);
  const dirs = new MetaWriter(codec, !!opts.noInodeCompression);
  const kv = new MetaWriter(codec, !!opts.noXattrCompression);
  const ids = new IdTable();
  const xattrs = new XattrWriter(kv);
  const exportRefs: (MetaRef | undefined)[] = new Array(inodeCount).fill(undefined);

  const writeInode = async (p: Prepared, fields: { type: number } & Partial<Parameters<typeof encodeInode>[0]>): Promise<MetaRef> => {
    const n = p.inode;
    const uidIndex = ids.indexOf(n.uid);
    const gidIndex = ids.indexOf(n.gid);
    const ref = await inodes.ref();
    const bytes = encodeInode({
      mode: n.mode & 0o7777, uidIndex, gidIndex, mtime: n.mtime, inodeNumber: p.number, nlink: p.nlink, xattr: undefined,
      startBlock: 0, offset: 0, size: 0, parent: 0, index: [], fragment: undefined, fragmentOffset: 0, blocks: [], sparse: 0, target: undefined, rdev: 0,
      ...fields,
    });
    await inodes.append(bytes);
    exportRefs[p.number - 1] = ref;
    return ref;
  };
  const xattrOf = async (n: SourceInode): Promise<number | undefined> => (opts.noXattrs || !n.xattrs?.length ? undefined : xattrs.add(n.xattrs));

  const writeFile = async (p: Prepared): Promise<MetaRef> => {
    const n = p.inode;
    const size = n.size ?? 0;
    const fd: FileData = await data.addFile(n.content ?? new Uint8Array(0), size, n.allocated);
    const xattr = await xattrOf(n);
    // a duplicate reports what the first copy reported (mksquashfs returns the first file's entry)
    let sparse = fd.sparse;
    if (sparse > 0 && sparse >= size) sparse = size - 1;
    const extended = p.nlink > 1 || size >= 2 ** 32 || fd.startBlock >= 2 ** 32 || sparse > 0 || xattr !== undefined;
    return writeInode(p, {
      type: extended ? INODE.LREG : INODE.FILE, startBlock: fd.startBlock, size, sparse, xattr,
      fragment: fd.fragment, fragmentOffset: fd.fragment === undefined ? 0 : fd.fragmentOffset, blocks: fd.blocks,
    });
  };

  const writeDir = async (p: Prepared, parent: number): Promise<MetaRef> => {
    const listing = new DirBuilder();
    for (const e of p.entries!) {
      const c = e.node;
      if (!c.ref) {
        const k = c.inode.kind;
        if (k === 'dir') c.ref = await writeDir(c, p.number);
        else if (k === 'file') c.ref = await writeFile(c);
        else {
          const xattr = await xattrOf(c.inode);
          const x = xattr !== undefined ? 7 : 0;
          if (k === 'symlink') c.ref = await writeInode(c, { type: INODE.SYMLINK + x, target: te.encode(c.inode.target ?? ''), xattr });
          else if (k === 'blockdev' || k === 'chardev') c.ref = await writeInode(c, { type: KIND_TYPE[k] + x, rdev: encodeRdev(c.inode.major ?? 0, c.inode.minor ?? 0), xattr });
          else c.ref = await writeInode(c, { type: KIND_TYPE[k] + x, xattr });
        }
        c.type = KIND_TYPE[k];
      }
      listing.add(e.name, c.inode.kind, c.ref, c.number, c.type!);
    }
    const bytes = listing.finish();
    const at = await dirs.ref();
    const startPos = dirs.total;
    await dirs.append(bytes);
    const index = listing.index.map((i) => ({ index: i.index, startBlock: dirs.blockOffsetAt(startPos + i.index), name: i.name }));
    const xattr = await xattrOf(p.inode);
    const size = bytes.length + 3;
    const extended = p.ldir || xattr !== undefined || size > 0xffff;
    return writeInode(p, extended
      ? { type: INODE.LDIR, startBlock: at.block, offset: at.offset, size, parent, index, xattr }
      : { type: INODE.DIR, startBlock: at.block, offset: at.offset, size, parent });
  };

  const rootRef = await writeDir(top, inodeCount + 1);
  await data.flushFragments();

  // tables, in the order the kernel requires
  const rel = () => sink.position - base;
  const inodeTable = await inodes.finish();
  const inodeTableStart = rel();
  await sink.writev(inodeTable.blocks);
  const dirTable = await dirs.finish();
  const directoryTableStart = rel();
  await sink.writev(dirTable.blocks);

  const writeTable = async (entries: Uint8Array, uncompressed: boolean): Promise<number> => {
    const t = await encodeLookupTable(entries, rel(), codec, uncompressed);
    await sink.writev(t.chunks);
    return t.indexAt;
  };
  const fragmentTableStart = await writeTable(encodeFragmentTable(data.fragments), !!opts.noFragmentCompression);
  const lookupTableStart = opts.noExports ? undefined : await writeTable(encodeExportTable(exportRefs), !!opts.noInodeCompression);
  const idTableStart = await writeTable(ids.encode(), !!opts.noInodeCompression);
  let xattrIdTableStart: number | undefined;
  if (xattrs.ids.length > 0) {
    const kvTable = await kv.finish();
    const kvStart = rel();
    await sink.writev(kvTable.blocks);
    const t = await encodeLookupTable(xattrs.encodeIds(), rel(), codec, !!opts.noXattrCompression);
    // header {u64 kv start, u32 ids, u32 unused} goes right before the index
    const headerBytes = new Uint8Array(16);
    const hv = new DataView(headerBytes.buffer);
    hv.setUint32(0, kvStart % 0x1_0000_0000, true);
    hv.setUint32(4, Math.floor(kvStart / 0x1_0000_0000), true);
    hv.setUint32(8, xattrs.ids.length, true);
    const index = t.chunks.pop()!;
    await sink.writev([...t.chunks, headerBytes, index]);
    xattrIdTableStart = t.indexAt;
  }
  const bytesUsed = rel();
  if (opts.pad !== false && bytesUsed % 4096 !== 0) await writeZeros(sink, 4096 - (bytesUsed % 4096));

  const flags =
    (opts.noInodeCompression ? FLAG.UNCOMPRESSED_INODES : 0) | (opts.noDataCompression ? FLAG.UNCOMPRESSED_DATA : 0) |
    (opts.noFragmentCompression ? FLAG.UNCOMPRESSED_FRAGMENTS : 0) | (opts.noFragments ? FLAG.NO_FRAGMENTS : 0) |
    (opts.alwaysUseFragments ? FLAG.ALWAYS_FRAGMENTS : 0) | (opts.noDuplicates ? 0 : FLAG.DUPLICATES) |
    (opts.noExports ? 0 : FLAG.EXPORTABLE) | (opts.noXattrCompression ? FLAG.UNCOMPRESSED_XATTRS : 0) |
    (opts.noXattrs ? FLAG.NO_XATTRS : 0) | (optionsBlock ? FLAG.COMPRESSOR_OPTIONS : 0);
  if (ids.ids.length > 0xffff) throw new FormatError('squashfs', 'LIMIT', 0, 'Cannot write squashfs: more than 65535 distinct ids');
  const superblock: SquashfsSuperblock = {
    inodes: inodeCount, mkfsTime: opts.mkfsTime ?? 0, blockSize, blockLog, fragments: data.fragments.length, compression: name, flags,
    noIds: ids.ids.length, major: 4, minor: 0, rootInode: rootRef, bytesUsed, idTableStart, xattrIdTableStart, inodeTableStart,
    directoryTableStart, fragmentTableStart, lookupTableStart,
  };
  const headChunks = [encodeSuperblock(superblock)];
  if (optionsBlock) headChunks.push(await encodeMetaBlock(optionsBlock, codec, true));
  await sink.writeAt(base, headChunks);
  return { superblock, size: sink.position - base, duplicates: data.duplicates };
}
