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
import { DataWriter, type FileData, type PendingFile } from './data.js';
import { DirBuilder } from './dir.js';
import { encodeExportTable } from './export.js';
import { encodeFragmentTable, type FragmentEntry } from './fragment.js';
import { IdTable } from './id.js';
import { encodeInode } from './inode.js';
import { COMPRESSOR, encodeRdev, FLAG, INODE, KIND_TYPE, MAX_DEPTH, METADATA_SIZE, SUPERBLOCK_SIZE, type CompressorName, type MetaRef } from './layout.js';
import { encodeMetaBlock, MetaWriter } from './meta.js';
import { encodeSuperblock, type SquashfsSuperblock } from './super.js';
import { encodeLookupTable } from './table.js';
import type { SourceEntry, SourceInode } from './tree.js';
import { XattrWriter } from './xattr.js';
import { compressorFor } from './pool.js';
import { collectAll, garbageMeter } from './gc.js';
import { nativeCodecs } from '../codec/native.js';
import { hostPathOf, prefetcher } from '../bytes/prefetch.js';

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
  /**
   * Worker threads compressing data blocks (-processors). 0 (the default) compresses on the
   * calling thread. The image is the same for every value.
   */
  processors?: number;
  /** Uncompressed bytes in flight between reading and writing at most (default 4 MiB or 4 blocks). */
  window?: number;
  /**
   * The sink no longer reads a chunk once its writev settles (file sinks do; memorySink keeps
   * them), so the writer may reuse the buffers of blocks stored uncompressed.
   */
  reuseWritten?: boolean;
  /**
   * -sort: a priority per file (−32768…32767, default 0). Data is then stored highest priority
   * first and, as mksquashfs's priority lists are built by prepending, in reverse tree order
   * within one priority.
   */
  priority?: (file: SourceInode) => number;
  /**
   * Appending (mksquashfs without -noappend): the sink already holds the old image's first
   * `dataEnd` bytes (superblock, options, data and fragment blocks), which stay; new data follows
   * them and every table is written anew. Files with `stored` data point into the old bytes.
   */
  appendTo?: { dataEnd: number; fragments: readonly FragmentEntry[] };
  /** Called as file data is stored: files done, bytes read so far. */
  onProgress?: (files: number, bytes: number) => void;
}

export interface WriteResult {
  readonly superblock: SquashfsSuperblock;
  /** Bytes written including padding. */
  readonly size: number;
  readonly duplicates: number;
  /** Regular files and the bytes they hold. */
  readonly files: number;
  readonly fileBytes: number;
}

interface Prepared {
  inode: SourceInode;
  number: number;
  /**
   * Directories: the entries in sorted order, and their names as UTF-8 in one buffer, entry i
   * ending at `ends[i]` (no object or view per name: a tree of 100k files would keep 100k of them).
   */
  children: Prepared[] | undefined;
  names: Uint8Array | undefined;
  ends: Uint32Array | undefined;
  ldir: boolean;
  /** Set once written: the inode reference and basic type. */
  ref: MetaRef | undefined;
  type: number;
  nlink: number;
  subdirs: number;
}

/** Every field from the start: one object shape, and no property store added per inode later (33k inodes: 1.2 MB). */
const newPrepared = (inode: SourceInode, number: number, nlink: number): Prepared => ({
  inode, number, children: undefined, names: undefined, ends: undefined, ldir: false, ref: undefined, type: 0, nlink, subdirs: 0,
});

const te = new TextEncoder();
const NO_INDEX: readonly never[] = Object.freeze([]);
const NO_WORDS: readonly number[] = Object.freeze([]);
const EMPTY = new Uint8Array(0);

/**
 * The entries' names as UTF-8, as views of one buffer per directory: a separate buffer per name
 * costs a few hundred bytes of allocation each, tens of megabytes on a tree of 100k files. A name
 * containing "/" keeps it (and fails the check after sorting).
 */
function encodeNames(entries: readonly SourceEntry[]): { name: Uint8Array; src: SourceInode }[] {
  if (entries.some((e) => e.name.includes('/'))) return entries.map((e) => ({ name: te.encode(e.name), src: e.inode }));
  const slab = te.encode(entries.map((e) => e.name).join('/'));
  const out: { name: Uint8Array; src: SourceInode }[] = [];
  let at = 0;
  for (const e of entries) {
    const end = slab.indexOf(0x2f, at);
    const stop = end < 0 ? slab.length : end;
    out.push({ name: slab.subarray(at, stop), src: e.inode });
    at = stop + 1;
  }
  return out;
}

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
  // metadata as mksquashfs compresses it: xz and lzma with an 8 KiB dictionary whatever the data
  // blocks use, gzip with the default strategy only (-Xstrategy applies to data blocks)
  const metaOptions = name === 'xz' || name === 'lzma' ? { ...copts, dictSize: METADATA_SIZE } : name === 'gzip' ? { ...copts, strategies: 0 } : copts;
  const codec = blockCodec(name, metaOptions, blockSize);
  const optionsBlock = encodeCompressorOptions(name, copts, blockSize);
  const base = sink.position - (opts.appendTo?.dataEnd ?? 0);

  // number the inodes as mksquashfs's dir_scan6 does
  const prepared = new Map<SourceInode, Prepared>();
  let next = 1;
  const links = new Map<SourceInode, number>();
  // as deep as the readers walk (ls, extract and the kernel's own users rarely need more)
  const tooDeep = () => new RangeError(`Cannot write squashfs: the tree is deeper than ${MAX_DEPTH} levels`);
  const countLinks = (n: SourceInode, depth: number) => {
    if (depth > MAX_DEPTH) throw tooDeep();
    for (const e of n.entries ?? []) {
      links.set(e.inode, (links.get(e.inode) ?? 0) + 1);
      if (e.inode.kind === 'dir' && links.get(e.inode) === 1) countLinks(e.inode, depth + 1);
    }
  };
  countLinks(root, 0);
  const prepare = (n: SourceInode, depth: number): Prepared => {
    if (depth > MAX_DEPTH) throw tooDeep();
    const p = newPrepared(n, 0, 1);
    prepared.set(n, p);
    const entries = encodeNames(n.entries ?? []);
    entries.sort((a, b) => Buffer.compare(a.name, b.name));
    const children: Prepared[] = [];
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.name.length === 0 || e.name.length > 256 || e.name.includes(0x2f) || (i > 0 && Buffer.compare(entries[i - 1]!.name, e.name) === 0))
        throw new RangeError(`Cannot write squashfs: bad or duplicate name "${new TextDecoder().decode(e.name)}"`);
      bytes += e.name.length + 8;
      let child = prepared.get(e.src);
      if (!child) {
        if (e.src.kind === 'dir') {
          const number = next++;
          child = prepare(e.src, depth + 1);
          child.number = number;
        } else {
          child = newPrepared(e.src, next++, links.get(e.src) ?? 1);
          prepared.set(e.src, child);
        }
      } else if (e.src.kind === 'dir') throw new RangeError('Cannot write squashfs: a directory appears twice in the tree');
      if (e.src.kind === 'dir') p.subdirs++;
      children.push(child);
    }
    const names = new Uint8Array(bytes - 8 * entries.length);
    const ends = new Uint32Array(entries.length);
    let at = 0;
    entries.forEach((e, i) => {
      names.set(e.name, at);
      ends[i] = at += e.name.length;
    });
    p.children = children;
    p.names = names;
    p.ends = ends;
    p.ldir = !(entries.length < 257 && bytes < METADATA_SIZE);
    p.nlink = p.subdirs + 2;
    return p;
  };
  const top = prepare(root, 0);
  top.number = next++;
  const inodeCount = next - 1;
  // the scan's and this numbering's garbage (stat objects, name buffers: tens of MB on a large tree)
  // goes before file data starts to flow, not at the first collection 64 MiB into it
  collectAll();

  // superblock and options block are written last; reserve their room
  const head = SUPERBLOCK_SIZE + (optionsBlock ? 2 + optionsBlock.length : 0);
  if (opts.appendTo) {
    if (sink.position - base !== opts.appendTo.dataEnd) throw new TypeError('Cannot append: the sink does not hold the old image data');
  } else await writeZeros(sink, head);
  const compressor = compressorFor(name, copts, blockSize, opts.processors ?? 0);
  const data = new DataWriter(sink, base, compressor, {
    blockSize, noDataCompression: !!opts.noDataCompression, noFragmentCompression: !!opts.noFragmentCompression,
    noFragments: !!opts.noFragments, alwaysUseFragments: !!opts.alwaysUseFragments, noDuplicates: !!opts.noDuplicates, noSparse: !!opts.noSparse,
    ...(opts.window !== undefined && { window: opts.window }), reuseWritten: !!opts.reuseWritten,
  });
  // each compressed 8 KiB metadata block leaves a codec context (gzip: ~260 KB of zlib state) to the
  // garbage collector; collect every 32 blocks or so (fully every 128, when external memory grew)
  // rather than after 64 MB of external memory
  const metaMeter = garbageMeter(256 << 10, 1 << 20);
  // the tables' blocks, written alongside the data: on the addon's compression workers, each ahead
  // of the data blocks waiting (this thread reads, hashes and queues the data; on a tree of small
  // files it has little time to spare)
  const metaCodec = compressor.workers ? blockCodec(name, metaOptions, blockSize, true, true) : codec;
  const inodes = new MetaWriter(metaCodec, !!opts.noInodeCompression);
  const dirs = new MetaWriter(metaCodec, !!opts.noInodeCompression);
  const kv = new MetaWriter(metaCodec, !!opts.noXattrCompression);
  const ids = new IdTable();
  const xattrs = new XattrWriter(kv);
  const exportRefs: (MetaRef | undefined)[] = new Array(inodeCount).fill(undefined);
  const pending = new Map<Prepared, PendingFile>();
  /** The file the inode writer waits for the data loop to add. */
  let added: { p: Prepared; resolve: () => void } | undefined;

  /** Writes `p`'s inode; the reference at once unless a full block of the table must be compressed first or after (one inode in ~150). */
  const writeInode = (p: Prepared, fields: { type: number } & Partial<Parameters<typeof encodeInode>[0]>): MetaRef | Promise<MetaRef> => {
    const ref = inodes.refNow();
    if (!ref) return inodes.flush().then(() => writeInode(p, fields));
    const n = p.inode;
    const bytes = encodeInode({
      mode: n.mode & 0o7777, uidIndex: ids.indexOf(n.uid), gidIndex: ids.indexOf(n.gid), mtime: n.mtime, inodeNumber: p.number, nlink: p.nlink, xattr: undefined,
      startBlock: 0, offset: 0, size: 0, parent: 0, index: NO_INDEX, fragment: undefined, fragmentOffset: 0, blocks: NO_WORDS, sparse: 0, target: undefined, rdev: 0,
      ...fields,
    });
    metaMeter(bytes.length);
    exportRefs[p.number - 1] = ref;
    return inodes.push(bytes) ? inodes.flush().then(() => ref) : ref;
  };
  // undefined at once for the inodes without xattrs (most): no promise each
  const xattrOf = (n: SourceInode): Promise<number | undefined> | undefined => (opts.noXattrs || !n.xattrs?.length ? undefined : xattrs.add(n.xattrs));

  /** Writes a file's inode once its data is written: at once for most (no promise), else when the data loop has got that far. */
  const writeFile = (p: Prepared): MetaRef | Promise<MetaRef> => {
    const pf = pending.get(p);
    if (!pf) return new Promise<void>((resolve) => (added = { p, resolve })).then(() => writeFile(p));
    const written = data.written(pf);
    if (written) return written.then(() => writeFile(p));
    const fd = data.resolve(pf);
    pending.delete(p); // each file's inode is written once (c.ref): its queue slots can go
    const xa = xattrOf(p.inode);
    return xa ? xa.then((xattr) => fileInode(p, fd, xattr)) : fileInode(p, fd, undefined);
  };
  const fileInode = (p: Prepared, fd: FileData, xattr: number | undefined): MetaRef | Promise<MetaRef> => {
    const size = p.inode.size ?? 0;
    // a duplicate reports what the first copy reported (mksquashfs returns the first file's entry)
    let sparse = fd.sparse;
    if (sparse > 0 && sparse >= size) sparse = size - 1;
    const extended = p.nlink > 1 || size >= 2 ** 32 || fd.startBlock >= 2 ** 32 || sparse > 0 || xattr !== undefined;
    return writeInode(p, {
      type: extended ? INODE.LREG : INODE.FILE, startBlock: fd.startBlock, size, sparse, xattr,
      fragment: fd.fragment, fragmentOffset: fd.fragment === undefined ? 0 : fd.fragmentOffset, blocks: fd.blocks,
    });
  };
  /** A directory's inode, its listing written, after its subdirectories' (depth-first, with a stack of its own: trees may be thousands deep). */
  const writeDir = async (top: Prepared, topParent: number): Promise<MetaRef> => {
    const stack = [{ p: top, parent: topParent, listing: new DirBuilder(), i: 0 }];
    for (;;) {
      const f = stack[stack.length - 1]!;
      const p = f.p;
      if (f.i < p.children!.length) {
        const c = p.children![f.i]!;
        if (!c.ref) {
          const k = c.inode.kind;
          if (k === 'dir') {
            // its entry is added here once it is written
            stack.push({ p: c, parent: p.number, listing: new DirBuilder(), i: 0 });
            continue;
          }
          let r: MetaRef | Promise<MetaRef>;
          if (k === 'file') r = writeFile(c);
          else {
            const xa = xattrOf(c.inode);
            const xattr = xa && (await xa);
            const x = xattr !== undefined ? 7 : 0;
            if (k === 'symlink') r = writeInode(c, { type: INODE.SYMLINK + x, target: te.encode(c.inode.target ?? ''), xattr });
            else if (k === 'blockdev' || k === 'chardev') r = writeInode(c, { type: KIND_TYPE[k] + x, rdev: encodeRdev(c.inode.major ?? 0, c.inode.minor ?? 0), xattr });
            else r = writeInode(c, { type: KIND_TYPE[k] + x, xattr });
          }
          // awaited only when it is a promise: most inodes are written at once
          c.ref = r instanceof Promise ? await r : r;
          c.type = KIND_TYPE[k];
        }
        const names = p.names!, ends = p.ends!;
        f.listing.add(names.subarray(f.i ? ends[f.i - 1]! : 0, ends[f.i]!), c.inode.kind, c.ref, c.number, c.type);
        f.i++;
        continue;
      }
      const bytes = f.listing.finish();
      const at = await dirs.ref();
      const startPos = dirs.total;
      await dirs.append(bytes);
      metaMeter(bytes.length);
      const index = f.listing.index.map((i) => ({ index: i.index, startBlock: dirs.blockOffsetAt(startPos + i.index), name: i.name }));
      const xa = xattrOf(p.inode);
      const xattr = xa && (await xa);
      const size = bytes.length + 3;
      const extended = p.ldir || xattr !== undefined || size > 0xffff;
      const ref = await writeInode(p, extended
        ? { type: INODE.LDIR, startBlock: at.block, offset: at.offset, size, parent: f.parent, index, xattr }
        : { type: INODE.DIR, startBlock: at.block, offset: at.offset, size, parent: f.parent });
      stack.pop();
      const up = stack[stack.length - 1];
      if (!up) return ref;
      p.ref = ref;
      p.type = KIND_TYPE.dir;
    }
  };

  // file data, in the order writeDir meets the files (depth first, sorted; a hard link's data goes
  // where its first name is). The inodes and listings are written alongside, each file's inode as
  // soon as its blocks are, so that the tables are ready when the data is: on a tree of many small
  // files they are a second or two of single-threaded work
  if (opts.appendTo) data.preloadFragments(opts.appendTo.fragments);
  let order = dataOrder(top);
  if (opts.priority) {
    const pri = new Map(order.map((p) => [p, opts.priority!(p.inode)]));
    order = order.reverse().sort((a, b) => pri.get(b)! - pri.get(a)!); // stable: reverse tree order within a priority
  }
  data.expect(order.filter((p) => !p.inode.stored).map((p) => p.inode.size ?? 0));
  const tables = (async () => {
    if (opts.priority) {
      // mksquashfs's sort_files_and_write() creates each file's inode as it stores the data, so with
      // -sort the file inodes lead the inode table in data order
      for (const p of order) {
        p.ref = await writeFile(p);
        p.type = KIND_TYPE.file;
      }
    }
    return writeDir(top, inodeCount + 1);
  })();
  let failed = false;
  tables.catch(() => (failed = true)); // reported below, once the data loop stops
  let files = 0, fileBytes = 0;
  try {
    const ahead = prefetcher(order.map((p) => (p.inode.stored ? undefined : hostPathOf(p.inode.content))));
    for (const [i, p] of order.entries()) {
      if (failed) break;
      ahead.at(i);
      const st = p.inode.stored;
      const pf = st ? data.storedFile(p.inode.size ?? 0, st) : data.addFile(p.inode.content ?? EMPTY, p.inode.size ?? 0, p.inode.allocated);
      pending.set(p, pf instanceof Promise ? await pf : pf);
      if (added?.p === p) {
        added.resolve();
        added = undefined;
      }
      files++;
      fileBytes += p.inode.size ?? 0;
      opts.onProgress?.(files, fileBytes);
    }
    if (!failed) await data.finish();
  } finally {
    await compressor.close();
  }
  const rootRef = await tables;
  // the codecs' kept contexts idle now (a zstd level-15 context or an xz match finder for 1 MiB
  // blocks is 12–22 MB each)
  nativeCodecs()?.trimCaches?.();

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
  return { superblock, size: sink.position - base, duplicates: data.duplicates, files, fileBytes };
}

/** Regular files in the order writeDir() stores them; a -sort priority list may reorder them (stable). */
function dataOrder(top: Prepared): Prepared[] {
  const out: Prepared[] = [];
  const seen = new Set<Prepared>();
  const walk = (p: Prepared) => {
    for (const c of p.children!) {
      if (seen.has(c)) continue;
      seen.add(c);
      if (c.inode.kind === 'dir') walk(c);
      else if (c.inode.kind === 'file') out.push(c);
    }
  };
  walk(top);
  return out;
}
