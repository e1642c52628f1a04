/**
 * `mksquashfs SOURCES... IMAGE [options]` end to end: scan, pack files, pseudo definitions,
 * attribute overrides (-all-root, -force-uid/gid, -root-mode, -all-time, SOURCE_DATE_EPOCH),
 * write, and the -info listing.
 */
import { open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { availableParallelism } from 'node:os';
import { withOutputFile } from '../bytes/sink.js';
import { readInput, readStdin } from '../bytes/input.js';
import { parseMksquashfsArgs, MksquashfsUsageError, type MksquashfsArgs } from './mksquashfs.js';
import { lstatSync } from 'node:fs';
import { applyPseudo, readPseudoFile, PseudoError, PseudoInputError } from './pseudo.js';
import { applyPackFile } from './packfile.js';
import { readSortFile, regexExcluder, wildcardExcluder } from './select.js';
import { scanSources, type SourceInode } from './tree.js';
import { nativeCodecs } from '../codec/native.js';
import { hasLibdeflate, LIBDEFLATE_MISSING } from './compressor.js';
import { writeSquashfs, type WriteOptions, type WriteResult } from './write.js';
import { fileAccess, rangeChunks, type RandomAccess } from '../bytes/random.js';
import { openSquashfs, type Squashfs } from './read.js';
import { imageTree } from './image-tree.js';
import { FLAG, FORMAT, MAX_DEPTH, refToNumber, type MetaRef } from './layout.js';
import type { SquashfsInode } from './inode.js';
import type { FragmentEntry } from './fragment.js';

/** Every inode of the tree once (hard links share one; a tree that loops is walked once). */
function inodes(root: SourceInode): SourceInode[] {
  const seen = new Set<SourceInode>([root]);
  const out: SourceInode[] = [];
  const stack = [root];
  while (stack.length) {
    const n = stack.pop()!;
    out.push(n);
    const entries = n.entries;
    if (entries)
      for (let i = 0; i < entries.length; i++) {
        const c = entries[i]!.inode;
        if (seen.has(c)) continue;
        seen.add(c);
        stack.push(c);
      }
  }
  return out;
}

/** What packFromArgs reports while it works. */
export interface PackHooks {
  /** Files and bytes to store, known once the sources are scanned. */
  onStart?: (files: number, bytes: number) => void;
  onProgress?: (files: number, bytes: number) => void;
  /** -info: one line per inode, as mksquashfs 4.5 prints them, once the image is written. */
  onInfo?: (line: string) => void;
}

const text = async (f: string) => new TextDecoder().decode(await readInput(f, FORMAT));

/**
 * An -ef file's patterns as mksquashfs's process_exclude_file() reads them: leading white space
 * and `#` comment lines dropped, one leading backslash removed (for names that start with a space
 * or "#"), the rest of the line kept as written.
 */
function excludeFileLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    let l = raw.replace(/^[ \t\n\v\f\r]+/, '');
    if (l.startsWith('#')) continue;
    if (l.startsWith('\\')) l = l.slice(1);
    if (l) out.push(l);
  }
  return out;
}

/** Runs a mksquashfs command line (without the program name). */
export async function packFromArgs(argv: readonly string[], env: NodeJS.ProcessEnv, onWarning: (m: string) => void, hooks: PackHooks = {}): Promise<{ args: MksquashfsArgs; result: WriteResult }> {
  const a = parseMksquashfsArgs(argv, env);
  // not a usage error: the command is right, this installation lacks the library
  if (a.write.compressorOptions?.libdeflate && !hasLibdeflate()) throw Object.assign(new Error(`-Xlibdeflate: ${LIBDEFLATE_MISSING}`), { exitCode: 1 });
  const processors = a.processors ?? availableParallelism();
  // without the addon, compressions run on libuv's pool (4 threads unless told otherwise before its
  // first use): room for the N + 1 running (pool.ts) and one more for reads and read-ahead
  if (processors + 2 > 4 && process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = String(Math.min(processors + 2, 1024));
  // encoders' megabytes (an xz or zstd context per block or thread) go back to the system when
  // freed, instead of staying in the thread pool's malloc arenas: real tree, zstd -b 1M, peak
  // RSS 178 → 161 MiB
  nativeCodecs()?.mmapThreshold?.(128 << 10);
  const exists = await stat(a.dest).then(() => true, () => false);
  let old: Appending | undefined;
  if (exists && !a.noAppend) {
    const head = await open(a.dest, 'r').then(async (fh) => {
      try {
        const b = Buffer.alloc(4);
        await fh.read(b, 0, 4, 0);
        return b.toString('latin1');
      } finally {
        await fh.close();
      }
    }, () => '');
    if (head === 'hsqs') old = await openForAppend(a);
    else if (exists) throw new MksquashfsUsageError(`${a.dest} exists and is not a squashfs image: pass -noappend to overwrite it`);
  }
  if (a.rootBecomes !== undefined && !old) throw new MksquashfsUsageError('-root-becomes needs an existing image to append to');
  for (const f of a.excludeFiles) a.exclude.push(...excludeFileLines(await text(f)));
  if (a.sources.length === 0 && a.pseudo.length === 0 && a.packFiles.length === 0) throw new MksquashfsUsageError('no sources given');
  let skip: ((rel: string) => boolean) | undefined;
  try {
    if (a.regex) skip = regexExcluder(a.exclude);
    else if (a.wildcards) skip = wildcardExcluder(a.exclude);
  } catch (e) {
    throw new MksquashfsUsageError((e as Error).message);
  }
  const sourceStats = await Promise.all(a.sources.map((s) => stat(s)));
  const rootTime = a.clampTime ?? a.mkfsTime ?? Math.max(0, ...sourceStats.map((st) => Math.floor(st.mtimeMs / 1000)));
  // patterns match paths in the image: relative to a lone source folder, which becomes the root,
  // else starting with each source's entry name, which the scan does not see, so those trees are pruned after it
  const sourceIsRoot = a.sources.length === 1 && !a.keepAsDirectory && lstatSync(a.sources[0]!).isDirectory();
  let root: SourceInode = a.sources.length
    ? await scanSources(a.sources, {
        keepAsDirectory: a.keepAsDirectory, exclude: skip ? [] : a.exclude, noHardlinks: a.noHardlinks, xattrs: !a.write.noXattrs, onWarning,
        ...(skip && sourceIsRoot && { skip }),
        rootDefaults: { mode: 0o777, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtime: rootTime },
      })
    : { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: rootTime, entries: [] };
  if (skip && !sourceIsRoot && a.sources.length) prune(root, skip);
  // appended runs only touch what they add: overrides below skip the old image's inodes
  const oldInodes = new Set<SourceInode>();
  if (old) {
    for (const n of inodes(old.root)) oldInodes.add(n);
    root = mergeForAppend(old.root, root, a);
    oldInodes.delete(old.root);
  }
  const host = {
    onWarning,
    scan: (path: string) => {
      // a host file as if it were a source entry ("l" definitions)
      const r = scanSourcesSync(path);
      if (!r) throw new PseudoError(`pseudo definition: cannot read host file ${path}`);
      return r;
    },
  };
  const hostFiles = new Map<string, SourceInode>();
  const scanSourcesSync = (path: string) => hostFiles.get(path);
  // gensquashfs pack files first, so that pseudo definitions can modify what they made
  let stdin: Uint8Array | undefined;
  for (const f of a.packFiles) {
    const spec = f === '-' ? new TextDecoder().decode((stdin ??= await readStdin(FORMAT))) : await text(f);
    applyPackFile(root, spec, { name: f === '-' ? '<stdin>' : f, base: a.packDir ?? (f === '-' ? '.' : dirname(f)), mtime: a.allTime ?? rootTime });
  }
  for (const p of a.pseudo) {
    // what a -pf file says is input: its mistakes are PseudoInputErrors (a -p definition's are the command line's)
    const fromFile = typeof p !== 'string';
    const input = <T>(f: () => T): T => {
      try {
        return f();
      } catch (e) {
        throw fromFile && e instanceof PseudoError && !(e instanceof PseudoInputError) ? new PseudoInputError(e.message) : e;
      }
    };
    const piped = fromFile && p.file === '-' ? (stdin ??= await readStdin(FORMAT)) : undefined;
    const { defs, data } = typeof p === 'string' ? { defs: [p], data: undefined } : input(() => readPseudoFile(p.file, piped));
    const fileHost = data ? { ...host, data: (offset: number, length: number) => input(() => data(offset, length)) } : host;
    for (const d of defs) {
      const m = /^\S+\s+l\s+(.*)$/.exec(d);
      if (m && !hostFiles.has(m[1]!.trim())) {
        const top = await scanSources([m[1]!.trim()], { keepAsDirectory: true, xattrs: !a.write.noXattrs, noHardlinks: true, onWarning });
        if (top.entries?.[0]) hostFiles.set(m[1]!.trim(), top.entries[0].inode);
      }
      input(() => applyPseudo(root, d, a.allTime ?? rootTime, fileHost));
    }
  }
  let newest = 0;
  const all = inodes(root);
  for (const n of all) {
    if (oldInodes.has(n)) {
      newest = Math.max(newest, n.mtime);
      continue;
    }
    if (a.allRoot) n.uid = n.gid = 0;
    if (a.forceUid !== undefined) n.uid = a.forceUid;
    if (a.forceGid !== undefined) n.gid = a.forceGid;
    if (a.allTime !== undefined) n.mtime = a.allTime;
    else if (a.clampTime !== undefined && n.mtime > a.clampTime) n.mtime = a.clampTime;
    if (n.mtime < 0) n.mtime = 0;
    newest = Math.max(newest, n.mtime);
  }
  if (a.rootMode !== undefined) root.mode = a.rootMode;
  // mksquashfs stamps the current time; a deterministic default is the newest inode time (4.7's "-mkfs-time inode")
  const mkfsTime = a.mkfsTime ?? newest;
  let priority: ((n: SourceInode) => number) | undefined;
  if (a.sortFile !== undefined) {
    const byIno = readSortFile(a.sortFile, a.sources, onWarning);
    priority = (n) => {
      if (!n.source) return 0;
      const st = lstatSync(n.source, { bigint: true, throwIfNoEntry: false });
      return (st && byIno.get(`${st.dev}:${st.ino}`)) ?? 0;
    };
  }
  let files = 0, bytes = 0;
  for (const n of all) if (n.kind === 'file') (files++, (bytes += n.size ?? 0));
  hooks.onStart?.(files, bytes);
  try {
    const result = await withOutputFile(a.dest, async (sink) => {
      if (old) for await (const c of rangeChunks(old.ra, 0, old.dataEnd, 4 << 20)) await sink.writev([c.slice()]);
      return writeSquashfs(sink, root, {
        ...a.write, mkfsTime, processors, reuseWritten: true,
        ...(old && { ...old.write, appendTo: { dataEnd: old.dataEnd, fragments: old.fragments } }),
        // the image's compressor settings win when appending, but how gzip blocks are deflated is not one of them
        ...(old?.write.compressor === 'gzip' && a.write.compressorOptions?.libdeflate && { compressorOptions: { ...old.write.compressorOptions, libdeflate: true } }),
        ...(priority && { priority }), ...(hooks.onProgress && { onProgress: hooks.onProgress }),
      });
    }, { named: true });
    if (hooks.onInfo) await infoLines(a.dest, !a.write.noDuplicates, hooks.onInfo);
    return { args: a, result };
  } finally {
    await old?.fs.close();
  }
}

interface Appending {
  fs: Squashfs;
  ra: RandomAccess;
  root: SourceInode;
  dataEnd: number;
  fragments: FragmentEntry[];
  /** The old image's settings: appending ignores -comp, -b, -noI… and the fragment options, as mksquashfs does. */
  write: Partial<WriteOptions>;
}

async function openForAppend(a: MksquashfsArgs): Promise<Appending> {
  const ra = await fileAccess(a.dest, 'squashfs');
  const fs = await openSquashfs(ra).catch(async (e: unknown) => {
    await ra.close?.();
    throw e;
  });
  const sb = fs.superblock;
  const fragments: FragmentEntry[] = [];
  for (let i = 0; i < sb.fragments; i++) fragments.push(await fs.fragmentEntry(i));
  const f = sb.flags;
  return {
    fs, ra, root: await imageTree(fs, { keepData: true }), dataEnd: sb.inodeTableStart, fragments,
    write: {
      compressor: sb.compression, compressorOptions: fs.compressorOptions ?? {}, blockSize: sb.blockSize,
      noInodeCompression: (f & FLAG.UNCOMPRESSED_INODES) !== 0, noDataCompression: (f & FLAG.UNCOMPRESSED_DATA) !== 0,
      noFragmentCompression: (f & FLAG.UNCOMPRESSED_FRAGMENTS) !== 0, noXattrCompression: (f & FLAG.UNCOMPRESSED_XATTRS) !== 0,
      noFragments: (f & FLAG.NO_FRAGMENTS) !== 0, alwaysUseFragments: (f & FLAG.ALWAYS_FRAGMENTS) !== 0,
      noExports: (f & FLAG.EXPORTABLE) === 0,
    },
  };
}

/**
 * mksquashfs's append: the new sources join the old root's entries (a clashing new name gets `_1`,
 * `_2`…), or with -root-becomes NAME the old root becomes NAME in a new root. Pseudo definitions
 * apply after.
 */
function mergeForAppend(oldRoot: SourceInode, added: SourceInode, a: MksquashfsArgs): SourceInode {
  // the root takes the new sources' root attributes (one source directory: its own; several: the
  // synthesized 0777 root), as mksquashfs 4.5 does; the old root keeps its own under -root-becomes
  if (a.rootBecomes !== undefined && (!a.rootBecomes || a.rootBecomes.includes('/'))) throw new MksquashfsUsageError(`-root-becomes: "${a.rootBecomes}" is not a file name`);
  const root: SourceInode = { ...added, entries: a.rootBecomes !== undefined ? [{ name: a.rootBecomes, inode: oldRoot }] : [...oldRoot.entries!] };
  const used = new Set(root.entries!.map((e) => e.name));
  for (const e of added.entries ?? []) {
    let name = e.name;
    for (let i = 1; used.has(name); i++) name = `${e.name}_${i}`;
    used.add(name);
    root.entries!.push({ name, inode: e.inode });
  }
  return root;
}

/** Drops the entries whose image path (no leading "/") `skip` excludes, folders with their contents. */
function prune(dir: SourceInode, skip: (rel: string) => boolean, prefix = ''): void {
  dir.entries = dir.entries!.filter((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (skip(rel)) return false;
    if (e.inode.kind === 'dir') prune(e.inode, skip, rel);
    return true;
  });
}

/**
 * mksquashfs 4.5's -info lines (dir_scan7): every inode in the order the inode table holds them,
 * children before their folder and the root last; a file with its size and DUPLICATE when its data
 * is an earlier file's, other inodes with their inode reference, LINK for a hard link's later names.
 * They are read back from the written image, which holds every fact they print. (With -sort,
 * mksquashfs prints the files in data order with host paths; these stay in tree order.)
 */
async function infoLines(img: string, dedup: boolean, out: (line: string) => void): Promise<void> {
  const ra = await fileAccess(img, 'squashfs');
  const fs = await openSquashfs(ra).catch(async (e: unknown) => {
    await ra.close?.();
    throw e;
  });
  try {
    const hex = (r: MetaRef) => `0x${refToNumber(r).toString(16)}`;
    const linked = new Set<number>();
    const stored = new Set<string>();
    const NAMES = { symlink: 'symbolic link', chardev: 'character device', blockdev: 'block device', fifo: 'fifo', socket: 'unix domain socket' } as const;
    const td = new TextDecoder();
    const walk = async (dir: SquashfsInode, ref: MetaRef, path: string, depth: number): Promise<void> => {
      if (depth > MAX_DEPTH) throw new RangeError(`-info: directories nest deeper than ${MAX_DEPTH}`);
      for (const e of await fs.readdir(dir)) {
        const p = `${path === '/' ? '' : path}/${td.decode(e.name)}`;
        const inode = await fs.inode(e.inode);
        if (inode.kind === 'dir') {
          await walk(inode, e.inode, p, depth + 1);
          continue;
        }
        const link = linked.has(inode.inodeNumber);
        linked.add(inode.inodeNumber);
        if (inode.kind === 'file') {
          let status = link ? 'LINK' : '';
          if (!link && inode.size > 0) {
            const key = `${inode.size}:${inode.startBlock}:${inode.blocks.join(',')}:${inode.fragment}:${inode.fragmentOffset}`;
            if (dedup && stored.has(key)) status = 'DUPLICATE';
            stored.add(key);
          }
          out(`file ${p}, uncompressed size ${inode.size} bytes ${status}`);
        } else out(`${NAMES[inode.kind]} ${p} inode ${hex(e.inode)}${link ? ' LINK' : ''}`);
      }
      out(`directory ${path} inode ${hex(ref)}`);
    };
    await walk(await fs.root(), fs.superblock.rootInode, '/', 0);
  } finally {
    await fs.close();
  }
}
